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

import numpy as np
import pandas as pd

from ._validate import check_choice, check_int
from .datasets import DK_CORTICAL_REGIONS, celltype_gene_sets, load_ahba_dk, load_celltype_panel
from .stats.genesets import gene_map_correlations, genes_present
from .stats.spatial import gene_set_association, label_permutations, spin_permutations
from .surface import sphere_centroids

__all__ = ["associate", "read_map", "resolve_gene_sets", "permutation_null", "SUBCORTICAL_REGIONS",
           "NULLS", "MAX_PERM"]

#: The 7 deep grey structures of the AHBA DK table, per hemisphere.
SUBCORTICAL_REGIONS = ("thalamusproper", "caudate", "putamen", "pallidum", "accumbensarea", "hippocampus",
                       "amygdala")
#: Null models :func:`associate` knows.
NULLS = ("genes", "spins", "labels")
#: Upper bound on draws per null (memory grows as draws x sets x maps).
MAX_PERM = 1_000_000
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


def _canonical_region(name: str) -> str:
    key = re.sub(r"[^a-z]", "", name.lower())
    return _SUBCORTICAL_ALIASES.get(key, key)


def _hemisphere_from_filename(name: str) -> str | None:
    low = name.lower()
    if re.search(r"(^|[^a-z])(lh|hemi-l)([^a-z]|$)", low):
        return "L"
    if re.search(r"(^|[^a-z])(rh|hemi-r)([^a-z]|$)", low):
        return "R"
    return None


def read_map(map, *, hemisphere: str | None = None) -> pd.DataFrame:
    """Read a regional or surface map into a table indexed by ``(hemisphere, region)``.

    Parameters
    ----------
    map : str, Path, pandas.Series or pandas.DataFrame
        * a Series or DataFrame indexed by region names (DK cortical regions or
          the 7 deep grey structures), one column per map; labels may carry the
          hemisphere (``lh_bankssts``, ``ctx-rh-insula``, ``Left-Putamen``) or
          take it from ``hemisphere``; a ``hemisphere`` column is also used;
        * a ``.csv``/``.tsv`` file of that shape (first column = region);
        * an fsaverage5 surface file (``.gii``, ``.gii.gz``, ``.mgh``, ``.mgz``,
          10,242 vertices of one hemisphere): parcellated into the 34 DK regions
          (mean over the region's finite vertices; medial wall ignored).
    hemisphere : {"L", "R"}, optional
        Hemisphere of labels that do not name one (and of a surface file whose
        name has no ``lh``/``rh``/``hemi-L``/``hemi-R``).

    Returns
    -------
    pandas.DataFrame, shape (n_regions, n_maps)
        Finite values; row MultiIndex ``(hemisphere, region)`` with canonical
        DK names (lower case, as in the AHBA table).
    """
    if hemisphere is not None and hemisphere not in ("L", "R"):
        raise ValueError(f"hemisphere must be 'L', 'R' or None, got {hemisphere!r}")
    if isinstance(map, (str, Path)):
        path = Path(map)
        if not path.is_file():
            raise FileNotFoundError(f"map: no such file {str(path)!r}")
        name = path.name.lower()
        if name.endswith((".gii", ".gii.gz", ".mgh", ".mgz")):
            return _read_surface_file(path, hemisphere=hemisphere)
        if name.endswith((".csv", ".tsv", ".txt")):
            table = pd.read_csv(path, sep="\t" if name.endswith(".tsv") else ",")
            if table.shape[1] < 2:
                raise ValueError(f"map: {path} needs a region column and at least one value column")
            table = table.set_index(table.columns[0])
            return _regional_table(table, hemisphere=hemisphere, source=str(path))
        raise ValueError(f"map: {path} has an unknown extension; expected .csv, .tsv, .gii, .gii.gz, .mgh or .mgz")
    if isinstance(map, pd.Series):
        return _regional_table(map.to_frame(map.name if map.name is not None else "map"),
                               hemisphere=hemisphere, source="map")
    if isinstance(map, pd.DataFrame):
        return _regional_table(map, hemisphere=hemisphere, source="map")
    if isinstance(map, np.ndarray):
        raise TypeError("map: a bare array has no region names; pass a pandas Series indexed by DK region "
                        "names, or an fsaverage5 surface file (.gii/.mgh) to be parcellated")
    raise TypeError(f"map must be a file path, pandas Series or DataFrame, got {type(map).__name__}")


def _read_surface_file(path: Path, *, hemisphere: str | None) -> pd.DataFrame:
    """Parcellate one fsaverage5 hemisphere (NaN allowed, e.g. on the medial wall) into DK regions."""
    import nibabel as nib

    from .surface import N_VERTICES_FSAVERAGE5, dk_labels, parcellate

    hemi = _hemisphere_from_filename(path.name) or hemisphere
    if hemi is None:
        raise ValueError(f"map: cannot tell the hemisphere of {path.name}; name it lh.*/rh.* or pass "
                         f"hemisphere='L' or 'R'")
    img = nib.load(path)
    if path.name.lower().endswith((".gii", ".gii.gz")):
        if not img.darrays:
            raise ValueError(f"map: {path.name} has no data array")
        data = np.asarray(img.darrays[0].data, dtype=float)
    else:
        data = np.asarray(img.get_fdata(), dtype=float)
    data = data.reshape(-1)
    if data.size != N_VERTICES_FSAVERAGE5:
        raise ValueError(f"map: {path.name} has {data.size} vertices; expected {N_VERTICES_FSAVERAGE5} "
                         f"(one fsaverage5 hemisphere)")
    if np.isinf(data).any():
        raise ValueError(f"map: {path.name} contains infinite values")
    values = parcellate(data, dk_labels(hemisphere=hemi), nan_policy="omit")
    frame = values.to_frame(_stem(path))
    frame.index = pd.MultiIndex.from_arrays([[hemi] * len(frame), frame.index], names=["hemisphere", "region"])
    return _regional_table(frame.droplevel("hemisphere"), hemisphere=hemi, source=path.name)


def _stem(path: Path) -> str:
    name = path.name
    for ext in (".gii.gz", ".gii", ".mgh", ".mgz"):
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def _regional_table(table: pd.DataFrame, *, hemisphere: str | None, source: str) -> pd.DataFrame:
    table = table.copy()
    hemis = None
    if "hemisphere" in table.columns:
        hemis = table.pop("hemisphere").astype(str).str.upper().str[0]
        bad = sorted(set(hemis) - {"L", "R"})
        if bad:
            raise ValueError(f"map: hemisphere column has values {bad}; use L or R")
    if table.shape[1] == 0:
        raise ValueError(f"map: {source} has no value column")
    numeric = table.apply(pd.to_numeric, errors="coerce")
    bad_cols = [c for c in table.columns if numeric[c].isna().any() and not table[c].isna().any()]
    if bad_cols:
        raise ValueError(f"map: column(s) {bad_cols} of {source} are not numeric")
    values = numeric.to_numpy(float)
    if not np.isfinite(values).all():
        rows = table.index[~np.isfinite(values).all(axis=1)].tolist()
        raise ValueError(f"map: {source} has missing or infinite values in regions {rows[:5]}; drop or fill them")
    pairs = [(_split_label(label, hemis.iloc[i] if hemis is not None else hemisphere))
             for i, label in enumerate(table.index)]
    index = pd.MultiIndex.from_tuples(pairs, names=["hemisphere", "region"])
    if index.duplicated().any():
        dup = index[index.duplicated()].tolist()
        raise ValueError(f"map: {source} lists regions more than once: {dup[:5]}")
    out = pd.DataFrame(values, index=index, columns=[str(c) for c in table.columns])
    known = set(DK_CORTICAL_REGIONS) | set(SUBCORTICAL_REGIONS)
    unknown = sorted({r for _, r in index} - known)
    if unknown:
        raise ValueError(f"map: regions {unknown[:5]} are neither DK cortical regions nor deep grey structures "
                         f"(known names, e.g. {sorted(known)[:4]} ...)")
    constant = [c for c in out.columns if np.ptp(out[c].to_numpy()) == 0]
    if constant:
        raise ValueError(f"map: column(s) {constant} are constant; a correlation with them is undefined")
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


# --------------------------------------------------------------------------- nulls
class _Progress:
    """A one-line progress bar on stderr (quiet unless enabled)."""

    def __init__(self, total: int, label: str, enabled: bool):
        self.total, self.label, self.enabled, self.done, self.t0 = total, label, enabled, 0, time.perf_counter()

    def set(self, done: int) -> None:
        self.done = done
        if self.enabled:
            width = 30
            filled = int(width * self.done / self.total)
            sys.stderr.write(f"\r{self.label}: [{'#' * filled}{'.' * (width - filled)}] "
                             f"{self.done:,}/{self.total:,} ({time.perf_counter() - self.t0:.1f} s)")
            if self.done >= self.total:
                sys.stderr.write("\n")
            sys.stderr.flush()


def permutation_null(index: pd.MultiIndex, *, kind: str, n_perm: int, seed: int, method: str = "hungarian",
                     progress: bool = False) -> pd.DataFrame:
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
        Progress bar on stderr while the spins are generated.

    Returns
    -------
    pandas.DataFrame of int, shape (n_perm, n_regions)
        Columns: the regions as ``"L_bankssts"``-style labels (see :func:`_flat`).
    """
    labels = _flat(index)
    if kind == "labels":
        return label_permutations(labels, n_perm=n_perm, seed=seed, max_exact=1)
    if kind != "spins":
        raise ValueError(f"kind must be 'spins' or 'labels', got {kind!r}")
    regions = index.get_level_values("region")
    if not set(regions) <= set(DK_CORTICAL_REGIONS):
        raise ValueError("nulls: spins need DK cortical regions on the sphere; deep grey structures are not on "
                         "the cortical surface — use nulls=('genes', 'labels') for them")
    hemis = index.get_level_values("hemisphere")
    parts = []
    for code, hemi in enumerate(("L", "R")):
        mask = np.asarray(hemis == hemi)
        if mask.any():
            cents = sphere_centroids(hemisphere=hemi, regions=list(regions[mask]))
            cents.index = [f"{hemi}_{r}" for r in cents.index]
            parts.append((cents, code))
    centroids = pd.concat([c for c, _ in parts])
    hemiid = np.concatenate([np.full(len(c), code) for c, code in parts])
    bar = _Progress(n_perm, "spins", progress)
    perms = spin_permutations(centroids, hemiid=hemiid, n_perm=n_perm, seed=seed, method=method,
                              progress=(lambda done, total: bar.set(done)) if progress else None)
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


def associate(map, *, sets="celltypes", nulls=("genes", "spins"), n_perm: int = 10_000, seed: int = 0,
              hemisphere: str | None = None, method: str = "hungarian", progress: bool = False) -> pd.DataFrame:
    """Associate a regional brain map with AHBA gene sets, with gene and spatial nulls.

    Parameters
    ----------
    map : path, pandas.Series or pandas.DataFrame
        A DK-parcellated table (34 cortical regions of either hemisphere, or 68
        of both, named regions in any order; several columns = several maps),
        a deep grey table (the 7 AHBA structures: thalamus, caudate, putamen,
        pallidum, accumbens, hippocampus, amygdala), or an fsaverage5 surface
        file (GIFTI/MGH, parcellated for you). See :func:`read_map`.
    sets : {"celltypes", "iron-myelin"} or mapping of str -> list of str
        Gene sets (see :func:`resolve_gene_sets`).
    nulls : sequence of {"genes", "spins", "labels"}
        ``"genes"``: random gene sets of equal size from the background
        (gene specificity); ``"spins"``: parcel spins on the sphere (spatial
        specificity, cortex only); ``"labels"``: random region permutations
        (any atlas, e.g. deep grey). Default ``("genes", "spins")``.
    n_perm : int
        Draws per null (default 10,000; at most 1,000,000).
    seed : int
        Seed of every null (the same seed gives the same table).
    hemisphere : {"L", "R"}, optional
        Hemisphere of region labels that do not name one.
    method : {"hungarian", "vasa"}
        Spin reassignment.
    progress : bool
        Progress bar on stderr for the spins (the gene null takes about a second).

    Returns
    -------
    pandas.DataFrame
        The set-level table of :func:`qmrigenes.stats.spatial.gene_set_association`
        (the statistic the chapters use), one row per (gene set, map), columns:
        ``gene_set``, ``map``, ``n_regions``, ``n_genes`` (in the set),
        ``n_present`` (in the AHBA table and used), ``r`` (mean Pearson r over
        the used genes), ``p_gene`` and ``p_gene_fdr`` (random gene sets;
        two-sided; BH within each map), ``p_spin``/``p_label`` and their
        ``_fdr``, and ``genes`` (the used genes, comma-separated).
    """
    nulls = _check_nulls(nulls)
    n_perm = check_int(n_perm, "n_perm", min=1, max=MAX_PERM)
    seed = check_int(seed, "seed", min=0)              # neuromaps' spins need a non-negative integer
    check_choice(method, "method", ["hungarian", "vasa"])
    maps = read_map(map, hemisphere=hemisphere)
    expr_all = load_ahba_dk().droplevel("structure")
    missing = [ix for ix in maps.index if ix not in expr_all.index]
    if missing:
        raise ValueError(f"map: the AHBA table has no expression for {missing[:5]}")
    expression = expr_all.loc[list(maps.index)]
    labels = _flat(maps.index)
    expression.index = maps.index = pd.Index(labels, name="region")
    gene_sets, background, _ = resolve_gene_sets(sets, genes=expression.columns)
    present = genes_present(gene_sets, expression.columns)
    empty = present.index[present["n_present"] == 0].tolist()
    if empty:
        raise ValueError(f"sets: no gene of {empty} is in the AHBA table")
    spatial = next((k for k in nulls if k in ("spins", "labels")), None)
    perms = None
    if spatial is not None:
        perms = permutation_null(pd.MultiIndex.from_tuples([tuple(x.split("_", 1)) for x in labels],
                                                           names=["hemisphere", "region"]),
                                 kind=spatial, n_perm=n_perm, seed=seed, method=method, progress=progress)
    # one statistic: the chapters' gene_set_association (random genes; permutations if given)
    table = gene_set_association(expression, maps, gene_sets, background=background, perms=perms,
                                 n_perm=n_perm, seed=seed).reset_index()
    if "genes" not in nulls:
        table = table.drop(columns=["p_gene", "p_gene_fdr"])
    if spatial == "labels":
        table = table.rename(columns={"p_spin": "p_label", "p_spin_fdr": "p_label_fdr"})
    used = genes_present(gene_sets, gene_map_correlations(expression, maps))["genes"]
    table.insert(2, "n_regions", len(maps))
    table["genes"] = table["gene_set"].map(used)
    return table
