"""Cached wrappers for the Rebalancing simulator: the spec's backtest, its benchmarks, a sweep.

The decision is a :class:`riskcore.PortfolioSpec` (frozen and hashable, so ``st.cache_data``
keys on it); riskcore runs it and its benchmarks (:func:`riskcore.benchmark_backtests`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd

import riskcore
from riskcore.backtest import needs_daily_targets
from riskcore.rebalance import CostModel
from riskcore.tail_budget import es_contributions_over_time
from ui.caching import data, shared

TRIGGERS = {
    "frequency": "Calendar",
    "band": "Absolute band (pp)",
    "relative_band": "Relative band (% of target)",
    "risk_band": "Risk-contribution band (pp of risk)",
    "volatility_band": "Volatility band (% of target volatility)",
}
FREQUENCIES = {"D": "daily", "W": "weekly", "M": "monthly", "Q": "quarterly"}


# Fields of a spec that only the trading loop reads: changing them reuses the preparation.
_LOOP_FIELDS = {"band": None, "relative_band": None, "risk_band": None,
                "volatility_band": None, "mode": "to_target", "costs": CostModel()}


@shared(show_spinner="Estimating…", max_entries=2)
def _prepared(prices: pd.DataFrame, base: riskcore.PortfolioSpec, daily_targets: bool,
              tradable: pd.DataFrame | None):
    """:func:`riskcore.prepare_backtest` of a spec stripped of its loop-only fields.

    A resource, not data: shared read-only by every run and session, never copied. An entry
    holds the rolling covariances, T x n x n floats: 7 MB for the 14 daily coins (3,801
    dates), about 80 MB for 10 coins of hourly data over 10 years; two are kept.
    """
    return riskcore.prepare_backtest(prices, base, tradable=tradable,
                                     daily_targets=daily_targets)


@shared(show_spinner="Benchmarks…", max_entries=4)
def _benchmarks(prices: pd.DataFrame, key: tuple, initial_value: float,
                volume: pd.DataFrame | None, tradable: pd.DataFrame | None, _result):
    """:func:`riskcore.benchmark_backtests` of a run, keyed on what they read of it.

    ``key``: its first date, last date, coins, first weights and cost model; a band or
    mode change leaves them alone, so the three benchmarks are run once.
    """
    return riskcore.benchmark_backtests(prices, _result, volume=volume,
                                        initial_value=initial_value, tradable=tradable)


@data(show_spinner="Simulating…", max_entries=16)
def backtests(prices: pd.DataFrame, spec: riskcore.PortfolioSpec, initial_value: float,
              volume: pd.DataFrame | None = None, tradable: pd.DataFrame | None = None):
    """Run the spec and its benchmarks on the same prices, start and costs.

    ``prices`` run up to the as-of date (estimates may look back before the spec's start);
    ``tradable`` is False where a price was made by cleaning, never traded on.
    Returns ``(runs, notes)``: ``{"policy": result, benchmark name: result, ...}`` and the
    notes of the run and of any benchmark that could not run. The estimates and targets
    are prepared once per spec without its bands, mode and costs
    (:func:`riskcore.prepare_backtest`): a band change reruns only the trading loop.
    """
    base = replace(spec, **_LOOP_FIELDS)
    prepared = _prepared(prices, base, needs_daily_targets(spec), tradable)
    main = riskcore.simulate_backtest(prepared, spec, volume=volume,
                                      initial_value=initial_value)
    start = main.rebalance_dates[0]
    first = main.weights.loc[start]
    key = (start, main.equity.index[-1], tuple(main.weights.columns),
           tuple(first.items()), main.cost_model)
    bench = _benchmarks(prices, key, initial_value, volume, tradable, main)
    return {"policy": main, **bench.runs}, main.notes + bench.notes


@data(show_spinner=False, max_entries=8)
def sweep(prices: pd.DataFrame, spec: riskcore.PortfolioSpec, trigger: str,
          thresholds: tuple[float, ...], initial_value: float,
          volume: pd.DataFrame | None = None, tradable: pd.DataFrame | None = None,
          _progress=None):
    """Cache :func:`riskcore.threshold_sweep` of the spec without its own triggers."""
    base = replace(spec, frequency=None, band=None, relative_band=None, risk_band=None,
                   volatility_band=None)
    return riskcore.threshold_sweep(prices, base, list(thresholds), trigger=trigger,
                                    initial_value=initial_value, volume=volume,
                                    tradable=tradable, progress=_progress)


@data(show_spinner="Expected-shortfall contributions…", max_entries=16)
def es_shares(prices: pd.DataFrame, weights: pd.DataFrame, window: int, measure: str,
              level: float) -> pd.DataFrame:
    """Cache :func:`riskcore.tail_budget.es_contributions_over_time` of held weights.

    ``prices`` are the run's prices (returns are taken here); ``weights`` the run's held
    weights (a riskless ``"cash"`` column, if any, carries no tail risk and is left out).
    One date every 7 calendar days (and the last): the decomposition of a trailing window
    changes slowly and a screen shows no more.
    """
    held = weights.drop(columns="cash", errors="ignore")
    # one date per 7 calendar days, whatever the bar: every 7th row of hourly data was
    # 12,500 decompositions (10 s of a 17 s band change on 10 years of hourly bars)
    index = held.index
    grid = pd.date_range(index[0], index[-1], freq="7D")
    rows = np.unique(np.searchsorted(index, grid, side="right") - 1)
    dates = index[rows].union(index[-1:])
    return es_contributions_over_time(riskcore.to_returns(prices), held.loc[dates],
                                      window=window, measure=measure, level=level)


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
