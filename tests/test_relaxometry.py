"""Tests for qmrigenes.relaxometry (signal model, estimators, denoising)."""
import numpy as np
import pytest

from qmrigenes import relaxometry as R

TE = (0.0022, 0.0047, 0.0072, 0.0097, 0.0122, 0.0147)


@pytest.fixture
def toy_maps(rng):
    shape = (6, 5, 4)
    return {"PD": rng.uniform(65, 95, shape), "R1": rng.uniform(0.3, 1.2, shape),
            "R2s": rng.uniform(5, 40, shape), "MTsat": rng.uniform(0.0, 1.0, shape)}


def _rational(pd_, r1, fa, tr, delta=0.0):
    a = np.deg2rad(fa)
    return pd_ * a * r1 * tr / (r1 * tr + a ** 2 / 2 + delta)


def test_spgr_signal_matches_ernst_and_decays():
    s = R.spgr_signal(1.0, 1.0, 20.0, flip_angle=90, tr=100.0, te=[0.0, 0.01])
    assert s.shape == (2,)
    assert s[0] == pytest.approx(1.0, rel=1e-9)          # full relaxation, 90 degrees
    assert s[1] == pytest.approx(np.exp(-0.2), rel=1e-9)


def test_vfa_exact_on_rational_approximation():
    r1 = np.array([0.3, 0.86, 1.5])
    pd_ = np.array([97.0, 72.0, 80.0])
    s_pd, s_t1 = _rational(pd_, r1, 6, 0.025), _rational(pd_, r1, 21, 0.025)
    r1_hat, a_hat = R.fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025)
    np.testing.assert_allclose(r1_hat, r1, rtol=1e-10)
    np.testing.assert_allclose(a_hat, pd_, rtol=1e-10)


def test_mtsat_exact_on_rational_approximation():
    r1, pd_, delta = 0.86, 72.0, 0.0065
    s_mt = _rational(pd_, r1, 6, 0.025, delta)
    assert R.fit_mtsat(s_mt, pd_, r1, fa_mtw=6, tr_mtw=0.025) == pytest.approx(100 * delta, rel=1e-10)


def test_full_pipeline_recovers_truth_noiseless(toy_maps):
    b1 = np.full(toy_maps["PD"].shape, 1.1)
    sig = R.simulate_mpm(toy_maps, b1=b1)
    est = R.fit_mpm(sig, b1=b1)
    np.testing.assert_allclose(est["R2s"], toy_maps["R2s"], rtol=1e-8)      # exact: log-linear
    np.testing.assert_allclose(est["R1"], toy_maps["R1"], rtol=0.05)        # small-angle bias only
    np.testing.assert_allclose(est["PD"], toy_maps["PD"], rtol=0.02)
    np.testing.assert_allclose(est["MTsat"], toy_maps["MTsat"], atol=0.05)


def test_missing_b1_correction_biases_r1_by_b1_squared(toy_maps):
    b1 = np.full(toy_maps["PD"].shape, 1.2)
    sig = R.simulate_mpm(toy_maps, b1=b1)
    est_nob1 = R.fit_mpm(sig, b1=None)
    est_b1 = R.fit_mpm(sig, b1=b1)
    ratio = np.median(est_nob1["R1"] / est_b1["R1"])
    assert ratio == pytest.approx(1 / 1.2 ** 2, rel=0.01)


def test_estatics_log_signals_built_in_place_are_the_plain_stack(rng):
    """The log-signal matrix is built in place; the fit is the plain concatenated-log fit, bit for bit."""
    te = np.array([0.0023, 0.0046, 0.0069, 0.0092])
    sig = {c: np.abs(rng.normal(1.0, 0.6, size=(4, 5, 3))) for c in ("PDw", "T1w", "MTw")}
    sig["T1w"][0, 0, 0] = 0.0                                    # clipped at the floor
    r2s, s0 = R.fit_r2star_estatics(sig, te)
    n_c = 3
    design = np.zeros((n_c * 4, n_c + 1))
    for i in range(n_c):
        design[i * 4:(i + 1) * 4, i] = 1.0
        design[i * 4:(i + 1) * 4, -1] = -te
    y = np.concatenate([np.log(np.maximum(sig[c], 1e-6)).reshape(4, -1) for c in sig], axis=0)
    beta = np.linalg.pinv(design) @ y
    assert np.array_equal(r2s, beta[-1].reshape(5, 3))
    assert all(np.array_equal(s0[c], np.exp(beta[i]).reshape(5, 3)) for i, c in enumerate(sig))


def test_estatics_uses_common_decay():
    te = np.array(TE)
    sig = {"a": 10 * np.exp(-te * 25)[:, None], "b": 3 * np.exp(-te * 25)[:, None]}
    r2s, s0 = R.fit_r2star_estatics(sig, te)
    assert r2s[0] == pytest.approx(25)
    assert s0["a"][0] == pytest.approx(10) and s0["b"][0] == pytest.approx(3)


def test_noise_is_rician_and_seeded(rng):
    s = np.zeros(100_000)
    n = R.add_rician_noise(s, 1.0, rng=rng)
    assert np.all(n >= 0)
    assert n.mean() == pytest.approx(np.sqrt(np.pi / 2), rel=0.02)   # Rayleigh mean


def test_noise_draws_are_those_of_rng_normal():
    """add_rician_noise builds the noise in place: the same numbers as |s + N(0, sigma) + i N(0, sigma)|."""
    s = np.linspace(0.0, 3.0, 6 * 7 * 5).reshape(6, 7, 5)
    rng = np.random.default_rng(7)
    expected = np.hypot(s + rng.normal(0.0, 0.3, size=s.shape), rng.normal(0.0, 0.3, size=s.shape))
    np.testing.assert_array_equal(R.add_rician_noise(s, 0.3, rng=np.random.default_rng(7)), expected)
    one = R.add_rician_noise(2.0, 0.3, rng=np.random.default_rng(7))
    assert np.ndim(one) == 0 and one == np.hypot(2.0 + 0.3 * np.random.default_rng(7).standard_normal(),
                                                    0.3 * np.random.default_rng(7).standard_normal(2)[1])


def test_accuracy_table_reports_bias(toy_maps):
    labels = np.ones(toy_maps["PD"].shape, int)
    est = {"R1": toy_maps["R1"] * 1.1}
    tab = R.accuracy_table(est, toy_maps, labels, {1: "all"})
    assert tab.loc[("R1", "all"), "bias_pct"] == pytest.approx(10.0)


def test_denoising_improves_r2s_precision(rng):
    shape = (40, 40, 3)
    labels = np.ones(shape, int)
    maps = {"PD": np.full(shape, 75.0), "R1": np.full(shape, 0.8), "R2s": np.full(shape, 20.0),
            "MTsat": np.full(shape, 0.6)}
    sig = R.simulate_mpm(maps, sigma=0.15, rng=rng)
    _, _, tab = R.denoising_experiment(sig, TE, labels, maps["R2s"], {1: "all"}, sigma=0.15,
                                       slicewise=True)
    assert tab.loc["all", "NLM"] < 0.6 * tab.loc["all", "no denoising"]


def test_slicewise_nlm_on_threads_is_the_slice_loop_bit_for_bit(rng):
    from skimage.restoration import denoise_nl_means

    echoes = rng.normal(1.0, 0.1, size=(3, 24, 20, 5))
    opts = dict(patch_size=3, patch_distance=2, h=0.8 * 0.1, sigma=0.1, fast_mode=True, channel_axis=-1)
    img = np.moveaxis(echoes, 0, -1)
    loop = np.moveaxis(np.stack([denoise_nl_means(img[:, :, k], **opts) for k in range(5)], axis=2), -1, 0)
    for workers in (1, 2, 3, None):
        out = R.denoise_nlm(echoes, sigma=0.1, patch_distance=2, slicewise=True, workers=workers)
        assert np.array_equal(out, loop)
    assert not np.array_equal(R.denoise_nlm(echoes, sigma=0.1, patch_distance=2), loop)   # 3-D, not slices
    with pytest.raises(ValueError, match="workers"):
        R.denoise_nlm(echoes, sigma=0.1, slicewise=True, workers=0)


def test_r1_bias_grows_with_flip_angle():
    curve = R.r1_bias_curve(0.86, fa_t1w_range=(10, 40), n=7)
    assert curve["r1_error_pct"].abs().is_monotonic_increasing


# ----------------------------------------------------------------------- invalid input
def test_negative_t1_is_rejected():
    with pytest.raises(ValueError, match="T1 must be positive"):
        R.r1_from_t1(-0.8)
    with pytest.raises(ValueError, match="T1 = 1/R1"):
        R.spgr_signal(1.0, -1.0, 10.0, flip_angle=6, tr=0.025, te=TE)
    with pytest.raises(ValueError, match="T1 = 1/R1"):
        R.r1_bias_curve(-0.5)


@pytest.mark.parametrize("fa", [0, -5, 120, np.nan])
def test_flip_angle_out_of_range(fa):
    with pytest.raises(ValueError, match="flip angle"):
        R.spgr_signal(1.0, 1.0, 10.0, flip_angle=fa, tr=0.025, te=TE)
    with pytest.raises(ValueError, match="flip angle"):
        R.fit_r1_pd_vfa(1.0, 1.0, fa_pdw=fa, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025)


@pytest.mark.parametrize("te", [(0.005, 0.003), (0.002, 0.002), (-0.001, 0.004)])
def test_te_must_increase(te):
    with pytest.raises(ValueError, match="echo times"):
        R.spgr_signal(1.0, 1.0, 10.0, flip_angle=6, tr=0.025, te=te)
    with pytest.raises(ValueError, match="echo times"):
        R.MPMProtocol(te=te)


def test_mismatched_shapes(toy_maps):
    with pytest.raises(ValueError, match="mismatched shapes"):
        R.spgr_signal(np.ones(3), np.ones(4), 10.0, flip_angle=6, tr=0.025, te=TE)
    bad = dict(toy_maps, R1=np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="mismatched shapes"):
        R.simulate_mpm(bad)
    sig = R.simulate_mpm(toy_maps)
    with pytest.raises(ValueError, match="mismatched shapes"):
        R.fit_mpm(sig, mask=np.ones((2, 2, 2), bool))
    with pytest.raises(ValueError, match="echoes"):
        R.fit_r2star_estatics(sig, TE[:4])


def test_sigma_needs_rng(toy_maps):
    with pytest.raises(ValueError, match="rng"):
        R.simulate_mpm(toy_maps, sigma=0.1)




# ---- exact estimators, MT pulse and B1 (issue #12, points 3-4)
def _intercepts(r1, *, fa=(6.0, 21.0, 6.0), tr=(0.025, 0.02, 0.03), b1=1.0, mtsat=1.5, **mt):
    kw = dict(te=[0.0], b1=b1)
    s_pd = R.spgr_signal(80.0, r1, 0.0, flip_angle=fa[0], tr=tr[0], **kw)[0]
    s_t1 = R.spgr_signal(80.0, r1, 0.0, flip_angle=fa[1], tr=tr[1], **kw)[0]
    s_mt = R.spgr_signal(80.0, r1, 0.0, flip_angle=fa[2], tr=tr[2], mtsat=mtsat, **kw, **mt)[0]
    return s_pd, s_t1, s_mt


@pytest.mark.parametrize("tr", [(0.025, 0.025, 0.025), (0.025, 0.018, 0.03)])
def test_exact_vfa_inverts_the_forward_model_to_machine_precision(tr):
    r1 = np.array([0.25, 0.6, 1.0, 1.6, 3.0])
    b1 = np.array([0.7, 0.9, 1.0, 1.15, 1.3])
    s_pd, s_t1, _ = _intercepts(r1, tr=tr, b1=b1)
    r1_hat, a_hat = R.fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=6, fa_t1w=21, tr_pdw=tr[0], tr_t1w=tr[1], b1=b1,
                                    approximation="exact")
    np.testing.assert_allclose(r1_hat, r1, rtol=1e-12)
    np.testing.assert_allclose(a_hat, 80.0, rtol=1e-12)


def test_tan_estimator_nearly_removes_the_small_angle_bias():
    r1 = 1.0
    s_pd, s_t1, _ = _intercepts(r1, tr=(0.025, 0.025, 0.025))
    kw = dict(fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025)
    small, _ = R.fit_r1_pd_vfa(s_pd, s_t1, **kw)
    tan, _ = R.fit_r1_pd_vfa(s_pd, s_t1, **kw, approximation="tan")
    assert abs(small / r1 - 1) > 0.01            # the small-angle bias is percent-level at 21 deg
    assert abs(tan / r1 - 1) < 1e-3              # the 2 tan(a/2) form leaves only the short-TR term
    assert abs(tan / r1 - 1) < abs(small / r1 - 1) / 50


def test_exact_mtsat_formula_with_exact_r1_recovers_mtsat():
    r1 = np.array([0.6, 1.0, 1.5])
    s_pd, s_t1, s_mt = _intercepts(r1, tr=(0.025, 0.025, 0.025))
    r1_hat, a_hat = R.fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025,
                                    approximation="exact")
    exact = R.fit_mtsat(s_mt, a_hat, r1_hat, fa_mtw=6, tr_mtw=0.025, formula="exact")
    small = R.fit_mtsat(s_mt, a_hat, r1_hat, fa_mtw=6, tr_mtw=0.025)
    np.testing.assert_allclose(exact, 1.5, rtol=1e-10)
    assert np.all(np.abs(small / 1.5 - 1) > 1e-3)       # the small-angle MTsat formula alone is biased


def test_mt_timing_changes_the_sign_of_the_small_angle_mtsat_bias():
    r1 = 1.0
    out = {}
    for timing in ("start-of-tr", "end-of-tr"):
        s_pd, s_t1, s_mt = _intercepts(r1, tr=(0.025, 0.025, 0.025), mt_timing=timing)
        r1_hat, a_hat = R.fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025,
                                        approximation="exact")
        out[timing] = float(R.fit_mtsat(s_mt, a_hat, r1_hat, fa_mtw=6, tr_mtw=0.025)) / 1.5 - 1
    assert out["start-of-tr"] * out["end-of-tr"] < 0 or out["end-of-tr"] > out["start-of-tr"]
    assert out["start-of-tr"] != pytest.approx(out["end-of-tr"], abs=1e-4)


def test_uncorrected_mtsat_follows_inverse_b1_squared_only_when_mt_ignores_b1():
    b1 = np.array([0.8, 1.0, 1.2])
    r1 = np.full(3, 1.0)
    ratios = {}
    for p in (0.0, 2.0):
        s_pd, s_t1, s_mt = _intercepts(r1, tr=(0.025, 0.025, 0.025), b1=b1, mt_b1_exponent=p)
        r1_n, a_n = R.fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025)
        mt = R.fit_mtsat(s_mt, a_n, r1_n, fa_mtw=6, tr_mtw=0.025)
        ratios[p] = mt / mt[1]
    # delta independent of B1: nominal-angle MTsat scales ~ 1/B1^2 (Helms' first-order analysis)
    np.testing.assert_allclose(ratios[0.0], 1 / b1 ** 2, rtol=0.03)
    # delta ~ B1^2: nominal-angle MTsat is nearly B1-free (Helms' "inherent" correction)
    np.testing.assert_allclose(ratios[2.0], 1.0, atol=0.03)


def test_helms_correction_matches_hmri_formula_and_fit_mpm_option():
    mt = np.array([1.0, 2.0, 3.0])
    b1 = np.array([0.8, 1.0, 1.25])
    np.testing.assert_allclose(R.correct_mtsat_helms(mt, b1), mt * 0.6 / (1 - 0.4 * b1), rtol=1e-15)
    assert R.correct_mtsat_helms(mt, 1.0) == pytest.approx(mt)
    r1 = np.full(3, 1.0)
    s_pd, s_t1, s_mt = _intercepts(r1, tr=(0.025, 0.025, 0.025), b1=b1, mt_b1_exponent=2.0)
    r1_n, a_n = R.fit_r1_pd_vfa(s_pd, s_t1, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025)
    plain = R.fit_mtsat(s_mt, a_n, r1_n, fa_mtw=6, tr_mtw=0.025)
    helms = R.fit_mtsat(s_mt, a_n, r1_n, fa_mtw=6, tr_mtw=0.025, b1=b1, b1_correction="helms")
    np.testing.assert_allclose(helms, plain * 0.6 / (1 - 0.4 * b1), rtol=1e-12)
    with pytest.raises(ValueError, match="b1_correction"):
        R.fit_mtsat(s_mt, a_n, r1_n, fa_mtw=6, tr_mtw=0.025, b1_correction="helms")


def test_fit_mpm_helms_option_uses_nominal_angles_for_mtsat():
    shape = (3, 1, 1)
    maps = {"PD": np.full(shape, 80.0), "R1": np.full(shape, 1.0), "R2s": np.full(shape, 20.0),
            "MTsat": np.full(shape, 1.5)}
    b1 = np.array([0.8, 1.0, 1.2]).reshape(shape)
    sig = R.simulate_mpm(maps, b1=b1, mt_b1_exponent=2.0)
    fa = R.fit_mpm(sig, b1=b1, approximation="exact", mtsat_formula="exact")
    np.testing.assert_allclose(fa["MTsat"], 1.5 * b1 ** 2, rtol=1e-9)      # flip-angle correction: true delta
    helms = R.fit_mpm(sig, b1=b1, mtsat_b1_correction="helms")
    nominal = R.fit_mpm(sig)
    np.testing.assert_allclose(helms["MTsat"], nominal["MTsat"] * 0.6 / (1 - 0.4 * b1), rtol=1e-12)


def test_r1_bias_curve_tan_form_removes_most_of_the_bias():
    small = R.r1_bias_curve(0.86, n=7)
    tan = R.r1_bias_curve(0.86, n=7, approximation="tan")
    exact = R.r1_bias_curve(0.86, n=7, approximation="exact")
    assert (tan["r1_error_pct"].abs() < 0.05 * small["r1_error_pct"].abs().max()).all()
    assert small["r1_error_pct"].iloc[-1] < -3                       # 40 degrees: small-angle R1 far off
    np.testing.assert_allclose(exact["r1_error_pct"], 0, atol=1e-8)
    with pytest.raises(ValueError, match="approximation"):
        R.r1_bias_curve(0.86, approximation="cubic")


def test_ernst_angle_maximises_the_spgr_signal():
    fas = np.linspace(1, 60, 591)
    signal = [R.spgr_signal(1.0, 0.86, 0.0, flip_angle=fa, tr=0.025, te=[0.0])[0] for fa in fas]
    assert abs(fas[int(np.argmax(signal))] - float(R.ernst_angle(0.86, 0.025))) < 0.15
    with pytest.raises(ValueError, match="positive"):
        R.ernst_angle(-1.0, 0.025)


def test_r1_noise_grid_optimum_straddles_the_ernst_angle():
    grid = R.r1_noise_grid(0.86, amplitude=70, sigma=0.05, fa_low=range(2, 15, 2), fa_high=range(10, 50, 4))
    best = grid.loc[grid["r1_cov_pct"].idxmin()]
    ernst = float(R.ernst_angle(0.86, 0.025))
    assert best["fa_low"] < ernst < best["fa_high"]
    assert grid["r1_bias_pct"].min() < -1                    # the small-angle estimate errs at large angles
    with pytest.raises(ValueError, match="no pair"):
        R.r1_noise_grid(0.86, fa_low=(30,), fa_high=(10,))


def test_r1_noise_grid_is_the_per_pair_computation():
    """Each angle's signal computed once and the five estimates of a pair in one call give the
    numbers of the plain per-pair loop (elementwise arithmetic only), bit for bit."""
    r1, amp, sigma, tr = 0.86, 70.0, 0.05, 0.025
    grid = R.r1_noise_grid(r1, amplitude=amp, sigma=sigma, tr=tr, fa_low=(3, 6), fa_high=(5, 21, 30))
    assert len(grid) == 5                                  # (3, 5), (3, 21), (3, 30), (6, 21), (6, 30)
    for _, row in grid.iterrows():
        a1, a2 = row["fa_low"], row["fa_high"]
        s1 = float(R.spgr_signal(amp, r1, 0.0, flip_angle=a1, tr=tr, te=(0.0,))[0])
        s2 = float(R.spgr_signal(amp, r1, 0.0, flip_angle=a2, tr=tr, te=(0.0,))[0])

        def est(x, y):
            return float(R.fit_r1_pd_vfa(x, y, fa_pdw=a1, fa_t1w=a2, tr_pdw=tr, tr_t1w=tr)[0])

        h1, h2 = 1e-6 * s1, 1e-6 * s2
        d1 = (est(s1 + h1, s2) - est(s1 - h1, s2)) / (2 * h1)
        d2 = (est(s1, s2 + h2) - est(s1, s2 - h2)) / (2 * h2)
        assert row["r1_cov_pct"] == 100 * sigma * np.hypot(d1, d2) / r1
        assert row["r1_bias_pct"] == 100 * (est(s1, s2) / r1 - 1)


def test_fit_mpm_variants_are_fit_mpm_bit_for_bit_with_r2star_fitted_once(toy_maps, rng, monkeypatch):
    """Several option sets on the same signals: each variant's maps are fit_mpm's, bit for bit,
    and the ESTATICS fit runs once."""
    b1 = rng.uniform(0.8, 1.2, toy_maps["PD"].shape)
    mask = rng.random(toy_maps["PD"].shape) > 0.3
    sig = R.simulate_mpm(toy_maps, b1=b1, sigma=0.5, rng=rng, mask=mask, mt_b1_exponent=2)
    variants = {"none": dict(b1=None), "fa": dict(b1=b1),
                "helms": dict(b1=b1, approximation="tan", mtsat_b1_correction="helms"),
                "exact": dict(b1=b1, approximation="exact", mtsat_formula="exact")}
    calls = []
    original = R.fit_r2star_estatics
    monkeypatch.setattr(R, "fit_r2star_estatics", lambda *a, **k: (calls.append(1), original(*a, **k))[1])
    got = R.fit_mpm_variants(sig, variants=variants, mask=mask)
    assert len(calls) == 1 and list(got) == list(variants)
    for label, options in variants.items():
        want = R.fit_mpm(sig, mask=mask, **options)
        assert all(np.array_equal(got[label][k], want[k], equal_nan=True) for k in want)
    with pytest.raises(TypeError, match="b1_map"):
        R.fit_mpm_variants(sig, variants={"x": dict(b1_map=b1)})
    with pytest.raises(ValueError, match="variants"):
        R.fit_mpm_variants(sig, variants={})


def test_noise_drawn_on_a_helper_thread_is_the_serial_noise(monkeypatch):
    """The pipelined path (draws on a helper thread, block by block) gives the serial numbers bit for
    bit, for blocks that do and do not divide the signal, and re-raises a failing draw."""
    monkeypatch.setattr(R, "_NOISE_PIPELINE_MIN", 64)
    s = np.linspace(0.0, 3.0, 6 * 7 * 5).reshape(6, 7, 5)
    for block in (16, 7, 1000):
        monkeypatch.setattr(R, "_NOISE_BLOCK", block)
        serial = R.add_rician_noise(s, 0.3, rng=np.random.default_rng(7), workers=1)
        piped = R.add_rician_noise(s, 0.3, rng=np.random.default_rng(7), workers=2)
        rng = np.random.default_rng(7)
        plain = np.hypot(s + rng.normal(0.0, 0.3, size=s.shape), rng.normal(0.0, 0.3, size=s.shape))
        assert piped.dtype == np.float64 and piped.shape == s.shape
        np.testing.assert_array_equal(piped, serial)
        np.testing.assert_array_equal(piped, plain)
    f32 = s.astype(np.float32)[:, ::2]                     # another dtype, not contiguous
    np.testing.assert_array_equal(R.add_rician_noise(f32, 0.3, rng=np.random.default_rng(1), workers=2),
                                  R.add_rician_noise(f32, 0.3, rng=np.random.default_rng(1), workers=1))

    legacy = np.random.RandomState(5)                      # no out= in its draws: the one-thread path
    np.testing.assert_array_equal(R.add_rician_noise(s, 0.3, rng=legacy, workers=2),
                                  R.add_rician_noise(s, 0.3, rng=np.random.RandomState(5), workers=1))

    class Broken(np.random.Generator):
        def standard_normal(self, *a, **k):
            raise RuntimeError("no draws")
    with pytest.raises(RuntimeError, match="no draws"):
        R.add_rician_noise(s, 0.3, rng=Broken(np.random.PCG64(1)), workers=2)
    with pytest.raises(ValueError, match="workers"):
        R.add_rician_noise(s, 0.3, rng=np.random.default_rng(1), workers=0)


def test_exact_vfa_leaves_converged_voxels_with_the_plain_loops_result():
    """Voxels that reach a fixed point or alternate between two values leave the Newton loop; the
    result is the plain loop's, bit for bit (signs of zero and NaN included), for any n_iter."""
    from qmrigenes.relaxometry import _exact_vfa

    rng = np.random.default_rng(3)
    shape = (40, 50)
    r1_true = rng.uniform(0.2, 3.0, shape)
    b1 = rng.uniform(0.8, 1.2, shape)
    t_pd, t_t1 = 2 * np.tan(np.deg2rad(6) * b1 / 2), 2 * np.tan(np.deg2rad(21) * b1 / 2)
    s_pd = R.spgr_signal(1.0, r1_true, 0.0, flip_angle=6, tr=0.025, te=[0.0], b1=b1)[0]
    s_t1 = R.spgr_signal(1.0, r1_true, 0.0, flip_angle=21, tr=0.025, te=[0.0], b1=b1)[0]
    s_pd = s_pd + rng.normal(0, 1e-3, shape)                 # noisy: many voxels alternate
    start = r1_true * rng.uniform(0.9, 1.1, shape)
    start[0, :5] = [0.0, -0.0, np.nan, np.inf, -1.0]
    for n_iter in (1, 2, 3, 4, 7, 30):
        for tp in (t_pd, 0.105):                             # per-voxel or one flip angle
            got = _exact_vfa(s_pd, s_t1, tp, t_t1, 0.025, 0.025, start, n_iter=n_iter)
            want = _exact_vfa(s_pd, s_t1, tp, t_t1, 0.025, 0.025, start, n_iter=n_iter, settle=False)
            for g, w in zip(got, want):
                assert g.shape == w.shape
                np.testing.assert_array_equal(g.view(np.int64), w.view(np.int64))
    one = _exact_vfa(0.3, 0.2, 0.2, 0.5, 0.025, 0.02, 1.0)
    assert one == _exact_vfa(0.3, 0.2, 0.2, 0.5, 0.025, 0.02, 1.0, settle=False) and np.ndim(one[0]) == 0
    # the plain loop is the previous implementation: every step on every voxel, whole arrays
    r1 = np.array(start, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for _ in range(4):
            u_pd, u_t1 = r1 * 0.025 / 2, r1 * 0.025 / 2
            f = (s_pd * (1 + t_pd ** 2 / 4 / np.tanh(u_pd)) / t_pd
                 - s_t1 * (1 + t_t1 ** 2 / 4 / np.tanh(u_t1)) / t_t1)
            df = (-s_pd * t_pd / 4 * (0.025 / 2) / np.sinh(u_pd) ** 2
                  + s_t1 * t_t1 / 4 * (0.025 / 2) / np.sinh(u_t1) ** 2)
            r1 = r1 - np.where(np.isfinite(f / df), f / df, 0.0)
    np.testing.assert_allclose(_exact_vfa(s_pd, s_t1, t_pd, t_t1, 0.025, 0.025, start, n_iter=4)[0], r1,
                               rtol=1e-12, equal_nan=True)
