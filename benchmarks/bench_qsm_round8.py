"""Benchmark (round 8): chapter 4's TV-ADMM loop blocked in cache, and XSIM's window sums on a smaller box.

Run on demand: ``python benchmarks/bench_qsm_round8.py [tv] [scorer] [kspace] [metrics]`` (real
2016 challenge field, 160^3; all four by default, about a minute on the idle machine).

* ``tv``: one TV-ADMM solve of the chapter (20 iterations, float32, the splits side by side on two
  threads) by ``qsm_invert.tv_admm`` (each split's elementwise updates made block by block along
  the first axis, the duals of one iteration fused with the splits of the next, the gradient
  split's blocks shared by the two threads, the k-space products in one blocked pass) against
  the plain alternative, the same updates as whole-array numpy passes into preallocated buffers
  (``plain_tv_admm`` below: the library's loop before this round). Checks that χ and the dual
  are bit for bit identical.
* ``scorer``: chapter 4's eleven TKD maps scored by ``qsm_metrics.ChallengeScorer`` (XSIM's
  window sums of a map that is zero outside the mask on the mask's box plus two voxels) against
  the same scorer made to filter the whole box (the margin of 9 voxels it keeps for the LoG), as
  before this round. Checks that every metric is bit for bit identical.
* ``kspace``: chapter 4's 21 k-space reconstructions (TKD at 11 thresholds, closed-form Tikhonov
  at 10 λ) by ``qsm_invert.KspaceInversions`` (the field's spectrum, the dipole, the gradient
  symbol and D² computed once) against the plain calls ``qsm.tkd`` and
  ``qsm_invert.tikhonov_closed_form`` per parameter (each its own forward FFT). Checks that the
  maps are bit for bit identical.
* ``metrics``: ``qsm_metrics.hfen(kernel="scipy")`` and ``qsm_metrics.xsim`` of the chapter's TKD
  map (t = 0.15; the comparison with QSM-CI's scorer) with scipy's LoG on the mask's box plus the
  filter's radius and XSIM's formula at the mask's voxels, against the plain whole-grid
  computation (the functions before this round, ``_plain_hfen`` and ``_plain_xsim`` below).
  Checks that both numbers are bit for bit identical.

Printed per variant: wall and CPU seconds of this process (all its threads), best of ``RUNS``
alternating runs, and the ratio plain / new. CPU is the number that matters when the book
executes two pages at once on two cores; wall is what a student waits for on an idle machine.
"""
import sys

import numpy as np

from bench_qsm_round7 import _report, _timed   # noqa: E402  (one timer and one report line, round 7's)

RUNS = 3


def plain_tv_admm(field, mask, *, lam, max_iter, voxel_size, b0_dir, workers=2):
    """tv_admm's loop before this round (isotropic, float32, tol never met): the textbook updates as
    whole-array passes into preallocated buffers, the two splits side by side on two threads."""
    import scipy.fft as sfft

    from qmrigenes import qsm_invert as qi
    from qmrigenes._threads import thread_map
    mu, nu = 100.0 * lam, 1.0
    f, m, dtype = qi._prep(field, mask, np.float32)
    vs = qi._voxel(voxel_size)
    shape = f.shape
    d = qi.dipole_kernel(shape, voxel_size=vs, b0_dir=b0_dir).astype(dtype)
    den = mu * qi.gradient_symbol(shape, voxel_size=vs) + nu * d.astype(np.float64) ** 2
    inv_den = np.where(den > 0, 1.0 / np.where(den > 0, den, 1.0), 0.0).astype(dtype)
    w = m.astype(dtype)
    wf, one = w * f, dtype.type(1)
    pair = min(workers, 2)
    split = 1 if pair == 2 else -1

    def fft(x, wk=-1):
        return sfft.rfftn(x, workers=wk)

    def ifft(x, wk=-1):
        return sfft.irfftn(x, s=shape, workers=wk).astype(dtype, copy=False)

    chi = np.zeros(shape, dtype)
    dchi = ifft(fft(chi) * d)
    g = qi._grad(chi, vs).astype(dtype)
    s, t, v = np.zeros_like(g), np.zeros(shape, dtype), dchi.copy()
    thresh, mu_t, nu_t = dtype.type(lam / mu), dtype.type(mu), dtype.type(nu)
    den_v, nu_d = w + nu_t * one, nu_t * d
    gs, work = np.empty_like(g), np.empty_like(g)
    mag, buf = np.empty(shape, dtype), np.empty(shape, dtype)

    def data_split():
        np.add(dchi, t, out=v)
        np.multiply(v, nu_t, out=v)
        np.add(v, wf, out=v)
        np.divide(v, den_v, out=v)
        np.subtract(v, t, out=buf)
        data_k = fft(buf, split)
        data_k *= nu_d
        return data_k

    def grad_split():
        np.add(g, s, out=gs)
        qi._shrink(gs, thresh, True, out=gs, work=work, mag=mag)
        np.subtract(gs, s, out=work)
        new_k = fft(qi._div(work, vs), split)
        new_k *= mu_t
        return new_k

    def data_dual(new, new_k):
        np.subtract(new, chi, out=buf)
        step = float(np.linalg.norm(buf) / max(np.linalg.norm(new), 1e-30))
        new_k *= d
        dchi_new = ifft(new_k, split)
        np.add(t, dchi_new, out=t)
        np.subtract(t, v, out=t)
        return step, dchi_new

    def grad_dual(new):
        qi._grad(new, vs, out=g)
        np.add(s, g, out=s)
        np.subtract(s, gs, out=s)

    def both(a, b):
        return thread_map(lambda task: task(), (a, b), workers=pair)

    with qi._blas_single_thread():
        for _ in range(max_iter):
            data_k, new_k = both(data_split, grad_split)
            np.subtract(data_k, new_k, out=new_k)
            new_k *= inv_den
            new = ifft(new_k)
            (_, dchi), _ = both(lambda: data_dual(new, new_k), lambda: grad_dual(new))
            chi = new
    return chi, (mu * s).astype(dtype)


def tv(data):
    from qmrigenes import qsm_invert
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    kw = dict(lam=1e-3, max_iter=20, voxel_size=vs, b0_dir=b0)
    plain, new, same = [], [], True
    for _ in range(RUNS):
        (a, ya), w, c = _timed(lambda: plain_tv_admm(field, mask, **kw))
        plain.append((w, c))
        (b, info), w, c = _timed(lambda: qsm_invert.tv_admm(field, mask, tol=1e-12, masked_output=False,
                                                            workers=2, **kw))
        new.append((w, c))
        same &= info["n_iter"] == 20 and np.array_equal(a, b) and np.array_equal(ya, info["dual"])
    print(f"tv_admm, 20 iterations at 160^3 (float32, two threads): chi and dual bit for bit identical: {same}")
    _report("TV-ADMM", plain, new)


def scorer(data):
    from qmrigenes import qsm, qsm_metrics
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    thresholds = np.round(np.arange(0.05, 0.56, 0.05), 2)
    maps = [qsm.tkd(field, threshold=t, mask=mask, voxel_size=vs, b0_dir=b0) for t in thresholds]
    fast = qsm_metrics.ChallengeScorer(data.reference, mask)
    whole = qsm_metrics.ChallengeScorer(data.reference, mask)
    whole._shell = [(slice(None),) * 3]         # "nonzero outside the inner box": filter the whole box
    plain, new, same = [], [], True
    for _ in range(RUNS):
        a, w, c = _timed(lambda: [whole(x) for x in maps])
        plain.append((w, c))
        b, w, c = _timed(lambda: [fast(x) for x in maps])
        new.append((w, c))
        same &= a == b
    print(f"ChallengeScorer, 11 TKD maps (box {fast.mask.shape} -> window sums on {fast._inner_mask.shape}): "
          f"every metric bit for bit identical: {same}")
    _report("scoring", plain, new)


def kspace(data):
    from qmrigenes import qsm, qsm_invert
    field, mask, vs, b0 = data.field, data.mask, data.voxel_size, data.b0_dir
    field_in = np.where(mask, field, 0.0)
    thresholds = np.round(np.arange(0.05, 0.56, 0.05), 2)
    lams = np.logspace(-3, 0, 10)

    def plain_calls():
        return ([qsm.tkd(field_in, threshold=t, voxel_size=vs, b0_dir=b0) for t in thresholds]
                + [qsm_invert.tikhonov_closed_form(field, lam=lam, mask=mask, voxel_size=vs, b0_dir=b0,
                                                   masked_output=False) for lam in lams])

    def shared():
        inv = qsm_invert.KspaceInversions(field, mask=mask, voxel_size=vs, b0_dir=b0)
        return [inv.tkd(t) for t in thresholds] + [inv.tikhonov(lam) for lam in lams]

    plain, new, same = [], [], True
    for _ in range(RUNS):
        a, w, c = _timed(plain_calls)
        plain.append((w, c))
        b, w, c = _timed(shared)
        new.append((w, c))
        same &= all(np.array_equal(x, y) and x.dtype == y.dtype for x, y in zip(a, b))
    print(f"21 k-space reconstructions (11 TKD, 10 closed form): maps bit for bit identical: {same}")
    _report("reconstructions", plain, new)


def _plain_hfen(recon, ref, mask):
    """qsm_metrics.hfen(kernel="scipy") before this round: the LoG of the whole grid."""
    from scipy import ndimage

    from qmrigenes.qsm_metrics import _norm_ratio
    lr = ndimage.gaussian_laplace(recon, sigma=1.5, truncate=5.0)
    lt = ndimage.gaussian_laplace(ref, sigma=1.5, truncate=5.0)
    return _norm_ratio(lr[mask] - lt[mask], lt[mask])


def _plain_xsim(recon, ref, mask, c1=1e-4, c2=1e-6):
    """qsm_metrics.xsim before this round: the formula on the whole grid, then the mask."""
    from scipy import ndimage

    from qmrigenes.qsm_metrics import _box_mean
    count = ndimage.uniform_filter(np.ones_like(recon), size=5, mode="constant")
    mu_r, mu_t = _box_mean(recon, 5, count), _box_mean(ref, 5, count)
    var_r = _box_mean(recon * recon, 5, count) - mu_r ** 2
    var_t = _box_mean(ref * ref, 5, count) - mu_t ** 2
    cov = _box_mean(recon * ref, 5, count) - mu_r * mu_t
    num = (2 * mu_r * mu_t + c1) * (2 * cov + c2)
    den = (mu_r ** 2 + mu_t ** 2 + c1) * (var_r + var_t + c2)
    ok = mask & (den > 0)
    return float(np.mean(num[ok] / den[ok]))


def metrics(data):
    from qmrigenes import qsm, qsm_metrics
    mask, ref = data.mask, data.reference
    chi = qsm.tkd(data.field, threshold=0.15, mask=mask, voxel_size=data.voxel_size, b0_dir=data.b0_dir)
    plain, new, same = [], [], True
    for _ in range(RUNS):
        a, w, c = _timed(lambda: (_plain_hfen(chi, ref, mask), _plain_xsim(chi, ref, mask)))
        plain.append((w, c))
        b, w, c = _timed(lambda: (qsm_metrics.hfen(chi, ref, mask, kernel="scipy"), qsm_metrics.xsim(chi, ref, mask)))
        new.append((w, c))
        same &= a == b
    print(f"HFEN (scipy's LoG) and XSIM of one TKD map: bit for bit identical: {same}")
    _report("HFEN + XSIM", plain, new)


def main():
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016
    data = load_qsm_challenge_2016()
    which = sys.argv[1:] or ["tv", "scorer", "kspace", "metrics"]
    for name in which:
        {"tv": tv, "scorer": scorer, "kspace": kspace, "metrics": metrics}[name](data)


if __name__ == "__main__":
    main()
