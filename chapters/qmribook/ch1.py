"""Chapter 1 (MPM cortical surface vs cell-type genes): the chapter's data, reports and comparisons with the poster.

Book study code: depends on the library ``qmrigenes``, never the reverse. Every chapter-facing
function is ``report_<topic>(...) -> Report`` (shown with :func:`qmribook.report.show`); input
preparation is ``load_<what>``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from qmrigenes.ahba import cortex_expression
from qmrigenes.datasets import CLINICAL_MPM_MT_SCALE, DK_CORTICAL_REGIONS, load_nspn_mt
from qmrigenes.mpm import (BETAS, ClinicalModel, SimulatedCohort, VertexwiseResult, clinical_mpm_model, nspn_dk_mt,
                           summarise_betas)
from qmrigenes.surface import hcp_t1wt2w_dk, load_neuromorphometrics_crosswalk, parcellate

from .pages import load_published as _load_published
from .display import MISSING, ColumnSpec, format_p, format_published, format_value, grouped_table, table
from .report import Report


# --------------------------------------------------------------------------- published values
def load_published(name: str) -> pd.DataFrame:
    """A committed table of published Chapter 1 numbers (``data/published/ch1_<name>.csv``).

    ``name`` is ``"table1"`` (the poster's Table 1: cell_type, n_genes, map, r,
    p_fdr), ``"betas"`` (poster and Callaghan et al. 2015 coefficients) or
    ``"methods"``. Every row carries its citation key and location.
    """
    return _load_published("ch1", name)


def _published_strings(name: str) -> pd.DataFrame:
    """The same table read as text, so published values keep their printed precision."""
    return _load_published("ch1", name, as_text=True)


def table1_comparison(ours: pd.DataFrame, published: pd.DataFrame, *, dataset: str,
                      maps=("R1", "MTsat", "R2*", "e")) -> pd.DataFrame:
    """Our Table 1 beside the poster's, for one data set (numeric; the page shows a formatted version).

    Returns
    -------
    pandas.DataFrame
        Index cell type; columns (map, statistic) with statistics ``r poster``,
        ``r ours``, ``p poster``, ``p ours`` (gene specificity, BH-FDR) and
        ``p spin`` (spatial specificity, BH-FDR).
    """
    pairs = maps.items() if isinstance(maps, dict) else [(m, m) for m in maps]
    sub = ours.xs(dataset, level="dataset")
    pub = published.set_index(["cell_type", "map"])
    blocks = {}
    for poster_map, our_map in pairs:
        o = sub.xs(our_map, level="map")
        p = pub.xs(poster_map, level="map")
        block = pd.DataFrame({"r poster": p["r"], "r ours": o["r"], "p poster": p["p_fdr"],
                              "p ours": o["p_gene_fdr"]})
        if "p_spin_fdr" in o:
            block["p spin"] = o["p_spin_fdr"]
        blocks[poster_map if poster_map == our_map else f"{poster_map} (ours: {our_map})"] = block
    out = pd.concat(blocks, axis=1)
    out.index.name = "cell type"
    return out


def beta_table(betas: pd.DataFrame, published: pd.DataFrame, *, label: str) -> pd.DataFrame:
    """Long table of b0, b1, b2 (mean, SD) from our fits and the published sources."""
    mine = summarise_betas(betas).reset_index(names="beta").assign(source=label)
    pub = published[["source", "beta", "mean", "sd"]]
    return pd.concat([pub, mine[["source", "beta", "mean", "sd"]]], ignore_index=True)


_SCORE_BETA = {"b0": "β₀", "b1": "β₁", "b2": "β₂"}
_SCORE_MAP = {"R1": "R1", "MTsat": "MTsat", "R2*": "R2*", "e": "ε"}


def scorecard(*, table1: pd.DataFrame, published_betas: pd.DataFrame, published_methods: pd.DataFrame,
              ours: pd.DataFrame,
              betas: pd.DataFrame, present: pd.DataFrame, n_subjects: int, n_labels: int,
              smoothing_fwhm: float, dataset: str = "clinical MPM") -> pd.DataFrame:
    """Every number the poster reports, ours beside it, the data used and why they differ.

    Poster values are shown as printed in the poster (their precision kept, read as text from
    ``data/published``); ours in the book's number style (r with 2 decimals, p-values with
    :func:`qmribook.display.format_p`, β with 4 decimals like the poster's, counts as integers); an em dash where a
    value does not exist.

    Returns
    -------
    pandas.DataFrame
        Columns ``section``, ``quantity``, ``poster``, ``ours`` (display text), ``our data``,
        ``reason for difference``; one row per number of the poster (91 rows for the full poster).
    """
    rows = []
    data_mpm = "real: clinical MPM (Cooper et al. 2020), 6 subjects × 3 repeats, Neuromorphometrics → DK"
    meth_text = _published_strings("methods").set_index("quantity")["value"] \
        if set(published_methods["quantity"]) <= set(_published_strings("methods")["quantity"]) \
        else published_methods.set_index("quantity")["value"].astype(str)
    rows.append(("Methods", "subjects", meth_text["subjects"], f"{n_subjects:d}", data_mpm,
                 "poster cohort (MEG UK) is private; the public MPM set with R1, MT and R2* has 6"))
    rows.append(("Methods", "MPM resolution (µm)", meth_text["MPM resolution"], "—", data_mpm,
                 "given in the clinical data's paper (Cooper et al. 2020), not in the data"))
    rows.append(("Methods", "surface smoothing FWHM (mm)", meth_text["surface smoothing FWHM"], f"{smoothing_fwhm:g}",
                 "simulated cohort on fsaverage5",
                 "same kernel; the real public data are regional, so smoothing applies to the simulation"))
    rows.append(("Methods", "sampling depth (%)", meth_text["sampling depth"], "50",
                 "real: NSPN MT at 50% depth; simulation on the midthickness",
                 "same depth (clinical MPM data are volumetric region means)"))
    summary = summarise_betas(betas)
    text_b = _published_strings("betas")
    text_b = text_b[text_b["source"].str.startswith("poster")].set_index("beta")
    units = {"b0": " (s⁻¹)", "b1": " (s⁻¹ p.u.⁻¹)", "b2": ""}
    for b in BETAS:
        for stat, col in (("mean", "mean"), ("SD", "sd")):
            rows.append(("Results", f"{_SCORE_BETA[b]} {stat}{units[b]}", text_b.loc[b, col],
                         format_value(summary.loc[b, "mean" if stat == "mean" else "sd"], decimals=4),
                         data_mpm + ", MT unscaled",
                         f"regional (not vertexwise) fit on {n_labels} bilateral labels of another protocol and cohort"))
    t1 = table1.drop_duplicates("cell_type").set_index("cell_type")
    for ct, row in t1.iterrows():
        rows.append(("Table 1", f"{set_label(ct)}: number of genes", f"{int(row['n_genes']):d}",
                     f"{int(present.loc[ct, 'n_present']):d}",
                     "real: Shin et al. 2018 panel in the AHBA DK table (imaging-transcriptomics)",
                     "our count is the genes present in the expression table; the poster's matches the panel"))
    text_t1 = _published_strings("table1").set_index(["cell_type", "map"])
    sub = ours.xs(dataset, level="dataset")
    for _, row in table1.iterrows():
        key = (row["cell_type"], row["map"])
        o = sub.loc[key]
        pub_text = text_t1.loc[key] if key in text_t1.index else None
        for stat, pub, mine in (("r", pub_text["r"] if pub_text is not None else f"{row['r']:.2f}",
                                 format_value(o["r"], decimals=2)),
                                ("p (FDR)", pub_text["p_fdr"] if pub_text is not None else f"{row['p_fdr']:.4f}",
                                 format_p(o["p_gene_fdr"], markup="text"))):
            rows.append(("Table 1", f"{set_label(row['cell_type'])} / {_SCORE_MAP.get(row['map'], row['map'])}: {stat}",
                         str(pub).replace("-", "−"), mine,
                         f"real: {dataset} map × AHBA left cortex (34 DK)",
                         "different cohort, protocol and atlas; regional rather than vertexwise maps"))
    return pd.DataFrame(rows, columns=["section", "quantity", "poster", "ours", "our data", "reason for difference"])


def set_label(name: str) -> str:
    """Display name of a cell type (``"CA1.Pyramidal"`` -> ``"CA1 Pyramidal"``)."""
    return name.replace(".", " ")


def _name_list(names) -> str:
    names = [str(n) for n in names]
    return ", ".join(names) if names else "none"


def significant_sets(table: pd.DataFrame, *, dataset: str = "clinical MPM", alpha: float = 0.05,
                     column: str = "p_gene_fdr") -> list:
    """Sorted cell types with ``column`` < ``alpha`` for at least one map of ``dataset``."""
    if column not in table:
        raise ValueError(f"no column {column!r} in the association table")
    sub = table.xs(dataset, level="dataset")
    return sorted(sub.index[sub[column] < alpha].get_level_values("gene_set").unique())


def compare_significance(table: pd.DataFrame, published: pd.DataFrame, *, dataset: str = "clinical MPM",
                         alpha: float = 0.05) -> pd.DataFrame:
    """Cell-by-cell agreement of our Table 1 with the poster's.

    Returns
    -------
    pandas.DataFrame
        One row per published (cell_type, map): ``r poster``, ``r ours``,
        ``sig poster``, ``sig ours`` (FDR p < ``alpha``; ours: gene specificity)
        and ``outcome``: ``"reproduced"`` (both significant, same sign),
        ``"opposite sign"`` (both significant), ``"not reproduced"`` (only the
        poster's), ``"new"`` (only ours) or ``"neither"``.
    """
    sub = table.xs(dataset, level="dataset")
    rows = []
    for _, p in published.iterrows():
        key = (p["cell_type"], p["map"])
        if key not in sub.index:
            raise ValueError(f"{key} of the published table is not in our {dataset!r} results")
        o = sub.loc[key]
        sp, so = bool(p["p_fdr"] < alpha), bool(o["p_gene_fdr"] < alpha)
        same = np.sign(p["r"]) == np.sign(o["r"])
        outcome = ("reproduced" if same else "opposite sign") if sp and so else \
            "not reproduced" if sp else "new" if so else "neither"
        rows.append((*key, p["r"], o["r"], sp, so, outcome))
    return pd.DataFrame(rows, columns=["cell_type", "map", "r poster", "r ours", "sig poster", "sig ours",
                                       "outcome"])


def _signed_list(sub: pd.DataFrame, *, alpha: float, column: str = "p_gene_fdr") -> str:
    hits = sub[sub[column] < alpha]
    return _name_list(f"{set_label(s)} ({'+' if r > 0 else '−'})" for s, r in hits["r"].items())


def _cells(frame: pd.DataFrame) -> str:
    return _name_list(f"{set_label(c)}/{m}" for c, m in zip(frame["cell_type"], frame["map"]))


def table1_findings(table: pd.DataFrame, published: pd.DataFrame, *, alpha: float = 0.05) -> dict:
    """Named facts of Table 1 for the prose: agreement with the poster and significant sets.

    Returns
    -------
    dict
        ``n-poster-sig``, ``n-reproduced``; ``reproduced``, ``not-reproduced``,
        ``opposite-sign``, ``new-sig`` (``"Cell/map"`` lists, clinical MPM vs
        poster, gene-specificity FDR < ``alpha``); ``sig-R1``, ``sig-MTsat``,
        ``sig-R2s``, ``sig-e``, ``sig-nspn``, ``sig-hcp`` (significant cell types
        of each map with the sign of r); ``n-gene-sig`` and ``n-both-sig``
        (tests over all maps significant against random genes, and of those
        also against spins), ``n-gene-only``, ``n-spin-only``, ``both-clinical``
        (clinical MPM tests significant against both nulls); ``smallest-set``.
    """
    cmp = compare_significance(table, published, alpha=alpha)
    out = {"n-poster-sig": int(cmp["sig poster"].sum()), "n-reproduced": int((cmp["outcome"] == "reproduced").sum())}
    for key, outcome in (("reproduced", "reproduced"), ("not-reproduced", "not reproduced"),
                         ("opposite-sign", "opposite sign"), ("new-sig", "new")):
        out[key] = _cells(cmp[cmp["outcome"] == outcome])
    for key, (ds, m) in {"sig-R1": ("clinical MPM", "R1"), "sig-MTsat": ("clinical MPM", "MTsat"),
                         "sig-R2s": ("clinical MPM", "R2*"), "sig-e": ("clinical MPM", "e"),
                         "sig-nspn": ("NSPN", "MTsat"), "sig-hcp": ("HCP", "T1w/T2w")}.items():
        out[key] = _signed_list(table.xs((ds, m), level=("dataset", "map")), alpha=alpha)
    gene, spin = table["p_gene_fdr"] < alpha, table["p_spin_fdr"] < alpha
    out.update({"n-gene-sig": int(gene.sum()), "n-both-sig": int((gene & spin).sum()),
                "n-gene-only": int((gene & ~spin).sum()), "n-spin-only": int((spin & ~gene).sum())})
    both = table[gene & spin]
    both = both[both.index.get_level_values("dataset") == "clinical MPM"]
    out["both-clinical"] = _name_list(f"{set_label(s)}/{m}" for s, _, m in both.index)
    sizes = table.groupby(level="gene_set")["n_present"].first()
    out["smallest-set"] = set_label(sizes.idxmin()).lower()
    return out


def top_regions(maps: pd.DataFrame, *, n: int = 3) -> dict:
    """The ``n`` DK regions with the highest value of each map, as ``"a, b, c"`` strings keyed by map."""
    if n < 1 or n > len(maps):
        raise ValueError(f"n must be in 1..{len(maps)}, got {n}")
    if maps.isna().any().any():
        raise ValueError("maps contain NaN")
    return {col: ", ".join(maps[col].nlargest(n).index) for col in maps.columns}


def poster_tied_pvalue(published: pd.DataFrame) -> dict:
    """The most repeated FDR p-value within one map of the poster's Table 1.

    Returns
    -------
    dict
        ``poster-tie-p`` (the value), ``poster-tie-n`` (how often), ``poster-tie-map``.
    """
    counts = published.groupby(["map", "p_fdr"]).size()
    (m, p), k = counts.idxmax(), int(counts.max())
    if k < 2:
        raise ValueError("no p-value repeats within a map")
    return {"poster-tie-p": float(p), "poster-tie-n": k, "poster-tie-map": m}


def table1_tables(table: pd.DataFrame, published: pd.DataFrame) -> dict:
    """``table1-clinical`` (all four maps) and ``table1-other`` (NSPN MT and HCP T1w/T2w
    against the poster's MTsat column), via :func:`table1_comparison`."""
    other = pd.concat({
        "NSPN": table1_comparison(table, published, dataset="NSPN", maps={"MTsat": "MTsat"}),
        "HCP": table1_comparison(table, published, dataset="HCP", maps={"MTsat": "T1w/T2w"}),
    }, axis=1)
    return {"table1-clinical": table1_comparison(table, published, dataset="clinical MPM"),
            "table1-other": other}


# --------------------------------------------------------------------------- chapter data
#: The MT scale this chapter uses for the clinical MPM data (decided in :func:`report_mt_scale`).
MT_SCALE = 1.0
#: The other scale, kept as a sensitivity line: the clinical data README's 220/500.
MT_SCALE_ALT = CLINICAL_MPM_MT_SCALE


class ChapterData(NamedTuple):
    """The real inputs of Chapter 1 (see :func:`load_chapter_data`)."""

    expression: pd.DataFrame
    panel: pd.DataFrame
    gene_sets: dict
    present: pd.DataFrame
    clinical: ClinicalModel
    maps: pd.DataFrame
    nspn: object
    clinical_alt: ClinicalModel


def real_dk_maps(*, clinical: ClinicalModel | None = None) -> pd.DataFrame:
    """The chapter's real left-hemisphere DK maps, one column per (data set, map).

    Book assembly of three library loaders: :func:`qmrigenes.mpm.clinical_mpm_model`,
    :func:`qmrigenes.mpm.nspn_dk_mt` and :func:`qmrigenes.surface.hcp_t1wt2w_dk`.

    Returns
    -------
    pandas.DataFrame, shape (34, 6)
        Index: DK region. Columns, a MultiIndex (data set, map):
        ``("clinical MPM", R1 | MTsat | R2* | e)`` (Cooper et al. 2020, 6
        subjects, bilateral Neuromorphometrics means via the crosswalk),
        ``("NSPN", MTsat)`` (mean over 297 subjects of left-hemisphere MT at
        50% depth, sub-parcels averaged into DK) and ``("HCP", T1w/T2w)``.
    """
    if clinical is not None and not isinstance(clinical, ClinicalModel):
        raise TypeError(f"clinical must be a ClinicalModel from clinical_mpm_model(), "
                        f"got {type(clinical).__name__}")
    clinical = clinical_mpm_model() if clinical is None else clinical
    cols = {("clinical MPM", k): clinical.dk[k] for k in ("R1", "MTsat", "R2*", "e")}
    cols[("NSPN", "MTsat")] = nspn_dk_mt(hemisphere="L").mean()
    cols[("HCP", "T1w/T2w")] = hcp_t1wt2w_dk(hemisphere="L")
    out = pd.DataFrame(cols).loc[list(DK_CORTICAL_REGIONS)]
    out.index.name = "region"
    out.columns.names = ["dataset", "map"]
    return out


def load_chapter_data(*, mt_scale: float = MT_SCALE, mt_scale_alt: float = MT_SCALE_ALT) -> ChapterData:
    """Load the AHBA left cortex, the cell-type panel, the clinical MPM model and all DK maps.

    Returns
    -------
    ChapterData
        ``expression`` (34 x 15,633), ``panel`` (2,511 genes), ``gene_sets``
        (9 cell types), ``present`` (:func:`~qmrigenes.stats.genesets.genes_present`),
        ``clinical`` (:func:`clinical_mpm_model` with MT x ``mt_scale``), ``maps``
        (:func:`real_dk_maps`), ``nspn`` (:func:`~qmrigenes.datasets.load_nspn_mt`) and
        ``clinical_alt`` (the same fit with MT x ``mt_scale_alt``, the sensitivity line).
    """
    from qmrigenes.datasets import celltype_gene_sets, load_celltype_panel
    from qmrigenes.stats.genesets import genes_present

    expression = cortex_expression(hemisphere="L")
    panel = load_celltype_panel()
    gene_sets = celltype_gene_sets(panel)
    clinical = clinical_mpm_model(mt_scale=mt_scale)
    alt = clinical_mpm_model(mt_scale=mt_scale_alt)
    return ChapterData(expression, panel, gene_sets, genes_present(gene_sets, expression.columns),
                       clinical, real_dk_maps(clinical=clinical), load_nspn_mt(), alt)


def data_counts(data: ChapterData) -> dict:
    """Named counts of the Chapter 1 inputs (genes, panel, subjects, labels) and the genes-present table."""
    n_present = int(data.panel.index.isin(data.expression.columns).sum())
    return {"n-genes-expr": int(data.expression.shape[1]), "n-panel": len(data.panel),
            "n-panel-present": n_present, "n-nspn": len(data.nspn.values),
            "n-nspn-left": int((data.nspn.parcels["hemisphere"] == "L").sum()),
            "n-clin-labels": int(data.clinical.maps["R1"].shape[1]),
            "n-clin-subjects": int(data.clinical.maps["R1"].shape[0]),
            "present": data.present[["n_genes", "n_present", "missing"]]}


def report_data(data: ChapterData) -> Report:
    """Counts of the inputs (prose) and Table 1.1, genes per cell type present in the AHBA table."""
    counts = data_counts(data)
    present = counts.pop("present")
    shown = pd.DataFrame({"genes in panel": present["n_genes"].map("{:,}".format),
                          "present in AHBA": present["n_present"].map("{:,}".format),
                          "absent symbols": present["missing"].map(
                              lambda m: ", ".join(m) if isinstance(m, (list, tuple)) else (m or "—"))})
    shown.index = [set_label(s) for s in present.index]
    shown.index.name = "cell type"
    return Report(numbers=counts, tables={"present": table(shown, index=True, as_text=True)})


# --------------------------------------------------------------------------- MT scale
def mt_scale_evidence(*, mt_scale: float = MT_SCALE, mt_scale_alt: float = MT_SCALE_ALT,
                      table: pd.DataFrame | None = None, nspn_dk: pd.Series | None = None,
                      nspn_wm: float | None = None, published_betas: pd.DataFrame | None = None,
                      b1: dict | None = None) -> pd.DataFrame:
    """Our clinical MPM MT and β1 under both scales beside values of the custom (Weiskopf-style) protocol.

    Parameters
    ----------
    table : pandas.DataFrame, optional
        :func:`qmrigenes.datasets.load_clinical_mpm` (default: that).
    nspn_dk : pandas.Series, optional
        NSPN MT at 50% depth, mean over subjects per DK region (left).
    nspn_wm : float, optional
        NSPN superficial white-matter MT 2 mm below the grey/white boundary (p.u.), set beside
        our cerebral white matter.
    published_betas : pandas.DataFrame, optional
        :func:`load_published` ``("betas")``.
    b1 : dict, optional
        Our mean β1 ``{scale: value}`` (1/s per p.u.) for both scales.

    Returns
    -------
    pandas.DataFrame
        Rows: quantity (cortical GM MT, cerebral WM MT, cortical MT by DK region, β1); columns
        ``ours, MT x <alt>``, ``ours, MT unscaled`` (or x ``mt_scale``), ``custom protocol``,
        ``source of the custom-protocol value``; numbers as floats (NaN where none).
    """
    from qmrigenes.datasets import load_clinical_mpm

    table = load_clinical_mpm() if table is None else table
    mt = table[table["parameter"] == "MT"]
    subj = mt.groupby(["subject", "region"])["value"].mean().unstack()
    cw = load_neuromorphometrics_crosswalk()
    cortical = list(dict.fromkeys(cw.loc[cw["dk_region"] != "", "neuromorphometrics"]))
    gm = float(subj[cortical].mean(axis=1).mean())
    wm = float(subj["Cerebral White Matter"].mean())
    rows = [(f"cortical GM MT (p.u.), mean of {len(cortical)} labels", gm, np.nan, ""),
            ("cerebral WM MT (p.u.)", wm, np.nan if nspn_wm is None else float(nspn_wm),
             "" if nspn_wm is None else "NSPN MPM, 297 subjects, superficial WM 2 mm below the grey/white boundary")]
    if nspn_dk is not None:
        rows.append((f"cortical MT (p.u.), {len(nspn_dk)} left DK regions", np.nan, float(nspn_dk.mean()),
                     "NSPN MPM, 297 subjects, 50% depth (Whitaker et al. 2016)"))
    out = pd.DataFrame(rows, columns=["quantity", "raw", "custom", "source"])
    out["alt"] = out["raw"] * mt_scale_alt
    out["main"] = out["raw"] * mt_scale
    if published_betas is not None and b1 is not None:
        for src, label in (("poster", "the poster"), ("Callaghan 2015 (cohort", "Callaghan et al. 2015, cohort")):
            pub = published_betas[published_betas["source"].str.startswith(src) & (published_betas["beta"] == "b1")]
            out.loc[len(out)] = (f"β1 (s⁻¹ p.u.⁻¹) vs {label}", np.nan, float(pub["mean"].iloc[0]), label,
                                 b1[mt_scale_alt], b1[mt_scale])
    return out


def nspn_depth_mt(path=None) -> dict:
    """Mean NSPN MT of one NSPN depth file over the 34 left DK regions, as the chapter averages it.

    :func:`qmrigenes.mpm.nspn_dk_mt` (the chapter's NSPN map), averaged over subjects and then
    over the 34 regions without weights.

    Parameters
    ----------
    path : path-like, optional
        A ``PARC_500aparc_MT_*_mean_behavmerge.csv`` file of the NSPN repository (default: the
        registry's 50%-depth file).

    Returns
    -------
    dict
        ``mean`` (p.u.), ``sd_subjects`` (SD across subjects of each subject's 34-region mean,
        p.u.) and ``n_subjects``.
    """
    dk = nspn_dk_mt(path=path)
    return {"mean": float(dk.mean(axis=0).mean()), "sd_subjects": float(dk.mean(axis=1).std(ddof=1)),
            "n_subjects": int(len(dk))}


#: The NSPN MT files of the registry, by where in the cortex or white matter they sample MT.
NSPN_DEPTH_FILES = {"cortical ribbon average": "nspn_mt_cortexav.csv",
                    "cortex, 50% depth": "nspn_mt_projfrac050.csv",
                    "grey/white boundary": "nspn_mt_boundary.csv",
                    "white matter, 1 mm below the boundary": "nspn_mt_wm1mm.csv",
                    "white matter, 2 mm below the boundary": "nspn_mt_wm2mm.csv",
                    "white matter under each parcel, average": "nspn_mt_wmav.csv"}


def nspn_mt_by_depth(files=None) -> pd.DataFrame:
    """NSPN MT of each registered depth file (real data), averaged as the chapter's NSPN map.

    :func:`nspn_depth_mt` on each file of ``files`` (default :data:`NSPN_DEPTH_FILES`), read
    through :func:`qmrigenes.fetch.fetch` (checked against the registry's sha256).

    Returns
    -------
    pandas.DataFrame
        Index ``where``; ``file``, ``mean`` (p.u.), ``sd_subjects``, ``n_subjects``.
    """
    from qmrigenes.fetch import fetch

    files = NSPN_DEPTH_FILES if files is None else files
    rows = {where: {"file": name, **nspn_depth_mt(fetch(name))} for where, name in files.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("where")


def report_mt_scale(data: ChapterData, *, published: pd.DataFrame) -> Report:
    """The MT-scale decision: our MT and β1 under both scales beside custom-protocol values (Table 1.3).

    Numbers: ``mt-gm-raw``, ``mt-gm-alt``, ``mt-wm-raw``, ``mt-wm-alt`` (p.u.), ``mt-nspn`` (NSPN
    cortical mean, p.u.), ``mt-nspn-ratio-raw`` and ``mt-nspn-ratio-alt`` (ours / NSPN, same 34
    regions), ``mt-nspn-wm-1mm``, ``mt-nspn-wm-2mm``, ``mt-nspn-wm-av``, ``mt-nspn-ribbon``,
    ``mt-nspn-boundary`` (NSPN MT 1 and 2 mm below the grey/white boundary, averaged over each
    parcel's white matter, over the cortical ribbon and at the boundary; computed from the
    registered files by :func:`nspn_mt_by_depth`), ``mt-wm-ratio-raw`` and ``mt-wm-ratio-alt``
    (our cerebral WM / NSPN parcel white-matter average), ``mt-ribbon-ratio-raw`` / ``-alt``
    (our DK cortical MT / NSPN ribbon average),
    ``mt-scale-alt`` (text, "220/500").
    """
    nspn_dk = data.maps[("NSPN", "MTsat")]
    ours_dk = data.maps[("clinical MPM", "MTsat")] / MT_SCALE      # raw (unscaled) clinical DK map
    b1 = {MT_SCALE: float(data.clinical.fits.betas["b1"].mean()),
          MT_SCALE_ALT: float(data.clinical_alt.fits.betas["b1"].mean())}
    depth = nspn_mt_by_depth()["mean"]
    wm_1mm = float(depth["white matter, 1 mm below the boundary"])
    wm_2mm = float(depth["white matter, 2 mm below the boundary"])
    wm_av, ribbon = float(depth["white matter under each parcel, average"]), float(depth["cortical ribbon average"])
    ev = mt_scale_evidence(nspn_dk=nspn_dk, nspn_wm=wm_av, published_betas=published, b1=b1)
    numbers = {"mt-gm-raw": float(ev.loc[0, "raw"]), "mt-gm-alt": float(ev.loc[0, "alt"]),
               "mt-wm-raw": float(ev.loc[1, "raw"]), "mt-wm-alt": float(ev.loc[1, "alt"]),
               "mt-nspn": float(nspn_dk.mean()), "mt-clin-dk-raw": float(ours_dk.mean()),
               "mt-nspn-ratio-raw": float(ours_dk.mean() / nspn_dk.mean()),
               "mt-nspn-ratio-alt": float(ours_dk.mean() * MT_SCALE_ALT / nspn_dk.mean()),
               "mt-nspn-r": float(np.corrcoef(ours_dk, nspn_dk)[0, 1]),
               "mt-scale-alt": "220/500"}
    numbers.update({"mt-nspn-wm-1mm": wm_1mm, "mt-nspn-wm-2mm": wm_2mm, "mt-nspn-wm-av": wm_av,
                    "mt-nspn-ribbon": ribbon, "mt-nspn-boundary": float(depth["grey/white boundary"]),
                    "mt-wm-ratio-raw": numbers["mt-wm-raw"] / wm_av,
                    "mt-wm-ratio-alt": numbers["mt-wm-alt"] / wm_av,
                    "mt-ribbon-ratio-raw": float(ours_dk.mean() / ribbon),
                    "mt-ribbon-ratio-alt": float(ours_dk.mean() * MT_SCALE_ALT / ribbon)})
    ev.loc[ev["quantity"].str.startswith("cerebral WM"), "source"] = \
        "NSPN MPM, 297 subjects, white matter under the 34 left DK regions (per-parcel average)"
    ev.loc[len(ev)] = (f"cortical MT (p.u.), {len(nspn_dk)} left DK regions, whole ribbon", np.nan, ribbon,
                       "NSPN MPM, 297 subjects, cortical-ribbon average (Whitaker et al. 2016)", np.nan, np.nan)
    ev = pd.concat([ev[~ev["quantity"].str.startswith("β1")], ev[ev["quantity"].str.startswith("β1")]],
                   ignore_index=True)
    # the DK rows of ours: the clinical DK map's mean
    dk_row = ev["quantity"].str.startswith("cortical MT")
    ev.loc[dk_row, "raw"] = ours_dk.mean()
    ev.loc[dk_row, "alt"] = ours_dk.mean() * MT_SCALE_ALT
    ev.loc[dk_row, "main"] = ours_dk.mean() * MT_SCALE
    beta_rows = ev["quantity"].str.startswith("β1")
    index = [f"β₁ (s⁻¹ p.u.⁻¹) vs {src}" if b else q for q, b, src in zip(ev["quantity"], beta_rows, ev["source"])]
    shown = pd.DataFrame({
        "ours, MT unscaled (chosen)": [format_value(v, decimals=2 if not b else 3)
                                       for v, b in zip(ev["main"], beta_rows)],
        "ours, MT × 220/500": [format_value(v, decimals=2 if not b else 3) for v, b in zip(ev["alt"], beta_rows)],
        "customised protocol": [format_published(f"{v:.4f}") if b else format_value(v, decimals=2)
                                for v, b in zip(ev["custom"], beta_rows)],
        "source (customised protocol)": ["literature" if b else (f"real: {s}" if s else "— (see the DK row)")
                                         for s, b in zip(ev["source"], beta_rows)],
    }, index=index)
    shown.index.name = "quantity"
    return Report(numbers=numbers, tables={"mt-evidence": table(shown, index=True, as_text=True)}, data={"evidence": ev})


_SOURCE_TEXT = {"cooper2020clinicalmpm": "Cooper et al. 2020, data release",
                "hmri2026v1": "hMRI toolbox v1.0.0 defaults",
                "helms2008mtsat": "Helms et al. 2008, abstract"}


def report_mt_protocols() -> Report:
    """The two protocols' MT pulses and timing, as published (Table 1.2), and what they imply.

    Numbers: ``fa-custom`` and ``fa-vendor`` (MT-pulse flip angles, degrees), ``fa-ratio``
    (custom / vendor, the README's factor), ``fa-ratio-sq`` ((vendor / custom)²: the ratio of
    pulse energies at one pulse shape and duration), ``tr-vendor`` (MTw), ``tr-vendor-pdt1``
    (PDw and T1w) and ``tr-custom`` (PDw and T1w of the hMRI toolbox's FIL v3* protocol; ms),
    ``fa-helms2008`` (degrees), ``n-protocol-rows``.
    """
    text = _published_strings("mt_protocols")

    def value(protocol_start, quantity):
        row = text[text["protocol"].str.startswith(protocol_start) & (text["quantity"] == quantity)]
        if len(row) != 1:
            raise ValueError(f"ch1_mt_protocols.csv needs one row for {protocol_start!r} / {quantity!r}")
        return float(row["value"].iloc[0])

    fa_custom = value("customised MPM (Weiskopf", "MT pulse flip angle")
    fa_vendor = value("vendor MPM", "MT pulse flip angle")
    numbers = {"fa-custom": f"{fa_custom:.0f}", "fa-vendor": f"{fa_vendor:.0f}",
               "fa-ratio": fa_custom / fa_vendor, "fa-ratio-sq": (fa_vendor / fa_custom) ** 2,
               "tr-vendor": f"{value('vendor MPM', 'TR of the MT-weighted scan'):.0f}",
               "tr-vendor-pdt1": f"{value('vendor MPM', 'TR of the PD- and T1-weighted scans'):.0f}",
               "tr-custom": f"{value('customised MPM (FIL', 'TR of all volumes (PD-, T1- and MT-weighted)'):.0f}",
               "fa-helms2008": f"{value('original MTsat FLASH', 'MT pulse flip angle'):.0f}",
               "n-protocol-rows": len(text)}
    shown = pd.DataFrame({
        "protocol": text["protocol"],
        "quantity": text["quantity"],
        "value": [format_published(f"{v} {u}".replace(" °", "°")) for v, u in zip(text["value"], text["unit"])],
        "source (literature)": [_SOURCE_TEXT.get(c, c) for c in text["citation"]],
    })
    return Report(numbers=numbers, tables={"mt-protocols": table(shown, as_text=True)},
                  data={"protocols": text})


# --------------------------------------------------------------------------- linear model
_BETA_NAMES = {"b0": "β₀ (s⁻¹)", "b1": "β₁ (s⁻¹ p.u.⁻¹)", "b2": "β₂"}


def _beta_display(long: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Sources x β: 'mean ± SD', published rows at their published precision (read as text)."""
    raw = _load_published("ch1", "betas") if published is None else published
    text = _published_strings("betas")
    pub_text = {(r["source"], r["beta"]): (r["mean"], r["sd"]) for _, r in text.iterrows()}
    rows = {}
    for src in dict.fromkeys(long["source"]):
        row = {}
        for b in BETAS:
            sel = long[(long["source"] == src) & (long["beta"] == b)]
            if (src, b) in pub_text:
                m, s = pub_text[(src, b)]
                row[_BETA_NAMES[b]] = "—" if not m else (format_published(m) + (f" ± {s}" if s else ""))
            elif len(sel) and not pd.isna(sel["mean"].iloc[0]):
                d = 4 if b == "b2" else 3
                m, s = sel["mean"].iloc[0], sel["sd"].iloc[0]
                row[_BETA_NAMES[b]] = (format_value(m, decimals=d)
                                       + ("" if pd.isna(s) else f" ± {format_value(s, decimals=d)}"))
            else:
                row[_BETA_NAMES[b]] = "—"
        rows[src] = row
    out = pd.DataFrame(rows).T
    out.index.name = "source"
    return out


def linear_model_report(clinical: ClinicalModel, *, published: pd.DataFrame,
                        alt: ClinicalModel | None = None) -> dict:
    """Named numbers and tables of the linear model on the clinical MPM data.

    Parameters
    ----------
    clinical : ClinicalModel
        Fit with MT at the chapter's scale (:data:`MT_SCALE`, unscaled).
    published : pandas.DataFrame
        :func:`load_published` ``("betas")``; the rows whose source starts with
        ``"poster"`` give the poster's b1 for the ratios.
    alt : ClinicalModel, optional
        Fit with MT x :data:`MT_SCALE_ALT` (220/500), the sensitivity line
        (default: refitted).

    Returns
    -------
    dict
        ``b{0,1,2}-{mean,sd}``, ``b1-alt`` (mean b1 with MT x 220/500),
        ``b1-ratio`` and ``b1-alt-ratio`` (our mean b1 over the poster's),
        ``b1-callaghan-ratio`` (over Callaghan et al.'s cohort b1), ``b2-p``
        (two-sided one-sample t-test of b2 = 0 over subjects), ``vif``
        (largest), ``rsq-min``/``rsq-max`` and ``betas`` (long table for
        :func:`qmrigenes.figures.plot_beta_comparison`).
    """
    from scipy import stats

    alt = clinical_mpm_model(mt_scale=MT_SCALE_ALT) if alt is None else alt
    fits = clinical.fits
    n = len(fits.betas)
    label = f"ours: clinical MPM ({n} subjects; MT unscaled)"
    long = pd.concat([beta_table(fits.betas, published, label=label),
                      beta_table(alt.fits.betas, published.iloc[:0],
                                 label="ours: clinical MPM, MT × 220/500 (sensitivity)")],
                     ignore_index=True)
    summary = summarise_betas(fits.betas)
    poster = published[published["source"].str.startswith("poster")].set_index("beta")
    callaghan = published[published["source"].str.startswith("Callaghan 2015 (cohort")].set_index("beta")
    out = {f"{b}-{s}": float(summary.loc[b, s]) for b in BETAS for s in ("mean", "sd")}
    out["b1-alt"] = float(alt.fits.betas["b1"].mean())
    out["b1-alt-sd"] = float(alt.fits.betas["b1"].std())
    out["b1-ratio"] = out["b1-mean"] / float(poster.loc["b1", "mean"])
    out["b1-alt-ratio"] = out["b1-alt"] / float(poster.loc["b1", "mean"])
    out["b1-callaghan-ratio"] = out["b1-mean"] / float(callaghan.loc["b1", "mean"])
    out["b2-p"] = float(stats.ttest_1samp(fits.betas["b2"], 0.0).pvalue)
    out["vif"] = float(fits.vif.to_numpy().max())
    out["rsq-min"] = float(fits.rsquared.min())
    out["rsq-max"] = float(fits.rsquared.max())
    out["betas"] = long
    return out


def report_linear_model(data: ChapterData, *, published: pd.DataFrame) -> Report:
    """The linear model on the clinical MPM data: prose numbers, Table 1.2 and Figure 1.1."""
    return present_linear_model(data.clinical, data.clinical_alt, published=published)


def present_linear_model(clinical: ClinicalModel, alt: ClinicalModel, *, published: pd.DataFrame) -> Report:
    """Prose numbers, Table 1.2 and Figure 1.1 of two :func:`qmrigenes.mpm.clinical_mpm_model` fits
    (MT at the chapter's scale and the sensitivity scale; the chapter's visible cell makes them)."""
    from qmrigenes import figures as fm

    lm = linear_model_report(clinical, published=published, alt=alt)
    long = lm.pop("betas")
    fig = fm.plot_beta_comparison(long)
    return Report(numbers=lm, tables={"beta-table": table(_beta_display(long, published), index=True, as_text=True)},
                  figures={"fig-betas": fig}, data={"betas": long})


def leave_one_out_betas(clinical: ClinicalModel) -> pd.DataFrame:
    """Group-mean β with each subject left out in turn (exercise: drop one subject and refit).

    Returns
    -------
    pandas.DataFrame, shape (n_subjects, 3)
        Index: the subject left out; columns b0, b1, b2 (mean over the others), refitted from the
        per-subject tables with :func:`qmrigenes.mpm.fit_subjects`.
    """
    from qmrigenes.mpm import fit_subjects

    maps = clinical.maps
    rows = {}
    for s in maps["R1"].index:
        keep = maps["R1"].index != s
        fits = fit_subjects(maps["R1"][keep], maps["MTsat"][keep], maps["R2*"][keep])
        rows[s] = fits.betas.mean()
    out = pd.DataFrame(rows).T
    out.index.name = "left out"
    return out


def report_exercise_leave_one_out(data: ChapterData) -> Report:
    """Exercise: drop one subject and refit. Numbers ``ex-loo-b1-min``/``-max`` (mean β1 over the
    remaining subjects), ``ex-loo-b1-maxshift`` (largest change, in SDs of the subject β1),
    ``ex-loo-subject`` (the subject whose removal moves β1 most)."""
    return present_exercise_leave_one_out(data, leave_one_out_betas(data.clinical))


def present_exercise_leave_one_out(data: ChapterData, loo) -> Report:
    """Numbers and table of :func:`report_exercise_leave_one_out` from ``loo`` (subjects x b0, b1,
    b2: the group-mean β with that subject left out, as :func:`leave_one_out_betas`; or a dict
    subject -> Series of those means)."""
    if isinstance(loo, dict):
        loo = pd.DataFrame(loo).T
        loo.index.name = "left out"
    full = data.clinical.fits.betas["b1"]
    shift = (loo["b1"] - full.mean()).abs()
    shown = loo.copy()
    shown.columns = [_BETA_NAMES[c] for c in shown.columns]
    shown = shown.apply(lambda col: col.map(
        lambda v: format_value(v, decimals=4 if col.name == _BETA_NAMES["b2"] else 3)))
    return Report(numbers={"ex-loo-b1-min": float(loo["b1"].min()), "ex-loo-b1-max": float(loo["b1"].max()),
                           "ex-loo-b1-maxshift": float(shift.max() / full.std()),
                           "ex-loo-subject": str(shift.idxmax())},
                  tables={"ex-loo": table(shown, index=True, as_text=True)}, data={"loo": loo})


# --------------------------------------------------------------------------- simulation
def simulation_report(cohort: SimulatedCohort, result: VertexwiseResult) -> dict:
    """Recovery of the simulated truth by :func:`vertexwise_pipeline`.

    Returns
    -------
    dict
        ``sim-e-r`` (r of recovered and planted e over vertices), ``sim-e-dk-r``
        (over DK regions), ``sim-b{0,1,2}-r`` (r of estimated and true betas
        over subjects) and ``sim-b{0,1,2}-bias`` (mean estimate / mean truth - 1, %).
    """
    if not result.betas.shape == cohort.betas.shape:
        raise ValueError(f"result has {len(result.betas)} subjects, cohort {len(cohort.betas)}")
    out = {"sim-e-r": float(np.corrcoef(result.mean_maps["e"], cohort.epsilon)[0, 1]),
           "sim-e-dk-r": float(np.corrcoef(result.dk["e"], parcellate(cohort.epsilon, cohort.labels))[0, 1])}
    for b in BETAS:
        est, true = result.betas[b].to_numpy(), cohort.betas[b].to_numpy()
        out[f"sim-{b}-r"] = float(np.corrcoef(est, true)[0, 1])
        out[f"sim-{b}-bias"] = float(100 * (est.mean() / true.mean() - 1))
    return out


def present_simulation(cohort: SimulatedCohort, result: VertexwiseResult) -> Report:
    """Recovery numbers and Figure 1.2 of a vertexwise pipeline run on a simulated cohort (the
    chapter's visible cell calls :func:`qmrigenes.mpm.simulate_cohort` and
    :func:`qmrigenes.mpm.vertexwise_pipeline`)."""
    from qmrigenes import figures as fm

    return Report(numbers=simulation_report(cohort, result),
                  figures={"fig-sim": fm.plot_simulation_recovery(cohort, result)},
                  data={"cohort": cohort, "result": result})


def report_exercise_smoothing(cohort: SimulatedCohort, *, fwhms=(0.0, 6.0)) -> Report:
    """Exercise: what smoothing does to the recovered ε and β in the simulated cohort.

    Numbers per FWHM f (as an integer in the key): ``ex-smooth-e-r-f`` (r of recovered and
    planted ε over vertices), ``ex-smooth-e-dk-r-f`` (over DK regions), ``ex-smooth-b1-bias-f``
    (mean β1 bias, %), ``ex-smooth-b1-r-f``.
    """
    from qmrigenes import mpm

    return present_exercise_smoothing(cohort, {f: mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat, cohort.r2s,
                                                                          cohort.mesh, cohort.labels, fwhm=f)
                                               for f in fwhms})


def present_exercise_smoothing(cohort: SimulatedCohort, results: dict) -> Report:
    """Numbers and table of :func:`report_exercise_smoothing` from ``results`` ({FWHM (mm):
    :func:`qmrigenes.mpm.vertexwise_pipeline` result on ``cohort``})."""
    numbers, rows = {}, {}
    for f, res in results.items():
        rep = simulation_report(cohort, res)
        k = f"{f:g}"
        for name in ("e-r", "e-dk-r", "b1-bias", "b1-r"):
            numbers[f"ex-smooth-{name}-{k}"] = rep[f"sim-{name}"]
        rows[f"{f:g} mm"] = {"r(ε), vertices": format_value(rep["sim-e-r"], decimals=3),
                             "r(ε), 34 DK regions": format_value(rep["sim-e-dk-r"], decimals=3),
                             "β₁ bias (%)": format_value(rep["sim-b1-bias"], decimals=1),
                             "r(β₁)": format_value(rep["sim-b1-r"], decimals=3)}
    shown = pd.DataFrame(rows).T
    shown.index.name = "smoothing FWHM"
    return Report(numbers=numbers, tables={"ex-smooth": table(shown, index=True, as_text=True)})


# --------------------------------------------------------------------------- association
class Association(NamedTuple):
    """Table 1 statistics (:func:`qmrigenes.stats.spatial.gene_set_association`), the
    null arrays, and the seconds spent on spins (``t-spin``) and on scoring (``t-assoc``)."""

    table: pd.DataFrame
    nulls: dict
    seconds: dict


def cell_type_association(data: ChapterData, *, n_perm: int = 10_000, seed: int = 0,
                          method: str = "hungarian") -> Association:
    """Gene- and spatial-specificity tests of the 9 cell types against every DK map.

    ``n_perm`` random gene sets from the panel and ``n_perm`` parcel spins
    (:func:`qmrigenes.stats.spatial.spin_permutations`), both with ``seed``.
    """
    import time

    from qmrigenes.stats import spatial

    t0 = time.perf_counter()
    from qmrigenes.surface import sphere_centroids

    perms = spatial.spin_permutations(sphere_centroids(hemisphere="L"), n_perm=n_perm, seed=seed, method=method)
    t1 = time.perf_counter()
    table, nulls = spatial.gene_set_association(data.expression, data.maps, data.gene_sets,
                                                background=data.panel.index, perms=perms, n_perm=n_perm,
                                                seed=seed, return_nulls=True)
    return Association(table, nulls, {"t-spin": t1 - t0, "t-assoc": time.perf_counter() - t1})


def present_association(data: ChapterData, assoc: Association, *, n_perm: int) -> Report:
    """Numbers and Figure 1.3 of the gene- and spatial-specificity tests (the chapter's visible
    cell calls :func:`qmrigenes.stats.spatial.spin_permutations` and
    :func:`qmrigenes.stats.spatial.gene_set_association`). ``data`` keeps ``assoc``."""
    from qmrigenes.ahba import gene_set_expression
    from qmrigenes import figures as fm

    significant = significant_sets(assoc.table, dataset="clinical MPM", alpha=0.05)
    set_expression = gene_set_expression(data.expression, data.gene_sets, sets=significant)
    numbers = dict(assoc.seconds) | {"n-perm": f"{n_perm:,}", "sig-sets": ", ".join(map(set_label, significant))}
    numbers |= {f"top-{m.replace('*', 's')}": v for m, v in top_regions(data.maps["clinical MPM"]).items()}
    fig = fm.plot_maps_with_gene_sets(data.maps["clinical MPM"], set_expression)
    return Report(numbers=numbers, figures={"fig1": fig}, data={"assoc": assoc})


def _table1_display(table: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Table 1.3 in long form: (map, cell type) rows; poster values as printed, ours in one style."""
    text = _published_strings("table1")
    text = text.set_index(["cell_type", "map"])
    sub = table.xs("clinical MPM", level="dataset")
    names = {"R1": "R1", "MTsat": "MTsat", "R2*": "R2*", "e": "ε"}
    rows = []
    for m in ("R1", "MTsat", "R2*", "e"):
        for ct in dict.fromkeys(published["cell_type"]):
            o = sub.loc[(ct, m)]
            p = text.loc[(ct, m)]
            rows.append((names[m], set_label(ct), format_published(p["r"]), format_published(p["p_fdr"]),
                         format_value(o["r"], decimals=2), format_p(o["p_gene_fdr"], markup="text"), format_p(o["p_spin_fdr"], markup="text")))
    cols = ["map", "cell type", "r (poster)", "p FDR (poster)", "r (ours)",
            "p FDR, random genes (ours)", "p FDR, spins (ours)"]
    return pd.DataFrame(rows, columns=cols).set_index(["map", "cell type"])


def _table1_other_display(table: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Table 1.4: the poster's MTsat column beside NSPN MT and HCP T1w/T2w."""
    text = _published_strings("table1")
    text = text[text["map"] == "MTsat"].set_index("cell_type")
    rows = []
    for ct in dict.fromkeys(published["cell_type"]):
        row = [set_label(ct), format_published(text.loc[ct, "r"]), format_published(text.loc[ct, "p_fdr"])]
        for ds, m in (("NSPN", "MTsat"), ("HCP", "T1w/T2w")):
            o = table.loc[(ct, ds, m)]
            row += [format_value(o["r"], decimals=2), format_p(o["p_gene_fdr"], markup="text"), format_p(o["p_spin_fdr"], markup="text")]
        rows.append(row)
    cols = pd.MultiIndex.from_tuples([("", "cell type"), ("poster MTsat", "r"), ("poster MTsat", "p FDR"),
                                      ("NSPN MT", "r"), ("NSPN MT", "p FDR, genes"), ("NSPN MT", "p FDR, spins"),
                                      ("HCP T1w/T2w", "r"), ("HCP T1w/T2w", "p FDR, genes"),
                                      ("HCP T1w/T2w", "p FDR, spins")])
    out = pd.DataFrame(rows, columns=cols).set_index(("", "cell type"))
    out.index.name = "cell type"
    return out


def report_table1(assoc: Association, *, published: pd.DataFrame) -> Report:
    """Table 1 beside the poster's (Tables 1.3, 1.4) and the named findings of the prose."""
    numbers = poster_tied_pvalue(published) | table1_findings(assoc.table, published)
    tables = {"table1-clinical": table(_table1_display(assoc.table, published), csv_name="ch1_table1_clinical", index=True, as_text=True),
              "table1-other": table(_table1_other_display(assoc.table, published), csv_name="ch1_table1_other", index=True, as_text=True)}
    return Report(numbers=numbers, tables=tables)


def null_histograms(nulls: dict, table: pd.DataFrame, *, map_key, draws=(100, 300, 1000, 3000, 10000),
                    bins=np.linspace(-0.6, 0.6, 49)) -> dict:
    """Histogram densities of the first n draws of each null, per gene set (for the interactive figure).

    Returns
    -------
    dict
        ``x`` (bin centres), ``edges`` (n_bins + 1), ``gene`` and ``spin`` arrays (n_sets, n_draws, n_bins),
        ``observed`` (n_sets,), ``sets`` and ``draws`` (those not above the number available).
    """
    key = map_key if isinstance(map_key, tuple) else (map_key,)
    maps = list(table.index.droplevel("gene_set").unique())
    m = maps.index(key if len(key) > 1 else key[0])
    n_avail = nulls["gene"].shape[0]
    draws = [int(d) for d in draws if d <= n_avail]
    if not draws:
        raise ValueError(f"no draw count <= the {n_avail} available")
    width = np.diff(bins)
    out = {"x": 0.5 * (bins[1:] + bins[:-1]), "edges": np.asarray(bins, float), "sets": list(nulls["sets"]),
           "draws": draws}
    for kind in ("gene", "spin"):
        arr = np.empty((len(out["sets"]), len(draws), len(bins) - 1))
        for s in range(len(out["sets"])):
            for j, d in enumerate(draws):
                h, _ = np.histogram(nulls[kind][:d, s, m], bins=bins)
                arr[s, j] = h / (d * width)
        out[kind] = arr
    out["observed"] = np.array([table.loc[(s, *key), "r"] for s in out["sets"]])
    return out


def report_nulls(assoc: Association, *, map_key=("clinical MPM", "R1")) -> Report:
    """Figure 1.4 (both nulls for one map) and its interactive version (draws slider, cell-type menu)."""
    from qmrigenes import figures as fm

    from . import interactive

    fig = fm.plot_null_distributions(assoc.nulls, assoc.table, map_key=map_key)
    h = null_histograms(assoc.nulls, assoc.table, map_key=map_key)
    n_sets, n_draws = len(h["sets"]), len(h["draws"])
    def _steps(a):  # one value per left bin edge; the last edge closes the histogram at zero
        return np.concatenate([a, np.zeros(a.shape[:-1] + (1,))], axis=-1)

    widget = interactive.slider_figure(
        x=h["edges"], series={"random gene sets": _steps(h["gene"]), "spun maps": _steps(h["spin"])}, step=True,
        slider_values=h["draws"], slider_label="draws", initial=n_draws - 1,
        dropdown={"label": "cell type", "options": [set_label(s) for s in h["sets"]]},
        markers={"random gene sets": np.repeat(h["observed"][:, None], n_draws, axis=1)},
        marker_label="observed r = {:.2f}", xlabel="gene-set score r", ylabel="density",
        marker_style="line", ylim_per_option=True,
        title=f"Null distributions, clinical MPM {map_key[1]} (real data)",
        caption="Move the slider to use the first 100 to 10,000 draws of each null; choose a cell type.",
        fallback="The static figure above shows both nulls for every cell type.")
    return Report(figures={"fig-nulls": fig, "nulls-widget": widget}, data={"hist": h})


def report_exercise_spin_method(data: ChapterData, assoc: Association, *, n_perm: int = 10_000,
                                seed: int = 0, map_key=("clinical MPM", "R1")) -> Report:
    """Exercise: greedy (Váša) versus Hungarian spins, and random genes versus spins, on one map.

    Numbers: ``ex-spin-n-gene``, ``ex-spin-n-hungarian``, ``ex-spin-n-greedy`` (cell types with
    FDR p < 0.05 on the map), ``ex-spin-maxdiff`` (largest |p greedy − p Hungarian|, uncorrected),
    ``ex-spin-fixed`` (fraction of greedy spins that leave a region in place vs Hungarian:
    ``ex-spin-fixed-greedy``, ``ex-spin-fixed-hungarian``).
    """
    greedy = cell_type_association(data, n_perm=n_perm, seed=seed, method="vasa")
    return present_exercise_spin_method(assoc, greedy.table, seconds=greedy.seconds["t-spin"], map_key=map_key)


def present_exercise_spin_method(assoc: Association, greedy: pd.DataFrame, *, seconds: float,
                                 map_key=("clinical MPM", "R1")) -> Report:
    """Numbers and table of :func:`report_exercise_spin_method` from ``greedy``, the
    :func:`qmrigenes.stats.spatial.gene_set_association` table with greedy (``method="vasa"``)
    spins of the same rotations, and ``seconds`` (time to generate those spins)."""
    a = assoc.table.xs(map_key, level=("dataset", "map"))
    g = greedy.xs(map_key, level=("dataset", "map"))
    rows = {}
    for s in a.index:
        rows[set_label(s)] = {"r": format_value(a.loc[s, "r"], decimals=2), "p FDR, random genes": format_p(a.loc[s, "p_gene_fdr"], markup="text"),
                              "p FDR, Hungarian spins": format_p(a.loc[s, "p_spin_fdr"], markup="text"),
                              "p FDR, greedy spins": format_p(g.loc[s, "p_spin_fdr"], markup="text")}
    shown = pd.DataFrame(rows).T
    shown.index.name = "cell type"
    numbers = {"ex-spin-n-gene": int((a["p_gene_fdr"] < 0.05).sum()),
               "ex-spin-n-hungarian": int((a["p_spin_fdr"] < 0.05).sum()),
               "ex-spin-n-greedy": int((g["p_spin_fdr"] < 0.05).sum()),
               "ex-spin-maxdiff": float((a["p_spin"] - g["p_spin"]).abs().max()),
               "ex-spin-t-greedy": seconds}
    return Report(numbers=numbers, tables={"ex-spin": table(shown, index=True, as_text=True)})


# --------------------------------------------------------------------------- scorecard
def report_scorecard(data: ChapterData, assoc: Association, *, published_t1: pd.DataFrame,
                     published_betas: pd.DataFrame, smoothing_fwhm: float = 6.0) -> Report:
    """Table 1.5: every number the poster reports, ours beside it (complete, scrolls, CSV download)."""
    fits = data.clinical.fits
    card = scorecard(table1=published_t1, published_betas=published_betas,
                     published_methods=load_published("methods"), ours=assoc.table, betas=fits.betas,
                     present=data.present, n_subjects=len(fits.betas), n_labels=fits.residuals.shape[1],
                     smoothing_fwhm=smoothing_fwhm)
    # grouped: the data used and the reason for a difference are stated once per group of rows
    shown = card.astype(object).where(card.notna(), MISSING)
    grouped = grouped_table(shown, group_by=["section", "our data", "reason for difference"],
                            columns={"quantity": "quantity", "poster": ColumnSpec("poster", kind="published"),
                                     "ours": ColumnSpec("ours", kind="published")},
                            csv_name="ch1_scorecard", what="numbers")
    return Report(numbers={"n-scorecard": len(card)}, tables={"scorecard": grouped}, data={"scorecard": card})


# --------------------------------------------------------------------------- Monte-Carlo precision (issue 21)
def mc_intervals(assoc: Association, *, alpha: float = 0.05, level: float = 0.99) -> pd.DataFrame:
    """Monte-Carlo intervals of every p-value of Table 1 and of its BH-FDR decision.

    A p-value from B random draws, ``p = 2 (k + 1) / (B + 1)`` with ``k`` the smaller tail count
    (:func:`qmrigenes.stats.genesets.null_pvalues`), estimates ``2 pi``, ``pi`` the tail
    probability of the null. A Clopper-Pearson interval (``level``) for ``pi`` from ``k`` of
    ``B`` gives an interval for p; BH-adjusted p-values rise with every raw p, so adjusting the
    lower and the upper ends within each map bounds the FDR p. A call (FDR p < ``alpha``) is
    *within Monte-Carlo error* when that FDR interval contains ``alpha``.

    Returns
    -------
    pandas.DataFrame
        Index (null, gene_set, dataset, map); ``p_fdr``, ``fdr_lo``, ``fdr_hi``, ``significant``,
        ``uncertain`` and ``n_draws``.
    """
    from scipy import stats as st

    from qmrigenes.stats.multitest import fdr_bh

    table = assoc.table
    maps = list(table.index.droplevel("gene_set").unique())
    frames = []
    for kind, col in (("gene", "p_gene"), ("spin", "p_spin")):
        null = assoc.nulls[kind]
        b = null.shape[0]
        obs = np.array([[table.loc[(s, *m), "r"] for m in maps] for s in assoc.nulls["sets"]])
        tol = 1e-12 * np.maximum(1.0, np.abs(obs))
        k = np.minimum((null >= obs - tol).sum(axis=0), (null <= obs + tol).sum(axis=0))
        a = (1 - level) / 2
        lo = np.where(k > 0, st.beta.ppf(a, k, b - k + 1), 0.0)
        hi = np.where(k < b, st.beta.ppf(1 - a, k + 1, b - k), 1.0)
        p_lo, p_hi = np.minimum(1, 2 * lo), np.minimum(1, 2 * hi)
        for j, m in enumerate(maps):
            f_lo, f_hi = fdr_bh(p_lo[:, j]), fdr_bh(p_hi[:, j])
            for i, s in enumerate(assoc.nulls["sets"]):
                fdr = float(table.loc[(s, *m), f"{col}_fdr"])
                frames.append({"null": kind, "gene_set": s, "dataset": m[0], "map": m[1], "p_fdr": fdr,
                               "fdr_lo": float(min(f_lo[i], fdr)), "fdr_hi": float(max(f_hi[i], fdr)),
                               "n_draws": b})
    out = pd.DataFrame(frames).set_index(["null", "gene_set", "dataset", "map"])
    out["significant"] = out["p_fdr"] < alpha
    out["uncertain"] = (out["fdr_lo"] < alpha) & (out["fdr_hi"] >= alpha)
    return out


def report_mc_precision(data: ChapterData, assoc: Association, *, n_check: int = 100_000, seed: int = 1,
                        alpha: float = 0.05, level: float = 0.99) -> Report:
    """Which Table 1 calls are within Monte-Carlo error, and what ``n_check`` random gene sets say.

    Numbers: ``mc-level`` (percent), ``mc-n-uncertain-gene`` / ``-spin`` (calls whose FDR interval
    contains ``alpha``), ``mc-n-check``, ``mc-n-flip`` (gene-null calls that change with
    ``n_check`` draws, another seed), ``mc-uncertain`` (the uncertain calls, text).
    Table ``mc``: every uncertain call with its interval and the ``n_check``-draw FDR p.
    """
    from qmrigenes.stats import spatial

    big = spatial.gene_set_association(data.expression, data.maps, data.gene_sets, background=data.panel.index,
                                       n_perm=n_check, seed=seed)
    return present_mc_precision(assoc, big, n_check=n_check, alpha=alpha, level=level)


def present_mc_precision(assoc: Association, big: pd.DataFrame, *, n_check: int, alpha: float = 0.05,
                         level: float = 0.99) -> Report:
    """What :func:`report_mc_precision` returns, for a re-run ``big`` of
    :func:`qmrigenes.stats.spatial.gene_set_association` with ``n_check`` random gene sets
    (the chapter's visible cell makes it)."""
    iv = mc_intervals(assoc, alpha=alpha, level=level)
    gene = iv.xs("gene", level="null")
    check = big["p_gene_fdr"].reindex(gene.index)
    flips = (check < alpha) != gene["significant"]
    unc = iv[iv["uncertain"]]
    rows = []
    for (kind, s, ds, m), r in unc.iterrows():
        rows.append({"null": "random genes" if kind == "gene" else "spins", "map": f"{ds} {m}",
                     "cell type": set_label(s), "p FDR": format_p(r["p_fdr"], markup="text"),
                     f"{level:.0%} Monte-Carlo interval": f"{format_p(r['fdr_lo'], markup='text')} – {format_p(r['fdr_hi'], markup='text')}",
                     f"p FDR, {n_check:,} gene sets": format_p(check.loc[(s, ds, m)], markup="text") if kind == "gene" else MISSING})
    shown = pd.DataFrame(rows)
    if not shown.empty:
        shown = shown.set_index(["null", "map", "cell type"])
    names = [f"{set_label(s)} / {m if ds == 'clinical MPM' else f'{ds} {m}'} ({'genes' if k == 'gene' else 'spins'})"
             for k, s, ds, m in unc.index]
    numbers = {"mc-level": f"{100 * level:.0f}", "mc-n-uncertain-gene": int(unc.xs("gene", level="null").shape[0]
                                                                           if "gene" in unc.index.get_level_values(0) else 0),
               "mc-n-uncertain-spin": int(unc.xs("spin", level="null").shape[0]
                                          if "spin" in unc.index.get_level_values(0) else 0),
               "mc-n-check": f"{n_check:,}", "mc-n-flip": int(flips.sum()),
               "mc-flips": _name_list([f"{set_label(s)} / {m}" for s, ds, m in flips.index[flips]]) or "none",
               "mc-uncertain": "; ".join(names) or "none",
               "mc-n-sig-gene-certain": int((gene["significant"] & ~gene["uncertain"]).sum()),
               "mc-n-sig-gene": int(gene["significant"].sum())}
    return Report(numbers=numbers, tables={"mc": table(shown, index=True, as_text=True)} if not shown.empty else {},
                  data={"intervals": iv, "check": big})


# --------------------------------------------------------------------------- the spin null, stated (issue 21)
def present_spin_null(assoc: Association, redraws: dict, raw: pd.DataFrame, *, spins: pd.DataFrame) -> Report:
    """How often neuromaps redraws a spin here, and what keeping those spins would do to the spin p.

    ``redraws`` is :func:`qmrigenes.stats.spatial.spin_redraws` (same centroids, ``n_perm`` and
    seed as ``spins``, the spins the chapter used), ``raw`` the
    :func:`qmrigenes.stats.spatial.gene_set_association` table with ``perms=redraws["raw"]``.

    Numbers: ``spin-n-rot`` (rotations drawn for ``n_perm`` spins), ``spin-n-identity``,
    ``spin-n-dup`` (redrawn), ``spin-redraw-pct``, ``spin-same`` (the re-run equals the spins
    used), ``spin-raw-identity``, ``spin-raw-dup`` (among the first ``n_perm`` raw spins),
    ``spin-p-ratio-max`` and ``spin-p-ratio-median`` (ratio of the spin p with the raw spins to the
    chapter's, over the 10 smallest spin p-values) and ``spin-p-min`` / ``spin-p-min-raw``.
    """
    out = redraws
    same = bool(np.array_equal(out["kept"].to_numpy(), spins.to_numpy()))
    p, p_raw = assoc.table["p_spin"], raw["p_spin"].reindex(assoc.table.index)
    smallest = p.nsmallest(10).index
    ratio = p_raw.loc[smallest] / p.loc[smallest]
    redrawn = out["n_identity"] + out["n_duplicate"]
    numbers = {"spin-n-rot": f"{out['n_rotations']:,}", "spin-n-identity": out["n_identity"],
               "spin-n-dup": out["n_duplicate"], "spin-redraw-pct": 100 * redrawn / out["n_rotations"],
               "spin-same": "yes" if same else "no", "spin-raw-identity": out["raw_identity"],
               "spin-raw-dup": out["raw_duplicate"], "spin-p-ratio-max": float(ratio.max()),
               "spin-p-ratio-median": float(ratio.median()), "spin-p-min": float(p.min()),
               "spin-p-min-raw": float(p_raw.loc[p.idxmin()])}
    return Report(numbers=numbers, data={"redraws": out, "same": same, "p_raw": p_raw})
