"""Constrained and cluster risk budgeting on expected shortfall (riskcore.tail_budget).

Constrained: Richard & Roncalli's (2019) program with ES for volatility,
``min ES(y) - lam sum b_i ln y_i`` s.t. bounds and group rows ``A y <= c``, ``lam`` such that
``sum y = 1``. Its optimality conditions, multiplied by ``y_i``:
``RC_i + y_i (A' nu)_i - y_i zl_i + y_i zu_i = lam b_i`` with ``nu, zl, zu >= 0``
complementary to their slacks. The tests recompute them from the exact Euler contributions
(:func:`riskcore.tail_budget.es_contributions`), independently of the solver's multipliers.
"""

import math

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import risk_budget_weights
from riskcore.errors import InfeasibleError
from riskcore.hierarchical import cluster_assets, cluster_risk_budget_weights
from riskcore.tail_budget import (
    es_contributions,
    tail_cluster_risk_budget_weights,
    tail_risk_budget_weights,
)
from tests.unit.test_tail_budget import student_scenarios

MEASURES = ["historical", "cornish-fisher"]


def accuracy(res):
    """What the measure allows: rounding for Cornish-Fisher (smooth), the one-scenario
    swap resolution (times the number of assets) for historical ES (piecewise linear)."""
    return 1e-8 if res.measure == "cornish-fisher" else max(1e-8, 5 * res.resolution)


def normal_scenarios(n=20000, seed=42):
    vol = np.array([0.02, 0.03, 0.04, 0.05, 0.06])
    corr = np.full((5, 5), 0.5) + 0.5 * np.eye(5)
    rng = np.random.default_rng(seed)
    r = rng.multivariate_normal(np.zeros(5), np.outer(vol, vol) * corr, size=n)
    return pd.DataFrame(r, columns=[f"C{i}" for i in range(5)])


def sampling_error(R, w, k):
    """Largest relative standard error of the ES gradient (mean tail loss per asset)."""
    values = R.to_numpy()
    tail = np.argsort(values @ w)[:k]
    losses = -values[tail]
    return float(np.max(losses.std(axis=0, ddof=1) / math.sqrt(k) / losses.mean(axis=0)))


# ----------------------------------------------------------------------------- constraints


@pytest.mark.parametrize("measure", MEASURES)
def test_group_maximum_binds_with_kkt_conditions(measure):
    R = student_scenarios()
    res = tail_risk_budget_weights(R, measure=measure,
                                   groups={"big": (["C0", "C1"], 0.0, 0.4)})
    assert res.converged
    assert res.binding_constraints == ("big at its maximum total weight 0.4",)
    w = res.weights
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    assert w[["C0", "C1"]].sum() == pytest.approx(0.4, abs=1e-10)
    # exact contributions, recomputed
    rc = es_contributions(R, w, measure=measure).risk_contributions
    b = res.budget
    outside = ["C2", "C3", "C4"]
    lam = (rc[outside] / b[outside]).mean()
    # assets touching no binding constraint share RC_i / b_i = lam
    assert np.max(np.abs(rc[outside] / (lam * b[outside]) - 1)) <= accuracy(res)
    assert lam == pytest.approx(res.lagrange_multiplier, rel=accuracy(res))
    # the group's members give up risk in proportion to their weights: one nu > 0
    nu = (lam * b[["C0", "C1"]] - rc[["C0", "C1"]]) / w[["C0", "C1"]]
    assert nu.min() > 0
    # an error e in RC_i / (lam b_i) moves nu_i by lam b_i e / w_i
    slack = accuracy(res) * float(np.max(lam * b[["C0", "C1"]] / w[["C0", "C1"]]))
    assert nu.max() - nu.min() <= 2 * slack
    assert res.max_relative_error <= accuracy(res)


@pytest.mark.parametrize("measure", MEASURES)
def test_group_minimum_binds_and_its_members_carry_more(measure):
    R = student_scenarios()
    res = tail_risk_budget_weights(R, measure=measure,
                                   groups={"small": (["C3", "C4"], 0.45, None)})
    assert res.binding_constraints == ("small at its minimum total weight 0.45",)
    assert res.weights[["C3", "C4"]].sum() == pytest.approx(0.45, abs=1e-10)
    rrc = res.relative_risk_contributions
    others = rrc[["C0", "C1", "C2"]]
    assert np.max(np.abs(others / others.mean() - 1)) <= accuracy(res)
    assert (rrc[["C3", "C4"]] > others.max()).all()
    assert res.max_relative_error <= accuracy(res)


def test_cornish_fisher_bounds_one_sided_conditions():
    R = student_scenarios(seed=5)
    res = tail_risk_budget_weights(R, measure="cornish-fisher",
                                   bounds={"C0": (0.0, 0.2), "C4": (0.2, 1.0)})
    assert set(res.binding_constraints) == {"C0 at its maximum weight 0.2",
                                            "C4 at its minimum weight 0.2"}
    assert res.weights["C0"] == pytest.approx(0.2, abs=1e-12)
    assert res.weights["C4"] == pytest.approx(0.2, abs=1e-12)
    ratio = res.risk_contributions / res.budget
    free = ratio[["C1", "C2", "C3"]]
    np.testing.assert_allclose(free, res.lagrange_multiplier, rtol=1e-8)
    assert ratio["C0"] < res.lagrange_multiplier < ratio["C4"]  # zu > 0 at C0, zl > 0 at C4
    assert res.max_relative_error <= 1e-8


@pytest.mark.parametrize("measure", MEASURES)
def test_constraints_that_do_not_bind_give_the_unconstrained_solution(measure):
    R = student_scenarios(seed=5)
    free = tail_risk_budget_weights(R, measure=measure)
    loose = tail_risk_budget_weights(R, measure=measure, bounds=(0.01, 0.9),
                                     groups=[(["C0", "C1"], 0.1, 0.95)])
    assert loose.binding_constraints == ()
    np.testing.assert_allclose(loose.weights, free.weights,
                               atol=1e-8 if measure == "cornish-fisher" else 1e-3)
    assert loose.max_relative_error <= accuracy(loose)
    # lam is ES itself when nothing binds (sum of RC_i = lam sum b_i = ES)
    assert loose.lagrange_multiplier == pytest.approx(loose.expected_shortfall,
                                                      rel=accuracy(loose))


def test_real_coins_stablecoin_group_cap(yahoo_returns):
    res = tail_risk_budget_weights(yahoo_returns, groups={"stable": (["USDT", "USDC"], 0, 0.2)})
    assert res.converged
    assert res.weights[["USDT", "USDC"]].sum() == pytest.approx(0.2, abs=1e-10)
    assert res.binding_constraints == ("stable at its maximum total weight 0.2",)
    coins = res.relative_risk_contributions.drop(["USDT", "USDC"])
    assert np.max(np.abs(coins / coins.mean() - 1)) <= max(1e-8, 14 * res.resolution)
    assert res.max_relative_error <= max(1e-8, 14 * res.resolution)


@pytest.mark.parametrize("measure", MEASURES)
def test_scaling_returns_scales_es_and_lam_not_weights(measure):
    R = student_scenarios()
    kw = dict(measure=measure, bounds={"C0": (0, 0.25)}, groups={"g": (["C3", "C4"], 0.3, 1)})
    one = tail_risk_budget_weights(R, **kw)
    three = tail_risk_budget_weights(3 * R, **kw)
    np.testing.assert_allclose(three.weights, one.weights, atol=1e-9)
    assert three.expected_shortfall == pytest.approx(3 * one.expected_shortfall, rel=1e-9)
    assert three.lagrange_multiplier == pytest.approx(3 * one.lagrange_multiplier, rel=1e-6)
    np.testing.assert_allclose(three.risk_contributions, 3 * one.risk_contributions,
                               rtol=1e-7)


def test_normal_scenarios_give_the_constrained_volatility_weights():
    """For zero-mean normal returns ES(w) = c sigma(w) with c = phi(z) / (1 - level), so
    the constrained ES program is the constrained volatility one with lam / c for lam:
    the same weights, up to sampling error.

    Sampling error (as in tests/unit/test_tail_budget.py): the ES gradient of asset i is
    its mean loss over the k = 1000 tail scenarios, relative standard error
    se_i = sd(L_i | tail) / (sqrt(k) m_i) (1-2% here); weights move by at most about
    2 max se; we allow 4 max se_i. Seeds 0-7 gave at most 0.97 max se (1.5 for the
    cluster variant below).
    """
    R = normal_scenarios()
    groups = {"big": (["C3", "C4"], 0.0, 0.2)}
    bounds = {"C0": (0.0, 0.3)}
    es = tail_risk_budget_weights(R, bounds=bounds, groups=groups)
    vol = risk_budget_weights(R.cov(), bounds=bounds, groups=groups)
    assert set(es.binding_constraints) == set(vol.binding_constraints) == {
        "C0 at its maximum weight 0.3", "big at its maximum total weight 0.2"}
    se = sampling_error(R, es.weights.to_numpy(), es.n_tail_scenarios)
    assert es.n_tail_scenarios == 1000
    assert np.max(np.abs(es.weights / vol.weights - 1)) <= 4 * se


def test_constraint_errors_name_the_conflict():
    R = student_scenarios(n=300)
    with pytest.raises(InfeasibleError, match="g .*needs at least 0.9"):
        tail_risk_budget_weights(R, bounds={"C0": (0, 0.3), "C1": (0, 0.3)},
                                 groups={"g": (["C0", "C1"], 0.9, 1.0)})
    # the group's only budgeted member is capped below the group minimum
    with pytest.raises(InfeasibleError, match="g .*needs at least 0.5"):
        tail_risk_budget_weights(R, [0.25, 0, 0.25, 0.25, 0.25], bounds={"C0": (0, 0.4)},
                                 groups={"g": (["C0", "C1"], 0.5, 1.0)})


# ----------------------------------------------------------------------------- clusters


@pytest.mark.parametrize("measure", MEASURES)
def test_cluster_es_shares_equal_group_budgets(measure):
    R = student_scenarios(p=6)
    groups = {"a": ["C0", "C1", "C2"], "b": ["C3"], "c": ["C4", "C5"]}
    budget = {"a": 0.5, "b": 0.2, "c": 0.3}
    res = tail_cluster_risk_budget_weights(R, groups=groups, group_budget=budget,
                                           measure=measure)
    assert res.method == "expected-shortfall cluster risk budgeting"
    assert res.asset_groups.tolist() == ["a", "a", "a", "b", "c", "c"]
    shares = res.relative_risk_contributions.groupby(res.asset_groups).sum()
    np.testing.assert_allclose(shares[list(budget)], list(budget.values()),
                               atol=accuracy(res))
    # equal ES inside each group: B_g / n_g per member
    np.testing.assert_allclose(res.relative_risk_contributions,
                               [0.5 / 3] * 3 + [0.2] + [0.15] * 2, atol=accuracy(res))
    assert res.risk_contributions.sum() == pytest.approx(res.expected_shortfall, rel=1e-13)


def test_cluster_es_uses_the_correlation_clusters_of_the_given_covariance():
    R = student_scenarios(p=6)
    cov = R.cov() * 365
    res = tail_cluster_risk_budget_weights(R, n_clusters=2, cov=cov)
    vol = cluster_risk_budget_weights(cov, n_clusters=2)
    pd.testing.assert_series_equal(res.asset_groups, vol.asset_groups)
    pd.testing.assert_series_equal(res.asset_groups, cluster_assets(cov, 2))
    np.testing.assert_allclose(res.budget, vol.budget, rtol=1e-15)
    shares = res.relative_risk_contributions.groupby(res.asset_groups).sum()
    np.testing.assert_allclose(shares, 0.5, atol=accuracy(res))


def test_normal_scenarios_give_the_volatility_cluster_weights():
    """Cluster ES budgeting is ES budgeting with the per-asset budgets B_g / n_g, so for
    zero-mean normal returns it gives the volatility variant's weights; sampling error as
    in test_normal_scenarios_give_the_constrained_volatility_weights (4 max se_i; seeds 0-7
    gave at most 1.5 max se)."""
    R = normal_scenarios()
    groups = {"low": ["C0", "C1"], "high": ["C2", "C3", "C4"]}
    es = tail_cluster_risk_budget_weights(R, groups=groups, group_budget={"low": 0.3,
                                                                          "high": 0.7})
    vol = cluster_risk_budget_weights(R.cov(), groups=groups,
                                      group_budget={"low": 0.3, "high": 0.7})
    se = sampling_error(R, es.weights.to_numpy(), es.n_tail_scenarios)
    assert np.max(np.abs(es.weights / vol.weights - 1)) <= 4 * se


def test_cluster_scaling_and_zero_group_budget():
    R = student_scenarios(p=6)
    groups = {"a": ["C0", "C1", "C2"], "b": ["C3", "C4", "C5"]}
    one = tail_cluster_risk_budget_weights(R, groups=groups, group_budget={"a": 1, "b": 0})
    assert (one.weights[["C3", "C4", "C5"]] == 0).all()
    two = tail_cluster_risk_budget_weights(2 * R, groups=groups, group_budget={"a": 1, "b": 0})
    np.testing.assert_allclose(two.weights, one.weights, atol=1e-12)
    assert two.expected_shortfall == pytest.approx(2 * one.expected_shortfall, rel=1e-12)


@pytest.fixture(scope="module")
def yahoo_returns(yahoo_daily_files):
    from riskcore.estimators import to_returns
    from riskcore.ingest import read_prices

    prices = pd.concat([read_prices(f) for f in yahoo_daily_files], axis=1, sort=True)
    return to_returns(prices).loc["2020-09-23":"2025-02-11"]
