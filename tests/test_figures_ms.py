"""Smoke-and-content tests for the slice, curve and matrix figures of qmrigenes.figures (chapter 3 uses them)."""
import matplotlib.pyplot as plt
import pandas as pd
import pytest

from qmrigenes import lesions, phantom, qsm
from qmrigenes import relaxometry as R
from qmrigenes import figures as figs


# Built once for the figures of this file (the tests draw them and must not modify them).
@pytest.fixture(scope="module")
def lesioned(ph):
    """``lesions.insert_lesions(ph)``: (lesioned phantom, lesion map, lesion table)."""
    return lesions.insert_lesions(ph)


@pytest.fixture(scope="module")
def atrophy(ph):
    """``lesions.atrophy_series(ph, losses=(0, 0.2))``."""
    return lesions.atrophy_series(ph, losses=(0, 0.2))


def test_plot_phantom(ph):
    fig = figs.plot_phantom(ph, z=40)
    assert len([a for a in fig.axes if a.images]) == 6
    plt.close(fig)


def test_plot_mpm_and_accuracy(ph):
    sl = (slice(None), slice(None), slice(38, 42))
    maps = {k: v[sl] for k, v in ph.maps.items()}
    b1 = phantom.b1_field(ph.shape)[sl]
    est = R.fit_mpm(R.simulate_mpm(maps, b1=b1), b1=b1)
    fig = figs.plot_mpm_maps(maps, {"B1": est}, b1, z=2)
    assert len([a for a in fig.axes if a.images]) == 9
    plt.close(fig)
    acc = R.accuracy_table(est, maps, ph.labels[sl], {3: "WM", 2: "cortical GM"}).reset_index()
    fig = figs.plot_accuracy(acc.assign(method="B1"))
    assert len(fig.axes) == 4 and len(fig.axes[0].patches) == 2
    plt.close(fig)


def test_plot_r1_bias_and_review_heatmap():
    fig = figs.plot_r1_bias({"a": R.r1_bias_curve(0.8, n=5)})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    mat = lesions.review_direction_matrix()
    fig = figs.plot_review_heatmap(mat)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == mat.size and "↑" in texts and "↕" in texts
    plt.close(fig)


def test_plot_qsm_sharp_roi(rng):
    chi = qsm.sphere_source((20, 20, 20), center=(10, 10, 10), radius_mm=8, chi=0.1)
    mask = qsm.sphere_source((20, 20, 20), center=(10, 10, 10), radius_mm=16, chi=1) > 0
    f = qsm.forward_field(chi)
    fig = figs.plot_qsm(chi, {"TKD": qsm.tkd(f, mask=mask)}, z=10, y=10)
    assert len([a for a in fig.axes if a.images]) == 5
    plt.close(fig)
    loc, er = qsm.sharp(f, mask, radius_mm=4)
    fig = figs.plot_sharp(f, f, loc, er, y=10)
    assert len(fig.axes[0].images) == 1
    plt.close(fig)
    tab = pd.DataFrame({"truth": [0.1, 0.0], "TKD": [0.08, 0.01], "n_voxels": [5, 5]}, index=["a", "b"])
    fig = figs.plot_roi_means(tab)
    assert len(fig.axes[0].collections) == 1
    plt.close(fig)


def test_plot_lesions_profiles_atrophy(lesioned, atrophy):
    les, lmap, info = lesioned
    fig = figs.plot_lesion_stages({"R1": les.maps["R1"], "chi": les.maps["chi"]}, info, half_width=5)
    assert len([a for a in fig.axes if a.images]) == 8
    plt.close(fig)
    # a lesion next to the grid's edge: its crop is cut there, not empty
    edge = info.iloc[:1].assign(x=2, y=1)
    fig = figs.plot_lesion_stages({"R1": les.maps["R1"]}, edge, half_width=5)
    img = fig.axes[0].images[0].get_array()
    assert img.shape == (1 + 5 + 1, 2 + 5 + 1)            # rot90 of the 8 × 7 (x, y) crop
    assert np.array_equal(img, np.rot90(np.nan_to_num(les.maps["R1"][0:8, 0:7, edge.z.iloc[0]])))
    plt.close(fig)
    prof = lesions.radial_profile(les.maps["chi"], tuple(info.loc[2, ["x", "y", "z"]]))
    rows = pd.DataFrame({"stage": "chronic_active", "parameter": "chi", "source": "truth",
                         "distance_mm": prof.index, "value": prof.values})
    fig = figs.plot_lesion_profiles(rows)
    assert len(fig.axes[0].lines) == 1
    plt.close(fig)
    fig = figs.plot_atrophy(atrophy)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    plt.close(fig)


# --------------------------------------------------------------------------- legibility (#8)
import io  # noqa: E402

import numpy as np  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from PIL import Image  # noqa: E402

COLUMN_PX = 750


def _tight_png_width(fig):
    """Width (px) of ``fig.savefig(..., bbox_inches="tight")``'s PNG from savefig's own first pass
    (layout, then the tight box padded by ``savefig.pad_inches``), without painting and encoding the
    picture: a full render per figure saved. Equal to savefig's to 1 px (constrained layout moves
    by a fraction of a pixel between passes; test_tight_png_width_is_savefigs)."""
    fig.draw_without_rendering()
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    return int(box.width * fig.dpi)


def _displayed_text_px(fig):
    """Smallest text height (px) once the tight PNG is shown in a 750 px column."""
    scale = min(1.0, COLUMN_PX / _tight_png_width(fig))
    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * fig.dpi / 72 * scale


@pytest.mark.parametrize("layout", [None, "constrained"])
def test_tight_png_width_is_savefigs(layout):
    def make():
        fig, ax = plt.subplots(figsize=(9, 3), layout=layout)
        ax.plot([0, 1], [0, 1], label="a line")
        ax.set_ylabel("a long label (unit)")
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1))       # outside: it moves the tight box
        fig.suptitle("title")
        return fig

    fig = make()
    width = _tight_png_width(fig)
    plt.close(fig)
    fig = make()                                                    # the same figure, not yet drawn
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    plt.close(fig)
    assert abs(Image.open(buf).size[0] - width) <= 1, (Image.open(buf).size[0], width)


def _colorbars(fig):
    return [im.colorbar for ax in fig.axes for im in ax.images if getattr(im, "colorbar", None)]


def _assert_maps_have_unit_colorbars(fig, *, skip_cmaps=()):
    bars = _colorbars(fig)
    for ax in fig.axes:
        for im in ax.images:
            if im.get_cmap().name in skip_cmaps:
                continue
            match = [cb for cb in bars if cb.mappable.get_cmap().name == im.get_cmap().name
                     and np.allclose(cb.mappable.get_clim(), im.get_clim())]
            assert match, f"image in {ax.get_title()!r} has no colourbar"
            label = match[0].ax.get_ylabel() or match[0].ax.get_xlabel()
            assert "(" in label and ")" in label, f"colourbar label without a unit: {label!r}"


def _assert_legends_outside_data(fig):
    fig.draw_without_rendering()                        # layout and positions, no pixels painted
    renderer = fig.canvas.get_renderer()
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    data_axes = [ax for ax in fig.axes if ax.lines or ax.patches or ax.collections]
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in data_axes:
            assert not box.overlaps(ax.get_window_extent(renderer)), "legend covers an axes with data"


@pytest.fixture(scope="module")
def mpm_small(ph):
    from qmrigenes import phantom as P
    z = figs.deep_nuclei_slice(ph.labels)
    sl = (slice(None), slice(None), slice(z - 2, z + 2))
    maps = {k: v[sl].copy() for k, v in ph.maps.items()}      # copies: the session phantom stays as built
    b1 = P.b1_field(ph.shape)[sl]
    est = R.fit_mpm(R.simulate_mpm(maps, b1=b1), b1=b1)
    acc = R.accuracy_table(est, maps, ph.labels[sl], {3: "WM", 2: "cortical GM"}).reset_index()
    return maps, b1, est, acc


def test_deep_nuclei_slice_contains_every_class(ph):
    z = figs.deep_nuclei_slice(ph.labels)
    assert set(np.unique(ph.labels[:, :, z])) == set(range(8))
    fig = figs.plot_phantom(ph)                        # default slice = the deep-nuclei slice
    shown = np.unique(fig.axes[0].images[0].get_array())
    assert {4, 5, 6, 7} <= set(shown.astype(int))
    plt.close(fig)
    # no deep nuclei at all: the middle slice
    assert figs.deep_nuclei_slice(np.zeros((4, 4, 6), int)) == 3


def test_phantom_and_mpm_maps_legible_with_units(ph, mpm_small):
    maps, b1, est, _ = mpm_small
    for fig in (figs.plot_phantom(ph), figs.plot_mpm_maps(maps, {"B1": est}, b1, z=2)):
        assert fig.get_size_inches()[0] <= figs.COLUMN_WIDTH_IN
        assert _displayed_text_px(fig) >= 9
        _assert_maps_have_unit_colorbars(fig, skip_cmaps=("tissue classes",))
        plt.close(fig)


def test_accuracy_titles_say_percent(mpm_small):
    *_, acc = mpm_small
    fig = figs.plot_accuracy(acc.assign(method="B1"))
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert len(titles) == 4
    assert all("%" in t and "1/s" not in t and "s⁻¹" not in t and "p.u." not in t for t in titles)
    assert _displayed_text_px(fig) >= 9
    _assert_legends_outside_data(fig)
    plt.close(fig)


def test_line_figures_legible_and_legends_outside(atrophy):
    curves = {"a": R.r1_bias_curve(0.8, n=5), "b": R.r1_bias_curve(0.3, n=5)}
    s = atrophy
    tab = pd.DataFrame({"truth": [0.1, 0.0], "TKD": [0.08, 0.01], "n_voxels": [5, 5]}, index=["a", "b"])
    rows = pd.DataFrame({"stage": ["x", "x", "y", "y"], "parameter": ["chi", "chi", "R1", "R1"],
                         "source": ["truth", "estimate"] * 2, "distance_mm": [1, 1, 1, 1],
                         "value": [0.01, 0.02, 0.7, 0.8]})
    for fig in (figs.plot_r1_bias(curves), figs.plot_atrophy(s), figs.plot_roi_means(tab),
                figs.plot_lesion_profiles(rows)):
        assert fig.get_size_inches()[0] <= figs.COLUMN_WIDTH_IN
        assert _displayed_text_px(fig) >= 9
        _assert_legends_outside_data(fig)
        plt.close(fig)


def test_profiles_chi_in_ppb():
    rows = pd.DataFrame({"stage": "x", "parameter": "chi", "source": "truth", "distance_mm": [1.0, 3.0],
                         "value": [0.01, 0.02]})
    fig = figs.plot_lesion_profiles(rows)
    assert fig.axes[0].get_title() == "χ (ppb)"
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), [10, 20])
    plt.close(fig)


def test_atrophy_coinciding_curves_stay_distinguishable(atrophy):
    fig = figs.plot_atrophy(atrophy)
    r2s, chi = fig.axes[0].lines[:2]
    np.testing.assert_allclose(r2s.get_ydata(), chi.get_ydata(), rtol=1e-6)  # they coincide ...
    assert r2s.get_linestyle() != chi.get_linestyle()                       # ... yet look different
    assert r2s.get_marker() != chi.get_marker() and r2s.get_linewidth() > chi.get_linewidth()
    plt.close(fig)


def test_qsm_sharp_lesions_legible_with_units(lesioned):
    chi = qsm.sphere_source((20, 20, 20), center=(10, 10, 10), radius_mm=8, chi=0.1)
    mask = qsm.sphere_source((20, 20, 20), center=(10, 10, 10), radius_mm=16, chi=1) > 0
    f = qsm.forward_field(chi)
    loc, er = qsm.sharp(f, mask, radius_mm=4)
    les, _, info = lesioned
    maps = {"R1": les.maps["R1"], "R2s": les.maps["R2s"], "QSM (Tikhonov)": les.maps["chi"],
            "chi (truth)": les.maps["chi"]}
    lfig = figs.plot_lesion_stages(maps, info, half_width=5)
    labels = [cb.ax.get_xlabel() for cb in _colorbars(lfig)]
    assert labels == ["R1 (s⁻¹)", "R2* (s⁻¹)", "χ (ppb)", "χ (ppb)"]
    assert [ax.get_title() for ax in lfig.axes[:4]] == ["R1", "R2*", "χ, QSM (Tikhonov)", "χ (truth)"]
    for fig in (figs.plot_qsm(chi, {"TKD": qsm.tkd(f, mask=mask)}, z=10, y=10),
                figs.plot_sharp(f, f, loc, er, y=10), lfig):
        assert fig.get_size_inches()[0] <= figs.COLUMN_WIDTH_IN
        assert _displayed_text_px(fig) >= 9
        _assert_maps_have_unit_colorbars(fig)
        plt.close(fig)


def test_denoising_and_heatmap_legible():
    rng = np.random.default_rng(0)
    vol = rng.uniform(0, 40, (6, 7, 3))
    prec = pd.DataFrame({"no denoising": [1.2, 1.1], "NLM": [0.4, 0.5]}, index=["WM", "GM"])
    fig = figs.plot_denoising(vol, vol, vol, prec, z=1)
    assert fig.get_size_inches()[0] <= figs.COLUMN_WIDTH_IN
    assert _displayed_text_px(fig) >= 9
    _assert_maps_have_unit_colorbars(fig)
    _assert_legends_outside_data(fig)
    plt.close(fig)
    fig = figs.plot_review_heatmap(lesions.review_direction_matrix())
    assert _displayed_text_px(fig) >= 9
    plt.close(fig)


def test_plot_tkd_sweep_and_flip_angle_noise():
    tab = pd.DataFrame({"recovery_pct": [99.0, 80.0, 50.0], "artefact_sd_ppb": [25.0, 9.0, 6.0],
                        "recovery_pct_clean": [100.0, 81.0, 51.0], "artefact_sd_ppb_clean": [6.0, 5.0, 5.0]},
                       index=pd.Index([0.05, 0.2, 0.5], name="threshold"))
    x = np.linspace(-10, 10, 11)
    fig = figs.plot_tkd_sweep(tab, profile_x=x, profile_truth=np.where(abs(x) < 5, 120, 0),
                              profiles={"t = 0.05": x * 0 + 100})
    assert len(fig.axes) == 3 and len(fig.axes[0].lines) == 3          # two curves + 100 % line
    assert fig.get_size_inches()[0] <= figs.COLUMN_WIDTH_IN and _displayed_text_px(fig) >= 9
    _assert_legends_outside_data(fig)
    plt.close(fig)
    lo, hi = np.meshgrid([4.0, 6.0], [20.0, 30.0], indexing="ij")
    grid = pd.DataFrame({"fa_low": lo.ravel(), "fa_high": hi.ravel(), "r1_cov_pct": [2.1, 1.9, 2.0, 2.2],
                         "r1_bias_pct": [-1.0, -2.0, -1.2, -2.3]})
    fig = figs.plot_flip_angle_noise(grid, optimum=(4, 30), protocol=(6, 20), ernst=11.8, r1=0.86, tr=0.025)
    assert fig.get_size_inches()[0] <= figs.COLUMN_WIDTH_IN and _displayed_text_px(fig) >= 9
    cb = [c for c in fig.axes if c.get_ylabel() == "SD of R1 (% of R1)"]
    assert len(cb) == 1
    _assert_legends_outside_data(fig)
    plt.close(fig)
