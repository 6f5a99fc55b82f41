"""The one-hot statistics a loss layer needs every step (sampler.stats, Numba) against NumPy."""
import numpy as np
import pytest

from sampler import stats


@pytest.mark.parametrize("n, num_labels, h, w", [(1, 2, 1, 1), (3, 5, 7, 9), (8, 20, 12, 16)])
def test_unary_gap_and_onehot_difference_match_numpy(n, num_labels, h, w):
    rng = np.random.default_rng(n + h)
    scores = rng.normal(0, 3, (n, num_labels, h, w)).astype(np.float32)
    minus = rng.integers(0, num_labels, (n, h, w)).astype(np.uint8)
    plus = np.where(rng.random((n, h, w)) < 0.4, rng.integers(0, num_labels, (n, h, w)), minus).astype(np.uint8)
    pick = lambda labels: np.take_along_axis(scores, labels[:, None].astype(np.intp), 1).astype(np.float64).sum()
    assert stats.unary_gap(scores, plus, minus) == pytest.approx(pick(plus) - pick(minus), rel=1e-12, abs=1e-9)
    onehot = lambda labels: (labels[:, None] == np.arange(num_labels)[None, :, None, None]).astype(np.float32)
    out = np.full(scores.shape, 7.0, np.float32)  # whatever was there before is overwritten
    stats.onehot_difference(out, plus, minus, 0.25)
    assert np.array_equal(out, np.float32(0.25) * (onehot(plus) - onehot(minus)))


@pytest.mark.parametrize("edges, agree", [("window:1", 0.0), ("sparse:1,2,4,8,16,32", 0.6), ("window:2", 0.95),
                                          ([[0, 9], [9, 0], [1, -3]], 0.5)])
def test_pair_count_difference_is_the_difference_of_pair_counts(edges, agree):
    import sampler

    rng = np.random.default_rng(3)
    offsets = sampler.parse_edges(edges)
    minus = rng.integers(0, 6, (4, 9, 13)).astype(np.uint8)
    plus = np.where(rng.random(minus.shape) < agree, minus, rng.integers(0, 6, minus.shape)).astype(np.uint8)
    expected = sampler.pair_counts(plus, offsets, 6) - sampler.pair_counts(minus, offsets, 6)
    assert np.array_equal(stats.pair_count_difference(plus, minus, offsets, 6), expected)
    assert not stats.pair_count_difference(minus, minus, offsets, 6).any()
