"""Book tests: CSV tables written by qmribook.display.table go to a temporary folder.

display.table(csv_name=...) writes into the book's ``_extra/chapters/_tables`` by default,
which html_extra_path copies into every published edition; a test's table (``t.csv``) must
never land there.
"""
import pytest


@pytest.fixture(scope="session")
def _tables_root(tmp_path_factory):
    return tmp_path_factory.mktemp("tables")


@pytest.fixture(autouse=True)
def _tables_in_tmp(_tables_root, request, monkeypatch):
    """A folder of this test's own, created only when a table is written (display's writer makes
    it): no temporary folder for each of the hundreds of book tests that write none."""
    import hashlib

    from qmribook import display

    name = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:16]
    monkeypatch.setattr(display, "TABLES_DIR", _tables_root / name / "_tables")



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


# Real chapter inputs, loaded once per test process (pytest-xdist worker) and shared by the test
# files of each chapter and by the self-check tests. Tests must not modify them.
@pytest.fixture(scope="session")
def ch1_data():
    """Chapter 1's real data: ``qmribook.ch1.load_chapter_data()``."""
    from qmribook import ch1

    return ch1.load_chapter_data()


@pytest.fixture(scope="session")
def ch2_data():
    """Chapter 2's real data: ``qmribook.ch2.load_chapter_data()``."""
    from qmribook import ch2

    return ch2.load_chapter_data()


@pytest.fixture(scope="session")
def ch1_spin(ch1_data):
    """Chapter 1's association with 200 spins and the spin-method exercise on it (seed 0):
    ``(assoc, report)``."""
    from qmribook import ch1

    assoc = ch1.cell_type_association(ch1_data, n_perm=200, seed=0)
    return assoc, ch1.report_exercise_spin_method(ch1_data, assoc, n_perm=200, seed=0)
