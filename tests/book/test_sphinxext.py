"""Tests of the book's study code (qmribook), moved from the library tests."""
from docutils import nodes
from docutils.utils import new_document
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser
from qmribook.sphinxext import mark_table_figures, table_figure


def _doc_with(*labels):
    doc = new_document("test", get_default_settings(Parser))
    for label in labels:
        fig = nodes.figure(ids=[label])
        fig += nodes.caption(text=label)
        doc += fig
    return doc


def test_tab_labels_become_table_figures():
    doc = _doc_with("tab-ch1-betas", "fig-ch1-maps", "tab-ch2-genes")
    assert mark_table_figures(doc) == 2
    kinds = {n["ids"][0]: type(n) for n in doc.findall(nodes.figure)}
    assert kinds == {"tab-ch1-betas": table_figure, "fig-ch1-maps": nodes.figure, "tab-ch2-genes": table_figure}
    assert mark_table_figures(doc) == 0          # idempotent
