"""Benchmark: gene-set libraries at scale (issue #19): time and peak memory for 9, 30 and 300 sets.

Run on demand: ``python benchmarks/bench_gene_sets_scale.py``. Each case runs in a fresh process
(so peak memory is its own): ``qmrigenes.associate`` on a real map (left-hemisphere PVALB
expression, 34 DK regions) with 10,000 random-gene draws (``nulls=("genes",)``), for

* the 9 built-in cell-type sets (background: the 2,511-gene panel), and
* 30 and 300 sets written to a ``.gmt`` file, each a seeded random sample of 10 to 500 AHBA
  genes (background: all 15,633 genes) -- the shape of a real library.

Prints wall time and peak resident memory (``ru_maxrss``) per case, and the ratio to 9 sets.
Up to 10 distinct set sizes the null is drawn once per size; above, one nested draw serves
every size (``random_gene_set_null(method="auto")``).
"""
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CASE = r"""
import json, resource, sys, time
import numpy as np
from qmrigenes import associate
from qmrigenes.datasets import DK_CORTICAL_REGIONS, load_ahba_dk
cortex = load_ahba_dk().xs("cortex", level="structure").xs("L", level="hemisphere")
m = cortex["PVALB"].rename("PVALB").loc[list(DK_CORTICAL_REGIONS)]
sets = sys.argv[1]
t = time.perf_counter()
table = associate(m, hemisphere="L", sets=sets, nulls=("genes",), n_perm=10_000, progress=False)
seconds = time.perf_counter() - t
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "n_sets": len(table)}))
"""


def _gmt(n_sets: int, folder: Path) -> Path:
    import numpy as np

    from qmrigenes.datasets import load_ahba_dk

    genes = np.asarray(load_ahba_dk().columns)
    rng = np.random.default_rng(n_sets)
    path = folder / f"random_{n_sets}.gmt"
    lines = []
    for k in range(n_sets):
        size = int(rng.integers(10, 501))
        lines.append("\t".join([f"SET_{k:03d}", "random AHBA genes"] + list(rng.choice(genes, size, replace=False))))
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    work = Path(tempfile.mkdtemp())
    cases = [("9 cell-type sets", "celltypes"), ("30 sets (.gmt)", str(_gmt(30, work))),
             ("300 sets (.gmt)", str(_gmt(300, work)))]
    base = None
    for label, sets in cases:
        out = subprocess.run([sys.executable, "-c", CASE, sets], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        base = base or r
        print(f"{label:>18}: {r['seconds']:6.1f} s, peak {r['peak_mb']:6.0f} MB "
              f"(x{r['seconds'] / base['seconds']:.1f} time, x{r['peak_mb'] / base['peak_mb']:.1f} memory of 9 sets)",
              flush=True)


if __name__ == "__main__":
    main()
