"""The Stress page's crash replays and covariance scenarios applied to the book (issue 11, 6)."""

import numpy as np
import pandas as pd
import pytest

from riskcore.book import (
    Book,
    Market,
    Position,
    book_pnl,
    book_risk,
    replay_crashes,
    stress_book,
)
from riskcore.errors import DataError
from riskcore.stress import STRESS_SCENARIOS, stress_test
from tests.unit.test_book import AS_OF, call

WINDOWS = {"crash": ("2024-03-10", "2024-03-12"), "rally": ("2024-03-20", "2024-03-25"),
           "before the data": ("2020-01-01", "2020-01-05")}


@pytest.fixture
def market():
    return Market(pd.Series({"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}), AS_OF)


@pytest.fixture
def cov():
    vol = np.array([0.55, 0.70, 0.95])
    corr = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])
    names = ["BTC-USD", "ETH-USD", "SOL-USD"]
    return pd.DataFrame(np.outer(vol, vol) * corr, index=names, columns=names)


@pytest.fixture
def prices():
    index = pd.date_range("2024-03-01", "2024-06-30", tz="UTC", name="date")
    frame = pd.DataFrame({"BTC-USD": 60_000.0, "ETH-USD": 3_000.0, "SOL-USD": 150.0,
                          "USDC-USD": 1.0}, index=index)
    frame.loc["2024-03-11":"2024-03-12", ["BTC-USD", "ETH-USD"]] = [45_000.0, 2_100.0]
    frame.loc["2024-03-12", "USDC-USD"] = 0.97
    frame.loc["2024-03-25", "SOL-USD"] = 180.0
    frame.loc[:"2024-03-15", "SOL-USD"] = np.nan  # SOL lists after the crash
    return frame


def test_replay_moves_each_coin_by_its_window_return_and_reprices_options(prices, market):
    book = Book((Position("BTC spot", "spot", "BTC", 2.0),
                 Position("ETH perp", "linear_perpetual", "ETH", 10.0),
                 call("BTC call", -1.0),
                 Position("USDC", "cash", "USDC", 10_000.0),
                 Position("SOL spot", "spot", "SOL", 100.0)))
    table = replay_crashes(book, market, prices, WINDOWS, vol_move=0.5)
    assert list(table.index) == ["crash", "rally"]  # the window before the data is left out
    crash = table.loc["crash"]
    assert crash["BTC"] == pytest.approx(-0.25) and crash["ETH"] == pytest.approx(-0.30)
    assert crash["USDC"] == pytest.approx(-0.03)  # the stablecoin de-pegs with its column
    assert np.isnan(crash["SOL"]) and not crash["complete"] and crash["missing_coins"] == "SOL"
    expected = book_pnl(book, market, {"BTC": -0.25, "ETH": -0.30, "USDC": -0.03}, 0.5)
    assert crash["pnl"] == pytest.approx(expected.sum(), rel=1e-12)
    assert crash["worst_position"] == expected.idxmin() == "BTC spot"
    # linear legs are exact in the delta view; the short call is not (its gamma and vega)
    linear = 2 * 60_000 * -0.25 + 10 * 3_000 * -0.30 + 10_000 * -0.03
    assert crash["delta_pnl"] - linear == pytest.approx(
        book_risk(book, market, _cov(book)).positions.loc["BTC call", "cash_delta"] * -0.25)
    assert table.loc["rally", "SOL"] == pytest.approx(0.2)
    # SOL +20%, the others flat; the short call still loses its vega on the assumed IV move
    vega_loss = book_pnl(book, market, 0.0, 0.5)["BTC call"]
    assert vega_loss < 0
    assert table.loc["rally", "pnl"] == pytest.approx(100 * 150 * 0.2 + vega_loss, rel=1e-12)


def _cov(book):
    names = ["BTC-USD", "ETH-USD", "SOL-USD", "USDC-USD"]
    return pd.DataFrame(np.eye(4) * 0.25, index=names, columns=names)


def test_a_short_call_loses_more_than_its_delta_says_when_volatility_jumps(prices, market):
    book = Book((Position("BTC spot", "spot", "BTC", 1.0), call("BTC call", -1.0)))
    calm = replay_crashes(book, market, prices, WINDOWS, vol_move=0.0).loc["crash"]
    wild = replay_crashes(book, market, prices, WINDOWS, vol_move=1.0).loc["crash"]
    assert calm["pnl"] < calm["delta_pnl"]  # short gamma: full repricing is worse
    assert wild["pnl"] < calm["pnl"]  # short vega
    assert wild["delta_pnl"] == calm["delta_pnl"]


def test_a_levered_perpetual_is_liquidated_by_the_crash(prices, market):
    book = Book((Position("cash", "cash", "USD", 10_000.0),
                 Position("BTC perp", "linear_perpetual", "BTC", 1.0)))  # 6x on 10k
    row = replay_crashes(book, market, prices, WINDOWS).loc["crash"]
    # 60,000 x -25% = -15,000: equity -5,000, margin 0.5% x 45,000 = 225
    assert row["pnl"] == pytest.approx(-15_000.0)
    assert row["margin_excess"] == pytest.approx(-5_225.0)
    assert row["liquidated"] and row["return"] == pytest.approx(-1.5)


def test_replay_needs_a_coin_with_prices(prices, market):
    book = Book((Position("DOGE", "spot", "DOGE", 1.0),))
    with pytest.raises(DataError, match="no coin of the book has prices"):
        replay_crashes(book, market.__class__(pd.Series({"DOGE": 0.1}), market.as_of),
                       prices, WINDOWS)


def test_covariance_scenarios_scale_the_book_volatility(market, cov):
    book = Book((Position("BTC spot", "spot", "BTC", 2.0),
                 Position("ETH perp", "linear_perpetual", "ETH", 10.0),
                 call("BTC call", -1.0), Position("cash", "cash", "USD", 50_000.0)))
    table = stress_book(book, market, cov, periods_per_year=365)
    base = book_risk(book, market, cov)
    assert table.loc["baseline", "volatility"] == pytest.approx(base.volatility, rel=1e-12)
    assert table.loc["volatility x2", "volatility_usd"] == pytest.approx(
        2 * base.volatility_usd, rel=1e-12)
    assert table.loc["baseline", "value_at_risk"] == pytest.approx(
        2.3263478740 * base.volatility_usd / np.sqrt(365), rel=1e-9)
    crash = table.loc["crash correlation 0.9"]
    assert crash["volatility"] > table.loc["baseline", "volatility"]  # long book, higher corr
    with pytest.raises(DataError, match="unknown setting"):
        stress_book(book, market, cov, {"x": {"volatility": 2}}, periods_per_year=365)


def test_a_spot_book_reproduces_the_stress_page_on_its_weights(market, cov):
    book = Book((Position("BTC", "spot", "BTC", 1.0), Position("ETH", "spot", "ETH", 10.0),
                 Position("SOL", "spot", "SOL", 100.0)))
    risk = book_risk(book, market, cov)
    weights = risk.assets["weight"]
    assert weights.sum() == pytest.approx(1.0)
    ours = stress_book(book, market, cov, periods_per_year=365)
    page = stress_test(weights, cov, STRESS_SCENARIOS, periods_per_year=365)
    np.testing.assert_allclose(ours["volatility"], page["volatility"], rtol=1e-12)
    np.testing.assert_allclose(ours["value_at_risk"] / risk.equity, page["value_at_risk"],
                               rtol=1e-12)
    assert list(ours["largest_risk_contributor"]) == list(page["largest_risk_contributor"])

