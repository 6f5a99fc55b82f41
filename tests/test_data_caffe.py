"""Caffe's own HDF5Data layer reads the dataset files (float, gzip-compressed) as written."""
import pytest

import data


@pytest.mark.caffe
def test_hdf5data_layer_reads_the_dataset(pycaffe, tmp_path):
    meta = data.make_dataset(tmp_path / "ds", train=4, test=2, height=24, width=32, seed=0)
    net_file = tmp_path / "net.prototxt"
    net_file.write_text(f"""
layer {{ name: "data" type: "HDF5Data" top: "depth" top: "label" top: "index"
  hdf5_data_param {{ source: "{meta['files']['train']['txt']}" batch_size: 3 }} }}
""")
    net = pycaffe.Net(str(net_file), pycaffe.TEST)
    net.forward()
    split = data.read_split(meta["files"]["train"]["h5"])
    assert (net.blobs["depth"].data[:, 0] == split["depth"][:3]).all()
    assert (net.blobs["label"].data[:, 0] == split["label"][:3]).all()
    assert (net.blobs["index"].data == [0, 1, 2]).all()
