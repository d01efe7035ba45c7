"""Risk-budgeting speed and accuracy: riskcore against the peer libraries, same data, same run.

Usage (peers live in their own venv, see benchmarks/requirements-allocation.txt)::

    /work/venvs/bench-alloc/bin/python benchmarks/bench_allocation.py
    python benchmarks/bench_allocation.py --sizes 20 100 --repeats 5   # riskcore only

Data: simulated daily returns of a crypto-like market (a market factor, sector factors,
Student-t idiosyncratic shocks, volatilities 30%..150% a year), ``T = max(2N, 500)`` days;
every library gets the same returns and the error is measured on the covariance matrix that
library actually used. Columns:

- ``time_ms``: median wall time of ``--repeats`` calls (one call for skfolio and
  Riskfolio-Lib above N=100), including each library's own setup (riskcore: validation
  included for the public API ``risk_budget_weights`` -- O(n^2) checks, plus a Cholesky
  definiteness check below 150 assets only -- none for the hot path);
- ``max_rel_rc_err``: ``max_i |RC_i / sum(RC) - b_i| / b_i`` (unconstrained);
  riskparityportfolio is run with the issue's ``tol=1e-8`` and with ``tol=1e-14`` (its
  tolerance is on its own criterion, not on this error);
- constrained rows: ``max |w - w_riskcore|`` and the largest bound violation, since peers
  solve different constrained formulations (riskcore follows Richard & Roncalli 2019).

A peer that does not import is reported as "not installed".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from riskcore._rb_solver import solve_risk_budget  # noqa: E402
from riskcore.allocation import risk_budget_weights  # noqa: E402

warnings.filterwarnings("ignore")


def simulated_returns(n: int, seed: int = 42) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = max(2 * n, 500)
    n_sectors = max(2, n // 10)
    market = rng.standard_normal(t) * 0.03
    sectors = rng.standard_normal((t, n_sectors)) * 0.015
    sector = rng.integers(0, n_sectors, n)
    beta = rng.uniform(0.6, 1.4, n)
    idio = rng.standard_t(4, size=(t, n)) / np.sqrt(2) * rng.uniform(0.01, 0.05, n)
    returns = market[:, None] * beta + sectors[:, sector] + idio
    returns *= rng.uniform(0.3, 1.5, n) / (returns.std(axis=0) * np.sqrt(365))
    return pd.DataFrame(returns, columns=[f"A{i:04d}" for i in range(n)])


def rc_error(w: np.ndarray, cov: np.ndarray, b: np.ndarray) -> float:
    w = np.asarray(w, dtype=float).ravel()
    rc = w * (cov @ w)
    return float(np.max(np.abs(rc / rc.sum() / b - 1.0)))


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, statistics.median(times) * 1e3


# ----- peers ---------------------------------------------------------------------------


def peer_rpp(tol: float):
    import riskparityportfolio as rpp

    def run(x: pd.DataFrame, b: np.ndarray, bounds=None):
        if bounds is not None:
            return None
        cov = x.cov().to_numpy()
        return rpp.vanilla.design(cov, b, tol, 100_000), cov

    import importlib.metadata as md

    return f"riskparityportfolio {md.version('riskparityportfolio')} tol={tol:g}", run


def peer_skfolio():
    import skfolio
    from skfolio.optimization import RiskBudgeting

    def run(x: pd.DataFrame, b: np.ndarray, bounds=None):
        kw = {} if bounds is None else {"min_weights": bounds[0], "max_weights": bounds[1]}
        model = RiskBudgeting(risk_budget=b, **kw).fit(x)
        return model.weights_, model.prior_estimator_.return_distribution_.covariance

    return "skfolio " + skfolio.__version__, run


def peer_riskfolio():
    import riskfolio as rp

    def run(x: pd.DataFrame, b: np.ndarray, bounds=None):
        port = rp.Portfolio(returns=x)
        port.assets_stats(method_mu="hist", method_cov="hist")
        if bounds is not None:
            n = x.shape[1]
            # rp_optimization imposes A w <= B k (k the homogenization scale)
            port.ainequality = np.vstack([np.eye(n), -np.eye(n)])
            port.binequality = np.concatenate([bounds[1], -bounds[0]]).reshape(-1, 1)
        w = port.rp_optimization(model="Classic", rm="MV", rf=0, b=b.reshape(-1, 1), hist=True)
        return w.to_numpy().ravel(), port.cov.to_numpy()

    import importlib.metadata as md

    return "Riskfolio-Lib " + md.version("Riskfolio-Lib"), run


def load_peers():
    peers = []
    for name, loader in (
        ("riskparityportfolio", lambda: peer_rpp(1e-8)),
        ("riskparityportfolio", lambda: peer_rpp(1e-14)),
        ("skfolio", peer_skfolio),
        ("Riskfolio-Lib", peer_riskfolio),
    ):
        try:
            peers.append(loader())
        except Exception as exc:  # ImportError, or a broken install (missing jax, ...)
            print(f"{name}: not installed ({type(exc).__name__}: {exc})")
    return peers


# ----- runs ----------------------------------------------------------------------------


def unconstrained(sizes, repeats, peers, rows):
    for n in sizes:
        x = simulated_returns(n)
        cov = x.cov().to_numpy()
        rng = np.random.default_rng(n)
        for label, b in (("equal", np.full(n, 1.0 / n)), ("random", rng.uniform(0.2, 1.0, n))):
            b = b / b.sum()
            sol, ms = timed(lambda cov=cov, b=b: solve_risk_budget(cov, b), repeats)
            rows.append(
                (
                    "unconstrained",
                    n,
                    label,
                    "riskcore solve_risk_budget",
                    ms,
                    rc_error(sol.weights, cov, b),
                    sol.converged,
                )
            )
            covf = pd.DataFrame(cov, index=x.columns, columns=x.columns)
            res, ms = timed(lambda covf=covf, b=b: risk_budget_weights(covf, b), repeats)
            rows.append(
                (
                    "unconstrained",
                    n,
                    label,
                    "riskcore risk_budget_weights",
                    ms,
                    rc_error(res.weights.to_numpy(), cov, b),
                    res.converged,
                )
            )
            for name, run in peers:
                # the CVXPY-based peers take seconds above N=100: one call there
                reps = repeats if n <= 100 or name.startswith("riskparity") else 1
                try:
                    out, ms = timed(lambda run=run, x=x, b=b: run(x, b), reps)
                except Exception as exc:
                    rows.append(
                        (
                            "unconstrained",
                            n,
                            label,
                            name,
                            np.nan,
                            np.nan,
                            f"failed: {type(exc).__name__}",
                        )
                    )
                    continue
                if out is None:
                    continue
                w, pcov = out
                rows.append(("unconstrained", n, label, name, ms, rc_error(w, pcov, b), ""))


def constrained(sizes, repeats, peers, rows):
    for n in sizes:
        x = simulated_returns(n)
        cov = x.cov().to_numpy()
        b = np.full(n, 1.0 / n)
        lower, upper = np.full(n, 0.5 / n), np.full(n, 1.5 / n)
        covf = pd.DataFrame(cov, index=x.columns, columns=x.columns)
        pairs = list(zip(lower, upper, strict=True))
        res, ms = timed(
            lambda covf=covf, pairs=pairs: risk_budget_weights(covf, bounds=pairs), repeats
        )
        ref = res.weights.to_numpy()
        rows.append(
            (
                "bounds [0.5/N, 1.5/N]",
                n,
                "equal",
                "riskcore risk_budget_weights",
                ms,
                res.max_relative_error,
                f"{len(res.binding_constraints)} binding",
            )
        )
        for name, run in peers:
            try:
                out, ms = timed(
                    lambda run=run, x=x, b=b, lim=(lower, upper): run(x, b, lim), repeats
                )
            except Exception as exc:
                rows.append(
                    (
                        "bounds [0.5/N, 1.5/N]",
                        n,
                        "equal",
                        name,
                        np.nan,
                        np.nan,
                        f"failed: {type(exc).__name__}",
                    )
                )
                continue
            if out is None:
                continue
            w = np.asarray(out[0], dtype=float).ravel()
            viol = max(float(np.max(lower - w)), float(np.max(w - upper)), 0.0)
            rows.append(
                (
                    "bounds [0.5/N, 1.5/N]",
                    n,
                    "equal",
                    name,
                    ms,
                    np.nan,
                    f"max|w-w_rc|={np.max(np.abs(w - ref)):.1e} viol={viol:.1e}",
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 100, 500, 1000])
    parser.add_argument("--constrained-sizes", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    peers = [] if args.no_peers else load_peers()
    rows: list[tuple] = []
    unconstrained(args.sizes, args.repeats, peers, rows)
    constrained(args.constrained_sizes, args.repeats, peers, rows)
    table = pd.DataFrame(
        rows, columns=["problem", "N", "budget", "library", "time_ms", "max_rel_rc_err", "note"]
    )
    with pd.option_context("display.width", 200, "display.max_rows", 500):
        print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
