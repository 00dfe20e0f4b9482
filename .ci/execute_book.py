#!/usr/bin/env python
"""Execute the book's notebook pages once, in parallel, into the cache Sphinx reads.

``make book`` runs this before ``jupyter-book build``; the book's ``_config.yml`` has
``execute_notebooks: cache`` with the same cache folder, so Sphinx finds every page already
executed and only renders it. ``make book-student``, ``make pdf`` and the chapter checks that
``make book`` runs beside Sphinx (tests/book/test_notebooks.py, which reads the executions with
:func:`cached_executions`, executing nothing) read the same cache: one execution serves every
edition and the checks.

Cache key, per page. myst-nb matches a page by the hash of its code cells (and kernelspec),
which alone would serve a stale page after a change in the code the page imports. Each
execution therefore also records what the page depended on (``deps/<record>.json`` in the
cache folder):

* the Python modules of ``src/qmrigenes`` and ``chapters/qmribook`` that were loaded in the
  page's kernel when it finished (read from the kernel's ``sys.modules`` by one extra cell,
  removed again before the notebook is cached), each with its sha256;
* a digest of everything else a page can read: the pins, ``references.bib``, the book's
  authored tables under ``data/`` (not the download cache, whose files the registry's sha256
  pins), and every non-Python file of the two code folders (the registry, crosswalks,
  literature tables);
* pages that start a subprocess (a command-line run of the library) depend on all the code;
* pages that run ``git`` (the title page prints the commit it was built from) depend on the
  commit checked out (``git rev-parse HEAD``).

A page is executed again when its code cells changed, when one of the modules it loaded
changed, or when anything in the second digest changed; a page that never loaded a changed
module keeps its execution. Each re-executed page, and every page that quotes its glue
(``page.md::name``) or lists execution times (``nb-exec-table``), gets a new modification time
so that Sphinx re-reads exactly those (never a stale page). A prose-only edit changes no key:
Sphinx re-reads that one page and no kernel starts.

Execution is nbclient's, through myst-nb's own helper
(``jupyter_cache.executors.utils.single_nb_execution``, in the page's folder), one page per
worker process, longest pages first; kernels get one BLAS thread each
(``OPENBLAS_NUM_THREADS=1`` etc.: with two kernels on two cores, idle BLAS threads only
busy-wait) and no ``MPLBACKEND`` (which would make the figures vanish). Concurrent runs (the
test suite and a book build) take a lock on the cache and never execute a page twice.

Usage::

    python .ci/execute_book.py [--jobs N] [--clean] [--cache _build/.jupyter_cache] [PAGE ...]

``--clean`` empties the cache first (a full, clean execution). Prints one line per page
(executed, with the reason, or cached, with its seconds) and writes nothing else.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path

# nbformat -> jsonschema would import rfc3987_syntax (38 grammars compiled, for an IRI format
# check nothing here performs); marked absent, jsonschema skips that optional checker.
sys.modules.setdefault("rfc3987_syntax", None)

ROOT = Path(__file__).resolve().parents[1]
#: Folders of the code the pages import (their .py files are tracked per page).
CODE_DIRS = ("src/qmrigenes", "chapters/qmribook")
#: Everything a page's execution can depend on (relative to the book root); CITATION.cff gives
#: the title page's authors, version, licence and citation (qmribook.pages.front_matter).
CODE = (*CODE_DIRS, "requirements.txt", "constraints.txt", "references.bib", "CITATION.cff", "data")
#: Never part of a key: the download cache (its files are pinned by the registry's sha256).
NOT_CODE = ("data/cache",)
#: Sphinx-only code (no page imports it): a change re-reads every page but executes none.
SPHINX_ONLY = ("chapters/qmribook/sphinxext.py", "chapters/qmribook/citestyle.py",
               "chapters/qmribook/student.py", ".ci/jb.py")
#: Sphinx environments built from the cache: removed with it.
DERIVED = ("_build/.doctrees", "_build/html", "_build/singlehtml", "_build/student")
SPHINX_KEY_FILE = "sphinx-digest.txt"
DEPS_DIR = "deps"
#: Digest of the code and of every page's whole text at the last complete run: when nothing
#: changed, the script stops before importing myst-nb and jupyter-cache.
STATE_FILE = "state-digest.txt"
#: Pages listed first start first (the longest), so two workers finish together.
LONGEST_FIRST = ("04_qsm_challenge", "03_ms_qmri", "01_mpm_surface", "02_qsm_deep_grey", "own_map")
#: A single-threaded BLAS for every kernel (no OPENBLAS_CORETYPE / L2 size: hardware-specific).
KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
#: The cell appended to each execution (and removed before caching): the files of every module
#: loaded in the kernel.
PROBE = ("import json as _qmri_json, sys as _qmri_sys\n"
         "print('QMRI-MODULES ' + _qmri_json.dumps(sorted({str(getattr(_m, '__file__', None) or '') "
         "for _m in list(_qmri_sys.modules.values())} - {''})))")


def _files(root: Path, entries, skip=()):
    """The files under ``entries`` (folders walked), minus ``skip``, bytecode and NOT_CODE."""
    skip = {root / s for s in (*skip, *NOT_CODE)}
    for entry in entries:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if ("__pycache__" in f.parts or f.suffix in {".pyc", ".pyo"} or not f.exists()
                    or f in skip or any(s in f.parents for s in skip)):
                continue
            yield f


def code_digest(root: Path = ROOT, entries=CODE, *, skip=SPHINX_ONLY, python: bool = True) -> str:
    """sha256 over the paths and contents of the files under ``entries`` but ``skip``.

    By default: everything a page can depend on (:data:`CODE` without :data:`SPHINX_ONLY` and
    the download cache). ``python=False`` leaves out the ``.py`` files (tracked per page).
    """
    h = hashlib.sha256()
    for f in _files(root, entries, skip):
        if not python and f.suffix == ".py":
            continue
        h.update(str(f.relative_to(root)).encode())
        h.update(b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


#: A page that runs git (``["git", ...]`` in a code cell) shows something of the checkout.
RUNS_GIT = re.compile(r"""[\[(,]\s*["']git["']""")


def git_head(root: Path = ROOT) -> str:
    """The commit checked out in ``root`` (``"none"`` outside a git checkout)."""
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "none"


def file_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "missing"


def loaded_modules(files, root: Path = ROOT) -> dict[str, str]:
    """``{relative path: sha256}`` of the module files under :data:`CODE_DIRS` among ``files``."""
    dirs = [(root / d).resolve() for d in CODE_DIRS]
    out = {}
    for name in files:
        path = Path(name).resolve()
        if path.suffix == ".py" and any(d in path.parents for d in dirs):
            rel = path.relative_to(root.resolve()).as_posix()
            out[rel] = file_sha(root / rel)
    return out


def notebook_pages(root: Path = ROOT) -> list[Path]:
    """The pages of ``_toc.yml`` that are notebooks (MyST markdown with a kernelspec), longest first."""
    pages = [p for p in toc_pages(root)
             if "kernelspec:" in p.read_text(encoding="utf-8").split("\n---", 2)[0]]
    order = {stem: i for i, stem in enumerate(LONGEST_FIRST)}
    return sorted(pages, key=lambda p: order.get(p.stem, len(order)))


def toc_pages(root: Path = ROOT) -> list[Path]:
    """Every Markdown page of ``_toc.yml``, in its order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc.get("parts", toc.get("chapters", [])))
    return [root / f"{name}.md" for name in files if (root / f"{name}.md").exists()]


def read_page(path: Path):
    """The page as myst-nb reads it (so the cache hash is the one Sphinx computes)."""
    from myst_nb.core.config import NbParserConfig
    from myst_nb.core.read import create_nb_reader
    from myst_parser.config.main import MdParserConfig

    text = path.read_text(encoding="utf-8")
    reader = create_nb_reader(str(path), MdParserConfig(), NbParserConfig(), text)
    if reader is None:
        raise SystemExit(f"{path} is not a notebook page")
    return reader.read(text)


def _execute(path: str, timeout: int):
    """Worker: execute one page in its folder.

    Returns (path, notebook without the probe cell, seconds, error text, loaded module files).
    """
    import nbformat
    from jupyter_cache.executors.utils import single_nb_execution

    os.environ.update(KERNEL_ENV)
    os.environ.pop("MPLBACKEND", None)
    nb = read_page(Path(path))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    # the kernel logs only errors: every kernel started here warned that it runs over TCP without
    # encryption (it listens on localhost; nine such lines per build hid the execution lines)
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 meta_override=True, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    probe = nb.cells.pop()
    modules = []
    for output in probe.get("outputs", []):
        for line in output.get("text", "").splitlines():
            if line.startswith("QMRI-MODULES "):
                modules = json.loads(line[len("QMRI-MODULES "):])
    return path, nb, result.time, (result.exc_string if result.err is not None else None), modules


def _deps_path(cache_dir: Path, pk: int) -> Path:
    return cache_dir / DEPS_DIR / f"{pk}.json"


def stale_reason(page: Path, cache, cache_dir: Path, global_digest: str, root: Path = ROOT):
    """Why ``page`` must be executed again (``None``: its cached execution is current).

    Returns ``(reason or None, record or None)``.
    """
    try:
        record = cache.match_cache_notebook(read_page(page))
    except KeyError:
        return "not executed with these code cells", None
    deps_file = _deps_path(cache_dir, record.pk)
    if not deps_file.exists():
        return "no record of the code it used", record
    deps = json.loads(deps_file.read_text())
    if deps.get("global") != global_digest:
        return "pins, data tables or non-Python package files changed", record
    if "git" in deps and deps["git"] != git_head(root):
        return "another commit is checked out (the page shows it)", record
    if "all" in deps:
        if deps["all"] != code_digest(root):
            return "code changed (the page runs the library in a subprocess)", record
        return None, record
    for rel, sha in deps.get("modules", {}).items():
        if file_sha(root / rel) != sha:
            return f"{rel} changed", record
    return None, record


def _dependents(executed: list[Path], pages: list[Path]) -> set[Path]:
    """Pages Sphinx must re-read after ``executed`` ran again: those, the pages quoting their glue
    (``stem.md::``) and the pages listing execution times."""
    out = set(executed)
    stems = {p.stem for p in executed}
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if "nb-exec-table" in text or any(f"{stem}.md::" in text for stem in stems):
            out.add(page)
    return out


@contextmanager
def _locked(cache_dir: Path):
    """One run at a time on a cache (the test suite and a book build may start together)."""
    import fcntl

    cache_dir.parent.mkdir(parents=True, exist_ok=True)
    with open(cache_dir.parent / (cache_dir.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_executed(pages=None, *, cache: str | Path = "_build/.jupyter_cache", jobs: int = 2,
                    timeout: int = 900, clean: bool = False, log=print) -> dict:
    """Execute every page of ``pages`` (default: all notebook pages) whose cached execution is not
    current, in parallel, and return ``{page: (notebook, seconds, executed_now)}``.

    Raises ``RuntimeError`` naming the pages whose execution failed (with their tracebacks logged).
    """
    cache_dir = ROOT / cache
    with _locked(cache_dir):
        return _ensure_executed(pages, cache_dir, jobs, timeout, clean, log)


def cached_executions(pages=None, *, cache: str | Path = "_build/.jupyter_cache", log=print,
                      root: Path = ROOT) -> dict:
    """The current cached execution of every page of ``pages`` (default: all notebook pages), read
    without executing anything and without writing to the cache: ``{page: (notebook, seconds,
    False)}``, as :func:`ensure_executed` returns them.

    The chapter checks of ``make book`` read the executions its ``execute`` step has just made
    (one execution per build). Raises ``RuntimeError`` naming every page with no current execution
    (and why), so a check never reads a stale page.
    """
    import nbformat
    from jupyter_cache import get_cache

    cache_dir = root / cache
    if not (cache_dir / DEPS_DIR).is_dir():
        raise RuntimeError(f"no executions in {cache}: run `make execute` (or `make book`) first")
    with _locked(cache_dir):
        jcache = get_cache(str(cache_dir))
        global_digest = code_digest(root, python=False)
        results, stale = {}, []
        for page in notebook_pages(root) if pages is None else [Path(p).resolve() for p in pages]:
            reason, record = stale_reason(page, jcache, cache_dir, global_digest, root)
            if reason is not None:
                stale.append(f"{page.relative_to(root)} ({reason})")
                continue
            seconds = record.data.get("execution_seconds", 0)
            # the stored notebook read directly: get_cache_bundle would write an access time into
            # the cache database that Sphinx reads at the same time
            stored = jcache._get_notebook_path_cache(record.hashkey)
            results[page] = (nbformat.reads(stored.read_text(encoding="utf-8"), nbformat.NO_CONVERT), seconds, False)
            log(f"execute: {page.relative_to(root)}: read from the cache ({seconds:.1f} s when run)")
    if stale:
        raise RuntimeError("no current execution of " + ", ".join(stale)
                           + ": run `make execute` (or `make book`) first")
    return results


def _ensure_executed(pages, cache_dir, jobs, timeout, clean, log):
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    all_pages = notebook_pages()
    pages = all_pages if pages is None else [Path(p).resolve() for p in pages]
    sphinx_digest = code_digest(entries=SPHINX_ONLY, skip=())
    sphinx_key = cache_dir / SPHINX_KEY_FILE
    if sphinx_key.exists() and sphinx_key.read_text().strip() != sphinx_digest:
        log("execute: Sphinx extension code changed: every page will be re-read (not re-executed)")
        for derived in DERIVED:
            shutil.rmtree(ROOT / derived, ignore_errors=True)
    if clean:
        log("execute: clean build requested: emptying the cache and the Sphinx environments built from it")
        shutil.rmtree(cache_dir, ignore_errors=True)
        for derived in DERIVED:
            shutil.rmtree(ROOT / derived, ignore_errors=True)
    (cache_dir / DEPS_DIR).mkdir(parents=True, exist_ok=True)
    sphinx_key.write_text(sphinx_digest + "\n")
    (cache_dir / STATE_FILE).unlink(missing_ok=True)
    jcache = get_cache(str(cache_dir))
    global_digest = code_digest(python=False)
    whole_code = code_digest()
    head = git_head()

    results, todo = {}, []
    for page in pages:
        reason, record = stale_reason(page, jcache, cache_dir, global_digest)
        if reason is None:
            seconds = record.data.get("execution_seconds", 0)
            results[page] = (jcache.get_cache_bundle(record.pk).nb, seconds, False)
            log(f"execute: {page.relative_to(ROOT)}: cached ({seconds:.1f} s when run)")
        else:
            todo.append((page, reason))
            if record is not None:     # out of date: never served again, even if the new run fails
                jcache.remove_cache(record.pk)
                _deps_path(cache_dir, record.pk).unlink(missing_ok=True)
    if not todo:
        return results
    t0 = time.perf_counter()
    failed, done = [], []
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
        reasons = {str(page): reason for page, reason in todo}
        jobs_ = [pool.submit(_execute, str(page), timeout) for page, _ in todo]
        for job in as_completed(jobs_):
            path, nb, seconds, error, modules = job.result()
            page = Path(path)
            rel = page.relative_to(ROOT)
            if error:
                failed.append(rel)
                log(f"execute: {rel}: FAILED after {seconds:.1f} s\n{error}")
                continue
            record = jcache.cache_notebook_bundle(CacheBundleIn(nb, str(page), data={"execution_seconds": seconds}),
                                                  check_validity=False, overwrite=True)
            text = page.read_text(encoding="utf-8")
            subprocess_page = "subprocess" in text
            deps = {"global": global_digest, "page": rel.as_posix()}
            if RUNS_GIT.search(text):
                deps["git"] = head
            if subprocess_page:
                deps["all"] = whole_code
            else:
                deps["modules"] = loaded_modules(modules)
            _deps_path(cache_dir, record.pk).write_text(json.dumps(deps, indent=1, sort_keys=True) + "\n")
            results[page] = (nb, seconds, True)
            done.append(page)
            log(f"execute: {rel}: executed in {seconds:.1f} s ({reasons[path]})")
    now = time.time()
    for page in _dependents(done, toc_pages()):
        os.utime(page, (now, now))        # Sphinx re-reads exactly these pages
    log(f"execute: {len(todo)} page(s) in {time.perf_counter() - t0:.1f} s wall on {jobs} worker(s)")
    if failed:
        # a failed page is not cached: Sphinx would execute it again and stop with its traceback
        raise RuntimeError(f"execution failed: {', '.join(map(str, failed))}")
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pages", nargs="*", help="pages to execute (default: every notebook page of _toc.yml)")
    parser.add_argument("--cache", default="_build/.jupyter_cache", help="jupyter-cache folder (book root relative)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="pages executed at once")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--clean", action="store_true", help="empty the cache first (full, clean execution)")
    args = parser.parse_args(argv)

    cache_dir = ROOT / args.cache
    pages = [Path(p).resolve() for p in args.pages] or notebook_pages()
    state = hashlib.sha256((code_digest() + code_digest(entries=SPHINX_ONLY, skip=()) + git_head()
                            + "".join(p.read_text(encoding="utf-8") for p in pages)).encode()).hexdigest()
    state_file = cache_dir / STATE_FILE
    if not args.clean and not args.pages and state_file.exists() and state_file.read_text().strip() == state:
        print(f"execute: {len(pages)} pages cached, code and pages unchanged")
        return 0
    try:
        ensure_executed(args.pages or None, cache=args.cache, jobs=args.jobs, timeout=args.timeout,
                        clean=args.clean, log=lambda line: print(line, flush=True))
    except RuntimeError as error:
        print(f"execute: {error}", file=sys.stderr)
        return 1
    if not args.pages:
        state_file.write_text(state + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
