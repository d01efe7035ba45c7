"""Time a 200-point parameter sweep serially, on local processes and on a local Dask cluster.

Run from the repository root::

    python benchmarks/bench_sweep.py

Data: the 14 real Yahoo daily files (``../shared/data/yahoo-daily``) read as the command
line reads them (:func:`riskcore.sweep.load_prices`: the Upload source's loader, the Data
page's default cleaning, USD volume per day). Grid: band (5) x lookback (4) x estimator (2)
x cost_scale (5) = 200 walk-forward backtests of equal-risk-contribution portfolios with a
stablecoin sleeve, 10 bps fee + 5 bps half-spread + 50 bps square-root impact at scale 1,
trading from 2023-01-01 to 2025-02-11 (estimates use the earlier prices too).

Each backend runs the same sweep and the three tables must be identical (exact
``assert_frame_equal``). The process pool and the cluster are started and warmed up with a
2-point sweep first (worker processes importing riskcore, numba loading its cached kernels);
that start-up is printed separately. The Dask cluster binds 127.0.0.1 only and is closed at
the end.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec
from riskcore.sweep import load_prices, run_sweep, sweep_grid

YAHOO = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo-daily"
BASE = PortfolioSpec(start="2023-01-01", stablecoins="sleeve", volatility_floor=0.05,
                     costs=CostModel.from_bps(fee_bps=10, half_spread_bps=5, impact_bps=50))
GRID = {"band": [0.01, 0.02, 0.05, 0.1, 0.2], "lookback": [60, 90, 180, 365],
        "estimator": ["sample", "ewma"], "cost_scale": [0, 0.5, 1, 2, 4]}
WORKERS = 2


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and every live child (pool, cluster)."""
    import psutil  # a dependency of dask.distributed

    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


CPU: dict[str, float] = {}


def timed(func, name=None):
    cpu = cpu_seconds()
    start = time.perf_counter()
    out = func()
    if name:
        CPU[name] = cpu_seconds() - cpu
    return time.perf_counter() - start, out


def main() -> None:
    files = sorted(YAHOO.glob("*.csv"))
    seconds, (prices, volume, tradable) = timed(lambda: load_prices(files))
    print(f"data: {len(files)} files, {prices.shape[1]} coins, {len(prices):,} days "
          f"{prices.index[0]:%Y-%m-%d} .. {prices.index[-1]:%Y-%m-%d} (read in {seconds:.1f} s)")
    specs = sweep_grid(BASE, GRID)
    print(f"grid: {len(specs)} points ("
          + " x ".join(f"{len(v)} {k}" for k, v in GRID.items()) + ")")
    print(f"machine: {os.cpu_count()} cores; load average before the runs "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    data = {"volume": volume, "tradable": tradable}

    rows, tables = [], {}
    seconds, tables["serial"] = timed(
        lambda: run_sweep(prices, specs, backend="serial", **data), "serial")
    rows.append(("serial", 1, float("nan"), seconds, CPU["serial"]))

    warm, _ = timed(lambda: run_sweep(prices, specs[:2], backend="processes",
                                      n_jobs=WORKERS, **data))
    seconds, tables["processes"] = timed(
        lambda: run_sweep(prices, specs, backend="processes", n_jobs=WORKERS, **data),
        "processes")
    rows.append(("processes (joblib loky)", WORKERS, warm, seconds, CPU["processes"]))

    from dask.distributed import LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=WORKERS, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        run_sweep(prices, specs[:2], backend="dask", scheduler=address, **data)
        warm = time.perf_counter() - start
        seconds, tables["dask"] = timed(
            lambda: run_sweep(prices, specs, backend="dask", scheduler=address, **data), "dask")
    rows.append((f"dask ({address.rsplit(':', 1)[0]}, LocalCluster)", WORKERS, warm, seconds,
                 CPU["dask"]))

    for name in ("processes", "dask"):
        pd.testing.assert_frame_equal(tables[name], tables["serial"], check_exact=True)
    serial = rows[0][3]
    print(f"\n{'backend':<36} {'workers':>7} {'start-up s':>10} {'sweep s':>8} "
          f"{'per point ms':>12} {'speed-up':>8} {'CPU s':>7}")
    for name, workers, warm, seconds, cpu in rows:
        start_up = "-" if warm != warm else f"{warm:.1f}"
        print(f"{name:<36} {workers:>7} {start_up:>10} {seconds:>8.1f} "
              f"{1000 * seconds / len(specs):>12.0f} {serial / seconds:>7.2f}x {cpu:>7.1f}")
    print("(CPU s: user + system seconds of every process of the backend during the sweep)")
    table = tables["serial"]
    print(f"\nthe three tables are identical ({len(table)} rows, "
          f"{int(table['error'].notna().sum())} errors); load average after "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    best = table.nlargest(5, "sharpe_ratio")
    with pd.option_context("display.width", 160, "display.precision", 4):
        print("\nbest five by Sharpe ratio:")
        print(best[["band", "lookback", "estimator", "costs.fee", "sharpe_ratio",
                    "annualized_return", "max_drawdown", "turnover", "costs_paid",
                    "n_rebalances", "risk_balance_error"]].to_string())


if __name__ == "__main__":
    main()
