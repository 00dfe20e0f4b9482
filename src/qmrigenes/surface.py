"""Cortical surfaces: fsaverage5 meshes, per-subject surface maps, smoothing, parcellation.

The vertexwise MPM pipeline of Chapter 1 works on fsaverage5 (10,242 vertices
per hemisphere, from nilearn, offline). This module provides

* :func:`load_fsaverage5` - mesh coordinates and faces (pial, white,
  midthickness = mean of pial and white, inflated, sphere);
* :func:`load_surface_map` - one per-subject map from a GIFTI (``.gii``) or
  FreeSurfer MGH (``.mgh``/``.mgz``) file, checked for vertex count and NaN;
* :func:`smooth_surface` - heat-kernel smoothing on the mesh at a given FWHM
  (mm), with :func:`kernel_fwhm` to measure it;
* :func:`dk_labels` and :func:`parcellate` - vertex -> Desikan-Killiany
  region means; :func:`regions_to_vertices` for plotting regional values;
* :func:`nspn_to_dk` (NSPN 308 sub-parcels -> DK) and
  :func:`neuromorphometrics_to_dk` (clinical MPM regions -> DK through the
  committed crosswalk ``data/crosswalks/neuromorphometrics_to_dk.csv``).
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._validate import check_region_names, as_array, check_choice, check_int, check_scalar, check_unique, describe
from .datasets import DK_CORTICAL_REGIONS, load_dk_conte69, load_dk_fsaverage5
from .fetch import package_file

__all__ = [
    "N_VERTICES_FSAVERAGE5",
    "FWHM_TO_SIGMA",
    "Mesh",
    "load_fsaverage5",
    "load_surface_map",
    "read_surface_file",
    "SurfaceData",
    "SURFACE_VERTICES",
    "check_surface_map",
    "mesh_adjacency",
    "cotangent_laplacian",
    "smooth_surface",
    "kernel_fwhm",
    "dk_labels",
    "parcel_labels",
    "ATLASES",
    "parcel_centroids",
    "sphere_centroids",
    "parcellate",
    "regions_to_vertices",
    "nspn_to_dk",
    "load_neuromorphometrics_crosswalk",
    "neuromorphometrics_to_dk",
    "hcp_t1wt2w_dk",
    "MAX_FWHM_MM",
    "MAX_SMOOTH_STEPS",
]

#: Largest smoothing kernel accepted by :func:`smooth_surface` (mm); a whole
#: hemisphere is about 200 mm across, and 6,000 is micrometres typed as mm.
MAX_FWHM_MM = 100.0
#: Largest number of diffusion steps :func:`smooth_surface` will run (about
#: 5,900 for 100 mm on fsaverage5; finer meshes need more for the same FWHM).
MAX_SMOOTH_STEPS = 200_000

#: Vertices per hemisphere of fsaverage5.
N_VERTICES_FSAVERAGE5 = 10242
#: sigma = FWHM * FWHM_TO_SIGMA for a Gaussian kernel.
FWHM_TO_SIGMA = 1.0 / (2.0 * np.sqrt(2.0 * np.log(2.0)))
_HEMI = {"L": "left", "R": "right"}

#: The committed Neuromorphometrics -> DK crosswalk (a table of the package, read through
#: :func:`qmrigenes.fetch.package_file`).
_CROSSWALK = "crosswalks/neuromorphometrics_to_dk.csv"


class Mesh(NamedTuple):
    """A triangle mesh: ``coords`` (n_vertices, 3) in mm, ``faces`` (n_faces, 3) int."""

    coords: np.ndarray
    faces: np.ndarray


# --------------------------------------------------------------------------- meshes
def _check_mesh(mesh, name: str = "mesh") -> Mesh:
    """``mesh`` as a :class:`Mesh` with finite (n, 3) coords and (m, 3) faces indexing them."""
    if isinstance(mesh, (str, bytes)) or not isinstance(mesh, (tuple, list)) or len(mesh) != 2:
        raise TypeError(f"{name} must be a Mesh (coords, faces), e.g. load_fsaverage5(), got {describe(mesh)}")
    coords = as_array(mesh[0], f"{name}.coords", ndim=2)
    if coords.shape[1] != 3:
        raise ValueError(f"{name}.coords must have shape (n_vertices, 3), got {coords.shape}")
    faces = _check_faces(mesh[1], len(coords), f"{name}.faces")
    return Mesh(coords, faces)


def _check_faces(faces, n_vertices: int, name: str = "faces") -> np.ndarray:
    raw = np.asarray(faces)
    if raw.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integer vertex indices, got dtype {raw.dtype}")
    if raw.ndim != 2 or raw.shape[1] != 3 or raw.shape[0] == 0:
        raise ValueError(f"{name} must have shape (n_faces, 3), got {raw.shape}")
    if raw.min() < 0 or raw.max() >= n_vertices:
        raise ValueError(f"{name} must index vertices 0..{n_vertices - 1}, got {raw.min()}..{raw.max()}")
    return raw.astype(np.int64, copy=False)


@lru_cache(maxsize=None)
def _fsaverage5():
    from nilearn import datasets
    return datasets.load_fsaverage("fsaverage5")


_MESH_PARTS = {"pial": "pial", "white": "white_matter", "inflated": "inflated", "sphere": "sphere"}


def _read_fsaverage5_meshes() -> dict:
    """``{(surface, "left"/"right"): (coords float64, faces int64)}`` read through nilearn."""
    fs = _fsaverage5()
    return {(surface, part): (np.asarray(fs[key].parts[part].coordinates, float),
                              np.asarray(fs[key].parts[part].faces, dtype=np.int64))
            for surface, key in _MESH_PARTS.items() for part in _HEMI.values()}


@lru_cache(maxsize=1)
def _fsaverage5_meshes() -> dict:
    """The fsaverage5 meshes, read through nilearn once and then from the data cache.

    Importing ``nilearn.datasets`` costs a kernel about 1-2 s (scikit-learn, ``scipy.stats``);
    the arrays are kept by :func:`qmrigenes.fetch.cached_derived`, keyed on the bytes of
    nilearn's fsaverage5 files, this reading code and the nilearn/nibabel/numpy versions.
    """
    import hashlib
    import importlib.util
    from pathlib import Path

    from .fetch import cached_derived, derivation_key

    spec = importlib.util.find_spec("nilearn")
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "fsaverage5"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.gii*")):
        digest.update(path.name.encode() + path.read_bytes())
    parts = derivation_key(_read_fsaverage5_meshes, packages=("nilearn", "nibabel", "numpy"),
                           extra=[digest.hexdigest()])
    if parts is None:
        return _read_fsaverage5_meshes()
    return cached_derived("fsaverage5-meshes", parts, _read_fsaverage5_meshes)


def load_fsaverage5(*, hemisphere: str = "L", surface: str = "midthickness") -> Mesh:
    """The fsaverage5 mesh of one hemisphere (nilearn, offline).

    Parameters
    ----------
    hemisphere : {"L", "R"}, optional
        Default ``"L"``.
    surface : {"midthickness", "pial", "white", "inflated", "sphere"}, optional
        ``"midthickness"`` (default) is the vertexwise mean of the pial and
        white surfaces, i.e. the 50% cortical depth at which the MPM values
        are sampled.

    Returns
    -------
    Mesh
        ``coords`` (10242, 3) float64 in mm and ``faces`` (20480, 3) int.
    """
    if hemisphere not in _HEMI:
        raise ValueError(f"hemisphere must be 'L' or 'R', got {hemisphere!r}")
    choices = ("midthickness", "pial", "white", "inflated", "sphere")
    if surface not in choices:
        raise ValueError(f"surface must be one of {choices}, got {surface!r}")
    meshes = _fsaverage5_meshes()
    part = _HEMI[hemisphere]
    if surface == "midthickness":
        pial, faces = meshes["pial", part]
        white = meshes["white", part][0]
        coords = (pial + white) / 2
    else:
        coords, faces = meshes[surface, part]
        coords = coords.copy()
    return Mesh(coords, faces.copy())


# --------------------------------------------------------------------------- maps
def check_surface_map(values, *, n_vertices: int = N_VERTICES_FSAVERAGE5, name: str = "map") -> np.ndarray:
    """Validate surface data with vertices on the last axis.

    Parameters
    ----------
    values : array_like, shape (..., n_vertices)
    n_vertices : int, optional
        Expected vertex count (default 10,242 = fsaverage5 hemisphere).
    name : str, optional
        Used in error messages.

    Returns
    -------
    numpy.ndarray of float64

    Raises
    ------
    ValueError
        Wrong vertex count, or NaN/inf values (with how many and where).
    """
    n_vertices = check_int(n_vertices, "n_vertices", min=1)
    try:
        arr = as_array(values, name, finite=False)
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
    if arr.ndim == 0 or arr.shape[-1] != n_vertices:
        raise ValueError(f"{name}: expected {n_vertices} vertices on the last axis, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if bad.any():
        first = np.argwhere(bad)[0].tolist()
        raise ValueError(f"{name}: {int(bad.sum())} non-finite values (NaN/inf), first at index {first}; "
                         "mask or fill them explicitly before analysis")
    return arr


class SurfaceData(NamedTuple):
    """What :func:`read_surface_file` found: ``values`` (n_maps, n_vertices), map ``names``,
    ``hemisphere`` ("L"/"R" from the file's own metadata, else None) and ``description``
    (one sentence saying what was read, for results and messages)."""

    values: np.ndarray
    names: list
    hemisphere: str | None
    description: str


#: Vertex counts of one hemisphere of the surfaces the library knows.
SURFACE_VERTICES = {"fsaverage5": N_VERTICES_FSAVERAGE5, "conte69": 32492}
_SURFACE_EXTENSIONS = (".gii", ".gii.gz", ".mgh", ".mgz")


def _load_image(path: Path, kind: str):
    """nibabel's image, any reading failure reported as one line naming the file."""
    import nibabel as nib

    try:
        img = nib.load(path)
        if kind == "MGH":
            img.get_fdata()                  # a truncated .mgz fails only when its data are read
        else:
            for d in img.darrays:
                np.asarray(d.data)
        return img
    except (OSError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError, MemoryError,
            UnicodeDecodeError, Exception) as err:  # noqa: BLE001 - nibabel/expat/zlib raise many types
        detail = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise ValueError(f"map: cannot read {path.name} as a {kind} file ({detail}); expected a complete "
                         f"{kind} surface file (is it truncated, or another format with this extension?)") from None


def read_surface_file(path, *, n_vertices=None) -> SurfaceData:
    """Read every map in a surface file, refusing anything that is not clearly per-vertex data.

    The one reading of surface files shared by :func:`load_surface_map` (one
    map) and :func:`qmrigenes.association.read_map` (one or several maps).

    Parameters
    ----------
    path : str or Path
        GIFTI (``.gii``, ``.gii.gz``): each data array of shape (V,) is one map; an
        array of shape (V, k) or (k, V) holds k maps. FreeSurfer MGH (``.mgh``,
        ``.mgz``): shape (V, 1, 1) is one map, (V, 1, 1, k) holds k frames = k maps.
    n_vertices : int or sequence of int, optional
        Accepted vertex counts V; default fsaverage5 (10,242) or conte69 / fsLR 32k (32,492).

    Returns
    -------
    SurfaceData

    Raises
    ------
    ValueError
        Unreadable or truncated file, no data, or a shape that is not V values per
        map (the message names the file, the shape found and the shapes expected).

    Examples
    --------
    >>> data = read_surface_file("lh.thickness.fsaverage5.gii")        # doctest: +SKIP
    >>> data.values.shape, data.description                              # doctest: +SKIP
    ((1, 10242), 'lh.thickness.fsaverage5.gii: 1 GIFTI data array of 10,242 vertices (fsaverage5)')
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path to a .gii/.gii.gz/.mgh/.mgz file, got {describe(path)}")
    path = Path(path)
    allowed = tuple(SURFACE_VERTICES.values()) if n_vertices is None else \
        ((n_vertices,) if isinstance(n_vertices, (int, np.integer)) else tuple(n_vertices))
    allowed = tuple(check_int(v, "n_vertices", min=1) for v in allowed)
    want = " or ".join(str(v) for v in allowed)
    low = path.name.lower()
    if not low.endswith(_SURFACE_EXTENSIONS):
        raise ValueError(f"{path}: expected a .gii, .gii.gz, .mgh or .mgz file")
    if not path.is_file():
        raise FileNotFoundError(f"map: no such file {str(path)!r}")
    hemi = None
    if low.endswith((".gii", ".gii.gz")):
        img = _load_image(path, "GIFTI")
        arrays = [np.asarray(d.data) for d in img.darrays]
        if not arrays:
            raise ValueError(f"map: {path.name} has no data array; expected one or more arrays of {want} values")
        structure = str(img.meta.get("AnatomicalStructurePrimary", "")) if img.meta is not None else ""
        for d in img.darrays:
            if d.meta is not None and not structure:
                structure = str(d.meta.get("AnatomicalStructurePrimary", ""))
        hemi = {"cortexleft": "L", "cortexright": "R"}.get(structure.lower())
        blocks, v = [], None
        for i, a in enumerate(arrays):
            a = np.squeeze(a) if a.ndim > 1 and 1 in a.shape else a
            if a.ndim == 1 and a.size in allowed:
                blocks.append(a[None, :])
            elif a.ndim == 2 and a.shape[0] in allowed:
                blocks.append(a.T)
            elif a.ndim == 2 and a.shape[1] in allowed:
                blocks.append(a)
            else:
                raise ValueError(f"map: {path.name} data array {i + 1} of {len(arrays)} has shape {a.shape}; "
                                 f"expected ({want},) per map, or (V, k) / (k, V) with V = {want} vertices")
            if v is not None and blocks[-1].shape[1] != v:
                raise ValueError(f"map: {path.name} mixes data arrays of {v:,} and {blocks[-1].shape[1]:,} vertices")
            v = blocks[-1].shape[1]
        values = np.vstack(blocks)
        what = f"{len(arrays)} GIFTI data array{'s' if len(arrays) > 1 else ''}"
    else:
        img = _load_image(path, "MGH")
        data = np.asarray(img.get_fdata())
        shape = data.shape
        n_vert = int(np.prod(shape[:3])) if data.ndim >= 3 else int(data.size)
        frames = int(np.prod(shape[3:])) if data.ndim > 3 else 1
        if n_vert not in allowed:
            raise ValueError(f"map: {path.name} has {frames:,} frame{'s' if frames > 1 else ''} of {n_vert:,} "
                             f"vertices (data shape {shape}); expected {want} vertices per frame "
                             f"(one hemisphere of fsaverage5 or conte69)")
        values = data.reshape(n_vert, frames).T
        what = f"{frames:,} MGH frame{'s' if frames > 1 else ''}"
    if values.dtype.kind not in "iuf":
        raise ValueError(f"map: {path.name} holds {values.dtype} data; expected numbers per vertex")
    values = values.astype(float)
    if np.isinf(values).any():
        raise ValueError(f"map: {path.name} contains {int(np.isinf(values).sum())} infinite values; "
                         f"replace them (NaN marks vertices to ignore)")
    surf = {v: k for k, v in SURFACE_VERTICES.items()}.get(values.shape[1], "surface")
    stem = path.name
    for ext in _SURFACE_EXTENSIONS:
        if low.endswith(ext):
            stem = path.name[: -len(ext)]
            break
    names = [stem] if len(values) == 1 else [f"{stem}[{i}]" for i in range(len(values))]
    desc = f"{path.name}: {what}, {len(values)} map{'s' if len(values) > 1 else ''} of {values.shape[1]:,} vertices ({surf})"
    return SurfaceData(values, names, hemi, desc)


def load_surface_map(path, *, n_vertices: int = N_VERTICES_FSAVERAGE5) -> np.ndarray:
    """Load one per-subject surface map (e.g. R1 sampled at 50% depth).

    Parameters
    ----------
    path : str or Path
        A GIFTI functional/shape file (``.gii``, ``.gii.gz``) or a FreeSurfer MGH
        file (``.mgh``/``.mgz``) holding exactly one map (read by
        :func:`read_surface_file`; files with several arrays or frames are refused).
    n_vertices : int, optional
        Expected vertex count; default fsaverage5 (10,242).

    Returns
    -------
    numpy.ndarray, shape (n_vertices,)

    Raises
    ------
    ValueError
        Unknown extension, unreadable file, several maps, wrong vertex count, or
        non-finite values.
    """
    if not isinstance(path, (str, Path)):
        raise TypeError(f"path must be a str or Path to a .gii/.mgh/.mgz file, got {describe(path)}")
    data = read_surface_file(path, n_vertices=n_vertices)
    if len(data.values) > 1:
        raise ValueError(f"{path}: expected one value per vertex, got {len(data.values)} maps "
                         f"({data.description}); select one map before loading")
    return check_surface_map(data.values[0], n_vertices=n_vertices, name=str(path))


# --------------------------------------------------------------------------- smoothing
def mesh_adjacency(faces, n_vertices: int) -> sp.csr_matrix:
    """Symmetric 0/1 vertex adjacency (n_vertices, n_vertices) from triangle faces."""
    n_vertices = check_int(n_vertices, "n_vertices", min=1)
    faces = _check_faces(faces, n_vertices)
    i = faces[:, [0, 1, 2]].ravel()
    j = faces[:, [1, 2, 0]].ravel()
    a = sp.coo_matrix((np.ones(i.size), (i, j)), shape=(n_vertices, n_vertices)).tocsr()
    a = ((a + a.T) > 0).astype(float)
    return a.tocsr()


def cotangent_laplacian(coords, faces) -> tuple[sp.csr_matrix, np.ndarray]:
    """Cotangent stiffness matrix and lumped (barycentric) vertex areas.

    Returns
    -------
    stiffness : scipy.sparse.csr_matrix, shape (n, n)
        Positive semi-definite ``L`` with ``L @ 1 = 0`` (FEM discretisation of
        ``-Laplace-Beltrami``).
    area : numpy.ndarray, shape (n,)
        One third of the area of the faces around each vertex (mm^2).
    """
    x, f = _check_mesh((coords, faces), "mesh")
    n = len(x)
    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, o = f[:, k], f[:, (k + 1) % 3], f[:, (k + 2) % 3]
        u, v = x[i] - x[o], x[j] - x[o]
        cross = np.linalg.norm(np.cross(u, v), axis=1)
        cot = np.einsum("ij,ij->i", u, v) / np.maximum(cross, 1e-12)
        rows += [i, j]
        cols += [j, i]
        vals += [-0.5 * cot, -0.5 * cot]
    off = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(n, n)).tocsr()
    stiffness = off - sp.diags(np.asarray(off.sum(axis=1)).ravel())
    tri_area = 0.5 * np.linalg.norm(np.cross(x[f[:, 1]] - x[f[:, 0]], x[f[:, 2]] - x[f[:, 0]]), axis=1)
    area = np.bincount(f.ravel(), weights=np.repeat(tri_area / 3, 3), minlength=n)
    return stiffness.tocsr(), area


def smooth_surface(data, mesh: Mesh, *, fwhm: float = 6.0) -> np.ndarray:
    """Smooth surface data with a heat kernel of the given FWHM (mm) on the mesh.

    Diffusion ``du/dt = Laplace-Beltrami(u)`` for time ``t = sigma^2 / 2``
    gives, on a locally flat surface, a Gaussian of standard deviation sigma
    (per in-surface axis), so ``sigma = fwhm / (2 sqrt(2 ln 2))``. We use the
    finite-element Laplacian ``A = M^-1 L`` (``L`` cotangent stiffness, ``M``
    lumped vertex areas) and integrate with ``n`` explicit Euler steps
    ``u <- u - dt A u``, ``dt = t / n <= 1 / lambda_max`` (``lambda_max``
    the largest eigenvalue of ``A``, +5%), which keeps every step a stable averaging
    operator. Each step's kernel has variance ``2 dt`` per axis, so the total
    variance, and hence the FWHM, is calibrated whatever ``n``; the operator
    conserves the area-weighted integral. Only sparse matrix products are
    needed (fast for many maps at once). Calibration is tested in
    ``tests/test_surface.py``: the measured FWHM of an impulse response on a
    fine sphere is within a few per cent of the target.

    Parameters
    ----------
    data : array_like, shape (n_vertices,) or (n_maps, n_vertices)
        Values per vertex (finite).
    mesh : Mesh
        Coordinates (mm) and faces, e.g. ``load_fsaverage5()``.
    fwhm : float, optional
        Kernel full width at half maximum in mm, 0 to :data:`MAX_FWHM_MM`
        (100 mm). Default 6 mm (as the poster). ``0`` returns a copy.

    Returns
    -------
    numpy.ndarray, same shape as ``data``

    Raises
    ------
    ValueError
        Non-finite data, wrong vertex count, ``fwhm`` outside [0, 100] mm,
        or a run needing more than :data:`MAX_SMOOTH_STEPS` diffusion steps
        (the message gives the estimate), or a mesh with degenerate faces.
    """
    coords, faces = _check_mesh(mesh)
    fwhm = check_scalar(fwhm, "fwhm", min=0, max=MAX_FWHM_MM, unit="mm",
                        hint=" (FWHM is in millimetres; 6,000 would be micrometres)")
    arr = check_surface_map(data, n_vertices=len(coords), name="data to smooth")
    if fwhm == 0:
        return arr.copy()
    t = (fwhm * FWHM_TO_SIGMA) ** 2 / 2
    stiffness, area = cotangent_laplacian(coords, faces)
    if not (area > 0).all():
        raise ValueError(f"mesh has {int((area <= 0).sum())} vertices in no face (zero area); "
                         f"remove unused vertices before smoothing")
    op = (sp.diags(1.0 / area) @ stiffness).tocsr()
    lam_max = _largest_eigenvalue(stiffness, area)
    n_steps = max(1, int(np.ceil(t * lam_max)))
    if n_steps > MAX_SMOOTH_STEPS:
        raise ValueError(f"fwhm={fwhm:g} mm on this mesh needs {n_steps:,} diffusion steps (limit "
                         f"{MAX_SMOOTH_STEPS:,}); check the units (mm) or use a coarser mesh")
    dt = t / n_steps
    u = arr.reshape(-1, len(coords)).T.copy()          # (n_vertices, n_maps)
    for _ in range(n_steps):
        u -= dt * (op @ u)
    return u.T.reshape(arr.shape)


def _largest_eigenvalue(stiffness, area) -> float:
    """Largest eigenvalue of M^-1 L (via the symmetric M^-1/2 L M^-1/2), plus 5%."""
    from scipy.sparse.linalg import eigsh

    scale = sp.diags(1.0 / np.sqrt(area))
    sym = scale @ stiffness @ scale
    try:
        lam = eigsh(sym, k=1, which="LA", return_eigenvectors=False,
                    v0=np.ones(len(area)), tol=1e-3)[0]
    except Exception:  # pragma: no cover - fall back to the Gershgorin bound
        lam = np.max(np.asarray(abs(sym).sum(axis=1)).ravel())
    return 1.05 * float(lam)


def kernel_fwhm(kernel, mesh: Mesh, center: int) -> float:
    """FWHM (mm) of a smoothing kernel from its second moment.

    For an isotropic 2-D Gaussian, ``E[r^2] = 2 sigma^2``; we take the
    area-weighted second moment of ``kernel`` around vertex ``center``
    (Euclidean distance, fine for kernels small relative to curvature) and
    return ``sqrt(E[r^2] / 2) * 2 sqrt(2 ln 2)``.
    """
    coords, faces = _check_mesh(mesh)
    center = check_int(center, "center", min=0, max=len(coords) - 1)
    kernel = check_surface_map(kernel, n_vertices=len(coords), name="kernel")
    if kernel.ndim != 1:
        raise ValueError(f"kernel must be 1-D (one value per vertex), got shape {kernel.shape}")
    _, area = cotangent_laplacian(coords, faces)
    w = kernel * area
    if not w.sum() > 0:
        raise ValueError("kernel must have a positive integral (a smoothed impulse), got <= 0")
    r2 = ((coords - coords[center]) ** 2).sum(axis=1)
    return float(np.sqrt((w * r2).sum() / w.sum() / 2) / FWHM_TO_SIGMA)


# --------------------------------------------------------------------------- parcellation
def dk_labels(*, hemisphere: str = "L", surface: str = "fsaverage5") -> np.ndarray:
    """DK region name per vertex (``"unknown"``/``"corpuscallosum"`` on the medial wall).

    Parameters
    ----------
    hemisphere : {"L", "R"}
    surface : {"fsaverage5", "conte69"}

    Returns
    -------
    numpy.ndarray of object, shape (10242,) or (32492,)
    """
    check_choice(hemisphere, "hemisphere", list(_HEMI))
    loaders = {"fsaverage5": load_dk_fsaverage5, "conte69": load_dk_conte69}
    if surface not in loaders:
        raise ValueError(f"surface must be one of {tuple(loaders)}, got {surface!r}")
    table = loaders[surface]()
    return table.loc[table["hemisphere"] == hemisphere, "region"].to_numpy()


#: Cortical atlases with labels on the surface (for :func:`parcel_labels` and spins).
ATLASES = ("dk", "schaefer100")


def parcel_labels(*, atlas: str = "dk", hemisphere: str = "L", surface: str = "fsaverage5") -> np.ndarray:
    """Region name per vertex for a cortical atlas (``"unknown"`` etc. on the medial wall).

    Parameters
    ----------
    atlas : {"dk", "schaefer100"}
        ``"dk"``: Desikan-Killiany (:func:`dk_labels`); ``"schaefer100"``: the
        Schaefer-2018 100-parcel 7-network atlas (imaging-transcriptomics'
        fsaverage5 annot files), region names as ``"Vis_1"``.
    hemisphere : {"L", "R"}
    surface : {"fsaverage5", "conte69"}
        Schaefer-100 labels are registered on fsaverage5 only.

    Returns
    -------
    numpy.ndarray of object, shape (10242,) or (32492,)

    Examples
    --------
    >>> labels = parcel_labels(atlas="schaefer100", hemisphere="R")   # doctest: +SKIP
    >>> sorted(set(labels))[:2]                                        # doctest: +SKIP
    ['Cont_1', 'Cont_2']
    """
    check_choice(atlas, "atlas", list(ATLASES))
    if atlas == "dk":
        return dk_labels(hemisphere=hemisphere, surface=surface)
    check_choice(hemisphere, "hemisphere", list(_HEMI))
    if surface != "fsaverage5":
        raise ValueError(f"surface: Schaefer-100 labels are registered on fsaverage5 only, got {surface!r}; "
                         f"resample the map to fsaverage5 or use atlas='dk'")
    from .datasets import load_schaefer100_fsaverage5

    table = load_schaefer100_fsaverage5()
    return table.loc[table["hemisphere"] == hemisphere, "region"].to_numpy()


def parcellate(values, labels, *, regions=DK_CORTICAL_REGIONS, nan_policy: str = "raise"):
    """Mean of vertex values within each region.

    Parameters
    ----------
    values : array_like, shape (n_vertices,) or (n_maps, n_vertices)
        Finite values per vertex.
    labels : array_like of str, shape (n_vertices,)
        Region per vertex (e.g. :func:`dk_labels`). Vertices whose label is
        not in ``regions`` (medial wall) are ignored.
    regions : sequence of str, optional
        Output regions, default the 34 DK cortical regions.
    nan_policy : {"raise", "omit"}, optional
        ``"raise"`` (default): any non-finite value is an error.
        ``"omit"``: region means over finite values only (use when a map has
        its own medial-wall mask); a region with no finite value is an error.

    Returns
    -------
    pandas.Series (regions) or pandas.DataFrame (n_maps x regions)

    Raises
    ------
    ValueError
        Values/labels length mismatch, non-finite values, or a requested
        region with no vertex.
    """
    labels = _check_labels(labels)
    check_choice(nan_policy, "nan_policy", ["raise", "omit"])
    if nan_policy == "raise":
        arr = check_surface_map(values, n_vertices=labels.size, name="values to parcellate")
    else:
        arr = as_array(values, "values", finite=False)
        if arr.ndim == 0 or arr.shape[-1] != labels.size:
            raise ValueError(f"values to parcellate: expected {labels.size} vertices, got shape {arr.shape}")
        if np.isinf(arr).any():
            raise ValueError("values must be finite or NaN (omitted) with nan_policy='omit', "
                             f"got {int(np.isinf(arr).sum())} infinite value(s)")
    if arr.ndim > 2:
        raise ValueError(f"values must be 1-D or 2-D (n_maps, n_vertices), got shape {arr.shape}")
    regions = check_region_names(regions)
    empty = [r for r in regions if not (labels == r).any()]
    if empty:
        raise ValueError(f"regions not in the atlas labels: {empty}")
    flat = arr.reshape(-1, labels.size)
    cols = []
    for r in regions:
        block = flat[:, labels == r]
        ok = np.isfinite(block)
        if not ok.any(axis=1).all():
            raise ValueError(f"region {r!r} has no finite value")
        cols.append(np.where(ok, block, 0).sum(axis=1) / ok.sum(axis=1))
    out = np.column_stack(cols)
    index = pd.Index(regions, name="region")
    if arr.ndim == 1:
        return pd.Series(out[0], index=index)
    return pd.DataFrame(out, columns=index)


def _check_labels(labels, name: str = "labels") -> np.ndarray:
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"{name} must be one region name per vertex, got a bare string {labels!r}")
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one region name per vertex), got shape {labels.shape}")
    return labels


def regions_to_vertices(values: pd.Series, labels) -> np.ndarray:
    """Paint regional values onto vertices (NaN where the label has no value).

    Raises ``ValueError`` if ``values`` names a region absent from ``labels``
    or names a region twice, ``TypeError`` if it is not a Series by region.
    """
    if not isinstance(values, pd.Series):
        raise TypeError(f"values must be a pandas Series indexed by region, got {describe(values)}")
    check_unique(values.index, "values.index (region names)")
    as_array(values, "values", allow_nan=True)
    labels = _check_labels(labels)
    absent = [r for r in values.index if not (labels == r).any()]
    if absent:
        raise ValueError(f"regions not in the atlas labels: {absent}")
    return pd.Series(labels).map(values).to_numpy(dtype=float)


def parcel_centroids(sphere_coords, labels, *, regions) -> np.ndarray:
    """Centroids of regions on a spherical surface.

    The centroid is the vertex closest to the mean of the region's vertex
    coordinates (neuromaps' ``"surface"`` method), so it lies on the sphere.

    Parameters
    ----------
    sphere_coords : array_like, shape (n_vertices, 3)
    labels : array_like of str, shape (n_vertices,)
    regions : sequence of str
        Regions, in the order of the output rows.

    Returns
    -------
    numpy.ndarray, shape (n_regions, 3)
    """
    coords = as_array(sphere_coords, "sphere_coords", ndim=2)
    if coords.shape[1] != 3:
        raise ValueError(f"sphere_coords must have shape (n_vertices, 3), got {coords.shape}")
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be one region name per vertex, got {describe(labels)}")
    labels = np.asarray(labels)
    if labels.shape != (len(coords),):
        raise ValueError(f"labels must have shape ({len(coords)},) (one per vertex), got {labels.shape}")
    regions = check_region_names(regions)
    out = []
    for r in regions:
        mask = labels == r
        if not mask.any():
            raise ValueError(f"region {r!r} is not in the atlas labels")
        mean = coords[mask].mean(axis=0)
        idx = np.flatnonzero(mask)[np.argmin(((coords[mask] - mean) ** 2).sum(axis=1))]
        out.append(coords[idx])
    return np.asarray(out)


def sphere_centroids(*, hemisphere: str = "L", regions=None, atlas: str = "dk") -> pd.DataFrame:
    """Centroids of an atlas's regions on the fsaverage5 sphere (for spin tests).

    Parameters
    ----------
    hemisphere : {"L", "R"}
    regions : sequence of str, optional
        Regions in output order; default every region of the atlas in that
        hemisphere (the 34 DK regions, or the 50 Schaefer-100 parcels).
    atlas : {"dk", "schaefer100"}
        See :func:`parcel_labels`.

    Returns
    -------
    pandas.DataFrame, shape (n_regions, 3)
        Index: the regions in the given order; columns ``x``, ``y``, ``z`` (mm on
        the sphere). Pass to :func:`qmrigenes.stats.spatial.spin_permutations`.
    """
    if hemisphere not in _HEMI:
        raise ValueError(f"hemisphere must be 'L' or 'R', got {hemisphere!r}")
    labels = parcel_labels(atlas=atlas, hemisphere=hemisphere)
    if regions is None:
        regions = DK_CORTICAL_REGIONS if atlas == "dk" else list(dict.fromkeys(r for r in labels if r != "unknown"))
    sphere = load_fsaverage5(hemisphere=hemisphere, surface="sphere")
    coords = parcel_centroids(sphere.coords, labels, regions=regions)
    return pd.DataFrame(coords, index=pd.Index(list(regions), name="region"), columns=["x", "y", "z"])


# --------------------------------------------------------------------------- NSPN / clinical / HCP
def nspn_to_dk(values: pd.DataFrame, parcels: pd.DataFrame, *, hemisphere: str = "L") -> pd.DataFrame:
    """Average NSPN sub-parcels (500.aparc, 308 parcels) into DK regions.

    Each DK region of the 500.aparc scheme is split into 1-n sub-parcels of
    roughly equal area (``lh_superiorfrontal_part1`` ...); the DK value is the
    unweighted mean of its sub-parcels (equal areas make this close to the
    area-weighted mean).

    Parameters
    ----------
    values : pandas.DataFrame, shape (n_subjects, 308)
        ``load_nspn_mt().values``.
    parcels : pandas.DataFrame, shape (308, 3)
        ``load_nspn_mt().parcels`` (``hemisphere``, ``region``, ``part``).
    hemisphere : {"L", "R"}

    Returns
    -------
    pandas.DataFrame, shape (n_subjects, 34)
        Columns in :data:`DK_CORTICAL_REGIONS` order.
    """
    if not isinstance(values, pd.DataFrame) or not isinstance(parcels, pd.DataFrame):
        raise TypeError("values and parcels must be DataFrames (load_nspn_mt().values / .parcels), "
                        f"got {describe(values)} and {describe(parcels)}")
    check_choice(hemisphere, "hemisphere", list(_HEMI))
    check_unique(values.columns, "values.columns (parcel names)")
    missing = values.columns.difference(parcels.index)
    if len(missing):
        raise ValueError(f"value columns without parcel info: {list(missing)[:10]}")
    info = parcels.loc[values.columns]
    unknown = sorted(set(info["region"]) - set(DK_CORTICAL_REGIONS))
    if unknown:
        raise ValueError(f"sub-parcels of regions not in the DK atlas: {unknown}")
    keep = (info["hemisphere"] == hemisphere).to_numpy()
    sub = values.loc[:, keep]
    as_array(sub, "values")
    out = sub.T.groupby(info.loc[keep, "region"].to_numpy()).mean().T
    absent = [r for r in DK_CORTICAL_REGIONS if r not in out.columns]
    if absent:
        raise ValueError(f"no sub-parcel for DK regions {absent}")
    out = out[list(DK_CORTICAL_REGIONS)]
    out.columns.name = "region"
    return out


def load_neuromorphometrics_crosswalk(path=None) -> pd.DataFrame:
    """The Neuromorphometrics -> DK crosswalk (one row per label-region pair).

    Returns
    -------
    pandas.DataFrame
        Columns ``neuromorphometrics`` (label as in the clinical MPM table),
        ``dk_region`` (DK name, or empty for labels not used: subcortical,
        white matter, or cortex split across DK regions) and ``note``.
    """
    table = pd.read_csv(package_file(_CROSSWALK) if path is None else path, keep_default_na=False)
    need = {"neuromorphometrics", "dk_region", "note"}
    if not need <= set(table.columns):
        raise ValueError(f"crosswalk needs columns {sorted(need)}, has {list(table.columns)}")
    bad = sorted(set(table["dk_region"]) - set(DK_CORTICAL_REGIONS) - {""})
    if bad:
        raise ValueError(f"crosswalk names regions not in the DK atlas: {bad}")
    if (table["note"].str.strip() == "").any():
        raise ValueError("every crosswalk row needs a note")
    return table


def neuromorphometrics_to_dk(values: pd.DataFrame, *, crosswalk: pd.DataFrame | None = None) -> pd.DataFrame:
    """Map Neuromorphometrics regional values to the 34 DK cortical regions.

    Each DK region gets the unweighted mean of the Neuromorphometrics labels
    the crosswalk assigns to it (region volumes are not in the data, so no
    weighting). A label assigned to two DK regions contributes to both.

    Parameters
    ----------
    values : pandas.DataFrame, shape (n_rows, n_labels)
        Columns are Neuromorphometrics labels (all must appear in the
        crosswalk, mapped or explicitly unmapped).
    crosswalk : pandas.DataFrame, optional
        Default :func:`load_neuromorphometrics_crosswalk`.

    Returns
    -------
    pandas.DataFrame, shape (n_rows, 34)
    """
    if not isinstance(values, pd.DataFrame):
        raise TypeError(f"values must be a DataFrame with Neuromorphometrics labels as columns, "
                        f"got {describe(values)}")
    check_unique(values.columns, "values.columns (Neuromorphometrics labels)")
    cw = load_neuromorphometrics_crosswalk() if crosswalk is None else crosswalk
    unknown = [c for c in values.columns if c not in set(cw["neuromorphometrics"])]
    if unknown:
        raise ValueError(f"labels not in the crosswalk: {unknown}")
    used = cw[(cw["dk_region"] != "") & cw["neuromorphometrics"].isin(values.columns)]
    absent = [r for r in DK_CORTICAL_REGIONS if r not in set(used["dk_region"])]
    if absent:
        raise ValueError(f"no Neuromorphometrics label for DK regions {absent}")
    as_array(values[used["neuromorphometrics"].unique()], "values")
    out = pd.DataFrame({r: values[g["neuromorphometrics"].tolist()].mean(axis=1)
                        for r, g in used.groupby("dk_region")})
    out = out[list(DK_CORTICAL_REGIONS)]
    out.columns.name = "region"
    return out


def hcp_t1wt2w_dk(*, hemisphere: str = "L") -> pd.Series:
    """HCP group T1w/T2w (BrainSpace, conte69 32k) averaged within DK regions.

    The BrainSpace map is NaN on its own medial-wall mask, which overlaps the
    edges of a few DK regions (about 100 of ~29,700 labelled left vertices);
    those vertices are omitted from the region means.
    """
    from .datasets import load_hcp_t1wt2w

    check_choice(hemisphere, "hemisphere", list(_HEMI))
    values = load_hcp_t1wt2w().to_numpy()
    n = values.size // 2
    part = values[:n] if hemisphere == "L" else values[n:]
    return parcellate(part, dk_labels(hemisphere=hemisphere, surface="conte69"),
                      nan_policy="omit").rename("T1w/T2w")
