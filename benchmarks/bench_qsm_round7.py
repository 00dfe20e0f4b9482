"""Benchmark (round 7): chapter 4's independent work on both cores, against the serial loop.

Run on demand: ``python benchmarks/bench_qsm_round7.py [sweeps] [tv] [cg] [finite] [memory]`` (real 2016
challenge field, 160^3; all three by default, about a minute on the idle machine).

* ``sweeps``: chapter 4's TKD (11 thresholds) and closed-form Tikhonov (10 λ) L-curve sweeps,
  scored against COSMOS, by ``qsm_invert.l_curve(..., workers=1)`` (the serial loop, as before)
  and ``workers=2`` (each map's norms, score and kept slices evaluated on a pool while the next
  maps are reconstructed). Checks that the tables (every column but the ``seconds`` timings) and
  the kept slices are bit for bit identical.
* ``tv``: chapter 4's TV sweep (5 λ, 20 ADMM iterations each, warm-started) by
  ``qsm_invert.tv_admm(..., workers=1)`` (the data split and the gradient split of each iteration
  one after the other, as before) and ``workers=2`` (side by side on two threads); same iterates?
* ``cg``: the chapter's two converged masked solves (``qsm.tikhonov_cg`` at λ = 2.15e-3 and
  0.1, tol 1e-6), one after the other against side by side on two threads
  (``qmrigenes._threads.thread_map``, one BLAS thread held around the pool); same χ and info?
* ``memory``: 30 float64 FFT pairs and a product on 160^3 in a fresh process, with glibc's
  defaults and with the thresholds that importing ``qmribook`` sets (freed large arrays reused
  from the heap instead of mapped and zeroed afresh): wall, CPU, system time, page faults.
* ``finite``: ``_validate.check_finite`` on a 160^3 float64 volume, with and without its
  one-pass fast path (the library calls it on every volume it is given).

Printed per variant: wall and CPU seconds of this process (all its threads), best of ``RUNS``
alternating runs, and the ratio plain / new. CPU is the number that matters when the book
executes two pages at once on two cores; wall is what a student waits for on an idle machine.
"""
import os
import sys
import time

import numpy as np

RUNS = 2


def _timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _report(name, plain, new):
    (pw, pc), (nw, nc) = (min(x[0] for x in plain), min(x[1] for x in plain)), \
                         (min(x[0] for x in new), min(x[1] for x in new))
    print(f"  {name}: plain {pw:.2f} s wall / {pc:.2f} s CPU; new {nw:.2f} s wall / {nc:.2f} s CPU; "
          f"ratio plain/new {pw / nw:.2f} wall, {pc / nc:.2f} CPU")


def _same_sweep(a, b):
    ta, tb = a["table"].drop(columns="seconds"), b["table"].drop(columns="seconds")
    same = ta.equals(tb) and a["corner"] == b["corner"] and len(a["kept"]) == len(b["kept"])
    for ka, kb in zip(a["kept"], b["kept"]):
        same &= all(np.array_equal(ka[k], kb[k]) for k in ka)
    return same


def sweeps(data, score, keep):
    from qmrigenes import qsm, qsm_invert
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    field_in = np.where(mask, field, 0.0)
    thresholds = np.round(np.arange(0.05, 0.56, 0.05), 2)
    lams = np.logspace(-3, 0, 10)

    def run(workers):
        a = qsm_invert.l_curve(lambda t: qsm.tkd(field_in, threshold=t, voxel_size=vs, b0_dir=b0),
                               field, mask, thresholds, voxel_size=vs, b0_dir=b0, score=score, keep=keep,
                               output_mask=mask, workers=workers)
        b = qsm_invert.l_curve(lambda lam: qsm_invert.tikhonov_closed_form(
            field, lam=lam, mask=mask, voxel_size=vs, b0_dir=b0, masked_output=False),
            field, mask, lams, voxel_size=vs, b0_dir=b0, score=score, keep=keep, output_mask=mask,
            workers=workers)
        return a, b

    plain, new, same = [], [], True
    for _ in range(RUNS):
        (a1, b1), w, c = _timed(lambda: run(1))
        plain.append((w, c))
        (a2, b2), w, c = _timed(lambda: run(2))
        new.append((w, c))
        same &= _same_sweep(a1, a2) and _same_sweep(b1, b2)
    _report("TKD + closed-form sweeps (21 maps), l_curve workers=1 vs 2", plain, new)
    print(f"  tables and kept slices bit for bit identical: {same}")


def cg(data):
    from qmrigenes import qsm
    from qmrigenes._threads import thread_map
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    lams = (0.0021544346900318843, 0.1)

    def solve(lam):
        return qsm.tikhonov_cg(field, mask, lam=lam, tol=1e-6, voxel_size=vs, b0_dir=b0)

    plain, new, same = [], [], True
    for _ in range(RUNS):
        r1, w, c = _timed(lambda: [solve(lam) for lam in lams])
        plain.append((w, c))
        with qsm._blas_single_thread():
            r2, w, c = _timed(lambda: thread_map(solve, lams, workers=2))
        new.append((w, c))
        for (x1, i1), (x2, i2) in zip(r1, r2):
            same &= np.array_equal(x1, x2) and i1["n_iter"] == i2["n_iter"] and i1["residual"] == i2["residual"]
    _report("two masked CG solves (83 + 29 iterations), serial vs side by side", plain, new)
    print(f"  chi, iterations and residuals bit for bit identical: {same}")


def tv(data):
    from qmrigenes import qsm_invert
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    lams = np.logspace(-4, -2, 5)[::-1]

    def chain(workers):
        chi, out = None, []
        for lam in lams:
            chi, _ = qsm_invert.tv_admm(field, mask, lam=lam, max_iter=20, tol=1e-3, voxel_size=vs, b0_dir=b0,
                                        x0=chi, masked_output=False, workers=workers)
            out.append(chi)
        return out

    plain, new, same = [], [], True
    for _ in range(RUNS):
        a, w, c = _timed(lambda: chain(1))
        plain.append((w, c))
        b, w, c = _timed(lambda: chain(2))
        new.append((w, c))
        same &= all(np.array_equal(x, y) for x, y in zip(a, b))
    _report("TV-ADMM, chapter 4's warm-started sweep (5 λ x 20 iterations), splits serial vs side by side",
            plain, new)
    print(f"  every λ's chi bit for bit identical: {same}")


_MEMORY_CHILD = """
import resource, sys, time
import numpy as np, scipy.fft as sfft
if sys.argv[1] == "reuse":
    sys.path.insert(0, sys.argv[2])
    import qmribook                              # sets glibc's thresholds on import
x = np.random.default_rng(0).normal(size=(160, 160, 160))
ru0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
for _ in range(30):                              # an FFT pair and a product, as in a solver's iteration
    y = sfft.irfftn(sfft.rfftn(x, workers=-1) * 0.5, s=x.shape, workers=-1)
    z = x * y
ru = resource.getrusage(resource.RUSAGE_SELF)
print(time.perf_counter() - t0, time.process_time() - c0, ru.ru_stime - ru0.ru_stime, ru.ru_minflt - ru0.ru_minflt)
"""


def memory():
    import subprocess
    chapters = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chapters")
    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    res = {"plain": [], "reuse": []}
    for _ in range(RUNS):
        for mode in ("plain", "reuse"):
            out = subprocess.run([sys.executable, "-c", _MEMORY_CHILD, mode, chapters], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()
            res[mode].append(tuple(float(v) for v in out))
    for mode, rows in res.items():
        best = min(rows, key=lambda r: r[1])
        print(f"  30 float64 FFT pairs + a product at 160^3, {mode}: {best[0]:.2f} s wall, {best[1]:.2f} s CPU "
              f"({best[2]:.2f} s system), {best[3]:,.0f} page faults")
    _report("glibc thresholds set by importing qmribook (fresh process each)",
            [(r[0], r[1]) for r in res["plain"]], [(r[0], r[1]) for r in res["reuse"]])


def finite():
    from qmrigenes import _validate
    x = np.random.default_rng(0).normal(size=(160, 160, 160))

    def old(a):
        return int(np.isinf(a).sum()) + int(np.isnan(a).sum())

    plain, new = [], []
    for _ in range(RUNS):
        _, w, c = _timed(lambda: [old(x) for _ in range(20)])
        plain.append((w / 20, c / 20))
        _, w, c = _timed(lambda: [_validate.check_finite(x, "x") for _ in range(20)])
        new.append((w / 20, c / 20))
    print(f"  check_finite, one 160^3 float64 volume, per call: plain {min(c for _, c in plain) * 1e3:.1f} ms CPU, "
          f"new {min(c for _, c in new) * 1e3:.1f} ms CPU; ratio {min(c for _, c in plain) / min(c for _, c in new):.1f}")


def main(which):
    from qmrigenes import qsm_metrics
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chapters"))
    from qmribook import ch4

    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}")
    data = load_qsm_challenge_2016()
    if "finite" in which:
        finite()
    if "memory" in which:
        memory()
    if "sweeps" in which:
        score = qsm_metrics.ChallengeScorer(data.reference, data.mask)
        sweeps(data, score, ch4.slice_keeper(ch4.pick_slices(data.reference, data.mask)))
    if "tv" in which:
        tv(data)
    if "cg" in which:
        cg(data)
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:] or ("finite", "memory", "sweeps", "tv", "cg"))
