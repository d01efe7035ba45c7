"""VaR backtest: rolling forecasts, Kupiec and Christoffersen tests (riskcore.var_backtest)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

from riskcore.errors import DataError, RiskcoreError
from riskcore.estimators import to_returns
from riskcore.ingest import read_prices
from riskcore.tail import TAIL_METHODS, var_es
from riskcore.var_backtest import (
    christoffersen_test,
    kupiec_test,
    rolling_var,
    var_backtest,
    var_backtest_table,
)

# Published worked example: MathWorks Risk Management Toolbox documentation, "pof",
# "cci" and "cc" (https://www.mathworks.com/help/risk/varbacktest.pof.html,
# https://www.mathworks.com/help/risk/varbacktest.cci.html,
# https://mathworks.com/help/risk/varbacktest.cc.html), example "load VaRBacktestData;
# vbt = varbacktest(EquityIndex, Normal95)": 1043 observations, 57 failures of a 95% VaR,
# transitions N00 = 932, N10 = 53, N01 = 53, N11 = 4; printed results LRatioPOF 0.46147
# (PValuePOF 0.49694), LRatioCCI 0.25866 (PValueCCI 0.61104), LRatioCC 0.72013
# (PValueCC 0.69763).
MATHWORKS = dict(n=1043, x=57, level=0.95, counts=[[932, 53], [53, 4]],
                 pof=(0.46147, 0.49694), cci=(0.25866, 0.61104), cc=(0.72013, 0.69763))


def hits_with_transitions():
    """A hit sequence with MathWorks' counts: 53 runs of hits after a calm day, 4 of them
    two days long (n01 = 53, n11 = 4, n10 = 53), calm elsewhere (n00 = 932)."""
    hits = np.zeros(MATHWORKS["n"], dtype=int)
    pos = 5
    for run in range(53):
        length = 2 if run < 4 else 1
        hits[pos : pos + length] = 1
        pos += length + 10
    return hits


def test_kupiec_and_christoffersen_match_the_mathworks_worked_example():
    m = MATHWORKS
    pof = kupiec_test(m["x"], m["n"], level=m["level"])
    assert (round(pof.statistic, 5), round(pof.p_value, 5)) == m["pof"]
    hits = hits_with_transitions()
    assert hits.sum() == m["x"]
    cci, counts = christoffersen_test(hits)
    assert counts.tolist() == m["counts"]
    assert (round(cci.statistic, 5), round(cci.p_value, 5)) == m["cci"]
    cc = chi2.sf(pof.statistic + cci.statistic, 2)
    assert (round(pof.statistic + cci.statistic, 5), round(cc, 5)) == m["cc"]


def test_kupiec_decisions_of_the_mathworks_pof_example():
    """MathWorks, risk.validation.proportionOfFailuresTest
    (https://www.mathworks.com/help/risk/risk.validation.proportionoffailurestest.html):
    3 events in 250 trials reject a 5% probability and do not reject 1% at the 95% level."""
    assert kupiec_test(3, 250, level=0.95).p_value < 0.05
    assert kupiec_test(3, 250, level=0.99).p_value > 0.05


def test_kupiec_zero_exceedances_in_252_days_at_99_percent():
    # by hand: with x = 0 the likelihood ratio is -2 n ln(1 - p) = -2 * 252 * ln(0.99)
    # = 5.0654 > 3.841 (chi-square(1) at 5%): zero exceedances reject a 99% VaR
    out = kupiec_test(0, 252, level=0.99)
    assert out.statistic == pytest.approx(-2 * 252 * math.log(0.99), rel=1e-12)
    assert out.statistic == pytest.approx(5.0654, abs=1e-4)
    assert out.p_value < 0.05


def test_kupiec_by_hand():
    # 8 exceedances of a 99% VaR in 250 days
    x, n, p = 8, 250, 0.01
    lr = -2 * ((n - x) * math.log(1 - p) + x * math.log(p)
               - (n - x) * math.log(1 - x / n) - x * math.log(x / n))
    out = kupiec_test(x, n, level=0.99)
    assert out.statistic == pytest.approx(lr, rel=1e-12)
    # by hand: -2 [(242 ln .99 + 8 ln .01) - (242 ln .968 + 8 ln .032)]
    #        = -2 [(-2.432182 - 36.841361) - (-7.870614 - 27.536154)] = 7.73355
    assert out.statistic == pytest.approx(7.73355, abs=1e-5)
    assert out.p_value == pytest.approx(chi2.sf(lr, 1), rel=1e-12)
    assert out.degrees_of_freedom == 1
    # exactly the expected number of exceedances: LR = 0, p-value 1
    assert kupiec_test(5, 100, level=0.95).statistic == pytest.approx(0.0, abs=1e-12)


def test_christoffersen_by_hand():
    hits = [0, 0, 0, 1, 1, 1, 0, 0, 0, 0]  # clustered: n00=5, n01=1, n10=1, n11=2
    out, counts = christoffersen_test(hits)
    assert counts.tolist() == [[5, 1], [1, 2]]
    pi, pi01, pi11 = 3 / 9, 1 / 6, 2 / 3
    lr = -2 * (6 * math.log(1 - pi) + 3 * math.log(pi)
               - 5 * math.log(1 - pi01) - math.log(pi01)
               - math.log(1 - pi11) - 2 * math.log(pi11))
    assert out.statistic == pytest.approx(lr, rel=1e-12)
    # by hand: -2 [(6 ln 2/3 + 3 ln 1/3) - (5 ln 5/6 + ln 1/6 + ln 1/3 + 2 ln 2/3)]
    #        = -2 [-5.728627 + 4.612909] = 2.231436 (p-value 0.135)
    assert out.statistic == pytest.approx(2.231436, abs=1e-6)
    assert out.p_value == pytest.approx(chi2.sf(lr, 1), rel=1e-12)


def test_christoffersen_is_zero_when_hit_probability_does_not_depend_on_yesterday():
    hits = np.array([0, 0, 1, 1, 0, 0, 0, 1, 0, 0])  # pi01 = pi11 = pi = 1/3
    out, counts = christoffersen_test(hits)
    assert counts.tolist() == [[4, 2], [2, 1]]
    assert out.statistic == pytest.approx(0.0, abs=1e-12) and out.p_value == pytest.approx(1.0)


def test_christoffersen_without_hits_is_undefined():
    out, _ = christoffersen_test(np.zeros(50, dtype=bool))
    assert math.isnan(out.statistic) and math.isnan(out.p_value)


def test_rolling_forecast_uses_only_the_window_before():
    rng = np.random.default_rng(42)
    r = pd.Series(0.02 * rng.standard_t(5, 300),
                  index=pd.date_range("2024-01-01", periods=300, tz="UTC"))
    for method in TAIL_METHODS:
        table = rolling_var(r, method=method, window=100)
        assert len(table) == 200 and table.index[0] == r.index[100]
        assert table["value_at_risk"].iloc[0] == var_es(r.iloc[:100], method=method)[0]
        assert table["value_at_risk"].iloc[57] == var_es(r.iloc[57:157], method=method)[0]
        # changing the future does not change earlier forecasts (no look-ahead)
        shocked = r.copy()
        shocked.iloc[250] = -0.5
        again = rolling_var(shocked, method=method, window=100)
        pd.testing.assert_series_equal(again["value_at_risk"].iloc[:151],
                                       table["value_at_risk"].iloc[:151])
        np.testing.assert_array_equal(table["exceedance"],
                                      table["return"] < -table["value_at_risk"])


def test_correct_model_is_not_rejected_and_wrong_model_is():
    rng = np.random.default_rng(42)
    normal = pd.Series(0.02 * rng.standard_normal(3000))
    bt = var_backtest(normal, method="normal", level=0.99, window=500)
    assert bt.n_forecasts == 2500 and bt.expected_exceedances == pytest.approx(25)
    assert bt.exceedances == int(bt.forecasts["exceedance"].sum())
    assert bt.kupiec.p_value > 0.05 and bt.conditional_coverage.p_value > 0.05
    assert bt.conditional_coverage.statistic == pytest.approx(
        bt.kupiec.statistic + bt.independence.statistic)
    # volatility clusters (a calm and a stormy regime alternating every 250 days): a 500-day
    # normal VaR misses the storms in clusters
    vol = np.where((np.arange(3000) // 250) % 2 == 0, 0.01, 0.05)
    clustered = pd.Series(vol * rng.standard_normal(3000))
    bad = var_backtest(clustered, method="normal", level=0.99, window=500)
    good = var_backtest(clustered, method="filtered historical", level=0.99, window=500)
    assert bad.conditional_coverage.p_value < 0.01
    assert good.conditional_coverage.p_value > bad.conditional_coverage.p_value


def test_table_on_real_portfolio(yahoo_daily_files):
    prices = pd.concat([read_prices(f) for f in yahoo_daily_files if f.name[:3] in
                        ("BTC", "ETH", "SOL")], axis=1, sort=True)
    r = to_returns(prices).loc["2020-09-23":"2025-02-11"].mean(axis=1)
    table = var_backtest_table(r, level=0.95, window=365)
    assert list(table.index) == list(TAIL_METHODS)
    assert (table["forecasts"] == len(r) - 365).all()
    for col in ("kupiec_p", "independence_p", "conditional_coverage_p"):
        assert table[col].between(0, 1).all()
    # about 5% of days exceed a 95% VaR whatever the method on this portfolio
    assert table["rate"].between(0.03, 0.07).all()


def test_errors_name_the_problem():
    r = pd.Series(np.random.default_rng(0).normal(0, 0.02, 100))
    with pytest.raises(DataError, match="window is 10; it must be an integer >= 30"):
        rolling_var(r, window=10)
    with pytest.raises(DataError, match="100 returns leave no forecast after a window of 100"):
        rolling_var(r, window=100)
    with pytest.raises(RiskcoreError, match="tail method is 'garch'"):
        var_backtest(r, method="garch", window=50)
    with pytest.raises(RiskcoreError, match="11 exceedances in 10 observations"):
        kupiec_test(11, 10)
    with pytest.raises(DataError, match="hits must be 0/1"):
        christoffersen_test([0, 2, 1])
    with pytest.raises(DataError, match="at least 2 values"):
        christoffersen_test([1])
