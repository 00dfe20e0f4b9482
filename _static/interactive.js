/* Interactive figures of the qmrigenes book (chapters/qmribook/interactive.py).
 *
 * Self-contained: no library, no network. Every <div class="qmri-interactive"> carries its
 * precomputed data as JSON; this script draws the curves as SVG with a slider (and an optional
 * dropdown) and redraws on every change. Jupyter Book includes this file once per page because
 * it lives in the book's _static folder.
 */
(function () {
  "use strict";
  var SVGNS = "http://www.w3.org/2000/svg";
  var W = 640, H = 380, M = {l: 70, r: 20, t: 34, b: 52};

  function el(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    for (var k in attrs) { if (attrs.hasOwnProperty(k)) e.setAttribute(k, attrs[k]); }
    if (parent) parent.appendChild(e);
    return e;
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

  function fmt(v) {
    var a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1000 || a < 0.01) return v.toExponential(1);
    return String(parseFloat(v.toPrecision(4)));
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

    var sx = function (x) { return M.l + (x - d.xlim[0]) / (d.xlim[1] - d.xlim[0]) * (W - M.l - M.r); };
    var sy = function (y) { return H - M.b - (y - d.ylim[0]) / (d.ylim[1] - d.ylim[0]) * (H - M.t - M.b); };

    var svg = el("svg", {viewBox: "0 0 " + W + " " + H, "class": "qmri-interactive-svg",
                         role: "img", "aria-label": d.title || "interactive figure"});
    box.appendChild(svg);
    if (d.title) el("text", {x: W / 2, y: 18, "text-anchor": "middle", "class": "qmri-title"}, svg).textContent = d.title;
    // axes and ticks
    var ax = el("g", {"class": "qmri-axes"}, svg);
    el("line", {x1: M.l, y1: H - M.b, x2: W - M.r, y2: H - M.b}, ax);
    el("line", {x1: M.l, y1: M.t, x2: M.l, y2: H - M.b}, ax);
    niceTicks(d.xlim[0], d.xlim[1], 8).forEach(function (t) {
      el("line", {x1: sx(t), y1: H - M.b, x2: sx(t), y2: H - M.b + 5}, ax);
      el("text", {x: sx(t), y: H - M.b + 18, "text-anchor": "middle"}, ax).textContent = fmt(t);
    });
    niceTicks(d.ylim[0], d.ylim[1], 6).forEach(function (t) {
      el("line", {x1: M.l - 5, y1: sy(t), x2: M.l, y2: sy(t)}, ax);
      el("line", {x1: M.l, y1: sy(t), x2: W - M.r, y2: sy(t), "class": "qmri-grid"}, ax);
      el("text", {x: M.l - 8, y: sy(t) + 4, "text-anchor": "end"}, ax).textContent = fmt(t);
    });
    el("text", {x: (M.l + W - M.r) / 2, y: H - 10, "text-anchor": "middle"}, ax).textContent = d.xlabel;
    el("text", {x: 16, y: (M.t + H - M.b) / 2, "text-anchor": "middle",
                transform: "rotate(-90 16 " + (M.t + H - M.b) / 2 + ")"}, ax).textContent = d.ylabel;

    // one path, marker and legend entry per series
    var clip = "clip-" + box.id;
    var cp = el("clipPath", {id: clip}, el("defs", {}, svg));
    el("rect", {x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b}, cp);
    var plot = el("g", {"clip-path": "url(#" + clip + ")"}, svg);
    var legend = el("g", {"class": "qmri-legend"}, svg);
    var items = d.series.map(function (s, i) {
      var it = {s: s};
      it.path = el("path", {fill: "none", stroke: s.color, "stroke-width": 2.2, "class": "qmri-curve"}, plot);
      if (s.marker) {
        it.drop = el("line", {stroke: s.color, "stroke-dasharray": "4 3", "stroke-width": 1.2}, plot);
        it.dot = el("circle", {r: 5, fill: s.color, stroke: "white", "stroke-width": 1.5, "class": "qmri-marker"}, plot);
        it.label = el("text", {"class": "qmri-marker-label", style: "fill:" + s.color}, svg);
      }
      var ly = M.t + 8 + 18 * i;
      el("line", {x1: W - M.r - 230, y1: ly, x2: W - M.r - 208, y2: ly, stroke: s.color, "stroke-width": 2.5}, legend);
      el("text", {x: W - M.r - 202, y: ly + 4}, legend).textContent = s.name;
      return it;
    });

    // controls
    var ctl = document.createElement("div");
    ctl.className = "qmri-controls";
    box.appendChild(ctl);
    var lab = document.createElement("label");
    var slider = document.createElement("input");
    slider.type = "range"; slider.min = 0; slider.max = d.slider.values.length - 1; slider.step = 1;
    slider.value = d.slider.initial;
    slider.className = "qmri-slider";
    slider.setAttribute("aria-label", d.slider.label);
    var out = document.createElement("output");
    out.className = "qmri-slider-value";
    lab.appendChild(document.createTextNode(d.slider.label + " "));
    lab.appendChild(slider);
    lab.appendChild(out);
    ctl.appendChild(lab);
    var select = null;
    if (d.dropdown) {
      var lab2 = document.createElement("label");
      select = document.createElement("select");
      select.className = "qmri-dropdown";
      d.dropdown.options.forEach(function (o, i) {
        var op = document.createElement("option"); op.value = i; op.textContent = o; select.appendChild(op);
      });
      select.value = d.dropdown.initial;
      lab2.appendChild(document.createTextNode(d.dropdown.label + " "));
      lab2.appendChild(select);
      ctl.appendChild(lab2);
    }
    if (d.caption) {
      var cap = document.createElement("p"); cap.className = "qmri-caption"; cap.textContent = d.caption;
      box.appendChild(cap);
    }

    function draw() {
      var k = parseInt(slider.value, 10), o = select ? parseInt(select.value, 10) : 0;
      var v = d.slider.values[k];
      out.textContent = " " + v.toFixed(d.slider.decimals) + (d.slider.unit ? " " + d.slider.unit : "");
      box.setAttribute("data-qmri-state", k + "," + o);
      var nlab = 0, top = H;
      items.forEach(function (it) {
        if (it.dot) top = Math.min(top, sy(interp(d.x, it.s.y[o][k], it.s.marker[o][k])));
      });
      items.forEach(function (it) {
        var ys = it.s.y[o][k], p = "";
        for (var i = 0; i < d.x.length; i++) {
          if (d.step && i) p += "L" + sx(d.x[i]).toFixed(1) + " " + sy(ys[i - 1]).toFixed(1);
          p += (i ? "L" : "M") + sx(d.x[i]).toFixed(1) + " " + sy(ys[i]).toFixed(1);
        }
        it.path.setAttribute("d", p);
        if (it.dot) {
          var mx = it.s.marker[o][k], my = interp(d.x, ys, mx);
          var inside = mx >= d.xlim[0] && mx <= d.xlim[1];
          [it.dot, it.drop, it.label].forEach(function (e) { e.style.display = inside ? "" : "none"; });
          it.dot.setAttribute("cx", sx(mx)); it.dot.setAttribute("cy", sy(my));
          it.drop.setAttribute("x1", sx(mx)); it.drop.setAttribute("x2", sx(mx));
          it.drop.setAttribute("y1", sy(my)); it.drop.setAttribute("y2", H - M.b);
          var ml = d.marker_label;
          it.label.textContent = ml.prefix + mx.toFixed(ml.decimals) + ml.suffix;
          it.label.setAttribute("x", sx(mx) + 8);
          it.label.setAttribute("y", Math.max(M.t + 12 + 16 * nlab, top - 12 - 16 * (items.length - 1 - nlab)));
          nlab += 1;
        }
      });
    }
    slider.addEventListener("input", draw);
    slider.addEventListener("change", draw);
    if (select) select.addEventListener("change", draw);
    draw();
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
