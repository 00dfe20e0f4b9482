"""Benchmark: chapter 3's speed-ups (issue #22, branch ch3fast) against the plain path each replaces.

Run: ``python benchmarks/bench_ch3.py`` (``make bench`` runs every benchmark). Each line times the
plain alternative and the fast path on the chapter's own inputs (CPU seconds, best of ``REPEAT``;
for the lines run in a fresh interpreter, the child's CPU, user + system), prints the ratio and
checks that the outputs agree (bitwise where the fast path claims it):

1. the solver-independent optimality check of the stopping-rule table (three solutions of the
   chapter's noisy QSM problem): every probe point's objective with its own dipole FFT (the
   previous ``qsmcheck.remaining_decrease``, one candidate at a time) against
   ``qsmcheck.remaining_decreases`` (dipole fields by linearity, probe directions shared);
2. ``relaxometry.add_rician_noise`` of the three noiseless MPM contrasts: ``s + rng.normal``
   twice and ``hypot`` (four whole-volume arrays) against the same draws built in place (two);
   identical noise;
3. the chapter's MPM cell (simulate, Rician noise, three fits) in a fresh interpreter, numpy's
   default huge-page hint against the hint off (``qmribook`` turns it off): system time of page
   faults; identical maps;
(The review heat map drawn with matplotlib alone instead of ``seaborn.heatmap`` saved about 1.5 s of
a fresh interpreter's CPU, mostly seaborn's imports, with an identical PNG; not adopted then: the
book draws its heat maps with seaborn, the field's library. Adopted in the fifth round (branch
ch3d) for the review heat map only: 0.37 s of a kernel with compiled bytecode, identical PNG.)

5. the atrophy model's distance to the caudate's boundary: the whole-grid Euclidean distance
   transform against the one on the nucleus's box; identical distances;
6. importing what ``relaxometry.denoise_nlm`` needs when the noise is known, in a fresh
   interpreter after the chapter's imports: with ``estimate_sigma`` (which imports
   ``scipy.stats``) against without.
7. ``display.figure`` of four of the chapter's map figures (phantom, MPM maps, MPM accuracy,
   SHARP): the axis artists of axes drawn without axis kept and the fonts read with ``findobj``
   (the previous path) against hidden and read from drawn artists only; identical PNG bytes.
8. the exercises' flip-angle noise grid (``relaxometry.r1_noise_grid``, WM, 916 angle pairs): two
   ``spgr_signal`` and five ``fit_r1_pd_vfa`` calls per pair (the previous loop) against each
   angle's signal once and a pair's five estimates in one call; identical table;
9. the SPGR explorer's data (``interactive.spgr_flip_angle_data``, the chapter's 5 tissues, 20 TRs,
   90 angles, 3 B1 values): one ``spgr_signal`` call per point against one per TR for every B1
   and flip angle at once (one per (TR, angle) before branch ch3e); identical arrays.
10. the MT/B1 cell's fits (the chapter's noiseless signals, three MTsat corrections): ``fit_mpm``
   once per option set (the ESTATICS R2* fit repeated) against ``fit_mpm_variants`` (fitted once);
   identical maps.
"""
import os
import resource
import subprocess
import sys
import textwrap
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_chapfast import REPEAT, best_of, line  # noqa: E402  (one timer and one report line for all)


def child_cpu(code, env=None, repeat=REPEAT):
    """Best CPU (user + system, s) of ``python -c code`` in a fresh interpreter, and its stdout."""
    times, out = [], None
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        run = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                             text=True, check=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        out = run.stdout
    return min(times), out


def _env(**extra):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(["chapters", env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


# ----------------------------------------------------------------------------------------- 1.
def stopping_rule_check():
    from qmrigenes import phantom, qsm, qsmcheck

    ph = phantom.make_head_phantom()
    field = qsm.forward_field(ph.maps["chi"], voxel_size=ph.voxel_size, pad=16)
    noisy = qsm.add_field_noise(field, 0.002, rng=np.random.default_rng(2024), mask=ph.mask)
    tight, info = qsm.tikhonov_cg(noisy, ph.mask, lam=1e-2, tol=1e-7, masked_output=False, snapshots=[1e-5, 1e-6])
    chis = [info["snapshots"][1e-5][0], info["snapshots"][1e-6][0], tight]

    def plain():        # the previous check: two objective values, two dipole FFTs per probe and candidate
        out = []
        for chi in chis:
            j = lambda x: qsmcheck.tikhonov_objective(x, noisy, ph.mask, lam=1e-2)   # noqa: E731
            j0, jx = j(np.zeros_like(chi)), j(chi)
            row = []
            for v in [chi] + qsmcheck.probe_directions(chi.shape, ph.mask):
                h = np.linalg.norm(chi) / np.linalg.norm(v)
                jp, jm = j(chi + h * v), j(chi - h * v)
                g, c = (jp - jm) / (2 * h), (jp + jm - 2 * jx) / h ** 2
                row.append(g * g / (2 * c) / (j0 - jx))
            out.append(np.array(row))
        return out

    t_plain, a = best_of(plain, repeat=1)
    t_fast, b = best_of(lambda: qsmcheck.remaining_decreases(chis, noisy, ph.mask, lam=1e-2))
    rel = max(float(np.max(np.abs(x - y) / np.abs(x))) for x, y in zip(a, b))
    same = all(f"{x.max():.1e}" == f"{y.max():.1e}" for x, y in zip(a, b))
    line("remaining decrease of 3 stopping-rule solutions (chapter 3 QSM)", t_plain, t_fast,
         f"largest relative difference {rel:.1e}; printed values (.1e) identical: {same}")


# ----------------------------------------------------------------------------------------- 2.
def rician_noise():
    from qmrigenes import phantom, relaxometry

    ph = phantom.make_head_phantom()
    clean = relaxometry.simulate_mpm(ph.maps, relaxometry.MPMProtocol(), b1=phantom.b1_field(ph.shape),
                                     mask=ph.mask)

    def plain():
        rng = np.random.default_rng(2022)
        return {c: np.hypot(s + rng.normal(0.0, 0.05, size=s.shape), rng.normal(0.0, 0.05, size=s.shape))
                for c, s in clean.items()}

    def fast():
        rng = np.random.default_rng(2022)
        return {c: relaxometry.add_rician_noise(s, 0.05, rng=rng) for c, s in clean.items()}

    t_plain, a = best_of(plain)
    t_fast, b = best_of(fast)
    for c in a:
        np.testing.assert_array_equal(a[c], b[c])
    line("add_rician_noise, 3 contrasts of the head phantom", t_plain, t_fast, "identical noise")


# ----------------------------------------------------------------------------------------- 3.
_MPM_CELL = """
    import hashlib, numpy as np
    from qmrigenes import phantom, relaxometry
    ph = phantom.make_head_phantom(); protocol = relaxometry.MPMProtocol()
    b1 = phantom.b1_field(ph.shape, amplitude=0.2)
    digest = hashlib.sha256()
    for seed in (2022, 2023, 2024):     # the chapter runs several such cells
        rng = np.random.default_rng(seed)
        clean = relaxometry.simulate_mpm(ph.maps, protocol, b1=b1, mask=ph.mask)
        signals = {c: relaxometry.add_rician_noise(s, 0.05, rng=rng) for c, s in clean.items()}
        for b in (b1, None):
            est = relaxometry.fit_mpm(signals, protocol, b1=b, mask=ph.mask)
            for k in sorted(est):
                digest.update(np.ascontiguousarray(est[k]).tobytes())
    print(digest.hexdigest())
"""


def huge_pages(rounds=3):
    """Alternating runs (the stalls depend on the memory's state): median CPU, and system time."""
    runs = {"1": [], "0": []}
    outs = set()
    for _ in range(rounds):
        for hint in runs:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            t, out = child_cpu(_MPM_CELL, env=_env(NUMPY_MADVISE_HUGEPAGE=hint), repeat=1)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            runs[hint].append((t, after.ru_stime - before.ru_stime))
            outs.add(out)
    assert len(outs) == 1, "maps differ"
    on, off = (sorted(runs[h])[rounds // 2] for h in ("1", "0"))
    line("MPM simulate + noise + fits x3, fresh interpreter, huge-page hint on vs off", on[0], off[0],
         f"identical maps; CPU = user + system (median of {rounds} alternating runs), system time "
         f"{on[1]:.2f} s vs {off[1]:.2f} s")


# ----------------------------------------------------------------------------------------- 5.
def atrophy_depth():
    from scipy import ndimage

    from qmrigenes import phantom
    from qmrigenes.lesions import _depth_inside

    ph = phantom.make_head_phantom()
    sel = ph.labels == 4                                             # caudate
    t_plain, a = best_of(lambda: ndimage.distance_transform_edt(sel, sampling=ph.voxel_size))
    t_fast, b = best_of(lambda: _depth_inside(sel, ph.voxel_size))
    np.testing.assert_array_equal(a, b)
    line("distance to the caudate's boundary: whole grid vs the nucleus's box", t_plain, t_fast,
         "identical distances")


# ----------------------------------------------------------------------------------------- 6.
_IMPORTS = """
    import numpy, pandas, scipy.ndimage, matplotlib.pyplot
    from qmrigenes import lesions, phantom, qsm, relaxometry
    import resource, time
    t = time.process_time()
    from skimage.restoration import denoise_nl_means{extra}
    print(time.process_time() - t)
"""


def skimage_imports():
    def timed(extra):
        times = [float(child_cpu(_IMPORTS.format(extra=extra), env=_env(), repeat=1)[1]) for _ in range(REPEAT)]
        return min(times)

    line("import for denoise_nlm with a known sigma: with estimate_sigma vs without", timed(", estimate_sigma"),
         timed(""), "CPU of the import alone; scipy.stats no longer imported")


# ----------------------------------------------------------------------------------------- 7.
def chapter_map_figures():
    """A function that builds four of chapter 3's map figures afresh (phantom, MPM maps and
    accuracy, SHARP), from the chapter's own inputs (computed once, here)."""
    sys.path.insert(0, "chapters")
    from qmribook import ch3

    from qmrigenes import phantom, qsm, relaxometry

    ph = phantom.make_head_phantom()
    protocol = relaxometry.MPMProtocol()
    b1 = phantom.b1_field(ph.shape, amplitude=0.2)
    clean = relaxometry.simulate_mpm(ph.maps, protocol, b1=b1, mask=ph.mask)
    rng = np.random.default_rng(2022)
    signals = {c: relaxometry.add_rician_noise(s, 0.05, rng=rng) for c, s in clean.items()}
    est = {"B1-corrected": relaxometry.fit_mpm(signals, protocol, b1=b1, mask=ph.mask),
           "no B1 correction": relaxometry.fit_mpm(signals, protocol, b1=None, mask=ph.mask),
           "noiseless, B1-corrected": relaxometry.fit_mpm(clean, protocol, b1=b1, mask=ph.mask)}
    field = qsm.forward_field(ph.maps["chi"], voxel_size=ph.voxel_size, pad=16)
    source = qsm.sphere_source(ph.shape, center=(45, 95, 8), radius_mm=16, chi=5.0)
    source[ph.mask] = 0
    total = qsm.forward_field(ph.maps["chi"] + source, voxel_size=ph.voxel_size, pad=16)
    local, eroded = qsm.sharp(total, ph.mask, radius_mm=8, threshold=0.05)
    tissues = {k: v for k, v in phantom.TISSUES.items() if k >= 2}

    def figures():
        return [*ch3.present_phantom(ph, phantom.tissue_table()).figures.values(),
                *ch3.present_mpm(ph, b1, signals, est, tissues=tissues, sigma=0.05, z=36).figures.values(),
                *ch3.present_background(field, total, local, eroded, mask=ph.mask, y=85).figures.values()]

    return figures


def figure_axis_artists():
    """Rendering chapter 3's map figures (phantom, MPM maps and accuracy, SHARP) through
    ``display.figure``: axis artists of axes drawn without axis kept and fonts read by
    ``findobj`` (the previous path) against hidden and read from drawn artists only."""
    import matplotlib
    import matplotlib.pyplot as plt

    from qmribook import display

    figures = chapter_map_figures()

    def render(previous):
        figs = figures()            # built outside the timer
        hide, texts = display._hide_unused_axis_artists, display._visible_texts
        if previous:
            display._hide_unused_axis_artists = lambda fig: None
            display._visible_texts = lambda a: [t for t in a.findobj(matplotlib.text.Text) if t.get_visible()]
        try:
            t = time.process_time()
            out = [display.figure(f, min_font_pt=8.0) for f in figs]
            return time.process_time() - t, out
        finally:
            display._hide_unused_axis_artists, display._visible_texts = hide, texts
            plt.close("all")

    plain = [render(True) for _ in range(REPEAT)]
    fast = [render(False) for _ in range(REPEAT)]
    for a, b in zip(plain[0][1], fast[0][1]):
        assert a.png == b.png and a.panels == b.panels and a.min_font_pt == b.min_font_pt
    line(f"display.figure of {len(plain[0][1])} chapter-3 map figures: axis artists of axis-off axes kept vs hidden",
         min(t for t, _ in plain), min(t for t, _ in fast), "identical PNG bytes, panels and fonts")


# ----------------------------------------------------------------------------------------- 8.
def _plain_r1_noise_grid(r1, amplitude, sigma, tr, fa_low=tuple(range(2, 21)), fa_high=tuple(range(8, 61))):
    """The previous per-pair loop of ``relaxometry.r1_noise_grid``."""
    import pandas as pd

    from qmrigenes.relaxometry import _r1_two_angle, spgr_signal

    lo, hi = np.meshgrid(np.asarray(fa_low, float), np.asarray(fa_high, float), indexing="ij")
    keep = lo < hi
    lo, hi = lo[keep], hi[keep]
    cov, bias = np.empty(lo.size), np.empty(lo.size)
    for k, (a1, a2) in enumerate(zip(lo, hi)):
        s1 = float(spgr_signal(amplitude, r1, 0.0, flip_angle=a1, tr=tr, te=(0.0,))[0])
        s2 = float(spgr_signal(amplitude, r1, 0.0, flip_angle=a2, tr=tr, te=(0.0,))[0])
        est = float(_r1_two_angle(s1, s2, a1, a2, tr))
        h1, h2 = 1e-6 * s1, 1e-6 * s2
        d1 = (float(_r1_two_angle(s1 + h1, s2, a1, a2, tr)) - float(_r1_two_angle(s1 - h1, s2, a1, a2, tr))) / (2 * h1)
        d2 = (float(_r1_two_angle(s1, s2 + h2, a1, a2, tr)) - float(_r1_two_angle(s1, s2 - h2, a1, a2, tr))) / (2 * h2)
        cov[k] = 100 * sigma * np.hypot(d1, d2) / r1
        bias[k] = 100 * (est / r1 - 1)
    return pd.DataFrame({"fa_low": lo, "fa_high": hi, "r1_cov_pct": cov, "r1_bias_pct": bias})


def noise_grid():
    from qmrigenes import phantom, relaxometry

    wm = phantom.tissue_table().loc["WM"]
    plain, a = best_of(lambda: _plain_r1_noise_grid(wm["R1"], wm["PD"], 0.05, 0.025))
    fast, b = best_of(lambda: relaxometry.r1_noise_grid(wm["R1"], amplitude=wm["PD"], sigma=0.05, tr=0.025))
    assert a.equals(b)
    line(f"flip-angle noise grid ({len(b)} pairs): per-pair calls vs signals once, five estimates per call",
         plain, fast, "identical table")


# ----------------------------------------------------------------------------------------- 9.
def spgr_explorer_data():
    sys.path.insert(0, "chapters")
    from qmribook import interactive

    from qmrigenes import phantom
    from qmrigenes.relaxometry import spgr_signal

    table = phantom.tissue_table()
    r1 = {k: float(table.loc[k, "R1"]) for k in list(table.index)[:5]}
    tr_ms, flip, b1 = np.arange(5.0, 101.0, 5.0), np.arange(1.0, 91.0), np.array([0.8, 1.0, 1.2])

    def plain():
        pdv, r1v = np.full(len(r1), 100.0), np.array(list(r1.values()))
        sig = np.empty((len(r1), b1.size, tr_ms.size, flip.size))
        for ib, b in enumerate(b1):
            for it, tr in enumerate(tr_ms):
                for ia, fa in enumerate(flip):
                    sig[:, ib, it, ia] = spgr_signal(pdv, r1v, 0.0, flip_angle=float(fa), tr=tr / 1000.0,
                                                     te=(0.0,), b1=float(b))[0]
        return sig

    t_plain, a = best_of(plain)
    t_fast, d = best_of(lambda: interactive.spgr_flip_angle_data(r1=r1, tr_ms=tr_ms, flip_deg=flip, b1=b1))
    assert all(np.array_equal(a[i], d["signal"][k]) for i, k in enumerate(r1))
    line("SPGR explorer data (5 tissues x 3 B1 x 20 TR x 90 angles): a call per point vs one call per TR",
         t_plain, t_fast, "identical arrays")


# ---------------------------------------------------------------------------------------- 10.
def mpm_variants():
    sys.path.insert(0, "chapters")
    from qmribook import ch3

    from qmrigenes import phantom, relaxometry

    ph = phantom.make_head_phantom()
    protocol = relaxometry.MPMProtocol()
    b1 = phantom.b1_field(ph.shape, amplitude=0.2)
    sig = relaxometry.simulate_mpm(ph.maps, protocol, b1=b1, mask=ph.mask)
    variants = {tag: opts for tag, (_, opts) in ch3.mtsat_b1_estimators(b1).items()}
    t_plain, a = best_of(lambda: {tag: relaxometry.fit_mpm(sig, protocol, mask=ph.mask, **opts)
                                  for tag, opts in variants.items()})
    t_fast, b = best_of(lambda: relaxometry.fit_mpm_variants(sig, protocol, mask=ph.mask, variants=variants))
    assert all(np.array_equal(a[t][k], b[t][k], equal_nan=True) for t in a for k in a[t])
    line("MT/B1 cell's 3 MPM fits of one signal set: fit_mpm per option set vs fit_mpm_variants (R2* once)",
         t_plain, t_fast, "identical maps")


if __name__ == "__main__":
    mpm_variants()
    noise_grid()
    spgr_explorer_data()
    figure_axis_artists()
    stopping_rule_check()
    rician_noise()
    huge_pages()
    atrophy_depth()
    skimage_imports()
