"""Training curves from Caffe's glog output."""
import re

# "... solver.cpp:218] Iteration 100 (4.1 iter/s, 24.3s/100 iters), loss = 1.2345"
ITERATION_LOSS = re.compile(r"\] Iteration (\d+)(?: \([^)]*\))?, loss = ([-+0-9.eEinfa]+)")


def training_curve(text):
    """[(iteration, smoothed loss)] in the order Caffe printed them."""
    return [(int(m.group(1)), float(m.group(2))) for m in ITERATION_LOSS.finditer(text)]
