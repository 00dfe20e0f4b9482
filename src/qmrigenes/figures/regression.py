"""Associations drawn as points: scatter plots with least-squares lines, estimates against truth, coefficients.

Every plotting function returns a :class:`matplotlib.figure.Figure` and does not save or show it.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._validate import align_index, as_array, check_genes, check_int, describe
from ..stats.standardize import zscore
from .style import (CATEGORICAL_MARKERS, COLUMN_WIDTH_IN, MIN_FONT_PT, _TITLE, _DONOR_COLORS, _p_label,
                    _fit_line, _grid, _label_grid)

__all__ = [
    "plot_regression_panels",
    "plot_per_donor_panels",
    "plot_roi_means",
    "plot_beta_comparison",
]


def plot_regression_panels(expression: pd.DataFrame, y: pd.Series, genes: Sequence[str], *,
                      results: pd.DataFrame | None = None, ncols: int = 3, xlabel: str = "expression (z)",
                      ylabel: str = "QSM (z)", standardize: bool = False, suptitle: str | None = None,
                      labels: bool = False) -> plt.Figure:
    """One scatter + OLS line per gene (style of Figs 4-9), ``ncols`` panels per row.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
    y : pandas.Series, shape (n_rois,)
        Same index and order as ``expression``; z-scored for plotting.
    genes : sequence of str
    results : pandas.DataFrame, optional
        Index gene with ``slope`` and ``p`` (and optionally ``bh``) for the panel titles.
    ncols : int
        Panels per row; the figure is :data:`COLUMN_WIDTH_IN` wide whatever ``ncols``.
    standardize : bool
        z-score each gene's expression before plotting.
    labels : bool
        Annotate points with the region names (for few regions).
    """
    if not isinstance(expression, pd.DataFrame) or not isinstance(y, pd.Series):
        raise TypeError(f"expression must be a DataFrame and y a Series indexed by ROI, got "
                        f"{describe(expression)} and {describe(y)}")
    y = align_index(expression.index, y, "y", ref_name="expression", what="ROI")
    as_array(y, "y", ndim=1)
    genes = check_genes(genes, "genes")
    ncols = check_int(ncols, "ncols", min=1)
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise ValueError(f"genes not in expression: {missing}")
    yz = zscore(y, ddof=1)
    n = len(genes)
    fig, axes = _grid(n, ncols, panel_height=2.1 if ncols <= 3 else 1.75)
    for ax, g in zip(axes.flat, genes):
        x = expression[g]
        if standardize:
            x = zscore(x, ddof=1)
        ax.scatter(x, yz, s=14, marker="x", color="C0")
        _fit_line(ax, x.to_numpy(), yz.to_numpy())
        if labels:
            for name, xi, yi in zip(y.index, x, yz):
                ax.annotate(str(name)[:5], (xi, yi), fontsize=MIN_FONT_PT, alpha=0.7)
        title = g
        if results is not None and g in results.index:
            r = results.loc[g]
            star = "*" if bool(r.get("bh", False)) else ""
            title = f"{g}{star}\nb = {r['slope']:.2f}, {_p_label(float(r['p']))}"
        ax.set_title(title, fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
    _label_grid(axes, n, xlabel=xlabel, ylabel=ylabel)
    if suptitle:
        fig.suptitle(suptitle, fontsize=_TITLE)
    fig.tight_layout()
    return fig


def plot_per_donor_panels(per_donor: Mapping[str, pd.DataFrame], y: pd.Series, genes: Sequence[str], *,
                     results: pd.DataFrame | None = None, ncols: int = 3,
                     xlabel: str = "expression (z, per donor)") -> plt.Figure:
    """Per-donor scatter and fit per gene, colour = donor (style of Figs S1-S3).

    ``y`` is restricted to each donor's ROIs and z-scored there, as in the paper.
    ``results`` (from :func:`qmrigenes.stats.regression.per_donor_ols`) adds the
    range of per-donor slopes to each title. The donor legend sits below the panels.
    """
    if not isinstance(per_donor, Mapping) or not per_donor:
        raise TypeError(f"per_donor must be a non-empty mapping {{donor: DataFrame}}, got {describe(per_donor)}")
    if not isinstance(y, pd.Series):
        raise TypeError(f"y must be a Series indexed by ROI, got {describe(y)}")
    as_array(y, "y", ndim=1)
    genes = check_genes(genes, "genes")
    ncols = check_int(ncols, "ncols", min=1)
    for donor, expr in per_donor.items():
        missing = [g for g in genes if g not in expr.columns]
        unknown = [r for r in expr.index if r not in y.index]
        if missing or unknown:
            raise ValueError(f"per_donor[{donor!r}]: genes not present {missing}, ROIs without a y value {unknown}")
    n = len(genes)
    fig, axes = _grid(n, ncols, panel_height=2.1, extra=1.0)
    for ax, g in zip(axes.flat, genes):
        for k, (donor, expr) in enumerate(per_donor.items()):
            yy = y.loc[expr.index]
            yy = zscore(yy, ddof=1)
            c = _DONOR_COLORS[k % len(_DONOR_COLORS)]
            ax.scatter(expr[g], yy, s=10, marker=CATEGORICAL_MARKERS[k % len(_DONOR_COLORS)], color=c,
                       label=f"donor {donor}")
            _fit_line(ax, expr[g].to_numpy(), yy.to_numpy(), color=c)
        title = g
        if results is not None:
            r = results[results["gene"] == g]
            title = f"{g}: slopes {r['slope'].min():.2f} to {r['slope'].max():.2f}"
        ax.set_title(title, fontsize=MIN_FONT_PT)
        ax.tick_params(labelsize=MIN_FONT_PT)
    _label_grid(axes, n, xlabel=xlabel, ylabel="QSM (z)")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), fontsize=MIN_FONT_PT, frameon=False)
    return fig


def plot_roi_means(table: pd.DataFrame, *, truth: str = "truth") -> plt.Figure:
    """Reconstructed ROI means against the truth (one marker per method and ROI)."""
    methods = [c for c in table.columns if c not in (truth, "n_voxels")]
    fig, ax = plt.subplots(figsize=(6.0, 4.6), layout="constrained")
    lo = min(table[[truth] + methods].min().min(), -0.02)
    hi = table[[truth] + methods].max().max() * 1.1
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="identity")
    for m, marker in zip(methods, "osd^v"):
        ax.scatter(table[truth], table[m], marker=marker, label=m)
    for name, row in table.iterrows():
        ax.annotate(name, (row[truth], row[methods].max()), fontsize=MIN_FONT_PT, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("true ROI mean χ (ppm)")
    ax.set_ylabel("reconstructed ROI mean χ (ppm)")
    fig.legend(loc="outside right upper", fontsize=MIN_FONT_PT + 1, frameon=False)
    return fig


def plot_beta_comparison(table: pd.DataFrame):
    """Linear-model coefficients from several sources, mean +/- SD.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``source``, ``beta`` (b0/b1/b2), ``mean`` and ``sd`` (NaN if
        not available).

    Returns
    -------
    matplotlib.figure.Figure
    """

    need = {"source", "beta", "mean", "sd"}
    if not need <= set(table.columns):
        raise ValueError(f"table needs columns {sorted(need)}")
    import textwrap

    sources = list(dict.fromkeys(table["source"]))
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 0.55 * len(sources) + 1.4),
                             gridspec_kw={"left": 0.36, "right": 0.96, "wspace": 0.15})
    labels = {"b0": "β0 (1/s)", "b1": "β1 (1/s per p.u.)", "b2": "β2"}
    ticklabels = [textwrap.fill(s, 30) for s in sources]
    for ax, b in zip(axes, ("b0", "b1", "b2")):
        sub = table[table["beta"] == b].set_index("source").reindex(sources)
        y = np.arange(len(sources))
        ax.errorbar(sub["mean"], y, xerr=sub["sd"].fillna(0), fmt="o", capsize=3)
        ax.set_yticks(y, ticklabels if b == "b0" else [""] * len(sources), fontsize=MIN_FONT_PT)
        ax.set_title(labels[b], fontsize=MIN_FONT_PT + 1)
        ax.axvline(0, color="grey", lw=0.5)
        ax.tick_params(axis="x", labelsize=MIN_FONT_PT)
        ax.locator_params(axis="x", nbins=3)
        ax.set_ylim(len(sources) - 0.5, -0.5)
    fig.subplots_adjust(bottom=0.5 / fig.get_figheight(), top=1 - 0.4 / fig.get_figheight())
    return fig
