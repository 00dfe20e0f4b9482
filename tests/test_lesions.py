"""Tests for qmrigenes.lesions (lesion stages, review tables, atrophy)."""
import numpy as np
import pytest

from qmrigenes import lesions


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
