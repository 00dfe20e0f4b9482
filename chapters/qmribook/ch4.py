"""Chapter 4 (real in vivo QSM, the 2016 reconstruction challenge): figures, tables and numbers.

The chapter's visible cells call the library (``qmrigenes.qsm``, ``qmrigenes.qsm_invert``,
``qmrigenes.qsm_metrics``) with the parameters a reader would change; the functions here only
assemble what those calls return into the chapter's figures, tables and glued numbers
(``report_<topic>`` returning a :class:`~qmribook.report.Report`, glued as ``ch4-<key>``).

Book study code: depends on the library ``qmrigenes``, never the reverse.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .report import Report

__all__ = ["pick_slices", "slice_keeper", "report_data", "choose", "result_row", "report_recons",
           "report_curves", "report_oversmoothing", "report_table", "report_explorers", "METHODS"]

#: Display names of the chapter's methods, in order.
METHODS = {"tkd": "TKD", "cf": "Tikhonov, closed form", "cg": "Tikhonov, masked (CG)", "tv": "TV (ADMM)"}
_SHORT = {"tkd": "TKD", "cf": "closed form", "cg": "masked (CG)", "tv": "TV-ADMM"}
_PARAM = {"tkd": "threshold t", "cf": "λ (mm²)", "cg": "λ (mm²)", "tv": "λ (ppm·mm)"}
_FONT = 9
_VMIN, _VMAX = -0.10, 0.15          # ppm, the display window of every susceptibility map


def pick_slices(reference: np.ndarray, mask: np.ndarray, *, chi_min: float = 0.1) -> dict:
    """Axial (z) and coronal (y) slices through the most strongly paramagnetic deep grey matter.

    The slice with the most reference voxels above ``chi_min`` (ppm) inside the central half of
    the mask, and the left-right row (x) through the largest cluster of them in that axial slice,
    used for line profiles.
    """
    hot = (reference > chi_min) & mask
    centre = np.zeros_like(mask)
    idx = [np.nonzero(mask.any(axis=tuple(a for a in range(3) if a != k)))[0] for k in range(3)]
    sl = tuple(slice(i[0] + (i[-1] - i[0]) // 4, i[-1] - (i[-1] - i[0]) // 4) for i in idx)
    centre[sl] = True
    hot &= centre
    z = int(np.argmax(hot.sum(axis=(0, 1))))
    y = int(np.argmax(hot.sum(axis=(0, 2))))
    x_row = int(np.argmax(hot[:, :, z].sum(axis=0)))       # the y index of the densest row in slice z
    return {"z": z, "y": y, "row_y": x_row}


def slice_keeper(slices: dict):
    """``keep(chi)`` for :func:`qmrigenes.qsm_invert.l_curve`: the axial and coronal slices and the
    left-right profile of the chapter (float32 copies), instead of the whole map."""
    z, y, row = slices["z"], slices["y"], slices["row_y"]

    def keep(chi):
        chi = np.asarray(chi)
        return {"axial": chi[:, :, z].astype(np.float32).copy(),
                "coronal": chi[:, y, :].astype(np.float32).copy(),
                "profile": chi[:, row, z].astype(np.float32).copy()}
    return keep


def _show_slice(ax, img, *, title=None, vmin=_VMIN, vmax=_VMAX, cmap="gray"):
    im = ax.imshow(np.rot90(img), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=_FONT)
    return im


def _crop2d(mask2d: np.ndarray, margin: int = 3):
    idx = np.nonzero(mask2d)
    return tuple(slice(max(int(i.min()) - margin, 0), int(i.max()) + 1 + margin) for i in idx)


def report_data(data, slices: dict) -> Report:
    """The challenge data as loaded: numbers for the prose and the field/COSMOS figure."""
    import matplotlib.pyplot as plt

    f, m, ref = data.field, data.mask, data.reference
    z, y = slices["z"], slices["y"]
    numbers = {
        "grid": " × ".join(str(n) for n in f.shape),
        "vox-x": float(data.voxel_size[0]), "vox-z": float(data.voxel_size[2]),
        "n-mask": _count(int(m.sum())),
        "field-p99": float(np.percentile(np.abs(f[m]), 99)),
        "cosmos-p99": float(np.percentile(np.abs(ref[m]), 99)),
        "cosmos-mean-ppb": _fmt(1000 * float(ref[m].mean()), 2),
        "slice-z": z, "slice-y": y,
    }
    fig, axes = plt.subplots(1, 4, figsize=(7.6, 2.7), gridspec_kw={"width_ratios": [1, 1, 1, 1]})
    ca, cc = _crop2d(m[:, :, z]), _crop2d(m[:, y, :])
    fmax = 0.05
    im_f = _show_slice(axes[0], f[:, :, z][ca], title="field, axial", vmin=-fmax, vmax=fmax)
    _show_slice(axes[1], f[:, y, :][cc], title="field, coronal", vmin=-fmax, vmax=fmax)
    im_c = _show_slice(axes[2], ref[:, :, z][ca], title="COSMOS, axial")
    _show_slice(axes[3], ref[:, y, :][cc], title="COSMOS, coronal")
    for im, axs, label in ((im_f, axes[:2], "field (ppm)"), (im_c, axes[2:], "χ (ppm)")):
        cb = fig.colorbar(im, ax=list(axs), orientation="horizontal", fraction=0.06, pad=0.04, shrink=0.8)
        cb.set_label(label, fontsize=_FONT)
        cb.ax.tick_params(labelsize=_FONT)
    return Report(numbers=numbers, figures={"fig-data": fig})


def choose(sweep: dict, *, metric: str = "nrmse") -> dict:
    """The two parameter choices of a sweep: the L-curve corner (no reference) and the minimum of
    ``metric`` against COSMOS (tuned to the reference)."""
    tab = sweep["table"]
    tuned = float(tab[metric].idxmin())
    return {"rule": sweep["best"], "tuned": tuned}


def result_row(method: str, choice: str, param: float, metrics: dict, seconds: float) -> dict:
    """One row of the chapter's results table (``method`` a key of :data:`METHODS`)."""
    return {"method": method, "choice": choice, "param": param, "seconds": seconds,
            **{k: metrics[k] for k in ("nrmse", "hfen", "xsim", "r", "nrmse_detrend")}}


def report_recons(results: pd.DataFrame, maps: dict, reference: np.ndarray, mask: np.ndarray,
                  slices: dict) -> Report:
    """The reconstructions beside COSMOS (same slice, same scale) and their numbers.

    ``results`` has one row per (method, choice) (from :func:`result_row`); ``maps`` maps
    ``(method, choice)`` to the kept slices of that reconstruction.
    """
    import matplotlib.pyplot as plt

    z = slices["z"]
    ca = _crop2d(mask[:, :, z])
    fig, axes = plt.subplots(2, len(METHODS) + 1, figsize=(7.6, 3.9))
    for row, choice in enumerate(("rule", "tuned")):
        im = _show_slice(axes[row, 0], reference[:, :, z][ca], title="COSMOS (reference)" if row == 0 else None)
        axes[row, 0].set_ylabel("L-curve corner" if choice == "rule" else "tuned to COSMOS", fontsize=_FONT)
        for col, method in enumerate(METHODS, start=1):
            key = (method, choice)
            if key not in maps:
                axes[row, col].set_axis_off()
                axes[row, col].text(0.5, 0.5, f"{_SHORT[method]}:\nnot run", ha="center", va="center",
                                    fontsize=_FONT, transform=axes[row, col].transAxes)
                continue
            p = float(results.loc[key, "param"])
            _show_slice(axes[row, col], maps[key]["axial"][ca])
            axes[row, col].set_title(f"{_SHORT[method]}\n{_PARAM[method].split(' ')[0]} = {p:.3g}",
                                     fontsize=_FONT)
    cb = fig.colorbar(im, ax=axes, orientation="vertical", fraction=0.025, pad=0.02)
    cb.set_label("χ (ppm)", fontsize=_FONT)
    cb.ax.tick_params(labelsize=_FONT)
    numbers = {}
    for (method, choice), row in results.iterrows():
        for k in ("param", "nrmse", "hfen", "xsim", "r", "seconds", "nrmse_detrend"):
            numbers[f"{method}-{choice}-{k}"] = float(row[k])
    return Report(numbers=numbers, figures={"fig-recons": fig})


def report_curves(sweeps: dict, choices: dict) -> Report:
    """Parameter-error curves (NRMSE, HFEN, 1 − XSIM against COSMOS) and the L-curves."""
    import matplotlib.pyplot as plt
    import matplotlib.ticker as mticker

    shown = [m for m in ("tkd", "cf", "tv") if m in sweeps]
    fig, axes = plt.subplots(2, len(shown), figsize=(7.6, 4.8), squeeze=False)
    for col, method in enumerate(shown):
        tab = sweeps[method]["table"]
        p = tab.index.to_numpy()
        ax = axes[0, col]
        ax.plot(p, tab["nrmse"], "o-", ms=3, label="NRMSE (%)", color="#1f77b4")
        ax.plot(p, tab["hfen"], "s-", ms=3, label="HFEN (%)", color="#d62728")
        ax.plot(p, 100 * (1 - tab["xsim"]), "^-", ms=3, label="100 (1 − XSIM)", color="#2ca02c")
        ax.axvline(choices[method]["rule"], color="k", ls="--", lw=1)
        ax.axvline(choices[method]["tuned"], color="#1f77b4", ls=":", lw=1.2)
        if method != "tkd":
            ax.set_xscale("log")
        ax.set_title(METHODS[method], fontsize=_FONT)
        ax.set_xlabel(_PARAM[method], fontsize=_FONT)
        ax.tick_params(labelsize=_FONT)
        if col == 0:
            ax.set_ylabel("error against COSMOS", fontsize=_FONT)
        ax2 = axes[1, col]
        ax2.loglog(tab["misfit"], tab["roughness"], "o-", ms=3, color="0.3")
        k = sweeps[method]["corner"]
        ax2.loglog(tab["misfit"].iloc[k], tab["roughness"].iloc[k], "o", ms=8, mfc="none", mec="k")
        ax2.set_xlabel("misfit ‖M(Dχ − f)‖", fontsize=_FONT)
        if col == 0:
            ax2.set_ylabel("roughness ‖∇χ‖ (TV: Σ|∇χ|)", fontsize=_FONT)
        ax2.tick_params(labelsize=_FONT, which="both")
        ax2.xaxis.set_minor_formatter(mticker.NullFormatter())
        ax2.yaxis.set_minor_formatter(mticker.NullFormatter())
    handles, labels = axes[0, 0].get_legend_handles_labels()
    handles += [plt.Line2D([], [], color="k", ls="--"), plt.Line2D([], [], color="#1f77b4", ls=":")]
    labels += ["L-curve corner", "NRMSE minimum"]
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=_FONT, frameon=False,
               bbox_to_anchor=(0.5, -0.04))
    fig.tight_layout(rect=(0, 0.04, 1, 1))
    return Report(figures={"fig-curves": fig})


def report_oversmoothing(sweep: dict, reference: np.ndarray, mask: np.ndarray, slices: dict, *,
                         method: str = "tv") -> Report:
    """One method at the parameter of least NRMSE, of least HFEN and of the L-curve corner, zoomed."""
    import matplotlib.pyplot as plt

    tab = sweep["table"]
    params = tab.index.to_numpy()
    picks = {"least NRMSE": int(np.argmin(tab["nrmse"].to_numpy())),
             "least HFEN": int(np.argmin(tab["hfen"].to_numpy())),
             "L-curve corner": int(sweep["corner"])}
    z = slices["z"]
    ca = _crop2d(mask[:, :, z])
    # the posterior half of the axial slice: cortex, veins and the occipital white matter
    sub = (ca[0], slice(ca[1].start, (ca[1].start + ca[1].stop) // 2))
    fig, axes = plt.subplots(1, 4, figsize=(7.6, 2.6))
    im = _show_slice(axes[0], reference[:, :, z][sub], title="COSMOS (reference)")
    for ax, (name, i) in zip(axes[1:], picks.items()):
        _show_slice(ax, sweep["kept"][i]["axial"][sub],
                    title=f"{name}\n{_PARAM[method].split(' ')[0]} = {params[i]:.3g}")
    cb = fig.colorbar(im, ax=axes, orientation="vertical", fraction=0.025, pad=0.02)
    cb.set_label("χ (ppm)", fontsize=_FONT)
    cb.ax.tick_params(labelsize=_FONT)
    numbers = {f"os-{k.split()[-1].lower().replace('-', '')}-param": float(params[i]) for k, i in picks.items()}
    numbers.update({
        "os-nrmse-at-nrmse": float(tab["nrmse"].iloc[picks["least NRMSE"]]),
        "os-nrmse-at-hfen": float(tab["nrmse"].iloc[picks["least HFEN"]]),
        "os-hfen-at-nrmse": float(tab["hfen"].iloc[picks["least NRMSE"]]),
        "os-hfen-at-hfen": float(tab["hfen"].iloc[picks["least HFEN"]]),
        "os-ratio": float(params[picks["least NRMSE"]] / params[picks["least HFEN"]]),
    })
    return Report(numbers=numbers, figures={"fig-oversmooth": fig})


def _count(v):
    from .display import format_count

    return format_count(v)


def _fmt(v, decimals):
    from .display import format_value

    return format_value(v, decimals=decimals)


def report_table(results: pd.DataFrame, published: pd.DataFrame) -> Report:
    """Our rows and QSM-CI's published rows in one table, each at the published precision."""
    from .display import ColumnSpec, table
    from .numberstyle import number_text

    ours = pd.DataFrame({
        "source": "this book",
        "method": [f"{METHODS[m]}, {'L-curve' if c == 'rule' else 'tuned'}" for m, c in results.index],
        "parameter": [number_text(f"{_PARAM[m].split(' ')[0]} = {p:.3g}") for (m, _), p in results["param"].items()],
        "nrmse": [_fmt(v, 1) for v in results["nrmse"]], "hfen": [_fmt(v, 1) for v in results["hfen"]],
        "xsim": [_fmt(v, 3) for v in results["xsim"]], "r": [_fmt(v, 3) for v in results["r"]],
        "seconds": [_fmt(v, 1) for v in results["seconds"]],
    })
    theirs = pd.DataFrame({
        "source": "QSM-CI",
        "method": [f"{m}, {v}" for m, v in zip(published["method"], published["variant"])],
        "parameter": published["parameter"].fillna("").astype(str).map(number_text),   # 3e-4 -> 3×10⁻⁴
        # the committed table holds each value at the leaderboard's precision (1 and 3 decimals)
        "nrmse": [_fmt(v, 1) for v in published["nrmse_pct"]],
        "hfen": [_fmt(v, 1) for v in published["hfen_pct"]],
        "xsim": [_fmt(v, 3) for v in published["xsim"]],
        "r": [_fmt(v, 3) for v in published["correlation"]], "seconds": "",
    })
    both = pd.concat([ours, theirs], ignore_index=True)
    shown = table(both, columns={
        "source": "source", "method": "method", "parameter": "parameter",
        "nrmse": ColumnSpec("NRMSE (%)", kind="published"), "hfen": ColumnSpec("HFEN (%)", kind="published"),
        "xsim": ColumnSpec("XSIM", kind="published"), "r": ColumnSpec("r", kind="published"),
        "seconds": ColumnSpec("run time (s)", kind="published")}, csv_name="ch4-metrics")
    return Report(tables={"tab-metrics": shown})


def report_explorers(sweeps: dict, reference: np.ndarray, slices: dict, voxel_size) -> Report:
    """Interactive line profiles (TKD threshold slider; Tikhonov λ slider) against COSMOS."""
    from .interactive import slider_figure

    row, z = slices["row_y"], slices["z"]
    truth = reference[:, row, z]
    inside = np.flatnonzero(truth != 0)
    lo, hi = int(inside.min()), int(inside.max()) + 1
    x_mm = (np.arange(lo, hi) - lo) * float(voxel_size[0])
    figures = {}
    for method, label, decimals in (("tkd", "TKD threshold t", 2), ("cf", "log10 λ (Tikhonov)", 2)):
        sweep = sweeps[method]
        prof = np.stack([k["profile"][lo:hi] for k in sweep["kept"]])
        params = sweep["table"].index.to_numpy()
        values = params if method == "tkd" else np.log10(params)
        tuned = int(np.argmin(sweep["table"]["nrmse"].to_numpy()))
        figures[f"int-{method}"] = slider_figure(
            x=x_mm, series={"COSMOS (reference)": np.broadcast_to(truth[lo:hi], prof.shape),
                            METHODS[method]: prof},
            slider_values=values, slider_label=label, slider_decimals=decimals, initial=tuned,
            xlabel="right → left along the row through the deep grey nuclei (mm)", ylabel="χ (ppm)",
            title=f"{METHODS[method]} on the real field: one row of the axial slice",
            caption="Real data. Move the slider: the slider starts at the value of least NRMSE; "
                    "smaller values sharpen the nuclei and let streaks and noise through.",
            fig_id=f"ch4-{method}-explorer")
    return Report(figures=figures)
