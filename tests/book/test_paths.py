"""qmribook.paths: one root for the book's folders, and one data location for book, Lab and Jupyter."""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "chapters") not in sys.path:
    sys.path.insert(0, str(ROOT / "chapters"))

from qmribook import paths  # noqa: E402


def test_authored_tables_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tables = paths.authored_tables()
    assert tables == sorted(tables)
    assert any(t.startswith("data/published/") for t in tables)
    assert any(t.startswith("src/qmrigenes/data/literature/") for t in tables)   # the package's tables too
    assert not any("cache" in t or t.endswith("registry.csv") for t in tables)
    assert all((paths.ROOT / t).is_file() for t in tables)


def test_use_book_data_only_when_unset(monkeypatch, tmp_path):
    monkeypatch.delenv("QMRIGENES_DATA", raising=False)
    monkeypatch.setattr(paths, "DATA_CACHE", tmp_path)
    assert paths.use_book_data() == str(tmp_path) and os.environ["QMRIGENES_DATA"] == str(tmp_path)
    monkeypatch.setenv("QMRIGENES_DATA", "/elsewhere")
    assert paths.use_book_data() == "/elsewhere"                 # an explicit choice wins
    monkeypatch.delenv("QMRIGENES_DATA")
    monkeypatch.setattr(paths, "DATA_CACHE", tmp_path / "missing")
    assert paths.use_book_data() is None                         # no folder: the library's default
