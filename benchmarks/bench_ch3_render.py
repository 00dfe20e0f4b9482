"""Benchmark: how chapter 3's figures become PNGs (issue #22, branch ch3e), against the plain paths.

Run: ``python benchmarks/bench_ch3_render.py`` from the repository (``make bench`` runs every
benchmark). The figures are four of the chapter's own map figures (phantom, MPM maps, MPM
accuracy, SHARP; the MPM maps figure has titles a few pixels beyond its canvas, so ``savefig``
enlarges its picture), built afresh outside the timers from the chapter's inputs.

1. ``display.figure`` against matplotlib's ``savefig(bbox_inches="tight")`` (CPU, best of
   ``REPEAT``): savefig lays the figure out and traverses every artist once without painting to
   find the tight box, then paints; ``display.figure`` lays out, measures the axes once (the same
   boxes also give the panels and the figure's box) and paints once, also for content beyond the
   canvas (before branch ch3e it painted such a figure twice). Same picture: the same size, and
   the same pixels where content lies beyond the canvas (elsewhere savefig's drawing sits a
   sub-pixel shift away, as tested in ``tests/book/test_display_draw_once.py``);
2. a report's PNGs encoded one after another (``display.figures(..., workers=1)``) against side by
   side on threads (``workers=None``; Pillow releases the GIL while it filters and compresses):
   wall time, the same bytes;
3. measured, **not adopted**: Pillow's PNG compression at zlib level 1 instead of the default
   (6) on the same pixels: less CPU for larger files (identical pixels, different bytes);
4. the garbage collector while the four figures are built and rendered three times: CPython's
   defaults (every object scanned by a full collection after every 10 middle-generation ones)
   against what importing ``qmribook`` sets (the objects alive then frozen, ``gc.freeze()``; a full
   collection after 100): CPU of the collections (``gc.callbacks``) and of the whole, the same PNG
   bytes.
"""
import io
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_ch3 import chapter_map_figures  # noqa: E402  (the chapter's figures, built afresh)
from bench_chapfast import REPEAT, line  # noqa: E402  (one repeat count and report line for all)


def _pixels(png):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))


def _cpu_wall(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return time.process_time() - c, time.perf_counter() - w, out


def render_against_savefig(figures):
    import matplotlib.pyplot as plt

    from qmribook import display

    def savefig_all(figs):
        out = []
        for f in figs:
            buffer = io.BytesIO()
            f.savefig(buffer, format="png", dpi=200, bbox_inches="tight")
            plt.close(f)
            out.append(buffer.getvalue())
        return out

    plain, fast = [], []
    for _ in range(REPEAT):                      # alternating; figures built outside the timers
        figs = figures()
        plain.append(_cpu_wall(lambda: savefig_all(figs)))
        figs = figures()
        fast.append(_cpu_wall(lambda: [display.figure(f, min_font_pt=8.0) for f in figs]))
    ref, got = plain[0][2], [f.png for f in fast[0][2]]
    sizes = [_pixels(a).shape == _pixels(b).shape for a, b in zip(ref, got)]
    beyond = np.array_equal(_pixels(ref[1]), _pixels(got[1]))      # the MPM maps figure
    assert all(sizes) and beyond
    line(f"{len(ref)} chapter-3 map figures to PNG: savefig(bbox_inches='tight') vs display.figure (CPU)",
         min(p[0] for p in plain), min(f[0] for f in fast),
         "same sizes; the figure with titles beyond its canvas pixel-identical to savefig's")


def encode_side_by_side(figures):
    from qmribook import display

    plain, fast = [], []
    for _ in range(REPEAT):
        figs = figures()[1:3]                    # the MPM report's two figures (maps, accuracy)
        plain.append(_cpu_wall(lambda: display.figures(figs, min_font_pt=8.0, workers=1)))
        figs = figures()[1:3]
        fast.append(_cpu_wall(lambda: display.figures(figs, min_font_pt=8.0, workers=None)))
    assert [f.png for f in plain[0][2]] == [f.png for f in fast[0][2]]
    print(f"  (load {os.getloadavg()[0]:.1f}; CPU {min(p[0] for p in plain):.3f} s serial, "
          f"{min(f[0] for f in fast):.3f} s side by side)")
    line("the MPM report's 2 figures: PNGs encoded one after another vs side by side (wall)",
         min(p[1] for p in plain), min(f[1] for f in fast), "identical bytes")


def compression_level(figures):
    """Pillow's default zlib level against level 1, on the pixels of the figures (not adopted)."""
    from PIL import Image

    from qmribook import display

    images = []
    original = display._encode_png
    display._encode_png = lambda image, **kw: (images.append(np.array(image)), original(image, **kw))[1]
    try:
        for f in figures():
            display.figure(f, min_font_pt=8.0)
    finally:
        display._encode_png = original

    def encode(level):
        out = []
        for image in images:
            buffer = io.BytesIO()
            kwargs = {} if level is None else {"compress_level": level}
            Image.fromarray(image).save(buffer, format="png", **kwargs)
            out.append(buffer.getvalue())
        return out

    default = min((_cpu_wall(lambda: encode(None)) for _ in range(REPEAT)), key=lambda r: r[0])
    fast = min((_cpu_wall(lambda: encode(1)) for _ in range(REPEAT)), key=lambda r: r[0])
    assert all(np.array_equal(_pixels(a), _pixels(b)) for a, b in zip(default[2], fast[2]))
    grow = sum(map(len, fast[2])) / sum(map(len, default[2])) - 1
    line("PNG encoding of the 4 figures' pixels: zlib level 6 (Pillow's default) vs 1 (not adopted)",
         default[0], fast[0], f"identical pixels, files {grow:+.0%} ({sum(map(len, default[2])) // 1000} kB "
         f"-> {sum(map(len, fast[2])) // 1000} kB)")


def gc_freeze(figures, rounds=3):
    import gc

    from qmribook import display

    spent = {"t": 0.0, "start": 0.0}

    def callback(phase, info):
        if phase == "start":
            spent["start"] = time.process_time()
        else:
            spent["t"] += time.process_time() - spent["start"]

    def run():
        spent["t"] = 0.0
        t = time.process_time()
        pngs = [display.figure(f, min_font_pt=8.0).png for _ in range(rounds) for f in figures()]
        return time.process_time() - t, spent["t"], pngs

    frozen = gc.get_freeze_count()
    gc.callbacks.append(callback)
    try:
        plain, fast = [], []
        for _ in range(REPEAT):
            gc.unfreeze()
            gc.set_threshold(700, 10, 10)
            plain.append(run())
            gc.freeze()
            gc.set_threshold(700, 10, 100)
            fast.append(run())
    finally:
        gc.callbacks.remove(callback)
    assert plain[0][2] == fast[0][2]
    print(f"  ({frozen:,} objects frozen at import; garbage collection {min(p[1] for p in plain):.3f} s "
          f"-> {min(f[1] for f in fast):.3f} s of CPU)")
    line(f"build and render the 4 figures x{rounds}: CPython's collector defaults vs imports frozen, fewer full collections",
         min(p[0] for p in plain), min(f[0] for f in fast), "identical PNG bytes")


if __name__ == "__main__":
    import matplotlib

    matplotlib.use("Agg")
    figures = chapter_map_figures()
    render_against_savefig(figures)
    encode_side_by_side(figures)
    compression_level(figures)
    gc_freeze(figures)
