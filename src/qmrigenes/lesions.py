"""MS lesions and deep-grey atrophy in the head phantom.

* :func:`load_lesion_changes` — per stage and compartment, the direction and
  magnitude of the change of R1, PD, R2* and chi relative to normal-appearing
  white matter (NAWM), each row citing its source; magnitudes without a
  published lesion-vs-NAWM value are marked ``SIMULATION design``.
* :func:`insert_lesions` — spherical lesions at the four stages described by
  Tranfa et al. (2022): early active, late active, chronic active (with a
  paramagnetic rim) and chronic inactive.
* :func:`radial_profile` — lesion profiles (mean over shells of equal distance).
* :func:`load_review_tables` — the review's Tables 1-2 (WM and GM findings)
  encoded as site x parameter -> direction, with citations.
* :func:`simulate_atrophy` / :func:`atrophy_series` — a deep grey nucleus loses
  volume with constant iron content: mean R2* and mean chi (concentration)
  rise while R2*-mass and susceptibility-mass (content) stay constant
  (Hernández-Torres et al. 2019; Schweser et al. 2021).
"""
from __future__ import annotations


import numpy as np
import pandas as pd
from scipy import ndimage

from ._threads import n_workers, thread_map
from .fetch import package_file
from .phantom import TISSUES, Phantom

__all__ = [
    "STAGES",
    "load_lesion_changes",
    "lesion_sites",
    "insert_lesions",
    "radial_profile",
    "lesion_only",
    "lesion_contrast",
    "load_review_tables",
    "review_direction_matrix",
    "simulate_atrophy",
    "atrophy_series",
]

#: Lesion stages, in temporal order.
STAGES = ("early_active", "late_active", "chronic_active", "chronic_inactive")

_PARAMS = ("R1", "PD", "R2s", "chi")
_DIRECTIONS = {"increase": 1, "decrease": -1, "no change": 0}
_LUT = {v: k for k, v in TISSUES.items()}


def load_lesion_changes(path=None) -> pd.DataFrame:
    """Lesion parameter changes relative to NAWM, with sources.

    Returns
    -------
    pandas.DataFrame
        Columns ``stage``, ``compartment`` (``core``/``rim``), ``parameter``
        (``R1``, ``PD``, ``R2s``, ``chi``), ``direction``, ``change`` (signed),
        ``unit`` (``percent of NAWM``, ``1/s`` or ``ppm``), ``kind``
        (``published`` or ``SIMULATION design``), ``magnitude_source``,
        ``direction_source`` (bibtex keys), ``location``, ``note``.

    Raises
    ------
    ValueError
        If a sign disagrees with its direction, or a stage/parameter is unknown.
    """
    table = pd.read_csv(package_file("literature/ms_lesion_changes.csv") if path is None else path)
    bad = set(table["stage"]) - set(STAGES)
    if bad:
        raise ValueError(f"unknown lesion stages {sorted(bad)}")
    bad = set(table["parameter"]) - set(_PARAMS)
    if bad:
        raise ValueError(f"unknown parameters {sorted(bad)}")
    sign = table["direction"].map(_DIRECTIONS)
    if sign.isna().any():
        raise ValueError(f"unknown directions {sorted(set(table['direction'][sign.isna()]))}")
    mismatch = (sign != 0) & (np.sign(table["change"]) != sign)
    if mismatch.any():
        raise ValueError(f"change sign disagrees with direction in rows {list(table.index[mismatch])}")
    if table.duplicated(["stage", "compartment", "parameter"]).any():
        raise ValueError("duplicated (stage, compartment, parameter) rows")
    return table


def lesion_sites(phantom: Phantom, *, n: int = 4, radius_mm: float = 8.0,
                 min_separation_mm: float = 30.0) -> np.ndarray:
    """Centres (voxel indices) for ``n`` lesions deep in white matter.

    The candidates are the WM voxels farthest from any other tissue (distance
    transform) in the axial slice with the most such voxels; centres are
    picked greedily at least ``min_separation_mm`` apart.

    Returns
    -------
    ndarray of int, shape (n, 3)
    """
    wm = phantom.labels == _LUT["WM"]
    depth = ndimage.distance_transform_edt(wm, sampling=phantom.voxel_size)
    deep = depth >= radius_mm
    if not deep.any():
        raise ValueError(f"no WM voxel lies {radius_mm} mm from other tissue")
    z = int(np.argmax(deep.sum(axis=(0, 1))))
    cand = np.argwhere(deep[:, :, z])
    order = np.argsort(-depth[cand[:, 0], cand[:, 1], z], kind="stable")
    chosen = []
    for i in order:
        p = cand[i] * np.asarray(phantom.voxel_size[:2])
        if all(np.linalg.norm(p - q * np.asarray(phantom.voxel_size[:2])) >= min_separation_mm
               for q in chosen):
            chosen.append(cand[i])
        if len(chosen) == n:
            break
    if len(chosen) < n:
        raise ValueError(f"only {len(chosen)} sites found {min_separation_mm} mm apart")
    return np.array([[x, y, z] for x, y in sorted(chosen, key=lambda c: (c[1], c[0]))])


def _distance(shape, center, voxel_size) -> np.ndarray:
    grids = np.meshgrid(*[(np.arange(n) - c) * v for n, c, v in zip(shape, center, voxel_size)],
                        indexing="ij")
    return np.sqrt(sum(g ** 2 for g in grids))


def insert_lesions(phantom: Phantom, *, stages=STAGES, centers=None, radius_mm: float = 6.0,
                   rim_mm: float = 2.0, changes: pd.DataFrame | None = None):
    """Insert one spherical lesion per stage.

    Parameters
    ----------
    phantom : Phantom
    stages : sequence of str
        Stages from :data:`STAGES` (one lesion each).
    centers : array_like of int, shape (len(stages), 3), optional
        Default: :func:`lesion_sites`.
    radius_mm : float
        Core radius.
    rim_mm : float
        Rim thickness (only stages with ``rim`` rows in ``changes``).
    changes : DataFrame, optional
        Default: :func:`load_lesion_changes`.

    Returns
    -------
    lesioned : Phantom
        Copy with modified maps; relative (percent) changes scale the NAWM
        value, absolute ones are added to it.
    lesion_map : ndarray of int
        0 outside lesions; ``i + 1`` in the core and ``-(i + 1)`` in the rim
        of lesion ``i``.
    info : DataFrame
        One row per lesion: ``stage``, ``x``, ``y``, ``z``, ``n_core``, ``n_rim``.
    """
    stages = list(stages)
    bad = set(stages) - set(STAGES)
    if bad:
        raise ValueError(f"unknown lesion stages {sorted(bad)}; choose from {STAGES}")
    if not radius_mm > 0 or rim_mm < 0:
        raise ValueError("radius_mm must be > 0 and rim_mm >= 0")
    changes = load_lesion_changes() if changes is None else changes
    if centers is None:
        centers = lesion_sites(phantom, n=len(stages), radius_mm=radius_mm + rim_mm)
    centers = np.asarray(centers, dtype=int)
    if centers.shape != (len(stages), 3):
        raise ValueError(f"centers must have shape ({len(stages)}, 3), got {centers.shape}")
    out = phantom.copy()
    lesion_map = np.zeros(phantom.shape, dtype=np.int16)
    rows = []
    for i, (stage, c) in enumerate(zip(stages, centers)):
        dist = _distance(phantom.shape, c, phantom.voxel_size)
        core = dist <= radius_mm
        has_rim = ((changes["stage"] == stage) & (changes["compartment"] == "rim")).any()
        rim = (dist > radius_mm) & (dist <= radius_mm + rim_mm) if has_rim and rim_mm > 0 else \
            np.zeros_like(core)
        if np.any(lesion_map[core | rim] != 0):
            raise ValueError(f"lesion {i} ({stage}) overlaps another lesion")
        lesion_map[core] = i + 1
        lesion_map[rim] = -(i + 1)
        for comp, sel in (("core", core), ("rim", rim)):
            if not sel.any():
                continue
            rows_c = changes[(changes["stage"] == stage) & (changes["compartment"] == comp)]
            for _, r in rows_c.iterrows():
                par = r["parameter"]
                base = phantom.maps[par][sel]
                if r["unit"] == "percent of NAWM":
                    out.maps[par][sel] = base * (1 + r["change"] / 100.0)
                else:
                    out.maps[par][sel] = base + r["change"]
        rows.append(dict(stage=stage, x=int(c[0]), y=int(c[1]), z=int(c[2]),
                         n_core=int(core.sum()), n_rim=int(rim.sum())))
    if np.any(out.maps["R1"][phantom.mask] <= 0) or np.any(out.maps["R2s"][phantom.mask] < 0):
        raise ValueError("lesion changes produced a non-positive R1 or negative R2*")
    return out, lesion_map, pd.DataFrame(rows)


def radial_profile(volume: np.ndarray, center, *, voxel_size=(2.0, 2.0, 2.0), max_radius_mm: float = 20.0,
                   step_mm: float = 2.0, in_plane: bool = True) -> pd.Series:
    """Mean of ``volume`` over shells of equal distance from ``center``.

    Parameters
    ----------
    volume : ndarray, shape (X, Y, Z)
    center : sequence of 3 int
    in_plane : bool, default True
        Use only the axial slice through the centre (as one reads a profile
        off an image); else the full 3D shells.

    Returns
    -------
    pandas.Series
        Index: shell centre distance (mm); values: mean (NaN for empty shells).
    """
    volume = np.asarray(volume, dtype=float)
    if volume.ndim != 3:
        raise ValueError(f"volume must be 3D, got shape {volume.shape}")
    if not (max_radius_mm > 0 and step_mm > 0):
        raise ValueError("max_radius_mm and step_mm must be positive")
    if in_plane:
        z = int(center[2])
        vol = volume[:, :, z:z + 1]
        dist = _distance(vol.shape, (center[0], center[1], 0), voxel_size)
    else:
        vol = volume
        dist = _distance(volume.shape, center, voxel_size)
    edges = np.arange(0.0, max_radius_mm + step_mm, step_mm)
    idx = np.digitize(dist, edges) - 1
    finite = np.isfinite(vol)
    vals = {}
    for k in range(len(edges) - 1):
        sel = (idx == k) & finite
        vals[round(float(edges[k] + step_mm / 2), 3)] = float(vol[sel].mean()) if sel.any() else np.nan
    out = pd.Series(vals, name="mean")
    out.index.name = "distance_mm"
    return out


def lesion_only(lesioned: Phantom, original: Phantom, *, parameter: str = "chi") -> np.ndarray:
    """The lesions' change of one map alone: ``lesioned - original`` (zero outside lesions).

    A control for reconstructions: the field of this volume contains no
    anatomy, so whatever a reconstruction does to the lesions here is not
    cross-talk from the surrounding tissue.

    Returns
    -------
    ndarray, shape (X, Y, Z)
        In the parameter's unit (ppm for ``chi``).
    """
    if not isinstance(lesioned, Phantom) or not isinstance(original, Phantom):
        raise TypeError("lesioned and original must be Phantom objects")
    if lesioned.shape != original.shape:
        raise ValueError(f"mismatched shapes: lesioned {lesioned.shape} vs original {original.shape}")
    if parameter not in original.maps:
        raise ValueError(f"parameter must be one of {sorted(original.maps)}, got {parameter!r}")
    return np.asarray(lesioned.maps[parameter], float) - np.asarray(original.maps[parameter], float)


def _shell(lesion_map, i, wm, lo, hi, voxel_size) -> np.ndarray:
    """Voxels of ``wm`` more than ``lo`` and at most ``hi`` mm from lesion ``i`` (core and rim).

    The distance transform runs on the lesion's bounding box grown by ``hi`` (plus one voxel)
    instead of the whole grid: every voxel within ``hi`` of the lesion lies in that box, and a
    voxel's distance to the lesion's nearest voxel does not depend on the grid around them, so
    the shell is the same voxels (a test compares it with the whole-grid transform).
    """
    sel = np.abs(lesion_map) == i
    vs = np.broadcast_to(np.asarray(voxel_size, dtype=float), (lesion_map.ndim,))
    box = []
    for ax in range(lesion_map.ndim):
        hit = np.flatnonzero(sel.any(axis=tuple(a for a in range(lesion_map.ndim) if a != ax)))
        grow = int(np.ceil(hi / vs[ax])) + 1
        box.append(slice(max(hit[0] - grow, 0), min(hit[-1] + grow + 1, lesion_map.shape[ax])))
    box = tuple(box)
    dist = ndimage.distance_transform_edt(~sel[box], sampling=voxel_size)
    ref = np.zeros(lesion_map.shape, dtype=bool)
    ref[box] = wm[box] & (dist > lo) & (dist <= hi)
    return ref


def lesion_contrast(volume: np.ndarray, lesion_map: np.ndarray, *, reference="shell", labels=None,
                    shell_mm=(4.0, 10.0), voxel_size=(2.0, 2.0, 2.0)) -> pd.Series:
    """Mean of ``volume`` in each lesion core minus its reference.

    Parameters
    ----------
    volume : ndarray, shape (X, Y, Z)
    lesion_map : ndarray of int, same shape
        As from :func:`insert_lesions`: ``i + 1`` in the core and ``-(i + 1)``
        in the rim of lesion ``i``, 0 elsewhere.
    reference : {"shell", "nawm"} or ndarray of bool
        ``"shell"``: the lesion's local surround, voxels between
        ``shell_mm[0]`` and ``shell_mm[1]`` from the lesion (core and rim),
        outside every lesion and, if ``labels`` is given, in white matter;
        ``"nawm"``: all white matter outside lesions (needs ``labels``);
        or a boolean mask used for every lesion.
    labels : ndarray of int, optional
        Tissue labels (:data:`qmrigenes.phantom.TISSUES`).
    shell_mm : (float, float)
        Inner and outer distance of the shell from the lesion, mm.

    Returns
    -------
    pandas.Series
        Index lesion number (1-based); core mean minus reference mean, in the
        unit of ``volume``.
    """
    volume = np.asarray(volume, dtype=float)
    lesion_map = np.asarray(lesion_map)
    if volume.ndim != 3 or lesion_map.shape != volume.shape:
        raise ValueError(f"mismatched shapes: volume {volume.shape} vs lesion_map {lesion_map.shape}")
    if labels is not None and np.shape(labels) != volume.shape:
        raise ValueError(f"mismatched shapes: labels {np.shape(labels)} vs volume {volume.shape}")
    ids = sorted(int(i) for i in np.unique(lesion_map) if i > 0)
    if not ids:
        raise ValueError("lesion_map has no lesion core (no positive label)")
    outside = lesion_map == 0
    wm = outside if labels is None else outside & (np.asarray(labels) == _LUT["WM"])
    if isinstance(reference, str):
        check_ref = ("shell", "nawm")
        if reference not in check_ref:
            raise ValueError(f"reference must be one of {check_ref} or a boolean mask, got {reference!r}")
        if reference == "nawm" and labels is None:
            raise ValueError("reference='nawm' needs labels")
    else:
        ref_mask = np.asarray(reference, dtype=bool)
        if ref_mask.shape != volume.shape or not ref_mask.any():
            raise ValueError("reference mask must match volume's shape and select voxels")
    lo, hi = (float(x) for x in shell_mm)
    if not 0 <= lo < hi:
        raise ValueError(f"shell_mm must be (inner, outer) with 0 <= inner < outer, got {shell_mm}")
    shell = isinstance(reference, str) and reference == "shell"
    if not shell:                                  # one reference for every lesion: its mean once
        ref = wm if isinstance(reference, str) else ref_mask & outside
        if not ref.any():
            raise ValueError(f"lesion {ids[0]}: empty reference region")
        ref_mean = volume[ref].mean()
    out = {}
    for i in ids:
        if shell:
            ref = _shell(lesion_map, i, wm, lo, hi, voxel_size)
            if not ref.any():
                raise ValueError(f"lesion {i}: empty reference region")
            ref_mean = volume[ref].mean()
        out[i] = float(volume[lesion_map == i].mean() - ref_mean)
    res = pd.Series(out, name="contrast")
    res.index.name = "lesion"
    return res


# --------------------------------------------------------------------------- review tables
def load_review_tables(path=None) -> pd.DataFrame:
    """The review's Tables 1 (WM) and 2 (GM) as site x parameter -> direction.

    Returns
    -------
    pandas.DataFrame
        Columns ``table`` (1 or 2), ``compartment``, ``site``, ``parameter``
        (R1, R2, R2*, PD, QSM), ``direction`` (increase / decrease / no
        change / mixed / not studied), ``encoded_from`` (``table`` or the
        review's ``text``), ``review_refs`` (reference numbers in the review),
        ``bibkeys`` and ``statement`` (our paraphrase).
    """
    table = pd.read_csv(package_file("literature/ms_review_tables.csv") if path is None else path,
                        dtype={"review_refs": str})
    allowed = {"increase", "decrease", "no change", "mixed", "not studied"}
    bad = set(table["direction"]) - allowed
    if bad:
        raise ValueError(f"unknown directions {sorted(bad)}")
    if table.duplicated(["site", "parameter"]).any():
        raise ValueError("duplicated (site, parameter) rows")
    return table


def review_direction_matrix(table: pd.DataFrame | None = None) -> pd.DataFrame:
    """Site x parameter matrix of directions (+1, -1, 0; 0.5 = mixed; NaN = not reported)."""
    table = load_review_tables() if table is None else table
    code = table["direction"].map({"increase": 1.0, "decrease": -1.0, "no change": 0.0,
                                   "mixed": 0.5, "not studied": np.nan})
    sites = list(dict.fromkeys(table["site"]))
    params = [p for p in ("R1", "R2", "R2*", "PD", "QSM") if p in set(table["parameter"])]
    mat = (table.assign(code=code).pivot(index="site", columns="parameter", values="code")
           .reindex(index=sites, columns=params))
    return mat


# --------------------------------------------------------------------------- atrophy
def simulate_atrophy(phantom: Phantom, *, nucleus: str = "caudate", volume_loss: float = 0.2,
                     fill: str = "CSF") -> Phantom:
    """Shrink a nucleus at constant iron content.

    Surface voxels (smallest distance to the nucleus boundary) are given to
    ``fill`` until the nucleus has lost ``volume_loss`` of its voxels. In
    this toy model R2* and chi of the nucleus are taken proportional to its
    iron concentration, so the remaining voxels' R2* and chi are multiplied
    by ``V0 / V1``: the iron content (mass) is unchanged, its concentration
    rises.

    Parameters
    ----------
    phantom : Phantom
    nucleus : str
        A deep-grey tissue of :data:`qmrigenes.phantom.TISSUES`.
    volume_loss : float
        Fraction of voxels lost, in [0, 0.9].
    fill : str
        Tissue that takes over the lost voxels (default CSF: ex-vacuo).

    Returns
    -------
    Phantom
    """
    if nucleus not in ("caudate", "putamen", "pallidum", "thalamus"):
        raise ValueError(f"nucleus must be a deep grey structure, got {nucleus!r}")
    if not 0 <= volume_loss <= 0.9:
        raise ValueError(f"volume_loss must be in [0, 0.9], got {volume_loss}")
    if fill not in _LUT or fill == "background":
        raise ValueError(f"unknown fill tissue {fill!r}")
    out = phantom.copy()
    sel = phantom.labels == _LUT[nucleus]
    n0 = int(sel.sum())
    n_lost = int(round(volume_loss * n0))
    if n_lost == 0:
        return out
    depth = _depth_inside(sel, phantom.voxel_size)
    idx = np.argwhere(sel)
    order = np.lexsort((idx[:, 2], idx[:, 1], idx[:, 0], depth[sel]))   # shallowest first, stable
    lost = tuple(idx[order[:n_lost]].T)
    fill_lab = _LUT[fill]
    fill_vals = {p: float(phantom.maps[p][phantom.labels == fill_lab].mean()) for p in phantom.maps}
    out.labels[lost] = fill_lab
    for p in out.maps:
        out.maps[p][lost] = fill_vals[p]
    kept = out.labels == _LUT[nucleus]
    factor = n0 / kept.sum()
    for p in ("R2s", "chi"):
        out.maps[p][kept] = phantom.maps[p][kept] * factor
    return out


def _depth_inside(sel: np.ndarray, voxel_size) -> np.ndarray:
    """Euclidean distance (mm) of each voxel of ``sel`` to the nearest voxel outside it.

    The same values as ``ndimage.distance_transform_edt(sel, sampling=voxel_size)``, computed on
    the bounding box of ``sel`` grown by one voxel: the nearest outside voxel of any voxel of
    ``sel`` always lies in that box (clamping a farther one onto the box's outer layer, which is
    outside ``sel``, brings it closer), so a small nucleus costs a small transform, not one of
    the whole head.
    """
    idx = np.argwhere(sel)
    if not idx.size:
        return np.zeros(sel.shape)
    lo = idx.min(axis=0) - 1
    hi = idx.max(axis=0) + 2
    if np.any(lo < 0) or np.any(hi > sel.shape):     # the grid's edge is not "outside": whole grid
        return ndimage.distance_transform_edt(sel, sampling=voxel_size)
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    depth = np.zeros(sel.shape)
    depth[box] = ndimage.distance_transform_edt(sel[box], sampling=voxel_size)
    return depth


def atrophy_series(phantom: Phantom, *, nucleus: str = "caudate", losses=(0.0, 0.1, 0.2, 0.3),
                   measured=None, workers=None) -> pd.DataFrame:
    """Concentration versus content of a shrinking nucleus.

    Parameters
    ----------
    phantom : Phantom
    nucleus : str
    losses : sequence of float
        Volume-loss fractions.
    measured : callable, optional
        ``measured(phantom) -> chi map`` (e.g. a QSM reconstruction); if
        given, ``chi_mean_measured`` and ``chi_mass_measured`` are added.
        With more than one worker it is called from several threads at once, so it must not
        change shared state; one that draws noise from a shared random generator needs
        ``workers=1`` (else the draws' order, and so the result, depends on the threads).
    workers : int or None, default None
        Threads for the volume losses (independent, side by side on the cores): ``None`` or
        ``-1`` every available core, ``1`` a serial loop; the table is the same bit for bit.

    Returns
    -------
    pandas.DataFrame
        Index ``volume_loss``; columns ``volume_ml``, ``R2s_mean`` (1/s),
        ``R2s_mass`` (1/s x mL: sum of R2* times voxel volume),
        ``chi_mean`` (ppm) and ``chi_mass`` (ppm x mL).
    """
    voxel_ml = float(np.prod(phantom.voxel_size)) / 1000.0
    n_workers(workers)                                    # a clear error before any work

    def one(loss):
        ph = simulate_atrophy(phantom, nucleus=nucleus, volume_loss=loss)
        sel = ph.labels == _LUT[nucleus]
        row = dict(volume_loss=float(loss), volume_ml=sel.sum() * voxel_ml,
                   R2s_mean=float(ph.maps["R2s"][sel].mean()),
                   R2s_mass=float(ph.maps["R2s"][sel].sum() * voxel_ml),
                   chi_mean=float(ph.maps["chi"][sel].mean()),
                   chi_mass=float(ph.maps["chi"][sel].sum() * voxel_ml))
        if measured is not None:
            chi_hat = measured(ph)
            row["chi_mean_measured"] = float(chi_hat[sel].mean())
            row["chi_mass_measured"] = float(chi_hat[sel].sum() * voxel_ml)
        return row

    rows = thread_map(one, losses, workers=workers)
    return pd.DataFrame(rows).set_index("volume_loss")
