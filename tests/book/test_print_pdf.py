"""The PDF print step (.ci/print_pdf.py): a book-like PDF, and failure on clipped tables and local links."""
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = [pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed"),
              pytest.mark.skipif(shutil.which("pdfinfo") is None, reason="poppler-utils is not installed")]
pytest.importorskip("playwright")

PAGE = """<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="print.css">
<style>body {{ font-family: sans-serif; }}</style></head>
<body><article class="bd-article"><section id="book"><h1>The book</h1>
<section id="about"><h2>About</h2>
<p>See <a href="#later">the later chapter</a>, the <a href="other.html#later">same place by page</a>,
<a href="https://example.org/doi">a DOI</a> and <a href="_tables/t.csv" download>a CSV</a>.</p>{body}</section>
<div class="toctree-wrapper"><span id="document-chapters/later"></span>
<section id="later"><h2>Later chapter</h2><p>Text.</p>
<figure><figcaption><span class="caption-number">Table 1 </span><span class="caption-text">Long.</span></figcaption>
<details class="qmri-fold"><summary>The complete table</summary>
<table><tr><td>row</td></tr></table></details></figure></section></div></section></article></body></html>"""

WIDE = ('<div style="overflow-x:auto;max-width:100%"><table><tr>'
        + "".join(f'<td style="white-space:nowrap">column_{i}_with_a_long_unbreakable_value</td>' for i in range(12))
        + "</tr></table></div>")


def _load():
    from conftest import load_ci_script

    return load_ci_script("print_pdf")


@pytest.fixture(scope="module")
def context():
    """One headless Chromium for every printing of this file."""
    from conftest import load_ci_script

    with load_ci_script("browser_check").browser(CHROMIUM) as ctx:
        yield ctx


def _site(tmp_path, body, css):
    site = tmp_path / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text('<meta http-equiv="refresh" content="0; url=book.html" />')
    (site / "book.html").write_text(PAGE.format(body=body), encoding="utf-8")
    (site / "print.css").write_text(css, encoding="utf-8")
    return site


def test_book_pdf_with_internal_links_and_appendix(tmp_path, context):
    pp = _load()
    css = (ROOT / "_static" / "print.css").read_text()
    site = _site(tmp_path, WIDE, css)
    res = pp.print_pdf(site, tmp_path / "book.pdf", context=context)
    assert res["clipped"] == [], res["clipped"]        # the book's print sheet fits the wide table
    assert res["size"].startswith("595") and "A4" in res["size"]
    assert res["pages"] >= 2                           # chapters start on a new page
    assert res["outline"] >= 3                         # bookmarks from the headings
    contents = res["contents"]           # a contents list with page numbers, linked inside the PDF
    assert list(contents) == ["About", "Later chapter", "Appendix: complete tables", "A.1 Table 1 (complete)"]
    assert all(contents.values()) and contents["Later chapter"] > contents["About"]   # a chapter on a new page
    assert contents["Appendix: complete tables"] > contents["Later chapter"]
    assert res["links"]["internal"] == 3 + len(contents)
    assert res["links"]["external"] == 1 and res["links"]["unlinked"] == 1
    assert res["bad_urls"] == [] and res["urls"] == ["https://example.org/doi"]
    assert res["appendix"] == 1                     # the folded table moved there, linked from its place
    assert pp.main(["--html", str(site), "--pdf", str(tmp_path / "ok.pdf")], context=context) == 0


def test_clipped_table_fails(tmp_path, context):
    pp = _load()
    site = _site(tmp_path, WIDE, "/* no print sheet: the scroll box clips the table on paper */")
    res = pp.print_pdf(site, tmp_path / "clip.pdf", context=context)
    assert res["clipped"] and res["clipped"][0]["where"].startswith("table")   # the wide table is reported
    assert pp.main(["--html", str(site), "--pdf", str(tmp_path / "bad.pdf")], context=context) == 1
    assert not (tmp_path / "bad.pdf").exists() and (tmp_path / "bad.failed.pdf").exists()


def test_local_links_are_reported():
    pp = _load()
    urls = ["file:///build/chapters/x.html", "http://127.0.0.1:8000/a.csv", "http://localhost/b",
            "https://doi.org/10.1002/ana.23974", "https://localhost.example.org/"]
    assert pp.local_urls(urls) == urls[:3]


CAPTIONED = ('<div style="break-before: page; height: {spacer}px"></div>'
             '<figure><figcaption><span class="caption-number">Table {number} </span><span class="caption-text">Metrics '
             'of the solutions near the foot of a page.</span></figcaption><div class="qmri-scroll"><table>'
             '<thead><tr><th>method</th><th>RMSE</th></tr></thead><tbody>'
             + "".join(f"<tr><td>solver {i}</td><td>{i}.0</td></tr>" for i in range(30)) + "</tbody></table></div></figure>")


def test_table_caption_kept_with_its_table(tmp_path, context):
    """A caption that would end a page (its table starting on the next) is reported; the book's
    print sheet keeps it with the table's first rows."""
    pp = _load()
    found = {}
    # three tables, each on a page of its own after a spacer: the caption lands at the foot of the
    # page for one of them at least (one document per style, so two printings, not six)
    body = "".join(CAPTIONED.format(spacer=spacer, number=n) for n, spacer in enumerate((930, 950, 965), start=2))
    for name, css in (("plain", "figcaption { display: block; }"), ("book", (ROOT / "_static" / "print.css").read_text())):
        site = _site(tmp_path / name, body, css)
        res = pp.print_pdf(site, tmp_path / f"{name}.pdf", context=context)
        assert res["captioned_tables"] == 3
        found[name] = res["caption_apart"]
    assert found["plain"] and all(f["table_page"] == f["caption_page"] + 1 for f in found["plain"])
    assert found["book"] == [], found["book"]
