"""What every claim returns, and the few helpers several claims share."""
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

PASS, FAIL, NOT_RUN = "PASS", "FAIL", "not run"


@dataclass
class Result:
    """One row of the audit table; `details` holds the raw numbers for --json."""
    number: str
    claim: str
    test: str
    figure: str = ""
    status: str = NOT_RUN
    details: dict = field(default_factory=dict)


def verdict(ok):
    return PASS if ok else FAIL


def progress(iterable, desc, total=None):
    """A progress bar on a terminal; silent in logs and tests (tqdm's disable=None)."""
    return tqdm(iterable, desc=desc, total=total, leave=False, disable=None)


def loglog_slope(x, y):
    """The exponent k of the least-squares fit y ~ a * x**k."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def random_model(rng, num_images, num_labels, height, width, num_classes, unary_scale, theta_scale):
    """Gaussian unaries (N, L, H, W) and pairwise tables (C, L, L), both float32."""
    scores = unary_scale * rng.standard_normal((num_images, num_labels, height, width))
    theta = theta_scale * rng.standard_normal((num_classes, num_labels, num_labels))
    return scores.astype(np.float32), theta.astype(np.float32)
