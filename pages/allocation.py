"""Allocation: risk budgets per coin -> weights and risk contributions."""

import pandas as pd
import streamlit as st

from ui import charts
from ui.compute import ESTIMATORS, METHODS, budget_key, budgets, target_allocation
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.routing import require_router

require_router()
st.title("Allocation")
data = current_dataset()
assets = list(data.prices.columns)
equal = round(100 / len(assets), 1)


def reset_budgets() -> None:
    for asset in assets:
        st.session_state[budget_key(asset)] = equal


for asset in assets:
    st.session_state.setdefault(budget_key(asset), equal)

settings, budget_col = st.columns([2, 3])
with settings:
    st.radio("Method", list(METHODS), format_func=METHODS.get, key="method",
             persist_state="session")
    st.selectbox("Covariance estimator", list(ESTIMATORS), format_func=ESTIMATORS.get,
                 key="estimator", persist_state="session")
    st.slider("Lookback (periods)", 30, 1460, key="lookback", step=5, persist_state="session",
              help="Covariance is estimated on the last N periods of the common window.")
    if st.session_state["estimator"] == "ewma":
        st.slider("EWMA half-life (periods)", 5, 365, key="half_life", persist_state="session")
with budget_col:
    st.markdown("**Risk budget per coin** (relative; normalised to sum to 100%)")
    cols = st.columns(2)
    for i, asset in enumerate(assets):
        cols[i % 2].slider(asset, 0.0, 100.0, step=0.5, key=budget_key(asset),
                           persist_state="session",
                           disabled=st.session_state["method"] != "risk_budget")
    st.button("Reset to equal budgets (equal risk contribution)", on_click=reset_budgets)

with shown_errors():
    estimate, result = target_allocation(data)
st.caption(history_note(data.prices) + f" Covariance: {ESTIMATORS[estimate.method]}, "
           f"{estimate.n_observations if isinstance(estimate.n_observations, int) else ''} "
           "observations, annualized.")
for warning in estimate.warnings:
    st.warning(warning)

budget = budgets(assets) if st.session_state["method"] == "risk_budget" else None
table = pd.DataFrame({
    "weight": result.weights,
    "relative risk contribution": result.relative_risk_contributions,
    "risk budget": budget if budget is not None else float("nan"),
    "volatility": pd.Series({a: estimate.matrix.loc[a, a] ** 0.5 for a in result.weights.index}),
})
m1, m2, m3 = st.columns(3)
m1.metric("Portfolio volatility (annualized)", f"{result.portfolio_volatility:.1%}")
m2.metric("Largest weight", f"{table['weight'].idxmax()} {table['weight'].max():.1%}")
m3.metric("Solver", f"{'converged' if result.converged else 'NOT converged'} "
          f"in {result.iterations} it.", help=f"max relative error {result.max_relative_error:.1e}")

shown = ["weight", "relative risk contribution"] + (["risk budget"] if budget is not None else [])
st.plotly_chart(charts.grouped_bars(table[shown], title="Weights and risk contributions"),
                key="chart_weights")
charts.table(table, percent=tuple(table.columns))
st.download_button("Download weights (CSV)", table.to_csv(index_label="asset"),
                   file_name="risk_budget_weights.csv", mime="text/csv")
