"""Diagnostics of an allocation and a side-by-side comparison of methods.

Definitions:

- diversification ratio ``Σ_i w_i σ_i / σ_p`` (Choueifaty & Coignard 2008): 1 for a single
  asset or perfectly correlated assets, larger the more the portfolio diversifies;
- effective number of bets ``exp(-Σ_i p_i ln p_i)`` with ``p_i`` the relative risk
  contributions (the entropy form used by Roncalli 2013; Meucci 2009 applies it to
  uncorrelated factors): ``n`` when every asset carries the same risk, 1 when one does.

References
----------
Y. Choueifaty, Y. Coignard (2008), "Toward maximum diversification", Journal of Portfolio
Management 35(1), 40-51.
A. Meucci (2009), "Managing diversification", Risk 22(5), 74-79.
T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskcore.allocation import (
    AllocationResult,
    _as_cov,
    _as_weights,
    equal_weights,
    inverse_volatility_weights,
    minimum_variance_weights,
    relative_risk_contributions,
    risk_budget_weights,
)
from riskcore.errors import DataError

__all__ = [
    "diversification_ratio",
    "effective_number_of_bets",
    "group_risk_contributions",
    "AllocationDiagnostics",
    "allocation_diagnostics",
    "MethodComparison",
    "compare_methods",
]


def diversification_ratio(weights: pd.Series | np.ndarray, cov: pd.DataFrame | np.ndarray) -> float:
    """Diversification ratio ``Σ w_i σ_i / σ_p`` (Choueifaty & Coignard 2008).

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Weights (decimals).
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix.

    Returns
    -------
    float
        Unit-free ratio, >= 1 for long-only portfolios.

    Raises
    ------
    DataError
        If the inputs are unusable.
    """
    values, labels = _as_cov(cov)
    w = _as_weights(weights, labels)
    vol = np.sqrt(np.diagonal(values))
    return float(w @ vol / np.sqrt(w @ values @ w))


def effective_number_of_bets(
    weights: pd.Series | np.ndarray, cov: pd.DataFrame | np.ndarray
) -> float:
    """Effective number of bets: exponential of the entropy of relative risk contributions.

    Negative contributions (possible with negative correlations) are set to zero before
    the shares are renormalized.

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Weights (decimals).
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix.

    Returns
    -------
    float
        Between 1 and ``n_assets``.

    Raises
    ------
    DataError
        If the inputs are unusable.

    References
    ----------
    A. Meucci (2009), "Managing diversification", Risk 22(5); T. Roncalli (2013), section 2.
    """
    rrc = relative_risk_contributions(weights, cov).to_numpy()
    p = np.clip(rrc, 0.0, None)
    p = p[p > 0] / p.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def group_risk_contributions(
    weights: pd.Series,
    cov: pd.DataFrame,
    groups: Mapping[str, Sequence[Any]] | pd.Series,
    *,
    group_budget: Mapping[str, float] | pd.Series | None = None,
) -> pd.DataFrame:
    """Relative risk contribution and weight of each group, next to its budget.

    Parameters
    ----------
    weights : pandas.Series of shape (n_assets,)
        Weights by asset.
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Covariance matrix labelled by asset.
    groups : mapping or pandas.Series
        ``{group: [assets]}`` or a Series asset -> group; assets in no group are reported
        as ``"other"``.
    group_budget : mapping or pandas.Series, optional
        Risk budget per group (decimals), shown in a ``risk_budget`` column.

    Returns
    -------
    pandas.DataFrame
        Index: group; columns ``weight``, ``relative_risk_contribution`` and, if budgets are
        given, ``risk_budget``.

    Raises
    ------
    DataError
        If a group names an asset not in ``weights``.
    """
    if isinstance(groups, pd.Series):
        membership = groups.astype(str)
    else:
        membership = pd.Series(dtype=object)
        for g, members in dict(groups).items():
            for m in [members] if isinstance(members, str) else members:
                membership[m] = str(g)
    unknown = [a for a in membership.index if a not in weights.index]
    if unknown:
        raise DataError(f"groups name assets that are not in the portfolio: {unknown}")
    membership = membership.reindex(weights.index).fillna("other")
    rrc = relative_risk_contributions(weights, cov)
    table = pd.DataFrame(
        {
            "weight": weights.groupby(membership, sort=False).sum(),
            "relative_risk_contribution": rrc.groupby(membership, sort=False).sum(),
        }
    )
    table.index.name = "group"
    if group_budget is not None:
        table["risk_budget"] = pd.Series(dict(group_budget), dtype=float).reindex(table.index)
    return table


@dataclass(frozen=True)
class AllocationDiagnostics:
    """Summary diagnostics of one allocation.

    Attributes
    ----------
    portfolio_volatility : float
        Annualized volatility (decimal).
    diversification_ratio : float
        ``Σ w_i σ_i / σ_p``.
    effective_number_of_bets : float
        ``exp`` of the entropy of relative risk contributions.
    largest_contributor : str
        Asset with the largest relative risk contribution.
    largest_contribution : float
        Its relative risk contribution (decimal share of risk).
    max_budget_deviation : float
        Largest ``|relative RC_i - b_i|`` in percentage points of risk as a decimal (NaN
        without budgets).
    """

    portfolio_volatility: float
    diversification_ratio: float
    effective_number_of_bets: float
    largest_contributor: str
    largest_contribution: float
    max_budget_deviation: float


def allocation_diagnostics(
    result: AllocationResult, cov: pd.DataFrame | np.ndarray
) -> AllocationDiagnostics:
    """Diagnostics of an :class:`~riskcore.allocation.AllocationResult`.

    Parameters
    ----------
    result : AllocationResult
        Output of any allocation method.
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        The covariance matrix it was computed with.

    Returns
    -------
    AllocationDiagnostics
    """
    rrc = result.relative_risk_contributions
    top = rrc.idxmax()
    dev = float("nan") if result.budget is None else float((rrc - result.budget).abs().max())
    return AllocationDiagnostics(
        portfolio_volatility=result.portfolio_volatility,
        diversification_ratio=diversification_ratio(result.weights, cov),
        effective_number_of_bets=effective_number_of_bets(result.weights, cov),
        largest_contributor=str(top),
        largest_contribution=float(rrc[top]),
        max_budget_deviation=dev,
    )


@dataclass(frozen=True, eq=False)
class MethodComparison:
    """Every allocation method on the same covariance matrix, side by side.

    Attributes
    ----------
    weights : pandas.DataFrame
        Index: asset; one column per method.
    relative_risk_contributions : pandas.DataFrame
        Index: asset; one column per method.
    summary : pandas.DataFrame
        Index: ``portfolio_volatility``, ``diversification_ratio``,
        ``effective_number_of_bets``, ``largest_contribution``; one column per method.
    results : dict
        Method name -> :class:`~riskcore.allocation.AllocationResult`.
    """

    weights: pd.DataFrame
    relative_risk_contributions: pd.DataFrame
    summary: pd.DataFrame
    results: dict[str, AllocationResult]


def compare_methods(
    cov: pd.DataFrame | np.ndarray,
    *,
    budget: Any = None,
    bounds: Any = None,
    groups: Any = None,
) -> MethodComparison:
    """Run every allocation method on one covariance matrix and tabulate the results.

    Methods: equal weight, inverse volatility, risk budgeting (equal risk contribution
    when ``budget`` is None), constrained risk budgeting (when ``bounds`` or ``groups`` are
    given), hierarchical risk parity and minimum variance (long only).

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.
    budget, bounds, groups
        As in :func:`riskcore.allocation.risk_budget_weights`.

    Returns
    -------
    MethodComparison

    Raises
    ------
    RiskcoreError
        Whatever a method raises for unusable inputs (messages name the asset).
    """
    from riskcore.hierarchical import hrp_weights

    runs = [
        equal_weights(cov),
        inverse_volatility_weights(cov),
        risk_budget_weights(cov, budget),
    ]
    if bounds is not None or groups is not None:
        runs.append(risk_budget_weights(cov, budget, bounds=bounds, groups=groups))
    runs += [hrp_weights(cov), minimum_variance_weights(cov)]
    results = {r.method: r for r in runs}
    weights = pd.DataFrame({m: r.weights for m, r in results.items()})
    rrc = pd.DataFrame({m: r.relative_risk_contributions for m, r in results.items()})
    summary = pd.DataFrame(
        {
            m: {
                "portfolio_volatility": r.portfolio_volatility,
                "diversification_ratio": diversification_ratio(r.weights, cov),
                "effective_number_of_bets": effective_number_of_bets(r.weights, cov),
                "largest_contribution": float(r.relative_risk_contributions.max()),
            }
            for m, r in results.items()
        }
    )
    return MethodComparison(weights, rrc, summary, results)
