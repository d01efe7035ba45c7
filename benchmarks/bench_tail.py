"""Expected-shortfall risk budgeting: solver time and accuracy for 5, 14 and 50 assets.

Returns: the 14 real Yahoo daily files (../shared/data/yahoo-daily), 2020-09-23 .. 2025-02-11
(1,603 complete days). N = 5 takes five large coins, N = 14 all of them (with USDT and USDC),
N = 50 builds 50 assets from the 11 non-stable coins: each is a random mix of three real
coins (so common crashes stay common) plus 30% of a fourth coin's returns on
block-bootstrapped dates (an idiosyncratic part; blocks of 20 days, seed 42).

For each measure and window the script prints the solve time (best of 3), Newton iterations,
the error of the solved formulation (``solver_error``), the exact-Euler error of the weights
(``max_relative_error``) and the measure's resolution (one-scenario swap at the VaR), and
for the constrained and cluster variants: the 14 coins with USDT and USDC capped at 10%
(bounds) or at 20% together (group limit), the five large coins with BTC and ETH at 30%
together (both measures), and the 14 coins in 4 correlation clusters. With riskfolio-lib
importable it also times its CVaR risk parity on the same returns.

Run: ``python benchmarks/bench_tail.py`` from the repository root.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskcore.errors import RiskcoreError  # noqa: E402
from riskcore.estimators import to_returns  # noqa: E402
from riskcore.ingest import read_prices  # noqa: E402
from riskcore.tail_budget import (  # noqa: E402
    tail_cluster_risk_budget_weights,
    tail_risk_budget_weights,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "yahoo-daily"
BIG = ["BTC", "ETH", "LINK", "LTC", "SOL"]  # read_prices names a column by its coin
STABLE = ["USDT", "USDC"]


def real_returns() -> pd.DataFrame:
    prices = pd.concat([read_prices(f) for f in sorted(DATA.glob("*.csv"))], axis=1, sort=True)
    return to_returns(prices).loc["2020-09-23":"2025-02-11"]


def fifty_assets(returns: pd.DataFrame, seed: int = 42, block: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    coins = returns.drop(columns=STABLE).to_numpy()
    n, m = coins.shape
    out = np.empty((n, 50))
    for j in range(50):
        pick = rng.choice(m, size=4, replace=False)
        mix = rng.dirichlet(np.ones(3))
        starts = rng.integers(0, n - block, size=n // block + 1)
        dates = np.concatenate([np.arange(s, s + block) for s in starts])[:n]
        out[:, j] = coins[:, pick[:3]] @ mix + 0.3 * coins[dates, pick[3]]
    return pd.DataFrame(out, index=returns.index, columns=[f"A{j:02d}" for j in range(50)])


def timed(fn, repeat: int = 3):
    best, result = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def riskfolio_time(R: pd.DataFrame) -> str:
    try:
        import riskfolio as rp
    except ImportError:
        return "-"
    port = rp.Portfolio(returns=R)
    port.assets_stats(method_mu="hist", method_cov="hist")
    port.alpha = 0.05
    t0 = time.perf_counter()
    port.rp_optimization(model="Classic", rm="CVaR", rf=0, b=None, hist=True)
    return f"{time.perf_counter() - t0:.2f}"


def main() -> None:
    real = real_returns()
    universes = {5: real[BIG], 14: real, 50: fifty_assets(real)}
    print(f"{'N':>3} {'window':>6} {'measure':>15} {'k':>4} {'time s':>8} {'iter':>5} "
          f"{'solver err':>10} {'exact err':>10} {'resolution':>10} {'riskfolio s':>11}")
    for n, R in universes.items():
        for window in (365, len(R)):
            Rw = R.iloc[-window:]
            for measure in ("historical", "cornish-fisher"):
                try:
                    secs, res = timed(lambda Rw=Rw, m=measure: tail_risk_budget_weights(
                        Rw, measure=m, strict=False))
                except RiskcoreError as exc:
                    print(f"{n:>3} {window:>6} {measure:>15}  refused: {exc}"[:160])
                    continue
                rf = riskfolio_time(Rw) if measure == "historical" else "-"
                flag = "" if res.converged else "  NOT CONVERGED"
                print(f"{n:>3} {window:>6} {measure:>15} {res.n_tail_scenarios:>4} "
                      f"{secs:>8.3f} {res.iterations:>5} {res.solver_error:>10.2e} "
                      f"{res.max_relative_error:>10.2e} {res.resolution:>10.2e} {rf:>11}{flag}")
    caps = {"USDT": (0, 0.1), "USDC": (0, 0.1)}
    stable = {"stablecoins": (STABLE, 0.0, 0.2)}
    majors = {"majors": (["BTC", "ETH"], 0.0, 0.3)}
    cases = [
        (14, "hist, caps 10%", lambda R: tail_risk_budget_weights(R, bounds=caps,
                                                                  strict=False)),
        (14, "hist, stable 20%", lambda R: tail_risk_budget_weights(R, groups=stable,
                                                                    strict=False)),
        (5, "hist, majors 30%", lambda R: tail_risk_budget_weights(R[BIG], groups=majors,
                                                                   strict=False)),
        (5, "CF, majors 30%", lambda R: tail_risk_budget_weights(
            R[BIG], groups=majors, measure="cornish-fisher", strict=False)),
        (14, "hist, 4 clusters", lambda R: tail_cluster_risk_budget_weights(
            R, n_clusters=4, strict=False)),
    ]
    for n, name, solve in cases:
        for window in (365, len(real)):
            Rw = real.iloc[-window:]
            try:
                secs, res = timed(lambda Rw=Rw, solve=solve: solve(Rw))
            except RiskcoreError as exc:
                print(f"{n:>3} {window:>6} {name:>15}  refused: {exc}"[:160])
                continue
            flag = "" if res.converged else "  NOT CONVERGED"
            print(f"{n:>3} {window:>6} {name:>15} {res.n_tail_scenarios:>4} {secs:>8.3f} "
                  f"{res.iterations:>5} {res.solver_error:>10.2e} "
                  f"{res.max_relative_error:>10.2e} {res.resolution:>10.2e} {'-':>11}{flag}")


if __name__ == "__main__":
    main()
