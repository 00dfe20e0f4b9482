"""Tests of qmrigenes.stats.spatial: spins, spin-null scores, Table 1 assembly."""
import numpy as np
import pandas as pd
import pytest

from qmrigenes.datasets import DK_CORTICAL_REGIONS
from qmrigenes.stats import spatial
from qmrigenes.stats.multitest import fdr_by_column
from qmrigenes.surface import parcel_centroids, sphere_centroids
from qmrigenes.stats.genesets import gene_map_correlations, gene_set_scores


@pytest.fixture
def toy_maps(toy_expression, rng):
    return pd.DataFrame({"m1": rng.normal(size=12), "m2": rng.normal(size=12)}, index=toy_expression.index)


@pytest.fixture
def toy_sets(toy_expression):
    g = list(toy_expression.columns)
    return {"A": g[:5], "B": g[5:12] + ["ABSENT1"], "C": g[12:20]}


CENTS = None


@pytest.fixture(autouse=True, scope="module")
def _dk_centroids():
    """Centroids of the 34 left DK regions on the fsaverage5 sphere (real atlas)."""
    global CENTS
    CENTS = sphere_centroids(hemisphere="L")
    yield


def test_spin_permutations_are_seeded_permutations():
    a = spatial.spin_permutations(CENTS, n_perm=50, seed=3)
    b = spatial.spin_permutations(CENTS, n_perm=50, seed=3)
    assert a.shape == (50, 34)
    assert list(a.columns) == list(DK_CORTICAL_REGIONS)        # spins carry their region order
    np.testing.assert_array_equal(a, b)
    assert (np.sort(a, axis=1) == np.arange(34)).all()            # each spin is a permutation
    assert (a != np.arange(34)).any(axis=1).mean() > 0.9           # and they move regions
    with pytest.raises(ValueError, match="method"):
        spatial.spin_permutations(CENTS, n_perm=5, method="nope")


def test_parcel_centroids_region_not_in_atlas(icosphere):
    labels = np.array(["a"] * 100 + ["b"] * 62)
    cents = parcel_centroids(icosphere[0], labels, regions=["a", "b"])
    assert cents.shape == (2, 3)
    np.testing.assert_allclose(np.linalg.norm(cents, axis=1), 1.0)
    with pytest.raises(ValueError, match="not in the atlas"):
        parcel_centroids(icosphere[0], labels, regions=["a", "zz"])


def _perms(array, regions):
    return pd.DataFrame(np.asarray(array), columns=pd.Index(regions, name="region"))


def test_spin_null_scores_match_direct_computation(toy_expression, toy_maps, toy_sets, rng):
    perms = _perms([rng.permutation(12) for _ in range(5)], toy_expression.index)
    null = spatial.spin_null_scores(toy_expression, toy_maps, toy_sets, perms)
    assert null.shape == (5, 3, 2)
    for k in range(5):
        spun = pd.DataFrame(toy_maps.to_numpy()[perms.to_numpy()[k]], index=toy_maps.index,
                            columns=toy_maps.columns)
        direct = gene_set_scores(gene_map_correlations(toy_expression, spun), toy_sets)
        np.testing.assert_allclose(null[k], direct.to_numpy(), atol=1e-12)


def test_spin_null_scores_align_tables_by_region_name(toy_expression, toy_maps, toy_sets, rng):
    perms = _perms([rng.permutation(12) for _ in range(20)], toy_expression.index)
    ref = spatial.spin_null_scores(toy_expression, toy_maps, toy_sets, perms)
    alpha = spatial.spin_null_scores(toy_expression.sort_index(ascending=False),
                                     toy_maps.sample(frac=1, random_state=0), toy_sets, perms)
    np.testing.assert_allclose(alpha, ref, atol=1e-12)


def test_spin_null_errors(toy_expression, toy_maps, toy_sets):
    perms = _perms(np.tile(np.arange(12), (3, 1)), toy_expression.index)
    with pytest.raises(TypeError, match="perms must be a DataFrame.*region order"):
        spatial.spin_null_scores(toy_expression, toy_maps, toy_sets, perms.to_numpy())
    with pytest.raises(ValueError, match="maps and perms .spin regions. must have the same region names"
                       ".*centroids indexed like maps.index"):
        spatial.spin_null_scores(toy_expression, toy_maps, toy_sets, perms.iloc[:, :5])
    with pytest.raises(ValueError, match="perms must hold positions 0..11"):
        spatial.spin_null_scores(toy_expression, toy_maps, toy_sets, perms + 1)
    with pytest.raises(ValueError, match="no gene present"):
        spatial.spin_null_scores(toy_expression, toy_maps, {"X": ["NOPE"]}, perms)
    nan = toy_maps.copy()
    nan.iloc[2, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        spatial.spin_null_scores(toy_expression, nan, toy_sets, perms)


def test_gene_set_association_table(toy_expression, toy_maps, toy_sets, rng):
    perms = _perms([rng.permutation(12) for _ in range(200)], toy_expression.index)
    kw = dict(background=toy_expression.columns, perms=perms, n_perm=500, seed=1)
    table, nulls = spatial.gene_set_association(toy_expression, toy_maps, toy_sets, return_nulls=True, **kw)
    again = spatial.gene_set_association(toy_expression, toy_maps, toy_sets, **kw)
    pd.testing.assert_frame_equal(table, again)                      # fixed seeds: identical tables
    assert table.shape == (6, 7)
    assert table.loc[("B", "m1"), "n_present"] == 7 and table.loc[("B", "m1"), "n_genes"] == 8
    assert ((table[["p_gene", "p_spin"]] > 0) & (table[["p_gene", "p_spin"]] <= 1)).all().all()
    assert (table["p_gene_fdr"] >= table["p_gene"] - 1e-12).all()
    assert nulls["gene"].shape == (500, 3, 2) and nulls["spin"].shape == (200, 3, 2)


def test_gene_set_association_bad_inputs(toy_expression, toy_maps, toy_sets):
    dup = pd.concat([toy_expression, toy_expression.iloc[:, :1]], axis=1)
    with pytest.raises(ValueError, match="duplicated gene"):
        spatial.gene_set_association(dup, toy_maps, toy_sets, background=dup.columns, n_perm=10)
    with pytest.raises(ValueError, match="no gene present"):
        spatial.gene_set_association(toy_expression, toy_maps, {"X": ["NOPE"]},
                                     background=toy_expression.columns, n_perm=10)
    other = toy_maps.rename(index={toy_maps.index[0]: "not_a_region"})
    with pytest.raises(ValueError):
        spatial.gene_set_association(toy_expression, other, toy_sets, background=toy_expression.columns, n_perm=10)


def test_fdr_by_column_is_bh_per_column():
    p = pd.DataFrame({"a": [0.01, 0.02, 0.03, 0.5], "b": [0.04, 0.04, 0.04, 0.04]})
    out = fdr_by_column(p)
    np.testing.assert_allclose(out["a"], [0.04, 0.04, 0.04, 0.5])
    np.testing.assert_allclose(out["b"], [0.04] * 4)
