"""sampler.ChainStore and sampler.exact."""
import numpy as np
import pytest

import sampler


def test_chain_store_initial_state_and_bookkeeping(tmp_path):
    store = sampler.ChainStore(6, 5, 7, 20, seed=3)
    assert store.labels.shape == (6, 5, 7) and store.labels.dtype == np.uint8 and store.labels.max() < 20
    assert store.nbytes == 6 * 5 * 7 and np.array_equal(store.steps, np.zeros(6, np.int64))
    assert len(np.unique(store.labels)) > 10  # random, not constant
    # image k's start depends on (seed, k) only
    assert np.array_equal(sampler.ChainStore(2, 5, 7, 20, seed=3).labels, store.labels[:2])
    assert not np.array_equal(sampler.ChainStore(6, 5, 7, 20, seed=4).labels, store.labels)
    got = store.get([4, 1])
    got[:] = 0
    assert store.labels[4].any()  # get returns a copy
    store.set([4, 1], np.ones((2, 5, 7), np.uint8))
    assert store.steps.tolist() == [0, 1, 0, 0, 1, 0] and np.all(store.get([1, 4]) == 1)
    path = tmp_path / "chains.npz"
    store.save(path)
    again = sampler.ChainStore.load(path)
    assert np.array_equal(again.labels, store.labels) and np.array_equal(again.steps, store.steps)
    with pytest.raises(ValueError, match="labels"):
        store.set([0], np.full((1, 5, 7), 20))
    with pytest.raises(ValueError, match="indices"):
        store.get([6])
    with pytest.raises(ValueError, match="duplicate"):
        store.set([2, 2], np.zeros((2, 5, 7), np.uint8))


@pytest.mark.parametrize("h, w, num_labels", [(5, 7, 255), (4, 3, 20), (1, 1, 2), (120, 160, 20), (3, 7, 20)])
def test_blob_round_trip_is_exact(h, w, num_labels):
    store = sampler.ChainStore(3, h, w, num_labels, seed=1)
    store.set([1], np.full((1, h, w), num_labels - 1, np.uint8))
    blob = store.to_blob()
    k = sampler.chains.digits_per_float(num_labels)
    assert num_labels ** k <= sampler.chains.CODES < num_labels ** (k + 1)
    assert blob.dtype == np.float32 and blob.shape == (3, 2 + -(-h * w // k))
    assert blob[:, 0].tolist() == [0, 1, 0]
    assert np.isfinite(blob).all() and (np.abs(blob[:, 2:]) >= np.finfo(np.float32).tiny).all()  # normal floats
    back = sampler.ChainStore.from_blob(blob, h, w, num_labels)
    assert np.array_equal(back.labels, store.labels) and np.array_equal(back.steps, store.steps)
    labels, steps = sampler.ChainStore.decode_rows(blob[[2, 1]], h, w, num_labels)
    assert np.array_equal(labels, store.labels[[2, 1]]) and steps.tolist() == [0, 1]
    assert np.array_equal(sampler.ChainStore.encode_rows(labels, steps, num_labels), blob[[2, 1]])


def test_twenty_labels_pack_seven_per_float():
    """The default CRF's 2000 chains of 120x160: 3/7 of the old three-per-float blob."""
    assert sampler.chains.digits_per_float(20) == 7
    assert sampler.chains.blob_columns(120, 160, 20) == 2 + 2743


def test_a_zero_solver_step_leaves_the_blob_bit_for_bit():
    """What Caffe does to a parameter with lr_mult 0: data -= 0 * anything (float32)."""
    blob = sampler.ChainStore(4, 9, 11, 20, seed=5).to_blob()
    stepped = blob - np.float32(0) * blob
    assert np.array_equal(stepped.view(np.uint32), blob.view(np.uint32))


@pytest.mark.parametrize("damage", ["step", "nan", "negative", "code", "checksum", "padding", "decay", "shape"])
def test_touched_blob_is_refused(damage):
    blob = sampler.ChainStore(2, 4, 5, 10, seed=0).to_blob()  # 20 pixels, 9 per float: 3 floats, 7 padding digits
    if damage == "step":
        blob[0, 0] += 0.5
    elif damage == "nan":
        blob[1, 3] = np.nan
    elif damage == "negative":
        blob[0, 2] = -blob[0, 2]
    elif damage == "code":
        blob[1, 2] = np.uint32(sampler.chains.NORMAL + 10 ** 9).view(np.float32)
    elif damage == "checksum":
        blob[0, 3] = np.nextafter(blob[0, 3], np.float32(np.inf))  # another valid code
    elif damage == "padding":
        blob[0, -1] = (blob[0, -1:].view(np.uint32) + 10 ** 3).view(np.float32)[0]
    elif damage == "decay":
        blob *= np.float32(1 - 1e-4)  # what weight decay would do
    else:
        blob = blob[:, :-1]
    with pytest.raises(ValueError, match="chain-store blob") as e:
        sampler.ChainStore.from_blob(blob, 4, 5, 10)
    if damage != "shape":
        assert "lr_mult: 0 and decay_mult: 0" in str(e.value)


def test_exact_enumeration_small_model():
    g = np.random.default_rng(0)
    d = sampler.parse_edges([[0, 1], [1, 0], [1, 1]])
    s = g.normal(size=(2, 2, 2)).astype(np.float32)
    t = g.normal(size=(3, 2, 2)).astype(np.float32)
    r = sampler.exact.enumerate(s, t, d)
    ys = np.array(np.meshgrid(*[[0, 1]] * 4, indexing="ij")).reshape(4, -1).T.reshape(-1, 2, 2)
    e = sampler.energy(np.broadcast_to(s, (16, 2, 2, 2)), ys, t, d)
    p = np.exp(e - np.logaddexp.reduce(e))
    assert np.isclose(r.log_partition, np.logaddexp.reduce(e))
    onehot = ys[:, None] == np.arange(2)[None, :, None, None]
    assert np.allclose(r.marginals, np.tensordot(p, onehot, 1))
    pairs = sum(p[k] * sampler.pair_counts(ys[k:k + 1], d, 2) for k in range(16))
    assert np.allclose(r.pair_expectations, pairs)
    assert np.allclose(sampler.exact.enumerate(s[None], t, d).marginals, r.marginals)


def test_exact_refuses_large_models():
    with pytest.raises(ValueError, match="scores"):
        sampler.exact.enumerate(np.zeros((3, 4, 4), np.float32), np.zeros((1, 3, 3), np.float32), [[0, 1]])
