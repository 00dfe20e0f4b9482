"""One path for every table and figure the book displays.

Tables: :func:`table` formats a DataFrame by the book's rules (readable headers with
units, one number style, published values verbatim, an em dash for missing values,
padded cells, never truncated, wrapped in a scroll box, optional CSV download) and
returns an object to ``glue``. Figures: :func:`figure` renders a matplotlib figure as a
high-dpi PNG that records its smallest font size for the browser check.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"b0": [0.2871], "p_bh": [3.2e-5], "n": [10242]})
>>> t = table(df, columns={
...     "b0": ColumnSpec("β₀", kind="value", decimals=3),
...     "p_bh": ColumnSpec("p (FDR)", kind="p"),
...     "n": ColumnSpec("vertices", kind="count"),
... })
>>> list(t.text.columns), list(t.text.iloc[0])
(['β₀', 'p (FDR)', 'vertices'], ['0.287', '3.2×10⁻⁵', '10,242'])

In a chapter, ``glue("tab-ch1-betas", t)`` puts the table on the page (``csv_name=`` adds a
CSV download beside it).
"""
from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import math
import numbers
import re
from pathlib import Path
from typing import Mapping, Union

import pandas as pd

__all__ = ["ColumnSpec", "Table", "Figure", "table", "figure", "figures", "header_spec", "grouped_table", "format_p", "format_count",
           "format_value", "format_published", "MISSING", "TABLES_DIR", "TABLES_HREF"]

#: What a missing value shows as.
MISSING = "\u2014"
#: Where CSV downloads are written: html_extra_path (``_extra``) copies it to
#: ``_build/html/chapters/_tables/``, next to the chapter pages that link to it.
from .paths import TABLES_DIR  # noqa: E402
#: The link from a chapter page (``chapters/*.html``) to that folder.
TABLES_HREF = "_tables"

_KINDS = {"text", "value", "count", "p", "published", "code", "hash", "html", "ref", "cite"}
_SUP = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
_MINUS = "\u2212"


#: A header that is the repr of a tuple, e.g. "('poster MTsat', 'r')" (a MultiIndex printed as text).
_TUPLE_REPR = re.compile(r"\(\s*(['\"]).*\1\s*,.*\)")
#: A cell of formatted text that is a number (one style: proper minus, separators, ×10ⁿ, %).
_NUMERIC_TEXT = re.compile(
    "[\u2212+]?\\d[\\d,]*(\\.\\d+)?(\u00d710[\u207b\u2070-\u2079\u00b9\u00b2\u00b3]+)?\\s?%?")


@dataclasses.dataclass(frozen=True)
class ColumnSpec:
    """How one column is shown.

    Parameters
    ----------
    header : str or (str, str)
        Reader-facing header with symbol and unit, e.g. ``"R2* (s⁻¹)"``, ``"p (FDR)"``; a pair
        ``(group, header)`` gives a two-level header (columns with the same group share one
        spanning header cell), e.g. ``("NSPN MT", "p FDR, spins")``.
    kind : str
        ``"value"`` (fixed ``decimals``), ``"count"`` (integer, thousands separators),
        ``"p"`` (p-value, ``digits`` significant digits, ×10⁻ⁿ below 0.001),
        ``"published"`` (the string as published, verbatim: read it with ``dtype=str``),
        ``"text"``, ``"code"`` (monospace), ``"hash"`` (a checksum: first 12 hex digits,
        the full value folded below), ``"html"`` (trusted markup, HTML tables only),
        ``"ref"`` / ``"cite"`` (figure/table labels or BibTeX keys, ``markup="myst"`` only).
    decimals : int
        Decimals for ``"value"``.
    digits : int
        Significant digits for ``"p"`` (2 or 3).
    """

    header: str
    kind: str = "text"
    decimals: int = 2
    digits: int = 2

    def __post_init__(self):
        if isinstance(self.header, tuple):
            if len(self.header) != 2 or not all(isinstance(h, str) for h in self.header):
                raise ValueError(f"a two-level header is a (group, header) pair of str, got {self.header!r}")
        elif not isinstance(self.header, str):
            raise TypeError(f"header must be str or (group, header), got {type(self.header).__name__}")
        elif _TUPLE_REPR.fullmatch(self.header.strip()):
            raise ValueError(f"header {self.header!r} is a printed Python tuple; pass the tuple itself "
                             "for a two-level header")
        if self.kind not in _KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}; use one of {sorted(_KINDS)}")
        if self.kind == "p" and self.digits not in (2, 3):
            raise ValueError("p-values show 2 or 3 significant digits")

    @property
    def group(self) -> str:
        """The spanning header above this column ('' for a one-level header)."""
        return self.header[0] if isinstance(self.header, tuple) else ""

    @property
    def label(self) -> str:
        """The column's own header (lower level of a two-level header)."""
        return self.header[1] if isinstance(self.header, tuple) else self.header

    @property
    def flat(self) -> str:
        """One-line header for CSV files and pipe tables: ``"group: header"``."""
        return f"{self.group}: {self.label}" if self.group and self.label else (self.group or self.label)


def _missing(value) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, str):
        return value.strip() == "" or value.strip().lower() in {"nan", "<na>", "none"}
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def format_count(value) -> str:
    """An integer with thousands separators (``17000 -> '17,000'``); raises on fractions."""
    if _missing(value):
        return MISSING
    number = float(value)
    if not number.is_integer():
        raise ValueError(f"count {value!r} is not an integer")
    return f"{int(number):,}".replace("-", _MINUS)


def format_value(value, *, decimals: int = 2) -> str:
    """Fixed decimals, thousands separators, a true minus sign (``-20 -> '−20.00'``)."""
    if _missing(value):
        return MISSING
    text = f"{float(value):,.{decimals}f}"
    if float(text.replace(",", "")) == 0:
        text = text.lstrip("-")
    return text.replace("-", _MINUS)


def _p_parts(value, digits: int):
    """(plain text, or mantissa and exponent) of a p-value."""
    p = float(value)
    if not 0 <= p <= 1:
        raise ValueError(f"p-value {value!r} is outside [0, 1]")
    if p == 0:
        return "0", None
    if p < 0.001:
        mantissa, exponent = f"{p:.{digits - 1}e}".split("e")
        return mantissa, int(exponent)
    decimals = max(digits - 1 - math.floor(math.log10(p)), 0)
    text = f"{p:.{decimals}f}"
    # rounding may add a digit (0.0995 -> 0.100): keep `digits` significant digits
    if len(text.replace("0.", "", 1).lstrip("0").replace(".", "")) > digits and decimals > 0:
        text = f"{p:.{decimals - 1}f}"
    return text, None


def format_p(value, *, digits: int = 2, markup: str = "html") -> str:
    """A p-value: 2–3 significant digits; below 0.001 as m×10⁻ⁿ, never wrapped.

    ``markup="html"`` writes ``<sup>`` in a no-wrap span, ``"text"`` Unicode superscripts.
    """
    if _missing(value):
        return MISSING
    mantissa, exponent = _p_parts(value, digits)
    if exponent is None:
        return mantissa
    if markup == "html":
        return (f'<span class="qmri-nowrap">{mantissa}\u00d710<sup>{str(exponent).replace("-", _MINUS)}'
                "</sup></span>")
    return f"{mantissa}\u00d710{str(exponent).translate(_SUP)}"


def format_published(text) -> str:
    """A published number as printed in the source, typeset by the glued numbers' rules
    (:func:`qmribook.numberstyle.number_text` and :func:`~qmribook.numberstyle.count_text`):
    ``1.32e-9`` -> ``1.32×10⁻⁹``, ``15627`` -> ``15,627``, ``-0.32`` -> ``−0.32`` (a true
    minus); the digits are kept (the published precision); empty -> :data:`MISSING`."""
    from .numberstyle import count_text, number_text

    if text is None or (not isinstance(text, str) and pd.isna(text)) or str(text).strip() == "":
        return MISSING
    return count_text(number_text(str(text).strip()))


def _yes_no(value) -> str:
    """A flag as the tables print it: yes / no / :data:`MISSING`."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return "yes" if bool(value) else "no"


def _cell_text(value, spec: ColumnSpec) -> str:
    """The text a cell shows (Unicode, no markup)."""
    if spec.kind == "p":
        return format_p(value, digits=spec.digits, markup="text")
    if spec.kind == "count":
        return format_count(value)
    if spec.kind == "value":
        return format_value(value, decimals=spec.decimals)
    return MISSING if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _true_minus(text: str) -> str:
    """A leading hyphen-minus of a number as a true minus sign (``-0.53`` -> ``−0.53``)."""
    return re.sub(r"^(\s*)-(?=\d|\.\d)", "\\1" + _MINUS, text)


_LONG_TOKEN = re.compile(r"\S{25,}")


def _breakable(text: str) -> str:
    """Zero-width break opportunities after . _ / - : ; in tokens of 25+ characters
    (dotted names, paths, URLs), so one long word does not widen its column."""
    return _LONG_TOKEN.sub(lambda m: re.sub(r"([._/:;-])", "\\1\u200b", m.group()), text)


def _cell_html(value, spec: ColumnSpec) -> tuple[str, str]:
    """(inner HTML, css class) of one cell."""
    if spec.kind in {"ref", "cite"}:
        raise ValueError(f"column kind {spec.kind!r} needs markup='myst'")
    if _missing(value):
        return MISSING, "qmri-num" if spec.kind in {"value", "count", "p"} else ""
    if spec.kind == "value":
        return format_value(value, decimals=spec.decimals), "qmri-num"
    if spec.kind == "count":
        return format_count(value), "qmri-num"
    if spec.kind == "p":
        return format_p(value, digits=spec.digits), "qmri-num"
    if spec.kind == "published":   # verbatim digits; only the sign is typeset as a true minus
        return html.escape(_true_minus(str(value))), "qmri-num"
    if spec.kind == "code":
        return f"<code>{html.escape(_breakable(str(value)))}</code>", ""
    if spec.kind == "hash":
        full = html.escape(str(value))
        return (f"<details><summary><code>{full[:12]}</code></summary><code>{full}</code></details>",
                "")
    if spec.kind == "html":
        return str(value), ""
    return html.escape(_breakable(str(value))), ""


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]{}<>$|#"})


def _cell_myst(value, spec: ColumnSpec) -> str:
    if _missing(value):
        return MISSING
    text = str(value).replace("\n", " ")
    if spec.kind == "value":
        return format_value(value, decimals=spec.decimals)
    if spec.kind == "count":
        return format_count(value)
    if spec.kind == "p":
        return format_p(value, digits=spec.digits, markup="text")
    if spec.kind == "cite":
        keys = [k.strip() for k in text.replace(";", ",").split(",") if k.strip()]
        return "{cite:p}`" + ",".join(keys) + "`"
    if spec.kind == "ref":
        parts = re.split(r"\b((?:fig|tab)-ch\d-[A-Za-z0-9-]+)", text)
        return "".join("{numref}`" + part + "`" if i % 2 else _breakable(part).translate(_MD_SPECIAL)
                       for i, part in enumerate(parts))
    if spec.kind in {"code", "hash"}:
        shown = text[:12] if spec.kind == "hash" else _breakable(text)
        return "`" + shown.replace("`", "") + "`"
    if spec.kind == "html":
        raise ValueError("column kind 'html' needs markup='html'")
    return _breakable(text).translate(_MD_SPECIAL)


def _two_level(name: tuple):
    """(group, header) from a MultiIndex column name; a one-part name stays one level."""
    parts = [str(p) for p in name if str(p).strip()]
    if len(parts) <= 1:
        return parts[0] if parts else ""
    return (parts[0], " ".join(parts[1:]))


def header_spec(name, *, kind: str = "text") -> ColumnSpec:
    """A ColumnSpec for a column name: a MultiIndex name ``(group, sub)`` gives a two-level header."""
    header = _two_level(name) if isinstance(name, tuple) else str(name)
    return ColumnSpec(header, kind=kind)


def _normalise(frame: pd.DataFrame, columns) -> dict[str, ColumnSpec]:
    if columns is None:
        columns = {c: c if isinstance(c, tuple) else str(c) for c in frame.columns}
    specs = {}
    for name, spec in columns.items():
        if name not in frame.columns:
            raise KeyError(f"column {name!r} is not in the table; it has {list(frame.columns)}")
        if isinstance(spec, tuple) or (isinstance(spec, str) and isinstance(name, tuple)):
            spec = _two_level(spec if isinstance(spec, tuple) else name)
        if isinstance(spec, (str, tuple)):
            dtype = frame[name].dtype
            if pd.api.types.is_bool_dtype(dtype):
                kind = "text"
            elif pd.api.types.is_integer_dtype(dtype):
                kind = "count"
            elif pd.api.types.is_float_dtype(dtype):
                kind = "value"
            else:
                kind = "text"
            spec = ColumnSpec(spec, kind=kind)
        specs[name] = spec
    return specs


class Table:
    """A formatted table: ``_repr_html_`` (HTML markup) or ``_repr_markdown_`` (MyST)."""

    def __init__(self, body: str, markup: str, *, frame: pd.DataFrame | None = None,
                 shown: pd.DataFrame | None = None, specs: Mapping[str, "ColumnSpec"] | None = None):
        self.body = body
        self.markup = markup
        self.frame = frame      # the table as the caller passed it (index included), for tests and reuse
        self._shown, self._specs = shown, specs

    @property
    def text(self) -> pd.DataFrame:
        """The shown cells as text (Unicode, no markup), one column per header: for tests."""
        if self._shown is None or self._specs is None:
            raise ValueError("this table keeps no shown cells")
        return pd.DataFrame({s.flat: [_cell_text(v, s) for v in self._shown[c]] for c, s in self._specs.items()})

    def _repr_html_(self):
        return self.body if self.markup == "html" else None

    def _repr_markdown_(self):
        return self.body if self.markup == "myst" else None

    def __str__(self):
        return self.body


def _write_csv(frame: pd.DataFrame, specs: Mapping[str, ColumnSpec], name: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    out = frame[list(specs)].copy()
    out.columns = [s.flat for s in specs.values()]
    buffer = io.StringIO()
    out.to_csv(buffer, index=False, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _is_numeric(values: pd.Series, spec: ColumnSpec) -> bool:
    """Right-align this column? Number kinds always; a text column if every shown cell is a number."""
    if spec.kind in {"value", "count", "p", "published"}:
        return True
    if spec.kind != "text":
        return False
    shown = [str(v).strip() for v in values if not _missing(v) and str(v).strip() != MISSING]
    return bool(shown) and all(_NUMERIC_TEXT.fullmatch(v) for v in shown)


def _head_html(specs: Mapping[str, ColumnSpec], numeric: Mapping[str, bool]) -> str:
    """Header rows: one, or two when any column has a group (spanning cells over equal groups)."""
    def th(spec, num, extra=""):
        css = ' class="qmri-num"' if num else ""
        return f"<th{extra}{css}>{html.escape(spec.label)}</th>"
    items = list(specs.items())
    if not any(s.group for _, s in items):
        return "<tr>" + "".join(th(s, numeric[c]) for c, s in items) + "</tr>"
    top, i = [], 0
    while i < len(items):
        group = items[i][1].group
        if not group:   # a column without group spans both rows
            top.append(th(items[i][1], numeric[items[i][0]], ' rowspan="2"'))
            i += 1
            continue
        j = i
        while j < len(items) and items[j][1].group == group:
            j += 1
        top.append(f'<th colspan="{j - i}" scope="colgroup" class="qmri-group">{html.escape(group)}</th>')
        i = j
    second = "".join(th(s, numeric[c]) for c, s in items if s.group)
    return "<tr>" + "".join(top) + "</tr><tr>" + second + "</tr>"


def table(frame: pd.DataFrame, *, columns: Mapping[str, Union[ColumnSpec, str]] | None = None,
          index: Union[bool, str] = False, index_name: str | None = None, headers: Mapping[str, str] | None = None,
          decimals: Union[int, Mapping[str, int]] = 2,
          p=(), counts=(), flags=(), published=(), as_text: bool = False,
          caption: str | None = None, csv_name: str | None = None, markup: str = "html",
          csv_dir: Path | None = None) -> Table:
    """Format a table by the book's rules, for ``glue``.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        The rows to show, all of them (nothing is truncated); the index is not shown
        (``reset_index()`` first to show it).
    columns : dict of str to ColumnSpec or str, optional
        The columns to show, in order, with their reader-facing headers (symbols and
        units). A plain string is a header; its kind is then inferred from the dtype
        (integers are counts, floats are values with 2 decimals, the rest text).
        Default: every column under its own name. Not combined with the options below.
    index : bool or "named"
        Show the index as leading text columns (levels named by ``index_name`` for the first
        and ``"level i"`` where unnamed); ``"named"``: only if a level has a name. Default
        ``False``: the index is not shown.
    headers : dict of str to str, optional
        Reader-facing headers of some columns (every column is shown; the others under their
        own names).
    decimals : int or dict of str to int
        Decimals of inferred value columns (one for all, or per column; default 2).
    p, counts, flags, published : sequence of str
        Columns shown as p-values, integer counts, yes/no flags, or published numbers as
        printed (:func:`format_published`).
    as_text : bool
        Show every cell as its text (``str``; missing as :data:`MISSING`), for tables whose
        cells are formatted already.
    caption : str, optional
        Caption inside the table (HTML markup only). Numbered tables take their caption
        from the ``{glue:figure}`` directive instead.
    csv_name : str, optional
        Also write the shown columns (raw, full-precision values, readable headers) to
        ``_extra/chapters/_tables/<csv_name>.csv`` and link it under the table; the
        build copies it to ``chapters/_tables/`` so the link works in the book.
    markup : {"html", "myst"}
        ``"html"`` (show with ``{glue:figure}`` or ``{glue:}``) or ``"myst"``, a pipe table
        whose ``ref``/``cite`` columns become live cross-references (show with
        ``{glue:md}`` and ``:format: myst``).
    csv_dir : pathlib.Path, optional
        Folder for the CSV (tests); default :data:`TABLES_DIR`.

    Returns
    -------
    Table
        An object whose ``_repr_html_`` / ``_repr_markdown_`` is the table.
    """
    if markup not in {"html", "myst"}:
        raise ValueError("markup must be 'html' or 'myst'")
    given = frame
    frame, columns = _prepare(frame, columns, index=index, index_name=index_name, headers=headers,
                              decimals=decimals, p=p, counts=counts, flags=flags, published=published,
                              as_text=as_text)
    specs = _normalise(frame, columns)
    download = ""
    if csv_name is not None:
        _write_csv(frame, specs, csv_name, csv_dir if csv_dir is not None else TABLES_DIR)
        href = f"{TABLES_HREF}/{html.escape(csv_name)}.csv"
        download = (f'<p class="qmri-download"><a href="{href}" download>'
                    f"Download this table as CSV ({len(frame):,} rows)</a></p>")
    if markup == "myst":
        numeric = {c: _is_numeric(frame[c], s) for c, s in specs.items()}
        lines = ["| " + " | ".join(s.flat.translate(_MD_SPECIAL) for s in specs.values()) + " |",
                 "|" + "|".join("--:" if numeric[c] else "---" for c in specs) + "|"]
        for _, row in frame.iterrows():
            lines.append("| " + " | ".join(_cell_myst(row[c], s) for c, s in specs.items()) + " |")
        body = "\n".join(lines)
        if download:
            body += "\n\n" + download
        return Table(body, "myst", frame=given, shown=frame, specs=specs)
    numeric = {c: _is_numeric(frame[c], s) for c, s in specs.items()}
    head = _head_html(specs, numeric)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for c, s in specs.items():
            inner, css = _cell_html(row[c], s)
            if numeric[c] and not css:
                css = "qmri-num"
            cells.append(f'<td class="{css}">{inner}</td>' if css else f"<td>{inner}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    body = (f'<div class="qmri-scroll"><table class="qmri-table">{cap}<thead>{head}</thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{download}')
    return Table(body, "html", frame=given, shown=frame, specs=specs)


def _prepare(frame: pd.DataFrame, columns, *, index: bool, index_name, headers, decimals, p, counts, flags,
             published, as_text: bool):
    """The frame to show and its column specs from :func:`table`'s keyword options."""
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame, got {type(frame).__name__}")
    kinds = {"p": p, "counts": counts, "flags": flags, "published": published}
    for what, names in kinds.items():
        if isinstance(names, str):
            raise TypeError(f"{what} must be a list of column names, got the bare string {names!r}")
        unknown = [c for c in names if c not in frame.columns]
        if unknown:
            raise ValueError(f"{what}: columns not in the table: {unknown}")
    if index == "named":
        index = index_name is not None or any(n is not None for n in frame.index.names)
    elif not isinstance(index, bool):
        raise ValueError(f"index must be True, False or 'named', got {index!r}")
    if not (index or as_text or headers or any(kinds.values()) or decimals != 2):
        return frame, columns                      # the plain path: columns as given
    if columns is not None:
        raise ValueError("columns (the columns to show) cannot be combined with index, headers, decimals, "
                         "p, counts, flags, published or as_text; rename with headers instead")
    renames = dict(headers or {})
    missing = [c for c in renames if c not in frame.columns]
    if missing:
        raise KeyError(f"headers: columns not in the table: {missing}")
    frame = frame.copy()
    specs: dict = {}
    if index:
        names = list(frame.index.names)
        if index_name is not None:
            names[0] = index_name
        names = [n if n is not None else f"level {i}" for i, n in enumerate(names)]
        frame.index = frame.index.set_names(names)
        frame = frame.reset_index()
        for c, n in zip(frame.columns[:len(names)], names):    # integer levels as counts, the rest as text
            if as_text:
                frame[c] = [MISSING if _missing(v) else str(v) for v in frame[c]]
            integer = not as_text and pd.api.types.is_integer_dtype(frame[c].dtype)
            specs[c] = ColumnSpec(str(n), kind="count" if integer else "text")
    for c in frame.columns:
        if c in specs:
            continue
        spec = renames.get(c, c if isinstance(c, tuple) else str(c))
        if isinstance(spec, ColumnSpec):
            specs[c] = spec
            continue
        header = _two_level(spec) if isinstance(spec, tuple) else spec
        col = frame[c]
        if as_text:
            frame[c] = [MISSING if _missing(v) else str(v) for v in col]
            specs[c] = ColumnSpec(header, kind="text")
        elif c in p:
            specs[c] = ColumnSpec(header, kind="p")
        elif c in counts:
            specs[c] = ColumnSpec(header, kind="count")
        elif c in flags or pd.api.types.is_bool_dtype(col.dtype):      # bool columns read yes / no
            frame[c] = [_yes_no(v) for v in col]
            specs[c] = ColumnSpec(header, kind="text")
        elif c in published:
            frame[c] = [format_published(v) for v in col]
            specs[c] = ColumnSpec(header, kind="published")
        elif pd.api.types.is_integer_dtype(col.dtype):
            specs[c] = ColumnSpec(header, kind="count")
        elif pd.api.types.is_float_dtype(col.dtype):
            d = decimals.get(c, 2) if isinstance(decimals, Mapping) else decimals
            specs[c] = ColumnSpec(header, kind="value", decimals=d)
        else:
            specs[c] = ColumnSpec(header, kind="text")
    return frame, specs


def grouped_table(frame: pd.DataFrame, *, group_by, columns: Mapping[str, Union[ColumnSpec, str]],
                  csv_name: str | None = None, what: str = "rows", csv_dir: Path | None = None) -> Table:
    """A long table a reader can scan: a short summary, the complete table folded below it.

    Rows that share the values of ``group_by`` (text repeated down whole columns, e.g. the data
    used and the reason for a difference) are grouped: the shared text is stated once, in a
    header row above its group, and the remaining ``columns`` are shown per row. Above the
    folded table a summary gives one line per group with its number of rows. In print
    (``make pdf``) the complete table moves to an appendix, linked from here.

    Parameters
    ----------
    frame : pandas.DataFrame, shape (n_rows, n_columns)
        All rows, in the order to show them (groups keep their first-appearance order).
    group_by : sequence of str
        Columns whose shared values define a group, in the order they are stated.
    columns : dict of str to ColumnSpec or str
        The per-row columns with their headers (as for :func:`table`).
    csv_name : str, optional
        Also write every column (``group_by`` and ``columns``) to a CSV, linked under the table.
    what : str
        What a row is, for the summary ("numbers", "items").

    Returns
    -------
    Table
    """
    group_by = list(group_by)
    for name in group_by:
        if name not in frame.columns:
            raise KeyError(f"group_by column {name!r} is not in the table; it has {list(frame.columns)}")
    specs = _normalise(frame, columns)
    numeric = {c: _is_numeric(frame[c], s) for c, s in specs.items()}
    keys = frame[group_by].astype(str).agg("\u0000".join, axis=1)
    order = list(dict.fromkeys(keys))
    n_cols = len(specs)
    summary_rows, bodies = [], []
    for i, key in enumerate(order):
        rows = frame[keys == key]
        shared = [str(v) for v in rows.iloc[0][group_by]]
        label = f"<strong>{html.escape(_breakable(shared[0]))}</strong>"
        rest = "".join(f"<br><span class=\"qmri-group-note\"><em>{html.escape(str(name))}:</em> "
                       f"{html.escape(_breakable(v))}</span>" for name, v in zip(group_by[1:], shared[1:]))
        summary_rows.append(f"<tr><td>{label}{rest}</td><td class=\"qmri-num\">{len(rows):,}</td></tr>")
        body = [f'<tr class="qmri-group-row"><th colspan="{n_cols}" scope="rowgroup">{label}{rest}</th></tr>']
        for _, row in rows.iterrows():
            cells = []
            for c, spec in specs.items():
                inner, css = _cell_html(row[c], spec)
                css = css or ("qmri-num" if numeric[c] else "")
                cells.append(f'<td class="{css}">{inner}</td>' if css else f"<td>{inner}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        bodies.append("<tbody>" + "".join(body) + "</tbody>")
    summary = ('<div class="qmri-scroll"><table class="qmri-table qmri-summary"><thead><tr>'
               f'<th>group (shared by its {html.escape(what)})</th><th class="qmri-num">{html.escape(what)}</th>'
               f'</tr></thead><tbody>{"".join(summary_rows)}</tbody></table></div>')
    full = (f'<details class="qmri-fold"><summary>The complete table: {len(frame):,} {html.escape(what)} '
            f"in {len(order)} groups</summary>"
            f'<div class="qmri-scroll qmri-scroll-y"><table class="qmri-table qmri-grouped"><thead>'
            f"{_head_html(specs, numeric)}</thead>{''.join(bodies)}</table></div></details>")
    download = ""
    if csv_name is not None:
        all_specs = {**{g: ColumnSpec(g) for g in group_by if g not in specs}, **specs}
        _write_csv(frame, all_specs, csv_name, csv_dir if csv_dir is not None else TABLES_DIR)
        download = (f'<p class="qmri-download"><a href="{TABLES_HREF}/{html.escape(csv_name)}.csv" download>'
                    f"Download this table as CSV ({len(frame):,} rows)</a></p>")
    return Table(f'<div class="qmri-grouped-table">{summary}{full}{download}</div>', "html", frame=frame)


# ---------------------------------------------------------------- figures
def _visible_texts(artist) -> list:
    """The visible ``Text`` artists of ``artist``'s tree (itself included), as ``findobj(Text)``
    finds them but without descending into hidden artists (nothing under them is drawn; an
    axis's children are its ticks, which ``findobj`` would compute again)."""
    from matplotlib.text import Text

    out, todo = [], [artist]
    while todo:
        a = todo.pop()
        if not a.get_visible():
            continue
        if isinstance(a, Text):
            out.append(a)
        todo.extend(a.get_children())
    return out


def _hide_unused_axis_artists(fig) -> None:
    """Hide the x and y axis artists of every axes drawn without its axis (``set_axis_off``).

    Nothing of them is drawn, but matplotlib still computes their ticks and tick labels each
    time it places a title or lays out the figure; hidden, they are skipped. The picture is the
    same (``tests/book/test_display_draw_once.py``).
    """
    todo = [fig]
    while todo:
        f = todo.pop()
        todo.extend(getattr(f, "subfigs", ()))
        for ax in f.axes:
            if not ax.axison:
                ax.xaxis.set_visible(False)
                ax.yaxis.set_visible(False)


def _min_font_pt(fig) -> float:
    """Smallest visible font (points) of a figure that has been drawn (tick labels get their
    text only when drawn, so call it after ``savefig``; it draws nothing itself)."""
    sizes = [t.get_fontsize() for t in _visible_texts(fig) if t.get_text().strip() and t.get_figure() is not None]
    return float(min(sizes)) if sizes else float("nan")


#: Boxes overlapping by at most this fraction of the smaller one (in x or y) only touch.
_TOUCH = 0.2


def _union(a, b):
    return [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _figure_tightbbox(fig, renderer, axes_boxes: dict):
    """``fig.get_tightbbox(renderer)`` (inches) with the tight boxes of the axes in ``axes_boxes``
    (``{axes: box}``, measured with the same renderer) taken as given instead of measured again:
    matplotlib's own union of them and of the figure's other artists, the same box bit for bit."""
    import contextlib

    with contextlib.ExitStack() as stack:
        for ax, box in axes_boxes.items():
            ax.get_tightbbox = lambda *args, _box=box, **kwargs: _box     # an instance attribute,
            stack.callback(delattr, ax, "get_tightbbox")                  # removed on the way out
        return fig.get_tightbbox(renderer)


def panel_boxes(fig, png_size, *, pad_inches: float | None = None, _measured=None) -> list[list[float]]:
    """The panels of a drawn figure, in reading order, as boxes of its tight PNG.

    A panel is an axes with everything drawn for it (tick labels, title, legend, its
    colorbars); figure-level text (a suptitle, a figure legend) is a panel of its own unless
    it lies mostly inside a panel. Boxes that overlap a lot (an inset) are merged; boxes that
    only touch (neighbours' tick labels) are split in the middle of their overlap.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure already drawn by ``savefig(..., bbox_inches="tight")``.
    png_size : tuple of int
        (width, height) in pixels of that PNG.
    pad_inches : float, optional
        The padding ``savefig`` added (default ``rcParams["savefig.pad_inches"]``).
    _measured : tuple, optional
        ``(renderer, axes, axes_boxes)`` of the drawing itself (:func:`_render_tight`, called
        while the figure is at the PNG's dpi): the boxes it measured for the crop, reused
        instead of measured again on the figure's own renderer.

    Returns
    -------
    list of [x0, y0, x1, y1, min_font_pt, label]
        Pixel boxes (origin top left), row by row and left to right, with the smallest
        font (points) drawn in each (None: no text) and the row/column labels the panel
        shares with its grid but does not draw itself (None: none; see
        :func:`_shared_labels`); one box for a single-panel figure.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig, axes = plt.subplots(1, 3, figsize=(7.5, 2.2))
    >>> len(Figure(fig).panels)
    3
    """
    import matplotlib
    from matplotlib.transforms import Bbox

    to_in = fig.dpi_scale_trans.inverted()
    pad = matplotlib.rcParams["savefig.pad_inches"] if pad_inches is None else pad_inches
    if _measured is not None:
        renderer, axes, axes_boxes = _measured
    else:
        renderer = fig._get_renderer()       # (a bare Figure() has no canvas renderer)
        axes = [a for a in fig.axes if a.get_visible()]
        # Each axes' tight box is measured once (the costly part: ticks, labels, titles) and
        # serves both the page (the figure's tight box, matplotlib's own union) and the panels.
        axes_boxes = [a.get_tightbbox(renderer) for a in axes]
    page = _figure_tightbbox(fig, renderer, dict(zip(axes, axes_boxes))).padded(pad)
    sx, sy = png_size[0] / page.width, png_size[1] / page.height

    def box(extent):
        b = extent.transformed(to_in)
        return [(b.x0 - page.x0) * sx, (page.y1 - b.y1) * sy, (b.x1 - page.x0) * sx, (page.y1 - b.y0) * sy]

    def smallest(artists):
        sizes = [t.get_fontsize() for a in artists for t in _visible_texts(a) if t.get_text().strip()]
        return min(sizes) if sizes else None

    def drawn(a, extent):
        """The tight box with the axes' visible spines' full stroke (a tight box ends at the
        spine's centre line, so a crop cut there loses half of it)."""
        widths = [s.get_linewidth() for s in a.spines.values() if s.get_visible()]
        if extent is None or not widths or not a.axison:
            return extent
        return Bbox.union([extent, a.bbox.padded(renderer.points_to_pixels(max(widths)) / 2)])

    extent_of = {a: drawn(a, e) for a, e in zip(axes, axes_boxes)}
    owner = {}
    for a in axes:           # a colorbar goes with the axes of its image
        bar = getattr(a, "_colorbar", None)
        mappable_axes = getattr(getattr(bar, "mappable", None), "axes", None)
        if bar is not None and mappable_axes in axes and mappable_axes is not a:
            owner[a] = mappable_axes
    groups: dict = {}
    for a in axes:
        groups.setdefault(owner.get(a, a), []).append(a)
    panels = []
    for key, members in groups.items():
        extents = [extent_of[m] for m in members]
        extents = [e for e in extents if e is not None and e.width > 0 and e.height > 0]
        if extents:
            b = box(extents[0])
            for e in extents[1:]:
                b = _union(b, box(e))
            panels.append(b + [smallest(members), _shared_labels(key, list(groups))])
    loose = [t for t in fig.texts if t.get_visible() and t.get_text().strip()] + list(fig.legends)
    if getattr(fig, "_suptitle", None) is not None and fig._suptitle.get_text().strip():
        loose.append(fig._suptitle)
    for artist in loose:
        e = artist.get_window_extent(renderer)
        if e.width > 0 and e.height > 0:
            panels.append(box(e) + [smallest([artist]), None])
    # Boxes that overlap a lot (an inset, a label inside another panel) become one panel;
    # boxes that only touch (tick labels of neighbours, a suptitle over a title) are split
    # at the middle of their overlap, so no crop shows a sliver of its neighbour.
    changed = True
    while changed:
        changed = False
        for i in range(len(panels)):
            for j in range(i + 1, len(panels)):
                a, b = panels[i], panels[j]
                if not _overlap(a, b):
                    continue
                ox = min(a[2], b[2]) - max(a[0], b[0])
                oy = min(a[3], b[3]) - max(a[1], b[1])
                fx = ox / max(1e-9, min(a[2] - a[0], b[2] - b[0]))
                fy = oy / max(1e-9, min(a[3] - a[1], b[3] - b[1]))
                if min(fx, fy) > _TOUCH:
                    fonts = [f for f in (a[4], b[4]) if f is not None]
                    panels[i] = _union(a, b) + [min(fonts) if fonts else None, a[5] or b[5]]
                    del panels[j]
                else:
                    axis = 0 if fx <= fy else 1
                    first, second = (a, b) if a[axis] <= b[axis] else (b, a)
                    middle = (max(a[axis], b[axis]) + min(a[axis + 2], b[axis + 2])) / 2
                    first[axis + 2] = middle
                    second[axis] = middle
                changed = True
                break
            if changed:
                break
    rows: list[list] = []     # reading order: rows top to bottom, panels left to right
    for p in sorted(panels, key=lambda p: p[1]):
        centre = (p[1] + p[3]) / 2
        for row in rows:
            if row[0][1] <= centre <= row[0][3]:
                row.append(p)
                break
        else:
            rows.append([p])
    ordered = [p for row in rows for p in sorted(row, key=lambda p: p[0])]
    w, h = png_size
    return [[max(0, math.floor(p[0])), max(0, math.floor(p[1])), min(w, math.ceil(p[2])),
             min(h, math.ceil(p[3])), None if p[4] is None else round(float(p[4]), 2), p[5]] for p in ordered]


def _shared_labels(ax, all_axes) -> str | None:
    """The row and column labels a grid panel shows only once (on its row's first panel, its
    column's top panel), for the panel's own caption when panels are shown one by one.

    Returns "row label · column title" from the other axes of the same subplot grid when this
    axes has no row label (a y label, or a text left of the axes) or no title (column) of its
    own, or None when it needs neither.
    """
    spec = ax.get_subplotspec() if hasattr(ax, "get_subplotspec") else None
    if spec is None:
        return None
    grid = spec.get_gridspec()
    rows, cols = spec.rowspan, spec.colspan
    def row_label(a) -> str:
        """Its y label, or a text it places left of itself (axes coordinates x < 0)."""
        if a.get_ylabel().strip():
            return a.get_ylabel().strip()
        for t in a.texts:
            if t.get_visible() and t.get_transform() == a.transAxes and t.get_position()[0] < 0:
                return t.get_text().strip()
        return ""

    parts = []
    if not row_label(ax):
        for other in all_axes:
            o = other.get_subplotspec() if hasattr(other, "get_subplotspec") else None
            if (o is not None and other is not ax and o.get_gridspec() is grid and o.rowspan == rows
                    and row_label(other)):
                parts.append(row_label(other))
                break
    if not ax.get_title().strip():
        for other in all_axes:
            o = other.get_subplotspec() if hasattr(other, "get_subplotspec") else None
            if (o is not None and other is not ax and o.get_gridspec() is grid and o.colspan == cols
                    and other.get_title().strip()):
                parts.append(other.get_title().strip())
                break
    return " · ".join(parts) or None


class Figure:
    """A matplotlib figure rendered once as a high-dpi PNG, for ``glue``.

    The PNG is shown at ``1/scale`` of its pixel size (``width`` output metadata), and
    records its smallest font (``qmri:min_font_pt``) and dpi in PNG text chunks so the
    browser check can compute the displayed text size. The figure is drawn once
    (:func:`_render_tight`: laid out, measured, painted once and cut to its tight bounding
    box; ``savefig``'s tight box would lay out and traverse every artist a second time, the
    costly part of 3D surfaces); its fonts are read from the drawn artists, and it is closed.

    ``encode=False`` keeps the drawn pixels and encodes the PNG when :attr:`png` is first read
    (:func:`figures` encodes several figures' PNGs side by side that way).
    """

    def __init__(self, fig, *, dpi: int = 200, scale: float = 2.0, min_font_pt: float | None = None,
                 encode: bool = True):
        import matplotlib.pyplot as plt

        _hide_unused_axis_artists(fig)
        metadata = {"qmri:dpi": str(dpi)}
        panels = []          # filled by _render_tight from the boxes it measured for the crop
        image = _render_tight(fig, dpi=dpi, panels=panels)
        self._png = None
        if image is None:                    # a transparent save or a non-Agg canvas: savefig's own
            buffer = io.BytesIO()
            fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata=metadata)
            self._png = buffer.getvalue()
            width_px = int.from_bytes(self._png[16:20], "big")
            height_px = int.from_bytes(self._png[20:24], "big")
            from matplotlib import cbook

            with cbook._setattr_cm(fig, dpi=dpi):      # measure the panels at the PNG's dpi too
                panels = panel_boxes(fig, (width_px, height_px))
        else:
            height_px, width_px = image.shape[:2]
        self.min_font_pt = _min_font_pt(fig)
        self.panels = panels
        plt.close(fig)
        if min_font_pt is not None and self.min_font_pt < min_font_pt:
            raise ValueError(f"figure text of {self.min_font_pt:g} pt is below {min_font_pt:g} pt")
        self._image, self._dpi, self._metadata = image, dpi, metadata
        self.width = round(width_px / scale)
        self.height = round(height_px / scale)
        if self._png is not None:
            self._png = self._with_chunks(self._png)
        elif encode:
            self.encode()

    def _with_chunks(self, png: bytes) -> bytes:
        if len(self.panels) > 1:     # the phone edition shows them one under another
            png = _png_with_text(png, "qmri:panels", json.dumps(self.panels, separators=(",", ":")))
        return _png_with_text(png, "qmri:min_font_pt", f"{self.min_font_pt:g}")

    def encode(self) -> bytes:
        """The PNG (encoded now if it was not yet; the pixels are then dropped)."""
        if self._png is None:
            self._png = self._with_chunks(_encode_png(self._image, dpi=self._dpi, metadata=self._metadata))
            self._image = None
        return self._png

    @property
    def png(self) -> bytes:
        """The PNG's bytes, with the ``qmri:`` text chunks."""
        return self.encode()

    def _repr_png_(self):
        return self.png, {"width": self.width, "height": self.height}


def _render_tight(fig, *, dpi: int, panels: list | None = None):
    """The pixels of ``fig.savefig(..., dpi=dpi, bbox_inches="tight")``, drawn once.

    The figure is laid out (its layout engine), its tight bounding box measured, and then
    painted once on its Agg canvas at ``dpi`` (``savefig.facecolor``/``edgecolor`` applied as
    ``savefig`` does): cut to the tight box padded by ``savefig.pad_inches``, the same size
    (pixels) and content as ``savefig``'s, up to a sub-pixel shift of the drawing (tested); the
    padding outside the canvas is filled with the figure's face colour. When drawn content lies
    outside the canvas, the figure is painted instead as ``savefig`` paints it with that box
    (enlarged to show it), still once: the box is known before anything is painted. ``savefig``
    lays the figure out and traverses every artist once more, without painting, only to find
    that box.

    The axes' tight boxes measured for the crop (the costly part of a tight box: ticks,
    labels, titles) also give the panels (:func:`panel_boxes`, on the same renderer at the
    PNG's dpi): when ``panels`` is a list they are put in it.

    Returns
    -------
    ndarray of uint8, shape (height, width, 4), or None
        The RGBA pixels of the PNG; or None, having drawn nothing, when this cannot give
        ``savefig``'s picture (a transparent save or a non-Agg canvas).
    """
    import contextlib

    import matplotlib
    import numpy as np
    from matplotlib import cbook, colors
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    rc = matplotlib.rcParams
    if rc["savefig.transparent"] or not isinstance(fig.canvas, FigureCanvasAgg):
        return None
    canvas = fig.canvas
    pad = rc["savefig.pad_inches"]
    with (cbook._setattr_cm(canvas, manager=None), cbook._setattr_cm(fig, dpi=dpi),
          cbook._setattr_cm(canvas, _device_pixel_ratio=1), cbook._setattr_cm(canvas, _is_saving=True),
          contextlib.ExitStack() as stack):
        for prop in ("facecolor", "edgecolor"):
            color = rc[f"savefig.{prop}"]
            if not cbook._str_equal(color, "auto"):
                stack.enter_context(fig._cm_set(**{prop: color}))
        renderer = canvas.get_renderer()
        engine = fig.get_layout_engine()
        if fig.axes and engine is not None:       # what Figure.draw does first
            try:
                engine.execute(fig)
            except ValueError:
                pass
        axes = [a for a in fig.axes if a.get_visible()]
        boxes = [a.get_tightbbox(renderer) for a in axes]
        tight = _figure_tightbbox(fig, renderer, dict(zip(axes, boxes)))   # inches; fig.get_tightbbox
        fig_w, fig_h = fig.get_size_inches()
        eps = 0.5 / dpi                                   # half a pixel
        page = tight.padded(pad)
        out_w, out_h = int(page.width * dpi), int(page.height * dpi)        # savefig's renderer size
        if panels is not None:
            panels[:] = panel_boxes(fig, (out_w, out_h), pad_inches=pad, _measured=(renderer, axes, boxes))
        stack.enter_context(cbook._setattr_cm(fig, _layout_engine=None))    # laid out above
        if tight.x0 < -eps or tight.y0 < -eps or tight.x1 > fig_w + eps or tight.y1 > fig_h + eps:
            # content beyond the canvas: savefig's enlarged picture, painted with the box above
            buffer = io.BytesIO()
            fig.savefig(buffer, format="rgba", dpi=dpi, bbox_inches=page)
            return np.frombuffer(buffer.getbuffer(), np.uint8).reshape(out_h, out_w, 4)
        canvas.draw()
        image = np.asarray(canvas.buffer_rgba())
        background = np.round(np.asarray(colors.to_rgba(fig.get_facecolor())) * 255).astype(np.uint8)
    height, width = image.shape[:2]
    left, top = round(page.x0 * dpi), round(height - page.y1 * dpi)
    out = np.empty((out_h, out_w, 4), dtype=np.uint8)
    out[...] = background
    r0, c0 = max(top, 0), max(left, 0)
    r1, c1 = min(top + out_h, height), min(left + out_w, width)
    out[r0 - top:r1 - top, c0 - left:c1 - left] = image[r0:r1, c0:c1]
    return out


def _encode_png(image, *, dpi: int, metadata: dict) -> bytes:
    """The PNG of RGBA pixels as ``savefig`` writes it (``matplotlib.image.imsave``: Pillow, with
    matplotlib's ``Software`` chunk and ``metadata``). Pillow releases the GIL while it filters and
    compresses, so figures' PNGs encode side by side on threads (:func:`figures`)."""
    import matplotlib.image

    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, image, format="png", origin="upper", dpi=dpi, metadata=metadata)
    return buffer.getvalue()


def _png_with_text(png: bytes, key: str, value: str) -> bytes:
    """``png`` with one more tEXt chunk (``key``, ``value``) right after its header chunk."""
    import struct
    import zlib

    data = key.encode("latin-1") + b"\0" + value.encode("latin-1")
    chunk = struct.pack(">I", len(data)) + b"tEXt" + data + struct.pack(">I", zlib.crc32(b"tEXt" + data))
    end_of_header = 8 + 8 + 13 + 4       # signature, IHDR length and type, IHDR data, CRC
    return png[:end_of_header] + chunk + png[end_of_header:]


def figure(fig, *, dpi: int = 200, min_font_pt: float = 7.0) -> Figure:
    """Render a matplotlib figure for ``glue`` as a high-dpi PNG (drawn once, then closed).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Size it for the column it appears in: about 7.5 in wide for the text column
        (780 px at 1,400 px window width); text then stays at least 9 px tall if its
        smallest font is at least ``min_font_pt``.
    dpi : int
        Resolution of the PNG (shown at half size, so sharp on high-density screens).
    min_font_pt : float
        Smallest font allowed in the figure (points); raises ``ValueError`` if a
        visible text is smaller.

    Returns
    -------
    Figure
        Show it with ``{glue:figure}`` **and an** ``:alt:`` option that says what the
        figure shows (the alt text cannot travel with the PNG).
    """
    return Figure(fig, dpi=dpi, min_font_pt=min_font_pt)


def figures(figs, *, dpi: int = 200, min_font_pt: float = 7.0, workers=None) -> list[Figure]:
    """:func:`figure` of each of ``figs``, in order: drawn one after another, their PNGs then
    encoded side by side on ``workers`` threads (Pillow's compression releases the GIL; the bytes
    are those of :func:`figure`, whatever the number of threads).

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> [f.width for f in figures([plt.figure(figsize=(2, 1)), plt.figure(figsize=(3, 1))], dpi=100)]
    [110, 160]
    """
    from qmrigenes._threads import thread_map

    out = [Figure(f, dpi=dpi, min_font_pt=min_font_pt, encode=False) for f in figs]
    thread_map(Figure.encode, out, workers=workers)
    return out
