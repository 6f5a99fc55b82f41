"""Dataset folders: the tools replace only a dataset they wrote, never the user's files or their input."""
import json

import h5py
import numpy as np
import pytest

import data
from data import dataset_dir, hdf5
from data.real_format import import_dataset
from test_data_import import fake_images, write_bundle, write_folder
from test_data_tools import tool

TINY = dict(train=2, test=2, height=16, width=20, seed=0)


def snapshot(folder):
    """{relative path: bytes} of every file under folder, to prove nothing changed."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_make_dataset_command_keeps_a_folder_that_only_has_a_meta_json(tmp_path, capsys):
    # the repro: any file called meta.json used to make the whole folder replaceable
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "meta.json").write_text("{}\n")
    (tmp_path / "d" / "notes.csv").write_text("x\n")
    before = snapshot(tmp_path)
    argv = ["--out", str(tmp_path / "d"), "--train", "2", "--test", "2", "--height", "16", "--width", "20"]
    assert tool("make_dataset").main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(tmp_path / "d") in err and "not replacing it" in err
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["d"]


def spoil(folder, how):
    """Make a written dataset folder into one the tools did not (wholly) write."""
    if how == "extra file":
        (folder / "sheet.png").write_bytes(b"mine")
    elif how == "sub-folder":
        (folder / "notes").mkdir()
        (folder / "notes" / "a.txt").write_text("mine")
    elif how == "foreign h5":
        with h5py.File(folder / "train.h5", "w") as f:
            f["my_data"] = np.arange(3)
    elif how == "meta of another schema":
        (folder / "meta.json").write_text(json.dumps({"counts": {"train": 2, "test": 2}}))
    elif how == "missing split file":
        (folder / "test.txt").unlink()
    elif how == "txt names another file":
        (folder / "train.txt").write_text("/somewhere/else.h5\n")
    elif how == "symlink":
        (folder / "test.h5").unlink()
        (folder / "test.h5").symlink_to(folder.parent / "precious.h5")


@pytest.mark.parametrize("how", ["extra file", "sub-folder", "foreign h5", "meta of another schema",
                                 "missing split file", "txt names another file", "symlink"])
def test_refuses_a_dataset_folder_it_did_not_wholly_write(tmp_path, how):
    data.make_dataset(tmp_path / "ds", **TINY)
    (tmp_path / "precious.h5").write_bytes(b"mine")
    spoil(tmp_path / "ds", how)
    before = snapshot(tmp_path)
    with pytest.raises(data.DataError, match="not a dataset folder these tools wrote") as e:
        data.make_dataset(tmp_path / "ds", **TINY)
    assert "\n" not in str(e.value)
    assert snapshot(tmp_path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ds", "precious.h5"]


def test_refuses_a_file_and_accepts_an_empty_folder(tmp_path):
    (tmp_path / "f").write_text("mine")
    with pytest.raises(data.DataError, match="f: exists and is not a folder"):
        data.make_dataset(tmp_path / "f", **TINY)
    assert (tmp_path / "f").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    data.make_dataset(tmp_path / "empty", **TINY)
    assert sorted(p.name for p in (tmp_path / "empty").iterdir()) == [
        "meta.json", "test.h5", "test.txt", "train.h5", "train.txt"]


def test_import_replaces_an_imported_dataset(tmp_path):
    depth, label = fake_images()
    write_bundle(tmp_path / "a.npy", depth, label)
    write_bundle(tmp_path / "b.npy", depth[:1], label[:1])
    import_dataset(tmp_path / "ds", {"train": tmp_path / "a.npy", "test": tmp_path / "a.npy"})
    import_dataset(tmp_path / "ds", {"train": tmp_path / "b.npy", "test": tmp_path / "a.npy"})
    assert len(data.read_split(tmp_path / "ds" / "train.txt")["label"]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy", "b.npy", "ds"]  # no hidden leftovers


@pytest.mark.parametrize("out, relation", [("train", "is"), ("train/ds", "lies inside"), (".", "contains")])
def test_import_never_writes_into_its_input(tmp_path, out, relation):
    depth, label = fake_images()
    write_folder(tmp_path / "train", depth, label)
    write_bundle(tmp_path / "test.npy", depth, label)
    before = snapshot(tmp_path)
    with pytest.raises(data.DataError, match=f"output folder {relation} the input"):
        import_dataset(tmp_path / out, {"train": tmp_path / "train", "test": tmp_path / "test.npy"})
    assert snapshot(tmp_path) == before


def test_import_command_with_out_equal_to_its_source_folder_keeps_the_images(tmp_path, capsys):
    depth, label = fake_images()
    write_folder(tmp_path / "train", depth, label)
    before = snapshot(tmp_path)
    source = str(tmp_path / "train")
    assert tool("import_dataset").main(["--train", source, "--test", source, "--out", source]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "output folder is the input" in err
    assert snapshot(tmp_path) == before


def test_files_that_appear_while_generating_are_kept(tmp_path, monkeypatch):
    # out_dir is checked again just before the swap: a file saved into it meanwhile survives
    data.make_dataset(tmp_path / "ds", **TINY)
    write_split = hdf5.write_split

    def user_saves_a_file(path, *args):
        (tmp_path / "ds" / "notes.txt").write_text("mine")
        write_split(path, *args)

    monkeypatch.setattr(hdf5, "write_split", user_saves_a_file)
    with pytest.raises(data.DataError, match="notes.txt is not part"):
        data.make_dataset(tmp_path / "ds", **TINY)
    assert (tmp_path / "ds" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_recognises_what_both_tools_write(tmp_path):
    data.make_dataset(tmp_path / "made", **TINY)
    depth, label = fake_images()
    write_bundle(tmp_path / "b.npy", depth, label)
    import_dataset(tmp_path / "imported", {"train": tmp_path / "b.npy", "test": tmp_path / "b.npy"})
    for name in ("made", "imported"):
        assert dataset_dir.dataset_files(tmp_path / name) == ["meta.json", "test.h5", "test.txt", "train.h5", "train.txt"]

