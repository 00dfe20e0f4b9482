"""Helpers for the book's reference pages: reproduction status and build information."""
from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

import pandas as pd

from .fetch import DATA_DIR

__all__ = ["reproduction_status", "package_versions", "markdown_table"]

_STATUS_COLUMNS = ["item", "description", "status", "data", "where"]
_STATUSES = {"reproduced", "partially reproduced", "not reproduced"}
_CHAPTERS = {"ch1": "1 (MPM poster)", "ch2": "2 (Cohen et al. 2024)", "ch3": "3 (Tranfa et al. 2022)"}


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
    folder = Path(folder) if folder is not None else DATA_DIR / "status"
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
