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


def _faults(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(qmribook.__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    env.update(extra)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def test_freed_arrays_are_reused_without_page_faults():
    assert _faults() < _PAGES // 2                    # the five arrays reuse the first one's memory


def test_an_explicit_malloc_setting_is_left_alone():
    assert _faults(MALLOC_TRIM_THRESHOLD_="131072") > 4 * _PAGES    # glibc's own rule: mapped afresh
