"""Unit tests of the private validation helpers."""
import warnings

import numpy as np
import pandas as pd
import pytest

from qmrigenes import _validate as v


@pytest.mark.parametrize("bad, match", [
    ([1.0, np.nan], r"x must be finite, got 1 non-finite value\(s\) \(1 NaN"),
    ([1.0, np.inf], r"x must be finite, got 1 non-finite value\(s\) \(1 infinite"),
    ([-np.inf, 2.0], "first at index 0"),
])
def test_as_array_nonfinite(bad, match):
    with pytest.raises(ValueError, match=match):
        v.as_array(bad, "x")


def test_as_array_allow_nan_still_refuses_inf():
    assert np.isnan(v.as_array([1.0, np.nan], "x", allow_nan=True)[1])
    with pytest.raises(ValueError, match="x must be finite"):
        v.as_array([np.nan, np.inf], "x", allow_nan=True)


def test_check_finite_fast_path_keeps_the_full_check():
    """A finite sum skips the element-wise check; NaN or inf anywhere makes the sum non-finite, and
    finite values whose sum overflows fall through to the full check (and pass)."""
    big = np.full((4, 5, 6), 1e308)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                           # no RuntimeWarning from the fast sum
        v.check_finite(big, "x")                                 # the sum overflows: still finite
        v.check_finite(big.astype(np.complex128), "x")
        x = np.zeros(7)
        x[[1, 4]] = (np.inf, -np.inf)
        with pytest.raises(ValueError):
            v.check_finite(x, "x")
    for bad in (np.nan, np.inf, -np.inf):
        for dtype in (np.float32, np.float64, np.complex64):
            x = np.zeros((4, 5, 6), dtype)
            x[3, 2, 1] = bad
            with pytest.raises(ValueError, match=r"first at index \(3, 2, 1\)"):
                v.check_finite(x, "x")
    x = np.zeros(7)
    x[[1, 4]] = (np.inf, -np.inf)                                # inf - inf: the sum is NaN
    with pytest.raises(ValueError, match="2 infinite"):
        v.check_finite(x, "x", allow_nan=True)


def test_as_array_refuses_2d_for_1d():
    with pytest.raises(ValueError, match=r"x must be 1-D, got a 2-D array of shape \(2, 3\)"):
        v.as_array(np.zeros((2, 3)), "x", ndim=1)


def test_as_array_shape():
    assert v.as_array(np.zeros((4, 3)), "x", shape=(None, 3)).shape == (4, 3)
    with pytest.raises(ValueError, match=r"x must have shape \(any, 3\), got \(4, 2\)"):
        v.as_array(np.zeros((4, 2)), "x", shape=(None, 3))


@pytest.mark.parametrize("bad", ["abc", None, [True, False], ["a", "b"],
                                 [[1, 2], [3]], [1 + 2j]])
def test_as_array_type(bad):
    with pytest.raises(TypeError, match="x must"):
        v.as_array(bad, "x")


def test_as_array_numeric_strings_and_empty():
    with pytest.raises(TypeError, match="x must be numeric, got dtype <U1"):
        v.as_array(np.array(["1", "2"]), "x")
    with pytest.raises(TypeError, match="x must be numeric, got non-numeric entries such as '2'"):
        v.as_array(pd.Series([1.0, "2"]), "x")
    assert np.isnan(v.as_array(pd.Series([1.0, None], dtype=object), "x", allow_nan=True)[1])
    with pytest.raises(TypeError, match="flag must be True or False, got str 'no'"):
        v.check_bool("no", "flag")
    assert v.check_bool(np.True_, "flag") is True
    with pytest.raises(ValueError, match="x must have at least 1"):
        v.as_array([], "x")


@pytest.mark.parametrize("bad, exc, match", [
    (1e3, TypeError, r"n_perm must be an integer, got float 1000.0 \(write n_perm=1000\)"),
    (True, TypeError, "n_perm must be an integer, got bool"),
    ("10", TypeError, "n_perm must be an integer, got str"),
    (None, TypeError, "n_perm must be an integer"),
    (0, ValueError, "n_perm must be >= 1, got 0"),
    (10**9, ValueError, "n_perm must be <= 100000"),
])
def test_check_int(bad, exc, match):
    with pytest.raises(exc, match=match):
        v.check_int(bad, "n_perm", min=1, max=100_000)


def test_check_int_accepts_numpy_int():
    assert v.check_int(np.int64(5), "n", min=1) == 5


@pytest.mark.parametrize("bad, exc, match", [
    ("6", TypeError, "fwhm must be a real number in mm, got str '6'"),
    (True, TypeError, "fwhm must be a real number"),
    (None, TypeError, "fwhm must be a real number"),
    (np.nan, ValueError, "fwhm must be finite"),
    (np.inf, ValueError, "fwhm must be finite"),
    (6000, ValueError, "fwhm must be <= 100 mm, got 6000 mm"),
    (0, ValueError, "fwhm must be > 0 mm, got 0 mm"),
])
def test_check_scalar(bad, exc, match):
    with pytest.raises(exc, match=match):
        v.check_scalar(bad, "fwhm", min=0, min_inclusive=False, max=100, unit="mm")


def test_check_scalar_accepts_numpy_and_0d():
    assert v.check_scalar(np.float32(2.5), "x") == 2.5
    assert v.check_scalar(np.array(3), "x") == 3.0


def test_check_choice():
    assert v.check_choice("a", "method", ["a", "b"]) == "a"
    with pytest.raises(ValueError, match="method must be one of 'a', 'b', got str 'c'"):
        v.check_choice("c", "method", ["a", "b"])
    with pytest.raises(ValueError, match="method must be one of"):
        v.check_choice(["a"], "method", ["a", "b"])


def test_check_seed():
    assert isinstance(v.check_seed(None), np.random.Generator)
    g = np.random.default_rng(0)
    assert v.check_seed(g) is g
    a = v.check_seed(3).random()
    assert a == np.random.default_rng(3).random()
    for bad in (1.5, "1", True, [1]):
        with pytest.raises(TypeError, match="seed must be None"):
            v.check_seed(bad)
    with pytest.raises(ValueError, match="seed must be a non-negative"):
        v.check_seed(-1)


def test_check_unique():
    v.check_unique(["a", "b"], "labels")
    with pytest.raises(ValueError, match="labels must be unique, got 1 duplicated: 'a'"):
        v.check_unique(["a", "b", "a"], "labels")


def test_align_index_reorders_same_set():
    s = pd.Series([1.0, 2.0, 3.0], index=["c", "a", "b"])
    out = v.align_index(["a", "b", "c"], s, "expression")
    assert out.index.tolist() == ["a", "b", "c"]
    assert out.tolist() == [2.0, 3.0, 1.0]
    df = pd.DataFrame([[1, 2]], columns=["y", "x"])
    assert v.align_index(["x", "y"], df, "t", axis=1).columns.tolist() == ["x", "y"]


def test_align_index_refuses_different_sets():
    s = pd.Series([1.0, 2.0], index=["a", "z"])
    with pytest.raises(ValueError, match=r"expression and the map must have the same "
                       r"region names, missing from expression: 'b'; not in the map: 'z'"
                       r".*Align them first"):
        v.align_index(["a", "b"], s, "expression")
    with pytest.raises(ValueError, match="expression region names must be unique"):
        v.align_index(["a", "b"], pd.Series([1, 2, 3], index=["a", "b", "b"]), "expression")


@pytest.mark.parametrize("bad, exc, match", [
    ("GENE", TypeError, "gene_sets must be a mapping.*bare string"),
    ([["A", "B"], ["C"]], TypeError, "gene_sets must be a mapping.*list of lists"),
    ({"s": "ABC"}, TypeError, r"gene_sets\['s'\] must be a list of gene symbols, got a bare string"),
    ({"s": ["A", "A", "B"]}, ValueError, r"gene_sets\['s'\] \(gene symbols\) must be unique.*'A'"),
    ({"s": []}, ValueError, r"gene_sets\['s'\] is empty"),
    ({"s": ["A", 3]}, TypeError, r"gene_sets\['s'\] must contain gene symbols"),
    ({}, ValueError, "gene_sets is empty"),
    ({1: ["A"]}, TypeError, "gene_sets keys must be set names"),
])
def test_check_gene_sets(bad, exc, match):
    with pytest.raises(exc, match=match):
        v.check_gene_sets(bad)


def test_check_gene_sets_ok():
    out = v.check_gene_sets(pd.Series({"s": ("A", "B")}))
    assert out == {"s": ["A", "B"]}


def test_check_not_constant():
    v.check_not_constant([1.0, 2.0, np.nan], "y")
    for bad in ([3.0, 3.0, 3.0], [1.0, np.nan], []):
        with pytest.raises(ValueError, match="y is constant"):
            v.check_not_constant(bad, "y")


def test_check_frame():
    with pytest.raises(TypeError, match="table must be a pandas DataFrame indexed by region"):
        v.check_frame(np.zeros(3), "table")
    with pytest.raises(ValueError, match=r"table.index \(region names\) must be unique"):
        v.check_frame(pd.DataFrame({"a": [1, 2]}, index=["r", "r"]), "table")
