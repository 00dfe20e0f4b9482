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


def test_remaining_decreases_checks_several_candidates_as_one_at_a_time(problem):
    """The shared check (dipole fields by linearity) gives each candidate's own values."""
    field, mask = problem
    chis = [qsm.tikhonov_cg(field, mask, lam=0.02, tol=tol, voxel_size=(1.0, 1.0, 1.5), masked_output=False)[0]
            for tol in (1e-2, 1e-5)]
    shared = qsmcheck.remaining_decreases(chis, field, mask, lam=0.02, voxel_size=(1.0, 1.0, 1.5))
    for chi, got in zip(chis, shared):
        kw = dict(lam=0.02, voxel_size=(1.0, 1.0, 1.5))
        directions = [chi] + qsmcheck.probe_directions(chi.shape, mask)
        # from objective values alone, every probe point's dipole field by its own FFT
        j = lambda x: qsmcheck.tikhonov_objective(x, field, mask, **kw)   # noqa: E731
        jx, total = j(chi), j(np.zeros_like(chi)) - j(chi)
        expected = []
        for v in directions:
            h = np.linalg.norm(chi) / np.linalg.norm(v)
            jp, jm = j(chi + h * v), j(chi - h * v)
            g, c = (jp - jm) / (2 * h), (jp + jm - 2 * jx) / h ** 2
            expected.append(g * g / (2 * c) / total)
        assert got.shape == (len(directions),)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-14)
        np.testing.assert_array_equal(got, qsmcheck.remaining_decrease(chi, field, mask, **kw))
    assert shared[0].max() > shared[1].max()


def test_remaining_decreases_on_threads_is_the_serial_check(problem):
    """Dipole fields and candidates side by side on threads: the serial loop's values, bit for bit,
    and the same error for a candidate that does not lower the objective."""
    field, mask = problem
    kw = dict(lam=0.02, voxel_size=(1.0, 1.0, 1.5))
    chis = [qsm.tikhonov_cg(field, mask, tol=tol, masked_output=False, **kw)[0] for tol in (1e-2, 1e-4, 1e-6)]
    serial = qsmcheck.remaining_decreases(chis, field, mask, workers=1, **kw)
    threaded = qsmcheck.remaining_decreases(chis, field, mask, workers=3, **kw)
    for s, t in zip(serial, threaded):
        np.testing.assert_array_equal(s, t)
    with pytest.raises(ValueError, match="does not lower"):
        qsmcheck.remaining_decreases(chis + [np.zeros_like(chis[0])], field, mask, workers=2, **kw)
    with pytest.raises(ValueError, match="workers"):
        qsmcheck.remaining_decreases(chis, field, mask, workers=0, **kw)
