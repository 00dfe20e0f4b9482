"""Page helpers for the book: authored book tables (published numbers, reproduction status),
build information, and table formatting."""
from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

import pandas as pd

#: The book's own ``data/`` folder (published numbers, reproduction status, download cache).
from .paths import BOOK_DATA

__all__ = ["BOOK_DATA", "load_published", "reproduction_status", "package_versions", "front_matter"]

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
