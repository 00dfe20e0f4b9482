#!/usr/bin/env python3
"""Open every built page in headless Chromium, offline, and check it reads well.

Usage: python .ci/browser_check.py [--html _build/html --out _build/browser_check]...
                                   [--screenshots findings|all|none] [--jobs 4]

Every ``*.html`` page under ``--html`` (except ``_static``/``_sources``/``_images``) is
served from a localhost HTTP server and opened at 1400 px and at 400 px window width.
Any request to another host is blocked and recorded. ``report.json`` (findings per page,
width and rule) goes to ``--out``, with a full-page screenshot of every page and width that
has a finding (``--screenshots all``: of every page, to look at them). Several sites (the
book and its student edition) are checked in one browser (``--html``/``--out`` repeated),
``--jobs`` pages and widths at a time, each in a tab of its own. The check waits for conditions
(MathJax typeset, fonts loaded, frames painted, animations ended, a drawer opened), never a
fixed time; CSS animations and transitions run 100 times faster (their end states, which the
rules judge, are the same). Exit status 1 if any rule finds something.

Rules (names as in the report)
------------------------------
tex           TeX delimiters (``$$``, ``\\(``, ``\\)``, ``\\[``, ``\\]``) left in rendered text outside
              code, or a MathJax error box (``mjx-merror``).
outside       A request to a host other than the local server (blocked: no host name but
              localhost resolves and every other request goes to a proxy that does not exist).
wide          A table, image, figure, display formula or code block wider than the text column
              (or reaching past its right edge) that is not inside a horizontal scroll box,
              or a scroll box itself wider than the column.
truncated     pandas truncation: a cell that is or ends with "…"/"...", or "N rows × M columns".
small-text    Figure text below 9 px at displayed size, at 1400 px and at 400 px: on a phone a
              multi-panel figure must show its one-column variant (qmribook.sphinxext), whose
              panels are checked like any image. For a PNG:
              displayed px = min_font_pt × dpi / 72 × displayed_width / natural_width, where
              min_font_pt is the PNG text chunk ``qmri:min_font_pt`` written by
              ``qmribook.display.figure`` (else 10 pt, matplotlib's default size of all
              figure text), dpi is ``qmri:dpi``, else the PNG pHYs chunk, else 72. For an SVG:
              the smallest ``font-size`` of its text (else 10) in user units × displayed
              width / viewBox width (matplotlib's SVG user unit is the point).
alt           An image in the text with no alt text, or alt text that is a file name/path.
console       A console error or an uncaught page error (including failed loads).
hscroll       At 400 px, the page is wider than the window (scrolls sideways).
interactive   An interactive figure (``div.qmri-interactive``) that is not drawn, is not numbered
              and captioned (inside a ``<figure>`` with a figure number), has SVG text below
              11 px or cut at the edge of its SVG (e.g. an axis label running past the right
              edge on a phone), a slider/menu under 32 px high as displayed, or a slider without
              ``aria-valuetext``.
tuple-header  A table header printed as a Python tuple, e.g. ``('poster MTsat', 'r')``.
number-style  A number in the text outside code and formulas written in e-notation
              (``3.6e-07``) or with a hyphen-minus as its sign (``-0.20``); an integer count
              printed with decimals (``97.000``, ``4.0 genes``); a number of five or more digits
              (or four, not a year) without thousands separators (``15633``); a noun with
              "(s)" (``gene(s)``); or glued numbers (``span.pasted-text``) set in bold.
caption       A table caption placed below its table, or caption text (figure, table,
              interactive figure) below 4.5:1 contrast against its background, in light or
              dark mode.
enlarge       A figure image (shown > 120 px wide) without a visible enlarge control.
link          A link to a file of the site that does not exist (e.g. a download button).
nav           A visible sidebar toggle (``.primary-toggle``, ``.secondary-toggle``) that, tapped,
              opens no drawer (no open ``<dialog>`` with links) at 400 px, or at 1400 px neither
              opens a drawer nor shows/hides the primary sidebar.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import zlib
from pathlib import Path

WIDTHS = (1400, 400)
MIN_TEXT_PX = 9.0
DEFAULT_FONT_PT = 10.0
CHROMIUM = "/usr/bin/chromium"
#: Offline: every request to another host goes to a proxy that does not exist (port 1 of this
#: machine; Chromium never sends localhost through a proxy), and no host name resolves but
#: localhost; either alone blocks it. The check records each such request (the ``outside`` rule).
OFFLINE_ARGS = ["--proxy-server=http://127.0.0.1:1",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"]
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               *OFFLINE_ARGS]
RULES = ("tex", "outside", "wide", "truncated", "small-text", "alt", "console", "hscroll", "nav",
         "interactive", "tuple-header", "number-style", "caption", "enlarge", "link")
MIN_INTERACTIVE_PX = 11.0
MIN_CONTROL_PX = 32.0
MIN_CONTRAST = 4.5


def ensure_chromium() -> str:
    """Path of Debian's chromium; install it with apt-get if absent and we are root."""
    path = shutil.which("chromium") or (CHROMIUM if os.path.exists(CHROMIUM) else None)
    if path:
        return path
    if os.geteuid() != 0:
        sys.exit("browser check: chromium is not installed (apt-get install -y chromium)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-q", "chromium"], check=True, env=env)
    path = shutil.which("chromium")
    if not path:
        sys.exit("browser check: chromium still missing after apt-get install")
    return path


# ------------------------------------------------------------------ image metadata
def png_info(data: bytes) -> dict:
    """Natural size, dpi and qmri text chunks of a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return {}
    info: dict = {"text": {}}
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            info["width"], info["height"] = struct.unpack(">II", body[:8])
        elif kind == b"pHYs" and len(body) >= 9 and body[8] == 1:
            info["dpi"] = struct.unpack(">I", body[:4])[0] * 0.0254
        elif kind == b"tEXt" and b"\x00" in body:
            key, value = body.split(b"\x00", 1)
            info["text"][key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt" and b"\x00" in body:
            key, rest = body.split(b"\x00", 1)
            info["text"][key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"IEND":
            break
        pos += 12 + length
    return info


def min_font_px_natural(data: bytes, name: str):
    """(smallest figure text in natural image pixels, natural width, how it was found)."""
    if name.endswith(".svg") or data.lstrip()[:5] in (b"<?xml", b"<svg ") or b"<svg" in data[:500]:
        text = data.decode("utf-8", "replace")
        box = re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+) [\d.]+"', text)
        width = float(box.group(1)) if box else None
        sizes = [float(s) for s in re.findall(r"font-size[:=]\s*\"?([\d.]+)", text)]
        sizes += [float(s) for s in re.findall(r"font:\s*(?:[a-z]+\s+)*([\d.]+)px", text)]
        size = min(sizes) if sizes else DEFAULT_FONT_PT
        return size, width, "svg font-size" if sizes else "svg default 10"
    info = png_info(data)
    if not info:
        return None, None, "unknown format"
    pt = info["text"].get("qmri:min_font_pt")
    dpi = info["text"].get("qmri:dpi") or info.get("dpi") or 72.0
    try:
        pt = float(pt) if pt is not None else DEFAULT_FONT_PT
    except ValueError:
        pt = DEFAULT_FONT_PT
    how = ("qmri:min_font_pt" if "qmri:min_font_pt" in info["text"] else "default 10 pt") + f" at {float(dpi):.0f} dpi"
    return pt * float(dpi) / 72.0, info.get("width"), how


# ------------------------------------------------------------------ in-page checks
PAGE_JS = r"""
async ([MIN_INTERACTIVE_PX, MIN_CONTROL_PX]) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  const out = [];
  const column = document.querySelector("article.bd-article") || document.querySelector("main") || document.body;
  const colRect = column.getBoundingClientRect();
  const cs = getComputedStyle(column);
  const colLeft = colRect.left + parseFloat(cs.paddingLeft || 0);
  const colRight = colRect.right - parseFloat(cs.paddingRight || 0);
  const colWidth = colRight - colLeft;
  const describe = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += "#" + el.id;
    if (el.className && typeof el.className === "string") s += "." + el.className.trim().split(/\s+/).slice(0, 2).join(".");
    const sec = el.closest("section[id]");
    return sec ? s + " in #" + sec.id : s;
  };
  const scrollBox = (el) => {
    for (let p = el.parentElement; p && p !== column.parentElement; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox === "auto" || ox === "scroll" || ox === "hidden" || ox === "clip") return p;
    }
    return null;
  };
  // tex: delimiters left in text outside code; MathJax errors
  const skip = "pre, code, script, style, textarea, mjx-container, .highlight, kbd, samp";
  const walker = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
  const tex = /\$\$|\\\(|\\\)|\\\[|\\\]/;
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(skip)) continue;
    if (tex.test(n.nodeValue) && p.getClientRects().length) {
      const i = n.nodeValue.search(tex);
      out.push({rule: "tex", where: describe(p), detail: n.nodeValue.slice(Math.max(0, i - 30), i + 40).trim()});
    }
  }
  column.querySelectorAll("mjx-merror").forEach(e => out.push({rule: "tex", where: describe(e), detail: "MathJax error: " + e.textContent.slice(0, 80)}));
  // wide
  const wideSel = "table, img, figure, svg, mjx-container[display='true'], pre, .qmri-scroll";
  column.querySelectorAll(wideSel).forEach(el => {
    if (!el.getClientRects().length) return;
    const r = el.getBoundingClientRect();
    if (r.width === 0) return;
    const box = scrollBox(el);
    const over = r.width > colWidth + 1 || r.right > colRight + 1 || r.left < colLeft - 1;
    if (!over) return;
    if (box) {
      const b = box.getBoundingClientRect();
      if (b.width <= colWidth + 1 && b.right <= colRight + 1 && b.left >= colLeft - 1) return;
      out.push({rule: "wide", where: describe(el), detail: `scroll box ${Math.round(b.width)} px wide, column ${Math.round(colWidth)} px`});
    } else {
      out.push({rule: "wide", where: describe(el), detail: `${Math.round(r.width)} px wide (right edge ${Math.round(r.right)}), column ${Math.round(colLeft)}-${Math.round(colRight)} px, no scroll box`});
    }
  });
  // truncated
  column.querySelectorAll("td, th").forEach(c => {
    const t = c.textContent.trim();
    if (t === "…" || t === "..." || /(…|\.\.\.)$/.test(t)) out.push({rule: "truncated", where: describe(c.closest("table")), detail: "cell: " + t.slice(-60)});
  });
  const m = column.innerText.match(/\d+ rows × \d+ columns/);
  if (m) out.push({rule: "truncated", where: "page", detail: m[0]});
  // alt + images for the font rule
  const images = [];
  column.querySelectorAll("img").forEach(img => {
    const alt = (img.getAttribute("alt") || "").trim();
    const file = (img.getAttribute("src") || "").split("/").pop();
    if (!alt) out.push({rule: "alt", where: describe(img), detail: "no alt text: " + file.slice(0, 60)});
    else if (/^[\w.\/~-]+\.(png|svg|jpe?g|gif|webp)$/i.test(alt) || alt.includes("_images/") || /^[0-9a-f]{32,}/.test(alt))
      out.push({rule: "alt", where: describe(img), detail: "alt text is a file name: " + alt.slice(0, 60)});
    // (a lazy image not yet loaded counts too: its file is measured, its box is laid out)
    if (img.getClientRects().length && img.getBoundingClientRect().width > 0 &&
        getComputedStyle(img).visibility !== "hidden" && (img.currentSrc || img.src))
      images.push({src: img.currentSrc || img.src, where: describe(img), shown: img.getBoundingClientRect().width, natural: img.naturalWidth});
  });
  // interactive figures: drawn, numbered, legible and operable as displayed
  column.querySelectorAll("div.qmri-interactive").forEach(box => {
    const w = describe(box);
    if (!box.getAttribute("data-qmri-ready")) { out.push({rule: "interactive", where: w, detail: "not drawn"}); return; }
    const fig = box.closest("figure");
    if (!fig || !fig.querySelector("figcaption .caption-number"))
      out.push({rule: "interactive", where: w, detail: "no figure number and caption"});
    let small = Infinity;
    box.querySelectorAll("svg text").forEach(t => {
      const svg = t.ownerSVGElement, vb = svg.viewBox.baseVal;
      const scale = vb && vb.width ? svg.getBoundingClientRect().width / vb.width : 1;
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if (t.getClientRects().length && t.textContent.trim()) small = Math.min(small, px);
    });
    if (small < MIN_INTERACTIVE_PX) out.push({rule: "interactive", where: w, detail: `SVG text ${small.toFixed(1)} px (< ${MIN_INTERACTIVE_PX} px)`});
    box.querySelectorAll("svg").forEach(svg => {      // text cut at the edge of its SVG
      const s = svg.getBoundingClientRect();
      if (!s.width) return;
      svg.querySelectorAll("text").forEach(t => {
        const r = t.getBoundingClientRect();
        if (!t.textContent.trim() || !r.width) return;
        if (r.left < s.left - 1 || r.right > s.right + 1 || r.top < s.top - 1 || r.bottom > s.bottom + 1)
          out.push({rule: "interactive", where: w, detail: `text cut at the edge of the plot: "${t.textContent.trim().slice(0, 40)}" ` +
                    `(${Math.round(r.left - s.left)} to ${Math.round(r.right - s.left)} px in a ${Math.round(s.width)} px plot)`});
      });
    });
    box.querySelectorAll("input, select").forEach(c => {
      const h = c.getBoundingClientRect().height;
      if (h < MIN_CONTROL_PX) out.push({rule: "interactive", where: w, detail: `${c.tagName.toLowerCase()} ${h.toFixed(0)} px high (< ${MIN_CONTROL_PX} px)`});
      if (c.type === "range" && !c.getAttribute("aria-valuetext"))
        out.push({rule: "interactive", where: w, detail: "slider without aria-valuetext"});
    });
  });
  // tuple headers
  column.querySelectorAll("th").forEach(th => {
    const t = th.textContent.trim();
    if (/^\(\s*['"].*['"]\s*,.*\)$/.test(t)) out.push({rule: "tuple-header", where: describe(th.closest("table")), detail: t.slice(0, 80)});
  });
  // number style in text outside code and formulas
  const skipNum = "pre, code, kbd, samp, script, style, mjx-container, .highlight, .cell_input, a.reference.external, .bibliography, .citation, .qmri-hash, summary, details code";
  const wn = document.createTreeWalker(column, NodeFilter.SHOW_TEXT);
  const enot = /(^|[^\w.])(\d+(?:\.\d+)?[eE][-+]?\d+)(?![\w.])/;
  const hyphen = /(^|[\s(=:;\[\/])(-\d+(?:[.,]\d+)?)(?![\w-])/;
  // integers as decimals: 10 or more with three zero decimals (97.000; r = 1.000 is a correlation),
  // or "N.0" before a counted noun
  const nouns = "genes?|regions?|subjects?|donors?|vertices|vertex|voxels?|samples?|permutations?|spins?|sets?|" +
    "lesions?|patients?|iterations?|rows?|files?|tests?|pages?|parcels?|structures?|probes?|components?|draws?|" +
    "participants?|pairs?|calls?|items?|nuclei|maps?|cells?|echoes";
  const intDec = new RegExp("(^|[^\\w.])([1-9][\\d,]+\\.000+|\\d[\\d,]*\\.0+\\s+(?:" + nouns + "))(?![\\w])");
  const noSep = /(^|[^\w.,\/#:\u2212-])(\d{4,})(?![\w.\/-])/;
  const plural = /\b[A-Za-z][\w-]*\(s\)/;
  let nEnot = 0, nHyphen = 0, nInt = 0, nSep = 0, nPlural = 0;
  for (let n = wn.nextNode(); n; n = wn.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest(skipNum) || !p.getClientRects().length) continue;
    const t = n.nodeValue;
    let m = t.match(enot);
    if (m && nEnot++ < 20) out.push({rule: "number-style", where: describe(p), detail: "e-notation: " + m[2]});
    m = t.match(hyphen);
    if (m && nHyphen++ < 20) out.push({rule: "number-style", where: describe(p), detail: "hyphen-minus: " + t.trim().slice(0, 60)});
    const all = (re) => Array.from(t.matchAll(new RegExp(re.source, "g")));
    all(intDec).forEach(m => { if (nInt++ < 20)
      out.push({rule: "number-style", where: describe(p), detail: "integer with decimals: " + m[2]}); });
    all(noSep).filter(m => !(m[2].length === 4 && +m[2] >= 1900 && +m[2] <= 2099)).forEach(m => { if (nSep++ < 20)
      out.push({rule: "number-style", where: describe(p), detail: "no thousands separator: " + m[2]}); });
    all(plural).forEach(m => { if (nPlural++ < 20)
      out.push({rule: "number-style", where: describe(p), detail: "word(s): " + m[0]}); });
  }
  const boldGlue = Array.from(column.querySelectorAll("span.pasted-text")).filter(s =>
    parseInt(getComputedStyle(s).fontWeight, 10) >= 600 && !s.closest("strong, b, th, h1, h2, h3, h4, h5, h6, caption, .caption-number"));
  if (boldGlue.length) out.push({rule: "number-style", where: describe(boldGlue[0]), detail: `${boldGlue.length} glued numbers in bold`});
  // table captions above tables
  column.querySelectorAll("figure").forEach(fig => {
    const t = fig.querySelector("table"), c = fig.querySelector(":scope > figcaption");
    if (t && c && c.getClientRects().length && c.getBoundingClientRect().top > t.getBoundingClientRect().top)
      out.push({rule: "caption", where: describe(fig), detail: "table caption below its table"});
  });
  // enlarge affordance on figure images
  column.querySelectorAll("img").forEach(img => {
    if (!img.getClientRects().length || img.getBoundingClientRect().width <= 120 ||
        getComputedStyle(img).visibility === "hidden") return;   // e.g. in a folded solution
    const a = img.closest("a.qmri-enlarge");
    const hint = a && a.querySelector(".qmri-enlarge-hint");
    const visible = hint && hint.getClientRects().length && getComputedStyle(hint).visibility !== "hidden" && parseFloat(getComputedStyle(hint).opacity) > 0.5;
    if (!visible) out.push({rule: "enlarge", where: describe(img), detail: "no visible enlarge control"});
  });
  const links = Array.from(document.querySelectorAll("a[href]")).map(a => a.href).filter(h => h.startsWith(location.origin));
  return {findings: out, images: images, links: Array.from(new Set(links)), scrollWidth: document.documentElement.scrollWidth,
          innerWidth: window.innerWidth, columnWidth: Math.round(colWidth)};
}
"""

WIDEST_JS = r"""
() => {
  const w = window.innerWidth, res = [];
  const clipped = (el) => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== "visible") return true;
    }
    return false;
  };
  document.querySelectorAll("body *").forEach(el => {
    const r = el.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0 && !clipped(el)) {
      let s = el.tagName.toLowerCase() + (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/)[0] : "");
      res.push([Math.round(r.right), s]);
    }
  });
  res.sort((a, b) => b[0] - a[0]);
  return res.slice(0, 4);
}
"""


CONTRAST_JS = r"""
(minimum) => {
  const parse = (c) => { const m = c.match(/[\d.]+/g); return m ? m.map(Number) : [0, 0, 0, 0]; };
  const lum = ([r, g, b]) => { const f = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
                               return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  const background = (el) => {
    for (let p = el; p; p = p.parentElement) {
      const c = parse(getComputedStyle(p).backgroundColor);
      if (c.length < 4 || c[3] > 0.5) return c.slice(0, 3);
    }
    return [255, 255, 255];   // nothing painted: the canvas is white
  };
  const out = [];
  const column = document.querySelector("article.bd-article") || document.body;
  column.querySelectorAll("figcaption, caption, p.qmri-caption, p.qmri-status").forEach(el => {
    if (!el.getClientRects().length || !el.textContent.trim()) return;
    const targets = [el, ...el.querySelectorAll("p, span")].filter(e => e.textContent.trim());
    for (const t of targets) {
      const fg = parse(getComputedStyle(t).color), bg = background(t);
      const [a, b] = [lum(fg.slice(0, 3)), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      if (ratio < minimum) { out.push(`${el.tagName.toLowerCase()} "${el.textContent.trim().slice(0, 40)}": ${ratio.toFixed(1)}:1`); break; }
    }
  });
  return out;
}
"""

#: Resolves when the page has settled: MathJax typeset, web fonts loaded, ``frames`` frames
#: painted and every running finite animation or transition (e.g. of a theme or drawer change;
#: ``getAnimations`` flushes pending style changes first) finished (at most 3 s). Used instead of
#: fixed sleeps; the rules' own queries flush layout.
SETTLE_JS = r"""
async (frames = 1) => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    try { await MathJax.startup.promise; } catch (e) {}
  }
  if (document.fonts && document.fonts.ready) { try { await document.fonts.ready; } catch (e) {} }
  const frame = () => new Promise(r => requestAnimationFrame(() => r()));
  for (let i = 0; i < frames; i++) await frame();
  const running = (document.getAnimations ? document.getAnimations() : []).filter(a =>
    a.playState === "running" && a.effect && isFinite(a.effect.getComputedTiming().endTime));
  if (running.length) {
    await Promise.race([Promise.all(running.map(a => a.finished.catch(() => null))),
                        new Promise(r => setTimeout(r, 3000))]);
    await frame();
  }
}
"""

NAV_STATE_JS = r"""
() => {
  const d = Array.from(document.querySelectorAll("dialog[open]")).find(x => {
    const r = x.getBoundingClientRect();
    return r.width > 100 && r.height > 100 && x.querySelector("a[href]");
  });
  const side = document.querySelector("#pst-primary-sidebar, .bd-sidebar-primary");
  const r = side ? side.getBoundingClientRect() : null;
  const shown = !!(r && r.width > 50 && r.right > 0 && getComputedStyle(side).visibility !== "hidden"
                   && getComputedStyle(side).display !== "none");
  return {drawer: d ? (d.id || "dialog") + ": " + d.querySelectorAll("a[href]").length + " links" : null,
          sidebar: shown};
}
"""

TOGGLES_JS = r"""
() => Array.from(document.querySelectorAll(".primary-toggle, .secondary-toggle"))
  .map((b, i) => [i, b]).filter(([i, b]) => {
    const r = b.getBoundingClientRect(), cs = getComputedStyle(b);
    return r.width > 0 && r.height > 0 && cs.visibility !== "hidden" && r.bottom > 0 && r.top < innerHeight;
  }).map(([i, b]) => [i, b.classList.contains("primary-toggle") ? "primary" : "secondary"])
"""


async def check_nav(page, width) -> tuple[list, list]:
    """Tap every visible sidebar toggle; (findings, [(kind, what opened)]).

    After a tap the check waits (up to :data:`NAV_WAIT_MS`) until a drawer opens or the primary
    sidebar changes, then until animations end; it never sleeps a fixed time.
    """
    findings, opened = [], []
    for index, kind in await page.evaluate(TOGGLES_JS):
        button = page.locator(".primary-toggle, .secondary-toggle").nth(index)
        before = await page.evaluate(NAV_STATE_JS)
        try:
            await button.click(timeout=NAV_CLICK_TIMEOUT_MS)
        except Exception as err:
            findings.append({"rule": "nav", "where": f"{kind} toggle", "detail": f"cannot be tapped: {err}"[:200]})
            continue
        await _wait_nav(page, "(s, b) => !!s.drawer || s.sidebar !== b.sidebar", before)
        after = await page.evaluate(NAV_STATE_JS)
        if after["drawer"]:
            opened.append((kind, after["drawer"]))
            await page.keyboard.press("Escape")
            await _wait_nav(page, "(s, b) => !s.drawer", before)
            if (await page.evaluate(NAV_STATE_JS))["drawer"]:
                findings.append({"rule": "nav", "where": f"{kind} toggle", "detail": "drawer does not close on Escape"})
        elif width >= 992 and kind == "primary" and after["sidebar"] != before["sidebar"]:
            opened.append((kind, "sidebar " + ("shown" if after["sidebar"] else "hidden")))
            await button.click(timeout=NAV_CLICK_TIMEOUT_MS)      # restore
            await _wait_nav(page, "(s, b) => s.sidebar === b.sidebar", before)
        else:
            findings.append({"rule": "nav", "where": f"{kind} toggle",
                             "detail": f"tapping the {kind} sidebar toggle at {width} px opened nothing"})
    return findings, opened


#: The longest wait for a drawer to open or close, or the sidebar to change, after a tap (ms).
NAV_WAIT_MS = 1000
#: The longest wait for a visible toggle to become tappable (ms). A tappable toggle is tapped at
#: once; the wait only runs out on a toggle that is covered or never stops moving. 3 s ran out on
#: a clean page with the reference machine's two cores shared by a dozen busy processes.
NAV_CLICK_TIMEOUT_MS = 15000


async def _wait_nav(page, condition: str, before: dict) -> None:
    """Wait until ``condition(state, before)`` holds for :data:`NAV_STATE_JS`'s state (or
    :data:`NAV_WAIT_MS` passed), then until animations end; the caller judges the state."""
    try:
        await page.wait_for_function(f"([b]) => ({condition})(({NAV_STATE_JS.strip()})(), b)", arg=[before],
                                     timeout=NAV_WAIT_MS, polling="raf")
    except Exception:
        pass
    await page.evaluate(SETTLE_JS)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        # The icon Chromium asks for by itself (the book links none): "no content", not an error
        # in the page's console (only a page's own requests are judged).
        if self.path == "/favicon.ico" and not (Path(self.directory) / "favicon.ico").is_file():
            self.send_response(204)
            self.end_headers()
            return
        super().do_GET()


#: How often (s) the file server's loop looks for ``shutdown()``: the longest a check waits for
#: its server to stop (the default 0.5 s cost about 0.3 s per site checked or page printed).
SERVER_POLL_S = 0.02


def serve(root: Path):
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": SERVER_POLL_S}, daemon=True).start()
    return server


def _is_redirect(path: Path) -> bool:
    """A stub that only redirects elsewhere (``index.html`` -> the root page): checked there."""
    head = path.read_text(encoding="utf-8", errors="replace")[:2000].lower()
    return path.stat().st_size < 2000 and 'http-equiv="refresh"' in head


def list_pages(root: Path) -> list[str]:
    skip = {"_static", "_sources", "_images", "_downloads", "_vendor"}
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.html")
                  if not (set(p.relative_to(root).parts) & skip) and not _is_redirect(p))


def _image_bytes(src: str, root: Path, base: str):
    if src.startswith("data:"):
        head, _, payload = src.partition(",")
        return base64.b64decode(payload) if ";base64" in head else urllib.parse.unquote(payload).encode()
    if not src.startswith(base):
        return None
    path = root / urllib.parse.unquote(urllib.parse.urlparse(src).path).lstrip("/")
    return path.read_bytes() if path.is_file() else None


def _launch_options(chromium: str, width: int) -> dict:
    """Debian's chromium, headless, offline profile, service workers blocked."""
    return dict(executable_path=chromium, headless=True, args=LAUNCH_ARGS,
                viewport={"width": width, "height": 900}, service_workers="block")


@contextlib.contextmanager
def browser(chromium=None, *, width=WIDTHS[0]):
    """One headless Chromium (offline profile, service workers blocked), driven by Playwright's
    synchronous API: the browser .ci/print_pdf.py prints in (the check itself runs in a
    :func:`browser_session`, several pages at a time)."""
    from playwright.sync_api import sync_playwright

    chromium = chromium or ensure_chromium()
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(profile, **_launch_options(chromium, width))
        try:
            yield context
        finally:
            context.close()


#: Pages checked at once (each in its own tab of the one browser). The check mostly waits on
#: the browser (page loads, MathJax, layout), so a few tabs keep both cores of the reference
#: machine busy; results do not depend on it (each page and width is a fresh load in a tab,
#: judged alone: a tab checks one page after another).
JOBS = 4

#: CSS animations and transitions run this many times faster (DevTools' Animation domain, as its
#: animation speed control): a theme switch or a drawer takes about 2 ms instead of 150-300 ms.
#: The check still waits for every running animation to end (:data:`SETTLE_JS`), so every rule
#: judges the same end states; only the frames in between are skipped, which no rule reads.
ANIMATION_RATE = 100.0


class Session:
    """One headless Chromium (offline profile, service workers blocked), driven from an event
    loop of its own, checking up to ``jobs`` pages at a time; made by :func:`browser_session`."""

    def __init__(self, loop, context, jobs: int):
        self.loop, self.context, self.jobs = loop, context, max(1, int(jobs))

    def run(self, coroutine):
        return self.loop.run_until_complete(coroutine)


@contextlib.contextmanager
def browser_session(chromium=None, *, width=WIDTHS[0], jobs: int = JOBS):
    """The browser for any number of :func:`check_site` / :func:`main` calls:
    ``with browser_session() as s: check_site(..., session=s)``."""
    import asyncio

    from playwright.async_api import async_playwright

    chromium = chromium or ensure_chromium()
    loop = asyncio.new_event_loop()
    with tempfile.TemporaryDirectory() as profile:
        pw = loop.run_until_complete(async_playwright().start())
        try:
            context = loop.run_until_complete(
                pw.chromium.launch_persistent_context(profile, **_launch_options(chromium, width)))
            try:
                yield Session(loop, context, jobs)
            finally:
                loop.run_until_complete(context.close())
        finally:
            loop.run_until_complete(pw.stop())
            loop.close()


#: Which pages get a full-page screenshot in ``out``: ``"findings"`` (a page and width with a
#: finding: what a reader of the report needs), ``"all"`` (every page at every width, to look at
#: them) or ``"none"``. No rule reads the screenshots.
SCREENSHOTS = ("findings", "all", "none")


def check_site(root, *, pages=None, widths=WIDTHS, out=None, chromium=None, session=None,
               screenshots: str = "findings", jobs: int | None = None) -> dict:
    """Run every rule on every page; returns {page: {width: [finding, ...]}}.

    ``session`` is a browser from :func:`browser_session` to reuse (else one is started for this site);
    ``screenshots`` (one of :data:`SCREENSHOTS`) says which pages are photographed into ``out``;
    ``jobs``: pages checked at once (default: the session's).
    """
    return check_sites([(root, pages, out)], widths=widths, chromium=chromium, session=session,
                       screenshots=screenshots, jobs=jobs)[0]


def check_sites(sites, *, widths=WIDTHS, chromium=None, session=None, screenshots: str = "findings",
                jobs: int | None = None) -> list:
    """:func:`check_site` for several ``(root, pages, out)`` at once, their pages interleaved
    in one browser; one result per site, in order."""
    if screenshots not in SCREENSHOTS:
        raise ValueError(f"screenshots must be one of {SCREENSHOTS}, not {screenshots!r}")
    if session is None:
        with browser_session(chromium, width=widths[0], jobs=jobs or JOBS) as s:
            return check_sites(sites, widths=widths, session=s, screenshots=screenshots, jobs=jobs)
    return session.run(_check_sites(session.context, sites, widths, screenshots, jobs or session.jobs))


async def _check_sites(context, sites, widths, screenshots, jobs):
    import asyncio

    servers, tasks, results = [], [], []
    try:
        for root, pages, out in sites:
            root = Path(root).resolve()
            pages = list(pages) if pages is not None else list_pages(root)
            out = Path(out) if out is not None else None
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
            shots = "none" if out is None else screenshots
            server = serve(root)
            servers.append(server)
            base = f"http://127.0.0.1:{server.server_address[1]}/"
            site = {page_name: {} for page_name in pages}
            results.append(site)
            tasks.extend((site, (base, root, page_name, width, out, shots)) for page_name in pages for width in widths)
        queue = asyncio.Queue()
        for task in tasks:
            queue.put_nowait(task)

        async def worker():
            tab = None
            try:
                while not queue.empty():
                    site, args = queue.get_nowait()
                    if tab is None or tab.page.is_closed():
                        tab = await _Tab.open(context)
                    site[args[2]][args[3]] = await _check_page(tab, *args)
            finally:
                if tab is not None and not tab.page.is_closed():
                    await tab.page.close()

        await asyncio.gather(*(worker() for _ in range(min(max(1, int(jobs)), len(tasks)))))
    finally:
        for server in servers:
            server.shutdown()
    for site in results:        # pages in the order given, widths as given
        for page_name in site:
            site[page_name] = {width: site[page_name][width] for width in widths}
    return results


class _Tab:
    """A browser tab that checks one page after another (each page is a fresh load at its
    width; the tab's renderer and its caches of scripts, fonts and images are reused). Requests
    to other hosts, console errors and uncaught errors are collected per page."""

    LOCAL_HOSTS = {"127.0.0.1", "localhost"}

    def __init__(self, page):
        self.page = page
        self.outside: list = []
        self.console: list = []

    @classmethod
    async def open(cls, context):
        page = await context.new_page()
        tab = cls(page)
        page.on("console", lambda m: tab.console.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: tab.console.append(f"uncaught: {e}"))
        page.on("websocket", lambda ws: tab.outside.append(ws.url)
                if urllib.parse.urlparse(ws.url).hostname not in cls.LOCAL_HOSTS else None)
        page.on("request", tab._request)
        cdp = await context.new_cdp_session(page)
        await cdp.send("Animation.enable")
        await cdp.send("Animation.setPlaybackRate", {"playbackRate": ANIMATION_RATE})
        return tab

    def _request(self, request):
        """Record a request to another host (the browser blocks it: :data:`OFFLINE_ARGS`).

        Requests are watched, not intercepted: interception would turn off the browser's cache,
        and every page would fetch MathJax, its fonts and the theme's scripts again (about a
        fifth more CPU for the whole check)."""
        url = urllib.parse.urlparse(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname not in self.LOCAL_HOSTS:
            self.outside.append(request.url)


async def _check_page(tab, base, root, page_name, width, out, shots="findings"):
    findings = []
    page = tab.page
    tab.outside, tab.console = [], []
    outside, console = tab.outside, tab.console
    try:
        if page.viewport_size != {"width": width, "height": 900}:
            await page.set_viewport_size({"width": width, "height": 900})
        await page.goto(base + page_name, wait_until="load", timeout=60_000)
        await page.evaluate(SETTLE_JS)
        data = await page.evaluate(PAGE_JS, [MIN_INTERACTIVE_PX, MIN_CONTROL_PX])
        findings.extend(data["findings"])
        for mode in ("dark", "light"):      # light last: the nav check and screenshots see it
            await page.evaluate("(m) => { document.documentElement.dataset.theme = m; }", mode)
            await page.evaluate(SETTLE_JS, 0)
            for detail in (await page.evaluate(CONTRAST_JS, MIN_CONTRAST))[:5]:
                findings.append({"rule": "caption", "where": f"{mode} mode", "detail": "low contrast: " + detail})
        for href in data.get("links", []):
            path = urllib.parse.unquote(urllib.parse.urlparse(href).path).lstrip("/")
            target = root / path
            if path and not (target.is_file() or (target.is_dir() and (target / "index.html").is_file())):
                findings.append({"rule": "link", "where": "page", "detail": f"missing file: {path[:120]}"})
        if width == WIDTHS[-1] or width < 600:
            if data["scrollWidth"] > data["innerWidth"] + 1:
                widest = await page.evaluate(WIDEST_JS)
                findings.append({"rule": "hscroll", "where": "page",
                                 "detail": f"page {data['scrollWidth']} px wide in a {data['innerWidth']} px window; "
                                           f"widest: {widest}"})
        for img in data["images"]:       # figure text at every width (phones included)
            raw = _image_bytes(img["src"], root, base)
            if raw is None:
                continue
            natural_px, natural_w, how = min_font_px_natural(raw, img["src"].lower())
            if natural_px is None:
                continue
            natural_w = natural_w or img["natural"] or img["shown"]
            shown_px = natural_px * img["shown"] / natural_w
            if shown_px < MIN_TEXT_PX:
                hint = "" if width >= 1000 else "; no one-column variant shown"
                findings.append({"rule": "small-text", "where": img["where"],
                                 "detail": f"text {shown_px:.1f} px at {width} px ({how}; shown {img['shown']:.0f} of "
                                           f"{natural_w:.0f} px{hint}): {img['src'].rsplit('/', 1)[-1][:40]}"})
        nav_findings, _ = await check_nav(page, width)
        findings.extend(nav_findings)
        if shots == "all" or (shots == "findings" and (findings or outside or console)):
            name = page_name.replace("/", "__").removesuffix(".html")
            await page.screenshot(path=str(out / f"{name}-{width}.png"), full_page=True, timeout=120_000)  # long pages, busy CI
    except Exception as err:  # a page that cannot be checked fails the check
        findings.append({"rule": "console", "where": "page", "detail": f"check failed: {err}"[:300]})
        await page.close()      # the next page gets a new tab
    findings.extend({"rule": "outside", "where": "page", "detail": u[:200]} for u in dict.fromkeys(outside))
    findings.extend({"rule": "console", "where": "page", "detail": c[:300]} for c in dict.fromkeys(console))
    return findings


def summarise(results) -> tuple[int, str]:
    lines, total = [], 0
    for page_name, by_width in results.items():
        for width, findings in by_width.items():
            counts = {rule: sum(f["rule"] == rule for f in findings) for rule in RULES}
            total += len(findings)
            flag = "ok  " if not findings else "FAIL"
            lines.append(f"{flag} {page_name} @{width}px: " +
                         (", ".join(f"{r}={n}" for r, n in counts.items() if n) or "clean"))
            for rule in RULES:
                shown = [f for f in findings if f["rule"] == rule][:3]
                for f in shown:
                    lines.append(f"       {rule}: {f['where']}: {f['detail']}")
    return total, "\n".join(lines)


def main(argv=None, *, session=None) -> int:
    """The command line; ``session``: a running browser from :func:`browser_session` (else one is started)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--html", action="append",
                        help="a built site; repeat with one --out each to check several in one browser "
                             "(default: _build/html)")
    parser.add_argument("--out", action="append", help="report folder of each --html (default: _build/browser_check)")
    parser.add_argument("--pages", nargs="*", help="pages relative to --html (default: all)")
    parser.add_argument("--screenshots", choices=SCREENSHOTS, default="findings",
                        help="full-page screenshots of the pages with findings (default), of every page, or none")
    parser.add_argument("--jobs", type=int, default=None,
                        help=f"pages checked at once, in tabs of the one browser (default {JOBS})")
    args = parser.parse_args(argv)
    sites = args.html or ["_build/html"]
    outs = args.out or ["_build/browser_check"]
    if len(outs) != len(sites):
        parser.error("give one --out for each --html")
    for html in sites:
        if not (Path(html) / "index.html").exists() and not args.pages:
            print(f"browser check: no built book in {html}")
            return 1
    all_results = check_sites([(Path(html), args.pages, out) for html, out in zip(sites, outs)],
                              session=session, screenshots=args.screenshots, jobs=args.jobs)
    status = 0
    for html, out, results in zip(sites, outs, all_results):
        total, text = summarise(results)
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "report.json").write_text(json.dumps(results, indent=1, ensure_ascii=False))
        print(f"== {html}")
        print(text)
        print(f"browser check of {html}: {len(results)} pages x {len(WIDTHS)} widths, {total} findings; "
              f"report.json (and screenshots: {args.screenshots}) in {out}", flush=True)
        status = status or (1 if total else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
