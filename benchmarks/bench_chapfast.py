"""Benchmark: the chapter speed-ups of issue #22 against the plain path each replaces, in one run.

Run: ``python benchmarks/bench_chapfast.py [--quick]`` (``make bench`` runs every benchmark).
Each line times the plain alternative and the fast path on chapter-sized inputs (CPU seconds of
this process, best of ``REPEAT``), prints the ratio, and asserts the outputs are equal (bitwise
where the fast path claims it):

1. random-gene-set null, chapter 1's nine cell-type sets x six maps, 10,000 and 100,000 draws:
   Floyd's algorithm with a per-row comparison (the previous code) against the taken-mask
   resolution summed as it is drawn (``genesets._subset_means``); identical nulls;
2. parcel spins of the 34 left DK centroids, 10,000, Hungarian and Vasa: neuromaps'
   ``gen_spinsamples`` (its quadratic duplicate check; the plain alternative) and the previous
   rotation-by-rotation loop against the blocked stream (``spatial._spin_stream``); identical spins;
3. ``mixed_model_ols`` on 300 simulated genes, 17 left-right pairs: statsmodels' default start
   against the start at the REML optimum found for all genes at once; largest |Δp| printed;
4. ``ahba.roi_sampling`` of the six donors' annotations: pandas ``str`` methods against plain
   string tests; identical tables;
5. display.figure of chapter 1's Fig. 1.3 (3D surfaces): ``savefig(bbox_inches="tight")``
   against one draw cut to the tight box; PNG size equal;
6. the head phantom's labels and the six AHBA annotation spreadsheets: building/parsing against
   reading the derived copy from the data cache; equal.
7. Fig. 1.3's 12 surface panels (6 maps x 2 views), each built and rendered alone: nilearn's 3D
   panels (``plot_surf_stat_map`` + ``plot_surf_contours``, drawn by mplot3d) against the 2D panels
   painted from one projection per view (``figures.surfaces._surface_panel``); identical PNG bytes;
8. ``relaxometry.simulate_mpm`` of the head phantom (three contrasts, masked): boolean-mask
   scatter against the flat-index scatter now used; identical signals.

``--quick`` skips the 100,000-draw null and uses 2,000 spins.
"""
import io
import sys
import time
import warnings

import numpy as np
import pandas as pd

REPEAT = 2
sys.path.insert(0, "tests")                  # the plain paths the tests compare the fast paths with
from test_fast_ahba import _pandas_mask  # noqa: E402
from test_fast_nulls import _floyd_plain  # noqa: E402
from test_fast_surfaces import _nilearn_panel_3d  # noqa: E402


def best_of(fn, repeat=REPEAT, setup=None):
    """Least CPU time of ``repeat`` calls of ``fn`` (``setup()`` before each, not timed), last output."""
    times, out = [], None
    for _ in range(repeat):
        if setup is not None:
            setup()
        t = time.process_time()
        out = fn()
        times.append(time.process_time() - t)
    return min(times), out


def line(what, plain, fast, note):
    print(f"{what}: plain {plain:.3f} s, fast {fast:.3f} s, ratio {plain / fast:.1f}x; {note}", flush=True)


# ----------------------------------------------------------------------------------- plain paths
def plain_floyd_means(rng, table, k, n_draw):
    """The previous code: Floyd's algorithm checking each pick against the row's earlier items
    (the reference the tests compare the fast path with), then the (draws, k, maps) gather."""
    return table[_floyd_plain(rng, table.shape[0], k, n_draw)].mean(axis=1)


def plain_spins(coords, n_perm, seed, method):
    """The previous loop: one neuromaps rotation, distance matrix and assignment at a time."""
    from neuromaps.nulls.spins import _gen_rotation
    from scipy import optimize, spatial

    rs = np.random.RandomState(seed)
    n = len(coords)
    inds = np.arange(n)
    identity = inds.astype("int32").tobytes()
    seen, out = set(), np.zeros((n_perm, n), dtype=int)
    for k in range(n_perm):
        count, duplicated = 0, True
        while duplicated and count < 500:
            count += 1
            rot = _gen_rotation(seed=rs)[0]
            dist = spatial.distance_matrix(coords, coords @ rot)
            if method == "vasa":
                col = np.zeros(n, dtype="int32")
                for _ in range(n):
                    row = dist.min(axis=1).argmax()
                    col[row] = dist[row].argmin()
                    dist[row] = -np.inf
                    dist[:, col[row]] = np.inf
            else:
                col = optimize.linear_sum_assignment(dist)[1]
            resampled = inds[col].astype("int32")
            key = resampled.tobytes()
            duplicated = key in seen or key == identity
        seen.add(key)
        out[k] = resampled
    return out


# ----------------------------------------------------------------------------------- benchmarks
def gene_null(quick):
    from qmrigenes.stats import genesets as gs

    sys.path.insert(0, "chapters")
    from qmribook import ch1

    data = ch1.load_chapter_data()
    corr = gs.gene_map_correlations(data.expression, data.maps)
    sizes = gs.genes_present(data.gene_sets, corr)["n_present"].to_dict()
    pool = corr.index.get_indexer(pd.Index(data.panel.index))
    table = corr.to_numpy()[pool[pool >= 0]]
    for n in (10_000,) + (() if quick else (100_000,)):
        t_plain, a = best_of(lambda: [plain_floyd_means(np.random.default_rng(0), table, k, n) for k in sizes.values()])
        t_fast, b = best_of(lambda: [gs._subset_means(np.random.default_rng(0), table, k, n) for k in sizes.values()])
        assert all(np.array_equal(x, y) for x, y in zip(a, b)), "gene null differs"
        line(f"gene null, 9 sets x 6 maps, {n:,} draws", t_plain, t_fast, "identical means")


def spins(quick):
    from neuromaps.nulls.spins import gen_spinsamples

    from qmrigenes.stats import spatial
    from qmrigenes.surface import sphere_centroids

    coords = sphere_centroids(hemisphere="L").to_numpy(float)
    hemi = np.zeros(len(coords), dtype=int)
    n = 2_000 if quick else 10_000
    for method in ("hungarian", "vasa"):
        t_prev, a = best_of(lambda: plain_spins(coords, n, 0, method), repeat=1)
        # (each repeat computes the stream anew: a replayed stream would cost nothing)
        t_fast, b = best_of(lambda: (spatial._REPLAYS.clear(),
                                     spatial._gen_spins(coords, hemi, n_perm=n, seed=0, method=method))[1])
        assert np.array_equal(a, b), "spins differ"
        note = "identical spins"
        if method == "hungarian":
            t_nm, c = best_of(lambda: gen_spinsamples(coords, hemi, n_rotate=n, seed=0, method=method).T,
                              repeat=1)
            assert np.array_equal(c, b), "spins differ from neuromaps"
            line(f"spins {method}, {n:,}, neuromaps gen_spinsamples", t_nm, t_fast, note + " (neuromaps')")
        line(f"spins {method}, {n:,}, previous loop", t_prev, t_fast, note)


def mixed():
    from statsmodels.regression.mixed_linear_model import MixedLM

    from qmrigenes.stats import regression as rg

    rng = np.random.default_rng(0)
    n, pairs, genes = 34, 17, 300
    idx = [f"r{i}" for i in range(n)]
    codes = np.arange(n) // 2
    x = pd.DataFrame(rng.normal(size=(n, genes)) + 0.8 * rng.normal(size=pairs)[codes][:, None] * rng.random(genes),
                     index=idx, columns=[f"g{j}" for j in range(genes)])
    y = pd.Series(rng.normal(size=n) + 0.7 * rng.normal(size=pairs)[codes], index=idx)
    yv = rg.zscore(y.to_numpy())

    def plain():
        out = []
        for g in x.columns:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = MixedLM(yv, np.column_stack([np.ones(n), x[g]]), groups=codes).fit(reml=True)
            out.append(fit.pvalues[1])
        return np.array(out)

    t_plain, p_plain = best_of(plain, repeat=1)
    t_fast, fast = best_of(lambda: rg.mixed_model_ols(x, y, groups=pd.Series(codes, index=idx)), repeat=1)
    dp = np.abs(fast["p"].to_numpy() - p_plain).max()
    line("mixed_model_ols, 300 genes, 17 pairs", t_plain, t_fast,
         f"largest |Δp| {dp:.1e} (statsmodels' tolerance), same decisions at 0.05: "
         f"{bool(((fast['p'].to_numpy() < 0.05) == (p_plain < 0.05)).all())}")


def sampling():
    from qmrigenes import ahba
    from qmrigenes.datasets import load_ahba_sample_annotations

    annotations = load_ahba_sample_annotations()
    fast_mask = ahba._sample_mask
    ahba._sample_mask = _pandas_mask
    try:
        t_plain, a = best_of(lambda: ahba.roi_sampling(annotations))
    finally:
        ahba._sample_mask = fast_mask
    t_fast, b = best_of(lambda: ahba.roi_sampling(annotations))
    pd.testing.assert_frame_equal(a, b)
    line("roi_sampling, 6 donors", t_plain, t_fast, "identical table")


def figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, "chapters")
    from qmribook import ch1, display

    try:                                 # the figures package organised by what they draw
        from qmrigenes.ahba import gene_set_expression
        from qmrigenes.figures import plot_maps_with_gene_sets as plot_figure1
    except ImportError:                  # before that reorganisation
        from qmrigenes.figures.mpm import plot_figure1
        from qmrigenes.mpm import gene_set_expression

    data = ch1.load_chapter_data()
    sets = gene_set_expression(data.expression, data.gene_sets, sets=["Astrocyte", "Oligodendrocyte"])

    def savefig():
        fig = plot_figure1(data.maps["clinical MPM"], sets)
        t = time.process_time()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=200, bbox_inches="tight")
        plt.close(fig)
        return time.process_time() - t, buffer.getvalue()

    def once():
        fig = plot_figure1(data.maps["clinical MPM"], sets)
        t = time.process_time()
        png = display._encode_png(display._render_tight(fig, dpi=200), dpi=200, metadata={})
        plt.close(fig)
        return time.process_time() - t, png

    t_plain, a = min(savefig() for _ in range(REPEAT))
    t_fast, b = min(once() for _ in range(REPEAT))
    assert a[16:24] == b[16:24], "PNG sizes differ"
    line("Fig. 1.3 (12 3D surface panels) rendered", t_plain, t_fast, "same PNG size; figure construction not included")


def derived():
    from qmrigenes import datasets, phantom

    t_plain, a = best_of(lambda: phantom._build_template_labels(6), repeat=1)
    phantom._template_labels.cache_clear()
    phantom._template_labels(6)                                 # stored if not yet
    phantom._template_labels.cache_clear()
    t_fast, b = best_of(lambda: (phantom._template_labels.cache_clear(), phantom._template_labels(6))[1])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    line("head phantom labels", t_plain, t_fast, "equal (derived copy in the data cache)")
    t_plain, a = best_of(lambda: [datasets._parse_sample_annotation(f"ahba_sampleannot_donor{d}.xlsx")
                                  for d in range(1, 7)], repeat=1)
    t_fast, b = best_of(lambda: [datasets._read_sample_annotation(d) for d in range(1, 7)])
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    line("AHBA annotation spreadsheets, 6 donors", t_plain, t_fast, "equal frames (derived copy in the data cache)")
    t_plain, a = best_of(datasets._parse_ahba_dk, repeat=1)
    datasets._read_ahba_dk.cache_clear()
    datasets._read_ahba_dk()
    t_fast, b = best_of(lambda: (datasets._read_ahba_dk.cache_clear(), datasets._read_ahba_dk())[1])
    pd.testing.assert_frame_equal(a, b)
    line("AHBA DK expression table (83 x 15,633)", t_plain, t_fast, "equal frame (derived copy in the data cache)")


def surface_panels():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from qmrigenes.figures import surfaces
    from qmrigenes.surface import dk_labels, load_fsaverage5

    rng = np.random.default_rng(0)
    mesh = load_fsaverage5(hemisphere="L", surface="inflated")
    labels = dk_labels(hemisphere="L")
    regions = pd.unique(labels)
    rows = [pd.Series(rng.normal(size=len(regions)), index=regions).loc[labels].to_numpy() for _ in range(6)]

    def panels(kind):                                   # Fig. 1.3's 12 panels: 6 maps x 2 views
        t = time.process_time()
        pngs = []
        projections = {}
        for values in rows:
            for view in ("lateral", "medial"):
                fig = plt.figure(figsize=(2.5, 2.0))
                lo, hi = float(values.min()), float(values.max())
                if kind == "3d":
                    ax = fig.add_subplot(projection="3d")
                    _nilearn_panel_3d(ax, fig, mesh, values, labels, hemisphere="L", view=view,
                                      cmap="viridis", vmin=lo, vmax=hi)
                else:
                    if view not in projections:
                        projections[view] = surfaces._projected_faces(mesh, hemisphere="L", view=view)
                    surfaces._surface_panel(fig.add_subplot(), projections[view], mesh, values, labels,
                                            cmap="viridis", vmin=lo, vmax=hi)
                buffer = io.BytesIO()
                fig.savefig(buffer, format="png", dpi=100)
                plt.close(fig)
                pngs.append(buffer.getvalue())
        return time.process_time() - t, pngs

    t_plain, a = min(panels("3d") for _ in range(REPEAT))
    t_fast, b = min(panels("2d") for _ in range(REPEAT))
    assert a == b, "PNGs differ"
    line("12 surface panels built + rendered, nilearn 3D vs 2D projected", t_plain, t_fast,
         "identical PNG bytes")


def mpm_simulation():
    from qmrigenes import phantom, relaxometry

    ph = phantom.make_head_phantom()
    b1 = phantom.b1_field(ph.shape, amplitude=0.2)
    protocol = relaxometry.MPMProtocol()

    def plain():                                                # the boolean-mask scatter it replaced
        sel = ph.mask
        pd_ = ph.maps["PD"][sel]
        r1 = np.where(pd_ > 0, ph.maps["R1"][sel], 1.0)
        out = {}
        for c in relaxometry.CONTRASTS:
            mt = ph.maps["MTsat"][sel] if c == protocol.mt_contrast else 0.0
            s = np.zeros((len(protocol.te),) + ph.shape)
            s[:, sel] = relaxometry.spgr_signal(pd_, r1, ph.maps["R2s"][sel], flip_angle=protocol.flip_angles[c],
                                                tr=protocol.tr[c], te=protocol.te, b1=b1[sel], mtsat=mt)
            out[c] = s
        return out

    t_plain, a = best_of(plain)
    t_fast, b = best_of(lambda: relaxometry.simulate_mpm(ph.maps, protocol, b1=b1, mask=ph.mask))
    for c in a:
        np.testing.assert_array_equal(a[c], b[c])
    line("simulate_mpm, head phantom, 3 contrasts", t_plain, t_fast, "identical signals")


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    gene_null(quick)
    spins(quick)
    mixed()
    sampling()
    figure()
    derived()
    surface_panels()
    mpm_simulation()
