"""Tests of qmrigenes.mpm: the linear model, vertexwise fits, simulation recovery, real data."""
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

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
    mt = rng.normal(0.9, 0.1, (4, 500))
    r2 = rng.normal(17, 3, (4, 500))
    r1 = 0.2 + 0.3 * mt + 0.01 * r2 + rng.normal(0, 0.01, (4, 500))
    betas, resid = mpm.fit_vertexwise(r1, mt, r2)
    for s in range(4):
        ref = sm.OLS(r1[s], sm.add_constant(np.column_stack([mt[s], r2[s]]))).fit()
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
    # scaling MT changes b1 by the inverse factor and leaves b0, b2 and e unchanged
    raw = mpm.clinical_mpm_model(mt_scale=1.0)
    np.testing.assert_allclose(raw.fits.betas["b1"] * (500 / 220), model.fits.betas["b1"], rtol=1e-8)
    np.testing.assert_allclose(raw.fits.betas["b0"], model.fits.betas["b0"], rtol=1e-8)
    np.testing.assert_allclose(raw.dk["e"], model.dk["e"], atol=1e-12)


def test_clinical_model_unknown_region_is_an_error():
    from qmrigenes.datasets import load_clinical_mpm

    table = load_clinical_mpm()
    table.loc[0, "region"] = "XYZ not a label"
    with pytest.raises(ValueError, match="not in the crosswalk"):
        mpm.clinical_mpm_model(table=table)


def test_gene_set_expression(toy_expression):
    sets = {"a": list(toy_expression.columns[:3]), "none": ["NOPE"]}
    out = mpm.gene_set_expression(toy_expression, sets, sets=["a"])
    np.testing.assert_allclose(out["a"], toy_expression.iloc[:, :3].mean(axis=1))
    with pytest.raises(ValueError, match="no gene present"):
        mpm.gene_set_expression(toy_expression, sets)


# --------------------------------------------------------------------------- chapter reports
@pytest.fixture(scope="module")
def chapter_data():
    return mpm.load_chapter_data()


@pytest.fixture
def assoc_table():
    """A small association table over the three data sets of Chapter 1."""
    keys = [("clinical MPM", m) for m in ("R1", "MTsat", "R2*", "e")] + [("NSPN", "MTsat"), ("HCP", "T1w/T2w")]
    rows = []
    for cell, n in (("Astrocyte", 50), ("CA1.Pyramidal", 90), ("Mural", 20)):
        for ds, m in keys:
            r = {"Astrocyte": -0.2, "CA1.Pyramidal": 0.1 if m == "R2*" else -0.15, "Mural": 0.01}[cell]
            p_gene = 0.001 if cell != "Mural" else 0.8
            p_spin = 0.01 if (cell == "Astrocyte" and m != "e") else 0.3
            rows.append((cell, ds, m, n + 2, n, r, p_gene, p_gene, p_spin, p_spin))
    table = pd.DataFrame(rows, columns=["gene_set", "dataset", "map", "n_genes", "n_present", "r", "p_gene",
                                        "p_gene_fdr", "p_spin", "p_spin_fdr"])
    return table.set_index(["gene_set", "dataset", "map"])


@pytest.fixture
def published_t1():
    rows = [(c, m, r, p) for c, r, p in (("Astrocyte", -0.3, 0.001), ("CA1.Pyramidal", -0.2, 0.001),
                                         ("Mural", -0.1, 0.5)) for m in ("R1", "MTsat", "R2*", "e")]
    return pd.DataFrame(rows, columns=["cell_type", "map", "r", "p_fdr"])


def test_data_counts_real(chapter_data):
    counts = mpm.data_counts(chapter_data)
    assert counts["n-panel"] == 2511 and counts["n-genes-expr"] == 15633
    assert counts["n-clin-subjects"] == 6 and counts["n-nspn"] == 297
    assert 0 < counts["n-panel-present"] < counts["n-panel"]
    assert (counts["present"]["n_present"] <= counts["present"]["n_genes"]).all()
    assert chapter_data.maps.shape == (34, 6)


def test_linear_model_report_real(chapter_data):
    rep = mpm.linear_model_report(chapter_data.clinical, published=mpm.load_published("betas"))
    assert rep["b1-raw"] == pytest.approx(rep["b1-mean"] * 220 / 500)
    poster_b1 = 0.2954
    assert rep["b1-ratio"] == pytest.approx(rep["b1-mean"] / poster_b1)
    assert 0 < rep["b2-p"] <= 1 and rep["vif"] >= 1
    assert rep["rsq-min"] <= rep["rsq-max"] <= 1
    assert any(s.startswith("ours: clinical MPM (6 subjects") for s in rep["beta-table"].index)
    assert "ours: clinical MPM, MT unscaled" in set(rep["betas"]["source"])


def test_simulation_report():
    cohort = mpm.simulate_cohort(n_subjects=4, seed=3)
    res = mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat, cohort.r2s, cohort.mesh, cohort.labels)
    rep = mpm.simulation_report(cohort, res)
    assert rep["sim-e-r"] > 0.9 and abs(rep["sim-b1-bias"]) < 10
    exact = res._replace(betas=cohort.betas)
    assert mpm.simulation_report(cohort, exact)["sim-b0-bias"] == pytest.approx(0.0)
    short = res._replace(betas=res.betas.iloc[:3])
    with pytest.raises(ValueError, match="subjects"):
        mpm.simulation_report(cohort, short)


def test_cell_type_association_small(chapter_data):
    res = mpm.cell_type_association(chapter_data, n_perm=50, seed=1)
    assert set(res.seconds) == {"t-spin", "t-assoc"}
    assert len(res.table) == 9 * 6
    assert res.nulls["gene"].shape == (50, 9, 6) and res.nulls["spin"].shape == (50, 9, 6)
    again = mpm.cell_type_association(chapter_data, n_perm=50, seed=1)
    pd.testing.assert_frame_equal(res.table, again.table)       # seeded: identical tables


def test_significant_sets_and_compare(assoc_table, published_t1):
    assert mpm.significant_sets(assoc_table) == ["Astrocyte", "CA1.Pyramidal"]
    assert mpm.significant_sets(assoc_table, column="p_spin_fdr") == ["Astrocyte"]
    with pytest.raises(ValueError, match="no column"):
        mpm.significant_sets(assoc_table, column="nope")
    cmp = mpm.compare_significance(assoc_table, published_t1).set_index(["cell_type", "map"])
    assert cmp.loc[("Astrocyte", "R1"), "outcome"] == "reproduced"
    assert cmp.loc[("CA1.Pyramidal", "R2*"), "outcome"] == "opposite sign"
    assert cmp.loc[("Mural", "e"), "outcome"] == "neither"
    bad = published_t1.assign(map=published_t1["map"].replace("e", "T2"))
    with pytest.raises(ValueError, match="not in our"):
        mpm.compare_significance(assoc_table, bad)


def test_table1_findings(assoc_table, published_t1):
    f = mpm.table1_findings(assoc_table, published_t1)
    assert f["n-poster-sig"] == 8 and f["n-reproduced"] == 7
    assert f["opposite-sign"] == "CA1 Pyramidal/R2*"
    assert f["new-sig"] == "none"
    assert f["sig-R2s"] == "Astrocyte (−), CA1 Pyramidal (+)"
    assert f["n-gene-sig"] == 12 and f["n-both-sig"] == 5 and f["n-gene-only"] == 7 and f["n-spin-only"] == 0
    assert f["both-clinical"] == "Astrocyte/R1, Astrocyte/MTsat, Astrocyte/R2*"
    assert f["smallest-set"] == "mural"


def test_table1_tables(assoc_table, published_t1):
    t = mpm.table1_tables(assoc_table, published_t1)
    assert t["table1-clinical"].shape == (3, 4 * 5)
    assert list(t["table1-other"].columns.get_level_values(0).unique()) == ["NSPN", "HCP"]
    assert t["table1-other"].loc["Astrocyte", ("HCP", "MTsat (ours: T1w/T2w)", "r ours")] == pytest.approx(-0.2)


def test_top_regions():
    maps = pd.DataFrame({"a": [1.0, 3.0, 2.0], "b": [0.0, -1.0, 5.0]}, index=["x", "y", "z"])
    assert mpm.top_regions(maps, n=2) == {"a": "y, z", "b": "z, x"}
    with pytest.raises(ValueError, match="n must be"):
        mpm.top_regions(maps, n=4)
    with pytest.raises(ValueError, match="NaN"):
        mpm.top_regions(maps.assign(a=[np.nan, 1.0, 2.0]))


def test_poster_tied_pvalue():
    tie = mpm.poster_tied_pvalue(mpm.load_published("table1"))
    assert tie == {"poster-tie-p": 0.294, "poster-tie-n": 3, "poster-tie-map": "R1"}
    distinct = pd.DataFrame({"map": ["R1", "R1"], "p_fdr": [0.1, 0.2]})
    with pytest.raises(ValueError, match="no p-value repeats"):
        mpm.poster_tied_pvalue(distinct)


def test_set_label():
    assert mpm.set_label("CA1.Pyramidal") == "CA1 Pyramidal"
