"""Time the walk-forward simulator on the real 14-coin Yahoo set, with bt side by side, and
its trading loop on 10 years of hourly bars.

Run from the repository root::

    python benchmarks/bench_backtest.py                       # riskcore (and bt if importable)
    /work/venvs/bench-alloc/bin/python benchmarks/bench_backtest.py   # with bt (see below)

bt is optional: install it with ``pip install -r benchmarks/requirements-backtest.txt`` (in a
venv created with ``--system-site-packages`` so it shares the pinned numpy/pandas).

Measured (best of several runs, 1,604 common days 2020-09-22 .. 2025-02-11):

1. daily-checked walk-forward with daily re-estimation of an equal-risk-contribution target
   (``PortfolioSpec(method="risk_budget", lookback=90, frequency="D")``: sample covariance of
   the last 90 daily returns, rebalanced at every close; the RebalancePolicy form is timed
   too and must give the same equity);
   requirement: at most 0.2 s;
2. a 50-point threshold sweep (absolute band 0 .. 0.5, ERC target re-estimated daily,
   10 bps fee + 5 bps half-spread), preparation included; requirement: at most 0.3 s;
3. the trading loop on 10 coins x 10 years of hourly bars (87,600 rows, seeded random walks
   as in ``bench_read_prices.py``, with USD volume): the dashboard's default decision (equal
   risk budgets, 365-period lookback, 5% volatility floor, 5 pp band, 10 bps fee, 5 bps
   half-spread, 100 bps impact, 10 USD minimum trade), prepared once as the simulator page
   caches it, then ``simulate_backtest`` as a band change runs it; the dashboard's budget for
   a whole interaction there is 3 s;
4. bt's equivalent of (1): ``RunDaily, SelectAll, WeighERC(lookback=90 days,
   covar_method="standard"), Rebalance`` with ``integer_positions=False``; riskcore must be
   at least 40x faster.

The compiled trading loop (:mod:`riskcore._trade_kernel`) is cached on disk by numba; the
first figure printed is its compile time from an empty cache (a subprocess with a fresh
``NUMBA_CACHE_DIR``) and its load time from the cache.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from riskcore import _trade_kernel
from riskcore.backtest import (
    RebalancePolicy,
    _trading_loop,
    _volume_array,
    prepare_backtest,
    run_backtest,
    simulate_backtest,
    threshold_sweep,
)
from riskcore.ingest import load_files
from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec

YAHOO = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo-daily"
LOOKBACK = 90


def best(func, repeat: int) -> tuple[float, object]:
    times, out = timed(func, repeat)
    return min(times), out


def timed(func, repeat: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return times, out


_FIRST_CALL = """
import sys, time
sys.path.insert(0, {root!r})
import numpy as np, pandas as pd
from riskcore.backtest import RebalancePolicy, prepare_backtest, simulate_backtest
index = pd.date_range("2021-01-01", periods=60, tz="UTC")
prices = pd.DataFrame(np.exp(np.cumsum(np.random.default_rng(0).normal(0, 0.03, (60, 3)),
                                       axis=0)), index=index, columns=list("ABC"))
prep = prepare_backtest(prices, RebalancePolicy(method="equal_weight", band=0.01))
start = time.perf_counter()
simulate_backtest(prep)
first = time.perf_counter() - start
start = time.perf_counter()
simulate_backtest(prep)
print(first - (time.perf_counter() - start))
"""


def first_call_seconds(cache_dir: str) -> float:
    """Seconds the first compiled run costs over a second one, in a fresh process."""
    code = _FIRST_CALL.format(root=str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True, env={**os.environ, "NUMBA_CACHE_DIR": cache_dir})
    return float(out.stdout.strip().splitlines()[-1])


def hourly_panel(coins: int = 10, years: int = 10) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded hourly random walks (as bench_read_prices.hourly_csv) and USD volume."""
    rng = np.random.default_rng(42)
    index = pd.date_range("2015-01-01", periods=years * 8760, freq="h", tz="UTC",
                          name="date")
    names = [f"C{k:02d}-USD" for k in range(coins)]
    market = rng.normal(0.0, 0.005, len(index))
    close = 300.0 * np.exp(np.cumsum(market[:, None]
                                     + rng.normal(0.0, 0.006, (len(index), coins)), axis=0))
    prices = pd.DataFrame(close, index=index, columns=names)
    volume = prices * rng.integers(1_000, 1_000_000, (len(index), coins))
    return prices, volume


def bench_hourly() -> None:
    prices, volume = hourly_panel()
    spec = PortfolioSpec(method="risk_budget", lookback=365, band=0.05, volatility_floor=0.05,
                         costs=CostModel.from_bps(fee_bps=10, half_spread_bps=5,
                                                  impact_bps=100, min_trade_usd=10))
    start = time.perf_counter()
    prepared = prepare_backtest(prices, spec)
    print(f"hourly: {prices.shape[1]} coins x {len(prices):,} rows; preparation (cached by "
          f"the dashboard, not part of a band change): {time.perf_counter() - start:.1f} s")
    runs, result = timed(lambda: simulate_backtest(prepared, spec, volume=volume), 5)
    print(f"hourly simulate_backtest (a band change): best {min(runs):.3f} s, median "
          f"{statistics.median(runs):.3f} s (dashboard budget 3 s; was 3.4 s of loop); "
          f"{len(result.rebalance_dates)} rebalances")
    prep, pol = prepared._prep, prepared._policy
    vol = _volume_array(volume, prep, spec.costs)[0]
    loops, _ = timed(lambda: _trading_loop(prep, pol, spec.costs, vol, 10_000.0), 5)
    _trade_kernel._USE_KERNEL = False
    try:
        python, slow = best(lambda: simulate_backtest(prepared, spec, volume=volume), 1)
    finally:
        _trade_kernel._USE_KERNEL = True
    same = abs(slow.equity.iloc[-1] / result.equity.iloc[-1] - 1)
    print(f"  of which the compiled trading loop: best {min(loops):.3f} s, median "
          f"{statistics.median(loops):.3f} s; the Python loop: {python:.2f} s "
          f"(final equity differs by {same:.1e}, relative)")


def main() -> None:
    with tempfile.TemporaryDirectory() as fresh:
        compile_s = first_call_seconds(fresh)
        cached_s = first_call_seconds(fresh)
    print(f"compiled trading loop, first call: {compile_s:.1f} s from an empty numba cache, "
          f"{cached_s:.2f} s from the on-disk cache")
    files = [(f.name, f.read_bytes()) for f in sorted(YAHOO.glob("*.csv"))]
    prices = load_files(files).prices.dropna()
    print(f"data: {prices.shape[1]} coins, {len(prices)} common days "
          f"{prices.index[0]:%Y-%m-%d} .. {prices.index[-1]:%Y-%m-%d}")

    # the Allocation page's decision (equal risk budgets, sample covariance) as a spec: the
    # same engine as build_portfolio, re-made at every close
    # from the first date with a full lookback, as bt and RebalancePolicy start (the spec's
    # universe rule would admit coins one day earlier, with 89 of 90 returns)
    spec = PortfolioSpec(method="risk_budget", lookback=LOOKBACK, frequency="D",
                         start=prices.index[LOOKBACK])
    seconds, result = best(lambda: run_backtest(prices, spec, initial_value=1e6), 7)
    print(f"riskcore daily ERC walk-forward (PortfolioSpec): {seconds:.3f} s (limit 0.2 s); "
          f"{len(result.rebalance_dates)} rebalances, final equity {result.equity.iloc[-1]:,.2f}")
    policy = RebalancePolicy(method="erc", frequency="D", lookback=LOOKBACK)
    seconds_policy, legacy = best(lambda: run_backtest(prices, policy, initial_value=1e6), 3)
    assert abs(legacy.equity.iloc[-1] / result.equity.iloc[-1] - 1) < 1e-9
    print(f"  same strategy as RebalancePolicy: {seconds_policy:.3f} s, same equity")

    sweep_policy = PortfolioSpec(method="risk_budget", band=0.0, lookback=LOOKBACK)
    costs = CostModel.from_bps(fee_bps=10, half_spread_bps=5)
    grid = np.linspace(0.0, 0.5, 50)
    sweeps, table = timed(
        lambda: threshold_sweep(prices, sweep_policy, grid, costs, initial_value=1e6), 5
    )
    seconds_sweep = min(sweeps)
    print(f"riskcore 50-point band sweep: best {seconds_sweep:.3f} s, median "
          f"{statistics.median(sweeps):.3f} s (limit 0.3 s)")
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.precision", 4):
        print(table.iloc[[0, 1, 2, 5, 10, 25, 49]][
            ["turnover", "costs_paid", "risk_balance_error", "annualized_return",
             "max_drawdown", "n_rebalances"]
        ])
    bench_hourly()

    try:
        import bt
    except ImportError:
        print("bt: not installed (pip install -r benchmarks/requirements-backtest.txt)")
        return
    data = prices.tz_localize(None)

    def run_bt():
        algos = [
            bt.algos.RunAfterDate(data.index[LOOKBACK - 1]),
            bt.algos.RunDaily(),
            bt.algos.SelectAll(),
            bt.algos.WeighERC(lookback=pd.DateOffset(days=LOOKBACK), covar_method="standard"),
            bt.algos.Rebalance(),
        ]
        test = bt.Backtest(bt.Strategy("erc", algos), data, initial_capital=1e6,
                           integer_positions=False, progress_bar=False)
        bt.run(test)
        return test.strategy

    seconds_bt, strategy = best(run_bt, 2)
    print(f"bt {bt.__version__} RunDaily/WeighERC/Rebalance: {seconds_bt:.3f} s; "
          f"final equity {strategy.values.iloc[-1]:,.2f} (bt's ERC stops at its default "
          f"tolerance 1e-8 on squared weight changes, so equity differs slightly)")
    print(f"speed-up: {seconds_bt / seconds:.0f}x (requirement: at least 40x)")


if __name__ == "__main__":
    main()
