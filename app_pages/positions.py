"""Positions: a cross-margined book of spot, perpetuals, futures and options inside the budget."""

import pandas as pd
import streamlit as st

from riskcore import book as rb
from riskcore.assets import base_symbol
from ui import charts
from ui import positions as ui
from ui.compute import budgets, inside_budget
from ui.data import current_dataset
from ui.errors import shown_errors
from ui.layout import metric_row
from ui.spec import target_allocation
from ui.text import plain

st.title("Positions")
data = current_dataset()
with shown_errors():
    est, _ = target_allocation(data)
book, left_out = rb.estimable_positions(ui.book_editor(), est.matrix.columns)
if left_out:
    st.info(plain(left_out))
if not book.positions:
    st.warning("No position of the book has a coin estimated in the analysis window.")
    st.stop()
settings = st.columns(4)
rate = settings[0].number_input("Riskless rate (annualized %)", -5.0, 30.0, 0.0, 0.25,
                                key="pos_rate") / 100
with st.expander("Maintenance margin rates (% of notional per instrument)"):
    rates = ui.margin_rates()
market = rb.market_from_prices(data.prices, rate=rate)
held = {p.underlying for p in book.positions}
inside = inside_budget(list(est.matrix.columns))
scope = settings[1].radio("Risk budget over", ["the book's coins", "every coin in the budget"],
                          key="pos_scope", help="Budgets are set on the Allocation page; "
                          "the book's coins share theirs in proportion.")
if scope == "the book's coins":
    inside = [a for a in inside if base_symbol(a) in held] or inside
with shown_errors():
    budget = budgets(inside)
    risk = rb.book_risk(book, market, est.matrix, budget=budget, margin_rates=rates)
    grid, distance = ui.stress(book, market, tuple(rates.items()))
st.caption(f"Valued at {market.as_of:%Y-%m-%d} prices; covariance: the dashboard's estimator "
           f"({est.method}, {est.start:%Y-%m-%d} → {est.end:%Y-%m-%d}, annualized). Risk "
           "contributions are shares of equity's volatility; they sum to the book's volatility.")
nearest = distance.loc["market-wide", "nearest"]
metric_row([
    ("Equity", f"${risk.equity:,.0f}", "Spot, cash, collateral and option values"),
    ("Volatility (annualized)", f"{risk.volatility:.1%}", f"√(xᵀΣx) = ${risk.volatility_usd:,.0f}"),
    ("Gross leverage", f"{risk.gross_leverage:.2f}×", "Σ |cash delta| of every leg / equity"),
    ("Net leverage", f"{risk.net_leverage:.2f}×", "Σ cash delta / equity"),
    ("Maintenance margin", f"${risk.maintenance_margin:,.0f}"),
    ("Margin excess", f"${risk.margin_excess:,.0f}", "Equity minus maintenance margin"),
    ("Liquidation move", "none" if pd.isna(nearest) else f"{nearest:+.1%}",
     "Smallest market-wide move (every coin together) that exhausts the margin"),
])

st.subheader("Exposures and risk against the budget")
assets = risk.assets[(risk.assets["cash_delta"] != 0) | risk.assets["risk_budget"].notna()]
left, right = st.columns([2, 3])
left.plotly_chart(charts.grouped_bars(
    assets[["relative_risk_contribution", "risk_budget"]].rename(
        columns={"relative_risk_contribution": "share of risk", "risk_budget": "risk budget"}),
    title="Share of the book's risk per coin vs risk budget"), key="pos_rc_chart")
with right:
    charts.table(ui.readable(assets), percent=ui.PERCENT, **ui.MONEY)
    st.caption("Cash delta: USD per 100% move; weight: cash delta / equity; vega: USD per "
               "1.00 of implied volatility (÷100 per point).")
charts.table(ui.readable(risk.positions), percent=ui.PERCENT, **ui.MONEY)

st.subheader("Stress: every coin × implied volatility")
h1, h2 = st.columns(2)
h1.plotly_chart(ui.stress_heatmap(grid.pnl, title="Book P&L (USD)"), key="pos_pnl")
h2.plotly_chart(ui.stress_heatmap(grid.margin_excess, title="Margin excess after the move (USD)"),
                key="pos_margin")
g1, g2 = st.columns(2)
gap = rb.delta_approximation(book, market, grid.pnl.columns)
g1.plotly_chart(ui.delta_gap_figure(gap), key="pos_gap")
with g2:
    st.markdown("**Distance to liquidation** (spot move exhausting the margin)")
    charts.table(distance, percent=("down", "up", "nearest"))
    st.caption("Per coin: only that coin moves; market-wide: every coin together. None: no "
               "liquidation between −99% and +1000%.")

st.subheader("Funding carry of perpetuals")
carry = ui.funding(book, market)
if carry.empty:
    st.caption("No perpetual in the book.")
else:
    charts.table(carry.to_frame("USD a year (+ received)"),
                 **{"USD a year (+ received)": ui.USD})

st.subheader("Reach the budget")
t1, t2, t3 = st.columns(3)
cap = t1.number_input("Leverage cap (gross, ×)", 0.1, 20.0, 2.0, 0.1, key="pos_cap")
aim = t2.number_input("Target volatility (annualized %)", 1.0, 300.0,
                      min(max(round(100 * risk.volatility, 1), 1.0), 300.0), 1.0,
                      key="pos_target") / 100
perp = t3.multiselect("Trade through the perpetual", inside,
                      key=f"pos_perp_{st.session_state.get('book_version', 0)}",
                      default=[a for a in inside if base_symbol(a) in
                               {p.underlying for p in book.positions
                                if p.instrument == "linear_perpetual"}])
with shown_errors():
    target = rb.target_trades(book, market, est.matrix, budget, leverage_cap=cap,
                              target_volatility=aim,
                              instruments={a: "perpetual" if a in perp else "spot"
                                           for a in inside})
    after = rb.book_risk(target.book, market, est.matrix, budget=budget, margin_rates=rates)
for message in target.notes:
    ui.note(message)
trades = target.trades.rename(columns={"quantity": "coins"}).join(
    after.assets[["relative_risk_contribution", "risk_budget"]])
charts.table(ui.readable(trades), percent=ui.PERCENT, **ui.MONEY)
st.caption(f"After the trades: volatility {after.volatility:.1%}, gross leverage "
           f"{after.gross_leverage:.2f}× (cap {cap:.2f}×), margin excess "
           f"${after.margin_excess:,.0f}.")
options = [p for p in book.positions if p.instrument == "option"]
spots = {p.underlying: p.quantity for p in book.positions if p.instrument == "spot"}
matched = [{"option": p.name, "spot holding": f"{spots[p.underlying]:g} {p.underlying}",
            "long options with the same cash delta":
                rb.delta_matching_quantity(p, market, spots[p.underlying])}
           for p in options if p.underlying in spots]
if matched:
    st.markdown("**Options with the spot holding's risk** (same cash delta, hence the same "
                "volatility contribution)")
    charts.table(pd.DataFrame(matched))
