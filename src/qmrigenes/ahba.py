"""AHBA donor data matched to the 34 deep-grey QSM ROIs of Cohen et al. (2024).

This module implements, in pandas/numpy, the gene-expression half of the
pipeline of Cohen et al. (2024) (MATLAB code: LiuCLab/qsm-gene-analysis,
``getAllExpressionDG.m``, ``matchSamplesDG.m``, ``normalizeExpression.m``):

1. :func:`read_donor` / :func:`read_donors` read the Allen donor-folder format
   (``MicroarrayExpression.csv``, ``PACall.csv``, ``Probes.csv``,
   ``SampleAnnot.csv``) from a user path (argument or ``QMRIGENES_AHBA_DIR``);
2. :func:`filter_probes` keeps probes expressed above background in at least
   50% of all samples (abagen's ``lower_bound``/intensity-based filter,
   Arnatkeviciute et al. 2019);
3. :func:`select_probes_ds` keeps one probe per gene, the one with the highest
   differential stability (Hawrylycz et al. 2015; abagen's
   ``probe_selection="diff_stability"``: mean Spearman correlation, over donor
   pairs, of the probe's structure-averaged expression);
4. :func:`match_samples` assigns samples to ROIs by structure *name* as
   ``matchSamplesDG`` does: samples of one AHBA structure are averaged, then the
   structures of an ROI are averaged;
5. :func:`zscore_rois` z-scores each gene across the donor's matched ROIs and
   :func:`average_donors` averages the z-scores over the donors that sampled
   each ROI.

abagen 0.1.3 (the version that ships the registered DK atlas) predates its
pandas-2 fixes, so it is not imported; the functions cite the abagen method
they follow. Synthetic donor folders in the real format
(:func:`write_synthetic_donors`) and a simulator that keeps the real AHBA
sampling of the 34 ROIs (:func:`simulate_roi_expression`) make the pipeline
testable without the multi-gigabyte download.
"""
from __future__ import annotations

import itertools
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._validate import (as_array, check_choice, check_frame, check_gene_sets, check_genes, check_int, check_scalar,
                        check_seed, check_unique, describe)
from .stats.standardize import zscore

__all__ = [
    "AHBA_DONORS",
    "AHBA_ENV",
    "IRON_GENES",
    "MYELIN_GENES",
    "DonorData",
    "resolve_ahba_dir",
    "read_donor",
    "read_donors",
    "filter_probes",
    "select_probes_ds",
    "roi_structure_table",
    "check_roi_names",
    "match_samples",
    "matching_report",
    "zscore_rois",
    "average_donors",
    "RoiExpression",
    "expression_by_roi",
    "ahba_qsm_expression",
    "write_synthetic_donors",
    "roi_sampling",
    "roi_pairs",
    "simulate_qsm",
    "SimulatedDesign",
    "simulate_roi_expression",
    "load_crosswalk",
    "deep_grey_expression",
    "cortex_expression",
    "gene_set_expression",
]

#: Allen donor folders (``normalized_microarray_donor<ID>``) in the order of the
#: paper's ``SampleAnnot1..6`` (H0351.2001, .2002, .1009, .1012, .1015, .1016;
#: the sample counts 946, 893, 363, 529, 470, 501 identify them).
AHBA_DONORS = ("9861", "10021", "12876", "14380", "15496", "15697")
#: Environment variable naming the folder that holds the six donor folders.
AHBA_ENV = "QMRIGENES_AHBA_DIR"

#: Iron homeostasis genes of Cohen et al. (2024), Fig. 4 order.
IRON_GENES = ("TF", "TFRC", "SLC40A1", "FTH1", "FTL", "SLC11A2")
#: The 17 myelination genes of Cohen et al. (2024) (Sec. 3.2, after Chavarria-Siles et al. 2015).
MYELIN_GENES = ("CLDN11", "GAL3ST1", "MAG", "OMG", "MBP", "CNP", "ILK", "MAL", "PLLP", "NRG1",
                "EIF2AK3", "KLK6", "PLP1", "POU3F1", "OLIG2", "MOBP", "MOG")

_FILES = ("MicroarrayExpression.csv", "PACall.csv", "Probes.csv", "SampleAnnot.csv")
_ANNOT_COLUMNS = ("structure_id", "slab_num", "well_id", "slab_type", "structure_acronym",
                  "structure_name", "polygon_id", "mri_voxel_x", "mri_voxel_y", "mri_voxel_z",
                  "mni_x", "mni_y", "mni_z")
_PROBE_COLUMNS = ("probe_id", "probe_name", "gene_id", "gene_symbol", "gene_name", "entrez_id",
                  "chromosome")


def _check_donor_map(donors, name: str = "donors", kind=None) -> list:
    if not isinstance(donors, Mapping) or not donors:
        raise TypeError(f"{name} must be a non-empty mapping {{donor ID: data}}, got {describe(donors)}")
    if kind is not None:
        for k, v in donors.items():
            if not isinstance(v, kind):
                raise TypeError(f"{name}[{k!r}] must be a {kind.__name__}, got {describe(v)}")
    return list(donors.values())


def _check_table(table):
    if table is None:
        return roi_structure_table()
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a DataFrame from roi_structure_table(), got {describe(table)}")
    need = {"roi_id", "hemisphere"}
    if not need <= set(table.columns):
        raise ValueError(f"table must have columns {sorted(need)} (from roi_structure_table()), "
                         f"has {list(table.columns)}")
    check_unique(table.index, "table.index (ROI names)")
    return table


def _check_annotations(annotations, name: str = "annotations", cols=("donor", "structure_name")):
    if not isinstance(annotations, pd.DataFrame):
        raise TypeError(f"{name} must be a DataFrame of sample annotations, got {describe(annotations)}")
    missing = [c for c in cols if c not in annotations.columns]
    if missing:
        raise ValueError(f"{name} must have columns {list(cols)}, lacks {missing}")


# --------------------------------------------------------------------------- reading
class DonorData(NamedTuple):
    """One AHBA donor.

    Attributes
    ----------
    expression : pandas.DataFrame, shape (n_probes, n_samples)
        log2 microarray expression; index ``probe_id``, columns sample
        positions 0..n_samples-1 (the row order of ``annotation``).
    pacall : pandas.DataFrame, shape (n_probes, n_samples)
        1 if the probe is expressed above background in the sample, else 0.
    probes : pandas.DataFrame, shape (n_probes, k)
        ``Probes.csv``, index ``probe_id`` (``gene_symbol`` is used).
    annotation : pandas.DataFrame, shape (n_samples, 13)
        ``SampleAnnot.csv`` (``structure_id``, ``structure_name``, MNI, ...).
    """

    expression: pd.DataFrame
    pacall: pd.DataFrame
    probes: pd.DataFrame
    annotation: pd.DataFrame


def resolve_ahba_dir(path=None) -> Path:
    """The folder with the AHBA donor folders: ``path`` or ``$QMRIGENES_AHBA_DIR``.

    Raises
    ------
    FileNotFoundError
        Neither is given, or the folder does not exist.
    """
    if path is None:
        path = os.environ.get(AHBA_ENV)
        if not path:
            raise FileNotFoundError(
                f"no AHBA folder given: pass path=... or set {AHBA_ENV} to the folder holding the "
                "normalized_microarray_donor* folders (download from the Allen Human Brain Atlas)")
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(f"AHBA folder {path} does not exist")
    return path


def read_donor(folder) -> DonorData:
    """Read one Allen donor folder (the four CSV files; no header in the two matrices).

    Parameters
    ----------
    folder : path-like
        Folder holding ``MicroarrayExpression.csv``, ``PACall.csv``,
        ``Probes.csv`` and ``SampleAnnot.csv``.

    Returns
    -------
    DonorData

    Raises
    ------
    FileNotFoundError
        A file is missing.
    ValueError
        The matrices disagree with the probe list or the sample annotation.
    """
    folder = Path(folder)
    missing = [f for f in _FILES if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder}: missing {missing}")
    probes = pd.read_csv(folder / "Probes.csv").set_index("probe_id")
    annot = pd.read_csv(folder / "SampleAnnot.csv")
    if "structure_name" not in annot.columns:
        raise ValueError(f"{folder}/SampleAnnot.csv has no structure_name column")
    matrices = []
    for name in ("MicroarrayExpression.csv", "PACall.csv"):
        m = pd.read_csv(folder / name, header=None, index_col=0)
        m.index.name = "probe_id"
        m.columns = pd.RangeIndex(m.shape[1], name="sample")
        if not m.index.equals(probes.index):
            raise ValueError(f"{folder}/{name}: probe ids differ from Probes.csv")
        if m.shape[1] != len(annot):
            raise ValueError(f"{folder}/{name}: {m.shape[1]} samples but SampleAnnot.csv lists {len(annot)}")
        matrices.append(m)
    return DonorData(matrices[0].astype(float), matrices[1].astype(int), probes, annot)


def read_donors(path=None, *, donors: Sequence[str] | None = None) -> dict[str, DonorData]:
    """Read the donor folders under ``path`` (or ``$QMRIGENES_AHBA_DIR``).

    Parameters
    ----------
    path : path-like, optional
        Folder holding ``normalized_microarray_donor<ID>`` folders.
    donors : sequence of str, optional
        Donor IDs to read. Default: :data:`AHBA_DONORS` if all are present,
        otherwise every ``normalized_microarray_donor*`` folder (sorted).

    Returns
    -------
    dict of str to DonorData
        Keyed by donor ID, in the paper's donor order where it applies.
    """
    if isinstance(donors, (str, bytes)):
        raise TypeError(f"donors must be a list of donor IDs, got a bare string {donors!r} (write [{donors!r}])")
    if donors is not None:
        donors = [str(d) for d in donors]
        check_unique(donors, "donors")
    root = resolve_ahba_dir(path)
    found = {p.name.removeprefix("normalized_microarray_donor"): p
             for p in root.glob("normalized_microarray_donor*") if p.is_dir()}
    if donors is None:
        donors = [d for d in AHBA_DONORS if d in found] if set(AHBA_DONORS) <= set(found) \
            else sorted(found, key=lambda s: (len(s), s))
    absent = [d for d in donors if d not in found]
    if absent or not donors:
        raise FileNotFoundError(f"{root}: no donor folder for {absent or 'any donor'}")
    return {d: read_donor(found[d]) for d in donors}


# --------------------------------------------------------------------------- probes
def filter_probes(donors: Mapping[str, DonorData], *, threshold: float = 0.5) -> pd.Index:
    """Probes expressed above background in at least ``threshold`` of all samples.

    Pools the PA calls of all donors (Arnatkeviciute et al. 2019; abagen's
    intensity-based filter with ``ibf_threshold=0.5``). Probes without a gene
    symbol are dropped too.

    Returns
    -------
    pandas.Index
        The kept ``probe_id`` values, in ``Probes.csv`` order.
    """
    threshold = check_scalar(threshold, "threshold", min=0, max=1)
    donors = _check_donor_map(donors, kind=DonorData)
    probes = donors[0].probes
    for d in donors[1:]:
        if not d.probes.index.equals(probes.index):
            raise ValueError("donors list different probes")
    above = sum(d.pacall.to_numpy().sum(axis=1) for d in donors)
    n = sum(d.pacall.shape[1] for d in donors)
    has_gene = probes["gene_symbol"].notna().to_numpy() & (probes["gene_symbol"].astype(str) != "")
    keep = (above / n >= threshold) & has_gene
    return probes.index[keep]


def _structure_means(d: DonorData, probe_ids) -> pd.DataFrame:
    expr = d.expression.loc[probe_ids].to_numpy()
    sid = d.annotation["structure_id"].to_numpy()
    codes, uniq = pd.factorize(sid, sort=True)
    sums = np.zeros((expr.shape[0], len(uniq)))
    np.add.at(sums.T, codes, expr.T)
    counts = np.bincount(codes, minlength=len(uniq))
    return pd.DataFrame(sums / counts, index=probe_ids, columns=uniq)


def _rank_rows(a: np.ndarray) -> np.ndarray:
    return pd.DataFrame(a).rank(axis=1).to_numpy()


def select_probes_ds(donors: Mapping[str, DonorData], probe_ids) -> pd.Series:
    """One probe per gene by differential stability (DS).

    For each probe and each donor pair, the Spearman correlation of the
    probe's structure-averaged expression over the AHBA structures both donors
    sampled; DS is the mean over pairs, and each gene keeps its highest-DS
    probe (Hawrylycz et al. 2015; abagen ``probe_selection="diff_stability"``).

    Parameters
    ----------
    donors : mapping of str to DonorData
        At least two donors.
    probe_ids : sequence
        Probes to choose from (e.g. the output of :func:`filter_probes`).

    Returns
    -------
    pandas.Series
        Index: gene symbol (sorted); values: the chosen ``probe_id``. The
        series' ``attrs["ds"]`` holds the DS of every candidate probe.
    """
    donors = _check_donor_map(donors, kind=DonorData)
    if len(donors) < 2:
        raise ValueError(f"donors must hold at least two donors for differential stability, got {len(donors)}")
    if isinstance(probe_ids, (str, bytes, int, np.integer)):
        raise TypeError(f"probe_ids must be a sequence of probe IDs, got {describe(probe_ids)}")
    probe_ids = pd.Index(probe_ids)
    if probe_ids.empty:
        raise ValueError("probe_ids is empty")
    check_unique(probe_ids, "probe_ids")
    absent = probe_ids.difference(donors[0].probes.index)
    if len(absent):
        raise ValueError(f"probe_ids not in Probes.csv: {list(absent)[:10]}")
    means = [_structure_means(d, probe_ids) for d in donors]
    ds = np.zeros(len(probe_ids))
    pairs = list(itertools.combinations(range(len(donors)), 2))
    for i, j in pairs:
        shared = means[i].columns.intersection(means[j].columns)
        if len(shared) < 3:
            raise ValueError(f"donors {i} and {j} share fewer than 3 structures")
        a = _rank_rows(means[i][shared].to_numpy())
        b = _rank_rows(means[j][shared].to_numpy())
        a -= a.mean(axis=1, keepdims=True)
        b -= b.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (a * b).sum(axis=1) / np.sqrt((a ** 2).sum(axis=1) * (b ** 2).sum(axis=1))
        ds += np.nan_to_num(r, nan=-1.0)
    ds = pd.Series(ds / len(pairs), index=probe_ids, name="ds")
    genes = donors[0].probes.loc[probe_ids, "gene_symbol"].astype(str)
    best = ds.groupby(genes.to_numpy()).idxmax().rename("probe_id")
    best.index.name = "gene"
    best.attrs["ds"] = ds
    return best


# --------------------------------------------------------------------------- ROI matching
def roi_structure_table(rois: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ROI table as in ``ROI_labels.xlsx``: one row per ROI, structures in columns.

    Parameters
    ----------
    rois : pandas.DataFrame, optional
        Long table as from :func:`qmrigenes.datasets.load_qsm_rois`. Default: load it.

    Returns
    -------
    pandas.DataFrame, shape (n_rois, 2 + k)
        Index ``roi`` (file order); columns ``roi_id``, ``hemisphere`` and
        ``structure_1..k`` (NaN where an ROI has fewer structures).
    """
    if rois is None:
        from .datasets import load_qsm_rois
        rois = load_qsm_rois()
    if not isinstance(rois, pd.DataFrame):
        raise TypeError(f"rois must be a DataFrame as from load_qsm_rois(), got {describe(rois)}")
    need = {"roi_id", "roi", "hemisphere", "ahba_structure"}
    if not need <= set(rois.columns):
        raise ValueError(f"ROI table needs columns {sorted(need)}")
    order = pd.unique(rois["roi"])
    rows = []
    for roi in order:
        sub = rois[rois["roi"] == roi]
        row = {"roi": roi, "roi_id": sub["roi_id"].iloc[0], "hemisphere": sub["hemisphere"].iloc[0]}
        row.update({f"structure_{k + 1}": s for k, s in enumerate(sub["ahba_structure"])})
        rows.append(row)
    return pd.DataFrame(rows).set_index("roi")


def check_roi_names(names, table: pd.DataFrame) -> None:
    """Raise ValueError naming every entry of ``names`` that is not an ROI of ``table``."""
    if isinstance(names, (str, bytes)):
        raise TypeError(f"names must be a list of ROI names, got a bare string {names!r} (write [{names!r}])")
    unknown = [n for n in names if n not in table.index]
    if unknown:
        raise ValueError(f"ROI names not in the ROI table: {unknown}")


def _sample_mask(names: pd.Series, pattern: str, method: str) -> np.ndarray:
    """Samples whose structure name matches ``pattern`` (names are str).

    Plain Python string tests over the names (the same answers as pandas' ``str``
    methods, which cost about 1 ms a call here; this is called per structure,
    donor and ROI).
    """
    values = names.tolist()
    if method == "exact":
        hits = (n == pattern for n in values)
    elif method == "prefix":   # the structure itself or its named divisions ("..., left, ventral division")
        prefix = pattern + ","
        hits = (n == pattern or n.startswith(prefix) for n in values)
    else:                      # "published": MATLAB strfind, a case-sensitive substring
        hits = (pattern in n for n in values)
    return np.fromiter(hits, dtype=bool, count=len(values))


def _sample_matcher(names: pd.Series, method: str):
    """``pattern -> _sample_mask(names, pattern, method)``, each distinct name tested once.

    A donor's samples share a few dozen structure names (about ten samples a name), and a
    table's ROIs test the same names against many patterns: the names are factorised once and
    each pattern's answer for the distinct names is spread back to the samples (the same
    string tests on the same names, so the same masks).
    """
    codes, uniques = pd.factorize(pd.Series(names, dtype=object).reset_index(drop=True), sort=False)
    uniques = pd.Series(np.asarray(uniques, dtype=object))
    known: dict[str, np.ndarray] = {}

    def mask(pattern: str) -> np.ndarray:
        if pattern not in known:
            known[pattern] = _sample_mask(uniques, pattern, method)[codes]
        return known[pattern]

    return mask


def _roi_patterns(table: pd.DataFrame, method: str) -> dict[str, list[str]]:
    structs = table[[c for c in table.columns if c.startswith("structure_")]]
    out = {}
    for roi, row in structs.iterrows():
        values = [s for s in row.tolist() if isinstance(s, str)]
        if method == "published":
            # matchSamplesDG reads columns 2:8 of ROI_labels.xlsx (ROI name + 6 structures)
            # but loops j = 1:6, so it searches the ROI name and the first five structures.
            values = ([roi] + values)[:6]
        out[roi] = values
    return out


def match_samples(expression: pd.DataFrame, annotation: pd.DataFrame, *, table: pd.DataFrame | None = None,
                  method: str = "prefix", donor: str = "donor") -> pd.DataFrame:
    """Average one donor's samples into the QSM ROIs by structure name (``matchSamplesDG``).

    Samples of each listed AHBA structure are averaged; the ROI value is the
    mean over its structures that have samples. ROIs without samples are
    left out (as in the MATLAB code).

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_genes, n_samples)
        Expression, columns in the row order of ``annotation``.
    annotation : pandas.DataFrame, shape (n_samples, k)
        Must contain ``structure_name``.
    table : pandas.DataFrame, optional
        Output of :func:`roi_structure_table`. Default: the paper's 34 ROIs.
    method : {"prefix", "exact", "published"}, optional
        ``"exact"``: equal names only. ``"prefix"`` (default): the structure or
        its divisions (``"lateral group of nuclei, left, ventral division"``),
        all listed structures. ``"published"``: as ``matchSamplesDG`` runs:
        case-sensitive substring matching (so ``"lateral nucleus"`` also
        matches ``"basolateral nucleus"``), searching the ROI name and only the
        first five structures of each row.
    donor : str, optional
        Donor label used in error messages.

    Returns
    -------
    pandas.DataFrame, shape (n_genes, n_matched_rois)
        Columns: matched ROI names in table order.

    Raises
    ------
    ValueError
        Shapes disagree, the method is unknown, or no sample matches any ROI.
    """
    check_choice(method, "method", ["prefix", "exact", "published"])
    if not isinstance(expression, pd.DataFrame):
        raise TypeError(f"expression must be a DataFrame (genes x samples), got {describe(expression)}")
    _check_annotations(annotation, "annotation", cols=("structure_name",))
    if expression.shape[1] != len(annotation):
        raise ValueError(f"{donor}: expression has {expression.shape[1]} samples, annotation {len(annotation)}")
    table = _check_table(table)
    names = annotation["structure_name"].astype(str).reset_index(drop=True)
    values = as_array(expression, "expression", ndim=2)
    out = {}
    matcher = _sample_matcher(names, method)
    for roi, patterns in _roi_patterns(table, method).items():
        parts = []
        for pat in patterns:
            mask = matcher(pat)
            if mask.any():
                parts.append(values[:, mask].mean(axis=1))
        if parts:
            out[roi] = np.mean(parts, axis=0)
    if not out:
        raise ValueError(f"{donor}: no sample matches any ROI of the table")
    return pd.DataFrame(out, index=expression.index)


def matching_report(annotations: pd.DataFrame, *, table: pd.DataFrame | None = None,
                    methods: Sequence[str] = ("published", "prefix")) -> pd.DataFrame:
    """Samples assigned to each ROI per donor and matching method.

    Parameters
    ----------
    annotations : pandas.DataFrame
        Sample annotations with ``donor`` and ``structure_name`` (as from
        :func:`qmrigenes.datasets.load_ahba_sample_annotations`).

    Returns
    -------
    pandas.DataFrame
        Index ``roi`` (table order); columns MultiIndex ``(method, donor)``:
        number of distinct samples used for the ROI (a sample counted once
        even if matched by two patterns).
    """
    _check_annotations(annotations)
    if isinstance(methods, str):
        raise TypeError(f"methods must be a list of method names, got a bare string {methods!r} (write [{methods!r}])")
    methods = list(methods)
    for m in methods:
        check_choice(m, "methods", ["prefix", "exact", "published"])
    table = _check_table(table)
    cols = {}
    for method in methods:
        pats = _roi_patterns(table, method)
        for donor, annot in annotations.groupby("donor", sort=True):
            names = annot["structure_name"].astype(str).reset_index(drop=True)
            matcher = _sample_matcher(names, method)
            counts = {}
            for roi, patterns in pats.items():
                mask = np.zeros(len(names), bool)
                for pat in patterns:
                    mask |= matcher(pat)
                counts[roi] = int(mask.sum())
            cols[(method, donor)] = pd.Series(counts)
    out = pd.DataFrame(cols)
    out.columns.names = ["method", "donor"]
    out.index.name = "roi"
    return out


# --------------------------------------------------------------------------- normalisation
def zscore_rois(matched: pd.DataFrame) -> tuple[pd.DataFrame, pd.Index]:
    """z-score each gene across one donor's ROIs (``normalizeExpression.m``, SD with n-1).

    Returns
    -------
    zscored : pandas.DataFrame, shape (n_genes, n_rois)
        Genes with zero variance across the ROIs are NaN.
    zero_variance : pandas.Index
        Those genes (reported, never silently dropped).
    """
    if not isinstance(matched, pd.DataFrame):
        raise TypeError(f"matched must be a DataFrame (genes x ROIs), got {describe(matched)}")
    values = as_array(matched, "matched", ndim=2)       # NaN would pass as "zero variance": refused
    if values.shape[1] < 3:
        raise ValueError(f"matched must have at least 3 ROIs (columns) to z-score, got {values.shape[1]}")
    mu = values.mean(axis=1, keepdims=True)
    sd = values.std(axis=1, ddof=1, keepdims=True)
    zero = (sd[:, 0] <= 1e-12 * np.maximum(1.0, np.abs(mu[:, 0]))) | ~np.isfinite(sd[:, 0])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (values - mu) / sd
    z[zero] = np.nan
    return pd.DataFrame(z, index=matched.index, columns=matched.columns), matched.index[zero]


def average_donors(per_donor: Mapping[str, pd.DataFrame], *, rois: Sequence[str]) -> tuple[pd.DataFrame, pd.Series]:
    """Average z-scored expression over the donors that sampled each ROI.

    Parameters
    ----------
    per_donor : mapping of str to DataFrame (n_genes, n_rois_d)
        Output of :func:`zscore_rois` per donor (same gene index).
    rois : sequence of str
        ROI order of the result (e.g. the table order).

    Returns
    -------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
        ROIs sampled by no donor are absent.
    n_donors : pandas.Series
        Number of donors averaged per ROI.
    """
    frames = _check_donor_map(per_donor, "per_donor", kind=pd.DataFrame)
    if isinstance(rois, (str, bytes)):
        raise TypeError(f"rois must be a sequence of ROI names, got a bare string {rois!r}")
    rois = list(rois)
    check_unique(rois, "rois")
    for d, f in per_donor.items():
        as_array(f, f"per_donor[{d!r}]", ndim=2, allow_nan=True)
        check_unique(f.columns, f"per_donor[{d!r}].columns (ROI names)")
    genes = frames[0].index
    for f in frames[1:]:
        if not f.index.equals(genes):
            raise ValueError("per_donor tables must share one gene index (donors have different gene lists)")
    total = np.zeros((len(genes), len(rois)))
    count = np.zeros(len(rois), int)
    for f in frames:
        pos = pd.Index(rois).get_indexer(f.columns)
        if (pos < 0).any():
            raise ValueError(f"ROIs not in `rois`: {list(f.columns[pos < 0])}")
        total[:, pos] += f.to_numpy()
        count[pos] += 1
    keep = count > 0
    with np.errstate(invalid="ignore"):
        mean = total[:, keep] / count[keep]
    kept = pd.Index(rois)[keep]
    expr = pd.DataFrame(mean.T, index=pd.Index(kept, name="roi"), columns=genes)
    return expr, pd.Series(count[keep], index=expr.index, name="n_donors")


class RoiExpression(NamedTuple):
    """Expression in the QSM ROIs.

    Attributes
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
        Donor-averaged z-scores (genes with zero variance in any donor removed).
    per_donor : dict of str to pandas.DataFrame (n_rois_d, n_genes)
        Per-donor z-scores.
    n_donors : pandas.Series
        Donors averaged per ROI.
    zero_variance : pandas.Index
        Genes excluded because they had zero variance across a donor's ROIs.
    """

    expression: pd.DataFrame
    per_donor: dict
    n_donors: pd.Series
    zero_variance: pd.Index


def expression_by_roi(expression: Mapping[str, pd.DataFrame], annotations: Mapping[str, pd.DataFrame], *,
                      table: pd.DataFrame | None = None, method: str = "prefix") -> RoiExpression:
    """Match, z-score and average per-donor gene x sample tables (``getAllExpressionDG``).

    Parameters
    ----------
    expression : mapping of donor to pandas.DataFrame (n_genes, n_samples)
        One probe per gene; the same gene index for every donor.
    annotations : mapping of donor to pandas.DataFrame (n_samples, k)
        ``SampleAnnot`` per donor (``structure_name``).
    table, method
        As in :func:`match_samples`.

    Returns
    -------
    RoiExpression
    """
    _check_donor_map(expression, "expression", kind=pd.DataFrame)
    _check_donor_map(annotations, "annotations", kind=pd.DataFrame)
    check_choice(method, "method", ["prefix", "exact", "published"])
    table = _check_table(table)
    if set(expression) != set(annotations):
        raise ValueError("expression and annotations name different donors")
    per_donor, zero = {}, pd.Index([])
    for donor in expression:
        matched = match_samples(expression[donor], annotations[donor], table=table, method=method, donor=str(donor))
        z, zv = zscore_rois(matched)
        per_donor[donor] = z
        zero = zero.union(zv)
    avg, n_donors = average_donors(per_donor, rois=list(table.index))
    avg = avg.drop(columns=zero)
    per_donor = {d: z.drop(index=zero).T.rename_axis("roi") for d, z in per_donor.items()}
    return RoiExpression(avg, per_donor, n_donors, zero)


def ahba_qsm_expression(path=None, *, threshold: float = 0.5, method: str = "prefix",
                        table: pd.DataFrame | None = None) -> RoiExpression:
    """The paper's expression pipeline on the AHBA download (or a folder in its format).

    Reads the donors (``path`` or ``$QMRIGENES_AHBA_DIR``), filters probes
    (:func:`filter_probes`), selects one probe per gene by differential
    stability (:func:`select_probes_ds`), then matches, z-scores and averages
    (:func:`expression_by_roi`).

    Returns
    -------
    RoiExpression
        Its ``expression`` attribute is the ROI x gene matrix the regression uses.
    """
    threshold = check_scalar(threshold, "threshold", min=0, max=1)
    check_choice(method, "method", ["prefix", "exact", "published"])
    donors = read_donors(path)
    kept = filter_probes(donors, threshold=threshold)
    chosen = select_probes_ds(donors, kept)
    expr = {d: data.expression.loc[chosen.to_numpy()].set_axis(chosen.index, axis=0)
            for d, data in donors.items()}
    annots = {d: data.annotation for d, data in donors.items()}
    return expression_by_roi(expr, annots, table=table, method=method)


# --------------------------------------------------------------------------- synthetic folders
def write_synthetic_donors(root, annotations: Mapping[str, pd.DataFrame], expression: Mapping[str, pd.DataFrame], *,
                           seed: int = 0, noisy_probes: int = 1, absent_probes: int = 1,
                           background: float = 0.5) -> Path:
    """Write donor folders in the Allen format from gene x sample tables.

    Each gene gets one faithful probe (the given values), ``noisy_probes``
    probes of pure noise (low differential stability) and ``absent_probes``
    probes that are below background in most samples (filtered out).

    Parameters
    ----------
    root : path-like
        Created if needed; gets one ``normalized_microarray_donor<ID>`` folder
        per donor.
    annotations : mapping of donor to DataFrame
        Sample annotations (needs ``structure_id`` and ``structure_name``;
        the other SampleAnnot columns are filled if absent).
    expression : mapping of donor to DataFrame (n_genes, n_samples)
        Same genes for every donor; values are written as log2 expression.
    seed : int
        Seed of the probe noise.
    background : float
        Fraction of samples with PA call 1 for the absent probes is ``1 - 0.5 - background/2``
        (below 0.5, so they are filtered).

    Returns
    -------
    pathlib.Path
        ``root``.
    """
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path, got {describe(root)}")
    root = Path(root)
    rng = check_seed(seed)
    noisy_probes = check_int(noisy_probes, "noisy_probes", min=0, max=100)
    absent_probes = check_int(absent_probes, "absent_probes", min=0, max=100)
    background = check_scalar(background, "background", min=0, max=1)
    _check_donor_map(expression, "expression", kind=pd.DataFrame)
    _check_donor_map(annotations, "annotations", kind=pd.DataFrame)
    for d, e in expression.items():
        as_array(e, f"expression[{d!r}]", ndim=2)
        check_unique(e.index, f"expression[{d!r}].index (genes)")
        if d not in annotations:
            raise ValueError(f"annotations has no entry for donor {d!r}")
    genes = None
    for donor, expr in expression.items():
        genes = expr.index if genes is None else genes
        if not expr.index.equals(genes):
            raise ValueError("every donor needs the same gene list")
    rows, pid = [], 1000
    for g in genes:
        for kind in ["signal"] + ["noise"] * noisy_probes + ["absent"] * absent_probes:
            rows.append({"probe_id": pid, "probe_name": f"A_{pid}", "gene_id": pid, "gene_symbol": g,
                         "gene_name": f"{g} synthetic", "entrez_id": pid, "chromosome": "1", "kind": kind})
            pid += 1
    probes = pd.DataFrame(rows)
    for donor, expr in expression.items():
        annot = annotations[donor].reset_index(drop=True).copy()
        if expr.shape[1] != len(annot):
            raise ValueError(f"donor {donor}: {expr.shape[1]} samples vs {len(annot)} annotations")
        for c in _ANNOT_COLUMNS:
            if c not in annot.columns:
                annot[c] = 0
        folder = root / f"normalized_microarray_donor{donor}"
        folder.mkdir(parents=True, exist_ok=True)
        n = len(annot)
        base = expr.to_numpy(dtype=float)
        values, calls = [], []
        gi = {g: i for i, g in enumerate(genes)}
        for _, p in probes.iterrows():
            row = base[gi[p["gene_symbol"]]]
            if p["kind"] == "signal":
                values.append(row + 8.0)
                calls.append(np.ones(n, int))
            elif p["kind"] == "noise":
                values.append(8.0 + rng.normal(0, row.std() + 1.0, n))
                calls.append(np.ones(n, int))
            else:
                values.append(2.0 + rng.normal(0, 0.1, n))
                calls.append((rng.random(n) < 0.5 - background / 2).astype(int))
        ids = probes["probe_id"].to_numpy()
        # one printf format per row (numpy) instead of one per value (pandas' to_csv with a
        # float_format): the same bytes, 8x faster (tests/test_ahba.py)
        np.savetxt(folder / "MicroarrayExpression.csv", np.column_stack([ids, np.array(values)]),
                   fmt=["%d"] + ["%.6f"] * n, delimiter=",")
        np.savetxt(folder / "PACall.csv", np.column_stack([ids, np.array(calls)]), fmt="%d", delimiter=",")
        probes.drop(columns="kind").to_csv(folder / "Probes.csv", index=False)
        annot[list(_ANNOT_COLUMNS)].to_csv(folder / "SampleAnnot.csv", index=False)
    return root


# --------------------------------------------------------------------------- simulation
def roi_sampling(annotations: pd.DataFrame, *, table: pd.DataFrame | None = None,
                 method: str = "prefix") -> pd.DataFrame:
    """Per donor and ROI, the sample counts of each structure used (the real AHBA design).

    Returns
    -------
    pandas.DataFrame
        Long table: ``donor``, ``roi``, ``structure`` (pattern), ``n_samples`` (> 0 only).
    """
    _check_annotations(annotations)
    check_choice(method, "method", ["prefix", "exact", "published"])
    table = _check_table(table)
    rows = []
    patterns_by_roi = _roi_patterns(table, method)
    for donor, annot in annotations.groupby("donor", sort=True):
        # each distinct structure name tested once and weighted by its sample count
        # (the same counts as testing every sample; a donor has ~10x more samples than names)
        counts = annot["structure_name"].astype(str).value_counts(sort=False)
        names = pd.Series(counts.index.to_numpy(dtype=object))
        weights = counts.to_numpy()
        for roi, patterns in patterns_by_roi.items():
            for pat in patterns:
                n = int(weights[_sample_mask(names, pat, method)].sum())
                if n:
                    rows.append({"donor": donor, "roi": roi, "structure": pat, "n_samples": n})
    return pd.DataFrame(rows)


def roi_pairs(table: pd.DataFrame | None = None) -> pd.Series:
    """The bilateral structure of each ROI: left and right ROIs of one structure share a key.

    Parameters
    ----------
    table : pandas.DataFrame, optional
        Output of :func:`roi_structure_table` (right ROI id = left id + 1). Default: the
        paper's 34 ROIs.

    Returns
    -------
    pandas.Series, shape (n_rois,)
        Index: ROI name; values: an integer pair key (the left ROI's id).

    Examples
    --------
    >>> pairs = roi_pairs()                                   # doctest: +SKIP
    >>> pairs.value_counts().eq(2).all()                      # doctest: +SKIP
    True
    """
    table = _check_table(table)
    key = table["roi_id"].to_numpy() - (table["hemisphere"].to_numpy() == "R")
    return pd.Series(key.astype(int), index=table.index, name="pair")


def simulate_qsm(table: pd.DataFrame | None = None, *, lr_noise: float = 0.2, seed: int = 0) -> pd.Series:
    """A simulated z-scored mean-QSM vector over the ROIs, roughly left-right symmetric.

    Each bilateral structure draws a value from N(0, 1); its left and right
    ROIs add independent N(0, ``lr_noise``\\ :sup:`2`) deviations; the vector is
    then z-scored (SD with n-1). Simulated, not measured.
    """
    table = _check_table(table)
    lr_noise = check_scalar(lr_noise, "lr_noise", min=0)
    rng = check_seed(seed)
    uniq, codes = np.unique(roi_pairs(table).to_numpy(), return_inverse=True)    # left and right share a key
    y = rng.normal(size=len(uniq))[codes] + rng.normal(0, lr_noise, len(table))
    y = zscore(y, ddof=1)
    return pd.Series(y, index=table.index, name="qsm_z")


class SimulatedDesign(NamedTuple):
    """Simulated donor data.

    Attributes
    ----------
    expression : dict of donor to pandas.DataFrame (n_genes, n_samples)
        Sample-level expression (only if ``level="sample"``), else ``{}``.
    annotations : dict of donor to pandas.DataFrame
        The real annotation rows of the simulated samples.
    roi_means : dict of donor to pandas.DataFrame (n_genes, n_rois_d)
        ROI-level matched expression (the output of :func:`match_samples`).
    effects : pandas.Series
        Planted correlation ``a_g`` per gene (0 for null genes).
    """

    expression: dict
    annotations: dict
    roi_means: dict
    effects: pd.Series


def _donor_layout(sd: pd.DataFrame):
    """One donor's rows of :func:`roi_sampling` as arrays for :func:`simulate_roi_expression`.

    Returns ``droi`` (the donor's ROIs, in order of appearance, a pandas Index), ``structs``
    (its structures, in order of appearance, a pandas Index), ``first_roi`` (for each structure,
    the position in ``droi`` of the first ROI that lists it), ``n_first`` (that row's sample
    count) and ``weights`` (structures x ROIs: ``1 / rows of the ROI`` where the ROI lists the
    structure). The same arrays as pandas ``groupby(sort=False)`` gives (tested), with plain
    numpy: this runs for every donor of every simulated replicate.
    """
    roi = sd["roi"].to_numpy()
    structure = sd["structure"].to_numpy()
    droi = pd.Index(pd.unique(roi))
    structs = pd.Index(pd.unique(structure))
    roi_pos = droi.get_indexer(roi)
    struct_pos = structs.get_indexer(structure)
    first_row = np.full(len(structs), len(sd))
    np.minimum.at(first_row, struct_pos, np.arange(len(sd)))
    first_roi = roi_pos[first_row]
    n_first = sd["n_samples"].to_numpy()[first_row]
    weights = np.zeros((len(structs), len(droi)))
    weights[struct_pos, roi_pos] = 1.0 / np.bincount(roi_pos, minlength=len(droi))[roi_pos]
    return droi, structs, first_roi, n_first, weights


def simulate_roi_expression(sampling: pd.DataFrame, qsm: pd.Series, genes: Sequence[str], *,
                            effects: Mapping[str, float] | None = None, donor_sd: float = 0.5,
                            sample_sd: float = 1.0, level: str = "roi",
                            annotations: pd.DataFrame | None = None, table: pd.DataFrame | None = None,
                            lr_corr: float = 0.0, seed: int = 0) -> SimulatedDesign:
    """Simulate AHBA-like donor data with the real sampling and a planted QSM-gene relation.

    For gene ``g``, donor ``d``, ROI ``r`` and sample ``s`` of structure ``j``:
    ``x = a_g * q_r + sqrt(1 - a_g^2) * u_gr + donor_sd * v_gdr + sample_sd * e_gs``
    with ``q`` the z-scored QSM, ``u`` a spatial pattern shared by donors,
    ``v`` donor-specific deviations and ``e`` sample noise (all N(0, 1)).
    The ROI value is the mean over structures of the mean over their samples,
    as in :func:`match_samples`.

    The left and right ROIs of a structure (:func:`roi_pairs`) have spatial
    patterns ``u`` correlated ``lr_corr``:
    ``u_r = sqrt(1 - lr_corr) * w_r + sqrt(lr_corr) * z_pair(r)``, so each
    ``u_r`` stays N(0, 1). Donor deviations and sample noise stay independent
    between hemispheres.

    Parameters
    ----------
    sampling : pandas.DataFrame
        Output of :func:`roi_sampling` (which donor sampled which structure, how often).
    qsm : pandas.Series
        z-scored QSM per ROI (index: ROI names).
    genes : sequence of str
        Gene names.
    effects : mapping of gene to float, optional
        Planted correlations ``a_g`` in [-1, 1]; other genes 0.
    level : {"roi", "sample"}
        ``"roi"`` draws the ROI means directly from their exact distribution
        (sample noise variance ``sample_sd^2 * sum_j(1/n_j) / k^2``), fast;
        ``"sample"`` draws every sample (needs ``annotations``) and averages.
    annotations : pandas.DataFrame, optional
        Real annotations with ``donor``/``structure_name`` (for ``level="sample"``).
    table : pandas.DataFrame, optional
        ROI table (for ``level="sample"``, and to pair ROIs when ``lr_corr > 0``);
        default the paper's 34 ROIs. ``sampling`` should come from
        :func:`roi_sampling` with ``method="prefix"``.
    lr_corr : float in [0, 1], optional
        Correlation of a gene's spatial pattern between the left and right ROI
        of a structure. Default 0: independent patterns, which the real data
        contradict (the AHBA deep-grey expression profiles of left and right
        structures correlate with median r of about 0.7 across genes; chapter
        2 estimates it). Unpaired ROIs keep independent patterns.
    seed : int

    Returns
    -------
    SimulatedDesign
    """
    check_choice(level, "level", ["roi", "sample"])
    if not isinstance(qsm, pd.Series):
        raise TypeError(f"qsm must be a Series indexed by ROI, got {describe(qsm)}")
    if qsm.isna().any():
        raise ValueError("qsm contains NaN")
    as_array(qsm, "qsm", ndim=1)
    check_unique(qsm.index, "qsm.index (ROI names)")
    if not isinstance(sampling, pd.DataFrame) or not {"donor", "roi", "structure", "n_samples"} <= set(sampling):
        raise TypeError(f"sampling must be the DataFrame of roi_sampling(), got {describe(sampling)}")
    genes = check_genes(genes, "genes")
    donor_sd = check_scalar(donor_sd, "donor_sd", min=0)
    sample_sd = check_scalar(sample_sd, "sample_sd", min=0)
    seed = check_int(seed, "seed", min=0)
    lr_corr = check_scalar(lr_corr, "lr_corr", min=0, max=1)
    if effects is not None and not isinstance(effects, Mapping):
        raise TypeError(f"effects must be a mapping {{gene: correlation}}, got {describe(effects)}")
    unknown = sorted(set(sampling["roi"]) - set(qsm.index))
    if unknown:
        raise ValueError(f"ROIs sampled but without a QSM value: {unknown}")
    genes = pd.Index(genes, name="gene")
    a = pd.Series(0.0, index=genes, name="effect")
    for g, v in (effects or {}).items():
        if g not in genes:
            raise ValueError(f"planted gene {g!r} is not among the simulated genes")
        v = check_scalar(v, f"effects[{g!r}]", min=-1, max=1)
        a[g] = v
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])   # separate stream: both levels share u and v
    rois = pd.Index(qsm.index)
    q = qsm.to_numpy()
    av = a.to_numpy()[:, None]
    u = rng.normal(size=(len(genes), len(rois)))
    if lr_corr > 0:                                 # shared pair component, own stream (lr_corr=0 unchanged)
        pairs = roi_pairs(table)
        missing = [r for r in rois if r not in pairs.index]
        if missing:
            raise ValueError(f"lr_corr > 0 needs every QSM ROI in table to pair it; not in table: {missing[:5]}")
        uniq, codes = np.unique(pairs.loc[rois].to_numpy(), return_inverse=True)
        z = np.random.default_rng([seed, 2]).normal(size=(len(genes), len(uniq)))
        u = np.sqrt(1 - lr_corr) * u + np.sqrt(lr_corr) * z[:, codes]
    base = av * q[None, :] + np.sqrt(1 - av ** 2) * u
    roi_means, expr_out, annots_out = {}, {}, {}
    for donor, sd in sampling.groupby("donor", sort=True):
        droi, structs, first_roi, n_first, weights = _donor_layout(sd)
        v = rng.normal(size=(len(genes), len(droi)))
        signal = base[:, rois.get_indexer(droi)] + donor_sd * v
        # a structure listed by two ROIs (e.g. the thalamic lateral group) carries the
        # signal of the first ROI that lists it; its samples are shared by both ROIs
        s_signal = signal[:, first_roi]
        if level == "roi":
            n_j = n_first
            s_val = s_signal + sample_sd * noise_rng.normal(size=s_signal.shape) / np.sqrt(n_j)
            roi_means[donor] = pd.DataFrame(s_val @ weights, index=genes, columns=droi)
            continue
        if annotations is None:
            raise ValueError("level='sample' needs the real annotations")
        annot = annotations[annotations["donor"] == donor].reset_index(drop=True)
        names = annot["structure_name"].astype(str)
        owner = np.full(len(annot), -1)
        matcher = _sample_matcher(names, "prefix")
        for k, pat in enumerate(structs):
            owner[matcher(pat) & (owner < 0)] = k
        used = owner >= 0
        annot = annot[used].reset_index(drop=True)
        x = s_signal[:, owner[used]] + sample_sd * noise_rng.normal(size=(len(genes), used.sum()))
        expr_out[donor] = pd.DataFrame(x, index=genes)
        annots_out[donor] = annot
        if table is None:
            table = roi_structure_table()
        tab = table.loc[list(droi)]
        roi_means[donor] = match_samples(expr_out[donor], annot, table=tab, method="prefix", donor=str(donor))
    return SimulatedDesign(expr_out, annots_out, roi_means, a)


# --------------------------------------------------------------------------- real, reduced data


def load_crosswalk() -> pd.DataFrame:
    """The deep-grey structure crosswalk: one row per aseg structure, its name in each data set.

    Read through the package's data door (:func:`qmrigenes.datasets.load_package_table`,
    ``crosswalks/deep_grey_structures.csv``).

    Returns
    -------
    pandas.DataFrame, shape (n_structures, 6)
        Index ``structure``; columns ``ahba_dk_region``, ``aseg_label``,
        ``clinical_mpm_region``, ``chisep_roi``, ``qsm_rois`` (``;``-separated
        ROI names of Cohen et al. 2024) and ``note``. Empty cells are NaN
        (a data set that does not cover the structure).

    Examples
    --------
    >>> from qmrigenes import ahba
    >>> cw = ahba.load_crosswalk()
    >>> cw.loc["putamen", "ahba_dk_region"]
    'putamen'
    """
    from .datasets import load_package_table

    return load_package_table("crosswalks/deep_grey_structures.csv").set_index("structure")


def deep_grey_expression(*, hemisphere: str = "L", crosswalk: pd.DataFrame | None = None) -> pd.DataFrame:
    """AHBA expression (abagen/imaging-transcriptomics DK table) in the deep grey aseg structures.

    Parameters
    ----------
    hemisphere : {"L", "R", "mean"}
        One hemisphere, or the mean of left and right. Default ``"L"``: all
        six donors were sampled on the left, only two on the right.
    crosswalk : pandas.DataFrame, optional
        Structure -> AHBA DK region name (column ``ahba_dk_region``, index
        ``structure``); default :func:`load_crosswalk`. Rows without an AHBA
        region are left out.

    Returns
    -------
    pandas.DataFrame, shape (n_structures, 15633)
        Index ``structure`` (crosswalk names; 7 with the default crosswalk),
        one column per gene symbol, expression scaled 0-1 (unitless).

    Examples
    --------
    >>> from qmrigenes import ahba
    >>> expr = ahba.deep_grey_expression()                 # doctest: +SKIP
    >>> expr.loc[:, ["FTL", "MBP"]].round(2)                # doctest: +SKIP
    >>> ahba.deep_grey_expression(hemisphere="mean").shape  # doctest: +SKIP
    (7, 15633)
    """
    from .datasets import load_ahba_dk

    if hemisphere not in ("L", "R", "mean"):
        raise ValueError(f"hemisphere must be 'L', 'R' or 'mean', got {hemisphere!r}")
    cw = load_crosswalk() if crosswalk is None else crosswalk
    if not isinstance(cw, pd.DataFrame) or "ahba_dk_region" not in cw.columns:
        raise TypeError(f"crosswalk must be a DataFrame with an 'ahba_dk_region' column (load_crosswalk()), "
                        f"got {describe(cw)}")
    cw = cw[cw["ahba_dk_region"].notna()]
    sub = load_ahba_dk(structure="subcortex").droplevel("structure")
    parts = [sub.xs(h, level="hemisphere") for h in (("L", "R") if hemisphere == "mean" else (hemisphere,))]
    unknown = sorted(set(cw["ahba_dk_region"]) - set(parts[0].index))
    if unknown:
        raise ValueError(f"crosswalk: AHBA regions not in the AHBA table: {unknown}")
    expr = sum(p.loc[cw["ahba_dk_region"]].to_numpy() for p in parts) / len(parts)
    return pd.DataFrame(expr, index=pd.Index(cw.index, name="structure"), columns=sub.columns)


def cortex_expression(*, hemisphere: str = "L") -> pd.DataFrame:
    """AHBA expression (abagen/imaging-transcriptomics DK table) in the 34 cortical DK regions.

    The cortical counterpart of :func:`deep_grey_expression`:
    :func:`qmrigenes.datasets.load_ahba_dk` for one hemisphere's cortex, indexed by the DK
    region name in :data:`~qmrigenes.datasets.DK_CORTICAL_REGIONS` order.

    Parameters
    ----------
    hemisphere : {"L", "R"}
        Default ``"L"`` (all six donors were sampled on the left, two on the right).

    Returns
    -------
    pandas.DataFrame, shape (34, 15633)
        Index ``region``, one column per gene symbol, expression scaled 0-1 (unitless).

    Examples
    --------
    >>> from qmrigenes import ahba
    >>> expr = ahba.cortex_expression()    # doctest: +SKIP
    >>> expr.shape                         # doctest: +SKIP
    (34, 15633)
    """
    from .datasets import DK_CORTICAL_REGIONS, load_ahba_dk

    check_choice(hemisphere, "hemisphere", ["L", "R"])
    expr = load_ahba_dk(hemisphere=hemisphere, structure="cortex").droplevel(["hemisphere", "structure"])
    missing = [r for r in DK_CORTICAL_REGIONS if r not in expr.index]
    if missing:
        raise ValueError(f"AHBA table lacks DK regions {missing}")
    return expr.loc[list(DK_CORTICAL_REGIONS)]


def gene_set_expression(expression: pd.DataFrame, gene_sets, *, sets=None) -> pd.DataFrame:
    """Mean regional expression over each gene set's genes present in the table.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_regions, n_genes)
        Regions x gene symbols (e.g. :func:`cortex_expression`, scaled 0-1).
    gene_sets : mapping of str to sequence of str
        Set name -> gene symbols; genes absent from ``expression`` are skipped.
    sets : sequence of str, optional
        Names of the sets to average (default all, in the mapping's order).

    Returns
    -------
    pandas.DataFrame, shape (n_regions, n_sets)
        Same index as ``expression``, one column per set, in the units of ``expression``.

    Raises
    ------
    ValueError
        A name in ``sets`` is not a set, or a set has no gene in ``expression``.

    Examples
    --------
    >>> import pandas as pd
    >>> from qmrigenes.ahba import gene_set_expression
    >>> expr = pd.DataFrame({"A": [0.0, 1.0], "B": [1.0, 1.0], "C": [0.5, 0.5]}, index=["r1", "r2"])
    >>> gene_set_expression(expr, {"ab": ["A", "B", "Z"], "c": ["C"]})
         ab    c
    r1  0.5  0.5
    r2  1.0  0.5
    """
    check_frame(expression, "expression")
    check_unique(expression.columns, "expression.columns (gene symbols)")
    gene_sets = check_gene_sets(gene_sets)
    if isinstance(sets, (str, bytes)):
        raise TypeError(f"sets must be a list of set names, got a bare string {sets!r} (write [{sets!r}])")
    names = list(gene_sets) if sets is None else list(sets)
    out = {}
    for name in names:
        if name not in gene_sets:
            raise ValueError(f"sets: unknown gene set {name!r}; known: {', '.join(gene_sets)}")
        genes = [g for g in gene_sets[name] if g in expression.columns]
        if not genes:
            raise ValueError(f"gene_sets[{name!r}] has no gene present in the expression table")
        out[name] = pd.Series(as_array(expression[genes], "expression", ndim=2).mean(axis=1),
                              index=expression.index)
    return pd.DataFrame(out, index=expression.index)
