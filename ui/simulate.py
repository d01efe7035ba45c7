"""Cached wrappers for the Rebalancing page: the policy's backtest, its benchmarks, the sweep.

Arguments are primitives (tuples, floats, strings) so that ``st.cache_data`` hashes them
cheaply; the riskcore policy objects are built inside.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

import riskcore
from ui.compute import cost_model as build_cost_model

TARGETS = {
    "erc": "Equal risk contribution, re-estimated",
    "risk_budget": "Risk budgets of the Allocation page, re-estimated",
    "inverse_volatility": "Inverse volatility, re-estimated",
    "equal_weight": "Equal weight",
}
TRIGGERS = {
    "frequency": "Calendar",
    "band": "Absolute band (pp)",
    "relative_band": "Relative band (% of target)",
    "risk_band": "Risk-contribution band (pp of risk)",
    "volatility_band": "Volatility band (% of target volatility)",
}
FREQUENCIES = {"D": "daily", "W": "weekly", "M": "monthly", "Q": "quarterly"}


def policy(method: str, budget: tuple[tuple[str, float], ...] | None, triggers: tuple,
           mode: str, estimator: str, lookback: int, stablecoins: tuple = ()):
    """Build the RebalancePolicy of the page's settings.

    ``triggers`` and ``stablecoins`` are (field, value) pairs: the triggers, and the
    stablecoin policy and volatility floor shared with the Allocation page.
    """
    return riskcore.RebalancePolicy(
        method=method, budget=pd.Series(dict(budget)) if budget else None,
        mode=mode, estimator=estimator, lookback=lookback, min_history=lookback + 1,
        **dict(triggers), **dict(stablecoins),
    )


@st.cache_data(show_spinner="Simulating…", max_entries=16)
def backtests(prices: pd.DataFrame, method: str, budget, triggers: tuple, mode: str,
              estimator: str, lookback: int, cost_args: tuple, initial_value: float,
              stablecoins: tuple = (), volume: pd.DataFrame | None = None):
    """Run the policy and :func:`riskcore.benchmark_backtests` on the same prices and costs.

    Returns ``(runs, notes)``: ``{"policy": result, benchmark name: result, ...}`` and the
    notes of the run and of the benchmarks that could not run.
    """
    cost_model = build_cost_model(cost_args)
    main = riskcore.run_backtest(
        prices, policy(method, budget, triggers, mode, estimator, lookback, stablecoins),
        cost_model, initial_value=initial_value, volume=volume)
    bench = riskcore.benchmark_backtests(prices, main, cost_model, volume=volume,
                                         initial_value=initial_value)
    return {"policy": main, **bench.runs}, main.notes + bench.notes


@st.cache_data(show_spinner=False, max_entries=8)
def sweep(prices: pd.DataFrame, method: str, budget, mode: str, estimator: str, lookback: int,
          cost_args: tuple, initial_value: float, stablecoins: tuple, trigger: str,
          thresholds: tuple[float, ...], volume: pd.DataFrame | None = None, _progress=None):
    """Cache :func:`riskcore.threshold_sweep`; ``_progress`` (not hashed) moves a bar."""
    base = policy(method, budget, (), mode, estimator, lookback, stablecoins)
    return riskcore.threshold_sweep(prices, base, list(thresholds), build_cost_model(cost_args),
                                    trigger=trigger, initial_value=initial_value, volume=volume,
                                    progress=_progress)


ROWS = {  # metric -> (label, format)
    "total_return": ("Total return", "{:.1%}"),
    "annualized_return": ("Annualized return", "{:.1%}"),
    "annualized_volatility": ("Annualized volatility", "{:.1%}"),
    "sharpe_ratio": ("Sharpe ratio", "{:.2f}"),
    "sortino_ratio": ("Sortino ratio", "{:.2f}"),
    "calmar_ratio": ("Calmar ratio", "{:.2f}"),
    "max_drawdown": ("Maximum drawdown", "{:.1%}"),
    "max_drawdown_peak": ("Drawdown peak", "{:%Y-%m-%d}"),
    "max_drawdown_trough": ("Drawdown trough", "{:%Y-%m-%d}"),
    "max_drawdown_recovery": ("Recovered on", "{:%Y-%m-%d}"),
    "var_95": ("Value at Risk 95% (1 period)", "{:.2%}"),
    "es_95": ("Expected shortfall 95%", "{:.2%}"),
    "var_99": ("Value at Risk 99%", "{:.2%}"),
    "es_99": ("Expected shortfall 99%", "{:.2%}"),
    "turnover": ("Turnover (one-way, total)", "{:.0%}"),
    "annualized_turnover": ("Turnover per year", "{:.0%}"),
    "costs_paid": ("Costs paid (USD)", "{:,.2f}"),
    "cost_drag": ("Costs / initial value", "{:.2%}"),
    "n_rebalances": ("Rebalances", "{:.0f}"),
    "risk_balance_error": ("Risk-balance error", "{:.3f}"),
}


def metrics_table(runs: dict) -> pd.DataFrame:
    """Side-by-side metrics of every run, formatted (rows: metrics, columns: runs)."""
    raw = pd.concat([r.metrics.to_series(name) for name, r in runs.items()], axis=1)
    rows = {}
    for key, (label, fmt) in ROWS.items():
        rows[label] = [_format(v, fmt) for v in raw.loc[key]]
    return pd.DataFrame.from_dict(rows, orient="index", columns=list(runs))


def _format(value, fmt: str) -> str:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return fmt.format(value)
