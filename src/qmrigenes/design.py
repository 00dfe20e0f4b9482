"""Power of an AHBA sampling design for a genome-wide QSM-expression regression.

Simulation (:mod:`qmrigenes.ahba`: a QSM vector and donor expression with planted
correlations, sampled as the donors were) followed by statistics
(:mod:`qmrigenes.stats.regression`: genome-wide OLS, BH): it sits above both, so that
neither the statistics nor the AHBA modules import each other.
"""
from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._validate import as_array, check_choice, check_int, check_scalar, check_unique, describe
from .stats.multitest import fdr_bh
from .stats.regression import correct, genome_wide_cluster_ols, genome_wide_ols, mixed_model_ols
from .stats.standardize import zscore

__all__ = ["GenomeStudy", "simulate_genome_study", "design_sampling", "power_by_design", "power_at", "ANALYSES", "analyse_design",
           "lr_profile_correlation", "calibrate_lr_corr"]

#: Analyses of a design with left-right ROI pairs (see :func:`analyse_design`).
ANALYSES = ("rois", "pair_means", "cluster_robust", "mixed")
#: Most per-gene mixed-model fits :func:`power_by_design` runs (REML per gene, all genes at once).
MAX_MIXED_FITS = 50_000


class GenomeStudy(NamedTuple):
    """Result of :func:`simulate_genome_study`.

    Attributes
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
        Donor-averaged expression z-scores in the ROIs.
    qsm : pandas.Series, shape (n_rois,)
        The simulated z-scored QSM of those ROIs.
    roi_expression : qmrigenes.ahba.RoiExpression
        Per-donor z-scores, donors per ROI and genes dropped for zero variance.
    ols : qmrigenes.stats.regression.GenomeWideOLS
        Genome-wide OLS of QSM on each gene.
    results : pandas.DataFrame, shape (n_genes, 11)
        ``ols.table`` joined with :func:`qmrigenes.stats.regression.correct`
        (``p_bh``, ``bh``, ``p_bonferroni``, ``bonferroni`` at ``alpha``).
    ols_seconds : float
        Wall time of the genome-wide OLS (s).
    """

    expression: pd.DataFrame
    qsm: pd.Series
    roi_expression: object
    ols: object
    results: pd.DataFrame
    ols_seconds: float


def simulate_genome_study(annotations: pd.DataFrame, genes: Sequence[str], qsm: pd.Series, *,
                          planted: Mapping[str, float], table: pd.DataFrame | None = None, lr_corr: float = 0.0,
                          alpha: float = 0.05, seed: int = 0) -> GenomeStudy:
    """Simulate every gene sample by sample with a real AHBA sampling and run a genome-wide regression.

    The expression of each gene in each real AHBA sample is simulated by
    :func:`qmrigenes.ahba.simulate_roi_expression` (``level="sample"``)
    against a QSM vector (e.g. :func:`qmrigenes.ahba.simulate_qsm`),
    matched to the ROIs, z-scored per donor and averaged
    (:func:`qmrigenes.ahba.expression_by_roi`), then regressed gene by gene
    (:func:`qmrigenes.stats.regression.genome_wide_ols`) with BH and
    Bonferroni at ``alpha``. One replicate with everything kept, where
    :func:`power_by_design` runs many at the ROI level and keeps only
    power and error rates.

    Parameters
    ----------
    annotations : pandas.DataFrame
        Real sample annotations (:func:`qmrigenes.datasets.load_ahba_sample_annotations`).
    genes : sequence of str
        Gene names to simulate (e.g. the 15,633 of the AHBA table).
    qsm : pandas.Series, shape (n_rois,)
        z-scored QSM per ROI of ``table`` (:func:`qmrigenes.ahba.simulate_qsm`).
    planted : mapping of str to float
        ``{gene: correlation with QSM}``; every other gene is null.
    table : pandas.DataFrame, optional
        ROIs and their AHBA structures (default :func:`qmrigenes.ahba.roi_structure_table`).
    lr_corr : float in [0, 1], default 0
        Left-right correlation of the genes' spatial patterns.
    alpha : float, default 0.05
        FDR (BH) and family-wise (Bonferroni) level.
    seed : int, default 0
        Seed of the simulated expression.

    Returns
    -------
    GenomeStudy

    Examples
    --------
    >>> from qmrigenes.datasets import load_ahba_sample_annotations          # doctest: +SKIP
    >>> genes = [f"G{i}" for i in range(500)]
    >>> from qmrigenes.ahba import simulate_qsm
    >>> study = simulate_genome_study(load_ahba_sample_annotations(), genes,  # doctest: +SKIP
    ...                               simulate_qsm(seed=2), planted={"G0": 0.9}, seed=1)
    >>> study.results.loc["G0", "bh"]                                         # doctest: +SKIP
    True
    """
    from .ahba import expression_by_roi, roi_sampling, roi_structure_table, simulate_roi_expression

    genes = list(genes)
    unknown = [g for g in planted if g not in set(genes)]
    if unknown:
        raise ValueError(f"planted genes not among the simulated genes: {unknown}")
    alpha = check_scalar(alpha, "alpha", min=0, min_inclusive=False, max=1, max_inclusive=False)
    table = roi_structure_table() if table is None else table
    if not isinstance(qsm, pd.Series) or not table.index.isin(qsm.index).all():
        raise ValueError(f"qsm must be a pandas Series with a value for every ROI of table, got {describe(qsm)}")
    sampling = roi_sampling(annotations, table=table)
    sim = simulate_roi_expression(sampling, qsm, genes, effects=dict(planted), level="sample",
                                  annotations=annotations, table=table, lr_corr=lr_corr, seed=seed)
    roi_expr = expression_by_roi(sim.expression, sim.annotations, table=table)
    x = roi_expr.expression
    y = qsm.loc[x.index]
    t0 = time.perf_counter()
    ols = genome_wide_ols(x, y)
    seconds = time.perf_counter() - t0
    return GenomeStudy(x, y, roi_expr, ols, ols.table.join(correct(ols.table["p"], alpha=alpha)), seconds)


def analyse_design(expression: pd.DataFrame, qsm: pd.Series, *, analysis: str = "rois",
                   pairs: pd.Series | None = None) -> pd.DataFrame:
    """Genome-wide test of QSM on expression over ROIs, with or without the ROI pairs.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_rois, n_genes)
        Donor-averaged expression per ROI.
    qsm : pandas.Series, shape (n_rois,)
        The map (z-scored inside the regression).
    analysis : {"rois", "pair_means", "cluster_robust", "mixed"}
        ``"rois"``: OLS over all ROIs, df = n - 2 (the paper's test; it treats
        the left and right ROI of a structure as independent);
        ``"pair_means"``: OLS over the means of each pair (one value per
        structure, df = n_pairs - 2);
        ``"cluster_robust"``: OLS over all ROIs with CR1 standard errors
        clustered by pair, df = n_pairs - 1
        (:func:`qmrigenes.stats.regression.genome_wide_cluster_ols`);
        ``"mixed"``: a random intercept per pair, REML, Wald test
        (:func:`qmrigenes.stats.regression.mixed_model_ols`, statsmodels' MixedLM
        model, REML per gene).
    pairs : pandas.Series, optional
        Pair key per ROI (:func:`qmrigenes.ahba.roi_pairs`); needed except for ``"rois"``.

    Returns
    -------
    pandas.DataFrame
        Index gene; at least ``slope`` and ``p`` (genes with zero variance dropped).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> idx = [f"roi{i}" for i in range(12)]
    >>> x = pd.DataFrame(rng.normal(size=(12, 4)), index=idx, columns=list("abcd"))
    >>> q = pd.Series(rng.normal(size=12), index=idx)
    >>> pairs = pd.Series(np.arange(12) // 2, index=idx)
    >>> analyse_design(x, q, analysis="pair_means", pairs=pairs)["p"].shape
    (4,)
    """
    check_choice(analysis, "analysis", list(ANALYSES))
    if analysis == "rois":
        return genome_wide_ols(expression, qsm).table
    if not isinstance(pairs, pd.Series):
        raise TypeError(f"analysis={analysis!r} needs pairs (a Series ROI -> pair key, "
                        f"qmrigenes.ahba.roi_pairs()), got {describe(pairs)}")
    if analysis == "cluster_robust":
        return genome_wide_cluster_ols(expression, qsm, groups=pairs).table
    if analysis == "mixed":
        return mixed_model_ols(expression, qsm, groups=pairs)
    missing = [r for r in expression.index if r not in pairs.index]
    if missing:
        raise ValueError(f"pairs has no pair key for ROIs {missing[:10]}")
    key = pairs.loc[expression.index].to_numpy()
    means = expression.groupby(key).mean()
    return genome_wide_ols(means, qsm.loc[expression.index].groupby(key).mean()).table



def design_sampling(sampling: pd.DataFrame, table: pd.DataFrame, design: str) -> pd.DataFrame:
    """Alter the real per-donor sampling to a counterfactual design.

    Parameters
    ----------
    sampling : pandas.DataFrame
        Output of :func:`qmrigenes.ahba.roi_sampling`.
    table : pandas.DataFrame
        Output of :func:`qmrigenes.ahba.roi_structure_table` (pairs ROIs by ``roi_id``: right = left + 1).
    design : {"ahba", "left_only", "both_hemispheres"}
        ``"ahba"``: unchanged; ``"left_only"``: drop right-hemisphere ROIs;
        ``"both_hemispheres"``: every donor also samples each right ROI as it
        sampled the left one (the counts of its left structures).
    """
    check_choice(design, "design", ["ahba", "left_only", "both_hemispheres"])
    for nm, t, cols in (("sampling", sampling, {"donor", "roi", "structure"}),
                        ("table", table, {"hemisphere", "roi_id"})):
        if not isinstance(t, pd.DataFrame):
            raise TypeError(f"{nm} must be a DataFrame, got {describe(t)}")
        if not cols <= set(t.columns):
            raise ValueError(f"{nm} must have columns {sorted(cols)}, has {list(t.columns)}")
    if design == "ahba":
        return sampling.copy()
    right = table.index[table["hemisphere"] == "R"]
    if design == "left_only":
        return sampling[~sampling["roi"].isin(right)].reset_index(drop=True)
    if design != "both_hemispheres":
        raise ValueError(f"design must be 'ahba', 'left_only' or 'both_hemispheres', got {design!r}")
    by_id = pd.Series(table.index, index=table["roi_id"])
    left = sampling[~sampling["roi"].isin(right)]
    mirrored = left.assign(
        roi=[by_id[table.loc[r, "roi_id"] + 1] for r in left["roi"]],
        structure=left["structure"].str.replace(", left", ", right", regex=False))
    have = set(zip(sampling["donor"], sampling["roi"]))
    add = mirrored[[(d, r) not in have for d, r in zip(mirrored["donor"], mirrored["roi"])]]
    return pd.concat([sampling, add], ignore_index=True)


def power_by_design(sampling: pd.DataFrame, table: pd.DataFrame, *, effects=(0.3, 0.5, 0.7, 0.9),
                    n_per_effect: int = 25, n_genes: int = 5000, n_rep: int = 10, alpha: float = 0.05,
                    designs=("ahba", "left_only", "both_hemispheres"), donor_sd: float = 0.5,
                    sample_sd: float = 1.0, lr_corr: float = 0.0, analyses=("rois",),
                    seed: int = 0) -> pd.DataFrame:
    """Power and calibration of genome-wide BH under several sampling designs and analyses.

    Each replicate simulates a QSM vector (:func:`qmrigenes.ahba.simulate_qsm`,
    left and right ROIs of a structure alike) and ``n_genes`` genes,
    ``n_per_effect`` of them planted at each correlation in ``effects``
    (:func:`qmrigenes.ahba.simulate_roi_expression`, ROI level, left-right
    pattern correlation ``lr_corr``), runs the z-score/average pipeline and each
    analysis of :func:`analyse_design`, and records the fraction of planted
    genes found at BH FDR ``alpha`` (power), the share of null genes with
    p < ``alpha`` (type-I error) and the null genes BH selects (false
    discoveries).

    Parameters
    ----------
    sampling, table : pandas.DataFrame
        :func:`qmrigenes.ahba.roi_sampling` and :func:`qmrigenes.ahba.roi_structure_table`.
    effects : sequence of float
        Planted correlations; empty for a pure null (every gene null).
    lr_corr : float in [0, 1], optional
        Left-right correlation of the genes' spatial patterns. Default 0
        (independent; the real AHBA deep-grey data are far from it, see
        :func:`qmrigenes.ahba.simulate_roi_expression`).
    analyses : sequence of {"rois", "pair_means", "cluster_robust", "mixed"}
        Default ``("rois",)``, the paper's 34-ROI OLS. ``"mixed"`` costs one
        REML fit per gene (limit :data:`MAX_MIXED_FITS` fits per call).
    seed : int
        Replicate ``k`` uses seeds ``seed + k`` (QSM) and ``seed + 1000 + k``
        (expression), the same for every design and analysis.

    Returns
    -------
    pandas.DataFrame
        Long: ``design``, ``analysis``, ``effect`` (NaN for a pure null),
        ``power`` (mean over replicates), ``power_sd``, ``mean_slope``,
        ``n_rois`` (units of the analysis: ROIs or pairs), ``type1`` (share of
        null genes with p < ``alpha``, mean over replicates),
        ``false_discoveries`` (null genes selected by BH, mean per replicate)
        and ``any_false`` (share of replicates with at least one).

    Examples
    --------
    >>> from qmrigenes.ahba import roi_sampling, roi_structure_table    # doctest: +SKIP
    >>> table = roi_structure_table()                                  # doctest: +SKIP
    >>> power_by_design(roi_sampling(annotations, table=table), table, effects=(), n_genes=2000,
    ...                 n_rep=2, lr_corr=0.7, analyses=("rois", "pair_means"))   # doctest: +SKIP
    """
    from .ahba import average_donors, roi_pairs, simulate_qsm, simulate_roi_expression, zscore_rois

    n_genes = check_int(n_genes, "n_genes", min=2, max=100_000)
    n_per_effect = check_int(n_per_effect, "n_per_effect", min=1)
    n_rep = check_int(n_rep, "n_rep", min=1, max=1000)
    seed = check_int(seed, "seed", min=0)
    alpha = check_scalar(alpha, "alpha", min=0, min_inclusive=False, max=1, max_inclusive=False)
    donor_sd = check_scalar(donor_sd, "donor_sd", min=0)
    sample_sd = check_scalar(sample_sd, "sample_sd", min=0)
    lr_corr = check_scalar(lr_corr, "lr_corr", min=0, max=1)
    if isinstance(analyses, str):
        raise TypeError(f"analyses must be a list of analysis names, got a bare string {analyses!r}")
    analyses = list(analyses)
    for an in analyses:
        check_choice(an, "analyses", list(ANALYSES))
    check_unique(analyses, "analyses")
    effects = [] if len(effects) == 0 else as_array(effects, "effects", ndim=1).tolist()
    if any(abs(a) >= 1 for a in effects):
        raise ValueError(f"effects must be correlations in (-1, 1), got {effects}")
    check_unique(effects, "effects")
    if len(effects) * n_per_effect >= n_genes:
        raise ValueError(f"n_genes must exceed len(effects) * n_per_effect = {len(effects) * n_per_effect} "
                         f"(planted genes plus null genes), got {n_genes}")
    if isinstance(designs, str):
        raise TypeError(f"designs must be a list of design names, got a bare string {designs!r}")
    designs = list(designs)
    for d in designs:
        check_choice(d, "designs", ["ahba", "left_only", "both_hemispheres"])
    if n_rep * len(designs) * n_genes > 50_000_000:
        raise ValueError(f"n_rep={n_rep} x {len(designs)} designs x n_genes={n_genes} is too much work "
                         f"(limit 5e7 gene-fits); lower n_rep or n_genes")
    if "mixed" in analyses and n_rep * len(designs) * n_genes > MAX_MIXED_FITS:
        raise ValueError(f"analyses includes 'mixed' (one REML fit per gene): n_rep={n_rep} x "
                         f"{len(designs)} designs x n_genes={n_genes} exceeds {MAX_MIXED_FITS} fits")
    pairs = roi_pairs(table)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    planted = {}
    for j, a in enumerate(effects):
        for g in genes[j * n_per_effect:(j + 1) * n_per_effect]:
            planted[g] = a
    rows = []
    for design in designs:
        samp = design_sampling(sampling, table, design)
        rois = [r for r in table.index if r in set(samp["roi"])]
        for rep in range(n_rep):
            qsm = simulate_qsm(table, seed=seed + rep).loc[rois]
            qsm = zscore(qsm)
            sim = simulate_roi_expression(samp, qsm, genes, effects=planted, donor_sd=donor_sd,
                                          sample_sd=sample_sd, table=table, lr_corr=lr_corr,
                                          seed=seed + 1000 + rep)
            per = {d: zscore_rois(m)[0] for d, m in sim.roi_means.items()}
            avg, _ = average_donors(per, rois=rois)
            for analysis in analyses:
                res = analyse_design(avg, qsm.loc[avg.index], analysis=analysis, pairs=pairs)
                sig = pd.Series(fdr_bh(res["p"].to_numpy()) <= alpha, index=res.index)
                null_genes = [g for g in res.index if g not in planted]
                units = len(avg) if analysis != "pair_means" else pairs.loc[avg.index].nunique()
                common = {"design": design, "analysis": analysis, "rep": rep, "n_rois": units,
                          "type1": float((res.loc[null_genes, "p"] < alpha).mean()),
                          "false_discoveries": int(sig[null_genes].sum())}
                for a in effects or [np.nan]:
                    gs = [g for g, v in planted.items() if v == a]
                    rows.append({**common, "effect": a, "power": sig[gs].mean() if gs else np.nan,
                                 "mean_slope": res.loc[gs, "slope"].mean() if gs else np.nan})
    long = pd.DataFrame(rows)
    long["any_false"] = long["false_discoveries"] > 0
    out = long.groupby(["design", "analysis", "effect"], sort=False, dropna=False).agg(
        power=("power", "mean"), power_sd=("power", "std"), mean_slope=("mean_slope", "mean"),
        n_rois=("n_rois", "first"), type1=("type1", "mean"),
        false_discoveries=("false_discoveries", "mean"), any_false=("any_false", "mean")).reset_index()
    return out


def power_at(power: pd.DataFrame, effect: float, *, analysis: str = "rois") -> dict[str, float]:
    """Power of each design at one planted correlation (rows of :func:`power_by_design`).

    ``analysis`` selects the rows of one analysis when the table has several.

    Returns
    -------
    dict
        Design -> power, in the order of ``power``.
    """
    if not isinstance(power, pd.DataFrame) or not {"effect", "design", "power"} <= set(power.columns):
        raise TypeError(f"power must be the DataFrame of power_by_design(), got {describe(power)}")
    effect = check_scalar(effect, "effect", min=-1, max=1)
    rows = power[np.isclose(power["effect"], effect)]
    if "analysis" in power.columns:
        check_choice(analysis, "analysis", list(ANALYSES))
        rows = rows[rows["analysis"] == analysis]
    if rows.empty:
        raise ValueError(f"effect {effect:g} not in the power table; known: "
                         f"{sorted(float(e) for e in power['effect'].unique())}")
    return dict(zip(rows["design"], rows["power"].astype(float)))


def lr_profile_correlation(left: pd.DataFrame, right: pd.DataFrame) -> pd.Series:
    """Per gene, the Pearson r between its left and right expression profiles across structures.

    Parameters
    ----------
    left, right : pandas.DataFrame, shape (n_structures, n_genes)
        Expression of the same structures (rows, same order) in each
        hemisphere; same gene columns.

    Returns
    -------
    pandas.Series, shape (n_genes,)
        r per gene (genes constant in either hemisphere dropped). Its median
        measures how symmetric the expression patterns are: 0 for unrelated
        hemispheres, 1 for mirror copies.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = pd.DataFrame(rng.normal(size=(7, 50)))
    >>> float(lr_profile_correlation(a, a).median())
    1.0
    """
    for nm, f in (("left", left), ("right", right)):
        if not isinstance(f, pd.DataFrame):
            raise TypeError(f"{nm} must be a DataFrame (structures x genes), got {describe(f)}")
    if left.shape != right.shape or not left.columns.equals(right.columns):
        raise ValueError(f"left and right must have the same shape and gene columns, got {left.shape} "
                         f"and {right.shape}")
    if left.shape[0] < 3:
        raise ValueError(f"left and right need at least 3 structures, got {left.shape[0]}")
    a = as_array(left, "left", ndim=2)
    b = as_array(right, "right", ndim=2)
    a, b = a - a.mean(axis=0), b - b.mean(axis=0)
    den = np.sqrt((a ** 2).sum(axis=0) * (b ** 2).sum(axis=0))
    ok = den > 0
    return pd.Series((a * b).sum(axis=0)[ok] / den[ok], index=left.columns[ok], name="lr_r")


def _simulated_lr_median(sampling, table, lr_corr, *, n_genes, seed):
    """Median left-right profile r of simulated donor-averaged expression (the paper's ROI pairs)."""
    from .ahba import average_donors, simulate_qsm, simulate_roi_expression, zscore_rois

    qsm = zscore(simulate_qsm(table, seed=seed))
    genes = [f"G{i:05d}" for i in range(n_genes)]
    sim = simulate_roi_expression(sampling, qsm, genes, table=table, lr_corr=lr_corr, seed=seed + 1)
    per = {d: zscore_rois(m)[0] for d, m in sim.roi_means.items()}
    avg, _ = average_donors(per, rois=list(table.index))
    left = table.index[table["hemisphere"] == "L"]
    right = [table.index[(table["roi_id"] == table.loc[r, "roi_id"] + 1)][0] for r in left]
    return float(lr_profile_correlation(avg.loc[left].reset_index(drop=True),
                                        avg.loc[right].reset_index(drop=True)).median())


def calibrate_lr_corr(sampling: pd.DataFrame, table: pd.DataFrame, target: float, *,
                      grid=(0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0), n_genes: int = 3000,
                      seed: int = 0) -> tuple[float, pd.Series]:
    """The pattern correlation ``lr_corr`` whose simulated data show a target left-right symmetry.

    Donor deviations and sample noise weaken the left-right correlation of
    the donor-averaged ROI expression below that of the underlying patterns,
    so the ``lr_corr`` of :func:`qmrigenes.ahba.simulate_roi_expression` that
    reproduces an observed median profile r (:func:`lr_profile_correlation`)
    is larger than it. This simulates each value of ``grid`` with the real
    sampling and interpolates linearly.

    Parameters
    ----------
    sampling, table : pandas.DataFrame
        :func:`qmrigenes.ahba.roi_sampling` (with right-hemisphere ROIs) and
        :func:`qmrigenes.ahba.roi_structure_table`.
    target : float
        Observed median left-right profile r, in (-1, 1).
    grid : sequence of float in [0, 1], increasing
    n_genes : int
        Simulated null genes per grid value.

    Returns
    -------
    lr_corr : float
        Interpolated pattern correlation (clipped to the grid's range).
    curve : pandas.Series
        Simulated median profile r per grid value (index ``lr_corr``).

    Examples
    --------
    >>> rho, curve = calibrate_lr_corr(sampling, table, 0.71)    # doctest: +SKIP
    """
    target = check_scalar(target, "target", min=-1, max=1)
    n_genes = check_int(n_genes, "n_genes", min=50, max=100_000)
    seed = check_int(seed, "seed", min=0)
    grid = as_array(grid, "grid", ndim=1)
    if (np.diff(grid) <= 0).any() or grid.min() < 0 or grid.max() > 1:
        raise ValueError(f"grid must increase within [0, 1], got {grid.tolist()}")
    curve = pd.Series([_simulated_lr_median(sampling, table, float(g), n_genes=n_genes, seed=seed)
                       for g in grid], index=pd.Index(grid, name="lr_corr"), name="simulated median r")
    rho = float(np.interp(target, curve.to_numpy(), grid))   # the simulated median rises with lr_corr
    return rho, curve
