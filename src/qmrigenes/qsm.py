"""Quantitative susceptibility mapping (QSM) with FFT-based operators.

Forward model
    The field perturbation (in ppm of B0) produced by a susceptibility
    distribution chi (ppm) is the convolution of chi with the unit dipole,
    a multiplication in k-space by ``D(k) = 1/3 - (k.b0)^2 / |k|^2``
    (``D(0) = 0``).

Inversion
    * Thresholded k-space division (TKD): divide by D where ``|D| > t`` and by
      ``t sign(D)`` elsewhere (Shmueli et al. 2009; Wharton et al. 2010).
    * Tikhonov (gradient) regularisation with a mask-weighted data term,
      ``min ||M (D chi - f)||^2 + lam ||grad chi||^2``, solved to convergence
      (normal-equation residual <= 1e-6) by preconditioned conjugate
      gradients with FFT operators (:func:`tikhonov_cg`); an explicitly
      early-stopped variant (:func:`tikhonov_early_stopped`); and the closed
      form without the mask, ``chi = D F / (D^2 + lam |G|^2)``.

Background field removal
    SHARP (Schweser et al. 2011): background fields are harmonic inside the
    brain, so the spherical-mean-value (SMV) filter ``delta - rho`` removes
    them; the local field is recovered by a truncated deconvolution.

All operators are periodic on the given grid. Arrays are float64.
"""
from __future__ import annotations

import hashlib
import threading
import time

import numpy as np
import pandas as pd
import scipy.fft as sfft

from ._threads import fft_workers, n_workers, thread_map
from ._validate import (as_array, check_bool, check_choice, check_int, check_mask, check_qsm_inputs,
                        check_scalar, check_voxel_size)

__all__ = [
    "dipole_kernel",
    "forward_field",
    "dipole_operator",
    "add_field_noise",
    "tkd",
    "tkd_threshold_sweep",
    "tikhonov_kspace",
    "tikhonov_cg",
    "tikhonov_cg_many",
    "tikhonov_cg_and_early_stopped",
    "tikhonov_early_stopped",
    "tikhonov_optimality",
    "gradient",
    "divergence",
    "sphere_kernel",
    "sharp",
    "roi_means",
    "reference_to",
    "sphere_source",
    "recovery_summary",
]

_WORKERS = fft_workers()      # FFT threads per transform (-1: every core; $QMRIGENES_NUM_THREADS caps it) ...
_FFT = threading.local()      # ... unless this thread set its own (solves side by side: one each)


def _fft_workers() -> int:
    """The FFT threads of this thread's transforms: its own count if a side-by-side solve set one
    (:func:`_on_fft_workers`: a number, or a :class:`_CoreShare`), else ``_WORKERS``. The
    transforms' bits do not depend on it."""
    n = getattr(_FFT, "workers", _WORKERS)
    return n.workers() if isinstance(n, _CoreShare) else n


class _CoreShare:
    """The cores shared among side-by-side solves: each solve still running gets
    ``cores // running`` FFT threads (at least one), re-divided as the solves finish."""

    def __init__(self, cores: int, threads: int, problems: int):
        self.cores, self.threads, self.left = cores, threads, problems
        self._lock = threading.Lock()

    def workers(self) -> int:
        return max(1, self.cores // max(1, min(self.threads, self.left)))

    def finished(self):
        with self._lock:
            self.left -= 1


def _on_fft_workers(n, fn):
    """``fn`` as a call that runs with ``n`` FFT threads for its transforms (in the thread that
    calls it; other threads keep theirs): a number, or a :class:`_CoreShare` asked at each
    transform."""
    def run():
        before = getattr(_FFT, "workers", None)
        _FFT.workers = n
        try:
            return fn()
        finally:
            if before is None:
                del _FFT.workers
            else:
                _FFT.workers = before
    return run


def _side_by_side(calls, threads: int) -> list:
    """``[call() for call in calls]`` on ``threads`` threads (1: one after the other), BLAS on one
    thread throughout; on threads, each call's FFTs get its share of the cores
    (:class:`_CoreShare`), re-divided as the calls finish. A call that set its own FFT threads
    (:func:`_on_fft_workers`) keeps them."""
    if threads > 1:
        share = _CoreShare(n_workers(None), threads, len(calls))

        def run(call):
            try:
                return _on_fft_workers(share, call)()
            finally:
                share.finished()
    else:
        def run(call):
            return call()
    with _blas_single_thread():
        return thread_map(run, calls, workers=threads)


_PARTS_MIN = 1 << 16          # elements below which a pass is not worth splitting


def _in_parts(fn, *arrays):
    """``fn(*arrays)``, computed on parts of the arrays' first axis, one part per FFT thread of
    this thread's solve (:func:`_fft_workers`), the first part on the calling thread.

    For elementwise passes only (``np.multiply(a, b, out=a)``, ``u += alpha * p``): every element
    gets the same operations in the same order, so the result is the same to the last bit
    whatever the number of parts; a reduction (a dot product, a norm) must not go through here.
    numpy's passes run on one core; a lone solve's FFTs use every core, so without this its
    elementwise third of each iteration left the other cores idle. The helper threads live for
    one pass (a few tens of microseconds to start, against milliseconds of work): no pool
    outlives the call, so nothing is left for a forked process to inherit.
    """
    n = arrays[0].shape[0]
    k = min(n_workers(_fft_workers()), n)
    if k < 2 or arrays[0].size < _PARTS_MIN:
        fn(*arrays)
        return
    cuts = [n * i // k for i in range(k + 1)]
    errors = []

    def part(i):
        try:
            fn(*(a[cuts[i]:cuts[i + 1]] for a in arrays))
        except BaseException as err:          # re-raised on the calling thread
            errors.append(err)

    helpers = [threading.Thread(target=part, args=(i,), daemon=True) for i in range(1, k)]
    for helper in helpers:
        helper.start()
    part(0)
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]


def _blas_single_thread():
    """One BLAS thread for the duration of a solve, if threadpoolctl is available.

    The solvers' BLAS calls are small; with more threads OpenBLAS workers busy-wait between them
    and, on a loaded machine, slow the FFTs (which use their own ``workers``) several-fold.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                       # optional: only a speed matter
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


#: Largest zero padding (voxels per side) accepted by :func:`forward_field`.
MAX_PAD = 128
#: Largest number of conjugate-gradient iterations accepted by the solvers.
MAX_ITER = 5000


def _check_shape(shape, name: str = "shape") -> tuple:
    try:
        shape = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of 3 integers, got {shape!r}") from None
    if len(shape) != 3 or min(shape) < 2:
        raise ValueError(f"{name}: QSM needs a 3D grid with at least 2 voxels per axis, got {shape}")
    return shape


def _check_volume(x, name: str) -> np.ndarray:
    """A finite 3D float array with at least 2 voxels per axis (NaN refused, naming ``name``)."""
    x = as_array(x, name, ndim=3)
    _check_shape(x.shape, name)
    return x


def _check_mask(mask, shape, name: str = "mask") -> np.ndarray:
    return check_mask(mask, shape, name, allow_empty=True)


def _kgrid(shape, voxel_size, *, real: bool = True):
    shape = _check_shape(shape)
    vs = check_voxel_size(voxel_size)
    freqs = [sfft.fftfreq(shape[0], vs[0]), sfft.fftfreq(shape[1], vs[1])]
    freqs.append(sfft.rfftfreq(shape[2], vs[2]) if real else sfft.fftfreq(shape[2], vs[2]))
    return np.meshgrid(*freqs, indexing="ij")


def dipole_kernel(shape, *, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0),
                  real: bool = True) -> np.ndarray:
    """The unit dipole in k-space.

    Parameters
    ----------
    shape : tuple of 3 int
        Image grid.
    voxel_size : tuple of 3 float
        mm.
    b0_dir : tuple of 3 float
        Main-field direction in voxel axes (normalised internally).
    real : bool, default True
        Return the half-spectrum of :func:`scipy.fft.rfftn` (last axis
        ``n // 2 + 1``); else the full spectrum.

    Returns
    -------
    ndarray
        ``D(k) = 1/3 - (k.b0)^2/|k|^2``, with ``D(0) = 0``.
    """
    b0 = as_array(b0_dir, "b0_dir", shape=(3,))
    if not np.linalg.norm(b0) > 0:
        raise ValueError(f"b0_dir must be a non-zero 3-vector, got {b0_dir}")
    b0 = b0 / np.linalg.norm(b0)
    shape = _check_shape(shape)
    vs = check_voxel_size(voxel_size)
    key = (shape, tuple(float(v) for v in vs), tuple(float(v) for v in b0), bool(real))
    d = _DIPOLE_CACHE.get(key)
    if d is None:
        d = _dipole(shape, vs, b0, real)
        d.flags.writeable = False
        with _DIPOLE_LOCK:                            # solves on several threads share the cache
            while len(_DIPOLE_CACHE) >= 4:            # a few grids at a time (a chapter uses one or two)
                _DIPOLE_CACHE.pop(next(iter(_DIPOLE_CACHE)))
            _DIPOLE_CACHE[key] = d
    return d.copy()                                   # the caller may write into its copy


#: Dipole kernels already computed, keyed by grid, voxel size, B0 direction and half/full spectrum.
_DIPOLE_CACHE: dict = {}
_DIPOLE_LOCK = threading.Lock()


def _dipole(shape, voxel_size, b0, real):
    kx, ky, kz = _kgrid(shape, voxel_size, real=real)
    k2 = kx ** 2 + ky ** 2 + kz ** 2
    kb = kx * b0[0] + ky * b0[1] + kz * b0[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 1.0 / 3.0 - kb ** 2 / k2
    d[k2 == 0] = 0.0
    return d


def _apply_kspace(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    spec = sfft.rfftn(x, workers=_fft_workers())
    if spec.shape != kernel.shape:
        raise ValueError(f"mismatched shapes: image spectrum {spec.shape} vs kernel {kernel.shape}")
    return sfft.irfftn(spec * kernel, s=x.shape, workers=_fft_workers())


def forward_field(chi: np.ndarray, *, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0),
                  pad: int = 0) -> np.ndarray:
    """Field perturbation (ppm) of a susceptibility map (ppm).

    Parameters
    ----------
    chi : ndarray, shape (X, Y, Z)
    pad : int, default 0
        Zero padding (voxels per side) before the periodic convolution, to
        approximate an infinite domain; the result is cropped back.

    Returns
    -------
    ndarray, shape (X, Y, Z)
    """
    chi = _check_volume(chi, "chi")
    pad = check_int(pad, "pad", min=0, max=MAX_PAD,
                    hint=f" voxels per side (bounded at {MAX_PAD} to bound the FFT size)")
    big = np.pad(chi, pad) if pad else chi
    kernel = dipole_kernel(big.shape, voxel_size=voxel_size, b0_dir=b0_dir)
    out = _apply_kspace(big, kernel)
    if pad:
        out = out[pad:-pad, pad:-pad, pad:-pad]
    return out


def dipole_operator(shape, *, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0)):
    """The periodic dipole convolution and its adjoint as functions.

    Returns
    -------
    forward, adjoint : callables ndarray -> ndarray
        ``forward(chi)`` = field; ``adjoint(field)`` = ``D^H field``. The
        dipole kernel is real and even, so the two coincide; they are
        returned separately so tests can check ``<D x, y> = <x, D^H y>``.
    """
    kernel = dipole_kernel(shape, voxel_size=voxel_size, b0_dir=b0_dir)

    def forward(x):
        return _apply_kspace(np.asarray(x, float), kernel)

    def adjoint(y):
        return _apply_kspace(np.asarray(y, float), np.conj(kernel))

    return forward, adjoint


def add_field_noise(field: np.ndarray, sigma: float, *, rng, mask=None) -> np.ndarray:
    """Add white Gaussian noise of SD ``sigma`` (ppm); zero outside ``mask`` if given."""
    field = _check_volume(field, "field")
    sigma = check_scalar(sigma, "sigma", min=0.0, unit="ppm")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    out = field + rng.normal(0.0, sigma, size=field.shape)
    if mask is not None:
        if np.shape(mask) != field.shape:
            raise ValueError(f"mismatched shapes: mask {np.shape(mask)} vs field {field.shape}")
        out = np.where(mask, out, 0.0)
    return out


def _c_order(a: np.ndarray) -> np.ndarray:
    """``a`` in C order (no copy if it already is). A NIfTI array arrives in Fortran order, and an
    elementwise operation mixing it with the C-ordered arrays numpy creates walks one of them with
    a stride (``benchmarks/bench_qsm_round5.py``: one pass over a 160^3 grid 2.5x the CPU time)."""
    return np.ascontiguousarray(a)


def _check_field_mask(field, mask, name: str = "field"):
    """Validate a field (finite everywhere: one NaN voxel would spread through every FFT and
    blank the whole reconstruction, so it is refused, naming ``field``) and an optional mask."""
    field = _c_order(_check_volume(field, name))
    if mask is None:
        return field, None
    return field, _c_order(_check_mask(mask, field.shape))


def tkd(field: np.ndarray, *, threshold: float = 0.2, mask=None, voxel_size=(2.0, 2.0, 2.0),
        b0_dir=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Thresholded k-space division.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    threshold : float, default 0.2
        ``t`` in (0, 2/3]; smaller t = less bias, more streaking and noise.
    mask : ndarray of bool, optional
        Applied to the field before and to chi after the inversion.

    Returns
    -------
    ndarray
        Susceptibility (ppm).
    """
    check_qsm_inputs(field, mask, voxel_size=voxel_size)   # #20: empty mask, bad voxels, NaN field
    threshold = _check_tkd_threshold(threshold)
    field, mask = _check_field_mask(field, mask)
    if mask is not None:
        field = np.where(mask, field, 0.0)
    d = dipole_kernel(field.shape, voxel_size=voxel_size, b0_dir=b0_dir)
    chi = _apply_kspace(field, _tkd_filter(d, threshold))
    return np.where(mask, chi, 0.0) if mask is not None else chi


def _check_tkd_threshold(threshold, name: str = "threshold") -> float:
    """TKD's threshold as a float in (0, 2/3] (the largest |D| is 2/3), or a ValueError naming ``name``."""
    return check_scalar(threshold, name, min=0.0, max=2 / 3, min_inclusive=False)


def _tkd_filter(d: np.ndarray, threshold: float) -> np.ndarray:
    """TKD's k-space filter: ``1 / D``, with ``|D|`` below ``threshold`` replaced by
    ``threshold * sign(D)`` (0 where ``D`` is 0)."""
    d_t = np.where(np.abs(d) > threshold, d, threshold * np.sign(d))
    with np.errstate(divide="ignore"):
        return np.where(d_t != 0, 1.0 / d_t, 0.0)


def tkd_threshold_sweep(field: np.ndarray, mask, thresholds, *, truth: np.ndarray, roi, uniform, reference,
                        voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0), workers=None) -> dict:
    """Invert one field by :func:`tkd` at each threshold and measure bias and artefacts against a truth.

    Every map is referenced to its mean over ``reference`` (as is the truth) and zeroed outside
    ``mask``; for each threshold ``t`` the sweep records how much of the ROI's true mean χ is
    recovered (underestimation grows with ``t``), the spatial SD of χ in a region of uniform true
    χ (any spread there is noise or streaking, which shrink as ``t`` grows) and the voxel-wise RMS
    error inside the mask.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm), B0 along ``b0_dir``.
    mask : ndarray of bool, shape (X, Y, Z)
        Brain mask.
    thresholds : sequence of float
        TKD thresholds ``t`` in (0, 2/3], strictly increasing, at least two.
    truth : ndarray, shape (X, Y, Z)
        True susceptibility (ppm), e.g. of a simulation.
    roi, uniform, reference : ndarray of bool, shape (X, Y, Z)
        Region whose mean χ recovery is reported (its referenced true mean must not be zero), a
        region of uniform true χ, and the reference region (e.g. CSF).
    voxel_size : sequence of 3 float, default (2, 2, 2)
        Voxel size (mm).
    b0_dir : sequence of 3 float, default (0, 0, 1)
    workers : int or None, default None
        Threads for the thresholds (independent inversions, side by side on the cores): ``None``
        or ``-1`` every available core, ``1`` a serial loop; the results are the same bit for bit.

    Returns
    -------
    dict
        ``table``: DataFrame indexed by ``threshold`` with ``recovery_pct`` (ROI mean / true
        mean, percent), ``artefact_sd_ppb`` (SD of χ in ``uniform``, ppb) and ``rmse_ppb``
        (voxel-wise RMS error in ``mask``, ppb); ``recons``: ndarray (n_t, X, Y, Z), the
        referenced maps (ppm, zero outside ``mask``); ``truth``: the referenced truth (ppm, zero
        outside ``mask``).

    Examples
    --------
    >>> from qmrigenes import qsm
    >>> chi = qsm.sphere_source((16, 16, 16), center=(8, 8, 8), radius_mm=5, chi=0.1)   # 2 mm voxels
    >>> mask = qsm.sphere_source(chi.shape, center=(8, 8, 8), radius_mm=12, chi=1.0) > 0
    >>> ref = mask & (chi == 0)
    >>> field = qsm.forward_field(chi, pad=4)
    >>> sweep = qsm.tkd_threshold_sweep(field, mask, [0.1, 0.3], truth=chi, roi=chi > 0,
    ...                                 uniform=ref, reference=ref)
    >>> sweep["table"].columns.tolist()
    ['recovery_pct', 'artefact_sd_ppb', 'rmse_ppb']
    """
    truth = np.asarray(truth, dtype=float)
    mask = check_mask(mask, truth.shape, "mask")
    roi_m, uni_m, ref_m = (check_mask(m, truth.shape, name) for m, name in
                           ((roi, "roi"), (uniform, "uniform"), (reference, "reference")))
    t = np.asarray(thresholds, dtype=float)
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("thresholds must be an increasing sequence of at least two values")
    n_workers(workers)                                    # a clear error before any work
    truth_ref = reference_to(truth, ref_m)
    true_roi = float(truth_ref[roi_m].mean())
    if true_roi == 0:
        raise ValueError("the ROI's true (referenced) chi is zero; recovery is undefined")
    stack = np.empty((t.size,) + truth.shape)
    # what tkd() computes for every threshold, once: the masked field's spectrum and the dipole
    # (each threshold then costs its filter and one inverse FFT; the same numbers as tkd())
    check_qsm_inputs(field, mask, voxel_size=voxel_size)
    field, _ = _check_field_mask(field, mask)
    if field.shape != truth.shape:
        raise ValueError(f"mismatched shapes: field {field.shape} vs truth {truth.shape}")
    for i in range(t.size):
        _check_tkd_threshold(float(t[i]), "thresholds")
    spec = sfft.rfftn(np.where(mask, field, 0.0), workers=_fft_workers())
    d = dipole_kernel(field.shape, voxel_size=voxel_size, b0_dir=b0_dir)

    def one(i):                        # each threshold on its own: the thresholds run side by side
        chi = sfft.irfftn(spec * _tkd_filter(d, float(t[i])), s=field.shape, workers=_fft_workers())
        chi = np.where(mask, chi, 0.0)                       # tkd(field, threshold=t, mask=mask)
        chi = stack[i] = np.where(mask, reference_to(chi, ref_m), 0.0)
        return float(t[i]), {"recovery_pct": 100 * float(chi[roi_m].mean()) / true_roi,
                             "artefact_sd_ppb": 1000 * float(chi[uni_m].std()),
                             "rmse_ppb": 1000 * float(np.sqrt(np.mean((chi - truth_ref)[mask] ** 2)))}

    rows = dict(thread_map(one, range(t.size), workers=workers))
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "threshold"
    return {"table": table, "recons": stack, "truth": np.where(mask, truth_ref, 0.0)}


def _gradient_symbol(shape, voxel_size):
    """|G(k)|^2 of periodic forward differences (half spectrum; read-only, cached per grid).

    Every Tikhonov solve, optimality check and closed form of a grid needs it (chapter 3: eight
    times on one grid, 13 ms each); like :func:`dipole_kernel` it is computed once per grid and
    voxel size, the same array each time.
    """
    key = (tuple(int(n) for n in shape), tuple(float(v) for v in np.asarray(voxel_size, float)))
    g2 = _GRADIENT_CACHE.get(key)
    if g2 is None:
        kx, ky, kz = _kgrid(shape, voxel_size)
        vs = np.asarray(voxel_size, float)
        g2 = sum((2 - 2 * np.cos(2 * np.pi * k * v)) / v ** 2 for k, v in zip((kx, ky, kz), vs))
        g2.flags.writeable = False
        with _DIPOLE_LOCK:
            while len(_GRADIENT_CACHE) >= 4:
                _GRADIENT_CACHE.pop(next(iter(_GRADIENT_CACHE)))
            _GRADIENT_CACHE[key] = g2
    return g2


#: |G(k)|^2 already computed, keyed by grid and voxel size (read-only arrays).
_GRADIENT_CACHE: dict = {}


def tikhonov_kspace(field: np.ndarray, *, lam: float = 1e-2, mask=None, voxel_size=(2.0, 2.0, 2.0),
                    b0_dir=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Closed-form gradient-Tikhonov QSM without data weighting.

    ``chi = F^-1[ D F(f) / (D^2 + lam |G|^2) ]``, the minimiser of
    ``||D chi - f||^2 + lam ||grad chi||^2`` on a periodic grid (the mean of
    chi, unseen by both terms, is set to zero).
    """
    check_qsm_inputs(field, mask, voxel_size=voxel_size)   # #20: empty mask, bad voxels, NaN field
    lam = _check_lam(lam)
    field, mask = _check_field_mask(field, mask)
    if mask is not None:
        field = np.where(mask, field, 0.0)
    d = dipole_kernel(field.shape, voxel_size=voxel_size, b0_dir=b0_dir)
    g2 = _gradient_symbol(field.shape, voxel_size)
    den = d ** 2 + lam * g2
    with np.errstate(divide="ignore", invalid="ignore"):
        filt = np.where(den > 0, d / den, 0.0)
    chi = _apply_kspace(field, filt)
    return np.where(mask, chi, 0.0) if mask is not None else chi


def gradient(x: np.ndarray, *, voxel_size=(2.0, 2.0, 2.0)) -> np.ndarray:
    """Periodic forward-difference gradient, shape (3, X, Y, Z), per mm."""
    return np.stack([(np.roll(x, -1, axis=i) - x) / v for i, v in enumerate(voxel_size)])


def divergence(g: np.ndarray, *, voxel_size=(2.0, 2.0, 2.0)) -> np.ndarray:
    """Negative adjoint of :func:`gradient`: ``<grad x, g> = -<x, div g>``."""
    if g.ndim != 4 or g.shape[0] != 3:
        raise ValueError(f"expected a (3, X, Y, Z) vector field, got {g.shape}")
    return sum((g[i] - np.roll(g[i], 1, axis=i)) / v for i, v in enumerate(voxel_size))


def _check_lam(lam) -> float:
    return check_scalar(lam, "lam", min=0.0, min_inclusive=False, max=1e6)


def _tikhonov_setup(field, mask, lam, weight, voxel_size, b0_dir):
    lam = _check_lam(lam)
    field, mask = _check_field_mask(field, mask)
    if mask is None:
        raise TypeError("mask must be a boolean array, got None")
    if not mask.any():
        raise ValueError("mask must select at least one voxel, got an empty mask")
    w = mask.astype(float)
    if weight is not None:
        weight = as_array(weight, "weight")
        if weight.shape != field.shape:
            raise ValueError(f"mismatched shapes: weight {weight.shape} vs field {field.shape}")
        if np.any(weight < 0):
            raise ValueError("weight must be non-negative, got a negative value")
        w = w * weight
    d = dipole_kernel(field.shape, voxel_size=voxel_size, b0_dir=b0_dir)
    lg2 = lam * _gradient_symbol(field.shape, voxel_size)
    return field, mask, w, d, lg2, lam


def _normal_operator(w, d, lg2, shape):
    """``v -> (D W D + lam G^T G) v`` in float64."""
    def apply(v):
        spec_x = sfft.rfftn(v, workers=_fft_workers())
        dx = sfft.irfftn(spec_x * d, s=shape, workers=_fft_workers())
        return sfft.irfftn(sfft.rfftn(w * dx, workers=_fft_workers()) * d + lg2 * spec_x, s=shape,
                           workers=_fft_workers())
    return apply


def _half_spectrum_weights(shape) -> np.ndarray:
    """Parseval weights of an :func:`scipy.fft.rfftn` half spectrum, divided by the grid size.

    ``sum(x * y) == sum(w * Re(X conj(Y)))`` for real ``x, y`` with spectra ``X, Y``:
    bins of the last axis that stand for a conjugate pair count twice.
    """
    n = shape[-1]
    w = np.full(n // 2 + 1, 2.0)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w / float(np.prod(shape))


class _KspaceCG:
    """Preconditioned CG for ``(D W D + L) x = b`` carried out in k-space.

    Every CG vector (solution, residual, direction) is kept as its rfftn half
    spectrum, scaled by the square root of the Parseval weights so that a plain
    complex dot product equals the image-space one. The dipole, the gradient
    symbol and the circulant preconditioner are diagonal there, so one
    iteration needs a single FFT pair (for the mask ``W``, which is diagonal in
    image space) instead of the six FFTs of the same iteration written in
    image space; the iterates are those of image-space CG up to rounding.

    ``single=True`` evaluates the FFT pair of each iteration in single
    precision (float32 / complex64) while the solution, the residual and all
    inner products stay in float64; the residual is replaced by the float64
    residual ``b - A x`` every ``refresh`` iterations and before stopping, so
    the stopping rule is checked in double precision ("reliable updates").
    """

    def __init__(self, w, d, lg2, shape, *, single: bool, precondition: bool):
        self.shape, self.w, self.lg2, self.single = shape, w, lg2, single
        self.sw = np.sqrt(_half_spectrum_weights(shape))
        self.d_in, self.d_out = d / self.sw, d * self.sw        # unscale before, rescale after the FFTs
        if single:
            self.d_in32, self.w32 = self.d_in.astype(np.float32), w.astype(np.float32)
        den = d ** 2 + lg2
        self.pinv = (np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0) if precondition else None)

    @staticmethod
    def dot(a, b) -> float:
        return float(np.vdot(a, b).real)

    def to_k(self, x):
        return sfft.rfftn(x, workers=_fft_workers()) * self.sw

    def to_image(self, spec):
        return sfft.irfftn(spec / self.sw, s=self.shape, workers=_fft_workers())

    def apply(self, spec, *, single=None):
        """``(D W D + L)`` of a scaled half spectrum (complex128 in and out)."""
        single = self.single if single is None else single
        if single:
            dx = sfft.irfftn((spec * self.d_in32).astype(np.complex64), s=self.shape, workers=_fft_workers())
            out = sfft.rfftn(self.w32 * dx, workers=_fft_workers()).astype(np.complex128)
        else:
            out = sfft.rfftn(self.w * sfft.irfftn(spec * self.d_in, s=self.shape, workers=_fft_workers()),
                             workers=_fft_workers())
        out *= self.d_out
        out += self.lg2 * spec
        return out

    def prec(self, r):
        return r * self.pinv if self.pinv is not None else r.copy()

    def solve(self, b, *, x0=None, tol: float, max_iter: int, refresh: int = 50):
        """Solve for the scaled spectrum ``b``; returns (scaled solution spectrum, iterations)."""
        norm_b = np.sqrt(self.dot(b, b))
        x = np.zeros_like(b) if x0 is None else np.array(x0, dtype=np.complex128)
        r = b - self.apply(x, single=False) if x0 is not None else b.copy()
        z = self.prec(r)
        p = z.copy()
        rz = self.dot(r, z)
        n_iter = 0
        checked = True                  # r is the float64 true residual
        while n_iter < max_iter:
            if np.sqrt(self.dot(r, r)) <= tol * norm_b:
                if checked:
                    break
                r = b - self.apply(x, single=False)      # confirm in double precision
                checked = True
                z = self.prec(r)                # restart the directions from the true residual
                p = z.copy()
                rz = self.dot(r, z)
                continue
            ap = self.apply(p)
            alpha = rz / self.dot(p, ap)
            x += alpha * p
            r -= alpha * ap
            n_iter += 1
            checked = not self.single
            if n_iter % refresh == 0:    # replace the recursive residual (drift, single precision)
                r = b - self.apply(x, single=False)
                checked = True
            z = self.prec(r)
            rz_new = self.dot(r, z)
            p *= rz_new / rz
            p += z
            rz = rz_new
        return x, n_iter


#: Exponent ``a`` of the Schur solver's preconditioner ``O K^-a O`` (see :class:`_OutsideFieldCG`).
_SCHUR_POWER = 0.8


def _direction_update(beta: float):
    """``p *= beta; p += z``, for :func:`_in_parts` (the same two passes as written out)."""
    def update(p, z):
        p *= beta
        p += z
    return update


def _cg_update(alpha: float):
    """``u += alpha p; r -= alpha ap`` through the scratch ``step``, for :func:`_in_parts`."""
    def update(u, r, p, ap, step):
        u += np.multiply(p, alpha, out=step)
        r -= np.multiply(ap, alpha, out=step)
    return update


class _OutsideFieldCG:
    """CG on the field outside the mask: the masked Tikhonov problem with ``chi`` eliminated.

    For a binary mask ``M`` (outside ``O = 1 - M``) the minimiser of
    ``||M (D chi - f)||^2 + lam ||grad chi||^2`` equals that of
    ``||D chi - g||^2 + lam ||grad chi||^2`` over ``chi`` *and* the field
    ``g = M f + O u`` whose values ``u`` outside the mask are free (at the
    optimum ``u = O D chi``, so the outside term vanishes). For fixed ``u`` the
    minimiser is the closed form ``chi = F^-1[D F(g) / (D^2 + lam |G|^2)]``;
    what remains is the quadratic ``g^T K g`` with the circulant
    ``K = lam |G|^2 / (D^2 + lam |G|^2)`` (in k-space), whose minimiser over
    ``u`` solves ``O K O u = -O K M f``, a Schur complement of the normal
    equations. It is solved here by CG preconditioned with ``O K^-a O``
    (K is circulant, its powers diagonal in k-space): two FFT pairs per
    iteration, and several times fewer iterations than CG on the normal
    equations of ``chi``, whose slow modes are smooth susceptibility outside
    the mask, weakly determined by ``lam ||grad chi||^2`` alone.

    The exponent ``a`` (:data:`_SCHUR_POWER`, 0.8): ``a = 1`` restricts the
    exact inverse of ``K`` to the outside, which over-inverts the modes that
    the mask couples most (those where ``K`` is small); ``a = 0.8`` damps them
    and was measured to need 12-16 % fewer iterations to the same tolerance
    (2016 challenge field, ``tol=1e-6``: 83 against 97 at ``lam=2.15e-3``, 29
    against 33 at ``lam=0.1``; head phantom: 40 against 46 at ``lam=1e-2``, 65
    against 77 at ``lam=1e-3``; on the 24 x 20 x 22 toy grid of the tests it
    needs a few more: 77 against 69 at ``lam=1e-3``, to ``tol=1e-9``). Any
    symmetric positive definite preconditioner leaves the minimiser and the
    stopping rule unchanged.

    The normal-equation residual of ``chi(u)`` is ``D r`` with ``r`` the
    residual of the ``u`` system, so the stopping rule of :func:`tikhonov_cg`
    is checked exactly, from the spectrum of ``r`` the preconditioner computes
    anyway. ``single=True`` evaluates the FFTs in float32 while vectors and
    inner products stay float64, replacing the recursive residual by the
    float64 one every ``refresh`` iterations and before stopping.
    """

    def __init__(self, mask, d, lg2, shape, *, single: bool, precondition: bool, power: float = None):
        self.shape, self.single, self.precondition = shape, single, precondition
        self.o = (~mask).astype(float)
        den = d ** 2 + lg2
        p0 = np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0)
        self.k = np.where(den > 0, lg2 * p0, 1.0)           # K = 1 - D^2 / (D^2 + lam |G|^2); K(0) = 1
        power = _SCHUR_POWER if power is None else power
        self.kinv = 1.0 / self.k if power == 1 else self.k ** -power     # the preconditioner's K^-a
        self.d_p0 = d * p0                                   # the closed form's filter
        self.d_sw = d * np.sqrt(_half_spectrum_weights(shape))   # ||D x|| = ||d_sw * rfftn(x)||
        if single:
            self.o32 = self.o.astype(np.float32)
            self.k32, self.kinv32 = self.k.astype(np.float32), self.kinv.astype(np.float32)

    def _filter(self, x, sym, sym32, single, *, norm: bool = False):
        """``O F^-1[sym F(x)]`` (float64 out) and, if ``norm``, ``||D x||`` from the same spectrum."""
        if single:
            spec = sfft.rfftn(x.astype(np.float32), workers=_fft_workers())
        else:
            spec = sfft.rfftn(x, workers=_fft_workers())
        size = self.residual_norm(spec) if norm else None
        _in_parts(np.multiply, spec, sym32 if single else sym, spec)          # spec *= sym
        out = sfft.irfftn(spec, s=self.shape, workers=_fft_workers())
        if single:
            _in_parts(np.multiply, out, self.o32, out)
            return out.astype(float), size
        _in_parts(np.multiply, out, self.o, out)
        return out, size

    def apply(self, u, *, single=None):
        """``O K O u`` for ``u`` zero inside the mask."""
        single = self.single if single is None else single
        return self._filter(u, self.k, getattr(self, "k32", None), single)[0]

    def residual_norm(self, spec_r) -> float:
        """``||D r||``: the normal-equation residual norm of ``chi(u)`` for ``u`` residual ``r``."""
        t = np.empty_like(spec_r)
        _in_parts(np.multiply, spec_r, self.d_sw, t)          # t = spec_r * d_sw, in parts
        return float(np.sqrt(np.vdot(t, t).real))

    def solve(self, wf, *, u0=None, tol: float, max_iter: int, refresh: int = 50, snapshots=(),
              spec_wf=None, resume=None):
        """Solve for ``u`` given the masked field ``wf``; returns (u, iterations, snapshots).

        ``snapshots``: looser tolerances at which the iterate is also kept, ``{t: (u, iterations)}``
        (double precision only: the iterate a solve stopped at ``t`` would return).
        ``spec_wf``: ``rfftn(wf)`` if the caller has it already (saves one FFT).
        ``resume``: the :class:`_CGState` a double-precision solve of the same problem left in
        ``self.state``; the iteration continues from it exactly as if it had never stopped.
        After a double-precision solve ``self.state`` holds the state at the stop (no copies).
        """
        pending, kept = sorted(snapshots, reverse=True), {}
        if spec_wf is None:
            spec_wf = sfft.rfftn(wf, workers=_fft_workers())
        norm_b = self.residual_norm(spec_wf)                               # ||D M f||
        rhs = sfft.irfftn(spec_wf * self.k, s=self.shape, workers=_fft_workers())
        rhs *= -self.o
        step = np.empty(self.shape)                    # scratch for alpha * p and alpha * A p
        if resume is not None:                         # copies: the caller's state stays reusable
            u, r = resume.u.copy(), resume.r.copy()
            p = None if resume.p is None else resume.p.copy()
            rz, n_iter = resume.rz, resume.n_iter
        else:
            u = np.zeros(self.shape) if u0 is None else self.o * u0
            r = rhs - self.apply(u, single=False) if u0 is not None else rhs.copy()
            p, rz, n_iter = None, 1.0, 0
        checked = True
        while True:
            fresh = checked and self.single             # r is a float64 true residual: check it in float64
            if self.precondition:
                z, res = self._filter(r, self.kinv, getattr(self, "kinv32", None),
                                      self.single and not fresh, norm=True)
            else:
                z, res = r.copy(), self.residual_norm(sfft.rfftn(r, workers=_fft_workers()))
            while pending and res <= pending[0] * norm_b:
                kept[pending.pop(0)] = (u.copy(), n_iter)
            if res <= tol * norm_b:
                if checked:
                    break
                r = rhs - self.apply(u, single=False)     # confirm with the float64 residual
                checked, p = True, None
                continue
            if n_iter >= max_iter:
                break
            rz_new = float(np.vdot(r, z))
            if p is None:
                p = z
            else:
                _in_parts(_direction_update(rz_new / rz), p, z)       # p = p * beta + z
            rz = rz_new
            ap = self.apply(p)
            alpha = rz / float(np.vdot(p, ap))
            _in_parts(_cg_update(alpha), u, r, p, ap, step)        # u += alpha p; r -= alpha A p
            n_iter += 1
            checked = not self.single
            if self.single and n_iter % refresh == 0:
                r = rhs - self.apply(u, single=False)
                checked = True
        # the state at the stop (double precision: r is the residual the iteration continues with;
        # the preconditioned residual is recomputed from it on resuming, by the same FFTs)
        self.state = None if self.single else _CGState(u=u, r=r, p=p, rz=rz, n_iter=n_iter)
        return u, n_iter, kept


class _CGState:
    """The state of :class:`_OutsideFieldCG` where a solve stopped (for ``tikhonov_cg(resume=...)``).

    Holds the iterate ``u``, residual ``r`` and search direction ``p`` (three volumes of the grid),
    ``rz`` and the iteration count, plus ``key``: a digest of the problem (field, mask, lam,
    geometry, options) the state belongs to, and the ``tol`` it was solved to. Its ``repr`` is one
    short line.
    """

    def __init__(self, *, u, r, p, rz, n_iter, key=None, tol=None):
        self.u, self.r, self.p, self.rz = u, r, p, rz
        self.n_iter, self.key, self.tol = n_iter, key, tol

    def __repr__(self):
        return f"<CG state after {self.n_iter} iterations>"


def tikhonov_cg(field: np.ndarray, mask, *, lam: float = 1e-2, weight=None, tol: float = 1e-6,
                max_iter: int = 1000, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0),
                precondition: bool = True, masked_output: bool = True, x0=None,
                precision: str = "double", method: str = "auto", snapshots=None,
                resumable: bool = False, resume=None):
    """Mask-weighted gradient-Tikhonov QSM, solved to convergence.

    Objective (stated exactly)::

        min_chi  1/2 ||W^1/2 (D chi - f)||^2 + lam/2 ||grad chi||^2

    with ``W`` = mask (times an optional data weight), ``D`` the periodic
    dipole convolution and ``grad`` periodic forward differences (per mm).
    Its minimisers solve the normal equations
    ``(D W D + lam G^T G) chi = D W f``; the constant image is in the null
    space of both terms, and the solver returns the minimiser with zero mean
    over the whole grid (CG from ``chi = 0`` never leaves the range).

    Solver (``method="schur"``, the default without ``weight``): ``chi`` is
    eliminated exactly. With a binary mask ``M`` (outside ``O``) the same
    minimiser solves ``min ||D chi - g||^2 + lam ||grad chi||^2`` over ``chi``
    and the field ``g = M f + O u`` whose values ``u`` outside the mask are
    free; for fixed ``u`` that is the closed form of :func:`tikhonov_kspace`,
    ``chi = F^-1[D F(g) / (D^2 + lam |G|^2)]``, so only the outside field ``u``
    is solved for, by CG on its Schur complement ``O K O u = -O K M f``
    (``K = lam |G|^2 / (D^2 + lam |G|^2)``, circulant) preconditioned by
    ``O K^-0.8 O`` (a damped restriction of the inverse of ``K``; 12-16 % fewer
    iterations than ``O K^-1 O``). Started at ``u = 0`` -- the closed form of
    the masked field -- it needs several times fewer iterations than CG on the
    normal equations of ``chi`` (2016 challenge field, 160^3, ``tol=1e-6``: 83
    against 538 at ``lam=2.15e-3``, 29 against 123 at ``lam=0.1``), at two FFT
    pairs per iteration instead of one: the slow modes of the ``chi``
    iteration are smooth susceptibility outside the mask, determined only by
    the weak ``lam ||grad chi||^2``, and the elimination removes them.

    ``method="kspace"`` (needed for a non-binary ``weight``): conjugate
    gradients on the normal equations of ``chi``, started at zero
    (or ``x0``), preconditioned (default) by the circulant operator
    ``(D^2 + lam |G|^2)^-1`` (exact when ``W`` = identity, i.e. the
    closed form of :func:`tikhonov_kspace`). The iteration runs in k-space
    (one FFT pair per iteration: the dipole, gradient and preconditioner are
    diagonal there, the mask is applied in image space), in float64: the
    iterates are those of the same CG written in image space up to rounding
    (below 1e-10 ppb on the 2 mm head phantom).

    ``precision="mixed"`` computes the FFTs of each iteration in single
    precision while the solution, residual and inner products stay in
    float64 and the residual is recomputed in float64 every 50 iterations
    and before stopping: each iteration is cheaper, but iteration counts and
    the last digits of optimality checks differ (with ``method="kspace"``
    276 vs 277 iterations at ``tol=1e-6`` on the phantom; with
    ``method="schur"`` often more iterations than in double precision).

    Both methods stop on the same rule and return the same minimiser to
    within it.

    Stopping rule: relative residual of the normal equations
    ``||D W f - (D W D + lam G^T G) chi|| / ||D W f|| <= tol`` (default
    1e-6), recomputed explicitly in float64 at the end; ``max_iter`` caps
    the work.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm). Must be finite everywhere: a NaN voxel would spread
        through every FFT, so it is refused with a ``ValueError`` naming
        ``field`` (set unknown voxels to 0 and leave them out of ``mask``).
    mask : ndarray of bool, same shape
    lam : float
        Regularisation weight (> 0); larger = smoother, less streaking, more
        underestimation of small structures.
    weight : ndarray, optional
        Non-negative data weights inside the mask.
    tol : float, default 1e-6
        Relative normal-equation residual at which to stop, in (0, 0.1].
    max_iter : int, default 1000
        At most :data:`MAX_ITER`.
    precondition : bool, default True
    masked_output : bool, default True
        Zero ``chi`` outside the mask; ``False`` returns the minimiser on the
        whole grid (what :func:`tikhonov_optimality` checks).
    x0 : ndarray, shape (X, Y, Z), optional
        Starting point (ppm) on the whole grid, e.g. the unmasked solution of a
        nearby problem (another ``lam``, or the noise-free field). The result
        is the same minimiser to within ``tol``; only the work changes. With
        ``method="schur"`` the start is the field of ``x0`` outside the mask,
        ``u = O D x0`` (without ``x0``: ``u = 0``, whose ``chi`` is already the
        closed form of the masked field). With ``method="kspace"`` the closed
        form of :func:`qmrigenes.qsm_invert.tikhonov_closed_form` at the same
        ``lam`` is the direction of CG's first step from zero: as ``x0`` it
        saves one iteration, not more.
    precision : {"double", "mixed"}, default "double"
        Arithmetic of the per-iteration FFTs (see above). Use ``"mixed"`` for
        quick exploration at ``tol >= 1e-6``; below that, single-precision
        FFTs need many more iterations.
    method : {"auto", "schur", "kspace"}, default "auto"
        ``"schur"``: solve for the field outside the mask (see above; binary
        data weight only); ``"kspace"``: CG on the normal equations of ``chi``;
        ``"auto"``: ``"schur"`` unless ``weight`` is given.
    snapshots : sequence of float, optional
        Looser tolerances (each > ``tol``) at which to keep the iterate on the
        way: CG passes through the solution a separate call with ``tol=t``
        returns (the same iterate, bit for bit), so a study of stopping rules
        costs one solve. ``method="schur"`` and ``precision="double"`` only.
    resumable : bool, default False
        Keep the CG state where the solve stopped in ``info["_cg_state"]``
        (three volumes of the grid), so that a later call can continue it
        with ``resume``. ``method="schur"`` and ``precision="double"`` only.
    resume : dict, optional
        The ``info`` of an earlier ``resumable=True`` call on the same problem
        (same ``field``, ``mask``, ``lam``, geometry and options) with a
        looser or equal ``tol``: CG continues
        from where that solve stopped, so tightening the rule costs only the
        extra iterations. Result and ``info`` (``n_iter`` counts all
        iterations) are bit for bit those of a fresh call with this ``tol``.
        Cannot be combined with ``x0`` (the start is the earlier call's);
        ``snapshots`` must then be tighter than the earlier ``tol``. A
        different problem is refused with a ``ValueError`` naming ``resume``.
        The result is resumable again when ``resumable=True``.

    Returns
    -------
    chi : ndarray
        Susceptibility (ppm), zero outside the mask (see ``masked_output``).
    info : dict
        ``n_iter``, ``residual`` (final relative normal-equation residual,
        recomputed), ``converged`` (``residual <= tol``), ``objective``,
        ``lam``, ``method`` and, with ``snapshots``, ``snapshots``:
        ``{t: (chi, info)}`` for each looser tolerance ``t``. With
        ``resumable=True`` it also holds the CG state under the private key
        ``"_cg_state"`` (what ``resume`` reads; not a result: leave it out
        when displaying ``info``).

    Examples
    --------
    >>> import numpy as np
    >>> from qmrigenes import qsm
    >>> chi = np.zeros((16, 16, 16)); chi[6:10, 6:10, 6:10] = 0.1
    >>> mask = np.zeros(chi.shape, bool); mask[2:14, 2:14, 2:14] = True
    >>> est, info = qsm.tikhonov_cg(qsm.forward_field(chi) * mask, mask, lam=1e-3, resumable=True)
    >>> info["converged"]
    True

    Tighten the stopping rule without starting again (the same result as a
    fresh solve with ``tol=1e-8``):

    >>> tight, tight_info = qsm.tikhonov_cg(qsm.forward_field(chi) * mask, mask, lam=1e-3,
    ...                                     tol=1e-8, resume=info)
    >>> tight_info["n_iter"] > info["n_iter"], tight_info["residual"] <= 1e-8
    (True, True)
    """
    check_qsm_inputs(field, mask, voxel_size=voxel_size, require_mask=True)   # #20
    tol = check_scalar(tol, "tol", min=0.0, max=0.1, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min=1, max=MAX_ITER)
    precision = check_choice(precision, "precision", ["double", "mixed"])
    field, mask, w, d, lg2, lam = _tikhonov_setup(field, mask, lam, weight, voxel_size, b0_dir)
    shape = field.shape
    if x0 is not None:
        x0 = _check_volume(x0, "x0")
        if x0.shape != shape:
            raise ValueError(f"mismatched shapes: x0 {x0.shape} vs field {shape}")
    method = check_choice(method, "method", ["auto", "schur", "kspace"])
    if method == "auto":
        method = "schur" if weight is None else "kspace"
    if method == "schur" and weight is not None:
        raise ValueError("method='schur' needs a binary data weight (the mask): pass weight=None, "
                         "or method='kspace' for a weighted data term")
    single = precision == "mixed"
    if snapshots is not None:
        if method != "schur" or single:
            raise ValueError("snapshots needs method='schur' and precision='double'")
        snapshots = [check_scalar(t, "snapshots", min=tol, max=0.1, min_inclusive=False) for t in snapshots]
    state = None
    if resumable and (method != "schur" or single):
        raise ValueError("resumable needs method='schur' and precision='double'")
    if resumable or resume is not None:
        key = _problem_key(field, mask, lam, voxel_size, b0_dir, precondition)
    if resume is not None:
        state = resume.get("_cg_state") if isinstance(resume, dict) else None
        if state is None:
            raise ValueError("resume must be the info dict of an earlier tikhonov_cg call with "
                             "resumable=True")
        if method != "schur" or single:
            raise ValueError("resume needs method='schur' and precision='double'")
        if x0 is not None:
            raise ValueError("resume and x0 cannot be combined: the resumed solve fixes the start")
        if tol > state.tol:
            raise ValueError(f"resume: tol={tol:g} is looser than the resumed solve's tol={state.tol:g}")
        if state.key != key:
            raise ValueError("resume belongs to another problem (field, mask, lam, geometry or options differ)")
        if snapshots is not None:
            snapshots = [check_scalar(t, "snapshots", min=tol, max=state.tol, min_inclusive=False,
                                      max_inclusive=False) for t in snapshots]
    def fft(x):
        return sfft.rfftn(x, workers=_fft_workers())

    def ifft(spec):
        return sfft.irfftn(spec, s=shape, workers=_fft_workers())

    if method == "schur":
        solver = _OutsideFieldCG(mask, d, lg2, shape, single=single, precondition=precondition)
        wf = w * field
        spec_wf = fft(wf)                          # shared by the right-hand sides, ||D M f|| and chi
        rhs = ifft(spec_wf * d)
        if not np.any(rhs):
            return np.zeros(shape), {"n_iter": 0, "residual": 0.0, "converged": True, "objective": 0.0,
                                     "lam": lam, "method": method}
        with _blas_single_thread():
            u, n_iter, kept = solver.solve(wf, tol=tol, max_iter=max_iter, snapshots=snapshots or (),
                                           u0=None if x0 is None else _apply_kspace(x0, d),
                                           spec_wf=spec_wf, resume=state)

        def chi_spectrum(u):                       # the closed form of the completed field M f + O u
            return (spec_wf + fft(u)) * solver.d_p0
        spec_x = chi_spectrum(u)
    else:
        solver = _KspaceCG(w, d, lg2, shape, single=single, precondition=precondition)
        rhs_spec = solver.to_k(w * field) * d
        if solver.dot(rhs_spec, rhs_spec) == 0:
            return np.zeros(shape), {"n_iter": 0, "residual": 0.0, "converged": True, "objective": 0.0,
                                     "lam": lam, "method": method}
        with _blas_single_thread():
            spec, n_iter = solver.solve(rhs_spec, tol=tol, max_iter=max_iter,
                                        x0=None if x0 is None else solver.to_k(x0))
        spec_x = spec / solver.sw
        rhs = solver.to_image(rhs_spec)

    def finish(spec_x, n_iter, tol):
        # the residual and the objective from the solution's spectrum: D x once, for both
        x, dx = ifft(spec_x), ifft(spec_x * d)
        normal = ifft(fft(w * dx) * d + lg2 * spec_x)          # (D W D + lam G^T G) x
        res = float(np.linalg.norm(rhs - normal) / np.linalg.norm(rhs))
        obj = 0.5 * float(np.sum(w * (dx - field) ** 2)) + 0.5 * lam * float(
            np.sum(gradient(x, voxel_size=tuple(check_voxel_size(voxel_size))) ** 2))
        out = np.where(mask, x, 0.0) if masked_output else x
        return out, {"n_iter": n_iter, "residual": res, "converged": res <= tol,
                     "objective": obj, "lam": lam, "method": method}

    with _blas_single_thread():         # the norms too: the same bits however many threads BLAS has
        out, info = finish(spec_x, n_iter, tol)
        if snapshots is not None:
            info["snapshots"] = {t: finish(chi_spectrum(kept[t][0]), kept[t][1], t) if t in kept
                                 else (out, dict(info, converged=info["residual"] <= t)) for t in snapshots}
    if resumable:
        solver.state.key, solver.state.tol = key, tol
        info["_cg_state"] = solver.state
    return out, info


def _problem_key(field, mask, lam, voxel_size, b0_dir, precondition) -> str:
    """Digest of the problem a :func:`tikhonov_cg` solve answers (``resume`` checks it; the start
    ``x0`` is not part of it: the resumed state carries it)."""
    h = hashlib.blake2b(digest_size=16)
    for a in (field, mask):
        a = np.ascontiguousarray(a)
        h.update(repr((a.shape, a.dtype.str)).encode())
        h.update(a.data)
    h.update(repr((float(lam), tuple(map(float, voxel_size)), tuple(map(float, b0_dir)),
                   bool(precondition))).encode())
    return h.hexdigest()


def tikhonov_cg_many(fields, mask, *, lam=1e-2, workers=None, return_seconds: bool = False,
                     verbose: bool = False, **options):
    """:func:`tikhonov_cg` of several independent problems, side by side on the machine's cores.

    The controls of an experiment (a noisy field and its noise-free versions) or the points of a
    ``lam`` sweep do not depend on each other; scipy's FFTs and numpy's passes release the GIL, so
    they run on threads. Each problem is solved by the same code as a plain
    ``[tikhonov_cg(f, mask, lam=l, **options) for f, l in ...]`` loop, so every result and every
    ``info`` is identical to that loop's, bit for bit, whatever ``workers`` is (and however many
    threads BLAS has: each solve's dot products and norms run on one); only the wall time changes. On threads, each solve's FFTs get its
    share of the cores (at least one thread), re-divided as the solves finish: more FFT threads
    than cores only add switching (chapter 3's three lesion solves on two cores: about 4 % less
    CPU), and the solve left running last gets the cores the others freed. Numpy's passes are
    single-threaded, so two solves side by side also fill the core that one solve's elementwise
    work leaves idle: chapter 4's two solves on the 2016 challenge field (83 and 29 iterations)
    take 1.19 times less wall time on two cores than one after the other (each solve alone with
    its passes in parts), and 1.16 times less than with each solve's share fixed at the start
    (``benchmarks/bench_qsm_round10.py``; 1.49 and 1.30 before a lone solve's passes ran in parts).
    BLAS is held to one thread for the whole call (the solves' own small BLAS calls; setting it
    per thread would race).

    Parameters
    ----------
    fields : ndarray (X, Y, Z) or sequence of them
        Local fields (ppm); one array is shared by every ``lam``.
    mask : ndarray of bool, shape (X, Y, Z)
        Shared by every problem.
    lam : float or sequence of float, default 1e-2
        One weight for every field, or one per field (a sweep: one field, several ``lam``).
    workers : int or None, default None
        Threads: ``None`` or ``-1`` every available core, ``1`` the plain serial loop.
    return_seconds : bool, default False
        Also return each solve's own run time (wall seconds from its start to its end, while it
        shared the cores with the others).
    verbose : bool, default False
        Print one line to stdout as each solve ends (its ``lam``, iterations, relative residual
        and wall seconds, and how many of the solves have ended): progress while long solves
        run, in a terminal or a notebook.
    **options
        Passed to :func:`tikhonov_cg` (``tol``, ``voxel_size``, ``masked_output``, ...).

    Returns
    -------
    list of (chi, info)
        In the order of the problems, as :func:`tikhonov_cg` returns them.
    seconds : list of float
        Only with ``return_seconds=True``: each solve's wall time (s), in the same order.

    Examples
    --------
    A ``lam`` sweep of one field (a paramagnetic sphere in a spherical brain, 2 mm voxels):

    >>> import numpy as np
    >>> from qmrigenes import qsm
    >>> chi = qsm.sphere_source((16, 16, 16), center=(8, 8, 8), radius_mm=5, chi=0.1)
    >>> mask = qsm.sphere_source(chi.shape, center=(8, 8, 8), radius_mm=12, chi=1.0) > 0
    >>> field = qsm.forward_field(chi, pad=4) * mask
    >>> results = qsm.tikhonov_cg_many(field, mask, lam=[0.003, 0.03, 0.3], workers=2)
    >>> [info["lam"] for _, info in results]
    [0.003, 0.03, 0.3]
    >>> bool(np.array_equal(results[1][0], qsm.tikhonov_cg(field, mask, lam=0.03)[0]))
    True
    >>> results, seconds = qsm.tikhonov_cg_many(field, mask, lam=[0.003, 0.3], return_seconds=True)
    >>> len(seconds), all(s > 0 for s in seconds)
    (2, True)

    One line per solve as it ends (``verbose``; the seconds vary from run to run):

    >>> _ = qsm.tikhonov_cg_many(field, mask, lam=[0.003, 0.3], workers=1, verbose=True)
    tikhonov_cg lam=0.003: 18 iterations, residual 8.6e-07, ... s (1 of 2 solves ended)
    tikhonov_cg lam=0.3: 7 iterations, residual 3.0e-07, ... s (2 of 2 solves ended)
    """
    verbose = check_bool(verbose, "verbose")
    many_fields = not isinstance(fields, np.ndarray)
    fields = list(fields) if many_fields else [fields]
    many_lams = np.ndim(lam) > 0
    lams = list(lam) if many_lams else [lam]
    if not fields or not lams:
        raise ValueError("fields and lam must each hold at least one problem, got an empty sequence")
    if many_fields and many_lams and len(fields) != len(lams):
        raise ValueError(f"lam gives {len(lams)} weights for {len(fields)} fields: give one lam, "
                         "or one per field")
    n = max(len(fields), len(lams))
    problems = list(zip(fields * (n if len(fields) == 1 else 1), lams * (n if len(lams) == 1 else 1)))
    threads = min(n_workers(workers), len(problems))    # (a clear error before any work)

    ended, lock = [0], threading.Lock()

    def solver(field, lam):
        def solve():
            start = time.perf_counter()
            result = tikhonov_cg(field, mask, lam=lam, **options)
            seconds = time.perf_counter() - start
            if verbose:
                with lock:                               # one whole line per solve, in the order they end
                    ended[0] += 1
                    info = result[1]
                    print(f"tikhonov_cg lam={lam:.3g}: {info['n_iter']} iterations, residual "
                          f"{info['residual']:.1e}, {seconds:.1f} s ({ended[0]} of {len(problems)} "
                          "solves ended)", flush=True)
            return result, seconds
        return solve

    timed = _side_by_side([solver(f, lam) for f, lam in problems], threads)
    results = [result for result, _ in timed]
    return (results, [seconds for _, seconds in timed]) if return_seconds else results


def tikhonov_cg_and_early_stopped(field: np.ndarray, mask, *, lam: float = 1e-2, early=None, workers=None,
                                  **options) -> tuple:
    """:func:`tikhonov_cg` and :func:`tikhonov_early_stopped` of one problem, side by side.

    The converged solve and the early-stopped CG of the same field do not depend on each other;
    their FFTs and numpy passes release the GIL, so with two cores the early-stopped solve runs
    on one thread (one FFT thread) beside the converged one, which shares the cores with it and
    takes them all when it ends (the converged solve is the longer; with every core from the
    start, its FFTs and elementwise parts would compete with the early-stopped solve: chapter
    3's pair 2.14 s against 1.88 s, medians of five). Each is computed by the same code as the
    two calls one after the other, so both results and both ``info`` are identical to theirs,
    bit for bit, whatever ``workers`` is; only the wall time changes.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    mask : ndarray of bool, shape (X, Y, Z)
    lam : float, default 1e-2
        Regularisation weight of both.
    early : dict, optional
        Options of :func:`tikhonov_early_stopped` (``max_iter``, ``tol``, ``x0``).
    workers : int or None, default None
        Threads: ``None`` or ``-1`` every available core (two are used), ``1`` the plain calls
        one after the other.
    **options
        Passed to :func:`tikhonov_cg` (``tol``, ``snapshots``, ``resumable``, ...); ``weight``,
        ``voxel_size`` and ``b0_dir`` to both (the same problem).

    Returns
    -------
    ((chi, info), (chi_early, info_early))
        What :func:`tikhonov_cg` and :func:`tikhonov_early_stopped` return.

    Examples
    --------
    >>> import numpy as np
    >>> from qmrigenes import qsm
    >>> chi = qsm.sphere_source((16, 16, 16), center=(8, 8, 8), radius_mm=5, chi=0.1)
    >>> mask = qsm.sphere_source(chi.shape, center=(8, 8, 8), radius_mm=12, chi=1.0) > 0
    >>> field = qsm.forward_field(chi, pad=4) * mask
    >>> (chi_cg, info), (chi_es, info_es) = qsm.tikhonov_cg_and_early_stopped(field, mask, lam=0.03)
    >>> bool(np.array_equal(chi_es, qsm.tikhonov_early_stopped(field, mask, lam=0.03)[0]))
    True
    """
    early = {} if early is None else dict(early)
    shared = {k: options[k] for k in ("weight", "voxel_size", "b0_dir") if k in options}
    clash = sorted(set(early) & (set(shared) | {"lam"}))
    if clash:
        raise ValueError(f"early repeats {clash}: give them once, as arguments of this function")
    n = n_workers(workers)                               # a clear error before any work
    calls = [lambda: tikhonov_cg(field, mask, lam=lam, **options),
             lambda: tikhonov_early_stopped(field, mask, lam=lam, **shared, **early)]
    if n > 1:     # the early-stopped solve on one FFT thread; the converged one shares the cores with
        calls[1] = _on_fft_workers(1, calls[1])     # it, then takes them all once it ends
    converged, early_stopped = _side_by_side(calls, min(n, 2))
    return converged, early_stopped


def tikhonov_optimality(chi: np.ndarray, field: np.ndarray, mask, *, lam: float = 1e-2, weight=None,
                        voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0)) -> float:
    """Relative gradient of the Tikhonov objective of :func:`tikhonov_cg` at ``chi``.

    Returns ``||D W (D chi - f) + lam G^T G chi|| / ||D W f||`` (0 at the
    minimiser). ``chi`` is used on the whole grid, so pass the unmasked
    solution when the minimiser is non-zero outside the mask.
    """
    chi = _check_volume(chi, "chi")
    field, mask, w, d, lg2, lam = _tikhonov_setup(field, mask, lam, weight, voxel_size, b0_dir)
    if chi.shape != field.shape:
        raise ValueError(f"mismatched shapes: chi {chi.shape} vs field {field.shape}")
    rhs = _apply_kspace(w * field, d)
    grad = _normal_operator(w, d, lg2, field.shape)(chi) - rhs
    return float(np.linalg.norm(grad) / max(np.linalg.norm(rhs), 1e-300))


def tikhonov_early_stopped(field: np.ndarray, mask, *, lam: float = 1e-2, weight=None, max_iter: int = 60,
                           tol: float = 1e-3, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0), x0=None):
    """EARLY-STOPPED Tikhonov QSM: CG started at TKD and stopped at a loose tolerance.

    This is *not* the minimiser of the objective of :func:`tikhonov_cg`: it
    runs single-precision CG from the TKD solution (or ``x0``) and stops at a
    relative residual of ``tol`` (default 1e-3) or ``max_iter``, so its
    result lies between TKD and the Tikhonov minimiser (early stopping acts
    as an extra, implicit regularisation). Kept to show that difference.

    Returns
    -------
    chi : ndarray
        Susceptibility (ppm), zero outside the mask.
    info : dict
        ``n_iter``, ``converged`` (scipy's flag for ``tol``) and
        ``residual`` (relative normal-equation residual of the result,
        recomputed in float64).
    """
    from scipy.sparse.linalg import LinearOperator, cg   # here: importing it costs ~0.2 s per kernel

    check_qsm_inputs(field, mask, voxel_size=voxel_size, require_mask=True)   # #20
    tol = check_scalar(tol, "tol", min=0.0, max=1.0, min_inclusive=False)
    max_iter = check_int(max_iter, "max_iter", min=1, max=MAX_ITER)
    field, mask, w, d64, lg2_64, lam = _tikhonov_setup(field, mask, lam, weight, voxel_size, b0_dir)
    shape = field.shape
    d = d64.astype(np.float32)
    lg2 = lg2_64.astype(np.float32)
    w32 = w.astype(np.float32)
    n = field.size

    def matvec(v):
        spec_x = sfft.rfftn(v.reshape(shape).astype(np.float32, copy=False), workers=_fft_workers())
        dx = sfft.irfftn(spec_x * d, s=shape, workers=_fft_workers())
        spec = sfft.rfftn(w32 * dx, workers=_fft_workers()) * d + lg2 * spec_x
        return sfft.irfftn(spec, s=shape, workers=_fft_workers()).ravel()

    op = LinearOperator((n, n), matvec=matvec, dtype=np.float32)
    rhs64 = _apply_kspace(w * field, d64)
    rhs = rhs64.astype(np.float32).ravel()
    if x0 is None:
        x0 = tkd(field, mask=mask, voxel_size=voxel_size, b0_dir=b0_dir)
    else:
        x0 = _check_volume(x0, "x0")
        if x0.shape != shape:
            raise ValueError(f"mismatched shapes: x0 {x0.shape} vs field {shape}")
    count = {"n": 0}

    def cb(_):
        count["n"] += 1

    # one BLAS thread, as in tikhonov_cg: the same bits however many threads BLAS has (its dot
    # products sum in another order on several), and no busy-waiting BLAS threads beside the FFTs
    with _blas_single_thread():
        sol, flag = cg(op, rhs, x0=np.asarray(x0, np.float32).ravel(), rtol=tol, maxiter=max_iter,
                       callback=cb)
        sol = sol.reshape(shape).astype(float)
        res = float(np.linalg.norm(rhs64 - _normal_operator(w, d64, lg2_64, shape)(sol))
                    / max(np.linalg.norm(rhs64), 1e-300))
    chi = np.where(mask, sol, 0.0)
    return chi, {"n_iter": count["n"], "converged": flag == 0, "residual": res}


def sphere_kernel(shape, *, radius_mm: float, voxel_size=(2.0, 2.0, 2.0)) -> np.ndarray:
    """Normalised spherical kernel centred at voxel (0, 0, 0) (periodic), sum 1."""
    shape = _check_shape(shape)
    if not radius_mm > 0:
        raise ValueError(f"radius_mm must be positive, got {radius_mm}")
    coords = [np.fft.fftfreq(n, 1.0 / n) * v for n, v in zip(shape, voxel_size)]
    x, y, z = np.meshgrid(*coords, indexing="ij")
    s = (x ** 2 + y ** 2 + z ** 2 <= radius_mm ** 2).astype(float)
    if s.sum() <= 1:
        raise ValueError(f"radius {radius_mm} mm contains no voxel besides the centre")
    return s / s.sum()


def sharp(total_field: np.ndarray, mask, *, radius_mm: float = 8.0, threshold: float = 0.05,
          voxel_size=(2.0, 2.0, 2.0)) -> tuple[np.ndarray, np.ndarray]:
    """SHARP background-field removal.

    Parameters
    ----------
    total_field : ndarray, shape (X, Y, Z)
        Field (ppm) = local + background.
    mask : ndarray of bool
        Brain mask.
    radius_mm : float
        Radius of the spherical mean value filter.
    threshold : float
        Truncation of the deconvolution, ``|1 - S(k)| > threshold``.

    Returns
    -------
    local_field : ndarray
        Estimated local field (ppm), zero outside the eroded mask.
    eroded_mask : ndarray of bool
        The mask eroded by the sphere, where SHARP is valid.
    """
    check_qsm_inputs(total_field, mask, voxel_size=voxel_size, field_name="total_field", require_mask=True)  # #20
    field, mask = _check_field_mask(total_field, mask)
    if mask is None:
        raise ValueError("sharp needs a mask")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    s = sfft.rfftn(sphere_kernel(field.shape, radius_mm=radius_mm, voxel_size=voxel_size),
                   workers=_fft_workers()).real
    eroded = sfft.irfftn(sfft.rfftn(mask.astype(float), workers=_fft_workers()) * s, s=field.shape,
                         workers=_fft_workers()) > 1 - 1e-6
    eroded &= mask
    if not eroded.any():   # #20: an all-zero 'local field' is not an answer
        raise ValueError(f"mask: eroding it by the {radius_mm:g} mm sphere leaves no voxel (mask of "
                         f"{int(mask.sum())} voxels); use a larger mask or a smaller radius_mm")
    smv = 1.0 - s
    high = np.where(eroded, _apply_kspace(np.where(mask, field, 0.0), smv), 0.0)
    inv = np.where(np.abs(smv) > threshold, 1.0 / np.where(smv == 0, 1, smv), 0.0)
    local = np.where(eroded, _apply_kspace(high, inv), 0.0)
    return local, eroded


def roi_means(volumes: dict, labels: np.ndarray, tissues: dict, *, mask=None) -> pd.DataFrame:
    """Mean of each volume per ROI.

    Parameters
    ----------
    volumes : dict of str -> ndarray
        e.g. ``{"truth": chi, "TKD": chi_tkd, "Tikhonov": chi_cg}``.
    labels : ndarray of int
    tissues : dict
        ``{label: name}``.
    mask : ndarray of bool, optional
        Only voxels inside count (e.g. the SHARP-eroded mask).

    Returns
    -------
    pandas.DataFrame
        Index tissue name, one column per volume, plus ``n_voxels``.
    """
    rows = {}
    for lab, name in tissues.items():
        sel = labels == lab
        if mask is not None:
            sel &= mask
        if not sel.any():
            continue
        row = {}
        for key, vol in volumes.items():
            if vol.shape != labels.shape:
                raise ValueError(f"mismatched shapes: {key} {vol.shape} vs labels {labels.shape}")
            row[key] = float(vol[sel].mean())
        row["n_voxels"] = int(sel.sum())
        rows[name] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "tissue"
    return out


def reference_to(chi: np.ndarray, region) -> np.ndarray:
    """Subtract the mean of ``chi`` over ``region`` (bool mask), e.g. CSF.

    QSM recovers chi only up to a constant (``D(0) = 0``), so maps are
    compared after referencing both to the same region.
    """
    region = np.asarray(region, bool)
    if region.shape != np.shape(chi):
        raise ValueError(f"mismatched shapes: region {region.shape} vs chi {np.shape(chi)}")
    if not region.any():
        raise ValueError("the reference region is empty")
    return chi - float(np.mean(chi[region]))


def sphere_source(shape, *, center, radius_mm: float, chi: float, voxel_size=(2.0, 2.0, 2.0)) -> np.ndarray:
    """A uniform sphere of susceptibility ``chi`` (ppm) - e.g. an external field source."""
    shape = _check_shape(shape)
    if not radius_mm > 0:
        raise ValueError(f"radius_mm must be positive, got {radius_mm}")
    grids = np.meshgrid(*[(np.arange(n) - c) * v for n, c, v in zip(shape, center, voxel_size)],
                        indexing="ij")
    return np.where(sum(g ** 2 for g in grids) <= radius_mm ** 2, float(chi), 0.0)


def recovery_summary(rois: pd.DataFrame, *, truth: str = "truth", estimates=None,
                     near_zero_ppb: float = 10.0) -> pd.DataFrame:
    """Recovery of ROI means: differences everywhere, ratios only where the truth is not near zero.

    A ratio ``estimate / truth`` is meaningless when ``|truth|`` is close to
    zero (e.g. a thalamus at about -1 ppb): it is reported as NaN there and
    the difference (ppb) carries the comparison.

    Parameters
    ----------
    rois : DataFrame
        Index ROI names; a ``truth`` column and estimate columns, in ppm
        (e.g. from :func:`roi_means`).
    truth : str, default "truth"
    estimates : sequence of str, optional
        Columns to summarise (default: every numeric column but ``truth``
        and ``n_voxels``).
    near_zero_ppb : float, default 10
        ``|truth|`` below this (ppb) gets no ratio.

    Returns
    -------
    pandas.DataFrame
        Index ROI; columns ``truth_ppb``, ``near_zero`` (bool), and per
        estimate ``<name> diff_ppb`` (estimate - truth, ppb) and
        ``<name> ratio_pct`` (100 x estimate / truth, NaN where near zero).
    """
    if not isinstance(rois, pd.DataFrame):
        raise TypeError(f"rois must be a pandas DataFrame, got {type(rois).__name__}")
    check_choice(truth, "truth", list(rois.columns))
    near_zero_ppb = check_scalar(near_zero_ppb, "near_zero_ppb", min=0.0, unit="ppb")
    if estimates is None:
        estimates = [c for c in rois.columns if c not in (truth, "n_voxels")
                     and pd.api.types.is_numeric_dtype(rois[c]) and "/" not in str(c)]
    else:
        estimates = list(estimates)
        for e in estimates:
            check_choice(e, "estimates", list(rois.columns))
    t = 1000.0 * as_array(rois[truth], "rois[truth]", ndim=1)
    near = np.abs(t) < near_zero_ppb
    out = pd.DataFrame({"truth_ppb": t, "near_zero": near}, index=rois.index)
    for e in estimates:
        v = 1000.0 * as_array(rois[e], f"rois[{e!r}]", ndim=1)
        out[f"{e} diff_ppb"] = v - t
        with np.errstate(divide="ignore", invalid="ignore"):
            out[f"{e} ratio_pct"] = np.where(near, np.nan, 100.0 * v / np.where(near, 1.0, t))
    return out
