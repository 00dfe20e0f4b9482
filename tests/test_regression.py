"""Tests of qmrigenes.stats.regression."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from qmrigenes import design
from qmrigenes.stats import regression as reg


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
    assert 0 < out.loc["s", "p_gene"] <= 1 and out.loc["s", "n_label_permutations"] == 5040
    assert reg.set_coexpression(x, ["G0", "G1"]) == pytest.approx(
        np.corrcoef(x["G0"], x["G1"])[0, 1])


def test_design_sampling_and_power():
    from qmrigenes import ahba
    from qmrigenes.datasets import load_ahba_sample_annotations
    table = ahba.roi_structure_table()
    samp = ahba.roi_sampling(load_ahba_sample_annotations(), table=table)
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


