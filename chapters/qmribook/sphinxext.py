"""Sphinx extension for the book: number glued tables as tables; resolve numrefs quickly.

MyST-NB shows a glued DataFrame through ``{glue:figure}``, which makes a
figure node, so Sphinx would number it "Fig. N". Enabled in ``_config.yml``
(``sphinx.extra_extensions``), this extension turns every figure whose label
starts with ``tab-`` into a :class:`table_figure`, an enumerable node of type
``table``: it is numbered "Table N" in its caption and in ``{numref}`` links,
and rendered exactly like a figure.

It also keeps, during the writing phase, one unpickled copy of each page's doctree for
``{numref}`` resolution: Sphinx's standard domain unpickles the whole target page again
for every reference (about 150 in this book, close to a third of a build). The copies are
only read (to find the target node and its number) and are dropped when the build ends.
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


_NUMREF_DOCTREES: dict = {}


def _install_numref_doctree_cache() -> None:
    from sphinx.domains.std import StandardDomain

    resolve = StandardDomain._resolve_numref_xref
    if getattr(resolve, "_qmribook_cached", False):
        return

    def _resolve_numref_xref(self, env, *args, **kwargs):
        load = env.get_doctree

        def cached(docname):
            if docname not in _NUMREF_DOCTREES:
                _NUMREF_DOCTREES[docname] = load(docname)
            return _NUMREF_DOCTREES[docname]

        env.get_doctree = cached          # this call only; the method is restored below
        try:
            return resolve(self, env, *args, **kwargs)
        finally:
            del env.get_doctree

    _resolve_numref_xref._qmribook_cached = True
    StandardDomain._resolve_numref_xref = _resolve_numref_xref


def _forget_doctrees(*_args) -> None:
    _NUMREF_DOCTREES.clear()


def setup(app):
    _install_numref_doctree_cache()
    app.connect("env-updated", _forget_doctrees)      # pages were (re)read: drop old copies
    app.connect("build-finished", _forget_doctrees)
    app.add_enumerable_node(table_figure, "table",
                            html=(HTML5Translator.visit_figure, HTML5Translator.depart_figure))
    app.add_transform(_GluedTablesAreTables)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
