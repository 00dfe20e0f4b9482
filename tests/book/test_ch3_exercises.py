"""Tests of chapter 3's exercise solutions and interactive figures (qmribook.ch3_exercises)."""
import json
import re

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from qmrigenes import qsm
from qmrigenes.relaxometry import fit_r1_pd_vfa, spgr_signal
from qmribook import ch3_exercises as ex
from qmribook.report import Report
from toys import _labelled_blob


@pytest.fixture(scope="module")
def tkd_report():
    chi, labels = _labelled_blob()          # labels: 1 CSF, 3 WM, 5 putamen, 6 pallidum
    return ex.report_tkd_threshold(chi, labels, thresholds=(0.05, 0.2, 0.4, 0.6), field_sigma=0.001,
                                   seed=0, pad=4, profile_half_mm=10, fig_id="t-tkd")


def test_tkd_sweep_trades_underestimation_for_artefacts(tkd_report):
    r = tkd_report
    assert isinstance(r, Report)
    tab = r.data["table"]
    assert list(tab.index) == [0.05, 0.2, 0.4, 0.6]
    # raising the threshold always loses more of the pallidum's chi ...
    assert np.all(np.diff(tab["recovery_pct"]) < 0)
    assert r.numbers["ex-tkd-rec-hi"] < 70 < r.numbers["ex-tkd-rec-lo"]
    # ... and, with noise, always damps the artefacts in the uniform region
    assert np.all(np.diff(tab["artefact_sd_ppb"]) < 0)
    assert r.numbers["ex-tkd-sd-lo"] > r.numbers["ex-tkd-sd-hi"]
    # the noise-free field has far smaller artefacts at the lowest threshold
    assert r.numbers["ex-tkd-sd-clean-lo"] < r.numbers["ex-tkd-sd-lo"]
    assert r.numbers["ex-tkd-best-t"] in tab.index
    assert r.numbers["ex-tkd-best-rmse"] == pytest.approx(tab["rmse_ppb"].min())
    assert set(r.figures) == {"ex-fig-tkd", "int-tkd"} and set(r.tables) == {"ex-tkd-table"}


def test_tkd_recovery_matches_direct_tkd(tkd_report):
    chi, labels = _labelled_blob()
    mask = labels > 0
    field = qsm.add_field_noise(qsm.forward_field(chi, pad=4), 0.001, rng=np.random.default_rng(0),
                                mask=mask)
    rec = qsm.reference_to(qsm.tkd(field, threshold=0.2, mask=mask), labels == 1)
    truth = qsm.reference_to(chi, labels == 1)
    want = 100 * rec[labels == 6].mean() / truth[labels == 6].mean()
    assert tkd_report.data["table"].loc[0.2, "recovery_pct"] == pytest.approx(want)


def test_tkd_interactive_payload(tkd_report):
    w = tkd_report.figures["int-tkd"]
    html = w._repr_html_()
    payload = json.loads(re.search(r'class="qmri-interactive-data">(.*?)</script>', html, re.S).group(1))
    assert payload["slider"]["values"] == [0.05, 0.2, 0.4, 0.6]
    assert payload["dropdown"]["options"] == ["noisy field", "noise-free field"]
    truth, tkd = (np.array(s["y"]) for s in payload["series"])
    assert truth.shape == tkd.shape == (2, 4, len(payload["x"]))
    # the profile's peak shrinks as the threshold rises (noise-free field)
    peaks = tkd[1].max(axis=1)
    assert peaks[0] > peaks[-1] and truth[1, 0].max() == pytest.approx(truth[1, -1].max())
    assert 'id="t-tkd"' in html and not re.search(r"https?://", html)


def test_tkd_sweep_rejects_bad_input():
    chi, labels = _labelled_blob()
    with pytest.raises(ValueError, match="increasing"):
        ex.tkd_threshold_sweep(chi, labels, thresholds=(0.2, 0.1), pad=2)
    with pytest.raises(ValueError, match="label"):
        ex.tkd_threshold_sweep(chi, labels, roi="thalamus", pad=2)
    with pytest.raises(ValueError, match="shapes"):
        ex.tkd_threshold_sweep(chi, labels[:-1], pad=2)


def test_r1_noise_grid_matches_monte_carlo_and_closed_form():
    r1, tr = 0.86, 0.025
    grid = ex.r1_noise_grid(r1, amplitude=70.0, sigma=0.05, tr=tr, fa_low=(4, 6), fa_high=(21, 30))
    assert len(grid) == 4 and (grid["fa_low"] < grid["fa_high"]).all()
    row = grid[(grid.fa_low == 6) & (grid.fa_high == 21)].iloc[0]
    # bias of the small-angle solution: exact signals in, fit_r1_pd_vfa out
    s = [float(spgr_signal(70.0, r1, 0.0, flip_angle=a, tr=tr, te=(0.0,))[0]) for a in (6, 21)]
    est = float(fit_r1_pd_vfa(*s, fa_pdw=6, fa_t1w=21, tr_pdw=tr, tr_t1w=tr)[0])
    assert row["r1_bias_pct"] == pytest.approx(100 * (est / r1 - 1))
    # noise: a plain Gaussian Monte Carlo agrees with the error propagation within 5 %
    rng = np.random.default_rng(1)
    n1 = s[0] + rng.normal(0, 0.05, 40000)
    n2 = s[1] + rng.normal(0, 0.05, 40000)
    mc = 100 * np.std(fit_r1_pd_vfa(n1, n2, fa_pdw=6, fa_t1w=21, tr_pdw=tr, tr_t1w=tr)[0]) / r1
    assert row["r1_cov_pct"] == pytest.approx(mc, rel=0.05)
    with pytest.raises(ValueError, match="no pair"):
        ex.r1_noise_grid(r1, fa_low=(30,), fa_high=(20,))
    with pytest.raises(ValueError, match="positive"):
        ex.r1_noise_grid(-1.0)


def test_flip_angle_report_optimum_near_the_71_percent_rule():
    r = ex.report_flip_angle_noise(0.86, amplitude=70.0, sigma=0.05, fa_low=range(2, 13),
                                   fa_high=range(15, 46), n_mc=4000, seed=0)
    n = r.numbers
    assert n["ex-fa-opt-lo"] < n["ex-fa-ernst"] < n["ex-fa-opt-hi"]
    assert n["ex-fa-cov-opt"] <= n["ex-fa-cov-prot"] and n["ex-fa-gain"] >= 1
    # at the least-noise pair both signals sit near 71 % of the Ernst maximum (1/sqrt(2))
    assert 60 < n["ex-fa-sig-lo"] < 80 and 60 < n["ex-fa-sig-hi"] < 80
    assert n["ex-fa-mc-opt"] == pytest.approx(n["ex-fa-cov-opt"], rel=0.1)
    assert n["ex-fa-mc-prot"] == pytest.approx(n["ex-fa-cov-prot"], rel=0.1)
    assert n["ex-fa-bias-opt"] < n["ex-fa-bias-prot"] < 0         # larger angle, larger bias
    fig = r.figures["ex-fig-fa"]
    assert fig.get_size_inches()[0] <= 7.5
    plt.close(fig)
    with pytest.raises(ValueError, match="protocol"):
        ex.report_flip_angle_noise(0.86, protocol=(6.5, 21), fa_low=(4, 6), fa_high=(21, 30), n_mc=10)


def test_spgr_explorer():
    tab = pd.DataFrame({"R1": [0.62, 0.86], "PD": [80.0, 70.0]}, index=["cortical GM", "WM"])
    r = ex.report_spgr_explorer(tab, tissues=("cortical GM", "WM"), fig_id="t-spgr")
    assert r.numbers["int-ernst-wm-25ms"] == pytest.approx(np.rad2deg(np.arccos(np.exp(-0.025 * 0.86))))
    assert 'id="t-spgr"' in r.figures["spgr-widget"]._repr_html_()
    with pytest.raises(ValueError, match="CSF"):
        ex.report_spgr_explorer(tab)


_CHROMIUM = __import__("shutil").which("chromium")
_PROBE = """<script>window.addEventListener("load", function () {
  var b = document.getElementById("t-tkd"), p = b.querySelectorAll("path.qmri-curve")[1];
  var r = {error: b.getAttribute("data-qmri-error"), d0: p.getAttribute("d")};
  var s = b.querySelector("input.qmri-slider"); s.value = 0; s.dispatchEvent(new Event("input"));
  r.d1 = p.getAttribute("d");
  var c = b.querySelector("select.qmri-dropdown"); c.value = 1; c.dispatchEvent(new Event("change"));
  r.d2 = p.getAttribute("d"); r.state = b.getAttribute("data-qmri-state");
  var o = document.createElement("pre"); o.id = "probe"; o.textContent = JSON.stringify(r);
  document.body.appendChild(o); });</script>"""


@pytest.mark.skipif(_CHROMIUM is None, reason="needs Debian's chromium")
def test_tkd_explorer_redraws_offline_in_headless_chromium(tkd_report, tmp_path):
    import subprocess
    from pathlib import Path
    js = Path(__file__).resolve().parents[2] / "_static" / "interactive.js"
    page = tmp_path / "page.html"
    page.write_text("<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
                    + tkd_report.figures["int-tkd"].to_html() + "<script>" + js.read_text()
                    + "</script>" + _PROBE + "</body></html>", encoding="utf-8")
    out = subprocess.run([_CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          "--disable-background-networking", "--proxy-server=127.0.0.1:9",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe"[^>]*>(.*?)</pre>', out, flags=re.S)
    assert m is not None, out[-2000:]
    r = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert r["error"] is None
    assert r["d0"].startswith("M") and r["d1"] != r["d0"] and r["d2"] != r["d1"]
    assert r["state"] == "0,1"                      # threshold 0.05, noise-free field
