"""Benchmark (round 9): chapter 4's per-map work (L-curve norms, HFEN) and its QSM-CI comparison.

Run on demand: ``python benchmarks/bench_qsm_round9.py [sweeps] [norms] [log] [qsmci]`` (real 2016
challenge field, 160^3; all four by default, about a minute on the idle machine).

* ``sweeps``: chapter 4's TKD (11 thresholds) and closed-form Tikhonov (10 λ) L-curve sweeps, scored
  against COSMOS, as the chapter now runs them (``KspaceInversions.l_curve``: each map's misfit and
  roughness from the spectrum the inversion has just inverted; ``ChallengeScorer``'s 2016 LoG on the
  mask's box plus 2 voxels, padded by the kernel's radius) against the best plain alternative, the
  chapter before this round: ``l_curve(inversions.tkd, ...)`` (a forward FFT of each map for its
  norms) and the scorer's LoG on the mask's box plus 9 voxels padded by the kernel's size
  (``PlainScorer`` below, the library's code before this round). ``workers`` 1 and 2 (the chapter
  uses every core). Checks: maps, kept slices, corners and every metric but HFEN bit for bit; HFEN
  and the two norms to the stated relative tolerances.
* ``norms``: the L-curve norms of one map, from its spectrum against a forward FFT of the map
  (``qsm_invert._LCurveNorms``), for a TKD map (float64) and a closed-form map (float32).
* ``log``: the LoG of one scored map (zero outside the mask, as submitted) on the new grid against
  the old one; the largest relative change of HFEN over the chapter's 11 TKD maps.
* ``qsmci``: the chapter's check of QSM-CI's scorer: our metrics of the TKD map (t = 0.15) with
  QSM-CI's LoG, as the chapter now computes them (the scorer's ``score(chi)``, already computed,
  plus ``hfen(kernel="scipy")``) against the plain ``challenge_metrics(hfen_kernel="scipy")`` that
  recomputed every metric on the whole grid.

Printed per variant: wall and CPU seconds of this process (all its threads), best of ``RUNS``
alternating runs, and the ratio plain / new. CPU is the number that matters when the book executes
two pages at once on two cores; wall is what a student waits for on an idle machine.
"""
import sys

import numpy as np
import scipy.fft as sfft

from bench_qsm_round7 import _report, _timed   # noqa: E402  (one timer and one report line, round 7's)

RUNS = 3
THRESHOLDS = np.round(np.arange(0.05, 0.56, 0.05), 2)
LAMS = np.logspace(-3, 0, 10)


def _old_log_2016(x, sigma, size=15):
    """qsm_metrics._log_2016 before this round: each axis padded by the kernel's size - 1."""
    from qmrigenes.qsm_metrics import log_kernel
    x = np.asarray(x, float)
    shape = tuple(sfft.next_fast_len(n + size - 1, real=True) for n in x.shape)
    spec = _old_log_2016.cache.get(shape)
    if spec is None:
        spec = _old_log_2016.cache[shape] = sfft.rfftn(log_kernel(sigma=sigma, size=size), s=shape, workers=-1)
    full = sfft.irfftn(sfft.rfftn(x, s=shape, workers=-1) * spec, s=shape, workers=-1)
    c = (size - 1) // 2
    return full[c:c + x.shape[0], c:c + x.shape[1], c:c + x.shape[2]]


_old_log_2016.cache = {}


def _plain_scorer(reference, mask):
    """ChallengeScorer as before this round: the map's 2016 LoG on the whole box (mask's box + 9)."""
    from qmrigenes.qsm_metrics import ChallengeScorer

    class PlainScorer(ChallengeScorer):
        def _log_at_mask(self, r_box, inner):
            return _old_log_2016(r_box, 1.5)[self.mask]
    return PlainScorer(reference, mask)


def _data():
    from qmrigenes import qsm_invert, qsm_metrics
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016
    data = load_qsm_challenge_2016()
    inv = qsm_invert.KspaceInversions(data.field, mask=data.mask, voxel_size=data.voxel_size,
                                      b0_dir=data.b0_dir)
    return data, inv, qsm_metrics.ChallengeScorer(data.reference, data.mask)


def _alternating(plain_fn, new_fn):
    """``RUNS`` alternating timed runs of the two: ((wall, CPU) per run, each), and each run's outputs."""
    plain, new, outputs = [], [], []
    for _ in range(RUNS):
        a, w, c = _timed(plain_fn)
        plain.append((w, c))
        b, w, c = _timed(new_fn)
        new.append((w, c))
        outputs.append((a, b))
    return plain, new, outputs


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def sweeps(data, inv, score):
    from qmrigenes import qsm_invert
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    plain_score = _plain_scorer(data.reference, mask)
    z = int(np.argmax(mask.sum(axis=(0, 1))))

    def keep(chi):
        return chi[:, :, z].astype(np.float32)

    def plain(workers):
        kw = dict(voxel_size=vs, b0_dir=b0, score=plain_score, keep=keep, output_mask=mask, workers=workers)
        return [qsm_invert.l_curve(inv.tkd, field, mask, THRESHOLDS, **kw),
                qsm_invert.l_curve(inv.tikhonov, field, mask, LAMS, **kw)]

    def new(workers):
        kw = dict(score=score, keep=keep, output_mask=mask, workers=workers)
        return [inv.l_curve("tkd", THRESHOLDS, **kw), inv.l_curve("tikhonov", LAMS, **kw)]

    for workers in (1, 2):
        p_times, n_times, outputs = _alternating(lambda: plain(workers), lambda: new(workers))
        checks = []
        for a, b in outputs:
            for x, y in zip(a, b):
                exact = ["nrmse", "nrmse_detrend", "xsim", "r"]
                checks.append((x["table"][exact].equals(y["table"][exact]) and x["corner"] == y["corner"]
                               and all(np.array_equal(k, q) for k, q in zip(x["kept"], y["kept"])),
                               _rel(y["table"]["hfen"], x["table"]["hfen"]),
                               _rel(y["table"][["misfit", "roughness"]], x["table"][["misfit", "roughness"]])))
        tkd, cf = checks[0::2], checks[1::2]
        print(f"TKD + closed-form sweeps (21 maps, workers={workers}): maps, corners and NRMSE, detrended NRMSE, "
              f"XSIM, r bit for bit: {all(c[0] for c in checks)}; HFEN largest relative change "
              f"{max(c[1] for c in checks):.1e}; L-curve norms largest relative change: TKD (float64) "
              f"{max(c[2] for c in tkd):.1e}, closed form (float32) {max(c[2] for c in cf):.1e}")
        _report(f"sweeps, workers={workers}", p_times, n_times)


def norms(data, inv, score):
    from qmrigenes import qsm_invert
    norm = qsm_invert._LCurveNorms(data.field, data.mask, voxel_size=data.voxel_size, b0_dir=data.b0_dir,
                                   regulariser="gradient")
    for label, (chi, spec) in (("TKD map, t = 0.2 (float64)", inv._tkd(0.2)),
                               ("closed-form map, λ = 0.0215 (float32)", inv._tikhonov(0.0215))):
        plain, new, outputs = _alternating(lambda: [norm(chi) for _ in range(5)],
                                           lambda: [norm(chi, spec) for _ in range(5)])
        a, b = outputs[-1]
        print(f"L-curve norms of one {label}, 5 times: misfit and roughness relative change {_rel(b[0], a[0]):.1e}")
        _report("norms", plain, new)


def log(data, inv, score):
    mask = data.mask
    maps = [np.where(mask, inv.tkd(t), 0.0) for t in THRESHOLDS]
    plain_score = _plain_scorer(data.reference, mask)
    hfen = [(plain_score(x)["hfen"], score(x)["hfen"]) for x in maps]
    r_box = maps[0][score.box]
    plain, new, _ = _alternating(lambda: [_old_log_2016(r_box, 1.5) for _ in range(5)],
                                 lambda: [score._log_at_mask(r_box, True) for _ in range(5)])
    old_grid = tuple(sfft.next_fast_len(n + 14, real=True) for n in r_box.shape)
    new_grid = tuple(sfft.next_fast_len(n + 7, real=True) for n in r_box[score._inner].shape)
    print(f"2016 LoG of one scored map, 5 times: FFT grid {old_grid} -> {new_grid}; HFEN of the 11 TKD maps, "
          f"largest relative change {max(abs(n - p) / p for p, n in hfen):.1e}")
    _report("LoG", plain, new)


def qsmci(data, inv, score):
    from qmrigenes import qsm, qsm_metrics
    field, mask, ref = data.field, data.mask, data.reference
    chi = qsm.tkd(field, threshold=0.15, mask=mask, voxel_size=data.voxel_size, b0_dir=data.b0_dir)
    metrics = score(chi)                        # the chapter's metrics cell computes it anyway
    plain, new, outputs = _alternating(
        lambda: qsm_metrics.challenge_metrics(chi, ref, mask, hfen_kernel="scipy"),
        lambda: dict(metrics, hfen=qsm_metrics.hfen(chi, ref, mask, kernel="scipy")))
    a, b = outputs[-1]
    diff = {k: f"{abs(b[k] - a[k]) / abs(a[k]):.1e}" for k in a}
    print(f"our metrics of the t = 0.15 TKD map with QSM-CI's LoG: relative difference per metric {diff}")
    _report("QSM-CI check", plain, new)


SECTIONS = {"sweeps": sweeps, "norms": norms, "log": log, "qsmci": qsmci}


def main():
    data = _data()
    for name in sys.argv[1:] or SECTIONS:     # every section by default
        SECTIONS[name](*data)


if __name__ == "__main__":
    main()
