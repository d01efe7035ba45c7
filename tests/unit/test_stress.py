"""Stress tests: worst windows, crash replays, stressed covariance, normal VaR/ES, shocks."""

import csv
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from riskcore.allocation import portfolio_volatility
from riskcore.errors import DataError
from riskcore.ingest import load_files
from riskcore.stress import (
    CRASH_WINDOWS,
    STRESS_SCENARIOS,
    StressedCovariance,
    crypto_crash_shock,
    historical_scenarios,
    instant_shock,
    stress_covariance,
    stress_test,
    worst_periods,
)

YAHOO = Path(__file__).resolve().parents[3] / "shared" / "data" / "yahoo-daily"


def panel(data, start="2024-01-01"):
    n = len(next(iter(data.values())))
    index = pd.date_range(start, periods=n, freq="D", tz="UTC", name="date")
    return pd.DataFrame({k: np.asarray(v, dtype=float) for k, v in data.items()}, index=index)


def random_panel(n=200, p=4, seed=42):
    rng = np.random.default_rng(seed)
    steps = 1.0 + rng.normal(0.0, 0.03, size=(n, p))
    prices = 100.0 * np.cumprod(steps, axis=0)
    return panel({f"C{i}": prices[:, i] for i in range(p)})


def random_cov(names, seed=42):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(len(names), 3 * len(names)))
    cov = a @ a.T / a.shape[1] * 0.5
    return pd.DataFrame(cov, index=names, columns=names)


def is_psd(matrix, tol=1e-10):
    return np.linalg.eigvalsh(np.asarray(matrix, dtype=float))[0] >= -tol


# ----------------------------------------------------------------------------- worst windows


def test_buy_and_hold_arithmetic_by_hand():
    prices = panel({"A": [100, 110, 55, 66], "B": [10, 10, 12, 9]})
    weights = pd.Series({"A": 0.5, "B": 0.3, "cash": 0.2})
    out = worst_periods(prices, weights, horizon=1, count=5)
    # one-period windows: t=0: .5*.1 + .3*0 = .05; t=1: .5*-.5 + .3*.2 = -.19;
    # t=2: .5*.2 + .3*-.25 = .025
    np.testing.assert_allclose(out["portfolio_return"], [-0.19, 0.025, 0.05])
    assert list(out.index) == [1, 2, 3] and out.index.name == "rank"
    assert list(out["start"]) == list(prices.index[[1, 2, 0]])
    assert list(out["end"]) == list(prices.index[[2, 3, 1]])
    assert out.loc[1, "worst_asset"] == "A" and out.loc[1, "worst_asset_return"] == -0.5
    assert out.loc[1, "best_asset"] == "B" and out.loc[1, "best_asset_return"] == pytest.approx(0.2)
    assert list(out.columns[-2:]) == ["A", "B"]  # cash has no return column

    two = worst_periods(prices, weights, horizon=2, count=5)
    # t=0: .5*(55/100-1) + .3*(12/10-1) = -.165; t=1: .5*(66/110-1) + .3*(9/10-1) = -.23.
    # They share a period, so only the worst is listed.
    assert len(two) == 1
    assert two.loc[1, "portfolio_return"] == pytest.approx(-0.23)
    # buy and hold without rebalancing: units bought at the start, valued at the end
    value0 = 1000.0
    units = weights[["A", "B"]] * value0 / prices.iloc[1][["A", "B"]]
    value_end = (units * prices.iloc[3][["A", "B"]]).sum() + weights["cash"] * value0
    assert two.loc[1, "portfolio_return"] == pytest.approx(value_end / value0 - 1.0)


def test_planted_crash_is_the_worst_window():
    prices = random_panel(n=200, p=3)
    crash = np.ones(200)
    crash[100:] = 0.5  # every asset halves between rows 99 and 100
    crash[150:] *= 0.8  # a smaller crash between rows 149 and 150
    prices = prices.mul(crash, axis=0)
    weights = pd.Series({"C0": 0.4, "C1": 0.4, "C2": 0.2})
    out = worst_periods(prices, weights, horizon=7, count=3)
    first, second = out.loc[1], out.loc[2]
    assert first["start"] <= prices.index[99] and first["end"] >= prices.index[100]
    assert second["start"] <= prices.index[149] and second["end"] >= prices.index[150]
    assert first["portfolio_return"] < -0.4 and second["portfolio_return"] < -0.1
    assert out["portfolio_return"].is_monotonic_increasing


def test_windows_do_not_overlap_and_match_brute_force():
    prices = random_panel(n=300, p=4)
    weights = pd.Series({"C0": 0.25, "C1": 0.35, "C2": 0.1, "C3": 0.1, "cash": 0.2})
    h = 10
    out = worst_periods(prices, weights, horizon=h, count=8)
    assert len(out) == 8
    pos = prices.index.get_indexer(out["start"])
    assert (prices.index.get_indexer(out["end"]) - pos == h).all()
    for i in range(len(pos)):
        for j in range(i + 1, len(pos)):
            assert abs(pos[i] - pos[j]) >= h
    # brute force: every window's buy-and-hold return; the first is the global minimum
    p = prices.to_numpy()
    w = weights.drop("cash").to_numpy()
    every = (p[h:] / p[:-h] - 1.0) @ w
    assert out.loc[1, "portfolio_return"] == pytest.approx(every.min())
    np.testing.assert_allclose(out["portfolio_return"], every[pos])
    np.testing.assert_allclose(out[["C0", "C1", "C2", "C3"]], (p[pos + h] / p[pos] - 1.0))


def test_windows_need_held_prices_at_both_ends_only():
    prices = random_panel(n=40, p=2)
    prices.loc[prices.index[:20], "C1"] = np.nan  # C1 lists on row 20
    prices.loc[prices.index[30], "C1"] = np.nan  # and has a hole on row 30
    prices["Z"] = np.nan  # an asset without prices, not held
    out = worst_periods(prices, {"C0": 0.5, "C1": 0.5}, horizon=3, count=50)
    pos = prices.index.get_indexer(out["start"])
    ends = pos + 3
    assert (pos >= 20).all() and not np.isin(30, pos) and not np.isin(30, ends)
    assert np.isin(28, pos)  # the window 28 -> 31 spans the hole: both ends have prices


# ----------------------------------------------------------------------------- crash windows


def raw_close(symbol, day):
    with (YAHOO / f"{symbol}.csv").open() as handle:
        for row in csv.DictReader(handle):
            if row["Date"] == day:
                return float(row["Close"])
    raise AssertionError(f"{day} not in {symbol}.csv")


@pytest.fixture(scope="module")
def yahoo_panel(yahoo_daily_files):
    result = load_files([(f.name, f.read_bytes()) for f in yahoo_daily_files])
    assert not result.errors
    return result.prices


def test_crash_windows_on_real_data(yahoo_panel):
    names = list(yahoo_panel.columns)
    weights = pd.Series(0.9 / len(names), index=names)
    weights["cash"] = 0.1
    out = historical_scenarios(yahoo_panel, weights)
    assert list(out.index) == list(CRASH_WINDOWS)  # the data (2014..2025) covers them all
    luna = out.loc["LUNA/UST collapse (May 2022)"]
    ftx = out.loc["FTX collapse (Nov 2022)"]
    for row, (start, end) in ((luna, ("2022-05-06", "2022-05-13")),
                              (ftx, ("2022-11-05", "2022-11-14"))):
        assert (f"{row['start']:%Y-%m-%d}", f"{row['end']:%Y-%m-%d}") == (start, end)
        expected = raw_close("BTC-USD", end) / raw_close("BTC-USD", start) - 1.0
        assert row["BTC"] == pytest.approx(expected, rel=1e-12)
        assert row["complete"] and row["missing_assets"] == "" and row["covered_weight"] == 1
        by_hand = float((weights.drop("cash") * row[names].astype(float)).sum())
        assert row["portfolio_return"] == pytest.approx(by_hand)
    # pinned: BTC closes 36,040.92 -> 29,283.10 and 21,282.69 -> 16,618.20
    assert luna["BTC"] == pytest.approx(-0.187504, abs=1e-6)
    assert ftx["BTC"] == pytest.approx(-0.219168, abs=1e-6)
    assert ftx["worst_asset"] == "SOL" and ftx["SOL"] < -0.6
    svb = out.loc["USDC de-peg / SVB (Mar 2023)"]
    assert svb["USDC"] == pytest.approx(raw_close("USDC-USD", "2023-03-11")
                                            / raw_close("USDC-USD", "2023-03-09") - 1.0)
    # COVID: coins listed later are reported missing and the rest renormalized
    covid = out.loc["COVID crash (Mar 2020)"]
    assert not covid["complete"]
    assert covid["missing_assets"] == "AVAX, DOT, SOL"
    assert np.isnan(covid[["AVAX", "DOT", "SOL"]].astype(float)).all()
    assert covid["covered_weight"] == pytest.approx(0.1 + 11 * 0.9 / 14)
    priced = covid[names].astype(float).dropna()
    by_hand = float((weights[priced.index] * priced).sum()) / covid["covered_weight"]
    assert covid["portfolio_return"] == pytest.approx(by_hand)


def test_renormalization_rule_and_uncovered_windows():
    prices = panel({"A": [100, 100, 80, 80], "B": [np.nan, np.nan, 5, 4]}, start="2024-03-01")
    weights = {"A": 0.5, "B": 0.3, "cash": 0.2}
    windows = {"early": ("2024-03-01", "2024-03-03"), "late": ("2024-03-03", "2024-03-04"),
               "before the data": ("2020-01-01", "2020-01-05"),
               "runs past the data": ("2024-03-02", "2024-04-01")}
    out = historical_scenarios(prices, weights, windows=windows)
    assert list(out.index) == ["early", "late"]
    early = out.loc["early"]
    # A falls 20%; B has no price: excluded, the rest renormalized over 0.5 + 0.2 (cash)
    assert early["portfolio_return"] == pytest.approx(0.5 * -0.2 / 0.7)
    assert not early["complete"] and early["missing_assets"] == "B"
    assert early["covered_weight"] == pytest.approx(0.7) and np.isnan(early["B"])
    late = out.loc["late"]
    assert late["complete"] and late["portfolio_return"] == pytest.approx(0.3 * -0.2)
    only_b = historical_scenarios(prices, {"B": 1.0}, windows={"early": windows["early"]})
    assert np.isnan(only_b.loc["early", "portfolio_return"])
    assert only_b.loc["early", "worst_asset"] is None


def test_weekend_dates_use_the_last_close_before_them():
    index = pd.bdate_range("2022-11-01", "2022-11-18", tz="UTC", name="date")  # weekdays
    prices = pd.DataFrame({"SPY": np.arange(1.0, len(index) + 1.0)}, index=index)
    out = historical_scenarios(prices, {"SPY": 1.0})
    # FTX window runs from Saturday 2022-11-05 to Monday 2022-11-14: Friday's close is used
    ftx = out.loc["FTX collapse (Nov 2022)"]
    assert (f"{ftx['start']:%Y-%m-%d}", f"{ftx['end']:%Y-%m-%d}") == ("2022-11-04", "2022-11-14")
    assert ftx["SPY"] == pytest.approx(prices.loc["2022-11-14", "SPY"].item()
                                       / prices.loc["2022-11-04", "SPY"].item() - 1.0)
    assert list(out.index) == ["FTX collapse (Nov 2022)"]


# ----------------------------------------------------------------------------- stressed cov


def test_volatility_multiplier_scales_portfolio_volatility_exactly():
    names = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
    cov = random_cov(names)
    weights = pd.Series([0.4, 0.3, 0.2, 0.1], index=names)
    for k in (0.5, 2.0, 3.7):
        stressed = stress_covariance(cov, volatility_multiplier=k)
        assert isinstance(stressed, StressedCovariance) and not stressed.repaired
        assert portfolio_volatility(weights, stressed.matrix) == pytest.approx(
            k * portfolio_volatility(weights, cov), rel=1e-12)
        np.testing.assert_allclose(stressed.matrix, k**2 * cov, rtol=1e-12)


def test_correlation_one_gives_weighted_sum_of_volatilities():
    names = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD"]
    cov = random_cov(names)
    weights = pd.Series([0.4, 0.3, 0.2, 0.1], index=names)
    sigma = np.sqrt(np.diag(cov))
    stressed = stress_covariance(cov, volatility_multiplier=1.5, correlation=1.0)
    assert portfolio_volatility(weights, stressed.matrix) == pytest.approx(
        float(weights @ (1.5 * sigma)), rel=1e-10)
    half = stress_covariance(cov, correlation=0.9, correlation_blend=0.25)
    rho = cov.iloc[0, 1] / (sigma[0] * sigma[1])
    assert half.correlation.iloc[0, 1] == pytest.approx(0.75 * rho + 0.25 * 0.9)


def test_stablecoins_kept_out_of_the_push_unless_told():
    names = ["BTC-USD", "ETH-USD", "USDT-USD"]
    cov = random_cov(names)
    base = cov.to_numpy()
    rho = base[0, 2] / np.sqrt(base[0, 0] * base[2, 2])
    kept = stress_covariance(cov, correlation=0.8, stablecoin_volatility=0.4)
    assert kept.correlation.loc["BTC-USD", "USDT-USD"] == pytest.approx(rho)
    assert kept.correlation.loc["BTC-USD", "ETH-USD"] == pytest.approx(0.8)
    assert kept.volatilities["USDT-USD"] == 0.4
    assert kept.matrix.loc["USDT-USD", "USDT-USD"] == pytest.approx(0.16)
    assert any("USDT-USD" in note for note in kept.notes)
    pushed = stress_covariance(cov, correlation=0.8, push_stablecoins=True)
    assert pushed.correlation.loc["BTC-USD", "USDT-USD"] == pytest.approx(0.8)
    named = stress_covariance(cov, correlation=0.8, stablecoins=["ETH-USD"])
    assert named.correlation.loc["BTC-USD", "ETH-USD"] == pytest.approx(
        base[0, 1] / np.sqrt(base[0, 0] * base[1, 1]))
    none = stress_covariance(cov.loc[names[:2], names[:2]], stablecoin_volatility=0.4)
    assert none.notes == ("stablecoin_volatility given but no stablecoin among the assets",)


def test_invalid_push_is_repaired_to_a_psd_matrix_with_the_right_diagonal():
    names = [f"C{i}" for i in range(5)]
    cov = random_cov(names)
    sigma = np.sqrt(np.diag(cov))
    # all pairwise correlations at -0.5 < -1/(n-1): not a correlation matrix
    stressed = stress_covariance(cov, volatility_multiplier=2.0, correlation=-0.5)
    assert stressed.repaired and stressed.repair_distance > 0
    assert any("Higham" in note for note in stressed.notes)
    assert is_psd(stressed.matrix) and is_psd(stressed.correlation)
    np.testing.assert_allclose(np.diag(stressed.matrix), (2.0 * sigma) ** 2, rtol=1e-10)
    np.testing.assert_allclose(np.diag(stressed.correlation), 1.0, rtol=1e-12)
    np.testing.assert_allclose(stressed.matrix, stressed.matrix.T)
    fine = stress_covariance(cov, correlation=0.3)
    assert not fine.repaired and fine.repair_distance == 0.0 and is_psd(fine.matrix)


# ----------------------------------------------------------------------------- stress_test


def test_normal_var_and_es_formulas_against_scipy():
    names = ["BTC-USD", "ETH-USD", "USDC-USD"]
    cov = random_cov(names)
    weights = pd.Series({"BTC-USD": 0.5, "ETH-USD": 0.2, "USDC-USD": 0.1, "cash": 0.2})
    out = stress_test(weights, cov, {"baseline": {}, "x2": {"volatility_multiplier": 2.0}},
                      periods_per_year=365, level=0.99)
    w = weights.drop("cash")
    sigma = portfolio_volatility(w, cov)
    sp = sigma / np.sqrt(365)
    base = out.loc["baseline"]
    assert base["volatility"] == pytest.approx(sigma)
    assert base["period_volatility"] == pytest.approx(sp)
    var = norm.ppf(0.99, scale=sp)
    assert base["value_at_risk"] == pytest.approx(var, rel=1e-12)
    # ES = E[loss | loss >= VaR], computed by integration
    es = norm.expect(lambda x: x, scale=sp, lb=var) / 0.01
    assert base["expected_shortfall"] == pytest.approx(es, rel=1e-8)
    assert out.loc["x2", "value_at_risk"] == pytest.approx(2 * var)
    assert list(out.index) == ["baseline", "x2"] and out.index.name == "scenario"


def test_largest_risk_contributor_and_its_share():
    names = ["A", "B", "C"]
    cov = pd.DataFrame(np.diag([0.04, 0.25, 0.01]), index=names, columns=names)
    weights = pd.Series({"A": 0.5, "B": 0.3, "C": 0.1, "cash": 0.1})
    out = stress_test(weights, cov, {"base": {}}, periods_per_year=252, level=0.95)
    rc = np.array([0.25 * 0.04, 0.09 * 0.25, 0.01 * 0.01])  # w_i^2 sigma_i^2 (diagonal)
    assert out.loc["base", "largest_risk_contributor"] == "B"
    assert out.loc["base", "largest_relative_risk_contribution"] == pytest.approx(
        rc[1] / rc.sum())
    assert out.loc["base", "value_at_risk"] == pytest.approx(
        norm.ppf(0.95) * np.sqrt(rc.sum() / 252))


def test_default_scenarios_run_on_real_data(yahoo_panel):
    from riskcore.estimators import estimate_covariance, to_returns

    returns = to_returns(yahoo_panel).dropna()
    cov = estimate_covariance(returns, method="ledoit_wolf", periods_per_year=365).matrix
    weights = pd.Series(1.0 / len(cov), index=cov.columns)
    out = stress_test(weights, cov, periods_per_year=365)
    assert list(out.index) == list(STRESS_SCENARIOS)
    assert out.loc["volatility x2", "volatility"] == pytest.approx(
        2 * out.loc["baseline", "volatility"])
    crash = out.loc["crash: volatility x2, correlation 0.9"]
    assert crash["volatility"] > out.loc["volatility x2", "volatility"]
    assert (out["expected_shortfall"] > out["value_at_risk"]).all()


# ----------------------------------------------------------------------------- instant shocks


def test_instant_shock_with_cash():
    weights = pd.Series({"BTC-USD": 0.5, "ETH-USD": 0.3, "cash": 0.2})
    shocks = {"BTC-USD": -0.3, "ETH-USD": -0.4, "SOL-USD": -0.9}  # SOL not held: ignored
    assert instant_shock(weights, shocks) == pytest.approx(0.5 * -0.3 + 0.3 * -0.4)
    assert instant_shock(weights, pd.Series(shocks)) == pytest.approx(-0.27)
    assert instant_shock({"cash": 1.0}, {}) == 0.0


def test_crypto_crash_shock_helper():
    assets = ["BTC-USD", "ETH-USD", "USDT-USD", "USDC", "cash"]
    shocks = crypto_crash_shock(assets)
    assert shocks == {"BTC-USD": -0.3, "ETH-USD": -0.4, "USDT-USD": -0.05, "USDC": -0.05}
    weights = pd.Series({"BTC-USD": 0.4, "ETH-USD": 0.3, "USDT-USD": 0.2, "cash": 0.1})
    assert instant_shock(weights, shocks) == pytest.approx(0.4 * -0.3 + 0.3 * -0.4 + 0.2 * -0.05)
    assert crypto_crash_shock(["BTC"], btc=-0.5) == {"BTC": -0.5}


# ----------------------------------------------------------------------------- errors


@pytest.fixture()
def small():
    prices = panel({"BTC-USD": [100, 90, 80, 85], "ETH-USD": [10, 9, 7, 8]})
    cov = random_cov(["BTC-USD", "ETH-USD"])
    return prices, cov


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"BTC-USD": 0.5, "DOGE-USD": 0.5},
         r"weights name DOGE-USD, not in the price panel; allowed: BTC-USD, ETH-USD and 'cash'"),
        ({"BTC-USD": 0.5, "ETH-USD": 0.4}, r"weights sum to 0\.9; they must sum to 1 \(hold the "
                                            r"rest as a 'cash' entry\)"),
        ({"BTC-USD": np.nan, "ETH-USD": 1.0}, r"weight of BTC-USD is nan; weights must be finite"),
        ({"BTC-USD": "half", "ETH-USD": 1.0}, r"weight of BTC-USD is 'half'"),
        ({"cash": 1.0}, r"weights hold no asset other than cash; there is nothing to stress"),
        ({}, r"weights are empty"),
        ([0.5, 0.5], r"weights must be a pandas Series indexed by asset .* not list"),
        (pd.Series([0.5, 0.5], index=["BTC-USD", "BTC-USD"]),
         r"weights name BTC-USD more than once"),
    ],
)
def test_weight_errors(small, weights, message):
    prices, _ = small
    with pytest.raises(DataError, match=message):
        worst_periods(prices, weights, horizon=1)


def test_unknown_asset_in_weights_everywhere(small):
    prices, cov = small
    weights = {"BTC-USD": 0.5, "XRP-USD": 0.5}
    with pytest.raises(DataError, match=r"weights name XRP-USD, not in the price panel"):
        historical_scenarios(prices, weights)
    with pytest.raises(DataError, match=r"weights name XRP-USD, not in the covariance matrix; "
                                        r"allowed: BTC-USD, ETH-USD and 'cash'"):
        stress_test(weights, cov, {"base": {}}, periods_per_year=365)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 0}, r"horizon is 0; it must be an integer >= 1"),
        ({"horizon": -3}, r"horizon is -3; it must be an integer >= 1"),
        ({"horizon": 2.5}, r"horizon is 2\.5; it must be an integer >= 1"),
        ({"count": 0}, r"count is 0; it must be an integer >= 1"),
        ({"horizon": 4}, r"no window of 4 periods has prices for every held asset \(BTC-USD, "
                         r"ETH-USD\) at both ends: all have prices on 4 row\(s\)"),
    ],
)
def test_worst_periods_errors(small, kwargs, message):
    prices, _ = small
    with pytest.raises(DataError, match=message):
        worst_periods(prices, {"BTC-USD": 0.5, "ETH-USD": 0.5}, **kwargs)


def test_price_errors(small):
    prices, _ = small
    bad = prices.copy()
    bad.iloc[2, 1] = 0.0
    with pytest.raises(DataError, match=r"price of ETH-USD on 2024-01-03 .* is 0; prices must "
                                        r"be finite and > 0"):
        worst_periods(bad, {"ETH-USD": 1.0})
    with pytest.raises(DataError, match=r"prices must be a pandas DataFrame .* not dict"):
        worst_periods({"BTC-USD": [1.0]}, {"BTC-USD": 1.0})
    with pytest.raises(DataError, match=r"prices must have a DatetimeIndex .* not RangeIndex"):
        historical_scenarios(prices.reset_index(drop=True), {"BTC-USD": 1.0})
    with pytest.raises(DataError, match=r"prices must have a sorted index without duplicate "
                                        r"timestamps \(oldest first\)"):
        worst_periods(prices.iloc[::-1], {"ETH-USD": 1.0}, horizon=1)
    with pytest.raises(DataError, match=r"prices must have a sorted index"):
        historical_scenarios(prices.iloc[[0, 0, 1]], {"ETH-USD": 1.0})
    never = panel({"BTC-USD": [1.0, np.nan], "ETH-USD": [np.nan, 1.0]})
    with pytest.raises(DataError, match=r"all have prices on 0 row\(s\); shorten the horizon"):
        worst_periods(never, {"BTC-USD": 0.5, "ETH-USD": 0.5}, horizon=1)


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (("2024-01-03", "2024-01-01"), r"crash window 'w' runs from 2024-01-03 00:00:00 to "
                                       r"2024-01-01 00:00:00; the start must come before"),
        ("2024-01-01", r"crash window 'w' is '2024-01-01'; it must be a pair of dates"),
        (("someday", "2024-01-02"), r"crash window 'w' is \('someday', '2024-01-02'\)"),
    ],
)
def test_crash_window_errors(small, window, message):
    prices, _ = small
    with pytest.raises(DataError, match=message):
        historical_scenarios(prices, {"BTC-USD": 1.0}, windows={"w": window})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"volatility_multiplier": 0}, r"volatility_multiplier is 0; it must be a finite "
                                       r"number > 0"),
        ({"volatility_multiplier": -2.0}, r"volatility_multiplier is -2\.0; it must be a finite "
                                          r"number > 0"),
        ({"volatility_multiplier": np.inf}, r"volatility_multiplier is inf; it must be a finite"),
        ({"correlation": 1.2}, r"correlation is 1\.2; it must lie in \[-1, 1\]"),
        ({"correlation": -1.01}, r"correlation is -1\.01; it must lie in \[-1, 1\]"),
        ({"correlation": 0.9, "correlation_blend": 1.5},
         r"correlation_blend is 1\.5; it must lie in \[0, 1\]"),
        ({"stablecoin_volatility": -0.1}, r"stablecoin_volatility is -0\.1; it must be a finite "
                                          r"number >= 0"),
        ({"stablecoins": ["USDT-USD"]}, r"stablecoins USDT-USD are not in the covariance "
                                        r"matrix; allowed: BTC-USD, ETH-USD"),
    ],
)
def test_stress_covariance_errors(small, kwargs, message):
    _, cov = small
    with pytest.raises(DataError, match=message):
        stress_covariance(cov, **kwargs)


def test_covariance_errors(small):
    _, cov = small
    skew = cov.copy()
    skew.iloc[0, 1] += 0.1
    with pytest.raises(DataError, match=r"covariance matrix is not symmetric: entry \(BTC-USD, "
                                        r"ETH-USD\)"):
        stress_covariance(skew)
    zero = cov.copy()
    zero.iloc[1, 1] = 0.0
    with pytest.raises(DataError, match=r"variance of ETH-USD is zero or negative"):
        stress_covariance(zero)
    with pytest.raises(DataError, match=r"covariance matrix must be a square pandas DataFrame "
                                        r"labelled by asset, not ndarray"):
        stress_test({"BTC-USD": 1.0}, cov.to_numpy(), periods_per_year=365)


@pytest.mark.parametrize(
    ("scenarios", "kwargs", "message"),
    [
        ({"s": {"volatility": 2}}, {}, r"scenario 's' has unknown setting\(s\) volatility; "
                                       r"allowed: volatility_multiplier, correlation"),
        ({"s": 2.0}, {}, r"scenario 's' is 2\.0; it must be a mapping of settings"),
        ({"s": {"correlation": 2}}, {}, r"correlation is 2; it must lie in \[-1, 1\]"),
        ({"s": {}}, {"periods_per_year": 0}, r"periods_per_year is 0; it must be a finite "
                                             r"number > 0"),
        ({"s": {}}, {"level": 1.0}, r"level is 1\.0; it must lie strictly between 0 and 1"),
    ],
)
def test_stress_test_errors(small, scenarios, kwargs, message):
    _, cov = small
    with pytest.raises(DataError, match=message):
        stress_test({"BTC-USD": 0.6, "cash": 0.4}, cov, scenarios,
                    **({"periods_per_year": 365} | kwargs))


@pytest.mark.parametrize(
    ("shocks", "message"),
    [
        ({"BTC-USD": -0.3}, r"no shock given for held asset\(s\) ETH-USD; give one price move "
                            r"per held asset \(0 for unchanged\)"),
        ({"BTC-USD": -1.5, "ETH-USD": 0.0}, r"shock for BTC-USD is -1\.5; a price move must be "
                                            r"a finite decimal >= -1"),
        ({"BTC-USD": np.nan, "ETH-USD": 0.0}, r"shock for BTC-USD is nan"),
        ({"BTC-USD": 0.0, "ETH-USD": 0.0, "cash": -0.1},
         r"shock for cash is -0\.1; cash is riskless and cannot be shocked"),
        ([-0.3, -0.4], r"shocks must be a pandas Series or mapping .* not list"),
    ],
)
def test_instant_shock_errors(shocks, message):
    weights = {"BTC-USD": 0.5, "ETH-USD": 0.3, "cash": 0.2}
    with pytest.raises(DataError, match=message):
        instant_shock(weights, shocks)


def test_crypto_crash_shock_errors():
    with pytest.raises(DataError, match=r"other is -2; a price move must be a finite decimal"):
        crypto_crash_shock(["ETH-USD"], other=-2)
    with pytest.raises(DataError, match=r"btc is nan; it must be a finite number"):
        crypto_crash_shock(["BTC-USD"], btc=float("nan"))


def test_a_portfolio_with_a_cash_sleeve_is_stressed_as_it_is():
    """Portfolio.covariance carries riskless cash as a zero row; stress_test takes it as is
    (no page has to strip it) and gives the numbers of the risky part alone."""
    import riskcore

    prices = riskcore.demo_prices()
    spec = riskcore.PortfolioSpec(stablecoins="sleeve", target_volatility=0.2, lookback=365)
    portfolio = riskcore.build_portfolio(prices, spec)
    assert portfolio.weights["cash"] > 0 and "cash" in portfolio.covariance.index
    table = stress_test(portfolio.weights, portfolio.covariance, periods_per_year=365)
    risky = portfolio.covariance.index.drop("cash")
    alone = stress_test(portfolio.weights, portfolio.covariance.loc[risky, risky],
                        periods_per_year=365)
    pd.testing.assert_frame_equal(table, alone)
    assert table.loc["baseline", "volatility"] == pytest.approx(0.2, rel=1e-9)
