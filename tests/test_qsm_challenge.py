"""The 2016 QSM challenge data: loader, and the methods and metrics on a cropped real block.

Skipped (cleanly, with the reason) only when the data cannot be fetched.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from qmrigenes import qsm
from qmrigenes import qsm_invert as qi
from qmrigenes import qsm_metrics as qm

#: A 40^3 block through the deep grey nuclei (array indices).
BLOCK = (slice(60, 100), slice(70, 110), slice(60, 100))


def _load(**kwargs):
    from qmrigenes.fetch import DataFetchError
    from qmrigenes.qsm_challenge import load_qsm_challenge_2016

    try:
        return load_qsm_challenge_2016(**kwargs)
    except (DataFetchError, OSError) as err:
        pytest.skip(f"2016 QSM challenge data not available: {err}")


@pytest.fixture(scope="module")
def challenge_block():
    return _load(crop=BLOCK)


def test_loader_grid_and_units():
    data = _load()
    assert data.field.shape == data.mask.shape == data.reference.shape == (160, 160, 160)
    assert data.mask.dtype == bool and 8e5 < data.mask.sum() < 1.1e6
    assert data.voxel_size == pytest.approx((1.0625, 1.0625, 1.0714), abs=1e-4)
    assert data.b0_dir == (0.0, 0.0, 1.0)
    # ppm scale (a field of radians or Hz would be orders larger), COSMOS zero outside the mask
    assert 0.02 < np.abs(data.field[data.mask]).max() < 1.0
    assert 0.05 < np.abs(data.reference).max() < 2.0
    assert not data.reference[~data.mask].any()
    # C order (the NIfTI arrays are Fortran-ordered): mixing layouts costs a strided pass per operation
    assert all(a.flags["C_CONTIGUOUS"] for a in (data.field, data.mask, data.reference))
    cropped = _load(crop="mask", margin=2)
    assert cropped.mask.sum() == data.mask.sum() and cropped.field.shape < data.field.shape
    # the cropped affine still maps its voxel (0, 0, 0) to the same place as the full grid does
    start = np.array([np.nonzero(data.mask)[i].min() - 2 for i in range(3)])
    assert np.allclose(cropped.affine[:3, 3], data.affine[:3, :3] @ start + data.affine[:3, 3])


def test_loader_rejects_bad_crop():
    with pytest.raises(ValueError, match="crop"):
        _load(crop="brain")
    with pytest.raises(TypeError, match="crop"):
        _load(crop=(1, 2, 3))


def test_closed_form_equals_masked_solve_on_real_block(challenge_block):
    data = challenge_block
    full = np.ones(data.field.shape, bool)
    field = np.where(data.mask, data.field, 0.0)
    closed = qi.tikhonov_closed_form(field, lam=1e-2, voxel_size=data.voxel_size, dtype=np.float64)
    cg, info = qsm.tikhonov_cg(field, full, lam=1e-2, tol=1e-9, voxel_size=data.voxel_size)
    assert info["converged"]
    assert np.linalg.norm(cg - closed) / np.linalg.norm(closed) < 1e-7


def test_tv_optimality_on_real_block(challenge_block):
    data = challenge_block
    lam = 3e-4
    chi, info = qi.tv_admm(data.field, data.mask, lam=lam, max_iter=2000, tol=1e-6,
                           voxel_size=data.voxel_size, dtype=np.float64, masked_output=False)
    opt = qi.tv_optimality(chi, info["dual"], data.field, data.mask, lam=lam, voxel_size=data.voxel_size)
    assert opt["stationarity"] < 5e-3 and opt["dual_excess"] < 5e-3


def test_metrics_degrade_with_blur_of_the_real_reference(challenge_block):
    """Blurring COSMOS more costs more on every metric, and HFEN (fine detail) most."""
    from scipy import ndimage

    ref, m = challenge_block.reference, challenge_block.mask
    out = [qm.challenge_metrics(np.where(m, ndimage.gaussian_filter(ref, s), 0), ref, m) for s in (0.5, 1.0, 2.0)]
    for a, b in zip(out, out[1:]):
        assert b["nrmse"] > a["nrmse"] and b["hfen"] > a["hfen"] and b["xsim"] < a["xsim"] and b["r"] < a["r"]
    assert out[-1]["hfen"] > out[-1]["nrmse"]               # strong blur: detail lost more than signal


def _qsmci_scorer():
    """QSM-CI's qsm_eval.py from the pinned wheel (registry entry); None if it is not fetchable."""
    from qmrigenes.fetch import DataFetchError, fetch

    try:
        path = fetch("qsmci_qsm_eval.py")
    except (DataFetchError, OSError):
        return None
    spec = importlib.util.spec_from_file_location("qsmci_qsm_eval", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_metrics_agree_with_qsmci_on_a_real_block(challenge_block):
    """On the real block, every metric equals QSM-CI's scorer (qsm-ci 0.6.2)."""
    scorer = _qsmci_scorer()
    if scorer is None:
        pytest.skip("qsm-ci's scorer could not be fetched (no package index)")
    data = challenge_block
    chi = qsm.tkd(data.field, threshold=0.2, mask=data.mask, voxel_size=data.voxel_size)
    ours = qm.challenge_metrics(chi, data.reference, data.mask, hfen_kernel="scipy")
    theirs, _ = scorer.score_arrays(chi, data.reference, data.mask.astype(float), "chi")
    for key, their_key in (("nrmse", "nrmse"), ("nrmse_detrend", "nrmse_detrend"), ("hfen", "hfen"),
                           ("xsim", "xsim"), ("r", "correlation")):
        assert ours[key] == pytest.approx(theirs[their_key], rel=1e-9, abs=1e-12), key
    # the challenge's 15-voxel zero-sum kernel differs from scipy's truncation a little, not a lot
    assert qm.hfen(chi, data.reference, data.mask) == pytest.approx(ours["hfen"], rel=0.05)
