"""Chapter 3 (quantitative MRI in MS): the chapter's simulation experiments and summaries.

Every chapter-facing function is named ``report_<topic>`` and returns a
:class:`~qmribook.report.Report`; the chapter shows it with
``show(ch3.report_<topic>(...), chapter="ch3")``, which glues each number, table
and figure as ``ch3-<key>``. Arrays a later cell reuses travel in ``Report.data``.

Book study code: depends on the library ``qmrigenes``, never the reverse.
"""
from __future__ import annotations

import time

import numpy as np
import pandas as pd

from qmrigenes import qsm
from qmrigenes import relaxometry
from qmrigenes import figures as figs
from qmrigenes.lesions import _LUT, atrophy_series, insert_lesions, lesion_contrast, lesion_only, radial_profile
from qmrigenes.phantom import Phantom, tissue_table
from qmrigenes.qsm import (add_field_noise, forward_field, recovery_summary, reference_to, roi_means, sharp,
                           sphere_source, tikhonov_cg, tikhonov_early_stopped, tikhonov_optimality, tkd)
from qmrigenes.relaxometry import (MPMProtocol, accuracy_table, add_rician_noise, denoising_experiment, fit_mpm,
                                   fit_mpm_variants, r1_bias_curve, simulate_mpm)

from qmrigenes._validate import check_mask, check_qsm_inputs, check_volume, check_voxel_size

from . import display
from .citations import author_year
from .report import Report
from .numberstyle import number_text

__all__ = [
    "report_phantom",
    "present_phantom",
    "present_r1_bias",
    "present_small_angle",
    "present_mtsat_b1",
    "report_mpm",
    "report_r1_bias",
    "report_denoising",
    "report_qsm",
    "report_stopping_rule",
    "present_stopping_rule",
    "report_background",
    "present_lesion_sources",
    "report_lesions",
    "present_lesions",
    "present_review",
    "report_atrophy",
    "report_runtime",
    "report_small_angle",
    "report_mtsat_b1",
    "present_design_values",
    "lesion_profiles",
    "tkd_measured_chi",
]


# --------------------------------------------------------------------------- chapter experiments
_PAR_NAMES = {"R1": "R1", "PD": "PD", "R2s": "R2*", "MTsat": "MTsat", "chi": "χ"}
_UNITS = {"R1": "s⁻¹", "PD": "p.u.", "R2s": "s⁻¹", "MTsat": "p.u.", "chi": "ppm"}




def _rms_ppb(x: np.ndarray) -> float:
    return 1000.0 * float(np.sqrt(np.mean(np.square(x))))


def report_qsm(chi_true: np.ndarray, labels: np.ndarray, *, tissues: dict, reference_label: int = 1,
               field_sigma: float = 0.002, seed: int = 2024, threshold: float = 0.2,
               low_threshold: float = 0.05, lam: float = 1e-2, pad: int = 16, tol: float = 1e-6,
               near_zero_ppb: float = 10.0, voxel_size=(2.0, 2.0, 2.0), z: int | None = None,
               y: int | None = None) -> Report:
    """Forward-simulate a noisy local field and invert it by TKD and by regularised least squares.

    The regularised solution is the minimiser of the Tikhonov objective of
    :func:`qmrigenes.qsm.tikhonov_cg`, solved to a relative normal-equation
    residual of ``tol``; the earlier TKD-started CG stopped at 1e-3
    (:func:`qmrigenes.qsm.tikhonov_early_stopped`) is kept beside it, named
    as what it is.

    Parameters
    ----------
    chi_true : ndarray, shape (X, Y, Z)
        True susceptibility (ppm).
    labels : ndarray of int, same shape
        Tissue labels; the brain mask is ``labels > 0``.
    tissues : dict
        ``{label: name}`` of the ROIs to report (must include pallidum and putamen).
    reference_label : int, default 1 (CSF)
        Every reconstruction is referenced to its mean over this label.
    field_sigma : float
        SD (ppm) of the white noise added to the field inside the mask.
    seed : int
    threshold, low_threshold : float
        TKD thresholds of the main and the streaking illustration.
    lam : float
        Tikhonov weight.
    pad : int
        Zero padding (voxels) of the forward model.
    tol : float, default 1e-6
        Stopping rule of the converged solve.
    near_zero_ppb : float, default 10
        ROIs with ``|true χ|`` below this get differences only, no recovery ratio.
    z, y : int, optional
        Axial and coronal slices of the figure (default: the grid centre).

    Returns
    -------
    Report
        ``numbers``: ``t-tkd`` and ``t-cg`` (s), ``cg-iter``,
        ``cg-residual`` (final relative residual), ``cg-optimality``
        (relative gradient of the objective, recomputed with the solver's own
        normal operator: a consistency check; for an independent one see
        :func:`report_stopping_rule`),
        ``cg-early-iter``, ``cg-early-residual``,
        ``<tkd|tkdlow|cg|cgearly>-<gp|put>-ratio`` (percent of the pallidum's
        / putamen's true χ), ``<...>-rmse`` (voxel-wise RMS error in the
        mask, ppb) and, for each near-zero ROI (e.g. thalamus),
        ``<roi>-truth-ppb`` and ``<roi>-<tkd|cg>-diff-ppb``; ``tables``:
        ``qsm-roi-table`` (true χ, errors in ppb, recovery in percent only
        away from zero truth); ``figures``: ``fig-qsm``, ``fig-qsm-roi``;
        ``data``: ``field`` (noise-free local field, ppm), ``field_noisy``,
        ``recons``, ``rois`` (ppm), ``summary`` (from
        :func:`qmrigenes.qsm.recovery_summary`), ``early``, ``info``,
        ``info_early``, ``chi_full`` (the Tikhonov minimiser on the whole grid, ppm).
    """
    chi_true = check_volume(chi_true, "chi_true")       # #20: finite 3-D, sane voxels, a brain
    check_voxel_size(voxel_size)
    labels = np.asarray(labels)
    if labels.shape != chi_true.shape:
        raise ValueError(f"mismatched shapes: labels {labels.shape} vs chi {chi_true.shape}")
    mask = check_mask(labels > 0, chi_true.shape, "labels > 0", what="brain (labels > 0)")
    check_mask(labels == reference_label, chi_true.shape, f"labels == reference_label ({reference_label})",
               what="reference region")
    field = forward_field(chi_true, voxel_size=voxel_size, pad=pad)
    noisy = add_field_noise(field, field_sigma, rng=np.random.default_rng(seed), mask=mask)
    t0 = time.perf_counter()
    chi_tkd = tkd(noisy, threshold=threshold, mask=mask, voxel_size=voxel_size)
    t_tkd = time.perf_counter() - t0
    t0 = time.perf_counter()
    chi_full, info = tikhonov_cg(noisy, mask, lam=lam, tol=tol, voxel_size=voxel_size, masked_output=False)
    t_cg = time.perf_counter() - t0
    chi_early, info_early = tikhonov_early_stopped(noisy, mask, lam=lam, voxel_size=voxel_size)
    chi_low = tkd(noisy, threshold=low_threshold, mask=mask, voxel_size=voxel_size)
    return present_qsm(chi_true, labels, field=field, field_noisy=noisy,
                       recons={"TKD": chi_tkd, "Tikhonov": chi_full, "early-stopped CG": chi_early,
                               "low": chi_low},
                       info=info, info_early=info_early, seconds={"t-tkd": t_tkd, "t-cg": t_cg},
                       tissues=tissues, reference_label=reference_label, threshold=threshold,
                       low_threshold=low_threshold, lam=lam, tol=tol, near_zero_ppb=near_zero_ppb,
                       voxel_size=voxel_size, z=z, y=y)


def present_qsm(chi_true: np.ndarray, labels: np.ndarray, *, field: np.ndarray, field_noisy: np.ndarray,
                recons: dict, info: dict, info_early: dict, seconds: dict, tissues: dict,
                reference_label: int = 1, threshold: float = 0.2, low_threshold: float = 0.05,
                lam: float = 1e-2, tol: float = 1e-6, near_zero_ppb: float = 10.0,
                voxel_size=(2.0, 2.0, 2.0), z: int | None = None, y: int | None = None) -> Report:
    """Numbers, tables and figures of QSM reconstructions (the chapter's visible cells call
    :func:`qmrigenes.qsm.forward_field`, ``add_field_noise``, ``tkd``, ``tikhonov_cg`` and
    ``tikhonov_early_stopped``).

    ``recons`` maps ``"TKD"`` (threshold ``threshold``), ``"Tikhonov"`` (converged, unmasked
    output), ``"early-stopped CG"`` and ``"low"`` (TKD at ``low_threshold``) to unreferenced
    maps (ppm); every map is referenced here to its mean over ``reference_label``. ``seconds``
    has ``t-tkd`` and ``t-cg``. Returns what :func:`report_qsm` returns.
    """
    need = {"TKD", "Tikhonov", "early-stopped CG", "low"}
    if set(recons) != need:
        raise ValueError(f"recons must have the keys {sorted(need)}, has {sorted(recons)}")
    chi_true = np.asarray(chi_true, dtype=float)
    labels = np.asarray(labels)
    mask = labels > 0
    ref = labels == reference_label
    noisy = field_noisy

    def _ref(chi):
        return np.where(mask, reference_to(chi, ref), 0)

    t_tkd, t_cg = seconds["t-tkd"], seconds["t-cg"]
    chi_tkd = _ref(recons["TKD"])
    chi_full = recons["Tikhonov"]
    optimality = tikhonov_optimality(chi_full, noisy, mask, lam=lam, voxel_size=voxel_size)
    chi_cg = _ref(chi_full)
    chi_early = _ref(recons["early-stopped CG"])
    chi_low = _ref(recons["low"])

    lut = {v: k for k, v in tissues.items()}
    missing = {"pallidum", "putamen"} - set(lut)
    if missing:
        raise ValueError(f"tissues must include {sorted(missing)}")
    named = {"TKD": chi_tkd, "Tikhonov": chi_cg, "early-stopped CG": chi_early, "low": chi_low}
    rois = roi_means({"truth": chi_true, **named}, labels, tissues)
    summary = recovery_summary(rois, estimates=list(named), near_zero_ppb=near_zero_ppb)
    numbers = {"t-tkd": t_tkd, "t-cg": t_cg, "cg-iter": int(info["n_iter"]), "cg-residual": info["residual"],
               "cg-tol": tol, "cg-optimality": optimality, "cg-early-iter": int(info_early["n_iter"]),
               "cg-early-residual": info_early["residual"], "near-zero-ppb": near_zero_ppb, "lam": lam}
    for tag, vol, col in (("tkd", chi_tkd, "TKD"), ("cg", chi_cg, "Tikhonov"), ("cgearly", chi_early, "early-stopped CG"),
                          ("tkdlow", chi_low, "low")):
        for roi, short in (("pallidum", "gp"), ("putamen", "put")):
            numbers[f"{tag}-{short}-ratio"] = 100 * float(rois.loc[roi, col] / rois.loc[roi, "truth"])
        numbers[f"{tag}-rmse"] = _rms_ppb((vol - chi_true)[mask])
    near = summary.index[summary["near_zero"]]
    for roi in near:
        key = roi.replace(" ", "-")
        numbers[f"{key}-truth-ppb"] = float(summary.loc[roi, "truth_ppb"])
        for tag, col in (("tkd", "TKD"), ("cg", "Tikhonov")):
            numbers[f"{key}-{tag}-diff-ppb"] = float(summary.loc[roi, f"{col} diff_ppb"])
    recons = {f"TKD t={low_threshold:g}": chi_low, f"TKD t={threshold:g}": chi_tkd,
              f"Tikhonov λ={lam:g}": chi_cg}
    z = chi_true.shape[2] // 2 if z is None else z
    y = chi_true.shape[1] // 2 if y is None else y
    shown = rois[["truth", "TKD", "Tikhonov", "early-stopped CG"]].rename(
        columns={"TKD": f"TKD (t = {threshold:g})", "Tikhonov": "Tikhonov (converged)",
                 "early-stopped CG": "CG stopped early"})
    figures = {"fig-qsm": figs.plot_qsm(chi_true, recons, z=z, y=y),
               "fig-qsm-roi": figs.plot_roi_means(shown)}
    table = _qsm_roi_display(summary, rois, threshold=threshold)
    return Report(numbers=numbers, tables={"qsm-roi-table": display.table(table, decimals=1, index="named")}, figures=figures,
                  data={"field": field, "field_noisy": noisy, "recons": recons, "rois": rois, "summary": summary,
                        "early": chi_early, "info": info, "info_early": info_early, "table": table,
                        "chi_full": chi_full})


def _qsm_roi_display(summary: pd.DataFrame, rois: pd.DataFrame, *, threshold: float) -> pd.DataFrame:
    """ROI recovery for the page: χ in ppb, differences everywhere, recovery only away from zero truth."""
    methods = (("TKD", "TKD"), ("Tikhonov", "Tikhonov"), ("early-stopped CG", "early-stopped"))
    out = pd.DataFrame(index=summary.index)
    out["true χ (ppb)"] = summary["truth_ppb"]
    for col, label in methods:
        out[f"{label} error (ppb)"] = summary[f"{col} diff_ppb"]
    for col, label in methods:
        out[f"{label} recovery (%)"] = summary[f"{col} ratio_pct"]
    out.index.name = "tissue"
    return out


def report_background(chi_true: np.ndarray, local_field: np.ndarray, mask, *, center,
                      radius_mm: float = 16.0, chi: float = 5.0, pad: int = 16,
                      sharp_radius_mm: float = 8.0, threshold: float = 0.05,
                      voxel_size=(2.0, 2.0, 2.0), y: int | None = None) -> Report:
    """Add an external spherical source and remove its field with SHARP.

    Parameters
    ----------
    chi_true : ndarray, shape (X, Y, Z)
        Susceptibility inside the brain (ppm).
    local_field : ndarray
        The field of ``chi_true`` alone (ppm), i.e. the true local field.
    mask : ndarray of bool
        Brain mask; the source is zeroed inside it.
    center, radius_mm, chi :
        Voxel centre, radius and susceptibility (ppm) of the external source.
    sharp_radius_mm, threshold :
        SHARP options (see :func:`sharp`).
    y : int, optional
        Coronal slice of the figure (default: the grid centre).

    Returns
    -------
    Report
        ``numbers``: ``bg-rms``, ``local-rms`` and ``sharp-rmse`` (ppb, inside
        the eroded mask) and ``sharp-kept`` (percent of the mask kept after
        erosion); ``figures``: ``fig-sharp``; ``data``: ``total`` (field with
        the background), ``local_sharp``, ``eroded`` (mask where SHARP is
        valid).
    """
    check_voxel_size(voxel_size)                       # #20: NaN voxel, empty mask, bad voxels refused
    check_volume(local_field, "local_field")
    chi_true, mask = check_qsm_inputs(chi_true, mask, field_name="chi_true", require_mask=True)
    if mask.shape != np.shape(chi_true) or np.shape(local_field) != mask.shape:
        raise ValueError(f"mismatched shapes: chi {np.shape(chi_true)}, field {np.shape(local_field)}, "
                         f"mask {mask.shape}")
    source = sphere_source(mask.shape, center=center, radius_mm=radius_mm, chi=chi, voxel_size=voxel_size)
    source[mask] = 0
    if not source.any():
        raise ValueError("the external source lies entirely inside the mask")
    total = forward_field(np.asarray(chi_true, float) + source, voxel_size=voxel_size, pad=pad)
    local_sharp, eroded = sharp(total, mask, radius_mm=sharp_radius_mm, threshold=threshold,
                                voxel_size=voxel_size)
    return present_background(local_field, total, local_sharp, eroded, mask=mask, y=y)


def present_background(local_field: np.ndarray, total: np.ndarray, local_sharp: np.ndarray,
                       eroded: np.ndarray, *, mask, y: int | None = None) -> Report:
    """Numbers and figure of background-field removal (the chapter's visible cell calls
    :func:`qmrigenes.qsm.sphere_source`, ``forward_field`` and ``sharp``): ``local_field`` is the
    true local field, ``total`` the field with the background, ``local_sharp`` and ``eroded``
    what SHARP returns. Returns what :func:`report_background` returns."""
    mask = np.asarray(mask, dtype=bool)
    numbers = {"bg-rms": _rms_ppb((total - local_field)[eroded]),
               "local-rms": _rms_ppb(np.asarray(local_field)[eroded]),
               "sharp-rmse": _rms_ppb((local_sharp - local_field)[eroded]),
               "sharp-kept": 100 * float(eroded.sum() / mask.sum())}
    y = mask.shape[1] // 2 if y is None else y
    fig = figs.plot_sharp(total, local_field, local_sharp, eroded, y=y)
    return Report(numbers=numbers, figures={"fig-sharp": fig},
                  data={"total": total, "local_sharp": local_sharp, "eroded": eroded})


# --------------------------------------------------------------------------- chapter experiments
_NOISELESS = "noiseless, B1-corrected"


def _tissue_lut(tissues: dict, name: str) -> int:
    lut = {v: k for k, v in tissues.items()}
    if name not in lut:
        raise ValueError(f"tissue {name!r} not in {sorted(lut)}")
    return lut[name]


def report_mpm(phantom, b1: np.ndarray, *, tissues: dict, protocol: MPMProtocol | None = None,
               sigma: float = 0.05, seed: int = 2022, report_tissue: str = "WM",
               summary_tissues=("WM", "cortical GM", "putamen"), z: int | None = None) -> Report:
    """Simulate an MPM acquisition of a phantom and fit it with and without B1 correction.

    Noisy signals (Rician, ``sigma``) are fitted with the true B1 map
    ("B1-corrected") and with nominal flip angles ("no B1 correction");
    noiseless signals are fitted with the true B1 map to isolate the bias of
    the small-angle approximation.

    Parameters
    ----------
    phantom : object with ``maps``, ``labels`` and ``mask``
        e.g. :class:`qmrigenes.phantom.Phantom`; maps of shape (X, Y, Z).
    b1 : ndarray, shape (X, Y, Z)
        Relative transmit field.
    tissues : dict
        ``{label: name}`` of the tissues to evaluate.
    protocol : MPMProtocol, optional
    sigma : float, default 0.05
        Noise SD per channel (signal units).
    seed : int
        Seed of the noise generator.
    report_tissue : str, default "WM"
        Tissue whose bias and noise are returned as named numbers.
    summary_tissues : sequence of str
        Tissues of the bias summary table.
    z : int, optional
        Axial slice of the map figure (default: the grid centre).

    Returns
    -------
    Report
        ``numbers`` (``wm-<par>-bias|noise-<b1|nob1|clean>`` in percent,
        ``wm-pdw-snr`` = mean first PDw echo / sigma in ``report_tissue``,
        ``b1-range`` as text); ``tables`` (``accuracy-table``: bias and noise
        per parameter and tissue for the noisy fits; ``acc-summary``: bias of
        all three fits in ``summary_tissues``); ``figures`` (``fig-mpm-maps``,
        ``fig-accuracy``); ``data``: ``estimates`` ({method: {parameter:
        ndarray}}), ``accuracy`` (long DataFrame: method, parameter, tissue,
        truth, estimate, bias_pct, noise_pct) and ``accuracy_noisy``.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    protocol = protocol or MPMProtocol()
    b1 = np.asarray(b1, dtype=float)
    if b1.shape != phantom.labels.shape:
        raise ValueError(f"mismatched shapes: B1 {b1.shape} vs phantom {phantom.labels.shape}")
    _tissue_lut(tissues, report_tissue)                   # fails early on an unknown tissue
    rng = np.random.default_rng(seed)
    clean = simulate_mpm(phantom.maps, protocol, b1=b1, mask=phantom.mask)
    signals = {c: add_rician_noise(s, sigma, rng=rng) for c, s in clean.items()}
    estimates = fit_mpm_variants(signals, protocol, mask=phantom.mask,
                                 variants={"B1-corrected": dict(b1=b1), "no B1 correction": dict(b1=None)})
    estimates[_NOISELESS] = fit_mpm(clean, protocol, b1=b1, mask=phantom.mask)
    return present_mpm(phantom, b1, signals, estimates, tissues=tissues, sigma=sigma,
                       report_tissue=report_tissue, summary_tissues=summary_tissues, z=z)


def present_mpm(phantom, b1: np.ndarray, signals: dict, estimates: dict, *, tissues: dict, sigma: float,
                report_tissue: str = "WM", summary_tissues=("WM", "cortical GM", "putamen"),
                z: int | None = None) -> Report:
    """Numbers, tables and figures of simulated MPM fits (the chapter's visible cell calls
    :func:`qmrigenes.relaxometry.simulate_mpm`, ``add_rician_noise`` and ``fit_mpm``).

    ``signals`` are the noisy signals ({contrast: echoes}); ``estimates`` maps
    ``"B1-corrected"``, ``"no B1 correction"`` and ``"noiseless, B1-corrected"`` to fitted maps.
    Returns what :func:`report_mpm` returns.
    """
    need = {"B1-corrected", "no B1 correction", _NOISELESS}
    if set(estimates) != need:
        raise ValueError(f"estimates must have the keys {sorted(need)}, has {sorted(estimates)}")
    wm_label = _tissue_lut(tissues, report_tissue)
    acc = pd.concat({m: accuracy_table(e, phantom.maps, phantom.labels, tissues) for m, e in estimates.items()},
                    names=["method"]).reset_index()
    rep = acc[acc["tissue"] == report_tissue].set_index(["method", "parameter"])
    numbers = {}
    for method, tag in (("B1-corrected", "b1"), ("no B1 correction", "nob1"), (_NOISELESS, "clean")):
        for par in ("R1", "PD", "R2s", "MTsat"):
            numbers[f"wm-{par}-bias-{tag}"] = float(rep.loc[(method, par), "bias_pct"])
            numbers[f"wm-{par}-noise-{tag}"] = float(rep.loc[(method, par), "noise_pct"])
    numbers["wm-pdw-snr"] = float(signals["PDw"][0][phantom.labels == wm_label].mean() / sigma)
    numbers["b1-range"] = f"{b1[phantom.mask].min():.2f}–{b1[phantom.mask].max():.2f}"
    noisy = acc[acc["method"] != _NOISELESS]
    named = acc.assign(parameter=acc["parameter"].map(_PAR_NAMES))
    accuracy = named[named["method"] != _NOISELESS].pivot_table(index=["parameter", "tissue"], columns="method",
                                                                 values=["bias_pct", "noise_pct"], sort=False)
    short = {"B1-corrected": "B1 corr.", "no B1 correction": "no B1 corr."}
    accuracy.columns = [f"{'bias' if stat == 'bias_pct' else 'error SD'}, {short.get(method, method)} (%)"
                        for stat, method in accuracy.columns]
    summary = (named[named["tissue"].isin(list(summary_tissues))]
               .pivot_table(index=["tissue", "parameter"], columns="method", values="bias_pct", sort=False))
    summary.columns = [f"bias (%), {m}" for m in summary.columns]
    tables = {"accuracy-table": display.table(accuracy, index="named"), "acc-summary": display.table(summary, index="named")}
    z = phantom.labels.shape[2] // 2 if z is None else z
    shown = {"B1-corrected": estimates["B1-corrected"], "no B1 corr.": estimates["no B1 correction"]}
    figures = {"fig-mpm-maps": figs.plot_mpm_maps(phantom.maps, shown, b1, z=z),
               "fig-accuracy": figs.plot_accuracy(noisy)}
    return Report(numbers=numbers, tables=tables, figures=figures,
                  data={"estimates": estimates, "accuracy": acc, "accuracy_noisy": noisy,
                        "accuracy_table": accuracy, "summary": summary})


def r1_bias_label(tissue: str, tr: float, approximation: str = "small-angle") -> str:
    """The legend label of one R1-bias curve (``tr`` in s)."""
    form = ", 2·tan(α/2) form" if approximation == "tan" else ""
    return f"TR = {1000 * tr:.0f} ms, {tissue} R1{form}"


def report_r1_bias(r1_tissue: float, r1_csf: float, *, trs=(0.015, 0.025, 0.050), tr_ref: float = 0.025,
                   angles=(21.0, 30.0), tissue: str = "WM") -> Report:
    """Small-angle R1 bias versus the T1w flip angle for several TRs.

    Parameters
    ----------
    r1_tissue, r1_csf : float
        True R1 (1/s) of a tissue and of CSF.
    trs : sequence of float
        TRs (s) of the tissue curves; ``tr_ref`` must be one of them and is
        also used for the CSF curve and the ``2 tan(a/2)`` curve.
    angles : sequence of float
        T1w flip angles (degrees) at which the reference curve is read off.

    Returns
    -------
    Report
        What :func:`present_r1_bias` returns for the curves of
        :func:`qmrigenes.relaxometry.r1_bias_curve`.
    """
    if tr_ref not in trs:
        raise ValueError(f"tr_ref {tr_ref} must be one of trs {tuple(trs)}")
    curves = {(tissue, tr, "small-angle"): r1_bias_curve(r1_tissue, tr=tr) for tr in trs}
    curves[("CSF", tr_ref, "small-angle")] = r1_bias_curve(r1_csf, tr=tr_ref)
    curves[(tissue, tr_ref, "tan")] = r1_bias_curve(r1_tissue, tr=tr_ref, approximation="tan")
    return present_r1_bias(curves, tr_ref=tr_ref, angles=angles, tissue=tissue)


def present_r1_bias(curves: dict, *, tr_ref: float = 0.025, angles=(21.0, 30.0), tissue: str = "WM") -> Report:
    """Numbers and figure of R1-bias curves (the chapter's visible cell calls
    :func:`qmrigenes.relaxometry.r1_bias_curve`).

    Parameters
    ----------
    curves : dict
        ``{(tissue, tr, approximation): DataFrame}`` with columns ``fa_t1w``
        and ``r1_error_pct``, drawn in this order.
    tr_ref : float
        TR (s) whose ``tissue`` curves give the unsuffixed numbers.
    angles : sequence of float
        T1w flip angles (degrees) at which the curves are read off.

    Returns
    -------
    Report
        ``numbers``: ``r1-bias-<angle>deg`` (small-angle, at ``tr_ref``),
        ``r1-bias-<angle>deg-tr<ms>`` for every small-angle ``tissue`` curve
        and ``r1-bias-tan-<angle>deg`` (``2 tan(a/2)`` form at ``tr_ref``), in
        percent; ``figures``: ``fig-r1-bias``; ``data``: ``curves`` ({label:
        DataFrame}).
    """
    numbers = {}
    for (name, tr, approximation), curve in curves.items():
        if name != tissue:
            continue
        for fa in angles:
            value = float(np.interp(fa, curve["fa_t1w"], curve["r1_error_pct"]))
            if approximation == "tan" and tr == tr_ref:
                numbers[f"r1-bias-tan-{fa:g}deg"] = value
            elif approximation == "small-angle":
                numbers[f"r1-bias-{fa:g}deg-tr{1000 * tr:.0f}"] = value
                if tr == tr_ref:
                    numbers[f"r1-bias-{fa:g}deg"] = value
    labelled = {r1_bias_label(*key): curve for key, curve in curves.items()}
    return Report(numbers=numbers, figures={"fig-r1-bias": figs.plot_r1_bias(labelled)}, data={"curves": labelled})


ESTIMATORS = {  # label: fit_mpm options (b1 passed separately)
    "small-angle R1 and A, small-angle MTsat (this chapter)": dict(approximation="small-angle"),
    "2·tan(α/2) R1 and A, small-angle MTsat (hMRI default)": dict(approximation="tan"),
    "exact R1 and A, exact MTsat": dict(approximation="exact", mtsat_formula="exact"),
}


SMALL_ANGLE_END = "2·tan(α/2) R1 and A, small-angle MTsat; MT saturation just before excitation"


def report_small_angle(phantom, *, tissues: dict, protocol: MPMProtocol | None = None,
                       report_tissue: str = "WM") -> Report:
    """Noiseless MPM at B1 = 1: which approximation causes which bias.

    Three estimators (:data:`ESTIMATORS`) on the same noiseless signals,
    and the hMRI default again on signals whose MT saturation acts at the
    end of each TR (just before the excitation) instead of at its start.
    Returns what :func:`present_small_angle` returns.
    """
    protocol = protocol or MPMProtocol()
    _tissue_lut(tissues, report_tissue)
    start = simulate_mpm(phantom.maps, protocol, mask=phantom.mask)
    end = simulate_mpm(phantom.maps, protocol, mask=phantom.mask, mt_timing="end-of-tr")
    fits = fit_mpm_variants(start, protocol, mask=phantom.mask, variants=ESTIMATORS)
    fits[SMALL_ANGLE_END] = fit_mpm(end, protocol, mask=phantom.mask, approximation="tan")
    return present_small_angle(phantom, fits, tissues=tissues, report_tissue=report_tissue)


def present_small_angle(phantom, fits: dict, *, tissues: dict, report_tissue: str = "WM") -> Report:
    """Bias table of noiseless MPM fits (the chapter's visible cell calls
    :func:`qmrigenes.relaxometry.simulate_mpm` and ``fit_mpm_variants`` with the estimators).

    Parameters
    ----------
    fits : dict
        ``{estimator label: {parameter: ndarray}}``, four fits in the order of
        :data:`ESTIMATORS` and then :data:`SMALL_ANGLE_END`.

    Returns
    -------
    Report
        ``numbers``: ``sa-<R1|PD|MTsat>-<small|tan|exact|tan-end>`` (bias in
        percent of truth in ``report_tissue``); ``tables``:
        ``small-angle-table``; ``data``: ``table``.
    """
    if len(fits) != 4:
        raise ValueError(f"fits must hold four estimators, has {len(fits)}")
    label = _tissue_lut(tissues, report_tissue)
    rows, numbers = {}, {}
    for (name, est), tag in zip(fits.items(), ("small", "tan", "exact", "tan-end")):
        acc = accuracy_table({k: est[k] for k in ("R1", "PD", "MTsat")}, phantom.maps, phantom.labels,
                             {label: report_tissue})
        row = {}
        for par in ("R1", "PD", "MTsat"):
            row[par] = numbers[f"sa-{par}-{tag}"] = float(acc.loc[(par, report_tissue), "bias_pct"])
        rows[name] = row
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "estimator (noiseless, B1 = 1)"
    table.columns = [f"{report_tissue} {c} bias (%)" for c in ("R1", "PD", "MTsat")]
    return Report(numbers=numbers, tables={"small-angle-table": display.table(table, index="named")}, data={"table": table})


MT_MODELS = {0: "MT saturation independent of B1 (this chapter)", 2: "MT saturation ∝ B1² (MT pulse energy)"}


def mtsat_b1_estimators(b1: np.ndarray, *, helms_c: float = relaxometry.HELMS_C) -> dict:
    """The three MTsat corrections compared: ``{tag: (label, fit_mpm options)}``."""
    return {"none": ("nominal flip angles, no correction", dict(b1=None)),
            "fa": ("flip angles corrected with the B1 map (this chapter)", dict(b1=b1)),
            "helms": (f"hMRI default: Helms correction, C = {helms_c:g}",
                      dict(b1=b1, approximation="tan", mtsat_b1_correction="helms"))}


def report_mtsat_b1(phantom, b1: np.ndarray, *, tissues: dict, protocol: MPMProtocol | None = None,
                    report_tissue: str = "WM", helms_c: float = relaxometry.HELMS_C) -> Report:
    """MTsat under a non-uniform B1: two assumptions on the MT pulse, three corrections (noiseless).

    Forward models: the MT saturation independent of B1 (this chapter's
    simulation, ``mt_b1_exponent=0``) or proportional to the MT pulse
    energy, B1² (``mt_b1_exponent=2``). Estimators
    (:func:`mtsat_b1_estimators`): nominal flip angles (no correction); the
    flip angles corrected with the B1 map (this chapter); the hMRI toolbox
    default (2·tan(α/2) R1 and A at nominal angles, then
    ``MTsat (1 - C) / (1 - C B1)``, C = ``helms_c``). Returns what
    :func:`present_mtsat_b1` returns.
    """
    protocol = protocol or MPMProtocol()
    _tissue_lut(tissues, report_tissue)
    b1 = np.asarray(b1, float)
    estimators = mtsat_b1_estimators(b1, helms_c=helms_c)
    fits = {}
    for p in MT_MODELS:
        sig = simulate_mpm(phantom.maps, protocol, b1=b1, mask=phantom.mask, mt_b1_exponent=p)
        by_tag = fit_mpm_variants(sig, protocol, mask=phantom.mask,
                                  variants={tag: opts for tag, (_, opts) in estimators.items()})
        fits.update({(p, tag): fit["MTsat"] for tag, fit in by_tag.items()})
    return present_mtsat_b1(phantom, fits, tissues=tissues, report_tissue=report_tissue, helms_c=helms_c)


def present_mtsat_b1(phantom, fits: dict, *, tissues: dict, report_tissue: str = "WM",
                     helms_c: float = relaxometry.HELMS_C) -> Report:
    """Bias and SD table of MTsat under a non-uniform B1 (the chapter's visible cell calls
    :func:`qmrigenes.relaxometry.simulate_mpm` and ``fit_mpm``).

    Parameters
    ----------
    fits : dict
        ``{(mt_b1_exponent, tag): MTsat ndarray}``, tags of :func:`mtsat_b1_estimators`.

    Returns
    -------
    Report
        ``numbers``: ``mtb1-<p0|p2>-<none|fa|helms>-<bias|sd>`` (percent of the
        true MTsat in ``report_tissue``: mean error and SD of the error over
        its voxels) and ``helms-c``; ``tables``: ``mtsat-b1-table``.
    """
    label = _tissue_lut(tissues, report_tissue)
    names = {tag: name for tag, (name, _) in mtsat_b1_estimators(None, helms_c=helms_c).items()}
    rows, numbers = [], {"helms-c": helms_c}
    for (p, tag), mtsat in fits.items():
        acc = accuracy_table({"MTsat": mtsat}, phantom.maps, phantom.labels, {label: report_tissue})
        bias = float(acc.loc[("MTsat", report_tissue), "bias_pct"])
        sd = float(acc.loc[("MTsat", report_tissue), "noise_pct"])
        numbers[f"mtb1-p{p}-{tag}-bias"], numbers[f"mtb1-p{p}-{tag}-sd"] = bias, sd
        rows.append({"forward model": MT_MODELS[p], "estimator": names[tag], f"{report_tissue} MTsat bias (%)": bias,
                     f"{report_tissue} MTsat error SD (%)": sd})
    table = pd.DataFrame(rows).set_index(["forward model", "estimator"])
    return Report(numbers=numbers, tables={"mtsat-b1-table": display.table(table, decimals=1, index="named")}, data={"table": table})


def report_denoising(phantom, b1: np.ndarray, *, tissues: dict, z: int, half_width: int = 8,
                     protocol: MPMProtocol | None = None, sigma: float = 0.1, seed: int = 2023,
                     report_tissue: str = "WM", biased_tissue: str = "pallidum", **nlm) -> Report:
    """R2* with and without NLM denoising on an axial slab of a phantom.

    Parameters
    ----------
    phantom : object with ``maps``, ``labels`` and ``mask``
    b1 : ndarray, shape (X, Y, Z)
    tissues : dict ``{label: name}``
    z, half_width : int
        The slab spans axial slices ``z - half_width`` to ``z + half_width - 1``.
    sigma : float
        Noise SD per channel, also given to the filter.
    seed : int
    **nlm : options of :func:`denoise_nlm` (e.g. ``slicewise=True``).

    Returns
    -------
    Report
        ``numbers`` (``r2s-sd-wm-raw``, ``r2s-sd-wm-nlm``,
        ``r2s-bias-gp-nlm``, 1/s), ``tables`` (``denoise-table``: SD and mean
        of the R2* error per tissue, 1/s), ``figures`` (``fig-denoise``) and
        ``data``: ``r2s_noisy``, ``r2s_denoised`` (zero outside the brain),
        ``r2s_true`` (arrays of the slab), ``z`` (the central slice in slab
        coordinates) and ``precision``.
    """
    if half_width < 1 or not half_width <= z <= phantom.labels.shape[2] - half_width:
        raise ValueError(f"slab {z} +/- {half_width} does not fit in {phantom.labels.shape[2]} slices")
    protocol = protocol or MPMProtocol()
    slab = (slice(None), slice(None), slice(z - half_width, z + half_width))
    maps = {k: v[slab] for k, v in phantom.maps.items()}
    labels, inside = phantom.labels[slab], phantom.mask[slab]
    sig = simulate_mpm(maps, protocol, b1=np.asarray(b1)[slab], sigma=sigma, rng=np.random.default_rng(seed))
    noisy, den, table = denoising_experiment(sig, protocol.te, labels, maps["R2s"], tissues, sigma=sigma, **nlm)
    return present_denoising(noisy, den, table, r2s_true=maps["R2s"], inside=inside, z=half_width,
                             report_tissue=report_tissue, biased_tissue=biased_tissue)


def present_denoising(noisy: np.ndarray, den: np.ndarray, table: pd.DataFrame, *, r2s_true: np.ndarray,
                      inside: np.ndarray, z: int, report_tissue: str = "WM",
                      biased_tissue: str = "pallidum") -> Report:
    """Numbers, table and figure of R2* with and without NLM denoising (the chapter's visible cell
    calls :func:`qmrigenes.relaxometry.simulate_mpm` and ``denoising_experiment`` on a slab):
    ``noisy``, ``den`` and ``table`` are what ``denoising_experiment`` returns, ``r2s_true`` and
    ``inside`` (brain mask) the slab's truth, ``z`` the slab's slice to show. Returns what
    :func:`report_denoising` returns."""
    half_width = z
    numbers = {"r2s-sd-wm-raw": float(table.loc[report_tissue, "no denoising"]),
               "r2s-sd-wm-nlm": float(table.loc[report_tissue, "NLM"]),
               "r2s-bias-gp-nlm": float(table.loc[biased_tissue, "bias_NLM"])}
    data = {"r2s_noisy": np.where(inside, noisy, 0), "r2s_denoised": np.where(inside, den, 0),
            "r2s_true": r2s_true, "z": half_width, "precision": table[["no denoising", "NLM"]]}
    fig = figs.plot_denoising(data["r2s_noisy"], data["r2s_denoised"], data["r2s_true"], data["precision"],
                              z=half_width)
    shown = table.rename(columns={"no denoising": "error SD, no denoising (s⁻¹)", "NLM": "error SD, NLM (s⁻¹)",
                                  "bias_no_denoising": "mean error, no denoising (s⁻¹)",
                                  "bias_NLM": "mean error, NLM (s⁻¹)"})
    return Report(numbers=numbers, tables={"denoise-table": display.table(shown, index="named")}, figures={"fig-denoise": fig},
                  data=data)


# --------------------------------------------------------------------------- chapter helpers
def present_lesion_sources(changes: pd.DataFrame) -> Report:
    """Which lesion-change magnitudes are published and which are design values.

    ``changes``: :func:`qmrigenes.lesions.load_lesion_changes` (the chapter's visible cell).

    Returns
    -------
    Report
        ``numbers`` (``n-change-rows``, ``n-change-published``,
        ``n-change-design``: counts of rows), ``tables`` (``lesion-changes``:
        the display columns, blanks for missing sources) and ``data``:
        ``published`` / ``design`` (lists of rows as text such as
        ``"R2s of early_active core"``).
    """
    kinds = set(changes["kind"])
    if not kinds <= {"published", "SIMULATION design"}:
        raise ValueError(f"unknown kinds {sorted(kinds - {'published', 'SIMULATION design'})}")
    text = changes["parameter"] + " of " + changes["stage"] + " " + changes["compartment"]
    pub = changes["kind"] == "published"
    numbers = {"n-change-rows": int(len(changes)), "n-change-published": int(pub.sum()),
               "n-change-design": int((~pub).sum())}
    shown = _lesion_changes_display(changes)
    return Report(numbers=numbers, tables={"lesion-changes": display.table(shown, index="named")},
                  data={"published": list(text[pub]), "design": list(text[~pub]), "shown": shown})


def _change_text(change: float, unit: str) -> str:
    """A lesion change as the page prints it: sign, value, unit (χ in ppb)."""
    if unit == "ppm":
        value, suffix = 1000 * change, " ppb"
    elif unit == "percent of NAWM":
        value, suffix = change, " %"
    else:
        value, suffix = change, " s⁻¹"
    sign = "−" if value < 0 else "+"
    return f"{sign}{abs(value):g}{suffix}"


def _lesion_changes_display(changes: pd.DataFrame) -> pd.DataFrame:
    """Lesion changes for the page: readable names, signed values with units, published or design, source."""
    out = pd.DataFrame({
        "lesion stage": changes["stage"].map(_STAGE_NAMES),
        "compartment": changes["compartment"],
        "parameter": changes["parameter"].map(_PAR_NAMES),
        "change vs NAWM": [_change_text(c, u) for c, u in zip(changes["change"], changes["unit"])],
        "magnitude": np.where(changes["kind"] == "published", "published", "design value"),
        "source of the magnitude": [author_year(k) if (isinstance(k, str) and kind == "published") else np.nan
                                    for k, kind in zip(changes["magnitude_source"], changes["kind"])],
    })
    return out.set_index(["lesion stage", "compartment", "parameter"])


def lesion_profiles(info: pd.DataFrame, truth: dict, estimates: dict, *, voxel_size=(2.0, 2.0, 2.0),
                    max_radius_mm: float = 20.0, step_mm: float = 2.0) -> pd.DataFrame:
    """Radial profiles of true and estimated maps around each lesion centre.

    Parameters
    ----------
    info : DataFrame
        From :func:`insert_lesions` (columns ``stage``, ``x``, ``y``, ``z``).
    truth, estimates : dict of str -> ndarray (X, Y, Z)
        Maps with the same keys (e.g. ``R1``, ``PD``, ``R2s``, ``chi``).

    Returns
    -------
    pandas.DataFrame
        Long table: ``stage``, ``parameter``, ``source`` (truth/estimate),
        ``distance_mm``, ``value``.
    """
    check_voxel_size(voxel_size)                       # #20
    if set(truth) != set(estimates):
        raise ValueError(f"truth keys {sorted(truth)} differ from estimate keys {sorted(estimates)}")
    rows = []
    for _, r in info.iterrows():
        c = (r.x, r.y, r.z)
        for par in estimates:
            for source, vol in (("truth", truth[par]), ("estimate", estimates[par])):
                prof = radial_profile(vol, c, voxel_size=voxel_size, max_radius_mm=max_radius_mm,
                                      step_mm=step_mm)
                rows += [dict(stage=r.stage, parameter=par, source=source, distance_mm=d, value=v)
                         for d, v in prof.items()]
    return pd.DataFrame(rows)


_STAGE_NAMES = {"early_active": "early active", "late_active": "late active", "chronic_active": "chronic active",
                "chronic_inactive": "chronic inactive"}


def _referenced(chi, phantom: Phantom) -> np.ndarray:
    """A QSM map of ``phantom`` CSF-referenced and zero outside the brain (ppm)."""
    return np.where(phantom.mask, reference_to(chi, phantom.labels == _LUT["CSF"]), 0)


def _rim_own_values(info: pd.DataFrame, lesion_map: np.ndarray, truth: np.ndarray, estimate: np.ndarray, *,
                    stage: str = "chronic_active") -> dict:
    """Mean true and estimated χ (ppb) over the rim voxels of one lesion only (``lesion_map == -(i + 1)``),
    and over its core, unlike a profile shell, which mixes rim, core and NAWM voxels at that distance."""
    i = int(np.flatnonzero(info["stage"].to_numpy() == stage)[0])
    rim, core = lesion_map == -(i + 1), lesion_map == i + 1
    if not rim.any():
        raise ValueError(f"the {stage} lesion has no rim voxels")
    return {"rim-own-chi-true": 1000 * float(truth[rim].mean()), "rim-own-chi-est": 1000 * float(estimate[rim].mean()),
            "rim-own-n": int(rim.sum()), "rim-core-chi-true": 1000 * float(truth[core].mean()),
            "rim-core-chi-est": 1000 * float(estimate[core].mean())}


def report_lesions(phantom: Phantom, b1: np.ndarray, *, protocol=None, sigma: float = 0.05,
                   field_sigma: float = 0.002, seed_mpm: int = 2025, seed_field: int = 2026,
                   lam: float = 1e-2, pad: int = 16, tol: float = 1e-6, rim_distance_mm: float = 7.0,
                   shell_mm=(4.0, 10.0), near_zero_ppb: float = 1.0) -> Report:
    """Insert the four lesion stages, simulate MPM and QSM, fit both, and run the QSM controls.

    The QSM of the lesioned phantom (noisy field, converged Tikhonov) is
    accompanied by two controls that isolate why a lesion's χ contrast is or
    is not recovered: the same phantom from a **noise-free** field, and the
    **lesion-only** χ map (the lesions' change relative to NAWM, in an
    otherwise empty brain) from a noise-free field. The solver is linear, so
    noise-free minus lesion-only is what the surrounding **anatomy alone**
    contributes at each lesion site.

    Parameters
    ----------
    phantom : Phantom
    b1 : ndarray
        Transmit field (used in the simulation and, as a known map, in the fit).
    sigma, field_sigma : float
        Noise of the MPM signals and of the field (ppm).
    seed_mpm, seed_field : int
    lam, tol : float
        Tikhonov weight and stopping rule of every QSM solve (CSF-referenced).
    rim_distance_mm : float
        Profile shell at which the chronic active rim is read off.
    shell_mm : (float, float)
        Inner and outer distance (mm) from a lesion of its local NAWM reference.
    near_zero_ppb : float
        True contrasts below this (ppb) get no recovery ratio.

    Returns
    -------
    Report
        ``numbers``: ``rim-chi-true`` and ``rim-chi-est`` (ppb, chronic
        active χ profile at the rim shell);
        ``<stage>-chi-contrast-<true|est|nf|lo|anat|local>`` (ppb, mean χ of
        each lesion core minus that of NAWM, i.e. WM outside the lesions:
        truth, noisy QSM, noise-free QSM, lesion-only QSM, anatomy alone,
        noisy QSM against the local NAWM shell; stage with hyphens);
        ``lo-recovery-min``/``-max`` (percent of the true contrast kept by the
        lesion-only control, stages away from zero) and ``anat-nawm-sd``
        (ppb, spatial SD over NAWM of the lesion-free anatomy's noise-free
        QSM error); ``tables``: ``lesion-qsm-controls``; ``figures``:
        ``fig-lesions``, ``fig-profiles``; ``data``: ``lesioned``, ``info``,
        ``maps``, ``profiles``, ``contrasts`` (ppb) and ``controls`` (the
        three control volumes, ppm).
    """
    les, lesion_map, info = insert_lesions(phantom)
    sig = relaxometry.simulate_mpm(les.maps, protocol, b1=b1, sigma=sigma, rng=np.random.default_rng(seed_mpm),
                                   mask=les.mask)
    est = relaxometry.fit_mpm(sig, protocol, b1=b1, mask=les.mask)
    clean = qsm.forward_field(les.maps["chi"], voxel_size=les.voxel_size, pad=pad)
    field = qsm.add_field_noise(clean, field_sigma, rng=np.random.default_rng(seed_field), mask=les.mask)
    only = lesion_only(les, phantom, parameter="chi")
    fields = [field, clean, qsm.forward_field(only, voxel_size=les.voxel_size, pad=pad)]
    solved = qsm.tikhonov_cg_many(fields, les.mask, lam=lam, tol=tol, voxel_size=les.voxel_size)  # on the cores
    chi, chi_nf, chi_lo = (_referenced(x, les) for x, _ in solved)
    return present_lesions(phantom, les, lesion_map, info, est,
                           {"noisy": chi, "noise-free": chi_nf, "lesion only": chi_lo},
                           rim_distance_mm=rim_distance_mm, shell_mm=shell_mm, near_zero_ppb=near_zero_ppb)


def present_lesions(phantom: Phantom, les: Phantom, lesion_map: np.ndarray, info: pd.DataFrame, est: dict,
                    chi: dict, *, rim_distance_mm: float = 7.0, shell_mm=(4.0, 10.0),
                    near_zero_ppb: float = 1.0) -> Report:
    """Numbers, table and figures of :func:`report_lesions` from its computed volumes.

    ``phantom`` is the lesion-free phantom, ``les, lesion_map, info`` the output of
    :func:`qmrigenes.lesions.insert_lesions`, ``est`` the MPM fit of the lesioned phantom
    (:func:`qmrigenes.relaxometry.fit_mpm`) and ``chi`` the three CSF-referenced Tikhonov
    solutions (ppm, zero outside the brain) ``{"noisy", "noise-free", "lesion only"}``.
    Keys as :func:`report_lesions`.
    """
    chi_nf, chi_lo = chi["noise-free"], chi["lesion only"]
    chi = chi["noisy"]
    chi_anat = chi_nf - chi_lo
    fitted = {"R1": est["R1"], "PD": est["PD"], "R2s": est["R2s"], "chi": chi}
    profiles = lesion_profiles(info, {k: les.maps[k] for k in fitted}, fitted, voxel_size=les.voxel_size)
    rim = profiles[(profiles.stage == "chronic_active") & (profiles.parameter == "chi")].pivot(
        index="distance_mm", columns="source", values="value")
    if rim_distance_mm not in rim.index:
        raise ValueError(f"no profile shell at {rim_distance_mm} mm; shells: {list(rim.index)}")
    maps = {"R1": est["R1"], "PD": est["PD"], "R2s": est["R2s"], "QSM (Tikhonov)": chi,
            "chi (truth)": les.maps["chi"]}
    numbers = {"rim-chi-true": 1000 * float(rim.loc[rim_distance_mm, "truth"]),
               "rim-chi-est": 1000 * float(rim.loc[rim_distance_mm, "estimate"])}
    numbers.update(_rim_own_values(info, lesion_map, les.maps["chi"], chi))
    nawm = (les.labels == _LUT["WM"]) & (lesion_map == 0)
    volumes = {"true": (les.maps["chi"], "nawm"), "est": (chi, "nawm"), "local": (chi, "shell"),
               "nf": (chi_nf, "nawm"), "lo": (chi_lo, "nawm"), "anat": (chi_anat, "nawm")}
    contrasts = pd.DataFrame({tag: 1000 * lesion_contrast(vol, lesion_map, reference=ref, labels=les.labels,
                                                          shell_mm=shell_mm, voxel_size=les.voxel_size).to_numpy()
                              for tag, (vol, ref) in volumes.items()}, index=list(info["stage"]))
    for stage, row in contrasts.iterrows():
        for tag, value in row.items():
            numbers[f"{stage.replace('_', '-')}-chi-contrast-{tag}"] = float(value)
    away = contrasts["true"].abs() >= near_zero_ppb
    kept = 100 * contrasts.loc[away, "lo"] / contrasts.loc[away, "true"]
    numbers["lo-recovery-min"], numbers["lo-recovery-max"] = float(kept.min()), float(kept.max())
    anat_err = (chi_anat - phantom.maps["chi"] + phantom.maps["chi"][phantom.labels == _LUT["CSF"]].mean())
    numbers["anat-nawm-sd"] = 1000 * float(anat_err[nawm].std())
    numbers["shell-inner-mm"], numbers["shell-outer-mm"] = float(shell_mm[0]), float(shell_mm[1])
    table = pd.DataFrame({
        "true": contrasts["true"],
        "QSM (noisy)": contrasts["est"],
        "QSM, local NAWM reference": contrasts["local"],
        "noise-free": contrasts["nf"],
        "lesion only": contrasts["lo"],
        "anatomy alone": contrasts["anat"],
    }).rename(index=_STAGE_NAMES)
    table.index.name = "lesion stage"
    figures = {"fig-lesions": figs.plot_lesion_stages(maps, info),
               "fig-profiles": figs.plot_lesion_profiles(profiles)}
    return Report(numbers=numbers, tables={"lesion-qsm-controls": display.table(table, decimals=1, index="named")}, figures=figures,
                  data={"lesioned": les, "info": info, "maps": maps, "profiles": profiles, "contrasts": contrasts,
                        "table": table,
                        "lesion_map": lesion_map,
                        "controls": {"noise-free": chi_nf, "lesion only": chi_lo, "anatomy alone": chi_anat}})


def _review_facts(table: pd.DataFrame) -> dict:
    """Counts and patterns of the encoded review tables, for the chapter text.

    Returns
    -------
    dict
        ``n_cells``, ``n_from_text`` (cells taken from the review's text),
        ``wm_r1_always_down`` / ``wm_pd_always_up`` (every WM site with an R1
        / PD entry shows a decrease / an increase), ``wm_r2s_qsm_directions``
        (number of distinct R2* and QSM directions across WM sites) and
        ``bg_thalamus_opposite`` (basal ganglia and thalamus move in opposite
        directions on both R2* and QSM).
    """
    wm = table[table["compartment"] == "WM"]

    def _dirs(site_sel, par):
        return set(table.loc[site_sel & (table["parameter"] == par), "direction"])

    d = table.set_index(["site", "parameter"])["direction"]
    opposite = all((("basal ganglia", p) in d.index and ("thalamus", p) in d.index)
                   and {d[("basal ganglia", p)], d[("thalamus", p)]} == {"increase", "decrease"}
                   for p in ("R2*", "QSM"))
    wm_sel = table["compartment"] == "WM"
    return {"n_cells": int(len(table)), "n_from_text": int((table["encoded_from"] == "text").sum()),
            "wm_r1_always_down": _dirs(wm_sel, "R1") == {"decrease"},
            "wm_pd_always_up": _dirs(wm_sel, "PD") == {"increase"},
            "wm_r2s_qsm_directions": len(set(wm.loc[wm["parameter"].isin(["R2*", "QSM"]), "direction"])),
            "bg_thalamus_opposite": bool(opposite)}


def present_review(table: pd.DataFrame, *, directions: pd.DataFrame) -> Report:
    """The review's Tables 1-2 as data: a heatmap, the encoded table and its counts.

    Parameters
    ----------
    table : DataFrame
        :func:`qmrigenes.lesions.load_review_tables` (the chapter's visible cell).
    directions : DataFrame
        Its :func:`qmrigenes.lesions.review_direction_matrix` (the chapter's visible cell).

    Returns
    -------
    Report
        ``numbers``: ``n-review-cells``, ``n-review-text`` (cells taken from
        the review's text); ``tables``: ``review-table``; ``figures``:
        ``fig-review-heatmap``; ``data``: ``facts`` (see :func:`_review_facts`:
        the patterns the chapter's text states).
    """
    facts = _review_facts(table)
    shown = table[["table", "site", "parameter", "direction", "encoded_from", "review_refs"]].rename(
        columns={"encoded_from": "encoded from", "review_refs": "review's reference numbers"})
    shown = shown.assign(**{"encoded from": shown["encoded from"].map({"table": "the table", "text": "the text"})
                            .fillna(shown["encoded from"])}).set_index(["table", "site", "parameter"])
    return Report(numbers={"n-review-cells": facts["n_cells"], "n-review-text": facts["n_from_text"]},
                  tables={"review-table": display.table(shown, index="named")},
                  figures={"fig-review-heatmap": figs.plot_review_heatmap(directions)},
                  data={"facts": facts})


def tkd_measured_chi(phantom: Phantom, *, threshold: float = 0.2, pad: int = 16) -> np.ndarray:
    """χ of a phantom as TKD measures it from its noise-free field, CSF-referenced (ppm)."""
    field = qsm.forward_field(phantom.maps["chi"], voxel_size=phantom.voxel_size, pad=pad)
    chi = qsm.tkd(field, threshold=threshold, mask=phantom.mask, voxel_size=phantom.voxel_size)
    return qsm.reference_to(chi, phantom.labels == _LUT["CSF"])


def _atrophy_changes(series: pd.DataFrame) -> dict:
    """Percent changes from the first to the last row of :func:`atrophy_series`.

    Returns
    -------
    dict
        ``atrophy-loss`` (largest volume loss, percent), ``atrophy-r2s-rise``,
        ``atrophy-chi-rise`` (means), ``atrophy-r2s-mass`` (mass) and, when
        measured columns exist, ``atrophy-chi-mean-meas`` and
        ``atrophy-chi-mass-meas``; all in percent.
    """
    if len(series) < 2:
        raise ValueError("need at least two volume losses")
    first, last = series.iloc[0], series.iloc[-1]

    def pct(col):
        return 100 * float(last[col] / first[col] - 1)

    out = {"atrophy-loss": 100 * float(series.index[-1] - series.index[0]),
           "atrophy-r2s-rise": pct("R2s_mean"), "atrophy-chi-rise": pct("chi_mean"),
           "atrophy-r2s-mass": pct("R2s_mass"), "atrophy-chi-mass": pct("chi_mass")}
    if "chi_mean_measured" in series:
        out["atrophy-chi-mean-meas"] = pct("chi_mean_measured")
        out["atrophy-chi-mass-meas"] = pct("chi_mass_measured")
    return out


def report_atrophy(phantom: Phantom, *, nucleus: str = "caudate", losses=(0.0, 0.1, 0.2, 0.3),
                   measured=tkd_measured_chi) -> Report:
    """Concentration versus content of a nucleus shrinking at constant iron content.

    Parameters
    ----------
    phantom : Phantom
    nucleus : str
        Deep grey nucleus that loses volume.
    losses : sequence of float
        Volume-loss fractions (first = reference).
    measured : callable or None
        ``measured(phantom) -> chi`` (default: TKD of the noise-free field).

    Returns
    -------
    Report
        ``numbers`` from :func:`_atrophy_changes` (percent), ``tables``:
        ``atrophy-table``, ``figures``: ``fig-atrophy``, ``data``: ``series``.
    """
    return present_atrophy(atrophy_series(phantom, nucleus=nucleus, losses=losses, measured=measured))


def present_atrophy(series: pd.DataFrame) -> Report:
    """Numbers, table and figure of :func:`qmrigenes.lesions.atrophy_series` (the chapter's
    visible cell calls it); returns what :func:`report_atrophy` returns."""
    shown = series.rename(columns={"volume_ml": "volume (mL)", "R2s_mean": "mean R2* (s⁻¹)",
                                   "R2s_mass": "R2* mass (s⁻¹·mL)", "chi_mean": "mean χ (ppb)",
                                   "chi_mass": "χ mass (ppb·mL)", "chi_mean_measured": "mean χ, TKD (ppb)",
                                   "chi_mass_measured": "χ mass, TKD (ppb·mL)"})
    for col in [c for c in shown.columns if "χ" in c]:
        shown[col] = 1000 * shown[col]
    shown.index = pd.Index((100 * shown.index).round().astype(int), name="volume loss (%)")
    return Report(numbers=_atrophy_changes(series), tables={"atrophy-table": display.table(shown, decimals=1, index="named")},
                  figures={"fig-atrophy": figs.plot_atrophy(series)}, data={"series": series})


def report_phantom(phantom: Phantom, *, z: int | None = None) -> Report:
    """The head phantom with :func:`qmrigenes.phantom.tissue_table`; see :func:`present_phantom`."""
    return present_phantom(phantom, tissue_table(), z=z)


def present_phantom(phantom: Phantom, table: pd.DataFrame, *, z: int | None = None) -> Report:
    """The head phantom: its grid, brain size, tissue values and a figure.

    Parameters
    ----------
    phantom : Phantom
    table : DataFrame
        Tissue values (:func:`qmrigenes.phantom.tissue_table`: tissues × R1, PD, R2s, MTsat, chi).
    z : int, optional
        Axial slice of the figure.

    Returns
    -------
    Report
        ``numbers``: ``phantom-shape`` (text), ``n-brain`` (voxels);
        ``tables``: ``tissue-table``; ``figures``: ``fig-phantom``; ``data``:
        ``table`` (unrounded tissue values).
    """
    kw = {} if z is None else {"z": z}
    return Report(numbers={"phantom-shape": " × ".join(map(str, phantom.shape)),
                           "n-brain": int(phantom.mask.sum())},
                  tables={"tissue-table": display.table(
                      table.rename(columns={p: f"{_PAR_NAMES[p]} ({_UNITS[p]})" for p in table.columns})
                      .rename_axis(index="tissue", columns=None),
                      # each column at the precision of its values (not 97.000 for a PD of 97)
                      decimals={f"{_PAR_NAMES[p]} ({_UNITS[p]})": d
                                for p, d in {"R1": 3, "PD": 1, "R2s": 1, "MTsat": 2, "chi": 3}.items()}, index="named")},
                  figures={"fig-phantom": figs.plot_phantom(phantom, **kw)}, data={"table": table})


def report_runtime(t_start: float) -> Report:
    """Seconds since ``t_start`` (a :func:`time.perf_counter` value), as ``runtime``."""
    return Report(numbers={"runtime": time.perf_counter() - t_start})


def present_design_values(*, protocol: MPMProtocol, b1: np.ndarray, mask: np.ndarray, sigma: float,
                          field_sigma: float, lam: float, values: pd.DataFrame, changes: pd.DataFrame,
                          lesion_radius_mm: float = 6.0, rim_mm: float = 2.0, background=None) -> Report:
    """Every value of the chapter's simulation that is a design choice, not taken from a source.

    Parameters
    ----------
    protocol, b1, mask, sigma, field_sigma, lam :
        What the chapter simulates with (the MPM protocol, the B1 map and the
        brain mask it is summarised over, signal and field noise, Tikhonov
        weight).
    lesion_radius_mm, rim_mm : float
        Lesion geometry (as passed to :func:`qmrigenes.lesions.insert_lesions`).
    values : DataFrame
        :func:`qmrigenes.phantom.tissue_values` (each tissue value with its source).
    changes : DataFrame
        :func:`qmrigenes.lesions.load_lesion_changes`.
    background : dict, optional
        ``radius_mm`` and ``chi`` (ppm) of the external field source.

    Returns
    -------
    Report
        ``tables``: ``design-values`` (what, value, why / status); ``numbers``:
        ``n-design-values`` (rows) and ``n-tissue-design`` (tissue-table cells
        that are an assumption or another simulation's design value).
    """
    rows = []
    for _, r in values.iterrows():
        src = str(r["source"])
        if src == "model_assumption":
            rows.append((f"{r['tissue']} {_PAR_NAMES[r['parameter']]}", f"{r['value']:g} {r['unit']}",
                         "model assumption: " + str(r["note"]).split(":", 1)[-1].strip()))
        elif src.endswith("_SIMULATION"):
            rows.append((f"{r['tissue']} {_PAR_NAMES[r['parameter']]}", f"{r['value']:g} {r['unit']}",
                         "design value of a published simulation phantom (cited under the tissue table), "
                         "not a measurement"))
    n_tissue = len(rows)
    fa, tr = protocol.flip_angles, protocol.tr
    te = np.asarray(protocol.te) * 1000
    rows += [
        ("MPM protocol", f"flip angles PDw/T1w/MTw {fa['PDw']:g}°/{fa['T1w']:g}°/{fa['MTw']:g}°, "
                         f"TR {1000 * tr['PDw']:g} ms, {len(te)} echoes at {te[0]:.1f}–{te[-1]:.1f} ms",
         "in the style of the 3T hMRI protocol, not copied from one published protocol"),
        ("MT pulse", "saturation independent of B1, acting at the start of each TR",
         "simulation assumption; the MTsat-and-B1 table shows what it changes"),
        ("B1 (transmit) field", f"centre-bright quadratic, {b1[mask].min():.2f}–{b1[mask].max():.2f} "
                                "of the nominal flip angle", "simulation design"),
        ("signal noise", f"Rician, SD {sigma:g} per channel", "simulation design"),
        ("field noise", f"white, SD {1000 * field_sigma:g} ppb", "simulation design"),
        ("QSM regularisation", f"λ = {lam:g}", "simulation design (not tuned)"),
        ("lesion geometry", f"spheres: core radius {lesion_radius_mm:g} mm, rim {rim_mm:g} mm (chronic active "
                            "only), one per stage in deep white matter", "simulation design"),
    ]
    design = changes[changes["kind"] != "published"]
    rows.append(("lesion change magnitudes", f"{len(design)} of {len(changes)} (the lesion-change table)",
                 "design values; only their direction follows the literature"))
    core = design[(design["stage"] == "chronic_active") & (design["compartment"] == "core")
                  & (design["parameter"] == "chi")]
    for _, r in core.iterrows():
        source = author_year(r["magnitude_source"]) if isinstance(r["magnitude_source"], str) else "a source"
        rows.append(("χ of the chronic active core", f"{1000 * r['change']:+g} ppb vs NAWM",
                     f"design value: borrowed from {source}, from a lesion group defined by enhancement and "
                     "age (non-enhancing, younger than one year), not by a paramagnetic rim"))
    if background is not None:
        rows.append(("external field source", f"sphere of radius {background['radius_mm']:g} mm, "
                                              f"χ = {background['chi']:g} ppm", "simulation design (a stand-in for "
                                                                                 "an air-filled sinus)"))
    rows.append(("atrophy model", "R2* and χ of the nucleus proportional to its iron concentration",
                 "toy model"))
    table = pd.DataFrame(rows, columns=["design value", "value", "status"]).set_index("design value")
    return Report(numbers={"n-design-values": int(len(table)), "n-tissue-design": n_tissue},
                  tables={"design-values": display.table(table, index="named")}, data={"table": table})


# --------------------------------------------------------------------------- stopping rule (issue 21)
def report_stopping_rule(chi_true: np.ndarray, labels: np.ndarray, *, tissues: dict, reference_label: int = 1,
                         field_sigma: float = 0.002, seed: int = 2024, lam: float = 1e-2, pad: int = 16,
                         tols=(1e-5, 1e-6, 1e-7), decimals: int = 1, solutions: dict | None = None,
                         voxel_size=(2.0, 2.0, 2.0)) -> Report:
    """Which stopping rule makes every ROI value of the converged QSM stable to its printed digit.

    The noisy field of :func:`report_qsm` (same ``seed``, ``field_sigma``, ``pad``) is solved by
    :func:`qmrigenes.qsm.tikhonov_cg` at each relative-residual tolerance in ``tols`` (one solve to
    the tightest, keeping the iterates CG passes at the looser ones: ``snapshots``, the same
    solutions as separate solves); each solution's CSF-referenced ROI means (ppb) are rounded to ``decimals`` and compared with those
    of the tightest tolerance. ``solutions`` maps a tolerance to an already computed
    ``(chi, info)`` of :func:`qmrigenes.qsm.tikhonov_cg` on the whole grid (``masked_output=False``;
    e.g. the chapter's own solve, ``report_qsm(...).data["chi_full"]``), which is then not solved
    again. Optimality is checked independently of the solver's operator by
    :func:`qmrigenes.qsmcheck.remaining_decreases` (objective values only: own dipole FFT, image-space
    finite differences; the largest share over ``chi`` and four random directions).

    Returns
    -------
    Report
        ``numbers``: ``stop-tol`` (loosest tolerance whose rounded ROI table equals the tightest's,
        and every tighter one's too), ``stop-tol-tightest``, ``stop-n-changed-<tol>`` (entries that
        differ at each tolerance), ``stop-fd-<tol>`` (remaining decrease), ``stop-fd-chosen``;
        ``tables``: ``stop-table`` (ROI χ per tolerance, iterations, residual, remaining decrease).
    """
    mask = labels > 0
    field = forward_field(np.asarray(chi_true, float), voxel_size=voxel_size, pad=pad)
    noisy = add_field_noise(field, field_sigma, rng=np.random.default_rng(seed), mask=mask)
    tols = sorted((float(t) for t in tols), reverse=True)
    solutions = {float(k): v for k, v in (solutions or {}).items()}
    needed = [t for t in tols if t not in solutions]
    if needed:      # one solve: CG passes through each looser rule's solution on its way to the tightest
        chi, info = tikhonov_cg(noisy, mask, lam=lam, tol=needed[-1], voxel_size=voxel_size, masked_output=False,
                                snapshots=needed[:-1])
        solutions.update(info.pop("snapshots"))
        solutions[needed[-1]] = (chi, info)
    return present_stopping_rule({t: solutions[t] for t in tols}, noisy, labels, tissues=tissues,
                                 reference_label=reference_label, lam=lam, decimals=decimals, voxel_size=voxel_size)


def present_stopping_rule(solutions: dict, field: np.ndarray, labels: np.ndarray, *, tissues: dict,
                          reference_label: int = 1, lam: float = 1e-2, decimals: int = 1,
                          voxel_size=(2.0, 2.0, 2.0)) -> Report:
    """Numbers and table of :func:`report_stopping_rule` from the solutions themselves.

    ``solutions`` maps each relative-residual tolerance to ``(chi, info)`` of
    :func:`qmrigenes.qsm.tikhonov_cg` (whole grid, ``masked_output=False``) of ``field`` with weight
    ``lam``; the tightest tolerance is the reference the others are compared with.
    """
    from qmrigenes.qsmcheck import remaining_decreases

    mask = labels > 0
    ref = labels == reference_label
    noisy = field
    solutions = {float(k): v for k, v in solutions.items()}
    tols = sorted(solutions, reverse=True)
    # one check of every solution: the probe directions and their dipole fields are shared
    remaining = remaining_decreases([solutions[t][0] for t in tols], noisy, mask, lam=lam, voxel_size=voxel_size)
    cols, meta = {}, {}
    for t, left in zip(tols, remaining):
        chi, info = solutions[t]
        rois = roi_means({"chi": np.where(mask, reference_to(chi, ref), 0)}, labels, tissues)["chi"]
        cols[t] = (1000 * rois).round(decimals)
        meta[t] = {"iterations": int(info["n_iter"]), "residual": float(info["residual"]),
                   "remaining": float(left.max())}
    values = pd.DataFrame(cols)
    tight = values[tols[-1]]
    changed = {t: int((values[t] != tight).sum()) for t in tols}
    stable = [t for i, t in enumerate(tols) if all(changed[u] == 0 for u in tols[i:])]
    chosen = stable[0]
    numbers = {"stop-tol": chosen, "stop-tol-tightest": tols[-1], "stop-fd-chosen": meta[chosen]["remaining"]}
    for t in tols:
        tag = f"{t:.0e}"
        numbers[f"stop-n-changed-{tag}"] = changed[t]
        numbers[f"stop-fd-{tag}"] = meta[t]["remaining"]
        numbers[f"stop-iter-{tag}"] = meta[t]["iterations"]
    from .display import format_count, format_p, format_value

    rows = {roi: [format_value(v, decimals=decimals) for v in values.loc[roi]] for roi in values.index}
    rows["CG iterations"] = [format_count(meta[t]["iterations"]) for t in tols]
    rows["relative residual"] = [format_p(meta[t]["residual"], markup="text") for t in tols]
    rows["remaining decrease (finite differences)"] = [format_p(meta[t]["remaining"], markup="text") for t in tols]
    rows[number_text(f"entries differing from tol {tols[-1]:.0e}")] = [format_count(changed[t]) for t in tols]
    text = pd.DataFrame.from_dict(rows, orient="index", columns=[number_text(f"tol {t:.0e}") for t in tols])
    text.index.name = "χ (ppb) or solver check"
    return Report(numbers=numbers, tables={"stop-table": display.table(text.reset_index())},
                  data={"values": values, "meta": pd.DataFrame(meta).T, "changed": changed})
