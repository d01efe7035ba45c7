"""read_prices / load_files on the real upload files and on synthesized layouts."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.errors import DataError, RiskcoreError
from riskcore.ingest import LoadResult, load_files, read_prices

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
UPLOADS = DATA / "uploads"
YAHOO = DATA / "yahoo-daily"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def assert_panel(panel: pd.DataFrame) -> None:
    assert isinstance(panel.index, pd.DatetimeIndex)
    assert str(panel.index.tz) == "UTC"
    assert panel.index.name == "date"
    assert panel.index.is_monotonic_increasing and panel.index.is_unique
    assert all(dtype == np.float64 for dtype in panel.dtypes)


# ----------------------------------------------------------------------------- real files

# file -> (asset, [(date, close from the raw file)], rows in the panel, first, last)
REAL = {
    "binance-kline_BTCUSDT-1h-2022-01.csv": (
        "BTC", [("2022-01-01 00:00", 46656.13), ("2022-01-31 23:00", 38466.90)],
        744, "2022-01-01 00:00", "2022-01-31 23:00"),
    # CoinGecko: the 00:00 snapshot of day D is the close of day D-1 (labelled D-1)
    "coingecko_btc-usd-max.csv": (
        "BTC", [("2019-12-31", 7195.153895430029), ("2024-06-14", 66011.07873713733),
                    ("2025-01-13", 94456.3493746993)],
        4280, "2013-04-27", "2025-01-13"),
    "coingecko_sol-usd-max.csv": (
        "SOL", [("2020-04-10", 0.9576058280146803), ("2025-01-13", 183.11428850097792)],
        1740, "2020-04-10", "2025-01-13"),
    "coinmarketcap_Bitcoin_2025.csv": (
        "BTC", [("2025-09-01", 109250.5947969764), ("2025-10-07", 121451.3790703267),
                    ("2025-08-09", 116500.3620579945)],
        60, "2025-08-09", "2025-10-07"),
    "cryptodatadownload_Binance_BNBUSDT_d.csv": (
        "BNB", [("2020-03-12", 9.2566), ("2021-06-11", 350.62), ("2017-12-18", 6.0)],
        1272, "2017-12-18", "2021-06-11"),
    "kaggle_coin_Bitcoin.csv": (
        "BTC", [("2017-12-17", 19140.80078125), ("2021-01-01", 29374.15188907),
                ("2021-07-06", 34235.19345116)],
        2991, "2013-04-29", "2021-07-06"),
    "kaggle_coin_USDCoin.csv": (
        "USDC", [("2020-03-18", 0.970123943883), ("2021-07-06", 1.00005854)],
        1002, "2018-10-09", "2021-07-06"),
    "yahoo-classic_ETH-USD.csv": (
        "ETH", [("2020-04-16", 172.157379), ("2021-05-12", 3785.848633),
                    ("2021-09-27", 3111.590820)],
        1827, "2016-09-27", "2021-09-27"),
    "yahoo-classic_LUNA1-USD.csv": (
        "LUNA", [("2019-09-18", 1.042980), ("2021-09-27", 36.843578)],
        741, "2019-09-18", "2021-09-27"),
    "yfinance-lowercase_SHIB-USD_1d.csv": (
        "SHIB", [("2020-08-01", 0.0), ("2021-04-17", 1.9999999949504854e-06),
                     ("2025-02-20", 1.5382582205347717e-05)],
        1665, "2020-08-01", "2025-02-20"),
    "yfinance-lowercase_TRX-USD_1d.csv": (
        "TRX", [("2021-01-01", 0.0269399993121624), ("2025-02-20", 0.24265536665916443)],
        2661, "2017-11-09", "2025-02-20"),
}


@pytest.mark.parametrize("file_name", sorted(REAL))
def test_real_single_asset_files(file_name):
    asset, pins, n_rows, first, last = REAL[file_name]
    panel = read_prices(UPLOADS / file_name)
    assert_panel(panel)
    assert list(panel.columns) == [asset]
    assert len(panel) == n_rows
    assert panel.index[0] == ts(first) and panel.index[-1] == ts(last)
    for date, close in pins:
        assert panel.loc[ts(date), asset] == pytest.approx(close, rel=1e-12)


def test_every_upload_file_is_covered():
    assert set(REAL) | {"wide-semicolon_crypto_prices.csv"} == {
        p.name for p in UPLOADS.iterdir()
    }


def test_wide_semicolon_panel():
    panel = read_prices(UPLOADS / "wide-semicolon_crypto_prices.csv")
    assert_panel(panel)
    assert panel.shape == (1461, 14)
    assert panel.loc[ts("2020-01-01"), "BTC"] == pytest.approx(7200.17431640625)
    assert panel.loc[ts("2022-05-14"), "LUNA"] == pytest.approx(0.00045900000259280205)
    assert panel.loc[ts("2023-03-11"), "USDC"] == pytest.approx(0.9714999794960022)
    sol = panel["SOL"].dropna()
    assert sol.index[0] == ts("2021-09-20") and sol.index[-1] == ts("2022-10-09")
    assert panel["SOL"].isna().sum() == 1461 - len(sol)


def test_yahoo_classic_null_rows_are_kept_as_nan():
    panel = read_prices(UPLOADS / "yahoo-classic_ETH-USD.csv")
    assert np.isnan(panel.loc[ts("2020-04-17"), "ETH"])
    assert panel["ETH"].isna().sum() == 4
    result = load_files([("yahoo-classic_LUNA1-USD.csv",
                          (UPLOADS / "yahoo-classic_LUNA1-USD.csv").read_bytes())])
    assert len(result.bad_values) == 28
    assert set(result.bad_values["issue"]) == {"null"}
    assert "28 null" in result.files.loc[0, "notes"]


def test_coingecko_off_midnight_snapshots_reported():
    raw = (UPLOADS / "coingecko_btc-usd-max.csv").read_bytes()
    result = load_files([("coingecko_btc-usd-max.csv", raw)])
    notes = result.files.loc[0, "notes"]
    assert "4 off-midnight" in notes
    # 2017-06-06 23:29:55 and 2017-06-08 23:39:21 round onto the next midnight's snapshot
    dups = result.duplicates
    assert list(dups["date"]) == [ts("2017-06-06"), ts("2017-06-08")]
    assert list(dups["kept_value"]) == [2716.0588, 2817.0638]
    assert dups["dropped_values"].tolist() == [(2903.4438,), (2824.2038,)]
    # the missing 2013-06-04 snapshot is a NaN row, not a dropped day
    assert np.isnan(result.prices.loc[ts("2013-06-03"), "BTC"])


def test_shib_gaps_become_nan_rows():
    panel = read_prices(UPLOADS / "yfinance-lowercase_SHIB-USD_1d.csv")
    assert panel["SHIB"].isna().sum() == 41
    assert panel.loc[ts("2020-10-23"):ts("2020-10-27"), "SHIB"].isna().all()
    assert (panel["SHIB"] == 0.0).sum() == 217


def test_sources_path_bytes_and_file_object_agree():
    path = UPLOADS / "kaggle_coin_USDCoin.csv"
    from_path = read_prices(str(path))
    from_bytes = read_prices(path.read_bytes(), name=path.name)
    with path.open("rb") as handle:
        from_handle = read_prices(handle)
    pd.testing.assert_frame_equal(from_path, from_bytes)
    pd.testing.assert_frame_equal(from_path, from_handle)


def test_yahoo_daily_set_via_load_files():
    files = [(p.name, p.read_bytes()) for p in sorted(YAHOO.glob("*.csv"))]
    result = load_files(files)
    assert isinstance(result, LoadResult)
    assert result.errors == ()
    assert result.prices.shape[1] == 14
    assert result.periods_per_year == 365
    assert_panel(result.prices)
    first = result.prices.apply(lambda s: s.first_valid_index())
    assert first["BTC"] == ts("2014-09-17")
    assert first["SOL"] == ts("2020-04-10")
    assert first["AVAX"] == ts("2020-07-13")
    assert first["DOT"] == ts("2020-08-20")
    avax = result.prices["AVAX"]
    hole = avax.loc[ts("2020-07-14"):ts("2020-09-21")]
    assert len(hole) == 70 and hole.isna().sum() == 69
    assert "69 missing period" in result.files.set_index("file").loc["AVAX-USD.csv", "notes"]
    assert result.prices.loc[ts("2023-03-11"), "USDC"] == pytest.approx(0.9714999794960022)
    assert result.conflicts.empty


# ----------------------------------------------------------------------------- synthesized

OHLC = ("Date,Close,High,Low,Open,Volume\n"
        "2024-01-01,10.5,11,10,10,100\n2024-01-02,11.5,12,11,11,100\n")


def test_yfinance_multirow_header_single_and_multi_ticker():
    frame = pd.DataFrame(
        {("Close", "BTC-USD"): [42000.5, 43000.0], ("Close", "ETH-USD"): [2300.0, 2350.25],
         ("Volume", "BTC-USD"): [1, 2], ("Volume", "ETH-USD"): [3, 4]},
        index=pd.DatetimeIndex(["2024-01-01", "2024-01-02"], name="Date"),
    )
    frame.columns.names = ["Price", "Ticker"]
    panel = read_prices(frame.to_csv().encode(), name="whatever.csv")
    assert list(panel.columns) == ["BTC", "ETH"]
    assert panel.loc[ts("2024-01-02"), "ETH"] == 2350.25
    single = frame.loc[:, [("Close", "BTC-USD"), ("Volume", "BTC-USD")]]
    panel = read_prices(single.to_csv().encode(), name="x.csv")
    assert list(panel.columns) == ["BTC"]
    assert panel.iloc[0, 0] == 42000.5


def test_binance_without_header_in_micro_and_milliseconds():
    rows_us = "1735689600000000,1,2,0.5,93000.5,10,1735775999999999,0,0,0,0,0\n" \
              "1735776000000000,1,2,0.5,94000.25,10,1735862399999999,0,0,0,0,0\n"
    panel = read_prices(rows_us.encode(), name="BTCUSDT-1d-2025-01.csv")
    assert list(panel.columns) == ["BTC"]
    assert panel.index[0] == ts("2025-01-01")
    assert panel.loc[ts("2025-01-02"), "BTC"] == 94000.25
    rows_ms = rows_us.replace("000000,1,2", "000,1,2").replace("999999,0", "999,0")
    pd.testing.assert_frame_equal(read_prices(rows_ms.encode(), name="BTCUSDT-1d-2025-01.csv"),
                                  panel)


def test_long_panel_pivots_symbols():
    text = "date,symbol,close\n2024-01-01,BTC,42000\n2024-01-01,ETH,2300\n" \
           "2024-01-02,BTC,43000\n2024-01-02,ETH,2350\n2024-01-03,BTC,44000\n"
    panel = read_prices(text.encode(), name="long.csv")
    assert list(panel.columns) == ["BTC", "ETH"]
    assert panel.loc[ts("2024-01-03"), "BTC"] == 44000
    assert np.isnan(panel.loc[ts("2024-01-03"), "ETH"])


def test_xlsx_written_by_pandas():
    frame = pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=3),
                          "BTC-USD": [1.0, 2.0, 3.5], "ETH-USD": [4.0, 5.0, 6.0]})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    panel = read_prices(buffer.getvalue(), name="panel.xlsx")
    assert list(panel.columns) == ["BTC", "ETH"]
    assert panel.loc[ts("2024-01-03"), "BTC"] == 3.5


def test_banner_line_and_newest_first_with_mixed_epochs():
    text = ("https://www.CryptoDataDownload.com\n"
            "unix,date,symbol,open,high,low,close,Volume ETH,Volume USDT\n"
            "1704153600000,2024-01-02 00:00:00,ETH/USDT,1,1,1,2350.5,1,1\n"
            "1704067200.0,2024-01-01 00:00:00,ETH/USDT,1,1,1,2300.25,1,1\n")
    result = load_files([("Binance_ETHUSDT_d.csv", text.encode())])
    assert result.errors == ()
    panel = result.prices
    assert list(panel.columns) == ["ETH"]
    assert list(panel.index) == [ts("2024-01-01"), ts("2024-01-02")]
    assert panel.iloc[0, 0] == 2300.25
    assert "banner" in result.files.loc[0, "notes"]
    assert result.files.loc[0, "layout"] == "cryptodatadownload"


def test_ambiguous_dates_resolved_from_column_or_refused():
    dayfirst = "Date,Close\n03/04/2024,1\n13/04/2024,2\n14/04/2024,3\n"
    panel = read_prices(dayfirst.encode(), name="a.csv")
    assert panel.index[0] == ts("2024-04-03")
    monthfirst = "Date,Close\n03/04/2024,1\n03/13/2024,2\n"
    assert read_prices(monthfirst.encode(), name="a.csv").index[0] == ts("2024-03-04")
    ambiguous = "Date,Close\n03/04/2024,1\n04/04/2024,2\n05/04/2024,3\n"
    with pytest.raises(DataError, match=r"a\.csv: dates in column 'Date' are ambiguous.*"
                                        r"day/month or month/day"):
        read_prices(ambiguous.encode(), name="a.csv")


def test_thousands_separators_suffixes_and_currency():
    text = 'Date;Price\n2024-01-01;"3,242.10"\n2024-01-02;1.19M\n2024-01-03;$1,234\n' \
           "2024-01-04;2.5K\n"
    panel = read_prices(text.encode(), name="X.csv")
    assert panel["X"].tolist() == [3242.10, 1_190_000.0, 1234.0, 2500.0]
    decimal_comma = "Date;Close\n2024-01-01;0,5\n2024-01-02;1,25\n"
    assert read_prices(decimal_comma.encode(), name="Y.csv")["Y"].tolist() == [0.5, 1.25]


def test_generic_export_reports_columns_used():
    text = "Time (UTC),Last Price,Turnover\n2024-01-01 00:00,1.5,9\n2024-01-02 00:00,1.6,9\n"
    result = load_files([("SOL.csv", text.encode())])
    assert result.errors == ()
    assert result.files.loc[0, "columns_used"] == "date='Time (UTC)', price='Last Price'"
    assert result.files.loc[0, "layout"] == "date+price"


def test_intraday_native_or_daily():
    index = pd.date_range("2024-01-01", periods=240, freq="h", tz="UTC")
    frame = pd.DataFrame({"Close": np.arange(240.0) + 1}, index=index.rename("Datetime"))
    raw = frame.to_csv().encode()
    native = load_files([("BTC-USD.csv", raw)])
    assert native.periods_per_year == 8760
    assert native.prices.shape == (240, 1)
    daily = load_files([("BTC-USD.csv", raw)], frequency="daily")
    assert daily.periods_per_year == 365
    assert daily.prices["BTC"].tolist() == [24.0 * (d + 1) for d in range(10)]
    assert "resampled" in daily.files.loc[0, "notes"]


def test_overlapping_files_report_conflicts_first_file_wins():
    a = "Date,Close\n2024-01-01,10\n2024-01-02,11\n2024-01-03,12\n"
    b = "Date,Close\n2024-01-03,12.5\n2024-01-04,13\n"
    files = [("BTC-USD.csv", a.encode()), ("BTC-USD_1d.csv", b.encode())]
    kept_apart = load_files(files)
    assert list(kept_apart.prices.columns) == ["BTC", "BTC (2)"]
    assert kept_apart.same_coin == {"BTC": ("BTC", "BTC (2)")}
    assert kept_apart.conflicts.empty
    result = load_files(files, names={"BTC (2)": "BTC"})
    assert list(result.prices.columns) == ["BTC"]
    assert result.prices["BTC"].tolist() == [10, 11, 12, 13]
    conflict = result.conflicts.iloc[0]
    assert (conflict["kept_file"], conflict["kept_value"]) == ("BTC-USD.csv", 12.0)
    assert (conflict["other_file"], conflict["other_value"]) == ("BTC-USD_1d.csv", 12.5)
    assert len(result.conflicts) == 1
    notes = result.files.set_index("file")["notes"]
    assert "BTC: 1 timestamp(s) overlap earlier files, 1 with a different price" in notes[
        "BTC-USD_1d.csv"]
    assert "BTC (2) renamed BTC" in notes["BTC-USD_1d.csv"]
    assert result.same_coin == {"BTC": ("BTC", "BTC (2)")}  # detected whatever the names


def test_same_file_twice_is_reported_not_silent():
    result = load_files([("a.csv", OHLC.encode()), ("b.csv", OHLC.encode())],)
    assert result.conflicts.empty
    assert result.prices.shape == (2, 2)  # asset names come from the file names
    same = load_files([("BTC-USD.csv", OHLC.encode()), ("BTC-USD.csv", OHLC.encode())])
    assert list(same.prices.columns) == ["BTC", "BTC (2)"]  # never collapsed silently
    merged = load_files([("BTC-USD.csv", OHLC.encode()), ("BTC-USD.csv", OHLC.encode())],
                        names={"BTC (2)": "BTC"})
    assert merged.prices.shape == (2, 1) and merged.conflicts.empty
    assert "2 timestamp(s) overlap earlier files, 0 with a different price" in merged.files.loc[
        1, "notes"]


def test_files_and_assets_tables_show_default_and_final_names():
    files = [("coinmarketcap_Bitcoin_2025.csv", (UPLOADS / "coinmarketcap_Bitcoin_2025.csv")
              .read_bytes()),
             ("kaggle_coin_Bitcoin.csv", (UPLOADS / "kaggle_coin_Bitcoin.csv").read_bytes()),
             ("BTCUSDT-1d-2022-01.csv", b"Date,Close\n2022-01-01,1\n2022-01-02,2\n")]
    result = load_files(files, names={"BTC (3)": "BTC binance", "BTC": "BTC cmc"})
    assert result.errors == ()
    assert list(result.prices.columns) == ["BTC cmc", "BTC (2)", "BTC binance"]
    assert result.same_coin == {"BTC": ("BTC", "BTC (2)", "BTC (3)")}
    table = result.files.set_index("file")
    assert table.loc["kaggle_coin_Bitcoin.csv", "default_assets"] == "BTC (2)"
    assert table.loc["BTCUSDT-1d-2022-01.csv", "assets"] == "BTC binance"
    assert table.loc["BTCUSDT-1d-2022-01.csv", "default_assets"] == "BTC (3)"
    assert table.loc["BTCUSDT-1d-2022-01.csv", "quote"] == "USDT"
    assert table.loc["coinmarketcap_Bitcoin_2025.csv", "source_assets"] == "Bitcoin"
    assets = result.assets
    assert assets.columns.tolist() == ["file", "source_name", "default_name", "name", "symbol",
                                       "quote"]
    assert assets["symbol"].tolist() == ["BTC"] * 3
    assert assets["quote"].tolist() == ["", "", "USDT"]
    assert assets["name"].tolist() == list(result.prices.columns)


def test_two_assets_of_one_file_can_be_merged():
    text = "Date,BTC-USD,bitcoin,ETH-USD\n2024-01-01,10,,1\n2024-01-02,,11.5,2\n"
    result = load_files([("wide.csv", text.encode())])
    assert list(result.prices.columns) == ["BTC", "BTC (2)", "ETH"]
    assert result.same_coin == {"BTC": ("BTC", "BTC (2)")}
    merged = load_files([("wide.csv", text.encode())], names={"BTC (2)": "BTC"})
    assert merged.prices["BTC"].tolist() == [10.0, 11.5]
    assert list(merged.prices.columns) == ["BTC", "ETH"]


@pytest.mark.parametrize("names, message", [
    ({"BTC": ""}, r"names gives asset 'BTC' the name ''; a name must be non-empty text"),
    ({"BTC": "   "}, r"names gives asset 'BTC' the name '   '; a name must be non-empty"),
    ({"BTC": None}, r"names gives asset 'BTC' the name None"),
    ({"BTC": "cash"}, r"the name 'cash', which is reserved for the cash sleeve"),
    ({"DOGE": "X"}, r"names renames 'DOGE', which is not a loaded asset; the loaded assets "
                    r"are BTC"),
    (["BTC"], r"names is a list; it must map default asset names to new names"),
])
def test_invalid_renames_are_refused(names, message):
    with pytest.raises(DataError, match=message):
        load_files([("BTC-USD.csv", OHLC.encode())], names=names)


def test_one_bad_file_does_not_stop_the_others():
    result = load_files([("bad.csv", b"\x00\x01\x02binary"), ("BTC-USD.csv", OHLC.encode())])
    assert list(result.prices.columns) == ["BTC"]
    assert result.errors[0][0] == "bad.csv"
    assert "not a text file" in result.errors[0][1]


def test_mixed_native_frequencies_refused_per_file():
    hourly = pd.DataFrame({"Close": [1.0, 2.0, 3.0]},
                          index=pd.date_range("2024-01-01", periods=3, freq="h", name="Date"))
    result = load_files([("BTC-USD.csv", OHLC.encode() + b"2024-01-03,12,1,1,1,1\n"),
                         ("ETH-USD.csv", hourly.to_csv().encode())])
    assert result.errors[0][0] == "ETH-USD.csv"
    assert "choose daily" in result.errors[0][1]


def test_invalid_frequency():
    with pytest.raises(DataError, match="frequency is 'weekly'; allowed values"):
        load_files([], frequency="weekly")


@pytest.mark.parametrize("name, expected", [
    ("BTC-USD.csv", "BTC"), ("yahoo-classic_ETH-USD.csv", "ETH"),
    ("TRX-USD_1d.csv", "TRX"), ("btc-usd-max.csv", "BTC"),
    ("BTCUSDT-1h-2022-01.csv", "BTC"), ("prices.xlsx", "PRICES"),
    # issue 14: the coin, not the site; a pair gives its base symbol
    ("Bitcoin_01_01_2012-04_10_2018_historical_data_coinmarketcap.csv", "BTC"),
    ("Ethereum_01_01_2012-04_10_2018_historical_data_coinmarketcap.csv", "ETH"),
    ("BTCUSDC_1m_20230301_20230321.csv", "BTC"), ("coinmarketcap_Bitcoin_2025.csv", "BTC"),
    ("kaggle_coin_Bitcoin.csv", "BTC"), ("coingecko_avalanche-2-max.csv", "AVAX"),
    ("Bitcoin Historical Data.csv", "BTC"), ("chainlink.csv", "LINK"),
])
def test_asset_name_from_file_name(name, expected):
    panel = read_prices(b"Date,Close\n2024-01-01,1\n2024-01-02,2\n", name=name)
    assert list(panel.columns) == [expected]


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("raw, message", [
    (b"", r"f\.csv: the file is empty"),
    (b"   \n\n", r"f\.csv: the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", r"f\.csv: not a text file"),
    (b"Open,Close\n1,2\n3,4\n", r"f\.csv: no date column found \(columns: Open, Close\)"),
    (b"Date,Note\n2024-01-01,abc\n2024-01-02,def\n", r"f\.csv: no numeric price column"),
    (b"Date,Close\n2024-01-01,abc\n2024-01-02,def\n",
     r"f\.csv: column 'Close' has no numeric price in 2 rows"),
    (b"Date,Open,Close\n2024-01-01,1,2\n2024-01-02,1",
     r"f\.csv: the file is cut off mid-line at line 3 \(2 of 3 fields\)"),
    (b"Date,Close\n2024-01-01,1\n2024-01-02,1,5,6\n",
     r"f\.csv: line 3 has 4 fields but the header has 2"),
    (b"Date,Close\n2024-01-01,1\nnot a date,2\n",
     r"f\.csv: line 3: 'not a date' in column 'Date' is not a date"),
    (b"Date,Close\n", r"f\.csv: the file has a header but no data rows"),
    (b"just one line of text\n", r"f\.csv: no separated columns found"),
    (b"PK\x03\x04garbage", r"f\.csv: not a readable \.xlsx workbook"),
])
def test_refusals_name_the_file_and_place(raw, message):
    with pytest.raises(DataError, match=message):
        read_prices(raw, name="f.csv")


def test_bad_source_type():
    with pytest.raises(DataError, match="source is a int; allowed are a path, bytes"):
        read_prices(42)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="nope.csv: cannot open the file"):
        read_prices(Path("/nonexistent/nope.csv"))


def test_errors_are_value_errors():
    assert issubclass(DataError, RiskcoreError) and issubclass(RiskcoreError, ValueError)


def test_investing_com_style_export():
    text = ('"Date","Price","Open","High","Low","Vol.","Change %"\n'
            '"Jan 02, 2024","45,897.5","44,180.0","45,899.1","44,176.9","90.36K","3.89%"\n'
            '"Jan 01, 2024","44,180.0","42,280.2","44,187.0","42,196.2","46.23K","4.49%"\n')
    result = load_files([("Bitcoin Historical Data.csv", text.encode())])
    assert result.errors == ()
    panel = result.prices
    assert list(panel.index) == [ts("2024-01-01"), ts("2024-01-02")]
    assert panel.iloc[:, 0].tolist() == [44180.0, 45897.5]
    assert result.files.loc[0, "columns_used"] == "date='Date', price='Price'"


@pytest.mark.parametrize("raw, message", [
    (b"Date,Close\n2024-01-01,1\n1850-01-01,2\n",
     r"f\.csv: line 3: '1850-01-01' in column 'Date' is outside the years 1970-2099"),
    (b"unix,close\n1704067200,1\n1704153600,2\n2024-01-03,3\n",
     r"f\.csv: line 4: '2024-01-03' in column 'unix' is not an epoch timestamp like the other"),
    (b"time,close\n1704067200,1\n17,2\n",
     r"f\.csv: line 3: '17' in column 'time' is not an epoch timestamp \(seconds, milli"),
    (b"Date,Close\n2024-01-01,1\n,2\n", r"f\.csv: line 3: the date \('Date'\) is empty"),
    (b"Date,Close\n2024-01-01,\"1\n2024-01-02,2\n",
     r"f\.csv: a quoted field is never closed"),
    (b"Date,Close\n01/13/2024,1\n13/01/2024,2\n",
     r"f\.csv: column 'Date' mixes day/month and month/day dates"),
    (b"date,symbol,close\n2024-01-01,BTC,1\n2024-01-02,,2\n",
     r"f\.csv: line 3: the 'symbol' cell is empty"),
])
def test_more_refusals(raw, message):
    with pytest.raises(DataError, match=message):
        read_prices(raw, name="f.csv")


def test_xlsx_with_yahoo_classic_layout_via_load_files():
    frame = pd.read_csv(UPLOADS / "yahoo-classic_ETH-USD.csv", nrows=30)
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False, sheet_name="ETH")
    result = load_files([("ETH-USD.xlsx", buffer.getvalue())])
    assert result.errors == ()
    assert result.files.loc[0, "columns_used"] == "date='Date', price='Adj Close'"
    assert result.prices.loc[ts("2016-09-27"), "ETH"] == pytest.approx(13.098300)
    assert len(result.prices) == 30


@pytest.mark.parametrize("stamp, label", [
    ("23:59:59", "2024-01-01"),  # close time (Kaggle's original export)
    ("16:00:00", "2024-01-02"),  # local midnight of UTC+8
    ("05:00:00", "2024-01-01"),  # local midnight of UTC-5
])
def test_daily_off_midnight_stamps_labelled_by_date(stamp, label):
    text = "Date,Close\n" + "".join(f"2024-01-0{d} {stamp},{d}\n" for d in range(1, 5))
    result = load_files([("X.csv", text.encode())])
    assert result.prices.index[0] == ts(label)
    assert result.prices["X"].tolist() == [1.0, 2.0, 3.0, 4.0]
    assert "4 off-midnight timestamp(s) labelled by date" in result.files.loc[0, "notes"]


def test_cryptodatadownload_unix_timestamp_header():
    text = ("Unix Timestamp,Date,Symbol,Open,High,Low,Close,Volume\n"
            "1586304000,2020-04-08 00-AM,BTCUSD,1,1,1,7300.5,1\n"
            "1586217600,2020-04-07 00-AM,BTCUSD,1,1,1,7200.25,1\n")
    result = load_files([("gemini_BTCUSD_d.csv", text.encode())])
    assert result.files.loc[0, "layout"] == "cryptodatadownload"
    assert result.prices["BTC"].tolist() == [7200.25, 7300.5]


def test_duplicates_keep_the_latest_observation_in_newest_first_files():
    text = "Date,Close\n2024-01-03,3\n2024-01-02,2.5\n2024-01-02 00:00:00,2\n2024-01-01,1\n"
    result = load_files([("X.csv", text.encode())])
    # equal stamps: the later line of the file wins and the other is reported
    assert result.prices["X"].tolist() == [1.0, 2.0, 3.0]
    assert result.duplicates["dropped_values"].tolist() == [(2.5,)]
