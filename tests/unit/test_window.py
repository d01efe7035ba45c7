"""Analysis window, universe that follows it, correlation by period, typed risk budgets."""

import numpy as np
import pandas as pd
import pytest

from riskcore.budgets import risk_budget_from_entries
from riskcore.errors import DataError
from riskcore.periods import periods_per_day
from riskcore.regimes import calm_stress_correlation, window_correlation
from riskcore.window import (
    WINDOW_PRESETS,
    analysis_window,
    default_as_of,
    preset_window,
    usable_assets,
)


def _panel(n=100, seed=42):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n, freq="D", tz="UTC", name="date")
    prices = pd.DataFrame(np.exp(np.cumsum(rng.normal(0, 0.03, (n, 3)), axis=0)),
                          index=index, columns=["BTC", "ETH", "SOL"])
    return prices


def test_default_as_of_is_last_date_all_coins_are_priced():
    prices = _panel()
    prices.loc[prices.index[80]:, "ETH"] = np.nan  # ETH's file ends on day 79
    as_of, notes = default_as_of(prices)
    assert as_of == prices.index[79]
    assert notes == ()


def test_default_as_of_without_common_date_names_the_missing_coin():
    prices = _panel()
    prices.loc[:prices.index[89], "SOL"] = np.nan  # SOL only on the last 10 days
    prices.loc[prices.index[50]:, "ETH"] = np.nan  # ETH ends on day 49
    as_of, notes = default_as_of(prices)
    assert as_of == prices.index[-1]  # BTC and SOL: two of three, the latest such date
    assert "ETH" in notes[0] and "2 of them" in notes[0]


def test_window_defaults_and_clipping():
    prices = _panel()
    window = analysis_window(prices)
    assert (window.start, window.as_of) == (prices.index[0], prices.index[-1])
    window = analysis_window(prices, "2020-01-01", "2030-01-01")
    assert (window.start, window.as_of) == (prices.index[0], prices.index[-1])
    assert len(window.slice(prices)) == 100
    with pytest.raises(DataError, match="after the as-of date"):
        analysis_window(prices, "2021-03-01", "2021-02-01")
    with pytest.raises(DataError, match="not a date"):
        analysis_window(prices, "soon")


def test_lookback_counts_back_from_the_as_of_date():
    prices = _panel()
    window = analysis_window(prices, None, "2021-02-19")  # day 49
    returns = window.slice(prices).pct_change()
    universe = usable_assets(returns, 30)
    assert universe.lookback == 30
    assert returns.iloc[-30:].index[-1] == pd.Timestamp("2021-02-19", tz="UTC")


def test_coin_without_enough_data_is_left_out_with_its_count():
    returns = _panel().pct_change()
    returns.iloc[:80, 2] = np.nan  # SOL has 20 returns in the last 30
    universe = usable_assets(returns, 30)
    assert universe.assets == ("BTC", "ETH")
    assert universe.excluded == {"SOL": 20}
    assert "SOL (20)" in universe.notes[0] and "30 periods" in universe.notes[0]
    # pairwise alignment needs a quarter of the lookback (8 of 30)
    assert usable_assets(returns, 30, alignment="pairwise").assets == ("BTC", "ETH", "SOL")


def test_one_coverage_rule_for_every_path():
    from riskcore.window import MIN_COVERAGE, PAIRWISE_COVERAGE, min_returns

    assert min_returns(365) == 329 == int(np.ceil(MIN_COVERAGE * 365))
    assert min_returns(30) == 27 and min_returns(60, "pairwise") == 15
    assert min_returns(4, "pairwise") == 2  # never fewer than two returns
    assert PAIRWISE_COVERAGE < MIN_COVERAGE


def test_presets_include_the_named_crashes_and_calm_periods():
    names = " ".join(WINDOW_PRESETS)
    for word in ("COVID", "May 2021", "LUNA", "FTX", "USDC", "Calm"):
        assert word in names
    start, end = preset_window("FTX collapse (Oct-Dec 2022)")
    assert start < pd.Timestamp("2022-11-08", tz="UTC") < end
    with pytest.raises(DataError, match="known windows"):
        preset_window("nope")


def test_window_correlation_names_constant_and_short_coins():
    returns = _panel().pct_change()
    returns["USDT"] = 0.0
    returns["NEW"] = np.nan
    returns.iloc[-5:, returns.columns.get_loc("NEW")] = 0.01
    result = window_correlation(returns)
    assert list(result.matrix.columns) == ["BTC", "ETH", "SOL"]
    text = " ".join(result.notes)
    assert "Constant price" in text and "USDT" in text and "NEW (5)" in text


def test_calm_stress_split_on_the_worst_decile():
    rng = np.random.default_rng(42)
    n = 2000
    crash = rng.random(n) < 0.1
    # crash days: a large common move and little of each coin's own; calm days the reverse
    market = np.where(crash, rng.normal(-0.08, 0.04, n), rng.normal(0.001, 0.005, n))
    noise_scale = np.where(crash, 0.005, 0.02)
    returns = pd.DataFrame({c: market + rng.normal(0, 1, n) * noise_scale for c in "ABC"},
                           index=pd.date_range("2020-01-01", periods=n, tz="UTC"))
    result = calm_stress_correlation(returns, quantile=0.1)
    assert len(result.stress_days) == 200
    assert crash[returns.index.isin(result.stress_days)].mean() > 0.8
    eq = returns.mean(axis=1)
    assert (eq.loc[result.stress_days] <= result.threshold).all()
    assert (eq.drop(result.stress_days) > result.threshold).all()
    assert (result.difference.to_numpy()[~np.eye(3, dtype=bool)] > 0.5).all()
    with pytest.raises(DataError, match="raise the share of stress days"):
        calm_stress_correlation(returns.iloc[:50])


def test_typed_budgets_hold_one_coin_and_share_the_rest():
    budget = risk_budget_from_entries({"BTC": 40, "ETH": 7, "SOL": 7, "XRP": 7}, {"BTC"})
    assert budget["BTC"] == pytest.approx(0.4)
    assert budget.drop("BTC").tolist() == pytest.approx([0.2, 0.2, 0.2])
    relative = risk_budget_from_entries({"BTC": 2, "ETH": 1, "SOL": 1})
    assert relative.tolist() == pytest.approx([0.5, 0.25, 0.25])
    assert risk_budget_from_entries({"BTC": 30, "ETH": 0, "SOL": 0}, {"BTC"}).tolist() == \
        pytest.approx([0.3, 0.35, 0.35])
    with pytest.raises(DataError, match="more than 100%"):
        risk_budget_from_entries({"BTC": 70, "ETH": 40, "SOL": 1}, {"BTC", "ETH"})
    with pytest.raises(DataError, match="ETH = -1"):
        risk_budget_from_entries({"BTC": 1, "ETH": -1})
    with pytest.raises(DataError, match="every risk budget is 0"):
        risk_budget_from_entries({"BTC": 0, "ETH": 0})


def test_periods_per_day_converts_bars_not_calendars():
    daily = pd.date_range("2024-01-01", periods=30, freq="D", tz="UTC")
    weekdays = pd.bdate_range("2024-01-01", periods=30, tz="UTC")
    hourly = pd.date_range("2024-01-01", periods=48, freq="h", tz="UTC")
    assert periods_per_day(daily) == 1.0
    assert periods_per_day(weekdays) == 1.0  # weekday daily volume is already per day
    assert periods_per_day(hourly) == pytest.approx(24.0)


def test_simulation_starts_when_most_coins_can_be_estimated():
    from riskcore.window import universe_start

    prices = _panel(200)
    prices.iloc[:100, 1] = np.nan  # ETH lists on day 100
    prices.iloc[:150, 2] = np.nan  # SOL lists on day 150
    # 2 of 3 coins estimable: ETH's first return is on day 101, and it needs 27 of the 30
    # returns of a lookback (riskcore.window.min_returns), so day 127
    start, note = universe_start(prices, 30)
    assert start == prices.index[127]
    assert "2 of the 3 coins have enough of the 30 periods" in note
    start, _ = universe_start(prices, 30, min_share=1.0)
    assert start == prices.index[177]  # SOL: first return day 151, 27 returns by day 177
