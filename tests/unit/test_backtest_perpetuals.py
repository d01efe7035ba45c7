"""The rebalancing simulator charges funding on perpetuals and flags margin breaches (issue 11,
item 5): hand-computed funding, spot-only runs unchanged, a levered crash that breaches."""

import numpy as np
import pandas as pd
import pytest

from riskcore.backtest import RebalancePolicy, run_backtest
from riskcore.book import funding_rate_per_interval, read_funding_history
from riskcore.errors import DataError
from riskcore.perp_sim import PerpetualSettings, funding_per_period
from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec
from tests.unit.test_backtest_spec import PRICES

E0 = 10_000.0


def flat(n=30, price=100.0, assets=("BTC-USD",)):
    index = pd.date_range("2024-01-01", periods=n, tz="UTC", name="date")
    return pd.DataFrame(price, index=index, columns=list(assets))


def hold(prices, **kw):
    target = pd.Series(1.0 / prices.shape[1], index=prices.columns)
    return RebalancePolicy(target=target, **kw)


# ----------------------------------------------------------------------------- funding
@pytest.mark.parametrize("rate", [0.0001, -0.0003])
def test_buy_and_hold_perpetual_pays_rate_times_notional_every_interval(rate):
    prices = flat()
    perp = PerpetualSettings({"BTC": "perpetual"}, funding_rate=rate, interval_hours=8)
    res = run_backtest(prices, hold(prices), initial_value=E0, perpetuals=perp)
    days = np.arange(len(prices))
    # constant price, constant units: notional E0, 3 fundings a day; positive rate = longs pay
    np.testing.assert_allclose(res.equity.to_numpy(), E0 - 3 * rate * E0 * days, rtol=1e-13)
    np.testing.assert_allclose(res.funding.iloc[1:], 3 * rate * E0, rtol=1e-13)
    assert res.funding.iloc[0] == 0.0
    assert (res.equity.iloc[-1] < E0) == (rate > 0)
    assert res.funding.sum() == pytest.approx(E0 - res.equity.iloc[-1], rel=1e-12)


def test_daily_rebalanced_perpetual_compounds_the_funding():
    prices = flat()
    rate = 0.0002
    perp = PerpetualSettings({"BTC-USD": "perpetual"}, funding_rate=rate, interval_hours=1)
    res = run_backtest(prices, hold(prices, frequency="D"), initial_value=E0, perpetuals=perp)
    # notional resized to equity every day, 24 fundings of 1 h: E_t = E0 (1 - 24 r)^t
    expected = E0 * (1 - 24 * rate) ** np.arange(len(prices))
    np.testing.assert_allclose(res.equity.to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(res.weights["BTC-USD"].iloc[1:], 1.0, rtol=1e-12)


def test_annualized_rate_and_interval_give_the_same_daily_charge():
    prices = flat()
    annual = 0.1095  # 10.95% a year = 0.03% a day
    for hours in (1.0, 4.0, 8.0):
        perp = PerpetualSettings({"BTC": "perpetual"}, interval_hours=hours,
                                 funding_rate=funding_rate_per_interval(annual, hours))
        res = run_backtest(prices, hold(prices), initial_value=E0, perpetuals=perp)
        np.testing.assert_allclose(res.funding.iloc[1:], annual / 365 * E0, rtol=1e-12)


def test_funding_history_charges_the_events_of_each_period():
    prices = flat(10)
    # events every 8 h from 2024-01-02 00:00: bar 2024-01-02 closes on 2024-01-03 00:00
    when = pd.date_range("2024-01-02 08:00", periods=9, freq="8h", tz="UTC")
    text = "date,underlying,rate\n" + "\n".join(
        f"{t:%Y-%m-%dT%H:%M:%SZ},BTCUSDT,{r}" for t, r in zip(when, [1e-4, 2e-4, 3e-4] * 3,
                                                              strict=True))
    history = read_funding_history(text).history
    settings = PerpetualSettings({"BTC": "perpetual"}, funding_history=history,
                                 funding_rate=0.00005, interval_hours=8)
    rates, note = funding_per_period(settings, "BTC-USD", prices.index)
    # period 2024-01-02 (close 01-03 00:00) holds events 08:00, 16:00 and 00:00 of 01-03
    np.testing.assert_allclose(rates[1:4], [6e-4, 6e-4, 6e-4], rtol=1e-12)
    # periods before the history... none ends before its first event except the first date;
    # after it, the constant rate: 3 x 0.5 bp a day
    np.testing.assert_allclose(rates[4:], 3 * 0.00005, rtol=1e-12)
    assert "does not cover 6 of 9 periods" in note and "constant rate" in note
    res = run_backtest(prices, hold(prices), initial_value=E0,
                       perpetuals=settings)
    np.testing.assert_allclose(res.funding.to_numpy(), rates * E0, rtol=1e-12)
    assert any("does not cover" in n for n in res.notes)


# ----------------------------------------------------------------------------- unchanged
def test_without_perpetuals_the_result_is_unchanged():
    spec = PortfolioSpec(lookback=60, frequency="M", band=0.05, method="risk_budget",
                         costs=CostModel(fee=0.001))
    base = run_backtest(PRICES, spec)
    spot = run_backtest(PRICES, spec, perpetuals=PerpetualSettings(
        {a: "spot" for a in PRICES.columns}, funding_rate=0.001, interval_hours=8))
    for name in ("equity", "cash", "weights", "holdings", "costs", "trades"):
        pd.testing.assert_frame_equal(pd.DataFrame(getattr(base, name)),
                                      pd.DataFrame(getattr(spot, name)), check_exact=True)
    assert base.funding is None and base.margin_breaches is None
    assert (spot.funding == 0).all() and spot.margin_breaches.empty
    # spot needs no margin by default: the excess is the equity
    np.testing.assert_array_equal(spot.margin_excess.to_numpy(), spot.equity.to_numpy())


def test_a_perpetual_without_funding_has_the_pnl_of_spot():
    spec = PortfolioSpec(lookback=60, frequency="M", method="inverse_volatility")
    base = run_backtest(PRICES, spec)
    perp = run_backtest(PRICES, spec, perpetuals=PerpetualSettings(
        {"BTC": "perpetual", "ETH-USD": "perpetual"}, funding_rate=0.0))
    pd.testing.assert_series_equal(base.equity, perp.equity, check_exact=True)
    assert (perp.maintenance_margin > 0).iloc[-1]


# ----------------------------------------------------------------------------- margin
def crash_prices():
    """40 days alternating 100 / 100.5 (a calm coin), then -20%, -10%, back to 80."""
    calm = [100.0 if i % 2 == 0 else 100.5 for i in range(40)]
    path = calm + [80.0, 72.0, 80.0, 80.0]
    index = pd.date_range("2024-01-01", periods=len(path), tz="UTC", name="date")
    return pd.DataFrame({"AAA-USD": path}, index=index)


def test_a_levered_perpetual_breaches_maintenance_margin_on_the_hand_computed_date():
    prices = crash_prices()
    # volatility ~9% a year against a 100% target: the scale stops at the 3x leverage cap
    spec = PortfolioSpec(method="equal_weight", lookback=30, target_volatility=1.0,
                         max_leverage=3.0, start=prices.index[30])
    perp = PerpetualSettings({"AAA": "perpetual"}, margin_rates={"linear_perpetual": 0.1})
    res = run_backtest(prices, spec, initial_value=E0, perpetuals=perp)
    assert res.rebalance_dates[0] == prices.index[30]
    units = res.holdings["AAA-USD"]
    assert units.iloc[-1] == pytest.approx(3 * E0 / 100, rel=1e-12)  # 3x at price 100
    # by hand (units u = 300): at 80 equity 10,000 - 300*20 = 4,000, margin 0.1*300*80 =
    # 2,400 (excess 1,600); at 72 equity 10,000 - 300*28 = 1,600, margin 2,160 -> -560
    crash = prices.index[41]
    assert res.margin_breaches.equals(pd.DatetimeIndex([crash], name="date"))
    assert res.margin_excess[crash] == pytest.approx(-560.0, rel=1e-9)
    assert res.margin_excess[prices.index[40]] == pytest.approx(1_600.0, rel=1e-9)
    assert res.margin_excess[prices.index[42]] == pytest.approx(1_600.0, rel=1e-9)
    assert any("fell below maintenance margin on 1 date" in n and "2024-02-11" in n
               for n in res.notes)
    # held as spot (margin rate 0 by default) the same path breaches nothing
    spot = run_backtest(prices, spec, initial_value=E0, perpetuals=PerpetualSettings())
    assert spot.margin_breaches.empty
    pd.testing.assert_series_equal(spot.equity, res.equity, check_exact=True)


def test_margin_is_checked_before_the_close_trades():
    """A daily rebalance deleverages at the crash close, but the positions carried into the
    close breached first."""
    prices = crash_prices()
    spec = PortfolioSpec(method="equal_weight", lookback=30, target_volatility=1.0,
                         max_leverage=3.0, start=prices.index[30], frequency="D")
    perp = PerpetualSettings({"AAA": "perpetual"}, margin_rates={"linear_perpetual": 0.1})
    res = run_backtest(prices, spec, initial_value=E0, perpetuals=perp)
    day, crash = prices.index[39], prices.index[40]
    units, price = res.holdings.loc[day, "AAA-USD"], prices.loc[day, "AAA-USD"]
    assert units * price == pytest.approx(3 * res.equity[day], rel=1e-9)  # 3x, resized daily
    # the units carried into the crash close: equity + u (80 - p), margin 0.1 u 80
    before = res.equity[day] + units * (80.0 - price) - 0.1 * units * 80.0
    assert res.margin_excess[crash] == pytest.approx(before, rel=1e-9)
    assert res.holdings.loc[crash, "AAA-USD"] < units  # deleveraged at the close
    assert res.margin_excess[crash] < res.equity[crash] - res.maintenance_margin[crash]


# ----------------------------------------------------------------------------- errors
def test_bad_settings_name_the_coin_and_what_is_allowed():
    with pytest.raises(DataError, match="instrument for BTC is 'future'; allowed: spot, perp"):
        PerpetualSettings({"BTC": "future"})
    with pytest.raises(DataError, match="funding interval is 0 hours"):
        PerpetualSettings({"BTC": "perpetual"}, funding_rate=0.0001, interval_hours=0)
    with pytest.raises(DataError, match="funding rate for BTC is nan"):
        PerpetualSettings({"BTC": "perpetual"}, funding_rate={"BTC": float("nan")})
    with pytest.raises(DataError, match="margin rate for linear_perpetual is 2"):
        PerpetualSettings(margin_rates={"linear_perpetual": 2})
    prices = flat(assets=("BTC-USD", "USDT-USD"))
    with pytest.raises(DataError, match="USDT-USD: a stablecoin is cash"):
        run_backtest(prices, hold(prices), perpetuals=PerpetualSettings({"USDT": "perpetual"}))
    with pytest.raises(DataError, match="name SOL, not in the simulation"):
        run_backtest(prices, hold(prices), perpetuals=PerpetualSettings({"SOL": "perpetual"}))
    with pytest.raises(DataError, match="BTC-USD: a funding rate of 0.0001 per interval needs"):
        run_backtest(prices, hold(prices), perpetuals=PerpetualSettings(
            {"BTC": "perpetual"}, funding_rate=0.0001))
