r"""Constrained risk budgeting (Richard & Roncalli 2019): weight bounds and group constraints.

Formulation
-----------
With weight bounds and linear (group) constraints, the risk-budgeting equations
``RC_i = b_i σ(x)`` generally have no solution. Richard & Roncalli (2019) define the
constrained risk-budgeting (CRB) portfolio as

.. math::

    x^\star(\lambda) = \arg\min_x \; \sigma(x) - \lambda \sum_i b_i \ln x_i
    \quad \text{s.t.} \quad \ell \le x \le u, \; A x \le c,

with :math:`\sigma(x) = \sqrt{x^\top \Sigma x}` and :math:`\lambda^\star > 0` chosen so that
:math:`\sum_i x^\star_i(\lambda^\star) = 1`. The budget constraint is *not* imposed inside the
program; it fixes :math:`\lambda`. When no constraint binds, :math:`x^\star` is the ordinary
risk-budgeting portfolio and :math:`\lambda^\star = \sigma(x^\star)`. When some bind, the
optimality conditions read

.. math::

    RC_i(x) + x_i \, (\text{constraint forces})_i = \lambda b_i ,

so the assets touching no binding constraint keep ``RC_i / b_i = λ`` (equal to each other) and
the others give up or take risk through the multipliers of their constraints.

Algorithm
---------
Multiplying the optimality conditions by :math:`\sigma(x^\star)` shows that :math:`x^\star` also
solves the strictly convex program :math:`\min \tfrac12 x^\top\Sigma x - \kappa \sum_i b_i
\ln x_i` over the same constraints, with :math:`\kappa = \lambda^\star \sigma(x^\star)`.
Given which constraints bind (the active set), the optimality conditions together with
:math:`\sum_i x_i = 1` form a smooth square system in the free weights, :math:`\kappa` and the
group multipliers, solved by Newton's method to machine precision. The active set is first
guessed from the constraints that the unconstrained risk-budgeting portfolio violates and
corrected a few times (constraints violated are added, multipliers of the wrong sign
dropped); if that does not settle, a log-barrier method (Newton with line search, the
barrier weight decreasing while :math:`\kappa` follows :math:`\sum_i x_i = 1` by Newton steps
on :math:`\ln \sum_i x_i(\kappa)`) identifies it. The paper uses bisection on
:math:`\lambda` with CCD/ADMM inner solvers instead. Every returned solution is checked
against all the optimality conditions (stationarity, signs of the multipliers,
feasibility, :math:`\sum x_i = 1`).

The problem has no solution when even the least risky portfolio allowed by the minimum
constraints already invests more than 1 (possible with negative correlations: hedging
assets are then added on top of forced holdings); this is reported, not hidden.

References
----------
J.-C. Richard, T. Roncalli (2019), "Constrained risk budgeting portfolios: theory, algorithms,
applications & puzzles", arXiv:1902.05710.
S. Mehrotra (1992), "On the implementation of a primal-dual interior point method", SIAM J.
Optimization 2(4), 575-601.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import linprog

from riskcore._rb_solver import solve_risk_budget
from riskcore.errors import DataError, InfeasibleError

__all__ = [
    "ConstrainedSolution",
    "GroupConstraint",
    "parse_bounds",
    "parse_groups",
    "check_feasible",
    "group_rows",
    "solve_constrained_risk_budget",
]

# Feasibility tolerance of the constraint checks done before solving.
_FEAS_TOL = 1e-12
# Widening of pinned bounds (minimum = maximum) during the barrier phase.
_WIDEN = 1e-7
# Weight of the strictly interior point in the barrier method's starting point.
_RESTART_BLEND = 0.05
# Smallest κ tried, relative to the unconstrained one, before declaring that no λ exists.
_KAPPA_FLOOR = 1e-8
# Barrier schedule: μ starts at 0.1 κ/n and shrinks by _MU_FACTOR per stage; the active-set
# polish is tried from _POLISH_MU κ/n down to _MIN_MU κ/n.
_MU_FACTOR = 0.1
_POLISH_MU = 1e-4
_MIN_MU = 1e-12
# Newton decrement (relative to κ) that ends a barrier stage.
_NEWTON_TOL = 1e-10
# Newton steps of the active-set solve.
_POLISH_STEPS = 30
# Corrections of the active-set guess before falling back to the barrier method.
_ACTIVE_SET_TRIES = 8


@dataclass(frozen=True)
class ConstrainedSolution:
    r"""Outcome of :func:`solve_constrained_risk_budget`.

    Attributes
    ----------
    weights : numpy.ndarray of shape (n_assets,)
        Weights summing to 1 that satisfy the constraints.
    lagrange_multiplier : float
        :math:`\lambda^\star` of the volatility program, in the covariance's volatility unit.
    lower_multipliers, upper_multipliers : numpy.ndarray of shape (n_assets,)
        Multipliers of the minimum and maximum weights in the volatility program (positive
        where the bound binds).
    group_multipliers : numpy.ndarray of shape (n_rows,)
        Multipliers of the rows ``A x <= c``.
    converged : bool
        Whether every optimality condition holds to ``tol``.
    iterations : int
        Newton iterations of the barrier method (0 when the active-set Newton settled the
        problem directly).
    max_relative_error : float
        Largest relative violation of the optimality conditions (see the module docstring),
        of the constraints, of complementarity and of the full-investment constraint.
    status : str
        ``"converged"``, ``"max_iter"``, ``"no_solution"`` (no λ makes the weights sum to 1)
        or ``"numerical"`` (a factorization failed).
    """

    weights: np.ndarray
    lagrange_multiplier: float
    lower_multipliers: np.ndarray
    upper_multipliers: np.ndarray
    group_multipliers: np.ndarray
    converged: bool
    iterations: int
    max_relative_error: float
    status: str


@dataclass
class _Constraints:
    """Constraint rows in structured form: bounds as index sets, groups as dense rows."""

    lower: np.ndarray
    upper: np.ndarray
    lo_idx: np.ndarray
    up_idx: np.ndarray
    A: np.ndarray
    c: np.ndarray

    def slacks(self, x):
        return (
            x[self.lo_idx] - self.lower[self.lo_idx],
            self.upper[self.up_idx] - x[self.up_idx],
            self.c - self.A @ x,
        )


def solve_constrained_risk_budget(
    cov: np.ndarray,
    budget: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    A: np.ndarray | None = None,
    c: np.ndarray | None = None,
    *,
    tol: float = 1e-10,
    max_iter: int = 500,
) -> ConstrainedSolution:
    """Constrained risk-budgeting weights for numpy arrays (Richard & Roncalli 2019).

    Solves the program of the module docstring. No validation: the caller checks
    feasibility first (:func:`check_feasible`).

    Parameters
    ----------
    cov : numpy.ndarray of shape (n_assets, n_assets)
        Positive semi-definite covariance matrix with positive variances.
    budget : numpy.ndarray of shape (n_assets,)
        Non-negative risk budgets, at least one positive; normalized to sum 1.
    lower, upper : numpy.ndarray of shape (n_assets,)
        Minimum (>= 0) and maximum weights; ``lower < upper``.
    A : numpy.ndarray of shape (n_rows, n_assets), optional
        Linear constraint rows ``A x <= c`` (a group maximum is a row of ones on its members,
        a group minimum the negated row; see :func:`group_rows`).
    c : numpy.ndarray of shape (n_rows,), optional
        Right-hand sides.
    tol : float, default 1e-10
        Tolerance on the relative optimality error (see :class:`ConstrainedSolution`).
    max_iter : int, default 500
        Maximum interior-point iterations over all values of κ.

    Returns
    -------
    ConstrainedSolution

    References
    ----------
    J.-C. Richard, T. Roncalli (2019), "Constrained risk budgeting portfolios", arXiv:1902.05710.
    """
    cov = np.asarray(cov, dtype=float)
    b = np.asarray(budget, dtype=float)
    b = b / b.sum()
    n = b.shape[0]
    lower = np.asarray(lower, dtype=float)
    upper = np.asarray(upper, dtype=float)
    A = np.zeros((0, n)) if A is None else np.asarray(A, dtype=float).reshape(-1, n)
    c = np.zeros(0) if c is None else np.asarray(c, dtype=float).reshape(-1)
    positive = b > 0
    cons = _Constraints(
        lower,
        upper,
        np.flatnonzero((lower > 0) | ~positive),
        np.flatnonzero(upper < 1),
        A,
        c,
    )
    # Work on a covariance of unit average variance; κ scales with it.
    scale = float(np.mean(np.diagonal(cov)))
    sigma = cov / scale

    # The unconstrained risk-budgeting portfolio is the answer if it satisfies every
    # constraint strictly: the optimality conditions then hold with zero multipliers.
    rb = solve_risk_budget(sigma, np.where(positive, b, 1e-3 / n))
    x_rb = rb.weights if rb.converged else np.full(n, 1.0 / n)
    if positive.all() and rb.converged and all((sl > 0).all() for sl in cons.slacks(x_rb)):
        vol = float(np.sqrt(x_rb @ cov @ x_rb))
        zeros = np.zeros(n)
        return ConstrainedSolution(
            x_rb,
            vol,
            zeros,
            zeros.copy(),
            np.zeros(c.shape[0]),
            True,
            0,
            rb.max_relative_error,
            "converged",
        )

    # Active-set Newton from the constraints the unconstrained solution violates: exact
    # and fast when the guess is right or nearly so (a few corrections).
    fixed = upper - lower <= _FEAS_TOL
    if fixed.all():
        # every weight is pinned (the feasibility check made them sum to 1)
        return _finish(
            lower.copy(),
            np.nan,
            np.zeros(cons.lo_idx.size),
            np.zeros(cons.up_idx.size),
            np.zeros(c.shape[0]),
            0.0,
            "converged",
            0,
            sigma,
            scale,
            cons,
            n,
        )
    guess = (
        cons.lo_idx[(x_rb[cons.lo_idx] <= lower[cons.lo_idx]) | fixed[cons.lo_idx]],
        cons.up_idx[(x_rb[cons.up_idx] >= upper[cons.up_idx]) & ~fixed[cons.up_idx]],
        np.flatnonzero(A @ x_rb >= c),
        np.clip(x_rb, lower, upper),
        float(x_rb @ sigma @ x_rb),
    )
    for _ in range(_ACTIVE_SET_TRIES):
        act_lo, act_up, act_g, x_guess, kappa_guess = guess
        found, guess = _active_set_newton(
            sigma, b, kappa_guess, cons, x_guess, act_lo, act_up, act_g
        )
        if found is not None and found.error <= tol:
            return _finish(
                found.x,
                found.kappa,
                found.zl,
                found.zu,
                found.zg,
                found.error,
                "converged",
                0,
                sigma,
                scale,
                cons,
                n,
            )
        if guess is None:
            break

    if fixed.any():
        # pinned weights leave no interior: the barrier phase works on slightly widened
        # bounds (the active-set Newton that finishes it uses the exact ones)
        wide = _Constraints(
            np.where(fixed, np.maximum(lower - _WIDEN, 0.0), lower),
            np.where(fixed, upper + _WIDEN, upper),
            cons.lo_idx,
            cons.up_idx,
            A,
            c,
        )
    else:
        wide = cons
    center = _interior_point(wide, n)
    x = (1 - _RESTART_BLEND) * np.clip(x_rb, lower, upper) + _RESTART_BLEND * center
    if A.shape[0] and not (A @ x < c).all():
        x = center.copy()
    kappa = float(x_rb @ sigma @ x_rb)
    kappa0 = kappa
    mu = 0.1 * kappa / n
    total_it = 0
    status = "max_iter"
    polished = None
    inner = None
    while total_it < max_iter:
        inner = _barrier_stage(sigma, b, kappa, mu, wide, x, max_iter - total_it)
        total_it += inner.iterations
        x = inner.x
        if inner.status != "converged":
            status = inner.status
            break
        total = float(x.sum())
        if mu <= _POLISH_MU * kappa / n and abs(np.log(total)) < 0.1:
            polished = _polish(sigma, b, kappa, cons, inner)
            if polished is not None and polished.error <= tol:
                status = "converged"
                break
            polished = None
            if mu <= _MIN_MU * kappa / n:
                break
        # one Newton step on ln(sum x) as a function of ln κ (path following in κ and μ)
        slope = kappa * inner.dsum_dkappa / total
        step = -np.log(total) / slope if slope > 0 else -np.sign(total - 1.0)
        kappa *= float(np.exp(np.clip(step, -3.0, 3.0)))
        if kappa < kappa0 * _KAPPA_FLOOR:
            status = "no_solution"
            break
        if abs(np.log(total)) < 0.1:
            mu *= _MU_FACTOR

    if polished is not None:
        return _finish(
            polished.x,
            polished.kappa,
            polished.zl,
            polished.zu,
            polished.zg,
            polished.error,
            status,
            total_it,
            sigma,
            scale,
            cons,
            n,
        )
    return _finish(
        inner.x,
        kappa,
        inner.zl,
        inner.zu,
        inner.zg,
        np.inf,
        status,
        total_it,
        sigma,
        scale,
        cons,
        n,
    )


def _finish(x, kappa, zl_in, zu_in, zg_in, err, status, iterations, sigma, scale, cons, n):
    """Package a solution in the units of the volatility program and the input covariance."""
    risk = float(np.sqrt(x @ sigma @ x))
    weights = x / x.sum()
    # back to the volatility program: λ = κ / σ(x), multipliers / σ(x), in cov's units
    to_vol = np.sqrt(scale) / risk
    zl = np.zeros(n)
    zu = np.zeros(n)
    zl[cons.lo_idx] = zl_in * to_vol
    zu[cons.up_idx] = zu_in * to_vol
    return ConstrainedSolution(
        weights,
        kappa * to_vol,
        zl,
        zu,
        np.asarray(zg_in) * to_vol,
        status == "converged",
        iterations,
        float(err),
        status,
    )


@dataclass
class _Inner:
    x: np.ndarray
    zl: np.ndarray
    zu: np.ndarray
    zg: np.ndarray
    iterations: int
    error: float
    dsum_dkappa: float
    status: str


def _interior_point(cons: _Constraints, n: int) -> np.ndarray:
    """Return a point strictly inside the bounds and group rows (sum unconstrained)."""
    lower, upper = cons.lower, cons.upper
    mid = np.where(upper < 1, 0.5 * (lower + upper), np.maximum(lower * 1.5, lower + 1.0 / n))
    if cons.A.shape[0] == 0 or (cons.A @ mid < cons.c).all():
        return mid
    # maximize the smallest slack t of all rows (a linear program)
    m = cons.A.shape[0]
    a_ub = np.vstack(
        [
            np.hstack([cons.A, np.ones((m, 1))]),
            np.hstack([-np.eye(n), np.ones((n, 1))]),
            np.hstack([np.eye(n), np.ones((n, 1))]),
        ]
    )
    b_ub = np.concatenate([cons.c, -lower, upper])
    cost = np.zeros(n + 1)
    cost[-1] = -1.0
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=[(0, None)] * n + [(None, 1.0)])
    return res.x[:n] if res.status == 0 and res.x[-1] > 0 else mid


@dataclass
class _Polished:
    x: np.ndarray
    kappa: float
    zl: np.ndarray
    zu: np.ndarray
    zg: np.ndarray
    error: float


def _polish(sigma, b, kappa, cons: _Constraints, inner) -> _Polished | None:
    """Exact solution for the active set suggested by a barrier stage (see `_active_set_newton`)."""
    sl, su, sg = cons.slacks(inner.x)
    unit = kappa * b.shape[0]
    act_lo = cons.lo_idx[inner.zl > sl * unit]
    act_up = cons.up_idx[inner.zu > su * unit]
    act_g = np.flatnonzero(inner.zg > sg * unit)
    fixed = cons.upper - cons.lower <= _FEAS_TOL
    act_lo = np.union1d(act_lo, cons.lo_idx[fixed[cons.lo_idx]]).astype(int)
    act_up = act_up[~fixed[act_up]]
    out, _ = _active_set_newton(sigma, b, kappa, cons, inner.x, act_lo, act_up, act_g)
    return out


def _active_set_newton(sigma, b, kappa, cons: _Constraints, x, act_lo, act_up, act_g):
    """Newton's method on the exact optimality conditions for a guessed active set.

    Active bounds fix their weights, active group rows hold as equalities; the unknowns are
    the free weights, κ and the group multipliers, with ``sum(x) = 1`` closing the system.
    Returns ``(solution or None, corrected active set or None)``: when the guess is wrong
    (a free weight outside its bounds, a violated group, a multiplier of the wrong sign),
    the second item is the guess with those constraints added or dropped.
    """
    n = b.shape[0]
    if np.intersect1d(act_lo, act_up).size:
        return None, None
    x = x.copy()
    x[act_lo] = cons.lower[act_lo]
    x[act_up] = cons.upper[act_up]
    free = np.ones(n, dtype=bool)
    free[act_lo] = False
    free[act_up] = False
    fidx = np.flatnonzero(free)
    if fidx.size == 0:
        return None, None
    x[fidx] = np.maximum(x[fidx], 1e-12)
    A_act = cons.A[act_g]
    c_act = cons.c[act_g]
    nf, ka = fidx.size, act_g.size
    nu = np.zeros(ka)
    a_free = A_act[:, fidx]
    jac = np.zeros((nf + ka + 1, nf + ka + 1))
    jac[:nf, nf : nf + ka] = a_free.T
    jac[nf : nf + ka, :nf] = a_free
    jac[-1, :nf] = 1.0
    sig_ff = sigma[np.ix_(fidx, fidx)]
    for _ in range(_POLISH_STEPS):
        sx = sigma @ x
        xf = x[fidx]
        res = np.concatenate(
            [sx[fidx] - kappa * b[fidx] / xf + a_free.T @ nu, A_act @ x - c_act, [x.sum() - 1.0]]
        )
        jac[:nf, :nf] = sig_ff
        jac[:nf, :nf].flat[:: nf + 1] += kappa * b[fidx] / xf**2
        jac[:nf, -1] = -b[fidx] / xf
        try:
            delta = np.linalg.solve(jac, -res)
        except np.linalg.LinAlgError:
            return None, None
        dx = delta[:nf]
        step = 1.0
        neg = dx < 0
        if neg.any():
            step = min(1.0, 0.9 * float(np.min(-xf[neg] / dx[neg])))
        x[fidx] = xf + step * dx
        nu += step * delta[nf : nf + ka]
        kappa = max(kappa + step * delta[-1], 1e-300)
        if step == 1.0 and float(np.max(np.abs(dx) / x[fidx])) < 1e-14:
            break
    # multipliers of the active bounds from stationarity, then every condition checked
    kb = kappa * b
    grad = sigma @ x - kb / np.where(x > 0, x, 1.0) + A_act.T @ nu
    zl = np.zeros(cons.lo_idx.size)
    zu = np.zeros(cons.up_idx.size)
    zg = np.zeros(cons.c.size)
    zl[np.searchsorted(cons.lo_idx, act_lo)] = grad[act_lo]
    zu[np.searchsorted(cons.up_idx, act_up)] = -grad[act_up]
    zg[act_g] = nu
    scale_rc = np.where(b > 0, kb, kappa / n)
    stat = float(np.max(np.abs(x[fidx] * grad[fidx]) / scale_rc[fidx], initial=0.0))
    wrong_lo = zl * np.maximum(cons.lower[cons.lo_idx], 1.0 / n) / scale_rc[cons.lo_idx]
    wrong_up = zu * cons.upper[cons.up_idx] / scale_rc[cons.up_idx]
    wrong_g = zg / kappa
    sign = max(
        float(np.max(-wrong_lo, initial=0.0)),
        float(np.max(-wrong_up, initial=0.0)),
        float(np.max(-wrong_g, initial=0.0)),
    )
    sl, su, sg = cons.slacks(x)
    violation = -min(
        float(np.min(sl, initial=0.0)),
        float(np.min(su, initial=0.0)),
        float(np.min(sg, initial=0.0)),
    )
    err = max(stat, sign, violation, abs(float(x.sum()) - 1.0))
    if not err == err:
        return None, None
    if sign <= 1e-12 and violation <= 1e-12:
        return _Polished(x, kappa, zl, zu, zg, err), None
    # corrected guess: drop wrong-sign multipliers, add violated constraints
    tiny = -1e-12
    new_lo = np.union1d(
        act_lo[wrong_lo[np.searchsorted(cons.lo_idx, act_lo)] >= tiny], cons.lo_idx[sl < 0]
    )
    new_up = np.union1d(
        act_up[wrong_up[np.searchsorted(cons.up_idx, act_up)] >= tiny], cons.up_idx[su < 0]
    )
    new_g = np.union1d(act_g[wrong_g[act_g] >= tiny], np.flatnonzero(sg < 0))
    return None, (new_lo.astype(int), new_up.astype(int), new_g.astype(int), x, kappa)


def _barrier_stage(sigma, b, kappa, mu, cons: _Constraints, x, max_iter) -> _Inner:
    """Minimize ``½x'Σx - κ b'ln x - μ Σ ln(slack)`` by Newton's method with line search.

    ``x`` must be strictly feasible. Returns the minimizer, the multiplier estimates
    ``μ / slack`` and ``d sum(x) / d κ`` at the minimizer.
    """
    n = b.shape[0]
    lo_idx, up_idx, A = cons.lo_idx, cons.up_idx, cons.A
    kb = kappa * b
    has_groups = A.shape[0] > 0

    def objective(x):
        sl, su, sg = cons.slacks(x)
        if (x <= 0).any() or (sl <= 0).any() or (su <= 0).any() or (sg <= 0).any():
            return np.inf
        pos = kb > 0
        return (
            0.5 * float(x @ sigma @ x)
            - float(kb[pos] @ np.log(x[pos]))
            - mu * (np.log(sl).sum() + np.log(su).sum() + np.log(sg).sum())
        )

    obj = objective(x)
    it = 0
    status = "max_iter"
    dsum = np.nan
    while True:
        sl, su, sg = cons.slacks(x)
        grad = sigma @ x - kb / x
        grad[lo_idx] -= mu / sl
        grad[up_idx] += mu / su
        hess = sigma.copy()
        diag = kb / (x * x)
        diag[lo_idx] += mu / sl**2
        diag[up_idx] += mu / su**2
        hess.flat[:: n + 1] += diag
        ay = small_factor = None
        try:
            factor = cho_factor(hess, check_finite=False)
            if has_groups:
                grad += A.T @ (mu / sg)
                # group rows by the Woodbury identity (their weights μ/s² may be huge)
                ay = cho_solve(factor, A.T, check_finite=False)
                small_factor = cho_factor(np.diag(sg**2 / mu) + A @ ay, check_finite=False)
        except np.linalg.LinAlgError:
            status = "numerical"
            break

        def solve(rhs, factor=factor, ay=ay, small_factor=small_factor):
            out = cho_solve(factor, rhs, check_finite=False)
            if has_groups:
                out = out - ay @ cho_solve(small_factor, A @ out, check_finite=False)
            return out

        d = solve(-grad)
        decrement = -float(grad @ d)
        if decrement <= _NEWTON_TOL * kappa:
            dsum = float(solve(b / x).sum())
            status = "converged"
            break
        if it >= max_iter:
            break
        it += 1
        # largest step keeping x and the slacks positive, then Armijo backtracking
        alpha = 1.0
        for val, step in (
            (x, d),
            (sl, d[lo_idx]),
            (su, -d[up_idx]),
            (sg, -(A @ d) if has_groups else np.zeros(0)),
        ):
            neg = step < 0
            if neg.any():
                alpha = min(alpha, 0.99 * float(np.min(-val[neg] / step[neg])))
        for _ in range(60):
            trial = x + alpha * d
            new = objective(trial)
            if new <= obj - 1e-4 * alpha * decrement or decrement < 1e-12 * kappa:
                break
            alpha *= 0.5
        else:
            status = "numerical"
            break
        x, obj = trial, new
    sl, su, sg = cons.slacks(x)
    return _Inner(x, mu / sl, mu / su, mu / sg, it, 0.0, dsum, status)


# ---------------------------------------------------------------------------------------
# constraint parsing and feasibility


@dataclass(frozen=True)
class GroupConstraint:
    """A bound on the total weight of a group of assets.

    Attributes
    ----------
    name : str
        Name used in messages (``"group 1"`` when none was given).
    members : tuple of int
        Positions of the member assets in the covariance matrix.
    minimum : float
        Lower bound on the members' total weight (decimal).
    maximum : float
        Upper bound on the members' total weight (decimal).
    """

    name: str
    members: tuple[int, ...]
    minimum: float
    maximum: float


def _label(name: Any) -> str:
    if isinstance(name, (int, np.integer)):
        return f"asset {name}"
    return str(name)


def _limit(value: Any, default: float, what: str) -> float:
    if value is None:
        return default
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise DataError(f"{what} is {value!r}; it must be a number (decimal weight)") from None
    if np.isnan(out):
        return default
    return out


def parse_bounds(bounds: Any, labels: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Per-asset weight bounds as two arrays.

    Parameters
    ----------
    bounds : tuple, mapping, pandas.Series, sequence of pairs, or None
        ``(minimum, maximum)`` for every asset; a mapping or Series from asset name
        (or position) to a pair (assets not named are unbounded: ``(0, 1)``); a sequence
        of ``n_assets`` pairs in covariance order; None for no bounds. ``None`` inside a pair
        means no bound on that side.
    labels : pandas.Index
        Asset labels of the covariance matrix.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Minimum and maximum weights (decimals), shape (n_assets,) each.

    Raises
    ------
    DataError
        Malformed bounds, unknown asset names, a negative minimum, or a minimum above the
        maximum.
    """
    n = len(labels)
    lower = np.zeros(n)
    upper = np.ones(n)
    if bounds is None:
        return lower, upper
    pairs: dict[int, Any] = {}
    if isinstance(bounds, pd.Series):
        bounds = bounds.to_dict()
    if isinstance(bounds, Mapping):
        for key, pair in bounds.items():
            pairs[_position(key, labels, "bounds")] = pair
    elif _is_pair(bounds):
        pass
    else:
        seq = list(bounds)
        if len(seq) != n:
            raise DataError(
                f"bounds has {len(seq)} pairs but the covariance matrix has {n} assets; give "
                "one (minimum, maximum) pair per asset, a single pair, or a mapping by name"
            )
        pairs = dict(enumerate(seq))
    if _is_pair(bounds):
        lo = _limit(bounds[0], 0.0, "minimum weight")
        hi = _limit(bounds[1], 1.0, "maximum weight")
        lower[:], upper[:] = lo, hi
        idx = np.arange(n)
    else:
        idx = np.fromiter(pairs, dtype=int, count=len(pairs))
        for i, pair in pairs.items():
            if not _is_pair(pair):
                raise DataError(
                    f"bounds for {_label(labels[i])} is {pair!r}; give a (minimum, maximum) "
                    "pair of decimals"
                )
            lower[i] = 0.0 if pair[0] is None else pair[0]
            upper[i] = 1.0 if pair[1] is None else pair[1]
        lower[np.isnan(lower)] = 0.0
        upper[np.isnan(upper)] = 1.0
    for i in idx[lower[idx] < 0][:1]:
        raise DataError(
            f"minimum weight of {_label(labels[i])} is {lower[i]:g}; portfolios are long-only, "
            "so minimums must be >= 0"
        )
    for i in idx[upper[idx] < lower[idx]][:1]:
        raise InfeasibleError(
            f"bounds for {_label(labels[i])} conflict: maximum {upper[i]:g} is below minimum "
            f"{lower[i]:g}"
        )
    for i in idx[upper[idx] <= 0][:1]:
        raise InfeasibleError(
            f"maximum weight of {_label(labels[i])} is {upper[i]:g}; it must be > 0 (use a "
            "zero budget to exclude an asset)"
        )
    np.minimum(upper, 1.0, out=upper)
    return lower, upper


def _is_pair(obj: Any) -> bool:
    return (
        isinstance(obj, (tuple, list, np.ndarray))
        and len(obj) == 2
        and all(v is None or isinstance(v, (int, float, np.number)) for v in obj)
    )


def _position(key: Any, labels: pd.Index, what: str) -> int:
    if key in labels:
        loc = labels.get_loc(key)
        if isinstance(loc, int):
            return loc
    if isinstance(key, (int, np.integer)) and not isinstance(key, bool) and 0 <= key < len(labels):
        return int(key)
    raise DataError(
        f"{what} names {_label(key)!r}, which is not in the covariance matrix; allowed: "
        f"{', '.join(_label(a) for a in labels)} (or positions 0..{len(labels) - 1})"
    )


def parse_groups(groups: Any, labels: pd.Index) -> list[GroupConstraint]:
    """Group constraints on total weights.

    Parameters
    ----------
    groups : sequence or mapping, or None
        A sequence of ``(members, minimum, maximum)`` tuples, or a mapping from group name to
        such a tuple. ``members`` is a list of asset names or positions (a single name is
        accepted); ``minimum``/``maximum`` are decimals of total weight, None for no bound.
    labels : pandas.Index
        Asset labels of the covariance matrix.

    Returns
    -------
    list of GroupConstraint

    Raises
    ------
    DataError
        Malformed groups or unknown members.
    InfeasibleError
        A group whose minimum is above its maximum.
    """
    if groups is None:
        return []
    items = list(groups.items()) if isinstance(groups, Mapping) else list(enumerate(groups, 1))
    out = []
    for key, spec in items:
        name = str(key) if isinstance(groups, Mapping) else f"group {key}"
        if not isinstance(spec, (tuple, list)) or len(spec) != 3:
            raise DataError(
                f"{name} is {spec!r}; give (members, minimum, maximum), e.g. "
                "(['BTC-USD', 'ETH-USD'], 0.0, 0.6)"
            )
        members, lo, hi = spec
        if isinstance(members, (str, int, np.integer)):
            members = [members]
        positions = tuple(dict.fromkeys(_position(mb, labels, name) for mb in members))
        if not positions:
            raise DataError(f"{name} has no members; list at least one asset")
        lo_v = _limit(lo, 0.0, f"minimum of {name}")
        hi_v = _limit(hi, 1.0, f"maximum of {name}")
        if lo_v > hi_v:
            raise InfeasibleError(
                f"{name} conflicts with itself: minimum {lo_v:g} > maximum {hi_v:g}"
            )
        out.append(GroupConstraint(name, positions, lo_v, hi_v))
    return out


def _describe(group: GroupConstraint, labels: pd.Index) -> str:
    members = ", ".join(_label(labels[i]) for i in group.members)
    return f"{group.name} ({members})"


def check_feasible(
    lower: np.ndarray,
    upper: np.ndarray,
    groups: Sequence[GroupConstraint],
    labels: pd.Index,
) -> None:
    """Raise :class:`InfeasibleError` naming the conflict if no weights satisfy everything.

    Checks, in order: per-asset bounds against the full-investment constraint, each group
    against its members' bounds and against the other assets' bounds, and finally the whole
    system with a linear program (pairs of groups are then tested to name the conflict).

    Parameters
    ----------
    lower, upper : numpy.ndarray of shape (n_assets,)
        Weight bounds.
    groups : sequence of GroupConstraint
        Group constraints.
    labels : pandas.Index
        Asset labels, for messages.

    Raises
    ------
    InfeasibleError
        If the constraints cannot hold together with weights summing to 1.
    """
    tol = _FEAS_TOL
    if lower.sum() > 1 + tol:
        raise InfeasibleError(
            f"the minimum weights sum to {lower.sum():.4g} > 1: the bounds conflict with full "
            "investment (weights sum to 1); lower some minimums"
        )
    if upper.sum() < 1 - tol:
        raise InfeasibleError(
            f"the maximum weights sum to {upper.sum():.4g} < 1: the bounds conflict with full "
            "investment (weights sum to 1); raise some maximums"
        )
    n = len(labels)
    for g in groups:
        idx = list(g.members)
        rest = np.setdiff1d(np.arange(n), idx)
        desc = _describe(g, labels)
        if upper[idx].sum() < g.minimum - tol:
            raise InfeasibleError(
                f"{desc} needs at least {g.minimum:g} but its members' maximum weights sum to "
                f"{upper[idx].sum():.4g}: the group minimum conflicts with the asset bounds"
            )
        if lower[idx].sum() > g.maximum + tol:
            raise InfeasibleError(
                f"{desc} allows at most {g.maximum:g} but its members' minimum weights sum to "
                f"{lower[idx].sum():.4g}: the group maximum conflicts with the asset bounds"
            )
        if g.minimum + lower[rest].sum() > 1 + tol:
            raise InfeasibleError(
                f"{desc} needs at least {g.minimum:g} but the other assets' minimum weights "
                f"sum to {lower[rest].sum():.4g}: together above 1 (full investment)"
            )
        if g.maximum + upper[rest].sum() < 1 - tol:
            raise InfeasibleError(
                f"{desc} allows at most {g.maximum:g} and the other assets' maximum weights "
                f"sum to {upper[rest].sum():.4g}: together below 1 (full investment)"
            )
    if len(groups) > 1 and not _lp_feasible(lower, upper, groups):
        for a in range(len(groups)):
            for c in range(a + 1, len(groups)):
                if not _lp_feasible(lower, upper, [groups[a], groups[c]]):
                    raise InfeasibleError(
                        f"{_describe(groups[a], labels)} conflicts with "
                        f"{_describe(groups[c], labels)} under the asset bounds and full "
                        "investment: no weights satisfy both"
                    )
        raise InfeasibleError(
            "the group constraints cannot hold all at once with the asset bounds and full "
            "investment (each pair of groups is feasible, the whole set is not)"
        )


def _lp_feasible(lower, upper, groups) -> bool:
    n = lower.shape[0]
    rows, rhs = [], []
    for g in groups:
        a = np.zeros(n)
        a[list(g.members)] = 1.0
        rows += [a, -a]
        rhs += [g.maximum, -g.minimum]
    res = linprog(
        np.zeros(n),
        A_ub=np.array(rows),
        b_ub=np.array(rhs),
        A_eq=np.ones((1, n)),
        b_eq=[1.0],
        bounds=list(zip(lower, upper, strict=True)),
        method="highs",
    )
    return res.status == 0


def group_rows(groups: Sequence[GroupConstraint], n: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``A x <= c`` of the group constraints, skipping maxima of 1 and minima of 0.

    Parameters
    ----------
    groups : sequence of GroupConstraint
        Group constraints.
    n : int
        Number of assets.

    Returns
    -------
    A : numpy.ndarray of shape (n_rows, n)
    c : numpy.ndarray of shape (n_rows,)
    """
    rows, rhs = [], []
    for g in groups:
        a = np.zeros(n)
        a[list(g.members)] = 1.0
        if g.maximum < 1:
            rows.append(a)
            rhs.append(g.maximum)
        if g.minimum > 0:
            rows.append(-a)
            rhs.append(-g.minimum)
    return np.array(rows).reshape(-1, n), np.array(rhs, dtype=float)
