"""Volatility: rolling realized and EWMA volatility per coin, annualized."""

import streamlit as st

from ui import charts
from ui.compute import volatility_views
from ui.data import current_dataset, history_note
from ui.errors import shown_errors
from ui.text import plain

st.title("Volatility")
data = current_dataset(min_assets=1)
ppy = data.periods_per_year
calendar = "24/7 market" if ppy == 365 else "inferred from the data calendar"
st.caption(f"Annualized with {ppy} periods a year ({calendar}). "
           + plain(history_note(data.prices)))

left, middle, right = st.columns([2, 2, 1])
window = left.slider("Rolling window (periods)", 7, 365, 30, key="vol_window",
                     persist_state="session")
half_life = middle.slider("EWMA half-life (periods)", 2, 180, 20, key="vol_half_life",
                          persist_state="session")
scale = right.radio("Y axis", ["clip", "log", "full"], key="vol_scale", persist_state="session",
                    format_func={"clip": "clip spikes", "log": "log scale",
                                 "full": "full range"}.get,
                    help="One coin's spike (SHIB at 12,000% in 2021) can flatten every other "
                         "line: clip the axis at the 99th percentile or use a log scale.")
axis = {"clip_quantile": 0.99 if scale == "clip" else None, "log": scale == "log"}

with shown_errors():  # estimated on the history, shown inside the analysis window
    rolling, ewma, current = volatility_views(data.history, data.window.start, window,
                                              half_life, ppy)

st.plotly_chart(charts.lines(rolling, title=f"Rolling {window}-period volatility (annualized)",
                             y_title="volatility", **axis), key="chart_rolling_vol")
st.plotly_chart(charts.lines(ewma, title=f"EWMA volatility, half-life {half_life} (annualized)",
                             y_title="volatility", **axis), key="chart_ewma_vol")

st.subheader(f"Values at the as-of date {data.window.as_of:%Y-%m-%d}")
charts.table(current, percent=tuple(current.columns[1:]))
