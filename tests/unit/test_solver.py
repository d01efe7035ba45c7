"""Tests of the risk-budgeting hot path riskcore._rb_solver.solve_risk_budget (Spinu 2013)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcore._rb_solver import relative_rc_error, solve_risk_budget
from riskcore.allocation import risk_budget_weights


def random_cov(rng: np.random.Generator, n: int, n_factors: int = 3) -> np.ndarray:
    """Factor-model covariance with annualized crypto-like volatilities (20%..150%)."""
    loadings = rng.standard_normal((n, n_factors))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.05, 0.5, n))
    d = np.sqrt(np.diag(cov))
    vol = rng.uniform(0.2, 1.5, n)
    return cov / np.outer(d, d) * np.outer(vol, vol)


# ----- memory layout: DataFrame.to_numpy() gives a column-major (Fortran-ordered) matrix ----


@pytest.mark.parametrize("n", [10, 60, 149, 150, 400])
def test_fortran_ordered_covariance_converges_like_c_ordered(n):
    rng = np.random.default_rng(42)
    cov = random_cov(rng, n)
    b = rng.uniform(0.2, 1.0, n)
    b /= b.sum()
    fortran = np.asfortranarray(cov)
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    c_sol = solve_risk_budget(cov, b)
    f_sol = solve_risk_budget(fortran, b)
    assert c_sol.converged and f_sol.converged
    assert f_sol.max_relative_error <= 1e-10
    assert f_sol.iterations <= c_sol.iterations + 1
    np.testing.assert_allclose(f_sol.weights, c_sol.weights, rtol=1e-12, atol=0)


def test_labelled_dataframe_is_column_major_and_the_public_function_converges():
    # pandas copies an array into a DataFrame block-transposed: to_numpy() is column-major,
    # as it is for a .loc selection of a covariance DataFrame (a guard: the public function's
    # validation already handed the solver a row-major copy before the fix)
    rng = np.random.default_rng(42)
    n = 30
    cov = random_cov(rng, n)
    names = [f"A{i}" for i in range(n)]
    frame = pd.DataFrame(cov, index=names, columns=names)
    assert frame.to_numpy().flags.f_contiguous
    assert frame.loc[names[:10], names[:10]].to_numpy().flags.f_contiguous
    res = risk_budget_weights(frame)
    ref = solve_risk_budget(cov, np.full(n, 1.0 / n))
    assert res.converged and ref.converged
    np.testing.assert_allclose(res.weights.to_numpy(), ref.weights, rtol=1e-12, atol=0)
    assert res.iterations <= ref.iterations + 1


@pytest.mark.parametrize("layout", ["strided", "transposed view", "float32", "read-only"])
def test_any_array_layout_gives_the_same_answer(layout):
    rng = np.random.default_rng(42)
    n = 20
    cov = random_cov(rng, n)
    b = np.full(n, 1.0 / n)
    if layout == "strided":
        big = np.zeros((2 * n, 2 * n))
        big[::2, ::2] = cov
        arg = big[::2, ::2]
    elif layout == "transposed view":
        arg = cov.T
    elif layout == "float32":
        cov = cov.astype(np.float32).astype(float)
        arg = cov.astype(np.float32)
    else:
        arg = cov.copy()
        arg.setflags(write=False)
    ref = solve_risk_budget(np.ascontiguousarray(cov), b)
    sol = solve_risk_budget(arg, b)
    assert sol.converged and sol.iterations <= ref.iterations + 1
    np.testing.assert_allclose(sol.weights, ref.weights, rtol=1e-12, atol=0)
    assert relative_rc_error(cov, sol.weights, b) <= 1e-10


# ----- compiled kernel (numba) and numpy path: one iteration, two implementations -----------


def _both_paths(monkeypatch, *args, **kwargs):
    from riskcore import _rb_solver

    compiled = solve_risk_budget(*args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(_rb_solver, "_USE_KERNEL", False)
        plain = solve_risk_budget(*args, **kwargs)
    return compiled, plain


@pytest.mark.parametrize("n", [1, 2, 10, 60, 149])
@pytest.mark.parametrize("warm", [False, True])
def test_compiled_kernel_and_numpy_path_agree(monkeypatch, n, warm):
    # the compiled path sweeps coordinates first, so the iterates differ; the solution must not
    pytest.importorskip("numba")
    rng = np.random.default_rng(42)
    cov = random_cov(rng, n)
    b = rng.uniform(0.2, 1.0, n)
    x0 = rng.uniform(0.5, 1.5, n) / n if warm else None
    compiled, plain = _both_paths(monkeypatch, cov, b, x0=x0, tol=1e-13)
    assert compiled.converged and plain.converged
    assert compiled.max_relative_error <= 1e-13 and plain.max_relative_error <= 1e-13
    np.testing.assert_allclose(compiled.weights, plain.weights, rtol=1e-12, atol=0)
    assert compiled.weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert plain.sweeps == 0


@pytest.mark.parametrize("specific", [0.5, 0.05, 0.005])
def test_compiled_kernel_turns_to_newton_when_coordinate_descent_is_slow(monkeypatch, specific):
    # strong common factors and little specific risk make cyclical coordinate descent crawl
    # (condition numbers 400..50,000 here); the kernel must notice and finish with Newton
    # steps instead of exhausting its sweeps
    pytest.importorskip("numba")
    from riskcore import _rb_solver

    n = 60
    rng = np.random.default_rng(42)
    loadings = rng.standard_normal((n, 6))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.1, 1.0, n) * specific)
    b = rng.uniform(0.2, 1.0, n)
    compiled, plain = _both_paths(monkeypatch, cov, b)
    assert compiled.converged and plain.converged
    assert compiled.sweeps < 10 < _rb_solver._MAX_SWEEPS and compiled.iterations >= 1
    # both within 1e-10 of the budgets: weights agree to about that, times the conditioning
    np.testing.assert_allclose(compiled.weights, plain.weights, rtol=1e-8)


def test_constant_correlation_erc_is_inverse_volatility_on_the_compiled_path():
    # Maillard, Roncalli & Teiletche (2010); coordinate descent alone gets there
    n = 60
    vol = np.random.default_rng(42).uniform(0.2, 1.5, n)
    corr = np.full((n, n), 0.9)
    np.fill_diagonal(corr, 1.0)
    erc = solve_risk_budget(np.outer(vol, vol) * corr, np.full(n, 1.0 / n))
    assert erc.converged
    np.testing.assert_allclose(erc.weights, (1 / vol) / (1 / vol).sum(), rtol=1e-10)


def test_compiled_kernel_reports_failures_like_the_numpy_path(monkeypatch):
    pytest.importorskip("numba")
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 8)
    b = np.full(8, 1.0 / 8)
    nan_cov = cov.copy()
    nan_cov[2, 3] = nan_cov[3, 2] = np.nan
    indefinite = cov - 2.0 * np.eye(8) * np.diag(cov).max()
    for bad in (nan_cov, indefinite):
        compiled, plain = _both_paths(monkeypatch, bad, b)
        assert not compiled.converged and not plain.converged
    # a zero budget: solved on the others, weight 0 for it, on both paths
    zero = b.copy()
    zero[5] = 0.0
    compiled, plain = _both_paths(monkeypatch, cov, zero, tol=1e-13)
    assert compiled.converged and compiled.weights[5] == 0.0
    np.testing.assert_allclose(compiled.weights, plain.weights, rtol=1e-12, atol=0)
    # an unreachable tolerance: the error reached is reported, not hidden
    compiled, plain = _both_paths(monkeypatch, cov, b, tol=0.0, max_iter=2)
    assert not compiled.converged and not plain.converged
    assert compiled.iterations == plain.iterations == 2
    assert 0 < compiled.max_relative_error < 1e-2


def test_without_numba_the_numpy_path_serves(monkeypatch):
    from riskcore import _rb_solver

    monkeypatch.setattr(_rb_solver, "_newton_cholesky", None)
    rng = np.random.default_rng(42)
    cov = random_cov(rng, 12)
    sol = solve_risk_budget(cov, np.full(12, 1.0 / 12))
    assert sol.converged and relative_rc_error(cov, sol.weights, np.full(12, 1.0 / 12)) <= 1e-10


@pytest.mark.parametrize("n", [150, 400])
def test_large_problems_warm_started_by_sweeps_agree_with_the_numpy_path(monkeypatch, n):
    pytest.importorskip("numba")
    rng = np.random.default_rng(42)
    cov = random_cov(rng, n, n_factors=max(1, n // 10))
    b = rng.uniform(0.2, 1.0, n)
    compiled, plain = _both_paths(monkeypatch, cov, b)
    assert compiled.converged and plain.converged
    assert compiled.sweeps > 0 and plain.sweeps == 0
    assert relative_rc_error(cov, compiled.weights, b) <= 1e-10
    np.testing.assert_allclose(compiled.weights, plain.weights, rtol=1e-8)


# ----- fast path (explicit-signature kernel) and Anderson-accelerated sweeps ----------------


@pytest.mark.parametrize(
    "form", ["list budget", "list x0", "int32 budget", "bad x0", "short x0", "float max_iter"]
)
def test_fast_path_and_general_path_give_the_same_answer(monkeypatch, form):
    # arguments the compiled kernel's signature refuses go through the converting path;
    # either way the numpy path agrees
    pytest.importorskip("numba")
    rng = np.random.default_rng(7)
    n = 12
    cov = random_cov(rng, n)
    b = rng.uniform(0.2, 1.0, n)
    kwargs = {}
    if form == "list budget":
        b_arg = b.tolist()
    elif form == "int32 budget":
        b = np.arange(1, n + 1).astype(float)
        b_arg = np.arange(1, n + 1, dtype=np.int32)
    else:
        b_arg = b
    if form == "list x0":
        kwargs["x0"] = list(np.full(n, 1.0 / n))
    elif form == "bad x0":
        kwargs["x0"] = np.r_[-1.0, np.full(n - 1, 1.0)]
    elif form == "short x0":
        kwargs["x0"] = np.full(n - 1, 1.0)
    elif form == "float max_iter":
        kwargs["max_iter"] = 100.0
    compiled, plain = _both_paths(monkeypatch, cov, b_arg, **kwargs)
    assert compiled.converged and plain.converged
    assert relative_rc_error(cov, compiled.weights, b) <= 1e-10
    np.testing.assert_allclose(compiled.weights, plain.weights, rtol=1e-9)
    assert isinstance(compiled.converged, bool) and isinstance(compiled.iterations, int)


def test_fast_path_flags_bad_input_like_the_numpy_path(monkeypatch):
    pytest.importorskip("numba")
    rng = np.random.default_rng(7)
    cov = random_cov(rng, 6)
    for budget in (np.zeros(6), np.full(6, np.nan)):
        compiled, plain = _both_paths(monkeypatch, cov, budget)
        assert not compiled.converged and not plain.converged
        assert np.isnan(compiled.weights).all()
    # a budget of the wrong length: the same exception on both paths
    for path_off in (False, True):
        from riskcore import _rb_solver

        with monkeypatch.context() as m:
            m.setattr(_rb_solver, "_USE_KERNEL", not path_off)
            with pytest.raises(ValueError):
                solve_risk_budget(cov, np.full(5, 0.2))


def test_damped_newton_converges_from_a_far_warm_start():
    # a warm start 1000x off on half the assets: damped steps (no line search) must still
    # get there, positive all the way
    pytest.importorskip("numba")
    rng = np.random.default_rng(3)
    n = 30
    loadings = rng.standard_normal((n, 3))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.1, 1.0, n) * 0.005)
    b = rng.uniform(0.2, 1.0, n)
    x0 = np.where(np.arange(n) % 2 == 0, 1000.0, 1.0)
    sol = solve_risk_budget(cov, b, x0=x0)
    assert sol.converged and (sol.weights > 0).all()
    assert relative_rc_error(cov, sol.weights, b) <= 1e-10


@pytest.mark.parametrize("memory", [0, 5])
def test_anderson_accelerated_sweeps_reach_the_same_solution(monkeypatch, memory):
    pytest.importorskip("numba")
    from riskcore import _rb_solver

    n = 300
    rng = np.random.default_rng(5)
    # one market factor and specific risk: coordinate descent converges linearly here
    loadings = rng.uniform(0.5, 1.5, (n, 1))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.2, 1.0, n))
    b = rng.uniform(0.2, 1.0, n)
    _rb_solver.solve_risk_budget(np.eye(3), np.ones(3))  # loads the kernels
    y = np.sqrt(b / b.sum() / np.diag(cov))
    sy = cov @ y
    scale = 1.0 / np.sqrt(y @ sy)
    y, sy = y * scale, sy * scale
    start_error = relative_rc_error(cov, y, b)
    sweeps = _rb_solver._ccd_sweeps(cov, b / b.sum(), y, sy, 1e-11, 1e9, 2000, memory)
    assert 0 < sweeps < 100 and (y > 0).all()
    np.testing.assert_allclose(sy, cov @ y, rtol=1e-10)  # Σy maintained, never recomputed
    assert relative_rc_error(cov, y, b) <= 1e-10 < start_error
    sol, plain = _both_paths(monkeypatch, cov, b)
    assert sol.converged and plain.converged and sol.sweeps > 0
    np.testing.assert_allclose(sol.weights, plain.weights, rtol=1e-8)


def test_first_solves_in_two_threads_at_once_load_the_kernel_once():
    """The dashboard's warm-up thread and a page's first solve race to load the kernel; the
    loser once re-jitted a jitted function (TypeError on a fresh server)."""
    import subprocess
    import sys

    code = """
import threading, numpy as np
from riskcore._rb_solver import solve_risk_budget
errors = []
def solve():
    try:
        sol = solve_risk_budget(np.diag([0.04, 0.09, 0.16]), np.full(3, 1 / 3))
        assert sol.converged
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=solve) for _ in range(4)]
[t.start() for t in threads]
[t.join() for t in threads]
assert not errors, errors
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr[-2000:]
