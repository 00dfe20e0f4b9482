"""Timing of the QSM operators and solvers on the 2 mm head phantom (run on demand).

    QMRIGENES_MIRROR=../shared/data python benchmarks/bench_qsm.py
"""
import time

import numpy as np

from qmrigenes import phantom, qsm


def _time(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ph = phantom.make_head_phantom()
    chi = ph.maps["chi"]
    print(f"grid {ph.shape}, {ph.mask.sum()} brain voxels")
    t, field = _time(lambda: qsm.forward_field(chi, pad=16))
    print(f"forward field (pad 16):      {t:7.3f} s")
    noisy = qsm.add_field_noise(field, 0.002, rng=np.random.default_rng(0), mask=ph.mask)
    t, _ = _time(lambda: qsm.tkd(noisy, mask=ph.mask))
    print(f"TKD:                         {t:7.3f} s")
    t, _ = _time(lambda: qsm.tikhonov_kspace(noisy, mask=ph.mask))
    print(f"Tikhonov closed form:        {t:7.3f} s")
    for lam in (1e-3, 1e-2, 1e-1):
        t, (_, info) = _time(lambda: qsm.tikhonov_cg(noisy, ph.mask, lam=lam), repeat=1)
        print(f"Tikhonov CG lam={lam:<6g}      {t:7.3f} s  ({info['n_iter']} iterations)")
    t, _ = _time(lambda: qsm.sharp(field, ph.mask, radius_mm=8))
    print(f"SHARP (8 mm):                {t:7.3f} s")


if __name__ == "__main__":
    main()
