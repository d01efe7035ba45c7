"""Expected-shortfall risk budgeting and Euler contributions (riskcore.tail_budget)."""

import math

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import (
    AllocationResult,
    relative_risk_contributions,
    risk_budget_weights,
)
from riskcore.errors import ConvergenceError, DataError, InfeasibleError, RiskcoreError
from riskcore.estimators import to_returns
from riskcore.ingest import read_prices
from riskcore.metrics import expected_shortfall
from riskcore.tail import cornish_fisher_var_es
from riskcore.tail_budget import (
    as_allocation_result,
    contribution_comparison,
    es_contributions,
    es_contributions_over_time,
    tail_risk_budget_weights,
)

BIG = ["BTC", "ETH", "LINK", "LTC", "SOL"]


def student_scenarios(n=3000, p=5, seed=42):
    rng = np.random.default_rng(seed)
    vol = np.linspace(0.02, 0.06, p)
    corr = np.full((p, p), 0.4) + 0.6 * np.eye(p)
    z = rng.multivariate_normal(np.zeros(p), corr, size=n)
    mix = np.sqrt(rng.chisquare(5, size=(n, 1)) / 5)  # common crash factor: joint tails
    return pd.DataFrame(0.0005 + vol * z / mix, columns=[f"C{i}" for i in range(p)])


@pytest.fixture(scope="module")
def yahoo_returns(yahoo_daily_files):
    prices = pd.concat([read_prices(f) for f in yahoo_daily_files], axis=1, sort=True)
    # all 14 coins overlap without a break from 2020-09-22 (data README)
    return to_returns(prices).loc["2020-09-23":"2025-02-11"]


# ----------------------------------------------------------------------------- Euler


@pytest.mark.parametrize("measure", ["historical", "cornish-fisher"])
def test_contributions_sum_to_es_exactly_and_scale_with_the_weights(measure):
    R = student_scenarios()
    w = pd.Series([0.3, 0.25, 0.2, 0.15, 0.1], index=R.columns)
    dec = es_contributions(R, w, measure=measure)
    assert dec.risk_contributions.sum() == pytest.approx(dec.expected_shortfall, rel=1e-13)
    assert dec.relative_risk_contributions.sum() == pytest.approx(1.0, rel=1e-13)
    # homogeneity of degree 1: ES(c w) = c ES(w), RC_i(c w) = c RC_i(w)
    for c in (0.5, 3.0):
        scaled = es_contributions(R, c * w, measure=measure)
        assert scaled.expected_shortfall == pytest.approx(c * dec.expected_shortfall, rel=1e-12)
        np.testing.assert_allclose(scaled.risk_contributions, c * dec.risk_contributions,
                                   rtol=1e-11)


def test_historical_contribution_is_weight_times_mean_tail_loss_by_hand():
    R = student_scenarios(n=401)  # k = floor(400 * 0.05) + 1 = 21
    w = np.array([0.3, 0.25, 0.2, 0.15, 0.1])
    port = R.to_numpy() @ w
    tail = np.argsort(port)[:21]
    dec = es_contributions(R, w, level=0.95)
    assert dec.n_tail_scenarios == 21
    np.testing.assert_allclose(dec.risk_contributions, -w * R.to_numpy()[tail].mean(axis=0),
                               rtol=1e-12)
    assert dec.expected_shortfall == expected_shortfall(port, level=0.95)


def test_cornish_fisher_contributions_are_the_gradient():
    R = student_scenarios(p=4, seed=3)
    w = np.array([0.4, 0.3, 0.2, 0.1])
    dec = es_contributions(R, w, measure="cornish-fisher")
    es = cornish_fisher_var_es(R.to_numpy() @ w).expected_shortfall
    assert dec.expected_shortfall == pytest.approx(es, rel=1e-13)
    h = 1e-7
    for i in range(4):
        e = np.zeros(4)
        e[i] = h
        up = cornish_fisher_var_es(R.to_numpy() @ (w + e)).expected_shortfall
        down = cornish_fisher_var_es(R.to_numpy() @ (w - e)).expected_shortfall
        assert dec.risk_contributions.iloc[i] == pytest.approx(w[i] * (up - down) / (2 * h),
                                                               rel=1e-6)


# ----------------------------------------------------------------------------- solver


def test_normal_scenarios_give_the_volatility_risk_budget_weights():
    """ES is proportional to volatility for zero-mean normal returns, so ES risk budgeting
    must give the volatility risk-budget weights up to sampling error.

    Sampling error: the ES gradient m_i is the mean loss of asset i over the k = 1000 tail
    scenarios, with relative standard error se_i = sd(L_i | tail) / (sqrt(k) m_i) (1.1-1.8%
    here). Weights are proportional to b_i / m_i, so a relative error e_i in m_i moves w_i by
    e_i minus a weighted average of the e_j, at most 2 max|e|; we allow 4 max se_i (about two
    standard deviations of that bound, 7%). Over seeds 0-11 the largest difference was
    1.8 max se_i.
    """
    vol = np.array([0.02, 0.03, 0.04, 0.05])
    corr = np.full((4, 4), 0.5) + 0.5 * np.eye(4)
    rng = np.random.default_rng(42)
    R = rng.multivariate_normal(np.zeros(4), np.outer(vol, vol) * corr, size=20000)
    budget = np.array([0.4, 0.3, 0.2, 0.1])
    es = tail_risk_budget_weights(R, budget)
    vb = risk_budget_weights(np.cov(R, rowvar=False), budget)
    w, wv = es.weights.to_numpy(), vb.weights.to_numpy()
    tail = np.argsort(R @ w)[: es.n_tail_scenarios]
    losses = -R[tail]
    se = losses.std(axis=0, ddof=1) / math.sqrt(es.n_tail_scenarios) / losses.mean(axis=0)
    assert np.max(np.abs(w / wv - 1)) <= 4 * se.max()
    # and the ES-budgeted portfolio is nearly volatility-budgeted too
    rrc_vol = relative_risk_contributions(w, np.cov(R, rowvar=False)).to_numpy()
    assert np.max(np.abs(rrc_vol / budget - 1)) <= 4 * se.max()


@pytest.mark.parametrize("budget", [None, [0.4, 0.3, 0.15, 0.1, 0.05]])
def test_historical_solution_meets_budgets_to_the_measures_resolution(budget):
    R = student_scenarios()
    res = tail_risk_budget_weights(R, budget)
    b = np.full(5, 0.2) if budget is None else np.array(budget)
    assert res.converged and res.solver_error <= 1e-8
    assert res.weights.sum() == pytest.approx(1.0, abs=1e-14)
    assert (res.weights > 0).all()
    # the exact Euler error is bounded by what one-scenario swaps at the VaR can resolve
    assert res.max_relative_error <= max(1e-12, len(b) * res.resolution)
    rrc = res.relative_risk_contributions.to_numpy()
    assert np.max(np.abs(rrc / b - 1)) == pytest.approx(res.max_relative_error, abs=1e-15)
    assert res.risk_contributions.sum() == pytest.approx(res.expected_shortfall, rel=1e-13)
    assert res.expected_shortfall == expected_shortfall(R.to_numpy() @ res.weights.to_numpy())
    assert res.n_tail_scenarios == 150 and res.warnings == ()


def test_cornish_fisher_solution_meets_budgets_exactly():
    R = student_scenarios(seed=5)
    budget = pd.Series([0.1, 0.2, 0.3, 0.2, 0.2], index=R.columns)
    res = tail_risk_budget_weights(R, budget, measure="cornish-fisher")
    assert res.converged and res.max_relative_error <= 1e-8
    np.testing.assert_allclose(res.relative_risk_contributions, budget, rtol=1e-8)
    assert res.resolution == 0.0


def test_zero_budget_gets_zero_weight():
    R = student_scenarios()
    res = tail_risk_budget_weights(R, [0.5, 0.0, 0.25, 0.25, 0.0])
    assert res.weights.iloc[1] == 0 and res.weights.iloc[4] == 0
    assert res.relative_risk_contributions.iloc[[1, 4]].abs().max() == 0


def test_real_coins_both_measures(yahoo_returns):
    R = yahoo_returns[BIG]
    hist = tail_risk_budget_weights(R)
    cf = tail_risk_budget_weights(R, measure="cornish-fisher")
    assert hist.n_observations == 1603 and hist.n_tail_scenarios == 81
    assert hist.converged and hist.max_relative_error <= max(1e-12, 5 * hist.resolution)
    assert cf.converged and cf.max_relative_error <= 1e-8
    # both give BTC, the least volatile coin, the largest weight
    assert hist.weights.idxmax() == "BTC" and cf.weights.idxmax() == "BTC"


def test_all_14_real_coins_historical(yahoo_returns):
    res = tail_risk_budget_weights(yahoo_returns)
    assert res.converged
    assert res.max_relative_error <= max(1e-12, 14 * res.resolution)
    # stablecoins carry almost no tail risk, so equal ES budgets put most weight in them
    assert res.weights[["USDT", "USDC"]].sum() > 0.9


def test_cornish_fisher_refuses_or_reports_on_extreme_kurtosis(yahoo_returns):
    # DOGE (excess kurtosis ~600) and the stablecoins put the expansion out of its domain
    with pytest.raises(ConvergenceError, match="budget error .* probably outside its domain"):
        tail_risk_budget_weights(yahoo_returns, measure="cornish-fisher", max_iter=60)


def test_short_window_warns_about_thin_tail(yahoo_returns):
    res = tail_risk_budget_weights(yahoo_returns[BIG].iloc[-365:])
    assert res.n_tail_scenarios == 19
    assert "only 19 scenario(s), fewer than 20" in res.warnings[0]


def test_side_by_side_table(yahoo_returns):
    R = yahoo_returns[BIG]
    cov = R.cov() * 365
    w = risk_budget_weights(cov).weights
    table = contribution_comparison(R, w, cov)
    assert list(table.columns) == ["weight", "volatility", "historical_es",
                                   "cornish_fisher_es"]
    np.testing.assert_allclose(table.drop(columns="weight").sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(table["volatility"], 0.2, rtol=1e-8)  # ERC on volatility
    assert table.attrs["warnings"] == ()
    # equal weights in BTC and DOGE: skewness 14.7, excess kurtosis 400 (DOGE's 2021 squeezes)
    # put Cornish-Fisher out of its domain; the column is blanked, the reason given
    pair = yahoo_returns[["BTC", "DOGE"]]
    table2 = contribution_comparison(pair, pd.Series(0.5, index=pair.columns),
                                     pair.cov() * 365)
    assert table2["cornish_fisher_es"].isna().all()
    assert any("Cornish-Fisher domain" in x for x in table2.attrs["warnings"])
    assert table2["historical_es"].sum() == pytest.approx(1.0)


def test_agrees_with_riskfolio_cvar_risk_parity(yahoo_returns):
    """Riskfolio-Lib's rp_optimization(rm="CVaR") solves the same convex problem
    (Rockafellar-Uryasev CVaR with a log-barrier budget constraint) by interior point.
    With T = 1600 and alpha = 0.05, alpha T = 80 = k, so both measure the same ES."""
    rp = pytest.importorskip("riskfolio")
    R = yahoo_returns[BIG].iloc[-1600:]
    port = rp.Portfolio(returns=R)
    port.assets_stats(method_mu="hist", method_cov="hist")
    port.alpha = 0.05
    theirs = port.rp_optimization(model="Classic", rm="CVaR", rf=0, b=None, hist=True)
    theirs = theirs["weights"].reindex(BIG)
    ours = tail_risk_budget_weights(R)
    assert ours.n_tail_scenarios == 80
    # measured: 9e-7 absolute, 5e-6 relative; their exact-Euler error 5e-6, ours 2e-16
    np.testing.assert_allclose(ours.weights, theirs, rtol=5e-5)


def test_strict_false_reports_non_convergence():
    R = student_scenarios()
    res = tail_risk_budget_weights(R, max_iter=1, strict=False)
    assert not res.converged and res.iterations == 1 and res.solver_error > 1e-8
    with pytest.raises(ConvergenceError, match="did not converge: budget error .* after 1 it"):
        tail_risk_budget_weights(R, max_iter=1)


def test_errors_name_the_problem():
    R = student_scenarios(n=200)
    with pytest.raises(InfeasibleError, match="budget for C2 is -0.1"):
        tail_risk_budget_weights(R, [0.5, 0.3, -0.1, 0.2, 0.1])
    with pytest.raises(InfeasibleError, match="all risk budgets are zero"):
        tail_risk_budget_weights(R, [0, 0, 0, 0, 0])
    with pytest.raises(DataError, match="budget have 3 entries but the returns have 5"):
        tail_risk_budget_weights(R, [0.5, 0.3, 0.2])
    with pytest.raises(RiskcoreError, match="tail risk measure is 'var'; allowed: historical"):
        tail_risk_budget_weights(R, measure="var")
    with pytest.raises(RiskcoreError, match="confidence level is 0"):
        tail_risk_budget_weights(R, level=0)
    holes = R.copy()
    holes.index = pd.date_range("2024-01-01", periods=200, tz="UTC")
    holes.iloc[10, 3] = np.nan
    with pytest.raises(DataError, match="return of C3 at 2024-01-11.* is nan"):
        es_contributions(holes, np.full(5, 0.2))
    hedge = R.copy()
    hedge["C4"] = np.abs(hedge["C4"]) + 0.001  # always gains: no tail loss on its own
    with pytest.raises(DataError, match="C4 has a non-positive expected shortfall"):
        tail_risk_budget_weights(hedge)
    with pytest.raises(DataError, match="only in weights \\['X'\\]"):
        es_contributions(R, pd.Series(0.2, index=["C0", "C1", "C2", "C3", "X"]))


def test_contributions_over_time_match_one_date_decompositions(yahoo_returns):
    R = yahoo_returns[BIG]
    dates = R.index[[100, 400, 900, 1602]]
    weights = pd.DataFrame([[0.2] * 5, [0.4, 0.3, 0.1, 0.1, 0.1], [0.2] * 5,
                            [0.5, 0.5, 0, 0, 0]], index=dates, columns=BIG)
    out = es_contributions_over_time(R, weights, window=365)
    assert out.iloc[0].isna().all()  # 101 returns < 365
    for i in (1, 2):
        pos = R.index.get_loc(dates[i])
        one = es_contributions(R.iloc[pos - 364 : pos + 1], weights.iloc[i])
        np.testing.assert_allclose(out.iloc[i], one.relative_risk_contributions, rtol=1e-12)
    assert out.iloc[3, 2:].eq(0).all() and out.iloc[3].sum() == pytest.approx(1.0)
    with pytest.raises(DataError, match="weights name assets without returns: XRP"):
        es_contributions_over_time(R, weights.assign(XRP=0.0))


def test_as_allocation_result_keeps_weights_and_gives_volatility_fields(yahoo_returns):
    R = yahoo_returns[BIG]
    res = tail_risk_budget_weights(R)
    cov = R.cov() * 365
    alloc = as_allocation_result(res, cov)
    assert isinstance(alloc, AllocationResult)
    assert alloc.method == "ES risk budgeting (historical, 95%)"
    pd.testing.assert_series_equal(alloc.weights, res.weights)
    assert alloc.risk_contributions.sum() == pytest.approx(alloc.portfolio_volatility)
    assert alloc.max_relative_error == res.max_relative_error


# ----------------------------------------------------------------------------- bounds


def test_loose_bounds_give_the_unbounded_solution(yahoo_returns):
    free = tail_risk_budget_weights(yahoo_returns[BIG])
    boxed = tail_risk_budget_weights(yahoo_returns[BIG], bounds=(0, 1))
    np.testing.assert_allclose(boxed.weights, free.weights, atol=1e-8)
    assert boxed.binding_constraints == ()


def test_stablecoin_caps_bind_and_the_rest_share_es_equally(yahoo_returns):
    caps = {"USDT": (0, 0.1), "USDC": (0, 0.1)}
    res = tail_risk_budget_weights(yahoo_returns, bounds=caps)
    assert res.converged and res.solver_error <= 1e-8
    assert res.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert res.weights[["USDT", "USDC"]].max() <= 0.1 + 1e-12
    assert set(res.binding_constraints) == {"USDT at its maximum weight 0.1",
                                            "USDC at its maximum weight 0.1"}
    coins = res.relative_risk_contributions.drop(["USDT", "USDC"])
    # the 12 uncapped coins share the tail equally, to the measure's resolution
    assert np.max(np.abs(coins / coins.mean() - 1)) <= max(1e-8, 14 * res.resolution)
    assert res.max_relative_error <= max(1e-8, 14 * res.resolution)
    # capped coins carry less than their share (one-sided condition at a maximum)
    assert (res.relative_risk_contributions[["USDT", "USDC"]] < coins.mean()).all()


def test_minimum_weight_binds_with_more_than_its_share(yahoo_returns):
    res = tail_risk_budget_weights(yahoo_returns, bounds={"BTC": (0.3, 0.5)})
    assert res.weights["BTC"] == pytest.approx(0.3, abs=1e-9)
    assert res.binding_constraints == ("BTC at its minimum weight 0.3",)
    others = res.relative_risk_contributions.drop("BTC")
    assert res.relative_risk_contributions["BTC"] > others.max()


def test_bounds_errors():
    R = student_scenarios(n=300)
    # Cornish-Fisher takes bounds too, but not where the expansion is invalid
    with pytest.raises(DataError, match="Cornish-Fisher expansion is not valid"):
        tail_risk_budget_weights(R, measure="cornish-fisher", bounds=(0, 0.5))
    with pytest.raises(InfeasibleError, match="sum to"):
        tail_risk_budget_weights(R, bounds=(0, 0.1))
    with pytest.raises(InfeasibleError, match="C1 has a zero risk budget but a minimum weight"):
        tail_risk_budget_weights(R, [0.5, 0, 0.5, 0, 0], bounds={"C1": (0.1, 0.5)})
    with pytest.raises(InfeasibleError, match="positive budget sum to 0.6 < 1"):
        tail_risk_budget_weights(R, [0.5, 0.5, 0, 0, 0], bounds=(0, 0.3))
