"""Tests of chapter 4's assembly code (qmribook.ch4) on a small synthetic field."""
import numpy as np
import pandas as pd
import pytest
from qmrigenes import qsm
from qmrigenes import qsm_invert as qi
from qmrigenes import qsm_metrics as qm
from qmribook import ch4
from qmribook.display import figure
from qmribook.pages import load_published
from qmribook.report import MIN_FONT_PT, Report

VS = (1.0, 1.0, 1.0)


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(0)
    n = 32
    ref = np.zeros((n, n, n))
    mask = np.zeros(ref.shape, bool)
    mask[4:28, 4:28, 4:28] = True
    ref[10:16, 12:20, 12:18] = 0.15           # a paramagnetic "nucleus"
    ref[18:22, 8:12, 10:22] = -0.05
    field = np.where(mask, qsm.forward_field(ref, voxel_size=VS) + rng.normal(0, 0.002, ref.shape), 0)
    ref = np.where(mask, ref - ref[mask].mean(), 0)
    slices = ch4.pick_slices(ref, mask)
    keep = ch4.slice_keeper(slices)
    score = qm.ChallengeScorer(ref, mask)
    sweeps = {
        "tkd": qi.l_curve(lambda t: qsm.tkd(field, threshold=t, mask=mask, voxel_size=VS), field, mask,
                          np.round(np.arange(0.05, 0.56, 0.1), 2), voxel_size=VS, score=score, keep=keep),
        "cf": qi.l_curve(lambda lam: qi.tikhonov_closed_form(field, lam=lam, mask=mask, voxel_size=VS),
                         field, mask, np.logspace(-3, 0, 6), voxel_size=VS, score=score, keep=keep),
        "tv": qi.l_curve(lambda lam: qi.tv_admm(field, mask, lam=lam, max_iter=10, voxel_size=VS)[0],
                         field, mask, np.logspace(-4, -2, 5)[::-1], voxel_size=VS, regulariser="tv",
                         score=score, keep=keep),
    }
    return dict(field=field, mask=mask, ref=ref, slices=slices, keep=keep, score=score, sweeps=sweeps)


def test_slices_go_through_the_paramagnetic_block(toy):
    s = toy["slices"]
    assert 12 <= s["z"] < 18 and 12 <= s["y"] < 20 and 12 <= s["row_y"] < 20
    kept = toy["keep"](toy["ref"])
    assert kept["axial"].shape == (32, 32) and kept["profile"].shape == (32,)
    assert kept["profile"].max() == pytest.approx(toy["ref"].max(), rel=1e-6)


def test_choices_and_tables(toy):
    sweeps = toy["sweeps"]
    assert list(sweeps["tv"]["table"].index) == sorted(sweeps["tv"]["table"].index)   # sorted back
    choices = {m: ch4.choose(s) for m, s in sweeps.items()}
    rows, maps = [], {}
    for m, sweep in sweeps.items():
        tab = sweep["table"]
        for c, p in choices[m].items():
            i = int(np.flatnonzero(tab.index.to_numpy() == p)[0])
            assert (c != "tuned") or tab["nrmse"].iloc[i] == tab["nrmse"].min()
            rows.append(ch4.result_row(m, c, p, tab.iloc[i].to_dict(), float(tab["seconds"].iloc[i])))
            maps[(m, c)] = sweep["kept"][i]
    for c, lam in choices["cf"].items():            # the masked solve at the closed form's two λ
        start = qi.tikhonov_closed_form(toy["field"], lam=lam, mask=toy["mask"], voxel_size=VS,
                                        dtype=np.float64, masked_output=False)
        chi, info = qsm.tikhonov_cg(toy["field"], toy["mask"], lam=lam, tol=1e-6, voxel_size=VS, x0=start)
        assert info["converged"]
        rows.append(ch4.result_row("cg", c, lam, toy["score"](chi), 1.0))
        maps[("cg", c)] = toy["keep"](chi)
    results = pd.DataFrame(rows).set_index(["method", "choice"])
    results = results.loc[[(m, c) for m in ch4.METHODS for c in ("rule", "tuned") if (m, c) in results.index]]
    rec = ch4.report_recons(results, maps, toy["ref"], toy["mask"], toy["slices"])
    assert isinstance(rec, Report)
    for c in ("rule", "tuned"):                     # both rows of the masked solve are glued
        assert rec.numbers[f"cg-{c}-param"] == choices["cf"][c]
        assert np.isfinite(rec.numbers[f"cg-{c}-nrmse"]) and rec.numbers[f"cg-{c}-nrmse"] > 0
    figure(rec.figures["fig-recons"], min_font_pt=MIN_FONT_PT)           # raises if a font is too small
    figure(ch4.report_curves(sweeps, choices).figures["fig-curves"], min_font_pt=MIN_FONT_PT)
    over = ch4.report_oversmoothing(sweeps["cf"], toy["ref"], toy["mask"], toy["slices"], method="cf")
    assert np.isfinite(over.numbers["os-ratio"])
    figure(over.figures["fig-oversmooth"], min_font_pt=MIN_FONT_PT)
    published = load_published("ch4", "qsmci_invivo")
    tab = ch4.report_table(results, published).tables["tab-metrics"]
    html = tab._repr_html_()
    assert "QSM-CI" in html and "62.7" in html and "0.860" in html        # published precision kept
    widgets = ch4.report_explorers(sweeps, toy["ref"], toy["slices"], VS).figures
    assert set(widgets) == {"int-tkd", "int-cf"}
    assert len(widgets["int-tkd"].payload["slider"]["values"]) == len(sweeps["tkd"]["table"])


def test_published_rows_are_the_verified_ones():
    pub = load_published("ch4", "qsmci_invivo").set_index(["method", "variant"])
    assert pub.loc[("QSMnet+", "default"), "nrmse_pct"] == pytest.approx(51.1)
    assert pub.loc[("TKD (QSM.rs)", "tuned"), "nrmse_pct"] == pytest.approx(62.7)
    assert pub.loc[("TKD (QSM.rs)", "tuned"), "nrmse_chi33_pct"] == pytest.approx(80.7)
    assert pub.loc[("TKD (QSM.rs)", "default"), "nrmse_pct"] == pytest.approx(99.3)
    assert (pub["citation"] == "qsmci").all() and pub["location"].str.contains("3ac92b3e").all()
