"""A user's own depth images, at any size, in; body parts out (tools/segment.py, the cnncrf API):
PNG (16-bit millimetres), EXR (with a depth scale) and .npy at odd sizes give labels of the
input's size, identical to tools/eval.py's predictions on the same depth through the same model
(one path); a model is run at its training pixel scale, so its accuracy on the same scenes holds
at two and four times the size."""
import numpy as np
import pytest

from conftest import run_tool

GIBBS = ["--inference", "gibbs", "--burn-in", "5", "--samples", "10", "--seed", "0"]  # the tiny scale's setting


@pytest.fixture(scope="module")
def tiny_model(tiny_run):
    """The tiny run's deploy net and end-to-end model (trained at 64x48)."""
    run = tiny_run / "run"
    return run / "prototxt" / "deploy_crf.prototxt", run / "models" / "joint.caffemodel"


def user_files(folder):
    """Generated scenes at odd sizes saved as a user would: {path: (depth in metres, truth)}: a.png
    in millimetres (0: no reading), b.exr in millimetres (+inf: no reading), c.npy in metres."""
    import OpenEXR
    from PIL import Image

    from data.generate import make_image

    folder.mkdir()
    made = {}
    for i, (name, (h, w)) in enumerate({"a.png": (97, 131), "b.exr": (75, 101), "c.npy": (53, 67)}.items()):
        depth, truth = make_image(5, "test", i, h, w)
        path, none = folder / name, depth >= 6.0
        if path.suffix == ".png":
            Image.fromarray(np.where(none, 0, np.round(depth * 1000)).astype(np.uint16)).save(path)
        elif path.suffix == ".exr":
            z = np.where(none, np.inf, depth * 1000).astype(np.float32)
            with OpenEXR.File({"compression": OpenEXR.ZIP_COMPRESSION}, {"Z": z}) as f:
                f.write(str(path))
        else:
            np.save(path, depth)
        made[path] = depth, truth
    return made


@pytest.mark.caffe
@pytest.mark.slow
def test_png_exr_and_npy_at_odd_sizes_label_as_eval_does(tiny_model, tmp_path):
    import cnncrf
    from PIL import Image

    from data.hdf5 import write_split
    from data.labels import BACKGROUND, NUM_LABELS, colourise

    deploy, weights = tiny_model
    files = user_files(tmp_path / "frames")
    out = tmp_path / "out"
    assert run_tool("segment", ["--model", str(deploy), "--weights", str(weights), "--out", str(out), "--ids",
                                "--marginals", "--figure", "--depth-scale", "0.001", *GIBBS, str(tmp_path / "frames")]) == 0
    for path, (depth, truth) in files.items():
        ids = np.asarray(Image.open(out / f"{path.stem}_ids.png"))
        assert ids.shape == depth.shape and ids.dtype == np.uint8
        assert np.array_equal(np.asarray(Image.open(out / f"{path.stem}_labels.png").convert("RGB")), colourise(ids))
        marginals = np.load(out / f"{path.stem}_marginals.npy")
        assert marginals.shape == (NUM_LABELS, *depth.shape) and np.allclose(marginals.sum(axis=0), 1, atol=1e-4)
        assert Image.open(out / f"{path.stem}_figure.png").size[0] > depth.shape[1]
        assert (ids[truth != BACKGROUND] != BACKGROUND).mean() > 0.8  # the body is found
        read = cnncrf.read_depth(path, 0.001 if path.suffix == ".exr" else 1.0)
        assert np.abs(read - depth).max() <= 5.01e-4  # the scene, to the millimetre of a PNG
        write_split(tmp_path / f"{path.stem}.h5", read[None], truth[None])
        pred = tmp_path / f"pred-{path.stem}"
        assert run_tool("eval", ["--model", str(deploy), "--weights", str(weights), "--data",
                                 str(tmp_path / f"{path.stem}.h5"), *GIBBS, "--save-predictions", str(pred)]) == 0
        assert np.array_equal(np.load(pred / "predictions.npy")[0], ids)


@pytest.mark.caffe
@pytest.mark.slow
def test_the_api_runs_the_net_at_the_training_scale(tiny_model, tmp_path):
    """At the training size nothing is resampled (the labels are the marginals' argmax); at another,
    segment() and labels() (eval's entry) agree; a model that records no scale is refused, saying
    how to export it again."""
    import cnncrf
    from data.generate import make_image
    from nets.export import SCALE
    from nets.weights import ModelError, read_netparameter

    deploy, weights = tiny_model
    model = cnncrf.load(deploy, weights, "icm")
    assert model.trained_at == {"height": 48, "width": 64, "hfov_deg": pytest.approx(57.0)}
    assert [model.net_size(s) for s in ((48, 64), (480, 640), (97, 131), (120, 40))] == \
        [(48, 64), (48, 64), (47, 64), (192, 64)]
    assert cnncrf.load(deploy, weights, "cnn", hfov=70.0).net_size((480, 640)) == (62, 83)  # a wider view: larger
    labels, marginals = model.segment(make_image(5, "test", 0, 48, 64)[0])
    assert np.array_equal(labels, marginals.argmax(axis=0))
    big = make_image(5, "test", 0, 192, 256)[0]
    assert np.array_equal(model.labels(big[None], progress=False)[0], model.segment(big)[0])
    bare = read_netparameter(weights)
    del bare.layer[[layer.name for layer in bare.layer].index(SCALE)]
    (tmp_path / "bare.caffemodel").write_bytes(bare.SerializeToString())
    with pytest.raises(ModelError, match="bare.caffemodel: records no training image size.*export it again: "
                                         "tools/export_model.py .*--trained-at WxH"):
        cnncrf.load(deploy, tmp_path / "bare.caffemodel")


@pytest.mark.caffe
@pytest.mark.slow
def test_accuracy_holds_at_two_and_four_times_the_training_size(tiny_model, tmp_path):
    """The tiny run's model (trained at 64x48) on the same 48 generated scenes at 64x48, 128x96 and
    256x192 (make_dataset --seed 3: the seed fixes the scenes, the size only their rendering):
    body-part accuracy within 0.02 of 64x48's, with the CNN alone and with Gibbs. The same model
    run at the image's own size instead (recorded as trained at 256x192) loses most of it."""
    import data
    from cnncrf.scale import nearest
    from experiments.evaluation import evaluate
    from nets.export import export_model

    deploy, weights = tiny_model
    sizes, accuracy = ((64, 48), (128, 96), (256, 192)), {}
    for w, h in sizes:
        data.make_dataset(tmp_path / f"{w}x{h}", train=1, test=48, height=h, width=w, seed=3)
        for inference in ("cnn", "gibbs"):
            accuracy[w, inference] = evaluate(deploy, weights, tmp_path / f"{w}x{h}" / "test.txt", inference=inference,
                                              burn_in=5, samples=10, seed=0)["part_accuracy"]
    small, large = (data.read_split(tmp_path / f"{w}x{h}" / "test.txt")["label"] for w, h in (sizes[0], sizes[2]))
    assert (nearest(large, small.shape[1:]) == small).mean() > 0.95  # the same scenes
    for inference in ("cnn", "gibbs"):
        for w, _ in sizes[1:]:
            assert abs(accuracy[w, inference] - accuracy[64, inference]) <= 0.02, accuracy
    unscaled = tmp_path / "unscaled.caffemodel"
    export_model(weights, unscaled, {"height": 192, "width": 256})
    assert evaluate(deploy, unscaled, tmp_path / "256x192" / "test.txt")["part_accuracy"] < accuracy[64, "cnn"] - 0.1


def test_resampling_takes_the_nearest_pixel_and_interpolates_marginals():
    """Depth and labels: the input pixel nearest each centre, never a blend; marginals: bilinear at
    pixel centres, so they stay probabilities; both the identity at the same size."""
    from cnncrf.scale import bilinear, nearest

    image = np.arange(64, dtype=np.float32).reshape(1, 8, 8)
    assert nearest(image, (8, 8)) is image and bilinear(image, (8, 8)) is image
    assert np.array_equal(nearest(image, (2, 2))[0], image[0][np.ix_([2, 6], [2, 6])])
    assert set(nearest(image, (5, 3)).ravel()) <= set(image.ravel())
    assert np.array_equal(nearest(nearest(image, (16, 16)), (8, 8)), image)
    ramp = np.tile(np.arange(4, dtype=np.float32), (4, 1))  # one pixel per unit
    assert np.allclose(bilinear(ramp, (4, 8))[0], np.clip(np.arange(8) / 2 - 0.25, 0, 3))  # centres, edges clamped
    p = np.random.default_rng(0).dirichlet(np.ones(5), (6, 7)).transpose(2, 0, 1).astype(np.float32)
    assert np.allclose(bilinear(p, (13, 11)).sum(axis=0), 1, atol=1e-6)
