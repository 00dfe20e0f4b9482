import numpy as np
import pandas as pd
import pytest
from scipy import stats

from qmrigenes.stats import genesets as gs


@pytest.fixture
def toy_maps(toy_expression, rng):
    return pd.DataFrame(rng.normal(size=(12, 2)), index=toy_expression.index, columns=["m1", "m2"])


def test_correlations_match_scipy(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps)
    assert r.shape == (40, 2)
    expected = stats.pearsonr(toy_expression["G007"], toy_maps["m2"]).statistic
    assert r.loc["G007", "m2"] == pytest.approx(expected, abs=1e-12)


def test_correlations_align_region_order(toy_expression, toy_maps):
    shuffled = toy_maps.iloc[::-1]
    pd.testing.assert_frame_equal(gs.gene_map_correlations(toy_expression, toy_maps),
                                  gs.gene_map_correlations(toy_expression, shuffled))


def test_correlations_accept_series(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps["m1"])
    assert list(r.columns) == ["m1"]


@pytest.mark.parametrize("problem", ["nan", "regions", "duplicate_gene"])
def test_correlations_reject_bad_input(toy_expression, toy_maps, problem):
    if problem == "nan":
        toy_maps.iloc[3, 0] = np.nan
        match = "NaN"
    elif problem == "regions":
        toy_maps = toy_maps.rename(index={"region00": "not_a_region"})
        match = "different regions"
    else:
        toy_expression = toy_expression.rename(columns={"G001": "G000"})
        match = "duplicated gene"
    with pytest.raises(ValueError, match=match):
        gs.gene_map_correlations(toy_expression, toy_maps)


def test_scores_are_set_means_and_report_missing(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps)
    sets = {"a": ["G000", "G001", "G002"], "b": ["G010", "NOTAGENE"]}
    scores = gs.gene_set_scores(r, sets)
    assert scores.loc["a", "m1"] == pytest.approx(r.loc[["G000", "G001", "G002"], "m1"].mean())
    assert scores.loc["b", "m2"] == pytest.approx(r.loc["G010", "m2"])
    present = gs.genes_present(sets, toy_expression.columns)
    assert present.loc["b", "n_present"] == 1 and present.loc["b", "missing"] == "NOTAGENE"


def test_empty_gene_set_is_an_error(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps)
    with pytest.raises(ValueError, match="no gene present"):
        gs.gene_set_scores(r, {"empty": ["X1", "X2"]})


def test_random_null_shape_seed_and_background(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps)
    background = [f"G{i:03d}" for i in range(20)]
    null = gs.random_gene_set_null(r, {"a": 3, "b": 5}, background=background, n_perm=500, seed=7)
    assert null.shape == (500, 2, 2)
    again = gs.random_gene_set_null(r, {"a": 3, "b": 5}, background=background, n_perm=500, seed=7)
    np.testing.assert_array_equal(null, again)
    # a size-1 null can only take values of background genes
    single = gs.random_gene_set_null(r, [1], background=background, n_perm=300, seed=1)
    assert np.isin(single[:, 0, 0], r.loc[background, "m1"].to_numpy()).all()
    # drawing the whole background without replacement always gives its mean
    whole = gs.random_gene_set_null(r, [20], background=background, n_perm=10, seed=1)
    np.testing.assert_allclose(whole[:, 0, 1], r.loc[background, "m2"].mean())


def test_random_null_matches_naive_sampling_distribution(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps)
    fast = gs.random_gene_set_null(r, [5], n_perm=20000, seed=3)[:, 0, 0]
    rng = np.random.default_rng(4)
    naive = np.array([r["m1"].to_numpy()[rng.choice(40, 5, replace=False)].mean() for _ in range(20000)])
    assert fast.mean() == pytest.approx(naive.mean(), abs=0.01)
    assert fast.std() == pytest.approx(naive.std(), rel=0.05)


def test_random_null_rejects_oversized_sets(toy_expression, toy_maps):
    r = gs.gene_map_correlations(toy_expression, toy_maps)
    with pytest.raises(ValueError, match="cannot draw"):
        gs.random_gene_set_null(r, [41], n_perm=10)


def test_null_pvalues_two_sided():
    null = np.linspace(-1, 1, 999)[:, None]
    p = gs.null_pvalues([0.0, 0.999, -2.0], np.repeat(null, 3, axis=1))
    assert p[0] == pytest.approx(1.0)
    assert p[1] == pytest.approx(2 * 2 / 1000)
    assert p[2] == pytest.approx(2 / 1000)
    with pytest.raises(ValueError, match="shape"):
        gs.null_pvalues([0.0, 1.0], null)


# (50, 10): Floyd's columns; (30, 20) and (400, 41): the k smallest of n uniform keys
# (k * k > 4 * n), the last just past that switch as a genome-sized (2511, 103) is, at a sixth of
# its cost (6000 x n keys drawn)
@pytest.mark.parametrize("n, k", [(50, 10), (30, 20), (400, 41)])
def test_sample_subsets_distinct_and_uniform(rng, n, k):
    idx = gs._sample_subsets(rng, n, k, 6000)
    assert idx.shape == (6000, k)
    assert (np.diff(np.sort(idx, axis=1), axis=1) > 0).all()      # no repeats within a draw
    assert idx.min() >= 0 and idx.max() < n
    counts = np.bincount(idx.ravel(), minlength=n)
    expected = 6000 * k / n
    # every element equally likely: counts within 6 binomial SDs of the expectation
    assert np.abs(counts - expected).max() < 6 * np.sqrt(expected * (1 - k / n))
    with pytest.raises(ValueError, match="cannot draw"):
        gs._sample_subsets(rng, 5, 6, 10)


def test_null_pvalues_counts_rounding_ties_in_both_tails():
    """A permutation that reproduces the observed arrangement is a tie, whatever the rounding."""
    observed = 0.1 + 0.2                      # 0.30000000000000004
    null = np.array([0.3] + [0.0] * 8)        # the identity permutation, computed another way
    # without the tolerance k_hi would be 0 and p = 2/10; the tie makes it 2 * (1 + 1) / 10
    assert gs.null_pvalues(observed, null)[()] == pytest.approx(0.4)
    assert gs.null_pvalues(0.31, null)[()] == pytest.approx(0.2)     # a real difference is not a tie
