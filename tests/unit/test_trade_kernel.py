"""The compiled trading loop (riskcore._trade_kernel) gives the Python loop's results.

Each case runs the same preparation twice, compiled and with ``_USE_KERNEL`` switched off,
and compares equity, cash, holdings, values, costs, turnover, rebalance dates and reasons,
trades and notes, on synthetic panels (gaps, listings, delistings, carried-forward prices,
zero volume, band hits in every mode, every trigger) and on the 14 real Yahoo coins.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("numba")

from riskcore import _trade_kernel, backtest  # noqa: E402
from riskcore.backtest import (  # noqa: E402
    RebalancePolicy,
    prepare_backtest,
    simulate_backtest,
    threshold_sweep,
)
from riskcore.ingest import load_files  # noqa: E402
from riskcore.perp_sim import PerpetualSettings  # noqa: E402
from riskcore.rebalance import CostModel  # noqa: E402
from riskcore.spec import PortfolioSpec  # noqa: E402

YAHOO = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "yahoo-daily"
ASSETS = ["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "ADA-USD", "USDT-USD"]
RTOL = 1e-10


def make_panel(n_days=420, seed=7):
    """Prices with a late listing, a delisting, price gaps, and a stablecoin."""
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n_days, tz="UTC", name="date")
    vols = np.array([0.03, 0.04, 0.06, 0.07, 0.05, 0.0005])
    corr = 0.4 * np.ones((6, 6)) + 0.6 * np.eye(6)
    chol = np.linalg.cholesky(corr * np.outer(vols, vols))
    shocks = rng.standard_normal((n_days, 6)) @ chol.T
    prices = pd.DataFrame(100 * np.exp(np.cumsum(shocks, axis=0)), index=index, columns=ASSETS)
    prices.iloc[:150, 2] = np.nan  # SOL lists on day 150
    prices.iloc[330:, 3] = np.nan  # DOGE's data end on day 329
    prices.iloc[200:204, 1] = np.nan  # ETH: 4 days without a price (valued, not traded)
    prices.iloc[260, 4] = np.nan  # ADA: 1 day
    return prices


PRICES = make_panel()
TRADABLE = PRICES.notna()
TRADABLE.iloc[240:243, 0] = False  # BTC: a carried-forward price made by cleaning
VOLUME = pd.DataFrame(2e6, index=PRICES.index, columns=ASSETS)
VOLUME.iloc[::5, 1] = 0.0  # ETH: zero volume every 5th day (impact skipped)
VOLUME.iloc[60:260, 4] = 50.0  # ADA: a collapsed volume (participation cap)
COSTS = CostModel(fee=0.001, half_spread=0.0005, impact=0.05, min_trade=25.0)


def both(prepared, policy=None, costs=None, **kwargs):
    """Run a prepared backtest compiled and in Python."""
    compiled = simulate_backtest(prepared, policy, costs, **kwargs)
    _trade_kernel._USE_KERNEL = False
    try:
        python = simulate_backtest(prepared, policy, costs, **kwargs)
    finally:
        _trade_kernel._USE_KERNEL = True
    return compiled, python


def assert_same(a, b):
    np.testing.assert_allclose(a.equity.to_numpy(), b.equity.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(a.cash.to_numpy(), b.cash.to_numpy(), rtol=RTOL,
                               atol=RTOL * b.equity.max())
    for name in ("holdings", "weights"):
        np.testing.assert_allclose(getattr(a, name).to_numpy(), getattr(b, name).to_numpy(),
                                   rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(a.costs.to_numpy(), b.costs.to_numpy(), rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(a.turnover_by_date.to_numpy(), b.turnover_by_date.to_numpy(),
                               rtol=RTOL, atol=1e-15)
    pd.testing.assert_index_equal(a.rebalance_dates, b.rebalance_dates)
    pd.testing.assert_series_equal(a.rebalance_reasons, b.rebalance_reasons)
    pd.testing.assert_frame_equal(a.trades, b.trades, check_exact=False, rtol=RTOL, atol=1e-10)
    np.testing.assert_allclose(a.relative_risk_contributions.to_numpy(),
                               b.relative_risk_contributions.to_numpy(), rtol=1e-8, atol=1e-12)
    assert a.notes == b.notes
    assert a.turnover == pytest.approx(b.turnover, rel=RTOL)
    assert a.metrics.risk_balance_error == pytest.approx(b.metrics.risk_balance_error,
                                                         rel=RTOL, abs=1e-14)


TRIGGERS = [
    {"band": 0.02},
    {"band": 0.0},
    {"relative_band": 0.15},
    {"risk_band": 0.04},
    {"volatility_band": 0.08},
    {"frequency": "W"},
    {"frequency": "M", "band": 0.05, "relative_band": 0.4, "risk_band": 0.1},
    {"band": np.inf},
    {},
]


@pytest.mark.parametrize("mode", ["to_target", "to_band", "breached_only"])
@pytest.mark.parametrize("triggers", TRIGGERS, ids=lambda t: "+".join(t) or "buy-and-hold")
def test_policies_on_a_panel_with_gaps_listings_and_delistings(triggers, mode):
    policy = RebalancePolicy(method="erc", lookback=40, mode=mode, **triggers)
    prepared = prepare_backtest(PRICES, policy, tradable=TRADABLE, daily_targets=True)
    a, b = both(prepared, None, COSTS, volume=VOLUME, initial_value=50_000.0)
    assert_same(a, b)
    if triggers.get("band") == 0.02:  # the case exercises what it is meant to
        reasons = set("+".join(a.rebalance_reasons).split("+"))
        assert {"initial", "band", "data end"} <= reasons
        assert any("participation" in n for n in a.notes)
        assert (a.trades.asset == "SOL-USD").any()


@pytest.mark.parametrize("costs", [CostModel(), CostModel(fee=0.002),
                                   CostModel(fee=0.001, min_trade=400.0),
                                   CostModel(half_spread=0.001, impact=0.2,
                                             max_participation=0.01, missing_volume="last")],
                         ids=["free", "fee", "min-trade", "impact-capped"])
@pytest.mark.parametrize("policy", [
    RebalancePolicy(target=pd.Series([0.3, 0.3, 0.2, 0.1, 0.1], index=ASSETS[:5]), band=0.03,
                    mode="to_band"),
    RebalancePolicy(method="inverse_volatility", lookback=30, relative_band=0.25,
                    mode="breached_only"),
    RebalancePolicy(method="equal_weight", frequency="D"),
    RebalancePolicy(method="erc", lookback=40, target_volatility=0.3, cash="USDT-USD",
                    stablecoins="sleeve", volatility_floor=0.05, volatility_band=0.1, band=0.04),
    RebalancePolicy(method="erc", lookback=40, target_volatility=0.25, risk_band=0.05,
                    mode="to_band"),
], ids=["fixed", "inverse-vol", "equal-daily", "vol-target-sleeve", "vol-target-cash"])
def test_targets_and_costs(policy, costs):
    prepared = prepare_backtest(PRICES, policy, tradable=TRADABLE)
    assert_same(*both(prepared, None, costs, volume=VOLUME, initial_value=20_000.0))


def test_specs_with_the_fast_path_and_a_window_start():
    spec = PortfolioSpec(method="risk_budget", lookback=45, band=0.03, mode="to_band",
                         costs=COSTS, start=PRICES.index[120])
    prepared = prepare_backtest(PRICES, spec, tradable=TRADABLE)
    for variant in (spec, replace(spec, band=None, relative_band=0.2),
                    replace(spec, mode="breached_only", risk_band=0.03)):
        assert_same(*both(prepared, variant, volume=VOLUME))


@pytest.fixture(scope="module")
def yahoo():
    files = [(f.name, f.read_bytes()) for f in sorted(YAHOO.glob("*.csv"))]
    if not files:
        pytest.skip("no real data in ../shared/data/yahoo-daily")
    return load_files(files).prices


@pytest.mark.parametrize("triggers", [
    {"band": 0.0}, {"band": 0.03, "mode": "to_band"}, {"relative_band": 0.2},
    {"risk_band": 0.03, "mode": "breached_only"}, {"volatility_band": 0.1},
    {"frequency": "M", "band": 0.1},
], ids=lambda t: "+".join(f"{k}={v}" for k, v in t.items()))
def test_real_fourteen_coins_with_listings(yahoo, triggers):
    spec = PortfolioSpec(method="risk_budget", lookback=90, **triggers)
    volume = pd.DataFrame(5e6, index=yahoo.index, columns=yahoo.columns)
    prepared = prepare_backtest(yahoo, spec)
    a, b = both(prepared, spec, COSTS, volume=volume, initial_value=1e6)
    assert_same(a, b)
    assert len(a.rebalance_dates) > 3


def test_sweep_rows_match_the_python_loop_and_single_runs(yahoo):
    spec = PortfolioSpec(method="risk_budget", band=0.0, lookback=90)
    costs = CostModel.from_bps(fee_bps=10, half_spread_bps=5)
    grid = [0.0, 0.01, 0.05, 0.2, np.inf]
    compiled = threshold_sweep(yahoo, spec, grid, costs, initial_value=1e6)
    _trade_kernel._USE_KERNEL = False
    try:
        python = threshold_sweep(yahoo, spec, grid, costs, initial_value=1e6)
    finally:
        _trade_kernel._USE_KERNEL = True
    pd.testing.assert_frame_equal(compiled, python, check_exact=False, rtol=RTOL, atol=1e-14)
    for x in (0.01, 0.2):
        run = simulate_backtest(prepare_backtest(yahoo, spec), replace(spec, band=x), costs,
                                initial_value=1e6)
        row = compiled.loc[x]
        for name in ("turnover", "annualized_turnover", "costs_paid", "cost_drag",
                     "risk_balance_error", "annualized_return", "annualized_volatility",
                     "max_drawdown"):
            assert row[name] == pytest.approx(getattr(run.metrics, name), rel=RTOL)
        assert row["n_rebalances"] == run.metrics.n_rebalances
        assert row["final_equity"] == pytest.approx(run.equity.iloc[-1], rel=RTOL)


@pytest.mark.parametrize("trigger", ["relative_band", "risk_band", "volatility_band"])
def test_sweep_over_each_trigger(trigger):
    policy = RebalancePolicy(method="erc", lookback=40)
    grid = [0.0, 0.05, 0.3]
    compiled = threshold_sweep(PRICES, policy, grid, COSTS, trigger=trigger, volume=VOLUME,
                               tradable=TRADABLE)
    _trade_kernel._USE_KERNEL = False
    try:
        python = threshold_sweep(PRICES, policy, grid, COSTS, trigger=trigger, volume=VOLUME,
                                 tradable=TRADABLE)
    finally:
        _trade_kernel._USE_KERNEL = True
    pd.testing.assert_frame_equal(compiled, python, check_exact=False, rtol=RTOL, atol=1e-14)


def test_one_dispatch_compiled_unless_lazy_or_perpetual(monkeypatch):
    spec = PortfolioSpec(method="risk_budget", lookback=40, band=0.05)
    prepared = prepare_backtest(PRICES, spec)
    calls = []
    real = backtest._python_loop
    monkeypatch.setattr(backtest, "_python_loop",
                        lambda *a, **k: calls.append("python") or real(*a, **k))
    simulate_backtest(prepared, replace(spec, band=0.02))  # a band change: compiled
    assert calls == []
    simulate_backtest(prepared, perpetuals=PerpetualSettings(instruments={"BTC-USD": "perpetual"}))
    assert calls == ["python"]
    es = PortfolioSpec(method="risk_budget", risk_measure="historical_es", lookback=40, band=0.05)
    simulate_backtest(prepare_backtest(PRICES.iloc[:160], es))  # lazy decisions
    assert calls == ["python", "python"]


def test_a_failed_cost_fixed_point_reruns_in_python(monkeypatch):
    policy = RebalancePolicy(method="erc", lookback=40, band=0.02)
    prepared = prepare_backtest(PRICES, policy)
    expected = simulate_backtest(prepared, None, COSTS)
    monkeypatch.setattr(_trade_kernel, "simulate", lambda *args: (5, 0))
    assert_same(simulate_backtest(prepared, None, COSTS), expected)


def test_pairwise_sum_is_numpy_sum_bit_for_bit():
    _trade_kernel.load()
    rng = np.random.default_rng(3)
    for m in [0, 1, 7, 8, 9, 14, 16, 127, 128, 129, 300, 1000]:
        a = rng.standard_normal(m) * 10.0 ** rng.integers(-6, 6, m)
        assert _trade_kernel._psum(a, m) == a.sum()
