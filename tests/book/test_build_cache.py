"""The book's execution cache key (.ci/execute_book.py) and the Sphinx speed-ups."""
import importlib.util
import json
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
    assert pages[:4] == ["04_qsm_challenge", "03_ms_qmri", "01_mpm_surface", "02_qsm_deep_grey"]
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


def _page(root, name="p", code="x = 1"):
    page = root / "chapters" / f"{name}.md"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
                    "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
                    f"# Page\n\n```{{code-cell}} python\n{code}\n```\n")
    return page


def test_a_page_reexecutes_only_when_a_module_it_loaded_or_a_shared_file_changed(tmp_path):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    eb = _execute_book()
    root = _tree(tmp_path)
    (root / "data/published").mkdir(parents=True)
    (root / "data/published/t.csv").write_text("a\n1\n")
    (root / "data/cache").mkdir()
    (root / "data/cache/big.nii").write_bytes(b"0")
    page = _page(root)
    cache_dir = tmp_path / "cache"
    cache = get_cache(str(cache_dir))
    (cache_dir / eb.DEPS_DIR).mkdir(parents=True, exist_ok=True)
    digest = eb.code_digest(root, python=False)
    reason, record = eb.stale_reason(page, cache, cache_dir, digest, root)
    assert reason == "not executed with these code cells" and record is None

    record = cache.cache_notebook_bundle(CacheBundleIn(eb.read_page(page), str(page)), check_validity=False)
    reason, _ = eb.stale_reason(page, cache, cache_dir, digest, root)
    assert reason == "no record of the code it used"
    loaded = eb.loaded_modules([str(root / "src/qmrigenes/qsm.py"), str(root / "chapters/qmribook/../qmribook/ch3.py"),
                                "/usr/lib/python3.11/json/__init__.py", str(root / "requirements.txt")], root)
    assert set(loaded) == {"src/qmrigenes/qsm.py", "chapters/qmribook/ch3.py"}
    eb._deps_path(cache_dir, record.pk).write_text(json.dumps({"global": digest, "modules": loaded}))
    assert eb.stale_reason(page, cache, cache_dir, digest, root)[0] is None

    (root / "src/qmrigenes/other.py").write_text("D = 1\n")                 # not loaded by the page
    (root / "data/cache/big.nii").write_bytes(b"1")                         # download cache: sha-pinned
    (root / "chapters/qmribook/sphinxext.py").write_text("C = 9\n")         # Sphinx only
    assert eb.code_digest(root, python=False) == digest
    assert eb.stale_reason(page, cache, cache_dir, digest, root)[0] is None

    (root / "src/qmrigenes/qsm.py").write_text("A = 3\n")                   # loaded: re-execute
    assert eb.stale_reason(page, cache, cache_dir, digest, root)[0] == "src/qmrigenes/qsm.py changed"
    (root / "src/qmrigenes/qsm.py").write_text("A = 1\n")
    assert eb.stale_reason(page, cache, cache_dir, digest, root)[0] is None
    (root / "data/published/t.csv").write_text("a\n2\n")                    # an authored table
    assert eb.code_digest(root, python=False) != digest
    assert eb.stale_reason(page, cache, cache_dir, eb.code_digest(root, python=False), root)[0] is not None

    _page(root, code="x = 2")                                               # other code cells
    assert eb.stale_reason(page, cache, cache_dir, digest, root)[0] == "not executed with these code cells"


def test_pages_quoting_a_reexecuted_page_are_reread(tmp_path):
    eb = _execute_book()
    a, b = _page(tmp_path, "a"), _page(tmp_path, "b")
    quoting = tmp_path / "chapters" / "intro.md"
    quoting.write_text("{glue:text}`a.md::n`\n")
    table = tmp_path / "chapters" / "build_info.md"
    table.write_text("```{nb-exec-table}\n```\n")
    assert eb._dependents([a], [a, b, quoting, table]) == {a, quoting, table}
    assert eb._dependents([b], [a, b, quoting, table]) == {b, table}


def test_title_page_facts_and_commit_are_part_of_the_key(tmp_path):
    """CITATION.cff (authors, version, citation of the title page) is in every page's key, and a
    page that runs git (the commit it was built from) is executed again on another commit."""
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    eb = _execute_book()
    root = _tree(tmp_path)
    (root / "CITATION.cff").write_text("version: 1.0\n")
    digest = eb.code_digest(root, python=False)
    (root / "CITATION.cff").write_text("version: 1.1\n")
    assert eb.code_digest(root, python=False) != digest
    digest = eb.code_digest(root, python=False)

    assert eb.RUNS_GIT.search('commit = subprocess.run(["git", "rev-parse", "HEAD"])')
    assert not eb.RUNS_GIT.search("The history of every page is in git.")
    assert eb.git_head(root) == "none"                    # not a checkout
    page = _page(root, code='import subprocess\nsubprocess.run(["git", "rev-parse", "HEAD"])')
    cache_dir = tmp_path / "cache"
    cache = get_cache(str(cache_dir))
    (cache_dir / eb.DEPS_DIR).mkdir(parents=True, exist_ok=True)
    record = cache.cache_notebook_bundle(CacheBundleIn(eb.read_page(page), str(page)), check_validity=False)
    deps = {"global": digest, "all": eb.code_digest(root), "git": "none"}
    eb._deps_path(cache_dir, record.pk).write_text(json.dumps(deps))
    assert eb.stale_reason(page, cache, cache_dir, digest, root)[0] is None
    eb._deps_path(cache_dir, record.pk).write_text(json.dumps({**deps, "git": "0123abc"}))
    assert "another commit" in eb.stale_reason(page, cache, cache_dir, digest, root)[0]


def test_chapter_checks_read_current_executions_and_never_execute(tmp_path, monkeypatch):
    """cached_executions (the chapter checks of `make book`) returns the cached notebook of a
    current page, refuses a stale or missing one naming it and why, and writes nothing."""
    from jupyter_cache import get_cache
    import nbformat
    from jupyter_cache.base import CacheBundleIn

    eb = _execute_book()
    monkeypatch.setattr(eb, "_execute", lambda *a, **k: pytest.fail("executed a page"))
    root = _tree(tmp_path)
    page, other = _page(root), _page(root, "other", code="y = 1")
    with pytest.raises(RuntimeError, match="no executions"):
        eb.cached_executions([page], cache="cache", root=root)
    cache_dir = root / "cache"
    cache = get_cache(str(cache_dir))
    (cache_dir / eb.DEPS_DIR).mkdir(parents=True)
    nb = eb.read_page(page)
    code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells[code].outputs = [nbformat.v4.new_output("stream", name="stdout", text="ran\n")]
    record = cache.cache_notebook_bundle(CacheBundleIn(nb, str(page), data={"execution_seconds": 1.5}),
                                        check_validity=False)
    modules = eb.loaded_modules([str(root / "src/qmrigenes/qsm.py")], root)
    eb._deps_path(cache_dir, record.pk).write_text(json.dumps({"global": eb.code_digest(root, python=False),
                                                               "modules": modules}))
    state = sorted((p.relative_to(root).as_posix(), p.stat().st_mtime_ns) for p in cache_dir.rglob("*"))
    lines = []
    got = eb.cached_executions([page], cache="cache", root=root, log=lines.append)
    (nb_read, seconds, executed_now), = got.values()
    assert list(got) == [page] and seconds == 1.5 and executed_now is False
    outputs = [c.outputs for c in nb_read.cells if c.cell_type == "code"]   # (the cache keeps code cells)
    assert outputs == [[nbformat.v4.new_output("stream", name="stdout", text="ran\n")]] and "p.md" in lines[0]
    with pytest.raises(RuntimeError, match=r"chapters/other\.md \(not executed with these code cells\)"):
        eb.cached_executions([page, other], cache="cache", root=root)
    (root / "src/qmrigenes/qsm.py").write_text("A = 2\n")                   # the code it loaded changed
    with pytest.raises(RuntimeError, match=r"chapters/p\.md \(src/qmrigenes/qsm\.py changed\)"):
        eb.cached_executions([page], cache="cache", root=root)
    assert sorted((p.relative_to(root).as_posix(), p.stat().st_mtime_ns) for p in cache_dir.rglob("*")) == state
