"""Interactive figures (chapters/qmribook/interactive.py and _static/interactive.js)."""
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "chapters") not in sys.path:
    sys.path.insert(0, str(ROOT / "chapters"))

from qmribook import interactive  # noqa: E402
from qmrigenes.relaxometry import spgr_signal  # noqa: E402

R1 = {"GM": 0.62, "WM": 0.86}
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def widget():
    return interactive.spgr_flip_angle_widget(r1=R1, tr_ms=(10, 25, 50), flip_deg=np.arange(1, 91),
                                              b1=(0.8, 1.0, 1.2), fig_id="qmri-test")


def _payload_from_html(text):
    m = re.search(r'<script type="application/json" class="qmri-interactive-data">(.*?)</script>',
                  text, flags=re.S)
    assert m is not None
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_ernst_angle_in_payload(widget):
    p = _payload_from_html(widget._repr_html_())
    assert p["slider"]["values"] == [10, 25, 50]
    b1_nominal = p["dropdown"]["initial"]
    assert p["dropdown"]["options"][b1_nominal].startswith("B1 = 1 ")
    for s in p["series"]:
        tissue = s["name"].split()[0]
        tr = np.array(p["slider"]["values"]) / 1000.0
        expected = np.rad2deg(np.arccos(np.exp(-tr * R1[tissue])))
        np.testing.assert_allclose(s["marker"][b1_nominal], expected, atol=1e-4)
        # with B1 = 0.8 the nominal angle of maximum signal is larger by 1/0.8
        np.testing.assert_allclose(s["marker"][0], expected / 0.8, atol=1e-4)


def test_curves_match_spgr_signal_and_peak_at_ernst(widget):
    p = widget.payload
    x = np.array(p["x"])
    for s in p["series"]:
        tissue = s["name"].split()[0]
        y = np.array(s["y"])                       # (n_b1, n_tr, n_fa)
        assert y.shape == (3, 3, 90)
        for it, tr_ms in enumerate(p["slider"]["values"]):
            want = [spgr_signal(100.0, R1[tissue], 0.0, flip_angle=float(fa), tr=tr_ms / 1000,
                                te=(0.0,))[0] for fa in x]
            np.testing.assert_allclose(y[1, it], want, rtol=1e-3)
            # the sampled maximum lies within one grid step of the Ernst angle
            assert abs(x[np.argmax(y[1, it])] - s["marker"][1][it]) <= 1.0


def test_spgr_data_is_one_spgr_signal_call_per_point():
    """Every B1 and flip angle in one call per TR gives the numbers of one call per (B1, TR, flip
    angle), bit for bit."""
    d = interactive.spgr_flip_angle_data(r1=R1, pd={"GM": 80.0, "WM": 70.0}, tr_ms=(10, 25),
                                         flip_deg=(3, 21, 89), b1=(0.8, 1.0, 1.2))
    for tissue in R1:
        for ib, b in enumerate(d["b1"]):
            for it, tr_ms in enumerate(d["tr_ms"]):
                for ia, fa in enumerate(d["flip_deg"]):
                    want = spgr_signal({"GM": 80.0, "WM": 70.0}[tissue], R1[tissue], 0.0, flip_angle=float(fa),
                                       tr=tr_ms / 1000, te=(0.0,), b1=float(b))[0]
                    assert d["signal"][tissue][ib, it, ia] == want


def test_html_has_no_external_urls(widget):
    text = widget.to_html()
    assert not re.search(r"(https?:)?//", text)
    js = (ROOT / "_static" / "interactive.js").read_text()
    # the only URL-like string allowed in the script is the SVG namespace identifier
    assert re.findall(r"https?://[^\s\"']+", js) == ["http://www.w3.org/2000/svg"]
    assert "import(" not in js and "fetch(" not in js and "XMLHttpRequest" not in js


def test_json_is_script_safe():
    fig = interactive.slider_figure(x=[0, 1], series={"a</script><b>": [[0, 1]]}, slider_values=[1],
                                    slider_label="k", xlabel="x", ylabel="y")
    html = fig.to_html()
    assert html.count("</script>") == 1
    assert _payload_from_html(html)["series"][0]["name"] == "a</script><b>"


@pytest.mark.parametrize("kwargs, msg", [
    (dict(series={"a": [[0, 1, 2]]}), "shape"),
    (dict(series={"a": [[0, np.nan]]}), "NaN"),
    (dict(x=[1, 0]), "increasing"),
    (dict(markers={"b": [0.5]}), "unknown series"),
    (dict(marker_label="no field"), "marker_label"),
    (dict(initial=3), "initial"),
])
def test_slider_figure_rejects_bad_input(kwargs, msg):
    args = dict(x=[0, 1], series={"a": [[0, 1]]}, slider_values=[1], slider_label="k",
                xlabel="x", ylabel="y")
    args.update(kwargs)
    with pytest.raises(ValueError, match=msg):
        interactive.slider_figure(**args)


def test_dropdown_shapes():
    fig = interactive.slider_figure(x=[0, 1, 2], series={"a": np.zeros((2, 4, 3))},
                                    slider_values=np.arange(4), slider_label="k",
                                    dropdown={"label": "d", "options": ["u", "v"]},
                                    markers={"a": np.ones((2, 4))}, marker_label="m {:.2f} u",
                                    xlabel="x", ylabel="y")
    p = fig.payload
    assert np.array(p["series"][0]["y"]).shape == (2, 4, 3)
    assert p["marker_label"] == {"prefix": "m ", "decimals": 2, "suffix": " u"}
    assert p["slider"]["initial"] == 2
    with pytest.raises(ValueError, match="shape"):
        interactive.slider_figure(x=[0, 1, 2], series={"a": np.zeros((4, 3))},
                                  slider_values=np.arange(4), slider_label="k",
                                  dropdown={"label": "d", "options": ["u", "v"]},
                                  xlabel="x", ylabel="y")


_PROBE = """<script>window.addEventListener("load", function () {
  var b = document.getElementById("qmri-test"), p = b.querySelector("path.qmri-curve");
  var lab = function () { return b.querySelector("text.qmri-marker-label").textContent; };
  var r = {error: b.getAttribute("data-qmri-error"), d0: p.getAttribute("d"), l0: lab()};
  var s = b.querySelector("input.qmri-slider"); s.value = 2; s.dispatchEvent(new Event("input"));
  r.d1 = p.getAttribute("d"); r.l1 = lab();
  var c = b.querySelector("select.qmri-dropdown"); c.value = 0; c.dispatchEvent(new Event("change"));
  r.d2 = p.getAttribute("d"); r.l2 = lab(); r.state = b.getAttribute("data-qmri-state");
  var o = document.createElement("pre"); o.id = "probe"; o.textContent = JSON.stringify(r);
  document.body.appendChild(o); });</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_slider_redraws_in_headless_chromium(widget, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                    + widget.to_html() + "<script>"
                    + (ROOT / "_static" / "interactive.js").read_text() + "</script>"
                    + _PROBE + "</body></html>", encoding="utf-8")
    out = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe">(.*?)</pre>', out, flags=re.S)
    assert m is not None, out[-2000:]
    r = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert r["error"] is None
    assert r["d0"].startswith("M") and r["d0"].count("L") == 89
    assert r["d1"] != r["d0"] and r["d2"] != r["d1"]
    ernst = interactive.ernst_angle(R1["GM"], np.array([25, 50]) / 1000)
    assert r["l0"] == f"Ernst {ernst[0]:.1f}°"               # initial TR = 25 ms, B1 = 1
    assert r["l1"] == f"Ernst {ernst[1]:.1f}°"               # slider moved to TR = 50 ms
    assert r["l2"] == f"Ernst {ernst[1] / 0.8:.1f}°"         # dropdown to B1 = 0.8
    assert r["state"] == "2,0"


def test_default_id_is_deterministic():
    kw = dict(x=[0, 1], series={"a": [[0, 1]]}, slider_values=[1], slider_label="k",
              xlabel="x", ylabel="y")
    a, b = interactive.slider_figure(**kw), interactive.slider_figure(**kw)
    assert a.fig_id == b.fig_id and a.to_html() == b.to_html()
    kw["series"] = {"a": [[0, 2]]}
    assert interactive.slider_figure(**kw).fig_id != a.fig_id


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium")
def test_step_curves_draw_steps(tmp_path):
    fig = interactive.slider_figure(x=[0, 1, 2], series={"null": [[1, 3, 2], [2, 2, 2]]},
                                    slider_values=[100, 1000], slider_label="draws", step=True,
                                    initial=0, xlabel="score", ylabel="count", fig_id="qmri-step")
    assert fig.payload["step"] is True
    page = tmp_path / "step.html"
    page.write_text("<!DOCTYPE html><html><body>" + fig.to_html() + "<script>"
                    + (ROOT / "_static" / "interactive.js").read_text() + "</script>"
                    "<script>window.addEventListener('load', function () {"
                    "var o = document.createElement('pre'); o.id = 'probe';"
                    "o.textContent = document.querySelector('#qmri-step path.qmri-curve')"
                    ".getAttribute('d'); document.body.appendChild(o); });</script>"
                    "</body></html>", encoding="utf-8")
    out = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True,
                         timeout=120).stdout
    d = re.search(r'<pre id="probe">(.*?)</pre>', out).group(1)
    assert d.count("L") == 4                  # three points, two extra corners for the steps
    pts = [tuple(map(float, seg.split())) for seg in re.split("[ML]", d)[1:]]
    assert pts[1][1] == pts[0][1] and pts[1][0] == pts[2][0]   # flat, then vertical
