"""Bad inputs to the physics modules (qsm, relaxometry, lesions, phantom): each raises the right
exception type with a message that names the offending argument (issue #10)."""
import numpy as np
import pytest

from qmrigenes import lesions, phantom, qsm
from qmrigenes import relaxometry as R

SHAPE = (8, 8, 8)


def _field(nan=False, inf=False):
    f = np.zeros(SHAPE)
    f[4, 4, 4] = 0.01
    if nan:
        f[1, 2, 3] = np.nan
    if inf:
        f[1, 2, 3] = np.inf
    return f


MASK = np.ones(SHAPE, bool)
GOOD = _field()

QSM_CASES = [
    # (id, callable, exception, word in message)
    ("tkd-nan-field", lambda: qsm.tkd(_field(nan=True), mask=MASK), ValueError, "field"),
    ("tkd-inf-field", lambda: qsm.tkd(_field(inf=True)), ValueError, "field"),
    ("tkd-2d-field", lambda: qsm.tkd(np.zeros((8, 8))), ValueError, "field"),
    ("tkd-string-field", lambda: qsm.tkd("field.nii"), TypeError, "field"),
    ("tkd-threshold-zero", lambda: qsm.tkd(GOOD, threshold=0.0), ValueError, "threshold"),
    ("tkd-threshold-nan", lambda: qsm.tkd(GOOD, threshold=float("nan")), ValueError, "threshold"),
    ("tkd-threshold-str", lambda: qsm.tkd(GOOD, threshold="0.2"), TypeError, "threshold"),
    ("tkd-voxel-inf", lambda: qsm.tkd(GOOD, voxel_size=(2, 2, np.inf)), ValueError, "voxel_size"),
    ("tkd-voxel-nan", lambda: qsm.tkd(GOOD, voxel_size=(np.nan, 2, 2)), ValueError, "voxel_size"),
    ("tkd-voxel-neg", lambda: qsm.tkd(GOOD, voxel_size=(2, -2, 2)), ValueError, "voxel_size"),
    ("tkd-voxel-two", lambda: qsm.tkd(GOOD, voxel_size=(2, 2)), ValueError, "voxel_size"),
    ("tkd-mask-shape", lambda: qsm.tkd(GOOD, mask=np.ones((8, 8, 7), bool)), ValueError, "mask"),
    ("tkd-mask-float", lambda: qsm.tkd(GOOD, mask=np.full(SHAPE, 0.5)), TypeError, "mask"),
    ("tkd-b0-zero", lambda: qsm.tkd(GOOD, b0_dir=(0, 0, 0)), ValueError, "b0_dir"),
    ("tkd-b0-nan", lambda: qsm.tkd(GOOD, b0_dir=(0, np.nan, 1)), ValueError, "b0_dir"),
    ("kspace-lam-zero", lambda: qsm.tikhonov_kspace(GOOD, lam=0), ValueError, "lam"),
    ("kspace-lam-inf", lambda: qsm.tikhonov_kspace(GOOD, lam=np.inf), ValueError, "lam"),
    ("kspace-nan-field", lambda: qsm.tikhonov_kspace(_field(nan=True)), ValueError, "field"),
    ("cg-nan-field", lambda: qsm.tikhonov_cg(_field(nan=True), MASK), ValueError, "field"),
    ("cg-lam-nan", lambda: qsm.tikhonov_cg(GOOD, MASK, lam=float("nan")), ValueError, "lam"),
    ("cg-lam-neg", lambda: qsm.tikhonov_cg(GOOD, MASK, lam=-1e-2), ValueError, "lam"),
    ("cg-lam-str", lambda: qsm.tikhonov_cg(GOOD, MASK, lam="1e-2"), TypeError, "lam"),
    ("cg-mask-none", lambda: qsm.tikhonov_cg(GOOD, None), TypeError, "mask"),
    ("cg-mask-empty", lambda: qsm.tikhonov_cg(GOOD, np.zeros(SHAPE, bool)), ValueError, "mask"),
    ("cg-iter-float", lambda: qsm.tikhonov_cg(GOOD, MASK, max_iter=1e3), TypeError, "max_iter"),
    ("cg-iter-huge", lambda: qsm.tikhonov_cg(GOOD, MASK, max_iter=10 ** 7), ValueError, "max_iter"),
    ("cg-iter-zero", lambda: qsm.tikhonov_cg(GOOD, MASK, max_iter=0), ValueError, "max_iter"),
    ("cg-tol-zero", lambda: qsm.tikhonov_cg(GOOD, MASK, tol=0.0), ValueError, "tol"),
    ("cg-tol-big", lambda: qsm.tikhonov_cg(GOOD, MASK, tol=0.5), ValueError, "tol"),
    ("cg-weight-neg", lambda: qsm.tikhonov_cg(GOOD, MASK, weight=-np.ones(SHAPE)), ValueError, "weight"),
    ("cg-weight-nan", lambda: qsm.tikhonov_cg(GOOD, MASK, weight=np.full(SHAPE, np.nan)), ValueError,
     "weight"),
    ("early-nan-field", lambda: qsm.tikhonov_early_stopped(_field(nan=True), MASK), ValueError, "field"),
    ("early-x0-nan", lambda: qsm.tikhonov_early_stopped(GOOD, MASK, x0=_field(nan=True)), ValueError, "x0"),
    ("fwd-pad-neg", lambda: qsm.forward_field(GOOD, pad=-1), ValueError, "pad"),
    ("fwd-pad-huge", lambda: qsm.forward_field(GOOD, pad=10_000), ValueError, "pad"),
    ("fwd-pad-float", lambda: qsm.forward_field(GOOD, pad=16.0), TypeError, "pad"),
    ("fwd-chi-nan", lambda: qsm.forward_field(_field(nan=True)), ValueError, "chi"),
    ("fwd-voxel-inf", lambda: qsm.forward_field(GOOD, voxel_size=(np.inf, 2, 2)), ValueError, "voxel_size"),
    ("noise-sigma-neg", lambda: qsm.add_field_noise(GOOD, -1.0, rng=np.random.default_rng(0)), ValueError,
     "sigma"),
    ("noise-sigma-inf", lambda: qsm.add_field_noise(GOOD, np.inf, rng=np.random.default_rng(0)), ValueError,
     "sigma"),
    ("noise-rng-int", lambda: qsm.add_field_noise(GOOD, 0.1, rng=3), TypeError, "rng"),
    ("noise-field-nan", lambda: qsm.add_field_noise(_field(nan=True), 0.1, rng=np.random.default_rng(0)),
     ValueError, "field"),
    ("sharp-nan-field", lambda: qsm.sharp(_field(nan=True), MASK), ValueError, "field"),
    ("optimality-chi-nan", lambda: qsm.tikhonov_optimality(_field(nan=True), GOOD, MASK), ValueError, "chi"),
    ("summary-not-frame", lambda: qsm.recovery_summary({"truth": [1.0]}), TypeError, "rois"),
    ("summary-no-truth", lambda: qsm.recovery_summary(__import__("pandas").DataFrame({"a": [1.0]})),
     ValueError, "truth"),
    ("summary-threshold-nan", lambda: qsm.recovery_summary(
        __import__("pandas").DataFrame({"truth": [1.0], "x": [1.0]}), near_zero_ppb=np.nan), ValueError,
     "near_zero_ppb"),
]

_PD, _R1, _R2 = 80.0, 1.0, 20.0
_S = np.array([1.0, 2.0])
RELAX_CASES = [
    ("spgr-tr-zero", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=0, te=[0.0]), ValueError, "tr"),
    ("spgr-tr-nan", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=np.nan, te=[0.0]), ValueError, "tr"),
    ("spgr-tr-inf", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=np.inf, te=[0.0]), ValueError, "tr"),
    ("spgr-tr-str", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr="25ms", te=[0.0]), TypeError, "tr"),
    ("spgr-fa-nan", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=np.nan, tr=0.025, te=[0.0]), ValueError,
     "flip angle"),
    ("spgr-fa-inf", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=np.inf, tr=0.025, te=[0.0]), ValueError,
     "flip angle"),
    ("spgr-fa-zero", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=0, tr=0.025, te=[0.0]), ValueError,
     "flip angle"),
    ("spgr-r1-inf", lambda: R.spgr_signal(_PD, np.inf, _R2, flip_angle=6, tr=0.025, te=[0.0]), ValueError, "R1"),
    ("spgr-b1-nan", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=0.025, te=[0.0], b1=np.nan),
     ValueError, "B1"),
    ("spgr-mtsat-100", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=0.025, te=[0.0], mtsat=100.0),
     ValueError, "mtsat"),
    ("spgr-mt-exponent-nan", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=0.025, te=[0.0],
                                                   mt_b1_exponent=np.nan), ValueError, "mt_b1_exponent"),
    ("spgr-mt-timing", lambda: R.spgr_signal(_PD, _R1, _R2, flip_angle=6, tr=0.025, te=[0.0],
                                             mt_timing="middle"), ValueError, "mt_timing"),
    ("vfa-tr-inf", lambda: R.fit_r1_pd_vfa(_S, _S, fa_pdw=6, fa_t1w=21, tr_pdw=np.inf, tr_t1w=0.025),
     ValueError, "tr_pdw"),
    ("vfa-tr-nan", lambda: R.fit_r1_pd_vfa(_S, _S, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=np.nan),
     ValueError, "tr_t1w"),
    ("vfa-fa-nan", lambda: R.fit_r1_pd_vfa(_S, _S, fa_pdw=np.nan, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025),
     ValueError, "flip angle"),
    ("vfa-b1-inf", lambda: R.fit_r1_pd_vfa(_S, _S, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025,
                                           b1=np.inf), ValueError, "B1"),
    ("vfa-approx", lambda: R.fit_r1_pd_vfa(_S, _S, fa_pdw=6, fa_t1w=21, tr_pdw=0.025, tr_t1w=0.025,
                                           approximation="taylor"), ValueError, "approximation"),
    ("mtsat-tr-inf", lambda: R.fit_mtsat(_S, _S, _S, fa_mtw=6, tr_mtw=np.inf), ValueError, "tr_mtw"),
    ("mtsat-fa-inf", lambda: R.fit_mtsat(_S, _S, _S, fa_mtw=np.inf, tr_mtw=0.025), ValueError, "flip angle"),
    ("mtsat-correction", lambda: R.fit_mtsat(_S, _S, _S, fa_mtw=6, tr_mtw=0.025, b1=1.0,
                                             b1_correction="lipp"), ValueError, "b1_correction"),
    ("mtsat-helms-no-b1", lambda: R.fit_mtsat(_S, _S, _S, fa_mtw=6, tr_mtw=0.025, b1_correction="helms"),
     ValueError, "b1"),
    ("mtsat-formula", lambda: R.fit_mtsat(_S, _S, _S, fa_mtw=6, tr_mtw=0.025, formula="approx"),
     ValueError, "formula"),
    ("mtsat-helms-c", lambda: R.fit_mtsat(_S, _S, _S, fa_mtw=6, tr_mtw=0.025, b1=1.0, b1_correction="helms",
                                          helms_c=1.5), ValueError, "helms_c"),
    ("helms-c-nan", lambda: R.correct_mtsat_helms(_S, 1.0, c=np.nan), ValueError, "c"),
    ("helms-b1-nan", lambda: R.correct_mtsat_helms(_S, np.nan), ValueError, "b1"),
    ("protocol-tr-nan", lambda: R.MPMProtocol(tr={"PDw": np.nan, "T1w": 0.025, "MTw": 0.025}), ValueError,
     "TR"),
    ("protocol-fa-inf", lambda: R.MPMProtocol(flip_angles={"PDw": 6, "T1w": np.inf, "MTw": 6}), ValueError,
     "flip angle"),
    ("simulate-sigma-nan", lambda: R.simulate_mpm({"PD": np.ones(2), "R1": np.ones(2), "R2s": np.ones(2),
                                                   "MTsat": np.ones(2)}, sigma=np.nan), ValueError, "sigma"),
    ("simulate-no-rng", lambda: R.simulate_mpm({"PD": np.ones(2), "R1": np.ones(2), "R2s": np.ones(2),
                                                "MTsat": np.ones(2)}, sigma=0.1), ValueError, "rng"),
    ("fit-mpm-correction", lambda: R.fit_mpm(R.simulate_mpm({"PD": np.ones(2), "R1": np.ones(2),
                                                             "R2s": np.ones(2), "MTsat": np.ones(2)}),
                                             b1=np.ones(2), mtsat_b1_correction="lipp"), ValueError,
     "mtsat_b1_correction"),
    ("r1-from-t1-inf", lambda: R.r1_from_t1(np.inf), ValueError, "T1"),
]

OTHER_CASES = [
    ("b1-field-amplitude", lambda: phantom.b1_field((4, 4, 4), amplitude=1.5), ValueError, "amplitude"),
    ("b1-field-amplitude-nan", lambda: phantom.b1_field((4, 4, 4), amplitude=np.nan), ValueError, "amplitude"),
    ("lesion-contrast-shapes", lambda: lesions.lesion_contrast(np.zeros(SHAPE), np.zeros((8, 8, 7), int)),
     ValueError, "lesion_map"),
    ("lesion-contrast-no-lesion", lambda: lesions.lesion_contrast(np.zeros(SHAPE), np.zeros(SHAPE, int)),
     ValueError, "lesion_map"),
    ("lesion-contrast-reference", lambda: lesions.lesion_contrast(np.zeros(SHAPE), np.ones(SHAPE, int),
                                                                  reference="csf"), ValueError, "reference"),
    ("lesion-contrast-shell", lambda: lesions.lesion_contrast(np.zeros(SHAPE), np.ones(SHAPE, int),
                                                              shell_mm=(6, 2)), ValueError, "shell_mm"),
    ("lesion-only-types", lambda: lesions.lesion_only(np.zeros(SHAPE), np.zeros(SHAPE)), TypeError,
     "lesioned"),
]

EMPTY = np.zeros(SHAPE, bool)
SMALL = np.zeros((16, 16, 16), bool)
SMALL[6:10, 6:10, 6:10] = True                     # 4 voxels across: an 8 mm sphere erodes it to nothing
FIELD16 = np.zeros((16, 16, 16))


def _ch3(name):
    from qmribook import ch3
    return getattr(ch3, name)


# issue #20: the QSM entry points refuse what used to return zeros or NaN numbers
QSM_ENTRY_CASES = [
    ("tkd-empty-mask", lambda: qsm.tkd(GOOD, mask=EMPTY), ValueError, "mask is empty"),
    ("tkd-voxel-zero", lambda: qsm.tkd(GOOD, voxel_size=(0, 2, 2)), ValueError, "voxel_size"),
    ("tkd-voxel-string", lambda: qsm.tkd(GOOD, voxel_size="2mm"), TypeError, "voxel_size"),
    ("kspace-empty-mask", lambda: qsm.tikhonov_kspace(GOOD, mask=EMPTY), ValueError, "mask is empty"),
    ("kspace-voxel-zero", lambda: qsm.tikhonov_kspace(GOOD, voxel_size=(2, 0, 2)), ValueError, "voxel_size"),
    ("kspace-voxel-nan", lambda: qsm.tikhonov_kspace(GOOD, voxel_size=(2, 2, np.nan)), ValueError, "voxel_size"),
    ("sharp-eroded-to-nothing", lambda: qsm.sharp(FIELD16, SMALL, radius_mm=8.0), ValueError, "leaves no voxel"),
    ("sharp-voxel-zero", lambda: qsm.sharp(GOOD, MASK, voxel_size=(0.0, 2, 2)), ValueError, "voxel_size"),
    ("sharp-voxel-neg", lambda: qsm.sharp(GOOD, MASK, voxel_size=(2, -2, 2)), ValueError, "voxel_size"),
    ("sharp-empty-mask", lambda: qsm.sharp(GOOD, EMPTY), ValueError, "mask is empty"),
    ("sharp-no-mask", lambda: qsm.sharp(GOOD, None), TypeError, "mask"),
    ("sharp-inf-field", lambda: qsm.sharp(_field(inf=True), MASK), ValueError, "total_field"),
    ("cg-voxel-zero", lambda: qsm.tikhonov_cg(GOOD, MASK, voxel_size=(2, 2, 0)), ValueError, "voxel_size"),
    ("early-empty-mask", lambda: qsm.tikhonov_early_stopped(GOOD, EMPTY), ValueError, "mask is empty"),
    ("early-voxel-inf", lambda: qsm.tikhonov_early_stopped(GOOD, MASK, voxel_size=(np.inf, 2, 2)), ValueError,
     "voxel_size"),
    ("ch3-background-nan-voxel", lambda: _ch3("report_background")(_field(nan=True), GOOD, MASK, center=(1, 1, 1)),
     ValueError, "chi_true"),
    ("ch3-background-nan-field", lambda: _ch3("report_background")(GOOD, _field(nan=True), MASK, center=(1, 1, 1)),
     ValueError, "local_field"),
    ("ch3-background-empty-mask", lambda: _ch3("report_background")(GOOD, GOOD, EMPTY, center=(1, 1, 1)),
     ValueError, "mask is empty"),
    ("ch3-background-voxel-zero", lambda: _ch3("report_background")(GOOD, GOOD, MASK, center=(1, 1, 1),
                                                                     voxel_size=(0, 2, 2)), ValueError, "voxel_size"),
    ("ch3-qsm-no-brain", lambda: _ch3("report_qsm")(GOOD, np.zeros(SHAPE, int), tissues={}), ValueError,
     "brain (labels > 0)"),
    ("ch3-qsm-no-reference", lambda: _ch3("report_qsm")(GOOD, np.full(SHAPE, 2), tissues={}), ValueError,
     "reference_label"),
    ("ch3-qsm-nan-chi", lambda: _ch3("report_qsm")(_field(nan=True), np.ones(SHAPE, int), tissues={}), ValueError,
     "chi_true"),
    ("ch3-qsm-voxel-nan", lambda: _ch3("report_qsm")(GOOD, np.ones(SHAPE, int), tissues={},
                                                     voxel_size=(2, np.nan, 2)), ValueError, "voxel_size"),
    ("ch3-profiles-voxel-zero", lambda: _ch3("lesion_profiles")(__import__("pandas").DataFrame(), {}, {},
                                                               voxel_size=(0, 2, 2)), ValueError, "voxel_size"),
]

CASES = QSM_CASES + QSM_ENTRY_CASES + RELAX_CASES + OTHER_CASES


@pytest.mark.parametrize("call, exc, word", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_raises_naming_the_argument(call, exc, word):
    with pytest.raises(exc) as err:
        call()
    assert word.lower() in str(err.value).lower()


def test_case_count():
    assert len(CASES) >= 40 and len(QSM_ENTRY_CASES) >= 20


def test_sharp_on_a_mask_that_survives_erosion_still_works():
    mask = np.zeros((16, 16, 16), bool)
    mask[2:14, 2:14, 2:14] = True
    local, eroded = qsm.sharp(FIELD16, mask, radius_mm=4.0)
    assert eroded.any() and local.shape == FIELD16.shape
