"""Smoke-and-content tests for qmrigenes.figures.ms."""
import matplotlib.pyplot as plt
import pandas as pd

from qmrigenes import lesions, phantom, qsm
from qmrigenes import relaxometry as R
from qmrigenes.figures import ms as figs


def test_plot_phantom(ph):
    fig = figs.plot_phantom(ph, z=40)
    assert len([a for a in fig.axes if a.images]) == 6
    plt.close(fig)


def test_plot_mpm_and_accuracy(ph):
    sl = (slice(None), slice(None), slice(38, 42))
    maps = {k: v[sl] for k, v in ph.maps.items()}
    b1 = phantom.b1_field(ph.shape)[sl]
    est = R.fit_mpm(R.simulate_mpm(maps, b1=b1), b1=b1)
    fig = figs.plot_mpm_maps(maps, {"B1": est}, b1, z=2)
    assert len([a for a in fig.axes if a.images]) == 9
    plt.close(fig)
    acc = R.accuracy_table(est, maps, ph.labels[sl], {3: "WM", 2: "cortical GM"}).reset_index()
    fig = figs.plot_accuracy(acc.assign(method="B1"))
    assert len(fig.axes) == 4 and len(fig.axes[0].patches) == 2
    plt.close(fig)


def test_plot_r1_bias_and_review_heatmap():
    fig = figs.plot_r1_bias({"a": R.r1_bias_curve(0.8, n=5)})
    assert len(fig.axes[0].lines) == 2
    plt.close(fig)
    mat = lesions.review_direction_matrix()
    fig = figs.plot_review_heatmap(mat)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert len(texts) == mat.size and "↑" in texts and "↕" in texts
    plt.close(fig)


def test_plot_qsm_sharp_roi(rng):
    chi = qsm.sphere_source((20, 20, 20), center=(10, 10, 10), radius_mm=8, chi=0.1)
    mask = qsm.sphere_source((20, 20, 20), center=(10, 10, 10), radius_mm=16, chi=1) > 0
    f = qsm.forward_field(chi)
    fig = figs.plot_qsm(chi, {"TKD": qsm.tkd(f, mask=mask)}, z=10, y=10)
    assert len([a for a in fig.axes if a.images]) == 5
    plt.close(fig)
    loc, er = qsm.sharp(f, mask, radius_mm=4)
    fig = figs.plot_sharp(f, f, loc, er, y=10)
    assert len(fig.axes[0].images) == 1
    plt.close(fig)
    tab = pd.DataFrame({"truth": [0.1, 0.0], "TKD": [0.08, 0.01], "n_voxels": [5, 5]}, index=["a", "b"])
    fig = figs.plot_roi_means(tab)
    assert len(fig.axes[0].collections) == 1
    plt.close(fig)


def test_plot_lesions_profiles_atrophy(ph):
    les, lmap, info = lesions.insert_lesions(ph)
    fig = figs.plot_lesion_stages({"R1": les.maps["R1"], "chi": les.maps["chi"]}, info, half_width=5)
    assert len([a for a in fig.axes if a.images]) == 8
    plt.close(fig)
    prof = lesions.radial_profile(les.maps["chi"], tuple(info.loc[2, ["x", "y", "z"]]))
    rows = pd.DataFrame({"stage": "chronic_active", "parameter": "chi", "source": "truth",
                         "distance_mm": prof.index, "value": prof.values})
    fig = figs.plot_lesion_profiles(rows)
    assert len(fig.axes[0].lines) == 1
    plt.close(fig)
    s = lesions.atrophy_series(ph, losses=(0, 0.2))
    fig = figs.plot_atrophy(s)
    assert len(fig.axes) == 2 and len(fig.axes[1].lines) == 2
    plt.close(fig)
