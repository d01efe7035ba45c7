"""riskcore's risk-budgeting solver against riskparityportfolio (Palomar's C++ core).

riskparityportfolio is a dev dependency (requirements-dev.txt); it needs jax at import time.
"""

from __future__ import annotations

import numpy as np
import riskparityportfolio as rpp

from riskcore._rb_solver import relative_rc_error, solve_risk_budget


def random_cov(rng: np.random.Generator, n: int) -> np.ndarray:
    loadings = rng.standard_normal((n, 3))
    cov = loadings @ loadings.T * 0.3 + np.diag(rng.uniform(0.05, 0.5, n))
    d = np.sqrt(np.diag(cov))
    vol = rng.uniform(0.2, 1.5, n)
    return cov / np.outer(d, d) * np.outer(vol, vol)


def test_agrees_with_riskparityportfolio_where_both_converge():
    rng = np.random.default_rng(42)
    compared = 0
    for trial in range(20):
        n = int(rng.choice([3, 10, 30]))
        cov = random_cov(rng, n)
        b = rng.uniform(0.05, 1.0, n) if trial % 2 else np.full(n, 1.0 / n)
        b /= b.sum()
        theirs = np.asarray(rpp.vanilla.design(cov, b, 1e-12, 10_000)).ravel()
        ours = solve_risk_budget(cov, b)
        assert ours.converged and ours.max_relative_error <= 1e-10
        if relative_rc_error(cov, theirs, b) > 1e-9:
            continue  # riskparityportfolio stopped short: nothing to compare
        compared += 1
        np.testing.assert_allclose(ours.weights, theirs, rtol=1e-7)
    assert compared >= 15
