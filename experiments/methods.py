"""The learning methods compared: each learns the pairwise tables theta of the same CRF (labels,
edge classes) on the replication run's stage-1 CNN.

Separate (theta learned on the stage-1 CNN's stored scores, the CNN frozen):
  gibbs_ml           maximum likelihood with persistent Gibbs chains, one sweep per visit (the
                     paper): the replication run's own model, not retrained
  potts              the same learning with each table held at w_c * [l == l'] (GibbsCRFLoss
                     "potts"): attraction only, the repulsion ablation
  pseudo_likelihood  Besag's pseudo-likelihood, exact gradient (PseudoLikelihoodLoss)
  meanfield          mean field unrolled for MEANFIELD_STEPS steps, cross-entropy of its
                     marginals, exact gradient (MeanFieldLoss, CRF-as-RNN style)
  loopy_bp           maximum likelihood with the beliefs of LBP_STEPS damped loopy-BP iterations
                     from cold messages for marginals (LoopyBPLoss; Chen et al. 2015)
  piecewise          no gradient steps: the pointwise mutual information of the training labels
                     at each offset (sampler.learning.piecewise_tables, pseudo-count 1)
End to end (the CNN and theta together, from the stage-1 CNN and the method's separate theta):
  gibbs_ml_joint (the run's own), pseudo_likelihood_joint, meanfield_joint, loopy_bp_joint,
  where the scale's budget (experiments.scales.COMPARISON) trains them.
Image-dependent factors, separate (the gated stage: the pairwise branch and K tables per class on
the stored scores, each method from its own separate tables repeated K times):
  gibbs_ml_gated (the run's own), pseudo_likelihood_gated, meanfield_gated, where the budget
  trains them.
"""
from dataclasses import dataclass

from nets import crf

GIBBS = "gibbs_ml"
MEANFIELD_STEPS = 5  # unrolled while learning, as CRF-as-RNN trains; mean-field inference runs 10
LBP_STEPS = 5  # loopy-BP iterations per learning step, as many as mean field's


@dataclass(frozen=True)
class Method:
    key: str
    label: str
    stage: str                  # "separate" or "joint"
    layer: tuple = None         # the nets.crf training layer; None: no gradient steps (piecewise)
    extra: tuple = ()           # the layer's own param_str keys, as (key, value) pairs
    base: str = None            # joint and gated methods: the separate method whose theta they start from

    @property
    def reused(self):
        """Gibbs ML's models are the replication run's."""
        return self.key in (GIBBS, GIBBS + "_joint", GIBBS + "_gated")


SEPARATE = (
    Method(GIBBS, "ML, persistent Gibbs chains (paper)", "separate", crf.LOSS),
    Method("potts", "ML, Gibbs chains, Potts tables w_c [l = l']", "separate", crf.LOSS, (("potts", True),)),
    Method("pseudo_likelihood", "pseudo-likelihood", "separate", crf.PSEUDO_LIKELIHOOD),
    Method("meanfield", f"mean field unrolled (T={MEANFIELD_STEPS})", "separate", crf.MEANFIELD,
           (("iterations", MEANFIELD_STEPS),)),
    Method("loopy_bp", f"loopy-BP beliefs (T={LBP_STEPS})", "separate", crf.LOOPY_BP, (("iterations", LBP_STEPS),)),
    Method("piecewise", "piecewise (log-marginal / PMI tables)", "separate"),
)
JOINT = (
    Method(GIBBS + "_joint", "ML, persistent Gibbs chains (paper), end to end", "joint", crf.LOSS, base=GIBBS),
    Method("pseudo_likelihood_joint", "pseudo-likelihood, end to end", "joint", crf.PSEUDO_LIKELIHOOD,
           base="pseudo_likelihood"),
    Method("meanfield_joint", f"mean field unrolled (T={MEANFIELD_STEPS}), end to end", "joint", crf.MEANFIELD,
           (("iterations", MEANFIELD_STEPS),), base="meanfield"),
    Method("loopy_bp_joint", f"loopy-BP beliefs (T={LBP_STEPS}), end to end", "joint", crf.LOOPY_BP,
           (("iterations", LBP_STEPS),), base="loopy_bp"),
)
GATED = (
    Method(GIBBS + "_gated", "ML, persistent Gibbs chains (paper), image-dependent", "gated_separate", crf.LOSS,
           base=GIBBS),
    Method("pseudo_likelihood_gated", "pseudo-likelihood, image-dependent", "gated_separate", crf.PSEUDO_LIKELIHOOD,
           base="pseudo_likelihood"),
    Method("meanfield_gated", f"mean field unrolled (T={MEANFIELD_STEPS}), image-dependent", "gated_separate",
           crf.MEANFIELD, (("iterations", MEANFIELD_STEPS),), base="meanfield"),
)
GIBBS_OF_STAGE = {"separate": GIBBS, "joint": GIBBS + "_joint", "gated_separate": GIBBS + "_gated"}


def chosen(budget):
    """The methods a regime's budget ({stage: {method: Budget}}) runs, separate ones first: Gibbs
    ML and piecewise always, the other separate ones where the budget names them, and of another
    stage, Gibbs ML's where the budget has the stage and the others it names there."""
    def runs(method):
        if method.stage == "separate" and (method.key == GIBBS or method.layer is None):
            return True
        stage = budget.get(method.stage)
        return stage is not None and (method.reused or (method.base or method.key) in stage)
    return [m for m in SEPARATE + JOINT + GATED if runs(m)]


def gibbs_of(method):
    """The Gibbs ML method a method is compared with: the one of its stage."""
    return GIBBS_OF_STAGE[method.stage]
