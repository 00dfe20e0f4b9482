"""Tests of qmrigenes.stats.regression."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from qmrigenes.stats import regression as reg


@pytest.fixture
def data(rng):
    x = pd.DataFrame(rng.normal(size=(34, 200)), columns=[f"G{i}" for i in range(200)],
                     index=[f"roi{i}" for i in range(34)])
    y = pd.Series(0.8 * x["G0"] + rng.normal(size=34), index=x.index)
    return x, y


def test_ols_matches_statsmodels(data):
    x, y = data
    res = reg.genome_wide_ols(x, y).table
    yz = (y - y.mean()) / y.std(ddof=1)
    for g in ["G0", "G1", "G77", "G199"]:
        fit = sm.OLS(yz.to_numpy(), sm.add_constant(x[g].to_numpy())).fit()
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
    assert 0 < out.loc["s", "p_random"] <= 1 and out.loc["s", "n_permutations"] == 5040
    assert reg.set_coexpression(x, ["G0", "G1"]) == pytest.approx(
        np.corrcoef(x["G0"], x["G1"])[0, 1])


def test_design_sampling_and_power():
    from qmrigenes import ahba
    from qmrigenes.datasets import load_ahba_sample_annotations
    table = ahba.roi_structure_table()
    samp = ahba.roi_sampling(load_ahba_sample_annotations(), table=table)
    left = reg.design_sampling(samp, table, "left_only")
    assert left["roi"].nunique() == 17
    both = reg.design_sampling(samp, table, "both_hemispheres")
    assert both.groupby("donor")["roi"].nunique().loc[3] == 34
    pw = reg.power_by_design(samp, table, effects=(0.0, 0.95), n_per_effect=10, n_genes=300, n_rep=2,
                             designs=("ahba",))
    p = pw.set_index("effect")["power"]
    assert p[0.95] > p[0.0]


def test_power_at():
    power = pd.DataFrame({"design": ["a", "b", "a", "b"], "effect": [0.5, 0.5, 0.7, 0.7],
                          "power": [0.1, 0.2, 0.6, 0.9]})
    assert reg.power_at(power, 0.7) == {"a": 0.6, "b": 0.9}
    with pytest.raises(ValueError):
        reg.power_at(power, 0.3)


def test_recovery_numbers():
    genes = pd.DataFrame({"set": ["s", "s", "s", "t"], "gene": ["A", "B", "C", "D"],
                          "slope": [0.9, 0.2, -0.1, 0.5], "planted": [0.7, 0.7, 0.0, 0.5],
                          "bh": pd.array([True, False, False, True], dtype="boolean")})
    sig = pd.Series([True, False, False, True, True], index=["A", "B", "C", "D", "E"])
    out = reg.recovery_numbers(genes, sig, {"A": 0.7, "B": 0.7, "D": 0.5})
    assert out["n_significant"] == 3 and out["n_false"] == 1          # E not planted
    assert (out["s_found"], out["s_planted"], out["t_found"], out["t_planted"]) == (1, 2, 1, 1)
    assert (out["slope_min"], out["slope_max"]) == (0.2, 0.9)
    with pytest.raises(ValueError):
        reg.recovery_numbers(genes.drop(columns="planted"), sig, {})


def test_donor_precision(data):
    x, y = data
    per = {"1": x, "2": x.iloc[:12]}
    out = reg.donor_precision(reg.per_donor_ols(per, y, ["G0", "G1"]), n_split=17)
    assert out["few_donors"] == "2" and out["many_donors"] == "1"
    assert out["few_min_rois"] == out["few_max_rois"] == 12
    assert out["few_se"] > out["many_se"]                              # fewer ROIs, wider slopes
    with pytest.raises(ValueError):
        reg.donor_precision(reg.per_donor_ols(per, y, ["G0"]), n_split=40)


def test_bh_summary(rng):
    p = pd.Series(np.r_[rng.uniform(0, 1e-6, 5), rng.uniform(size=500)], index=[f"g{i}" for i in range(505)])
    cmp = reg.compare_bh(p)
    out = reg.bh_summary(cmp)
    assert out["std-n"] == int(multipletests(p, alpha=0.05, method="fdr_bh")[0].sum())
    assert out["pub-n"] == int(reg.bh_as_published(p.to_numpy()).sum())
    assert out["unc-n"] == int((p < 1e-4).sum()) and out["stdq-n"] <= out["unc-n"]
    assert out["pub-n"] - out["pub-only"] + out["std-only"] == out["std-n"]
    with pytest.raises(ValueError):
        reg.bh_summary(cmp.iloc[:2])


@pytest.fixture(scope="module")
def small_simulation():
    from qmrigenes.datasets import load_ahba_sample_annotations

    genes = [f"G{i:03d}" for i in range(300)] + ["FTL", "TFRC"]
    planted = {"FTL": 0.95, "G000": 0.95}
    return reg.simulation_study(load_ahba_sample_annotations(), genes, {"iron": ["FTL", "TFRC"]},
                                planted=planted, donor_genes=["FTL"], seed=1), planted


def test_simulation_study(small_simulation):
    sim, planted = small_simulation
    assert sim.expression.shape == (34, 302) and sim.numbers["sim-n-genes"] == 302
    assert sim.numbers["sim-n-iron-planted"] == 1 and sim.numbers["sim-iron-found"] == 1   # a = 0.95 is found
    assert sim.numbers["sim-n-bh"] >= 2 and sim.results.loc["FTL", "bh"]
    assert not sim.genes.set_index("gene").loc["TFRC", "bh"]
    assert set(sim.donors["donor"]) == set(sim.roi_expression.per_donor) and (sim.donors["gene"] == "FTL").all()
    with pytest.raises(ValueError):
        reg.simulation_study(pd.DataFrame(), ["A"], {}, planted={"B": 0.5})


def test_real_data_study_and_published(small_simulation):
    from qmrigenes.ahba import load_published

    sets = {"iron": ["TF", "TFRC", "FTL"], "myelin": ["MBP", "MOG", "PLP1"]}
    real = reg.real_data_study(sets, n_perm=200)
    num = real.numbers
    assert real.sets.shape[0] == 6 and num["r2s-n-perm"] == 5040 and num["para-n-perm"] == 120  # 7! and 5!
    assert num["r2s-n-genes"] == 6 and num["r2s-n-pos"] == int((real.wide["R2*"] > 0).sum())
    assert num["largest-p-random"] + num["largest-p-coex"] + num["largest-p-perm"] == 6
    assert num["r2s-iron-n-other"] == 2
    assert num["r2s-iron-r"] == pytest.approx(real.wide.loc["iron", "R2*"].mean())
    side = reg.published_comparison(load_published("headline").set_index("item"), real, small_simulation[0])
    assert side.loc["n_rois", "ours"] == 34 and side.loc["df", "ours"] == 32
    assert side.loc["ftl_p", "ours"] == pytest.approx(real.r2s.loc["FTL", "p"])
    assert np.isnan(side.loc["ftl_p_ilsqr", "ours"]) and "not available" in side.loc["ftl_p_ilsqr", "our data"]
    assert np.isnan(side.loc["mal_p", "ours"]) and "not in the tested" in side.loc["mal_p", "our data"]
