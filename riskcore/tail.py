"""Value at Risk and expected shortfall without the normal assumption.

Four estimates of a portfolio's one-period VaR and ES from its return history, side by side
(:func:`tail_risk_table`), so a user sees how much the normal figures understate fat tails:

- **historical** simulation: the empirical quantile and tail mean of the window's returns,
  exactly :func:`riskcore.metrics.value_at_risk` and :func:`riskcore.metrics.expected_shortfall`
  (one formula, one place);
- **filtered historical** simulation (Barone-Adesi, Giannopoulos & Vosper 1999; Hull & White
  1998): each return is divided by its EWMA volatility forecast and multiplied by
  tomorrow's forecast, then the historical estimator is applied (:func:`filtered_returns`);
- **Cornish-Fisher** (modified) VaR and ES from the sample mean, volatility, skewness and
  excess kurtosis (Zangari 1996; Boudt, Peterson & Croux 2008) (:func:`cornish_fisher_var_es`);
- **normal** VaR and ES from the sample mean and volatility, for comparison.

Conventions, as in :mod:`riskcore.metrics`: returns are simple returns, decimal per period;
VaR and ES are POSITIVE loss decimals per period (0.05 = a 5% loss); ``level`` is the
confidence level (0.95), ``1 - level`` the tail probability. The parametric methods use the
sample mean ``mu``, the sample volatility ``sigma`` (ddof=1) and the moment-ratio skewness
``S = m3 / m2**1.5`` and excess kurtosis ``K = m4 / m2**2 - 3`` (central moments ``m_j`` with
divisor ``n``, as ``scipy.stats.skew``/``kurtosis`` with ``bias=True``), so that the
Cornish-Fisher figures equal the normal ones exactly when ``S = K = 0``.

References
----------
G. Barone-Adesi, K. Giannopoulos, L. Vosper (1999), "VaR without correlations for portfolios
of derivative securities", Journal of Futures Markets 19(5), 583-602.
J. Hull, A. White (1998), "Incorporating volatility updating into the historical simulation
method for value-at-risk", Journal of Risk 1(1), 5-19.
P. Zangari (1996), "A VaR methodology for portfolios that include options", RiskMetrics
Monitor, First Quarter, 4-12.
K. Boudt, B. Peterson, C. Croux (2008), "Estimation and decomposition of downside risk for
portfolios with non-normal returns", Journal of Risk 11(2), 79-103.
J.P. Morgan/Reuters (1996), *RiskMetrics - Technical Document*, 4th ed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from riskcore.errors import DataError, RiskcoreError
from riskcore.metrics import expected_shortfall, value_at_risk

__all__ = [
    "TAIL_METHODS",
    "RISKMETRICS_LAMBDA",
    "CornishFisher",
    "cornish_fisher_var_es",
    "ewma_half_life",
    "ewma_variance",
    "filtered_returns",
    "normal_var_es",
    "tail_risk_table",
    "var_es",
]

#: Methods of :func:`var_es` and :func:`tail_risk_table`, in display order.
TAIL_METHODS: tuple[str, ...] = ("historical", "filtered historical", "cornish-fisher", "normal")

# The standard normal distribution (pure Python: microseconds per call, where scipy.stats
# costs tens, which matters in the rolling VaR backtest).
_NORMAL = NormalDist()

#: RiskMetrics' daily decay factor (J.P. Morgan/Reuters 1996), a half-life of 11.2 periods.
RISKMETRICS_LAMBDA = 0.94


# --------------------------------------------------------------------------- validation


def check_level(level: float) -> float:
    """Return ``level`` as a float, or raise if it is not strictly between 0 and 1.

    Raises
    ------
    RiskcoreError
        If ``level`` is not a number strictly between 0 and 1.
    """
    try:
        value = float(level)
    except (TypeError, ValueError):
        raise RiskcoreError(f"confidence level is {level!r}; it must be a number") from None
    if not 0.0 < value < 1.0:
        raise RiskcoreError(f"confidence level is {level}; it must lie strictly between 0 and 1")
    return value


def portfolio_series(returns: pd.Series | np.ndarray, *, minimum: int = 2) -> np.ndarray:
    """Portfolio returns as a finite 1-D float array (NaN refused, not dropped).

    Raises
    ------
    DataError
        If the returns are not 1-D, hold a NaN or infinite value (naming its position or
        date), or are fewer than ``minimum``.
    """
    values = np.asarray(returns, dtype=float)
    if values.ndim != 1:
        raise DataError(f"portfolio returns must be 1-D (n_periods,); got shape {values.shape}")
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        where = getattr(returns, "index", None)
        at = where[bad[0]] if where is not None else f"position {bad[0]}"
        raise DataError(
            f"portfolio return at {at} is {values[bad[0]]}; every return must be finite "
            "(choose a window where every held asset has prices)"
        )
    if values.size < minimum:
        raise DataError(f"{values.size} portfolio return(s); at least {minimum} are needed")
    return values


def tail_size(n_observations: int, level: float) -> int:
    """Return the number of tail scenarios of the historical expected shortfall.

    ``k = floor((n - 1) * (1 - level)) + 1``, the tail that
    :func:`riskcore.metrics.expected_shortfall` averages over.
    """
    return int((n_observations - 1) * (1.0 - level)) + 1


# --------------------------------------------------------------------------- normal, CF


def _moments(x: np.ndarray) -> tuple[float, float, float, float]:
    """Mean, volatility (ddof=1), moment-ratio skewness and excess kurtosis."""
    n = x.size
    mu = float(x.mean())
    c = x - mu
    m2 = float(np.mean(c * c))
    if m2 <= 0:
        return mu, 0.0, 0.0, 0.0
    m3 = float(np.mean(c**3))
    m4 = float(np.mean(c**4))
    return mu, math.sqrt(m2 * n / (n - 1)), m3 / m2**1.5, m4 / m2**2 - 3.0


def normal_var_es(
    returns: pd.Series | np.ndarray, *, level: float = 0.95
) -> tuple[float, float]:
    r"""Compute normal (Gaussian) VaR and ES with the sample mean and volatility.

    ``VaR = -(mu + sigma z)``, ``ES = -mu + sigma phi(z) / (1 - level)`` with
    ``z = Phi^{-1}(1 - level)`` (negative) and ``sigma`` the sample standard deviation
    (ddof=1). Unlike :func:`riskcore.stress.stress_test`, which scales an annualized
    covariance with zero mean, this uses the window's own mean return.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    tuple of float
        ``(VaR, ES)``, positive loss decimals per period.

    Raises
    ------
    RiskcoreError
        If ``level`` is not strictly between 0 and 1.
    DataError
        If a return is NaN/infinite or there are fewer than 2.

    References
    ----------
    C. Acerbi, D. Tasche (2002), "On the coherence of expected shortfall", Journal of Banking
    & Finance 26(7) (the normal ES ``sigma phi(z) / (1 - level)``).
    """
    lvl = check_level(level)
    mu, sigma, _, _ = _moments(portfolio_series(returns))
    z = float(_NORMAL.inv_cdf(1.0 - lvl))
    return -(mu + sigma * z), -mu + sigma * float(_NORMAL.pdf(z)) / (1.0 - lvl)


@dataclass(frozen=True)
class CornishFisher:
    """Cornish-Fisher (modified) VaR and ES of one return series.

    Attributes
    ----------
    value_at_risk, expected_shortfall : float
        Positive loss decimals per period.
    mean, volatility : float
        Sample mean and standard deviation (ddof=1), decimal per period.
    skewness, excess_kurtosis : float
        Moment-ratio estimates ``m3 / m2**1.5`` and ``m4 / m2**2 - 3``.
    z : float
        Standard normal quantile ``Phi^{-1}(1 - level)`` (negative).
    z_cornish_fisher : float
        The Cornish-Fisher adjusted quantile.
    monotone : bool
        Whether the Cornish-Fisher transform is increasing on ``[-4, 4]``; when False the
        (S, K) pair lies outside the expansion's domain of validity (Maillard 2012).
    valid : bool
        ``monotone`` and ``expected_shortfall >= value_at_risk``. When False the figures
        should not be trusted: crypto daily returns (excess kurtosis often above 10) fall
        there regularly, the Edgeworth density turns negative and ES can come out below
        VaR or even negative.
    """

    value_at_risk: float
    expected_shortfall: float
    mean: float
    volatility: float
    skewness: float
    excess_kurtosis: float
    z: float
    z_cornish_fisher: float
    monotone: bool
    valid: bool


def cf_quantile(z: float | np.ndarray, skew: float, kurt: float) -> float | np.ndarray:
    """Cornish-Fisher quantile ``z + (z²-1)S/6 + (z³-3z)K/24 - (2z³-5z)S²/36``."""
    return (
        z
        + (z * z - 1.0) * skew / 6.0
        + (z**3 - 3.0 * z) * kurt / 24.0
        - (2.0 * z**3 - 5.0 * z) * skew * skew / 36.0
    )


def _partial_moments(g: float) -> np.ndarray:
    """``J_q = int_{-inf}^g u^q phi(u) du`` for q = 0..7 (J_q = -g^{q-1} phi + (q-1) J_{q-2})."""
    phi = float(_NORMAL.pdf(g))
    j = np.empty(8)
    j[0] = float(_NORMAL.cdf(g))
    j[1] = -phi
    for q in range(2, 8):
        j[q] = -(g ** (q - 1)) * phi + (q - 1) * j[q - 2]
    return j


def cf_tail_mean(p: float, skew: float, kurt: float) -> tuple[float, float, float, float]:
    r"""Standardized Cornish-Fisher quantile and tail mean, with their S and K derivatives.

    ``g`` is the Cornish-Fisher quantile at probability ``p``; ``e`` the mean of the
    second-order Edgeworth density below ``g`` (Boudt, Peterson & Croux 2008, eq. 8):
    ``e = (1/p) [J1 + S/6 (J4 - 3J2) + K/24 (J5 - 6J3 + 3J1) + S²/72 (J7 - 15J5 + 45J3 -
    15J1)]``, ``J_q`` the partial moments of the standard normal up to ``g``. With
    ``S = K = 0``, ``e = -phi(z)/p``, the normal tail mean.

    Returns
    -------
    tuple of float
        ``(g, e, de/dS, de/dK)``.
    """
    z = float(_NORMAL.inv_cdf(p))
    g = float(cf_quantile(z, skew, kurt))
    j = _partial_moments(g)
    a3 = j[4] - 3 * j[2]
    a4 = j[5] - 6 * j[3] + 3 * j[1]
    a6 = j[7] - 15 * j[5] + 45 * j[3] - 15 * j[1]
    e = (j[1] + skew / 6 * a3 + kurt / 24 * a4 + skew * skew / 72 * a6) / p
    # d/dg of the bracket: g times the Edgeworth density at g
    he3, he4, he6 = g**3 - 3 * g, g**4 - 6 * g**2 + 3, g**6 - 15 * g**4 + 45 * g**2 - 15
    dens = float(_NORMAL.pdf(g)) * (1 + skew / 6 * he3 + kurt / 24 * he4 + skew**2 / 72 * he6)
    dg_ds = (z * z - 1) / 6 - (2 * z**3 - 5 * z) * skew / 18
    dg_dk = (z**3 - 3 * z) / 24
    de_ds = (a3 / 6 + skew / 36 * a6 + g * dens * dg_ds) / p
    de_dk = (a4 / 24 + g * dens * dg_dk) / p
    return g, e, de_ds, de_dk


def cornish_fisher_var_es(
    returns: pd.Series | np.ndarray, *, level: float = 0.95
) -> CornishFisher:
    r"""Cornish-Fisher (modified) VaR and ES from the sample's first four moments.

    ``VaR = -(mu + sigma g)`` with the Cornish-Fisher quantile
    ``g = z + (z²-1)S/6 + (z³-3z)K/24 - (2z³-5z)S²/36``, ``z = Phi^{-1}(1 - level)``;
    ``ES = -(mu + sigma e)`` with ``e`` the tail mean of the Edgeworth density below ``g``
    (Boudt, Peterson & Croux 2008). ``mu``, ``sigma`` (ddof=1), ``S``, ``K`` as in the module
    notes. The expansion is valid only for moderate skewness and kurtosis; ``valid``
    reports whether it is (the figures are returned either way).

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    CornishFisher

    Raises
    ------
    RiskcoreError
        If ``level`` is not strictly between 0 and 1.
    DataError
        If a return is NaN/infinite or there are fewer than 4.

    References
    ----------
    P. Zangari (1996), RiskMetrics Monitor Q1, 4-12 (modified VaR).
    K. Boudt, B. Peterson, C. Croux (2008), Journal of Risk 11(2), 79-103 (modified ES).
    S. Maillard (2012), "A user's guide to the Cornish Fisher expansion", SSRN 1997178.
    """
    lvl = check_level(level)
    x = portfolio_series(returns, minimum=4)
    mu, sigma, skew, kurt = _moments(x)
    p = 1.0 - lvl
    g, e, _, _ = cf_tail_mean(p, skew, kurt)
    grid = np.linspace(-4.0, 4.0, 161)
    monotone = bool(np.all(np.diff(cf_quantile(grid, skew, kurt)) > 0))
    var, es = -(mu + sigma * g), -(mu + sigma * e)
    return CornishFisher(
        value_at_risk=var,
        expected_shortfall=es,
        mean=mu,
        volatility=sigma,
        skewness=skew,
        excess_kurtosis=kurt,
        z=float(_NORMAL.inv_cdf(p)),
        z_cornish_fisher=g,
        monotone=monotone,
        valid=monotone and es >= var,
    )


# --------------------------------------------------------------------------- filtered HS


def ewma_half_life(
    *, half_life: float | None = None, ewma_lambda: float | None = None
) -> float:
    """Half-life in periods from a half-life or a RiskMetrics decay factor (default 0.94).

    ``half_life = ln(0.5) / ln(lambda)``; lambda 0.94 gives 11.2 periods.

    Raises
    ------
    RiskcoreError
        If both are given, ``half_life`` is not > 0, or ``ewma_lambda`` not in (0, 1).
    """
    if half_life is not None and ewma_lambda is not None:
        raise RiskcoreError(
            f"give half_life ({half_life}) or ewma_lambda ({ewma_lambda}), not both"
        )
    if half_life is not None:
        if not (np.isfinite(half_life) and half_life > 0):
            raise RiskcoreError(f"half_life is {half_life}; it must be > 0 periods")
        return float(half_life)
    lam = RISKMETRICS_LAMBDA if ewma_lambda is None else ewma_lambda
    if not (np.isfinite(lam) and 0 < lam < 1):
        raise RiskcoreError(f"ewma_lambda is {lam}; it must lie strictly between 0 and 1")
    return math.log(0.5) / math.log(lam)


def filtered_returns(
    returns: pd.Series | np.ndarray,
    *,
    half_life: float | None = None,
    ewma_lambda: float | None = None,
) -> np.ndarray:
    r"""Volatility-rescaled returns for filtered historical simulation.

    ``r*_t = r_t * sigma_{T+1} / sigma_t``, where ``sigma_t`` is the EWMA volatility
    forecast for period ``t`` made at ``t - 1`` and ``sigma_{T+1}`` the forecast for the
    period after the window (Hull & White 1998; Barone-Adesi et al. 1999 with a RiskMetrics
    filter instead of GARCH). The variance follows the zero-mean RiskMetrics recursion of
    :func:`riskcore.estimators.ewma_volatility` (:func:`ewma_variance`), seeded with the
    window's mean squared return (so the first returns are not divided by a one-observation
    estimate).

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite.
    half_life : float, optional
        EWMA half-life in periods.
    ewma_lambda : float, optional
        RiskMetrics decay factor instead of a half-life; default 0.94 when neither is given.

    Returns
    -------
    numpy.ndarray of shape (n_periods,)
        Rescaled returns, decimal per period, in the window's order.

    Raises
    ------
    RiskcoreError
        If both ``half_life`` and ``ewma_lambda`` are given or either is out of range.
    DataError
        If a return is NaN/infinite or there are fewer than 2, or every return is 0.

    References
    ----------
    J. Hull, A. White (1998), Journal of Risk 1(1), 5-19.
    G. Barone-Adesi, K. Giannopoulos, L. Vosper (1999), Journal of Futures Markets 19(5).
    """
    hl = ewma_half_life(half_life=half_life, ewma_lambda=ewma_lambda)
    r = portfolio_series(returns)
    r2 = r * r
    seed = float(np.mean(r2))
    if seed == 0:
        raise DataError("every portfolio return is 0; there is no volatility to filter")
    var = ewma_variance(r2, hl, seed)
    # var[t] includes r[t]: the forecast for t + 1; the forecast for t is var[t - 1]
    before = np.concatenate([[seed], var[:-1]])
    return r * np.sqrt(var[-1] / before)


def ewma_variance(squared: np.ndarray, half_life: float, seed: float) -> np.ndarray:
    """RiskMetrics variance recursion ``s2_t = lam s2_{t-1} + (1 - lam) x_t`` from ``seed``.

    ``lam = 0.5 ** (1 / half_life)``; the same recursion as
    :func:`riskcore.estimators.ewma_volatility` (pandas ``ewm(adjust=False)``) with the
    state before the first observation set to ``seed`` (checked equal by a test), run by
    ``scipy.signal.lfilter`` because the rolling backtest calls it once per forecast.

    Returns
    -------
    numpy.ndarray of shape (n_periods,)
        Per-period variances, ``s2_t`` including ``x_t``.
    """
    lam = 0.5 ** (1.0 / half_life)
    out, _ = lfilter([1.0 - lam], [1.0, -lam], squared, zi=[lam * seed])
    return out


# --------------------------------------------------------------------------- one entry


def var_es(
    returns: pd.Series | np.ndarray,
    *,
    method: str = "historical",
    level: float = 0.95,
    half_life: float | None = None,
    ewma_lambda: float | None = None,
) -> tuple[float, float]:
    """One-period VaR and ES of a portfolio's returns by one of :data:`TAIL_METHODS`.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Portfolio simple returns, decimal per period, all finite.
    method : {"historical", "filtered historical", "cornish-fisher", "normal"}
        See the module notes.
    level : float, default 0.95
        Confidence level.
    half_life, ewma_lambda : float, optional
        EWMA filter of ``"filtered historical"`` (default lambda 0.94); ignored otherwise.

    Returns
    -------
    tuple of float
        ``(VaR, ES)``, positive loss decimals per period.

    Raises
    ------
    RiskcoreError
        If ``method`` is unknown (allowed values listed) or ``level`` out of range.
    DataError
        If a return is NaN/infinite or there are too few (2; 4 for Cornish-Fisher).
    """
    lvl = check_level(level)
    if method == "historical":
        r = portfolio_series(returns)
        return value_at_risk(r, level=lvl), expected_shortfall(r, level=lvl)
    if method == "filtered historical":
        r = filtered_returns(returns, half_life=half_life, ewma_lambda=ewma_lambda)
        return value_at_risk(r, level=lvl), expected_shortfall(r, level=lvl)
    if method == "cornish-fisher":
        cf = cornish_fisher_var_es(returns, level=lvl)
        return cf.value_at_risk, cf.expected_shortfall
    if method == "normal":
        return normal_var_es(returns, level=lvl)
    raise RiskcoreError(f"tail method is {method!r}; allowed: {', '.join(TAIL_METHODS)}")


def tail_risk_table(
    returns: pd.Series | np.ndarray,
    *,
    levels: tuple[float, ...] = (0.95, 0.99),
    half_life: float | None = None,
    ewma_lambda: float | None = None,
    min_tail_scenarios: int = 20,
) -> pd.DataFrame:
    """VaR and ES of a portfolio by every method of :data:`TAIL_METHODS` at several levels.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Portfolio simple returns over the analysis window, decimal per period, all finite
        (at least 4).
    levels : tuple of float, default (0.95, 0.99)
        Confidence levels.
    half_life, ewma_lambda : float, optional
        EWMA filter of the filtered historical simulation (default RiskMetrics lambda 0.94).
    min_tail_scenarios : int, default 20
        Below this many tail scenarios (``floor((n - 1)(1 - level)) + 1``) the historical
        rows carry a note that the estimate rests on too few observations.

    Returns
    -------
    pandas.DataFrame
        One row per (method, level), in :data:`TAIL_METHODS` order then level order, with
        columns ``method``, ``level``, ``value_at_risk``, ``expected_shortfall`` (positive
        loss decimals per period), ``tail_scenarios`` (historical methods; NaN for the
        parametric ones) and ``note`` (empty string, or why the row should be read with
        care: too few tail scenarios, Cornish-Fisher outside its domain of validity).

    Raises
    ------
    RiskcoreError
        If a level is not strictly between 0 and 1 or the EWMA parameters are invalid.
    DataError
        If a return is NaN/infinite or there are fewer than 4.

    References
    ----------
    See the module references.
    """
    r = portfolio_series(returns, minimum=4)
    filtered = filtered_returns(r, half_life=half_life, ewma_lambda=ewma_lambda)
    rows = []
    for method in TAIL_METHODS:
        for level in levels:
            lvl = check_level(level)
            note = ""
            k = float("nan")
            if method in ("historical", "filtered historical"):
                src = r if method == "historical" else filtered
                var, es = value_at_risk(src, level=lvl), expected_shortfall(src, level=lvl)
                k = tail_size(r.size, lvl)
                if k < min_tail_scenarios:
                    note = (
                        f"only {k} tail scenarios (fewer than {min_tail_scenarios}); "
                        "use a longer window or a lower level"
                    )
            elif method == "cornish-fisher":
                cf = cornish_fisher_var_es(r, level=lvl)
                var, es = cf.value_at_risk, cf.expected_shortfall
                if not cf.valid:
                    note = (
                        f"skewness {cf.skewness:.2f} and excess kurtosis "
                        f"{cf.excess_kurtosis:.2f} lie outside the Cornish-Fisher domain "
                        "of validity (Maillard 2012); do not rely on this row"
                    )
            else:
                var, es = normal_var_es(r, level=lvl)
            rows.append(
                {
                    "method": method,
                    "level": lvl,
                    "value_at_risk": var,
                    "expected_shortfall": es,
                    "tail_scenarios": k,
                    "note": note,
                }
            )
    return pd.DataFrame(rows)
