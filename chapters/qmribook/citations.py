"""Author–year text of the book's citations inside tables and figure legends.

Kept apart from :mod:`qmribook.citestyle` (the Sphinx/pybtex styles of the rendered book), whose
imports load Sphinx: a chapter kernel needs only this renderer, and importing Sphinx cost about
1.7 s of CPU in every kernel that renders a citation.
"""
from __future__ import annotations


def author_year(keys: str, *, bib=None) -> str:
    """Author-year text of ``;``-separated keys of the book's ``references.bib`` ("Min et al. 2024").

    The one renderer of citations inside tables and figure legends, with the in-text rule of
    :class:`AuthorYearEtalReferenceStyle`: one author "Min 2024", two "Min and Li 2024", three or more
    (or a list truncated with ``others``) "Min et al. 2024"; several keys joined by "; ".
    """
    import re

    from .paths import BIBLIOGRAPHY

    text = (bib or BIBLIOGRAPHY).read_text(encoding="utf-8")
    out = []
    for key in [k.strip() for k in str(keys).split(";") if k.strip()]:
        m = re.search(r"@\w+\{" + re.escape(key) + r",(.*?)\n\}", text, flags=re.S)
        if m is None:
            raise KeyError(f"citation key {key!r} not in {bib or BIBLIOGRAPHY}")
        entry = m.group(1)
        author = re.search(r"author\s*=\s*\{(.*?)\},?\s*\n", entry, flags=re.S)
        year = re.search(r"year\s*=\s*\{?(\d{4})", entry)
        if author is None or year is None:
            raise ValueError(f"{key!r} has no author or year")
        people = [a.strip() for a in author.group(1).split(" and ")]

        def last(person):
            name = re.sub(r"[{}]", "", person.split(",")[0].strip())
            return name.replace('\\"a', "ä").replace('\\"o', "ö").replace('\\"u', "ü")

        if len(people) == 1:
            out.append(f"{last(people[0])} {year.group(1)}")
        elif len(people) == 2 and people[1] != "others":
            out.append(f"{last(people[0])} and {last(people[1])} {year.group(1)}")
        else:
            out.append(f"{last(people[0])} et al. {year.group(1)}")
    return "; ".join(out)
