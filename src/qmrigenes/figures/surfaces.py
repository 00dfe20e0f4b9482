"""Maps on the cortical surface: regional (DK) values painted on fsaverage5, lateral and medial views.

Every plotting function returns a :class:`matplotlib.figure.Figure` and does not save or show it.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .._validate import align_index, as_array, check_choice, check_unique, describe
from .style import MIN_FONT_PT

__all__ = [
    "plot_dk_surface_maps",
    "plot_maps_with_gene_sets",
    "plot_simulation_recovery",
]

_VIEWS = ("lateral", "medial")


#: nilearn's matplotlib views (elevation, azimuth) in degrees, per hemisphere.
_NILEARN_VIEWS = {"L": {"lateral": (0, 180), "medial": (0, 0)},
                  "R": {"lateral": (0, 0), "medial": (0, 180)}}


def _projected_faces(mesh, *, hemisphere, view):
    """The mesh's faces as nilearn's 3D panel projects them: 2D triangles in drawing order.

    The 3D axes is set up as ``nilearn.plotting.plot_surf`` sets it up (centred mesh, x/y
    limits, view angles, ``plot_trisurf`` for the z limits, ``zoom=1.3``), on a figure that
    is never drawn; its projection matrix maps the faces to the 2D coordinates mplot3d draws,
    and the faces are ordered back to front by mean depth exactly as
    ``Poly3DCollection.do_3d_projection`` orders them (painter's algorithm).

    Returns
    -------
    paths : list of matplotlib.path.Path, length n_faces
        Projected triangles (closed, as ``PolyCollection`` makes them), farthest first; made
        once per view and shared by every panel of that view.
    order : numpy.ndarray of int, shape (n_faces,)
        The face index of each row of ``faces_2d``.
    xlim, ylim : tuple of float
        The 3D axes' 2D view limits (the square that maps onto the panel).
    """
    from matplotlib.figure import Figure
    from matplotlib.path import Path

    coords = np.array(mesh.coords, dtype=float)
    coords -= np.mean(coords, axis=0)
    faces = np.asarray(mesh.faces)
    limits = [coords.min(), coords.max()]
    elev, azim = _NILEARN_VIEWS[hemisphere][view]
    ax = Figure().add_subplot(projection="3d")
    ax.set_xlim(*limits)
    ax.set_ylim(*limits)
    ax.view_init(elev=elev, azim=azim)
    ax.plot_trisurf(coords[:, 0], coords[:, 1], coords[:, 2], triangles=faces, linewidth=0.1,
                    antialiased=False, color="white")
    ax.set_box_aspect(None, zoom=1.3)
    m = ax.get_proj()
    homogeneous = np.column_stack([coords, np.ones(len(coords))])
    product = homogeneous @ m.T
    projected = product[:, :3] / product[:, 3:4]
    face_xyz = projected[faces]                                  # (n_faces, 3, 3)
    order = np.argsort(np.average(face_xyz[..., 2], axis=-1))[::-1]
    faces_2d = face_xyz[order, :, :2]
    closed = np.concatenate([faces_2d, faces_2d[:, :1]], axis=1)
    codes = np.array([Path.MOVETO, Path.LINETO, Path.LINETO, Path.CLOSEPOLY], dtype=Path.code_type)
    paths = [Path(xy, codes) for xy in closed]                   # as PolyCollection makes them
    return paths, order, tuple(ax.viewLim.intervalx), tuple(ax.viewLim.intervaly)


def _contour_faces(faces, codes):
    """Faces nilearn's ``plot_surf_contours`` paints, all levels at once (boolean, n_faces).

    A vertex lies on its region's edge when some face holds exactly two vertices of its
    region; a face is painted when it holds such a vertex and is not wholly inside that
    vertex's region (nilearn's ``get_faces_on_edge`` applied to every region in turn).
    """
    fc = codes[faces]                                            # (n_faces, 3)
    same = (fc[:, :, None] == fc[:, None, :]).sum(axis=2)        # vertices sharing each vertex's code
    edge = np.zeros(len(codes), dtype=bool)
    edge[faces[same == 2]] = True
    return (edge[faces] & (same < 3)).any(axis=1)


def _face_colours(values, faces, codes, *, cmap, vmin, vmax):
    """RGBA per face as nilearn's matplotlib surface draws them (no background map).

    Face value = mean of its vertices; scaled to ``[vmin, vmax]``; NaN faces transparent over
    nilearn's default background (grey 0.5 at alpha 0.5); region outlines black.
    """
    from matplotlib import colormaps

    cmap = colormaps[cmap] if isinstance(cmap, str) else cmap
    data = np.mean(np.asarray(values, dtype=float)[faces], axis=1)
    if vmin == vmax == 0:
        vmin, vmax = -1, 1
    scaled = (data - vmin) / (vmax - vmin)
    fg = cmap(scaled)
    fg[np.isnan(data), 3] = 0
    bg = plt.cm.gray_r(np.full(len(faces), 0.5))
    bg[:, 3] = 0.5 * bg[:, 3]
    mix = np.empty_like(fg)
    mix[:, 3] = 1 - (1 - fg[:, 3]) * (1 - bg[:, 3])
    for c in range(3):
        mix[:, c] = (fg[:, c] * fg[:, 3] + bg[:, c] * bg[:, 3] * (1 - fg[:, 3])) / mix[:, 3]
    mix[mix > 1] = 1
    mix[_contour_faces(faces, codes)] = (0.0, 0.0, 0.0, 1.0)
    return mix


def _surface_panel(ax, projection, mesh, values, labels, *, cmap, vmin, vmax):
    """One fixed-view surface panel on a 2D axes: the picture of nilearn's 3D surface panel.

    The triangles projected once per view (:func:`_projected_faces`) are drawn as one
    path collection back to front with nilearn's face colours, edges and line width,
    in the same square box with the same limits; about 10x faster than building and
    drawing nilearn's 3D panel (``plot_surf_stat_map`` + ``plot_surf_contours``; the tests
    compare the two pictures).
    """
    from matplotlib.collections import PathCollection

    paths, order, xlim, ylim = projection
    codes = pd.factorize(labels)[0] + 1
    colours = _face_colours(values, mesh.faces, codes, cmap=cmap, vmin=vmin, vmax=vmax)[order]
    # a PathCollection without sizes draws its paths in data coordinates as PolyCollection does
    ax.add_collection(PathCollection(paths, facecolors=colours, edgecolors=colours, linewidths=0.1,
                                     antialiaseds=False), autolim=False)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def plot_dk_surface_maps(maps: pd.DataFrame, *, hemisphere: str = "L", titles=None, cmaps=None,
                         symmetric=None, suptitle: str | None = None, units=None):
    """Regional (DK) maps on the inflated fsaverage5 surface, lateral and medial views.

    Parameters
    ----------
    maps : pandas.DataFrame, shape (34, n_maps)
        Index DK regions; one row of the figure per column.
    hemisphere : {"L", "R"}
    titles : sequence of str, optional
        Row titles (default the column names).
    cmaps : sequence of str, optional
        Colormap per row (default ``"viridis"``, ``"RdBu_r"`` for symmetric rows).
    symmetric : sequence of bool, optional
        Colour scale symmetric about 0 per row (default False).
    suptitle : str, optional
    units : sequence of str, optional
        Colour-bar label per row (the unit of the map, e.g. ``"1/s"``); default none.

    Returns
    -------
    matplotlib.figure.Figure
        7.5 in wide (a text column); DK region outlines in black; medial wall grey; one colour
        bar per row, labelled with ``units``; text at least 9 pt.
    """
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    from ..surface import dk_labels, load_fsaverage5, regions_to_vertices

    if not isinstance(maps, pd.DataFrame):
        raise TypeError(f"maps must be a DataFrame indexed by DK region, got {describe(maps)}")
    check_choice(hemisphere, "hemisphere", ["L", "R"])
    check_unique(maps.index, "maps.index (region names)")
    as_array(maps, "maps", ndim=2, allow_nan=True)       # NaN: region not shown; inf refused
    for arg, value in (("titles", titles), ("cmaps", cmaps)):
        if isinstance(value, str):
            raise TypeError(f"{arg} must be a list with one entry per map, got a bare string {value!r}")
    k = maps.shape[1]
    titles = list(maps.columns) if titles is None else list(titles)
    symmetric = [False] * k if symmetric is None else list(symmetric)
    cmaps = ["RdBu_r" if s else "viridis" for s in symmetric] if cmaps is None else list(cmaps)
    units = [""] * k if units is None else list(units)
    if not (len(titles) == len(symmetric) == len(cmaps) == len(units) == k):
        raise ValueError("titles, cmaps and symmetric need one entry per map")
    mesh = load_fsaverage5(hemisphere=hemisphere, surface="inflated")
    labels = dk_labels(hemisphere=hemisphere)
    projections = {view: _projected_faces(mesh, hemisphere=hemisphere, view=view) for view in _VIEWS}
    fig = plt.figure(figsize=(7.5, 2.1 * k + (0.4 if suptitle else 0)))
    grid = fig.add_gridspec(k, 4, width_ratios=[0.45, 1, 1, 0.05], wspace=0.02, hspace=0.08)
    for i, col in enumerate(maps.columns):
        values = maps[col]
        vertex = regions_to_vertices(values, labels)
        if symmetric[i]:
            lim = float(np.nanmax(np.abs(values)))
            vmin, vmax = -lim, lim
        else:
            vmin, vmax = float(values.min()), float(values.max())
        for j, view in enumerate(_VIEWS):
            ax = fig.add_subplot(grid[i, j + 1])
            _surface_panel(ax, projections[view], mesh, vertex, labels, cmap=cmaps[i], vmin=vmin, vmax=vmax)
            if i == 0:
                ax.set_title(view, fontsize=MIN_FONT_PT + 1)
        tax = fig.add_subplot(grid[i, 0])
        tax.set_axis_off()
        tax.text(0.55, 0.5, titles[i], transform=tax.transAxes, ha="center", va="center", fontsize=MIN_FONT_PT + 1)
        cax = fig.add_subplot(grid[i, 3])
        cb = fig.colorbar(ScalarMappable(norm=Normalize(vmin, vmax), cmap=cmaps[i]), cax=cax)
        cb.ax.tick_params(labelsize=MIN_FONT_PT)
        if units[i]:
            cb.set_label(units[i], fontsize=MIN_FONT_PT)
        cax.set_box_aspect(6)
    if suptitle:
        fig.suptitle(suptitle, fontsize=MIN_FONT_PT + 1)
    fig.subplots_adjust(left=0.01, right=0.88, top=0.95 if suptitle else 0.97, bottom=0.02)
    return fig

_MPM_TITLES = {"R1": "R1 (1/s)", "R2*": "R2* (1/s)", "MTsat": "MTsat (p.u.)", "e": "ε (1/s)"}

_MPM_UNITS = {"R1": "R1 (1/s)", "R2*": "R2* (1/s)", "MTsat": "MTsat (p.u.)", "e": "ε (1/s)"}


def plot_maps_with_gene_sets(mpm_maps: pd.DataFrame, set_expression: pd.DataFrame, *, hemisphere: str = "L"):
    """MPM maps and gene-set expression on the surface: R1, R2*, MTsat and e, then one row per gene set.

    The layout of Figure 1 of the MPM cell-type poster (Chapter 1's source): the four maps of the linear model
    R1 = b0 + b1 MTsat + b2 R2* + e (e on a symmetric scale), then the mean expression of each
    gene set, each a row of lateral and medial views.

    Parameters
    ----------
    mpm_maps : pandas.DataFrame, shape (34, >= 4)
        DK maps with columns ``R1``, ``R2*``, ``MTsat`` and ``e`` (others ignored).
    set_expression : pandas.DataFrame, shape (34, n_sets)
        Mean expression of each gene set (e.g.
        :func:`qmrigenes.ahba.gene_set_expression`), same region index.

    Returns
    -------
    matplotlib.figure.Figure
        4 + n_sets rows (:func:`plot_dk_surface_maps`); e on a symmetric scale.

    Examples
    --------
    >>> from qmrigenes import ahba, figures, mpm
    >>> from qmrigenes.datasets import celltype_gene_sets
    >>> maps = mpm.clinical_mpm_model().dk                                             # doctest: +SKIP
    >>> sets = ahba.gene_set_expression(ahba.cortex_expression(), celltype_gene_sets(),
    ...                                 sets=["Oligodendrocyte"])                        # doctest: +SKIP
    >>> fig = figures.plot_maps_with_gene_sets(maps, sets)                               # doctest: +SKIP
    """
    for arg, value in (("mpm_maps", mpm_maps), ("set_expression", set_expression)):
        if not isinstance(value, pd.DataFrame):
            raise TypeError(f"{arg} must be a DataFrame indexed by DK region, got {describe(value)}")
    missing = [m for m in _MPM_TITLES if m not in mpm_maps.columns]
    if missing:
        raise ValueError(f"mpm_maps lacks the columns {missing}")
    set_expression = align_index(mpm_maps.index, set_expression, "set_expression", ref_name="mpm_maps")
    maps = pd.concat([mpm_maps[list(_MPM_TITLES)], set_expression], axis=1)
    titles = list(_MPM_TITLES.values()) + [f"{s.replace('.', ' ')}\ngenes" for s in set_expression.columns]
    symmetric = [False, False, False, True] + [False] * set_expression.shape[1]
    units = list(_MPM_UNITS.values()) + ["expression (0–1)"] * set_expression.shape[1]
    return plot_dk_surface_maps(maps, hemisphere=hemisphere, titles=titles, symmetric=symmetric, units=units)


def plot_simulation_recovery(cohort, result):
    """Recovery of the simulated truth by the vertexwise pipeline.

    Parameters
    ----------
    cohort : qmrigenes.mpm.SimulatedCohort
    result : qmrigenes.mpm.VertexwiseResult
        The pipeline run on ``cohort``.

    Returns
    -------
    matplotlib.figure.Figure
        7.5 in wide. Top: estimated vs true b0, b1, b2 per subject. Bottom: planted e and
        the recovered group-mean e on the inflated surface (lateral) with one shared colour
        bar (1/s), and DK means of both. Text at least 9 pt.
    """

    from ..surface import load_fsaverage5, parcellate

    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig = plt.figure(figsize=(7.5, 6.2))
    units = {"b0": "β0 (1/s)", "b1": "β1 (1/s per p.u.)", "b2": "β2"}
    for j, b in enumerate(("b0", "b1", "b2")):
        ax = fig.add_subplot(2, 3, j + 1)
        t, e = cohort.betas[b].to_numpy(), result.betas[b].to_numpy()
        ax.scatter(t, e, s=14)
        lo, hi = min(t.min(), e.min()), max(t.max(), e.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"true {units[b]}", fontsize=MIN_FONT_PT)
        ax.set_ylabel("estimated", fontsize=MIN_FONT_PT)
        ax.set_title(f"{units[b].split()[0]}: r = {np.corrcoef(t, e)[0, 1]:.2f}", fontsize=MIN_FONT_PT + 1)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.locator_params(axis="both", nbins=4)
    mesh = load_fsaverage5(hemisphere="L", surface="inflated")
    lim = float(np.abs(cohort.epsilon).max())
    projection = _projected_faces(mesh, hemisphere="L", view="lateral")
    for j, (name, values) in enumerate((("planted ε", cohort.epsilon),
                                        ("recovered mean ε", result.mean_maps["e"].to_numpy()))):
        ax = fig.add_subplot(2, 3, 4 + j)
        _surface_panel(ax, projection, mesh, values, cohort.labels, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(name, fontsize=MIN_FONT_PT + 1)
    cax = fig.add_axes([0.08, 0.1, 0.52, 0.018])
    cb = fig.colorbar(ScalarMappable(norm=Normalize(-lim, lim), cmap="RdBu_r"), cax=cax, orientation="horizontal")
    cb.set_label("ε (1/s)", fontsize=MIN_FONT_PT)
    cb.ax.tick_params(labelsize=MIN_FONT_PT)
    ax = fig.add_subplot(2, 3, 6)
    true_dk = parcellate(cohort.epsilon, cohort.labels)
    ax.scatter(true_dk, result.dk["e"], s=14)
    ax.axline((0, 0), slope=1, color="k", ls="--", lw=0.8)
    ax.set_xlabel("planted ε, DK mean (1/s)", fontsize=MIN_FONT_PT)
    ax.set_ylabel("recovered ε, DK mean (1/s)", fontsize=MIN_FONT_PT)
    ax.set_title(f"34 DK regions: r = {np.corrcoef(true_dk, result.dk['e'])[0, 1]:.2f}", fontsize=MIN_FONT_PT + 1)
    ax.tick_params(labelsize=MIN_FONT_PT)
    ax.locator_params(axis="both", nbins=4)
    fig.subplots_adjust(left=0.09, right=0.98, top=0.95, bottom=0.12, wspace=0.5, hspace=0.35)
    return fig
