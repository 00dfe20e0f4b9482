"""The docstring examples of the library and the book package run and print what they say.

An example that no longer matches the code teaches the wrong thing; examples that need the
registered data or a long computation carry ``# doctest: +SKIP`` in the docstring itself.
"""
import doctest
import importlib
import pkgutil

import numpy as np
import pandas as pd
import pytest

import qmribook
import qmrigenes

MODULES = sorted(m.name for pkg in (qmrigenes, qmribook)
                 for m in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + ".")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs={"np": np, "pd": pd, **vars(module)}):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed (output above)"
