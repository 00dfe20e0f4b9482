"""Bad inputs a new user types, across the public functions of the library (issue #10).

Every case asserts the exception *type* and that the message names the
argument (or the registry row). Cases are grouped by module and by kind:

``nonfinite``  NaN / ±inf in arrays and scalars
``shape``      wrong ndim or length (2-D never silently ravelled)
``type``       wrong kind of object (str for a number, 1e3 for a count, bare string for a list)
``range``      a value outside its documented range (with units)
``alignment``  tables whose region/ROI/subject names differ, or repeat
``degenerate`` constant maps or genes, statistics from nothing
``registry``   the data registry and fetch cache
``bounded``    parameters that set the amount of work

The physics modules (qsm, relaxometry, lesions, phantom) have their own file.
Data that would need the real (fetched) files are avoided: checks run first.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pandas as pd
import pytest

from qmrigenes import _validate, ahba, datasets, design, mpm, surface
from qmrigenes import fetch as F
from qmrigenes import figures as fm
from qmrigenes import figures as qfig
from qmrigenes.stats import genesets as gs
from qmrigenes.stats import regression as reg
from qmrigenes.stats import spatial
from qmrigenes.stats.multitest import fdr_by_column

# --------------------------------------------------------------------------- toy data
_RNG = np.random.default_rng(1234)      # module-level data for parametrised cases (seeded)
REGIONS = pd.Index([f"r{i:02d}" for i in range(12)], name="region")
GENES = [f"G{i:03d}" for i in range(40)]
EXPR = pd.DataFrame(_RNG.normal(size=(12, 40)), index=REGIONS, columns=GENES)
MAPS = pd.DataFrame(_RNG.normal(size=(12, 2)), index=REGIONS, columns=["m1", "m2"])
CORR = gs.gene_map_correlations(EXPR, MAPS)
SETS = {"A": GENES[:5], "B": GENES[5:12]}
PERMS = pd.DataFrame(np.array([_RNG.permutation(12) for _ in range(5)]), columns=REGIONS)
CORR_WIDE = pd.DataFrame(_RNG.uniform(-1, 1, size=(40, 50)), index=GENES)


def _with(frame, i, j, value):
    out = frame.copy()
    out.iloc[i, j] = value
    return out


def _const_map():
    return MAPS.assign(m2=3.0)


def _corr_with_constant_set():
    expr = EXPR.copy()
    expr[GENES[20:23]] = 1.0
    return gs.gene_map_correlations(expr, MAPS)


# an octahedron of radius 50 mm: 6 vertices, 8 faces
_OCT_C = 50.0 * np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
_OCT_F = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4],
                   [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
OCT = surface.Mesh(_OCT_C, _OCT_F)
TINY = surface.Mesh(_OCT_C * 1e-4, _OCT_F)      # 5 micrometres: 100 mm would need millions of steps
LABELS6 = np.array(["a", "a", "b", "b", "c", "c"])

# regression: 20 ROIs x 30 genes
ROIS = pd.Index([f"roi{i}" for i in range(20)], name="roi")
X = pd.DataFrame(_RNG.normal(size=(20, 30)), index=ROIS, columns=[f"g{i}" for i in range(30)])
Y = pd.Series(_RNG.normal(size=20), index=ROIS, name="qsm")
OLS = reg.genome_wide_ols(X, Y)
P = pd.Series(_RNG.uniform(size=30), index=X.columns)

# mpm: 3 subjects x 40 regions
SUBJ = pd.Index(["s1", "s2", "s3"], name="subject")
RCOLS = [f"reg{i}" for i in range(40)]
MT = pd.DataFrame(_RNG.normal(0.9, 0.1, (3, 40)), index=SUBJ, columns=RCOLS)
R2 = pd.DataFrame(_RNG.normal(17, 2, (3, 40)), index=SUBJ, columns=RCOLS)
R1 = 0.2 + 0.3 * MT + 0.01 * R2 + pd.DataFrame(_RNG.normal(0, 0.01, (3, 40)), index=SUBJ, columns=RCOLS)
BETAS = pd.DataFrame(_RNG.normal(size=(3, 3)), index=SUBJ, columns=["b0", "b1", "b2"])
V6 = _RNG.normal(size=(2, 6))           # two subjects on the octahedron

# ahba: a tiny ROI table and one donor
TABLE = pd.DataFrame({"roi_id": [1, 2, 3], "hemisphere": ["L", "R", "L"],
                      "structure_1": ["putamen, left", "putamen, right", "caudate, left"]},
                     index=pd.Index(["Left_Put", "Right_Put", "Left_Caud"], name="roi"))
ANNOT = pd.DataFrame({"donor": ["1"] * 4,
                      "structure_name": ["putamen, left", "putamen, right", "caudate, left", "caudate, left"]})
SAMPLES = pd.DataFrame(_RNG.normal(size=(5, 4)), index=[f"g{i}" for i in range(5)])
MATCHED = pd.DataFrame(_RNG.normal(size=(5, 3)), index=SAMPLES.index, columns=TABLE.index)
SAMPLING = pd.DataFrame({"donor": ["1", "1"], "roi": ["Left_Put", "Left_Caud"],
                         "structure": ["putamen, left", "caudate, left"], "n_samples": [1, 2]})
QSM = pd.Series([0.5, -1.0, 0.5], index=TABLE.index)


# --------------------------------------------------------------------------- cases
CASES = []


def _cents():
    from qmrigenes.surface import sphere_centroids
    return sphere_centroids(hemisphere="L")


def case(module, kind, name, call, exc, match):
    CASES.append(pytest.param(call, exc, match, id=f"{module}:{kind}:{name}"))


nf, sh, ty, rg, al, dg, bd = "nonfinite", "shape", "type", "range", "alignment", "degenerate", "bounded"

# ---- stats.genesets
M = "genesets"
case(M, nf, "maps_inf", lambda: gs.gene_map_correlations(EXPR, _with(MAPS, 0, 0, np.inf)), ValueError, "maps must be finite")
case(M, nf, "maps_nan", lambda: gs.gene_map_correlations(EXPR, _with(MAPS, 1, 1, np.nan)), ValueError, "maps must be finite")
case(M, nf, "expression_inf", lambda: gs.gene_map_correlations(_with(EXPR, 2, 3, -np.inf), MAPS), ValueError, "expression must be finite")
case(M, nf, "expression_nan", lambda: gs.gene_map_correlations(_with(EXPR, 2, 3, np.nan), MAPS), ValueError, "expression must be finite")
case(M, dg, "constant_map", lambda: gs.gene_map_correlations(EXPR, _const_map()), ValueError, "maps has constant column.*m2")
case(M, ty, "maps_array", lambda: gs.gene_map_correlations(EXPR, MAPS.to_numpy()), TypeError, "maps must be a pandas")
case(M, ty, "expression_array", lambda: gs.gene_map_correlations(EXPR.to_numpy(), MAPS), TypeError, "expression must be a pandas DataFrame")
case(M, ty, "maps_strings", lambda: gs.gene_map_correlations(EXPR, MAPS.astype(str).assign(m1="x")), TypeError, "maps must be numeric")
case(M, ty, "maps_bool", lambda: gs.gene_map_correlations(EXPR, MAPS > 0), TypeError, "maps must be numeric")
case(M, al, "duplicated_gene", lambda: gs.gene_map_correlations(EXPR.rename(columns={"G001": "G000"}), MAPS), ValueError, "duplicated gene symbols in expression.*G000")
case(M, al, "duplicated_region", lambda: gs.gene_map_correlations(EXPR, MAPS.rename(index={"r01": "r00"})), ValueError, r"maps.index \(region names\) must be unique")
case(M, al, "different_regions", lambda: gs.gene_map_correlations(EXPR, MAPS.rename(index={"r01": "zz"})), ValueError, "expression and maps cover different regions")
case(M, sh, "two_regions", lambda: gs.gene_map_correlations(EXPR.iloc[:2], MAPS.iloc[:2]), ValueError, "maps must cover at least 3 regions")
case(M, ty, "present_bare_string", lambda: gs.genes_present("G000", GENES), TypeError, "gene_sets must be a mapping.*bare string")
case(M, ty, "present_list_of_lists", lambda: gs.genes_present([GENES[:3], GENES[3:6]], GENES), TypeError, "gene_sets must be a mapping.*list of lists")
case(M, al, "present_duplicated", lambda: gs.genes_present({"A": ["G000", "G000"]}, GENES), ValueError, r"gene_sets\['A'\].*unique.*G000")
case(M, ty, "present_genes_string", lambda: gs.genes_present(SETS, "G000"), TypeError, "genes must be a list of gene symbols")
case(M, rg, "present_empty_set", lambda: gs.genes_present({"A": []}, GENES), ValueError, r"gene_sets\['A'\] is empty")
case(M, ty, "scores_array", lambda: gs.gene_set_scores(CORR.to_numpy(), SETS), TypeError, "correlations must be a pandas DataFrame")
case(M, nf, "scores_inf", lambda: gs.gene_set_scores(_with(CORR, 0, 0, np.inf), SETS), ValueError, "correlations must be Pearson r")
case(M, rg, "scores_r_above_one", lambda: gs.gene_set_scores(_with(CORR, 0, 0, 1.7), SETS), ValueError, "correlations must be Pearson r values in")
case(M, dg, "scores_all_constant_set", lambda: gs.gene_set_scores(_corr_with_constant_set(), {"C": GENES[20:23]}), ValueError, r"gene_sets\['C'\].*constant expression")
case(M, dg, "scores_none_present", lambda: gs.gene_set_scores(CORR, {"X": ["NOPE"]}), ValueError, r"gene_sets\['X'\] has no gene present")
case(M, al, "scores_duplicated", lambda: gs.gene_set_scores(CORR, {"A": ["G000", "G001", "G000"]}), ValueError, r"gene_sets\['A'\].*unique.*G000")
case(M, ty, "scores_set_is_string", lambda: gs.gene_set_scores(CORR, {"A": "G000"}), TypeError, r"gene_sets\['A'\] must be a list.*bare string")
case(M, ty, "null_n_perm_float", lambda: gs.random_gene_set_null(CORR, [3], n_perm=1e3), TypeError, r"n_perm must be an integer.*n_perm=1000")
case(M, ty, "null_n_perm_bool", lambda: gs.random_gene_set_null(CORR, [3], n_perm=True), TypeError, "n_perm must be an integer, got bool")
case(M, rg, "null_n_perm_zero", lambda: gs.random_gene_set_null(CORR, [3], n_perm=0), ValueError, "n_perm must be >= 1")
case(M, bd, "null_n_perm_huge", lambda: gs.random_gene_set_null(CORR, [3], n_perm=10**8), ValueError, "n_perm must be <= 1000000")
case(M, bd, "null_memory_estimate", lambda: gs.random_gene_set_null(CORR_WIDE, [30] * 10, n_perm=1_000_000), ValueError, "n_perm=1000000 .* GiB")
case(M, ty, "null_seed_float", lambda: gs.random_gene_set_null(CORR, [3], n_perm=5, seed=1.5), TypeError, "seed must be None, a non-negative integer")
case(M, ty, "null_seed_string", lambda: gs.random_gene_set_null(CORR, [3], n_perm=5, seed="1"), TypeError, "seed must be None")
case(M, rg, "null_seed_negative", lambda: gs.random_gene_set_null(CORR, [3], n_perm=5, seed=-1), ValueError, "seed must be a non-negative")
case(M, ty, "null_size_float", lambda: gs.random_gene_set_null(CORR, {"a": 2.5}, n_perm=5), TypeError, r"sizes\['a'\] must be an integer")
case(M, rg, "null_size_zero", lambda: gs.random_gene_set_null(CORR, {"a": 0}, n_perm=5), ValueError, r"sizes\['a'\] must be >= 1")
case(M, rg, "null_size_too_big", lambda: gs.random_gene_set_null(CORR, [41], n_perm=5), ValueError, "sizes: cannot draw 41 genes")
case(M, ty, "null_sizes_string", lambda: gs.random_gene_set_null(CORR, "abc", n_perm=5), TypeError, "sizes must be a mapping")
case(M, ty, "null_background_string", lambda: gs.random_gene_set_null(CORR, [3], background="G000", n_perm=5), TypeError, "background must be a list.*bare string")
case(M, al, "null_background_duplicated", lambda: gs.random_gene_set_null(CORR, [3], background=GENES + ["G000"], n_perm=5), ValueError, r"background \(gene symbols\) must be unique")
case(M, nf, "null_corr_inf", lambda: gs.random_gene_set_null(_with(CORR, 0, 0, np.inf), [3], n_perm=5), ValueError, "correlations must be finite or NaN")
case(M, dg, "pvalues_observed_nan", lambda: gs.null_pvalues(np.nan, np.zeros(10)), ValueError, "observed must be finite")
case(M, dg, "pvalues_null_nan", lambda: gs.null_pvalues(0.2, np.r_[np.zeros(9), np.nan]), ValueError, "null must be finite")
case(M, nf, "pvalues_observed_inf", lambda: gs.null_pvalues([np.inf], np.zeros((10, 1))), ValueError, "observed must be finite")
case(M, nf, "pvalues_null_inf", lambda: gs.null_pvalues([0.1], np.full((10, 1), -np.inf)), ValueError, "null must be finite")
case(M, sh, "pvalues_shape", lambda: gs.null_pvalues([0.1, 0.2], np.zeros((10, 3))), ValueError, r"null must have shape \(n_perm, \*observed.shape\)")
case(M, ty, "pvalues_string", lambda: gs.null_pvalues("high", np.zeros(10)), TypeError, "observed must be a numeric array")

# ---- stats.spatial
M = "spatial"
case(M, al, "perms_bare_array", lambda: spatial.spin_null_scores(EXPR, MAPS, SETS, PERMS.to_numpy()), TypeError, "perms must be a DataFrame of spins.*region order")
case(M, ty, "perms_fractional", lambda: spatial.spin_null_scores(EXPR, MAPS, SETS, PERMS + 0.5), TypeError, "perms must hold integer positions")
case(M, rg, "perms_out_of_range", lambda: spatial.spin_null_scores(EXPR, MAPS, SETS, PERMS + 1), ValueError, "perms must hold positions 0..11")
case(M, nf, "perms_nan", lambda: spatial.spin_null_scores(EXPR, MAPS, SETS, _with(PERMS.astype(float), 0, 0, np.nan)), ValueError, "perms must be finite")
case(M, al, "perms_duplicated_regions", lambda: spatial.spin_null_scores(EXPR, MAPS, SETS, PERMS.set_axis(list(REGIONS[:-1]) + ["r00"], axis=1)), ValueError, r"perms.columns \(region names\) must be unique")
case(M, al, "maps_not_spun_regions", lambda: spatial.spin_null_scores(EXPR, MAPS.rename(index={"r03": "zz"}), SETS, PERMS), ValueError, "maps and perms .spin regions. must have the same region names.*spin_permutations")
case(M, al, "expression_not_spun_regions", lambda: spatial.spin_null_scores(EXPR.rename(index={"r03": "zz"}), MAPS, SETS, PERMS), ValueError, "expression and perms .spin regions. must have the same region names")
case(M, nf, "spin_maps_inf", lambda: spatial.spin_null_scores(EXPR, _with(MAPS, 0, 1, np.inf), SETS, PERMS), ValueError, "maps must be finite")
case(M, dg, "spin_constant_map", lambda: spatial.spin_null_scores(EXPR, _const_map(), SETS, PERMS), ValueError, "maps has constant column")
case(M, ty, "spin_maps_series", lambda: spatial.spin_null_scores(EXPR, MAPS["m1"], SETS, PERMS), TypeError, "maps must be a DataFrame indexed by region")
case(M, ty, "spin_sets_string", lambda: spatial.spin_null_scores(EXPR, MAPS, "A", PERMS), TypeError, "gene_sets must be a mapping")
case(M, nf, "spin_expression_nan", lambda: spatial.spin_null_scores(_with(EXPR, 0, 0, np.nan), MAPS, SETS, PERMS), ValueError, "expression must be finite")
case(M, ty, "spins_n_perm_float", lambda: spatial.spin_permutations(_cents(), n_perm=1e3), TypeError, "n_perm must be an integer")
case(M, rg, "spins_n_perm_zero", lambda: spatial.spin_permutations(_cents(), n_perm=0), ValueError, "n_perm must be >= 1")
case(M, bd, "spins_n_perm_huge", lambda: spatial.spin_permutations(_cents(), n_perm=10**6), ValueError, "n_perm must be <= 100000")
case(M, rg, "spins_method", lambda: spatial.spin_permutations(_cents(), n_perm=5, method="nope"), ValueError, "method must be one of")
case(M, rg, "spins_hemisphere", lambda: spatial.spin_permutations(_cents(), n_perm=5, hemiid=[2] * 34), ValueError, "hemiid must hold")
case(M, ty, "spins_seed_float", lambda: spatial.spin_permutations(_cents(), n_perm=5, seed=1.5), TypeError, "seed must be")
case(M, ty, "spins_seed_generator", lambda: spatial.spin_permutations(_cents(), n_perm=5, seed=np.random.default_rng(0)), TypeError, "seed must be a non-negative integer here")
case(M, ty, "spins_regions_string", lambda: spatial.spin_permutations(_cents().to_numpy(), n_perm=5), TypeError, "centroids must be a DataFrame")
case(M, al, "spins_regions_duplicated", lambda: spatial.spin_permutations(_cents().iloc[[0, 0, 1]], n_perm=5), ValueError, "centroids.index")
case(M, sh, "centroids_2d_coords", lambda: surface.parcel_centroids(np.zeros((6, 2)), LABELS6, regions=["a"]), ValueError, r"sphere_coords must have shape \(n_vertices, 3\)")
case(M, nf, "centroids_nan", lambda: surface.parcel_centroids(_with(pd.DataFrame(_OCT_C), 0, 0, np.nan), LABELS6, regions=["a"]), ValueError, "sphere_coords must be finite")
case(M, sh, "centroids_labels_length", lambda: surface.parcel_centroids(_OCT_C, LABELS6[:4], regions=["a"]), ValueError, r"labels must have shape \(6,\)")
case(M, ty, "centroids_labels_string", lambda: surface.parcel_centroids(_OCT_C, "a", regions=["a"]), TypeError, "labels must be one region name per vertex")
case(M, ty, "fdr_array", lambda: fdr_by_column(np.full((3, 2), 0.5)), TypeError, "pvalues must be a DataFrame")
case(M, rg, "fdr_above_one", lambda: fdr_by_column(pd.DataFrame({"a": [0.1, 1.2]})), ValueError, r"pvalues must lie in \[0, 1\]")
case(M, nf, "fdr_nan", lambda: fdr_by_column(pd.DataFrame({"a": [0.1, np.nan]})), ValueError, "pvalues must be finite")
case(M, ty, "assoc_n_perm_float", lambda: spatial.gene_set_association(EXPR, MAPS, SETS, background=GENES, n_perm=1e3), TypeError, "n_perm must be an integer")
case(M, ty, "assoc_maps_series", lambda: spatial.gene_set_association(EXPR, MAPS["m1"], SETS, background=GENES), TypeError, "maps must be a DataFrame")
case(M, al, "assoc_perms_array", lambda: spatial.gene_set_association(EXPR, MAPS, SETS, background=GENES, perms=PERMS.to_numpy(), n_perm=5), TypeError, "perms must be a DataFrame")
case(M, ty, "assoc_sets_list_of_lists", lambda: spatial.gene_set_association(EXPR, MAPS, [GENES[:3]], background=GENES), TypeError, "gene_sets must be a mapping")
case(M, dg, "assoc_constant_map", lambda: spatial.gene_set_association(EXPR, _const_map(), SETS, background=GENES, n_perm=5), ValueError, "maps has constant column")
case(M, ty, "assoc_seed_float", lambda: spatial.gene_set_association(EXPR, MAPS, SETS, background=GENES, n_perm=5, seed=0.5), TypeError, "seed must be")
case(M, al, "assoc_perms_other_regions", lambda: spatial.gene_set_association(EXPR, MAPS, SETS, background=GENES, perms=PERMS.iloc[:, :11].set_axis(REGIONS[1:], axis=1) % 11, n_perm=10**6), ValueError, "maps and perms .spin regions. must have the same region names")

# ---- surface
M = "surface"
case(M, bd, "smooth_fwhm_micrometres", lambda: surface.smooth_surface(np.zeros(6), OCT, fwhm=6000), ValueError, "fwhm must be <= 100 mm, got 6000 mm.*millimetres")
case(M, ty, "smooth_fwhm_string", lambda: surface.smooth_surface(np.zeros(6), OCT, fwhm="6"), TypeError, "fwhm must be a real number in mm")
case(M, rg, "smooth_fwhm_negative", lambda: surface.smooth_surface(np.zeros(6), OCT, fwhm=-1), ValueError, "fwhm must be >= 0 mm")
case(M, nf, "smooth_fwhm_nan", lambda: surface.smooth_surface(np.zeros(6), OCT, fwhm=np.nan), ValueError, "fwhm must be finite")
case(M, nf, "smooth_fwhm_inf", lambda: surface.smooth_surface(np.zeros(6), OCT, fwhm=np.inf), ValueError, "fwhm must be finite")
case(M, ty, "smooth_fwhm_bool", lambda: surface.smooth_surface(np.zeros(6), OCT, fwhm=True), TypeError, "fwhm must be a real number")
case(M, nf, "smooth_data_inf", lambda: surface.smooth_surface(np.r_[np.zeros(5), np.inf], OCT), ValueError, "data to smooth: 1 non-finite")
case(M, sh, "smooth_data_length", lambda: surface.smooth_surface(np.zeros(7), OCT), ValueError, "data to smooth: expected 6 vertices")
case(M, ty, "smooth_mesh_string", lambda: surface.smooth_surface(np.zeros(6), "fsaverage5"), TypeError, "mesh must be a Mesh")
case(M, ty, "smooth_faces_float", lambda: surface.smooth_surface(np.zeros(6), surface.Mesh(_OCT_C, _OCT_F.astype(float))), TypeError, "mesh.faces must be integer")
case(M, rg, "smooth_faces_range", lambda: surface.smooth_surface(np.zeros(6), surface.Mesh(_OCT_C, _OCT_F + 1)), ValueError, r"mesh.faces must index vertices 0..5")
case(M, nf, "smooth_coords_nan", lambda: surface.smooth_surface(np.zeros(6), surface.Mesh(np.where(_OCT_C == 50, np.nan, _OCT_C), _OCT_F)), ValueError, "mesh.coords must be finite")
case(M, bd, "smooth_step_estimate", lambda: surface.smooth_surface(np.zeros(6), TINY, fwhm=100), ValueError, "fwhm=100 mm on this mesh needs .* diffusion steps")
case(M, ty, "check_map_n_vertices_float", lambda: surface.check_surface_map(np.zeros(6), n_vertices=6.0), TypeError, "n_vertices must be an integer")
case(M, ty, "check_map_strings", lambda: surface.check_surface_map(["a"] * 6, n_vertices=6), TypeError, "map: map must be numeric")
case(M, nf, "check_map_nan", lambda: surface.check_surface_map(np.r_[np.nan, np.zeros(5)], n_vertices=6), ValueError, "map: 1 non-finite")
case(M, ty, "load_map_path_int", lambda: surface.load_surface_map(123), TypeError, "path must be a str or Path")
case(M, rg, "load_map_extension", lambda: surface.load_surface_map("x.nii"), ValueError, r"x.nii: expected a .gii")
case(M, ty, "adjacency_n_float", lambda: surface.mesh_adjacency(_OCT_F, 6.0), TypeError, "n_vertices must be an integer")
case(M, rg, "adjacency_faces_range", lambda: surface.mesh_adjacency(_OCT_F, 4), ValueError, "faces must index vertices 0..3")
case(M, sh, "laplacian_2d_coords", lambda: surface.cotangent_laplacian(_OCT_C[:, :2], _OCT_F), ValueError, r"mesh.coords must have shape \(n_vertices, 3\)")
case(M, ty, "kernel_center_float", lambda: surface.kernel_fwhm(np.ones(6), OCT, 1.5), TypeError, "center must be an integer")
case(M, rg, "kernel_center_range", lambda: surface.kernel_fwhm(np.ones(6), OCT, 6), ValueError, "center must be <= 5")
case(M, dg, "kernel_zero", lambda: surface.kernel_fwhm(np.zeros(6), OCT, 0), ValueError, "kernel must have a positive integral")
case(M, rg, "dk_labels_hemisphere", lambda: surface.dk_labels(hemisphere="left"), ValueError, "hemisphere must be one of 'L', 'R'")
case(M, rg, "dk_labels_surface", lambda: surface.dk_labels(surface="fsaverage6"), ValueError, "surface must be one of")
case(M, rg, "parcellate_nan_policy", lambda: surface.parcellate(np.zeros(6), LABELS6, regions=["a"], nan_policy="ignore"), ValueError, "nan_policy must be one of")
case(M, nf, "parcellate_omit_inf", lambda: surface.parcellate(np.r_[np.inf, np.zeros(5)], LABELS6, regions=["a"], nan_policy="omit"), ValueError, "values must be finite or NaN")
case(M, nf, "parcellate_nan", lambda: surface.parcellate(np.r_[np.nan, np.zeros(5)], LABELS6, regions=["a"]), ValueError, "values to parcellate: 1 non-finite")
case(M, sh, "parcellate_labels_2d", lambda: surface.parcellate(np.zeros(6), LABELS6.reshape(2, 3), regions=["a"]), ValueError, "labels must be 1-D")
case(M, ty, "parcellate_regions_string", lambda: surface.parcellate(np.zeros(6), LABELS6, regions="a"), TypeError, "regions must be a sequence.*bare string")
case(M, al, "parcellate_regions_duplicated", lambda: surface.parcellate(np.zeros(6), LABELS6, regions=["a", "a"]), ValueError, "regions must be unique")
case(M, sh, "parcellate_3d", lambda: surface.parcellate(np.zeros((2, 2, 6)), LABELS6, regions=["a"]), ValueError, "values must be 1-D or 2-D")
case(M, ty, "paint_array", lambda: surface.regions_to_vertices(np.zeros(3), LABELS6), TypeError, "values must be a pandas Series")
case(M, al, "paint_duplicated", lambda: surface.regions_to_vertices(pd.Series([1.0, 2.0], index=["a", "a"]), LABELS6), ValueError, r"values.index \(region names\) must be unique")
case(M, nf, "paint_inf", lambda: surface.regions_to_vertices(pd.Series([np.inf], index=["a"]), LABELS6), ValueError, "values must be finite")
case(M, ty, "nspn_array", lambda: surface.nspn_to_dk(np.zeros((2, 3)), pd.DataFrame()), TypeError, "values and parcels must be DataFrames")
case(M, rg, "nspn_hemisphere", lambda: surface.nspn_to_dk(pd.DataFrame(), pd.DataFrame(), hemisphere="X"), ValueError, "hemisphere must be one of")
case(M, ty, "neuromorphometrics_array", lambda: surface.neuromorphometrics_to_dk(np.zeros((2, 3))), TypeError, "values must be a DataFrame with Neuromorphometrics")
case(M, al, "neuromorphometrics_duplicated", lambda: surface.neuromorphometrics_to_dk(pd.DataFrame([[1, 2]], columns=["x", "x"])), ValueError, r"values.columns \(Neuromorphometrics labels\) must be unique")
case(M, rg, "hcp_hemisphere", lambda: surface.hcp_t1wt2w_dk(hemisphere="X"), ValueError, "hemisphere must be one of")

# ---- mpm (reusable functions)
M = "mpm"
v40 = np.linspace(0, 1, 40)
case(M, sh, "fit_2d_r1", lambda: mpm.fit_linear_model(np.zeros((2, 20)), v40, v40 ** 2), ValueError, "r1 must be 1-D, got a 2-D array")
case(M, nf, "fit_r1_inf", lambda: mpm.fit_linear_model(np.r_[np.inf, v40[1:]], v40, v40 ** 2), ValueError, "r1 must be finite")
case(M, nf, "fit_mtsat_nan", lambda: mpm.fit_linear_model(v40, np.r_[np.nan, v40[1:]], v40 ** 2), ValueError, "mtsat must be finite")
case(M, dg, "fit_mtsat_constant", lambda: mpm.fit_linear_model(v40, np.ones(40), v40 ** 2), ValueError, "mtsat is constant")
case(M, sh, "fit_length", lambda: mpm.fit_linear_model(v40, v40, v40[:30] ** 2), ValueError, "r2s must have 40 values")
case(M, sh, "fit_too_few", lambda: mpm.fit_linear_model(v40[:3], v40[:3] ** 2, v40[:3] ** 3), ValueError, "r1 must have at least 4 observations")
case(M, dg, "fit_collinear", lambda: mpm.fit_linear_model(v40, v40, 2 * v40 + 1), ValueError, "mtsat and r2s are collinear")
case(M, ty, "fit_strings", lambda: mpm.fit_linear_model(["a"] * 40, v40, v40 ** 2), TypeError, "r1 must be numeric")
case(M, ty, "subjects_array", lambda: mpm.fit_subjects(R1, MT.to_numpy(), R2), TypeError, "mtsat must be a DataFrame")
case(M, al, "subjects_names", lambda: mpm.fit_subjects(R1, MT.rename(index={"s3": "s9"}), R2), ValueError, "mtsat and r1 must have the same subject names.*s3")
case(M, al, "subjects_duplicated", lambda: mpm.fit_subjects(R1.rename(index={"s2": "s1"}), MT, R2), ValueError, r"r1.index \(subjects\) must be unique")
case(M, al, "subjects_regions", lambda: mpm.fit_subjects(R1, MT, R2.rename(columns={"reg0": "x"})), ValueError, "r2s and r1 must have the same region names")
case(M, nf, "subjects_inf", lambda: mpm.fit_subjects(_with(R1, 0, 0, np.inf), MT, R2), ValueError, "r1 must be finite")
case(M, sh, "vertexwise_1d", lambda: mpm.fit_vertexwise(v40, v40, v40), ValueError, "r1 must be 2-D")
case(M, sh, "vertexwise_shapes", lambda: mpm.fit_vertexwise(R1.to_numpy(), MT.to_numpy()[:2], R2.to_numpy()), ValueError, "r1, mtsat and r2s must have the same shape")
case(M, dg, "vertexwise_constant", lambda: mpm.fit_vertexwise(R1.to_numpy(), np.ones((3, 40)), R2.to_numpy()), ValueError, r"mtsat is constant for subject\(s\) \[0, 1, 2\]")
case(M, nf, "vertexwise_inf", lambda: mpm.fit_vertexwise(R1.to_numpy(), MT.to_numpy(), _with(R2, 1, 1, np.inf).to_numpy()), ValueError, "r2s must be finite")
case(M, ty, "summarise_array", lambda: mpm.summarise_betas(BETAS.to_numpy()), TypeError, "betas must be a pandas DataFrame")
case(M, sh, "summarise_one_subject", lambda: mpm.summarise_betas(BETAS.iloc[:1]), ValueError, "betas must have at least 2 subjects")
case(M, nf, "summarise_inf", lambda: mpm.summarise_betas(_with(BETAS, 0, 0, np.inf)), ValueError, "betas must be finite")
case(M, ty, "cohort_n_float", lambda: mpm.simulate_cohort(n_subjects=17.0), TypeError, r"n_subjects must be an integer.*n_subjects=17")
case(M, rg, "cohort_n_one", lambda: mpm.simulate_cohort(n_subjects=1), ValueError, "n_subjects must be >= 2")
case(M, bd, "cohort_n_huge", lambda: mpm.simulate_cohort(n_subjects=10**6), ValueError, "n_subjects must be <= 1000")
case(M, bd, "cohort_n_basis", lambda: mpm.simulate_cohort(n_basis=10**4), ValueError, "n_basis must be <= 100")
case(M, ty, "cohort_seed_float", lambda: mpm.simulate_cohort(seed=1.5), TypeError, "seed must be")
case(M, bd, "cohort_field_fwhm", lambda: mpm.simulate_cohort(field_fwhm=6000), ValueError, "field_fwhm must be <= 100 mm")
case(M, sh, "cohort_beta_mean", lambda: mpm.simulate_cohort(beta_mean=(0.2, 0.3)), ValueError, r"beta_mean must have shape \(3,\)")
case(M, rg, "cohort_noise_negative", lambda: mpm.simulate_cohort(noise_sd=(0.1, -0.1, 1)), ValueError, "noise_sd must be >= 0")
case(M, rg, "cohort_hemisphere", lambda: mpm.simulate_cohort(hemisphere="left"), ValueError, "hemisphere must be one of")
case(M, nf, "cohort_epsilon_nan", lambda: mpm.simulate_cohort(epsilon_amplitude=np.nan), ValueError, "epsilon_amplitude must be finite")
case(M, bd, "pipeline_fwhm", lambda: mpm.vertexwise_pipeline(V6, V6, V6, OCT, LABELS6, fwhm=6000), ValueError, "fwhm must be <= 100 mm")
case(M, sh, "pipeline_labels", lambda: mpm.vertexwise_pipeline(V6, V6, V6, OCT, LABELS6[:5]), ValueError, r"labels must have shape \(6,\)")
case(M, ty, "pipeline_subjects_string", lambda: mpm.vertexwise_pipeline(V6, V6, V6, OCT, LABELS6, subjects="sub-01"), TypeError, "subjects must be a sequence")
case(M, al, "pipeline_subjects_duplicated", lambda: mpm.vertexwise_pipeline(V6, V6, V6, OCT, LABELS6, subjects=["a", "a"]), ValueError, "subjects must be unique")
case(M, nf, "pipeline_r1_nan", lambda: mpm.vertexwise_pipeline(np.where(V6 > 0, np.nan, V6), V6, V6, OCT, LABELS6), ValueError, "r1: .* non-finite")
case(M, sh, "pipeline_shapes", lambda: mpm.vertexwise_pipeline(V6, V6[:1], V6, OCT, LABELS6), ValueError, "r1, mtsat and r2s must have the same shape")
case(M, ty, "pipeline_mesh", lambda: mpm.vertexwise_pipeline(V6, V6, V6, None, LABELS6), TypeError, "mesh must be a Mesh")
case(M, rg, "clinical_mt_scale_zero", lambda: mpm.clinical_mpm_model(mt_scale=0), ValueError, "mt_scale must be > 0")
case(M, ty, "clinical_mt_scale_string", lambda: mpm.clinical_mpm_model(mt_scale="0.44"), TypeError, "mt_scale must be a real number")
case(M, ty, "clinical_table_array", lambda: mpm.clinical_mpm_model(table=np.zeros((3, 4))), TypeError, "table must be a pandas DataFrame")
case(M, sh, "clinical_table_columns", lambda: mpm.clinical_mpm_model(table=pd.DataFrame({"x": [1]})), ValueError, "table must have columns")

# ---- stats.regression (reusable functions)
M = "regression"
case(M, nf, "ols_y_inf", lambda: reg.genome_wide_ols(X, _with(Y.to_frame(), 0, 0, np.inf)["qsm"]), ValueError, "y must be finite")
case(M, nf, "ols_y_nan", lambda: reg.genome_wide_ols(X, _with(Y.to_frame(), 3, 0, np.nan)["qsm"]), ValueError, r"y \(the map\) has NaN values at \['roi3'\]")
case(M, dg, "ols_y_constant", lambda: reg.genome_wide_ols(X, Y * 0 + 2.0), ValueError, r"y \(the map\) is constant")
case(M, ty, "ols_y_array", lambda: reg.genome_wide_ols(X, Y.to_numpy()), TypeError, r"y \(the map\) must be a Series")
case(M, ty, "ols_expression_array", lambda: reg.genome_wide_ols(X.to_numpy(), Y), TypeError, "expression must be a DataFrame")
case(M, nf, "ols_expression_inf", lambda: reg.genome_wide_ols(_with(X, 0, 0, np.inf), Y), ValueError, "expression must be finite")
case(M, al, "ols_duplicated_rois", lambda: reg.genome_wide_ols(X.rename(index={"roi1": "roi0"}), Y.rename(index={"roi1": "roi0"})), ValueError, r"expression.index \(ROI names\) must be unique")
case(M, al, "ols_different_rois", lambda: reg.genome_wide_ols(X, Y.rename(index={"roi0": "elsewhere"})), ValueError, "expression and map cover different ROIs")
case(M, sh, "ols_two_rois", lambda: reg.genome_wide_ols(X.iloc[:2], Y.iloc[:2]), ValueError, "y must cover at least 3 ROIs")
case(M, nf, "bh_nan", lambda: reg.bh_as_published([0.1, np.nan]), ValueError, "p must be finite")
case(M, rg, "bh_above_one", lambda: reg.bh_as_published([0.1, 1.5]), ValueError, r"p must be p-values in \[0, 1\]")
case(M, rg, "bh_q_zero", lambda: reg.bh_as_published([0.1, 0.5], q=0), ValueError, "q must be > 0")
case(M, sh, "bh_2d", lambda: reg.bh_as_published(np.full((2, 2), 0.5)), ValueError, "p must be 1-D")
case(M, rg, "correct_alpha", lambda: reg.correct(P, alpha=1.5), ValueError, "alpha must be < 1")
case(M, ty, "correct_alpha_string", lambda: reg.correct(P, alpha="0.05"), TypeError, "alpha must be a real number")
case(M, rg, "correct_negative_p", lambda: reg.correct(P - 1), ValueError, r"p must be p-values in \[0, 1\]")
case(M, ty, "compare_array", lambda: reg.compare_bh(P.to_numpy()), TypeError, "p must be a Series of p-values")
case(M, ty, "compare_genes_string", lambda: reg.compare_bh(P, genes="g0"), TypeError, "genes must be a list.*bare string")
case(M, ty, "gene_table_result", lambda: reg.gene_table(OLS.table, SETS), TypeError, "result must be a GenomeWideOLS")
case(M, ty, "gene_table_list_of_lists", lambda: reg.gene_table(OLS, [["g0"]]), TypeError, "gene_sets must be a mapping")
case(M, ty, "per_donor_list", lambda: reg.per_donor_ols([X], Y, ["g0"]), TypeError, "per_donor must be a non-empty mapping")
case(M, ty, "per_donor_genes_string", lambda: reg.per_donor_ols({"a": X}, Y, "g0"), TypeError, "genes must be a list.*bare string")
case(M, nf, "per_donor_y_inf", lambda: reg.per_donor_ols({"a": X}, Y.replace(Y.iloc[0], np.inf), ["g0"]), ValueError, "y must be finite")
case(M, ty, "pls_components_float", lambda: reg.pls_loocv(X.iloc[:, :3], Y, max_components=2.0), TypeError, "max_components must be an integer")
case(M, rg, "pls_components_zero", lambda: reg.pls_loocv(X.iloc[:, :3], Y, max_components=0), ValueError, "max_components must be >= 1")
case(M, nf, "pls_x_inf", lambda: reg.pls_loocv(_with(X.iloc[:, :3], 0, 0, np.inf), Y), ValueError, "x must be finite")
case(M, ty, "coexpression_genes_string", lambda: reg.set_coexpression(X, "g0"), TypeError, "genes must be a list.*bare string")
case(M, sh, "coexpression_one_gene", lambda: reg.set_coexpression(X, ["g0"]), ValueError, "genes must list at least 2 genes")
case(M, al, "coexpression_absent", lambda: reg.set_coexpression(X, ["g0", "nope"]), ValueError, "genes not in the expression table.*nope")
case(M, ty, "matched_n_draw_float", lambda: reg.coexpression_matched_null(X, OLS.table["r"], ["g0", "g1"], n_draw=1e4), TypeError, "n_draw must be an integer")
case(M, rg, "matched_n_keep", lambda: reg.coexpression_matched_null(X, OLS.table["r"], ["g0", "g1"], n_draw=10, n_keep=20), ValueError, "n_keep must not exceed n_draw")
case(M, ty, "matched_seed_float", lambda: reg.coexpression_matched_null(X, OLS.table["r"], ["g0", "g1"], n_draw=10, n_keep=5, seed=0.5), TypeError, "seed must be")
case(M, ty, "matched_correlations_array", lambda: reg.coexpression_matched_null(X, OLS.table["r"].to_numpy(), ["g0", "g1"]), TypeError, "correlations must be a Series")
case(M, rg, "matched_correlations_above_one", lambda: reg.coexpression_matched_null(X, OLS.table["r"] * 5, ["g0", "g1"]), ValueError, r"correlations must be Pearson r values in \[-1, 1\]")
case(M, bd, "matched_n_draw_huge", lambda: reg.coexpression_matched_null(X, OLS.table["r"], ["g0", "g1"], n_draw=10**8), ValueError, "n_draw must be <= 1000000")
case(M, ty, "permutation_n_perm_float", lambda: reg.permutation_set_null(X, Y, ["g0"], n_perm=1e4), TypeError, "n_perm must be an integer")
case(M, rg, "permutation_max_exact", lambda: reg.permutation_set_null(X, Y, ["g0"], max_exact=-1), ValueError, "max_exact must be >= 1")
case(M, al, "permutation_duplicated_genes", lambda: reg.permutation_set_null(X, Y, ["g0", "g0"]), ValueError, r"genes \(gene symbols\) must be unique")
case(M, ty, "set_level_n_perm_float", lambda: reg.set_level_tests(X, Y, SETS, n_perm=1e3), TypeError, "n_perm must be an integer")
case(M, ty, "set_level_sets_string", lambda: reg.set_level_tests(X, Y, "g0"), TypeError, "gene_sets must be a mapping")
case(M, ty, "set_level_seed_float", lambda: reg.set_level_tests(X, Y, {"s": ["g0", "g1"]}, seed=1.5), TypeError, "seed must be an integer")
case(M, ty, "map_tables_series", lambda: reg.map_gene_tables(X, Y, {"s": ["g0"]}), TypeError, "maps must be a DataFrame")
case(M, nf, "map_tables_inf", lambda: reg.map_gene_tables(X, Y.to_frame().replace(Y.iloc[0], np.inf), {"s": ["g0"]}), ValueError, "maps must be finite")
case(M, al, "map_tables_regions", lambda: reg.map_gene_tables(X, Y.to_frame().rename(index={"roi0": "zz"}), {"s": ["g0"]}), ValueError, "maps has regions not in expression.*zz")
case(M, rg, "design_name", lambda: design.design_sampling(SAMPLING, TABLE, "both"), ValueError, "design must be one of")
case(M, ty, "design_sampling_array", lambda: design.design_sampling(np.zeros(3), TABLE, "ahba"), TypeError, "sampling must be a DataFrame")
case(M, ty, "power_n_rep_float", lambda: design.power_by_design(SAMPLING, TABLE, n_rep=1e3), TypeError, "n_rep must be an integer")
case(M, rg, "power_effects", lambda: design.power_by_design(SAMPLING, TABLE, effects=(0.5, 1.5)), ValueError, r"effects must be correlations in \(-1, 1\)")
case(M, rg, "power_n_genes", lambda: design.power_by_design(SAMPLING, TABLE, n_genes=50), ValueError, "n_genes must exceed")
case(M, ty, "power_designs_string", lambda: design.power_by_design(SAMPLING, TABLE, designs="ahba"), TypeError, "designs must be a list")
case(M, bd, "power_work_estimate", lambda: design.power_by_design(SAMPLING, TABLE, n_rep=1000, n_genes=100_000), ValueError, "n_rep=1000 .* too much work")
case(M, ty, "power_at_effect_string", lambda: design.power_at(pd.DataFrame({"effect": [0.5], "design": ["a"], "power": [1.0]}), "0.5"), TypeError, "effect must be a real number")
case(M, ty, "power_at_array", lambda: design.power_at(np.zeros(3), 0.5), TypeError, "power must be the DataFrame")
case(M, dg, "zscore_constant", lambda: reg.zscore(np.ones(5)), ValueError, r"values is constant \(zero SD\)")
case(M, nf, "zscore_inf", lambda: reg.zscore([1.0, np.inf, 2.0]), ValueError, "values must be finite")
case(M, ty, "zscore_ddof_float", lambda: reg.zscore([1.0, 2.0, 3.0], ddof=1.0), TypeError, "ddof must be an integer")

# ---- ahba (reusable functions)
M = "ahba"
case(M, ty, "set_expression_string", lambda: ahba.gene_set_expression(EXPR, "G000"), TypeError, "gene_sets must be a mapping")
case(M, ty, "set_expression_sets_string", lambda: ahba.gene_set_expression(EXPR, SETS, sets="A"), TypeError, "sets must be a list of set names")
case(M, rg, "set_expression_unknown", lambda: ahba.gene_set_expression(EXPR, SETS, sets=["Z"]), ValueError, "sets: unknown gene set 'Z'")
case(M, nf, "set_expression_inf", lambda: ahba.gene_set_expression(_with(EXPR, 0, 0, np.inf), SETS), ValueError, "expression must be finite")
case(M, al, "set_expression_duplicated", lambda: ahba.gene_set_expression(EXPR, {"A": ["G000", "G000"]}), ValueError, r"gene_sets\['A'\].*unique")
case(M, rg, "cortex_expression_hemisphere", lambda: ahba.cortex_expression(hemisphere="B"), ValueError, "hemisphere must be one of")
case(M, ty, "deep_grey_crosswalk_array", lambda: ahba.deep_grey_expression(crosswalk=np.zeros(3)), TypeError, "crosswalk must be a DataFrame")
case(M, rg, "filter_threshold", lambda: ahba.filter_probes({}, threshold=1.5), ValueError, "threshold must be <= 1")
case(M, ty, "filter_threshold_string", lambda: ahba.filter_probes({}, threshold="0.5"), TypeError, "threshold must be a real number")
case(M, ty, "filter_donors_list", lambda: ahba.filter_probes([1, 2]), TypeError, "donors must be a non-empty mapping")
case(M, ty, "ds_donors_empty", lambda: ahba.select_probes_ds({}, [1, 2]), TypeError, "donors must be a non-empty mapping")
case(M, ty, "ds_donor_type", lambda: ahba.select_probes_ds({"a": X, "b": X}, [1, 2]), TypeError, r"donors\['a'\] must be a DonorData")
case(M, rg, "match_method", lambda: ahba.match_samples(SAMPLES, ANNOT, table=TABLE, method="fuzzy"), ValueError, "method must be one of")
case(M, nf, "match_expression_inf", lambda: ahba.match_samples(_with(SAMPLES, 0, 0, np.inf), ANNOT, table=TABLE), ValueError, "expression must be finite")
case(M, sh, "match_annotation_columns", lambda: ahba.match_samples(SAMPLES, ANNOT[["donor"]], table=TABLE), ValueError, "annotation must have columns")
case(M, ty, "match_expression_array", lambda: ahba.match_samples(SAMPLES.to_numpy(), ANNOT, table=TABLE), TypeError, "expression must be a DataFrame")
case(M, ty, "match_table_array", lambda: ahba.match_samples(SAMPLES, ANNOT, table=np.zeros(3)), TypeError, "table must be a DataFrame")
case(M, ty, "report_methods_string", lambda: ahba.matching_report(ANNOT, table=TABLE, methods="prefix"), TypeError, "methods must be a list.*bare string")
case(M, nf, "zscore_rois_nan", lambda: ahba.zscore_rois(_with(MATCHED, 0, 0, np.nan)), ValueError, "matched must be finite")
case(M, nf, "zscore_rois_inf", lambda: ahba.zscore_rois(_with(MATCHED, 1, 1, np.inf)), ValueError, "matched must be finite")
case(M, ty, "zscore_rois_array", lambda: ahba.zscore_rois(MATCHED.to_numpy()), TypeError, "matched must be a DataFrame")
case(M, ty, "average_rois_string", lambda: ahba.average_donors({"1": MATCHED}, rois="Left_Put"), TypeError, "rois must be a sequence.*bare string")
case(M, al, "average_rois_duplicated", lambda: ahba.average_donors({"1": MATCHED}, rois=["Left_Put", "Left_Put"]), ValueError, "rois must be unique")
case(M, nf, "average_inf", lambda: ahba.average_donors({"1": _with(MATCHED, 0, 0, np.inf)}, rois=list(TABLE.index)), ValueError, r"per_donor\['1'\] must be finite")
case(M, rg, "by_roi_method", lambda: ahba.expression_by_roi({"1": SAMPLES}, {"1": ANNOT}, table=TABLE, method="x"), ValueError, "method must be one of")
case(M, ty, "synthetic_noisy_float", lambda: ahba.write_synthetic_donors("/nonexistent", {}, {}, noisy_probes=1.0), TypeError, "noisy_probes must be an integer")
case(M, rg, "synthetic_background", lambda: ahba.write_synthetic_donors("/nonexistent", {}, {}, background=2), ValueError, "background must be <= 1")
case(M, ty, "synthetic_seed", lambda: ahba.write_synthetic_donors("/nonexistent", {}, {}, seed=1.5), TypeError, "seed must be")
case(M, bd, "synthetic_probes_huge", lambda: ahba.write_synthetic_donors("/nonexistent", {}, {}, absent_probes=10**6), ValueError, "absent_probes must be <= 100")
case(M, rg, "sampling_method", lambda: ahba.roi_sampling(ANNOT, table=TABLE, method="x"), ValueError, "method must be one of")
case(M, rg, "qsm_lr_noise", lambda: ahba.simulate_qsm(TABLE, lr_noise=-1), ValueError, "lr_noise must be >= 0")
case(M, ty, "qsm_seed", lambda: ahba.simulate_qsm(TABLE, seed=1.5), TypeError, "seed must be")
case(M, al, "simulate_genes_duplicated", lambda: ahba.simulate_roi_expression(SAMPLING, QSM, ["a", "a"]), ValueError, r"genes \(gene symbols\) must be unique")
case(M, nf, "simulate_qsm_inf", lambda: ahba.simulate_roi_expression(SAMPLING, QSM.replace(-1.0, np.inf), ["a"]), ValueError, "qsm must be finite")
case(M, rg, "simulate_effect", lambda: ahba.simulate_roi_expression(SAMPLING, QSM, ["a"], effects={"a": 2}), ValueError, r"effects\['a'\] must be <= 1")
case(M, nf, "simulate_donor_sd", lambda: ahba.simulate_roi_expression(SAMPLING, QSM, ["a"], donor_sd=np.nan), ValueError, "donor_sd must be finite")
case(M, rg, "simulate_level", lambda: ahba.simulate_roi_expression(SAMPLING, QSM, ["a"], level="voxel"), ValueError, "level must be one of")
case(M, rg, "pipeline_threshold", lambda: ahba.ahba_qsm_expression("/nonexistent", threshold=2), ValueError, "threshold must be <= 1")
case(M, rg, "deep_grey_hemisphere", lambda: ahba.deep_grey_expression(hemisphere="X"), ValueError, "hemisphere must be")
case(M, ty, "read_donors_string", lambda: ahba.read_donors("/nonexistent", donors="9861"), TypeError, "donors must be a list of donor IDs")
case(M, al, "read_donors_duplicated", lambda: ahba.read_donors("/nonexistent", donors=["9861", "9861"]), ValueError, "donors must be unique")
case(M, ty, "roi_names_string", lambda: ahba.check_roi_names("Left_Put", TABLE), TypeError, "names must be a list of ROI names")
case(M, ty, "roi_table_array", lambda: ahba.roi_structure_table(np.zeros(3)), TypeError, "rois must be a DataFrame")

# ---- datasets
M = "datasets"
case(M, rg, "ahba_dk_hemisphere", lambda: datasets.load_ahba_dk(hemisphere="left"), ValueError, "hemisphere must be one of")
case(M, rg, "ahba_dk_structure", lambda: datasets.load_ahba_dk(structure="cortical"), ValueError, "structure must be one of")
case(M, rg, "nspn_scale_zero", lambda: datasets.load_nspn_mt(scale=0), ValueError, "scale must be > 0")
case(M, nf, "nspn_scale_inf", lambda: datasets.load_nspn_mt(scale=np.inf), ValueError, "scale must be finite")
case(M, ty, "nspn_scale_string", lambda: datasets.load_nspn_mt(scale="1e-3"), TypeError, "scale must be a real number")
case(M, ty, "annotations_float_donor", lambda: datasets.load_ahba_sample_annotations([1.0]), TypeError, r"donors \(donor number\) must be an integer")
case(M, rg, "annotations_donor_7", lambda: datasets.load_ahba_sample_annotations([7]), ValueError, r"donors \(donor number\) must be <= 6")
case(M, al, "annotations_duplicated", lambda: datasets.load_ahba_sample_annotations([1, 1]), ValueError, r"duplicated donors \(each donor.s samples would be counted twice\): \[1\]")
case(M, ty, "annotations_bare_int", lambda: datasets.load_ahba_sample_annotations(3), TypeError, "donors must be an iterable")
case(M, ty, "annotations_bool", lambda: datasets.load_ahba_sample_annotations([True]), TypeError, "donors .* must be an integer, got bool")
case(M, ty, "celltype_panel_array", lambda: datasets.celltype_gene_sets(np.zeros(3)), TypeError, "panel must be the DataFrame")

# ---- found while hunting: silent coercions and messages that did not name the argument
M = "regression"
case(M, ty, "ols_y_numeric_strings", lambda: reg.genome_wide_ols(X, Y.astype(str)), TypeError, "y must be numeric, got non-numeric entries")
case(M, ty, "ols_standardize_string", lambda: reg.genome_wide_ols(X, Y, standardize_y="no"), TypeError, "standardize_y must be True or False")
case(M, rg, "power_at_unknown_effect", lambda: design.power_at(pd.DataFrame({"effect": [0.5], "design": ["a"], "power": [1.0]}), 0.3), ValueError, r"effect 0.3 not in the power table; known: \[0.5\]")
M = "spatial"
case(M, ty, "assoc_return_nulls_string", lambda: spatial.gene_set_association(EXPR, MAPS, SETS, background=GENES, n_perm=5, return_nulls="yes"), TypeError, "return_nulls must be True or False")
case(M, dg, "spin_set_absent", lambda: spatial.spin_null_scores(EXPR, MAPS, {"X": ["nope"]}, PERMS), ValueError, r"gene_sets\['X'\] has no gene present")
case(M, ty, "maps_object_strings", lambda: gs.gene_map_correlations(EXPR, MAPS.astype(object).assign(m1="0.5")), TypeError, "maps must be numeric")
M = "ahba"
case(M, sh, "zscore_rois_two_rois", lambda: ahba.zscore_rois(MATCHED.iloc[:, :2]), ValueError, "matched must have at least 3 ROIs")
case(M, al, "average_gene_lists", lambda: ahba.average_donors({"1": MATCHED, "2": MATCHED.iloc[:3]}, rois=list(TABLE.index)), ValueError, "per_donor tables must share one gene index")

# ---- figures (checks run before any plotting)
M = "figures"
DK = pd.DataFrame(_RNG.normal(size=(34, 4)), index=list(datasets.DK_CORTICAL_REGIONS), columns=["R1", "MTsat", "R2*", "e"])
NULLS = {"gene": np.zeros((5, 2, 2)), "sets": ["A", "B"]}
ASSOC = pd.DataFrame({"r": [0.1] * 4}, index=pd.MultiIndex.from_product([["A", "B"], ["m1", "m2"]], names=["gene_set", "map"]))
case(M, ty, "surface_maps_array", lambda: fm.plot_dk_surface_maps(DK.to_numpy()), TypeError, "maps must be a DataFrame indexed by DK region")
case(M, rg, "surface_maps_hemisphere", lambda: fm.plot_dk_surface_maps(DK, hemisphere="left"), ValueError, "hemisphere must be one of")
case(M, nf, "surface_maps_inf", lambda: fm.plot_dk_surface_maps(_with(DK, 0, 0, np.inf)), ValueError, "maps must be finite")
case(M, ty, "surface_maps_titles_string", lambda: fm.plot_dk_surface_maps(DK, titles="R1"), TypeError, "titles must be a list")
case(M, ty, "figure1_sets_array", lambda: fm.plot_maps_with_gene_sets(DK, np.zeros((34, 2))), TypeError, "set_expression must be a DataFrame")
case(M, al, "figure1_regions", lambda: fm.plot_maps_with_gene_sets(DK, DK.rename(index={"precentral": "x"})), ValueError, "set_expression and mpm_maps must have the same region names")
case(M, ty, "nulls_sets_string", lambda: fm.plot_null_distributions(NULLS, ASSOC, map_key="m1", sets="A"), TypeError, "sets must be a list of set names")
case(M, rg, "nulls_map_key", lambda: fm.plot_null_distributions(NULLS, ASSOC, map_key="m9"), ValueError, "map_key 'm9' is not a map")
case(M, ty, "nulls_not_dict", lambda: fm.plot_null_distributions([1], ASSOC, map_key="m1"), TypeError, "nulls must be the dict")
case(M, rg, "nulls_unknown_set", lambda: fm.plot_null_distributions(NULLS, ASSOC, map_key="m1", sets=["Z"]), ValueError, "sets not in the nulls")

case(M, ty, "panels_genes_string", lambda: qfig.plot_regression_panels(X, Y, "g0"), TypeError, "genes must be a list.*bare string")
case(M, ty, "panels_ncols_float", lambda: qfig.plot_regression_panels(X, Y, ["g0"], ncols=2.0), TypeError, "ncols must be an integer")
case(M, al, "panels_rois", lambda: qfig.plot_regression_panels(X, Y.rename(index={"roi0": "zz"}), ["g0"]), ValueError, "y and expression must have the same ROI names")
case(M, nf, "panels_y_inf", lambda: qfig.plot_regression_panels(X, Y.replace(Y.iloc[0], np.inf), ["g0"]), ValueError, "y must be finite")
case(M, al, "donor_panels_missing_gene", lambda: qfig.plot_per_donor_panels({"1": X}, Y, ["nope"]), ValueError, r"per_donor\['1'\]: genes not present \['nope'\]")
case(M, al, "heatmap_duplicated_genes", lambda: qfig.plot_expression_heatmap(X, ["g0", "g0"]), ValueError, r"genes \(gene symbols\) must be unique")
case(M, ty, "corr_matrix_genes_string", lambda: qfig.plot_correlation_matrix(X, "g0"), TypeError, "genes must be a list")


@pytest.mark.parametrize("call, exc, match", CASES)
def test_bad_input(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_suite_size_and_kinds():
    """The suite keeps >= 120 library cases, and every module and kind is represented."""
    kinds = Counter(p.id.split(":")[1] for p in CASES)
    modules = Counter(p.id.split(":")[0] for p in CASES)
    assert len(CASES) >= 120
    assert set(modules) == {"genesets", "spatial", "surface", "mpm", "regression", "ahba", "datasets", "figures"}
    assert {"nonfinite", "shape", "type", "range", "alignment", "degenerate", "bounded"} <= set(kinds)


# --------------------------------------------------------------------------- order, NaN and degenerate statistics
def test_spin_results_do_not_depend_on_table_order():
    """p_spin is the same whether maps and expression are sorted by region or alphabetically reversed."""
    kw = dict(background=GENES, perms=PERMS, n_perm=50, seed=1)
    ref = spatial.gene_set_association(EXPR, MAPS, SETS, **kw)
    shuffled = spatial.gene_set_association(EXPR.iloc[::-1], MAPS.sample(frac=1, random_state=3), SETS, **kw)
    pd.testing.assert_frame_equal(ref, shuffled)
    perm_cols = PERMS.columns[::-1]                         # the same spins, columns listed in another order
    relabelled = pd.DataFrame(len(REGIONS) - 1 - PERMS.to_numpy()[:, ::-1], columns=perm_cols)
    again = spatial.gene_set_association(EXPR, MAPS, SETS, **{**kw, "perms": relabelled})
    pd.testing.assert_frame_equal(ref, again)


def test_n_present_counts_only_genes_the_score_uses():
    expr = EXPR.copy()
    expr[["G000", "G001"]] = 2.0                           # two constant genes in set A
    table = spatial.gene_set_association(expr, MAPS, SETS, background=GENES, n_perm=20, seed=0)
    assert table.loc[("A", "m1"), "n_genes"] == 5 and table.loc[("A", "m1"), "n_present"] == 3
    corr = gs.gene_map_correlations(expr, MAPS)
    present = gs.genes_present(SETS, corr)
    assert present.loc["A", "missing"] == "G000, G001"
    assert table.loc[("A", "m1"), "r"] == pytest.approx(corr.loc[GENES[2:5], "m1"].mean())


def test_null_pvalues_never_turn_nan_into_the_smallest_p():
    null = np.random.default_rng(0).normal(size=(99, 2))
    assert gs.null_pvalues([0.0, 0.0], null).min() > 0.5     # a sane value still works
    for obs, nul in (([np.nan, 0.0], null), ([0.0, 0.0], np.where(null > 2, np.nan, null))):
        with pytest.raises(ValueError, match="must be finite"):
            gs.null_pvalues(obs, nul)


def test_regression_aligns_by_roi_name():
    shuffled = reg.genome_wide_ols(X, Y.sample(frac=1, random_state=2))
    pd.testing.assert_frame_equal(shuffled.table, OLS.table)


# --------------------------------------------------------------------------- registry and fetch
def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()




def _write_registry(world, **changes):
    frame = world["frame"].astype(str)
    for col, value in changes.items():
        frame.loc[0, col] = value
    frame.to_csv(world["registry"], index=False)
    return world["registry"]


def _snapshot(folder):
    """Every file in the cache (hidden ones too) with its bytes."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())} if folder.exists() else None


def _fill_cache(world):
    F.fetch_all(registry=world["registry"], cache=world["cache"], mirror=world["mirror"], verbose=False)
    return _snapshot(world["cache"])


REGISTRY_CASES = [
    pytest.param({"sha256": ""}, r"row 2 \(gh.csv\): sha256 must be 64 hexadecimal digits, got a blank value", id="blank_sha"),
    pytest.param({"sha256": "abc123"}, r"row 2 \(gh.csv\): sha256 must be 64 hexadecimal digits, got 'abc123'", id="short_sha"),
    pytest.param({"sha256": "z" * 64}, r"row 2 \(gh.csv\): sha256", id="non_hex_sha"),
    pytest.param({"size": "12kB"}, r"row 2 \(gh.csv\): size must be a whole number", id="bad_size"),
    pytest.param({"kind": "ftp"}, r"unknown kind\(s\) \['ftp'\]", id="unknown_kind"),
    pytest.param({"name": "a.txt"}, "lists these names twice", id="duplicated_name"),
]


@pytest.mark.parametrize("changes, match", REGISTRY_CASES)
def test_registry_errors_name_the_row(world, changes, match):
    registry = _write_registry(world, **changes)
    with pytest.raises(F.DataFetchError, match=match):
        F.load_registry(registry)


@pytest.mark.parametrize("changes", [{"sha256": ""}, {"sha256": "0" * 64}, {"sha256": "abc"}],
                         ids=["blank_sha", "wrong_sha", "malformed_sha"])
def test_bad_registry_hash_never_deletes_a_valid_cached_file(world, changes):
    before = _fill_cache(world)
    registry = _write_registry(world, **changes)
    with pytest.raises(F.DataFetchError, match="sha256|checksum mismatch"):
        F.fetch("gh.csv", registry=registry, cache=world["cache"], mirror=world["mirror"])
    assert _snapshot(world["cache"]) == before                 # bytes and listing unchanged


def test_upper_case_hash_matches_the_cached_file(world, monkeypatch):
    before = _fill_cache(world)
    registry = _write_registry(world, sha256=world["frame"].loc[0, "sha256"].upper())
    monkeypatch.setattr(F, "_fetch_github", lambda *a: pytest.fail("no fetch expected: the copy is valid"))
    assert F.fetch("gh.csv", registry=registry, cache=world["cache"]).read_bytes() == world["gh"]
    assert (F.verify(registry=registry, cache=world["cache"])["status"] == "ok").all()
    assert _snapshot(world["cache"]) == before


@pytest.mark.parametrize("failure", ["mirror_missing", "mirror_corrupt", "network"])
def test_failed_refetch_keeps_the_corrupt_copy_it_could_not_replace(world, monkeypatch, failure):
    _fill_cache(world)
    (world["cache"] / "gh.csv").write_bytes(b"corrupt\n")
    before = _snapshot(world["cache"])
    mirror = world["mirror"]
    if failure == "mirror_missing":
        world["src"].unlink()
    elif failure == "mirror_corrupt":
        world["src"].write_bytes(b"tampered\n")
    else:
        mirror = None

        def offline(*a, **k):
            raise OSError("network unreachable")
        monkeypatch.setattr(F.urllib.request, "urlopen", offline)
    with pytest.raises(F.DataFetchError):
        F.fetch("gh.csv", registry=world["registry"], cache=world["cache"], mirror=mirror)
    assert _snapshot(world["cache"]) == before


@pytest.mark.parametrize("name", ["gh.csv", "a.txt"])
def test_interrupted_fetch_leaves_the_cache_as_it_was(world, monkeypatch, name):
    before = _fill_cache(world)
    (world["cache"] / name).write_bytes(b"stale\n")            # forces a refetch of this file
    before = _snapshot(world["cache"])
    real = F._sha256

    def killed(path):
        if path.name.startswith("."):                            # hashing the temporary copy
            raise KeyboardInterrupt
        return real(path)
    monkeypatch.setattr(F, "_sha256", killed)
    with pytest.raises(KeyboardInterrupt):
        F.fetch(name, registry=world["registry"], cache=world["cache"], mirror=world["mirror"])
    assert _snapshot(world["cache"]) == before                 # no .part file, old bytes kept


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_verify_only_cleans_and_reports_stale_temporary_files(world, monkeypatch, capsys):
    before = _fill_cache(world)
    stale = world["cache"] / f".gh.csv.part-{_dead_pid()}"
    stale.write_bytes(b"half")
    live = world["cache"] / f".a.txt.part-{os.getpid()}"      # a fetch still running: left alone
    live.write_bytes(b"busy")
    assert F.stale_partials(world["cache"]) == [stale]
    monkeypatch.setenv(F.REGISTRY_ENV, str(world["registry"]))
    monkeypatch.setenv(F.CACHE_ENV, str(world["cache"]))
    assert F.main(["--verify-only"]) == 0
    out = capsys.readouterr().out
    assert "removed 1 stale temporary file(s)" in out and stale.name in out
    live.unlink()
    assert _snapshot(world["cache"]) == before


@pytest.mark.parametrize("where", ["file_as_parent", "proc"])
def test_unusable_cache_folder_is_one_line_with_the_fix(world, where):
    if where == "file_as_parent":
        blocker = world["tmp"] / "blocker"
        blocker.write_text("x")
        cache = blocker / "cache"
    else:
        cache = "/proc/qmrigenes-cache"
    with pytest.raises(F.DataFetchError, match=f"cannot write the data cache folder .*{F.CACHE_ENV}") as err:
        F.fetch("gh.csv", registry=world["registry"], cache=cache, mirror=world["mirror"])
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("verify_only", [False, True], ids=["fetch", "verify_only"])
@pytest.mark.parametrize("problem", ["blank_sha", "unwritable_cache", "missing_registry"])
def test_cli_prints_one_error_and_a_fix_not_a_traceback(world, monkeypatch, capsys, problem, verify_only):
    monkeypatch.setenv(F.MIRROR_ENV, str(world["mirror"]))
    monkeypatch.setenv(F.REGISTRY_ENV, str(world["registry"]))
    monkeypatch.setenv(F.CACHE_ENV, str(world["cache"]))
    if problem == "blank_sha":
        _write_registry(world, sha256="")
    elif problem == "unwritable_cache":
        blocker = world["tmp"] / "blocker"
        blocker.write_text("x")
        monkeypatch.setenv(F.CACHE_ENV, str(blocker / "cache"))
    else:
        monkeypatch.setenv(F.REGISTRY_ENV, str(world["tmp"] / "nope.csv"))
    assert F.main(["--verify-only"] if verify_only else []) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert "fix" in err.lower() or "run:" in err.lower()


def test_fetch_name_must_be_a_string(world):
    with pytest.raises(TypeError, match="name must be a registered file name"):
        F.fetch(3, registry=world["registry"], cache=world["cache"])
    with pytest.raises(KeyError, match="'nope' is not in the data registry"):
        F.fetch("nope", registry=world["registry"], cache=world["cache"])


def test_validate_module_is_private():
    assert not hasattr(_validate, "__version__") and "check_int" in _validate.__all__


# --------------------------------------------------------------------------- found while hunting (beyond the issue)
@pytest.mark.parametrize("content, match", [
    (b"", "not a readable CSV table"),
    (None, "data registry not found"),           # a folder where the registry should be
], ids=["empty_file", "folder"])
def test_unreadable_registry_is_a_registry_error(tmp_path, content, match):
    path = tmp_path / "registry.csv"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(F.DataFetchError, match=match):
        F.load_registry(path)


@pytest.mark.parametrize("name", ["../escape.csv", "sub/file.csv", ".hidden.csv"])
def test_registry_names_cannot_leave_the_cache(world, name):
    registry = _write_registry(world, name=name)
    with pytest.raises(F.DataFetchError, match=r"row 2 .*name must be a plain file name"):
        F.load_registry(registry)


def test_duplicated_map_names_are_refused():
    with pytest.raises(ValueError, match=r"maps.columns \(map names\) must be unique"):
        gs.gene_map_correlations(EXPR, MAPS.set_axis(["m1", "m1"], axis=1))


def test_map_with_too_few_regions_names_the_map():
    maps = Y.to_frame("sparse").assign(sparse=lambda f: f["sparse"].where(f.index.isin(["roi0", "roi1"])))
    with pytest.raises(ValueError, match=r"maps\['sparse'\] has 2 non-NaN regions"):
        reg.map_gene_tables(X, maps, {"s": ["g0"]})


def test_multi_map_surface_file_is_not_silently_ravelled(tmp_path):
    nib = pytest.importorskip("nibabel")
    data = np.zeros((5121, 2), np.float32)                  # 10,242 values, but two maps of 5,121
    nib.save(nib.gifti.GiftiImage(darrays=[nib.gifti.GiftiDataArray(data)]), tmp_path / "two.gii")
    with pytest.raises(ValueError, match=r"two.gii data array 1 of 1 has shape \(5121, 2\); expected \(10242,\)"):
        surface.load_surface_map(tmp_path / "two.gii")
