"""Null distributions: histograms of random-gene-set and spatial nulls with the observed statistic.

Every plotting function returns a :class:`matplotlib.figure.Figure` and does not save or show it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._validate import describe
from .style import MIN_FONT_PT, _TITLE

__all__ = [
    "plot_association",
    "plot_null_distributions",
    "plot_null_histogram",
]

_COLOURS = {"random gene sets": "#0072B2", "spatial null": "#E69F00", "observed": "#000000"}


def plot_association(details, *, map_name=None, max_sets: int = 12, ncols: int = 3):
    """The map as regional bars, and for each gene set its null distributions with the observed r.

    Parameters
    ----------
    details : qmrigenes.association.AssociationDetails
        From ``associate(..., return_details=True)``.
    map_name : str, optional
        The map to show (default the first).
    max_sets : int
        Show at most this many sets (those with the smallest first p-value).
    ncols : int
        Columns of null panels (1 to 4); fewer columns make a narrower figure whose text stays
        legible when it is shown at a page's column width (smallest font 8 pt).

    Returns
    -------
    matplotlib.figure.Figure
        Left: the map's value per region (bars, cortex and deep grey in different
        colours; colour-blind-safe palette). Right: one panel per set, the
        random-gene-set null and the spatial null (spins or label permutations)
        as histograms, the observed mean r as a black line.

    Examples
    --------
    >>> table, details = qmrigenes.associate("map.csv", return_details=True)   # doctest: +SKIP
    >>> plot_association(details).savefig("result.png")                        # doctest: +SKIP
    """

    if not hasattr(details, "nulls") or not hasattr(details, "maps"):
        raise TypeError(f"details must be the AssociationDetails of associate(..., return_details=True), "
                        f"got {describe(details)}")
    maps = details.maps
    name = maps.columns[0] if map_name is None else map_name
    if name not in maps.columns:
        raise ValueError(f"map_name {name!r} is not a map of the result; known: {list(maps.columns)}")
    m = list(maps.columns).index(name)
    table = details.table[details.table["map"] == name]
    pcol = next((c for c in ("p_gene", "p_spin", "p_label") if c in table), "r")
    shown = table.sort_values(pcol).head(max_sets)["gene_set"].tolist()
    n = len(shown)
    if isinstance(ncols, bool) or not isinstance(ncols, (int, np.integer)) or not 1 <= ncols <= 4:
        raise ValueError(f"ncols must be an integer from 1 to 4, got {ncols!r}")
    ncol = min(int(ncols), n)
    nrow = int(np.ceil(n / ncol))
    n_regions = len(maps)
    fig = plt.figure(figsize=(4 + 2.6 * ncol, max(4.5, 2.1 * nrow + 0.8, 0.13 * n_regions + 1.0)),
                     layout="constrained")
    grid = fig.add_gridspec(nrow, ncol + 1, width_ratios=[1.6] + [1] * ncol)
    ax = fig.add_subplot(grid[:, 0])
    values = maps[name]
    from ..association import SUBCORTICAL_REGIONS

    order = values.sort_values()
    labels = [f"{h} {r}" for h, r in order.index]
    colours = ["#CC79A7" if r in SUBCORTICAL_REGIONS else "#009E73" for _, r in order.index]
    ax.barh(np.arange(len(order)), order.to_numpy(), color=colours)
    ax.set_yticks(np.arange(len(order)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_xlabel(f"{name} (map units)", fontsize=MIN_FONT_PT)
    ax.set_title("map by region", fontsize=MIN_FONT_PT + 1)
    nulls = details.nulls
    spatial = "spin" in nulls and details.perms is not None
    for k, set_name in enumerate(shown):
        a = fig.add_subplot(grid[k // ncol, 1 + k % ncol])
        s = nulls["sets"].index(set_name)
        obs = float(table.loc[table["gene_set"] == set_name, "r"].iloc[0])
        samples = [nulls["gene"][:, s, m]] + ([nulls["spin"][:, s, m]] if spatial else [])
        lo = min(min(x.min() for x in samples), obs)
        hi = max(max(x.max() for x in samples), obs)
        bins = np.linspace(lo, hi, 41)
        a.hist(nulls["gene"][:, s, m], bins=bins, density=True, alpha=0.6, color=_COLOURS["random gene sets"],
               label="random gene sets")
        if spatial:
            a.hist(nulls["spin"][:, s, m], bins=bins, density=True, alpha=0.5, color=_COLOURS["spatial null"],
                   label="spatial null")
        a.axvline(obs, color=_COLOURS["observed"], lw=1.3, label="observed r")
        a.set_title(str(set_name).replace(".", " ")[:28], fontsize=MIN_FONT_PT)
        a.tick_params(labelsize=8)
        a.locator_params(axis="y", nbins=3)
        a.set_xlabel("mean r", fontsize=8)
        if k == 0:
            a.legend(fontsize=8, frameon=False)
    fig.suptitle(f"{name}: gene-set association ({len(values)} regions)", fontsize=11)
    return fig


def plot_null_distributions(nulls: dict, table: pd.DataFrame, *, map_key, sets=None):
    """Random-gene-set and spin null distributions of the gene-set score for one map.

    Parameters
    ----------
    nulls : dict
        From ``gene_set_association(..., return_nulls=True)``: ``gene``,
        ``spin`` arrays (n, n_sets, n_maps) and ``sets``.
    table : pandas.DataFrame
        The association table (for observed r); its map levels index ``map_key``.
    map_key : tuple or str
        The map (column of the maps table) to show.
    sets : sequence of str, optional
        Gene sets to show (default all).

    Returns
    -------
    matplotlib.figure.Figure
    """

    if not isinstance(nulls, dict) or not {"gene", "sets"} <= set(nulls):
        raise TypeError("nulls must be the dict of gene_set_association(..., return_nulls=True) "
                        f"(keys 'gene', 'sets'), got {describe(nulls)}")
    if isinstance(sets, str):
        raise TypeError(f"sets must be a list of set names, got a bare string {sets!r} (write [{sets!r}])")
    sets = nulls["sets"] if sets is None else list(sets)
    unknown = [s for s in sets if s not in nulls["sets"]]
    if unknown:
        raise ValueError(f"sets not in the nulls: {unknown}; known: {nulls['sets']}")
    key = map_key if isinstance(map_key, tuple) else (map_key,)
    maps = list(table.index.droplevel("gene_set").unique())
    wanted = key if len(key) > 1 else key[0]
    if wanted not in maps:
        raise ValueError(f"map_key {map_key!r} is not a map of the table; known: {maps}")
    m = maps.index(wanted)
    n = len(sets)
    ncol = min(3, n)
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(7.5, 2.0 * nrow + 0.6), squeeze=False, sharex=True)
    for ax, name in zip(axes.ravel(), sets):
        s = nulls["sets"].index(name)
        obs = table.loc[(name, *key), "r"]
        bins = np.linspace(-0.6, 0.6, 61)
        ax.hist(nulls["gene"][:, s, m], bins=bins, alpha=0.6, density=True, label="random gene sets")
        if "spin" in nulls:
            ax.hist(nulls["spin"][:, s, m], bins=bins, alpha=0.5, density=True, label="spun maps")
        ax.axvline(obs, color="k", lw=1.2, label="observed r")
        ax.set_title(name.replace(".", " "), fontsize=MIN_FONT_PT + 1)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.locator_params(axis="y", nbins=3)
    for ax in axes.ravel()[n:]:
        ax.set_axis_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=3, fontsize=MIN_FONT_PT, frameon=False)
    for ax in axes[-1]:
        ax.set_xlabel("gene-set score r", fontsize=MIN_FONT_PT)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig


def plot_null_histogram(null: np.ndarray, observed: float, *, xlabel: str = "mean r of random gene sets",
                   title: str | None = None, bins: int = 40) -> plt.Figure:
    """Histogram of a gene-set null with the observed score marked (the static twin of the widget)."""
    null = np.asarray(null, dtype=float)
    if null.ndim != 1 or null.size < 2 or not np.isfinite(null).all():
        raise ValueError("null must be a 1-D finite array with at least two draws")
    fig, ax = plt.subplots(figsize=(6.0, 3.6))
    ax.hist(null, bins=bins, color="0.6", density=True, label=f"random gene sets ({null.size:,})")
    ax.axvline(observed, color="C3", lw=2, label=f"observed ({observed:.2f})")
    ax.set_xlabel(xlabel, fontsize=MIN_FONT_PT + 1)
    ax.set_ylabel("density", fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.legend(fontsize=MIN_FONT_PT, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    if title:
        ax.set_title(title, fontsize=_TITLE)
    fig.tight_layout()
    return fig
