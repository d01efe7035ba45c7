"""Allocation: risk budgets per coin -> weights, risk contributions and diagnostics."""

import pandas as pd
import streamlit as st

from riskcore.assets import is_stablecoin
from riskcore.export import to_csv_safe
from riskcore.spec import ES_METHODS
from ui import charts
from ui.compute import (
    ESTIMATORS,
    METHODS,
    STABLECOIN_POLICIES,
    inside_budget,
    risk_measure_inputs,
)
from ui.constraints import bounds_editor, budget_editor, group_members, groups_editor
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.export import decision_record
from ui.layout import metric_row
from ui.spec import decision, lookback, page_spec, universe
from ui.tail import contributions_side_by_side
from ui.text import plain

SESSION = {"persist_state": "session"}
st.title("Allocation")
data = current_dataset()
# the widgets list the coins the decision can use (one rule: riskcore.window.min_returns)
assets = list(universe(data, lookback(data)).assets)
stables = [a for a in assets if is_stablecoin(a)]
state = st.session_state
settings = st.columns(4)
settings[0].selectbox("Method", list(METHODS), format_func=METHODS.get, key="method", **SESSION)
settings[1].selectbox("Covariance estimator", list(ESTIMATORS), format_func=ESTIMATORS.get,
                      key="estimator", **SESSION)
settings[2].slider("Lookback (periods)", 30, 1460, key="lookback", step=5, **SESSION,
                   help="Covariance is estimated on the last N periods up to the as-of date of "
                        "the analysis window (sidebar); coins with too little data there are "
                        "left out with a note.")
settings[3].number_input("Volatility floor (annualized %)", 0.0, 50.0, step=1.0,
                         key="volatility_floor_pct", **SESSION,
                         help="Assets measured below this volatility are estimated at the floor "
                              "(correlations kept), so a calm stablecoin cannot absorb the "
                              "portfolio.")
if state["estimator"] == "ewma":
    settings[2].slider("EWMA half-life (periods)", 5, 365, key="half_life", **SESSION)
if stables:
    settings[0].radio(plain(f"Stablecoins ({', '.join(stables)})"), list(STABLECOIN_POLICIES),
                      format_func=STABLECOIN_POLICIES.get, key="stablecoins", **SESSION)
in_budget = inside_budget(assets)
if state["method"] in ES_METHODS:
    risk_measure_inputs(settings[1])
if state["method"] == "cluster_risk_budget":
    settings[1].radio("Groups", ["correlation", "groups"], key="cluster_source", **SESSION,
                      format_func={"correlation": "correlation clusters",
                                   "groups": "my groups (edited under Groups and constraints)"}.get)
    if state["cluster_source"] == "correlation" and len(in_budget) > 2:
        settings[1].slider("Correlation clusters", 2, len(in_budget) - 1, key="n_clusters",
                           **SESSION)

budget_col, result_col = st.columns(2, gap="medium")
with budget_col:
    if state["method"] == "risk_budget" and in_budget:
        budget_editor(in_budget)
    elif state["method"] == "cluster_risk_budget" and state["cluster_source"] == "groups":
        groups = group_members(in_budget)
        state["cluster_groups"] = groups
        named = {m for members in groups.values() for m in members}
        st.markdown("**Risk budget per group** (relative; split equally inside each group)")
        for group in [*groups, *(["other"] if set(in_budget) - named else [])]:
            st.session_state.setdefault(f"cbudget_{group}", 1.0)
            st.slider(plain(group), 0.0, 5.0, step=0.05, key=f"cbudget_{group}", **SESSION)
    else:
        st.info(f"{METHODS[state['method']]} sets no per-coin risk budget; "
                "choose risk budgeting to set one.")
    with st.expander("Volatility target"):
        st.toggle("Scale the portfolio to a target volatility", key="vol_target_on", **SESSION)
        st.slider("Target volatility (annualized %)", 5.0, 150.0, step=1.0,
                  key="vol_target_pct", **SESSION)
        st.number_input("Maximum leverage", 1.0, 3.0, step=0.1, key="max_leverage", **SESSION)
        st.selectbox("Remainder held in", ["cash"] + stables, key="cash", **SESSION)
    with st.expander("Groups and constraints"):
        st.caption("Weight bounds (risk budgeting, minimum variance) apply to the coins inside "
                   "the risk budget, before any volatility target. Group limits (risk "
                   "budgeting) apply to the members' total weight; the groups also serve "
                   "cluster risk budgeting.")
        bounds_editor(in_budget)
        for problem in groups_editor(in_budget):
            st.warning(plain(problem))

with result_col:
    with shown_errors():
        spec = page_spec(data, assets=assets)
        portfolio = decision(data.prices, spec)
        est = portfolio.estimate
    observations = est.n_observations
    st.caption(plain(history_note(data.prices)) + f" Covariance: {ESTIMATORS[est.method]}, "
               f"{observations if isinstance(observations, int) else 'pairwise'} observations "
               f"{est.start:%Y-%m-%d} → {est.end:%Y-%m-%d}, annualized.")
    if state.get("alignment") == "pairwise" and state["estimator"] != "sample":
        st.info("Pairwise alignment (Data page) works with the sample estimator only: "
                f"{ESTIMATORS[state['estimator']]} uses the common window.")
    for message in (*est.warnings, *portfolio.notes):
        st.info(plain(message))
    top = portfolio.relative_risk_contributions.idxmax()
    metric_row([
        ("Volatility (annualized)", f"{portfolio.portfolio_volatility:.1%}"),
        ("Diversification ratio", f"{portfolio.diversification_ratio:.2f}",
         "Σ wᵢσᵢ / σₚ (Choueifaty & Coignard 2008)"),
        ("Effective number of bets", f"{portfolio.effective_number_of_bets:.1f}",
         "exp(entropy of relative risk contributions), Meucci (2009)"),
        ("Largest risk share: " + plain(top), f"{portfolio.relative_risk_contributions[top]:.1%}"),
        ("Leverage / sleeve", f"{portfolio.leverage:.2f}× / {portfolio.cash_weight:.0%}",
         f"Sleeve held in {portfolio.cash or '—'}"),
    ])
    table = pd.DataFrame({
        "weight": portfolio.weights,
        "relative risk contribution": portfolio.relative_risk_contributions,
        "risk budget": portfolio.budget if portfolio.budget is not None else float("nan"),
        "marginal risk contribution": portfolio.marginal_risk_contributions,
        "volatility": est.volatility,
    })
    tail = portfolio.tail  # set when the budget is on expected shortfall
    if tail is not None:
        table.insert(2, "ES contribution", tail.relative_risk_contributions.reindex(
            table.index, fill_value=0.0))
    shown = ["weight", "relative risk contribution"] + (
        ["ES contribution"] if tail is not None else []) + (
        ["risk budget"] if portfolio.budget is not None else [])
    st.plotly_chart(charts.grouped_bars(table[shown], title="Weights and risk contributions"),
                    key="chart_weights")

charts.table(table, percent=tuple(table.columns))
with st.expander("Tail risk: volatility against expected-shortfall contributions",
                 expanded=True):
    contributions_side_by_side(data, est, portfolio, key="chart_tail_shares")
if portfolio.groups is not None:
    st.markdown("**Groups**: total weight and share of risk against the members' budgets")
    charts.table(portfolio.groups, percent=tuple(portfolio.groups.columns))
result = portfolio.allocation
error_kind = ("optimality-condition error" if result.binding_constraints or
              state["bounds_value"] or state["groups_value"]
              else "largest relative risk-contribution error")
if tail is not None:
    error_kind = ("ES optimality-condition error" if tail.binding_constraints
                  else "largest relative ES-contribution error")
st.caption(f"Solver: {result.method}, {'converged' if result.converged else 'NOT converged'} in "
           f"{result.iterations} iterations, {error_kind} {result.max_relative_error:.1e}.")
if tail is not None and tail.measure == "historical":
    st.caption(f"Historical ES is piecewise linear in the weights: with {tail.n_tail_scenarios} "
               f"tail scenarios of {tail.n_observations}, swapping one scenario at the edge of "
               f"the tail moves a share by up to {tail.resolution:.1%} of its budget (the "
               "resolution); ES contributions match the budgets to within it.")
d1, d2 = st.columns(2)
d1.download_button("Download weights (CSV)", to_csv_safe(table, index_label="asset"),
                   file_name="allocation.csv", mime="text/csv")
d2.download_button("Download the decision (JSON: data, settings, constraints, weights)",
                   decision_record(data, spec, portfolio),
                   file_name="allocation_decision.json", mime="application/json")
