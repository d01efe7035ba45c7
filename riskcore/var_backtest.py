"""VaR backtest: rolling one-step-ahead forecasts, exceedances, Kupiec and Christoffersen tests.

For each period ``t`` after the first ``window`` returns, the VaR of period ``t`` is forecast
from the ``window`` returns before it (no look-ahead) by one of the methods of
:func:`riskcore.tail.var_es`; an *exceedance* (hit) is a return below ``-VaR_t``. A correct
VaR at confidence ``level`` has hits that are independent Bernoulli draws with probability
``p = 1 - level``. Three likelihood-ratio tests check this:

- Kupiec's (1995) proportion-of-failures test of unconditional coverage:
  ``LR_uc = -2 ln[(1 - p)^(n - x) p^x] + 2 ln[(1 - x/n)^(n - x) (x/n)^x]``, ``x`` hits in ``n``
  forecasts, chi-square with 1 degree of freedom;
- Christoffersen's (1998) independence test against a first-order Markov chain of hits:
  ``LR_ind = -2 ln[(1 - pi)^(n00 + n10) pi^(n01 + n11)]
  + 2 ln[(1 - pi01)^n00 pi01^n01 (1 - pi11)^n10 pi11^n11]``, ``n_ij`` the number of days in
  state ``i`` followed by state ``j``, ``pi01 = n01 / (n00 + n01)``,
  ``pi11 = n11 / (n10 + n11)``, ``pi = (n01 + n11) / (n00 + n01 + n10 + n11)``; chi-square(1);
- conditional coverage ``LR_cc = LR_uc + LR_ind``, chi-square(2).

``0 ln 0`` is taken as 0. p-values are ``scipy.stats.chi2.sf``; a small p-value (below 0.05)
means the data reject the VaR model.

References
----------
P. Kupiec (1995), "Techniques for verifying the accuracy of risk measurement models",
Journal of Derivatives 3(2), 73-84.
P. Christoffersen (1998), "Evaluating interval forecasts", International Economic Review
39(4), 841-862.
MathWorks, Risk Management Toolbox documentation, ``varbacktest`` functions ``pof``, ``cci``
and ``cc`` (worked example on ``VaRBacktestData``: 1043 observations, 57 failures of a 95%
VaR; the statistics agree to the printed 5 decimals, see
``tests/unit/test_tail_var_backtest.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2

from riskcore.errors import DataError, RiskcoreError
from riskcore.tail import TAIL_METHODS, check_level, portfolio_series, var_es

__all__ = [
    "CoverageTest",
    "VarBacktest",
    "christoffersen_test",
    "kupiec_test",
    "rolling_var",
    "var_backtest",
    "var_backtest_table",
]


def _xlogy(x: float, y: float) -> float:
    """``x ln y`` with ``0 ln 0 = 0``."""
    return 0.0 if x == 0 else x * float(np.log(y))


@dataclass(frozen=True)
class CoverageTest:
    """A likelihood-ratio statistic with its chi-square p-value.

    Attributes
    ----------
    statistic : float
        Likelihood-ratio statistic (>= 0); NaN when the test is undefined.
    p_value : float
        ``chi2.sf(statistic, degrees_of_freedom)``; NaN when undefined.
    degrees_of_freedom : int
    """

    statistic: float
    p_value: float
    degrees_of_freedom: int


def _lr(statistic: float, dof: int) -> CoverageTest:
    stat = max(float(statistic), 0.0)  # rounding can give -1e-15
    return CoverageTest(stat, float(chi2.sf(stat, dof)), dof)


def kupiec_test(exceedances: int, observations: int, *, level: float = 0.95) -> CoverageTest:
    """Kupiec's proportion-of-failures (unconditional coverage) test.

    Parameters
    ----------
    exceedances : int
        Number of VaR exceedances ``x`` (0 <= x <= n).
    observations : int
        Number of forecasts ``n`` (> 0).
    level : float, default 0.95
        VaR confidence level; the expected exceedance rate is ``1 - level``.

    Returns
    -------
    CoverageTest
        ``LR_uc``, chi-square with 1 degree of freedom.

    Raises
    ------
    RiskcoreError
        If ``level`` is out of range, ``observations < 1`` or ``exceedances`` outside
        ``[0, observations]``.

    References
    ----------
    P. Kupiec (1995), Journal of Derivatives 3(2), 73-84.
    """
    p = 1.0 - check_level(level)
    n, x = int(observations), int(exceedances)
    if n < 1 or not 0 <= x <= n:
        raise RiskcoreError(
            f"{x} exceedances in {n} observations; need observations >= 1 and "
            "0 <= exceedances <= observations"
        )
    rate = x / n
    stat = -2.0 * (_xlogy(n - x, 1 - p) + _xlogy(x, p) - _xlogy(n - x, 1 - rate)
                   - _xlogy(x, rate))
    return _lr(stat, 1)


def christoffersen_test(hits: pd.Series | np.ndarray) -> tuple[CoverageTest, np.ndarray]:
    """Christoffersen's independence test of a sequence of VaR exceedances.

    Parameters
    ----------
    hits : pandas.Series or numpy.ndarray of shape (n_forecasts,)
        1 (or True) where the loss exceeded the VaR, 0 elsewhere, in time order.

    Returns
    -------
    tuple
        ``(CoverageTest, transitions)``: ``LR_ind`` with 1 degree of freedom, and the
        transition counts as a 2x2 integer array ``[[n00, n01], [n10, n11]]``. The test is
        NaN when no transition leaves one of the states it needs (no hit, or only hits).

    Raises
    ------
    DataError
        If ``hits`` holds values other than 0 and 1, or fewer than 2 entries.

    References
    ----------
    P. Christoffersen (1998), International Economic Review 39(4), 841-862.
    """
    h = np.asarray(hits)
    if h.ndim != 1 or h.size < 2:
        raise DataError(f"hits must be a sequence of at least 2 values; got shape {h.shape}")
    if not np.isin(h, (0, 1)).all():
        raise DataError("hits must be 0/1 (or False/True): 1 where the loss exceeded the VaR")
    h = h.astype(int)
    counts = np.zeros((2, 2), dtype=int)
    np.add.at(counts, (h[:-1], h[1:]), 1)
    (n00, n01), (n10, n11) = counts
    total_hits = n01 + n11
    if total_hits == 0 or n00 + n10 == 0:
        return CoverageTest(float("nan"), float("nan"), 1), counts
    pi = total_hits / counts.sum()
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    restricted = _xlogy(n00 + n10, 1 - pi) + _xlogy(total_hits, pi)
    markov = (_xlogy(n00, 1 - pi01) + _xlogy(n01, pi01) + _xlogy(n10, 1 - pi11)
              + _xlogy(n11, pi11))
    return _lr(-2.0 * (restricted - markov), 1), counts


def rolling_var(
    returns: pd.Series,
    *,
    method: str = "historical",
    level: float = 0.95,
    window: int = 365,
    half_life: float | None = None,
    ewma_lambda: float | None = None,
) -> pd.DataFrame:
    """One-step-ahead VaR forecasts over a rolling window, with the realized returns.

    Parameters
    ----------
    returns : pandas.Series of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite, in time order.
    method : {"historical", "filtered historical", "cornish-fisher", "normal"}
        VaR method (:func:`riskcore.tail.var_es`).
    level : float, default 0.95
        Confidence level.
    window : int, default 365
        Returns used for each forecast (the ``window`` periods before the forecast period).
    half_life, ewma_lambda : float, optional
        EWMA filter of ``"filtered historical"``.

    Returns
    -------
    pandas.DataFrame of shape (n_periods - window, 3)
        Indexed like the forecast periods; columns ``return`` (realized),
        ``value_at_risk`` (forecast, positive loss decimal) and ``exceedance`` (bool,
        ``return < -value_at_risk``).

    Raises
    ------
    RiskcoreError
        If ``method`` or ``level`` is invalid.
    DataError
        If a return is not finite, ``window`` < 4 (30 for the historical methods), or there
        are not more returns than ``window``.
    """
    r = portfolio_series(returns)
    if method not in TAIL_METHODS:
        raise RiskcoreError(f"tail method is {method!r}; allowed: {', '.join(TAIL_METHODS)}")
    minimum = 30 if "historical" in method else 4
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < minimum:
        raise DataError(f"window is {window!r}; it must be an integer >= {minimum}")
    if r.size <= window:
        raise DataError(
            f"{r.size} returns leave no forecast after a window of {window}; shorten the "
            "window or lengthen the data"
        )
    var = np.array([
        var_es(r[t - window:t], method=method, level=level, half_life=half_life,
               ewma_lambda=ewma_lambda)[0]
        for t in range(window, r.size)
    ])
    index = getattr(returns, "index", pd.RangeIndex(r.size))[window:]
    realized = r[window:]
    return pd.DataFrame(
        {"return": realized, "value_at_risk": var, "exceedance": realized < -var}, index=index
    )


@dataclass(frozen=True, eq=False)
class VarBacktest:
    """Outcome of :func:`var_backtest` for one VaR method.

    Attributes
    ----------
    method : str
    level : float
    window : int
        Returns behind each forecast.
    forecasts : pandas.DataFrame
        :func:`rolling_var` output (``return``, ``value_at_risk``, ``exceedance``).
    n_forecasts : int
    exceedances : int
    expected_exceedances : float
        ``n_forecasts * (1 - level)``.
    exceedance_rate : float
        ``exceedances / n_forecasts``.
    kupiec : CoverageTest
        Unconditional coverage, chi-square(1).
    independence : CoverageTest
        Christoffersen's independence test, chi-square(1).
    conditional_coverage : CoverageTest
        ``LR_uc + LR_ind``, chi-square(2); NaN when the independence test is.
    transitions : numpy.ndarray of shape (2, 2)
        ``[[n00, n01], [n10, n11]]``.
    """

    method: str
    level: float
    window: int
    forecasts: pd.DataFrame
    n_forecasts: int
    exceedances: int
    expected_exceedances: float
    exceedance_rate: float
    kupiec: CoverageTest
    independence: CoverageTest
    conditional_coverage: CoverageTest
    transitions: np.ndarray


def var_backtest(
    returns: pd.Series,
    *,
    method: str = "historical",
    level: float = 0.95,
    window: int = 365,
    half_life: float | None = None,
    ewma_lambda: float | None = None,
) -> VarBacktest:
    """Backtest a rolling one-step-ahead VaR: exceedances, Kupiec and Christoffersen tests.

    Parameters
    ----------
    returns : pandas.Series of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite, in time order.
    method : {"historical", "filtered historical", "cornish-fisher", "normal"}
        VaR method (:func:`riskcore.tail.var_es`).
    level : float, default 0.95
        Confidence level.
    window : int, default 365
        Returns behind each forecast.
    half_life, ewma_lambda : float, optional
        EWMA filter of ``"filtered historical"`` (default RiskMetrics lambda 0.94).

    Returns
    -------
    VarBacktest

    Raises
    ------
    RiskcoreError
        If ``method`` or ``level`` is invalid.
    DataError
        As :func:`rolling_var`.

    References
    ----------
    P. Kupiec (1995); P. Christoffersen (1998).
    """
    lvl = check_level(level)
    table = rolling_var(returns, method=method, level=lvl, window=window, half_life=half_life,
                        ewma_lambda=ewma_lambda)
    hits = table["exceedance"].to_numpy()
    n, x = hits.size, int(hits.sum())
    uc = kupiec_test(x, n, level=lvl)
    if n >= 2:
        ind, counts = christoffersen_test(hits)
    else:
        ind, counts = CoverageTest(float("nan"), float("nan"), 1), np.zeros((2, 2), int)
    cc = (_lr(uc.statistic + ind.statistic, 2) if np.isfinite(ind.statistic)
          else CoverageTest(float("nan"), float("nan"), 2))
    return VarBacktest(
        method=method,
        level=lvl,
        window=int(window),
        forecasts=table,
        n_forecasts=n,
        exceedances=x,
        expected_exceedances=n * (1.0 - lvl),
        exceedance_rate=x / n,
        kupiec=uc,
        independence=ind,
        conditional_coverage=cc,
        transitions=counts,
    )


def var_backtest_table(
    returns: pd.Series,
    *,
    methods: tuple[str, ...] = TAIL_METHODS,
    level: float = 0.95,
    window: int = 365,
    half_life: float | None = None,
    ewma_lambda: float | None = None,
) -> pd.DataFrame:
    """Backtest several VaR methods on the same returns; one row per method.

    Parameters
    ----------
    returns : pandas.Series of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite, in time order.
    methods : tuple of str, default all of :data:`riskcore.tail.TAIL_METHODS`
    level : float, default 0.95
    window : int, default 365
    half_life, ewma_lambda : float, optional
        EWMA filter of ``"filtered historical"``.

    Returns
    -------
    pandas.DataFrame
        Indexed by method; columns ``forecasts``, ``exceedances``, ``expected``,
        ``rate``, ``kupiec_lr``, ``kupiec_p``, ``independence_lr``, ``independence_p``,
        ``conditional_coverage_lr``, ``conditional_coverage_p``.

    Raises
    ------
    RiskcoreError
        If a method or ``level`` is invalid.
    DataError
        As :func:`rolling_var`.
    """
    rows = {}
    for method in methods:
        bt = var_backtest(returns, method=method, level=level, window=window,
                          half_life=half_life, ewma_lambda=ewma_lambda)
        rows[method] = {
            "forecasts": bt.n_forecasts,
            "exceedances": bt.exceedances,
            "expected": bt.expected_exceedances,
            "rate": bt.exceedance_rate,
            "kupiec_lr": bt.kupiec.statistic,
            "kupiec_p": bt.kupiec.p_value,
            "independence_lr": bt.independence.statistic,
            "independence_p": bt.independence.p_value,
            "conditional_coverage_lr": bt.conditional_coverage.statistic,
            "conditional_coverage_p": bt.conditional_coverage.p_value,
        }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("method")
