"""Multiple-testing correction: the one place the package corrects p-values.

* :func:`fdr_bh` - Benjamini-Hochberg false discovery rate (statsmodels' arithmetic);
* :func:`fdr_by_column` - BH within each column of a table (e.g. within each map);
* :func:`bonferroni` - family-wise error control;
* :func:`bh_as_published` - the BH code of Cohen et al. (2024) as published (chapter 2).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import as_array, check_scalar, describe

__all__ = ["fdr_bh", "fdr_by_column", "bonferroni", "bh_as_published"]


def _pvalues(p, name: str = "p") -> np.ndarray:
    arr = as_array(p, name, ndim=1, min_size=0)
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must be p-values in [0, 1], got values from {arr.min():g} to {arr.max():g}")
    return arr


def fdr_bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values: ``statsmodels`` ``multipletests(method="fdr_bh")[1]``.

    statsmodels' own steps, bit for bit (sorted p divided by ``rank / n``, the running minimum
    from the largest p down, capped at 1, put back in input order; tested against
    statsmodels), without importing it: ``statsmodels.stats.multitest`` imports
    ``scipy.stats`` (about 0.4 s of CPU), which a process that only corrects p-values (the
    command line, a kernel running :func:`qmrigenes.associate`) does not otherwise need.

    Parameters
    ----------
    p : array_like, shape (n,)
        p-values in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (n,)
        Adjusted p-values (q-values), in the input order.

    Examples
    --------
    >>> fdr_bh([0.01, 0.04, 0.03, 0.2]).round(4)
    array([0.04  , 0.0533, 0.0533, 0.2   ])
    """
    arr = _pvalues(p)
    if arr.size == 0:
        return arr.copy()
    order = np.argsort(arr)
    ranked = np.take(arr, order)
    adjusted = np.minimum.accumulate((ranked / (np.arange(1, arr.size + 1) / float(arr.size)))[::-1])[::-1]
    adjusted[adjusted > 1] = 1
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


def fdr_by_column(pvalues: pd.DataFrame) -> pd.DataFrame:
    """BH adjustment within each column of a table (rows = tests, columns = families)."""
    if not isinstance(pvalues, pd.DataFrame):
        raise TypeError(f"pvalues must be a DataFrame (one column per family of tests), got {describe(pvalues)}")
    arr = as_array(pvalues, "pvalues", ndim=2)
    if ((arr < 0) | (arr > 1)).any():
        raise ValueError(f"pvalues must lie in [0, 1], got values from {arr.min():g} to {arr.max():g}")
    return pvalues.apply(lambda col: pd.Series(fdr_bh(col.to_numpy()), index=col.index))


def bonferroni(p) -> np.ndarray:
    """Bonferroni-adjusted p-values, ``min(1, n p)``."""
    arr = _pvalues(p)
    return np.minimum(1.0, arr * arr.size)


def bh_as_published(p, *, q: float = 1e-4) -> np.ndarray:
    """The Benjamini-Hochberg code of ``geneQSMComparison.m``, as published.

    ``[B, I] = sort(p)``; ``bh_cval(i) = I(i) * Q / m`` (the sort
    *permutation* indexed by the gene's own position, not the gene's rank);
    ``passed = p < bh_cval``; ``M = max(p(passed))``; significant = ``p < M``
    (strict, so the gene attaining ``M`` itself is excluded). ``Q = 1e-4``.

    Parameters
    ----------
    p : array_like, shape (m,)
        p-values in gene order.
    q : float
        The code's ``Q``.

    Returns
    -------
    numpy.ndarray of bool, shape (m,)
    """
    p = _pvalues(p)
    q = check_scalar(q, "q", min=0, min_inclusive=False, max=1)
    m = p.size
    order = np.argsort(p, kind="stable") + 1          # MATLAB's I (1-based, stable sort)
    cval = order * q / m
    passed = p < cval
    if not passed.any():
        return np.zeros(m, bool)                      # max([]) is empty: nothing significant
    return p < p[passed].max()
