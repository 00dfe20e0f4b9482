"""Author–year citations and bibliography labels for the book (a small Sphinx extension).

sphinxcontrib-bibtex's ``author_year`` style writes "et al." only when an entry lists
three or more persons, so ``author = {Min, K. and others}`` became "Min and others".
The ``author_year_etal`` reference style here writes "Min et al." whenever the list is
truncated with ``others`` or has three or more authors. The ``plain_author_year``
bibliography style labels entries "Min et al., 2024" instead of numbers [1]–[N], so the
list matches the text.
"""
from __future__ import annotations

import dataclasses

import pybtex.plugin
import sphinxcontrib.bibtex.plugin
from pybtex.style.template import FieldIsMissing
from pybtex.richtext import Tag, Text
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from pybtex.style import template as ptemplate
from pybtex.style.template import field, first_of, optional
from sphinxcontrib.bibtex.style.referencing import PersonStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import join, node

_ETAL = Text(" ", Tag("em", "et al."))


def _is_others(person) -> bool:
    return str(person) == "others"


@node
def _names(children, data, role, sep, sep2, last_sep, other):
    """Person names; the first author plus ``other`` when the list is long or truncated."""
    assert not children
    try:
        persons = data["entry"].persons[role]
    except KeyError:
        raise FieldIsMissing(role, data["entry"]) from None
    style = data["style"]
    real = [p for p in persons if not _is_others(p)]
    formatted = [style.person.style_plugin.format(p, style.person.abbreviate) for p in real]
    truncated = len(real) < len(persons)
    if other is not None and (truncated or len(formatted) > 2):
        return Text(formatted[0].format_data(data), other)
    return join(sep=sep, sep2=sep2, last_sep=last_sep)[formatted].format_data(data)


@dataclasses.dataclass
class _EtalPersonStyle(PersonStyle):
    def names(self, role, full):
        return _names(role=role, sep=self.sep, sep2=self.sep2, last_sep=self.last_sep,
                      other=None if full else self.other)

    def author_or_editor_or_title(self, full):
        kwargs = dict(sep=self.sep, sep2=self.sep2, last_sep=self.last_sep,
                      other=None if full else self.other)
        return first_of[optional[_names(role="author", **kwargs)],
                        optional[_names(role="editor", **kwargs)],
                        field("title")]


@dataclasses.dataclass
class AuthorYearEtalReferenceStyle(AuthorYearReferenceStyle):
    """``author_year`` with "et al." for lists truncated by ``others``."""

    person: PersonStyle = dataclasses.field(default_factory=_EtalPersonStyle)


def _plain(text: str) -> str:
    return Text.from_latex(text).render_as("text") if "{" in text or "\\" in text else text


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels "Last", "Last and Other" or "Last et al.", then ", year" (a, b on clashes)."""

    def format_labels(self, sorted_entries):
        labels = [self._label(entry) for entry in sorted_entries]
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if counts[label] > 1:
                seen[label] = seen.get(label, 0) + 1
                yield label + "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            else:
                yield label

    @staticmethod
    def _label(entry) -> str:
        persons = entry.persons.get("author") or entry.persons.get("editor") or []
        real = [p for p in persons if not _is_others(p)]
        last = [_plain(" ".join(p.prelast_names + p.last_names)) for p in real]
        if not last:
            who = _plain(entry.fields.get("title", entry.key))
        elif len(last) < len(persons) or len(last) > 2:
            who = f"{last[0]} et al."
        elif len(last) == 2:
            who = f"{last[0]} and {last[1]}"
        else:
            who = last[0]
        year = entry.fields.get("year", "n.d.")
        return f"{who}, {year}"


@ptemplate.node
def _bib_names(children, context, role, **kwargs):
    """Full author list for the bibliography; a list ending in ``others`` ends in "et al."."""
    assert not children
    try:
        persons = context["entry"].persons[role]
    except KeyError:
        raise FieldIsMissing(role, context["entry"]) from None
    style = context["style"]
    real = [p for p in persons if not _is_others(p)]
    formatted = [style.format_name(p, style.abbreviate_names) for p in real]
    if len(real) < len(persons):
        head = ptemplate.join(sep=", ")[formatted].format_data(context)
        return Text(head, ", " if len(real) > 1 else " ", "et al.")
    return ptemplate.join(**kwargs)[formatted].format_data(context)


class PlainAuthorYearStyle(PlainStyle):
    """pybtex's ``plain`` bibliography with author–year labels and "et al."."""

    default_label_style = AuthorYearLabelStyle

    def format_names(self, role, as_sentence=True):
        formatted = _bib_names(role, sep=", ", sep2=" and ", last_sep=", and ")
        return ptemplate.sentence[formatted] if as_sentence else formatted


def _cache_plugin_entry_points() -> None:
    """Look pybtex's plugin entry points up once per process.

    ``pybtex.plugin.find_plugin`` scans the entry points of every installed package on each
    lookup (one per formatted citation and label: about an eighth of a book build). Installed
    entry points do not change during a build; plugins registered at run time
    (``register_plugin``) are still found first, as before.
    """
    import functools

    lookup = pybtex.plugin.entry_points
    if getattr(lookup, "_qmribook_cached", False):
        return

    @functools.lru_cache(maxsize=None)
    def _found(group, name):
        return tuple(lookup(group=group, name=name))

    def entry_points(*, group, name):
        return _found(group, name)

    entry_points._qmribook_cached = True
    pybtex.plugin.entry_points = entry_points


def setup(app):
    _cache_plugin_entry_points()
    app.setup_extension("sphinxcontrib.bibtex")  # it creates the referencing plugin group
    sphinxcontrib.bibtex.plugin.register_plugin("sphinxcontrib.bibtex.style.referencing",
                                                 "author_year_etal", AuthorYearEtalReferenceStyle)
    pybtex.plugin.register_plugin("pybtex.style.formatting", "plain_author_year",
                                  PlainAuthorYearStyle)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
