"""Figures of Chapter 2 (QSM of deep grey nuclei vs gene expression).

Each plotting function returns a :class:`matplotlib.figure.Figure`; none
calls ``plt.show``. Styles follow Cohen et al. (2024): ROI bar charts (Fig. 1b/c),
per-gene regression panels (Figs 4-9), per-donor panels (Figs S1-S3), the
gene x ROI matrix (Fig. 3b) and the gene-gene correlation matrix (Fig. S4).

Every figure is at most :data:`MAX_WIDTH` inches wide (a ~750 px text column) with text of
at least :data:`MIN_FONT` points, so that it is legible at its displayed size; wide strips
are split into rows; every matrix has a colour bar with its units; legends sit outside the
data.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._validate import align_index, as_array, check_genes, check_int, describe
from ..stats.standardize import zscore
from . import CATEGORICAL, CATEGORICAL_MARKERS

__all__ = [
    "MAX_WIDTH",
    "MIN_FONT",
    "roi_bar_chart",
    "regression_panels",
    "per_donor_panels",
    "gene_roi_heatmap",
    "gene_correlation_matrix",
    "power_figure",
    "sampling_heatmap",
    "null_histogram",
]

#: Largest figure width (inches): a text column of about 750 px.
MAX_WIDTH = 7.5
#: Smallest font size (points) of any text in these figures.
MIN_FONT = 9
_TITLE = 10
_HATCHES = ("", "///", "...", "xx", "\\\\", "oo")   # the redundant mark of bar categories
_DONOR_COLORS = CATEGORICAL[:6]   # colour-blind safe; each donor also has its own marker


def _p_label(p: float) -> str:
    """p with two significant digits; below 0.001 as e-notation with a short exponent."""
    if not np.isfinite(p):
        return "p = –"
    if p < 1e-3:
        mant, exp = f"{p:.1e}".split("e")
        return f"p = {mant}e{int(exp)}"
    return f"p = {p:.2g}"


def roi_bar_chart(values: pd.DataFrame, *, value: str = "chi_ppb", sd: str | None = "sd_ppb",
                  group: str = "structure", hue: str = "component", ylabel: str = "susceptibility (ppb)",
                  title: str | None = None, label_below: float = 5.0) -> plt.Figure:
    """Grouped bar chart of a value per ROI (style of Fig. 1b/c).

    Parameters
    ----------
    values : pandas.DataFrame
        Long table with columns ``group``, ``hue``, ``value`` and optionally ``sd``.
    label_below : float
        Bars with ``|value| < label_below`` get their value written beside them, so that a
        near-zero bar is not mistaken for a missing one.

    Returns
    -------
    matplotlib.figure.Figure
        :data:`MAX_WIDTH` wide; the legend sits below the axes, outside the data.
    """
    for c in (group, hue, value):
        if c not in values.columns:
            raise ValueError(f"values needs a {c!r} column")
    groups = list(pd.unique(values[group]))
    hues = list(pd.unique(values[hue]))
    width = 0.8 / len(hues)
    fig, ax = plt.subplots(figsize=(MAX_WIDTH, 4.6))
    x = np.arange(len(groups))
    for k, h in enumerate(hues):
        sub = values[values[hue] == h].set_index(group)
        vals = sub[value].reindex(groups).to_numpy(dtype=float)
        err = sub[sd].reindex(groups) if sd is not None and sd in sub else None
        pos = x + (k - (len(hues) - 1) / 2) * width
        ax.bar(pos, vals, width, yerr=None if err is None else err.to_numpy(dtype=float), capsize=2,
               label=str(h), color=CATEGORICAL[k % len(CATEGORICAL)], hatch=_HATCHES[k % len(_HATCHES)],
               edgecolor="white", linewidth=0)
        for xi, v in zip(pos, vals):
            if np.isfinite(v) and abs(v) < label_below:
                ax.annotate(f"{v:.1f}", (xi, v), xytext=(0, -12 if v < 0 else 3), textcoords="offset points",
                            ha="center", fontsize=MIN_FONT, color=CATEGORICAL[k % len(CATEGORICAL)])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, groups, rotation=40, ha="right", fontsize=MIN_FONT)
    ax.tick_params(axis="y", labelsize=MIN_FONT)
    ax.set_ylabel(ylabel, fontsize=MIN_FONT + 1)
    ax.legend(fontsize=MIN_FONT, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.01),
              ncol=min(len(hues), 2))
    if title:
        fig.suptitle(title, fontsize=_TITLE + 1)
    fig.tight_layout()
    return fig


def _fit_line(ax, x, y, color="C1"):
    b, a = np.polyfit(x, y, 1)
    xs = np.linspace(np.min(x), np.max(x), 10)
    ax.plot(xs, a + b * xs, color=color, lw=1.5)


def _grid(n: int, ncols: int, *, panel_height: float = 2.0, extra: float = 0.6, sharey: bool = True):
    ncols = max(1, min(n, ncols))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(MAX_WIDTH, panel_height * nrows + extra),
                             squeeze=False, sharey=sharey)
    return fig, axes


def regression_panels(expression: pd.DataFrame, y: pd.Series, genes: Sequence[str], *,
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
        Panels per row; the figure is :data:`MAX_WIDTH` wide whatever ``ncols``.
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
                ax.annotate(str(name)[:5], (xi, yi), fontsize=MIN_FONT, alpha=0.7)
        title = g
        if results is not None and g in results.index:
            r = results.loc[g]
            star = "*" if bool(r.get("bh", False)) else ""
            title = f"{g}{star}\nb = {r['slope']:.2f}, {_p_label(float(r['p']))}"
        ax.set_title(title, fontsize=MIN_FONT)
        ax.tick_params(labelsize=MIN_FONT)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=MIN_FONT)
    last = {min(i, n - 1) for i in range(n - axes.shape[1], n)}     # bottom panel of each column
    for i in last:
        axes.flat[i].set_xlabel(xlabel, fontsize=MIN_FONT)
    if suptitle:
        fig.suptitle(suptitle, fontsize=_TITLE)
    fig.tight_layout()
    return fig


def per_donor_panels(per_donor: Mapping[str, pd.DataFrame], y: pd.Series, genes: Sequence[str], *,
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
        ax.set_title(title, fontsize=MIN_FONT)
        ax.tick_params(labelsize=MIN_FONT)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("QSM (z)", fontsize=MIN_FONT)
    for i in {min(i, n - 1) for i in range(n - axes.shape[1], n)}:
        axes.flat[i].set_xlabel(xlabel, fontsize=MIN_FONT)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), fontsize=MIN_FONT, frameon=False)
    return fig


def gene_roi_heatmap(expression: pd.DataFrame, genes: Sequence[str], *, standardize: bool = True,
                     title: str | None = None, units: str = "expression (z-score)") -> plt.Figure:
    """Gene x ROI matrix of (z-scored) expression (style of Fig. 3b), with a colour bar in ``units``."""
    genes = check_genes(genes, "genes")
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise ValueError(f"genes not in expression: {missing}")
    m = expression[list(genes)]
    if standardize:
        m = zscore(m, ddof=1)
    lim = np.nanmax(np.abs(m.to_numpy()))
    rois = [str(i) for i in m.index]
    if len(m) > 12:              # many ROIs: ROIs as rows, so that their names read horizontally
        fig, ax = plt.subplots(figsize=(min(MAX_WIDTH, 0.32 * len(genes) + 0.075 * max(map(len, rois)) + 2.2),
                                        0.19 * len(m) + 1.9))
        im = ax.imshow(m.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=MIN_FONT)
        ax.set_yticks(range(len(m)), rois, fontsize=MIN_FONT)
    else:
        longest = max(map(len, rois))
        fig, ax = plt.subplots(figsize=(min(MAX_WIDTH, 0.45 * len(m) + 3.0), 0.2 * len(genes) + 0.075 * longest + 1.2))
        im = ax.imshow(m.T.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(len(genes)), genes, fontsize=MIN_FONT)
        ax.set_xticks(range(len(m)), rois, rotation=60, ha="right", fontsize=MIN_FONT)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    cb.set_label(units, fontsize=MIN_FONT)
    cb.ax.tick_params(labelsize=MIN_FONT)
    if title:
        ax.set_title(title, fontsize=_TITLE)
    fig.tight_layout()
    return fig


def gene_correlation_matrix(expression: pd.DataFrame, genes: Sequence[str], *, title: str | None = None) -> plt.Figure:
    """Pearson correlation between genes across ROIs (style of Fig. S4), colour bar "Pearson r (unitless)"."""
    genes = check_genes(genes, "genes")
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise ValueError(f"genes not in expression: {missing}")
    c = expression[list(genes)].corr()
    side = min(MAX_WIDTH - 1.0, 0.2 * len(genes) + 2.2)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    im = ax.imshow(c.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=MIN_FONT)
    ax.set_yticks(range(len(genes)), genes, fontsize=MIN_FONT)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label("Pearson r (unitless)", fontsize=MIN_FONT)
    cb.ax.tick_params(labelsize=MIN_FONT)
    if title:
        ax.set_title(title, fontsize=_TITLE)
    fig.tight_layout()
    return fig


def power_figure(power: pd.DataFrame, *, labels: Mapping[str, str] | None = None) -> plt.Figure:
    """Power (BH FDR 0.05) against the planted correlation, one line per sampling design; legend below."""
    for c in ("design", "effect", "power"):
        if c not in power.columns:
            raise ValueError(f"power needs a {c!r} column")
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for design, sub in power.groupby("design", sort=False):
        name = (labels or {}).get(design, design)
        ax.errorbar(sub["effect"], sub["power"], yerr=sub.get("power_sd"), marker="o", capsize=2, label=name)
    ax.set_xlabel("planted correlation with QSM", fontsize=MIN_FONT + 1)
    ax.set_ylabel("power (BH FDR 0.05)", fontsize=MIN_FONT + 1)
    ax.tick_params(labelsize=MIN_FONT)
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=MIN_FONT, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    fig.tight_layout()
    return fig


def sampling_heatmap(counts: pd.DataFrame, *, title: str | None = None) -> plt.Figure:
    """Samples per ROI (rows) and donor (columns), zeros left blank; colour bar "samples (count)"."""
    fig, ax = plt.subplots(figsize=(6.0, 0.19 * counts.shape[0] + 1.4))
    m = counts.to_numpy(dtype=float)
    im = ax.imshow(np.where(m > 0, m, np.nan), cmap="viridis", aspect="auto")
    for (i, j), v in np.ndenumerate(m):
        if v > 0:
            ax.text(j, i, int(v), ha="center", va="center", fontsize=MIN_FONT - 1 if v >= 100 else MIN_FONT,
                    color="w" if v < 0.6 * np.nanmax(m) else "k")
    ax.set_yticks(range(len(counts)), counts.index, fontsize=MIN_FONT)
    ax.set_xticks(range(counts.shape[1]), [str(c) for c in counts.columns], fontsize=MIN_FONT)
    ax.set_xlabel("donor", fontsize=MIN_FONT + 1)
    cb = fig.colorbar(im, ax=ax, fraction=0.05, pad=0.03)
    cb.set_label("samples (count)", fontsize=MIN_FONT)
    cb.ax.tick_params(labelsize=MIN_FONT)
    if title:
        ax.set_title(title, fontsize=_TITLE)
    fig.tight_layout()
    return fig


def null_histogram(null: np.ndarray, observed: float, *, xlabel: str = "mean r of random gene sets",
                   title: str | None = None, bins: int = 40) -> plt.Figure:
    """Histogram of a gene-set null with the observed score marked (the static twin of the widget)."""
    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or null.size < 2 or not np.isfinite(null).all():
        raise ValueError("null must be a 1-D finite array with at least two draws")
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ax.hist(null, bins=bins, color="0.6", density=True, label=f"random gene sets ({null.size:,})")
    ax.axvline(observed, color="C3", lw=2, label=f"observed ({observed:.2f})")
    ax.set_xlabel(xlabel, fontsize=MIN_FONT + 1)
    ax.set_ylabel("density", fontsize=MIN_FONT + 1)
    ax.tick_params(labelsize=MIN_FONT)
    ax.legend(fontsize=MIN_FONT, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    if title:
        ax.set_title(title, fontsize=_TITLE)
    fig.tight_layout()
    return fig
