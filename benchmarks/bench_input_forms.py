"""Benchmark: `qmrigenes associate` on each input form a researcher has (issue #19).

Run on demand: ``python benchmarks/bench_input_forms.py [n_perm]`` (default 10,000). Each form runs
the documented command in a fresh process with ``--per-gene``, ``--plot`` and ``--report`` and
prints the map used, wall time and the command's peak resident memory (``ru_maxrss`` of the
child), and checks that the table, the figure and the methods paragraph were written:

* a NIfTI volume: nilearn's MNI152 grey-matter probability map (real), 68 cortical + 14 deep grey
  regions, split spatial null;
* a two-hemisphere surface pair: the fsaverage subject's cortical thickness on fsaverage5, as
  nilearn ships it (real);
* a cortex + deep grey table: clinical MPM proton density (Cooper et al. 2020; real), 34 left DK
  regions through the book's crosswalk plus the 7 left deep grey structures;
* a ``.gmt`` library: the same PD table against the 9 cell-type sets written as a ``.gmt`` file;
* the thickness pair again on Schaefer-100 (``--atlas schaefer100``; 99 parcels with expression).

To check a fresh install, run it with the new environment's Python (``/path/to/venv/bin/python
benchmarks/bench_input_forms.py``): the command then runs from that environment.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _inputs(work: Path) -> list[tuple[str, list[str], list[str]]]:
    import nilearn
    import pandas as pd

    from qmrigenes.ahba import load_crosswalk
    from qmrigenes.datasets import celltype_gene_sets, load_clinical_mpm, load_celltype_panel
    from qmrigenes.surface import neuromorphometrics_to_dk

    data = Path(os.path.dirname(nilearn.__file__)) / "datasets" / "data"
    mpm = load_clinical_mpm()
    labels = mpm[mpm["parameter"] == "PD"].groupby("region")["value"].mean()
    cortex = neuromorphometrics_to_dk(labels.to_frame("PD").T).T["PD"]
    cw = load_crosswalk().dropna(subset=["ahba_dk_region"])
    deep = labels.reindex(cw["clinical_mpm_region"]).set_axis(cw["ahba_dk_region"])
    table = pd.concat([cortex, deep]).rename("PD")
    table.index = "lh_" + table.index
    table.to_csv(work / "pd_cortex_deepgrey.csv")
    gmt = work / "celltypes.gmt"
    gmt.write_text("".join(f"{name}\tShin et al. 2018 panel\t" + "\t".join(genes) + "\n"
                           for name, genes in celltype_gene_sets(load_celltype_panel()).items()))
    return [
        ("NIfTI volume (nilearn MNI152 GM probability)",
         [str(data / "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz")], ["--sets", "iron-myelin"]),
        ("surface pair (fsaverage thickness, fsaverage5)",
         [str(data / "fsaverage5" / "thick_left.gii.gz"), str(data / "fsaverage5" / "thick_right.gii.gz")],
         ["--sets", "celltypes"]),
        ("cortex + deep grey table (clinical MPM PD, 41 regions)", [str(work / "pd_cortex_deepgrey.csv")],
         ["--sets", "iron-myelin"]),
        (".gmt library (9 cell-type sets) on the PD table", [str(work / "pd_cortex_deepgrey.csv")],
         ["--sets", str(gmt)]),
        ("Schaefer-100 surface pair (fsaverage thickness, fsaverage5)",
         [str(data / "fsaverage5" / "thick_left.gii.gz"), str(data / "fsaverage5" / "thick_right.gii.gz")],
         ["--sets", "celltypes", "--atlas", "schaefer100"]),
    ]


WRAP = ("import resource, sys\nfrom qmrigenes.cli import main\ncode = main(sys.argv[1:])\n"
        "print('PEAK', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\nsys.exit(code)")


def main(n_perm: int = 10_000) -> None:
    work = Path(tempfile.mkdtemp())
    for k, (label, maps, extra) in enumerate(_inputs(work)):
        out = work / f"r{k}"
        cmd = [sys.executable, "-c", WRAP, "associate", *maps, *extra, "--n-perm", str(n_perm),
               "--out", f"{out}.csv", "--per-gene", f"{out}_genes.csv", "--plot", f"{out}.png",
               "--report", f"{out}.md", "--quiet"]
        t = time.perf_counter()
        run = subprocess.run(cmd, capture_output=True, text=True)
        seconds = time.perf_counter() - t
        if run.returncode != 0:
            raise SystemExit(f"{label}: {run.stderr.strip()}")
        peak = int(next(ln for ln in run.stderr.splitlines() if ln.startswith("PEAK")).split()[1])
        written = all(Path(f"{out}{s}").stat().st_size > 0 for s in (".csv", "_genes.csv", ".png", ".md"))
        print(f"{label}: {seconds:.1f} s, peak {peak / 1024:.0f} MB, table + per-gene + figure + "
              f"methods written: {written}\n  {run.stdout.splitlines()[0]}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
