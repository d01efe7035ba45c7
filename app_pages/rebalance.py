"""Rebalancing simulator: the Allocation page's decision walked forward with costs, against
benchmarks, and the threshold trade-off between trading costs and risk balance."""

import numpy as np
import pandas as pd
import streamlit as st

from riskcore.assets import is_stablecoin
from riskcore.export import to_csv_safe
from riskcore.metrics import drawdown as riskcore_drawdown
from riskcore.window import universe_start
from ui import charts
from ui.compute import (
    STABLECOIN_POLICIES,
    band_slider,
    cost_model,
    trading_inputs,
    volume_note,
)
from ui.data import current_dataset, history_note, window_is_default
from ui.errors import shown_errors
from ui.perpetuals import perpetual_inputs, perpetual_report, with_perpetuals
from ui.simulate import FREQUENCIES, TRIGGERS, backtests, es_shares, metrics_table, sweep
from ui.spec import METHOD_LABELS, allocation_spec, describe
from ui.text import plain

SCALE = {"band": 50.0, "relative_band": 200.0, "risk_band": 50.0, "volatility_band": 100.0}
SESSION = {"persist_state": "session"}

st.title("Rebalancing simulator")
data = current_dataset()
prices = data.history  # up to the as-of date; the run starts at the window start
st.caption(plain(history_note(data.prices)) + " Decisions at each close use only prices known "
           "then; trades execute at that close and pay costs out of the portfolio, and never "
           "at a price made by cleaning. " + plain(volume_note(data)))

c1, c2, c3 = st.columns(3)
# the target is the Allocation page's decision (its session-state keys, read by ui.spec);
# another method can be tried here with the Allocation page's other settings
override = c1.selectbox("Target", ["allocation", *METHOD_LABELS], key="bt_method", **SESSION,
                        format_func=lambda m: "The Allocation page's decision" if
                        m == "allocation" else METHOD_LABELS[m])
stables = [a for a in prices.columns if is_stablecoin(a)]
if stables:
    c1.radio(plain(f"Stablecoins ({', '.join(stables)})"), list(STABLECOIN_POLICIES),
             format_func=STABLECOIN_POLICIES.get, key="stablecoins", **SESSION)
c1.number_input("Volatility floor (annualized %)", 0.0, 50.0, step=1.0,
                key="volatility_floor_pct", **SESSION)
chosen = c2.multiselect("Rebalance when (any of)", list(TRIGGERS), default=["band"],
                        format_func=TRIGGERS.get, key="bt_triggers", **SESSION)
triggers = []
for trigger in chosen:
    if trigger == "frequency":
        freq = c2.selectbox("Calendar", list(FREQUENCIES), index=2, format_func=FREQUENCIES.get,
                            key="bt_frequency", **SESSION)
        triggers.append(("frequency", freq))
    elif trigger == "band":
        triggers.append(("band", band_slider(c2, TRIGGERS["band"])))
    else:
        value = c2.slider(TRIGGERS[trigger], 0.0, SCALE[trigger], 5.0, 0.5,
                          key=f"bt_{trigger}", **SESSION)
        triggers.append((trigger, value / 100))
trading_inputs([c2, c3, c3, c3, c3])
initial = c3.number_input("Initial value (USD)", 100.0, 1e9, 100_000.0, step=1000.0,
                          key="bt_initial", **SESSION)

start = data.window.start
if window_is_default():  # not from 2013 with the two coins that existed then
    with shown_errors():
        start, start_note = universe_start(prices, int(st.session_state["lookback"]))
    st.caption(start_note)
with shown_errors():
    spec = allocation_spec(list(prices.columns), start=start,
                           triggers=tuple(triggers),
                           mode=st.session_state["rebalance_mode"], costs=cost_model(),
                           method=None if override == "allocation" else override)
st.caption(f"Target: {describe(spec)}; re-made at each rebalance with the data known then. "
           "Estimator, lookback, budgets, bounds, groups and the volatility target are set "
           "on the Allocation page.")
perps = perpetual_inputs(list(spec.assets or prices.columns))  # issue 11: perpetuals
with shown_errors():
    runs, notes = backtests(prices, spec, initial, data.volume, data.tradable)
runs, notes = with_perpetuals(runs, notes, perps, prices, spec, initial, data.volume,
                              data.tradable)
main = runs["policy"]
if notes:
    with st.expander(f"Notes on this run ({len(notes)})"):
        st.markdown("\n".join(f"- {plain(n)}" for n in notes))
curves = pd.DataFrame({name: r.equity for name, r in runs.items()}).loc[main.rebalance_dates[0]:]
st.plotly_chart(charts.equity(curves, markers=main.rebalance_dates,
                              title=f"Equity ({len(main.rebalance_dates)} rebalances marked)"),
                key="chart_equity")
drawdowns = curves.apply(riskcore_drawdown)
st.plotly_chart(charts.lines(drawdowns, title="Drawdown", y_title="drawdown", coins=False),
                key="chart_drawdown")
st.subheader("Metrics")
charts.table(metrics_table(runs))
perpetual_report(main, initial)

held = main.weights.loc[curves.index[0]:]
st.plotly_chart(charts.stacked_area(held, title="Weights over time (policy)"),
                key="chart_bt_weights")
left, right = st.columns(2)
risk = main.relative_risk_contributions.loc[curves.index[0]:].dropna(how="all")
left.plotly_chart(charts.lines(risk, title="Realized relative risk contributions",
                               y_title="share of portfolio risk"), key="chart_bt_risk")
# the spec's own ES measure, else historical ES at the Allocation page's level
measure = spec.es_measure or "historical"
level = spec.es_level if spec.es_measure else st.session_state["es_level"]
with shown_errors():
    tail = es_shares(prices, held, spec.lookback, measure, level).dropna(how="all")
right.plotly_chart(charts.lines(tail, title="Realized expected-shortfall contributions",
                                y_title=f"share of {measure} ES {level:.1%}"),
                   key="chart_bt_es")
right.caption(f"Weekly: each coin's share of the {measure} expected shortfall of the weights "
              f"held, on the {spec.lookback} returns up to that date (Euler: weight × average "
              "loss on the portfolio's worst days).")
with st.expander(f"Trades ({len(main.trades):,})"):
    charts.table(main.trades, max_rows=20, value=st.column_config.NumberColumn(format="dollar"),
                 cost=st.column_config.NumberColumn(format="dollar"))
    st.download_button("Download trades (CSV)", to_csv_safe(main.trades, index=False),
                       file_name="backtest_trades.csv", mime="text/csv")
st.download_button("Download the decision (JSON)", spec.to_json(),
                   file_name="portfolio_spec.json", mime="application/json")

st.subheader("Threshold trade-off")
band_triggers = [t for t in TRIGGERS if t != "frequency"]
s1, s2, s3 = st.columns(3)
kind = s1.selectbox("Threshold to sweep", band_triggers, format_func=TRIGGERS.get,
                    key="sweep_kind", **SESSION)
top = s2.slider("Up to", 1.0, SCALE[kind], min(50.0, SCALE[kind]), 1.0, key="sweep_top")
axis = s3.radio("Cost axis", ["costs_paid", "turnover"], horizontal=True, key="sweep_axis",
                format_func={"costs_paid": "costs (USD)", "turnover": "turnover"}.get)
grid = tuple(float(x) for x in np.linspace(0.0, top / 100, 51))
request = (spec, kind, grid, initial)
if st.button("Run threshold sweep (51 thresholds)", type="primary"):
    st.session_state["sweep_request"] = request
if st.session_state.get("sweep_request") == request:
    bar = st.progress(0.0, text="Sweeping thresholds…")
    with shown_errors():
        table = sweep(prices, spec, kind, grid, initial, volume=data.volume,
                      tradable=data.tradable,
                      _progress=lambda d, n: bar.progress(d / n))
    bar.empty()
    st.plotly_chart(charts.tradeoff(table, x=axis, x_title=axis.replace("_", " "),
                                    title="Costs against risk balance, one point per threshold"),
                    key="chart_sweep")
    charts.table(table.reset_index(), max_rows=10, percent=(
        "threshold", "annualized_return", "max_drawdown", "cost_drag"))
