"""The Potts projection and the check that theta is of the form w_c * I."""
import numpy as np

from sampler.learning import potts_project, potts_violation


def test_projection_is_the_orthogonal_projection_onto_diagonal_multiples_of_identity():
    g = np.random.default_rng(0)
    tables = g.normal(size=(4, 5, 5)).astype(np.float32)
    projected = potts_project(tables)
    assert projected.dtype == np.float32 and potts_violation(projected) is None
    assert np.allclose(np.diagonal(projected, axis1=1, axis2=2), np.trace(tables, axis1=1, axis2=2)[:, None] / 5)
    assert np.array_equal(potts_project(projected), projected)  # idempotent
    other = potts_project(g.normal(size=tables.shape))
    assert abs(np.sum((tables - projected) * other)) < 1e-5  # the residual is orthogonal to the subspace


def test_violation_names_the_first_offending_class():
    theta = np.stack([2.0 * np.eye(3), -np.eye(3), np.zeros((3, 3))])
    assert potts_violation(theta) is None
    theta[1, 0, 2] = 0.5
    assert potts_violation(theta) == "class 1 has theta[1, 0, 2] = 0.5 off the diagonal"
    theta[1, 0, 2] = 0
    theta[2, 1, 1] = 1e-6  # rounding level: allowed
    assert potts_violation(theta) is None
    theta[2, 1, 1] = 1e-4
    assert potts_violation(theta) == "class 2 has unequal diagonal entries 0..0.0001"
    theta[0] *= 1e5  # the tolerance is relative for large weights
    theta[0, 2, 2] *= 1 + 1e-6
    assert potts_violation(theta[:1]) is None
    theta[0, 2, 2] *= 1 + 1e-4
    assert potts_violation(theta[:1]).startswith("class 0 has unequal diagonal entries")
