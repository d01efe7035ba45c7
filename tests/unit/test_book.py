"""The positions book: exposures, Euler risk contributions, margin, stress, trades, funding."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import risk_budget_weights
from riskcore.book import (
    Book,
    Market,
    Position,
    book_equity,
    book_frame,
    book_pnl,
    book_risk,
    delta_approximation,
    delta_matching_quantity,
    funding_carry,
    liquidation_distance,
    maintenance_margin,
    margin_excess,
    read_book,
    read_funding_history,
    stress_grid,
    target_trades,
)
from riskcore.errors import DataError, InfeasibleError
from riskcore.pricing import black_scholes

EXAMPLE = Path(__file__).resolve().parents[2] / "riskcore" / "data" / "example_book.csv"
AS_OF = pd.Timestamp("2024-06-30", tz="UTC")
EXPIRY = pd.Timestamp("2024-12-27", tz="UTC")


@pytest.fixture
def market():
    return Market(pd.Series({"BTC": 60_000.0, "ETH": 3_000.0, "SOL": 150.0}), AS_OF)


@pytest.fixture
def cov():
    rng = np.random.default_rng(42)
    vol = np.array([0.55, 0.70, 0.95])
    corr = np.array([[1.0, 0.8, 0.7], [0.8, 1.0, 0.75], [0.7, 0.75, 1.0]])
    corr += np.diag(rng.uniform(0, 0.01, 3))  # keep it positive definite and not too tidy
    names = ["BTC-USD", "ETH-USD", "SOL-USD"]
    return pd.DataFrame(np.outer(vol, vol) * corr, index=names, columns=names)


def call(name="BTC call", quantity=-1.0, **kw):
    fields = dict(strike=70_000.0, expiry=EXPIRY, option_type="call", implied_volatility=0.6)
    return Position(name, "option", "BTC", quantity, **(fields | kw))


def mixed_book():
    return Book((
        Position("BTC spot", "spot", "BTC", 2.0),
        Position("ETH perp", "linear_perpetual", "ETH", 10.0, price=3_010.0),
        Position("SOL hedge", "inverse_perpetual", "SOL", -9_000.0, collateral=80.0),
        Position("ETH future", "linear_future", "ETH", -3.0, expiry=EXPIRY),
        call(),
        Position("BTC put", "option", "BTC", 0.5, price=60_500.0, strike=55_000.0,
                 expiry=EXPIRY, option_type="put", implied_volatility=0.7),
        Position("cash", "cash", "USD", 30_000.0),
    ))


# ----------------------------------------------------------------------------- exposures
def test_one_btc_spot_and_one_btc_linear_perpetual_have_identical_risk_contributions(market, cov):
    cash = Position("cash", "cash", "USD", 50_000.0)
    spot = book_risk(Book((Position("x", "spot", "BTC", 1.0), cash)), market, cov)
    # the perpetual's equity is the cash it is margined with: add the coin's value as cash
    perp = book_risk(Book((Position("x", "linear_perpetual", "BTC", 1.0),
                           Position("cash", "cash", "USD", 110_000.0))), market, cov)
    assert spot.equity == perp.equity
    pd.testing.assert_series_equal(spot.assets["risk_contribution"],
                                   perp.assets["risk_contribution"], rtol=0, atol=1e-15)
    both = book_risk(Book((Position("spot", "spot", "BTC", 1.0),
                           Position("perp", "linear_perpetual", "BTC", 1.0), cash)), market, cov)
    rc = both.positions["risk_contribution"]
    assert rc["spot"] == rc["perp"] > 0


def test_short_inverse_perpetual_hedging_its_collateral_has_zero_net_delta(market, cov):
    collateral = 7.3
    face = -collateral * market.price("ETH")
    hedge = Book((Position("hedge", "inverse_perpetual", "ETH", face, collateral=collateral),))
    risk = book_risk(hedge, market, cov)
    assert abs(risk.positions.loc["hedge", "cash_delta"]) < 1e-12
    assert abs(risk.assets["cash_delta"].sum()) < 1e-12
    assert risk.equity == pytest.approx(collateral * 3_000.0)
    for move in (-0.6, -0.1, 0.3, 2.0):  # the USD value stays put for any move
        assert abs(book_pnl(hedge, market, move).sum()) < 1e-9 * risk.equity
    assert risk.gross_leverage == pytest.approx(2.0)  # both legs counted
    assert abs(risk.net_leverage) < 1e-15


def test_cash_deltas_follow_the_documented_formulas(market, cov):
    risk = book_risk(mixed_book(), market, cov).positions["cash_delta"]
    assert risk["BTC spot"] == 2 * 60_000
    assert risk["ETH perp"] == 10 * 3_010
    t = (EXPIRY - AS_OF).days / 365
    assert risk["ETH future"] == pytest.approx(-3 * 3_000)  # rate 0: forward = spot
    assert risk["SOL hedge"] == pytest.approx(-9_000 + 80 * 150)
    bs = black_scholes(60_000, 70_000, t, 0.6)
    assert risk["BTC call"] == pytest.approx(-1 * bs.delta * 60_000, rel=1e-12)
    assert risk["cash"] == 0


def test_risk_contributions_sum_to_the_books_volatility(market, cov):
    risk = book_risk(mixed_book(), market, cov)
    assert risk.assets["risk_contribution"].sum() == pytest.approx(risk.volatility, rel=1e-12)
    assert risk.positions["risk_contribution"].sum() == pytest.approx(risk.volatility, rel=1e-12)
    per_asset = risk.positions.groupby("asset")["risk_contribution"].sum()
    pd.testing.assert_series_equal(per_asset, risk.assets["risk_contribution"].loc[per_asset.index],
                                   check_names=False, rtol=1e-12)
    w = risk.assets["weight"].to_numpy()
    assert risk.volatility == pytest.approx(np.sqrt(w @ cov.to_numpy() @ w), rel=1e-14)
    assert risk.volatility_usd == pytest.approx(risk.volatility * risk.equity)


def test_a_spot_only_book_reproduces_the_allocation_numbers_exactly(market, cov):
    budget = pd.Series({"BTC-USD": 0.5, "ETH-USD": 0.3, "SOL-USD": 0.2})
    portfolio = risk_budget_weights(cov, budget)
    equity = 1_000_000.0
    book = Book(tuple(Position(a, "spot", a, w * equity / market.price(a.split("-")[0]))
                      for a, w in portfolio.weights.items()))
    risk = book_risk(book, market, cov, budget=budget)
    assert risk.equity == pytest.approx(equity, rel=1e-15)
    np.testing.assert_allclose(risk.assets["weight"], portfolio.weights, rtol=1e-14)
    np.testing.assert_allclose(risk.assets["risk_contribution"], portfolio.risk_contributions,
                               rtol=1e-12)
    np.testing.assert_allclose(risk.assets["relative_risk_contribution"],
                               portfolio.relative_risk_contributions, rtol=1e-12)
    assert risk.volatility == pytest.approx(portfolio.portfolio_volatility, rel=1e-14)
    np.testing.assert_allclose(risk.assets["risk_budget"], budget, rtol=0)


def test_vega_per_underlying_is_the_sum_of_option_vegas(market, cov):
    risk = book_risk(mixed_book(), market, cov)
    options = risk.positions.query("instrument == 'option'")["vega"]
    assert risk.assets.loc["BTC-USD", "vega"] == pytest.approx(options.sum())
    assert options["BTC call"] < 0 < options["BTC put"]


def test_coin_settled_option_has_the_usd_value_and_delta_of_a_usd_settled_one(market, cov):
    usd = book_risk(Book((call("c", 1.0), Position("k", "cash", "USD", 1.0))), market, cov)
    coin = book_risk(Book((call("c", 1.0, settlement="coin"),
                           Position("k", "cash", "USD", 1.0))), market, cov)
    pd.testing.assert_series_equal(usd.assets["cash_delta"], coin.assets["cash_delta"])
    premium = coin.positions.loc["c", "premium_coin"]
    assert premium == pytest.approx(usd.positions.loc["c", "value"] / 60_000)


# ----------------------------------------------------------------------------- stress, margin
def test_stress_grid_at_zero_shocks_gives_zero_pnl(market):
    book = mixed_book()
    grid = stress_grid(book, market)
    assert grid.pnl.loc[0.0, 0.0] == 0.0
    assert book_pnl(book, market).abs().max() == 0.0
    equity = book_risk(book, market, _cov_for(book)).equity
    margin = maintenance_margin(book, market).sum()
    assert grid.margin_excess.loc[0.0, 0.0] == pytest.approx(equity - margin, rel=1e-12)
    assert grid.pnl.shape == (6, 11)


def _cov_for(book):
    names = ["BTC-USD", "ETH-USD", "SOL-USD"]
    return pd.DataFrame(np.eye(3) * 0.36, index=names, columns=names)


def test_full_repricing_and_delta_approximation_agree_to_first_order(market):
    book = mixed_book()
    moves = [0.08, 0.04, 0.02, 0.01]
    table = delta_approximation(book, market, moves)
    gap = table["gap"].abs().to_numpy()
    ratios = gap[:-1] / gap[1:]
    assert np.all(np.abs(ratios - 4) < 0.2)  # halving the move quarters the gap
    relative = gap / table["delta"].abs().to_numpy()
    assert np.all(np.diff(relative) < 0) and relative[-1] < 0.01  # first order agrees


def test_linear_positions_move_one_for_one(market):
    book = Book((Position("p", "linear_perpetual", "ETH", 4.0, price=3_100.0),))
    assert book_pnl(book, market, -0.25)["p"] == pytest.approx(4 * 3_100 * -0.25)
    assert book_pnl(book, market, {"BTC": 0.5})["p"] == 0.0  # another coin's move


def test_distance_to_liquidation_of_one_leveraged_perpetual_by_hand(market):
    # 10 ETH long perpetual at 2,000 (notional 20,000) on 4,000 USD: equity 4,000 + 20,000 m,
    # maintenance 0.5% of 20,000 (1 + m); they meet at m = -3,900 / 19,900 = -19.598%.
    book = Book((Position("perp", "linear_perpetual", "ETH", 10.0, price=2_000.0),
                 Position("cash", "cash", "USD", 4_000.0)))
    distance = liquidation_distance(book, market, {"linear_perpetual": 0.005})
    assert distance.loc["ETH", "down"] == pytest.approx(-3_900 / 19_900, abs=1e-10)
    assert np.isnan(distance.loc["ETH", "up"])
    assert distance.loc["market-wide", "nearest"] == pytest.approx(-3_900 / 19_900, abs=1e-10)


def test_a_short_perpetual_is_liquidated_on_the_way_up(market):
    book = Book((Position("perp", "linear_perpetual", "BTC", -1.0),
                 Position("cash", "cash", "USD", 12_000.0)))
    # 12,000 - 60,000 m = 0.005 * 60,000 (1 + m)  ->  m = 11,700 / 60,300
    distance = liquidation_distance(book, market, {"linear_perpetual": 0.005})
    assert distance.loc["BTC", "up"] == pytest.approx(11_700 / 60_300, abs=1e-10)
    assert np.isnan(distance.loc["BTC", "down"])


def test_margin_rates_are_validated(market):
    with pytest.raises(DataError, match="margin rate given for 'swap'; allowed: spot"):
        maintenance_margin(mixed_book(), market, {"swap": 0.01})
    with pytest.raises(DataError, match="margin rate for option is 2.0; allowed: a decimal"):
        maintenance_margin(mixed_book(), market, {"option": 2.0})


def test_only_short_options_need_option_margin(market):
    margin = maintenance_margin(mixed_book(), market)
    assert margin["BTC call"] == pytest.approx(0.075 * 60_000)
    assert margin["BTC put"] == 0.0


# ----------------------------------------------------------------------------- trades
def test_trades_reach_the_risk_budget_through_the_chosen_instrument(market, cov):
    book = Book((Position("BTC spot", "spot", "BTC", 3.0), Position("cash", "cash", "USD",
                                                                    50_000.0)))
    budget = pd.Series({"BTC-USD": 0.4, "ETH-USD": 0.4, "SOL-USD": 0.2})
    target = target_trades(book, market, cov, budget, leverage_cap=3.0,
                           instruments={"BTC-USD": "spot", "ETH": "perpetual", "SOL": "spot"})
    after = book_risk(target.book, market, cov, budget=budget)
    before = book_risk(book, market, cov)
    np.testing.assert_allclose(after.assets["relative_risk_contribution"], budget, atol=1e-8)
    assert after.volatility == pytest.approx(before.volatility, rel=1e-8)  # same risk level
    assert after.equity == pytest.approx(before.equity, rel=1e-12)  # spot bought with cash
    assert target.trades.loc["ETH-USD", "instrument"] == "linear_perpetual"
    assert "spot ETH" not in target.book.names and "perp ETH" in target.book.names
    assert not target.leverage_capped


def test_the_leverage_cap_binds_and_is_kept(market, cov):
    book = Book((Position("cash", "cash", "USD", 100_000.0),))
    budget = {"BTC-USD": 1 / 3, "ETH-USD": 1 / 3, "SOL-USD": 1 / 3}
    target = target_trades(book, market, cov, budget, leverage_cap=1.5, target_volatility=1.5,
                           instruments={"BTC": "perpetual", "ETH": "perpetual",
                                        "SOL": "perpetual"})
    after = book_risk(target.book, market, cov)
    assert target.leverage_capped
    assert after.gross_leverage == pytest.approx(1.5, abs=1e-9)
    np.testing.assert_allclose(after.assets["relative_risk_contribution"], 1 / 3, atol=1e-8)
    assert "leverage cap 1.50× binds" in target.notes[0]


def test_selling_spot_below_zero_is_flagged(market, cov):
    book = Book((Position("BTC spot", "spot", "BTC", 1.0),
                 Position("BTC perp", "linear_perpetual", "BTC", 5.0),
                 Position("cash", "cash", "USD", 200_000.0)))
    target = target_trades(book, market, cov, {"BTC-USD": 0.5, "ETH-USD": 0.5},
                           leverage_cap=5.0, instruments={})
    assert any("borrows the coin; choose the perpetual" in n for n in target.notes)


def test_trade_inputs_are_checked(market, cov):
    book = Book((Position("cash", "cash", "USD", 1_000.0),))
    with pytest.raises(InfeasibleError, match="leverage cap is 0; it must be > 0"):
        target_trades(book, market, cov, {"BTC-USD": 1}, leverage_cap=0, instruments={})
    with pytest.raises(DataError, match="instrument for BTC-USD is 'swap'; allowed: spot"):
        target_trades(book, market, cov, {"BTC-USD": 1}, leverage_cap=2,
                      target_volatility=0.5, instruments={"BTC": "swap"})


def test_delta_matching_option_quantity_contributes_the_spot_holdings_risk(market, cov):
    option = call("c", 1.0, strike=60_000.0)
    q = delta_matching_quantity(option, market, 2.0)
    cash = Position("cash", "cash", "USD", 200_000.0)
    spot = book_risk(Book((Position("s", "spot", "BTC", 2.0), cash)), market, cov)
    opt = book_risk(Book((call("c", q, strike=60_000.0), cash)), market, cov)
    assert opt.assets.loc["BTC-USD", "cash_delta"] == pytest.approx(120_000.0, rel=1e-12)
    assert q > 2.0  # an at-the-money call has a delta near 0.5 to 0.6
    assert (opt.positions.loc["c", "risk_contribution"] * opt.equity
            == pytest.approx(spot.positions.loc["s", "risk_contribution"] * spot.equity))


# ----------------------------------------------------------------------------- funding
def test_funding_carry_uses_the_interval_given(market):
    book = Book((Position("long", "linear_perpetual", "BTC", 1.0, price=50_000.0),
                 Position("short inv", "inverse_perpetual", "ETH", -30_000.0, collateral=10.0),
                 Position("spot", "spot", "BTC", 1.0)))
    eight = funding_carry(book, market, 0.0001, interval_hours=8)
    assert eight["long"] == pytest.approx(-50_000 * 0.0001 * 3 * 365)
    assert eight["short inv"] == pytest.approx(30_000 * 0.0001 * 3 * 365)  # shorts receive
    assert list(eight.index) == ["long", "short inv"]
    hourly = funding_carry(book, market, {"BTC": 0.0001, "ETH-USD": 0.0}, interval_hours=1)
    assert hourly["long"] == pytest.approx(8 * eight["long"]) and hourly["short inv"] == 0
    with pytest.raises(DataError, match="funding interval is 0 hours"):
        funding_carry(book, market, 0.0001, interval_hours=0)
    with pytest.raises(DataError, match="short inv: no funding rate for ETH"):
        funding_carry(book, market, {"BTC": 0.0001}, interval_hours=8)


def test_funding_history_gives_mean_rate_and_measured_interval():
    text = "date,underlying,rate\n" + "\n".join(
        f"2024-01-01T{h:02d}:00:00Z,BTC-USD,{r}" for h, r in ((0, 0.0001), (4, 0.0003),
                                                               (8, 0.0002)))
    rates = read_funding_history(text)
    assert rates.interval_hours == 4.0
    assert rates.rate["BTC"] == pytest.approx(0.0002)
    with pytest.raises(DataError, match="row 2, field rate: 'x' is not a number"):
        read_funding_history("date,rate\n2024-01-01,0.1\n2024-01-02,x\n")


# ----------------------------------------------------------------------------- reading
def test_example_csv_reads_and_covers_every_kind_of_row():
    book = read_book(EXAMPLE.read_bytes())
    kinds = {p.instrument for p in book.positions}
    assert {"spot", "linear_perpetual", "inverse_perpetual", "option", "cash"} <= kinds
    assert len(EXAMPLE.read_text().splitlines()) < 20


def test_book_frame_round_trips(market):
    book = mixed_book()
    assert read_book(book_frame(book)) == book
    csv = book_frame(book).to_csv(index=False)
    assert read_book(csv) == book


@pytest.mark.parametrize("rows, message", [
    ("name,instrument,underlying,quantity,colour\nx,spot,BTC,1,red",
     "unknown column.s. colour; allowed: name, instrument"),
    ("name,instrument,quantity\nx,spot,1", "column underlying is missing"),
    ("name,instrument,underlying,quantity\nok,spot,BTC,1\nbad,spot,ETH,one",
     r"row 2 \(bad\), field quantity: 'one' is not a number"),
    ("instrument,underlying,quantity\nswap,BTC,1",
     r"row 1 \(swap BTC 1\): instrument is 'swap'; allowed: spot, linear_perpetual"),
    ("name,instrument,underlying,quantity,strike,option_type,implied_volatility\n"
     "c,option,BTC,1,70000,call,0.6", r"row 1 \(c\): expiry is missing"),
    ("name,instrument,underlying,quantity,strike,expiry,option_type,implied_volatility\n"
     "c,option,BTC,1,70000,2025-01-01,call,60",
     r"implied_volatility is 60.0; give an annualized decimal in \(0, 5\] \(0.6 for 60%\)"),
    ("name,instrument,underlying,quantity,expiry\nf,linear_future,BTC,1,someday",
     r"row 1 \(f\), field expiry: 'someday' is not a date"),
    ("name,instrument,underlying,quantity,price\ns,spot,BTC,1,50000",
     "price is 50000.0 for spot; leave it blank"),
    ("name,instrument,underlying,quantity,collateral\ns,spot,BTC,1,2",
     "collateral is for inverse perpetuals and futures only"),
    ("name,instrument,underlying,quantity\nc,cash,BTC,1", "cash underlying is BTC; allowed: USD"),
    ("name,instrument,underlying,quantity\nx,spot,BTC,1\nx,spot,ETH,1",
     "position name 'x' appears twice; names must be unique"),
    ("name,instrument,underlying,quantity\nx,spot,BTC,", r"row 1 \(x\), field quantity: empty"),
])
def test_bad_rows_are_named(rows, message):
    with pytest.raises(DataError, match=message):
        read_book(rows)


def test_expired_options_and_unknown_coins_are_named(market, cov):
    late = Book((call("old", expiry=pd.Timestamp("2024-01-01", tz="UTC")),))
    with pytest.raises(DataError, match="old expired on 2024-01-01, before the as-of date"):
        book_pnl(late, market, 0.1)
    with pytest.raises(DataError, match="d: no covariance for DOGE; coins estimated: BTC-USD"):
        book_risk(Book((Position("d", "spot", "DOGE", 1.0),)), market, cov)
    with pytest.raises(DataError, match="equity is -1,000.00 USD"):
        book_risk(Book((Position("k", "cash", "USD", -1000.0),)), market, cov)


def test_a_cap_below_the_hedges_own_leverage_is_infeasible(market, cov):
    book = Book((Position("hedge", "inverse_perpetual", "BTC", -120_000.0, collateral=2.0),))
    with pytest.raises(InfeasibleError, match=r"leverage cap 1.50× is below the 2.00× gross"):
        target_trades(book, market, cov, {"ETH-USD": 1.0}, leverage_cap=1.5,
                      target_volatility=0.5, instruments={})


def test_capped_trades_on_a_mixed_book_keep_the_cap_exactly(market, cov):
    book = mixed_book()
    budget = {"BTC-USD": 0.5, "ETH-USD": 0.25, "SOL-USD": 0.25}
    target = target_trades(book, market, cov, budget, leverage_cap=2.5, target_volatility=2.0,
                           instruments={"ETH": "perpetual"})
    after = book_risk(target.book, market, cov)
    assert target.leverage_capped
    assert after.gross_leverage == pytest.approx(2.5, abs=1e-9)
    np.testing.assert_allclose(after.assets["relative_risk_contribution"],
                               pd.Series(budget), atol=1e-8)
    assert after.equity == pytest.approx(book_risk(book, market, cov).equity, rel=1e-12)


def test_equity_and_margin_excess_agree_with_the_grid_and_the_risk(market, cov):
    book = mixed_book()
    risk = book_risk(book, market, cov)
    assert book_equity(book, market) == pytest.approx(risk.equity, rel=1e-15)
    assert margin_excess(book, market) == pytest.approx(risk.margin_excess, rel=1e-12)
    grid = stress_grid(book, market, spot_moves=(-0.3,), vol_moves=(0.5,))
    assert margin_excess(book, market, spot_moves=-0.3, vol_moves=0.5) == pytest.approx(
        grid.margin_excess.iloc[0, 0], rel=1e-12)
    assert book_equity(book, market, -0.3, 0.5) - risk.equity == pytest.approx(
        grid.pnl.iloc[0, 0], rel=1e-12)


def test_positions_without_an_estimate_are_left_out_with_a_note():
    from riskcore.book import Book, Position, estimable_positions

    book = Book((Position("btc", "spot", "BTC", 1.0), Position("sol", "spot", "SOL", 10.0),
                 Position("usd", "cash", "USD", 100.0)))
    kept, note = estimable_positions(book, ["BTC-USD", "ETH"])
    assert kept.names == ["btc", "usd"]
    assert "sol (SOL)" in note
