"""Tests for qmrigenes.phantom (real templates and literature values)."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qmrigenes import phantom


def test_tissue_values_cover_every_tissue_and_parameter():
    tv = phantom.tissue_values()
    assert set(tv["tissue"]) == {t for t in phantom.TISSUES.values() if t != "background"}
    assert tv.groupby("tissue")["parameter"].nunique().eq(len(phantom.PARAMETERS)).all()
    assert not tv.duplicated(["tissue", "parameter"]).any()
    assert tv["source"].notna().all() and tv["note"].str.len().gt(10).all()


def test_tissue_values_match_the_clinical_mpm_literature_row():
    # cross-check against the collected literature table (helper-computed means of the same data)
    tv = phantom.tissue_values().set_index(["tissue", "parameter"])["value"]
    assert tv[("WM", "R1")] == pytest.approx(0.8596, abs=1e-3)
    assert tv[("WM", "PD")] == pytest.approx(72.26, abs=0.01)
    assert tv[("pallidum", "R2s")] == pytest.approx(32.94, abs=0.01)
    # MTsat as stored (no 220/500 factor), as chapter 1 decides: literature rows WM 1.49, cortex 0.9028
    assert tv[("WM", "MTsat")] == pytest.approx(1.49, abs=0.005)
    assert tv[("cortical GM", "MTsat")] == pytest.approx(0.9028, abs=0.005)
    # chi-separation net chi: para - |dia|, WM negative, pallidum strongly paramagnetic
    assert tv[("WM", "chi")] < 0 < tv[("caudate", "chi")] < tv[("pallidum", "chi")]


def test_simulation_values_are_labelled():
    tv = phantom.tissue_values()
    sim = tv[tv["note"].str.contains("SIMULATION")]
    assert sim["source"].str.endswith("_SIMULATION").all()
    assert (tv["source"].str.endswith("_DERIVED") | tv["source"].str.endswith("_SIMULATION")
            | tv["source"].isin(["lu2005_csf", "ernst1993_via_gasparovic2006", "model_assumption"])).all()


def test_committed_tissue_table_matches_code():
    committed = pd.read_csv(Path(phantom.__file__).parent / "data" / "literature" / "tissue_values_3T.csv")
    tv = phantom.tissue_values()
    assert list(committed["tissue"]) == list(tv["tissue"])
    np.testing.assert_allclose(committed["value"], tv["value"], rtol=1e-5)


def test_phantom_labels_and_maps(ph):
    assert ph.labels.ndim == 3 and ph.voxel_size == (2.0, 2.0, 2.0)
    present = set(np.unique(ph.labels))
    assert present == set(phantom.TISSUES)
    assert (ph.labels == 3).sum() > 50_000          # WM at 2 mm
    assert 300 < (ph.labels == 6).sum() < 2000      # pallidum, both sides
    for key in phantom.PARAMETERS:
        assert ph.maps[key].shape == ph.shape
        assert np.all(ph.maps[key][~ph.mask] == 0)
    assert np.all(ph.maps["R1"][ph.mask] > 0)
    means = ph.roi_means(ph.maps["R1"])
    assert means["WM"] > means["cortical GM"] > means["CSF"]


def test_phantom_copy_is_independent(ph):
    c = ph.copy()
    c.maps["R1"][:] = 0
    assert ph.maps["R1"].max() > 0


def test_b1_field_shape_and_range():
    b1 = phantom.b1_field((20, 24, 22), amplitude=0.2)
    assert b1.shape == (20, 24, 22)
    assert b1.max() == pytest.approx(1.2, abs=0.01)
    assert b1.min() >= 0.5
    with pytest.raises(ValueError, match="amplitude"):
        phantom.b1_field((4, 4, 4), amplitude=1.5)


def test_roi_means_rejects_wrong_shape(ph):
    with pytest.raises(ValueError, match="shape"):
        ph.roi_means(np.zeros((3, 3, 3)))


def test_tissue_table_is_wide_in_label_order():
    wide = phantom.tissue_table()
    assert list(wide.index) == [t for t in phantom.TISSUES.values() if t != "background"]
    assert list(wide.columns) == list(phantom.PARAMETERS)
    tv = phantom.tissue_values().set_index(["tissue", "parameter"])["value"]
    assert wide.loc["pallidum", "chi"] == tv[("pallidum", "chi")]
    with pytest.raises(ValueError, match="missing.*WM/R1"):
        phantom.tissue_table(phantom.tissue_values().query("not (tissue == 'WM' and parameter == 'R1')"))
