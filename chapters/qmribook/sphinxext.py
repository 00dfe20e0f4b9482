"""Sphinx extension for the book: number glued tables as tables; resolve numrefs quickly.

MyST-NB shows a glued DataFrame through ``{glue:figure}``, which makes a
figure node, so Sphinx would number it "Fig. N". Enabled in ``_config.yml``
(``sphinx.extra_extensions``), this extension turns every figure whose label
starts with ``tab-`` into a :class:`table_figure`, an enumerable node of type
``table``: it is numbered "Table N" in its caption and in ``{numref}`` links,
and rendered exactly like a figure.

A figure whose text would be too small on a phone gets a phone variant
(:class:`PhoneFigures`, :func:`phone_variant`): the panels recorded by
:func:`qmribook.display.panel_boxes` in the PNG's ``qmri:panels`` chunk are cut out into
``_images/phone/`` and shown one under another on narrow screens (``_static/qmri.css`` swaps
them), each opening the full figure on a tap; a panel (or a one-panel figure) still too wide
to read in the column is shown at a readable size in a box that scrolls sideways.

It also keeps, during the writing phase, one unpickled copy of each page's doctree for
``{numref}`` resolution: Sphinx's standard domain unpickles the whole target page again
for every reference (about 150 in this book, close to a third of a build). The copies are
only read (to find the target node and its number) and are dropped when the build ends.
"""
import html
import json
import math
import struct
import zlib
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util.osutil import relative_uri
from sphinx.writers.html5 import HTML5Translator

__all__ = ["table_figure", "mark_table_figures", "png_text", "phone_variant", "PhoneFigures", "setup"]

#: Width of the text column (CSS px) in a 400 px window, and the smallest figure text (px)
#: a phone reader gets; a figure below it gets its one-column variant.
PHONE_COLUMN_PX = 352     # measured in Chromium: 400 px window, the book's theme
MIN_TEXT_PX = 9.0


class table_figure(nodes.figure):
    """A figure node holding a table (numbered with the tables)."""


def mark_table_figures(document: nodes.document, *, prefix: str = "tab-") -> int:
    """Re-class figures labelled ``prefix...`` as :class:`table_figure`; return how many."""
    count = 0
    for node in list(document.findall(nodes.figure)):
        if type(node) is nodes.figure and any(i.startswith(prefix) for i in node["ids"]):
            node.__class__ = table_figure
            count += 1
    return count


class _GluedTablesAreTables(SphinxTransform):
    default_priority = 200

    def apply(self, **kwargs):
        mark_table_figures(self.document)


def png_text(data: bytes) -> tuple[int, int, dict]:
    """(width, height, {key: text}) of a PNG's header and tEXt/zTXt chunks."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return 0, 0, {}
    width, height = struct.unpack(">II", data[16:24])
    text, pos = {}, 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind in (b"tEXt", b"zTXt") and b"\0" in body:
            key, value = body.split(b"\0", 1)
            value = zlib.decompress(value[1:]) if kind == b"zTXt" else value
            text[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return width, height, text


def phone_variant(data: bytes, *, shown_width: float | None = None, column_px: float = PHONE_COLUMN_PX,
                  min_px: float = MIN_TEXT_PX) -> list[dict]:
    """How a figure PNG is shown on a phone when its text would be too small there, else ``[]``.

    Its panels (the ``qmri:panels`` chunk of :func:`qmribook.display.figure`) go one under
    another; a panel still too wide for the phone's column at a readable size (or a figure of
    one panel) is shown at that size in a box that scrolls sideways.

    Parameters
    ----------
    data : bytes
        A PNG written by :func:`qmribook.display.figure` (chunks ``qmri:min_font_pt``,
        ``qmri:dpi``, and ``qmri:panels`` for a figure of several panels).
    shown_width : float, optional
        Its width on a wide screen (CSS px; default: half its pixel width).
    column_px, min_px : float
        The phone's text column (CSS px) and the smallest text (px) allowed there.

    Returns
    -------
    list of dict
        One per piece, in reading order: ``box`` (x0, y0, x1, y1 in PNG pixels), ``font_pt``,
        ``width`` (CSS px to show it at), ``scroll`` (True: wider than the column, in a
        sideways-scrolling box) and ``label`` (the grid's row/column labels the panel does
        not draw itself, or None). Empty when the whole figure reads at ``min_px`` in the column.

    Examples
    --------
    >>> [p["scroll"] for p in phone_variant(png_of_three_panels)]   # doctest: +SKIP
    [False, False, False]
    """
    width, height, text = png_text(data)
    try:
        font_pt = float(text["qmri:min_font_pt"])
        dpi = float(text.get("qmri:dpi", 72))
        panels = json.loads(text.get("qmri:panels", "[]"))
    except (ValueError, KeyError):
        return []
    if not width or font_pt != font_pt:          # (nan: a figure without text)
        return []
    scale = width / shown_width if shown_width else 2.0
    if font_pt * dpi / 72 * min(width / scale, column_px) / width >= min_px:
        return []
    if len(panels) < 2:
        panels = [[0, 0, width, height, font_pt]]
    pieces = []
    for x0, y0, x1, y1, font, *rest in panels:
        px = (font or font_pt) * dpi / 72                 # its smallest text in PNG pixels
        natural = (x1 - x0) / scale                      # CSS px at the wide-screen scale
        needed = math.ceil((x1 - x0) * (min_px + 0.25) / px)
        scroll = min(natural, column_px) * px / (x1 - x0) < min_px
        pieces.append({"box": [x0, y0, x1, y1], "font_pt": font or font_pt,
                       "width": needed if scroll else round(natural), "scroll": scroll,
                       "label": rest[0] if rest else None})
    return pieces


class PhoneFigures(SphinxPostTransform):
    """Add a phone variant after every figure whose text is unreadable on a phone."""

    default_priority = 900
    builders = ("html", "dirhtml")      # not singlehtml: the PDF prints the figure itself

    def run(self, **kwargs) -> None:
        from PIL import Image
        from PIL.PngImagePlugin import PngInfo

        builder = self.app.builder
        page = builder.get_target_uri(self.env.docname)
        folder = Path(builder.outdir) / builder.imagedir / "phone"
        for node in list(self.document.findall(nodes.image)):
            uri = node.get("uri", "")
            if uri not in self.env.images or "qmri-has-phone" in node.get("classes", []):
                continue
            source = Path(self.env.srcdir) / uri        # (the image collector made it srcdir-relative)
            if source.suffix.lower() != ".png" or not source.is_file():
                continue
            data = source.read_bytes()
            width, height, text = png_text(data)
            pieces = phone_variant(data, shown_width=_css_px(node.get("width")))
            if not pieces:
                continue
            name = self.env.images[uri][1]
            full = relative_uri(page, f"{builder.imagedir}/{name}")
            alt = node.get("alt", "").strip() or "Figure"
            parts = []
            with Image.open(source) as image:
                for k, piece in enumerate(pieces, 1):
                    x0, y0, x1, y1 = piece["box"]
                    if len(pieces) == 1:
                        src, label = full, alt
                    else:
                        crop_name = f"{Path(name).stem}-panel{k}.png"
                        target = folder / crop_name
                        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
                            folder.mkdir(parents=True, exist_ok=True)
                            info = PngInfo()
                            info.add_text("qmri:min_font_pt", f"{piece['font_pt']:g}")
                            info.add_text("qmri:dpi", text.get("qmri:dpi", "72"))
                            image.crop((x0, y0, x1, y1)).save(target, pnginfo=info)
                        src = relative_uri(page, f"{builder.imagedir}/phone/{crop_name}")
                        label = (f"{alt} (panel {k} of {len(pieces)})" if k == 1
                                 else f"Panel {k} of {len(pieces)} of the figure above")
                        if piece.get("label"):
                            label += f": {piece['label']}"
                    h = round(piece["width"] * (y1 - y0) / (x1 - x0))
                    img = (f'<a class="reference internal image-reference" href="{html.escape(full)}">'
                           f'<img src="{html.escape(src)}" alt="{html.escape(label)}" loading="lazy" '
                           f'width="{piece["width"]}" height="{h}"'
                           + (f' style="width: {piece["width"]}px; max-width: none"' if piece["scroll"] else "")
                           + "></a>")
                    if piece["scroll"]:
                        img = (f'<div class="qmri-phone-scroll" tabindex="0" role="group" aria-label="'
                               f'{html.escape(label[:60])}: scrolls sideways">{img}</div>')
                    if len(pieces) > 1 and piece.get("label"):     # the grid's labels it does not draw
                        img = f'<p class="qmri-panel-label">{html.escape(piece["label"])}</p>' + img
                    parts.append(img)
            note = ('<p class="qmri-phone-note">Swipe a wide panel sideways to see all of it; tap any panel '
                    "for the full figure.</p>" if any(p["scroll"] for p in pieces) else "")
            node["classes"] = node.get("classes", []) + ["qmri-has-phone"]
            anchor = node.parent if isinstance(node.parent, nodes.reference) else node
            raw = nodes.raw("", '<div class="qmri-phone-figure">' + note + "".join(parts) + "</div>", format="html")
            anchor.parent.insert(anchor.parent.index(anchor) + 1, raw)


def _css_px(value) -> float | None:
    """A docutils length ("636px", "636") in CSS px, or None."""
    if not value:
        return None
    text = str(value).strip()
    try:
        return float(text[:-2]) if text.endswith("px") else float(text)
    except ValueError:
        return None


_NUMREF_DOCTREES: dict = {}


def _install_numref_doctree_cache() -> None:
    from sphinx.domains.std import StandardDomain

    resolve = StandardDomain._resolve_numref_xref
    if getattr(resolve, "_qmribook_cached", False):
        return

    def _resolve_numref_xref(self, env, *args, **kwargs):
        load = env.get_doctree

        def cached(docname):
            if docname not in _NUMREF_DOCTREES:
                _NUMREF_DOCTREES[docname] = load(docname)
            return _NUMREF_DOCTREES[docname]

        env.get_doctree = cached          # this call only; the method is restored below
        try:
            return resolve(self, env, *args, **kwargs)
        finally:
            del env.get_doctree

    _resolve_numref_xref._qmribook_cached = True
    StandardDomain._resolve_numref_xref = _resolve_numref_xref


def _forget_doctrees(*_args) -> None:
    _NUMREF_DOCTREES.clear()


def setup(app):
    _install_numref_doctree_cache()
    app.connect("env-updated", _forget_doctrees)      # pages were (re)read: drop old copies
    app.connect("build-finished", _forget_doctrees)
    app.add_enumerable_node(table_figure, "table",
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.add_transform(_GluedTablesAreTables)
    app.add_post_transform(PhoneFigures)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
