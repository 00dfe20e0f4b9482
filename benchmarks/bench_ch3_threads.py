"""Benchmark: chapter 3's independent computations side by side on threads (issue #22, branch ch3c).

Run: ``python benchmarks/bench_ch3_threads.py`` (``make bench`` runs every benchmark). Each line
runs the plain serial loop (``workers=1``) and the threaded path (``workers=None``: every core of
the machine) on the chapter's own inputs, alternating, ``REPEAT`` times, and prints the best wall
and CPU time of each, the wall ratio, and the load average. Threads do not make the work cheaper
(the CPU time stays, or grows a little), they let it use both cores: the wall ratio is what they
buy, and it needs a free core. So each line also prints the CPU time of every item run alone
and the wall time a free machine would give with the pool's own first-free-thread assignment if
each thread had a core to itself (``idle estimate``: the longest thread's CPU), which does not
depend on what else the machine runs. (scipy's FFTs already use every core inside one solve,
``workers=-1``, so the serial loop's wall time on a free machine is below its CPU time too: the
estimate's ratio is an upper bound of the gain.) Every threaded result is checked to be the serial loop's, bit for
bit.

1. the three converged Tikhonov solves of the lesion experiment (noisy, noise-free, lesion-only
   field; one mask, one ``lam``): ``qsm.tikhonov_cg_many`` against ``tikhonov_cg`` in a loop;
2. a "try another λ" sweep on the chapter's noisy QSM problem (λ = 1e-3, 1e-2, 1e-1), the
   exercise's solution;
3. the TKD threshold sweeps of the exercise (10 thresholds, noisy and noise-free fields):
   ``qsm.tkd_threshold_sweep(..., workers=...)``;
4. the caudate atrophy series with TKD-measured χ (4 volume losses):
   ``lesions.atrophy_series(..., workers=...)``.
"""
import heapq
import os
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chapters"))
from bench_chapfast import REPEAT  # noqa: E402  (one repeat count for all)

from qmrigenes import lesions, phantom, qsm  # noqa: E402
from qmrigenes._threads import n_workers  # noqa: E402

LAM, TOL, SIGMA, SEED = 1e-2, 1e-6, 0.002, 2022     # the chapter's values


def _timed(fn):
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w, time.process_time() - c, out


def _idle_estimate(item_cpu, workers):
    """Wall time of a pool of ``workers`` threads taking items in order, each to the first free
    thread, if every thread had a core of its own: the longest thread's sum of item CPU times."""
    free = [0.0] * workers
    for c in item_cpu:
        heapq.heappush(free, heapq.heappop(free) + c)
    return max(free)


def compare(what, serial, threaded, items, same):
    """Alternate the serial and threaded paths; print best wall/CPU of each and the idle estimate."""
    walls, cpus = {"serial": [], "threads": []}, {"serial": [], "threads": []}
    out = {}
    for _ in range(REPEAT):
        for name, fn in (("serial", serial), ("threads", threaded)):
            w, c, out[name] = _timed(fn)
            walls[name].append(w)
            cpus[name].append(c)
    assert same(out["serial"], out["threads"]), f"{what}: threaded result differs from the serial loop"
    item_cpu = []
    for fn in items:                           # each item alone, CPU of the process (FFT threads included)
        t = time.process_time()
        fn()
        item_cpu.append(time.process_time() - t)
    n = n_workers(None)
    est = _idle_estimate(item_cpu, n)
    ws, wt = min(walls["serial"]), min(walls["threads"])
    print(f"{what}: serial wall {ws:.2f} s (CPU {min(cpus['serial']):.2f} s), {n} threads wall {wt:.2f} s "
          f"(CPU {min(cpus['threads']):.2f} s), wall ratio {ws / wt:.2f}x at load {os.getloadavg()[0]:.1f}; "
          f"items' CPU {', '.join(f'{c:.2f}' for c in item_cpu)} s -> idle estimate {est:.2f} s "
          f"({sum(item_cpu) / est:.2f}x); identical results", flush=True)


def _same_solves(a, b):
    return all(np.array_equal(x, y) and ix == iy for (x, ix), (y, iy) in zip(a, b))


def main():
    ph = phantom.make_head_phantom()
    les, _, _ = lesions.insert_lesions(ph)
    les_field = qsm.forward_field(les.maps["chi"], voxel_size=les.voxel_size, pad=16)
    les_noisy = qsm.add_field_noise(les_field, SIGMA, rng=np.random.default_rng(SEED + 4), mask=les.mask)
    only = lesions.lesion_only(les, ph, parameter="chi")
    fields = [les_noisy, les_field, qsm.forward_field(only, voxel_size=les.voxel_size, pad=16)]
    opts = dict(lam=LAM, tol=TOL, voxel_size=les.voxel_size)
    compare("1. three lesion solves (tikhonov_cg_many)",
            lambda: [qsm.tikhonov_cg(f, les.mask, **opts) for f in fields],
            lambda: qsm.tikhonov_cg_many(fields, les.mask, **opts),
            [lambda f=f: qsm.tikhonov_cg(f, les.mask, **opts) for f in fields], _same_solves)

    chi_true, csf = ph.maps["chi"], ph.labels == 1
    field = qsm.forward_field(chi_true, voxel_size=ph.voxel_size, pad=16)
    noisy = qsm.add_field_noise(field, SIGMA, rng=np.random.default_rng(SEED + 2), mask=ph.mask)
    lams = [1e-3, 1e-2, 1e-1]
    compare("2. λ sweep 1e-3, 1e-2, 1e-1 (tikhonov_cg_many)",
            lambda: [qsm.tikhonov_cg(noisy, ph.mask, lam=lam) for lam in lams],
            lambda: qsm.tikhonov_cg_many(noisy, ph.mask, lam=lams),
            [lambda lam=lam: qsm.tikhonov_cg(noisy, ph.mask, lam=lam) for lam in lams], _same_solves)

    thresholds = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)
    regions = dict(truth=chi_true, roi=ph.labels == 6, uniform=ph.labels == 3, reference=csf)

    def sweeps(workers):
        return [qsm.tkd_threshold_sweep(f, ph.mask, thresholds, workers=workers, **regions) for f in (noisy, field)]

    def same_sweeps(a, b):
        for x, y in zip(a, b):
            pd.testing.assert_frame_equal(x["table"], y["table"], check_exact=True)
            if not np.array_equal(x["recons"], y["recons"]):
                return False
        return True

    compare("3. TKD threshold sweeps, 10 thresholds x 2 fields (tkd_threshold_sweep)",
            lambda: sweeps(1), lambda: sweeps(None),
            [lambda f=f, t=t: np.where(ph.mask, qsm.reference_to(qsm.tkd(f, threshold=t, mask=ph.mask), csf), 0)
             for f in (noisy, field) for t in thresholds], same_sweeps)   # items: one map each (no scoring)

    from qmribook import ch3

    def series(workers):
        return lesions.atrophy_series(ph, nucleus="caudate", losses=(0.0, 0.1, 0.2, 0.3),
                                      measured=ch3.tkd_measured_chi, workers=workers)

    compare("4. caudate atrophy series with TKD-measured chi (atrophy_series)",
            lambda: series(1), lambda: series(None),
            [lambda loss=loss: lesions.atrophy_series(ph, nucleus="caudate", losses=(loss,),
                                                      measured=ch3.tkd_measured_chi, workers=1)
             for loss in (0.0, 0.1, 0.2, 0.3)],
            lambda a, b: a.equals(b) and bool((a.to_numpy() == b.to_numpy()).all()))


if __name__ == "__main__":
    main()
