"""Rebalancing simulator: a policy walked forward with costs, against benchmarks, and the
threshold trade-off between trading costs and risk balance."""

import numpy as np
import pandas as pd
import streamlit as st

from riskcore.assets import is_stablecoin
from riskcore.export import to_csv_safe
from riskcore.metrics import drawdown as riskcore_drawdown
from ui import charts
from ui.compute import (
    STABLECOIN_POLICIES,
    band_slider,
    budgets,
    cost_args,
    trading_inputs,
    volume_note,
)
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.simulate import FREQUENCIES, TARGETS, TRIGGERS, backtests, metrics_table, sweep

SCALE = {"band": 50.0, "relative_band": 200.0, "risk_band": 50.0, "volatility_band": 100.0}

st.title("Rebalancing simulator")
data = current_dataset()
prices = data.prices
st.caption(history_note(prices) + " Decisions at each close use only prices known then; "
           "trades execute at that close and pay costs out of the portfolio. "
           + volume_note(data))

c1, c2, c3 = st.columns(3)
method = c1.selectbox("Target weights", list(TARGETS), format_func=TARGETS.get,
                      key="bt_method", persist_state="session")
estimator = c1.selectbox("Covariance estimator", ["sample", "ewma"], key="bt_estimator",
                         persist_state="session")
lookback = c1.slider("Lookback (periods)", 20, 365, 90, 5, key="bt_lookback",
                     persist_state="session")
stables = [a for a in prices.columns if is_stablecoin(a)]
if stables:
    c1.radio(f"Stablecoins ({', '.join(stables)})", list(STABLECOIN_POLICIES),
             format_func=STABLECOIN_POLICIES.get, key="stablecoins", persist_state="session")
c1.number_input("Volatility floor (annualized %)", 0.0, 50.0, step=1.0,
                key="volatility_floor_pct", persist_state="session")
chosen = c2.multiselect("Rebalance when (any of)", list(TRIGGERS), default=["band"],
                        format_func=TRIGGERS.get, key="bt_triggers", persist_state="session")
triggers = []
for trigger in chosen:
    if trigger == "frequency":
        freq = c2.selectbox("Calendar", list(FREQUENCIES), index=2, format_func=FREQUENCIES.get,
                            key="bt_frequency", persist_state="session")
        triggers.append(("frequency", freq))
    elif trigger == "band":
        triggers.append(("band", band_slider(c2, TRIGGERS["band"])))
    else:
        value = c2.slider(TRIGGERS[trigger], 0.0, SCALE[trigger], 5.0, 0.5,
                          key=f"bt_{trigger}", persist_state="session")
        triggers.append((trigger, value / 100))
trading_inputs([c2, c3, c3, c3, c3])
state = st.session_state
mode = state["rebalance_mode"]
initial = c3.number_input("Initial value (USD)", 100.0, 1e9, 100_000.0, step=1000.0,
                          key="bt_initial", persist_state="session")

budget = tuple(budgets(list(prices.columns)).items()) if method == "risk_budget" else None
costs = cost_args()
stable_args = (("stablecoins", state["stablecoins"]),
               ("volatility_floor", state["volatility_floor_pct"] / 100 or None))
with shown_errors():
    runs = backtests(prices, method, budget, tuple(triggers), mode, estimator, lookback,
                     costs, initial, stable_args, data.volume)
main = runs["policy"]
curves = pd.DataFrame({name: r.equity for name, r in runs.items()}).loc[main.rebalance_dates[0]:]
st.plotly_chart(charts.equity(curves, markers=main.rebalance_dates,
                              title=f"Equity ({len(main.rebalance_dates)} rebalances marked)"),
                key="chart_equity")
drawdowns = curves.apply(riskcore_drawdown)
st.plotly_chart(charts.lines(drawdowns, title="Drawdown", y_title="drawdown", coins=False),
                key="chart_drawdown")
st.subheader("Metrics")
charts.table(metrics_table(runs))

left, right = st.columns(2)
held = main.weights.loc[curves.index[0]:]
left.plotly_chart(charts.stacked_area(held, title="Weights over time (policy)"),
                  key="chart_bt_weights")
risk = main.risk_contributions.loc[curves.index[0]:].dropna(how="all")
right.plotly_chart(charts.lines(risk, title="Realized relative risk contributions",
                                y_title="share of portfolio risk"), key="chart_bt_risk")
with st.expander(f"Trades ({len(main.trades):,})"):
    charts.table(main.trades, max_rows=20, value=st.column_config.NumberColumn(format="dollar"),
                 cost=st.column_config.NumberColumn(format="dollar"))
    st.download_button("Download trades (CSV)", to_csv_safe(main.trades, index=False),
                       file_name="backtest_trades.csv", mime="text/csv")

st.subheader("Threshold trade-off")
band_triggers = [t for t in TRIGGERS if t != "frequency"]
s1, s2, s3 = st.columns(3)
kind = s1.selectbox("Threshold to sweep", band_triggers, format_func=TRIGGERS.get,
                    key="sweep_kind", persist_state="session")
top = s2.slider("Up to", 1.0, SCALE[kind], min(50.0, SCALE[kind]), 1.0, key="sweep_top")
axis = s3.radio("Cost axis", ["costs_paid", "turnover"], horizontal=True, key="sweep_axis",
                format_func={"costs_paid": "costs (USD)", "turnover": "turnover"}.get)
grid = tuple(float(x) for x in np.linspace(0.0, top / 100, 51))
request = (method, budget, mode, estimator, lookback, costs, initial, stable_args, kind,
           grid)
if st.button("Run threshold sweep (51 thresholds)", type="primary"):
    st.session_state["sweep_request"] = request
if st.session_state.get("sweep_request") == request:
    bar = st.progress(0.0, text="Sweeping thresholds…")
    with shown_errors():
        table = sweep(prices, *request, volume=data.volume,
                      _progress=lambda d, n: bar.progress(d / n))
    bar.empty()
    st.plotly_chart(charts.tradeoff(table, x=axis, x_title=axis.replace("_", " "),
                                    title="Costs against risk balance, one point per threshold"),
                    key="chart_sweep")
    charts.table(table.reset_index(), max_rows=10, percent=(
        "threshold", "annualized_return", "max_drawdown", "cost_drag"))
