"""Error metrics of the QSM reconstruction challenges, computed within a mask.

All metrics compare a reconstruction ``recon`` with a reference ``ref`` (both
susceptibility maps in ppm on the same grid) inside a boolean ``mask``.

NRMSE (percent)
    ``100 ||r - t|| / ||t||`` over the mask. With ``demean=True`` (default)
    both maps are first demeaned within the mask, as QSM-CI's scorer does:
    QSM recovers susceptibility only up to a constant, so a constant offset is
    not counted as error. ``demean=False`` is the 2016 challenge's RMSE
    (Langkammer et al. 2018), which took the maps as submitted.
Detrended NRMSE (percent)
    QSM-CI's second NRMSE: the demeaned reconstruction is mapped back through
    the least-squares line ``r = a t + b`` (``(r - b) / a``) before the NRMSE,
    so a pure scaling error is not counted.
HFEN (percent)
    The NRMSE of the two maps after a Laplacian-of-Gaussian high-pass filter
    (sigma = 1.5 voxels), the 2016 challenge's measure of how well fine detail
    is recovered. ``kernel="challenge2016"`` (default) uses the challenge's
    15 x 15 x 15 kernel made zero-sum; ``kernel="scipy"`` uses
    :func:`scipy.ndimage.gaussian_laplace` with ``truncate=5`` (a
    17-voxel support), as QSM-CI's scorer does. The norms are taken in the mask.
XSIM
    SSIM tuned for susceptibility maps (QSM challenge 2.0; QSM-CI): local
    means, variances and covariance over 5 x 5 x 5 windows (truncated at the
    grid edge), constants ``C1 = (K1 L)^2``, ``C2 = (K2 L)^2`` with ``K1 = 0.01``,
    ``K2 = 0.001``, ``L = 1`` ppm and no rescaling of the maps; the mean of the
    SSIM map over the mask. ``k2=0.03`` gives the classic SSIM constants.
Pearson r
    Correlation of the two maps over the mask.
"""
from __future__ import annotations

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

from ._validate import as_array, check_choice, check_int, check_scalar
from .qsm import _WORKERS, _c_order, _check_mask

__all__ = ["nrmse", "nrmse_detrended", "hfen", "log_kernel", "xsim", "pearson_r",
           "challenge_metrics", "ChallengeScorer", "METRIC_NAMES"]

#: Column names of :func:`challenge_metrics`, in display order.
METRIC_NAMES = ("nrmse", "nrmse_detrend", "hfen", "xsim", "r")


def _pair(recon, ref, mask):
    """Validate two maps and a mask of one shape; return float64 arrays and a bool mask."""
    recon = as_array(recon, "recon")
    ref = as_array(ref, "ref")
    if recon.shape != ref.shape:
        raise ValueError(f"mismatched shapes: recon {recon.shape} vs ref {ref.shape}")
    m = np.ones(recon.shape, bool) if mask is None else _check_mask(mask, recon.shape)
    if m.sum() < 2:
        raise ValueError(f"mask must select at least 2 voxels, got {int(m.sum())}")
    return recon, ref, m


def _norm_ratio(err, ref) -> float:
    den = float(np.linalg.norm(ref))
    if den == 0:
        raise ValueError("the reference is constant within the mask: its norm is 0, the ratio is undefined")
    return 100.0 * float(np.linalg.norm(err)) / den


def nrmse(recon, ref, mask=None, *, demean: bool = True) -> float:
    """Normalised root-mean-square error (percent) within ``mask``.

    Parameters
    ----------
    recon, ref : array_like, shape (X, Y, Z) (or any shape)
        Reconstruction and reference (ppm).
    mask : array_like of bool, same shape, optional
        Voxels scored (default: all).
    demean : bool, default True
        Subtract each map's mean within the mask first (QSM-CI); ``False``
        compares the maps as given (the 2016 challenge's RMSE).

    Returns
    -------
    float
        ``100 ||r - t|| / ||t||`` over the mask.

    Examples
    --------
    >>> # demeaned: r = (-1, 0, 1), t = (-4/3, -1/3, 5/3); ||r - t|| / ||t|| = sqrt(6) / sqrt(42)
    >>> round(nrmse([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]), 2)
    37.8
    >>> round(nrmse([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], demean=False), 2)   # sqrt(1) / sqrt(21)
    21.82
    """
    recon, ref, m = _pair(recon, ref, mask)
    r, t = recon[m], ref[m]
    if demean:
        r, t = r - r.mean(), t - t.mean()
    return _norm_ratio(r - t, t)


def nrmse_detrended(recon, ref, mask=None) -> float:
    """NRMSE (percent) after undoing the least-squares line between the demeaned maps (QSM-CI).

    With ``r`` and ``t`` demeaned within the mask and ``r ≈ a t + b`` fitted by
    least squares, returns ``100 ||(r - b)/a - t|| / ||t||``; a map that is a
    scaled copy of the reference scores 0.
    """
    recon, ref, m = _pair(recon, ref, mask)
    r, t = recon[m] - recon[m].mean(), ref[m] - ref[m].mean()
    slope, intercept = np.polyfit(t, r, 1)
    if slope == 0:
        return _norm_ratio(r - t, t)
    return _norm_ratio((r - intercept) / slope - t, t)


def log_kernel(*, sigma: float = 1.5, size: int = 15) -> np.ndarray:
    """The 2016 challenge's Laplacian-of-Gaussian kernel (``size`` voxels a side, zero sum).

    A Gaussian of SD ``sigma`` (voxels) normalised to sum 1, times
    ``sum_i (x_i^2 / sigma^4) - 3 / sigma^2``, minus its mean so that the
    kernel sums to zero (a constant map has no high-frequency content).

    Returns
    -------
    ndarray, shape (size, size, size)
    """
    sigma = check_scalar(sigma, "sigma", min=0.0, min_inclusive=False, unit="voxels")
    size = check_int(size, "size", min=3)
    if size % 2 == 0:
        raise ValueError(f"size must be odd (a centred kernel), got {size}")
    h = np.arange(size) - (size - 1) / 2
    x, y, z = np.meshgrid(h, h, h, indexing="ij")
    r2 = x ** 2 + y ** 2 + z ** 2
    g = np.exp(-r2 / (2 * sigma ** 2))
    g /= g.sum()
    k = (r2 / sigma ** 4 - 3 / sigma ** 2) * g
    return k - k.mean()


def hfen(recon, ref, mask=None, *, sigma: float = 1.5, kernel: str = "challenge2016") -> float:
    """High-frequency error norm (percent): NRMSE of LoG-filtered maps, within ``mask``.

    Parameters
    ----------
    recon, ref : array_like, shape (X, Y, Z)
        Maps (ppm); filtered over the whole grid (zero outside the brain, as
        submitted), then compared inside ``mask``.
    mask : array_like of bool, optional
    sigma : float, default 1.5
        SD of the Gaussian (voxels).
    kernel : {"challenge2016", "scipy"}
        ``"challenge2016"``: the 15-voxel zero-sum kernel of :func:`log_kernel`,
        applied with zero padding; ``"scipy"``:
        ``scipy.ndimage.gaussian_laplace(..., truncate=5)`` (QSM-CI's scorer).

    Returns
    -------
    float
        ``100 ||LoG r - LoG t|| / ||LoG t||`` over the mask.
    """
    check_choice(kernel, "kernel", ("challenge2016", "scipy"))
    recon, ref, m = _pair(recon, ref, mask)
    if recon.ndim != 3:
        raise ValueError(f"recon must be a 3D map, got {recon.ndim} dimensions")
    if kernel == "scipy":
        # a finite filter: at the mask's voxels it only reaches the mask's box plus its radius, so it
        # is computed there (the same sums; at the grid's edges the box's edges are the grid's)
        radius = int(5.0 * sigma + 0.5)              # scipy's support: truncate * sigma, rounded
        idx = np.nonzero(m)
        box = tuple(slice(max(int(i.min()) - radius, 0), int(i.max()) + 1 + radius) for i in idx)
        lr = ndimage.gaussian_laplace(recon[box], sigma=sigma, truncate=5.0)
        lt = ndimage.gaussian_laplace(ref[box], sigma=sigma, truncate=5.0)
        m = m[box]
    else:
        lr, lt = _log_2016(recon, sigma), _log_2016(ref, sigma)
    return _norm_ratio(lr[m] - lt[m], lt[m])


_LOG_SPECTRA: dict = {}


def _log_2016(x: np.ndarray, sigma: float, size: int = 15) -> np.ndarray:
    """``x`` convolved with :func:`log_kernel` (zero padding: the grid's outside is 0).

    One real-FFT pair on the grid padded by the kernel's radius ``c = (size - 1) / 2``
    (a linear, not periodic, convolution; the kernel's spectrum is cached per
    padded shape), instead of the 12 one-dimensional 15-tap passes of the
    separable form: the same filter up to rounding (the tests compare both with
    a direct convolution by :func:`scipy.ndimage.convolve`). Only the output on
    ``x``'s own grid is kept, so ``c`` zeros per axis suffice (not the ``2 c`` of
    a full linear convolution): with a period of at least ``n + c`` (and at
    least the kernel's ``size``), the neighbours that fall off either end of an
    axis (``c`` at most) wrap onto those zeros.
    """
    x = np.asarray(x, float)
    c = (size - 1) // 2
    shape = tuple(sfft.next_fast_len(max(n + c, size), real=True) for n in x.shape)
    key = (shape, float(sigma), int(size))
    spec = _LOG_SPECTRA.get(key)           # one look-up: safe with maps scored on several threads
    if spec is None:
        spec = sfft.rfftn(log_kernel(sigma=sigma, size=size), s=shape, workers=_WORKERS)
        if len(_LOG_SPECTRA) > 8:
            _LOG_SPECTRA.clear()
        _LOG_SPECTRA[key] = spec
    full = sfft.irfftn(sfft.rfftn(x, s=shape, workers=_WORKERS) * spec, s=shape, workers=_WORKERS)
    return full[c:c + x.shape[0], c:c + x.shape[1], c:c + x.shape[2]]


def _box_mean(x: np.ndarray, size: int, count: np.ndarray) -> np.ndarray:
    """Mean over the in-grid part of a ``size``-voxel cubic window around each voxel."""
    return ndimage.uniform_filter(x, size=size, mode="constant") / count


def xsim(recon, ref, mask=None, *, k1: float = 0.01, k2: float = 0.001, data_range: float = 1.0,
         window: int = 5) -> float:
    """XSIM: structural similarity for susceptibility maps, averaged within ``mask``.

    Parameters
    ----------
    recon, ref : array_like, shape (X, Y, Z)
        Maps in ppm, not rescaled.
    mask : array_like of bool, optional
    k1, k2 : float
        SSIM constants; ``C1 = (k1 data_range)^2``, ``C2 = (k2 data_range)^2``.
        Defaults 0.01 and 0.001 are XSIM's; ``k2=0.03`` is the classic SSIM.
    data_range : float, default 1.0
        ``L`` (ppm).
    window : int, default 5
        Side of the cubic window (voxels); windows are cut at the grid edge
        (their statistics use only the voxels inside the grid).

    Returns
    -------
    float
        Mean SSIM index over the mask (1 for identical maps).
    """
    recon, ref, m = _pair(recon, ref, mask)
    window = check_int(window, "window", min=1)
    c1 = (check_scalar(k1, "k1", min=0.0) * data_range) ** 2
    c2 = (check_scalar(k2, "k2", min=0.0) * data_range) ** 2
    count = ndimage.uniform_filter(np.ones_like(recon), size=window, mode="constant")[m]

    def mean(x):                                # _box_mean, at the mask's voxels only
        return ndimage.uniform_filter(x, size=window, mode="constant")[m] / count
    mu_r, mu_t = mean(recon), mean(ref)
    var_r = mean(recon * recon) - mu_r ** 2
    var_t = mean(ref * ref) - mu_t ** 2
    cov = mean(recon * ref) - mu_r * mu_t
    num = (2 * mu_r * mu_t + c1) * (2 * cov + c2)
    den = (mu_r ** 2 + mu_t ** 2 + c1) * (var_r + var_t + c2)
    ok = den > 0
    if not ok.any():
        raise ValueError("every windowed denominator is 0 within the mask (both maps constant and k1 = k2 = 0)")
    return float(np.mean(num[ok] / den[ok]))


def pearson_r(recon, ref, mask=None) -> float:
    """Pearson correlation of the two maps over ``mask``."""
    recon, ref, m = _pair(recon, ref, mask)
    r, t = recon[m] - recon[m].mean(), ref[m] - ref[m].mean()
    den = float(np.linalg.norm(r) * np.linalg.norm(t))
    if den == 0:
        raise ValueError("a map is constant within the mask: the correlation is undefined")
    return float(np.dot(r, t) / den)


def challenge_metrics(recon, ref, mask=None, *, hfen_kernel: str = "challenge2016") -> dict:
    """Every metric of this module for one reconstruction.

    Returns
    -------
    dict
        ``nrmse`` (demeaned, %), ``nrmse_detrend`` (%), ``hfen`` (%), ``xsim``
        and ``r`` (keys :data:`METRIC_NAMES`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(0, 0.05, (8, 8, 8))
    >>> challenge_metrics(ref, ref)["nrmse"]
    0.0
    """
    recon, ref, m = _pair(recon, ref, mask)
    return {"nrmse": nrmse(recon, ref, m), "nrmse_detrend": nrmse_detrended(recon, ref, m),
            "hfen": hfen(recon, ref, m, kernel=hfen_kernel), "xsim": xsim(recon, ref, m),
            "r": pearson_r(recon, ref, m)}


class ChallengeScorer:
    """:func:`challenge_metrics` against one reference, for scoring many reconstructions fast.

    The reference's filtered maps (LoG, XSIM window statistics) are computed
    once, and every map is cut to the mask's bounding box plus a margin wider
    than the filters (9 voxels), which leaves every metric unchanged: no voxel
    outside that box reaches a filter centred in the mask. A map that is zero
    outside the mask's box plus 2 voxels (as submitted: zero outside the mask)
    has XSIM's window sums and the 2016 LoG computed on that smaller box: XSIM
    to the last bit, HFEN to rounding (the LoG's FFT grid is smaller; about
    1e-15 relative).

    Parameters
    ----------
    ref : array_like, shape (X, Y, Z)
        Reference map (ppm).
    mask : array_like of bool, same shape
    hfen_kernel : {"challenge2016", "scipy"}

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(0, 0.05, (24, 24, 24)); mask = np.zeros(ref.shape, bool); mask[4:20, 4:20, 4:20] = True
    >>> score = ChallengeScorer(ref, mask)
    >>> bool(abs(score(ref + 0.01)["nrmse"]) < 1e-9)
    True
    """

    _MARGIN = 9

    def __init__(self, ref, mask, *, hfen_kernel: str = "challenge2016"):
        check_choice(hfen_kernel, "hfen_kernel", ("challenge2016", "scipy"))
        ref, _, m = _pair(ref, ref, mask)
        if ref.ndim != 3:
            raise ValueError(f"ref must be a 3D map, got {ref.ndim} dimensions")
        idx = np.nonzero(m)
        self.box = tuple(slice(max(int(i.min()) - self._MARGIN, 0), min(int(i.max()) + 1 + self._MARGIN, n))
                         for i, n in zip(idx, m.shape))
        self.shape = ref.shape
        self.kernel = hfen_kernel
        self.mask = _c_order(m[self.box])          # C order: see qsm._c_order
        self.ref = _c_order(ref[self.box])
        self._t = self.ref[self.mask]
        self._count = ndimage.uniform_filter(np.ones_like(self.ref), size=5, mode="constant")
        mu_t = _box_mean(self.ref, 5, self._count)
        var_t = _box_mean(self.ref * self.ref, 5, self._count) - mu_t ** 2
        # the XSIM terms are needed only at the scored voxels: the window means run on the box,
        # the formula on the mask (the same values, in the same order, as on the box)
        self._mu_t, self._var_t = mu_t[self.mask], var_t[self.mask]
        self._td = self._t - self._t.mean()
        self._td2 = float(np.dot(self._td, self._td))
        self._log_t = self._log(self.ref)[self.mask]
        # XSIM's window sums of a map that is zero outside the mask (as submitted) need only the
        # mask's bounding box plus the window's half-width: scipy's box filter is a running sum along
        # each line, and a line that starts in zeros reaches the same sums at every mask voxel (the
        # sum of the first window holds at most one nonzero value, so it is exact, and adding or
        # removing a zero changes nothing). The window counts stay those of the whole grid.
        inner = tuple(slice(max(int(i.min()) - 2, 0) - b.start, min(int(i.max()) + 3, n) - b.start)
                      for i, n, b in zip(idx, m.shape, self.box))
        self._inner = inner
        self._inner_mask = _c_order(self.mask[inner])
        self._inner_count = self._count[inner][self._inner_mask]
        self._inner_ref = _c_order(self.ref[inner])
        self._shell = []                        # the box outside that inner box, as slabs
        for axis, sl in enumerate(inner):
            for part in (slice(0, sl.start), slice(sl.stop, self.mask.shape[axis])):
                if part.stop > part.start:
                    self._shell.append(tuple(inner[:axis]) + (part,) + (slice(None),) * (2 - axis))

    def _log(self, x):
        if self.kernel == "scipy":
            return ndimage.gaussian_laplace(x, sigma=1.5, truncate=5.0)
        return _log_2016(x, 1.5)

    def _log_at_mask(self, r_box, inner: bool):
        """The LoG of a map (cut to the box) at the mask's voxels. The 2016 LoG is a convolution
        with zero padding, so a map that is zero outside the inner box (``inner``) is filtered on
        that box, a smaller FFT grid; scipy's LoG reflects at the edges, so it uses the whole box."""
        if inner and self.kernel == "challenge2016":
            return self._log(r_box[self._inner])[self._inner_mask]
        return self._log(r_box)[self.mask]

    def __call__(self, recon) -> dict:
        """The metrics of ``recon`` (dict with keys :data:`METRIC_NAMES`)."""
        recon = as_array(recon, "recon")
        if recon.shape != self.shape:
            raise ValueError(f"mismatched shapes: recon {recon.shape} vs ref {self.shape}")
        r_box = recon[self.box]
        r, td = r_box[self.mask], self._td
        rd = r - r.mean()
        # least-squares line rd ~ a td + b between demeaned maps, in closed form (b = mean(rd) - a mean(td))
        slope = float(np.dot(td, rd)) / self._td2
        intercept = float(rd.mean()) - slope * float(td.mean())
        detr = _norm_ratio((rd - intercept) / slope - td, td) if slope != 0 else _norm_ratio(rd - td, td)
        x, m, ref, count = r_box, self.mask, self.ref, None
        inner = not any(r_box[sl].any() for sl in self._shell)
        if inner:                               # zero outside the inner box: sums on it
            x, m, ref, count = r_box[self._inner], self._inner_mask, self._inner_ref, self._inner_count
        count = self._count[m] if count is None else count

        def window_mean(y):                     # _box_mean, divided by the counts at the mask only
            return ndimage.uniform_filter(y, size=5, mode="constant")[m] / count
        mu_r = window_mean(x)
        var_r = window_mean(x * x) - mu_r ** 2
        cov = window_mean(x * ref) - mu_r * self._mu_t
        c1, c2 = 1e-4, 1e-6
        num = (2 * mu_r * self._mu_t + c1) * (2 * cov + c2)
        den = (mu_r ** 2 + self._mu_t ** 2 + c1) * (var_r + self._var_t + c2)
        ok = den > 0
        den_r = float(np.linalg.norm(rd) * np.linalg.norm(td))
        log_r = self._log_at_mask(r_box, inner)
        return {"nrmse": _norm_ratio(rd - td, td), "nrmse_detrend": detr,
                "hfen": _norm_ratio(log_r - self._log_t, self._log_t),
                "xsim": float(np.mean(num[ok] / den[ok])),
                "r": float(np.dot(rd, td) / den_r) if den_r > 0 else float("nan")}
