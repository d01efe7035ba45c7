import numpy as np
import pandas as pd
import pytest

import riskcore
from riskcore.errors import DataError
from riskcore.portfolio import METHODS, Portfolio, build_portfolio, compare_portfolios

L1 = ["BTC-USD", "ETH-USD", "SOL-USD", "ADA-USD"]


@pytest.fixture(scope="module")
def cov():
    rng = np.random.default_rng(42)
    names = L1 + ["DOGE-USD", "USDT-USD"]
    vols = np.array([0.6, 0.7, 0.9, 0.8, 1.0, 0.01])
    corr = np.full((6, 6), 0.6)
    corr[5, :] = corr[:, 5] = 0.02
    np.fill_diagonal(corr, 1.0)
    noise = rng.normal(0, 0.01, (6, 6))
    cov = np.outer(vols, vols) * corr + np.diag(np.abs(noise).sum(1)) * 1e-4
    return pd.DataFrame(cov, index=names, columns=names)


def test_default_is_equal_risk_contribution_over_every_asset(cov):
    p = build_portfolio(cov)
    np.testing.assert_allclose(p.relative_risk_contributions, 1 / 6, rtol=1e-9)
    assert p.weights.sum() == pytest.approx(1.0)
    assert p.weights["USDT-USD"] > 0.5  # the near-zero-volatility stablecoin takes the weight
    assert p.leverage == 1.0 and p.sleeve_asset is None


def test_sleeve_keeps_stablecoins_out_of_the_risk_budget(cov):
    p = build_portfolio(cov, stablecoins="sleeve")
    assert p.weights["USDT-USD"] == 0.0
    assert p.sleeve == ("USDT-USD",)
    risky = p.relative_risk_contributions.drop("USDT-USD")
    np.testing.assert_allclose(risky, 1 / 5, rtol=1e-9)
    assert p.budget["USDT-USD"] == 0.0
    assert "stablecoin sleeve" in p.notes[0]


@pytest.mark.parametrize("cash", ["cash", "USDT-USD"])
def test_volatility_target_is_reached_and_the_rest_goes_to_the_sleeve(cov, cash):
    p = build_portfolio(cov, stablecoins="sleeve", target_volatility=0.2, cash=cash)
    assert p.portfolio_volatility == pytest.approx(0.2, rel=1e-9)
    assert p.weights.sum() == pytest.approx(1.0)
    assert p.sleeve_asset == cash and p.weights[cash] == pytest.approx(p.sleeve_weight)
    assert 0 < p.leverage < 1
    # scaling does not change the risk shares of the risky coins
    risky = p.relative_risk_contributions.drop(["USDT-USD", "cash"], errors="ignore")
    # a stablecoin sleeve carries a sliver of risk itself; riskless cash carries none
    assert risky.sum() == pytest.approx(1.0, abs=5e-3 if cash == "USDT-USD" else 1e-12)


def test_leverage_cap_is_reported(cov):
    p = build_portfolio(cov, stablecoins="sleeve", target_volatility=2.0, max_leverage=1.0)
    assert p.leverage == pytest.approx(1.0)
    assert any(n.startswith("The leverage cap 1 stops the scaling at") for n in p.notes)
    assert not any("sleeve's own volatility" in n for n in p.notes)


def test_stablecoin_sleeve_floor_is_reported_instead_of_the_leverage_cap(cov):
    # USDT-USD has 1% volatility here: a 0.5% target is below anything a mix of the
    # portfolio and USDT can reach, whatever the leverage cap.
    p = build_portfolio(cov, stablecoins="sleeve", target_volatility=0.005, cash="USDT-USD",
                        max_leverage=3.0)
    assert p.leverage < 0.1
    assert p.portfolio_volatility > 0.005
    notes = [n for n in p.notes if "short of the 0.5% target" in n]
    assert len(notes) == 1
    assert notes[0].startswith("The USDT-USD sleeve's own volatility")
    assert "leverage cap" not in notes[0]


def test_group_constraint_binds_and_is_named(cov):
    p = build_portfolio(cov, stablecoins="sleeve", groups=[(L1, 0.0, 0.5)],
                        group_names=["layer-1"])
    assert p.weights[L1].sum() == pytest.approx(0.5, abs=1e-8)
    assert p.groups.loc["layer-1", "weight"] == pytest.approx(0.5, abs=1e-8)
    assert any("Binding" in n for n in p.notes)


def test_groups_of_stablecoins_are_dropped_with_a_note_under_the_sleeve(cov):
    p = build_portfolio(cov, stablecoins="sleeve", groups=[(["USDT-USD"], 0.1, 1.0)],
                        group_names=["stablecoins"])
    assert any("stablecoins has no member inside the risk budget" in n for n in p.notes)


def test_cluster_budgets_give_each_cluster_an_equal_risk_share(cov):
    p = build_portfolio(cov, method="cluster_risk_budget", n_clusters=2)
    np.testing.assert_allclose(p.groups["relative_risk_contribution"], 0.5, rtol=1e-8)


@pytest.mark.parametrize("method", ["inverse_volatility", "equal_weight", "hrp",
                                    "minimum_variance"])
def test_every_method_gives_full_investment(cov, method):
    p = build_portfolio(cov, method=method)
    assert p.weights.sum() == pytest.approx(1.0)
    assert (p.weights >= -1e-12).all()
    assert p.relative_risk_contributions.sum() == pytest.approx(1.0)


def test_bad_choices_are_refused(cov):
    with pytest.raises(DataError, match="method 'magic' is unknown; allowed: risk_budget"):
        build_portfolio(cov, method="magic")
    with pytest.raises(DataError, match="method 'hrp' takes no risk budget"):
        build_portfolio(cov, method="hrp", budget={"BTC-USD": 1.0})


def test_on_the_demo_market(cov):
    prices = riskcore.demo_prices()
    c = riskcore.covariance(riskcore.to_returns(prices), lookback=365)
    p = build_portfolio(c, stablecoins="sleeve", target_volatility=0.3, cash="USDT-USD")
    assert p.portfolio_volatility == pytest.approx(0.3, rel=1e-8)
    assert p.weights.idxmax() == "USDT-USD"


# ----- compare_portfolios -------------------------------------------------------------------


def test_compare_portfolios_builds_every_method_on_the_same_choices(cov):
    out = compare_portfolios(cov, stablecoins="sleeve", n_clusters=2)
    assert list(out) == list(METHODS)
    for method, p in out.items():
        assert isinstance(p, Portfolio), f"{method}: {p}"
        assert p.weights.sum() == pytest.approx(1.0)
        assert p.relative_risk_contributions.sum() == pytest.approx(1.0)
        assert p.sleeve == ("USDT-USD",)
        assert p.diversification_ratio >= 1.0 - 1e-12
        assert p.effective_number_of_bets >= 1.0 - 1e-12
    vols = pd.Series({m: p.portfolio_volatility for m, p in out.items()})
    # long-only minimum variance is the least risky; ERC lies between it and 1/n (MRT 2010)
    assert vols["minimum_variance"] <= vols.min() + 1e-12
    assert vols["minimum_variance"] <= vols["risk_budget"] <= vols["equal_weight"]
    clusters = out["cluster_risk_budget"].groups.drop("other")  # "other": the sleeve
    np.testing.assert_allclose(clusters["relative_risk_contribution"], 0.5, rtol=1e-8)
    # the same volatility target reaches every method
    targeted = compare_portfolios(cov, ["risk_budget", "hrp"], stablecoins="sleeve",
                                  target_volatility=0.2)
    for p in targeted.values():
        assert p.portfolio_volatility == pytest.approx(0.2, rel=1e-9)


def test_compare_portfolios_passes_budget_and_bounds_only_to_methods_that_take_them(cov):
    budget = {"BTC-USD": 0.4, "ETH-USD": 0.2, "SOL-USD": 0.2, "ADA-USD": 0.1,
              "DOGE-USD": 0.05, "USDT-USD": 0.05}
    out = compare_portfolios(cov, budget=budget)
    rb = out["risk_budget"]
    # the budget is honoured where it applies (BTC-USD the largest contributor at 40%)
    assert rb.relative_risk_contributions.idxmax() == "BTC-USD"
    np.testing.assert_allclose(rb.relative_risk_contributions, pd.Series(budget), rtol=1e-8)
    assert out["equal_weight"].budget is None
    # the bound binds for risk budgeting and minimum variance only
    out = compare_portfolios(cov, budget=budget, bounds={"USDT-USD": (0.0, 0.2)})
    assert out["risk_budget"].weights["USDT-USD"] == pytest.approx(0.2, abs=1e-9)
    assert out["minimum_variance"].weights["USDT-USD"] == pytest.approx(0.2, abs=1e-9)
    assert out["inverse_volatility"].weights["USDT-USD"] > 0.5


def test_an_infeasible_method_gives_its_message_and_hides_no_other(cov):
    out = compare_portfolios(cov, bounds={"BTC-USD": (0.6, 1.0), "ETH-USD": (0.6, 1.0)})
    for method in ("risk_budget", "minimum_variance"):
        assert isinstance(out[method], str)
        assert out[method].startswith("the minimum weights sum to 1.2 > 1")
    for method in ("cluster_risk_budget", "inverse_volatility", "equal_weight", "hrp"):
        assert isinstance(out[method], Portfolio)


def test_compare_portfolios_refuses_unknown_methods_and_options(cov):
    with pytest.raises(DataError, match="method 'magic' is unknown; allowed: risk_budget"):
        compare_portfolios(cov, ["risk_budget", "magic"])
    with pytest.raises(TypeError, match="unexpected option 'lookback'; allowed: budget, bounds"):
        compare_portfolios(cov, lookback=365)


def test_cluster_budgets_for_user_groups(cov):
    clusters = {"majors": ["BTC-USD", "ETH-USD"], "alts": ["SOL-USD", "ADA-USD"],
                "stables": ["USDT-USD"]}
    p = build_portfolio(cov, method="cluster_risk_budget", stablecoins="sleeve",
                        clusters=clusters, cluster_budget={"majors": 0.5, "alts": 0.3})
    # DOGE is in no group: it forms "other" (budget 0 here, so it gets no risk and no weight)
    assert any('"other"' in n and "DOGE-USD" in n for n in p.notes)
    assert any("USDT-USD" in n and "left out of the groups" in n for n in p.notes)
    shares = p.groups["relative_risk_contribution"]
    assert shares["majors"] == pytest.approx(0.5 / 0.8, rel=1e-8)
    assert shares["alts"] == pytest.approx(0.3 / 0.8, rel=1e-8)
    rrc = p.relative_risk_contributions
    assert rrc["BTC-USD"] == pytest.approx(rrc["ETH-USD"], rel=1e-8)  # equal inside a group


def test_options_for_keeps_what_each_method_takes():
    from riskcore.portfolio import options_for

    options = {"stablecoins": "sleeve", "bounds": {"BTC-USD": (0, 0.3)}, "groups": [],
               "n_clusters": 2, "target_volatility": 0.3}
    assert options_for("hrp", options) == {"stablecoins": "sleeve", "target_volatility": 0.3}
    assert set(options_for("minimum_variance", options)) == {"stablecoins", "bounds",
                                                            "target_volatility"}
    assert set(options_for("cluster_risk_budget", options)) == {"stablecoins", "n_clusters",
                                                               "target_volatility"}
    assert options_for("hrp", {"typo": 1}) == {"typo": 1}  # build_portfolio rejects it


def test_budget_error_and_optimality_error_are_separate(cov):
    free = riskcore.allocate_portfolio(cov).allocation
    assert free.budget_error <= 1e-9 and np.isnan(free.optimality_error)
    capped = riskcore.allocate_portfolio(cov, bounds={"USDT-USD": (0.0, 0.1)}).allocation
    assert capped.binding_constraints
    assert capped.optimality_error <= 1e-8  # the solver converged ...
    assert capped.budget_error > 0.1  # ... and the bound moves risk away from the budget
    assert np.isnan(riskcore.allocate_portfolio(cov, method="hrp").allocation.budget_error)


def test_portfolio_equality_does_not_raise(cov):
    first, second = build_portfolio(cov), build_portfolio(cov)
    assert first == first and first != second  # identity: compare .weights for decisions
