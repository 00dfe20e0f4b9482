"""Benchmark: the converged Tikhonov QSM solve against plain scipy CG, on Chapter 3's head phantom.

Run on demand (``make bench``). Problem: the chapter's noisy local field (2 mm grid, brain mask,
lambda = 1e-2, stopping rule relative normal-equation residual <= 1e-5). The plain alternative is
``scipy.sparse.linalg.cg`` on the same normal equations with FFT operators written in image space
(float64 rfftn) and the same closed-form circulant preconditioner ``(D^2 + lam |G|^2)^-1``:
the best a user gets from scipy without restructuring the iteration. Ours: the default
``method="schur"`` (chi eliminated: CG on the field outside the mask, preconditioned by ``O K^-0.8 O``,
two FFT pairs per iteration) and ``method="kspace"`` (the same preconditioned CG as scipy's, run in
k-space with one FFT pair per iteration), both float64. Prints times, iterations, the ratios in this
one run, the largest voxel difference and the relative objective gradient of each result; then the
"try another lambda" cycle (lambda = 1e-3 and 1e-1 at the chapter's tol 1e-6).
"""
import time

import numpy as np
import scipy.fft as sfft
from scipy.sparse.linalg import LinearOperator, cg
from threadpoolctl import threadpool_limits

from qmrigenes import phantom, qsm

LAM, TOL, SEED = 1e-2, 1e-5, 2024


def plain_scipy_cg(field, mask, *, lam, tol, voxel_size=(2.0, 2.0, 2.0)):
    """Image-space preconditioned CG with scipy (float64)."""
    shape = field.shape
    d = qsm.dipole_kernel(shape, voxel_size=voxel_size)
    kx, ky, kz = np.meshgrid(sfft.fftfreq(shape[0], 2.0), sfft.fftfreq(shape[1], 2.0),
                             sfft.rfftfreq(shape[2], 2.0), indexing="ij")
    g2 = sum((2 - 2 * np.cos(2 * np.pi * k * 2.0)) / 4.0 for k in (kx, ky, kz))
    w = mask.astype(float)
    den = d ** 2 + lam * g2
    pinv = np.where(den > 0, 1 / np.where(den > 0, den, 1), 0)

    def conv(v, kern):
        return sfft.irfftn(sfft.rfftn(v.reshape(shape)) * kern, s=shape).ravel()

    def normal(v):
        spec = sfft.rfftn(v.reshape(shape))
        dx = sfft.irfftn(spec * d, s=shape)
        return sfft.irfftn(sfft.rfftn(w * dx) * d + lam * g2 * spec, s=shape).ravel()

    n = field.size
    a = LinearOperator((n, n), matvec=normal, dtype=float)
    m = LinearOperator((n, n), matvec=lambda r: conv(r, pinv), dtype=float)
    b = conv((w * field).ravel(), d)
    count = [0]
    x, _ = cg(a, b, rtol=tol, M=m, maxiter=2000, callback=lambda _: count.__setitem__(0, count[0] + 1))
    return x.reshape(shape), count[0]


def main():
    ph = phantom.make_head_phantom()
    mask = ph.mask
    field = qsm.forward_field(ph.maps["chi"], pad=16)
    noisy = qsm.add_field_noise(field, 0.002, rng=np.random.default_rng(SEED), mask=mask)
    print(f"grid {ph.shape}, {int(mask.sum()):,} brain voxels, lambda {LAM:g}, tol {TOL:g}")
    with threadpool_limits(1, user_api="blas"):          # both sides: no BLAS busy-waiting
        t, c = time.perf_counter(), time.process_time()
        x_plain, it_plain = plain_scipy_cg(noisy, mask, lam=LAM, tol=TOL)
        t_plain, c_plain = time.perf_counter() - t, time.process_time() - c
    runs = {}
    for method in ("schur", "kspace"):
        t, c = time.perf_counter(), time.process_time()
        x, info = qsm.tikhonov_cg(noisy, mask, lam=LAM, tol=TOL, masked_output=False, method=method)
        runs[method] = (x, info, time.perf_counter() - t, time.process_time() - c)
    print(f"  plain scipy cg (image space, float64): {t_plain:6.2f} s wall, {c_plain:6.2f} s CPU, "
          f"{it_plain} iterations, objective gradient {qsm.tikhonov_optimality(x_plain, noisy, mask, lam=LAM):.1e}")
    for method, (x, info, tw, tc) in runs.items():
        print(f"  qmrigenes tikhonov_cg method={method!r}: {tw:6.2f} s wall, {tc:6.2f} s CPU, "
              f"{info['n_iter']} iterations, objective gradient "
              f"{qsm.tikhonov_optimality(x, noisy, mask, lam=LAM):.1e}; ratio plain / this "
              f"{t_plain / tw:.1f} (wall), {c_plain / tc:.1f} (CPU); largest voxel difference to plain in "
              f"the brain {1000 * np.abs(x - x_plain)[mask].max():.2e} ppb")
    tw, tc = runs["kspace"][2] / runs["schur"][2], runs["kspace"][3] / runs["schur"][3]
    print(f"  ratio kspace / schur: {tw:.1f} (wall), {tc:.1f} (CPU)")
    for lam in (1e-3, 1e-1):
        t, c = time.perf_counter(), time.process_time()
        _, info = qsm.tikhonov_cg(noisy, mask, lam=lam, tol=1e-6)
        print(f"  try lambda = {lam:g} (tol 1e-6): {time.perf_counter() - t:.2f} s wall, "
              f"{time.process_time() - c:.2f} s CPU, {info['n_iter']} iterations")


if __name__ == "__main__":
    main()
