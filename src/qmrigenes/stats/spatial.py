"""Spatial-autocorrelation-preserving nulls (spin tests) for gene-set scores.

A random-gene-set null (:func:`qmrigenes.stats.genesets.random_gene_set_null`)
asks whether a cell type's genes correlate with a map more than random genes
do (*gene specificity*). It keeps the map fixed, so it ignores that a smooth
map correlates strongly with many smooth expression gradients by chance; a
spin null asks whether the score exceeds that of maps with the same spatial
autocorrelation but a random orientation on the sphere (*spatial
specificity*; Alexander-Bloch et al. 2018, Fulcher et al. 2021).

Null generation is separate from the statistic:

* :func:`parcel_centroids` and :func:`spin_permutations` generate parcel
  spins on the fsaverage5 sphere (nilearn mesh; neuromaps'
  :func:`~neuromaps.nulls.spins.gen_spinsamples`, Hungarian assignment of
  Markello & Misic 2021 or the greedy Vasa et al. 2018 method), as a table
  of region permutations whose columns name the regions (so every function
  applying spins aligns maps and expression to them by name);
* :func:`spin_null_scores` recomputes the gene-set scores for every spun map,
  vectorised: the mean over a set's genes of Pearson r equals the
  correlation-weighted projection of the map on the set's mean z-scored
  expression profile, so each spin costs one small matrix product;
* :func:`gene_set_association` assembles the Table 1 statistics: score r,
  gene-specificity p (random gene sets) and spatial-specificity p (spins),
  each Benjamini-Hochberg corrected within each map.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validate import (check_region_names, align_index, as_array, check_bool, check_choice, check_frame, check_gene_sets, check_int,
                         check_seed, check_unique, describe)
from .multitest import fdr_by_column
from .standardize import unit_z
from .genesets import (gene_map_correlations, gene_set_scores, genes_present, null_pvalues,
                       random_gene_set_null)

__all__ = [
    "spin_permutations",
    "spin_redraws",
    "label_permutations",
    "spin_null_scores",
    "gene_set_association",
    "MAX_SPINS",
]

#: Upper bound on the number of spins (10,000 is usual; each costs one small matrix product).
MAX_SPINS = 100_000


def spin_permutations(centroids, *, hemiid=None, n_perm: int = 10_000, seed: int = 0,
                      method: str = "hungarian", progress=None) -> pd.DataFrame:
    """Parcel spin permutations from region centroids on a sphere (any atlas).

    Parameters
    ----------
    centroids : pandas.DataFrame, shape (n_regions, 3)
        Region centroids on the sphere, indexed by region name (e.g.
        :func:`qmrigenes.surface.sphere_centroids`); the index is the region
        order the permutations refer to.
    hemiid : array_like of {0, 1}, shape (n_regions,), optional
        Hemisphere of each region (0 left, 1 right); the right hemisphere's
        rotation mirrors the left's (neuromaps). Default: all 0.
    n_perm : int, optional
        Number of random rotations, 1 to :data:`MAX_SPINS`; default 10,000. Time is
        linear in ``n_perm`` (duplicates are found in a hash set, not by neuromaps'
        pairwise comparison; rotations are generated and reassigned in blocks):
        0.44 s of CPU for 10,000 spins of the 34 left DK regions on the shared 2-core
        machine under load, against 2.9 s for neuromaps' ``gen_spinsamples`` giving
        the same spins (``benchmarks/bench_chapfast.py``).
    seed : int, optional
        Non-negative integer seed (neuromaps needs an integer).
    method : {"hungarian", "vasa"}, optional
        Reassignment of rotated centroids to regions that makes every spin a
        permutation: optimal (Hungarian) or greedy (Vasa et al. 2018).
    progress : callable, optional
        Called as ``progress(done, total)`` while the spins are generated (the
        spins do not depend on it).

    Returns
    -------
    pandas.DataFrame of int, shape (n_perm, n_regions)
        Columns are the region names (the order the positions refer to);
        row k: ``spun = values[perms.to_numpy()[k]]``, with ``values`` in
        column order, gives region i the value of the region whose rotated
        centroid was assigned to it. Functions that apply spins
        (:func:`spin_null_scores`, :func:`gene_set_association`) align maps
        and expression to the columns by name.
    """
    if not isinstance(centroids, pd.DataFrame):
        raise TypeError(f"centroids must be a DataFrame (regions x 3) indexed by region name, got "
                        f"{describe(centroids)}")
    coords = as_array(centroids, "centroids", ndim=2)
    if coords.shape[1] != 3:
        raise ValueError(f"centroids must have 3 columns (x, y, z), got shape {coords.shape}")
    regions = check_region_names(centroids.index, "centroids.index")
    hemiid = np.zeros(len(regions), dtype=int) if hemiid is None else np.asarray(hemiid)
    if hemiid.shape != (len(regions),) or not np.isin(hemiid, (0, 1)).all():
        raise ValueError(f"hemiid must hold 0 (left) or 1 (right) for each of the {len(regions)} regions")
    check_choice(method, "method", ["hungarian", "vasa"])
    n_perm = check_int(n_perm, "n_perm", min=1, max=MAX_SPINS)
    if isinstance(seed, np.random.Generator) or seed is None:
        raise TypeError(f"seed must be a non-negative integer here (neuromaps), got {describe(seed)}")
    check_seed(seed)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable as progress(done, total), got {describe(progress)}")
    spins = _gen_spins(coords, hemiid.astype(int), n_perm=n_perm, seed=int(seed), method=method,
                       progress=progress)
    return pd.DataFrame(spins, columns=pd.Index(regions, name="region"))


def spin_redraws(centroids: pd.DataFrame, *, n_perm: int = 10_000, seed: int = 0) -> dict:
    """Re-run neuromaps' Hungarian spin loop for one hemisphere and count its redraws.

    To reproduce a spin null exactly one must know its redraw rule; this counts how often it
    applies, and returns the spins one would get without it (``raw``), e.g. to measure what
    keeping identity or repeated spins would do to a spin p-value.

    neuromaps ``gen_spinsamples(..., method="hungarian", check_duplicates=True)`` draws a random
    rotation, assigns rotated centroids to regions with the Hungarian algorithm, and *redraws*
    the rotation when the assignment is the identity or repeats an earlier spin (up to 500
    tries). This repeats that loop with the same random stream (``_gen_rotation``), so its kept
    spins equal :func:`qmrigenes.stats.spatial.spin_permutations`; it also returns the first
    ``n_perm`` raw assignments, redraws kept in.

    Parameters
    ----------
    centroids : pandas.DataFrame, shape (n_regions, 3)
        One hemisphere's region centroids on the sphere, indexed by region name (e.g.
        :func:`qmrigenes.surface.sphere_centroids`).
    n_perm : int, optional
        Number of spins kept, 1 to :data:`MAX_SPINS`; default 10,000.
    seed : int, optional
        Non-negative integer seed (neuromaps' ``RandomState``), as in :func:`spin_permutations`.

    Returns
    -------
    dict
        ``kept`` and ``raw`` (pandas.DataFrame, n_perm x regions, like ``spin_permutations``),
        ``n_identity`` and ``n_duplicate`` (rotations redrawn for each reason),
        ``n_rotations`` (all drawn), ``raw_identity`` and ``raw_duplicate`` (among the raw spins).

    Examples
    --------
    >>> from qmrigenes.stats.spatial import spin_redraws
    >>> from qmrigenes.surface import sphere_centroids
    >>> out = spin_redraws(sphere_centroids(hemisphere="L"), n_perm=100, seed=0)   # doctest: +SKIP
    >>> out["n_rotations"] == 100 + out["n_identity"] + out["n_duplicate"]          # doctest: +SKIP
    True
    """
    if not isinstance(centroids, pd.DataFrame):
        raise TypeError(f"centroids must be a DataFrame (regions x 3) indexed by region name, got "
                        f"{describe(centroids)}")
    coords = np.asarray(as_array(centroids, "centroids", ndim=2), dtype=float)
    if coords.shape[1] != 3:
        raise ValueError(f"centroids must have 3 columns (x, y, z), got shape {coords.shape}")
    n_perm = check_int(n_perm, "n_perm", min=1, max=MAX_SPINS)
    check_seed(seed)
    inds = np.arange(len(coords))
    # left rotations only (one hemisphere), assigned optimally, in neuromaps' stream order
    stream = _replayed_stream(coords, np.zeros(len(coords), dtype=int), seed=int(seed), method="hungarian")
    kept, raw, seen_raw = [], [], set()
    seen = set()
    n_identity = n_duplicate = n_rot = raw_identity = raw_duplicate = 0
    while len(kept) < n_perm:
        for _ in range(500):
            res = next(stream).astype(inds.dtype)
            n_rot += 1
            key = res.tobytes()
            if len(raw) < n_perm:
                raw_identity += bool((res == inds).all())
                raw_duplicate += key in seen_raw and not (res == inds).all()
                seen_raw.add(key)
                raw.append(res)
            if (res == inds).all():
                n_identity += 1
                continue
            if key in seen:
                n_duplicate += 1
                continue
            break
        seen.add(key)
        kept.append(res)
    cols = pd.Index(centroids.index, name="region")
    return {"kept": pd.DataFrame(np.array(kept), columns=cols), "raw": pd.DataFrame(np.array(raw[:n_perm]), columns=cols),
            "n_identity": n_identity, "n_duplicate": n_duplicate, "n_rotations": n_rot,
            "raw_identity": raw_identity, "raw_duplicate": raw_duplicate}


def _gen_spins(coords: np.ndarray, hemiid: np.ndarray, *, n_perm: int, seed: int, method: str,
               progress=None) -> np.ndarray:
    """neuromaps' ``gen_spinsamples`` (check_duplicates=True), draw for draw, in O(n_perm).

    Same rotations from the same ``RandomState(seed)`` stream (neuromaps'
    ``_gen_rotation``), same Hungarian/Vasa reassignment, same rule (a spin equal
    to an earlier one or to the identity is redrawn, at most 500 times), so the
    output equals neuromaps' for the same seed (tested). What differs is the cost:
    neuromaps compares each new spin with every earlier one (n_perm^2/2
    comparisons: about 26 s of checks alone for 40,000 spins); here earlier spins
    are kept in a hash set, so the cost per spin is constant; and rotations,
    distance matrices and the greedy (Vasa) reassignment are computed for blocks
    of rotations at once (:func:`_spin_stream`).

    Returns
    -------
    numpy.ndarray of int, shape (n_perm, n_regions)
    """
    import warnings

    n = len(coords)
    identity = np.arange(n, dtype="int32").tobytes()
    seen: set[bytes] = set()
    out = np.zeros((n_perm, n), dtype=int)
    stream = _replayed_stream(coords, hemiid, seed=seed, method=method)
    warned = False
    step = max(1, n_perm // 100)
    for k in range(n_perm):
        count, duplicated = 0, True
        while duplicated and count < 500:
            count, duplicated = count + 1, False
            resampled = next(stream)
            key = resampled.tobytes()
            duplicated = key in seen or key == identity
        if count == 500 and not warned:
            warnings.warn("Duplicate rotations used: fewer distinct spins than n_perm", stacklevel=3)
            warned = True
        seen.add(key)
        out[k] = resampled
        if progress is not None and (k + 1) % step == 0:
            progress(k + 1, n_perm)
    if progress is not None and n_perm % step:
        progress(n_perm, n_perm)
    return out


#: Spin streams kept for replay by :func:`_replayed_stream` (most recently used last).
_REPLAYS: dict = {}
_REPLAYS_KEPT = 4


class _Replay:
    """The reassignments of one :func:`_spin_stream` computed so far, and the generator that
    continues it (a lock lets threads share it: the generator runs in one at a time)."""

    def __init__(self, source):
        import threading

        self.source, self.done, self.lock = source, [], threading.Lock()

    def __iter__(self):
        done, i = self.done, 0
        while True:
            if i == len(done):
                with self.lock:
                    if i == len(done):
                        done.append(next(self.source))
            yield done[i]
            i += 1


def _replayed_stream(coords: np.ndarray, hemiid: np.ndarray, *, seed: int, method: str):
    """:func:`_spin_stream` of these centroids, seed and method, computed once per process.

    The reassignments already computed for the same centroids (bit for bit), hemispheres, seed
    and method are replayed and the stream continues from there, so a second request (more
    spins; :func:`spin_redraws` after :func:`spin_permutations`; a command repeated on the same
    atlas) costs no rotation or assignment it already paid for; the spins are the same arrays
    as computing the stream anew. The last :data:`_REPLAYS_KEPT` streams are kept.
    """
    import hashlib

    coords = np.ascontiguousarray(coords, dtype=float)
    hemiid = np.ascontiguousarray(hemiid, dtype=np.int64)
    key = (hashlib.sha256(coords.tobytes() + hemiid.tobytes()).hexdigest(), coords.shape, int(seed), method)
    replay = _REPLAYS.pop(key, None)
    if replay is None:
        replay = _Replay(_spin_stream(coords, hemiid, seed=seed, method=method))
    _REPLAYS[key] = replay                                   # most recently used last
    while len(_REPLAYS) > _REPLAYS_KEPT:
        _REPLAYS.pop(next(iter(_REPLAYS)))
    return iter(replay)


#: Rotations whose reassignments :func:`_spin_stream` computes at a time (fewer when one
#: block's distance matrices would exceed :data:`_SPIN_SCRATCH_BYTES`).
_SPIN_BLOCK = 256
_SPIN_SCRATCH_BYTES = 16 * 1024 ** 2


def _spin_stream(coords: np.ndarray, hemiid: np.ndarray, *, seed: int, method: str, block: int = _SPIN_BLOCK):
    """The region reassignment of every rotation of neuromaps' stream, in order, without end.

    Rotation ``i`` is the ``i``-th call of neuromaps' ``_gen_rotation`` on
    ``RandomState(seed)`` (left hemisphere; the right one is its mirror); each
    hemisphere's centroids are rotated and reassigned to regions by the Hungarian
    algorithm or greedily (Vasa), exactly as neuromaps' ``gen_spinsamples`` does
    for one rotation. Work is done ``block`` rotations at a time (the stream does
    not depend on ``block``; tested).

    Yields
    ------
    numpy.ndarray of int32, shape (n_regions,)
        ``resampled``: region i takes the value of region ``resampled[i]``.
    """
    from scipy import optimize

    coords = np.asarray(coords, dtype=float)
    rs = np.random.RandomState(seed)
    n = len(coords)
    halves = [np.flatnonzero(hemiid == h) for h in (0, 1)]
    largest = max(len(h) for h in halves)
    block = max(1, min(block, _SPIN_SCRATCH_BYTES // (8 * largest * largest)))   # bounded scratch
    for rots in _rotation_blocks(rs, block):
        resampled = np.zeros((block, n), dtype="int32")
        for h, rot in enumerate(rots):
            hinds = halves[h]
            if len(hinds) == 0:
                continue
            dist = _rotated_distances(coords[hinds], rot)
            if method == "vasa":
                col = _vasa_assign(dist)
            else:
                col = np.array([optimize.linear_sum_assignment(d)[1] for d in dist])
            resampled[:, hinds] = hinds[col]
        yield from resampled


def _rotation_blocks(rs: np.random.RandomState, block: int):
    """neuromaps' ``_gen_rotation(seed=rs)`` stream, ``block`` rotations at a time.

    Yields ``(left, right)`` arrays of shape (block, 3, 3): rotation ``i`` of a block
    equals the ``i``-th further call of ``_gen_rotation`` on the same ``RandomState``
    (the normals of ``block`` calls are one draw of the legacy generator; QR, sign
    fix, determinant check and the right hemisphere's mirror are applied per matrix
    as neuromaps does, with the same bits; tested against it).
    """
    reflect = np.array([[-1, 0, 0], [0, 1, 0], [0, 0, 1]])
    while True:
        q, r = np.linalg.qr(rs.normal(size=(block, 3, 3)))
        sign = np.sign(np.diagonal(r, axis1=1, axis2=2))
        left = q @ (sign[:, :, None] * np.eye(3))            # q @ np.diag(sign), per matrix
        flip = np.linalg.det(left) < 0
        left[flip, :, 0] = -left[flip, :, 0]
        yield left, reflect @ left @ reflect


def _rotated_distances(coor: np.ndarray, rots: np.ndarray) -> np.ndarray:
    """``scipy.spatial.distance_matrix(coor, coor @ rot)`` for each rotation, shape (b, n, n).

    The same floating-point operations as scipy's small-matrix branch (squared
    differences summed x, y, z in order, then the square root), so the same bits.
    """
    moved = np.matmul(coor, rots)                      # (b, n, 3)
    total = None
    for a in range(3):
        diff = moved[:, None, :, a] - coor[None, :, None, a]
        diff *= diff
        total = diff if total is None else total + diff
    return np.sqrt(total, out=total)


def _vasa_assign(dist: np.ndarray) -> np.ndarray:
    """Greedy (Vasa et al. 2018) reassignment of each (n, n) distance matrix of a stack.

    neuromaps' loop, for one matrix: take the row whose smallest distance is largest
    (first on ties), give it its nearest free column (first on ties), remove both;
    repeat. Here the loop runs over all matrices of the stack at once, and each
    row's minimum over the free columns is kept and updated only for rows whose
    minimum was in the column just taken (same choices, same tie-breaking; tested).

    Returns
    -------
    numpy.ndarray of intp, shape (b, n)
    """
    dist = np.array(dist, dtype=float)
    b, n, _ = dist.shape
    col = np.zeros((b, n), dtype=np.intp)
    mins = dist.min(axis=2)
    args = dist.argmin(axis=2)
    stack = np.arange(b)
    for _ in range(n):
        row = mins.argmax(axis=1)
        taken = args[stack, row]
        col[stack, row] = taken
        mins[stack, row] = -np.inf
        dist[stack, :, taken] = np.inf
        sb, sr = np.nonzero((args == taken[:, None]) & (mins > -np.inf))
        if sb.size:
            rows = dist[sb, sr]
            mins[sb, sr] = rows.min(axis=1)
            args[sb, sr] = rows.argmin(axis=1)
    return col


def label_permutations(regions, *, n_perm: int = 10_000, seed=0, max_exact: int = 40_320) -> pd.DataFrame:
    """Random (or all) permutations of region labels: the spatial null of any atlas.

    With n regions, all n! permutations are used when n! <= ``max_exact``
    (n <= 8 by default; the identity included), otherwise ``n_perm`` uniformly
    random ones (``max_exact=1``: always random). Unlike spins, they ignore spatial autocorrelation.

    Returns
    -------
    pandas.DataFrame of int, shape (n_permutations, n_regions)
        Columns are the regions, as from :func:`spin_permutations`.
    """
    import itertools
    import math

    regions = check_region_names(regions)
    n_perm = check_int(n_perm, "n_perm", min=1, max=MAX_SPINS)
    max_exact = check_int(max_exact, "max_exact", min=1, max=MAX_SPINS)
    rng = check_seed(seed)
    n = len(regions)
    if math.factorial(n) <= max_exact:
        perms = np.array(list(itertools.permutations(range(n))))
    else:
        perms = np.array([rng.permutation(n) for _ in range(n_perm)])
    return pd.DataFrame(perms, columns=pd.Index(regions, name="region"))


_SPIN_HINT = ("Spin the regions of the maps (spin_permutations with centroids indexed like maps.index), or select the "
              "spun regions in both tables with .loc[perms.columns]")


def _check_perms(perms, name: str = "perms") -> tuple[np.ndarray, pd.Index]:
    """Spin positions and their region order; a bare array is refused."""
    if not isinstance(perms, pd.DataFrame):
        raise TypeError(
            f"{name} must be a DataFrame of spins whose columns name the regions "
            f"(from spin_permutations(regions=...)), got {describe(perms)}; a bare array has no "
            f"region order - wrap it as pd.DataFrame(array, columns=<region order of the spins>)")
    check_unique(perms.columns, f"{name}.columns (region names)")
    arr = as_array(perms, name, ndim=2, dtype=None)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all():
            arr = arr.astype(np.intp)
        else:
            raise TypeError(f"{name} must hold integer positions, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= arr.shape[1]):
        raise ValueError(f"{name} must hold positions 0..{arr.shape[1] - 1} into its columns, "
                         f"got values from {arr.min()} to {arr.max()}")
    return arr, perms.columns


def _set_profiles(expression: pd.DataFrame, gene_sets: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Mean unit-norm z-scored expression profile of each set (regions x sets)."""
    z = unit_z(expression.to_numpy(float), axis=0)
    finite = np.isfinite(z).all(axis=0)
    cols = {}
    for name, members in gene_sets.items():
        pos = expression.columns.get_indexer(pd.Index(members))
        pos = pos[(pos >= 0)]
        pos = pos[finite[pos]]
        if pos.size == 0:
            raise ValueError(f"gene_sets[{name!r}] has no gene present in the expression table")
        cols[name] = z[:, pos].mean(axis=1)
    return pd.DataFrame(cols, index=expression.index)


def spin_null_scores(expression: pd.DataFrame, maps: pd.DataFrame, gene_sets: Mapping[str, Sequence[str]],
                     perms: pd.DataFrame) -> np.ndarray:
    """Gene-set scores of spun maps.

    For unit-norm z-scored vectors, r(gene, map) = z_gene . z_map, so the
    mean r over a set equals ``profile_set . z_map`` with ``profile_set``
    the mean z_gene of the set. Each spun map is re-standardised (so spins
    with repeated regions are also handled) and projected on the profiles.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_regions, n_genes)
    maps : pandas.DataFrame, shape (n_regions, n_maps)
        Same region names as ``expression`` and ``perms`` (any order: all
        are aligned by name to the columns of ``perms``).
    gene_sets : mapping of str to sequence of str
    perms : pandas.DataFrame of int, shape (n_perm, n_regions)
        From :func:`spin_permutations`; columns name the regions.

    Returns
    -------
    numpy.ndarray, shape (n_perm, n_sets, n_maps)
    """
    perms, regions = _check_perms(perms)
    check_frame(expression, "expression")
    if not isinstance(maps, pd.DataFrame):
        raise TypeError(f"maps must be a DataFrame indexed by region, got {describe(maps)}")
    gene_sets = check_gene_sets(gene_sets)
    if expression.columns.duplicated().any():
        dups = sorted(set(expression.columns[expression.columns.duplicated()]))[:10]
        raise ValueError(f"duplicated gene symbols in expression columns: {dups}")
    maps = align_index(regions, maps, "maps", ref_name="perms (spin regions)", hint=_SPIN_HINT)
    expression = align_index(regions, expression, "expression", ref_name="perms (spin regions)", hint=_SPIN_HINT)
    values = as_array(maps, "maps", ndim=2, finite=False)
    if not np.isfinite(values).all():
        bad = maps.columns[~np.isfinite(values).all(axis=0)].tolist()
        raise ValueError(f"maps must be finite, got NaN or infinite values (columns {bad[:10]})")
    if (np.ptp(values, axis=0) == 0).any():
        raise ValueError(f"maps has constant column(s) {maps.columns[np.ptp(values, axis=0) == 0].tolist()}; "
                         f"a correlation with a constant map is undefined")
    as_array(expression, "expression", ndim=2)
    profiles = _set_profiles(expression, gene_sets).to_numpy()        # (r, s)
    spun = unit_z(values[perms], axis=1)                              # (p, r, m)
    return np.einsum("prm,rs->psm", spun, profiles)


def gene_set_association(expression: pd.DataFrame, maps: pd.DataFrame,
                         gene_sets: Mapping[str, Sequence[str]], *, background: Sequence[str],
                         perms: pd.DataFrame | None = None, n_perm: int = 10_000, seed: int = 0,
                         return_nulls: bool = False, progress=None):
    """Table 1: gene-set scores with gene- and spatial-specificity p-values.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_regions, n_genes)
        Regional expression (unique gene columns).
    maps : pandas.DataFrame, shape (n_regions, n_maps)
        Maps with the same region names (any order; aligned by name).
    gene_sets : mapping of str to sequence of str
    background : sequence of str
        Reference panel for random gene sets (the 2,511-gene panel).
    perms : pandas.DataFrame, shape (n_spins, n_regions), optional
        Spin permutations from :func:`spin_permutations` (columns name the
        regions); without them no spatial p is computed.
    n_perm : int, optional
        Random gene sets per set (default 10,000).
    seed : int, optional
    return_nulls : bool, optional
        Also return the null arrays. Default False.
    progress : callable, optional
        ``progress(done, total)`` while the random gene sets are drawn.

    Returns
    -------
    table : pandas.DataFrame
        One row per (gene_set, map): ``n_genes``, ``n_present`` (genes in
        the expression table with non-constant expression, i.e. those the
        score averages), ``r`` (mean over the set's present genes of the Pearson r between regional
        expression and the map), ``p_gene`` (two-sided, random gene sets of
        equal size from ``background``), ``p_gene_fdr`` (BH within each map),
        and with ``perms`` ``p_spin`` and ``p_spin_fdr``.
    nulls : dict, only with ``return_nulls``
        ``"gene"`` and (with ``perms``) ``"spin"``: arrays (n, n_sets, n_maps)
        with sets in ``nulls["sets"]`` order and maps in ``maps.columns`` order.
    """
    check_frame(expression, "expression")
    if not isinstance(maps, pd.DataFrame):
        raise TypeError(f"maps must be a DataFrame indexed by region, got {describe(maps)}")
    gene_sets = check_gene_sets(gene_sets)
    return_nulls = check_bool(return_nulls, "return_nulls")
    if perms is not None:                       # refuse misaligned spins before any work
        _, spin_regions = _check_perms(perms)
        align_index(spin_regions, maps, "maps", ref_name="perms (spin regions)", hint=_SPIN_HINT)
        align_index(spin_regions, expression, "expression", ref_name="perms (spin regions)", hint=_SPIN_HINT)
    corr = gene_map_correlations(expression, maps)
    present = genes_present(gene_sets, corr)
    scores = gene_set_scores(corr, gene_sets)
    sizes = present.loc[scores.index, "n_present"]
    null = random_gene_set_null(corr, sizes.to_dict(), background=background, n_perm=n_perm, seed=seed,
                                progress=progress)
    p_gene = pd.DataFrame(null_pvalues(scores.to_numpy(), null), index=scores.index, columns=scores.columns)
    nulls = {"gene": null, "sets": list(scores.index)}
    parts = {"r": scores, "p_gene": p_gene, "p_gene_fdr": fdr_by_column(p_gene)}
    if perms is not None:
        spun = spin_null_scores(expression, maps, {k: gene_sets[k] for k in scores.index}, perms)
        nulls["spin"] = spun
        p_spin = pd.DataFrame(null_pvalues(scores.to_numpy(), spun), index=scores.index, columns=scores.columns)
        parts["p_spin"] = p_spin
        parts["p_spin_fdr"] = fdr_by_column(p_spin)
    out = pd.concat({k: v.stack(list(range(v.columns.nlevels)), future_stack=True) for k, v in parts.items()}, axis=1)
    out.index = out.index.set_names(["gene_set"] + list(maps.columns.names if maps.columns.nlevels > 1
                                                         else [maps.columns.name or "map"]))
    counts = present[["n_genes", "n_present"]]
    out = out.join(counts, on="gene_set")
    out = out[["n_genes", "n_present"] + list(parts)]
    return (out, nulls) if return_nulls else out
