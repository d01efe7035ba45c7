"""The Yahoo Finance source in the page: offline fails fast and clearly; the disk cache serves."""

import datetime as dt
import time

import numpy as np
import pandas as pd
from streamlit.testing.v1 import AppTest

import riskcore
from tests.conftest import REPO


def fetch(at: AppTest, tickers: str, start: dt.date, end: dt.date) -> AppTest:
    at.radio(key="source").set_value("Yahoo Finance").run()
    at.text_area(key="yahoo_tickers").set_value(tickers)
    at.date_input(key="yahoo_range").set_value((start, end))
    at.button[0].click().run()
    return at


def test_offline_fetch_fails_fast_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("RISKCORE_CACHE_DIR", str(tmp_path))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    began = time.monotonic()
    fetch(at, "BTC-USD, eth-usd", dt.date(2023, 1, 1), dt.date(2023, 6, 30))
    assert time.monotonic() - began < 15
    assert not at.exception, at.exception
    messages = " ".join(e.value.replace("\\", "") for e in at.error)
    assert "Yahoo Finance" in messages and "BTC-USD" in messages, messages
    assert "ETH-USD" in messages and "BTC-USD," not in messages  # commas separate tickers


def test_offline_fetch_uses_the_disk_cache_and_says_from_when(tmp_path, monkeypatch):
    monkeypatch.setenv("RISKCORE_CACHE_DIR", str(tmp_path))
    days = pd.date_range("2022-01-01", "2022-12-31", freq="D", tz="UTC")
    rng = np.random.default_rng(42)

    def substitute(ticker, *, start, end, timeout):
        path = 100 * np.exp(np.cumsum(rng.normal(0, 0.03, len(days))))
        closes = pd.Series(path, index=days, name=ticker)
        return closes[(closes.index >= start) & (closes.index < end)]

    filled = riskcore.fetch_prices(["BTC-USD", "SOL-USD"], dt.date(2022, 1, 1),
                                   dt.date(2022, 12, 31), downloader=substitute,
                                   check_reachable=False)
    assert filled.prices.shape == (365, 2)

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    # a range reaching past the cache needs Yahoo, which is unreachable: the cache serves
    fetch(at, "BTC-USD SOL-USD", dt.date(2022, 1, 1), dt.date(2023, 1, 31))
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    notes = " ".join(i.value.replace("\\", "") for i in at.info)
    assert "Offline" in notes and "Using cached data" in notes and "fetched" in notes, notes
    assert any(m.label == "Assets" and m.value == "2" for m in at.metric)
