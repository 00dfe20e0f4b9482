"""Chapter 2 (QSM deep grey nuclei vs AHBA): the chapter's studies, summaries and comparisons with Cohen et al. 2024.

Book study code: depends on the library ``qmrigenes``, never the reverse.
"""
from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from qmrigenes.ahba import (ahba_qsm_expression, expression_by_roi, filter_probes, load_literature_susceptibility, matching_report, read_donors, roi_sampling, roi_structure_table, select_probes_ds, simulate_qsm, simulate_roi_expression, write_synthetic_donors)
from qmrigenes.stats.regression import (GenomeWideOLS, correct, gene_table, genome_wide_ols, map_gene_tables, per_donor_ols, set_level_tests)
from typing import NamedTuple
import numpy as np
import pandas as pd


# ---- moved from qmrigenes.ahba
# --------------------------------------------------------------------------- chapter summaries
#: Genes the paper found significant (BH FDR 0.05, QSM dataset 1; Secs 3.1-3.2):
#: all iron genes but TFRC and all myelin genes but MBP, NRG1, EIF2AK3, POU3F1.
PAPER_SIGNIFICANT_IRON = ("TF", "SLC40A1", "FTH1", "FTL", "SLC11A2")
PAPER_SIGNIFICANT_MYELIN = ("CNP", "OLIG2", "MAL", "MOBP", "MOG", "CLDN11", "PLP1", "GAL3ST1", "PLLP",
                            "ILK", "OMG", "KLK6", "MAG")
#: The 13 iron and myelin genes of the paper's PLS model (``plsGeneDG.m``).
PLS_GENES = ("TF", "FTL", "FTH1", "SLC40A1", "CNP", "MAG", "MAL", "MOBP", "MOG", "CLDN11", "PLP1", "GAL3ST1",
             "PLLP")


def planted_effects(*, iron: float = 0.7, myelin: float = 0.6) -> dict[str, float]:
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


def _join_names(names) -> str:
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def sampling_overview(annotations: pd.DataFrame, *, table: pd.DataFrame | None = None) -> dict:
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


def literature_summary(literature: pd.DataFrame | None = None, *, reference: str = "Whole white matter",
                       composite: str = "Basal ganglia (composite)") -> dict:
    """Literature susceptibility prepared for the bar chart and the reference-region table.

    Returns
    -------
    dict
        ``plot`` (long table without the ``composite`` row; component labelled
        with its citation key), ``chi`` (χ-separation atlas, structures x
        ``chi_dia``, ``chi_para``, ``chi_para + chi_dia``, ``relative to whole
        WM``; ppb) and ``wm_shift`` (ppb added to every structure when the
        summed components are re-referenced to ``reference``).
    """
    lit = load_literature_susceptibility() if literature is None else literature
    plot = lit[lit["structure"] != composite].copy()
    plot["component"] = plot["component"] + " (" + plot["citation"] + ")"
    chi = lit[lit["citation"] == "min2024chisep"].pivot(index="structure", columns="component", values="chi_ppb")
    if reference not in chi.index:
        raise ValueError(f"reference {reference!r} is not a chi-separation structure")
    chi["chi_para + chi_dia"] = chi["chi_para"] + chi["chi_dia"]
    chi["relative to whole WM"] = chi["chi_para + chi_dia"] - chi.loc[reference, "chi_para + chi_dia"]
    return {"plot": plot, "chi": chi, "wm_shift": float(-chi.loc[reference, "chi_para + chi_dia"])}


def synthetic_folder_check(annotations: pd.DataFrame, *, table: pd.DataFrame | None = None, n_genes: int = 60,
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
def _join_names(names) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = [str(n) for n in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def recovery_numbers(genes: pd.DataFrame, significant: pd.Series, planted: Mapping[str, float]) -> dict:
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


def donor_precision(donor_results: pd.DataFrame, *, n_split: int) -> dict:
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


def bh_summary(comparison: pd.DataFrame) -> dict:
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
    """Result of :func:`simulation_study` (the chapter's whole-genome simulation)."""

    expression: pd.DataFrame      #: (34, n_genes) donor-averaged z-scores
    qsm: pd.Series                #: (34,) simulated z-scored QSM
    roi_expression: object        #: qmrigenes.ahba.RoiExpression
    ols: GenomeWideOLS
    results: pd.DataFrame         #: all genes: OLS table + BH/Bonferroni
    genes: pd.DataFrame           #: set genes (gene_table) + ``planted``
    donors: pd.DataFrame          #: per_donor_ols for ``donor_genes``
    numbers: dict                 #: see simulation_study


def simulation_study(annotations: pd.DataFrame, genes: Sequence[str], gene_sets: Mapping[str, Sequence[str]], *,
                     planted: Mapping[str, float], table: pd.DataFrame | None = None,
                     donor_genes: Sequence[str] = (), qsm_seed: int = 2024, seed: int = 7,
                     alpha: float = 0.05) -> SimulationStudy:
    """Simulate every gene sample by sample with the real AHBA sampling and run the paper's analysis.

    Expression of each gene in each sample is simulated by
    :func:`qmrigenes.ahba.simulate_roi_expression` (``level="sample"``) against
    a simulated QSM vector (:func:`qmrigenes.ahba.simulate_qsm`), matched to
    ROIs, z-scored per donor and averaged (:func:`qmrigenes.ahba.expression_by_roi`),
    then regressed genome-wide (:func:`genome_wide_ols`) with BH at ``alpha``.

    Parameters
    ----------
    annotations : pandas.DataFrame
        Real sample annotations (:func:`qmrigenes.datasets.load_ahba_sample_annotations`).
    genes : sequence of str
        Gene names to simulate (e.g. the 15,633 of the AHBA table).
    gene_sets : mapping of set name to genes
        Sets tabulated in ``genes`` of the result.
    planted : mapping of gene -> correlation with QSM
    donor_genes : sequence of str
        Genes for the per-donor regressions.

    Returns
    -------
    SimulationStudy
        ``numbers`` (from :func:`recovery_numbers`): ``ols-ms`` (time of the
        genome-wide OLS), ``sim-n-genes``, ``sim-zero-var`` (genes excluded
        for zero variance), ``sim-n-bh``, ``sim-n-fp`` (significant genes not
        planted), ``sim-<set>-found`` / ``sim-n-<set>-planted``,
        ``sim-slope-min`` / ``sim-slope-max`` (planted set genes).
    """
    import time

    from qmrigenes.ahba import expression_by_roi, roi_sampling, roi_structure_table, simulate_qsm, simulate_roi_expression

    table = roi_structure_table() if table is None else table
    unknown = [g for g in planted if g not in set(genes)]
    if unknown:
        raise ValueError(f"planted genes not among the simulated genes: {unknown}")
    sampling = roi_sampling(annotations, table=table)
    qsm = simulate_qsm(table, seed=qsm_seed)
    sim = simulate_roi_expression(sampling, qsm, list(genes), effects=dict(planted), level="sample",
                                  annotations=annotations, seed=seed)
    roi_expr = expression_by_roi(sim.expression, sim.annotations, table=table)
    x = roi_expr.expression
    y = qsm.loc[x.index]
    t0 = time.perf_counter()
    ols = genome_wide_ols(x, y)
    ms = (time.perf_counter() - t0) * 1000
    sig = correct(ols.table["p"], alpha=alpha)
    tab = gene_table(ols, gene_sets, alpha=alpha)
    tab["planted"] = tab["gene"].map(dict(planted)).fillna(0.0)
    donors = per_donor_ols(roi_expr.per_donor, qsm, list(donor_genes)) if donor_genes else pd.DataFrame()
    rec = recovery_numbers(tab, sig["bh"], planted)
    numbers = {"ols-ms": ms, "sim-n-genes": ols.table.shape[0],
               "sim-zero-var": len(ols.zero_variance) + len(roi_expr.zero_variance),
               "sim-n-bh": rec.pop("n_significant"), "sim-n-fp": rec.pop("n_false"),
               "sim-slope-min": rec.pop("slope_min"), "sim-slope-max": rec.pop("slope_max")}
    for key, value in rec.items():                      # "<set>_found" / "<set>_planted"
        s, what = key.rsplit("_", 1)
        numbers[f"sim-{s}-found" if what == "found" else f"sim-n-{s}-planted"] = value
    return SimulationStudy(x, y, roi_expr, ols, ols.table.join(sig), tab, donors, numbers)


class RealDataStudy(NamedTuple):
    """Result of :func:`real_data_study` (AHBA aseg structures against R2* and χ-separation)."""

    expression: pd.DataFrame      #: (7, n_genes) left-hemisphere AHBA expression
    maps: pd.DataFrame            #: (7, 3) R2*, chi_para, chi_dia_abs
    genes: pd.DataFrame           #: long map_gene_tables (left hemisphere)
    wide: pd.DataFrame            #: (set, gene) x maps r, plus "R2* (L-R mean)"
    sets: pd.DataFrame            #: (map, set) set_level_tests
    r2s: pd.DataFrame             #: genome-wide OLS table of R2* (standardised x)
    numbers: dict


_MAP_KEYS = {"R2*": "r2s", "chi_para": "para", "chi_dia_abs": "dia"}


def real_data_study(gene_sets: Mapping[str, Sequence[str]], *, n_perm: int = 10000, seed: int = 0,
                    expected_negative: Sequence[str] = ("TFRC",)) -> RealDataStudy:
    """Per-gene and set-level tests of the real deep-grey maps on left-hemisphere AHBA expression.

    Each map (:func:`qmrigenes.ahba.deep_grey_maps`) is tested on the
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
    """
    from qmrigenes.ahba import deep_grey_expression, deep_grey_maps

    maps = deep_grey_maps()
    expr_l = deep_grey_expression(hemisphere="L")
    expr_m = deep_grey_expression(hemisphere="mean")
    real_l = map_gene_tables(expr_l, maps, gene_sets)
    real_m = map_gene_tables(expr_m, maps, gene_sets)
    wide = real_l.pivot_table(index=["set", "gene"], columns="map", values="r", sort=False)
    wide["R2* (L-R mean)"] = real_m[real_m["map"] == "R2*"].set_index(["set", "gene"])["r"]
    sets = pd.concat({m: set_level_tests(expr_l.loc[maps[m].dropna().index], maps[m].dropna(), gene_sets,
                                         n_perm=n_perm, seed=seed) for m in maps.columns}, names=["map"])
    r2s = genome_wide_ols(expr_l, maps["R2*"], standardize_x=True).table
    num = {"real-n-bh": int(real_l["bh"].fillna(False).sum())}
    for m, key in _MAP_KEYS.items():
        num[f"{key}-n-perm"] = int(sets.loc[m, "n_permutations"].iloc[0])
        for s in gene_sets:
            row = sets.loc[(m, s)]
            num[f"{key}-{s}-r"] = float(row["mean_r"])
            num[f"{key}-{s}-prand"] = float(row["p_random"])
            num[f"{key}-{s}-pcoex"] = float(row["p_coexpression_matched"])
            num[f"{key}-{s}-pperm"] = float(row["p_permutation"])
            num[f"{key}-{s}-coexp"] = float(row["coexpression"])
    r = wide["R2*"].dropna()
    num["r2s-n-pos"], num["r2s-n-genes"] = int((r > 0).sum()), len(r)
    num["r2s-negative"] = _join_names(r[r < 0].index.get_level_values("gene"))
    if "iron" in gene_sets:
        iron = r.xs("iron", level="set")
        other = iron[~iron.index.isin(list(expected_negative))]
        num["r2s-iron-n-pos"], num["r2s-iron-n-other"] = int((other > 0).sum()), len(other)
    num["chi-pperm-min"] = float(sets.drop(index="R2*", level="map")["p_permutation"].min())
    pcols = {"random": "p_random", "coex": "p_coexpression_matched", "perm": "p_permutation"}
    largest = sets[list(pcols.values())].idxmax(axis=1)
    for k, c in pcols.items():
        num[f"largest-p-{k}"] = int((largest == c).sum())
    return RealDataStudy(expr_l, maps, real_l, wide, sets, r2s, num)


def published_comparison(published: pd.DataFrame, real: RealDataStudy, sim: SimulationStudy) -> pd.DataFrame:
    """The paper's headline numbers beside ours, each with the data it came from.

    Parameters
    ----------
    published : pandas.DataFrame
        :func:`qmrigenes.ahba.load_published` indexed by ``item``.
    real, sim : results of :func:`real_data_study` and :func:`simulation_study`

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
