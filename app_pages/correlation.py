"""Correlation: clustered heatmap, rolling pair correlation, average pairwise correlation."""

import streamlit as st

import riskcore
from ui import charts
from ui.compute import returns
from ui.data import current_dataset, history_note
from ui.errors import shown_errors

st.title("Correlation")
data = current_dataset()
rets = returns(data.prices)
st.caption(history_note(data.prices))

lookback = st.slider("Heatmap window (last N periods)", 30, max(31, len(rets)),
                     min(365, len(rets)), key="corr_lookback", persist_state="session")
with shown_errors():
    window_returns = rets.iloc[-lookback:].dropna(axis=1, how="all")
    corr = window_returns.corr(min_periods=10).dropna(how="all").dropna(axis=1, how="all")
    order = riskcore.cluster_order(corr)
missing = sorted(set(rets.columns) - set(corr.columns))
if missing:
    st.info(f"Not enough data in the last {lookback} periods for: {', '.join(missing)}.")
st.plotly_chart(
    charts.heatmap(corr.loc[order, order],
                   title=f"Correlation of returns, last {lookback} periods (clustered order)"),
    key="chart_corr_heatmap",
)
st.caption("Assets are ordered by hierarchical clustering (distance √(½(1−ρ))) so that "
           "correlated groups stand together. Pairwise-complete observations.")

st.subheader("Rolling correlation of a pair")
assets = list(rets.columns)
a_col, b_col, w_col = st.columns(3)
a = a_col.selectbox("First asset", assets, index=0, key="pair_a")
b = b_col.selectbox("Second asset", assets, index=min(1, len(assets) - 1), key="pair_b")
window = w_col.slider("Rolling window (periods)", 10, 365, 60, key="corr_window",
                      persist_state="session")
with shown_errors():
    pair = riskcore.rolling_correlation(rets, a, b, window)
    average = riskcore.average_correlation(rets, window)
st.plotly_chart(charts.lines(pair.to_frame(f"{a} / {b}"), title=f"{window}-period correlation",
                             y_title="correlation", percent=False, coins=False),
                key="chart_pair_corr")
st.plotly_chart(charts.lines(average.to_frame("average pairwise correlation"),
                             title=f"Average pairwise correlation, {window}-period window",
                             y_title="correlation", percent=False, coins=False),
                key="chart_avg_corr")
st.caption("Correlations rise in crashes: diversification is weakest when it is needed most.")
