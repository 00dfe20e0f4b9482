"""The one shape a chapter receives from its study code, and how the page shows it.

Every chapter-facing function in :mod:`qmribook.ch1`, :mod:`~qmribook.ch2` and
:mod:`~qmribook.ch3` is named ``report_<topic>`` and returns a :class:`Report`;
functions that only prepare inputs are named ``load_<what>``. Keys are hyphenated
(``"b1-mean"``, ``"tab-betas"``, ``"fig-betas"``); :func:`show` glues each entry
as ``<chapter>-<key>`` (e.g. ``ch1-b1-mean``), which is the name the chapter's
prose uses in ``{glue:text}`` and ``{glue:figure}``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Report", "show", "MIN_FONT_PT"]

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


def show(report: Report, *, chapter: str) -> Report:
    """Glue every number, table and figure of ``report`` as ``<chapter>-<key>``.

    Matplotlib figures are rendered through :func:`qmribook.display.figure` (a 200 dpi
    PNG shown at half size, smallest font at least :data:`MIN_FONT_PT`, recorded for the
    browser check) and
    closed, so the page shows them only where the prose places them. Returns
    ``report`` (so a cell can keep it).
    """
    import matplotlib.pyplot as plt
    from myst_nb import glue

    from .display import figure

    if not isinstance(report, Report):
        raise TypeError(f"report must be a Report, got {type(report).__name__}")
    if not chapter or not isinstance(chapter, str):
        raise ValueError(f"chapter must be a prefix such as 'ch1', got {chapter!r}")
    for key in report.keys():
        value = {**report.numbers, **report.tables, **report.figures}[key]
        if isinstance(value, plt.Figure):
            value = figure(value, min_font_pt=MIN_FONT_PT)      # renders and closes it
        glue(f"{chapter}-{key}", value, display=False)
    return report
