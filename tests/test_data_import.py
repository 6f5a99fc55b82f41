"""Readers: the HDF5 layout's reader and the real set's bundle and folder formats."""
import h5py
import numpy as np
import pytest
from PIL import Image

import data
from data import labels as L
from data.real_format import import_dataset, read_bundle, read_folder


def fake_images(n=3, h=12, w=16, seed=0):
    rng = np.random.default_rng(seed)
    depth = rng.uniform(1.0, 5.0, (n, h, w)).astype(np.float32)
    label = rng.integers(0, L.NUM_LABELS, (n, h, w))
    depth[label == L.BACKGROUND] = 6.0
    return depth, label


def write_bundle(path, depth, label, extra=True, **replace):
    idx = np.array([[0, 1, 2], [0, 3, 4]], dtype=np.int32)
    arrays = {"depths": depth, "labels": label, "pixel_indices": idx,
              "pixel_labels": label[idx[:, 0], idx[:, 1], idx[:, 2]].astype(np.int32)}
    if extra:
        arrays.update(joints=np.zeros((len(depth), 15, 3), np.float32), joint_offsets=np.zeros(len(depth), np.int32))
    arrays.update(replace)
    with open(path, "wb") as f:
        for a in arrays.values():
            np.save(f, a)


def write_folder(folder, depth, label, npy=False, blend=0):
    """Depth as 16-bit PNG in mm (or .npy in metres); labels colour-coded, nudged by blend."""
    folder.mkdir()
    for i, (d, lab) in enumerate(zip(depth, label)):
        if npy:
            np.save(folder / f"img{i:02d}_depth.npy", d)
        else:
            Image.fromarray(np.rint(d * 1000).astype(np.uint16)).save(folder / f"img{i:02d}_depth.png")
        rgb = L.colourise(lab).astype(int) + blend
        Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(folder / f"img{i:02d}_label.png")


@pytest.mark.parametrize("extra", [True, False])
def test_bundle_round_trip(tmp_path, extra):
    depth, label = fake_images()
    write_bundle(tmp_path / "train.npy", depth, label, extra)
    write_bundle(tmp_path / "test.npy", depth[:1], label[:1], extra)
    out = import_dataset(tmp_path / "ds", {"train": tmp_path / "train.npy", "test": tmp_path / "test.npy"})
    got = data.read_split(out / "train.txt")
    assert (got["depth"] == depth).all() and (got["label"] == label).all()
    assert (got["index"] == np.arange(3)).all() and len(data.read_split(out / "test.h5")["label"]) == 1


@pytest.mark.parametrize("npy", [False, True])
def test_folder_round_trip(tmp_path, npy):
    depth, label = fake_images()
    write_folder(tmp_path / "train", depth, label, npy=npy, blend=4)  # colours a little off, as in renders
    write_folder(tmp_path / "test", depth[:2], label[:2], npy=npy)
    out = import_dataset(tmp_path / "ds", {"train": tmp_path / "train", "test": tmp_path / "test"})
    got = data.read_split(out / "train.h5")
    assert (got["label"] == label).all()
    assert np.abs(got["depth"] - depth).max() <= (1e-6 if npy else 5e-4)


def test_folder_png_no_reading_is_background(tmp_path):
    depth, label = fake_images(n=1)
    depth[0, 0, 0] = 0.0
    write_folder(tmp_path / "f", depth, label)
    assert read_folder(tmp_path / "f")[0][0, 0, 0] == 6.0


def bad_bundles(depth, label):
    return {
        "outside 0..19": dict(labels=np.where(label == 3, 20, label)),
        "depths is int64": dict(depths=depth.astype(np.int64)),
        "labels has shape": dict(labels=label[:, :-1]),
        "dtype float64, expected integers": dict(labels=label.astype(np.float64)),
        "pixel_indices point outside": dict(pixel_indices=np.array([[9, 0, 0]], np.int32),
                                            pixel_labels=np.array([1], np.int32)),
        "expected int (K, 3)": dict(pixel_indices=np.zeros((2, 2), np.int32)),
    }


@pytest.mark.parametrize("problem", list(bad_bundles(*fake_images())))
def test_bad_bundle(tmp_path, problem):
    depth, label = fake_images()
    write_bundle(tmp_path / "b.npy", depth, label, **bad_bundles(depth, label)[problem])
    with pytest.raises(data.DataError) as e:
        import_dataset(tmp_path / "ds", {"train": tmp_path / "b.npy", "test": tmp_path / "b.npy"})
    assert problem in str(e.value) and str(tmp_path / "b.npy") in str(e.value) and "\n" not in str(e.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.npy"]


def test_truncated_bundle(tmp_path):
    depth, label = fake_images()
    with open(tmp_path / "b.npy", "wb") as f:
        np.save(f, depth)
        np.save(f, label)
    with pytest.raises(data.DataError, match="holds 2 arrays"):
        read_bundle(tmp_path / "b.npy")
    (tmp_path / "c.npy").write_bytes((tmp_path / "b.npy").read_bytes()[:-50])
    with pytest.raises(data.DataError, match="unreadable"):
        read_bundle(tmp_path / "c.npy")


def test_unknown_colour(tmp_path):
    depth, label = fake_images()
    write_folder(tmp_path / "f", depth, label)
    rgb = np.asarray(Image.open(tmp_path / "f" / "img01_label.png")).copy()
    rgb[4, 5] = (255, 255, 255)
    Image.fromarray(rgb).save(tmp_path / "f" / "img01_label.png")
    with pytest.raises(data.DataError, match=r"img01_label.png: colour \(255, 255, 255\) at row 4, column 5"):
        read_folder(tmp_path / "f")


def test_bad_folders(tmp_path):
    depth, label = fake_images()
    write_folder(tmp_path / "f", depth, label)
    (tmp_path / "f" / "img02_label.png").unlink()
    with pytest.raises(data.DataError, match="img02 has a depth image but no label"):
        read_folder(tmp_path / "f")
    Image.fromarray((depth[2] * 10).astype(np.uint8)).save(tmp_path / "f" / "img02_depth.png")
    Image.fromarray(L.colourise(label[2])).save(tmp_path / "f" / "img02_label.png")
    with pytest.raises(data.DataError, match="img02_depth.png: depth PNG is uint8"):
        read_folder(tmp_path / "f")
    (tmp_path / "empty").mkdir()
    with pytest.raises(data.DataError, match="no NAME_depth"):
        read_folder(tmp_path / "empty")
    with pytest.raises(data.DataError, match="missing.npy: no such file"):
        import_dataset(tmp_path / "ds", {"train": tmp_path / "missing.npy", "test": tmp_path / "f"})


def write_h5(path, **arrays):
    n = 2
    base = {"depth": np.full((n, 1, 4, 5), 6.0, np.float32), "label": np.full((n, 1, 4, 5), 19.0, np.float32),
            "index": np.arange(n, dtype=np.float32)}
    with h5py.File(path, "w") as f:
        for k, v in {**base, **arrays}.items():
            if v is not None:
                f[k] = v


@pytest.mark.parametrize("arrays, problem", [
    (dict(label=np.full((2, 1, 4, 5), 20.0, np.float32)), "not ids 0..19"),
    (dict(depth=np.full((2, 1, 4, 5), 6, np.int32)), "depth has dtype int32"),
    (dict(depth=np.full((2, 4, 5), 6.0, np.float32)), "expected (N, 1, H, W)"),
    (dict(index=None), "no dataset 'index'"),
])
def test_read_split_rejects(tmp_path, arrays, problem):
    write_h5(tmp_path / "s.h5", **arrays)
    with pytest.raises(data.DataError) as e:
        data.read_split(tmp_path / "s.h5")
    assert problem in str(e.value) and str(tmp_path / "s.h5") in str(e.value)


def test_read_split_missing_and_not_hdf5(tmp_path):
    with pytest.raises(data.DataError, match="nope.h5: no such file"):
        data.read_split(tmp_path / "nope.h5")
    (tmp_path / "x.h5").write_text("not hdf5")
    with pytest.raises(data.DataError, match="x.h5: not a readable HDF5 file"):
        data.read_split(tmp_path / "x.h5")
    (tmp_path / "s.txt").write_text(f"{tmp_path / 'nope.h5'}\n")
    with pytest.raises(data.DataError, match="nope.h5: no such file"):
        data.read_split(tmp_path / "s.txt")


@pytest.mark.parametrize("limit", [float("nan"), float("inf"), -1.0])
def test_read_folder_rejects_a_bad_colour_limit(tmp_path, limit):
    depth, label = fake_images(n=1)
    write_folder(tmp_path / "f", depth, label)
    with pytest.raises(data.DataError, match="max colour distance must be a finite number >= 0"):
        read_folder(tmp_path / "f", limit)


def test_read_split_refuses_no_images_and_a_list_of_two_image_sizes(tmp_path):
    write_h5(tmp_path / "none.h5", depth=np.zeros((0, 1, 4, 5), np.float32), label=np.zeros((0, 1, 4, 5), np.float32),
             index=np.zeros(0, np.float32))
    with pytest.raises(data.DataError, match="none.h5: holds no images"):
        data.read_split(tmp_path / "none.h5")
    write_h5(tmp_path / "a.h5")
    write_h5(tmp_path / "b.h5", depth=np.full((2, 1, 6, 5), 6.0, np.float32), label=np.full((2, 1, 6, 5), 19.0, np.float32),
             index=np.array([2, 3], np.float32))
    (tmp_path / "s.txt").write_text(f"{tmp_path / 'a.h5'}\n{tmp_path / 'b.h5'}\n")
    with pytest.raises(data.DataError) as e:
        data.read_split(tmp_path / "s.txt")
    assert all(s in str(e.value) for s in ("s.txt", "b.h5 holds 5x6", "a.h5 5x4")), e.value


def test_label_png_is_matched_to_the_palette_in_bounded_memory(tmp_path):
    """The nearest-colour step made a (H, W, L, 3) float temporary: 1.5 GB for one 2000x2000 label
    image (8 GB at 6000x6000). Row blocks keep it to a few tens of MB at any size."""
    import tracemalloc

    n = 2000
    label = np.full((n, n), L.BACKGROUND, np.uint8)
    label[300:1700, 800:1200] = 3
    label[1700:, 900:1100] = 7
    write_folder(tmp_path / "f", np.full((1, n, n), 2.5, np.float32), label[None])
    tracemalloc.start()
    try:
        got = read_folder(tmp_path / "f")[1][0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (got == label).all()
    assert peak < 128 * 2**20, f"{peak / 2**20:.0f} MiB"  # the images themselves: about 50 MiB


def test_negative_depth_in_a_depth_png_is_refused_on_import(tmp_path):
    """Pillow reads a NAME_depth.png by its content, so a 32-bit greyscale image there holds any
    integer: a negative millimetre count is refused naming the file, the value and where it is."""
    depth, label = fake_images(n=1)
    write_folder(tmp_path / "f", depth, label)
    mm = np.rint(depth[0] * 1000).astype(np.int32)
    mm[3, 4] = -12
    Image.fromarray(mm, mode="I").save(tmp_path / "f" / "img00_depth.png", format="TIFF")
    with pytest.raises(data.DataError, match=r"img00_depth.png: depth holds .*-12 mm at row 3, column 4"):
        import_dataset(tmp_path / "ds", {"train": tmp_path / "f", "test": tmp_path / "f"})
    assert not (tmp_path / "ds").exists()


def test_an_image_past_pillows_pixel_limit_is_one_error(tmp_path, monkeypatch):
    """Pillow warns (a stray line on stderr) past MAX_IMAGE_PIXELS and raises past twice that:
    either is one DataError naming the file."""
    depth, label = fake_images(n=1, h=12, w=16)
    write_folder(tmp_path / "f", depth, label)
    for limit in (150, 90):  # 192 pixels: over the limit, then over twice it
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(data.DataError, match="img00_depth.png: unreadable image .*exceeds limit"):
            read_folder(tmp_path / "f")
