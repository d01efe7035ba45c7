"""Walk-forward simulator: constant mix, buy-and-hold, costs, no look-ahead, triggers."""

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import risk_budget_weights
from riskcore.backtest import (
    RebalancePolicy,
    run_backtest,
    threshold_sweep,
)
from riskcore.errors import DataError, RiskcoreError
from riskcore.estimators import covariance, rolling_covariances
from riskcore.rebalance import CostModel

ASSETS = ["BTC", "ETH", "SOL", "DOGE"]
TARGET = pd.Series([0.4, 0.3, 0.2, 0.1], index=ASSETS)


def make_prices(n_days=400, seed=42, vols=(0.03, 0.04, 0.06, 0.08)):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n_days, tz="UTC", name="date")
    corr = 0.5 * np.ones((4, 4)) + 0.5 * np.eye(4)
    chol = np.linalg.cholesky(corr * np.outer(vols, vols))
    shocks = rng.standard_normal((n_days, 4)) @ chol.T
    prices = 100 * np.exp(np.cumsum(shocks, axis=0))
    return pd.DataFrame(prices, index=index, columns=ASSETS)


PRICES = make_prices()


def test_daily_fixed_weights_without_costs_is_constant_mix():
    res = run_backtest(PRICES, RebalancePolicy(target=TARGET, frequency="D"), initial_value=1000)
    returns = PRICES.pct_change().iloc[1:]
    expected = 1000 * np.concatenate([[1.0], np.cumprod(1 + returns.to_numpy() @ TARGET.values)])
    np.testing.assert_allclose(res.equity.to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(res.weights.to_numpy(), np.tile(TARGET.values, (400, 1)),
                               atol=1e-12)
    assert res.costs.sum() == 0
    assert len(res.rebalance_dates) == 400
    assert res.rebalance_reasons.iloc[0] == "initial"
    assert (res.rebalance_reasons.iloc[1:] == "calendar").all()


def test_infinite_band_is_buy_and_hold():
    res = run_backtest(PRICES, RebalancePolicy(target=TARGET, band=np.inf), initial_value=1000)
    units = 1000 * TARGET / PRICES.iloc[0]
    np.testing.assert_allclose(res.equity, PRICES @ units, rtol=1e-12)
    assert list(res.rebalance_dates) == [PRICES.index[0]]
    assert res.turnover == 0 and res.metrics.n_rebalances == 0
    no_trigger = run_backtest(PRICES, RebalancePolicy(target=TARGET), initial_value=1000)
    np.testing.assert_allclose(no_trigger.equity, res.equity, rtol=1e-15)


@pytest.mark.parametrize(
    "policy",
    [
        RebalancePolicy(target=TARGET, frequency="D"),
        RebalancePolicy(target=TARGET, frequency="M"),
        RebalancePolicy(method="erc", frequency="W", lookback=30),
    ],
)
def test_costs_only_lower_equity(policy):
    free = run_backtest(PRICES, policy)
    costly = run_backtest(PRICES, policy, CostModel.from_bps(fee_bps=10, half_spread_bps=5))
    assert (costly.equity <= free.equity * (1 + 1e-12)).all()
    assert costly.equity.iloc[-1] < free.equity.iloc[-1]
    assert (costly.costs >= 0).all()
    assert costly.costs.sum() == pytest.approx(costly.trades["cost"].sum())
    assert list(costly.rebalance_dates) == list(free.rebalance_dates)
    # costs are charged in equity: value lost to costs on each rebalance date
    pos = costly.equity.index.get_indexer(costly.rebalance_dates[1:])
    pre = (costly.holdings.shift(1).iloc[pos].to_numpy() * PRICES.iloc[pos].to_numpy()).sum(1)
    np.testing.assert_allclose(costly.equity.iloc[pos], pre - costly.costs.iloc[pos], rtol=1e-10)


def test_self_financing_trades():
    res = run_backtest(PRICES, RebalancePolicy(target=TARGET, frequency="W"),
                       CostModel.from_bps(fee_bps=20))
    by_date = res.trades.groupby("date")[["value", "cost"]].sum()
    # after the initial investment of cash, sales pay for purchases and costs
    np.testing.assert_allclose(by_date["value"].iloc[1:] + by_date["cost"].iloc[1:], 0, atol=1e-8)
    assert (res.cash.iloc[1:] == 0).all()


@pytest.mark.parametrize(
    "policy",
    [
        RebalancePolicy(method="erc", frequency="M", lookback=40),
        RebalancePolicy(method="erc", band=0.03, lookback=40),
        RebalancePolicy(method="inverse_volatility", risk_band=0.05, lookback=40,
                        estimator="ewma", half_life=10),
        RebalancePolicy(target=TARGET, volatility_band=0.1, lookback=40),
        RebalancePolicy(method="erc", lookback=40, target_volatility=0.4, volatility_band=0.1),
    ],
)
def test_no_look_ahead(policy):
    cut = 250
    future = PRICES.copy()
    rng = np.random.default_rng(42)
    future.iloc[cut + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.1, (399 - cut, 4)), axis=0))
    base = run_backtest(PRICES, policy)
    moved = run_backtest(future, policy)
    upto = PRICES.index[cut]
    pd.testing.assert_series_equal(base.equity.loc[:upto], moved.equity.loc[:upto])
    pd.testing.assert_frame_equal(base.target_weights.loc[:upto], moved.target_weights.loc[:upto])
    pd.testing.assert_frame_equal(
        base.trades[base.trades["date"] <= upto].reset_index(drop=True),
        moved.trades[moved.trades["date"] <= upto].reset_index(drop=True),
    )
    assert not base.equity.iloc[-1] == moved.equity.iloc[-1]


def test_estimates_match_riskcore_covariance_and_allocation():
    returns = PRICES.pct_change()
    for estimator, half_life in (("sample", None), ("ewma", 12.0)):
        policy = RebalancePolicy(method="erc", frequency="D", lookback=60, estimator=estimator,
                                 half_life=half_life)
        res = run_backtest(PRICES, policy)
        kernel, _ = rolling_covariances(returns.to_numpy(), 60, half_life=half_life)
        for t in (60, 61, 200, 399):
            window = returns.iloc[t - 59 : t + 1]
            ref = covariance(window, method=estimator, half_life=half_life, periods_per_year=365)
            np.testing.assert_allclose(kernel[t] * 365, ref.to_numpy(), rtol=1e-9)
            weights = risk_budget_weights(ref).weights
            np.testing.assert_allclose(res.target_weights.iloc[t], weights.to_numpy(), atol=1e-9)
        assert res.target_weights.iloc[59].isna().all()  # 59 returns are not a full window


def test_erc_keeps_risk_balance_when_rebalanced_daily():
    res = run_backtest(PRICES, RebalancePolicy(method="erc", frequency="D", lookback=60))
    rrc = res.relative_risk_contributions.dropna()
    np.testing.assert_allclose(rrc.to_numpy(), 0.25, atol=1e-8)
    assert res.metrics.risk_balance_error < 1e-8
    monthly = run_backtest(PRICES, RebalancePolicy(method="erc", frequency="M", lookback=60))
    assert monthly.metrics.risk_balance_error > res.metrics.risk_balance_error


def test_risk_budget_over_budget_assets():
    budget = pd.Series({"BTC": 0.5, "ETH": 0.3, "DOGE": 0.2})
    policy = RebalancePolicy(method="risk_budget", budget=budget, frequency="D", lookback=60)
    res = run_backtest(PRICES, policy)
    assert list(res.weights.columns) == ["BTC", "ETH", "DOGE"]
    rrc = res.relative_risk_contributions.dropna()
    np.testing.assert_allclose(rrc.to_numpy(), np.tile(budget.to_numpy(), (len(rrc), 1)),
                               atol=1e-8)
    pd.testing.assert_frame_equal(res.risk_reference.dropna(), rrc * 0 + budget.to_numpy())


def test_volatility_target_holds_cash_sleeve():
    policy = RebalancePolicy(target=TARGET, frequency="D", lookback=60, target_volatility=0.3)
    res = run_backtest(PRICES, policy, CostModel.from_bps(fee_bps=10))
    kernel, _ = rolling_covariances(PRICES.pct_change().to_numpy(), 60)
    invested = res.rebalance_dates
    assert invested[0] == PRICES.index[60]
    for date in invested[[0, 10, -1]]:
        t = PRICES.index.get_loc(date)
        w = res.weights.loc[date].to_numpy()
        assert np.sqrt(w @ kernel[t] @ w * 365) == pytest.approx(0.3, rel=1e-9)
        assert res.cash.loc[date] == pytest.approx(res.equity.loc[date] * (1 - w.sum()))
        np.testing.assert_allclose(w / w.sum(), TARGET.to_numpy(), atol=1e-12)
    assert (res.cash.iloc[60:] > 0).all()
    # a calm target is not levered up
    calm = run_backtest(PRICES, RebalancePolicy(target=TARGET, frequency="D", lookback=60,
                                                target_volatility=5.0))
    assert calm.cash.iloc[60:].abs().max() < 1e-6
    with pytest.raises(RiskcoreError, match="target_volatility is 0"):
        RebalancePolicy(target=TARGET, target_volatility=0)


def test_band_trades_only_on_breach_and_to_band_edge():
    res = run_backtest(PRICES, RebalancePolicy(target=TARGET, band=0.05))
    assert 2 < len(res.rebalance_dates) < 100
    pre = res.holdings.shift(1) * PRICES
    pre_w = pre.div(pre.sum(axis=1), axis=0)
    drift = (pre_w - TARGET).abs().max(axis=1)
    later = res.rebalance_dates[1:]
    assert (drift.loc[later] > 0.05).all()
    quiet = drift.index.difference(res.rebalance_dates)[1:]
    assert (drift.loc[quiet] <= 0.05 + 1e-12).all()
    edge = run_backtest(PRICES, RebalancePolicy(target=TARGET, band=0.05, mode="to_band"))
    date = edge.rebalance_dates[1]
    breached = (pre_w.loc[date] - TARGET).abs() > 0.05
    post = edge.weights.loc[date]
    np.testing.assert_allclose((post - TARGET).abs()[breached], 0.05, atol=1e-12)
    assert edge.turnover < res.turnover


def test_triggers_record_reasons():
    cases = {
        "relative band": RebalancePolicy(target=TARGET, relative_band=0.2),
        "risk band": RebalancePolicy(method="erc", risk_band=0.05, lookback=40),
        "volatility band": RebalancePolicy(target=TARGET, volatility_band=0.05, lookback=40),
        "calendar": RebalancePolicy(target=TARGET, frequency="Q"),
    }
    for reason, policy in cases.items():
        res = run_backtest(PRICES, policy)
        assert len(res.rebalance_dates) > 1, reason
        assert (res.rebalance_reasons.iloc[1:].str.contains(reason)).all(), reason
    quarterly = run_backtest(PRICES, cases["calendar"])
    assert [d.month for d in quarterly.rebalance_dates] == [1, 4, 7, 10, 1]
    assert all(d.day == 1 for d in quarterly.rebalance_dates)


def test_late_listing_enters_after_enough_history():
    prices = PRICES.copy()
    prices.iloc[:150, 2] = np.nan  # SOL lists on day 150
    res = run_backtest(prices, RebalancePolicy(method="erc", frequency="D", lookback=30))
    first_sol = prices.index[150 + 30]  # 31 prices = 30 returns
    assert (res.holdings.loc[: first_sol - pd.Timedelta(days=1), "SOL"] == 0).all()
    assert res.holdings.loc[first_sol, "SOL"] > 0
    assert res.rebalance_dates[0] == prices.index[30]
    fixed = run_backtest(prices, RebalancePolicy(target=TARGET, frequency="M"))
    # fixed targets are renormalized over listed assets; SOL enters at the next month start
    assert fixed.weights.iloc[0]["SOL"] == 0
    assert fixed.weights.iloc[0]["BTC"] == pytest.approx(0.4 / 0.8)
    entry = fixed.holdings.index[fixed.holdings["SOL"] > 0][0]
    assert entry == pd.Timestamp("2021-06-01", tz="UTC")


def test_missing_price_freezes_holding():
    prices = PRICES.copy()
    prices.iloc[100, 3] = np.nan
    res = run_backtest(prices, RebalancePolicy(target=TARGET, frequency="D"))
    assert res.holdings.iloc[100]["DOGE"] == res.holdings.iloc[99]["DOGE"]
    assert res.weights.iloc[101].to_numpy() == pytest.approx(TARGET.to_numpy(), abs=1e-12)


def test_minimum_trade_size_and_impact():
    policy = RebalancePolicy(target=TARGET, frequency="D")
    small = run_backtest(PRICES, policy, CostModel(min_trade=50.0), initial_value=10_000)
    assert (small.trades["value"].abs().iloc[4:] >= 50).all()
    assert small.metrics.n_rebalances < 399
    volume = pd.DataFrame(1e6, index=PRICES.index, columns=ASSETS)
    base = run_backtest(PRICES, policy, CostModel(fee=0.001))
    impact = run_backtest(PRICES, policy, CostModel(fee=0.001, impact=0.1), volume=volume)
    assert impact.costs.sum() > base.costs.sum()


def test_threshold_sweep():
    policy = RebalancePolicy(method="erc", band=0.0, lookback=40)
    seen = []
    grid = [0.0, 0.02, 0.05, np.inf]
    table = threshold_sweep(PRICES, policy, grid, CostModel.from_bps(fee_bps=10),
                            progress=lambda done, total: seen.append((done, total)))
    assert list(table.index) == grid
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert table["n_rebalances"].iloc[-1] == 0
    assert table["costs_paid"].iloc[0] > table["costs_paid"].iloc[2] > table["costs_paid"].iloc[3]
    assert table["risk_balance_error"].iloc[0] < table["risk_balance_error"].iloc[-1]
    single = run_backtest(PRICES, RebalancePolicy(method="erc", band=0.02, lookback=40),
                          CostModel.from_bps(fee_bps=10))
    assert table.loc[0.02, "final_equity"] == pytest.approx(single.equity.iloc[-1], rel=1e-12)


def test_metrics_are_from_first_investment():
    res = run_backtest(PRICES, RebalancePolicy(method="erc", frequency="M", lookback=60))
    assert res.equity.iloc[:60].eq(10_000).all()
    assert res.metrics.total_return == pytest.approx(res.equity.iloc[-1] / 10_000 - 1)


def test_errors():
    with pytest.raises(RiskcoreError, match="method 'magic' is unknown; allowed: 'fixed'"):
        RebalancePolicy(method="magic")
    with pytest.raises(RiskcoreError, match="method 'fixed' needs target weights"):
        RebalancePolicy(method="fixed")
    with pytest.raises(RiskcoreError, match="frequency 'Y' is unknown; allowed: 'D', 'W'"):
        RebalancePolicy(target=TARGET, frequency="Y")
    with pytest.raises(RiskcoreError, match="band is -0.1; it must be >= 0"):
        RebalancePolicy(target=TARGET, band=-0.1)
    with pytest.raises(RiskcoreError, match="estimator 'lw' is unknown"):
        RebalancePolicy(estimator="lw")
    with pytest.raises(RiskcoreError, match="lookback is 1; it must be an integer >= 2"):
        RebalancePolicy(lookback=1)
    with pytest.raises(RiskcoreError, match="used only by method 'risk_budget', not 'erc'"):
        RebalancePolicy(method="erc", budget=TARGET)
    with pytest.raises(RiskcoreError, match="half_life is 0"):
        RebalancePolicy(estimator="ewma", half_life=0)
    with pytest.raises(RiskcoreError, match="rebalancing mode 'half'"):
        RebalancePolicy(target=TARGET, band=0.1, mode="half")
    with pytest.raises(RiskcoreError, match="target weights sum to 1.1"):
        RebalancePolicy(target=TARGET * 1.1)
    with pytest.raises(DataError, match="no price column for ADA"):
        run_backtest(PRICES, RebalancePolicy(target=pd.Series({"BTC": 0.5, "ADA": 0.5})))
    bad = PRICES.copy()
    bad.iloc[3, 1] = -1.0
    with pytest.raises(DataError, match="price of ETH is -1.0 at 2021-01-04"):
        run_backtest(bad, RebalancePolicy(target=TARGET))
    with pytest.raises(DataError, match="never invested"):
        run_backtest(PRICES.iloc[:50], RebalancePolicy(method="erc", lookback=60))
    with pytest.raises(RiskcoreError, match="initial_value is 0"):
        run_backtest(PRICES, RebalancePolicy(target=TARGET), initial_value=0)
    with pytest.raises(RiskcoreError, match="trigger 'calendar' is unknown"):
        threshold_sweep(PRICES, RebalancePolicy(target=TARGET), [0.1], trigger="calendar")
    with pytest.raises(DataError, match="sorted and unique"):
        run_backtest(PRICES.iloc[::-1], RebalancePolicy(target=TARGET))
