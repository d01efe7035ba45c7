"""Low-overhead risk-budgeting solver for numpy arrays (the hot path).

Solves Spinu's (2013) convex formulation of risk budgeting with a safeguarded Newton method
(directions by Cholesky for small problems, in a numba-compiled loop when numba is installed,
by preconditioned conjugate gradients from 150 assets on).
No input validation beyond what is needed not to return garbage: the public wrapper
:func:`riskcore.allocation.risk_budget_weights` validates and labels; the backtest calls
:func:`solve_risk_budget` directly in its rebalancing loop.

References
----------
F. Spinu (2013), "An algorithm for computing risk parity weights", SSRN 2297383.
T. Griveau-Billion, J.-C. Richard, T. Roncalli (2013), "A fast algorithm for computing
high-dimensional risk parity portfolios", arXiv:1311.4057.
H. F. Walker, P. Ni (2011), "Anderson acceleration for fixed-point iterations", SIAM J.
Numer. Anal. 49(4), 1715-1735.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.linalg.lapack import dpotrf, dpotrs

__all__ = ["RiskBudgetSolution", "solve_risk_budget", "relative_rc_error"]

# Sufficient-decrease constant of the backtracking line search (Armijo).
_ARMIJO = 1e-4
# Below this Newton decrement (squared, -g'd) the full Newton step is taken without a line
# search: the objective change is then below floating-point resolution, and the iterate is
# deep inside the region of quadratic convergence.
_FULL_STEP_DECREMENT = 1e-6
_MAX_BACKTRACK = 60
# From this size on, Newton directions come from preconditioned conjugate gradients.
_PCG_MIN_ASSETS = 150
# Relative residual asked of an inexact Newton direction: min(_PCG_FORCING, error), with error
# the current relative risk-contribution error, which keeps Newton's quadratic convergence
# near the solution (Dembo, Eisenstat & Steihaug 1982); never tighter than the last step
# needs to reach the tolerance.
_PCG_FORCING = 0.1
# Conjugate-gradient steps before the Hessian is factorized afresh (Cholesky-preconditioned
# CG), and before diagonal preconditioning is given up for a factorization.
_PCG_MAX_STEPS = 8
_JACOBI_MAX_STEPS = 60
# Below _PCG_MIN_ASSETS the compiled kernel (numba, if installed) runs the Newton loop;
# tests switch it off to check the numpy path gives the same answers.
_USE_KERNEL = True
_EMPTY = np.empty(0)
# Coordinate-descent sweeps at most, before the compiled kernel turns to Newton's method.
_MAX_SWEEPS = 1000
# Sweeps run before their convergence rate is judged (the first few are often irregular).
_MIN_SWEEPS = 4
# Cost of the Newton finish in sweeps (small problems): _NEWTON_OVERHEAD_SWEEPS plus
# n^2 / _NEWTON_SWEEPS_DIVISOR. Measured at 10..50 assets on the three matrix families of
# benchmarks/bench_allocation.py: two damped Newton steps finish from about 1e-3, and the
# compiled Cholesky costs more than its n/6 sweeps' worth of multiply-adds suggests.
_NEWTON_OVERHEAD_SWEEPS = 2.0
_NEWTON_SWEEPS_DIVISOR = 40.0
# From _PCG_MIN_ASSETS on, the compiled sweeps warm-start Newton-CG, whose steps cost 10-60
# products with the matrix each (a product costs about a sweep), or a factorization when
# diagonal preconditioning stalls: the sweeps stop once those still needed exceed this
# many (measured on the three matrix families of benchmarks/bench_allocation.py).
_PCG_NEWTON_SWEEPS = 150.0
# Anderson acceleration of the sweeps of large problems (see _ccd_sweeps): residuals kept,
# and how much larger than the plain sweep's error the accelerated point's may be.
_ANDERSON_MEMORY = 5
_ANDERSON_SAFEGUARD = 2.0


@dataclass(frozen=True)
class RiskBudgetSolution:
    """Outcome of :func:`solve_risk_budget`.

    Attributes
    ----------
    weights : numpy.ndarray of shape (n_assets,)
        Long-only weights summing to 1 (NaN entries only if the input was unusable, in which
        case ``converged`` is False).
    converged : bool
        True when ``max_relative_error <= tol`` was reached within ``max_iter`` iterations.
    iterations : int
        Newton iterations performed.
    max_relative_error : float
        ``max_i |RC_i / sum(RC) - b_i| / b_i`` over assets with a positive budget, where
        ``RC_i = w_i (Σw)_i``; NaN if it could not be computed.
    sweeps : int
        Cyclical coordinate-descent sweeps run before Newton's method (compiled path only,
        else 0); they do not count against ``max_iter``.
    """

    weights: np.ndarray
    converged: bool
    iterations: int
    max_relative_error: float
    sweeps: int = 0


def relative_rc_error(cov: np.ndarray, weights: np.ndarray, budget: np.ndarray) -> float:
    """Largest relative deviation of relative risk contributions from their budgets.

    Parameters
    ----------
    cov : numpy.ndarray of shape (n_assets, n_assets)
        Covariance matrix (any consistent unit; the result is unit-free).
    weights : numpy.ndarray of shape (n_assets,)
        Portfolio weights.
    budget : numpy.ndarray of shape (n_assets,)
        Risk budgets (non-negative; normalized to sum 1 here).

    Returns
    -------
    float
        ``max_i |RC_i / sum(RC) - b_i| / b_i`` over assets with ``b_i > 0``.
    """
    b = np.asarray(budget, dtype=float)
    b = b / b.sum()
    w = np.asarray(weights, dtype=float)
    rc = w * (cov @ w)
    rrc = rc / rc.sum()
    pos = b > 0
    return float(np.max(np.abs(rrc[pos] / b[pos] - 1.0)))


def solve_risk_budget(
    cov: np.ndarray,
    budget: np.ndarray,
    *,
    x0: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 100,
) -> RiskBudgetSolution:
    r"""Long-only risk-budget weights by Newton's method on Spinu's convex problem.

    Minimizes :math:`f(y) = \tfrac12 y^\top \Sigma y - \sum_i b_i \ln y_i` over :math:`y > 0`.
    At the minimum :math:`y_i (\Sigma y)_i = b_i`, so :math:`w = y / \sum_i y_i` has relative
    risk contributions equal to the budgets. Each iteration solves
    :math:`(\Sigma + \mathrm{diag}(b / y^2)) d = -(\Sigma y - b / y)` -- by Cholesky
    below 150 assets (the whole loop compiled by numba when it is installed, else numpy
    and LAPACK; the same iterates up to rounding), above by conjugate gradients
    preconditioned with the diagonal (or, if that stalls, with a Cholesky factor reused
    across iterations), to a relative residual that shrinks with the error (inexact
    Newton) -- and takes the full step when it stays positive and decreases :math:`f`
    (Armijo backtracking otherwise). Start: ``x0`` if given, else
    :math:`y_0 \propto \sqrt{b_i} / \sigma_i` (exact for a diagonal
    :math:`\Sigma`), rescaled optimally along its ray. When numba is installed, cyclical
    coordinate descent (Griveau-Billion, Richard & Roncalli 2013) runs first, compiled, for
    as long as the sweeps it still needs at its observed rate cost less than the Newton
    steps would (from 150 assets on the sweeps are Anderson-accelerated, Walker & Ni
    2011); on well-conditioned matrices it reaches ``tol`` alone. Below 150 assets the
    compiled Newton steps are damped as for a self-concordant function (step
    :math:`1/(1+\lambda)` above Newton decrement 1/4 of ``f / min(b)``, full below; no line
    search). Float64 C-contiguous arrays are used as given below 150 assets; anything else
    is converted first (same answers).

    Assets with a zero budget get a zero weight (the long-only solution with ``RC_i = 0``).
    No validation is done here beyond reporting: a NaN input or a singular matrix gives
    ``converged=False``, never a silent answer.

    Parameters
    ----------
    cov : numpy.ndarray of shape (n_assets, n_assets)
        Symmetric positive-definite covariance matrix (any time unit; weights do not depend
        on scale).
    budget : numpy.ndarray of shape (n_assets,)
        Non-negative risk budgets, at least one positive; normalized to sum 1.
    x0 : numpy.ndarray of shape (n_assets,), optional
        Warm start, e.g. the previous rebalance's weights; entries that are not positive and
        finite make the solver fall back to the default start.
    tol : float, default 1e-10
        Target for ``max_i |RC_i / sum(RC) - b_i| / b_i``.
    max_iter : int, default 100
        Maximum number of Newton iterations (the compiled path's coordinate sweeps before
        them are bounded on their own and not counted).

    Returns
    -------
    RiskBudgetSolution
        Weights summing to 1, convergence flag, iterations and the error reached.

    References
    ----------
    F. Spinu (2013), "An algorithm for computing risk parity weights", SSRN 2297383.
    H. F. Walker, P. Ni (2011), "Anderson acceleration for fixed-point iterations",
    SIAM J. Numer. Anal. 49(4), 1715-1735.
    S. Boyd, L. Vandenberghe (2004), *Convex Optimization*, §9.6 (self-concordance).
    """
    # Fast path for small problems: the compiled kernel takes the caller's arrays as they
    # are when they are C-contiguous float64 (its signature is explicit, so anything else
    # raises TypeError before any work is done and goes the general way below); the
    # kernel checks shapes, budgets and the warm start itself. At 10 assets the Python
    # around the kernel was a third of the solve.
    kernel = _newton_cholesky
    if _USE_KERNEL and kernel is not None:
        if kernel is _NOT_LOADED:
            kernel = _load_kernel()
        try:
            n = len(budget)
            if n < _PCG_MIN_ASSETS and kernel is not None:
                weights = np.empty(n)
                status, it, err, sweeps = kernel(
                    cov, budget, _EMPTY if x0 is None else x0, tol, max_iter, weights
                )
                if status == 0:
                    return _solution(weights, err <= tol, it, err, sweeps)
                if status == 1:
                    return _failed(n)
                # 2 (a budget not positive), 3 (shapes): the general path below
        except TypeError:  # not float64 C-contiguous arrays, or no len(): converted below
            pass
    # The solver owns a C-contiguous float64 copy-or-view of the matrix: DataFrame.to_numpy()
    # returns a column-major matrix, and every buffer below (the Hessian, its diagonal view,
    # the transposed view handed to LAPACK) is laid out for row-major storage.
    cov = np.ascontiguousarray(cov, dtype=float)
    b = np.asarray(budget, dtype=float)
    if (
        _USE_KERNEL
        and b.ndim == 1
        and b.shape[0] < _PCG_MIN_ASSETS
        and cov.shape == (b.shape[0], b.shape[0])
    ):
        kernel = _load_kernel() if _newton_cholesky is _NOT_LOADED else _newton_cholesky
        if kernel is not None:
            y0 = _EMPTY if x0 is None else _usable_start(x0, b)
            b = np.ascontiguousarray(b)
            weights = np.empty(b.shape[0])
            status, it, err, sweeps = kernel(cov, b, y0, float(tol), int(max_iter), weights)
            if status == 0:
                return _solution(weights, err <= tol, it, err, sweeps)
            if status == 1:
                return _failed(b.shape[0])
            # status 2, a budget that is not positive: the numpy path below handles it
    total = b.sum()
    if not total > 0:
        return _failed(b.shape[0])
    b = b / total
    positive = b > 0
    if not positive.all():
        return _solve_subset(cov, b, positive, x0, tol, max_iter)

    n = b.shape[0]
    y = None
    if x0 is not None:
        y = np.array(x0, dtype=float)
        if y.shape != b.shape or not (y > 0).all() or not np.isfinite(y).all():
            y = None
    sweeps = 0
    if _USE_KERNEL and n >= _PCG_MIN_ASSETS and cov.shape == (n, n):
        # Large problems: compiled coordinate sweeps give Newton-CG a closer start, for as
        # long as they are cheaper than the Newton steps they save.
        if _newton_cholesky is _NOT_LOADED:
            _load_kernel()
        if _ccd_start is not None:
            y_ccd, sweeps, err = _ccd_start(
                cov, b, _EMPTY if y is None else y, float(tol), _PCG_NEWTON_SWEEPS, _MAX_SWEEPS
            )
            if sweeps > 0 and (y_ccd > 0).all() and np.isfinite(y_ccd).all():
                if err <= tol:  # the sweeps got there: no Newton step
                    return RiskBudgetSolution(y_ccd, True, 0, err, sweeps)
                y = y_ccd
    if y is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.sqrt(b / np.diagonal(cov))
    sy = cov @ y
    quad = y @ sy
    if not (quad > 0 and np.isfinite(quad)):
        return _failed(n)
    # best multiple of y: argmin_t f(t y) gives t^2 y'Σy = sum(b) = 1
    scale = 1.0 / np.sqrt(quad)
    y *= scale
    sy *= scale
    obj = 0.5 - b @ np.log(y)

    # A fresh C-contiguous buffer, whatever the caller's layout, and its diagonal as a view
    # built from the strides (never a reshape, which silently copies a non-contiguous array
    # and would drop the curvature from the Hessian).
    hess = np.empty((n, n))
    diag = np.lib.stride_tricks.as_strided(hess, shape=(n,), strides=((n + 1) * hess.itemsize,))
    # Large problems get inexact Newton directions from conjugate gradients (a CG step costs
    # O(n^2), a factorization O(n^3)), preconditioned by the Hessian's diagonal; if that is
    # too slow for the matrix at hand, the Hessian is factorized once and the factor serves
    # as the preconditioner from then on.
    use_pcg = n >= _PCG_MIN_ASSETS
    cov_diag = np.diagonal(cov)
    factor = None
    err = np.inf
    it = 0
    while True:
        rc = y * sy
        err = float(np.max(np.abs(rc / (rc.sum() * b) - 1.0)))
        if err <= tol or it >= max_iter or not err == err:  # last test: NaN
            break
        it += 1
        by = b / y
        grad = sy - by
        curvature = by / y
        step = None
        if use_pcg:
            forcing = min(_PCG_FORCING, max(err, 0.1 * tol / err))
            if factor is None:
                step = _pcg(cov, curvature, grad, _diagonal(cov_diag + curvature), forcing,
                            _JACOBI_MAX_STEPS)
            else:
                step = _pcg(cov, curvature, grad, _cholesky(factor), forcing, _PCG_MAX_STEPS)
        if step is None:
            np.copyto(hess, cov)
            diag += curvature
            # hess is symmetric: its transpose is the Fortran-ordered view LAPACK wants
            chol, info = dpotrf(hess.T, lower=0, overwrite_a=1, clean=0)
            if info != 0:
                break
            step, info = dpotrs(chol, -grad, lower=0)
            if info != 0:
                break
            if use_pcg:
                factor = chol
        decrement = -(grad @ step)
        t = 1.0
        for _ in range(_MAX_BACKTRACK):
            y_new = y + t * step
            if (y_new > 0).all():
                sy_new = cov @ y_new
                if decrement < _FULL_STEP_DECREMENT:
                    break
                obj_new = 0.5 * (y_new @ sy_new) - b @ np.log(y_new)
                if obj_new <= obj - _ARMIJO * t * decrement:
                    obj = obj_new
                    break
            t *= 0.5
        else:
            break
        if decrement < _FULL_STEP_DECREMENT:
            obj = 0.5 * (y_new @ sy_new) - b @ np.log(y_new)
        y, sy = y_new, sy_new

    weights = y / y.sum()
    converged = bool(err <= tol)
    return RiskBudgetSolution(weights, converged, it, err, sweeps)


def _solution(weights, converged, iterations, error, sweeps) -> RiskBudgetSolution:
    """Build a :class:`RiskBudgetSolution` without the frozen dataclass's ``__init__``.

    Its per-field ``object.__setattr__`` calls were a third of the Python overhead of a
    10-asset solve.
    """
    sol = object.__new__(RiskBudgetSolution)
    fields = {"weights": weights, "converged": converged, "iterations": iterations,
              "max_relative_error": error, "sweeps": sweeps}
    _set_dict(sol, "__dict__", fields)
    return sol


_set_dict = object.__setattr__  # a frozen dataclass refuses its own __setattr__


def _usable_start(x0: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``x0`` as a float array if it is a usable start (positive, finite), else empty."""
    y0 = np.array(x0, dtype=float)
    if y0.shape != b.shape or not (y0 > 0).all() or not np.isfinite(y0).all():
        return _EMPTY
    return y0


def _pcg(
    cov: np.ndarray,
    curvature: np.ndarray,
    grad: np.ndarray,
    precondition: Callable[[np.ndarray], np.ndarray],
    forcing: float,
    max_steps: int,
) -> np.ndarray | None:
    """Solve ``(cov + diag(curvature)) d = -grad`` by preconditioned conjugate gradients.

    ``precondition(r)`` applies the inverse of the preconditioner (an earlier Cholesky factor,
    or the diagonal). Returns None if the relative residual ``forcing`` is not reached within
    ``max_steps`` steps.
    """
    x = np.zeros_like(grad)
    r = -grad
    target = forcing * float(np.sqrt(r @ r))
    z = precondition(r)
    p = z
    rz = r @ z
    for _ in range(max_steps):
        hp = cov @ p + curvature * p
        alpha = rz / (p @ hp)
        x += alpha * p
        r -= alpha * hp
        if np.sqrt(r @ r) <= target:
            return x
        z = precondition(r)
        rz_new = r @ z
        p = z + (rz_new / rz) * p
        rz = rz_new
    return None


def _diagonal(diag: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Jacobi preconditioner: divide by the diagonal."""
    inverse = 1.0 / diag
    return lambda r: inverse * r


def _cholesky(factor: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Preconditioner from an earlier Cholesky factor (upper, LAPACK layout)."""
    return lambda r: dpotrs(factor, r, lower=0)[0]


def _failed(n: int) -> RiskBudgetSolution:
    return RiskBudgetSolution(np.full(n, np.nan), False, 0, float("nan"))


def _solve_subset(
    cov: np.ndarray,
    b: np.ndarray,
    positive: np.ndarray,
    x0: np.ndarray | None,
    tol: float,
    max_iter: int,
) -> RiskBudgetSolution:
    """Solve on the assets with a positive budget; the others get weight 0."""
    idx = np.flatnonzero(positive)
    sub_x0 = None if x0 is None else np.asarray(x0, dtype=float)[idx]
    sub = solve_risk_budget(cov[np.ix_(idx, idx)], b[idx], x0=sub_x0, tol=tol, max_iter=max_iter)
    weights = np.zeros(b.shape[0])
    weights[idx] = sub.weights
    return RiskBudgetSolution(
        weights, sub.converged, sub.iterations, sub.max_relative_error, sub.sweeps
    )


# ----- compiled kernel for small problems ------------------------------------------------
#
# Below _PCG_MIN_ASSETS the Python loop above costs 30-80 µs per Newton step, almost all
# interpreter and call overhead around O(n^2)/O(n^3) work of a few microseconds. The same
# iteration, written as scalar loops, is compiled by numba when it is installed (pinned in
# requirements.txt); without numba the numpy path runs, so a machine without it still gets
# the same answers. tests/unit/test_solver.py checks both paths agree to 1e-12.


def _newton_cholesky_loops(cov, budget, y0, tol, max_iter, out):  # pragma: no cover
    """Solve a small problem; return ``(status, iterations, error, sweeps)``.

    Writes the weights (summing to 1) into ``out`` (length n) when ``status`` is 0. Same
    problem, start and stopping test as :func:`solve_risk_budget`'s numpy path: budget
    normalization, start ``y0`` if it has n positive finite entries (else
    ``sqrt(b / diag(cov))``), optimal rescaling, coordinate sweeps while they are cheaper,
    then Newton steps by Cholesky, damped as for a self-concordant function (below).
    ``status`` is 0 when the loop ran, 1 if the start is unusable, 2 if a budget is not
    positive, 3 if the shapes do not match (the caller handles cases 1 to 3).

    Newton steps need no line search and no logarithm: ``f / min(b)`` is self-concordant
    (a quadratic plus ``-c ln y`` terms with ``c >= 1``), so with Newton decrement
    ``λ = sqrt(-g'd / min(b))`` the damped step ``d / (1 + λ)`` stays positive and
    decreases ``f``, and the full step is taken from ``λ < 1/4`` on, where convergence is
    quadratic (Nesterov & Nemirovski 1994; Boyd & Vandenberghe 2004, §9.6).
    """
    n = budget.shape[0]
    if cov.shape[0] != n or cov.shape[1] != n:
        return 3, 0, np.nan, 0
    total = 0.0
    for i in range(n):
        total += budget[i]
    b = np.empty(n)
    b_min = np.inf
    for i in range(n):
        b[i] = budget[i] / total
        if not b[i] > 0.0:
            return 2, 0, np.nan, 0
        b_min = min(b_min, b[i])
    warm = y0.shape[0] == n
    if warm:
        for i in range(n):
            if not (y0[i] > 0.0 and y0[i] < np.inf):
                warm = False
    y = np.empty(n)
    sy = np.empty(n)
    for i in range(n):
        y[i] = y0[i] if warm else np.sqrt(b[i] / cov[i, i])
    quad = 0.0
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += cov[i, j] * y[j]
        sy[i] = s
        quad += y[i] * s
    if not (quad > 0.0 and quad < np.inf):
        return 1, 0, np.nan, 0
    scale = 1.0 / np.sqrt(quad)
    for i in range(n):
        y[i] *= scale
        sy[i] *= scale
    # Coordinate descent first, while it is cheaper than Newton's method would be (about
    # two Cholesky steps finish from where the sweeps stop).
    newton_cost = _NEWTON_OVERHEAD_SWEEPS + n * n / _NEWTON_SWEEPS_DIVISOR
    sweeps = _ccd_sweeps(cov, b, y, sy, tol, newton_cost, _MAX_SWEEPS, 0)
    chol = np.empty((n, n))
    grad = np.empty(n)
    step = np.empty(n)
    y_new = np.empty(n)
    it = 0
    err = np.inf
    while True:
        # Σy afresh (the sweeps and steps updated it incrementally) and the error
        total = 0.0
        for i in range(n):
            s = 0.0
            for j in range(n):
                s += cov[i, j] * y[j]
            sy[i] = s
            total += y[i] * s
        err = 0.0
        for i in range(n):
            e = abs(y[i] * sy[i] / (total * b[i]) - 1.0)
            if not e <= err:
                err = e
        if err <= tol or it >= max_iter or err != err:
            break
        it += 1
        # Hessian Σ + diag(b / y^2), factorized in place (lower Cholesky, row by row)
        ok = True
        for i in range(n):
            by = b[i] / y[i]
            grad[i] = sy[i] - by
            for j in range(i + 1):
                s = cov[i, j]
                if j == i:
                    s += by / y[i]
                for k in range(j):
                    s -= chol[i, k] * chol[j, k]
                if j < i:
                    chol[i, j] = s / chol[j, j]
                elif s > 0.0:
                    chol[i, i] = np.sqrt(s)
                else:
                    ok = False
                    break
            if not ok:
                break
        if not ok:
            break
        # step = -(L L')^{-1} grad
        for i in range(n):
            s = -grad[i]
            for k in range(i):
                s -= chol[i, k] * step[k]
            step[i] = s / chol[i, i]
        for i in range(n - 1, -1, -1):
            s = step[i]
            for k in range(i + 1, n):
                s -= chol[k, i] * step[k]
            step[i] = s / chol[i, i]
        decrement = 0.0
        for i in range(n):
            decrement -= grad[i] * step[i]
        if not decrement >= 0.0:  # NaN, or a direction that does not descend
            break
        lam = np.sqrt(decrement / b_min)
        t = 1.0 if lam < 0.25 else 1.0 / (1.0 + lam)
        accepted = False
        for _ in range(_MAX_BACKTRACK):  # positivity in floating point only
            positive = True
            for i in range(n):
                y_new[i] = y[i] + t * step[i]
                if not y_new[i] > 0.0:
                    positive = False
            if positive:
                accepted = True
                break
            t *= 0.5
        if not accepted:
            break
        y, y_new = y_new, y
    total = 0.0
    for i in range(n):
        total += y[i]
    for i in range(n):
        out[i] = y[i] / total
    return 0, it, err, sweeps


def _ccd_sweeps(cov, b, y, sy, tol, newton_cost, max_sweeps, memory):  # pragma: no cover
    """Cyclical coordinate descent on Spinu's problem, in place; return the sweeps run.

    Each coordinate moves to the exact minimizer of ``f`` along it (Griveau-Billion,
    Richard & Roncalli 2013), ``y_i = (-a + sqrt(a^2 + 4 Σ_ii b_i)) / (2 Σ_ii)`` with
    ``a = (Σy)_i - Σ_ii y_i``, and ``sy = Σy`` follows. Stops at ``tol``, or as soon as the
    sweeps still needed at the linear rate observed (the average, or the last two sweeps'
    if slower; judged from the ``_MIN_SWEEPS``-th sweep on) exceed ``newton_cost`` (in
    sweeps).

    With ``memory > 0`` the sweeps are Anderson-accelerated (type II, Walker & Ni 2011):
    the sweep is a fixed-point map ``G``; from the last ``memory + 1`` sweeps the next
    point is ``G(y_k) - ΔG γ`` with ``γ`` the least-squares fit of the residuals
    ``G(y) - y`` (relative to ``G(y_k)``). ``Σy`` of that point is the same combination
    of the ``Σ G(y_j)`` the sweeps maintained, so it costs O(memory · n), no product with
    the matrix. The point is used if it is positive and its error is below
    ``_ANDERSON_SAFEGUARD`` times that of ``G(y_k)``. 25-40% fewer sweeps on the
    benchmark's matrices; the bookkeeping only pays for itself on large problems.
    """
    n = b.shape[0]
    moves = np.empty(n)
    m = memory
    hist = 0
    slots = m + 1
    g_hist = np.empty((slots, n))
    sg_hist = np.empty((slots, n))
    f_hist = np.empty((slots, n))
    df = np.empty((max(m, 1), n))
    gram = np.empty((max(m, 1), max(m, 1)))
    low = np.empty((max(m, 1), max(m, 1)))
    rhs = np.empty(max(m, 1))
    gam = np.empty(max(m, 1))
    y_old = np.empty(n if m > 0 else 0)
    y_acc = np.empty(n if m > 0 else 0)
    sy_acc = np.empty(n if m > 0 else 0)
    err_first = err_last = err_before_last = np.inf
    sweeps = 0
    while sweeps < max_sweeps:
        total = 0.0
        for i in range(n):
            total += y[i] * sy[i]
        err = 0.0
        for i in range(n):
            e = abs(y[i] * sy[i] / (total * b[i]) - 1.0)
            if not e <= err:
                err = e
        if err <= tol or err != err:
            return sweeps
        if sweeps == 0:
            err_first = err
        elif sweeps >= _MIN_SWEEPS:
            # linear rate: the average so far (the first sweeps are often irregular and
            # fast), or over the last two sweeps if that is slower
            rate = max((err / err_first) ** (1.0 / sweeps), np.sqrt(err / err_before_last))
            if not rate < 1.0 or np.log(tol / err) / np.log(rate) > newton_cost:
                return sweeps
        err_before_last = err_last
        err_last = err
        sweeps += 1
        if m > 0:
            for i in range(n):
                y_old[i] = y[i]
        # Only the lower triangle is read, once per sweep (half the memory traffic of a
        # full-row update, which bounds large sweeps). Row i's prefix cov[i, :i] serves
        # twice: it passes move i on to the earlier coordinates' sy, and, fused in the same
        # loop, row i+1's prefix gives this sweep's earlier moves' effect on (Σy)_{i+1}
        # (two independent streams per loop: 10-40% faster than a dot product followed by
        # an update). By the end of the sweep sy is Σy exactly again.
        s = 0.0
        for i in range(n):
            d = cov[i, i]
            a = sy[i] + s - d * y[i]
            root = np.sqrt(a * a + 4.0 * d * b[i])
            # the two algebraically equal forms, each where it does not cancel
            yi = 2.0 * b[i] / (a + root) if a > 0.0 else (root - a) / (2.0 * d)
            move = yi - y[i]
            moves[i] = move
            sy[i] += s + d * move
            y[i] = yi
            if i + 1 < n:
                s = 0.0
                for j in range(i):
                    s += cov[i + 1, j] * moves[j]
                    sy[j] += cov[i, j] * move
                s += cov[i + 1, i] * move
            else:
                for j in range(i):
                    sy[j] += cov[i, j] * move
        if m > 0:
            _anderson(b, y, sy, y_old, y_acc, sy_acc, g_hist, sg_hist, f_hist, df, gram, low,
                      rhs, gam, hist, m)
            hist += 1
    return sweeps


def _anderson(b, y, sy, y_old, y_acc, sy_acc, g_hist, sg_hist, f_hist, df, gram, low, rhs, gam,
              hist, m):  # pragma: no cover - compiled
    """One Anderson step after a sweep (see :func:`_ccd_sweeps`); updates ``y, sy`` in place.

    ``y_old`` holds the point the sweep started from; ``hist`` sweeps are in the history.
    """
    n = y.shape[0]
    slots = m + 1
    k = hist % slots
    for i in range(n):
        g_hist[k, i] = y[i]
        sg_hist[k, i] = sy[i]
        f_hist[k, i] = (y[i] - y_old[i]) / y[i]
    h = min(hist + 1, slots) - 1  # differences available
    if h == 0:
        return
    for c in range(h):
        k1 = (hist - h + c) % slots
        k2 = (hist - h + c + 1) % slots
        for i in range(n):
            df[c, i] = f_hist[k2, i] - f_hist[k1, i]
    for c in range(h):
        s = 0.0
        for i in range(n):
            s += df[c, i] * f_hist[k, i]
        rhs[c] = s
        for d in range(c + 1):
            s = 0.0
            for i in range(n):
                s += df[c, i] * df[d, i]
            gram[c, d] = s
    ridge = 0.0
    for c in range(h):
        ridge += gram[c, c]
    ridge *= 1e-10  # the normal equations of nearly collinear residuals
    for c in range(h):
        for d in range(c + 1):
            s = gram[c, d] + (ridge if c == d else 0.0)
            for e in range(d):
                s -= low[c, e] * low[d, e]
            if c == d:
                if not s > 0.0:
                    return
                low[c, c] = np.sqrt(s)
            else:
                low[c, d] = s / low[d, d]
    for c in range(h):
        s = rhs[c]
        for e in range(c):
            s -= low[c, e] * gam[e]
        gam[c] = s / low[c, c]
    for c in range(h - 1, -1, -1):
        s = gam[c]
        for e in range(c + 1, h):
            s -= low[e, c] * gam[e]
        gam[c] = s / low[c, c]
    for i in range(n):
        v = y[i]
        sv = sy[i]
        for c in range(h):
            k1 = (hist - h + c) % slots
            k2 = (hist - h + c + 1) % slots
            v -= gam[c] * (g_hist[k2, i] - g_hist[k1, i])
            sv -= gam[c] * (sg_hist[k2, i] - sg_hist[k1, i])
        if not v > 0.0:
            return
        y_acc[i] = v
        sy_acc[i] = sv
    if _rc_error(y_acc, sy_acc, b) < _ANDERSON_SAFEGUARD * _rc_error(y, sy, b):
        for i in range(n):
            y[i] = y_acc[i]
            sy[i] = sy_acc[i]


def _rc_error(y, sy, b):  # pragma: no cover - compiled
    """``max_i |y_i (Σy)_i / (y'Σy b_i) - 1|`` from ``sy = Σy``."""
    n = y.shape[0]
    total = 0.0
    for i in range(n):
        total += y[i] * sy[i]
    err = 0.0
    for i in range(n):
        e = abs(y[i] * sy[i] / (total * b[i]) - 1.0)
        if not e <= err:
            err = e
    return err


def _ccd_start_loops(cov, b, y0, tol, newton_cost, max_sweeps):  # pragma: no cover
    """Return ``(weights, sweeps, error)``: coordinate sweeps from ``y0`` (or the default).

    ``b`` is normalized and positive; ``y`` is rescaled optimally first; the weights sum
    to 1 and ``error`` is recomputed from them. ``sweeps`` is 0 when the start is unusable
    (the caller then starts as without the kernel).
    """
    n = b.shape[0]
    y = np.empty(n)
    sy = np.empty(n)
    for i in range(n):
        y[i] = y0[i] if y0.shape[0] == n else np.sqrt(b[i] / cov[i, i])
    quad = 0.0
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += cov[i, j] * y[j]
        sy[i] = s
        quad += y[i] * s
    if not (quad > 0.0 and quad < np.inf):
        return y, 0, np.nan
    scale = 1.0 / np.sqrt(quad)
    for i in range(n):
        y[i] *= scale
        sy[i] *= scale
    sweeps = _ccd_sweeps(cov, b, y, sy, tol, newton_cost, max_sweeps, _ANDERSON_MEMORY)
    # the error reached, from a fresh product Σy
    total = 0.0
    y_sum = 0.0
    for i in range(n):
        s = 0.0
        for j in range(n):
            s += cov[i, j] * y[j]
        sy[i] = s
        total += y[i] * s
        y_sum += y[i]
    err = 0.0
    for i in range(n):
        e = abs(y[i] * sy[i] / (total * b[i]) - 1.0)
        if not e <= err:
            err = e
    for i in range(n):
        y[i] /= y_sum
    return y, sweeps, err


def _load_kernel():
    """Compile (or load from numba's on-disk cache) the kernel on first use; None without numba.

    Importing numba costs about half a second, so it happens at the first small solve, not
    at ``import riskcore``.
    """
    global _newton_cholesky, _ccd_start
    with _LOAD_LOCK:  # dashboard sessions and its warm-up are threads: compile once
        if _newton_cholesky is _NOT_LOADED:
            _compile_kernels()
    return _newton_cholesky


def _compile_kernels() -> None:
    global _newton_cholesky, _ccd_start
    try:
        import numba
    except ImportError:  # the numpy path serves
        _newton_cholesky = None
        _ccd_start = None
    else:
        # reassociation lets LLVM vectorize the dot products; NaN and inf semantics are
        # kept, and division by zero gives inf/NaN as in numpy (reported as non-convergence)
        jit = numba.njit(
            cache=True, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"}
        )
        global _ccd_sweeps, _anderson, _rc_error
        _rc_error = jit(_rc_error)
        _anderson = jit(_anderson)
        _ccd_sweeps = jit(_ccd_sweeps)
        t = numba.types
        matrix = t.Array(t.float64, 2, "C", readonly=True)
        vector = t.Array(t.float64, 1, "C", readonly=True)
        # explicit signature: other dtypes and layouts raise TypeError (the caller converts)
        # instead of compiling a specialization; readonly types accept writable arrays too
        signature = t.Tuple((t.int64, t.int64, t.float64, t.int64))(
            matrix, vector, vector, t.float64, t.int64, t.float64[::1]
        )
        _newton_cholesky = numba.njit(
            signature, cache=True, nogil=True, error_model="numpy",
            fastmath={"reassoc", "contract"},
        )(_newton_cholesky_loops)
        _ccd_start = jit(_ccd_start_loops)


_LOAD_LOCK = threading.Lock()
_NOT_LOADED = object()
_newton_cholesky = _NOT_LOADED
_ccd_start = None
