"""The CI browser check (.ci/browser_check.py): each rule catches a deliberately broken page."""
import io
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
pytest.importorskip("playwright")


def _load_check():
    from conftest import load_ci_script

    return load_ci_script("browser_check")


@pytest.fixture(scope="module")
def session():
    """One headless Chromium for every check of this file (starting one costs about a second),
    checking several pages at a time as the CI does."""
    with _load_check().browser_session(CHROMIUM) as session:
        yield session


def _png(width_in, dpi, fontsize):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width_in, 1.5), dpi=dpi)
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=fontsize)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    plt.close(fig)
    return buffer.getvalue()


PAGE = """<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="qmri.css">
<style>body{{margin:0}} article.bd-article{{width:min(780px,100%);padding:0 10px;box-sizing:border-box}}
.box{{overflow-x:auto;max-width:100%}} img{{max-width:100%}}</style></head>
<body><article class="bd-article">{body}</article></body></html>"""

CLEAN = """<h1>Clean</h1><p>Prose with inline code <code>$$x$$</code> and a price of 5 dollars.</p>
<div class="box"><table><tr><td style="min-width:1500px">wide table in its own scroll box</td></tr></table></div>
<table><tr><td>1.0</td><td>2.0</td></tr></table>
<figure><a class="qmri-enlarge" href="big.png"><img class="qmri-has-phone" src="big.png" alt="A line rising from 0
to 1"><span class="qmri-enlarge-hint">Enlarge</span></a><div class="qmri-phone-figure"><a class="qmri-enlarge"
href="big.png"><img src="half.png" alt="A line rising (panel 1 of 2)"><span class="qmri-enlarge-hint">Enlarge</span></a><a
class="qmri-enlarge" href="big.png"><img src="half.png" alt="Panel 2 of 2"><span class="qmri-enlarge-hint">Enlarge</span></a></div></figure>
<p>Counts: 15,633 genes, 1,081 pairs, 880 spins in 2016; r = 1.000 and 0.0 ppm; 1 gene.</p>
<p>A glued number <span class="pasted-text">−0.20</span>, p = 3.6×10<sup>−7</sup>, R2* and β₀ − 1.</p>
<figure><figcaption><span class="caption-number">Table 1 </span>Caption above.</figcaption>
<table><tr><th rowspan="2">cell type</th><th colspan="2">poster MTsat</th></tr><tr><th>r</th><th>p</th></tr>
<tr><td>Astro</td><td>−0.41</td><td>0.01</td></tr></table></figure>
<a href="big.png" download>Download the figure</a>
<button class="primary-toggle" onclick="document.getElementById('m').showModal()">menu</button>
<dialog id="m" style="width:300px;height:300px"><a href="clean.html">Clean</a></dialog>"""

BROKEN = {
    "tex": "<p>The model $$R_1 = \\beta_0$$ and \\(x\\) stay raw.</p>",
    "outside": '<p>x</p><script src="http://example.invalid/lib.js"></script>',
    "wide": '<table><tr><td style="min-width:1500px">too wide</td></tr></table>',
    "truncated": "<table><tr><td>1</td><td>\u2026</td></tr></table><p>10 rows \u00d7 91 columns</p>",
    "small-text": '<figure><img src="strip.png" alt="A wide strip of panels"></figure>',
    "alt": '<figure><img src="big.png"></figure><img src="big.png" alt="_images/abc.png">',
    "console": "<script>console.error('boom'); throw new Error('uncaught boom');</script>",
    "hscroll": '<div style="width:900px;background:#eee">a fixed-width block</div>',
    # the old interactive figure: a 640-unit SVG shrunk to the phone, a 16 px slider, not numbered
    "interactive": '<div class="qmri-interactive" data-qmri-ready="1"><svg viewBox="0 0 640 380" '
                   'style="width:100%"><text x="10" y="20" style="font-size:12px">flip angle</text></svg>'
                   '<input type="range" style="height:16px"></div>',
    "tuple-header": "<table><tr><th>('poster MTsat', 'r')</th></tr><tr><td>1</td></tr></table>",
    "number-style": '<p>p = 3.6e-07 and r = -0.20; <span class="pasted-text" style="font-weight:bold">5</span></p>'
                    "<p>97.000 p.u.; 4.0 genes; 15633 genes; 1081 pairs; 3 gene(s).</p>",
    "caption": '<figure><table><tr><td>1</td></tr></table><figcaption>Table 1: below</figcaption></figure>'
               '<figure><figcaption style="color:#444;background:#222">faint caption in dark mode</figcaption></figure>',
    "enlarge": '<figure><img src="big.png" alt="A line rising from 0 to 1"></figure>',
    "link": '<a href="_sources/chapter.md" download>Download the source</a>',
    # the theme's bug: the visible toggle has no handler, the drawer never opens
    "nav": '<button class="primary-toggle">menu</button><aside id="pst-primary-sidebar" '
           'style="display:none"><a href="clean.html">Clean</a></aside>'
           '<dialog id="pst-primary-sidebar-modal"></dialog>',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A clean page and one broken page per rule."""
    site = tmp_path_factory.mktemp("site")
    (site / "big.png").write_bytes(_png(7.5, 100, 10))     # 750 px, 10 pt at 100 dpi: ~14 px shown
    (site / "strip.png").write_bytes(_png(20, 100, 10))    # 2000 px shrunk into 760 px: ~5 px text
    (site / "half.png").write_bytes(_png(3.6, 100, 10))    # a panel of the phone variant: 360 px, ~14 px text
    (site / "qmri.css").write_bytes((ROOT / "_static" / "qmri.css").read_bytes())
    (site / "clean.html").write_text(PAGE.format(body=CLEAN), encoding="utf-8")
    for rule, body in BROKEN.items():
        (site / f"{rule}.html").write_text(PAGE.format(body=body), encoding="utf-8")
    return site


@pytest.fixture(scope="module")
def results(site, session):
    check = _load_check()
    pages = ["clean.html"] + [f"{rule}.html" for rule in BROKEN]
    return check, check.check_site(site, pages=pages, session=session)


def _rules(findings):
    return {f["rule"] for f in findings}


def test_clean_page_passes_at_both_widths(results):
    check, res = results
    for width in check.WIDTHS:
        assert res["clean.html"][width] == [], res["clean.html"][width]


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_rule_catches_its_broken_page(results, rule):
    check, res = results
    found = _rules(res[f"{rule}.html"][1400]) | _rules(res[f"{rule}.html"][400])
    assert rule in found, res[f"{rule}.html"]


def test_rules_fire_where_documented(results):
    check, res = results
    assert "hscroll" not in _rules(res["hscroll.html"][1400])      # only judged at 400 px
    assert "hscroll" in _rules(res["hscroll.html"][400])
    assert "small-text" in _rules(res["small-text.html"][1400])
    # the outside request is blocked, never fetched, and reported with its URL
    assert any("example.invalid" in f["detail"] for f in res["outside.html"][1400])
    # alt: both the missing and the file-name alt are reported
    assert sum(f["rule"] == "alt" for f in res["alt.html"][1400]) == 2
    total, text = check.summarise({"tex.html": res["tex.html"]})
    assert total >= 2 and "FAIL tex.html @1400px: tex=" in text


def test_number_style_reports_each_defect(results):
    _, res = results
    details = " | ".join(f["detail"] for f in res["number-style.html"][1400] if f["rule"] == "number-style")
    for expected in ("e-notation: 3.6e-07", "hyphen-minus", "in bold", "integer with decimals: 97.000",
                     "integer with decimals: 4.0 genes", "no thousands separator: 15633",
                     "no thousands separator: 1081", "word(s): gene(s)"):
        assert expected in details, details


def test_figure_text_judged_at_400px(tmp_path, session):
    """A 7.5 in figure reads at 1400 px (14 px text) but not on a phone (7 px) unless its one-column
    variant replaces it there (qmri.css); the variant's panels are judged like any image."""
    (tmp_path / "big.png").write_bytes(_png(7.5, 100, 10))
    (tmp_path / "half.png").write_bytes(_png(3.6, 100, 10))
    (tmp_path / "wide-panel.png").write_bytes(_png(7.5, 100, 10))
    (tmp_path / "qmri.css").write_bytes((ROOT / "_static" / "qmri.css").read_bytes())
    fig = ('<figure><a class="qmri-enlarge" href="big.png"><img {cls}src="big.png" alt="Two panels"><span '
           'class="qmri-enlarge-hint">Enlarge</span></a>{variant}</figure>')
    variant = ('<div class="qmri-phone-figure"><a class="qmri-enlarge" href="big.png"><img src="{src}" alt="Panel 1">'
               '<span class="qmri-enlarge-hint">Enlarge</span></a></div>')
    pages = {"none.html": fig.format(cls="", variant=""),
             "variant.html": fig.format(cls='class="qmri-has-phone" ', variant=variant.format(src="half.png")),
             "wide-variant.html": fig.format(cls='class="qmri-has-phone" ', variant=variant.format(src="wide-panel.png"))}
    for name, body in pages.items():
        (tmp_path / name).write_text(PAGE.format(body=body), encoding="utf-8")
    check = _load_check()
    res = check.check_site(tmp_path, pages=list(pages), session=session)
    assert all(res[name][1400] == [] for name in pages), res
    small = [f for f in res["none.html"][400] if f["rule"] == "small-text"]
    assert len(small) == 1 and "at 400 px" in small[0]["detail"] and "no one-column variant" in small[0]["detail"]
    assert res["variant.html"][400] == [], res["variant.html"][400]
    assert "wide-panel.png" in " ".join(f["detail"] for f in res["wide-variant.html"][400] if f["rule"] == "small-text")


def test_interactive_text_cut_at_the_edge(tmp_path, session):
    body = ('<figure><div class="qmri-interactive" data-qmri-ready="1"><svg viewBox="0 0 300 200" width="300" '
            'height="200"><text x="250" y="190" style="font-size:12px">distance (mm)</text>'
            '<text x="10" y="20" style="font-size:12px">inside</text></svg></div>'
            '<figcaption><span class="caption-number">Fig. 1 </span>Simulated.</figcaption></figure>')
    (tmp_path / "cut.html").write_text(PAGE.format(body=body), encoding="utf-8")
    (tmp_path / "qmri.css").write_bytes((ROOT / "_static" / "qmri.css").read_bytes())
    check = _load_check()
    res = check.check_site(tmp_path, pages=["cut.html"], widths=(400,), session=session, out=tmp_path / "shots")
    cut = [f["detail"] for f in res["cut.html"][400] if f["rule"] == "interactive"]
    assert len(cut) == 1 and "cut at the edge" in cut[0] and "distance (mm)" in cut[0], res
    assert (tmp_path / "shots" / "cut-400.png").stat().st_size > 1000   # a page with a finding: photographed
    with pytest.raises(ValueError, match="screenshots"):
        check.check_site(tmp_path, pages=["cut.html"], session=session, screenshots="some")


def test_book_interactive_figure_passes_at_400px(tmp_path, session):
    """A figure from qmribook.interactive, numbered by a <figure>, passes the interactive rule at
    both widths: text >= 11 px, controls >= 32 px, aria-valuetext set."""
    import sys
    sys.path.insert(0, str(ROOT / "chapters"))
    from qmribook import interactive

    widget = interactive.spgr_flip_angle_widget(r1={"GM": 0.62, "WM": 0.86}, tr_ms=(10, 25), fig_id="qmri-t")
    head = ('<link rel="stylesheet" href="interactive.css"><script src="interactive.js"></script>')
    body = (f'<figure>{widget.to_html()}<figcaption><span class="caption-number">Fig. 1 </span>'
            "SPGR signal (simulated).</figcaption></figure>")
    for name in ("interactive.css", "interactive.js", "qmri.css"):
        (tmp_path / name).write_bytes((ROOT / "_static" / name).read_bytes())
    (tmp_path / "w.html").write_text(PAGE.format(body=body).replace("</head>", head + "</head>"), encoding="utf-8")
    check = _load_check()
    res = check.check_site(tmp_path, pages=["w.html"], session=session, out=tmp_path / "shots")
    for width in check.WIDTHS:
        assert res["w.html"][width] == [], res["w.html"][width]
        assert not (tmp_path / "shots" / f"w-{width}.png").exists()     # clean: no screenshot by default
    check.check_site(tmp_path, pages=["w.html"], widths=(400,), session=session, out=tmp_path / "all",
                     screenshots="all")
    assert (tmp_path / "all" / "w-400.png").stat().st_size > 1000


def test_qmri_js_repairs_the_theme_toggles(tmp_path, session):
    """The theme's bug reproduced (its handler bound to the first, hidden .primary-toggle): with
    _static/qmri.js the visible toggle opens the drawer at 400 px, so the nav rule passes."""
    body = ('<button class="primary-toggle" style="display:none">hidden</button>'
            '<button class="primary-toggle">menu</button>'
            '<div id="pst-primary-sidebar"><a href="p.html">Chapter 1</a><a href="p.html">Chapter 2</a></div>'
            '<dialog id="pst-primary-sidebar-modal" style="width:300px;height:300px"></dialog>'
            '<script>document.querySelector(".primary-toggle").addEventListener("click", () => {'
            'const m = document.getElementById("pst-primary-sidebar-modal");'
            'm.append(...document.getElementById("pst-primary-sidebar").childNodes); m.showModal(); });</script>')
    for name in ("qmri.js", "qmri.css"):
        (tmp_path / name).write_bytes((ROOT / "_static" / name).read_bytes())
    for name, extra in (("broken.html", ""), ("fixed.html", '<script src="qmri.js"></script>')):
        (tmp_path / name).write_text(PAGE.format(body=body).replace("</head>", extra + "</head>"), encoding="utf-8")
    (tmp_path / "p.html").write_text(PAGE.format(body="<p>x</p>"), encoding="utf-8")
    check = _load_check()
    res = check.check_site(tmp_path, pages=["broken.html", "fixed.html"], widths=(400,), session=session)
    assert "nav" in _rules(res["broken.html"][400])
    assert res["fixed.html"][400] == [], res["fixed.html"][400]


def test_png_font_estimate_reads_metadata():
    check = _load_check()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import sys
    sys.path.insert(0, str(ROOT / "chapters"))
    from qmribook import display

    fig, ax = plt.subplots(figsize=(4, 2))
    ax.tick_params(labelsize=8)
    data, _ = display.figure(fig, dpi=200)._repr_png_()
    px, width, how = check.min_font_px_natural(data, "x.png")
    assert how.startswith("qmri:min_font_pt") and px == pytest.approx(8 * 200 / 72)
    px, width, how = check.min_font_px_natural(_png(4, 100, 10), "y.png")
    assert how.startswith("default 10 pt") and px == pytest.approx(10 * 100 / 72, rel=0.01)


def test_command_checks_several_sites_in_one_browser(tmp_path, session, capsys):
    """``--html``/``--out`` repeated: each site gets its own report; the exit status is 1 if any
    site has a finding; ``--out`` must pair with ``--html``."""
    import json

    check = _load_check()
    for name, body in (("good", "<h1>Good</h1><p>Plain prose.</p>"), ("bad", BROKEN["tex"])):
        (tmp_path / name).mkdir()
        (tmp_path / name / "index.html").write_text(PAGE.format(body=body), encoding="utf-8")
        (tmp_path / name / "qmri.css").write_bytes((ROOT / "_static" / "qmri.css").read_bytes())
    args = ["--html", str(tmp_path / "good"), "--out", str(tmp_path / "r-good"),
            "--html", str(tmp_path / "bad"), "--out", str(tmp_path / "r-bad"), "--pages", "index.html"]
    assert check.main(args, session=session) == 1
    good = json.loads((tmp_path / "r-good" / "report.json").read_text())
    bad = json.loads((tmp_path / "r-bad" / "report.json").read_text())
    assert good["index.html"] == {"1400": [], "400": []}
    assert any(f["rule"] == "tex" for f in bad["index.html"]["1400"])
    assert sorted(p.name for p in (tmp_path / "r-bad").glob("*.png")) == ["index-1400.png", "index-400.png"]
    assert not list((tmp_path / "r-good").glob("*.png"))
    assert check.main(args[:4] + ["--pages", "index.html"], session=session) == 0
    with pytest.raises(SystemExit):
        check.main(args[:6], session=session)


def test_each_page_is_judged_alone_in_a_reused_tab(site, session):
    """One tab checks page after page (--jobs 1): a page's console errors and outside requests
    are reported for that page only, never for the clean page loaded next in the same tab."""
    check = _load_check()
    res = check.check_site(site, pages=["console.html", "clean.html", "outside.html", "clean.html"],
                           session=session, jobs=1)
    assert list(res) == ["console.html", "clean.html", "outside.html"]
    assert res["clean.html"] == {1400: [], 400: []}, res["clean.html"]
    assert "console" in _rules(res["console.html"][400]) and "outside" in _rules(res["outside.html"][1400])


def test_rules_judge_the_end_of_animations(tmp_path, session):
    """Transitions run 100x faster (ANIMATION_RATE), but the rules still see their end state:
    a caption whose colour fades, over 2 s, to low contrast in dark mode is caught."""
    check = _load_check()
    style = ("<style>figcaption{transition:color 2s linear, background-color 2s linear}"
             "[data-theme=dark] figcaption{color:#444;background:#222}</style>")
    body = style + '<figure><img src="x.png" alt="x" width="10"><figcaption>Fading caption</figcaption></figure>'
    (tmp_path / "fade.html").write_text(PAGE.format(body=body), encoding="utf-8")
    (tmp_path / "x.png").write_bytes(_png(0.5, 20, 10))
    res = check.check_site(tmp_path, pages=["fade.html"], widths=(1400,), session=session)
    low = [f for f in res["fade.html"][1400] if f["rule"] == "caption"]
    assert len(low) == 1 and low[0]["where"] == "dark mode" and "Fading caption" in low[0]["detail"], res


def test_requests_to_other_hosts_are_blocked_and_reported(tmp_path, session):
    """A host name (example.invalid) and a bare IP address (TEST-NET-1, which would otherwise
    hang until a connection timeout): both reported under ``outside``, both blocked at once
    (the script never runs), and the page is still checked."""
    check = _load_check()
    body = ('<p id="p">x</p><script src="http://192.0.2.1/lib.js"></script>'
            '<script src="http://example.invalid/lib.js"></script>'
            '<script>document.getElementById("p").textContent = typeof window.lib;</script>')
    (tmp_path / "net.html").write_text(PAGE.format(body=body), encoding="utf-8")
    res = check.check_site(tmp_path, pages=["net.html"], widths=(400,), session=session)
    found = res["net.html"][400]
    urls = [f["detail"] for f in found if f["rule"] == "outside"]
    assert any("192.0.2.1" in u for u in urls) and any("example.invalid" in u for u in urls), found
    assert not any("check failed" in f["detail"] for f in found), found
