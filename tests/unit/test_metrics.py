"""Metrics: published empyrical fixtures, defining properties, and errors.

Pinned values come from empyrical-reloaded's published test suite,
stefan-jansen/empyrical-reloaded ``tests/test_stats.py`` @ 31173cf13db00328bd5bbe70a016e62a36ba067e
(the maintained fork of quantopian/empyrical; the fixtures ``mixed_returns``, ``weekly_returns``,
``monthly_returns``, ``positive_returns``, ``negative_returns`` are copied from there). empyrical's
``DAILY``/``WEEKLY``/``MONTHLY`` periods mean 252/52/12 periods per year. Two differences in
convention, both documented in riskcore.metrics: NaN returns are dropped (empyrical's
``annual_return`` counts them as zero-return periods, so the NaN-free fixtures are used for it),
and VaR/expected shortfall are positive losses (empyrical returns the negative quantile).
"""

import numpy as np
import pandas as pd
import pytest

from riskcore.errors import DataError, RiskcoreError
from riskcore.metrics import (
    annualized_return,
    annualized_volatility,
    calmar_ratio,
    downside_risk,
    drawdown,
    equity_from_returns,
    expected_shortfall,
    max_drawdown,
    max_drawdown_info,
    portfolio_metrics,
    risk_balance_error,
    sharpe_ratio,
    sortino_ratio,
    value_at_risk,
)

MIXED = np.array([np.nan, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100
WEEKLY = np.array([0.0, 1.0, 10.0, -4.0, 2.0, 3.0, 2.0, 1.0, -10.0]) / 100  # also "monthly"
POSITIVE = np.array([1.0, 2.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) / 100
NEGATIVE = np.array([0.0, -6.0, -7.0, -1.0, -9.0, -2.0, -6.0, -8.0, -5.0]) / 100


# ---- published empyrical fixtures ---------------------------------------------------------


@pytest.mark.parametrize(
    ("returns", "ppy", "expected"),
    [(WEEKLY, 52, 0.24690830513998208), (WEEKLY, 12, 0.052242061386048144)],
)
def test_annualized_return_matches_empyrical(returns, ppy, expected):
    assert annualized_return(returns, periods_per_year=ppy) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "ppy", "expected"),
    [
        (MIXED, 252, 0.9136465399704637),
        (WEEKLY, 52, 0.38851569394870583),
        (WEEKLY, 12, 0.18663690238892558),
    ],
)
def test_annualized_volatility_matches_empyrical(returns, ppy, expected):
    got = annualized_volatility(returns, periods_per_year=ppy)
    assert got == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [(MIXED, 1.7238613961706866), (POSITIVE, 52.915026221291804), (NEGATIVE, -24.406808633910085)],
)
def test_sharpe_matches_empyrical(returns, expected):
    assert sharpe_ratio(returns, periods_per_year=252) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "ppy", "expected"),
    [
        (MIXED, 252, 0.60448325038829653),
        (WEEKLY, 52, 0.25888650451930134),
        (WEEKLY, 12, 0.1243650540411842),
    ],
)
def test_downside_risk_matches_empyrical(returns, ppy, expected):
    assert downside_risk(returns, periods_per_year=ppy) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "ppy", "expected"),
    [
        (MIXED, 252, 2.605531251673693),
        (NEGATIVE, 252, -13.532743075043401),
        (WEEKLY, 52, 1.1158901056866439),
        (WEEKLY, 12, 0.53605626741889756),
        (POSITIVE, 252, np.inf),
    ],
)
def test_sortino_matches_empyrical(returns, ppy, expected):
    assert sortino_ratio(returns, periods_per_year=ppy) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        (MIXED, -0.1),
        (POSITIVE, 0.0),
        (NEGATIVE, -0.36590730349873601),
        (np.array([10.0, -10.0, 10.0]) / 100, -0.10),
    ],
)
def test_max_drawdown_matches_empyrical(returns, expected):
    assert max_drawdown(returns) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    ("ppy", "expected"), [(52, 2.4690830513998208), (12, 0.52242061386048144)]
)
def test_calmar_matches_empyrical(ppy, expected):
    assert calmar_ratio(WEEKLY, periods_per_year=ppy) == pytest.approx(expected, rel=1e-12)


def test_value_at_risk_matches_empyrical_quantiles():
    # empyrical: value_at_risk([1, 81, 82, 83, 84, 85], cutoff) = 41, 81, 81.5 at 0.1, 0.2, 0.3;
    # value_at_risk([1, 2], 0.3) = 1.3. Here the level is 1 - cutoff and the sign is a loss.
    sample = np.array([1.0, 81, 82, 83, 84, 85])
    assert value_at_risk(sample, level=0.9) == pytest.approx(-41.0)
    assert value_at_risk(sample, level=0.8) == pytest.approx(-81.0)
    assert value_at_risk(sample, level=0.7) == pytest.approx(-81.5)
    assert value_at_risk(np.array([1.0, 2.0]), level=0.7) == pytest.approx(-1.3)


def test_expected_shortfall_is_mean_of_returns_at_or_below_var():
    # empyrical's defining check: CVaR = mean(returns[returns <= VaR quantile]).
    rng = np.random.default_rng(42)
    returns = rng.normal(0, 0.02, 21)
    for level in (0.95, 0.8):
        q = np.percentile(returns, 100 * (1 - level))
        expected = -np.mean(returns[returns <= q])
        assert expected_shortfall(returns, level=level) == pytest.approx(expected, rel=1e-12)


# ---- defining properties ------------------------------------------------------------------


def test_annualized_return_reproduces_growth():
    rng = np.random.default_rng(42)
    returns = rng.normal(0.001, 0.03, 730)
    ann = annualized_return(returns, periods_per_year=365)
    assert (1 + ann) ** 2 == pytest.approx(np.prod(1 + returns), rel=1e-10)


def test_periods_per_year_inferred_from_calendar():
    rng = np.random.default_rng(42)
    daily = pd.Series(rng.normal(0, 0.02, 400), index=pd.date_range("2024-01-01", periods=400,
                                                                     tz="UTC"))
    weekdays = pd.Series(daily.to_numpy(), index=pd.bdate_range("2024-01-01", periods=400,
                                                                tz="UTC"))
    vol365 = annualized_volatility(daily)
    vol252 = annualized_volatility(weekdays)
    assert vol365 / vol252 == pytest.approx(np.sqrt(365 / 252))


def test_risk_free_lowers_sharpe():
    rng = np.random.default_rng(42)
    returns = rng.normal(0.001, 0.02, 500)
    assert sharpe_ratio(returns, risk_free=0.05, periods_per_year=365) < sharpe_ratio(
        returns, periods_per_year=365
    )


def test_var_and_es_ordering():
    rng = np.random.default_rng(42)
    returns = rng.standard_t(3, 2000) * 0.02
    var95, var99 = value_at_risk(returns, level=0.95), value_at_risk(returns, level=0.99)
    es95, es99 = expected_shortfall(returns, level=0.95), expected_shortfall(returns, level=0.99)
    assert 0 < var95 < var99
    assert var95 <= es95 <= es99
    assert var99 <= es99


def test_drawdown_dates():
    idx = pd.date_range("2024-01-01", periods=7, tz="UTC")
    equity = pd.Series([100.0, 120.0, 90.0, 60.0, 100.0, 121.0, 110.0], index=idx)
    dd = drawdown(equity)
    assert dd.max() == 0.0
    assert dd.iloc[3] == pytest.approx(60 / 120 - 1)
    info = max_drawdown_info(equity)
    assert info.max_drawdown == pytest.approx(-0.5)
    assert (info.peak, info.trough, info.recovery) == (idx[1], idx[3], idx[5])
    assert info.duration == pd.Timedelta(days=4)
    unrecovered = max_drawdown_info(equity.iloc[:5])
    assert unrecovered.recovery is None and unrecovered.duration is None


def test_max_drawdown_agrees_with_equity_curve():
    rng = np.random.default_rng(42)
    returns = rng.normal(0, 0.03, 300)
    curve = pd.Series(equity_from_returns(returns))
    assert max_drawdown(returns) == pytest.approx(drawdown(curve).min())


def test_risk_balance_error_is_total_variation_distance():
    rrc = pd.DataFrame({"A": [0.5, 0.7, np.nan], "B": [0.5, 0.3, np.nan]})
    budget = pd.Series({"A": 0.5, "B": 0.5})
    assert risk_balance_error(rrc, budget) == pytest.approx((0.0 + 0.2) / 2)
    assert np.isnan(risk_balance_error(rrc.iloc[2:], budget))


def test_portfolio_metrics_fields():
    rng = np.random.default_rng(42)
    idx = pd.date_range("2022-01-01", periods=800, tz="UTC")
    equity = pd.Series(1000 * np.cumprod(1 + rng.normal(0.0005, 0.03, 800)), index=idx)
    m = portfolio_metrics(equity, turnover=3.0, costs_paid=12.0, n_rebalances=20)
    returns = equity.pct_change().iloc[1:]
    assert m.periods_per_year == 365
    assert m.annualized_return == pytest.approx(annualized_return(returns))
    assert m.sharpe_ratio == pytest.approx(sharpe_ratio(returns))
    assert m.max_drawdown == pytest.approx(drawdown(equity).min())
    assert m.calmar_ratio == pytest.approx(m.annualized_return / abs(m.max_drawdown))
    assert m.annualized_turnover == pytest.approx(3.0 / (799 / 365))
    assert m.cost_drag == pytest.approx(12.0 / equity.iloc[0])
    table = m.to_series("policy")
    assert table["n_rebalances"] == 20 and table.name == "policy"


def test_too_little_data_gives_nan():
    assert np.isnan(annualized_return(np.array([]), periods_per_year=365))
    assert np.isnan(annualized_volatility(np.array([0.01]), periods_per_year=365))
    assert np.isnan(sharpe_ratio(np.array([0.01]), periods_per_year=365))
    assert np.isnan(max_drawdown(np.array([np.nan])))
    assert np.isnan(value_at_risk(np.array([]), level=0.95))
    assert np.isnan(calmar_ratio(POSITIVE, periods_per_year=252))


# ---- errors -------------------------------------------------------------------------------


def test_errors():
    with pytest.raises(DataError, match="cannot infer periods_per_year"):
        annualized_return(np.array([0.01, 0.02]))
    with pytest.raises(RiskcoreError, match="periods_per_year is -1; it must be > 0"):
        annualized_volatility(np.array([0.01, 0.02]), periods_per_year=-1)
    with pytest.raises(RiskcoreError, match="confidence level is 1.5"):
        value_at_risk(np.array([0.01]), level=1.5)
    with pytest.raises(RiskcoreError, match="confidence level is 0"):
        expected_shortfall(np.array([0.01]), level=0)
    idx = pd.date_range("2024-01-01", periods=3, tz="UTC")
    with pytest.raises(DataError, match="metrics need at least 2"):
        portfolio_metrics(pd.Series([1.0], index=idx[:1]))
    with pytest.raises(DataError, match="equity is -1.0 at 2024-01-02"):
        portfolio_metrics(pd.Series([1.0, -1.0, 2.0], index=idx))
