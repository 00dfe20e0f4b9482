"""Shared style of the library's figures: one column width, one minimum font, one categorical palette.

Every figure is at most :data:`COLUMN_WIDTH_IN` inches wide (a text column of about 750 px) with
text of at least :data:`MIN_FONT_PT` points, so that it is legible at its displayed size; figures
that code categories by colour use :data:`CATEGORICAL` in order and add a second mark
(:data:`CATEGORICAL_MARKERS`, a line style or a hatch).

The private helpers here (slices, colour bars, row labels, fitted lines, panel grids) are shared by
the plotting modules.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


__all__ = [
    "CATEGORICAL",
    "CATEGORICAL_MARKERS",
    "COLUMN_WIDTH_IN",
    "MIN_FONT_PT",
]

#: Categorical colours safe for the common colour-vision deficiencies (Okabe & Ito, 2008):
#: blue, vermillion, bluish green, reddish purple, orange, sky blue, yellow, black. Figures that
#: code categories by colour use these, in this order, and add a second mark (marker, line
#: style or hatch) where categories sit side by side.
CATEGORICAL = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")

#: Markers that go with CATEGORICAL, for the redundant mark.
CATEGORICAL_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")

#: Widest figure (inches): the book's text column is about 750 px, i.e. 7.5 in at 100 dpi.
COLUMN_WIDTH_IN = 7.5

#: Smallest font (points) of any text in these figures; at 100 dpi and <= 7.5 in wide this is
#: at least 12 px on the page.
MIN_FONT_PT = 9

_TITLE = 10

_HATCHES = ("", "///", "...", "xx", "\\\\", "oo")   # the redundant mark of bar categories

_DONOR_COLORS = CATEGORICAL[:6]   # colour-blind safe; each donor also has its own marker

_LABELS = {"R1": "R1 (s⁻¹)", "PD": "PD (p.u.)", "R2s": "R2* (s⁻¹)", "MTsat": "MTsat (p.u.)",
           "chi": "χ (ppm)", "QSM": "χ (ppm)"}

_NAMES = {"R1": "R1", "PD": "PD", "R2s": "R2*", "MTsat": "MTsat", "chi": "χ", "QSM": "χ"}

_RANGES = {"R1": (0.2, 1.1), "PD": (60, 100), "R2s": (0, 40), "MTsat": (0, 1.8), "chi": (-0.06, 0.12),
           "QSM": (-0.06, 0.12)}


def _axial(vol, z):
    return np.rot90(np.asarray(vol)[:, :, z])


def _coronal(vol, y):
    return np.rot90(np.asarray(vol)[:, y, :])


def _show(ax, img, *, vmin=None, vmax=None, cmap="gray", title=None):
    im = ax.imshow(img, vmin=vmin, vmax=vmax, cmap=cmap, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=MIN_FONT_PT + 1)
    return im


def _cbar(fig, im, ax, label, *, location="right", nbins=4, **kw):
    """A colourbar with a unit label and at most ``nbins`` ticks, fonts >= MIN_FONT_PT."""
    cb = fig.colorbar(im, ax=ax, location=location, **kw)
    cb.set_label(label, fontsize=MIN_FONT_PT + 1)
    cb.ax.tick_params(labelsize=MIN_FONT_PT)
    axis = cb.ax.xaxis if location in ("top", "bottom") else cb.ax.yaxis
    axis.set_major_locator(MaxNLocator(nbins=nbins))
    return cb


def _row_label(ax, text):
    ax.text(-0.06, 0.5, text, transform=ax.transAxes, rotation=90, va="center", ha="right",
            fontsize=MIN_FONT_PT + 1)


def _display_name(key: str) -> tuple[str, str]:
    """(title, colourbar label with unit) of a map key such as ``R2s`` or ``QSM (Tikhonov)``."""
    base, _, rest = key.partition(" ")
    name = _NAMES.get(base, base)
    title = f"{name} {rest}".strip()
    if base == "QSM":
        title = f"χ, QSM {rest}".strip()
    return title, _LABELS.get(base, key)


def _p_label(p: float) -> str:
    """p with two significant digits; below 0.001 as e-notation with a short exponent."""
    if not np.isfinite(p):
        return "p = –"
    if p < 1e-3:
        mant, exp = f"{p:.1e}".split("e")
        return f"p = {mant}e{int(exp)}"
    return f"p = {p:.2g}"


def _fit_line(ax, x, y, color="C1"):
    b, a = np.polyfit(x, y, 1)
    xs = np.linspace(np.min(x), np.max(x), 10)
    ax.plot(xs, a + b * xs, color=color, lw=1.5)


def _grid(n: int, ncols: int, *, panel_height: float = 2.0, extra: float = 0.6, sharey: bool = True):
    ncols = max(1, min(n, ncols))
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(COLUMN_WIDTH_IN, panel_height * nrows + extra),
                             squeeze=False, sharey=sharey)
    return fig, axes


def _label_grid(axes, n: int, *, xlabel: str, ylabel: str) -> None:
    """Hide the panels of a :func:`_grid` beyond the first ``n``; label the first column's y axes
    and the bottom panel of each column's x axis."""
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel(ylabel, fontsize=MIN_FONT_PT)
    for i in {min(i, n - 1) for i in range(n - axes.shape[1], n)}:     # bottom panel of each column
        axes.flat[i].set_xlabel(xlabel, fontsize=MIN_FONT_PT)
