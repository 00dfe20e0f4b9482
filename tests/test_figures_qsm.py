"""Tests of the bar, regression, heat-map and null figures of qmrigenes.figures: each returns a Figure with the expected axes."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from qmrigenes import figures as qfig


@pytest.fixture
def expr(rng):
    return pd.DataFrame(rng.normal(size=(8, 5)), columns=list("ABCDE"), index=[f"r{i}" for i in range(8)])


def test_bar_chart():
    df = pd.DataFrame({"structure": ["a", "a", "b"], "component": ["x", "y", "x"], "chi_ppb": [1.0, -2.0, 3.0],
                       "sd_ppb": [0.1, 0.2, np.nan]})
    fig = qfig.plot_roi_bars(df)
    assert len(fig.axes[0].patches) == 4        # 2 hues x 2 groups (one NaN bar)
    plt.close(fig)
    with pytest.raises(ValueError):
        qfig.plot_roi_bars(df.drop(columns="component"))


def test_regression_panels(expr):
    y = expr["A"] * 2
    res = pd.DataFrame({"slope": [1.0] * 5, "p": [0.01] * 5, "bh": [True] * 5}, index=list("ABCDE"))
    fig = qfig.plot_regression_panels(expr, y, list("ABC"), results=res, ncols=2)
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 3 and "A*" in visible[0].get_title()
    plt.close(fig)
    # y is aligned to the expression ROIs by name; different ROI names are refused
    fig = qfig.plot_regression_panels(expr, y.iloc[::-1], ["A"])
    x, yy = fig.axes[0].collections[0].get_offsets().T
    assert np.allclose(yy, (expr["A"] * 2 - (expr["A"] * 2).mean()) / (expr["A"] * 2).std(ddof=1))
    plt.close(fig)
    with pytest.raises(ValueError, match="y and expression must have the same ROI names"):
        qfig.plot_regression_panels(expr, y.rename(index={y.index[0]: "nowhere"}), ["A"])


def test_per_donor_panels(expr):
    per = {"1": expr.iloc[:5], "2": expr.iloc[3:]}
    fig = qfig.plot_per_donor_panels(per, expr["B"], ["A", "C"])
    assert len(fig.axes[0].collections) == 2    # one scatter per donor
    plt.close(fig)


def test_matrices_and_power(expr):
    fig = qfig.plot_expression_heatmap(expr, list("ABC"))
    assert fig.axes[0].images[0].get_array().shape == (3, 8)              # genes x ROIs
    plt.close(fig)
    many = pd.concat([expr] * 3, ignore_index=True)                      # 24 ROIs: ROIs become rows
    fig = qfig.plot_expression_heatmap(many, list("ABC"))
    assert fig.axes[0].images[0].get_array().shape == (24, 3)
    plt.close(fig)
    fig = qfig.plot_correlation_matrix(expr, list("ABCD"))
    arr = fig.axes[0].images[0].get_array()
    assert arr.shape == (4, 4) and np.allclose(np.diag(arr), 1)
    plt.close(fig)
    power = pd.DataFrame({"design": ["a", "a", "b", "b"], "effect": [0.3, 0.6] * 2, "power": [0.1, 0.5, 0.2, 0.9]})
    fig = qfig.plot_power_curves(power)
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    plt.close(fig)
    fig = qfig.plot_sampling_heatmap(pd.DataFrame([[1, 0], [2, 3]], index=["x", "y"], columns=[1, 2]))
    assert len(fig.axes[0].texts) == 3
    plt.close(fig)




# --------------------------------------------------------------------------- legibility
def _texts(fig):
    return [t for t in fig.findobj(plt.Text) if t.get_text().strip() and t.get_visible()]


def _legible(fig):
    """Column width and the smallest text size of a figure."""
    w = fig.get_size_inches()[0]
    sizes = [t.get_fontsize() for t in _texts(fig)]
    return w <= qfig.COLUMN_WIDTH_IN + 1e-9 and min(sizes) >= qfig.MIN_FONT_PT - 1 and \
        sum(s >= qfig.MIN_FONT_PT for s in sizes) >= 0.9 * len(sizes)


def _legend_outside(fig, ax):
    fig.draw_without_rendering()                        # layout and positions, no pixels painted
    legend = ax.get_legend() or (fig.legends[0] if fig.legends else None)
    assert legend is not None
    lb = legend.get_window_extent()
    return not lb.overlaps(ax.get_window_extent())


def test_every_figure_fits_the_column_with_legible_text(expr, rng):
    y = expr["A"] * 2
    many = pd.DataFrame(rng.normal(size=(34, 17)), columns=[f"GENE{i}" for i in range(17)],
                        index=[f"Region name {i}" for i in range(34)])
    figs = [qfig.plot_regression_panels(many, many["GENE0"], list(many.columns), ncols=5),
            qfig.plot_regression_panels(expr, y, list("ABCDE"), ncols=3),
            qfig.plot_per_donor_panels({"1": expr.iloc[:5], "2": expr.iloc[3:]}, y, list("ABC")),
            qfig.plot_expression_heatmap(many, list(many.columns)),
            qfig.plot_correlation_matrix(pd.DataFrame(rng.normal(size=(7, 23)), columns=[f"G{i}" for i in range(23)]),
                                         [f"G{i}" for i in range(23)]),
            qfig.plot_sampling_heatmap(pd.DataFrame(rng.integers(0, 60, size=(34, 6)),
                                               index=[f"ROI_{i}_L" for i in range(34)], columns=range(1, 7))),
            qfig.plot_null_histogram(rng.normal(size=500), 2.0)]
    for fig in figs:
        assert _legible(fig), fig.get_size_inches()
        plt.close(fig)


def test_maps_have_colourbars_with_units(expr):
    for fig, unit in ((qfig.plot_expression_heatmap(expr, list("ABC")), "z-score"),
                      (qfig.plot_correlation_matrix(expr, list("ABCD")), "Pearson r"),
                      (qfig.plot_sampling_heatmap(pd.DataFrame([[1, 0], [2, 3]], index=["x", "y"], columns=[1, 2])),
                       "count")):
        labels = [a.get_ylabel() for a in fig.axes[1:]]
        assert any(unit in lab for lab in labels), labels
        plt.close(fig)


def test_per_donor_has_x_label_and_legend_outside(expr):
    fig = qfig.plot_per_donor_panels({"1": expr.iloc[:5], "2": expr.iloc[3:]}, expr["B"], ["A", "C", "D"], ncols=2)
    visible = [a for a in fig.axes if a.get_visible()]
    assert any(a.get_xlabel() for a in visible)
    fig.draw_without_rendering()                        # once: the layout the extents below are of
    assert fig.legends and all(not fig.legends[0].get_window_extent(fig.canvas.get_renderer()).overlaps(
        a.get_window_extent()) for a in visible)
    plt.close(fig)


def test_bar_chart_labels_near_zero_bars_and_legend_outside():
    df = pd.DataFrame({"structure": ["Thalamus", "Putamen", "Putamen"], "component": ["bulk", "para", "bulk"],
                       "chi_ppb": [-1.1, 77.0, 40.0], "sd_ppb": [np.nan, 2.0, np.nan]})
    fig = qfig.plot_roi_bars(df)
    ax = fig.axes[0]
    assert "-1.1" in [t.get_text() for t in ax.texts]          # a near-zero bar is labelled, not "empty"
    fig.draw_without_rendering()                        # layout and positions, no pixels painted
    assert not ax.get_legend().get_window_extent().overlaps(ax.xaxis.get_tightbbox())   # nor the labels
    assert _legend_outside(fig, ax)
    assert fig.get_size_inches()[0] <= qfig.COLUMN_WIDTH_IN
    plt.close(fig)


def test_power_figure_legend_outside():
    power = pd.DataFrame({"design": ["a", "a", "b", "b"], "effect": [0.3, 0.9] * 2, "power": [0.0, 1.0, 0.1, 0.95]})
    fig = qfig.plot_power_curves(power)
    assert _legend_outside(fig, fig.axes[0])
    plt.close(fig)


def test_null_histogram(rng):
    fig = qfig.plot_null_histogram(rng.normal(size=300), 1.5, xlabel="mean r")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "mean r" and len(ax.lines) == 1 and ax.lines[0].get_xdata()[0] == 1.5
    plt.close(fig)
    with pytest.raises(ValueError):
        qfig.plot_null_histogram([np.nan, 1.0], 0.0)
