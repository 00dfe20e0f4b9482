#!/usr/bin/env python
"""Execute the book's notebook pages once, in parallel, into the cache Sphinx reads.

``make book`` runs this before ``jupyter-book build``; the book's ``_config.yml`` has
``execute_notebooks: cache`` with the same cache folder, so Sphinx finds every page already
executed and only renders it. ``make book-student`` and ``make pdf`` read the same cache: one
execution serves every edition.

Cache key. myst-nb matches a page by the hash of its code cells (and kernelspec), which would
serve a stale page after a change in the code the page imports. The cache is therefore also
keyed on the code: a digest of every file under ``src/qmrigenes`` and ``chapters/qmribook``
plus ``requirements.txt`` and ``constraints.txt`` is stored in the cache folder; when it
differs, the cache and every Sphinx environment built from it are removed, so all pages
re-execute and are re-read (never a stale page). A prose-only edit leaves both keys alone:
Sphinx re-reads that one page and no kernel starts.

Execution is myst-nb's own (``jupyter_cache.executors.utils.single_nb_execution`` in the page's
folder), one page per worker process, longest pages first; kernels get one BLAS thread each
(``OPENBLAS_NUM_THREADS=1`` etc.: with two kernels on two cores, idle BLAS threads only
busy-wait) and no ``MPLBACKEND`` (which would make the figures vanish).

Usage::

    python .ci/execute_book.py [--jobs N] [--clean] [--cache _build/.jupyter_cache]

``--clean`` empties the cache first (the official CI build: a full, clean execution).
Prints one line per page (executed or cached, seconds) and writes nothing else.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

# nbformat -> jsonschema would import rfc3987_syntax (38 grammars compiled, for an IRI format
# check nothing here performs); marked absent, jsonschema skips that optional checker.
sys.modules.setdefault("rfc3987_syntax", None)

ROOT = Path(__file__).resolve().parents[1]
#: Code whose change must re-execute every page (relative to the book root).
CODE = ("src/qmrigenes", "chapters/qmribook", "requirements.txt", "constraints.txt")
#: Sphinx-only code (no page imports it): a change re-reads every page but executes none.
SPHINX_ONLY = ("chapters/qmribook/sphinxext.py", "chapters/qmribook/citestyle.py",
               "chapters/qmribook/student.py", ".ci/jb.py")
#: Sphinx environments built from the cache: removed with it.
DERIVED = ("_build/.doctrees", "_build/html", "_build/singlehtml", "_build/student")
KEY_FILE = "code-digest.txt"
SPHINX_KEY_FILE = "sphinx-digest.txt"
#: Digest of the code and of every page's whole text at the last complete run: when nothing
#: changed, the script stops before importing myst-nb and jupyter-cache.
STATE_FILE = "state-digest.txt"
#: Pages listed first start first (the longest), so two workers finish together.
LONGEST_FIRST = ("03_ms_qmri", "01_mpm_surface", "02_qsm_deep_grey", "own_map")
#: A single-threaded BLAS for every kernel (no OPENBLAS_CORETYPE / L2 size: hardware-specific).
KERNEL_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def code_digest(root: Path = ROOT, entries=CODE, *, skip=SPHINX_ONLY) -> str:
    """sha256 over the paths and contents of the files under ``entries`` but ``skip``.

    By default: every file the pages import (:data:`CODE` without :data:`SPHINX_ONLY`).
    """
    h = hashlib.sha256()
    skip = {root / s for s in skip}
    for entry in entries:
        path = root / entry
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts or f.suffix in {".pyc", ".pyo"} or f in skip or not f.exists():
                continue
            h.update(str(f.relative_to(root)).encode())
            h.update(b"\0")
            h.update(f.read_bytes())
            h.update(b"\0")
    return h.hexdigest()


def notebook_pages(root: Path = ROOT) -> list[Path]:
    """The pages of ``_toc.yml`` that are notebooks (MyST markdown with a kernelspec)."""
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
    pages = []
    for name in files:
        path = root / f"{name}.md"
        if path.exists() and "kernelspec:" in path.read_text(encoding="utf-8").split("\n---", 2)[0]:
            pages.append(path)
    order = {stem: i for i, stem in enumerate(LONGEST_FIRST)}
    return sorted(pages, key=lambda p: order.get(p.stem, len(order)))


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
    """Worker: execute one page in its folder; returns (path, notebook, seconds, error text)."""
    from jupyter_cache.executors.utils import single_nb_execution

    os.environ.update(KERNEL_ENV)
    os.environ.pop("MPLBACKEND", None)
    nb = read_page(Path(path))
    result = single_nb_execution(nb, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False,
                                 meta_override=True)
    return path, nb, result.time, (result.exc_string if result.err is not None else None)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", default="_build/.jupyter_cache", help="jupyter-cache folder (book root relative)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="pages executed at once")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    parser.add_argument("--clean", action="store_true", help="empty the cache first (full, clean execution)")
    args = parser.parse_args(argv)

    cache_dir = ROOT / args.cache
    digest = code_digest()
    sphinx_digest = code_digest(entries=SPHINX_ONLY, skip=())
    sphinx_key = cache_dir / SPHINX_KEY_FILE
    if sphinx_key.exists() and sphinx_key.read_text().strip() != sphinx_digest:
        print("execute: Sphinx extension code changed: every page will be re-read (not re-executed)")
        for derived in DERIVED:
            shutil.rmtree(ROOT / derived, ignore_errors=True)
    if cache_dir.exists():
        sphinx_key.write_text(sphinx_digest + "\n")
    pages = notebook_pages()
    state = hashlib.sha256((digest + "".join(p.read_text(encoding="utf-8") for p in pages)).encode()).hexdigest()
    state_file = cache_dir / STATE_FILE
    if not args.clean and state_file.exists() and state_file.read_text().strip() == state:
        print(f"execute: {len(pages)} pages cached, code and pages unchanged")
        return 0
    state_file.unlink(missing_ok=True)

    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    key = cache_dir / KEY_FILE
    stale = not key.exists() or key.read_text().strip() != digest
    if args.clean or stale:
        why = "clean build requested" if args.clean else ("no cache" if not key.exists() else "code changed")
        print(f"execute: {why}: emptying the cache and the Sphinx environments built from it")
        shutil.rmtree(cache_dir, ignore_errors=True)
        for derived in DERIVED:
            shutil.rmtree(ROOT / derived, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache = get_cache(str(cache_dir))
    key.write_text(digest + "\n")
    sphinx_key.write_text(sphinx_digest + "\n")

    todo = []
    for page in pages:
        try:
            record = cache.match_cache_notebook(read_page(page))
            print(f"execute: {page.relative_to(ROOT)}: cached ({record.data.get('execution_seconds', 0):.1f} s when run)")
        except KeyError:
            todo.append(page)
    if not todo:
        state_file.write_text(state + "\n")
        return 0
    t0 = time.perf_counter()
    failed = []
    with ProcessPoolExecutor(max_workers=max(1, min(args.jobs, len(todo)))) as pool:
        jobs = [pool.submit(_execute, str(page), args.timeout) for page in todo]
        for job in as_completed(jobs):
            path, nb, seconds, error = job.result()
            rel = Path(path).relative_to(ROOT)
            if error:
                failed.append(rel)
                print(f"execute: {rel}: FAILED after {seconds:.1f} s\n{error}", file=sys.stderr)
                continue
            cache.cache_notebook_bundle(CacheBundleIn(nb, str(Path(path)), data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
            print(f"execute: {rel}: executed in {seconds:.1f} s", flush=True)
    print(f"execute: {len(todo)} page(s) in {time.perf_counter() - t0:.1f} s wall on {args.jobs} worker(s)")
    if failed:
        # a failed page is not cached: Sphinx would execute it again and stop with its traceback
        print(f"execute: failed: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    state_file.write_text(state + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
