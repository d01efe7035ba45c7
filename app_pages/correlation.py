"""Correlation: the analysis window's heatmap, calm days against stress days, rolling views."""

import streamlit as st

import riskcore
from riskcore.errors import RiskcoreError
from riskcore.regimes import calm_stress_correlation, window_correlation
from ui import charts
from ui.compute import returns
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.text import plain

SESSION = {"persist_state": "session"}
st.title("Correlation")
data = current_dataset()
rets = returns(data.history).loc[data.window.start:]
st.caption(plain(history_note(data.prices)) + " Pick a crash or calm period under *Analysis "
           "window* in the sidebar to see how the coins moved together then.")

span = st.radio("Heatmap over", ["window", "last"], horizontal=True, key="corr_span", **SESSION,
                format_func={"window": "the whole analysis window",
                             "last": "the last N periods up to the as-of date"}.get)
if span == "last":
    lookback = st.slider("Last N periods", 30, max(31, len(rets)), min(365, len(rets)),
                         key="corr_lookback", **SESSION)
    shown = rets.iloc[-lookback:]
else:
    shown = rets
period = f"{shown.index[0]:%Y-%m-%d} → {shown.index[-1]:%Y-%m-%d}"
with shown_errors():
    corr = window_correlation(shown)
    order = riskcore.cluster_order(corr.matrix) if len(corr.matrix) > 1 else list(corr.matrix)
for note in corr.notes:
    st.info(plain(note))
tab_all, tab_regime = st.tabs(["Heatmap", "Calm vs stress days"])
with tab_all:
    st.plotly_chart(charts.heatmap(corr.matrix.loc[order, order],
                                   title=f"Correlation of returns, {period} (clustered order)"),
                    key="chart_corr_heatmap")
    st.caption("Assets are ordered by hierarchical clustering (distance √(½(1−ρ))) so that "
               "correlated groups stand together. Pairwise-complete observations.")
with tab_regime:
    quantile = st.slider("Stress days: the worst share of days (%)", 5, 25, 10, 1,
                         key="corr_stress_pct", **SESSION,
                         help="Days ranked by the equal-weight return of the coins priced "
                              "that day; the worst ones are stress days, the rest calm days.")
    try:
        regime = calm_stress_correlation(shown, quantile=quantile / 100)
    except RiskcoreError as exc:  # this view only: the rest of the page still works
        regime = None
        st.info(plain(str(exc)))
    if regime is not None:
        for note in regime.notes:
            st.info(plain(note))
        keep = [a for a in order if a in regime.calm.columns]
        calm_days = len(regime.market) - len(regime.stress_days)
        st.caption(f"{len(regime.stress_days)} stress days (equal-weight return ≤ "
                   f"{regime.threshold:.1%}) against {calm_days} "
                   f"calm days, {period}. Correlations measured on stress days are inflated by "
                   "their higher volatility (Forbes & Rigobon 2002): read the difference as "
                   "'moved together more', not as a new long-run correlation.")
        c1, c2 = st.columns(2)
        c1.plotly_chart(charts.heatmap(regime.calm.loc[keep, keep], title="Calm days"),
                        key="chart_corr_calm")
        c2.plotly_chart(charts.heatmap(regime.stress.loc[keep, keep], title="Stress days"),
                        key="chart_corr_stress")
        st.plotly_chart(charts.heatmap(
            regime.difference.loc[keep, keep],
            title="Stress − calm: how much more the coins moved together"), key="chart_corr_diff")

st.subheader("Rolling correlation of a pair")
assets = list(data.prices.columns)
a_col, b_col, w_col = st.columns(3)
a = a_col.selectbox("First asset", assets, index=0, key="pair_a")
b = b_col.selectbox("Second asset", assets, index=min(1, len(assets) - 1), key="pair_b")
window = w_col.slider("Rolling window (periods)", 10, 365, 60, key="corr_window", **SESSION)
with shown_errors():
    history = returns(data.history)
    pair = riskcore.rolling_correlation(history, a, b, window).loc[data.window.start:]
    average = riskcore.average_correlation(history, window).loc[data.window.start:]
st.plotly_chart(charts.lines(pair.to_frame(f"{a} / {b}"), title=f"{window}-period correlation",
                             y_title="correlation", percent=False, coins=False),
                key="chart_pair_corr")
st.plotly_chart(charts.lines(average.to_frame("average pairwise correlation"),
                             title=f"Average pairwise correlation, {window}-period window",
                             y_title="correlation", percent=False, coins=False),
                key="chart_avg_corr")
st.caption("Correlations rise in crashes: diversification is weakest when it is needed most.")
