"""The 2016 QSM reconstruction challenge data: real in vivo field with a COSMOS reference.

One healthy volunteer scanned at 3 T (Langkammer et al. 2018, Magn Reson Med
79:1661): the local tissue field of a single head orientation, already in ppm
(tissue phase / (gamma B0 TE)), its brain mask, and the COSMOS susceptibility
map computed from 12 head orientations, which the challenge and QSM-CI score
single-orientation reconstructions against. Files are registered in the data
registry (``qsm2016_*``) and read through :func:`qmrigenes.fetch.fetch`.

Grid and orientation, checked against the NIfTI headers on load: 160 x 160 x
160 voxels of 1.0625 x 1.0625 x 1.0714 mm (the challenge paper rounds this to
1.06 mm isotropic), a diagonal affine, and B0 along the third array axis (the
single acquisition orientation; QSM-CI's ``B0_dir = [0, 0, 1]``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import check_choice
from .fetch import fetch

__all__ = ["QSMChallenge2016", "load_qsm_challenge_2016", "VOXEL_SIZE_2016", "B0_DIR_2016"]

#: Voxel size (mm) of the 2016 challenge data, as in the NIfTI headers.
VOXEL_SIZE_2016 = (1.0625, 1.0625, 1.0714285)
#: Main-field direction in array axes (the third axis).
B0_DIR_2016 = (0.0, 0.0, 1.0)
_FILES = {"field": "qsm2016_phs_tissue.nii.gz", "mask": "qsm2016_msk.nii.gz",
          "reference": "qsm2016_chi_cosmos.nii.gz"}


class QSMChallenge2016(NamedTuple):
    """The 2016 challenge data on one grid.

    Attributes
    ----------
    field : ndarray, shape (X, Y, Z)
        Local tissue field (ppm of B0), zero outside the brain for the most part.
    mask : ndarray of bool, shape (X, Y, Z)
        Brain mask; the challenge scores within it.
    reference : ndarray, shape (X, Y, Z)
        COSMOS susceptibility (ppm), zero outside the mask, mean about 0 inside.
    voxel_size : tuple of 3 float
        mm.
    b0_dir : tuple of 3 float
        B0 direction in array axes, ``(0, 0, 1)``.
    affine : ndarray, shape (4, 4)
        The NIfTI affine of the (cropped) grid.
    """

    field: np.ndarray
    mask: np.ndarray
    reference: np.ndarray
    voxel_size: tuple
    b0_dir: tuple
    affine: np.ndarray


def _crop_slices(mask: np.ndarray, crop, margin: int):
    if crop is None:
        return (slice(None),) * 3
    if crop == "mask":
        idx = np.nonzero(mask)
        return tuple(slice(max(int(i.min()) - margin, 0), min(int(i.max()) + 1 + margin, n))
                     for i, n in zip(idx, mask.shape))
    try:
        out = tuple(crop)
    except TypeError:
        raise TypeError(f"crop must be None, 'mask' or three slices, got {crop!r}") from None
    if len(out) != 3 or not all(isinstance(s, slice) for s in out):
        raise TypeError(f"crop must be None, 'mask' or three slices, got {crop!r}")
    return out


def load_qsm_challenge_2016(*, crop=None, margin: int = 4, dtype=np.float64) -> QSMChallenge2016:
    """Load the 2016 QSM challenge field, mask and COSMOS reference.

    Parameters
    ----------
    crop : None, "mask" or tuple of 3 slices, optional
        ``None`` (default): the full 160^3 grid. ``"mask"``: the bounding box
        of the mask plus ``margin`` voxels per side (fewer voxels, so faster
        FFTs; a dipole inversion on the cropped grid treats it as periodic, so
        keep a margin). Three slices: that block (e.g. a small test block).
    margin : int, default 4
        Voxels kept around the mask with ``crop="mask"``.
    dtype : numpy dtype, default float64

    Returns
    -------
    QSMChallenge2016
        ``field`` (ppm), ``mask`` (bool), ``reference`` (COSMOS, ppm),
        ``voxel_size`` (mm), ``b0_dir`` (array axes), ``affine``.

    Raises
    ------
    ValueError
        If a header disagrees with the documented grid (shape, voxel size, a
        non-diagonal affine) or the files are not on one grid.

    Examples
    --------
    >>> data = load_qsm_challenge_2016()          # doctest: +SKIP
    >>> data.field.shape, data.voxel_size, data.b0_dir   # doctest: +SKIP
    ((160, 160, 160), (1.0625, 1.0625, 1.0714285), (0.0, 0.0, 1.0))
    """
    import nibabel as nib

    if isinstance(crop, str):
        check_choice(crop, "crop", ("mask",))
    dtype = np.dtype(dtype)
    images = {k: nib.load(str(fetch(name))) for k, name in _FILES.items()}
    affine = images["field"].affine
    for key, img in images.items():
        if img.shape != (160, 160, 160):
            raise ValueError(f"{_FILES[key]}: expected a 160^3 grid, got {img.shape}")
        if not np.allclose(img.affine, affine):
            raise ValueError(f"{_FILES[key]} is not on the grid of {_FILES['field']}")
        zooms = tuple(float(z) for z in img.header.get_zooms()[:3])
        if not np.allclose(zooms, VOXEL_SIZE_2016, atol=1e-5):
            raise ValueError(f"{_FILES[key]}: voxel size {zooms} differs from {VOXEL_SIZE_2016} mm")
    if not np.allclose(affine[:3, :3], np.diag(VOXEL_SIZE_2016), atol=1e-5):
        raise ValueError("the affine is not diagonal: the array axes are not the scanner axes, "
                         "so B0 would not be along the third axis")
    mask_raw = np.asarray(images["mask"].dataobj)
    if not np.all(np.isin(mask_raw, (0, 1))):
        raise ValueError(f"{_FILES['mask']} is not a 0/1 mask")
    mask = mask_raw.astype(bool)
    sl = _crop_slices(mask, crop, margin)
    # NIfTI arrays come in Fortran order; every array is returned C-contiguous (the layout numpy
    # creates for every intermediate), since an operation that mixes the two layouts walks one of
    # them with a stride (qsm._c_order: 2.5x the CPU time of a plain addition over a 160^3 grid,
    # up to 20x for tv_admm's split update)
    field = np.ascontiguousarray(np.asarray(images["field"].dataobj, dtype=np.float32)[sl], dtype=dtype)
    ref = np.ascontiguousarray(np.asarray(images["reference"].dataobj, dtype=np.float32)[sl], dtype=dtype)
    mask = np.ascontiguousarray(mask[sl])
    start = np.array([s.indices(160)[0] for s in sl], float)
    new_affine = affine.copy()
    new_affine[:3, 3] = affine[:3, :3] @ start + affine[:3, 3]
    return QSMChallenge2016(field, mask, ref, VOXEL_SIZE_2016, B0_DIR_2016, new_affine)
