"""Benchmark: how much two cores can give chapter 4's kernels on this machine (issue #22).

Run on demand: ``python benchmarks/bench_machine_ceiling.py`` (real 2016 challenge field, 160^3;
about 40 s on the idle 2-core reference machine).

Chapter 4 needs about 60 s of kernel CPU (its TV sweep and its two masked Tikhonov solves are most
of it); how far two cores can shorten that depends on how the work scales, which this measures
on the chapter's own kernels and on plain passes, as ratios in one run:

1. **FFT pair** (float64 ``rfftn`` + ``irfftn`` of the 160^3 grid, pocketfft, as every masked CG
   iteration does twice): two threads against one (the plain alternative).
2. **TV-ADMM on two cores by two processes**: one single-threaded ``qsm_invert.tv_admm`` (chapter 4's
   settings: 20 iterations, lambda = 1e-3 ppm mm, float32) alone, then two of them at the same time
   in two processes. Throughput ratio = 2 x (time alone) / (time of the pair): 2 if the cores were
   independent, 1 if they shared everything.
3. **TV-ADMM with its own two threads** (``workers=2``, as chapter 4 calls it) against one thread.
4. **Memory against cache**: one elementwise ``np.add`` over float32 arrays, on one thread, then
   the same on each of two threads with their own arrays at once (throughput ratio as in 2), for
   arrays of 64 MB (streamed from memory, like a pass over a 160^3 grid) and of 800 kB (in cache).

Each timing is the best of ``RUNS``; results of the threaded and serial TV are checked bit for bit.
"""
import subprocess
import sys
import time

import numpy as np

RUNS = 2
TV = dict(lam=1e-3, max_iter=20, tol=1e-3, masked_output=False)


def _data():
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016
    return load_qsm_challenge_2016()


def _tv(data, workers):
    from qmrigenes import qsm_invert
    return qsm_invert.tv_admm(data.field, data.mask, voxel_size=data.voxel_size, b0_dir=data.b0_dir,
                              workers=workers, **TV)


def _tv_alone():
    """Child process: one single-threaded TV solve after a warm-up; prints its wall seconds."""
    data = _data()
    _tv(data, 1)
    t0 = time.perf_counter()
    _tv(data, 1)
    print(time.perf_counter() - t0)


def _children(n):
    """Wall seconds of the timed solve of each of ``n`` children started at the same time (the
    children do the same work in the same order, so their timed solves overlap almost entirely)."""
    procs = [subprocess.Popen([sys.executable, __file__, "--tv-alone"], stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    out = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("a child TV solve failed")
    return [float(o.strip().splitlines()[-1]) for o in out]


def _adds(n, reps):
    """Throughput ratio of two threads each adding its own float32 arrays of ``n`` elements
    ``reps`` times, against one thread doing it once."""
    import threading
    arrays = [(np.ones(n, np.float32), np.ones(n, np.float32), np.empty(n, np.float32)) for _ in range(2)]

    def work(i):
        a, b, c = arrays[i]
        for _ in range(reps):
            np.add(a, b, out=c)

    work(0)
    best1 = best2 = np.inf
    for _ in range(RUNS):
        t0 = time.perf_counter()
        work(0)
        best1 = min(best1, time.perf_counter() - t0)
        threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best2 = min(best2, time.perf_counter() - t0)
    return best1, best2, 2 * best1 / best2


def main():
    import scipy.fft as sfft

    data = _data()
    x = np.ascontiguousarray(data.field, dtype=np.float64)

    def pair(workers, n=5):
        best = np.inf
        for _ in range(RUNS):
            t0 = time.perf_counter()
            for _ in range(n):
                sfft.irfftn(sfft.rfftn(x, workers=workers), s=x.shape, workers=workers)
            best = min(best, (time.perf_counter() - t0) / n)
        return best

    pair(1, 1)
    one, two = pair(1), pair(2)
    print(f"1. float64 FFT pair, 160^3: one thread {one * 1e3:.1f} ms, two threads {two * 1e3:.1f} ms; "
          f"ratio {one / two:.2f}")

    alone = min(_children(1)[0] for _ in range(RUNS))
    both = min(max(_children(2)) for _ in range(RUNS))
    print(f"2. single-threaded TV-ADMM (20 iterations): alone {alone:.2f} s; two at once {both:.2f} s each; "
          f"throughput ratio {2 * alone / both:.2f}")

    _tv(data, 1)
    t1 = t2 = np.inf
    for _ in range(RUNS):
        t0 = time.perf_counter()
        serial = _tv(data, 1)
        t1 = min(t1, time.perf_counter() - t0)
        t0 = time.perf_counter()
        threaded = _tv(data, 2)
        t2 = min(t2, time.perf_counter() - t0)
    same = np.array_equal(serial[0], threaded[0]) and serial[1]["n_iter"] == threaded[1]["n_iter"]
    print(f"3. TV-ADMM, workers=1 {t1:.2f} s, workers=2 {t2:.2f} s; ratio {t1 / t2:.2f} "
          f"(results bit for bit: {same})")
    if not same:
        raise SystemExit("the threaded TV differs from the serial one")

    for label, n, reps in (("64 MB arrays (memory)", 16_000_000, 20), ("800 kB arrays (cache)", 200_000, 4000)):
        one_t, two_t, ratio = _adds(n, reps)
        print(f"4. np.add on {label}: one thread {one_t:.2f} s, two threads at once {two_t:.2f} s; "
              f"throughput ratio {ratio:.2f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--tv-alone"]:
        _tv_alone()
    else:
        main()
