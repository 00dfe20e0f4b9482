"""ahba._sample_mask (plain string tests) answers as pandas' str methods did (issue #22)."""
import numpy as np
import pandas as pd
import pytest

from qmrigenes import ahba


def _pandas_mask(names, pattern, method):
    if method == "exact":
        return (names == pattern).to_numpy()
    if method == "prefix":
        return ((names == pattern) | names.str.startswith(pattern + ",")).to_numpy()
    return names.str.contains(pattern, regex=False).to_numpy()


@pytest.mark.parametrize("method", ["exact", "prefix", "published"])
def test_sample_mask_equals_pandas_string_methods(method):
    names = pd.Series(["caudate nucleus", "caudate nucleus, left", "caudate nucleus left", "", "lateral nucleus",
                       "basolateral nucleus", "lateral nucleus, left, ventral division", "Caudate nucleus",
                       "putamen, right", "putamen"])
    for pattern in ("caudate nucleus", "lateral nucleus", "putamen", "nucleus", "", "absent"):
        got = ahba._sample_mask(names, pattern, method)
        assert got.dtype == bool and got.shape == (len(names),)
        np.testing.assert_array_equal(got, _pandas_mask(names, pattern, method))


@pytest.mark.parametrize("method", ["exact", "prefix", "published"])
def test_roi_sampling_counts_equal_per_sample_tests(rng, method):
    table = ahba.roi_structure_table()
    patterns = sorted({p for ps in ahba._roi_patterns(table, "prefix").values() for p in ps})
    pool = patterns + [p + ", left" for p in patterns[:5]] + [p + " left" for p in patterns[5:8]] + ["white matter", ""]
    annotations = pd.DataFrame({"donor": rng.choice(["d1", "d2", "d3"], size=600),
                                "structure_name": rng.choice(pool, size=600)})
    got = ahba.roi_sampling(annotations, table=table, method=method)
    rows = []                                                      # the plain path: every sample tested
    for donor, annot in annotations.groupby("donor", sort=True):
        names = annot["structure_name"].astype(str).reset_index(drop=True)
        for roi, pats in ahba._roi_patterns(table, method).items():
            for pat in pats:
                n = int(_pandas_mask(names, pat, method).sum())
                if n:
                    rows.append({"donor": donor, "roi": roi, "structure": pat, "n_samples": n})
    assert len(rows) > 20
    pd.testing.assert_frame_equal(got, pd.DataFrame(rows))


def _layout_pandas(sd):
    """The per-donor layout as simulate_roi_expression built it with pandas groupby (the plain path)."""
    droi = pd.Index(pd.unique(sd["roi"]))
    first = sd.groupby("structure", sort=False).first()
    structs = first.index
    weights = np.zeros((len(structs), len(droi)))
    for roi, g in sd.groupby("roi", sort=False):
        weights[structs.get_indexer(g["structure"]), droi.get_loc(roi)] = 1.0 / len(g)
    return droi, structs, droi.get_indexer(first["roi"]), first["n_samples"].to_numpy(), weights


def test_donor_layout_equals_pandas_groupby(rng):
    rois = [f"R{i}" for i in range(9)]
    structures = [f"s{i}" for i in range(14)]
    rows = []
    for roi in rng.permutation(rois):
        for st in rng.choice(structures, size=rng.integers(1, 4), replace=False):   # structures shared by ROIs
            rows.append({"donor": "d1", "roi": roi, "structure": st, "n_samples": int(rng.integers(1, 9))})
    sd = pd.DataFrame(rows)
    assert sd["structure"].duplicated().any()
    got, expected = ahba._donor_layout(sd), _layout_pandas(sd)
    pd.testing.assert_index_equal(got[0], expected[0])
    pd.testing.assert_index_equal(got[1], expected[1], check_names=False)
    for a, b in zip(got[2:], expected[2:]):
        np.testing.assert_array_equal(a, b)


def test_simulated_design_unchanged_on_real_sampling_layout(rng):
    table = ahba.roi_structure_table()
    patterns = sorted({p for ps in ahba._roi_patterns(table, "prefix").values() for p in ps})
    annotations = pd.DataFrame({"donor": rng.choice(["d1", "d2"], size=400),
                                "structure_name": rng.choice(patterns, size=400)})
    sampling = ahba.roi_sampling(annotations, table=table)
    for _, sd in sampling.groupby("donor"):
        got, expected = ahba._donor_layout(sd), _layout_pandas(sd)
        for a, b in zip(got[2:], expected[2:]):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", ["exact", "prefix", "published"])
def test_sample_matcher_equals_per_sample_masks(rng, method):
    """The matcher tests each distinct name once and gives every sample its name's answer."""
    table = ahba.roi_structure_table()
    patterns = sorted({p for ps in ahba._roi_patterns(table, method).values() for p in ps})
    pool = patterns[:12] + [p + ", left, ventral division" for p in patterns[:4]] + ["white matter", ""]
    names = pd.Series(rng.choice(pool, size=300), index=rng.permutation(300))    # any index
    match = ahba._sample_matcher(names, method)
    for pattern in patterns + ["nucleus", "absent"]:
        np.testing.assert_array_equal(match(pattern), _pandas_mask(names.reset_index(drop=True), pattern, method))

