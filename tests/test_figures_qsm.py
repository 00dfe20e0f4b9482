"""Tests of qmrigenes.figures.qsm: each function returns a Figure with the expected axes."""
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from qmrigenes.figures import qsm as qfig


@pytest.fixture
def expr(rng):
    return pd.DataFrame(rng.normal(size=(8, 5)), columns=list("ABCDE"), index=[f"r{i}" for i in range(8)])


def test_bar_chart():
    df = pd.DataFrame({"structure": ["a", "a", "b"], "component": ["x", "y", "x"], "chi_ppb": [1.0, -2.0, 3.0],
                       "sd_ppb": [0.1, 0.2, np.nan]})
    fig = qfig.roi_bar_chart(df)
    assert len(fig.axes[0].patches) == 4        # 2 hues x 2 groups (one NaN bar)
    plt.close(fig)
    with pytest.raises(ValueError):
        qfig.roi_bar_chart(df.drop(columns="component"))


def test_regression_panels(expr):
    y = expr["A"] * 2
    res = pd.DataFrame({"slope": [1.0] * 5, "p": [0.01] * 5, "bh": [True] * 5}, index=list("ABCDE"))
    fig = qfig.regression_panels(expr, y, list("ABC"), results=res, ncols=2)
    visible = [a for a in fig.axes if a.get_visible()]
    assert len(visible) == 3 and "A*" in visible[0].get_title()
    plt.close(fig)
    # y is aligned to the expression ROIs by name; different ROI names are refused
    fig = qfig.regression_panels(expr, y.iloc[::-1], ["A"])
    x, yy = fig.axes[0].collections[0].get_offsets().T
    assert np.allclose(yy, (expr["A"] * 2 - (expr["A"] * 2).mean()) / (expr["A"] * 2).std(ddof=1))
    plt.close(fig)
    with pytest.raises(ValueError, match="y and expression must have the same ROI names"):
        qfig.regression_panels(expr, y.rename(index={y.index[0]: "nowhere"}), ["A"])


def test_per_donor_panels(expr):
    per = {"1": expr.iloc[:5], "2": expr.iloc[3:]}
    fig = qfig.per_donor_panels(per, expr["B"], ["A", "C"])
    assert len(fig.axes[0].collections) == 2    # one scatter per donor
    plt.close(fig)


def test_matrices_and_power(expr):
    fig = qfig.gene_roi_heatmap(expr, list("ABC"))
    assert fig.axes[0].images[0].get_array().shape == (3, 8)
    plt.close(fig)
    fig = qfig.gene_correlation_matrix(expr, list("ABCD"))
    arr = fig.axes[0].images[0].get_array()
    assert arr.shape == (4, 4) and np.allclose(np.diag(arr), 1)
    plt.close(fig)
    power = pd.DataFrame({"design": ["a", "a", "b", "b"], "effect": [0.3, 0.6] * 2, "power": [0.1, 0.5, 0.2, 0.9]})
    fig = qfig.power_figure(power)
    assert len(fig.axes[0].get_legend().get_texts()) == 2
    plt.close(fig)
    fig = qfig.sampling_heatmap(pd.DataFrame([[1, 0], [2, 3]], index=["x", "y"], columns=[1, 2]))
    assert len(fig.axes[0].texts) == 3
    plt.close(fig)


