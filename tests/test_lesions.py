"""Tests for qmrigenes.lesions (lesion stages, review tables, atrophy)."""
import numpy as np
import pytest

from qmrigenes import lesions, phantom


@pytest.fixture(scope="module")
def ph():
    return phantom.make_head_phantom()


def test_lesion_changes_table_is_consistent():
    ch = lesions.load_lesion_changes()
    assert set(ch["stage"]) == set(lesions.STAGES)
    assert set(ch["kind"]) <= {"published", "SIMULATION design"}
    assert ch.loc[ch["kind"] == "published", "magnitude_source"].notna().all()
    assert ch["direction_source"].notna().all()
    # the review's key contrasts: early active chi ~ 0, late active chi up, a rim only in chronic active
    key = ch.set_index(["stage", "compartment", "parameter"])["change"]
    assert abs(key[("early_active", "core", "chi")]) < 0.001
    assert key[("late_active", "core", "chi")] > 0.005
    assert set(ch.loc[ch["compartment"] == "rim", "stage"]) == {"chronic_active"}


def test_lesion_changes_reject_sign_errors(tmp_path):
    ch = lesions.load_lesion_changes()
    ch.loc[0, "change"] = -ch.loc[0, "change"]
    p = tmp_path / "bad.csv"
    ch.to_csv(p, index=False)
    with pytest.raises(ValueError, match="sign"):
        lesions.load_lesion_changes(p)


def test_insert_lesions_changes_maps_as_specified(ph):
    les, lmap, info = lesions.insert_lesions(ph)
    assert list(info["stage"]) == list(lesions.STAGES)
    ch = lesions.load_lesion_changes().set_index(["stage", "compartment", "parameter"])
    for i, stage in enumerate(lesions.STAGES):
        core = lmap == i + 1
        assert core.sum() == info.loc[i, "n_core"] > 50
        # lesions sit in WM, so R1 changes relative to WM
        r1_rel = les.maps["R1"][core] / ph.maps["R1"][core] - 1
        np.testing.assert_allclose(100 * r1_rel, ch.loc[(stage, "core", "R1"), "change"])
        dchi = les.maps["chi"][core] - ph.maps["chi"][core]
        np.testing.assert_allclose(dchi, ch.loc[(stage, "core", "chi"), "change"])
    rim = lmap == -3
    assert rim.sum() > 0 and np.all(les.maps["chi"][rim] > ph.maps["chi"][rim])
    assert np.all(les.maps["R1"][lmap == 0] == ph.maps["R1"][lmap == 0])   # untouched elsewhere


def test_insert_lesions_rejects_bad_input(ph):
    with pytest.raises(ValueError, match="unknown lesion stages"):
        lesions.insert_lesions(ph, stages=["smouldering"])
    with pytest.raises(ValueError, match="shape"):
        lesions.insert_lesions(ph, centers=[[1, 2, 3]])


def test_radial_profile_of_a_ball():
    vol = np.zeros((21, 21, 5))
    x, y = np.meshgrid(np.arange(21) - 10, np.arange(21) - 10, indexing="ij")
    vol[:, :, 2] = (np.hypot(x, y) * 2 <= 6).astype(float)
    prof = lesions.radial_profile(vol, (10, 10, 2), max_radius_mm=12, step_mm=2)
    assert prof.iloc[0] == 1.0 and prof.iloc[-1] == 0.0
    assert prof.is_monotonic_decreasing


def test_review_tables_encode_key_findings():
    rev = lesions.load_review_tables()
    d = rev.set_index(["site", "parameter"])["direction"]
    assert d[("early active lesion", "QSM")] == "no change"
    assert d[("late active lesion", "QSM")] == "increase"
    assert d[("chronic active lesion (rim)", "R2*")] == "increase"
    assert d[("basal ganglia", "QSM")] == "increase" and d[("thalamus", "QSM")] == "decrease"
    assert d[("cortical lesions", "QSM")] == "mixed"
    assert set(rev["table"]) == {1, 2}
    mat = lesions.review_direction_matrix(rev)
    assert mat.loc["NAWM", "PD"] == 1 and np.isnan(mat.loc["cortical lesions", "R1"])


def test_atrophy_keeps_content_and_raises_concentration(ph):
    s = lesions.atrophy_series(ph, nucleus="putamen", losses=(0.0, 0.25))
    assert s["volume_ml"].iloc[1] == pytest.approx(0.75 * s["volume_ml"].iloc[0], rel=0.01)
    assert s["R2s_mean"].iloc[1] == pytest.approx(s["R2s_mean"].iloc[0] / 0.75, rel=0.01)
    assert s["chi_mean"].iloc[1] > s["chi_mean"].iloc[0]
    assert s["R2s_mass"].iloc[1] == pytest.approx(s["R2s_mass"].iloc[0], rel=1e-9)
    assert s["chi_mass"].iloc[1] == pytest.approx(s["chi_mass"].iloc[0], rel=1e-9)


def test_atrophy_rejects_bad_input(ph):
    with pytest.raises(ValueError, match="deep grey"):
        lesions.simulate_atrophy(ph, nucleus="WM")
    with pytest.raises(ValueError, match="volume_loss"):
        lesions.simulate_atrophy(ph, volume_loss=1.5)


def test_lesion_change_summary_counts_kinds():
    ch = lesions.load_lesion_changes()
    s = lesions.lesion_change_summary(ch)
    n = s["numbers"]
    assert n["n-change-published"] + n["n-change-design"] == n["n-change-rows"] == len(ch)
    assert n["n-change-published"] == (ch["kind"] == "published").sum()
    assert "R1 of early_active core" in s["design"] and "chi of late_active core" in s["published"]
    # the chapter's sentence: published = R2* and chi of active lesions, chi of chronic cores
    pub = ch[ch["kind"] == "published"]
    assert set(pub["parameter"]) == {"R2s", "chi"} and set(pub["compartment"]) == {"core"}
    assert set(pub.loc[pub["parameter"] == "R2s", "stage"]) == {"early_active", "late_active"}
    bad = ch.assign(kind="guess")
    with pytest.raises(ValueError, match="kinds"):
        lesions.lesion_change_summary(bad)


def test_review_facts_support_the_chapter_text():
    f = lesions.review_facts()
    assert f["n_cells"] == len(lesions.load_review_tables()) and 0 < f["n_from_text"] < f["n_cells"]
    assert f["wm_r1_always_down"] and f["wm_pd_always_up"] and f["bg_thalamus_opposite"]
    assert f["wm_r2s_qsm_directions"] >= 3          # R2* and QSM separate the stages
    rev = lesions.load_review_tables()
    rev.loc[(rev["site"] == "thalamus") & (rev["parameter"] == "QSM"), "direction"] = "increase"
    assert not lesions.review_facts(rev)["bg_thalamus_opposite"]


@pytest.fixture(scope="module")
def lesion_run(ph):
    return lesions.run_lesion_experiment(ph, np.ones(ph.shape))


def test_lesion_experiment_and_profiles(ph, lesion_run):
    res = lesion_run
    assert list(res["info"]["stage"]) == list(lesions.STAGES)
    assert set(res["profiles"]["stage"]) == set(lesions.STAGES)
    n = res["numbers"]
    assert n["rim-chi-true"] > 5                          # paramagnetic rim relative to CSF
    assert n["rim-chi-est"] < n["rim-chi-true"]           # blurred by regularisation
    with pytest.raises(ValueError, match="keys"):
        lesions.lesion_profiles(res["info"], {"R1": ph.maps["R1"]}, {"PD": ph.maps["PD"]})


def test_tkd_measured_chi_and_atrophy_changes(ph):
    chi = lesions.tkd_measured_chi(ph)
    assert abs(chi[ph.labels == 1].mean()) < 1e-12
    s = lesions.atrophy_series(ph, nucleus="pallidum", losses=(0.0, 0.2), measured=lesions.tkd_measured_chi)
    c = lesions.atrophy_changes(s)
    assert c["atrophy-loss"] == pytest.approx(20.0)
    assert c["atrophy-r2s-rise"] == pytest.approx(100 * (1 / 0.8 - 1), abs=1.0)
    assert abs(c["atrophy-r2s-mass"]) < 1e-9 and abs(c["atrophy-chi-mass"]) < 1e-9
    assert c["atrophy-chi-mean-meas"] > 0
    with pytest.raises(ValueError, match="two"):
        lesions.atrophy_changes(s.iloc[:1])


def test_lesion_change_summary_table_has_no_blanks_as_nan():
    t = lesions.lesion_change_summary()["tables"]["lesion-changes"]
    assert t.notna().all().all() and (t["magnitude_source"] == "").sum() == (t["kind"] != "published").sum()


def test_lesion_experiment_true_contrasts_match_the_table(lesion_run):
    n = lesion_run["numbers"]
    ch = lesions.load_lesion_changes().set_index(["stage", "compartment", "parameter"])["change"]
    for stage in lesions.STAGES:
        want = 1000 * ch[(stage, "core", "chi")]
        assert n[f"{stage.replace('_', '-')}-chi-contrast-true"] == pytest.approx(want, abs=0.05)
