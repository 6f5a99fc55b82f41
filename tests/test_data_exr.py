"""The real set's own files: OpenEXR depth (Z channel) beside colour-coded label PNGs."""
import numpy as np
import OpenEXR
import pytest
from PIL import Image

import data
from data import labels as L
from data.real_format import import_dataset, read_folder
from test_data_import import fake_images
from test_data_tools import tool


def write_exr(path, channels):
    with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, channels) as f:
        f.write(str(path))


def write_exr_folder(folder, depth, label, units=1.0, background=1e10, dtype=np.float32):
    """Depth in units of `units` metres, background where a renderer puts it (1e10 or +inf)."""
    folder.mkdir()
    for i, (d, lab) in enumerate(zip(depth, label)):
        z = np.where(lab == L.BACKGROUND, background, d / units).astype(dtype)
        write_exr(folder / f"pose{i:03d}_depth.exr", {"Z": z})
        Image.fromarray(L.colourise(lab)).save(folder / f"pose{i:03d}_label.png")


@pytest.mark.parametrize("background", [1e10, np.inf])
def test_round_trip_in_metres(tmp_path, background):
    depth, label = fake_images()
    write_exr_folder(tmp_path / "f", depth, label, background=background)
    got_depth, got_label = read_folder(tmp_path / "f")
    assert (got_label == label).all() and (got_depth == depth).all()  # background: 6 m, as in the synthetic set


def test_round_trip_in_millimetres_and_half_floats(tmp_path):
    depth, label = fake_images()
    write_exr_folder(tmp_path / "mm", depth, label, units=0.001)
    got = read_folder(tmp_path / "mm", depth_scale=0.001)[0]
    assert np.abs(got - depth).max() < 1e-6
    write_exr_folder(tmp_path / "half", depth, label, background=np.inf, dtype=np.float16)
    got = read_folder(tmp_path / "half")[0]
    assert np.abs(got - depth).max() <= 5 * 2.0 ** -11  # float16 keeps 11 bits


@pytest.mark.parametrize("units, scale, suggestion", [(0.001, 1.0, "0.001"), (0.01, 1.0, "0.01"),
                                                      (1.0, 0.001, "1")])
def test_implausible_scale_is_refused_with_a_suggestion(tmp_path, units, scale, suggestion):
    depth, label = fake_images()
    write_exr_folder(tmp_path / "f", depth, label, units=units)
    with pytest.raises(data.DataError) as e:
        read_folder(tmp_path / "f", depth_scale=scale)
    message = str(e.value)
    assert "pose000_depth.exr: depth scale" in message and "outside 0.5-6 m" in message and "\n" not in message
    assert message.endswith(f"try a depth scale of {suggestion}")


def test_image_without_body_needs_no_plausible_depth(tmp_path):
    depth, label = fake_images(n=1)
    label[:] = L.BACKGROUND
    write_exr_folder(tmp_path / "f", depth, label, units=0.001)
    assert (read_folder(tmp_path / "f")[0] == 6.0).all()


def test_bad_exr_files(tmp_path, capfd):
    depth, label = fake_images(n=1)
    write_exr_folder(tmp_path / "f", depth, label)
    exr = tmp_path / "f" / "pose000_depth.exr"
    write_exr(exr, {"R": depth[0], "G": depth[0], "B": depth[0]})
    with pytest.raises(data.DataError, match=r"pose000_depth.exr: has no Z channel \(channels: B, G, R\)"):
        read_folder(tmp_path / "f")
    write_exr(exr, {"Z": np.full_like(depth[0], np.nan)})
    with pytest.raises(data.DataError, match="pose000_depth.exr: depth holds negative or non-finite values"):
        read_folder(tmp_path / "f")
    write_exr(exr, {"Z": depth[0]})
    exr.write_bytes(exr.read_bytes()[:-20])  # truncated: the bindings print before raising
    capfd.readouterr()
    with pytest.raises(data.DataError, match="pose000_depth.exr: unreadable OpenEXR file") as e:
        read_folder(tmp_path / "f")
    assert "\n" not in str(e.value) and capfd.readouterr() == ("", "")
    exr.write_text("not an image")
    with pytest.raises(data.DataError, match="pose000_depth.exr: unreadable OpenEXR file"):
        read_folder(tmp_path / "f")


def test_two_depth_files_for_one_pose_are_ambiguous(tmp_path):
    depth, label = fake_images(n=1)
    write_exr_folder(tmp_path / "f", depth, label)
    np.save(tmp_path / "f" / "pose000_depth.npy", depth[0])
    with pytest.raises(data.DataError, match="pose000 has two depth images, pose000_depth.exr and pose000_depth.npy"):
        read_folder(tmp_path / "f")


def test_import_command_with_depth_scale(tmp_path, capsys):
    depth, label = fake_images()
    write_exr_folder(tmp_path / "train", depth, label, units=0.001)
    write_exr_folder(tmp_path / "test", depth[:1], label[:1], units=0.001)
    main = tool("import_dataset").main
    argv = ["--train", str(tmp_path / "train"), "--test", str(tmp_path / "test"), "--out", str(tmp_path / "ds")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "try a depth scale of 0.001" in err and not (tmp_path / "ds").exists()
    assert main(argv + ["--depth-scale", "0.001"]) == 0
    got = data.read_split(tmp_path / "ds" / "train.txt")
    assert (got["label"] == label).all() and np.abs(got["depth"] - depth).max() < 1e-6
    for bad in ("0", "nan", "-1"):
        assert main(argv + ["--depth-scale", bad]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "depth scale must be a finite number > 0" in err


def test_import_dataset_api_takes_the_scale(tmp_path):
    depth, label = fake_images()
    write_exr_folder(tmp_path / "train", depth, label, units=0.01)
    out = import_dataset(tmp_path / "ds", {"train": tmp_path / "train", "test": tmp_path / "train"}, depth_scale=0.01)
    assert np.abs(data.read_split(out / "test.h5")["depth"] - depth).max() < 1e-5
