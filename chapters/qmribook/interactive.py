"""Interactive figures for the static book: precomputed curves, a slider, an optional dropdown.

The reader explores a figure in the built HTML with no kernel and no network. Python computes
every curve in advance; the page carries them as JSON inside the figure's ``<div>``, and a small
self-contained script shipped with the book (``_static/interactive.js``, included once per page
by Jupyter Book because it lives in the book's ``_static`` folder) draws them as SVG and redraws
on every slider or dropdown change. No third-party JavaScript and nothing fetched at view time.

The static matplotlib figure of the same data stays in the chapter for print; the interactive one
is extra.

Use in a chapter (one hidden cell and one glue directive)::

    from qmribook import interactive
    glue("ch3-spgr-widget", interactive.spgr_flip_angle_widget(r1={...}, pd={...}),
         display=False)

and in the Markdown::

    ```{glue:} ch3-spgr-widget
    ```

or, for other data, build one with :func:`slider_figure`, e.g. a TKD threshold sweep::

    fig = interactive.slider_figure(
        x=position_mm,                                    # shape (n_x,)
        series={"TKD": profiles,                          # shape (n_threshold, n_x)
                "truth": np.broadcast_to(chi_true, profiles.shape)},
        slider_values=thresholds, slider_label="TKD threshold", slider_decimals=2,
        xlabel="Position along the line (mm)", ylabel="χ (ppm)",
        title="TKD: streaking and underestimation versus threshold")
    glue("ch3-tkd-widget", fig, display=False)
"""
from __future__ import annotations

import hashlib
import html
import json
import re
from dataclasses import dataclass
from typing import Mapping

import numpy as np

from qmrigenes.relaxometry import ernst_angle   # re-exported: the Ernst angle of the SPGR demo

__all__ = ["InteractiveFigure", "ernst_angle", "slider_figure", "spgr_flip_angle_data",
           "spgr_flip_angle_widget"]

#: Significant digits kept for curve values in the page (keeps the JSON small).
_SIG_DIGITS = 4
#: Decimals kept for marker positions and slider values.
_MARKER_DECIMALS = 4
#: Okabe & Ito's colour-blind-safe categorical colours (blue, vermillion, bluish green, reddish
#: purple, orange, sky blue), each series also with its own dash pattern (a redundant mark).
_PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")
_DASHES = ("", "7 4", "2 3", "9 3 2 3", "4 4", "1 2")


@dataclass(frozen=True)
class InteractiveFigure:
    """A precomputed interactive figure; its ``_repr_html_`` is what the book page shows.

    Attributes
    ----------
    payload : dict
        JSON-serialisable description of the figure (axes, slider, dropdown, series, markers).
        Curve arrays are nested lists of shape (n_options, n_slider, n_x).
    fig_id : str
        HTML id of the figure's container (default: from a hash of the payload).
    """

    payload: dict
    fig_id: str = ""

    def __post_init__(self):
        if not self.fig_id:   # deterministic: the same data gives the same HTML in every build
            digest = hashlib.sha1(self.to_json().encode("utf-8")).hexdigest()[:10]
            object.__setattr__(self, "fig_id", f"qmri-fig-{digest}")

    def to_json(self) -> str:
        """The payload as compact JSON, safe to embed in a ``<script>`` element."""
        text = json.dumps(self.payload, separators=(",", ":"), allow_nan=False)
        return text.replace("</", "<\\/")

    def to_html(self) -> str:
        """HTML of the figure: a container, a no-JavaScript note and the data."""
        title = html.escape(self.payload.get("title", ""))
        return (
            f'<div class="qmri-interactive" id="{self.fig_id}" '
            f'aria-label="Interactive figure: {title}">'
            f'<p class="qmri-interactive-fallback"><em>{html.escape(self.fallback_text())}</em></p>'
            f'<script type="application/json" class="qmri-interactive-data">{self.to_json()}'
            "</script></div>"
        )

    def fallback_text(self) -> str:
        """What a reader without JavaScript sees: what the figure is, and its initial state."""
        p = self.payload
        k = p["slider"]["initial"]
        o = p["dropdown"]["initial"] if p.get("dropdown") else 0
        value = f"{p['slider']['values'][k]:.{p['slider']['decimals']}f}".replace("-", "\u2212")
        unit = f" {p['slider']['unit']}" if p["slider"]["unit"] else ""
        state = f"{p['slider']['label']} = {value}{unit}"
        if p.get("dropdown"):
            state += f", {p['dropdown']['label']}: {p['dropdown']['options'][o]}"
        parts = [f"Interactive figure ({p.get('title', '')}); it needs JavaScript, which this page "
                 f"cannot run. At its initial setting ({state})"]
        ml = p["marker_label"]
        marks = [f"{s['name']}: {ml['prefix']}{s['marker'][o][k]:.{ml['decimals']}f}{ml['suffix']}"
                 for s in p["series"] if s["marker"] is not None]
        if p.get("status"):
            marks.append(p["status"][o][k])
        text = parts[0] + (": " + "; ".join(marks) + "." if marks else " it shows "
                           + ", ".join(s["name"] for s in p["series"]) + ".")
        if p.get("fallback"):
            text += " " + p["fallback"]
        return text.replace(" -", " \u2212")

    def _repr_html_(self) -> str:
        return self.to_html()

    def __repr__(self) -> str:
        p = self.payload
        return (f"InteractiveFigure({p.get('title', '')!r}, slider {p['slider']['label']!r} "
                f"x {len(p['slider']['values'])}, series {[s['name'] for s in p['series']]})")


# --------------------------------------------------------------------------- helpers
def _round_sig(a: np.ndarray, digits: int = _SIG_DIGITS) -> list:
    """Round to ``digits`` significant digits and return nested lists."""
    a = np.asarray(a, dtype=float)
    out = np.zeros_like(a)
    nz = a != 0
    mag = np.floor(np.log10(np.abs(a[nz])))
    scale = 10.0 ** (digits - 1 - mag)
    out[nz] = np.round(a[nz] * scale) / scale
    return out.tolist()


def _parse_label(template: str) -> dict:
    """Split ``"Ernst angle {:.1f}°"`` into prefix, decimals and suffix for the page's script."""
    m = re.fullmatch(r"(.*)\{(?::\.(\d+)f)?\}(.*)", template, flags=re.S)
    if m is None:
        raise ValueError(f"marker_label must contain one '{{}}' or '{{:.Nf}}' field, got {template!r}")
    return {"prefix": m.group(1), "decimals": int(m.group(2) or 0), "suffix": m.group(3)}


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or infinite values")


# --------------------------------------------------------------------------- public API
def slider_figure(*, x, series: Mapping[str, object], slider_values, slider_label: str,
                  xlabel: str, ylabel: str, title: str = "", slider_unit: str = "",
                  slider_decimals: int = 0, initial: int | None = None,
                  dropdown: Mapping[str, object] | None = None,
                  markers: Mapping[str, object] | None = None,
                  marker_label: str = "{:.1f}", ylim: tuple[float, float] | None = None,
                  xlim: tuple[float, float] | None = None, caption: str = "",
                  step: bool = False, fig_id: str | None = None, status=None,
                  marker_style: str = "dot", ylim_per_option: bool = False,
                  fallback: str = "") -> InteractiveFigure:
    """Build an interactive line figure from precomputed curves.

    Parameters
    ----------
    x : array_like, shape (n_x,)
        Shared x values of every curve (increasing).
    series : mapping, name -> array_like
        One curve family per name, of shape (n_slider, n_x) or, with ``dropdown``,
        (n_options, n_slider, n_x). At most six series.
    slider_values : array_like, shape (n_slider,)
        The parameter the slider steps through (in ``slider_unit``).
    slider_label : str
        Name of the slider parameter, e.g. ``"TR"``.
    xlabel, ylabel, title : str
        Axis labels and the title drawn above the plot.
    slider_unit : str, optional
        Unit shown after the slider value, e.g. ``"ms"``.
    slider_decimals : int, default 0
        Decimals shown for the slider value.
    initial : int, optional
        Index of the slider value shown first (default: middle).
    dropdown : mapping, optional
        ``{"label": str, "options": sequence of str, "initial": int (optional)}``; the first axis
        of every series (and marker) array runs over these options.
    markers : mapping, series name -> array_like, optional
        x position of one marker per slider value on that series' curve, shape (n_slider,) or
        (n_options, n_slider); drawn as a dot with a dashed drop line and a label.
    marker_label : str, default ``"{:.1f}"``
        Label of a marker: one format field for its x value, e.g. ``"Ernst angle {:.1f}°"``.
    ylim, xlim : (float, float), optional
        Fixed axis limits (default: the range of all data, so that the axes do not jump while
        the slider moves).
    caption : str, optional
        Short text shown under the controls (plain text): how to use the figure. Number and
        caption the figure itself with ``{glue:figure}`` and ``:name:`` in the chapter.
    step : bool, default False
        Draw every curve as steps (value ``y[i]`` from ``x[i]`` to ``x[i+1]``), e.g. a histogram
        of a null distribution given by its left bin edges.
    fig_id : str, optional
        HTML id of the container (default: derived from a hash of the data).
    status : array_like of str, shape (n_slider,) or (n_options, n_slider), optional
        A line of text per state, shown live under the controls (and announced to screen
        readers), e.g. the p-value for the current number of draws.
    marker_style : {"dot", "line"}
        ``"dot"``: a dot on the curve with a dashed drop line; ``"line"``: a full-height
        vertical line (an observed value on a histogram).
    ylim_per_option : bool, default False
        With a dropdown, fit the y axis to each option's curves (fixed while the slider moves).
    fallback : str, optional
        Extra sentence for readers without JavaScript (e.g. where the static figure of the same
        data is); the no-script text always states the figure's initial setting.

    Returns
    -------
    InteractiveFigure
        Displays as the interactive figure in the built book; ``.payload`` holds the data.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError("x must be 1-D with at least two values")
    _check_finite("x", x)
    if np.any(np.diff(x) <= 0):
        raise ValueError("x must be strictly increasing")
    sv = np.asarray(slider_values, dtype=float)
    if sv.ndim != 1 or sv.size < 1:
        raise ValueError("slider_values must be 1-D and non-empty")
    _check_finite("slider_values", sv)
    options = [""]
    dd = None
    if dropdown is not None:
        options = [str(o) for o in dropdown["options"]]
        if not options:
            raise ValueError("dropdown needs at least one option")
        dd_init = int(dropdown.get("initial", 0))
        if not 0 <= dd_init < len(options):
            raise ValueError("dropdown initial index out of range")
        dd = {"label": str(dropdown["label"]), "options": options, "initial": dd_init}
    n_opt, n_sl, n_x = len(options), sv.size, x.size
    if not series:
        raise ValueError("series must name at least one curve family")
    if len(series) > len(_PALETTE):
        raise ValueError(f"at most {len(_PALETTE)} series")

    def _shape(name, a, want):
        a = np.asarray(a, dtype=float)
        if dropdown is None and a.shape == want[1:]:
            a = a[None]
        if a.shape != want:
            raise ValueError(f"{name} has shape {np.shape(a)}; expected {want[1:] if dropdown is None else want}")
        _check_finite(name, a)
        return a

    arrays = {str(k): _shape(f"series[{k!r}]", v, (n_opt, n_sl, n_x)) for k, v in series.items()}
    marks = {}
    for k, v in (markers or {}).items():
        if str(k) not in arrays:
            raise ValueError(f"marker for unknown series {k!r}")
        marks[str(k)] = _shape(f"markers[{k!r}]", v, (n_opt, n_sl))
    init = n_sl // 2 if initial is None else int(initial)
    if not 0 <= init < n_sl:
        raise ValueError("initial slider index out of range")
    if marker_style not in {"dot", "line"}:
        raise ValueError(f"marker_style must be 'dot' or 'line', got {marker_style!r}")
    if status is not None:
        st = np.asarray(status, dtype=object)
        if dropdown is None and st.shape == (n_sl,):
            st = st[None]
        if st.shape != (n_opt, n_sl):
            raise ValueError(f"status has shape {np.shape(status)}; expected {(n_sl,) if dropdown is None else (n_opt, n_sl)}")
        status = [[str(v) for v in row] for row in st]

    def _limits(values):
        lo, hi = float(values.min()), float(values.max())
        pad = 0.05 * (hi - lo or 1.0)
        return (min(0.0, lo) if lo >= 0 else lo - pad, hi + pad)

    allv = np.concatenate([a.ravel() for a in arrays.values()])
    if ylim is None:
        ylim = _limits(allv)
    ylims = None
    if ylim_per_option:
        ylims = [list(_limits(np.concatenate([a[o].ravel() for a in arrays.values()]))) for o in range(n_opt)]
    if xlim is None:
        xlim = (float(x[0]), float(x[-1]))
    payload = {
        "version": 1,
        "title": title,
        "caption": caption,
        "xlabel": xlabel,
        "ylabel": ylabel,
        "xlim": [float(xlim[0]), float(xlim[1])],
        "ylim": [float(ylim[0]), float(ylim[1])],
        "ylims": ylims,
        "x": _round_sig(x, 8),
        "slider": {"label": slider_label, "unit": slider_unit, "decimals": int(slider_decimals),
                   "values": np.round(sv, _MARKER_DECIMALS).tolist(), "initial": init},
        "dropdown": dd,
        "marker_label": _parse_label(marker_label),
        "step": bool(step),
        "marker_style": marker_style,
        "status": status,
        "fallback": fallback,
        "series": [
            {"name": name, "color": _PALETTE[i], "dash": _DASHES[i], "y": _round_sig(a),
             "marker": (np.round(marks[name], _MARKER_DECIMALS).tolist() if name in marks else None)}
            for i, (name, a) in enumerate(arrays.items())
        ],
    }
    return InteractiveFigure(payload, fig_id or "")


# --------------------------------------------------------------------------- SPGR demo
def spgr_flip_angle_data(*, r1: Mapping[str, float], pd: Mapping[str, float] | None = None,
                         tr_ms=tuple(range(5, 101, 5)), flip_deg=tuple(range(1, 91)),
                         b1=(1.0,)) -> dict:
    """SPGR signal versus flip angle on a grid of TR and B1, from ``relaxometry.spgr_signal``.

    Parameters
    ----------
    r1 : mapping, tissue -> float
        Longitudinal relaxation rate R1 in 1/s per tissue.
    pd : mapping, tissue -> float, optional
        Signal amplitude (proton density, p.u.) per tissue; default 100 for each.
    tr_ms : sequence of float, shape (n_tr,)
        Repetition times in ms.
    flip_deg : sequence of float, shape (n_fa,)
        Nominal flip angles in degrees, in (0, 90].
    b1 : sequence of float, shape (n_b1,)
        Relative transmit field values; the actual flip angle is ``b1 * flip``.

    Returns
    -------
    dict
        ``signal``: tissue -> ndarray (n_b1, n_tr, n_fa), signal at TE = 0 (units of PD);
        ``ernst_deg``: tissue -> ndarray (n_b1, n_tr), nominal flip angle of maximum signal,
        arccos(exp(-TR R1)) / B1 in degrees; and the grids ``tr_ms``, ``flip_deg``, ``b1``.
    """
    from qmrigenes.relaxometry import spgr_signal

    tr_ms = np.asarray(tr_ms, float)
    flip = np.asarray(flip_deg, float)
    b1 = np.asarray(b1, float)
    names = list(r1)
    r1v = np.array([r1[k] for k in names], float)
    pdv = np.array([100.0 if pd is None else pd[k] for k in names], float)
    sig = np.empty((len(names), b1.size, tr_ms.size, flip.size))
    for it, tr in enumerate(tr_ms):
        # every B1 and flip angle at once (the same elementwise arithmetic as one call per point,
        # bit for bit): spgr_signal returns shape (n_te, n_b1, n_fa, n_tissue); one echo at TE = 0
        sig[:, :, it, :] = spgr_signal(pdv, r1v, 0.0, flip_angle=flip[:, None], tr=tr / 1000.0,
                                       te=(0.0,), b1=b1[:, None, None])[0].transpose(2, 0, 1)
    ernst = ernst_angle(r1v[:, None, None], tr_ms[None, None, :] / 1000.0) / b1[None, :, None]
    return {"tr_ms": tr_ms, "flip_deg": flip, "b1": b1, "r1": dict(zip(names, r1v.tolist())),
            "signal": {k: sig[i] for i, k in enumerate(names)},
            "ernst_deg": {k: ernst[i] for i, k in enumerate(names)}}


def spgr_flip_angle_widget(*, r1: Mapping[str, float], pd: Mapping[str, float] | None = None,
                           tr_ms=tuple(range(5, 101, 5)), flip_deg=tuple(range(1, 91)),
                           b1=(0.8, 1.0, 1.2), initial_tr_ms: float = 25.0,
                           fig_id: str | None = None) -> InteractiveFigure:
    """Interactive SPGR signal versus flip angle: a TR slider, a B1 dropdown, Ernst angles marked.

    Parameters are those of :func:`spgr_flip_angle_data`; ``initial_tr_ms`` picks the TR shown
    first (nearest grid value) and the dropdown starts at B1 = 1 if present.

    Returns
    -------
    InteractiveFigure
    """
    d = spgr_flip_angle_data(r1=r1, pd=pd, tr_ms=tr_ms, flip_deg=flip_deg, b1=b1)
    b1_labels = [f"B1 = {b:g}" + (" (nominal)" if b == 1 else "") for b in d["b1"]]
    one = np.flatnonzero(np.isclose(d["b1"], 1.0))
    return slider_figure(
        x=d["flip_deg"],
        series={f"{k} (R1 = {d['r1'][k]:.2f} 1/s)": v for k, v in d["signal"].items()},
        markers={f"{k} (R1 = {d['r1'][k]:.2f} 1/s)": v for k, v in d["ernst_deg"].items()},
        slider_values=d["tr_ms"], slider_label="TR", slider_unit="ms",
        initial=int(np.argmin(np.abs(d["tr_ms"] - initial_tr_ms))),
        dropdown={"label": "Transmit field", "options": b1_labels,
                  "initial": int(one[0]) if one.size else 0},
        marker_label="Ernst {:.1f}°", xlabel="Nominal flip angle (°)",
        ylabel="SPGR signal at TE = 0 (PD units)",
        title="Spoiled gradient-echo signal versus flip angle",
        caption="Move the TR slider: the Ernst angle (dot) moves up with TR. "
                "Change B1: the curves stretch along the nominal flip angle.",
        fig_id=fig_id)
