"""Benchmark (round 5): input memory layout, and mixed-precision Schur solves, on the real 2016 field.

Run on demand: ``python benchmarks/bench_qsm_round5.py`` (both parts), ``... layout`` or
``... mixed``.

**Layout.** NIfTI arrays (nibabel) come in Fortran
order; every array numpy creates is in C order. An elementwise operation that mixes the two
walks one of them with a stride. The library now converts its inputs to C order once
(``qsm._c_order``; the 2016 loader returns C-ordered arrays). The plain alternative, measured in
the same run, is the same code fed the Fortran-ordered arrays with that conversion switched off
(exactly the library before the change). Printed: CPU and wall time of each path (best of
``RUNS`` alternating runs, fast first), their ratios, and whether the results are bit for bit
identical.

* one elementwise pass ``c + f`` at 160^3 (float32), ``f`` C- or Fortran-ordered: the mechanism;
* ``qsm_invert.tv_admm``, 20 iterations (the chapter's budget per lambda), float32;
* ``qsm.tikhonov_cg`` at the chapter's tuned lambda (0.1, ``tol=1e-6``);
* ``qsm_invert.misfit_and_roughness`` + ``qsm_metrics.ChallengeScorer`` on one TKD map (the
  per-map work of the chapter's TKD and closed-form sweeps).

**Mixed precision (measured, not adopted).** The Schur solve of ``qsm.tikhonov_cg`` by
iterative refinement -- float64 residual of the outside field, the correction equation solved by
the same preconditioned CG entirely in float32 (vectors, FFTs, filters) to ``eta`` times that
residual, ``u += e`` in float64, until the float64 residual meets ``tol`` (prototype here, built
on the library's ``qsm._OutsideFieldCG``) -- against the library's float64 solve (the default),
at the chapter's two lambdas, ``tol=1e-6``, FFTs on one thread (CPU time then measures the work):
CPU and wall time of the solve (best of ``RUNS`` alternating runs), float32 iterations and
refinements, the objective gradient of the result (``qsm.tikhonov_optimality``) and the largest
difference of the two minimisers inside the mask. ``python benchmarks/bench_qsm_round5.py mixed
ETA`` sets ``eta`` (default 1e-3).
"""
import contextlib
import time

import numpy as np

RUNS = 2


def _clock(fn):
    c, t = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c, time.perf_counter() - t, out


@contextlib.contextmanager
def _plain():
    """The library with its C-order conversion switched off (inputs keep their layout)."""
    from qmrigenes import qsm, qsm_invert, qsm_metrics

    saved = qsm._c_order
    for mod in (qsm, qsm_invert, qsm_metrics):
        mod._c_order = lambda a: a
    try:
        yield
    finally:
        for mod in (qsm, qsm_invert, qsm_metrics):
            mod._c_order = saved


def _compare(name, fn, c_args, f_args, same):
    best = {"C order": (np.inf, np.inf, None), "Fortran, plain": (np.inf, np.inf, None)}
    for _ in range(RUNS):
        for label in best:
            ctx = _plain() if label.startswith("Fortran") else contextlib.nullcontext()
            with ctx:
                cpu, wall, out = _clock(lambda: fn(*(f_args if label.startswith("Fortran") else c_args)))
            b = best[label]
            best[label] = (min(b[0], cpu), min(b[1], wall), out)
    (cf, wf, of), (cp, wp, op) = best["C order"], best["Fortran, plain"]
    print(f"{name}: C order {cf:.3f} s CPU ({wf:.3f} s wall); Fortran, plain {cp:.3f} s CPU ({wp:.3f} s wall); "
          f"ratio plain / C {cp / cf:.2f} (CPU), {wp / wf:.2f} (wall); identical: {same(of, op)}")


def _refined_solve(field, mask, *, lam, vs, b0, tol, eta):
    """Prototype: the Schur solve by iterative refinement around float32 inner CG solves."""
    import scipy.fft as sfft

    from qmrigenes import qsm

    W = qsm._WORKERS
    field, mask, w, d, lg2, lam = qsm._tikhonov_setup(field, mask, lam, None, vs, b0)
    shape = field.shape
    S = qsm._OutsideFieldCG(mask, d, lg2, shape, single=False, precondition=True)
    o32, k32, kinv32, dsw32 = (a.astype(np.float32) for a in (S.o, S.k, S.kinv, S.d_sw))

    def filt32(x, sym, norm=False):
        spec = sfft.rfftn(x, workers=W)
        size = None
        if norm:
            t = spec * dsw32
            size = float(np.sqrt(np.vdot(t, t).real))
        spec *= sym
        out = sfft.irfftn(spec, s=shape, workers=W)
        out *= o32
        return out, size

    spec_wf = sfft.rfftn(w * field, workers=W)
    norm_b = S.residual_norm(spec_wf)
    rhs = sfft.irfftn(spec_wf * S.k, s=shape, workers=W)
    rhs *= -S.o
    u, r, n_inner, n_outer = np.zeros(shape), rhs.copy(), 0, 0
    with qsm._blas_single_thread():
        while True:
            res = S.residual_norm(sfft.rfftn(r, workers=W))            # float64: the stopping rule
            if res <= tol * norm_b or n_outer >= 20:
                break
            target = max(eta * res, 0.5 * tol * norm_b)
            r32, e, p, rz, it = r.astype(np.float32), np.zeros(shape, np.float32), None, 1.0, 0
            while True:
                z, rn = filt32(r32, kinv32, norm=True)
                if (it and rn <= target) or it >= 1000:
                    break
                rz_new = float(np.vdot(r32, z))
                if p is None:
                    p = z
                else:
                    p *= np.float32(rz_new / rz)
                    p += z
                rz = rz_new
                ap = filt32(p, k32)[0]
                alpha = np.float32(rz / float(np.vdot(p, ap)))
                e += alpha * p
                r32 -= alpha * ap
                it += 1
            n_inner += it
            u += e
            r = rhs - S.apply(u)
            n_outer += 1
    chi = sfft.irfftn((spec_wf + sfft.rfftn(u, workers=W)) * S.d_p0, s=shape, workers=W)
    return chi, n_inner, n_outer


def mixed(eta=1e-3) -> None:
    from qmrigenes import qsm
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    d = load_qsm_challenge_2016()
    f, m, vs, b0 = d.field, d.mask, d.voxel_size, d.b0_dir
    default_workers = qsm._WORKERS
    qsm._WORKERS = 1
    try:
        for lam in (0.1, float(np.logspace(-3, 0, 10)[1])):     # the chapter's tuned and L-curve lambda
            best = {}
            for _ in range(RUNS):
                for name in ("refined", "double"):
                    if name == "refined":
                        run = lambda: _refined_solve(f, m, lam=lam, vs=vs, b0=b0, tol=1e-6, eta=eta)
                    else:
                        run = lambda: qsm.tikhonov_cg(f, m, lam=lam, tol=1e-6, voxel_size=vs, b0_dir=b0,
                                                      masked_output=False)
                    cpu, wall, out = _clock(run)
                    b = best.get(name, (np.inf, np.inf, None))
                    best[name] = (min(b[0], cpu), min(b[1], wall), out)
            (cr, wr, (xr, n_in, n_out)), (cd, wd, (xd, info)) = best["refined"], best["double"]
            opt = qsm.tikhonov_optimality(xr, f, m, lam=lam, voxel_size=vs, b0_dir=b0)
            print(f"Schur solve, one FFT thread, lambda {lam:.3g}, tol 1e-6: refined (eta {eta:g}) "
                  f"{cr:.1f} s CPU ({wr:.1f} s wall), {n_in} float32 iterations in {n_out} refinements, "
                  f"objective gradient {opt:.2e}; double {cd:.1f} s CPU ({wd:.1f} s wall), "
                  f"{info['n_iter']} iterations, residual {info['residual']:.2e}; ratio double / refined "
                  f"{cd / cr:.2f} (CPU), {wd / wr:.2f} (wall); largest difference in the mask "
                  f"{1000 * np.abs(xr - xd)[m].max():.1e} ppb")
    finally:
        qsm._WORKERS = default_workers


def layout() -> None:
    from qmrigenes import qsm, qsm_invert, qsm_metrics
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    d = load_qsm_challenge_2016()
    f, m, ref, vs, b0 = d.field, d.mask, d.reference, d.voxel_size, d.b0_dir
    ff, mf, reff = np.asfortranarray(f), np.asfortranarray(m), np.asfortranarray(ref)
    print(f"2016 challenge field {f.shape}; loader returns C order: {f.flags['C_CONTIGUOUS']}")

    a = np.ones(f.shape, np.float32)
    b_c, b_f = f.astype(np.float32), ff.astype(np.float32)
    out = np.empty_like(a)

    def passes(b):
        for _ in range(20):
            np.add(a, b, out=out)
        return out.copy()
    _compare("one elementwise pass a + b (x20)", passes, (b_c,), (b_f,), np.array_equal)

    def tv(field, mask):
        return qsm_invert.tv_admm(field, mask, lam=1e-3, max_iter=20, tol=1e-3, voxel_size=vs, b0_dir=b0,
                                  masked_output=False)[0]
    _compare("tv_admm, 20 iterations, float32", tv, (f, m), (ff, mf), np.array_equal)

    def cg(field, mask):
        return qsm.tikhonov_cg(field, mask, lam=0.1, tol=1e-6, voxel_size=vs, b0_dir=b0)
    _compare("tikhonov_cg, lambda 0.1, tol 1e-6", cg, (f, m), (ff, mf),
             lambda x, y: bool(x[1]["n_iter"] == y[1]["n_iter"] and np.abs(x[0] - y[0]).max() < 1e-12))

    field_in = np.where(m, f, 0.0)
    chi = qsm.tkd(field_in, threshold=0.15, voxel_size=vs, b0_dir=b0)
    chi_f = np.asfortranarray(chi)

    def per_map(chi, field, mask, reference):
        norms = qsm_invert.misfit_and_roughness(chi, field, mask, voxel_size=vs, b0_dir=b0)
        return norms, qsm_metrics.ChallengeScorer(reference, mask)(np.where(mask, chi, 0.0))
    _compare("misfit_and_roughness + ChallengeScorer (set-up and one score), TKD map", per_map,
             (chi, f, m, ref), (chi_f, ff, mf, reff),
             lambda x, y: bool(np.allclose(x[0], y[0], rtol=1e-12)
                               and all(abs(x[1][k] - y[1][k]) <= 1e-12 * abs(y[1][k]) for k in x[1])))


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["mixed"]:
        mixed(*map(float, sys.argv[2:3]))
    elif sys.argv[1:2] == ["layout"]:
        layout()
    else:
        layout()
        mixed()
