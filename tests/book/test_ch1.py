"""Tests of the book's study code (qmribook), moved from the library tests."""
import numpy as np
import pandas as pd
import pytest
from qmrigenes import mpm
from qmribook import ch1
from qmribook.report import Report
from qmribook.display import table


@pytest.fixture(scope="module")
def chapter_data(ch1_data):
    return ch1_data


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
    counts = ch1.data_counts(chapter_data)
    assert counts["n-panel"] == 2511 and counts["n-genes-expr"] == 15633
    assert counts["n-clin-subjects"] == 6 and counts["n-nspn"] == 297
    assert 0 < counts["n-panel-present"] < counts["n-panel"]
    assert (counts["present"]["n_present"] <= counts["present"]["n_genes"]).all()
    assert chapter_data.maps.shape == (34, 6)


def test_linear_model_report_real(chapter_data):
    rep = ch1.linear_model_report(chapter_data.clinical, published=ch1.load_published("betas"))
    assert ch1.MT_SCALE == 1.0 and ch1.MT_SCALE_ALT == pytest.approx(220 / 500)
    assert rep["b1-mean"] == pytest.approx(rep["b1-alt"] * 220 / 500)   # b1 scales inversely with MT
    poster_b1, callaghan_b1 = 0.2954, 0.3971
    assert rep["b1-ratio"] == pytest.approx(rep["b1-mean"] / poster_b1)
    assert rep["b1-callaghan-ratio"] == pytest.approx(rep["b1-mean"] / callaghan_b1)
    assert 0 < rep["b2-p"] <= 1 and rep["vif"] >= 1
    assert rep["rsq-min"] <= rep["rsq-max"] <= 1
    sources = set(rep["betas"]["source"])
    assert any(s.startswith("ours: clinical MPM (6 subjects; MT unscaled") for s in sources)
    assert "ours: clinical MPM, MT × 220/500 (sensitivity)" in sources


def test_report_linear_model_shape_and_precision(chapter_data):
    rep = ch1.report_linear_model(chapter_data, published=ch1.load_published("betas"))
    assert isinstance(rep, Report)
    assert {"b1-mean", "b1-alt", "b1-ratio"} <= set(rep.numbers) and "betas" not in rep.numbers
    shown = rep.tables["beta-table"].frame
    poster = [i for i in shown.index if i.startswith("poster")][0]
    assert shown.loc[poster, "β₀ (s⁻¹)"] == "0.2396 ± 0.0388"      # published precision kept
    assert shown.loc[poster, "β₂"] == "0.0079 ± 0.0017"
    assert shown.loc["Callaghan 2015 (cohort; whole brain)", "β₂"] == "—"
    assert not any(c in "".join(shown.columns) for c in ("b0", "b1", "b2"))


def test_mt_scale_evidence(chapter_data):
    rep = ch1.report_mt_scale(chapter_data, published=ch1.load_published("betas"))
    n = rep.numbers
    assert n["mt-gm-alt"] == pytest.approx(n["mt-gm-raw"] * 220 / 500)
    assert n["mt-wm-raw"] > n["mt-gm-raw"] > 0                     # WM has more MT than cortex
    # the decision: unscaled clinical cortex is closer to NSPN (customised MPM) than the scaled one
    assert abs(np.log(n["mt-nspn-ratio-raw"])) < abs(np.log(n["mt-nspn-ratio-alt"]))
    shown = rep.tables["mt-evidence"].frame
    assert "0.3971" in set(shown["customised protocol"]) and "0.2954" in set(shown["customised protocol"])
    # white matter: ours unscaled vs NSPN white matter under each parcel (customised protocol)
    assert abs(np.log(n["mt-wm-ratio-raw"])) < abs(np.log(n["mt-wm-ratio-alt"]))
    assert n["mt-wm-ratio-raw"] == pytest.approx(n["mt-wm-raw"] / n["mt-nspn-wm-av"])
    wm = shown.loc[shown.index.str.startswith("cerebral WM")].iloc[0]
    assert wm["customised protocol"] == f"{n['mt-nspn-wm-av']:.2f}" and "per-parcel" in wm["source (customised protocol)"]
    # the cortical ribbon average, the closer comparator, is in the table and the numbers
    ribbon = shown.loc[shown.index.str.contains("whole ribbon")].iloc[0]
    assert ribbon["customised protocol"] == f"{n['mt-nspn-ribbon']:.2f}"
    assert n["mt-nspn"] < n["mt-nspn-ribbon"] < n["mt-nspn-boundary"] < n["mt-nspn-wm-av"]
    assert abs(np.log(n["mt-ribbon-ratio-raw"])) < abs(np.log(n["mt-ribbon-ratio-alt"]))


def test_nspn_depth_values_come_from_the_registered_files(chapter_data):
    from qmrigenes.fetch import load_registry
    depth = ch1.nspn_mt_by_depth()
    # the 50%-depth row, computed with the same function, is the chapter's NSPN map
    assert depth.loc["cortex, 50% depth", "mean"] == pytest.approx(chapter_data.maps[("NSPN", "MTsat")].mean(),
                                                                  rel=1e-12)
    assert (depth["n_subjects"] == 297).all()
    reg = load_registry()                                        # indexed by file name
    assert set(depth["file"]) <= set(reg.index)
    assert reg.loc[list(depth["file"]), "source"].str.contains("5c9c46caf91768d4cadec2b24078b640f05d3d76").all()
    # MT rises from mid-cortex through the ribbon and the boundary into white matter
    m = depth["mean"]
    assert m["cortex, 50% depth"] < m["cortical ribbon average"] < m["grey/white boundary"] \
        < m["white matter, 2 mm below the boundary"]
    assert 1.2 < m["white matter under each parcel, average"] < 2.0


def test_mt_protocols_table_is_the_committed_literature():
    rep = ch1.report_mt_protocols()
    n = rep.numbers
    assert (n["fa-custom"], n["fa-vendor"], n["tr-vendor"], n["tr-vendor-pdt1"]) == ("220", "500", "37", "18")
    assert n["fa-ratio"] == pytest.approx(220 / 500) == pytest.approx(ch1.MT_SCALE_ALT)
    assert n["fa-ratio-sq"] == pytest.approx((500 / 220) ** 2)
    raw = ch1.load_published("mt_protocols")
    assert raw["citation"].str.len().gt(0).all() and raw["location"].str.len().gt(20).all()
    shown = rep.tables["mt-protocols"].frame
    assert len(shown) == len(raw) and "220°" in set(shown["value"]) and "37 ms" in set(shown["value"])
    assert not shown["source (literature)"].isin(raw["citation"]).any()     # no bib keys shown


def test_leave_one_out(chapter_data):
    loo = ch1.leave_one_out_betas(chapter_data.clinical)
    betas = chapter_data.clinical.fits.betas
    assert loo.shape == (6, 3)
    first = betas.index[0]
    assert loo.loc[first, "b1"] == pytest.approx(betas.drop(index=first)["b1"].mean())
    rep = ch1.report_exercise_leave_one_out(chapter_data)
    assert rep.numbers["ex-loo-b1-min"] <= betas["b1"].mean() <= rep.numbers["ex-loo-b1-max"]
    assert rep.numbers["ex-loo-subject"] in betas.index


def test_fmt_p_one_style():
    from qmribook.display import format_p, format_value

    assert format_p(0.0009, markup="text") == "9.0×10⁻⁴"
    assert format_p(0.0018, markup="text") == "0.0018" and format_p(0.47, markup="text") == "0.47"
    assert format_p(float("nan"), markup="text") == "—"
    assert format_value(-0.204, decimals=2) == "−0.20"


def test_display_table_complete_with_csv():
    frame = pd.DataFrame({"x": [f"{i}" for i in range(120)]})
    html = table(frame, csv_name="t", as_text=True)._repr_html_()
    assert html.count("<tr") == 121 and "…" not in html and "..." not in html
    assert 'href="_tables/t.csv"' in html and 'class="qmri-scroll"' in html   # the one table path


def test_simulation_report():
    cohort = mpm.simulate_cohort(n_subjects=4, seed=3)
    res = mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat, cohort.r2s, cohort.mesh, cohort.labels)
    rep = ch1.simulation_report(cohort, res)
    assert rep["sim-e-r"] > 0.9 and abs(rep["sim-b1-bias"]) < 10
    exact = res._replace(betas=cohort.betas)
    assert ch1.simulation_report(cohort, exact)["sim-b0-bias"] == pytest.approx(0.0)
    short = res._replace(betas=res.betas.iloc[:3])
    with pytest.raises(ValueError, match="subjects"):
        ch1.simulation_report(cohort, short)


def test_cell_type_association_small(chapter_data):
    res = ch1.cell_type_association(chapter_data, n_perm=50, seed=1)
    assert set(res.seconds) == {"t-spin", "t-assoc"}
    assert len(res.table) == 9 * 6
    assert res.nulls["gene"].shape == (50, 9, 6) and res.nulls["spin"].shape == (50, 9, 6)
    again = ch1.cell_type_association(chapter_data, n_perm=50, seed=1)
    pd.testing.assert_frame_equal(res.table, again.table)       # seeded: identical tables


def test_significant_sets_and_compare(assoc_table, published_t1):
    assert ch1.significant_sets(assoc_table) == ["Astrocyte", "CA1.Pyramidal"]
    assert ch1.significant_sets(assoc_table, column="p_spin_fdr") == ["Astrocyte"]
    with pytest.raises(ValueError, match="no column"):
        ch1.significant_sets(assoc_table, column="nope")
    cmp = ch1.compare_significance(assoc_table, published_t1).set_index(["cell_type", "map"])
    assert cmp.loc[("Astrocyte", "R1"), "outcome"] == "reproduced"
    assert cmp.loc[("CA1.Pyramidal", "R2*"), "outcome"] == "opposite sign"
    assert cmp.loc[("Mural", "e"), "outcome"] == "neither"
    bad = published_t1.assign(map=published_t1["map"].replace("e", "T2"))
    with pytest.raises(ValueError, match="not in our"):
        ch1.compare_significance(assoc_table, bad)


def test_table1_findings(assoc_table, published_t1):
    f = ch1.table1_findings(assoc_table, published_t1)
    assert f["n-poster-sig"] == 8 and f["n-reproduced"] == 7
    assert f["opposite-sign"] == "CA1 Pyramidal/R2*"
    assert f["new-sig"] == "none"
    assert f["sig-R2s"] == "Astrocyte (−), CA1 Pyramidal (+)"
    assert f["n-gene-sig"] == 12 and f["n-both-sig"] == 5 and f["n-gene-only"] == 7 and f["n-spin-only"] == 0
    assert f["both-clinical"] == "Astrocyte/R1, Astrocyte/MTsat, Astrocyte/R2*"
    assert f["smallest-set"] == "mural"


def test_table1_tables(assoc_table, published_t1):
    t = ch1.table1_tables(assoc_table, published_t1)
    assert t["table1-clinical"].shape == (3, 4 * 5)
    assert list(t["table1-other"].columns.get_level_values(0).unique()) == ["NSPN", "HCP"]
    assert t["table1-other"].loc["Astrocyte", ("HCP", "MTsat (ours: T1w/T2w)", "r ours")] == pytest.approx(-0.2)


def test_top_regions():
    maps = pd.DataFrame({"a": [1.0, 3.0, 2.0], "b": [0.0, -1.0, 5.0]}, index=["x", "y", "z"])
    assert ch1.top_regions(maps, n=2) == {"a": "y, z", "b": "z, x"}
    with pytest.raises(ValueError, match="n must be"):
        ch1.top_regions(maps, n=4)
    with pytest.raises(ValueError, match="NaN"):
        ch1.top_regions(maps.assign(a=[np.nan, 1.0, 2.0]))


def test_poster_tied_pvalue():
    tie = ch1.poster_tied_pvalue(ch1.load_published("table1"))
    assert tie == {"poster-tie-p": 0.294, "poster-tie-n": 3, "poster-tie-map": "R1"}
    distinct = pd.DataFrame({"map": ["R1", "R1"], "p_fdr": [0.1, 0.2]})
    with pytest.raises(ValueError, match="no p-value repeats"):
        ch1.poster_tied_pvalue(distinct)


def test_set_label():
    assert ch1.set_label("CA1.Pyramidal") == "CA1 Pyramidal"


def test_exercise_smoothing_small():
    cohort = mpm.simulate_cohort(n_subjects=4, seed=3)
    rep = ch1.report_exercise_smoothing(cohort, fwhms=(0.0, 6.0))
    n = rep.numbers
    assert n["ex-smooth-e-r-6"] > n["ex-smooth-e-r-0"]              # smoothing helps recover e
    assert abs(n["ex-smooth-b1-bias-6"]) < abs(n["ex-smooth-b1-bias-0"])   # and reduces dilution
    assert list(rep.tables["ex-smooth"].frame.index) == ["0 mm", "6 mm"]


def test_exercise_spin_method_and_nulls_small(ch1_spin):
    assoc, rep = ch1_spin                                  # 200 spins, seed 0 (shared with the self-check)
    assert 0 <= rep.numbers["ex-spin-n-greedy"] <= 9 and 0 <= rep.numbers["ex-spin-maxdiff"] <= 1
    h = ch1.null_histograms(assoc.nulls, assoc.table, map_key=("clinical MPM", "R1"), draws=(50, 200, 500))
    assert h["draws"] == [50, 200]                                   # only counts available
    width = np.diff(h["x"])[0]
    assert h["gene"].shape == (9, 2, len(h["x"]))
    assert np.allclose(h["gene"].sum(axis=-1) * width, 1, atol=0.05)  # densities
    nulls = ch1.report_nulls(assoc)
    assert "nulls-widget" in nulls.figures and "qmri-interactive" in nulls.figures["nulls-widget"].to_html()


def test_report_table1_and_scorecard(chapter_data):
    assoc = ch1.cell_type_association(chapter_data, n_perm=100, seed=2)
    t1 = ch1.load_published("table1")
    rep = ch1.report_table1(assoc, published=t1)
    shown = rep.tables["table1-clinical"].frame
    assert shown.shape == (36, 5)
    assert shown.loc[("R1", "Endothelial"), "p FDR (poster)"] == "0.2940"      # as printed
    assert not any(code in " ".join(shown.columns) for code in ("p_bh", "p_gene", "r_", "_fdr"))
    card = ch1.report_scorecard(chapter_data, assoc, published_t1=t1,
                                published_betas=ch1.load_published("betas")).data["scorecard"]
    assert len(card) == 4 + 6 + 9 + 72
    assert card.loc[card["quantity"] == "β₀ mean (s⁻¹)", "poster"].item() == "0.2396"
    assert card.loc[card["quantity"] == "MPM resolution (µm)", "ours"].item() == "—"
    assert not card[["poster", "ours"]].apply(lambda c: c.str.contains("nan")).any().any()


def test_real_dk_maps_assembles_the_library_loaders(chapter_data):
    """Moved with real_dk_maps from the library: its NSPN column is the subject mean of
    qmrigenes.mpm.nspn_dk_mt, its clinical columns the ClinicalModel's DK table."""
    maps = chapter_data.maps
    assert maps.shape == (34, 6) and maps.columns.names == ["dataset", "map"]
    np.testing.assert_allclose(mpm.nspn_dk_mt().mean().loc[maps.index], maps[("NSPN", "MTsat")], rtol=1e-12)
    pd.testing.assert_series_equal(maps[("clinical MPM", "R1")], chapter_data.clinical.dk["R1"].loc[maps.index],
                                   check_names=False)
    with pytest.raises(TypeError, match="clinical must be a ClinicalModel"):
        ch1.real_dk_maps(clinical="model")
