r"""Risk budgeting on expected shortfall: Euler contributions and a solver.

Two tail measures of a long-only portfolio ``w`` on a scenario matrix ``R`` (the analysis
window's returns, ``n_observations x n_assets``, decimal per period):

- **historical ES**: the mean loss over the ``k = floor((n - 1)(1 - level)) + 1`` worst
  portfolio returns, exactly :func:`riskcore.metrics.expected_shortfall` of ``R w``. Its Euler
  risk contribution is ``RC_i = w_i * (-mean of R[s, i] over the tail scenarios s of the
  portfolio)``; the contributions sum to ES exactly, and are homogeneous of degree 1 in ``w``
  (Tasche 1999; Scaillet 2004). Ties between the ``k``-th and ``(k+1)``-th worst scenarios are
  broken by ``numpy.argpartition`` (the ES value does not depend on the choice; the
  contributions move by at most :attr:`TailAllocationResult.resolution`).
- **Cornish-Fisher (modified) ES**: ``-(w'mu + sigma_p e(S_p, K_p))``
  (:func:`riskcore.tail.cornish_fisher_var_es` of ``R w``) with the analytic gradient of
  Boudt, Peterson & Croux (2008), computed from the scenarios (no co-moment tensors).

Definitions (one meaning each, as in :mod:`riskcore.allocation`): ``risk_contribution``
``RC_i = w_i dES/dw_i`` (sums to ES, a positive loss decimal per period); relative risk
contribution ``RC_i / ES`` (sums to 1); ``risk_budget`` ``b_i >= 0`` summing to 1.

Attainable accuracy. Historical ES is piecewise linear in ``w``: on each region where the set
of tail scenarios is fixed it is linear, and its gradient jumps when a scenario enters or
leaves the tail. The budgeting problem ``min_y ES(y) - sum_i b_i ln y_i`` (Spinu's 2013
formulation with ES for volatility; Mausser & Romanko 2014) is convex, but its minimum
generically lies on a kink, where several scenarios tie at the VaR and the optimality
conditions hold only with fractional tail probabilities. The exact Euler contributions of
the solution, which count each scenario fully in or out, then miss the budgets by up to a
few one-scenario swaps, ``O(w_i |R[s, i] - R[s', i]| / (k ES b_i))``, reported as
``resolution``: with ``k = 80`` tail scenarios a relative error of a few percent is what the
measure allows, not a solver failure. The solver works on a smoothed CVaR (softplus
smoothing of the Rockafellar-Uryasev formulation) with Newton's method and a continuation in
the smoothing width down to ``1e-9`` of ES, where it meets ``tol``; it then tries the exact
region's own fixed point ``w_i ∝ b_i / m_i`` (``m`` the mean tail loss of the region) and
keeps whichever exact Euler error is smaller. When that fixed point stays in its own region
the exact contributions match the budgets to rounding (``max_relative_error`` ~1e-16, as
in every historical row of ``benchmarks/bench_tail.py``); otherwise the error is of the
order of ``resolution`` (1.2% against a resolution of 3.5% for the 14 real coins on the
last 1,600 days, the window of the Riskfolio-Lib comparison). Cornish-Fisher ES is smooth,
and Newton's method on the budget equations reaches ``tol`` on the exact contributions.

Constrained and cluster variants. With weight bounds or group limits,
:func:`tail_risk_budget_weights` solves the constrained risk budgeting of Richard & Roncalli
(2019) with ES for volatility (formulation and optimality conditions in its docstring),
both measures; :func:`tail_cluster_risk_budget_weights` is the cluster risk budgeting of
:func:`riskcore.hierarchical.cluster_risk_budget_weights` with ES contributions (a budget
per group, equal ES inside it).

References
----------
F. Spinu (2013), "An algorithm for computing risk parity weights", SSRN 2297383.
H. Mausser, O. Romanko (2014), "CVaR proportional risk allocation", SSRN 2366297; and
(2018) "Long-only equal risk contribution portfolios for CVaR under discrete distributions",
Quantitative Finance 18(11), 1927-1945.
J.-C. Richard, T. Roncalli (2019), "Constrained risk budgeting portfolios: theory,
algorithms, applications & puzzles", arXiv:1902.05710.
R.T. Rockafellar, S. Uryasev (2000), "Optimization of conditional value-at-risk", Journal of
Risk 2(3), 21-41.
D. Tasche (1999), "Risk contributions and performance measurement", TU Munich working paper.
O. Scaillet (2004), "Nonparametric estimation and sensitivity analysis of expected
shortfall", Mathematical Finance 14(1), 115-129.
K. Boudt, B. Peterson, C. Croux (2008), "Estimation and decomposition of downside risk for
portfolios with non-normal returns", Journal of Risk 11(2), 79-103.
T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 2.2 (ES budgeting).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from riskcore._rb_solver import solve_risk_budget
from riskcore.errors import ConvergenceError, DataError, InfeasibleError, RiskcoreError
from riskcore.metrics import expected_shortfall
from riskcore.tail import cf_tail_mean, check_level, cornish_fisher_var_es, tail_size

__all__ = [
    "TAIL_MEASURES",
    "TailContributions",
    "TailAllocationResult",
    "es_contributions",
    "tail_risk_budget_weights",
    "tail_cluster_risk_budget_weights",
    "contribution_comparison",
    "es_contributions_over_time",
    "as_allocation_result",
]

#: Risk measures of :func:`es_contributions` and :func:`tail_risk_budget_weights`.
TAIL_MEASURES: tuple[str, ...] = ("historical", "cornish-fisher")

# Smoothing widths of the continuation, in units of the portfolio's ES (the iterate is
# scaled so that ES = 1 at the solution); each stage warm-starts the next.
_MU_START = 5e-2
_MU_FACTOR = 0.1
_MU_END = 1e-9
# Objective changes below this (relative) are rounding noise.
_FLAT = 1e-13
# A weight within this of a bound is at the bound.
_BOUND_TOL = 1e-12
# Budget error each intermediate stage must reach before the width shrinks.
_STAGE_TOL = 1e-4
_ARMIJO = 1e-4
_MAX_BACKTRACK = 60
# Central-difference step (in log-weights) of the Cornish-Fisher Jacobian.
_FD_STEP = 1e-6
_MAX_LOG_STEP = 1.0
# Newton on the Cornish-Fisher equations gives up after this many damped steps in a row
# shorter than _SHORT_STEP (far from any solution: the expansion is near its invalid region).
_SHORT_STEP = 1.0 / 64
_MAX_SHORT_STEPS = 20
# Fixed-point steps tried on the exact tail region after the smoothed solve.
_POLISH_STEPS = 5
# Corrections of the active-set guess of constrained budgeting before giving up.
_ACTIVE_SET_TRIES = 8


# --------------------------------------------------------------------------- validation


def _label(name: Any) -> str:
    return f"asset {name}" if isinstance(name, (int, np.integer)) else str(name)


def _as_scenarios(returns: pd.DataFrame | np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """Validate a returns matrix; return it as a float array with asset labels."""
    if isinstance(returns, pd.DataFrame):
        labels = pd.Index(returns.columns)
        values = returns.to_numpy(dtype=float)
        rows = returns.index
    else:
        values = np.asarray(returns, dtype=float)
        labels = pd.RangeIndex(values.shape[1]) if values.ndim == 2 else pd.RangeIndex(0)
        rows = None
    if values.ndim != 2 or values.shape[1] == 0:
        raise DataError(
            f"returns must be a matrix (n_observations x n_assets); got shape {values.shape}"
        )
    if labels.has_duplicates:
        dup = labels[labels.duplicated()][0]
        raise DataError(f"asset {dup!r} appears twice in the returns; labels must be unique")
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        s, i = bad[0]
        at = rows[s] if rows is not None else f"row {s}"
        raise DataError(
            f"return of {_label(labels[i])} at {at} is {values[s, i]}; every scenario must be "
            "complete (choose a window where every asset has prices, or drop the asset)"
        )
    if values.shape[0] < 2:
        raise DataError(f"returns have {values.shape[0]} observation(s); at least 2 are needed")
    return values, labels


def _as_vector(values: Any, labels: pd.Index, what: str) -> np.ndarray:
    if isinstance(values, Mapping) and not isinstance(values, pd.Series):
        values = pd.Series(dict(values), dtype=float)
    if isinstance(values, pd.Series):
        extra = values.index.difference(labels, sort=False)
        missing = labels.difference(values.index, sort=False)
        if len(extra) or len(missing):
            raise DataError(
                f"{what} and returns name different assets: only in {what} "
                f"{[_label(a) for a in extra]}, only in returns {[_label(a) for a in missing]}"
            )
        out = values.reindex(labels).to_numpy(dtype=float)
    else:
        out = np.asarray(values, dtype=float).reshape(-1)
        if out.shape[0] != len(labels):
            raise DataError(
                f"{what} have {out.shape[0]} entries but the returns have {len(labels)} assets"
            )
    for i in np.flatnonzero(~np.isfinite(out)):
        raise DataError(f"{what} of {_label(labels[i])} is {out[i]}; it must be finite")
    return out


def _as_budget(budget: Any, labels: pd.Index) -> np.ndarray:
    if budget is None:
        return np.full(len(labels), 1.0 / len(labels))
    b = _as_vector(budget, labels, "budget")
    for i in np.flatnonzero(b < 0):
        raise InfeasibleError(
            f"budget for {_label(labels[i])} is {b[i]}; budgets must be >= 0 and sum to a "
            "positive number"
        )
    if b.sum() <= 0:
        raise InfeasibleError("all risk budgets are zero; at least one must be positive")
    return b / b.sum()


def _check_measure(measure: str) -> None:
    if measure not in TAIL_MEASURES:
        raise RiskcoreError(
            f"tail risk measure is {measure!r}; allowed: {', '.join(TAIL_MEASURES)}"
        )


def _tail_warning(k: int, minimum: int, level: float, n: int) -> tuple[str, ...]:
    if k >= minimum:
        return ()
    return (
        f"the {level:.1%} tail of {n} observations holds only {k} scenario(s), fewer than "
        f"{minimum}: expected shortfall and its contributions rest on too few losses to be "
        "meaningful; use a longer window or a lower confidence level",
    )


# --------------------------------------------------------------------------- measures


def _historical(scen: np.ndarray, w: np.ndarray, k: int) -> tuple[float, np.ndarray]:
    """Historical ES of ``scen @ w`` and its gradient (mean asset loss over the tail)."""
    port = scen @ w
    tail = np.argpartition(port, k - 1)[:k]
    grad = -scen[tail].mean(axis=0)
    return float(w @ grad), grad


def _cornish_fisher(
    scen: np.ndarray, w: np.ndarray, level: float, centered: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Cornish-Fisher ES of ``scen @ w`` and its analytic gradient.

    ``ES = -(mu_p + sigma_p e(S_p, K_p))`` with ``sigma_p`` (ddof=1), skewness and excess
    kurtosis of the portfolio as in :mod:`riskcore.tail`; derivatives of the central moments
    ``m_j = mean(x^j)``, ``x = C w`` (centered scenarios ``C``), are ``j C' x^{j-1} / n``.
    """
    n = scen.shape[0]
    mean = scen.mean(axis=0)
    cen = scen - mean if centered is None else centered
    x = cen @ w
    m2 = float(np.mean(x * x))
    if m2 <= 0:
        return -float(mean @ w), -mean
    m3 = float(np.mean(x**3))
    m4 = float(np.mean(x**4))
    skew = m3 / m2**1.5
    kurt = m4 / m2**2 - 3.0
    g, e, de_ds, de_dk = cf_tail_mean(1.0 - level, skew, kurt)
    sigma = math.sqrt(m2 * n / (n - 1))
    d2 = 2.0 * (cen.T @ x) / n
    d3 = 3.0 * (cen.T @ (x * x)) / n
    d4 = 4.0 * (cen.T @ (x**3)) / n
    dskew = d3 / m2**1.5 - 1.5 * m3 / m2**2.5 * d2
    dkurt = d4 / m2**2 - 2.0 * m4 / m2**3 * d2
    dsigma = d2 * (n / (n - 1)) / (2.0 * sigma)
    grad = -mean - e * dsigma - sigma * (de_ds * dskew + de_dk * dkurt)
    return -(float(mean @ w) + sigma * e), grad


# --------------------------------------------------------------------------- contributions


@dataclass(frozen=True, eq=False)
class TailContributions:
    """Euler decomposition of a portfolio's expected shortfall.

    Attributes
    ----------
    measure : str
        ``"historical"`` or ``"cornish-fisher"``.
    level : float
        Confidence level.
    expected_shortfall : float
        Portfolio ES, positive loss decimal per period.
    risk_contributions : pandas.Series of shape (n_assets,)
        ``w_i dES/dw_i``, summing to ``expected_shortfall``.
    relative_risk_contributions : pandas.Series of shape (n_assets,)
        ``risk_contributions / expected_shortfall``, summing to 1 (NaN if ES is 0).
    n_observations : int
        Scenarios used.
    n_tail_scenarios : int
        ``floor((n - 1)(1 - level)) + 1``, the scenarios the historical ES averages.
    warnings : tuple of str
        Why the figures should be read with care (too few tail scenarios; Cornish-Fisher
        outside its domain of validity); empty when none applies.
    """

    measure: str
    level: float
    expected_shortfall: float
    risk_contributions: pd.Series
    relative_risk_contributions: pd.Series
    n_observations: int
    n_tail_scenarios: int
    warnings: tuple[str, ...] = ()


def es_contributions(
    returns: pd.DataFrame | np.ndarray,
    weights: pd.Series | Mapping[Any, float] | Sequence[float] | np.ndarray,
    *,
    measure: str = "historical",
    level: float = 0.95,
    min_tail_scenarios: int = 20,
) -> TailContributions:
    """Compute a portfolio's expected shortfall and its Euler risk contributions.

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray of shape (n_observations, n_assets)
        Simple returns, decimal per period, every entry finite (one scenario per row).
    weights : pandas.Series, dict, sequence or numpy.ndarray of shape (n_assets,)
        Portfolio weights (decimals; a Series or dict is matched to the columns). They need
        not sum to 1: contributions are homogeneous of degree 1 in the weights.
    measure : {"historical", "cornish-fisher"}, default "historical"
        See the module notes.
    level : float, default 0.95
        Confidence level.
    min_tail_scenarios : int, default 20
        Fewer tail scenarios than this adds a warning.

    Returns
    -------
    TailContributions
        Contributions sum to ES to floating-point rounding (Euler's theorem; for the
        historical measure by construction, for Cornish-Fisher analytically).

    Raises
    ------
    RiskcoreError
        If ``measure`` is unknown or ``level`` is out of range.
    DataError
        If returns are not a complete finite matrix with at least 2 rows (4 for
        Cornish-Fisher), or weights do not match its assets.

    References
    ----------
    D. Tasche (1999); O. Scaillet (2004) (historical ES contributions); K. Boudt,
    B. Peterson, C. Croux (2008) (Cornish-Fisher ES contributions).
    """
    _check_measure(measure)
    lvl = check_level(level)
    scen, labels = _as_scenarios(returns)
    w = _as_vector(weights, labels, "weights")
    n = scen.shape[0]
    k = tail_size(n, lvl)
    notes = list(_tail_warning(k, min_tail_scenarios, lvl, n))
    if measure == "historical":
        _, grad = _historical(scen, w, k)
        es = expected_shortfall(scen @ w, level=lvl)
    else:
        if n < 4:
            raise DataError(f"returns have {n} observations; Cornish-Fisher needs at least 4")
        cf = cornish_fisher_var_es(scen @ w, level=lvl)
        es = cf.expected_shortfall
        _, grad = _cornish_fisher(scen, w, lvl)
        if not cf.valid:
            notes.append(
                f"portfolio skewness {cf.skewness:.2f} and excess kurtosis "
                f"{cf.excess_kurtosis:.2f} lie outside the Cornish-Fisher domain of validity "
                "(Maillard 2012)"
            )
    rc = w * grad
    with np.errstate(divide="ignore", invalid="ignore"):
        rrc = rc / es
    return TailContributions(
        measure=measure,
        level=lvl,
        expected_shortfall=float(es),
        risk_contributions=pd.Series(rc, index=labels, name="risk_contribution"),
        relative_risk_contributions=pd.Series(
            rrc, index=labels, name="relative_risk_contribution"
        ),
        n_observations=n,
        n_tail_scenarios=k,
        warnings=tuple(notes),
    )


def contribution_comparison(
    returns: pd.DataFrame,
    weights: pd.Series,
    cov: pd.DataFrame,
    *,
    level: float = 0.95,
) -> pd.DataFrame:
    """Volatility and expected-shortfall relative risk contributions side by side.

    The table the Allocation and Method comparison pages show: a coin that looks balanced on
    volatility but dominates the tail stands out.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_observations, n_assets)
        The analysis window's simple returns, decimal per period, complete rows.
    weights : pandas.Series of shape (n_assets,)
        Portfolio weights indexed by asset (e.g. ``AllocationResult.weights``).
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        The covariance the volatility contributions use (the page's estimate, any unit).
    level : float, default 0.95
        Confidence level of the expected shortfall.

    Returns
    -------
    pandas.DataFrame of shape (n_assets, 4)
        Indexed by asset, columns ``weight``, ``volatility``, ``historical_es``,
        ``cornish_fisher_es``: weights and relative risk contributions (each column of
        contributions sums to 1). The Cornish-Fisher column is NaN when the expansion is not
        valid for the portfolio (the usual case for crypto daily returns; the reason is in
        the warnings). ``attrs["warnings"]`` holds the warnings of both ES decompositions.

    Raises
    ------
    RiskcoreError
        If ``level`` is out of range.
    DataError
        If returns, weights and covariance do not name the same assets, or returns are
        incomplete.
    """
    from riskcore.allocation import relative_risk_contributions

    vol = relative_risk_contributions(weights, cov)
    cols = pd.Index(returns.columns)
    w = pd.Series(_as_vector(weights, cols, "weights"), index=cols)
    hist = es_contributions(returns, w, measure="historical", level=level)
    cf = es_contributions(returns, w, measure="cornish-fisher", level=level)
    valid = cornish_fisher_var_es(returns.to_numpy(dtype=float) @ w.to_numpy(),
                                  level=level).valid
    table = pd.DataFrame(
        {
            "weight": w,
            "volatility": vol.reindex(cols),
            "historical_es": hist.relative_risk_contributions,
            "cornish_fisher_es": cf.relative_risk_contributions if valid else np.nan,
        }
    )
    table.attrs["warnings"] = hist.warnings + tuple(x for x in cf.warnings
                                                    if x not in hist.warnings)
    return table


# --------------------------------------------------------------------------- solver


@dataclass(frozen=True, eq=False)
class TailAllocationResult:
    """Expected-shortfall risk-budgeting weights with their Euler decomposition.

    Compatible in spirit with :class:`riskcore.allocation.AllocationResult` (same names for
    the same quantities), with ES in place of volatility.

    Attributes
    ----------
    method : str
        ``"expected-shortfall risk budgeting"``.
    measure : str
        ``"historical"`` or ``"cornish-fisher"``.
    level : float
        Confidence level.
    weights : pandas.Series of shape (n_assets,)
        Long-only weights indexed by asset, summing to 1.
    risk_contributions : pandas.Series of shape (n_assets,)
        Exact Euler contributions ``w_i dES/dw_i``, summing to ``expected_shortfall``.
    relative_risk_contributions : pandas.Series of shape (n_assets,)
        Contributions divided by ``expected_shortfall``, summing to 1.
    budget : pandas.Series of shape (n_assets,)
        Risk budgets used, summing to 1.
    expected_shortfall : float
        Portfolio ES of the weights, positive loss decimal per period.
    converged : bool
        Whether the solver met ``tol`` on the problem it solves (historical: the smoothed
        CVaR at the smallest smoothing width; Cornish-Fisher: the exact budget equations).
    iterations : int
        Newton iterations in total.
    max_relative_error : float
        ``max_i |relative RC_i / b_i - 1|`` over positive budgets, of the EXACT Euler
        contributions. For the historical measure this is bounded below by what the
        piecewise-linear measure can resolve (see ``resolution``), not by ``tol``.
    solver_error : float
        The same error for the solved formulation (historical: contributions with the
        smoothed tail probabilities; Cornish-Fisher: equal to ``max_relative_error``).
    resolution : float
        Historical: the largest change in a relative contribution (relative to its budget)
        caused by swapping the ``k``-th and ``(k+1)``-th worst scenarios, i.e. the
        granularity of the measure at the solution. 0.0 for Cornish-Fisher.
    n_observations : int
        Scenarios used.
    n_tail_scenarios : int
        Scenarios in the tail, ``floor((n - 1)(1 - level)) + 1``.
    warnings : tuple of str
        Too few tail scenarios, Cornish-Fisher outside its domain; empty when none applies.
    binding_constraints : tuple of str
        With bounds or groups, those that bind (``"USDT-USD at its maximum weight 0.1"``,
        ``"majors at its maximum total weight 0.5"``); then ``max_relative_error`` is the
        largest violation of the constrained optimality conditions of
        :func:`tail_risk_budget_weights` by the exact contributions: with ``r_i = (RC_i +
        w_i (A_act' nu)_i) / (lam b_i) - 1``, ``|r_i|`` for an asset touching no binding
        bound, ``-r_i`` at a minimum, ``r_i`` at a maximum (``lam`` and the binding rows'
        multipliers ``nu`` fitted by least squares), a negative ``nu`` and any violated
        constraint.
    lagrange_multiplier : float
        With bounds or groups, ``lam``: ``RC_i / b_i`` of every asset touching no binding
        constraint (ES units, decimal per period); NaN otherwise.
    asset_groups : pandas.Series of shape (n_assets,) or None
        Group of each asset for :func:`tail_cluster_risk_budget_weights`; None otherwise.
    """

    method: str
    measure: str
    level: float
    weights: pd.Series
    risk_contributions: pd.Series
    relative_risk_contributions: pd.Series
    budget: pd.Series
    expected_shortfall: float
    converged: bool
    iterations: int
    max_relative_error: float
    solver_error: float
    resolution: float
    n_observations: int
    n_tail_scenarios: int
    warnings: tuple[str, ...] = ()
    binding_constraints: tuple[str, ...] = ()
    lagrange_multiplier: float = float("nan")
    asset_groups: pd.Series | None = None


def _budget_error(y: np.ndarray, grad: np.ndarray, b: np.ndarray) -> float:
    rc = y * grad
    total = rc.sum()
    if not total > 0:
        return float("inf")
    pos = b > 0
    return float(np.max(np.abs(rc[pos] / (total * b[pos]) - 1.0)))


def _start(scen: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Volatility risk-budget weights of the sample covariance (exact for elliptical returns)."""
    cov = np.atleast_2d(np.cov(scen, rowvar=False))
    sol = solve_risk_budget(cov, b, tol=1e-8, max_iter=100)
    if np.all(np.isfinite(sol.weights)) and np.all(sol.weights > 0):
        return sol.weights
    return b / np.sqrt(np.diagonal(cov))


def _smoothed(loss: np.ndarray, y: np.ndarray, t: float, mu: float, k: int, b: np.ndarray):
    """Objective, gradient, Hessian and tail probabilities of the smoothed problem.

    ``F(y, t) = t + (mu / k) sum_s softplus((L_s y - t) / mu) - sum_i b_i ln y_i``.
    """
    z = (loss @ y - t) / mu
    p = 0.5 * (1.0 + np.tanh(0.5 * z))  # logistic, overflow-free
    c = p * (1.0 - p) / mu
    obj = t + mu / k * float(np.sum(np.logaddexp(0.0, z))) - float(b @ np.log(y))
    m = loss.T @ p / k
    grad = np.concatenate([m - b / y, [1.0 - p.sum() / k]])
    n = y.size
    hess = np.empty((n + 1, n + 1))
    hess[:n, :n] = (loss.T * (c / k)) @ loss
    hess[np.arange(n), np.arange(n)] += b / (y * y)
    lc = loss.T @ c / k
    hess[:n, n] = -lc
    hess[n, :n] = -lc
    hess[n, n] = c.sum() / k
    return obj, grad, hess, m, p


def _solve_historical(
    scen: np.ndarray, b: np.ndarray, k: int, tol: float, max_iter: int
) -> tuple[np.ndarray, bool, int, float]:
    """Smoothed-CVaR Newton with continuation; returns (y, converged, iterations, error)."""
    loss = -scen
    y = _start(scen, b)
    es0, _ = _historical(scen, y, k)
    if not es0 > 0:
        return y, False, 0, float("inf")
    y = y / es0
    v = loss @ y
    t = float(np.partition(v, v.size - k)[v.size - k])
    mu = _MU_START
    it = 0
    err = float("inf")
    while True:
        final = mu <= _MU_END
        stage_tol = tol if final else _STAGE_TOL
        obj, grad, hess, m, p = _smoothed(loss, y, t, mu, k, b)
        while True:
            err = max(_budget_error(y, m, b), abs(1.0 - p.sum() / k))
            if err <= stage_tol or it >= max_iter:
                break
            it += 1
            reg = 1e-12 * max(float(np.trace(hess)) / hess.shape[0], 1e-300)
            try:
                step = np.linalg.solve(hess + reg * np.eye(hess.shape[0]), -grad)
            except np.linalg.LinAlgError:
                return y, False, it, err
            dec = -float(grad @ step)
            if not dec > 0:
                step, dec = -grad, float(grad @ grad)
            s = 1.0
            for _ in range(_MAX_BACKTRACK):
                y_new = y + s * step[:-1]
                if np.all(y_new > 0):
                    t_new = t + s * step[-1]
                    new = _smoothed(loss, y_new, t_new, mu, k, b)
                    if new[0] <= obj - _ARMIJO * s * dec:
                        break
                    # near the solution at a small width the objective changes below its
                    # rounding error: accept a step that shrinks the gradient instead
                    flat = abs(new[0] - obj) <= _FLAT * max(1.0, abs(obj))
                    if flat and float(new[1] @ new[1]) < float(grad @ grad):
                        break
                s *= 0.5
            else:
                return y, False, it, err
            y, t = y_new, t_new
            obj, grad, hess, m, p = new
        if it >= max_iter and err > stage_tol:
            return y, False, it, err
        if final:
            return y, err <= tol, it, err
        mu = max(mu * _MU_FACTOR, _MU_END)


@dataclass
class _Constraints:
    """Constraints on the weights of the assets with a positive budget.

    ``lo <= y <= hi`` and rows ``A y <= c`` (a group maximum is a row of ones on its
    members, a group minimum the negated row; :func:`riskcore.constrained.group_rows`);
    ``rows`` names each row for messages (``"majors at its maximum total weight 0.5"``).
    """

    lo: np.ndarray
    hi: np.ndarray
    A: np.ndarray
    c: np.ndarray
    rows: tuple[str, ...]

    @property
    def pinned(self) -> np.ndarray:
        return self.hi - self.lo <= _BOUND_TOL


@dataclass
class _Active:
    """Active set: weights at their minimum / maximum, group rows holding as equalities."""

    lo: np.ndarray
    hi: np.ndarray
    rows: np.ndarray


@dataclass
class _Solved:
    y: np.ndarray
    lam: float
    nu: np.ndarray
    active: _Active
    converged: bool
    iterations: int
    error: float


def _cf_derivatives(scen: np.ndarray, level: float):
    """Gradient and Hessian of Cornish-Fisher ES.

    The Hessian by central differences of the analytic gradient, symmetrized.
    """
    centered = scen - scen.mean(axis=0)

    def derivs(z: np.ndarray, mu: float | None):
        _, grad = _cornish_fisher(scen, z, level, centered)
        n = z.size
        hess = np.empty((n, n))
        for j in range(n):
            h = _FD_STEP * max(z[j], 1e-4)
            e = np.zeros(n)
            e[j] = h
            hess[:, j] = (_cornish_fisher(scen, z + e, level, centered)[1]
                          - _cornish_fisher(scen, z - e, level, centered)[1]) / (2.0 * h)
        return grad, 0.5 * (hess + hess.T)

    return derivs


def _historical_derivatives(loss: np.ndarray, k: int):
    """Gradient and Hessian in ``(y, t)`` of the softplus-smoothed CVaR.

    ``t + (mu / k) sum_s softplus((L_s y - t) / mu)`` (Rockafellar-Uryasev; :func:`_smoothed`).
    """

    def derivs(z: np.ndarray, mu: float | None):
        y, t = z[:-1], float(z[-1])
        _, grad, hess, _, _ = _smoothed(loss, y, t, mu, k, np.zeros(y.size))
        return grad, hess

    return derivs


def _solve_constrained(derivs, n_extra: int, y0: np.ndarray, extra0: np.ndarray,
                       b: np.ndarray, cons: _Constraints, active: _Active, mus: list,
                       tol: float, max_iter: int) -> _Solved:
    """Constrained ES risk budgeting (Richard & Roncalli 2019) by active-set Newton.

    For a guessed active set, Newton's method solves the optimality conditions of the
    module's program together with ``sum(y) = 1`` as one square system in the free
    weights, the extra variables of the measure (historical: the VaR ``t``), the
    multipliers ``nu`` of the active group rows and ``lam``::

        y_i (dES/dy_i + (A_act' nu)_i) = lam b_i    (i free)
        dES/dt = 0                                 (historical)
        A_act y = c_act,   sum(y) = 1

    with the fixed weights at their bounds. The historical measure is smoothed with the
    widths ``mus`` in turn (each stage warm-starts the next). After a stage the active set
    is corrected (a free weight outside its bounds or a violated row is added; a bound or
    row whose multiplier has the wrong sign is dropped) and the stages start again, at
    most ``_ACTIVE_SET_TRIES`` times.
    """
    n = y0.size
    y = np.where(active.lo, cons.lo, np.where(active.hi, cons.hi, y0))
    extra = np.asarray(extra0, dtype=float).copy()
    nu_full = np.zeros(cons.c.size)
    it = 0
    err = float("inf")
    lam = float("nan")

    def system(y, extra, nu, lam, mu, free, rows):
        grad, hess = derivs(np.concatenate([y, extra]), mu)
        a_act = cons.A[rows]
        q = grad[:n] + a_act.T @ nu
        f_idx = np.flatnonzero(free)
        res = np.concatenate([y[f_idx] * q[f_idx] - lam * b[f_idx], grad[n:],
                              a_act @ y - cons.c[rows], [y.sum() - 1.0]])
        nf, ng = f_idx.size, rows.size
        m = nf + n_extra + ng + 1
        jac = np.zeros((m, m))
        yf = y[f_idx][:, None]
        jac[:nf, :nf] = yf * hess[np.ix_(f_idx, f_idx)]
        jac[np.arange(nf), np.arange(nf)] += q[f_idx]
        jac[:nf, nf:nf + n_extra] = yf * hess[f_idx, n:]
        jac[:nf, nf + n_extra:nf + n_extra + ng] = yf * a_act[:, f_idx].T
        jac[:nf, -1] = -b[f_idx]
        jac[nf:nf + n_extra, :nf] = hess[n:, f_idx]
        jac[nf:nf + n_extra, nf:nf + n_extra] = hess[n:, n:]
        jac[nf + n_extra:nf + n_extra + ng, :nf] = a_act[:, f_idx]
        jac[-1, :nf] = 1.0
        scale = np.concatenate([b[f_idx], np.ones(m - nf)])
        return res, jac, scale, grad, q

    def error_of(res, scale, lam, nf):
        rel = np.abs(res) / scale
        rel[:nf] /= max(lam, 1e-300)
        return float(np.max(rel, initial=0.0))

    for _ in range(_ACTIVE_SET_TRIES):
        fixed = active.lo | active.hi | cons.pinned
        free = ~fixed
        y = np.where(active.lo | cons.pinned, cons.lo, np.where(active.hi, cons.hi, y))
        # a row whose members are all fixed holds or not by itself: no multiplier
        rows = np.array([r for r in np.flatnonzero(active.rows)
                         if np.any(cons.A[r, free] != 0)], dtype=int)
        nu = nu_full[rows]
        nf = int(free.sum())
        if nf == 0:
            grad, _ = derivs(np.concatenate([y, extra]), mus[-1])
            lam = float(y @ grad[:n] / b.sum())
            return _Solved(y, lam, nu_full, active, True, it, 0.0)
        if not np.isfinite(lam):
            grad, _ = derivs(np.concatenate([y, extra]), mus[0])
            lam = float(max(y @ grad[:n], 1e-12) / b.sum())
        stalled = False
        for stage, mu in enumerate(mus):
            stage_tol = tol if stage == len(mus) - 1 else _STAGE_TOL
            res, jac, scale, grad, q = system(y, extra, nu, lam, mu, free, rows)
            while True:
                err = error_of(res, scale, lam, nf)
                if err <= stage_tol or it >= max_iter:
                    break
                it += 1
                try:
                    step = np.linalg.solve(jac, -res)
                except np.linalg.LinAlgError:
                    step = np.linalg.lstsq(jac, -res, rcond=None)[0]
                if not np.all(np.isfinite(step)):
                    stalled = True
                    break
                dy, dlam = step[:nf], step[-1]
                s = 1.0
                yf = y[free]
                neg = dy < 0
                if neg.any():
                    s = min(s, 0.95 * float(np.min(-yf[neg] / dy[neg])))
                if dlam < 0:
                    s = min(s, 0.95 * lam / -dlam)
                merit = float(np.sum((res / scale) ** 2))
                for _ in range(_MAX_BACKTRACK):
                    y_new = y.copy()
                    y_new[free] = yf + s * dy
                    e_new = extra + s * step[nf:nf + n_extra]
                    nu_new = nu + s * step[nf + n_extra:-1]
                    lam_new = lam + s * dlam
                    new = system(y_new, e_new, nu_new, lam_new, mu, free, rows)
                    new_merit = float(np.sum((new[0] / new[2]) ** 2))
                    if np.isfinite(new_merit) and new_merit <= (1.0 - 2e-4 * s) * merit:
                        break
                    s *= 0.5
                else:
                    stalled = True
                    break
                y, extra, nu, lam = y_new, e_new, nu_new, lam_new
                res, jac, scale, grad, q = new
            if stalled or (err > stage_tol and it >= max_iter):
                break
        nu_full = np.zeros(cons.c.size)
        nu_full[rows] = nu
        if stalled or err > tol:
            return _Solved(y, lam, nu_full, active, False, it, err)
        # stationarity residual of the fixed weights: their bound multipliers
        z = grad[:n] - lam * b / y + cons.A.T @ nu_full
        rel = z * y / (lam * b)
        wrong_lo = active.lo & ~cons.pinned & (rel < -tol)
        wrong_hi = active.hi & ~cons.pinned & (rel > tol)
        wrong_rows = active.rows & (nu_full < -tol * lam)
        slack = cons.c - cons.A @ y
        add_lo = free & (y < cons.lo - _BOUND_TOL)
        add_hi = free & (y > cons.hi + _BOUND_TOL)
        add_rows = ~active.rows & (slack < -_BOUND_TOL)
        if not (wrong_lo.any() or wrong_hi.any() or wrong_rows.any() or add_lo.any()
                or add_hi.any() or add_rows.any()):
            return _Solved(y, lam, nu_full, active, True, it, err)
        active = _Active((active.lo & ~wrong_lo) | add_lo, (active.hi & ~wrong_hi) | add_hi,
                         (active.rows & ~wrong_rows) | add_rows)
        y = np.clip(y, cons.lo, cons.hi)
        nu_full[~active.rows] = 0.0
    return _Solved(y, lam, nu_full, active, False, it, err)


def _kkt_report(w: np.ndarray, rc: np.ndarray, b: np.ndarray, cons: _Constraints,
                active: _Active) -> tuple[float, float]:
    """Largest violation of the constrained budget conditions by EXACT Euler contributions.

    With the solver's active set, ``lam`` and the active rows' multipliers ``nu`` are
    fitted by least squares to ``RC_i + w_i (A_act' nu)_i = lam b_i`` over the free assets;
    with ``r_i = (RC_i + w_i (A_act' nu)_i) / (lam b_i) - 1`` the error is the largest of
    ``|r_i|`` (free), ``-r_i`` (at a minimum), ``r_i`` (at a maximum), a negative ``nu``
    (relative) and a violated constraint. Returns ``(error, lam)``.
    """
    free = ~(active.lo | active.hi | cons.pinned)
    rows = np.flatnonzero(active.rows)
    a_act = cons.A[rows]
    f_idx = np.flatnonzero(free)
    if f_idx.size == 0:
        return 0.0, float(rc.sum() / b.sum())
    # unknowns (lam, nu): rc_i / b_i = lam - (w_i / b_i) (A' nu)_i
    design = np.column_stack([np.ones(f_idx.size),
                              -(w[f_idx] / b[f_idx])[:, None] * a_act[:, f_idx].T])
    sol = np.linalg.lstsq(design, rc[f_idx] / b[f_idx], rcond=None)[0]
    lam, nu = float(sol[0]), sol[1:]
    if not lam > 0:
        return float("inf"), lam
    r = (rc + w * (a_act.T @ nu)) / (lam * b) - 1.0
    viol = [np.abs(r[f_idx])]
    viol.append(np.maximum(-r[active.lo & ~cons.pinned], 0.0))
    viol.append(np.maximum(r[active.hi & ~cons.pinned], 0.0))
    for j, row in enumerate(rows):
        members = cons.A[row] != 0
        viol.append(np.array([max(-nu[j], 0.0) * float(np.max(w[members] / (lam * b[members])))]))
    viol.append(np.maximum(cons.lo - w, 0.0) / np.maximum(w, 1e-12))
    viol.append(np.maximum(w - cons.hi, 0.0) / np.maximum(w, 1e-12))
    viol.append(np.maximum(cons.A @ w - cons.c, 0.0))
    return float(max(float(np.max(v, initial=0.0)) for v in viol)), lam


def _start_constrained(scen: np.ndarray, b: np.ndarray, cons: _Constraints
                       ) -> tuple[np.ndarray, _Active]:
    """Start and active set from constrained VOLATILITY risk budgeting.

    On the sample covariance (:func:`riskcore.constrained.solve_constrained_risk_budget`):
    the answer itself for elliptical returns, a close guess otherwise.
    """
    from riskcore.constrained import solve_constrained_risk_budget

    cov = np.atleast_2d(np.cov(scen, rowvar=False))
    sol = solve_constrained_risk_budget(cov, b, cons.lo, cons.hi, cons.A, cons.c)
    if sol.status == "converged" and np.all(np.isfinite(sol.weights)):
        active = _Active(sol.lower_multipliers > 0, sol.upper_multipliers > 0,
                         sol.group_multipliers > 0)
        return np.maximum(sol.weights, 1e-12), active
    n = b.size
    y = np.clip(_start(scen, b), cons.lo, cons.hi)
    return y / y.sum(), _Active(np.zeros(n, bool), np.zeros(n, bool),
                                np.zeros(cons.c.size, bool))


def _polish(scen: np.ndarray, y: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    """Iterate on the exact tail region; keep the result only if the exact Euler error drops."""
    best = y / y.sum()
    _, grad = _historical(scen, best, k)
    best_err = _budget_error(best, grad, b)
    w = best
    for _ in range(_POLISH_STEPS):
        if np.any(grad <= 0):
            break
        w = b / grad
        w /= w.sum()
        _, grad = _historical(scen, w, k)
        err = _budget_error(w, grad, b)
        if err < best_err:
            best, best_err = w, err
    return best


def _resolution(scen: np.ndarray, w: np.ndarray, b: np.ndarray, k: int, es: float) -> float:
    if k >= scen.shape[0]:
        return 0.0
    port = scen @ w
    order = np.argpartition(port, [k - 1, k])
    swap = np.abs(scen[order[k - 1]] - scen[order[k]]) * w / (k * es)
    pos = b > 0
    return float(np.max(swap[pos] / b[pos]))


def _check_cf_start(scen: np.ndarray, y: np.ndarray, level: float) -> float:
    """Cornish-Fisher ES of the start portfolio; DataError if the expansion is invalid there."""
    es, _ = _cornish_fisher(scen, y, level)
    cf = cornish_fisher_var_es(scen @ y, level=level)
    if not (es > 0 and cf.valid):
        raise DataError(
            "the Cornish-Fisher expansion is not valid for the volatility risk-budget "
            f"portfolio of these returns (skewness {cf.skewness:.2f}, excess kurtosis "
            f"{cf.excess_kurtosis:.2f}; modified VaR {cf.value_at_risk:.3g}, modified ES "
            f"{cf.expected_shortfall:.3g}): modified ES cannot be budgeted here; use the "
            "historical measure"
        )
    return es


def _solve_cornish_fisher(
    scen: np.ndarray, b: np.ndarray, level: float, tol: float, max_iter: int
) -> tuple[np.ndarray, bool, int, float]:
    """Newton on ``y * grad ES(y) = b`` in log-weights with a central-difference Jacobian."""
    y = _start(scen, b)
    es = _check_cf_start(scen, y, level)
    u = np.log(y / es)

    centered = scen - scen.mean(axis=0)

    def residual(u_: np.ndarray) -> np.ndarray:
        y_ = np.exp(u_)
        _, g = _cornish_fisher(scen, y_, level, centered)
        return y_ * g - b

    res = residual(u)
    it = 0
    ones = np.ones_like(b)
    err = _budget_error(ones, res + b, b)
    n = u.size
    short_steps = 0
    while err > tol and it < max_iter and short_steps < _MAX_SHORT_STEPS:
        it += 1
        jac = np.empty((n, n))
        for j in range(n):
            e = np.zeros(n)
            e[j] = _FD_STEP
            jac[:, j] = (residual(u + e) - residual(u - e)) / (2.0 * _FD_STEP)
        try:
            step = np.linalg.solve(jac, -res)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        # a log-weight moves by at most _MAX_LOG_STEP per iteration (weights by a factor e)
        step *= min(1.0, _MAX_LOG_STEP / max(float(np.max(np.abs(step))), 1e-300))
        norm0 = float(res @ res)
        s = 1.0
        for _ in range(_MAX_BACKTRACK):
            with np.errstate(all="ignore"):
                cand = residual(u + s * step)
            if np.all(np.isfinite(cand)) and float(cand @ cand) <= (1.0 - 2e-4 * s) * norm0:
                break
            s *= 0.5
        else:
            break
        short_steps = short_steps + 1 if s < _SHORT_STEP else 0
        u = u + s * step
        res = cand
        err = _budget_error(ones, res + b, b)
    return np.exp(u), err <= tol, it, err


def tail_risk_budget_weights(
    returns: pd.DataFrame | np.ndarray,
    budget: pd.Series | Mapping[Any, float] | Sequence[float] | np.ndarray | None = None,
    *,
    measure: str = "historical",
    level: float = 0.95,
    tol: float = 1e-8,
    max_iter: int = 500,
    bounds: Any = None,
    groups: Any = None,
    min_tail_scenarios: int = 20,
    strict: bool = True,
) -> TailAllocationResult:
    r"""Long-only weights whose expected-shortfall contributions match the risk budgets.

    Solves :math:`\min_{y>0} \mathrm{ES}(y) - \sum_i b_i \ln y_i`, :math:`w = y / \sum y`,
    whose optimality conditions are :math:`y_i \partial_i \mathrm{ES}(y) = b_i` (Spinu 2013
    with ES for volatility; Mausser & Romanko 2014), so that each asset's share of ES equals
    its budget. Historical ES: Newton's method on a softplus-smoothed Rockafellar-Uryasev
    CVaR, the smoothing width shrunk from 5% to 1e-9 of ES, then a fixed point on the exact
    tail region if it balances better. Cornish-Fisher ES: Newton's method on the budget
    equations in log-weights (central-difference Jacobian, exact residuals). Both start at
    the volatility risk-budget weights of the sample covariance. Assets with a zero budget
    get a zero weight.

    With ``bounds`` or ``groups`` (both measures), the constrained risk budgeting of
    Richard & Roncalli (2019) with ES in place of volatility:

    .. math::

        y^\star(\lambda) = \arg\min_y \; \mathrm{ES}(y) - \lambda \sum_i b_i \ln y_i
        \quad \text{s.t.} \quad \ell \le y \le u, \; A y \le c,

    with :math:`\lambda^\star` such that :math:`\sum_i y^\star_i = 1` (the budget constraint
    is not imposed in the program; it fixes :math:`\lambda`). Its optimality conditions,
    multiplied by :math:`y_i`, read :math:`RC_i + y_i (A^\top\nu)_i - y_i z^\ell_i + y_i
    z^u_i = \lambda b_i` with multipliers :math:`\nu, z^\ell, z^u \ge 0` of the rows and
    bounds, complementary to their slacks. So assets touching no binding constraint share
    :math:`RC_i / b_i = \lambda`; an asset at its maximum has :math:`RC_i / b_i \le
    \lambda`, one at its minimum :math:`\ge \lambda`; the members of a binding group
    maximum give up risk in proportion to their weights (:math:`RC_i = \lambda b_i - y_i
    \nu_g`). Solved by Newton's method on these conditions for an active set guessed from
    constrained volatility risk budgeting (:mod:`riskcore.constrained`) and corrected until
    every sign and constraint holds; the historical measure is smoothed as above, with the
    same continuation. ``max_relative_error`` is then the largest violation of these
    conditions by the exact Euler contributions (see :class:`TailAllocationResult`).

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray of shape (n_observations, n_assets)
        The analysis window's simple returns, decimal per period, every entry finite.
    budget : pandas.Series, dict, sequence or numpy.ndarray of shape (n_assets,), optional
        Risk budgets, non-negative, at least one positive; normalized to sum 1. None (the
        default) means equal budgets.
    measure : {"historical", "cornish-fisher"}, default "historical"
        See the module notes.
    level : float, default 0.95
        Confidence level of the expected shortfall.
    tol : float, default 1e-8
        Tolerance on the budget error of the solved formulation (``solver_error``).
    max_iter : int, default 500
        Maximum number of Newton iterations in total.
    bounds : tuple, mapping, pandas.Series or sequence of pairs, optional
        Per-asset ``(minimum, maximum)`` weights (decimals), in the forms of
        :func:`riskcore.allocation.risk_budget_weights` (e.g. ``{"USDT-USD": (0, 0.1)}``).
        Assets with a zero budget keep a zero weight.
    groups : sequence or mapping, optional
        Limits on a group's total weight, in the forms of
        :func:`riskcore.allocation.risk_budget_weights`: ``[(members, minimum, maximum)]``
        or ``{name: (members, minimum, maximum)}`` (decimals; None for no limit).
    min_tail_scenarios : int, default 20
        Fewer tail scenarios than this adds a warning to the result.
    strict : bool, default True
        Raise :class:`ConvergenceError` when the solver misses ``tol``; with False, return
        the last iterate with ``converged=False`` (e.g. in a walk-forward simulation that
        records failures).

    Returns
    -------
    TailAllocationResult
        ``max_relative_error`` is the exact-Euler error; for the historical measure it is
        either at rounding level (the fixed point of a tail region was found) or of the
        order of ``resolution`` (a few percent with 80 tail scenarios), the accuracy a
        piecewise-linear measure allows; it is reported, never raised on.

    Raises
    ------
    RiskcoreError
        If ``measure`` is unknown or ``level`` is out of range.
    DataError
        If the returns are not a complete finite matrix (at least 2 rows; 4 for
        Cornish-Fisher), or the budget names other assets, or an asset with a positive
        budget has a non-positive expected shortfall on its own (a hedge cannot carry a
        positive share of a long-only portfolio's tail); malformed bounds or groups; the
        Cornish-Fisher expansion invalid at the start portfolio.
    InfeasibleError
        If a budget is negative or all budgets are zero; or the bounds and groups cannot
        hold with weights summing to 1 (over the assets with a positive budget; the
        message names the conflict), or give a zero-budget asset a positive minimum.
    ConvergenceError
        If ``strict`` and the solver does not reach ``tol`` within ``max_iter`` (the
        message gives the error reached).

    References
    ----------
    F. Spinu (2013), SSRN 2297383. H. Mausser, O. Romanko (2014), SSRN 2366297.
    R.T. Rockafellar, S. Uryasev (2000), Journal of Risk 2(3). K. Boudt, B. Peterson,
    C. Croux (2008), Journal of Risk 11(2). J.-C. Richard, T. Roncalli (2019),
    "Constrained risk budgeting portfolios: theory, algorithms, applications & puzzles",
    arXiv:1902.05710.
    """
    _check_measure(measure)
    lvl = check_level(level)
    scen, labels = _as_scenarios(returns)
    b = _as_budget(budget, labels)
    n = scen.shape[0]
    if measure == "cornish-fisher" and n < 4:
        raise DataError(f"returns have {n} observations; Cornish-Fisher needs at least 4")
    k = tail_size(n, lvl)
    pos = np.flatnonzero(b > 0)
    sub = scen[:, pos]
    for j, i in enumerate(pos):
        alone = expected_shortfall(sub[:, j], level=lvl)
        if not alone > 0:
            raise DataError(
                f"{_label(labels[i])} has a non-positive expected shortfall on its own "
                f"({alone:.3g}) over the window; give it a zero budget"
            )
    binding: tuple[str, ...] = ()
    cons = None
    lam = float("nan")
    if bounds is not None or groups is not None:
        cons = _parse_constraints(bounds, groups, labels, b)
        solved = _solve_constrained_es(sub, b[pos], k, lvl, measure, cons, tol, max_iter)
        y, converged, it, solver_err = solved.y, solved.converged, solved.iterations, \
            solved.error
        w_sub = y / y.sum()
        binding = _binding(cons, solved.active, labels[pos])
        if measure == "historical" and not binding:
            # no constraint binds: the exact region's fixed point, if it stays feasible
            polished = _polish(sub, w_sub, b[pos], k)
            if (np.all(polished >= cons.lo) and np.all(polished <= cons.hi)
                    and np.all(cons.A @ polished <= cons.c)):
                w_sub = polished
    elif measure == "historical":
        y, converged, it, solver_err = _solve_historical(sub, b[pos], k, tol, max_iter)
        w_sub = _polish(sub, y, b[pos], k)
    else:
        y, converged, it, solver_err = _solve_cornish_fisher(sub, b[pos], lvl, tol, max_iter)
        w_sub = y / y.sum()
    if not converged and strict:
        advice = (
            "raise max_iter, loosen tol, or use a longer window"
            if measure == "historical"
            else "the Cornish-Fisher expansion is probably outside its domain of validity "
            "for some of these portfolios (extreme skewness or kurtosis); use the "
            "historical measure"
        )
        raise ConvergenceError(
            f"{measure} expected-shortfall risk budgeting did not converge: budget error "
            f"{solver_err:.3g} after {it} iterations (tolerance {tol:g}); {advice}"
        )
    w = np.zeros(len(labels))
    w[pos] = w_sub
    dec = es_contributions(scen, w, measure=measure, level=lvl,
                           min_tail_scenarios=min_tail_scenarios)
    rc = dec.risk_contributions.to_numpy()
    es = dec.expected_shortfall
    if cons is None:
        exact_err = float(np.max(np.abs(rc[pos] / (es * b[pos]) - 1.0)))
    else:
        exact_err, lam = _kkt_report(w_sub, rc[pos], b[pos], cons, solved.active)
    if measure == "historical":
        resolution = _resolution(sub, w_sub, b[pos], k, es)
    else:
        resolution = 0.0
        solver_err = exact_err if cons is None else solver_err
    return TailAllocationResult(
        method="expected-shortfall risk budgeting",
        measure=measure,
        level=lvl,
        weights=pd.Series(w, index=labels, name="weight"),
        risk_contributions=pd.Series(rc, index=labels, name="risk_contribution"),
        relative_risk_contributions=pd.Series(
            rc / es, index=labels, name="relative_risk_contribution"
        ),
        budget=pd.Series(b, index=labels, name="risk_budget"),
        expected_shortfall=es,
        converged=bool(converged),
        iterations=it,
        max_relative_error=exact_err,
        solver_error=float(solver_err),
        resolution=resolution,
        n_observations=n,
        n_tail_scenarios=k,
        warnings=dec.warnings,
        binding_constraints=binding,
        lagrange_multiplier=lam,
    )


def tail_cluster_risk_budget_weights(
    returns: pd.DataFrame | np.ndarray,
    *,
    groups: Mapping[str, Sequence[Any]] | pd.Series | None = None,
    group_budget: Mapping[str, float] | pd.Series | None = None,
    n_clusters: int | None = None,
    cov: pd.DataFrame | np.ndarray | None = None,
    measure: str = "historical",
    level: float = 0.95,
    tol: float = 1e-8,
    max_iter: int = 500,
    min_tail_scenarios: int = 20,
    strict: bool = True,
) -> TailAllocationResult:
    """Cluster risk budgeting on expected shortfall: a budget per group, equal ES inside it.

    The definition of :func:`riskcore.hierarchical.cluster_risk_budget_weights` with ES
    contributions for volatility ones: each asset of group ``g`` gets the risk budget
    ``B_g / n_g`` (the per-asset budgets and the groups are taken from that function, so
    the two variants share one rule), and :func:`tail_risk_budget_weights` solves for them.
    Every group then carries a share ``B_g`` of the portfolio's ES and its members equal
    shares ``B_g / n_g``, to the accuracy of the measure (``max_relative_error``,
    ``resolution``).

    Parameters
    ----------
    returns : pandas.DataFrame or numpy.ndarray of shape (n_observations, n_assets)
        The analysis window's simple returns, decimal per period, every entry finite.
    groups : mapping or pandas.Series, optional
        ``{group: [members]}`` or a Series asset -> group, every asset in exactly one
        group. None: correlation clusters (:func:`riskcore.hierarchical.cluster_assets`)
        of ``cov``.
    group_budget : mapping or pandas.Series, optional
        Risk budget per group (non-negative, normalized to sum 1); None means equal.
    n_clusters : int, optional
        Number of clusters when ``groups`` is None (default ``round(sqrt(n_assets))``).
    cov : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets), optional
        Covariance whose correlations define the clusters (e.g. the page's estimate, so
        that volatility and ES cluster budgeting use the same clusters); default the sample
        covariance of ``returns``.
    measure, level, tol, max_iter, min_tail_scenarios, strict
        As :func:`tail_risk_budget_weights`.

    Returns
    -------
    TailAllocationResult
        ``method="expected-shortfall cluster risk budgeting"``; ``budget`` holds the
        per-asset budgets and ``asset_groups`` the group of each asset.

    Raises
    ------
    DataError, InfeasibleError
        As :func:`riskcore.hierarchical.cluster_risk_budget_weights` (unknown or missing
        assets in ``groups``, budgets of unknown groups, negative or all-zero group
        budgets) and :func:`tail_risk_budget_weights`.
    ConvergenceError
        If ``strict`` and the solver misses ``tol``.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 3.3 (risk
    budgeting by asset class); M. Lopez de Prado (2016), Journal of Portfolio Management
    42(4) (correlation distance); H. Mausser, O. Romanko (2014), SSRN 2366297.
    """
    from riskcore.hierarchical import cluster_risk_budget_weights

    scen, labels = _as_scenarios(returns)
    if cov is None:
        cov = pd.DataFrame(np.atleast_2d(np.cov(scen, rowvar=False)), index=labels,
                           columns=labels)
    elif not isinstance(cov, pd.DataFrame):
        cov = pd.DataFrame(np.asarray(cov, dtype=float), index=labels, columns=labels)
    missing = labels.difference(cov.index, sort=False)
    if len(missing):
        raise DataError(f"the covariance has no row for {', '.join(map(_label, missing))}")
    vol = cluster_risk_budget_weights(cov.loc[labels, labels], groups=groups,
                                      group_budget=group_budget, n_clusters=n_clusters)
    res = tail_risk_budget_weights(scen, vol.budget.to_numpy(), measure=measure, level=level,
                                   tol=tol, max_iter=max_iter,
                                   min_tail_scenarios=min_tail_scenarios, strict=strict)
    return replace(res, method="expected-shortfall cluster risk budgeting",
                   weights=res.weights.set_axis(labels),
                   risk_contributions=res.risk_contributions.set_axis(labels),
                   relative_risk_contributions=res.relative_risk_contributions.set_axis(labels),
                   budget=res.budget.set_axis(labels),
                   asset_groups=vol.asset_groups.set_axis(labels).rename("group"))


def _solve_constrained_es(sub: np.ndarray, b: np.ndarray, k: int, level: float, measure: str,
                          cons: _Constraints, tol: float, max_iter: int) -> _Solved:
    """Scale the scenarios so that the start has ES 1, then :func:`_solve_constrained`."""
    y0, active = _start_constrained(sub, b, cons)
    if measure == "historical":
        es0, _ = _historical(sub, y0, k)
        if not es0 > 0:
            return _Solved(y0, float("nan"), np.zeros(cons.c.size), active, False, 0,
                           float("inf"))
        loss = -sub / es0
        v = loss @ y0
        t0 = float(np.partition(v, v.size - k)[v.size - k])
        mus, mu = [], _MU_START
        while mu > _MU_END:
            mus.append(mu)
            mu *= _MU_FACTOR
        mus.append(_MU_END)
        solved = _solve_constrained(_historical_derivatives(loss, k), 1, y0, np.array([t0]),
                                    b, cons, active, mus, tol, max_iter)
    else:
        es0 = _check_cf_start(sub, y0, level)
        solved = _solve_constrained(_cf_derivatives(sub / es0, level), 0, y0, np.zeros(0),
                                    b, cons, active, [None], tol, max_iter)
    solved.lam *= es0
    return solved


def _binding(cons: _Constraints, active: _Active, labels: pd.Index) -> tuple[str, ...]:
    """List the binding constraints, worded as by ``risk_budget_weights``."""
    pinned = cons.pinned
    out = [f"{_label(labels[i])} fixed at weight {cons.lo[i]:g}" for i in np.flatnonzero(pinned)]
    out += [f"{_label(labels[i])} at its maximum weight {cons.hi[i]:g}"
            for i in np.flatnonzero(active.hi & ~pinned)]
    out += [f"{_label(labels[i])} at its minimum weight {cons.lo[i]:g}"
            for i in np.flatnonzero(active.lo & ~pinned)]
    out += [cons.rows[r] for r in np.flatnonzero(active.rows)]
    return tuple(out)


def _parse_constraints(bounds: Any, groups: Any, labels: pd.Index, b: np.ndarray
                       ) -> _Constraints:
    """Bounds and groups restricted to the assets with a positive budget, checked feasible."""
    from riskcore.constrained import check_feasible, group_rows, parse_bounds, parse_groups

    lo, hi = parse_bounds(bounds, labels)
    group_list = parse_groups(groups, labels)
    check_feasible(lo, hi, [], labels)
    for i in np.flatnonzero((b == 0) & (lo > 0)):
        raise InfeasibleError(
            f"{_label(labels[i])} has a zero risk budget but a minimum weight {lo[i]:g}; give "
            "it a positive budget or drop its minimum"
        )
    if hi[b > 0].sum() < 1.0 - 1e-12:
        raise InfeasibleError(
            f"the maximum weights of the assets with a positive budget sum to "
            f"{hi[b > 0].sum():.4g} < 1; raise some maximums or give more assets a budget"
        )
    if group_list:
        # zero-budget assets hold nothing: the groups must be feasible without them
        check_feasible(lo, np.where(b > 0, hi, 0.0), group_list, labels)
    A, c = group_rows(group_list, len(labels))
    names = []
    for g in group_list:
        if g.maximum < 1:
            names.append(f"{g.name} at its maximum total weight {g.maximum:g}")
        if g.minimum > 0:
            names.append(f"{g.name} at its minimum total weight {g.minimum:g}")
    pos = b > 0
    return _Constraints(lo[pos], hi[pos], A[:, pos], c, tuple(names))


# --------------------------------------------------------------------------- for pages


def es_contributions_over_time(
    returns: pd.DataFrame,
    weights: pd.DataFrame,
    *,
    window: int = 365,
    measure: str = "historical",
    level: float = 0.95,
) -> pd.DataFrame:
    """Relative ES contributions of held weights at each date, on the trailing window.

    What the rebalancing simulator shows next to its realized volatility contributions: at
    each date of ``weights``, the Euler ES decomposition of those weights on the ``window``
    returns up to and including that date (:func:`es_contributions`).

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period, indexed by date.
    weights : pandas.DataFrame of shape (n_dates, n_assets)
        Weights held at each date (e.g. a backtest's drifted weights), columns a subset of
        ``returns``' columns (missing columns count as 0).
    window : int, default 365
        Trailing returns per decomposition; dates with fewer complete rows are NaN.
    measure : {"historical", "cornish-fisher"}, default "historical"
    level : float, default 0.95

    Returns
    -------
    pandas.DataFrame of shape (n_dates, n_assets)
        Relative ES contributions (rows sum to 1), NaN where the window is incomplete or the
        portfolio's ES is not positive.

    Raises
    ------
    RiskcoreError
        If ``measure`` or ``level`` is invalid.
    DataError
        If ``weights`` names an asset that ``returns`` lacks, or ``window`` < 2.
    """
    _check_measure(measure)
    lvl = check_level(level)
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 2:
        raise DataError(f"window is {window!r}; it must be an integer >= 2")
    extra = weights.columns.difference(returns.columns, sort=False)
    if len(extra):
        raise DataError(f"weights name assets without returns: {', '.join(map(str, extra))}")
    cols = returns.columns
    out = pd.DataFrame(np.nan, index=weights.index, columns=cols)
    positions = returns.index.get_indexer(weights.index, method="pad")
    values = returns.to_numpy(dtype=float)
    w_all = weights.reindex(columns=cols).fillna(0.0).to_numpy(dtype=float)
    for row, (pos, w) in enumerate(zip(positions, w_all, strict=True)):
        if pos < window - 1:
            continue
        held = w != 0
        block = values[pos - window + 1 : pos + 1][:, held]
        if not np.isfinite(block).all() or not held.any():
            continue
        dec = es_contributions(block, w[held], measure=measure, level=lvl)
        if dec.expected_shortfall > 0:
            rrc = np.zeros(len(cols))
            rrc[held] = dec.relative_risk_contributions.to_numpy()
            out.iloc[row] = rrc
    return out


def as_allocation_result(result: TailAllocationResult, cov: pd.DataFrame) -> Any:
    """Express ES-budgeted weights as a :class:`riskcore.allocation.AllocationResult`.

    So that existing tables and charts built on ``AllocationResult`` (volatility
    contributions, method comparison) can show the ES-budgeted portfolio: the weights are
    kept, the risk fields are the VOLATILITY decomposition under ``cov`` (as the class
    defines them), ``budget`` is the ES budget and ``budget_error`` the exact-Euler ES
    error. Show the ES contributions from ``result`` (or :func:`contribution_comparison`)
    next to them.

    Parameters
    ----------
    result : TailAllocationResult
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Covariance (annualized) over the same assets.

    Returns
    -------
    riskcore.allocation.AllocationResult
        ``method`` like ``"ES risk budgeting (historical, 95%)"``.

    Raises
    ------
    DataError
        If ``cov`` does not name the same assets as the weights.
    """
    from riskcore.allocation import (
        AllocationResult,
        portfolio_volatility,
        relative_risk_contributions,
        risk_contributions,
    )

    w = result.weights
    c = cov.loc[w.index, w.index] if set(cov.index) == set(w.index) else cov
    return AllocationResult(
        method=f"ES risk budgeting ({result.measure}, {result.level:.0%})",
        weights=w,
        risk_contributions=risk_contributions(w, c),
        relative_risk_contributions=relative_risk_contributions(w, c),
        budget=result.budget,
        portfolio_volatility=portfolio_volatility(w, c),
        converged=result.converged,
        iterations=result.iterations,
        budget_error=result.max_relative_error,
        covariance=c.to_numpy(dtype=float),
    )
