"""The Allocation page's decision as one :class:`riskcore.PortfolioSpec`, from session state.

The Allocation page keeps its settings in session state (keys of
:data:`ui.compute.ALLOCATION_DEFAULTS`, the per-coin ``budget_<asset>`` sliders, the
constraint editors' ``bounds_value`` and ``groups_value``). :func:`allocation_spec` reads
them once, so the simulator (and any page that switches to it) runs exactly that decision.
"""

from __future__ import annotations

import streamlit as st

import riskcore
from ui.compute import METHODS as _COMPUTE_LABELS
from ui.compute import RISK_MEASURES, budgets, inside_budget

#: UI label of each riskcore method (riskcore.METHODS is the vocabulary; labels follow it).
METHOD_LABELS: dict[str, str] = {
    m: _COMPUTE_LABELS.get(m, m.replace("_", " ")) for m in riskcore.METHODS
}


def allocation_spec(assets: list[str], *, start=None, as_of=None, triggers: tuple = (),
                    mode: str = "to_target", costs=None,
                    method: str | None = None) -> riskcore.PortfolioSpec:
    """Build the spec of the Allocation page's settings over ``assets``.

    ``method`` overrides the Allocation page's method (its other settings are kept, those
    the method does not take are left out). ``triggers`` are (field, value) pairs of the
    rebalancing rule (``frequency``, ``band``, ...), ``costs`` a :class:`riskcore.CostModel`.
    Raises :class:`riskcore.RiskcoreError` for settings riskcore refuses (e.g. every budget
    at zero).
    """
    state = st.session_state
    method, estimator = method or state["method"], state["estimator"]
    pairwise = state.get("alignment") == "pairwise" and estimator == "sample"
    fields = {
        "start": start, "as_of": as_of, "assets": tuple(assets), "estimator": estimator,
        "lookback": int(state["lookback"]),
        "half_life": float(state["half_life"]) if estimator == "ewma" else None,
        "alignment": "pairwise" if pairwise else "common",
        "volatility_floor": state["volatility_floor_pct"] / 100 or None,
        "method": method, "stablecoins": state["stablecoins"], "mode": mode,
        **dict(triggers),
    }
    if method == "risk_budget":
        fields["risk_budget"] = dict(budgets(inside_budget(list(assets))))
        fields["group_limits"] = state["groups_value"]
        if state["risk_measure"] != "volatility":
            fields |= {"risk_measure": state["risk_measure"],
                       "es_level": float(state["es_level"])}
    if method in ("risk_budget", "minimum_variance"):
        fields["bounds"] = state["bounds_value"]
    if method == "cluster_risk_budget":
        clusters = state.get("cluster_groups") or {}
        if state["cluster_source"] == "groups" and clusters:
            fields["clusters"] = {g: tuple(m) for g, m in clusters.items()}
            fields["cluster_budget"] = {g: float(state.get(f"cbudget_{g}", 1.0))
                                        for g in (*clusters, "other")}
        else:
            inside = len(inside_budget(list(assets)))
            fields["n_clusters"] = max(1, min(int(state["n_clusters"]), inside - 1))
    if state["vol_target_on"]:
        fields |= {"target_volatility": state["vol_target_pct"] / 100,
                   "max_leverage": float(state["max_leverage"]), "sleeve_asset": state["cash"]}
    if costs is not None:
        fields["costs"] = costs
    return riskcore.PortfolioSpec(**fields)


def describe(spec: riskcore.PortfolioSpec) -> str:
    """One line saying what the spec decides (for captions)."""
    label = METHOD_LABELS[spec.method]
    if spec.es_measure is not None:
        label = (f"Risk budgeting of {RISK_MEASURES[spec.risk_measure].lower()} at "
                 f"{spec.es_level:.1%}")
    parts = [label, f"{spec.estimator} covariance over {spec.lookback} "
             "periods", f"stablecoins {spec.stablecoins}"]
    if spec.volatility_floor:
        parts.append(f"volatility floor {spec.volatility_floor:.0%}")
    if spec.bounds:
        parts.append(f"{len(spec.bounds)} weight bound(s)")
    if spec.group_limits:
        parts.append(f"{len(spec.group_limits)} group limit(s)")
    if spec.target_volatility:
        parts.append(f"volatility target {spec.target_volatility:.0%} (remainder in "
                     f"{spec.sleeve_asset}, leverage ≤ {spec.max_leverage:g})")
    return "; ".join(parts)
