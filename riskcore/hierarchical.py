"""Hierarchical methods: hierarchical risk parity and cluster risk budgeting.

Both start from the correlation distance ``d_ij = sqrt((1 - ρ_ij) / 2)`` of Lopez de Prado
(2016) and a scipy hierarchical clustering of it.

References
----------
M. Lopez de Prado (2016), "Building diversified portfolios that outperform out of sample",
Journal of Portfolio Management 42(4), 59-69.
T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 3.3 (risk budgeting
by asset class).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform

from riskcore.allocation import (
    AllocationResult,
    _as_cov,
    _label,
    _result,
    risk_budget_weights,
)
from riskcore.errors import DataError, InfeasibleError

__all__ = ["correlation_distance", "hrp_weights", "cluster_assets", "cluster_risk_budget_weights"]


def correlation_distance(cov: np.ndarray) -> np.ndarray:
    """Correlation distance ``sqrt((1 - ρ) / 2)`` of a covariance matrix (Lopez de Prado 2016).

    Parameters
    ----------
    cov : numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix with positive variances.

    Returns
    -------
    numpy.ndarray of shape (n_assets, n_assets)
        Distances in [0, 1], zero on the diagonal.
    """
    vol = np.sqrt(np.diagonal(cov))
    corr = np.clip(cov / np.outer(vol, vol), -1.0, 1.0)
    dist = np.sqrt(np.clip((1.0 - corr) / 2.0, 0.0, 1.0))
    np.fill_diagonal(dist, 0.0)
    return dist


def hrp_weights(cov: pd.DataFrame | np.ndarray, *, linkage: str = "single") -> AllocationResult:
    """Hierarchical risk parity weights (Lopez de Prado 2016).

    1. Tree clustering: scipy ``linkage`` (single linkage by default, as in the paper) of
       the correlation distance ``d_ij = sqrt((1 - ρ_ij) / 2)`` directly (the paper's
       variant that clusters on the Euclidean distance between columns of ``d`` is not
       used).
    2. Quasi-diagonalization: assets ordered as the leaves of the dendrogram.
    3. Recursive bisection: the ordered list is split in halves; each half's variance is that
       of its inverse-variance portfolio, and the halves share weight in inverse proportion
       to it (``α = 1 - V_left / (V_left + V_right)``).

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.
    linkage : {"single", "average", "complete", "ward"}, default "single"
        Linkage method of :func:`scipy.cluster.hierarchy.linkage`.

    Returns
    -------
    AllocationResult
        ``method="hierarchical risk parity"``, ``budget=None``.

    Raises
    ------
    DataError
        If the covariance matrix is unusable (see :func:`riskcore.allocation.risk_budget_weights`)
        or ``linkage`` is unknown.

    References
    ----------
    M. Lopez de Prado (2016), "Building diversified portfolios that outperform out of sample",
    Journal of Portfolio Management 42(4), 59-69.
    """
    values, labels = _as_cov(cov)
    allowed = ("single", "average", "complete", "ward")
    if linkage not in allowed:
        raise DataError(f"linkage is {linkage!r}; allowed: {', '.join(allowed)}")
    n = len(labels)
    if n == 1:
        return _result("hierarchical risk parity", np.ones(1), values, labels, None)
    dist = correlation_distance(values)
    tree = hierarchy.linkage(squareform(dist, checks=False), method=linkage)
    order = list(hierarchy.leaves_list(tree))
    weights = np.ones(n)
    var = np.diagonal(values)
    clusters = [order]
    while clusters:
        nxt = []
        for items in clusters:
            if len(items) < 2:
                continue
            half = len(items) // 2
            left, right = items[:half], items[half:]
            v_left = _ivp_variance(values, var, left)
            v_right = _ivp_variance(values, var, right)
            alpha = 1.0 - v_left / (v_left + v_right)
            weights[left] *= alpha
            weights[right] *= 1.0 - alpha
            nxt += [left, right]
        clusters = nxt
    return _result("hierarchical risk parity", weights / weights.sum(), values, labels, None)


def _ivp_variance(cov: np.ndarray, var: np.ndarray, items: list[int]) -> float:
    inv = 1.0 / var[items]
    w = inv / inv.sum()
    return float(w @ cov[np.ix_(items, items)] @ w)


def cluster_assets(
    cov: pd.DataFrame | np.ndarray, n_clusters: int, *, linkage: str = "average"
) -> pd.Series:
    """Group assets by hierarchical clustering of their correlation distance.

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix.
    n_clusters : int
        Number of groups wanted (1 to n_assets).
    linkage : str, default "average"
        Linkage method of :func:`scipy.cluster.hierarchy.linkage`.

    Returns
    -------
    pandas.Series of shape (n_assets,)
        Group name per asset (``"cluster 1"``, ``"cluster 2"``, ... in order of first
        appearance).

    Raises
    ------
    DataError
        If ``n_clusters`` is not between 1 and the number of assets.

    References
    ----------
    M. Lopez de Prado (2016), "Building diversified portfolios that outperform out of
    sample", Journal of Portfolio Management 42(4), 59-69 (correlation distance
    ``sqrt((1 - ρ) / 2)``); R. N. Mantegna (1999), "Hierarchical structure in financial
    markets", European Physical Journal B 11, 193-197.
    """
    values, labels = _as_cov(cov)
    n = len(labels)
    if not 1 <= int(n_clusters) <= n:
        raise DataError(f"n_clusters is {n_clusters}; it must be between 1 and {n} (assets)")
    if n == 1:
        return pd.Series(["cluster 1"], index=labels, name="group")
    tree = hierarchy.linkage(squareform(correlation_distance(values), checks=False), linkage)
    raw = hierarchy.fcluster(tree, t=int(n_clusters), criterion="maxclust")
    names: dict[int, str] = {}
    for r in raw:
        names.setdefault(int(r), f"cluster {len(names) + 1}")
    return pd.Series([names[int(r)] for r in raw], index=labels, name="group")


def cluster_risk_budget_weights(
    cov: pd.DataFrame | np.ndarray,
    *,
    groups: Mapping[str, Sequence[Any]] | pd.Series | None = None,
    group_budget: Mapping[str, float] | pd.Series | None = None,
    n_clusters: int | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> AllocationResult:
    """Risk budgeting by group: a budget per group, split equally among its members.

    Each asset of group ``g`` gets the risk budget ``B_g / n_g``; the risk-budgeting
    portfolio of these budgets gives every group a total relative risk contribution of
    exactly ``B_g`` and equal risk contributions inside each group, so that no correlated
    group dominates the portfolio's risk however many coins it holds.

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.
    groups : mapping or pandas.Series, optional
        ``{group: [members]}`` (names or positions) or a Series asset -> group. Every asset
        must belong to exactly one group. None: groups from :func:`cluster_assets`.
    group_budget : mapping or pandas.Series, optional
        Risk budget per group (non-negative, normalized to sum 1); None means equal.
    n_clusters : int, optional
        Number of clusters when ``groups`` is None (default ``round(sqrt(n_assets))``).
    tol, max_iter
        Passed to :func:`riskcore.allocation.risk_budget_weights`.

    Returns
    -------
    AllocationResult
        ``method="cluster risk budgeting"``; ``budget`` holds the per-asset budgets and
        ``asset_groups`` the group of each asset.

    Raises
    ------
    DataError
        Unknown or missing assets in ``groups``, an asset in two groups, or budgets for
        unknown groups.
    InfeasibleError
        Negative group budgets or all zero.
    ConvergenceError
        If the risk-budgeting solver does not converge.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
    M. Lopez de Prado (2016), "Building diversified portfolios that outperform out of sample".
    """
    values, labels = _as_cov(cov)
    n = len(labels)
    if groups is None:
        k = int(round(np.sqrt(n))) if n_clusters is None else n_clusters
        membership = cluster_assets(values, k)
        membership.index = labels
    else:
        membership = _membership(groups, labels)
    names = list(dict.fromkeys(membership))
    if group_budget is None:
        gb = pd.Series(1.0 / len(names), index=names)
    else:
        gb = pd.Series(dict(group_budget), dtype=float)
        unknown = [g for g in gb.index if g not in names]
        if unknown:
            raise DataError(f"group_budget names unknown groups {unknown}; groups are {names}")
        gb = gb.reindex(names).fillna(0.0)
        for g, v in gb.items():
            if not v >= 0:
                raise InfeasibleError(f"group budget of {g} is {v}; budgets must be >= 0")
        if gb.sum() <= 0:
            raise InfeasibleError("all group budgets are zero; at least one must be positive")
        gb = gb / gb.sum()
    sizes = membership.value_counts()
    budget = np.array([gb[g] / sizes[g] for g in membership])
    res = risk_budget_weights(
        pd.DataFrame(values, index=labels, columns=labels), budget, tol=tol, max_iter=max_iter
    )
    return dataclasses.replace(
        res, method="cluster risk budgeting", asset_groups=membership.rename("group")
    )


def _membership(groups: Any, labels: pd.Index) -> pd.Series:
    if isinstance(groups, pd.Series):
        extra = groups.index.difference(labels)
        if len(extra):
            raise DataError(f"groups name assets not in the covariance matrix: {list(extra)}")
        missing = labels.difference(groups.index)
        if len(missing):
            raise DataError(
                f"groups give no group for {', '.join(_label(a) for a in missing)}; every "
                "asset needs one"
            )
        return groups.reindex(labels).astype(str)
    owner: dict[int, str] = {}
    for g, members in dict(groups).items():
        if isinstance(members, (str, int, np.integer)):
            members = [members]
        for m in members:
            if m in labels:
                pos = labels.get_loc(m)
            elif isinstance(m, (int, np.integer)) and 0 <= m < len(labels):
                pos = int(m)
            else:
                raise DataError(
                    f"group {g} names {_label(m)!r}, which is not in the covariance matrix"
                )
            if pos in owner and owner[pos] != str(g):
                raise DataError(
                    f"{_label(labels[pos])} is in two groups ({owner[pos]} and {g}); each "
                    "asset belongs to one group"
                )
            owner[pos] = str(g)
    missing = [labels[i] for i in range(len(labels)) if i not in owner]
    if missing:
        raise DataError(
            f"groups give no group for {', '.join(_label(a) for a in missing)}; every asset "
            "needs one"
        )
    return pd.Series([owner[i] for i in range(len(labels))], index=labels, name="group")
