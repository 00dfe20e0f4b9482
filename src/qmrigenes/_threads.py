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


def n_workers(workers, name: str = "workers") -> int:
    """The number of threads ``workers`` asks for: ``None`` or ``-1`` is every core this process
    may use, a positive integer is that many, ``1`` is a plain serial loop."""
    if workers is None or (not isinstance(workers, bool) and workers == -1):
        try:
            return max(len(os.sched_getaffinity(0)), 1)
        except AttributeError:            # not Linux
            return max(os.cpu_count() or 1, 1)
    return check_int(workers, name, min=1, hint=" (or -1 / None for every core)")


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
