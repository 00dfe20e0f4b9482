"""Self-checks for the computational exercises: call with your answer, get "right" or a hint.

Each check recomputes the reference answer from the chapter's own code and data (nothing is
stored), so it stays right when the data or the code change::

    from qmribook.selfcheck import check
    check("ex-ch2-bh", 4)                          # genes standard BH selects at FDR 0.05
    check("ex-ch1-loo", "sub-03", data=data)       # needs the chapter's `data`

:data:`CHECKS` lists the exercises that have one, with what the answer is.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["check", "CHECKS", "Feedback"]


@dataclass(frozen=True)
class Feedback:
    """The outcome of a check: ``correct`` and a message (a hint when wrong)."""

    exercise: str
    correct: bool
    message: str

    def __bool__(self) -> bool:
        return self.correct

    def __repr__(self) -> str:
        return f"{'Right' if self.correct else 'Not yet'} ({self.exercise}): {self.message}"

    def _repr_html_(self) -> str:
        import html

        colour = "#1a7f37" if self.correct else "#9a6700"
        return (f'<p style="color:{colour}"><strong>{"Right" if self.correct else "Not yet"}</strong> '
                f"({html.escape(self.exercise)}): {html.escape(self.message)}</p>")


def _close(answer, reference, *, rel: float = 0.0, abs_: float = 0.0) -> bool:
    try:
        return math.isclose(float(answer), float(reference), rel_tol=rel, abs_tol=abs_)
    except (TypeError, ValueError):
        return False


def _ch2_bh(answer, **_) -> tuple[bool, str]:
    from statsmodels.stats.multitest import multipletests

    from .ch2 import EXERCISE_P

    n = int(multipletests(list(EXERCISE_P.values()), alpha=0.05, method="fdr_bh")[0].sum())
    if _close(answer, n):
        return True, f"standard BH at FDR 0.05 selects {n} of the {len(EXERCISE_P)} genes."
    return False, ("sort the p-values; the k-th smallest passes if p(k) <= k * 0.05 / m; BH selects every "
                   "gene up to the largest k that passes (even if a smaller k fails).")


def _ch2_min_p(answer, **_) -> tuple[bool, str]:
    smallest = 1 / math.factorial(7)
    if _close(answer, smallest, rel=0.01):
        return True, f"with 7 structures there are 7! orderings, so p >= 1/7! = {smallest:.1e}."
    return False, ("a label-permutation test can do no better than the observed ordering alone: count the "
                   "orderings of 7 structures and take the reciprocal.")


def _ch1_loo(answer, *, data=None, **_) -> tuple[bool, str]:
    from .ch1 import leave_one_out_betas

    if data is None:
        raise TypeError("check('ex-ch1-loo', subject, data=data): pass the chapter's data")
    loo = leave_one_out_betas(data.clinical)
    shift = (loo["b1"] - data.clinical.fits.betas["b1"].mean()).abs()
    subject = str(shift.idxmax())
    if str(answer) == subject:
        return True, f"leaving out {subject} moves the mean β1 most."
    if str(answer) not in map(str, loo.index):
        return False, f"answer with a subject label, one of {', '.join(map(str, loo.index))}."
    return False, ("refit without each subject (qmrigenes.mpm.fit_subjects on the other subjects' maps) and "
                   "compare each mean β1 with the mean over all subjects: which moves it furthest?")


def _ch3_flip_noise(answer, *, r1=None, amplitude=None, **_) -> tuple[bool, str]:
    from qmrigenes import phantom

    from .ch3_exercises import r1_noise_grid

    wm = phantom.tissue_table().loc["WM"]
    r1 = float(wm["R1"]) if r1 is None else r1
    amplitude = float(wm["PD"]) if amplitude is None else amplitude
    grid = r1_noise_grid(r1, amplitude=amplitude, sigma=0.05, tr=0.025)
    best = grid.loc[grid["r1_cov_pct"].idxmin()]
    lo, hi = float(best["fa_low"]), float(best["fa_high"])
    try:
        a_lo, a_hi = sorted(float(a) for a in answer)
    except (TypeError, ValueError):
        return False, "answer with the pair of flip angles in degrees, e.g. (5, 25)."
    if abs(a_lo - lo) <= 1 and abs(a_hi - hi) <= 1:
        return True, f"the least noisy pair on a 1° grid is {lo:.0f}° and {hi:.0f}°."
    return False, ("compute SD(R1) for every pair by error propagation (or Monte Carlo) and take the minimum; "
                   "the optimum sits on either side of the Ernst angle, where the signal is about 71 % of "
                   "its maximum.")


#: exercise label -> (what the answer is, check function, extra arguments of the call)
CHECKS: dict[str, tuple[str, Callable[..., tuple[bool, str]], str]] = {
    "ex-ch1-loo": ("the subject whose omission moves the mean β1 most", _ch1_loo, "data=data"),
    "ex-ch2-bh": ("how many of the ten genes standard BH selects at FDR 0.05", _ch2_bh, ""),
    "ex-ch2-min-p": ("(c) the smallest p a label-permutation test can give with 7 structures", _ch2_min_p, ""),
    "ex-ch3-flip-noise": ("the least noisy pair of flip angles (degrees), e.g. (5, 25)", _ch3_flip_noise, ""),
}


def check(exercise: str, answer: Any, **context) -> Feedback:
    """Check ``answer`` to a computational exercise (label as in the chapter, e.g. ``"ex-ch2-bh"``).

    ``context`` passes chapter objects a check needs (see :data:`CHECKS`). Returns a
    :class:`Feedback` (true if right; its message is a hint otherwise).
    """
    if exercise not in CHECKS:
        raise KeyError(f"no self-check for exercise {exercise!r}; checks exist for {sorted(CHECKS)}")
    correct, message = CHECKS[exercise][1](answer, **context)
    return Feedback(exercise, bool(correct), message)
