"""Slices of volumes: phantoms, parameter maps, QSM reconstructions, fields and lesion crops.

Volumes are indexed (x, y, z) in voxels; axial slices are shown at a given ``z``, coronal at ``y``.

Every plotting function returns a :class:`matplotlib.figure.Figure` and does not save or show it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap

from .style import (COLUMN_WIDTH_IN, MIN_FONT_PT, _LABELS, _NAMES, _RANGES, _axial, _coronal, _show, _cbar,
                    _row_label, _display_name)
from ..phantom import TISSUES

__all__ = [
    "deep_nuclei_slice",
    "plot_phantom",
    "plot_mpm_maps",
    "plot_denoising",
    "plot_qsm",
    "plot_sharp",
    "plot_lesion_stages",
]

_DEEP_NUCLEI = ("caudate", "putamen", "pallidum", "thalamus")


def deep_nuclei_slice(labels: np.ndarray) -> int:
    """Axial slice index through all four deep grey nuclei of a phantom's label volume.

    Parameters
    ----------
    labels : ndarray of int, shape (X, Y, Z)
        Tissue labels (keys of :data:`qmrigenes.phantom.TISSUES`).

    Returns
    -------
    int
        The ``z`` that maximises the voxel count of the least represented of the caudate,
        putamen, pallidum and thalamus; the middle slice if the labels contain none of them.
    """
    labels = np.asarray(labels)
    lut = {v: k for k, v in TISSUES.items()}
    counts = np.stack([(labels == lut[n]).sum(axis=(0, 1)) for n in _DEEP_NUCLEI])
    if not counts.any():
        return labels.shape[2] // 2
    return int(np.argmax(counts.min(axis=0) * 1e6 + counts.sum(axis=0)))


def plot_phantom(phantom, *, z: int | None = None) -> plt.Figure:
    """Axial slice of the phantom: tissue labels and the five parameter maps (2 rows x 3).

    ``z`` defaults to :func:`deep_nuclei_slice`, a slice through every tissue class
    the legend lists.
    """
    z = deep_nuclei_slice(phantom.labels) if z is None else z
    fig, axes = plt.subplots(2, 3, figsize=(COLUMN_WIDTH_IN, 5.6), layout="constrained")
    cmap = ListedColormap(["black", "#4c72b0", "#8c8c8c", "#f0f0f0", "#dd8452", "#c44e52",
                           "#8172b3", "#55a868"], name="tissue classes")
    im = _show(axes[0, 0], _axial(phantom.labels, z), cmap=cmap, vmin=-0.5, vmax=7.5,
               title="tissue class")
    cb = fig.colorbar(im, ax=axes[0, 0], ticks=range(8))
    cb.ax.set_yticklabels([TISSUES[i] for i in range(8)], fontsize=MIN_FONT_PT)
    cb.ax.tick_params(length=0)
    for ax, key in zip(axes.ravel()[1:], ("R1", "PD", "R2s", "MTsat", "chi")):
        im = _show(ax, _axial(phantom.maps[key], z), vmin=_RANGES[key][0], vmax=_RANGES[key][1],
                   title=_NAMES[key])
        _cbar(fig, im, ax, _LABELS[key])
    return fig


def plot_mpm_maps(truth: dict, estimates: dict, b1: np.ndarray, *, z: int) -> plt.Figure:
    """Truth and estimated MPM maps; ``estimates`` = {row title: maps}. First column: B1.

    One row per map set, one column per parameter; a colourbar with units under each column.
    """
    rows = {"truth": truth, **estimates}
    keys = ("R1", "PD", "R2s", "MTsat")
    fig, axes = plt.subplots(len(rows), len(keys) + 1,
                             figsize=(COLUMN_WIDTH_IN, 1.75 * len(rows) + 0.9), layout="constrained")
    axes = np.atleast_2d(axes)
    for i, (name, maps) in enumerate(rows.items()):
        if i == 0:
            im = _show(axes[0, 0], _axial(b1, z), vmin=0.7, vmax=1.3, cmap="coolwarm", title="B1+")
            _cbar(fig, im, axes[:, 0], "B1+ (relative)", location="bottom", nbins=3, shrink=0.9)
        else:
            axes[i, 0].set_axis_off()
        _row_label(axes[i, 1], name)
        for j, key in enumerate(keys):
            img = _axial(np.nan_to_num(maps[key]), z)
            im = _show(axes[i, j + 1], img, vmin=_RANGES[key][0], vmax=_RANGES[key][1],
                       title=_NAMES[key] if i == 0 else None)
            if i == 0:
                _cbar(fig, im, axes[:, j + 1], _LABELS[key], location="bottom", nbins=3, shrink=0.9)
    return fig


def plot_denoising(r2s_noisy: np.ndarray, r2s_denoised: np.ndarray, r2s_true: np.ndarray,
                   precision: pd.DataFrame, *, z: int) -> plt.Figure:
    """R2* maps without and with NLM denoising (top), and the per-tissue SD of the error (bottom)."""
    fig = plt.figure(figsize=(COLUMN_WIDTH_IN, 6.0), layout="constrained")
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    axes = top.subplots(1, 3)
    for ax, (img, title) in zip(axes, ((r2s_true, "truth"), (r2s_noisy, "no denoising"),
                                       (r2s_denoised, "NLM before the fit"))):
        im = _show(ax, _axial(np.nan_to_num(img), z), vmin=0, vmax=40, title=title)
    _cbar(top, im, axes, "R2* (s⁻¹)")
    ax = bottom.subplots()
    precision.plot.bar(ax=ax, rot=0, fontsize=MIN_FONT_PT)
    ax.set_ylabel("SD of R2* error (s⁻¹)")
    ax.set_xlabel("")
    ax.legend(fontsize=MIN_FONT_PT + 1, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(precision.columns),
              frameon=False)
    return fig


def plot_qsm(truth: np.ndarray, recons: dict, *, z: int, y: int, window=(-0.08, 0.14)) -> plt.Figure:
    """Axial and coronal slices of true and reconstructed chi, and the coronal error.

    One row per map (row label at the left); B0 runs along the volume's third axis, i.e.
    vertically in the coronal view, where streaking artefacts appear.
    """
    rows = {"truth": truth, **recons}
    fig, axes = plt.subplots(len(rows), 3, figsize=(COLUMN_WIDTH_IN, 2.15 * len(rows) + 0.9),
                             layout="constrained")
    axes = np.atleast_2d(axes)
    for j, title in enumerate(("axial", "coronal (B0 ↑)", "coronal: reconstruction − truth")):
        axes[0, j].set_title(title, fontsize=MIN_FONT_PT + 1)
    for i, (name, chi) in enumerate(rows.items()):
        _show(axes[i, 0], _axial(chi, z), vmin=window[0], vmax=window[1])
        _row_label(axes[i, 0], name)
        im = _show(axes[i, 1], _coronal(chi, y), vmin=window[0], vmax=window[1])
        if i == 0:
            _cbar(fig, im, axes[:, :2], "χ (ppm)", location="bottom", shrink=0.6)
            axes[i, 2].set_axis_off()
        else:
            im2 = _show(axes[i, 2], _coronal(chi - truth, y), vmin=-0.05, vmax=0.05, cmap="RdBu_r")
            if i == 1:
                _cbar(fig, im2, axes[:, 2], "error (ppm)", location="bottom", nbins=3)
    return fig


def plot_sharp(total: np.ndarray, local_true: np.ndarray, local_sharp: np.ndarray, eroded: np.ndarray,
               *, y: int) -> plt.Figure:
    """Coronal slices (2 x 2): total field with a background source, true and SHARP local fields,
    and the SHARP error; every panel with its colourbar (ppm of B0)."""
    fig, axes = plt.subplots(2, 2, figsize=(COLUMN_WIDTH_IN, 6.6), layout="constrained")
    big = float(np.nanpercentile(np.abs(total), 99))
    im = _show(axes[0, 0], _coronal(total, y), vmin=-big, vmax=big, cmap="RdBu_r",
               title="total field")
    _cbar(fig, im, axes[0, 0], "field (ppm)")
    w = 0.03
    for ax, img, title in ((axes[0, 1], np.where(eroded, local_true, 0), "true local field"),
                           (axes[1, 0], local_sharp, "SHARP local field"),
                           (axes[1, 1], np.where(eroded, local_sharp - local_true, 0), "SHARP − true")):
        im = _show(ax, _coronal(img, y), vmin=-w, vmax=w, cmap="RdBu_r", title=title)
        _cbar(fig, im, ax, "field (ppm)")
    return fig


def plot_lesion_stages(maps: dict, info: pd.DataFrame, *, half_width: int = 8) -> plt.Figure:
    """Crops around each lesion (rows: stages) of each map (columns); a colourbar with units
    under each column. Map keys start with a parameter (``R1``, ``PD``, ``R2s``, ``chi``, ``QSM``);
    χ maps (ppm) are shown in ppb. A lesion closer than ``half_width`` voxels to the grid's edge
    gets a crop cut at the edge."""
    keys = list(maps)
    width = min(COLUMN_WIDTH_IN, 1.5 * len(keys) + 0.4)
    fig, axes = plt.subplots(len(info), len(keys), figsize=(width, 1.45 * len(info) + 1.2),
                             layout="constrained")
    axes = np.atleast_2d(axes)
    for i, (_, row) in enumerate(info.iterrows()):
        # cut at the grid's edge (a negative start would count from the far end: an empty crop)
        sl = (slice(max(row.x - half_width, 0), row.x + half_width + 1),
              slice(max(row.y - half_width, 0), row.y + half_width + 1), row.z)
        for j, key in enumerate(keys):
            base = key.split(" ")[0]
            lo, hi = _RANGES.get(base, (None, None))
            title, label = _display_name(key)
            scale = 1.0
            if base in ("chi", "QSM"):               # ppb: short colourbar ticks
                scale, lo, hi, label = 1000.0, 1000 * lo, 1000 * hi, "χ (ppb)"
            im = _show(axes[i, j], scale * np.rot90(np.nan_to_num(maps[key][sl])), vmin=lo, vmax=hi,
                       title=title if i == 0 else None)
            if i == len(info) - 1:
                _cbar(fig, im, axes[:, j], label, location="bottom", nbins=3, shrink=0.95)
        _row_label(axes[i, 0], row.stage.replace("_", " "))
    return fig
