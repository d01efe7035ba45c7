"""Expected-shortfall budgeting as a choice of the one specification (issue 13 in issue 9's
engine): PortfolioSpec.risk_measure, decide's ES path, and the simulator deciding it."""

import json
import math

import numpy as np
import pandas as pd
import pytest

from riskcore.backtest import _has_fast_path, _policy_of, _prepare, run_backtest
from riskcore.errors import RiskcoreError
from riskcore.portfolio import build_portfolio
from riskcore.spec import RISK_MEASURES, SCHEMA_VERSION, PortfolioSpec
from riskcore.tail_budget import es_contributions
from tests.unit.test_backtest_spec import ASSETS, make_prices

PRICES = make_prices(n_days=700)


# ---------------------------------------------------------------------------- the spec


def test_default_measure_is_volatility_and_es_measures_are_named():
    spec = PortfolioSpec()
    assert spec.risk_measure == "volatility" and spec.es_level == 0.95
    assert spec.es_measure is None
    assert RISK_MEASURES == ("volatility", "historical_es", "cornish_fisher_es")
    assert PortfolioSpec(risk_measure="historical_es").es_measure == "historical"
    assert PortfolioSpec(risk_measure="cornish_fisher_es").es_measure == "cornish-fisher"


def test_es_spec_round_trips_and_older_schemas_load_with_volatility():
    spec = PortfolioSpec(risk_measure="historical_es", es_level=0.975, lookback=200,
                         bounds={"BTC-USD": (0.0, 0.4)}, frequency="M")
    text = spec.to_json()
    data = json.loads(text)
    assert data["schema_version"] == SCHEMA_VERSION == 3
    assert data["risk_measure"] == "historical_es" and data["es_level"] == 0.975
    assert PortfolioSpec.from_json(text) == spec
    for version in (1, 2):
        old = PortfolioSpec.from_json(json.dumps({"schema_version": version, "lookback": 90}))
        assert old.risk_measure == "volatility" and old.es_level == 0.95


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(risk_measure="cvar"), "risk_measure 'cvar' is unknown; allowed: 'volatility', "
                                "'historical_es', 'cornish_fisher_es'"),
    (dict(risk_measure="historical_es", es_level=1.0), "es_level is 1.0; it must lie strictly"),
    (dict(risk_measure="historical_es", es_level=True), "es_level is True"),
    (dict(es_level=0.99), "es_level 0.99 is used by the expected-shortfall risk measures only"),
    (dict(risk_measure="historical_es", method="hrp"),
     "risk_measure 'historical_es' is an option of 'risk_budget', 'cluster_risk_budget', "
     "not of method 'hrp'"),
    (dict(risk_measure="cornish_fisher_es", method="minimum_variance"),
     "not of method 'minimum_variance'"),
    (dict(risk_measure="historical_es", method="cluster_risk_budget",
          bounds={"BTC-USD": (0.0, 0.3)}),
     "bounds is an option of 'risk_budget', 'minimum_variance', not of method "
     "'cluster_risk_budget'"),
])
def test_es_options_are_validated(kwargs, message):
    with pytest.raises(RiskcoreError, match=message):
        PortfolioSpec(**kwargs)


def test_es_measures_take_the_options_of_their_method():
    groups = [("majors", ("BTC-USD", "ETH-USD"), 0.0, 0.5)]
    for measure in ("historical_es", "cornish_fisher_es"):
        spec = PortfolioSpec(risk_measure=measure, group_limits=groups,
                             bounds={"BTC-USD": (0.0, 0.3)})
        assert PortfolioSpec.from_json(spec.to_json()) == spec
        cluster = PortfolioSpec(risk_measure=measure, method="cluster_risk_budget",
                                n_clusters=2)
        assert PortfolioSpec.from_json(cluster.to_json()) == cluster


# ---------------------------------------------------------------------------- the decision


def test_es_decision_meets_the_budgets_on_the_windows_returns():
    budget = {"BTC-USD": 2, "ETH-USD": 1, "SOL-USD": 1, "DOGE-USD": 1}
    spec = PortfolioSpec(lookback=400, risk_measure="historical_es", risk_budget=budget,
                         stablecoins="sleeve")
    port = build_portfolio(PRICES, spec)
    tail = port.tail
    assert tail is not None and tail.measure == "historical" and tail.level == 0.95
    # the stablecoin stays in the sleeve, exactly as for volatility budgeting
    assert port.weights["USDT-USD"] == 0.0 and port.sleeve == ("USDT-USD",)
    assert "USDT-USD" not in tail.weights.index
    assert port.weights.sum() == pytest.approx(1.0)
    # the portfolio's weights are the ES weights; its ES contributions match the budgets
    # within what the piecewise-linear measure resolves
    np.testing.assert_allclose(port.weights[tail.weights.index], tail.weights, atol=1e-15)
    expected = pd.Series(budget, dtype=float) / 5
    share = tail.relative_risk_contributions[expected.index]
    assert np.max(np.abs(share / expected - 1)) == pytest.approx(tail.max_relative_error)
    assert tail.max_relative_error <= max(tail.resolution, 1e-8)
    # recomputed from the window's returns: the same decomposition
    window = PRICES.pct_change(fill_method=None).iloc[-400:][list(expected.index)]
    again = es_contributions(window, port.weights[expected.index])
    np.testing.assert_allclose(again.relative_risk_contributions, share, atol=1e-12)
    # volatility fields are the volatility decomposition of the same weights
    assert port.relative_risk_contributions.sum() == pytest.approx(1.0)
    assert port.allocation.budget_error == tail.max_relative_error
    assert port.estimate.n_observations == 400


def test_es_portfolio_differs_from_volatility_and_follows_the_volatility_target():
    vol = build_portfolio(PRICES, PortfolioSpec(lookback=400, stablecoins="sleeve"))
    spec = PortfolioSpec(lookback=400, stablecoins="sleeve", risk_measure="historical_es",
                         target_volatility=0.2)
    port = build_portfolio(PRICES, spec)
    assert vol.tail is None
    assert port.portfolio_volatility == pytest.approx(0.2, rel=1e-9)
    assert port.cash == "cash" and port.cash_weight > 0
    risky = port.weights.drop("cash")
    # the target scales the ES weights; relative ES shares are unchanged by the scale
    np.testing.assert_allclose(risky[port.tail.weights.index] / risky.sum(),
                               port.tail.weights, atol=1e-12)


def test_es_bounds_bind_and_are_reported():
    spec = PortfolioSpec(lookback=400, stablecoins="sleeve", risk_measure="historical_es",
                         bounds={"DOGE-USD": (0.0, 0.1)})
    port = build_portfolio(PRICES, spec)
    assert port.weights["DOGE-USD"] == pytest.approx(0.1, abs=1e-8)
    assert any("DOGE-USD at its maximum weight 0.1" in n for n in port.notes)
    assert port.allocation.binding_constraints == port.tail.binding_constraints


def test_es_group_limit_binds_with_the_constrained_conditions():
    spec = PortfolioSpec(lookback=400, stablecoins="sleeve", risk_measure="historical_es",
                         group_limits=[("majors", ("BTC-USD", "ETH-USD"), 0.0, 0.4)])
    port = build_portfolio(PRICES, spec)
    tail = port.tail
    assert port.weights[["BTC-USD", "ETH-USD"]].sum() == pytest.approx(0.4, abs=1e-9)
    assert tail.binding_constraints == ("majors at its maximum total weight 0.4",)
    assert any("majors at its maximum total weight 0.4" in n for n in port.notes)
    # the other coins share the tail equally (RC_i / b_i = lam), to the measure's resolution
    rest = tail.risk_contributions[["SOL-USD", "DOGE-USD"]] / tail.budget[["SOL-USD",
                                                                            "DOGE-USD"]]
    assert np.max(np.abs(rest / tail.lagrange_multiplier - 1)) <= max(1e-8,
                                                                       4 * tail.resolution)
    assert tail.max_relative_error <= max(1e-8, 4 * tail.resolution)
    # the group table reports the group (its weight and volatility share)
    assert port.group_table.loc["majors", "weight"] == pytest.approx(0.4, abs=1e-9)
    assert port.allocation.lagrange_multiplier == tail.lagrange_multiplier


def test_cornish_fisher_bounds_bind():
    spec = PortfolioSpec(lookback=400, stablecoins="sleeve", risk_measure="cornish_fisher_es",
                         bounds={"BTC-USD": (0.0, 0.2)})
    port = build_portfolio(PRICES, spec)
    assert port.weights["BTC-USD"] == pytest.approx(0.2, abs=1e-12)
    assert port.tail.binding_constraints == ("BTC-USD at its maximum weight 0.2",)
    assert port.tail.max_relative_error <= 1e-8


def test_cluster_es_decision_gives_each_group_its_share_of_es():
    groups = {"majors": ("BTC-USD", "ETH-USD"), "alts": ("SOL-USD", "DOGE-USD")}
    spec = PortfolioSpec(lookback=400, stablecoins="sleeve", method="cluster_risk_budget",
                         risk_measure="historical_es", clusters=groups,
                         cluster_budget={"majors": 0.7, "alts": 0.3})
    port = build_portfolio(PRICES, spec)
    tail = port.tail
    assert tail.method == "expected-shortfall cluster risk budgeting"
    shares = tail.relative_risk_contributions.groupby(tail.asset_groups).sum()
    assert shares["majors"] == pytest.approx(0.7, abs=max(1e-8, 4 * tail.resolution))
    assert shares["alts"] == pytest.approx(0.3, abs=max(1e-8, 4 * tail.resolution))
    # the group table (as for volatility cluster budgeting): group weights and budgets
    weights = tail.weights.groupby(tail.asset_groups).sum()
    np.testing.assert_allclose(port.group_table.loc[["majors", "alts"], "weight"],
                               weights[["majors", "alts"]], atol=1e-12)
    np.testing.assert_allclose(port.group_table.loc[["majors", "alts"], "risk_budget"],
                               [0.7, 0.3], atol=1e-12)
    # correlation clusters, capped at the budgeted assets (4; the stablecoin is outside)
    auto = build_portfolio(PRICES, PortfolioSpec(
        lookback=400, stablecoins="sleeve", method="cluster_risk_budget",
        risk_measure="historical_es", n_clusters=9))
    assert auto.tail.asset_groups.nunique() == 4


def test_a_short_window_says_the_tail_is_thin():
    spec = PortfolioSpec(lookback=100, risk_measure="historical_es", stablecoins="sleeve")
    port = build_portfolio(PRICES, spec)
    assert port.tail.n_tail_scenarios == 5
    assert any("holds only 5 scenario(s), fewer than 20" in n for n in port.notes)


def test_normal_scenarios_give_the_volatility_budgeting_decision():
    """ES is proportional to volatility for zero-mean normal returns, so the ES spec must
    decide the volatility spec's weights up to sampling error.

    Sampling error (as in tests/unit/test_tail_budget.py): the ES gradient of asset i is its
    mean loss over the k = 1000 tail scenarios, with relative standard error
    se_i = sd(L_i | tail) / (sqrt(k) m_i) (1-2% here); weights move by at most 2 max|e_i|,
    and we allow 4 max se_i.
    """
    vol = np.array([0.02, 0.03, 0.04, 0.05])
    corr = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    rng = np.random.default_rng(42)
    n = 20000
    r = rng.multivariate_normal(np.zeros(4), np.outer(vol, vol) * corr, size=n)
    index = pd.date_range("1970-01-01", periods=n + 1, tz="UTC")
    names = ["BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD"]
    prices = pd.DataFrame(100 * np.vstack([np.ones(4), np.cumprod(1 + r, axis=0)]),
                          index=index, columns=names)
    budget = dict(zip(names, [0.4, 0.3, 0.2, 0.1], strict=True))
    es = build_portfolio(prices, PortfolioSpec(lookback=n, risk_budget=budget,
                                               risk_measure="historical_es"))
    volatility = build_portfolio(prices, PortfolioSpec(lookback=n, risk_budget=budget))
    w = es.weights[names].to_numpy()
    tail = np.argsort(r @ w)[: es.tail.n_tail_scenarios]
    losses = -r[tail]
    se = losses.std(axis=0, ddof=1) / math.sqrt(len(tail)) / losses.mean(axis=0)
    assert es.tail.n_tail_scenarios == 1000
    assert np.max(np.abs(w / volatility.weights[names].to_numpy() - 1)) <= 4 * se.max()


# ---------------------------------------------------------------------------- the simulator


def test_es_specs_never_take_the_volatility_fast_path():
    assert _has_fast_path(PortfolioSpec())
    assert not _has_fast_path(PortfolioSpec(risk_measure="historical_es"))
    assert not _has_fast_path(PortfolioSpec(risk_measure="cornish_fisher_es"))
    # realized volatility contributions are compared with the target's own, not with the
    # budget (which is a share of ES, not of volatility)
    for measure, by_budget in [("volatility", True), ("historical_es", False)]:
        spec = PortfolioSpec(lookback=300, frequency="M", risk_measure=measure)
        prep = _prepare(PRICES, _policy_of(spec), all_targets=False, spec=spec)
        assert prep.budget_reference is by_budget


@pytest.mark.parametrize("spec", [
    dict(risk_measure="historical_es", stablecoins="sleeve", target_volatility=0.3),
    dict(risk_measure="historical_es", bounds={"BTC-USD": (0.0, 0.3)}, es_level=0.9),
    dict(risk_measure="cornish_fisher_es", stablecoins="sleeve"),
    dict(risk_measure="historical_es", stablecoins="sleeve", bounds={"SOL-USD": (0.0, 0.2)},
         group_limits=[("majors", ("BTC-USD", "ETH-USD"), 0.0, 0.5)]),
    dict(risk_measure="historical_es", stablecoins="sleeve", method="cluster_risk_budget",
         n_clusters=2),
], ids=["historical, sleeve, target", "historical, bounds, 90%", "cornish-fisher",
        "historical, bounds and group limits", "historical, clusters"])
def test_simulator_target_is_the_es_decision_on_the_data_known_then(spec):
    spec = PortfolioSpec(lookback=300, frequency="M", **spec)
    res = run_backtest(PRICES, spec)
    dates = res.target_weights.dropna().index
    assert len(dates) >= 10
    for date in dates[[0, 3, -1]]:  # before and after SOL has a full window
        decision = build_portfolio(PRICES.loc[:date], spec)
        assert decision.tail is not None
        expected = decision.weights.drop("cash", errors="ignore").reindex(ASSETS, fill_value=0)
        np.testing.assert_allclose(res.target_weights.loc[date], expected, atol=1e-10,
                                   err_msg=f"{date:%Y-%m-%d}")
    assert np.isfinite(res.metrics.risk_balance_error)
