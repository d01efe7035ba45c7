"""Streamlit helpers of the Positions page: the book editor, margin inputs and its figures.

The book the user edits is an input (a small table) kept in session state under
``book_table``; everything derived from it is recomputed through :mod:`riskcore.book`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from riskcore import book as rb
from riskcore.errors import RiskcoreError
from riskcore.stress import crypto_crash_shock
from ui import charts
from ui.caching import data
from ui.charts import HEIGHT, LEGEND
from ui.errors import shown_errors
from ui.layout import metric_row
from ui.text import plain

EXAMPLE = Path(rb.__file__).resolve().parent / "data" / "example_book.csv"
LAYOUT = """**CSV layout** (one row per position; blank = unset):
`name` unique label · `instrument` one of spot, linear_perpetual, linear_future,
inverse_perpetual, inverse_future, option, cash · `underlying` coin (BTC or BTC-USD; USD or a
stablecoin for cash) · `quantity` coins (spot, linear, options), USD face (inverse), USD (cash);
negative = short · `price` mark of a perpetual/future, or the forward of an option (then
Black-76; blank = Black-Scholes on spot; blank for spot and cash) · `strike`, `expiry`
(YYYY-MM-DD), `option_type` (call/put), `implied_volatility` (decimal, 0.6 = 60%),
`settlement` (usd/coin) for options · `collateral` coins posted against an inverse contract."""
MARGIN_LABELS = {"linear_perpetual": "Linear perpetual", "linear_future": "Linear future",
                 "inverse_perpetual": "Inverse perpetual", "inverse_future": "Inverse future",
                 "option": "Short option (of spot notional)", "spot": "Spot"}
USD = st.column_config.NumberColumn(format="dollar")
#: Display names of riskcore's result columns (riskcore keeps its one-meaning field names).
LABELS = {"cash_delta": "cash delta", "risk_contribution": "risk contribution",
          "relative_risk_contribution": "share of risk", "risk_budget": "risk budget",
          "maintenance_margin": "maintenance margin", "premium_coin": "premium (coin)",
          "target_cash_delta": "target cash delta", "usd": "traded (USD)",
          "quantity": "quantity (coins or USD face)"}
PERCENT = ("weight", "risk contribution", "share of risk", "risk budget")
MONEY = {name: USD for name in ("cash delta", "value", "vega", "maintenance margin", "price",
                                "target cash delta", "traded (USD)")}


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """Rename result columns for display and show a missing covariance column as "—"."""
    shown = frame.rename(columns=LABELS)
    if "asset" in shown.columns:
        shown["asset"] = shown["asset"].fillna("— (riskless)")
    return shown


def book_editor() -> rb.Book:
    """Render upload, example download and the editable table; return the validated book."""
    state = st.session_state
    if "book_table" not in state:
        state["book_table"] = rb.book_frame(rb.read_book(EXAMPLE.read_bytes()))
    if f"book_editor_{state.get('book_version', 0)}" not in state and "book_saved" in state:
        # back from another page: the editor's edits were dropped with its widget state
        state["book_table"] = state["book_saved"]
    left, right = st.columns([3, 2])
    with right, shown_errors("Book upload: "):
        upload = st.file_uploader("Upload a book (CSV)", type=["csv"], key="book_upload",
                                  help="Replaces the table; errors name the row and field.")
        if upload is not None and state.get("book_loaded") != upload.file_id:
            # an unreadable file keeps showing its error until it is replaced or removed
            state["book_table"] = rb.book_frame(rb.read_book(upload.getvalue()))
            state["book_loaded"] = upload.file_id
            state["book_version"] = state.get("book_version", 0) + 1
        st.download_button("Download the example book (CSV)", EXAMPLE.read_bytes(),
                           file_name="example_book.csv", mime="text/csv")
    with left.expander("CSV layout"):
        st.markdown(LAYOUT)
    choice = st.column_config.SelectboxColumn
    edited = st.data_editor(
        state["book_table"], num_rows="dynamic", hide_index=True, width="stretch",
        key=f"book_editor_{state.get('book_version', 0)}",
        column_config={
            "instrument": choice(options=list(rb.INSTRUMENTS), required=True),
            "option_type": choice(options=["", "call", "put"]),
            "settlement": choice(options=["", "usd", "coin"]),
            "implied_volatility": st.column_config.NumberColumn(help="decimal: 0.6 = 60%"),
        })
    with shown_errors("Book: "):
        book = rb.read_book(edited)
    state["book_saved"] = rb.book_frame(book)  # the book other pages (Stress) read
    if not book.positions:
        st.info("The book is empty: add rows to the table or upload a CSV.")
        st.stop()
    return book


def margin_rates() -> dict[str, float]:
    """Render the maintenance-margin rate per instrument (percent); return decimals."""
    columns = st.columns(len(MARGIN_LABELS))
    return {kind: col.number_input(f"{label} (%)", 0.0, 100.0,
                                   100 * rb.DEFAULT_MARGIN_RATES[kind], step=0.1,
                                   key=f"mm_{kind}", format="%.2f",
                                   persist_state="session") / 100
            for col, (kind, label) in zip(columns, MARGIN_LABELS.items(), strict=True)}


@data(show_spinner="Repricing the book…", max_entries=16)
def stress(book: rb.Book, market: rb.Market, rates: tuple[tuple[str, float], ...]):
    """Cache the stress grid and the liquidation distances of a book."""
    return (rb.stress_grid(book, market, margin_rates=dict(rates)),
            rb.liquidation_distance(book, market, dict(rates)))


def stress_heatmap(frame: pd.DataFrame, *, title: str) -> go.Figure:
    """USD heatmap of spot move (x) × implied-volatility move (y), red below zero."""
    z = frame.to_numpy(dtype=np.float64)
    bound = float(np.nanmax(np.abs(z))) or 1.0
    x = np.array([f"{m:+.0%}" if m else "0%" for m in frame.columns])
    y = np.array([f"{v:+.0%}" if v else "0%" for v in frame.index])
    fig = go.Figure(go.Heatmap(
        z=z, x=x, y=y, zmin=-bound, zmax=bound, zmid=0, colorscale="RdYlGn",
        texttemplate="%{z:,.3s}", textfont={"size": 11},
        colorbar={"tickformat": ",.2s", "title": "USD"},
        hovertemplate="spot %{x}, implied vol %{y}: %{z:,.0f} USD<extra></extra>"))
    fig.update_layout(title=title, height=HEIGHT, margin={"t": 50},
                      xaxis={"title": "spot move (every coin)", "type": "category"},
                      yaxis={"title": "implied vol move", "type": "category"})
    return fig


def delta_gap_figure(table: pd.DataFrame) -> go.Figure:
    """Full repricing against the delta approximation (USD P&L per spot move)."""
    x = table.index.to_numpy(dtype=np.float64)
    fig = go.Figure()
    for name, dash in (("full", "solid"), ("delta", "dot"), ("gap", "dash")):
        fig.add_trace(go.Scatter(x=x, y=table[name].to_numpy(dtype=np.float64), name=name,
                                 mode="lines+markers", line={"dash": dash}))
    fig.update_layout(title="Full repricing vs delta approximation", height=HEIGHT,
                      legend=LEGEND, margin={"t": 50})
    fig.update_xaxes(tickformat="+.0%", title="spot move (every coin)")
    fig.update_yaxes(title="P&L (USD)", tickformat=",.2s")
    return fig


def funding(book: rb.Book, market: rb.Market) -> pd.Series:
    """Render the funding inputs (rate and interval, or a history file); return the carry."""
    rate_col, hours_col, file_col = st.columns(3)
    bps = rate_col.number_input("Funding rate per interval (bps)", -100.0, 100.0, 1.0, 0.5,
                                key="pos_funding", help="Positive: longs pay shorts.")
    hours = hours_col.number_input("Funding interval (hours)", 0.25, 24.0, 8.0, 0.25,
                                   key="pos_hours",
                                   help="As your venue sets it (1, 4 or 8 h); nothing is assumed.")
    history = file_col.file_uploader("…or a funding-rate history (CSV: date, rate, underlying)",
                                     type=["csv"], key="pos_funding_file")
    rate: float | dict[str, float] = bps / 10_000
    with shown_errors("Funding: "):
        if history is not None:
            found = rb.read_funding_history(history.getvalue())
            rate, hours = found.rate.to_dict(), found.interval_hours
            rate = rate.get("*", rate)
            st.caption(plain(f"History: {found.observations} rows, {found.start:%Y-%m-%d} → "
                             f"{found.end:%Y-%m-%d}, mean rate per coin, measured interval "
                             f"{hours:g} h."))
        return rb.funding_carry(book, market, rate, interval_hours=hours)


def note(text: str) -> None:
    """Show a note from riskcore (names come from the user's book) as plain text."""
    st.info(plain(text))


# ----------------------------------------------------------------------------- Stress page
def saved_book() -> rb.Book | None:
    """Return the book last entered on the Positions page (None if none or empty)."""
    table = st.session_state.get("book_saved")
    if table is None:
        return None
    try:
        book = rb.read_book(table)
    except RiskcoreError:
        return None
    return book if book.positions else None


def session_margin_rates() -> dict[str, float]:
    """Maintenance margin rates set on the Positions page (defaults where not set)."""
    state = st.session_state
    return {kind: float(state.get(f"mm_{kind}", 100 * rb.DEFAULT_MARGIN_RATES[kind])) / 100
            for kind in MARGIN_LABELS}


def book_stress(data, estimate, scenarios: dict, crash: tuple[float, float, float]) -> None:
    """Stress page section: the Positions page's book under the page's scenarios.

    ``scenarios`` are the page's covariance scenarios; ``crash`` its instant crash (Bitcoin,
    other coins, stablecoins; decimals). Shown only when the session holds a book.
    """
    book = saved_book()
    if book is None:
        return
    st.subheader("Your book (Positions page)")
    book, left_out = rb.estimable_positions(book, estimate.matrix.columns)
    if left_out:
        st.info(plain(left_out))
    if not book.positions:
        st.caption("No position of the book has a coin estimated in the analysis window.")
        return
    rate = float(st.session_state.get("pos_rate", 0.0)) / 100
    market = rb.market_from_prices(data.prices, rate=rate)
    rates = session_margin_rates()
    iv = st.slider("Implied-volatility move in a crash (relative %)", -50.0, 200.0, 50.0, 5.0,
                   key="st_book_iv", persist_state="session",
                   help="An assumption: price data carry no implied volatility. +50%: a 60% "
                   "volatility becomes 90%.") / 100
    coins = list(dict.fromkeys(p.underlying for p in book.positions if p.underlying != "USD"))
    with shown_errors("Your book: "):
        risk = rb.book_risk(book, market, estimate.matrix, margin_rates=rates)
        shock = crypto_crash_shock(coins, btc=crash[0], other=crash[1], stablecoin=crash[2])
        instant = float(rb.book_pnl(book, market, shock, iv).sum())
        after = rb.margin_excess(book, market, rates, spot_moves=shock, vol_moves=iv)
        table = rb.stress_book(book, market, estimate.matrix, scenarios,
                               periods_per_year=data.periods_per_year)
        replay = rb.replay_crashes(book, market, data.history, vol_move=iv, margin_rates=rates)
    st.caption(f"{len(book.positions)} positions valued at {market.as_of:%Y-%m-%d} prices; "
               "options fully repriced (Black-Scholes / Black-76) with the implied-volatility "
               "move below, futures and perpetuals one for one; margin rates of the Positions "
               "page.")
    metric_row([
        ("Equity", f"${risk.equity:,.0f}"),
        ("Instant crash P&L", f"${instant:,.0f}", "The instant crash above (Bitcoin, other "
         "coins, stablecoins) on every position, with the implied-volatility move"),
        ("Margin excess after it", f"${after:,.0f}", "Equity minus maintenance margin after "
         "the crash; below zero the book is liquidated"),
    ])
    st.markdown("**Covariance scenarios on the book's cash deltas** (delta view: options at "
                "their deltas; one-period normal VaR and ES at 99%, USD)")
    charts.table(table, percent=("volatility", "largest_relative_risk_contribution"),
                 volatility_usd=USD, value_at_risk=USD, expected_shortfall=USD)
    st.markdown("**Past crashes replayed on the book** (each coin's move over the window, "
                "applied today)")
    if replay.empty:
        st.caption("No crash window is covered by the prices up to the as-of date.")
        return
    shown = replay.drop(columns=["start", "end"]).rename(columns={"delta_pnl": "delta P&L",
                                                                   "pnl": "P&L"})
    charts.table(shown, percent=("return", *coins), **{"P&L": USD, "delta P&L": USD,
                                                     "margin_excess": USD})
    if replay["liquidated"].any():
        st.warning(plain("Below maintenance margin after: "
                         + ", ".join(replay.index[replay["liquidated"]]) + "."))
