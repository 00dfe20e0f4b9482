"""Power of an AHBA sampling design for a genome-wide QSM-expression regression.

Simulation (:mod:`qmrigenes.ahba`: a QSM vector and donor expression with planted
correlations, sampled as the donors were) followed by statistics
(:mod:`qmrigenes.stats.regression`: genome-wide OLS, BH): it sits above both, so that
neither the statistics nor the AHBA modules import each other.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._validate import as_array, check_choice, check_int, check_scalar, check_unique, describe
from .stats.multitest import fdr_bh
from .stats.regression import genome_wide_ols
from .stats.standardize import zscore

__all__ = ["design_sampling", "power_by_design", "power_at"]


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
                    sample_sd: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Power to detect planted genes (genome-wide BH) under several sampling designs.

    Each replicate simulates a QSM vector (:func:`qmrigenes.ahba.simulate_qsm`)
    and ``n_genes`` genes, ``n_per_effect`` of them planted at each correlation
    in ``effects`` (:func:`qmrigenes.ahba.simulate_roi_expression`, ROI level),
    runs the z-score/average/regression pipeline and records the fraction of
    planted genes found at BH FDR ``alpha`` and the false discoveries.

    Returns
    -------
    pandas.DataFrame
        Long: ``design``, ``effect``, ``power`` (mean over replicates),
        ``power_sd``, ``mean_slope``, ``n_rois``, ``false_discoveries``
        (mean per replicate, among null genes).
    """
    from .ahba import average_donors, simulate_qsm, simulate_roi_expression, zscore_rois

    n_genes = check_int(n_genes, "n_genes", min=2, max=100_000)
    n_per_effect = check_int(n_per_effect, "n_per_effect", min=1)
    n_rep = check_int(n_rep, "n_rep", min=1, max=1000)
    seed = check_int(seed, "seed", min=0)
    alpha = check_scalar(alpha, "alpha", min=0, min_inclusive=False, max=1, max_inclusive=False)
    donor_sd = check_scalar(donor_sd, "donor_sd", min=0)
    sample_sd = check_scalar(sample_sd, "sample_sd", min=0)
    effects = as_array(effects, "effects", ndim=1).tolist()
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
                                          sample_sd=sample_sd, seed=seed + 1000 + rep)
            per = {d: zscore_rois(m)[0] for d, m in sim.roi_means.items()}
            avg, _ = average_donors(per, rois=rois)
            res = genome_wide_ols(avg, qsm.loc[avg.index]).table
            sig = pd.Series(fdr_bh(res["p"].to_numpy()) <= alpha, index=res.index)
            null_genes = [g for g in res.index if g not in planted]
            for a in effects:
                gs = [g for g, v in planted.items() if v == a]
                rows.append({"design": design, "rep": rep, "effect": a, "power": sig[gs].mean(),
                             "mean_slope": res.loc[gs, "slope"].mean(), "n_rois": len(avg),
                             "false_discoveries": int(sig[null_genes].sum())})
    long = pd.DataFrame(rows)
    out = long.groupby(["design", "effect"], sort=False).agg(
        power=("power", "mean"), power_sd=("power", "std"), mean_slope=("mean_slope", "mean"),
        n_rois=("n_rois", "first"), false_discoveries=("false_discoveries", "mean")).reset_index()
    return out


def power_at(power: pd.DataFrame, effect: float) -> dict[str, float]:
    """Power of each design at one planted correlation (rows of :func:`power_by_design`).

    Returns
    -------
    dict
        Design -> power, in the order of ``power``.
    """
    if not isinstance(power, pd.DataFrame) or not {"effect", "design", "power"} <= set(power.columns):
        raise TypeError(f"power must be the DataFrame of power_by_design(), got {describe(power)}")
    effect = check_scalar(effect, "effect", min=-1, max=1)
    rows = power[np.isclose(power["effect"], effect)]
    if rows.empty:
        raise ValueError(f"effect {effect:g} not in the power table; known: "
                         f"{sorted(float(e) for e in power['effect'].unique())}")
    return dict(zip(rows["design"], rows["power"].astype(float)))
