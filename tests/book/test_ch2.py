"""Tests of the book's study code (qmribook), moved from the library tests."""
import re

import numpy as np
import pandas as pd
import pytest
from qmribook import ch2, display
from qmrigenes.stats import regression as reg


def test_planted_effects():
    eff = ch2.load_planted_effects(iron=0.5, myelin=0.25)
    assert len(eff) == 5 + 13 and "TFRC" not in eff and "MBP" not in eff
    assert eff["FTL"] == 0.5 and eff["MAL"] == 0.25
    with pytest.raises(ValueError):
        ch2.load_planted_effects(iron=1.5)


def test_sampling_overview_real(ahba_annotations):

    ov = ch2._sampling_overview(ahba_annotations)
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
                        "citation": ["min2024chisep"] * 4 + ["zivadinov2018iron"] * 2})
    lit.loc[5, "structure"] = "Basal ganglia (composite)"
    out = ch2._literature_summary(lit)
    assert out["wm_shift"] == pytest.approx(15.0)
    assert out["chi"].loc["Putamen", "relative to whole WM"] == pytest.approx(85.0)
    assert "Basal ganglia (composite)" not in set(out["plot"]["structure"])
    assert out["plot"]["component"].iloc[0] == "χpara (Min et al. 2024)"          # no BibTeX keys in legends
    with pytest.raises(ValueError):
        ch2._literature_summary(lit, reference="Nowhere")


def test_synthetic_folder_check_real_annotations(ahba_annotations):

    out = ch2._folder_check(ahba_annotations, n_genes=8)
    assert out["n_probes"] == 3 * 8 and out["n_kept"] == 2 * 8     # below-background probes filtered
    assert out["pct_faithful"] == 100.0 and out["max_diff"] < 1e-5


def test_recovery_numbers():
    genes = pd.DataFrame({"set": ["s", "s", "s", "t"], "gene": ["A", "B", "C", "D"],
                          "slope": [0.9, 0.2, -0.1, 0.5], "planted": [0.7, 0.7, 0.0, 0.5],
                          "bh": pd.array([True, False, False, True], dtype="boolean")})
    sig = pd.Series([True, False, False, True, True], index=["A", "B", "C", "D", "E"])
    out = ch2._recovery_numbers(genes, sig, {"A": 0.7, "B": 0.7, "D": 0.5})
    assert out["n_significant"] == 3 and out["n_false"] == 1          # E not planted
    assert (out["s_found"], out["s_planted"], out["t_found"], out["t_planted"]) == (1, 2, 1, 1)
    assert (out["slope_min"], out["slope_max"]) == (0.2, 0.9)
    with pytest.raises(ValueError):
        ch2._recovery_numbers(genes.drop(columns="planted"), sig, {})


def test_donor_precision(data):
    x, y = data
    per = {"1": x, "2": x.iloc[:12]}
    out = ch2._donor_precision(reg.per_donor_ols(per, y, ["G0", "G1"]), n_split=17)
    assert out["few_donors"] == "2" and out["many_donors"] == "1"
    assert out["few_min_rois"] == out["few_max_rois"] == 12
    assert out["few_se"] > out["many_se"]                              # fewer ROIs, wider slopes
    with pytest.raises(ValueError):
        ch2._donor_precision(reg.per_donor_ols(per, y, ["G0"]), n_split=40)


def test_bh_summary(rng):
    from statsmodels.stats.multitest import multipletests

    p = pd.Series(np.r_[rng.uniform(0, 1e-6, 5), rng.uniform(size=500)], index=[f"g{i}" for i in range(505)])
    cmp = reg.compare_bh(p)
    out = ch2._bh_summary(cmp)
    assert out["std-n"] == int(multipletests(p, alpha=0.05, method="fdr_bh")[0].sum())
    assert out["pub-n"] == int(reg.bh_as_published(p.to_numpy()).sum())
    assert out["unc-n"] == int((p < 1e-4).sum()) and out["stdq-n"] <= out["unc-n"]
    assert out["pub-n"] - out["pub-only"] + out["std-only"] == out["std-n"]
    with pytest.raises(ValueError):
        ch2._bh_summary(cmp.iloc[:2])


@pytest.fixture(scope="module")
def small_simulation(ahba_annotations_once):

    genes = [f"G{i:03d}" for i in range(300)] + ["FTL", "TFRC"]
    planted = {"FTL": 0.95, "G000": 0.95}
    return ch2._simulation_study(ahba_annotations_once.copy(), genes, {"iron": ["FTL", "TFRC"]},
                                planted=planted, donor_genes=["FTL"], seed=1), planted


def test_simulation_study(small_simulation):
    sim, planted = small_simulation
    assert sim.expression.shape == (34, 302) and sim.numbers["sim-n-genes"] == 302
    assert sim.numbers["sim-n-iron-planted"] == 1 and sim.numbers["sim-iron-found"] == 1   # a = 0.95 is found
    assert sim.numbers["sim-n-bh"] >= 2 and sim.results.loc["FTL", "bh"]
    assert not sim.genes.set_index("gene").loc["TFRC", "bh"]
    assert set(sim.donors["donor"]) == set(sim.roi_expression.per_donor) and (sim.donors["gene"] == "FTL").all()
    with pytest.raises(ValueError):
        ch2._simulation_study(pd.DataFrame(), ["A"], {}, planted={"B": 0.5})


def test_real_data_study_and_published(small_simulation):
    sets = {"iron": ["TF", "TFRC", "FTL"], "myelin": ["MBP", "MOG", "PLP1"]}
    real = ch2._real_data_study(sets, n_perm=200)
    num = real.numbers
    assert real.sets.shape[0] == 6 and num["r2s-n-perm"] == 5040 and num["para-n-perm"] == 120  # 7! and 5!
    assert num["r2s-n-genes"] == 6 and num["r2s-n-pos"] == int((real.wide["R2*"] > 0).sum())
    assert num["largest-p-random"] + num["largest-p-coex"] + num["largest-p-perm"] == 6
    assert num["r2s-iron-n-other"] == 2
    assert num["r2s-iron-r"] == pytest.approx(real.wide.loc["iron", "R2*"].mean())
    side = ch2._published_comparison(ch2.load_published_headline(), real, small_simulation[0])
    assert side.loc["n_rois", "ours"] == 34 and side.loc["df", "ours"] == 32
    assert side.loc["ftl_p", "ours"] == pytest.approx(real.r2s.loc["FTL", "p"])
    assert np.isnan(side.loc["ftl_p_ilsqr", "ours"]) and "not available" in side.loc["ftl_p_ilsqr", "our data"]
    assert np.isnan(side.loc["mal_p", "ours"]) and "not in the tested" in side.loc["mal_p", "our data"]


# --------------------------------------------------------------------------- display helpers
def test_p_text_one_style():
    from qmribook.display import format_p

    def p_text(v):
        return format_p(v, markup="text")

    assert p_text(1.32e-9) == "1.3×10⁻⁹"                          # no spaces: never wraps
    assert p_text(0.0019) == "0.0019" and p_text(0.2) == "0.20" and p_text(0.012) == "0.012"
    assert p_text(1.0) == "1.0" and p_text(np.nan) == "—"


def test_published_text_keeps_published_precision():
    assert display.format_published("3.40e-6") == "3.40×10⁻⁶"                 # trailing zero kept
    assert display.format_published("15627") == "15,627" and display.format_published("0.46") == "0.46"
    assert display.format_published("") == "—" and display.format_published("-0.32") == "−0.32"   # true minus


def test_author_year_from_bibliography(tmp_path):
    from qmribook.citations import author_year

    assert author_year("min2024chisep") == "Min et al. 2024"
    assert author_year("schafer2012stn") == "Schäfer et al. 2012"
    assert author_year("min2024chisep; schafer2012stn") == "Min et al. 2024; Schäfer et al. 2012"
    bib = tmp_path / "r.bib"
    bib.write_text("@article{a1,\n  author = {Lee, A.},\n  year = {2001},\n}\n"
                   "@article{b2,\n  author = {Lee, A. and Kim, B.},\n  year = {2002},\n}\n", encoding="utf-8")
    assert author_year("a1", bib=bib) == "Lee 2001" and author_year("b2", bib=bib) == "Lee and Kim 2002"
    with pytest.raises(KeyError):
        author_year("nobody1900")


def test_table_formats_by_kind():
    frame = pd.DataFrame({"n": [17.0, np.nan], "p": [1e-5, 0.5], "flag": [True, False], "x": [0.123, -1.0]},
                         index=pd.Index(["a", "b"], name="gene"))
    tab = display.table(frame, counts=["n"], p=["p"], flags=["flag"], headers={"p": "p (FDR)", "x": "χ (ppb)"},
                        index=True)
    data = tab.text.set_index("gene")
    assert data.loc["a", "n"] == "17" and data.loc["b", "n"] == "—"                  # no 17.000, no NaN
    assert data.loc["a", "p (FDR)"] == "1.0×10⁻⁵" and data.loc["b", "flag"] == "no"
    assert data.loc["b", "χ (ppb)"] == "−1.00"
    html = tab._repr_html_()
    assert "qmri-scroll" in html and "χ (ppb)" in html and "NaN" not in html and "…" not in html
    assert "<sup>−5</sup>" in html and "qmri-nowrap" in html                          # p never wraps
    with pytest.raises(ValueError):
        display.table(frame, p=["nope"])


# --------------------------------------------------------------------------- reports and exercises
def test_report_exercise_bh_disagrees_with_standard():
    from statsmodels.stats.multitest import multipletests

    rep = ch2.report_exercise_bh()
    num, frame = rep.numbers, rep.data["frame"]
    p = np.array(list(ch2.EXERCISE_P.values()))
    assert num["ex-bh-std-n"] == int(multipletests(p, alpha=0.05, method="fdr_bh")[0].sum()) == 7
    assert num["ex-bh-pub-n"] == int(reg.bh_as_published(p).sum()) == 1
    assert num["ex-bh-pub-rev-n"] != num["ex-bh-pub-n"]                     # order dependence shown
    assert num["ex-bh-pub-genes"] == "g01" and num["ex-bh-unc-n"] == int((p < 1e-4).sum())
    assert (frame["rank"].sort_values().to_numpy() == np.arange(1, 11)).all()
    assert "tab-ex-bh" in rep.tables and "paper's code" in rep.tables["tab-ex-bh"].text.columns


@pytest.fixture(scope="module")
def chapter_data(ch2_data):
    return ch2_data


def test_report_exercise_min_p(chapter_data, small_simulation):
    from scipy import stats

    real = ch2._real_data_study({"iron": ["TF", "FTL"], "myelin": ["MOG", "PLP1"]}, n_perm=50)
    rep = ch2.report_exercise_min_p(chapter_data, real)
    num = rep.numbers
    thr = 0.05 / num["ex-minp-m"]
    assert num["ex-minp-thr"] == pytest.approx(thr) and num["ex-minp-m"] == len(chapter_data.genes)
    for n in (5, 7, 34):                                        # the critical r gives p = threshold
        r = num[f"ex-minp-r-{n}"]
        t = r * np.sqrt(n - 2) / np.sqrt(1 - r ** 2)
        assert 2 * stats.t.sf(t, n - 2) == pytest.approx(thr, rel=1e-6)
    assert num["ex-minp-r-5"] > num["ex-minp-r-7"] > 0.99 > num["ex-minp-r-34"] > 0.6
    assert num["ex-minp-perm-7"] == pytest.approx(2 / 5040) and num["ex-minp-perm-ratio-7"] > 50   # two-sided exact floor
    assert "ex-minp-perm-34" not in num
    assert abs(num["ex-minp-best-r"]) < num["ex-minp-r-7"] and num["ex-minp-best-p"] > thr


def test_report_exercise_power_rois(chapter_data):
    rep = ch2.report_exercise_power_rois(chapter_data, n_rois=(8, 34), effects=(0.9,), n_genes=300, n_rep=2,
                                         reference_genes=400, reference_effects=(0.7, 0.9))
    num = rep.numbers
    assert {k for k in num if not k.startswith("ex-power-ref") and k[-2:].isdigit()} == {"ex-power-8-09",
                                                                                           "ex-power-34-09"}
    assert num["ex-power-34-09"] > num["ex-power-8-09"]           # more regions, more power
    assert list(rep.data["power"]["n_rois"]) == [8, 34]
    # the settings that differ from Table 2.7 are reported: genes and share of planted genes
    assert num["ex-power-n-genes"] == 300 and num["ex-power-n-planted"] == 25
    assert num["ex-power-ref-genes"] == 400 and num["ex-power-ref-planted"] == 50
    assert num["ex-power-share"] == pytest.approx(25 / 300) and num["ex-power-ref-share"] == pytest.approx(50 / 400)
    assert 0 <= num["ex-power-ref-07"] <= 1


def test_present_symmetry_and_calibration(chapter_data):
    """The chapter's visible library calls (small), then the presenting functions."""
    from qmrigenes import ahba, design

    left, right = ahba.deep_grey_expression(hemisphere="L"), ahba.deep_grey_expression(hemisphere="R")
    lr_r = design.lr_profile_correlation(left, right)
    shuffled = right.iloc[:, np.random.default_rng(0).permutation(right.shape[1])].set_axis(right.columns, axis=1)
    sampling = ahba.roi_sampling(chapter_data.annotations, table=chapter_data.table)
    lr_corr, curve = design.calibrate_lr_corr(sampling, chapter_data.table, float(lr_r.median()), seed=0)
    sym = ch2.present_symmetry(lr_r, design.lr_profile_correlation(left, shuffled), lr_corr=lr_corr, curve=curve)
    num = sym.numbers
    assert 0.5 < num["lr-median-r"] < 0.9 and abs(num["lr-random-r"]) < 0.05   # real AHBA: symmetric
    assert num["lr-corr"] > num["lr-median-r"]         # noise attenuates: the pattern r must be larger
    fast = ("rois", "pair_means", "cluster_robust")
    null = {rho: design.power_by_design(sampling, chapter_data.table, effects=(), n_genes=600, n_rep=1,
                                        designs=("ahba",), lr_corr=rho, analyses=fast, seed=3) for rho in (0.0, lr_corr)}
    mixed = design.power_by_design(sampling, chapter_data.table, effects=(), n_genes=40, n_rep=1, designs=("ahba",),
                                   lr_corr=lr_corr, analyses=("mixed",), seed=3)
    power = design.power_by_design(sampling, chapter_data.table, n_genes=600, n_rep=1, designs=("ahba",),
                                   lr_corr=lr_corr, analyses=fast, seed=3)
    cal = ch2.present_calibration(null, mixed, power, n_genes=600, n_rep=1, mixed_genes=40)
    n = cal.numbers
    assert n["type1-rois-sym"] > n["type1-rois-ind"] and n["type1-rois-sym"] > 0.08
    assert n["type1-pairs-sym"] < 0.08
    assert {"tab-calibration", "tab-sym-power"} <= set(cal.tables) and "fig-sym-power" in cal.figures
    assert n["type1-mixed-sym"] == float(mixed["type1"].iloc[0]) and "fd-mixed-sym" not in n


def test_report_null_widget(small_simulation):
    real = ch2._real_data_study({"iron": ["TF", "FTL", "FTH1"], "myelin": ["MOG", "PLP1", "MAL"]}, n_perm=50)
    rep = ch2.report_null_widget(real, gene_set="myelin", draws=(20, 200))
    payload = rep.figures["null-widget"].payload
    assert payload["slider"]["values"] == [20, 200] and payload["step"] is True
    assert rep.numbers["null-n-genes"] == 3 and len(rep.data["null"]) == 200
    hist = np.array(payload["series"][0]["y"])[0]              # (n_slider, n_edges)
    width = payload["x"][1] - payload["x"][0]
    assert hist.shape == (2, len(payload["x"])) and (hist[:, -1] == 0).all()
    assert np.allclose(hist.sum(axis=1) * width, 1, atol=0.02)           # densities integrate to 1
    # the observed value is a vertical line, and the live read-out gives each state's p-value
    assert len(payload["series"]) == 1 and payload["marker_style"] == "line"
    assert payload["series"][0]["marker"][0] == pytest.approx([rep.numbers["null-observed"]] * 2, abs=1e-4)
    for n, text in zip((20, 200), payload["status"][0]):
        p_text = text.split("p = ")[1].split(" ")[0]
        assert text.startswith(f"{n:,} draws") and p_text == display.format_p(rep.data["p"][n], markup="text")
    assert payload["xlim"][0] < rep.numbers["null-observed"] < payload["xlim"][1]
    assert rep.numbers["null-observed"] == pytest.approx(real.wide.loc["myelin", "R2*"].mean())
    assert rep.figures["fig-real-null"].axes[0].get_xlabel().startswith("mean r of 3")


def test_report_sampling_and_literature(chapter_data):
    rep = ch2.report_sampling(chapter_data)
    assert rep.numbers["n-rois"] == 34 and rep.numbers["right-donors"] == "1 and 2"
    assert set(rep.tables) == {"tab-matching"} and set(rep.figures) == {"fig-sampling"}
    lit = ch2.report_literature()
    legend = [t.get_text() for t in lit.figures["fig-literature"].axes[0].get_legend().get_texts()]
    assert legend and not any(re.search(r"[a-z]+\d{4}[a-z]+", t) for t in legend)   # no BibTeX keys
    assert "χpara (ppb)" in lit.tables["tab-chi-sep"].text.columns


def test_report_published_precision(small_simulation):
    real = ch2._real_data_study({"iron": ["TF", "FTL"], "myelin": ["MAL", "MOG"]}, n_perm=50)
    rep = ch2.report_published(real, small_simulation[0])
    side = rep.tables["tab-published"].data.drop_duplicates("quantity").set_index("quantity")
    assert side.loc["FTL p (slope t-test)", "published"] == "1.32×10⁻⁹"
    assert side.loc["FTL p (slope t-test)", "published"].startswith("1.32")        # as printed in the paper
    assert side.loc["CNP p (slope t-test)", "published"].startswith("3.40")
    assert side.loc["genes regressed", "published"] == "15,627"
    assert side.loc["ROIs (regions in the regression)", "ours"] == "34"
    assert "ftl_p" not in rep.tables["tab-published"]._repr_html_()                 # no code names


def test_deep_grey_maps_real():
    """Moved with deep_grey_maps from the library (qmrigenes.ahba) to the book."""
    maps = ch2.deep_grey_maps()
    assert list(maps.index) == ["thalamus", "caudate", "putamen", "pallidum", "accumbens", "hippocampus", "amygdala"]
    assert maps["R2*"].notna().all()
    assert maps["chi_para"].notna().sum() == 5
    assert maps.loc["pallidum", "R2*"] == maps["R2*"].max()        # pallidum has the most iron
    assert (maps["chi_dia_abs"].dropna() > 0).all()                  # the atlas stores χdia negative


def test_literature_susceptibility_through_the_data_door():
    lit = ch2.load_literature_susceptibility()
    assert {"structure", "component", "chi_ppb", "citation"} <= set(lit.columns)
    assert lit["citation"].notna().all()
