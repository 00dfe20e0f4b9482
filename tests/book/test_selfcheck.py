"""Self-checks of the computational exercises: right answers pass, wrong ones get a hint."""
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "chapters") not in sys.path:
    sys.path.insert(0, str(ROOT / "chapters"))

from qmribook import selfcheck  # noqa: E402


def test_bh_count_right_and_wrong():
    from statsmodels.stats.multitest import multipletests

    from qmribook.ch2 import EXERCISE_P

    right = int(multipletests(list(EXERCISE_P.values()), alpha=0.05, method="fdr_bh")[0].sum())
    assert selfcheck.check("ex-ch2-bh", right)
    wrong = selfcheck.check("ex-ch2-bh", right + 1)
    assert not wrong and "k * 0.05 / m" in wrong.message
    assert "Not yet" in wrong._repr_html_()


def test_min_permutation_p():
    assert selfcheck.check("ex-ch2-min-p", 1 / 5040)
    assert not selfcheck.check("ex-ch2-min-p", 1 / 720)
    assert not selfcheck.check("ex-ch2-min-p", ...)          # the notebook's placeholder: a hint, no error


def test_the_student_notebook_placeholder_gets_a_reminder_without_work():
    for label, (what, _, extra) in selfcheck.CHECKS.items():
        context = {kw.split("=")[0].strip(): object() for kw in extra.split(",") if kw.strip()}
        fb = selfcheck.check(label, ..., **context)               # dummy context: nothing is computed
        assert not fb and what in fb.message


def test_flip_angle_pair_within_one_degree(monkeypatch):
    import functools

    from qmrigenes import phantom

    from qmribook import ch3_exercises

    # the check computes the same deterministic grid (exact signals, no noise drawn; 0.3 s of CPU)
    # on every call: computed once here, each caller gets its own copy
    grid_once = functools.lru_cache(ch3_exercises.r1_noise_grid)
    monkeypatch.setattr(ch3_exercises, "r1_noise_grid", lambda *a, **k: grid_once(*a, **k).copy())
    r1_noise_grid = ch3_exercises.r1_noise_grid
    wm = phantom.tissue_table().loc["WM"]
    grid = r1_noise_grid(float(wm["R1"]), amplitude=float(wm["PD"]), sigma=0.05, tr=0.025)
    best = grid.loc[grid["r1_cov_pct"].idxmin()]
    pair = (float(best["fa_high"]) + 1, float(best["fa_low"]))      # any order, 1 degree off
    assert selfcheck.check("ex-ch3-flip-noise", pair)
    assert not selfcheck.check("ex-ch3-flip-noise", (6, 21))           # the chapter's protocol is not it
    assert "pair of flip angles" in selfcheck.check("ex-ch3-flip-noise", 7).message


def test_leave_one_out_subject_with_synthetic_data(rng):
    import pandas as pd
    from types import SimpleNamespace

    from qmrigenes.mpm import fit_subjects

    regions = [f"r{i}" for i in range(20)]
    subjects = [f"sub-{i}" for i in range(5)]
    mt = pd.DataFrame(rng.normal(1, 0.2, (5, 20)), index=subjects, columns=regions)
    r2s = pd.DataFrame(rng.normal(15, 2, (5, 20)), index=subjects, columns=regions)
    slope = pd.Series([0.3, 0.3, 0.3, 0.3, 0.9], index=subjects)        # sub-4 is the odd one out
    r1 = 0.2 + mt.mul(slope, axis=0) + 0.01 * r2s + rng.normal(0, 0.01, (5, 20))
    clinical = SimpleNamespace(maps={"R1": r1, "MTsat": mt, "R2*": r2s}, fits=fit_subjects(r1, mt, r2s))
    data = SimpleNamespace(clinical=clinical)
    assert selfcheck.check("ex-ch1-loo", "sub-4", data=data)
    assert "furthest" in selfcheck.check("ex-ch1-loo", "sub-0", data=data).message
    assert "one of" in selfcheck.check("ex-ch1-loo", "nobody", data=data).message
    with pytest.raises(TypeError, match="data=data"):
        selfcheck.check("ex-ch1-loo", "sub-4")


def test_unknown_exercise_names_the_known_ones():
    with pytest.raises(KeyError, match="ex-ch2-bh"):
        selfcheck.check("ex-ch9-none", 1)
    assert math.isfinite(len(selfcheck.CHECKS))


# ------------------------------------------------------------------ every computational exercise has a check
CONCEPTUAL = {"ex-ch1-random-genes", "ex-ch2-nulls", "ex-ch3-iron-myelin"}    # "explain", discussed in class


def test_every_computational_exercise_has_a_self_check():
    import re

    labels = set()
    for md in sorted((ROOT / "chapters").glob("0*.md")):
        labels |= set(re.findall(r"^`{3,}\{exercise\}\s*\n:label:\s*(\S+)", md.read_text(encoding="utf-8"), re.M))
    assert len(labels) >= 15
    assert CONCEPTUAL <= labels
    assert labels - CONCEPTUAL == set(selfcheck.CHECKS)


@pytest.fixture(scope="module")
def toy():
    from toys import toy_head

    return toy_head()


def test_flip_angle_bias_check_with_a_toy_head(toy):
    import numpy as np
    from qmrigenes import relaxometry

    b1 = np.ones(toy.shape)
    p = relaxometry.MPMProtocol().with_(flip_angles={"PDw": 6.0, "T1w": 30.0, "MTw": 6.0})
    est = relaxometry.fit_mpm(relaxometry.simulate_mpm(toy.maps, p, b1=b1, mask=toy.mask), p, b1=b1, mask=toy.mask)
    bias = float(100 * (est["R1"][toy.labels == 3].mean() / toy.maps["R1"][toy.labels == 3].mean() - 1))
    assert bias < -1                                                 # 30° makes the small-angle R1 too low
    assert selfcheck.check("ex-ch3-tr", bias, ph=toy, b1=b1)
    assert not selfcheck.check("ex-ch3-tr", bias / 2, ph=toy, b1=b1)
    assert "percent" in selfcheck.check("ex-ch3-tr", "low", ph=toy, b1=b1).message
    with pytest.raises(TypeError, match="b1=b1"):
        selfcheck.check("ex-ch3-tr", bias, ph=toy)


def test_tkd_checks_with_a_toy_head(toy):
    import numpy as np
    from qmrigenes import qsm

    field = qsm.add_field_noise(qsm.forward_field(toy.maps["chi"], voxel_size=toy.voxel_size, pad=16), 0.002,
                                rng=np.random.default_rng(0), mask=toy.mask)
    answers = [t for t in (0.05, 0.2, 0.4) if selfcheck.check("ex-ch3-lambda", t, ph=toy, field=field)]
    assert len(answers) == 1                                          # exactly one threshold is right
    assert not selfcheck.check("ex-ch3-lambda", 0.3, ph=toy, field=field)   # not one of the three
    from qmribook.ch3_exercises import tkd_threshold_sweep

    table = tkd_threshold_sweep(toy.maps["chi"], toy.labels, seed=2024, voxel_size=toy.voxel_size)["table"]
    best = float(table["rmse_ppb"].idxmin())
    assert selfcheck.check("ex-ch3-tkd-threshold", best, ph=toy)
    other = float(table["rmse_ppb"].idxmax())
    assert not selfcheck.check("ex-ch3-tkd-threshold", other, ph=toy)


def test_atrophy_floor_check(toy):
    from qmrigenes import lesions

    s = lesions.atrophy_series(toy, nucleus="pallidum", losses=(0.0, 0.3))
    r0, v0, v1 = s["R2s_mean"].iloc[0], s["volume_ml"].iloc[0], s["volume_ml"].iloc[-1]
    right = 100 * ((10 * v1 + (r0 - 10) * v0) / (r0 * v0) - 1)
    assert right < -1                                                 # the mass is no longer constant
    assert selfcheck.check("ex-ch3-atrophy", right, ph=toy)
    assert not selfcheck.check("ex-ch3-atrophy", 0.0, ph=toy)         # "still constant" is the trap


def test_hfen_threshold_check_with_a_toy_scorer(toy):
    from qmrigenes import qsm, qsm_metrics

    chi, mask = toy.maps["chi"], toy.mask
    field = qsm.forward_field(chi, voxel_size=toy.voxel_size, pad=16)
    score = qsm_metrics.ChallengeScorer(chi, mask)
    ctx = dict(score=score, field=field, mask=mask, vs=toy.voxel_size, b0=(0, 0, 1))
    hfen = {t: score(qsm.tkd(field, threshold=t, mask=mask, voxel_size=toy.voxel_size, b0_dir=(0, 0, 1)))["hfen"]
            for t in (0.1, 0.4)}
    good, bad = sorted(hfen, key=hfen.get)
    assert selfcheck.check("ex-ch4-metric", good, thresholds=(0.1, 0.4), **ctx)
    assert not selfcheck.check("ex-ch4-metric", bad, thresholds=(0.1, 0.4), **ctx)
    assert "threshold" in selfcheck.check("ex-ch4-metric", 2.0, **ctx).message


def test_smoothing_check_with_a_small_cohort():
    from qmrigenes import mpm

    from qmribook.ch1 import report_exercise_smoothing

    cohort = mpm.simulate_cohort(n_subjects=3, seed=0)
    n = report_exercise_smoothing(cohort, fwhms=(0.0, 6.0)).numbers
    right = (n["ex-smooth-e-r-0"], n["ex-smooth-e-r-6"])
    assert selfcheck.check("ex-ch1-smoothing", right, cohort=cohort)
    assert not selfcheck.check("ex-ch1-smoothing", (right[1], right[0] - 0.1), cohort=cohort)
    assert "two correlations" in selfcheck.check("ex-ch1-smoothing", "high", cohort=cohort).message


def test_spin_and_power_checks_with_the_real_inputs(ch1_data, ch1_spin, ch2_data):
    data, (assoc, rep) = ch1_data, ch1_spin          # 200 spins, seed 0
    n = rep.numbers
    right = (n["ex-spin-n-gene"], n["ex-spin-n-hungarian"], n["ex-spin-n-greedy"])
    assert selfcheck.check("ex-ch1-spins", right, data=data, assoc=assoc)
    assert not selfcheck.check("ex-ch1-spins", (right[0] + 1, *right[1:]), data=data, assoc=assoc)
    assert "three counts" in selfcheck.check("ex-ch1-spins", 3, data=data, assoc=assoc).message

    from qmrigenes.ahba import roi_sampling
    from qmrigenes.design import power_by_design

    data2 = ch2_data
    sampling, want = roi_sampling(data2.annotations, table=data2.table), []
    for k in (8, 34):
        sub = sampling[sampling["roi"].isin(data2.table.index[:k])].reset_index(drop=True)
        want.append(float(power_by_design(sub, data2.table.iloc[:k], effects=(0.9,), n_genes=300, n_rep=1, seed=2,
                                          designs=("ahba",))["power"].iloc[0]))
    kw = dict(data=data2, n_genes=300, n_rep=1, seed=2)
    assert selfcheck.check("ex-ch2-power-rois", tuple(want), **kw)
    assert not selfcheck.check("ex-ch2-power-rois", (want[0] + 0.3, want[1] - 0.3), **kw)
    assert "two powers" in selfcheck.check("ex-ch2-power-rois", 0.5, **kw).message
