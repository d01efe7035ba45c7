"""Data: what was loaded, from where, what is wrong with it, and what cleaning changed."""

import streamlit as st

from riskcore.quality import observation_counts, quality_report
from ui import charts
from ui.coins import coin_names_editor
from ui.data import (
    DEMO,
    QUALITY_DEFAULTS,
    current_dataset,
    history_note,
    quality_policy,
    source_data,
)
from ui.text import plain

ACTIONS = {"missing": ["keep", "ffill"], "nonpositive": ["keep", "drop", "ffill"],
           "stale": ["keep", "drop"], "extreme": ["keep", "drop", "ffill"],
           "depeg": ["keep", "drop", "ffill"]}
LABELS = {"missing": "Missing periods", "nonpositive": "Zero / negative prices",
          "stale": "Stale runs", "extreme": "Extreme returns", "depeg": "Stablecoin de-pegs"}
for key, value in QUALITY_DEFAULTS.items():
    st.session_state.setdefault(key, value)

st.title("Data")
data = current_dataset(min_assets=1)
source = source_data()
prices = data.prices

if st.session_state.get("source", DEMO) == DEMO:
    st.warning("**Simulated data.** " + " ".join(data.notes), icon=":material/science:")
else:
    for note in data.notes:
        st.info(plain(note))
st.markdown("**Source:** " + plain(data.source) + f", {prices.index[0]:%Y-%m-%d} → "
            f"{prices.index[-1]:%Y-%m-%d}")
c1, c2, c3 = st.columns(3)
c1.metric("Assets", prices.shape[1])
c2.metric("Periods", f"{len(prices):,}")
c3.metric("Periods per year", data.periods_per_year)
st.caption(plain(history_note(prices)))

if source.load is not None:
    st.subheader("Files")
    charts.table(source.load.files)
    coin_names_editor(source.load)
    if not source.load.conflicts.empty:
        st.warning(f"{len(source.load.conflicts)} overlapping timestamps disagree between files; "
                   "the file listed first is kept. Details below.")
        charts.table(source.load.conflicts, max_rows=10)
if source.fetch is not None:
    st.subheader("Yahoo Finance fetch")
    charts.table(source.fetch.status)

st.subheader("Quality report")
raw = source.prices[prices.columns]
t1, t2, t3, t4 = st.columns(4)
t1.number_input("Stale run: unchanged for N periods", 2, 365, key="q_stale_periods",
                persist_state="session")
t2.number_input("Extreme return threshold (%)", 5.0, 1000.0, step=5.0,
                key="q_extreme_return_pct", persist_state="session")
t3.number_input("De-peg tolerance (% from 1 USD)", 0.1, 50.0, step=0.5,
                key="q_depeg_tolerance_pct", persist_state="session")
t4.number_input("Forward-fill at most N periods", 1, 60, key="q_ffill_limit",
                persist_state="session")
load = source.load
policy = quality_policy()
report = quality_report(
    raw, stale_periods=policy.stale_periods, extreme_return=policy.extreme_return,
    depeg_tolerance=policy.depeg_tolerance,
    duplicates=None if load is None else load.duplicates,
    bad_values=None if load is None else load.bad_values)
always = ["first", "last", "rows", "largest_abs_return"]
found = [c for c in report.columns if c not in always and c != "stablecoin"
         and (report[c].notna() & (report[c] != 0)).any()]
clean_checks = [c for c in report.columns if c not in always + found + ["stablecoin"]]
charts.table(report[always + found], percent=("largest_abs_return", "largest_depeg"))
if clean_checks:
    st.caption("No finding in any asset: " + ", ".join(c.replace("_", " ") for c in clean_checks)
               + ".")

st.markdown("**What to do with each issue** (applies to every page)")
cols = st.columns(len(ACTIONS))
for col, (issue, options) in zip(cols, ACTIONS.items(), strict=True):
    col.selectbox(LABELS[issue], options, key=f"q_{issue}", persist_state="session")
if data.actions is not None and not data.actions.empty:
    st.info(f"Cleaning changed {int(data.actions['periods'].sum()):,} prices in "
            f"{len(data.actions):,} runs; every change is listed here.")
    charts.table(data.actions, max_rows=10)
else:
    st.caption("Cleaning changed nothing: the panel is used as loaded.")

st.markdown("**Aligning assets with different listing dates**")
common = observation_counts(prices, how="common")
pairwise = observation_counts(prices, how="pairwise")
a1, a2 = st.columns(2)
a1.metric("Common window (all assets priced)", f"{int(common.iloc[0]):,} periods")
a2.metric("Pairwise overlap (smallest pair)", f"{int(pairwise.min().min()):,} periods")
st.radio("Covariance estimation uses", ["common", "pairwise"], horizontal=True,
         format_func={"common": "the common window",
                      "pairwise": "each pair's own overlap (sample estimator; repaired to a "
                                  "valid correlation matrix)"}.get,
         key="alignment", persist_state="session")

st.plotly_chart(charts.availability(prices), key="chart_availability")
growth = prices / prices.apply(lambda s: s.dropna().iloc[0])
st.plotly_chart(charts.lines(growth, title="Growth of 1 USD from each asset's first price",
                             y_title="value (log scale)", percent=False, log=True),
                key="chart_growth")
with st.expander("Price table (last 20 periods, USD per unit)"):
    charts.table(prices.tail(20))
