"""Tests of qmrigenes.associate and the `qmrigenes associate` command."""
import numpy as np
import pandas as pd
import pytest

from qmrigenes import cli
from qmrigenes.association import associate, permutation_null, read_map, resolve_gene_sets
from qmrigenes.datasets import DK_CORTICAL_REGIONS, load_ahba_dk

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def cortex():
    """AHBA cortical expression, both hemispheres, as (hemisphere, region) rows."""
    return load_ahba_dk().xs("cortex", level="structure")


@pytest.fixture(scope="module")
def left_map(cortex):
    """A smooth real map: the left-hemisphere expression of PVALB (34 DK regions, DK order)."""
    return cortex.xs("L", level="hemisphere")["PVALB"].rename("PVALB").loc[list(DK_CORTICAL_REGIONS)]


def test_same_answer_in_any_region_order_and_label_style(left_map):
    a = associate(left_map, hemisphere="L", n_perm=500, seed=3)
    shuffled = left_map.sample(frac=1, random_state=1)
    shuffled.index = ["lh_" + r for r in shuffled.index]
    b = associate(shuffled, n_perm=500, seed=3)
    pd.testing.assert_series_equal(a["r"], b["r"])
    pd.testing.assert_series_equal(a["p_gene"], b["p_gene"])
    # spins are generated in the map's row order and applied by region name: same p
    pd.testing.assert_series_equal(a["p_spin"], b["p_spin"])


def test_matches_the_book_statistic(left_map, cortex):
    """The call gives the chapters' statistic: mean r and the random-gene p of gene_set_association."""
    from qmrigenes.datasets import celltype_gene_sets, load_celltype_panel
    from qmrigenes.stats.spatial import gene_set_association

    panel = load_celltype_panel()
    expr = cortex.xs("L", level="hemisphere").loc[list(DK_CORTICAL_REGIONS)]
    ref = gene_set_association(expr, left_map.to_frame(), celltype_gene_sets(panel), background=panel.index,
                               n_perm=1000, seed=5)
    ours = associate(left_map, hemisphere="L", nulls=("genes",), n_perm=1000, seed=5).set_index("gene_set")
    np.testing.assert_allclose(ours["r"], ref["r"].to_numpy(), atol=1e-12)
    np.testing.assert_allclose(ours["p_gene"], ref["p_gene"].to_numpy())
    np.testing.assert_allclose(ours["p_gene_fdr"], ref["p_gene_fdr"].to_numpy())
    # and its spins are the chapters' spins: same centroids, same seed
    from qmrigenes.stats.spatial import spin_permutations
    from qmrigenes.surface import sphere_centroids
    from qmrigenes.association import permutation_null, read_map
    book = spin_permutations(sphere_centroids(hemisphere="L"), n_perm=50, seed=2)
    here = permutation_null(read_map(left_map, hemisphere="L").index, kind="spins", n_perm=50, seed=2)
    np.testing.assert_array_equal(book.to_numpy(), here.to_numpy())


def test_table_columns_and_genes_used(left_map):
    t = associate(left_map, hemisphere="L", n_perm=200)
    assert list(t.columns) == ["gene_set", "map", "n_regions", "n_genes", "n_present", "r", "p_gene",
                               "p_gene_fdr", "p_spin", "p_spin_fdr", "genes"]
    assert len(t) == 9 and (t["n_regions"] == 34).all()
    assert (t["genes"].str.split(", ").str.len() == t["n_present"]).all()
    assert t[["p_gene", "p_spin"]].apply(lambda c: c.between(0, 1)).all().all()


def test_both_hemispheres_spin_within_hemisphere(cortex):
    m = cortex["PVALB"].rename("PVALB")
    m.index = [f"{h.lower()}h_{r}" for h, r in m.index]
    index = read_map(m).index
    perms = permutation_null(index, kind="spins", n_perm=100, seed=0).to_numpy()
    hemi = np.asarray(index.get_level_values("hemisphere"))
    assert perms.shape == (100, 68)
    assert (hemi[perms] == hemi[None, :]).all()
    assert all(len(set(row)) == 68 for row in perms)
    t = associate(m, n_perm=200)
    assert (t["n_regions"] == 68).all()


def test_deep_grey_with_label_permutations():
    sub = load_ahba_dk().xs("subcortex", level="structure").xs("L", level="hemisphere")["PVALB"]
    t = associate(sub.rename("x"), sets="iron-myelin", nulls=("genes", "labels"), hemisphere="L", n_perm=300)
    assert list(t["gene_set"]) == ["iron", "myelin"] and (t["n_regions"] == 7).all()
    with pytest.raises(ValueError, match="nulls: spins need DK cortical regions"):
        associate(sub, sets="iron-myelin", hemisphere="L", n_perm=10)


def test_surface_file_is_parcellated(tmp_path, left_map):
    import nibabel as nib

    from qmrigenes.surface import dk_labels, regions_to_vertices

    labels = dk_labels(hemisphere="L")
    vertices = regions_to_vertices(left_map, labels).astype(np.float32)
    vertices[~np.isin(labels, DK_CORTICAL_REGIONS)] = np.nan            # medial wall as NaN
    path = tmp_path / "lh.pvalb.func.gii"
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(vertices)]), path)
    back = read_map(path)
    np.testing.assert_allclose(back.droplevel("hemisphere").loc[list(left_map.index)].iloc[:, 0],
                               left_map.to_numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="hemisphere"):
        nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(vertices)]), tmp_path / "pvalb.gii")
        read_map(tmp_path / "pvalb.gii")


@pytest.mark.parametrize("bad, kwargs, error, match", [
    (np.zeros(34), {}, TypeError, "map"),
    ("nope.csv", {}, FileNotFoundError, "map"),
    ("LEFT", {"n_perm": 1e3}, TypeError, "n_perm"),
    ("LEFT", {"n_perm": 0}, ValueError, "n_perm"),
    ("LEFT", {"n_perm": 10**7}, ValueError, "n_perm"),
    ("LEFT", {"seed": 1.5}, TypeError, "seed"),
    ("LEFT", {"nulls": ("spins", "labels")}, ValueError, "nulls"),
    ("LEFT", {"nulls": ("bootstrap",)}, ValueError, "nulls"),
    ("LEFT", {"sets": "astrocytes"}, ValueError, "sets"),
    ("LEFT", {"sets": {"a": "GFAP"}}, TypeError, "sets"),
    ("LEFT", {"sets": {"a": ["GFAP", "GFAP"]}}, ValueError, "sets"),
    ("LEFT", {"sets": {"a": ["NOT_A_GENE"]}}, ValueError, "sets"),
    ("LEFT", {"method": "nearest"}, ValueError, "method"),
    ("LEFT", {"hemisphere": "left"}, ValueError, "hemisphere"),
    ("NOHEMI", {}, ValueError, "hemisphere"),
    ("NAN", {}, ValueError, "map"),
    ("INF", {}, ValueError, "map"),
    ("CONST", {}, ValueError, "constant"),
    ("UNKNOWN", {}, ValueError, "map"),
    ("DUP", {}, ValueError, "more than once"),
])
def test_bad_inputs_name_the_argument(left_map, bad, kwargs, error, match):
    m = left_map.copy()
    m.index = ["lh_" + r for r in m.index]
    if not isinstance(bad, str):
        pass
    elif bad == "NOHEMI":
        bad = left_map
    elif bad == "NAN":
        bad = m.where(m.index != m.index[3])
    elif bad == "INF":
        bad = m.replace(m.iloc[0], np.inf)
    elif bad == "CONST":
        bad = m * 0 + 1
    elif bad == "UNKNOWN":
        bad = m.rename(index={m.index[0]: "lh_brainstem"})
    elif bad == "DUP":
        bad = m.rename(index={m.index[1]: m.index[0]})
    elif bad == "LEFT":
        bad = m
    with pytest.raises(error, match=match):
        associate(bad, **({"n_perm": 10} | kwargs))


def test_resolve_gene_sets_backgrounds():
    sets, background, _ = resolve_gene_sets("iron-myelin", genes=["A", "B"])
    assert set(sets) == {"iron", "myelin"} and background == ["A", "B"]
    sets, background, _ = resolve_gene_sets("celltypes", genes=["A"])
    assert len(sets) == 9 and len(background) == 2511


def test_command_writes_csv_and_prints_summary(tmp_path, left_map, capsys):
    src = tmp_path / "map.csv"
    left_map.rename(lambda r: "lh_" + r).to_csv(src)
    out = tmp_path / "results.csv"
    assert cli.main(["associate", str(src), "--n-perm", "300", "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    assert len(table) == 9 and "p_spin_fdr" in table
    printed = capsys.readouterr().out
    assert "9 gene sets x 1 maps" in printed and f"wrote {out}" in printed
    assert cli.main(["associate", str(tmp_path / "missing.csv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such file" in err


def test_top_level_call_stays_a_function(left_map):
    import qmrigenes

    first = qmrigenes.associate(left_map, hemisphere="L", nulls=("genes",), n_perm=50)
    assert callable(qmrigenes.associate) and len(first) == 9
    assert len(qmrigenes.associate(left_map, hemisphere="L", nulls=("genes",), n_perm=50)) == 9


@pytest.mark.parametrize("method", ["hungarian", "vasa"])
def test_spins_are_neuromaps_spins_without_the_quadratic_check(method):
    """Same rotations, same reassignment, same duplicate rule: the spins equal neuromaps' draw for draw."""
    from neuromaps.nulls.spins import gen_spinsamples

    from qmrigenes.stats.spatial import spin_permutations
    from qmrigenes.surface import sphere_centroids

    cents = pd.concat([sphere_centroids(hemisphere="L").rename(lambda r: "L_" + r),
                       sphere_centroids(hemisphere="R").rename(lambda r: "R_" + r)])
    hemi = np.r_[np.zeros(34, int), np.ones(34, int)]
    ours = spin_permutations(cents, hemiid=hemi, n_perm=150, seed=11, method=method).to_numpy()
    ref = gen_spinsamples(cents.to_numpy(), hemi, n_rotate=150, seed=11, method=method).T
    np.testing.assert_array_equal(ours, ref)
    assert len({row.tobytes() for row in ours}) == 150                    # no duplicate spin


def test_nested_gene_null_has_the_per_size_distribution():
    """One ordered draw shared by every size gives each size the distribution of its own draw."""
    from qmrigenes.stats.genesets import random_gene_set_null

    rng = np.random.default_rng(3)
    corr = pd.DataFrame(rng.uniform(-1, 1, (300, 1)), index=[f"G{i}" for i in range(300)])
    sizes = {"a": 5, "b": 40, "c": 150}
    per = random_gene_set_null(corr, sizes, n_perm=6000, seed=1, method="per-size")
    nest = random_gene_set_null(corr, sizes, n_perm=6000, seed=2, method="nested")
    exact_mean = corr.to_numpy().mean()
    for j, k in enumerate(sizes.values()):
        fpc = (300 - k) / (300 - 1)                                          # sampling without replacement
        exact_sd = corr.to_numpy().std() * np.sqrt(fpc / k)
        for null in (per, nest):
            assert abs(null[:, j, 0].mean() - exact_mean) < 4 * exact_sd / np.sqrt(6000)
            assert abs(null[:, j, 0].std() / exact_sd - 1) < 0.06
    same = random_gene_set_null(corr, {"x": 40, "y": 40}, n_perm=100, seed=0)
    np.testing.assert_array_equal(same[:, 0], same[:, 1])                   # one draw per size, shared


# ---- issue #19: rough edges
def test_help_shows_the_real_signature():
    import inspect

    import qmrigenes

    sig = inspect.signature(qmrigenes.associate)
    assert "n_perm" in sig.parameters and "return_details" in sig.parameters
    assert qmrigenes.associate.__doc__.startswith("Associate a regional brain map")


def test_command_help_names_the_environment_and_the_seed(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    top = capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["associate", "--help"])
    sub = capsys.readouterr().out
    for text in (top, sub):
        assert "QMRIGENES_DATA" in text and "QMRIGENES_MIRROR" in text
    assert "seed of every null, 0 to 2**32-1" in sub and "--force" in sub


def test_library_dependencies_leave_the_book_tools_to_an_extra():
    import tomllib
    from pathlib import Path

    meta = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["project"]
    core = {d.split("[")[0].split("=")[0].strip().lower() for d in meta["dependencies"]}
    book = {d.lower() for d in meta["optional-dependencies"]["book"]}
    assert not core & {"scikit-image", "jupyter-book", "myst-nb", "jupyterlab"}
    assert "seaborn" in core                     # the heat maps of qmrigenes.figures draw with it
    assert {"scikit-image", "jupyter-book"} <= book


def test_library_imports_without_the_book_extra():
    import subprocess
    import sys

    code = ("import sys; sys.modules['seaborn'] = None; sys.modules['skimage'] = None; "
            "import qmrigenes, qmrigenes.association, qmrigenes.cli, qmrigenes.figures, "
            "qmrigenes.qsm, qmrigenes.relaxometry, qmrigenes.surface; print(qmrigenes.associate.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "associate", out.stderr


def test_gmt_sets_through_the_call_and_the_command(tmp_path, left_map, capsys):
    from qmrigenes.association import read_gmt

    gmt = tmp_path / "lib.gmt"
    gmt.write_text("IRONISH\thttp://x\tFTL\tFTH1\tTF\t\nMYELINISH\tdesc\tMBP\tPLP1\tMOG\tMAG\tMBP\n")
    assert read_gmt(gmt) == {"IRONISH": ["FTL", "FTH1", "TF"], "MYELINISH": ["MBP", "PLP1", "MOG", "MAG"]}
    t = associate(left_map, hemisphere="L", sets=str(gmt), nulls=("genes",), n_perm=50, progress=False)
    assert list(t["gene_set"]) == ["IRONISH", "MYELINISH"]
    src = tmp_path / "m.csv"
    left_map.rename(lambda r: "lh_" + r).to_csv(src)
    assert cli.main(["associate", str(src), "--sets", str(gmt), "--n-perm", "50", "--nulls", "genes",
                     "--out", str(tmp_path / "o.csv"), "--quiet"]) == 0
    assert pd.read_csv(tmp_path / "o.csv")["gene_set"].tolist() == ["IRONISH", "MYELINISH"]


def test_conte69_surface_file_is_parcellated(tmp_path, left_map):
    import nibabel as nib

    from qmrigenes.surface import dk_labels, regions_to_vertices

    labels = dk_labels(hemisphere="L", surface="conte69")
    vertices = regions_to_vertices(left_map, labels)
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(vertices.astype(np.float32))]),
             tmp_path / "lh.pvalb.32k_fs_LR.func.gii")
    maps = read_map(tmp_path / "lh.pvalb.32k_fs_LR.func.gii")
    assert "32,492 vertices (conte69)" in maps.attrs["source"]
    np.testing.assert_allclose(maps.droplevel("hemisphere").loc[list(left_map.index)].iloc[:, 0],
                               left_map.to_numpy(), rtol=1e-6)


def test_details_give_per_gene_results_a_plot_and_a_methods_paragraph(left_map):
    import matplotlib

    from qmrigenes.figures import plot_association

    table, details = associate(left_map, hemisphere="L", n_perm=200, seed=4, return_details=True, progress=False)
    pg = details.per_gene
    assert {"gene", "map", "r", "p_spin", "p_spin_fdr"} <= set(pg.columns)
    used = {g for s in table["genes"] for g in s.split(", ")}
    assert set(pg["gene"]) == used and pg["p_spin"].between(0, 1).all()
    # per-gene r is the correlation the set score averages
    ast = table.set_index("gene_set").loc["Astrocyte"]
    genes = ast["genes"].split(", ")
    assert np.isclose(pg.set_index("gene").loc[genes, "r"].mean(), ast["r"])
    assert "200 parcel spins" in details.methods and "seed 0" not in details.methods and "seed 4" in details.methods
    assert "Hawrylycz" in details.methods and "neuromaps" in details.methods
    fig = plot_association(details)
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 1 + len(table)
    narrow = plot_association(details, ncols=2)               # the book's column-width variant
    assert narrow.get_figwidth() < fig.get_figwidth() and len(narrow.axes) == len(fig.axes)
    with pytest.raises(ValueError, match="ncols"):
        plot_association(details, ncols=0)


def test_progress_counter_shows_only_long_steps(capsys):
    from qmrigenes.association import _Progress

    quick = _Progress("spins", True, after=60.0)
    quick(5, 10)
    quick(10, 10)
    assert capsys.readouterr().err == ""                      # a step under the threshold prints nothing
    slow = _Progress("spins", True, after=0.0)
    slow(5, 10)
    slow(10, 10)
    err = capsys.readouterr().err
    assert "spins: 5/10" in err and "spins: 10/10" in err and err.endswith("\n")
    off = _Progress("spins", False, after=0.0)
    off(10, 10)
    assert capsys.readouterr().err == ""
