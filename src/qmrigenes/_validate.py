"""Shared input checks for the public functions of :mod:`qmrigenes` (private).

Every helper raises :class:`ValueError` (wrong value) or :class:`TypeError`
(wrong kind of object) with a message that names the argument, says what was
expected and shows what was given, e.g.::

    TypeError: n_perm must be an integer, got float 1000.0 (write n_perm=1000)

The helpers return the checked value in a canonical form (a float array, a
Python ``int`` or ``float``, a :class:`numpy.random.Generator`, a ``dict`` of
gene lists), so callers use the return value rather than the raw input.
"""
from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = [
    "as_array", "check_finite", "check_int", "check_scalar", "check_choice",
    "check_unique", "align_index", "check_gene_sets", "check_genes",
    "check_seed", "check_frame", "check_not_constant", "check_bool", "describe",
    "check_voxel_size", "check_volume", "check_mask", "check_qsm_inputs", "check_output_path", "atomic_write",
]


def describe(value, limit: int = 60) -> str:
    """A short ``type value`` description of ``value`` for an error message."""
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, pd.DataFrame):
        return f"DataFrame of shape {value.shape}"
    if isinstance(value, pd.Series):
        return f"Series of length {len(value)}"
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{type(value).__name__} {text}"


def _examples(items, n: int = 5) -> str:
    items = list(items)
    shown = ", ".join(repr(i) for i in items[:n])
    return shown + (f", ... ({len(items)} in all)" if len(items) > n else "")


# ---- arrays ------------------------------------------------------------------

def as_array(value, name: str, *, ndim: int | tuple[int, ...] | None = None,
             shape: tuple | None = None, finite: bool = True,
             allow_nan: bool = False, min_size: int = 1,
             dtype=float) -> np.ndarray:
    """``value`` as a numeric array, checked.

    Parameters
    ----------
    value : array-like
        Input to check.
    name : str
        Argument name used in error messages.
    ndim : int or tuple of int, optional
        Allowed number(s) of dimensions; a 2-D array where 1-D is expected is
        refused (never silently ravelled).
    shape : tuple, optional
        Required shape; ``None`` entries match any length.
    finite : bool, default True
        Refuse ``NaN`` and ``±inf``.
    allow_nan : bool, default False
        With ``finite=True``, accept ``NaN`` (missing values) but still refuse
        ``±inf``.
    min_size : int, default 1
        Smallest number of elements accepted.
    dtype : numpy dtype, default float
        Output dtype; booleans, strings and objects are refused.

    Returns
    -------
    numpy.ndarray
    """
    if value is None:
        raise TypeError(f"{name} must be a numeric array, got None")
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {describe(value)}")
    if isinstance(value, (pd.DataFrame, pd.Series)):
        raw = value.to_numpy()
    else:
        try:
            raw = np.asarray(value)
        except (ValueError, TypeError) as err:  # ragged lists
            raise TypeError(f"{name} must be a rectangular numeric array "
                            f"({err})") from None
    if raw.dtype == bool:
        raise TypeError(f"{name} must be numeric, got a boolean array "
                        f"(convert with .astype(float) if that is intended)")
    if raw.dtype.kind in "USVMm":
        raise TypeError(f"{name} must be numeric, got dtype {raw.dtype} (text or dates; "
                        f"convert numbers read as text with pd.to_numeric first)")
    if raw.dtype.kind == "O":
        bad = [v for v in raw.ravel()[:100_000] if isinstance(v, (str, bytes, bool, np.bool_))
               or not isinstance(v, (numbers.Real, type(None)))]
        if bad:
            raise TypeError(f"{name} must be numeric, got non-numeric entries such as {bad[0]!r}")
        raw = np.array([np.nan if v is None else v for v in raw.ravel()], dtype=float).reshape(raw.shape)
    if raw.dtype.kind == "c":
        raise TypeError(f"{name} must be real, got a complex array")
    arr = raw.astype(dtype, copy=False) if dtype is not None else raw
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{name} must be {want}, got a {arr.ndim}-D array "
                             f"of shape {arr.shape}")
    if shape is not None:
        ok = len(shape) == arr.ndim and all(
            s is None or s == a for s, a in zip(shape, arr.shape))
        if not ok:
            want = "(" + ", ".join("any" if s is None else str(s)
                                   for s in shape) + (",)" if len(shape) == 1 else ")")   # as Python prints it
            raise ValueError(f"{name} must have shape {want}, got {arr.shape}")
    if arr.size < min_size:
        raise ValueError(f"{name} must have at least {min_size} element(s), "
                         f"got {arr.size}")
    if finite:
        check_finite(arr, name, allow_nan=allow_nan)
    return arr


def check_finite(arr, name: str, *, allow_nan: bool = False) -> None:
    """Raise ``ValueError`` if ``arr`` holds ``±inf`` (or ``NaN`` unless allowed)."""
    a = np.asarray(arr)
    if a.dtype.kind not in "fc":
        return
    with np.errstate(over="ignore", invalid="ignore"):   # the full check below reports, not numpy
        total = np.sum(a) if a.size else 0.0
    if a.size and np.isfinite(total):         # one pass, no temporary: a NaN or an inf would make the
        return                                # sum non-finite (a finite overflow falls through)
    n_inf = int(np.isinf(a).sum())
    n_nan = 0 if allow_nan else int(np.isnan(a).sum())
    if n_inf or n_nan:
        parts = []
        if n_nan:
            parts.append(f"{n_nan} NaN")
        if n_inf:
            parts.append(f"{n_inf} infinite")
        first = np.argwhere(~np.isfinite(a) if not allow_nan else np.isinf(a))[0]
        where = tuple(int(i) for i in first)
        where = where[0] if len(where) == 1 else where
        raise ValueError(f"{name} must be finite, got {n_inf + n_nan} non-finite value(s) "
                         f"({' and '.join(parts)}; first at index {where})")


def check_not_constant(arr, name: str, *, what: str = "values") -> None:
    """Raise ``ValueError`` if ``arr`` has no variance (a statistic from nothing).

    NaN entries are ignored; fewer than two finite values also count as constant.
    """
    a = np.asarray(arr, dtype=float).ravel()
    a = a[np.isfinite(a)]
    if a.size < 2 or np.ptp(a) == 0:
        raise ValueError(f"{name} is constant (or has fewer than two finite "
                         f"{what}); a correlation with it is undefined")


def check_frame(value, name: str, *, index_name: str = "region") -> pd.DataFrame:
    """``value`` must be a DataFrame with a unique index of ``index_name`` labels."""
    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame indexed by "
                        f"{index_name}, got {describe(value)}")
    check_unique(value.index, f"{name}.index ({index_name} names)")
    return value


# ---- scalars -----------------------------------------------------------------

def check_int(value, name: str, *, min: int | None = None,
              max: int | None = None, hint: str = "") -> int:
    """``value`` as a Python ``int`` within ``[min, max]``.

    Booleans and floats (even ``1e3``) are refused with ``TypeError``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Integral, np.integer)):
        fix = ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            fix = f" (write {name}={int(value)})"
        raise TypeError(f"{name} must be an integer, got {describe(value)}{fix}")
    value = int(value)
    if min is not None and value < min:
        raise ValueError(f"{name} must be >= {min}, got {value}{hint}")
    if max is not None and value > max:
        raise ValueError(f"{name} must be <= {max}, got {value}{hint}")
    return value


def check_scalar(value, name: str, *, min: float | None = None,
                 max: float | None = None, unit: str = "",
                 min_inclusive: bool = True, max_inclusive: bool = True,
                 hint: str = "") -> float:
    """``value`` as a finite Python ``float`` within the given range.

    ``unit`` (e.g. ``"mm"``) is printed after the numbers in messages.
    Strings, booleans, ``None`` and arrays are refused with ``TypeError``.
    """
    u = f" {unit}" if unit else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(
            value, (numbers.Real, np.integer, np.floating)):
        if isinstance(value, np.ndarray) and value.ndim == 0 and \
                value.dtype.kind in "iuf":
            value = value.item()
        else:
            raise TypeError(f"{name} must be a real number{u and ' in' + u}, "
                            f"got {describe(value)}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if min is not None and (value < min or (value == min and not min_inclusive)):
        op = ">=" if min_inclusive else ">"
        raise ValueError(f"{name} must be {op} {min:g}{u}, got {value:g}{u}{hint}")
    if max is not None and (value > max or (value == max and not max_inclusive)):
        op = "<=" if max_inclusive else "<"
        raise ValueError(f"{name} must be {op} {max:g}{u}, got {value:g}{u}{hint}")
    return value


def check_bool(value, name: str) -> bool:
    """``value`` must be ``True`` or ``False`` (not a string such as ``"no"``)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_choice(value, name: str, options) -> object:
    """``value`` must be one of ``options``."""
    options = list(options)
    try:
        ok = value in options
    except TypeError:
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {_examples(options, 10)}, "
                         f"got {describe(value)}")
    return value


def check_seed(seed, name: str = "seed") -> np.random.Generator:
    """``None``, a non-negative ``int`` or a :class:`numpy.random.Generator`."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, (bool, np.bool_)) or not isinstance(
            seed, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be None, a non-negative integer or a "
                        f"numpy.random.Generator, got {describe(seed)}")
    if seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed}")
    return np.random.default_rng(int(seed))


# ---- labels ------------------------------------------------------------------

def check_unique(labels, name: str) -> None:
    """Raise ``ValueError`` naming the duplicated labels."""
    idx = pd.Index(labels)
    if idx.has_duplicates:
        dup = idx[idx.duplicated()].unique()
        raise ValueError(f"{name} must be unique, got {len(dup)} duplicated: "
                         f"{_examples(dup)}")


def align_index(reference, other, name: str, *, ref_name: str = "the map",
                what: str = "region", axis: int = 0, hint: str | None = None):
    """Reorder ``other`` (Series/DataFrame) to the labels of ``reference``.

    Parameters
    ----------
    reference : pandas.Index or sequence
        Labels in the wanted order.
    other : pandas.Series or pandas.DataFrame
        Table to align; ``axis`` selects index (0) or columns (1).
    name, ref_name : str
        Names used in the message.
    hint : str, optional
        How to align, replacing the default advice in the message.

    Returns
    -------
    Same type as ``other``, reindexed to ``reference``.

    Raises
    ------
    ValueError
        If either side has duplicated labels or the two label sets differ;
        the message lists the missing and extra labels and how to align.
    """
    ref = pd.Index(reference)
    labels = other.index if axis == 0 else other.columns
    check_unique(ref, f"{ref_name} {what} names")
    check_unique(labels, f"{name} {what} names")
    if ref.equals(labels):
        return other
    missing = ref.difference(labels)
    extra = pd.Index(labels).difference(ref)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"missing from {name}: {_examples(missing)}")
        if len(extra):
            parts.append(f"not in {ref_name}: {_examples(extra)}")
        raise ValueError(
            f"{name} and {ref_name} must have the same {what} names, "
            f"{'; '.join(parts)}. " + (hint or (
                "Align them first, e.g. `shared = a.index.intersection(b.index)` "
                "and select `.loc[shared]` in both")))
    return other.reindex(ref) if axis == 0 else other.reindex(columns=ref)


# ---- genes -------------------------------------------------------------------

def check_genes(genes, name: str) -> list[str]:
    """A list of unique gene symbols (not a bare string, no duplicates)."""
    if isinstance(genes, (str, bytes)):
        raise TypeError(f"{name} must be a list of gene symbols, got a bare "
                        f"string {genes!r} (write [{genes!r}])")
    if isinstance(genes, Mapping) or not isinstance(genes, Iterable):
        raise TypeError(f"{name} must be a list of gene symbols, got "
                        f"{describe(genes)}")
    genes = list(genes)
    bad = [g for g in genes if not isinstance(g, str)]
    if bad:
        raise TypeError(f"{name} must contain gene symbols (strings), got "
                        f"{describe(bad[0])}")
    if not genes:
        raise ValueError(f"{name} is empty; give at least one gene symbol")
    check_unique(genes, f"{name} (gene symbols)")
    return genes


def check_gene_sets(sets, name: str = "gene_sets") -> dict[str, list[str]]:
    """A mapping ``{set name: [gene, ...]}`` with unique genes per set.

    A bare string, a list of lists or a set of duplicated genes is refused.
    A ``pandas.Series`` of lists is accepted as a mapping.
    """
    if isinstance(sets, pd.Series):
        sets = sets.to_dict()
    if not isinstance(sets, Mapping):
        hint = ""
        if isinstance(sets, (list, tuple)) and sets and \
                all(isinstance(s, (list, tuple, set)) for s in sets):
            hint = " (a list of lists has no set names; use {'name': [genes]})"
        elif isinstance(sets, str):
            hint = f" (a bare string; use {{'my_set': [{sets!r}, ...]}})"
        raise TypeError(f"{name} must be a mapping {{set name: [gene symbols]}}, "
                        f"got {describe(sets)}{hint}")
    if not sets:
        raise ValueError(f"{name} is empty; give at least one gene set")
    out = {}
    for key, genes in sets.items():
        if not isinstance(key, str):
            raise TypeError(f"{name} keys must be set names (strings), got "
                            f"{describe(key)}")
        out[key] = check_genes(genes, f"{name}[{key!r}]")
    return out


def check_region_names(regions, name: str = "regions") -> list:
    """A non-empty list of unique region names (a bare string is refused)."""
    if isinstance(regions, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of region names, got a bare string {regions!r}")
    regions = list(regions)
    if not regions:
        raise ValueError(f"{name} is empty")
    check_unique(regions, name)
    return regions


# ---- volumes (QSM entry points) -----------------------------------------------

def check_voxel_size(voxel_size, name: str = "voxel_size") -> np.ndarray:
    """Three finite, positive voxel sizes (mm), as a float array of shape (3,)."""
    if isinstance(voxel_size, (str, bytes)) or np.ndim(voxel_size) != 1:
        raise TypeError(f"{name} must be three numbers in mm, e.g. (2.0, 2.0, 2.0), got {describe(voxel_size)}")
    vs = as_array(voxel_size, name, shape=(3,), finite=False)
    if not np.isfinite(vs).all() or np.any(vs <= 0):
        raise ValueError(f"{name} must be three finite, positive numbers (mm), got {tuple(vs.tolist())}")
    return vs


def check_volume(value, name: str) -> np.ndarray:
    """A finite 3-D float array (NaN/inf refused: one NaN voxel spreads through every FFT)."""
    return as_array(value, name, ndim=3)


def check_mask(mask, shape, name: str = "mask", *, what: str = "mask", allow_empty: bool = False) -> np.ndarray:
    """A boolean (or 0/1) array of ``shape`` selecting at least one voxel (unless ``allow_empty``)."""
    if mask is None:
        raise TypeError(f"{name} must be a boolean array, got None")
    m = np.asarray(mask)
    if m.dtype != bool:
        if m.dtype.kind not in "iuf" or not np.all(np.isin(m, (0, 1))):
            raise TypeError(f"{name} must be boolean (or 0/1), got dtype {m.dtype}")
        m = m.astype(bool)
    if m.shape != tuple(shape):
        raise ValueError(f"mismatched shapes: {name} {m.shape} vs field {tuple(shape)}")
    if not allow_empty and not m.any():
        raise ValueError(f"{name} is empty (selects no voxel); the {what} must select at least one voxel")
    return m


def check_qsm_inputs(field, mask=None, *, voxel_size=None, field_name: str = "field",
                     mask_name: str = "mask", require_mask: bool = False):
    """The checks every QSM entry point runs first: finite 3-D field, non-empty mask, sane voxels.

    Returns ``(field, mask)`` with ``mask`` None when not given and not required.
    """
    if voxel_size is not None:
        check_voxel_size(voxel_size)
    field = check_volume(field, field_name)
    if mask is None:
        if require_mask:
            raise TypeError(f"{mask_name} must be a boolean array, got None")
        return field, None
    return field, check_mask(mask, field.shape, mask_name)


# ---- output files (the command) ------------------------------------------------

def check_output_path(path, name: str, *, inputs=(), force: bool = False):
    """An output file the command may write: checked before any work.

    Refused: a folder, a missing or unwritable parent folder, one of ``inputs``
    (the user's own files), or an existing file without ``force``.
    """
    import os
    from pathlib import Path

    if path is None:
        return None
    out = Path(path).expanduser()
    text = str(path)
    if not text.strip():
        raise ValueError(f"{name} is empty; give a file name")
    if out.is_dir():
        raise ValueError(f"{name} {text} is a folder; give a file name inside it (e.g. {out / 'results.csv'})")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ValueError(f"{name} {text}: the folder {parent} does not exist; create it first (mkdir -p {parent})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"{name} {text}: the folder {parent} is not writable; choose another folder")
    for item in inputs:
        if item is None:
            continue
        src = Path(item).expanduser()
        try:
            same = src.exists() and out.exists() and os.path.samefile(src, out)
        except OSError:
            same = False
        if same or src.resolve() == out.resolve():
            raise ValueError(f"{name} {text} is an input file; writing there would destroy it. "
                             f"Choose another output name")
    if out.exists() and not force:
        raise ValueError(f"{name} {text} already exists; pass --force to replace it, or choose another name")
    if out.exists() and not os.access(out, os.W_OK):
        raise ValueError(f"{name} {text} exists and is read-only; choose another name")
    return out


def atomic_write(path, write) -> None:
    """Write ``path`` through ``write(temporary_path)`` then rename: never half a file.

    The temporary file sits beside ``path`` (same file system) and is removed
    if ``write`` fails or is interrupted.
    """
    import os
    import tempfile
    from pathlib import Path

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent or ".")
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
