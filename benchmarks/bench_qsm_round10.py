"""Benchmark (round 10): chapter 4's two converged masked Tikhonov solves, side by side.

Run on demand: ``python benchmarks/bench_qsm_round10.py`` (real 2016 challenge field, 160^3,
``tol=1e-6`` at the closed form's L-curve and tuned λ, 2.154e-3 and 0.1 mm²: 83 and 29 CG
iterations; about two minutes on the idle 2-core machine).

Three ways of running the same two ``qsm.tikhonov_cg`` solves:

* **serial** (the best plain alternative, and chapter 4 before this round): one solve after the
  other, each with every core for its FFTs;
* **fixed share**: side by side on two threads, each solve's FFTs on its share of the cores fixed at
  the start (one thread each on two cores; ``tikhonov_cg_many`` before this round), so the longer
  solve keeps one core to its end after the shorter one has finished;
* **new** (``qsm.tikhonov_cg_many`` now, as chapter 4 calls it): side by side, the cores re-divided
  as the solves finish, so the longer solve's FFTs get both cores once the shorter one is done.

Side by side, the two solves also fill the core that one solve's single-threaded numpy passes
leave idle (a third of an iteration). Checks: every χ and every ``info`` identical to the serial
loop's, bit for bit.

Then one solve alone at each λ (a student's "try another λ"): its elementwise passes in parts on
its FFT threads (``qsm._in_parts``, now) against the same passes on one thread (the plain numpy
passes, before), results bit for bit. Printed: wall and CPU seconds of this process (all its
threads), best of ``RUNS`` alternating runs, and the ratios.
"""
import numpy as np

from bench_qsm_round7 import _report, _timed   # noqa: E402  (one timer and one report line, round 7's)

RUNS = 2
LAMS = [float(np.logspace(-3, 0, 10)[1]), 0.1]        # the chapter's closed-form choices on this grid


def main():
    from qmrigenes import qsm
    from qmrigenes._threads import thread_map
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    data = load_qsm_challenge_2016()
    field, mask = data.field, data.mask
    opts = dict(tol=1e-6, voxel_size=data.voxel_size, b0_dir=data.b0_dir)

    def serial():
        with qsm._blas_single_thread():
            return [qsm.tikhonov_cg(field, mask, lam=lam, **opts) for lam in LAMS]

    def fixed_share():
        def one(lam):
            return qsm._on_fft_workers(1, lambda: qsm.tikhonov_cg(field, mask, lam=lam, **opts))()
        with qsm._blas_single_thread():
            return thread_map(one, LAMS, workers=2)

    def new():
        return qsm.tikhonov_cg_many(field, mask, lam=LAMS, workers=2, **opts)

    times = {"serial": [], "fixed": [], "new": []}
    reference = None
    for _ in range(RUNS):
        for name, fn in (("serial", serial), ("fixed", fixed_share), ("new", new)):
            out, wall, cpu = _timed(fn)
            reference = reference or out
            same = all(np.array_equal(a[0], b[0]) and a[1] == b[1] for a, b in zip(out, reference))
            assert same, f"{name}: results differ from the serial loop's"
            times[name].append((wall, cpu))
    print(f"two masked solves (λ = {LAMS[0]:.4g}, {LAMS[1]:g}; {reference[0][1]['n_iter']} and "
          f"{reference[1][1]['n_iter']} iterations), results bit for bit the serial loop's:")
    _report("serial loop vs tikhonov_cg_many", times["serial"], times["new"])
    _report("fixed share vs re-divided share", times["fixed"], times["new"])

    print("one solve alone, its elementwise passes on one thread (plain) vs in parts on its FFT threads:")
    parts_min = qsm._PARTS_MIN
    for lam in LAMS:
        runs = {"plain": [], "parts": []}
        reference = None
        for _ in range(RUNS):
            for name, threshold in (("plain", float("inf")), ("parts", parts_min)):
                qsm._PARTS_MIN = threshold
                try:
                    with qsm._blas_single_thread():
                        out, wall, cpu = _timed(lambda: qsm.tikhonov_cg(field, mask, lam=lam, **opts))
                finally:
                    qsm._PARTS_MIN = parts_min
                reference = reference or out
                assert np.array_equal(out[0], reference[0]) and out[1] == reference[1], name
                runs[name].append((wall, cpu))
        _report(f"λ = {lam:.4g} ({reference[1]['n_iter']} iterations)", runs["plain"], runs["parts"])


if __name__ == "__main__":
    main()
