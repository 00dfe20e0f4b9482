"""Tests for qmrigenes.qsm (dipole model, inversions, SHARP)."""
import time

import numpy as np
import pandas as pd
import pytest

from qmrigenes import qsm
from toys import SHAPE, _blob_phantom


def test_dipole_kernel_values():
    d = qsm.dipole_kernel(SHAPE, real=False)
    assert d[0, 0, 0] == 0
    assert d.max() == pytest.approx(1 / 3)
    assert d.min() == pytest.approx(-2 / 3)
    # kernel along b0 (k parallel to z) is -2/3, perpendicular +1/3
    assert d[0, 0, 1] == pytest.approx(-2 / 3) and d[1, 0, 0] == pytest.approx(1 / 3)


def test_forward_and_adjoint_are_adjoint(rng):
    fwd, adj = qsm.dipole_operator(SHAPE, b0_dir=(0.2, 0.1, 1.0))
    x, y = rng.normal(size=SHAPE), rng.normal(size=SHAPE)
    assert np.vdot(fwd(x), y) == pytest.approx(np.vdot(x, adj(y)), rel=1e-10)


def test_gradient_divergence_adjoint(rng):
    x, g = rng.normal(size=SHAPE), rng.normal(size=(3,) + SHAPE)
    assert np.vdot(qsm.gradient(x), g) == pytest.approx(-np.vdot(x, qsm.divergence(g)), rel=1e-10)


def test_forward_field_of_sphere_is_zero_outside_in_the_equator_plane_sign():
    chi = qsm.sphere_source((48, 48, 48), center=(24, 24, 24), radius_mm=10, chi=1.0)
    f = qsm.forward_field(chi, pad=16)
    # outside a sphere the field is a dipole: positive along b0, negative at the equator
    assert f[24, 24, 24 + 10] > 0 and f[24 + 10, 24, 24] < 0
    assert abs(f[24, 24, 24]) < 0.02          # inside a uniform sphere the (Lorentz-corrected) field is ~0


def test_tkd_inverts_forward_without_noise_outside_cone():
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    chi_hat = qsm.tkd(f, threshold=1e-6)      # tiny threshold = exact division where D != 0
    # the inversion is exact up to the k-space components where D = 0 (mean, cone surface)
    d = qsm.dipole_kernel(SHAPE)
    spec = np.fft.rfftn(chi - chi_hat)
    assert np.abs(spec[np.abs(d) > 1e-3]).max() < 1e-8


def test_tkd_underestimates_and_regularised_solvers_are_consistent(rng):
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    chi_tkd = qsm.tkd(f, threshold=0.2, mask=mask)
    roi = chi > 0.06
    assert chi_tkd[roi].mean() < chi[roi].mean()
    # with a full mask the CG solution equals the closed form
    full = np.ones(SHAPE, bool)
    cg, info = qsm.tikhonov_cg(f, full, lam=1e-2, max_iter=300, tol=1e-8)
    closed = qsm.tikhonov_kspace(f, lam=1e-2)
    assert info["converged"]
    assert np.abs(cg - closed).max() < 1e-8 * np.abs(closed).max() * 10
    # and reproduces the data (D chi ~ f) far better than zero
    resid = qsm.forward_field(cg) - f
    assert np.linalg.norm(resid) < 0.2 * np.linalg.norm(f)


def test_tkd_threshold_sweep_trades_recovery_for_noise(rng):
    from toys import _labelled_blob

    chi, labels = _labelled_blob()
    mask = labels > 0
    field = qsm.add_field_noise(qsm.forward_field(chi), 0.002, rng=rng, mask=mask)
    roi, wm, ref = labels == 6, labels == 3, labels == 1
    sweep = qsm.tkd_threshold_sweep(field, mask, [0.05, 0.2, 0.5], truth=chi, roi=roi, uniform=wm, reference=ref)
    tab = sweep["table"]
    assert list(tab.index) == [0.05, 0.2, 0.5]
    assert sweep["recons"].shape == (3,) + chi.shape
    # larger t: less of the ROI's chi recovered (the threshold scales down the cone) ...
    assert tab["recovery_pct"].is_monotonic_decreasing and tab["recovery_pct"].iloc[-1] < 90
    # ... and less noise amplified in the uniform region
    assert tab["artefact_sd_ppb"].iloc[-1] < tab["artefact_sd_ppb"].iloc[0]
    # each row is the referenced tkd map, measured by hand
    one = qsm.reference_to(qsm.tkd(field, threshold=0.2, mask=mask), ref)
    truth = qsm.reference_to(chi, ref)
    assert tab.loc[0.2, "recovery_pct"] == pytest.approx(100 * one[roi].mean() / truth[roi].mean())
    assert tab.loc[0.2, "rmse_ppb"] == pytest.approx(1000 * np.sqrt(np.mean((one - truth)[mask] ** 2)))
    with pytest.raises(ValueError, match="thresholds"):
        qsm.tkd_threshold_sweep(field, mask, [0.2, 0.1], truth=chi, roi=roi, uniform=wm, reference=ref)
    with pytest.raises(ValueError, match="roi"):
        qsm.tkd_threshold_sweep(field, mask, [0.1, 0.2], truth=chi, roi=labels == 9, uniform=wm, reference=ref)
    # the thresholds side by side on threads: the same table and maps, bit for bit
    serial = qsm.tkd_threshold_sweep(field, mask, [0.05, 0.2, 0.5], truth=chi, roi=roi, uniform=wm,
                                     reference=ref, workers=1)
    pd.testing.assert_frame_equal(serial["table"], tab, check_exact=True)
    assert np.array_equal(serial["recons"], sweep["recons"]) and np.array_equal(serial["truth"], sweep["truth"])
    with pytest.raises(ValueError, match="workers"):
        qsm.tkd_threshold_sweep(field, mask, [0.1, 0.2], truth=chi, roi=roi, uniform=wm, reference=ref, workers=0)
    # one spectrum of the masked field serves every threshold: each map is tkd()'s, bit for bit
    for i, t in enumerate([0.05, 0.2, 0.5]):
        plain = qsm.tkd(field, threshold=t, mask=mask)
        assert np.array_equal(sweep["recons"][i], np.where(mask, qsm.reference_to(plain, ref), 0.0))
    with pytest.raises(ValueError, match="thresholds"):
        qsm.tkd_threshold_sweep(field, mask, [0.2, 0.9], truth=chi, roi=roi, uniform=wm, reference=ref)


def test_sharp_removes_external_field():
    chi, mask = _blob_phantom()
    ext = qsm.sphere_source(SHAPE, center=(12, 10, 1), radius_mm=4, chi=5.0)
    ext[mask] = 0
    local = qsm.forward_field(chi)
    total = qsm.forward_field(chi + ext)
    est, eroded = qsm.sharp(total, mask, radius_mm=6, threshold=0.05)
    assert eroded.sum() > 0 and not np.any(eroded & ~mask)
    err_before = np.sqrt(np.mean((total - local)[eroded] ** 2))
    err_after = np.sqrt(np.mean((est - local)[eroded] ** 2))
    assert err_after < 0.35 * err_before


def test_roi_means_and_reference(rng):
    labels = np.zeros(SHAPE, int)
    labels[:12] = 1
    labels[12:] = 2
    vol = labels * 1.0
    tab = qsm.roi_means({"v": vol}, labels, {1: "a", 2: "b"})
    assert tab.loc["b", "v"] == 2 and tab.loc["a", "n_voxels"] == labels[:12].size
    ref = qsm.reference_to(vol, labels == 1)
    assert ref[labels == 1].mean() == 0


def test_invalid_inputs():
    with pytest.raises(ValueError, match="3D"):
        qsm.dipole_kernel((4, 4))
    with pytest.raises(ValueError, match="b0_dir"):
        qsm.dipole_kernel(SHAPE, b0_dir=(0, 0, 0))
    with pytest.raises(ValueError, match="threshold"):
        qsm.tkd(np.zeros(SHAPE), threshold=0)
    with pytest.raises(ValueError, match="mismatched shapes"):
        qsm.tkd(np.zeros(SHAPE), mask=np.ones((3, 3, 3), bool))
    with pytest.raises(ValueError, match="lam"):
        qsm.tikhonov_cg(np.zeros(SHAPE), np.ones(SHAPE, bool), lam=0)
    with pytest.raises(ValueError, match="empty"):
        qsm.reference_to(np.zeros(SHAPE), np.zeros(SHAPE, bool))




@pytest.mark.parametrize("precondition", [True, False])
def test_tikhonov_cg_meets_its_optimality_condition_with_a_mask(rng, precondition):
    chi, mask = _blob_phantom()
    f = qsm.add_field_noise(qsm.forward_field(chi), 1e-3, rng=rng, mask=mask)
    full, info = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-7, precondition=precondition,
                                 masked_output=False)
    assert info["converged"] and info["residual"] <= 1e-7
    # the gradient of the stated objective vanishes at the returned minimiser ...
    assert qsm.tikhonov_optimality(full, f, mask, lam=1e-2) <= 1.01e-7
    # ... and not at a perturbed point; the masked output is the same solution
    bump = np.where(mask, 1e-3 * rng.normal(size=SHAPE), 0)
    assert qsm.tikhonov_optimality(full + bump, f, mask, lam=1e-2) > 1e-3
    masked, _ = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-7, precondition=precondition)
    assert np.array_equal(masked, np.where(mask, full, 0))


def test_early_stopped_solution_is_not_the_minimiser(rng):
    chi, mask = _blob_phantom()
    f = qsm.add_field_noise(qsm.forward_field(chi), 1e-3, rng=rng, mask=mask)
    early, info_e = qsm.tikhonov_early_stopped(f, mask, lam=1e-2, tol=1e-2)
    conv, info_c = qsm.tikhonov_cg(f, mask, lam=1e-2)
    assert info_e["residual"] > 100 * info_c["residual"]
    assert info_c["residual"] <= 1e-6
    assert np.abs(early - conv).max() > 1e-4


def test_tikhonov_cg_preconditioner_saves_iterations(rng):
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    _, with_p = qsm.tikhonov_cg(f, mask, lam=1e-2, precondition=True)
    _, without = qsm.tikhonov_cg(f, mask, lam=1e-2, precondition=False)
    assert with_p["converged"] and without["converged"]
    assert with_p["n_iter"] < without["n_iter"]


def test_nan_in_field_is_refused_not_spread():
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    f[3, 3, 3] = np.nan
    for call in (lambda: qsm.tkd(f, mask=mask), lambda: qsm.tikhonov_cg(f, mask),
                 lambda: qsm.tikhonov_kspace(f)):
        with pytest.raises(ValueError, match="field"):
            call()


@pytest.mark.parametrize("shape", [(6, 5, 8), (6, 5, 7)])
def test_half_spectrum_weights_give_parseval(rng, shape):
    import scipy.fft as sfft
    x, y = rng.normal(size=shape), rng.normal(size=shape)
    w = qsm._half_spectrum_weights(shape)
    fx, fy = sfft.rfftn(x), sfft.rfftn(y)
    assert np.sum(w * (fx * np.conj(fy)).real) == pytest.approx(np.sum(x * y), rel=1e-12)


@pytest.mark.parametrize("method", ["schur", "kspace"])
def test_tikhonov_cg_precisions_and_warm_start_reach_the_same_minimiser(rng, method):
    chi, mask = _blob_phantom()
    f = np.where(mask, qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE), 0)
    kw = dict(lam=1e-2, tol=1e-6, masked_output=False, method=method)
    double, info_d = qsm.tikhonov_cg(f, mask, precision="double", **kw)
    mixed, info_m = qsm.tikhonov_cg(f, mask, precision="mixed", **kw)
    assert info_d["converged"] and info_m["converged"]
    assert info_d["method"] == info_m["method"] == method
    if method == "kspace":
        assert abs(info_m["n_iter"] - info_d["n_iter"]) <= 2      # same iteration, rounding apart
    scale = np.abs(double[mask]).max()
    assert np.abs(mixed - double)[mask].max() < 1e-3 * scale
    # warm start at the solution of a nearby lambda: same minimiser, less work
    near, _ = qsm.tikhonov_cg(f, mask, **{**kw, "lam": 2e-2})
    warm, info_w = qsm.tikhonov_cg(f, mask, x0=near, **kw)
    assert info_w["converged"] and info_w["n_iter"] < info_d["n_iter"]
    assert np.abs(warm - double)[mask].max() < 1e-3 * scale
    assert qsm.tikhonov_optimality(warm, f, mask, lam=1e-2) <= 1e-6
    with pytest.raises(ValueError, match="precision"):
        qsm.tikhonov_cg(f, mask, precision="half")
    with pytest.raises(ValueError, match="x0"):
        qsm.tikhonov_cg(f, mask, x0=np.zeros((3, 3, 3)))


@pytest.mark.parametrize("lam", [1e-3, 1e-2])
def test_schur_solve_is_the_same_minimiser_as_cg_on_the_normal_equations(rng, lam):
    chi, mask = _blob_phantom()
    f = np.where(mask, qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE), 0)
    schur, info_s = qsm.tikhonov_cg(f, mask, lam=lam, tol=1e-9, method="schur", masked_output=False)
    plain, info_k = qsm.tikhonov_cg(f, mask, lam=lam, tol=1e-9, method="kspace", masked_output=False)
    assert info_s["converged"] and info_k["converged"] and info_s["method"] == "schur"
    # optimal for the stated objective, checked with the independent operator of tikhonov_optimality
    assert qsm.tikhonov_optimality(schur, f, mask, lam=lam) <= 1.01e-9
    assert np.abs(schur - plain).max() < 1e-5 * np.abs(plain).max()
    assert abs(schur.mean()) < 1e-12 * np.abs(schur).max()        # the zero-mean minimiser, like kspace
    assert info_s["objective"] == pytest.approx(info_k["objective"], rel=1e-10)
    assert info_s["n_iter"] < info_k["n_iter"]                      # the point of the elimination
    # unpreconditioned Schur CG: the same answer, more work
    bare, info_b = qsm.tikhonov_cg(f, mask, lam=lam, tol=1e-9, method="schur", precondition=False,
                                   masked_output=False)
    assert info_b["converged"] and info_b["n_iter"] > info_s["n_iter"]
    assert np.abs(bare - plain).max() < 1e-5 * np.abs(plain).max()


@pytest.mark.parametrize("lam", [1e-3, 1e-2])
def test_schur_preconditioner_power_changes_the_work_not_the_minimiser(rng, lam, monkeypatch):
    """O K^-0.8 O (the default) and O K^-1 O reach the same minimiser under the same stopping rule."""
    chi, mask = _blob_phantom()
    f = np.where(mask, qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE), 0)
    assert qsm._SCHUR_POWER == 0.8
    damped, info_d = qsm.tikhonov_cg(f, mask, lam=lam, tol=1e-9, masked_output=False)
    monkeypatch.setattr(qsm, "_SCHUR_POWER", 1.0)
    exact, info_e = qsm.tikhonov_cg(f, mask, lam=lam, tol=1e-9, masked_output=False)
    assert info_d["converged"] and info_e["converged"]
    # the gradient of the objective vanishes at both (independent operator), and they agree
    assert qsm.tikhonov_optimality(damped, f, mask, lam=lam) <= 1.01e-9
    assert qsm.tikhonov_optimality(exact, f, mask, lam=lam) <= 1.01e-9
    assert np.abs(damped - exact).max() < 1e-5 * np.abs(exact).max()
    assert info_d["objective"] == pytest.approx(info_e["objective"], rel=1e-10)
    assert info_d["n_iter"] != info_e["n_iter"]                   # a different Krylov sequence, really


def test_schur_solve_with_a_full_mask_is_the_closed_form(rng):
    chi, _ = _blob_phantom()
    full = np.ones(SHAPE, bool)
    f = qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE)
    est, info = qsm.tikhonov_cg(f, full, lam=1e-2, method="schur")
    assert info["n_iter"] == 0 and info["converged"]              # nothing outside the mask to solve for
    assert np.allclose(est, qsm.tikhonov_kspace(f, lam=1e-2), atol=1e-12)


def test_schur_method_refuses_a_weighted_data_term():
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi) * mask
    with pytest.raises(ValueError, match="method"):
        qsm.tikhonov_cg(f, mask, weight=np.ones(SHAPE), method="schur")
    with pytest.raises(ValueError, match="method"):
        qsm.tikhonov_cg(f, mask, method="multigrid")
    _, info = qsm.tikhonov_cg(f, mask, weight=np.ones(SHAPE))
    assert info["method"] == "kspace"


def test_snapshots_are_the_solutions_of_looser_stopping_rules(rng):
    chi, mask = _blob_phantom()
    f = np.where(mask, qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE), 0)
    tight, info = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, snapshots=(1e-4, 1e-6), masked_output=False)
    assert set(info["snapshots"]) == {1e-4, 1e-6}
    n_prev = 0
    for t in (1e-4, 1e-6):
        alone, info_alone = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=t, masked_output=False)
        snap, info_snap = info["snapshots"][t]
        assert info_snap["n_iter"] == info_alone["n_iter"] and n_prev <= info_snap["n_iter"] < info["n_iter"]
        assert np.array_equal(snap, alone)                        # the same iterate, bit for bit
        assert info_snap["residual"] == info_alone["residual"] and info_snap["converged"]
        n_prev = info_snap["n_iter"]
    with pytest.raises(ValueError, match="snapshots"):
        qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-6, snapshots=(1e-4,), precision="mixed")
    with pytest.raises(ValueError, match="snapshots"):
        qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-6, snapshots=(1e-7,))


def test_resumed_solve_is_the_fresh_tight_solve_bit_for_bit(rng):
    chi, mask = _blob_phantom()
    f = np.where(mask, qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE), 0)
    fresh, info_fresh = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, masked_output=False)
    loose, info_loose = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-5, masked_output=False, snapshots=(1e-4,),
                                        resumable=True)
    assert "_cg_state" not in info_fresh                          # only kept when asked for
    assert 0 < info_loose["n_iter"] < info_fresh["n_iter"]
    for _ in range(2):                                            # the loose call's state stays reusable
        tight, info_tight = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, masked_output=False,
                                            resume=info_loose, snapshots=(1e-6,))
        assert np.array_equal(tight, fresh)
        assert info_tight["n_iter"] == info_fresh["n_iter"] and info_tight["residual"] == info_fresh["residual"]
        assert info_tight["objective"] == info_fresh["objective"] and info_tight["converged"]
        snap, info_snap = info_tight["snapshots"][1e-6]
        alone, info_alone = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-6, masked_output=False)
        assert np.array_equal(snap, alone) and info_snap["n_iter"] == info_alone["n_iter"]
    # resuming twice in steps (1e-5 -> 1e-6 -> 1e-8) is the same solve again, also from x0 and capped
    mid, info_mid = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-6, masked_output=False, resume=info_loose,
                                    resumable=True)
    assert np.array_equal(mid, alone) and info_mid["residual"] == info_alone["residual"]
    again, info_again = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, masked_output=False, resume=info_mid)
    assert np.array_equal(again, fresh) and info_again["n_iter"] == info_fresh["n_iter"]
    capped, info_capped = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, max_iter=3, resumable=True)
    more, info_more = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, max_iter=6, resume=info_capped)
    fresh6, info6 = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-8, max_iter=6)
    assert np.array_equal(more, fresh6) and info_more["n_iter"] == 6 and info_more["residual"] == info6["residual"]
    assert repr(info_loose["_cg_state"]).startswith("<CG state after")  # short, not a dump of arrays


def test_resume_refuses_another_problem_or_a_looser_rule(rng):
    chi, mask = _blob_phantom()
    f = np.where(mask, qsm.forward_field(chi) + rng.normal(0, 1e-3, SHAPE), 0)
    _, info = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-5, resumable=True)
    for kwargs in ({"lam": 2e-2}, {"tol": 1e-4}, {"x0": np.zeros(SHAPE)}, {"precision": "mixed"},
                   {"voxel_size": (1.0, 1.0, 1.0)}, {"snapshots": (1e-4,)}, {"precondition": False}):
        with pytest.raises(ValueError, match="resume|snapshots"):
            qsm.tikhonov_cg(f, mask, **{"lam": 1e-2, "tol": 1e-6, **kwargs}, resume=info)
    with pytest.raises(ValueError, match="resume"):
        qsm.tikhonov_cg(f * 2, mask, lam=1e-2, tol=1e-6, resume=info)
    _, plain_info = qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-5)
    with pytest.raises(ValueError, match="resumable=True"):
        qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-6, resume=plain_info)
    for kwargs in ({"method": "kspace"}, {"precision": "mixed"}):
        with pytest.raises(ValueError, match="resumable"):
            qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-5, resumable=True, **kwargs)


def test_tikhonov_cg_many_is_the_serial_loop_bit_for_bit(rng):
    chi, mask = _blob_phantom()
    clean = qsm.forward_field(chi)
    noisy = qsm.add_field_noise(clean, 1e-3, rng=rng, mask=mask)
    # one BLAS thread, as tikhonov_cg_many runs them (a threaded BLAS dot product rounds otherwise)
    with qsm._blas_single_thread():
        serial = [qsm.tikhonov_cg(f, mask, lam=1e-2, tol=1e-7) for f in (noisy, clean)]
    for workers in (1, 2, None):
        many = qsm.tikhonov_cg_many((noisy, clean), mask, lam=1e-2, tol=1e-7, workers=workers)
        assert len(many) == 2
        for (a, ia), (b, ib) in zip(many, serial):
            assert np.array_equal(a, b) and ia == ib
    # one field at several lam (a sweep), and one lam per field
    sweep = qsm.tikhonov_cg_many(noisy, mask, lam=[1e-3, 1e-1], workers=2)
    assert [i["lam"] for _, i in sweep] == [1e-3, 1e-1]
    assert np.array_equal(sweep[0][0], qsm.tikhonov_cg(noisy, mask, lam=1e-3)[0])
    paired = qsm.tikhonov_cg_many([noisy, clean], mask, lam=np.array([1e-1, 1e-2]), tol=1e-7)
    assert np.array_equal(paired[1][0], serial[1][0])
    assert not np.array_equal(paired[0][0], serial[0][0])          # lam = 0.1, not 0.01


def test_solvers_give_the_same_bits_whatever_the_blas_threads(rng):
    # their dot products and norms run on one BLAS thread: on several, BLAS sums in another order
    # (a plain call then differed in info's last bits from the same call inside tikhonov_cg_many)
    threadpoolctl = pytest.importorskip("threadpoolctl")
    chi, mask = _blob_phantom()
    noisy = qsm.add_field_noise(qsm.forward_field(chi), 1e-3, rng=rng, mask=mask)
    runs = []
    for n in (1, 2):
        with threadpoolctl.threadpool_limits(limits=n, user_api="blas"):
            runs.append((qsm.tikhonov_cg(noisy, mask, lam=3e-2, tol=1e-7),
                         qsm.tikhonov_early_stopped(noisy, mask, lam=3e-2, tol=1e-2)))
    for (a, ia), (b, ib) in zip(*runs):
        assert np.array_equal(a, b) and ia == ib


def test_tikhonov_cg_and_early_stopped_are_the_two_calls_bit_for_bit(rng):
    chi, mask = _blob_phantom()
    noisy = qsm.add_field_noise(qsm.forward_field(chi), 1e-3, rng=rng, mask=mask)
    opts = dict(tol=1e-7, masked_output=False, snapshots=[1e-5], voxel_size=(2.0, 2.0, 1.5))
    cg, cg_info = qsm.tikhonov_cg(noisy, mask, lam=3e-2, **opts)
    early, early_info = qsm.tikhonov_early_stopped(noisy, mask, lam=3e-2, tol=1e-2, voxel_size=(2.0, 2.0, 1.5))
    for workers in (1, 2, None):
        (a, ia), (b, ib) = qsm.tikhonov_cg_and_early_stopped(noisy, mask, lam=3e-2, early=dict(tol=1e-2),
                                                             workers=workers, **opts)
        assert np.array_equal(a, cg) and np.array_equal(b, early) and ib == early_info
        assert ia.keys() == cg_info.keys() and np.array_equal(ia["snapshots"][1e-5][0], cg_info["snapshots"][1e-5][0])
        assert {k: v for k, v in ia.items() if k != "snapshots"} == {k: v for k, v in cg_info.items()
                                                                     if k != "snapshots"}
    # the early-stopped options reach it (another tol: another result), the shared geometry too
    (_, _), (c, ic) = qsm.tikhonov_cg_and_early_stopped(noisy, mask, lam=3e-2, early=dict(tol=1e-1), **opts)
    assert ic["n_iter"] < early_info["n_iter"] and not np.array_equal(c, early)
    with pytest.raises(ValueError, match="early repeats"):
        qsm.tikhonov_cg_and_early_stopped(noisy, mask, early=dict(lam=1e-3))
    with pytest.raises(ValueError, match="workers"):
        qsm.tikhonov_cg_and_early_stopped(noisy, mask, workers=0)


def test_fft_workers_are_per_thread_and_restored():
    from qmrigenes._threads import thread_map

    assert qsm._fft_workers() == qsm._WORKERS
    seen = thread_map(lambda n: qsm._on_fft_workers(n, qsm._fft_workers)(), [1, 3], workers=2)
    assert seen == [1, 3] and qsm._fft_workers() == qsm._WORKERS
    inner = qsm._on_fft_workers(1, lambda: (qsm._on_fft_workers(2, qsm._fft_workers)(), qsm._fft_workers()))
    assert inner() == (2, 1) and qsm._fft_workers() == qsm._WORKERS
    with pytest.raises(ZeroDivisionError):
        qsm._on_fft_workers(1, lambda: 1 / 0)()
    assert qsm._fft_workers() == qsm._WORKERS


def test_tikhonov_cg_many_shares_the_cores_fft_threads(monkeypatch):
    import threading

    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    seen = []
    plain = qsm.tikhonov_cg
    started = {"barrier": None}

    def spy(*args, **kwargs):
        seen.append(qsm._fft_workers())
        if started["barrier"] is not None:        # no solve ends (and frees its cores) before
            started["barrier"].wait(timeout=60)    # every solve side by side has read its share
        return plain(*args, **kwargs)

    def many(fields, workers):
        started["barrier"] = threading.Barrier(len(fields)) if workers > 1 and len(fields) > 1 else None
        qsm.tikhonov_cg_many(fields, mask, workers=workers)

    monkeypatch.setattr(qsm, "tikhonov_cg", spy)
    monkeypatch.setattr(qsm, "n_workers", lambda w, name="workers": 4 if w is None else w)   # 4 cores
    many([f, f], 2)
    many([f, f, f], 3)
    many([f, f, f], 1)
    many([f], 2)
    assert seen == [2, 2, 1, 1, 1] + [qsm._WORKERS] * 4 and qsm._fft_workers() == qsm._WORKERS


def test_the_cores_of_finished_solves_go_to_those_still_running(monkeypatch):
    share = qsm._CoreShare(4, 2, 3)              # 4 cores, 2 threads, 3 problems
    assert share.workers() == 2
    share.finished()
    assert share.workers() == 2                  # two still running
    share.finished()
    assert share.workers() == 4                  # the last one alone gets every core
    share.finished()
    assert share.workers() == 4
    assert qsm._CoreShare(2, 3, 3).workers() == 1    # never fewer than one
    # in tikhonov_cg_many: the longer solve, once the shorter has finished, transforms on every core
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    plain, seen = qsm.tikhonov_cg, {}

    def spy(field, mask, *, lam, **kwargs):
        seen[lam] = [qsm._fft_workers()]
        out = plain(field, mask, lam=lam, **kwargs)
        if lam == 1e-3:                          # wait until the other solve has handed back its core
            deadline = time.monotonic() + 30
            while qsm._fft_workers() != 4 and time.monotonic() < deadline:
                time.sleep(0.01)
        seen[lam].append(qsm._fft_workers())
        return out

    monkeypatch.setattr(qsm, "tikhonov_cg", spy)
    monkeypatch.setattr(qsm, "n_workers", lambda w, name="workers": 4 if w is None else w)   # 4 cores
    qsm.tikhonov_cg_many(f, mask, lam=[1e-3, 1e-1], workers=2)
    assert seen[1e-3] == [2, 4] and seen[1e-1][0] == 2


def test_elementwise_passes_in_parts_give_the_same_bits(rng):
    a = rng.standard_normal((70, 40, 30))
    b = rng.standard_normal((70, 40, 30))
    plain = a * b
    for threads in (1, 2, 3, 7):
        out = np.empty_like(a)
        qsm._on_fft_workers(threads, lambda: qsm._in_parts(np.multiply, a, b, out))()
        assert np.array_equal(out, plain)
    # a solve large enough to be split (the threshold): the same iterates on 1, 2 and 3 threads
    shape = (48, 48, 40)
    chi = qsm.sphere_source(shape, center=(24, 20, 20), radius_mm=10, chi=0.1, voxel_size=(2, 2, 2))
    mask = qsm.sphere_source(shape, center=(24, 24, 20), radius_mm=34, chi=1.0, voxel_size=(2, 2, 2)) > 0
    field = qsm.add_field_noise(qsm.forward_field(chi, pad=8) * mask, 1e-3, rng=rng, mask=mask)
    assert field.size >= qsm._PARTS_MIN
    with qsm._blas_single_thread():
        one = qsm._on_fft_workers(1, lambda: qsm.tikhonov_cg(field, mask, lam=1e-2, tol=1e-7))()
        for threads in (2, 3):
            got = qsm._on_fft_workers(threads, lambda: qsm.tikhonov_cg(field, mask, lam=1e-2, tol=1e-7))()
            assert np.array_equal(got[0], one[0]) and got[1] == one[1]
    assert one[1]["n_iter"] > 5
    # an error in any part reaches the caller
    rows = np.broadcast_to(np.arange(300.0)[:, None, None], (300, 16, 16)).copy()

    def fails_on_a_helper_thread(x):          # every part but the first (row 0) fails
        if x[0, 0, 0] != 0:
            raise FloatingPointError("part failed")
    with pytest.raises(FloatingPointError, match="part failed"):
        qsm._on_fft_workers(2, lambda: qsm._in_parts(fails_on_a_helper_thread, rows))()


def test_the_converged_solve_takes_the_early_stopped_ones_core_when_it_ends(monkeypatch):
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    plain_cg, plain_es, seen = qsm.tikhonov_cg, qsm.tikhonov_early_stopped, {}

    def cg(*args, **kwargs):
        seen["cg"] = [qsm._fft_workers()]
        deadline = time.monotonic() + 30
        while qsm._fft_workers() != 4 and time.monotonic() < deadline:   # until the other ends
            time.sleep(0.01)
        seen["cg"].append(qsm._fft_workers())
        return plain_cg(*args, **kwargs)

    def es(*args, **kwargs):
        seen["es"] = qsm._fft_workers()
        return plain_es(*args, **kwargs)

    monkeypatch.setattr(qsm, "tikhonov_cg", cg)
    monkeypatch.setattr(qsm, "tikhonov_early_stopped", es)
    monkeypatch.setattr(qsm, "n_workers", lambda w, name="workers": 4 if w is None else w)   # 4 cores
    qsm.tikhonov_cg_and_early_stopped(f, mask, lam=1e-2, workers=2)
    assert seen == {"cg": [2, 4], "es": 1} and qsm._fft_workers() == qsm._WORKERS


def test_tikhonov_cg_many_returns_each_solves_seconds():
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    for workers in (1, 2):
        results, seconds = qsm.tikhonov_cg_many(f, mask, lam=[1e-3, 1e-1], workers=workers,
                                                return_seconds=True)
        plain = qsm.tikhonov_cg_many(f, mask, lam=[1e-3, 1e-1], workers=workers)
        assert len(seconds) == 2 and all(0 < s < 60 for s in seconds)
        assert all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(results, plain))


def test_tikhonov_cg_many_verbose_prints_one_line_per_solve_as_it_ends(capsys):
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    lams = [1e-3, 1e-1]
    quiet = qsm.tikhonov_cg_many(f, mask, lam=lams, workers=2)
    assert capsys.readouterr().out == ""                      # silent by default
    for workers in (1, 2):
        loud = qsm.tikhonov_cg_many(f, mask, lam=lams, workers=workers, verbose=True)
        lines = capsys.readouterr().out.splitlines()
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(loud, quiet))   # printing changes nothing
        assert len(lines) == 2
        # each solve's own lam, iteration count and residual; the count of ended solves in order
        by_lam = {float(line.split("lam=")[1].split(":")[0]): line for line in lines}
        assert sorted(by_lam) == lams
        for _, info in quiet:
            line = by_lam[info["lam"]]
            assert f": {info['n_iter']} iterations, residual {info['residual']:.1e}, " in line
        assert [line.rsplit("(", 1)[1] for line in lines] == ["1 of 2 solves ended)", "2 of 2 solves ended)"]
    with pytest.raises(TypeError, match="verbose"):
        qsm.tikhonov_cg_many(f, mask, lam=lams, verbose="yes")


def test_tikhonov_cg_many_leaves_blas_threads_as_they_were():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    chi, mask = _blob_phantom()
    before = [m["num_threads"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "blas"]
    qsm.tikhonov_cg_many([qsm.forward_field(chi)] * 3, mask, workers=3)
    after = [m["num_threads"] for m in threadpoolctl.threadpool_info() if m["user_api"] == "blas"]
    assert after == before


def test_tikhonov_cg_many_refuses_unmatched_problems():
    chi, mask = _blob_phantom()
    f = qsm.forward_field(chi)
    with pytest.raises(ValueError, match="lam gives 3 weights for 2 fields"):
        qsm.tikhonov_cg_many([f, f], mask, lam=[1e-3, 1e-2, 1e-1])
    with pytest.raises(ValueError, match="at least one problem"):
        qsm.tikhonov_cg_many([], mask)
    with pytest.raises(ValueError, match="workers"):
        qsm.tikhonov_cg_many([f], mask, workers=0)
    with pytest.raises(ValueError, match="lam"):                  # tikhonov_cg's own checks still apply
        qsm.tikhonov_cg_many([f], mask, lam=0)


def test_dipole_kernel_cache_is_safe_on_threads():
    from qmrigenes._threads import thread_map

    shapes = [(8 + i % 6, 8, 8) for i in range(48)]          # more grids than the cache keeps, at once
    kernels = thread_map(lambda s: qsm.dipole_kernel(s), shapes, workers=6)
    for s, d in zip(shapes, kernels):
        assert d.shape == (s[0], s[1], s[2] // 2 + 1) and d.flags.writeable
        assert np.array_equal(d, qsm.dipole_kernel(s))


def test_gradient_symbol_is_computed_once_per_grid_and_read_only():
    """The solvers' |G(k)|^2 comes from a per-grid cache: the same read-only array, equal to the formula."""
    from qmrigenes.qsm import _gradient_symbol, _kgrid

    shape, vs = (10, 12, 9), (2.0, 1.5, 1.0)
    first = _gradient_symbol(shape, vs)
    assert _gradient_symbol(shape, list(vs)) is first and not first.flags.writeable
    kx, ky, kz = _kgrid(shape, vs)
    plain = sum((2 - 2 * np.cos(2 * np.pi * k * v)) / v ** 2 for k, v in zip((kx, ky, kz), vs))
    assert np.array_equal(first, plain)
    assert not np.array_equal(_gradient_symbol(shape, (2.0, 2.0, 2.0)), first)
