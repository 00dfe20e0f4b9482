"""The fast paths of the nulls give the plain algorithms' draws bit for bit (issue #22).

Each fast path is compared with the plain algorithm it replaces, written out here as the
reference, at a small size and with a seeded generator: the random-gene-set null (Floyd's
algorithm with an O(1) taken-lookup, summed as it is drawn) and the spin generator (rotations,
distance matrices and the greedy reassignment computed for blocks of rotations).
"""
import numpy as np
import pytest
from scipy import optimize, spatial as sspatial

from qmrigenes.stats import genesets as gs
from qmrigenes.stats import spatial as sp


# --------------------------------------------------------------------------- random gene sets
def _floyd_plain(rng, n, k, n_draw):
    """Floyd's algorithm vectorised over draws, checking each pick against the row's earlier items."""
    out = np.empty((n_draw, k), dtype=np.intp)
    rows = np.arange(n_draw)
    for col, top in enumerate(range(n - k, n)):
        pick = rng.integers(0, top + 1, size=n_draw)
        taken = (out[:, :col] == pick[:, None]).any(axis=1)
        out[rows, col] = np.where(taken, top, pick)
    return out


@pytest.mark.parametrize("n, k", [(40, 1), (40, 6), (300, 30), (300, 34)])
@pytest.mark.parametrize("mask_bytes", [64, 8 * 1024 ** 2])
def test_floyd_subsets_and_means_equal_the_plain_algorithm(monkeypatch, rng, n, k, mask_bytes):
    """Same subsets from the same seed (across mask blocks too), and bitwise the same means."""
    monkeypatch.setattr(gs, "_FLOYD_MASK_BYTES", mask_bytes)      # 64 B: a block of 1-2 rows
    seed = int(rng.integers(1 << 30))
    plain = _floyd_plain(np.random.default_rng(seed), n, k, 257)
    np.testing.assert_array_equal(gs._sample_subsets(np.random.default_rng(seed), n, k, 257), plain)
    table = rng.normal(size=(n, 3))
    means = gs._subset_means(np.random.default_rng(seed), table, k, 257)
    np.testing.assert_array_equal(means, table[plain].mean(axis=1))
    assert (np.diff(np.sort(plain, axis=1), axis=1) > 0).all()     # the reference itself draws subsets


def test_subset_means_large_k_uses_the_keys_branch(rng):
    table = rng.normal(size=(30, 2))
    a = gs._subset_means(np.random.default_rng(5), table, 20, 50)
    idx = np.argpartition(np.random.default_rng(5).random((50, 30)), 19, axis=1)[:, :20]
    np.testing.assert_array_equal(a, table[idx].mean(axis=1))


def test_random_gene_set_null_per_size_equals_the_plain_draw(rng):
    """The null of two sizes, chunked as the library chunks them, from the plain Floyd draw."""
    import pandas as pd

    corr = pd.DataFrame(np.tanh(rng.normal(size=(200, 2))), index=[f"G{i}" for i in range(200)],
                        columns=["a", "b"]).rename_axis("gene")
    null = gs.random_gene_set_null(corr, {"x": 12, "y": 5, "z": 12}, n_perm=300, seed=9)
    ref_rng = np.random.default_rng(9)
    table = corr.to_numpy()
    for size, cols in ((12, [0, 2]), (5, [1])):
        expected = table[_floyd_plain(ref_rng, 200, size, 300)].mean(axis=1)
        for c in cols:
            np.testing.assert_array_equal(null[:, c, :], expected)


# --------------------------------------------------------------------------- spins
def _sphere_points(rng, n):
    xyz = rng.normal(size=(n, 3))
    return 100 * xyz / np.linalg.norm(xyz, axis=1, keepdims=True)


def test_rotation_blocks_are_neuromaps_rotation_stream():
    from neuromaps.nulls.spins import _gen_rotation

    ref_rs, rs = np.random.RandomState(3), np.random.RandomState(3)
    ref = [_gen_rotation(seed=ref_rs) for _ in range(30)]
    blocks = sp._rotation_blocks(rs, 7)
    got = [next(blocks) for _ in range(5)]
    left = np.concatenate([b[0] for b in got])[:30]
    right = np.concatenate([b[1] for b in got])[:30]
    np.testing.assert_array_equal(left, np.array([r[0] for r in ref]))
    np.testing.assert_array_equal(right, np.array([r[1] for r in ref]))


def test_rotated_distances_are_scipys_bit_for_bit(rng):
    coor = _sphere_points(rng, 9)
    rots = next(sp._rotation_blocks(np.random.RandomState(0), 5))[0]
    ref = np.array([sspatial.distance_matrix(coor, coor @ r) for r in rots])
    np.testing.assert_array_equal(sp._rotated_distances(coor, rots), ref)


def _vasa_plain(dist):
    """neuromaps' greedy loop for one matrix."""
    dist = dist.copy()
    col = np.zeros(len(dist), dtype=int)
    for _ in range(len(dist)):
        row = dist.min(axis=1).argmax()
        col[row] = dist[row].argmin()
        dist[row] = -np.inf
        dist[:, col[row]] = np.inf
    return col


def test_vasa_assign_equals_the_plain_greedy_loop_with_ties(rng):
    tied = rng.integers(0, 3, size=(200, 8, 8)).astype(float)      # many equal distances
    smooth = rng.random((50, 12, 12))
    for stack in (tied, smooth):
        np.testing.assert_array_equal(sp._vasa_assign(stack), np.array([_vasa_plain(d) for d in stack]))


@pytest.mark.parametrize("method", ["hungarian", "vasa"])
def test_spin_stream_does_not_depend_on_the_block(rng, method):
    coords = _sphere_points(rng, 10)
    hemi = np.r_[np.zeros(6, int), np.ones(4, int)]
    one = sp._spin_stream(coords, hemi, seed=2, method=method, block=1)
    many = sp._spin_stream(coords, hemi, seed=2, method=method, block=64)
    a = np.array([next(one) for _ in range(150)])
    b = np.array([next(many) for _ in range(150)])
    np.testing.assert_array_equal(a, b)
    # and the first rotation is reassigned as neuromaps does it, by hand
    from neuromaps.nulls.spins import _gen_rotation
    rot_l, rot_r = _gen_rotation(seed=np.random.RandomState(2))
    expected = np.zeros(10, dtype=int)
    for hinds, rot in ((np.arange(6), rot_l), (np.arange(6, 10), rot_r)):
        dist = sspatial.distance_matrix(coords[hinds], coords[hinds] @ rot)
        col = _vasa_plain(dist) if method == "vasa" else optimize.linear_sum_assignment(dist)[1]
        expected[hinds] = hinds[col]
    np.testing.assert_array_equal(a[0], expected)


def test_spin_streams_are_replayed_not_recomputed(monkeypatch, rng):
    """A second request for the same centroids, seed and method replays the stream computed for
    the first (and continues it): the same spins as a fresh stream, no rotation computed twice."""
    import pandas as pd

    monkeypatch.setattr(sp, "_REPLAYS", {})
    coords = pd.DataFrame(_sphere_points(rng, 12), index=[f"r{i}" for i in range(12)])
    calls = []
    original = sp._spin_stream
    monkeypatch.setattr(sp, "_spin_stream", lambda *a, **k: (calls.append(k), original(*a, **k))[1])
    first = sp.spin_permutations(coords, n_perm=60, seed=4)
    redraws = sp.spin_redraws(coords, n_perm=200, seed=4)     # the same stream, further
    more = sp.spin_permutations(coords, n_perm=200, seed=4)
    other = sp.spin_permutations(coords, n_perm=60, seed=5)   # another seed: its own stream
    assert len(calls) == 2
    fresh = original(coords.to_numpy(), np.zeros(12, int), seed=4, method="hungarian")
    stream = np.array([next(fresh) for _ in range(redraws["n_rotations"])])
    np.testing.assert_array_equal(redraws["raw"].to_numpy(), stream[:200])
    np.testing.assert_array_equal(more.to_numpy()[:60], first.to_numpy())
    np.testing.assert_array_equal(more.to_numpy(), redraws["kept"].to_numpy())
    assert not np.array_equal(other.to_numpy(), first.to_numpy())
    for _ in range(sp._REPLAYS_KEPT + 1):                     # a bounded number of streams is kept
        sp.spin_permutations(coords, n_perm=5, seed=int(rng.integers(100, 10_000)))
    assert len(sp._REPLAYS) == sp._REPLAYS_KEPT
