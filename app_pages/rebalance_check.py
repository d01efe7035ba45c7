"""Rebalance check: current holdings against the target, the band, and the trade list."""

import pandas as pd
import streamlit as st

import riskcore
from riskcore.export import to_csv_safe
from ui import charts
from ui.compute import band_slider, cost_model, trading_inputs, volume_note
from ui.data import current_dataset
from ui.errors import shown_errors
from ui.spec import target_allocation
from ui.text import plain

st.title("Rebalance check")
data = current_dataset()
with shown_errors():
    _, portfolio = target_allocation(data)
target = portfolio.weights
if (target < 0).any():
    st.info(f"The target borrows {-portfolio.cash_weight:.0%} of the portfolio (leverage "
            f"{portfolio.leverage:.2f}×). The trade list trades spot holdings only: set the "
            "maximum leverage to 1 on the Allocation page to get one.")
    st.stop()
# riskless cash (the volatility target's sleeve) trades at 1 USD per unit
last_price = data.prices.ffill().iloc[-1].reindex(target.index).fillna({"cash": 1.0})
st.caption(f"Target: the Allocation page's weights. Prices: last close "
           f"{data.prices.index[-1]:%Y-%m-%d}, USD per unit. The band, mode and costs are "
           "shared with the Rebalancing simulator.")

unit = st.radio("Holdings entered as", ["USD value", "coin units"], horizontal=True,
                key="holdings_unit", persist_state="session")
default = pd.DataFrame({"asset": target.index, "amount": 10_000.0})
edited = st.data_editor(default, hide_index=True, disabled=["asset"], key="holdings",
                        column_config={"amount": st.column_config.NumberColumn(min_value=0.0)})
amounts = edited.set_index("asset")["amount"].astype(float).fillna(0.0)

columns = [*st.columns(3), *st.columns(3)]  # two rows: readable from 800 px wide
band = band_slider(columns[0])
trading_inputs(columns[1:])
st.caption(plain(volume_note(data)))
state = st.session_state
threshold = band * 100

with shown_errors():
    units = riskcore.units_from_values(amounts, last_price) if unit == "USD value" else amounts
    volume = None if data.volume is None else data.volume.ffill().iloc[-1]
    plan = riskcore.rebalance_trades(units, last_price, target, threshold=band,
                                     mode=state["rebalance_mode"], costs=cost_model(),
                                     volume=volume)
trades = plan.trades
breached = trades.index[trades["breach"]].tolist()
if breached:
    st.warning(f"Outside the ±{threshold:.1f} pp band: " + plain(", ".join(breached)) + ".")
else:
    st.success(f"Every coin is within ±{threshold:.1f} pp of its target: no trade needed.")

weights = trades[["weight", "target", "post_weight"]].rename(columns={
    "weight": "current weight", "target": "target weight", "post_weight": "after trades"})
st.plotly_chart(charts.grouped_bars(weights, title="Current vs target weights"),
                key="chart_drift")
m1, m2, m3 = st.columns(3)
m1.metric("Portfolio value (USD)", f"{plan.portfolio_value:,.0f}")
m2.metric("Turnover (one-way)", f"{plan.turnover:.1%}")
m3.metric("Trading costs (USD)", f"{plan.total_cost:,.2f}")
if plan.skipped:
    st.info("Below the minimum trade size, not traded: " + plain(", ".join(plan.skipped)) + ".")
shown = trades[["weight", "target", "drift", "breach", "side", "trade_units", "trade_value",
                "cost", "skipped"]]
charts.table(
    shown, percent=("weight", "target", "drift"),
    trade_units=st.column_config.NumberColumn("units to trade", format="%.6g"),
    trade_value=st.column_config.NumberColumn("USD to trade", format="dollar"),
    cost=st.column_config.NumberColumn("cost (USD)", format="dollar"),
)
st.download_button("Download trade list (CSV)", to_csv_safe(shown, index_label="asset"),
                   file_name="trade_list.csv", mime="text/csv")
