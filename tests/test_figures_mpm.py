"""Tests of the surface, regression and null-distribution figures of qmrigenes.figures (chapter 1 uses them)."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from qmrigenes.datasets import DK_CORTICAL_REGIONS
from qmrigenes import figures as fm


def _assert_column_sized(fig, *, max_width=7.5, min_pt=9):
    """Figure fits a ~750 px text column and no visible text is below ``min_pt``."""
    assert fig.get_figwidth() <= max_width
    texts = [t for t in fig.findobj(plt.Text) if t.get_text().strip() and t.get_visible()]
    small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < min_pt]
    assert not small, small


def test_dk_surface_maps_panels(rng):
    maps = pd.DataFrame(rng.normal(size=(34, 2)), index=list(DK_CORTICAL_REGIONS), columns=["x", "e"])
    fig = fm.plot_dk_surface_maps(maps, symmetric=[False, True], units=["p.u.", "1/s"])
    panels = [ax for ax in fig.axes if any(len(c.get_paths()) == 20480 for c in ax.collections)]
    assert len(panels) == 4                       # 2 maps x (lateral, medial), 20,480 triangles each
    assert all(len(ax.collections[0].get_paths()) == 20480 for ax in panels)
    assert [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()] == ["p.u.", "1/s"]   # colour bars
    _assert_column_sized(fig)
    plt.close(fig)
    with pytest.raises(ValueError, match="one entry per map"):
        fm.plot_dk_surface_maps(maps, units=["p.u."])
    with pytest.raises(ValueError, match="one entry per map"):
        fm.plot_dk_surface_maps(maps, titles=["only one"])
    with pytest.raises(ValueError, match="not in the atlas"):
        fm.plot_dk_surface_maps(maps.rename(index={"bankssts": "nope"}))


def test_beta_comparison():
    table = pd.DataFrame({"source": ["a"] * 3 + ["b"] * 3, "beta": ["b0", "b1", "b2"] * 2,
                          "mean": [0.2, 0.3, 0.01, 0.25, 0.4, np.nan], "sd": [0.01, 0.02, 0.001, np.nan, np.nan, np.nan]})
    fig = fm.plot_beta_comparison(table)
    assert len(fig.axes) == 3
    _assert_column_sized(fig)
    plt.close(fig)
    with pytest.raises(ValueError, match="columns"):
        fm.plot_beta_comparison(table.drop(columns="sd"))


def test_null_distributions(rng):
    idx = pd.MultiIndex.from_product([["A", "B"], ["m1", "m2"]], names=["gene_set", "map"])
    table = pd.DataFrame({"r": [0.1, 0.2, -0.3, 0.0]}, index=idx)
    nulls = {"gene": rng.normal(0, 0.1, (100, 2, 2)), "spin": rng.normal(0, 0.2, (100, 2, 2)), "sets": ["A", "B"]}
    fig = fm.plot_null_distributions(nulls, table, map_key="m2")
    assert len([ax for ax in fig.axes if ax.has_data()]) == 2
    line = [ln for ln in fig.axes[1].lines][0]
    assert line.get_xdata()[0] == pytest.approx(0.0)   # observed r of B/m2
    assert fig.legends and not fig.axes[0].get_legend()  # legend outside the panels
    _assert_column_sized(fig)
    plt.close(fig)


def test_simulation_recovery_figure():
    from qmrigenes import mpm

    cohort = mpm.simulate_cohort(n_subjects=4, seed=2)
    res = mpm.vertexwise_pipeline(cohort.r1, cohort.mtsat, cohort.r2s, cohort.mesh, cohort.labels)
    fig = fm.plot_simulation_recovery(cohort, res)
    assert len(fig.axes) == 7                       # 3 beta scatters, 2 surfaces, colour bar, DK scatter
    assert "r = " in fig.axes[-1].get_title()
    labels = [ax.get_xlabel() for ax in fig.axes]
    assert "ε (1/s)" in labels                      # the surface maps have a colour bar with units
    _assert_column_sized(fig)
    plt.close(fig)


def test_figure1_rows(rng):
    idx = list(DK_CORTICAL_REGIONS)
    mpm_maps = pd.DataFrame(rng.normal(size=(34, 5)), index=idx, columns=["R1", "MTsat", "R2*", "e", "extra"])
    sets = pd.DataFrame(rng.uniform(size=(34, 2)), index=idx, columns=["Astrocyte", "CA1.Pyramidal"])
    fig = fm.plot_maps_with_gene_sets(mpm_maps, sets)
    assert len([ax for ax in fig.axes if any(len(c.get_paths()) == 20480 for c in ax.collections)]) == 2 * 6
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert "ε (1/s)" in texts and "CA1 Pyramidal\ngenes" in texts
    cbar_labels = [ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()]
    assert cbar_labels[:4] == ["R1 (1/s)", "R2* (1/s)", "MTsat (p.u.)", "ε (1/s)"]
    assert cbar_labels[4:] == ["expression (0–1)"] * 2
    plt.close(fig)
    with pytest.raises(ValueError, match="lacks the columns"):
        fm.plot_maps_with_gene_sets(mpm_maps.drop(columns="e"), sets)
    with pytest.raises(ValueError, match="set_expression and mpm_maps must have the same region names"):
        fm.plot_maps_with_gene_sets(mpm_maps, sets.rename(index={idx[0]: "nowhere"}))
