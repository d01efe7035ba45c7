"""The one decision of the pages: a :class:`riskcore.PortfolioSpec` from session state.

The Allocation page keeps its settings in session state (keys of
:data:`ui.compute.ALLOCATION_DEFAULTS`, the per-coin ``budget_<asset>`` sliders, the
constraint editors' ``bounds_value`` and ``groups_value``). :func:`allocation_spec` reads
them into one spec, and every page decides through :func:`riskcore.build_portfolio` on it
(:func:`target_allocation`), the simulator included: a change on one page is the same
decision on every other.
"""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import streamlit as st

import riskcore
from riskcore.spec import ES_METHODS
from riskcore.window import Universe, usable_assets, window_lookback
from ui.caching import data
from ui.compute import METHODS as _COMPUTE_LABELS
from ui.compute import RISK_MEASURES, budgets, inside_budget, returns
from ui.text import plain

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
    fields = {
        "start": start, "as_of": as_of, "assets": tuple(assets), "estimator": estimator,
        "lookback": int(state["lookback"]),
        "half_life": float(state["half_life"]) if estimator == "ewma" else None,
        "alignment": alignment(),
        "volatility_floor": state["volatility_floor_pct"] / 100 or None,
        "method": method, "stablecoins": state["stablecoins"], "mode": mode,
        **dict(triggers),
    }
    if state["stablecoins"] == "sleeve" and assets and not inside_budget(list(assets)):
        raise riskcore.DataError(
            "every selected coin is a stablecoin, and stablecoins sit outside the risk budget "
            "(the sleeve): select another coin in the sidebar or put stablecoins inside the "
            "risk budget on the Allocation page")
    if method == "risk_budget":
        fields["risk_budget"] = dict(budgets(inside_budget(list(assets))))
        fields["group_limits"] = state["groups_value"]
    if method in ES_METHODS and state["risk_measure"] != "volatility":
        fields |= {"risk_measure": state["risk_measure"], "es_level": float(state["es_level"])}
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
        label = (f"{label.split(' (')[0]} of {RISK_MEASURES[spec.risk_measure].lower()} at "
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


def alignment() -> str:
    """Return the spec's alignment of the shared settings (pairwise: sample estimator only)."""
    state = st.session_state
    pairwise = state.get("alignment") == "pairwise" and state["estimator"] == "sample"
    return "pairwise" if pairwise else "common"


def lookback(dataset) -> int:
    """Return the Allocation page's lookback, shortened to the analysis window when longer.

    The window ``dataset.prices`` ends at the as-of date; a lookback can use at most its
    rows (the first of which has no return: :func:`riskcore.build_portfolio`).
    """
    wanted = int(st.session_state["lookback"])
    rows = len(dataset.prices)
    if wanted <= rows:
        return window_lookback(wanted, rows)
    st.info(f"The lookback of {wanted} periods is longer than the analysis window "
            f"({rows} periods up to {dataset.prices.index[-1]:%Y-%m-%d}): the estimate uses "
            "those. Move the window start in the sidebar to use more.")
    return window_lookback(wanted, rows)


def universe(dataset, periods: int) -> Universe:
    """Return the coins the decision can use (:func:`riskcore.window.usable_assets`).

    ``periods`` is the lookback (:func:`lookback`). Coins left out are named in a note; the
    page stops with guidance when fewer than two remain.
    """
    result = usable_assets(returns(dataset.prices), periods, alignment=alignment())
    for note in result.notes:
        st.info(plain(note))
    if len(result.assets) < 2:
        st.warning("Fewer than two coins have enough data in the lookback ending "
                   f"{dataset.prices.index[-1]:%Y-%m-%d}: shorten the lookback or move the "
                   "analysis window in the sidebar.")
        st.stop()
    return result


def page_spec(dataset, *, method: str | None = None,
              assets: list[str] | None = None) -> riskcore.PortfolioSpec:
    """Return the spec of the shared settings on the dataset's universe, window and as-of.

    ``assets``: the universe when the page already has it (:func:`universe`, whose notes
    are then not repeated).
    """
    periods = window_lookback(st.session_state["lookback"], len(dataset.prices))
    if assets is None:
        periods = lookback(dataset)
        assets = list(universe(dataset, periods).assets)
    spec = allocation_spec(assets, as_of=dataset.prices.index[-1], method=method)
    return replace(spec, lookback=periods)


@data(show_spinner="Deciding…", max_entries=32)
def decision(prices: pd.DataFrame, spec: riskcore.PortfolioSpec) -> riskcore.Portfolio:
    """Cache :func:`riskcore.build_portfolio` of a spec (the spec is frozen and hashable)."""
    return riskcore.build_portfolio(prices, spec)


def target_allocation(dataset, *, method: str | None = None,
                      assets: list[str] | None = None):
    """Return (covariance estimate, Portfolio) of the shared settings on the dataset.

    The one decision every page shows: :func:`page_spec` through
    :func:`riskcore.build_portfolio` on the analysis window. Raises
    :class:`riskcore.RiskcoreError` for settings riskcore refuses (shown by
    :func:`ui.errors.shown_errors`). ``assets``: as in :func:`page_spec`.
    """
    portfolio = decision(dataset.prices, page_spec(dataset, method=method, assets=assets))
    return portfolio.estimate, portfolio


def compare_methods(dataset) -> dict[str, object]:
    """Every method with the shared settings, and risk budgeting on expected shortfall.

    Returns ``{label: Portfolio or error message}`` in :data:`riskcore.METHODS` order, then
    risk budgeting on the other risk measure (expected shortfall at the shared level when
    the Allocation page budgets volatility, volatility when it budgets ES), so a method
    whose constraints cannot be met says why without hiding the others.
    """
    state = st.session_state
    base = page_spec(dataset)
    out: dict[str, object] = {}
    specs = {METHOD_LABELS[m].split(" (")[0]: m for m in riskcore.METHODS}
    for label, method in specs.items():
        try:
            spec = base if method == base.method else replace(
                allocation_spec(list(base.assets), as_of=base.as_of, method=method),
                lookback=base.lookback)
            out[label] = decision(dataset.prices, spec)
        except riskcore.RiskcoreError as exc:
            out[label] = str(exc)
    budgeted = base if base.method == "risk_budget" else replace(
        allocation_spec(list(base.assets), as_of=base.as_of, method="risk_budget"),
        lookback=base.lookback)
    if budgeted.risk_measure == "volatility":
        other = ("historical_es", float(state["es_level"]))
        label = f"Risk budgeting on historical ES {other[1]:.1%}"
    else:
        other = ("volatility", 0.95)
        label = "Risk budgeting on volatility"
    try:
        spec = replace(budgeted, risk_measure=other[0], es_level=other[1])
        out[label] = decision(dataset.prices, spec)
    except riskcore.RiskcoreError as exc:
        out[label] = str(exc)
    return out
