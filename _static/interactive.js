/* Interactive figures of the qmrigenes book (chapters/qmribook/interactive.py).
 *
 * Self-contained: no library, no network. Every <div class="qmri-interactive"> carries its
 * precomputed data as JSON; this script draws the curves as SVG with a slider (and an optional
 * dropdown) and redraws on every change. Jupyter Book includes this file once per page because
 * it lives in the book's _static folder.
 *
 * The SVG is laid out at the width it is shown at (one SVG unit = one CSS pixel), so its text is
 * 12 px on a phone as on a desktop; it is laid out again when the column width changes. Title,
 * legend, controls and the live read-out are HTML, so they wrap and follow the page's colours.
 */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var MINUS = "\u2212";
  var SUP = {"-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074",
             "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079"};

  function el(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) { if (attrs.hasOwnProperty(k)) e.setAttribute(k, attrs[k]); }
    if (parent) parent.appendChild(e);
    return e;
  }

  function html(tag, cls, parent, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  // Width (px) of a 12 px sans-serif label, as the SVG draws it (measured on a canvas, before
  // the SVG exists, so that the layout can make room for a label that needs two lines).
  var measureCtx = null;
  function textWidth(text) {
    if (!measureCtx) {
      measureCtx = document.createElement("canvas").getContext("2d");
      if (measureCtx) measureCtx.font = "12px sans-serif";
    }
    return measureCtx ? measureCtx.measureText(text).width : text.length * 7;
  }
  // Greedy word wrap of an axis label to lines no wider than `width` px.
  function wrapWords(text, width) {
    var lines = [], line = "";
    String(text).split(/\s+/).forEach(function (word) {
      var next = line ? line + " " + word : word;
      if (line && textWidth(next) > width) { lines.push(line); line = word; }
      else line = next;
    });
    if (line) lines.push(line);
    return lines.length ? lines : [""];
  }
  function niceTicks(lo, hi, n) {
    var span = hi - lo;
    if (!(span > 0)) return [lo];
    var step = Math.pow(10, Math.floor(Math.log10(span / n)));
    var err = span / n / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var ticks = [];
    for (var v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) {
      ticks.push(Math.abs(v) < 1e-12 * span ? 0 : v);
    }
    return ticks;
  }

  // The book's number style: proper minus, m×10ⁿ for very large or small values.
  function fmt(v) {
    var a = Math.abs(v);
    if (a === 0) return "0";
    var s;
    if (a >= 10000 || a < 0.001) {
      var parts = v.toExponential(1).split("e");
      var exp = String(parseInt(parts[1], 10)).split("").map(function (c) { return SUP[c]; }).join("");
      s = parts[0] + "\u00d710" + exp;
    } else {
      s = String(parseFloat(v.toPrecision(4)));
      if (a >= 1000) s = Number(s).toLocaleString("en-US");
    }
    return s.replace(/-/g, MINUS);
  }

  function fixed(v, decimals) {
    var s = Math.abs(v) >= 1000 ? v.toLocaleString("en-US", {minimumFractionDigits: decimals,
                                                             maximumFractionDigits: decimals})
                                : v.toFixed(decimals);
    return s.replace(/^-/, MINUS);
  }

  function interp(xs, ys, x) {
    if (x <= xs[0]) return ys[0];
    for (var i = 1; i < xs.length; i++) {
      if (x <= xs[i]) {
        var t = (x - xs[i - 1]) / (xs[i] - xs[i - 1]);
        return ys[i - 1] + t * (ys[i] - ys[i - 1]);
      }
    }
    return ys[ys.length - 1];
  }

  function build(box) {
    var node = box.querySelector("script.qmri-interactive-data");
    if (!node || box.getAttribute("data-qmri-ready")) return;
    var d = JSON.parse(node.textContent);
    box.setAttribute("data-qmri-ready", "1");
    var fb = box.querySelector(".qmri-interactive-fallback");
    if (fb) fb.style.display = "none";

    if (d.title) html("p", "qmri-title", box, d.title);
    var holder = html("div", "qmri-plot", box);
    var legend = html("ul", "qmri-legend", box);
    d.series.forEach(function (s) {
      var li = html("li", "", legend);
      var sw = el("svg", {width: 28, height: 12, "aria-hidden": "true", "class": "qmri-swatch"}, li);
      el("line", {x1: 1, y1: 6, x2: 27, y2: 6, stroke: s.color, "stroke-width": 3,
                  "stroke-dasharray": s.dash || ""}, sw);
      li.appendChild(document.createTextNode(" " + s.name));
    });

    // controls
    var ctl = html("div", "qmri-controls", box);
    var lab = html("label", "qmri-slider-label", ctl);
    var slider = document.createElement("input");
    slider.type = "range"; slider.min = 0; slider.max = d.slider.values.length - 1; slider.step = 1;
    slider.value = d.slider.initial;
    slider.className = "qmri-slider";
    var out = document.createElement("output");
    out.className = "qmri-slider-value";
    lab.appendChild(document.createTextNode(d.slider.label + " "));
    lab.appendChild(out);
    lab.appendChild(slider);
    var select = null;
    if (d.dropdown) {
      var lab2 = html("label", "qmri-dropdown-label", ctl, d.dropdown.label + " ");
      select = document.createElement("select");
      select.className = "qmri-dropdown";
      d.dropdown.options.forEach(function (o, i) {
        var op = document.createElement("option"); op.value = i; op.textContent = o; select.appendChild(op);
      });
      select.value = d.dropdown.initial;
      lab2.appendChild(select);
    }
    var status = null;
    if (d.status) {
      status = html("p", "qmri-status", box);
      status.setAttribute("aria-live", "polite");
    }
    if (d.caption) html("p", "qmri-caption", box, d.caption);
    // on paper the controls are gone: say which setting is drawn
    var printed = html("p", "qmri-print-state", box);

    var svg = null, items = [], sx, sy, W, H, M, ylim;

    function valueText(k) {
      var v = d.slider.values[k];
      return fixed(v, d.slider.decimals) + (d.slider.unit ? " " + d.slider.unit : "");
    }

    function layout() {
      var o = select ? parseInt(select.value, 10) : 0;
      W = Math.round(Math.max(280, Math.min(720, holder.clientWidth || 640)));
      var narrow = W < 520;
      // the x-axis label wraps rather than running past the edge on a phone
      var xlines = wrapWords(d.xlabel, W - 16), extra = 15 * (xlines.length - 1);
      H = Math.round(narrow ? Math.max(240, W * 0.72) : Math.min(400, W * 0.58)) + extra;
      M = {l: narrow ? 54 : 66, r: 14, t: 12, b: 46 + extra};
      ylim = d.ylims ? d.ylims[o] : d.ylim;
      sx = function (x) { return M.l + (x - d.xlim[0]) / (d.xlim[1] - d.xlim[0]) * (W - M.l - M.r); };
      sy = function (y) { return H - M.b - (y - ylim[0]) / (ylim[1] - ylim[0]) * (H - M.t - M.b); };
      if (svg) svg.remove();
      svg = el("svg", {viewBox: "0 0 " + W + " " + H, width: W, height: H, "class": "qmri-interactive-svg",
                       role: "img", "aria-label": (d.title || "interactive figure") + ": " + d.ylabel +
                       " against " + d.xlabel});
      holder.appendChild(svg);
      var ax = el("g", {"class": "qmri-axes"}, svg);
      el("line", {x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b}, ax);
      el("line", {x1: M.l, y1: M.t, x2: M.l, y2: H - M.b}, ax);
      niceTicks(d.xlim[0], d.xlim[1], Math.max(3, Math.floor((W - M.l) / 70))).forEach(function (t) {
        el("line", {x1: sx(t), y1: H - M.b, x2: sx(t), y2: H - M.b + 5}, ax);
        // a tick label at the right edge ends at the edge instead of being cut
        var half = textWidth(fmt(t)) / 2, atEdge = sx(t) + half > W - 2;
        el("text", {x: atEdge ? W - 2 : sx(t), y: H - M.b + 18, "text-anchor": atEdge ? "end" : "middle"},
           ax).textContent = fmt(t);
      });
      niceTicks(ylim[0], ylim[1], Math.max(3, Math.floor(H / 60))).forEach(function (t) {
        el("line", {x1: M.l - 5, y1: sy(t), x2: M.l, y2: sy(t)}, ax);
        el("line", {x1: M.l, y1: sy(t), x2: W - M.r, y2: sy(t), "class": "qmri-grid"}, ax);
        el("text", {x: M.l - 8, y: sy(t) + 4, "text-anchor": "end"}, ax).textContent = fmt(t);
      });
      var xl = el("text", {x: W / 2, y: H - 8 - extra, "text-anchor": "middle"}, ax);
      xlines.forEach(function (line, i) {
        el("tspan", {x: W / 2, dy: i ? 15 : 0}, xl).textContent = line;
      });
      el("text", {x: 14, y: (M.t + H - M.b) / 2, "text-anchor": "middle",
                  transform: "rotate(-90 14 " + (M.t + H - M.b) / 2 + ")"}, ax).textContent = d.ylabel;
      var clip = "clip-" + box.id;
      var cp = el("clipPath", {id: clip}, el("defs", {}, svg));
      el("rect", {x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b}, cp);
      var plot = el("g", {"clip-path": "url(#" + clip + ")"}, svg);
      items = d.series.map(function (s) {
        var it = {s: s};
        it.path = el("path", {fill: "none", stroke: s.color, "stroke-width": 2.2, "class": "qmri-curve",
                              "stroke-dasharray": s.dash || ""}, plot);
        if (s.marker) {
          it.drop = el("line", {stroke: s.color, "stroke-dasharray": d.marker_style === "line" ? "" : "4 3",
                                "stroke-width": d.marker_style === "line" ? 2.5 : 1.2}, plot);
          if (d.marker_style !== "line")
            it.dot = el("circle", {r: 5, fill: s.color, stroke: "white", "stroke-width": 1.5, "class": "qmri-marker"}, plot);
          it.label = el("text", {"class": "qmri-marker-label", style: "fill:" + s.color}, svg);
        }
        return it;
      });
      box.setAttribute("data-qmri-width", String(W));
    }

    var lastO = null;
    function draw() {
      var k = parseInt(slider.value, 10), o = select ? parseInt(select.value, 10) : 0;
      if (d.ylims && o !== lastO) layout();
      lastO = o;
      out.textContent = valueText(k);
      slider.setAttribute("aria-valuetext", valueText(k));
      if (status) status.textContent = d.status[o][k];
      printed.textContent = "Shown: " + d.slider.label + " = " + valueText(k) +
        (select ? "; " + d.dropdown.label + ": " + d.dropdown.options[o] : "") + ".";
      box.setAttribute("data-qmri-state", k + "," + o);
      var nlab = 0, top = H;
      items.forEach(function (it) {
        if (it.s.marker) top = Math.min(top, sy(interp(d.x, it.s.y[o][k], it.s.marker[o][k])));
      });
      items.forEach(function (it) {
        var ys = it.s.y[o][k], p = "";
        for (var i = 0; i < d.x.length; i++) {
          if (d.step && i) p += "L" + sx(d.x[i]).toFixed(1) + " " + sy(ys[i - 1]).toFixed(1);
          p += (i ? "L" : "M") + sx(d.x[i]).toFixed(1) + " " + sy(ys[i]).toFixed(1);
        }
        it.path.setAttribute("d", p);
        if (it.s.marker) {
          var mx = it.s.marker[o][k], my = interp(d.x, ys, mx);
          var inside = mx >= d.xlim[0] && mx <= d.xlim[1];
          [it.dot, it.drop, it.label].forEach(function (e) { if (e) e.style.display = inside ? "" : "none"; });
          var ml = d.marker_label;
          it.label.textContent = ml.prefix + fixed(mx, ml.decimals) + ml.suffix;
          var right = sx(mx) > (M.l + W - M.r) / 2;
          it.label.setAttribute("text-anchor", right ? "end" : "start");
          it.label.setAttribute("x", sx(mx) + (right ? -8 : 8));
          it.drop.setAttribute("x1", sx(mx)); it.drop.setAttribute("x2", sx(mx));
          it.drop.setAttribute("y2", H - M.b);
          if (d.marker_style === "line") {
            it.drop.setAttribute("y1", M.t);
            it.label.setAttribute("y", M.t + 14 + 16 * nlab);
          } else {
            it.dot.setAttribute("cx", sx(mx)); it.dot.setAttribute("cy", sy(my));
            it.drop.setAttribute("y1", sy(my));
            it.label.setAttribute("y", Math.max(M.t + 12 + 16 * nlab, top - 12 - 16 * (items.length - 1 - nlab)));
          }
          nlab += 1;
        }
      });
    }
    slider.addEventListener("input", draw);
    slider.addEventListener("change", draw);
    if (select) select.addEventListener("change", draw);
    layout();
    draw();
    if (window.ResizeObserver) {
      var pending = null;
      new ResizeObserver(function () {
        var w = Math.round(holder.clientWidth);
        if (!w || Math.abs(Math.max(280, Math.min(720, w)) - W) < 8) return;
        clearTimeout(pending);
        pending = setTimeout(function () { layout(); draw(); }, 60);
      }).observe(holder);
    }
  }

  function init() {
    var boxes = document.querySelectorAll("div.qmri-interactive");
    for (var i = 0; i < boxes.length; i++) {
      try { build(boxes[i]); } catch (e) { boxes[i].setAttribute("data-qmri-error", String(e)); }
    }
  }
  window.qmriInteractive = {init: init, build: build};
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
