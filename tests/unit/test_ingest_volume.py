"""Traded volume read by load_files: USD per period, aligned with the price panel.

Every pinned volume below was read by hand from the raw file (``head``/``tail`` of the CSV),
not from the loader.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.ingest import LoadResult, load_files, read_prices

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
UPLOADS = DATA / "uploads"
YAHOO = DATA / "yahoo-daily"
BINANCE = "binance-kline_BTCUSDT-1h-2022-01.csv"
CDD = "cryptodatadownload_Binance_BNBUSDT_d.csv"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def load_one(name: str, raw: bytes | None = None, **kwargs) -> LoadResult:
    data = (UPLOADS / name).read_bytes() if raw is None else raw
    result = load_files([(name, data)], **kwargs)
    assert result.errors == ()
    return result


# file -> (asset, label of the bar, USD volume in the raw file, volume column reported)
PINNED = {
    BINANCE: ("BTC", "2022-01-01 00:00", 69879986.39049930, "Quote asset volume (USDT)"),
    # CoinGecko's snapshot at 2025-01-14 00:00 is the close (and 24 h volume) of 2025-01-13
    "coingecko_btc-usd-max.csv": ("BTC", "2025-01-13", 76328330233.31137,
                                  "total_volume (USD)"),
    "coingecko_sol-usd-max.csv": ("SOL", "2020-04-10", 92672667.43447028,
                                  "total_volume (USD)"),
    "coinmarketcap_Bitcoin_2025.csv": ("BTC", "2025-10-07", 76149412513.03, "volume (USD)"),
    CDD: ("BNB", "2021-06-10", 872882198.949866, "Volume USDT (USDT)"),
    "kaggle_coin_Bitcoin.csv": ("BTC", "2021-07-06", 26501259869.76, "Volume (USD)"),
    "kaggle_coin_USDCoin.csv": ("USDC", "2018-10-09", 108803.0, "Volume (USD)"),
    "yahoo-classic_ETH-USD.csv": ("ETH", "2021-09-27", 18973048832.0, "Volume (USD)"),
    "yahoo-classic_LUNA1-USD.csv": ("LUNA", "2019-09-18", 722895.0, "Volume (USD)"),
    "yfinance-lowercase_SHIB-USD_1d.csv": ("SHIB", "2020-08-01", 1604789.0,
                                           "volume (USD)"),
    "yfinance-lowercase_TRX-USD_1d.csv": ("TRX", "2017-11-09", 2924350.0, "volume (USD)"),
}


@pytest.mark.parametrize("name", sorted(PINNED))
def test_real_upload_volume_in_usd(name):
    asset, date, usd, used = PINNED[name]
    result = load_one(name)
    assert result.volume.loc[ts(date), asset] == pytest.approx(usd, rel=1e-12)
    assert result.files.loc[0, "volume"] == used


@pytest.mark.parametrize("name", sorted(p.name for p in UPLOADS.iterdir()))
def test_volume_panel_follows_the_price_panel(name):
    result = load_one(name)
    volume, prices = result.volume, result.prices
    assert volume.index.equals(prices.index)
    assert list(volume.columns) == [c for c in prices.columns if c in volume.columns]
    assert all(dtype == np.float64 for dtype in volume.dtypes)
    assert not (volume < 0).any(axis=None)


def test_wide_panel_has_no_volume():
    result = load_one("wide-semicolon_crypto_prices.csv")
    assert result.volume.shape == (len(result.prices), 0)
    assert result.volume.index.equals(result.prices.index)
    assert result.files.loc[0, "volume"] == "none"


def test_fourteen_yahoo_files_give_a_fourteen_column_volume_panel():
    files = [(p.name, p.read_bytes()) for p in sorted(YAHOO.glob("*.csv"))]
    result = load_files(files)
    assert result.volume.shape == result.prices.shape == (3801, 14)
    assert list(result.volume.columns) == list(result.prices.columns)
    assert result.volume.index.equals(result.prices.index)
    assert set(result.files["volume"]) == {"Volume (USD)"}
    # BTC-USD.csv first line: 2014-09-17,457.33...,21056800
    assert result.volume.loc[ts("2014-09-17"), "BTC"] == 21056800.0
    # before a coin lists, and on AVAX's 69-day hole, the volume is unknown like the price
    assert np.array_equal(result.volume.isna().to_numpy(), result.prices.isna().to_numpy())


def test_base_unit_volume_is_converted_with_the_same_rows_close():
    # the real CryptoDataDownload file without its quote column: only "Volume BNB" is left
    frame = pd.read_csv(UPLOADS / CDD, dtype=str)
    raw = frame.drop(columns="Volume USDT").to_csv(index=False).encode()
    result = load_one(CDD, raw)
    assert result.files.loc[0, "volume"] == "Volume BNB x close (USDT)"
    # 2021-06-10: Volume BNB 2417974.6499, close 351.94
    assert result.volume.loc[ts("2021-06-10"), "BNB"] == pytest.approx(
        2417974.6499 * 351.94, rel=1e-12
    )
    # coins x close is close to the exchange's own quote volume (which uses each trade's price)
    quote = load_one(CDD).volume["BNB"]
    ratio = result.volume["BNB"] / quote
    assert abs(ratio.median() - 1) < 0.01
    assert ratio.between(0.7, 1.3).mean() > 0.95


def test_binance_volume_without_quote_column_counts_coins():
    lines = (UPLOADS / BINANCE).read_text().splitlines()
    six = "\n".join(",".join(line.split(",")[:6]) for line in lines) + "\n"
    result = load_one(BINANCE, six.encode())
    assert result.files.loc[0, "volume"] == "Volume x close (USDT)"
    # first bar: Volume 1503.33095 BTC, close 46656.13
    assert result.volume.iloc[0, 0] == pytest.approx(1503.33095 * 46656.13, rel=1e-12)
    headerless = "\n".join(",".join(line.split(",")[:6]) for line in lines[1:]) + "\n"
    assert load_one(BINANCE, headerless.encode()).volume.iloc[0, 0] == pytest.approx(
        1503.33095 * 46656.13, rel=1e-12
    )


def test_binance_without_header_uses_the_quote_volume_column():
    body = "\n".join((UPLOADS / BINANCE).read_text().splitlines()[1:]) + "\n"
    result = load_one(BINANCE, body.encode())
    assert result.files.loc[0, "volume"] == "quote asset volume (USDT)"
    assert result.volume.iloc[0, 0] == pytest.approx(69879986.39049930, rel=1e-12)


def hourly_quote_volumes() -> list[tuple[int, float]]:
    with open(UPLOADS / BINANCE, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [(int(r[0]), float(r[7])) for r in rows]


def test_hourly_volume_resampled_to_daily_is_the_sum_of_24_hours():
    result = load_one(BINANCE, frequency="daily")
    day_start = int(ts("2022-01-15").timestamp() * 1000)
    bars = [v for t, v in hourly_quote_volumes() if day_start <= t < day_start + 86_400_000]
    assert len(bars) == 24
    assert result.volume.loc[ts("2022-01-15"), "BTC"] == pytest.approx(sum(bars),
                                                                            rel=1e-12)
    assert result.volume.shape == (31, 1)
    assert result.volume.index.equals(result.prices.index)
    assert "volumes summed over each day's bars" in result.files.loc[0, "notes"]
    # the month's volume is unchanged by resampling
    total = sum(v for _, v in hourly_quote_volumes())
    assert result.volume["BTC"].sum() == pytest.approx(total, rel=1e-12)


def test_a_day_with_missing_hours_sums_the_hours_it_has_and_says_so():
    lines = (UPLOADS / BINANCE).read_text().splitlines()
    raw = ("\n".join(lines[:5] + lines[8:]) + "\n").encode()  # 03:00-05:00 of Jan 1 missing
    result = load_one(BINANCE, raw, frequency="daily")
    kept = [v for k, (_, v) in enumerate(hourly_quote_volumes()[:24]) if k not in (4, 5, 6)]
    assert result.volume.loc[ts("2022-01-01"), "BTC"] == pytest.approx(sum(kept), rel=1e-12)
    assert "(1 day(s) with the volume of only some bars)" in result.files.loc[0, "notes"]


def test_zero_volume_is_kept_and_counted():
    result = load_one("kaggle_coin_Bitcoin.csv")
    assert result.volume.loc[ts("2013-04-29"), "BTC"] == 0.0  # raw: ...,144.539...,0.0,...
    notes = result.files.loc[0, "notes"]
    assert "242 zero volume(s) kept (market impact treats them as unknown)" in notes


def test_negative_volume_becomes_nan_with_a_note_naming_the_line():
    text = (UPLOADS / "yahoo-classic_ETH-USD.csv").read_text()
    text = text.replace(",13.274800,13.274800,10239000", ",13.274800,13.274800,-10239000")
    result = load_one("yahoo-classic_ETH-USD.csv", text.encode())
    assert np.isnan(result.volume.loc[ts("2016-09-28"), "ETH"])
    assert result.prices.loc[ts("2016-09-28"), "ETH"] == 13.2748  # the price is kept
    assert "1 negative volume(s) set to NaN (line 3)" in result.files.loc[0, "notes"]


def test_null_volume_cells_are_nan_and_counted():
    result = load_one("yahoo-classic_LUNA1-USD.csv")
    assert "28 null or non-numeric volume cell(s) kept as NaN" in result.files.loc[0, "notes"]
    assert result.volume["LUNA"].isna().sum() == result.prices["LUNA"].isna().sum()


def test_volume_follows_its_row_through_sorting_and_duplicates():
    raw = (
        b"Date,Close,Volume\n"
        b"2024-01-03,3,300\n2024-01-01,1,100\n2024-01-02,2,200\n2024-01-02,2.5,250\n"
    )
    result = load_files([("X-USD.csv", raw)])
    assert result.volume["X"].tolist() == [100.0, 250.0, 300.0]  # latest duplicate wins
    assert result.prices["X"].tolist() == [1.0, 2.5, 3.0]


def test_volume_text_formats_are_parsed():
    raw = b'Date,Close,Volume\n2024-01-01,1,"1,234"\n2024-01-02,2,1.5M\n2024-01-03,3,null\n'
    result = load_files([("X-USD.csv", raw)])
    assert result.volume["X"].tolist()[:2] == [1234.0, 1.5e6]
    assert np.isnan(result.volume["X"].iloc[2])


def test_yfinance_multiheader_volume_per_ticker():
    raw = (
        b"Price,Close,Close,Volume,Volume\n"
        b"Ticker,BTC-USD,ETH-USD,BTC-USD,ETH-USD\n"
        b"Date,,,,\n"
        b"2024-01-01,42000,2300,1000,500\n"
        b"2024-01-02,43000,2400,2000,600\n"
    )
    result = load_files([("multi.csv", raw)])
    assert result.volume.loc[ts("2024-01-02")].to_dict() == {"BTC": 2000.0,
                                                            "ETH": 600.0}
    assert result.files.loc[0, "volume"] == "Volume (USD)"


def test_long_panel_volume_per_symbol():
    raw = (
        b"date,symbol,close,volume\n"
        b"2024-01-01,BTC,42000,1000\n2024-01-01,ETH,2300,500\n"
        b"2024-01-02,BTC,43000,2000\n2024-01-02,ETH,2400,\n"
    )
    result = load_files([("long.csv", raw)])
    assert result.volume.loc[ts("2024-01-01")].to_dict() == {"BTC": 1000.0, "ETH": 500.0}
    assert np.isnan(result.volume.loc[ts("2024-01-02"), "ETH"])


def test_merging_first_file_wins_and_mixed_sources_are_named():
    files = [
        ("wide.csv", (UPLOADS / "wide-semicolon_crypto_prices.csv").read_bytes()),
        ("BTC-USD.csv", (YAHOO / "BTC-USD.csv").read_bytes()),
        ("coingecko_btc-usd-max.csv", (UPLOADS / "coingecko_btc-usd-max.csv").read_bytes()),
    ]
    result = load_files(files, names={"BTC (2)": "BTC", "BTC (3)": "BTC"})
    notes = result.files.set_index("file")["notes"]
    assert list(result.volume.columns) == ["BTC"]
    assert result.volume.index.equals(result.prices.index)
    # Yahoo's volume (second file) sits under the wide panel's prices (first file)
    assert "BTC: volume of this file kept at 1461 timestamp(s) whose price comes from " \
           "another file" in notes["BTC-USD.csv"]
    assert result.volume.loc[ts("2014-09-17"), "BTC"] == 21056800.0  # Yahoo kept
    # CoinGecko only fills the days before Yahoo's first row, and says so
    assert "volume from this file fills 507 timestamp(s)" in notes["coingecko_btc-usd-max.csv"]
    assert result.volume.loc[ts("2013-04-27"), "BTC"] == 0.0  # CoinGecko's first row


def test_read_prices_is_unchanged_and_volume_defaults_to_empty():
    prices = read_prices(UPLOADS / "kaggle_coin_Bitcoin.csv")
    assert list(prices.columns) == ["BTC"]
    result = LoadResult(prices=prices, files=pd.DataFrame(), conflicts=pd.DataFrame(),
                        errors=(), periods_per_year=365)
    assert result.volume.empty
    assert list(load_files([]).files.columns) == [
        "file", "layout", "assets", "default_assets", "source_assets", "quote", "columns_used",
        "volume", "rows_read", "first", "last", "frequency", "notes",
    ]
    assert load_files([]).volume.shape == (0, 0)


def test_volume_feeds_the_backtest_market_impact():
    from riskcore import CostModel, RebalancePolicy, run_backtest

    files = [(p.name, p.read_bytes()) for p in sorted(YAHOO.glob("*.csv"))
             if p.name in ("BTC-USD.csv", "ETH-USD.csv")]
    result = load_files(files)
    prices = result.prices.loc["2024-01-01":"2024-03-31"]
    volume = result.volume.loc[prices.index]
    policy = RebalancePolicy(target=pd.Series({"BTC": 0.5, "ETH": 0.5}), frequency="D")
    costs = CostModel(impact=0.5)  # marginal cost 1.5 x impact stays below 1 per USD
    with_volume = run_backtest(prices, policy, costs, volume=volume, initial_value=1e9)
    without = run_backtest(prices, policy, costs, initial_value=1e9)
    assert with_volume.costs.sum() > 0 == without.costs.sum()

