"""Constrained risk budgeting (Richard & Roncalli 2019): published examples, KKT, errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import relative_risk_contributions, risk_budget_weights
from riskcore.constrained import (
    GroupConstraint,
    check_feasible,
    group_rows,
    parse_bounds,
    parse_groups,
    solve_constrained_risk_budget,
)
from riskcore.errors import DataError, InfeasibleError
from tests.unit.published_examples import RR_COV, RR_NAMES  # noqa: E402


def random_cov(rng: np.random.Generator, n: int) -> np.ndarray:
    loadings = rng.standard_normal((n, 3))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.05, 0.5, n))
    d = np.sqrt(np.diag(cov))
    vol = rng.uniform(0.2, 1.5, n)
    return cov / np.outer(d, d) * np.outer(vol, vol)


def test_rr2019_table9_unconstrained_erc():
    res = risk_budget_weights(pd.DataFrame(RR_COV, index=RR_NAMES, columns=RR_NAMES))
    expected = [26.8306, 28.6769, 11.4095, 9.7985, 5.6135, 5.9029, 6.6560, 5.1121]
    np.testing.assert_allclose(res.weights * 100, expected, atol=1e-4)
    assert res.portfolio_volatility == pytest.approx(0.047776, abs=1e-6)


def test_rr2019_table9_equities_at_least_30_percent():
    cov = pd.DataFrame(RR_COV, index=RR_NAMES, columns=RR_NAMES)
    res = risk_budget_weights(cov, groups={"equities": (["E1", "E2", "E3", "E4"], 0.30, None)})
    # published CRB solution (ADMM, 4 decimals in percent) and λ* = 3.5906%
    expected = [25.7859, 27.4087, 9.5153, 7.2904, 7.0579, 7.7127, 9.2265, 6.0027]
    np.testing.assert_allclose(res.weights * 100, expected, atol=5e-4)
    assert res.lagrange_multiplier == pytest.approx(0.035906, abs=1e-6)
    assert res.portfolio_volatility == pytest.approx(0.051974, abs=1e-6)
    assert res.weights[["E1", "E2", "E3", "E4"]].sum() == pytest.approx(0.30, abs=1e-12)
    assert res.binding_constraints == ("equities at its minimum total weight 0.3",)
    # the bonds touch no binding constraint: RC_i / b_i equals λ for each of them
    rc_over_b = res.risk_contributions[["B1", "B2", "B3", "B4"]] / (1 / 8)
    np.testing.assert_allclose(rc_over_b, res.lagrange_multiplier, rtol=1e-10)
    assert res.max_relative_error <= 1e-10


def test_rr2019_table9_with_a_general_linear_constraint():
    # second row: x1 - x2 + x5 - x6 <= -5%
    A = np.array([[0, 0, 0, 0, -1.0, -1.0, -1.0, -1.0], [1, -1, 0, 0, 1, -1, 0, 0]])
    sol = solve_constrained_risk_budget(
        RR_COV, np.full(8, 1 / 8), np.zeros(8), np.ones(8), A, np.array([-0.30, -0.05])
    )
    expected = [24.5238, 28.6911, 9.5175, 7.2674, 6.9707, 7.8033, 9.2305, 5.9956]
    assert sol.converged
    np.testing.assert_allclose(sol.weights * 100, expected, atol=5e-4)
    assert sol.lagrange_multiplier == pytest.approx(0.035783, abs=1e-6)


def test_pyrb_reference_example_with_bounds():
    # example of pyrb, J.-C. Richard's reference implementation of Richard & Roncalli (2019)
    corr = np.array(
        [
            [1, 0.1, 0.4, 0.5, 0.5],
            [0.1, 1, 0.7, 0.4, 0.4],
            [0.4, 0.7, 1, 0.8, 0.05],
            [0.5, 0.4, 0.8, 1, 0.1],
            [0.5, 0.4, 0.05, 0.1, 1],
        ]
    )
    vol = np.array([0.15, 0.20, 0.25, 0.3, 0.1])
    bounds = [(0.2, 0.3), (0.2, 0.3), (0.05, 0.15), (0.05, 0.15), (0.25, 0.35)]
    res = risk_budget_weights(np.outer(vol, vol) * corr, bounds=bounds)
    assert res.weights[1] == pytest.approx(0.2, abs=1e-12)
    assert res.relative_risk_contributions[1] == pytest.approx(0.2455, abs=5e-5)
    assert set(res.binding_constraints) == {
        "asset 1 at its minimum weight 0.2",
        "asset 4 at its maximum weight 0.35",
    }


def test_constraints_that_do_not_bind_give_the_risk_budgeting_portfolio():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 6)
    budget = rng.uniform(0.1, 1, 6)
    free = risk_budget_weights(cov, budget)
    bounded = risk_budget_weights(cov, budget, bounds=(0.001, 0.9), groups=[([0, 1], 0.0, 0.99)])
    np.testing.assert_allclose(bounded.weights, free.weights, rtol=1e-12)
    assert bounded.binding_constraints == ()
    assert bounded.lagrange_multiplier == pytest.approx(free.portfolio_volatility)


@pytest.mark.parametrize("n", [5, 20, 60])
def test_kkt_conditions_on_random_problems(n):
    rng = np.random.default_rng(42)
    for trial in range(6):
        cov = random_cov(rng, n)
        b = rng.uniform(0.05, 1, n)
        b /= b.sum()
        lower = np.where(rng.random(n) < 0.3, rng.uniform(0, 0.8 / n, n), 0.0)
        upper = np.where(rng.random(n) < 0.5, rng.uniform(1.1 / n, 2.5 / n, n), 1.0)
        members = tuple(rng.choice(n, max(2, n // 4), replace=False))
        groups = [GroupConstraint("g", members, 0.0, 0.5 * len(members) / n)] if trial % 2 else []
        check_feasible(lower, upper, groups, pd.RangeIndex(n))
        A, c = group_rows(groups, n)
        sol = solve_constrained_risk_budget(cov, b, lower, upper, A, c)
        assert sol.converged, sol.status
        x, lam = sol.weights, sol.lagrange_multiplier
        assert x.sum() == pytest.approx(1.0, abs=1e-14)
        assert (x >= lower - 1e-14).all() and (x <= upper + 1e-14).all()
        assert (A @ x <= c + 1e-14).all()
        # stationarity of sigma(x) - λ Σ b ln x with the returned multipliers
        vol = np.sqrt(x @ cov @ x)
        force = -sol.lower_multipliers + sol.upper_multipliers + A.T @ sol.group_multipliers
        rc = x * (cov @ x) / vol
        np.testing.assert_allclose(rc + x * force, lam * b, rtol=1e-9)
        # dual feasibility and complementarity
        assert (sol.lower_multipliers >= 0).all() and (sol.upper_multipliers >= 0).all()
        assert (sol.group_multipliers >= 0).all()
        assert np.all(sol.upper_multipliers * (upper - x) <= 1e-12)
        assert np.all(sol.lower_multipliers * (x - lower) <= 1e-12)
        # assets touching no binding constraint share RC_i / b_i = λ
        untouched = (sol.lower_multipliers == 0) & (sol.upper_multipliers == 0)
        if groups:
            untouched &= ~np.isin(np.arange(n), members) | (sol.group_multipliers[0] == 0)
        np.testing.assert_allclose(rc[untouched] / b[untouched], lam, rtol=1e-9)


def test_scale_invariance_and_labels():
    rng = np.random.default_rng(42)
    names = ["BTC-USD", "ETH-USD", "SOL-USD", "XRP-USD", "USDT-USD"]
    cov = pd.DataFrame(random_cov(rng, 5), index=names, columns=names)
    bounds = {"BTC-USD": (None, 0.25), "USDT-USD": (0.1, 0.3)}
    groups = {"alts": (["SOL-USD", "XRP-USD"], None, 0.2)}
    daily = risk_budget_weights(cov / 365, bounds=bounds, groups=groups)
    yearly = risk_budget_weights(cov, bounds=bounds, groups=groups)
    np.testing.assert_allclose(daily.weights, yearly.weights, rtol=1e-9)
    assert list(yearly.weights.index) == names
    assert yearly.method == "constrained risk budgeting"
    assert yearly.weights["BTC-USD"] <= 0.25 + 1e-14
    assert 0.1 - 1e-14 <= yearly.weights["USDT-USD"] <= 0.3 + 1e-14
    assert yearly.weights[["SOL-USD", "XRP-USD"]].sum() <= 0.2 + 1e-14
    pd.testing.assert_series_equal(
        yearly.relative_risk_contributions, relative_risk_contributions(yearly.weights, cov)
    )


def test_zero_budget_asset_with_a_minimum_weight():
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 4)
    res = risk_budget_weights(cov, [0.4, 0.3, 0.3, 0.0], bounds=[(0, 1), (0, 1), (0, 1), (0.1, 1)])
    # here the zero-budget asset hedges the others: it holds more than its minimum and its
    # risk contribution is zero (its marginal risk is zero at the optimum)
    assert res.weights[3] >= 0.1
    assert res.relative_risk_contributions[3] == pytest.approx(0.0, abs=1e-12)
    assert res.max_relative_error <= 1e-10
    forced = risk_budget_weights(
        cov, [0.4, 0.3, 0.3, 0.0], bounds=[(0, 1), (0, 1), (0, 1), (0.1, 0.1 + 1e-9)]
    )
    assert forced.weights[3] == pytest.approx(0.1, abs=2e-9)


# ----- parsing and infeasibility messages ---------------------------------------------------

LABELS = pd.Index(["BTC-USD", "ETH-USD", "SOL-USD", "USDT-USD"])


def test_parse_bounds_forms():
    lo, hi = parse_bounds((0.05, 0.5), LABELS)
    np.testing.assert_allclose(lo, 0.05)
    np.testing.assert_allclose(hi, 0.5)
    lo, hi = parse_bounds({"USDT-USD": (0.1, None), 0: (None, 0.4)}, LABELS)
    np.testing.assert_allclose(lo, [0, 0, 0, 0.1])
    np.testing.assert_allclose(hi, [0.4, 1, 1, 1])
    lo, hi = parse_bounds([(0, 0.3)] * 4, LABELS)
    np.testing.assert_allclose(hi, 0.3)


def test_bounds_messages():
    with pytest.raises(DataError, match=r"bounds has 3 pairs but the covariance matrix has 4"):
        parse_bounds([(0, 1)] * 3, LABELS)
    with pytest.raises(DataError, match=r"bounds names 'DOGE-USD', which is not in the cov"):
        parse_bounds({"DOGE-USD": (0, 1)}, LABELS)
    with pytest.raises(DataError, match=r"bounds for ETH-USD is 0.5; give a \(minimum, maximum\)"):
        parse_bounds({"ETH-USD": 0.5}, LABELS)
    with pytest.raises(DataError, match=r"minimum weight of SOL-USD is -0.1; .* must be >= 0"):
        parse_bounds({"SOL-USD": (-0.1, 0.5)}, LABELS)
    with pytest.raises(InfeasibleError, match=r"bounds for BTC-USD conflict: maximum 0.1 is below"):
        parse_bounds({"BTC-USD": (0.2, 0.1)}, LABELS)
    with pytest.raises(InfeasibleError, match=r"maximum weight of BTC-USD is 0; it must be > 0"):
        parse_bounds({"BTC-USD": (0, 0)}, LABELS)


def test_groups_messages():
    with pytest.raises(DataError, match=r"group 1 is .*; give \(members, minimum, maximum\)"):
        parse_groups([(["BTC-USD"], 0.1)], LABELS)
    with pytest.raises(DataError, match=r"L1 names 'ADA-USD', which is not in the covariance"):
        parse_groups({"L1": (["ETH-USD", "ADA-USD"], 0, 0.5)}, LABELS)
    with pytest.raises(InfeasibleError, match=r"L1 conflicts with itself: minimum 0.6 > maximum"):
        parse_groups({"L1": (["ETH-USD", "SOL-USD"], 0.6, 0.5)}, LABELS)
    with pytest.raises(DataError, match=r"L1 has no members"):
        parse_groups({"L1": ([], 0, 0.5)}, LABELS)


def _feasible(bounds=None, groups=None):
    lo, hi = parse_bounds(bounds, LABELS)
    check_feasible(lo, hi, parse_groups(groups, LABELS), LABELS)


def test_infeasible_messages_name_the_conflict():
    with pytest.raises(InfeasibleError, match=r"maximum weights sum to 0.8 < 1"):
        _feasible(bounds=(0, 0.2))
    with pytest.raises(InfeasibleError, match=r"minimum weights sum to 1.2 > 1"):
        _feasible(bounds=(0.3, 1))
    with pytest.raises(
        InfeasibleError,
        match=r"stables \(USDT-USD\) needs at least 0.3 but its members' maximum weights sum "
        r"to 0.2: the group minimum conflicts with the asset bounds",
    ):
        _feasible(bounds={"USDT-USD": (0, 0.2)}, groups={"stables": (["USDT-USD"], 0.3, None)})
    with pytest.raises(
        InfeasibleError, match=r"L1 \(ETH-USD, SOL-USD\) allows at most 0.2 but its"
    ):
        _feasible(
            bounds={"ETH-USD": (0.15, 1), "SOL-USD": (0.1, 1)},
            groups={"L1": (["ETH-USD", "SOL-USD"], None, 0.2)},
        )
    with pytest.raises(InfeasibleError, match=r"other assets' minimum weights sum to 0.5"):
        _feasible(bounds={"BTC-USD": (0.5, 1)}, groups={"L1": (["ETH-USD", "SOL-USD"], 0.6, None)})
    with pytest.raises(InfeasibleError, match=r"other assets' maximum weights sum to 0.3"):
        _feasible(bounds={"BTC-USD": (0, 0.3)}, groups={"rest": ([1, 2, 3], None, 0.5)})
    with pytest.raises(InfeasibleError, match=r"big \(BTC-USD, ETH-USD\) conflicts with small"):
        _feasible(
            groups={
                "big": (["BTC-USD", "ETH-USD"], 0.7, None),
                "small": (["SOL-USD", "USDT-USD"], 0.4, None),
            }
        )


def test_no_solution_is_reported_not_hidden():
    # a forced holding plus a hedging asset (negative correlation) already exceed 1 at the
    # lowest risk: no λ makes the weights sum to 1
    vol = np.array([0.5, 0.5, 0.5])
    corr = np.array([[1.0, -0.9, 0.0], [-0.9, 1.0, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(InfeasibleError, match=r"no constrained risk-budgeting portfolio exists"):
        risk_budget_weights(np.outer(vol, vol) * corr, bounds=[(0.7, 1), (0, 1), (0, 1)])


def test_pinned_weights():
    vol = np.array([0.5, 0.6, 0.7, 0.8])
    corr = np.full((4, 4), 0.5)
    np.fill_diagonal(corr, 1.0)
    cov = np.outer(vol, vol) * corr
    res = risk_budget_weights(cov, bounds=[(0.3, 0.3), (0, 1), (0, 1), (0.3, 0.3)])
    np.testing.assert_allclose(res.weights[[0, 3]], 0.3, atol=1e-14)
    # the two free assets share RC_i / b_i = λ
    np.testing.assert_allclose(res.risk_contributions[[1, 2]] / 0.25, res.lagrange_multiplier)
    assert res.binding_constraints[:2] == (
        "asset 0 fixed at weight 0.3",
        "asset 3 fixed at weight 0.3",
    )
    every = risk_budget_weights(cov, bounds=[(0.4, 0.4), (0.2, 0.2), (0.2, 0.2), (0.2, 0.2)])
    np.testing.assert_allclose(every.weights, [0.4, 0.2, 0.2, 0.2])
