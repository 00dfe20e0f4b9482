"""Matrices drawn as heat maps: genes x regions, gene-gene correlations, sample counts, review directions.

Every plotting function returns a :class:`matplotlib.figure.Figure` and does not save or show it.
"""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap

from .._validate import check_genes
from ..stats.standardize import zscore
from .style import COLUMN_WIDTH_IN, MIN_FONT_PT, _TITLE


def _finish(fig, ax, cb, *, label: str, title: str | None):
    """The heat maps' common ending: colour-bar label and ticks at the minimum font, the title, layout."""
    cb.set_label(label, fontsize=MIN_FONT_PT)
    cb.ax.tick_params(labelsize=MIN_FONT_PT)
    if title:
        ax.set_title(title, fontsize=_TITLE)
    fig.tight_layout()
    return fig


__all__ = [
    "plot_expression_heatmap",
    "plot_correlation_matrix",
    "plot_sampling_heatmap",
    "plot_review_heatmap",
]


def plot_expression_heatmap(expression: pd.DataFrame, genes: Sequence[str], *, standardize: bool = True,
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
        fig, ax = plt.subplots(figsize=(min(COLUMN_WIDTH_IN, 0.32 * len(genes) + 0.075 * max(map(len, rois)) + 2.2),
                                        0.19 * len(m) + 1.9))
        im = ax.imshow(m.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=MIN_FONT_PT)
        ax.set_yticks(range(len(m)), rois, fontsize=MIN_FONT_PT)
    else:
        longest = max(map(len, rois))
        fig, ax = plt.subplots(figsize=(min(COLUMN_WIDTH_IN, 0.45 * len(m) + 3.0), 0.2 * len(genes) + 0.075 * longest + 1.2))
        im = ax.imshow(m.T.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_yticks(range(len(genes)), genes, fontsize=MIN_FONT_PT)
        ax.set_xticks(range(len(m)), rois, rotation=60, ha="right", fontsize=MIN_FONT_PT)
    cb = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    return _finish(fig, ax, cb, label=units, title=title)


def plot_correlation_matrix(expression: pd.DataFrame, genes: Sequence[str], *, title: str | None = None) -> plt.Figure:
    """Pearson correlation between genes across ROIs (style of Fig. S4), colour bar "Pearson r (unitless)"."""
    genes = check_genes(genes, "genes")
    missing = [g for g in genes if g not in expression.columns]
    if missing:
        raise ValueError(f"genes not in expression: {missing}")
    c = expression[list(genes)].corr()
    side = min(COLUMN_WIDTH_IN - 1.0, 0.2 * len(genes) + 2.2)
    fig, ax = plt.subplots(figsize=(side + 1.0, side))
    im = ax.imshow(c.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1)
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=MIN_FONT_PT)
    ax.set_yticks(range(len(genes)), genes, fontsize=MIN_FONT_PT)
    cb = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    return _finish(fig, ax, cb, label="Pearson r (unitless)", title=title)


def plot_sampling_heatmap(counts: pd.DataFrame, *, title: str | None = None) -> plt.Figure:
    """Samples per ROI (rows) and donor (columns), zeros left blank; colour bar "samples (count)".

    Drawn with :func:`seaborn.heatmap` (each count written in its cell, in black or white by the
    cell's luminance).

    Parameters
    ----------
    counts : pandas.DataFrame, shape (n_rois, n_donors)
        Sample counts (integers); zeros are left blank.
    title : str, optional
    """
    import seaborn as sns

    fig, ax = plt.subplots(figsize=(6.0, 0.19 * counts.shape[0] + 1.4))
    shown = counts.astype(float).where(counts > 0)
    size = MIN_FONT_PT - 1 if counts.to_numpy().max() >= 100 else MIN_FONT_PT    # three digits: one point less
    sns.heatmap(shown, ax=ax, cmap="viridis", annot=True, fmt=".0f", annot_kws={"fontsize": size},
                cbar_kws={"fraction": 0.05, "pad": 0.03, "label": "samples (count)"},
                xticklabels=[str(c) for c in counts.columns], yticklabels=list(counts.index))
    ax.tick_params(labelsize=MIN_FONT_PT, length=0)
    ax.set_ylabel("")
    ax.set_xlabel("donor", fontsize=MIN_FONT_PT + 1)
    cb = ax.collections[0].colorbar
    return _finish(fig, ax, cb, label="samples (count)", title=title)


def plot_review_heatmap(matrix: pd.DataFrame) -> plt.Figure:
    """Site x parameter directions (Tables 1-2 of the review) as a heatmap.

    Drawn with :func:`seaborn.heatmap`: each cell coloured by its direction and marked with a
    symbol (↑ increase, ↓ decrease, = no change, ↕ mixed, · not studied), so the colour is never
    the only mark.

    Parameters
    ----------
    matrix : pandas.DataFrame, shape (n_sites, n_parameters)
        :func:`qmrigenes.lesions.review_direction_matrix`: +1, -1, 0, 0.5 or NaN.
    """
    import seaborn as sns

    cmap = ListedColormap(["#4c72b0", "#bbbbbb", "#b07cc6", "#c44e52"])
    norm = BoundaryNorm([-1.5, -0.5, 0.25, 0.75, 1.5], cmap.N)
    symbols = {1.0: "↑", -1.0: "↓", 0.0: "=", 0.5: "↕"}
    values = matrix.astype(float)
    marks = values.apply(lambda col: col.map(lambda v: "·" if pd.isna(v) else symbols[float(v)]))
    fig, ax = plt.subplots(figsize=(6.0, 0.42 * len(matrix) + 1.2), layout="constrained")
    sns.heatmap(values, ax=ax, cmap=cmap, norm=norm, cbar=False, linewidths=1.5, linecolor="white",
                annot=marks.to_numpy(), fmt="", annot_kws={"fontsize": 12, "color": "white"})
    for (i, j), v in np.ndenumerate(values.to_numpy()):     # seaborn leaves NaN cells blank: "·" in black
        if np.isnan(v):
            ax.text(j + 0.5, i + 0.5, "·", ha="center", va="center", fontsize=12, color="black")
    ax.set_xticklabels(matrix.columns, fontsize=MIN_FONT_PT + 1, rotation=0)
    ax.set_yticklabels(matrix.index, fontsize=MIN_FONT_PT, rotation=0)
    ax.set_xlabel("")
    ax.set_ylabel("")
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    return fig
