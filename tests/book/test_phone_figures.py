"""One-column variants of multi-panel figures for phones: the panels recorded by
qmribook.display.figure and cut out by the Sphinx extension (qmribook.sphinxext.PhoneFigures)."""
import json

import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from qmribook import display, sphinxext  # noqa: E402


def _boxes_disjoint(panels):
    for i, a in enumerate(panels):
        for b in panels[i + 1:]:
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (a, b)


def test_a_row_of_three_panels_in_reading_order():
    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.2), layout="constrained")
    for k, ax in enumerate(axes):
        ax.plot([0, 1], [k, 1])
        ax.set_title(f"panel {k}")
    out = display.figure(fig)
    width, height, text = sphinxext.png_text(out.png)
    panels = json.loads(text["qmri:panels"])
    assert panels == out.panels and len(panels) == 3
    assert [p[0] for p in panels] == sorted(p[0] for p in panels)        # left to right
    assert all(0 <= p[0] < p[2] <= width and 0 <= p[1] < p[3] <= height for p in panels)
    _boxes_disjoint(panels)
    assert all(p[4] == pytest.approx(float(text["qmri:min_font_pt"]), abs=3) for p in panels)


def test_grid_rows_first_and_colorbar_with_its_image():
    fig, axes = plt.subplots(2, 2, figsize=(6, 5), layout="constrained")
    im = axes[0, 0].imshow(np.arange(16.0).reshape(4, 4))
    fig.colorbar(im, ax=axes[0, 0], label="R1 (1/s)")
    for ax in axes.flat[1:]:
        ax.plot([0, 1], [1, 0])
    panels = display.figure(fig).panels
    assert len(panels) == 4                                          # the colorbar is no panel of its own
    top, bottom = panels[:2], panels[2:]
    assert max(p[3] for p in top) <= min(p[1] for p in bottom) + 1  # first row first
    assert top[0][0] < top[1][0] and bottom[0][0] < bottom[1][0]
    _boxes_disjoint(panels)


def test_grid_panels_carry_the_row_and_column_labels_they_do_not_draw():
    """A grid labelled once per row (y label of the first column) and once per column (title
    of the top row), like Fig. 3.9: on a phone each panel is captioned with both."""
    fig, axes = plt.subplots(2, 2, figsize=(5, 5), layout="constrained")
    for ax in axes.flat:
        ax.imshow(np.arange(16.0).reshape(4, 4))
    axes[0, 0].set_title("R1")
    axes[0, 1].set_title("PD")
    axes[0, 0].set_ylabel("early active")
    axes[1, 0].set_ylabel("late active")
    out = display.figure(fig)
    assert [p[5] for p in out.panels] == [None, "early active", "R1", "late active · PD"]
    pieces = sphinxext.phone_variant(out.png, shown_width=out.width, min_px=40)
    assert [p["label"] for p in pieces] == [None, "early active", "R1", "late active · PD"]
    # a row label written as a text left of the first panel (qmrigenes.figures.ms) counts too
    fig, axes = plt.subplots(1, 2, figsize=(4, 2), layout="constrained")
    for ax in axes:
        ax.imshow(np.arange(16.0).reshape(4, 4))
    axes[0].text(-0.06, 0.5, "chronic active", transform=axes[0].transAxes, rotation=90, ha="right")
    axes[1].set_title("PD")
    assert [p[5] for p in display.figure(fig).panels] == [None, "chronic active"]


def test_single_panel_has_no_variant():
    fig, ax = plt.subplots(figsize=(7.5, 3))
    ax.plot([0, 1], [0, 1])
    out = display.figure(fig)
    assert len(out.panels) == 1
    assert "qmri:panels" not in sphinxext.png_text(out.png)[2]
    # on a phone it is shown whole, at a readable size, in a box that scrolls sideways
    (piece,) = sphinxext.phone_variant(out.png, shown_width=out.width)
    assert piece["scroll"] and piece["width"] > sphinxext.PHONE_COLUMN_PX
    text_px = out.min_font_pt * 200 / 72 * piece["width"] / sphinxext.png_text(out.png)[0]
    assert sphinxext.MIN_TEXT_PX <= text_px < sphinxext.MIN_TEXT_PX + 0.5


def test_variant_only_where_the_phone_text_is_too_small():
    def png(width_in):
        fig, axes = plt.subplots(1, 2, figsize=(width_in, 2), layout="constrained")
        for ax in axes:
            ax.plot([0, 1], [0, 1])
            ax.tick_params(labelsize=8)
        return display.figure(fig)

    wide = png(7.5)     # 8 pt at 200 dpi shown at half size, shrunk into 352 px: about 5 px
    pieces = sphinxext.phone_variant(wide.png, shown_width=wide.width)
    assert len(pieces) == 2 and not any(p["scroll"] for p in pieces)   # each half fits the column
    narrow = png(3.4)   # fits the phone column: text stays at 11 px
    assert sphinxext.phone_variant(narrow.png, shown_width=narrow.width) == []


def test_sphinx_writes_the_panels_and_the_phone_markup(tmp_path):
    from sphinx.application import Sphinx

    fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.2), layout="constrained")
    for ax in axes:
        ax.plot([0, 1], [0, 1])
    out = display.figure(fig)
    src = tmp_path / "src"
    src.mkdir()
    (src / "fig.png").write_bytes(out.png)
    (src / "conf.py").write_text("extensions = ['qmribook.sphinxext']\n")
    (src / "index.rst").write_text("Book\n====\n\n.. toctree::\n\n   chapters/page\n")
    (src / "chapters").mkdir()        # a page in a folder, as the book's chapters are
    (src / "chapters" / "page.rst").write_text("Title\n=====\n\n.. figure:: ../fig.png\n   :width: %dpx\n"
                                               "   :alt: Three rising lines\n\n   Caption.\n" % out.width)
    for builder in ("html", "singlehtml"):
        app = Sphinx(str(src), str(src), str(tmp_path / builder), str(tmp_path / "doctrees" / builder),
                     builder, status=None, warning=None, freshenv=True)
        app.build()
    page = (tmp_path / "html" / "chapters" / "page.html").read_text()
    crops = sorted((tmp_path / "html" / "_images" / "phone").glob("fig-panel*.png"))
    assert [c.name for c in crops] == ["fig-panel1.png", "fig-panel2.png", "fig-panel3.png"]
    assert 'class="qmri-phone-figure"' in page and "qmri-has-phone" in page
    assert 'alt="Three rising lines (panel 1 of 3)"' in page and 'src="../_images/phone/fig-panel2.png"' in page
    assert 'href="../_images/fig.png"' in page                  # each panel opens the full figure
    w, h, text = sphinxext.png_text(crops[0].read_bytes())
    assert text["qmri:dpi"] == "200" and float(text["qmri:min_font_pt"]) > 0
    assert w < sphinxext.png_text(out.png)[0] / 2            # a third of the figure
    # the PDF prints the figure itself: no variant in the single-page build
    assert "qmri-phone-figure" not in (tmp_path / "singlehtml" / "index.html").read_text()
