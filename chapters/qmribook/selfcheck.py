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


def _numbers(answer, n: int):
    """``answer`` as ``n`` floats, or None (then the caller returns a hint naming ``example``)."""
    values = answer if isinstance(answer, (tuple, list)) else (answer,)
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        return None
    return out if len(out) == n and all(math.isfinite(v) for v in out) else None


def _phantom_number(answer, ph, usage: str):
    """One number from ``answer`` (or None) for a check that needs the chapter's phantom ``ph``."""
    if ph is None:
        raise TypeError(usage)
    return _numbers(answer, 1)


def _ch1_spins(answer, *, data=None, assoc=None, n_perm=None, seed: int = 0, **_) -> tuple[bool, str]:
    from .ch1 import report_exercise_spin_method

    if data is None or assoc is None:
        raise TypeError("check('ex-ch1-spins', (n_genes, n_hungarian, n_greedy), data=data, assoc=assoc)")
    got = _numbers(answer, 3)
    if got is None:
        return False, "answer with three counts: (random genes, Hungarian spins, greedy spins), e.g. (4, 2, 2)."
    n_perm = len(assoc.nulls["spin"]) if n_perm is None else n_perm
    ref = report_exercise_spin_method(data, assoc, n_perm=n_perm, seed=seed).numbers
    want = [ref["ex-spin-n-gene"], ref["ex-spin-n-hungarian"], ref["ex-spin-n-greedy"]]
    if got == want:
        return True, (f"R1: {want[0]} cell types against random genes, {want[1]} against Hungarian and {want[2]} "
                      f"against greedy spins; the spin p-values of the two rules differ by at most "
                      f"{ref['ex-spin-maxdiff']:.3f}.")
    return False, ("take the clinical MPM R1 rows of the association table (assoc.table.xs(('clinical MPM', 'R1'), "
                   "level=('dataset', 'map'))) and count FDR p < 0.05 in p_gene_fdr and p_spin_fdr; for greedy "
                   "spins rerun ch1.cell_type_association(data, method='vasa') with the same n_perm and seed.")


def _ch1_smoothing(answer, *, cohort=None, **_) -> tuple[bool, str]:
    from .ch1 import report_exercise_smoothing

    if cohort is None:
        raise TypeError("check('ex-ch1-smoothing', (r_0mm, r_6mm), cohort=cohort)")
    got = _numbers(answer, 2)
    if got is None:
        return False, "answer with two correlations: (r at FWHM 0 mm, r at 6 mm) of recovered and planted ε."
    ref = report_exercise_smoothing(cohort, fwhms=(0.0, 6.0)).numbers
    want = [ref["ex-smooth-e-r-0"], ref["ex-smooth-e-r-6"]]
    if all(abs(g - w) <= 0.005 for g, w in zip(got, want)):
        return True, (f"r = {want[0]:.3f} without smoothing and {want[1]:.3f} at 6 mm; the mean β1 is biased by "
                      f"{ref['ex-smooth-b1-bias-0']:.1f} % and {ref['ex-smooth-b1-bias-6']:.1f} %.")
    return False, ("run mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat, cohort.r2s, cohort.mesh, cohort.labels, "
                   "fwhm=f) for f = 0 and 6 and correlate its group-mean residual with the planted one over "
                   "vertices (np.corrcoef).")


def _ch2_power_rois(answer, *, data=None, n_genes: int = 2000, n_rep: int = 3, seed: int = 11,
                    **_) -> tuple[bool, str]:
    from qmrigenes.ahba import roi_sampling
    from qmrigenes.design import power_by_design

    if data is None:
        raise TypeError("check('ex-ch2-power-rois', (power_8, power_34), data=data)")
    got = _numbers(answer, 2)
    if got is None:
        return False, "answer with two powers at a planted r of 0.9: (8 ROIs, 34 ROIs), e.g. (0.1, 0.9)."
    sampling = roi_sampling(data.annotations, table=data.table)
    want = []
    for k in (8, 34):
        table = data.table.iloc[:k]
        sub = sampling[sampling["roi"].isin(table.index)].reset_index(drop=True)
        res = power_by_design(sub, table, effects=(0.9,), n_genes=n_genes, n_rep=n_rep, seed=seed,
                              designs=("ahba",))
        want.append(float(res["power"].iloc[0]))
    if all(abs(g - w) <= 0.2 for g, w in zip(got, want)):       # replicate noise of another seed
        return True, (f"at r = 0.9 power is {want[0]:.2f} with 8 ROIs and {want[1]:.2f} with 34 "
                      f"({n_genes:,} genes, {n_rep} replicates, seed {seed}).")
    return False, ("keep the first k rows of data.table and the samples of those ROIs, then call "
                   "design.power_by_design(sub, table, effects=(0.9,), n_genes=2000, n_rep=3, designs=('ahba',)) "
                   "for k = 8 and 34; power is the 'power' column.")


def _wm_label(ph) -> int:
    from qmrigenes.phantom import TISSUES

    return {name: label for label, name in TISSUES.items()}["WM"]


def _ch3_tr(answer, *, ph=None, b1=None, **_) -> tuple[bool, str]:
    from qmrigenes import relaxometry

    if ph is None or b1 is None:
        raise TypeError("check('ex-ch3-tr', wm_r1_bias_percent, ph=ph, b1=b1)")
    got = _numbers(answer, 1)
    if got is None:
        return False, "answer with the white-matter R1 bias in percent (a negative number if R1 is too low)."
    p = relaxometry.MPMProtocol().with_(flip_angles={"PDw": 6.0, "T1w": 30.0, "MTw": 6.0})
    est = relaxometry.fit_mpm(relaxometry.simulate_mpm(ph.maps, p, b1=b1, mask=ph.mask), p, b1=b1, mask=ph.mask)
    acc = relaxometry.accuracy_table({"R1": est["R1"]}, ph.maps, ph.labels, {_wm_label(ph): "WM"})
    want = float(acc.loc[("R1", "WM"), "bias_pct"])
    if _close(got[0], want, rel=0.05, abs_=0.05):
        return True, (f"with a 30° T1w angle the noiseless white-matter R1 is off by {want:.1f} %: a larger angle "
                      "raises the small-angle bias; 15° lowers it but brings the two angles closer, so R1 gets noisier.")
    return False, ("set the T1w angle to 30° with MPMProtocol().with_(flip_angles=...), simulate without noise "
                   "(simulate_mpm with b1), fit with b1 and read accuracy_table(...).loc[('R1', 'WM'), 'bias_pct'].")


def _pallidum_csf(ph):
    from qmrigenes.phantom import TISSUES

    lut = {name: label for label, name in TISSUES.items()}
    return ph.labels == lut["pallidum"], ph.labels == lut["CSF"]


def _ch3_lambda(answer, *, ph=None, field=None, thresholds=(0.05, 0.2, 0.4), **_) -> tuple[bool, str]:
    from qmrigenes import qsm

    if ph is None or field is None:
        raise TypeError("check('ex-ch3-lambda', threshold, ph=ph, field=field_noisy)")
    got = _numbers(answer, 1)
    if got is None or not any(_close(got[0], t) for t in thresholds):
        return False, f"answer with one of the thresholds {', '.join(f'{t:g}' for t in thresholds)}."
    gp, csf = _pallidum_csf(ph)
    truth = float(qsm.reference_to(ph.maps["chi"], csf)[gp].mean())
    err = {t: abs(float(qsm.reference_to(qsm.tkd(field, threshold=t, mask=ph.mask, voxel_size=ph.voxel_size),
                                         csf)[gp].mean()) - truth) for t in thresholds}
    best = min(err, key=err.get)
    if _close(got[0], best):
        return True, (f"t = {best:g} brings the pallidum's mean χ closest to the truth (off by {1000 * err[best]:.1f} "
                      "ppb), at the price of more streaks and noise.")
    return False, ("reconstruct with qsm.tkd(field_noisy, threshold=t, mask=ph.mask) for each t, reference to CSF "
                   "(qsm.reference_to(chi, csf)) and compare the pallidum's mean with the true one: the threshold "
                   "divides the cone's k-space components by t, so a larger t scales χ down.")


def _ch3_atrophy(answer, *, ph=None, floor: float = 10.0, loss: float = 0.3, **_) -> tuple[bool, str]:
    from qmrigenes import lesions

    got = _phantom_number(answer, ph, "check('ex-ch3-atrophy', r2s_mass_change_percent, ph=ph)")
    if got is None:
        return False, "answer with the change of the pallidum's R2* mass in percent (negative if it falls)."
    series = lesions.atrophy_series(ph, nucleus="pallidum", losses=(0.0, loss))
    r0, v0, v1 = float(series["R2s_mean"].iloc[0]), float(series["volume_ml"].iloc[0]), float(series["volume_ml"].iloc[-1])
    want = 100 * ((floor * v1 + (r0 - floor) * v0) / (r0 * v0) - 1)      # only R2* - floor scales with iron
    if _close(got[0], want, abs_=0.5):
        return True, (f"with a {floor:g} 1/s floor the R2* mass falls by {-want:.1f} % at {100 * loss:g} % volume "
                      "loss: the floor's share leaves with the lost volume, so R2* mass measures iron content only "
                      "after the iron-independent part is removed.")
    return False, (f"keep R2*₀ = {floor:g} 1/s fixed and scale only R2* − R2*₀ by V0/V1: mass = R2*₀·V1 + "
                   "(R2* − R2*₀)·V0; compare with R2*·V0 (lesions.atrophy_series gives volume_ml and R2s_mean).")


def _ch3_tkd_threshold(answer, *, ph=None, field_sigma: float = 0.002, seed: int = 2024, **_) -> tuple[bool, str]:
    from .ch3_exercises import tkd_threshold_sweep

    got = _phantom_number(answer, ph, "check('ex-ch3-tkd-threshold', threshold, ph=ph)")
    if got is None:
        return False, "answer with the threshold t of the lowest voxel-wise RMS error, e.g. 0.3."
    table = tkd_threshold_sweep(ph.maps["chi"], ph.labels, field_sigma=field_sigma, seed=seed,
                                voxel_size=ph.voxel_size)["table"]
    best = float(table["rmse_ppb"].idxmin())
    if _close(got[0], best):
        return True, (f"t = {best:g} gives the lowest RMS error ({table.loc[best, 'rmse_ppb']:.1f} ppb) on the "
                      "chapter's thresholds: smaller t amplifies noise near the cone, larger t scales χ down.")
    return False, ("for each t of the sweep, reconstruct with qsm.tkd, reference to CSF and take the RMS of "
                   "(χ − true χ) over the brain mask; pick the t with the smallest value.")


def _ch4_metric(answer, *, score=None, field=None, mask=None, vs=None, b0=None,
                thresholds=(0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4), **_) -> tuple[bool, str]:
    from qmrigenes import qsm

    if any(x is None for x in (score, field, mask, vs, b0)):
        raise TypeError("check('ex-ch4-metric', threshold, score=score, field=field, mask=mask, vs=vs, b0=b0)")
    got = _numbers(answer, 1)
    if got is None or not 0 < got[0] <= 2 / 3:
        return False, "answer with one TKD threshold t in (0, 2/3], e.g. 0.2."

    def hfen(t):
        return float(score(qsm.tkd(field, threshold=t, mask=mask, voxel_size=vs, b0_dir=b0))["hfen"])

    grid = {t: hfen(t) for t in thresholds}
    best = min(grid, key=grid.get)
    mine = grid.get(got[0]) if got[0] in grid else hfen(got[0])
    if mine <= grid[best] * 1.01:
        return True, f"HFEN {mine:.1f} % at t = {got[0]:g}; the least on the grid {thresholds} is at t = {best:g}."
    return False, (f"HFEN is {mine:.1f} % at t = {got[0]:g}; try smaller and larger thresholds and keep the one "
                   "whose score(chi)['hfen'] is smallest.")


#: exercise label -> (what the answer is, check function, extra arguments of the call)
CHECKS: dict[str, tuple[str, Callable[..., tuple[bool, str]], str]] = {
    "ex-ch1-spins": ("cell types with FDR p < 0.05 on clinical R1: (random genes, Hungarian spins, greedy spins)",
                     _ch1_spins, "data=data, assoc=assoc"),
    "ex-ch1-smoothing": ("r of recovered and planted ε over vertices: (FWHM 0 mm, 6 mm)", _ch1_smoothing,
                         "cohort=cohort"),
    "ex-ch1-loo": ("the subject whose omission moves the mean β1 most", _ch1_loo, "data=data"),
    "ex-ch2-bh": ("how many of the ten genes standard BH selects at FDR 0.05", _ch2_bh, ""),
    "ex-ch2-min-p": ("(c) the smallest p a label-permutation test can give with 7 structures", _ch2_min_p, ""),
    "ex-ch2-power-rois": ("power at a planted r of 0.9: (8 ROIs, 34 ROIs)", _ch2_power_rois, "data=data"),
    "ex-ch3-tr": ("the white-matter R1 bias (%) of the noiseless fit with a 30° T1w angle", _ch3_tr, "ph=ph, b1=b1"),
    "ex-ch3-lambda": ("the TKD threshold (0.05, 0.2 or 0.4) whose pallidum mean χ is closest to the truth",
                      _ch3_lambda, "ph=ph, field=field_noisy"),
    "ex-ch3-atrophy": ("the pallidum's R2* mass change (%) at 30 % volume loss with a 10 1/s floor", _ch3_atrophy,
                       "ph=ph"),
    "ex-ch3-tkd-threshold": ("the TKD threshold with the lowest voxel-wise RMS error", _ch3_tkd_threshold, "ph=ph"),
    "ex-ch4-metric": ("the TKD threshold with the least HFEN", _ch4_metric,
                      "score=score, field=field, mask=mask, vs=vs, b0=b0"),
    "ex-ch3-flip-noise": ("the least noisy pair of flip angles (degrees), e.g. (5, 25)", _ch3_flip_noise, ""),
}


def check(exercise: str, answer: Any, **context) -> Feedback:
    """Check ``answer`` to a computational exercise (label as in the chapter, e.g. ``"ex-ch2-bh"``).

    ``context`` passes chapter objects a check needs (see :data:`CHECKS`). Returns a
    :class:`Feedback` (true if right; its message is a hint otherwise).
    """
    if exercise not in CHECKS:
        raise KeyError(f"no self-check for exercise {exercise!r}; checks exist for {sorted(CHECKS)}")
    if answer is ...:                               # the student notebook's placeholder: no work, a reminder
        return Feedback(exercise, False, f"replace ... by your answer: {CHECKS[exercise][0]}.")
    correct, message = CHECKS[exercise][1](answer, **context)
    return Feedback(exercise, bool(correct), message)
