"""Fast dipole inversions for real data: closed-form Tikhonov, TV by ADMM, L-curve selection.

Complements :mod:`qmrigenes.qsm` (the dipole kernel, TKD and the mask-weighted
Tikhonov solve by conjugate gradients) with the methods a full-size (e.g.
160^3) in vivo field needs in seconds:

* :func:`tikhonov_closed_form` -- ``min ||D chi - f||^2 + lam ||R chi||^2`` over
  the whole grid, with ``R`` the gradient or the identity: one FFT pair
  (Bilgic et al. 2014).
* :func:`tv_admm` -- ``min 1/2 ||M (D chi - f)||^2 + lam TV(chi)`` (isotropic
  total variation, mask-weighted data term) by ADMM with closed-form updates:
  a k-space division for chi, a voxel-wise formula for the data split and a
  shrinkage for the gradient split (the variable splitting of Bilgic et al.
  2014 with the data-term split of FANSI, Milovic et al. 2018).
  :func:`tv_optimality` checks the result against the problem's optimality
  conditions.
* :func:`l_curve` and :func:`l_curve_corner` -- the L-curve (data misfit
  against regulariser norm over a parameter sweep) and its point of maximum
  curvature in log-log axes, a rule that chooses the parameter without a
  reference.

Conventions are those of :mod:`qmrigenes.qsm`: the field and chi in ppm, the
dipole ``D(k) = 1/3 - (k.b0)^2/|k|^2`` on a periodic grid, forward
differences per mm. Computations run in ``dtype`` (float32 by default; the
tests bound its effect on the closed form at 1e-5 of the result's norm) with
real FFTs.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import scipy.fft as sfft

from ._validate import as_array, check_choice, check_int, check_scalar, check_voxel_size
from ._threads import fft_workers, n_workers, thread_map
from .qsm import _WORKERS as _QSM_WORKERS
from .qsm import (_blas_single_thread, _c_order, _check_mask, _check_tkd_threshold,
                  _half_spectrum_weights, _tkd_filter, dipole_kernel)

__all__ = ["tikhonov_closed_form", "KspaceInversions", "tv_admm", "tv_objective", "tv_optimality", "l_curve",
           "l_curve_corner", "gradient_symbol", "misfit_and_roughness"]

_WORKERS = fft_workers()      # -1 (every core) unless $QMRIGENES_NUM_THREADS caps it


def _prep(field, mask, dtype):
    field = as_array(field, "field", ndim=3)
    if min(field.shape) < 2:
        raise ValueError(f"field: QSM needs a 3D grid with at least 2 voxels per axis, got {field.shape}")
    if mask is not None:
        m = _check_mask(mask, field.shape)
        if not m.any():
            raise ValueError("mask must select at least one voxel, got an empty mask")
        field = np.where(m, field, 0.0)
        mask = _c_order(m)
    dtype = _check_dtype(dtype)
    return _c_order(field).astype(dtype), mask, dtype       # C order: see qsm._c_order


def _check_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


def _voxel(voxel_size):
    return tuple(check_voxel_size(voxel_size).tolist())


def gradient_symbol(shape, *, voxel_size=(1.0, 1.0, 1.0)) -> np.ndarray:
    """``|G(k)|^2`` of periodic forward differences (per mm^2), real-FFT half spectrum."""
    vs = _voxel(voxel_size)
    freqs = [sfft.fftfreq(shape[0]), sfft.fftfreq(shape[1]), sfft.rfftfreq(shape[2])]
    out = np.zeros((shape[0], shape[1], shape[2] // 2 + 1))
    for axis, (f, v) in enumerate(zip(freqs, vs)):
        s = [1, 1, 1]
        s[axis] = f.size
        out = out + ((2 - 2 * np.cos(2 * np.pi * f)) / v ** 2).reshape(s)
    return out


def tikhonov_closed_form(field, *, lam: float, regulariser: str = "gradient", mask=None,
                         voxel_size=(1.0, 1.0, 1.0), b0_dir=(0.0, 0.0, 1.0), dtype=np.float32,
                         masked_output: bool = True) -> np.ndarray:
    """Closed-form Tikhonov dipole inversion over the whole grid (one FFT pair).

    Solves ``min_chi ||D chi - f||^2 + lam ||R chi||^2`` on the periodic grid,
    ``chi = F^-1[ D F(f) / (D^2 + lam |R|^2) ]``, with ``R`` the forward-difference
    gradient (``regulariser="gradient"``, per mm) or the identity. The field is
    zeroed outside ``mask`` first; the data term is unweighted (every voxel of
    the grid counts, with field 0 outside the mask), which is what makes the
    closed form possible -- :func:`qmrigenes.qsm.tikhonov_cg` weights the data
    term by the mask instead.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    lam : float
        Regularisation weight (> 0). With the gradient, in mm^2.
    regulariser : {"gradient", "identity"}
    mask : ndarray of bool, optional
        Brain mask: zeroes the field outside before and chi outside after
        (``masked_output``).
    voxel_size : tuple of 3 float
        mm.
    b0_dir : tuple of 3 float
        B0 direction in array axes.
    dtype : numpy dtype, default float32
    masked_output : bool, default True

    Returns
    -------
    ndarray, shape (X, Y, Z)
        Susceptibility (ppm, in ``dtype``); its mean over the grid is 0 (the
        k = 0 component is unseen by both terms).

    Examples
    --------
    >>> from qmrigenes import qsm
    >>> chi = np.zeros((16, 16, 16)); chi[6:10, 6:10, 6:10] = 0.1
    >>> f = qsm.forward_field(chi, voxel_size=(1, 1, 1))
    >>> est = tikhonov_closed_form(f, lam=1e-6, dtype=np.float64)
    >>> bool(np.abs(qsm.forward_field(est, voxel_size=(1, 1, 1)) - f).max() < 1e-5)  # fits the field
    True

    χ itself is recovered only off the dipole cone, where the field carries it.
    """
    lam = check_scalar(lam, "lam", min=0.0, min_inclusive=False)
    inv = KspaceInversions(field, mask=mask, voxel_size=voxel_size, b0_dir=b0_dir, regulariser=regulariser,
                           dtype=dtype)
    chi = inv.tikhonov(lam)
    if inv.mask is not None and masked_output:
        chi = np.where(inv.mask, chi, 0).astype(inv.dtype)
    return chi


class KspaceInversions:
    """The closed-form k-space inversions of one field, its spectrum computed once (for sweeps).

    ``tkd(threshold)`` is :func:`qmrigenes.qsm.tkd` of the field zeroed outside
    ``mask`` (on the whole grid, no output mask) and ``tikhonov(lam)`` is
    :func:`tikhonov_closed_form` (``masked_output=False``), bit for bit: the
    same operations, except that the field's forward FFT (and the dipole, the
    regulariser's symbol and ``D^2``) are computed once, here, instead of once
    per call. Each call then costs one inverse FFT and a few passes over the
    half spectrum: what a parameter sweep (:func:`l_curve`) repeats.
    :meth:`l_curve` runs that sweep and puts each map on the L-curve from the
    spectrum it has just inverted (no forward FFT of the map).

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    mask : ndarray of bool, optional
        The field is zeroed outside it first (it is unknown there).
    voxel_size : tuple of 3 float
        mm.
    b0_dir : tuple of 3 float
        B0 direction in array axes.
    regulariser : {"gradient", "identity"}
        Of :meth:`tikhonov`.
    dtype : numpy dtype, default float32
        Of :meth:`tikhonov` (as :func:`tikhonov_closed_form`); :meth:`tkd` is
        float64, as :func:`qmrigenes.qsm.tkd`.

    Examples
    --------
    >>> from qmrigenes import qsm
    >>> chi = np.zeros((16, 16, 16)); chi[6:10, 6:10, 6:10] = 0.1
    >>> f = qsm.forward_field(chi, voxel_size=(1, 1, 1))
    >>> inv = KspaceInversions(f, voxel_size=(1, 1, 1))
    >>> [bool(np.array_equal(inv.tkd(t), qsm.tkd(f, threshold=t, voxel_size=(1, 1, 1)))) for t in (0.1, 0.2)]
    [True, True]
    >>> bool(np.array_equal(inv.tikhonov(1e-2), tikhonov_closed_form(f, lam=1e-2, voxel_size=(1, 1, 1))))
    True
    """

    def __init__(self, field, *, mask=None, voxel_size=(1.0, 1.0, 1.0), b0_dir=(0.0, 0.0, 1.0),
                 regulariser: str = "gradient", dtype=np.float32):
        check_choice(regulariser, "regulariser", ("gradient", "identity"))
        self.dtype = _check_dtype(dtype)
        self.field, self.mask, _ = _prep(field, mask, np.float64)
        self.voxel_size, self.b0_dir = _voxel(voxel_size), b0_dir
        self.shape = self.field.shape
        self.regulariser = regulariser
        self._spec = {}                         # the field's spectrum per dtype, computed on first use
        self.d = dipole_kernel(self.shape, voxel_size=self.voxel_size, b0_dir=b0_dir)
        self._d2 = self._reg = None

    def _spectrum(self, dtype):
        dtype = np.dtype(dtype)
        if dtype not in self._spec:
            if dtype == np.float64:             # qsm.tkd's transform (qsm._apply_kspace)
                self._spec[dtype] = sfft.rfftn(self.field, workers=_QSM_WORKERS)
            else:                               # tikhonov_closed_form's, of the field in dtype
                self._spec[dtype] = sfft.rfftn(self.field.astype(dtype), workers=_WORKERS)
        return self._spec[dtype]

    def tkd(self, threshold: float) -> np.ndarray:
        """:func:`qmrigenes.qsm.tkd` of the (masked) field at ``threshold`` (ppm, float64, whole grid)."""
        return self._tkd(threshold)[0]

    def tikhonov(self, lam: float) -> np.ndarray:
        """:func:`tikhonov_closed_form` of the field at ``lam`` (ppm, in ``dtype``, whole grid)."""
        return self._tikhonov(lam)[0]

    def _tkd(self, threshold):
        """The TKD map and its half spectrum (the product its inverse FFT was given)."""
        threshold = _check_tkd_threshold(threshold)
        inv = _tkd_filter(self.d, threshold)    # qsm.tkd's filter, on the spectrum computed once
        spec = self._spectrum(np.float64) * inv
        return sfft.irfftn(spec, s=self.shape, workers=_QSM_WORKERS), spec

    def _tikhonov(self, lam):
        """The closed-form map and its half spectrum (the product its inverse FFT was given)."""
        lam = check_scalar(lam, "lam", min=0.0, min_inclusive=False)
        if self._d2 is None:
            self._d2 = self.d ** 2
            self._reg = (gradient_symbol(self.shape, voxel_size=self.voxel_size)
                         if self.regulariser == "gradient" else 1.0)
        d = self.d
        den = self._d2 + lam * self._reg
        filt = np.where(den > 0, d / np.where(den > 0, den, 1.0), 0.0).astype(self.dtype)
        spec = self._spectrum(self.dtype) * filt
        return sfft.irfftn(spec, s=self.shape, workers=_WORKERS), spec

    def l_curve(self, method: str, params, *, regulariser: str = "gradient", score=None, keep=None,
                output_mask=None, workers=None) -> dict:
        """:func:`l_curve` of :meth:`tkd` or :meth:`tikhonov` over ``params``, one transform fewer per map.

        The sweep, the maps, ``score``, ``keep`` and the returned dict are those of
        ``l_curve(self.tkd, self.field, self.mask, params, voxel_size=..., b0_dir=..., ...)``
        (or ``self.tikhonov``), except that each map's misfit ``||M (D chi - f)||``
        and gradient roughness are computed from the half spectrum that the
        inversion has just inverted (the field's spectrum times the method's
        filter), instead of a forward FFT of the map: a map made in k-space
        needs no transform back. Those two norms agree with :func:`l_curve`'s to
        rounding (the round trip ``rfftn(irfftn(X))`` that is skipped: about
        1e-15 relative for TKD's float64 maps, 1e-7 for float32 closed-form
        maps, whose forward FFT would be float32); the scores and kept maps are
        identical.

        Parameters
        ----------
        method : {"tkd", "tikhonov"}
            :meth:`tkd` (``params`` are thresholds) or :meth:`tikhonov`
            (``params`` are lambdas).
        params : sequence of float, strictly monotonic
        regulariser, score, keep, output_mask, workers
            As :func:`l_curve`.

        Returns
        -------
        dict
            As :func:`l_curve`: ``table`` (indexed by ``param``), ``corner``,
            ``best``, ``kept``.

        Examples
        --------
        >>> from qmrigenes import qsm
        >>> chi = np.zeros((16, 16, 16)); chi[5:11, 6:10, 6:10] = 0.1
        >>> f = qsm.forward_field(chi, voxel_size=(1, 1, 1))
        >>> inv = KspaceInversions(f, voxel_size=(1, 1, 1), dtype=np.float64)
        >>> lams = np.logspace(-3, 0, 7)
        >>> sweep = inv.l_curve("tikhonov", lams)
        >>> plain = l_curve(inv.tikhonov, f, None, lams, voxel_size=(1, 1, 1))
        >>> norms = ["misfit", "roughness"]
        >>> bool(np.allclose(sweep["table"][norms], plain["table"][norms], rtol=1e-12, atol=0))
        True
        >>> sweep["best"] == plain["best"]
        True
        """
        check_choice(method, "method", ("tkd", "tikhonov"))
        recon = self._tkd if method == "tkd" else self._tikhonov
        return _l_curve(recon, self.field, self.mask, params, voxel_size=self.voxel_size, b0_dir=self.b0_dir,
                        regulariser=regulariser, score=score, keep=keep, output_mask=output_mask,
                        workers=workers, with_spectrum=True)


def misfit_and_roughness(chi, field, mask=None, *, voxel_size=(1.0, 1.0, 1.0), b0_dir=(0.0, 0.0, 1.0),
                         regulariser: str = "gradient") -> tuple[float, float]:
    """The two L-curve norms of a reconstruction: ``||M (D chi - f)||`` and ``||R chi||``.

    ``R`` is the forward-difference gradient (per mm) or the identity; with
    ``mask`` the misfit is counted inside the mask only (the field is unknown
    outside). ``regulariser="tv"`` gives the total variation ``sum |grad chi|``
    instead of the gradient's 2-norm.

    The gradient norm is evaluated from the spectrum of ``chi`` that the misfit
    computes anyway (Parseval: ``||grad chi||^2 = sum_k |G(k)|^2 |X(k)|^2 / N``,
    accumulated in float64), not from image-space differences: the same value
    to rounding (1e-15 relative in float64; for a float32 map more accurate than
    a float32 image-space norm), about 0.12 s less per 160^3 map.

    Parameters
    ----------
    chi : ndarray, shape (X, Y, Z)
        Susceptibility on the whole grid (ppm), float32 or float64.
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    mask : ndarray of bool, optional
        Voxels where the field is known.
    voxel_size : tuple of 3 float
        mm.
    b0_dir : tuple of 3 float
        B0 direction in array axes.
    regulariser : {"gradient", "identity", "tv"}

    Returns
    -------
    misfit : float
        ppm (times sqrt of the voxel count).
    roughness : float
        ppm/mm for the gradient and TV, ppm for the identity.

    Examples
    --------
    >>> chi = np.zeros((8, 8, 8)); chi[4, 4, 4] = 1.0
    >>> misfit, rough = misfit_and_roughness(chi, np.zeros((8, 8, 8)))
    >>> round(rough, 6)        # six unit differences
    2.44949
    """
    check_choice(regulariser, "regulariser", ("gradient", "identity", "tv"))
    return _LCurveNorms(field, mask, voxel_size=voxel_size, b0_dir=b0_dir, regulariser=regulariser)(chi)


class _LCurveNorms:
    """:func:`misfit_and_roughness` against one field: the masked field, the dipole and the
    gradient symbol prepared once for all the maps of a sweep (the same operations per map)."""

    def __init__(self, field, mask, *, voxel_size, b0_dir, regulariser):
        self.f, self.mask, _ = _prep(field, mask, np.float64)
        self.vs = _voxel(voxel_size)
        self.d = dipole_kernel(self.f.shape, voxel_size=self.vs, b0_dir=b0_dir)
        self.regulariser = regulariser
        self.gsym = gradient_symbol(self.f.shape, voxel_size=self.vs) if regulariser == "gradient" else None

    def __call__(self, chi, spec=None):
        """The two norms of ``chi``; ``spec``, if given, is its half spectrum (not transformed again)."""
        f, mask, vs, regulariser = self.f, self.mask, self.vs, self.regulariser
        chi = as_array(chi, "chi", ndim=3)
        if chi.shape != f.shape:
            raise ValueError(f"mismatched shapes: chi {chi.shape} vs field {f.shape}")
        if spec is None:
            spec = sfft.rfftn(chi, workers=_WORKERS)
        elif spec.shape != self.d.shape:
            raise ValueError(f"mismatched shapes: spectrum {spec.shape} vs half spectrum {self.d.shape}")
        res = sfft.irfftn(spec * self.d, s=f.shape, workers=_WORKERS)
        res -= f                              # D chi - f, in the transform's own array
        if mask is not None:
            res = res[mask]
        if regulariser == "identity":
            rough = float(np.linalg.norm(chi))
        elif regulariser == "gradient":       # Parseval on the spectrum the misfit needed anyway
            power = np.square(spec.real, dtype=np.float64)
            power += np.square(spec.imag, dtype=np.float64)
            power *= self.gsym
            power *= _half_spectrum_weights(f.shape)
            rough = float(np.sqrt(np.sum(power)))
        else:
            g = _grad(chi, vs)
            rough = (float(np.sum(np.sqrt(np.sum(g ** 2, axis=0)))) if regulariser == "tv"
                     else float(np.linalg.norm(g)))
        return float(np.linalg.norm(res)), rough


# --------------------------------------------------------------------------- TV by ADMM
def _axis_slices(i):
    """Index tuples along axis ``i``: voxels 1.. and ..-1 (interior pairs), the first and the last plane."""
    def along(sl):
        out = [slice(None)] * 3
        out[i] = sl
        return tuple(out)
    return along(slice(1, None)), along(slice(None, -1)), along(slice(0, 1)), along(slice(-1, None))


def _grad(x, vs, out=None):
    """Periodic forward differences per mm, shape (3,) + x.shape (written into ``out`` if given)."""
    if out is None:
        out = np.empty((3,) + x.shape, dtype=x.dtype)
    for i, v in enumerate(vs):
        hi, lo, first, last = _axis_slices(i)
        np.subtract(x[hi], x[lo], out=out[i][lo])
        np.subtract(x[first], x[last], out=out[i][last])
        out[i] *= out.dtype.type(1.0 / v)
    return out


def _div(g, vs):
    """Negative adjoint of :func:`_grad`: ``sum_i (g_i - g_i shifted back by one) / v_i``."""
    out = np.empty(g.shape[1:], dtype=g.dtype)
    tmp = np.empty_like(out)
    for i, v in enumerate(vs):
        hi, lo, first, last = _axis_slices(i)
        dst = out if i == 0 else tmp            # the first axis's term written in place (0 + x = x)
        np.subtract(g[i][hi], g[i][lo], out=dst[hi])
        np.subtract(g[i][first], g[i][last], out=dst[first])
        dst *= dst.dtype.type(1.0 / v)
        if i:
            out += tmp
    return out


#: Planes of the first axis per block of tv_admm's fused elementwise updates: at 160^3 in float32 a
#: plane is 100 kB, and a block's temporaries (grad chi, z - s, ...: about 15 planes a plane) stay in
#: the shared L3 cache with both threads at work; 1, 2, 4 and 8 planes measured, 4 the fastest
#: (blocks of one plane cost more Python calls than the cache saves).
_SLAB_PLANES = 4
#: Share of the gradient split's blocks that the data split's thread takes (the data split alone is
#: about a sixth of the gradient split's elementwise work, and both end in one FFT).
_GRAD_SHARE = 0.4


def _grad_planes(x, a, b, scales, out):
    """``_grad(x)[:, a:b]`` (periodic forward differences per mm of planes ``a..b-1`` of the first
    axis), by the same operations, into ``out`` (3, b - a, ...); ``scales`` are ``1 / voxel_size``
    in ``x``'s dtype."""
    n = x.shape[0]
    if b < n:
        np.subtract(x[a + 1:b + 1], x[a:b], out=out[0])
    else:
        np.subtract(x[a + 1:b], x[a:b - 1], out=out[0][:-1])
        np.subtract(x[0], x[b - 1], out=out[0][-1])
    xs = x[a:b]
    for i in (1, 2):
        hi, lo, first, last = _axis_slices(i)
        np.subtract(xs[hi], xs[lo], out=out[i][lo])
        np.subtract(xs[first], xs[last], out=out[i][last])
    for i in range(3):
        out[i] *= scales[i]
    return out


def _div_planes(w, w0_prev, scales, *, out, tmp):
    """``_div`` of a block of planes by the same operations, into ``out`` (like ``w[0]``).

    ``w`` (3, P, ...) holds the block's planes; ``w0_prev`` is the first component at the plane
    before the block. If it is None, the block's first plane is left unfinished and its parts are
    returned, ``(w[0][0], axis-1 term, axis-2 term)`` (copies), for the caller to finish as
    ``((w[0][0] - w0_prev) / v0 + axis-1 term) + axis-2 term`` once ``w0_prev`` is known.
    """
    np.subtract(w[0][1:], w[0][:-1], out=out[1:])
    if w0_prev is not None:
        np.subtract(w[0][0], w0_prev, out=out[0])
    else:
        out[0] = 0                              # a placeholder, overwritten by the caller
    out *= scales[0]
    parts = [w[0][0].copy()] if w0_prev is None else None
    for i in (1, 2):
        hi, lo, first, last = _axis_slices(i)
        np.subtract(w[i][hi], w[i][lo], out=tmp[hi])
        np.subtract(w[i][first], w[i][last], out=tmp[first])
        tmp *= scales[i]
        if parts is not None:
            parts.append(tmp[0].copy())
        out += tmp
    return parts


def _shrink(v, thresh, isotropic, *, out=None, work=None, mag=None):
    """Shrinkage of the vector field ``v`` (3, ...) at ``thresh`` (written into ``out`` if given,
    with ``work`` (like ``v``) and ``mag`` (like ``v[0]``) as scratch; the same operations either way)."""
    if out is None:
        if isotropic:
            mag = np.sqrt(np.sum(v * v, axis=0))
            scale = np.maximum(1 - thresh / np.maximum(mag, 1e-30), 0)
            return v * scale
        return np.sign(v) * np.maximum(np.abs(v) - thresh, 0)
    if isotropic:
        np.multiply(v, v, out=work)
        np.sum(work, axis=0, out=mag)
        np.sqrt(mag, out=mag)
        np.maximum(mag, 1e-30, out=mag)
        np.divide(thresh, mag, out=mag)
        np.subtract(1, mag, out=mag)
        np.maximum(mag, 0, out=mag)
        np.multiply(v, mag, out=out)
        return out
    np.abs(v, out=work)
    work -= thresh
    np.maximum(work, 0, out=work)
    np.sign(v, out=out)
    out *= work
    return out


def tv_objective(chi, field, mask, *, lam: float, voxel_size=(1.0, 1.0, 1.0),
                 b0_dir=(0.0, 0.0, 1.0), isotropic: bool = True) -> float:
    """``1/2 ||M (D chi - f)||^2 + lam TV(chi)``, the objective :func:`tv_admm` minimises.

    ``TV`` is the sum over voxels of ``|grad chi|`` (isotropic: the Euclidean
    norm of the three forward differences per mm; anisotropic: the sum of
    their absolute values).
    """
    f, mask, _ = _prep(field, mask, np.float64)
    vs = _voxel(voxel_size)
    chi = as_array(chi, "chi", ndim=3)
    d = dipole_kernel(f.shape, voxel_size=vs, b0_dir=b0_dir)
    dchi = sfft.irfftn(sfft.rfftn(chi, workers=_WORKERS) * d, s=f.shape, workers=_WORKERS)
    w = mask if mask is not None else np.ones(f.shape, bool)
    g = _grad(chi, vs)
    tv = np.sum(np.sqrt(np.sum(g ** 2, axis=0))) if isotropic else np.sum(np.abs(g))
    return 0.5 * float(np.sum((dchi - f)[w] ** 2)) + lam * float(tv)


def tv_admm(field, mask, *, lam: float, mu: float | None = None, nu: float = 1.0,
            max_iter: int = 200, tol: float = 1e-3, voxel_size=(1.0, 1.0, 1.0),
            b0_dir=(0.0, 0.0, 1.0), isotropic: bool = True, dtype=np.float32,
            x0=None, masked_output: bool = True, workers=None):
    """Total-variation dipole inversion by ADMM with closed-form updates.

    Objective (stated exactly)::

        min_chi  1/2 ||M (D chi - f)||^2 + lam TV(chi)

    with ``M`` the brain mask (data counted only inside), ``D`` the periodic
    dipole convolution and ``TV`` the isotropic (default) total variation of
    forward differences per mm (:func:`tv_objective`).

    Splitting: ``z = grad chi`` and ``v = D chi``, with scaled dual variables
    ``s`` and ``t`` and penalties ``mu`` and ``nu``. Each iteration is closed
    form: ``v`` voxel-wise, ``(M f + nu (D chi + t)) / (M + nu)``; ``z`` by
    shrinkage of ``grad chi + s`` at ``lam / mu``; ``chi`` from one k-space
    division ``(mu |G|^2 + nu D^2) chi = mu G^T (z - s) + nu D (v - t)``; then
    the dual updates ``s += grad chi - z``, ``t += D chi - v``. Two real FFTs forward and two back
    per iteration.

    Stopping rule: the relative change of chi between iterations,
    ``||chi_k - chi_k-1|| / ||chi_k||``, falls below ``tol``, or ``max_iter``
    iterations. :func:`tv_optimality` measures how far the result is from the
    optimality conditions.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    mask : ndarray of bool, same shape
    lam : float
        TV weight (> 0), ppm mm (the TV is per mm).
    mu : float, optional
        Penalty of the gradient split; default ``100 lam`` (FANSI's rule).
    nu : float, default 1
        Penalty of the data split.
    max_iter : int, default 200
    tol : float, default 1e-3
    voxel_size, b0_dir : as in :func:`tikhonov_closed_form`
    isotropic : bool, default True
    dtype : numpy dtype, default float32
    x0 : ndarray, optional
        Starting chi (default 0).
    masked_output : bool, default True
        Zero chi outside the mask; ``False`` returns it on the whole grid
        (what :func:`tv_optimality` needs).
    workers : int or None, default None
        ``None`` or ``-1``: the two splits of each iteration (the data split
        ``v, t`` with its FFT, and the gradient split ``z, s`` with its
        shrinkage, divergence and FFT), which do not read each other's
        variables, are updated side by side on two threads (the data split's
        thread also takes part of the gradient split's blocks), and so are the
        two inverse FFTs (chi and D chi); ``1``: one after the other. The
        iterates are identical either way (the same operations on the same
        values); only the wall time changes.

    Returns
    -------
    chi : ndarray
        Susceptibility (ppm).
    info : dict
        ``n_iter``, ``change`` (last relative change), ``converged``,
        ``seconds``, ``lam``, ``mu``, ``nu`` and the scaled dual ``y = mu s``
        of the gradient split (``dual``, shape (3, X, Y, Z); at the optimum
        ``y / lam`` is a subgradient of the TV at ``grad chi``).

    Examples
    --------
    >>> from qmrigenes import qsm
    >>> chi = np.zeros((16, 16, 16)); chi[5:11, 5:11, 5:11] = 0.1
    >>> mask = np.ones(chi.shape, bool)
    >>> est, info = tv_admm(qsm.forward_field(chi, voxel_size=(1, 1, 1)), mask, lam=1e-5, dtype=np.float64)
    >>> bool(np.abs(est - (chi - chi.mean())).max() < 0.02)
    True
    """
    t0 = time.perf_counter()
    if mask is None:
        raise TypeError("mask must be a boolean array, got None")
    lam = check_scalar(lam, "lam", min=0.0, min_inclusive=False)
    mu = 100.0 * lam if mu is None else check_scalar(mu, "mu", min=0.0, min_inclusive=False)
    nu = check_scalar(nu, "nu", min=0.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min=1, max=10000)
    tol = check_scalar(tol, "tol", min=0.0, max=1.0, min_inclusive=False)
    f, m, dtype = _prep(field, mask, dtype)
    vs = _voxel(voxel_size)
    shape = f.shape
    d = dipole_kernel(shape, voxel_size=vs, b0_dir=b0_dir).astype(dtype)
    den = mu * gradient_symbol(shape, voxel_size=vs) + nu * d.astype(np.float64) ** 2
    inv_den = np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0).astype(dtype)
    w = m.astype(dtype)
    wf = w * f
    one = dtype.type(1)

    def fft(x, workers=_WORKERS):
        return sfft.rfftn(x, workers=workers)

    def ifft(x, workers=_WORKERS):
        return sfft.irfftn(x, s=shape, workers=workers).astype(dtype, copy=False)

    if x0 is None:
        chi = np.zeros(shape, dtype)
    else:
        chi = as_array(x0, "x0", ndim=3).astype(dtype)
        if chi.shape != shape:
            raise ValueError(f"mismatched shapes: x0 {chi.shape} vs field {shape}")
    dchi = ifft(fft(chi) * d)
    s = np.zeros((3,) + shape, dtype)
    v = dchi.copy()
    t = np.zeros(shape, dtype)
    thresh = dtype.type(lam / mu)
    mu_t, nu_t = dtype.type(mu), dtype.type(nu)
    scales = [dtype.type(1.0 / h) for h in vs]
    den_v = w + nu_t * one
    nu_d = nu_t * d
    z = np.empty_like(s)                        # the gradient split z (shrinkage of grad chi + s)
    div_w, diff, v_t = (np.empty(shape, dtype) for _ in range(3))   # div(z - s), chi change, v - t
    dk = np.empty(d.shape, np.result_type(dtype, np.complex64))    # F(D chi)
    change, n_iter = np.inf, 0
    pair = min(n_workers(workers), 2)
    # side by side, each split's FFTs take one core (two threads each would oversubscribe the two
    # cores: measured slower)
    split_workers = 1 if pair == 2 else _WORKERS
    # The same floating-point operations as the textbook updates written out in the docstring (the
    # test suite checks the iterates bit for bit against that form), grouped differently: each
    # split's elementwise updates -- the duals of one iteration, then the split of the next -- are
    # made block by block (_SLAB_PLANES planes of the first axis), so that the temporaries (grad chi,
    # z - s, the shrinkage's magnitude) stay in cache instead of a pass over memory each. An
    # elementwise operation gives the same bits whatever the block; the divergence's difference
    # along the first axis crosses blocks, and is carried from one block to the next.
    slabs = [(a, min(a + _SLAB_PLANES, shape[0])) for a in range(0, shape[0], _SLAB_PLANES)]
    n_pl = min(_SLAB_PLANES, shape[0])
    # the gradient split's blocks in two runs, one per thread: the data split's thread (lighter)
    # takes the first _GRAD_SHARE of them before its own work
    cut = int(round(_GRAD_SHARE * len(slabs)))
    runs = [slabs[:cut], slabs[cut:]]

    def block_buffers():                        # grad chi, z - s (this block and the last), |.|, a term
        return (np.empty((3, n_pl) + shape[1:], dtype), [np.empty((3, n_pl) + shape[1:], dtype) for _ in range(2)],
                np.empty((n_pl,) + shape[1:], dtype), np.empty((n_pl,) + shape[1:], dtype))
    buffers = [block_buffers(), block_buffers()]

    def data_pass(dual, split):                 # t += D chi - v; v = (M f + nu (D chi + t)) / (M + nu); F(v - t)
        for a, b in slabs:
            t_, v_, dc = t[a:b], v[a:b], dchi[a:b]
            if dual:
                np.add(t_, dc, out=t_)
                np.subtract(t_, v_, out=t_)
            if split:
                np.add(dc, t_, out=v_)
                np.multiply(v_, nu_t, out=v_)
                np.add(v_, wf[a:b], out=v_)
                np.divide(v_, den_v[a:b], out=v_)
                np.subtract(v_, t_, out=v_t[a:b])
        return fft(v_t, split_workers) if split else None

    def grad_run(x, run, bufs, dual, split):    # s += grad x - z; z = shrink(grad x + s, lam / mu); div(z - s)
        g_b, w_b, mag_b, tmp_b = bufs
        head = last = None
        for k, (a, b) in enumerate(run):
            n = b - a
            g, s_, z_ = _grad_planes(x, a, b, scales, g_b[:, :n]), s[:, a:b], z[:, a:b]
            if dual:
                np.add(s_, g, out=s_)
                np.subtract(s_, z_, out=s_)
            if split:
                wk = w_b[k % 2][:, :n]
                np.add(g, s_, out=z_)
                _shrink(z_, thresh, isotropic, out=z_, work=wk, mag=mag_b[:n])
                np.subtract(z_, s_, out=wk)
                tail = _div_planes(wk, last, scales, out=div_w[a:b], tmp=tmp_b[:n])
                head = head if head is not None else tail
                last = wk[0][-1]
        return (run[0][0], head, last) if run and split else None

    def finish_div(done):                       # each run's first plane: its difference along the first
        done = [r for r in done if r is not None]         # axis reaches back to the previous run's last
        for i, (a, (w0, t1, t2), _) in enumerate(done):
            first = div_w[a]
            np.subtract(w0, done[i - 1][2], out=first)
            first *= scales[0]
            first += t1
            first += t2
        return fft(div_w, split_workers)

    def splits(x, dual, split):                 # the two tasks of a split phase, each on its own thread
        ready, share = threading.Event(), []

        def first():
            try:
                share.append(grad_run(x, runs[0], buffers[0], dual, split))
            finally:
                ready.set()
            return data_pass(dual, split)

        def second():
            mine = grad_run(x, runs[1], buffers[1], dual, split)
            ready.wait()
            if not share:
                raise RuntimeError("tv_admm: the other half of the gradient split failed")
            return finish_div([share[0], mine]) if split else None
        return thread_map(lambda task: task(), (first, second), workers=pair)

    def kspace(planes):                         # chi: (mu |G|^2 + nu D^2) chi = mu G^T (z - s) + nu D (v - t)
        for a, b in planes:
            dat, new = data_k[a:b], new_k[a:b]
            np.multiply(dat, nu_d[a:b], out=dat)
            np.multiply(new, mu_t, out=new)
            np.subtract(dat, new, out=new)      # F(-div w) = -F(div w) exactly (negation commutes with
            np.multiply(new, inv_den[a:b], out=new)   # every rounding): b - a is b + (-a) in IEEE
            np.multiply(new, d[a:b], out=dk[a:b])

    def chi_and_change(chi_k):
        new = ifft(chi_k, split_workers)
        np.subtract(new, chi, out=diff)
        return new, float(np.linalg.norm(diff) / max(np.linalg.norm(new), 1e-30))

    def both(first, second):
        return thread_map(lambda task: task(), (first, second), workers=pair)

    k_planes = [(a, min(a + _SLAB_PLANES, d.shape[0])) for a in range(0, d.shape[0], _SLAB_PLANES)]
    halves = [k_planes[:len(k_planes) // 2], k_planes[len(k_planes) // 2:]] if pair == 2 else [k_planes]
    # the loop's norms are small BLAS calls: no busy-waiting threads, and one BLAS thread whichever
    # thread computes them
    with _blas_single_thread():
        data_k, new_k = splits(chi, False, True)    # the first splits, from the starting chi (no duals yet)
        while True:
            thread_map(kspace, halves, workers=pair)
            (chi, change), dchi = both(lambda: chi_and_change(new_k), lambda: ifft(dk, split_workers))
            n_iter += 1
            more = n_iter < max_iter and not change < tol
            # the duals of this iteration, then (if it goes on) the splits of the next
            data_k, new_k = splits(chi, True, more)
            if not more:
                break
    out = np.where(m, chi, 0).astype(dtype) if masked_output else chi
    return out, {"n_iter": n_iter, "change": change, "converged": change < tol,
                 "seconds": time.perf_counter() - t0, "lam": lam, "mu": mu, "nu": nu,
                 "dual": (mu * s).astype(dtype, copy=False)}


def tv_optimality(chi, dual, field, mask, *, lam: float, voxel_size=(1.0, 1.0, 1.0),
                  b0_dir=(0.0, 0.0, 1.0), isotropic: bool = True, edge_fraction: float = 1e-2) -> dict:
    """How far ``chi`` (with its ADMM dual) is from the optimality conditions of :func:`tv_admm`.

    At a minimiser of ``1/2 ||M (D chi - f)||^2 + lam TV(chi)`` there is a
    ``y`` with ``D M (D chi - f) - div y = 0`` (stationarity) and ``y / lam`` a
    subgradient of the TV at ``grad chi``: ``|y| <= lam`` everywhere and
    ``y = lam grad chi / |grad chi|`` where ``|grad chi| > 0`` (isotropic).

    Parameters
    ----------
    chi : ndarray, shape (X, Y, Z)
        Solution on the whole grid (``tv_admm(..., masked_output=False)``).
    dual : ndarray, shape (3, X, Y, Z)
        ``info["dual"]`` of :func:`tv_admm`.
    edge_fraction : float, default 0.01
        The alignment condition is checked where ``|grad chi|`` exceeds this
        fraction of its maximum (below it, the direction of a nearly flat
        gradient is numerical noise).

    Returns
    -------
    dict
        ``stationarity``: ``||D M (D chi - f) - div y|| / ||D M f||``;
        ``dual_excess``: ``max(|y| / lam) - 1`` (<= 0 when feasible);
        ``alignment``: the largest ``| y / lam - grad chi / |grad chi| |`` over
        voxels with ``|grad chi| > edge_fraction max|grad chi|``.
    """
    f, m, _ = _prep(field, mask, np.float64)
    vs = _voxel(voxel_size)
    chi = as_array(chi, "chi", ndim=3)
    y = as_array(dual, "dual", shape=(3,) + f.shape)
    d = dipole_kernel(f.shape, voxel_size=vs, b0_dir=b0_dir)

    def dconv(x):
        return sfft.irfftn(sfft.rfftn(x, workers=_WORKERS) * d, s=f.shape, workers=_WORKERS)

    w = m.astype(float)
    grad_data = dconv(w * (dconv(chi) - f))
    stat = grad_data - _div(y, vs)
    ref = np.linalg.norm(dconv(w * f))
    g = _grad(chi, vs)
    if isotropic:
        ymag = np.sqrt(np.sum(y ** 2, axis=0))
        gmag = np.sqrt(np.sum(g ** 2, axis=0))
        on = gmag > edge_fraction * gmag.max()
        align = (np.sqrt(np.sum((y[:, on] / lam - g[:, on] / gmag[on]) ** 2, axis=0)).max()
                 if on.any() else 0.0)
    else:
        ymag = np.abs(y)
        on = np.abs(g) > edge_fraction * np.abs(g).max()
        align = np.abs(y[on] / lam - np.sign(g[on])).max() if on.any() else 0.0
    return {"stationarity": float(np.linalg.norm(stat) / max(ref, 1e-300)),
            "dual_excess": float(ymag.max() / lam - 1.0), "alignment": float(align)}


# --------------------------------------------------------------------------- L-curve
def l_curve_corner(misfit, roughness, params) -> int:
    """Index of the L-curve's corner: maximum curvature of (log misfit, log roughness).

    Parameters
    ----------
    misfit, roughness : array_like, shape (n,)
        The two norms for each parameter (:func:`misfit_and_roughness`).
    params : array_like, shape (n,)
        The parameter values, increasing (the curve is parametrised by
        ``log(params)``).

    Returns
    -------
    int
        Index into ``params`` of the largest signed curvature (the corner of
        the "L", where the regulariser stops buying misfit cheaply). The ends
        are excluded.
    """
    x = np.log(as_array(misfit, "misfit", ndim=1))
    y = np.log(as_array(roughness, "roughness", ndim=1))
    p = np.log(as_array(params, "params", ndim=1))
    if not (x.size == y.size == p.size) or x.size < 5:
        raise ValueError(f"misfit, roughness and params need the same length >= 5, got "
                         f"{x.size}, {y.size}, {p.size}")
    if np.any(np.diff(p) <= 0):
        raise ValueError("params must be strictly increasing")
    dx, dy = np.gradient(x, p), np.gradient(y, p)
    ddx, ddy = np.gradient(dx, p), np.gradient(dy, p)
    kappa = (dx * ddy - ddx * dy) / np.maximum((dx ** 2 + dy ** 2) ** 1.5, 1e-300)
    inner = kappa[1:-1]
    return int(np.argmax(inner)) + 1


def l_curve(recon, field, mask, params, *, voxel_size=(1.0, 1.0, 1.0), b0_dir=(0.0, 0.0, 1.0),
            regulariser: str = "gradient", score=None, keep=None, output_mask=None,
            workers=None) -> dict:
    """Sweep a one-parameter reconstruction and locate its L-curve corner.

    Parameters
    ----------
    recon : callable
        ``recon(param) -> chi`` (ppm, shape of ``field``).
    field, mask : ndarrays
        Local field (ppm) and brain mask.
    params : sequence of float, strictly increasing or strictly decreasing
        Parameter values (e.g. lambdas, or TKD thresholds: any family where a
        larger value regularises more), reconstructed in the given order (from
        large to small, e.g., to warm-start an iterative solver).
    regulariser : {"gradient", "identity", "tv"}
        Norm on the roughness axis (``"tv"``: the TV, sum of |grad chi|).
    score : callable, optional
        ``score(chi) -> dict`` of metrics against a reference (e.g. a
        :class:`qmrigenes.qsm_metrics.ChallengeScorer`), recorded per parameter.
        The corner never looks at it.
    keep : callable, optional
        ``keep(chi) -> object`` stored per parameter (e.g. a few slices);
        default: keep every map.
    output_mask : ndarray of bool, optional
        If given, ``score`` and ``keep`` see the map zeroed outside it (the
        map as submitted), while the two L-curve norms use the map as
        ``recon`` returns it (e.g. a whole-grid minimiser: zeroing it outside
        the brain would add misfit that no parameter controls, and bend the
        curve back at small parameters).
    workers : int or None, default None
        Threads that evaluate the maps (the two norms, ``score`` and ``keep``)
        while the next reconstructions run: ``None`` or ``-1`` every core,
        ``1`` a plain serial loop. ``recon`` itself is always called on the
        calling thread, one parameter after another in ``params`` order, so a
        warm-started ``recon`` (one that starts from the previous result) is
        safe; ``score`` and ``keep`` must not modify shared state. The results
        are identical whatever the number (each map is evaluated by the same
        code, with one BLAS thread, as in the serial loop); only ``seconds``,
        a wall time, shares the cores with the evaluations running beside it.

    Returns
    -------
    dict
        Everything in increasing ``param`` order: ``table`` (DataFrame indexed
        by ``param``: ``misfit``, ``roughness``,
        ``seconds`` (reconstruction time) and the ``score`` metrics),
        ``corner`` (index), ``best`` (the parameter at the corner) and
        ``kept`` (list, in ``params`` order).
    """
    return _l_curve(recon, field, mask, params, voxel_size=voxel_size, b0_dir=b0_dir, regulariser=regulariser,
                    score=score, keep=keep, output_mask=output_mask, workers=workers, with_spectrum=False)


def _l_curve(recon, field, mask, params, *, voxel_size, b0_dir, regulariser, score, keep, output_mask, workers,
             with_spectrum):
    """:func:`l_curve`; with ``with_spectrum``, ``recon(param)`` returns ``(chi, half spectrum of chi)``
    and the L-curve norms use that spectrum (:meth:`KspaceInversions.l_curve`)."""
    import pandas as pd
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    params = np.asarray(params, float)
    order = np.argsort(params)
    if np.any(np.diff(params[order]) <= 0) or not (np.all(np.diff(params) > 0) or np.all(np.diff(params) < 0)):
        raise ValueError("params must be strictly increasing or strictly decreasing")
    n = n_workers(workers)

    check_choice(regulariser, "regulariser", ("gradient", "identity", "tv"))
    norms = _LCurveNorms(field, mask, voxel_size=voxel_size, b0_dir=b0_dir,    # shared by every map
                         regulariser=regulariser)

    def evaluate(chi, spec=None):
        """The L-curve norms, the score and the kept part of one map (no BLAS-limit entry here:
        threadpoolctl's limit is process-wide, so it is held once around the whole sweep)."""
        row = {}
        row["misfit"], row["roughness"] = norms(chi, spec)
        shown = (chi if output_mask is None
                 else np.where(output_mask, chi, 0).astype(np.asarray(chi).dtype, copy=False))
        if score is not None:
            row.update(score(shown))
        return row, (shown if keep is None else keep(shown))

    def reconstruct(p):
        t0 = time.perf_counter()
        out = recon(float(p))
        # the arguments of evaluate: (chi,), or (chi, its half spectrum)
        return (out if with_spectrum else (out,)), {"param": float(p), "seconds": time.perf_counter() - t0}

    # one BLAS thread for norms, dot products and line fits (no busy-waiting BLAS threads, and the
    # same bits whatever the number of sweep threads)
    with _blas_single_thread():
        if n == 1 or params.size == 1:
            done = []
            for p in params:
                args, head = reconstruct(p)
                done.append((head, *evaluate(*args)))
        else:
            # a pipeline rather than qmrigenes._threads.thread_map: the reconstructions stay in
            # order on this thread (warm starts), each map's evaluation is handed to the pool as it
            # arrives, and at most `n` maps wait or run there (memory)
            done, pending = [], deque()
            with ThreadPoolExecutor(max_workers=n) as pool:
                for p in params:
                    args, head = reconstruct(p)
                    pending.append((head, pool.submit(evaluate, *args)))
                    del args
                    while len(pending) >= n:
                        head_, fut = pending.popleft()
                        done.append((head_, *fut.result()))
                while pending:
                    head_, fut = pending.popleft()
                    done.append((head_, *fut.result()))
    rows = [dict(head, **row) for head, row, _ in done]
    kept = [k for _, _, k in done]
    table = pd.DataFrame([rows[i] for i in order]).set_index("param")
    kept = [kept[i] for i in order]
    corner = l_curve_corner(table["misfit"].to_numpy(), table["roughness"].to_numpy(), params[order])
    return {"table": table, "corner": corner, "best": float(params[order][corner]), "kept": kept}
