"""Training curves, validation figures and training time from Caffe's glog output (a stage's log, run_stage's)."""
import re
from datetime import datetime

# "... solver.cpp:218] Iteration 100 (4.1 iter/s, 24.3s/100 iters), loss = 1.2345"
ITERATION_LOSS = re.compile(r"\] Iteration (\d+)(?: \([^)]*\))?, loss = ([-+0-9.eEinfa]+)")
# "... solver.cpp:330] Iteration 760, Testing net (#0)", then per output of the test net
# "... solver.cpp:397]     Test net output #0: accuracy = 0.7123"
TESTING = re.compile(r"\] Iteration (\d+), Testing net \(#0\)|\] +Test net output #\d+: (\w+) = ([-+0-9.eEinfa]+)")
# glog's line prefix: severity, date (yyyymmdd, or mmdd in older glog) and time
STAMP = re.compile(r"^[IWEF](\d{8}|\d{4}) (\d\d:\d\d:\d\d\.\d+) ", re.M)
# an iteration's loss line, or the snapshot that ends it (the last iteration's loss is logged
# only when max_iter is a multiple of `display`)
STAMPED_ITERATION = re.compile(r"^[IWEF](\d{8}|\d{4}) (\d\d:\d\d:\d\d\.\d+) .*\] "
                               r"(?:Iteration |Snapshotting to binary proto file \S*_iter_)(\d+)", re.M)


def training_curve(text):
    """[(iteration, smoothed loss)] in the order Caffe printed them."""
    return [(int(m.group(1)), float(m.group(2))) for m in ITERATION_LOSS.finditer(text)]


def validation_curve(text, output="accuracy"):
    """[(iteration, value)] of the first test net's `output` (Caffe's "Test net output" lines), in
    iteration order; an iteration tested twice (a stage resumed from a snapshot at a test
    iteration tests it again, with the same weights) keeps its last value."""
    values, iteration = {}, None
    for m in TESTING.finditer(text):
        if m.group(1) is not None:
            iteration = int(m.group(1))
        elif iteration is not None and m.group(2) == output:
            values[iteration] = float(m.group(3))
    return sorted(values.items())


def training_seconds(text):
    """Wall seconds `caffe train` ran, by its own clock: for each session of the log (run_stage
    starts each with a "$ command" line; a resumed stage has several), its last timestamp minus
    its first, summed. None when the log holds no timestamps."""
    total, found = 0.0, False
    for session in _sessions(text):
        stamps = [_time(*m.groups()) for m in STAMP.finditer(session)]
        if stamps:
            total, found = total + (stamps[-1] - stamps[0]).total_seconds(), True
    return total if found else None


def iteration_seconds(text):
    """Seconds per iteration once training runs (set-up and the first iteration's compilation
    left out): from each session's first logged iteration to its last, over all sessions. None
    when no session logged two iterations."""
    seconds = iterations = 0
    for session in _sessions(text):
        marks = [(int(m.group(3)), _time(m.group(1), m.group(2))) for m in STAMPED_ITERATION.finditer(session)]
        if len(marks) > 1 and marks[-1][0] > marks[0][0]:
            seconds += (marks[-1][1] - marks[0][1]).total_seconds()
            iterations += marks[-1][0] - marks[0][0]
    return seconds / iterations if iterations else None


def _sessions(text):
    return re.split(r"^\$ ", text, flags=re.M)


def _time(day, clock):
    day = day if len(day) == 8 else "2000" + day  # older glog omits the year
    return datetime.strptime(f"{day} {clock}", "%Y%m%d %H:%M:%S.%f")
