import threading

import numpy as np
import pytest

from qmrigenes._threads import n_workers, thread_map


def test_results_in_input_order_and_equal_to_a_serial_loop(rng):
    arrays = [rng.normal(size=(40, 40)) for _ in range(7)]
    serial = [np.linalg.svd(a, compute_uv=False) for a in arrays]
    threaded = thread_map(lambda a: np.linalg.svd(a, compute_uv=False), arrays, workers=3)
    assert all(np.array_equal(s, t) for s, t in zip(serial, threaded))


def test_uses_several_threads_and_serial_uses_none():
    seen = set()
    barrier = threading.Barrier(2, timeout=10)

    def work(x):
        seen.add(threading.get_ident())
        barrier.wait()                      # only passes if two items run at the same time
        return x

    assert thread_map(work, [1, 2], workers=2) == [1, 2]
    assert len(seen) == 2
    main = threading.get_ident()
    assert thread_map(lambda x: threading.get_ident(), [1, 2, 3], workers=1) == [main] * 3


def test_first_exception_is_raised():
    def work(x):
        if x == 2:
            raise ValueError("item 2")
        return x

    with pytest.raises(ValueError, match="item 2"):
        thread_map(work, range(4), workers=2)


@pytest.mark.parametrize("bad, err", [(0, ValueError), (-2, ValueError), (1.0, TypeError), (True, TypeError)])
def test_bad_workers_named(bad, err):
    with pytest.raises(err, match="n_jobs"):
        thread_map(abs, [1], workers=bad, name="n_jobs")


def test_every_core_by_default():
    assert n_workers(None) == n_workers(-1) >= 1


def test_thread_cap_from_the_environment(monkeypatch):
    from qmrigenes import _threads

    monkeypatch.delenv(_threads.THREADS_ENV, raising=False)
    every = n_workers(None)
    assert _threads.thread_limit() is None and _threads.fft_workers() == -1
    monkeypatch.setenv(_threads.THREADS_ENV, "1")
    assert n_workers(None) == n_workers(-1) == 1 and _threads.fft_workers() == 1
    assert n_workers(3) == 3                                   # an explicit number is not capped
    monkeypatch.setenv(_threads.THREADS_ENV, " 64 ")
    assert n_workers(None) == every                            # a cap above the cores changes nothing
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv(_threads.THREADS_ENV, bad)
        with pytest.raises(ValueError, match=f"QMRIGENES_NUM_THREADS must be a positive integer.*{bad!r}"):
            n_workers(None)
