"""Rebalance check: current holdings against the target, the band, and the trade list."""

import pandas as pd
import streamlit as st

import riskcore
from ui import charts
from ui.compute import target_allocation
from ui.data import current_dataset
from ui.errors import shown_errors

st.title("Rebalance check")
data = current_dataset()
with shown_errors():
    _, allocation = target_allocation(data)
target = allocation.weights
last_price = data.prices.ffill().iloc[-1][target.index]
st.caption(f"Target: the Allocation page's weights. Prices: last close "
           f"{data.prices.index[-1]:%Y-%m-%d}, USD per unit.")

unit = st.radio("Holdings entered as", ["USD value", "coin units"], horizontal=True,
                key="holdings_unit", persist_state="session")
default = pd.DataFrame({"asset": target.index, "amount": 10_000.0})
edited = st.data_editor(default, hide_index=True, disabled=["asset"], key="holdings",
                        column_config={"amount": st.column_config.NumberColumn(min_value=0.0)})
amounts = edited.set_index("asset")["amount"].astype(float).fillna(0.0)
units = amounts / last_price if unit == "USD value" else amounts

left, mid, right = st.columns(3)
threshold = left.slider("Rebalance threshold (absolute drift, percentage points)", 0.0, 20.0,
                        5.0, 0.5, key="threshold_pp", persist_state="session")
fee_bps = mid.number_input("Trading fee (bps)", 0.0, 200.0, 10.0, key="fee_bps",
                           persist_state="session")
min_trade = right.number_input("Minimum trade (USD)", 0.0, 1e6, 10.0, key="min_trade_usd",
                               persist_state="session")

with shown_errors():
    costs = riskcore.CostModel.from_bps(fee_bps=fee_bps, min_trade_usd=min_trade)
    plan = riskcore.rebalance_trades(units, last_price, target, threshold=threshold / 100,
                                     costs=costs)
trades = plan.trades
breached = trades.index[trades["breach"]].tolist()
if breached:
    st.error(f"Outside the ±{threshold:.1f} pp band: {', '.join(breached)}.")
else:
    st.success(f"Every coin is within ±{threshold:.1f} pp of its target: no trade needed.")

st.plotly_chart(charts.grouped_bars(trades[["current weight", "target weight"]],
                                    title="Current vs target weights"), key="chart_drift")
st.dataframe(trades, column_config=charts.percent_table(
    trades, ["current weight", "target weight", "drift"]))
st.metric("Portfolio value (USD)", f"{plan.portfolio_value:,.0f}",
          help="Turnover and costs of the trade list below.")
st.caption(f"Turnover {plan.turnover:.1%} of the portfolio; estimated costs "
           f"{plan.total_cost:,.2f} USD.")
