"""Walk-forward simulator with stablecoins: volatility floor, stablecoin sleeve, cash sleeve."""

import numpy as np
import pandas as pd
import pytest

from riskcore import demo_prices
from riskcore.allocation import (
    inverse_volatility_weights,
    portfolio_volatility,
    relative_risk_contributions,
    volatility_target,
)
from riskcore.backtest import RebalancePolicy, run_backtest, threshold_sweep
from riskcore.errors import DataError, RiskcoreError
from riskcore.estimators import estimate_covariance, floor_volatility, rolling_covariances
from riskcore.rebalance import CostModel

RISKY = ["BTC-USD", "ETH-USD", "SOL-USD"]
STABLE = "USDT-USD"
LOOKBACK = 60
PPY = 365  # daily 24/7 calendar


def make_prices(n_days=300, seed=42):
    """Three correlated volatile coins (about 60-100% a year) and a stablecoin near 1 USD."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2022-01-01", periods=n_days, tz="UTC", name="date")
    corr = np.array([[1.0, 0.6, 0.5], [0.6, 1.0, 0.7], [0.5, 0.7, 1.0]])
    vols = np.array([0.03, 0.04, 0.055])
    shocks = rng.standard_normal((n_days, 3)) @ np.linalg.cholesky(corr).T * vols
    risky = 100 * np.cumprod(1 + shocks, axis=0)
    stable = 1 + 0.0005 * rng.standard_normal(n_days)  # about 1% a year measured volatility
    return pd.DataFrame(np.column_stack([risky, stable]), index=index, columns=RISKY + [STABLE])


PRICES = make_prices()
RETURNS = PRICES.pct_change()


def window_cov(t, floor=None, prices=PRICES):
    """Annualized covariance of the LOOKBACK returns ending at row t, as the walk-forward sees."""
    window = prices.pct_change().iloc[t - LOOKBACK + 1 : t + 1]
    return estimate_covariance(window, periods_per_year=PPY, volatility_floor=floor).matrix


def daily(**fields):
    return RebalancePolicy(frequency="D", lookback=LOOKBACK, **fields)


def test_include_without_floor_pours_into_the_stablecoin():
    # the problem the new fields solve: near-zero measured volatility takes most of the weight
    for method in ("erc", "inverse_volatility"):
        res = run_backtest(PRICES, daily(method=method))
        stable = res.target_weights[STABLE].dropna()
        assert len(stable) == len(PRICES) - LOOKBACK
        assert stable.min() > 0.9


def test_volatility_floor_inverse_volatility_closed_form():
    floor = 0.05
    plain = run_backtest(PRICES, daily(method="inverse_volatility"))
    floored = run_backtest(PRICES, daily(method="inverse_volatility", volatility_floor=floor))
    sigma = RETURNS.rolling(LOOKBACK).std().to_numpy() * np.sqrt(PPY)
    for t in (LOOKBACK, 150, len(PRICES) - 1):
        assert sigma[t, 3] < floor < sigma[t, :3].min()
        inv = 1.0 / np.maximum(sigma[t], floor)
        np.testing.assert_allclose(floored.target_weights.iloc[t], inv / inv.sum(), rtol=1e-9)
        # same as riskcore's allocation on the floored estimate of the same window
        expected = inverse_volatility_weights(window_cov(t, floor)).weights
        np.testing.assert_allclose(floored.target_weights.iloc[t], expected, rtol=1e-9)
    drop = plain.target_weights[STABLE] - floored.target_weights[STABLE]
    assert (drop.dropna() > 0.05).all()


def test_volatility_floor_keeps_correlations_as_estimate_covariance():
    floor = 0.05
    policy = daily(method="erc", volatility_floor=floor)
    kernel, _ = rolling_covariances(PRICES.pct_change().to_numpy(), LOOKBACK)
    kernel[LOOKBACK:] = floor_volatility(kernel[LOOKBACK:], floor**2 / PPY)
    res = run_backtest(PRICES, policy)
    for t in (LOOKBACK, 200, len(PRICES) - 1):
        cov = window_cov(t, floor)
        np.testing.assert_allclose(kernel[t] * PPY, cov.to_numpy(), rtol=1e-9, atol=1e-15)
        assert np.sqrt(kernel[t, 3, 3] * PPY) == pytest.approx(floor, rel=1e-12)
        rrc = relative_risk_contributions(res.target_weights.iloc[t], cov)
        np.testing.assert_allclose(rrc, 0.25, atol=1e-8)
    # held daily, the measured risk contributions use the same floored estimate
    np.testing.assert_allclose(res.relative_risk_contributions.dropna(), 0.25, atol=1e-8)
    unfloored = run_backtest(PRICES, daily(method="erc"))
    assert (res.target_weights[STABLE] < unfloored.target_weights[STABLE]).iloc[LOOKBACK:].all()
    # a floor below every measured volatility changes nothing
    low = run_backtest(PRICES, daily(method="erc", volatility_floor=1e-6))
    pd.testing.assert_frame_equal(low.target_weights, unfloored.target_weights)


def test_floor_makes_a_constant_price_stablecoin_eligible():
    prices = PRICES.copy()
    prices[STABLE] = 1.0  # zero variance: not eligible without a floor
    plain = run_backtest(prices, daily(method="erc"))
    assert (plain.target_weights[STABLE].dropna() == 0).all()
    floored = run_backtest(prices, daily(method="erc", volatility_floor=0.05))
    t = len(prices) - 1
    cov = window_cov(t, 0.05, prices)
    assert cov.loc[STABLE, RISKY].eq(0).all()  # zero correlations, as estimate_covariance
    rrc = relative_risk_contributions(floored.target_weights.iloc[t], cov)
    np.testing.assert_allclose(rrc, 0.25, atol=1e-8)


@pytest.mark.parametrize("method", ["erc", "inverse_volatility", "equal_weight"])
def test_sleeve_keeps_stablecoins_out_of_the_risk_budget(method):
    res = run_backtest(PRICES, daily(method=method, stablecoins="sleeve"))
    targets = res.target_weights.dropna()
    assert (targets[STABLE] == 0).all()
    assert (res.weights[STABLE] == 0).all()
    np.testing.assert_allclose(targets[RISKY].sum(axis=1), 1.0, rtol=1e-12)
    assert not (res.trades["asset"] == STABLE).any()
    for t in (LOOKBACK, 200, len(PRICES) - 1):
        w = res.target_weights.iloc[t][RISKY]
        cov = window_cov(t).loc[RISKY, RISKY]
        if method == "erc":
            np.testing.assert_allclose(relative_risk_contributions(w, cov), 1 / 3, atol=1e-8)
        elif method == "inverse_volatility":
            expected = inverse_volatility_weights(cov).weights
            np.testing.assert_allclose(w, expected, rtol=1e-9)
        else:
            np.testing.assert_allclose(w, 1 / 3, rtol=1e-12)
    if method == "erc":
        # the reference of the risk contributions is the budget over the risky coins
        reference = res.risk_reference.dropna()
        assert (reference[STABLE] == 0).all()
        np.testing.assert_allclose(reference[RISKY], 1 / 3, rtol=1e-12)


def test_sleeve_with_risk_budget_renormalizes_the_budget():
    budget = pd.Series({"BTC-USD": 0.4, "ETH-USD": 0.3, STABLE: 0.3})
    res = run_backtest(PRICES, daily(method="risk_budget", budget=budget, stablecoins="sleeve"))
    assert list(res.weights.columns) == ["BTC-USD", "ETH-USD", STABLE]
    t = len(PRICES) - 1
    w = res.target_weights.iloc[t]
    assert w[STABLE] == 0
    cov = window_cov(t).loc[["BTC-USD", "ETH-USD"], ["BTC-USD", "ETH-USD"]]
    rrc = relative_risk_contributions(w[["BTC-USD", "ETH-USD"]], cov)
    np.testing.assert_allclose(rrc, [4 / 7, 3 / 7], atol=1e-8)


def test_volatility_target_remainder_in_a_stablecoin():
    fee = CostModel(fee=0.001)
    policy = daily(method="erc", stablecoins="sleeve", target_volatility=0.3, cash=STABLE)
    res = run_backtest(PRICES, policy, fee)
    risky_only = run_backtest(PRICES, daily(method="erc", stablecoins="sleeve"))
    for t in (LOOKBACK, 200, len(PRICES) - 1):
        cov = window_cov(t)
        unscaled = risky_only.target_weights.iloc[t]
        expected = volatility_target(unscaled, cov, 0.3, cash=STABLE)
        target = res.target_weights.iloc[t]
        np.testing.assert_allclose(target, expected.weights[target.index], rtol=1e-8, atol=1e-12)
        assert portfolio_volatility(target, cov) == pytest.approx(0.3, rel=1e-8)
        assert target[STABLE] == pytest.approx(1 - target[RISKY].sum(), rel=1e-12)
        assert target[STABLE] > 0.3
    # the stablecoin holds the sleeve, bought and sold with costs; no riskless cash is left
    invested = res.rebalance_dates[0]
    assert (res.cash.loc[invested:].abs() < 1e-6).all()
    assert (res.weights[STABLE].loc[invested:] > 0.3).all()
    stable_trades = res.trades[res.trades["asset"] == STABLE]
    assert len(stable_trades) > 100 and (stable_trades["cost"] > 0).all()
    np.testing.assert_allclose(stable_trades["cost"], 0.001 * stable_trades["value"].abs())
    # riskless cash instead: same risky proportions, the remainder in cash
    riskless = run_backtest(PRICES, daily(method="erc", stablecoins="sleeve",
                                          target_volatility=0.3), fee)
    assert (riskless.target_weights[STABLE].dropna() == 0).all()
    assert (riskless.cash.loc[invested:] > 0).all()


def test_included_stablecoin_also_takes_the_remainder():
    # "include": the stablecoin has its own (floored) risk budget and takes the remainder too;
    # the floored ERC targets here have about 8-10% volatility, so a 6% target binds
    policy = daily(method="erc", volatility_floor=0.05, target_volatility=0.06, cash=STABLE)
    res = run_backtest(PRICES, policy)
    unscaled = run_backtest(PRICES, daily(method="erc", volatility_floor=0.05))
    for t in (LOOKBACK, len(PRICES) - 1):
        cov = window_cov(t, 0.05)
        before = unscaled.target_weights.iloc[t]
        expected = volatility_target(before, cov, 0.06, cash=STABLE)
        assert expected.leverage < 0.9
        target = res.target_weights.iloc[t]
        np.testing.assert_allclose(target, expected.weights[cov.columns], rtol=1e-8)
        assert portfolio_volatility(target, cov) == pytest.approx(0.06, rel=1e-8)
        assert target[STABLE] > before[STABLE]
    # a calm target is not levered up
    calm = run_backtest(PRICES, daily(method="erc", volatility_floor=0.05, target_volatility=0.5,
                                      cash=STABLE))
    pd.testing.assert_frame_equal(calm.target_weights, unscaled.target_weights)


def test_sleeve_without_stablecoins_changes_nothing():
    coins = PRICES[RISKY]
    for fields in (dict(method="erc"), dict(method="inverse_volatility", band=0.05)):
        base = run_backtest(coins, daily(**fields))
        sleeve = run_backtest(coins, daily(stablecoins="sleeve", **fields))
        pd.testing.assert_series_equal(base.equity, sleeve.equity, check_exact=True)
        pd.testing.assert_frame_equal(base.target_weights, sleeve.target_weights,
                                      check_exact=True)


def test_stablecoin_sleeve_falls_back_to_cash_before_its_history():
    prices = PRICES.copy()
    prices.iloc[:150, 3] = np.nan  # the stablecoin lists on day 150
    policy = daily(method="erc", stablecoins="sleeve", target_volatility=0.3, cash=STABLE)
    res = run_backtest(prices, policy)
    ready = 150 + LOOKBACK  # lookback + 1 prices
    assert (res.target_weights[STABLE].iloc[LOOKBACK:ready] == 0).all()
    assert (res.cash.iloc[LOOKBACK:ready] > 0).all()
    assert (res.target_weights[STABLE].iloc[ready:] > 0).all()
    assert (res.cash.iloc[ready:].abs() < 1e-6).all()


def test_no_look_ahead_with_stablecoin_fields():
    cut = 200
    future = PRICES.copy()
    rng = np.random.default_rng(42)
    n_future = len(PRICES) - cut - 1
    future.iloc[cut + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.05, (n_future, 4)), axis=0))
    for policy in (
        daily(method="erc", volatility_floor=0.05),
        RebalancePolicy(method="inverse_volatility", band=0.03, lookback=LOOKBACK,
                        stablecoins="sleeve", volatility_floor=0.05, target_volatility=0.3,
                        cash=STABLE),
    ):
        base = run_backtest(PRICES, policy, CostModel(fee=0.001))
        moved = run_backtest(future, policy, CostModel(fee=0.001))
        upto = PRICES.index[cut]
        pd.testing.assert_series_equal(base.equity.loc[:upto], moved.equity.loc[:upto])
        pd.testing.assert_frame_equal(base.target_weights.loc[:upto],
                                      moved.target_weights.loc[:upto])
        pd.testing.assert_frame_equal(
            base.trades[base.trades["date"] <= upto].reset_index(drop=True),
            moved.trades[moved.trades["date"] <= upto].reset_index(drop=True),
        )
        assert base.equity.iloc[-1] != moved.equity.iloc[-1]


def test_threshold_sweep_accepts_the_stablecoin_fields():
    policy = RebalancePolicy(method="erc", lookback=LOOKBACK, stablecoins="sleeve",
                             volatility_floor=0.05, target_volatility=0.3, cash=STABLE)
    grid = [0.0, 0.05, np.inf]
    costs = CostModel(fee=0.001)
    table = threshold_sweep(PRICES, policy, grid, costs, trigger="risk_band")
    for x in grid:
        single = run_backtest(PRICES, RebalancePolicy(
            method="erc", lookback=LOOKBACK, stablecoins="sleeve", volatility_floor=0.05,
            target_volatility=0.3, cash=STABLE, risk_band=x), costs)
        assert table.loc[x, "final_equity"] == pytest.approx(single.equity.iloc[-1], rel=1e-12)
        assert table.loc[x, "n_rebalances"] == single.metrics.n_rebalances
    assert table["n_rebalances"].iloc[-1] == 0
    assert table["costs_paid"].iloc[0] > table["costs_paid"].iloc[1]


def test_demo_market_with_usdt():
    prices = demo_prices()
    assert STABLE in prices.columns and prices.shape[1] == 12
    coins = [c for c in prices.columns if c != STABLE]
    include = run_backtest(prices, RebalancePolicy(method="erc", frequency="M"))
    floored = run_backtest(prices, RebalancePolicy(method="erc", frequency="M",
                                                   volatility_floor=0.05))
    sleeve = run_backtest(prices, RebalancePolicy(method="erc", frequency="M",
                                                  stablecoins="sleeve"))
    last = include.target_weights.dropna().index[-1]
    assert include.target_weights.loc[last, STABLE] > 0.8
    assert floored.target_weights.loc[last, STABLE] < include.target_weights.loc[last, STABLE]
    assert sleeve.target_weights.loc[last, STABLE] == 0
    assert (sleeve.weights[STABLE] == 0).all()
    assert sleeve.target_weights.loc[last, coins].min() > 0.03
    # held weights drift between monthly rebalances; the targets have equal risk contributions
    t = prices.index.get_loc(last)
    window = prices.pct_change().iloc[t - 89 : t + 1][coins]
    cov = estimate_covariance(window, periods_per_year=PPY).matrix
    rrc = relative_risk_contributions(sleeve.target_weights.loc[last, coins], cov)
    np.testing.assert_allclose(rrc, 1 / len(coins), atol=1e-8)


def test_errors():
    with pytest.raises(RiskcoreError, match=r"volatility_floor is -0.1; it must be a finite "
                                            r"annualized volatility >= 0"):
        RebalancePolicy(volatility_floor=-0.1)
    with pytest.raises(RiskcoreError, match="volatility_floor is inf"):
        RebalancePolicy(volatility_floor=np.inf)
    with pytest.raises(RiskcoreError, match="stablecoins is 'exclude'; allowed: 'include', "
                                            "'sleeve'"):
        RebalancePolicy(stablecoins="exclude")
    with pytest.raises(RiskcoreError, match="stablecoins='sleeve' applies to estimated methods"):
        RebalancePolicy(target=pd.Series({"BTC-USD": 1.0}), stablecoins="sleeve")
    with pytest.raises(RiskcoreError, match="cash is 'BTC-USD'; allowed: 'cash' .riskless. or"):
        RebalancePolicy(target_volatility=0.3, cash="BTC-USD")
    with pytest.raises(RiskcoreError, match="cash 'USDT-USD' holds the remainder of a "
                                            "volatility target; set target_volatility"):
        RebalancePolicy(cash=STABLE)
    with pytest.raises(DataError, match="no price column for USDC-USD, the cash sleeve"):
        run_backtest(PRICES, RebalancePolicy(target_volatility=0.3, cash="USDC-USD"))
    stables = PRICES[[STABLE]].assign(**{"USDC-USD": PRICES[STABLE] * 1.0001})
    with pytest.raises(DataError, match="every asset is a stablecoin"):
        run_backtest(stables, RebalancePolicy(stablecoins="sleeve"))
