"""Chain indices: every image of a training source needs its own persistent chain."""
import h5py
import numpy as np
import pytest

import data
from test_data_import import write_h5


def source(tmp_path, *indices):
    """A .txt listing one .h5 of len(index) images per given index list."""
    files = []
    for k, index in enumerate(indices):
        n = len(index)
        files.append(tmp_path / f"part{k}.h5")
        write_h5(files[-1], depth=np.full((n, 1, 4, 5), 6.0, np.float32),
                 label=np.full((n, 1, 4, 5), 19.0, np.float32), index=np.asarray(index, np.float32))
    (tmp_path / "train.txt").write_text("".join(f"{f}\n" for f in files))
    return tmp_path / "train.txt"


def test_two_files_each_indexed_from_zero_are_rejected(tmp_path):
    # the case: two .h5 files each indexed 0..N-1 would share chains pairwise
    txt = source(tmp_path, [0, 1, 2], [0, 1, 2])
    problem = f"index 0 appears in both {tmp_path / 'part0.h5'} and {tmp_path / 'part1.h5'}"
    with pytest.raises(data.DataError, match=problem):
        data.read_split(txt)
    with pytest.raises(data.DataError, match=problem):
        data.check_chain_indices(txt, 6)


def test_indices_outside_the_source_or_the_chains_are_rejected(tmp_path):
    txt = source(tmp_path, [0, 1], [2, 5])
    with pytest.raises(data.DataError, match=r"part1.h5 holds index 5, outside 0..3 \(4 chains\)"):
        data.read_split(txt)
    with pytest.raises(data.DataError, match=r"part1.h5 holds index 5, outside 0..4"):
        data.check_chain_indices(txt, 5)
    data.check_chain_indices(txt, 6)


def test_distinct_indices_across_files_are_read_in_order(tmp_path):
    txt = source(tmp_path, [0, 1], [3, 2])
    assert data.read_split(txt)["index"].tolist() == [0, 1, 3, 2]
    data.check_chain_indices(txt, 4)
    with pytest.raises(data.DataError, match=r"part1.h5 holds index 3, outside 0..2"):
        data.check_chain_indices(txt, 3)  # the layer has fewer chains than the source has images


def test_one_file_with_a_repeated_or_fractional_index(tmp_path):
    source(tmp_path, [0, 2, 2])
    with pytest.raises(data.DataError, match=r"index 2 appears twice in .*part0.h5"):
        data.read_split(tmp_path / "part0.h5")
    source(tmp_path, [0, 0.5])
    with pytest.raises(data.DataError, match="part0.h5: index holds 0.5, not a whole number"):
        data.check_chain_indices(tmp_path / "train.txt", 2)


def test_check_chain_indices_reads_only_the_index(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f["index"] = np.arange(3, dtype=np.float32)  # no depth or label: not needed to check chains
    (tmp_path / "s.txt").write_text(f"{tmp_path / 'a.h5'}\n")
    data.check_chain_indices(tmp_path / "s.txt", 3)
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f["depth"] = np.zeros((3, 1, 2, 2), np.float32)
    (tmp_path / "t.txt").write_text(f"{tmp_path / 'a.h5'}\n{tmp_path / 'b.h5'}\n")
    with pytest.raises(data.DataError, match="b.h5: has no dataset 'index'"):
        data.check_chain_indices(tmp_path / "t.txt", 6)


@pytest.mark.parametrize("num_images", [0, -1, 2.5, True, "3"])
def test_check_chain_indices_rejects_a_bad_count(tmp_path, num_images):
    txt = source(tmp_path, [0, 1])
    with pytest.raises(data.DataError, match="num_images: expected a positive integer"):
        data.check_chain_indices(txt, num_images)


def test_check_chain_indices_missing_files(tmp_path):
    with pytest.raises(data.DataError, match="nope.txt: no such file"):
        data.check_chain_indices(tmp_path / "nope.txt", 3)
    (tmp_path / "s.txt").write_text(f"{tmp_path / 'gone.h5'}\n")
    with pytest.raises(data.DataError, match=r"gone.h5: no such file \(listed in .*s.txt\)"):
        data.check_chain_indices(tmp_path / "s.txt", 3)
    (tmp_path / "empty.txt").write_text("\n")
    with pytest.raises(data.DataError, match="empty.txt: lists no .h5 files"):
        data.check_chain_indices(tmp_path / "empty.txt", 3)
