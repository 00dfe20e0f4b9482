"""qmrigenes.figures is organised by what a figure draws, and every builder is reachable from the package."""
import importlib
import inspect

import qmrigenes.figures as figures

MODULES = ("surfaces", "slices", "regression", "distributions", "matrices", "curves", "style")


def test_every_public_builder_is_exported_once_from_the_package():
    seen = {}
    for name in MODULES:
        mod = importlib.import_module(f"qmrigenes.figures.{name}")
        for public in mod.__all__:
            assert public not in seen, f"{public} defined in both {seen.get(public)} and {name}"
            seen[public] = name
            assert getattr(figures, public) is getattr(mod, public)
    assert sorted(seen) == sorted(figures.__all__)


def test_modules_name_what_they_draw_not_a_chapter():
    for name in MODULES:
        doc = importlib.import_module(f"qmrigenes.figures.{name}").__doc__
        assert "Chapter" not in doc and "chapter" not in doc.split("\n")[0]
    for public in figures.__all__:
        obj = getattr(figures, public)
        if inspect.isfunction(obj):
            assert "figure" not in public.removeprefix("plot_"), public     # no plot_figure1-style names
            assert public.startswith("plot_") or public == "deep_nuclei_slice", public


def test_one_minimum_font_and_width():
    from qmrigenes.figures import curves, matrices, regression, slices, style

    for mod in (curves, matrices, regression, slices):
        assert not hasattr(mod, "MIN_FONT") and not hasattr(mod, "MAX_WIDTH")
    assert style.MIN_FONT_PT == 9 and style.COLUMN_WIDTH_IN == 7.5
