"""The book's study code: what the chapters of *Quantitative MRI and brain gene expression* run.

It depends on the library :mod:`qmrigenes` (data, surfaces, AHBA, MPM/QSM physics,
statistics, plotting); the library never imports it.

* :mod:`qmribook.report` - :class:`~qmribook.report.Report`, the one shape a chapter
  receives (``numbers``, ``tables``, ``figures``), and :func:`~qmribook.report.show`,
  which glues a report under the chapter's prefix;
* :mod:`qmribook.ch1`, :mod:`qmribook.ch2`, :mod:`qmribook.ch3` - the chapters' studies;
* :mod:`qmribook.pages` - the book's own tables (published numbers, reproduction
  status), build information and table formatting;
* :mod:`qmribook.sphinxext` - numbers glued tables as tables;
* :mod:`qmribook.paths` - every folder the book reaches, from the repository root;
* :mod:`qmribook.notebooks` - runs a chapter outside Sphinx and reads what it shows.

Importing the package points ``$QMRIGENES_DATA`` at ``<repository>/data/cache`` when it is unset
and that folder exists (:func:`qmribook.paths.use_book_data`), so a plain Jupyter started in the
repository finds the data ``make data`` fetched.

Importing it also stops numpy from asking the kernel for transparent huge pages for its large
arrays (:func:`_no_huge_pages`), unless ``NUMPY_MADVISE_HUGEPAGE`` is set, and lets glibc reuse
freed large arrays instead of mapping fresh memory for each (:func:`_reuse_freed_memory`), unless
glibc's malloc variables are set; and it leaves the objects imported so far out of the garbage
collector's full collections, which it runs less often (:func:`_tune_garbage_collector`).
"""
import os as _os

from .paths import use_book_data as _use_book_data


def _no_huge_pages() -> None:
    """Let numpy's large arrays live in ordinary pages (unless ``NUMPY_MADVISE_HUGEPAGE`` is set).

    numpy marks every array of 4 MB or more with ``madvise(MADV_HUGEPAGE)``. Where the Linux
    kernel compacts memory synchronously for such regions (transparent huge pages ``defrag`` set
    to ``madvise``, the reference machine's setting) and memory is fragmented, a page fault in a
    fresh array can stall for milliseconds: on the reference machine (load about 10) chapter 3's
    cells spent 8.5 s of 35.2 s of CPU in system time with the hint and 2.7 s of 28.9 s without it
    (``benchmarks/bench_ch3.py`` times one MPM cell both ways).
    The numbers computed are the same; only where the memory comes from changes. An explicit
    ``NUMPY_MADVISE_HUGEPAGE`` (0 or 1) is numpy's documented switch and is left to decide.
    """
    if "NUMPY_MADVISE_HUGEPAGE" in _os.environ:
        return
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:            # numpy < 2 keeps it in numpy.core
        try:
            from numpy.core.multiarray import _set_madvise_hugepage
        except ImportError:
            return
    _set_madvise_hugepage(False)


#: glibc's mallopt parameters (malloc.h) and the values the book's kernels use.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD, _TRIM_THRESHOLD = 1 << 30, 1 << 28       # 1 GiB, 256 MiB
#: glibc's environment switches for malloc: if any is set, the user chose, and nothing is changed.
_MALLOC_SWITCHES = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")


def _reuse_freed_memory() -> bool:
    """Let freed large arrays be reused from the heap instead of mapped and zeroed afresh (glibc).

    glibc serves every allocation above its mmap threshold (which it adapts up to 32 MiB at most)
    with fresh pages from the kernel and returns them on free. The chapters' FFT-based solvers
    create and free several 160^3 arrays (16-36 MB: each transform's output) per iteration, so
    each of them came back as thousands of page faults of zeroed memory: chapter 4 spent 5.9 s of
    its 60.9 s of CPU in system time (2.7 million page faults), 1.1 s with the thresholds below
    (0.3 million; peak memory 1.25 -> 1.28 GB; `benchmarks/QSM_RESULTS.md`, round 7). The
    numbers computed are the same; only where the memory comes from changes. Freed memory above
    256 MiB at the top of the heap is still returned to the system. The number of arenas stays
    glibc's: each thread allocates from its own arena, whose heaps reuse freed memory under the
    same thresholds. One arena for every thread (``M_ARENA_MAX=1``) would make the threads wait
    for its lock: a process that imported the package before starting any thread ran chapter
    4's two masked solves side by side 1.7x slower that way (`benchmarks/bench_arenas.py`).
    Left alone when ``MALLOC_MMAP_THRESHOLD_``, ``MALLOC_TRIM_THRESHOLD_``,
    ``MALLOC_ARENA_MAX`` or ``GLIBC_TUNABLES`` is set (glibc's documented switches), and off
    glibc. Returns whether the settings were made.
    """
    import platform
    import sys

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    if any(k in _os.environ for k in _MALLOC_SWITCHES):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
                    and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    except (OSError, AttributeError):
        return False


#: Full collections only after this many collections of the middle generation (CPython's default: 10).
_FULL_COLLECTION_EVERY = 100


def _tune_garbage_collector() -> bool:
    """Leave the objects imported so far out of the garbage collector's full collections
    (``gc.freeze``), and run those collections a tenth as often; unless ``QMRIBOOK_KEEP_GC`` is
    set or the collector's thresholds are not CPython's defaults (someone chose them).

    A full (oldest-generation) collection traverses every object the collector tracks: once
    numpy, pandas, scipy and matplotlib are imported that is about 270,000 objects, and a chapter
    that builds and drops figures and tables triggers such collections again and again (chapter
    3: 10 of them, 1.3-1.4 s of CPU). Imported code lives as long as the kernel, so nothing is
    lost by not scanning it (0.7 s left); and with a full collection after 100 collections of the
    middle generation instead of 10, chapter 3 runs one, and its whole garbage collection costs
    0.5 s instead of 1.6 s (peak memory 1.86 -> 1.89 GB: cycles that reach the oldest generation,
    such as a closed figure's, wait longer to be freed; one process, ``benchmarks/bench_ch3_render.py``
    item 4). Nothing computed changes; ``gc.unfreeze()`` and ``gc.set_threshold`` undo it.
    Returns whether the settings were made.
    """
    import gc

    if "QMRIBOOK_KEEP_GC" in _os.environ or gc.get_threshold() != (700, 10, 10):
        return False
    gc.freeze()
    gc.set_threshold(700, 10, _FULL_COLLECTION_EVERY)
    return True


_use_book_data()
_no_huge_pages()
_reuse_freed_memory()
_tune_garbage_collector()
