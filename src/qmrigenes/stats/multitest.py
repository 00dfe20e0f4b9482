"""Multiple-testing correction: the one place the package corrects p-values.

* :func:`fdr_bh` - Benjamini-Hochberg false discovery rate (statsmodels);
* :func:`fdr_by_column` - BH within each column of a table (e.g. within each map);
* :func:`bonferroni` - family-wise error control.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["fdr_bh", "fdr_by_column", "bonferroni"]


def _pvalues(p, name: str = "p") -> np.ndarray:
    arr = np.asarray(p, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values; a p-value must be a number in [0, 1]")
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1], got values from {arr.min():g} to {arr.max():g}")
    return arr


def fdr_bh(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (``statsmodels`` ``multipletests(method="fdr_bh")``).

    Parameters
    ----------
    p : array_like, shape (n,)
        p-values in [0, 1].

    Returns
    -------
    numpy.ndarray, shape (n,)
        Adjusted p-values (q-values), in the input order.
    """
    from statsmodels.stats.multitest import multipletests

    arr = _pvalues(p)
    if arr.size == 0:
        return arr.copy()
    return multipletests(arr, method="fdr_bh")[1]


def fdr_by_column(pvalues: pd.DataFrame) -> pd.DataFrame:
    """BH adjustment within each column of a table (rows = tests, columns = families)."""
    if not isinstance(pvalues, pd.DataFrame):
        raise TypeError(f"pvalues must be a pandas DataFrame, got {type(pvalues).__name__}")
    return pvalues.apply(lambda col: pd.Series(fdr_bh(col.to_numpy()), index=col.index))


def bonferroni(p) -> np.ndarray:
    """Bonferroni-adjusted p-values, ``min(1, n p)``."""
    arr = _pvalues(p)
    return np.minimum(1.0, arr * arr.size)
