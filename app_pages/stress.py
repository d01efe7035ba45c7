"""Stress: the Allocation page's portfolio under crash scenarios, shocks and past crashes."""

import pandas as pd
import streamlit as st

from riskcore import stress
from riskcore.export import to_csv_safe
from ui import charts
from ui.compute import target_allocation
from ui.data import DEMO, current_dataset
from ui.errors import shown_errors
from ui.text import plain

SESSION = {"persist_state": "session"}
st.title("Stress")
data = current_dataset()
with shown_errors():
    estimate, portfolio = target_allocation(data)
weights = portfolio.weights[portfolio.weights.abs() > 0]
st.caption("Portfolio: the Allocation page's weights "
           + plain(", ".join(f"{a} {w:.0%}" for a, w in weights.nlargest(6).items()))
           + (" …" if len(weights) > 6 else "") + ".")

st.subheader("Crash scenarios on the covariance")
c1, c2, c3 = st.columns(3)
multiplier = c1.slider("Volatility multiplier", 1.0, 5.0, 2.0, 0.1, key="st_mult", **SESSION)
correlation = c2.slider("Crash correlation", 0.0, 1.0, 0.9, 0.05, key="st_corr", **SESSION)
depeg = c3.slider("Stablecoin volatility in a de-peg (annualized %)", 0.0, 200.0, 50.0, 5.0,
                  key="st_depeg", **SESSION)
scenarios = {**stress.STRESS_SCENARIOS, "your scenario": {
    "volatility_multiplier": multiplier, "correlation": correlation,
    "stablecoin_volatility": depeg / 100 or None}}
with shown_errors():
    risky = weights.index.drop("cash", errors="ignore")  # riskless cash has no covariance
    table = stress.stress_test(weights, portfolio.covariance.loc[risky, risky], scenarios,
                               periods_per_year=data.periods_per_year)
table = table.rename(columns={"value_at_risk": "normal VaR 99%",
                              "expected_shortfall": "normal expected shortfall 99%"})
risk = table[["normal VaR 99%", "normal expected shortfall 99%"]]
st.plotly_chart(charts.grouped_bars(risk, title="One-period loss at 99% under each scenario "
                                    "(normal assumption)", coins=False), key="chart_stress")
charts.table(table, percent=("volatility", "period_volatility", "normal VaR 99%",
                             "normal expected shortfall 99%",
                             "largest_relative_risk_contribution"))
st.caption("Scenarios are illustrative assumptions, not forecasts. VaR = z·σ, ES = σ·φ(z)/(1−p) "
           "for zero-mean normal returns; crypto tails are fatter, so read them as lower bounds.")

st.subheader("Instant crash")
s1, s2, s3 = st.columns(3)
btc = s1.slider("Bitcoin move (%)", -90.0, 0.0, -30.0, 1.0, key="st_btc", **SESSION)
other = s2.slider("Other coins (%)", -95.0, 0.0, -40.0, 1.0, key="st_other", **SESSION)
stable = s3.slider("Stablecoins (%)", -50.0, 0.0, -5.0, 0.5, key="st_stable", **SESSION)
with shown_errors():
    shocks = stress.crypto_crash_shock(weights.index, btc=btc / 100, other=other / 100,
                                       stablecoin=stable / 100)
    loss = stress.instant_shock(weights, shocks)
st.metric("Portfolio return in this crash", f"{loss:.1%}")

st.subheader("Past crashes in the loaded data")
if st.session_state.get("source", DEMO) == DEMO:
    st.warning("The demo market is simulated: the dated crash windows below did not happen in "
               "it. Load real prices to replay them.", icon=":material/science:")
with shown_errors():
    history = stress.historical_scenarios(data.history, weights)
missing = [name for name in stress.CRASH_WINDOWS if name not in history.index]
if missing:
    st.caption("Not covered by the prices up to the as-of date: " + ", ".join(missing) + ".")
if not history.empty:
    charts.table(history, percent=("portfolio_return", "covered_weight",
                                   *[c for c in history.columns if c in weights.index]))
horizon = st.slider("Window length for the worst periods (periods)", 1, 90, 7,
                    key="st_horizon", **SESSION)
with shown_errors():
    worst = stress.worst_periods(data.prices, weights, horizon=horizon, count=5)
charts.table(worst, percent=("portfolio_return", "worst_asset_return", "best_asset_return",
                             *[c for c in worst.columns if c in weights.index]))
st.download_button("Download the stress report (CSV)",
                   to_csv_safe(pd.concat({"scenarios": table.astype(str),
                                          "worst periods": worst.astype(str)}, names=["section"])),
                   file_name="stress_report.csv",
                   mime="text/csv")
