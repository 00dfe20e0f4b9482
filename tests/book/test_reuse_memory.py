"""Importing the book package lets glibc reuse freed large arrays, unless the user chose (issue 22)."""
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

import qmribook

# five 32.8 MB arrays made and freed one after another: page faults counted after the first
_PROBE = ("import resource, numpy as np, qmribook\n"
          "a = np.ones((160, 160, 160)); del a\n"
          "f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
          "for _ in range(5):\n"
          "    a = np.ones((160, 160, 160)); del a\n"
          "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)")
_PAGES = 160 ** 3 * 8 // 4096                 # page faults of one such array mapped afresh

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                                reason="glibc's malloc only")


def _run(probe, **extra):
    env = {k: v for k, v in os.environ.items() if k not in qmribook._MALLOC_SWITCHES}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(qmribook.__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    env.update(extra)
    return subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)


def _faults(**extra):
    return int(_run(_PROBE, **extra).stdout.strip())


def test_freed_arrays_are_reused_without_page_faults():
    assert _faults() < _PAGES // 2                    # the five arrays reuse the first one's memory


# the same in a thread, two arrays at a time; then the arenas glibc made, from malloc_stats
_THREAD_PROBE = ("import ctypes, resource, threading, numpy as np, qmribook\n"
                 "out = []\n"
                 "def work():\n"
                 "    a = np.ones((160, 160, 160)); b = np.ones((160, 160, 160)); del a, b\n"
                 "    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
                 "    for _ in range(5):\n"
                 "        a = np.ones((160, 160, 160)); b = np.ones((160, 160, 160)); del a, b\n"
                 "    out.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)\n"
                 "t = threading.Thread(target=work); t.start(); t.join()\n"
                 "print(out[0], flush=True)\n"
                 "ctypes.CDLL('libc.so.6').malloc_stats()")


def _thread_probe(**extra):
    """(page faults of ten arrays made and freed in a thread after two, arenas glibc reports)"""
    out = _run(_THREAD_PROBE, **extra)
    return int(out.stdout.strip()), out.stderr.count("Arena ")


def test_a_thread_reuses_its_freed_arrays_from_its_own_arena():
    faults, arenas = _thread_probe()
    assert faults < _PAGES // 2                       # reused in the thread's arena, not mapped afresh
    assert arenas >= 2                                # the thread allocated from an arena of its own


def test_one_arena_for_every_thread_is_what_the_probe_detects():
    # the setting the package no longer makes: the probe tells it apart
    assert _thread_probe(MALLOC_ARENA_MAX="1")[1] == 1


def test_an_explicit_malloc_setting_is_left_alone():
    assert _faults(MALLOC_TRIM_THRESHOLD_="131072") > 4 * _PAGES    # glibc's own rule: mapped afresh
