"""Volatility: rolling realized and EWMA volatility per coin, annualized."""

import pandas as pd
import streamlit as st

import riskcore
from ui import charts
from ui.compute import returns
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
    history = returns(data.history)
    start = data.window.start
    rolling = riskcore.rolling_volatility(history, window, periods_per_year=ppy).loc[start:]
    ewma = riskcore.ewma_volatility(history, half_life, periods_per_year=ppy).loc[start:]
    rets = history.loc[start:]

st.plotly_chart(charts.lines(rolling, title=f"Rolling {window}-period volatility (annualized)",
                             y_title="volatility", **axis), key="chart_rolling_vol")
st.plotly_chart(charts.lines(ewma, title=f"EWMA volatility, half-life {half_life} (annualized)",
                             y_title="volatility", **axis), key="chart_ewma_vol")

current = pd.DataFrame({
    "last date": rets.apply(pd.Series.last_valid_index).map(
        lambda t: "–" if pd.isna(t) else f"{t:%Y-%m-%d}"),
    f"rolling {window}": rolling.ffill().iloc[-1],
    f"EWMA hl {half_life}": ewma.ffill().iloc[-1],
    "whole window": rets.apply(lambda r: riskcore.annualized_volatility(
        r.dropna(), periods_per_year=ppy)),
})
st.subheader(f"Values at the as-of date {data.window.as_of:%Y-%m-%d}")
charts.table(current, percent=tuple(current.columns[1:]))
