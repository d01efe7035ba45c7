"""Scenarios on the page: a spec written back into the widgets, kept in the session and URL.

:func:`ui.spec.allocation_spec` reads the widgets' session state into one
:class:`riskcore.PortfolioSpec`; :func:`apply_spec` is its inverse, so a scenario loaded from
a file, a link or the session's list of saved scenarios shows exactly the view it was saved
from. The widget keys are those of :data:`ui.compute.ALLOCATION_DEFAULTS` and
:data:`ui.compute.TRADING_DEFAULTS`.
"""

from __future__ import annotations

import streamlit as st

import riskcore
from ui.compute import ALLOCATION_DEFAULTS, budget_key, hold_key

#: Simulator trigger widgets (app_pages/rebalance.py) and the percent scale of each.
TRIGGER_KEYS = {"relative_band": "bt_relative_band", "risk_band": "bt_risk_band",
                "volatility_band": "bt_volatility_band"}


def spec_state(spec: riskcore.PortfolioSpec) -> dict[str, object]:
    """Return the session-state values that make :func:`ui.spec.allocation_spec` give ``spec``.

    Typed budgets are the spec's normalized budgets in percent with no coin held (the same
    normalized budget); bounds and group limits go to the constraint editors' stored values.
    """
    state: dict[str, object] = {
        "method": spec.method,
        "estimator": spec.estimator,
        "lookback": int(spec.lookback),
        "half_life": int(round(spec.half_life_periods)) if spec.estimator == "ewma"
        else ALLOCATION_DEFAULTS["half_life"],
        "alignment": spec.alignment,
        "volatility_floor_pct": 100 * (spec.volatility_floor or 0.0),
        "stablecoins": spec.stablecoins,
        "risk_measure": spec.risk_measure,
        "es_level": float(spec.es_level),
        "vol_target_on": spec.target_volatility is not None,
        "vol_target_pct": 100 * (spec.target_volatility or
                                 ALLOCATION_DEFAULTS["vol_target_pct"] / 100),
        "max_leverage": float(spec.max_leverage),
        "cash": spec.sleeve_asset,
        "bounds_value": tuple((a, float(lo), float(hi)) for a, (lo, hi) in spec.bounds),
        "groups_value": tuple((str(n), tuple(m), float(lo), float(hi))
                              for n, m, lo, hi in spec.group_limits),
        "groups_rows": [(str(n), ", ".join(m), 100 * float(lo), 100 * float(hi))
                        for n, m, lo, hi in spec.group_limits],
        "rebalance_mode": spec.mode,
        "fee_bps": spec.costs.fee * 1e4,
        "spread_bps": spec.costs.half_spread * 1e4,
        "impact_bps": spec.costs.impact * 1e4,
        "min_trade_usd": float(spec.costs.min_trade),
    }
    if spec.n_clusters is not None:
        state |= {"n_clusters": int(spec.n_clusters), "cluster_source": "correlation"}
    if spec.clusters:
        state |= {"cluster_source": "groups",
                  "cluster_groups": {g: list(m) for g, m in spec.clusters}}
        state |= {f"cbudget_{g}": float(b) for g, b in spec.cluster_budget}
    if spec.risk_budget:
        total = sum(b for _, b in spec.risk_budget) or 1.0
        for asset, b in spec.risk_budget:
            state[budget_key(asset)] = round(100 * b / total, 6)
            state[hold_key(asset)] = False
    triggers = [name for name in ("frequency", "band", *TRIGGER_KEYS)
                if getattr(spec, name) is not None]
    state["bt_triggers"] = triggers
    if spec.frequency is not None:
        state["bt_frequency"] = spec.frequency
    if spec.band is not None:
        state["band_pp"] = 100 * spec.band
    for name, key in TRIGGER_KEYS.items():
        if getattr(spec, name) is not None:
            state[key] = 100 * getattr(spec, name)
    return state


def apply_spec(spec: riskcore.PortfolioSpec) -> None:
    """Write ``spec`` into the widgets' session state (the editors restart from it)."""
    for key, value in spec_state(spec).items():
        st.session_state[key] = value
    for editor in ("bounds_editor", "groups_editor"):
        st.session_state.pop(editor, None)
