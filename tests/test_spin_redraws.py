"""qmrigenes.stats.spatial.spin_redraws: neuromaps' redraw loop, counted."""
import numpy as np
import pandas as pd
import pytest

from qmrigenes.stats.spatial import spin_permutations, spin_redraws


def _centroids(n=6, seed=3):
    rng = np.random.default_rng(seed)
    xyz = rng.normal(size=(n, 3))
    xyz /= np.linalg.norm(xyz, axis=1, keepdims=True)
    return pd.DataFrame(100 * xyz, index=[f"r{i}" for i in range(n)], columns=["x", "y", "z"])


def test_spin_redraws_kept_spins_are_the_spin_permutations_and_counts_add_up():
    cen = _centroids()              # few regions: identities and repeats are frequent
    out = spin_redraws(cen, n_perm=60, seed=1)
    np.testing.assert_array_equal(out["kept"].to_numpy(), spin_permutations(cen, n_perm=60, seed=1).to_numpy())
    assert out["raw"].shape == (60, 6) and list(out["raw"].columns) == list(cen.index)
    assert out["n_rotations"] == 60 + out["n_identity"] + out["n_duplicate"]
    assert out["n_identity"] + out["n_duplicate"] > 0
    raw = out["raw"].to_numpy()
    assert out["raw_identity"] == int((raw == np.arange(6)).all(axis=1).sum())
    kept = out["kept"].to_numpy()
    assert not (kept == np.arange(6)).all(axis=1).any() and len({r.tobytes() for r in kept}) == 60


def test_spin_redraws_bad_inputs():
    with pytest.raises(TypeError, match="centroids"):
        spin_redraws(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="n_perm"):
        spin_redraws(_centroids(), n_perm=0)
