"""Time the estimators on the demo panel and on the real 14-coin Yahoo set.

Run from the repository root (needs only the runtime requirements)::

    python benchmarks/bench_estimators.py

Prints the best of several runs for each step, and pandas' own rolling pairwise correlation
next to :func:`riskcore.estimators.average_correlation` for comparison.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from riskcore.demo import _simulate, demo_prices
from riskcore.estimators import (
    average_correlation,
    cluster_order,
    correlation_from_covariance,
    estimate_covariance,
    ewma_volatility,
    nearest_correlation,
    rolling_volatility,
    to_returns,
)

YAHOO = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo-daily"


def best_ms(func, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return 1000 * min(times)


def uncached_demo() -> pd.DataFrame:
    _simulate.cache_clear()
    return demo_prices()


def load_yahoo() -> pd.DataFrame:
    closes = {}
    for path in sorted(YAHOO.glob("*.csv")):
        frame = pd.read_csv(path, usecols=["Date", "Close"], parse_dates=["Date"])
        closes[path.stem] = frame.set_index("Date")["Close"].astype(float)
    prices = pd.DataFrame(closes).sort_index()
    prices.index = prices.index.tz_localize("UTC").rename("date")
    return prices


def pandas_average_correlation(returns: pd.DataFrame, window: int) -> pd.Series:
    pairwise = returns.rolling(window).corr()
    values = pairwise.to_numpy().reshape(len(returns), returns.shape[1], returns.shape[1])
    upper = np.triu_indices(returns.shape[1], 1)
    pairs = values[:, upper[0], upper[1]]
    counts = np.sum(~np.isnan(pairs), axis=1)
    means = np.nansum(pairs, axis=1) / np.where(counts > 0, counts, np.nan)
    return pd.Series(means, index=returns.index)


def main() -> None:
    print(f"demo_prices() uncached: {best_ms(uncached_demo):8.2f} ms")
    print(f"demo_prices() cached:   {best_ms(demo_prices):8.2f} ms")
    for label, prices in (("demo", demo_prices()), ("yahoo-daily", load_yahoo())):
        returns = to_returns(prices)
        print(f"\n{label}: {returns.shape[0]} periods x {returns.shape[1]} assets")
        steps = {
            "to_returns": lambda p=prices: to_returns(p),
            "rolling_volatility(30)": lambda r=returns: rolling_volatility(r, 30),
            "ewma_volatility(hl 30)": lambda r=returns: ewma_volatility(r, 30),
            "covariance sample 365": lambda r=returns: estimate_covariance(r, lookback=365),
            "covariance ewma 365": lambda r=returns: estimate_covariance(
                r, method="ewma", half_life=60, lookback=365),
            "covariance ledoit_wolf 365": lambda r=returns: estimate_covariance(
                r, method="ledoit_wolf", lookback=365),
            "covariance oas 365": lambda r=returns: estimate_covariance(
                r, method="oas", lookback=365),
            "covariance pairwise all": lambda r=returns: estimate_covariance(r, pairwise=True),
            "cluster_order": lambda r=returns: cluster_order(
                correlation_from_covariance(estimate_covariance(r, lookback=365).matrix)),
            "average_correlation(60)": lambda r=returns: average_correlation(r, 60),
            "pandas rolling corr avg(60)": lambda r=returns: pandas_average_correlation(r, 60),
        }
        for name, step in steps.items():
            print(f"  {name:30s} {best_ms(step):8.2f} ms")
        ours = average_correlation(returns, 60)
        theirs = pandas_average_correlation(returns, 60)
        print(f"  max |ours - pandas| average correlation: {np.nanmax(np.abs(ours - theirs)):.1e}")

    rng = np.random.default_rng(42)
    for n in (14, 100):
        m = rng.uniform(-1, 1, (n, n))
        a = 0.5 * (m + m.T)
        np.fill_diagonal(a, 1.0)
        print(f"\nnearest_correlation random {n}x{n}: "
              f"{best_ms(lambda a=a: nearest_correlation(a), repeat=3):8.2f} ms")


if __name__ == "__main__":
    main()
