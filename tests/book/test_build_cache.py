"""The book's execution cache key (.ci/execute_book.py) and the Sphinx speed-ups."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _execute_book():
    spec = importlib.util.spec_from_file_location("execute_book", ROOT / ".ci" / "execute_book.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tree(tmp_path):
    for rel, text in {"src/qmrigenes/qsm.py": "A = 1\n", "chapters/qmribook/ch3.py": "B = 1\n",
                      "chapters/qmribook/sphinxext.py": "C = 1\n", "requirements.txt": "numpy\n",
                      "constraints.txt": "numpy==2\n"}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_code_digest_follows_imported_code_not_sphinx_only_code(tmp_path):
    eb = _execute_book()
    root = _tree(tmp_path)
    first = eb.code_digest(root)
    (root / "chapters/qmribook/sphinxext.py").write_text("C = 2\n")      # not imported by a page
    assert eb.code_digest(root) == first
    (root / "src/qmrigenes/qsm.py").write_text("A = 2\n")                # library change
    second = eb.code_digest(root)
    assert second != first
    (root / "chapters/qmribook/new.py").write_text("")                   # a new study module
    third = eb.code_digest(root)
    assert third != second
    (root / "src/qmrigenes/__pycache__").mkdir()
    (root / "src/qmrigenes/__pycache__/qsm.cpython-311.pyc").write_bytes(b"x")
    assert eb.code_digest(root) == third                                 # bytecode ignored
    sphinx = eb.code_digest(root, entries=eb.SPHINX_ONLY, skip=())
    (root / "chapters/qmribook/sphinxext.py").write_text("C = 3\n")
    assert eb.code_digest(root, entries=eb.SPHINX_ONLY, skip=()) != sphinx


def test_notebook_pages_are_the_toc_pages_with_a_kernel_longest_first():
    pages = [p.stem for p in _execute_book().notebook_pages()]
    assert pages[:3] == ["03_ms_qmri", "01_mpm_surface", "02_qsm_deep_grey"]
    assert "glossary" not in pages and "build_info" in pages


def test_pybtex_entry_points_are_looked_up_once_and_give_the_same_plugins(monkeypatch):
    import pybtex.plugin
    from qmribook import citestyle

    before = pybtex.plugin.find_plugin("pybtex.style.formatting", "plain")
    calls = []
    lookup = pybtex.plugin.entry_points

    def counting(*, group, name):
        calls.append((group, name))
        return lookup(group=group, name=name)

    monkeypatch.setattr(pybtex.plugin, "entry_points", counting)
    citestyle._cache_plugin_entry_points()
    for _ in range(3):
        assert pybtex.plugin.find_plugin("pybtex.style.formatting", "plain") is before
    assert calls == [("pybtex.style.formatting", "plain")]
    with pytest.raises(pybtex.plugin.PluginNotFound):
        pybtex.plugin.find_plugin("pybtex.style.formatting", "no-such-style")
