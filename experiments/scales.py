"""The run scales, the one place that defines each: data size, resolution, iterations, batch,
inference effort. The committed prototxt/ is the default scale's (committed_prototxt())."""
from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    train: int                 # training images (= chains in the CRF layer's store)
    test: int
    height: int
    width: int
    iters: tuple               # max_iter of the cnn, separate and joint stages; separate
                               # learning needs >= ~10 sweeps per chain (iters*batch/train)
    batch_size: int
    burn_in: int               # Gibbs sweeps before averaging, at test time
    samples: int               # Gibbs sweeps averaged, at test time
    snapshot_every: int        # an interrupted stage resumes from the last of these
    figure_images: int = 4     # test images on the Fig.1-style sheet


SCALES = {
    # Minutes on 2 cores: for the test suite and for trying the pipeline out.
    "tiny": Scale(train=48, test=16, height=48, width=64, iters=(150, 150, 60), batch_size=4,
                  burn_in=5, samples=10, snapshot_every=50),
    # The main job (`make run`): the paper's 2000/500 images at a CPU-friendly resolution.
    "default": Scale(train=2000, test=500, height=120, width=160, iters=(2000, 3000, 1000),
                     batch_size=8, burn_in=20, samples=50, snapshot_every=500),
    # The paper's scale: 2000/500 images at 320x240.
    "paper": Scale(train=2000, test=500, height=240, width=320, iters=(8000, 4000, 2000),
                   batch_size=8, burn_in=30, samples=100, snapshot_every=500),
}


def net_options(scale):
    """The nets.prototxt.render arguments a scale fixes."""
    return {"num_images": scale.train, "height": scale.height, "width": scale.width,
            "batch_size": scale.batch_size, "iters": scale.iters}


def committed_prototxt():
    """{file name: text} of prototxt/: the default scale's nets, run from the repo root."""
    from nets import crf, prototxt

    return prototxt.render(data="datasets/default", scores="scores/default", edges=crf.DEFAULT_EDGES, seed=0,
                           net_dir="prototxt", snapshots="snapshots", **net_options(SCALES["default"]))
