"""Tests of qmrigenes.stats.regression."""
import numpy as np
import pandas as pd
import pytest

from qmrigenes import design
from qmrigenes.stats import regression as reg


def test_ols_matches_statsmodels(data):
    # statsmodels' OLS and add_constant themselves (statsmodels.api is the same objects, imported by
    # every test process at collection if imported at the top)
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    x, y = data
    res = reg.genome_wide_ols(x, y).table
    yz = (y - y.mean()) / y.std(ddof=1)
    for g in ["G0", "G1", "G77", "G199"]:
        fit = OLS(yz.to_numpy(), add_constant(x[g].to_numpy())).fit()
        assert abs(fit.params[1] - res.loc[g, "slope"]) < 1e-10
        assert abs(fit.params[0] - res.loc[g, "intercept"]) < 1e-10
        assert abs(fit.pvalues[1] - res.loc[g, "p"]) < 1e-10
        assert abs(fit.bse[1] - res.loc[g, "se"]) < 1e-10
    assert (res["n"] == 34).all()


def test_standardized_slope_is_r(data):
    x, y = data
    res = reg.genome_wide_ols(x, y, standardize_x=True).table
    assert np.allclose(res["slope"], res["r"])
    assert res.loc["G0", "r"] == pytest.approx(np.corrcoef(x["G0"], y)[0, 1])


def test_zero_variance_reported(data):
    x, y = data
    x = x.assign(FLAT=3.0)
    res = reg.genome_wide_ols(x, y)
    assert list(res.zero_variance) == ["FLAT"]
    assert "FLAT" not in res.table.index and len(res.table) == 200


def test_nan_map_errors(data):
    x, y = data
    y = y.copy()
    y.iloc[3] = np.nan
    with pytest.raises(ValueError, match="NaN values at \\['roi3'\\]"):
        reg.genome_wide_ols(x, y)


def test_mismatched_roi_order_errors(data):
    x, y = data
    # ROIs are aligned by name, never by position
    pd.testing.assert_frame_equal(reg.genome_wide_ols(x, y.iloc[::-1]).table, reg.genome_wide_ols(x, y).table)
    with pytest.raises(ValueError, match="different ROIs"):
        reg.genome_wide_ols(x, y.rename(index={"roi0": "elsewhere"}))


def test_bh_as_published_uses_permutation_not_ranks():
    from statsmodels.stats.multitest import multipletests

    # gene order: small p-values late in the list get large thresholds
    p = np.array([1e-6, 0.5, 0.4, 0.3, 2e-6])
    # sort order (1-based) I = [1, 5, 4, 3, 2]; cval(i) = I(i) * Q / m with Q = 1e-4, m = 5
    # gene1: 1e-6 < 2e-5 passes; gene5: 2e-6 < 4e-5 passes -> M = 2e-6; selected: p < M -> gene1 only
    sel = reg.bh_as_published(p)
    assert sel.tolist() == [True, False, False, False, False]
    std = multipletests(p, alpha=1e-4, method="fdr_bh")[0]
    assert std.tolist() == [True, False, False, False, True]      # standard BH keeps both


def test_bh_as_published_subset_of_p_below_q(rng):
    p = rng.uniform(size=5000) ** 6
    sel = reg.bh_as_published(p)
    assert (p[sel] < 1e-4).all()
    assert reg.bh_as_published(np.full(10, 0.9)).sum() == 0


def test_correct_and_compare(data):
    x, y = data
    y = y + 2 * x["G0"]
    res = reg.genome_wide_ols(x, y)
    c = reg.correct(res.table["p"])
    assert c.loc["G0", "bh"] and c.loc["G0", "bonferroni"]
    cmp = reg.compare_bh(res.table["p"], genes=["G0"])
    assert cmp.loc["standard BH, FDR 0.05", "n_in_genes"] == 1
    tab = reg.gene_table(res, {"s": ["G0", "MISSING"]})
    assert tab["present"].tolist() == [True, False]


def test_per_donor_and_pls(data, rng):
    x, y = data
    per = {"a": x.iloc[:20], "b": x.iloc[10:]}
    out = reg.per_donor_ols(per, y, ["G0", "G1"])
    assert set(out["donor"]) == {"a", "b"} and (out.loc[out["donor"] == "a", "n"] == 20).all()
    with pytest.raises(ValueError, match="NaN"):
        reg.per_donor_ols(per, y.where(y > -10).mask(y.index == "roi5"), ["G0"])
    pls = reg.pls_loocv(x[["G0", "G1", "G2"]], y, max_components=3)
    assert list(pls.index) == [1, 2, 3]
    assert (pls["rmse_loocv"] >= pls["rmse"] - 1e-12).all()


def test_set_level_nulls(data):
    x, y = data
    x = x.iloc[:7]
    y = y.iloc[:7]
    perm = reg.permutation_set_null(x, y, ["G0", "G1"])
    assert perm.shape == (5040,)
    obs = np.mean([np.corrcoef(x[g], y)[0, 1] for g in ["G0", "G1"]])
    assert obs == pytest.approx(perm[0])                          # identity permutation first
    out = reg.set_level_tests(x, y, {"s": ["G0", "G1", "G2"]}, n_perm=500)
    assert 0 < out.loc["s", "p_gene"] <= 1 and out.loc["s", "n_label_permutations"] == 5040
    assert reg.set_coexpression(x, ["G0", "G1"]) == pytest.approx(
        np.corrcoef(x["G0"], x["G1"])[0, 1])


def test_design_sampling_and_power(ahba_annotations):
    from qmrigenes import ahba
    table = ahba.roi_structure_table()
    samp = ahba.roi_sampling(ahba_annotations, table=table)
    left = design.design_sampling(samp, table, "left_only")
    assert left["roi"].nunique() == 17
    both = design.design_sampling(samp, table, "both_hemispheres")
    assert both.groupby("donor")["roi"].nunique().loc[3] == 34
    pw = design.power_by_design(samp, table, effects=(0.0, 0.95), n_per_effect=10, n_genes=300, n_rep=2,
                             designs=("ahba",))
    p = pw.set_index("effect")["power"]
    assert p[0.95] > p[0.0]


def test_power_at():
    power = pd.DataFrame({"design": ["a", "b", "a", "b"], "effect": [0.5, 0.5, 0.7, 0.7],
                          "power": [0.1, 0.2, 0.6, 0.9]})
    assert design.power_at(power, 0.7) == {"a": 0.6, "b": 0.9}
    with pytest.raises(ValueError):
        design.power_at(power, 0.3)




# --------------------------------------------------------------------------- exact permutation p (issue 21)
def test_exact_permutation_p_counts_identity_once():
    from qmrigenes.stats.genesets import null_pvalues
    null = np.arange(120.0)                      # all 5! orderings, the observed one among them
    # b = 30 values at or below the observed: exact 2*30/120 = 0.5, Monte Carlo 2*31/121 = 0.512
    assert null_pvalues(29.0, null, exact=True) == pytest.approx(0.5)
    assert null_pvalues(29.0, null) == pytest.approx(62 / 121)
    assert null_pvalues(0.0, null, exact=True) == pytest.approx(2 / 120)     # two-sided floor 2/n!
    assert null_pvalues(0.0, null) == pytest.approx(4 / 121)


def test_set_level_label_p_is_exact_at_n5():
    from qmrigenes.stats.spatial import label_permutations
    rng = np.random.default_rng(5)
    idx = [f"R{i}" for i in range(5)]
    y = pd.Series(np.arange(5.0), index=idx)
    x = pd.DataFrame(rng.normal(size=(5, 40)), index=idx, columns=[f"G{i}" for i in range(40)])
    x["G0"] = y + 0.01 * rng.normal(size=5)      # the set tracks y: the identity is the extreme ordering
    x["G1"] = y + 0.01 * rng.normal(size=5)
    out = reg.set_level_tests(x, y, {"s": ["G0", "G1"]}, n_perm=200)
    perms = label_permutations(idx, max_exact=120)
    assert len(perms) == 120
    null = np.array([np.mean([np.corrcoef(x[g].to_numpy(), y.to_numpy()[p])[0, 1] for g in ("G0", "G1")])
                     for p in perms.to_numpy()])
    obs = null[0]
    b = min((null >= obs - 1e-12).sum(), (null <= obs + 1e-12).sum())
    assert out.loc["s", "p_label"] == pytest.approx(min(1.0, 2 * b / 120))
    assert out.loc["s", "p_label"] == pytest.approx(2 / 120)


# --------------------------------------------------------------------------- paired ROIs (issue 21)
def test_cluster_ols_matches_statsmodels():
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(3)
    idx = [f"roi{i}" for i in range(24)]
    x = pd.DataFrame(rng.normal(size=(24, 5)), index=idx, columns=list("abcde"))
    y = pd.Series(rng.normal(size=24), index=idx)
    groups = pd.Series(np.arange(24) // 2, index=idx)
    res = reg.genome_wide_cluster_ols(x, y, groups=groups).table
    for g in x.columns:
        fit = sm.OLS(reg.zscore(y.to_numpy()), sm.add_constant(x[g].to_numpy())).fit(
            cov_type="cluster", cov_kwds={"groups": groups.to_numpy()})
        assert res.loc[g, "se"] == pytest.approx(fit.bse[1], rel=1e-10)
        assert res.loc[g, "slope"] == pytest.approx(fit.params[1], rel=1e-10)
    assert (res["df"] == 11).all()


def test_lr_corr_makes_pairs_alike():
    from qmrigenes import ahba
    table = ahba.roi_structure_table()
    pairs = ahba.roi_pairs(table)
    assert pairs.value_counts().eq(2).all() and len(pairs) == 34
    left = table.index[table["hemisphere"] == "L"]
    right = [table.index[table["roi_id"] == table.loc[r, "roi_id"] + 1][0] for r in left]
    samp = pd.DataFrame({"donor": "d1", "roi": list(table.index), "structure": [f"s{i}" for i in range(34)],
                         "n_samples": 3})
    q = ahba.simulate_qsm(table, seed=0)
    genes = [f"G{i}" for i in range(400)]
    out = {}
    for rho in (0.0, 0.8, 1.0):
        sim = ahba.simulate_roi_expression(samp, q, genes, donor_sd=0.0, sample_sd=0.0, table=table,
                                           lr_corr=rho, seed=1)
        m = sim.roi_means["d1"]
        out[rho] = design.lr_profile_correlation(m[left].T.reset_index(drop=True),
                                                 m[right].T.reset_index(drop=True)).median()
    assert abs(out[0.0]) < 0.1 and abs(out[0.8] - 0.8) < 0.1 and out[1.0] == pytest.approx(1.0)
    base = ahba.simulate_roi_expression(samp, q, genes, table=table, seed=1).roi_means["d1"]
    same = ahba.simulate_roi_expression(samp, q, genes, table=table, lr_corr=0.0, seed=1).roi_means["d1"]
    pd.testing.assert_frame_equal(base, same)                     # default: the old independent draw
    with pytest.raises(ValueError, match="lr_corr"):
        ahba.simulate_roi_expression(samp, q, genes, table=table, lr_corr=1.5)


@pytest.fixture(scope="module")
def real_sampling(ahba_annotations_once):
    from qmrigenes import ahba
    table = ahba.roi_structure_table()
    return ahba.roi_sampling(ahba_annotations_once.copy(), table=table), table


def test_symmetric_null_inflates_34_roi_test_not_pair_means(real_sampling):
    samp, table = real_sampling
    kw = dict(effects=(), n_genes=1500, n_rep=2, designs=("ahba",), analyses=("rois", "pair_means"), seed=4)
    ind = design.power_by_design(samp, table, lr_corr=0.0, **kw).set_index("analysis")
    sym = design.power_by_design(samp, table, lr_corr=0.95, **kw).set_index("analysis")
    # independent patterns: both near nominal; symmetric: 34-ROI OLS anti-calibrated, pair means not
    assert 0.02 < ind.loc["rois", "type1"] < 0.075 and 0.02 < ind.loc["pair_means", "type1"] < 0.075
    assert sym.loc["rois", "type1"] > 0.09
    assert 0.02 < sym.loc["pair_means", "type1"] < 0.075
    assert sym.loc["rois", "false_discoveries"] > sym.loc["pair_means", "false_discoveries"]
    assert sym.loc["pair_means", "n_rois"] == 17 and sym.loc["rois", "n_rois"] == 34


def test_calibrate_lr_corr_inverts_the_curve(real_sampling):
    samp, table = real_sampling
    rho, curve = design.calibrate_lr_corr(samp, table, 0.5, grid=(0.0, 0.5, 0.9), n_genes=600, seed=2)
    assert curve.is_monotonic_increasing and curve.iloc[0] < 0.1
    assert 0.5 < rho < 0.9                         # noise attenuates: the pattern r exceeds the observed r
    with pytest.raises(ValueError, match="grid"):
        design.calibrate_lr_corr(samp, table, 0.5, grid=(0.5, 0.2))


def test_simulate_genome_study_finds_a_strong_planted_gene(ahba_annotations):

    from qmrigenes.ahba import simulate_qsm

    genes, qsm = [f"G{i:03d}" for i in range(200)], simulate_qsm(seed=3)
    study = design.simulate_genome_study(ahba_annotations, genes, qsm, planted={"G007": 0.95}, seed=1)
    assert study.expression.shape == (34, 200) and study.qsm.index.equals(study.expression.index)
    assert study.results.loc["G007", "bh"] and study.results["bh"].sum() < 20    # found, few false ones
    assert {"slope", "p", "p_bh", "bh", "p_bonferroni", "bonferroni"} <= set(study.results.columns)
    assert study.ols_seconds >= 0
    with pytest.raises(ValueError, match="planted genes"):
        design.simulate_genome_study(ahba_annotations, genes, qsm, planted={"TF": 0.5})
    with pytest.raises(ValueError, match="alpha"):
        design.simulate_genome_study(ahba_annotations, genes, qsm, planted={}, alpha=1.5)


def test_t_sf_equals_scipy_stats(rng):
    from scipy import stats

    from qmrigenes.stats.regression import _t_sf

    t = np.concatenate([rng.normal(scale=4, size=200), [0.0, np.inf, 40.0, np.nan]])
    for df in (1, 3, 14.5, 300):
        np.testing.assert_array_equal(_t_sf(np.abs(t), df), stats.t.sf(np.abs(t), df))


@pytest.mark.parametrize("n", [1, 2, 7, 500])
def test_fdr_bh_is_statsmodels_bit_for_bit(rng, n):
    """fdr_bh repeats statsmodels' multipletests(method="fdr_bh") without importing it: the same
    q-values bit for bit, ties (and p = 0 or 1) included."""
    from statsmodels.stats.multitest import multipletests

    from qmrigenes.stats import multitest

    p = rng.random(n) ** 3
    if n > 2:
        p[: n // 3] = p[n // 3]                       # a block of ties
        p[-1], p[-2] = 0.0, 1.0
    np.testing.assert_array_equal(multitest.fdr_bh(p), multipletests(p, method="fdr_bh")[1])
    np.testing.assert_array_equal(multitest.fdr_bh(p[::-1]), multipletests(p[::-1], method="fdr_bh")[1])
