"""The MPM linear relaxometry model R1 = b0 + b1 MTsat + b2 R2* + e (Callaghan et al. 2015).

Per subject (and hemisphere) the model is fitted across vertices or regions
(observations), giving one (b0, b1, b2) per subject and a residual map e.

* :func:`fit_linear_model` - one fit with statsmodels OLS (betas, SEs, VIF,
  residuals);
* :func:`fit_subjects` - one statsmodels fit per subject of tables
  subjects x regions, checking that the three tables describe the same
  subjects and regions;
* :func:`fit_vertexwise` - the same per-subject fit, vectorised over subjects
  for surface data (batched normal equations);
* :func:`simulate_cohort` and :func:`vertexwise_pipeline` - a simulated
  fsaverage5 cohort with known betas and a planted residual pattern, and the
  poster's pipeline (smooth 6 mm -> fit per subject -> average vertexwise ->
  DK parcellation);
* :func:`clinical_mpm_model` - the model fitted to the public clinical MPM
  data (Cooper et al. 2020), per subject across cortical regions, mapped to DK;
  :func:`nspn_dk_mt` - the public NSPN MT maps averaged into DK regions.

Units: R1 and R2* in 1/s, MTsat in p.u.; b0 in 1/s, b1 in 1/s per p.u.,
b2 dimensionless.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from ._validate import (align_index, as_array, check_choice, check_frame, check_int,
                        check_scalar, check_seed, check_unique, describe)
from .datasets import (load_clinical_mpm,
                       load_nspn_mt)
from .surface import (Mesh, check_surface_map, dk_labels, load_fsaverage5,
                      load_neuromorphometrics_crosswalk, neuromorphometrics_to_dk, nspn_to_dk,
                      parcellate, smooth_surface)

__all__ = [
    "BETAS",
    "LinearModelFit",
    "fit_linear_model",
    "SubjectFits",
    "fit_subjects",
    "fit_vertexwise",
    "summarise_betas",
    "nspn_dk_mt",
    "SimulatedCohort",
    "simulate_cohort",
    "VertexwiseResult",
    "vertexwise_pipeline",
    "ClinicalModel",
    "clinical_mpm_model",
]

#: Names of the model coefficients.
BETAS = ("b0", "b1", "b2")


# --------------------------------------------------------------------------- single fit
class LinearModelFit(NamedTuple):
    """One fit of R1 = b0 + b1 MTsat + b2 R2* + e.

    Attributes
    ----------
    params, bse : pandas.Series (b0, b1, b2)
        Estimates and standard errors.
    rsquared : float
    vif : pandas.Series (MTsat, R2*)
        Variance inflation factors of the two regressors (design with constant).
    resid : numpy.ndarray, shape (n_obs,)
        Residuals e.
    """

    params: pd.Series
    bse: pd.Series
    rsquared: float
    vif: pd.Series
    resid: np.ndarray


def _check_vector(x, name, n=None, *, constant_ok: bool = True):
    arr = as_array(x, name, ndim=1)              # a 2-D input is refused, never ravelled
    if n is not None and arr.size != n:
        raise ValueError(f"{name} must have {n} values (as R1), got {arr.size}")
    if not constant_ok and np.ptp(arr) == 0:
        raise ValueError(f"{name} is constant ({arr[0]:g} everywhere); its coefficient is undefined")
    return arr


def fit_linear_model(r1, mtsat, r2s) -> LinearModelFit:
    """Fit R1 = b0 + b1 MTsat + b2 R2* + e by OLS (statsmodels).

    Parameters
    ----------
    r1, mtsat, r2s : array_like, shape (n_obs,)
        R1 (1/s), MTsat (p.u.) and R2* (1/s) at the same vertices/regions.

    Returns
    -------
    LinearModelFit
    """
    from statsmodels.regression.linear_model import OLS       # not statsmodels.api: a third of the import
    from statsmodels.stats.outliers_influence import variance_inflation_factor
    from statsmodels.tools.tools import add_constant

    y = _check_vector(r1, "r1")
    x1 = _check_vector(mtsat, "mtsat", y.size, constant_ok=False)
    x2 = _check_vector(r2s, "r2s", y.size, constant_ok=False)
    if y.size < 4:
        raise ValueError(f"r1 must have at least 4 observations for 3 coefficients, got {y.size}")
    design = add_constant(np.column_stack([x1, x2]), has_constant="add")
    if np.linalg.matrix_rank(design) < 3:
        raise ValueError("mtsat and r2s are collinear (with the intercept); the coefficients are undefined")
    res = OLS(y, design).fit()
    vif = pd.Series([variance_inflation_factor(design, k) for k in (1, 2)], index=["MTsat", "R2*"])
    return LinearModelFit(pd.Series(res.params, index=list(BETAS)), pd.Series(res.bse, index=list(BETAS)),
                          float(res.rsquared), vif, np.asarray(res.resid))


# --------------------------------------------------------------------------- per subject
class SubjectFits(NamedTuple):
    """Per-subject fits: ``betas``/``bse`` (subjects x b0,b1,b2), ``rsquared``
    (Series), ``vif`` (subjects x MTsat,R2*) and ``residuals`` (subjects x regions)."""

    betas: pd.DataFrame
    bse: pd.DataFrame
    rsquared: pd.Series
    vif: pd.DataFrame
    residuals: pd.DataFrame


def _check_same_tables(r1, mtsat, r2s):
    """The three tables aligned to ``r1`` by subject (rows) and region (columns) names."""
    out = []
    for name, t in (("r1", r1), ("mtsat", mtsat), ("r2s", r2s)):
        if not isinstance(t, pd.DataFrame):
            raise TypeError(f"{name} must be a DataFrame (subjects x regions), got {describe(t)}")
        check_unique(t.index, f"{name}.index (subjects)")
        check_unique(t.columns, f"{name}.columns (regions)")
    for name, t in (("mtsat", mtsat), ("r2s", r2s)):
        t = align_index(r1.index, t, name, ref_name="r1", what="subject")
        t = align_index(r1.columns, t, name, ref_name="r1", what="region", axis=1)
        out.append(t)
    return out


def fit_subjects(r1: pd.DataFrame, mtsat: pd.DataFrame, r2s: pd.DataFrame) -> SubjectFits:
    """One statsmodels fit per subject, across regions.

    Parameters
    ----------
    r1, mtsat, r2s : pandas.DataFrame, shape (n_subjects, n_regions)
        Same subject names and region names in all three (any order: aligned
        by name to ``r1``).

    Returns
    -------
    SubjectFits

    Raises
    ------
    ValueError
        Different subject or region names, or non-finite values.
    """
    mtsat, r2s = _check_same_tables(r1, mtsat, r2s)
    fits = {s: fit_linear_model(r1.loc[s], mtsat.loc[s], r2s.loc[s]) for s in r1.index}
    betas = pd.DataFrame({s: f.params for s, f in fits.items()}).T.rename_axis(r1.index.name)
    bse = pd.DataFrame({s: f.bse for s, f in fits.items()}).T.rename_axis(r1.index.name)
    vif = pd.DataFrame({s: f.vif for s, f in fits.items()}).T.rename_axis(r1.index.name)
    rsq = pd.Series({s: f.rsquared for s, f in fits.items()}, name="rsquared")
    resid = pd.DataFrame(np.vstack([f.resid for f in fits.values()]), index=r1.index, columns=r1.columns)
    return SubjectFits(betas, bse, rsq, vif, resid)


def fit_vertexwise(r1, mtsat, r2s) -> tuple[np.ndarray, np.ndarray]:
    """Per-subject fits across vertices, vectorised over subjects.

    Parameters
    ----------
    r1, mtsat, r2s : array_like, shape (n_subjects, n_vertices)

    Returns
    -------
    betas : numpy.ndarray, shape (n_subjects, 3)
        (b0, b1, b2) per subject; identical to statsmodels OLS.
    residuals : numpy.ndarray, shape (n_subjects, n_vertices)
    """
    y = as_array(r1, "r1", ndim=2)
    x1 = as_array(mtsat, "mtsat", ndim=2)
    x2 = as_array(r2s, "r2s", ndim=2)
    if x1.shape != y.shape or x2.shape != y.shape:
        raise ValueError(f"r1, mtsat and r2s must have the same shape (n_subjects, n_vertices), "
                         f"got {y.shape}, {x1.shape}, {x2.shape}")
    if y.shape[1] < 4:
        raise ValueError(f"r1 must have at least 4 vertices for 3 coefficients, got {y.shape[1]}")
    for name, x in (("mtsat", x1), ("r2s", x2)):
        flat = np.ptp(x, axis=1) == 0
        if flat.any():
            raise ValueError(f"{name} is constant for subject(s) {np.flatnonzero(flat).tolist()[:10]}; "
                             f"the coefficients are undefined")
    design = np.stack([np.ones_like(y), x1, x2], axis=-1)          # (s, v, 3)
    xtx = np.einsum("svi,svj->sij", design, design)
    xty = np.einsum("svi,sv->si", design, y)
    betas = np.linalg.solve(xtx, xty[..., None])[..., 0]
    resid = y - np.einsum("svi,si->sv", design, betas)
    return betas, resid


def summarise_betas(betas: pd.DataFrame) -> pd.DataFrame:
    """Mean and SD (ddof=1) over subjects of each coefficient: index b0,b1,b2; columns mean, sd, n."""
    check_frame(betas, "betas", index_name="subject")
    as_array(betas, "betas", ndim=2)
    if len(betas) < 2:
        raise ValueError(f"betas must have at least 2 subjects for an SD, got {len(betas)}")
    return pd.DataFrame({"mean": betas.mean(), "sd": betas.std(ddof=1), "n": betas.count()})


# --------------------------------------------------------------------------- simulation
class SimulatedCohort(NamedTuple):
    """A simulated cohort on one fsaverage5 hemisphere.

    Attributes
    ----------
    r1, mtsat, r2s : numpy.ndarray, shape (n_subjects, 10242)
        Observed (noisy, unsmoothed) maps: R1 and R2* in 1/s, MTsat in p.u.
    betas : pandas.DataFrame, shape (n_subjects, 3)
        True (b0, b1, b2) per subject.
    epsilon : numpy.ndarray, shape (10242,)
        Planted residual pattern (1/s), common to all subjects.
    mesh : Mesh
    labels : numpy.ndarray of str, shape (10242,)
        DK region per vertex.
    """

    r1: np.ndarray
    mtsat: np.ndarray
    r2s: np.ndarray
    betas: pd.DataFrame
    epsilon: np.ndarray
    mesh: Mesh
    labels: np.ndarray


def _standardise(x):
    """Zero mean, unit *population* SD (ddof = 0) along the last axis (vertices).

    Scales the simulation's random fields to unit variance over the mesh's vertices: a design
    step, not a statistic, so the SD is the population one (ddof = 0). The package's z-score of
    data is :func:`qmrigenes.stats.standardize.zscore` (ddof = 1 by default); with ``ddof=0`` on
    the transposed array it gives the same fields up to rounding (1e-15), which would change the
    simulated cohort's last digits, so this stays as written.
    """
    x = x - x.mean(axis=-1, keepdims=True)
    return x / x.std(axis=-1, keepdims=True)


def simulate_cohort(*, n_subjects: int = 17, hemisphere: str = "L",
                    beta_mean=(0.24, 0.30, 0.008), beta_sd=(0.04, 0.04, 0.0017),
                    field_fwhm: float = 20.0, epsilon_amplitude: float = 0.02,
                    noise_sd=(0.02, 0.03, 1.0), n_basis: int = 8, seed: int = 0) -> SimulatedCohort:
    """Simulate per-subject MPM maps with known betas and a planted residual.

    For each subject s and vertex v::

        MTsat = 0.90 + 0.06 g_MT(v) + 0.05 f_MT,s(v)            (p.u.)
        R2*   = 17.0 + 2.0 g_R2(v)  + 1.5 f_R2,s(v)             (1/s)
        R1    = b0_s + b1_s MTsat + b2_s R2* + epsilon(v)

    with g (group) and f (subject) smooth Gaussian random fields (white noise
    heat-smoothed at ``field_fwhm`` mm on the midthickness mesh, then
    standardised; each subject field is a random mixture of ``n_basis``
    such fields, which keeps the simulation fast), ``b_s ~ N(beta_mean, beta_sd)``, and ``epsilon`` a
    sensorimotor pattern (precentral, postcentral, paracentral vertices,
    smoothed at 15 mm, made orthogonal over vertices to the constant and all
    the g and f fields so that it is identifiable as a residual, zero mean,
    SD ``epsilon_amplitude``). Independent
    vertex noise of SD ``noise_sd`` (R1, MTsat, R2*) is then added to each
    observed map. Default betas are close to the poster's estimates.

    Bounded work: ``n_subjects`` <= 1,000, ``n_basis`` <= 100,
    ``field_fwhm`` <= 100 mm.

    Returns
    -------
    SimulatedCohort
    """
    n_subjects = check_int(n_subjects, "n_subjects", min=2, max=1000)
    n_basis = check_int(n_basis, "n_basis", min=1, max=100)
    check_choice(hemisphere, "hemisphere", ["L", "R"])
    field_fwhm = check_scalar(field_fwhm, "field_fwhm", min=0, min_inclusive=False, max=100, unit="mm")
    epsilon_amplitude = check_scalar(epsilon_amplitude, "epsilon_amplitude", min=0, unit="1/s")
    beta_mean = as_array(beta_mean, "beta_mean", shape=(3,))
    beta_sd = as_array(beta_sd, "beta_sd", shape=(3,))
    noise_sd = as_array(noise_sd, "noise_sd", shape=(3,))
    for name, v in (("beta_sd", beta_sd), ("noise_sd", noise_sd)):
        if (v < 0).any():
            raise ValueError(f"{name} must be >= 0 (standard deviations), got {v.tolist()}")
    rng = check_seed(seed)
    mesh = load_fsaverage5(hemisphere=hemisphere)
    labels = dk_labels(hemisphere=hemisphere)
    n = len(mesh.coords)
    noise = rng.standard_normal((2 + 2 * n_basis, n))
    fields = _standardise(smooth_surface(noise, mesh, fwhm=field_fwhm))
    g_mt, g_r2 = fields[0], fields[1]
    mix = rng.standard_normal((2, n_subjects, n_basis)) / np.sqrt(n_basis)
    f_mt = _standardise(mix[0] @ fields[2:2 + n_basis])
    f_r2 = _standardise(mix[1] @ fields[2 + n_basis:])
    mt = 0.90 + 0.06 * g_mt + 0.05 * f_mt
    r2 = 17.0 + 2.0 * g_r2 + 1.5 * f_r2
    pattern = np.isin(labels, ["precentral", "postcentral", "paracentral"]).astype(float)
    pattern = smooth_surface(pattern, mesh, fwhm=15.0)
    # make the residual identifiable: orthogonal (over vertices) to every field
    # that builds MTsat and R2*, so no subject's regressors can absorb it
    basis = np.column_stack([np.ones(n), fields.T])
    pattern = pattern - basis @ np.linalg.lstsq(basis, pattern, rcond=None)[0]
    epsilon = epsilon_amplitude * _standardise(pattern)
    b = np.asarray(beta_mean) + np.asarray(beta_sd) * rng.standard_normal((n_subjects, 3))
    r1 = b[:, [0]] + b[:, [1]] * mt + b[:, [2]] * r2 + epsilon
    sd = np.asarray(noise_sd, float)
    r1 = r1 + sd[0] * rng.standard_normal(r1.shape)
    mt = mt + sd[1] * rng.standard_normal(mt.shape)
    r2 = r2 + sd[2] * rng.standard_normal(r2.shape)
    subjects = pd.Index([f"sim-{i + 1:02d}" for i in range(n_subjects)], name="subject")
    return SimulatedCohort(r1, mt, r2, pd.DataFrame(b, index=subjects, columns=list(BETAS)),
                           epsilon, mesh, labels)


class VertexwiseResult(NamedTuple):
    """Output of :func:`vertexwise_pipeline`.

    Attributes
    ----------
    betas : pandas.DataFrame, shape (n_subjects, 3)
    residuals : numpy.ndarray, shape (n_subjects, n_vertices)
    mean_maps : pandas.DataFrame, shape (n_vertices, 4)
        Vertexwise means over subjects of R1, MTsat, R2* and e.
    dk : pandas.DataFrame, shape (34, 4)
        ``mean_maps`` averaged within the DK regions (left or right).
    """

    betas: pd.DataFrame
    residuals: np.ndarray
    mean_maps: pd.DataFrame
    dk: pd.DataFrame


def vertexwise_pipeline(r1, mtsat, r2s, mesh: Mesh, labels, *, fwhm: float = 6.0,
                        subjects=None) -> VertexwiseResult:
    """The poster's surface pipeline for one hemisphere.

    1. smooth each subject's R1, MTsat, R2* on the mesh at ``fwhm`` mm;
    2. fit R1 = b0 + b1 MTsat + b2 R2* + e per subject across vertices;
    3. average R1, MTsat, R2* and e over subjects vertexwise;
    4. average within DK regions.

    Parameters
    ----------
    r1, mtsat, r2s : array_like, shape (n_subjects, n_vertices)
        Per-subject maps sampled at 50% depth (e.g. from
        :func:`qmrigenes.surface.load_surface_map`), same subjects in the same order.
    mesh : Mesh
    labels : array_like of str, shape (n_vertices,)
        DK label per vertex.
    fwhm : float, optional
        Smoothing FWHM in mm; default 6.
    subjects : sequence of str, optional
        Subject IDs for the output index.

    Returns
    -------
    VertexwiseResult
    """
    from .surface import MAX_FWHM_MM, _check_mesh

    mesh = _check_mesh(mesh)
    n = len(mesh.coords)
    fwhm = check_scalar(fwhm, "fwhm", min=0, max=MAX_FWHM_MM, unit="mm")
    if isinstance(labels, (str, bytes)):
        raise TypeError(f"labels must be one DK region name per vertex, got a bare string {labels!r}")
    if np.shape(labels) != (n,):
        raise ValueError(f"labels must have shape ({n},) (one per mesh vertex), got {np.shape(labels)}")
    if subjects is not None:
        if isinstance(subjects, (str, bytes)):
            raise TypeError(f"subjects must be a sequence of subject IDs, got a bare string {subjects!r}")
        subjects = list(subjects)
        check_unique(subjects, "subjects")
    arrays = {name: check_surface_map(as_array(x, name, ndim=2, finite=False), n_vertices=n, name=name)
              for name, x in (("r1", r1), ("mtsat", mtsat), ("r2s", r2s))}
    shapes = {k: v.shape for k, v in arrays.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"r1, mtsat and r2s must have the same shape (n_subjects, n_vertices): "
                         f"mismatched subject lists {shapes}")
    maps = {name: smooth_surface(x, mesh, fwhm=fwhm) for name, x in arrays.items()}
    betas, resid = fit_vertexwise(maps["r1"], maps["mtsat"], maps["r2s"])
    n_sub = betas.shape[0]
    if subjects is None:
        subjects = [f"sub-{i + 1:02d}" for i in range(n_sub)]
    if len(subjects) != n_sub:
        raise ValueError(f"subjects must have {n_sub} IDs (one per subject), got {len(subjects)}")
    mean_maps = pd.DataFrame({k: v.mean(axis=0) for k, v in
                              zip(("R1", "MTsat", "R2*"), (maps["r1"], maps["mtsat"], maps["r2s"]))})
    mean_maps["e"] = resid.mean(axis=0)
    dk = parcellate(mean_maps.to_numpy().T, labels).T
    dk.columns = mean_maps.columns
    return VertexwiseResult(pd.DataFrame(betas, index=pd.Index(subjects, name="subject"), columns=list(BETAS)),
                            resid, mean_maps, dk)


# --------------------------------------------------------------------------- real data
class ClinicalModel(NamedTuple):
    """The linear model on the clinical MPM data (Cooper et al. 2020).

    Attributes
    ----------
    fits : SubjectFits
        One fit per subject across the cortical Neuromorphometrics labels
        (repeats averaged; MTsat scaled by ``mt_scale``).
    maps : dict of str to pandas.DataFrame
        Per-subject tables (subjects x labels) for R1, MTsat, R2*.
    dk : pandas.DataFrame, shape (34, 4)
        Subject means of R1, MTsat, R2* and e mapped to DK.
    """

    fits: SubjectFits
    maps: dict
    dk: pd.DataFrame


def clinical_mpm_model(*, mt_scale: float = 1.0, table: pd.DataFrame | None = None,
                       crosswalk: pd.DataFrame | None = None) -> ClinicalModel:
    """Fit the linear model to the clinical MPM data and map the results to DK.

    The three repeats of each subject are averaged per region; the model is
    fitted per subject across the cortical Neuromorphometrics labels that the
    crosswalk maps to DK (each label once); the subject means of R1, MTsat,
    R2* and the residual e are then mapped to the 34 DK regions. The data are
    bilateral region means, so there is no per-hemisphere fit.

    Parameters
    ----------
    mt_scale : float, optional
        Multiplies the stored MT. Default 1 (MT as stored, the vendor
        sequence's MTsat in p.u.); :data:`qmrigenes.datasets.CLINICAL_MPM_MT_SCALE`
        (220/500) is the data README's factor to the customised sequence. The
        scale changes b1 (by its inverse) only, not b0, b2, correlations or
        residuals.
    table : pandas.DataFrame, optional
        Long table as :func:`qmrigenes.datasets.load_clinical_mpm` (default: that).
    crosswalk : pandas.DataFrame, optional
        Neuromorphometrics label -> DK region table (columns ``neuromorphometrics``,
        ``dk_region``; empty ``dk_region``: not cortical). Default
        :func:`qmrigenes.surface.load_neuromorphometrics_crosswalk`.

    Returns
    -------
    ClinicalModel
        ``fits`` (one OLS per subject across the n_labels cortical labels: betas in
        1/s, 1/s per p.u. and dimensionless; residuals, shape (n_subjects, n_labels)),
        ``maps`` (``"R1"``, ``"MTsat"``, ``"R2*"``: subjects x labels, 1/s or p.u.) and
        ``dk`` (shape (34, 4): subject means of R1, MTsat, R2* and e per DK region).

    Raises
    ------
    ValueError
        ``table`` names labels that are not in ``crosswalk``, lacks a column, or has
        unequal numbers of repeats per subject and label.

    Examples
    --------
    >>> from qmrigenes import mpm
    >>> model = mpm.clinical_mpm_model()                       # doctest: +SKIP
    >>> model.fits.betas.mean().round(3)                       # doctest: +SKIP
    >>> mpm.clinical_mpm_model(mt_scale=220 / 500).dk["MTsat"]  # doctest: +SKIP
    """
    mt_scale = check_scalar(mt_scale, "mt_scale", min=0, min_inclusive=False)
    if table is not None:
        check_frame(table, "table", index_name="row")
        need = {"parameter", "subject", "region", "value"}
        if not need <= set(table.columns):
            raise ValueError(f"table must have columns {sorted(need)}, has {list(table.columns)}")
        as_array(table["value"], "table['value']", ndim=1)
    table = load_clinical_mpm() if table is None else table
    cw = load_neuromorphometrics_crosswalk() if crosswalk is None else crosswalk
    unknown = sorted(set(table["region"]) - set(cw["neuromorphometrics"]))
    if unknown:
        raise ValueError(f"labels not in the crosswalk: {unknown}")
    cortical = list(dict.fromkeys(cw.loc[cw["dk_region"] != "", "neuromorphometrics"]))
    sub = table[table["region"].isin(cortical)]
    wide = sub.pivot_table(index=["parameter", "subject"], columns="region", values="value",
                           aggfunc="mean")[cortical]
    counts = sub.groupby(["parameter", "subject", "region"]).size()
    if counts.nunique() != 1:
        raise ValueError("unequal numbers of repeats per subject/region")
    maps = {"R1": wide.loc["R1"], "MTsat": wide.loc["MT"] * mt_scale, "R2*": wide.loc["R2*"]}
    fits = fit_subjects(maps["R1"], maps["MTsat"], maps["R2*"])
    means = pd.DataFrame({k: v.mean() for k, v in maps.items()})
    means["e"] = fits.residuals.mean()
    dk = neuromorphometrics_to_dk(means.T, crosswalk=cw).T
    return ClinicalModel(fits, maps, dk)


def nspn_dk_mt(*, hemisphere: str = "L", path=None) -> pd.DataFrame:
    """NSPN MT per subject in the 34 DK regions of one hemisphere (sub-parcels averaged without weights).

    Parameters
    ----------
    hemisphere : {"L", "R"}
        Hemisphere of the 500.aparc sub-parcels. Default ``"L"``.
    path : path-like, optional
        An NSPN ``PARC_500aparc_MT_*_mean_behavmerge.csv`` file (another depth, or a distance
        below the grey/white boundary); default the registry's 50%-depth file
        (:func:`qmrigenes.datasets.load_nspn_mt`).

    Returns
    -------
    pandas.DataFrame, shape (n_subjects, 34)
        Subjects (297 in the registry's file) x DK regions in
        :data:`~qmrigenes.datasets.DK_CORTICAL_REGIONS` order, MT in p.u.

    Examples
    --------
    >>> from qmrigenes import mpm
    >>> mt = mpm.nspn_dk_mt()                  # doctest: +SKIP
    >>> mt.mean().sort_values().tail(3)        # doctest: +SKIP
    >>> mpm.nspn_dk_mt(hemisphere="R").shape   # doctest: +SKIP
    (297, 34)
    """
    nspn = load_nspn_mt(path=path)
    return nspn_to_dk(nspn.values, nspn.parcels, hemisphere=hemisphere)
