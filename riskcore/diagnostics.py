"""Diagnostics of an allocation: diversification ratio, effective number of bets, group risk.

Methods are compared side by side with :func:`riskcore.portfolio.compare_portfolios`.

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
from typing import Any

import numpy as np
import pandas as pd

from riskcore.allocation import (
    _as_cov,
    _as_weights,
    relative_risk_contributions,
)
from riskcore.errors import DataError

__all__ = [
    "diversification_ratio",
    "effective_number_of_bets",
    "group_risk_contributions",
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

    References
    ----------
    Y. Choueifaty, Y. Coignard (2008), "Toward maximum diversification", Journal of
    Portfolio Management 35(1), 40-51.
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
