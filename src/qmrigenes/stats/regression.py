"""Genome-wide regression of regional QSM (or another map) on gene expression.

Follows Cohen et al. (2024), ``regressionGeneDG.m`` and ``geneQSMComparison.m``:
for every gene an OLS of the z-scored mean QSM on the gene's (donor-averaged,
z-scored) expression across ROIs, with a two-tailed t-test of the slope
(df = n - 2); Benjamini-Hochberg and Bonferroni corrections (statsmodels
``multipletests``); the paper's BH code as published; per-donor regressions;
and PLS regression with leave-one-out cross-validation over the number of
components (scikit-learn).

The genome-wide OLS is vectorised over genes (one matrix product), and agrees
with a per-gene statsmodels loop to 1e-10 (tests/test_regression.py).
"""
from __future__ import annotations

import math

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import special

from .multitest import bh_as_published, bonferroni, fdr_bh
from .standardize import zscore

from .._validate import (as_array, check_bool, check_choice, check_gene_sets, check_genes, check_int,
                         check_scalar, check_seed, check_unique, describe)
from .genesets import _sample_subsets

#: Upper bound on permutation / random-draw counts in this module.
MAX_DRAWS = 1_000_000

__all__ = [
    "zscore",
    "GenomeWideOLS",
    "genome_wide_ols",
    "genome_wide_cluster_ols",
    "mixed_model_ols",
    "bh_as_published",
    "correct",
    "compare_bh",
    "gene_table",
    "per_donor_ols",
    "pls_loocv",
    "set_coexpression",
    "coexpression_matched_null",
    "permutation_set_null",
    "set_level_tests",
    "map_gene_tables",
]


class GenomeWideOLS(NamedTuple):
    """Result of :func:`genome_wide_ols`.

    Attributes
    ----------
    table : pandas.DataFrame, shape (n_genes, 7)
        Per gene: ``slope``, ``intercept``, ``se`` (of the slope), ``t``,
        ``p`` (two-tailed, df = n - 2), ``r`` (Pearson) and ``n``.
    zero_variance : pandas.Index
        Genes excluded because their expression does not vary across ROIs.
    """

    table: pd.DataFrame
    zero_variance: pd.Index



def _t_sf(t, df):
    """Student t survival function: ``scipy.stats.t.sf(t, df)`` for ``df > 0`` (the same ``stdtr``).

    ``scipy.special.stdtr`` is what ``scipy.stats.t.sf`` evaluates; calling it directly spares
    every kernel that imports this module the import of ``scipy.stats`` (about 1.3 s).
    """
    return special.stdtr(df, -np.asarray(t, dtype=float))

def _check_inputs(expression: pd.DataFrame, y: pd.Series, name: str = "y") -> pd.Series:
    """Checked ``y``, aligned by ROI name to ``expression`` (same names, any order)."""
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(f"expression must be a DataFrame (ROIs x genes), got {describe(expression)}")
    if not isinstance(y, pd.Series):
        raise TypeError(f"{name} (the map) must be a Series indexed by ROI, got {describe(y)}")
    if y.isna().any():
        raise ValueError(f"{name} (the map) has NaN values at {list(y.index[y.isna()])}")
    as_array(y, name, ndim=1)
    check_unique(expression.index, "expression.index (ROI names)")
    check_unique(y.index, f"{name}.index (ROI names)")
    if not expression.index.equals(y.index):
        if set(expression.index) == set(y.index) and len(expression.index) == len(y.index):
            y = y.reindex(expression.index)         # aligned by ROI name, never by position
    if not expression.index.equals(y.index):
        only_x = [r for r in expression.index if r not in set(y.index)]
        only_y = [r for r in y.index if r not in set(expression.index)]
        raise ValueError(f"expression and map cover different ROIs: only in expression {only_x}, only in map {only_y}")
    if expression.columns.duplicated().any():
        raise ValueError(f"duplicated genes: {sorted(set(expression.columns[expression.columns.duplicated()]))[:10]}")
    if len(y) < 3:
        raise ValueError(f"{name} must cover at least 3 ROIs, got {len(y)}")
    if np.ptp(y.to_numpy(dtype=float)) == 0:
        raise ValueError(f"{name} (the map) is constant ({y.iloc[0]!r} in every ROI); "
                         f"a regression on it is undefined")
    return y


def genome_wide_ols(expression: pd.DataFrame, y: pd.Series, *, standardize_y: bool = True,
                    standardize_x: bool = False) -> GenomeWideOLS:
    """OLS ``y = b0 + b1 * x_g`` for every gene ``g`` at once.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
        Expression per ROI (the donor-averaged z-scores of the paper).
        NaN is allowed only in whole columns (a gene missing everywhere is
        treated as zero-variance).
    y : pandas.Series, shape (n_rois,)
        The map (mean QSM per ROI), same index *and order* as ``expression``.
    standardize_y : bool, optional
        z-score ``y`` first (the paper's "normalized QSM"). Default True.
    standardize_x : bool, optional
        z-score each gene first (then slope = r when ``y`` is standardised).
        Default False: the paper regresses on averaged z-scores as they are.

    Returns
    -------
    GenomeWideOLS

    Raises
    ------
    ValueError
        NaN in ``y``, ROI names or order differ, fewer than 3 ROIs, partial NaN in a gene.
    """
    y = _check_inputs(expression, y)
    standardize_y = check_bool(standardize_y, "standardize_y")
    standardize_x = check_bool(standardize_x, "standardize_x")
    x = as_array(expression, "expression", ndim=2, allow_nan=True)
    nan = np.isnan(x)
    nan_cols = nan.any(axis=0)
    if nan_cols.any():
        partial = nan_cols & ~nan.all(axis=0)
        if partial.any():
            raise ValueError(f"genes with NaN in some ROIs: {list(expression.columns[partial][:10])}")
        scale = np.abs(x).max(axis=0, initial=0, where=~nan)
    else:
        scale = np.abs(x).max(axis=0, initial=0)
    yv = y.to_numpy(dtype=float)
    if standardize_y:
        yv = zscore(yv)
    n = len(yv)
    xc = x - x.mean(axis=0)
    sxx = (xc ** 2).sum(axis=0)
    scale = np.maximum(1.0, scale)
    zero = nan_cols | ~(sxx > (1e-12 * scale) ** 2 * n)
    keep = ~zero
    if zero.any():                  # (boolean indexing copies the whole matrix: only when needed)
        xc, sxx, xk = xc[:, keep], sxx[keep], x[:, keep]
    else:
        xk = x
    if standardize_x:
        xk = xc / np.sqrt(sxx / (n - 1))
        xc, sxx = xk - xk.mean(axis=0), np.full(xk.shape[1], n - 1.0)
    yc = yv - yv.mean()
    syy = yc @ yc
    sxy = yc @ xc
    slope = sxy / sxx
    intercept = yv.mean() - slope * xk.mean(axis=0)
    rss = np.maximum(syy - slope * sxy, 0.0)
    df = n - 2
    se = np.sqrt(rss / df / sxx)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = slope / se
        r = sxy / np.sqrt(sxx * syy)
    p = 2 * _t_sf(np.abs(t), df)
    table = pd.DataFrame({"slope": slope, "intercept": intercept, "se": se, "t": t, "p": p, "r": r, "n": n},
                         index=expression.columns[keep] if zero.any() else expression.columns)
    table.index.name = "gene"
    return GenomeWideOLS(table, expression.columns[zero])


def _check_groups(groups, index: pd.Index) -> np.ndarray:
    """Integer cluster codes of ``groups`` (a Series indexed like ``index``)."""
    if not isinstance(groups, pd.Series):
        raise TypeError(f"groups must be a Series indexed by ROI (e.g. qmrigenes.ahba.roi_pairs()), "
                        f"got {describe(groups)}")
    missing = [r for r in index if r not in groups.index]
    if missing:
        raise ValueError(f"groups has no cluster for ROIs {missing[:10]}")
    g = groups.loc[index]
    if g.isna().any():
        raise ValueError(f"groups is NaN for ROIs {list(g.index[g.isna()])[:10]}")
    codes = pd.factorize(g)[0]
    if codes.max() + 1 < 3:
        raise ValueError(f"groups must define at least 3 clusters, got {codes.max() + 1}")
    return codes


def genome_wide_cluster_ols(expression: pd.DataFrame, y: pd.Series, *, groups: pd.Series,
                            standardize_y: bool = True, standardize_x: bool = False) -> GenomeWideOLS:
    """Genome-wide OLS with cluster-robust (CR1) slope standard errors.

    The slopes are those of :func:`genome_wide_ols`; the slope variance is the
    sandwich ``sum_c (sum_{i in c} x_i e_i)^2 / Sxx^2`` with the small-sample
    factor ``G/(G-1) * (n-1)/(n-2)`` (Stata's CR1), and the t-test uses
    ``G - 1`` degrees of freedom (G clusters). Use it when regions come in
    clusters whose errors correlate, e.g. the left and right ROI of one
    structure (``groups=qmrigenes.ahba.roi_pairs(table)``). With few clusters
    (G < 20 or so) CR1 is known to be somewhat liberal; compare with the
    cluster means (one value per cluster, plain OLS).

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
    y : pandas.Series, shape (n_rois,)
    groups : pandas.Series
        Cluster label per ROI (index: ROI names, covering ``expression.index``).
    standardize_y, standardize_x : bool
        As in :func:`genome_wide_ols`.

    Returns
    -------
    GenomeWideOLS
        As :func:`genome_wide_ols`, with ``se``, ``t``, ``p`` cluster-robust and an
        extra column ``df`` (= G - 1).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idx = [f"roi{i}" for i in range(20)]
    >>> x = pd.DataFrame(rng.normal(size=(20, 3)), index=idx, columns=["a", "b", "c"])
    >>> y = pd.Series(rng.normal(size=20), index=idx)
    >>> groups = pd.Series(np.arange(20) // 2, index=idx)
    >>> int(genome_wide_cluster_ols(x, y, groups=groups).table["df"].iloc[0])
    9
    """
    base = genome_wide_ols(expression, y, standardize_y=standardize_y, standardize_x=standardize_x)
    y = _check_inputs(expression, y)
    codes = _check_groups(groups, expression.index)
    tab = base.table.copy()
    x = expression[tab.index].to_numpy(dtype=float)
    yv = y.to_numpy(dtype=float)
    if standardize_y:
        yv = zscore(yv)
    n, n_clusters = len(yv), codes.max() + 1
    xc = x - x.mean(axis=0)
    if standardize_x:
        xc = xc / np.sqrt((xc ** 2).sum(axis=0) / (n - 1))
    sxx = (xc ** 2).sum(axis=0)
    resid = (yv - yv.mean())[:, None] - xc * tab["slope"].to_numpy()[None, :]
    member = np.zeros((n_clusters, n))
    member[codes, np.arange(n)] = 1.0
    score = member @ (xc * resid)                         # (G, genes)
    factor = n_clusters / (n_clusters - 1) * (n - 1) / (n - 2)
    se = np.sqrt(factor * (score ** 2).sum(axis=0)) / sxx
    with np.errstate(divide="ignore", invalid="ignore"):
        t = tab["slope"].to_numpy() / se
    tab["se"], tab["t"] = se, t
    tab["p"] = 2 * _t_sf(np.abs(t), n_clusters - 1)
    tab["df"] = n_clusters - 1
    return GenomeWideOLS(tab, base.zero_variance)


def mixed_model_ols(expression: pd.DataFrame, y: pd.Series, *, groups: pd.Series,
                    standardize_y: bool = True, method: str = "closed_form") -> pd.DataFrame:
    """Per-gene linear mixed model ``y = b0 + b1 x + s_cluster + e`` (statsmodels' MixedLM model).

    A random intercept per cluster (e.g. per bilateral structure), REML,
    Wald z-test of the slope (statsmodels' default). The REML optimum of the
    variance ratio is found for all genes at once
    (:func:`_random_intercept_reml_ratio`). ``method="closed_form"`` (default)
    then evaluates statsmodels' estimates, standard errors and p-values at that
    optimum with cluster sums, for all genes at once (:func:`_random_intercept_wald`:
    statsmodels' GLS slope, REML scale and the inverse of its Hessian, written out
    for a random intercept); ``method="statsmodels"`` runs one statsmodels
    ``MixedLM.fit`` per gene started at that optimum (a few ms per gene). The two
    agree to 1e-11 relative where the random-intercept variance is away from 0, and
    to 1e-6 at that boundary, where statsmodels stops at a variance ratio of about
    1e-8 instead of 0 (tested); both far below any printed digit.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
    y : pandas.Series, shape (n_rois,)
    groups : pandas.Series
        Cluster label per ROI.
    standardize_y : bool, default True
        z-score ``y`` first.
    method : {"closed_form", "statsmodels"}
        How the Wald test is evaluated at the REML optimum (see above).

    Returns
    -------
    pandas.DataFrame
        Index gene; ``slope``, ``se``, ``p``, ``group_var`` (random-intercept
        variance, 0 at the boundary) and ``converged`` (statsmodels' flag; always
        True for the closed form, whose optimum is found by bracketing).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idx = [f"roi{i}" for i in range(20)]
    >>> x = pd.DataFrame(rng.normal(size=(20, 2)), index=idx, columns=["a", "b"])
    >>> y = pd.Series(rng.normal(size=20), index=idx)
    >>> list(mixed_model_ols(x, y, groups=pd.Series(np.arange(20) // 2, index=idx)).columns)
    ['slope', 'se', 'p', 'group_var', 'converged']
    """
    y = _check_inputs(expression, y)
    codes = _check_groups(groups, expression.index)
    standardize_y = check_bool(standardize_y, "standardize_y")
    check_choice(method, "method", ["closed_form", "statsmodels"])
    x = as_array(expression, "expression", ndim=2)
    yv = y.to_numpy(dtype=float)
    if standardize_y:
        yv = zscore(yv)
    ratio = _random_intercept_reml_ratio(x, yv, codes)
    if method == "closed_form":
        out = pd.DataFrame(_random_intercept_wald(x, yv, codes, ratio), index=expression.columns)
        out["converged"] = True
        out.index.name = "gene"
        return out
    import warnings

    from statsmodels.regression.mixed_linear_model import MixedLM   # (only here: a kernel without
    from statsmodels.tools.sm_exceptions import ConvergenceWarning   # statsmodels skips its import)

    start = np.sqrt(np.maximum(ratio, 1e-8))       # statsmodels' criterion is undefined at exactly 0
    rows = {}
    for j, gene in enumerate(expression.columns):
        design = np.column_stack([np.ones(len(yv)), x[:, j]])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            warnings.simplefilter("ignore", UserWarning)
            fit = MixedLM(yv, design, groups=codes).fit(reml=True, start_params=start[j:j + 1])
        rows[gene] = {"slope": float(fit.fe_params[1]), "se": float(fit.bse_fe[1]),
                      "p": float(fit.pvalues[1]), "group_var": float(np.asarray(fit.cov_re)[0, 0]),
                      "converged": bool(fit.converged)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "gene"
    return out


def _random_intercept_wald(x: np.ndarray, y: np.ndarray, codes: np.ndarray, g: np.ndarray) -> dict:
    """statsmodels' MixedLM REML results for ``y = b0 + b1 x_j + u_cluster + e``, every column at once.

    At the variance ratio ``g = sigma_u^2 / sigma_e^2`` (shape (n_genes,)), with cluster sizes
    ``m_c`` and ``a_c = 1 / (1 + m_c g)``, every quantity needs only cluster sums: the GLS fixed
    effects, the REML scale ``r' V0^-1 r / (n - 2)``, and statsmodels' ``MixedLM.hessian`` in
    (b0, b1, g) (its fixed-effect, cross and variance blocks, with the REML correction), whose
    inverse gives the slope's standard error; the p-value is the two-sided normal tail of
    ``slope / se``, as statsmodels' Wald test.

    Returns
    -------
    dict of numpy.ndarray, each shape (n_genes,)
        ``slope``, ``se``, ``p``, ``group_var`` (``g`` times the scale).
    """
    n = len(y)
    onehot = np.zeros((codes.max() + 1, n))
    onehot[codes, np.arange(n)] = 1.0
    m = onehot.sum(axis=1)[:, None]                      # (G, 1) cluster sizes
    sx, sy = onehot @ x, onehot @ y[:, None]             # cluster sums (G, genes), (G, 1)
    a = 1.0 / (1.0 + m * g[None, :])                     # (G, genes): 1' V_c^-1 1 = m a
    w = g[None, :] * a                                   # V_c^-1 = I - w 1 1'
    xtvix = np.empty((x.shape[1], 2, 2))                 # X' V0^-1 X per gene
    xtvix[:, 0, 0] = n - (w * m ** 2).sum(axis=0)
    xtvix[:, 0, 1] = xtvix[:, 1, 0] = x.sum(axis=0) - (w * m * sx).sum(axis=0)
    xtvix[:, 1, 1] = (x * x).sum(axis=0) - (w * sx ** 2).sum(axis=0)
    xtvy = np.stack([y.sum() - (w * m * sy).sum(axis=0), x.T @ y - (w * sx * sy).sum(axis=0)], axis=1)
    beta = np.linalg.solve(xtvix, xtvy[:, :, None])[:, :, 0]            # GLS (b0, b1) per gene
    resid = y[:, None] - beta[:, 0] - beta[:, 1] * x                     # (n, genes)
    sr = onehot @ resid
    rvir = (resid ** 2).sum(axis=0) - (w * sr ** 2).sum(axis=0)          # r' V0^-1 r
    fac = n - 2                                                          # REML: n - k_fe
    c1, d = m * a, sr * a                                                # 1'V^-1 1, 1'V^-1 r per cluster
    e = np.stack([m * a * np.ones_like(sx), sx * a], axis=-1)            # X_c' V_c^-1 1: (G, genes, 2)
    hess = np.empty((x.shape[1], 3, 3))
    hess[:, :2, :2] = -fac * xtvix / rvir[:, None, None]
    fere = -fac * (e * d[..., None]).sum(axis=0) / rvir[:, None]         # (genes, 2)
    hess[:, :2, 2] = hess[:, 2, :2] = fere
    b, dd = (d ** 2).sum(axis=0), 2 * (d ** 2 * c1).sum(axis=0)
    re = (c1 ** 2).sum(axis=0) / 2 - 0.5 * fac * (dd / rvir - b ** 2 / rvir ** 2)
    xtax = np.einsum("cgi,cgj->gij", e, e)                               # REML correction
    f = 2 * np.einsum("cg,cgi,cgj->gij", c1, e, e)
    ql = np.linalg.solve(xtvix, xtax)
    re += 0.5 * (np.einsum("gij,gji->g", ql, ql) - np.trace(np.linalg.solve(xtvix, f), axis1=1, axis2=2))
    hess[:, 2, 2] = re
    cov = np.linalg.inv(-hess)
    se = np.sqrt(cov[:, 1, 1])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = beta[:, 1] / se
    scale = rvir / fac
    return {"slope": beta[:, 1], "se": se, "p": 2 * special.ndtr(-np.abs(z)), "group_var": g * scale}


def _random_intercept_reml_ratio(x: np.ndarray, y: np.ndarray, codes: np.ndarray, *,
                                 tol: float = 1e-10) -> np.ndarray:
    """REML variance ratio of ``y = b0 + b1 x_j + u_cluster + e`` for every column ``x_j`` at once.

    With ``V = s2 (I + g Z Z')`` (random intercept, clusters of sizes ``m_c``), the REML
    criterion profiled over ``s2`` is, up to a constant,
    ``(n - 2) log RSS(g) + sum_c log(1 + m_c g) + log det(X' V0^-1 X)`` with
    ``V0^-1 = I - sum_c g / (1 + m_c g) 1_c 1_c'``, so every term needs only cluster
    sums. It is minimised over ``g >= 0`` on a log grid (and 0), then by golden-section
    search in the best cell, vectorised over columns: the statsmodels criterion's
    minimiser (``cov_re`` / ``scale``), to ``tol`` relative.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, n_genes)
    y : numpy.ndarray, shape (n,)
    codes : numpy.ndarray of int, shape (n,)
        Cluster index 0..G-1 of each observation.

    Returns
    -------
    numpy.ndarray, shape (n_genes,)
        ``g = sigma_u^2 / sigma_e^2`` (0 at the boundary).
    """
    n = len(y)
    onehot = np.zeros((codes.max() + 1, n))
    onehot[codes, np.arange(n)] = 1.0
    m = onehot.sum(axis=1)[:, None]                     # (G, 1) cluster sizes
    sx, sy = onehot @ x, onehot @ y[:, None]            # cluster sums (G, genes), (G, 1)
    tx, txx, txy = x.sum(axis=0), (x * x).sum(axis=0), x.T @ y
    ty, tyy = y.sum(), y @ y

    def criterion(g):                                   # g: (k, genes) -> (k, genes)
        w = g[:, None, :] / (1 + m[None] * g[:, None, :])             # (k, G, genes)
        a11 = n - (w * m[None] ** 2).sum(axis=1)
        a12 = tx - (w * m[None] * sx[None]).sum(axis=1)
        a22 = txx - (w * sx[None] ** 2).sum(axis=1)
        b1 = ty - (w * m[None] * sy[None]).sum(axis=1)
        b2 = txy - (w * sx[None] * sy[None]).sum(axis=1)
        yvy = tyy - (w * sy[None] ** 2).sum(axis=1)
        det = a11 * a22 - a12 * a12
        rss = yvy - (a22 * b1 * b1 - 2 * a12 * b1 * b2 + a11 * b2 * b2) / det
        return (n - 2) * np.log(rss) + np.log1p(m[None] * g[:, None, :]).sum(axis=1) + np.log(det)

    n_genes = x.shape[1]
    grid = np.r_[0.0, np.logspace(-6, 4, 121)]
    values = criterion(np.repeat(grid[:, None], n_genes, axis=1))
    best = values.argmin(axis=0)
    lo = grid[np.maximum(best - 1, 0)]
    hi = grid[np.minimum(best + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    c, d = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fc, fd = criterion(c[None])[0], criterion(d[None])[0]
    for _ in range(200):
        if not (hi - lo > tol * np.maximum(hi, 1e-6)).any():
            break
        left = fc < fd                                  # the minimum is in [lo, d]
        hi, lo = np.where(left, d, hi), np.where(left, lo, c)
        c_new, d_new = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        fc_new = np.where(left, criterion(c_new[None])[0], fd)
        fd_new = np.where(left, fc, criterion(d_new[None])[0])
        c, d, fc, fd = np.where(left, c_new, d), np.where(left, c, d_new), fc_new, fd_new
    g = (lo + hi) / 2
    at_zero = criterion(np.zeros((1, n_genes)))[0] <= criterion(g[None])[0]
    return np.where(at_zero, 0.0, g)


def _check_pvalues(p, name: str = "p") -> np.ndarray:
    pv = as_array(p, name, ndim=1)
    if ((pv < 0) | (pv > 1)).any():
        raise ValueError(f"{name} must be p-values in [0, 1], got values from {pv.min():g} to {pv.max():g}")
    return pv


def correct(p, *, alpha: float = 0.05) -> pd.DataFrame:
    """BH (FDR ``alpha``) and Bonferroni decisions and adjusted p (:mod:`qmrigenes.stats.multitest`).

    Returns
    -------
    pandas.DataFrame
        Columns ``p_bh``, ``bh`` (bool), ``p_bonferroni``, ``bonferroni`` (bool);
        index as ``p`` if it is a Series.
    """
    index = p.index if isinstance(p, pd.Series) else None
    pv = _check_pvalues(p)
    alpha = check_scalar(alpha, "alpha", min=0, min_inclusive=False, max=1, max_inclusive=False)
    p_bh, p_bf = fdr_bh(pv), bonferroni(pv)
    return pd.DataFrame({"p_bh": p_bh, "bh": p_bh <= alpha, "p_bonferroni": p_bf, "bonferroni": p_bf <= alpha},
                        index=index)


def compare_bh(p: pd.Series, *, alpha: float = 0.05, q_published: float = 1e-4,
               genes: Sequence[str] | None = None) -> pd.DataFrame:
    """How the published BH code's selection compares with standard BH.

    Returns
    -------
    pandas.DataFrame
        One row per procedure: ``n_significant`` genome-wide, ``max_p`` (largest
        significant p), ``n_in_genes`` (significant among ``genes``, if given),
        ``same_as_standard_at_q`` (identical selection to standard BH at the
        same level), and ``n_only_here``/``n_only_standard`` versus standard BH
        at the same level.
    """
    if not isinstance(p, pd.Series):
        raise TypeError(f"p must be a Series of p-values indexed by gene, got {describe(p)}")
    pv = _check_pvalues(p)
    alpha = check_scalar(alpha, "alpha", min=0, min_inclusive=False, max=1, max_inclusive=False)
    q_published = check_scalar(q_published, "q_published", min=0, min_inclusive=False, max=1)
    if genes is not None:
        genes = check_genes(genes, "genes")
    q_bh = fdr_bh(pv)
    std_alpha, std_q = q_bh <= alpha, q_bh <= q_published
    pub = bh_as_published(pv, q=q_published)
    bonf = bonferroni(pv) <= alpha
    rows = {
        f"standard BH, FDR {alpha:g}": (std_alpha, std_alpha),
        f"uncorrected p < {q_published:g}": (pv < q_published, std_alpha),
        f"standard BH, FDR {q_published:g}": (std_q, std_alpha),
        f"BH code as published (Q = {q_published:g})": (pub, std_alpha),
        f"Bonferroni, {alpha:g}": (bonf, std_alpha),
    }
    in_genes = p.index.isin(list(genes)) if genes is not None else None
    out = []
    for name, (sel, ref) in rows.items():
        out.append({"procedure": name, "n_significant": int(sel.sum()),
                    "max_p": float(pv[sel].max()) if sel.any() else np.nan,
                    "n_in_genes": int((sel & in_genes).sum()) if in_genes is not None else np.nan,
                    "n_only_here": int((sel & ~ref).sum()), "n_only_standard": int((ref & ~sel).sum())})
    return pd.DataFrame(out).set_index("procedure")


def gene_table(result: GenomeWideOLS, gene_sets: Mapping[str, Sequence[str]], *, alpha: float = 0.05) -> pd.DataFrame:
    """Slope, r, p and genome-wide BH/Bonferroni decisions for the genes of some sets.

    Corrections are computed over *all* genes of ``result`` (genome-wide), then
    the rows of the requested genes are returned; absent genes are listed with
    ``present = False`` rather than dropped.
    """
    if not isinstance(result, GenomeWideOLS):
        raise TypeError(f"result must be a GenomeWideOLS from genome_wide_ols(), got {describe(result)}")
    gene_sets = check_gene_sets(gene_sets)
    table = result.table
    corr = correct(table["p"], alpha=alpha)
    rows = []
    for set_name, genes in gene_sets.items():
        for g in genes:
            if g in table.index:
                rows.append({"set": set_name, "gene": g, "present": True, **table.loc[g, ["slope", "r", "p"]].to_dict(),
                             **corr.loc[g, ["p_bh", "bh", "bonferroni"]].to_dict()})
            else:
                rows.append({"set": set_name, "gene": g, "present": False})
    out = pd.DataFrame(rows)
    for c in ("bh", "bonferroni"):
        out[c] = out[c].astype("boolean")
    return out


def per_donor_ols(per_donor: Mapping[str, pd.DataFrame], y: pd.Series, genes: Sequence[str]) -> pd.DataFrame:
    """Per-donor regressions (the paper's Figs S1-S3).

    For each donor, the map is restricted to the donor's matched ROIs and
    z-scored there; each gene's per-donor z-scores are the predictor.

    Parameters
    ----------
    per_donor : mapping of donor to pandas.DataFrame (n_rois_d, n_genes)
        Per-donor z-scored expression (``RoiExpression.per_donor``).
    y : pandas.Series
        Map over all ROIs (must cover each donor's ROIs; no NaN).
    genes : sequence of str

    Returns
    -------
    pandas.DataFrame
        Long: ``donor``, ``gene``, ``slope``, ``se`` (of the slope), ``p``, ``r``, ``n``.
    """
    if not isinstance(per_donor, Mapping) or not per_donor:
        raise TypeError(f"per_donor must be a non-empty mapping {{donor: DataFrame}}, got {describe(per_donor)}")
    if not isinstance(y, pd.Series):
        raise TypeError(f"y (the map) must be a Series indexed by ROI, got {describe(y)}")
    if y.isna().any():
        raise ValueError("y (the map) contains NaN")
    as_array(y, "y", ndim=1)
    genes = check_genes(genes, "genes")
    frames = []
    for donor, expr in per_donor.items():
        if not isinstance(expr, pd.DataFrame):
            raise TypeError(f"per_donor[{donor!r}] must be a DataFrame (ROIs x genes), got {describe(expr)}")
        missing = [g for g in genes if g not in expr.columns]
        if missing:
            raise ValueError(f"donor {donor}: genes not present {missing}")
        unknown = [r for r in expr.index if r not in y.index]
        if unknown:
            raise ValueError(f"donor {donor}: ROIs without a map value {unknown}")
        res = genome_wide_ols(expr[list(genes)], y.loc[expr.index]).table
        frames.append(res[["slope", "se", "p", "r", "n"]].reset_index().assign(donor=donor))
    out = pd.concat(frames, ignore_index=True)
    return out[["donor", "gene", "slope", "se", "p", "r", "n"]]


def pls_loocv(x: pd.DataFrame, y: pd.Series, *, max_components: int | None = None) -> pd.DataFrame:
    """PLS regression of ``y`` on ``x`` with leave-one-out CV over the number of components.

    As ``geneQSMComparison.m`` (``plsregress``: centred, unscaled), with
    scikit-learn ``PLSRegression(scale=False)``.

    Parameters
    ----------
    x : pandas.DataFrame, shape (n_rois, n_genes)
    y : pandas.Series, shape (n_rois,)
        Same index and order as ``x``; z-scored internally.
    max_components : int, optional
        Default: ``min(n_genes, n_rois - 2)``.

    Returns
    -------
    pandas.DataFrame
        Index ``n_components``; columns ``rmse`` (in-sample), ``rmse_loocv``
        (sqrt(PRESS / n)), ``r2`` and ``q2`` (1 - PRESS / TSS).
    """
    from sklearn.cross_decomposition import PLSRegression
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    y = _check_inputs(x, y)
    xv = as_array(x, "x", ndim=2)
    n = len(y)
    yv = zscore(y.to_numpy(dtype=float))
    kmax = min(x.shape[1], n - 2) if max_components is None else \
        check_int(max_components, "max_components", min=1)
    if not 1 <= kmax <= min(x.shape[1], n - 2):
        raise ValueError(f"max_components must be between 1 and {min(x.shape[1], n - 2)}")
    tss = ((yv - yv.mean()) ** 2).sum()
    rows = []
    for k in range(1, kmax + 1):
        model = PLSRegression(n_components=k, scale=False)
        fit = model.fit(xv, yv).predict(xv).ravel()
        cv = cross_val_predict(PLSRegression(n_components=k, scale=False), xv, yv, cv=LeaveOneOut()).ravel()
        rss, press = ((yv - fit) ** 2).sum(), ((yv - cv) ** 2).sum()
        rows.append({"n_components": k, "rmse": np.sqrt(rss / n), "rmse_loocv": np.sqrt(press / n),
                     "r2": 1 - rss / tss, "q2": 1 - press / tss})
    return pd.DataFrame(rows).set_index("n_components")


# --------------------------------------------------------------------------- set-level nulls
def set_coexpression(expression: pd.DataFrame, genes: Sequence[str]) -> float:
    """Mean pairwise Pearson correlation (across regions) among ``genes``."""
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(f"expression must be a DataFrame (regions x genes), got {describe(expression)}")
    genes = check_genes(genes, "genes")
    absent = [g for g in genes if g not in expression.columns]
    if absent:
        raise ValueError(f"genes not in the expression table: {absent[:10]}")
    if len(genes) < 2:
        raise ValueError(f"genes must list at least 2 genes for a pairwise correlation, got {len(genes)}")
    z = zscore(as_array(expression[genes], "expression", ndim=2))
    k, n = z.shape[1], z.shape[0]
    total = (z.sum(axis=1) ** 2).sum() / (n - 1)
    return float((total - k) / (k * (k - 1)))


def coexpression_matched_null(expression: pd.DataFrame, correlations: pd.Series, genes: Sequence[str], *,
                              n_draw: int = 20000, n_keep: int = 1000, seed: int = 0) -> tuple[np.ndarray, float]:
    """Mean r of random gene sets matched to the set's within-set coexpression.

    Random sets of the same size are drawn (without replacement) from all genes
    of ``correlations``; the ``n_keep`` draws whose mean pairwise coexpression
    is closest to that of ``genes`` form the null. Coexpressed sets have
    wider score distributions, so this null is more conservative than
    unmatched random sets.

    Returns
    -------
    null : numpy.ndarray, shape (n_keep,)
        Mean r of the matched random sets.
    observed_coexpression : float
    """
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(f"expression must be a DataFrame (regions x genes), got {describe(expression)}")
    if not isinstance(correlations, pd.Series):
        raise TypeError(f"correlations must be a Series of r indexed by gene, got {describe(correlations)}")
    r_all = as_array(correlations, "correlations", ndim=1, allow_nan=True)
    if (np.abs(r_all[np.isfinite(r_all)]) > 1 + 1e-9).any():
        raise ValueError("correlations must be Pearson r values in [-1, 1]")
    genes = check_genes(genes, "genes")
    n_draw = check_int(n_draw, "n_draw", min=1, max=MAX_DRAWS)
    n_keep = check_int(n_keep, "n_keep", min=1)
    rng = check_seed(seed)
    genes = [g for g in genes if g in correlations.index and np.isfinite(correlations[g])]
    k = len(genes)
    if k < 2:
        raise ValueError(f"genes must have at least 2 genes present with a finite correlation, got {k}")
    if n_keep > n_draw:
        raise ValueError(f"n_keep must not exceed n_draw ({n_draw}), got {n_keep}")
    pool = correlations.dropna().index.intersection(expression.columns)
    if k > pool.size:
        raise ValueError(f"genes: cannot draw {k} genes from {pool.size} with finite correlations")
    z = zscore(as_array(expression[pool], "expression", ndim=2))
    n = z.shape[0]
    if n_draw * k * n * 8 > 2 * 1024 ** 3:
        raise ValueError(f"n_draw={n_draw} sets of {k} genes over {n} regions need about "
                         f"{n_draw * k * n * 8 / 1024 ** 3:.1f} GiB at once (limit 2 GiB); lower n_draw")
    r = correlations.loc[pool].to_numpy()
    idx = _sample_subsets(rng, pool.size, k, n_draw)
    sums = z[:, idx].sum(axis=2)                          # (n, n_draw)
    coexp = ((sums ** 2).sum(axis=0) / (n - 1) - k) / (k * (k - 1))
    obs = set_coexpression(expression, genes)
    best = np.argsort(np.abs(coexp - obs), kind="stable")[:n_keep]
    return r[idx[best]].mean(axis=1), obs


def permutation_set_null(expression: pd.DataFrame, y: pd.Series, genes: Sequence[str], *,
                         max_exact: int = 40320, n_perm: int = 10000, seed: int = 0) -> np.ndarray:
    """Mean r of a gene set with the map's region labels permuted (self-contained null).

    Keeps the genes and their coexpression; shuffles which region has which
    map value. With n regions, all n! permutations are used when n! <=
    ``max_exact`` (n <= 8), otherwise ``n_perm`` random ones. It ignores
    spatial autocorrelation, which with 5-7 whole nuclei cannot be modelled.

    The permutations come from :func:`qmrigenes.stats.spatial.label_permutations`
    and the statistic from :func:`qmrigenes.stats.spatial.spin_null_scores`, the
    one permutation null of the package (spins are the same with other
    permutations).

    Returns
    -------
    numpy.ndarray, shape (n_permutations,)
        Includes the identity permutation when exact.
    """
    from .spatial import label_permutations, spin_null_scores

    y = _check_inputs(expression, y)
    genes = check_genes(genes, "genes")
    present = [g for g in genes if g in expression.columns]
    if not present:
        raise ValueError("genes: no gene of the set is present in the expression table")
    perms = label_permutations(list(y.index), n_perm=n_perm, seed=seed, max_exact=max_exact)
    return spin_null_scores(expression[present], y.to_frame("map"), {"set": present}, perms)[:, 0, 0]


def set_level_tests(expression: pd.DataFrame, y: pd.Series, gene_sets: Mapping[str, Sequence[str]], *,
                    n_perm: int = 10000, seed: int = 0) -> pd.DataFrame:
    """Mean r of each gene set against three nulls.

    1. random gene sets of equal size from all genes
       (:func:`qmrigenes.stats.genesets.random_gene_set_null`);
    2. random sets matched on within-set coexpression
       (:func:`coexpression_matched_null`);
    3. permutations of the map's region labels (:func:`permutation_set_null`).

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_regions, n_genes)
    y : pandas.Series, shape (n_regions,)
        Same index and order.
    gene_sets : mapping of set name to genes

    Returns
    -------
    pandas.DataFrame
        Index: set; the set-level vocabulary of
        :func:`qmrigenes.stats.spatial.gene_set_association`: ``n_present``, ``r``
        (mean r), ``p_gene`` (random gene sets), ``coexpression``, ``p_coexp``
        (coexpression-matched sets), ``p_label`` (label permutations),
        ``n_label_permutations``, and ``p_gene_fdr``, ``p_coexp_fdr``,
        ``p_label_fdr`` (BH across the sets). Two-sided empirical p-values
        (:func:`qmrigenes.stats.genesets.null_pvalues`): Monte Carlo
        ``2 (b + 1) / (B + 1)`` for random draws, exact ``2 b / n!`` when all
        ``n!`` label orderings are enumerated (``b`` counts the identity).
    """
    from .genesets import gene_map_correlations, gene_set_scores, null_pvalues, random_gene_set_null

    y = _check_inputs(expression, y)
    gene_sets = check_gene_sets(gene_sets)
    n_perm = check_int(n_perm, "n_perm", min=1, max=MAX_DRAWS)
    seed = check_int(seed, "seed", min=0)
    as_array(expression, "expression", ndim=2)
    var = expression.var(ddof=1)
    zero = var.index[~(var > 0)]
    expr = expression.drop(columns=zero)
    corr = gene_map_correlations(expr, y.rename("map"))
    scores = gene_set_scores(corr, gene_sets)["map"]
    present = {k: [g for g in v if g in corr.index] for k, v in gene_sets.items()}
    null = random_gene_set_null(corr, {k: len(v) for k, v in present.items()}, n_perm=n_perm, seed=seed)
    rows = {}
    for j, (name, genes) in enumerate(present.items()):
        obs = scores[name]
        matched, coexp = coexpression_matched_null(expr, corr["map"], genes, n_draw=2 * n_perm,
                                                   n_keep=max(100, n_perm // 10), seed=seed + 1)
        perm = permutation_set_null(expr, y, genes, n_perm=n_perm, seed=seed + 2)
        exact = len(perm) == math.factorial(len(y))          # all n! orderings: exact p = b / n!
        rows[name] = {"n_present": len(genes), "r": obs,
                      "p_gene": float(null_pvalues(obs, null[:, j, 0])),
                      "coexpression": coexp,
                      "p_coexp": float(null_pvalues(obs, matched)),
                      "p_label": float(null_pvalues(obs, perm, exact=exact)),
                      "n_label_permutations": len(perm)}
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "gene_set"
    for col in ("p_gene", "p_coexp", "p_label"):
        out[f"{col}_fdr"] = fdr_bh(out[col].to_numpy())
    return out


def map_gene_tables(expression: pd.DataFrame, maps: pd.DataFrame, gene_sets: Mapping[str, Sequence[str]], *,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Genome-wide OLS of each map (z-scored) on z-scored expression; rows for the set genes.

    Each map uses the regions where it is not NaN (so n differs between maps).

    Returns
    -------
    pandas.DataFrame
        Long: ``map``, ``n_regions``, ``n_zero_variance`` plus the columns of
        :func:`gene_table` (BH/Bonferroni over all genes).
    """
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(f"expression must be a DataFrame (regions x genes), got {describe(expression)}")
    if not isinstance(maps, pd.DataFrame):
        raise TypeError(f"maps must be a DataFrame (regions x maps), got {describe(maps)}")
    as_array(maps, "maps", ndim=2, allow_nan=True)
    check_unique(maps.columns, "maps.columns (map names)")
    gene_sets = check_gene_sets(gene_sets)
    alpha = check_scalar(alpha, "alpha", min=0, min_inclusive=False, max=1, max_inclusive=False)
    unknown = maps.index.difference(expression.index)
    if len(unknown):
        raise ValueError(f"maps has regions not in expression: {list(unknown)[:10]}; select "
                         f"maps.loc[maps.index.intersection(expression.index)] first")
    frames = []
    for name in maps.columns:
        y = maps[name].dropna()
        if len(y) < 3:
            raise ValueError(f"maps[{name!r}] has {len(y)} non-NaN regions; a regression needs at least 3")
        res = genome_wide_ols(expression.loc[y.index], y, standardize_x=True)
        tab = gene_table(res, gene_sets, alpha=alpha)
        tab.insert(0, "n_zero_variance", len(res.zero_variance))
        tab.insert(0, "n_regions", len(y))
        tab.insert(0, "map", name)
        frames.append(tab)
    return pd.concat(frames, ignore_index=True)
