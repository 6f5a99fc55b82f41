"""The synthetic generator: layout, determinism, label coverage, left/right, sensor model."""
import json

import numpy as np
import pytest

import data
from data import generate, hdf5, poses, render, sensor
from data import labels as L

SMALL = dict(train=8, test=4, height=48, width=64, seed=0)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "ds"
    return out, data.make_dataset(out, **SMALL)


def test_label_set():
    assert len(L.NAMES) == L.NUM_LABELS == 20 and L.NAMES[L.BACKGROUND] == "background" == L.NAMES[19]
    assert L.PALETTE.shape == (20, 3) and L.PALETTE.dtype == np.uint8
    assert (L.MIRROR[L.MIRROR] == np.arange(20)).all()
    assert L.NAMES[L.MIRROR[L.NAMES.index("arm2L")]] == "arm2R"
    assert (L.colourise(np.array([[0, 19]])) == L.PALETTE[[0, 19]][None]).all()


def test_layout(tiny):
    out, meta = tiny
    for split, n in (("train", 8), ("test", 4)):
        assert (out / f"{split}.txt").read_text() == f"{out.resolve() / split}.h5\n"
        with hdf5.h5py.File(out / f"{split}.h5") as f:
            assert {k: (f[k].shape, f[k].dtype) for k in f} == {
                "depth": ((n, 1, 48, 64), np.float32), "label": ((n, 1, 48, 64), np.float32),
                "index": ((n,), np.float32)}
            assert (f["index"][()] == np.arange(n)).all()
        got = data.read_split(out / f"{split}.txt")
        assert got["label"].dtype == np.uint8 and got["label"].shape == (n, 48, 64)
    on_disk = json.loads((out / "meta.json").read_text())
    assert on_disk["names"] == L.NAMES and on_disk["counts"] == {"train": 8, "test": 4}
    assert meta["files"]["train"]["h5"] == str(out.resolve() / "train.h5")


def test_same_seed_same_bytes_in_parallel_too(tiny, tmp_path):
    out, _ = tiny
    data.make_dataset(tmp_path / "again", **SMALL, workers=2)
    for name in ("train.h5", "test.h5", "meta.json"):
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes()
    depth, label = data.make_image(0, "train", 5, 48, 64)  # an image does not depend on its neighbours
    assert (data.read_split(out / "train.h5")["depth"][5] == depth).all()
    data.make_dataset(tmp_path / "other", **{**SMALL, "seed": 1})
    assert (tmp_path / "other" / "train.h5").read_bytes() != (out / "train.h5").read_bytes()


@pytest.fixture(scope="module")
def sample():
    """40 images at the default resolution, made in-process."""
    images = [data.make_image(3, "train", i, 120, 160) for i in range(40)]
    return np.stack([d for d, _ in images]), np.stack([lab for _, lab in images])


def test_every_part_in_most_images(sample):
    _, label = sample
    present = np.array([[(lab == k).any() for k in range(L.NUM_LABELS)] for lab in label])
    assert present.all(axis=0).any() and present.any(axis=0).all()
    share = present.mean(axis=0)
    assert share.min() >= 0.6, {L.NAMES[k]: s for k, s in enumerate(share) if s < 0.6}
    body_share = (label != L.BACKGROUND).mean(axis=(1, 2))
    assert np.median(body_share) > 0.05  # the person is fairly large in the frame


def test_depth_ranges(sample):
    depth, label = sample
    body = label != L.BACKGROUND
    assert depth.dtype == np.float32 and (depth[~body] == render.BACKGROUND_DEPTH).all()
    seen = depth[body & (depth < render.BACKGROUND_DEPTH)]
    assert 0.5 < seen.min() and seen.max() < 5.3  # bodies 1.5-4.5 m away, limbs reaching 1 m nearer
    dropped = (depth[body] == render.BACKGROUND_DEPTH).mean()
    assert 0.02 < dropped < 0.3


def test_mirrored_body_swaps_left_and_right():
    for i in range(6):
        scene = generate.sample_scene(np.random.default_rng(i))
        depth, label = generate.render_scene(scene, 60, 80)
        m_depth, m_label = generate.render_scene(generate.mirror_scene(scene), 60, 80)
        assert np.allclose(m_depth, depth[:, ::-1], atol=1e-9)
        assert (m_label != L.MIRROR[label[:, ::-1]]).mean() < 1e-3
        assert (label != L.MIRROR[label]).any()  # the test is not vacuous


def test_left_is_the_persons_left():
    """A person facing the camera with arms spread shows their left arm on the image's right."""
    pose = {**poses.neutral(), "yaw": np.pi, "shoulder_abd_L": 1.4, "shoulder_abd_R": 1.4}
    rng = np.random.default_rng(0)
    scene = {**generate.sample_scene(rng), "pose": pose, "offset": 0.0, "distance": 3.0}
    _, label = generate.render_scene(scene, 120, 160)
    cols = np.arange(160)[None, :].repeat(120, axis=0)
    for part in ("arm1", "torso1", "leg1"):
        left, right = L.NAMES.index(part + "L"), L.NAMES.index(part + "R")
        assert cols[label == left].mean() > 80 > cols[label == right].mean(), part


def test_noise_grows_quadratically_and_is_quantised():
    rng = np.random.default_rng(0)
    stds = []
    for z in (2.0, 4.0):
        out = sensor.apply(np.full((200, 200), z), render.focal_px(160), rng).astype(np.float64)
        assert (out < render.BACKGROUND_DEPTH).all()  # a flat wall facing the camera loses no pixels
        assert np.allclose(sensor.quantise(out), out, rtol=1e-6)
        step = z ** 2 / (sensor.BASELINE_M * sensor.NATIVE_FOCAL_PX * sensor.SUBPIXEL)
        expected = np.sqrt(sensor.noise_sigma(z) ** 2 + step ** 2 / 12)
        assert abs(out.std() / expected - 1) < 0.15 and abs(out.mean() - z) < 0.01
        stds.append(out.std())
    assert stds[1] / stds[0] > 3  # quadratic growth: about (3.6/1.6)^2 for sigma alone


def test_edges_and_grazing_surfaces_drop_pixels():
    depth = np.full((60, 80), render.BACKGROUND_DEPTH)
    depth[20:40, 20:60] = 2.5 + np.linspace(0, 8, 40)[None, :] * 0.5  # steep slope, seen at a grazing angle
    out = sensor.apply(depth, render.focal_px(80), np.random.default_rng(0))
    assert (out[20:40, 20:60] == render.BACKGROUND_DEPTH).mean() > 0.2
    assert (out[depth == render.BACKGROUND_DEPTH] == render.BACKGROUND_DEPTH).all()


@pytest.mark.parametrize("bad", [dict(train=0), dict(height=4), dict(workers=0), dict(test=2.5)])
def test_bad_arguments(tmp_path, bad):
    with pytest.raises(data.DataError):
        data.make_dataset(tmp_path / "ds", **{**SMALL, **bad})
    assert not list(tmp_path.iterdir())


def test_interrupt_leaves_nothing(tmp_path, monkeypatch):
    def interrupted(path, *args):
        raise KeyboardInterrupt

    monkeypatch.setattr(hdf5, "write_split", interrupted)
    with pytest.raises(KeyboardInterrupt):
        data.make_dataset(tmp_path / "ds", **SMALL)
    assert not list(tmp_path.iterdir())


def test_refuses_to_replace_a_folder_that_is_not_a_dataset(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "notes.txt").write_text("mine")
    with pytest.raises(data.DataError, match="not a dataset folder"):
        data.make_dataset(tmp_path / "ds", **SMALL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_replaces_an_earlier_dataset(tmp_path):
    data.make_dataset(tmp_path / "ds", **SMALL)
    data.make_dataset(tmp_path / "ds", **{**SMALL, "train": 2})
    assert len(data.read_split(tmp_path / "ds" / "train.h5")["label"]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no hidden leftovers
