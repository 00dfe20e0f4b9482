"""Figures of Chapter 3 (quantitative MRI in multiple sclerosis).

Every function returns a :class:`matplotlib.figure.Figure` and takes arrays
or tables produced by :mod:`qmrigenes.phantom`, :mod:`qmrigenes.relaxometry`,
:mod:`qmrigenes.qsm` and :mod:`qmrigenes.lesions`.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap

from ..phantom import TISSUES

__all__ = [
    "plot_phantom",
    "plot_mpm_maps",
    "plot_accuracy",
    "plot_r1_bias",
    "plot_denoising",
    "plot_qsm",
    "plot_roi_means",
    "plot_sharp",
    "plot_lesion_stages",
    "plot_lesion_profiles",
    "plot_review_heatmap",
    "plot_atrophy",
]

_LABELS = {"R1": "R1 (1/s)", "PD": "PD (p.u.)", "R2s": "R2* (1/s)", "MTsat": "MTsat (p.u.)",
           "chi": "χ (ppm)", "QSM": "χ (ppm)"}
_RANGES = {"R1": (0.2, 1.1), "PD": (60, 100), "R2s": (0, 40), "MTsat": (0, 0.8), "chi": (-0.06, 0.12),
           "QSM": (-0.06, 0.12)}


def _axial(vol, z):
    return np.rot90(np.asarray(vol)[:, :, z])


def _coronal(vol, y):
    return np.rot90(np.asarray(vol)[:, y, :])


def _show(ax, img, *, vmin=None, vmax=None, cmap="gray", title=None):
    im = ax.imshow(img, vmin=vmin, vmax=vmax, cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return im


def plot_phantom(phantom, *, z: int | None = None) -> plt.Figure:
    """Axial slice of the phantom: tissue labels and the five parameter maps."""
    z = phantom.shape[2] // 2 + 8 if z is None else z
    fig, axes = plt.subplots(1, 6, figsize=(13, 2.8), constrained_layout=True)
    cmap = ListedColormap(["black", "#4c72b0", "#8c8c8c", "#f0f0f0", "#dd8452", "#c44e52",
                           "#8172b3", "#55a868"])
    im = _show(axes[0], _axial(phantom.labels, z), cmap=cmap, vmin=-0.5, vmax=7.5, title="tissue class")
    cb = fig.colorbar(im, ax=axes[0], ticks=range(8), shrink=0.8)
    cb.ax.set_yticklabels([TISSUES[i] for i in range(8)], fontsize=6)
    for ax, key in zip(axes[1:], ("R1", "PD", "R2s", "MTsat", "chi")):
        im = _show(ax, _axial(phantom.maps[key], z), vmin=_RANGES[key][0], vmax=_RANGES[key][1],
                   title=_LABELS[key])
        fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def plot_mpm_maps(truth: dict, estimates: dict, b1: np.ndarray, *, z: int) -> plt.Figure:
    """Truth and estimated MPM maps; ``estimates`` = {row title: maps}. First column: B1."""
    rows = {"truth": truth, **estimates}
    keys = ("R1", "PD", "R2s", "MTsat")
    fig, axes = plt.subplots(len(rows), len(keys) + 1, figsize=(11, 2.4 * len(rows)),
                             constrained_layout=True)
    for i, (name, maps) in enumerate(rows.items()):
        if i == 0:
            im = _show(axes[0, 0], _axial(b1, z), vmin=0.7, vmax=1.3, cmap="coolwarm", title="B1+ (relative)")
            fig.colorbar(im, ax=axes[0, 0], shrink=0.8)
        else:
            axes[i, 0].set_axis_off()
        axes[i, 0].text(-0.1, 0.5, name, transform=axes[i, 0].transAxes, rotation=90, va="center",
                        ha="right", fontsize=10)
        for j, key in enumerate(keys):
            img = _axial(np.nan_to_num(maps[key]), z)
            im = _show(axes[i, j + 1], img, vmin=_RANGES[key][0], vmax=_RANGES[key][1],
                       title=_LABELS[key] if i == 0 else None)
            if i == 0:
                fig.colorbar(im, ax=axes[:, j + 1], shrink=0.5)
    return fig


def plot_accuracy(table: pd.DataFrame) -> plt.Figure:
    """Bias (bars) and noise (error bars) per parameter and tissue, per method.

    ``table`` has a ``method`` column plus the columns of
    :func:`qmrigenes.relaxometry.accuracy_table` (reset index).
    """
    params = list(dict.fromkeys(table["parameter"]))
    methods = list(dict.fromkeys(table["method"]))
    tissues = list(dict.fromkeys(table["tissue"]))
    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.4), sharey=False,
                             constrained_layout=True)
    width = 0.8 / len(methods)
    colors = plt.get_cmap("tab10").colors
    for ax, par in zip(np.atleast_1d(axes), params):
        for m, method in enumerate(methods):
            sub = table[(table["parameter"] == par) & (table["method"] == method)].set_index("tissue")
            sub = sub.reindex(tissues)
            x = np.arange(len(tissues)) + (m - (len(methods) - 1) / 2) * width
            ax.bar(x, sub["bias_pct"], width, yerr=sub["noise_pct"], color=colors[m], label=method,
                   capsize=2, error_kw={"lw": 0.8})
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(tissues)))
        ax.set_xticklabels(tissues, rotation=60, ha="right", fontsize=8)
        ax.set_title(_LABELS.get(par, par), fontsize=10)
        ax.set_ylabel("bias ± SD of error (% of truth)" if par == params[0] else "")
    np.atleast_1d(axes)[0].legend(fontsize=8, loc="lower left")
    return fig


def plot_r1_bias(curves: dict) -> plt.Figure:
    """R1 error of the small-angle estimate vs T1w flip angle; ``curves`` = {label: DataFrame}."""
    fig, ax = plt.subplots(figsize=(5, 3.4), constrained_layout=True)
    for label, df in curves.items():
        ax.plot(df["fa_t1w"], df["r1_error_pct"], label=label)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("T1w flip angle (degrees)")
    ax.set_ylabel("R1 error (% of truth)")
    ax.legend(fontsize=8)
    return fig


def plot_denoising(r2s_noisy: np.ndarray, r2s_denoised: np.ndarray, r2s_true: np.ndarray,
                   precision: pd.DataFrame, *, z: int) -> plt.Figure:
    """R2* maps without and with NLM denoising, and the per-tissue SD of the error."""
    fig = plt.figure(figsize=(12, 3.2), constrained_layout=True)
    gs = fig.add_gridspec(1, 4, width_ratios=[1, 1, 1, 1.4])
    for k, (img, title) in enumerate(((r2s_true, "truth"), (r2s_noisy, "no denoising"),
                                      (r2s_denoised, "NLM before the fit"))):
        ax = fig.add_subplot(gs[0, k])
        im = _show(ax, _axial(np.nan_to_num(img), z), vmin=0, vmax=40, title=f"R2* (1/s): {title}")
    fig.colorbar(im, ax=fig.axes, shrink=0.7, location="left")
    ax = fig.add_subplot(gs[0, 3])
    precision.plot.bar(ax=ax, rot=45)
    ax.set_ylabel("SD of R2* error (1/s)")
    ax.set_xlabel("")
    for lbl in ax.get_xticklabels():
        lbl.set_ha("right")
    return fig


def plot_qsm(truth: np.ndarray, recons: dict, *, z: int, y: int, window=(-0.08, 0.14)) -> plt.Figure:
    """Axial and coronal slices of true and reconstructed chi, and the coronal error.

    B0 runs along the volume's third axis, i.e. vertically in the coronal view,
    where streaking artefacts appear.
    """
    rows = {"truth": truth, **recons}
    fig, axes = plt.subplots(len(rows), 3, figsize=(8.5, 2.6 * len(rows)), constrained_layout=True)
    for i, (name, chi) in enumerate(rows.items()):
        _show(axes[i, 0], _axial(chi, z), vmin=window[0], vmax=window[1], title=f"{name}: axial")
        im = _show(axes[i, 1], _coronal(chi, y), vmin=window[0], vmax=window[1],
                   title=f"{name}: coronal (B0 ↑)")
        if i == 0:
            fig.colorbar(im, ax=axes[:, 1], shrink=0.4, label="χ (ppm)")
            axes[i, 2].set_axis_off()
        else:
            im2 = _show(axes[i, 2], _coronal(chi - truth, y), vmin=-0.05, vmax=0.05, cmap="RdBu_r",
                        title=f"{name} − truth")
            if i == 1:
                fig.colorbar(im2, ax=axes[:, 2], shrink=0.4, label="error (ppm)")
    return fig


def plot_roi_means(table: pd.DataFrame, *, truth: str = "truth") -> plt.Figure:
    """Reconstructed ROI means against the truth (one marker per method and ROI)."""
    methods = [c for c in table.columns if c not in (truth, "n_voxels")]
    fig, ax = plt.subplots(figsize=(4.6, 4.2), constrained_layout=True)
    lo = min(table[[truth] + methods].min().min(), -0.02)
    hi = table[[truth] + methods].max().max() * 1.1
    ax.plot([lo, hi], [lo, hi], color="k", lw=0.8, label="identity")
    for m, marker in zip(methods, "osd^v"):
        ax.scatter(table[truth], table[m], marker=marker, label=m)
    for name, row in table.iterrows():
        ax.annotate(name, (row[truth], row[methods].max()), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("true ROI mean χ (ppm)")
    ax.set_ylabel("reconstructed ROI mean χ (ppm)")
    ax.legend(fontsize=8)
    return fig


def plot_sharp(total: np.ndarray, local_true: np.ndarray, local_sharp: np.ndarray, eroded: np.ndarray,
               *, y: int) -> plt.Figure:
    """Coronal slices: total field with a background source, true and SHARP local fields."""
    fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), constrained_layout=True)
    big = np.nanpercentile(np.abs(total), 99)
    im = _show(axes[0], _coronal(total, y), vmin=-big, vmax=big, cmap="RdBu_r", title="total field (ppm)")
    fig.colorbar(im, ax=axes[0], shrink=0.8)
    w = 0.03
    for ax, img, title in ((axes[1], np.where(eroded, local_true, 0), "true local field"),
                           (axes[2], local_sharp, "SHARP local field"),
                           (axes[3], np.where(eroded, local_sharp - local_true, 0), "SHARP − true")):
        im = _show(ax, _coronal(img, y), vmin=-w, vmax=w, cmap="RdBu_r", title=title)
    fig.colorbar(im, ax=axes[1:], shrink=0.8, label="ppm")
    return fig


def plot_lesion_stages(maps: dict, info: pd.DataFrame, *, half_width: int = 8) -> plt.Figure:
    """Crops around each lesion (rows: stages) of each map (columns)."""
    keys = list(maps)
    fig, axes = plt.subplots(len(info), len(keys), figsize=(2.1 * len(keys), 2.1 * len(info)),
                             constrained_layout=True)
    axes = np.atleast_2d(axes)
    for i, (_, row) in enumerate(info.iterrows()):
        sl = (slice(row.x - half_width, row.x + half_width + 1),
              slice(row.y - half_width, row.y + half_width + 1), row.z)
        for j, key in enumerate(keys):
            base = key.split(" ")[0]
            lo, hi = _RANGES.get(base, (None, None))
            im = _show(axes[i, j], np.rot90(np.nan_to_num(maps[key][sl])), vmin=lo, vmax=hi,
                       title=key if i == 0 else None)
            if i == len(info) - 1:
                fig.colorbar(im, ax=axes[:, j], shrink=0.5, location="bottom")
        axes[i, 0].text(-0.08, 0.5, row.stage.replace("_", " "), transform=axes[i, 0].transAxes,
                        rotation=90, va="center", ha="right", fontsize=9)
    return fig


def plot_lesion_profiles(profiles: pd.DataFrame) -> plt.Figure:
    """Radial lesion profiles: ``profiles`` has columns stage, parameter, distance_mm, value, source."""
    params = list(dict.fromkeys(profiles["parameter"]))
    fig, axes = plt.subplots(1, len(params), figsize=(3.2 * len(params), 3.2), constrained_layout=True)
    colors = dict(zip(dict.fromkeys(profiles["stage"]), plt.get_cmap("tab10").colors))
    for ax, par in zip(np.atleast_1d(axes), params):
        sub = profiles[profiles["parameter"] == par]
        for (stage, source), g in sub.groupby(["stage", "source"], sort=False):
            ax.plot(g["distance_mm"], g["value"], color=colors[stage],
                    ls="-" if source == "truth" else "--", marker="o" if source != "truth" else None,
                    ms=3, label=f"{stage.replace('_', ' ')} ({source})")
        ax.set_xlabel("distance from lesion centre (mm)")
        ax.set_title(_LABELS.get(par, par), fontsize=10)
    np.atleast_1d(axes)[0].legend(fontsize=6, loc="best")
    return fig


def plot_review_heatmap(matrix: pd.DataFrame) -> plt.Figure:
    """Site x parameter directions (Tables 1-2 of the review) as a heatmap."""
    cmap = ListedColormap(["#4c72b0", "#bbbbbb", "#b07cc6", "#c44e52"])
    norm = BoundaryNorm([-1.5, -0.5, 0.25, 0.75, 1.5], cmap.N)
    fig, ax = plt.subplots(figsize=(5.6, 0.42 * len(matrix) + 1.2), constrained_layout=True)
    ax.imshow(np.ma.masked_invalid(matrix.to_numpy(float)), cmap=cmap, norm=norm, aspect="auto")
    symbols = {1.0: "↑", -1.0: "↓", 0.0: "=", 0.5: "↕"}
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            v = matrix.iat[i, j]
            ax.text(j, i, "·" if pd.isna(v) else symbols[float(v)], ha="center", va="center",
                    fontsize=12, color="black" if pd.isna(v) else "white")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_xticklabels(matrix.columns)
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_yticklabels(matrix.index, fontsize=8)
    ax.xaxis.tick_top()
    ax.set_xticks(np.arange(-0.5, matrix.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0]), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    return fig


def plot_atrophy(series: pd.DataFrame) -> plt.Figure:
    """Concentration (mean) vs content (mass) of a shrinking nucleus, relative to baseline."""
    base = series.iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), constrained_layout=True)
    x = 100 * series.index.to_numpy()
    pairs = [("R2s_mean", "R2s_mass", "R2*"), ("chi_mean", "chi_mass", "χ (truth)")]
    if "chi_mean_measured" in series:
        pairs.append(("chi_mean_measured", "chi_mass_measured", "χ (TKD reconstruction)"))
    for (mean, mass, lab), color in zip(pairs, plt.get_cmap("tab10").colors):
        axes[0].plot(x, series[mean] / base[mean], "o-", color=color, label=lab)
        axes[1].plot(x, series[mass] / base[mass], "o-", color=color, label=lab)
    axes[0].plot(x, series["volume_ml"] / base["volume_ml"], "k:", label="volume")
    axes[0].set_title("mean over the nucleus (concentration)", fontsize=10)
    axes[1].set_title("sum × voxel volume (content, 'mass')", fontsize=10)
    for ax in axes:
        ax.set_xlabel("volume loss (%)")
        ax.set_ylabel("relative to baseline")
        ax.legend(fontsize=8)
    axes[1].set_ylim(0.5, 1.5)
    return fig
