"""One specification, one engine: the simulator's target at a rebalance date is the decision
build_portfolio makes on the data known then, for every method (issue 9)."""

import json

import numpy as np
import pandas as pd
import pytest

import riskcore
from riskcore.backtest import _policy_of, _prepare, run_backtest
from riskcore.errors import DataError, RiskcoreError
from riskcore.estimators import estimate_covariance, rolling_covariances, to_returns
from riskcore.portfolio import METHODS, Portfolio, build_portfolio
from riskcore.rebalance import CostModel
from riskcore.spec import SCHEMA_VERSION, PortfolioSpec

ASSETS = ["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "USDT-USD"]


def make_prices(n_days=400, seed=42):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2021-01-01", periods=n_days, tz="UTC", name="date")
    vols = np.array([0.03, 0.04, 0.05, 0.06, 0.002])
    corr = 0.4 + 0.6 * np.eye(5)
    shocks = rng.standard_normal((n_days, 5)) @ np.linalg.cholesky(corr * np.outer(vols, vols)).T
    prices = pd.DataFrame(100 * np.exp(np.cumsum(shocks, axis=0)), index=index, columns=ASSETS)
    prices.iloc[:150, 2] = np.nan  # SOL lists later: the universe changes over time
    return prices


PRICES = make_prices()
SPECS = {
    "risk_budget": dict(method="risk_budget"),
    "risk_budget, budgets, sleeve, floor": dict(
        method="risk_budget", risk_budget={"BTC-USD": 2, "ETH-USD": 1, "SOL-USD": 1,
                                           "DOGE-USD": 1},
        stablecoins="sleeve", volatility_floor=0.05),
    "risk_budget, bounds, group limits, pairwise": dict(
        method="risk_budget", alignment="pairwise", bounds={"BTC-USD": (0.0, 0.3)},
        group_limits=[("majors", ("BTC-USD", "ETH-USD"), 0.0, 0.5)]),
    "cluster_risk_budget": dict(method="cluster_risk_budget", n_clusters=2),
    "cluster_risk_budget, user groups": dict(
        method="cluster_risk_budget", clusters={"majors": ["BTC-USD", "ETH-USD"]},
        cluster_budget={"majors": 0.6, "other": 0.4}),
    "inverse_volatility, ewma": dict(method="inverse_volatility", estimator="ewma",
                                     half_life=20),
    "hrp": dict(method="hrp"),
    "minimum_variance, bounds": dict(method="minimum_variance", stablecoins="sleeve",
                                     bounds={"BTC-USD": (0.0, 0.5)}),
    "equal_weight": dict(method="equal_weight"),
    "ledoit_wolf, volatility target": dict(method="risk_budget", estimator="ledoit_wolf",
                                           target_volatility=0.3),
    "oas": dict(method="risk_budget", estimator="oas"),
    "volatility target, stablecoin sleeve": dict(
        method="risk_budget", target_volatility=0.3, stablecoins="sleeve", sleeve_asset="USDT-USD",
        volatility_floor=0.05),
}


def test_every_allocation_method_has_a_spec_case():
    assert {kw["method"] for kw in SPECS.values()} == set(riskcore.METHODS) == set(METHODS)


@pytest.mark.parametrize("case", list(SPECS))
def test_simulator_target_is_build_portfolio_on_the_data_known_then(case):
    spec = PortfolioSpec(lookback=60, frequency="M", **SPECS[case])
    res = run_backtest(PRICES, spec)
    dates = res.target_weights.dropna().index
    assert len(dates) >= 10
    for date in dates[[0, 3, 6, -1]]:  # before and after SOL lists
        decision = build_portfolio(PRICES.loc[:date], spec)
        expected = decision.weights.drop("cash", errors="ignore").reindex(ASSETS, fill_value=0)
        np.testing.assert_allclose(res.target_weights.loc[date], expected, atol=1e-8,
                                   err_msg=f"{case} at {date:%Y-%m-%d}")
    # later prices never change an earlier decision
    changed = PRICES.copy()
    changed.iloc[-30:] *= 3.0
    again = run_backtest(changed, spec)
    np.testing.assert_allclose(again.target_weights.loc[dates[3]],
                               res.target_weights.loc[dates[3]], atol=1e-12)


@pytest.mark.parametrize("case", ["risk_budget", "risk_budget, budgets, sleeve, floor",
                                  "inverse_volatility, ewma", "equal_weight",
                                  "volatility target, stablecoin sleeve"])
def test_fast_path_equals_the_decision_function(case):
    spec = PortfolioSpec(lookback=60, frequency="W", **SPECS[case])
    policy = _policy_of(spec)
    fast = _prepare(PRICES, policy, all_targets=False, spec=spec)
    slow = _prepare(PRICES, policy, all_targets=False, spec=spec, force_generic=True)
    assert (~np.isnan(fast.targets[:, 0])).sum() > 40
    np.testing.assert_allclose(fast.targets, slow.targets, atol=1e-8, equal_nan=True)


@pytest.mark.parametrize("half_life", [None, 15.0])
def test_rolling_kernel_equals_estimate_covariance(half_life):
    returns = to_returns(PRICES)
    padded = np.vstack([np.full((1, 5), np.nan), returns.to_numpy()])
    cov, full = rolling_covariances(padded, 60, half_life=half_life)
    for t in (250, 399):
        window = returns.iloc[t - 60 : t]
        assert full[t].all()
        est = estimate_covariance(window, method="ewma" if half_life else "sample",
                                  half_life=half_life, periods_per_year=1)
        np.testing.assert_allclose(cov[t], est.matrix.to_numpy(), rtol=1e-9, atol=1e-16)
    assert not full[100, 2] and full[100, 0]


def test_build_portfolio_names_the_assets_left_out():
    spec = PortfolioSpec(lookback=60, as_of="2021-05-01")
    port = build_portfolio(PRICES, spec)
    assert port.excluded == ("SOL-USD",)
    assert "SOL-USD (0)" in port.notes[0] and "2021-05-01" in port.notes[0]
    assert port.estimate.n_observations == 60
    with pytest.raises(DataError, match="the lookback needs 500"):
        build_portfolio(PRICES, PortfolioSpec(lookback=500))


def test_spec_start_as_of_and_costs_drive_the_run():
    spec = PortfolioSpec(lookback=60, frequency="M", start="2021-06-15", as_of="2021-12-31",
                         costs=CostModel(fee=0.001))
    res = run_backtest(PRICES, spec)
    assert res.equity.index[0] == pd.Timestamp("2021-06-15", tz="UTC")
    assert res.equity.index[-1] == pd.Timestamp("2021-12-31", tz="UTC")
    assert res.costs.sum() > 0


def test_spec_round_trips_through_json():
    spec = PortfolioSpec(**SPECS["risk_budget, bounds, group limits, pairwise"], lookback=90,
                         start="2021-02-01", band=np.inf, frequency="M",
                         costs=CostModel(fee=0.001, impact=0.01, missing_volume="last"))
    text = spec.to_json()
    assert json.loads(text)["schema_version"] == SCHEMA_VERSION
    again = PortfolioSpec.from_json(text)
    assert again == spec and hash(again) == hash(spec)


def test_older_schema_loads_and_newer_or_broken_is_refused():
    old = json.dumps({"schema_version": 1, "method": "risk_budget", "lookback": 90,
                      "budget": [["BTC-USD", 0.7], ["ETH-USD", 0.3]], "threshold": 0.05})
    spec = PortfolioSpec.from_json(old)
    assert spec.risk_budget == (("BTC-USD", 0.7), ("ETH-USD", 0.3)) and spec.band == 0.05
    newer = json.dumps({"schema_version": SCHEMA_VERSION + 1})
    with pytest.raises(DataError, match="written by a newer riskcore; this one reads versions"):
        PortfolioSpec.from_json(newer)
    with pytest.raises(DataError, match="schema_version is None"):
        PortfolioSpec.from_json("{}")
    with pytest.raises(DataError, match="not valid JSON"):
        PortfolioSpec.from_json("{nope")
    with pytest.raises(DataError, match="unknown field 'colour'"):
        PortfolioSpec.from_json(json.dumps({"schema_version": 2, "colour": "red"}))


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(method="erc"), "method 'erc' is unknown; allowed: 'risk_budget'"),
    (dict(estimator="robust"), "estimator 'robust' is unknown"),
    (dict(lookback=1), "lookback is 1; it must be an integer >= 2"),
    (dict(alignment="pairwise", estimator="ewma"), "'pairwise' works with the 'sample'"),
    (dict(method="hrp", bounds={"BTC-USD": (0, 0.5)}), "bounds is an option of"),
    (dict(risk_budget={"BTC-USD": -0.1}), "risk budget of BTC-USD is -0.1; it must be >= 0"),
    (dict(bounds={"BTC-USD": (0.6, 0.5)}), "bounds of BTC-USD are \\(0.6, 0.5\\)"),
    (dict(sleeve_asset="USDT-USD"), "holds the remainder of a volatility target"),
    (dict(sleeve_asset="BTC-USD", target_volatility=0.3),
     "sleeve_asset is 'BTC-USD'; allowed: 'cash'"),
    (dict(band=-0.1), "band is -0.1; it must be >= 0"),
    (dict(start="2022-01-01", as_of="2021-01-01"), "is not before as_of"),
    (dict(stablecoins="exclude"), "stablecoins 'exclude' is unknown"),
])
def test_spec_validates_on_construction(kwargs, message):
    with pytest.raises(RiskcoreError, match=message):
        PortfolioSpec(**kwargs)


def test_portfolio_compares_with_equals_without_raising():
    first = build_portfolio(PRICES, PortfolioSpec(lookback=60))
    second = build_portfolio(PRICES, PortfolioSpec(lookback=60))
    assert first == first
    assert (first == second) is False
    assert first != second
    assert isinstance(first, Portfolio)


@pytest.mark.parametrize("make", [
    lambda: PortfolioSpec(method="erc2"),
    lambda: riskcore.RebalancePolicy(method="erc2"),
    lambda: riskcore.build_portfolio(PRICES.cov(), method="erc2"),
    lambda: estimate_covariance(to_returns(PRICES), method="erc2"),
    lambda: PortfolioSpec(lookback=1),
    lambda: riskcore.RebalancePolicy(lookback=1),
    lambda: estimate_covariance(to_returns(PRICES), lookback=1),
    lambda: CostModel(fee=-1.0),
    lambda: PortfolioSpec(mode="nope"),
])
def test_the_same_mistake_raises_the_same_error_class(make):
    with pytest.raises(riskcore.ParameterError):
        make()


@pytest.mark.parametrize("case", ["hrp", "minimum_variance, bounds", "oas"])
def test_a_band_breach_re_makes_the_decision_for_methods_without_the_fast_path(case):
    # these methods decide on calendar dates and when a band breaches (one decision per
    # rebalance instead of one per day); every decision is build_portfolio's
    spec = PortfolioSpec(lookback=60, band=0.03, risk_band=0.2,
                         **(SPECS[case] | {"stablecoins": "sleeve"}))
    res = run_backtest(PRICES, spec)
    banded = res.rebalance_reasons[res.rebalance_reasons.str.contains("band")].index
    assert len(banded) >= 2
    for date in banded[:3]:
        decision = build_portfolio(PRICES.loc[:date], spec)
        expected = decision.weights.drop("cash", errors="ignore").reindex(ASSETS, fill_value=0)
        np.testing.assert_allclose(res.target_weights.loc[date], expected, atol=1e-8)
        assert res.weights.loc[date].sum() == pytest.approx(1.0)
    assert res.risk_reference.notna().any().any()


@pytest.mark.parametrize("case", ["risk_budget", "hrp"])
def test_a_coin_with_gaps_is_in_the_same_universe_for_the_decision_and_the_simulator(case):
    """One universe rule (riskcore.window.min_returns): a coin missing a few returns in the
    lookback (here 4 of 60, above the 90% coverage) is allocated by build_portfolio and by
    every rebalance of the simulator alike; one missing 10 of 60 is left out by both."""
    prices = PRICES.copy()
    prices.iloc[200:204, 1] = np.nan  # ETH: 4 days without a price
    prices.iloc[300:310, 3] = np.nan  # DOGE: 10 days without a price
    spec = PortfolioSpec(lookback=60, frequency="W", **SPECS[case])
    res = run_backtest(prices, spec)
    targets = res.target_weights.dropna()
    eth_gap = targets.loc[prices.index[205]:prices.index[255]]
    doge_gap = targets.loc[prices.index[310]:prices.index[360]]
    assert len(eth_gap) >= 5 and len(doge_gap) >= 5
    assert (eth_gap["ETH-USD"] > 0).all()  # covered: 56 of 60 returns
    assert (doge_gap["DOGE-USD"] == 0).all()  # 49-50 of 60 returns: below 54
    for date in [eth_gap.index[0], eth_gap.index[-1], doge_gap.index[0]]:
        decision = build_portfolio(prices.loc[:date], spec)
        expected = decision.weights.drop("cash", errors="ignore").reindex(ASSETS, fill_value=0)
        np.testing.assert_allclose(targets.loc[date], expected, atol=1e-8)
    assert "DOGE-USD" in build_portfolio(prices.loc[:doge_gap.index[0]], spec).excluded


def test_from_the_first_full_lookback_the_spec_runs_the_rebalance_policy_strategy():
    """The universe rule admits a coin one date before its full lookback (59 of 60 returns);
    from the first full window on, the spec and the simulator's own equal-risk-contribution
    policy are the same strategy, to the cent (what bt is compared with)."""
    from riskcore.backtest import RebalancePolicy

    prices = PRICES.drop(columns=["SOL-USD", "USDT-USD"])
    spec = PortfolioSpec(lookback=60, frequency="D", start=prices.index[60])
    policy = RebalancePolicy(method="erc", frequency="D", lookback=60)
    a, b = run_backtest(prices, spec), run_backtest(prices, policy)
    np.testing.assert_allclose(a.equity.to_numpy(), b.equity.loc[a.equity.index].to_numpy(),
                               rtol=1e-12)
    early = run_backtest(prices, PortfolioSpec(lookback=60, frequency="D"))
    assert early.rebalance_dates[0] == prices.index[59]
