"""The one shape a chapter receives from its study code, and how the page shows it.

Every chapter-facing function in :mod:`qmribook.ch1`, :mod:`~qmribook.ch2` and
:mod:`~qmribook.ch3` is named ``report_<topic>`` and returns a :class:`Report`;
functions that only prepare inputs are named ``load_<what>``. Keys are hyphenated
(``"b1-mean"``, ``"tab-betas"``, ``"fig-betas"``); :func:`show` glues each entry
as ``<chapter>-<key>`` (e.g. ``ch1-b1-mean``), which is the name the chapter's
prose uses in ``{glue:text}`` and ``{glue:figure}``.
"""
from __future__ import annotations

import html
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from .display import format_count

__all__ = ["Report", "NumberSummary", "show", "stopwatch", "MIN_FONT_PT"]

#: Smallest font (points) a chapter figure may use: at the column's 100 px per inch this is
#: about 11 px tall at 1,400 px window width (the browser check asks for at least 9 px).
MIN_FONT_PT = 8.0


@dataclass
class Report:
    """What a study hands its chapter.

    Attributes
    ----------
    numbers : dict of str -> number or str
        Values quoted in the prose.
    tables : dict of str -> table
        Display-ready tables (HTML objects or styled frames).
    figures : dict of str -> matplotlib.figure.Figure or HTML
        Static and interactive figures.
    data : dict of str -> object
        Intermediate results a later cell of the chapter reuses (not glued).
    """

    numbers: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    def __or__(self, other: "Report") -> "Report":
        if not isinstance(other, Report):
            return NotImplemented
        for part in ("numbers", "tables", "figures", "data"):
            clash = set(getattr(self, part)) & set(getattr(other, part))
            if clash:
                raise ValueError(f"both reports define {part} {sorted(clash)}")
        return Report(**{part: getattr(self, part) | getattr(other, part)
                         for part in ("numbers", "tables", "figures", "data")})

    def keys(self) -> list[str]:
        """Every glued key (numbers, tables, figures)."""
        return [*self.numbers, *self.tables, *self.figures]

    def __repr__(self) -> str:
        parts = [f"{len(getattr(self, p))} {p} ({', '.join(getattr(self, p))})"
                 for p in ("numbers", "tables", "figures", "data") if getattr(self, p)]
        return "Report: " + ("; ".join(parts) if parts else "empty")

    def _repr_html_(self) -> str:
        """A one-line summary of what the report holds (:func:`show` displays the content)."""
        return f'<p class="qmri-report"><code>{html.escape(repr(self))}</code></p>'


def _number_text(value) -> str:
    """A glued number as the summary shows it: 4 significant digits, true minus sign."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return str(value)
    if isinstance(value, numbers.Integral):
        return format_count(value)
    if not math.isfinite(float(value)):
        return str(value)
    return f"{float(value):,.4g}".replace("-", "\u2212")


class NumberSummary:
    """The glued numbers of one :func:`show` call, as a small table for a Jupyter run.

    The prose quotes them with ``{glue:text}`` under the names in the first column.
    """

    def __init__(self, names: dict[str, Any], *, notes: dict[str, str] | None = None):
        self.names = dict(names)
        self.notes = dict(notes or {})

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td><code>{html.escape(k)}</code></td><td>{html.escape(_number_text(v))}</td></tr>"
                       for k, v in self.names.items())
        rows += "".join(f"<tr><td><code>{html.escape(k)}</code></td><td><em>{html.escape(v)}</em></td></tr>"
                        for k, v in self.notes.items())
        return ('<details open class="qmri-numbers"><summary>Numbers quoted in the text '
                f'({len(self.names)})</summary><table class="qmri-numbers"><thead><tr><th>glue name</th>'
                f"<th>value</th></tr></thead><tbody>{rows}</tbody></table></details>")

    def __repr__(self) -> str:
        lines = [f"{k} = {_number_text(v)}" for k, v in self.names.items()]
        return "\n".join(lines + [f"{k}: {v}" for k, v in self.notes.items()])


def show(report: Report, *, chapter: str) -> Report:
    """Glue every number, table and figure of ``report`` as ``<chapter>-<key>``, and show them.

    * Figures (matplotlib) are rendered once through :func:`qmribook.display.figures` (a
      200 dpi PNG shown at half size, smallest font at least :data:`MIN_FONT_PT`, recorded
      for the browser check; a report's PNGs are encoded side by side), closed, and glued
      **with display**: a notebook run (JupyterLab, nbconvert) shows them under the cell.
    * Tables are glued with display as well.
    * Numbers are glued as hidden records (``{glue:text}`` in the prose), and shown together
      in one small table (:class:`NumberSummary`) under the cell.
    * Interactive figures (HTML drawn by the book's script) are glued hidden: they need the
      built book; the summary names them.

    In the book, a cell that calls ``show`` is tagged ``remove-output`` (or ``remove-cell``),
    so each figure and table appears once, where its ``{glue:figure}`` directive places it.

    Returns ``report`` (so a cell can keep it; its repr is a one-line summary).
    """
    from IPython.display import display

    if not isinstance(report, Report):
        raise TypeError(f"report must be a Report, got {type(report).__name__}")
    if not chapter or not isinstance(chapter, str):
        raise ValueError(f"chapter must be a prefix such as 'ch1', got {chapter!r}")
    notes = {}
    shown = {**report.tables, **report.figures}
    drawn = {key: value for key, value in shown.items() if _loaded_instance(value, "matplotlib.figure", "Figure")}
    if drawn:       # each drawn once and closed; their PNGs encoded side by side (the same bytes)
        from .display import figures

        shown.update(zip(drawn, figures(drawn.values(), min_font_pt=MIN_FONT_PT)))
    for key, value in report.numbers.items():
        glue(f"{chapter}-{key}", value, display=False)
    for key, value in shown.items():
        name = f"{chapter}-{key}"
        if _interactive(value):
            glue(name, value, display=False)
            notes[name] = "interactive figure: explore it in the built book (it is drawn by the book's script)"
        else:
            glue(name, value, display=True)
    if report.numbers or notes:
        display(NumberSummary({f"{chapter}-{k}": v for k, v in report.numbers.items()}, notes=notes))
    return report


GLUE_PREFIX = "application/papermill.record/"     # myst_nb.ext.glue.GLUE_PREFIX


def glue(name: str, value, display: bool = True) -> None:
    """Glue ``value`` under ``name`` exactly as ``myst_nb.glue`` does (same outputs, same metadata).

    ``myst_nb.glue`` lives in a module that imports nbformat, whose schema validator
    (jsonschema and the IRI grammars it compiles on import) costs every kernel about a
    second of CPU for nothing a chapter uses; this writes the identical display record
    without that import. ``tests/book/test_report.py`` checks the two against each other.
    """
    import IPython
    from IPython.display import display as ipy_display

    mimebundle, metadata = IPython.core.formatters.format_display_data(value)
    mime_prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=mime_prefix)
    ipy_display({mime_prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)


def _interactive(value) -> bool:
    return _loaded_instance(value, "qmribook.interactive", "InteractiveFigure")


def _loaded_instance(value, module: str, name: str) -> bool:
    """``isinstance(value, module.name)``, without importing ``module``: an instance exists only
    once its module is loaded, so a page gluing numbers and tables alone never imports
    matplotlib (``matplotlib.pyplot`` costs a kernel about 0.4 s of CPU)."""
    import sys

    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(value, getattr(loaded, name))


class stopwatch:
    """Time a step of a chapter: ``with stopwatch() as t: ...``, then ``t.seconds``."""

    def __enter__(self) -> "stopwatch":
        import time

        self._start = time.perf_counter()
        self.seconds = float("nan")
        return self

    def __exit__(self, *exc) -> None:
        import time

        self.seconds = time.perf_counter() - self._start

    def __repr__(self) -> str:
        return f"stopwatch({self.seconds:.2f} s)"
