"""Gene-set association scores and random-gene-set nulls (gene specificity).

The statistic is separated from the null, as in neuromaps:

1. :func:`gene_map_correlations` computes, once, the Pearson correlation of every
   gene's regional expression with every map (genes x maps);
2. :func:`gene_set_scores` averages those correlations over each set's genes;
3. :func:`random_gene_set_null` draws random gene sets of equal size from a
   reference panel and averages the *precomputed* correlations, so 10,000 draws
   cost one fancy-indexing operation per set instead of 10,000 correlation
   computations;
4. :func:`null_pvalues` turns observed scores and a null into two-sided
   empirical p-values.

Spatial nulls (spun maps) reuse step 1 with the spun maps as extra columns.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "gene_map_correlations",
    "genes_present",
    "gene_set_scores",
    "random_gene_set_null",
    "null_pvalues",
]


def _as_frame(maps) -> pd.DataFrame:
    if isinstance(maps, pd.Series):
        return maps.to_frame(name=maps.name if maps.name is not None else "map")
    if isinstance(maps, pd.DataFrame):
        return maps
    raise TypeError(f"maps must be a pandas Series or DataFrame, got {type(maps).__name__}")


def _zscore_columns(values: np.ndarray) -> np.ndarray:
    centred = values - values.mean(axis=0)
    norm = np.sqrt((centred ** 2).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / norm


def gene_map_correlations(expression: pd.DataFrame, maps) -> pd.DataFrame:
    """Pearson correlation of each gene's regional expression with each map.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_regions, n_genes)
        Regional expression; columns are gene symbols (must be unique).
    maps : pandas.DataFrame, shape (n_regions, n_maps), or pandas.Series
        Regional values of one or more maps, with the same region index as
        ``expression`` (same labels; order may differ, it is aligned).

    Returns
    -------
    pandas.DataFrame, shape (n_genes, n_maps)
        Pearson r. Genes with zero variance across regions get NaN.

    Raises
    ------
    ValueError
        Region labels differ, values contain NaN, or gene symbols repeat.
    """
    maps = _as_frame(maps)
    if expression.columns.duplicated().any():
        dups = sorted(set(expression.columns[expression.columns.duplicated()]))[:10]
        raise ValueError(f"duplicated gene symbols in expression: {dups}")
    if expression.index.duplicated().any() or maps.index.duplicated().any():
        raise ValueError("region labels must be unique in expression and maps")
    missing = maps.index.difference(expression.index)
    extra = expression.index.difference(maps.index)
    if len(missing) or len(extra):
        raise ValueError(f"expression and maps cover different regions: only in maps {list(missing)[:10]}, "
                         f"only in expression {list(extra)[:10]}")
    expr = expression.loc[maps.index].to_numpy(dtype=float)
    values = maps.to_numpy(dtype=float)
    if np.isnan(expr).any():
        raise ValueError("expression contains NaN")
    if np.isnan(values).any():
        bad = maps.columns[np.isnan(values).any(axis=0)].tolist()
        raise ValueError(f"maps contain NaN (columns {bad})")
    if len(maps.index) < 3:
        raise ValueError("need at least 3 regions to correlate")
    r = _zscore_columns(expr).T @ _zscore_columns(values)
    return pd.DataFrame(r, index=expression.columns, columns=maps.columns)


def genes_present(gene_sets: Mapping[str, Sequence[str]], genes) -> pd.DataFrame:
    """How many genes of each set are present in ``genes``.

    Returns
    -------
    pandas.DataFrame
        Index: set name. Columns ``n_genes`` (set size), ``n_present`` and
        ``missing`` (the absent symbols, comma-separated).
    """
    genes = pd.Index(genes)
    rows = {}
    for name, members in gene_sets.items():
        members = pd.Index(members)
        absent = members.difference(genes)
        rows[name] = {"n_genes": len(members), "n_present": len(members) - len(absent),
                      "missing": ", ".join(absent)}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("gene_set")


def _present(gene_sets, index) -> dict[str, np.ndarray]:
    out = {}
    for name, members in gene_sets.items():
        if pd.Index(members).duplicated().any():
            raise ValueError(f"gene set {name!r} lists a gene twice")
        pos = index.get_indexer(pd.Index(members))
        pos = pos[pos >= 0]
        if pos.size == 0:
            raise ValueError(f"gene set {name!r} has no gene present in the expression table")
        out[name] = pos
    return out


def gene_set_scores(correlations: pd.DataFrame, gene_sets: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Mean gene-map correlation over each set's genes that are present.

    Parameters
    ----------
    correlations : pandas.DataFrame, shape (n_genes, n_maps)
        Output of :func:`gene_map_correlations`.
    gene_sets : mapping of str to sequence of str
        Gene symbols per set; absent symbols are ignored (report them with
        :func:`genes_present`), but a set with none present is an error.

    Returns
    -------
    pandas.DataFrame, shape (n_sets, n_maps)
    """
    pos = _present(gene_sets, correlations.index)
    values = correlations.to_numpy()
    scores = np.vstack([np.nanmean(values[p], axis=0) for p in pos.values()])
    return pd.DataFrame(scores, index=pd.Index(list(pos), name="gene_set"), columns=correlations.columns)


def random_gene_set_null(correlations: pd.DataFrame, sizes: Mapping[str, int] | Sequence[int], *,
                         background=None, n_perm: int = 10_000, seed: int = 0) -> np.ndarray:
    """Scores of random gene sets of equal size (the gene-specificity null).

    Parameters
    ----------
    correlations : pandas.DataFrame, shape (n_genes, n_maps)
        Output of :func:`gene_map_correlations`.
    sizes : mapping of set name to size, or sequence of int
        Number of genes to draw for each set (use the number *present*).
    background : sequence of str, optional
        Reference panel to draw from; only genes present in ``correlations``
        (with finite r) are used. Default: all genes in ``correlations``.
    n_perm : int, optional
        Number of random sets per size. Default 10,000.
    seed : int, optional
        Seed of the random generator. Default 0.

    Returns
    -------
    numpy.ndarray, shape (n_perm, n_sets, n_maps)
        Mean correlation of each random set. Within a draw, genes are
        sampled without replacement.
    """
    if n_perm < 1:
        raise ValueError(f"n_perm must be positive, got {n_perm}")
    sizes = list(sizes.values()) if isinstance(sizes, Mapping) else list(sizes)
    values = correlations.to_numpy(dtype=float)
    pool = np.arange(len(correlations)) if background is None else \
        correlations.index.get_indexer(pd.Index(background))
    pool = pool[pool >= 0]
    pool = pool[np.isfinite(values[pool]).all(axis=1)]
    if pool.size == 0:
        raise ValueError("no background gene is present in the correlation table")
    if max(sizes) > pool.size:
        raise ValueError(f"cannot draw {max(sizes)} genes from a background of {pool.size}")
    rng = np.random.default_rng(seed)
    table = values[pool]                                   # (n_pool, n_maps)
    out = np.empty((n_perm, len(sizes), values.shape[1]))
    for j, size in enumerate(sizes):
        if size < 1:
            raise ValueError(f"set sizes must be positive, got {size}")
        out[:, j, :] = table[_sample_subsets(rng, pool.size, size, n_perm)].mean(axis=1)
    return out


def _sample_subsets(rng: np.random.Generator, n: int, k: int, n_draw: int) -> np.ndarray:
    """``n_draw`` uniformly random ``k``-subsets of ``range(n)``, shape (n_draw, k).

    Small ``k``: Floyd's algorithm, vectorised over draws (O(n_draw k^2),
    independent of ``n``). Large ``k``: the ``k`` smallest of ``n`` uniform keys.
    Order within a row is not random; only the subset is.
    """
    if not 0 < k <= n:
        raise ValueError(f"cannot draw {k} of {n}")
    if k * k > 4 * n:
        return np.argpartition(rng.random((n_draw, n)), k - 1, axis=1)[:, :k]
    out = np.empty((n_draw, k), dtype=np.intp)
    rows = np.arange(n_draw)
    for col, top in enumerate(range(n - k, n)):
        pick = rng.integers(0, top + 1, size=n_draw)
        taken = (out[:, :col] == pick[:, None]).any(axis=1)
        out[rows, col] = np.where(taken, top, pick)
    return out


def null_pvalues(observed, null) -> np.ndarray:
    """Two-sided empirical p-values of ``observed`` under ``null``.

    Parameters
    ----------
    observed : array_like, shape S
        Observed statistics.
    null : array_like, shape (n_perm, *S)
        Null statistics, draws on the first axis.

    Returns
    -------
    numpy.ndarray, shape S
        ``p = min(1, 2 * min(k_hi + 1, k_lo + 1) / (n_perm + 1))`` where
        ``k_hi`` (``k_lo``) counts null values >= (<=) the observed one: the
        doubled smaller tail, with the +1 that keeps p above zero.
    """
    observed = np.asarray(observed, dtype=float)
    null = np.asarray(null, dtype=float)
    if null.shape[1:] != observed.shape:
        raise ValueError(f"null shape {null.shape} does not match observed shape {observed.shape}")
    n = null.shape[0]
    k_hi = (null >= observed).sum(axis=0)
    k_lo = (null <= observed).sum(axis=0)
    return np.minimum(1.0, 2 * (np.minimum(k_hi, k_lo) + 1) / (n + 1))
