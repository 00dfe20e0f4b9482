"""Slow derivations of registered files are built once, then read from the data cache (issue #22):
fetch.cached_derived, the head phantom's label grid and the AHBA annotation spreadsheets."""
import inspect
import os

import numpy as np
import pandas as pd
import pytest

from qmrigenes import datasets, fetch, phantom


def test_cached_derived_builds_once_keys_on_its_parts_and_rebuilds_damage(tmp_path):
    calls = []

    def build():
        calls.append(1)
        return {"a": np.arange(5.0), "n": len(calls)}

    first = fetch.cached_derived("thing", ["x", "1"], build, cache=tmp_path)
    again = fetch.cached_derived("thing", ["x", "1"], build, cache=tmp_path)
    assert len(calls) == 1 and again["n"] == 1
    np.testing.assert_array_equal(again["a"], first["a"])
    other = fetch.cached_derived("thing", ["x", "2"], build, cache=tmp_path)      # another key
    assert len(calls) == 2 and other["n"] == 2
    stored = sorted((tmp_path / "derived").glob("thing-*.pkl"))
    assert len(stored) == 2
    for path in stored:
        path.write_bytes(b"truncated")                                          # damaged: rebuilt
    assert fetch.cached_derived("thing", ["x", "1"], build, cache=tmp_path)["n"] == 3
    assert not list((tmp_path / "derived").glob(".*part*"))                    # no partial file left


def test_cached_derived_in_an_unwritable_cache_still_returns_the_value(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise PermissionError("read-only")

    monkeypatch.setattr(fetch.os, "replace", refuse)
    assert fetch.cached_derived("thing", ["x"], lambda: 41 + 1, cache=tmp_path) == 42
    assert not list((tmp_path / "derived").glob("thing-*.pkl"))


def assert_same_table(got, expected):
    """``got`` equals ``expected`` exactly: index and columns (values, dtype, names), the dtype of
    every column and every value, bit for bit (NaN equal to NaN). Stricter than
    ``pd.testing.assert_frame_equal`` (which compares floats to rtol 1e-5) and, on these
    15,633-column tables, 0.5 s of CPU faster per call (no per-column Series)."""
    pd.testing.assert_index_equal(got.index, expected.index, exact=True)
    pd.testing.assert_index_equal(got.columns, expected.columns, exact=True)
    pd.testing.assert_series_equal(got.dtypes, expected.dtypes)
    np.testing.assert_array_equal(got.to_numpy(), expected.to_numpy())


def test_assert_same_table_catches_each_difference():
    table = pd.DataFrame({"a": [1.0, np.nan], "b": [2.0, 3.0]}, index=pd.Index(["x", "y"], name="region"))
    assert_same_table(table, table.copy())
    changed = [table.rename_axis("other"), table.rename(columns={"b": "c"}), table.astype({"b": "float32"}),
               table.assign(b=[2.0, 3.0 + 1e-12]), table.iloc[::-1]]
    for other in changed:
        with pytest.raises(AssertionError):
            assert_same_table(other, table)


@pytest.fixture
def private_cache(monkeypatch, tmp_path):
    original = fetch.cached_derived

    def cached(stem, parts, build):
        return original(stem, parts, build, cache=tmp_path)

    monkeypatch.setattr(phantom, "cached_derived", cached)
    monkeypatch.setattr(fetch, "cached_derived", cached)      # (datasets imports it when called)
    phantom._template_labels.cache_clear()
    yield tmp_path
    phantom._template_labels.cache_clear()


def test_stored_phantom_labels_equal_a_fresh_build(ph, monkeypatch, private_cache):
    # the private cache is empty: _template_labels builds (the plain path, 2 s of CPU: built once
    # here, not twice), stores and returns the built value
    assert not list(private_cache.rglob("*.pkl"))
    first = built = phantom._template_labels(6)
    assert list((private_cache / "derived").glob("head-phantom-labels-*.pkl"))
    phantom._template_labels.cache_clear()
    with monkeypatch.context() as m:
        key = phantom._derived_key(6)
        m.setattr(phantom, "_derived_key", lambda margin: key)          # (the key hashes the code)
        m.setattr(phantom, "_build_template_labels", lambda margin: pytest.fail("rebuilt, not read"))
        stored = phantom._template_labels(6)               # read back
    assert stored[0] is not built[0]
    for got in (first, stored):
        np.testing.assert_array_equal(got[0], built[0])
        np.testing.assert_array_equal(got[1], built[1])
        assert got[0].dtype == built[0].dtype
    # and the build is deterministic: the session's phantom (set up before the cache was swapped:
    # read from the shared data cache, or built in this process) has the same labels and affine
    np.testing.assert_array_equal(ph.labels, built[0])
    np.testing.assert_array_equal(ph.affine, built[1])


def test_phantom_key_depends_on_the_margin_and_the_code(monkeypatch):
    a, b = phantom._derived_key(6), phantom._derived_key(7)
    assert a and b and a != b and phantom._derived_key(6) == a
    monkeypatch.setattr(inspect, "getsource", lambda f: "def changed(): pass")
    assert phantom._derived_key(6) != a


def test_stored_sample_annotation_equals_the_parsed_spreadsheet(private_cache):
    parsed = datasets._parse_sample_annotation("ahba_sampleannot_donor3.xlsx")
    first = datasets._read_sample_annotation(3)
    again = datasets._read_sample_annotation(3)
    assert len(list((private_cache / "derived").glob("ahba-sampleannot-donor3-*.pkl"))) == 1
    pd.testing.assert_frame_equal(first, parsed)
    pd.testing.assert_frame_equal(again, parsed)


@pytest.fixture(scope="module")
def shared_ahba_dk():
    """The AHBA DK table as the session reads it (from the shared data cache, or parsed), loaded
    before a test of this file swaps the cache for a private one."""
    return datasets.load_ahba_dk()


def test_stored_ahba_dk_table_equals_the_parsed_csv(shared_ahba_dk, private_cache):
    datasets._read_ahba_dk.cache_clear()
    try:
        # the private cache is empty: parsed (1 s of CPU: once here, not twice), stored, returned
        assert not list(private_cache.rglob("*.pkl"))
        first = parsed = datasets._read_ahba_dk()
        datasets._read_ahba_dk.cache_clear()
        again = datasets._read_ahba_dk()
    finally:
        datasets._read_ahba_dk.cache_clear()
    assert len(list((private_cache / "derived").glob("ahba-dk-*.pkl"))) == 1
    assert again is not first
    assert_same_table(again, parsed)
    assert_same_table(shared_ahba_dk, parsed)                    # parsing is deterministic
    assert first.index.names == ["hemisphere", "structure", "region"] and first.columns.name == "gene"


def test_stored_schaefer100_table_equals_the_parsed_csv(private_cache, monkeypatch):
    datasets._read_ahba_schaefer100.cache_clear()
    parses = []
    parse = datasets._parse_ahba_schaefer100
    monkeypatch.setattr(datasets, "_parse_ahba_schaefer100", lambda: parses.append(1) or parse())
    try:
        # the private cache is empty: parsed (once here, not twice), stored, returned
        assert not list(private_cache.rglob("*.pkl"))
        first = parsed = datasets._read_ahba_schaefer100()
        datasets._read_ahba_schaefer100.cache_clear()
        again = datasets._read_ahba_schaefer100()            # read back, not parsed again
    finally:
        datasets._read_ahba_schaefer100.cache_clear()
    assert len(parses) == 1
    assert len(list((private_cache / "derived").glob("ahba-schaefer100-*.pkl"))) == 1
    assert again is not first
    assert_same_table(again, parsed)
    assert parsed.shape == (100, 15633) and parsed.index.names == ["hemisphere", "region"]


def test_registry_is_read_once_per_content(tmp_path):
    """load_registry returns copies of one parse while the file is unchanged, and reads it anew
    once its content changes."""
    shipped = fetch._registry_path()
    path = tmp_path / "registry.csv"
    path.write_bytes(shipped.read_bytes())
    first = fetch.load_registry(path)
    first.loc[first.index[0], "licence"] = "changed in the copy"
    again = fetch.load_registry(path)
    pd.testing.assert_frame_equal(again, fetch._read_registry(shipped))
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))                     # one row fewer
    assert len(fetch.load_registry(path)) == len(again) - 1
