"""Sphinx extension: glued numbers in the book's one number style.

A number glued into the prose (``{glue:text}`key:.1e```, or a float whose ``str`` is in
e-notation) would print as ``3.6e-07`` or with a hyphen-minus sign. This transform rewrites the
text of every pasted value (``span.pasted-text``) once, at build time, by the rules of
:mod:`qmribook.display`: ``3.6e-07`` -> ``3.6×10⁻⁷``, ``-0.20`` -> ``−0.20``, a count
``15633`` -> ``15,633`` (:func:`count_text`); and the word after a glued count agrees with it
(``{glue:text}`n` gene(s)`` reads "1 gene", "0 genes", "3 genes"; :func:`agree`); a unit after
a glued number stays on its line (:func:`bind_unit`), as does a "λ = " before it
(:func:`bind_equals`). Text that is not a pasted value (code, formulas, prose) is left alone.
"""
from __future__ import annotations

import re


_SUP = str.maketrans("-+0123456789", "\u207b\u207a\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")
_E = re.compile(r"(?<![\w.])([-+\u2212]?\d+(?:\.\d+)?)[eE]([-+]?)0*(\d+)(?![\w.])")
_SIGN = re.compile(r"(^|[\s(\[=:;/,])-(?=\d)")


def number_text(text: str) -> str:
    """One number style for a piece of text: ×10ⁿ for e-notation, a true minus sign.

    Examples
    --------
    >>> number_text("3.6e-07")
    '3.6×10⁻⁷'
    >>> number_text("-0.20 and 1e+03")
    '−0.20 and 10³'
    """
    def sci(m):
        mantissa, sign, exponent = m.group(1), m.group(2), m.group(3)
        exponent = ("-" if sign == "-" else "") + exponent
        if mantissa.lstrip("-+\u2212") in {"1", "1.0"}:
            prefix = mantissa[:-len(mantissa.lstrip("-+\u2212"))]
            return f"{prefix}10{exponent.translate(_SUP)}"
        return f"{mantissa}\u00d710{exponent.translate(_SUP)}"

    text = _E.sub(sci, text)
    return _SIGN.sub(lambda m: m.group(1) + "\u2212", text)


_COUNT = re.compile(r"^([-\u2212]?)(\d{4,})$")
#: "(s)" after up to three words that follow a glued count: "gene(s)", "gene-null call(s)".
_PLURAL = re.compile(r"^(\s+(?:[\w-]+\s+){0,2}[\w-]*?[a-z])\(s\)")


def count_text(text: str) -> str:
    """A glued whole number with thousands separators (``15633`` -> ``15,633``).

    Only a value that is nothing but an integer of 4 or more digits is changed; a 4-digit
    value between 1900 and 2099 is taken for a year and left alone.

    Examples
    --------
    >>> count_text("235375"), count_text("1081"), count_text("2016"), count_text("0.25")
    ('235,375', '1,081', '2016', '0.25')
    """
    m = _COUNT.match(text.strip())
    if not m or (len(m.group(2)) == 4 and 1900 <= int(m.group(2)) <= 2099):
        return text
    return m.group(1) + f"{int(m.group(2)):,}"


def agree(count: str, following: str) -> str:
    """``following`` with a "word(s)" after a count made singular or plural.

    Examples
    --------
    >>> agree("1", " gene(s) are new"), agree("0", " gene(s)"), agree("3", " spin-null call(s) and")
    (' gene are new', ' genes', ' spin-null calls and')
    """
    m = _PLURAL.match(following)
    try:
        value = float(count.replace(",", "").replace("\u2212", "-"))
    except ValueError:
        return following
    if not m:
        return following
    return m.group(1) + ("" if value == 1 else "s") + following[m.end():]


#: A unit after a glued number: the space before it becomes a no-break space.
_UNIT = re.compile(r"^ (?=(?:%|‰|ppb|ppm|p\.u\.|mm|cm|ms|s|min|Hz|T|1/s|GB|MB|°)(?![A-Za-z]))")


def bind_unit(following: str) -> str:
    r"""``following`` with the space before a unit made a no-break space (U+00A0).

    A narrow column (a phone) would otherwise break "71.4 %" or "3 ppb" between the number and
    its unit. Words that are not units keep their ordinary space.

    Examples
    --------
    >>> bind_unit(" % per iteration"), bind_unit(" ppm·mm)"), bind_unit(" s (warm)"), bind_unit(" spins")
    ('\xa0% per iteration', '\xa0ppm·mm)', '\xa0s (warm)', ' spins')
    """
    return _UNIT.sub("\u00a0", following, count=1)


_EQUALS = re.compile(r"(\S) = $")


def bind_equals(preceding: str) -> str:
    r"""``preceding`` with a final "symbol = " bound to the glued number that follows it.

    "λ = 0.001" and "(p = 0.03" then never break around the equals sign.

    Examples
    --------
    >>> bind_equals("(TV, λ = "), bind_equals("scores "), bind_equals("a == ")
    ('(TV, λ\xa0=\xa0', 'scores ', 'a == ')
    """
    return _EQUALS.sub("\\1\u00a0=\u00a0", preceding)


def _pasted_numbers_class():
    """Build the Sphinx transform on first use: a chapter kernel imports this module for
    :func:`number_text` and need not load Sphinx (about 1 s of CPU) for it."""
    from docutils import nodes
    from sphinx.transforms import SphinxTransform

    class PastedNumbers(SphinxTransform):
        """Rewrite the text of every pasted (glued) inline value in the book's number style."""

        default_priority = 800

        def apply(self, **kwargs) -> None:
            for node in list(self.document.findall(nodes.inline)):
                if "pasted-text" not in node.get("classes", []):
                    continue
                for text in list(node.findall(nodes.Text)):
                    new = count_text(number_text(str(text)))
                    if new != str(text):
                        text.parent.replace(text, nodes.Text(new))
                before = _previous_sibling(node)
                if isinstance(before, nodes.Text):
                    new = bind_equals(str(before))
                    if new != str(before):
                        before.parent.replace(before, nodes.Text(new))
                after = node.next_node(descend=False, siblings=True)
                if isinstance(after, nodes.Text):
                    new = bind_unit(agree(node.astext(), str(after)))
                    if new != str(after):
                        after.parent.replace(after, nodes.Text(new))

    def _previous_sibling(node):
        index = node.parent.index(node) if node.parent is not None else 0
        return node.parent[index - 1] if index > 0 else None

    return PastedNumbers


def __getattr__(name):
    if name == "PastedNumbers":       # the transform class, built once on first access
        cls = globals()["PastedNumbers"] = _pasted_numbers_class()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def setup(app):
    app.add_post_transform(__getattr__("PastedNumbers"))
    return {"parallel_read_safe": True, "parallel_write_safe": True}
