"""Control: does chapter 4's TV budget (20 ADMM iterations per lambda) change its conclusions?

Run on demand: ``python benchmarks/control_tv_budget.py`` (real 2016 challenge field, 160^3;
about 100 s on the idle 2-core reference machine). Not a speed benchmark, and not run by
``make bench``.

Chapter 4 sweeps TV over ``np.logspace(-4, -2, 5)`` ppm mm from the largest lambda down, each
solve warm-started from the previous one, and stops each after 20 iterations or when chi changes
by less than 0.1 % between iterations. Every solve stops at the budget (its printed lines).
This script runs the same sweep twice, with the chapter's budget and with a budget of 200
iterations (every solve then stops at the 0.1 % tolerance). It prints, for each, the iterations
and last change per lambda, the metrics against COSMOS, the L-curve corner and the lambda of least
NRMSE. The conclusions the chapter draws hold if the two choices are the same in both runs and
the metrics move little. The script exits with status 1 if either choice differs.
"""
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chapters"))
import qmribook  # noqa: E402,F401  (the chapters' allocator settings)
from qmrigenes import qsm_invert, qsm_metrics  # noqa: E402
from qmrigenes.qsm_challenge import load_qsm_challenge_2016  # noqa: E402

LAMS = np.logspace(-4, -2, 5)          # ppm mm, as chapter 4
BUDGETS = (20, 200)                    # chapter 4's, and enough to reach the tolerance


def sweep(data, score, budget: int) -> dict:
    previous, lines = {"chi": None}, []

    def tv(lam):
        chi, info = qsm_invert.tv_admm(data.field, data.mask, lam=lam, max_iter=budget, tol=1e-3,
                                       voxel_size=data.voxel_size, b0_dir=data.b0_dir,
                                       x0=previous["chi"], masked_output=False)
        previous["chi"] = chi
        lines.append(f"lam={lam:.3g}: {info['n_iter']} iterations, last change {info['change']:.1e}")
        return chi

    start = time.perf_counter()
    out = qsm_invert.l_curve(tv, data.field, data.mask, LAMS[::-1], voxel_size=data.voxel_size,
                             b0_dir=data.b0_dir, regulariser="tv", score=score, keep=lambda chi: None,
                             output_mask=data.mask)
    out["lines"], out["seconds"] = lines, time.perf_counter() - start
    return out


def main() -> int:
    data = load_qsm_challenge_2016()
    score = qsm_metrics.ChallengeScorer(data.reference, data.mask)
    runs = {}
    for budget in BUDGETS:
        run = runs[budget] = sweep(data, score, budget)
        table = run["table"]
        print(f"budget {budget} iterations ({run['seconds']:.0f} s): " + "; ".join(run["lines"]))
        print(table[["nrmse", "hfen", "xsim", "misfit", "roughness"]].round(3).to_string())
        print(f"  L-curve corner lam = {run['best']:.3g}; least NRMSE lam = {table['nrmse'].idxmin():.3g}\n",
              flush=True)
    short, long = (runs[b] for b in BUDGETS)
    same = (short["best"] == long["best"]
            and short["table"]["nrmse"].idxmin() == long["table"]["nrmse"].idxmin())
    shift = (long["table"][["nrmse", "hfen"]] - short["table"][["nrmse", "hfen"]]).abs().max()
    print(f"same L-curve and least-NRMSE choices: {same}; largest change of NRMSE {shift['nrmse']:.2f} "
          f"and of HFEN {shift['hfen']:.2f} percentage points over the sweep")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
