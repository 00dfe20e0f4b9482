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
arrays (:func:`_no_huge_pages`), unless ``NUMPY_MADVISE_HUGEPAGE`` is set.
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


_use_book_data()
_no_huge_pages()
