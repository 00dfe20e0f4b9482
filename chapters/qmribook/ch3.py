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
from qmrigenes.figures import ms as figs
from qmrigenes.lesions import (_LUT, atrophy_series, insert_lesions, load_lesion_changes, load_review_tables,
                               radial_profile, review_direction_matrix)
from qmrigenes.phantom import Phantom, tissue_table
from qmrigenes.qsm import (add_field_noise, forward_field, reference_to, roi_means, sharp, sphere_source,
                           tikhonov_cg, tkd)
from qmrigenes.relaxometry import (MPMProtocol, accuracy_table, add_rician_noise, denoising_experiment, fit_mpm,
                                   r1_bias_curve, simulate_mpm)

from .report import Report

__all__ = [
    "report_phantom",
    "report_mpm",
    "report_r1_bias",
    "report_denoising",
    "report_qsm",
    "report_background",
    "report_lesion_sources",
    "report_lesions",
    "report_review",
    "report_atrophy",
    "report_runtime",
    "lesion_profiles",
    "tkd_measured_chi",
]


# --------------------------------------------------------------------------- chapter experiments
def _rms_ppb(x: np.ndarray) -> float:
    return 1000.0 * float(np.sqrt(np.mean(np.square(x))))


def report_qsm(chi_true: np.ndarray, labels: np.ndarray, *, tissues: dict, reference_label: int = 1,
               field_sigma: float = 0.002, seed: int = 2024, threshold: float = 0.2,
               low_threshold: float = 0.05, lam: float = 1e-2, pad: int = 16,
               voxel_size=(2.0, 2.0, 2.0), z: int | None = None, y: int | None = None) -> Report:
    """Forward-simulate a noisy local field and invert it by TKD and Tikhonov-CG.

    Parameters
    ----------
    chi_true : ndarray, shape (X, Y, Z)
        True susceptibility (ppm).
    labels : ndarray of int, same shape
        Tissue labels; the brain mask is ``labels > 0``.
    tissues : dict
        ``{label: name}`` of the ROIs to report.
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
    z, y : int, optional
        Axial and coronal slices of the figure (default: the grid centre).

    Returns
    -------
    Report
        ``numbers``: ``t-tkd`` and ``t-cg`` (s), ``cg-iter``,
        ``<tkd|tkdlow|cg>-<gp|put>-ratio`` (percent of the pallidum's /
        putamen's true χ) and ``<tkd|tkdlow|cg>-rmse`` (voxel-wise RMS error
        in the mask, ppb); ``tables``: ``qsm-roi-table`` (ROI means in ppm of
        truth and the two main reconstructions, their ratios to truth, and
        ``n_voxels``); ``figures``: ``fig-qsm``, ``fig-qsm-roi``; ``data``:
        ``field`` (noise-free local field, ppm), ``field_noisy``, ``recons``
        ({"TKD t=<low>", "TKD t=<t>", "Tikhonov λ=<lam>": referenced χ, zero
        outside the mask}) and ``rois`` (unrounded).
    """
    chi_true = np.asarray(chi_true, dtype=float)
    labels = np.asarray(labels)
    if labels.shape != chi_true.shape:
        raise ValueError(f"mismatched shapes: labels {labels.shape} vs chi {chi_true.shape}")
    mask = labels > 0
    ref = labels == reference_label
    field = forward_field(chi_true, voxel_size=voxel_size, pad=pad)
    noisy = add_field_noise(field, field_sigma, rng=np.random.default_rng(seed), mask=mask)

    def _ref(chi):
        return np.where(mask, reference_to(chi, ref), 0)

    t0 = time.perf_counter()
    chi_tkd = _ref(tkd(noisy, threshold=threshold, mask=mask, voxel_size=voxel_size))
    t_tkd = time.perf_counter() - t0
    t0 = time.perf_counter()
    chi_cg, info = tikhonov_cg(noisy, mask, lam=lam, voxel_size=voxel_size)
    chi_cg = _ref(chi_cg)
    t_cg = time.perf_counter() - t0
    chi_low = _ref(tkd(noisy, threshold=low_threshold, mask=mask, voxel_size=voxel_size))

    named = {"TKD": chi_tkd, "Tikhonov-CG": chi_cg}
    rois = roi_means({"truth": chi_true, **named}, labels, tissues)
    for name in named:
        rois[f"{name} / truth"] = rois[name] / rois["truth"]
    low = roi_means({"truth": chi_true, "low": chi_low}, labels, tissues)
    lut = {v: k for k, v in tissues.items()}
    missing = {"pallidum", "putamen"} - set(lut)
    if missing:
        raise ValueError(f"tissues must include {sorted(missing)}")
    numbers = {"t-tkd": t_tkd, "t-cg": t_cg, "cg-iter": int(info["n_iter"])}
    for tag, vol, table, col in (("tkd", chi_tkd, rois, "TKD"), ("cg", chi_cg, rois, "Tikhonov-CG"),
                                 ("tkdlow", chi_low, low, "low")):
        for roi, short in (("pallidum", "gp"), ("putamen", "put")):
            numbers[f"{tag}-{short}-ratio"] = 100 * float(table.loc[roi, col] / table.loc[roi, "truth"])
        numbers[f"{tag}-rmse"] = _rms_ppb((vol - chi_true)[mask])
    recons = {f"TKD t={low_threshold:g}": chi_low, f"TKD t={threshold:g}": chi_tkd,
              f"Tikhonov λ={lam:g}": chi_cg}
    z = chi_true.shape[2] // 2 if z is None else z
    y = chi_true.shape[1] // 2 if y is None else y
    figures = {"fig-qsm": figs.plot_qsm(chi_true, recons, z=z, y=y),
               "fig-qsm-roi": figs.plot_roi_means(rois[["truth", *named]])}
    return Report(numbers=numbers, tables={"qsm-roi-table": rois.round(4)}, figures=figures,
                  data={"field": field, "field_noisy": noisy, "recons": recons, "rois": rois})


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
    mask = np.asarray(mask, dtype=bool)
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
    wm_label = _tissue_lut(tissues, report_tissue)
    rng = np.random.default_rng(seed)
    clean = simulate_mpm(phantom.maps, protocol, b1=b1, mask=phantom.mask)
    signals = {c: add_rician_noise(s, sigma, rng=rng) for c, s in clean.items()}
    estimates = {
        "B1-corrected": fit_mpm(signals, protocol, b1=b1, mask=phantom.mask),
        "no B1 correction": fit_mpm(signals, protocol, b1=None, mask=phantom.mask),
        _NOISELESS: fit_mpm(clean, protocol, b1=b1, mask=phantom.mask),
    }
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
    tables = {
        "accuracy-table": noisy.pivot_table(index=["parameter", "tissue"], columns="method",
                                            values=["bias_pct", "noise_pct"]).round(2),
        "acc-summary": (acc[acc["tissue"].isin(list(summary_tissues))]
                        .pivot_table(index=["tissue", "parameter"], columns="method", values="bias_pct")
                        .round(2)),
    }
    z = phantom.labels.shape[2] // 2 if z is None else z
    shown = {"B1-corrected": estimates["B1-corrected"], "no B1 corr.": estimates["no B1 correction"]}
    figures = {"fig-mpm-maps": figs.plot_mpm_maps(phantom.maps, shown, b1, z=z),
               "fig-accuracy": figs.plot_accuracy(noisy)}
    return Report(numbers=numbers, tables=tables, figures=figures,
                  data={"estimates": estimates, "accuracy": acc, "accuracy_noisy": noisy})


def report_r1_bias(r1_tissue: float, r1_csf: float, *, trs=(0.015, 0.025, 0.050), tr_ref: float = 0.025,
                   angles=(21.0, 30.0), tissue: str = "WM") -> Report:
    """Small-angle R1 bias versus the T1w flip angle for several TRs.

    Parameters
    ----------
    r1_tissue, r1_csf : float
        True R1 (1/s) of a tissue and of CSF.
    trs : sequence of float
        TRs (s) of the tissue curves; ``tr_ref`` must be one of them and is
        also used for the CSF curve.
    angles : sequence of float
        T1w flip angles (degrees) at which the reference curve is read off.

    Returns
    -------
    Report
        ``numbers``: ``r1-bias-<angle>deg`` (at ``tr_ref``) and
        ``r1-bias-<angle>deg-tr<ms>`` for every TR, in percent; ``figures``:
        ``fig-r1-bias``; ``data``: ``curves`` ({label: DataFrame from
        :func:`r1_bias_curve`}).
    """
    if tr_ref not in trs:
        raise ValueError(f"tr_ref {tr_ref} must be one of trs {tuple(trs)}")
    curves, numbers = {}, {}
    for tr in trs:
        label = f"TR = {1000 * tr:.0f} ms, {tissue} R1"
        curves[label] = relax = r1_bias_curve(r1_tissue, tr=tr)
        for fa in angles:
            value = float(np.interp(fa, relax["fa_t1w"], relax["r1_error_pct"]))
            numbers[f"r1-bias-{fa:g}deg-tr{1000 * tr:.0f}"] = value
            if tr == tr_ref:
                numbers[f"r1-bias-{fa:g}deg"] = value
    curves[f"TR = {1000 * tr_ref:.0f} ms, CSF R1"] = r1_bias_curve(r1_csf, tr=tr_ref)
    return Report(numbers=numbers, figures={"fig-r1-bias": figs.plot_r1_bias(curves)}, data={"curves": curves})


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
    numbers = {"r2s-sd-wm-raw": float(table.loc[report_tissue, "no denoising"]),
               "r2s-sd-wm-nlm": float(table.loc[report_tissue, "NLM"]),
               "r2s-bias-gp-nlm": float(table.loc[biased_tissue, "bias_NLM"])}
    data = {"r2s_noisy": np.where(inside, noisy, 0), "r2s_denoised": np.where(inside, den, 0),
            "r2s_true": maps["R2s"], "z": half_width, "precision": table[["no denoising", "NLM"]]}
    fig = figs.plot_denoising(data["r2s_noisy"], data["r2s_denoised"], data["r2s_true"], data["precision"],
                              z=half_width)
    return Report(numbers=numbers, tables={"denoise-table": table.round(2)}, figures={"fig-denoise": fig},
                  data=data)


# --------------------------------------------------------------------------- chapter helpers
def report_lesion_sources(changes: pd.DataFrame | None = None) -> Report:
    """Which lesion-change magnitudes are published and which are design values.

    Returns
    -------
    Report
        ``numbers`` (``n-change-rows``, ``n-change-published``,
        ``n-change-design``: counts of rows), ``tables`` (``lesion-changes``:
        the display columns, blanks for missing sources) and ``data``:
        ``published`` / ``design`` (lists of rows as text such as
        ``"R2s of early_active core"``).
    """
    changes = load_lesion_changes() if changes is None else changes
    kinds = set(changes["kind"])
    if not kinds <= {"published", "SIMULATION design"}:
        raise ValueError(f"unknown kinds {sorted(kinds - {'published', 'SIMULATION design'})}")
    text = changes["parameter"] + " of " + changes["stage"] + " " + changes["compartment"]
    pub = changes["kind"] == "published"
    numbers = {"n-change-rows": int(len(changes)), "n-change-published": int(pub.sum()),
               "n-change-design": int((~pub).sum())}
    shown = changes[["stage", "compartment", "parameter", "direction", "change", "unit", "kind",
                     "magnitude_source"]].fillna("")
    return Report(numbers=numbers, tables={"lesion-changes": shown},
                  data={"published": list(text[pub]), "design": list(text[~pub])})


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


def report_lesions(phantom: Phantom, b1: np.ndarray, *, protocol=None, sigma: float = 0.05,
                   field_sigma: float = 0.002, seed_mpm: int = 2025, seed_field: int = 2026,
                   lam: float = 1e-2, pad: int = 16, rim_distance_mm: float = 7.0) -> Report:
    """Insert the four lesion stages, simulate MPM and QSM, and fit both.

    Parameters
    ----------
    phantom : Phantom
    b1 : ndarray
        Transmit field (used in the simulation and, as a known map, in the fit).
    sigma, field_sigma : float
        Noise of the MPM signals and of the field (ppm).
    seed_mpm, seed_field : int
    lam : float
        Tikhonov weight of the QSM inversion (CSF-referenced).
    rim_distance_mm : float
        Profile shell at which the chronic active rim is read off.

    Returns
    -------
    Report
        ``numbers``: ``rim-chi-true`` and ``rim-chi-est`` (ppb, chronic
        active χ profile at the rim shell) and
        ``<stage>-chi-contrast-<true|est>`` (ppb, mean χ of each lesion core
        minus that of NAWM, i.e. WM outside the lesions; stage with hyphens);
        ``figures``: ``fig-lesions``, ``fig-profiles``; ``data``:
        ``lesioned`` (Phantom), ``info`` (lesion table), ``maps`` (estimated
        R1, PD, R2s, "QSM (Tikhonov)" and "chi (truth)") and ``profiles``
        (from :func:`lesion_profiles`).
    """
    les, lesion_map, info = insert_lesions(phantom)
    sig = relaxometry.simulate_mpm(les.maps, protocol, b1=b1, sigma=sigma, rng=np.random.default_rng(seed_mpm),
                                   mask=les.mask)
    est = relaxometry.fit_mpm(sig, protocol, b1=b1, mask=les.mask)
    field = qsm.add_field_noise(qsm.forward_field(les.maps["chi"], voxel_size=les.voxel_size, pad=pad),
                                field_sigma, rng=np.random.default_rng(seed_field), mask=les.mask)
    chi, _ = qsm.tikhonov_cg(field, les.mask, lam=lam, voxel_size=les.voxel_size)
    chi = np.where(les.mask, qsm.reference_to(chi, les.labels == _LUT["CSF"]), 0)
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
    nawm = (les.labels == _LUT["WM"]) & (lesion_map == 0)
    for i, stage in enumerate(info["stage"]):
        core = lesion_map == i + 1
        for source, vol in (("true", les.maps["chi"]), ("est", chi)):
            numbers[f"{stage.replace('_', '-')}-chi-contrast-{source}"] = 1000 * float(
                vol[core].mean() - vol[nawm].mean())
    figures = {"fig-lesions": figs.plot_lesion_stages(maps, info),
               "fig-profiles": figs.plot_lesion_profiles(profiles)}
    return Report(numbers=numbers, figures=figures,
                  data={"lesioned": les, "info": info, "maps": maps, "profiles": profiles})


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


def report_review(table: pd.DataFrame | None = None) -> Report:
    """The review's Tables 1-2 as data: a heatmap, the encoded table and its counts.

    Parameters
    ----------
    table : DataFrame, optional
        Default :func:`qmrigenes.lesions.load_review_tables`.

    Returns
    -------
    Report
        ``numbers``: ``n-review-cells``, ``n-review-text`` (cells taken from
        the review's text); ``tables``: ``review-table``; ``figures``:
        ``fig-review-heatmap``; ``data``: ``facts`` (see :func:`_review_facts`:
        the patterns the chapter's text states).
    """
    table = load_review_tables() if table is None else table
    facts = _review_facts(table)
    shown = table[["table", "site", "parameter", "direction", "encoded_from", "review_refs"]]
    return Report(numbers={"n-review-cells": facts["n_cells"], "n-review-text": facts["n_from_text"]},
                  tables={"review-table": shown},
                  figures={"fig-review-heatmap": figs.plot_review_heatmap(review_direction_matrix(table))},
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
    series = atrophy_series(phantom, nucleus=nucleus, losses=losses, measured=measured)
    return Report(numbers=_atrophy_changes(series), tables={"atrophy-table": series.round(4)},
                  figures={"fig-atrophy": figs.plot_atrophy(series)}, data={"series": series})


def report_phantom(phantom: Phantom, *, z: int | None = None) -> Report:
    """The head phantom: its grid, brain size, tissue values and a figure.

    Returns
    -------
    Report
        ``numbers``: ``phantom-shape`` (text), ``n-brain`` (voxels);
        ``tables``: ``tissue-table``; ``figures``: ``fig-phantom``; ``data``:
        ``table`` (unrounded tissue values).
    """
    table = tissue_table()
    kw = {} if z is None else {"z": z}
    return Report(numbers={"phantom-shape": " × ".join(map(str, phantom.shape)),
                           "n-brain": int(phantom.mask.sum())},
                  tables={"tissue-table": table.round(3)},
                  figures={"fig-phantom": figs.plot_phantom(phantom, **kw)}, data={"table": table})


def report_runtime(t_start: float) -> Report:
    """Seconds since ``t_start`` (a :func:`time.perf_counter` value), as ``runtime``."""
    return Report(numbers={"runtime": time.perf_counter() - t_start})
