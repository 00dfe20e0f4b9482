"""Issue #19: Schaefer-100 through imaging-transcriptomics 1.1.15's AHBA table (a member of its sdist),
its fsaverage5 labels and spins, and the parcel without expression."""
import os

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from qmrigenes import cli
from qmrigenes.association import associate, permutation_null, read_map
from qmrigenes.datasets import (SCHAEFER_NETWORKS, load_ahba_schaefer100, load_dk_fsaverage5,
                                load_schaefer100_fsaverage5, load_schaefer100_regions, split_schaefer_label)

pytestmark = pytest.mark.realdata
NAN_PARCEL = ("R", "SomMot_2")


def test_split_schaefer_label_forms():
    assert split_schaefer_label("7Networks_LH_Vis_1") == ("L", "Vis_1")
    assert split_schaefer_label("rh_default_pCunPCC_2") == ("R", "default_pCunPCC_2")
    assert split_schaefer_label("L_SalVentAttn_Med_1") == ("L", "SalVentAttn_Med_1")
    for bad in ("lh_bankssts", "7Networks_LH_Visual_1", "Vis_1", "", "17Networks_LH_VisCent_1"):
        assert split_schaefer_label(bad) is None, bad


def test_expression_table_rows_are_the_100_parcels_in_schaefer_order():
    info = load_schaefer100_regions()
    assert list(info["id"]) == list(range(1, 101))
    assert (info["hemisphere"] == "L").sum() == 50 and list(info["hemisphere"][:50]) == ["L"] * 50
    # 7-network order within each hemisphere: Vis, SomMot, DorsAttn, SalVentAttn, Limbic, Cont, Default
    for hemi, part in info.groupby("hemisphere"):
        order = [SCHAEFER_NETWORKS.index(r.split("_")[0]) for r in part["region"]]
        assert order == sorted(order) and set(order) == set(range(7)), hemi
    expr = load_ahba_schaefer100()
    assert expr.shape == (100, 15633)
    assert list(expr.index) == list(zip(info["hemisphere"], info["region"]))
    empty = expr.index[expr.isna().all(axis=1)].tolist()
    assert empty == [NAN_PARCEL]                                   # the one parcel the table leaves empty
    assert not expr.drop(index=[NAN_PARCEL]).isna().any().any()
    assert load_ahba_schaefer100(dropna=True).shape == (99, 15633)


def test_fsaverage5_labels_match_the_table_by_name_and_by_anatomy():
    sch = load_schaefer100_fsaverage5()
    assert sch.shape == (20484, 4)
    assert set(sch["label"]) == set(range(0, 101))                 # every parcel has vertices, 0 = medial wall
    assert (sch.loc[sch["hemisphere"] == "L", "label"] <= 50).all()
    assert (sch.loc[sch["hemisphere"] == "R", "label"].replace(0, 51) > 50).all()
    # the names carried by the annot files put each network where it belongs: the DK atlas on
    # the same vertices is an independent check of the order
    dk = load_dk_fsaverage5()
    both = pd.DataFrame({"net": sch["region"].str.split("_").str[0], "dk": dk["region"]})[sch["label"] > 0]
    occipital = {"lateraloccipital", "lingual", "pericalcarine", "cuneus", "fusiform"}
    sensorimotor = {"precentral", "postcentral", "paracentral", "superiortemporal", "transversetemporal",
                    "supramarginal", "insula"}
    assert both.loc[both["net"] == "Vis", "dk"].isin(occipital).mean() > 0.6
    assert both.loc[both["net"] != "Vis", "dk"].isin(occipital).mean() < 0.05
    assert both.loc[both["net"] == "SomMot", "dk"].isin(sensorimotor).mean() > 0.85


def test_spins_of_schaefer_parcels_permute_within_each_hemisphere():
    info = load_schaefer100_regions()
    index = pd.MultiIndex.from_arrays([info["hemisphere"], info["region"]], names=["hemisphere", "region"])
    index = index[index != NAN_PARCEL]
    perms = permutation_null(index, kind="spins", n_perm=50, seed=1, atlas="schaefer100")
    assert perms.shape == (50, 99)
    arr = perms.to_numpy()
    assert (np.sort(arr, axis=1) == np.arange(99)).all()           # permutations
    left = np.asarray(index.get_level_values("hemisphere") == "L")
    assert left[arr[:, left]].all() and not left[arr[:, ~left]].any()   # hemispheres never mix
    assert (arr != np.arange(99)).any(axis=1).all()                # and they move parcels


@pytest.fixture(scope="module")
def painted_pair(tmp_path_factory):
    """PVALB's Schaefer-100 expression painted on fsaverage5 as an (lh, rh) GIFTI pair (0 in the empty parcel)."""
    pv = load_ahba_schaefer100()["PVALB"].fillna(0.0)
    labels = load_schaefer100_fsaverage5()
    folder = tmp_path_factory.mktemp("schaefer")
    paths = []
    for hemi in ("L", "R"):
        part = labels[labels["hemisphere"] == hemi]
        values = np.array([pv.get((hemi, r), np.nan) for r in part["region"]], dtype=np.float32)
        img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(values)])
        path = folder / f"{hemi.lower()}h.pvalb.func.gii"
        nib.save(img, path)
        paths.append(path)
    return tuple(paths), pv


def test_painted_pair_reads_back_and_a_one_gene_set_scores_r_one(painted_pair):
    pair, pv = painted_pair
    maps = read_map(pair, atlas="schaefer100")
    assert maps.shape == (100, 1) and "Schaefer-100 parcels" in maps.attrs["source"]
    np.testing.assert_allclose(maps.iloc[:, 0].loc[pv.index], pv.to_numpy(), rtol=1e-6)
    with pytest.warns(UserWarning, match="R SomMot_2"):
        table = associate(pair, atlas="schaefer100", sets={"pv": ["PVALB"], "sst": ["SST"]}, n_perm=200,
                          progress=False)
    assert (table["n_regions"] == 99).all()
    assert table.set_index("gene_set").loc["pv", "r"] == pytest.approx(1.0, abs=1e-9)


def test_dk_names_and_schaefer_names_are_not_mixed_up(tmp_path):
    info = load_schaefer100_regions()
    path = tmp_path / "schaefer.csv"
    pd.DataFrame({"region": info["label"], "value": np.linspace(0.5, 2.5, 100)}).to_csv(path, index=False)
    with pytest.raises(ValueError, match="atlas='schaefer100'"):
        read_map(path)                                             # the default atlas is DK: say which to use
    maps = read_map(path, atlas="schaefer100")
    assert maps.shape == (100, 1)
    short = tmp_path / "short.csv"                                 # LH_Vis_1 form, any case, any order
    pd.DataFrame({"region": [f"{h}H_{r}".lower() for h, r in zip(info["hemisphere"], info["region"])][::-1],
                  "value": np.arange(100.0)}).to_csv(short, index=False)
    got = read_map(short, atlas="schaefer100")
    assert list(got.index) == list(zip(info["hemisphere"], info["region"]))[::-1]
    with pytest.raises(ValueError, match="atlas must be one of"):
        read_map(path, atlas="schaefer400")


def test_synthetic_schaefer_volume_gives_back_the_painted_values(tmp_path):
    from nibabel.processing import resample_from_to

    from qmrigenes.fetch import fetch

    atlas = nib.load(fetch("schaefer100_volume_1mm.nii.gz"))
    affine = np.array([[2.0, 0, 0, -90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
    labels = np.asarray(resample_from_to(atlas, ((91, 109, 91), affine), order=0).dataobj).astype(int)
    values = np.linspace(1.0, 2.0, 100)
    lut = np.concatenate([[np.nan], values])
    path = tmp_path / "toy_2mm.nii.gz"
    nib.save(nib.Nifti1Image(lut[labels].astype(np.float32), affine), path)
    maps = read_map(path, atlas="schaefer100")
    assert maps.shape == (100, 1) and "Schaefer-100" in maps.attrs["source"]
    np.testing.assert_allclose(maps.iloc[:, 0].to_numpy(), values, rtol=1e-6)
    # the left parcels lie left of the midline in MNI space: ids and hemispheres agree
    ijk = np.argwhere(labels == 1).mean(axis=0)
    assert (affine[:3, :3] @ ijk + affine[:3, 3])[0] < 0


def _fsa5_thickness():
    import nilearn

    fsa5 = os.path.join(os.path.dirname(nilearn.__file__), "datasets", "data", "fsaverage5")
    return (os.path.join(fsa5, "thick_left.gii.gz"), os.path.join(fsa5, "thick_right.gii.gz"))


def test_real_thickness_pair_on_schaefer100_call_and_command(tmp_path, capsys):
    pair = _fsa5_thickness()
    with pytest.warns(UserWarning, match="R SomMot_2"):
        table, details = associate(pair, atlas="schaefer100", n_perm=200, seed=3, progress=False,
                                   return_details=True)
    assert (table["n_regions"] == 99).all() and len(table) == 9
    assert NAN_PARCEL not in details.maps.index
    assert "R SomMot_2" in details.methods and "Schaefer" in details.methods and "1.1.15" in details.methods
    # the mean r recomputed by hand from the same two tables
    expr = load_ahba_schaefer100(dropna=True)
    maps = details.maps.iloc[:, 0]
    genes = table.set_index("gene_set").loc["Oligodendrocyte", "genes"].split(", ")
    by_hand = np.mean([np.corrcoef(expr.loc[maps.index, g], maps)[0, 1] for g in genes])
    assert table.set_index("gene_set").loc["Oligodendrocyte", "r"] == pytest.approx(by_hand, abs=1e-10)
    out, report = tmp_path / "res.csv", tmp_path / "methods.md"
    code = cli.main(["associate", *pair, "--atlas", "schaefer100", "--n-perm", "200", "--seed", "3", "--quiet",
                     "--out", str(out), "--report", str(report)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning:" in captured.err and "R SomMot_2" in captured.err and "Traceback" not in captured.err
    got = pd.read_csv(out)
    np.testing.assert_allclose(got["r"], table["r"], rtol=1e-9)
    np.testing.assert_allclose(got["p_spin"], table["p_spin"])
    assert "Schaefer" in report.read_text()


def test_schaefer_refuses_conte69_surfaces(tmp_path):
    img = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(np.ones(32492, dtype=np.float32))])
    path = tmp_path / "lh.conte.func.gii"
    nib.save(img, path)
    with pytest.raises(ValueError, match="fsaverage5 only"):
        read_map(path, atlas="schaefer100")
