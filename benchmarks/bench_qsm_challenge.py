"""Benchmark: dipole inversions and metrics on the real 2016 QSM challenge field (160^3).

Run on demand: ``python benchmarks/bench_qsm_challenge.py``. Prints wall times, as ratios
against the plain alternative measured in the same run:

* closed-form Tikhonov (float32, real FFTs) against ``qsm.tikhonov_cg`` with a mask of ones,
  which solves the same problem (the test suite checks the two agree);
* the converged masked Tikhonov solve (``tol=1e-6``, the chapter's two lambdas) by
  ``qsm.tikhonov_cg``'s default ``method="schur"`` (chi eliminated, CG on the field outside the
  mask) against ``method="kspace"`` (preconditioned CG on the normal equations of chi, the plain
  algorithm, already in k-space with one FFT pair per iteration), with iterations and the
  largest difference of the two minimisers inside the mask;
* the Schur solve's preconditioner ``O K^-0.8 O`` (the default) against ``O K^-1 O`` (the
  restriction of the exact inverse, the default before), same stopping rule, at the chapter's two
  lambdas (:func:`schur_power`, also run alone: ``python benchmarks/bench_qsm_challenge.py power``);
* TV-ADMM in float32 against float64 (20 iterations each), with the relative difference;
* ``qsm_metrics.ChallengeScorer`` (reference filtered once, bounding-box crop) against
  ``qsm_metrics.challenge_metrics`` (everything recomputed on the full grid), and, when the
  pinned qsm-ci wheel can be fetched, QSM-CI's own ``score_arrays``.
"""
import importlib.util
import time

import numpy as np


def _time(fn, runs=3):
    best, out = np.inf, None
    for _ in range(runs):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def schur_power() -> None:
    """The Schur solve with the preconditioner O K^-a O, a = 0.8 (default) against a = 1, in one run."""
    from qmrigenes import qsm
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    d = load_qsm_challenge_2016()
    f, m, vs, b0 = d.field, d.mask, d.voxel_size, d.b0_dir
    default = qsm._SCHUR_POWER
    try:
        for lam in (0.1, float(np.logspace(-3, 0, 10)[1])):     # the chapter's tuned and L-curve lambda
            runs = {}
            for power in (default, 1.0, default):            # the default twice: the load drifts
                qsm._SCHUR_POWER = power
                c, t = time.process_time(), time.perf_counter()
                x, info = qsm.tikhonov_cg(f, m, lam=lam, tol=1e-6, voxel_size=vs, b0_dir=b0)
                t, c = time.perf_counter() - t, time.process_time() - c
                best = runs.get(power)
                runs[power] = (x, info, min(t, best[2]) if best else t, min(c, best[3]) if best else c)
            (xa, ia, ta, ca), (x1, i1, t1, c1) = runs[default], runs[1.0]
            print(f"Schur solve, lambda {lam:.3g}, tol 1e-6: K^-{default:g} {ta:.1f} s wall, {ca:.1f} s CPU, "
                  f"{ia['n_iter']} iterations, residual {ia['residual']:.2e}; K^-1 {t1:.1f} s wall, "
                  f"{c1:.1f} s CPU, {i1['n_iter']} iterations, residual {i1['residual']:.2e}; ratio "
                  f"{t1 / ta:.2f} (wall), {c1 / ca:.2f} (CPU); largest difference in the mask "
                  f"{1000 * np.abs(xa - x1)[m].max():.1e} ppb")
    finally:
        qsm._SCHUR_POWER = default


def main() -> None:
    from qmrigenes import qsm, qsm_invert, qsm_metrics
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    d = load_qsm_challenge_2016()
    f, m, ref, vs, b0 = d.field, d.mask, d.reference, d.voxel_size, d.b0_dir
    full = np.ones(f.shape, bool)
    fm = np.where(m, f, 0.0)
    t_cf, cf = _time(lambda: qsm_invert.tikhonov_closed_form(fm, lam=0.05, voxel_size=vs, b0_dir=b0))
    t_cg, (cg, info) = _time(lambda: qsm.tikhonov_cg(fm, full, lam=0.05, tol=1e-6, voxel_size=vs, b0_dir=b0),
                             runs=1)
    print(f"closed-form Tikhonov {t_cf:.2f} s; tikhonov_cg, full mask, same problem {t_cg:.2f} s "
          f"({info['n_iter']} iterations): ratio {t_cg / t_cf:.0f}x; max |difference| "
          f"{np.abs(cf - cg).max():.1e} ppm")
    for lam in (0.1, float(np.logspace(-3, 0, 10)[1])):     # the chapter's tuned and L-curve lambda
        solves = {}
        for method in ("schur", "kspace"):
            c = time.process_time()
            t, (x, info) = _time(lambda: qsm.tikhonov_cg(f, m, lam=lam, tol=1e-6, voxel_size=vs, b0_dir=b0,
                                                         method=method), runs=1)
            solves[method] = (x, info, t, time.process_time() - c)
        (xs, i_s, ts, cs), (xk, i_k, tk, ck) = solves["schur"], solves["kspace"]
        print(f"masked Tikhonov CG, lambda {lam:.3g}, tol 1e-6: schur {ts:.1f} s wall, {cs:.1f} s CPU, "
              f"{i_s['n_iter']} iterations; kspace {tk:.1f} s wall, {ck:.1f} s CPU, {i_k['n_iter']} "
              f"iterations; ratio kspace / schur {tk / ts:.1f} (wall), {ck / cs:.1f} (CPU); largest "
              f"difference in the mask {1000 * np.abs(xs - xk)[m].max():.1e} ppb")
    t32, (x32, _) = _time(lambda: qsm_invert.tv_admm(f, m, lam=1e-3, max_iter=20, tol=1e-9, voxel_size=vs,
                                                     b0_dir=b0), runs=1)
    t64, (x64, _) = _time(lambda: qsm_invert.tv_admm(f, m, lam=1e-3, max_iter=20, tol=1e-9, voxel_size=vs,
                                                     b0_dir=b0, dtype=np.float64), runs=1)
    print(f"TV-ADMM, 20 iterations: float32 {t32:.1f} s, float64 {t64:.1f} s (ratio {t64 / t32:.2f}); "
          f"relative difference {np.linalg.norm(x32 - x64) / np.linalg.norm(x64):.1e}")
    chi = qsm.tkd(f, threshold=0.2, mask=m, voxel_size=vs, b0_dir=b0)
    score = qsm_metrics.ChallengeScorer(ref, m)
    t_sc, _ = _time(lambda: score(chi))
    t_fn, _ = _time(lambda: qsm_metrics.challenge_metrics(chi, ref, m), runs=1)
    print(f"metrics: ChallengeScorer {t_sc:.2f} s, challenge_metrics {t_fn:.2f} s (ratio {t_fn / t_sc:.1f})")
    try:
        from qmrigenes.fetch import fetch

        spec = importlib.util.spec_from_file_location("qsmci_qsm_eval", fetch("qsmci_qsm_eval.py"))
        qsmci = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(qsmci)
        t_ci, _ = _time(lambda: qsmci.score_arrays(chi, ref, m.astype(float), "chi"), runs=1)
        print(f"QSM-CI score_arrays (qsm-ci 0.6.2) {t_ci:.2f} s (ratio to ChallengeScorer {t_ci / t_sc:.1f})")
    except Exception as err:        # the comparison is optional: the wheel may be unreachable
        print(f"QSM-CI's scorer not run: {err}")


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["power"]:
        schur_power()
    else:
        main()
        schur_power()
