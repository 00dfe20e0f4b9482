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
