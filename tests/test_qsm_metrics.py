"""QSM challenge metrics: hand-computed cases, invariances, and QSM-CI's own scorer on real data."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from scipy import ndimage

from qmrigenes import qsm_metrics as qm


def test_nrmse_hand_computed():
    # demeaned: r = (-1, 0, 1), t = (-4/3, -1/3, 5/3); error (1/3, 1/3, -2/3)
    want = 100 * np.sqrt(6 / 9) / np.sqrt(42 / 9)
    assert qm.nrmse([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == pytest.approx(want, rel=1e-12)
    # as given (the 2016 challenge's RMSE): error (0, 0, -1) over ||(1, 2, 4)||
    assert qm.nrmse([1.0, 2.0, 3.0], [1.0, 2.0, 4.0], demean=False) == pytest.approx(100 / np.sqrt(21))


def test_nrmse_ignores_offset_and_mask_outside():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(6, 6, 6))
    mask = np.zeros(t.shape, bool)
    mask[1:5, 1:5, 1:5] = True
    r = t + 0.3 + np.where(mask, 0, 100.0)            # offset inside, garbage outside
    assert qm.nrmse(r, t, mask) == pytest.approx(0, abs=1e-12)
    assert qm.nrmse(r, t, mask, demean=False) > 10
    assert qm.nrmse(np.zeros_like(t) + 5, t, mask) == pytest.approx(100)   # a constant map: 100 %


def test_nrmse_detrended_forgives_scaling():
    rng = np.random.default_rng(1)
    t = rng.normal(size=200)
    assert qm.nrmse(0.5 * t, t) == pytest.approx(50)
    assert qm.nrmse_detrended(0.5 * t + 2, t) == pytest.approx(0, abs=1e-10)
    noisy = 0.5 * t + rng.normal(0, 0.1, 200)
    assert qm.nrmse_detrended(noisy, t) < qm.nrmse(noisy, t)


def test_log_kernel_zero_sum_and_matches_scipy_shape():
    k = qm.log_kernel(sigma=1.5, size=15)
    assert k.shape == (15, 15, 15) and abs(k.sum()) < 1e-12
    assert k[7, 7, 7] < 0 and k[7, 7, 7] == k.min()        # negative centre
    assert np.allclose(k, k[::-1, ::-1, ::-1])              # symmetric
    # on a smooth, compact blob the zero-sum 15-voxel kernel and scipy's LoG agree closely
    x = np.zeros((31, 31, 31))
    x[15, 15, 15] = 1.0
    blob = ndimage.gaussian_filter(x, 2.0)
    ours = ndimage.convolve(blob, k, mode="constant")
    ref = ndimage.gaussian_laplace(blob, 1.5, truncate=5.0)
    assert np.corrcoef(ours.ravel(), ref.ravel())[0, 1] > 0.999


def test_separable_log_equals_direct_convolution():
    """The FFT form pads each axis by the kernel's radius only (7 voxels, or up to the kernel's
    size on small grids): the linear convolution's values on the grid, as a direct convolution."""
    rng = np.random.default_rng(5)
    for shape in ((17, 19, 18), (4, 5, 3), (1, 2, 30), (15, 8, 9)):
        x = rng.normal(size=shape)
        direct = ndimage.convolve(x, qm.log_kernel(sigma=1.5), mode="constant")
        assert np.allclose(qm._log_2016(x, 1.5), direct, rtol=0, atol=1e-12), shape


def test_hfen_hand_cases():
    rng = np.random.default_rng(2)
    t = ndimage.gaussian_filter(rng.normal(size=(20, 20, 20)), 1.0)
    assert qm.hfen(t, t) == pytest.approx(0, abs=1e-12)
    assert qm.hfen(2 * t, t) == pytest.approx(100)              # linear filter: error = LoG t
    inner = np.zeros(t.shape, bool)
    inner[7:13, 7:13, 7:13] = True                              # >= 7 voxels from the zero padding
    assert qm.hfen(t + 0.7, t, inner) == pytest.approx(0, abs=1e-9)   # zero-sum kernel ignores offsets
    assert qm.hfen(t + 0.7, t, inner, kernel="scipy") > 1e-6           # scipy's truncated LoG: not exactly
    smooth = ndimage.gaussian_filter(t, 2.0)
    assert qm.hfen(smooth, t) > qm.hfen(ndimage.gaussian_filter(t, 0.5), t)   # more smoothing, more HFEN
    assert qm.hfen(smooth, t, kernel="scipy") == pytest.approx(qm.hfen(smooth, t), rel=0.1)


def test_xsim_hand_cases():
    rng = np.random.default_rng(3)
    t = 0.05 * rng.normal(size=(10, 10, 10))
    assert qm.xsim(t, t) == pytest.approx(1.0)
    # two constant maps a and b: SSIM = (2ab + C1) / (a^2 + b^2 + C1) (variance terms give C2/C2)
    a, b, c1 = 0.1, 0.2, 1e-4
    got = qm.xsim(np.full((6, 6, 6), a), np.full((6, 6, 6), b))
    assert got == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))
    # a 1-voxel window is the product of the luminance terms and C2/(C2 + 0) = 1 per voxel
    r = t + 0.01
    w1 = qm.xsim(r, t, window=1)
    want = np.mean((2 * r * t + c1) / (r * r + t * t + c1))
    assert w1 == pytest.approx(want, rel=1e-10)
    assert qm.xsim(-t, t) < 0.0 < qm.xsim(t + 0.3 * t[::-1], t) < 1.0


def test_pearson_and_summary():
    rng = np.random.default_rng(4)
    t = rng.normal(size=(8, 8, 8))
    r = 3 * t + 1
    assert qm.pearson_r(r, t) == pytest.approx(1.0)
    assert qm.pearson_r(r.ravel(), t.ravel()) == pytest.approx(np.corrcoef(r.ravel(), t.ravel())[0, 1])
    out = qm.challenge_metrics(t, t)
    assert tuple(out) == qm.METRIC_NAMES
    assert out["nrmse"] == 0 and out["hfen"] == pytest.approx(0, abs=1e-12) and out["xsim"] == pytest.approx(1)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="mismatched shapes: mask"):
        qm.nrmse(np.ones(5), np.arange(5.0), np.ones(4, bool))
    with pytest.raises(ValueError, match="constant"):
        qm.nrmse(np.arange(5.0), np.ones(5))
    with pytest.raises(ValueError, match="kernel"):
        qm.hfen(np.ones((5, 5, 5)), np.ones((5, 5, 5)), kernel="matlab")
    with pytest.raises(ValueError, match="recon"):
        qm.nrmse([np.nan, 1, 2], [1.0, 2, 3])


def test_scorer_equals_the_functions():
    rng = np.random.default_rng(6)
    ref = ndimage.gaussian_filter(rng.normal(size=(40, 36, 38)), 1.0)
    mask = np.zeros(ref.shape, bool)
    mask[14:26, 12:24, 15:25] = True
    ref = np.where(mask, ref, 0)
    recon = ref + 0.3 * rng.normal(size=ref.shape)              # non-zero outside the mask too
    for kernel in ("challenge2016", "scipy"):
        want = qm.challenge_metrics(recon, ref, mask, hfen_kernel=kernel)
        got = qm.ChallengeScorer(ref, mask, hfen_kernel=kernel)(recon)
        for key in qm.METRIC_NAMES:
            assert got[key] == pytest.approx(want[key], rel=1e-10), (kernel, key)


def test_scorer_window_sums_on_the_inner_box_are_bit_for_bit():
    """A map that is zero outside the mask (as submitted) has its XSIM window sums and its 2016 LoG
    computed on the mask's box plus two voxels; every metric but HFEN is the same, to the last bit,
    as on the whole box, and HFEN (the LoG's FFT on a smaller grid) to rounding."""
    rng = np.random.default_rng(7)
    ref = ndimage.gaussian_filter(rng.normal(size=(40, 36, 38)), 1.0)
    mask = np.zeros(ref.shape, bool)
    mask[14:26, 12:24, 15:25] = True
    mask[20, 10:12, 20] = True                                  # a bump: the box is not a cube
    ref = np.where(mask, ref, 0)
    recon = np.where(mask, ref + 0.3 * rng.normal(size=ref.shape), 0.0)
    fast = qm.ChallengeScorer(ref, mask)
    slow = qm.ChallengeScorer(ref, mask)
    slow._shell = [(slice(None),) * 3]                          # "nonzero outside": the whole box
    assert fast._inner_mask.size < fast.mask.size

    def same(a, b):
        return a.pop("hfen") == pytest.approx(b.pop("hfen"), rel=1e-13, abs=0) and a == b
    assert same(fast(recon), slow(recon))
    assert same(fast(recon.astype(np.float32)), slow(recon.astype(np.float32)))
    leaky = recon.copy()
    leaky[fast.box][0, 0, 0] = 1e-3                              # nonzero outside: the whole box is used
    assert fast(leaky) == slow(leaky)
    for kernel in ("challenge2016", "scipy"):                     # and HFEN against the plain function
        got = qm.ChallengeScorer(ref, mask, hfen_kernel=kernel)(recon)["hfen"]
        assert got == pytest.approx(qm.hfen(recon, ref, mask, kernel=kernel), rel=1e-13, abs=0)


def test_hfen_scipy_and_xsim_equal_their_whole_grid_forms_bit_for_bit():
    """hfen(kernel="scipy") filters only the mask's box plus the LoG's radius, and xsim evaluates
    its formula at the mask's voxels only: the same numbers, to the last bit, as on the whole grid
    (masks touching the grid's edges too, where scipy's reflection applies)."""
    rng = np.random.default_rng(8)
    for lo, hi in (((3, 9, 2), (20, 17, 25)), ((0, 4, 0), (24, 22, 27))):
        recon, ref = rng.normal(size=(24, 22, 27)), rng.normal(size=(24, 22, 27))
        mask = np.zeros(ref.shape, bool)
        mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]] = True
        lr = ndimage.gaussian_laplace(recon, sigma=1.5, truncate=5.0)
        lt = ndimage.gaussian_laplace(ref, sigma=1.5, truncate=5.0)
        want = 100 * np.linalg.norm(lr[mask] - lt[mask]) / np.linalg.norm(lt[mask])
        assert qm.hfen(recon, ref, mask, kernel="scipy") == want
        count = ndimage.uniform_filter(np.ones(ref.shape), size=5, mode="constant")
        mu = [ndimage.uniform_filter(x, size=5, mode="constant") / count
              for x in (recon, ref, recon * recon, ref * ref, recon * ref)]
        var_r, var_t, cov = mu[2] - mu[0] ** 2, mu[3] - mu[1] ** 2, mu[4] - mu[0] * mu[1]
        num = (2 * mu[0] * mu[1] + 1e-4) * (2 * cov + 1e-6)
        den = (mu[0] ** 2 + mu[1] ** 2 + 1e-4) * (var_r + var_t + 1e-6)
        assert qm.xsim(recon, ref, mask) == float(np.mean(num[mask] / den[mask]))
