"""Every folder and file the book's study code reaches, from one root (never the working directory).

The book's data cache is ``<repository>/data/cache``. :func:`use_book_data` makes the library
read it when ``$QMRIGENES_DATA`` is unset, so the book (``make book``), ``make lab`` and a plain
Jupyter started anywhere in the repository all use the same files; the library's own default
(``~/qmrigenes-data``) is unchanged. Importing :mod:`qmribook` calls it.
"""
from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ROOT", "CHAPTERS", "BOOK_DATA", "DATA_CACHE", "BIBLIOGRAPHY", "TABLES_DIR", "PACKAGE_DATA",
           "use_book_data", "authored_tables"]

#: The repository (the book's root folder).
ROOT = Path(__file__).resolve().parents[2]
#: The chapters' MyST notebooks.
CHAPTERS = ROOT / "chapters"
#: The book's own data (published numbers, reproduction status) and its download cache.
BOOK_DATA = ROOT / "data"
#: The download cache the Makefile uses (``QMRIGENES_DATA``).
DATA_CACHE = BOOK_DATA / "cache"
#: The book's BibTeX file.
BIBLIOGRAPHY = ROOT / "references.bib"
#: CSV downloads of tables; html_extra_path (``_extra``) copies them next to the chapter pages.
TABLES_DIR = ROOT / "_extra" / "chapters" / "_tables"


def use_book_data() -> str | None:
    """Point ``$QMRIGENES_DATA`` at :data:`DATA_CACHE` if it is unset and that folder exists.

    Returns the folder the library will use (``None``: the library's default).
    """
    if not os.environ.get("QMRIGENES_DATA") and DATA_CACHE.is_dir():
        os.environ["QMRIGENES_DATA"] = str(DATA_CACHE)
    return os.environ.get("QMRIGENES_DATA")


#: Tables the library ships (registry, crosswalks, literature values).
PACKAGE_DATA = ROOT / "src" / "qmrigenes" / "data"


def authored_tables() -> list[str]:
    """Every table we author and commit, as paths relative to the repository (sorted): the book's
    ``data/`` (published numbers, reproduction status; not the download cache) and the library's
    ``src/qmrigenes/data/`` (crosswalks, literature values; the registry itself is left out)."""
    found = [p for folder in (BOOK_DATA, PACKAGE_DATA) if folder.is_dir() for p in folder.rglob("*.csv")
             if "cache" not in p.relative_to(folder).parts and p.name != "registry.csv"]
    return sorted(p.relative_to(ROOT).as_posix() for p in found)
