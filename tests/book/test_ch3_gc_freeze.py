"""Importing the book package leaves the objects imported so far out of the garbage collector's
full collections (gc.freeze; issue 22, chapter 3's figures and tables), unless asked not to."""
import os
import subprocess
import sys
from pathlib import Path

import qmribook

_PROBE = ("import gc, numpy, matplotlib.pyplot; before = gc.get_freeze_count(); import qmribook; "
          "after = gc.get_freeze_count(); a = []; a.append(a); del a; "
          "print(before, after, after > 10_000, gc.collect() >= 1)")


def _run(extra_env):
    env = {k: v for k, v in os.environ.items() if k != "QMRIBOOK_NO_GC_FREEZE"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(qmribook.__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    env.update(extra_env)
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_importing_the_book_freezes_the_imported_objects_and_later_garbage_is_still_collected():
    before, after, many, collected = _run({})
    assert before == "0" and many == "True"            # numpy, matplotlib and the rest: frozen
    assert collected == "True"                         # a cycle made afterwards is still freed


def test_the_freeze_can_be_turned_off():
    before, after, many, collected = _run({"QMRIBOOK_NO_GC_FREEZE": "1"})
    assert after == "0" and collected == "True"
