"""Chapter 1 (MPM cortical surface vs cell-type genes): the chapter's data, reports and comparisons with the poster.

Book study code: depends on the library ``qmrigenes``, never the reverse.
"""
from __future__ import annotations

from qmrigenes.datasets import CLINICAL_MPM_MT_SCALE
from qmrigenes.datasets import load_nspn_mt
from .pages import load_published as _load_published
from qmrigenes.mpm import (BETAS, ClinicalModel, SimulatedCohort, VertexwiseResult, ahba_left_cortex, clinical_mpm_model, real_dk_maps, summarise_betas)
from qmrigenes.surface import parcellate
from typing import NamedTuple
import numpy as np
import pandas as pd


# ---- moved from qmrigenes.mpm
# --------------------------------------------------------------------------- published values
def load_published(name: str) -> pd.DataFrame:
    """A committed table of published Chapter 1 numbers (``data/published/ch1_<name>.csv``).

    ``name`` is ``"table1"`` (the poster's Table 1: cell_type, n_genes, map, r,
    p_fdr) or ``"betas"`` (poster and Callaghan et al. 2015 coefficients).
    Every row carries its citation key and location.
    """
    return _load_published("ch1", name)


def table1_comparison(ours: pd.DataFrame, published: pd.DataFrame, *, dataset: str,
                      maps=("R1", "MTsat", "R2*", "e")) -> pd.DataFrame:
    """Our Table 1 beside the poster's, for one data set.

    Parameters
    ----------
    ours : pandas.DataFrame
        Output of :func:`qmrigenes.stats.spatial.gene_set_association` with
        index (gene_set, dataset, map).
    published : pandas.DataFrame
        :func:`load_published` ``("table1")``.
    dataset : str
        Which of our data sets to show (e.g. ``"clinical MPM"``).
    maps : sequence of str
        Map names present for ``dataset``; a poster map that the data set
        lacks is compared with the nearest one given as ``{poster: ours}``
        via a mapping.

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


def scorecard(*, table1: pd.DataFrame, published_betas: pd.DataFrame, published_methods: pd.DataFrame,
              ours: pd.DataFrame,
              betas: pd.DataFrame, present: pd.DataFrame, n_subjects: int, n_labels: int,
              smoothing_fwhm: float, dataset: str = "clinical MPM") -> pd.DataFrame:
    """Every number the poster reports, ours beside it, the data used and why they differ.

    Parameters
    ----------
    table1 : :func:`load_published` ``("table1")``
    published_betas : :func:`load_published` ``("betas")`` (rows whose source starts with "poster")
    published_methods : :func:`load_published` ``("methods")``
    ours : association table (index gene_set, dataset, map)
    betas : our per-subject betas (subjects x b0, b1, b2)
    present : genes present per set (``n_genes``, ``n_present``)
    n_subjects : number of subjects of our MPM data set
    n_labels : number of cortical labels (observations) of our per-subject fit
    smoothing_fwhm : the FWHM (mm) used in our simulation pipeline
    dataset : our data set compared for the Table 1 cells
    """
    rows = []
    data_mpm = "real: clinical MPM (Cooper et al. 2020), 6 subjects x 3 repeats, Neuromorphometrics -> DK"
    meth = published_methods.set_index("quantity")["value"]
    rows.append(("Methods", "subjects", meth["subjects"], n_subjects, data_mpm,
                 "poster cohort (MEG UK) is private; the public MPM set with R1, MT and R2* has 6"))
    rows.append(("Methods", "MPM resolution (um)", meth["MPM resolution"], np.nan, data_mpm,
                 "clinical protocol of the public data (Cooper et al. 2020)"))
    rows.append(("Methods", "surface smoothing FWHM (mm)", meth["surface smoothing FWHM"], smoothing_fwhm,
                 "simulated cohort on fsaverage5",
                 "same kernel; the real public data are regional, so smoothing applies to the simulation"))
    rows.append(("Methods", "sampling depth (%)", meth["sampling depth"], 50,
                 "real: NSPN MT at 50% depth; simulation on the midthickness",
                 "same depth (clinical MPM data are volumetric region means)"))
    summary = summarise_betas(betas)
    poster = published_betas[published_betas["source"].str.startswith("poster")].set_index("beta")
    for b in BETAS:
        for stat in ("mean", "sd"):
            rows.append(("Results", f"{b} {stat}", poster.loc[b, stat], summary.loc[b, stat],
                         data_mpm + ", MT x 220/500",
                         f"regional (not vertexwise) fit on {n_labels} bilateral labels of another protocol and cohort"))
    t1 = table1.drop_duplicates("cell_type").set_index("cell_type")
    for ct, row in t1.iterrows():
        rows.append(("Table 1", f"{ct}: number of genes", row["n_genes"], present.loc[ct, "n_present"],
                     "real: Shin et al. 2018 panel in the AHBA DK table (imaging-transcriptomics)",
                     "our count is the genes present in the expression table; the poster's matches the panel"))
    sub = ours.xs(dataset, level="dataset")
    for _, row in table1.iterrows():
        o = sub.loc[(row["cell_type"], row["map"])]
        for stat, pub, mine in (("r", row["r"], o["r"]), ("p (FDR)", row["p_fdr"], o["p_gene_fdr"])):
            rows.append(("Table 1", f"{row['cell_type']} / {row['map']}: {stat}", pub, mine,
                         f"real: {dataset} map x AHBA left cortex (34 DK)",
                         "different cohort, protocol and atlas; regional rather than vertexwise maps"))
    out = pd.DataFrame(rows, columns=["section", "quantity", "poster", "ours", "our data", "reason for difference"])
    out["poster"] = out["poster"].astype(float)
    out["ours"] = out["ours"].astype(float)
    return out


# --------------------------------------------------------------------------- chapter reports
class ChapterData(NamedTuple):
    """The real inputs of Chapter 1 (see :func:`load_chapter_data`)."""

    expression: pd.DataFrame
    panel: pd.DataFrame
    gene_sets: dict
    present: pd.DataFrame
    clinical: ClinicalModel
    maps: pd.DataFrame
    nspn: object


def load_chapter_data() -> ChapterData:
    """Load the AHBA left cortex, the cell-type panel, the clinical MPM model and all DK maps.

    Returns
    -------
    ChapterData
        ``expression`` (34 x 15,633), ``panel`` (2,511 genes), ``gene_sets``
        (9 cell types), ``present`` (:func:`~qmrigenes.stats.genesets.genes_present`),
        ``clinical`` (:func:`clinical_mpm_model`), ``maps`` (:func:`real_dk_maps`)
        and ``nspn`` (:func:`~qmrigenes.datasets.load_nspn_mt`).
    """
    from qmrigenes.datasets import celltype_gene_sets, load_celltype_panel
    from qmrigenes.stats.genesets import genes_present

    expression = ahba_left_cortex()
    panel = load_celltype_panel()
    gene_sets = celltype_gene_sets(panel)
    clinical = clinical_mpm_model()
    return ChapterData(expression, panel, gene_sets, genes_present(gene_sets, expression.columns),
                       clinical, real_dk_maps(clinical=clinical), load_nspn_mt())


def data_counts(data: ChapterData) -> dict:
    """Named counts of the Chapter 1 inputs (genes, panel, subjects, labels) and the genes-present table."""
    n_present = int(data.panel.index.isin(data.expression.columns).sum())
    return {"n-genes-expr": int(data.expression.shape[1]), "n-panel": len(data.panel),
            "n-panel-present": n_present, "n-nspn": len(data.nspn.values),
            "n-nspn-left": int((data.nspn.parcels["hemisphere"] == "L").sum()),
            "n-clin-labels": int(data.clinical.maps["R1"].shape[1]),
            "n-clin-subjects": int(data.clinical.maps["R1"].shape[0]),
            "present": data.present[["n_genes", "n_present", "missing"]]}


def linear_model_report(clinical: ClinicalModel, *, published: pd.DataFrame,
                        raw: ClinicalModel | None = None) -> dict:
    """Named numbers and tables of the linear model on the clinical MPM data.

    Parameters
    ----------
    clinical : ClinicalModel
        Fit with MT scaled (:func:`clinical_mpm_model`).
    published : pandas.DataFrame
        :func:`load_published` ``("betas")``; the rows whose source starts with
        ``"poster"`` give the poster's b1 for the ratios.
    raw : ClinicalModel, optional
        Fit with MT unscaled (default: refitted with ``mt_scale=1``).

    Returns
    -------
    dict
        ``b{0,1,2}-{mean,sd}``, ``b1-raw`` (unscaled mean b1), ``b1-ratio`` and
        ``b1-raw-ratio`` (our mean b1 over the poster's), ``b2-p`` (two-sided
        one-sample t-test of b2 = 0 over subjects), ``vif`` (largest),
        ``rsq-min``/``rsq-max``, ``betas`` (long table for
        :func:`qmrigenes.figures.mpm.plot_beta_comparison`) and ``beta-table``
        (sources x (mean, sd) x beta).
    """
    from scipy import stats

    raw = clinical_mpm_model(mt_scale=1.0) if raw is None else raw
    fits = clinical.fits
    n = len(fits.betas)
    label = f"ours: clinical MPM ({n} subjects; MT x {CLINICAL_MPM_MT_SCALE * 500:.0f}/500)"
    long = pd.concat([beta_table(fits.betas, published, label=label),
                      beta_table(raw.fits.betas, published.iloc[:0], label="ours: clinical MPM, MT unscaled")],
                     ignore_index=True)
    summary = summarise_betas(fits.betas)
    poster = published[published["source"].str.startswith("poster")].set_index("beta")
    out = {f"{b}-{s}": float(summary.loc[b, s]) for b in BETAS for s in ("mean", "sd")}
    out["b1-raw"] = float(raw.fits.betas["b1"].mean())
    out["b1-ratio"] = out["b1-mean"] / float(poster.loc["b1", "mean"])
    out["b1-raw-ratio"] = out["b1-raw"] / float(poster.loc["b1", "mean"])
    out["b2-p"] = float(stats.ttest_1samp(fits.betas["b2"], 0.0).pvalue)
    out["vif"] = float(fits.vif.to_numpy().max())
    out["rsq-min"] = float(fits.rsquared.min())
    out["rsq-max"] = float(fits.rsquared.max())
    out["betas"] = long
    out["beta-table"] = (long.pivot(index="source", columns="beta", values=["mean", "sd"])
                         .reindex(list(dict.fromkeys(long["source"]))))
    return out


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
    both = table[gene & spin].xs("clinical MPM", level="dataset")
    out["both-clinical"] = _name_list(f"{set_label(s)}/{m}" for s, m in both.index)
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
