"""Glued numbers in one style (chapters/qmribook/numberstyle.py)."""
import pytest
from docutils import nodes
from docutils.utils import new_document
from docutils.frontend import get_default_settings
from docutils.parsers.rst import Parser

from qmribook import numberstyle

@pytest.mark.parametrize("raw, shown", [
    ("3.6e-07", "3.6\u00d710\u207b\u2077"),
    ("1.23E+05", "1.23\u00d710\u2075"),
    ("1e-4", "10\u207b\u2074"),
    ("-0.20", "\u22120.20"),
    ("r = -0.3 (p = 2.0e-03)", "r = \u22120.3 (p = 2.0\u00d710\u207b\u00b3)"),
    ("2026-12-05", "2026-12-05"),          # dates and ranges keep their hyphens
    ("5-10 genes", "5-10 genes"),
    ("FTL, TFRC", "FTL, TFRC"),
    ("0.05", "0.05"),
])
def test_number_text(raw, shown):
    assert numberstyle.number_text(raw) == shown

def _transformed(*parts) -> str:
    """The text of a paragraph of ``parts`` after the transform: a str is prose, a 1-tuple a
    pasted (glued) value."""
    doc = new_document("test", get_default_settings(Parser))
    para = nodes.paragraph()
    for part in parts:
        para += (nodes.inline(part[0], part[0], classes=["pasted-text"]) if isinstance(part, tuple)
                 else nodes.Text(part))
    doc += para
    numberstyle.PastedNumbers(doc).apply()
    return para.astext()


def test_transform_rewrites_only_pasted_values():
    assert _transformed("fit -1e-3 in prose ", ("3.6e-07",)) == "fit -1e-3 in prose 3.6\u00d710\u207b\u2077"


@pytest.mark.parametrize("raw, shown", [
    ("15633", "15,633"), ("235375", "235,375"), ("1081", "1,081"), ("−12000", "−12,000"),
    ("2016", "2016"),                       # a year keeps its digits together
    ("880", "880"), ("0.25", "0.25"), ("10000 spins", "10000 spins"),
])
def test_count_text(raw, shown):
    assert numberstyle.count_text(raw) == shown


@pytest.mark.parametrize("count, after, shown", [
    ("1", " gene(s) are new", " gene are new"),
    ("0", " gene(s).", " genes."),
    ("3", " spin-null call(s) and", " spin-null calls and"),
    ("2", " best component(s)", " best components"),
    ("1,081", " vertex pair(s)", " vertex pairs"),
    ("1", " of them", " of them"),            # nothing to agree
])
def test_agree(count, after, shown):
    assert numberstyle.agree(count, after) == shown


def test_transform_separates_counts_and_agrees_plurals():
    assert (_transformed("We tested ", ("15633",), " gene(s); ", ("1",), " component(s) won, and prose gene(s) stay.")
            == "We tested 15,633 genes; 1 component won, and prose gene(s) stay.")


@pytest.mark.parametrize("after, shown", [
    (" % NRMSE", "\u00a0% NRMSE"), (" ppb;", "\u00a0ppb;"), (" s (warm-started", "\u00a0s (warm-started"),
    (" mm²)", "\u00a0mm²)"), (" ppm·mm", "\u00a0ppm·mm"), (" p.u.", "\u00a0p.u."), (" 1/s", "\u00a01/s"),
    (" spins", " spins"), (" subjects", " subjects"), (" times the", " times the"), (" mmol", " mmol"),
    ("% already joined", "% already joined"),
])
def test_bind_unit(after, shown):
    assert numberstyle.bind_unit(after) == shown


def test_transform_keeps_a_glued_number_with_its_unit_and_symbol_on_one_line():
    assert (_transformed("NRMSE ", ("71.4",), " % after ", ("20",), " iteration(s), prose 5 % stays at λ = ",
                         ("0.001",), " mm², not a == b")
            == "NRMSE 71.4\u00a0% after 20 iterations, prose 5 % stays at λ\u00a0=\u00a00.001\u00a0mm², not a == b")
