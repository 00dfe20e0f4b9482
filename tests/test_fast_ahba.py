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
