"""The 2D surface panels (painter's algorithm) against nilearn's 3D panels they replace."""
import io

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from qmrigenes.figures import surfaces as fs
from qmrigenes.surface import Mesh, dk_labels, load_fsaverage5


def _nilearn_panel_3d(ax, fig, mesh, values, labels, *, hemisphere, view, cmap, vmin, vmax):
    """The reference panel: nilearn's ``plot_surf_stat_map`` + ``plot_surf_contours`` on a 3D axes.

    The plain path :func:`qmrigenes.figures.surfaces._surface_panel` replaces (about 0.3 s a
    panel to build and draw); also the benchmark's reference.
    """
    from nilearn import plotting

    hemi = "left" if hemisphere == "L" else "right"
    plotting.plot_surf_stat_map(mesh, values, hemi=hemi, view=view, axes=ax, figure=fig, colorbar=False,
                                cmap=cmap, vmin=vmin, vmax=vmax, symmetric_cbar=False,
                                bg_on_data=False)
    codes = pd.factorize(labels)[0] + 1
    plotting.plot_surf_contours(mesh, codes, levels=list(np.unique(codes)), axes=ax, figure=fig,
                                colors=["k"] * len(np.unique(codes)))
    ax.set_title("")


def _png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    plt.close(fig)
    buf.seek(0)
    return np.asarray(matplotlib.image.imread(buf))


def test_contour_faces_equal_nilearn_per_level(rng):
    from nilearn.plotting.surface._utils import get_faces_on_edge

    mesh = load_fsaverage5(hemisphere="L", surface="inflated")
    faces = mesh.faces[:3000]
    codes = rng.integers(1, 4, size=len(mesh.coords))            # small random regions
    codes[faces[:, 0]] = codes[faces[:, 1]]                      # and some uniform faces
    expected = np.zeros(len(faces), dtype=bool)
    for level in np.unique(codes):
        expected |= get_faces_on_edge(faces, np.where(codes == level)[0])
    got = fs._contour_faces(faces, codes)
    assert got.any() and not got.all()
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("hemisphere,view,cmap,symmetric", [("L", "lateral", "viridis", False),
                                                             ("L", "medial", "RdBu_r", True),
                                                             ("R", "lateral", "viridis", False)])
def test_panel_pixels_equal_nilearn_3d(rng, hemisphere, view, cmap, symmetric):
    mesh = load_fsaverage5(hemisphere=hemisphere, surface="inflated")
    labels = dk_labels(hemisphere=hemisphere)
    regions = pd.unique(labels)
    region_values = pd.Series(rng.normal(size=len(regions)), index=regions)
    values = region_values.loc[labels].to_numpy()
    values[labels == regions[0]] = np.nan                        # a region not shown (NaN faces)
    lo, hi = (-3.0, 3.0) if symmetric else (float(np.nanmin(values)), float(np.nanmax(values)))
    pictures = []
    for draw in ("3d", "2d"):
        fig = plt.figure(figsize=(2.5, 2.0))
        if draw == "3d":
            ax = fig.add_subplot(projection="3d")
            _nilearn_panel_3d(ax, fig, mesh, values, labels, hemisphere=hemisphere, view=view,
                                 cmap=cmap, vmin=lo, vmax=hi)
        else:
            ax = fig.add_subplot()
            projection = fs._projected_faces(mesh, hemisphere=hemisphere, view=view)
            fs._surface_panel(ax, projection, mesh, values, labels, cmap=cmap, vmin=lo, vmax=hi)
        pictures.append(_png(fig))
    old, new = pictures
    assert old.shape == new.shape
    assert (old[..., :3] < 0.99).mean() > 0.1                    # a surface was drawn
    np.testing.assert_array_equal(new, old)


def test_projected_faces_back_to_front():
    coords = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 1]], float)
    faces = np.array([[0, 1, 2], [1, 2, 4], [0, 3, 4]])
    paths, order, xlim, ylim = fs._projected_faces(Mesh(coords, faces), hemisphere="L", view="lateral")
    assert len(paths) == 3 and paths[0].vertices.shape == (4, 2) and sorted(order) == [0, 1, 2]
    assert xlim[0] < 0 < xlim[1] and ylim[0] < 0 < ylim[1]


def test_fsaverage5_meshes_cached_equal_nilearn(tmp_path, monkeypatch):
    from qmrigenes import surface

    monkeypatch.setenv("QMRIGENES_DATA", str(tmp_path))
    surface._fsaverage5_meshes.cache_clear()
    try:
        built = surface._fsaverage5_meshes()                        # read through nilearn, stored
        surface._fsaverage5_meshes.cache_clear()
        again = surface._fsaverage5_meshes()                        # read back from the cache
        assert list((tmp_path / "derived").glob("fsaverage5-meshes-*.pkl"))
    finally:
        surface._fsaverage5_meshes.cache_clear()
    fs = surface._fsaverage5()
    for name, key in (("pial", "pial"), ("white", "white_matter"), ("inflated", "inflated"), ("sphere", "sphere")):
        for part in ("left", "right"):
            mesh = fs[key].parts[part]
            for got in (built, again):
                np.testing.assert_array_equal(got[name, part][0], np.asarray(mesh.coordinates, float))
                np.testing.assert_array_equal(got[name, part][1], np.asarray(mesh.faces))
    mid = surface.load_fsaverage5(hemisphere="R")
    pial, white = fs["pial"].parts["right"], fs["white_matter"].parts["right"]
    np.testing.assert_array_equal(mid.coords, (np.asarray(pial.coordinates, float)
                                               + np.asarray(white.coordinates, float)) / 2)
    assert mid.faces.dtype == np.int64
