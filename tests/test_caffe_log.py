"""Training time from a stage's Caffe log: wall time summed over the sessions of a resumed stage,
and seconds per iteration once training runs (set-up and compilation left out)."""
import pytest

from experiments.caffe_log import iteration_seconds, training_curve, training_seconds

SESSION_1 = """$ caffe train -solver s.prototxt
I20261129 23:59:50.000000 1 caffe.cpp:197] Use CPU.
I20261129 23:59:58.000000 1 sgd_solver.cpp:112] Iteration 0, lr = 0.002
I20261129 23:59:59.000000 1 solver.cpp:218] Iteration 10 (10 iter/s, 1s/10 iters), loss = 0.5
I20261130 00:00:01.000000 1 solver.cpp:218] Iteration 30 (10 iter/s, 2s/20 iters), loss = 0.25
"""
SESSION_2 = """$ caffe train -solver s.prototxt -snapshot s_iter_30.solverstate
I1130 00:10:00.000000 2 caffe.cpp:197] Use CPU.
I1130 00:10:05.500000 2 sgd_solver.cpp:112] Iteration 30, lr = 0.002
I1130 00:10:06.500000 2 solver.cpp:239] Iteration 40 (10 iter/s, 1s/10 iters), loss = 0.2
I1130 00:10:07.500000 2 solver.cpp:464] Snapshotting to binary proto file snaps/s_iter_45.caffemodel
I1130 00:10:07.550000 2 sgd_solver.cpp:284] Snapshotting solver state to binary proto file snaps/s_iter_45.solverstate
I1130 00:10:07.600000 2 caffe.cpp:250] Optimization Done.
"""


def test_one_session_across_midnight():
    assert training_seconds(SESSION_1) == pytest.approx(11.0)
    assert iteration_seconds(SESSION_1) == pytest.approx(3.0 / 30)
    assert training_curve(SESSION_1) == [(10, 0.5), (30, 0.25)]


def test_a_resumed_stage_sums_its_sessions_not_the_pause_between():
    text = SESSION_1 + SESSION_2  # the second in the older glog format without the year, and ending
    assert training_seconds(text) == pytest.approx(11.0 + 7.6)  # at a max_iter that logs no loss line
    assert iteration_seconds(text) == pytest.approx((3.0 + 2.0) / (30 + 15))


def test_a_log_without_timestamps_has_no_time():
    assert training_seconds("$ caffe train\nsomething went wrong\n") is None
    assert iteration_seconds(SESSION_1.splitlines()[0] + "\n" + SESSION_1.splitlines()[2]) is None
