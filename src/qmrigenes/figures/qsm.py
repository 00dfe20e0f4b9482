"""Figures of Chapter 2 (QSM of deep grey nuclei vs gene expression).

Each plotting function returns a :class:`matplotlib.figure.Figure`; none
calls ``plt.show``. Styles follow Cohen et al. (2024): ROI bar charts (Fig. 1b/c),
per-gene regression panels (Figs 4-9), per-donor panels (Figs S1-S3), the
gene x ROI matrix (Fig. 3b) and the gene-gene correlation matrix (Fig. S4).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._validate import align_index, as_array, check_genes, check_int, describe

__all__ = [
    "roi_bar_chart",
    "regression_panels",
    "per_donor_panels",
    "gene_roi_heatmap",
    "gene_correlation_matrix",
    "power_figure",
    "sampling_heatmap",
]

_DONOR_COLORS = ["#d62728", "#ff7f0e", "#2ca02c", "#1f77b4", "#9467bd", "#e377c2"]


def roi_bar_chart(values: pd.DataFrame, *, value: str = "chi_ppb", sd: str | None = "sd_ppb",
                  group: str = "structure", hue: str = "component", ylabel: str = "susceptibility (ppb)",
                  title: str | None = None) -> plt.Figure:
    """Grouped bar chart of a value per ROI (style of Fig. 1b/c).

    Parameters
    ----------
    values : pandas.DataFrame
        Long table with columns ``group``, ``hue``, ``value`` and optionally ``sd``.
    """
    for c in (group, hue, value):
        if c not in values.columns:
            raise ValueError(f"values needs a {c!r} column")
    groups = list(pd.unique(values[group]))
    hues = list(pd.unique(values[hue]))
    width = 0.8 / len(hues)
    fig, ax = plt.subplots(figsize=(max(6, 0.75 * len(groups) + 2), 4))
    x = np.arange(len(groups))
    for k, h in enumerate(hues):
        sub = values[values[hue] == h].set_index(group)
        vals = sub[value].reindex(groups)
        err = sub[sd].reindex(groups) if sd is not None and sd in sub else None
        ax.bar(x + (k - (len(hues) - 1) / 2) * width, vals.to_numpy(dtype=float), width,
               yerr=None if err is None else err.to_numpy(dtype=float), capsize=2, label=str(h))
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, groups, rotation=40, ha="right")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def _fit_line(ax, x, y, color="C1"):
    b, a = np.polyfit(x, y, 1)
    xs = np.linspace(np.min(x), np.max(x), 10)
    ax.plot(xs, a + b * xs, color=color, lw=1.5)


def regression_panels(expression: pd.DataFrame, y: pd.Series, genes: Sequence[str], *,
                      results: pd.DataFrame | None = None, ncols: int = 6, xlabel: str = "expression (z)",
                      ylabel: str = "QSM (z)", standardize: bool = False, suptitle: str | None = None,
                      labels: bool = False) -> plt.Figure:
    """One scatter + OLS line per gene (style of Figs 4-9).

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
    y : pandas.Series, shape (n_rois,)
        Same index and order as ``expression``; z-scored for plotting.
    genes : sequence of str
    results : pandas.DataFrame, optional
        Index gene with ``slope`` and ``p`` (and optionally ``bh``) for the panel titles.
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
    yz = (y - y.mean()) / y.std(ddof=1)
    n = len(genes)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(2.3 * min(n, ncols), 2.3 * nrows),
                             squeeze=False, sharey=True)
    for ax, g in zip(axes.flat, genes):
        x = expression[g]
        if standardize:
            x = (x - x.mean()) / x.std(ddof=1)
        ax.scatter(x, yz, s=14, marker="x", color="C0")
        _fit_line(ax, x.to_numpy(), yz.to_numpy())
        if labels:
            for name, xi, yi in zip(y.index, x, yz):
                ax.annotate(str(name)[:5], (xi, yi), fontsize=6, alpha=0.7)
        title = g
        if results is not None and g in results.index:
            r = results.loc[g]
            star = "*" if bool(r.get("bh", False)) else ""
            title = f"{g}{star}\nb={r['slope']:.2f}, p={r['p']:.1e}"
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel(xlabel, fontsize=8)
    if suptitle:
        fig.suptitle(suptitle, fontsize=10)
    fig.tight_layout()
    return fig


def per_donor_panels(per_donor: Mapping[str, pd.DataFrame], y: pd.Series, genes: Sequence[str], *,
                     results: pd.DataFrame | None = None, ncols: int = 6) -> plt.Figure:
    """Per-donor scatter and fit per gene, colour = donor (style of Figs S1-S3).

    ``y`` is restricted to each donor's ROIs and z-scored there, as in the paper.
    ``results`` (from :func:`qmrigenes.stats.regression.per_donor_ols`) adds the
    range of per-donor slopes to each title.
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
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, min(n, ncols), figsize=(2.3 * min(n, ncols), 2.3 * nrows),
                             squeeze=False, sharey=True)
    for ax, g in zip(axes.flat, genes):
        for k, (donor, expr) in enumerate(per_donor.items()):
            yy = y.loc[expr.index]
            yy = (yy - yy.mean()) / yy.std(ddof=1)
            c = _DONOR_COLORS[k % len(_DONOR_COLORS)]
            ax.scatter(expr[g], yy, s=8, marker="x", color=c, label=f"donor {donor}")
            _fit_line(ax, expr[g].to_numpy(), yy.to_numpy(), color=c)
        title = g
        if results is not None:
            r = results[results["gene"] == g]
            title = f"{g}\nslopes {r['slope'].min():.2f} to {r['slope'].max():.2f}"
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=6, frameon=False)
    for ax in axes[:, 0]:
        ax.set_ylabel("QSM (z)", fontsize=8)
    fig.tight_layout()
    return fig


def gene_roi_heatmap(expression: pd.DataFrame, genes: Sequence[str], *, standardize: bool = True,
                     title: str | None = None) -> plt.Figure:
    """Gene x ROI matrix of (z-scored) expression (style of Fig. 3b)."""
    genes = check_genes(genes, "genes")
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise ValueError(f"genes not in expression: {missing}")
    m = expression[list(genes)]
    if standardize:
        m = (m - m.mean()) / m.std(ddof=1)
    fig, ax = plt.subplots(figsize=(max(5, 0.3 * len(m) + 2), max(3, 0.25 * len(genes) + 1.5)))
    lim = np.nanmax(np.abs(m.to_numpy()))
    im = ax.imshow(m.T.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax.set_yticks(range(len(genes)), genes, fontsize=7)
    ax.set_xticks(range(len(m)), [str(i) for i in m.index], rotation=60, ha="right", fontsize=7)
    fig.colorbar(im, ax=ax, label="expression (z)")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def gene_correlation_matrix(expression: pd.DataFrame, genes: Sequence[str], *, title: str | None = None) -> plt.Figure:
    """Pearson correlation between genes across ROIs (style of Fig. S4)."""
    genes = check_genes(genes, "genes")
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise ValueError(f"genes not in expression: {missing}")
    c = expression[list(genes)].corr()
    fig, ax = plt.subplots(figsize=(0.32 * len(genes) + 2.5, 0.32 * len(genes) + 1.5))
    im = ax.imshow(c.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(genes)), genes, fontsize=7)
    fig.colorbar(im, ax=ax, label="Pearson r")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def power_figure(power: pd.DataFrame, *, labels: Mapping[str, str] | None = None) -> plt.Figure:
    """Power (BH FDR 0.05) against the planted correlation, one line per sampling design."""
    for c in ("design", "effect", "power"):
        if c not in power.columns:
            raise ValueError(f"power needs a {c!r} column")
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for design, sub in power.groupby("design", sort=False):
        name = (labels or {}).get(design, design)
        ax.errorbar(sub["effect"], sub["power"], yerr=sub.get("power_sd"), marker="o", capsize=2, label=name)
    ax.set_xlabel("planted correlation with QSM")
    ax.set_ylabel("power (BH FDR 0.05)")
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def sampling_heatmap(counts: pd.DataFrame, *, title: str | None = None) -> plt.Figure:
    """Samples per ROI (rows) and donor (columns), zeros left blank."""
    fig, ax = plt.subplots(figsize=(0.5 * counts.shape[1] + 4, 0.22 * counts.shape[0] + 1.2))
    m = counts.to_numpy(dtype=float)
    im = ax.imshow(np.where(m > 0, m, np.nan), cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if v > 0:
            ax.text(j, i, int(v), ha="center", va="center", fontsize=6, color="w")
    ax.set_yticks(range(len(counts)), counts.index, fontsize=7)
    ax.set_xticks(range(counts.shape[1]), [str(c) for c in counts.columns], fontsize=7)
    ax.set_xlabel("donor")
    fig.colorbar(im, ax=ax, label="samples")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
