"""Property-based test: any bytes give a valid price panel or a RiskcoreError, nothing else."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskcore.errors import RiskcoreError
from riskcore.ingest import read_prices

UPLOADS = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "uploads"
# the head of each real file (200 lines keeps every example fast)
SEEDS = {
    p.name: b"".join(p.read_bytes().splitlines(keepends=True)[:200])
    for p in sorted(UPLOADS.iterdir())
}
SETTINGS = settings(max_examples=120, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def check(raw: bytes, name: str) -> None:
    try:
        panel = read_prices(raw, name=name)
    except RiskcoreError as exc:
        message = str(exc)
        assert message and "\n" not in message
        assert name in message
        return
    assert isinstance(panel, pd.DataFrame)
    assert isinstance(panel.index, pd.DatetimeIndex) and str(panel.index.tz) == "UTC"
    assert panel.index.is_monotonic_increasing and panel.index.is_unique
    assert panel.index.name == "date"
    assert panel.shape[1] >= 1
    assert all(dtype == np.float64 for dtype in panel.dtypes)


def mutate(raw: bytes, data: st.DataObject) -> bytes:
    lines = raw.splitlines(keepends=True)
    kind = data.draw(st.sampled_from(
        ["truncate", "delete", "duplicate", "flip", "separator", "swap", "insert"]))
    if kind == "truncate":
        return raw[: data.draw(st.integers(0, len(raw)))]
    if kind == "delete" and lines:
        i = data.draw(st.integers(0, len(lines) - 1))
        return b"".join(lines[:i] + lines[i + 1:])
    if kind == "duplicate" and lines:
        i = data.draw(st.integers(0, len(lines) - 1))
        return b"".join(lines[: i + 1] + lines[i:])
    if kind == "flip" and raw:
        out = bytearray(raw)
        for _ in range(data.draw(st.integers(1, 8))):
            out[data.draw(st.integers(0, len(out) - 1))] = data.draw(st.integers(0, 255))
        return bytes(out)
    if kind == "separator":
        old, new = data.draw(st.sampled_from([(b",", b";"), (b";", b","), (b",", b"\t"),
                                              (b".", b","), (b"-", b"/")]))
        return raw.replace(old, new)
    if kind == "swap" and len(lines) > 2:
        i, j = data.draw(st.integers(0, len(lines) - 1)), data.draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return b"".join(lines)
    if kind == "insert" and lines:
        i = data.draw(st.integers(0, len(lines)))
        junk = data.draw(st.binary(max_size=40))
        return b"".join(lines[:i] + [junk + b"\n"] + lines[i:])
    return raw


@SETTINGS
@given(st.data())
def test_mutated_real_files(data):
    name = data.draw(st.sampled_from(sorted(SEEDS)))
    check(mutate(SEEDS[name], data), name)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.binary(max_size=300))
def test_arbitrary_bytes(raw):
    check(raw, "fuzz.csv")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.sampled_from(
    ["Date", "Close", "2024-01-01", "2024-01-02", "1.5", "null", "", "3,242.10", "1.19M",
     "03/04/2024", "1704067200000", "x", "-1", "1e400", '"', "UTC"]), min_size=1, max_size=5),
    min_size=1, max_size=8), st.sampled_from([",", ";"]))
def test_csv_like_text(rows, sep):
    check("\n".join(sep.join(row) for row in rows).encode(), "grid.csv")
