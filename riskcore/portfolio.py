"""From a covariance matrix to the portfolio a user decides on, in one call.

:func:`build_portfolio` chains the steps the dashboard offers: the stablecoin policy (inside the
risk budget, or a sleeve outside it), an allocation method on the assets inside the budget (with
weight bounds and group constraints where the method supports them), an optional volatility
target with its cash or stablecoin sleeve, and the diagnostics of the final weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from riskcore.allocation import (
    AllocationResult,
    VolatilityTarget,
    equal_weights,
    inverse_volatility_weights,
    marginal_risk_contributions,
    minimum_variance_weights,
    portfolio_volatility,
    relative_risk_contributions,
    risk_budget_weights,
    risk_contributions,
    stablecoin_policy,
    volatility_target,
)
from riskcore.assets import CASH, is_stablecoin
from riskcore.diagnostics import (
    diversification_ratio,
    effective_number_of_bets,
    group_risk_contributions,
)
from riskcore.errors import DataError, InfeasibleError, ParameterError, RiskcoreError
from riskcore.estimators import CovarianceEstimate, estimate_covariance
from riskcore.hierarchical import cluster_risk_budget_weights, hrp_weights
from riskcore.periods import infer_periods_per_year
from riskcore.spec import METHOD_OPTIONS as SPEC_METHOD_OPTIONS
from riskcore.spec import PortfolioSpec
from riskcore.tail_budget import (
    TailAllocationResult,
    as_allocation_result,
    tail_cluster_risk_budget_weights,
    tail_risk_budget_weights,
)
from riskcore.window import left_out_note, min_returns

#: Allocation methods (:data:`riskcore.spec.METHODS`) and what each does.
METHODS: dict[str, str] = {
    "risk_budget": "risk budgeting (equal budgets = equal risk contribution); bounds, groups",
    "cluster_risk_budget": "a risk budget per correlation cluster, equal risk inside it",
    "inverse_volatility": "weights proportional to 1 / volatility",
    "equal_weight": "1 / n each",
    "hrp": "hierarchical risk parity (Lopez de Prado 2016)",
    "minimum_variance": "long-only minimum variance; bounds",
}


@dataclass(frozen=True, eq=False)
class Portfolio:
    """The decided portfolio: final weights, how they were made, and their risk decomposition.

    Attributes
    ----------
    weights : pandas.Series
        Final weights (decimals summing to 1) over every asset of the covariance matrix, plus a
        ``"cash"`` entry when a volatility target parks the remainder in riskless cash.
    allocation : AllocationResult
        The method's result on the assets inside the risk budget, before the volatility target.
    covariance : pandas.DataFrame
        Annualized covariance of ``weights``' assets (the ``"cash"`` row and column are zero).
    risk_contributions, relative_risk_contributions, marginal_risk_contributions : pandas.Series
        Risk decomposition of the final weights: ``w_i (Σw)_i / σ_p`` (sums to σ_p), its share
        of σ_p (sums to 1) and ``(Σw)_i / σ_p``.
    budget : pandas.Series or None
        Risk budget of every asset of ``weights`` (0 outside the budget); None for methods
        without budgets.
    portfolio_volatility : float
        Annualized volatility of the final weights (decimal).
    diversification_ratio : float
        ``Σ w_i σ_i / σ_p`` (Choueifaty & Coignard 2008).
    effective_number_of_bets : float
        Exponential of the entropy of the relative risk contributions (Meucci 2009).
    leverage : float
        Scale applied to the risky weights by the volatility target (1 without one).
    cash : str or None
        Asset holding the sleeve (``"cash"`` or a stablecoin); None without a volatility target.
    cash_weight : float
        Weight of the sleeve (decimal; negative when borrowing).
    sleeve : tuple of str
        Stablecoins kept outside the risk budget by the stablecoin policy.
    group_table : pandas.DataFrame or None
        Per group: ``weight``, ``relative_risk_contribution`` and ``risk_budget`` (the sum of
        its members' budgets) of the final weights.
    notes : tuple of str
        What the steps did that a user should know (dropped constraints, capped targets,
        assets left out of the universe for lack of data).
    estimate : CovarianceEstimate or None
        The covariance estimate the decision used (None when built from a given covariance).
    excluded : tuple of str
        Assets of the specification left out at this date (no price that day, or fewer than
        ``lookback`` valid returns ending there).
    tail : TailAllocationResult or None
        With an expected-shortfall ``risk_measure``: the ES budgeting result on the assets
        inside the risk budget, before the volatility target (its weights, exact Euler ES
        contributions, ``max_relative_error``, ``resolution`` and warnings). ES
        contributions are homogeneous of degree 1, so a volatility target into riskless
        cash leaves the relative ones unchanged. None when budgeting volatility. The
        volatility fields above stay the volatility decomposition of the final weights.

    Notes
    -----
    Compared with ``==``, two portfolios are equal only if they are the same object (their
    pandas fields have no single truth value); compare ``weights`` to compare decisions.
    """

    weights: pd.Series
    allocation: AllocationResult
    covariance: pd.DataFrame
    risk_contributions: pd.Series
    relative_risk_contributions: pd.Series
    marginal_risk_contributions: pd.Series
    budget: pd.Series | None
    portfolio_volatility: float
    diversification_ratio: float
    effective_number_of_bets: float
    leverage: float
    cash: str | None
    cash_weight: float
    sleeve: tuple[str, ...]
    group_table: pd.DataFrame | None
    notes: tuple[str, ...]
    estimate: CovarianceEstimate | None = None
    excluded: tuple[str, ...] = ()
    tail: TailAllocationResult | None = None

    @property
    def groups(self) -> pd.DataFrame | None:
        """Former name of :attr:`group_table` (kept for the pages until they switch)."""
        return self.group_table


def allocate_portfolio(
    cov: pd.DataFrame,
    *,
    method: str = "risk_budget",
    budget: Mapping[str, float] | pd.Series | None = None,
    bounds: Mapping[str, tuple[float, float]] | None = None,
    group_limits: Sequence[tuple[Sequence[str], float, float]] | None = None,
    group_names: Sequence[str] | None = None,
    stablecoins: str = "include",
    n_clusters: int | None = None,
    clusters: Mapping[str, Sequence[str]] | None = None,
    cluster_budget: Mapping[str, float] | None = None,
    target_volatility: float | None = None,
    max_leverage: float = 1.0,
    cash: str = CASH,
) -> Portfolio:
    """Allocate from one covariance matrix: the inner step of :func:`build_portfolio`.

    The decision at one date and every rebalance of the simulator go through this function
    (see :func:`build_portfolio` with a :class:`~riskcore.spec.PortfolioSpec`).

    Parameters
    ----------
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance matrix labelled by asset.
    method : str, default "risk_budget"
        One of :data:`METHODS`.
    budget : mapping or pandas.Series, optional
        Risk budget per asset for ``"risk_budget"`` (normalized over the assets inside the
        budget); None for equal budgets (equal risk contribution).
    bounds : mapping of asset -> (minimum, maximum), optional
        Weight bounds (decimals) for ``"risk_budget"`` and ``"minimum_variance"``, on the
        weights of the assets inside the risk budget (before the volatility target).
    group_limits : sequence of (members, minimum, maximum), optional
        Constraints on the members' total weight, for ``"risk_budget"``. With the sleeve
        policy, stablecoin members are dropped from a group, and a group left empty is dropped;
        both are said in ``notes``.
    group_names : sequence of str, optional
        Names of ``group_limits`` for the group table (default "group 1", "group 2", ...).
    stablecoins : {"include", "sleeve"}, default "include"
        Stablecoins inside the risk budget like any coin, or outside it as the sleeve (weight 0
        unless a volatility target parks the remainder in one of them).
    n_clusters : int, optional
        Number of correlation clusters for ``"cluster_risk_budget"`` when ``clusters`` is
        not given.
    clusters : mapping of str -> sequence of str, optional
        User-defined groups for ``"cluster_risk_budget"`` (``{group: [members]}``) instead of
        correlation clusters. Members outside the risk budget are left out; assets inside
        the budget that no group names form the group ``"other"``. Both are said in
        ``notes``.
    cluster_budget : mapping of str -> float, optional
        Risk budget per group for ``"cluster_risk_budget"`` (normalized to sum to 1;
        default equal), split equally among the group's members.
    target_volatility : float, optional
        Annualized volatility (decimal) to scale the portfolio to; None leaves it unscaled.
    max_leverage : float, default 1.0
        Largest scale of the risky weights (1 = no borrowing).
    cash : str, default "cash"
        Where the remainder goes: riskless ``"cash"`` or a stablecoin of ``cov``.

    Returns
    -------
    Portfolio

    Raises
    ------
    DataError
        Unknown method (the allowed ones are listed), unknown assets, a budget for a method
        without budgets.
    InfeasibleError, ConvergenceError
        From the allocation method (messages name the conflicting constraints).

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
    J.-C. Richard, T. Roncalli (2019), "Constrained risk budgeting portfolios", arXiv:1902.05710.
    A. Moreira, T. Muir (2017), "Volatility-managed portfolios", Journal of Finance 72(4).
    """
    if method not in METHODS:
        raise ParameterError(f"method {method!r} is unknown; allowed: {', '.join(METHODS)}")
    if budget is not None and method != "risk_budget":
        raise ParameterError(f"method {method!r} takes no risk budget; use 'risk_budget'")
    notes: list[str] = []
    policy = stablecoin_policy(cov, budget, policy=stablecoins)
    inside = list(policy.cov.columns)
    if policy.sleeve:
        notes.append(f"Outside the risk budget (stablecoin sleeve): {', '.join(policy.sleeve)}.")
    kept_bounds = None if bounds is None else {a: b for a, b in bounds.items() if a in inside}
    kept_groups, kept_names = _groups_inside(group_limits, group_names, inside, notes)

    if method == "risk_budget":
        allocation = risk_budget_weights(policy.cov, policy.budget, bounds=kept_bounds or None,
                                         groups=kept_groups or None)
    elif method == "minimum_variance":
        allocation = minimum_variance_weights(policy.cov, bounds=kept_bounds or None)
    elif method == "cluster_risk_budget":
        user_groups = _clusters_inside(clusters, inside, notes)
        budgets = None
        if cluster_budget is not None and user_groups is not None:
            budgets = {g: float(cluster_budget.get(g, 0.0)) for g in user_groups}
        allocation = cluster_risk_budget_weights(policy.cov, groups=user_groups,
                                                 group_budget=budgets, n_clusters=n_clusters)
    else:
        allocation = {"inverse_volatility": inverse_volatility_weights, "equal_weight":
                      equal_weights, "hrp": hrp_weights}[method](policy.cov)
    if method in ("risk_budget", "minimum_variance") and (kept_bounds or kept_groups):
        if allocation.binding_constraints:
            notes.append("Binding constraints: " + "; ".join(allocation.binding_constraints))

    return _finish(cov, allocation, policy.sleeve, notes, kept_groups, kept_names,
                   target_volatility=target_volatility, max_leverage=max_leverage, cash=cash)


def _finish(cov: pd.DataFrame, allocation: AllocationResult, sleeve: tuple[str, ...],
            notes: list[str], kept_groups, kept_names, *, target_volatility: float | None,
            max_leverage: float, cash: str) -> Portfolio:
    """Volatility target, group table and risk decomposition of an allocation's weights.

    The step after the allocation method, shared by volatility and expected-shortfall
    budgeting (:func:`allocate_portfolio`, :func:`decide`).
    """
    weights = allocation.weights.reindex(cov.columns, fill_value=0.0)
    leverage, cash_name, cash_weight = 1.0, None, 0.0
    target: VolatilityTarget | None = None
    if target_volatility is not None:
        target = volatility_target(weights, cov, target_volatility, max_leverage=max_leverage,
                                   cash=cash)
        weights, leverage = target.weights, target.leverage
        cash_name, cash_weight = target.cash, target.cash_weight
        if not target.target_reached:
            if target.leverage >= max_leverage * (1 - 1e-12):
                limit = f"The leverage cap {max_leverage:g}"
            else:
                # the sleeve is a risky stablecoin: mixing the portfolio with it cannot go
                # below the lowest volatility of such a mix (about the stablecoin's own)
                limit = (f"The {target.cash} sleeve's own volatility (the lowest a mix of the "
                         f"portfolio and {target.cash} can reach; leverage {target.leverage:.2g})")
            notes.append(f"{limit} stops the scaling at {target.portfolio_volatility:.1%} "
                         f"volatility, short of the {target_volatility:.1%} target.")
    full_cov = cov.reindex(index=weights.index, columns=weights.index, fill_value=0.0)

    budget_all = None
    if allocation.budget is not None:
        budget_all = allocation.budget.reindex(weights.index, fill_value=0.0)
    group_table = None
    if kept_groups:
        named = {name: list(members) for name, (members, _, _) in
                 zip(kept_names, kept_groups, strict=True)}
        group_table = _group_table(weights, full_cov, named, budget_all)
    elif allocation.asset_groups is not None:
        clusters = allocation.asset_groups.reindex(weights.index).dropna()
        named = {str(g): list(clusters.index[clusters == g]) for g in clusters.unique()}
        group_table = _group_table(weights, full_cov, named, budget_all)

    # riskless cash has no risk: decompose the risky part, cash contributes 0
    risky = weights.drop(CASH, errors="ignore")
    risky_cov = cov.loc[risky.index, risky.index]

    def full(series: pd.Series) -> pd.Series:
        return series.reindex(weights.index, fill_value=0.0)

    return Portfolio(
        weights=weights,
        allocation=allocation,
        covariance=full_cov,
        risk_contributions=full(risk_contributions(risky, risky_cov)),
        relative_risk_contributions=full(relative_risk_contributions(risky, risky_cov)),
        marginal_risk_contributions=full(marginal_risk_contributions(risky, risky_cov)),
        budget=budget_all,
        portfolio_volatility=portfolio_volatility(risky, risky_cov),
        diversification_ratio=diversification_ratio(risky, risky_cov),
        effective_number_of_bets=effective_number_of_bets(risky, risky_cov),
        leverage=leverage,
        cash=cash_name,
        cash_weight=cash_weight,
        sleeve=sleeve,
        group_table=group_table,
        notes=tuple(notes),
    )


def build_portfolio(prices: pd.DataFrame, spec: PortfolioSpec | None = None,
                    **options: Any) -> Portfolio:
    """Make the decision of a :class:`~riskcore.spec.PortfolioSpec` at its as-of date.

    Steps, each the one riskcore function for it (the simulator runs the same ones at every
    rebalance date): the universe (the spec's assets with a real price on the as-of date and
    at least :func:`riskcore.window.min_returns` valid returns in the ``lookback`` ending
    there, and a non-zero variance unless a volatility floor applies; the others are left
    out with a note), the
    covariance estimate of those returns (:func:`~riskcore.estimators.estimate_covariance`),
    and the allocation with its options (:func:`allocate_portfolio`).

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        Price panel (USD per unit, NaN where missing), sorted DatetimeIndex. Prices after
        ``spec.as_of`` are ignored.
    spec : PortfolioSpec
        The decision. Without it (the form of :func:`compare_portfolios` and tests that
        start from a given covariance), ``prices`` is an annualized covariance matrix
        and ``options`` are the keyword options of
        :func:`allocate_portfolio` (``groups`` is accepted for ``group_limits``).
    **options
        Only with the deprecated covariance form.

    Returns
    -------
    Portfolio
        With ``estimate`` (the covariance estimate used) and ``excluded`` filled in.

    Raises
    ------
    DataError
        If fewer than ``lookback`` returns end at the as-of date, no asset of the spec has
        enough data in the lookback, or an asset of the spec has no price column.
    InfeasibleError, ConvergenceError
        From the allocation (messages name the constraints).

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
    """
    if spec is None:
        return allocate_portfolio(prices, **_legacy_options(options))
    if options:
        raise TypeError(f"build_portfolio(prices, spec) takes no options; got {sorted(options)}")
    panel = spec_panel(prices, spec)
    raw = panel.to_numpy(dtype=float)
    lookback = spec.lookback
    if len(raw) < lookback:
        raise DataError(
            f"prices have {len(raw)} dates up to {panel.index[-1]:%Y-%m-%d}; the lookback "
            f"needs {lookback}: use a shorter lookback or a later as-of date"
        )
    # the window's first return needs the price before it; on the first date of the panel
    # there is none (a missing return, as in the simulator's walk-forward window)
    window_raw = raw[-lookback - 1:] if len(raw) > lookback else np.vstack(
        [np.full((1, raw.shape[1]), np.nan), raw])
    returns = window_raw[1:] / window_raw[:-1] - 1.0
    covered = (~np.isnan(returns)).sum(axis=0) >= min_returns(lookback, spec.alignment)
    eligible = ~np.isnan(raw[-1]) & covered
    ppy = float(infer_periods_per_year(panel.index))
    window = pd.DataFrame(returns, index=panel.index[-lookback:], columns=panel.columns)
    return decide(window, eligible, spec, ppy)


def spec_panel(prices: pd.DataFrame, spec: PortfolioSpec) -> pd.DataFrame:
    """Select the spec's assets (and stablecoin sleeve) up to its as-of date.

    Raises
    ------
    DataError
        If ``prices`` is not a DataFrame with a DatetimeIndex, or lacks an asset of the spec.
    """
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices must be a DataFrame with a DatetimeIndex (a price panel)")
    names = list(prices.columns) if spec.assets is None else list(spec.assets)
    if spec.sleeve_asset != CASH and spec.sleeve_asset not in names:
        names.append(spec.sleeve_asset)
    missing = [a for a in names if a not in prices.columns]
    if missing:
        raise DataError(f"no price column for {missing[0]}; the specification names it")
    panel = prices[names]
    if spec.as_of is not None:
        as_of = spec.as_of
        if panel.index.tz is None:
            as_of = as_of.tz_convert(None)
        panel = panel.loc[:as_of]
    if len(panel) < 2:
        raise DataError(f"prices have {len(panel)} date(s) up to the as-of date; need 2")
    return panel


def decide(window: pd.DataFrame, eligible: np.ndarray, spec: PortfolioSpec,
           periods_per_year: float) -> Portfolio:
    """Estimate and allocate on one window: the step shared by the decision and simulator.

    Parameters
    ----------
    window : pandas.DataFrame of shape (lookback, n_assets)
        The ``lookback`` returns ending at the decision date (decimal per period).
    eligible : numpy.ndarray of bool, shape (n_assets,)
        Assets that can be allocated: a real price at the date and at least
        :func:`riskcore.window.min_returns` valid returns in the window. Of those, an asset
        whose returns there have zero variance is left out too unless the spec has a
        volatility floor.
    spec : PortfolioSpec
    periods_per_year : float
        Annualization of the returns' calendar.

    Returns
    -------
    Portfolio

    Raises
    ------
    DataError
        If no asset is eligible.
    """
    assets = [str(a) for a in window.columns]
    eligible = np.asarray(eligible, dtype=bool).copy()
    if not spec.volatility_floor:  # a flat series cannot be risk-budgeted without a floor
        flat = eligible & ~(window.std(ddof=0).fillna(0.0).to_numpy() > 0)
        eligible &= ~flat
    excluded = tuple(a for a, ok in zip(assets, eligible, strict=True) if not ok)
    kept = window.loc[:, eligible]
    if kept.shape[1] == 0:
        raise DataError(
            f"no asset has a price on {window.index[-1]:%Y-%m-%d} and enough returns (with "
            f"some variance) in the {len(window)} periods before it (left out: "
            f"{', '.join(excluded)}); use a shorter lookback or a later date"
        )
    notes = []
    if excluded:
        counts = window[list(excluded)].notna().sum()
        notes.append(left_out_note(f"{window.index[-1]:%Y-%m-%d}", len(window),
                                   min_returns(max(len(window), 2), spec.alignment),
                                   {a: int(counts[a]) for a in excluded}))
    estimate = estimate_covariance(
        kept, method=spec.estimator, half_life=spec.half_life_periods
        if spec.estimator == "ewma" else None, periods_per_year=periods_per_year,
        pairwise=spec.alignment == "pairwise", volatility_floor=spec.volatility_floor)
    options = spec.allocation_options()
    inside = list(kept.columns)
    if options["cash"] != CASH and options["cash"] not in inside:
        notes.append(f"The sleeve {options['cash']} cannot be held on "
                     f"{window.index[-1]:%Y-%m-%d}; the remainder stays in riskless cash.")
        options["cash"] = CASH
    if "budget" in options:
        budget = {a: float(options["budget"].get(a, 0.0)) for a in inside}
        if not sum(budget.values()) > 0:
            raise InfeasibleError(
                f"risk budgets of the assets held on {window.index[-1]:%Y-%m-%d} "
                f"({', '.join(inside)}) sum to 0; give one of them a positive budget"
            )
        options["budget"] = budget
    if spec.es_measure is not None:
        portfolio = _decide_tail(kept, estimate.matrix, spec, options)
        return replace(portfolio, notes=tuple(notes) + portfolio.notes, estimate=estimate,
                       excluded=excluded)
    if options.get("n_clusters") is not None:  # no more clusters than budgeted assets
        budgeted = [a for a in inside
                    if spec.stablecoins != "sleeve" or not is_stablecoin(a)]
        options["n_clusters"] = max(1, min(options["n_clusters"], len(budgeted)))
    portfolio = allocate_portfolio(estimate.matrix, **options)
    return replace(portfolio, notes=tuple(notes) + portfolio.notes, estimate=estimate,
                   excluded=excluded)


def _decide_tail(kept: pd.DataFrame, cov: pd.DataFrame, spec: PortfolioSpec,
                 options: dict[str, Any]) -> Portfolio:
    """Expected-shortfall risk budgeting of :func:`decide` on the window's returns.

    The same stablecoin policy, budgets, weight bounds, group limits, clusters and
    volatility target as volatility budgeting; the weights inside the budget come from
    :func:`~riskcore.tail_budget.tail_risk_budget_weights` (``"risk_budget"``; constrained
    risk budgeting on ES with bounds or group limits) or
    :func:`~riskcore.tail_budget.tail_cluster_risk_budget_weights`
    (``"cluster_risk_budget"``, clusters of the estimate's correlations as for volatility)
    on the window's complete rows of the assets inside the budget (Spinu 2013 with ES for
    volatility; Mausser & Romanko 2014; Richard & Roncalli 2019).
    """
    notes: list[str] = []
    policy = stablecoin_policy(cov, options.get("budget"), policy=spec.stablecoins)
    inside = list(policy.cov.columns)
    if policy.sleeve:
        notes.append(f"Outside the risk budget (stablecoin sleeve): {', '.join(policy.sleeve)}.")
    scenarios = kept[inside].dropna()
    if len(scenarios) < len(kept):
        notes.append(f"Expected shortfall on the {len(scenarios)} of {len(kept)} periods where "
                     "every asset inside the budget has a return.")
    kept_groups, kept_names = [], []
    if spec.method == "cluster_risk_budget":
        user_groups = _clusters_inside(options.get("clusters"), inside, notes)
        budgets = None
        if options.get("cluster_budget") is not None and user_groups is not None:
            budgets = {g: float(options["cluster_budget"].get(g, 0.0)) for g in user_groups}
        n_clusters = options.get("n_clusters")
        if n_clusters is not None:  # no more clusters than budgeted assets
            n_clusters = max(1, min(n_clusters, len(inside)))
        tail = tail_cluster_risk_budget_weights(
            scenarios, groups=user_groups, group_budget=budgets, n_clusters=n_clusters,
            cov=policy.cov, measure=spec.es_measure, level=spec.es_level)
    else:
        bounds = options.get("bounds")
        kept_bounds = None if bounds is None else {a: b for a, b in bounds.items()
                                                   if a in inside}
        kept_groups, kept_names = _groups_inside(options.get("group_limits"),
                                                 options.get("group_names"), inside, notes)
        groups = {name: group for name, group in zip(kept_names, kept_groups, strict=True)}
        tail = tail_risk_budget_weights(scenarios, policy.budget, measure=spec.es_measure,
                                        level=spec.es_level, bounds=kept_bounds or None,
                                        groups=groups or None)
    allocation = replace(as_allocation_result(tail, policy.cov),
                         binding_constraints=tail.binding_constraints,
                         lagrange_multiplier=tail.lagrange_multiplier,
                         asset_groups=tail.asset_groups)
    if tail.binding_constraints:
        notes.append("Binding constraints: " + "; ".join(tail.binding_constraints))
    notes.extend(tail.warnings)
    portfolio = _finish(cov, allocation, policy.sleeve, notes, kept_groups, kept_names,
                        target_volatility=options["target_volatility"],
                        max_leverage=options["max_leverage"], cash=options["cash"])
    return replace(portfolio, tail=tail)


def _legacy_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(options)
    if "groups" in out:
        out["group_limits"] = out.pop("groups")
    return out


# build_portfolio options that only some methods take
# (riskcore.spec.METHOD_OPTIONS, the one table, plus the group names and the former
# name "groups" of group_limits)
_METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    **{k: v for k, v in SPEC_METHOD_OPTIONS.items() if k != "risk_budget"},
    "groups": SPEC_METHOD_OPTIONS["group_limits"],
    "group_names": SPEC_METHOD_OPTIONS["group_limits"],
}
_SHARED_OPTIONS = ("stablecoins", "target_volatility", "max_leverage", "cash")


def options_for(method: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """Keep the :func:`build_portfolio` options that ``method`` takes.

    Shared options (stablecoin policy, volatility target) are kept for every method;
    ``bounds`` only for ``"risk_budget"`` and ``"minimum_variance"``; ``groups`` and
    ``group_names`` only for ``"risk_budget"``; ``n_clusters``, ``clusters`` and
    ``cluster_budget`` only for ``"cluster_risk_budget"``. Unknown names are kept, so that
    :func:`build_portfolio` rejects them.

    Parameters
    ----------
    method : str
        One of :data:`METHODS`.
    options : mapping of str -> object
        Keyword options of :func:`build_portfolio` (``budget`` excluded).

    Returns
    -------
    dict
        The options ``method`` uses.
    """
    return {k: v for k, v in options.items()
            if k in _SHARED_OPTIONS or k not in _METHOD_OPTIONS or method in _METHOD_OPTIONS[k]}


def compare_portfolios(
    cov: pd.DataFrame,
    methods: Sequence[str] = tuple(METHODS),
    *,
    budget: Mapping[str, float] | pd.Series | None = None,
    **options: Any,
) -> dict[str, Portfolio | str]:
    """Build the portfolio of each method with the same choices, for a side-by-side view.

    Each method goes through :func:`build_portfolio` with the options it accepts: ``budget``
    only for ``"risk_budget"``, ``n_clusters`` only for ``"cluster_risk_budget"``,
    ``bounds`` only for ``"risk_budget"`` and ``"minimum_variance"``, ``groups`` and
    ``group_names`` only for ``"risk_budget"``; ``stablecoins``, ``target_volatility``,
    ``max_leverage`` and ``cash`` for every method. A method that fails with a
    :class:`~riskcore.errors.RiskcoreError` (e.g. infeasible bounds) gives its message
    instead of a portfolio, so one infeasible method does not hide the others.

    Parameters
    ----------
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance matrix labelled by asset.
    methods : sequence of str, default every method of :data:`METHODS`
        Methods to build, in the order of the result.
    budget : mapping or pandas.Series, optional
        Risk budget per asset for ``"risk_budget"``; None for equal risk contribution.
    **options
        Keyword options of :func:`build_portfolio`: ``bounds``, ``groups``,
        ``group_names``, ``stablecoins``, ``n_clusters``, ``target_volatility``,
        ``max_leverage``, ``cash``.

    Returns
    -------
    dict of str to Portfolio or str
        Method name -> its :class:`Portfolio`, or the error message of a method that
        raised a :class:`~riskcore.errors.RiskcoreError`.

    Raises
    ------
    DataError
        If a method is unknown (the allowed ones are listed).
    TypeError
        If an option is not one of :func:`build_portfolio`'s.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
    """
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ParameterError(f"method {unknown[0]!r} is unknown; allowed: {', '.join(METHODS)}")
    allowed = (*_METHOD_OPTIONS, *_SHARED_OPTIONS)
    extra = [k for k in options if k not in allowed]
    if extra:
        raise TypeError(
            f"compare_portfolios got an unexpected option {extra[0]!r}; allowed: "
            f"budget, {', '.join(allowed)}"
        )
    out: dict[str, Portfolio | str] = {}
    for method in methods:
        kwargs = options_for(method, options)
        if method == "risk_budget":
            kwargs["budget"] = budget
        try:
            out[method] = allocate_portfolio(cov, method=method, **_legacy_options(kwargs))
        except RiskcoreError as exc:
            out[method] = str(exc)
    return out


def _clusters_inside(clusters, inside: list[str], notes: list[str]):
    """User groups restricted to the assets inside the budget; the rest form "other"."""
    if not clusters:
        return None
    kept = {name: [m for m in members if m in inside] for name, members in clusters.items()}
    dropped = sorted({m for members in clusters.values() for m in members} - set(inside))
    if dropped:
        notes.append(f"Outside the risk budget, left out of the groups: {', '.join(dropped)}.")
    kept = {name: members for name, members in kept.items() if members}
    named = {m for members in kept.values() for m in members}
    rest = [a for a in inside if a not in named]
    if rest:
        kept["other"] = rest
        notes.append(f"In no group, budgeted together as \"other\": {', '.join(rest)}.")
    return kept


def _groups_inside(groups, names, inside: list[str], notes: list[str]):
    """Drop members outside the risk budget from group constraints, and empty groups."""
    if not groups:
        return [], []
    names = list(names) if names is not None else [f"group {i + 1}" for i in range(len(groups))]
    kept, kept_names = [], []
    for name, (members, low, high) in zip(names, groups, strict=True):
        members_in = [m for m in members if m in inside]
        dropped = [m for m in members if m not in inside]
        if dropped and members_in:
            notes.append(f"Group {name}: {', '.join(dropped)} outside the risk budget, left out.")
        if not members_in:
            notes.append(f"Group {name} has no member inside the risk budget and is ignored.")
            continue
        kept.append((members_in, float(low), float(high)))
        kept_names.append(name)
    return kept, kept_names


def _group_table(weights: pd.Series, cov: pd.DataFrame, groups: dict[str, list[Any]],
                 budget: pd.Series | None) -> pd.DataFrame:
    members = {g: m for g, m in groups.items() if m}
    covered = {a for m in members.values() for a in m}
    rest = [a for a in weights.index if a not in covered and abs(weights[a]) > 0]
    if rest:
        members["other"] = rest
    budgets = None if budget is None else {g: float(budget.reindex(m).sum())
                                           for g, m in members.items()}
    table = group_risk_contributions(weights, cov, members, group_budget=budgets)
    if budgets is None:
        table["risk_budget"] = np.nan
    return table
