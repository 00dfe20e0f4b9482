"""Solver-independent optimality checks of regularised QSM (issue 21, point 10)."""
import numpy as np
import pytest

from qmrigenes import qsm, qsmcheck


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(0)
    shape = (20, 20, 20)
    x, y, z = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    mask = (x - 10) ** 2 + (y - 10) ** 2 + ((z - 10) * 1.2) ** 2 < 49
    chi = np.where(mask, 0.05 * rng.normal(size=shape), 0.0)
    chi[(x - 8) ** 2 + (y - 11) ** 2 + (z - 10) ** 2 < 6] += 0.15
    field = qsm.forward_field(chi, voxel_size=(1.0, 1.0, 1.5))
    field = qsm.add_field_noise(field, 0.002, rng=rng, mask=mask)
    return field, mask


def test_objective_agrees_with_the_solver_report(problem):
    field, mask = problem
    chi, info = qsm.tikhonov_cg(field, mask, lam=0.02, tol=1e-8, voxel_size=(1.0, 1.0, 1.5), masked_output=False)
    own = qsmcheck.tikhonov_objective(chi, field, mask, lam=0.02, voxel_size=(1.0, 1.0, 1.5))
    assert own == pytest.approx(info["objective"], rel=1e-10)


def test_remaining_decrease_falls_with_the_tolerance(problem):
    field, mask = problem
    out = {}
    for tol in (1e-2, 1e-4, 1e-9):
        chi, _ = qsm.tikhonov_cg(field, mask, lam=0.02, tol=tol, voxel_size=(1.0, 1.0, 1.5), masked_output=False)
        out[tol] = qsmcheck.remaining_decrease(chi, field, mask, lam=0.02, voxel_size=(1.0, 1.0, 1.5)).max()
    assert out[1e-9] < 1e-10 < out[1e-2]
    assert out[1e-2] > out[1e-4] > out[1e-9]


def test_remaining_decrease_sees_a_wrong_solution(problem):
    field, mask = problem
    chi, _ = qsm.tikhonov_cg(field, mask, lam=0.02, tol=1e-9, voxel_size=(1.0, 1.0, 1.5), masked_output=False)
    # the minimiser of another objective (lam 10x) is not optimal for this one
    other, _ = qsm.tikhonov_cg(field, mask, lam=0.2, tol=1e-9, voxel_size=(1.0, 1.0, 1.5), masked_output=False)
    assert qsmcheck.remaining_decrease(other, field, mask, lam=0.02, voxel_size=(1.0, 1.0, 1.5)).max() > 1e-4
    with pytest.raises(ValueError, match="does not lower"):
        qsmcheck.remaining_decrease(np.zeros_like(chi), field, mask, lam=0.02, voxel_size=(1.0, 1.0, 1.5))
