"""Chapter 3: solutions of the added exercises and the chapter's interactive figures.

Book study code (depends on :mod:`qmrigenes`, never the reverse). Every chapter-facing function
is named ``report_<topic>`` and returns a :class:`~qmribook.report.Report`; the chapter shows it
with ``show(report, chapter="ch3")``, which glues each entry as ``ch3-<key>``. Keys of this module
start with ``ex-`` (exercise solutions) or ``int-`` (interactive figures) so that they never clash
with those of :mod:`qmribook.ch3`.

* :func:`report_tkd_threshold` - TKD threshold versus χ underestimation and streaking: a sweep of
  the threshold on a phantom's noisy field (numbers, a table and a static figure) and the same
  sweep as an interactive line profile with a threshold slider.
* :func:`report_flip_angle_noise` - which two flip angles give the least noisy R1 from the
  two-angle (PDw/T1w) small-angle estimator: linear error propagation over a grid of angle pairs,
  checked by a Monte Carlo simulation with Rician noise.
* :func:`report_spgr_explorer` - the SPGR signal versus flip angle and TR with the Ernst angle
  marked (interactive, from :mod:`qmribook.interactive`).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from qmrigenes import qsm
from qmrigenes import figures as figs
from qmrigenes.phantom import TISSUES
from qmrigenes.relaxometry import _r1_two_angle, add_rician_noise, ernst_angle, r1_noise_grid, spgr_signal

from .report import Report

__all__ = ["report_tkd_threshold", "present_tkd_threshold", "merge_tkd_sweeps", "report_flip_angle_noise", "present_flip_angle_noise", "report_spgr_explorer",
           "tkd_threshold_sweep", "r1_noise_grid"]

_LUT = {name: label for label, name in TISSUES.items()}
#: Thresholds of the TKD sweep (the dipole kernel spans [-2/3, 1/3]; t must be in (0, 2/3]).
TKD_THRESHOLDS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)


def _label(labels, name_or_label) -> np.ndarray:
    lab = _LUT[name_or_label] if isinstance(name_or_label, str) else int(name_or_label)
    sel = np.asarray(labels) == lab
    if not sel.any():
        raise ValueError(f"no voxel carries label {name_or_label!r}")
    return sel


# --------------------------------------------------------------------------- TKD threshold
def tkd_threshold_sweep(chi_true: np.ndarray, labels: np.ndarray, *, thresholds=TKD_THRESHOLDS,
                        roi="pallidum", uniform="WM", reference="CSF", field_sigma: float = 0.002,
                        seed: int = 2030, pad: int = 16, voxel_size=(2.0, 2.0, 2.0)) -> dict:
    """Simulate the chapter's noisy field and sweep it (and the noise-free one) with
    :func:`qmrigenes.qsm.tkd_threshold_sweep`.

    Parameters
    ----------
    chi_true : ndarray, shape (X, Y, Z)
        True susceptibility (ppm); B0 along the third axis.
    labels : ndarray of int, shape (X, Y, Z)
        Tissue labels (:data:`qmrigenes.phantom.TISSUES`); the brain mask is ``labels > 0``.
    thresholds : sequence of float
        TKD thresholds ``t`` in (0, 2/3], increasing.
    roi : str or int
        Iron-rich region whose mean χ recovery is reported (percent of the true mean).
    uniform : str or int
        Region of uniform true χ: the SD of χ there (ppb) is pure artefact (noise + streaks).
    reference : str or int
        Every map is referenced to its mean over this region (as the chapter does).
    field_sigma : float
        SD (ppm) of the white noise added to the field inside the mask.
    seed : int
    pad : int
        Zero padding (voxels) of the forward model.

    Returns
    -------
    dict
        ``table`` (DataFrame indexed by threshold: ``recovery_pct``, ``artefact_sd_ppb``,
        ``rmse_ppb`` for the noisy field and ``recovery_pct_clean``,
        ``artefact_sd_ppb_clean`` for the noise-free field), ``recons`` ({"noisy"|"noise-free":
        ndarray (n_t, X, Y, Z), referenced χ in ppm, zero outside the mask}), ``field``,
        ``field_noisy`` and the masks ``roi``, ``uniform``, ``mask``.
    """
    chi_true = np.asarray(chi_true, dtype=float)
    labels = np.asarray(labels)
    if labels.shape != chi_true.shape:
        raise ValueError(f"mismatched shapes: labels {labels.shape} vs chi {chi_true.shape}")
    mask = labels > 0
    roi_m, uni_m, ref_m = (_label(labels, r) for r in (roi, uniform, reference))
    field = qsm.forward_field(chi_true, voxel_size=voxel_size, pad=pad)
    noisy = qsm.add_field_noise(field, field_sigma, rng=np.random.default_rng(seed), mask=mask)
    sweeps = {name: qsm.tkd_threshold_sweep(f, mask, thresholds, truth=chi_true, roi=roi_m, uniform=uni_m,
                                            reference=ref_m, voxel_size=voxel_size)
              for name, f in (("noisy", noisy), ("noise-free", np.where(mask, field, 0.0)))}
    out = merge_tkd_sweeps(sweeps["noisy"], sweeps["noise-free"])
    out.update({"field": field, "field_noisy": noisy, "roi": roi_m, "uniform": uni_m, "mask": mask})
    return out


def merge_tkd_sweeps(noisy: dict, clean: dict) -> dict:
    """One table from two :func:`qmrigenes.qsm.tkd_threshold_sweep` results (noisy and noise-free
    field of the same truth): the noisy columns, then ``recovery_pct_clean`` and
    ``artefact_sd_ppb_clean``; ``recons`` ``{"noisy", "noise-free"}`` and the referenced ``truth``."""
    table = noisy["table"].join(clean["table"][["recovery_pct", "artefact_sd_ppb"]].add_suffix("_clean"))
    return {"table": table, "recons": {"noisy": noisy["recons"], "noise-free": clean["recons"]},
            "truth": noisy["truth"]}


def _profile_line(roi: np.ndarray):
    """(x, y, z) of the centre of the column along B0 (third axis) that crosses the most ROI voxels.

    Bilateral structures have their centroid between the hemispheres; this column lies in one.
    """
    counts = roi.sum(axis=2)
    cx, cy = np.unravel_index(int(np.argmax(counts)), counts.shape)
    cz = int(np.round(np.flatnonzero(roi[cx, cy]).mean()))
    return int(cx), int(cy), cz


def report_tkd_threshold(chi_true: np.ndarray, labels: np.ndarray, *, thresholds=TKD_THRESHOLDS,
                         roi="pallidum", uniform="WM", reference="CSF", field_sigma: float = 0.002,
                         seed: int = 2030, pad: int = 16, voxel_size=(2.0, 2.0, 2.0),
                         profile_half_mm: float = 40.0, fig_id: str | None = "ch3-tkd-explorer") -> Report:
    """Exercise: TKD threshold versus χ underestimation and streaking (and its interactive figure).

    Parameters are those of :func:`tkd_threshold_sweep`; ``profile_half_mm`` is the half-length
    of the line profile along B0 through the ROI's centre that the interactive figure draws.

    Returns
    -------
    Report
        ``numbers``: ``ex-tkd-t-lo`` / ``ex-tkd-t-hi`` (smallest / largest threshold),
        ``ex-tkd-rec-lo`` / ``ex-tkd-rec-hi`` (ROI recovery, percent), ``ex-tkd-sd-lo`` /
        ``ex-tkd-sd-hi`` (artefact SD in the uniform region, ppb), ``ex-tkd-sd-clean-lo``
        (the same without noise), ``ex-tkd-best-t`` and ``ex-tkd-best-rmse`` (threshold of
        least voxel-wise RMS error, ppb), ``ex-tkd-rec-best``; ``tables``: ``ex-tkd-table``;
        ``figures``: ``ex-fig-tkd`` (static, for print) and ``int-tkd`` (interactive);
        ``data``: the sweep (``table`` unrounded, ``recons``).
    """
    sweep = tkd_threshold_sweep(chi_true, labels, thresholds=thresholds, roi=roi, uniform=uniform,
                                reference=reference, field_sigma=field_sigma, seed=seed, pad=pad,
                                voxel_size=voxel_size)
    roi_name = roi if isinstance(roi, str) else TISSUES[int(roi)]
    uni_name = uniform if isinstance(uniform, str) else TISSUES[int(uniform)]
    return present_tkd_threshold(sweep, roi=sweep["roi"], roi_name=roi_name, uniform_name=uni_name,
                                 voxel_size=voxel_size, profile_half_mm=profile_half_mm, fig_id=fig_id)


def present_tkd_threshold(sweep: dict, *, roi: np.ndarray, roi_name: str = "pallidum", uniform_name: str = "WM",
                          voxel_size=(2.0, 2.0, 2.0), profile_half_mm: float = 40.0,
                          fig_id: str | None = "ch3-tkd-explorer") -> Report:
    """Numbers, table, static and interactive figure of a TKD threshold sweep (the output of
    :func:`merge_tkd_sweeps`, or :func:`tkd_threshold_sweep`); ``roi`` is the ROI's mask (the
    profile runs along B0 through it). Keys as :func:`report_tkd_threshold`."""
    tab = sweep["table"]
    t = tab.index.to_numpy()
    best = float(tab["rmse_ppb"].idxmin())
    numbers = {
        "ex-tkd-t-lo": float(t[0]), "ex-tkd-t-hi": float(t[-1]),
        "ex-tkd-rec-lo": float(tab["recovery_pct"].iloc[0]),
        "ex-tkd-rec-hi": float(tab["recovery_pct"].iloc[-1]),
        "ex-tkd-sd-lo": float(tab["artefact_sd_ppb"].iloc[0]),
        "ex-tkd-sd-hi": float(tab["artefact_sd_ppb"].iloc[-1]),
        "ex-tkd-sd-clean-lo": float(tab["artefact_sd_ppb_clean"].iloc[0]),
        "ex-tkd-best-t": best, "ex-tkd-best-rmse": float(tab.loc[best, "rmse_ppb"]),
        "ex-tkd-rec-best": float(tab.loc[best, "recovery_pct"]),
    }
    uni_name = uniform_name
    shown = tab.rename(columns={
        "recovery_pct": f"{roi_name} χ recovered (%)",
        "artefact_sd_ppb": f"SD of χ in {uni_name} (ppb)",
        "rmse_ppb": "RMS error (ppb)",
        "recovery_pct_clean": f"{roi_name} χ recovered, noise-free (%)",
        "artefact_sd_ppb_clean": f"SD of χ in {uni_name}, noise-free (ppb)"})
    shown.index.name = "threshold t"
    from .display import table
    tables = {"ex-tkd-table": table(shown, index=True, decimals=1)}

    # line profile along B0 (third axis) through the ROI's centre
    cx, cy, cz = _profile_line(roi)
    half = int(round(profile_half_mm / voxel_size[2]))
    z = np.arange(max(cz - half, 0), min(cz + half + 1, roi.shape[2]))
    x_mm = (z - cz) * voxel_size[2]
    truth = 1000 * sweep["truth"][cx, cy, z]
    curves = {name: 1000 * sweep["recons"][name][:, cx, cy, z] for name in ("noisy", "noise-free")}
    profiles = {f"t = {thr:g}": curves["noisy"][i] for i, thr in enumerate(t)
                if thr in (t[0], best, t[-1])}
    fig = figs.plot_tkd_sweep(tab, profile_x=x_mm, profile_truth=truth, profiles=profiles,
                              roi=roi_name, uniform=uni_name)
    from .interactive import slider_figure
    both = np.stack([curves["noisy"], curves["noise-free"]])          # (2, n_t, n_z)
    truth_rep = np.broadcast_to(truth, both.shape)
    widget = slider_figure(
        x=x_mm, series={"true χ": truth_rep, "TKD χ": both}, slider_values=t,
        slider_label="TKD threshold t", slider_decimals=2,
        initial=int(np.flatnonzero(t == best)[0]),
        dropdown={"label": "Field", "options": ["noisy field", "noise-free field"]},
        xlabel=f"distance along B0 from the {roi_name} centre (mm)", ylabel="χ (ppb, CSF-referenced)",
        title=f"TKD: χ along B0 through the {roi_name}",
        caption="Move the threshold: a small t recovers the peak but lets noise and streaks "
                "through; a large t smooths them away and flattens the peak.",
        fallback="The static figure below shows three thresholds of the same sweep.",
        fig_id=fig_id)
    return Report(numbers=numbers, tables=tables, figures={"ex-fig-tkd": fig, "int-tkd": widget},
                  data={"table": tab, "recons": sweep["recons"], "profile_z": z,
                        "profile_xy": (cx, cy)})


# --------------------------------------------------------------------------- flip angles
def _monte_carlo_cov(r1, pd_, sigma, tr, fa1, fa2, n, rng):
    s1 = spgr_signal(pd_, r1, 0.0, flip_angle=fa1, tr=tr, te=(0.0,))[0]
    s2 = spgr_signal(pd_, r1, 0.0, flip_angle=fa2, tr=tr, te=(0.0,))[0]
    n1 = add_rician_noise(np.full(n, float(s1)), sigma, rng=rng)
    n2 = add_rician_noise(np.full(n, float(s2)), sigma, rng=rng)
    est = _r1_two_angle(n1, n2, fa1, fa2, tr)
    return 100 * float(np.std(est)) / r1


def report_flip_angle_noise(r1: float, *, amplitude: float = 100.0, sigma: float = 0.05, tr: float = 0.025,
                            protocol=(6.0, 21.0), fa_low=tuple(range(2, 21)),
                            fa_high=tuple(range(8, 61)), n_mc: int = 20000, seed: int = 2031,
                            tissue: str = "WM") -> Report:
    """Exercise: choose the two flip angles that give the least noisy R1.

    Parameters are those of :func:`r1_noise_grid`; ``protocol`` is the (PDw, T1w) pair of the
    chapter's MPM protocol, compared with the optimum; ``n_mc`` noisy repeats (Rician noise,
    :func:`qmrigenes.relaxometry.add_rician_noise`) check the error propagation at both pairs.

    Returns
    -------
    Report
        ``numbers``: ``ex-fa-ernst`` (Ernst angle, degrees), ``ex-fa-opt-lo`` / ``ex-fa-opt-hi``
        (optimal pair, degrees), ``ex-fa-cov-opt`` / ``ex-fa-cov-prot`` (SD of R1, percent of
        R1, by error propagation), ``ex-fa-mc-opt`` / ``ex-fa-mc-prot`` (the same by Monte
        Carlo), ``ex-fa-gain`` (protocol SD / optimal SD), ``ex-fa-bias-opt`` /
        ``ex-fa-bias-prot`` (small-angle bias, percent), ``ex-fa-sig-lo`` / ``ex-fa-sig-hi``
        (signal at the optimal angles in percent of the Ernst-angle maximum), ``ex-fa-prot-lo``,
        ``ex-fa-prot-hi``, ``ex-fa-r1``, ``ex-fa-tr-ms``, ``ex-fa-snr`` (A / sigma);
        ``figures``: ``ex-fig-fa``; ``data``: ``grid``.
    """
    grid = r1_noise_grid(r1, amplitude=amplitude, sigma=sigma, tr=tr, fa_low=fa_low, fa_high=fa_high)
    return present_flip_angle_noise(grid, r1, amplitude=amplitude, sigma=sigma, tr=tr, protocol=protocol,
                                    n_mc=n_mc, seed=seed, tissue=tissue)


def present_flip_angle_noise(grid: pd.DataFrame, r1: float, *, amplitude: float = 100.0, sigma: float = 0.05,
                             tr: float = 0.025, protocol=(6.0, 21.0), n_mc: int = 20000, seed: int = 2031,
                             tissue: str = "WM") -> Report:
    """What :func:`report_flip_angle_noise` returns, for a grid of
    :func:`qmrigenes.relaxometry.r1_noise_grid` (the chapter's visible cell computes it with the
    same ``r1``, ``amplitude``, ``sigma`` and ``tr``)."""
    r1, amplitude, sigma, tr = float(r1), float(amplitude), float(sigma), float(tr)
    opt = grid.loc[grid["r1_cov_pct"].idxmin()]
    a_lo, a_hi = (float(a) for a in protocol)
    prot = grid[(grid["fa_low"] == a_lo) & (grid["fa_high"] == a_hi)]
    if prot.empty:
        raise ValueError(f"protocol pair {protocol} is not on the grid")
    prot = prot.iloc[0]
    ernst = float(ernst_angle(r1, tr))
    s_max = float(spgr_signal(amplitude, r1, 0.0, flip_angle=ernst, tr=tr, te=(0.0,))[0])

    def sig(fa):
        return 100 * float(spgr_signal(amplitude, r1, 0.0, flip_angle=float(fa), tr=tr, te=(0.0,))[0]) / s_max

    rng = np.random.default_rng(seed)
    numbers = {
        "ex-fa-r1": float(r1), "ex-fa-tr-ms": 1000 * float(tr), "ex-fa-snr": float(amplitude / sigma),
        "ex-fa-ernst": ernst,
        "ex-fa-opt-lo": float(opt["fa_low"]), "ex-fa-opt-hi": float(opt["fa_high"]),
        "ex-fa-prot-lo": a_lo, "ex-fa-prot-hi": a_hi,
        "ex-fa-cov-opt": float(opt["r1_cov_pct"]), "ex-fa-cov-prot": float(prot["r1_cov_pct"]),
        "ex-fa-gain": float(prot["r1_cov_pct"] / opt["r1_cov_pct"]),
        "ex-fa-bias-opt": float(opt["r1_bias_pct"]), "ex-fa-bias-prot": float(prot["r1_bias_pct"]),
        "ex-fa-sig-lo": sig(opt["fa_low"]), "ex-fa-sig-hi": sig(opt["fa_high"]),
        "ex-fa-mc-opt": _monte_carlo_cov(r1, amplitude, sigma, tr, float(opt["fa_low"]), float(opt["fa_high"]),
                                         n_mc, rng),
        "ex-fa-mc-prot": _monte_carlo_cov(r1, amplitude, sigma, tr, a_lo, a_hi, n_mc, rng),
    }
    fig = figs.plot_flip_angle_noise(grid, optimum=(numbers["ex-fa-opt-lo"], numbers["ex-fa-opt-hi"]),
                                     protocol=(a_lo, a_hi), ernst=ernst, r1=r1, tr=tr, tissue=tissue,
                                     protocol_label="chapter's protocol")
    return Report(numbers=numbers, figures={"ex-fig-fa": fig}, data={"grid": grid})


# --------------------------------------------------------------------------- SPGR explorer
def report_spgr_explorer(tissue_table: pd.DataFrame, *, tissues=("cortical GM", "WM", "CSF"),
                         fig_id: str | None = "ch3-spgr-explorer") -> Report:
    """The interactive SPGR signal versus flip angle (TR slider, B1 dropdown, Ernst angles).

    Parameters
    ----------
    tissue_table : DataFrame
        :func:`qmrigenes.phantom.tissue_table` (columns ``R1`` in 1/s and ``PD`` in p.u.).
    tissues : sequence of str
        Rows of ``tissue_table`` to draw.

    Returns
    -------
    Report
        ``figures``: ``spgr-widget`` (interactive); ``numbers``: ``int-ernst-<tissue>-25ms``
        (Ernst angle at TR = 25 ms and B1 = 1, degrees; tissue lower-case with hyphens).
    """
    from .interactive import spgr_flip_angle_widget
    missing = [t for t in tissues if t not in tissue_table.index]
    if missing:
        raise ValueError(f"tissues not in the table: {missing}")
    r1 = {t: float(tissue_table.loc[t, "R1"]) for t in tissues}
    pd_ = {t: float(tissue_table.loc[t, "PD"]) for t in tissues}
    widget = spgr_flip_angle_widget(r1=r1, pd=pd_, fig_id=fig_id)
    numbers = {f"int-ernst-{t.lower().replace(' ', '-')}-25ms": float(ernst_angle(r1[t], 0.025))
               for t in tissues}
    return Report(numbers=numbers, figures={"spgr-widget": widget})
