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
      ``min ||M (D chi - f)||^2 + lam ||grad chi||^2``, solved by conjugate
      gradients on the normal equations with FFT operators; and its closed
      form without the mask, ``chi = D F / (D^2 + lam |G|^2)``.

Background field removal
    SHARP (Schweser et al. 2011): background fields are harmonic inside the
    brain, so the spherical-mean-value (SMV) filter ``delta - rho`` removes
    them; the local field is recovered by a truncated deconvolution.

All operators are periodic on the given grid. Arrays are float64.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import scipy.fft as sfft
from scipy.sparse.linalg import LinearOperator, cg

__all__ = [
    "dipole_kernel",
    "forward_field",
    "dipole_operator",
    "add_field_noise",
    "tkd",
    "tikhonov_kspace",
    "tikhonov_cg",
    "gradient",
    "divergence",
    "sphere_kernel",
    "sharp",
    "roi_means",
    "reference_to",
    "sphere_source",
]

_WORKERS = -1


def _check_shape(shape) -> tuple:
    shape = tuple(int(n) for n in shape)
    if len(shape) != 3 or min(shape) < 2:
        raise ValueError(f"QSM needs a 3D grid with at least 2 voxels per axis, got {shape}")
    return shape


def _kgrid(shape, voxel_size, *, real: bool = True):
    shape = _check_shape(shape)
    vs = np.asarray(voxel_size, dtype=float)
    if vs.shape != (3,) or np.any(vs <= 0):
        raise ValueError(f"voxel_size must be three positive numbers (mm), got {voxel_size}")
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
    b0 = np.asarray(b0_dir, dtype=float)
    if b0.shape != (3,) or not np.linalg.norm(b0) > 0:
        raise ValueError(f"b0_dir must be a non-zero 3-vector, got {b0_dir}")
    b0 = b0 / np.linalg.norm(b0)
    kx, ky, kz = _kgrid(shape, voxel_size, real=real)
    k2 = kx ** 2 + ky ** 2 + kz ** 2
    kb = kx * b0[0] + ky * b0[1] + kz * b0[2]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = 1.0 / 3.0 - kb ** 2 / k2
    d[k2 == 0] = 0.0
    return d


def _apply_kspace(x: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    spec = sfft.rfftn(x, workers=_WORKERS)
    if spec.shape != kernel.shape:
        raise ValueError(f"mismatched shapes: image spectrum {spec.shape} vs kernel {kernel.shape}")
    return sfft.irfftn(spec * kernel, s=x.shape, workers=_WORKERS)


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
    chi = np.asarray(chi, dtype=float)
    _check_shape(chi.shape)
    if pad < 0:
        raise ValueError(f"pad must be >= 0, got {pad}")
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
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    out = field + rng.normal(0.0, sigma, size=field.shape)
    if mask is not None:
        if np.shape(mask) != field.shape:
            raise ValueError(f"mismatched shapes: mask {np.shape(mask)} vs field {field.shape}")
        out = np.where(mask, out, 0.0)
    return out


def _check_field_mask(field, mask):
    field = np.asarray(field, dtype=float)
    _check_shape(field.shape)
    if mask is None:
        return field, None
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != field.shape:
        raise ValueError(f"mismatched shapes: mask {mask.shape} vs field {field.shape}")
    return field, mask


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
    if not 0 < threshold <= 2 / 3:
        raise ValueError(f"threshold must be in (0, 2/3], got {threshold}")
    field, mask = _check_field_mask(field, mask)
    if mask is not None:
        field = np.where(mask, field, 0.0)
    d = dipole_kernel(field.shape, voxel_size=voxel_size, b0_dir=b0_dir)
    d_t = np.where(np.abs(d) > threshold, d, threshold * np.sign(d))
    with np.errstate(divide="ignore"):
        inv = np.where(d_t != 0, 1.0 / d_t, 0.0)
    chi = _apply_kspace(field, inv)
    return np.where(mask, chi, 0.0) if mask is not None else chi


def _gradient_symbol(shape, voxel_size):
    """|G(k)|^2 of periodic forward differences."""
    kx, ky, kz = _kgrid(shape, voxel_size)
    vs = np.asarray(voxel_size, float)
    return sum((2 - 2 * np.cos(2 * np.pi * k * v)) / v ** 2 for k, v in zip((kx, ky, kz), vs))


def tikhonov_kspace(field: np.ndarray, *, lam: float = 1e-2, mask=None, voxel_size=(2.0, 2.0, 2.0),
                    b0_dir=(0.0, 0.0, 1.0)) -> np.ndarray:
    """Closed-form gradient-Tikhonov QSM without data weighting.

    ``chi = F^-1[ D F(f) / (D^2 + lam |G|^2) ]``, the minimiser of
    ``||D chi - f||^2 + lam ||grad chi||^2`` on a periodic grid (the mean of
    chi, unseen by both terms, is set to zero).
    """
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam}")
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


def tikhonov_cg(field: np.ndarray, mask, *, lam: float = 1e-2, weight=None, max_iter: int = 60,
                tol: float = 1e-3, voxel_size=(2.0, 2.0, 2.0), b0_dir=(0.0, 0.0, 1.0), x0=None):
    """Mask-weighted gradient-Tikhonov QSM by conjugate gradients.

    Solves ``(D W D + lam G^T G) chi = D W f`` with ``W`` = mask (times an
    optional data weight, e.g. magnitude), every operator applied by FFT or
    finite differences.

    Parameters
    ----------
    field : ndarray, shape (X, Y, Z)
        Local field (ppm).
    mask : ndarray of bool, same shape
    lam : float
        Regularisation weight (> 0); larger = smoother, less streaking, more
        underestimation of small structures.
    weight : ndarray, optional
        Non-negative data weights inside the mask.
    max_iter, tol : CG stopping rules (relative residual).
    x0 : ndarray, optional
        Starting point (default: the TKD solution).

    Returns
    -------
    chi : ndarray
        Susceptibility (ppm), zero outside the mask.
    info : dict
        ``n_iter`` and ``converged``.
    """
    if not lam > 0:
        raise ValueError(f"lam must be positive, got {lam}")
    field, mask = _check_field_mask(field, mask)
    if mask is None:
        raise ValueError("tikhonov_cg needs a mask")
    w = mask.astype(float)
    if weight is not None:
        weight = np.asarray(weight, float)
        if weight.shape != field.shape:
            raise ValueError(f"mismatched shapes: weight {weight.shape} vs field {field.shape}")
        if np.any(weight < 0):
            raise ValueError("weights must be non-negative")
        w = w * weight
    shape = field.shape
    # single precision inside the solver: twice as fast, ample for CG to 1e-3
    d = dipole_kernel(shape, voxel_size=voxel_size, b0_dir=b0_dir).astype(np.float32)
    lg2 = (lam * _gradient_symbol(shape, voxel_size)).astype(np.float32)
    w32 = w.astype(np.float32)
    n = field.size

    def matvec(v):
        spec_x = sfft.rfftn(v.reshape(shape).astype(np.float32, copy=False), workers=_WORKERS)
        dx = sfft.irfftn(spec_x * d, s=shape, workers=_WORKERS)
        spec = sfft.rfftn(w32 * dx, workers=_WORKERS) * d + lg2 * spec_x
        return sfft.irfftn(spec, s=shape, workers=_WORKERS).ravel()

    op = LinearOperator((n, n), matvec=matvec, dtype=np.float32)
    rhs = _apply_kspace(w * field, d.astype(float)).astype(np.float32).ravel()
    if x0 is None:
        x0 = tkd(field, mask=mask, voxel_size=voxel_size, b0_dir=b0_dir)
    count = {"n": 0}

    def cb(_):
        count["n"] += 1

    sol, flag = cg(op, rhs, x0=np.asarray(x0, np.float32).ravel(), rtol=tol, maxiter=max_iter,
                   callback=cb)
    chi = np.where(mask, sol.reshape(shape).astype(float), 0.0)
    return chi, {"n_iter": count["n"], "converged": flag == 0}


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
    field, mask = _check_field_mask(total_field, mask)
    if mask is None:
        raise ValueError("sharp needs a mask")
    if not 0 < threshold < 1:
        raise ValueError(f"threshold must be in (0, 1), got {threshold}")
    s = sfft.rfftn(sphere_kernel(field.shape, radius_mm=radius_mm, voxel_size=voxel_size),
                   workers=_WORKERS).real
    eroded = sfft.irfftn(sfft.rfftn(mask.astype(float), workers=_WORKERS) * s, s=field.shape,
                         workers=_WORKERS) > 1 - 1e-6
    eroded &= mask
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
