"""Benchmark (round 5, measured and not adopted): TV-ADMM's elementwise updates fused by numexpr.

Run on demand, in an environment with numexpr (not a dependency of the project: ``pip install
numexpr``): ``python benchmarks/bench_qsm_numexpr.py``. Skips cleanly without it.

The split update ``v = ((D chi + t) nu + M f) / (M + nu)`` and the isotropic shrinkage
``z = (g + s) max(1 - thresh / max(|g + s|, 1e-30), 0)`` of ``qsm_invert.tv_admm`` on a 160^3
float32 grid: the library's numpy passes (the plain alternative, 14 passes) against the same
float32 operations, in the same order, as five numexpr evaluations (checked bit for bit), with
one and two numexpr threads; CPU and wall per update, best of four.
"""
import time

import numpy as np

try:
    import numexpr as ne
except ImportError:          # not a dependency: nothing to measure
    ne = None
    print("numexpr is not installed: skipped")
    raise SystemExit(0)
rng = np.random.default_rng(0)
sh = (160, 160, 160)
f32 = np.float32
g = rng.normal(0, 1e-2, (3,) + sh).astype(f32); s = rng.normal(0, 1e-2, (3,) + sh).astype(f32)
dchi, t, wf = (rng.normal(0, 1e-2, sh).astype(f32) for _ in range(3))
den_v = (rng.random(sh) > 0.5).astype(f32) + f32(1)
thresh, nu, eps, one, zero = f32(1e-2), f32(1), f32(1e-30), f32(1), f32(0)
v = np.empty(sh, f32); gs = np.empty_like(g); work = np.empty_like(g); mag = np.empty(sh, f32)

def numpy_path():
    np.add(dchi, t, out=v); v.__imul__(nu); v.__iadd__(wf); v.__itruediv__(den_v)
    np.add(g, s, out=gs)
    np.multiply(gs, gs, out=work); np.sum(work, axis=0, out=mag); np.sqrt(mag, out=mag)
    np.maximum(mag, f32(1e-30), out=mag); np.divide(thresh, mag, out=mag); np.subtract(1, mag, out=mag)
    np.maximum(mag, 0, out=mag); np.multiply(gs, mag, out=gs)
    return v.copy(), gs.copy()

zv = np.empty(sh, f32); zg = np.empty_like(g); sc = np.empty(sh, f32)
def ne_path():
    ne.evaluate("((dchi + t) * nu + wf) / den_v", out=zv, casting="same_kind")
    g0, g1, g2, s0, s1, s2 = g[0], g[1], g[2], s[0], s[1], s[2]
    ne.evaluate("sqrt(((g0 + s0) * (g0 + s0) + (g1 + s1) * (g1 + s1)) + (g2 + s2) * (g2 + s2))", out=sc)
    ne.evaluate("where(sc > eps, sc, eps)", out=sc)
    ne.evaluate("where(one - thresh / sc > zero, one - thresh / sc, zero)", out=sc)
    for i in range(3):
        gi, si = g[i], s[i]
        ne.evaluate("(gi + si) * sc", out=zg[i])
    return zv.copy(), zg.copy()

a, b = numpy_path(), ne_path()
print("identical v:", np.array_equal(a[0], b[0]), "z:", np.array_equal(a[1], b[1]), "max diff z", float(np.abs(a[1]-b[1]).max()))
for threads in (1, 2):
    ne.set_num_threads(threads)
    res = {"numpy": [], "numexpr": []}
    for _ in range(4):
        for name, fn in (("numpy", numpy_path), ("numexpr", ne_path)):
            c, w = time.process_time(), time.perf_counter()
            for _ in range(5): fn()
            res[name].append(((time.process_time()-c)/5*1e3, (time.perf_counter()-w)/5*1e3))
    print(f"numexpr threads {threads}: " + "; ".join(f"{k} best {min(x[0] for x in v):.1f} ms CPU, {min(x[1] for x in v):.1f} ms wall" for k, v in res.items()))
