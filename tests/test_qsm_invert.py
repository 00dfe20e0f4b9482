"""Closed-form Tikhonov, TV by ADMM and the L-curve rule on small synthetic grids."""
from __future__ import annotations

import numpy as np
import pytest

from qmrigenes import qsm
from qmrigenes import qsm_invert as qi
from qmrigenes import qsm_metrics as qm

VS = (1.0, 1.0, 1.2)


def _phantom(rng, n=20):
    chi = np.zeros((n, n, n))
    chi[5:11, 6:12, 5:10] = 0.1
    chi[12:16, 4:8, 11:15] = -0.05
    field = qsm.forward_field(chi, voxel_size=VS)
    return chi, field + rng.normal(0, 0.002, field.shape)


def test_closed_form_minimises_its_objective(rng):
    _, field = _phantom(rng)
    lam = 3e-3
    for reg in ("gradient", "identity"):
        chi = qi.tikhonov_closed_form(field, lam=lam, regulariser=reg, voxel_size=VS, dtype=np.float64)

        def objective(x):
            d = qsm.forward_field(x, voxel_size=VS)
            pen = np.sum(qsm.gradient(x, voxel_size=VS) ** 2) if reg == "gradient" else np.sum(x ** 2)
            return np.sum((d - field) ** 2) + lam * pen

        base = objective(chi)
        for _ in range(5):                       # any zero-mean perturbation raises the objective
            dx = rng.normal(0, 1e-3, chi.shape)
            assert objective(chi + dx - dx.mean()) > base
        assert abs(chi.mean()) < 1e-12


def test_closed_form_float32_is_harmless(rng):
    _, field = _phantom(rng)
    a = qi.tikhonov_closed_form(field, lam=1e-2, voxel_size=VS, dtype=np.float64)
    b = qi.tikhonov_closed_form(field, lam=1e-2, voxel_size=VS, dtype=np.float32)
    assert b.dtype == np.float32
    assert np.linalg.norm(a - b) / np.linalg.norm(a) < 1e-5


def test_closed_form_equals_masked_cg_with_full_mask(rng):
    """With a mask of ones, qsm.tikhonov_cg's objective is the closed form's (halved)."""
    _, field = _phantom(rng)
    lam = 1e-2
    closed = qi.tikhonov_closed_form(field, lam=lam, voxel_size=VS, dtype=np.float64)
    cg, info = qsm.tikhonov_cg(field, np.ones(field.shape, bool), lam=lam, tol=1e-10, voxel_size=VS)
    assert info["converged"]
    assert np.abs(cg - closed).max() < 1e-8 * np.abs(closed).max() + 1e-12


def test_gradient_symbol_matches_finite_differences(rng):
    x = rng.normal(size=(6, 8, 10))
    g = qsm.gradient(x, voxel_size=VS)
    energy = np.sum(g ** 2)
    spec = np.fft.rfftn(x)
    sym = qi.gradient_symbol(x.shape, voxel_size=VS)
    weights = np.full(spec.shape, 2.0)
    weights[..., 0] = 1
    if x.shape[2] % 2 == 0:
        weights[..., -1] = 1
    assert np.sum(weights * sym * np.abs(spec) ** 2) / x.size == pytest.approx(energy, rel=1e-10)


def test_tv_admm_reaches_its_optimum(rng):
    chi_true, field = _phantom(rng)
    mask = np.zeros(field.shape, bool)
    mask[2:18, 2:18, 2:18] = True
    lam = 2e-4
    # tol 1e-6 (about 740 iterations) reaches stationarity about 1e-6, a dual excess about 2e-5 and
    # an alignment about 1e-4: well inside the optimality bounds below (tol 1e-7 took 3.4 times as long)
    chi, info = qi.tv_admm(field, mask, lam=lam, max_iter=3000, tol=1e-6, voxel_size=VS,
                           dtype=np.float64, masked_output=False)
    assert info["converged"]
    opt = qi.tv_optimality(chi, info["dual"], field, mask, lam=lam, voxel_size=VS)
    assert opt["stationarity"] < 1e-3           # D M (D chi - f) = div y
    assert opt["dual_excess"] < 1e-3            # |y| <= lam
    assert opt["alignment"] < 0.01              # y = lam grad chi / |grad chi| on edges
    obj = qi.tv_objective(chi, field, mask, lam=lam, voxel_size=VS)
    for _ in range(5):
        assert qi.tv_objective(chi + rng.normal(0, 1e-3, chi.shape), field, mask, lam=lam,
                               voxel_size=VS) > obj
    # and it is a reconstruction: closer to the truth inside the mask than zero is
    err = np.linalg.norm((chi - chi_true)[mask] - (chi - chi_true)[mask].mean())
    assert err < 0.5 * np.linalg.norm(chi_true[mask] - chi_true[mask].mean())


def test_tv_admm_early_iterate_fails_the_check(rng):
    """The optimality check can fail: a few iterations are far from the optimum."""
    _, field = _phantom(rng)
    mask = np.ones(field.shape, bool)
    chi, info = qi.tv_admm(field, mask, lam=2e-4, max_iter=3, tol=1e-12, voxel_size=VS,
                           dtype=np.float64, masked_output=False)
    opt = qi.tv_optimality(chi, info["dual"], field, mask, lam=2e-4, voxel_size=VS)
    assert not info["converged"] and opt["stationarity"] > 1e-2


def test_l_curve_corner_of_a_known_curve():
    t = np.logspace(-3, 3, 41)
    # an L: misfit flat then rising steeply, roughness falling then flat; corner at t = 1
    misfit = 1 + t ** 2
    rough = 1 + 1 / t ** 2
    k = qi.l_curve_corner(misfit, rough, t)
    assert t[k] == pytest.approx(1.0, rel=0.2)
    with pytest.raises(ValueError, match="increasing"):
        qi.l_curve_corner(misfit, rough, t[::-1])


def test_misfit_and_roughness_equal_their_image_space_norms(rng):
    # the gradient roughness is computed from the spectrum (Parseval); it must equal the norm of
    # the periodic forward differences in image space, on even and odd grids, in both precisions
    for shape, vs in (((12, 10, 8), VS), ((9, 11, 7), (1.0, 0.8, 1.3))):
        chi = rng.normal(size=shape)
        field = rng.normal(size=shape)
        mask = rng.random(shape) > 0.3
        misfit, rough = qi.misfit_and_roughness(chi, field, mask, voxel_size=vs)
        assert rough == pytest.approx(float(np.linalg.norm(qi._grad(chi, vs))), rel=1e-12)
        dchi = qsm.forward_field(chi, voxel_size=vs)
        assert misfit == pytest.approx(float(np.linalg.norm((dchi - field)[mask])), rel=1e-12)
        _, rough32 = qi.misfit_and_roughness(chi.astype(np.float32), field, mask, voxel_size=vs)
        assert rough32 == pytest.approx(rough, rel=1e-5)
        _, tv = qi.misfit_and_roughness(chi, field, mask, voxel_size=vs, regulariser="tv")
        assert tv == pytest.approx(float(np.sum(np.sqrt(np.sum(qi._grad(chi, vs) ** 2, axis=0)))), rel=1e-12)


def test_l_curve_on_tikhonov(rng):
    _, field = _phantom(rng)
    lams = np.logspace(-5, 1, 13)
    out = qi.l_curve(lambda lam: qi.tikhonov_closed_form(field, lam=lam, voxel_size=VS, dtype=np.float64),
                     field, None, lams, voxel_size=VS, score=lambda chi: {"norm": float(np.linalg.norm(chi))},
                     keep=lambda chi: chi[10])
    tab = out["table"]
    assert np.all(np.diff(tab["misfit"]) >= -1e-12)     # more regularisation, more misfit
    assert np.all(np.diff(tab["roughness"]) <= 1e-12)   # and less roughness
    assert 0 < out["corner"] < len(lams) - 1 and out["best"] == lams[out["corner"]]
    assert list(tab.columns) == ["seconds", "misfit", "roughness", "norm"] and out["kept"][0].shape == (20, 20)


def test_l_curve_on_threads_equals_the_serial_loop(rng):
    """workers=2 evaluates maps on a pool while the next are reconstructed, in order on the calling
    thread: a warm-started recon (stateful, order-dependent) and every number come out identical."""
    chi_true, field = _phantom(rng)
    mask = np.zeros(field.shape, bool)
    mask[2:18, 3:17, 2:18] = True
    lams = np.logspace(-2, -4, 6)                               # decreasing: warm starts down the sweep

    def sweep(workers):
        calls, previous = [], {"chi": None}

        def recon(lam):
            calls.append(lam)
            chi, _ = qi.tv_admm(field, mask, lam=lam, max_iter=4, voxel_size=VS, x0=previous["chi"],
                                masked_output=False, workers=workers)
            previous["chi"] = chi
            return chi
        out = qi.l_curve(recon, field, mask, lams, voxel_size=VS, regulariser="tv", output_mask=mask,
                         score=lambda chi: {"err": float(np.linalg.norm(chi - chi_true))},
                         keep=lambda chi: chi[:, :, 10].copy(), workers=workers)
        return out, calls

    (a, calls_a), (b, calls_b) = sweep(1), sweep(2)
    assert calls_a == calls_b == list(lams)                      # the recon order is the given one
    assert a["table"].drop(columns="seconds").equals(b["table"].drop(columns="seconds"))
    assert a["corner"] == b["corner"] and all(np.array_equal(x, y) for x, y in zip(a["kept"], b["kept"]))
    assert list(a["table"].index) == sorted(lams)
    with pytest.raises(ValueError, match="workers"):
        qi.l_curve(lambda lam: field, field, mask, lams, workers=0)
    with pytest.raises(ValueError, match="strictly"):            # refused before any reconstruction
        qi.l_curve(lambda lam: 1 / 0, field, mask, [1e-3, 1e-2, 1e-3, 1e-1, 1.0], workers=2)


def test_errors_name_the_argument(rng):
    _, field = _phantom(rng)
    with pytest.raises(ValueError, match="lam"):
        qi.tikhonov_closed_form(field, lam=0)
    with pytest.raises(ValueError, match="regulariser"):
        qi.tikhonov_closed_form(field, lam=1, regulariser="laplacian")
    with pytest.raises(TypeError, match="mask"):
        qi.tv_admm(field, None, lam=1e-3)
    with pytest.raises(ValueError, match="mismatched shapes: mask"):
        qi.tv_admm(field, np.ones((3, 3, 3), bool), lam=1e-3)


@pytest.mark.parametrize("method", ["kspace", "schur"])
def test_closed_form_warm_start_of_the_masked_solve(rng, method):
    """The closed form as ``x0`` of qsm.tikhonov_cg: the same minimiser, at most one iteration less.

    kspace: with the field zero outside the mask, the closed form is exactly the preconditioned
    right-hand side, i.e. the direction of CG's first step from zero, so the warm start
    saves that step and (by the optimality of CG over its Krylov space) at most about one more.
    schur: the cold start ``u = 0`` already is the closed form; ``x0`` starts from its outside field.
    """
    _, field = _phantom(rng)
    n = field.shape[0]
    g = np.indices(field.shape) - (n - 1) / 2
    mask = (g ** 2).sum(axis=0) < 8 ** 2                                 # a ball, not the whole grid
    lam = 1e-2
    kw = dict(lam=lam, tol=1e-8, voxel_size=VS, masked_output=False, method=method)
    cold, info_c = qsm.tikhonov_cg(field, mask, **kw)
    x0 = qi.tikhonov_closed_form(field, lam=lam, mask=mask, voxel_size=VS, dtype=np.float64,
                                 masked_output=False)
    warm, info_w = qsm.tikhonov_cg(field, mask, x0=x0, **kw)
    assert info_c["converged"] and info_w["converged"]
    if method == "kspace":
        assert info_c["n_iter"] - 2 <= info_w["n_iter"] < info_c["n_iter"]
        assert np.abs(warm - cold).max() < 1e-8 * np.abs(cold).max()
    else:
        assert info_w["n_iter"] <= info_c["n_iter"] + 1
        assert np.abs(warm - cold).max() < 1e-6 * np.abs(cold).max()
    assert qsm.tikhonov_optimality(warm, field, mask, lam=lam, voxel_size=VS) <= 1e-8
    assert np.abs(x0 - cold)[mask].max() > 1e-3 * np.abs(cold).max()    # x0 itself is not the answer


@pytest.mark.parametrize("planes", [1, 3, 32])
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("isotropic", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tv_admm_iterates_are_the_textbook_updates_bit_for_bit(rng, isotropic, dtype, workers, planes,
                                                                monkeypatch):
    """The blocked loop of tv_admm performs exactly the updates its docstring states, with its two
    splits one after the other or side by side on two threads, whatever the block size (1 plane;
    3, which leaves a shorter last block; one block for the whole grid)."""
    import scipy.fft as sfft
    monkeypatch.setattr(qi, "_SLAB_PLANES", planes)
    chi_true, field = _phantom(rng)
    mask = np.zeros(field.shape, bool)
    mask[2:-2, 3:-3, 2:-2] = True
    lam, n_iter = 2e-4, 6
    got, info = qi.tv_admm(field, mask, lam=lam, max_iter=n_iter, tol=1e-12, voxel_size=VS, dtype=dtype,
                           isotropic=isotropic, masked_output=False, workers=workers)
    # the reference: each update written as one expression, as in the docstring
    dt = np.dtype(dtype)
    mu, nu = 100.0 * lam, 1.0
    f = np.where(mask, field, 0.0).astype(dt)
    d = qsm.dipole_kernel(f.shape, voxel_size=VS).astype(dt)
    den = mu * qi.gradient_symbol(f.shape, voxel_size=VS) + nu * d.astype(np.float64) ** 2
    inv_den = np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0).astype(dt)
    w = mask.astype(dt)
    wf, one = w * f, dt.type(1)
    fft = lambda x: sfft.rfftn(x, workers=-1)
    ifft = lambda x: sfft.irfftn(x, s=f.shape, workers=-1).astype(dt, copy=False)
    chi = np.zeros(f.shape, dt)
    dchi = ifft(fft(chi) * d)
    g = qi._grad(chi, VS).astype(dt)
    s, t, v = np.zeros_like(g), np.zeros(f.shape, dt), dchi.copy()
    thresh, mu_t, nu_t = dt.type(lam / mu), dt.type(mu), dt.type(nu)
    for _ in range(n_iter):
        v = (wf + nu_t * (dchi + t)) / (w + nu_t * one)
        z = qi._shrink(g + s, thresh, isotropic)
        chi_k = (mu_t * fft(-qi._div(z - s, VS)) + nu_t * d * fft(v - t)) * inv_den
        chi = ifft(chi_k)
        dchi = ifft(chi_k * d)
        qi._grad(chi, VS, out=g)
        s += g
        s -= z
        t += dchi
        t -= v
    assert info["n_iter"] == n_iter
    assert np.array_equal(got, chi)
    assert np.array_equal(info["dual"], (mu * s).astype(dt))


def test_fortran_ordered_inputs_give_the_same_results(rng):
    """A NIfTI array arrives in Fortran order; the solvers and the scorer convert it to C order once
    (a mixed-layout elementwise pass is walked with a stride), with bit-identical results."""
    chi_true, field = _phantom(rng)
    mask = np.zeros(field.shape, bool)
    mask[2:-2, 3:-3, 2:-2] = True
    f_f, m_f = np.asfortranarray(field), np.asfortranarray(mask)
    assert not f_f.flags["C_CONTIGUOUS"] and not m_f.flags["C_CONTIGUOUS"]
    kw = dict(lam=2e-4, max_iter=5, tol=1e-12, voxel_size=VS, masked_output=False)
    c_out, _ = qi.tv_admm(field, mask, **kw)
    f_out, _ = qi.tv_admm(f_f, m_f, **kw)
    assert np.array_equal(c_out, f_out)
    c_cg, c_info = qsm.tikhonov_cg(field, mask, lam=1e-2, tol=1e-6, voxel_size=VS)
    f_cg, f_info = qsm.tikhonov_cg(f_f, m_f, lam=1e-2, tol=1e-6, voxel_size=VS)
    assert c_info["n_iter"] == f_info["n_iter"] and np.allclose(c_cg, f_cg, rtol=0, atol=1e-12)
    ref = np.where(mask, chi_true, 0.0)
    c_score = qm.ChallengeScorer(ref, mask)(c_cg)
    f_score = qm.ChallengeScorer(np.asfortranarray(ref), m_f)(np.asfortranarray(c_cg))
    assert c_score == pytest.approx(f_score, rel=1e-12, abs=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kspace_inversions_are_tkd_and_the_closed_form_bit_for_bit(rng, dtype):
    """One spectrum for a sweep: the same maps as qsm.tkd of the masked field and as
    tikhonov_closed_form, to the last bit, whatever the order of the calls."""
    _, field = _phantom(rng)
    mask = np.zeros(field.shape, bool)
    mask[2:-2, 3:-3, 2:-2] = True
    f_in = np.where(mask, field, 0.0)
    for reg in ("gradient", "identity"):
        inv = qi.KspaceInversions(np.asfortranarray(field), mask=mask, voxel_size=VS, regulariser=reg,
                                  dtype=dtype)
        for lam in (1e-1, 1e-3):
            want = qi.tikhonov_closed_form(field, lam=lam, mask=mask, voxel_size=VS, regulariser=reg,
                                           dtype=dtype, masked_output=False)
            got = inv.tikhonov(lam)
            assert got.dtype == want.dtype == dtype and np.array_equal(got, want)
        for t in (0.3, 0.05):
            assert np.array_equal(inv.tkd(t), qsm.tkd(f_in, threshold=t, voxel_size=VS))
    with pytest.raises(ValueError, match="threshold"):
        inv.tkd(0.9)
    with pytest.raises(ValueError, match="lam"):
        inv.tikhonov(-1.0)
    with pytest.raises(ValueError, match="dtype"):
        qi.KspaceInversions(field, dtype=np.int16)
    with pytest.raises(ValueError, match="regulariser"):
        qi.KspaceInversions(field, regulariser="tv")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("workers", [1, 2])
def test_kspace_l_curve_equals_l_curve_of_its_maps(rng, dtype, workers):
    """KspaceInversions.l_curve takes each map's misfit and roughness from the spectrum it has
    just inverted: the same sweep as l_curve of tkd / tikhonov (maps, scores, kept slices, corner
    bit for bit), the two norms to rounding (float64: 1e-12; float32 maps: 1e-5, the plain path's
    own forward FFT being float32)."""
    chi_true, field = _phantom(rng)
    mask = np.zeros(field.shape, bool)
    mask[2:18, 3:17, 2:18] = True
    inv = qi.KspaceInversions(field, mask=mask, voxel_size=VS, dtype=dtype)
    score = qm.ChallengeScorer(np.where(mask, chi_true, 0.0), mask)
    for method, params, reg in (("tkd", np.round(np.arange(0.05, 0.5, 0.05), 2), "gradient"),
                                ("tikhonov", np.logspace(-3, 0, 8), "gradient"),
                                ("tikhonov", np.logspace(0, -3, 8), "identity"),
                                ("tkd", np.round(np.arange(0.05, 0.5, 0.05), 2), "tv")):
        recon = inv.tkd if method == "tkd" else inv.tikhonov
        kw = dict(regulariser=reg, score=score, keep=lambda chi: chi[:, :, 9].copy(), output_mask=mask,
                  workers=workers)
        got = inv.l_curve(method, params, **kw)
        want = qi.l_curve(recon, field, mask, params, voxel_size=VS, **kw)
        norms = ["misfit", "roughness"]
        tol = 1e-12 if (method == "tkd" or dtype == np.float64) else 1e-5
        assert np.allclose(got["table"][norms], want["table"][norms], rtol=tol, atol=0), (method, reg)
        if reg == "identity" or (reg == "tv" and method == "tkd"):   # norms of the map itself
            assert got["table"]["roughness"].equals(want["table"]["roughness"])
        metrics = list(qm.METRIC_NAMES)
        assert got["table"][metrics].equals(want["table"][metrics])
        assert got["corner"] == want["corner"] and got["best"] == want["best"]
        assert all(np.array_equal(a, b) for a, b in zip(got["kept"], want["kept"]))
    with pytest.raises(ValueError, match="method"):
        inv.l_curve("tv", [1e-3, 1e-2, 1e-1, 1.0, 10.0])
    with pytest.raises(ValueError, match="spectrum"):
        qi._LCurveNorms(field, mask, voxel_size=VS, b0_dir=(0, 0, 1), regulariser="gradient")(
            field, np.zeros((3, 3, 3), complex))
