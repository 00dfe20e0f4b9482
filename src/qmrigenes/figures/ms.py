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
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..phantom import TISSUES
from . import CATEGORICAL, CATEGORICAL_MARKERS

__all__ = [
    "COLUMN_WIDTH_IN",
    "MIN_FONT_PT",
    "deep_nuclei_slice",
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
    "plot_tkd_sweep",
    "plot_flip_angle_noise",
]

#: Widest figure (inches): the book's text column is about 750 px, i.e. 7.5 in at 100 dpi.
COLUMN_WIDTH_IN = 7.5
#: Smallest font (points) of any text in these figures; at 100 dpi and <= 7.5 in wide this is
#: at least 12 px on the page.
MIN_FONT_PT = 9

_LABELS = {"R1": "R1 (s⁻¹)", "PD": "PD (p.u.)", "R2s": "R2* (s⁻¹)", "MTsat": "MTsat (p.u.)",
           "chi": "χ (ppm)", "QSM": "χ (ppm)"}
_NAMES = {"R1": "R1", "PD": "PD", "R2s": "R2*", "MTsat": "MTsat", "chi": "χ", "QSM": "χ"}
_RANGES = {"R1": (0.2, 1.1), "PD": (60, 100), "R2s": (0, 40), "MTsat": (0, 1.8), "chi": (-0.06, 0.12),
           "QSM": (-0.06, 0.12)}
_DEEP_NUCLEI = ("caudate", "putamen", "pallidum", "thalamus")
_FS = MIN_FONT_PT


def _axial(vol, z):
    return np.rot90(np.asarray(vol)[:, :, z])


def _coronal(vol, y):
    return np.rot90(np.asarray(vol)[:, y, :])


def _show(ax, img, *, vmin=None, vmax=None, cmap="gray", title=None):
    im = ax.imshow(img, vmin=vmin, vmax=vmax, cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=_FS + 1)
    return im


def _cbar(fig, im, ax, label, *, location="right", nbins=4, **kw):
    """A colourbar with a unit label and at most ``nbins`` ticks, fonts >= MIN_FONT_PT."""
    cb = fig.colorbar(im, ax=ax, location=location, **kw)
    cb.set_label(label, fontsize=_FS + 1)
    cb.ax.tick_params(labelsize=_FS)
    axis = cb.ax.xaxis if location in ("top", "bottom") else cb.ax.yaxis
    axis.set_major_locator(MaxNLocator(nbins=nbins))
    return cb


def _row_label(ax, text):
    ax.text(-0.06, 0.5, text, transform=ax.transAxes, rotation=90, va="center", ha="right",
            fontsize=_FS + 1)


def _display_name(key: str) -> tuple[str, str]:
    """(title, colourbar label with unit) of a map key such as ``R2s`` or ``QSM (Tikhonov)``."""
    base, _, rest = key.partition(" ")
    name = _NAMES.get(base, base)
    title = f"{name} {rest}".strip()
    if base == "QSM":
        title = f"χ, QSM {rest}".strip()
    return title, _LABELS.get(base, key)


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
    cb.ax.set_yticklabels([TISSUES[i] for i in range(8)], fontsize=_FS)
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


def plot_accuracy(table: pd.DataFrame) -> plt.Figure:
    """Bias (bars) and noise (error bars) per parameter and tissue, per method (2 x 2 panels).

    ``table`` has a ``method`` column plus the columns of
    :func:`qmrigenes.relaxometry.accuracy_table` (reset index); ``bias_pct`` and ``noise_pct``
    are in percent of the true value, whatever the parameter's own unit.
    """
    params = list(dict.fromkeys(table["parameter"]))
    methods = list(dict.fromkeys(table["method"]))
    tissues = list(dict.fromkeys(table["tissue"]))
    ncol = 2 if len(params) > 1 else 1
    nrow = int(np.ceil(len(params) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(COLUMN_WIDTH_IN, 2.9 * nrow + 0.5), squeeze=False,
                             layout="constrained")
    width = 0.8 / len(methods)
    colors = CATEGORICAL
    for k, (ax, par) in enumerate(zip(axes.ravel(), params)):
        for m, method in enumerate(methods):
            sub = table[(table["parameter"] == par) & (table["method"] == method)].set_index("tissue")
            sub = sub.reindex(tissues)
            x = np.arange(len(tissues)) + (m - (len(methods) - 1) / 2) * width
            ax.bar(x, sub["bias_pct"], width, yerr=sub["noise_pct"], color=colors[m], label=method,
                   capsize=2, error_kw={"lw": 0.8})
        ax.axhline(0, color="k", lw=0.8)
        ax.set_xticks(range(len(tissues)))
        ax.set_xticklabels(tissues, rotation=30, ha="right", fontsize=_FS)
        ax.set_title(f"{_NAMES.get(par, par)}: error in % of the true value", fontsize=_FS + 1)
        ax.tick_params(axis="y", labelsize=_FS)
        if k % ncol == 0:
            ax.set_ylabel("bias ± SD (%)", fontsize=_FS + 1)
    for ax in axes.ravel()[len(params):]:
        ax.set_axis_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(methods), fontsize=_FS + 1,
               frameon=False)
    return fig


def plot_r1_bias(curves: dict) -> plt.Figure:
    """R1 error of the small-angle estimate vs T1w flip angle; ``curves`` = {label: DataFrame}."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0), layout="constrained")
    styles = ("-", "--", "-.", ":")
    for k, (label, df) in enumerate(curves.items()):
        ax.plot(df["fa_t1w"], df["r1_error_pct"], ls=styles[k % 4], lw=1.8, label=label)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("T1w flip angle (°)")
    ax.set_ylabel("R1 error (% of true value)")
    fig.legend(loc="outside lower center", ncol=2, fontsize=_FS + 1, frameon=False)
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
    precision.plot.bar(ax=ax, rot=0, fontsize=_FS)
    ax.set_ylabel("SD of R2* error (s⁻¹)")
    ax.set_xlabel("")
    ax.legend(fontsize=_FS + 1, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(precision.columns),
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
        axes[0, j].set_title(title, fontsize=_FS + 1)
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
        ax.annotate(name, (row[truth], row[methods].max()), fontsize=_FS, xytext=(3, 3),
                    textcoords="offset points")
    ax.set_xlabel("true ROI mean χ (ppm)")
    ax.set_ylabel("reconstructed ROI mean χ (ppm)")
    fig.legend(loc="outside right upper", fontsize=_FS + 1, frameon=False)
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
    χ maps (ppm) are shown in ppb."""
    keys = list(maps)
    width = min(COLUMN_WIDTH_IN, 1.5 * len(keys) + 0.4)
    fig, axes = plt.subplots(len(info), len(keys), figsize=(width, 1.45 * len(info) + 1.2),
                             layout="constrained")
    axes = np.atleast_2d(axes)
    for i, (_, row) in enumerate(info.iterrows()):
        sl = (slice(row.x - half_width, row.x + half_width + 1),
              slice(row.y - half_width, row.y + half_width + 1), row.z)
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


def plot_lesion_profiles(profiles: pd.DataFrame) -> plt.Figure:
    """Radial lesion profiles (2 x 2 panels): ``profiles`` has columns stage, parameter,
    distance_mm, value, source. χ is shown in ppb. Colour = stage, solid = truth,
    dashed with dots = estimate; one legend below the panels."""
    params = list(dict.fromkeys(profiles["parameter"]))
    ncol = 2 if len(params) > 1 else 1
    nrow = int(np.ceil(len(params) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(COLUMN_WIDTH_IN, 2.7 * nrow + 1.0), squeeze=False,
                             layout="constrained")
    stages = list(dict.fromkeys(profiles["stage"]))
    colors = dict(zip(stages, CATEGORICAL))
    markers = dict(zip(stages, CATEGORICAL_MARKERS))
    for ax, par in zip(axes.ravel(), params):
        sub = profiles[profiles["parameter"] == par]
        scale, label = (1000.0, "χ (ppb)") if par in ("chi", "QSM") else (1.0, _LABELS.get(par, par))
        for (stage, source), g in sub.groupby(["stage", "source"], sort=False):
            ax.plot(g["distance_mm"], scale * g["value"], color=colors[stage],
                    ls="-" if source == "truth" else "--",
                    marker=None if source == "truth" else markers[stage], ms=3.5)
        ax.set_title(label, fontsize=_FS + 1)
        ax.set_xlabel("distance from lesion centre (mm)")
    for ax in axes.ravel()[len(params):]:
        ax.set_axis_off()
    handles = [Line2D([], [], color=colors[s], lw=2, marker=markers[s], ms=4, label=s.replace("_", " "))
               for s in stages]
    sources = list(dict.fromkeys(profiles["source"]))
    handles += [Line2D([], [], color="0.3", ls="-" if s == "truth" else "--",
                       marker=None if s == "truth" else "o", ms=3, label=s) for s in sources]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=_FS + 1, frameon=False)
    return fig


def plot_review_heatmap(matrix: pd.DataFrame) -> plt.Figure:
    """Site x parameter directions (Tables 1-2 of the review) as a heatmap."""
    cmap = ListedColormap(["#4c72b0", "#bbbbbb", "#b07cc6", "#c44e52"])
    norm = BoundaryNorm([-1.5, -0.5, 0.25, 0.75, 1.5], cmap.N)
    fig, ax = plt.subplots(figsize=(6.0, 0.42 * len(matrix) + 1.2), layout="constrained")
    ax.imshow(np.ma.masked_invalid(matrix.to_numpy(float)), cmap=cmap, norm=norm, aspect="auto")
    symbols = {1.0: "↑", -1.0: "↓", 0.0: "=", 0.5: "↕"}
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            v = matrix.iat[i, j]
            ax.text(j, i, "·" if pd.isna(v) else symbols[float(v)], ha="center", va="center",
                    fontsize=12, color="black" if pd.isna(v) else "white")
    ax.set_xticks(range(matrix.shape[1]))
    ax.set_xticklabels(matrix.columns, fontsize=_FS + 1)
    ax.set_yticks(range(matrix.shape[0]))
    ax.set_yticklabels(matrix.index, fontsize=_FS)
    ax.xaxis.tick_top()
    ax.set_xticks(np.arange(-0.5, matrix.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, matrix.shape[0]), minor=True)
    ax.grid(which="minor", color="white", lw=1.5)
    ax.tick_params(which="minor", length=0)
    return fig


def plot_atrophy(series: pd.DataFrame) -> plt.Figure:
    """Concentration (mean) vs content (mass) of a shrinking nucleus, relative to baseline.

    Curves that coincide (R2* and true χ both scale with iron concentration in the toy model)
    are told apart by line style and marker: R2* thick solid with open circles, true χ dashed
    with crosses on top of it, TKD-measured χ dotted with triangles.
    """
    base = series.iloc[0]
    fig, axes = plt.subplots(1, 2, figsize=(COLUMN_WIDTH_IN, 3.9), layout="constrained")
    x = 100 * series.index.to_numpy()
    pairs = [("R2s_mean", "R2s_mass", "R2*", dict(ls="-", lw=3.5, marker="o", ms=9, mfc="white",
                                                  alpha=0.9, zorder=2)),
             ("chi_mean", "chi_mass", "χ (truth)", dict(ls="--", lw=1.6, marker="x", ms=8, mew=2,
                                                         zorder=3))]
    if "chi_mean_measured" in series:
        pairs.append(("chi_mean_measured", "chi_mass_measured", "χ (TKD reconstruction)",
                      dict(ls=":", lw=2, marker="^", ms=6, zorder=4)))
    for (mean, mass, lab, style), color in zip(pairs, CATEGORICAL):
        axes[0].plot(x, series[mean] / base[mean], color=color, label=lab, **style)
        axes[1].plot(x, series[mass] / base[mass], color=color, label=lab, **style)
    axes[0].plot(x, series["volume_ml"] / base["volume_ml"], color="k", ls=(0, (1, 1)), lw=1.2,
                 label="volume")
    axes[0].set_title("mean (concentration)", fontsize=_FS + 1)
    axes[1].set_title("sum × voxel volume (content, 'mass')", fontsize=_FS + 1)
    for ax in axes:
        ax.set_xlabel("volume loss (%)")
        ax.set_ylabel("relative to baseline")
    axes[1].set_ylim(0.5, 1.5)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize=_FS + 1, frameon=False)
    return fig


def plot_tkd_sweep(table: pd.DataFrame, *, profile_x=None, profile_truth=None, profiles: dict | None = None,
                   roi: str = "pallidum", uniform: str = "WM") -> plt.Figure:
    """TKD threshold versus χ underestimation and artefacts, and line profiles (static figure).

    Parameters
    ----------
    table : DataFrame indexed by threshold
        Columns ``recovery_pct`` and ``artefact_sd_ppb`` (noisy field) and, optionally,
        ``recovery_pct_clean`` and ``artefact_sd_ppb_clean`` (noise-free field).
    profile_x : array_like, shape (n,), optional
        Position (mm) of the profile samples.
    profile_truth : array_like, shape (n,), optional
        True χ along the profile (ppb).
    profiles : dict of str -> array_like (n,), optional
        Reconstructed χ profiles (ppb), e.g. one per threshold.
    roi, uniform : str
        Names used in the axis labels.
    """
    with_profiles = profiles is not None and profile_x is not None
    fig = plt.figure(figsize=(COLUMN_WIDTH_IN, 6.4 if with_profiles else 3.4), layout="constrained")
    gs = fig.add_gridspec(2 if with_profiles else 1, 2)
    t = table.index.to_numpy(float)
    ax1, ax2 = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[0, 1])
    for col, ax in (("recovery_pct", ax1), ("artefact_sd_ppb", ax2)):
        ax.plot(t, table[col], "o-", color="C0", label="noisy field")
        if f"{col}_clean" in table:
            ax.plot(t, table[f"{col}_clean"], "s--", color="C1", label="noise-free field")
        ax.set_xlabel("TKD threshold t")
    ax1.axhline(100, color="k", lw=0.8)
    ax1.set_ylabel(f"{roi} χ recovered (%)")
    ax2.set_ylabel(f"SD of χ in {uniform} (ppb)")
    ax2.set_ylim(0, None)
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside upper center", ncol=2,
               fontsize=_FS + 1, frameon=False)
    if with_profiles:
        ax3 = fig.add_subplot(gs[1, :])
        if profile_truth is not None:
            ax3.plot(profile_x, profile_truth, color="k", lw=2.5, label="truth")
        for (name, prof), ls in zip(profiles.items(), ("-", "--", ":", "-.")):
            ax3.plot(profile_x, prof, ls=ls, lw=1.5, label=name)
        ax3.set_xlabel(f"distance along B0 from the {roi} centre (mm)")
        ax3.set_ylabel("χ (ppb)")
        ax3.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=_FS + 1, frameon=False)
    return fig


def plot_flip_angle_noise(grid: pd.DataFrame, *, optimum, protocol, ernst: float, r1: float, tr: float,
                          tissue: str = "WM") -> plt.Figure:
    """Noise of two-angle R1 over flip-angle pairs (right) and where the angles sit on the
    SPGR signal curve (left).

    Parameters
    ----------
    grid : DataFrame
        :func:`qmribook.ch3_exercises.r1_noise_grid` (``fa_low``, ``fa_high``, ``r1_cov_pct``,
        ``r1_bias_pct``).
    optimum, protocol : (float, float)
        (low, high) flip angles in degrees to mark.
    ernst : float
        Ernst angle (degrees).
    r1 : float
        R1 (1/s) of the tissue; ``tr`` in s.
    """
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(COLUMN_WIDTH_IN, 3.9), layout="constrained",
                                   width_ratios=[1, 1.25])
    fa = np.linspace(0.5, 60, 240)
    a = np.deg2rad(fa)
    e1 = np.exp(-tr * r1)
    s = np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1)
    s /= s.max()
    ax1.plot(fa, s, color="k", lw=1.5)
    ax1.axvline(ernst, color="0.5", ls=":", lw=1.2)
    ax1.text(ernst, 0.03, f" Ernst {ernst:.1f}°", fontsize=_FS, color="0.3")
    for (lo, hi), style, lab in ((optimum, dict(marker="*", ms=13, color="C3"), "least-noise pair"),
                                  (protocol, dict(marker="o", ms=8, color="C0", mfc="white", mew=2),
                                   "chapter's protocol")):
        ys = np.interp([lo, hi], fa, s)
        ax1.plot([lo, hi], ys, ls="none", label=f"{lab} ({lo:g}°, {hi:g}°)", **style)
        ax2.plot([lo], [hi], ls="none", **style)
    ax1.set_xlabel("flip angle (°)")
    ax1.set_ylabel("SPGR signal / maximum")
    ax1.set_ylim(0, 1.08)
    ax1.set_title(f"{tissue}: R1 = {r1:.2f} s⁻¹, TR = {1000 * tr:g} ms", fontsize=_FS + 1)
    piv = grid.pivot(index="fa_high", columns="fa_low", values="r1_cov_pct")
    bias = grid.pivot(index="fa_high", columns="fa_low", values="r1_bias_pct")
    lo_max = float(np.nanpercentile(piv.to_numpy(), 90))
    im = ax2.pcolormesh(piv.columns, piv.index, piv.to_numpy(), cmap="viridis_r", shading="nearest",
                        vmin=float(np.nanmin(piv.to_numpy())), vmax=lo_max)
    cs = ax2.contour(bias.columns, bias.index, np.abs(bias.to_numpy()), levels=[1, 5], colors="w",
                     linewidths=1.2, linestyles=["--", "-"])
    ax2.clabel(cs, fmt=lambda v: f"|bias| {v:g} %", fontsize=_FS)
    cb = fig.colorbar(im, ax=ax2)
    cb.set_label("SD of R1 (% of R1)", fontsize=_FS + 1)
    cb.ax.tick_params(labelsize=_FS)
    ax2.set_xlabel("low flip angle (°)")
    ax2.set_ylabel("high flip angle (°)")
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=_FS + 1,
               frameon=False)
    return fig
