"""Perpetuals in the Rebalancing simulator: per-coin instrument, funding, margin, the report.

The page calls :func:`perpetual_inputs` (an expander; returns the choice as a small hashable
tuple, or None when every coin is spot), :func:`with_perpetuals` (re-runs the policy with
:class:`riskcore.perp_sim.PerpetualSettings`, the all-spot run kept beside it for comparison)
and :func:`perpetual_report` (funding paid, margin breaches, equity minus maintenance margin).
What is modelled is set out in :mod:`riskcore.perp_sim`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import riskcore
from riskcore import book as rb
from riskcore.assets import is_stablecoin
from riskcore.perp_sim import PerpetualSettings
from ui import charts
from ui.caching import data
from ui.errors import shown_errors
from ui.layout import metric_row
from ui.text import plain

SESSION = {"persist_state": "session"}
UNITS = {"interval": "per interval (bps)", "annual": "annualized (%)"}
#: Default funding shown in the inputs: 1 bp per interval, or its 8-hourly equivalent a year.
DEFAULT_BPS, DEFAULT_ANNUAL_PCT = 1.0, 10.95


def perpetual_inputs(assets: list[str]) -> tuple | None:
    """Render the "Perpetuals and funding" expander.

    Returns
    -------
    tuple or None
        ``(choice, history)``: ``choice`` = ``(perpetual coins, rates per interval,
        interval hours, margin rates)`` as tuples, ``history`` the uploaded funding-history
        bytes (or None); None when no coin is held through a perpetual.
    """
    coins = [a for a in assets if not is_stablecoin(a)]
    with st.expander("Perpetuals and funding"):
        st.caption("Hold a coin through a linear perpetual instead of spot: the same exposure "
                   "held against margin, paying (or receiving) funding on its notional each "
                   "period, with maintenance margin checked at every close. Positive funding: "
                   "longs pay.")
        state = st.session_state
        if "bt_perp" in state:  # coins no longer simulated drop out of the choice
            state["bt_perp"] = [c for c in state["bt_perp"] if c in coins]
        perp = st.multiselect("Held through a linear perpetual", coins, key="bt_perp",
                              **SESSION)
        if not perp:
            return None
        c1, c2, c3, c4 = st.columns(4)
        unit = c1.radio("Funding rate given", list(UNITS), format_func=UNITS.get,
                        key="bt_funding_unit", **SESSION)
        hours = c2.number_input("Funding interval (hours)", 0.25, 24.0, 8.0, 0.25,
                                key="bt_funding_hours", **SESSION,
                                help="As your venue sets it (1, 4 or 8 h); nothing is assumed.")
        perp_mm = c3.number_input("Maintenance margin, perpetual (% of notional)", 0.0, 100.0,
                                  100 * rb.DEFAULT_MARGIN_RATES["linear_perpetual"], 0.1,
                                  key="bt_mm_perp", format="%.2f", **SESSION)
        spot_mm = c4.number_input("Maintenance margin, spot (% of value)", 0.0, 100.0,
                                  100 * rb.DEFAULT_MARGIN_RATES["spot"], 0.1,
                                  key="bt_mm_spot", format="%.2f", **SESSION,
                                  help="0: spot fully paid needs no margin.")
        rates = []
        for col, coin in zip(st.columns(min(len(perp), 4)) * len(perp), perp, strict=False):
            if unit == "interval":
                bps = col.number_input(plain(f"{coin} funding (bps per interval)"), -100.0,
                                       100.0, DEFAULT_BPS, 0.5, key=f"bt_fund_bps_{coin}",
                                       **SESSION)
                rates.append((coin, bps / 10_000))
            else:
                pct = col.number_input(plain(f"{coin} funding (annualized %)"), -500.0, 500.0,
                                       DEFAULT_ANNUAL_PCT, 1.0, key=f"bt_fund_pct_{coin}",
                                       **SESSION)
                with shown_errors("Funding: "):
                    rates.append((coin, rb.funding_rate_per_interval(pct / 100, hours)))
        upload = st.file_uploader("…or a funding-rate history (CSV: date, rate per interval, "
                                  "underlying); the rates above apply outside its dates",
                                  type=["csv"], key="bt_funding_file")
        history = None if upload is None else upload.getvalue()
        choice = (tuple(perp), tuple(rates), float(hours),
                  (("linear_perpetual", perp_mm / 100), ("spot", spot_mm / 100)))
        with shown_errors("Perpetuals: "):
            settings(choice, history)
            if history is not None:
                found = rb.read_funding_history(history)
                st.caption(plain(f"History: {found.observations} funding events, "
                                 f"{found.start:%Y-%m-%d} → {found.end:%Y-%m-%d}, every "
                                 f"{found.interval_hours:g} h, coins: "
                                 f"{', '.join(found.history)}."))
    return choice, history


def settings(choice: tuple, history: bytes | None) -> PerpetualSettings:
    """Build the riskcore settings from the inputs' choice (raises RiskcoreError if bad)."""
    perp, rates, hours, margin = choice
    events = {} if history is None else dict(rb.read_funding_history(history).history)
    return PerpetualSettings(dict.fromkeys(perp, "perpetual"), funding_rate=dict(rates),
                             interval_hours=hours, funding_history=events,
                             margin_rates=dict(margin))


@data(show_spinner="Simulating with perpetuals…", max_entries=8)
def _run(prices: pd.DataFrame, spec: riskcore.PortfolioSpec, initial_value: float,
         volume: pd.DataFrame | None, tradable: pd.DataFrame | None, choice: tuple,
         history: bytes | None):
    return riskcore.run_backtest(prices, spec, initial_value=initial_value, volume=volume,
                                 tradable=tradable, perpetuals=settings(choice, history))


def with_perpetuals(runs: dict, notes: tuple, inputs: tuple | None, prices: pd.DataFrame,
                    spec: riskcore.PortfolioSpec, initial_value: float,
                    volume: pd.DataFrame | None, tradable: pd.DataFrame | None
                    ) -> tuple[dict, tuple]:
    """Replace the policy run by its run with perpetuals; keep the all-spot run beside it."""
    if inputs is None:
        return runs, notes
    with shown_errors("Perpetuals: "):
        perp = _run(prices, spec, initial_value, volume, tradable, *inputs)
    spot = runs["policy"]
    others = {k: v for k, v in runs.items() if k != "policy"}
    kept = tuple(n for n in notes if n not in spot.notes)
    return {"policy": perp, "policy, all spot": spot, **others}, perp.notes + kept


def margin_figure(excess: pd.Series, breaches: pd.DatetimeIndex) -> go.Figure:
    """Equity minus maintenance margin (USD) with the breach dates marked."""
    fig = charts.lines(excess.to_frame("equity − maintenance margin"),
                       title="Equity minus maintenance margin (below zero: liquidation)",
                       y_title="USD", percent=False, coins=False)
    fig.add_hline(y=0.0, line={"color": "#B00020", "width": 1, "dash": "dot"})
    fig.add_trace(charts.marker_trace(
        excess.reindex(breaches), name=f"breach ({len(breaches)})", symbol="x",
        color="#B00020", hover="breach %{x|%Y-%m-%d}: %{y:,.0f} USD<extra></extra>"))
    return fig


def perpetual_report(main, initial_value: float) -> None:
    """Funding paid, margin breaches and the margin chart of a run with perpetuals."""
    if main.margin_excess is None:
        return
    start = main.rebalance_dates[0]
    excess = main.margin_excess.loc[start:]
    paid = float(main.funding.sum())
    breaches = main.margin_breaches
    st.subheader("Perpetuals: funding and margin")
    metric_row([
        ("Funding paid (USD)", f"{paid:,.2f}", "Negative: received. Already in the equity."),
        ("Funding / initial value", f"{paid / initial_value:.2%}"),
        ("Margin breaches", f"{len(breaches):,}",
         "Closes where equity fell below maintenance margin (before or after that close's "
         "trades); a venue would have liquidated the perpetuals. The simulation does not."),
        ("Lowest margin excess (USD)", f"{excess.min():,.0f}"),
    ])
    st.plotly_chart(margin_figure(excess, breaches), key="chart_bt_margin")
    if len(breaches):
        st.warning(plain(f"The book would have fallen below maintenance margin on "
                         f"{len(breaches)} date(s): "
                         + ", ".join(f"{d:%Y-%m-%d}" for d in breaches[:10])
                         + (" …" if len(breaches) > 10 else "") + "."))
