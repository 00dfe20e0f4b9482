"""mixed_model_ols starts statsmodels at the REML optimum found for all genes at once (issue #22):
the same model and test as statsmodels' default fit, at least as good an optimum."""
import warnings

import numpy as np
import pandas as pd
import pytest

from qmrigenes.stats import regression as rg


def _data(rng, sizes, n_genes=12):
    codes = np.repeat(np.arange(len(sizes)), sizes)
    n = len(codes)
    idx = [f"r{i}" for i in range(n)]
    u = rng.normal(size=len(sizes))
    x = pd.DataFrame(rng.normal(size=(n, n_genes)) + rng.random(n_genes) * u[codes][:, None], index=idx,
                     columns=[f"g{j}" for j in range(n_genes)])
    y = pd.Series(rng.normal(size=n) + 0.8 * rng.normal(size=len(sizes))[codes], index=idx)
    return x, y, pd.Series(codes, index=idx), codes


@pytest.mark.parametrize("sizes", [[2] * 12, [2, 3, 4, 2, 5, 3, 2, 4]])
def test_reml_ratio_is_the_optimum_of_statsmodels_criterion(rng, sizes):
    from statsmodels.regression.mixed_linear_model import MixedLM

    x, y, _, codes = _data(rng, sizes)
    yv = rg.zscore(y.to_numpy())
    g = rg._random_intercept_reml_ratio(x.to_numpy(), yv, codes)
    assert (g >= 0).all()
    for j in range(x.shape[1]):
        model = MixedLM(yv, np.column_stack([np.ones(len(yv)), x.iloc[:, j]]), groups=codes)
        model.reml, model.cov_pen, model.fe_pen, model._cov_sing = True, None, None, 0   # as fit() sets them

        def loglike(ratio):          # statsmodels' profiled REML criterion at cov_re / scale = ratio
            return model.loglike(np.array([np.sqrt(ratio)]), profile_fe=True)

        best = loglike(max(g[j], 1e-8))
        for other in (g[j] * 1.01, g[j] * 0.99, g[j] + 1e-4, 1.0, 1e-8, 10.0):   # (statsmodels: inf at 0)
            assert best >= loglike(other) - 1e-9


def test_mixed_model_ols_equals_statsmodels_default_fit_within_its_tolerance(rng):
    from statsmodels.regression.mixed_linear_model import MixedLM

    x, y, groups, codes = _data(rng, [2] * 15, n_genes=15)
    ours = rg.mixed_model_ols(x, y, groups=groups)
    yv = rg.zscore(y.to_numpy())
    for gene in x.columns:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = MixedLM(yv, np.column_stack([np.ones(len(yv)), x[gene]]), groups=codes)
            plain = model.fit(reml=True)                      # statsmodels' own start (cov_re = 1)
            mine = model.fit(reml=True, start_params=np.sqrt([ours.loc[gene, "group_var"] / plain.scale]))
        assert ours.loc[gene, "slope"] == pytest.approx(plain.fe_params[1], rel=1e-3, abs=1e-5)
        assert ours.loc[gene, "se"] == pytest.approx(plain.bse_fe[1], rel=1e-3)
        assert ours.loc[gene, "p"] == pytest.approx(plain.pvalues[1], rel=1e-3, abs=1e-4)
        assert mine.llf >= plain.llf - 1e-9                   # at least as high a REML likelihood
    assert ours["converged"].all()


@pytest.mark.parametrize("sizes", [[2] * 17, [2, 3, 4, 2, 5, 3, 2, 4], [3, 1, 2, 4, 1, 2]])
def test_mixed_model_closed_form_equals_statsmodels_fits_at_the_optimum(rng, sizes):
    """The closed-form Wald test (default) against one statsmodels fit per gene, started at the same
    REML optimum (method="statsmodels"): 1e-14 relative inside the parameter space; at the boundary
    statsmodels stops at a variance ratio of about 1e-8 instead of 0 (1e-7 relative)."""
    x, y, groups, _ = _data(rng, sizes, n_genes=40)
    fast = rg.mixed_model_ols(x, y, groups=groups)
    plain = rg.mixed_model_ols(x, y, groups=groups, method="statsmodels")
    assert fast.index.equals(plain.index) and list(fast.columns) == list(plain.columns)
    inside = (fast["group_var"] > 1e-3).to_numpy()
    assert inside.any()
    for col in ("slope", "se", "p"):
        np.testing.assert_allclose(fast.loc[inside, col], plain.loc[inside, col], rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(fast[col], plain[col], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(fast["group_var"], plain["group_var"], rtol=1e-9, atol=1e-6)
    assert fast["converged"].all()


def test_mixed_model_method_is_checked(rng):
    x, y, groups, _ = _data(rng, [2] * 6, n_genes=2)
    with pytest.raises(ValueError, match="method"):
        rg.mixed_model_ols(x, y, groups=groups, method="exact")
