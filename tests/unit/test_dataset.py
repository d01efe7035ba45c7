"""The data pipeline shared by the pages and the command line: selection, cleaning, window."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskcore
from riskcore.dataset import DEFAULT_CLEANING, prepare_dataset
from riskcore.errors import DataError
from riskcore.ingest import load_files
from riskcore.quality import QualityPolicy
from riskcore.window import common_window_note

UPLOADS = Path("../shared/data/uploads")


def panel(values: dict[str, list[float]], start: str = "2024-01-01") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    index = pd.date_range(start, periods=n, freq="D", tz="UTC", name="date")
    return pd.DataFrame(values, index=index, dtype=float)


def test_default_window_on_the_demo_is_every_date_and_every_coin():
    prices = riskcore.demo_prices()
    data = prepare_dataset(prices, source="demo", notes=("simulated",))
    assert data.window.start == prices.index[0]
    assert data.window.as_of == prices.index[-1]
    pd.testing.assert_frame_equal(data.prices, prices)
    pd.testing.assert_frame_equal(data.history, prices)
    assert data.periods_per_year == 365
    assert data.volume is None
    assert (data.tradable == prices.notna()).all().all()
    assert (data.source, data.notes) == ("demo", ("simulated",))


def test_window_and_selection_cut_prices_and_history():
    prices = riskcore.demo_prices()
    data = prepare_dataset(prices, assets=["ETH-USD", "BTC-USD"], start="2022-01-01",
                           as_of="2023-06-30")
    assert list(data.prices.columns) == ["ETH-USD", "BTC-USD"]
    assert data.prices.index[0] == pd.Timestamp("2022-01-01", tz="UTC")
    assert data.prices.index[-1] == data.history.index[-1] == pd.Timestamp("2023-06-30", tz="UTC")
    assert data.history.index[0] == prices.index[0]  # estimates may look back before the start
    assert data.panel.index[-1] == prices.index[-1]


def test_an_unknown_selected_coin_is_refused_by_name():
    with pytest.raises(DataError, match="no prices for SOL in the data"):
        prepare_dataset(panel({"BTC": [1, 2, 3]}), assets=["BTC", "SOL"])


def test_a_coin_the_cleaning_empties_is_left_out_and_named():
    frame = panel({"BTC": [1.0, 2.0, 3.0, 4.0], "BAD": [0.0, 0.0, -1.0, 0.0]})
    data = prepare_dataset(frame)  # the dashboard's default drops non-positive prices
    assert data.empty_assets == ("BAD",)
    assert list(data.prices.columns) == ["BTC"]
    kept = prepare_dataset(frame, policy=None)
    assert kept.empty_assets == () and list(kept.prices.columns) == ["BTC", "BAD"]
    assert DEFAULT_CLEANING.nonpositive == "drop"


def test_nothing_left_after_cleaning_is_an_error():
    with pytest.raises(DataError, match="none of the selected coins has a price after cleaning"):
        prepare_dataset(panel({"BAD": [0.0, 0.0, 0.0]}))


def test_a_coin_without_a_price_inside_the_window_is_left_out_with_a_note():
    frame = panel({"BTC": [1.0, 2, 3, 4, 5, 6], "OLD": [1.0, 2, np.nan, np.nan, np.nan, np.nan]})
    data = prepare_dataset(frame, start="2024-01-04", as_of="2024-01-06")
    assert list(data.prices.columns) == list(data.history.columns) == ["BTC"]
    assert any("No price inside the window for OLD" in n for n in data.window_notes)


def test_prices_made_by_cleaning_are_not_tradable():
    frame = panel({"BTC": [1.0, 2, np.nan, np.nan, 5, 6], "ETH": [1.0, 1, 1, 1, 1, 1.1]})
    data = prepare_dataset(frame, policy=QualityPolicy(missing="ffill", ffill_limit=5))
    assert data.prices["BTC"].tolist() == [1, 2, 2, 2, 5, 6]
    assert data.tradable["BTC"].tolist() == [True, True, False, False, True, True]
    assert data.tradable["ETH"].all()


def test_hourly_volume_becomes_usd_per_day():
    name = "binance-kline_BTCUSDT-1h-2022-01.csv"
    result = load_files([(name, (UPLOADS / name).read_bytes())])
    data = prepare_dataset(result.prices, volume=result.volume)
    assert data.periods_per_year == 8_760
    expected = result.volume.reindex(index=data.history.index, columns=["BTC"]) * 24.0
    pd.testing.assert_frame_equal(data.volume, expected)


def test_daily_uploads_keep_volume_per_day_on_the_history_dates():
    names = ["coingecko_btc-usd-max.csv", "yahoo-classic_ETH-USD.csv"]
    result = load_files([(n, (UPLOADS / n).read_bytes()) for n in names])
    data = prepare_dataset(result.prices, volume=result.volume)
    assert data.window.as_of == pd.Timestamp("2021-09-27", tz="UTC")  # ETH's file ends then
    assert data.volume.index.equals(data.history.index)
    assert len(data.history) < len(result.prices.loc[:data.window.as_of])  # empty rows dropped
    pd.testing.assert_frame_equal(data.volume, result.volume.reindex(data.history.index))


def test_common_window_note_names_late_listings_and_early_ends():
    frame = panel({"BTC": [1.0, 2, 3, 4], "NEW": [np.nan, 1, 2, 3], "DEAD": [1.0, 2, 3, np.nan]})
    assert common_window_note(frame) == (
        "Common window of all 3 assets: 2024-01-02 → 2024-01-03 (2 periods). Later listings: "
        "NEW from 2024-01-02. Ending early: DEAD on 2024-01-03.")
    apart = panel({"A": [1.0, np.nan], "B": [np.nan, 1.0]})
    assert "never all trade at the same time" in common_window_note(apart)
