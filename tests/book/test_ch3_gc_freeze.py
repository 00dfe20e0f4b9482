"""Importing the book package leaves the objects imported so far out of the garbage collector's
full collections (gc.freeze) and runs those collections less often (issue 22, chapter 3's
figures and tables), unless asked not to or the thresholds were chosen by someone else."""
import os
import subprocess
import sys
from pathlib import Path

import qmribook

_PROBE = ("import gc, sys, numpy, matplotlib.pyplot; {setup}; before = gc.get_freeze_count(); import qmribook; "
          "after = gc.get_freeze_count(); a = []; a.append(a); del a; "
          "print(before, after > 10_000, tuple(gc.get_threshold()) == (700, 10, 100), gc.collect() >= 1)")


def _run(extra_env, setup="pass"):
    env = {k: v for k, v in os.environ.items() if k != "QMRIBOOK_KEEP_GC"}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(qmribook.__file__).resolve().parents[1]),
                                         env.get("PYTHONPATH", "")])
    env.update(extra_env)
    out = subprocess.run([sys.executable, "-c", _PROBE.format(setup=setup)], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.split()


def test_importing_the_book_freezes_the_imported_objects_and_later_garbage_is_still_collected():
    before, frozen, tuned, collected = _run({})
    assert before == "0" and frozen == "True" and tuned == "True"     # numpy, matplotlib and the rest
    assert collected == "True"                                         # a cycle made afterwards is freed


def test_the_collector_is_left_alone_when_asked_or_already_tuned():
    assert _run({"QMRIBOOK_KEEP_GC": "1"})[1:] == ["False", "False", "True"]
    assert _run({}, setup="gc.set_threshold(1000, 10, 10)")[1:] == ["False", "False", "True"]
