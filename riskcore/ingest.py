"""Read user price files (CSV or Excel exports of exchanges and data sites) into a price panel.

The layout is recognized from the content, never from the file name: Yahoo Finance classic and
yfinance CSVs (including lower-case re-saves and yfinance's multi-row MultiIndex headers),
CoinGecko, CoinMarketCap, CryptoDataDownload, Kaggle "Cryptocurrency Historical Prices",
Binance klines (with or without header), wide panels (one column per coin), long panels
(``date, symbol, close``), and any other table with a recognizable date column and a close or
price column. Every file ends up as the price panel of ``docs/ARCHITECTURE.md``.

Conventions (the rules a reader of a loaded panel can rely on)
----------------------------------------------------------------
- Timestamps are UTC. Naive timestamps are taken as UTC; offsets are converted to UTC.
- A daily bar is labelled by the date on which it opens (00:00 UTC), like Yahoo Finance: the
  price stored at ``2024-01-01`` is the close of the day that starts at 2024-01-01 00:00 UTC.
  Binance klines use their *open time*; CoinMarketCap uses ``timeOpen``; CryptoDataDownload
  uses ``unix`` (the open time, epoch seconds, milliseconds or microseconds, decided per value).
  CoinGecko's ``snapped_at`` is a point-in-time price: a snapshot at 00:00 UTC on day D is the
  close of day D-1 and is labelled D-1.
- Daily files (median spacing one day): a timestamp off midnight is moved to the nearest
  midnight (CoinGecko's 23:29 snapshots, a UTC+8 local midnight at 16:00 UTC), except a time in
  the day's last minute (``23:59:59``, a close time), which keeps its date; listed in the notes.
- Duplicate timestamps within one file: the latest observation wins (the later timestamp before
  rounding, else the later line of the file); every duplicate is reported by :func:`load_files`.
- Rows are sorted oldest first (newest-first exports are common). On a regular 24/7 grid
  (daily with weekends, or intraday) missing periods are inserted as NaN rows; daily data on a
  weekday-only calendar is left as it is.
- Null price cells (``null``, empty, ``NaN``, ``-``) and non-numeric text become NaN: the row is
  kept, never dropped. Blank cells of a wide panel before an asset's first or after its last
  price mean "not listed" and are not counted as null.
- Separator (``,`` ``;`` tab ``|``) is sniffed from the first lines; a UTF-8 BOM is ignored;
  ``.xlsx`` workbooks (recognized by their ZIP signature) are read from the first sheet.
- Price column: ``Adj Close`` if present, else ``Close`` (any ``close...`` column that is not a
  time), else ``price``/``last``/``rate``. The columns used are reported by :func:`load_files`.
- Null price cells (see above) are listed in :attr:`LoadResult.bad_values` with their line and
  raw text, and so is every cell that cannot be a price: ``inf``/``-inf`` or a number too large
  to be represented (``1e400``) -> issue ``"infinite"``, set to NaN; a magnitude above
  :data:`MAX_PRICE` -> ``"too large"``, set to NaN; a negative price -> ``"negative"``, KEPT in
  the panel so that :func:`riskcore.quality.clean_prices` decides (its ``nonpositive`` policy).
- Dates in day/month or month/day form are decided from ALL rows of the column: a first field
  above 12 anywhere makes the whole column day-first, a second field above 12 month-first;
  both, or neither while some day and month differ, refuses the file naming the line. Rows that
  start with a four-digit year are always year-month-day.
- Asset names (see :func:`riskcore.assets.coin_identity` for the identity rule): the source
  name is a symbol column in the content (Kaggle ``Symbol``, CryptoDataDownload ``symbol``,
  long panels), the column names of a wide panel or the ``Ticker`` row of a yfinance header;
  otherwise it comes from the file name: the stem without a Binance Vision
  ``-<interval>-YYYY-MM`` suffix and trailing ``_1d``/``-max``/``_d``/``_2025``-style
  suffixes, split at ``_``; numbers, dates, intervals and site words (``historical``,
  ``data``, ``coinmarketcap``, ``coin``...) are dropped; the first part that names a known
  coin or a pair wins, else the last part left (``yahoo-classic_ETH-USD.csv`` -> ``ETH-USD``,
  ``Bitcoin_01_01_2012-04_10_2018_historical_data_coinmarketcap.csv`` -> ``Bitcoin``,
  ``BTCUSDC_1m_20230301_20230321.csv`` -> ``BTCUSDC``). The panel names each asset by the
  base symbol of its source name (``BTC``, ``ETH``), its *default name*.
- Same coin twice: when several assets (in one file or across the files of one
  :func:`load_files` call) have the same base symbol, the first keeps the symbol and the
  others are named ``"<symbol> (2)"``, ``"<symbol> (3)"``... in load order; they are never
  merged silently. :attr:`LoadResult.same_coin` lists each such group, and
  ``load_files(..., names={"BTC (2)": "BTC"})`` merges them (first file wins, overlaps and
  conflicts reported) or renames any asset.

Limits (a shared server must not be tied up by one small upload)
----------------------------------------------------------------
Checked before the expensive step they protect; each refusal says what, how much and why.
The defaults are :data:`DEFAULT_LIMITS` (:class:`ReadLimits`):

- :data:`MAX_ASSETS` = 200 assets per upload: every page computes on each asset and each pair
  of assets (a 200 x 200 covariance is fine; 10,000 coins take minutes per page and megabytes
  of charts per rerun). Checked on a wide file's header line before the file is split into
  cells, and on each file's assets before any value is parsed.
- :data:`MAX_COLUMNS` = 2,000 columns per file (a yfinance download of 200 tickers with 6
  fields each fits), checked on the first lines before the file is split into cells.
- :data:`MAX_ROWS` = 1,000,000 rows per file (about two years of 1-minute bars) and
  :data:`MAX_CELLS` = 10,000,000 cells (rows x columns), counted on the raw lines before the
  file is split into cells. Text cells cost about 85 bytes each while a file is read: a year
  of 1-minute Binance klines (525,600 rows x 12 columns, 52 MB) takes about 10 s and 520 MB.
- :data:`MAX_XLSX_BYTES` = 50 MB: the sum of the uncompressed sizes an ``.xlsx`` declares in
  its ZIP directory, read with :mod:`zipfile` before any XML is parsed (a 0.75 MB workbook that
  expands to 219 MB took 243 s of CPU; the declared sizes bound what :mod:`zipfile` will
  inflate, so a lying directory fails its size check instead).
- :data:`PARSE_SECONDS` = 30 s of parsing per :func:`load_files` call (all files together),
  checked between steps and every few thousand rows of a workbook; a file that runs out of
  time is refused, and the files after it are refused without being read.

Volume (:attr:`LoadResult.volume`)
----------------------------------
- Unit: quote currency (USD, or the USD stablecoin the pair is quoted in) traded per period,
  the unit of the ``volume`` argument of :func:`riskcore.backtest.run_backtest`.
- Column used, in this order: a quote-volume column (Binance ``Quote asset volume``,
  ``quote_volume``, CryptoCompare ``volumeto``); a ``Volume <code>`` column whose code is a USD
  currency (CryptoDataDownload ``Volume USDT``); a plain ``Volume``/``volume``/``total_volume``
  column, taken as USD as Yahoo Finance (crypto tickers), yfinance, CoinGecko, CoinMarketCap and
  Kaggle write it (except in Binance klines, where ``Volume`` counts coins); otherwise a volume
  counted in coins (CryptoDataDownload ``Volume BNB``, Binance ``Volume`` without the quote
  column, CryptoCompare ``volumefrom``), converted to quote currency as volume x the close of
  the same row. The column and the conversion are reported by :func:`load_files`. A file with
  a plain ``Volume`` that counts coins (some exchange exports) cannot be told apart and is read
  as USD.
- A volume follows its row through every step of the prices (sorting, date labels, duplicates,
  inserted missing periods). A negative volume is a data error: it becomes NaN and is listed
  in the file's notes. A zero volume is kept (a dead day, or an early day whose volume was not
  recorded); the notes count them, and the market-impact cost treats it as unknown.
- Intraday files resampled to daily: volumes are summed over the day's bars (a day with some
  bars missing sums the bars it has; the notes count such days).
- Merging: for each asset and timestamp the first file that has a volume wins, like prices.
  Where the kept volume comes from a different file than the kept price, or several files
  supply an asset's volume, the notes of the file that supplied it say so: sources count volume
  differently (one exchange, or all exchanges), so the two series may not be comparable.
"""

from __future__ import annotations

import contextvars
import csv
import io
import re
import time
import warnings
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from riskcore.assets import CASH, KNOWN_SYMBOLS, CoinIdentity, coin_identity
from riskcore.errors import DataError, RiskcoreError
from riskcore.periods import infer_periods_per_year

__all__ = [
    "DEFAULT_LIMITS",
    "MAX_ASSETS",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "MAX_PRICE",
    "MAX_ROWS",
    "MAX_XLSX_BYTES",
    "PARSE_SECONDS",
    "LoadResult",
    "ReadLimits",
    "load_files",
    "read_prices",
]

#: Most assets read from one upload (one :func:`load_files` call) or one file. Every page
#: computes on each asset and each pair of assets; see the module notes.
MAX_ASSETS = 200
#: Most columns in one file, checked on its first lines before it is split into cells.
MAX_COLUMNS = 2_000
#: Most rows in one file (about two years of 1-minute bars), counted on the raw bytes.
MAX_ROWS = 1_000_000
#: Most cells (rows x columns) in one file, counted before the file is split into cells.
MAX_CELLS = 10_000_000
#: Largest total uncompressed size (bytes) an ``.xlsx`` may declare in its ZIP directory.
MAX_XLSX_BYTES = 50_000_000
#: Parsing time budget (seconds) of one :func:`load_files` or :func:`read_prices` call.
PARSE_SECONDS = 30.0
#: Largest absolute price (USD per unit) read as a price; larger cells are "too large". No
#: coin has traded above about 1e6 USD; 1e12 also catches epoch milliseconds read as prices.
MAX_PRICE = 1e12


@dataclass(frozen=True)
class ReadLimits:
    """Resource limits of the reader (defaults: the module constants).

    Attributes
    ----------
    max_assets : int
        Most assets per upload (:data:`MAX_ASSETS`).
    max_columns : int
        Most columns per file (:data:`MAX_COLUMNS`).
    max_rows : int
        Most rows per file (:data:`MAX_ROWS`).
    max_cells : int
        Most cells (rows x columns) per file (:data:`MAX_CELLS`).
    max_xlsx_bytes : int
        Largest declared uncompressed size of an ``.xlsx``, bytes (:data:`MAX_XLSX_BYTES`).
    seconds : float
        Parsing time budget per call, seconds (:data:`PARSE_SECONDS`).
    clock : callable returning float
        Monotonic clock in seconds (:func:`time.monotonic`); tests inject a fake one.
    """

    max_assets: int = MAX_ASSETS
    max_columns: int = MAX_COLUMNS
    max_rows: int = MAX_ROWS
    max_cells: int = MAX_CELLS
    max_xlsx_bytes: int = MAX_XLSX_BYTES
    seconds: float = PARSE_SECONDS
    clock: Callable[[], float] = time.monotonic


#: The limits used when none are given.
DEFAULT_LIMITS = ReadLimits()


class _Budget:
    """The limits and the parsing deadline of the current call (held in a context variable)."""

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.deadline = limits.clock() + limits.seconds

    def check(self, label: str, step: str) -> None:
        if self.limits.clock() > self.deadline:
            raise DataError(
                f"{label}: reading stopped while {step}: the parsing time budget of "
                f"{self.limits.seconds:g} s per upload is used up (the server is shared); "
                "upload a smaller file, fewer files, or save the data as a plain CSV"
            )


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "riskcore_ingest_budget", default=None
)


def _budget() -> _Budget:
    budget = _BUDGET.get()
    return budget if budget is not None else _Budget(DEFAULT_LIMITS)


def _check_time(label: str, step: str) -> None:
    budget = _BUDGET.get()
    if budget is not None:
        budget.check(label, step)


_SEPARATORS = (",", ";", "\t", "|")
_NULL_TOKENS = frozenset({"", "null", "nan", "none", "na", "n/a", "#n/a", "-", "--", "nil"})
_DATE_NAMES = (
    "date", "datetime", "timestamp", "time", "snappedat", "timeopen", "opentime", "day",
    "unix", "unixtime", "unixtimestamp", "opentimestamp", "tradedate", "period", "dt", "index",
)
_PRICE_NAMES = (
    "adjclose", "adjustedclose", "close", "closeprice", "closingprice", "price", "last",
    "lastprice", "rate",
)
_SYMBOL_NAMES = ("symbol", "ticker", "asset", "coin", "pair", "instrument")
_NON_ASSET_FIELDS = frozenset({
    "open", "high", "low", "close", "adjclose", "volume", "price", "marketcap", "totalvolume",
    "tradecount", "quoteassetvolume", "numberoftrades", "ignore", "sno", "name", "symbol",
    "closetime", "timeclose", "timehigh", "timelow", "timestamp", "vwap", "change",
    "takerbuybaseassetvolume", "takerbuyquoteassetvolume", "unix", "dividends", "stocksplits",
})
_BINANCE_INTERVAL = re.compile(
    r"^(.+?)-(?:1s|1m|3m|5m|15m|30m|1h|2h|4h|6h|8h|12h|1d|3d|1w|1mo)-\d{4}-\d{2}(?:-\d{2})?$",
    re.IGNORECASE,
)
_STEM_SUFFIX = re.compile(
    r"[_\-. ](?:\d+(?:m|h|d|w|mo|min)|d|h|daily|hourly|weekly|max|all|history|historical|"
    r"prices?|data|\d{4}(?:-\d{2})?)$",
    re.IGNORECASE,
)
_USD_CODES = ("FDUSD", "BUSD", "TUSD", "USDT", "USDC", "USDP", "USD", "DAI")
_QUOTE_VOLUME_NAMES = frozenset({"quoteassetvolume", "quotevolume", "volumequote", "volumeto"})
_PLAIN_VOLUME_NAMES = frozenset({"volume", "totalvolume", "vol", "volume24h", "volumeusd"})
_BASE_VOLUME_NAMES = frozenset({"basevolume", "volumebase", "volumefrom"})
_NUMBER_SUFFIX = {"K": 1e3, "M": 1e6, "B": 1e9, "BN": 1e9, "T": 1e12}
_DMY = re.compile(r"^\s*(\d{1,4})[/.\-](\d{1,2})[/.\-](\d{1,4})\b")


@dataclass(frozen=True)
class _Parsed:
    """One file read: its panel and what was done to it (internal)."""

    prices: pd.DataFrame
    layout: str
    columns_used: str
    rows_read: int
    notes: tuple[str, ...]
    duplicates: pd.DataFrame
    bad_values: pd.DataFrame
    volume: pd.DataFrame
    volume_used: str


@dataclass(frozen=True)
class LoadResult:
    """Several uploaded files read and merged into one price panel, with a report.

    Attributes
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Merged price panel (UTC ``DatetimeIndex`` named ``date``, float64 USD prices, NaN where
        a file had no price). Columns are the final asset names: the default names (base
        symbols, ``"BTC (2)"`` for a second BTC) after the ``names`` renames.
    files : pandas.DataFrame
        One row per file read, for display (names joined by ``", "``; a name may itself hold
        a comma, so use ``assets`` below for exact names): ``file``, ``layout``, ``assets``
        (final names), ``default_assets`` (default names), ``source_assets`` (names as written in
        the file or taken from its name), ``quote`` (quote currencies named by the source
        names, e.g. ``"USDT"``; empty when not named), ``columns_used``, ``volume`` (the
        volume column and its unit, e.g. ``"total_volume (USD)"``,
        ``"Quote asset volume (USDT)"``, ``"Volume BNB x close (USDT)"`` for a volume counted
        in coins and converted, or ``"none"``), ``rows_read``, ``first``, ``last``,
        ``frequency`` (native bar length), ``notes``.
    conflicts : pandas.DataFrame
        Timestamps where two files give different prices for the same asset: ``asset``,
        ``date``, ``kept_file``, ``kept_value``, ``other_file``, ``other_value``. The file
        listed first wins; later files only fill timestamps the earlier ones lack.
    errors : tuple of (str, str)
        ``(file name, message)`` for every file refused.
    periods_per_year : int or None
        :func:`riskcore.periods.infer_periods_per_year` of the merged panel; None when fewer
        than two timestamps were loaded.
    duplicates : pandas.DataFrame
        Duplicate timestamps inside one file: ``file``, ``asset``, ``date``, ``count``,
        ``kept_value``, ``dropped_values``.
    bad_values : pandas.DataFrame
        Price cells that are not usable prices: ``file``, ``asset`` (final name), ``line``,
        ``value`` (the raw text) and ``issue``: ``"null"`` (explicit missing marker),
        ``"non-numeric"``, ``"infinite"``, ``"too large"`` (above :data:`MAX_PRICE`) -- all
        four read as NaN -- or ``"negative"`` (kept in the panel; see the module notes).
    volume : pandas.DataFrame of shape (n_periods, n_assets_with_volume)
        Traded volume in quote currency (USD) per period (per day for daily data, the day's
        bars summed when resampled to daily), float64; the same index as ``prices`` and one
        column per asset whose file has a volume (a subset of ``prices.columns``, in the same
        order); NaN where unknown or negative in the file. Pass it as the ``volume`` of
        :func:`riskcore.backtest.run_backtest`. Empty (no columns) when no file has a volume.
        The rules are in the module notes.
    assets : pandas.DataFrame
        One row per asset of each file read, in load order: ``file``, ``source_name`` (as in
        the file), ``default_name``, ``name`` (final name, a column of ``prices``), ``symbol``
        and ``quote`` (:func:`riskcore.assets.coin_identity` of the source name; ``quote``
        is ``""`` when the name does not say). The table to offer renames and merges on.
    same_coin : dict of str to tuple of str
        Base symbol -> the default names of the assets that hold it, for every symbol held by
        two or more assets (``{"BTC": ("BTC", "BTC (2)")}``). Detected whatever ``names`` says.
    """

    prices: pd.DataFrame
    files: pd.DataFrame
    conflicts: pd.DataFrame
    errors: tuple[tuple[str, str], ...]
    periods_per_year: int | None
    duplicates: pd.DataFrame = field(default_factory=pd.DataFrame)
    bad_values: pd.DataFrame = field(default_factory=pd.DataFrame)
    volume: pd.DataFrame = field(default_factory=pd.DataFrame)
    assets: pd.DataFrame = field(default_factory=pd.DataFrame)
    same_coin: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def merge_same_coin(self) -> dict[str, str]:
        """Return the ``names`` of :func:`load_files` that merges every same-coin group.

        Returns
        -------
        dict of str to str
            Every default name of each :attr:`same_coin` group -> the group's symbol, e.g.
            ``{"BTC": "BTC", "BTC (2)": "BTC", "USDC (2)": "USDC", ...}``; pass it (or the
            user's edit of it) back with the same files to merge them.
        """
        return {name: symbol for symbol, group in self.same_coin.items() for name in group}


_FILE_COLUMNS = ["file", "layout", "assets", "default_assets", "source_assets", "quote",
                 "columns_used", "volume", "rows_read", "first", "last", "frequency", "notes"]
_ASSET_COLUMNS = ["file", "source_name", "default_name", "name", "symbol", "quote"]


# --------------------------------------------------------------------------- public API


def read_prices(
    source: str | Path | bytes | bytearray | BinaryIO,
    *,
    name: str | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Read one price file (CSV or ``.xlsx``) of any supported layout into a price panel.

    Parameters
    ----------
    source : str, pathlib.Path, bytes or binary file object
        The file: a path, its raw bytes, or an open binary file (an upload).
    name : str, optional
        The file name, used in error messages and, for single-asset files without a symbol in
        their content, to name the asset (see the module notes). Defaults to the path's name,
        the file object's ``name`` attribute, or ``"upload"``.
    limits : ReadLimits, default DEFAULT_LIMITS
        Resource limits and parsing time budget (see the module notes).

    Returns
    -------
    pandas.DataFrame of shape (n_periods, n_assets)
        Price panel: sorted, unique, tz-aware UTC ``DatetimeIndex`` named ``date``; one float64
        column of USD prices per asset, named by its default name (base symbol, see the
        module notes); NaN where the file had a null, non-numeric, infinite or too large price.
        Newest-first files are sorted; duplicate timestamps keep the latest observation.

    Raises
    ------
    DataError
        If the file is not text, is empty, is cut off mid-line, has rows with more fields than
        its header, has no date column, an unreadable or ambiguous date (naming the line), no
        numeric price column, only one row of prices, git conflict markers, or exceeds a
        limit (naming it). No other exception escapes.

    Notes
    -----
    Layout conventions (which timestamp labels a bar, which column is the close) are listed
    in the module docstring. Parsing uses :func:`pandas.read_csv`, :mod:`openpyxl` and
    :func:`pandas.to_datetime` (McKinney, *Python for Data Analysis*, 2022).
    """
    raw, label = _source_bytes(source, name)
    token = _BUDGET.set(_Budget(limits))
    try:
        parsed = _read_guarded(raw, label)
    finally:
        _BUDGET.reset(token)
    sources = list(parsed.prices.columns)
    defaults, _, _ = _default_names([(label, s) for s in sources])
    return parsed.prices.set_axis(defaults, axis=1)


def load_files(
    files: Sequence[tuple[str, bytes]],
    *,
    frequency: str = "native",
    names: Mapping[str, str] | None = None,
    limits: ReadLimits = DEFAULT_LIMITS,
) -> LoadResult:
    """Read several uploaded files and merge them into one price panel, with a full report.

    Parameters
    ----------
    files : sequence of (str, bytes)
        ``(file name, raw bytes)`` pairs, e.g. from ``st.file_uploader``.
    frequency : {"native", "daily"}, default "native"
        ``"native"`` keeps each file's bar length (all files must share it; a file with a
        different bar length is refused with that reason). ``"daily"`` resamples intraday
        files to UTC daily closes: the last price in ``[D 00:00, D+1 00:00)`` labelled D,
        and the sum of the volumes of those bars.
    names : mapping of str to str, optional
        Default asset name -> the name wanted (``{"BTC (2)": "BTC"}``). Assets given the same
        final name are merged in file order: the first file wins, later files fill the
        timestamps it lacks, overlaps are noted and different prices listed in
        ``conflicts``. Assets not named keep their default name.
    limits : ReadLimits, default DEFAULT_LIMITS
        Resource limits and the parsing time budget of this call (see the module notes).

    Returns
    -------
    LoadResult
        Merged panel, its volume panel (USD per period), one report row per file and per
        asset, groups of assets holding the same coin, conflicts between files, refused
        files, duplicates and unusable price cells, and ``periods_per_year`` of the panel.

    Raises
    ------
    DataError
        For an invalid ``frequency`` or ``names`` (a name that is not a default asset name,
        an empty new name, or the reserved name ``"cash"``); a bad file is reported in
        ``errors`` and does not stop the others.
    """
    if frequency not in ("native", "daily"):
        raise DataError(f"frequency is {frequency!r}; allowed values are 'native' and 'daily'")
    renames = _check_names(names)
    budget = _Budget(limits)
    token = _BUDGET.set(budget)
    try:
        parsed_files, errors = _read_all(files, budget)
    finally:
        _BUDGET.reset(token)
    # native frequency: the bar length of most files (ties: the earliest file) is used
    freqs = [f for _, p, f in parsed_files if len(p.prices) > 1]
    native_freq = max(freqs, key=freqs.count) if freqs else None
    kept: list[tuple[str, _Parsed, pd.DataFrame, pd.DataFrame, list[str]]] = []
    for file_name, parsed, freq in parsed_files:
        panel, volume = parsed.prices, parsed.volume
        notes = list(parsed.notes)
        if frequency == "daily" and _is_intraday(panel.index):
            panel = panel.resample("1D", label="left", closed="left").last()
            panel.index.name = "date"
            notes.append(f"resampled from {freq} bars to UTC daily closes ({len(panel)} days)")
            volume = _daily_volume(volume, panel.index, parsed.prices.index, notes)
        elif frequency == "native" and len(panel) > 1 and freq != native_freq:
            errors.append((
                file_name,
                f"{file_name}: its bars are {freq} but most files are {native_freq}; "
                "choose daily frequency to combine them",
            ))
            continue
        kept.append((file_name, parsed, panel, volume, notes))
    # names: default names by coin identity, then the user's renames
    entries = [(f, str(a)) for f, _, panel, _, _ in kept for a in panel.columns]
    defaults, identities, same_coin = _default_names(entries)
    unknown = sorted(set(renames) - set(defaults))
    if unknown:
        raise DataError(
            f"names renames {', '.join(map(repr, unknown))}, which "
            f"{'is not a loaded asset' if len(unknown) == 1 else 'are not loaded assets'}; "
            f"the loaded assets are {', '.join(defaults) or 'none'}"
        )
    finals = [renames.get(d, d) for d in defaults]
    asset_rows = [
        {"file": f, "source_name": s, "default_name": d, "name": n, "symbol": i.symbol,
         "quote": i.quote or ""}
        for (f, s), d, n, i in zip(entries, defaults, finals, identities, strict=True)
    ]
    rows: list[dict[str, Any]] = []
    loaded: list[tuple[str, pd.DataFrame]] = []
    volumes: list[tuple[str, pd.DataFrame]] = []
    dups: list[pd.DataFrame] = []
    bads: list[pd.DataFrame] = []
    position = 0
    for file_name, parsed, panel, volume, notes in kept:
        mine = asset_rows[position: position + panel.shape[1]]
        position += panel.shape[1]
        final = {r["source_name"]: r["name"] for r in mine}
        for source, target in final.items():  # one entry per asset: two may share a name
            loaded.append((file_name, panel[source].to_frame(target)))
            if source in volume.columns:
                volumes.append((file_name, volume[source].to_frame(target)))
        renamed = [f"{r['default_name']} renamed {r['name']}" for r in mine
                   if r["name"] != r["default_name"]]
        for table, out in ((parsed.duplicates, dups), (parsed.bad_values, bads)):
            if len(table):
                out.append(table.assign(file=file_name, asset=table["asset"].map(final)))
        quotes = list(dict.fromkeys(r["quote"] for r in mine if r["quote"]))
        rows.append({
            "file": file_name,
            "layout": parsed.layout,
            "assets": ", ".join(r["name"] for r in mine),
            "default_assets": ", ".join(r["default_name"] for r in mine),
            "source_assets": ", ".join(r["source_name"] for r in mine),
            "quote": ", ".join(quotes),
            "columns_used": parsed.columns_used,
            "volume": parsed.volume_used,
            "rows_read": parsed.rows_read,
            "first": panel.index.min() if len(panel) else pd.NaT,
            "last": panel.index.max() if len(panel) else pd.NaT,
            "frequency": _frequency_label(parsed.prices.index),
            "notes": "; ".join(notes + renamed),
        })
    prices, conflicts, overlaps, owners = _merge(loaded)
    volume = _merge_volume(volumes, prices, owners, overlaps)
    for row in rows:
        extra = overlaps.get(row["file"], [])
        row["notes"] = "; ".join([n for n in [row["notes"], *extra] if n])
    try:
        ppy: int | None = infer_periods_per_year(prices.index)
    except RiskcoreError:
        ppy = None
    return LoadResult(
        prices=prices,
        files=pd.DataFrame(rows, columns=_FILE_COLUMNS),
        conflicts=conflicts,
        errors=tuple(errors),
        periods_per_year=ppy,
        duplicates=_concat(dups, ["file", "asset", "date", "count", "kept_value",
                                  "dropped_values"]),
        bad_values=_concat(bads, ["file", "asset", "line", "value", "issue"]),
        volume=volume,
        assets=pd.DataFrame(asset_rows, columns=_ASSET_COLUMNS),
        same_coin=same_coin,
    )


def _read_all(
    files: Sequence[tuple[str, bytes]], budget: _Budget
) -> tuple[list[tuple[str, _Parsed, str]], list[tuple[str, str]]]:
    """Read each file within the upload's limits; refused files go to the error list."""
    parsed_files: list[tuple[str, _Parsed, str]] = []
    errors: list[tuple[str, str]] = []
    n_assets = 0
    out_of_time = False
    max_assets = budget.limits.max_assets
    for file_name, raw in files:
        label = str(file_name)
        if out_of_time:
            errors.append((label, f"{label}: not read: the parsing time budget of "
                                  f"{budget.limits.seconds:g} s per upload was used up by the "
                                  "files before it"))
            continue
        try:
            if isinstance(raw, str):
                raw = raw.encode("utf-8")
            if not isinstance(raw, (bytes, bytearray, memoryview)):
                raise DataError(
                    f"{label}: the upload holds a {type(raw).__name__}, not the file's bytes"
                )
            parsed = _read_guarded(bytes(raw), label)
        except RiskcoreError as exc:
            errors.append((label, str(exc)))
            out_of_time = "parsing time budget" in str(exc)
            continue
        n_new = parsed.prices.shape[1]
        if n_assets + n_new > max_assets:
            errors.append((label, (
                f"{label}: not added: its {n_new} asset(s) would bring the upload to "
                f"{n_assets + n_new} assets; at most {max_assets} assets are read per upload "
                "(every page computes on each asset and each pair of assets)"
            )))
            continue
        n_assets += n_new
        parsed_files.append((label, parsed, _frequency_label(parsed.prices.index)))
    return parsed_files, errors


def _check_names(names: Mapping[str, str] | None) -> dict[str, str]:
    """Validate the ``names`` argument of :func:`load_files`: default name -> final name."""
    if names is None:
        return {}
    if not isinstance(names, Mapping):
        raise DataError(
            f"names is a {type(names).__name__}; it must map default asset names to new names"
        )
    out: dict[str, str] = {}
    for key, value in names.items():
        if not isinstance(value, str) or not value.strip():
            raise DataError(
                f"names gives asset {key!r} the name {value!r}; a name must be non-empty text"
            )
        if value.strip() == CASH:
            raise DataError(
                f"names gives asset {key!r} the name {CASH!r}, which is reserved for the cash "
                "sleeve; choose another name"
            )
        out[str(key)] = value.strip()
    return out


def _default_names(
    entries: Sequence[tuple[str, str]],
) -> tuple[list[str], list[CoinIdentity], dict[str, tuple[str, ...]]]:
    """Name each ``(file, source name)`` by its base symbol; later holders get ``" (k)"``.

    Returns the default names, the identities and the same-coin groups (symbol -> names).
    """
    identities = [coin_identity(source) for _, source in entries]
    used: set[str] = set()
    count: dict[str, int] = {}
    defaults: list[str] = []
    for ident in identities:
        symbol = ident.symbol or "ASSET"
        k = count.get(symbol, 0) + 1
        candidate = symbol if k == 1 else f"{symbol} ({k})"
        while candidate in used:
            k += 1
            candidate = f"{symbol} ({k})"
        count[symbol] = k
        used.add(candidate)
        defaults.append(candidate)
    groups: dict[str, list[str]] = {}
    for ident, default in zip(identities, defaults, strict=True):
        groups.setdefault(ident.symbol or "ASSET", []).append(default)
    same = {s: tuple(g) for s, g in groups.items() if len(g) > 1}
    return defaults, identities, same


# --------------------------------------------------------------------------- file to table


def _source_bytes(source: Any, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), name or "upload"
    if isinstance(source, (str, Path)):
        path = Path(source)
        try:
            return path.read_bytes(), name or path.name
        except OSError as exc:
            raise DataError(f"{name or path.name}: cannot open the file ({exc.strerror})") from exc
    read = getattr(source, "read", None)
    if read is None:
        raise DataError(
            f"source is a {type(source).__name__}; allowed are a path, bytes or a binary file"
        )
    data = read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    label = name or Path(str(getattr(source, "name", "upload"))).name
    if not isinstance(data, (bytes, bytearray)):
        raise DataError(f"{label}: the file object returned {type(data).__name__}, not bytes")
    return bytes(data), label


def _read_guarded(raw: bytes, label: str) -> _Parsed:
    """Read one file; any failure becomes a one-line DataError naming the file."""
    try:
        return _read_one(raw, label)
    except RiskcoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - contract: only riskcore errors leave this module
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{label}: cannot be read ({message})") from exc


def _read_one(raw: bytes, label: str) -> _Parsed:
    if not raw.strip():
        raise DataError(f"{label}: the file is empty")
    _check_time(label, "opening the file")
    if raw[:4] == b"PK\x03\x04":
        table, first_line, notes = _excel_table(raw, label), 1, ["read from the first sheet"]
    else:
        limits = _budget().limits
        lines = raw.count(b"\n") + 1
        if lines > limits.max_rows + 10:  # a few header, banner and blank lines allowed
            raise DataError(
                f"{label}: {lines:,} lines; at most {limits.max_rows:,} rows are read per file "
                "(about two years of 1-minute bars); resample it to hourly or daily bars, or "
                "split it"
            )
        text = _decode(raw, label)
        table, first_line, notes = _csv_table(text, label)
    _check_time(label, "splitting the file into cells")
    parsed = _interpret(table, first_line, label, notes)
    if len(parsed.prices) < 2:
        when = f" ({parsed.prices.index[0]:%Y-%m-%d %H:%M})" if len(parsed.prices) else ""
        raise DataError(
            f"{label}: only one row of prices{when}; at least two dates are needed to "
            "compute a return"
        )
    return parsed


def _decode(raw: bytes, label: str) -> str:
    if raw[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise DataError(f"{label}: not a readable UTF-16 text file") from exc
    head = raw[:4096]
    if b"\x00" in head:
        raise DataError(f"{label}: not a text file (binary content); upload a CSV or .xlsx file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\r\n\t")
    if controls > 0.01 * min(len(text), 4096):
        raise DataError(f"{label}: not a text file (binary content); upload a CSV or .xlsx file")
    return text


def _excel_table(raw: bytes, label: str) -> pd.DataFrame:
    """Read the first sheet of an ``.xlsx`` as text cells, within the size and time limits.

    The ZIP directory's declared uncompressed sizes are summed before any XML is parsed;
    :mod:`zipfile` never inflates a member beyond its declared size.
    """
    limits = _budget().limits
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
        raise DataError(f"{label}: not a readable .xlsx workbook ({exc})") from exc
    declared = sum(m.file_size for m in members)
    if declared > limits.max_xlsx_bytes or len(members) > 10_000:
        raise DataError(
            f"{label}: the workbook expands to {declared / 1e6:,.0f} MB in {len(members):,} "
            f"parts when unzipped; at most {limits.max_xlsx_bytes / 1e6:,.0f} MB are read (a "
            "small .xlsx that expands this much ties up the server for minutes); save the "
            "sheet as CSV or split it"
        )
    import openpyxl  # noqa: PLC0415 - only for workbooks

    try:
        book = openpyxl.load_workbook(io.BytesIO(raw), read_only=True, data_only=True,
                                      keep_links=False)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad workbook
        raise DataError(f"{label}: not a readable .xlsx workbook ({exc})") from exc
    rows: list[list[str]] = []
    try:
        if not book.worksheets:
            raise DataError(f"{label}: the workbook has no sheet")
        for k, row in enumerate(book.worksheets[0].iter_rows(values_only=True)):
            if k % 2_000 == 0:
                _check_time(label, f"reading row {k + 1:,} of the workbook")
            if k >= limits.max_rows + 10:
                raise DataError(
                    f"{label}: more than {limits.max_rows:,} rows in the first sheet; at most "
                    f"{limits.max_rows:,} rows are read per file; resample or split it"
                )
            cells = list(row)
            while cells and cells[-1] is None:
                cells.pop()
            if len(cells) > limits.max_columns:
                raise DataError(
                    f"{label}: row {k + 1} has {len(cells):,} columns; at most "
                    f"{limits.max_columns:,} columns are read per file"
                )
            rows.append([_excel_cell(c) for c in cells])
    except RiskcoreError:
        raise
    except Exception as exc:  # noqa: BLE001 - a corrupt sheet fails inside openpyxl
        raise DataError(f"{label}: not a readable .xlsx workbook ({exc})") from exc
    finally:
        book.close()
    width = max((len(r) for r in rows), default=0)
    table = pd.DataFrame([r + [""] * (width - len(r)) for r in rows], dtype=object)
    if table.empty:
        return table
    table = table.loc[(table != "").any(axis=1)]
    table.columns = range(table.shape[1])
    return table


def _excel_cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _sniff_separator(lines: list[str]) -> str:
    best, best_score = ",", (-1.0, 0)
    for sep in _SEPARATORS:
        counts = [len(next(csv.reader([ln], delimiter=sep), [])) for ln in lines]
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        score = (counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = sep, score
    return best


_CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7})(?:[ \t].*)?$", re.MULTILINE)


def _unwrap_quoted_lines(lines: list[str], sample: list[str]) -> list[str] | None:
    """Undo an export that wrapped each whole line in quotes (``"a;b;c"``), if it did.

    The file is wrapped when its first line starts and ends with ``"``, splits into one field
    under every separator and holds a separator inside, and at least 80% of the first lines
    start and end with ``"`` around a separator. Inner quotes may be doubled (``""``, as a
    spreadsheet writes them: undone) or left as they were. Returns the unwrapped lines, or
    None for a normal file (a normal quoted header ``"Date","Close"`` splits into fields).
    """
    def quoted(line: str) -> bool:
        s = line.strip()
        return len(s) >= 3 and s[0] == '"' == s[-1] and any(sep in s for sep in _SEPARATORS)

    header = sample[0].strip() if sample else ""
    if not quoted(header) or any(
        len(next(csv.reader([header], delimiter=sep), [])) != 1 for sep in _SEPARATORS
    ):
        return None
    if sum(map(quoted, sample)) < 0.8 * len(sample):
        return None

    def unwrap(line: str) -> str:
        s = line.strip()
        if not quoted(s):
            return line
        inner = s[1:-1]
        doubled = '""' in inner and '"' not in inner.replace('""', "")
        return inner.replace('""', '"') if doubled else inner

    return [unwrap(ln) for ln in lines]


def _csv_table(text: str, label: str) -> tuple[pd.DataFrame, int, list[str]]:
    notes: list[str] = []
    limits = _budget().limits
    marker = _CONFLICT_MARKER.search(text)
    if marker:
        line = text.count("\n", 0, marker.start()) + 1
        raise DataError(
            f"{label}: line {line} is a git merge conflict marker ({marker.group(0)[:40]!r}): "
            "the file was saved in the middle of a merge; keep one side, delete the "
            "<<<<<<< ======= >>>>>>> lines and upload it again"
        )
    lines = text.splitlines()
    nonblank = [i for i, ln in enumerate(lines) if ln.strip()]
    if not nonblank:
        raise DataError(f"{label}: the file is empty")
    sample = [lines[i] for i in nonblank[:30]]
    unwrapped = _unwrap_quoted_lines(lines, sample)
    if unwrapped is not None:
        lines = unwrapped
        text = "\n".join(lines) + "\n"
        sample = [lines[i] for i in nonblank[:30]]
        notes.append("every line was wrapped in quotes (\"a;b;c\"): quotes removed")
    sep = _sniff_separator(sample)
    counts = [len(next(csv.reader([ln], delimiter=sep), [])) for ln in sample]
    width = max(set(counts), key=counts.count)
    if max(counts) > limits.max_columns:
        raise DataError(
            f"{label}: {max(counts):,} columns; at most {limits.max_columns:,} columns "
            f"({limits.max_assets} assets) are read per file: every page computes on each "
            "asset and each pair of assets, and this many would tie up the server; keep the "
            "coins you need"
        )
    if width * len(nonblank) > limits.max_cells:
        raise DataError(
            f"{label}: {len(nonblank):,} rows x {width:,} columns = "
            f"{width * len(nonblank):,} cells; at most {limits.max_cells:,} cells are read "
            "per file; split it or keep the columns you need"
        )
    # banner lines above the header (CryptoDataDownload's URL line)
    skip = 0
    for i, count in zip(nonblank, counts, strict=False):
        if count >= width or count >= 2:
            break
        skip = i + 1
        notes.append(f"skipped banner line {i + 1}: {lines[i][:60]!r}")
    if width < 2:
        raise DataError(
            f"{label}: no separated columns found (expected ',' ';' tab or '|' between fields)"
        )
    # a wide header naming more assets than allowed: refused before the cells are split
    header = next((lines[i] for i in nonblank if i >= skip), "")
    fields = next(csv.reader([header], delimiter=sep), [])
    if not any(_looks_like_value(f) for f in fields):
        _check_assets(sum(map(_could_be_asset, fields)), label)
    # a last line cut off mid-way (no line end, fewer fields than the header)
    last_idx = nonblank[-1]
    last_count = len(next(csv.reader([lines[last_idx]], delimiter=sep), []))
    if last_idx >= skip and not text.endswith(("\n", "\r")) and last_count < width:
        raise DataError(
            f"{label}: the file is cut off mid-line at line {last_idx + 1} "
            f"({last_count} of {width} fields)"
        )
    if text.count('"') % 2 == 1:
        raise DataError(f"{label}: a quoted field is never closed (the file may be cut off)")
    if sep != ",":
        notes.append(f"separator {sep!r}")
    try:
        table = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, dtype=str, keep_default_na=False,
            skip_blank_lines=False, skiprows=skip, engine="c", quotechar='"',
        )
    except pd.errors.ParserError as exc:
        match = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if match:
            expected, line, saw = (int(g) for g in match.groups())
            raise DataError(
                f"{label}: line {line + skip} has {saw} fields but the header has {expected}"
            ) from exc
        raise DataError(f"{label}: cannot split the file into columns ({exc})") from exc
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"{label}: the file is empty") from exc
    table.index = pd.RangeIndex(skip + 1, skip + 1 + len(table))  # 1-based line numbers
    table = table.loc[(table.apply(lambda c: c.str.strip()) != "").any(axis=1)]
    return table, skip + 1, notes


# --------------------------------------------------------------------------- interpretation


def _norm(text: Any) -> str:
    return re.sub(r"[^a-z0-9]", "", str(text).lower())


def _looks_like_value(cell: str) -> bool:
    """Tell a data cell (number or date) from a header label."""
    cell = cell.strip().strip('"')
    if not cell:
        return False
    if re.fullmatch(r"[-+]?[\d.,]+(?:[eE][-+]?\d+)?", cell):
        return True
    return bool(re.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}", cell))


def _interpret(table: pd.DataFrame, first_line: int, label: str, notes: list[str]) -> _Parsed:
    if table.empty:
        raise DataError(f"{label}: the file has no rows")
    # header rows: the leading rows in which no cell is a number or a date
    header_rows = 0
    while header_rows < min(len(table), 10) and not any(
        _looks_like_value(str(c)) for c in table.iloc[header_rows].tolist()
    ):
        header_rows += 1
    if header_rows >= len(table):
        raise DataError(f"{label}: the file has a header but no data rows")
    data = table.iloc[header_rows:]
    if header_rows == 0:
        return _headerless(data, label, notes)
    headers = table.iloc[:header_rows]
    tickers = None
    names = [str(c).strip() for c in headers.iloc[0].tolist()]
    if header_rows > 1:  # yfinance MultiIndex header: Price/Ticker/Date rows
        for r in range(header_rows):
            row = [str(c).strip() for c in headers.iloc[r].tolist()]
            if _norm(row[0]) == "ticker":
                tickers = row
            elif _norm(row[0]) == "price":
                names = row
        if _norm(names[0]) in ("price", "ticker", ""):
            names[0] = "Date"
        notes.append(f"multi-row header ({header_rows} rows)")
    norm = [_norm(n) for n in names]
    return _layout(data, names, norm, tickers, label, notes)


def _headerless(data: pd.DataFrame, label: str, notes: list[str]) -> _Parsed:
    width = data.shape[1]
    if width >= 6:
        # Binance kline without header: open time, open, high, low, close, volume, close time...
        notes.append("no header row: read as Binance klines (open time in column 1, close in 5)")
        names = ["open_time", "open", "high", "low", "close", "volume"] + [
            f"col{i + 1}" for i in range(6, width)
        ]
        if width >= 8:
            names[7] = "quote asset volume"
        volume = _pick_volume(names, [_norm(n) for n in names], "binance-kline",
                              _asset_from_file(label))
        prices, meta = _single(data, 0, 4, names, label, layout="binance-kline", volume=volume)
        return _finish(prices, meta, notes, data)
    if width == 2:
        notes.append("no header row: column 1 read as dates, column 2 as prices")
        prices, meta = _single(data, 0, 1, ["date", "price"], label, layout="date-price")
        return _finish(prices, meta, notes, data)
    raise DataError(
        f"{label}: the first line has no column names; add a header such as 'date,close'"
    )


def _find(norm: list[str], candidates: Sequence[str]) -> int | None:
    for cand in candidates:
        if cand in norm:
            return norm.index(cand)
    return None


def _layout(
    data: pd.DataFrame,
    names: list[str],
    norm: list[str],
    tickers: list[str] | None,
    label: str,
    notes: list[str],
) -> _Parsed:
    has = set(norm)
    file_asset = _asset_from_file(label)
    if {"snappedat", "price"} <= has:
        prices, meta = _single(data, norm.index("snappedat"), norm.index("price"), names, label,
                               layout="coingecko", snapshot=True,
                               volume=_pick_volume(names, norm, "coingecko", file_asset))
        notes.append("CoinGecko snapshots at 00:00 UTC labelled as the previous day's close")
        return _finish(prices, meta, notes, data)
    if {"timeopen", "close"} <= has:
        prices, meta = _single(data, norm.index("timeopen"), norm.index("close"), names, label,
                               layout="coinmarketcap",
                               volume=_pick_volume(names, norm, "coinmarketcap", file_asset))
        return _finish(prices, meta, notes, data)
    if "opentime" in has and "close" in has and "closetime" in has:
        prices, meta = _single(data, norm.index("opentime"), norm.index("close"), names, label,
                               layout="binance-kline",
                               volume=_pick_volume(names, norm, "binance-kline", file_asset))
        return _finish(prices, meta, notes, data)
    date_col = _find(norm, _DATE_NAMES)
    if date_col is None:
        date_col = _guess_date_column(data)
        if date_col is None:
            raise DataError(
                f"{label}: no date column found (columns: {', '.join(names[:12])}); "
                "expected one named Date, Datetime, Timestamp or Time"
            )
        notes.append(f"date column guessed from content: {names[date_col]!r}")
    layout = "yahoo/ohlc" if {"open", "high", "low"} <= has else "date+price"
    epoch_col = _find(norm, ("unix", "unixtimestamp"))
    if epoch_col is not None and {"date", "symbol"} <= has:
        layout, date_col = "cryptodatadownload", epoch_col
    elif {"sno", "name", "symbol", "date"} <= has:
        layout = "kaggle"
    price_col = _find(norm, _PRICE_NAMES)
    if price_col is None:
        price_col = next(
            (i for i, n in enumerate(norm) if n.startswith("close") and "time" not in n), None
        )
    symbol_col = _find(norm, _SYMBOL_NAMES)
    if tickers is not None and price_col is not None:
        # yfinance MultiIndex: one column per (field, ticker); keep the chosen field's columns
        field_name = norm[price_col]
        cols = [i for i, n in enumerate(norm) if n == field_name and i != date_col]
        vol_cols = {tickers[i]: i for i, n in enumerate(norm) if n == "volume"}
        return _wide(data, date_col, cols, [tickers[i] for i in cols], names, label,
                     "yfinance-multiheader", notes, volume_cols=vol_cols)
    if price_col is not None and symbol_col is not None:
        if layout in ("yahoo/ohlc", "date+price"):
            layout = "long"
        symbol = str(data.iloc[0, symbol_col]).strip().replace("/", "-")
        volume = _pick_volume(names, norm, layout, symbol)
        return _long(data, date_col, symbol_col, price_col, names, label, layout, notes,
                     volume=volume)
    if price_col is not None:
        # an open-time column marks a Binance kline export, whose plain Volume counts coins
        kind = "binance-kline" if "opentime" in has else layout
        prices, meta = _single(data, date_col, price_col, names, label, layout=layout,
                               volume=_pick_volume(names, norm, kind, file_asset))
        return _finish(prices, meta, notes, data)
    cols = [i for i, n in enumerate(norm) if i != date_col and n not in _NON_ASSET_FIELDS
            and not n.startswith("volume")]
    if not cols:
        raise DataError(
            f"{label}: no price column found (columns: {', '.join(names[:12])}); expected "
            "Close, Adj Close or Price, or one column per asset"
        )
    return _wide(data, date_col, cols, [names[i] for i in cols], names, label, "wide", notes)


def _check_assets(n_assets: int, label: str) -> None:
    limit = _budget().limits.max_assets
    if n_assets > limit:
        raise DataError(
            f"{label}: {n_assets:,} assets; at most {limit} assets are read per upload: every "
            "page computes on each asset and each pair of assets, and this many would tie up "
            "the server; keep the coins you need"
        )


def _could_be_asset(name: str) -> bool:
    """Tell whether a header name could be an asset column of a wide panel."""
    n = _norm(name)
    return bool(n) and not n.startswith("volume") and n not in _NON_ASSET_FIELDS and (
        n not in _DATE_NAMES and n not in _PRICE_NAMES and n not in _SYMBOL_NAMES
    )


def _guess_date_column(data: pd.DataFrame) -> int | None:
    sample = data.head(20)
    for j in range(sample.shape[1]):
        values = sample.iloc[:, j].astype(str).str.strip()
        values = values[values != ""]
        if len(values) and values.map(lambda v: bool(_DMY.match(v))).mean() > 0.8:
            return j
    return None


def _quote_code(asset: str) -> str | None:
    """Return the USD currency a pair name is quoted in (``BTCUSDT`` -> ``USDT``), if any."""
    upper = asset.upper()
    for code in _USD_CODES:
        if upper.endswith(code) and len(upper) > len(code):
            return code
    return None


def _pick_volume(
    names: list[str], norm: list[str], layout: str, asset: str
) -> tuple[int, str, bool] | None:
    """Choose the volume column: ``(column, description with unit, counted in coins)``.

    The order of preference is in the module notes (quote volume, ``Volume <USD code>``, a
    plain ``Volume`` taken as USD, a volume in coins to be multiplied by the close).
    """
    quote = _quote_code(asset)
    coded: list[tuple[int, str]] = []  # "Volume BNB", "Volume USDT": (column, code)
    for i, (name, n) in enumerate(zip(names, norm, strict=True)):
        if n in _QUOTE_VOLUME_NAMES:
            return i, f"{name} ({quote or 'quote currency'})", False
        match = re.fullmatch(r"volume[\s_\-(]*([a-z0-9]{2,10})\)?", name.strip(), re.IGNORECASE)
        if match and n not in _PLAIN_VOLUME_NAMES | _BASE_VOLUME_NAMES:
            coded.append((i, match.group(1).upper()))
    for i, code in coded:
        if code in _USD_CODES:
            return i, f"{names[i]} ({code})", False
    base = [i for i, n in enumerate(norm) if n in _BASE_VOLUME_NAMES] + [i for i, _ in coded]
    plain = [i for i, n in enumerate(norm) if n in _PLAIN_VOLUME_NAMES]
    if plain and layout != "binance-kline":
        return plain[0], f"{names[plain[0]]} ({quote or 'USD'})", False
    if layout == "binance-kline":
        base = plain + base
    if base:
        return base[0], f"{names[base[0]]} x close ({quote or 'USD'})", True
    return None


def _volume_values(
    column: pd.Series, close: np.ndarray, *, in_coins: bool, name: str
) -> tuple[np.ndarray, list[str]]:
    """Parse a volume column to quote currency; negative volumes become NaN (with a note)."""
    bad: list[tuple[int, str, str]] = []
    try:  # plain numbers (the usual case) without the string machinery of the price parser
        values = column.to_numpy(dtype=object).astype("float64")
    except (ValueError, TypeError):
        values = np.array([np.nan])
    if not np.isfinite(values).all():  # text, nulls, "1.2B", "1,234": the price cell parser
        values, bad = _parse_numbers(column, name, "")
        values[np.isinf(values)] = np.nan
    if in_coins:
        values = values * close
    notes = []
    negative = values < 0
    if negative.any():
        lines = column.index.to_numpy()[negative]
        shown = ", ".join(str(int(x)) for x in lines[:5]) + (", ..." if len(lines) > 5 else "")
        notes.append(f"{int(negative.sum())} negative volume(s) set to NaN (line {shown})")
        values[negative] = np.nan
    zero = int((values == 0).sum())
    if zero:
        notes.append(f"{zero} zero volume(s) kept (market impact treats them as unknown)")
    if bad:
        notes.append(f"{len(bad)} null or non-numeric volume cell(s) kept as NaN")
    return values, notes


# --------------------------------------------------------------------------- layouts


def _single(
    data: pd.DataFrame,
    date_col: int,
    price_col: int,
    names: list[str],
    label: str,
    *,
    layout: str,
    snapshot: bool = False,
    volume: tuple[int, str, bool] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    asset = _asset_from_file(label)
    dates = _parse_dates(data.iloc[:, date_col], names[date_col], label)
    values, bad = _parse_prices(data.iloc[:, price_col], names[price_col], label)
    if np.isfinite(values).sum() == 0:
        raise DataError(
            f"{label}: column {names[price_col]!r} has no numeric price in {len(values)} rows"
        )
    frame = pd.DataFrame({asset: values}, index=dates)
    meta = {
        "layout": layout,
        "columns_used": f"date={names[date_col]!r}, price={names[price_col]!r}",
        "snapshot": snapshot,
        "bad": [(asset, line, raw, issue) for line, raw, issue in bad],
        "volumes": [None],
        "volume_used": "none",
        "volume_notes": [],
    }
    if volume is not None:
        col, used, in_coins = volume
        vol, vol_notes = _volume_values(data.iloc[:, col], values, in_coins=in_coins,
                                        name=names[col])
        meta.update(volumes=[pd.DataFrame({asset: vol}, index=dates)], volume_used=used,
                    volume_notes=vol_notes)
    return frame, meta


def _long(
    data: pd.DataFrame,
    date_col: int,
    symbol_col: int,
    price_col: int,
    names: list[str],
    label: str,
    layout: str,
    notes: list[str],
    *,
    volume: tuple[int, str, bool] | None = None,
) -> _Parsed:
    dates = _parse_dates(data.iloc[:, date_col], names[date_col], label)
    values, bad = _parse_prices(data.iloc[:, price_col], names[price_col], label)
    symbols = data.iloc[:, symbol_col].astype(str).str.strip().str.replace("/", "-")
    if (symbols == "").any():
        line = int(symbols.index[(symbols == "").to_numpy()][0])
        raise DataError(f"{label}: line {line}: the {names[symbol_col]!r} cell is empty")
    if np.isfinite(values).sum() == 0:
        raise DataError(
            f"{label}: column {names[price_col]!r} has no numeric price in {len(values)} rows"
        )
    _check_assets(symbols.nunique(), label)
    sym_by_line = dict(zip(data.index, symbols, strict=True))
    vol, vol_notes = (None, []) if volume is None else _volume_values(
        data.iloc[:, volume[0]], values, in_coins=volume[2], name=names[volume[0]]
    )
    long = pd.DataFrame({"date": dates, "asset": symbols.to_numpy(), "value": values,
                         "volume": np.nan if vol is None else vol,
                         "line": data.index.to_numpy()})
    frames, volumes = [], []
    for asset, group in long.groupby("asset", sort=False):
        index = pd.DatetimeIndex(group["date"])
        frames.append(pd.DataFrame({asset: group["value"].to_numpy()}, index=index))
        volumes.append(
            None if vol is None
            else pd.DataFrame({asset: group["volume"].to_numpy()}, index=index)
        )
    meta = {
        "layout": layout,
        "columns_used": (f"date={names[date_col]!r}, symbol={names[symbol_col]!r}, "
                         f"price={names[price_col]!r}"),
        "snapshot": False,
        "bad": [(sym_by_line[line], line, raw, issue) for line, raw, issue in bad],
        "volumes": volumes,
        "volume_used": "none" if volume is None else volume[1],
        "volume_notes": vol_notes,
    }
    return _finish_many(frames, meta, notes, data)


def _wide(
    data: pd.DataFrame,
    date_col: int,
    cols: list[int],
    assets: list[str],
    names: list[str],
    label: str,
    layout: str,
    notes: list[str],
    *,
    volume_cols: dict[str, int] | None = None,
) -> _Parsed:
    _check_assets(len(cols), label)
    dates = _parse_dates(data.iloc[:, date_col], names[date_col], label)
    columns: dict[str, np.ndarray] = {}
    bad_all: list[tuple[str, int, str, str]] = []
    for j, asset in zip(cols, assets, strict=True):
        _check_time(label, f"reading column {names[j]!r}")
        values, bad = _parse_prices(data.iloc[:, j], names[j], label)
        asset = asset or names[j] or f"column {j + 1}"
        if np.isfinite(values).sum() == 0 and any(issue == "non-numeric" for *_, issue in bad):
            notes.append(f"column {names[j]!r} skipped: no numeric values")
            continue
        if asset in columns:
            raise DataError(f"{label}: column {asset!r} appears twice")
        columns[asset] = values
        finite = np.isfinite(values)
        if finite.any() and bad:
            # empty cells before an asset's first or after its last price mean "not listed"
            first, last = dates[finite].min(), dates[finite].max()
            where = dates[data.index.get_indexer([line for line, _, _ in bad])]
            inside = (where >= first) & (where <= last)
            bad = [b for b, keep in zip(bad, inside, strict=True) if keep or b[1] != ""]
        bad_all.extend((asset, line, raw, issue) for line, raw, issue in bad)
    if not columns:
        raise DataError(f"{label}: no numeric price column found")
    frame = pd.DataFrame(columns, index=dates)
    vols: dict[str, np.ndarray] = {}
    vol_notes: list[str] = []
    for asset, j in (volume_cols or {}).items():
        if asset in columns:
            vols[asset], more = _volume_values(data.iloc[:, j], columns[asset], in_coins=False,
                                               name=names[j])
            vol_notes.extend(f"{asset}: {n}" for n in more)
    meta = {
        "layout": layout,
        "columns_used": f"date={names[date_col]!r}, prices={', '.join(columns)}",
        "snapshot": False,
        "bad": bad_all,
        "volumes": [pd.DataFrame(vols, index=dates) if vols else None],
        "volume_used": f"{names[next(iter(volume_cols.values()))]} (USD)" if vols else "none",
        "volume_notes": vol_notes,
    }
    return _finish(frame, meta, notes, data)


def _finish(frame: pd.DataFrame, meta: dict[str, Any], notes: list[str], data: pd.DataFrame
            ) -> _Parsed:
    return _finish_many([frame], meta, notes, data)


def _finish_many(
    frames: list[pd.DataFrame], meta: dict[str, Any], notes: list[str], data: pd.DataFrame
) -> _Parsed:
    label_rows: list[dict[str, Any]] = []
    out: list[pd.Series] = []
    vol_out: list[pd.Series] = []
    for frame, volume in zip(frames, meta["volumes"], strict=True):
        # oldest first, file order among equal stamps: the latest observation ends up last
        order = np.argsort(_i8(frame.index), kind="stable")
        frame = _fix_daily(frame.iloc[order], notes, snapshot=meta["snapshot"])
        if volume is not None:  # the volume follows its row: same order, same labels
            volume = volume.iloc[order].set_axis(frame.index)
        for asset in frame.columns:
            series = frame[asset]
            # sort by (final label, original order); the latest observation wins on duplicates
            order = np.argsort(_i8(series.index), kind="stable")
            series = series.iloc[order]
            dup_mask = series.index.duplicated(keep="last")
            if volume is not None and asset in volume.columns:
                vol_out.append(volume[asset].iloc[order][~dup_mask].rename(asset))
            if dup_mask.any():
                for date in series.index[dup_mask].unique():
                    vals = series.loc[[date]].to_numpy()
                    label_rows.append({
                        "asset": asset, "date": date, "count": len(vals),
                        "kept_value": vals[-1], "dropped_values": tuple(vals[:-1].tolist()),
                    })
                series = series[~dup_mask]
            out.append(series.rename(asset))
    if data.shape[0] and any(f.index.size > 1 and f.index[0] > f.index[-1] for f in frames):
        notes.append("newest-first rows sorted oldest first")
    panel = pd.concat(out, axis=1) if len(out) > 1 else out[0].to_frame()
    panel = panel.sort_index().astype("float64")
    panel.index = pd.DatetimeIndex(panel.index, name="date").as_unit("ns")
    panel.columns = [str(c) for c in panel.columns]
    panel = _regularize(panel, notes)
    volume_panel = pd.DataFrame(
        {str(v.name): v.reindex(panel.index).to_numpy(dtype="float64", na_value=np.nan)
         for v in vol_out},
        index=panel.index, columns=[str(v.name) for v in vol_out], dtype="float64",
    )
    notes.extend(meta["volume_notes"])
    if label_rows:
        notes.append(f"{len(label_rows)} duplicate timestamp(s): latest observation kept")
    bad = meta["bad"]
    if bad:
        kinds = [issue for *_, issue in bad]
        n_null, n_text = kinds.count("null"), kinds.count("non-numeric")
        if n_null or n_text:
            notes.append(f"{n_null} null and {n_text} non-numeric price cell(s) kept as NaN")
        if kinds.count("infinite") or kinds.count("too large"):
            notes.append(
                f"{kinds.count('infinite')} infinite and {kinds.count('too large')} too large "
                f"(above {MAX_PRICE:g} USD) price cell(s) set to NaN"
            )
        if kinds.count("negative"):
            notes.append(f"{kinds.count('negative')} negative price cell(s) kept (listed)")
    return _Parsed(
        prices=panel,
        layout=meta["layout"],
        columns_used=meta["columns_used"],
        rows_read=int(data.shape[0]),
        notes=tuple(notes),
        duplicates=pd.DataFrame(label_rows,
                                columns=["asset", "date", "count", "kept_value",
                                         "dropped_values"]),
        bad_values=pd.DataFrame(bad, columns=["asset", "line", "value", "issue"]),
        volume=volume_panel,
        volume_used=meta["volume_used"] if vol_out else "none",
    )


def _fix_daily(frame: pd.DataFrame, notes: list[str], *, snapshot: bool) -> pd.DataFrame:
    """Label daily bars by their UTC date; shift CoinGecko's midnight snapshots to the day before.

    In a daily file (median spacing about one day) a timestamp off midnight is moved to the
    nearest midnight (a CoinGecko snapshot at 23:29, a local midnight of UTC+8 at 16:00 UTC),
    except a time in the last minute of a day (23:59:xx, a close time such as Kaggle's
    ``23:59:59``), which stays on its own date.
    """
    index = frame.index
    if len(index) < 3:
        return frame
    ordered = np.sort(_i8(index))
    median = pd.Timedelta(np.median(np.diff(ordered)))
    if not pd.Timedelta(hours=20) <= median <= pd.Timedelta(hours=28):
        return frame
    day = index.floor("1D")
    offset = index - day
    if (offset > pd.Timedelta(0)).any():
        close_stamp = offset >= pd.Timedelta(hours=23, minutes=59)
        later_half = (offset >= pd.Timedelta(hours=12)) & ~close_stamp
        index = day + pd.to_timedelta(np.where(later_half, 1, 0), unit="D")
        n_off = int((offset > pd.Timedelta(0)).sum())
        notes.append(
            f"{n_off} off-midnight timestamp(s) labelled by date "
            f"({int(later_half.sum())} moved to the next midnight)"
        )
    if snapshot:
        index = index - pd.Timedelta(days=1)
    return frame.set_axis(pd.DatetimeIndex(index))


# --------------------------------------------------------------------------- cells


def _parse_numbers(
    column: pd.Series, col_name: str, label: str
) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Parse price cells to float64; return NaN for nulls and text, with a list of them."""
    text = column.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan, copy=True
    )
    failed = np.isnan(values)
    bad: list[tuple[int, str, str]] = []
    if failed.any():
        lines = column.index.to_numpy()[failed]
        raws = text.to_numpy()[failed]
        decimal_comma = _decimal_comma(raws)
        for k, (line, raw) in enumerate(zip(lines, raws, strict=True)):
            if raw.lower().strip('"') in _NULL_TOKENS:
                bad.append((int(line), raw, "null"))
                continue
            number = _clean_number(raw, decimal_comma=decimal_comma)
            if number is None:
                bad.append((int(line), raw, "non-numeric"))
            else:
                pos = np.flatnonzero(failed)[k]
                values[pos] = number
    return values, bad


def _parse_prices(
    column: pd.Series, col_name: str, label: str
) -> tuple[np.ndarray, list[tuple[int, str, str]]]:
    """Parse price cells; list every cell that cannot be a price (see the module notes).

    Null and non-numeric cells, infinite values and magnitudes above :data:`MAX_PRICE` become
    NaN; negative prices are kept. Each is listed as ``(line, raw text, issue)``.
    """
    values, bad = _parse_numbers(column, col_name, label)
    with np.errstate(invalid="ignore"):
        infinite = np.isinf(values)
        too_large = np.isfinite(values) & (np.abs(values) > MAX_PRICE)
        negative = np.isfinite(values) & (values < 0) & ~too_large
    flagged = infinite | too_large | negative
    if flagged.any():
        lines = column.index.to_numpy()
        raws = column.astype(str).str.strip().to_numpy()
        for pos in np.flatnonzero(flagged):
            issue = ("infinite" if infinite[pos] else "too large" if too_large[pos]
                     else "negative")
            bad.append((int(lines[pos]), str(raws[pos]), issue))
        bad.sort(key=lambda b: b[0])
        values[infinite | too_large] = np.nan
    return values, bad


def _decimal_comma(raws: np.ndarray) -> bool:
    has_comma = [r for r in raws if "," in r]
    if not has_comma or any("." in r for r in raws):
        return False
    return any(not re.search(r",\d{3}(?:\D|$)", r) for r in has_comma)


_NUMBER = re.compile(r"^\(?([-+]?)([\d.,' ]*\d[\d.,' ]*)\s*([KMBT]|BN)?\)?$", re.IGNORECASE)


def _clean_number(raw: str, *, decimal_comma: bool) -> float | None:
    text = raw.strip().strip('"').strip()
    negative = text.startswith("(") and text.endswith(")")
    text = re.sub(r"^(?:US\$|USD|\$|€|£)\s*|\s*(?:USD|\$|€|£|%)$", "", text.strip("()"))
    text = text.replace("\u00a0", " ").replace("\u202f", " ")
    match = _NUMBER.match(text.strip())
    if not match:
        return None
    sign, digits, suffix = match.groups()
    digits = digits.replace(" ", "").replace("'", "")
    if decimal_comma:
        digits = digits.replace(".", "").replace(",", ".")
    elif "," in digits and "." in digits and digits.rfind(",") > digits.rfind("."):
        digits = digits.replace(".", "").replace(",", ".")  # 1.234,56
    else:
        digits = digits.replace(",", "")
    try:
        number = float(digits)
    except ValueError:
        return None
    if suffix:
        number *= _NUMBER_SUFFIX[suffix.upper()]
    if sign == "-" or negative:
        number = -number
    return number if np.isfinite(number) else None


def _parse_dates(column: pd.Series, col_name: str, label: str) -> pd.DatetimeIndex:
    _check_time(label, f"reading the dates of column {col_name!r}")
    text = column.astype(str).str.strip().str.strip('"')
    empty = text == ""
    if empty.any():
        line = int(column.index[empty.to_numpy()][0])
        raise DataError(f"{label}: line {line}: the date ({col_name!r}) is empty")
    is_epoch = text.str.fullmatch(r"\d+(?:\.0*)?").to_numpy(dtype=bool)
    if is_epoch.all():
        return _parse_epochs(text, col_name, label)
    if is_epoch.mean() >= 0.5:
        line = int(column.index[~is_epoch][0])
        raise DataError(
            f"{label}: line {line}: {text.loc[line]!r} in column {col_name!r} is not an epoch "
            "timestamp like the other rows"
        )
    cleaned = text.str.replace(r"\s*UTC$", "", regex=True)
    try:
        parsed = pd.to_datetime(cleaned, utc=True, format="ISO8601")
        return _check_range(pd.DatetimeIndex(parsed), text, col_name, label)
    except (ValueError, TypeError, OverflowError):
        pass
    # mixed forms: year-first rows, day/month or month/day rows decided from all of them,
    # and anything else (month names) by pandas
    year_first = cleaned.str.match(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}").to_numpy(dtype=bool)
    parts = cleaned.str.extract(_DMY)
    numeric = (parts.notna().all(axis=1) & (parts[0].str.len() <= 2)).to_numpy(dtype=bool)
    numeric = numeric & ~year_first
    out = pd.Series(pd.NaT, index=cleaned.index, dtype="datetime64[ns, UTC]")
    if year_first.any():
        rows = cleaned[year_first]
        first = pd.to_datetime(rows, utc=True, format="ISO8601", errors="coerce")
        if first.isna().any():
            retry = _mixed_dates(rows[first.isna()], label, col_name, yearfirst=True,
                                 dayfirst=False)
            first = first.where(first.notna(), retry)
        out[year_first] = first.dt.as_unit("ns")
    dayfirst = False
    if numeric.any():
        dayfirst = _dayfirst(cleaned[numeric], parts[numeric], col_name, label)
        out[numeric] = _parse_day_month(cleaned[numeric], label, col_name, dayfirst=dayfirst)
    other = ~year_first & ~numeric
    if other.any():
        out[other] = _mixed_dates(cleaned[other], label, col_name, dayfirst=dayfirst)
    if out.isna().any():
        line = int(column.index[out.isna().to_numpy()][0])
        raw = text.loc[line]
        raise DataError(
            f"{label}: line {line}: {raw!r} in column {col_name!r} is not a date"
        )
    return _check_range(pd.DatetimeIndex(out), text, col_name, label)


def _mixed_dates(rows: pd.Series, label: str, col_name: str, **kwargs: Any) -> pd.Series:
    """Parse dates of any form in chunks, checking the parsing time budget between them.

    :func:`pandas.to_datetime` with ``format="mixed"`` makes one dateutil call per row (slow
    on large files); unreadable rows become NaT.
    """
    try:  # one format inferred from the first row and applied to all: fast when it fits
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "could not infer format"
            return pd.to_datetime(rows, utc=True, **kwargs).dt.as_unit("ns")
    except (ValueError, TypeError, OverflowError):
        pass
    chunk = 20_000
    parts = []
    for start in range(0, len(rows), chunk):
        if start:
            _check_time(label, f"reading the dates of column {col_name!r} (row {start:,})")
        parts.append(pd.to_datetime(rows.iloc[start:start + chunk], utc=True, format="mixed",
                                    errors="coerce", **kwargs).dt.as_unit("ns"))
    if not parts:
        return pd.Series(pd.NaT, index=rows.index, dtype="datetime64[ns, UTC]")
    return pd.concat(parts)


def _parse_day_month(rows: pd.Series, label: str, col_name: str, *, dayfirst: bool
                     ) -> pd.Series:
    """Parse ``dd/mm/yyyy`` or ``mm/dd/yyyy`` rows (one explicit format when they share it)."""
    shape = rows.str.extract(r"^\d{1,2}([/.\-])\d{1,2}([/.\-])\d{4}$")
    if shape.notna().all(axis=None) and shape.nunique().max() == 1:
        sep = shape.iloc[0, 0]
        fmt = f"%d{sep}%m{sep}%Y" if dayfirst else f"%m{sep}%d{sep}%Y"
        parsed = pd.to_datetime(rows, utc=True, format=fmt, errors="coerce")
    else:
        return _mixed_dates(rows, label, col_name, dayfirst=dayfirst)
    return parsed.dt.as_unit("ns")


_FIRST_DATE = pd.Timestamp("1970-01-01", tz="UTC")
_LAST_DATE = pd.Timestamp("2100-01-01", tz="UTC")


def _check_range(
    index: pd.DatetimeIndex, text: pd.Series, col_name: str, label: str
) -> pd.DatetimeIndex:
    outside = (index < _FIRST_DATE) | (index >= _LAST_DATE)
    if outside.any():
        line = int(text.index[outside][0])
        raise DataError(
            f"{label}: line {line}: {text.loc[line]!r} in column {col_name!r} is outside "
            "the years 1970-2099 allowed for prices"
        )
    return index.as_unit("ns")


def _parse_epochs(text: pd.Series, col_name: str, label: str) -> pd.DatetimeIndex:
    numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    if ((numbers >= 19000101) & (numbers <= 21001231)).all() and text.str.len().eq(8).all():
        return pd.DatetimeIndex(pd.to_datetime(text, format="%Y%m%d", utc=True))
    scale = np.select(
        [numbers < 1e11, numbers < 1e14, numbers < 1e17], [1e9, 1e6, 1e3], default=1.0
    )
    nanos = numbers * scale
    bad = (numbers < 1e8) | (nanos > 4.1e18)  # before 1973 or after 2100
    if bad.any():
        line = int(text.index[bad][0])
        raise DataError(
            f"{label}: line {line}: {text.loc[line]!r} in column {col_name!r} is not an epoch "
            "timestamp (seconds, milliseconds or microseconds after 1973)"
        )
    return pd.DatetimeIndex(pd.to_datetime(np.round(nanos).astype("int64"), utc=True))


def _dayfirst(cleaned: pd.Series, parts: pd.DataFrame, col_name: str, label: str) -> bool:
    """Decide day/month or month/day from ALL the numeric rows (``parts`` from ``_DMY``)."""
    first, second = parts[0].astype(int), parts[1].astype(int)
    day_first, month_first = (first > 12).to_numpy(), (second > 12).to_numpy()
    if day_first.any() and month_first.any():
        a = int(cleaned.index[day_first][0])
        b = int(cleaned.index[month_first][0])
        raise DataError(
            f"{label}: column {col_name!r} mixes day/month and month/day dates (line {a}: "
            f"{cleaned.loc[a]!r} is day/month, line {b}: {cleaned.loc[b]!r} is month/day); "
            "save the file with ISO dates (YYYY-MM-DD)"
        )
    if day_first.any():
        return True
    if month_first.any():
        return False
    if (first != second).any():
        line = int(cleaned.index[(first != second).to_numpy()][0])
        raise DataError(
            f"{label}: dates in column {col_name!r} are ambiguous (line {line}: "
            f"{cleaned.loc[line]!r}): is it day/month or month/day? No date has a day above "
            "12 to decide; save the file with ISO dates (YYYY-MM-DD)"
        )
    return False


# --------------------------------------------------------------------------- names, merge


_NAME_NOISE = frozenset({
    "historical", "history", "data", "prices", "price", "coinmarketcap", "cmc", "coingecko",
    "yahoo", "yfinance", "binance", "kaggle", "cryptodatadownload", "cdd", "investing",
    "coin", "daily", "hourly", "weekly", "minute", "max", "all", "ohlc", "ohlcv", "export",
    "kline", "klines", "spot", "d", "h", "w",
})
_NAME_NUMBER = re.compile(r"^(?:[\d\-.: ]+|\d+(?:s|m|h|d|w|mo|min))$", re.IGNORECASE)


def _asset_from_file(label: str) -> str:
    """Source asset name taken from a file name (the rules are in the module notes)."""
    stem = Path(label).name
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    match = _BINANCE_INTERVAL.match(stem)
    if match:
        stem = match.group(1)
    previous = None
    while previous != stem:
        previous = stem
        shorter = _STEM_SUFFIX.sub("", stem)
        if shorter:
            stem = shorter
    parts = [p.strip() for p in stem.split("_") if p.strip()]
    parts = [p for p in parts if p.lower() not in _NAME_NOISE and not _NAME_NUMBER.match(p)]
    for part in parts:
        ident = coin_identity(part)
        if ident.quote is not None or ident.symbol in KNOWN_SYMBOLS:
            return part
    if parts:
        return parts[-1]
    return stem.strip() or "ASSET"


def _i8(index: pd.DatetimeIndex) -> np.ndarray:
    """Nanoseconds since the epoch, whatever the index's resolution."""
    return index.as_unit("ns").asi8


def _regularize(panel: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Insert NaN rows for missing periods of a regular 24/7 grid (daily or intraday)."""
    index = panel.index
    if len(index) < 3:
        return panel
    steps = np.diff(_i8(index))
    step = int(np.median(steps))
    if step <= 0 or np.any(steps % step):
        return panel  # irregular timestamps: keep them as they are
    if step == 86_400 * 10**9 and np.mean(index.day_of_week >= 5) < 0.01:
        return panel  # weekday-only calendar: weekends are not missing periods
    n_full = (_i8(index)[-1] - _i8(index)[0]) // step + 1
    if n_full == len(index) or n_full > 20 * len(index):
        return panel
    full = pd.date_range(index[0], index[-1], periods=n_full, name="date")
    notes.append(f"{n_full - len(index)} missing period(s) inserted as NaN rows")
    return panel.reindex(full)


def _frequency_label(index: pd.DatetimeIndex) -> str:
    if len(index) < 2:
        return "irregular"
    median = pd.Timedelta(np.median(np.diff(_i8(index))))
    if pd.Timedelta(hours=20) <= median <= pd.Timedelta(hours=28):
        return "1D"
    for unit, size in (("D", 86_400), ("h", 3_600), ("min", 60), ("s", 1)):
        seconds = median.total_seconds()
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return str(median)


def _is_intraday(index: pd.DatetimeIndex) -> bool:
    if len(index) < 2:
        return False
    return pd.Timedelta(np.median(np.diff(_i8(index)))) < pd.Timedelta(hours=20)


def _merge(
    loaded: list[tuple[str, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, list[str]], dict[str, pd.Series]]:
    """Merge price panels (first file wins); also return which file owns each kept price."""
    conflict_cols = ["asset", "date", "kept_file", "kept_value", "other_file", "other_value"]
    if not loaded:
        empty = pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="date"), dtype="float64")
        return empty, pd.DataFrame(columns=conflict_cols), {}, {}
    series: dict[str, pd.Series] = {}
    owner: dict[str, pd.Series] = {}
    conflicts: list[dict[str, Any]] = []
    overlaps: dict[str, list[str]] = {}
    for file_name, panel in loaded:
        for asset in panel.columns:
            new = panel[asset]
            if asset not in series:
                series[asset] = new
                owner[asset] = pd.Series(file_name, index=new.index[new.notna()])
                continue
            old = series[asset]
            common = old.index.intersection(new.index)
            both = common[old.reindex(common).notna().to_numpy()
                          & new.reindex(common).notna().to_numpy()]
            a, b = old.reindex(both), new.reindex(both)
            differ = ~np.isclose(a.to_numpy(), b.to_numpy(), rtol=1e-9, atol=0.0)
            who = owner[asset].reindex(both)
            if len(both):
                overlaps.setdefault(file_name, []).append(
                    f"{asset}: {len(both)} timestamp(s) overlap earlier files, "
                    f"{int(differ.sum())} with a different price (earlier file kept)"
                )
            for date in both[differ]:
                conflicts.append({
                    "asset": asset, "date": date, "kept_file": who.loc[date],
                    "kept_value": a.loc[date], "other_file": file_name,
                    "other_value": b.loc[date],
                })
            merged = old.combine_first(new)
            filled = merged.index[merged.notna().to_numpy()].difference(
                owner[asset].index
            )
            owner[asset] = pd.concat([owner[asset], pd.Series(file_name, index=filled)])
            series[asset] = merged
    prices = pd.concat(series, axis=1, sort=True).astype("float64")
    prices.index = pd.DatetimeIndex(prices.index, name="date")
    prices = _regularize(prices, [])
    return prices, pd.DataFrame(conflicts, columns=conflict_cols), overlaps, owner


def _merge_volume(
    volumes: list[tuple[str, pd.DataFrame]],
    prices: pd.DataFrame,
    price_owner: dict[str, pd.Series],
    notes: dict[str, list[str]],
) -> pd.DataFrame:
    """Merge volume panels (first file with a volume wins) on the merged price index.

    Appends to ``notes`` (per file) where a file's volume sits under another file's prices.
    """
    series: dict[str, pd.Series] = {}
    owner: dict[str, pd.Series | str] = {}  # a file name while one file supplies the asset
    for file_name, volume in volumes:
        for asset in volume.columns:
            new = volume[asset]
            if asset not in series:
                series[asset], owner[asset] = new, file_name
                continue
            old = series[asset]
            held = owner[asset]
            if isinstance(held, str):
                held = pd.Series(held, index=old.index[old.notna().to_numpy()])
            known = new.index[new.notna().to_numpy()]
            taken = known.difference(held.index)
            if len(taken):
                notes.setdefault(file_name, []).append(
                    f"{asset}: volume from this file fills {len(taken)} timestamp(s) the "
                    "earlier files' volume lacks (sources may count volume differently)"
                )
            series[asset] = old.combine_first(new)
            owner[asset] = pd.concat([held, pd.Series(file_name, index=taken)])
    columns = [a for a in prices.columns if a in series]
    if not columns:
        return pd.DataFrame(index=prices.index, dtype="float64")
    merged = pd.DataFrame(
        {a: series[a].reindex(prices.index).to_numpy(dtype="float64", na_value=np.nan)
         for a in columns},
        index=prices.index, columns=columns,
    )
    for asset in columns:
        held, kept = owner[asset], price_owner[asset]
        if isinstance(held, str) and (kept.to_numpy() == held).all():
            continue  # one file supplies both the prices and the volume
        if isinstance(held, str):
            vol = merged[asset]
            held = pd.Series(held, index=vol.index[vol.notna().to_numpy()])
        held = held.reindex(prices.index).dropna()
        kept = kept.reindex(held.index)
        mixed = held[kept.notna().to_numpy() & (kept != held).to_numpy()]
        for file_name, count in mixed.value_counts(sort=False).items():
            notes.setdefault(str(file_name), []).append(
                f"{asset}: volume of this file kept at {count} timestamp(s) whose price comes "
                "from another file"
            )
    return merged


def _daily_volume(
    volume: pd.DataFrame, days: pd.DatetimeIndex, bars: pd.DatetimeIndex, notes: list[str]
) -> pd.DataFrame:
    """Sum intraday volumes over each UTC day ``[D 00:00, D+1 00:00)``, labelled D."""
    if volume.shape[1] == 0:
        return pd.DataFrame(index=days, dtype="float64")
    grouped = volume.resample("1D", label="left", closed="left")
    daily = grouped.sum(min_count=1).reindex(days)
    step = pd.Timedelta(np.median(np.diff(_i8(bars))))
    per_day = int(pd.Timedelta(days=1) // step) if step > pd.Timedelta(0) else 0
    counts = grouped.count().reindex(days, fill_value=0)
    partial = int(((counts > 0) & (counts < per_day)).any(axis=1).sum())
    notes.append("volumes summed over each day's bars" + (
        f" ({partial} day(s) with the volume of only some bars)" if partial else ""
    ))
    daily.index.name = "date"
    return daily


def _concat(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).reindex(columns=columns)
