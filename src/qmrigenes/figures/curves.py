"""Values against a parameter: bars per region or tissue, power and bias curves, sweeps and profiles.

Every plotting function returns a :class:`matplotlib.figure.Figure` and does not save or show it.
"""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from .style import (CATEGORICAL, CATEGORICAL_MARKERS, COLUMN_WIDTH_IN, MIN_FONT_PT, _TITLE, _HATCHES, _LABELS,
                    _NAMES)

__all__ = [
    "plot_roi_bars",
    "plot_power_curves",
    "plot_accuracy",
    "plot_r1_bias",
    "plot_flip_angle_noise",
    "plot_tkd_sweep",
    "plot_lesion_profiles",
    "plot_atrophy",
]


def plot_roi_bars(values: pd.DataFrame, *, value: str = "chi_ppb", sd: str | None = "sd_ppb",
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
        :data:`COLUMN_WIDTH_IN` wide; the legend sits below the axes, outside the data.
    """
    for c in (group, hue, value):
        if c not in values.columns:
            raise ValueError(f"values needs a {c!r} column")
    groups = list(pd.unique(values[group]))
    hues = list(pd.unique(values[hue]))
    width = 0.8 / len(hues)
    fig, ax = plt.subplots(figsize=(COLUMN_WIDTH_IN, 4.6))
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
                            ha="center", fontsize=MIN_FONT_PT, color=CATEGORICAL[k % len(CATEGORICAL)])
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xticks(x, groups, rotation=40, ha="right", fontsize=MIN_FONT_PT)
    ax.tick_params(axis="y", labelsize=MIN_FONT_PT)
    ax.set_ylabel(ylabel, fontsize=MIN_FONT_PT + 1)
    ax.legend(fontsize=MIN_FONT_PT, frameon=False, loc="lower center", bbox_to_anchor=(0.5, 1.01),
              ncol=min(len(hues), 2))
    if title:
        fig.suptitle(title, fontsize=_TITLE + 1)
    fig.tight_layout()
    return fig


def plot_power_curves(power: pd.DataFrame, *, labels: Mapping[str, str] | None = None) -> plt.Figure:
    """Power (BH FDR 0.05) against the planted correlation, one line per sampling design; legend below."""
    for c in ("design", "effect", "power"):
        if c not in power.columns:
            raise ValueError(f"power needs a {c!r} column")
    fig, ax = plt.subplots(figsize=(6.0, 4.2))
    for design, sub in power.groupby("design", sort=False):
        name = (labels or {}).get(design, design)
        ax.errorbar(sub["effect"], sub["power"], yerr=sub.get("power_sd"), marker="o", capsize=2, label=name)
    ax.set_xlabel("planted correlation with QSM", fontsize=MIN_FONT_PT + 1)
    ax.set_ylabel("power (BH FDR 0.05)", fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.set_ylim(-0.03, 1.03)
    ax.legend(fontsize=MIN_FONT_PT, frameon=False, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)
    fig.tight_layout()
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
        ax.set_xticklabels(tissues, rotation=30, ha="right", fontsize=MIN_FONT_PT)
        ax.set_title(f"{_NAMES.get(par, par)}: error in % of the true value", fontsize=MIN_FONT_PT + 1)
        ax.tick_params(axis="y", labelsize=MIN_FONT_PT)
        if k % ncol == 0:
            ax.set_ylabel("bias ± SD (%)", fontsize=MIN_FONT_PT + 1)
    for ax in axes.ravel()[len(params):]:
        ax.set_axis_off()
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=len(methods), fontsize=MIN_FONT_PT + 1,
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
    fig.legend(loc="outside lower center", ncol=2, fontsize=MIN_FONT_PT + 1, frameon=False)
    return fig


def plot_flip_angle_noise(grid: pd.DataFrame, *, optimum, protocol, ernst: float, r1: float, tr: float,
                          tissue: str = "WM", protocol_label: str = "protocol") -> plt.Figure:
    """Noise of two-angle R1 over flip-angle pairs (right) and where the angles sit on the
    SPGR signal curve (left).

    Parameters
    ----------
    grid : DataFrame
        :func:`qmrigenes.relaxometry.r1_noise_grid` (``fa_low``, ``fa_high``, ``r1_cov_pct``,
        ``r1_bias_pct``).
    optimum, protocol : (float, float)
        (low, high) flip angles in degrees to mark.
    protocol_label : str
        Legend label of ``protocol`` (default ``"protocol"``).
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
    ax1.text(ernst, 0.03, f" Ernst {ernst:.1f}°", fontsize=MIN_FONT_PT, color="0.3")
    for (lo, hi), style, lab in ((optimum, dict(marker="*", ms=13, color="C3"), "least-noise pair"),
                                  (protocol, dict(marker="o", ms=8, color="C0", mfc="white", mew=2),
                                   protocol_label)):
        ys = np.interp([lo, hi], fa, s)
        ax1.plot([lo, hi], ys, ls="none", label=f"{lab} ({lo:g}°, {hi:g}°)", **style)
        ax2.plot([lo], [hi], ls="none", **style)
    ax1.set_xlabel("flip angle (°)")
    ax1.set_ylabel("SPGR signal / maximum")
    ax1.set_ylim(0, 1.08)
    ax1.set_title(f"{tissue}: R1 = {r1:.2f} s⁻¹, TR = {1000 * tr:g} ms", fontsize=MIN_FONT_PT + 1)
    piv = grid.pivot(index="fa_high", columns="fa_low", values="r1_cov_pct")
    bias = grid.pivot(index="fa_high", columns="fa_low", values="r1_bias_pct")
    lo_max = float(np.nanpercentile(piv.to_numpy(), 90))
    im = ax2.pcolormesh(piv.columns, piv.index, piv.to_numpy(), cmap="viridis_r", shading="nearest",
                        vmin=float(np.nanmin(piv.to_numpy())), vmax=lo_max)
    cs = ax2.contour(bias.columns, bias.index, np.abs(bias.to_numpy()), levels=[1, 5], colors="w",
                     linewidths=1.2, linestyles=["--", "-"])
    ax2.clabel(cs, fmt=lambda v: f"|bias| {v:g} %", fontsize=MIN_FONT_PT)
    cb = fig.colorbar(im, ax=ax2)
    cb.set_label("SD of R1 (% of R1)", fontsize=MIN_FONT_PT + 1)
    cb.ax.tick_params(labelsize=MIN_FONT_PT)
    ax2.set_xlabel("low flip angle (°)")
    ax2.set_ylabel("high flip angle (°)")
    fig.legend(*ax1.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=MIN_FONT_PT + 1,
               frameon=False)
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
               fontsize=MIN_FONT_PT + 1, frameon=False)
    if with_profiles:
        ax3 = fig.add_subplot(gs[1, :])
        if profile_truth is not None:
            ax3.plot(profile_x, profile_truth, color="k", lw=2.5, label="truth")
        for (name, prof), ls in zip(profiles.items(), ("-", "--", ":", "-.")):
            ax3.plot(profile_x, prof, ls=ls, lw=1.5, label=name)
        ax3.set_xlabel(f"distance along B0 from the {roi} centre (mm)")
        ax3.set_ylabel("χ (ppb)")
        ax3.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=MIN_FONT_PT + 1, frameon=False)
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
        ax.set_title(label, fontsize=MIN_FONT_PT + 1)
        ax.set_xlabel("distance from lesion centre (mm)")
    for ax in axes.ravel()[len(params):]:
        ax.set_axis_off()
    handles = [Line2D([], [], color=colors[s], lw=2, marker=markers[s], ms=4, label=s.replace("_", " "))
               for s in stages]
    sources = list(dict.fromkeys(profiles["source"]))
    handles += [Line2D([], [], color="0.3", ls="-" if s == "truth" else "--",
                       marker=None if s == "truth" else "o", ms=3, label=s) for s in sources]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=MIN_FONT_PT + 1, frameon=False)
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
    axes[0].set_title("mean (concentration)", fontsize=MIN_FONT_PT + 1)
    axes[1].set_title("sum × voxel volume (content, 'mass')", fontsize=MIN_FONT_PT + 1)
    for ax in axes:
        ax.set_xlabel("volume loss (%)")
        ax.set_ylabel("relative to baseline")
    axes[1].set_ylim(0.5, 1.5)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4,
               fontsize=MIN_FONT_PT + 1, frameon=False)
    return fig
