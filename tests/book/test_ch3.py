"""Tests of Chapter 3's study code (qmribook.ch3): every report_* returns a Report."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from qmrigenes import lesions, qsm
from qmribook import ch3
from qmribook.report import Report
from toys import TOY_TISSUES, _labelled_blob, _Toy


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


def test_run_qsm_experiment_ratios_and_threshold_tradeoff():
    chi, labels = _labelled_blob()
    res = ch3.report_qsm(chi, labels, tissues={3: "WM", 5: "putamen", 6: "pallidum"},
                                 field_sigma=0.0005, seed=0, pad=4, lam=1e-2)
    n = res.numbers
    assert 0 < n["tkd-gp-ratio"] < 100 and 0 < n["cg-gp-ratio"] < 100      # underestimation
    assert abs(n["tkdlow-gp-ratio"] - 100) < abs(n["tkd-gp-ratio"] - 100)  # lower t, less bias
    assert n["cg-iter"] >= 1 and n["t-cg"] > 0
    rois = res.data["rois"]
    assert rois.loc["pallidum", "TKD / truth"] == pytest.approx(n["tkd-gp-ratio"] / 100)
    assert list(res.data["recons"]) == ["TKD t=0.05", "TKD t=0.2", "Tikhonov λ=0.01"]
    assert np.all(res.data["recons"]["TKD t=0.2"][labels == 0] == 0)
    with pytest.raises(ValueError, match="pallidum"):
        ch3.report_qsm(chi, labels, tissues={3: "WM"}, pad=4)


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
    assert set(res.tables["acc-summary"].columns) == {"B1-corrected", "no B1 correction",
                                                         "noiseless, B1-corrected"}
    assert "noiseless, B1-corrected" not in set(res.data["accuracy_noisy"]["method"])
    with pytest.raises(ValueError, match="shapes"):
        ch3.report_mpm(toy, b1[:-1], tissues=TOY_TISSUES)
    with pytest.raises(ValueError, match="tissue"):
        ch3.report_mpm(toy, b1, tissues={2: "cortical GM"})


def test_r1_bias_study_shorter_tr_more_bias():
    res = ch3.report_r1_bias(0.86, 0.26)
    n = res.numbers
    assert len(res.data["curves"]) == 4
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
    s = ch3.report_lesion_sources(ch)
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
        ch3.report_lesion_sources(bad)


def test_report_review_facts_support_the_chapter_text():
    rep = ch3.report_review()
    f = rep.data["facts"]
    assert rep.numbers == {"n-review-cells": f["n_cells"], "n-review-text": f["n_from_text"]}
    assert f["n_cells"] == len(lesions.load_review_tables()) and 0 < f["n_from_text"] < f["n_cells"]
    assert f["wm_r1_always_down"] and f["wm_pd_always_up"] and f["bg_thalamus_opposite"]
    assert f["wm_r2s_qsm_directions"] >= 3          # R2* and QSM separate the stages
    rev = lesions.load_review_tables()
    rev.loc[(rev["site"] == "thalamus") & (rev["parameter"] == "QSM"), "direction"] = "increase"
    assert not ch3.report_review(rev).data["facts"]["bg_thalamus_opposite"]


def test_lesion_experiment_and_profiles(ph, lesion_run):
    res = lesion_run
    assert list(res.data["info"]["stage"]) == list(lesions.STAGES)
    assert set(res.data["profiles"]["stage"]) == set(lesions.STAGES)
    n = res.numbers
    assert n["rim-chi-true"] > 5                          # paramagnetic rim relative to CSF
    assert n["rim-chi-est"] < n["rim-chi-true"]           # blurred by regularisation
    with pytest.raises(ValueError, match="keys"):
        ch3.lesion_profiles(res.data["info"], {"R1": ph.maps["R1"]}, {"PD": ph.maps["PD"]})


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


def test_lesion_change_summary_table_has_no_blanks_as_nan():
    t = ch3.report_lesion_sources().tables["lesion-changes"]
    assert t.notna().all().all() and (t["magnitude_source"] == "").sum() == (t["kind"] != "published").sum()


@pytest.fixture(scope="module")
def lesion_run(ph):
    return ch3.report_lesions(ph, np.ones(ph.shape))


def test_lesion_experiment_true_contrasts_match_the_table(lesion_run):
    n = lesion_run.numbers
    ch = lesions.load_lesion_changes().set_index(["stage", "compartment", "parameter"])["change"]
    for stage in lesions.STAGES:
        want = 1000 * ch[(stage, "core", "chi")]
        assert n[f"{stage.replace('_', '-')}-chi-contrast-true"] == pytest.approx(want, abs=0.05)
