"""Yahoo Finance daily closes with a deadline, retries and a Parquet cache that survives offline.

:func:`fetch_prices` turns a list of Yahoo tickers (``BTC-USD``, ``ETH-USD``, ``^GSPC``) and a
date range into a price panel (see ``docs/ARCHITECTURE.md``) plus a per-ticker status table
and sentences for the page. It never hangs and never loses data the user already has:

1. **Cache first.** Each ticker has one Parquet file ``<cache folder>/<TICKER>.parquet`` with
   its daily closes, the date range already asked for and the time of the fetch (in the file's
   metadata). Only the missing range is requested: the days before the cached range, and the
   days after the last *settled* cached day. A day's candle is treated as settled once
   :data:`SETTLE_TIME` has passed after it closed at 24:00 UTC; later days are fetched again
   because a daily candle can still change. Writes are atomic (a temporary file in the same
   folder, then :func:`os.replace`). A file that cannot be read (garbage bytes, truncated,
   another schema) is reported, deleted and the range fetched again.
2. **Reachability check.** Before any download, a TCP connection to
   ``query1.finance.yahoo.com:443`` (then ``query2``) is tried with a 3 s timeout, so that a
   machine without network fails in well under a second instead of waiting on yfinance's own
   30 s cookie/crumb timeouts.
3. **One overall deadline.** Downloads run in daemon worker threads, one call per ticker and
   missing range, retried with exponential backoff on errors. The caller stops waiting at the
   deadline; tickers not done by then are reported as timed out and their threads abandoned.
4. **Offline fallback.** When Yahoo cannot be reached or a download fails, cached data are
   used and the messages say when they were fetched.

Cache folder
------------
The folder is, in order of precedence: the ``cache_dir`` argument of :func:`fetch_prices`,
the environment variable ``RISKCORE_CACHE_DIR``, else ``~/.cache/riskcore/yahoo``
(see :func:`default_cache_dir`). Deleting the folder is always safe.

Closes are Yahoo's split- and dividend-adjusted closes (``auto_adjust=True``), dated by the
exchange's calendar day (UTC for crypto pairs such as ``BTC-USD``).
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import os
import queue
import re
import socket
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskcore.errors import DataError, FetchError

#: Hosts tried by the reachability check, in order.
YAHOO_HOSTS: tuple[str, ...] = ("query1.finance.yahoo.com", "query2.finance.yahoo.com")
#: How long after a daily candle closes (24:00 UTC) a cached close is treated as final.
SETTLE_TIME = pd.Timedelta(hours=6)
#: Longest single request handed to the downloader, in seconds (capped by the deadline).
REQUEST_TIMEOUT = 10.0
#: Environment variable naming the cache folder.
CACHE_ENV_VAR = "RISKCORE_CACHE_DIR"

_TICKER = re.compile(r"^[A-Z0-9^][A-Z0-9.\-=^]{0,23}$")
_META_KEY = b"riskcore.yahoo"
_CACHE_VERSION = 1
_STATUS_COLUMNS = ["ticker", "status", "reason", "first", "last", "rows", "source", "fetched_at"]
_DAY = pd.Timedelta(days=1)

#: A downloader: ``downloader(ticker, *, start, end, timeout)`` returns the daily closes of
#: ``ticker`` for days ``start <= day < end`` (UTC midnights; ``end`` exclusive, as in
#: yfinance) as a Series, or a DataFrame with a ``Close`` column, indexed by date. It raises
#: on network errors and returns an empty frame when Yahoo has no data.
Downloader = Callable[..., "pd.Series | pd.DataFrame | None"]


@dataclass(frozen=True, eq=False)
class FetchResult:
    """Prices fetched from Yahoo Finance (or its cache), with what happened to each ticker.

    Attributes
    ----------
    prices : pandas.DataFrame of shape (n_days, n_assets)
        Price panel: daily tz-aware UTC ``DatetimeIndex`` named ``date`` covering the requested
        days with data, one ``float64`` column per ticker that has data (USD per unit, adjusted
        close), NaN before a ticker lists and on missing days. Failed tickers are left out
        (they appear in ``status`` and ``messages``).
    status : pandas.DataFrame of shape (n_tickers, 8)
        One row per requested ticker, in request order, with columns ``ticker``; ``status``
        (``"ok"``: the whole range is up to date; ``"partial"``: part of the missing range
        was downloaded, part failed; ``"cached"``: downloading failed and cached data are
        used; ``"failed"``: no data at all); ``reason`` (why it is not ``"ok"``, else
        ``""``); ``first`` and ``last`` (first and last date with a price in the requested
        range, NaT if none); ``rows`` (number of prices in the range); ``source``
        (``"yahoo"`` if Yahoo answered during this call, possibly merged with cached days;
        ``"cache"`` if all data come from the cache; ``"none"`` if there are none); and
        ``fetched_at`` (UTC time the newest data were downloaded, NaT if none).
    messages : tuple of str
        Human sentences for the page: offline notices with the cache time, failures, partial
        ranges, unreadable cache files.

    Notes
    -----
    Equality is identity (``eq=False``): comparing DataFrames field by field is ambiguous.
    """

    prices: pd.DataFrame
    status: pd.DataFrame
    messages: tuple[str, ...]


# ----------------------------------------------------------------------------- small helpers


def default_cache_dir() -> Path:
    """Return the cache folder used when ``fetch_prices`` gets no ``cache_dir``.

    Returns
    -------
    pathlib.Path
        ``$RISKCORE_CACHE_DIR`` if that environment variable is set and not empty, else
        ``~/.cache/riskcore/yahoo``. The folder is not created here.
    """
    env = os.environ.get(CACHE_ENV_VAR, "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "riskcore" / "yahoo"


def _normalize_tickers(tickers: str | Sequence[str]) -> tuple[list[str], list[str]]:
    """Upper-case, validate and de-duplicate tickers; return (tickers, duplicates)."""
    if isinstance(tickers, str):
        items = [t for t in re.split(r"[\s,;]+", tickers) if t]
    else:
        try:
            items = list(tickers)
        except TypeError:
            raise DataError(
                f"tickers must be a list of Yahoo tickers such as ['BTC-USD'], got {tickers!r}"
            ) from None
    if not items:
        raise DataError("no ticker given; enter at least one Yahoo ticker such as BTC-USD")
    out: list[str] = []
    duplicates: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise DataError(f"ticker {item!r} is not text; Yahoo tickers look like BTC-USD")
        ticker = item.strip().upper()
        if not _TICKER.match(ticker):
            raise DataError(
                f"ticker {item!r} is not a Yahoo ticker: use 1 to 24 letters, digits and "
                "'.', '-', '^', '=' (for example BTC-USD, ^GSPC, EURUSD=X)"
            )
        if ticker in out:
            duplicates.append(ticker)
        else:
            out.append(ticker)
    return out, duplicates


def _to_day(value: Any, what: str) -> pd.Timestamp:
    """Parse a date (str, date, datetime, Timestamp) to a UTC midnight Timestamp."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} date {value!r} is not a date; use YYYY-MM-DD") from exc
    if stamp is pd.NaT or pd.isna(stamp):
        raise DataError(f"{what} date {value!r} is not a date; use YYYY-MM-DD")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.floor("D").as_unit("ns")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _is_whole(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _to_now(now: Any) -> pd.Timestamp:
    if now is None:
        return pd.Timestamp.now(tz="UTC").as_unit("ns")
    try:
        stamp = pd.Timestamp(now)
    except (TypeError, ValueError) as exc:
        raise DataError(f"now is {now!r}; it must be a date and time (UTC)") from exc
    if pd.isna(stamp):
        raise DataError(f"now is {now!r}; it must be a date and time (UTC)")
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.as_unit("ns")


def _settled_through(fetched_at: pd.Timestamp) -> pd.Timestamp:
    """Last day whose candle had settled when data were fetched at ``fetched_at``."""
    return (fetched_at - _DAY - SETTLE_TIME).floor("D")


def _fmt_day(day: pd.Timestamp) -> str:
    return day.strftime("%Y-%m-%d")


def _fmt_time(stamp: pd.Timestamp) -> str:
    return stamp.tz_convert("UTC").strftime("%Y-%m-%d %H:%M UTC")


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


def _describe(exc: BaseException) -> str:
    """One line naming an exception, short enough for a table cell."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    name = type(exc).__name__
    line = f"{name}: {text}" if text else name
    return line if len(line) <= 200 else line[:197] + "..."


def _empty_series() -> pd.Series:
    index = pd.DatetimeIndex([], tz="UTC", name="date").as_unit("ns")
    return pd.Series([], index=index, dtype="float64", name="close")


def _to_close_series(raw: Any) -> pd.Series:
    """Normalize a downloader's answer to a float64 close Series on a daily UTC index."""
    if raw is None:
        return _empty_series()
    if isinstance(raw, pd.DataFrame):
        frame = raw
        if isinstance(frame.columns, pd.MultiIndex):
            matches = [c for c in frame.columns if "close" in [str(x).lower() for x in c]]
            if not matches:
                raise DataError("the downloader's answer has no Close column")
            series = frame[matches[0]]
        else:
            names = {str(c).strip().lower(): c for c in frame.columns}
            if "close" in names:
                series = frame[names["close"]]
            elif frame.shape[1] == 1:
                series = frame.iloc[:, 0]
            elif frame.shape[1] == 0:
                return _empty_series()
            else:
                raise DataError(
                    f"the downloader's answer has no Close column (columns: {list(frame.columns)})"
                )
    elif isinstance(raw, pd.Series):
        series = raw
    else:
        raise DataError(
            f"the downloader returned {type(raw).__name__}; expected a Series or DataFrame"
        )
    if series.empty:
        return _empty_series()
    index = pd.DatetimeIndex(pd.to_datetime(series.index))
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    values = pd.to_numeric(pd.Series(np.asarray(series), index=index), errors="coerce")
    out = pd.Series(values.to_numpy(dtype="float64"), index=index.floor("D").as_unit("ns"))
    out = out[out.notna()]
    out = out[~out.index.duplicated(keep="last")].sort_index()
    out.index.name = "date"
    out.name = "close"
    return out


# ----------------------------------------------------------------------------- reachability


def yahoo_reachable(
    *, hosts: Sequence[str] = YAHOO_HOSTS, port: int = 443, timeout: float = 3.0
) -> str | None:
    """Check that a Yahoo Finance host accepts TCP connections.

    Parameters
    ----------
    hosts : sequence of str, default :data:`YAHOO_HOSTS`
        Host names (or IP addresses) tried in order; the first that accepts a connection wins.
    port : int, default 443
        TCP port.
    timeout : float, default 3.0
        Overall time limit in seconds for all hosts, including name resolution (which the
        operating system does not time-limit; it runs in a daemon thread that is abandoned).

    Returns
    -------
    str or None
        None if a host accepted the connection, else the reason, such as
        ``"DNS failure for query1.finance.yahoo.com"``.
    """
    result: cf.Future[str | None] = cf.Future()

    def attempt() -> None:
        reasons = []
        end = time.monotonic() + timeout
        for host in hosts:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            try:
                with socket.create_connection((host, port), timeout=remaining):
                    result.set_result(None)
                    return
            except socket.gaierror:
                reasons.append(f"DNS failure for {host}")
            except TimeoutError:
                reasons.append(f"no answer from {host}:{port} within {_fmt_seconds(timeout)}")
            except ConnectionRefusedError:
                reasons.append(f"connection refused by {host}:{port}")
            except Exception as exc:
                reasons.append(f"cannot connect to {host}:{port} ({_describe(exc)})")
        if not reasons:
            reasons.append(f"no answer from {hosts[0]}:{port} within {_fmt_seconds(timeout)}")
        result.set_result(reasons[0])

    threading.Thread(target=attempt, name="riskcore-yahoo-reach", daemon=True).start()
    try:
        return result.result(timeout=timeout + 0.2)
    except cf.TimeoutError:
        return f"no answer from {hosts[0]} within {_fmt_seconds(timeout)} (name lookup hangs)"


# ----------------------------------------------------------------------------- real downloader


class _ErrorCollector(logging.Handler):
    """Collect yfinance's ERROR log records emitted by one thread."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.ERROR)
        self.thread_id = thread_id
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            try:
                self.messages.append(record.getMessage())
            except Exception:
                pass


def _reason_from_log(messages: list[str]) -> str | None:
    """Turn yfinance's error log lines into a short reason; None if they say "no data"."""
    text = " ".join(m.strip() for m in messages if m.strip())
    if not text:
        return None
    lowered = text.lower()
    # network errors first: after repeated failures yfinance also says "possibly delisted"
    host = re.search(r"resolve host:? ([\w.-]+)", text)
    if host:
        return f"DNS failure for {host.group(1).rstrip('.')}"
    if "timeout" in lowered or "timed out" in lowered:
        return "Yahoo Finance did not answer in time"
    if "ratelimit" in lowered.replace(" ", "") or "too many requests" in lowered:
        return "Yahoo Finance rate limit (too many requests)"
    if "curl:" in lowered or "connection" in lowered:
        detail = next(m for m in messages if "curl:" in m.lower() or "connection" in m.lower())
        return detail.strip().splitlines()[0][:200]
    if "delisted" in lowered or "no data found" in lowered or "no price data" in lowered:
        return None
    detail = next(m.strip() for m in messages if m.strip())
    detail = detail.splitlines()[0]
    return detail if len(detail) <= 200 else detail[:197] + "..."


def yahoo_download(
    ticker: str, *, start: pd.Timestamp, end: pd.Timestamp, timeout: float = REQUEST_TIMEOUT
) -> pd.Series:
    """Download one ticker's daily adjusted closes with ``yfinance.download``.

    yfinance is imported here, not at module import, because it is slow to import.

    Parameters
    ----------
    ticker : str
        Yahoo ticker, e.g. ``"BTC-USD"``.
    start, end : pandas.Timestamp
        First day (inclusive) and the day after the last (exclusive), UTC midnights.
    timeout : float, default :data:`REQUEST_TIMEOUT`
        Seconds yfinance waits for each HTTP answer. yfinance's cookie/crumb requests use
        their own 30 s timeout: call this through :func:`fetch_prices`, which enforces an
        overall deadline.

    Returns
    -------
    pandas.Series of shape (n_days,)
        Adjusted closes (``auto_adjust=True``) in the quote currency, float64, indexed by a
        daily tz-aware UTC ``DatetimeIndex``; empty if Yahoo has no data for the range.

    Raises
    ------
    ConnectionError
        If yfinance logged a network error (DNS failure, timeout, rate limit) and returned no
        data; yfinance itself returns an empty frame instead of raising.
    """
    import yfinance as yf  # slow import, only when really downloading

    # yfinance 1.7 calls pandas methods with inplace=True, which pandas 3.1 warns about on
    # every download; silence those warnings from yfinance's own modules only.
    warnings.filterwarnings("ignore", message=".*inplace keyword.*", module=r"yfinance\.")

    collector = _ErrorCollector(threading.get_ident())
    logger = logging.getLogger("yfinance")
    logger.addHandler(collector)
    try:
        frame = yf.download(
            ticker,
            start=_fmt_day(pd.Timestamp(start)),
            end=_fmt_day(pd.Timestamp(end)),
            interval="1d",
            auto_adjust=True,
            progress=False,
            multi_level_index=False,
            threads=False,
            timeout=timeout,
        )
    finally:
        logger.removeHandler(collector)
    series = _to_close_series(frame)
    if series.empty:
        reason = _reason_from_log(collector.messages)
        if reason is not None:
            raise ConnectionError(reason)
    return series


# ----------------------------------------------------------------------------- cache


@dataclass
class _Cache:
    data: pd.Series
    fetched_at: pd.Timestamp
    covered_start: pd.Timestamp
    covered_end: pd.Timestamp  # last day asked for (inclusive)

    @property
    def settled_end(self) -> pd.Timestamp:
        return min(self.covered_end, _settled_through(self.fetched_at))


def _cache_path(cache_dir: Path, ticker: str) -> Path:
    return cache_dir / f"{ticker}.parquet"


def _read_cache(path: Path, ticker: str) -> _Cache:
    """Read and validate one cache file; raise ValueError (or any error) if unusable."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    meta_raw = (table.schema.metadata or {}).get(_META_KEY)
    if meta_raw is None:
        raise ValueError("no riskcore metadata")
    meta = json.loads(meta_raw)
    if meta.get("version") != _CACHE_VERSION or meta.get("ticker") != ticker:
        raise ValueError(f"metadata for {meta.get('ticker')!r} version {meta.get('version')!r}")
    if table.column_names != ["date", "close"]:
        raise ValueError(f"columns {table.column_names}, expected ['date', 'close']")
    date_type = table.schema.field("date").type
    if str(getattr(date_type, "tz", None)) != "UTC":
        raise ValueError(f"date column type {date_type}")
    if str(table.schema.field("close").type) != "double":
        raise ValueError(f"close column type {table.schema.field('close').type}")
    frame = table.to_pandas()
    index = pd.DatetimeIndex(frame["date"]).as_unit("ns")
    data = pd.Series(frame["close"].to_numpy(dtype="float64"), index=index, name="close")
    data.index.name = "date"
    if not (data.index.is_monotonic_increasing and data.index.is_unique):
        raise ValueError("dates not sorted and unique")
    if data.isna().any():
        raise ValueError("missing closes")
    cache = _Cache(
        data=data,
        fetched_at=_to_now(meta["fetched_at"]),
        covered_start=_to_day(meta["covered_start"], "cached"),
        covered_end=_to_day(meta["covered_end"], "cached"),
    )
    if cache.covered_start > cache.covered_end:
        raise ValueError("empty covered range")
    return cache


def _write_cache(path: Path, ticker: str, cache: _Cache) -> None:
    """Write one cache file atomically: a temporary file in the same folder, then os.replace."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "date": pa.array(cache.data.index, type=pa.timestamp("ns", tz="UTC")),
            "close": pa.array(cache.data.to_numpy(dtype="float64"), type=pa.float64()),
        }
    )
    meta = {
        "version": _CACHE_VERSION,
        "ticker": ticker,
        "fetched_at": cache.fetched_at.isoformat(),
        "covered_start": _fmt_day(cache.covered_start),
        "covered_end": _fmt_day(cache.covered_end),
    }
    table = table.replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    fd, tmp = tempfile.mkstemp(prefix=f".{ticker}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            pq.write_table(table, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ----------------------------------------------------------------------------- fetch plan


@dataclass(frozen=True)
class _Range:
    start: pd.Timestamp  # first day, inclusive
    stop: pd.Timestamp  # day after the last, exclusive

    def label(self) -> str:
        return f"{_fmt_day(self.start)} to {_fmt_day(self.stop - _DAY)}"


@dataclass
class _Outcome:
    range: _Range
    data: pd.Series | None  # None if the range failed
    reason: str = ""
    timed_out: bool = False


@dataclass
class _Task:
    ticker: str
    ranges: list[_Range]
    cache: _Cache | None
    outcomes: list[_Outcome] = field(default_factory=list)


def _missing_ranges(cache: _Cache | None, start: pd.Timestamp, end: pd.Timestamp) -> list[_Range]:
    """Ranges to download so that the cache covers ``start..end`` (inclusive) contiguously."""
    if cache is None:
        return [_Range(start, end + _DAY)]
    ranges = []
    if start < cache.covered_start:
        ranges.append(_Range(start, cache.covered_start))
    settled = cache.settled_end
    if end > settled:
        ranges.append(_Range(max(settled + _DAY, cache.covered_start), end + _DAY))
    return ranges


def _download_task(
    task: _Task,
    downloader: Downloader,
    deadline_at: float,
    deadline: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], Any],
    stop: threading.Event,
    timer: Callable[[], float] = time.monotonic,
) -> None:
    """Download a ticker's missing ranges, appending one outcome per range to ``task``."""
    for rng in task.ranges:
        attempt = 0
        retried_empty = False
        while True:
            remaining = deadline_at - timer()
            if stop.is_set() or remaining <= 0:
                return  # the caller reports the remaining ranges as timed out
            attempt += 1
            try:
                raw = downloader(
                    task.ticker,
                    start=rng.start,
                    end=rng.stop,
                    timeout=max(0.1, min(REQUEST_TIMEOUT, remaining)),
                )
                data = _to_close_series(raw)
            except Exception as exc:
                reason = _describe(exc)
                if attempt > retries:
                    suffix = f" (after {attempt} attempts)" if attempt > 1 else ""
                    task.outcomes.append(_Outcome(rng, None, reason + suffix))
                    break
                wait = backoff * 2 ** (attempt - 1)
                if timer() + wait >= deadline_at:
                    task.outcomes.append(
                        _Outcome(
                            rng,
                            None,
                            f"{reason}; no time left to retry within {_fmt_seconds(deadline)}",
                            timed_out=True,
                        )
                    )
                    break
                sleep(wait)
                continue
            if data.empty and not retried_empty and attempt <= retries:
                retried_empty = True  # Yahoo sometimes answers empty once; ask again
                continue
            inside = data[(data.index >= rng.start) & (data.index < rng.stop)]
            task.outcomes.append(_Outcome(rng, inside))
            break


def _run_downloads(
    tasks: list[_Task],
    *,
    downloader: Downloader,
    deadline_at: float,
    deadline: float,
    retries: int,
    backoff: float,
    sleep: Callable[[float], Any],
    max_workers: int,
    on_done: Callable[[_Task], None],
    timer: Callable[[], float] = time.monotonic,
) -> None:
    """Run tasks on daemon threads; call ``on_done`` (in this thread) as each finishes.

    Waiting stops at ``deadline_at`` (a ``timer()`` value); unfinished tasks are
    reported by ``on_done`` with their missing outcomes, and their threads abandoned.
    """
    stop = threading.Event()
    work: queue.Queue[tuple[_Task, cf.Future[None]]] = queue.Queue()
    futures: dict[cf.Future[None], _Task] = {}
    for task in tasks:
        future: cf.Future[None] = cf.Future()
        futures[future] = task
        work.put((task, future))

    def worker() -> None:
        while not stop.is_set():
            try:
                task, future = work.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                _download_task(
                    task, downloader, deadline_at, deadline, retries, backoff, sleep, stop,
                    timer,
                )
            except BaseException as exc:
                future.set_exception(exc)
            else:
                future.set_result(None)

    for number in range(max(1, min(max_workers, len(tasks)))):
        threading.Thread(target=worker, name=f"riskcore-yahoo-{number}", daemon=True).start()

    pending = set(futures)
    try:
        while pending:
            remaining = deadline_at - timer()
            # past the deadline, a task that already finished is still collected as done
            done, pending = cf.wait(pending, timeout=max(remaining, 0.0),
                                    return_when=cf.FIRST_COMPLETED)
            for future in done:
                task = futures[future]
                error = future.exception()
                if error is not None:
                    _fill_missing(task, _describe(error), timed_out=False)
                # a worker that saw the deadline first returns with ranges left undone
                _fill_missing(task, f"timed out after {_fmt_seconds(deadline)}", timed_out=True)
                on_done(task)
            if remaining <= 0:
                break
    finally:
        stop.set()
    for future in pending:
        future.cancel()
        task = futures[future]
        _fill_missing(task, f"timed out after {_fmt_seconds(deadline)}", timed_out=True)
        on_done(task)


def _fill_missing(task: _Task, reason: str, *, timed_out: bool) -> None:
    """Mark the ranges of ``task`` that have no outcome yet as failed with ``reason``."""
    outcomes = list(task.outcomes)  # a snapshot: an abandoned thread may still append
    seen = {o.range for o in outcomes}
    outcomes += [_Outcome(r, None, reason, timed_out) for r in task.ranges if r not in seen]
    task.outcomes = outcomes


# ----------------------------------------------------------------------------- resolution


@dataclass
class _TickerResult:
    ticker: str
    status: str
    reason: str
    window: pd.Series
    source: str
    fetched_at: pd.Timestamp | None
    cache_used_at: pd.Timestamp | None = None  # fetched_at of cached data shown instead


def _merge(task: _Task, now: pd.Timestamp) -> _Cache | None:
    """Merge the cache with successful downloads; None if nothing is known."""
    cache = task.cache
    good = [o for o in task.outcomes if o.data is not None]
    if not good:
        return cache
    data = cache.data if cache is not None else _empty_series()
    for outcome in good:
        keep = (data.index < outcome.range.start) | (data.index >= outcome.range.stop)
        data = pd.concat([data[keep], outcome.data]) if len(outcome.data) else data[keep]
    data = data[~data.index.duplicated(keep="last")].sort_index()
    data = data.astype("float64")
    data.index.name, data.name = "date", "close"

    if cache is None:
        rng = good[0].range
        if good[0].data is None or good[0].data.empty:
            return None  # nothing learned: do not cache an empty answer
        return _Cache(data, now, rng.start, rng.stop - _DAY)
    covered_start, covered_end = cache.covered_start, cache.settled_end
    for outcome in good:
        rng = outcome.range
        if rng.start < cache.covered_start:
            # an empty answer before the first known price means "not listed yet": remember it
            if len(outcome.data) or (len(data) and rng.stop <= data.index[0]):
                covered_start = rng.start
        elif len(outcome.data):
            covered_end = max(covered_end, rng.stop - _DAY)
    return _Cache(data, now, covered_start, covered_end)


def _resolve(
    task: _Task, merged: _Cache | None, start: pd.Timestamp, end: pd.Timestamp, now: pd.Timestamp
) -> _TickerResult:
    """Decide the status of one ticker from its outcomes and merged data."""
    if merged is None:
        window = _empty_series()
    else:
        window = merged.data[(merged.data.index >= start) & (merged.data.index <= end)]
    failed = [o for o in task.outcomes if o.data is None]
    succeeded = [o for o in task.outcomes if o.data is not None]
    reason = "; ".join(dict.fromkeys(o.reason for o in failed))
    if window.empty:
        if not reason:
            reason = (
                f"no data from Yahoo Finance between {_fmt_day(start)} and {_fmt_day(end)} "
                "(unknown ticker, or not listed then)"
            )
        return _TickerResult(task.ticker, "failed", reason, window, "none", None)
    if not task.ranges:
        return _TickerResult(task.ticker, "ok", "", window, "cache", task.cache.fetched_at)
    if not failed:
        return _TickerResult(task.ticker, "ok", "", window, "yahoo", now)
    if not succeeded:
        fetched = task.cache.fetched_at
        return _TickerResult(task.ticker, "cached", reason, window, "cache", fetched, fetched)
    missing = ", ".join(o.range.label() for o in failed)
    return _TickerResult(
        task.ticker, "partial", f"{reason} (missing {missing})", window, "yahoo", now
    )


def _status_frame(results: list[_TickerResult]) -> pd.DataFrame:
    rows = []
    for r in results:
        rows.append(
            {
                "ticker": r.ticker,
                "status": r.status,
                "reason": r.reason,
                "first": r.window.index[0] if len(r.window) else pd.NaT,
                "last": r.window.index[-1] if len(r.window) else pd.NaT,
                "rows": int(len(r.window)),
                "source": r.source,
                "fetched_at": r.fetched_at if r.fetched_at is not None else pd.NaT,
            }
        )
    frame = pd.DataFrame(rows, columns=_STATUS_COLUMNS)
    for column in ("first", "last", "fetched_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns")
    frame["rows"] = frame["rows"].astype("int64")
    return frame


def _panel(results: list[_TickerResult]) -> pd.DataFrame:
    columns = {r.ticker: r.window for r in results if len(r.window)}
    if not columns:
        index = pd.DatetimeIndex([], tz="UTC", name="date").as_unit("ns")
        return pd.DataFrame(index=index, dtype="float64")
    panel = pd.concat(columns, axis=1).sort_index().astype("float64")
    panel.index = pd.DatetimeIndex(panel.index).as_unit("ns")
    panel.index.name = "date"
    panel.columns.name = None
    return panel


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _messages(
    results: list[_TickerResult], offline: str | None, notes: list[str]
) -> tuple[str, ...]:
    out = list(notes)
    cached = [r for r in results if r.status == "cached"]
    if cached:
        by_time: dict[str, list[str]] = {}
        for r in cached:
            by_time.setdefault(_fmt_time(r.cache_used_at), []).append(r.ticker)
        parts = [f"{_join(names)} fetched {when}" for when, names in by_time.items()]
        using = f"Using cached data for {'; '.join(parts)}."
        if offline:
            out.append(f"Offline: Yahoo Finance unreachable ({offline}). {using}")
        else:
            for r in cached:
                out.append(
                    f"Download of {r.ticker} failed ({r.reason}). Using cached data fetched "
                    f"{_fmt_time(r.cache_used_at)}, last price {_fmt_day(r.window.index[-1])}."
                )
    failed = [r for r in results if r.status == "failed"]
    if offline and failed and not cached:
        out.append(f"Offline: Yahoo Finance unreachable ({offline}).")
    for r in failed:
        if offline:
            out.append(f"No cached data for {r.ticker}; it is left out of the panel.")
        else:
            out.append(f"{r.ticker} failed: {r.reason}; it is left out of the panel.")
    for r in results:
        if r.status == "partial":
            out.append(
                f"{r.ticker} is partial: {r.reason}; prices from {_fmt_day(r.window.index[0])} "
                f"to {_fmt_day(r.window.index[-1])}."
            )
    return tuple(out)


def _call_reachable(reachable: Callable[[], str | None], deadline_at: float,
                    timer: Callable[[], float] = time.monotonic) -> str | None:
    """Run a reachability check in a daemon thread, giving up at the deadline."""
    future: cf.Future[str | None] = cf.Future()

    def run() -> None:
        try:
            future.set_result(reachable())
        except Exception as exc:
            future.set_result(f"reachability check failed: {_describe(exc)}")

    threading.Thread(target=run, name="riskcore-yahoo-check", daemon=True).start()
    try:
        return future.result(timeout=max(0.0, deadline_at - timer()))
    except cf.TimeoutError:
        return "the reachability check got no answer before the deadline"


# ----------------------------------------------------------------------------- public entry


def fetch_prices(
    tickers: str | Sequence[str],
    start: str | date | datetime | pd.Timestamp,
    end: str | date | datetime | pd.Timestamp | None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    downloader: Downloader | None = None,
    deadline: float = 20.0,
    retries: int = 2,
    backoff: float = 0.5,
    progress: Callable[[int, int, str], Any] | None = None,
    check_reachable: bool = True,
    reachable: Callable[[], str | None] | None = None,
    now: str | datetime | pd.Timestamp | None = None,
    sleep: Callable[[float], Any] = time.sleep,
    timer: Callable[[], float] = time.monotonic,
    max_workers: int = 4,
) -> FetchResult:
    """Fetch daily closes from Yahoo Finance, within a deadline, using and filling a disk cache.

    Parameters
    ----------
    tickers : str or sequence of str
        Yahoo tickers (``"BTC-USD"``, ``"^GSPC"``); case is ignored, duplicates are dropped
        with a message. A single string may list several separated by commas or spaces.
    start, end : str, date, datetime or pandas.Timestamp
        First and last day wanted, both inclusive, as UTC calendar days (naive values are
        read as UTC). ``end=None`` or a day after today means today (UTC).
    cache_dir : path-like, optional
        Cache folder; default :func:`default_cache_dir` (``$RISKCORE_CACHE_DIR`` or
        ``~/.cache/riskcore/yahoo``). Created on first write. A folder that cannot be written
        only costs a message.
    downloader : callable, optional
        ``downloader(ticker, *, start, end, timeout)`` returning closes for
        ``start <= day < end`` (see :data:`Downloader`); default :func:`yahoo_download`.
        Tests pass a substitute.
    deadline : float, default 20.0
        Seconds after the call starts at which the function stops waiting and returns; tickers
        not done are reported ``"timed out after <deadline> s"``. The function returns within
        about ``deadline + 0.1`` seconds whatever the network does.
    retries : int, default 2
        Extra attempts per range after an error (exception or timeout of the downloader). An
        empty answer is asked again once (if ``retries >= 1``), then means "no data".
    backoff : float, default 0.5
        Seconds before the first retry; doubled for each further retry. A retry that would
        start after the deadline is not made.
    progress : callable, optional
        ``progress(done, total, ticker)`` called once per ticker as it finishes, in the
        calling thread (safe for ``st.progress``), ``total`` being the number of tickers.
    check_reachable : bool, default True
        Check that Yahoo accepts connections before downloading (skipped when the cache
        already covers the whole range). If it does not, no download is attempted and cached
        data are used.
    reachable : callable, optional
        ``reachable()`` returning None if Yahoo can be reached, else the reason; default
        :func:`yahoo_reachable` (TCP connect to ``query1``/``query2.finance.yahoo.com:443``,
        3 s timeout). It is run within the deadline.
    now : str, datetime or pandas.Timestamp, optional
        Current time (UTC), for tests; default the clock. It decides "today", which cached
        days are settled, and the ``fetched_at`` stamped on new data.
    sleep : callable, default time.sleep
        Waits between retries, replaceable in tests.
    timer : callable, default time.monotonic
        Seconds on a monotonic clock; the deadline is ``timer()`` at the call plus
        ``deadline``. Tests inject a fake clock to check the deadline without wall time.
    max_workers : int, default 4
        Download threads; each ticker is downloaded by one thread.

    Returns
    -------
    FetchResult
        ``prices`` (price panel of the tickers that have data, restricted to ``start..end``),
        ``status`` (one row per ticker) and ``messages``.

    Raises
    ------
    DataError
        If no ticker is given, a ticker has characters Yahoo does not use, a date cannot be
        read, ``start`` is after ``end`` or after today, or a tuning parameter is out of range.
    FetchError
        If no ticker has any data: nothing could be downloaded and nothing is cached. The
        message lists each ticker's reason (offline, timed out, no data).

    Notes
    -----
    Incremental download of only the missing range and treating only settled candles as
    final follow the usual practice for append-only time-series caches; a crypto daily
    candle on Yahoo closes at 00:00 UTC and is considered settled :data:`SETTLE_TIME` later.
    """
    t0 = timer()
    names, duplicates = _normalize_tickers(tickers)
    if not (_is_number(deadline) and np.isfinite(deadline) and deadline > 0):
        raise DataError(f"deadline is {deadline!r} s; it must be a positive number of seconds")
    if not (_is_whole(retries) and retries >= 0):
        raise DataError(f"retries is {retries!r}; it must be a whole number >= 0")
    if not (_is_number(backoff) and np.isfinite(backoff) and backoff >= 0):
        raise DataError(f"backoff is {backoff!r} s; it must be >= 0 seconds")
    if not (_is_whole(max_workers) and max_workers >= 1):
        raise DataError(f"max_workers is {max_workers!r}; it must be a whole number >= 1")
    deadline_at = t0 + float(deadline)
    clock = _to_now(now)
    today = clock.floor("D")
    first_day = _to_day(start, "start")
    last_day = today if end is None else min(_to_day(end, "end"), today)
    if first_day > today:
        raise DataError(
            f"start date {_fmt_day(first_day)} is after today ({_fmt_day(today)} UTC); "
            "Yahoo has no prices yet"
        )
    if first_day > last_day:
        raise DataError(
            f"start date {_fmt_day(first_day)} is after end date {_fmt_day(last_day)}; "
            "start must be on or before end"
        )
    folder = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    download = downloader if downloader is not None else yahoo_download

    notes: list[str] = []
    if duplicates:
        notes.append(f"{_join(sorted(set(duplicates)))} listed more than once; fetched once.")

    tasks: list[_Task] = []
    for ticker in names:
        path = _cache_path(folder, ticker)
        cache = None
        if path.exists():
            try:
                cache = _read_cache(path, ticker)
            except Exception as exc:
                notes.append(
                    f"The cache file for {ticker} ({path}) was unreadable ({_describe(exc)}); "
                    "it was deleted and the data are downloaded again."
                )
                try:
                    path.unlink()
                except OSError:
                    pass
        tasks.append(_Task(ticker, _missing_ranges(cache, first_day, last_day), cache))

    total = len(tasks)
    results: dict[str, _TickerResult] = {}
    write_errors: list[str] = []

    def finish(task: _Task) -> None:
        merged = _merge(task, clock)
        if merged is not None and merged is not task.cache:
            try:
                _write_cache(_cache_path(folder, task.ticker), task.ticker, merged)
            except Exception as exc:
                write_errors.append(f"{task.ticker} ({_describe(exc)})")
        results[task.ticker] = _resolve(task, merged, first_day, last_day, clock)
        if progress is not None:
            progress(len(results), total, task.ticker)

    for task in tasks:
        if not task.ranges:
            finish(task)
    to_download = [t for t in tasks if t.ranges]

    offline: str | None = None
    if to_download and check_reachable:
        offline = _call_reachable(reachable or yahoo_reachable, deadline_at, timer)
    if offline is not None:
        for task in to_download:
            _fill_missing(task, f"offline: Yahoo Finance unreachable ({offline})", timed_out=False)
            finish(task)
    elif to_download:
        _run_downloads(
            to_download,
            downloader=download,
            deadline_at=deadline_at,
            deadline=float(deadline),
            retries=int(retries),
            backoff=float(backoff),
            sleep=sleep,
            max_workers=max_workers,
            on_done=finish,
            timer=timer,
        )

    if write_errors:
        notes.append(f"Could not write the cache in {folder} for {_join(write_errors)}.")
    ordered = [results[name] for name in names]
    if all(r.status == "failed" for r in ordered):
        detail = "; ".join(f"{r.ticker}: {r.reason}" for r in ordered)
        where = f" and no cached data in {folder}" if offline else ""
        raise FetchError(
            " ".join(
                [
                    f"No prices from Yahoo Finance between {_fmt_day(first_day)} and "
                    f"{_fmt_day(last_day)}{where}. {detail}.",
                    *notes,
                ]
            )
        )
    return FetchResult(
        prices=_panel(ordered),
        status=_status_frame(ordered),
        messages=_messages(ordered, offline, notes),
    )
