"""Tests for qmrigenes.lesions (lesion stages, review tables, atrophy)."""
import numpy as np
import pandas as pd
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
    # the volume losses side by side on threads (with a measured chi): the same table, bit for bit
    def measured(p):
        return p.maps["chi"] * 0.5
    kw = dict(nucleus="putamen", losses=(0.0, 0.1, 0.25), measured=measured)
    pd.testing.assert_frame_equal(lesions.atrophy_series(ph, workers=1, **kw),
                                  lesions.atrophy_series(ph, workers=3, **kw), check_exact=True)
    with pytest.raises(ValueError, match="workers"):
        lesions.atrophy_series(ph, workers=0)


def test_atrophy_rejects_bad_input(ph):
    with pytest.raises(ValueError, match="deep grey"):
        lesions.simulate_atrophy(ph, nucleus="WM")
    with pytest.raises(ValueError, match="volume_loss"):
        lesions.simulate_atrophy(ph, volume_loss=1.5)


# ---- lesion controls at small size (issue #12, point 2)
def _small_phantom():
    """32^3 at 2 mm: CSF shell, WM ball and a strongly paramagnetic 'pallidum' near the centre."""
    from qmrigenes.phantom import Phantom

    n = 32
    g = np.indices((n, n, n)) - 15.5
    r = 2.0 * np.sqrt((g ** 2).sum(0))
    labels = np.zeros((n, n, n), np.int16)
    labels[r <= 28] = 1
    labels[r <= 24] = 3
    labels[2.0 * np.sqrt(((g - np.array([0, 5, 0])[:, None, None, None]) ** 2).sum(0)) <= 6] = 6
    inside = labels > 0
    maps = {"R1": np.where(inside, 1.0, 0), "PD": np.where(inside, 70.0, 0), "R2s": np.where(inside, 20.0, 0),
            "MTsat": np.where(labels == 3, 1.0, 0),
            "chi": np.select([labels == 3, labels == 6], [-0.012, 0.12], 0.0)}
    return Phantom(labels=labels, maps=maps)


def _contrasts(volume, lmap, labels, reference="nawm"):
    from qmrigenes import qsm

    mask = labels > 0
    chi, info = qsm.tikhonov_cg(np.where(mask, qsm.forward_field(volume, pad=8), 0), mask, lam=1e-2)
    assert info["converged"]
    return 1000 * lesions.lesion_contrast(chi, lmap, labels=labels, reference=reference).to_numpy()


def test_lesion_only_and_noise_free_controls_separate_cross_talk_from_the_lesions():
    ph = _small_phantom()
    les, lmap, _ = lesions.insert_lesions(ph, stages=("late_active", "chronic_inactive"),
                                          centers=[[16, 14, 8], [8, 16, 16]], radius_mm=4.0)
    only = lesions.lesion_only(les, ph)
    assert np.count_nonzero(only) == np.count_nonzero(lmap)          # the control holds the lesions alone
    truth = 1000 * lesions.lesion_contrast(les.maps["chi"], lmap, labels=les.labels, reference="nawm").to_numpy()
    np.testing.assert_allclose(truth, [10.2, 4.67])
    full = _contrasts(les.maps["chi"], lmap, les.labels)                  # noise-free, anatomy present
    lesion_part = _contrasts(only, lmap, les.labels)                      # noise-free, anatomy removed
    anatomy_part = _contrasts(ph.maps["chi"], lmap, les.labels)           # anatomy alone: truth is 0 at the lesions
    # the solver is linear: the measured contrast is the lesions' part plus the anatomy's cross-talk
    np.testing.assert_allclose(full, lesion_part + anatomy_part, atol=0.05)
    # without the anatomy every lesion keeps the same fraction of its contrast ...
    ratio = lesion_part / truth
    assert 0.5 < ratio.min() and ratio.max() < 1.0 and abs(ratio[0] - ratio[1]) < 0.05
    # ... with it, the anatomy adds ppb-level contrast of either sign where there is none
    assert np.abs(anatomy_part).max() > 2.0 and anatomy_part.min() < 0 < anatomy_part.max()
    assert abs(full[0] - truth[0]) > 5.0


def test_lesion_contrast_references(ph):
    les, lmap, info = lesions.insert_lesions(ph)
    truth_nawm = lesions.lesion_contrast(les.maps["chi"], lmap, labels=les.labels, reference="nawm")
    truth_shell = lesions.lesion_contrast(les.maps["chi"], lmap, labels=les.labels, reference="shell")
    expected = lesions.load_lesion_changes().query("compartment == 'core' and parameter == 'chi'")
    expected = expected.set_index("stage").loc[list(info["stage"]), "change"].to_numpy()
    np.testing.assert_allclose(truth_nawm.to_numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(truth_shell.to_numpy(), expected, atol=1e-12)
    with pytest.raises(ValueError, match="labels"):
        lesions.lesion_contrast(les.maps["chi"], lmap, reference="nawm")


def test_depth_inside_a_nucleus_equals_the_whole_grid_transform():
    """The atrophy model's distance to the boundary, from the nucleus's box only, is the full EDT."""
    from scipy import ndimage

    from qmrigenes.lesions import _depth_inside

    rng = np.random.default_rng(5)
    for shape, box in (((24, 20, 18), (slice(5, 14), slice(4, 12), slice(6, 15))),     # inside
                       ((12, 10, 9), (slice(0, 6), slice(3, 10), slice(2, 7)))):        # touching the edge
        sel = np.zeros(shape, bool)
        sel[box] = ndimage.binary_opening(rng.random(sel[box].shape) > 0.3)
        sel[box][1:-1, 1:-1, 1:-1] = True
        for sampling in ((2.0, 2.0, 2.0), (1.0, 1.5, 3.0)):
            np.testing.assert_array_equal(_depth_inside(sel, sampling),
                                          ndimage.distance_transform_edt(sel, sampling=sampling))
    assert not _depth_inside(np.zeros((4, 4, 4), bool), (1.0, 1.0, 1.0)).any()


def test_lesion_shell_from_the_lesion_box_equals_the_whole_grid_transform():
    """lesion_contrast's shell reference (distance transform on the lesion's grown box) selects
    the voxels of the whole-grid transform, so the contrasts are the same numbers, bit for bit."""
    from scipy import ndimage

    from qmrigenes.lesions import _shell

    rng = np.random.default_rng(11)
    shape = (30, 26, 22)
    lmap = np.zeros(shape, np.int16)
    lmap[3:7, 4:9, 2:6] = 1                  # at the grid's edge: the box is clipped
    lmap[2:3, 4:9, 2:6] = -1                 # a rim
    lmap[15:19, 12:15, 10:14] = 2            # inside
    lmap[14, 12:15, 10:14] = -2
    wm = (rng.random(shape) > 0.2) & (lmap == 0)
    for sampling in ((2.0, 2.0, 2.0), (1.0, 1.5, 3.0)):
        for lo, hi in ((4.0, 10.0), (0.0, 3.0), (2.5, 40.0)):
            for i in (1, 2):
                dist = ndimage.distance_transform_edt(np.abs(lmap) != i, sampling=sampling)
                np.testing.assert_array_equal(_shell(lmap, i, wm, lo, hi, sampling),
                                              wm & (dist > lo) & (dist <= hi))
    vol = rng.standard_normal(shape)
    got = lesions.lesion_contrast(vol, lmap, reference="shell", voxel_size=(1.0, 1.5, 3.0))
    for i in (1, 2):
        dist = ndimage.distance_transform_edt(np.abs(lmap) != i, sampling=(1.0, 1.5, 3.0))
        ref = (lmap == 0) & (dist > 4.0) & (dist <= 10.0)
        assert got[i] == float(vol[lmap == i].mean() - vol[ref].mean())
