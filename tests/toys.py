"""Small synthetic phantoms shared by the library and book tests (importable: tests/ is on sys.path)."""
import numpy as np

from qmrigenes import qsm

#: Grid of the QSM blob phantoms (voxels, 2 mm).
SHAPE = (24, 20, 22)


def _blob_phantom():
    chi = np.zeros(SHAPE)
    chi += qsm.sphere_source(SHAPE, center=(12, 10, 11), radius_mm=12, chi=0.05)
    chi += qsm.sphere_source(SHAPE, center=(8, 10, 11), radius_mm=5, chi=0.1)
    mask = qsm.sphere_source(SHAPE, center=(12, 10, 11), radius_mm=16, chi=1.0) > 0
    return chi, mask


def _labelled_blob():
    chi, mask = _blob_phantom()
    labels = np.where(mask, 1, 0)
    labels[qsm.sphere_source(SHAPE, center=(12, 10, 11), radius_mm=12, chi=1.0) > 0] = 3
    labels[qsm.sphere_source(SHAPE, center=(8, 10, 11), radius_mm=5, chi=1.0) > 0] = 6
    labels[qsm.sphere_source(SHAPE, center=(16, 10, 11), radius_mm=5, chi=1.0) > 0] = 5
    chi = np.where(labels == 5, 0.07, chi)
    return chi, labels


class _Toy:
    """A small labelled phantom: CSF shell, GM and WM blocks (labels 1-3)."""

    def __init__(self, shape=(16, 14, 12)):
        self.labels = np.ones(shape, dtype=int)
        self.labels[2:-2, 2:-2, 2:-2] = 2
        self.labels[4:-4, 3:-3, 3:-3] = 3
        values = {1: (0.26, 97.0, 5.0, 0.0), 2: (0.62, 79.0, 20.5, 0.40), 3: (0.86, 72.0, 20.7, 0.66)}
        self.maps = {p: np.zeros(shape) for p in ("R1", "PD", "R2s", "MTsat")}
        for lab, vals in values.items():
            for p, v in zip(("R1", "PD", "R2s", "MTsat"), vals):
                self.maps[p][self.labels == lab] = v

    @property
    def mask(self):
        return self.labels > 0


TOY_TISSUES = {2: "cortical GM", 3: "WM"}
