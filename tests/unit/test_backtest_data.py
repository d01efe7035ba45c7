"""The simulator on real-world data: zero volume, window start, listings, delistings,
carried-forward prices, benchmarks that cannot run, and the real mixed upload (issue 8)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.backtest import (
    RebalancePolicy,
    benchmark_backtests,
    run_backtest,
    tradable_from_cleaning,
)
from riskcore.errors import RiskcoreError
from riskcore.ingest import load_files
from riskcore.quality import QualityPolicy, clean_prices
from riskcore.rebalance import CostModel, plan_trade_values
from riskcore.spec import PortfolioSpec

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
ASSETS = ["BTC-USD", "ETH-USD", "SOL-USD"]


def make_prices(n_days=300, seed=42):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n_days, tz="UTC", name="date")
    shocks = rng.normal(0.0, 0.04, (n_days, len(ASSETS)))
    return pd.DataFrame(100 * np.exp(np.cumsum(shocks, axis=0)), index=index, columns=ASSETS)


PRICES = make_prices()
COSTS = CostModel(fee=0.001, impact=0.1)


def test_zero_volume_gives_finite_costs_and_a_note_naming_the_coin_and_days():
    volume = pd.DataFrame(1e6, index=PRICES.index, columns=ASSETS)
    volume.iloc[::3, 1] = 0.0  # ETH-USD: 100 days of zero volume
    volume.iloc[5:10, 2] = np.nan  # SOL-USD: 5 days missing
    res = run_backtest(PRICES, RebalancePolicy(target=pd.Series(1 / 3, index=ASSETS),
                                               frequency="D"), COSTS, volume=volume)
    assert np.isfinite(res.costs).all() and res.costs.sum() > 0
    assert np.isfinite(res.metrics.annualized_return)
    assert any("ETH-USD: volume zero or missing on 100 of 300" in n and "skipped" in n
               for n in res.notes)
    assert any("SOL-USD: volume zero or missing on 5 of 300" in n for n in res.notes)
    # skipped impact: those days pay only the fee
    zero_day = PRICES.index[3]
    eth = res.trades[(res.trades.date == zero_day) & (res.trades.asset == "ETH-USD")]
    assert eth.cost.iloc[0] == pytest.approx(0.001 * abs(eth.value.iloc[0]), rel=1e-12)


def test_last_valid_volume_option_charges_impact_with_the_previous_volume():
    volume = pd.DataFrame(1e6, index=PRICES.index, columns=ASSETS)
    volume.iloc[3, 1] = 0.0
    costs = CostModel(fee=0.001, impact=0.1, missing_volume="last")
    res = run_backtest(PRICES, RebalancePolicy(target=pd.Series(1 / 3, index=ASSETS),
                                               frequency="D"), costs, volume=volume)
    eth = res.trades[(res.trades.date == PRICES.index[3]) & (res.trades.asset == "ETH-USD")]
    size = abs(eth.value.iloc[0])
    assert eth.cost.iloc[0] == pytest.approx(size * (0.001 + 0.1 * np.sqrt(size / 1e6)))
    assert any("ETH-USD" in n and "last valid volume" in n for n in res.notes)


def test_stale_tiny_volume_is_capped_and_the_cost_solver_converges():
    # 1 USD of daily volume (a stale or quantized file) used to make the cost exceed the trade
    values, cash = np.zeros(2), 1e6
    costs = CostModel(fee=0.001, impact=0.01)
    trades, cost, _ = plan_trade_values(values, cash, np.array([0.5, 0.5]), costs,
                                        np.array([1.0, 1e9]))
    assert np.isfinite(cost).all() and cost.sum() < 0.02 * cash
    assert cost[0] == pytest.approx(trades[0] * (0.001 + 0.01), rel=1e-9)


def test_cost_model_refuses_costs_that_cannot_be_solved():
    with pytest.raises(RiskcoreError, match=r"must stay below 1 \(decimals, not basis points\)"):
        CostModel(fee=10.0)
    with pytest.raises(RiskcoreError, match="missing_volume is 'zero'; allowed: 'skip', 'last'"):
        CostModel(missing_volume="zero")


def test_start_is_respected_and_estimates_use_earlier_data():
    policy = RebalancePolicy(method="erc", frequency="M", lookback=60)
    start = "2021-05-15"
    res = run_backtest(PRICES, policy, start=start)
    assert res.equity.index[0] == pd.Timestamp(start, tz="UTC")
    assert res.rebalance_dates[0] == pd.Timestamp(start, tz="UTC")
    assert res.rebalance_reasons.iloc[0] == "initial"
    # the target at the start is the one estimated on the 60 returns before it
    daily = run_backtest(PRICES, RebalancePolicy(method="erc", frequency="D", lookback=60))
    np.testing.assert_allclose(res.target_weights.iloc[0], daily.target_weights.loc[start],
                               atol=1e-10)
    assert any("starts on 2021-05-15" in n for n in res.notes)
    with pytest.raises(RiskcoreError, match="start 2030-01-01 leaves fewer than 2 dates"):
        run_backtest(PRICES, policy, start="2030-01-01")


def test_no_trade_is_ever_made_at_a_carried_forward_price():
    raw = PRICES.copy()
    gap = raw.index[100:104]
    raw.loc[gap, "SOL-USD"] = np.nan
    cleaned = clean_prices(raw, QualityPolicy(missing="ffill"))
    assert cleaned.prices.loc[gap, "SOL-USD"].notna().all()  # filled
    mask = tradable_from_cleaning(cleaned.prices, cleaned.actions)
    assert not mask.loc[gap, "SOL-USD"].any() and mask.loc[gap, "BTC-USD"].all()
    for prices, tradable in [(raw, None), (cleaned.prices, mask)]:
        res = run_backtest(prices, RebalancePolicy(target=pd.Series(1 / 3, index=ASSETS),
                                                   frequency="D"), COSTS,
                           tradable=tradable)
        sol = res.trades[res.trades.asset == "SOL-USD"]
        assert not sol.date.isin(gap).any()
        assert res.trades.date.isin(gap).any()  # the others still trade
        held = res.holdings.loc[gap, "SOL-USD"]
        assert (held == held.iloc[0]).all()  # the holding waits for a real price
        assert any("SOL-USD (4 days)" in n for n in res.notes)


def test_listing_after_start_and_data_end_sell_at_the_last_real_close():
    prices = PRICES.copy()
    prices.iloc[:50, 2] = np.nan  # SOL lists on day 50
    prices.iloc[200:, 1] = np.nan  # ETH's data end on day 199
    res = run_backtest(prices, RebalancePolicy(method="equal_weight", frequency="M"), COSTS)
    eth_end = prices.index[199]
    sold = res.trades[(res.trades.asset == "ETH-USD") & (res.trades.date == eth_end)]
    assert len(sold) == 1 and sold.value.iloc[0] < 0
    assert "data end" in res.rebalance_reasons.loc[eth_end]
    assert (res.holdings.loc[eth_end:, "ETH-USD"] == 0).all()
    assert res.trades[res.trades.asset == "ETH-USD"].date.max() == eth_end
    assert res.trades[res.trades.asset == "SOL-USD"].date.min() >= prices.index[50]
    assert any("ETH-USD (" + f"{eth_end:%Y-%m-%d}" in n for n in res.notes)
    assert any("SOL-USD (" + f"{prices.index[50]:%Y-%m-%d})" in n for n in res.notes)


def test_a_benchmark_that_cannot_run_says_why():
    policy = RebalancePolicy(method="erc", frequency="M", lookback=30)
    no_btc = PRICES.drop(columns="BTC-USD")
    res = run_backtest(no_btc, policy)
    bench = benchmark_backtests(no_btc, res)
    assert set(bench.runs) == {"buy and hold", "equal weight, monthly"}
    assert bench.notes == ("BTC alone: not computed: no Bitcoin column (base symbol BTC or "
                           "XBT) among the selected coins.",)
    late = PRICES.copy()
    late.iloc[:100, 0] = np.nan  # BTC lists after the run starts
    res = run_backtest(late, policy, start="2021-02-15")
    bench = benchmark_backtests(late, res)
    assert "BTC-USD alone" not in bench.runs
    assert bench.notes[0].startswith("BTC alone: not computed: BTC-USD has no price on "
                                     "2021-02-15, the run's start (its prices run 2021-04-11")
    ok = benchmark_backtests(PRICES, run_backtest(PRICES, policy))
    assert list(ok.runs) == ["buy and hold", "equal weight, monthly", "BTC-USD alone"]
    assert ok.notes == ()


def mixed_upload():
    daily = [f for f in sorted((DATA / "uploads").glob("*.csv")) if "-1h-" not in f.name]
    files = [(f.name, f.read_bytes()) for f in daily]
    files += [(f.name, f.read_bytes()) for f in sorted((DATA / "yahoo-daily").glob("*.csv"))]
    assert len(files) == 11 + 14
    return load_files(files, frequency="daily")


@pytest.mark.parametrize("start", ["2021-01-01", None])
def test_real_mixed_upload_with_default_settings_gives_finite_metrics(start):
    loaded = mixed_upload()
    cleaned = clean_prices(loaded.prices, QualityPolicy(nonpositive="drop"))  # page default
    prices = cleaned.prices.dropna(how="all")
    volume = loaded.volume.reindex(index=prices.index)
    # the Allocation and simulator pages' defaults
    spec = PortfolioSpec(
        method="risk_budget", lookback=365, stablecoins="sleeve", volatility_floor=0.05,
        band=0.05, start=start,
        costs=CostModel.from_bps(fee_bps=10, half_spread_bps=5, impact_bps=100,
                                 min_trade_usd=10))
    res = run_backtest(prices, spec, volume=volume, initial_value=100_000.0,
                       tradable=tradable_from_cleaning(prices, cleaned.actions))
    m = res.metrics
    for value in (m.total_return, m.annualized_return, m.annualized_volatility,
                  m.max_drawdown, m.costs_paid, m.risk_balance_error):
        assert np.isfinite(value)
    # coins without usable volume trade without market impact, and the notes say which
    assert any("volume zero or missing" in n or "no volume in the data" in n
               for n in res.notes)
    bench = benchmark_backtests(prices, res, volume=volume, initial_value=100_000.0)
    assert len(bench.runs) == 3 and bench.notes == ()
    for run in [res, *bench.runs.values()]:
        assert np.isfinite(run.metrics.total_return)
    if start is not None:  # a few years: costs stay below the initial value
        assert 0 < m.costs_paid < 100_000.0
        assert all(r.metrics.costs_paid < 100_000.0 for r in bench.runs.values())
    else:  # from 2014 on, equity grows ~1,000x, and costs with it; they stay a small drag
        assert m.costs_paid < 0.05 * res.equity.iloc[-1]


def test_cost_solver_failure_names_the_trade_and_why():
    from riskcore.errors import ConvergenceError

    costs = CostModel(fee=0.001, impact=0.5)
    with pytest.raises(ConvergenceError, match=r"the buy of [\d,.]+ USD of SOL-USD costs "
                                               r"[\d,.]+ USD \([\d.]+% of its value\) against "
                                               r"a daily volume of 1,000 USD"):
        plan_trade_values(np.zeros(2), 1e6, np.array([0.5, 0.5]), costs,
                          np.array([1e12, 1e3]), names=["BTC-USD", "SOL-USD"], max_iter=1)
