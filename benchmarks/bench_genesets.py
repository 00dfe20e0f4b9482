"""Benchmark: vectorised random-gene-set resampling vs a naive per-draw loop.

Run: ``QMRIGENES_MIRROR=../shared/data python benchmarks/bench_genesets.py``.
Uses the real data of Chapter 1 (AHBA left cortex, the 2,511-gene panel and
the clinical-MPM maps). The naive loop draws one random set at a time and
recomputes the Pearson correlations of its genes with the maps (what a
straightforward implementation does); it is timed on a subset of draws and
extrapolated to 10,000 draws x 9 sets. Prints times and their ratio.
"""
import time

import numpy as np

from qmrigenes import mpm
from qmrigenes.datasets import celltype_gene_sets, load_celltype_panel
from qmrigenes.stats.genesets import (gene_map_correlations, gene_set_scores, genes_present,
                                      random_gene_set_null)

N_PERM = 10_000
N_NAIVE = 300


def naive(expression, maps, background, sizes, n_draws, seed=0):
    rng = np.random.default_rng(seed)
    pool = np.asarray([g for g in background if g in expression.columns])
    values = maps.to_numpy(float)
    out = np.empty((n_draws, len(sizes), values.shape[1]))
    for k in range(n_draws):
        for j, size in enumerate(sizes):
            genes = rng.choice(pool, size=size, replace=False)
            x = expression[genes].to_numpy()
            r = [[np.corrcoef(x[:, g], values[:, m])[0, 1] for m in range(values.shape[1])]
                 for g in range(size)]
            out[k, j] = np.nanmean(r, axis=0)
    return out


def main():
    expr = mpm.ahba_left_cortex()
    panel = load_celltype_panel()
    sets = celltype_gene_sets(panel)
    maps = mpm.clinical_mpm_model().dk
    sizes = genes_present(sets, expr.columns).loc[list(sets), "n_present"].tolist()

    t0 = time.perf_counter()
    corr = gene_map_correlations(expr, maps)
    gene_set_scores(corr, sets)
    random_gene_set_null(corr, sizes, background=panel.index, n_perm=N_PERM, seed=0)
    t_vec = time.perf_counter() - t0

    t0 = time.perf_counter()
    naive(expr, maps, panel.index, sizes, N_NAIVE)
    t_naive = (time.perf_counter() - t0) * N_PERM / N_NAIVE

    print(f"vectorised: {N_PERM} draws x {len(sizes)} sets x {maps.shape[1]} maps in {t_vec:.2f} s")
    print(f"naive loop: {t_naive:.1f} s (extrapolated from {N_NAIVE} draws)")
    print(f"ratio naive / vectorised: {t_naive / t_vec:.0f}x")


if __name__ == "__main__":
    main()
