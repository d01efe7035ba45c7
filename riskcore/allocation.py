"""Portfolio allocation: risk budgeting, inverse volatility, equal weight, risk contributions.

Every method returns an :class:`AllocationResult`, so a table can compare methods side by
side. Units: the covariance matrix is annualized (decimal per year, see
``docs/ARCHITECTURE.md``), so volatilities and risk contributions come out annualized too;
weights do not depend on the covariance's time unit.

Definitions (one meaning each):

- risk contribution ``RC_i = w_i (Σw)_i / σ_p``, summing to the portfolio volatility ``σ_p``;
- relative risk contribution ``RC_i / σ_p``, summing to 1;
- marginal risk contribution ``(Σw)_i / σ_p``;
- risk budget ``b_i >= 0``, summing to 1.

References
----------
S. Maillard, T. Roncalli, J. Teiletche (2010), "The properties of equally weighted risk
contribution portfolios", Journal of Portfolio Management 36(4), 60-70.
T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
F. Spinu (2013), "An algorithm for computing risk parity weights", SSRN 2297383.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from riskcore._rb_solver import RiskBudgetSolution, solve_risk_budget
from riskcore.assets import CASH
from riskcore.errors import ConvergenceError, DataError, InfeasibleError

__all__ = [
    "AllocationResult",
    "RiskBudgetSolution",
    "solve_risk_budget",
    "risk_contributions",
    "relative_risk_contributions",
    "marginal_risk_contributions",
    "portfolio_volatility",
    "equal_weights",
    "inverse_volatility_weights",
    "risk_budget_weights",
    "minimum_variance_weights",
    "VolatilityTarget",
    "volatility_target",
    "StablecoinPolicy",
    "stablecoin_policy",
]

# Relative tolerance of the symmetry and positive-semi-definiteness checks (times the
# largest variance).
_SYMMETRY_RTOL = 1e-8
_PSD_RTOL = 1e-10
# risk_budget_weights checks positive semi-definiteness up front (a Cholesky factorization,
# O(n^3)) only below this many assets, where it costs microseconds; from this size on the
# factorization would cost more than the O(n^2)-per-step solver, so the matrix is diagnosed
# (eigenvalues) only when the solver fails.
_PSD_PRECHECK_MAX_ASSETS = 150


@dataclass(frozen=True, eq=False)
class AllocationResult:
    """Weights of one allocation method with their risk decomposition.

    Attributes
    ----------
    method : str
        Method name, e.g. ``"risk budgeting"``, ``"equal risk contribution"``,
        ``"inverse volatility"``, ``"equal weight"``.
    weights : pandas.Series of shape (n_assets,)
        Weights indexed by asset, decimals summing to 1.
    risk_contributions : pandas.Series of shape (n_assets,)
        ``w_i (Σw)_i / σ_p``, summing to ``portfolio_volatility`` (annualized decimal when
        the covariance is annualized).
    relative_risk_contributions : pandas.Series of shape (n_assets,)
        Risk contributions divided by ``portfolio_volatility``, summing to 1.
    budget : pandas.Series of shape (n_assets,) or None
        Risk budgets used (summing to 1), or None for methods without a budget.
    portfolio_volatility : float
        ``sqrt(w'Σw)`` in the covariance's unit (annualized decimal).
    converged : bool
        Whether the solver reached its tolerance (True for closed-form methods).
    iterations : int
        Solver iterations (0 for closed-form methods).
    budget_error : float
        ``max_i |relative RC_i - b_i| / b_i`` over assets with a positive budget, measured on
        the weights; NaN for methods without a budget. With binding constraints it is large
        by design (the constraints move risk away from the budgets).
    optimality_error : float
        For constrained risk budgeting, the largest relative violation of the optimality
        conditions of Richard & Roncalli (2019) (how well the solver converged); NaN for
        the other methods.
    lagrange_multiplier : float
        λ of constrained risk budgeting (``RC_i / b_i`` of every asset that touches no binding
        constraint, annualized volatility units); NaN for other methods.
    binding_constraints : tuple of str
        Human-readable constraints that bind at the solution, e.g.
        ``"BTC-USD at its maximum weight 0.3"``; empty when none bind.
    asset_groups : pandas.Series of shape (n_assets,) or None
        Group of each asset for cluster risk budgeting; None otherwise.
    covariance : numpy.ndarray of shape (n_assets, n_assets) or None
        The validated (symmetrized) covariance matrix the weights were computed from, in the
        order of ``weights``; it serves :attr:`marginal_risk_contributions`.
    """

    method: str
    weights: pd.Series
    risk_contributions: pd.Series
    relative_risk_contributions: pd.Series
    budget: pd.Series | None
    portfolio_volatility: float
    converged: bool
    iterations: int
    budget_error: float
    optimality_error: float = float("nan")
    lagrange_multiplier: float = float("nan")
    binding_constraints: tuple[str, ...] = ()
    asset_groups: pd.Series | None = None
    covariance: np.ndarray | None = field(default=None, repr=False)

    @property
    def max_relative_error(self) -> float:
        """Solver accuracy: ``optimality_error`` where defined, else ``budget_error``.

        Former single field with both meanings; kept for the pages until they switch to
        :attr:`budget_error` and :attr:`optimality_error`.
        """
        return self.optimality_error if np.isfinite(self.optimality_error) else self.budget_error

    @property
    def marginal_risk_contributions(self) -> pd.Series:
        """Marginal risk contributions ``(Σw)_i / σ_p`` (pandas.Series of shape (n_assets,)).

        The same quantity as :func:`marginal_risk_contributions` of the weights and the
        covariance, defined also at a zero weight.

        Raises
        ------
        DataError
            If the result carries no covariance matrix.
        """
        if self.covariance is None:
            raise DataError(
                f"this {self.method} result carries no covariance matrix; call "
                "marginal_risk_contributions(weights, cov)"
            )
        mrc = marginal_risk_contributions(self.weights.to_numpy(), self.covariance)
        return pd.Series(mrc.to_numpy(), index=self.weights.index, name=mrc.name)


# ---------------------------------------------------------------------------------------
# validation helpers


def _label(name: Any) -> str:
    """Asset label for messages: names as they are, positions as ``asset 3``."""
    if isinstance(name, (int, np.integer)):
        return f"asset {name}"
    return str(name)


def _as_cov(
    cov: pd.DataFrame | np.ndarray, *, check_psd: bool = True
) -> tuple[np.ndarray, pd.Index]:
    """Validate a covariance matrix; return it as a float array with its asset labels.

    The checks for shape, labels, finiteness, symmetry and positive variances cost
    O(n^2); the positive-semi-definiteness check (``check_psd``) costs a Cholesky
    factorization, O(n^3), and can be left to the caller (see :func:`_psd_problem`).
    """
    if isinstance(cov, pd.DataFrame):
        if not cov.index.equals(cov.columns):
            raise DataError(
                "covariance matrix rows and columns must carry the same asset labels in the "
                f"same order; rows are {list(cov.index)}, columns are {list(cov.columns)}"
            )
        labels = cov.columns
        values = cov.to_numpy(dtype=float)
    else:
        values = np.asarray(cov, dtype=float)
        labels = pd.RangeIndex(values.shape[0]) if values.ndim >= 1 else pd.RangeIndex(0)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(
            f"covariance matrix must be square (n_assets x n_assets); got shape {values.shape}"
        )
    if values.shape[0] == 0:
        raise DataError("covariance matrix is empty; at least one asset is needed")
    if labels.has_duplicates:
        dup = labels[labels.duplicated()][0]
        raise DataError(
            f"asset {dup!r} appears twice in the covariance matrix; labels must be unique"
        )
    if not np.isfinite(values).all():
        i, j = np.argwhere(~np.isfinite(values))[0]
        raise DataError(
            f"covariance entry ({_label(labels[i])}, {_label(labels[j])}) is {values[i, j]}; "
            "all entries must be finite (estimate on a window where every asset has data)"
        )
    var = np.diagonal(values)
    scale = float(np.max(np.abs(var)))
    if np.array_equal(values, values.T):  # the common case, twice as fast as the difference
        largest_asym = 0.0
    else:
        asym = values - values.T
        np.abs(asym, out=asym)
        largest_asym = float(asym.max())
    if largest_asym > _SYMMETRY_RTOL * max(scale, np.finfo(float).tiny):
        i, j = np.unravel_index(np.argmax(asym), asym.shape)
        raise DataError(
            f"covariance matrix is not symmetric: entry ({_label(labels[i])}, "
            f"{_label(labels[j])}) is {values[i, j]:.6g} but ({_label(labels[j])}, "
            f"{_label(labels[i])}) is {values[j, i]:.6g}"
        )
    for i in np.flatnonzero(var <= 0):
        raise DataError(
            f"{_label(labels[i])} has {'zero' if var[i] == 0 else 'negative'} variance "
            f"({var[i]:.3g}); every asset needs a positive variance: drop it, estimate on a "
            "longer window, or apply a volatility floor (stablecoins)"
        )
    if largest_asym > 0:
        values = values + values.T
        values *= 0.5
    else:
        # exactly symmetric (e.g. from DataFrame.cov): a private copy, never a view of the
        # caller's data
        values = values.copy()
    if check_psd:
        problem = _psd_problem_if_cholesky_fails(values)
        if problem is not None:
            raise DataError(problem)
    return values, labels


def _psd_problem(values: np.ndarray) -> str | None:
    """Message saying why ``values`` is not positive semi-definite, or None if it is.

    Costs an eigendecomposition, O(n^3): callers on a hot path run it only to explain a
    failure.
    """
    scale = float(np.max(np.abs(np.diagonal(values))))
    eig = np.linalg.eigvalsh(values)
    if eig[0] < -_PSD_RTOL * scale:
        return (
            "covariance matrix is not positive semi-definite (smallest eigenvalue "
            f"{eig[0]:.3g}, largest {eig[-1]:.3g}); repair it with nearest_correlation "
            "or use a shrinkage estimator"
        )
    return None


def _psd_problem_if_cholesky_fails(values: np.ndarray) -> str | None:
    """Like :func:`_psd_problem`, with a Cholesky attempt first (cheap when it succeeds)."""
    try:
        np.linalg.cholesky(values)
    except np.linalg.LinAlgError:
        return _psd_problem(values)
    return None


def _as_budget(budget: Any, labels: pd.Index) -> np.ndarray:
    """Validate risk budgets against the asset labels; return them normalized to sum 1."""
    n = len(labels)
    if budget is None:
        return np.full(n, 1.0 / n)
    if isinstance(budget, Mapping) and not isinstance(budget, pd.Series):
        budget = pd.Series(dict(budget), dtype=float)
    if isinstance(budget, pd.Series):
        extra = budget.index.difference(labels, sort=False)
        if len(extra):
            raise DataError(
                "budget names assets that are not in the covariance matrix: "
                f"{', '.join(_label(a) for a in extra)}; allowed: "
                f"{', '.join(_label(a) for a in labels)}"
            )
        missing = labels.difference(budget.index, sort=False)
        if len(missing):
            raise DataError(
                f"budget has no entry for {', '.join(_label(a) for a in missing)}; give one "
                "budget per asset of the covariance matrix (0 excludes an asset)"
            )
        values = budget.reindex(labels).to_numpy(dtype=float)
    else:
        values = np.asarray(budget, dtype=float).reshape(-1)
        if values.shape[0] != n:
            raise DataError(
                f"budget has {values.shape[0]} entries but the covariance matrix has {n} assets"
            )
    for i in np.flatnonzero(~np.isfinite(values) | (values < 0)):
        raise InfeasibleError(
            f"budget for {_label(labels[i])} is {values[i]}; budgets must be >= 0 and sum "
            "to a positive number"
        )
    total = values.sum()
    if total <= 0:
        raise InfeasibleError("all risk budgets are zero; at least one must be positive")
    return values / total


def _as_weights(weights: Any, labels: pd.Index) -> np.ndarray:
    if isinstance(weights, Mapping) and not isinstance(weights, pd.Series):
        weights = pd.Series(dict(weights), dtype=float)
    if isinstance(weights, pd.Series):
        extra = weights.index.difference(labels, sort=False)
        missing = labels.difference(weights.index, sort=False)
        if len(extra) or len(missing):
            raise DataError(
                "weights and covariance matrix name different assets: "
                f"only in weights {[_label(a) for a in extra]}, "
                f"only in covariance {[_label(a) for a in missing]}"
            )
        values = weights.reindex(labels).to_numpy(dtype=float)
    else:
        values = np.asarray(weights, dtype=float).reshape(-1)
        if values.shape[0] != len(labels):
            raise DataError(
                f"weights have {values.shape[0]} entries but the covariance matrix has "
                f"{len(labels)} assets"
            )
    for i in np.flatnonzero(~np.isfinite(values)):
        raise DataError(f"weight of {_label(labels[i])} is {values[i]}; weights must be finite")
    return values


def _cov_for_weights(cov: Any) -> tuple[np.ndarray, pd.Index]:
    """Light validation for risk decomposition (no definiteness check)."""
    if isinstance(cov, pd.DataFrame):
        return cov.to_numpy(dtype=float), pd.Index(cov.columns)
    values = np.asarray(cov, dtype=float)
    if values.ndim != 2 or values.shape[0] != values.shape[1]:
        raise DataError(
            f"covariance matrix must be square (n_assets x n_assets); got shape {values.shape}"
        )
    return values, pd.RangeIndex(values.shape[0])


# ---------------------------------------------------------------------------------------
# risk decomposition


def portfolio_volatility(weights: pd.Series | np.ndarray, cov: pd.DataFrame | np.ndarray) -> float:
    """Portfolio volatility ``sqrt(w'Σw)``.

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Weights (decimals), labelled like ``cov`` when a Series.
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized (decimal per year squared).

    Returns
    -------
    float
        Volatility in the covariance's unit (annualized decimal).

    Raises
    ------
    DataError
        If weights and covariance name different assets or weights are not finite.
    """
    values, labels = _cov_for_weights(cov)
    w = _as_weights(weights, labels)
    return float(np.sqrt(max(w @ values @ w, 0.0)))


def risk_contributions(
    weights: pd.Series | np.ndarray, cov: pd.DataFrame | np.ndarray
) -> pd.Series:
    """Risk contributions ``RC_i = w_i (Σw)_i / σ_p`` (Euler decomposition of volatility).

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Weights (decimals).
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.

    Returns
    -------
    pandas.Series of shape (n_assets,)
        Risk contributions summing to the portfolio volatility (annualized decimal); NaN if
        the portfolio volatility is zero.

    Raises
    ------
    DataError
        If weights and covariance name different assets or weights are not finite.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 2.1.
    """
    values, labels = _cov_for_weights(cov)
    w = _as_weights(weights, labels)
    sw = values @ w
    vol = np.sqrt(max(w @ sw, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(w * sw / vol, index=labels, name="risk_contribution")


def relative_risk_contributions(
    weights: pd.Series | np.ndarray, cov: pd.DataFrame | np.ndarray
) -> pd.Series:
    """Relative risk contributions ``RC_i / σ_p``, summing to 1.

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Weights (decimals).
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix.

    Returns
    -------
    pandas.Series of shape (n_assets,)
        Unit-free shares of portfolio risk.

    Raises
    ------
    DataError
        If weights and covariance name different assets or weights are not finite.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 2.1.
    S. Maillard, T. Roncalli, J. Teiletche (2010), "The properties of equally weighted risk
    contribution portfolios", Journal of Portfolio Management 36(4), 60-70.
    """
    values, labels = _cov_for_weights(cov)
    w = _as_weights(weights, labels)
    return pd.Series(relative_risk_contribution_array(w, values), index=labels,
                     name="relative_risk_contribution")


def relative_risk_contribution_array(weights: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Relative risk contributions ``w_i (Σw)_i / w'Σw`` of one portfolio or a stack (NumPy).

    The one formula of riskcore: :func:`relative_risk_contributions` and the simulator's
    measurements (daily, per date) call it.

    Parameters
    ----------
    weights : numpy.ndarray of shape (..., n_assets)
        Weights; a stack of portfolios along the leading axes.
    cov : numpy.ndarray of shape (..., n_assets, n_assets)
        Covariance matrices (any unit: the result is unit-free).

    Returns
    -------
    numpy.ndarray of shape (..., n_assets)
        Shares of portfolio variance, summing to 1; NaN where the variance is not positive.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 2.1.
    """
    sw = np.matmul(cov, weights[..., None])[..., 0]
    var = np.sum(weights * sw, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = weights * sw / var[..., None]
    return np.where((var > 0)[..., None], out, np.nan)


def marginal_risk_contributions(
    weights: pd.Series | np.ndarray, cov: pd.DataFrame | np.ndarray
) -> pd.Series:
    """Marginal risk contributions ``∂σ_p/∂w_i = (Σw)_i / σ_p``.

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Weights (decimals).
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.

    Returns
    -------
    pandas.Series of shape (n_assets,)
        Volatility added per unit of weight (annualized decimal).

    Raises
    ------
    DataError
        If weights and covariance name different assets or weights are not finite.
    """
    values, labels = _cov_for_weights(cov)
    w = _as_weights(weights, labels)
    sw = values @ w
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(sw / np.sqrt(w @ sw), index=labels, name="marginal_risk_contribution")


def _result(
    method: str,
    weights: np.ndarray,
    cov: np.ndarray,
    labels: pd.Index,
    budget: np.ndarray | None,
    *,
    converged: bool = True,
    iterations: int = 0,
    error: float | None = None,
    lagrange_multiplier: float = float("nan"),
    binding: tuple[str, ...] = (),
) -> AllocationResult:
    sw = cov @ weights
    vol = float(np.sqrt(max(weights @ sw, 0.0)))
    rc = weights * sw / vol
    rrc = rc / vol
    if budget is None:
        err = float("nan")
    else:
        pos = budget > 0
        err = float(np.max(np.abs(rrc[pos] / budget[pos] - 1.0)))
    return AllocationResult(
        method=method,
        weights=pd.Series(weights, index=labels, name="weight"),
        risk_contributions=pd.Series(rc, index=labels, name="risk_contribution"),
        relative_risk_contributions=pd.Series(rrc, index=labels, name="relative_risk_contribution"),
        budget=None if budget is None else pd.Series(budget, index=labels, name="risk_budget"),
        portfolio_volatility=vol,
        converged=converged,
        iterations=iterations,
        budget_error=err,
        optimality_error=float("nan") if error is None else float(error),
        lagrange_multiplier=lagrange_multiplier,
        binding_constraints=binding,
        covariance=cov,
    )


# ---------------------------------------------------------------------------------------
# methods


def equal_weights(cov: pd.DataFrame | np.ndarray) -> AllocationResult:
    """Equal weights ``w_i = 1/n`` with their risk decomposition.

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.

    Returns
    -------
    AllocationResult
        ``method="equal weight"``, ``budget=None``.

    Raises
    ------
    DataError
        If the covariance matrix is unusable (see :func:`risk_budget_weights`).
    """
    values, labels = _as_cov(cov)
    n = len(labels)
    return _result("equal weight", np.full(n, 1.0 / n), values, labels, None)


def inverse_volatility_weights(cov: pd.DataFrame | np.ndarray) -> AllocationResult:
    """Inverse-volatility weights ``w_i ∝ 1/σ_i``.

    This is the risk-parity portfolio when all correlations are equal (Maillard, Roncalli &
    Teiletche 2010).

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.

    Returns
    -------
    AllocationResult
        ``method="inverse volatility"``, ``budget=None``.

    Raises
    ------
    DataError
        If the covariance matrix is unusable, e.g. an asset with zero variance.

    References
    ----------
    S. Maillard, T. Roncalli, J. Teiletche (2010), "The properties of equally weighted risk
    contribution portfolios", Journal of Portfolio Management 36(4).
    """
    values, labels = _as_cov(cov)
    inv = 1.0 / np.sqrt(np.diagonal(values))
    return _result("inverse volatility", inv / inv.sum(), values, labels, None)


def risk_budget_weights(
    cov: pd.DataFrame | np.ndarray,
    budget: pd.Series | Mapping[Any, float] | Sequence[float] | np.ndarray | None = None,
    *,
    bounds: Any = None,
    groups: Any = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> AllocationResult:
    r"""Long-only risk-budgeting weights: each asset's relative risk contribution equals its budget.

    Finds :math:`w \ge 0`, :math:`\sum w_i = 1` with
    :math:`w_i (\Sigma w)_i / (w^\top \Sigma w) = b_i`, by Newton's method on Spinu's (2013)
    convex problem :math:`\min_{y>0} \tfrac12 y^\top\Sigma y - \sum_i b_i \ln y_i`,
    :math:`w = y / \sum y` (see :func:`riskcore._rb_solver.solve_risk_budget`). Equal budgets
    (the default) give the equal-risk-contribution (ERC) portfolio of Maillard, Roncalli &
    Teiletche (2010). Assets with a zero budget get a zero weight.

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized (decimal per year squared); symmetric, positive
        semi-definite, every variance positive.
    budget : pandas.Series, dict, sequence or numpy.ndarray of shape (n_assets,), optional
        Risk budgets, non-negative, at least one positive; normalized to sum 1. A Series or
        dict is matched to the covariance labels (positions for an ndarray covariance).
        None (default) means equal budgets.
    bounds : tuple, mapping, pandas.Series or sequence of pairs, optional
        Per-asset ``(minimum, maximum)`` weights (decimals): one pair for every asset, a
        mapping from asset name to its pair (others unbounded), or one pair per asset in
        covariance order; None inside a pair leaves that side free. Turns on constrained
        risk budgeting (Richard & Roncalli 2019, see :mod:`riskcore.constrained`).
    groups : sequence or mapping, optional
        Constraints on the members' total weight: a list of ``(members, minimum, maximum)``
        or a mapping ``{name: (members, minimum, maximum)}``; members by name or position,
        e.g. ``{"stablecoins": (["USDT-USD", "USDC-USD"], 0.10, None)}``.
    tol : float, default 1e-10
        Tolerance on ``max_i |relative RC_i - b_i| / b_i``.
    max_iter : int, default 100
        Maximum number of Newton iterations.

    Returns
    -------
    AllocationResult
        ``method="equal risk contribution"`` for equal budgets, else ``"risk budgeting"``;
        ``"constrained risk budgeting"`` with bounds or groups, where assets touching no
        binding constraint share ``RC_i / b_i = λ`` (``lagrange_multiplier``) and
        ``binding_constraints`` lists the others.

    Raises
    ------
    DataError
        If the covariance matrix is not square, not symmetric, not finite, has an asset with
        zero variance, or its labels do not match the budget; or if it is not positive
        semi-definite (the message gives the smallest eigenvalue). Definiteness costs
        O(n^3) to check, more than the solver itself, so it is checked up front only below
        150 assets or with bounds/groups; otherwise it is diagnosed when the solver fails.
    InfeasibleError
        If a budget is negative or NaN, or all budgets are zero; if bounds and groups cannot
        hold together with full investment (the message names the conflicting constraints);
        or if no constrained risk-budgeting portfolio exists for them.
    ConvergenceError
        If the solver does not reach ``tol`` within ``max_iter`` iterations (the message gives
        the error reached).

    References
    ----------
    F. Spinu (2013), "An algorithm for computing risk parity weights", SSRN 2297383.
    S. Maillard, T. Roncalli, J. Teiletche (2010), "The properties of equally weighted risk
    contribution portfolios", Journal of Portfolio Management 36(4), 60-70.
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC.
    J.-C. Richard, T. Roncalli (2019), "Constrained risk budgeting portfolios: theory,
    algorithms, applications & puzzles", arXiv:1902.05710.

    Examples
    --------
    >>> import numpy as np
    >>> vol = np.array([0.1, 0.2, 0.3, 0.4])
    >>> cov = 0.5 * np.outer(vol, vol) + np.diag(0.5 * vol**2)
    >>> risk_budget_weights(cov).weights.round(2).tolist()
    [0.48, 0.24, 0.16, 0.12]
    """
    constrained = bounds is not None or groups is not None
    values, labels = _as_cov(cov, check_psd=False)
    if constrained or len(labels) < _PSD_PRECHECK_MAX_ASSETS:
        problem = _psd_problem_if_cholesky_fails(values)
        if problem is not None:
            raise DataError(problem)
    b = _as_budget(budget, labels)
    if constrained:
        return _constrained(values, labels, b, bounds, groups, tol, max_iter)
    sol = solve_risk_budget(values, b, tol=tol, max_iter=max_iter)
    if not sol.converged:
        problem = _psd_problem(values)
        if problem is not None:
            raise DataError(f"risk budgeting did not converge: {problem}")
        raise ConvergenceError(
            "risk budgeting did not converge: largest relative risk-contribution error "
            f"{sol.max_relative_error:.3g} after {sol.iterations} iterations (tolerance "
            f"{tol:g}); raise max_iter, loosen tol, or use a better-conditioned covariance "
            "estimate (shrinkage)"
        )
    method = "equal risk contribution" if np.ptp(b) == 0 else "risk budgeting"
    return _result(
        method, sol.weights, values, labels, b, converged=True, iterations=sol.iterations
    )


def _constrained(values, labels, b, bounds, groups, tol, max_iter) -> AllocationResult:
    """Constrained risk budgeting (Richard & Roncalli 2019) behind `risk_budget_weights`."""
    from riskcore import constrained as crb

    lower, upper = crb.parse_bounds(bounds, labels)
    group_list = crb.parse_groups(groups, labels)
    crb.check_feasible(lower, upper, group_list, labels)
    A, c = crb.group_rows(group_list, len(labels))
    sol = crb.solve_constrained_risk_budget(
        values, b, lower, upper, A, c, tol=tol, max_iter=5 * max_iter
    )
    if sol.status == "no_solution":
        forced = [f"{_label(labels[i])} >= {lower[i]:g}" for i in np.flatnonzero(lower > 0)] + [
            f"{g.name} >= {g.minimum:g}" for g in group_list if g.minimum > 0
        ]
        raise InfeasibleError(
            "no constrained risk-budgeting portfolio exists (Richard & Roncalli 2019): the "
            f"minimum constraints ({', '.join(forced) or 'none'}) together with hedging "
            "assets already take more than the whole portfolio at the lowest risk; lower "
            "those minimums"
        )
    if not sol.converged:
        raise ConvergenceError(
            "constrained risk budgeting did not converge: largest relative optimality error "
            f"{sol.max_relative_error:.3g} after {sol.iterations} iterations ({sol.status}; "
            f"tolerance {tol:g})"
        )
    w = sol.weights
    binding = []
    pinned = upper - lower <= 1e-12
    for i in np.flatnonzero(pinned):
        binding.append(f"{_label(labels[i])} fixed at weight {lower[i]:g}")
    for i in np.flatnonzero((sol.upper_multipliers > 0) & ~pinned):
        binding.append(f"{_label(labels[i])} at its maximum weight {upper[i]:g}")
    for i in np.flatnonzero((sol.lower_multipliers > 0) & ~pinned):
        binding.append(f"{_label(labels[i])} at its minimum weight {lower[i]:g}")
    row = 0
    for g in group_list:
        for kind, limit, present in (
            ("maximum", g.maximum, g.maximum < 1),
            ("minimum", g.minimum, g.minimum > 0),
        ):
            if present:
                if sol.group_multipliers[row] > 0:
                    binding.append(f"{g.name} at its {kind} total weight {limit:g}")
                row += 1
    return _result(
        "constrained risk budgeting",
        w,
        values,
        labels,
        b,
        converged=True,
        iterations=sol.iterations,
        error=sol.max_relative_error,
        lagrange_multiplier=sol.lagrange_multiplier,
        binding=tuple(binding),
    )


def minimum_variance_weights(
    cov: pd.DataFrame | np.ndarray,
    *,
    bounds: Any = None,
    tol: float = 1e-10,
    max_iter: int = 500,
) -> AllocationResult:
    r"""Long-only minimum-variance weights: ``min w'Σw`` s.t. ``sum(w) = 1``, bounds.

    Solved exactly by a primal active-set method for convex quadratic programs (Nocedal &
    Wright 2006, Algorithm 16.3): each iteration fixes the assets of a working set at their
    bounds and solves the equality-constrained problem on the others (one symmetric linear
    system), stepping to the nearest bound that blocks; an asset leaves the working set when
    its Lagrange multiplier has the wrong sign. The covariance is scaled to unit average
    variance first, so the answer does not depend on its unit and near-zero-variance assets
    (stablecoins) do not make the stopping rule scale-dependent.

    The result is checked against the optimality (KKT) conditions, with ``λ`` the common
    marginal variance: ``(Σw)_i = λ`` for every asset strictly inside its bounds,
    ``(Σw)_i >= λ`` at its minimum and ``(Σw)_i <= λ`` at its maximum. The largest
    violation, divided by the portfolio variance ``w'Σw``, must not exceed ``tol``.

    Parameters
    ----------
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.
    bounds : optional
        Per-asset ``(minimum, maximum)`` weights, as in :func:`risk_budget_weights`
        (default ``(0, 1)``: long only).
    tol : float, default 1e-10
        Largest violation of the optimality conditions accepted, relative to the portfolio
        variance (reported as ``max_relative_error``).
    max_iter : int, default 500
        Active-set iterations (each adds or drops one asset from the working set).

    Returns
    -------
    AllocationResult
        ``method="minimum variance"``, ``budget=None``; ``lagrange_multiplier`` is ``λ``
        (annualized variance) and ``max_relative_error`` the optimality residual reached.

    Raises
    ------
    DataError
        If the covariance matrix or bounds are unusable.
    InfeasibleError
        If the bounds cannot sum to 1.
    ConvergenceError
        If the optimality conditions are not met to ``tol`` within ``max_iter`` iterations
        (the message gives the residual reached).

    References
    ----------
    H. Markowitz (1952), "Portfolio selection", Journal of Finance 7(1), 77-91.
    J. Nocedal, S. J. Wright (2006), *Numerical Optimization*, 2nd ed., Springer, section 16.5.
    """
    from riskcore import constrained as crb

    values, labels = _as_cov(cov)
    lower, upper = crb.parse_bounds(bounds, labels)
    crb.check_feasible(lower, upper, [], labels)
    scale = float(np.mean(np.diagonal(values)))
    sigma = values / scale
    w, iterations = _min_variance_active_set(sigma, lower, upper, max_iter)
    residual, lam = _min_variance_kkt_residual(sigma, w, lower, upper)
    if not residual <= tol:
        raise ConvergenceError(
            "minimum variance did not converge: optimality residual (marginal variances of "
            f"held assets apart, relative to the portfolio variance) {residual:.3g} after "
            f"{iterations} iterations (tolerance {tol:g}); raise max_iter or use a "
            "better-conditioned covariance estimate (shrinkage)"
        )
    return _result(
        "minimum variance",
        w,
        values,
        labels,
        None,
        converged=True,
        iterations=iterations,
        error=residual,
        lagrange_multiplier=lam * scale,
    )


def _min_variance_active_set(
    sigma: np.ndarray, lower: np.ndarray, upper: np.ndarray, max_iter: int
) -> tuple[np.ndarray, int]:
    """Primal active-set method for ``min w'Σw``, ``sum(w) = 1``, ``lower <= w <= upper``.

    Nocedal & Wright (2006), Algorithm 16.3, with the working set made of bound constraints
    (``at[i]`` is -1 at the minimum, +1 at the maximum, 0 free); the budget constraint is
    always active. Returns the last iterate and the iterations used (``max_iter`` with
    the limit was hit: the caller's optimality check then reports the residual).
    """
    n = sigma.shape[0]
    pinned = upper - lower <= 0
    # feasible start: inverse-variance weights clipped to the bounds, then moved towards the
    # bounds' slack until they sum to 1 (possible: check_feasible passed)
    inv = 1.0 / np.diagonal(sigma)
    w = np.clip(inv / inv.sum(), lower, upper)
    gap = 1.0 - w.sum()
    room = (upper - w) if gap > 0 else (w - lower)
    if gap != 0 and room.sum() > 0:
        w += np.sign(gap) * room * min(1.0, abs(gap) / room.sum())
    w = np.clip(w, lower, upper)
    at = np.zeros(n, dtype=int)
    at[w <= lower] = -1
    at[(w >= upper) & ~pinned] = 1
    if not (at == 0).any():
        at[np.argmax(upper - lower)] = 0
    for it in range(1, max_iter + 1):
        free = at == 0
        target = _min_variance_on_free_set(sigma, w, free)
        if target is None:
            return w, it
        step = target - w
        # longest step in [0, 1] that keeps the free weights inside their bounds
        alpha, blocking = 1.0, -1
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(
                step < 0, (lower - w) / step, np.where(step > 0, (upper - w) / step, np.inf)
            )
        ratio[~free] = np.inf
        j = int(np.argmin(ratio))
        if ratio[j] < 1.0:
            alpha, blocking = max(float(ratio[j]), 0.0), j
        if blocking < 0:
            w = target
            lam, multipliers = _min_variance_multipliers(sigma, w, at)
            worst = int(np.argmin(multipliers))
            if multipliers[worst] >= -1e-12 * abs(lam):
                return w, it
            at[worst] = 0  # the bound holds the objective up: release it
        else:
            w = w + alpha * step
            if step[blocking] < 0:
                w[blocking], at[blocking] = lower[blocking], -1
            else:
                w[blocking], at[blocking] = upper[blocking], 1
    return w, max_iter


def _min_variance_on_free_set(
    sigma: np.ndarray, w: np.ndarray, free: np.ndarray
) -> np.ndarray | None:
    """Minimize ``w'Σw`` over the free weights, fixed ones held, ``sum(w) = 1``.

    Solves the KKT system ``[[Σ_FF, 1], [1', 0]] [w_F; -λ] = [-Σ_FB w_B; 1 - sum w_B]``,
    with one step of iterative refinement; None if it is singular.
    """
    idx = np.flatnonzero(free)
    k = idx.size
    fixed_w = np.where(free, 0.0, w)
    kkt = np.empty((k + 1, k + 1))
    kkt[:k, :k] = sigma[np.ix_(idx, idx)]
    kkt[:k, k] = 1.0
    kkt[k, :k] = 1.0
    kkt[k, k] = 0.0
    rhs = np.empty(k + 1)
    rhs[:k] = -(sigma[idx] @ fixed_w)
    rhs[k] = 1.0 - fixed_w.sum()
    try:
        sol = np.linalg.solve(kkt, rhs)
        sol += np.linalg.solve(kkt, rhs - kkt @ sol)
    except np.linalg.LinAlgError:
        return None
    if not np.isfinite(sol).all():
        return None
    target = fixed_w
    target[idx] = sol[:k]
    return target


def _min_variance_multipliers(
    sigma: np.ndarray, w: np.ndarray, at: np.ndarray
) -> tuple[float, np.ndarray]:
    """Return the free assets' common marginal variance ``λ`` and the bound multipliers.

    A multiplier is ``(Σw)_i - λ`` at a minimum and ``λ - (Σw)_i`` at a maximum (both must
    be >= 0 at the optimum); free assets get +inf.
    """
    g = sigma @ w
    free = at == 0
    lam = float(np.mean(g[free]))
    multipliers = np.full(w.shape[0], np.inf)
    multipliers[at < 0] = g[at < 0] - lam
    multipliers[at > 0] = lam - g[at > 0]
    return lam, multipliers


def _min_variance_kkt_residual(
    sigma: np.ndarray, w: np.ndarray, lower: np.ndarray, upper: np.ndarray
) -> tuple[float, float]:
    """Largest violation of the minimum-variance optimality conditions, and ``λ``.

    Recomputed from the weights alone (not from the solver's working set): assets strictly
    inside their bounds must share the marginal variance ``λ``; an asset at its minimum may
    have more, at its maximum less. Divided by the portfolio variance ``w'Σw``; also fails
    (inf) on weights that break the bounds or the budget.
    """
    g = sigma @ w
    variance = float(w @ g)
    if not (np.isfinite(w).all() and variance > 0):
        return float("inf"), float("nan")
    width = np.maximum(upper - lower, 0.0)
    at_lower = w <= lower + 1e-12 * width
    at_upper = (w >= upper - 1e-12 * width) & ~at_lower
    inside = ~at_lower & ~at_upper
    if inside.any():
        lam = float(np.mean(g[inside]))
    else:  # a vertex: any λ between the largest marginal at a maximum and smallest at a min
        hi = g[at_upper].max() if at_upper.any() else -np.inf
        lo = g[at_lower].min() if at_lower.any() else np.inf
        lam = float(hi if np.isfinite(hi) else lo)
    violation = np.zeros_like(g)
    violation[inside] = np.abs(g[inside] - lam)
    violation[at_lower] = np.maximum(lam - g[at_lower], 0.0)
    violation[at_upper] = np.maximum(g[at_upper] - lam, 0.0)
    out_of_bounds = max(float(np.max(lower - w)), float(np.max(w - upper)), abs(w.sum() - 1))
    if out_of_bounds > 1e-12:
        return float("inf"), lam
    return float(violation.max()) / variance, lam


def volatility_scale(
    weights: np.ndarray,
    cov: np.ndarray,
    target: float,
    *,
    max_leverage: float = 1.0,
    cash_position: int | None = None,
) -> float:
    """Scale ``k`` of the risky weights that reaches a target volatility (NumPy kernel).

    The one volatility-target rule of riskcore: :func:`volatility_target` and the
    walk-forward simulator both call it. With riskless cash, ``k = target / sigma(w)``; with
    a sleeve asset ``j`` (a stablecoin), ``k`` solves ``sigma(k w + (1 - k) e_j) = target``,
    the quadratic ``k^2 a + 2 k (1 - k) c + (1 - k)^2 d = target^2`` with ``a = w'Σw``,
    ``c = w'Σe_j``, ``d = Σ_jj`` (larger root). ``k`` is clipped to ``[0, max_leverage]``.

    Parameters
    ----------
    weights : numpy.ndarray of shape (n_assets,)
        Risky weights summing to 1.
    cov : numpy.ndarray of shape (n_assets, n_assets)
        Covariance in the unit of ``target`` squared (annualized with an annualized target).
    target : float
        Target volatility (> 0).
    max_leverage : float, default 1.0
        Largest ``k``.
    cash_position : int, optional
        Position of the sleeve asset in ``cov``; None for riskless cash.

    Returns
    -------
    float
        The scale ``k`` in ``[0, max_leverage]``.

    References
    ----------
    A. Moreira, T. Muir (2017), "Volatility-managed portfolios", Journal of Finance 72(4).
    """
    a = float(weights @ cov @ weights)
    if cash_position is None:
        vol = np.sqrt(max(a, 0.0))
        k = target / vol if vol > 0 else max_leverage
    else:
        c = float(weights @ cov[:, cash_position])
        d = float(cov[cash_position, cash_position])
        qa, qb, qc = a - 2 * c + d, 2 * c - 2 * d, d - target**2
        if abs(qa) < 1e-18 * max(abs(d), abs(a), 1e-300):
            k = -qc / qb if qb else 0.0
        else:
            k = (-qb + np.sqrt(max(qb * qb - 4 * qa * qc, 0.0))) / (2 * qa)
    return float(min(max(k, 0.0), max_leverage))


@dataclass(frozen=True, eq=False)
class VolatilityTarget:
    """A portfolio scaled to a target volatility, with its cash or stablecoin sleeve.

    Attributes
    ----------
    weights : pandas.Series
        Final weights summing to 1: the scaled risky weights plus the sleeve (``cash``
        entry, or the chosen stablecoin's weight increased); a negative sleeve is borrowing.
    risky_weights : pandas.Series
        The input weights times ``leverage`` (the sleeve excluded).
    leverage : float
        Scale applied to the input portfolio (1 = unchanged, < 1 de-risks, > 1 levers).
    sleeve_weight : float
        Weight of the sleeve, ``1 - leverage`` (decimal).
    sleeve_asset : str
        Name of the sleeve (``"cash"`` or a stablecoin of the covariance matrix).
    target : float
        Target annualized volatility (decimal).
    portfolio_volatility : float
        Volatility reached (annualized decimal), equal to ``target`` unless capped.
    target_reached : bool
        False when the leverage cap stopped the scaling below the target.
    """

    weights: pd.Series
    risky_weights: pd.Series
    leverage: float
    sleeve_weight: float
    sleeve_asset: str
    target: float
    portfolio_volatility: float
    target_reached: bool


def volatility_target(
    weights: pd.Series | np.ndarray,
    cov: pd.DataFrame | np.ndarray,
    target: float,
    *,
    max_leverage: float = 1.0,
    cash: str = CASH,
) -> VolatilityTarget:
    """Scale a portfolio to a target annualized volatility, the rest in a cash sleeve.

    The risky weights are multiplied by ``k`` so that the portfolio volatility equals
    ``target``, with ``k <= max_leverage``; the sleeve gets ``1 - k`` (the remainder when
    de-risking, a borrowing when ``k > 1``). The sleeve is riskless ``"cash"`` by default, or
    an asset of ``cov`` (a stablecoin), whose own variance and covariances are then taken
    into account exactly (``k`` solves a quadratic equation).

    Parameters
    ----------
    weights : pandas.Series or numpy.ndarray of shape (n_assets,)
        Portfolio to scale (e.g. risk-budget weights), summing to 1.
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix, annualized.
    target : float
        Target volatility, annualized decimal (0.4 = 40% a year).
    max_leverage : float, default 1.0
        Largest scale allowed (1.0 = no borrowing).
    cash : str, default "cash"
        Name of the sleeve; an asset of ``cov`` to hold the sleeve in that stablecoin.

    Returns
    -------
    VolatilityTarget

    Raises
    ------
    DataError
        If ``target`` or ``max_leverage`` is not positive, the weights do not sum to 1
        (within 1e-6), or weights and covariance differ.

    References
    ----------
    A. Moreira, T. Muir (2017), "Volatility-managed portfolios", Journal of Finance 72(4).
    """
    values, labels = _cov_for_weights(cov)
    w = _as_weights(weights, labels)
    total = float(w.sum())
    if abs(total - 1.0) > 1e-6:
        raise DataError(
            f"weights sum to {total:.6g}; volatility targeting scales a fully invested "
            "portfolio, so the weights must sum to 1 (within 1e-6)"
        )
    if not (np.isfinite(target) and target > 0):
        raise DataError(f"target volatility is {target}; it must be a positive decimal (0.4 = 40%)")
    if not (np.isfinite(max_leverage) and max_leverage > 0):
        raise DataError(f"max_leverage is {max_leverage}; it must be positive (1 = no borrowing)")
    j = labels.get_loc(cash) if cash in labels else None
    k = volatility_scale(w, values, target, max_leverage=max_leverage, cash_position=j)
    risky = pd.Series(w * k, index=labels, name="weight")
    final = risky.copy()
    if cash in labels:
        final[cash] += 1.0 - k
    else:
        final[cash] = 1.0 - k
    full = final.reindex(labels, fill_value=0.0).to_numpy()
    reached_vol = float(np.sqrt(max(full @ values @ full, 0.0)))
    return VolatilityTarget(
        weights=final,
        risky_weights=risky,
        leverage=k,
        sleeve_weight=1.0 - k,
        sleeve_asset=str(cash),
        target=float(target),
        portfolio_volatility=reached_vol,
        target_reached=bool(abs(reached_vol - target) <= 1e-9 * max(target, 1.0)),
    )


@dataclass(frozen=True, eq=False)
class StablecoinPolicy:
    """Covariance and budgets for the risky part, after applying a stablecoin policy.

    Attributes
    ----------
    cov : pandas.DataFrame
        Covariance of the assets that take part in risk budgeting.
    budget : pandas.Series or None
        Their budgets (renormalized), or None for equal budgets.
    sleeve : tuple of str
        Stablecoins kept out of the risk budget, to serve as the cash sleeve of
        :func:`volatility_target`; empty for ``policy="include"``.
    policy : str
        ``"include"`` or ``"sleeve"``.
    """

    cov: pd.DataFrame
    budget: pd.Series | None
    sleeve: tuple[str, ...]
    policy: str


def stablecoin_policy(
    cov: pd.DataFrame,
    budget: pd.Series | Mapping[Any, float] | None = None,
    *,
    policy: str = "include",
    stablecoins: Sequence[str] | None = None,
) -> StablecoinPolicy:
    """Decide whether stablecoins take part in the risk budget or form the cash sleeve.

    With ``policy="include"`` stablecoins are ordinary assets with their own budget (their
    near-zero volatility then gives them large weights unless a volatility floor is applied
    to the covariance). With ``policy="sleeve"`` they are removed from the risk budget; the
    risky assets are budgeted among themselves and a stablecoin can then hold the remainder
    through :func:`volatility_target` (``cash=<stablecoin>``).

    Parameters
    ----------
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Covariance matrix labelled by asset.
    budget : pandas.Series or mapping, optional
        Risk budgets by asset; None for equal budgets.
    policy : {"include", "sleeve"}, default "include"
        Stablecoin policy.
    stablecoins : sequence of str, optional
        Which assets are stablecoins; default: names recognized by
        :func:`riskcore.assets.is_stablecoin`.

    Returns
    -------
    StablecoinPolicy

    Raises
    ------
    DataError
        Unknown policy, unknown stablecoin names, or no risky asset left.
    """
    from riskcore.assets import is_stablecoin

    if policy not in ("include", "sleeve"):
        raise DataError(f"stablecoin policy is {policy!r}; allowed: 'include', 'sleeve'")
    labels = pd.Index(cov.columns)
    if stablecoins is None:
        stables = [a for a in labels if is_stablecoin(str(a))]
    else:
        unknown = [s for s in stablecoins if s not in labels]
        if unknown:
            raise DataError(f"stablecoins {unknown} are not in the covariance matrix")
        stables = list(stablecoins)
    b = None if budget is None else pd.Series(dict(budget), dtype=float)
    if policy == "include" or not stables:
        return StablecoinPolicy(cov, b, (), policy)
    risky = [a for a in labels if a not in stables]
    if not risky:
        raise DataError("every asset is a stablecoin: nothing is left to risk-budget")
    sub_b = None
    if b is not None:
        sub_b = b.reindex(risky)
    return StablecoinPolicy(cov.loc[risky, risky], sub_b, tuple(stables), policy)
