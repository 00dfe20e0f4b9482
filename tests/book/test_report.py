"""The book's own ``glue`` writes exactly the record ``myst_nb.glue`` writes."""
import numpy as np
import pandas as pd
import pytest

import qmribook.report as report


@pytest.mark.parametrize("value", [0.25, np.float64(-1.5e-7), 15633, "text", pd.DataFrame({"r": [0.1, -0.2]})])
@pytest.mark.parametrize("display", [True, False])
def test_glue_matches_myst_nb(monkeypatch, value, display):
    import IPython.display
    from myst_nb.ext.glue import GLUE_PREFIX
    from myst_nb.ext.glue import glue as myst_glue

    calls = []
    monkeypatch.setattr(IPython.display, "display", lambda *a, **k: calls.append((a, k)))
    import myst_nb.ext.glue as mod
    monkeypatch.setattr(mod, "ipy_display", lambda *a, **k: calls.append((a, k)))
    myst_glue("name", value, display=display)
    report.glue("name", value, display=display)
    assert len(calls) == 2
    assert calls[0] == calls[1]
    assert report.GLUE_PREFIX == GLUE_PREFIX
    keys = calls[1][0][0].keys()
    assert all(k.startswith(GLUE_PREFIX) for k in keys) != display


@pytest.fixture(scope="module")
def fresh_kernel_modules():
    """What a fresh interpreter has imported (one subprocess for both tests below: each pays about
    2 s of CPU for its imports). First ``qmribook.report`` alone and ``show()`` called, then the four
    chapter modules and ``numberstyle`` imported: the lines it prints, in that order."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, pandas as pd, qmribook.report as r; "
            "r.show(r.Report(numbers={'x': 1.5}, tables={'t': pd.DataFrame({'a': [1]})}), chapter='t'); "
            "print('nbformat' in sys.modules, 'matplotlib' in sys.modules); "
            "import qmribook.ch1, qmribook.ch2, qmribook.ch3, qmribook.ch4, qmribook.numberstyle as ns; "
            "print(sorted(m for m in ('sphinx', 'pybtex', 'sphinxcontrib.bibtex') if m in sys.modules)); "
            "print(ns.PastedNumbers.default_priority, 'sphinx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2] / "chapters")
    return out.stdout.strip().splitlines()[-3:]


def test_show_does_not_import_nbformat(fresh_kernel_modules):
    """Printed right after show(), before the chapters: neither nbformat (the glue machinery) nor,
    for numbers and tables alone, matplotlib (a page without figures never loads it)."""
    assert fresh_kernel_modules[0] == "False False"


def test_show_renders_matplotlib_figures_and_glues_the_rest(monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    glued = []
    monkeypatch.setattr(report, "glue", lambda name, value, display=True: glued.append((name, value)))
    monkeypatch.setattr("IPython.display.display", lambda *a, **k: None)
    fig, ax = plt.subplots(figsize=(3, 2))
    ax.plot([0, 1], [1, 0])
    ax.set_title("a line", fontsize=9)
    frame = pd.DataFrame({"a": [1]})
    number = fig.number
    report.show(report.Report(numbers={"n": 2}, tables={"t": frame}, figures={"f": fig}), chapter="x")
    kinds = {name: type(value).__name__ for name, value in glued}
    assert kinds == {"x-n": "int", "x-t": "DataFrame", "x-f": "Figure"}
    assert dict(glued)["x-f"].png.startswith(b"\x89PNG") and number not in plt.get_fignums()   # closed


def test_chapter_modules_do_not_load_sphinx(fresh_kernel_modules):
    """A chapter kernel renders citations and numbers without Sphinx or pybtex (their imports cost
    about 1-2 s of CPU per kernel); the Sphinx transform is still there for the build."""
    first, second = fresh_kernel_modules[1:]
    assert first == "[]"
    assert second == "800 True"
