"""Student edition (chapters/qmribook/student.py): solutions removed and the check that proves it."""
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "chapters") not in sys.path:
    sys.path.insert(0, str(ROOT / "chapters"))

from qmribook import student  # noqa: E402

PAGE = """# A page

```{exercise}
:label: ex-one

Compute the flip angle that maximises the spoiled signal.
```

````{solution} ex-one
:class: dropdown

The answer follows from setting the derivative to zero at the Ernst angle.
````

```{exercise}
:label: ex-two

Say why gated solutions matter here.
```

```{solution-start} ex-two
:class: dropdown
```

Gated solution paragraph with several distinctive words in it.

```{solution-end}
```

Text after the solutions stays visible for every reader of the page.
"""


def test_solution_phrases_cover_plain_and_gated_solutions():
    phrases = student.solution_phrases(PAGE)
    assert "The answer follows from setting the" in phrases
    assert "Gated solution paragraph with several distinctive" in phrases
    assert not any("visible" in p or "maximises" in p for p in phrases)


def test_phrases_quoted_outside_solutions_are_skipped():
    page = PAGE.replace("Say why gated solutions matter here.",
                        "Say why: Gated solution paragraph with several distinctive words.")
    assert "Gated solution paragraph with several distinctive" not in student.solution_phrases(page)


def _build(tmp_path, extensions):
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    src.mkdir(parents=True)
    (src / "index.md").write_text(PAGE, encoding="utf-8")
    out = tmp_path / "html"
    app = Sphinx(str(src), None, str(out), str(tmp_path / "doctrees"), "html",
                 confoverrides={"extensions": extensions, "html_copy_source": False},
                 status=None, warning=None, freshenv=True)
    app.build()
    return out


def test_student_extension_removes_every_solution(tmp_path):
    chapters = tmp_path / "chapters"
    chapters.mkdir()
    (chapters / "page.md").write_text(PAGE, encoding="utf-8")
    full = _build(tmp_path / "full", ["myst_parser", "sphinx_exercise"])
    text = (full / "index.html").read_text(encoding="utf-8")
    assert "Gated solution paragraph" in text and "The answer follows" in text
    with pytest.raises(SystemExit, match="solution"):          # the check does fail on a leak
        student.check_no_solutions(str(chapters), str(full))

    stud = _build(tmp_path / "student", ["myst_parser", "sphinx_exercise", "qmribook.student"])
    text = (stud / "index.html").read_text(encoding="utf-8")
    assert "Gated solution paragraph" not in text and "The answer follows" not in text
    assert "Compute the flip angle" in text and "Text after the solutions" in text
    assert student.check_no_solutions(str(chapters), str(stud)) == len(student.solution_phrases(PAGE)) == 3


def test_write_config_adds_extension_and_keeps_the_rest(tmp_path):
    out = tmp_path / "student" / "_config.yml"
    student.write_config(str(ROOT / "_config.yml"), str(out))
    cfg = yaml.safe_load(out.read_text(encoding="utf-8"))
    orig = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    sphinx, orig_sphinx = cfg["sphinx"], orig["sphinx"]
    if "extensions" in orig_sphinx.get("config", {}):          # the book lists every extension
        assert sphinx["config"]["extensions"] == orig_sphinx["config"]["extensions"] + ["qmribook.student"]
    else:
        assert sphinx["extra_extensions"] == orig_sphinx.get("extra_extensions", []) + ["qmribook.student"]
    assert cfg["sphinx"]["config"]["html_copy_source"] is False
    assert cfg["html"]["use_download_button"] is False
    assert cfg["html"]["use_repository_button"] is False and cfg["launch_buttons"]["binderhub_url"] == ""
    assert cfg["execute"] == orig["execute"] and cfg["bibtex_bibfiles"] == orig["bibtex_bibfiles"]
    assert cfg["title"].endswith("(student edition)")


def test_write_config_extends_a_full_extension_list(tmp_path):
    src = tmp_path / "_config.yml"
    src.write_text(yaml.safe_dump({"title": "T", "sphinx": {"config": {
        "extensions": ["myst_nb", "sphinx_exercise"]}}}), encoding="utf-8")
    out = tmp_path / "student.yml"
    student.write_config(str(src), str(out))
    cfg = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert cfg["sphinx"]["config"]["extensions"] == ["myst_nb", "sphinx_exercise", "qmribook.student"]


def test_student_edition_has_no_download_buttons():
    """Its page sources are not published, so the theme's download buttons (links into
    ``_sources/``) are switched off, whatever the other theme options are."""
    from types import SimpleNamespace

    from qmribook import student

    config = SimpleNamespace(html_theme_options={"repository_url": "x", "use_download_button": True})
    student.no_download_buttons(None, config)
    assert config.html_theme_options == {"repository_url": "x", "use_download_button": False}
    config = SimpleNamespace(html_theme_options=None)
    student.no_download_buttons(None, config)
    assert config.html_theme_options == {"use_download_button": False}


# --------------------------------------------------------------------------- student notebooks
def test_split_solutions_removes_plain_and_gated_solutions_and_adds_self_checks():
    import jupytext

    page = ("---\njupytext:\n  text_representation:\n    extension: .md\n    format_name: myst\n"
            "kernelspec:\n  display_name: Python 3\n  language: python\n  name: python3\n---\n\n"
            + PAGE.replace(":label: ex-two", ":label: ex-ch2-bh").replace("{solution-start} ex-two",
                                                                       "{solution-start} ex-ch2-bh")
            .replace("Gated solution paragraph with several distinctive words in it.\n",
                     "Gated solution paragraph.\n\n```{code-cell} ipython3\nsecret = 1\n```\n\nMore gated text.\n"))
    nb = jupytext.reads(page, fmt="md:myst")
    out, removed = student.split_solutions(nb)
    text = "\n".join(c.source for c in out.cells)
    assert "The answer follows" not in text and "Gated solution" not in text and "More gated" not in text
    assert "secret" not in text and "{solution" not in text
    assert "Text after the solutions stays visible" in text and "Compute the flip angle" in text
    assert "check('ex-ch2-bh', ...)" in text and removed >= 3
    assert any(c.source == "secret = 1" for c in nb.cells)      # the input is left as it was


def test_write_notebooks_refuses_chapters_folder(tmp_path):
    with pytest.raises(SystemExit, match="outside"):
        student.write_notebooks(str(tmp_path), str(tmp_path / "nb"))


def test_every_chapter_has_student_notebook_without_solutions_that_runs_on_its_own(tmp_path):
    """Each student notebook keeps every cell the chapter needs: no kept cell reads a name that
    only a removed (solution) cell defines; the answer key is the full chapter."""
    import ast

    import nbformat

    paths = student.write_notebooks(str(ROOT / "chapters"), str(tmp_path))
    chapters = sorted((ROOT / "chapters").glob("0*.md"))
    assert len(paths) == 2 * len(chapters)
    for md in chapters:
        nb_student = nbformat.read(tmp_path / "notebooks" / f"{md.stem}.ipynb", as_version=4)
        nb_answers = nbformat.read(tmp_path / "answers" / f"{md.stem}.ipynb", as_version=4)
        text = "\n".join(c.source for c in nb_student.cells)
        assert "{solution" not in text
        assert "{solution" in "\n".join(c.source for c in nb_answers.cells)
        phrases = student.solution_phrases(md.read_text(encoding="utf-8"))
        assert phrases and not [p for p in phrases if p in " ".join(text.split())]

        def names(cells, ctx):
            out = set()
            for c in cells:
                if c.cell_type == "code":
                    out |= {n.id for n in ast.walk(ast.parse(c.source)) if isinstance(n, ast.Name)
                            and isinstance(n.ctx, ctx)}
            return out

        kept = [c.source for c in nb_student.cells]
        removed = [c for c in nb_answers.cells if c.cell_type == "code" and c.source not in kept]
        missing = (names(nb_student.cells, ast.Load) - names(nb_student.cells, ast.Store)
                   ) & names(removed, ast.Store)
        assert not missing, f"{md.name}: kept cells use names defined only in solutions: {missing}"
        nbformat.validate(nb_student)
