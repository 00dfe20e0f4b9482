"""Book tests: CSV tables written by qmribook.display.table go to a temporary folder.

display.table(csv_name=...) writes into the book's ``_extra/chapters/_tables`` by default,
which html_extra_path copies into every published edition; a test's table (``t.csv``) must
never land there.
"""
import pytest


@pytest.fixture(autouse=True)
def _tables_in_tmp(tmp_path, monkeypatch):
    from qmribook import display

    monkeypatch.setattr(display, "TABLES_DIR", tmp_path / "_tables")

