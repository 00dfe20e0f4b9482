"""Tests of the book's study code (qmribook), moved from the library tests."""
import numpy as np
import pandas as pd
import pytest
from qmribook import ch2
from statsmodels.stats.multitest import multipletests
from qmrigenes.stats import regression as reg


def test_planted_effects():
    eff = ch2.planted_effects(iron=0.5, myelin=0.25)
    assert len(eff) == 5 + 13 and "TFRC" not in eff and "MBP" not in eff
    assert eff["FTL"] == 0.5 and eff["MAL"] == 0.25
    with pytest.raises(ValueError):
        ch2.planted_effects(iron=1.5)


def test_sampling_overview_real():
    from qmrigenes.datasets import load_ahba_sample_annotations

    ov = ch2.sampling_overview(load_ahba_sample_annotations())
    assert ov["n_rois"] == 34 and ov["counts"].shape == (34, 6)
    assert ov["right_donors"] == "1 and 2" and ov["left_only_donors"] == "3, 4, 5 and 6"
    assert ov["single_donor_rois"] == "Amygdala_R (donor 2)"
    assert (ov["left_only_min_rois"], ov["left_only_max_rois"]) == (16, 17)
    diff = ov["differences"]
    assert ov["n_differ"] == len(diff) and (diff.iloc[:, 0] < diff.iloc[:, 1]).all()   # published misses samples


def test_join_names():
    assert ch2._join_names([]) == "" and ch2._join_names([1]) == "1"
    assert ch2._join_names(["a", "b", "c"]) == "a, b and c"


def test_literature_summary():
    lit = pd.DataFrame({"structure": ["Putamen", "Putamen", "Whole white matter", "Whole white matter", "X", "Y"],
                        "component": ["chi_para", "chi_dia", "chi_para", "chi_dia", "chi_total", "chi_total"],
                        "chi_ppb": [80.0, -10.0, 15.0, -30.0, 5.0, 1.0],
                        "citation": ["min2024chisep"] * 4 + ["other", "other"]})
    lit.loc[5, "structure"] = "Basal ganglia (composite)"
    out = ch2.literature_summary(lit)
    assert out["wm_shift"] == pytest.approx(15.0)
    assert out["chi"].loc["Putamen", "relative to whole WM"] == pytest.approx(85.0)
    assert "Basal ganglia (composite)" not in set(out["plot"]["structure"])
    assert out["plot"]["component"].iloc[0] == "chi_para (min2024chisep)"
    with pytest.raises(ValueError):
        ch2.literature_summary(lit, reference="Nowhere")


def test_synthetic_folder_check_real_annotations():
    from qmrigenes.datasets import load_ahba_sample_annotations

    out = ch2.synthetic_folder_check(load_ahba_sample_annotations(), n_genes=8)
    assert out["n_probes"] == 3 * 8 and out["n_kept"] == 2 * 8     # below-background probes filtered
    assert out["pct_faithful"] == 100.0 and out["max_diff"] < 1e-5


def test_recovery_numbers():
    genes = pd.DataFrame({"set": ["s", "s", "s", "t"], "gene": ["A", "B", "C", "D"],
                          "slope": [0.9, 0.2, -0.1, 0.5], "planted": [0.7, 0.7, 0.0, 0.5],
                          "bh": pd.array([True, False, False, True], dtype="boolean")})
    sig = pd.Series([True, False, False, True, True], index=["A", "B", "C", "D", "E"])
    out = ch2.recovery_numbers(genes, sig, {"A": 0.7, "B": 0.7, "D": 0.5})
    assert out["n_significant"] == 3 and out["n_false"] == 1          # E not planted
    assert (out["s_found"], out["s_planted"], out["t_found"], out["t_planted"]) == (1, 2, 1, 1)
    assert (out["slope_min"], out["slope_max"]) == (0.2, 0.9)
    with pytest.raises(ValueError):
        ch2.recovery_numbers(genes.drop(columns="planted"), sig, {})


def test_donor_precision(data):
    x, y = data
    per = {"1": x, "2": x.iloc[:12]}
    out = ch2.donor_precision(reg.per_donor_ols(per, y, ["G0", "G1"]), n_split=17)
    assert out["few_donors"] == "2" and out["many_donors"] == "1"
    assert out["few_min_rois"] == out["few_max_rois"] == 12
    assert out["few_se"] > out["many_se"]                              # fewer ROIs, wider slopes
    with pytest.raises(ValueError):
        ch2.donor_precision(reg.per_donor_ols(per, y, ["G0"]), n_split=40)


def test_bh_summary(rng):
    p = pd.Series(np.r_[rng.uniform(0, 1e-6, 5), rng.uniform(size=500)], index=[f"g{i}" for i in range(505)])
    cmp = reg.compare_bh(p)
    out = ch2.bh_summary(cmp)
    assert out["std-n"] == int(multipletests(p, alpha=0.05, method="fdr_bh")[0].sum())
    assert out["pub-n"] == int(reg.bh_as_published(p.to_numpy()).sum())
    assert out["unc-n"] == int((p < 1e-4).sum()) and out["stdq-n"] <= out["unc-n"]
    assert out["pub-n"] - out["pub-only"] + out["std-only"] == out["std-n"]
    with pytest.raises(ValueError):
        ch2.bh_summary(cmp.iloc[:2])


@pytest.fixture(scope="module")
def small_simulation():
    from qmrigenes.datasets import load_ahba_sample_annotations

    genes = [f"G{i:03d}" for i in range(300)] + ["FTL", "TFRC"]
    planted = {"FTL": 0.95, "G000": 0.95}
    return ch2.simulation_study(load_ahba_sample_annotations(), genes, {"iron": ["FTL", "TFRC"]},
                                planted=planted, donor_genes=["FTL"], seed=1), planted


def test_simulation_study(small_simulation):
    sim, planted = small_simulation
    assert sim.expression.shape == (34, 302) and sim.numbers["sim-n-genes"] == 302
    assert sim.numbers["sim-n-iron-planted"] == 1 and sim.numbers["sim-iron-found"] == 1   # a = 0.95 is found
    assert sim.numbers["sim-n-bh"] >= 2 and sim.results.loc["FTL", "bh"]
    assert not sim.genes.set_index("gene").loc["TFRC", "bh"]
    assert set(sim.donors["donor"]) == set(sim.roi_expression.per_donor) and (sim.donors["gene"] == "FTL").all()
    with pytest.raises(ValueError):
        ch2.simulation_study(pd.DataFrame(), ["A"], {}, planted={"B": 0.5})


def test_real_data_study_and_published(small_simulation):
    from qmribook.pages import load_published

    sets = {"iron": ["TF", "TFRC", "FTL"], "myelin": ["MBP", "MOG", "PLP1"]}
    real = ch2.real_data_study(sets, n_perm=200)
    num = real.numbers
    assert real.sets.shape[0] == 6 and num["r2s-n-perm"] == 5040 and num["para-n-perm"] == 120  # 7! and 5!
    assert num["r2s-n-genes"] == 6 and num["r2s-n-pos"] == int((real.wide["R2*"] > 0).sum())
    assert num["largest-p-random"] + num["largest-p-coex"] + num["largest-p-perm"] == 6
    assert num["r2s-iron-n-other"] == 2
    assert num["r2s-iron-r"] == pytest.approx(real.wide.loc["iron", "R2*"].mean())
    side = ch2.published_comparison(load_published("ch2", "headline").set_index("item"), real, small_simulation[0])
    assert side.loc["n_rois", "ours"] == 34 and side.loc["df", "ours"] == 32
    assert side.loc["ftl_p", "ours"] == pytest.approx(real.r2s.loc["FTL", "p"])
    assert np.isnan(side.loc["ftl_p_ilsqr", "ours"]) and "not available" in side.loc["ftl_p_ilsqr", "our data"]
    assert np.isnan(side.loc["mal_p", "ours"]) and "not in the tested" in side.loc["mal_p", "our data"]
