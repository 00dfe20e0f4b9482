"""display.figure draws each figure once (issue #22): the PNG is savefig's tight PNG, and text
beyond the canvas still gets savefig's enlarged picture."""
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from qmribook import display  # noqa: E402


def _draw_tight(fig, *, dpi, metadata, panels=None):
    """The PNG ``Figure`` makes: the pixels drawn once (``_render_tight``), encoded as savefig does."""
    return display._encode_png(display._render_tight(fig, dpi=dpi, panels=panels), dpi=dpi, metadata=metadata)


def _pixels(png):
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


@pytest.mark.parametrize("layout", [None, "constrained"])
def test_figure_drawn_once_is_savefigs_tight_png(layout):
    """Same size, same text chunks, same picture (up to a sub-pixel shift) as savefig's tight PNG."""
    import io

    def make():
        fig, axes = plt.subplots(1, 2, figsize=(5, 2.5), layout=layout)
        axes[0].plot([0, 1], [1, 0], lw=3)
        axes[1].imshow(np.arange(64.0).reshape(8, 8))
        axes[1].set_title("an image")
        fig.suptitle("suptitle")
        return fig

    buffer = io.BytesIO()
    make().savefig(buffer, format="png", dpi=200, bbox_inches="tight", metadata={"qmri:dpi": "200"})
    once = _draw_tight(make(), dpi=200, metadata={"qmri:dpi": "200"})
    ref, got = _pixels(buffer.getvalue()), _pixels(once)
    assert got.shape == ref.shape
    assert np.abs(got - ref).mean() < 3                     # antialiasing of a sub-pixel shift
    assert (np.abs(got - ref) > 128).mean() < 0.01          # no missing or misplaced element
    assert b"qmri:dpi\x00200" in once and b"Software" in once


def test_figure_with_text_beyond_the_canvas_gets_savefigs_enlarged_picture_in_one_draw(monkeypatch):
    """savefig enlarges the picture to show text outside the figure; so does figure(), and still
    paints the figure once (laid out and measured first, painted with savefig's box): the same
    pixels as savefig's tight PNG."""
    import io

    from matplotlib.figure import Figure as MplFigure

    def outside(layout="constrained"):
        fig, ax = plt.subplots(figsize=(3, 2), layout=layout)
        ax.plot([0, 1], [1, 0])
        ax.text(1.3, 0.5, "outside the figure", transform=ax.transAxes)
        return fig

    draws = []
    original = MplFigure.draw
    monkeypatch.setattr(MplFigure, "draw", lambda self, renderer: (draws.append(renderer), original(self, renderer))[1])
    out = display.figure(outside(), dpi=100, min_font_pt=1)
    assert len(draws) == 1
    monkeypatch.setattr(MplFigure, "draw", original)
    for layout in (None, "constrained"):
        buffer = io.BytesIO()
        outside(layout).savefig(buffer, format="png", dpi=100, bbox_inches="tight")
        png = _draw_tight(outside(layout), dpi=100, metadata={})
        ref = _pixels(buffer.getvalue())
        assert ref.shape[1] > 320                                 # beyond the 3 in canvas
        assert np.array_equal(_pixels(png), ref)                 # savefig's picture, pixel for pixel
        if layout == "constrained":
            assert np.array_equal(_pixels(out.png), ref)


@pytest.mark.parametrize("layout", [None, "constrained"])
def test_panel_boxes_measure_each_axes_once_with_the_same_boxes(monkeypatch, layout):
    """panel_boxes measures every axes' tight box once and reuses it for the figure's tight box:
    the page and the panels are those of measuring both separately, bit for bit."""
    def make():
        fig, axes = plt.subplots(2, 2, figsize=(6, 4), layout=layout)
        for i, ax in enumerate(axes.flat):
            im = ax.imshow(np.arange(64.0).reshape(8, 8) * (i + 1))
            fig.colorbar(im, ax=ax, label="χ (ppb)")
            ax.set_title(f"panel {i}")
        axes[0, 0].plot([0, 7], [7, 0], label="a line")
        axes[0, 0].legend(loc="upper right")
        axes[1, 1].inset_axes([0.6, 0.6, 0.35, 0.35]).plot([0, 1], [1, 0])
        fig.suptitle("suptitle")
        fig.text(0.01, 0.01, "a note", fontsize=8)
        return fig

    new = display.figure(make(), dpi=150, min_font_pt=1)
    fig = make()
    _draw_tight(fig, dpi=150, metadata={})
    renderer = fig._get_renderer()
    axes = [a for a in fig.axes if a.get_visible()]
    boxes = {a: a.get_tightbbox(renderer) for a in axes}
    assert all(a.get_tightbbox(renderer).bounds == b.bounds for a, b in boxes.items())  # measuring is pure
    page = display._figure_tightbbox(fig, renderer, boxes)
    assert page.bounds == fig.get_tightbbox(renderer).bounds                           # bit for bit
    assert all("get_tightbbox" not in vars(a) for a in axes)                           # nothing left behind
    # the previous path: the figure's tight box measured on its own
    monkeypatch.setattr(display, "_figure_tightbbox", lambda fig, renderer, boxes: fig.get_tightbbox(renderer))
    old = display.figure(make(), dpi=150, min_font_pt=1)
    assert len(new.panels) > 1 and new.panels == old.panels and new.png == old.png


def test_axes_without_axis_are_drawn_the_same_with_their_axis_artists_hidden(monkeypatch):
    """figure() hides the axis artists of axes drawn with set_axis_off (matplotlib otherwise
    computes their ticks for titles and layout): the same picture and panels as without hiding
    them; a panel's smallest font is read only from what is drawn."""
    def make():
        fig, axes = plt.subplots(2, 3, figsize=(6, 4), layout="constrained")
        for i, ax in enumerate(axes.flat):
            im = ax.imshow(np.arange(64.0).reshape(8, 8) * (i + 1))
            ax.set_axis_off()
            ax.set_title(f"map {i}")
            if i % 3 == 2:
                fig.colorbar(im, ax=ax, label="χ (ppb)")
        axes[1, 0].set_axis_on()                     # one panel keeps its axis (and its ticks)
        axes[1, 0].set_ylabel("row label")
        fig.suptitle("suptitle")
        return fig

    new = display.figure(make(), dpi=120, min_font_pt=1)
    assert b"qmri:panels" in new.png
    fig = make()
    display.figure(fig, dpi=120, min_font_pt=1)
    assert [a.xaxis.get_visible() for a in fig.axes[:6]] == [False] * 3 + [True] + [False] * 2
    monkeypatch.setattr(display, "_hide_unused_axis_artists", lambda fig: None)
    monkeypatch.setattr(display, "_visible_texts", lambda a: [t for t in a.findobj(matplotlib.text.Text)
                                                              if t.get_visible()])
    old = display.figure(make(), dpi=120, min_font_pt=1)
    assert np.array_equal(_pixels(new.png), _pixels(old.png))                   # the same picture
    assert [p[:4] for p in new.panels] == [p[:4] for p in old.panels]           # the same panels
    assert new.min_font_pt == old.min_font_pt == 10                             # the y label's ticks
    # per panel, the undrawn tick labels (10 pt) of the maps no longer count: their titles (12 pt) do
    assert [p[4] for p in old.panels][1:3] == [10, 10] and [p[4] for p in new.panels][1:3] == [12, 12]


def test_smallest_font_counts_only_drawn_text():
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.5))
    axes[0].plot([0, 1], [1, 0])
    axes[1].text(0.5, 0.5, "hidden with its axes", fontsize=3)
    axes[1].set_visible(False)
    fig.text(0.01, 0.01, "a note", fontsize=7)
    out = display.figure(fig, dpi=100, min_font_pt=1)
    assert out.min_font_pt == 7
    assert set(t.get_text() for t in display._visible_texts(fig)) >= {"a note"}
    assert "hidden with its axes" not in [t.get_text() for t in display._visible_texts(fig)]


def test_panels_come_from_the_drawing_at_the_pngs_dpi():
    """The panels are measured on the renderer that drew the PNG (its dpi), from the axes boxes
    measured for the crop: the boxes panel_boxes measures on a figure already at that dpi."""
    def make(dpi):
        fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.2), dpi=dpi)
        for i, ax in enumerate(axes):
            ax.plot([0, 1], [i, 0])
            ax.set_title(f"a wide title {i}")
        fig.suptitle("suptitle")
        return fig

    new = display.figure(make(100), dpi=150, min_font_pt=1)
    fig = make(150)
    png = _draw_tight(fig, dpi=150, metadata={})
    size = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
    assert new.panels == display.panel_boxes(fig, size) and len(new.panels) == 3
    assert (new.width, new.height) == (round(size[0] / 2), round(size[1] / 2))


def test_panels_hold_everything_drawn_spines_included():
    """Every dark pixel of the PNG lies in a panel: the boxes hold the axes' spines whole (a tight
    box ends on a spine's centre line) and their text, so the phone edition's crops lose nothing."""
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.5), layout="constrained")
    for i, ax in enumerate(axes.flat):
        ax.plot([0, 1], [i, 0], lw=2)
        ax.set_xlim(-0.13, 1.13)          # no tick label at either end: the spines are the edges
        ax.set_title(f"a title of panel {i}", fontsize=9)
        for spine in ax.spines.values():
            spine.set_linewidth(1.5)
    fig.suptitle("Published deep-grey susceptibility (literature)")
    out = display.figure(fig, dpi=200, min_font_pt=1)
    ink = _pixels(out.png)[..., :3].mean(axis=2) < 128
    inside = np.zeros_like(ink)
    for x0, y0, x1, y1, *_ in out.panels:
        inside[y0:y1, x0:x1] = True
    assert len(out.panels) == 4 and ink.sum() > 1000
    assert not (ink & ~inside).any()


def test_panels_of_a_savefig_png_are_measured_at_its_dpi():
    """When savefig makes the PNG (text beyond the canvas), the panels are measured at the PNG's
    dpi as well: every dark pixel lies in a panel (text measured at the figure's 100 dpi is
    narrower than drawn at 200 dpi, and a title's box then cut its first and last letters)."""
    fig, axes = plt.subplots(1, 2, figsize=(5, 2.5), layout="constrained")
    for ax in axes:
        ax.plot([0, 1], [1, 0])
        ax.set_xlim(-0.13, 1.13)
    axes[1].text(1.05, 0.5, "beyond the canvas", transform=axes[1].transAxes)
    fig.suptitle("thick: gene-set association (68 regions), a title long enough to measure", fontsize=11)
    out = display.figure(fig, dpi=200, min_font_pt=1)
    ink = _pixels(out.png)[..., :3].mean(axis=2) < 128
    inside = np.zeros_like(ink)
    for x0, y0, x1, y1, *_ in out.panels:
        inside[y0:y1, x0:x1] = True
    assert out.width * 2 > 5 * 200 and len(out.panels) == 3      # savefig enlarged the picture
    assert not (ink & ~inside).any()


def test_figures_encode_side_by_side_the_bytes_of_figure():
    """display.figures draws the figures one after another and encodes their PNGs on threads:
    the bytes, panels and sizes of display.figure, in order, whatever the number of threads."""
    def make(i):
        fig, axes = plt.subplots(1, 2, figsize=(4 + i, 2), layout="constrained")
        axes[0].imshow(np.arange(64.0).reshape(8, 8) * (i + 1))
        axes[1].plot([0, 1], [i, 0])
        axes[1].set_title(f"figure {i}")
        return fig

    one = [display.figure(make(i), dpi=120, min_font_pt=1) for i in range(3)]
    for workers in (1, 2, None):
        got = display.figures([make(i) for i in range(3)], dpi=120, min_font_pt=1, workers=workers)
        assert [g.png for g in got] == [o.png for o in one]
        assert [(g.panels, g.width, g.height, g.min_font_pt) for g in got] == \
               [(o.panels, o.width, o.height, o.min_font_pt) for o in one]
    lazy = display.Figure(make(0), dpi=120, min_font_pt=1, encode=False)
    assert lazy._png is None and lazy.png == one[0].png and lazy._image is None
