"""Rebalance check: trade list from current holdings to target, with band, costs and min size."""

import numpy as np
import pandas as pd
import pytest

from riskcore.errors import DataError, RiskcoreError
from riskcore.rebalance import (
    CostModel,
    desired_weights,
    rebalance_trades,
    units_from_values,
)

PRICES = pd.Series({"BTC": 50_000.0, "ETH": 3_000.0, "SOL": 100.0, "DOGE": 0.1})
TARGET = pd.Series({"BTC": 0.5, "ETH": 0.3, "SOL": 0.2})


def random_case(rng, n=5):
    assets = [f"C{i}" for i in range(n)]
    prices = pd.Series(rng.uniform(0.5, 500, n), index=assets)
    holdings = pd.Series(rng.uniform(0, 100, n), index=assets)
    target = pd.Series(rng.dirichlet(np.ones(n)), index=assets)
    return holdings, prices, target


def test_free_trades_reach_target_exactly():
    rng = np.random.default_rng(42)
    holdings, prices, target = random_case(rng)
    plan = rebalance_trades(holdings, prices, target)
    t = plan.trades
    assert plan.rebalance
    np.testing.assert_allclose(t["post_weight"], target, atol=1e-12)
    np.testing.assert_allclose(t["post_units"], t["units"] + t["trade_units"], rtol=1e-12)
    np.testing.assert_allclose(t["trade_value"], t["trade_units"] * t["price"], rtol=1e-12)
    assert plan.total_cost == 0
    assert plan.turnover == pytest.approx(t["trade_value"].abs().sum() / (2 * plan.portfolio_value))
    assert set(t["side"]) <= {"buy", "sell", "hold"}
    assert (t.loc[t["trade_value"] > 0, "side"] == "buy").all()


def test_self_financing_with_costs():
    rng = np.random.default_rng(42)
    holdings, prices, target = random_case(rng)
    costs = CostModel.from_bps(fee_bps=10, half_spread_bps=5, impact_bps=50)
    volume = pd.Series(1e5, index=holdings.index)
    plan = rebalance_trades(holdings, prices, target, costs=costs, cash=250.0, volume=volume)
    t = plan.trades
    # sales + cash pay for purchases and costs: nothing is left and nothing is borrowed
    assert 250.0 - t["trade_value"].sum() - t["cost"].sum() == pytest.approx(0, abs=1e-8)
    assert plan.cash_after == 0
    # costs reduce what can be bought: the post-trade value is the value minus costs
    post_value = (t["post_units"] * t["price"]).sum()
    assert post_value == pytest.approx(plan.portfolio_value - plan.total_cost, rel=1e-12)
    np.testing.assert_allclose(t["post_weight"], target, atol=1e-12)
    size = t["trade_value"].abs()
    expected = size * (0.0015 + 0.005 * np.sqrt(size / 1e5))
    np.testing.assert_allclose(t["cost"], expected, rtol=1e-9)


def test_costs_from_bps():
    costs = CostModel.from_bps(fee_bps=10, half_spread_bps=5, impact_bps=20, min_trade_usd=25)
    assert (costs.fee, costs.half_spread, costs.impact, costs.min_trade) == pytest.approx(
        (0.001, 0.0005, 0.002, 25.0)
    )
    assert costs.proportional == pytest.approx(0.0015)
    assert CostModel().is_zero and not costs.is_zero
    # unknown volume: no impact
    got = costs.trade_costs(np.array([-1000.0, 1000.0]), np.array([np.nan, 0.0]))
    np.testing.assert_allclose(got, [1.5, 1.5])


def test_inside_band_nothing_trades():
    holdings = units_from_values(pd.Series({"BTC": 520.0, "ETH": 290.0, "SOL": 190.0}), PRICES)
    plan = rebalance_trades(holdings, PRICES, TARGET, band=0.05)
    assert not plan.rebalance
    assert not plan.trades["breach"].any()
    assert (plan.trades["side"] == "hold").all()
    assert plan.turnover == 0
    np.testing.assert_allclose(plan.trades["drift"], [0.02, -0.01, -0.01], atol=1e-12)


def test_band_breach_and_modes():
    # BTC 60% (breaches a 5-point band), ETH 25%, SOL 15%
    holdings = units_from_values(pd.Series({"BTC": 600.0, "ETH": 250.0, "SOL": 150.0}), PRICES)
    to_target = rebalance_trades(holdings, PRICES, TARGET, band=0.05)
    assert to_target.trades["breach"].tolist() == [True, False, False]
    np.testing.assert_allclose(to_target.trades["post_weight"], TARGET, atol=1e-12)

    to_band = rebalance_trades(holdings, PRICES, TARGET, band=0.05, mode="to_band")
    w = to_band.trades["post_weight"]
    assert w["BTC"] == pytest.approx(0.55)
    # ETH and SOL absorb the 5 points pro rata to their targets (3:2)
    assert w["ETH"] == pytest.approx(0.25 + 0.03) and w["SOL"] == pytest.approx(0.15 + 0.02)
    assert to_band.turnover < to_target.turnover

    breached = rebalance_trades(holdings, PRICES, TARGET, band=0.05, mode="breached_only")
    assert breached.trades["post_weight"]["BTC"] == pytest.approx(0.5)
    assert breached.turnover == pytest.approx(to_target.turnover)


def test_desired_weights_sum_to_one():
    rng = np.random.default_rng(42)
    for _ in range(50):
        w = rng.dirichlet(np.ones(6))
        t = rng.dirichlet(np.ones(6))
        breach = np.abs(w - t) > 0.05
        for mode in ("to_target", "to_band", "breached_only"):
            got = desired_weights(w, t, breach, mode, 0.05)
            assert got.sum() == pytest.approx(1.0)
            assert (got >= 0).all()


def test_new_target_and_unwanted_holding_are_explicit():
    holdings = pd.Series({"BTC": 0.01, "ETH": 0.1, "DOGE": 2000.0})  # no SOL, DOGE not targeted
    plan = rebalance_trades(holdings, PRICES, TARGET)
    t = plan.trades
    assert list(t.index) == ["BTC", "ETH", "SOL", "DOGE"]
    assert t.loc["SOL", "side"] == "buy" and t.loc["SOL", "units"] == 0
    assert t.loc["DOGE", "side"] == "sell" and not t.loc["DOGE", "has_target"]
    assert t.loc["DOGE", "post_units"] == pytest.approx(0, abs=1e-9)


def test_minimum_trade_size_skips_small_trades():
    holdings = units_from_values(pd.Series({"BTC": 600.0, "ETH": 290.0, "SOL": 110.0}), PRICES)
    costs = CostModel(min_trade=50.0)
    plan = rebalance_trades(holdings, PRICES, TARGET, costs=costs)
    t = plan.trades
    assert plan.skipped == ("ETH",)  # ETH would trade 10 USD
    assert t.loc["ETH", "side"] == "hold" and t.loc["ETH", "skipped"]
    assert (t.loc[["BTC", "SOL"], "trade_value"].abs() >= 50).all()
    assert t["trade_value"].sum() == pytest.approx(0, abs=1e-9)  # still self-financing
    everything_small = rebalance_trades(holdings, PRICES, TARGET, costs=CostModel(min_trade=1e6))
    assert not everything_small.rebalance and everything_small.total_cost == 0


def test_cash_is_invested():
    plan = rebalance_trades(pd.Series(dtype=float), PRICES, TARGET, cash=1000.0)
    t = plan.trades
    np.testing.assert_allclose(t["trade_value"], [500.0, 300.0, 200.0])
    assert plan.portfolio_value == 1000.0 and plan.cash_after == 0


def test_errors_name_the_asset():
    good = pd.Series({"BTC": 0.01, "ETH": 0.1, "SOL": 1.0})
    with pytest.raises(DataError, match="holding for ETH is -1.0"):
        rebalance_trades(good.replace(0.1, -1.0), PRICES, TARGET)
    with pytest.raises(DataError, match="no price for SOL"):
        rebalance_trades(good, PRICES.drop("SOL"), TARGET)
    with pytest.raises(DataError, match="price of SOL is nan"):
        rebalance_trades(good, PRICES.replace(100.0, np.nan), TARGET)
    with pytest.raises(RiskcoreError, match="target weights sum to 0.9; they must sum to 1"):
        rebalance_trades(good, PRICES, TARGET.replace(0.2, 0.1))
    with pytest.raises(RiskcoreError, match="target weight of SOL is -0.2"):
        rebalance_trades(good, PRICES, pd.Series({"BTC": 0.7, "ETH": 0.5, "SOL": -0.2}))
    with pytest.raises(RiskcoreError, match="mode 'sideways' is unknown; allowed: 'to_target'"):
        rebalance_trades(good, PRICES, TARGET, mode="sideways")
    with pytest.raises(RiskcoreError, match="band is -0.1"):
        rebalance_trades(good, PRICES, TARGET, threshold=-0.1)
    with pytest.raises(RiskcoreError, match="cash is -5"):
        rebalance_trades(good, PRICES, TARGET, cash=-5)
    with pytest.raises(DataError, match="portfolio is empty"):
        rebalance_trades(pd.Series(dtype=float), PRICES, TARGET)
    with pytest.raises(RiskcoreError, match="cost fee is -0.1"):
        CostModel(fee=-0.1)
    with pytest.raises(DataError, match="USD value of BTC is -3"):
        units_from_values(pd.Series({"BTC": -3.0}), PRICES)
    with pytest.raises(DataError, match="holding lists BTC more than once"):
        rebalance_trades(pd.Series([1.0, 2.0], index=["BTC", "BTC"]), PRICES, TARGET)


def test_threshold_is_the_former_name_of_band():
    holdings = pd.Series({"BTC": 0.5, "ETH": 0.0})
    prices = pd.Series({"BTC": 100.0, "ETH": 10.0})
    target = pd.Series({"BTC": 0.5, "ETH": 0.5})
    new = rebalance_trades(holdings, prices, target, band=0.1, cash=50.0)
    old = rebalance_trades(holdings, prices, target, threshold=0.1, cash=50.0)
    assert new.band == old.threshold == 0.1
    pd.testing.assert_frame_equal(new.trades, old.trades)
