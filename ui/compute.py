"""Cached page-level wrappers around riskcore, and the allocation settings shared by pages.

The Allocation page sets the method, estimator and budgets; every other page reuses the same
decision. The settings live in session state under the keys of :data:`ALLOCATION_DEFAULTS`
(initialised once by :func:`init_state` in app.py); :mod:`ui.spec` reads them into the one
:class:`riskcore.PortfolioSpec` every page decides with.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import streamlit as st

import riskcore
from riskcore.budgets import risk_budget_from_entries
from ui.caching import shared

ESTIMATORS = {
    "sample": "Sample",
    "ewma": "EWMA",
    "ledoit_wolf": "Ledoit-Wolf shrinkage",
    "oas": "OAS shrinkage",
}
METHODS = {
    "risk_budget": "Risk budgeting (equal budgets = equal risk contribution)",
    "cluster_risk_budget": "Cluster risk budgeting (a risk budget per group or cluster)",
    "inverse_volatility": "Inverse volatility",
    "hrp": "Hierarchical risk parity",
    "minimum_variance": "Minimum variance",
    "equal_weight": "Equal weight",
}
RISK_MEASURES = {
    "volatility": "Volatility",
    "historical_es": "Historical expected shortfall",
    "cornish_fisher_es": "Cornish-Fisher expected shortfall",
}
ES_LEVELS = [0.9, 0.95, 0.975, 0.99]  # the levels of ui.tail's side-by-side slider
STABLECOIN_POLICIES = {
    "sleeve": "outside the risk budget (cash sleeve)",
    "include": "inside the risk budget, like any coin",
}
ALLOCATION_DEFAULTS = {
    "method": "risk_budget",
    "estimator": "sample",
    "lookback": 365,
    "half_life": 60,
    "stablecoins": "sleeve",
    "volatility_floor_pct": 5.0,
    "n_clusters": 3,
    "cluster_source": "correlation",
    "vol_target_on": False,
    "vol_target_pct": 40.0,
    "max_leverage": 1.0,
    "cash": "cash",
    "bounds_value": (),
    "groups_value": (),
    "risk_measure": "volatility",
    "es_level": 0.95,  # also the level of ui.tail's side-by-side table: one setting
}
# Shared by the Rebalance check and the simulator, so both trade with the same rule and costs.
TRADING_DEFAULTS = {
    "band_pp": 5.0,
    "rebalance_mode": "to_target",
    "fee_bps": 10.0,
    "spread_bps": 5.0,
    "min_trade_usd": 10.0,
    "impact_bps": 100.0,
}
REBALANCE_MODES = {"to_target": "back to target", "to_band": "to the band's edge",
                   "breached_only": "only coins outside the band"}


@st.cache_resource(show_spinner=False)
def warm_up_solver() -> threading.Thread:
    """Compile the risk-budgeting kernel in the background once per server process.

    numba compiles (or loads from its disk cache) on the first solve: seconds on a fresh
    install. Doing it while the user reads the Data page keeps the first Allocation page
    from waiting for it.
    """
    def solve() -> None:
        riskcore.risk_budget_weights(pd.DataFrame(np.eye(3)))

    thread = threading.Thread(target=solve, name="warm-up-solver", daemon=True)
    thread.start()
    return thread


def init_state() -> None:
    """Initialise the settings shared between pages once per session."""
    for key, value in {**ALLOCATION_DEFAULTS, **TRADING_DEFAULTS}.items():
        st.session_state.setdefault(key, value)


def trading_inputs(columns) -> None:
    """Render the shared mode and cost inputs into five containers (values in session state)."""
    a, b, c, d, e = columns
    a.selectbox("After a band breach, trade", list(REBALANCE_MODES),
                format_func=REBALANCE_MODES.get, key="rebalance_mode", persist_state="session")
    b.number_input("Fee (bps)", 0.0, 200.0, key="fee_bps", persist_state="session")
    c.number_input("Half-spread (bps)", 0.0, 200.0, key="spread_bps", persist_state="session")
    d.number_input("Minimum trade (USD)", 0.0, 1e6, key="min_trade_usd", persist_state="session")
    e.number_input("Market impact (bps)", 0.0, 2000.0, key="impact_bps", persist_state="session",
                   help="Square-root law: a trade of q USD against a daily volume of V USD "
                        "costs impact × √(q/V) of its value; applied where the data has volume.")


def cost_args() -> tuple[float, float, float, float]:
    """Return the shared cost inputs as a tuple: fee, half-spread, minimum trade, impact."""
    state = st.session_state
    return (state["fee_bps"], state["spread_bps"], state["min_trade_usd"], state["impact_bps"])


def cost_model(args: tuple[float, float, float, float] | None = None):
    """Build the CostModel of ``args`` (default: the shared cost inputs), basis points in."""
    fee_bps, spread_bps, min_trade, impact_bps = cost_args() if args is None else args
    return riskcore.CostModel.from_bps(fee_bps=fee_bps, half_spread_bps=spread_bps,
                                       impact_bps=impact_bps, min_trade_usd=min_trade)


def volume_note(dataset) -> str:
    """Say where market impact applies (assets with volume) and where it does not."""
    known = [] if dataset.volume is None else list(dataset.volume.columns)
    missing = [a for a in dataset.prices.columns if a not in known]
    if not known:
        return "Market impact: no volume in this data, so only fee, spread and size apply."
    return ("Market impact applies to " + ", ".join(known)
            + ("" if not missing else "; no volume for " + ", ".join(missing)) + ".")


def band_slider(container, label: str = "Band (± percentage points)") -> float:
    """Render the shared absolute-band slider; return the band as a decimal."""
    return container.slider(label, 0.0, 50.0, step=0.5, key="band_pp",
                            persist_state="session") / 100


def budget_key(asset: str) -> str:
    """Session-state key of an asset's typed risk budget (percent)."""
    return f"budget_{asset}"


def hold_key(asset: str) -> str:
    """Session-state key of an asset's "hold this budget" checkbox."""
    return f"hold_{asset}"


def budgets(assets: list[str]) -> pd.Series:
    """Risk budget per asset from the typed percentages and held coins (sums to 1).

    Coins not yet edited start like the others (:func:`default_budget_entry`); see
    :func:`riskcore.budgets.risk_budget_from_entries` for the held-coin rule.
    """
    state = st.session_state
    default = default_budget_entry(assets)
    entries = {a: float(state.get(budget_key(a), default)) for a in assets}
    held = [a for a in assets if state.get(hold_key(a), False)]
    return risk_budget_from_entries(entries, held)


def default_budget_entry(assets: list[str]) -> float:
    """Typed budget (percent) a coin starts with: like the other free coins, else equal.

    A coin that enters later (a stablecoin moved inside the budget, a new selection) starts
    at the median of the typed values of the coins not held, so equal budgets stay equal.
    """
    state = st.session_state
    typed = [float(state[budget_key(a)]) for a in assets
             if budget_key(a) in state and not state.get(hold_key(a), False)]
    return float(pd.Series(typed).median()) if typed else round(100 / max(len(assets), 1), 2)


@shared(show_spinner=False, max_entries=16)
def returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Cache :func:`riskcore.to_returns`."""
    return riskcore.to_returns(prices)


@shared(show_spinner=False, max_entries=16)
def volatility_views(history: pd.DataFrame, start, window: int, half_life: int,
                     periods_per_year: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Return the Volatility page's rolling and EWMA volatility (annualized) and its table.

    Estimated on ``history`` (prices from the first loaded date), shown from ``start``:
    ``(rolling, ewma, current)``, where ``current`` has per coin the last date with a return,
    the last rolling and EWMA values and the volatility over the whole window.
    """
    rets = returns(history)
    rolling = riskcore.rolling_volatility(rets, window,
                                          periods_per_year=periods_per_year).loc[start:]
    ewma = riskcore.ewma_volatility(rets, half_life,
                                    periods_per_year=periods_per_year).loc[start:]
    shown = rets.loc[start:]
    current = pd.DataFrame({
        "last date": shown.apply(pd.Series.last_valid_index).map(
            lambda t: "–" if pd.isna(t) else f"{t:%Y-%m-%d}"),
        f"rolling {window}": rolling.ffill().iloc[-1],
        f"EWMA hl {half_life}": ewma.ffill().iloc[-1],
        "whole window": shown.apply(lambda r: riskcore.annualized_volatility(
            r.dropna(), periods_per_year=periods_per_year)),
    })
    return rolling, ewma, current


def inside_budget(assets: list[str]) -> list[str]:
    """Return the assets inside the risk budget under the stablecoin policy."""
    if st.session_state["stablecoins"] != "sleeve":
        return list(assets)
    return [a for a in assets if not riskcore.assets.is_stablecoin(a)]


def risk_measure_inputs(container) -> None:
    """Render the risk measure of risk budgeting and, for expected shortfall, its level.

    The level is the session-state key ``"es_level"``, which the side-by-side table of
    :mod:`ui.tail` also renders: this control mirrors it under its own widget key (a key
    renders once per page) and writes it back, so both show the one setting.
    """
    state = st.session_state
    container.selectbox("Risk measure", list(RISK_MEASURES), format_func=RISK_MEASURES.get,
                        key="risk_measure", persist_state="session",
                        help="What each coin's budget is a share of: volatility, or the "
                             "average loss on the window's worst days (historical), or its "
                             "Cornish-Fisher (skewness and kurtosis) approximation.")
    if state["risk_measure"] != "volatility":
        state["es_level_budget"] = state["es_level"]
        container.select_slider("Expected-shortfall level", ES_LEVELS, key="es_level_budget",
                                format_func=lambda v: f"{v:.1%}",
                                on_change=lambda: state.update(es_level=state["es_level_budget"]))

