"""Tests of qmrigenes.mpm: the linear model, vertexwise fits, simulation recovery, real data."""
import numpy as np
import pandas as pd
import pytest

from qmrigenes import mpm


@pytest.fixture
def regional(rng):
    """Three subjects x 40 regions with known betas and noise."""
    subjects = pd.Index(["s1", "s2", "s3"], name="subject")
    regions = [f"r{i}" for i in range(40)]
    mt = pd.DataFrame(rng.normal(0.9, 0.1, (3, 40)), index=subjects, columns=regions)
    r2 = pd.DataFrame(rng.normal(17, 3, (3, 40)), index=subjects, columns=regions)
    r1 = 0.25 + 0.3 * mt + 0.008 * r2 + rng.normal(0, 0.002, (3, 40))
    return r1, mt, r2


def test_fit_linear_model_matches_truth_and_statsmodels(regional):
    r1, mt, r2 = regional
    fit = mpm.fit_linear_model(r1.iloc[0], mt.iloc[0], r2.iloc[0])
    assert fit.params["b1"] == pytest.approx(0.3, abs=0.02)
    assert fit.params["b2"] == pytest.approx(0.008, abs=0.001)
    assert fit.rsquared > 0.9
    assert fit.resid.shape == (40,)
    assert (fit.vif > 0.99).all() and (fit.vif < 2).all()


def test_fit_subjects_mismatched_subjects_is_an_error(regional):
    r1, mt, r2 = regional
    fits = mpm.fit_subjects(r1, mt, r2)
    assert fits.betas.shape == (3, 3) and fits.residuals.shape == (3, 40)
    with pytest.raises(ValueError, match="mtsat and r1 must have the same subject names.*'s3'"):
        mpm.fit_subjects(r1, mt.rename(index={"s3": "s4"}), r2)
    # tables are aligned by subject and region names, never by position
    shuffled = mpm.fit_subjects(r1, mt.iloc[::-1, ::-1], r2.iloc[::-1])
    pd.testing.assert_frame_equal(shuffled.betas, fits.betas)
    with pytest.raises(ValueError, match="must have the same region names"):
        mpm.fit_subjects(r1, mt.rename(columns={mt.columns[0]: "elsewhere"}), r2)
    nan = r1.copy()
    nan.iloc[0, 0] = np.nan
    with pytest.raises(ValueError, match="r1 must be finite"):
        mpm.fit_subjects(nan, mt, r2)


def test_fit_vertexwise_equals_statsmodels(rng):
    # statsmodels' OLS and add_constant themselves (statsmodels.api is the same objects, imported by
    # every test process at collection if imported at the top)
    from statsmodels.regression.linear_model import OLS
    from statsmodels.tools.tools import add_constant

    mt = rng.normal(0.9, 0.1, (4, 500))
    r2 = rng.normal(17, 3, (4, 500))
    r1 = 0.2 + 0.3 * mt + 0.01 * r2 + rng.normal(0, 0.01, (4, 500))
    betas, resid = mpm.fit_vertexwise(r1, mt, r2)
    for s in range(4):
        ref = OLS(r1[s], add_constant(np.column_stack([mt[s], r2[s]]))).fit()
        np.testing.assert_allclose(betas[s], ref.params, rtol=1e-8)
        np.testing.assert_allclose(resid[s], ref.resid, atol=1e-10)
    with pytest.raises(ValueError, match="must have the same shape"):
        mpm.fit_vertexwise(r1, mt[:3], r2)
    bad = r1.copy()
    bad[0, 3] = np.nan
    with pytest.raises(ValueError, match="non-finite"):
        mpm.fit_vertexwise(bad, mt, r2)


def test_simulation_is_seeded():
    a = mpm.simulate_cohort(n_subjects=3, seed=5)
    b = mpm.simulate_cohort(n_subjects=3, seed=5)
    np.testing.assert_array_equal(a.r1, b.r1)
    assert a.r1.shape == (3, 10242)


def test_vertexwise_pipeline_recovers_truth():
    cohort = mpm.simulate_cohort(n_subjects=12, seed=1)
    res = mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat, cohort.r2s, cohort.mesh, cohort.labels)
    true_mean = cohort.betas.mean()
    est_mean = res.betas.mean()
    assert (np.abs(est_mean - true_mean) < 0.1 * np.abs(true_mean)).all()
    assert np.corrcoef(res.betas["b2"], cohort.betas["b2"])[0, 1] > 0.9
    assert np.corrcoef(res.mean_maps["e"], cohort.epsilon)[0, 1] > 0.95
    from qmrigenes.surface import parcellate
    assert np.corrcoef(res.dk["e"], parcellate(cohort.epsilon, cohort.labels))[0, 1] > 0.95
    assert list(res.dk.columns) == ["R1", "MTsat", "R2*", "e"] and res.dk.shape == (34, 4)
    with pytest.raises(ValueError, match="mismatched subject lists"):
        mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat[:5], cohort.r2s, cohort.mesh, cohort.labels)
    with pytest.raises(ValueError, match="10242 vertices"):
        mpm.vertexwise_pipeline(cohort.r1[:, :100], cohort.mtsat, cohort.r2s, cohort.mesh, cohort.labels)


def test_clinical_model_real_data():
    model = mpm.clinical_mpm_model()
    assert model.fits.betas.shape == (6, 3)
    assert model.dk.shape == (34, 4)
    assert np.isfinite(model.dk.to_numpy()).all()
    # the default is MT as stored; the README's 220/500 changes b1 by the inverse factor only
    scaled = mpm.clinical_mpm_model(mt_scale=220 / 500)
    np.testing.assert_allclose(model.fits.betas["b1"] * (500 / 220), scaled.fits.betas["b1"], rtol=1e-8)
    np.testing.assert_allclose(scaled.fits.betas["b0"], model.fits.betas["b0"], rtol=1e-8)
    np.testing.assert_allclose(scaled.dk["e"], model.dk["e"], atol=1e-12)
    stored = mpm.load_clinical_mpm()
    mt = stored[stored["parameter"] == "MT"].groupby(["subject", "region"])["value"].mean()
    label = model.maps["MTsat"].columns[0]
    subject = model.maps["MTsat"].index[0]
    assert model.maps["MTsat"].loc[subject, label] == pytest.approx(mt[(subject, label)], rel=1e-12)


def test_clinical_model_unknown_region_is_an_error():
    from qmrigenes.datasets import load_clinical_mpm

    table = load_clinical_mpm()
    table.loc[0, "region"] = "XYZ not a label"
    with pytest.raises(ValueError, match="not in the crosswalk"):
        mpm.clinical_mpm_model(table=table)


# --------------------------------------------------------------------------- chapter reports




def test_nspn_dk_mt_real_both_hemispheres():
    dk = mpm.nspn_dk_mt()
    assert dk.shape == (297, 34)
    assert 0.6 < float(dk.to_numpy().mean()) < 1.0          # cortical MTsat in p.u. at 50% depth
    right = mpm.nspn_dk_mt(hemisphere="R")
    assert right.shape == (297, 34) and list(right.columns) == list(dk.columns)
    assert not np.allclose(right.to_numpy(), dk.to_numpy())  # another hemisphere's sub-parcels
    with pytest.raises(ValueError, match="hemisphere"):
        mpm.nspn_dk_mt(hemisphere="left")