"""Time the walk-forward simulator on the real 14-coin Yahoo set, with bt side by side.

Run from the repository root::

    python benchmarks/bench_backtest.py                       # riskcore only
    /work/venvs/bench-bt/bin/python benchmarks/bench_backtest.py   # with bt (see below)

bt is optional: install it with ``pip install -r benchmarks/requirements-backtest.txt`` (in a
venv created with ``--system-site-packages`` so it shares the pinned numpy/pandas).

Measured (best of several runs, 1,604 common days 2020-09-22 .. 2025-02-11):

1. daily-checked walk-forward with daily re-estimation of an equal-risk-contribution target
   (``PortfolioSpec(method="risk_budget", lookback=90, frequency="D")``: sample covariance of
   the last 90 daily returns, rebalanced at every close; the RebalancePolicy form is timed
   too and must give the same equity);
   requirement: at most 0.2 s;
2. a 50-point threshold sweep (absolute band 0 .. 0.5, ERC target re-estimated daily,
   10 bps fee + 5 bps half-spread); requirement: at most 3 s;
3. bt's equivalent of (1): ``RunDaily, SelectAll, WeighERC(lookback=90 days,
   covar_method="standard"), Rebalance`` with ``integer_positions=False``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from riskcore.backtest import RebalancePolicy, run_backtest, threshold_sweep
from riskcore.ingest import load_files
from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec

YAHOO = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo-daily"
LOOKBACK = 90


def best(func, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - start)
    return min(times), out


def main() -> None:
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
    seconds_sweep, table = best(
        lambda: threshold_sweep(prices, sweep_policy, grid, costs, initial_value=1e6), 3
    )
    print(f"riskcore 50-point band sweep: {seconds_sweep:.3f} s (limit 3 s)")
    with pd.option_context("display.width", 160, "display.max_columns", 20,
                           "display.precision", 4):
        print(table.iloc[[0, 1, 2, 5, 10, 25, 49]][
            ["turnover", "costs_paid", "risk_balance_error", "annualized_return",
             "max_drawdown", "n_rebalances"]
        ])

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
    print(f"speed-up: {seconds_bt / seconds:.0f}x (requirement: at least 15x)")


if __name__ == "__main__":
    main()
