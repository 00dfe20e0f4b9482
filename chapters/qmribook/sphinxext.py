"""Sphinx extension for the book: number glued tables as tables.

MyST-NB shows a glued DataFrame through ``{glue:figure}``, which makes a
figure node, so Sphinx would number it "Fig. N". Enabled in ``_config.yml``
(``sphinx.extra_extensions``), this extension turns every figure whose label
starts with ``tab-`` into a :class:`table_figure`, an enumerable node of type
``table``: it is numbered "Table N" in its caption and in ``{numref}`` links,
and rendered exactly like a figure.
"""
from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.writers.html5 import HTML5Translator

__all__ = ["table_figure", "mark_table_figures", "setup"]


class table_figure(nodes.figure):
    """A figure node holding a table (numbered with the tables)."""


def mark_table_figures(document: nodes.document, *, prefix: str = "tab-") -> int:
    """Re-class figures labelled ``prefix...`` as :class:`table_figure`; return how many."""
    count = 0
    for node in list(document.findall(nodes.figure)):
        if type(node) is nodes.figure and any(i.startswith(prefix) for i in node["ids"]):
            node.__class__ = table_figure
            count += 1
    return count


class _GluedTablesAreTables(SphinxTransform):
    default_priority = 200

    def apply(self, **kwargs):
        mark_table_figures(self.document)


def setup(app):
    app.add_enumerable_node(table_figure, "table",
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.add_transform(_GluedTablesAreTables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
