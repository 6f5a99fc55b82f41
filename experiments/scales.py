"""The run scales, the one place that defines each: data size, resolution, iterations, batch,
inference effort. The committed prototxt/ is the default scale's (committed_prototxt())."""
from dataclasses import dataclass


# the training stages, in the order of Scale.iters (as nets.prototxt's; a test keeps them equal)
STAGES = ("cnn", "separate", "joint", "gated_separate", "gated_joint")
GATED = ("gated_separate", "gated_joint")  # image-dependent factors: K tables per edge class


@dataclass(frozen=True)
class Scale:
    train: int                 # training images (= chains in the CRF layer's store)
    test: int
    height: int
    width: int
    iters: tuple               # max_iter of each stage (STAGES); separate learning needs >= ~10
                               # sweeps per chain (iters*batch/train); the gated one starts
                               # from the separate stage's chains and tables
    batch_size: int
    burn_in: int               # Gibbs sweeps before averaging, at test time
    samples: int               # Gibbs sweeps averaged, at test time
    snapshot_every: int        # an interrupted stage resumes from the last of these: whole epochs
                               # (train / batch_size iterations; nets.prototxt.whole_epochs)
    figure_images: int = 4     # test images on the Fig.1-style sheet

    def stage_iters(self, stage):
        """max_iter of one stage (STAGES)."""
        return self.iters[STAGES.index(stage)]


SCALES = {
    # Minutes on 2 cores: for the test suite and for trying the pipeline out.
    "tiny": Scale(train=48, test=16, height=48, width=64, iters=(150, 150, 60, 96, 48), batch_size=4,
                  burn_in=5, samples=10, snapshot_every=48),
    # The main job (`make run`): the paper's 2000/500 images at a CPU-friendly resolution.
    # Iterations, cut so that `make run` stays within its 30 minutes on 2 quiet cores with the
    # image-dependent stages and the test nets in it: stage 1 about 8.5 minutes (0.17 s a step;
    # 3800 steps, the CNN design comparison's in the README, cost 2 more); stage 2 on stored scores
    # at ~20 ms a step sweeps each chain 24 times; stage 3 adds 5; the gated stages 8 and 3
    # (every count whole epochs of 250 steps).
    "default": Scale(train=2000, test=500, height=120, width=160, iters=(3000, 6000, 1250, 2000, 750),
                     batch_size=8, burn_in=20, samples=50, snapshot_every=1000),
    # The paper's scale: 2000/500 images at 320x240.
    "paper": Scale(train=2000, test=500, height=240, width=320, iters=(8000, 4000, 2000, 2000, 1000),
                   batch_size=8, burn_in=30, samples=100, snapshot_every=500),
}


@dataclass(frozen=True)
class Budget:
    """One learned method's stage in the learning comparison (experiments/compare)."""
    iterations: int            # max_iter, at the replication run's batch size
    base_lr: float = None      # Adam's; None: the rule below


# The learning comparison's budget per scale: {stage: {method: Budget}}; a method missing from
# "joint" is not trained end to end at that scale. Gibbs ML is the replication run's own models
# (Scale.iters, the Gibbs stages' rates in nets.prototxt.LEARNING). A method's base_lr, unless
# given, is the Gibbs stage's times (Gibbs ML's iterations / its own): the same rate for the same
# iterations, and where a method's steps cost too much for as many, a rate that lets Adam (whose
# steps are at most about base_lr per entry) move theta as far. That rule is stated, not tuned;
# tools/tune.py --stage separate --method M --iterations N chooses one on a generated validation
# set; a Budget with a base_lr cites that record (nets/tuning/separate-M.json).
COMPARISON = {
    # For the test suite: measured per iteration on the loaded 2-core machine, Gibbs 0.05 s,
    # Potts 0.06 s, pseudo-likelihood 0.24 s, mean field (T=5) 2.1 s; about 3-4 minutes in all.
    "tiny": {"separate": {"potts": Budget(150), "pseudo_likelihood": Budget(150), "meanfield": Budget(20)},
             "joint": {"pseudo_likelihood": Budget(60), "meanfield": Budget(5)},
             "gated_separate": {"pseudo_likelihood": Budget(96), "meanfield": Budget(10)}},
    # About Gibbs ML's training time each, per step on stored scores at 120x160, batch 8 on 2 cores
    # (measured by tools/tune.py): Gibbs and Potts 16 ms (10000 steps: 2.6 min), pseudo-likelihood
    # 54 ms, mean field (T=5) 1.4 s; end to end, every step is mostly the CNN's, so pseudo-likelihood
    # gets Gibbs ML's 1500; unrolled mean field would need 40 minutes for as many and is left out.
    # Rates: nets/tuning/separate-pseudo_likelihood.json, separate-meanfield.json; Potts is Gibbs
    # ML's learner on a restricted table, at its rate and iterations. The image-dependent model's
    # stage (from each method's own separate tables): about Gibbs ML's gated stage's time each,
    # the rates by the rule.
    "default": {"separate": {"potts": Budget(10000), "pseudo_likelihood": Budget(2000, 5e-4),
                             "meanfield": Budget(100, 1e-2)},
                "joint": {"pseudo_likelihood": Budget(1500)},
                "gated_separate": {"pseudo_likelihood": Budget(1200), "meanfield": Budget(60)}},
    "paper": {"separate": {"potts": Budget(4000), "pseudo_likelihood": Budget(1000), "meanfield": Budget(60)},
              "joint": {"pseudo_likelihood": Budget(500)},
              "gated_separate": {"pseudo_likelihood": Budget(600), "meanfield": Budget(30)}},
}


def net_options(scale):
    """The nets.prototxt.render arguments a scale fixes."""
    return {"num_images": scale.train, "height": scale.height, "width": scale.width,
            "batch_size": scale.batch_size, "iters": scale.iters}


def committed_prototxt():
    """{file name: text} of prototxt/: the default scale's nets, run from the repo root."""
    from nets import crf, prototxt

    from .run_folder import TEST_NET_IMAGES

    return prototxt.render(data="datasets/default", scores="scores/default", edges=crf.DEFAULT_EDGES, seed=0,
                           net_dir="prototxt", snapshots="snapshots",
                           validation=f"datasets/default-val{TEST_NET_IMAGES}", validation_scores="scores/default-val",
                           validation_images=TEST_NET_IMAGES,
                           **net_options(SCALES["default"]))
