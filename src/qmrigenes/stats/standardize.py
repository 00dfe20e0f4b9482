"""Standardisation: the one z-score of the package.

* :func:`zscore` - (x - mean) / SD along the first axis (sample SD, ``ddof=1`` by default);
* :func:`unit_z` - centred and scaled to unit Euclidean norm along an axis, so that the
  dot product of two such vectors is their Pearson correlation.

A constant vector has no z-score: its entries become NaN (callers decide whether that
is an error or an excluded gene, and say so).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._validate import as_array, check_int

__all__ = ["zscore", "unit_z"]


def zscore(values, *, ddof: int = 1):
    """(x - mean) / SD along the first axis (rows are observations; MATLAB ``std`` uses ``ddof=1``).

    Parameters
    ----------
    values : array_like, pandas.Series or pandas.DataFrame, shape (n,) or (n, k)
        Finite values; each column standardised separately.
    ddof : int, optional
        Delta degrees of freedom of the SD (1: sample SD, as pandas and MATLAB).

    Returns
    -------
    Same type and shape as ``values`` (pandas objects keep their labels).

    Raises
    ------
    ValueError
        Non-finite values, too few rows, or a constant column (its z-score is undefined).
    """
    ddof = check_int(ddof, "ddof", min=0)
    arr = as_array(values, "values", ndim=(1, 2))
    if arr.shape[0] <= ddof:
        raise ValueError(f"values must have more than ddof={ddof} rows, got {arr.shape[0]}")
    flat = np.ptp(arr, axis=0) == 0
    if np.any(flat):
        raise ValueError("values is constant (zero SD) along the first axis"
                         + (f" in column(s) {np.flatnonzero(flat).tolist()[:10]}" if arr.ndim == 2 else "")
                         + "; its z-score is undefined")
    if isinstance(values, (pd.Series, pd.DataFrame)):
        return (values - values.mean()) / values.std(ddof=ddof)
    return (arr - arr.mean(axis=0)) / arr.std(axis=0, ddof=ddof)


def unit_z(values, *, axis: int = 0) -> np.ndarray:
    """Centre along ``axis`` and scale to unit Euclidean norm (NaN for constant vectors).

    For two such vectors ``a`` and ``b`` of the same length, ``a @ b`` is their
    Pearson correlation; ``unit_z(x) = zscore(x, ddof=1) / sqrt(n - 1)``.
    """
    arr = np.asarray(values, dtype=float)
    centred = arr - arr.mean(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return centred / np.sqrt((centred ** 2).sum(axis=axis, keepdims=True))
