"""Multi-parameter mapping (MPM): spoiled gradient-echo signals and their inversion.

Forward model
    The steady-state spoiled gradient-echo (FLASH) signal with an optional
    magnetisation-transfer (MT) pre-pulse modelled as an extra fractional
    saturation ``delta`` of the longitudinal magnetisation per TR
    (Helms et al. 2008, MTsat)::

        S(TE) = A sin(a) (1 - E1) / (1 - (1 - delta) cos(a) E1) * exp(-TE R2*)

    with ``E1 = exp(-TR R1)``, ``a = B1 * nominal flip angle`` and ``A`` the
    proton density times the receive sensitivity.

Inversion (as in the hMRI toolbox; Weiskopf et al. 2013)
    * R2* and the TE = 0 intercepts of all contrasts by one log-linear fit
      with a common decay rate (ESTATICS; Weiskopf et al. 2014).
    * R1 and A from the PDw and T1w intercepts with the small-angle,
      short-TR (rational) approximation of the Ernst equation (Helms et al.
      2008, "rational approximation"), with or without a B1 map.
    * MTsat from the MTw intercept, A and R1 (Helms et al. 2008).

    Options: the hMRI toolbox's current default ``2 tan(a/2)`` estimator and an
    exact Ernst-equation inversion (``approximation=``), an exact MTsat
    formula, and the toolbox's empirical MTsat B1 correction (Helms, C = 0.4).

All rates are in 1/s, times in seconds, angles in degrees, PD and MTsat in
percent units (p.u.).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from ._threads import n_workers, thread_map
from ._validate import check_choice, check_scalar

__all__ = [
    "MPMProtocol",
    "ernst_angle",
    "r1_noise_grid",
    "r1_from_t1",
    "spgr_signal",
    "add_rician_noise",
    "simulate_mpm",
    "fit_r2star_estatics",
    "fit_r1_pd_vfa",
    "fit_mtsat",
    "correct_mtsat_helms",
    "HELMS_C",
    "fit_mpm",
    "fit_mpm_variants",
    "denoise_nlm",
    "denoising_experiment",
    "accuracy_table",
    "r1_bias_curve",
]

CONTRASTS = ("PDw", "T1w", "MTw")


@dataclass(frozen=True)
class MPMProtocol:
    """An MPM protocol: three multi-echo spoiled gradient-echo contrasts.

    The defaults are a simulation design in the style of the 3T hMRI
    protocol (PD-, T1- and MT-weighted FLASH with low/high/low flip angles
    and a train of equally spaced echoes); they are not copied from one
    specific published protocol.

    Attributes
    ----------
    flip_angles : dict, contrast -> degrees
    tr : dict, contrast -> seconds
    te : tuple of float
        Echo times in seconds (shared by the three contrasts), increasing.
    mt_contrast : str
        The contrast carrying the MT pre-pulse.
    """

    flip_angles: dict = field(default_factory=lambda: {"PDw": 6.0, "T1w": 21.0, "MTw": 6.0})
    tr: dict = field(default_factory=lambda: {"PDw": 0.025, "T1w": 0.025, "MTw": 0.025})
    te: tuple = (0.0022, 0.0047, 0.0072, 0.0097, 0.0122, 0.0147)
    mt_contrast: str = "MTw"

    def __post_init__(self):
        for c in CONTRASTS:
            if c not in self.flip_angles or c not in self.tr:
                raise ValueError(f"protocol needs a flip angle and TR for {c}")
            _check_flip_angle(self.flip_angles[c])
            if not self.tr[c] > 0:
                raise ValueError(f"TR of {c} must be positive (seconds), got {self.tr[c]}")
        _check_te(self.te)

    def with_(self, **changes) -> "MPMProtocol":
        """A copy with some fields replaced (e.g. ``flip_angles={...}``)."""
        return replace(self, **changes)


# --------------------------------------------------------------------------- validation
def _check_flip_angle(fa) -> None:
    fa = np.asarray(fa, dtype=float)
    if np.any(~np.isfinite(fa)) or np.any(fa <= 0) or np.any(fa > 90):
        raise ValueError(f"flip angle must be in (0, 90] degrees, got {fa}")


def _check_te(te) -> np.ndarray:
    te = np.atleast_1d(np.asarray(te, dtype=float))
    if te.ndim != 1 or te.size < 1:
        raise ValueError("TE must be a 1-D sequence of echo times")
    if np.any(te < 0):
        raise ValueError(f"echo times must be >= 0 s, got {te}")
    if te.size > 1 and np.any(np.diff(te) <= 0):
        raise ValueError(f"echo times must strictly increase, got {te}")
    return te


def _check_rate(x, name: str, *, allow_zero: bool = False) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    bad = (x < 0) if allow_zero else (x <= 0)
    if np.any(~np.isfinite(x)) or np.any(bad):
        raise ValueError(f"{name} must be {'non-negative' if allow_zero else 'positive'} and finite "
                         f"(got {int(np.sum(~np.isfinite(x)))} non-finite, min of the finite "
                         f"{np.min(x[np.isfinite(x)]) if np.isfinite(x).any() else float('nan'):.4g})")
    return x


def _broadcast(**arrays) -> list[np.ndarray]:
    try:
        return np.broadcast_arrays(*arrays.values())
    except ValueError:
        shapes = {k: np.shape(v) for k, v in arrays.items()}
        raise ValueError(f"mismatched shapes: {shapes}") from None


def r1_from_t1(t1) -> np.ndarray:
    """R1 = 1/T1 (1/s) from T1 in seconds; T1 must be positive."""
    t1 = np.asarray(t1, dtype=float)
    if np.any(~np.isfinite(t1)) or np.any(t1 <= 0):
        raise ValueError(f"T1 must be positive (seconds); got min {np.nanmin(t1):.4g}")
    return 1.0 / t1


# --------------------------------------------------------------------------- forward model
#: hMRI default constant of the empirical MTsat B1 correction (hmri_defaults.m,
#: ``MTsatB1CorrectionHelmsC = 0.4``, "value for 220 deg" MT pulses).
HELMS_C = 0.4
_MT_TIMING = ("start-of-tr", "end-of-tr")


def spgr_signal(pd_, r1, r2s, *, flip_angle: float, tr: float, te, b1=1.0, mtsat=0.0,
                mt_b1_exponent: float = 0.0, mt_timing: str = "start-of-tr") -> np.ndarray:
    """Spoiled gradient-echo signal at each echo time.

    Parameters
    ----------
    pd_ : array_like
        Signal amplitude A (proton density x receive sensitivity), >= 0.
    r1, r2s : array_like
        Relaxation rates R1 (> 0) and R2* (>= 0) in 1/s; broadcastable to ``pd_``.
    flip_angle : float or array_like
        Nominal flip angle in degrees, in (0, 90]; an array (e.g. shape ``(n_fa, 1)``) gives
        the signal for each angle, broadcast with the other inputs.
    tr : float
        Repetition time in seconds (> 0).
    te : sequence of float
        Echo times in seconds, strictly increasing.
    b1 : array_like, default 1
        Relative transmit field; the actual flip angle is ``b1 * flip_angle``.
    mtsat : array_like, default 0
        MT saturation in p.u. (0 for contrasts without an MT pulse) at the
        nominal MT pulse power (B1 = 1).
    mt_b1_exponent : float, default 0
        Simulation assumption on how the MT pulse's saturation depends on the
        transmit field: the saturation applied is ``mtsat * b1**p``. ``0``
        (default) makes it independent of B1 (the MT pulse is unaffected by
        B1 - not realistic); ``2`` assumes ``delta`` proportional to the MT
        pulse energy (B1^2), a small-saturation assumption.
    mt_timing : {"start-of-tr", "end-of-tr"}
        Where the MT saturation acts in each TR: right after the excitation,
        followed by a full TR of recovery (default; the form whose small-angle
        expansion is Helms' MTsat model, ``S = A a R1 TR / (R1 TR + a^2/2 +
        delta)``), or immediately before the excitation (the signal then also
        carries a factor ``1 - delta``).

    Returns
    -------
    ndarray, shape (n_te, *broadcast shape)
    """
    _check_flip_angle(flip_angle)
    tr = check_scalar(tr, "tr", min=0.0, min_inclusive=False, max=100.0, unit="s")
    te = _check_te(te)
    pd_, r1, r2s, b1, mtsat = _broadcast(pd=pd_, r1=r1, r2s=r2s, b1=b1, mtsat=mtsat)
    _check_rate(pd_, "PD", allow_zero=True)
    if np.any(~np.isfinite(r1)) or np.any(r1 <= 0):
        raise ValueError("R1 must be positive (T1 = 1/R1 > 0); got min "
                         f"{np.nanmin(r1):.4g} 1/s")
    _check_rate(r2s, "R2*", allow_zero=True)
    _check_rate(b1, "B1", allow_zero=False)
    p_mt = check_scalar(mt_b1_exponent, "mt_b1_exponent", min=0.0, max=4.0)
    check_choice(mt_timing, "mt_timing", _MT_TIMING)
    delta = np.asarray(mtsat, dtype=float) / 100.0 * b1 ** p_mt
    if np.any(~np.isfinite(delta)) or np.any(delta < 0) or np.any(delta >= 1):
        raise ValueError("mtsat must be in [0, 100) p.u. (after B1 scaling of the MT pulse)")
    a = np.deg2rad(flip_angle) * b1
    e1 = np.exp(-tr * r1)
    s0 = pd_ * np.sin(a) * (1 - e1) / (1 - (1 - delta) * np.cos(a) * e1)
    if mt_timing == "end-of-tr":
        s0 = s0 * (1 - delta)
    return s0[None] * np.exp(-te.reshape((-1,) + (1,) * s0.ndim) * r2s[None])


#: Smallest signal (elements) whose noise is drawn on a helper thread while it is added.
_NOISE_PIPELINE_MIN = 1 << 20
#: Elements per block of the draw/add pipeline (2 MB of float64: a block stays in the shared cache).
_NOISE_BLOCK = 1 << 18


def add_rician_noise(signal: np.ndarray, sigma: float, *, rng, workers=None) -> np.ndarray:
    """Magnitude of the signal plus complex Gaussian noise of SD ``sigma`` per channel.

    ``|s + sigma z_re + i sigma z_im|``, with ``z_re`` then ``z_im`` the next standard normal
    draws of ``rng`` (every real part first, then every imaginary part, in C order): the numbers
    of ``numpy.hypot(s + rng.normal(0, sigma, s.shape), rng.normal(0, sigma, s.shape))``.

    Parameters
    ----------
    signal : array_like
        Noise-free magnitude (signal units), any shape, e.g. ``(n_te, X, Y, Z)``.
    sigma : float
        Noise SD per real/imaginary channel (signal units), >= 0.
    rng : numpy.random.Generator
    workers : int or None, default None
        ``1`` draws and adds in one thread. Otherwise (``None``, ``-1`` or more, a signal of at
        least 2^20 elements and a ``Generator``) a helper thread draws the noise block by block,
        in the stream's order, while the calling thread adds the blocks already drawn: numpy's
        draws and its elementwise passes release the GIL, so on a free core the additions and
        the magnitude cost no wall time beyond the draws. The numbers are the same either way,
        bit for bit.

    Returns
    -------
    ndarray, float64
        Same shape as ``signal`` (a float for a scalar signal).

    Examples
    --------
    >>> import numpy as np
    >>> from qmrigenes import relaxometry
    >>> noisy = relaxometry.add_rician_noise(np.full((4, 8, 8, 8), 0.5), 0.05,
    ...                                      rng=np.random.default_rng(0))
    >>> noisy.shape, bool((noisy > 0).all())
    ((4, 8, 8, 8), True)
    """
    if sigma < 0:
        raise ValueError(f"sigma must be >= 0, got {sigma}")
    if sigma == 0:
        return np.asarray(signal, dtype=float).copy()
    shape = np.shape(signal)
    if (n_workers(workers) > 1 and int(np.prod(shape)) >= _NOISE_PIPELINE_MIN
            and isinstance(rng, np.random.Generator)):      # (a legacy RandomState draws in one go)
        return _rician_pipelined(np.ascontiguousarray(signal), sigma, rng)
    # the draws of rng.normal(0, sigma, size) (which computes 0 + sigma * z), built in place:
    # two arrays of the signal's size instead of four, the same numbers
    re = rng.standard_normal(shape)
    re *= sigma
    re += signal
    im = rng.standard_normal(shape)
    im *= sigma
    out = np.hypot(re, im, out=re)
    return out if out.ndim else out[()]


def _rician_pipelined(signal: np.ndarray, sigma: float, rng) -> np.ndarray:
    """:func:`add_rician_noise` with the draws on a helper thread, block by block.

    The helper fills the real parts block by block, then the imaginary parts (the order of one
    ``standard_normal`` call per array: a Generator's stream does not depend on how its draws are
    split into calls); the calling thread scales, adds and takes the magnitude of each block as
    soon as it is drawn, with the same operations as the serial path, so every number is the same.
    """
    re, im = np.empty(signal.shape), np.empty(signal.shape)
    flat_s, flat_re, flat_im = signal.reshape(-1), re.reshape(-1), im.reshape(-1)
    n = flat_re.size
    blocks = [slice(a, min(a + _NOISE_BLOCK, n)) for a in range(0, n, _NOISE_BLOCK)]
    done = {part: [threading.Event() for _ in blocks] for part in ("re", "im")}
    failed = []

    def draw():
        try:
            for part, flat in (("re", flat_re), ("im", flat_im)):
                for b, event in zip(blocks, done[part]):
                    rng.standard_normal(out=flat[b])
                    event.set()
        except BaseException as exc:             # re-raised by the calling thread
            failed.append(exc)
        finally:
            for events in done.values():          # never leave the caller waiting
                for event in events:
                    event.set()

    helper = threading.Thread(target=draw, name="rician-draws", daemon=True)
    helper.start()
    try:
        for b, event in zip(blocks, done["re"]):
            event.wait()
            if failed:
                break
            flat_re[b] *= sigma
            flat_re[b] += flat_s[b]
        for b, event in zip(blocks, done["im"]):
            event.wait()
            if failed:
                break
            flat_im[b] *= sigma
            np.hypot(flat_re[b], flat_im[b], out=flat_re[b])
    finally:
        helper.join()
    if failed:
        raise failed[0]
    return re


def simulate_mpm(maps: dict, protocol: MPMProtocol | None = None, *, b1=1.0, sigma: float = 0.0,
                 rng=None, mask=None, mt_b1_exponent: float = 0.0, mt_timing: str = "start-of-tr") -> dict:
    """Simulate the three multi-echo MPM contrasts.

    Parameters
    ----------
    maps : dict
        ``PD`` (p.u.), ``R1`` (1/s), ``R2s`` (1/s) and ``MTsat`` (p.u.)
        arrays of one shape (e.g. :attr:`qmrigenes.phantom.Phantom.maps`).
        Voxels with PD = 0 (background) get R1 = 1 1/s so that the model is
        defined; their signal is zero.
    protocol : MPMProtocol, optional
    b1 : array_like, default 1
        Relative transmit field (see :func:`qmrigenes.phantom.b1_field`).
    sigma : float, default 0
        Noise SD per real/imaginary channel (signal units; Rician magnitude).
    rng : numpy.random.Generator, optional
        Needed when ``sigma > 0``.
    mask : ndarray of bool, optional
        Simulate only these voxels (faster); others get zero signal (plus
        noise if ``sigma > 0``).
    mt_b1_exponent, mt_timing :
        How the MT saturation depends on B1 and where it acts in the TR (see
        :func:`spgr_signal`; defaults: independent of B1, start of TR).

    Returns
    -------
    dict
        ``{contrast: ndarray (n_te, *shape)}`` for ``PDw``, ``T1w``, ``MTw``.
    """
    protocol = protocol or MPMProtocol()
    missing = {"PD", "R1", "R2s", "MTsat"} - set(maps)
    if missing:
        raise ValueError(f"maps lack {sorted(missing)}")
    shapes = {k: np.shape(maps[k]) for k in ("PD", "R1", "R2s", "MTsat")}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"mismatched shapes: {shapes}")
    sigma = check_scalar(sigma, "sigma", min=0.0)
    if sigma > 0 and rng is None:
        raise ValueError("rng must be given when sigma > 0 (pass rng=numpy.random.default_rng(seed))")
    shape = shapes["PD"]
    b1 = np.broadcast_to(np.asarray(b1, dtype=float), shape) if np.ndim(b1) == 0 else np.asarray(b1, float)
    if b1.shape != shape:
        raise ValueError(f"mismatched shapes: B1 {b1.shape} vs maps {shape}")
    if mask is None:
        sel = np.ones(shape, dtype=bool)
    else:
        sel = np.asarray(mask, dtype=bool)
        if sel.shape != shape:
            raise ValueError(f"mismatched shapes: mask {sel.shape} vs maps {shape}")
    pd_ = np.asarray(maps["PD"], float)[sel]
    r1 = np.where(pd_ > 0, np.asarray(maps["R1"], float)[sel], 1.0)
    r2s = np.asarray(maps["R2s"], float)[sel]
    flat = np.flatnonzero(sel)      # integer scatter: the same voxels as s[:, sel], 2-3x faster
    out = {}
    for c in CONTRASTS:
        mt = np.asarray(maps["MTsat"], float)[sel] if c == protocol.mt_contrast else 0.0
        s = np.zeros((len(protocol.te),) + shape)
        s.reshape(len(protocol.te), -1)[:, flat] = spgr_signal(pd_, r1, r2s, flip_angle=protocol.flip_angles[c], tr=protocol.tr[c],
                                te=protocol.te, b1=b1[sel], mtsat=mt, mt_b1_exponent=mt_b1_exponent,
                                mt_timing=mt_timing)
        out[c] = add_rician_noise(s, sigma, rng=rng) if sigma > 0 else s
    return out


# --------------------------------------------------------------------------- inversion
def fit_r2star_estatics(signals: dict, te, *, floor: float = 1e-6) -> tuple[np.ndarray, dict]:
    """Common-R2* log-linear fit across contrasts (ESTATICS).

    Parameters
    ----------
    signals : dict
        ``{contrast: ndarray (n_te, *shape)}``, magnitude signals.
    te : sequence of float
        Echo times in seconds (strictly increasing), shared by the contrasts.
    floor : float
        Signals are clipped below at ``floor`` before taking logarithms.

    Returns
    -------
    r2s : ndarray, shape ``shape``
        Common R2* (1/s).
    intercepts : dict
        ``{contrast: ndarray shape}``, the fitted signal at TE = 0.
    """
    te = _check_te(te)
    if te.size < 2:
        raise ValueError("R2* needs at least two echoes")
    names = list(signals)
    shapes = {c: np.shape(signals[c]) for c in names}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"mismatched shapes: {shapes}")
    first = np.shape(signals[names[0]])
    if first[0] != te.size:
        raise ValueError(f"signals have {first[0]} echoes but {te.size} TEs were given")
    spatial = first[1:]
    n_c, n_te = len(names), te.size
    design = np.zeros((n_c * n_te, n_c + 1))
    for i in range(n_c):
        design[i * n_te:(i + 1) * n_te, i] = 1.0
        design[i * n_te:(i + 1) * n_te, -1] = -te
    y = np.empty((n_c * n_te, int(np.prod(spatial, dtype=int))))   # log signals, contrasts stacked
    for i, c in enumerate(names):                # built in place: no per-contrast temporaries to join
        block = y[i * n_te:(i + 1) * n_te]
        np.maximum(np.asarray(signals[c], float).reshape(n_te, -1), floor, out=block)
        np.log(block, out=block)
    beta = np.linalg.pinv(design) @ y
    r2s = beta[-1].reshape(spatial)
    intercepts = {c: np.exp(beta[i]).reshape(spatial) for i, c in enumerate(names)}
    return r2s, intercepts


_APPROX = ("small-angle", "tan", "exact")


def fit_r1_pd_vfa(s_pdw, s_t1w, *, fa_pdw: float, fa_t1w: float, tr_pdw: float, tr_t1w: float,
                  b1=None, approximation: str = "small-angle") -> tuple[np.ndarray, np.ndarray]:
    """R1 and amplitude A from two flip angles.

    ``approximation`` chooses the estimator:

    * ``"small-angle"`` (default): the rational approximation below with
      ``a`` the flip angle in radians (Helms et al. 2008);
    * ``"tan"``: the same closed form with ``a`` replaced by ``2 tan(a/2)``,
      the hMRI toolbox's default since ``hmri_def.small_angle_approx =
      false`` (hmri_calc_R1.m / hmri_calc_A.m; Edwards et al. 2026); exact
      in the flip angle, it keeps only the short-TR expansion
      ``coth(R1 TR / 2) ~ 2 / (R1 TR)``;
    * ``"exact"``: the Ernst equation inverted without approximation
      (Newton iterations on R1 started from the ``"tan"`` solution, to
      machine precision).

    Uses the closed-form dual-flip-angle solution of the rational
    approximation of the Ernst equation (Helms et al. 2008), as in the hMRI
    toolbox::

        R1 = 1/2 (S_T1 a_T1/TR_T1 - S_PD a_PD/TR_PD) / (S_PD/a_PD - S_T1/a_T1)
        A  = S_PD S_T1 (TR_PD a_T1/a_PD - TR_T1 a_PD/a_T1)
             / (S_T1 TR_PD a_T1 - S_PD TR_T1 a_PD)

    Parameters
    ----------
    s_pdw, s_t1w : array_like
        Signals (e.g. TE = 0 intercepts) of one shape.
    fa_pdw, fa_t1w : float
        Nominal flip angles in degrees.
    tr_pdw, tr_t1w : float
        TRs in seconds.
    b1 : array_like, optional
        Relative transmit field used to correct the flip angles; ``None``
        assumes nominal flip angles (no B1 correction).
    approximation : {"small-angle", "tan", "exact"}

    Returns
    -------
    r1 : ndarray
        R1 in 1/s (NaN where the denominator vanishes).
    a : ndarray
        Amplitude A (PD x receive sensitivity), in the signals' units.
    """
    _check_flip_angle([fa_pdw, fa_t1w])
    tr_pdw = check_scalar(tr_pdw, "tr_pdw", min=0.0, min_inclusive=False, max=100.0, unit="s")
    tr_t1w = check_scalar(tr_t1w, "tr_t1w", min=0.0, min_inclusive=False, max=100.0, unit="s")
    if fa_pdw == fa_t1w and tr_pdw == tr_t1w:
        raise ValueError("the two acquisitions must differ in flip angle or TR")
    s_pd, s_t1 = _broadcast(s_pdw=s_pdw, s_t1w=s_t1w)
    if b1 is None:
        b1 = 1.0
    b1 = _check_rate(b1, "B1")
    if np.shape(b1) not in ((), s_pd.shape):
        raise ValueError(f"mismatched shapes: B1 {np.shape(b1)} vs signals {s_pd.shape}")
    check_choice(approximation, "approximation", _APPROX)
    a_pd = np.deg2rad(fa_pdw) * b1
    a_t1 = np.deg2rad(fa_t1w) * b1
    if np.any(a_pd >= np.pi) or np.any(a_t1 >= np.pi):
        raise ValueError("b1 x flip angle must stay below 180 degrees")
    if approximation == "small-angle":
        t_pd, t_t1 = a_pd, a_t1
    else:
        t_pd, t_t1 = 2 * np.tan(a_pd / 2), 2 * np.tan(a_t1 / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        r1 = 0.5 * (s_t1 * t_t1 / tr_t1w - s_pd * t_pd / tr_pdw) / (s_pd / t_pd - s_t1 / t_t1)
        a = (s_pd * s_t1 * (tr_pdw * t_t1 / t_pd - tr_t1w * t_pd / t_t1)
             / (s_t1 * tr_pdw * t_t1 - s_pd * tr_t1w * t_pd))
    if approximation == "exact":
        r1, a = _exact_vfa(s_pd, s_t1, t_pd, t_t1, tr_pdw, tr_t1w, r1)
    return r1, a


def _exact_vfa(s_pd, s_t1, t_pd, t_t1, tr_pd, tr_t1, r1, n_iter: int = 30, *, settle: bool = True):
    """Newton on R1 of ``A_pd(R1) = A_t1(R1)``, ``A_i = S_i (1 + t_i^2/4 coth(R1 TR_i / 2)) / t_i``.

    With ``t = 2 tan(a/2)`` this identity is the Ernst equation exactly
    (``sin a = t / (1 + t^2/4)``, ``cos a = (1 - t^2/4) / (1 + t^2/4)``).

    ``n_iter`` Newton steps per voxel. Each step is a function of the voxel's own values only, so
    once a voxel's R1 repeats itself, the rest of its sequence is known: after a step that leaves
    it unchanged (bit for bit) it stays there, and after a step that returns the value of two
    steps before (Newton alternating between two neighbouring floating-point numbers, as about a
    third of the voxels do) it keeps alternating. Such voxels leave the computation with the
    value their last step would give; the others keep iterating. The result is that of
    ``n_iter`` steps on every voxel, bit for bit; ``settle=False`` runs them (the plain loop,
    which the tests and ``benchmarks/bench_ch3_round7.py`` compare with).
    """
    r1 = np.array(r1, dtype=float, copy=True)
    shape = r1.shape
    r1 = r1.reshape(-1)

    def flat(x):
        x = np.asarray(x, dtype=float)
        return x if x.ndim == 0 else np.broadcast_to(x, shape).reshape(-1)

    s_pd, s_t1, t_pd, t_t1 = (flat(x) for x in (s_pd, s_t1, t_pd, t_t1))
    active, before = np.arange(r1.size), None      # voxels still iterating; their R1 two steps back

    def pick(x):
        return x if x.ndim == 0 else x[active]

    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for k in range(n_iter):
            if active.size == 0:
                break
            r, sp, st, tp, tt = r1[active], pick(s_pd), pick(s_t1), pick(t_pd), pick(t_t1)
            u_pd, u_t1 = r * tr_pd / 2, r * tr_t1 / 2
            c_pd, c_t1 = 1 / np.tanh(u_pd), 1 / np.tanh(u_t1)
            f = sp * (1 + tp ** 2 / 4 * c_pd) / tp - st * (1 + tt ** 2 / 4 * c_t1) / tt
            df = (-sp * tp / 4 * (tr_pd / 2) / np.sinh(u_pd) ** 2
                  + st * tt / 4 * (tr_t1 / 2) / np.sinh(u_t1) ** 2)
            step = f / df
            new = r - np.where(np.isfinite(step), step, 0.0)          # step k + 1 of n_iter
            r1[active] = new
            if not settle:
                continue
            bits = new.view(np.int64)                                 # bit for bit: -0.0 != 0.0
            still = bits != r.view(np.int64)                          # not yet a fixed point
            if before is not None:
                cycle = still & (bits == before.view(np.int64))       # alternating from here on
                if (n_iter - k - 1) % 2:                              # odd steps left: ends on r
                    r1[active[cycle]] = r[cycle]
                still &= ~cycle
            active, before = active[still], r[still]
        r1 = r1.reshape(shape)[()]              # a scalar for scalar signals, as before
        a = np.reshape(s_pd, shape) if s_pd.ndim else s_pd
        t = np.reshape(t_pd, shape) if t_pd.ndim else t_pd
        a = a * (1 + t ** 2 / 4 / np.tanh(r1 * tr_pd / 2)) / t
    return r1, a


def fit_mtsat(s_mtw, a, r1, *, fa_mtw: float, tr_mtw: float, b1=None, b1_correction: str | None = None,
              formula: str = "small-angle", helms_c: float = HELMS_C) -> np.ndarray:
    """MT saturation (p.u.) after Helms et al. (2008).

    ``formula="small-angle"`` (Helms; the hMRI toolbox's hmri_calc_MTsat.m):
    ``delta = (A a / S_MT - 1) R1 TR - a^2 / 2``. ``formula="exact"``
    inverts the forward model of :func:`spgr_signal` (MT saturation at the
    start of the TR): ``1 - delta = (1 - A sin a (1 - E1) / S_MT) / (cos a E1)``.

    ``b1_correction``:

    * ``"flip-angle"`` (default when ``b1`` is given): the MTw flip angle is
      ``b1 x nominal``; pass A and R1 fitted with the same B1 map. Exact if
      the MT pulse's saturation does not depend on B1.
    * ``"helms"``: the hMRI toolbox's default (hmri_create_MTProt.m with
      ``MTsatB1CorrectionModel = 'helms'``): A, R1 and the MTw angle all at
      nominal B1 (pass A and R1 fitted *without* B1), then
      ``MTsat x (1 - C) / (1 - C b1)`` (hmri_correct_MTsat.m), ``C =
      helms_c`` (default 0.4).
    * ``None``: nominal angles, no correction (also when ``b1`` is None).

    Returns 100 x delta.
    """
    _check_flip_angle(fa_mtw)
    tr_mtw = check_scalar(tr_mtw, "tr_mtw", min=0.0, min_inclusive=False, max=100.0, unit="s")
    check_choice(formula, "formula", ("small-angle", "exact"))
    if b1_correction is None and b1 is not None:
        b1_correction = "flip-angle"
    check_choice(b1_correction, "b1_correction", ("flip-angle", "helms", None))
    if b1_correction is not None and b1 is None:
        raise ValueError(f"b1_correction={b1_correction!r} needs a b1 map, got b1=None")
    helms_c = check_scalar(helms_c, "helms_c", min=0.0, max=1.0, max_inclusive=False)
    s_mt, a, r1 = _broadcast(s_mtw=s_mtw, a=a, r1=r1)
    b1v = 1.0 if b1 is None else _check_rate(b1, "b1")
    alpha = np.deg2rad(fa_mtw) * (b1v if b1_correction == "flip-angle" else 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        if formula == "small-angle":
            delta = (a * alpha / s_mt - 1.0) * r1 * tr_mtw - alpha ** 2 / 2
        else:
            e1 = np.exp(-r1 * tr_mtw)
            delta = 1 - (1 - a * np.sin(alpha) * (1 - e1) / s_mt) / (np.cos(alpha) * e1)
    mt = 100.0 * delta
    if b1_correction == "helms":
        mt = correct_mtsat_helms(mt, b1v, c=helms_c)
    return mt


def correct_mtsat_helms(mtsat, b1, *, c: float = HELMS_C) -> np.ndarray:
    """Empirical B1 correction of MTsat: ``MTsat (1 - C) / (1 - C b1)``.

    As hmri_correct_MTsat.m (model ``'helms'``; Helms et al. 2021,
    arXiv:2104.14878), with the hMRI default ``C = 0.4``. The input must be
    MTsat computed at nominal flip angles (B1 = 1 throughout).
    """
    c = check_scalar(c, "c", min=0.0, max=1.0, max_inclusive=False)
    b1 = _check_rate(b1, "b1")
    if np.any(c * b1 >= 1):
        raise ValueError(f"c x b1 must stay below 1, got c = {c} and max b1 = {np.max(b1):.3g}")
    return np.asarray(mtsat, float) * (1 - c) / (1 - c * b1)


def fit_mpm(signals: dict, protocol: MPMProtocol | None = None, *, b1=None, mask=None,
            approximation: str = "small-angle", mtsat_b1_correction: str = "flip-angle",
            mtsat_formula: str = "small-angle") -> dict:
    """Full MPM map creation: ESTATICS R2*, then R1/PD (VFA) and MTsat.

    Parameters
    ----------
    signals : dict
        Output of :func:`simulate_mpm` (or real data of the same layout).
    protocol : MPMProtocol, optional
    b1 : array_like, optional
        B1 map for flip-angle correction; ``None`` = no correction.
    mask : ndarray of bool, optional
        Voxels outside are set to NaN.
    approximation : {"small-angle", "tan", "exact"}
        R1/A estimator (see :func:`fit_r1_pd_vfa`; the hMRI default is "tan").
    mtsat_b1_correction : {"flip-angle", "helms"}
        How MTsat uses ``b1`` (see :func:`fit_mtsat`); ignored without ``b1``.
        With ``"helms"`` the A and R1 fed to MTsat are refitted at nominal
        angles, as hmri_create_MTProt.m does.
    mtsat_formula : {"small-angle", "exact"}

    Returns
    -------
    dict
        ``R1`` (1/s), ``PD`` (p.u., = A; the simulation has uniform receive
        sensitivity), ``R2s`` (1/s) and ``MTsat`` (p.u.).

    See Also
    --------
    fit_mpm_variants : several option sets on the same signals, R2* fitted once.
    """
    fitted = _estatics_in_mask(signals, protocol or MPMProtocol(), mask)
    return _maps_from_estatics(fitted, b1=b1, approximation=approximation,
                               mtsat_b1_correction=mtsat_b1_correction, mtsat_formula=mtsat_formula)


def fit_mpm_variants(signals: dict, protocol: MPMProtocol | None = None, *, variants: dict,
                     mask=None) -> dict:
    """:func:`fit_mpm` of the same signals with several sets of options, R2* fitted once.

    The ESTATICS fit (R2* and the TE = 0 intercepts) does not depend on the B1 map or on the
    estimators of R1, A and MTsat, so it is computed once and shared: each variant's maps are
    those of ``fit_mpm(signals, protocol, mask=mask, **options)``, bit for bit.

    Parameters
    ----------
    signals : dict
        Output of :func:`simulate_mpm` (or real data of the same layout).
    protocol : MPMProtocol, optional
    variants : dict
        ``{label: options}``, each ``options`` a dict of :func:`fit_mpm`'s keyword options
        (``b1``, ``approximation``, ``mtsat_b1_correction``, ``mtsat_formula``).
    mask : ndarray of bool, optional
        Voxels outside are set to NaN.

    Returns
    -------
    dict
        ``{label: maps}`` in the order of ``variants``, ``maps`` as :func:`fit_mpm` returns them.

    Examples
    --------
    >>> ph = {"PD": np.full((2, 2, 1), 80.0), "R1": np.full((2, 2, 1), 1.0),
    ...       "R2s": np.full((2, 2, 1), 20.0), "MTsat": np.full((2, 2, 1), 1.0)}
    >>> fits = fit_mpm_variants(simulate_mpm(ph), variants={"small": {}, "exact": {"approximation": "exact"}})
    >>> [round(float(f["R1"][0, 0, 0]), 3) for f in fits.values()]
    [0.989, 1.0]
    """
    known = {"b1", "approximation", "mtsat_b1_correction", "mtsat_formula"}
    if not isinstance(variants, dict) or not variants:
        raise ValueError("variants must be a non-empty dict {label: fit_mpm options}")
    for label, options in variants.items():
        unknown = set(options) - known
        if unknown:
            raise TypeError(f"variants[{label!r}] has options fit_mpm does not take: {sorted(unknown)} "
                            f"(use {sorted(known)})")
    fitted = _estatics_in_mask(signals, protocol or MPMProtocol(), mask)
    return {label: _maps_from_estatics(fitted, **options) for label, options in variants.items()}


@dataclass(frozen=True)
class _MaskedEstatics:
    """ESTATICS fit of the voxels in a mask, as :func:`fit_mpm` computes it before R1, A and MTsat."""

    protocol: MPMProtocol
    shape: tuple
    flat: np.ndarray        # indices of the fitted voxels in the flattened volume
    r2s: np.ndarray
    s0: dict


def _estatics_in_mask(signals: dict, protocol: MPMProtocol, mask) -> _MaskedEstatics:
    shapes = {c: np.shape(v) for c, v in signals.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"mismatched shapes: {shapes}")
    shape = next(iter(shapes.values()))[1:]
    if mask is None:
        sel = np.ones(shape, dtype=bool)
    else:
        sel = np.asarray(mask, bool)
        if sel.shape != shape:
            raise ValueError(f"mismatched shapes: mask {sel.shape} vs maps {shape}")
    flat = np.flatnonzero(sel)      # integer gather: the voxels of v[:, sel], in the same order
    sig = {c: np.ascontiguousarray(v, dtype=float).reshape(len(v), -1)[:, flat] for c, v in signals.items()}
    r2s, s0 = fit_r2star_estatics(sig, protocol.te)
    return _MaskedEstatics(protocol, shape, flat, r2s, s0)


def _maps_from_estatics(fitted: _MaskedEstatics, *, b1=None, approximation: str = "small-angle",
                        mtsat_b1_correction: str = "flip-angle", mtsat_formula: str = "small-angle") -> dict:
    protocol, shape, flat, s0 = fitted.protocol, fitted.shape, fitted.flat, fitted.s0
    if b1 is not None and np.ndim(b1) > 0:
        if np.shape(b1) != shape:
            raise ValueError(f"mismatched shapes: B1 {np.shape(b1)} vs maps {shape}")
        b1 = np.asarray(b1, float).reshape(-1)[flat]        # the voxels of b1[mask], in order
    r1, a = fit_r1_pd_vfa(s0["PDw"], s0["T1w"], fa_pdw=protocol.flip_angles["PDw"],
                          fa_t1w=protocol.flip_angles["T1w"], tr_pdw=protocol.tr["PDw"],
                          tr_t1w=protocol.tr["T1w"], b1=b1, approximation=approximation)
    check_choice(mtsat_b1_correction, "mtsat_b1_correction", ("flip-angle", "helms"))
    if b1 is None:
        a_mt, r1_mt, corr = a, r1, None
    elif mtsat_b1_correction == "helms":
        r1_mt, a_mt = fit_r1_pd_vfa(s0["PDw"], s0["T1w"], fa_pdw=protocol.flip_angles["PDw"],
                                    fa_t1w=protocol.flip_angles["T1w"], tr_pdw=protocol.tr["PDw"],
                                    tr_t1w=protocol.tr["T1w"], b1=None, approximation=approximation)
        corr = "helms"
    else:
        a_mt, r1_mt, corr = a, r1, "flip-angle"
    mt = fit_mtsat(s0["MTw"], a_mt, r1_mt, fa_mtw=protocol.flip_angles["MTw"], tr_mtw=protocol.tr["MTw"],
                   b1=b1, b1_correction=corr, formula=mtsat_formula)
    out = {}
    for k, v in {"R1": r1, "PD": a, "R2s": fitted.r2s, "MTsat": mt}.items():
        full = np.full(shape, np.nan)
        full.reshape(-1)[flat] = v
        out[k] = full
    return out


# --------------------------------------------------------------------------- denoising
def denoise_nlm(echoes: np.ndarray, *, sigma: float | None = None, patch_size: int = 3,
                patch_distance: int = 4, h_factor: float = 0.8, slicewise: bool = False,
                workers=None) -> np.ndarray:
    """Multispectral non-local means over echoes (scikit-image).

    The echoes are treated as channels, so patch similarity is computed over
    all echoes jointly (in the spirit of the multicomponent non-local
    filters cited by the review).

    Parameters
    ----------
    echoes : ndarray, shape (n_te, X, Y[, Z])
    sigma : float, optional
        Noise SD; estimated with :func:`skimage.restoration.estimate_sigma`
        if omitted.
    patch_size, patch_distance : int
        Patch edge and search radius in voxels.
    h_factor : float
        Filter strength ``h = h_factor * sigma``.
    slicewise : bool, default False
        For 3D volumes, filter each axial slice in 2D (much faster).
    workers : int or None, default None
        Threads for the slices of ``slicewise`` (scikit-image's filter releases the GIL):
        ``None`` or ``-1`` every available core, ``1`` one slice after another. The result is
        the same, bit for bit, whatever the number.

    Returns
    -------
    ndarray, same shape as ``echoes``
    """
    try:
        from skimage.restoration import denoise_nl_means
        if sigma is None:
            # imported only when needed: estimate_sigma's module imports scipy.stats (about 1 s of
            # CPU), which a caller who knows the noise never needs
            from skimage.restoration import estimate_sigma
    except ImportError:                       # an optional dependency of the library (the book extra)
        raise ImportError("denoising needs scikit-image: pip install 'qmrigenes[book]' (or scikit-image)") from None

    echoes = np.asarray(echoes, dtype=float)
    if echoes.ndim not in (3, 4):
        raise ValueError(f"echoes must be (n_te, X, Y) or (n_te, X, Y, Z), got shape {echoes.shape}")
    img = np.moveaxis(echoes, 0, -1)
    if sigma is None:
        sigma = float(estimate_sigma(img, channel_axis=-1, average_sigmas=True))
    if sigma <= 0:
        return echoes.copy()
    opts = dict(patch_size=patch_size, patch_distance=patch_distance, h=h_factor * sigma, sigma=sigma,
                fast_mode=True, channel_axis=-1)
    n_workers(workers)                                   # a clear error before any work
    if slicewise and img.ndim == 4:
        out = np.stack(thread_map(lambda k: denoise_nl_means(img[:, :, k], **opts), range(img.shape[2]),
                                  workers=workers), axis=2)
    else:
        out = denoise_nl_means(img, **opts)
    return np.moveaxis(out, -1, 0)


def denoising_experiment(signals: dict, te, labels: np.ndarray, r2s_true: np.ndarray, tissues: dict, *,
                         sigma: float | None = None, **nlm) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """R2* precision with and without NLM denoising of the echoes before the fit.

    Parameters
    ----------
    signals : dict
        ``{contrast: (n_te, X, Y, Z)}`` noisy echoes (e.g. a slab).
    te : echo times (s).
    labels, r2s_true : ndarray, shape (X, Y, Z)
    tissues : dict ``{label: name}``
    sigma : float, optional
        Noise SD passed to :func:`denoise_nlm` (estimated if omitted).
    **nlm : options of :func:`denoise_nlm`.

    Returns
    -------
    r2s_noisy, r2s_denoised : ndarray
    table : DataFrame
        Index tissue; columns ``no denoising`` and ``NLM`` (SD of the R2*
        error, 1/s) and ``bias_no_denoising``/``bias_NLM`` (mean error, 1/s).
    """
    r2s_noisy, _ = fit_r2star_estatics(signals, te)
    den = {c: denoise_nlm(v, sigma=sigma, **nlm) for c, v in signals.items()}
    r2s_dn, _ = fit_r2star_estatics(den, te)
    if labels.shape != r2s_noisy.shape or r2s_true.shape != labels.shape:
        raise ValueError(f"mismatched shapes: labels {labels.shape}, truth {r2s_true.shape}, "
                         f"signals {r2s_noisy.shape}")
    rows = {}
    for lab, name in tissues.items():
        sel = labels == lab
        if not sel.any():
            continue
        e0 = r2s_noisy[sel] - r2s_true[sel]
        e1 = r2s_dn[sel] - r2s_true[sel]
        rows[name] = {"no denoising": float(np.std(e0)), "NLM": float(np.std(e1)),
                      "bias_no_denoising": float(np.mean(e0)), "bias_NLM": float(np.mean(e1))}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tissue"
    return r2s_noisy, r2s_dn, table


# --------------------------------------------------------------------------- evaluation
def accuracy_table(estimates: dict, truth: dict, labels: np.ndarray, tissues: dict) -> pd.DataFrame:
    """Bias and noise of estimated maps per tissue.

    Parameters
    ----------
    estimates, truth : dict of str -> ndarray
        Maps with the same keys and shape as ``labels``.
    labels : ndarray of int
    tissues : dict
        ``{label: name}`` of the tissues to report.

    Returns
    -------
    pandas.DataFrame
        Rows (parameter, tissue); columns ``truth`` (mean true value),
        ``estimate`` (mean estimate), ``bias_pct`` (100 x mean error / mean
        truth) and ``noise_pct`` (100 x SD of the error / mean truth, which
        includes spatially varying bias, e.g. from B1).
    """
    rows = []
    labels = np.asarray(labels)
    voxels = {}         # each tissue's voxels once (flat indices: the same voxels, in the same order as a mask)
    for par in estimates:
        if par not in truth:
            raise ValueError(f"no truth for {par}")
        est, tru = np.asarray(estimates[par]), np.asarray(truth[par])
        if est.shape != labels.shape or tru.shape != labels.shape:
            raise ValueError(f"mismatched shapes for {par}: {est.shape}, {tru.shape}, {labels.shape}")
        est, tru = est.reshape(-1), tru.reshape(-1)
        for lab, name in tissues.items():
            if lab not in voxels:
                voxels[lab] = np.flatnonzero(labels == lab)
            sel = voxels[lab]
            t, e = tru[sel], est[sel]
            ref = float(np.mean(t))
            if ref == 0:
                continue
            err = e - t
            rows.append(dict(parameter=par, tissue=name, truth=ref, estimate=float(np.nanmean(e)),
                             bias_pct=100 * float(np.nanmean(err)) / ref,
                             noise_pct=100 * float(np.nanstd(err)) / abs(ref)))
    return pd.DataFrame(rows).set_index(["parameter", "tissue"])


def ernst_angle(r1, tr) -> np.ndarray:
    """Flip angle of the largest spoiled gradient-echo signal, ``arccos(exp(-TR R1))``.

    Parameters
    ----------
    r1 : float or array_like
        R1 (1/s), positive.
    tr : float or array_like
        Repetition time (s), positive; broadcast against ``r1``.

    Returns
    -------
    numpy.ndarray
        Ernst angle in degrees, shape of ``r1`` and ``tr`` broadcast (0-d for scalars).

    Examples
    --------
    >>> round(float(ernst_angle(1.0, 0.025)), 2)                      # R1 = 1/s, TR = 25 ms
    12.76
    """
    r1, tr = np.asarray(r1, dtype=float), np.asarray(tr, dtype=float)
    if not (np.all(r1 > 0) and np.all(tr > 0)):
        raise ValueError("r1 (1/s) and tr (s) must be positive")
    return np.rad2deg(np.arccos(np.exp(-tr * r1)))


def _r1_two_angle(s1, s2, fa1, fa2, tr):
    return fit_r1_pd_vfa(s1, s2, fa_pdw=fa1, fa_t1w=fa2, tr_pdw=tr, tr_t1w=tr)[0]


def r1_noise_grid(r1: float, *, amplitude: float = 100.0, sigma: float = 0.05, tr: float = 0.025,
                  fa_low=tuple(range(2, 21)), fa_high=tuple(range(8, 61))) -> pd.DataFrame:
    """Noise and bias of the two-angle R1 estimate for every pair of flip angles.

    Exact SPGR signals (TE = 0, B1 = 1) of a tissue are inverted with the small-angle solution
    :func:`fit_r1_pd_vfa`; the noise of R1 follows from first-order error propagation,
    ``SD(R1)^2 = sigma^2 [(dR1/dS1)^2 + (dR1/dS2)^2]`` (central differences), for independent
    noise of SD ``sigma`` on each signal. The least noisy pair sits on either side of the Ernst
    angle (:func:`ernst_angle`).

    Parameters
    ----------
    r1 : float
        True R1 (1/s).
    amplitude : float, default 100
        Signal amplitude A (proton density x receive sensitivity; p.u.).
    sigma : float, default 0.05
        Noise SD per signal (same units as the signal).
    tr : float, default 0.025
        TR of both acquisitions (s).
    fa_low, fa_high : sequence of float
        Flip angles (degrees) of the low- and high-angle acquisition; pairs with
        ``fa_low >= fa_high`` are skipped.

    Returns
    -------
    pandas.DataFrame, shape (n_pairs, 4)
        One row per pair: ``fa_low``, ``fa_high`` (degrees), ``r1_cov_pct`` (SD of R1 in percent
        of the true R1) and ``r1_bias_pct`` (noiseless error of the small-angle estimate, percent).

    Examples
    --------
    >>> grid = r1_noise_grid(1.0, amplitude=70, sigma=0.05, fa_low=(4, 6), fa_high=(21, 30))
    >>> grid.loc[grid["r1_cov_pct"].idxmin(), ["fa_low", "fa_high"]].tolist()
    [6.0, 30.0]
    """
    if not r1 > 0 or not amplitude > 0 or not sigma > 0 or not tr > 0:
        raise ValueError("r1, amplitude, sigma and tr must be positive")
    lo, hi = np.meshgrid(np.asarray(fa_low, float), np.asarray(fa_high, float), indexing="ij")
    keep = lo < hi
    lo, hi = lo[keep], hi[keep]
    if lo.size == 0:
        raise ValueError("no pair with fa_low < fa_high")
    cov, bias = np.empty(lo.size), np.empty(lo.size)
    signal = {a: float(spgr_signal(amplitude, r1, 0.0, flip_angle=a, tr=tr, te=(0.0,))[0])
              for a in np.unique(np.concatenate([lo, hi]))}          # each angle's signal once
    for k, (a1, a2) in enumerate(zip(lo, hi)):
        s1, s2 = signal[a1], signal[a2]
        h1, h2 = 1e-6 * s1, 1e-6 * s2
        # the estimate and its four central-difference neighbours in one call (elementwise
        # arithmetic only: the same numbers as five scalar calls)
        est, p1, m1, p2, m2 = _r1_two_angle(np.array([s1, s1 + h1, s1 - h1, s1, s1]),
                                            np.array([s2, s2, s2, s2 + h2, s2 - h2]), a1, a2, tr).tolist()
        d1 = (p1 - m1) / (2 * h1)
        d2 = (p2 - m2) / (2 * h2)
        cov[k] = 100 * sigma * np.hypot(d1, d2) / r1
        bias[k] = 100 * (est / r1 - 1)
    return pd.DataFrame({"fa_low": lo, "fa_high": hi, "r1_cov_pct": cov, "r1_bias_pct": bias})


def r1_bias_curve(r1_true: float, *, fa_t1w_range=(10.0, 40.0), n: int = 31, fa_pdw: float = 6.0,
                  tr: float = 0.025, b1: float = 1.0, approximation: str = "small-angle") -> pd.DataFrame:
    """Relative R1 error of a two-flip-angle estimate versus the T1w flip angle.

    Noiseless exact signals are simulated (PD = 1, no R2* decay at TE = 0)
    and inverted with :func:`fit_r1_pd_vfa` without B1 correction, so the
    error is that of the estimator's approximation alone.

    Parameters
    ----------
    r1_true : float
        True R1 (1/s).
    fa_t1w_range : (float, float), default (10, 40)
        First and last T1w flip angle (degrees).
    n : int, default 31
        Number of T1w flip angles, evenly spaced over ``fa_t1w_range``.
    fa_pdw : float, default 6
        PDw flip angle (degrees).
    tr : float, default 0.025
        Repetition time (s) of both acquisitions.
    b1 : float, default 1
        Relative transmit field of the simulated signals.
    approximation : {"small-angle", "tan", "exact"}, default "small-angle"
        Estimator, as in :func:`fit_r1_pd_vfa`: ``"tan"`` is the hMRI
        toolbox's default ``2 tan(a/2)`` form.

    Returns
    -------
    pandas.DataFrame, shape (n, 2)
        Columns ``fa_t1w`` (degrees) and ``r1_error_pct`` (percent of
        ``r1_true``).

    Examples
    --------
    >>> curve = r1_bias_curve(0.86, tr=0.025, n=4)          # white matter at 3T
    >>> curve["r1_error_pct"].round(1).tolist()
    [-0.1, -1.0, -2.6, -4.9]
    """
    if not r1_true > 0:
        raise ValueError(f"R1 must be positive (T1 = 1/R1 > 0), got {r1_true}")
    _check_flip_angle(list(fa_t1w_range) + [fa_pdw])
    fas = np.linspace(*fa_t1w_range, n)
    s_pd = spgr_signal(1.0, r1_true, 0.0, flip_angle=fa_pdw, tr=tr, te=[0.0], b1=b1)[0]
    errs = []
    for fa in fas:
        s_t1 = spgr_signal(1.0, r1_true, 0.0, flip_angle=fa, tr=tr, te=[0.0], b1=b1)[0]
        r1, _ = fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=fa_pdw, fa_t1w=fa, tr_pdw=tr, tr_t1w=tr,
                              approximation=approximation)
        errs.append(100 * (float(r1) / r1_true - 1))
    return pd.DataFrame({"fa_t1w": fas, "r1_error_pct": errs})
