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


def test_flip_angle_pair_within_one_degree():
    from qmrigenes import phantom

    from qmribook.ch3_exercises import r1_noise_grid

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
