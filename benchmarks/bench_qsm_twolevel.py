"""Round-4 experiment (measured, not adopted): a two-level preconditioner for the Schur solve.

Run on demand: ``python benchmarks/bench_qsm_twolevel.py LAM FAC INNER SCALE`` on the real 2016
challenge field (160^3), e.g. ``2.15e-3 2 10 -1``. Flexible CG (Polak-Ribiere beta) on the
Schur system of ``qsm.tikhonov_cg`` (``O K O u = -O K M f``), preconditioned by
``O F^-1[K^-0.8 F r + pad(F_c x_c)]`` where ``x_c`` is ``INNER`` steps of CG on the rediscretised
coarse Schur operator ``o_c K_c o_c`` (grid ``/FAC``, ``o_c`` the spectrally restricted outside
fraction, inner preconditioner ``K_c^-0.8``) for the spectrally restricted residual. Restriction
(crop of the residual's spectrum) and prolongation (zero-padded spectrum) reuse the fine
preconditioner's FFT pair: the fine cost per iteration stays two FFT pairs. ``SCALE < 0``
replaces the fine preconditioner's band below the coarse Nyquist by the coarse correction;
``SCALE >= 0`` adds ``SCALE`` times the correction (additive two-level). ``INNER = 0``: the
library's one-level preconditioner, in flexible CG. Prints iterations, FFT pairs per grid,
fine-FFT-pair equivalents (coarse pairs weighted by the grid-size ratio), CPU and wall seconds,
and the objective's relative gradient at the result (``qsm.tikhonov_optimality``).
"""
import sys, time, numpy as np, scipy.fft as sfft
from qmrigenes import qsm
from qmrigenes.qsm_challenge import load_qsm_challenge_2016
W = 1
d = load_qsm_challenge_2016()
f, m, vs, b0 = d.field, d.mask, np.asarray(d.voxel_size, float), d.b0_dir
lam = float(sys.argv[1]); fac = int(sys.argv[2]); inner = int(sys.argv[3]); scale = float(sys.argv[4])
cpow = float(sys.argv[5]) if len(sys.argv) > 5 else 0.8
shape = f.shape
dk = qsm.dipole_kernel(shape, voxel_size=vs, b0_dir=b0)
lg2 = lam * qsm._gradient_symbol(shape, vs)
S = qsm._OutsideFieldCG(m, dk, lg2, shape, single=False, precondition=True)
o = S.o
cs = tuple(n // fac for n in shape)
h = [n // 2 for n in cs]
def crop(spec):   # fine half spectrum -> coarse half spectrum (Nyquist zeroed)
    a = np.concatenate([spec[:h[0]], spec[-h[0]:]], 0)
    a = np.concatenate([a[:, :h[1]], a[:, -h[1]:]], 1)
    a = a[:, :, :h[2] + 1].copy()
    a[h[0]] = 0; a[:, h[1]] = 0; a[:, :, h[2]] = 0
    return a
def pad(c):
    out = np.zeros((shape[0], shape[1], shape[2] // 2 + 1), complex)
    c = c.copy(); c[h[0]] = 0; c[:, h[1]] = 0; c[:, :, h[2]] = 0
    out[:h[0], :h[1], :h[2] + 1] = c[:h[0], :h[1]]
    out[-h[0]:, :h[1], :h[2] + 1] = c[h[0]:, :h[1]]
    out[:h[0], -h[1]:, :h[2] + 1] = c[:h[0], h[1]:]
    out[-h[0]:, -h[1]:, :h[2] + 1] = c[h[0]:, h[1]:]
    return out
Nf, Nc = np.prod(shape), np.prod(cs)
# restriction: coarse values c = irfftn_c(crop(F r)) / (Nf/Nc)  (smooth samples); prolongation I c = irfftn_f(pad(F_c c)) * (Nf/Nc)
ob = sfft.irfftn(crop(sfft.rfftn(o)), s=cs) * Nc / Nf
ob = np.clip(ob, 0, 1)
dc = qsm.dipole_kernel(cs, voxel_size=vs * fac, b0_dir=b0)
lc = lam * qsm._gradient_symbol(cs, vs * fac)
den = dc ** 2 + lc
kc = np.where(den > 0, lc / np.where(den > 0, den, 1), 1.0)
kcinv = kc ** -cpow
bc = (ob > 0.02).astype(float)
hi = 1 - pad(np.ones((cs[0], cs[1], cs[2] // 2 + 1))).real
npair = {"fine": 0, "coarse": 0}
def Ac(c):
    npair["coarse"] += 1
    return ob * sfft.irfftn(sfft.rfftn(ob * c, workers=W) * kc, s=cs, workers=W)
def Mc(c):
    npair["coarse"] += 1
    return bc * sfft.irfftn(sfft.rfftn(c, workers=W) * kcinv, s=cs, workers=W)
def coarse_solve(b, n):
    x = np.zeros(cs); r = b.copy(); z = Mc(r); p = z.copy(); rz = np.vdot(r, z)
    for _ in range(n):
        ap = Ac(p); a = rz / np.vdot(p, ap); x += a * p; r -= a * ap
        z = Mc(r); rzn = np.vdot(r, z); p = z + (rzn / rz) * p; rz = rzn
    return x
def prec(r):
    npair["fine"] += 1
    spec = sfft.rfftn(r, workers=W)
    res = S.residual_norm(spec)
    zs = spec * S.kinv
    if inner > 0:
        rc = sfft.irfftn(crop(spec), s=cs, workers=W) * Nc / Nf
        xc = coarse_solve(rc, inner)
        if scale < 0:   # replace the low band of the fine preconditioner
            zs *= hi
            zs += pad(sfft.rfftn(xc, workers=W)) * (Nf / Nc)
        else:
            zs += scale * pad(sfft.rfftn(xc, workers=W)) * (Nf / Nc)
    return o * sfft.irfftn(zs, s=shape, workers=W), res
def Sop(u):
    npair["fine"] += 1
    return S.apply(u)
t0, c0 = time.perf_counter(), time.process_time()
spec_wf = sfft.rfftn(m * f, workers=W)
norm_b = S.residual_norm(spec_wf)
rhs = -o * sfft.irfftn(spec_wf * S.k, s=shape, workers=W)
u = np.zeros(shape); r = rhs.copy(); p = None; n = 0; rprev = None; zr_old = 1
tol = 1e-6; hist = []
while True:
    z, res = prec(r)
    hist.append(res / norm_b)
    if res <= tol * norm_b or n >= 200:
        break
    zr = np.vdot(z, r)
    if p is None:
        p = z.copy()
    else:
        beta = (zr - np.vdot(z, rprev)) / zr_old
        p = z + beta * p
    zr_old = zr
    ap = Sop(p); a = np.vdot(p, r) / np.vdot(p, ap)
    u += a * p; rprev = r.copy(); r = r - a * ap; n += 1
t, c = time.perf_counter() - t0, time.process_time() - c0
eq = npair["fine"] + npair["coarse"] * Nc / Nf
chi = sfft.irfftn((spec_wf + sfft.rfftn(u)) * S.d_p0, s=shape)
opt = qsm.tikhonov_optimality(chi, f, m, lam=lam, voxel_size=vs, b0_dir=b0)
print(f"SPECTRAL lam {lam:g} fac {fac} inner {inner} scale {scale} cpow {cpow}: {n} it, fine pairs {npair['fine']}, coarse {npair['coarse']}, fine-eq {eq:.1f}, {t:.1f}s wall {c:.1f}s CPU, rel res {res/norm_b:.2e}, opt {opt:.2e}", flush=True)
print("  relative residual every 5 iterations:", " ".join(f"{x:.1e}" for x in hist[::5]))
