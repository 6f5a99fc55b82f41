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
    # Iterations, cut so that `make run` stays within its 30 minutes on 2 cores with the
    # image-dependent stages and the test nets in it. One machine ran (3000, 5000, 1000, 2000, 500)
    # in 34 min, its stage-1 steps at 0.21-0.23 s and the evaluation in 10 min, where an earlier
    # one had run stage-1 steps at 0.17 s: the budget needs room for that. Stage 1 10 epochs (3800
    # steps, the CNN design comparison's in the README, would cost 5 more minutes); stage 2 on
    # stored scores at ~35 ms a step sweeps each chain 12 times (its validation accuracy was flat
    # from 1500 steps on); the stages that measured no gain over the ones they start from take
    # fewer: end to end 3 sweeps, gated separate 4, gated end to end 1 (every count whole epochs
    # of 250 steps).
    "default": Scale(train=2000, test=500, height=120, width=160, iters=(2500, 3000, 750, 1000, 250),
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


@dataclass(frozen=True)
class Regime:
    """One unary strength the learning comparison runs at: its stage-1 CNN and the stages' budgets."""
    stages: dict               # {stage: {method: Budget}}; a stage missing: none of its methods here
    cnn_iterations: int = None  # stage 1 of the default design from scratch for this many steps;
                               # None: the replication run's own CNN (and its Gibbs ML models)
    train_images: int = None   # every stage learns on the first this many training images; None: all
    gibbs: int = None          # Gibbs ML's separate iterations where it is learned here (not the run's)


@dataclass(frozen=True)
class Comparison:
    test_images: int           # the first this many test images score every regime and method
    regimes: dict              # {name: Regime}, "default" first


# The learning comparison's budget per scale (experiments/compare). In the default regime Gibbs ML
# is the replication run's own models (Scale.iters, the Gibbs stages' rates in
# nets.prototxt.LEARNING); in the others it is learned here with the run's stage-2 solver at
# Regime.gibbs steps. A method missing from a regime's "joint" / "gated_separate" is not trained
# that way there. A method's base_lr, unless given, is the Gibbs stage's times (Gibbs ML's
# iterations / its own): the same rate for the same iterations, and where a method's steps cost
# too much for as many, a rate that lets Adam (whose steps are at most about base_lr per entry)
# move theta as far. That rule is stated, not tuned; tools/tune.py --stage separate --method M
# --iterations N chooses one on a generated validation set; a Budget with a base_lr cites that
# record (nets/tuning/separate-M.json).
# Budget rule within a regime: every learner on stored scores gets about the same wall time.
# The weak and low-data regimes' learners at the default scale: about 0.75 minutes each (Gibbs ML
# 2500 steps: 10 sweeps per chain of 2000 images).
LOW_BUDGET = {"separate": {"potts": Budget(2500), "pseudo_likelihood": Budget(800), "meanfield": Budget(30),
                           "loopy_bp": Budget(10)}}
COMPARISON = {
    # For the test suite: the default regime measured per iteration on the loaded 2-core machine,
    # Gibbs 0.05 s, Potts 0.06 s, pseudo-likelihood 0.24 s, mean field (T=5) 2.1 s; the weak and
    # low-data regimes with token budgets (a few seconds each: the machinery, not the figures).
    "tiny": Comparison(test_images=16, regimes={
        "default": Regime({"separate": {"potts": Budget(150), "pseudo_likelihood": Budget(150),
                                        "meanfield": Budget(20), "loopy_bp": Budget(10)},
                           "joint": {"pseudo_likelihood": Budget(60), "meanfield": Budget(5)},
                           "gated_separate": {"pseudo_likelihood": Budget(96), "meanfield": Budget(10)}}),
        "weak": Regime({"separate": {"potts": Budget(24), "pseudo_likelihood": Budget(12), "meanfield": Budget(2),
                                     "loopy_bp": Budget(2)}}, cnn_iterations=24, gibbs=24),
        "low_data": Regime({"separate": {"potts": Budget(24), "pseudo_likelihood": Budget(12), "meanfield": Budget(2),
                                         "loopy_bp": Budget(2)}}, cnn_iterations=48, train_images=24, gibbs=24)}),
    # Cost model (COSTS below, 120x160, batch 8): per training step on stored scores Gibbs / Potts
    # 0.03 s, pseudo-likelihood 0.089 s, unrolled mean field (T=5, the field's Numba kernels) 1.7 s,
    # loopy BP (T=5) ~4 s; an end-to-end step 0.18-0.25 s; a stage-1 CNN step 0.17 s; the CNN's
    # scores ~0.015 s per training image. Inference per test image: stationary Gibbs (20+50 sweeps)
    # 0.10 s, mean field (10 it.) 0.074 s, ICM 0.025 s, LBP (5 it., experiments/compare/evaluate.py
    # ITERATIONS) 0.33 s; gated Gibbs 0.13 s, mean field 0.195 s, ICM 0.056 s (no LBP for gated models).
    # Planned minutes (tools/compare_learning.py prints this plan from COSTS), 50 test images:
    #   regime     CNN + scores    learners                              evaluation            total
    #   default    0 (the run's)   17.3: Potts 1.5, PL 3.0, MF 2.8,      4.5 (8 stationary x4,  21.8
    #                              LBP 2.7, PL end to end 3.1, gated     3 gated x3)
    #                              PL 2.6, gated MF 1.6
    #   weak       0.4 + 0.5       5.2: 0.7-1.25 each (5 learners)       2.6 (6 stationary x4)   8.8
    #   low_data   1.4 + 0.05      5.2: 0.7-1.25 each                    2.6                     9.3
    #   all regimes: 40 minutes, plus Caffe's start-up per stage (a few seconds each, ~2 min in all).
    #   make compare took 0.91x this plan (36.4 minutes, mean field by the field's kernels); earlier
    #   cost models (NumPy mean field) under-predicted: 1.15x on one machine (49.3 minutes against
    #   42.8) and 1.48x on a slower one (52.1 against 35.2).
    # LBP inference at 10 iterations (0.70 s an image) was 2/3 of the evaluation; at 5 it is half
    # of it. A faster LBP leaves room for more test images (update COSTS and test_images together).
    # The first 50 test images only (the same for every regime and method): intervals about
    # sqrt(500/50) = 3.2x as wide as on all 500.
    # Default regime: the separate learners at up to twice Gibbs ML's 1.5 minutes (whose validation
    # accuracy was flat from 1500 of its 3000 steps; Potts its 3000
    # steps, pseudo-likelihood 2000 and mean field 100 at their tuned rates: nets/tuning/separate-pseudo_likelihood.json,
    # separate-meanfield.json; loopy BP 40 steps at 1.5e-2, nets/tuning/separate-loopy_bp.json: the
    # rule's 0.15 scored 0.6435 on validation, 0.05 0.6820, 1.5e-2 0.6959); end to end, pseudo-likelihood at 750
    # (Gibbs ML's own count), the rate by the rule (unrolled mean field and loopy BP would need
    # 40+ minutes);
    # the image-dependent stage (Gibbs ML's 1000 steps, ~1.3 minutes) pseudo-likelihood 600 and
    # mean field 20, the rates by the rule.
    # Weak: stage 1 of the default design for 150 steps (a short measurement, max_iter 400, first
    # 100 test images: 0.38 at 50 steps, 0.48 at 100, 0.52 at 150, 0.52 at 200, 0.54 at 250);
    # low-data: stage 1 on the first 200 images for 500 steps (20 epochs; the default CNN has 10).
    "default": Comparison(test_images=50, regimes={
        "default": Regime({"separate": {"potts": Budget(3000), "pseudo_likelihood": Budget(2000, 5e-4),
                                        "meanfield": Budget(100, 1e-2), "loopy_bp": Budget(40, 1.5e-2)},
                           "joint": {"pseudo_likelihood": Budget(750)},
                           "gated_separate": {"pseudo_likelihood": Budget(600), "meanfield": Budget(20)}}),
        "weak": Regime(LOW_BUDGET, cnn_iterations=150, gibbs=2500),
        "low_data": Regime(LOW_BUDGET, cnn_iterations=500, train_images=200, gibbs=2500)}),
    "paper": Comparison(test_images=60, regimes={
        "default": Regime({"separate": {"potts": Budget(4000), "pseudo_likelihood": Budget(1000),
                                        "meanfield": Budget(60), "loopy_bp": Budget(15)},
                           "joint": {"pseudo_likelihood": Budget(500)},
                           "gated_separate": {"pseudo_likelihood": Budget(600), "meanfield": Budget(30)}})}),
}

# Measured seconds at the default scale (120x160, batch 8, 2 cores): the plan's cost model
# (experiments.compare.plan), scaled by pixels for other scales. Gibbs ML, Potts and
# pseudo-likelihood steps from the training times of the 52-minute make compare (Gibbs ML and
# Potts 3000 steps in 1.5 minutes, pseudo-likelihood 2000 in 3.0, gated pseudo-likelihood 600 in
# 2.6); mean field's steps and inference with the field's Numba kernels from tools/bench_meanfield.py
# (quiet cores: 1.65 s a step, K = 2 4.8 s; 0.074 and 0.195 s an image); the rest as before.
COSTS = {
    "step": {"gibbs_ml": 0.03, "potts": 0.03, "pseudo_likelihood": 0.089, "meanfield": 1.7, "loopy_bp": 4.0,
             "joint": 0.25, "gated_separate": 0.1, "gated_separate_pseudo_likelihood": 0.26,
             "gated_separate_meanfield": 4.8, "cnn": 0.17},
    "score_image": 0.015,  # the CNN's scores of one training image
    "infer_image": {"gibbs": 0.10, "meanfield": 0.074, "icm": 0.025, "lbp": 0.33},
    "infer_image_gated": {"gibbs": 0.134, "meanfield": 0.195, "icm": 0.056},
}
DEFAULT_PIXELS = 120 * 160


def net_options(scale):
    """The nets.prototxt.render arguments a scale fixes."""
    return {"num_images": scale.train, "height": scale.height, "width": scale.width,
            "batch_size": scale.batch_size, "iters": scale.iters}


def committed_paths():
    """The paths the committed prototxt/ reads and writes, relative to the repo root: the
    tools/make_prototxt.py defaults and committed_prototxt()'s."""
    from pathlib import Path

    from .run_folder import TEST_NET_IMAGES, validation_folder

    data = Path("datasets/default")
    return {"data": str(data), "scores": "scores/default", "snapshots": "snapshots",
            "validation": str(validation_folder(data, TEST_NET_IMAGES)), "validation_scores": "scores/default-val",
            "validation_images": TEST_NET_IMAGES}


def committed_prototxt():
    """{file name: text} of prototxt/: the default scale's nets, run from the repo root."""
    from nets import crf, prototxt

    return prototxt.render(edges=crf.DEFAULT_EDGES, seed=0, net_dir="prototxt", **committed_paths(),
                           **net_options(SCALES["default"]))
