"""Data: what was loaded, from where, and how complete it is."""

import streamlit as st

from ui import charts
from ui.data import DEMO, current_dataset, history_note

st.title("Data")
data = current_dataset()
prices = data.prices

if st.session_state.get("source", DEMO) == DEMO:
    st.warning("**Simulated data.** " + " ".join(data.notes), icon=":material/science:")
else:
    for note in data.notes:
        st.info(note)

st.markdown(f"**Source:** {data.source}, {prices.index[0]:%Y-%m-%d} → "
            f"{prices.index[-1]:%Y-%m-%d}")
c1, c2, c3 = st.columns(3)
c1.metric("Assets", prices.shape[1])
c2.metric("Periods", f"{len(prices):,}")
c3.metric("Periods per year", data.periods_per_year)
st.caption(history_note(prices))

st.plotly_chart(charts.availability(prices), key="chart_availability")
growth = prices / prices.apply(lambda s: s.dropna().iloc[0])
st.plotly_chart(charts.lines(growth, title="Growth of 1 USD from each asset's first price",
                             y_title="value (log scale)", percent=False, log=True),
                key="chart_growth")
with st.expander("Price table (last 20 periods, USD per unit)"):
    st.dataframe(prices.tail(20))
