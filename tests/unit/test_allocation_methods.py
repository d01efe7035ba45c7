"""HRP, cluster risk budgeting, minimum variance, volatility targeting, stablecoin policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import (
    minimum_variance_weights,
    portfolio_volatility,
    risk_budget_weights,
    stablecoin_policy,
    volatility_target,
)
from riskcore.errors import ConvergenceError, DataError, InfeasibleError
from riskcore.hierarchical import cluster_assets, cluster_risk_budget_weights, hrp_weights
from tests.unit.published_examples import RR_COV

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "yahoo-daily"



def block_cov(n_blocks: int, size: int, rho_in: float, rho_out: float, vol: np.ndarray):
    n = n_blocks * size
    corr = np.full((n, n), rho_out)
    for k in range(n_blocks):
        corr[k * size : (k + 1) * size, k * size : (k + 1) * size] = rho_in
    np.fill_diagonal(corr, 1.0)
    return np.outer(vol, vol) * corr


# ----- hierarchical risk parity ------------------------------------------------------------


def test_hrp_matches_pyportfolioopt_on_the_rr2019_universe():
    # PyPortfolioOpt 1.6.0 HRPOpt(cov_matrix=...).optimize(linkage_method="single")
    expected = [0.2368555247, 0.4420083794, 0.1208446555, 0.1105020949,
                0.0229836526, 0.0229836526, 0.0258621877, 0.0179598526]  # fmt: skip
    res = hrp_weights(RR_COV)
    np.testing.assert_allclose(res.weights, expected, atol=1e-10)
    assert res.method == "hierarchical risk parity" and res.budget is None


def test_hrp_on_uncorrelated_assets_is_inverse_variance():
    vol = np.array([0.2, 0.5, 0.8, 1.1, 0.3])
    res = hrp_weights(np.diag(vol**2))
    inv = 1 / vol**2
    np.testing.assert_allclose(res.weights, inv / inv.sum(), rtol=1e-12)


def test_hrp_splits_two_identical_blocks_equally_and_is_permutation_equivariant():
    rng = np.random.default_rng(42)
    cov = block_cov(2, 3, 0.8, 0.1, np.full(6, 0.5))
    res = hrp_weights(cov)
    assert res.weights[:3].sum() == pytest.approx(0.5, abs=1e-12)
    perm = rng.permutation(6)
    permuted = hrp_weights(cov[np.ix_(perm, perm)]).weights.to_numpy()
    np.testing.assert_allclose(np.sort(permuted), np.sort(res.weights), rtol=1e-12)
    with pytest.raises(DataError, match=r"linkage is 'median'; allowed: single, average"):
        hrp_weights(cov, linkage="median")


# ----- cluster risk budgeting ----------------------------------------------------------------


def test_cluster_budget_gives_each_group_its_share_of_risk():
    names = ["BTC", "ETH", "SOL", "AVAX", "DOGE", "USDT"]
    vol = np.array([0.6, 0.75, 1.0, 1.1, 1.2, 0.05])
    cov = pd.DataFrame(block_cov(3, 2, 0.8, 0.3, vol), index=names, columns=names)
    groups = {"majors": ["BTC", "ETH"], "l1": ["SOL", "AVAX"], "other": ["DOGE", "USDT"]}
    res = cluster_risk_budget_weights(
        cov, groups=groups, group_budget={"majors": 0.5, "l1": 0.3, "other": 0.2}
    )
    share = res.relative_risk_contributions.groupby(res.asset_groups).sum()
    np.testing.assert_allclose(share[["majors", "l1", "other"]], [0.5, 0.3, 0.2], rtol=1e-10)
    np.testing.assert_allclose(res.relative_risk_contributions[["BTC", "ETH"]], 0.25, rtol=1e-10)
    assert res.method == "cluster risk budgeting"


def test_clusters_from_the_correlation_matrix():
    vol = np.linspace(0.4, 1.0, 9)
    cov = block_cov(3, 3, 0.9, 0.1, vol)
    groups = cluster_assets(cov, 3)
    assert groups.nunique() == 3
    for k in range(3):
        assert groups.iloc[3 * k : 3 * k + 3].nunique() == 1
    res = cluster_risk_budget_weights(cov, n_clusters=3)
    share = res.relative_risk_contributions.groupby(res.asset_groups).sum()
    np.testing.assert_allclose(share, 1 / 3, rtol=1e-10)
    with pytest.raises(DataError, match=r"n_clusters is 10; it must be between 1 and 9"):
        cluster_assets(cov, 10)


def test_cluster_budget_errors():
    cov = pd.DataFrame(np.eye(3), index=list("ABC"), columns=list("ABC"))
    with pytest.raises(DataError, match=r"groups give no group for C"):
        cluster_risk_budget_weights(cov, groups={"x": ["A", "B"]})
    with pytest.raises(DataError, match=r"B is in two groups \(x and y\)"):
        cluster_risk_budget_weights(cov, groups={"x": ["A", "B"], "y": ["B", "C"]})
    with pytest.raises(DataError, match=r"group x names 'Z'"):
        cluster_risk_budget_weights(cov, groups={"x": ["A", "B", "C", "Z"]})
    with pytest.raises(DataError, match=r"group_budget names unknown groups \['q'\]"):
        cluster_risk_budget_weights(cov, groups={"x": ["A", "B", "C"]}, group_budget={"q": 1})
    with pytest.raises(InfeasibleError, match=r"group budget of x is -1.0"):
        cluster_risk_budget_weights(
            cov, groups={"x": ["A"], "y": ["B", "C"]}, group_budget={"x": -1, "y": 1}
        )


# ----- minimum variance ------------------------------------------------------------------------


def test_minimum_variance_optimality_conditions():
    rng = np.random.default_rng(42)
    res = minimum_variance_weights(RR_COV)
    w = res.weights.to_numpy()
    marginal = RR_COV @ w
    held = w > 1e-9
    # equal marginal variance on held assets, no lower marginal variance on the others
    np.testing.assert_allclose(marginal[held], marginal[held].mean(), rtol=1e-6)
    assert (marginal[~held] >= marginal[held].mean() - 1e-9).all()
    # no random long-only portfolio does better
    for _ in range(200):
        x = rng.dirichlet(np.ones(8))
        assert portfolio_volatility(x, RR_COV) >= res.portfolio_volatility - 1e-12
    capped = minimum_variance_weights(RR_COV, bounds=(0, 0.3))
    assert capped.weights.max() <= 0.3 + 1e-9


def test_minimum_variance_two_assets_closed_form():
    s1, s2, rho = 0.3, 0.5, 0.2
    cov = np.array([[s1**2, rho * s1 * s2], [rho * s1 * s2, s2**2]])
    w1 = (s2**2 - rho * s1 * s2) / (s1**2 + s2**2 - 2 * rho * s1 * s2)
    np.testing.assert_allclose(minimum_variance_weights(cov).weights, [w1, 1 - w1], atol=1e-8)


def kkt_residual(cov: np.ndarray, w: np.ndarray, lower: float = 0.0, upper: float = 1.0):
    """Largest violation of the minimum-variance KKT conditions over w'Σw, computed here."""
    g = cov @ w
    at_lower = w <= lower + 1e-12
    at_upper = w >= upper - 1e-12
    inside = ~at_lower & ~at_upper
    lam = g[inside].mean()
    violation = np.concatenate(
        [
            np.abs(g[inside] - lam),
            np.maximum(lam - g[at_lower], 0),
            np.maximum(g[at_upper] - lam, 0),
        ]
    )
    return violation.max() / (w @ g), lam


def quadprog_min_variance(cov: np.ndarray, lower: float = 0.0, upper: float = 1.0) -> np.ndarray:
    """Goldfarb-Idnani dual active set (quadprog, a test dependency) as the reference."""
    quadprog = pytest.importorskip("quadprog")
    n = cov.shape[0]
    scale = np.mean(np.diag(cov))
    constraints = np.vstack([np.ones(n), np.eye(n), -np.eye(n)]).T
    rhs = np.concatenate([[1.0], np.full(n, lower), np.full(n, -upper)])
    return quadprog.solve_qp(cov / scale, np.zeros(n), constraints, rhs, meq=1)[0]


def stablecoin_labels(cov: pd.DataFrame) -> list[str]:
    """USDT and USDC, whichever way the reader names them ("USDT" or "USDT-USD")."""
    return [c for c in cov.columns if str(c).split("-")[0] in ("USDT", "USDC")]


def real_covariances():
    from riskcore.estimators import covariance, to_returns
    from riskcore.ingest import read_prices

    prices = pd.concat([read_prices(p) for p in sorted(DATA.glob("*.csv"))], axis=1, sort=True)
    returns = to_returns(prices)
    for days in (365, 730):
        window = returns.iloc[-days:].dropna(axis=1)
        yield days, covariance(window, method="sample")


@pytest.mark.parametrize("bounds", [None, (0, 0.3)])
def test_minimum_variance_meets_kkt_conditions_with_real_stablecoins(bounds):
    # USDT and USDC have 1e-4..1e-3 of the average variance; SLSQP on the mean-variance-scaled
    # objective stopped at ftol with held marginal variances 0.4% apart and weights 3e-6 off
    for days, cov in real_covariances():
        assert len(stablecoin_labels(cov)) == 2, days
        values = cov.to_numpy()
        assert np.diag(values).min() < 1e-3 * np.diag(values).mean()
        upper = 1.0 if bounds is None else bounds[1]
        res = minimum_variance_weights(cov, bounds=bounds)
        w = res.weights.to_numpy()
        residual, lam = kkt_residual(values, w, upper=upper)
        assert residual <= 1e-10, days
        assert res.max_relative_error <= 1e-10
        assert res.lagrange_multiplier == pytest.approx(lam, rel=1e-9)
        held = (w > 1e-12) & (w < upper - 1e-12)
        marginal = values @ w
        np.testing.assert_allclose(marginal[held], lam, rtol=1e-10)
        np.testing.assert_allclose(w, quadprog_min_variance(values, upper=upper), atol=1e-10)
        assert w.sum() == pytest.approx(1.0, abs=1e-14) and w.min() >= 0 and w.max() <= upper


def test_minimum_variance_clarke_de_silva_thorley_single_factor_closed_form():
    # Clarke, de Silva & Thorley (2011), "Minimum-variance portfolio composition", JPM 37(2):
    # with Σ = σ_m² ββ' + diag(σ_ε²), the long-only minimum-variance weights are
    # w_i ∝ (1 - β_i / β_L) / σ_ε,i² for β_i < β_L and 0 otherwise, where
    # β_L = (1/σ_m² + Σ_{β_i<β_L} β_i²/σ_ε,i²) / Σ_{β_i<β_L} β_i/σ_ε,i².
    rng = np.random.default_rng(42)
    n = 30
    beta = rng.uniform(0.2, 2.0, n)
    beta[:2] = [0.002, 0.001]  # two stablecoins: near-zero beta and variance
    idio = rng.uniform(0.3, 0.9, n) ** 2
    idio[:2] = [0.03**2, 0.05**2]
    market = 0.6**2
    cov = market * np.outer(beta, beta) + np.diag(idio)
    order = np.argsort(beta)
    for k in range(1, n + 1):
        held = order[:k]
        beta_l = (1 / market + np.sum(beta[held] ** 2 / idio[held])) / np.sum(
            beta[held] / idio[held]
        )
        if k == n or beta[order[k]] >= beta_l:
            break
    expected = np.where(beta < beta_l, (1 - beta / beta_l) / idio, 0.0)
    expected /= expected.sum()
    assert 2 < (expected > 0).sum() < n  # some held, some excluded: the bound binds
    res = minimum_variance_weights(cov)
    np.testing.assert_allclose(res.weights.to_numpy(), expected, rtol=1e-10, atol=1e-15)
    assert kkt_residual(cov, res.weights.to_numpy())[0] <= 1e-10


def test_minimum_variance_unconstrained_closed_form_and_scale_invariance():
    # all weights positive: w = Σ⁻¹1 / 1'Σ⁻¹1 (Markowitz 1952); the unit of Σ does not matter
    rng = np.random.default_rng(42)
    vol = np.array([0.6, 0.7, 0.8, 0.9, 0.02])
    corr = np.full((5, 5), 0.3)
    np.fill_diagonal(corr, 1.0)
    corr[4, :4] = corr[:4, 4] = -0.05
    cov = np.outer(vol, vol) * corr
    inv = np.linalg.solve(cov, np.ones(5))
    expected = inv / inv.sum()
    assert (expected > 0).all()
    res = minimum_variance_weights(cov)
    np.testing.assert_allclose(res.weights.to_numpy(), expected, rtol=1e-12)
    daily = minimum_variance_weights(cov / 365.0 * rng.uniform(1e-6, 1e-5))
    np.testing.assert_allclose(daily.weights.to_numpy(), expected, rtol=1e-12)


def test_minimum_variance_reports_non_convergence_with_the_residual():
    _, cov = next(real_covariances())
    pattern = r"optimality residual \(.*\) [0-9.e+-]+ after 1 iterations \(tolerance 1e-10\)"
    with pytest.raises(ConvergenceError, match=pattern):
        minimum_variance_weights(cov, max_iter=1)


# ----- volatility targeting and stablecoins --------------------------------------------------


def test_volatility_target_scales_to_target_with_cash_sleeve():
    rb = risk_budget_weights(RR_COV)
    out = volatility_target(rb.weights, RR_COV, 0.03)
    assert out.portfolio_volatility == pytest.approx(0.03, rel=1e-12)
    assert out.leverage == pytest.approx(0.03 / rb.portfolio_volatility)
    assert out.weights["cash"] == pytest.approx(1 - out.leverage)
    assert out.weights.sum() == pytest.approx(1.0)
    assert out.target_reached
    capped = volatility_target(rb.weights, RR_COV, 0.10)  # would need leverage 2.1
    assert capped.leverage == 1.0 and capped.sleeve_weight == 0.0 and not capped.target_reached
    levered = volatility_target(rb.weights, RR_COV, 0.10, max_leverage=3.0)
    assert levered.sleeve_weight < 0 and levered.portfolio_volatility == pytest.approx(0.10)
    with pytest.raises(DataError, match=r"target volatility is -0.1; it must be a positive"):
        volatility_target(rb.weights, RR_COV, -0.1)
    with pytest.raises(DataError, match=r"max_leverage is 0; it must be positive"):
        volatility_target(rb.weights, RR_COV, 0.1, max_leverage=0)
    with pytest.raises(DataError, match=r"weights sum to 0.5; .* must sum to 1 \(within 1e-6\)"):
        volatility_target(rb.weights * 0.5, RR_COV, 0.1)
    # rounding noise far below 1e-6 is accepted
    volatility_target(rb.weights * (1 + 1e-9), RR_COV, 0.1)


def test_volatility_target_into_a_stablecoin_accounts_for_its_risk():
    names = ["BTC-USD", "ETH-USD", "USDT-USD"]
    vol = np.array([0.6, 0.8, 0.03])
    corr = np.array([[1, 0.8, 0.1], [0.8, 1, 0.1], [0.1, 0.1, 1]])
    cov = pd.DataFrame(np.outer(vol, vol) * corr, index=names, columns=names)
    policy = stablecoin_policy(cov, policy="sleeve")
    assert policy.sleeve == ("USDT-USD",)
    assert list(policy.cov.columns) == ["BTC-USD", "ETH-USD"]
    rb = risk_budget_weights(policy.cov)
    w = rb.weights.reindex(names, fill_value=0.0)
    out = volatility_target(w, cov, 0.3, cash="USDT-USD")
    assert out.portfolio_volatility == pytest.approx(0.3, rel=1e-10)
    assert out.weights["USDT-USD"] == pytest.approx(out.sleeve_weight)
    assert "cash" not in out.weights.index
    included = stablecoin_policy(cov, policy="include")
    assert included.sleeve == () and included.cov.shape == (3, 3)
    with pytest.raises(DataError, match=r"stablecoin policy is 'cash'; allowed: 'include'"):
        stablecoin_policy(cov, policy="cash")


# ----- real data -----------------------------------------------------------------------------


def test_real_fourteen_coins_every_method_is_sensible():
    from riskcore.estimators import covariance, to_returns
    from riskcore.ingest import read_prices

    prices = pd.concat([read_prices(p) for p in sorted(DATA.glob("*.csv"))], axis=1, sort=True)
    assert prices.shape[1] == 14
    returns = to_returns(prices).iloc[-365:].dropna(axis=1)
    cov = covariance(returns, method="ledoit_wolf")
    rb = risk_budget_weights(cov)
    np.testing.assert_allclose(rb.relative_risk_contributions, 1 / cov.shape[0], rtol=1e-8)
    # stablecoins as the sleeve: risk-budget the rest, park the remainder in USDT
    policy = stablecoin_policy(cov, policy="sleeve")
    stable = stablecoin_labels(cov)
    assert set(policy.sleeve) == set(stable) and len(stable) == 2
    risky = risk_budget_weights(policy.cov, bounds=(0, 0.25))
    assert risky.weights.max() <= 0.25 + 1e-12
    usdt = next(c for c in stable if c.startswith("USDT"))
    out = volatility_target(risky.weights.reindex(cov.columns, fill_value=0), cov, 0.3, cash=usdt)
    assert out.portfolio_volatility == pytest.approx(0.3, rel=1e-9)
    for res in (
        hrp_weights(cov),
        minimum_variance_weights(cov),
        cluster_risk_budget_weights(policy.cov),
    ):
        assert res.weights.sum() == pytest.approx(1.0) and (res.weights >= -1e-12).all()
