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
