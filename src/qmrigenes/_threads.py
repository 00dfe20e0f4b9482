"""Independent computations on several threads of one process, results in input order.

numpy's elementwise passes and scipy's FFTs release the GIL, so reconstructions or scores that do
not depend on each other (the points of a parameter sweep, the controls of an experiment) run
side by side on the machine's cores. Each item is computed by the same code as in a serial loop,
so the results are identical whatever the number of threads; only the wall time changes.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

from ._validate import check_int

#: Environment variable capping the threads of every default (``workers=None`` or ``-1``) and of
#: the FFTs, as ``OMP_NUM_THREADS`` does for OpenMP: for a shared machine, or for test runners
#: that give each process its own core. Unset: every core the process may use.
THREADS_ENV = "QMRIGENES_NUM_THREADS"


def thread_limit() -> int | None:
    """The cap set by ``$QMRIGENES_NUM_THREADS`` (a positive integer), or None when unset.

    Raises
    ------
    ValueError
        The variable is set to something other than a positive integer.
    """
    value = os.environ.get(THREADS_ENV, "").strip()
    if not value:
        return None
    try:
        limit = int(value)
    except ValueError:
        limit = 0
    if limit < 1:
        raise ValueError(f"{THREADS_ENV} must be a positive integer (threads per process), got {value!r}; "
                         f"unset it to use every core")
    return limit


def n_workers(workers, name: str = "workers") -> int:
    """The number of threads ``workers`` asks for: ``None`` or ``-1`` is every core this process
    may use (at most ``$QMRIGENES_NUM_THREADS`` when set), a positive integer is that many, ``1``
    is a plain serial loop."""
    if workers is None or (not isinstance(workers, bool) and workers == -1):
        try:
            cores = max(len(os.sched_getaffinity(0)), 1)
        except AttributeError:            # not Linux
            cores = max(os.cpu_count() or 1, 1)
        limit = thread_limit()
        return cores if limit is None else min(cores, limit)
    return check_int(workers, name, min=1, hint=" (or -1 / None for every core)")


def fft_workers() -> int:
    """``workers`` for :mod:`scipy.fft`: ``-1`` (every core), or ``$QMRIGENES_NUM_THREADS`` when
    set. The QSM modules read it once, when they are imported."""
    limit = thread_limit()
    return -1 if limit is None else limit


def thread_map(fn, items, *, workers=None, name: str = "workers") -> list:
    """``[fn(x) for x in items]``, computed on up to ``workers`` threads.

    Parameters
    ----------
    fn : callable
        Called once per item; must not modify shared state.
    items : iterable
    workers : int or None, default None
        Threads: ``None`` or ``-1`` every available core, ``1`` serial (no thread is started).
    name : str
        The argument's name in the caller, for error messages.

    Returns
    -------
    list
        The results in the order of ``items``. The first exception raised by ``fn`` is
        re-raised (after the items already started have finished).

    Examples
    --------
    >>> thread_map(lambda x: x * x, range(5), workers=2)
    [0, 1, 4, 9, 16]
    """
    n = n_workers(workers, name)
    items = list(items)
    if n == 1 or len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(max_workers=min(n, len(items))) as pool:
        return list(pool.map(fn, items))
