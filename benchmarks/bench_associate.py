"""Benchmark: `qmrigenes associate` on a real map with 10,000 gene draws and 10,000 spins.

Run on demand: ``python benchmarks/bench_associate.py``. Writes the clinical MPM PD map
(34 left DK regions) to a temporary CSV, runs the command as a user would (a new process:
imports, data loading, nulls, CSV output) and prints the wall time of each of three runs.
"""
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main(n_perm: int = 10_000, runs: int = 3) -> None:
    from qmrigenes.datasets import load_clinical_mpm
    from qmrigenes.surface import neuromorphometrics_to_dk

    mpm = load_clinical_mpm()
    labels = mpm[mpm["parameter"] == "PD"].groupby("region")["value"].mean()
    dk = neuromorphometrics_to_dk(labels.to_frame("PD").T).T["PD"]
    dk.index = "lh_" + dk.index
    work = Path(tempfile.mkdtemp())
    dk.to_csv(work / "pd.csv")
    command = [sys.executable, "-m", "qmrigenes.cli", "associate", str(work / "pd.csv"), "--sets", "celltypes",
               "--n-perm", str(n_perm), "--out", str(work / "out.csv"), "--quiet", "--force"]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    print(f"qmrigenes associate, 9 cell types x 1 map, {n_perm:,} gene draws + {n_perm:,} spins: "
          f"{', '.join(f'{s:.1f}' for s in times)} s (median {sorted(times)[len(times) // 2]:.1f} s)")


if __name__ == "__main__":
    main()
