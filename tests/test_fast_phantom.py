"""The head phantom's labels are built once and then read from the data cache (issue #22)."""
import inspect

import numpy as np
import pytest

from qmrigenes import phantom


@pytest.fixture
def stored_at(monkeypatch, tmp_path):
    path = tmp_path / "derived" / "labels.npz"
    monkeypatch.setattr(phantom, "_derived_path", lambda margin: path)
    phantom._template_labels.cache_clear()
    yield path
    phantom._template_labels.cache_clear()


def test_stored_labels_equal_a_fresh_build_and_damage_is_rebuilt(monkeypatch, stored_at):
    built = phantom._build_template_labels(6)              # the plain path
    first = phantom._template_labels(6)                    # built, then stored
    assert stored_at.is_file()
    phantom._template_labels.cache_clear()
    with monkeypatch.context() as m:
        m.setattr(phantom, "_build_template_labels", lambda margin: pytest.fail("rebuilt, not read"))
        stored = phantom._template_labels(6)               # read back
    for got in (first, stored):
        np.testing.assert_array_equal(got[0], built[0])
        np.testing.assert_array_equal(got[1], built[1])
        assert got[0].dtype == built[0].dtype
    stored_at.write_bytes(b"not an npz file")              # damaged: built again and rewritten
    phantom._template_labels.cache_clear()
    np.testing.assert_array_equal(phantom._template_labels(6)[0], built[0])
    with np.load(stored_at) as z:
        np.testing.assert_array_equal(z["labels"], built[0])


def test_key_depends_on_the_margin_and_the_code(monkeypatch):
    a, b = phantom._derived_key(6), phantom._derived_key(7)
    assert a and b and a != b and phantom._derived_key(6) == a
    monkeypatch.setattr(inspect, "getsource", lambda f: "def changed(): pass")
    assert phantom._derived_key(6) != a
