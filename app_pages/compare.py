"""Method comparison: every allocation method on the same data, estimator and settings."""

import pandas as pd
import streamlit as st

from riskcore.export import to_csv_safe
from ui import charts
from ui.compute import METHODS, budgets, compare, estimate, inside_budget, settings_options
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.text import plain

st.title("Method comparison")
data = current_dataset()
st.caption(plain(history_note(data.prices)) + " Same covariance estimate, stablecoin policy, "
           "constraints and volatility target as the Allocation page; risk budgeting uses its "
           "budgets.")
with shown_errors():
    est = estimate(data)
    inside = inside_budget(list(est.matrix.columns))
    budget = tuple(budgets(inside).items())
    results = compare(est.matrix, budget, settings_options(len(inside)))
ok = {METHODS[m].split(" (")[0]: results[m] for m in METHODS
      if not isinstance(results[m], str)}
for method, message in results.items():
    if isinstance(message, str):
        st.warning(plain(f"{METHODS[method]}: {message}"))

weights = pd.DataFrame({name: p.weights for name, p in ok.items()}).fillna(0.0)
risk = pd.DataFrame({name: p.relative_risk_contributions for name, p in ok.items()}).fillna(0.0)
summary = pd.DataFrame({name: {
    "volatility (annualized)": f"{p.portfolio_volatility:.1%}",
    "diversification ratio": f"{p.diversification_ratio:.2f}",
    "effective number of bets": f"{p.effective_number_of_bets:.1f}",
    "largest weight": f"{p.weights.idxmax()} {p.weights.max():.0%}",
    "largest risk share": f"{p.relative_risk_contributions.idxmax()} "
                          f"{p.relative_risk_contributions.max():.0%}",
    "leverage / sleeve": f"{p.leverage:.2f}× / {p.cash_weight:.0%}",
} for name, p in ok.items()})

charts.table(summary)
st.plotly_chart(charts.grouped_bars(weights, title="Weights by method"), key="chart_cmp_weights")
st.plotly_chart(charts.grouped_bars(risk, title="Relative risk contributions by method"),
                key="chart_cmp_risk")
st.markdown("**Weights**")
charts.table(weights, percent=tuple(weights.columns))
st.markdown("**Relative risk contributions**")
charts.table(risk, percent=tuple(risk.columns))
st.download_button("Download comparison (CSV)",
                   to_csv_safe(pd.concat({"weight": weights, "relative risk contribution": risk},
                                         axis=1), index_label="asset"),
                   file_name="method_comparison.csv", mime="text/csv")
