"""Tests of qmrigenes.ahba: Allen-format reader, probe steps, ROI matching, simulation."""
import io

import numpy as np
import pandas as pd
import pytest

from qmrigenes import ahba


@pytest.fixture
def toy_table():
    rows = [(1, "Left A", "L", "alpha, left"), (1, "Left A", "L", "beta, left"),
            (2, "Right A", "R", "alpha, right"),
            (3, "Left B", "L", "gamma, left"), (5, "Left C", "L", "delta group, left"),
            (7, "Left D", "L", "lateral nucleus, left")]
    long = pd.DataFrame(rows, columns=["roi_id", "roi", "hemisphere", "ahba_structure"])
    return ahba.roi_structure_table(long)


@pytest.fixture
def toy_annotations():
    names = (["alpha, left"] * 2 + ["beta, left"] * 4 + ["gamma, left"] * 3 +
             ["delta group, left, ventral division"] * 2 + ["lateral nucleus, left"] * 2 +
             ["basolateral nucleus, left"] * 2 + ["other"] * 2)
    return pd.DataFrame({"structure_id": pd.factorize(pd.Series(names))[0] + 100, "structure_name": names})


def test_match_samples_averages_structures_then_roi(toy_table, toy_annotations):
    n = len(toy_annotations)
    expr = pd.DataFrame([np.arange(n, dtype=float)], index=["g"])
    out = ahba.match_samples(expr, toy_annotations, table=toy_table, method="prefix")
    # Left A = mean(mean(alpha samples 0,1), mean(beta samples 2..5)) = mean(0.5, 3.5)
    assert out.loc["g", "Left A"] == pytest.approx(2.0)
    assert out.loc["g", "Left C"] == pytest.approx(9.5)          # division matched by prefix
    assert out.loc["g", "Left D"] == pytest.approx(11.5)         # exact structure only
    assert "Right A" not in out.columns                          # unsampled ROI left out


def test_match_methods_differ_as_published(toy_table, toy_annotations):
    n = len(toy_annotations)
    expr = pd.DataFrame([np.arange(n, dtype=float)], index=["g"])
    exact = ahba.match_samples(expr, toy_annotations, table=toy_table, method="exact")
    pub = ahba.match_samples(expr, toy_annotations, table=toy_table, method="published")
    assert "Left C" not in exact.columns                          # only divisions exist
    assert pub.loc["g", "Left D"] == pytest.approx(12.5)          # substring also hits basolateral


def test_published_matching_drops_sixth_structure():
    long = pd.DataFrame({"roi_id": 1, "roi": "R", "hemisphere": "L",
                         "ahba_structure": [f"s{i}, left" for i in range(1, 7)]})
    table = ahba.roi_structure_table(long)
    annot = pd.DataFrame({"structure_name": [f"s{i}, left" for i in range(1, 7)]})
    expr = pd.DataFrame([[0, 0, 0, 0, 0, 60.0]], index=["g"])
    assert ahba.match_samples(expr, annot, table=table, method="published").loc["g", "R"] == 0
    assert ahba.match_samples(expr, annot, table=table, method="prefix").loc["g", "R"] == pytest.approx(10)


def test_donor_without_matched_samples_errors(toy_table):
    annot = pd.DataFrame({"structure_name": ["nothing", "else"]})
    with pytest.raises(ValueError, match="no sample matches"):
        ahba.match_samples(pd.DataFrame([[1.0, 2.0]]), annot, table=toy_table, donor="d9")


def test_check_roi_names(toy_table):
    ahba.check_roi_names(["Left A"], toy_table)
    with pytest.raises(ValueError, match="not in the ROI table: \\['Nowhere'\\]"):
        ahba.check_roi_names(["Left A", "Nowhere"], toy_table)


def test_zscore_reports_zero_variance():
    m = pd.DataFrame([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]], index=["a", "flat"], columns=list("xyz"))
    z, zero = ahba.zscore_rois(m)
    assert list(zero) == ["flat"]
    assert z.loc["a"].tolist() == pytest.approx([-1, 0, 1])
    assert z.loc["flat"].isna().all()


def test_average_donors_counts():
    a = pd.DataFrame([[1.0, -1.0]], index=["g"], columns=["r1", "r2"])
    b = pd.DataFrame([[3.0]], index=["g"], columns=["r1"])
    avg, n = ahba.average_donors({"d1": a, "d2": b}, rois=["r1", "r2", "r3"])
    assert avg.loc["r1", "g"] == 2.0 and avg.loc["r2", "g"] == -1.0
    assert n.to_dict() == {"r1": 2, "r2": 1}


def test_resolve_dir_env(monkeypatch, tmp_path):
    monkeypatch.delenv(ahba.AHBA_ENV, raising=False)
    with pytest.raises(FileNotFoundError, match=ahba.AHBA_ENV):
        ahba.resolve_ahba_dir()
    monkeypatch.setenv(ahba.AHBA_ENV, str(tmp_path))
    assert ahba.resolve_ahba_dir() == tmp_path


def test_end_to_end_synthetic_folder(tmp_path, toy_table, rng):
    """Write donor folders in the Allen format, run the full pipeline, recover the planted gene."""
    rois = ["Left A", "Left B", "Left C", "Left D"]
    q = pd.Series([1.5, -0.5, 0.2, -1.2], index=rois)
    annots, exprs = {}, {}
    names = ["alpha, left", "beta, left", "gamma, left", "delta group, left, dorsal division", "lateral nucleus, left"]
    roi_of = ["Left A", "Left A", "Left B", "Left C", "Left D"]
    genes = [f"G{i}" for i in range(12)]
    spatial = rng.normal(size=(len(genes), len(rois)))
    spatial[0] = 2 * q.to_numpy()                                  # G0 follows QSM
    for donor in ("1", "2", "3"):
        sname = np.repeat(names, 3)
        annots[donor] = pd.DataFrame({"structure_id": pd.factorize(pd.Series(sname))[0] + 10, "structure_name": sname})
        col = [rois.index(roi_of[names.index(s)]) for s in sname]
        exprs[donor] = pd.DataFrame(spatial[:, col] + 0.05 * rng.normal(size=(len(genes), len(sname))), index=genes)
    ahba.write_synthetic_donors(tmp_path, annots, exprs, seed=2)
    donors = ahba.read_donors(tmp_path)
    assert list(donors) == ["1", "2", "3"]
    kept = ahba.filter_probes(donors)
    assert len(kept) == 2 * len(genes)                              # the below-background probes go
    chosen = ahba.select_probes_ds(donors, kept)
    assert ((chosen - 1000) % 3 == 0).all()                         # the faithful probe wins on DS
    out = ahba.ahba_qsm_expression(tmp_path, table=toy_table)
    assert list(out.expression.index) == rois
    assert out.n_donors.tolist() == [3, 3, 3, 3]
    r = np.corrcoef(out.expression["G0"], q)[0, 1]
    assert r > 0.99


def test_read_donor_checks_shapes(tmp_path):
    folder = tmp_path / "normalized_microarray_donor1"
    folder.mkdir()
    pd.DataFrame({"probe_id": [1, 2], "gene_symbol": ["A", "B"]}).to_csv(folder / "Probes.csv", index=False)
    pd.DataFrame({"structure_id": [1], "structure_name": ["x"]}).to_csv(folder / "SampleAnnot.csv", index=False)
    for f in ("MicroarrayExpression.csv", "PACall.csv"):
        pd.DataFrame([[1, 0.5, 0.6], [2, 0.1, 0.2]]).to_csv(folder / f, header=False, index=False)
    with pytest.raises(ValueError, match="2 samples but SampleAnnot.csv lists 1"):
        ahba.read_donor(folder)


def test_real_table_and_sampling(ahba_annotations):
    table = ahba.roi_structure_table()
    assert len(table) == 34
    annot = ahba_annotations
    rep = ahba.matching_report(annot, table=table)
    right = table.index[table["hemisphere"] == "R"]
    # right-hemisphere ROIs sampled in donors 1-2 only
    assert (rep["prefix"].loc[right, [3, 4, 5, 6]] == 0).all().all()
    assert rep.loc["Hippocampus_L", ("published", 1)] < rep.loc["Hippocampus_L", ("prefix", 1)]


def test_simulation_levels_agree_without_sample_noise():
    from qmrigenes.datasets import load_ahba_sample_annotations
    annot = load_ahba_sample_annotations(donors=[1, 3])
    table = ahba.roi_structure_table()
    samp = ahba.roi_sampling(annot, table=table)
    q = ahba.simulate_qsm(table, seed=1)
    genes = [f"G{i}" for i in range(20)]
    a = ahba.simulate_roi_expression(samp, q, genes, effects={"G0": 0.9}, sample_sd=0, seed=4)
    b = ahba.simulate_roi_expression(samp, q, genes, effects={"G0": 0.9}, sample_sd=0, seed=4,
                                     level="sample", annotations=annot)
    for d in a.roi_means:
        pd.testing.assert_frame_equal(a.roi_means[d], b.roi_means[d][a.roi_means[d].columns], atol=1e-12)
    with pytest.raises(ValueError, match="NaN"):
        ahba.simulate_roi_expression(samp, q.where(q > 0), genes)


def test_deep_grey_expression_real():
    expr = ahba.deep_grey_expression(hemisphere="mean")
    assert expr.shape == (7, 15633)
    assert list(expr.index) == ["thalamus", "caudate", "putamen", "pallidum", "accumbens", "hippocampus", "amygdala"]
    left, right = ahba.deep_grey_expression(hemisphere="L"), ahba.deep_grey_expression(hemisphere="R")
    np.testing.assert_allclose(expr.to_numpy(), (left.to_numpy() + right.to_numpy()) / 2, rtol=1e-12)
    with pytest.raises(ValueError, match="AHBA regions not in the AHBA table"):
        ahba.deep_grey_expression(crosswalk=ahba.load_crosswalk().assign(ahba_dk_region="nowhere"))


def test_cortex_expression_real():
    from qmrigenes.datasets import DK_CORTICAL_REGIONS, load_ahba_dk

    expr = ahba.cortex_expression()
    assert expr.shape == (34, 15633) and list(expr.index) == list(DK_CORTICAL_REGIONS)
    raw = load_ahba_dk(hemisphere="L", structure="cortex").droplevel(["hemisphere", "structure"])
    pd.testing.assert_frame_equal(expr, raw.loc[list(DK_CORTICAL_REGIONS)])
    with pytest.raises(ValueError, match="hemisphere must be one of"):
        ahba.cortex_expression(hemisphere="mean")


def test_load_crosswalk_through_the_package_door():
    cw = ahba.load_crosswalk()
    assert cw.index.name == "structure" and cw["ahba_dk_region"].notna().sum() == 7


def test_gene_set_expression(toy_expression):
    sets = {"a": list(toy_expression.columns[:3]), "none": ["NOPE"]}
    out = ahba.gene_set_expression(toy_expression, sets, sets=["a"])
    np.testing.assert_allclose(out["a"], toy_expression.iloc[:, :3].mean(axis=1))
    with pytest.raises(ValueError, match="no gene present"):
        ahba.gene_set_expression(toy_expression, sets)




def test_synthetic_donor_tables_are_the_bytes_pandas_wrote(tmp_path, rng):
    """The expression and PA-call tables are written by numpy one format per row: byte for byte
    what pandas' to_csv(float_format="%.6f") wrote, negative values and zeros included."""
    genes = ["A", "B", "C"]
    annots = {"1": pd.DataFrame({"structure_id": [1, 2, 3, 4], "structure_name": ["s1", "s2", "s3", "s4"]})}
    values = rng.normal(size=(3, 4)) * 10
    values[0, 0], values[1, 1] = 0.0, -1e-9                      # a zero and a tiny negative
    ahba.write_synthetic_donors(tmp_path, annots, {"1": pd.DataFrame(values, index=genes)}, seed=3)
    folder = tmp_path / "normalized_microarray_donor1"
    expr = pd.read_csv(folder / "MicroarrayExpression.csv", header=None)
    calls = pd.read_csv(folder / "PACall.csv", header=None)
    assert expr.shape == calls.shape == (9, 5) and expr[0].tolist() == list(range(1000, 1009))
    plain = io.StringIO()
    pd.DataFrame(expr.to_numpy()).astype({0: int}).to_csv(plain, header=False, index=False, float_format="%.6f")
    assert (folder / "MicroarrayExpression.csv").read_text() == plain.getvalue()
    plain = io.StringIO()
    pd.DataFrame(calls.to_numpy()).to_csv(plain, header=False, index=False)
    assert (folder / "PACall.csv").read_text() == plain.getvalue()
    np.testing.assert_allclose(expr.iloc[[0, 3, 6], 1:].to_numpy(), values + 8.0, atol=5e-7)
