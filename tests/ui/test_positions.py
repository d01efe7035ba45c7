"""AppTest: the Positions page on demo data: spot, perpetual, inverse hedge and a covered call."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import riskcore
from riskcore.assets import base_symbol, is_stablecoin
from tests.conftest import REPO
from tests.ui.figures import decode, figures

PAGE = "app_pages/positions.py"


def demo_book() -> tuple[bytes, dict]:
    """Spot, a long perpetual on the calmest coin, an inverse short hedging its collateral, a
    covered call: built from the demo's own prices so the hedge is exact."""
    prices = riskcore.demo_prices()
    last = prices.iloc[-1]
    vol = riskcore.to_returns(prices).iloc[-365:].std()
    calm = base_symbol(vol[[c for c in vol.index if not is_stablecoin(c)]].idxmin())
    btc = float(last["BTC-USD"])
    face = -3.0 * btc
    rows = [
        "name,instrument,underlying,quantity,price,strike,expiry,option_type,implied_volatility,"
        "settlement,collateral",
        "SOL spot,spot,SOL,200,,,,,,,",
        f"calm perp,linear_perpetual,{calm},5,,,,,,,",
        f"BTC hedge,inverse_perpetual,BTC,{face!r},,,,,,,3",
        "SOL call,option,SOL,-200,,300,2025-06-27,call,0.8,usd,",
        "cash,cash,USD,50000,,,,,,,",
    ]
    return "\n".join(rows).encode(), {"calm": calm}


def page(book: bytes | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    if book is not None:
        at.file_uploader(key="book_upload").set_value(("book.csv", book, "text/csv")).run()
        assert not at.exception, at.exception
    return at


def table(at: AppTest, column: str):
    frames = [df.value for df in at.dataframe if column in df.value.columns]
    assert frames, f"no table with a {column!r} column"
    return frames[0]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label.startswith(label))


@pytest.fixture(scope="module")
def loaded():
    book, facts = demo_book()
    return page(book), facts


def test_example_book_runs_on_demo_data():
    at = page()
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "Equity").startswith("$")
    names = table(at, "maintenance margin").index.tolist()
    assert "ETH collateral hedge" in names and "BTC covered call" in names
    assert len(at.get("plotly_chart")) == 4


def test_the_book_shows_exposures_risk_leverage_margin_stress_and_liquidation(loaded):
    at, facts = loaded
    assert not at.error, [e.value for e in at.error]
    positions = table(at, "maintenance margin")
    assert abs(positions.loc["BTC hedge", "cash delta"]) < 1e-6  # hedged collateral
    assert positions.loc["calm perp", "cash delta"] > 0
    assert positions.loc["calm perp", "risk contribution"] > 0
    assert positions.loc["SOL call", "cash delta"] < 0 < positions.loc["SOL spot", "cash delta"]
    assert positions.loc["SOL call", "cash delta"] > -positions.loc["SOL spot", "cash delta"]
    assets = table(at, "risk budget")
    assert assets["share of risk"].sum() == pytest.approx(1.0)
    assert set(assets.index) >= {"SOL-USD", f"{facts['calm']}-USD"}
    for label in ("Volatility", "Gross leverage", "Net leverage", "Maintenance margin",
                  "Margin excess", "Liquidation"):
        assert metric(at, label)
    heatmaps = [f for f in figures(at) if f["data"][0]["type"] == "heatmap"]
    assert len(heatmaps) == 2
    z = decode(heatmaps[0]["data"][0]["z"])
    assert z.shape == (6, 11)
    assert z[2, 5] == 0.0  # no move, no P&L
    distance = table(at, "nearest")
    assert "market-wide" in distance.index


def test_trades_reach_the_budget_within_the_leverage_cap(loaded):
    at, facts = loaded
    at.number_input(key="pos_target").set_value(150.0).run()
    at.number_input(key="pos_cap").set_value(2.0).run()
    assert not at.exception, at.exception
    trades = table(at, "target cash delta")
    np.testing.assert_allclose(trades["share of risk"], trades["risk budget"],
                               atol=1e-8)
    caption = next(c.value for c in at.caption if c.value.startswith("After the trades"))
    gross = float(caption.split("gross leverage ")[1].split("×")[0])
    assert gross <= 2.0 + 1e-9
    assert any("leverage cap 2.00× binds" in i.value.replace("\\", "") for i in at.info)
    assert trades.loc[f"{facts['calm']}-USD", "instrument"] == "linear_perpetual"
    # the hedge and its collateral alone exceed a cap of 1: the page says so and why
    at.number_input(key="pos_cap").set_value(1.0).run()
    assert any("below the" in e.value and "unwind those positions" in e.value.replace("\\", "")
               for e in at.error), [e.value for e in at.error]


def test_funding_follows_the_interval_given(loaded):
    at, _ = loaded
    at.number_input(key="pos_hours").set_value(8.0).run()
    eight = table(at, "USD a year (+ received)").iloc[:, 0]
    at.number_input(key="pos_hours").set_value(1.0).run()
    one = table(at, "USD a year (+ received)").iloc[:, 0]
    np.testing.assert_allclose(one, 8 * eight)
    assert eight["calm perp"] < 0 < eight["BTC hedge"]  # longs pay, shorts receive


def test_a_bad_row_is_named_on_the_page():
    at = page(b"name,instrument,underlying,quantity\nok,spot,BTC,1\nbad,spot,ETH,lots\n")
    assert any("row 2 (bad), field quantity: 'lots' is not a number" in e.value.replace("\\", "")
               for e in at.error), [e.value for e in at.error]


def test_a_spot_only_book_shows_the_allocation_pages_risk_shares():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/allocation.py").run()
    allocation = next(df.value for df in at.dataframe if "weight" in df.value.columns)
    last = riskcore.demo_prices().iloc[-1]
    held = allocation[allocation["weight"] > 0]
    rows = ["name,instrument,underlying,quantity"] + [
        f"{a},spot,{a},{float(w * 1e6 / last[a])!r}" for a, w in held["weight"].items()]
    at.switch_page(PAGE).run()
    at.file_uploader(key="book_upload").set_value(
        ("spot.csv", "\n".join(rows).encode(), "text/csv")).run()
    assert not at.exception, at.exception
    assets = table(at, "risk budget")
    shares = assets.loc[held.index, "share of risk"]
    np.testing.assert_allclose(shares, held["relative risk contribution"], rtol=1e-9)
    np.testing.assert_allclose(assets.loc[held.index, "weight"], held["weight"], rtol=1e-9)


def test_the_example_book_on_fourteen_real_files(yahoo_daily_files):
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.radio(key="source").set_value("Upload files").run()
    at.file_uploader(key="upload").set_value(
        [(f.name, f.read_bytes(), "text/csv") for f in yahoo_daily_files]).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    positions = table(at, "maintenance margin")
    # the panel's own USDC column (named by the loader): de-peg risk is kept
    assert base_symbol(positions.loc["USDC", "asset"]) == "USDC"
    assert positions.loc["BTC covered call", "cash delta"] < 0
    assert len([f for f in figures(at) if f["data"][0]["type"] == "heatmap"]) == 2


# ----------------------------------------------------------------------------- other pages
STRESS, SIMULATOR = "app_pages/stress.py", "app_pages/rebalance.py"


def subheaders(at: AppTest) -> list[str]:
    return [s.value for s in at.subheader]


def test_the_stress_page_has_no_book_section_without_a_book():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(STRESS).run()
    assert not at.exception, at.exception
    assert "Your book (Positions page)" not in subheaders(at)


def test_the_stress_page_stresses_the_book_of_the_positions_page():
    book, _ = demo_book()
    at = page(book)
    at.switch_page(STRESS).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Your book (Positions page)" in subheaders(at)
    scenarios = table(at, "volatility_usd")
    assert scenarios.loc["volatility x2", "volatility_usd"] == pytest.approx(
        2 * scenarios.loc["baseline", "volatility_usd"], rel=1e-9)
    assert "your scenario" in scenarios.index
    replay = table(at, "delta P&L")
    assert len(replay) >= 1 and {"SOL", "BTC"} <= set(replay.columns)
    assert metric(at, "Instant crash P&L").startswith("$-")
    # the short SOL call loses more when implied volatility jumps further in the crash
    before = replay["P&L"].copy()
    at.slider(key="st_book_iv").set_value(150.0).run()
    assert not at.exception, at.exception
    after = table(at, "delta P&L")
    assert (after["P&L"] < before).all()
    np.testing.assert_allclose(after["delta P&L"], replay["delta P&L"])
    # back on the Positions page the book is the one entered, not the example
    at.switch_page(PAGE).run()
    assert "SOL call" in table(at, "maintenance margin").index


def test_the_simulator_charges_funding_on_the_perpetuals_chosen():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=300)
    at.run()
    at.switch_page(SIMULATOR).run()
    assert not at.exception, at.exception
    assert "Perpetuals: funding and margin" not in subheaders(at)
    at.multiselect(key="bt_perp").set_value(["BTC-USD"]).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Perpetuals: funding and margin" in subheaders(at)
    assert float(metric(at, "Funding paid").replace(",", "")) > 0
    metrics = table(at, "policy, all spot")
    assert metrics.loc["Total return", "policy"] != metrics.loc["Total return", "policy, all spot"]
    margin = [f for f in figures(at) if f["data"][0].get("name") == "equity − maintenance margin"]
    assert len(margin) == 1
    # without funding a perpetual earns what spot does (it is spot financed at a zero rate)
    at.number_input(key="bt_fund_bps_BTC-USD").set_value(0.0).run()
    metrics = table(at, "policy, all spot")
    assert metrics.loc["Total return", "policy"] == metrics.loc["Total return", "policy, all spot"]
    assert metric(at, "Funding paid") == "0.00"


def test_simulator_and_stress_run_with_the_book_on_fourteen_real_files(yahoo_daily_files):
    """Spot, a long perpetual on a calm coin, a short inverse perpetual on coin collateral
    and a covered call, on the 14 real Yahoo files."""
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    at.run()
    at.radio(key="source").set_value("Upload files").run()
    at.file_uploader(key="upload").set_value(
        [(f.name, f.read_bytes(), "text/csv") for f in yahoo_daily_files]).run()
    rows = ["name,instrument,underlying,quantity,price,strike,expiry,option_type,"
            "implied_volatility,settlement,collateral",
            "BTC spot,spot,BTC,1,,,,,,,", "LTC perp,linear_perpetual,LTC,300,,,,,,,",
            "ETH hedge,inverse_perpetual,ETH,-20000,,,,,,,8",
            "BTC call,option,BTC,-1,,150000,2030-12-27,call,0.6,usd,",
            "cash,cash,USD,30000,,,,,,,"]
    at.switch_page(PAGE).run()
    at.file_uploader(key="book_upload").set_value(
        ("book.csv", "\n".join(rows).encode(), "text/csv")).run()
    at.switch_page(STRESS).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    replay = table(at, "delta P&L")
    assert {"COVID crash (Mar 2020)", "FTX collapse (Nov 2022)"} <= set(replay.index)
    assert replay.loc["COVID crash (Mar 2020)", "BTC"] == pytest.approx(-0.437, abs=0.01)
    at.switch_page(SIMULATOR).run()
    at.multiselect(key="bt_perp").set_value(["LTC"]).run()  # uploads name coins by symbol
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert float(metric(at, "Funding paid").replace(",", "")) > 0
