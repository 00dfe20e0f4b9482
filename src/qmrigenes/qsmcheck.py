"""Solver-independent checks of a regularised QSM solution.

:func:`qmrigenes.qsm.tikhonov_optimality` evaluates the gradient of the
Tikhonov objective with the solver's own normal operator, so it cannot catch an
error in that operator. The functions here re-implement the objective from its
definition — the dipole field by a full complex FFT with its own k-space grid,
the gradient penalty by forward differences in image space (``numpy.roll``) —
and probe optimality with finite differences of the objective *value* along
directions, never with the solver's operator:

* :func:`tikhonov_objective` — ``1/2 ||W^1/2 (D chi - f)||^2 + lam/2 ||grad chi||^2``;
* :func:`remaining_decrease` — along each direction ``v``, how much of the total
  decrease ``J(0) - J(chi)`` a line search from ``chi`` could still gain
  (0 at the minimiser). The objective is quadratic, so the central differences
  used are exact up to rounding. :func:`remaining_decreases` checks several
  candidates of one problem at once.

Any solver's output can be checked, e.g. after a change of its stopping rule.
"""
from __future__ import annotations

import numpy as np

from ._threads import n_workers, thread_map
from ._validate import as_array, check_int, check_scalar

__all__ = ["tikhonov_objective", "remaining_decrease", "remaining_decreases", "probe_directions"]


def _dipole_full(shape, voxel_size, b0_dir) -> np.ndarray:
    """``1/3 - (k.b0)^2/|k|^2`` on the full complex-FFT grid (``numpy.fft``), 0 at k = 0."""
    b0 = np.asarray(b0_dir, float)
    b0 = b0 / np.linalg.norm(b0)
    k = np.meshgrid(*[np.fft.fftfreq(n, d) for n, d in zip(shape, voxel_size)], indexing="ij")
    k2 = k[0] ** 2 + k[1] ** 2 + k[2] ** 2
    kb = k[0] * b0[0] + k[1] * b0[1] + k[2] * b0[2]
    out = np.zeros(shape)
    nz = k2 > 0
    out[nz] = 1.0 / 3.0 - kb[nz] ** 2 / k2[nz]
    return out


class _Objective:
    """The Tikhonov objective of one problem, evaluated from a candidate and its dipole field.

    ``J`` depends on ``chi`` only through ``chi`` and its dipole field ``D chi``, and ``D`` is
    linear: along a line ``chi + t v`` the dipole field is ``D chi + t D v``. Keeping ``D chi``
    and ``D v`` makes every objective value of a finite-difference probe cost no FFT.
    """

    def __init__(self, field, mask, *, lam, weight, voxel_size, b0_dir):
        self.field = as_array(field, "field", ndim=3)
        if np.shape(mask) != self.field.shape:
            raise ValueError(f"field {self.field.shape} and mask {np.shape(mask)} must have one shape")
        self.lam = check_scalar(lam, "lam", min=0.0)
        w = np.asarray(mask, bool).astype(float)
        if weight is not None:
            w = w * as_array(weight, "weight", ndim=3)
        self.w = w
        self.voxel_size = tuple(voxel_size)
        self.d = _dipole_full(self.field.shape, voxel_size, b0_dir)

    def dipole(self, chi: np.ndarray) -> np.ndarray:
        """``D chi``: the periodic dipole convolution by a full complex FFT."""
        return np.real(np.fft.ifftn(np.fft.fftn(chi) * self.d))

    def value(self, chi: np.ndarray, dchi: np.ndarray) -> float:
        """``J(chi)`` given ``dchi = D chi``."""
        data = 0.5 * float(np.sum(self.w * (dchi - self.field) ** 2))
        reg = sum(float(np.sum(((np.roll(chi, -1, axis=i) - chi) / h) ** 2)) for i, h in enumerate(self.voxel_size))
        return data + 0.5 * self.lam * reg


def tikhonov_objective(chi: np.ndarray, field: np.ndarray, mask, *, lam: float = 1e-2, weight=None,
                       voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0)) -> float:
    """The Tikhonov objective of :func:`qmrigenes.qsm.tikhonov_cg`, computed from its definition.

    ``J(chi) = 1/2 sum W (D chi - f)^2 + lam/2 sum_i ((chi(x + e_i) - chi(x)) / h_i)^2``, with the
    periodic dipole convolution ``D`` applied by a full complex FFT and periodic forward
    differences in image space (``h_i`` the voxel size, mm).

    Parameters
    ----------
    chi, field : ndarray, shape (X, Y, Z)
        Susceptibility and local field (ppm), on the whole grid.
    mask : ndarray of bool, same shape
        ``W`` = mask (times ``weight``).
    lam : float
    weight : ndarray, optional

    Returns
    -------
    float

    Examples
    --------
    >>> f = np.zeros((8, 8, 8)); m = np.ones_like(f, bool)
    >>> tikhonov_objective(np.zeros_like(f), f, m)
    0.0
    """
    chi = as_array(chi, "chi", ndim=3)
    field = as_array(field, "field", ndim=3)
    if chi.shape != field.shape or np.shape(mask) != field.shape:
        raise ValueError(f"chi {chi.shape}, field {field.shape} and mask {np.shape(mask)} must have one shape")
    objective = _Objective(field, mask, lam=lam, weight=weight, voxel_size=voxel_size, b0_dir=b0_dir)
    return objective.value(chi, objective.dipole(chi))


def probe_directions(shape, mask, *, n_random: int = 4, smooth_voxels: float = 3.0, seed: int = 0) -> list:
    """Directions for :func:`remaining_decrease`: white and smooth random fields inside ``mask``.

    Smooth fields matter: the slowest-converging components of a regularised QSM solve are
    smooth and lie near the magic-angle cone, which white noise hardly probes.
    """
    from scipy.ndimage import gaussian_filter

    n_random = check_int(n_random, "n_random", min=1, max=100)
    rng = np.random.default_rng(seed)
    m = np.asarray(mask, bool)
    dirs = []
    for k in range(n_random):
        v = rng.normal(size=shape)
        if k % 2:
            v = gaussian_filter(v, smooth_voxels, mode="wrap")
        dirs.append(np.where(m, v, 0.0))
    return dirs


def remaining_decrease(chi: np.ndarray, field: np.ndarray, mask, *, lam: float = 1e-2, directions=None,
                       weight=None, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0), seed: int = 0) -> np.ndarray:
    """Share of the total objective decrease still available along each direction (0 at the optimum).

    For a quadratic ``J`` and direction ``v``, the central differences
    ``g = (J(chi + h v) - J(chi - h v)) / 2h`` and
    ``c = (J(chi + h v) + J(chi - h v) - 2 J(chi)) / h^2`` are the exact slope and curvature,
    and a line search from ``chi`` could lower ``J`` by ``g^2 / 2c``. This returns
    ``(g^2 / 2c) / (J(0) - J(chi))``: 0 at the minimiser, 1 when ``chi = 0`` and ``v`` points at
    the minimiser. Only objective values (:func:`tikhonov_objective`) are used.

    Parameters
    ----------
    chi : ndarray, shape (X, Y, Z)
        Candidate solution on the whole grid (ppm; the minimiser may be non-zero outside the mask).
    field, mask, lam, weight, voxel_size, b0_dir
        As :func:`tikhonov_objective`.
    directions : list of ndarray, optional
        Default: ``chi`` itself plus :func:`probe_directions` (``seed``).

    Returns
    -------
    numpy.ndarray, shape (n_directions,)

    Examples
    --------
    >>> from qmrigenes.qsm import tikhonov_cg, forward_field                   # doctest: +SKIP
    >>> chi, _ = tikhonov_cg(f, m, lam=1e-2, tol=1e-8, masked_output=False)    # doctest: +SKIP
    >>> remaining_decrease(chi, f, m, lam=1e-2).max() < 1e-8                   # doctest: +SKIP
    True
    """
    return remaining_decreases([chi], field, mask, lam=lam, directions=directions, weight=weight,
                               voxel_size=voxel_size, b0_dir=b0_dir, seed=seed)[0]


def remaining_decreases(chis, field: np.ndarray, mask, *, lam: float = 1e-2, directions=None, weight=None,
                        voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0), seed: int = 0,
                        workers=None) -> list:
    """:func:`remaining_decrease` of several candidates of one problem (e.g. one solve at several
    stopping rules), sharing the work they have in common.

    The objective values are those of :func:`tikhonov_objective`, with the dipole field of each
    probe point ``chi +- h v`` formed as ``D chi +- h D v`` (``D`` is linear): one FFT pair per
    candidate and one per probe direction, shared by all candidates, instead of two per direction
    and candidate.

    Parameters
    ----------
    chis : sequence of ndarray, each shape (X, Y, Z)
        Candidate solutions on the whole grid (ppm).
    field, mask, lam, directions, weight, voxel_size, b0_dir, seed
        As :func:`remaining_decrease`; each candidate is probed along itself and ``directions``
        (default :func:`probe_directions`).
    workers : int or None, default None
        Threads for the dipole fields (one per candidate and direction) and for the candidates'
        probes, which do not depend on each other (numpy's FFTs and elementwise passes release
        the GIL): ``None`` or ``-1`` every available core, ``1`` a serial loop. Each value is
        computed by the same code either way, so the results are the same bit for bit.

    Returns
    -------
    list of numpy.ndarray, each shape (n_directions,)
        One array per candidate, in the order of ``chis``.

    Examples
    --------
    >>> from qmrigenes import qsm
    >>> chi = np.zeros((8, 8, 8)); chi[3:5, 3:5, 3:5] = 0.1; m = np.ones_like(chi, bool)
    >>> rows = remaining_decreases([chi, 0.5 * chi], qsm.forward_field(chi), m, lam=1e-3, workers=2)
    >>> [r.shape for r in rows]                    # the candidate itself and 4 probe directions
    [(5,), (5,)]
    """
    n_workers(workers)                                   # a clear error before any work
    objective = _Objective(field, mask, lam=lam, weight=weight, voxel_size=voxel_size, b0_dir=b0_dir)
    chis = [as_array(chi, "chi", ndim=3) for chi in chis]
    for chi in chis:
        if chi.shape != objective.field.shape:
            raise ValueError(f"chi {chi.shape} and field {objective.field.shape} must have one shape")
    own = directions is None      # each candidate along itself first, then the shared probes
    if own:
        directions = probe_directions(objective.field.shape, mask, seed=seed) if chis else []
    directions = [as_array(v, "directions[i]", ndim=3) for v in directions]
    fields = thread_map(objective.dipole, directions + chis, workers=workers)
    shared, dchis = fields[:len(directions)], fields[len(directions):]
    zero = np.zeros(objective.field.shape)
    j0 = objective.value(zero, zero)

    def check(item):
        chi, dchi = item
        jx = objective.value(chi, dchi)
        total = j0 - jx
        if not total > 0:
            raise ValueError(f"chi does not lower the objective below J(0) = {j0:.6g} (J(chi) = {jx:.6g})")
        probes = ([(chi, dchi)] if own else []) + list(zip(directions, shared))
        norm = np.linalg.norm(chi)
        row = []
        for v, dv in probes:
            h = norm / max(np.linalg.norm(v), 1e-300)
            jp = objective.value(chi + h * v, dchi + h * dv)
            jm = objective.value(chi - h * v, dchi - h * dv)
            g = (jp - jm) / (2 * h)
            c = (jp + jm - 2 * jx) / h ** 2
            row.append(g * g / (2 * c) / total if c > 0 else 0.0)
        return np.array(row)

    return thread_map(check, list(zip(chis, dchis)), workers=workers)
