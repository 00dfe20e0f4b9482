"""Benchmark: this round's speed-ups of chapter 1, chapter 2 and *Use it on your own map*, each
against the plain path it replaces, in one run (CPU seconds of this process, best of ``REPEAT``).

Run: ``python benchmarks/bench_pages.py`` (``make bench`` runs every benchmark). Each line prints
both times and the ratio, and asserts the outputs are equal:

1. random-gene-set null, chapter 1's nine cell-type sets x six maps, 10,000 and 100,000 draws:
   Floyd's picks summed into a (draws, maps) array (the previous ``genesets._subset_means``)
   against map-by-map sums of 1-D gathers (the same additions in the same order); identical;
2. chapter 1's spins then its redraw count (``spin_permutations`` then ``spin_redraws``, 10,000
   each, same centroids and seed): the stream computed twice against replayed
   (``spatial._replayed_stream``); identical spins and counts;
3. chapter 2's matching of the six donors' AHBA samples to the 34 ROIs (``match_samples``):
   every sample's name tested against every pattern against each distinct name tested once
   (``ahba._sample_matcher``); identical ROI expression;
4. ``display.figure`` of multi-panel figures like the chapters' (a 3 x 3 grid of histograms with
   a suptitle, a 2 x 3 grid of scatter plots with colourbars): panels measured again on the
   figure's 100 dpi renderer against the panels from the boxes measured for the crop on the
   200 dpi drawing; identical pixels (the panel boxes differ: they are now those of the PNG);
5. the data registry read by every fetch (30 reads, as one chapter kernel does): parsed and
   checked each time against read once per content; equal tables;
6. the Schaefer-100 AHBA table (*Use it on your own map*): CSV parsed against the parsed copy
   read back from the data cache; equal tables;
7. chapter 2's synthetic donor folder (one donor's 180 probes x 620 samples): pandas ``to_csv``
   with a float format against ``numpy.savetxt``; identical bytes;
8. BH q-values in a fresh interpreter (after numpy and pandas; the command line and the own-map
   kernel): statsmodels' ``multipletests`` against ``multitest.fdr_bh`` (its arithmetic without
   its import); identical q-values;
9. ``report.show`` of numbers and a table in a fresh interpreter (the title and provenance
   pages): with ``matplotlib.pyplot`` imported to recognise figures, as before, against without.
"""
import io
import os
import sys
import time

import numpy as np
import pandas as pd

REPEAT = 3
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "chapters"))
sys.path.insert(0, HERE)
from bench_chapfast import best_of as _best_of, line  # noqa: E402  (one timer, one line format)


def best_of(fn, repeat=REPEAT, setup=None):
    return _best_of(fn, repeat=repeat, setup=setup)


def plain_subset_means(rng, table, k, n_draw):
    """The previous ``genesets._subset_means`` (Floyd branch): rows of the (draws, maps) sum."""
    from qmrigenes.stats import genesets as gs

    acc = np.zeros((n_draw, table.shape[1]))
    for rows, _, items in gs._floyd_columns(rng, table.shape[0], k, n_draw):
        acc[rows] += table[items]
    acc /= k
    return acc


def gene_null():
    from qmribook import ch1

    from qmrigenes.stats import genesets as gs

    data = ch1.load_chapter_data()
    corr = gs.gene_map_correlations(data.expression, data.maps)
    sizes = gs.genes_present(data.gene_sets, corr)["n_present"].to_dict()
    pool = corr.index.get_indexer(pd.Index(data.panel.index))
    table = corr.to_numpy()[pool[pool >= 0]]
    assert all(k * k <= 4 * len(table) for k in sizes.values())        # the Floyd branch
    for n in (10_000, 100_000):
        t_plain, a = best_of(lambda: [plain_subset_means(np.random.default_rng(k), table, k, n) for k in sizes.values()])
        t_fast, b = best_of(lambda: [gs._subset_means(np.random.default_rng(k), table, k, n) for k in sizes.values()])
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), "gene null differs"
        line(f"gene null, {len(sizes)} sets x {table.shape[1]} maps, {n:,} draws", t_plain, t_fast, "identical means")


def spins_then_redraws():
    from qmrigenes.stats import spatial
    from qmrigenes.surface import sphere_centroids

    centroids = sphere_centroids(hemisphere="L")

    def run(replay):
        spins = spatial.spin_permutations(centroids, n_perm=10_000, seed=0)
        if not replay:
            spatial._REPLAYS.clear()
        return spins, spatial.spin_redraws(centroids, n_perm=10_000, seed=0)

    t_plain, a = best_of(lambda: run(False), setup=spatial._REPLAYS.clear)
    t_fast, b = best_of(lambda: run(True), setup=spatial._REPLAYS.clear)
    assert a[0].equals(b[0]) and a[1]["kept"].equals(b[1]["kept"]) and a[1]["raw"].equals(b[1]["raw"])
    assert all(a[1][k] == b[1][k] for k in ("n_identity", "n_duplicate", "n_rotations"))
    line("chapter 1's spins then redraws, 34 left DK regions, 10,000 each", t_plain, t_fast,
         "identical spins and redraw counts")


def sample_matching():
    from qmrigenes import ahba
    from qmrigenes.datasets import load_ahba_sample_annotations

    annotations = load_ahba_sample_annotations()
    table = ahba.roi_structure_table()
    rng = np.random.default_rng(0)
    donors = {d: a.reset_index(drop=True) for d, a in annotations.groupby("donor", sort=True)}
    expr = {d: pd.DataFrame(rng.normal(size=(200, len(a)))) for d, a in donors.items()}
    matcher = ahba._sample_matcher

    def plain(names, method):
        return lambda pattern: ahba._sample_mask(names.reset_index(drop=True), pattern, method)

    def run():
        return [ahba.match_samples(expr[d], donors[d], table=table, donor=str(d)) for d in donors]

    try:
        ahba._sample_matcher = plain
        t_plain, a = best_of(run)
    finally:
        ahba._sample_matcher = matcher
    t_fast, b = best_of(run)
    assert all(x.equals(y) for x, y in zip(a, b)), "ROI expression differs"
    line(f"match_samples, {len(donors)} donors' {len(annotations):,} samples to 34 ROIs", t_plain, t_fast,
         "identical ROI expression")


def _figures():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    fig, axes = plt.subplots(3, 3, figsize=(7.5, 6.6), layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.hist(rng.normal(size=10_000), bins=30, alpha=0.6, density=True, label="random gene sets")
        ax.hist(rng.normal(0.3, 1, size=10_000), bins=30, alpha=0.5, density=True, label="spun maps")
        ax.axvline(1.5, color="k")
        ax.set_title(f"cell type {i}", fontsize=9)
        ax.set_xlabel("mean r", fontsize=9)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Null distributions of the gene-set scores")
    yield fig
    fig, axes = plt.subplots(2, 3, figsize=(7.5, 4.5))
    for i, ax in enumerate(axes.flat):
        x = rng.normal(size=34)
        im = ax.scatter(x, x + rng.normal(size=34), c=rng.random(34), s=12)
        fig.colorbar(im, ax=ax, label="weight")
        ax.set_title(f"gene {i}", fontsize=9)
        ax.set_xlabel("expression (z)", fontsize=9)
        ax.set_ylabel("QSM (z)", fontsize=9)
    fig.suptitle("Simulated QSM against expression, per gene")
    fig.tight_layout()
    yield fig


def figure_panels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from qmribook import display

    def old_path(fig):
        png = display._encode_png(display._render_tight(fig, dpi=200), dpi=200, metadata={"qmri:dpi": "200"})
        size = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
        out = png, display.panel_boxes(fig, size)
        plt.close(fig)
        return out

    def new_path(fig):
        panels = []
        png = display._encode_png(display._render_tight(fig, dpi=200, panels=panels), dpi=200, metadata={"qmri:dpi": "200"})
        plt.close(fig)
        return png, panels

    def timed(path):
        total, out = 0.0, []
        for fig in _figures():             # built outside the clock
            t = time.process_time()
            out.append(path(fig))
            total += time.process_time() - t
        return total, out

    t_plain = t_fast = np.inf
    for _ in range(REPEAT):
        tp, a = timed(old_path)
        tf, b = timed(new_path)
        t_plain, t_fast = min(t_plain, tp), min(t_fast, tf)
    from PIL import Image

    shift = 0
    for (png_a, pa), (png_b, pb) in zip(a, b):
        pix_a, pix_b = (np.asarray(Image.open(io.BytesIO(p))) for p in (png_a, png_b))
        assert np.array_equal(pix_a, pix_b) and len(pa) == len(pb) > 1
        shift = max(shift, max(abs(x - y) for p, q in zip(pa, pb) for x, y in zip(p[:4], q[:4])))
    line("display.figure of two multi-panel figures (15 axes), draw + panels", t_plain, t_fast,
         f"identical pixels; panel boxes move by at most {shift} px (now measured on the PNG's own drawing)")


def registry():
    from qmrigenes import fetch

    path = fetch._registry_path()

    def plain():
        return [fetch._read_registry(path) for _ in range(30)]

    def fast():
        return [fetch.load_registry() for _ in range(30)]

    t_plain, a = best_of(plain)
    t_fast, b = best_of(fast)
    assert all(x.equals(y) for x, y in zip(a, b))
    line("data registry, 30 reads (one chapter kernel's)", t_plain, t_fast, "equal tables")


def schaefer_table():
    from qmrigenes import datasets

    datasets._read_ahba_schaefer100()                  # stored in the data cache if it was not
    t_plain, a = best_of(datasets._parse_ahba_schaefer100)
    t_fast, b = best_of(datasets._read_ahba_schaefer100.__wrapped__)
    pd.testing.assert_frame_equal(a, b)
    line("Schaefer-100 AHBA table (100 x 15,633)", t_plain, t_fast, "equal tables")


def synthetic_tables():
    rng = np.random.default_rng(0)
    ids, values = np.arange(1000, 1180), rng.normal(8, 1, size=(180, 620))

    def plain():
        out = io.StringIO()
        pd.DataFrame(np.column_stack([ids, values])).astype({0: int}).to_csv(out, header=False, index=False,
                                                                            float_format="%.6f")
        return out.getvalue()

    def fast():
        out = io.StringIO()
        np.savetxt(out, np.column_stack([ids, values]), fmt=["%d"] + ["%.6f"] * values.shape[1], delimiter=",")
        return out.getvalue()

    t_plain, a = best_of(plain)
    t_fast, b = best_of(fast)
    assert a == b
    line("synthetic donor expression table, 180 probes x 620 samples", t_plain, t_fast, "identical bytes")


def fresh_imports():
    from bench_ch3 import child_cpu

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.join(os.path.dirname(HERE), "chapters"),
                                                       os.environ.get("PYTHONPATH", "")]))
    p = "[0.01, 0.04, 0.03, 0.2, 0.5, 0.5, 0.001, 0.9, 0.02]"
    t_plain, a = child_cpu(f"""
        import numpy, pandas
        from statsmodels.stats.multitest import multipletests
        print(multipletests(numpy.array({p}), method="fdr_bh")[1].tolist())""", env=env)
    t_fast, b = child_cpu(f"""
        import numpy, pandas
        from qmrigenes.stats.multitest import fdr_bh
        print(fdr_bh({p}).tolist())""", env=env)
    assert a == b
    line("BH q-values of 9 p in a fresh interpreter (import included)", t_plain, t_fast, "identical q-values")
    show = """
        import sys, pandas as pd
        import qmribook.report as r
        r.show(r.Report(numbers={"n": 2}, tables={"t": pd.DataFrame({"a": [1]})}), chapter="x")
        print("matplotlib" in sys.modules)"""
    t_plain, a = child_cpu("\n        import matplotlib.pyplot" + show, env=env)
    t_fast, b = child_cpu(show, env=env)
    assert a.split()[-1] == "True" and b.split()[-1] == "False"
    line("report.show of numbers and a table in a fresh interpreter", t_plain, t_fast,
         "the same glue; matplotlib no longer imported")


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    gene_null()
    spins_then_redraws()
    sample_matching()
    figure_panels()
    registry()
    schaefer_table()
    synthetic_tables()
    fresh_imports()
