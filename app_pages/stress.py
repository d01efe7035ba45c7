"""Stress: the Allocation page's portfolio under crash scenarios, shocks and past crashes."""

import pandas as pd
import streamlit as st

from riskcore import stress
from riskcore.errors import RiskcoreError
from riskcore.estimators import to_returns
from riskcore.export import to_csv_safe
from riskcore.tail import constant_mix_returns, tail_risk_table
from riskcore.var_backtest import var_backtest_table
from ui import charts
from ui.caching import data
from ui.data import DEMO, current_dataset
from ui.errors import shown_errors
from ui.positions import book_stress
from ui.spec import target_allocation
from ui.text import plain

SESSION = {"persist_state": "session"}


@data(show_spinner=False, max_entries=8)
def _var_backtest(returns: pd.Series, level: float, window: int) -> pd.DataFrame:
    """One rolling re-estimate per forecast date: seconds, and independent of the scenarios."""
    return var_backtest_table(returns, level=level, window=window)


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
    table = stress.stress_test(weights, portfolio.covariance, scenarios,
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

st.subheader("Tail risk without the normal assumption")
t1, t2 = st.columns(2)
level = t1.select_slider("Confidence level", [0.9, 0.95, 0.975, 0.99], 0.95, key="st_level",
                         format_func=lambda v: f"{v:.1%}", **SESSION)
bt_window = t2.slider("VaR backtest: estimation window (periods)", 90, 730, 365, 5,
                      key="st_var_window", **SESSION)
with shown_errors():
    returns_now = constant_mix_returns(to_returns(data.history), weights)
    tails = tail_risk_table(returns_now.loc[data.window.start:], levels=(level,))
charts.table(tails.set_index("method"), percent=("value_at_risk", "expected_shortfall"))
st.caption("Historical: the window's own returns of today's weights. Filtered historical: "
           "the same returns rescaled to today's EWMA volatility (Barone-Adesi et al. 1999). "
           "Cornish-Fisher: normal quantile corrected for skewness and excess kurtosis. "
           "One-period losses, decimals of portfolio value.")
first = max(0, int(returns_now.index.searchsorted(data.window.start)) - bt_window)
try:  # forecasts from the window start, each estimated on the bt_window periods before it
    backtest = _var_backtest(returns_now.iloc[first:], level, bt_window)
except RiskcoreError as exc:
    st.info(plain(f"VaR backtest not available: {exc}"))
else:
    st.markdown(f"**VaR backtest** ({level:.1%}): one-step-ahead forecasts on a rolling "
                f"{bt_window}-period window, forecasts inside the analysis window; a small p-value "
                "means the data reject that model.")
    charts.table(backtest, percent=("rate",))
    st.caption("Kupiec (1995): are there as many exceedances as the level says? "
               "Christoffersen (1998): do exceedances cluster? Conditional coverage: both.")

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

# issue 11: the Positions page's book under the same scenarios, instant crash and past crashes
book_stress(data, estimate, scenarios, (btc / 100, other / 100, stable / 100))
