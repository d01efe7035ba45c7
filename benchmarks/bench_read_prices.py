"""Time read_prices / load_files on large and real inputs; print figures (no assertions).

Run from the repository root:  python benchmarks/bench_read_prices.py

Cases
-----
1. Ten years of hourly bars for one coin (87,600 rows) in yfinance's CSV layout
   (``Datetime,Close,High,Low,Open,Volume`` with ``+00:00`` offsets), generated in memory with a
   seeded random walk. Target: under 1 s.
2. The 14 files of ``../shared/data/yahoo-daily`` through ``load_files``. Target: under 0.3 s.

Each case reports the best and median of several runs and the peak traced memory of one run
(tracemalloc: Python and numpy allocations; pandas 3 keeps strings in Arrow buffers, which
tracemalloc does not see, so the process's peak resident size is printed at the end too).
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from riskcore.ingest import load_files, read_prices  # noqa: E402

YAHOO = ROOT / ".." / "shared" / "data" / "yahoo-daily"


def hourly_csv(years: int = 10) -> bytes:
    rng = np.random.default_rng(42)
    index = pd.date_range("2015-01-01", periods=years * 8760, freq="h", tz="UTC", name="Datetime")
    close = 300.0 * np.exp(np.cumsum(rng.normal(0.0, 0.008, len(index))))
    frame = pd.DataFrame({
        "Close": close, "High": close * 1.004, "Low": close * 0.996, "Open": close * 1.0005,
        "Volume": rng.integers(1_000, 1_000_000, len(index)),
    }, index=index)
    return frame.to_csv().encode()


def measure(label: str, func, target: float, repeat: int = 5) -> None:
    func()  # warm-up (imports, caches)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    func()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<48} best {min(times):6.3f} s  median {statistics.median(times):6.3f} s  "
          f"target < {target:.1f} s  peak memory {peak / 2**20:6.1f} MiB")


def main() -> None:
    raw = hourly_csv()
    panel = read_prices(raw, name="BTC-USD_1h.csv")
    print(f"hourly input: {len(raw) / 2**20:.1f} MiB, {len(panel):,} rows read")
    measure("read_prices, 10 years hourly (87,600 rows)",
            lambda: read_prices(raw, name="BTC-USD_1h.csv"), 1.0)
    files = [(p.name, p.read_bytes()) for p in sorted(YAHOO.glob("*.csv"))]
    result = load_files(files)
    print(f"yahoo-daily: {len(files)} files -> panel {result.prices.shape}")
    measure("load_files, yahoo-daily (14 files)", lambda: load_files(files), 0.3)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak resident size of the whole benchmark process: {peak_rss:.0f} MiB")


if __name__ == "__main__":
    main()
