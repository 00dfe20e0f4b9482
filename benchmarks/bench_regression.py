"""Benchmark: the genome-wide OLS of Chapter 2 against the best plain alternative.

Run on demand (``make bench``). For one map and every gene, the slope's two-sided p-value of
``y = b0 + b1 x_g`` equals that of Pearson's r, so the plain alternative is one vectorised call,
``scipy.stats.pearsonr(X, y[:, None], axis=0)``. A per-gene statsmodels loop (what a first
implementation does) is timed on a subset and extrapolated, for scale only. Prints the times,
the ratios in this one run and the largest p-value difference.
"""
import time

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from qmrigenes.stats.regression import genome_wide_ols


def _best(fn, repeat: int = 7) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(n_rois: int = 34, n_genes: int = 15633, seed: int = 0, n_loop: int = 500) -> None:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(n_rois, n_genes)), columns=[f"G{i}" for i in range(n_genes)])
    y = pd.Series(0.5 * x["G0"] + rng.normal(size=n_rois))
    ours = genome_wide_ols(x, y).table["p"].to_numpy()
    xv, yv = x.to_numpy(), y.to_numpy()
    plain = stats.pearsonr(xv, yv[:, None], axis=0).pvalue
    t_ours = _best(lambda: genome_wide_ols(x, y))
    t_plain = _best(lambda: stats.pearsonr(xv, yv[:, None], axis=0))
    yz = (yv - yv.mean()) / yv.std(ddof=1)
    t = time.perf_counter()
    p_loop = [sm.OLS(yz, sm.add_constant(xv[:, j])).fit().pvalues[1] for j in range(n_loop)]
    t_loop = (time.perf_counter() - t) * n_genes / n_loop
    print(f"genome-wide OLS p-values, {n_genes:,} genes x {n_rois} ROIs (best of 7)")
    print(f"  qmrigenes genome_wide_ols:      {1000 * t_ours:8.1f} ms  (slope, intercept, se, t, p, r)")
    print(f"  scipy.stats.pearsonr(axis=0):   {1000 * t_plain:8.1f} ms  (r, p)")
    print(f"  statsmodels per-gene loop:      {t_loop:8.1f} s   (extrapolated from {n_loop} genes)")
    print(f"  ratio pearsonr / ours: {t_plain / t_ours:.2f}  (> 1: ours is faster)")
    print(f"  ratio loop / ours:     {t_loop / t_ours:.0f}")
    print(f"  max |p - p_pearsonr| = {np.abs(ours - plain).max():.1e}; "
          f"max |p - p_statsmodels| = {np.abs(ours[:n_loop] - np.asarray(p_loop)).max():.1e}")


if __name__ == "__main__":
    main()
