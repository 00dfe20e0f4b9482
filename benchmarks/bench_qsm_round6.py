"""Benchmark (round 6, measured, not adopted): chapter 4's per-map work without new float64 temporaries.

Run on demand: ``python benchmarks/bench_qsm_round6.py`` (real 2016 field; a few seconds).

Each map of chapter 4's TKD and closed-form sweeps costs one
``qsm_invert.misfit_and_roughness`` and one ``qsm_metrics.ChallengeScorer`` call (≈ 0.28 s wall
on the idle machine: two real-FFT pairs, one on 160^3 and one on the LoG's padded box, and 27
one-dimensional window passes of XSIM). A float64 160^3 array (32.8 MB) is above glibc's largest
mmap threshold (32 MB), so each new temporary of that size is mapped and zeroed afresh. The
variant here ("reuse") removes them without changing one operation: ``D chi - f`` computed in
the spectrum's and the transform's own arrays (``spec *= d``, ``res -= f``), the LoG's
zero-padded grid kept between maps (the array ``rfftn(x, s=...)`` builds afresh), the field not
copied twice, and the XSIM window sums divided by the window counts only at the mask's voxels.
The plain alternative is the library as it is. Printed: best and median wall and CPU time per
map of each (``RUNS`` alternating runs, BLAS on one thread) and whether every number is bit for
bit identical.
"""
import time

import numpy as np
import scipy.fft as sfft
from scipy import ndimage

RUNS = 7


def _reuse_misfit(chi, field, mask, vs, b0):
    """misfit_and_roughness (gradient regulariser, float64 map) with in-place steps."""
    from qmrigenes import qsm_invert as qi
    f = np.where(mask, field, 0.0)
    d = qi.dipole_kernel(f.shape, voxel_size=vs, b0_dir=b0)
    spec = sfft.rfftn(chi, workers=qi._WORKERS)
    power = np.square(spec.real, dtype=np.float64)
    power += np.square(spec.imag, dtype=np.float64)
    power *= qi.gradient_symbol(f.shape, voxel_size=vs)
    rough = float(np.sqrt(np.sum(power * qi._half_spectrum_weights(f.shape))))
    spec *= d
    res = sfft.irfftn(spec, s=f.shape, workers=qi._WORKERS)
    res -= f
    return float(np.linalg.norm(res[mask])), rough


def main():
    from qmrigenes import qsm, qsm_invert, qsm_metrics
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    class ReuseScorer(qsm_metrics.ChallengeScorer):
        """The library's scorer with a kept padded grid for the LoG and mask-only window means."""
        def __init__(self, ref, mask):
            self._grid = None
            super().__init__(ref, mask)
            self._count_m = self._count[self.mask]

        def _log(self, x):
            size, c = 15, 7
            shape = tuple(sfft.next_fast_len(n + size - 1, real=True) for n in x.shape)
            if self._grid is None:
                self._grid = np.zeros(shape)
                qsm_metrics._log_2016(x, 1.5)          # caches the kernel's spectrum for this shape
            self._grid[:x.shape[0], :x.shape[1], :x.shape[2]] = x
            spec = sfft.rfftn(self._grid, workers=-1)
            spec *= qsm_metrics._LOG_SPECTRA[(shape, 1.5, size)]
            full = sfft.irfftn(spec, s=shape, workers=-1)
            return full[c:c + x.shape[0], c:c + x.shape[1], c:c + x.shape[2]]

        def __call__(self, recon):
            saved = qsm_metrics._box_mean
            qsm_metrics._box_mean = lambda x, size, count: _Masked(
                ndimage.uniform_filter(x, size=size, mode="constant"), self._count_m)
            try:
                return super().__call__(recon)
            finally:
                qsm_metrics._box_mean = saved

    class _Masked:
        """A window-sum box whose ``[mask]`` divides by the counts at the mask only."""
        def __init__(self, sums, count_m):
            self.sums, self.count_m = sums, count_m

        def __getitem__(self, m):
            return self.sums[m] / self.count_m

    data = load_qsm_challenge_2016()
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    chi = qsm.tkd(np.where(mask, field, 0.0), threshold=0.15, voxel_size=vs, b0_dir=b0)
    shown = np.where(mask, chi, 0.0)
    lib_s, new_s = qsm_metrics.ChallengeScorer(data.reference, mask), ReuseScorer(data.reference, mask)
    plain = lambda: (qsm_invert.misfit_and_roughness(chi, field, mask, voxel_size=vs, b0_dir=b0), lib_s(shown))
    reuse = lambda: (_reuse_misfit(chi, field, mask, vs, b0), new_s(shown))
    same = plain() == reuse()
    times = {"reuse": [], "plain": []}
    with qsm._blas_single_thread():
        for _ in range(RUNS):
            for name, fn in (("reuse", reuse), ("plain", plain)):
                c, t = time.process_time(), time.perf_counter()
                fn()
                times[name].append((time.perf_counter() - t, time.process_time() - c))
    for name, rows in times.items():
        w, c = np.array(rows).T
        print(f"{name:5s}: wall best {w.min():.3f} s, median {np.median(w):.3f} s; CPU best {c.min():.3f} s")
    (wf, cf), (wp, cp) = (np.array(times[k]).min(axis=0) for k in ("reuse", "plain"))
    print(f"ratio plain/reuse: wall {wp / wf:.2f}x, CPU {cp / cf:.2f}x; every number bit-identical: {same}")


if __name__ == "__main__":
    main()
