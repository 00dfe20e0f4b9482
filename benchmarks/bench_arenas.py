"""Benchmark: glibc's arenas in a process that imports ``qmribook`` (issue #22).

Run on demand: ``python benchmarks/bench_arenas.py`` (real 2016 challenge field, 160^3; about
a minute on the idle 2-core reference machine).

Importing ``qmribook`` raises glibc's mmap and trim thresholds so that freed large arrays are
reused instead of mapped afresh (``qmribook._reuse_freed_memory``). It used to also limit glibc
to one arena for every thread (``M_ARENA_MAX=1``). This measures chapter 4's two converged masked
Tikhonov solves side by side (``qsm.tikhonov_cg_many``, lambda = 2.154e-3 and 0.1 mm^2, ``tol=1e-6``,
``workers=-1``), each way in a fresh process that imports ``qmribook`` before any thread starts:

* **glibc's defaults** (the plain alternative: ``GLIBC_TUNABLES`` set empty, which the package
  respects by setting nothing): every allocation above glibc's adaptive threshold mapped afresh;
* **one arena** (the package's old settings, made through glibc's environment variables, which
  take effect at start-up as the old ``mallopt`` call did before any thread): the thresholds, and
  every thread waiting for the one arena's lock;
* **now** (importing the package, nothing set): the thresholds, glibc's own arenas.

Printed: wall and CPU seconds of the solves (all threads), system seconds and page faults, best of
``RUNS``; ratios against "now"; and whether the three ways give the same χ to the last bit.
"""
import os
import subprocess
import sys

RUNS = 2
CHAPTERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chapters")

_CHILD = """
import hashlib, resource, sys, time
sys.path.insert(0, sys.argv[1])
import qmribook
import numpy as np
from qmrigenes import qsm
from qmrigenes.qsm_challenge import load_qsm_challenge_2016
d = load_qsm_challenge_2016()
lams = [float(np.logspace(-3, 0, 10)[1]), 0.1]
r0, c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.process_time(), time.perf_counter()
out = qsm.tikhonov_cg_many(d.field, d.mask, lam=lams, tol=1e-6, voxel_size=d.voxel_size,
                           b0_dir=d.b0_dir, workers=-1)
wall, cpu, r1 = time.perf_counter() - t0, time.process_time() - c0, resource.getrusage(resource.RUSAGE_SELF)
digest = hashlib.sha256(b"".join(chi.tobytes() for chi, _ in out)).hexdigest()
print(wall, cpu, r1.ru_stime - r0.ru_stime, r1.ru_minflt - r0.ru_minflt, digest)
"""


def main():
    sys.path.insert(0, CHAPTERS)
    import qmribook          # its malloc switches and thresholds (this process only starts the children)

    modes = {
        "glibc's defaults": {"GLIBC_TUNABLES": ""},
        "one arena (before)": {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": str(qmribook._MMAP_THRESHOLD),
                               "MALLOC_TRIM_THRESHOLD_": str(qmribook._TRIM_THRESHOLD)},
        "now": {},
    }
    base = {k: v for k, v in os.environ.items() if k not in qmribook._MALLOC_SWITCHES}
    rows = {name: [] for name in modes}
    for _ in range(RUNS):
        for name, extra in modes.items():
            out = subprocess.run([sys.executable, "-c", _CHILD, CHAPTERS], env={**base, **extra}, check=True,
                                 capture_output=True, text=True).stdout.split()
            rows[name].append((float(out[0]), float(out[1]), float(out[2]), int(out[3]), out[4]))
    now = min(rows["now"], key=lambda r: r[0])
    for name, runs in rows.items():
        best = min(runs, key=lambda r: r[0])
        print(f"  {name}: {best[0]:.2f} s wall, {best[1]:.2f} s CPU ({best[2]:.2f} s system), "
              f"{best[3]:,} page faults; ratio to now {best[0] / now[0]:.2f} wall, {best[1] / now[1]:.2f} CPU")
    digests = {r[4] for runs in rows.values() for r in runs}
    print(f"  the same chi every way, bit for bit: {len(digests) == 1}")
    if len(digests) != 1:
        raise SystemExit("the allocator changed a result")


if __name__ == "__main__":
    main()
