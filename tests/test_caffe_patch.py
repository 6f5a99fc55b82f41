"""The project's Caffe build leaves parameters with lr_mult 0 out of the solver's update
(tools/setup/patch_caffe.sh): their data stay bit for bit as they are, as Caffe's own update
(0 times something) would leave them, without the work. Skipped for a Caffe built elsewhere
(CAFFE_ROOT), which lacks the change."""
import os

import numpy as np
import pytest

pytestmark = pytest.mark.caffe


@pytest.fixture
def solver(pycaffe):
    from caffe import layers as L

    from nets.runtime import temp_prototxt

    spec = pycaffe.NetSpec()
    spec.x = L.DummyData(shape=[{"dim": [2, 3]}], data_filler={"type": "constant", "value": 1})
    spec.frozen = L.Bias(spec.x, name="frozen", param=[{"lr_mult": 0, "decay_mult": 1}])
    spec.learned = L.Bias(spec.frozen, name="learned", param=[{"lr_mult": 1, "decay_mult": 1}])
    spec.loss = L.Reduction(spec.learned, loss_weight=1)
    with temp_prototxt(str(spec.to_proto())) as net, temp_prototxt(
            f'net: "{net}"\ntype: "Adam"\nbase_lr: 0.1\nweight_decay: 0.5\nlr_policy: "fixed"\nsolver_mode: CPU\n') as path:
        return pycaffe.get_solver(path)


def test_the_solver_leaves_lr_mult_0_parameters_alone(solver):
    frozen, learned = solver.net.params["frozen"][0], solver.net.params["learned"][0]
    frozen.data[...] = [1.5, -2.0, 3.25]
    solver.step(1)
    assert frozen.data.tolist() == [1.5, -2.0, 3.25]  # also with weight decay: what any Caffe does
    assert not np.array_equal(learned.data, 0)


@pytest.mark.skipif(bool(os.environ.get("CAFFE_ROOT")), reason="a Caffe built elsewhere lacks the change")
def test_our_build_does_not_even_touch_them(solver):
    """A NaN diff on an lr_mult 0 parameter: Caffe's own update would make its data NaN (0 * NaN)."""
    frozen = solver.net.params["frozen"][0]
    frozen.data[...] = 0.5
    frozen.diff[...] = np.nan
    solver.apply_update()
    assert (frozen.data == 0.5).all()
    solver.net.clear_param_diffs()
    assert np.isnan(frozen.diff).all()  # ClearParamDiffs skips it too
