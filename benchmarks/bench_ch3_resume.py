"""Benchmark: three leftovers of chapter 3's speed-ups (issue #22, branch ch3b), each against the
previous path, on the chapter's own inputs (CPU seconds, best of ``REPEAT``; the import line in fresh
interpreters). Each line checks that the outputs are bit for bit the same.

1. The stopping-rule table's tight solve (``tol=1e-7``): a fresh ``tikhonov_cg`` from zero with a
   ``1e-5`` snapshot (the previous cell) against ``tikhonov_cg(..., resume=info)`` continuing from
   the chapter's solve to ``tol=1e-6`` (which now keeps the ``1e-5`` snapshot on its way).
2. ``display.panel_boxes`` of two of the chapter's multi-panel figures (phantom and QSM), drawn
   once: the figure's tight box measured on its own (every axes measured twice, the previous code)
   against the axes' boxes measured once and shared.
3. ``import qmrigenes.qsm`` after numpy, pandas, ``scipy.fft`` and ``scipy.ndimage``: the previous
   module-level ``scipy.sparse.linalg`` import (an exported copy is not needed: the old cost is the
   import of ``scipy.sparse.linalg`` itself, measured as such) against the lazy one.
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.join(os.path.dirname(HERE), "chapters"))     # qmribook (display.panel_boxes)
from bench_chapfast import REPEAT, best_of, line  # noqa: E402  (one timer and one report line for all)
from bench_ch3 import child_cpu  # noqa: E402  (one fresh-interpreter runner)


def tight_solve():
    from qmrigenes import phantom, qsm

    ph = phantom.make_head_phantom()
    field = qsm.forward_field(ph.maps["chi"], voxel_size=ph.voxel_size, pad=16)
    noisy = qsm.add_field_noise(field, 0.002, rng=np.random.default_rng(2022 + 2), mask=ph.mask)
    chi_cg, cg_info = qsm.tikhonov_cg(noisy, ph.mask, lam=1e-2, tol=1e-6, masked_output=False, snapshots=[1e-5],
                                      resumable=True)

    def plain():                 # the previous cell: from zero to 1e-7, keeping the 1e-5 iterate
        return qsm.tikhonov_cg(noisy, ph.mask, lam=1e-2, tol=1e-7, masked_output=False, snapshots=[1e-5])

    def fast():                  # continue the chapter's solve
        return qsm.tikhonov_cg(noisy, ph.mask, lam=1e-2, tol=1e-7, masked_output=False, resume=cg_info)

    t_plain, (chi_p, info_p) = best_of(plain)
    t_fast, (chi_f, info_f) = best_of(fast)
    snap_p, snap_f = info_p["snapshots"][1e-5], cg_info["snapshots"][1e-5]
    assert np.array_equal(chi_p, chi_f) and info_p["n_iter"] == info_f["n_iter"]
    assert info_p["residual"] == info_f["residual"] and info_p["objective"] == info_f["objective"]
    assert np.array_equal(snap_p[0], snap_f[0]) and snap_p[1]["residual"] == snap_f[1]["residual"]
    line(f"tight solve (1e-7): from zero ({info_p['n_iter']} it) vs resumed from 1e-6 "
         f"({info_f['n_iter'] - cg_info['n_iter']} more it)", t_plain, t_fast, "identical solutions and info")


def panel_boxes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qmrigenes import phantom, qsm
    from qmrigenes import figures as figs
    from qmribook import display

    ph = phantom.make_head_phantom()
    chi = ph.maps["chi"]
    tkd = qsm.tkd(qsm.forward_field(chi, voxel_size=ph.voxel_size, pad=16), threshold=0.2, mask=ph.mask)
    z, y = figs.deep_nuclei_slice(ph.labels), chi.shape[1] // 2
    made = [figs.plot_phantom(ph), figs.plot_qsm(chi, {"TKD": tkd, "TKD again": tkd}, z=z, y=y)]
    sizes = []
    for fig in made:
        png = display._encode_png(display._render_tight(fig, dpi=200), dpi=200, metadata={})
        sizes.append((int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")))
    new_path = display._figure_tightbbox

    def plain():
        display._figure_tightbbox = lambda fig, renderer, boxes: fig.get_tightbbox(renderer)
        try:
            return [display.panel_boxes(f, s) for f, s in zip(made, sizes)]
        finally:
            display._figure_tightbbox = new_path

    def fast():
        return [display.panel_boxes(f, s) for f, s in zip(made, sizes)]

    t_plain, old = best_of(plain, repeat=max(REPEAT, 3))
    t_fast, new = best_of(fast, repeat=max(REPEAT, 3))
    assert old == new
    for fig in made:
        plt.close(fig)
    line("panel_boxes of the phantom and QSM figures: figure box measured apart vs shared axes boxes",
         t_plain, t_fast, f"identical boxes ({sum(len(b) for b in new)} panels)")


_IMPORT = """
    import time
    import numpy, pandas, scipy.fft, scipy.ndimage
    t = time.process_time()
    {extra}import qmrigenes.qsm
    print(time.process_time() - t)
"""


def qsm_import():
    def timed(extra):       # the child prints the CPU of the import alone (bench_ch3's fresh-interpreter runner)
        return min(float(child_cpu(_IMPORT.format(extra=extra), repeat=1)[1]) for _ in range(max(REPEAT, 5)))

    eager, lazy = timed("import scipy.sparse.linalg; "), timed("")
    line("import qmrigenes.qsm: with scipy.sparse.linalg (module level before) vs lazy", eager, lazy,
         "CPU of the import alone")

if __name__ == "__main__":
    tight_solve()
    panel_boxes()
    qsm_import()
