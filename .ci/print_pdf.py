#!/usr/bin/env python3
"""Print the single-page HTML book to a PDF that reads like a book, and check it.

Usage: python .ci/print_pdf.py --html _build/singlehtml --pdf _build/pdf/book.pdf

The single-page build (``jupyter-book build --builder singlehtml``) is served from a localhost
HTTP server and opened in headless Chromium (Debian's ``chromium``, driven by Playwright),
offline: every request to another host is blocked. Before printing, in print media:

- links are made to work on paper: a link to a place in the book becomes a jump inside the
  PDF (``#id``); a link to a file of the HTML book (CSV download, full-size figure, page
  source) is turned into plain text, since a PDF reader cannot follow it; links to other
  sites stay;
- the print layout is checked: a table, figure, formula or code block wider than the page's
  text block, or cut by a box that hides its overflow, is a **clipped** element; after printing,
  a table caption that ends a page while its table starts on the next is reported (the PDF's
  text is searched for each caption and its table's first header).

The PDF is A4 with page numbers in the footer ("n / N"), a document outline (bookmarks, from
the headings) and tagged structure. After printing, the PDF's link targets are read back with
``pdfinfo -url`` (poppler-utils) and its text with ``pdftotext``.

Exit status 1 (and no PDF kept) if any element is clipped, a table caption is apart from its table, any link points to ``file://`` or to
the local server, or raw TeX is left in the text (MathJax did not run).
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
import sys
import urllib.parse
from pathlib import Path

HERE = Path(__file__).resolve().parent
A4_MM = (210, 297)
MARGIN_MM = {"top": 16, "bottom": 18, "left": 17, "right": 17}
PX_PER_MM = 96 / 25.4

FOOTER = ('<div style="font-family: sans-serif; font-size: 8pt; color: #333; width: 100%; '
          'text-align: center;"><span class="pageNumber"></span> / <span class="totalPages"></span></div>')


def _browser_check():
    """The browser check module (its server, Chromium lookup and launch flags are shared)."""
    spec = importlib.util.spec_from_file_location("browser_check", HERE / "browser_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def root_page(html: Path) -> str:
    """The page to print: the whole book, at the build root.

    The single-page build writes the book as ``chapters/<root>.html`` (index.html redirects to
    it) but with every link relative to the build root, so a copy of it at the root
    (``book.html``) is printed: there its scripts (MathJax), images and links resolve.
    """
    index = (html / "index.html").read_text(encoding="utf-8", errors="replace")
    m = re.search(r'url=([^" ]+)"', index)
    if not (m and (html / m.group(1)).is_file()):
        return "index.html"
    if (html / m.group(1)).resolve() != (html / "book.html").resolve():
        shutil.copyfile(html / m.group(1), html / "book.html")
    return "book.html"


# Wait until MathJax (loaded with defer) has typeset the page, at most a minute.
MATHJAX_JS = r"""
async () => {
  if (!document.querySelector("script[src*='mathjax']")) return "no MathJax";
  for (let i = 0; i < 600 && !(window.MathJax && MathJax.startup && MathJax.startup.promise); i++)
    await new Promise(r => setTimeout(r, 100));
  if (!(window.MathJax && MathJax.startup)) return "MathJax did not load";
  try { await MathJax.startup.promise; } catch (e) { return "MathJax failed: " + e; }
  return "typeset";
}
"""

# Runs in the page before printing: complete tables to an appendix, folds opened, links.
APPENDIX_JS = r"""
() => {
  const article = document.querySelector("article.bd-article") || document.body;
  const folds = Array.from(article.querySelectorAll("details.qmri-fold"));
  let moved = 0;
  if (folds.length) {
    const app = document.createElement("section");
    app.id = "qmri-appendix";
    const wrappers = article.querySelectorAll(".toctree-wrapper");
    const wrapper = wrappers.length ? wrappers[wrappers.length - 1] : null;   // at the end of the book
    const h = document.createElement(wrapper ? "h2" : "h1");
    h.textContent = "Appendix: complete tables";
    app.appendChild(h);
    const intro = document.createElement("p");
    intro.textContent = "Long tables are summarised in the text; here they are in full, in the order they appear.";
    app.appendChild(intro);
    folds.forEach((fold, i) => {
      const fig = fold.closest("figure");
      const num = fig && fig.querySelector("figcaption .caption-number");
      const cap = fig && fig.querySelector("figcaption .caption-text");
      const sec = fold.closest("section");
      const title = (num ? num.textContent.trim() + " (complete)" :
                     (fold.querySelector("summary") || {}).textContent || "Complete table");
      const id = "qmri-appendix-" + (i + 1);
      const sub = document.createElement("section");
      sub.id = id;
      const h2 = document.createElement(wrapper ? "h3" : "h2");
      h2.textContent = "A." + (i + 1) + " " + title;
      sub.appendChild(h2);
      app.appendChild(sub);
      if (cap) { const p = document.createElement("p"); p.textContent = cap.textContent.trim(); sub.appendChild(p); }
      else if (sec && sec.querySelector("h1, h2, h3, h4")) {
        const p = document.createElement("p");
        p.textContent = "From: " + sec.querySelector("h1, h2, h3, h4").textContent.replace("#", "").trim();
        sub.appendChild(p);
      }
      const note = document.createElement("p");
      note.className = "qmri-appendix-note";
      const link = document.createElement("a");
      link.href = "#" + id;
      link.textContent = "Appendix A." + (i + 1);
      note.append("The complete table is in ", link, ".");
      const box = document.createElement("div");
      Array.from(fold.childNodes).forEach(n => { if (!(n.tagName && n.tagName.toLowerCase() === "summary")) box.appendChild(n); });
      sub.appendChild(box);
      fold.replaceWith(note);
      moved += 1;
    });
    (wrapper || article.querySelector(":scope > section:last-of-type") || article).appendChild(app);
  }
  // every other fold (checksums, long values) is printed open
  document.querySelectorAll("details").forEach(d => { d.open = true; });
  // opened dropdowns of sphinx-design hide their body until opened by their own script
  document.querySelectorAll(".sd-summary-content, .toggle-details__content").forEach(e => { e.style.display = ""; });
  return moved;
}
"""

PREPARE_JS = r"""
() => {
  const here = new URL(location.href);
  const stats = {internal: 0, external: 0, unlinked: 0, unlinked_examples: []};
  const ids = new Set(Array.from(document.querySelectorAll("[id]")).map(e => e.id));
  const unwrap = (a) => {
    const span = document.createElement("span");
    span.className = (a.className || "") + " qmri-print-unlinked";
    while (a.firstChild) span.appendChild(a.firstChild);
    a.replaceWith(span);
    stats.unlinked += 1;
    if (stats.unlinked_examples.length < 5) stats.unlinked_examples.push(a.getAttribute("href"));
  };
  Array.from(document.querySelectorAll("a[href]")).forEach(a => {
    const raw = a.getAttribute("href");
    let url;
    try { url = new URL(raw, here); } catch (e) { unwrap(a); return; }
    if (url.protocol === "mailto:" ) { stats.external += 1; return; }
    if (url.origin !== here.origin) {
      if (url.protocol === "http:" || url.protocol === "https:") { stats.external += 1; return; }
      unwrap(a); return;
    }
    // same server: a place in this document, or a page of the book that the single page holds
    const hash = decodeURIComponent(url.hash.slice(1));
    if (url.pathname === here.pathname && (hash === "" || ids.has(hash))) {
      a.setAttribute("href", hash ? "#" + hash : "#");
      stats.internal += 1; return;
    }
    if (url.pathname.endsWith(".html")) {
      const doc = "document-" + url.pathname.replace(/^\//, "").replace(/\.html$/, "");
      const target = hash && ids.has(hash) ? hash : (ids.has(doc) ? doc : null);
      if (target) { a.setAttribute("href", "#" + target); stats.internal += 1; return; }
    }
    unwrap(a);   // a file of the HTML book (CSV, image, source): not reachable from paper
  });
  return stats;
}
"""

# A contents list after the title page (chapters and their sections), linked inside the PDF;
# page numbers are filled in after a first printing (pdftotext tells where each heading is).
TOC_JS = r"""
() => {
  const article = document.querySelector("article.bd-article") || document.body;
  // chapter level: the sections of the root page and every page the book includes; below them,
  // their own sections
  const wrapper = article.querySelector(".toctree-wrapper");
  const root = wrapper ? wrapper.closest("section") : null;
  const top = [];
  if (root) Array.from(root.children).forEach(c => {
    if (c.tagName === "SECTION") top.push(c);
    if (c.classList.contains("toctree-wrapper")) Array.from(c.children).forEach(d => { if (d.tagName === "SECTION") top.push(d); });
  });
  else article.querySelectorAll("section").forEach(c => { if (!c.parentElement.closest("section")) top.push(c); });
  const heads = [];
  const first = (sec) => Array.from(sec.children).find(e => /^H[1-6]$/.test(e.tagName));
  top.forEach(sec => {
    const h = first(sec);
    if (!h || !h.getClientRects().length) return;
    h.dataset.qmriLevel = "chapter";
    heads.push(h);
    Array.from(sec.children).filter(e => e.tagName === "SECTION").forEach(sub => {
      const hh = first(sub);
      if (hh && hh.getClientRects().length) { hh.dataset.qmriLevel = "section"; heads.push(hh); }
    });
  });
  const nav = document.createElement("div");
  nav.id = "qmri-toc";
  const title = document.createElement("h2");
  title.textContent = "Contents";
  title.className = "qmri-toc-title";
  nav.appendChild(title);
  const list = document.createElement("ol");
  const entries = [];
  heads.forEach((h, i) => {
    const sec = h.parentElement;
    const text = Array.from(h.childNodes).filter(n => !(n.classList && n.classList.contains("headerlink")))
      .map(n => n.textContent).join("").replace(/\s+/g, " ").trim();
    if (!sec.id || !text) return;
    const li = document.createElement("li");
    li.className = h.dataset.qmriLevel === "chapter" ? "qmri-toc-chapter" : "qmri-toc-section";
    const a = document.createElement("a");
    a.href = "#" + sec.id;
    a.textContent = text;
    const pg = document.createElement("span");
    pg.className = "qmri-toc-page";
    pg.textContent = "000";   // placeholder of a page number's width; marks the contents pages
    li.append(a, pg);
    list.appendChild(li);
    entries.push(text);
  });
  nav.appendChild(list);
  const style = document.createElement("style");
  style.textContent = `#qmri-toc { break-after: page; } #qmri-toc ol { list-style: none; padding: 0; }
    #qmri-toc li { display: flex; gap: 0.5em; margin: 0.1em 0; } #qmri-toc li a { flex: 1; }
    #qmri-toc li.qmri-toc-chapter { font-weight: bold; margin-top: 0.6em; }
    #qmri-toc li.qmri-toc-section { padding-left: 1.5em; font-size: 0.92em; }
    #qmri-toc .qmri-toc-page { font-variant-numeric: tabular-nums; min-width: 2.5em; text-align: right; }
    h2.qmri-toc-title { break-before: page; display: block !important; }`;
  nav.appendChild(style);
  const after = article.querySelector(".qmri-titlepage");
  if (after) after.after(nav); else article.prepend(nav);
  return entries;
}
"""

TOC_PAGES_JS = r"""
(pages) => {
  const spans = document.querySelectorAll("#qmri-toc .qmri-toc-page");
  spans.forEach((s, i) => { s.textContent = pages[i] ? String(pages[i]) : ""; });
  return spans.length;
}
"""


def heading_pages(pdf: Path, headings: list[str]) -> list[int | None]:
    """Page (1-based) of each heading, searched in order in the PDF's text after the contents."""
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    raw = text.split("\f")
    pages = [re.sub(r"\s+", " ", p) for p in raw]
    norm = [re.sub(r"\s+", " ", h).strip()[:40] for h in headings]
    # the contents list itself holds every heading: start after its last page (the pages whose
    # lines end in the placeholder page number "000")
    toc = [i for i, p in enumerate(raw) if len(re.findall(r"\s000\s*$", p, flags=re.M)) >= 2]
    start = max(toc) + 1 if toc else 0
    out, at = [], start
    for h in norm:
        found = next((i for i in range(at, len(pages)) if h in pages[i]), None)
        out.append(None if found is None else found + 1)
        if found is not None:
            at = found
    return out


# Every captioned table (a figure holding a table): its caption's first words and the first
# words of its first header cell, to find both in the PDF's text (caption_pages).
CAPTIONS_JS = r"""
() => Array.from(document.querySelectorAll("figure")).filter(f =>
    f.querySelector(":scope > figcaption") && f.querySelector("table") && f.getClientRects().length)
  .map(f => {
    const words = (el, n) => (el ? el.textContent : "").replace(/\s+/g, " ").trim().split(" ").slice(0, n).join(" ");
    const cell = Array.from(f.querySelectorAll("table th, table td")).find(c => /[A-Za-z]{2}/.test(c.textContent));
    return {caption: words(f.querySelector(":scope > figcaption"), 6), header: words(cell, 2)};
  }).filter(c => c.caption && c.header)
"""


CLIP_JS = r"""
() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    const sec = el.closest("section[id]");
    const fig = el.closest("figure[id], div[id^='tab-'], table[id]");
    const cap = el.closest("figure") && el.closest("figure").querySelector("figcaption, caption");
    const label = cap ? cap.textContent.trim().slice(0, 40) : "";
    return s + (fig ? "#" + fig.id : "") + (sec ? " in #" + sec.id : "") + (label ? ` ("${label}")` : "");
  };
  const sel = "table, img, svg, pre, mjx-container[display='true'], figure, .qmri-interactive";
  document.querySelectorAll(sel).forEach(el => {
    if (!el.getClientRects().length) return;
    const r = el.getBoundingClientRect();
    if (r.width === 0) return;
    if (el.tagName.toLowerCase() === "svg" && el.closest("mjx-container, button, .headerlink")) return;
    if (r.right > width + 1 || r.left < -1) {
      out.push({where: describe(el), detail: `${Math.round(r.width)} px wide, right edge ${Math.round(r.right)} px, text block ${width} px`});
      return;
    }
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== "visible" && p.scrollWidth > p.clientWidth + 1) {
        out.push({where: describe(el), detail: `cut by a ${ox} box: ${p.scrollWidth} px of content in ${p.clientWidth} px`});
        return;
      }
    }
  });
  // one finding per clipped element, the innermost
  return out;
}
"""


def print_pdf(html, pdf, *, chromium=None, context=None) -> dict:
    """Print the single-page book at ``html`` to ``pdf``; returns the checks' findings.

    ``context``: a running browser from ``browser_check.browser()`` to print in (else one is
    started for this call).
    """
    bc = _browser_check()
    if context is None:
        with bc.browser(chromium) as context:
            return print_pdf(html, pdf, context=context)
    html, pdf = Path(html).resolve(), Path(pdf).resolve()
    page_name = root_page(html)
    server = bc.serve(html)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    outside: list[str] = []
    text_w = round((A4_MM[0] - MARGIN_MM["left"] - MARGIN_MM["right"]) * PX_PER_MM)

    def route(r):
        host = urllib.parse.urlparse(r.request.url).hostname
        if host in ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort("blockedbyclient")

    try:
        page = context.new_page()
        try:
            page.set_viewport_size({"width": text_w, "height": 1000})
            page.route("**/*", route)
            page.goto(base + page_name, wait_until="load", timeout=180_000)
            page.evaluate(MATHJAX_JS)
            page.emulate_media(media="print", color_scheme="light")
            page.evaluate(bc.SETTLE_JS)
            appendix = page.evaluate(APPENDIX_JS)
            headings = page.evaluate(TOC_JS)
            links = page.evaluate(PREPARE_JS)
            clipped = page.evaluate(CLIP_JS)
            pdf.parent.mkdir(parents=True, exist_ok=True)
            options = dict(format="A4", print_background=True, outline=True, tagged=True,
                           display_header_footer=True, header_template="<span></span>",
                           footer_template=FOOTER, margin={k: f"{v}mm" for k, v in MARGIN_MM.items()})
            page.pdf(path=str(pdf), **options)
            toc_pages = heading_pages(pdf, headings) if shutil.which("pdftotext") else []
            if any(toc_pages):   # second printing with the page numbers in the contents
                page.evaluate(TOC_PAGES_JS, toc_pages)
                page.pdf(path=str(pdf), **options)
            tables = page.evaluate(CAPTIONS_JS)
            apart = caption_pages(pdf, tables) if shutil.which("pdftotext") else []
        finally:
            page.close()
    finally:
        server.shutdown()
    return {"page": page_name, "links": links, "appendix": appendix,
            "contents": dict(zip(headings, toc_pages)) if headings else {}, "clipped": clipped, "outside": sorted(set(outside)),
            "captioned_tables": len(tables), "caption_apart": apart,
            **pdf_facts(pdf)}


def caption_pages(pdf: Path, tables: list[dict]) -> list[dict]:
    """Captioned tables whose caption ends a page while the table starts on the next one.

    Each of ``tables`` (from ``CAPTIONS_JS``) is looked up in the PDF's text in reading order:
    its caption's first words, then, after them, its first header cell's words. A table whose
    header is not on its caption's page but on the next one is returned with both pages.
    Captions or headers not found in the text are not judged.
    """
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
    pages = [re.sub(r"\s+", " ", p) for p in text.split("\f")]
    apart, start = [], 0
    for t in tables:
        cap = re.sub(r"\s+", " ", t["caption"]).strip()
        head = re.sub(r"\s+", " ", t["header"]).strip()
        found = next(((i, pages[i].find(cap)) for i in range(start, len(pages)) if cap in pages[i]), None)
        if found is None:
            continue
        i, at = found
        start = i
        if head in pages[i][at + len(cap):]:
            continue
        if i + 1 < len(pages) and head in pages[i + 1]:
            apart.append({"caption": cap, "caption_page": i + 1, "table_page": i + 2})
    return apart


def local_urls(urls) -> list[str]:
    """The link targets that are dead outside the build machine: file:// and local servers."""
    return [u for u in urls if u.startswith("file:") or re.match(r"https?://(127\.0\.0\.1|localhost)[:/]", u)]


def pdf_facts(pdf: Path) -> dict:
    """Pages, page size, link targets and text checks of a PDF (poppler-utils)."""
    facts: dict = {"pages": None, "size": None, "urls": [], "bad_urls": [], "raw_tex": False, "outline": 0}
    if not shutil.which("pdfinfo"):
        return facts
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    m = re.search(r"Pages:\s+(\d+)", info)
    facts["pages"] = int(m.group(1)) if m else None
    m = re.search(r"Page size:\s+(.*)", info)
    facts["size"] = m.group(1).strip() if m else None
    urls = subprocess.run(["pdfinfo", "-url", str(pdf)], capture_output=True, text=True).stdout
    facts["urls"] = [line.split(None, 2)[-1] for line in urls.splitlines()[1:] if line.strip()]
    facts["bad_urls"] = local_urls(facts["urls"])
    raw = pdf.read_bytes() if pdf.is_file() else b""
    # bookmarks: the outline's entries (every /Title but the document information's)
    facts["outline"] = max(raw.count(b"/Title") - 1, 0) if b"/Outlines" in raw else 0
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True).stdout
        facts["raw_tex"] = bool(re.search(r"\\\(|\\\[|\\frac|\\mathrm", text))
    return facts


def main(argv=None, *, context=None) -> int:
    """The command line; ``context``: a running browser to print in (as in :func:`print_pdf`)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", default="_build/singlehtml")
    parser.add_argument("--pdf", default="_build/pdf/qmri-gene-expression-book.pdf")
    args = parser.parse_args(argv)
    res = print_pdf(args.html, args.pdf, context=context)
    pdf = Path(args.pdf)
    lk = res["links"]
    print(f"pdf: {pdf}: {res['pages']} pages, {res['size']}, {res['outline']} bookmarks, "
          f"{len(res['contents'])} contents entries; links: {lk['internal']} inside the PDF, "
          f"{lk['external']} to other sites, {lk['unlinked']} to files of the HTML book made plain text; "
          f"{res['appendix']} complete tables in the appendix; {res['captioned_tables']} captioned tables, "
          f"{len(res['caption_apart'])} with the caption on another page")
    problems = []
    for c in res["clipped"]:
        problems.append(f"clipped: {c['where']}: {c['detail']}")
    for c in res["caption_apart"]:
        problems.append(f"table caption apart from its table: \"{c['caption']}\" ends page {c['caption_page']}, "
                        f"the table starts on page {c['table_page']}")
    for u in res["bad_urls"][:20]:
        problems.append(f"local link in the PDF: {u}")
    if res["raw_tex"]:
        problems.append("raw TeX in the PDF text: MathJax did not load offline "
                        "(mathjax_path must point into the built book)")
    for u in res["outside"][:10]:
        problems.append(f"request to another host (blocked): {u}")
    if problems:
        print("\n".join("pdf: FAIL " + p for p in problems))
        print(f"pdf: {len(res['clipped'])} clipped elements, {len(res['bad_urls'])} local links")
        pdf.rename(pdf.with_suffix(".failed.pdf"))
        return 1
    print("pdf: no clipped element, no file:// or local link, no raw TeX")
    return 0


if __name__ == "__main__":
    sys.exit(main())
