"""Tests of qmrigenes.surface: meshes, map loading, smoothing calibration, parcellation."""
import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from qmrigenes import surface
from qmrigenes.datasets import DK_CORTICAL_REGIONS


@pytest.fixture
def fine_sphere(fine_icosphere):
    """A 2,562-vertex sphere of radius 100 mm."""
    coords, faces = fine_icosphere
    return surface.Mesh(100 * coords, faces)


def test_fsaverage5_shapes():
    mesh = surface.load_fsaverage5(hemisphere="L")
    assert mesh.coords.shape == (10242, 3) and mesh.faces.shape == (20480, 3)
    pial = surface.load_fsaverage5(surface="pial")
    white = surface.load_fsaverage5(surface="white")
    np.testing.assert_allclose(mesh.coords, (pial.coords + white.coords) / 2)


def test_bad_hemisphere_and_surface():
    with pytest.raises(ValueError, match="hemisphere"):
        surface.load_fsaverage5(hemisphere="X")
    with pytest.raises(ValueError, match="surface"):
        surface.load_fsaverage5(surface="orig")


def test_load_gifti_and_mgh_roundtrip(tmp_path, rng):
    values = rng.normal(size=10242).astype(np.float32)
    gii = nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(values)])
    nib.save(gii, tmp_path / "r1.func.gii")
    mgh = nib.MGHImage(values.reshape(-1, 1, 1), np.eye(4))
    nib.save(mgh, tmp_path / "r1.mgh")
    np.testing.assert_allclose(surface.load_surface_map(tmp_path / "r1.func.gii"), values)
    np.testing.assert_allclose(surface.load_surface_map(tmp_path / "r1.mgh"), values)


def test_map_with_nan_or_wrong_vertex_count_is_an_error(tmp_path, rng):
    values = rng.normal(size=10242).astype(np.float32)
    values[17] = np.nan
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(values)]), tmp_path / "nan.gii")
    with pytest.raises(ValueError, match="non-finite"):
        surface.load_surface_map(tmp_path / "nan.gii")
    short = rng.normal(size=10000).astype(np.float32)
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(short)]), tmp_path / "short.gii")
    with pytest.raises(ValueError, match="10242 vertices"):
        surface.load_surface_map(tmp_path / "short.gii")
    with pytest.raises(ValueError, match=".gii"):
        surface.load_surface_map(tmp_path / "x.nii")


def test_smoothing_fwhm_is_calibrated(fine_sphere):
    _, area = surface.cotangent_laplacian(*fine_sphere)
    centre = 100
    for fwhm in (15.0, 25.0):
        impulse = np.zeros(len(area))
        impulse[centre] = 1.0 / area[centre]
        kernel = surface.smooth_surface(impulse, fine_sphere, fwhm=fwhm)
        measured = surface.kernel_fwhm(kernel, fine_sphere, centre)
        assert measured == pytest.approx(fwhm, rel=0.06)
        # integral conserved, peak at the centre
        assert (kernel * area).sum() == pytest.approx(1.0, rel=1e-6)
        assert kernel.argmax() == centre


def test_smoothing_keeps_constants_and_reduces_variance(icosphere, rng):
    mesh = surface.Mesh(100 * icosphere[0], icosphere[1])
    const = np.full(len(mesh.coords), 3.0)
    np.testing.assert_allclose(surface.smooth_surface(const, mesh, fwhm=20), const)
    noise = rng.normal(size=(4, len(mesh.coords)))
    out = surface.smooth_surface(noise, mesh, fwhm=30)
    assert out.shape == noise.shape
    assert (out.std(axis=1) < 0.8 * noise.std(axis=1)).all()
    np.testing.assert_array_equal(surface.smooth_surface(noise, mesh, fwhm=0), noise)
    with pytest.raises(ValueError, match="fwhm"):
        surface.smooth_surface(noise, mesh, fwhm=-1)


def test_fsaverage5_smoothing_near_target():
    mesh = surface.load_fsaverage5()
    _, area = surface.cotangent_laplacian(*mesh)
    impulse = np.zeros(10242)
    impulse[5000] = 1 / area[5000]
    measured = surface.kernel_fwhm(surface.smooth_surface(impulse, mesh, fwhm=6.0), mesh, 5000)
    # Euclidean distances on the folded surface underestimate geodesic ones slightly
    assert 5.3 < measured < 6.4


def test_parcellate_means_and_errors():
    labels = np.array(["a", "a", "b", "unknown", "b"])
    out = surface.parcellate(np.array([1.0, 3.0, 10.0, 99.0, 20.0]), labels, regions=["a", "b"])
    assert out.to_dict() == {"a": 2.0, "b": 15.0}
    two = surface.parcellate(np.ones((2, 5)), labels, regions=["a", "b"])
    assert two.shape == (2, 2)
    with pytest.raises(ValueError, match="not in the atlas"):
        surface.parcellate(np.ones(5), labels, regions=["a", "c"])
    with pytest.raises(ValueError, match="non-finite"):
        surface.parcellate(np.array([1.0, np.nan, 1, 1, 1]), labels, regions=["a", "b"])
    omitted = surface.parcellate(np.array([1.0, np.nan, 2, 1, 4]), labels, regions=["a", "b"], nan_policy="omit")
    assert omitted.to_dict() == {"a": 1.0, "b": 3.0}
    with pytest.raises(ValueError, match="regions not in the atlas"):
        surface.regions_to_vertices(pd.Series({"zzz": 1.0}), labels)


def test_dk_labels_cover_all_regions():
    labels = surface.dk_labels(hemisphere="L")
    assert labels.shape == (10242,)
    assert set(DK_CORTICAL_REGIONS) <= set(labels)
    dk = surface.parcellate(np.arange(10242, dtype=float), labels)
    assert list(dk.index) == list(DK_CORTICAL_REGIONS)


def test_nspn_to_dk_average_and_errors():
    parcels = pd.DataFrame({"hemisphere": ["L", "L", "L", "R"], "region": ["bankssts", "bankssts", "cuneus", "cuneus"],
                            "part": [1, 2, 1, 1]}, index=["lh_b1", "lh_b2", "lh_c1", "rh_c1"])
    values = pd.DataFrame([[1.0, 3.0, 5.0, 7.0]], columns=parcels.index)
    with pytest.raises(ValueError, match="no sub-parcel"):
        surface.nspn_to_dk(values, parcels)          # the other 32 DK regions are absent
    bad = parcels.assign(region=["bankssts", "bankssts", "notaregion", "cuneus"])
    with pytest.raises(ValueError, match="not in the DK atlas"):
        surface.nspn_to_dk(values, bad)


def test_nspn_real_data_to_dk():
    from qmrigenes.datasets import load_nspn_mt

    nspn = load_nspn_mt()
    dk = surface.nspn_to_dk(nspn.values, nspn.parcels)
    assert dk.shape == (297, 34)
    first = nspn.parcels.index[(nspn.parcels.hemisphere == "L") & (nspn.parcels.region == "superiorfrontal")]
    assert dk["superiorfrontal"].iloc[0] == pytest.approx(nspn.values.iloc[0][first].mean())


def test_crosswalk_covers_clinical_labels_and_dk():
    from qmrigenes.datasets import load_clinical_mpm

    cw = surface.load_neuromorphometrics_crosswalk()
    labels = set(load_clinical_mpm()["region"])
    assert labels == set(cw["neuromorphometrics"])
    assert set(cw.loc[cw.dk_region != "", "dk_region"]) == set(DK_CORTICAL_REGIONS)
    assert (cw["note"].str.len() > 0).all()


def test_neuromorphometrics_to_dk_mean_and_unknown_label(tmp_path):
    cw = surface.load_neuromorphometrics_crosswalk()
    labels = list(dict.fromkeys(cw["neuromorphometrics"]))
    values = pd.DataFrame([np.arange(len(labels), dtype=float)], columns=labels)
    dk = surface.neuromorphometrics_to_dk(values)
    assert dk.shape == (1, 34)
    expect = values[["STG superior temporal gyrus", "MTG middle temporal gyrus"]].mean(axis=1).iloc[0]
    assert dk["bankssts"].iloc[0] == pytest.approx(expect)
    with pytest.raises(ValueError, match="not in the crosswalk"):
        surface.neuromorphometrics_to_dk(values.assign(**{"XYZ unknown gyrus": 1.0}))
    bad = cw.copy()
    bad.loc[0, "dk_region"] = "notaregion"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="not in the DK atlas"):
        surface.load_neuromorphometrics_crosswalk(tmp_path / "bad.csv")


def test_hcp_t1wt2w_dk():
    dk = surface.hcp_t1wt2w_dk()
    assert dk.shape == (34,) and np.isfinite(dk).all()
    assert dk["precentral"] > dk["insula"]      # myelin-rich motor cortex
