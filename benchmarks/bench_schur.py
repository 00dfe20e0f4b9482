"""Benchmark (issue #22, branch ``cg``): cheaper masked Tikhonov solves? Variants of the Schur CG
of ``qsm.tikhonov_cg`` (``method="schur"``) against the library's solver, in one run.

Run: ``python benchmarks/bench_schur.py [SECTION ... | all] [full | rule]`` on the real 2016 QSM
challenge field (160^3, 1.06 mm; the chapter 4 problem), ``tol=1e-6``. Sections:

* ``precision``: the library's solver (``base``, run first and last; the best of the two is the
  reference of every ratio); ``replica``, this file's copy of the library's CG loop (checks that the
  variants below change only what they name: same iterations, the same chi bit for bit); and
  single-precision FFTs where an approximation is allowed, the vectors, the operator's forward
  FFT, every inner product and the stopping rule staying in float64:
  ``prec32`` both FFTs of the preconditioner ``O K^-0.8 O`` in float32 (the stopping norm then
  comes from a float32 spectrum and is confirmed by a float64 FFT before stopping),
  ``prec32+flex`` the same with the flexible (Polak-Ribiere) beta, ``pinv32`` only the
  preconditioner's inverse FFT in float32 (its forward FFT, which also gives the stopping norm,
  in float64), ``ainv32`` only the operator's inverse FFT in float32, ``pinv32+ainv32`` both.
* ``power``: other preconditioners: exponents 0.7 and 0.9 instead of 0.8 in ``O K^-a O``; a
  symmetric spatial scaling ``s O K^-0.8 O s`` with ``s = 1 - g exp(-dist / sigma)`` (dist: voxels
  from the mask), damping (g > 0) or boosting (g < 0) the voxels next to the brain; and T. Chan's
  optimal circulant approximation of ``O K O`` (K convolved with the outside mask's power
  spectrum) as the preconditioner's symbol, alone and averaged with K.
* ``deflate``: deflated PCG (Saad, Yeung, Erhel & Guyomarc'h 2000) with the low-order polynomials
  outside the mask as deflation space: the constant alone (stored as a volume, the plain form), or
  ``W = O x^a y^b z^c`` with ``a + b + c <= 1`` (4 vectors) or
  ``<= 2`` (10): ``AW`` is computed once (two FFTs per vector) and kept (one 160^3 volume per
  vector); each iteration adds ``E^-1 (AW)^T z`` (one pass over the stacked ``AW``) and
  ``p -= W mu`` (the polynomial evaluated on the grid). The error CG removes slowly is smooth
  (round 3), and the Ritz values show it is not a few outliers.
* ``warm``: the chapter's two solves (lambda = 2.15e-3 and 0.1) cold, against each warm-started from
  the other's solution (``x0=``): iterations, CPU.
* ``spectrum``: Ritz values of the preconditioned Schur operator from the CG coefficients of the
  ``replica`` run (the Lanczos tridiagonal matrix): are the slow modes a few outliers (which
  deflation would remove) or a continuous spread?
* ``fft``: float64 and float32 ``rfftn`` / ``irfftn`` of 160^3 on 1 and 2 workers (CPU; wall is only
  meaningful on an idle machine), the CPU seconds each pool thread spends (from
  ``/proc/self/task``), and the same transforms written axis by axis (checked identical).

Without a section name (as ``make bench`` runs it): ``precision``, ``spectrum`` and ``fft``, about
3 minutes at load 4-8; ``all`` runs every section (about 15 minutes at that load). The chapter's
lambda are the closed form's choices on its grid ``np.logspace(-3, 0, 10)``: the L-curve corner
2.154e-3 and the tuned 0.1 mm^2. The solver sections run at the tuned lambda (29 iterations) unless
``full`` adds the L-curve lambda (83 iterations; about 2.5 times as long again) or ``rule`` runs the
L-curve lambda alone (``warm`` always solves both). Round 8 of ``benchmarks/QSM_RESULTS.md`` is
``all full`` and ``deflate full``.
Printed per solve: iterations, the final float64 normal-equation residual (recomputed by the
library), wall and CPU seconds (this process, all threads), the largest difference of chi inside
the mask from the library's solution (ppb), and the ratio library / variant (wall, CPU; > 1 means
the variant is cheaper).
"""
import os
import sys
import time

import numpy as np
import scipy.fft as sfft

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chapters"))
import qmribook  # noqa: E402,F401  (the chapters' allocator settings: freed large arrays reused)
from qmrigenes import qsm  # noqa: E402

TOL = 1e-6
#: chapter 4's two lambda (mm^2): the closed form's L-curve corner and tuned choice, from its grid
LAM_RULE, LAM_TUNED = float(np.logspace(-3, 0, 10)[1]), float(np.logspace(-3, 0, 10)[6])
W = qsm._WORKERS
LIBRARY = qsm._OutsideFieldCG


class Variant(LIBRARY):
    """The library's Schur CG with switchable single-precision FFTs, beta and preconditioner symbol.

    ``solve`` is a copy of :meth:`qsm._OutsideFieldCG.solve` (double precision, no snapshots or
    resume); with no switch it reproduces the library's iterates bit for bit (checked). It records
    the CG coefficients (``self.coef``) for the Lanczos matrix.
    """
    opts: dict = {}

    def __init__(self, mask, d, lg2, shape, **kw):
        o = self.opts
        kw["power"] = o.get("power", qsm._SCHUR_POWER)
        super().__init__(mask, d, lg2, shape, **kw)
        self.scale = o.get("scale_fn", lambda m: None)(mask)
        if o.get("chan") is not None:            # T. Chan's circulant: diag of F (O K O) F*
            ac = sfft.irfftn(np.abs(sfft.rfftn(self.o)) ** 2, s=shape)
            c = sfft.rfftn(sfft.irfftn(self.k, s=shape) * ac).real / self.o.size / self.o.mean()
            sym = (1 - o["chan"]) * self.k + o["chan"] * np.maximum(c, 1e-12)
            self.kinv = sym ** -kw["power"]
        self.kinv32, self.k32 = self.kinv.astype(np.float32), self.k.astype(np.float32)

    def precondition_r(self, r, tol_norm):
        """(z, ||D r||) for residual ``r``."""
        o = self.opts
        if self.scale is not None:
            res = self.residual_norm(sfft.rfftn(r, workers=W))
            z, _ = self._filter(r * self.scale, self.kinv, None, False)
            z *= self.scale
            return z, res
        if o.get("prec32"):
            spec = sfft.rfftn(r.astype(np.float32), workers=W)
            res = self.residual_norm(spec)
            if res <= tol_norm:                   # the stopping rule is confirmed in float64
                res = self.residual_norm(sfft.rfftn(r, workers=W))
            spec *= self.kinv32
            return np.multiply(sfft.irfftn(spec, s=self.shape, workers=W), self.o), res
        if o.get("pinv32"):
            spec = sfft.rfftn(r, workers=W)
            res = self.residual_norm(spec)
            spec *= self.kinv
            return np.multiply(sfft.irfftn(spec.astype(np.complex64), s=self.shape, workers=W), self.o), res
        return self._filter(r, self.kinv, None, False, norm=True)

    def operator(self, p):
        if self.opts.get("ainv32"):
            spec = sfft.rfftn(p, workers=W)
            spec *= self.k
            return np.multiply(sfft.irfftn(spec.astype(np.complex64), s=self.shape, workers=W), self.o)
        return self.apply(p, single=False)

    def solve(self, wf, *, u0=None, tol, max_iter, refresh=50, snapshots=(), spec_wf=None, resume=None):
        flex = self.opts.get("flex", False)
        norm_b = self.residual_norm(spec_wf)
        rhs = sfft.irfftn(spec_wf * self.k, s=self.shape, workers=W)
        rhs *= -self.o
        step = np.empty(self.shape)
        u = np.zeros(self.shape) if u0 is None else self.o * u0
        r = rhs - self.apply(u, single=False) if u0 is not None else rhs.copy()
        deflate = self.opts.get("deflate")
        if deflate is not None:                      # deflated PCG (Saad et al. 2000): W^T r = 0 throughout
            wv = [self.o * v for v in deflate(self.o)]
            aw = [self.apply(v, single=False) for v in wv]
            e_inv = np.linalg.inv(np.array([[float(np.vdot(a, b)) for b in aw] for a in wv]))
            coef = e_inv @ np.array([float(np.vdot(v, r)) for v in wv])
            for c, v, a in zip(coef, wv, aw):
                u += c * v
                r -= c * a
        degree = self.opts.get("poly")
        if degree is not None:                       # the same, W = O x^a y^b z^c (a + b + c <= degree), AW stacked
            axes = [np.linspace(-1.0, 1.0, n) for n in self.shape]
            exps = [(a, b, c) for a in range(degree + 1) for b in range(degree + 1 - a)
                    for c in range(degree + 1 - a - b)]
            aw = np.empty((len(exps), r.size))
            wr, e = np.empty(len(exps)), np.empty((len(exps), len(exps)))
            for i, (a, b, c) in enumerate(exps):
                w = self.o * (axes[0][:, None, None] ** a * axes[1][None, :, None] ** b * axes[2] ** c)
                aw[i] = self.apply(w, single=False).ravel()
                wr[i] = float(np.vdot(w, r))
                e[i, :i + 1] = aw[:i + 1] @ w.ravel()        # E = W^T A W, lower triangle
            e = np.tril(e) + np.tril(e, -1).T
            e_inv = np.linalg.inv(e)

            def poly(mu):                            # sum_i mu_i x^a y^b z^c on the grid, one z-power at a time
                out = np.zeros(self.shape)
                for cz in range(degree + 1):
                    plane = sum(m * axes[0][:, None] ** a * axes[1][None, :] ** b
                                for m, (a, b, c) in zip(mu, exps) if c == cz)
                    if not np.isscalar(plane):
                        out += plane[:, :, None] * axes[2] ** cz
                return out
            coef0 = e_inv @ wr
            u += self.o * poly(coef0)
            r -= (coef0 @ aw).reshape(self.shape)
        p, rz, n_iter, r_old, self.coef = None, 1.0, 0, None, []
        while True:
            z, res = self.precondition_r(r, tol * norm_b)
            if res <= tol * norm_b or n_iter >= max_iter:
                break
            rz_new = float(np.vdot(r, z))
            if p is None:
                p, beta = z, 0.0
            else:
                beta = ((rz_new - float(np.vdot(r_old, z))) if flex else rz_new) / rz
                p *= beta
                p += z
            if degree is not None:
                p -= self.o * poly(e_inv @ (aw @ z.ravel()))
            if deflate is not None:                  # p -= W E^-1 (AW)^T z
                mu = e_inv @ np.array([float(np.vdot(a, z)) for a in aw])
                for m, v in zip(mu, wv):
                    p -= m * v
            if flex:
                r_old = r.copy()
            rz = rz_new
            ap = self.operator(p)
            alpha = rz / float(np.vdot(p, ap))
            self.coef.append((alpha, beta))
            u += np.multiply(p, alpha, out=step)
            r -= np.multiply(ap, alpha, out=step)
            n_iter += 1
        self.state = None
        Variant.last = self
        return u, n_iter, {}


def solve(data, lam, opts=None, x0=None):
    """(chi on the whole grid, info, wall s, CPU s) of qsm.tikhonov_cg, library or variant."""
    qsm._OutsideFieldCG = LIBRARY if opts is None else Variant
    Variant.opts = opts or {}
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        chi, info = qsm.tikhonov_cg(data.field, data.mask, lam=lam, tol=TOL, voxel_size=data.voxel_size,
                                    b0_dir=data.b0_dir, x0=x0, masked_output=False, max_iter=400)
        return chi, info, time.perf_counter() - t0, time.process_time() - c0
    finally:
        qsm._OutsideFieldCG = LIBRARY


def _line(name, out, ref, mask, base=None):
    chi, info, wall, cpu = out
    diff = np.abs(chi - ref)[mask].max() * 1e3
    ratio = "" if base is None else f"  ratio library/variant {base[0] / wall:4.2f} wall, {base[1] / cpu:4.2f} CPU"
    print(f"  {name:24s} {info['n_iter']:4d} it  residual {info['residual']:.2e}  {wall:6.1f} s wall "
          f"{cpu:6.1f} s CPU ({cpu / max(info['n_iter'], 1) * 1e3:4.0f} ms/it)  max|dchi| {diff:.1e} ppb{ratio}"
          f"  [load {os.getloadavg()[0]:.1f}]", flush=True)


def _block(data, lam, variants):
    """The library first and last (best of both is the reference), the variants in between."""
    print(f"lambda = {lam:g}, tol = {TOL:g}")
    first = solve(data, lam)
    ref = first[0]
    _line("library (first)", first, ref, data.mask)
    runs = []
    for name, opts in variants:
        out = solve(data, lam, opts)
        runs.append((name, out, getattr(Variant, "last", None)))
    last = solve(data, lam)
    _line("library (last)", last, ref, data.mask)
    base = (min(first[2], last[2]), min(first[3], last[3]))
    for name, out, _ in runs:
        _line(name, out, ref, data.mask, base)
    return first, runs


def precision(data, lams):
    out = {}
    for lam in lams:
        variants = [("replica", {}), ("prec32", {"prec32": True}), ("prec32+flex", {"prec32": True, "flex": True}),
                    ("pinv32", {"pinv32": True}), ("ainv32", {"ainv32": True}),
                    ("pinv32+ainv32", {"pinv32": True, "ainv32": True})]
        first, runs = _block(data, lam, variants)
        rep = runs[0]
        print(f"  replica identical to the library: {np.array_equal(rep[1][0], first[0])} "
              f"({rep[1][1]['n_iter']} vs {first[1]['n_iter']} iterations)")
        out[lam] = rep[2].coef
    return out


def power(data, lams):
    from scipy.ndimage import distance_transform_edt
    dist = {}

    def damp(g, sigma):
        def fn(mask):
            if "d" not in dist:
                dist["d"] = distance_transform_edt(~mask)
            return 1 - g * np.exp(-dist["d"] / sigma)
        return fn
    for lam in lams:
        variants = [("a = 0.7", {"power": 0.7}), ("a = 0.9", {"power": 0.9})]
        if lam == lams[0]:
            variants += [("s: g 0.5, sigma 2", {"scale_fn": damp(0.5, 2)}),
                         ("s: g -1, sigma 2", {"scale_fn": damp(-1.0, 2)}),
                         ("s: g 0.5, sigma 6", {"scale_fn": damp(0.5, 6)}),
                         ("Chan circulant", {"chan": 1.0, "power": 1.0}),
                         ("(K + Chan)/2, a = 1", {"chan": 0.5, "power": 1.0})]
        _block(data, lam, variants)


def deflate(data, lams):
    for lam in lams:
        _block(data, lam, [("deflate constant", {"deflate": lambda o: [np.ones(o.shape)]}),
                           ("deflate degree 1", {"poly": 1}), ("deflate degree 2", {"poly": 2})])


def warm(data):
    lam_rule, lam_tuned = LAM_RULE, LAM_TUNED
    print(f"warm starts: the chapter's two solves (lambda {lam_rule:g} and {lam_tuned:g})")
    cold_t, cold_r = solve(data, lam_tuned), solve(data, lam_rule)
    rule_from_tuned = solve(data, lam_rule, x0=cold_t[0])
    tuned_from_rule = solve(data, lam_tuned, x0=cold_r[0])
    for name, out, ref in (("cold, tuned lambda", cold_t, cold_t[0]), ("cold, L-curve lambda", cold_r, cold_r[0]),
                           ("L-curve from tuned chi", rule_from_tuned, cold_r[0]),
                           ("tuned from L-curve chi", tuned_from_rule, cold_t[0])):
        _line(name, out, ref, data.mask)
    cold = cold_t[3] + cold_r[3]
    print(f"  pair, CPU: cold {cold:.1f} s; tuned then rule from it {cold_t[3] + rule_from_tuned[3]:.1f} s "
          f"(ratio {cold / (cold_t[3] + rule_from_tuned[3]):.2f}); rule then tuned from it "
          f"{cold_r[3] + tuned_from_rule[3]:.1f} s (ratio {cold / (cold_r[3] + tuned_from_rule[3]):.2f})")


def spectrum(coef):
    for lam, ab in coef.items():
        n = len(ab)
        t = np.zeros((n, n))
        for j, (a, b) in enumerate(ab):
            t[j, j] = 1 / a + (b / ab[j - 1][0] if j else 0.0)
            if j:
                t[j, j - 1] = t[j - 1, j] = np.sqrt(b) / ab[j - 1][0]
        ev = np.linalg.eigvalsh(t)
        # finite-precision Lanczos repeats a converged Ritz value ("ghosts"): count distinct ones
        distinct = ev[np.r_[True, np.diff(ev) > 1e-6 * ev[1:]]]
        print(f"lambda {lam:g}: {n} Ritz values of P S ({distinct.size} distinct), {ev[0]:.2e} .. {ev[-1]:.2e} "
              f"(ratio {ev[-1] / ev[0]:.1e})")
        print("  smallest 5:", np.array2string(distinct[:5], precision=3), " largest 5 distinct:",
              np.array2string(distinct[-5:], precision=3))
        print("  distinct per decade:", {f"1e{k}": int(np.sum((distinct >= 10.0 ** k) & (distinct < 10.0 ** (k + 1))))
                                         for k in range(int(np.floor(np.log10(ev[0]))),
                                                        int(np.ceil(np.log10(ev[-1]))))})


def _thread_ticks():
    out = {}
    for t in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{t}/stat") as fh:
            f = fh.read().rsplit(")", 1)[1].split()
        out[t] = int(f[11]) + int(f[12])                   # utime + stime, clock ticks
    return out


def fft(reps=12):
    sh = (160, 160, 160)
    x = np.random.default_rng(0).standard_normal(sh)
    x32 = x.astype(np.float32)
    spec, spec32 = sfft.rfftn(x), sfft.rfftn(x32)
    hz = os.sysconf("SC_CLK_TCK")
    print("FFTs of 160^3 (ms per call: median wall, median CPU of the process; per-thread CPU share on 2 workers)")
    cases = {"rfftn float64": lambda w: sfft.rfftn(x, workers=w),
             "irfftn float64": lambda w: sfft.irfftn(spec, s=sh, workers=w),
             "rfftn float32": lambda w: sfft.rfftn(x32, workers=w),
             "irfftn float32": lambda w: sfft.irfftn(spec32, s=sh, workers=w),
             "rfft axis 2 + fftn axes 0,1": lambda w: sfft.fftn(sfft.rfft(x, axis=2, workers=w), axes=(0, 1),
                                                                 workers=w, overwrite_x=True),
             "ifftn axes 0,1 + irfft axis 2": lambda w: sfft.irfft(sfft.ifftn(spec, axes=(0, 1), workers=w),
                                                                    n=sh[2], axis=2, workers=w, overwrite_x=True)}
    print("  axis by axis identical to rfftn:", np.array_equal(cases["rfftn float64"](2),
                                                              cases["rfft axis 2 + fftn axes 0,1"](2)),
          "; to irfftn:", np.array_equal(cases["irfftn float64"](2), cases["ifftn axes 0,1 + irfft axis 2"](2)),
          "(largest difference", f"{np.abs(cases['irfftn float64'](2) - cases['ifftn axes 0,1 + irfft axis 2'](2)).max():.1e})")
    for name, fn in cases.items():
        row = []
        for w in (1, 2):
            fn(w)
            times, t0 = [], _thread_ticks()
            for _ in range(reps):
                c, t = time.process_time(), time.perf_counter()
                fn(w)
                times.append((time.perf_counter() - t, time.process_time() - c))
            t1 = _thread_ticks()
            busy = sorted((t1[k] - t0.get(k, 0) for k in t1), reverse=True)
            med = np.median(np.array(times), axis=0) * 1e3
            share = f", busiest threads {busy[0] / hz / reps * 1e3:.0f} + {busy[1] / hz / reps * 1e3:.0f} ms" if w == 2 else ""
            row.append(f"{w} worker{'s' if w > 1 else ''}: {med[0]:5.1f} wall / {med[1]:5.1f} CPU{share}")
        print(f"  {name:30s} " + "; ".join(row))
    print(f"  [load {os.getloadavg()[0]:.1f}]")


def main(args):
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016
    every = ["precision", "power", "deflate", "warm", "spectrum", "fft"]
    sections = [a for a in args if a not in ("full", "rule")] or ["precision", "spectrum", "fft"]
    if "all" in sections:
        sections = every
    lams = {"full": [LAM_TUNED, LAM_RULE], "rule": [LAM_RULE]}.get(next((a for a in args if a in ("full", "rule")), ""),
                                                                   [LAM_TUNED])
    print(f"load average {os.getloadavg()[0]:.2f}, {os.cpu_count()} cores, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}", flush=True)
    data = load_qsm_challenge_2016()
    coef = None
    if "precision" in sections or "spectrum" in sections:
        coef = precision(data, lams)
    if "spectrum" in sections:
        spectrum(coef)
    if "power" in sections:
        power(data, lams)
    if "deflate" in sections:
        deflate(data, lams)
    if "warm" in sections:
        warm(data)
    if "fft" in sections:
        fft()
    print(f"load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
