"""Yahoo fetch path, tested without the network: substitute downloaders, a local blackhole."""

from __future__ import annotations

import inspect
import logging
import os
import socket
import threading
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from riskcore.errors import DataError, FetchError
from riskcore.yahoo import (
    FetchResult,
    _reason_from_log,
    _to_close_series,
    default_cache_dir,
    fetch_prices,
    yahoo_download,
    yahoo_reachable,
)

NOW = pd.Timestamp("2024-03-01 12:00", tz="UTC")
DNS = "DNS failure for query1.finance.yahoo.com"
DAY = pd.Timedelta(days=1)


def price(ticker: str, day: pd.Timestamp) -> float:
    """Deterministic close of ``ticker`` on ``day``: a level per ticker plus one cent a day."""
    level = {"BTC-USD": 40_000.0, "ETH-USD": 2_000.0, "SOL-USD": 100.0}.get(ticker, 10.0)
    return level + 0.01 * (day - pd.Timestamp("2020-01-01", tz="UTC")).days


class FakeYahoo:
    """Substitute downloader: yfinance-like frames, a listing date per ticker, call log."""

    def __init__(self, listed=None, fail=None, empty=()):
        self.listed = {k: pd.Timestamp(v, tz="UTC") for k, v in (listed or {}).items()}
        self.fail = dict(fail or {})  # ticker -> number of calls that raise (or "always")
        self.empty = set(empty)
        self.calls: list[tuple[str, pd.Timestamp, pd.Timestamp, float]] = []
        self.lock = threading.Lock()

    def __call__(self, ticker, *, start, end, timeout):
        with self.lock:
            self.calls.append((ticker, start, end, timeout))
            budget = self.fail.get(ticker, 0)
            if budget == "always" or budget > 0:
                if budget != "always":
                    self.fail[ticker] = budget - 1
                raise ConnectionError(f"connection reset while fetching {ticker}")
        if ticker in self.empty:
            return pd.DataFrame(columns=["Close", "High", "Low", "Open", "Volume"])
        days = pd.date_range(
            max(start, self.listed.get(ticker, start)), end, freq="D", inclusive="left"
        )
        closes = [price(ticker, d) for d in days]
        # yfinance's daily index is tz-naive (ignore_tz=True) and named "Date"
        index = pd.DatetimeIndex(days.tz_localize(None), name="Date")
        return pd.DataFrame(
            {"Close": closes, "High": closes, "Low": closes, "Open": closes, "Volume": 1.0},
            index=index,
        )

    def asked(self, ticker):
        return [
            (s.strftime("%Y-%m-%d"), e.strftime("%Y-%m-%d"))
            for t, s, e, _ in self.calls
            if t == ticker
        ]


def fetch(tickers, start, end, tmp_path, downloader, **kwargs):
    kwargs.setdefault("check_reachable", False)
    kwargs.setdefault("now", NOW)
    kwargs.setdefault("sleep", lambda s: None)
    return fetch_prices(tickers, start, end, cache_dir=tmp_path, downloader=downloader, **kwargs)


def row(result: FetchResult, ticker: str) -> pd.Series:
    return result.status.set_index("ticker").loc[ticker]


# ----------------------------------------------------------------------------- happy path


def test_panel_contract_and_values(tmp_path):
    fake = FakeYahoo(listed={"SOL-USD": "2024-01-10"})
    result = fetch(["btc-usd", "SOL-USD"], "2024-01-01", "2024-01-31", tmp_path, fake)
    prices = result.prices
    assert list(prices.columns) == ["BTC-USD", "SOL-USD"]
    assert isinstance(prices.index, pd.DatetimeIndex) and str(prices.index.tz) == "UTC"
    assert prices.index.name == "date" and prices.index.is_unique
    assert prices.index.is_monotonic_increasing
    assert (prices.dtypes == "float64").all()
    assert prices.index[0] == pd.Timestamp("2024-01-01", tz="UTC")
    assert prices.index[-1] == pd.Timestamp("2024-01-31", tz="UTC")
    day = pd.Timestamp("2024-01-15", tz="UTC")
    assert prices.loc[day, "BTC-USD"] == pytest.approx(price("BTC-USD", day))
    # NaN before SOL lists, prices from its listing day on
    assert prices.loc[:"2024-01-09", "SOL-USD"].isna().all()
    assert prices.loc["2024-01-10":, "SOL-USD"].notna().all()
    status = result.status
    assert list(status.columns) == [
        "ticker",
        "status",
        "reason",
        "first",
        "last",
        "rows",
        "source",
        "fetched_at",
    ]
    assert list(status["status"]) == ["ok", "ok"]
    assert list(status["source"]) == ["yahoo", "yahoo"]
    assert list(status["rows"]) == [31, 22]
    assert row(result, "SOL-USD")["first"] == pd.Timestamp("2024-01-10", tz="UTC")
    assert (status["fetched_at"] == NOW).all()
    assert result.messages == ()


def test_downloader_gets_exclusive_end_and_a_timeout(tmp_path):
    fake = FakeYahoo()
    fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, fake, deadline=5.0)
    ((ticker, start, end, timeout),) = fake.calls
    assert ticker == "BTC-USD"
    assert start == pd.Timestamp("2024-01-01", tz="UTC")
    assert end == pd.Timestamp("2024-02-01", tz="UTC")  # exclusive, as yfinance's end
    assert 0 < timeout <= 5.0


def test_end_after_today_is_clipped_and_none_means_today(tmp_path):
    fake = FakeYahoo()
    result = fetch(["BTC-USD"], "2024-02-20", None, tmp_path, fake)
    assert result.prices.index[-1] == NOW.floor("D")
    result = fetch(["ETH-USD"], "2024-02-20", "2030-01-01", tmp_path, fake)
    assert result.prices.index[-1] == NOW.floor("D")


def test_string_of_tickers_and_duplicates(tmp_path):
    fake = FakeYahoo()
    result = fetch("BTC-USD, eth-usd BTC-USD", "2024-01-01", "2024-01-05", tmp_path, fake)
    assert list(result.prices.columns) == ["BTC-USD", "ETH-USD"]
    assert len(fake.calls) == 2
    assert result.messages == ("BTC-USD listed more than once; fetched once.",)


# ----------------------------------------------------------------------------- offline


def test_offline_without_cache_raises_fast(tmp_path):
    fake = FakeYahoo()
    with pytest.raises(
        FetchError,
        match=r"No prices from Yahoo Finance between 2024-01-01 and "
        r"2024-01-31 and no cached data in .*BTC-USD: offline: Yahoo Finance "
        r"unreachable \(DNS failure for query1\.finance\.yahoo\.com\)",
    ):
        fetch(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            fake,
            check_reachable=True,
            reachable=lambda: DNS,
        )
    assert fake.calls == []


def test_offline_uses_cache_and_says_from_when(tmp_path):
    fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-01 14:02")
    fake = FakeYahoo()
    result = fetch(
        ["BTC-USD", "ETH-USD"],
        "2024-01-01",
        "2024-02-29",
        tmp_path,
        fake,
        check_reachable=True,
        reachable=lambda: DNS,
    )
    assert fake.calls == []
    assert result.messages == (
        "Offline: Yahoo Finance unreachable (DNS failure for query1.finance.yahoo.com). "
        "Using cached data for BTC-USD fetched 2024-02-01 14:02 UTC.",
        "No cached data for ETH-USD; it is left out of the panel.",
    )
    btc = row(result, "BTC-USD")
    assert btc["status"] == "cached" and btc["source"] == "cache"
    assert btc["fetched_at"] == pd.Timestamp("2024-02-01 14:02", tz="UTC")
    assert btc["reason"] == f"offline: Yahoo Finance unreachable ({DNS})"
    assert btc["rows"] == 31
    assert row(result, "ETH-USD")["status"] == "failed"
    assert list(result.prices.columns) == ["BTC-USD"]


def test_cache_covering_the_range_needs_no_network(tmp_path):
    fetch(["BTC-USD"], "2024-01-01", "2024-02-10", tmp_path, FakeYahoo())

    def unreachable():
        raise AssertionError("the reachability check must not run")

    fake = FakeYahoo()
    result = fetch(
        ["BTC-USD"],
        "2024-01-05",
        "2024-01-31",
        tmp_path,
        fake,
        check_reachable=True,
        reachable=unreachable,
    )
    assert fake.calls == []
    assert row(result, "BTC-USD")["status"] == "ok"
    assert row(result, "BTC-USD")["source"] == "cache"
    assert result.prices.index[0] == pd.Timestamp("2024-01-05", tz="UTC")
    assert len(result.prices) == 27


def test_hanging_reachability_check_is_cut_by_the_deadline(tmp_path):
    release = threading.Event()
    with pytest.raises(FetchError, match="reachability check got no answer before the deadline"):
        fetch(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            FakeYahoo(),
            check_reachable=True,
            reachable=lambda: release.wait(30),
            deadline=0.3,
        )
    release.set()


# ----------------------------------------------------------------------------- deadline


def test_hanging_downloader_times_out_within_the_deadline(tmp_path):
    release = threading.Event()
    fake = FakeYahoo()

    def downloader(ticker, *, start, end, timeout):
        if ticker == "ETH-USD":
            release.wait(30)  # ignores its timeout, like yfinance's cookie/crumb requests
        return fake(ticker, start=start, end=end, timeout=timeout)

    result = fetch(
        ["BTC-USD", "ETH-USD"], "2024-01-01", "2024-01-31", tmp_path, downloader, deadline=0.5
    )
    release.set()
    assert row(result, "BTC-USD")["status"] == "ok"
    eth = row(result, "ETH-USD")
    assert eth["status"] == "failed" and eth["reason"] == "timed out after 0.5 s"
    assert "ETH-USD failed: timed out after 0.5 s; it is left out of the panel." in result.messages
    assert list(result.prices.columns) == ["BTC-USD"]


def test_all_hanging_raises_fetch_error_in_time(tmp_path):
    release = threading.Event()
    with pytest.raises(FetchError, match=r"BTC-USD: timed out after 0\.3 s"):
        fetch(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            lambda t, **kw: release.wait(30),
            deadline=0.3,
        )
    release.set()


@pytest.fixture
def blackhole():
    """A local TCP port that accepts connections and never answers (TESTING.md section 4)."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                accepted.append(conn)  # keep it open, never write
            except (TimeoutError, OSError):
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield SimpleNamespace(port=server.getsockname()[1], accepted=accepted)
    stop.set()
    thread.join(1)
    for conn in accepted:
        conn.close()
    server.close()


def test_blackhole_server_fetch_fails_within_the_deadline(tmp_path, blackhole):
    # the TCP check passes (the port accepts), then every request hangs
    assert yahoo_reachable(hosts=("127.0.0.1",), port=blackhole.port, timeout=1.0) is None

    def downloader(ticker, *, start, end, timeout):
        with socket.create_connection(("127.0.0.1", blackhole.port), timeout=timeout) as conn:
            conn.sendall(b"GET /v8/finance/chart/" + ticker.encode() + b" HTTP/1.1\r\n\r\n")
            conn.settimeout(30)  # a client that ignores its timeout, like the crumb request
            return conn.recv(1)

    with pytest.raises(FetchError, match=r"BTC-USD: timed out after 0\.5 s; ETH-USD: timed out"):
        fetch(
            ["BTC-USD", "ETH-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            downloader,
            check_reachable=True,
            reachable=lambda: yahoo_reachable(hosts=("127.0.0.1",), port=blackhole.port),
            deadline=0.5,
        )


def test_blackhole_downloader_that_honours_its_timeout_is_retried_then_fails(tmp_path, blackhole):
    def downloader(ticker, *, start, end, timeout):
        with socket.create_connection(("127.0.0.1", blackhole.port), timeout=0.1) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\n\r\n")
            return conn.recv(1)  # raises TimeoutError after 0.1 s

    with pytest.raises(FetchError, match=r"BTC-USD: TimeoutError: timed out \(after 3 attempts\)"):
        fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, downloader, deadline=2.0)


def test_real_yfinance_on_a_blackhole_network_is_cut_by_the_deadline(
    tmp_path, blackhole, monkeypatch
):
    """yfinance through a proxy that accepts and never answers: the 130-180 s hang case."""
    pytest.importorskip("yfinance")
    proxy = f"http://127.0.0.1:{blackhole.port}"
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, proxy)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(FetchError, match=r"BTC-USD: timed out after 1 s"):
        fetch_prices(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            cache_dir=tmp_path,
            check_reachable=False,
            deadline=1.0,
            now=NOW,
        )
    assert blackhole.accepted, "yfinance never reached the blackhole; the test proves nothing"


def test_reachability_reasons():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert yahoo_reachable(hosts=("127.0.0.1",), port=port) == (
        f"connection refused by 127.0.0.1:{port}"
    )
    reason = yahoo_reachable(hosts=("query1.yahoo.invalid",), timeout=1.0)
    assert reason.startswith(("DNS failure for query1.yahoo.invalid", "no answer from"))


def test_reachability_timeouts(monkeypatch):
    def silent(address, timeout):
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "create_connection", silent)
    assert (
        yahoo_reachable(timeout=0.2) == "no answer from query1.finance.yahoo.com:443 within 0.2 s"
    )
    release = threading.Event()

    def hanging(address, timeout):
        release.wait(30)
        raise OSError("released")

    monkeypatch.setattr(socket, "create_connection", hanging)
    reason = yahoo_reachable(timeout=0.2)
    release.set()
    assert reason == "no answer from query1.finance.yahoo.com within 0.2 s (name lookup hangs)"


# ----------------------------------------------------------------------------- per-ticker status


def test_one_ticker_failing_gives_per_ticker_status(tmp_path):
    fake = FakeYahoo(fail={"ETH-USD": "always"})
    result = fetch(["BTC-USD", "ETH-USD"], "2024-01-01", "2024-01-31", tmp_path, fake)
    assert row(result, "BTC-USD")["status"] == "ok"
    eth = row(result, "ETH-USD")
    assert eth["status"] == "failed" and eth["source"] == "none" and eth["rows"] == 0
    assert eth["reason"] == (
        "ConnectionError: connection reset while fetching ETH-USD (after 3 attempts)"
    )
    assert pd.isna(eth["first"]) and pd.isna(eth["fetched_at"])
    assert list(result.prices.columns) == ["BTC-USD"]


def test_partial_when_one_missing_range_fails(tmp_path):
    fetch(["BTC-USD"], "2024-01-10", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-05")

    calls = []

    def downloader(ticker, *, start, end, timeout):
        calls.append(start)
        if start < pd.Timestamp("2024-01-10", tz="UTC"):
            raise ConnectionError("reset")
        return FakeYahoo()(ticker, start=start, end=end, timeout=timeout)

    result = fetch(["BTC-USD"], "2024-01-01", "2024-02-20", tmp_path, downloader, retries=0)
    btc = row(result, "BTC-USD")
    assert btc["status"] == "partial" and btc["source"] == "yahoo"
    assert btc["reason"] == "ConnectionError: reset (missing 2024-01-01 to 2024-01-09)"
    assert btc["first"] == pd.Timestamp("2024-01-10", tz="UTC")
    assert btc["last"] == pd.Timestamp("2024-02-20", tz="UTC")
    assert result.messages == (
        "BTC-USD is partial: ConnectionError: reset (missing 2024-01-01 to 2024-01-09); "
        "prices from 2024-01-10 to 2024-02-20.",
    )


def test_partial_when_the_deadline_hits_between_ranges(tmp_path):
    fetch(["BTC-USD"], "2024-01-10", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-05")
    release = threading.Event()

    def downloader(ticker, *, start, end, timeout):
        if start > pd.Timestamp("2024-01-10", tz="UTC"):
            release.wait(30)  # the recent range hangs
        return FakeYahoo()(ticker, start=start, end=end, timeout=timeout)

    result = fetch(["BTC-USD"], "2024-01-01", "2024-02-20", tmp_path, downloader, deadline=0.4)
    release.set()
    btc = row(result, "BTC-USD")
    assert btc["status"] == "partial"
    assert btc["reason"] == "timed out after 0.4 s (missing 2024-02-01 to 2024-02-20)"
    assert btc["first"] == pd.Timestamp("2024-01-01", tz="UTC")
    assert btc["last"] == pd.Timestamp("2024-01-31", tz="UTC")
    # the range that arrived is cached: the next call asks only for the rest
    fake = FakeYahoo()
    fetch(["BTC-USD"], "2024-01-01", "2024-02-20", tmp_path, fake)
    assert fake.asked("BTC-USD") == [("2024-02-01", "2024-02-21")]


def test_download_failure_online_falls_back_to_cache(tmp_path):
    fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-01 09:30")
    result = fetch(
        ["BTC-USD"],
        "2024-01-01",
        "2024-02-29",
        tmp_path,
        FakeYahoo(fail={"BTC-USD": "always"}),
        retries=0,
    )
    btc = row(result, "BTC-USD")
    assert btc["status"] == "cached"
    assert result.messages == (
        "Download of BTC-USD failed (ConnectionError: connection reset while fetching "
        "BTC-USD). Using cached data fetched 2024-02-01 09:30 UTC, last price 2024-01-31.",
    )


# ----------------------------------------------------------------------------- retries


def test_transient_error_is_retried_with_exponential_backoff(tmp_path):
    fake = FakeYahoo(fail={"BTC-USD": 2})
    waits = []
    result = fetch(
        ["BTC-USD"],
        "2024-01-01",
        "2024-01-31",
        tmp_path,
        fake,
        retries=2,
        backoff=0.5,
        sleep=waits.append,
    )
    assert len(fake.calls) == 3
    assert waits == [0.5, 1.0]
    assert row(result, "BTC-USD")["status"] == "ok"


def test_retries_exhausted(tmp_path):
    fake = FakeYahoo(fail={"BTC-USD": 5})
    waits = []
    with pytest.raises(FetchError, match=r"after 2 attempts"):
        fetch(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            fake,
            retries=1,
            backoff=0.25,
            sleep=waits.append,
        )
    assert len(fake.calls) == 2 and waits == [0.25]


def test_no_retry_that_would_end_after_the_deadline(tmp_path):
    fake = FakeYahoo(fail={"BTC-USD": 5})
    with pytest.raises(FetchError, match=r"no time left to retry within 1 s"):
        fetch(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            fake,
            retries=3,
            backoff=5.0,
            deadline=1.0,
        )
    assert len(fake.calls) == 1


def test_empty_answer_is_asked_once_more_then_no_data(tmp_path):
    fake = FakeYahoo(empty={"XYZ-USD"})
    result = fetch(["BTC-USD", "XYZ-USD"], "2024-01-01", "2024-01-31", tmp_path, fake)
    assert len(fake.asked("XYZ-USD")) == 2
    xyz = row(result, "XYZ-USD")
    assert xyz["status"] == "failed"
    assert xyz["reason"] == (
        "no data from Yahoo Finance between 2024-01-01 and 2024-01-31 "
        "(unknown ticker, or not listed then)"
    )
    assert not (tmp_path / "XYZ-USD.parquet").exists()


def test_progress_called_once_per_ticker_in_the_calling_thread(tmp_path):
    fetch(["BTC-USD"], "2024-01-01", "2024-02-10", tmp_path, FakeYahoo())  # cached, no download
    seen = []

    def progress(done, total, ticker):
        seen.append((done, total, ticker, threading.get_ident()))

    release = threading.Event()
    fake = FakeYahoo(fail={"ETH-USD": "always"})

    def downloader(ticker, **kw):
        if ticker == "XRP-USD":
            release.wait(30)
        return fake(ticker, **kw)

    fetch(
        ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"],
        "2024-01-01",
        "2024-01-31",
        tmp_path,
        downloader,
        progress=progress,
        deadline=0.5,
    )
    release.set()
    assert [s[:2] for s in seen] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert sorted(s[2] for s in seen) == ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
    assert seen[-1][2] == "XRP-USD"  # the timed-out one comes last
    assert {s[3] for s in seen} == {threading.get_ident()}


# ----------------------------------------------------------------------------- cache


def test_cache_round_trip_and_no_temp_files(tmp_path):
    first = fetch(
        ["BTC-USD", "ETH-USD"], "2024-01-01", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-10"
    )
    assert sorted(os.listdir(tmp_path)) == ["BTC-USD.parquet", "ETH-USD.parquet"]
    fake = FakeYahoo()
    second = fetch(["BTC-USD", "ETH-USD"], "2024-01-01", "2024-01-31", tmp_path, fake)
    assert fake.calls == []
    pd.testing.assert_frame_equal(first.prices, second.prices)
    assert list(second.status["source"]) == ["cache", "cache"]
    assert (second.status["fetched_at"] == pd.Timestamp("2024-02-10", tz="UTC")).all()


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("RISKCORE_CACHE_DIR", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    fetch_prices(
        ["BTC-USD"],
        "2024-01-01",
        "2024-01-03",
        downloader=FakeYahoo(),
        check_reachable=False,
        now=NOW,
    )
    assert os.listdir(tmp_path / "env") == ["BTC-USD.parquet"]
    monkeypatch.delenv("RISKCORE_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "riskcore" / "yahoo"


def test_only_missing_ranges_are_requested(tmp_path):
    fetch(["BTC-USD"], "2024-01-10", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-10")
    fake = FakeYahoo()
    result = fetch(["BTC-USD"], "2024-01-01", "2024-02-15", tmp_path, fake, now="2024-02-20 12:00")
    # before the cached range, and after its last day (settled long ago, so not refetched)
    assert fake.asked("BTC-USD") == [("2024-01-01", "2024-01-10"), ("2024-02-01", "2024-02-16")]
    assert len(result.prices) == 46 and result.prices["BTC-USD"].notna().all()
    # now everything is cached: a third call asks nothing
    fake = FakeYahoo()
    fetch(["BTC-USD"], "2024-01-01", "2024-02-15", tmp_path, fake, now="2024-02-20 12:00")
    assert fake.calls == []


def test_recent_days_are_fetched_again(tmp_path):
    # fetched at 10:00 on Feb 15: the Feb 14 candle closed 10 h earlier (settled), Feb 15 is live
    fetch(["BTC-USD"], "2024-01-01", "2024-02-15", tmp_path, FakeYahoo(), now="2024-02-15 10:00")
    fake = FakeYahoo()
    fetch(["BTC-USD"], "2024-01-01", "2024-02-16", tmp_path, fake, now="2024-02-16 10:00")
    assert fake.asked("BTC-USD") == [("2024-02-15", "2024-02-17")]


def test_refetched_days_replace_cached_values(tmp_path):
    fetch(["BTC-USD"], "2024-01-01", "2024-02-15", tmp_path, FakeYahoo(), now="2024-02-15 03:00")

    def moved(ticker, *, start, end, timeout):
        frame = FakeYahoo()(ticker, start=start, end=end, timeout=timeout)
        return frame.assign(Close=frame["Close"] + 1.0)

    result = fetch(["BTC-USD"], "2024-01-01", "2024-02-15", tmp_path, moved, now="2024-02-16 10:00")
    closes = result.prices["BTC-USD"]
    # 03:00 on Feb 15 was under 6 h after Feb 14 closed: Feb 14 and 15 were asked again
    assert closes["2024-02-13"] == pytest.approx(
        price("BTC-USD", pd.Timestamp("2024-02-13", tz="UTC"))
    )
    assert closes["2024-02-14"] == pytest.approx(
        price("BTC-USD", pd.Timestamp("2024-02-14", tz="UTC")) + 1
    )
    assert closes["2024-02-15"] == pytest.approx(
        price("BTC-USD", pd.Timestamp("2024-02-15", tz="UTC")) + 1
    )


def test_empty_range_before_listing_is_remembered(tmp_path):
    fake = FakeYahoo(listed={"SOL-USD": "2024-01-10"})
    fetch(["SOL-USD"], "2024-01-12", "2024-01-31", tmp_path, fake, now="2024-02-10")
    fetch(["SOL-USD"], "2023-12-01", "2024-01-31", tmp_path, fake, now="2024-02-10")
    fetch(["SOL-USD"], "2023-12-01", "2024-01-31", tmp_path, fake, now="2024-02-10")
    assert fake.asked("SOL-USD") == [("2024-01-12", "2024-02-01"), ("2023-12-01", "2024-01-12")]


@pytest.mark.parametrize(
    "content",
    [
        b"\x00\xffgarbage, not parquet at all",
        "truncated",
        "wrong schema",
        "other ticker",
    ],
)
def test_corrupt_cache_file_is_reported_and_refetched(tmp_path, content):
    path = tmp_path / "BTC-USD.parquet"
    if content == "truncated":
        fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, FakeYahoo())
        path.write_bytes(path.read_bytes()[:-40])
    elif content == "wrong schema":
        pd.DataFrame({"Date": ["2024-01-01"], "Close": ["abc"]}).to_parquet(path)
    elif content == "other ticker":
        fetch(["ETH-USD"], "2024-01-01", "2024-01-31", tmp_path, FakeYahoo())
        os.replace(tmp_path / "ETH-USD.parquet", path)
    else:
        path.write_bytes(content)
    fake = FakeYahoo()
    result = fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, fake)
    assert fake.asked("BTC-USD") == [("2024-01-01", "2024-02-01")]
    assert row(result, "BTC-USD")["status"] == "ok"
    (message,) = result.messages
    assert message.startswith(f"The cache file for BTC-USD ({path}) was unreadable (")
    assert message.endswith("it was deleted and the data are downloaded again.")
    # the file was rewritten and is readable again
    fake = FakeYahoo()
    again = fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, fake)
    assert fake.calls == [] and again.messages == ()


def test_corrupt_cache_while_offline_is_named_in_the_error(tmp_path):
    (tmp_path / "BTC-USD.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(
        FetchError,
        match=r"BTC-USD: offline: .*\. The cache file for BTC-USD .* was unreadable \(",
    ):
        fetch(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            tmp_path,
            FakeYahoo(),
            check_reachable=True,
            reachable=lambda: DNS,
        )
    assert os.listdir(tmp_path) == []


def test_failed_write_leaves_no_temp_file_and_keeps_the_old_file(tmp_path, monkeypatch):
    fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, FakeYahoo(), now="2024-02-10")
    before = (tmp_path / "BTC-USD.parquet").read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    result = fetch(["BTC-USD"], "2024-01-01", "2024-02-20", tmp_path, FakeYahoo())
    monkeypatch.undo()
    assert row(result, "BTC-USD")["status"] == "ok"
    assert result.messages == (
        f"Could not write the cache in {tmp_path} for BTC-USD (OSError: disk full).",
    )
    assert os.listdir(tmp_path) == ["BTC-USD.parquet"]
    assert (tmp_path / "BTC-USD.parquet").read_bytes() == before


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("tickers", "match"),
    [
        ([], "no ticker given; enter at least one Yahoo ticker such as BTC-USD"),
        ("  ", "no ticker given"),
        (["BTC USD"], r"ticker 'BTC USD' is not a Yahoo ticker: use 1 to 24 letters, digits"),
        (["BTC-USD", "../etc"], r"ticker '\.\./etc' is not a Yahoo ticker"),
        ([42], "ticker 42 is not text"),
        (None, "tickers must be a list of Yahoo tickers"),
    ],
)
def test_bad_tickers(tmp_path, tickers, match):
    with pytest.raises(DataError, match=match):
        fetch(tickers, "2024-01-01", "2024-01-31", tmp_path, FakeYahoo())


@pytest.mark.parametrize(
    ("start", "end", "kwargs", "match"),
    [
        ("2024-02-01", "2024-01-01", {}, "start date 2024-02-01 is after end date 2024-01-01"),
        ("2025-01-01", None, {}, r"start date 2025-01-01 is after today \(2024-03-01 UTC\)"),
        ("yesterday-ish", None, {}, "start date 'yesterday-ish' is not a date; use YYYY-MM-DD"),
        (
            "2024-01-01",
            "2024-01-31",
            {"deadline": 0},
            "deadline is 0 s; it must be a positive number of seconds",
        ),
        ("2024-01-01", "2024-01-31", {"deadline": "10"}, "deadline is '10' s; it must be a"),
        ("2024-01-01", "2024-01-31", {"retries": -1}, "retries is -1; it must be a whole"),
        ("2024-01-01", "2024-01-31", {"retries": 1.5}, "retries is 1.5; it must be a whole"),
        ("2024-01-01", "2024-01-31", {"max_workers": 0}, "max_workers is 0; it must be a whole"),
        ("2024-01-01", "2024-01-31", {"now": "soon"}, "now is 'soon'; it must be a date and time"),
        ("2024-01-01", "not a day", {}, "end date 'not a day' is not a date; use YYYY-MM-DD"),
        ("2024-01-01", "2024-01-31", {"backoff": -1.0}, "backoff is -1.0 s; it must be >= 0"),
    ],
)
def test_bad_arguments(tmp_path, start, end, kwargs, match):
    with pytest.raises(DataError, match=match):
        fetch(["BTC-USD"], start, end, tmp_path, FakeYahoo(), **kwargs)


# ----------------------------------------------------------------------------- normalization


def test_close_series_from_yfinance_shapes():
    index = pd.DatetimeIndex(["2024-01-02", "2024-01-01", "2024-01-02"], name="Date")
    multi = pd.DataFrame(
        [[3.0, 30.0], [1.0, 10.0], [2.0, 20.0]],
        index=index,
        columns=pd.MultiIndex.from_tuples(
            [("Close", "BTC-USD"), ("Volume", "BTC-USD")], names=["Price", "Ticker"]
        ),
    )
    series = _to_close_series(multi)
    assert series.index.equals(
        pd.DatetimeIndex(["2024-01-01", "2024-01-02"], tz="UTC", name="date").as_unit("ns")
    )
    assert series.tolist() == [1.0, 2.0]  # sorted, duplicate kept last
    eastern = pd.Series([5.0], index=pd.DatetimeIndex(["2024-01-05"]).tz_localize("US/Eastern"))
    assert _to_close_series(eastern).index[0] == pd.Timestamp("2024-01-05", tz="UTC")
    assert _to_close_series(None).empty
    with pytest.raises(DataError, match="no Close column"):
        _to_close_series(pd.DataFrame({"Open": [1.0], "High": [2.0]}))


def test_yfinance_log_lines_become_reasons():
    dns = (
        "Failed to get ticker 'BTC-USD' reason: Failed to perform, curl: (6) Could not "
        "resolve host: query2.finance.yahoo.com (Domain name not found)."
    )
    assert _reason_from_log([dns, "$BTC-USD: possibly delisted; no timezone found"]) == (
        "DNS failure for query2.finance.yahoo.com"
    )
    assert _reason_from_log(["$XYZ: possibly delisted; no price data found"]) is None
    assert _reason_from_log([]) is None
    assert _reason_from_log(["curl: (28) Operation timed out"]) == (
        "Yahoo Finance did not answer in time"
    )


YF_KWARGS = {
    "start": "2024-01-01",
    "end": "2024-02-01",
    "interval": "1d",
    "auto_adjust": True,
    "progress": False,
    "multi_level_index": False,
    "threads": False,
    "timeout": 2.5,
}


def test_yahoo_download_calls_yfinance_as_documented(monkeypatch):
    yf = pytest.importorskip("yfinance")
    # every keyword we pass exists in the installed yfinance.download
    assert set(YF_KWARGS) <= set(inspect.signature(yf.download).parameters)
    seen = {}

    def download(ticker, **kwargs):
        seen.update(kwargs, ticker=ticker)
        index = pd.DatetimeIndex(["2024-01-01", "2024-01-02"], name="Date")
        return pd.DataFrame({"Close": [42_000.0, 42_100.5], "Volume": [1, 2]}, index=index)

    monkeypatch.setattr(yf, "download", download)
    series = yahoo_download(
        "BTC-USD",
        start=pd.Timestamp("2024-01-01", tz="UTC"),
        end=pd.Timestamp("2024-02-01", tz="UTC"),
        timeout=2.5,
    )
    assert seen == {**YF_KWARGS, "ticker": "BTC-USD"}
    assert series.tolist() == [42_000.0, 42_100.5]
    assert str(series.index.tz) == "UTC" and series.dtype == "float64"


def test_yahoo_download_turns_logged_network_errors_into_exceptions(monkeypatch):
    yf = pytest.importorskip("yfinance")

    def offline(ticker, **kwargs):  # what yfinance 1.7 does without DNS: log, return empty
        logging.getLogger("yfinance").error(
            "Failed to get ticker '%s' reason: Failed to perform, curl: (6) Could not resolve "
            "host: query2.finance.yahoo.com",
            ticker,
        )
        return pd.DataFrame(columns=["Close", "High", "Low", "Open", "Volume"])

    day = pd.Timestamp("2024-01-01", tz="UTC")
    monkeypatch.setattr(yf, "download", offline)
    with pytest.raises(ConnectionError, match="DNS failure for query2.finance.yahoo.com"):
        yahoo_download("BTC-USD", start=day, end=day + DAY)

    def delisted(ticker, **kwargs):
        logging.getLogger("yfinance").error("$%s: possibly delisted; no price data found", ticker)
        return pd.DataFrame(columns=["Close"])

    monkeypatch.setattr(yf, "download", delisted)
    assert yahoo_download("XYZ-USD", start=day, end=day + DAY).empty


def test_real_yfinance_downloader_fails_fast_without_network(tmp_path):
    """The real downloader (yfinance) on a machine without DNS: a fast failure, never a hang."""
    try:
        result = fetch_prices(
            ["BTC-USD"],
            "2024-01-01",
            "2024-01-31",
            cache_dir=tmp_path,
            check_reachable=False,
            deadline=5.0,
            retries=0,
            now=NOW,
        )
    except FetchError as exc:
        assert str(exc).startswith("No prices from Yahoo Finance between 2024-01-01")
        assert "BTC-USD: " in str(exc)
    else:  # a machine with network: the data must follow the panel contract
        assert row(result, "BTC-USD")["status"] == "ok"
        assert str(result.prices.index.tz) == "UTC"


def test_result_is_frozen(tmp_path):
    result = fetch(["BTC-USD"], "2024-01-01", "2024-01-03", tmp_path, FakeYahoo())
    with pytest.raises(AttributeError):
        result.prices = None
    assert isinstance(result.messages, tuple)
    assert np.isfinite(result.prices.to_numpy()).all()


# ----------------------------------------------------------------------------- injected clock


class FakeTimer:
    """A monotonic clock that moves only when told to (no wall time in the tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_deadline_is_read_from_the_injected_clock(tmp_path):
    """Time passes only on the injected clock: a request never asks for more than the time
    left, and once the deadline has passed no further request is made."""
    timer, fake, asked = FakeTimer(), FakeYahoo(), {}

    def slow(ticker, *, start, end, timeout):
        asked[ticker] = timeout
        timer.now += 15.0  # each download takes "15 s"
        return fake(ticker, start=start, end=end, timeout=timeout)

    result = fetch(["BTC-USD", "ETH-USD", "SOL-USD"], "2024-01-01", "2024-01-31", tmp_path,
                   slow, deadline=20.0, timer=timer, max_workers=1)
    assert asked["BTC-USD"] <= 20.0
    assert asked["ETH-USD"] == pytest.approx(5.0)  # 20 s deadline, 15 s used
    assert "SOL-USD" not in asked  # 30 s used: past the deadline, never asked
    sol = row(result, "SOL-USD")
    assert sol["status"] == "failed" and sol["reason"] == "timed out after 20 s"


def test_no_retry_is_started_that_would_end_after_the_deadline(tmp_path):
    timer, waits = FakeTimer(), []

    def failing(ticker, *, start, end, timeout):
        timer.now += 4.0
        raise ConnectionError("connection reset")

    with pytest.raises(FetchError, match="connection reset; no time left to retry within 5 s"):
        fetch(["BTC-USD"], "2024-01-01", "2024-01-31", tmp_path, failing, deadline=5.0,
              timer=timer, retries=3, backoff=2.0, sleep=waits.append)
    assert waits == []  # 4 s used + a 2 s wait would pass the 5 s deadline
