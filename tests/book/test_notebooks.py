"""Each chapter run outside Sphinx, as a student runs it (nbclient, Run All, in a fresh kernel in
the chapter's folder), shows its figures as images, its tables and the numbers its prose quotes;
no raw object repr.

These chapter checks (marker ``notebook``) run in ``make book``, beside the Sphinx build, on the
executions its ``execute`` step has just made (``.ci/execute_book.py``: every page once, in
parallel, into the cache that Sphinx reads): with ``QMRIBOOK_NB_EXECUTE=0`` (as ``make book``
sets it) they only read that cache (:func:`cached_executions`) and fail on a page whose execution
is missing or stale, so no page is ever executed twice. Run alone (``pytest -m notebook``) they
execute what is not current first (:func:`ensure_executed`, ``QMRIBOOK_NB_JOBS`` pages at a time,
default 2), into the same cache. A cached execution is current only for the same code cells and
the same contents of every module of ``src/qmrigenes`` / ``chapters/qmribook`` the page's kernel
loaded, of the pins and of the data tables. The notebook executed is the one a student gets from
Jupytext: its code cells are checked to be identical.

``make test`` leaves them out (``-m "not notebook"``): it runs every test that needs no executed
chapter. With ``QMRIBOOK_NB_OUT=<folder>`` (outside chapters/) the executed notebooks are also
written there, e.g. to compare their glue with ``python -m qmribook.notebooks``.
"""
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "chapters") not in sys.path:
    sys.path.insert(0, str(ROOT / "chapters"))

from qmribook import notebooks  # noqa: E402

CHAPTERS = sorted((ROOT / "chapters").glob("0*.md"))


def test_glue_references_reads_directives_and_roles():
    md = ("```{glue:figure} ch9-fig-a\n:name: x\n```\n\n```{glue:} ch9-tab\n```\n"
          "Text {glue:text}`ch9-n:.2f` and {glue:text}`other.md::ch8-n`.\n")
    refs = notebooks.glue_references(md)
    assert refs == {"figure": {"ch9-fig-a"}, "any": {"ch9-tab"}, "text": {"ch9-n"}}


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (2, 2)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_shown_counts_what_jupyterlab_renders():
    import base64

    import nbformat

    from qmribook.report import NumberSummary

    png = base64.b64encode(_tiny_png()).decode()
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("x")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": png, "text/plain": "<Figure>"},
                               metadata={"scrapbook": {"name": "f", "mime_prefix": ""}}),
        nbformat.v4.new_output("display_data", data={"application/papermill.record/text/plain": "3"},
                               metadata={"scrapbook": {"name": "n", "mime_prefix": "application/papermill.record/"}}),
        nbformat.v4.new_output("display_data", data={"text/html": NumberSummary({"n": 3})._repr_html_()}),
        nbformat.v4.new_output("execute_result", data={"text/plain": "Report(numbers={'a': 1})"},
                               execution_count=1),
    ]
    nb.cells.append(cell)
    seen = notebooks.shown(nb)
    assert seen["images"] == 1 and seen["glued_images"] == {"f"}
    assert seen["glued_numbers"] == {"n"} and seen["reprs"] == ["Report(numbers={'a': 1})"]
    assert notebooks.glue_values(nb)["n"] == "3"          # a hidden record, read all the same
    assert notebooks.glue_values(nb)["f"].startswith("png pixels sha256 ")
    assert notebooks.glue_values(nb, pixels=False)["f"] == "png width None"


@pytest.fixture(scope="session")
def executed(request):
    """``{chapter path: executed notebook}``: read from the execution cache (``QMRIBOOK_NB_EXECUTE=0``,
    ``make book``), else executed where not current: every notebook page of the book when every
    chapter is selected (a later book build then executes nothing), else the selected chapters."""
    from conftest import load_ci_script

    selected = {item.callspec.params["md"] for item in request.session.items
                if item.originalname == "test_chapter_run_all_shows_figures_tables_and_numbers"}
    eb = load_ci_script("execute_book")
    lines = []
    try:
        if os.environ.get("QMRIBOOK_NB_EXECUTE", "1") == "0":       # make book: read, never execute
            results = eb.cached_executions(sorted(selected), log=lines.append)
        else:
            pages = None if selected >= set(CHAPTERS) else sorted(selected)
            jobs = int(os.environ.get("QMRIBOOK_NB_JOBS", "2"))
            results = eb.ensure_executed(pages, jobs=jobs, log=lines.append)
    except RuntimeError as error:
        pytest.fail(f"{error}\n" + "\n".join(lines), pytrace=False)
    print("\n".join(lines))
    return {page: nb for page, (nb, _, _) in results.items()}


def _code(nb):
    return [c.source for c in nb.cells if c.cell_type == "code"]


@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_executed_notebook_has_the_code_cells_jupytext_gives_a_student(md):
    from conftest import load_ci_script

    assert _code(load_ci_script("execute_book").read_page(md)) == _code(notebooks.read_chapter(md))


@pytest.mark.notebook
@pytest.mark.realdata
@pytest.mark.parametrize("md", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_run_all_shows_figures_tables_and_numbers(md, executed):
    nb = executed[md]
    assert _code(nb) == _code(notebooks.read_chapter(md)), "executed from other code cells"
    if os.environ.get("QMRIBOOK_NB_OUT"):
        import nbformat

        out = Path(os.environ["QMRIBOOK_NB_OUT"]).resolve()
        assert not out.is_relative_to(ROOT / "chapters"), "QMRIBOOK_NB_OUT must be outside chapters/"
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / f"{md.stem}.ipynb")
    glued = notebooks.glue_values(nb, pixels=False)     # which glued names are figures, tables, text
    seen = notebooks.shown(nb)
    refs = notebooks.glue_references(md.read_text(encoding="utf-8"))
    figures = {k for k in refs["figure"] | refs["any"] if glued.get(k, "").startswith("png")}
    tables = {k for k in refs["figure"] | refs["any"] if glued.get(k, "").startswith(("html", "md"))
              and "qmri-interactive" not in glued[k]}
    assert figures and tables, "the chapter places no figure or table"
    assert not figures - seen["glued_images"], "figures the book shows but a Jupyter run does not"
    assert seen["images"] >= len(figures)
    assert not tables - seen["glued_tables"], "tables the book shows but a Jupyter run does not"
    quoted = {k for k in refs["text"] if k in glued}
    assert not quoted - seen["glued_numbers"] - seen["glued_tables"], "numbers quoted but not shown"
    assert not seen["reprs"], f"raw object reprs in the outputs: {seen['reprs']}"
