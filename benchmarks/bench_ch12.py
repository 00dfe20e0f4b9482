"""Benchmark: chapter 2's speed round (issue #22) against the best plain alternative, in one run.

Run: ``python benchmarks/bench_ch12.py [--quick]`` (``make bench`` runs every benchmark). CPU
seconds of this process, best of ``REPEAT``; each line prints the ratio and checks the outputs:

1. ``regression.mixed_model_ols`` on the chapter's calibration size (300 null genes, the 34 ROIs
   in 17 left-right pairs): one statsmodels ``MixedLM.fit`` per gene started at the REML optimum
   (``method="statsmodels"``, the previous default and the best plain alternative: statsmodels'
   default start costs about 3x more, ``bench_chapfast.py``) against the closed-form Wald test at
   the same optimum for all genes at once (the default); the largest relative differences are
   printed (about 1e-14 inside the parameter space, 1e-8 at the boundary, where statsmodels stops
   at a variance ratio of about 1e-8 instead of 0).

``--quick`` uses 100 genes.
"""
import os
import sys

REPEAT = 3
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_chapfast import best_of as _best_of, line  # noqa: E402  (one timer, one line format)


def best_of(fn, repeat=REPEAT):
    """Least CPU time of ``repeat`` calls of ``fn``, and its last output (bench_chapfast's timer)."""
    return _best_of(fn, repeat=repeat)


def main(quick=False):
    from qmrigenes import ahba, design
    from qmrigenes.datasets import load_ahba_sample_annotations
    from qmrigenes.stats import regression as rg

    table = ahba.roi_structure_table()
    sampling = ahba.roi_sampling(load_ahba_sample_annotations(), table=table)
    qsm = ahba.simulate_qsm(table, seed=2024)

    # 1. the mixed model on the calibration's null genes (as power_by_design simulates them)
    n_mixed = 100 if quick else 300
    genes = [f"g{i}" for i in range(n_mixed)]
    q = rg.zscore(qsm)
    sim = ahba.simulate_roi_expression(sampling, q, genes, lr_corr=0.7, table=table, seed=1003)
    expr, _ = ahba.average_donors({d: ahba.zscore_rois(m)[0] for d, m in sim.roi_means.items()},
                                  rois=list(q.index))
    q, pairs = q.loc[expr.index], ahba.roi_pairs(table)
    rg.mixed_model_ols(expr.iloc[:, :5], q, groups=pairs)           # warm both paths' imports
    rg.mixed_model_ols(expr.iloc[:, :5], q, groups=pairs, method="statsmodels")
    t_plain, plain = best_of(lambda: rg.mixed_model_ols(expr, q, groups=pairs, method="statsmodels"),
                             repeat=1 if not quick else 2)
    t_fast, fast = best_of(lambda: rg.mixed_model_ols(expr, q, groups=pairs))
    inside = fast["group_var"] > 1e-3
    rel = {c: float(((fast[c] - plain[c]).abs() / plain[c].abs()).max()) for c in ("slope", "se", "p")}
    rel_in = {c: float(((fast[c] - plain[c]).abs() / plain[c].abs())[inside].max()) for c in ("slope", "se", "p")}
    assert max(rel.values()) < 1e-6 and max(rel_in.values()) < 1e-11, (rel, rel_in)
    assert ((fast["p"] < 0.05) == (plain["p"] < 0.05)).all()
    line(f"mixed_model_ols, {n_mixed} genes, 17 pairs", t_plain, t_fast,
         f"max relative difference slope/se/p {rel['slope']:.1e}/{rel['se']:.1e}/{rel['p']:.1e} "
         f"({int((~inside).sum())} genes at the boundary), inside {max(rel_in.values()):.1e}; "
         "same decisions at 0.05")


if __name__ == "__main__":
    main(quick="--quick" in sys.argv)
