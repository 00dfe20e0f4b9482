"""Chapter 2 (QSM deep grey nuclei vs AHBA): the chapter's studies, summaries and comparisons with Cohen et al. 2024.

Book study code: depends on the library ``qmrigenes``, never the reverse.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from qmrigenes.ahba import (ahba_qsm_expression, expression_by_roi, filter_probes, load_crosswalk, matching_report,
                            read_donors, roi_sampling, roi_structure_table, select_probes_ds, simulate_qsm,
                            simulate_roi_expression, write_synthetic_donors)
from qmrigenes.stats.regression import (GenomeWideOLS, gene_table, genome_wide_ols, map_gene_tables, per_donor_ols,
                                        set_level_tests)

from . import display
from .citations import author_year
from .display import MISSING, format_p, format_published
from .report import Report


# --------------------------------------------------------------------------- chapter summaries
#: Genes the paper found significant (BH FDR 0.05, QSM dataset 1; Secs 3.1-3.2):
#: all iron genes but TFRC and all myelin genes but MBP, NRG1, EIF2AK3, POU3F1.
PAPER_SIGNIFICANT_IRON = ("TF", "SLC40A1", "FTH1", "FTL", "SLC11A2")
PAPER_SIGNIFICANT_MYELIN = ("CNP", "OLIG2", "MAL", "MOBP", "MOG", "CLDN11", "PLP1", "GAL3ST1", "PLLP",
                            "ILK", "OMG", "KLK6", "MAG")
#: The 13 iron and myelin genes of the paper's PLS model (``plsGeneDG.m``).
PLS_GENES = ("TF", "FTL", "FTH1", "SLC40A1", "CNP", "MAG", "MAL", "MOBP", "MOG", "CLDN11", "PLP1", "GAL3ST1",
             "PLLP")


def load_planted_effects(*, iron: float = 0.7, myelin: float = 0.6) -> dict[str, float]:
    """Planted QSM-expression correlations for a simulation: the paper's significant genes.

    Returns
    -------
    dict
        Gene -> correlation ``a``: ``iron`` for :data:`PAPER_SIGNIFICANT_IRON`,
        ``myelin`` for :data:`PAPER_SIGNIFICANT_MYELIN`; every other gene has none.
    """
    for name, a in (("iron", iron), ("myelin", myelin)):
        if not 0 <= a <= 1:
            raise ValueError(f"{name} effect must be in [0, 1], got {a}")
    out = {g: iron for g in PAPER_SIGNIFICANT_IRON}
    out.update({g: myelin for g in PAPER_SIGNIFICANT_MYELIN})
    return out


#: Display names of the literature table's susceptibility components.
_COMPONENTS = {"chi_para": "χpara", "chi_dia": "χdia", "chi_total": "χ (bulk QSM)"}


def _join_names(names) -> str:
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _sampling_overview(annotations: pd.DataFrame, *, table: pd.DataFrame | None = None) -> dict:
    """Who sampled which ROI, and where the published matching differs from ours.

    Parameters
    ----------
    annotations : pandas.DataFrame
        :func:`qmrigenes.datasets.load_ahba_sample_annotations`.

    Returns
    -------
    dict
        ``counts`` (ROIs x donors, samples matched with ``method="prefix"``),
        ``differences`` (ROIs whose total differs between ``"published"`` and
        ``"prefix"`` matching, columns "as published" / "all listed structures"),
        ``n_rois``, ``n_differ``, ``right_donors`` (text, donors with any
        right-hemisphere sample), ``single_donor_rois`` (text, "ROI (donor d)"
        for ROIs sampled by exactly one donor), ``rois_per_donor`` (Series),
        ``left_only_donors`` (text), ``left_only_min_rois``/``left_only_max_rois``.
    """
    table = roi_structure_table() if table is None else table
    report = matching_report(annotations, table=table)
    counts = report["prefix"]
    totals = pd.concat({"as published": report["published"].sum(axis=1),
                        "all listed structures": counts.sum(axis=1)}, axis=1)
    differences = totals[totals.iloc[:, 0] != totals.iloc[:, 1]].rename_axis("ROI (samples, all donors)")
    right = table.index[table["hemisphere"] == "R"]
    sampled = counts > 0
    right_donors = [d for d in counts.columns if sampled.loc[right, d].any()]
    left_only = [d for d in counts.columns if d not in right_donors]
    single = [f"{roi} (donor {sampled.columns[sampled.loc[roi]][0]})" for roi in counts.index
              if sampled.loc[roi].sum() == 1]
    per_donor = sampled.sum(axis=0).rename("n_rois")
    return {"counts": counts, "differences": differences, "n_rois": len(table), "n_differ": len(differences),
            "right_donors": _join_names(right_donors), "left_only_donors": _join_names(left_only),
            "single_donor_rois": _join_names(single), "rois_per_donor": per_donor,
            "left_only_min_rois": int(per_donor[left_only].min()) if left_only else 0,
            "left_only_max_rois": int(per_donor[left_only].max()) if left_only else 0}


def load_literature_susceptibility() -> pd.DataFrame:
    """Published deep-grey susceptibility values, ppb (the package table
    ``literature/deep_grey_susceptibility.csv``, one row per structure, component and source,
    each with its citation key), read through the library's data door."""
    from qmrigenes.datasets import load_package_table

    return load_package_table("literature/deep_grey_susceptibility.csv")


def deep_grey_maps(*, crosswalk: pd.DataFrame | None = None) -> pd.DataFrame:
    """The chapter's real iron/myelin-sensitive maps per deep-grey structure.

    Book assembly of two registered data sets through the library's loaders
    (:func:`qmrigenes.datasets.load_clinical_mpm`, :func:`qmrigenes.datasets.load_chi_separation`)
    and the structure crosswalk (:func:`qmrigenes.ahba.load_crosswalk`).

    Returns
    -------
    pandas.DataFrame
        Index ``structure`` (the 7 with AHBA DK expression); columns
        ``R2*`` (1/s; clinical MPM, mean over 6 subjects x 3 repeats,
        bilateral Neuromorphometrics regions), ``chi_para`` and ``chi_dia_abs``
        (ppb; chi-separation atlas, bilateral ROIs; ``chi_dia_abs`` is the
        magnitude of the diamagnetic component, stored negative in the atlas,
        so larger = more diamagnetic, e.g. more myelin).
        NaN where a data set does not cover the structure.
    """
    from qmrigenes.datasets import load_chi_separation, load_clinical_mpm

    cw = load_crosswalk() if crosswalk is None else crosswalk
    cw = cw[cw["ahba_dk_region"].notna()]
    mpm = load_clinical_mpm()
    r2s = mpm[mpm["parameter"] == "R2*"].groupby("region")["value"].mean()
    chi = load_chi_separation()
    out = pd.DataFrame(index=pd.Index(cw.index, name="structure"))
    out["R2*"] = r2s.reindex(cw["clinical_mpm_region"]).to_numpy()
    out["chi_para"] = chi["para_mean"].reindex(cw["chisep_roi"]).to_numpy()
    out["chi_dia_abs"] = -chi["dia_mean"].reindex(cw["chisep_roi"]).to_numpy()
    missing = [r for r in cw["clinical_mpm_region"] if r not in r2s.index]
    if missing:
        raise ValueError(f"crosswalk names MPM regions that are not in the data: {missing}")
    return out


def _literature_summary(literature: pd.DataFrame | None = None, *, reference: str = "Whole white matter",
                       composite: str = "Basal ganglia (composite)") -> dict:
    """Literature susceptibility prepared for the bar chart and the reference-region table.

    Returns
    -------
    dict
        ``plot`` (long table without the ``composite`` row; component labelled
        with its symbol and the source's author-year, e.g. "χpara (Min et al. 2024)"), ``chi`` (χ-separation atlas, structures x
        ``chi_dia``, ``chi_para``, ``chi_para + chi_dia``, ``relative to whole
        WM``; ppb) and ``wm_shift`` (ppb added to every structure when the
        summed components are re-referenced to ``reference``).
    """
    lit = load_literature_susceptibility() if literature is None else literature
    plot = lit[lit["structure"] != composite].copy()
    plot["component"] = [f"{_COMPONENTS.get(c, c)} ({author_year(k)})"
                         for c, k in zip(plot["component"], plot["citation"])]
    chi = lit[lit["citation"] == "min2024chisep"].pivot(index="structure", columns="component", values="chi_ppb")
    if reference not in chi.index:
        raise ValueError(f"reference {reference!r} is not a chi-separation structure")
    chi["chi_para + chi_dia"] = chi["chi_para"] + chi["chi_dia"]
    chi["relative to whole WM"] = chi["chi_para + chi_dia"] - chi.loc[reference, "chi_para + chi_dia"]
    return {"plot": plot, "chi": chi, "wm_shift": float(-chi.loc[reference, "chi_para + chi_dia"])}


def _folder_check(annotations: pd.DataFrame, *, table: pd.DataFrame | None = None, n_genes: int = 60,
                           effect: float = 0.8, seed: int = 5) -> dict:
    """Write a small synthetic donor folder in the Allen format and run the pipeline on it.

    Each gene gets one faithful, one noise and one below-background probe
    (:func:`write_synthetic_donors`; probe ids ``1000 + 3k`` are the faithful ones).

    Returns
    -------
    dict
        ``n_probes``, ``n_kept`` (after the background filter),
        ``pct_faithful`` (% of genes whose differential-stability probe is
        the faithful one) and ``max_diff`` (largest absolute difference
        between the ROI matrix read from disk and the in-memory one).
    """
    import tempfile

    table = roi_structure_table() if table is None else table
    sampling = roi_sampling(annotations, table=table)
    genes = [f"GENE{i:03d}" for i in range(n_genes)]
    small = simulate_roi_expression(sampling, simulate_qsm(table, seed=11), genes, effects={genes[0]: effect},
                                    level="sample", annotations=annotations, seed=seed)
    in_memory = expression_by_roi(small.expression, small.annotations, table=table)
    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_donors(folder, small.annotations, small.expression, seed=1)
        from_disk = ahba_qsm_expression(folder)
        donors = read_donors(folder)
    n_probes = len(next(iter(donors.values())).probes)
    kept = filter_probes(donors)
    chosen = select_probes_ds(donors, kept)
    diff = np.abs(from_disk.expression - in_memory.expression[from_disk.expression.columns]).to_numpy()
    return {"n_probes": n_probes, "n_kept": len(kept),
            "pct_faithful": float(((np.asarray(chosen) - 1000) % 3 == 0).mean() * 100),
            "max_diff": float(diff.max())}


# ---- moved from qmrigenes.stats.regression
# --------------------------------------------------------------------------- chapter studies
def _recovery_numbers(genes: pd.DataFrame, significant: pd.Series, planted: Mapping[str, float]) -> dict:
    """How many planted genes a genome-wide test found, and at what cost.

    Parameters
    ----------
    genes : pandas.DataFrame
        :func:`gene_table` rows with a ``planted`` column (0 = none).
    significant : pandas.Series of bool
        Genome-wide decision per gene (index = all genes tested).
    planted : mapping of gene -> planted correlation

    Returns
    -------
    dict
        ``n_significant``, ``n_false`` (significant, not planted) and, per set
        ``s`` of ``genes``, ``s_found`` / ``s_planted``; ``slope_min`` and
        ``slope_max`` over the planted genes of ``genes``.
    """
    if "planted" not in genes.columns:
        raise ValueError("genes needs a 'planted' column")
    sig = significant.astype(bool)
    out = {"n_significant": int(sig.sum()), "n_false": int((sig & ~sig.index.isin(list(planted))).sum())}
    for s, rows in genes.groupby("set", sort=False):
        hit = rows[rows["planted"] > 0]
        out[f"{s}_found"] = int(hit["bh"].fillna(False).sum())
        out[f"{s}_planted"] = len(hit)
    slopes = genes.loc[genes["planted"] > 0, "slope"]
    out["slope_min"], out["slope_max"] = float(slopes.min()), float(slopes.max())
    return out


def _donor_precision(donor_results: pd.DataFrame, *, n_split: int) -> dict:
    """Precision of per-donor slopes for donors with few versus many ROIs.

    Parameters
    ----------
    donor_results : pandas.DataFrame
        :func:`per_donor_ols` output.
    n_split : int
        Donors with at most ``n_split`` ROIs form the "few" group.

    Returns
    -------
    dict
        ``table`` (per donor: ``n_rois``, ``mean_se``), ``few_donors`` /
        ``many_donors`` (text), ``few_min_rois``, ``few_max_rois``,
        ``few_se``, ``many_se`` (mean standard error of the slope).
    """
    table = donor_results.groupby("donor", sort=False).agg(n_rois=("n", "first"), mean_se=("se", "mean"))
    few = table[table["n_rois"] <= n_split]
    many = table[table["n_rois"] > n_split]
    if few.empty or many.empty:
        raise ValueError(f"n_split={n_split} does not split the donors (ROIs: {table['n_rois'].tolist()})")
    return {"table": table, "few_donors": _join_names(few.index), "many_donors": _join_names(many.index),
            "few_min_rois": int(few["n_rois"].min()), "few_max_rois": int(few["n_rois"].max()),
            "few_se": float(few["mean_se"].mean()), "many_se": float(many["mean_se"].mean())}


def _bh_summary(comparison: pd.DataFrame) -> dict:
    """Named counts from :func:`compare_bh`.

    Returns
    -------
    dict
        ``std-n`` (standard BH at the paper's FDR), ``unc-n`` (uncorrected p
        below Q), ``stdq-n`` (standard BH at the published Q), ``pub-n`` (the
        published code): n significant each; ``pub-only`` and ``std-only``
        (genes selected by the published code but not standard BH at the
        paper's FDR, and vice versa).
    """
    idx = list(comparison.index)
    std = [i for i in idx if i.startswith("standard BH")]
    unc = [i for i in idx if i.startswith("uncorrected")]
    pub = [i for i in idx if i.startswith("BH code as published")]
    if len(std) != 2 or len(unc) != 1 or len(pub) != 1:
        raise ValueError(f"not a compare_bh table: {idx}")
    n = comparison["n_significant"]
    return {"std-n": int(n[std[0]]), "unc-n": int(n[unc[0]]), "stdq-n": int(n[std[1]]),
            "pub-n": int(n[pub[0]]), "pub-only": int(comparison.loc[pub[0], "n_only_here"]),
            "std-only": int(comparison.loc[pub[0], "n_only_standard"])}


class SimulationStudy(NamedTuple):
    """Result of :func:`summarise_simulation` (the chapter's whole-genome simulation)."""

    expression: pd.DataFrame      #: (34, n_genes) donor-averaged z-scores
    qsm: pd.Series                #: (34,) simulated z-scored QSM
    roi_expression: object        #: qmrigenes.ahba.RoiExpression
    ols: GenomeWideOLS
    results: pd.DataFrame         #: all genes: OLS table + BH/Bonferroni
    genes: pd.DataFrame           #: set genes (gene_table) + ``planted``
    donors: pd.DataFrame          #: per_donor_ols for ``donor_genes``
    numbers: dict                 #: see _simulation_study


def _simulation_study(annotations: pd.DataFrame, genes: Sequence[str], gene_sets: Mapping[str, Sequence[str]], *,
                      planted: Mapping[str, float], table: pd.DataFrame | None = None,
                      donor_genes: Sequence[str] = (), qsm_seed: int = 2024, seed: int = 7,
                      alpha: float = 0.05, lr_corr: float = 0.0) -> SimulationStudy:
    """:func:`qmrigenes.design.simulate_genome_study`, per-donor fits of ``donor_genes`` and
    :func:`summarise_simulation` in one call (the chapter's visible cell makes the first two calls)."""
    from qmrigenes.design import simulate_genome_study

    table = roi_structure_table() if table is None else table
    study = simulate_genome_study(annotations, genes, simulate_qsm(table, seed=qsm_seed), planted=planted,
                                  table=table, lr_corr=lr_corr, alpha=alpha, seed=seed)
    donors = (per_donor_ols(study.roi_expression.per_donor, study.qsm, list(donor_genes)) if donor_genes
              else pd.DataFrame())
    return summarise_simulation(study, gene_sets, planted=planted, donors=donors, alpha=alpha)


def summarise_simulation(study, gene_sets: Mapping[str, Sequence[str]], *, planted: Mapping[str, float],
                         donors: pd.DataFrame, alpha: float = 0.05) -> SimulationStudy:
    """The chapter's numbers of a :class:`qmrigenes.design.GenomeStudy`.

    Parameters
    ----------
    study : qmrigenes.design.GenomeStudy
    gene_sets : mapping of set name to genes
        Sets tabulated in ``genes`` of the result.
    planted : mapping of gene -> correlation with QSM
    donors : pandas.DataFrame
        :func:`qmrigenes.stats.regression.per_donor_ols` of some genes (may be empty).

    Returns
    -------
    SimulationStudy
        ``numbers`` (from :func:`_recovery_numbers`): ``ols-ms`` (time of the
        genome-wide OLS), ``sim-n-genes``, ``sim-zero-var`` (genes excluded
        for zero variance), ``sim-n-bh``, ``sim-n-fp`` (significant genes not
        planted), ``sim-<set>-found`` / ``sim-n-<set>-planted``,
        ``sim-slope-min`` / ``sim-slope-max`` (planted set genes).
    """
    ols = study.ols
    tab = gene_table(ols, gene_sets, alpha=alpha)
    tab["planted"] = tab["gene"].map(dict(planted)).fillna(0.0)
    rec = _recovery_numbers(tab, study.results["bh"], planted)
    numbers = {"ols-ms": 1000 * study.ols_seconds, "sim-n-genes": ols.table.shape[0],
               "sim-zero-var": len(ols.zero_variance) + len(study.roi_expression.zero_variance),
               "sim-n-bh": rec.pop("n_significant"), "sim-n-fp": rec.pop("n_false"),
               "sim-slope-min": rec.pop("slope_min"), "sim-slope-max": rec.pop("slope_max")}
    for key, value in rec.items():                      # "<set>_found" / "<set>_planted"
        s, what = key.rsplit("_", 1)
        numbers[f"sim-{s}-found" if what == "found" else f"sim-n-{s}-planted"] = value
    return SimulationStudy(study.expression, study.qsm, study.roi_expression, ols, study.results, tab, donors,
                           numbers)


class RealDataStudy(NamedTuple):
    """Result of :func:`_real_data_study` (AHBA aseg structures against R2* and χ-separation)."""

    expression: pd.DataFrame      #: (7, n_genes) left-hemisphere AHBA expression
    maps: pd.DataFrame            #: (7, 3) R2*, chi_para, chi_dia_abs
    genes: pd.DataFrame           #: long map_gene_tables (left hemisphere)
    wide: pd.DataFrame            #: (set, gene) x maps r, plus "R2* (L-R mean)"
    sets: pd.DataFrame            #: (map, set) set_level_tests
    r2s: pd.DataFrame             #: genome-wide OLS table of R2* (standardised x)
    numbers: dict


_MAP_KEYS = {"R2*": "r2s", "chi_para": "para", "chi_dia_abs": "dia"}


def _real_data_study(gene_sets: Mapping[str, Sequence[str]], *, n_perm: int = 10000, seed: int = 0,
                    expected_negative: Sequence[str] = ("TFRC",), maps: pd.DataFrame | None = None,
                    expression: pd.DataFrame | None = None,
                    set_tests: Mapping[str, pd.DataFrame] | None = None) -> RealDataStudy:
    """Per-gene and set-level tests of the real deep-grey maps on left-hemisphere AHBA expression.

    Each map (:func:`deep_grey_maps`) is tested on the
    structures it covers: genome-wide OLS of the z-scored map on z-scored
    expression (:func:`map_gene_tables`) and the set-level tests
    (:func:`set_level_tests`, ``n_perm`` draws). The R2* correlations are
    repeated with the left-right mean expression as a check.

    Returns
    -------
    RealDataStudy
        ``numbers`` holds, with map keys ``r2s``, ``para``, ``dia``:
        ``real-n-bh`` (BH decisions over all maps and genes), ``{key}-{set}-r`` /
        ``-prand`` / ``-pcoex`` / ``-pperm``, ``{key}-n-perm`` (label
        permutations), ``r2s-n-pos`` / ``r2s-n-genes`` (positive R2*
        correlations among the set genes), ``r2s-negative`` (text),
        ``r2s-iron-n-pos`` / ``r2s-iron-n-other`` (positive R2* correlations
        among the iron genes other than ``expected_negative``),
        ``chi-pperm-min`` (smallest label-permutation p of the χ maps), and
        ``largest-p-{random,coex,perm}`` (how many of the set tests each null
        gives the largest p).

    ``maps``, ``expression`` (left hemisphere) and ``set_tests`` ({map: set_level_tests table})
    may be passed precomputed (the chapter's visible cell computes them); by default they are
    computed here with ``n_perm`` and ``seed``.
    """
    from qmrigenes.ahba import deep_grey_expression

    maps = deep_grey_maps() if maps is None else maps
    expr_l = deep_grey_expression(hemisphere="L") if expression is None else expression
    expr_m = deep_grey_expression(hemisphere="mean")
    real_l = map_gene_tables(expr_l, maps, gene_sets)
    real_m = map_gene_tables(expr_m, maps, gene_sets)
    wide = real_l.pivot_table(index=["set", "gene"], columns="map", values="r", sort=False)
    wide["R2* (L-R mean)"] = real_m[real_m["map"] == "R2*"].set_index(["set", "gene"])["r"]
    if set_tests is None:
        set_tests = {m: set_level_tests(expr_l.loc[maps[m].dropna().index], maps[m].dropna(), gene_sets,
                                        n_perm=n_perm, seed=seed) for m in maps.columns}
    sets = pd.concat(dict(set_tests), names=["map"])
    r2s = genome_wide_ols(expr_l, maps["R2*"], standardize_x=True).table
    num = {"real-n-bh": int(real_l["bh"].fillna(False).sum())}
    for m, key in _MAP_KEYS.items():
        num[f"{key}-n-perm"] = int(sets.loc[m, "n_label_permutations"].iloc[0])
        for s in gene_sets:
            row = sets.loc[(m, s)]
            num[f"{key}-{s}-r"] = float(row["r"])
            num[f"{key}-{s}-prand"] = float(row["p_gene"])
            num[f"{key}-{s}-pcoex"] = float(row["p_coexp"])
            num[f"{key}-{s}-pperm"] = float(row["p_label"])
            num[f"{key}-{s}-coexp"] = float(row["coexpression"])
    r = wide["R2*"].dropna()
    num["r2s-n-pos"], num["r2s-n-genes"] = int((r > 0).sum()), len(r)
    num["r2s-negative"] = _join_names(r[r < 0].index.get_level_values("gene"))
    if "iron" in gene_sets:
        iron = r.xs("iron", level="set")
        other = iron[~iron.index.isin(list(expected_negative))]
        num["r2s-iron-n-pos"], num["r2s-iron-n-other"] = int((other > 0).sum()), len(other)
    num["chi-pperm-min"] = float(sets.drop(index="R2*", level="map")["p_label"].min())
    pcols = {"random": "p_gene", "coex": "p_coexp", "perm": "p_label"}
    largest = sets[list(pcols.values())].idxmax(axis=1)
    for k, c in pcols.items():
        num[f"largest-p-{k}"] = int((largest == c).sum())
    return RealDataStudy(expr_l, maps, real_l, wide, sets, r2s, num)


def _published_comparison(published: pd.DataFrame, real: RealDataStudy, sim: SimulationStudy) -> pd.DataFrame:
    """The paper's headline numbers beside ours, each with the data it came from.

    Parameters
    ----------
    published : pandas.DataFrame
        :func:`qmrigenes.ahba.load_published` indexed by ``item``.
    real, sim : results of :func:`_real_data_study` and :func:`_simulation_study`

    Returns
    -------
    pandas.DataFrame
        ``published`` columns ``gene``, ``quantity``, ``value``, ``qsm_data``,
        ``location`` plus ``ours`` and ``our data``. Real-data rows use R2*
        (7 structures); design rows (slopes, TFRC, per-donor) use the simulation;
        rows that need the paper's QSM are NaN with the reason.
    """
    r2s = real.genes[real.genes["map"] == "R2*"]
    sim_tab = sim.genes

    def ours(item):
        g = published.loc[item, "gene"]
        if item.endswith("_p") and isinstance(g, str):
            hit = r2s.loc[r2s["gene"] == g, "p"]
            if hit.empty:
                return np.nan, f"{g} not in the tested gene sets"
            return hit.iloc[0], "real: AHBA (L) vs R2*, 7 structures"
        for s in ("iron", "myelin"):
            rows = r2s[r2s["set"] == s]
            if item == f"n_{s}_bh":
                return int(rows["bh"].sum()), "real: AHBA (L) vs R2*, BH genome-wide"
            if item == f"n_{s}":
                return int(rows["present"].sum()), "real: genes present in the AHBA table"
            if item == f"n_bonferroni_{s}":
                return int(rows["bonferroni"].sum()), "real: AHBA (L) vs R2*, Bonferroni genome-wide"
            if item in (f"{s}_slope_min", f"{s}_slope_max"):
                sl = sim_tab[(sim_tab["set"] == s) & sim_tab["bh"].fillna(False)]["slope"]
                a = sim_tab.loc[sim_tab["set"] == s, "planted"].max()
                return (sl.min() if item.endswith("min") else sl.max()), f"simulated (a = {a:g} planted)"
        if "_donor_slope_" in item:
            sl = sim.donors.loc[sim.donors["gene"] == g, "slope"]
            return (sl.min() if item.endswith("min") else sl.max()), "simulated, per donor"
        if item == "tfrc_bh":
            return int(sim_tab.set_index("gene").loc["TFRC", "bh"]), "simulated (no effect planted)"
        if item == "n_rois":
            return len(sim.expression), "simulated, real AHBA sampling"
        if item == "df":
            return len(sim.expression) - 2, "simulated, real AHBA sampling"
        if item == "n_genes":
            return sim.ols.table.shape[0], f"simulated on the {sim.ols.table.shape[0]:,} AHBA table genes"
        return np.nan, "not available (needs the paper's QSM)"

    side = published[["gene", "quantity", "value", "qsm_data", "location"]].copy()
    side[["ours", "our data"]] = [list(ours(i)) for i in side.index]
    return side


# =========================================================================== chapter reports
class ChapterData(NamedTuple):
    """Inputs shared by the chapter's reports (:func:`load_chapter_data`)."""

    annotations: pd.DataFrame     #: real AHBA SampleAnnot rows of the six donors
    table: pd.DataFrame           #: the paper's 34 ROIs and their AHBA structures
    genes: list                   #: gene names of the AHBA deep-grey table (simulated genome)
    sets: dict                    #: {"iron": [...], "myelin": [...]} (the paper's genes)


def load_chapter_data() -> ChapterData:
    """Real sample annotations, the ROI table, the AHBA gene names and the paper's gene sets."""
    from qmrigenes import ahba
    from qmrigenes.datasets import load_ahba_dk, load_ahba_sample_annotations

    return ChapterData(load_ahba_sample_annotations(), roi_structure_table(),
                       list(load_ahba_dk(hemisphere="L", structure="subcortex").columns),
                       {"iron": list(ahba.IRON_GENES), "myelin": list(ahba.MYELIN_GENES)})


def load_published_headline() -> pd.DataFrame:
    """The paper's headline numbers (``data/published/ch2_headline.csv``) indexed by ``item``;
    ``value`` kept as the text printed in the paper (its published precision)."""
    from .pages import load_published

    table = load_published("ch2", "headline").set_index("item")
    raw = load_published("ch2", "headline", as_text=True).set_index("item")
    table["value_text"] = raw.loc[table.index, "value"]
    return table


def report_sampling(data: ChapterData) -> Report:
    """Who sampled which ROI (Fig. 2.1) and where the published name matching differs (Table 2.1)."""
    from qmrigenes import figures as qfig

    ov = _sampling_overview(data.annotations, table=data.table)
    diff = ov["differences"].rename_axis("ROI")
    fig = qfig.plot_sampling_heatmap(ov["counts"], title="AHBA samples per ROI (real SampleAnnot files)")
    return Report(
        numbers={"n-rois": ov["n_rois"], "n-rois-differ": ov["n_differ"], "right-donors": ov["right_donors"],
                 "single-donor-rois": ov["single_donor_rois"]},
        tables={"tab-matching": display.table(diff, counts=list(diff.columns), headers={
            "as published": "samples, as published", "all listed structures": "samples, all listed structures"}, index=True)},
        figures={"fig-sampling": fig}, data={"overview": ov})


def report_literature(literature: pd.DataFrame | None = None) -> Report:
    """Published deep-grey susceptibility (Fig. 2.2) and the white-matter reference shift (Table 2.2)."""
    from qmrigenes import figures as qfig

    lit = _literature_summary(literature)
    fig = qfig.plot_roi_bars(lit["plot"], group="structure", hue="component", ylabel="χ (ppb)",
                             title="Published deep-grey susceptibility (literature)")
    chi = lit["chi"][["chi_para", "chi_dia", "chi_para + chi_dia", "relative to whole WM"]]
    table = display.table(chi, decimals=1, index_name="structure", headers={
        "chi_para": "χpara (ppb)", "chi_dia": "χdia (ppb)", "chi_para + chi_dia": "χpara + χdia (ppb)",
        "relative to whole WM": "χpara + χdia − WM (ppb)"}, index=True)
    return Report(numbers={"wm-shift": lit["wm_shift"]}, tables={"tab-chi-sep": table},
                  figures={"fig-literature": fig}, data={"literature": lit})


def report_folder_check(data: ChapterData) -> Report:
    """The expression pipeline on a synthetic donor folder in the Allen format."""
    demo = _folder_check(data.annotations, table=data.table)
    return Report(numbers={"demo-probes": demo["n_probes"], "demo-kept": demo["n_kept"],
                           "demo-faithful": demo["pct_faithful"], "demo-maxdiff": demo["max_diff"]})


def present_simulation(data: ChapterData, sim: SimulationStudy) -> Report:
    """Recovery numbers, Figs 2.3-2.4 and Table 2.3 of the whole-genome simulation (``data["simulation"]``: ``sim``)."""
    from qmrigenes import figures as qfig

    iron, myelin = data.sets["iron"], data.sets["myelin"]
    genes = sim.genes.set_index(["set", "gene"])[["planted", "slope", "p", "p_bh", "bh", "bonferroni"]]
    table = display.table(genes, p=["p", "p_bh"], flags=["bh", "bonferroni"], decimals={"planted": 1, "slope": 2},
                   csv_name="ch2-sim-genes",
                   headers={"planted": "planted r", "slope": "slope b", "p": "p", "p_bh": "p (FDR)",
                            "bh": "BH 0.05", "bonferroni": "Bonferroni 0.05"}, index=True)
    figures = {
        "fig-sim-iron": qfig.plot_regression_panels(sim.expression, sim.qsm, iron, results=sim.results, ncols=3,
                                               suptitle="Simulated: QSM vs iron genes (34 ROIs)"),
        "fig-sim-myelin": qfig.plot_regression_panels(sim.expression, sim.qsm, myelin, results=sim.results, ncols=5,
                                                 suptitle="Simulated: QSM vs myelin genes (34 ROIs)")}
    numbers = dict(sim.numbers)
    n_bh = numbers["sim-n-bh"]
    numbers["sim-fdp"] = numbers["sim-n-fp"] / n_bh if n_bh else 0.0     # false discovery proportion
    return Report(numbers=numbers, tables={"tab-sim-genes": table}, figures=figures,
                  data={"simulation": sim})


def report_donors(data: ChapterData, sim: SimulationStudy) -> Report:
    """Per-donor regressions of the simulation (Fig. 2.5, Table 2.4) and their precision."""
    from qmrigenes import figures as qfig

    iron = data.sets["iron"]
    prec = _donor_precision(sim.donors, n_split=int((data.table["hemisphere"] == "L").sum()))
    slopes = sim.donors.pivot(index="gene", columns="donor", values="slope").loc[iron]
    slopes.columns = [f"donor {d}" for d in slopes.columns]
    numbers = {f"donor-{k.replace('_', '-')}": prec[k]
               for k in ("few_donors", "many_donors", "few_min_rois", "few_max_rois", "few_se", "many_se")}
    return Report(numbers=numbers,
                  tables={"tab-sim-donors": display.table(slopes, decimals=2, index_name="gene (slope b per donor)", index=True)},
                  figures={"fig-sim-donors": qfig.plot_per_donor_panels(sim.roi_expression.per_donor, sim.qsm, iron,
                                                                   results=sim.donors, ncols=3)},
                  data={"precision": prec})


def present_bh(cmp: pd.DataFrame) -> Report:
    """Table 2.5 and counts of :func:`qmrigenes.stats.regression.compare_bh` (the chapter's visible cell calls it)."""
    summary = _bh_summary(cmp)
    table = display.table(cmp.rename_axis("procedure"), p=["max_p"],
                   counts=["n_significant", "n_in_genes", "n_only_here", "n_only_standard"],
                   headers={"n_significant": "genes selected", "max_p": "largest selected p",
                            "n_in_genes": "planted genes selected", "n_only_here": "not selected by BH 0.05",
                            "n_only_standard": "BH 0.05 genes missed"}, index=True)
    return Report(numbers={f"bh-{k}": v for k, v in summary.items()}, tables={"tab-bh": table},
                  data={"comparison": cmp})


def present_pls(sim: SimulationStudy, pls: pd.DataFrame) -> Report:
    """Gene x ROI matrix of the PLS genes (Fig. 2.6) and the PLS table (Table 2.6) of
    :func:`qmrigenes.stats.regression.pls_loocv` (the chapter's visible cell calls it)."""
    from qmrigenes import figures as qfig

    genes = list(PLS_GENES)
    fig = qfig.plot_expression_heatmap(sim.expression, genes, standardize=False,
                                title="Simulated: gene × ROI (donor-averaged z-scores)")
    table = display.table(pls[["rmse", "r2", "rmse_loocv", "q2"]], decimals=3, index_name="components", headers={
        "rmse": "RMSE (in sample, z)", "r2": "R² (in sample)", "rmse_loocv": "RMSE (LOOCV, z)",
        "q2": "Q² (LOOCV)"}, index=True)
    return Report(numbers={"pls-best": int(pls["rmse_loocv"].idxmin()), "pls-q2": float(pls["q2"].max())},
                  tables={"tab-pls": table}, figures={"fig-sim-heatmap": fig}, data={"pls": pls})


_DESIGN_LABELS = {"ahba": "AHBA sampling, 34 ROIs", "left_only": "left hemisphere only, 17 ROIs",
                  "both_hemispheres": "all donors both hemispheres, 34 ROIs"}


def present_power(power: pd.DataFrame) -> Report:
    """Fig. 2.7 and Table 2.7 of :func:`qmrigenes.design.power_by_design` (the chapter's visible cell calls it)."""
    from qmrigenes import figures as qfig
    from qmrigenes.design import power_at

    wide = power.pivot(index="effect", columns="design", values="power").rename(columns=_DESIGN_LABELS)
    numbers = {f"power-{d.split('_')[0]}-07": v for d, v in power_at(power, 0.7).items()}
    return Report(numbers=numbers,
                  tables={"tab-power": display.table(wide, decimals=2, index_name="planted r", index=True)},
                  figures={"fig-power": qfig.plot_power_curves(power, labels=_DESIGN_LABELS)}, data={"power": power})


_ANALYSIS_LABELS = {"rois": "34 ROIs, OLS (df = 32)", "pair_means": "17 pair means, OLS (df = 15)",
                    "cluster_robust": "34 ROIs, pair-clustered SE (df = 16)",
                    "mixed": "34 ROIs, random intercept per pair (MixedLM)"}


def present_symmetry(lr_r: pd.Series, lr_r_random: pd.Series, *, lr_corr: float, curve: pd.Series) -> Report:
    """Table 2.x and the prose numbers of the left-right symmetry of real deep-grey expression.

    The chapter's visible cell computes each input with the library:
    ``lr_r`` (per gene, :func:`qmrigenes.design.lr_profile_correlation` of the left and right AHBA
    profiles over the 7 aseg structures), ``lr_r_random`` (the same with the right-hemisphere
    genes shuffled: random gene pairs), and ``lr_corr`` / ``curve``
    (:func:`qmrigenes.design.calibrate_lr_corr`: the simulated left-right pattern correlation whose
    donor-averaged 34-ROI expression has the real median r, and the curve it was read from).
    """
    numbers = {"lr-median-r": float(lr_r.median()), "lr-q25": float(lr_r.quantile(0.25)),
               "lr-q75": float(lr_r.quantile(0.75)), "lr-random-r": float(lr_r_random.median()),
               "lr-n-genes": len(lr_r), "lr-corr": lr_corr, "lr-sim-at-zero": float(curve.iloc[0])}
    frame = curve.to_frame("simulated median r").rename_axis("pattern correlation")
    return Report(numbers=numbers,
                  tables={"tab-symmetry": display.table(
                      frame, decimals=2, index_name="pattern correlation (lr_corr)", index=True,
                      headers={"simulated median r": "median left–right r of simulated expression"})},
                  data={"lr_corr": lr_corr, "r": lr_r, "curve": curve})


def present_calibration(null: Mapping[float, pd.DataFrame], mixed: pd.DataFrame, power: pd.DataFrame, *,
                        n_genes: int, n_rep: int, mixed_genes: int) -> Report:
    """Table and figure of type-I error, false BH discoveries and power of four analyses of the 34-ROI
    design, with independent (lr_corr = 0) and symmetric expression patterns.

    The chapter's visible cell computes each input with :func:`qmrigenes.design.power_by_design` on
    the real AHBA sampling: ``null`` ({lr_corr: pure-null run of the three fast analyses},
    ``n_genes`` genes, ``n_rep`` replicates; keys 0 and the symmetric value), ``mixed`` (the mixed
    model on ``mixed_genes`` null genes, one replicate: one REML fit per gene, so its type-I
    error comes from fewer genes and it has no BH column) and ``power`` (planted genes, symmetric
    patterns).
    """
    from qmrigenes import figures as qfig
    from qmrigenes.design import power_at

    fast = [a for a in _ANALYSIS_LABELS if a != "mixed"]
    sym = max(null)
    calib = pd.concat([*(null[rho].assign(lr_corr=rho) for rho in sorted(null)), mixed.assign(lr_corr=sym)],
                      ignore_index=True)
    calib["patterns"] = np.where(calib["lr_corr"] > 0, "symmetric", "independent")
    calib.loc[calib["analysis"] == "mixed", ["false_discoveries", "any_false"]] = np.nan
    wide = calib.pivot_table(index="analysis", columns="patterns", values=["type1", "false_discoveries"],
                             sort=False, dropna=False)
    wide = wide.reindex(list(_ANALYSIS_LABELS)).rename(index=_ANALYSIS_LABELS)
    wide.columns = [f"{w} ({pat})" for w, pat in wide.columns]
    order = [c for c in ("type1 (independent)", "type1 (symmetric)", "false_discoveries (independent)",
                         "false_discoveries (symmetric)") if c in wide.columns]
    wide = wide[order]
    pw = power.pivot(index="effect", columns="analysis", values="power")[fast].rename(columns=_ANALYSIS_LABELS)
    numbers = {"calib-n-genes": n_genes, "calib-n-rep": n_rep, "calib-mixed-genes": mixed_genes}
    key = {"rois": "rois", "pair_means": "pairs", "cluster_robust": "cr", "mixed": "mixed"}
    for _, row in calib.iterrows():
        tag = f"{key[row['analysis']]}-{'sym' if row['lr_corr'] > 0 else 'ind'}"
        numbers[f"type1-{tag}"] = float(row["type1"])
        if row["analysis"] != "mixed":
            numbers[f"fd-{tag}"] = float(row["false_discoveries"])
    for an in fast:
        numbers[f"symp-{key[an]}-07"] = power_at(power, 0.7, analysis=an)["ahba"]
    fig = qfig.plot_power_curves(power.assign(design=power["analysis"]), labels=_ANALYSIS_LABELS)
    tables = {"tab-calibration": display.table(
                  wide, decimals={c: (3 if c.startswith("type1") else 1) for c in wide.columns},
                  index_name="analysis", index=True, headers={
                      "type1 (independent)": "type-I error, independent patterns",
                      "type1 (symmetric)": "type-I error, symmetric patterns",
                      "false_discoveries (independent)": "false BH discoveries, independent",
                      "false_discoveries (symmetric)": "false BH discoveries, symmetric"}),
              "tab-sym-power": display.table(pw, decimals=2, index_name="planted r", index=True)}
    return Report(numbers=numbers, tables=tables, figures={"fig-sym-power": fig},
                  data={"calibration": calib, "power": power})


_MAP_LABELS = {"R2*": "R2* r", "chi_para": "χpara r", "chi_dia_abs": "|χdia| r", "R2* (L-R mean)": "R2* r (L–R mean)"}


def report_real(data: ChapterData, *, n_perm: int = 10_000, seed: int = 0, maps: pd.DataFrame | None = None,
                expression: pd.DataFrame | None = None,
                set_tests: Mapping[str, pd.DataFrame] | None = None) -> Report:
    """AHBA (left) against R2* and χ-separation in 7 structures: per-gene r, set tests, Figs 2.8-2.10.

    ``maps``, ``expression`` and ``set_tests`` as in :func:`_real_data_study` (computed when not given).
    """
    from qmrigenes import figures as qfig

    iron, myelin = data.sets["iron"], data.sets["myelin"]
    real = _real_data_study(data.sets, n_perm=n_perm, seed=seed, maps=maps, expression=expression,
                            set_tests=set_tests)
    numbers = dict(real.numbers)
    for gene in ("FTL", "TFRC", "MBP"):
        numbers[f"r2s-{gene.lower()}"] = float(real.wide.xs(gene, level="gene")["R2*"].iloc[0])
    wide = real.wide.rename(columns=_MAP_LABELS)
    sets = real.sets.drop(columns=["n_label_permutations", "p_gene_fdr", "p_coexp_fdr", "p_label_fdr"]).rename(index={"chi_para": "χpara", "chi_dia_abs": "|χdia|"},
                                                             level="map")
    sets = sets.rename_axis(["map", "gene set"])
    tables = {
        "tab-real-genes": display.table(wide, decimals=2, csv_name="ch2-real-genes", index=True),
        "tab-real-sets": display.table(sets, p=["p_gene", "p_coexp", "p_label"],
                                counts=["n_present"], decimals=2, headers={
                                    "n_present": "genes", "r": "mean r",
                                    "p_gene": "p (random)", "coexpression": "coexpr. r",
                                    "p_coexp": "p (matched)",
                                    "p_label": "p (permutation)"}, index=True)}
    figures = {
        "fig-real-heatmap": qfig.plot_expression_heatmap(real.expression, iron + myelin,
                                                  title="Real: AHBA (left), z-scored across 7 structures"),
        "fig-real-corr": qfig.plot_correlation_matrix(real.expression, iron + myelin,
                                                      title="Real: gene–gene correlation across 7 structures"),
        "fig-real-iron": qfig.plot_regression_panels(real.expression, real.maps["R2*"], iron, results=real.r2s,
                                                standardize=True, ncols=3, ylabel="R2* (z)",
                                                suptitle="Real: clinical MPM R2* vs AHBA iron genes (7 structures)")}
    return Report(numbers=numbers, tables=tables, figures=figures, data={"real": real})


def report_published(real: RealDataStudy, sim: SimulationStudy, published: pd.DataFrame | None = None) -> Report:
    """The paper's headline numbers at their published precision beside ours (Table 2.10)."""
    published = load_published_headline() if published is None else published
    side = _published_comparison(published, real, sim)
    side["value"] = published.loc[side.index, "value_text"] if "value_text" in published else side["value"]
    names = {k: v for k, v in zip(published.index, published["quantity"])}
    side.insert(0, "what", [f"{g} {names[i]}" if isinstance(g, str) and g else names[i]
                            for i, g in zip(side.index, side["gene"])])
    p_rows = [i for i in side.index if i.endswith("_p") or "_p_" in i]
    ours = [(format_p(v, markup="text") if i in p_rows else (MISSING if pd.isna(v) else
             (f"{int(v):,}" if float(v).is_integer() else f"{float(v):.2f}"))) for i, v in side["ours"].items()]
    side["ours"] = ours
    side = side[["what", "value", "qsm_data", "location", "ours", "our data"]].reset_index(drop=True)
    # grouped: the published and our data sets are stated once per group of rows
    from .display import ColumnSpec, grouped_table
    shown = side.rename(columns={"qsm_data": "published QSM data"})
    shown["value"] = [format_published(v) for v in shown["value"]]
    shown["ours"] = [format_published(v) for v in shown["ours"]]
    shown = shown.astype(object).where(shown.notna(), MISSING)
    table = grouped_table(shown, group_by=["published QSM data", "our data"], columns={
        "what": "quantity", "value": ColumnSpec("published", kind="published"), "location": "in the paper",
        "ours": ColumnSpec("ours", kind="published")}, csv_name="ch2-published", what="numbers")
    table.data = shown.rename(columns={"what": "quantity", "value": "published"})   # the shown text
    return Report(tables={"tab-published": table}, data={"side": side})


# =========================================================================== interactive figure
def report_null_widget(real: RealDataStudy, *, gene_set: str = "myelin", map_name: str = "R2*",
                       draws: Sequence[int] = (30, 100, 300, 1000, 3000, 10_000), n_bins: int = 40,
                       seed: int = 0) -> Report:
    """A random-gene null that redraws as the number of draws grows (interactive) and its static twin.

    The null is the mean r of random gene sets of the size of ``gene_set`` (genes present) drawn
    from all genes of the left-hemisphere AHBA table against ``map_name``
    (:func:`qmrigenes.stats.genesets.random_gene_set_null`); each slider step shows the histogram
    (density) of the first ``n`` draws with the observed mean r marked.
    """
    from qmrigenes import figures as qfig
    from qmrigenes.stats.genesets import gene_map_correlations, null_pvalues, random_gene_set_null

    from . import interactive

    y = real.maps[map_name].dropna()
    expr = real.expression.loc[y.index]
    expr = expr.loc[:, expr.var(ddof=1) > 0]
    corr = gene_map_correlations(expr, y.rename("map"))
    genes = [g for g in real.genes.loc[(real.genes["map"] == map_name) & (real.genes["set"] == gene_set)
                                       & real.genes["present"], "gene"] if g in corr.index]
    observed = float(corr.loc[genes, "map"].mean())
    draws = sorted(int(d) for d in draws)
    null = random_gene_set_null(corr, [len(genes)], n_perm=max(draws), seed=seed)[:, 0, 0]
    lo, hi = float(min(null.min(), observed)), float(max(null.max(), observed))
    span = hi - lo
    edges = np.linspace(lo - 0.05 * span, hi + 0.2 * span, n_bins + 1)   # room for the marker's label
    width = edges[1] - edges[0]
    hist = np.array([np.histogram(null[:n], bins=edges)[0] / (n * width) for n in draws])
    p = [float(null_pvalues(observed, null[:n])) for n in draws]
    label = "R2*" if map_name == "R2*" else map_name
    hist = np.hstack([hist, np.zeros((len(draws), 1))])     # steps over every edge: last bin drawn too
    from .display import format_p, format_value
    status = [f"{n:,} draws: permutation p = {format_p(pn, digits=2, markup='text')} (observed mean r = "
              f"{format_value(observed, decimals=2)})" for n, pn in zip(draws, p)]
    widget = interactive.slider_figure(
        x=edges, series={"random-gene null": hist}, slider_values=draws, slider_label="random gene sets drawn",
        xlabel=f"mean r of {len(genes)} random genes with {label}", ylabel="density", step=True,
        markers={"random-gene null": np.full(len(draws), observed)}, marker_label="observed {:.2f}",
        marker_style="line", status=status,
        title=f"Random-gene null of the {gene_set} set against {label} (real data, 7 structures)",
        caption="Drag the slider: the histogram of the null settles as more random sets are drawn; "
                "the p-value is the share of draws at least as extreme as the observed value (line).",
        fallback="The static figure above shows the full null.")
    fig = qfig.plot_null_histogram(null, observed, xlabel=f"mean r of {len(genes)} random genes with {label}",
                              title=f"Random-gene null, {gene_set} set vs {label} ({len(null):,} draws)")
    numbers = {"null-n-genes": len(genes), "null-observed": observed, "null-draws-min": draws[0],
               "null-p-min-draws": p[0], "null-p-max-draws": p[-1], "null-draws-max": draws[-1]}
    return Report(numbers=numbers, figures={"null-widget": widget, "fig-real-null": fig},
                  data={"null": null, "p": dict(zip(draws, p))})


# =========================================================================== exercises
#: The p-values of the BH exercise: ten genes, in the order the gene list gives them.
EXERCISE_P = {"g01": 3e-6, "g02": 0.012, "g03": 4e-5, "g04": 0.2, "g05": 1e-5, "g06": 0.03, "g07": 0.6,
              "g08": 0.004, "g09": 0.9, "g10": 2e-4}


def report_exercise_bh(p: Mapping[str, float] = EXERCISE_P, *, alpha: float = 0.05, q: float = 1e-4) -> Report:
    """Standard BH against the paper's BH code on a short p-value list; see :func:`present_exercise_bh`
    (the chapter's visible cell makes the same four selections)."""
    from qmrigenes.stats.multitest import bh_as_published, fdr_bh

    pv = np.array([float(v) for v in p.values()])
    selected = {"std": fdr_bh(pv) <= alpha, "std_q": fdr_bh(pv) <= q, "pub": bh_as_published(pv, q=q),
                "pub_rev": bh_as_published(pv[::-1], q=q)[::-1]}
    return present_exercise_bh(p, selected, alpha=alpha, q=q)


def present_exercise_bh(p: Mapping[str, float], selected: Mapping[str, np.ndarray], *, alpha: float,
                        q: float) -> Report:
    """Numbers and table of the BH exercise from the p-values ``p`` (gene -> p, in list order) and
    ``selected`` (boolean arrays in that order): ``"std"`` standard BH at FDR ``alpha``, ``"std_q"``
    standard BH at ``q``, ``"pub"`` the paper's code (:func:`qmrigenes.stats.multitest.bh_as_published`,
    Q = ``q``), ``"pub_rev"`` the paper's code on the reversed list (mapped back to list order).

    The table gives, per gene (in list order), p, its rank, the sort index ``I(i)`` the paper's code
    uses, both thresholds and the four decisions.
    """
    genes = list(p)
    pv = np.array([float(p[g]) for g in genes])
    m = pv.size
    std, std_q, pub, pub_rev = (np.asarray(selected[k], bool) for k in ("std", "std_q", "pub", "pub_rev"))
    rank = pd.Series(pv).rank(method="first").astype(int).to_numpy()
    sort_index = np.argsort(pv, kind="stable") + 1
    frame = pd.DataFrame({"p": pv, "rank": rank, "I(i)": sort_index, "bh_thr": rank * alpha / m,
                          "pub_thr": sort_index * q / m, "std": std, "std_q": std_q, "pub": pub,
                          "pub_rev": pub_rev}, index=pd.Index(genes, name="gene"))
    table = display.table(frame, p=["p", "bh_thr", "pub_thr"], counts=["rank", "I(i)"],
                   flags=["std", "std_q", "pub", "pub_rev"], headers={
                       "rank": "rank k", "I(i)": "sort index I(i)", "bh_thr": f"BH threshold k·{alpha:g}/m",
                       "pub_thr": f"code threshold I(i)·{q:g}/m", "std": f"BH {alpha:g}", "std_q": f"BH {q:g}",
                       "pub": "paper's code", "pub_rev": "paper's code, list reversed"}, index=True)
    names = lambda sel: _join_names([g for g, s in zip(genes, sel) if s]) or "none"   # noqa: E731
    numbers = {"ex-bh-m": m, "ex-bh-std-n": int(std.sum()), "ex-bh-stdq-n": int(std_q.sum()),
               "ex-bh-pub-n": int(pub.sum()), "ex-bh-pub-rev-n": int(pub_rev.sum()),
               "ex-bh-pub-genes": names(pub), "ex-bh-pub-rev-genes": names(pub_rev),
               "ex-bh-stdq-genes": names(std_q), "ex-bh-unc-n": int((pv < q).sum())}
    return Report(numbers=numbers, tables={"tab-ex-bh": table}, data={"frame": frame})


def report_exercise_min_p(data: ChapterData, real: RealDataStudy, *, alpha: float = 0.05,
                          n_regions: Sequence[int] = (5, 7, 34)) -> Report:
    """Why 5 or 7 structures cannot survive genome-wide correction; see :func:`present_exercise_min_p`
    (the chapter's visible cell computes the same critical values)."""
    from math import factorial

    from scipy import stats

    threshold = alpha / len(data.genes)
    t_crit = {n: stats.t.isf(threshold / 2, n - 2) for n in n_regions}
    r_crit = {n: t / np.sqrt(t ** 2 + n - 2) for n, t in t_crit.items()}
    return present_exercise_min_p(real, m=len(data.genes), threshold=threshold, t_crit=t_crit, r_crit=r_crit,
                                  perm_floor={n: 2 / factorial(n) for n in n_regions})


def present_exercise_min_p(real: RealDataStudy, *, m: int, threshold: float, t_crit: Mapping[int, float],
                           r_crit: Mapping[int, float], perm_floor: Mapping[int, float]) -> Report:
    """Numbers and table of the minimum-p exercise: the |r| a single gene needs to survive
    genome-wide correction.

    For ``m`` genes (the AHBA table) the Bonferroni ``threshold`` ``alpha/m`` is also the BH
    threshold of the single best gene. The slope t-test has ``n - 2`` df and
    ``t = r√(n−2)/√(1−r²)``, so the threshold translates into a critical |t| (``t_crit``) and |r|
    (``r_crit``), keyed by the number of regions n; a two-sided exact label-permutation p
    (:func:`qmrigenes.stats.genesets.null_pvalues` with ``exact=True``, ``2 b / n!``) can be no
    smaller than ``perm_floor[n]`` = ``2/n!`` (shown for n ≤ 12 only). The strongest gene with
    R2* is read from ``real``.
    """
    numbers = {"ex-minp-m": m, "ex-minp-thr": threshold}
    rows = []
    for n in t_crit:
        t, r = float(t_crit[n]), float(r_crit[n])
        numbers[f"ex-minp-r-{n}"] = r
        floor = perm_floor[n]             # two-sided: the doubled smaller tail holds the identity
        if n <= 12:                       # 2/n! below double precision's interest beyond that
            numbers[f"ex-minp-perm-{n}"] = floor
            numbers[f"ex-minp-perm-ratio-{n}"] = floor / threshold
        rows.append({"regions n": n, "df": n - 2, "t": t, "r": r,
                     "perm": floor if n <= 12 else np.nan})
    r2s = real.genes[(real.genes["map"] == "R2*") & real.genes["present"]]
    best = r2s.loc[r2s["r"].abs().idxmax()]
    numbers.update({"ex-minp-best-gene": str(best["gene"]), "ex-minp-best-r": float(best["r"]),
                    "ex-minp-best-p": float(best["p"])})
    frame = pd.DataFrame(rows).set_index("regions n")
    table = display.table(frame, p=["perm"], counts=["df"], decimals={"t": 1, "r": 4}, headers={
        "t": "critical |t|", "r": "critical |r|", "perm": "smallest two-sided permutation p (2/n!)"}, index=True)
    return Report(numbers=numbers, tables={"tab-ex-minp": table}, data={"frame": frame})


def report_exercise_power_rois(data: ChapterData, *, n_rois: Sequence[int] = (8, 16, 24, 34),
                               effects: Sequence[float] = (0.5, 0.7, 0.9), n_genes: int = 2000,
                               n_rep: int = 3, seed: int = 11, reference_genes: int = 5000,
                               reference_effects: Sequence[float] = (0.3, 0.5, 0.7, 0.9)) -> Report:
    """Power at BH FDR 0.05 against the number of ROIs; see :func:`present_exercise_power_rois`
    (the chapter's visible cell makes the same :func:`qmrigenes.design.power_by_design` runs)."""
    from qmrigenes.design import power_by_design

    sampling = roi_sampling(data.annotations, table=data.table)
    by_rois = {k: power_by_design(sampling[sampling["roi"].isin(data.table.index[:k])].reset_index(drop=True),
                                  data.table.iloc[:k], effects=effects, n_genes=n_genes, n_rep=n_rep, seed=seed,
                                  designs=("ahba",))
               for k in n_rois}
    reference = power_by_design(sampling, data.table, n_genes=reference_genes, effects=reference_effects,
                                n_rep=n_rep, seed=seed, designs=("ahba",))
    return present_exercise_power_rois(by_rois, reference, n_genes=n_genes, n_planted=len(effects) * 25,
                                       reference_genes=reference_genes,
                                       reference_planted=len(reference_effects) * 25)


def present_exercise_power_rois(by_rois: Mapping[int, pd.DataFrame], reference: pd.DataFrame, *, n_genes: int,
                                n_planted: int, reference_genes: int, reference_planted: int) -> Report:
    """Numbers and table of the power-against-ROIs exercise.

    ``by_rois`` maps k to the :func:`qmrigenes.design.power_by_design` result on the first ``k``
    ROIs of the paper's table (left-right pairs kept together), ``n_genes`` genes of which
    ``n_planted`` planted. ``reference`` is the 34-ROI run with Table 2.7's number of genes and
    planted effects (``reference_genes``, ``reference_planted``) at the exercise's seed and
    replicates (``ex-power-ref-07``): BH's threshold depends on the number of genes and the share of
    planted ones, so the two runs differ by more than noise.
    """
    power = pd.concat([res.assign(n_rois_requested=k) for k, res in by_rois.items()], ignore_index=True)
    wide = power.pivot(index="effect", columns="n_rois", values="power")
    wide.columns = [f"{k} ROIs" for k in wide.columns]
    numbers = {}
    for k, sub in power.groupby("n_rois"):
        for a, v in zip(sub["effect"], sub["power"]):
            numbers[f"ex-power-{k}-{int(round(a * 10)):02d}"] = float(v)
    numbers.update({"ex-power-ref-07": float(reference.loc[np.isclose(reference["effect"], 0.7), "power"].iloc[0]),
                    "ex-power-n-genes": n_genes, "ex-power-n-planted": n_planted,
                    "ex-power-share": n_planted / n_genes, "ex-power-ref-genes": reference_genes,
                    "ex-power-ref-planted": reference_planted,
                    "ex-power-ref-share": reference_planted / reference_genes})
    return Report(numbers=numbers, tables={"tab-ex-power": display.table(wide, decimals=2, index_name="planted r", index=True)},
                  data={"power": power})
