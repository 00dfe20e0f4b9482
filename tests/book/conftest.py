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



def load_ci_script(name: str):
    """Import a script of the CI folder (``.ci/<name>.py``) as a module, for its tests."""
    import importlib.util
    import sys
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / ".ci" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module        # importable by name: worker processes unpickle its functions
    spec.loader.exec_module(module)
    return module
