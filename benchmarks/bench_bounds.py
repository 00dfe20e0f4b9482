"""Benchmark: the documented maxima of `qmrigenes.associate` are bounded in time (issue #20).

Run on demand: ``python benchmarks/bench_bounds.py [--quick]``. Prints, in one run:

1. spin generation, ours (hash-set duplicate check) against neuromaps' ``gen_spinsamples``
   (pairwise duplicate check, quadratic in the number of spins) on the 68 DK centroids, at
   1,000 / 4,000 / 10,000 spins: seconds, the ratio, and the time per spin at 10,000 over
   that at 1,000 (1 = linear); the spins must be identical;
2. ``associate`` on a 68-region map with 9 cell-type sets at 10,000 draws and at the
   enforced maximum ``MAX_PERM`` (100,000): seconds per null, for the docstring.

3. ``random_gene_set_null`` for the 9 cell-type sets at 10,000 draws and at its maximum
   ``MAX_NULL_DRAWS`` (1,000,000).

``--quick`` skips the neuromaps runs above 4,000 spins and the maximum.
"""
import sys
import time

import numpy as np
import pandas as pd


def _centroids():
    from qmrigenes.surface import sphere_centroids

    left = sphere_centroids(hemisphere="L").rename(lambda r: "L_" + r)
    right = sphere_centroids(hemisphere="R").rename(lambda r: "R_" + r)
    return pd.concat([left, right]), np.r_[np.zeros(34, int), np.ones(34, int)]


def spins(quick: bool) -> None:
    from neuromaps.nulls.spins import gen_spinsamples

    from qmrigenes.stats.spatial import spin_permutations

    cents, hemi = _centroids()
    per_spin, per_ref = {}, {}
    for n in (1_000, 4_000, 10_000):
        t = time.perf_counter()
        ours = spin_permutations(cents, hemiid=hemi, n_perm=n, seed=1).to_numpy()
        t_ours = time.perf_counter() - t
        per_spin[n] = t_ours / n
        line = f"spins n={n:>6,}: ours {t_ours:6.1f} s"
        if not quick or n <= 1_000:
            t = time.perf_counter()
            ref = gen_spinsamples(cents.to_numpy(), hemi, n_rotate=n, seed=1, method="hungarian").T
            t_ref = time.perf_counter() - t
            assert (ref == ours).all(), "spins differ from neuromaps"
            per_ref[n] = t_ref / n
            line += f", neuromaps {t_ref:6.1f} s, ratio neuromaps/ours {t_ref / t_ours:4.1f} (identical spins)"
        print(line, flush=True)
    line = f"time per spin at 10,000 / at 1,000: ours {per_spin[10_000] / per_spin[1_000]:.2f}"
    if 10_000 in per_ref:
        line += f", neuromaps {per_ref[10_000] / per_ref[1_000]:.2f}"
    print(line + " (1 = linear; a shared machine adds noise)")


def maxima(quick: bool) -> None:
    from qmrigenes.association import MAX_PERM, associate
    from qmrigenes.datasets import load_ahba_dk

    cortex = load_ahba_dk().xs("cortex", level="structure")
    m = cortex["PVALB"].rename("PVALB")
    m.index = [f"{h.lower()}h_{r}" for h, r in m.index]
    associate(m, nulls=("genes",), n_perm=10, progress=False)          # data loaded once
    for n in (10_000,) + (() if quick else (MAX_PERM,)):
        for nulls in (("genes",), ("genes", "spins")):
            t = time.perf_counter()
            associate(m, nulls=nulls, n_perm=n, progress=False)
            print(f"associate 68 regions x 9 sets, n_perm={n:,}, nulls={'+'.join(nulls)}: "
                  f"{time.perf_counter() - t:.1f} s", flush=True)


def gene_null(quick: bool) -> None:
    from qmrigenes.datasets import DK_CORTICAL_REGIONS, celltype_gene_sets, load_ahba_dk, load_celltype_panel
    from qmrigenes.stats.genesets import MAX_NULL_DRAWS, gene_map_correlations, genes_present, random_gene_set_null

    cx = load_ahba_dk().xs("cortex", level="structure").xs("L", level="hemisphere").loc[list(DK_CORTICAL_REGIONS)]
    panel = load_celltype_panel()
    corr = gene_map_correlations(cx, cx["PVALB"].rename("m"))
    sizes = genes_present(celltype_gene_sets(panel), corr)["n_present"].to_dict()
    for n in (10_000,) + (() if quick else (MAX_NULL_DRAWS,)):
        t = time.perf_counter()
        random_gene_set_null(corr, sizes, background=list(panel.index), n_perm=n, seed=0)
        print(f"random_gene_set_null, 9 cell-type sets, n_perm={n:,}: {time.perf_counter() - t:.1f} s", flush=True)


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    spins(quick)
    maxima(quick)
    gene_null(quick)
