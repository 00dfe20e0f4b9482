"""Tests of Chapter 3's study code (qmribook.ch3): every report_* returns a Report."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from qmrigenes import lesions, qsm
from qmribook import ch3
from qmribook.report import Report
from toys import TOY_TISSUES, _labelled_blob, _Toy, toy_head


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_every_chapter_function_is_a_report():
    public = [n for n in ch3.__all__ if callable(getattr(ch3, n))]
    reports = [n for n in public if n.startswith("report_")]
    assert len(reports) >= 10
    for name in reports:
        assert getattr(ch3, name).__annotations__["return"] in ("Report", Report), name


def test_report_phantom(ph):
    rep = ch3.report_phantom(ph)
    assert rep.numbers["n-brain"] == int(ph.mask.sum()) and rep.numbers["phantom-shape"].count("×") == 2
    assert set(rep.keys()) == {"phantom-shape", "n-brain", "tissue-table", "fig-phantom"}


def test_report_qsm_converged_solution_and_differences_near_zero():
    chi, labels = _labelled_blob()
    res = ch3.report_qsm(chi, labels, tissues={3: "WM", 5: "putamen", 6: "pallidum"},
                         field_sigma=0.0005, seed=0, pad=4, lam=1e-2, near_zero_ppb=10)
    n = res.numbers
    assert 0 < n["tkd-gp-ratio"] < 100 and 0 < n["cg-gp-ratio"] < 100      # underestimation
    assert abs(n["tkdlow-gp-ratio"] - 100) < abs(n["tkd-gp-ratio"] - 100)  # lower t, less bias
    # the reported regularised solution meets its optimality condition; the early-stopped one does not
    assert n["cg-residual"] <= n["cg-tol"] and n["cg-optimality"] <= 1.01 * n["cg-tol"]
    assert n["cg-early-residual"] > 100 * n["cg-residual"]
    assert n["cg-iter"] >= 1 and n["t-cg"] > 0 and n["cg-early-iter"] >= 1
    rois = res.data["rois"]
    assert rois.loc["pallidum", "TKD"] / rois.loc["pallidum", "truth"] == pytest.approx(n["tkd-gp-ratio"] / 100)
    assert list(res.data["recons"]) == ["TKD t=0.05", "TKD t=0.2", "Tikhonov λ=0.01"]
    assert np.all(res.data["recons"]["TKD t=0.2"][labels == 0] == 0)
    table = res.data["table"]
    assert "true χ (ppb)" in table and "Tikhonov error (ppb)" in table and not any("_" in c for c in table.columns)
    # ratios only away from zero truth; differences everywhere
    near = table["true χ (ppb)"].abs() < 10
    ratio_cols = [c for c in table.columns if "recovery" in c]
    assert table.loc[near, ratio_cols].isna().all().all() and table.loc[~near, ratio_cols].notna().all().all()
    assert table[[c for c in table.columns if "error" in c]].notna().all().all()
    with pytest.raises(ValueError, match="pallidum"):
        ch3.report_qsm(chi, labels, tissues={3: "WM"}, pad=4)


def test_report_qsm_names_near_zero_rois():
    chi, labels = _labelled_blob()
    chi = np.where(labels == 3, 0.001, chi)               # WM at 1 ppb: near zero
    n = ch3.report_qsm(chi, labels, tissues={3: "WM", 5: "putamen", 6: "pallidum"}, field_sigma=0.0,
                       seed=0, pad=4).numbers
    assert n["WM-truth-ppb"] == pytest.approx(1.0, abs=0.5)
    assert "WM-cg-diff-ppb" in n and "WM-tkd-diff-ppb" in n


def test_run_background_experiment_sharp_reduces_background():
    chi, labels = _labelled_blob()
    mask = labels > 0
    local = qsm.forward_field(chi, pad=8)
    res = ch3.report_background(chi, local, mask, center=(12, 10, 1), radius_mm=4, chi=5.0,
                                        pad=8, sharp_radius_mm=4)
    n = res.numbers
    assert n["sharp-rmse"] < 0.5 * n["bg-rms"]
    assert 0 < n["sharp-kept"] < 100
    with pytest.raises(ValueError, match="inside the mask"):
        ch3.report_background(chi, local, mask, center=(12, 10, 11), radius_mm=4, chi=5.0)


def test_run_mpm_experiment_numbers_and_b1_effect():
    toy = _Toy()
    b1 = np.full(toy.labels.shape, 1.15)
    res = ch3.report_mpm(toy, b1, tissues=TOY_TISSUES, sigma=0.05, seed=1,
                               summary_tissues=("WM",))
    n = res.numbers
    # uncorrected: R1 ~ R1 / B1^2, A ~ A * B1 (small-angle solution); R2* unaffected by B1
    assert n["wm-R1-bias-nob1"] == pytest.approx(100 * (1 / 1.15 ** 2 - 1), abs=2.0)
    assert n["wm-PD-bias-nob1"] == pytest.approx(100 * (1.15 - 1), abs=2.0)
    assert n["wm-R2s-bias-nob1"] == n["wm-R2s-bias-b1"]
    assert abs(n["wm-R1-bias-b1"]) < 3 and abs(n["wm-R2s-bias-clean"]) < 1e-6
    assert n["wm-R2s-noise-clean"] < n["wm-R2s-noise-b1"]
    assert n["b1-range"] == "1.15–1.15" and n["wm-pdw-snr"] > 100
    assert set(res.data["summary"].columns) == {"bias (%), B1-corrected", "bias (%), no B1 correction",
                                                 "bias (%), noiseless, B1-corrected"}
    assert not any("_" in c for c in res.data["accuracy_table"].columns)
    assert "noiseless, B1-corrected" not in set(res.data["accuracy_noisy"]["method"])
    with pytest.raises(ValueError, match="shapes"):
        ch3.report_mpm(toy, b1[:-1], tissues=TOY_TISSUES)
    with pytest.raises(ValueError, match="tissue"):
        ch3.report_mpm(toy, b1, tissues={2: "cortical GM"})


def test_r1_bias_study_shorter_tr_more_bias():
    res = ch3.report_r1_bias(0.86, 0.26)
    n = res.numbers
    assert len(res.data["curves"]) == 5
    # the hMRI toolbox's 2 tan(a/2) form: the R1 bias nearly vanishes
    assert abs(n["r1-bias-tan-21deg"]) < 0.05 and abs(n["r1-bias-tan-30deg"]) < 0.05
    assert n["r1-bias-21deg"] == n["r1-bias-21deg-tr25"] < 0
    assert n["r1-bias-30deg"] < n["r1-bias-21deg"]                      # larger angle, more bias
    assert n["r1-bias-21deg-tr15"] < n["r1-bias-21deg-tr25"] < n["r1-bias-21deg-tr50"] < 0
    with pytest.raises(ValueError, match="tr_ref"):
        ch3.report_r1_bias(0.86, 0.26, trs=(0.015,), tr_ref=0.025)


def test_run_denoising_slab_improves_precision():
    toy = _Toy(shape=(24, 24, 10))
    res = ch3.report_denoising(toy, np.ones(toy.labels.shape), tissues=TOY_TISSUES, z=5, half_width=3,
                               sigma=0.2, seed=3, report_tissue="WM", biased_tissue="cortical GM",
                               slicewise=True)
    n = res.numbers
    assert n["r2s-sd-wm-nlm"] < n["r2s-sd-wm-raw"]
    assert res.data["r2s_noisy"].shape == (24, 24, 6) and res.data["z"] == 3
    with pytest.raises(ValueError, match="slab"):
        ch3.report_denoising(toy, np.ones(toy.labels.shape), tissues=TOY_TISSUES, z=1, half_width=3)


def test_lesion_change_summary_counts_kinds():
    ch = lesions.load_lesion_changes()
    s = ch3.present_lesion_sources(ch)
    n = s.numbers
    assert n["n-change-published"] + n["n-change-design"] == n["n-change-rows"] == len(ch)
    assert n["n-change-published"] == (ch["kind"] == "published").sum()
    assert "R1 of early_active core" in s.data["design"] and "chi of late_active core" in s.data["published"]
    # the chapter's sentence: published = R2* and chi of active lesions, chi of chronic cores
    pub = ch[ch["kind"] == "published"]
    assert set(pub["parameter"]) == {"R2s", "chi"} and set(pub["compartment"]) == {"core"}
    assert set(pub.loc[pub["parameter"] == "R2s", "stage"]) == {"early_active", "late_active"}
    bad = ch.assign(kind="guess")
    with pytest.raises(ValueError, match="kinds"):
        ch3.present_lesion_sources(bad)


def test_report_review_facts_support_the_chapter_text():
    review = lesions.load_review_tables()
    rep = ch3.present_review(review, directions=lesions.review_direction_matrix(review))
    f = rep.data["facts"]
    assert rep.numbers == {"n-review-cells": f["n_cells"], "n-review-text": f["n_from_text"]}
    assert f["n_cells"] == len(lesions.load_review_tables()) and 0 < f["n_from_text"] < f["n_cells"]
    assert f["wm_r1_always_down"] and f["wm_pd_always_up"] and f["bg_thalamus_opposite"]
    assert f["wm_r2s_qsm_directions"] >= 3          # R2* and QSM separate the stages
    rev = lesions.load_review_tables()
    rev.loc[(rev["site"] == "thalamus") & (rev["parameter"] == "QSM"), "direction"] = "increase"
    assert not ch3.present_review(rev, directions=lesions.review_direction_matrix(rev)).data["facts"]["bg_thalamus_opposite"]


def test_lesion_experiment_and_profiles(lesion_run, toy):
    res = lesion_run
    assert list(res.data["info"]["stage"]) == list(lesions.STAGES)
    assert set(res.data["profiles"]["stage"]) == set(lesions.STAGES)
    n = res.numbers
    assert n["rim-chi-true"] > 5                          # paramagnetic rim relative to CSF
    assert n["rim-chi-est"] < n["rim-chi-true"]           # blurred by regularisation
    with pytest.raises(ValueError, match="keys"):
        ch3.lesion_profiles(res.data["info"], {"R1": toy.maps["R1"]}, {"PD": toy.maps["PD"]})


def test_lesion_controls_run_and_are_consistent(lesion_run, toy):
    """Noise-free and lesion-only controls at small size; anatomy alone = their difference, which
    equals a direct solve of the lesion-free anatomy (the converged solver is linear)."""
    res = lesion_run
    c = res.data["contrasts"]
    assert list(c.columns) == ["true", "est", "local", "nf", "lo", "anat"]
    assert np.allclose(c["nf"], c["lo"] + c["anat"])
    # lesion-only: every lesion away from zero keeps a similar, partial share of its contrast
    away = c["true"].abs() >= 1
    kept = c.loc[away, "lo"] / c.loc[away, "true"]
    assert ((kept > 0.5) & (kept < 1.0)).all()
    assert res.numbers["lo-recovery-min"] == pytest.approx(100 * kept.min())
    # anatomy alone, solved directly from the lesion-free phantom, matches the difference
    les = res.data["lesioned"]
    direct = ch3._referenced(qsm.tikhonov_cg(qsm.forward_field(toy.maps["chi"], pad=4), les.mask, lam=1e-2,
                                             tol=1e-8, voxel_size=les.voxel_size)[0], les)
    lm = res.data["lesion_map"]
    want = 1000 * lesions.lesion_contrast(direct, lm, reference="nawm", labels=les.labels).to_numpy()
    assert np.allclose(c["anat"], want, atol=0.05)
    table = res.data["table"]
    assert list(table.index) == ["early active", "late active", "chronic active", "chronic inactive"]


def test_tkd_measured_chi_and_report_atrophy(ph):
    chi = ch3.tkd_measured_chi(ph)
    assert abs(chi[ph.labels == 1].mean()) < 1e-12
    rep = ch3.report_atrophy(ph, nucleus="pallidum", losses=(0.0, 0.2))
    c = rep.numbers
    assert c["atrophy-loss"] == pytest.approx(20.0)
    assert c["atrophy-r2s-rise"] == pytest.approx(100 * (1 / 0.8 - 1), abs=1.0)
    assert abs(c["atrophy-r2s-mass"]) < 1e-9 and abs(c["atrophy-chi-mass"]) < 1e-9
    assert c["atrophy-chi-mean-meas"] > 0
    assert list(rep.tables) == ["atrophy-table"] and list(rep.figures) == ["fig-atrophy"]
    with pytest.raises(ValueError, match="two"):
        ch3._atrophy_changes(rep.data["series"].iloc[:1])


def test_lesion_change_table_is_readable():
    rep = ch3.present_lesion_sources(lesions.load_lesion_changes())
    t = rep.data["shown"]
    ch = lesions.load_lesion_changes()
    # no code names, no e-notation, sources only for published magnitudes (em dash otherwise)
    assert not t.reset_index().astype(str).apply(lambda c: c.str.contains("_|e[-+]\\d")).any().any()
    assert t["source of the magnitude"].isna().sum() == (ch["kind"] != "published").sum()
    assert (t["magnitude"] == "published").sum() == rep.numbers["n-change-published"]
    assert "−20 %" in set(t["change vs NAWM"]) and "+10.2 ppb" in set(t["change vs NAWM"])
    html = rep.tables["lesion-changes"]._repr_html_()
    assert "—" in html and "nan" not in html.lower()


@pytest.fixture(scope="module")
def toy():
    return toy_head()


@pytest.fixture(scope="module")
def lesion_run(toy):
    return ch3.report_lesions(toy, np.ones(toy.shape), pad=4, tol=1e-8)


def test_report_small_angle_separates_the_biases(toy):
    n = ch3.report_small_angle(toy, tissues=TOY_TISSUES).numbers
    assert n["sa-R1-small"] < -0.5 and abs(n["sa-R1-tan"]) < 0.05       # R1: the small-angle form
    assert abs(n["sa-MTsat-tan"]) > 0.5 * abs(n["sa-MTsat-small"])      # MTsat: mostly its own formula
    assert abs(n["sa-MTsat-exact"]) < 1e-6 and abs(n["sa-R1-exact"]) < 1e-6
    assert np.sign(n["sa-MTsat-tan-end"]) != np.sign(n["sa-MTsat-tan"])  # depends on the MT timing


def test_report_mtsat_b1_depends_on_the_mt_assumption(toy):
    b1 = np.linspace(0.8, 1.2, toy.shape[0])[:, None, None] * np.ones(toy.shape)
    rep = ch3.report_mtsat_b1(toy, b1, tissues=TOY_TISSUES)
    n = rep.numbers
    # MT independent of B1: flip-angle correction is right, Helms's empirical one is not
    assert n["mtb1-p0-fa-sd"] < 1 < n["mtb1-p0-helms-sd"] and n["mtb1-p0-none-sd"] > n["mtb1-p0-helms-sd"]
    # MT saturation proportional to B1^2: no correction is right, flip-angle correction overcorrects
    assert n["mtb1-p2-none-sd"] < 1 < n["mtb1-p2-helms-sd"] < n["mtb1-p2-fa-sd"]
    assert n["helms-c"] == 0.4 and rep.data["table"].shape == (6, 2)


def test_report_design_values_flags_the_chapter_choices(toy):
    from qmrigenes.relaxometry import MPMProtocol
    from qmrigenes.phantom import tissue_values
    rep = ch3.present_design_values(protocol=MPMProtocol(), b1=np.ones(toy.shape), mask=toy.mask, sigma=0.05,
                                    field_sigma=0.002, lam=0.01, background=dict(radius_mm=16, chi=5.0),
                                    values=tissue_values(), changes=lesions.load_lesion_changes())
    t = rep.data["table"]
    for row in ("CSF MTsat", "MPM protocol", "MT pulse", "lesion geometry", "lesion change magnitudes",
                "χ of the chronic active core"):
        assert row in t.index, row
    assert "model assumption" in t.loc["CSF MTsat", "status"]
    assert rep.numbers["n-design-values"] == len(t)


def test_lesion_experiment_true_contrasts_match_the_table(lesion_run):
    n = lesion_run.numbers
    ch = lesions.load_lesion_changes().set_index(["stage", "compartment", "parameter"])["change"]
    for stage in lesions.STAGES:
        want = 1000 * ch[(stage, "core", "chi")]
        assert n[f"{stage.replace('_', '-')}-chi-contrast-true"] == pytest.approx(want, abs=0.05)


def test_tables_go_through_the_one_display_path(toy):
    from qmribook.display import Table
    reps = [ch3.present_lesion_sources(lesions.load_lesion_changes()), ch3.present_review(_rev := lesions.load_review_tables(), directions=lesions.review_direction_matrix(_rev)), ch3.report_small_angle(toy, tissues=TOY_TISSUES)]
    for rep in reps:
        for key, tab in rep.tables.items():
            assert isinstance(tab, Table), key
            html = tab._repr_html_()
            assert "NaN" not in html and "_pct" not in html and "early_active" not in html, key


def test_report_stopping_rule_finds_a_stable_tolerance():
    chi, labels = _labelled_blob()
    tissues = {3: "WM", 5: "putamen", 6: "pallidum"}
    q = ch3.report_qsm(chi, labels, tissues=tissues, field_sigma=0.0005, seed=0, pad=4, lam=1e-2, tol=1e-6)
    rep = ch3.report_stopping_rule(chi, labels, tissues=tissues, field_sigma=0.0005, seed=0, pad=4, lam=1e-2,
                                   tols=(1e-2, 1e-6, 1e-9), decimals=1,
                                   solutions={1e-6: (q.data["chi_full"], q.data["info"])})
    n = rep.numbers
    # the reused solution is the chapter's: same ROI means as report_qsm's Tikhonov column (ppb)
    assert rep.data["values"][1e-6].loc["pallidum"] == pytest.approx(
        round(1000 * q.data["rois"].loc["pallidum", "Tikhonov"], 1), abs=1e-9)
    assert n["stop-n-changed-1e-09"] == 0 and n["stop-tol"] in (1e-2, 1e-6, 1e-9)
    assert n["stop-n-changed-1e-02"] >= n["stop-n-changed-1e-06"]
    # the finite-difference check (no solver operator) falls as the rule tightens
    assert n["stop-fd-1e-02"] > n["stop-fd-1e-06"] > n["stop-fd-1e-09"] >= 0
    assert "stop-table" in rep.tables


def test_rim_own_values_separate_rim_from_core(lesion_run):
    n = lesion_run.numbers
    assert n["rim-own-n"] > 0
    assert n["rim-own-chi-true"] > n["rim-core-chi-true"]      # the paramagnetic rim is the rim's own value
    assert n["rim-own-chi-est"] < n["rim-own-chi-true"]        # blurred by the reconstruction
