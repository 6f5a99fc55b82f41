"""Piecewise tables: the PMI formula on counts written out by hand, zero for independent labels,
and exact (with log marginals as unaries) on a chain, where the tree factorisation holds."""
import itertools
from fractions import Fraction

import numpy as np
import pytest

import sampler
from sampler.learning import piecewise_tables


def test_counts_written_out_by_hand():
    labels = np.array([[[0, 0, 1],
                        [2, 1, 1]]])
    theta = piecewise_tables(labels, [[0, 1], [1, 0]], 3, pseudo_count=1)
    # horizontal pairs (0,0) (0,1) (2,1) (1,1); vertical (0,2) (0,1) (1,1); +1 in every cell
    horizontal = np.array([[2, 2, 1], [1, 2, 1], [1, 2, 1]])
    vertical = np.array([[1, 2, 2], [1, 2, 1], [1, 1, 1]])
    assert horizontal.sum() == 13 and vertical.sum() == 12
    assert theta[0, 0, 0] == pytest.approx(np.log(2 * 13 / (5 * 4)))  # row 0 sums to 5, column 0 to 4
    assert theta[0, 1, 1] == pytest.approx(np.log(2 * 13 / (4 * 6)))
    assert theta[1, 0, 2] == pytest.approx(np.log(2 * 12 / (5 * 4)))
    assert theta[1, 2, 0] == pytest.approx(np.log(1 * 12 / (3 * 3)))
    for c, m in enumerate((horizontal, vertical)):
        pmi = np.log(m * m.sum() / np.outer(m.sum(axis=1), m.sum(axis=0)))
        assert np.allclose(theta[c], pmi, atol=1e-6)


def test_independent_labels_give_tables_near_zero_and_no_edges_exactly_zero():
    """i.i.d. labels: each PMI is off zero by about 1/sqrt(count) (log of a Poisson count)."""
    labels = np.random.default_rng(0).choice(3, size=(70, 20, 20), p=[0.2, 0.3, 0.5])  # 70 > one chunk
    offsets = [[0, 1], [3, -2], [0, 25]]
    theta = piecewise_tables(labels, offsets, 3)
    counts = sampler.pair_counts(labels, offsets, 3)
    assert np.all(np.abs(theta[:2]) < 6 / np.sqrt(counts[:2].min()))
    assert not theta[2].any()  # offset wider than the image: no edges, only pseudo-counts


def test_chain_tables_with_log_marginal_unaries_are_exact():
    """A stationary two-state Markov chain on a 1x4 strip, each labelling repeated in proportion to
    its probability: unaries log pi and the PMI table reproduce the chain's distribution."""
    pi = [Fraction(1, 3), Fraction(2, 3)]
    step = [[Fraction(1, 2), Fraction(1, 2)], [Fraction(1, 4), Fraction(3, 4)]]
    labellings, repeats = [], []
    for y in itertools.product(range(2), repeat=4):
        p = pi[y[0]] * np.prod([step[a][b] for a, b in zip(y, y[1:])])
        assert (192 * p).denominator == 1
        labellings.append(y)
        repeats.append(int(192 * p))
    labels = np.repeat(np.array(labellings, np.uint8), repeats, axis=0).reshape(-1, 1, 4)
    assert len(labels) == 192
    theta = piecewise_tables(labels, [[0, 1]], 2, pseudo_count=1e-9)
    scores = np.broadcast_to(np.log(np.array(pi, float))[:, None, None], (2, 1, 4))
    exact = sampler.exact.enumerate(scores, theta, [[0, 1]])
    pairs = np.array([[float(pi[a] * step[a][b]) for b in range(2)] for a in range(2)])
    assert np.allclose(exact.marginals, np.array(pi, float)[:, None, None], atol=1e-6)
    assert np.allclose(exact.pair_expectations[0], 3 * pairs, atol=1e-6)  # three edges per strip


@pytest.mark.parametrize("pseudo_count", [0, -1, float("nan"), True, "1"])
def test_bad_pseudo_count_is_named(pseudo_count):
    with pytest.raises(ValueError, match="pseudo_count"):
        piecewise_tables(np.zeros((1, 2, 2), np.uint8), [[0, 1]], 2, pseudo_count=pseudo_count)


def test_bad_labels_are_named():
    with pytest.raises(ValueError, match="labels: expected shape \\(N, H, W\\)"):
        piecewise_tables(np.zeros((2, 2), np.uint8), [[0, 1]], 2)
    with pytest.raises(ValueError, match="labels: values must be in 0..1"):
        piecewise_tables(np.full((1, 2, 2), 2), [[0, 1]], 2)
