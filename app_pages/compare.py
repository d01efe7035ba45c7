"""Method comparison: every allocation method on the same data, estimator and settings."""

import pandas as pd
import streamlit as st

from riskcore.export import to_csv_safe
from ui import charts
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.spec import compare_methods
from ui.tail import contributions_side_by_side
from ui.text import plain

st.title("Method comparison")
data = current_dataset()
st.caption(plain(history_note(data.prices)) + " The Allocation page's decision with each "
           "method in turn: same coins, covariance estimate, stablecoin policy, constraints and "
           "volatility target; risk budgeting uses its budgets, once on volatility and once on "
           "expected shortfall.")
with shown_errors():
    results = compare_methods(data)
ok = {name: p for name, p in results.items() if not isinstance(p, str)}
for name, message in results.items():
    if isinstance(message, str):
        st.warning(plain(f"{name}: {message}"))
if not ok:
    st.stop()

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
st.subheader("Tail risk of one method's portfolio")
chosen = st.selectbox("Portfolio", list(ok), key="cmp_tail_method")
contributions_side_by_side(data, ok[chosen].estimate, ok[chosen], key="chart_cmp_tail")
st.markdown("**Weights**")
charts.table(weights, percent=tuple(weights.columns))
st.markdown("**Relative risk contributions**")
charts.table(risk, percent=tuple(risk.columns))
st.download_button("Download comparison (CSV)",
                   to_csv_safe(pd.concat({"weight": weights, "relative risk contribution": risk},
                                         axis=1), index_label="asset"),
                   file_name="method_comparison.csv", mime="text/csv")
