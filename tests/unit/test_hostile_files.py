"""Hostile and odd files (issue 14), all generated here: each is read with the expected value or
refused with a message that names the real cause; only RiskcoreError ever leaves the reader.

Also the mixed real upload of issue 8: every daily upload plus the 14 Yahoo files in one call.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.errors import DataError, RiskcoreError
from riskcore.ingest import ReadLimits, load_files, read_prices

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
UPLOADS = DATA / "uploads"
YAHOO = DATA / "yahoo-daily"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def days(n: int, start: str = "2024-01-01") -> list[str]:
    return [f"{d:%Y-%m-%d}" for d in pd.date_range(start, periods=n)]


class FakeClock:
    """A clock that advances ``step`` seconds each time it is read."""

    def __init__(self, step: float) -> None:
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


# ----------------------------------------------------------------------------- generators


def zip_bomb(declared_bytes: int = 200_000_000) -> bytes:
    """A real .xlsx whose first sheet inflates to ``declared_bytes`` of repeated rows.

    Streamed through zipfile (deflate level 1) from an 8 MB chunk: nothing of that size is
    ever written to disk, and the archive is about 1.4 MB.
    """
    base = io.BytesIO()
    pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=3), "Close": [1.0, 2.0, 3.0]}
                 ).to_excel(base, index=False)
    row = b'<row><c t="inlineStr"><is><t>2024-01-01</t></is></c><c><v>1</v></c></row>'
    chunk = row * (8_000_000 // len(row))
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item.filename))
                continue
            with dst.open(item.filename, "w", force_zip64=True) as sheet:
                sheet.write(b'<?xml version="1.0"?><worksheet xmlns="http://schemas.'
                            b'openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
                for _ in range(declared_bytes // len(chunk)):
                    sheet.write(chunk)
                sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def wide_csv(n_columns: int, n_rows: int = 5) -> bytes:
    header = "Date," + ",".join(f"C{j}" for j in range(n_columns))
    body = "".join(f"{d}," + ",".join(["1.5"] * n_columns) + "\n" for d in days(n_rows))
    return (header + "\n" + body).encode()


@pytest.fixture(scope="module")
def bomb() -> bytes:
    return zip_bomb()


# ----------------------------------------------------------------------------- values


def test_inf_absurd_and_negative_cells_are_listed_with_line_raw_text_and_issue():
    text = ("Date,Close\n2024-01-01,inf\n2024-01-02,-inf\n2024-01-03,1e308\n2024-01-04,-5\n"
            "2024-01-05,2\n2024-01-06,Infinity\n2024-01-07,1e400\n2024-01-08,2e12\n")
    result = load_files([("BTC-USD.csv", text.encode())])
    bad = result.bad_values
    assert bad[["asset", "line", "value", "issue"]].values.tolist() == [
        ["BTC", 2, "inf", "infinite"], ["BTC", 3, "-inf", "infinite"],
        ["BTC", 4, "1e308", "too large"], ["BTC", 5, "-5", "negative"],
        ["BTC", 7, "Infinity", "infinite"], ["BTC", 8, "1e400", "infinite"],
        ["BTC", 9, "2e12", "too large"],
    ]
    prices = result.prices["BTC"]
    assert prices.notna().tolist() == [False, False, False, True, True, False, False, False]
    assert prices.loc[ts("2024-01-04")] == -5.0  # kept for the cleaning policy to decide
    assert "4 infinite and 2 too large (above 1e+12 USD) price cell(s) set to NaN" in \
        result.files.loc[0, "notes"]


def test_mixed_date_formats_are_decided_from_all_rows():
    text = "Date,Close\n01/02/2024,1\n2024-01-03,2\n13/01/2024,3\n"
    panel = read_prices(text.encode(), name="X.csv")
    # 13/01 proves day-first for the whole column; the ISO row stays year-month-day
    assert panel["X"].to_dict() == {ts("2024-01-03"): 2.0, ts("2024-01-13"): 3.0,
                                    ts("2024-02-01"): 1.0}
    monthfirst = "Date,Close\n2024-01-03,2\n01/02/2024,1\n01/13/2024,3\n"
    assert read_prices(monthfirst.encode(), name="X.csv").index[0] == ts("2024-01-02")


@pytest.mark.parametrize("text, message", [
    ("Date,Close\n2024-01-05,1\n01/02/2024,2\n03/04/2024,3\n",
     r"f\.csv: dates in column 'Date' are ambiguous \(line 3: '01/02/2024'\): is it day/month "
     r"or month/day\? No date has a day above 12"),
    ("Date,Close\n2024-01-05,1\n13/01/2024,2\n01/14/2024,3\n",
     r"f\.csv: column 'Date' mixes day/month and month/day dates \(line 3: '13/01/2024' is "
     r"day/month, line 4: '01/14/2024' is month/day\)"),
])
def test_undecidable_dates_are_refused_naming_the_ambiguity(text, message):
    with pytest.raises(DataError, match=message):
        read_prices(text.encode(), name="f.csv")


# ----------------------------------------------------------------------------- names

FORMULAS = ['=HYPERLINK("http://x", "y")', "=1+1", "+1+1", "-1+1", "@SUM(A1)",
            "![x](http://host/px.png)"]


def test_formula_and_markdown_names_in_a_wide_header_load_as_plain_names():
    header = "Date," + ",".join('"' + n.replace('"', '""') + '"' for n in FORMULAS)
    body = "".join(f"{d}," + ",".join(["2.5"] * len(FORMULAS)) + "\n" for d in days(3))
    result = load_files([("wide.csv", (header + "\n" + body).encode())])
    assert result.errors == ()
    expected = [n.upper() for n in FORMULAS]  # unknown coins: upper-cased, never interpreted
    assert list(result.prices.columns) == expected
    assert result.assets["source_name"].tolist() == FORMULAS
    assert result.assets["name"].tolist() == expected
    assert (result.prices == 2.5).all(axis=None)


@pytest.mark.parametrize("stem", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "![x](x.png)",
                                  "=HYPERLINK(x)"])
def test_formula_and_markdown_file_names_load_and_are_reported(stem):
    name = f"{stem}.csv"
    result = load_files([(name, b"Date,Close\n2024-01-01,1\n2024-01-02,2\n")])
    assert result.errors == ()
    assert list(result.prices.columns) == [stem.upper()]
    assert result.files.loc[0, "file"] == name
    assert result.files.loc[0, "assets"] == stem.upper()


def test_two_coinmarketcap_exports_stay_two_coins():
    # issue 14: both used to become COINMARKETCAP and the second was dropped as an overlap
    raw = (UPLOADS / "coinmarketcap_Bitcoin_2025.csv").read_bytes()
    files = [("Bitcoin_01_01_2012-04_10_2018_historical_data_coinmarketcap.csv", raw),
             ("Ethereum_01_01_2012-04_10_2018_historical_data_coinmarketcap.csv", raw)]
    result = load_files(files)
    assert list(result.prices.columns) == ["BTC", "ETH"]
    assert result.same_coin == {}


# ----------------------------------------------------------------------------- limits


def test_zip_bomb_refused_from_its_declared_size_before_parsing(bomb):
    assert len(bomb) < 3_000_000
    with zipfile.ZipFile(io.BytesIO(bomb)) as archive:
        assert sum(i.file_size for i in archive.infolist()) > 199_000_000
    with pytest.raises(DataError, match=r"bomb\.xlsx: the workbook expands to 200 MB in \d+ "
                                        r"parts when unzipped; at most 50 MB are read"):
        read_prices(bomb, name="bomb.xlsx")
    # the parse never starts: a clock that would run out at the first look is not reached
    result = load_files([("bomb.xlsx", bomb)], limits=ReadLimits(clock=FakeClock(1.0),
                                                                 seconds=1.5))
    assert "expands to 200 MB" in result.errors[0][1]


def test_small_workbook_within_limits_still_reads():
    frame = pd.DataFrame({"Date": pd.date_range("2024-01-01", periods=40),
                          "BTC-USD": np.arange(40.0) + 1})
    buffer = io.BytesIO()
    frame.to_excel(buffer, index=False)
    assert read_prices(buffer.getvalue(), name="p.xlsx")["BTC"].tolist() == list(frame["BTC-USD"])
    with pytest.raises(DataError, match=r"p\.xlsx: more than 20 rows in the first sheet"):
        read_prices(buffer.getvalue(), name="p.xlsx", limits=ReadLimits(max_rows=20))


def test_ten_thousand_columns_refused_before_splitting_cells():
    raw = wide_csv(10_000, n_rows=20)
    with pytest.raises(DataError, match=r"big\.csv: 10,001 columns; at most 2,000 columns "
                                        r"\(200 assets\) are read per file: every page "
                                        r"computes on each asset and each pair"):
        read_prices(raw, name="big.csv")


def test_more_assets_than_the_limit_refused_from_the_header():
    with pytest.raises(DataError, match=r"w\.csv: 300 assets; at most 200 assets are read per "
                                        r"upload"):
        read_prices(wide_csv(300), name="w.csv")


def test_asset_limit_counts_the_whole_upload():
    files = [("a.csv", wide_csv(150)), ("b.csv", wide_csv(40)), ("c.csv", wide_csv(20))]
    result = load_files(files)
    assert result.prices.shape[1] == 190
    assert [name for name, _ in result.errors] == ["c.csv"]
    assert "c.csv: not added: its 20 asset(s) would bring the upload to 210 assets; at most " \
           "200 assets are read per upload" in result.errors[0][1]


def test_row_and_cell_limits():
    raw = ("Date,Close\n" + "".join(f"{d},1\n" for d in days(50))).encode()
    with pytest.raises(DataError, match=r"r\.csv: 52 lines; at most 20 rows are read per file"):
        read_prices(raw, name="r.csv", limits=ReadLimits(max_rows=20))
    with pytest.raises(DataError, match=r"r\.csv: 51 rows x 2 columns = 102 cells; at most 100"):
        read_prices(raw, name="r.csv", limits=ReadLimits(max_cells=100))


def test_parse_time_budget_with_an_injected_clock():
    raw = wide_csv(60)
    with pytest.raises(DataError, match=r"t\.csv: reading stopped while reading column 'C\d+'"
                                        r": the parsing time budget of 30 s per upload is "
                                        r"used up"):
        read_prices(raw, name="t.csv", limits=ReadLimits(clock=FakeClock(1.0)))
    # a frozen clock never runs out
    assert read_prices(raw, name="t.csv", limits=ReadLimits(clock=FakeClock(0.0))).shape == \
        (5, 60)
    result = load_files([("t.csv", raw), ("BTC-USD.csv", wide_csv(1))],
                        limits=ReadLimits(clock=FakeClock(1.0)))
    assert [name for name, _ in result.errors] == ["t.csv", "BTC-USD.csv"]
    assert "BTC-USD.csv: not read: the parsing time budget of 30 s per upload was used up by " \
           "the files before it" == result.errors[1][1]


# ----------------------------------------------------------------------------- messages


def _cmc() -> str:
    return (UPLOADS / "coinmarketcap_Bitcoin_2025.csv").read_bytes().decode("utf-8-sig")


@pytest.mark.parametrize("style", ["naive", "doubled"])
def test_quoted_lines_coinmarketcap_export_is_read(style):
    lines = _cmc().splitlines()
    if style == "naive":  # each line wrapped as it is
        wrapped = ['"' + ln + '"' for ln in lines]
    else:  # a spreadsheet's way: inner quotes doubled
        wrapped = ['"' + ln.replace('"', '""') + '"' for ln in lines]
    raw = ("\ufeff" + "\r\n".join(wrapped) + "\r\n").encode("utf-8")
    name = "coinmarketcap_Bitcoin_2025.csv"
    result = load_files([(name, raw)])
    assert result.errors == ()
    original = read_prices(UPLOADS / name)
    pd.testing.assert_frame_equal(result.prices, original, check_freq=False)
    assert "every line was wrapped in quotes" in result.files.loc[0, "notes"]


def test_git_conflict_markers_are_named_with_their_line():
    text = ("Date,Close\n2024-01-01,1\n<<<<<<< HEAD\n2024-01-02,2\n=======\n2024-01-02,2.5\n"
            ">>>>>>> other-branch\n2024-01-03,3\n")
    with pytest.raises(DataError, match=r"f\.csv: line 3 is a git merge conflict marker "
                                        r"\('<<<<<<< HEAD'\): the file was saved in the middle "
                                        r"of a merge"):
        read_prices(text.encode(), name="f.csv")


def test_one_row_file_says_so():
    with pytest.raises(DataError, match=r"f\.csv: only one row of prices \(2024-01-01 00:00\); "
                                        r"at least two dates are needed"):
        read_prices(b"Date,Close\n2024-01-01,1\n", name="f.csv")


HOSTILE = {
    "inf.csv": b"Date,Close\n2024-01-01,inf\n2024-01-02,-inf\n",
    "dates.csv": b"Date,Close\n01/02/2024,1\n2024-01-03,2\n13/01/2024,3\n",
    "conflict.csv": b"Date,Close\n<<<<<<< HEAD\n2024-01-01,1\n=======\n>>>>>>> x\n",
    "one.csv": b"Date,Close\n2024-01-01,1\n",
    "quotes.csv": b'"Date;Close"\n"2024-01-01;1"\n"2024-01-02;2"\n',
    "wide10k.csv": wide_csv(10_000, n_rows=3),
    "nan.csv": b"Date,Close\n2024-01-01,nan\n2024-01-02,NaN\n",
    "markdown.csv": b"Date,![x](http://h/p.png)\n2024-01-01,1\n2024-01-02,2\n",
    "epoch-prices.csv": b"Date,Close\n2024-01-01,1704067200000\n2024-01-02,1704153600000\n",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_only_riskcore_errors_leave_the_reader(name):
    try:
        panel = read_prices(HOSTILE[name], name=name)
    except RiskcoreError as exc:
        assert name in str(exc) and "\n" not in str(exc)
    else:
        assert panel.shape[1] >= 1 and panel.index.is_monotonic_increasing
    result = load_files([(name, HOSTILE[name])])
    assert len(result.errors) + result.prices.shape[1] >= 1


def test_an_upload_that_is_not_bytes_is_refused_and_text_is_read():
    result = load_files([("a.csv", 5), ("b.csv", "Date,Close\n2024-01-01,1\n2024-01-02,2\n")])
    assert result.errors == (("a.csv", "a.csv: the upload holds a int, not the file's bytes"),)
    assert list(result.prices.columns) == ["B"]


# ----------------------------------------------------------------------------- mixed real upload


def _daily_uploads() -> list[tuple[str, bytes]]:
    return [(p.name, p.read_bytes()) for p in sorted(UPLOADS.iterdir())
            if "-1h-" not in p.name]


def test_every_daily_upload_and_the_yahoo_set_in_one_call():
    files = _daily_uploads() + [(p.name, p.read_bytes()) for p in sorted(YAHOO.glob("*.csv"))]
    assert len(files) == 11 + 14
    result = load_files(files)
    assert result.errors == ()
    btc = result.same_coin["BTC"]
    assert btc == ("BTC", "BTC (2)", "BTC (3)", "BTC (4)", "BTC (5)")
    holders = result.assets.set_index("default_name").loc[list(btc), "file"].tolist()
    assert holders == ["coingecko_btc-usd-max.csv", "coinmarketcap_Bitcoin_2025.csv",
                       "kaggle_coin_Bitcoin.csv", "wide-semicolon_crypto_prices.csv",
                       "BTC-USD.csv"]
    assert set(btc) <= set(result.prices.columns)  # kept as distinct assets by default
    assert {"ETH", "USDC", "SOL", "LUNA"} <= set(result.same_coin)
    assert result.conflicts.empty
    assert result.periods_per_year == 365
    # the user merges the five BTC series: one column, first file wins, overlaps reported
    merged = load_files(files, names={name: "BTC" for name in btc})
    everything = load_files(files, names=result.merge_same_coin())
    assert sorted(everything.prices.columns) == ["ADA", "ALGO", "AVAX", "BNB", "BTC", "DOGE",
                                                 "DOT", "ETH", "LINK", "LTC", "LUNA", "MATIC",
                                                 "SHIB", "SOL", "TRX", "USDC", "USDT", "XRP"]
    assert merged.errors == ()
    assert [c for c in merged.prices.columns if c.startswith("BTC")] == ["BTC"]
    assert merged.prices.shape[1] == result.prices.shape[1] - 4
    conflicts = merged.conflicts[merged.conflicts["asset"] == "BTC"]
    assert len(conflicts) > 0
    assert set(conflicts["kept_file"]) <= {name for name, _ in files}
    assert (conflicts["kept_file"] != conflicts["other_file"]).all()
    notes = merged.files.set_index("file")["notes"]
    assert "BTC: " in notes["kaggle_coin_Bitcoin.csv"]
    assert "overlap earlier files" in notes["BTC-USD.csv"]
    first_file = read_prices(UPLOADS / "coingecko_btc-usd-max.csv")["BTC"].dropna()
    np.testing.assert_array_equal(merged.prices["BTC"].reindex(first_file.index), first_file)
