"""Tests of riskcore.allocation: risk budgeting (Spinu 2013), inverse volatility, decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcore._rb_solver import relative_rc_error, solve_risk_budget
from riskcore.allocation import (
    AllocationResult,
    equal_weights,
    inverse_volatility_weights,
    marginal_risk_contributions,
    portfolio_volatility,
    relative_risk_contributions,
    risk_budget_weights,
    risk_contributions,
)
from riskcore.errors import ConvergenceError, DataError, InfeasibleError, RiskcoreError


def random_cov(rng: np.random.Generator, n: int, n_factors: int = 3) -> np.ndarray:
    """Factor-model covariance with annualized crypto-like volatilities (20%..150%)."""
    loadings = rng.standard_normal((n, n_factors))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.05, 0.5, n))
    d = np.sqrt(np.diag(cov))
    vol = rng.uniform(0.2, 1.5, n)
    return cov / np.outer(d, d) * np.outer(vol, vol)


def labelled(cov: np.ndarray, names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(cov, index=names, columns=names)


NAMES = ["BTC-USD", "ETH-USD", "SOL-USD", "USDT-USD"]


# ----- closed forms and published examples ------------------------------------------------


def test_diagonal_covariance_gives_sqrt_budget_over_volatility():
    vol = np.array([0.6, 0.8, 1.2, 0.05])
    budget = np.array([0.4, 0.3, 0.2, 0.1])
    res = risk_budget_weights(labelled(np.diag(vol**2), NAMES), budget)
    expected = np.sqrt(budget) / vol
    np.testing.assert_allclose(res.weights.to_numpy(), expected / expected.sum(), rtol=1e-12)
    assert res.method == "risk budgeting"


def test_constant_correlation_erc_equals_inverse_volatility():
    rng = np.random.default_rng(42)
    vol = rng.uniform(0.3, 1.2, 8)
    corr = np.full((8, 8), 0.6)
    np.fill_diagonal(corr, 1.0)
    cov = np.outer(vol, vol) * corr
    erc = risk_budget_weights(cov)
    ivol = inverse_volatility_weights(cov)
    np.testing.assert_allclose(erc.weights.to_numpy(), ivol.weights.to_numpy(), rtol=1e-11)
    assert erc.method == "equal risk contribution"


def test_constant_correlation_erc_weights_do_not_depend_on_the_correlation():
    # Closed form of Maillard, Roncalli & Teiletche (2010) for a constant correlation:
    # w_i ∝ 1/σ_i, so vols 10%, 20%, 30%, 40% give 48%, 24%, 16%, 12% whatever the correlation.
    vol = np.array([0.1, 0.2, 0.3, 0.4])
    for rho in (0.0, 0.5, 0.9):
        corr = np.full((4, 4), rho)
        np.fill_diagonal(corr, 1.0)
        res = risk_budget_weights(np.outer(vol, vol) * corr)
        np.testing.assert_allclose(res.weights.to_numpy(), [0.48, 0.24, 0.16, 0.12], atol=1e-12)


def test_maillard_roncalli_teiletche_2010_published_erc_example():
    # Maillard, Roncalli & Teiletche (2010), JPM 36(4), the 4-asset ERC example: vols 10%,
    # 20%, 30%, 40%, correlations rho_12 = 80%, rho_34 = -50%, all other pairs 0; published
    # ERC weights 38.4%, 19.2%, 24.3%, 18.2% (one decimal: checked to 0.05 percentage point).
    vol = np.array([0.1, 0.2, 0.3, 0.4])
    corr = np.eye(4)
    corr[0, 1] = corr[1, 0] = 0.8
    corr[2, 3] = corr[3, 2] = -0.5
    res = risk_budget_weights(np.outer(vol, vol) * corr)
    np.testing.assert_allclose(res.weights.to_numpy(), [0.384, 0.192, 0.243, 0.182], atol=5e-4)
    np.testing.assert_allclose(res.relative_risk_contributions, 0.25, rtol=1e-10)


def test_bruder_roncalli_2012_risk_budgeting_example():
    # Bruder & Roncalli (2012), "Managing risk exposures using the risk budgeting approach",
    # section 3.1.1: vols 20%, 21%, 10%, uniform correlation 80%, budgets 50/25/25
    # -> weights 39.12%, 19.64%, 41.24% (also MathWorks' riskBudgetingPortfolio example).
    vol = np.array([0.2, 0.21, 0.1])
    corr = np.full((3, 3), 0.8)
    np.fill_diagonal(corr, 1.0)
    res = risk_budget_weights(np.outer(vol, vol) * corr, [0.5, 0.25, 0.25])
    np.testing.assert_allclose(res.weights.to_numpy(), [0.3912, 0.1964, 0.4124], atol=5e-5)
    np.testing.assert_allclose(res.relative_risk_contributions, [0.5, 0.25, 0.25], rtol=1e-10)


# ----- defining property and invariances ---------------------------------------------------


@pytest.mark.parametrize("n", [2, 5, 20, 60, 200])  # 200: conjugate-gradient path
def test_relative_risk_contributions_equal_budgets_on_random_covariances(n):
    rng = np.random.default_rng(42)
    for _ in range(5):
        cov = random_cov(rng, n)
        budget = rng.uniform(0.01, 1.0, n)
        res = risk_budget_weights(cov, budget)
        b = budget / budget.sum()
        assert res.converged
        assert res.weights.sum() == pytest.approx(1.0, abs=1e-14)
        assert (res.weights > 0).all()
        np.testing.assert_allclose(res.relative_risk_contributions, b, rtol=1e-10)
        assert res.max_relative_error <= 1e-10
        assert res.risk_contributions.sum() == pytest.approx(res.portfolio_volatility, rel=1e-12)
        np.testing.assert_allclose(res.budget, b, rtol=1e-14)


def test_scaling_covariance_leaves_weights_unchanged():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 10)
    budget = rng.uniform(0.05, 1.0, 10)
    base = risk_budget_weights(cov, budget).weights.to_numpy()
    for scale in (1 / 365, 1e-4, 1e3):
        np.testing.assert_allclose(
            risk_budget_weights(cov * scale, budget).weights.to_numpy(), base, rtol=1e-10
        )


def test_permutation_equivariance():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 12)
    budget = rng.uniform(0.05, 1.0, 12)
    perm = rng.permutation(12)
    base = risk_budget_weights(cov, budget).weights.to_numpy()
    permuted = risk_budget_weights(cov[np.ix_(perm, perm)], budget[perm]).weights.to_numpy()
    np.testing.assert_allclose(permuted, base[perm], rtol=1e-10)


def test_labels_follow_the_covariance_and_budget_series_is_aligned_by_name():
    rng = np.random.default_rng(42)
    cov = labelled(random_cov(rng, 4), NAMES)
    budget = pd.Series({"USDT-USD": 0.1, "SOL-USD": 0.2, "ETH-USD": 0.3, "BTC-USD": 0.4})
    res = risk_budget_weights(cov, budget)
    assert list(res.weights.index) == NAMES
    np.testing.assert_allclose(res.relative_risk_contributions, [0.4, 0.3, 0.2, 0.1], rtol=1e-10)
    as_dict = risk_budget_weights(cov, budget.to_dict())
    pd.testing.assert_series_equal(as_dict.weights, res.weights)


def test_budget_is_normalized_and_zero_budget_gives_zero_weight():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 5)
    res = risk_budget_weights(cov, [2.0, 2.0, 0.0, 4.0, 2.0])
    assert res.weights.iloc[2] == 0.0
    np.testing.assert_allclose(res.budget, [0.2, 0.2, 0.0, 0.4, 0.2])
    np.testing.assert_allclose(
        res.relative_risk_contributions, [0.2, 0.2, 0.0, 0.4, 0.2], rtol=1e-10, atol=1e-16
    )


def test_singular_but_psd_covariance_is_accepted():
    # two perfectly correlated assets and a third: PSD but singular
    vol = np.array([0.5, 0.8, 0.3])
    corr = np.array([[1.0, 1.0, 0.2], [1.0, 1.0, 0.2], [0.2, 0.2, 1.0]])
    res = risk_budget_weights(np.outer(vol, vol) * corr)
    np.testing.assert_allclose(res.relative_risk_contributions, 1 / 3, rtol=1e-10)


# ----- the hot path -------------------------------------------------------------------------


def test_hot_path_warm_start_converges_in_fewer_iterations():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 30)
    budget = np.full(30, 1 / 30)
    cold = solve_risk_budget(cov, budget)
    noisy = cov * (1 + 0.01 * rng.standard_normal((30, 30)))
    noisy = 0.5 * (noisy + noisy.T)
    warm = solve_risk_budget(noisy, budget, x0=cold.weights)
    assert warm.converged and cold.converged
    assert warm.iterations <= cold.iterations
    assert relative_rc_error(noisy, warm.weights, budget) <= 1e-10


def test_large_problems_fall_back_from_diagonal_to_cholesky_preconditioning(monkeypatch):
    import riskcore._rb_solver as solver

    rng = np.random.default_rng(42)
    cov = random_cov(rng, 200)
    budget = rng.uniform(0.05, 1.0, 200)
    fast = solve_risk_budget(cov, budget)
    # starve the diagonal-preconditioned CG, then the Cholesky-preconditioned one: the
    # solver must factorize and still converge to the same portfolio
    monkeypatch.setattr(solver, "_JACOBI_MAX_STEPS", 1)
    monkeypatch.setattr(solver, "_PCG_MAX_STEPS", 1)
    slow = solve_risk_budget(cov, budget)
    assert fast.converged and slow.converged
    assert relative_rc_error(cov, slow.weights, budget) <= 1e-10
    np.testing.assert_allclose(slow.weights, fast.weights, rtol=1e-9)


def test_hot_path_reports_non_convergence_instead_of_garbage():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 10)
    budget = np.full(10, 0.1)
    # an unreachable tolerance, one Newton step (coordinate sweeps before it, on the
    # compiled path, do not count against max_iter)
    capped = solve_risk_budget(cov, budget, tol=0.0, max_iter=1)
    assert not capped.converged and capped.iterations == 1
    assert capped.max_relative_error > 0
    bad = cov.copy()
    bad[0, 0] = np.nan
    nan = solve_risk_budget(bad, budget)
    assert not nan.converged
    assert not solve_risk_budget(cov, np.zeros(10)).converged
    # a bad warm start falls back to the default start
    assert solve_risk_budget(cov, budget, x0=np.full(10, -1.0)).converged


def test_public_wrapper_raises_convergence_error_with_error_reached():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 10)
    with pytest.raises(ConvergenceError, match=r"error .* after 1 iterations \(tolerance 1e-20\)"):
        risk_budget_weights(cov, tol=1e-20, max_iter=1)


# ----- other methods and risk decomposition -------------------------------------------------


def test_marginal_risk_contribution_property_is_defined_at_a_zero_budget_asset():
    rng = np.random.default_rng(42)
    cov = labelled(random_cov(rng, 4), NAMES)
    res = risk_budget_weights(cov, [0.5, 0.3, 0.2, 0.0])
    assert res.weights["USDT-USD"] == 0.0
    mrc = res.marginal_risk_contributions
    assert np.isfinite(mrc).all()
    pd.testing.assert_series_equal(mrc, marginal_risk_contributions(res.weights, cov))
    # (Σw)_i / σ_p at the zero weight: what a first unit of USDT-USD would add to the risk
    sw = cov.to_numpy() @ res.weights.to_numpy()
    assert mrc["USDT-USD"] == pytest.approx(sw[3] / res.portfolio_volatility, rel=1e-12)


def test_risk_decomposition_functions_agree_with_result():
    rng = np.random.default_rng(42)
    cov = labelled(random_cov(rng, 4), NAMES)
    res = risk_budget_weights(cov, [0.4, 0.3, 0.2, 0.1])
    w = res.weights
    pd.testing.assert_series_equal(risk_contributions(w, cov), res.risk_contributions)
    pd.testing.assert_series_equal(
        relative_risk_contributions(w, cov), res.relative_risk_contributions
    )
    assert portfolio_volatility(w, cov) == pytest.approx(res.portfolio_volatility, rel=1e-14)
    mrc = marginal_risk_contributions(w, cov)
    np.testing.assert_allclose(mrc, res.marginal_risk_contributions, rtol=1e-12)
    # marginal risk contribution is the gradient of the volatility
    eps = 1e-7
    for i in range(4):
        bumped = w.copy()
        bumped.iloc[i] += eps
        grad = (portfolio_volatility(bumped, cov) - res.portfolio_volatility) / eps
        assert grad == pytest.approx(mrc.iloc[i], rel=1e-5)


def test_equal_and_inverse_volatility_results():
    vol = np.array([0.5, 1.0, 0.25, 0.5])
    cov = labelled(np.diag(vol**2), NAMES)
    ew = equal_weights(cov)
    iv = inverse_volatility_weights(cov)
    assert isinstance(ew, AllocationResult) and ew.method == "equal weight"
    np.testing.assert_allclose(ew.weights, 0.25)
    np.testing.assert_allclose(iv.weights, np.array([2, 1, 4, 2]) / 9)
    assert iv.budget is None and np.isnan(iv.max_relative_error)
    assert iv.converged and iv.iterations == 0
    assert ew.relative_risk_contributions.sum() == pytest.approx(1.0)


def test_result_is_frozen():
    res = equal_weights(np.eye(2))
    with pytest.raises(AttributeError):
        res.method = "x"  # type: ignore[misc]


# ----- validation messages ---------------------------------------------------------------


def test_error_hierarchy():
    assert issubclass(DataError, RiskcoreError) and issubclass(RiskcoreError, ValueError)


def test_non_square_matrix():
    with pytest.raises(DataError, match=r"must be square .* got shape \(3, 4\)"):
        risk_budget_weights(np.ones((3, 4)))


def test_non_symmetric_matrix_names_the_pair():
    cov = labelled(np.diag([0.4, 0.5, 0.6, 0.1]), NAMES)
    cov.loc["BTC-USD", "ETH-USD"] = 0.1
    with pytest.raises(DataError, match=r"not symmetric: entry \((BTC|ETH)-USD, (ETH|BTC)-USD\)"):
        risk_budget_weights(cov)


def test_nan_entry_names_the_assets():
    cov = labelled(np.diag([0.4, 0.5, 0.6, 0.1]), NAMES)
    cov.loc["SOL-USD", "SOL-USD"] = np.nan
    with pytest.raises(DataError, match=r"covariance entry \(SOL-USD, SOL-USD\) is nan"):
        risk_budget_weights(cov)
    cov.loc["SOL-USD", "SOL-USD"] = np.inf
    with pytest.raises(DataError, match=r"\(SOL-USD, SOL-USD\) is inf; all entries must be finite"):
        inverse_volatility_weights(cov)


def test_zero_variance_asset_is_named():
    cov = labelled(np.diag([0.4, 0.5, 0.6, 0.0]), NAMES)
    with pytest.raises(DataError, match=r"USDT-USD has zero variance"):
        risk_budget_weights(cov)
    cov.loc["USDT-USD", "USDT-USD"] = -0.01
    with pytest.raises(DataError, match=r"USDT-USD has negative variance"):
        inverse_volatility_weights(cov)


def test_position_labels_for_plain_arrays():
    with pytest.raises(DataError, match=r"asset 1 has zero variance"):
        risk_budget_weights(np.diag([0.4, 0.0]))


def test_not_positive_semidefinite():
    corr = np.array([[1.0, 0.9, -0.9], [0.9, 1.0, 0.9], [-0.9, 0.9, 1.0]])
    with pytest.raises(DataError, match=r"not positive semi-definite \(smallest eigenvalue -"):
        risk_budget_weights(corr)


def test_large_non_psd_matrix_is_diagnosed_when_the_solver_fails():
    """From 150 assets on, definiteness is checked only to explain a solver failure.

    Equal correlation -0.1 among 200 assets: the equal-weight portfolio has negative
    variance, no risk-budgeting portfolio exists, and the eigenvalue is reported.
    """
    n = 200
    corr = np.full((n, n), -0.1)
    np.fill_diagonal(corr, 1.0)
    with pytest.raises(
        DataError,
        match=r"did not converge: covariance matrix is not positive semi-definite "
        r"\(smallest eigenvalue -18.9",
    ):
        risk_budget_weights(corr)


def test_mismatched_labels():
    cov = labelled(np.eye(4), NAMES)
    other = cov.copy()
    other.index = ["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD"]
    with pytest.raises(DataError, match=r"rows and columns must carry the same asset labels"):
        risk_budget_weights(other)
    with pytest.raises(DataError, match=r"budget has no entry for USDT-USD"):
        risk_budget_weights(cov, {"BTC-USD": 1, "ETH-USD": 1, "SOL-USD": 1})
    with pytest.raises(
        DataError, match=r"budget names assets that are not in the covariance.*: XRP"
    ):
        risk_budget_weights(
            cov, {"BTC-USD": 1, "ETH-USD": 1, "SOL-USD": 1, "USDT-USD": 1, "XRP": 1}
        )
    with pytest.raises(DataError, match=r"budget has 3 entries but the covariance matrix has 4"):
        risk_budget_weights(cov, [1, 1, 1])
    with pytest.raises(DataError, match=r"only in weights \['XRP'\]"):
        risk_contributions(pd.Series({"XRP": 1.0}), cov)


def test_negative_nan_and_all_zero_budgets():
    cov = labelled(np.eye(4), NAMES)
    with pytest.raises(InfeasibleError, match=r"budget for SOL-USD is -0.1; budgets must be >= 0"):
        risk_budget_weights(cov, [0.5, 0.5, -0.1, 0.1])
    with pytest.raises(InfeasibleError, match=r"budget for ETH-USD is nan"):
        risk_budget_weights(cov, [0.5, np.nan, 0.1, 0.1])
    with pytest.raises(InfeasibleError, match=r"all risk budgets are zero"):
        risk_budget_weights(cov, [0, 0, 0, 0])


def test_empty_and_duplicate():
    with pytest.raises(DataError, match=r"empty"):
        risk_budget_weights(np.zeros((0, 0)))
    cov = pd.DataFrame(np.eye(2), index=["A", "A"], columns=["A", "A"])
    with pytest.raises(DataError, match=r"'A' appears twice"):
        risk_budget_weights(cov)
