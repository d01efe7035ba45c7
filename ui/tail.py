"""Volatility against expected-shortfall risk contributions (Allocation, Method comparison)."""

from __future__ import annotations

import streamlit as st

from riskcore.errors import RiskcoreError
from riskcore.tail_budget import contribution_comparison
from ui import charts
from ui.compute import returns
from ui.text import plain

LEVELS = [0.9, 0.95, 0.975, 0.99]


def tail_level(key: str = "es_level") -> float:
    """Render the shared expected-shortfall confidence level (default 95%) and return it."""
    st.session_state.setdefault(key, 0.95)
    return st.select_slider("Expected-shortfall level", LEVELS, key=key,
                            format_func=lambda v: f"{v:.1%}", persist_state="session")


def contributions_side_by_side(data, est, portfolio, *, key: str) -> None:
    """Show each coin's share of volatility next to its share of expected shortfall.

    The expected shortfall is measured on the estimate's own window (the returns the
    covariance used), for the portfolio's risky weights; a coin that looks balanced on
    volatility but dominates the tail stands out.
    """
    level = tail_level()
    weights = portfolio.weights.reindex(est.matrix.columns).fillna(0.0)
    held = weights[weights > 0].index
    window = returns(data.prices).loc[est.start:est.end, list(held)].dropna()
    try:
        table = contribution_comparison(window, weights[held], est.matrix.loc[held, held],
                                        level=level)
    except RiskcoreError as exc:
        st.info(plain(f"Expected-shortfall contributions not available: {exc}"))
        return
    shares = table[["volatility", "historical_es", "cornish_fisher_es"]].rename(columns={
        "volatility": "share of volatility", "historical_es": f"share of historical ES {level:.1%}",
        "cornish_fisher_es": f"share of Cornish-Fisher ES {level:.1%}"}).dropna(axis=1, how="all")
    st.plotly_chart(charts.grouped_bars(shares, title="Risk contributions: volatility against "
                                        "expected shortfall"), key=key)
    for note in table.attrs.get("warnings", ()):
        st.caption(plain(note))
    st.caption(f"Historical ES: average loss on the {len(window)} periods' worst "
               f"{1 - level:.1%}; a coin's share is its weight times its average loss on "
               "those days (Euler, sums to 100%).")
