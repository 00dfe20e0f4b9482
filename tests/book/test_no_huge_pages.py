"""Importing the book package turns numpy's huge-page hint off, unless the user chose (issue 22)."""
import os
import subprocess
import sys

from pathlib import Path

import pytest

import qmribook

_PROBE = ("import qmribook; from numpy._core.multiarray import _get_madvise_hugepage; "
          "print(_get_madvise_hugepage())")


def _hint(env_value):
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(qmribook.__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    if env_value is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = env_value
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_book_kernels_use_ordinary_pages():
    pytest.importorskip("numpy._core.multiarray")
    assert _hint(None) == "False"


def test_an_explicit_numpy_setting_is_left_alone():
    pytest.importorskip("numpy._core.multiarray")
    assert _hint("1") == "True"
