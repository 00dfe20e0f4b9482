"""Loaders for the registered data files, returning tidy pandas objects.

Every loader fetches (and verifies) its files through :mod:`qmrigenes.fetch`
on first use, then reads the cached copy. Region names follow the
Desikan-Killiany (DK) FreeSurfer labels without hemisphere prefix
(``"bankssts"``, ``"superiorfrontal"``, ...).
"""
from __future__ import annotations

import functools
import re
import warnings
import zipfile
from typing import NamedTuple

import numpy as np
import pandas as pd

from .fetch import fetch, package_file

__all__ = [
    "DK_CORTICAL_REGIONS",
    "load_ahba_dk",
    "load_ahba_schaefer100",
    "load_schaefer100_regions",
    "load_schaefer100_fsaverage5",
    "split_schaefer_label",
    "SCHAEFER_NETWORKS",
    "load_celltype_panel",
    "celltype_gene_sets",
    "NSPNMT",
    "load_nspn_mt",
    "load_clinical_mpm",
    "clinical_mpm_readme",
    "CLINICAL_MPM_MT_SCALE",
    "load_dk_fsaverage5",
    "load_dk_conte69",
    "load_hcp_t1wt2w",
    "load_qsm_rois",
    "load_ahba_sample_annotations",
    "load_chi_separation",
    "load_enigma_ahba",
    "load_dk_region_stats",
    "load_package_table",
]

#: The 34 cortical DK regions per hemisphere, in FreeSurfer ``aparc`` order
#: (corpus callosum excluded).
DK_CORTICAL_REGIONS = (
    "bankssts", "caudalanteriorcingulate", "caudalmiddlefrontal", "cuneus",
    "entorhinal", "fusiform", "inferiorparietal", "inferiortemporal",
    "isthmuscingulate", "lateraloccipital", "lateralorbitofrontal", "lingual",
    "medialorbitofrontal", "middletemporal", "parahippocampal", "paracentral",
    "parsopercularis", "parsorbitalis", "parstriangularis", "pericalcarine",
    "postcentral", "posteriorcingulate", "precentral", "precuneus",
    "rostralanteriorcingulate", "rostralmiddlefrontal", "superiorfrontal",
    "superiorparietal", "superiortemporal", "supramarginal", "frontalpole",
    "temporalpole", "transversetemporal", "insula",
)
# FreeSurfer aparc colour-table order (1-35) used by ENIGMA's vertex files.
_APARC35 = DK_CORTICAL_REGIONS[:3] + ("corpuscallosum",) + DK_CORTICAL_REGIONS[3:]

#: The clinical MPM data README's factor for its MTsat: "the absolute values of
#: MT should be scaled by 220/500" (ratio of the MT-pulse flip angles of the
#: customised Weiskopf et al. 2013 sequence and the vendor sequence; README of
#: Cooper et al. 2020's data). Not applied by default anywhere in this package:
#: the stored MT is already close to customised-protocol MTsat (the book's
#: chapter 1, Table "MT scale"), so the factor is offered as a sensitivity option.
CLINICAL_MPM_MT_SCALE = 220 / 500


# --------------------------------------------------------------------------- AHBA in DK
def load_ahba_dk(*, hemisphere: str | None = None, structure: str | None = None) -> pd.DataFrame:
    """AHBA expression in the 83 DK regions of imaging-transcriptomics 1.1.8.

    Parameters
    ----------
    hemisphere : {"L", "R", "B"}, optional
        Keep one hemisphere (``"B"``: the brainstem row). Default: all.
    structure : {"cortex", "subcortex", "brainstem"}, optional
        Keep one structure class. Default: all.

    Returns
    -------
    pandas.DataFrame, shape (n_regions, 15633)
        Expression scaled 0-1 (abagen processing, Martins et al. 2021), with a
        row MultiIndex ``(hemisphere, structure, region)`` and one column per
        gene symbol (``columns.name == "gene"``). The full table has 83 rows:
        34 cortical + 7 subcortical regions per hemisphere and the brainstem.
    """
    if hemisphere is not None:
        _check_choice(hemisphere, ("L", "R", "B"), "hemisphere")
    if structure is not None:
        _check_choice(structure, ("cortex", "subcortex", "brainstem"), "structure")
    genes = _read_ahba_dk().copy()
    if hemisphere is not None:
        genes = genes.xs(hemisphere, level="hemisphere", drop_level=False)
    if structure is not None:
        genes = genes.xs(structure, level="structure", drop_level=False)
    return genes


def _derived(stem: str, files, parse, *args):
    """``parse(*args)``, parsed once and then read back from the data cache.

    :func:`qmrigenes.fetch.cached_derived` keyed (:func:`qmrigenes.fetch.derivation_key`) on the
    source code of ``parse``, the registered sha256 of ``files`` (the registered files ``parse``
    reads), the pandas, numpy and openpyxl versions and ``args``; without the source, ``parse``
    runs every time.
    """
    from .fetch import cached_derived, derivation_key

    parts = derivation_key(parse, files=files, packages=("pandas", "numpy", "openpyxl"), extra=[repr(args)])
    if parts is None:
        return parse(*args)
    return cached_derived(stem, parts, lambda: parse(*args))


@functools.lru_cache(maxsize=1)
def _read_ahba_dk() -> pd.DataFrame:
    """The verified AHBA table, parsed once (0.6 s) and then read from the data cache (callers get copies)."""
    return _derived("ahba-dk", ["ahba_dk_regions.csv", "ahba_dk_expression.csv"], _parse_ahba_dk)


def _parse_ahba_dk() -> pd.DataFrame:
    info = pd.read_csv(fetch("ahba_dk_regions.csv"), index_col=0)
    expr = pd.read_csv(fetch("ahba_dk_expression.csv"), encoding="utf-8-sig")
    if not np.array_equal(expr["label"].to_numpy(), info["id"].to_numpy()):
        raise ValueError("expression rows and region info are not in the same order")
    struct = info["structure"].where(info["structure"] == "cortex",
                                     np.where(info["label"] == "brainstem", "brainstem", "subcortex"))
    index = pd.MultiIndex.from_arrays(
        [info["hemisphere"].to_numpy(), struct.to_numpy(), info["label"].to_numpy()],
        names=["hemisphere", "structure", "region"])
    genes = expr.drop(columns=["label", "Region"])
    _check_unique(genes.columns, "gene symbols in the AHBA table")
    genes.index = index
    genes.columns.name = "gene"
    return genes.astype("float64")


# --------------------------------------------------------------------------- AHBA in Schaefer-100
#: The seven networks of the Schaefer-2018 7-network parcellations, in its label order.
SCHAEFER_NETWORKS = ("Vis", "SomMot", "DorsAttn", "SalVentAttn", "Limbic", "Cont", "Default")
_SCHAEFER_LABEL = re.compile(r"^(?:7Networks_)?(?P<hemi>LH|RH|L|R)_(?P<region>(?:%s)_[A-Za-z0-9_]+)$"
                             % "|".join(SCHAEFER_NETWORKS), re.I)


def split_schaefer_label(label: str) -> tuple[str, str] | None:
    """``"7Networks_LH_Vis_1"`` (or ``"LH_Vis_1"``) -> ``("L", "Vis_1")``; None for anything else.

    The region part keeps its spelling; matching is case-insensitive on the
    prefix and network (callers compare with :func:`load_schaefer100_regions`).
    """
    m = _SCHAEFER_LABEL.match(str(label).strip())
    if m is None:
        return None
    return m["hemi"].upper()[0], m["region"]


@functools.lru_cache(maxsize=1)
def load_schaefer100_regions() -> pd.DataFrame:
    """The 100 parcels of the Schaefer-2018 7-network parcellation, as in imaging-transcriptomics 1.1.15.

    Returns
    -------
    pandas.DataFrame, shape (100, 4)
        ``id`` (1-100: the value in the volume and the row of the expression
        table), ``label`` (``"7Networks_LH_Vis_1"``), ``hemisphere`` (``L``
        for ids 1-50, ``R`` for 51-100) and ``region`` (the label without
        ``7Networks_`` and hemisphere, e.g. ``"Vis_1"``). Schaefer et al.
        (2018) order: left then right, networks in :data:`SCHAEFER_NETWORKS` order.
    """
    info = pd.read_csv(fetch("schaefer100_regions.csv"))
    parts = [split_schaefer_label(x) for x in info["label"]]
    if any(p is None for p in parts) or len(info) != 100:
        raise ValueError("schaefer100_regions.csv: expected 100 '7Networks_LH|RH_<network>_<n>' labels")
    if [h for h, _ in parts] != list(info["hemisphere"]):
        raise ValueError("schaefer100_regions.csv: hemisphere column disagrees with the labels")
    info["region"] = [r for _, r in parts]
    return info[["id", "label", "hemisphere", "region"]].copy()


@functools.lru_cache(maxsize=1)
def _read_ahba_schaefer100() -> pd.DataFrame:
    """The verified Schaefer-100 AHBA table, parsed once (0.6 s: 100 x 15,633 values) and then
    read from the data cache (callers get copies)."""
    return _derived("ahba-schaefer100", ["schaefer100_regions.csv", "ahba_schaefer100_expression.csv"],
                    _parse_ahba_schaefer100)


def _parse_ahba_schaefer100() -> pd.DataFrame:
    info = load_schaefer100_regions()
    expr = pd.read_csv(fetch("ahba_schaefer100_expression.csv"), encoding="utf-8-sig")
    if not (np.array_equal(expr["label"].to_numpy(), info["id"].to_numpy())
            and np.array_equal(expr["Region"].to_numpy(), info["label"].to_numpy())):
        raise ValueError("ahba_schaefer100_expression.csv: rows are not the 100 parcels of the labels table in order")
    genes = expr.drop(columns=["label", "Region"])
    _check_unique(genes.columns, "gene symbols in the Schaefer-100 AHBA table")
    genes.index = pd.MultiIndex.from_arrays([info["hemisphere"], info["region"]], names=["hemisphere", "region"])
    genes.columns.name = "gene"
    return genes.astype("float64")


def load_ahba_schaefer100(*, dropna: bool = False) -> pd.DataFrame:
    """AHBA expression in the 100 Schaefer-2018 (7-network) parcels (imaging-transcriptomics 1.1.15).

    The table was made by imaging-transcriptomics with abagen from the six AHBA
    donors, like the DK table of :func:`load_ahba_dk` (15,633 genes, scaled
    0-1 per gene). One parcel, ``R SomMot_2`` (id 60), is all NaN in the
    published table (abagen leaves a parcel empty when no tissue sample is
    matched to it).

    Parameters
    ----------
    dropna : bool, optional
        Drop parcels without expression (the one above). Default False: all 100
        rows, NaN kept, so a caller can report what it drops.

    Returns
    -------
    pandas.DataFrame, shape (100, 15633) or (99, 15633)
        Rows MultiIndex ``(hemisphere, region)`` (``("L", "Vis_1")``; region
        names as in :func:`load_schaefer100_regions`), columns gene symbols.

    Examples
    --------
    >>> expr = load_ahba_schaefer100()                       # doctest: +SKIP
    >>> expr.index[expr.isna().all(axis=1)].tolist()         # doctest: +SKIP
    [('R', 'SomMot_2')]
    """
    expr = _read_ahba_schaefer100().copy()
    if dropna:
        expr = expr[expr.notna().any(axis=1)]
    return expr


def load_schaefer100_fsaverage5() -> pd.DataFrame:
    """Schaefer-100 labels per fsaverage5 vertex, both hemispheres (imaging-transcriptomics' annot files).

    Returns
    -------
    pandas.DataFrame, shape (20484, 4)
        ``hemisphere`` (``L`` then ``R``, 10,242 vertices each), ``vertex``
        (nilearn's fsaverage5 order), ``label`` (parcel id 1-100 of
        :func:`load_schaefer100_regions`, 0 on the medial wall) and ``region``
        (``"Vis_1"``..., ``"unknown"`` on the medial wall). Parcels are matched
        to ids by the names stored in the annot files, not by position.
    """
    import nibabel as nib

    info = load_schaefer100_regions()
    ids = dict(zip(info["label"], info["id"]))
    frames = []
    for hemi, name in (("L", "schaefer100_fsa5_lh.annot"), ("R", "schaefer100_fsa5_rh.annot")):
        codes, _, names = nib.freesurfer.read_annot(fetch(name))
        if codes.size != 10242:
            raise ValueError(f"{name}: expected 10,242 fsaverage5 vertices, found {codes.size}")
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
        lut = np.zeros(len(names), dtype=int)
        for k, n in enumerate(names):
            if n in ids:
                lut[k] = ids[n]
            elif k != 0 and split_schaefer_label(n) is not None:
                raise ValueError(f"{name}: parcel {n!r} is not in the Schaefer-100 labels table")
        label = np.where(codes >= 0, lut[np.clip(codes, 0, None)], 0)
        frames.append(pd.DataFrame({"hemisphere": hemi, "vertex": np.arange(codes.size), "label": label}))
    out = pd.concat(frames, ignore_index=True)
    region = dict(zip(info["id"], info["region"]))
    out["region"] = out["label"].map(region).fillna("unknown")
    return out


# --------------------------------------------------------------------------- cell types
def load_celltype_panel() -> pd.DataFrame:
    """The Shin et al. (2018) cell-type gene panel and its reference background.

    Returns
    -------
    pandas.DataFrame, shape (2511, 3)
        Index ``gene`` (the 2,511 background genes). Columns ``cell_type``
        (one of 9 Zeisel 2015 types, or NaN for background-only genes),
        ``donor_consistency`` and ``brainspan_consistency`` (the two-stage
        filter's correlations).
    """
    panel = pd.read_csv(fetch("celltype_reference_panel.tsv"), sep="\t")
    panel = panel.rename(columns={
        "GeneSymbol": "gene", "CellType": "cell_type",
        "Allen.Average.donor.correlation.to.median": "donor_consistency",
        "Allen.vs.Brainspan.correlation": "brainspan_consistency",
    }).set_index("gene")
    _check_unique(panel.index, "genes in the cell-type panel")
    # cross-check against the Stage 2 lists (which spell "CA1 Pyramidal" with a space)
    stage2 = pd.read_csv(fetch("celltype_stage2_lists.csv")).set_index("gene_symbol")["cell_type"]
    stage2 = stage2.str.replace(" ", ".").rename("cell_type").rename_axis("gene").sort_index()
    if not panel["cell_type"].dropna().sort_index().equals(stage2):
        raise ValueError("the panel's cell types disagree with the Stage 2 lists")
    return panel


def celltype_gene_sets(panel: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Gene sets per cell type, ``{cell_type: [genes]}`` in alphabetical order."""
    if panel is None:
        panel = load_celltype_panel()
    if not isinstance(panel, pd.DataFrame) or "cell_type" not in panel.columns:
        raise TypeError(f"panel must be the DataFrame of load_celltype_panel() (a cell_type column), "
                        f"got {type(panel).__name__}")
    _check_unique(panel.index, "genes in the panel (panel.index)")
    annotated = panel["cell_type"].dropna()
    return {ct: sorted(g.index) for ct, g in annotated.groupby(annotated, sort=True)}


# --------------------------------------------------------------------------- NSPN MT
class NSPNMT(NamedTuple):
    """NSPN magnetisation transfer at 50% cortical depth.

    Attributes
    ----------
    values : pandas.DataFrame, shape (297, 308)
        MT (MPM MTsat, p.u. after the default ``scale``) per subject (index
        ``nspn_id``) and sub-parcel.
    subjects : pandas.DataFrame, shape (297, 3)
        ``age`` (years), ``sex`` and ``site`` per subject.
    parcels : pandas.DataFrame, shape (308, 3)
        Per sub-parcel (index ``parcel``, e.g. ``lh_bankssts_part1``): its
        ``hemisphere`` (``L``/``R``), DK ``region`` and ``part`` number.
    """

    values: pd.DataFrame
    subjects: pd.DataFrame
    parcels: pd.DataFrame


def load_nspn_mt(*, scale: float = 1e-3, path=None) -> NSPNMT:
    """NSPN MT at 50% cortical depth: 297 subjects x 308 sub-parcels (500.aparc).

    The source's region columns end in ``_thickness`` but hold MT (data
    description of the NSPN repository); the two ``unknown`` parcels are
    dropped, leaving the 308 cortical sub-parcels of Whitaker et al. (2016).

    Parameters
    ----------
    scale : float, optional
        Factor applied to the stored values. The file stores MT in thousandths
        (cortical values around 800); the default 1e-3 gives p.u. (around 0.8,
        the usual range of cortical MTsat). The scale is inferred from the value
        range, not documented in the source; correlations do not depend on it.
    path : str or path-like, optional
        Another ``PARC_500aparc_MT_*_mean_behavmerge.csv`` of the NSPN
        repository (another cortical depth, or a distance from the grey/white
        boundary such as ``projdist-200_fromBoundary``, 2 mm into white
        matter), read the same way. Default: the registry's 50%-depth file.
    """
    from pathlib import Path

    from ._validate import check_scalar

    scale = check_scalar(scale, "scale", min=0, min_inclusive=False)
    if path is not None and not Path(path).is_file():
        raise FileNotFoundError(f"path: no NSPN MT file at {path}")
    raw = pd.read_csv(fetch("nspn_mt_projfrac050.csv") if path is None else path)
    if "nspn_id" not in raw.columns:
        raise ValueError(f"path: {path} is not an NSPN MT table (no 'nspn_id' column)")
    cols = [c for c in raw.columns if c.endswith("_thickness") and "_unknown_" not in c]
    names = [c.removesuffix("_thickness") for c in cols]
    values = (raw[cols] * scale).set_axis(names, axis=1).set_index(raw["nspn_id"])
    values.columns.name = "parcel"
    subjects = pd.DataFrame({"age": raw["age_scan"].to_numpy(), "sex": raw["sex"].to_numpy(),
                             "site": raw["centre"].to_numpy()}, index=values.index)
    parts = [re.fullmatch(r"(lh|rh)_(\w+)_part(\d+)", n) for n in names]
    if any(p is None for p in parts):
        raise ValueError("unexpected NSPN parcel names")
    parcels = pd.DataFrame({
        "hemisphere": ["L" if p[1] == "lh" else "R" for p in parts],
        "region": [p[2] for p in parts], "part": [int(p[3]) for p in parts],
    }, index=pd.Index(names, name="parcel"))
    return NSPNMT(values, subjects, parcels)


# --------------------------------------------------------------------------- clinical MPM
def load_clinical_mpm() -> pd.DataFrame:
    """Clinical MPM (Cooper et al. 2020), B1-corrected regional means.

    Returns
    -------
    pandas.DataFrame, shape (4320, 5)
        Long table with columns ``subject`` (``Sub-01``..``Sub-06``),
        ``repeat`` (1-3), ``parameter`` (``MT`` in p.u. as stored, i.e.
        vendor-sequence MTsat; the README's factor to the customised sequence
        is :data:`CLINICAL_MPM_MT_SCALE`; ``PD`` in p.u.; ``R1`` in 1/s;
        ``R2*`` in 1/s), ``region`` (one of 60 bilateral Neuromorphometrics regions)
        and ``value``.
    """
    wide = pd.read_csv(fetch("clinicalmpm_mean_b1.csv"))
    long = wide.melt(id_vars=["Subject", "Repetition", "Parameter"], var_name="region", value_name="value")
    long = long.rename(columns={"Subject": "subject", "Repetition": "repeat", "Parameter": "parameter"})
    return long[["subject", "repeat", "parameter", "region", "value"]]


def clinical_mpm_readme() -> str:
    """The README of the clinical MPM data archive (data dictionary, MT scaling)."""
    with zipfile.ZipFile(fetch("clinicalmpm_data.zip")) as zf:
        return zf.read("clinical_mpm_data/README.md").decode("utf-8")


# --------------------------------------------------------------------------- surfaces
def _enigma_labels(name: str, n_per_hemi: int) -> pd.DataFrame:
    codes = pd.read_csv(fetch(name), header=None)[0].to_numpy()
    if codes.size != 2 * n_per_hemi:
        raise ValueError(f"{name}: expected {2 * n_per_hemi} vertices, found {codes.size}")
    hemi = np.repeat(["L", "R"], n_per_hemi)
    local = np.where(codes > 35, codes - 35, codes)
    names = np.array(("unknown",) + _APARC35, dtype=object)[local]
    return pd.DataFrame({"hemisphere": hemi, "vertex": np.tile(np.arange(n_per_hemi), 2),
                         "label": codes, "region": names})


def load_dk_fsaverage5() -> pd.DataFrame:
    """DK labels per fsaverage5 vertex, both hemispheres (ENIGMA toolbox).

    Returns
    -------
    pandas.DataFrame, shape (20484, 4)
        ``hemisphere`` (``L`` then ``R``, 10,242 vertices each), ``vertex``
        (0-10241 within the hemisphere, nilearn's fsaverage5 order),
        ``label`` (ENIGMA code: 1-35 left, 36-70 right, 0 medial wall) and
        ``region`` (DK name, ``"corpuscallosum"`` or ``"unknown"``).
    """
    return _enigma_labels("enigma_aparc_fsa5.csv", 10242)


def load_dk_conte69() -> pd.DataFrame:
    """DK labels per conte69 32k vertex (64,984 = 32,492 per hemisphere); as :func:`load_dk_fsaverage5`."""
    return _enigma_labels("enigma_aparc_conte69.csv", 32492)


def load_hcp_t1wt2w() -> pd.Series:
    """HCP group-average T1w/T2w ratio per conte69 vertex (BrainSpace 0.3.0).

    Returns
    -------
    pandas.Series, shape (64984,)
        Unitless T1w/T2w ratio, left then right hemisphere; 0 on the medial wall.
    """
    values = np.loadtxt(fetch("hcp_t1wt2w_conte69.csv"))
    return pd.Series(values, name="t1wt2w")


# --------------------------------------------------------------------------- QSM / AHBA samples
def load_qsm_rois() -> pd.DataFrame:
    """The 34 QSM atlas ROIs of Cohen et al. (2024) matched to AHBA structures.

    Returns
    -------
    pandas.DataFrame
        One row per (ROI, AHBA structure) pair: ``roi_id`` (QSM atlas
        label), ``roi`` (atlas ROI name), ``hemisphere`` (``L``/``R``) and
        ``ahba_structure`` (AHBA ``structure_name``). 34 distinct ROIs.
    """
    raw = pd.read_excel(fetch("qsm_roi_labels.xlsx"), header=None)
    rows = []
    for _, r in raw.iterrows():
        roi = str(r[1]).strip()
        hemi = "L" if (roi.startswith("Left") or roi.endswith("_L")) else "R"
        for s in r.iloc[2:].dropna():
            rows.append({"roi_id": int(r[0]), "roi": roi, "hemisphere": hemi, "ahba_structure": str(s).strip()})
    return pd.DataFrame(rows)


def _parse_sample_annotation(name: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Unknown extension", category=UserWarning)
        return pd.read_excel(fetch(name))


def _read_sample_annotation(donor: int) -> pd.DataFrame:
    """One donor's annotation spreadsheet, parsed once (openpyxl: about 0.1 s a file) and then
    read back from the data cache (:func:`_derived`)."""
    name = f"ahba_sampleannot_donor{donor}.xlsx"
    return _derived(f"ahba-sampleannot-donor{donor}", [name], _parse_sample_annotation, name)


def load_ahba_sample_annotations(donors=range(1, 7)) -> pd.DataFrame:
    """AHBA tissue-sample annotations (``SampleAnnot.csv``) of the six donors.

    Parameters
    ----------
    donors : iterable of int, optional
        Donor numbers 1-6 in Cohen et al.'s order. Default: all six.

    Returns
    -------
    pandas.DataFrame
        One row per tissue sample: ``donor`` plus the Allen columns
        (``structure_id``, ``structure_acronym``, ``structure_name``,
        ``mni_x``/``mni_y``/``mni_z`` in mm, ...).
    """
    from ._validate import check_int

    if isinstance(donors, (str, bytes)) or not hasattr(donors, "__iter__"):
        raise TypeError(f"donors must be an iterable of donor numbers 1-6, got {type(donors).__name__} "
                        f"{donors!r} (write [{donors!r}])")
    donors = [check_int(d, "donors (donor number)", min=1, max=6) for d in donors]
    if not donors:
        raise ValueError("donors is empty; give donor numbers 1-6")
    _check_unique(donors, "donors (each donor's samples would be counted twice)")
    frames = []
    for d in donors:
        frames.append(_read_sample_annotation(d).assign(donor=d))
    out = pd.concat(frames, ignore_index=True)
    return out[["donor"] + [c for c in out.columns if c != "donor"]]


def load_chi_separation() -> pd.DataFrame:
    """Normative chi-separation ROI statistics (Min et al. 2024; n = 106).

    Academic research use only (see the atlas's LICENSE.pdf).

    Returns
    -------
    pandas.DataFrame, shape (26, 4)
        Index ``roi``; columns ``para_mean``, ``para_sd`` (paramagnetic
        susceptibility, ppb, positive) and ``dia_mean``, ``dia_sd``
        (diamagnetic susceptibility, ppb, stored negative).
    """
    para = pd.read_csv(fetch("chisep_para_roi_stats.csv")).set_index("ROI_name")
    dia = pd.read_csv(fetch("chisep_dia_roi_stats.csv")).set_index("ROI_name")
    if not para.index.equals(dia.index):
        raise ValueError("chi-separation para and dia tables list different ROIs")
    out = pd.DataFrame({"para_mean": para["Mean"], "para_sd": para["SD"],
                        "dia_mean": dia["Mean"], "dia_sd": dia["SD"]})
    out.index.name = "roi"
    return out


def load_enigma_ahba() -> pd.DataFrame:
    """ENIGMA toolbox AHBA table: 82 regions x 1,645 stable genes (r > 0.6).

    Returns
    -------
    pandas.DataFrame, shape (82, 1645)
        Index ``region`` as in the source (``L_bankssts`` ..., ``Lthal`` ...).
    """
    table = pd.read_csv(fetch("enigma_ahba_stable_r06.csv")).set_index("label")
    table.index.name = "region"
    table.columns.name = "gene"
    _check_unique(table.columns, "gene symbols in the ENIGMA AHBA table")
    return table


def load_dk_region_stats() -> pd.DataFrame:
    """AHBA samples and donors per DK region (French & Paus 2015 mapping)."""
    table = pd.read_csv(fetch("french_paus_dk_region_stats.tsv"), sep="\t", index_col=0)
    return table.rename(columns={"FreeSurferShortName": "region", "Hemisphere": "hemisphere",
                                 "SamplesInRegion": "n_samples", "BrainsWithSamples": "n_donors"})


def load_package_table(name: str, **read_csv) -> pd.DataFrame:
    """A table the package ships (crosswalks, literature values) as a DataFrame.

    Parameters
    ----------
    name : str
        Path under the package's ``data`` folder, e.g. ``"crosswalks/deep_grey_structures.csv"``,
        ``"literature/deep_grey_susceptibility.csv"`` (see :func:`qmrigenes.fetch.package_file`).
    **read_csv
        Passed to :func:`pandas.read_csv` (``dtype``, ``keep_default_na``, ...).

    Returns
    -------
    pandas.DataFrame
        The table as committed, one row per line of the file.

    Examples
    --------
    >>> from qmrigenes.datasets import load_package_table
    >>> load_package_table("crosswalks/deep_grey_structures.csv")["structure"].iloc[0]
    'thalamus'
    """
    return pd.read_csv(package_file(name), **read_csv)


# --------------------------------------------------------------------------- helpers
def _check_unique(index, what: str) -> None:
    dup = pd.Index(index)[pd.Index(index).duplicated()]
    if len(dup):
        raise ValueError(f"duplicated {what}: {sorted(set(dup))[:10]}")


def _check_choice(value, choices, name) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")

