"""Page helpers for the book: authored book tables (published numbers, reproduction status),
build information, and table formatting."""
from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

import pandas as pd

from collections.abc import Sequence

import numpy as np

#: The book's own ``data/`` folder (published numbers, reproduction status, download cache).
from .paths import BOOK_DATA

__all__ = ["BOOK_DATA", "load_published", "reproduction_status", "package_versions", "markdown_table", "table_styler",
           "front_matter"]

_STATUS_COLUMNS = ["item", "description", "status", "data", "where"]
_STATUSES = {"reproduced", "partially reproduced", "not reproduced"}
_CHAPTERS = {"ch1": "1 (MPM poster)", "ch2": "2 (Cohen et al. 2024)", "ch3": "3 (Tranfa et al. 2022)"}


def front_matter(cff=None) -> dict:
    """Title-page facts of the book from ``CITATION.cff`` (authors, version, licence, citation).

    Parameters
    ----------
    cff : path, optional
        The citation file (default: ``CITATION.cff`` at the repository root).

    Returns
    -------
    dict
        ``authors`` (str), ``version``, ``license``, ``repository``, ``title``, ``year`` and
        ``citation`` (one line: authors (year). title. Version v. repository).
    """
    import yaml

    path = Path(cff) if cff is not None else BOOK_DATA.parent / "CITATION.cff"
    meta = yaml.safe_load(path.read_text(encoding="utf-8"))
    for field in ("title", "authors", "version", "license", "date-released"):
        if field not in meta:
            raise ValueError(f"{path.name} has no {field!r}")
    names = [a.get("name") or " ".join(p for p in (a.get("given-names"), a.get("family-names")) if p)
             for a in meta["authors"]]
    authors = ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]
    year = str(meta["date-released"])[:4]
    repo = meta.get("repository-code", "")
    return {"authors": authors, "version": str(meta["version"]), "license": meta["license"],
            "repository": repo, "title": meta["title"], "year": year,
            "citation": f"{authors} ({year}). {meta['title']}. Version {meta['version']}."
                        + (f" {repo}" if repo else "")}


def reproduction_status(folder=None) -> pd.DataFrame:
    """Collect the per-chapter reproduction status tables (``data/status/ch*.csv``).

    Each chapter keeps one row per figure and table of its source paper with
    columns ``item``, ``description``, ``status`` (reproduced, partially
    reproduced or not reproduced), ``data`` (real / simulated / literature and
    which) and ``where`` (our label, or why not).

    Returns
    -------
    pandas.DataFrame
        The rows of all chapters, with a leading ``chapter`` column.
    """
    folder = Path(folder) if folder is not None else BOOK_DATA / "status"
    frames = []
    for path in sorted(folder.glob("ch*.csv")):
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        missing = set(_STATUS_COLUMNS) - set(table.columns)
        if missing:
            raise ValueError(f"{path.name} lacks columns {sorted(missing)}")
        bad = set(table["status"]) - _STATUSES
        if bad:
            raise ValueError(f"{path.name}: unknown status {sorted(bad)}; use one of {sorted(_STATUSES)}")
        frames.append(table[_STATUS_COLUMNS].assign(chapter=_CHAPTERS.get(path.stem, path.stem)))
    if not frames:
        return pd.DataFrame(columns=["chapter"] + _STATUS_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out[["chapter"] + _STATUS_COLUMNS]


def package_versions(packages=("qmrigenes", "numpy", "scipy", "pandas", "statsmodels", "scikit-learn",
                               "scikit-image", "nibabel", "nilearn", "neuromaps", "matplotlib", "seaborn",
                               "jupyter-book", "myst-nb", "sphinx", "sphinxcontrib-bibtex")) -> pd.DataFrame:
    """Installed versions of the packages the book depends on, plus Python and the platform."""
    rows = [("python", platform.python_version()), ("platform", platform.platform())]
    for name in packages:
        try:
            rows.append((name, importlib.metadata.version(name)))
        except importlib.metadata.PackageNotFoundError:
            rows.append((name, "not installed"))
    return pd.DataFrame(rows, columns=["package", "version"]).set_index("package")


_LABEL = re.compile(r"\b((?:fig|tab)-ch\d-[A-Za-z0-9-]+)")


def markdown_table(table: pd.DataFrame, *, cite_columns=(), ref_columns=()) -> str:
    """Render a table as MyST markdown, with citations and cross-references live.

    Parameters
    ----------
    table : pandas.DataFrame
        Rows to render (the index is not shown).
    cite_columns : sequence of str, optional
        Columns holding BibTeX keys separated by ``,`` or ``;``; rendered as
        ``{cite:p}`` roles, so a missing key fails the build.
    ref_columns : sequence of str, optional
        Columns whose figure/table labels (``fig-chN-...``, ``tab-chN-...``)
        become ``{numref}`` roles, so a stale label fails the build.

    Returns
    -------
    str
        A pipe table, to be shown with ``glue`` and ``{glue:md}`` (format myst).
    """
    def cell(column, value):
        text = str(value).replace("|", "\\|").replace("\n", " ")
        if column in cite_columns and text.strip():
            keys = [k.strip() for k in re.split(r"[;,]", text) if k.strip()]
            return "{cite:p}`" + ",".join(keys) + "`"
        if column in ref_columns:
            return _LABEL.sub(lambda m: "{numref}`" + m.group(1) + "`", text)
        return text

    lines = ["| " + " | ".join(map(str, table.columns)) + " |",
             "|" + "---|" * len(table.columns)]
    for _, row in table.iterrows():
        lines.append("| " + " | ".join(cell(c, row[c]) for c in table.columns) + " |")
    return "\n".join(lines)


def _general_number(value, *, na_rep: str = "–") -> str:
    """A number in a readable form: integers whole, tiny values in e-notation, else 3 significant digits."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return na_rep
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if not isinstance(value, (int, float, np.integer, np.floating)):
        return str(value)
    value = float(value)
    if value.is_integer() and abs(value) < 1e6:
        return f"{value:,.0f}"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.2e}"
    return f"{value:.3g}"


def table_styler(table: pd.DataFrame, *, decimals: int = 2, general: Sequence[str] = (),
                 na_rep: str = "–"):
    """Format a table for display (glue it; the chapter shows it as a numbered table).

    Parameters
    ----------
    table : pandas.DataFrame
        Any shape; the index is shown as is.
    decimals : int, optional
        Decimal places of float columns not listed in ``general`` and of float index levels.
    general : sequence of str, optional
        Columns shown by magnitude (p-values, mixed counts and values): whole numbers
        without decimals, values below 1e-3 in e-notation, others with 3 significant
        digits. Object columns holding numbers are always shown this way.
    na_rep : str, optional
        Text for missing values.

    Returns
    -------
    pandas.io.formats.style.Styler
        The table with per-column formatters; the data are not changed.
    """
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    missing = [c for c in general if c not in table.columns]
    if missing:
        raise ValueError(f"general columns not in the table: {missing}")
    formats = {}
    for column in table.columns:
        dtype = table[column].dtype
        if column in general or dtype == object:
            formats[column] = lambda v: _general_number(v, na_rep=na_rep)
        elif pd.api.types.is_bool_dtype(dtype):
            formats[column] = lambda v: na_rep if v is pd.NA else ("yes" if v else "no")
        elif pd.api.types.is_float_dtype(dtype):
            formats[column] = lambda v, d=decimals: na_rep if pd.isna(v) else f"{v:.{d}f}"
    styler = table.style.format(formats, na_rep=na_rep)
    for level in range(table.index.nlevels):
        if pd.api.types.is_float_dtype(table.index.get_level_values(level).dtype):
            styler = styler.format_index(lambda v, d=decimals: f"{v:.{d}f}", axis=0, level=level)
    return styler


def load_published(chapter: str, name: str, *, as_text: bool = False) -> pd.DataFrame:
    """A committed table of a source paper's numbers, ``data/published/<chapter>_<name>.csv``.

    Parameters
    ----------
    chapter : str
        ``"ch1"``, ``"ch2"`` or ``"ch3"``.
    name : str
        Table name, e.g. ``"table1"`` or ``"headline"``.
    as_text : bool
        Read every cell as the text committed (no number parsing, empty cells as ``""``), so
        published values keep their printed precision.

    Returns
    -------
    pandas.DataFrame
        The table as committed; every row carries its citation and location in the source.

    Raises
    ------
    FileNotFoundError
        No such table; the message lists the chapter's tables.
    """
    folder = BOOK_DATA / "published"
    path = folder / f"{chapter}_{name}.csv"
    if not path.is_file():
        known = sorted(p.stem.removeprefix(f"{chapter}_") for p in folder.glob(f"{chapter}_*.csv"))
        raise FileNotFoundError(f"no published table {name!r} for {chapter} (looked for {path}); "
                                f"available: {known}")
    return pd.read_csv(path, dtype=str, keep_default_na=False) if as_text else pd.read_csv(path)
