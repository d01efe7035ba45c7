"""Cache keys of ui.caching: the whole content decides, computed once per object."""

import gc
import hashlib

import numpy as np
import pandas as pd

from ui import caching


def _hourly(rows: int = 87_600) -> pd.DataFrame:
    idx = pd.date_range("2015-01-01", periods=rows, freq="h", tz="UTC")
    return pd.DataFrame(np.random.default_rng(0).random((rows, 3)), index=idx,
                        columns=["BTC", "ETH", "SOL"])


def test_a_change_anywhere_in_a_large_frame_changes_its_key():
    """Streamlit's own hash samples 10,000 rows of a frame this long; the key must not."""
    frame = _hourly()
    key = caching.frame_key(frame)
    for row in (0, 12_345, 87_599):
        changed = frame.copy()
        changed.iloc[row, 1] += 1e-9
        assert caching.frame_key(changed) != key, row
    assert caching.frame_key(frame.copy()) == key
    assert caching.frame_key(frame.rename(columns={"SOL": "ADA"})) != key
    assert caching.frame_key(frame.set_axis(frame.index + pd.Timedelta("1h"))) != key
    assert caching.frame_key(frame.astype("float32")) != key
    assert caching.frame_key(frame["BTC"]) != caching.frame_key(frame[["BTC"]])


def test_the_key_is_remembered_while_the_object_lives_and_forgotten_after():
    frame = _hourly(1000)
    key = caching.frame_key(frame)
    assert caching._KEYS[id(frame)] == key  # noqa: SLF001
    oid = id(frame)
    del frame
    gc.collect()
    assert oid not in caching._KEYS  # noqa: SLF001 - a reused identity cannot hit an old key


def test_non_numeric_columns_are_keyed_by_value():
    a = pd.DataFrame({"coin": ["BTC", "ETH"], "t": pd.to_datetime(["2024-01-01", "2024-01-02"],
                                                                  utc=True)})
    b = a.assign(coin=["BTC", "SOL"])
    assert caching.frame_key(a) != caching.frame_key(b)
    assert caching.frame_key(a) == caching.frame_key(a.copy())


def test_content_sha256_is_the_sha256_of_the_bytes():
    content = b"date,close\n2024-01-01,1\n"
    assert caching.content_sha256(content) == hashlib.sha256(content).hexdigest()
    assert caching.content_sha256(content) == hashlib.sha256(content).hexdigest()
    other = bytes(bytearray(content))
    assert caching.content_sha256(other) == caching.content_sha256(content)
