"""Estimators: returns, volatility, covariance and correlation of a price panel.

Units: returns are decimals per period; volatilities and covariances are annualized with
``periods_per_year`` (365 for 24/7 crypto, 252 for weekday-only daily data; see
:func:`riskcore.periods.infer_periods_per_year`): a per-period variance is multiplied by
``periods_per_year`` and a per-period standard deviation by its square root.

Missing data is never filled: an asset that has not listed yet has NaN returns, and every
estimator says which observations it used (the common window of the selected assets, or
pairwise-complete observations when asked).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from riskcore.errors import ConvergenceError, DataError, ParameterError

__all__ = [
    "COVARIANCE_METHODS",
    "CovarianceEstimate",
    "average_correlation",
    "cluster_order",
    "correlation_from_covariance",
    "covariance",
    "estimate_covariance",
    "ewma_volatility",
    "nearest_correlation",
    "rolling_correlation",
    "rolling_volatility",
    "to_returns",
]

#: Covariance estimators accepted by :func:`estimate_covariance`.
COVARIANCE_METHODS: tuple[str, ...] = ("sample", "ewma", "ledoit_wolf", "oas")
#: Linkage methods accepted by :func:`cluster_order`.
LINKAGE_METHODS: tuple[str, ...] = ("average", "single", "complete", "ward")
#: Condition number above which a covariance matrix is reported as near-singular.
NEAR_SINGULAR_CONDITION = 1e10
_PAIR_BLOCK_CELLS = 4_000_000  # rolling pair statistics are computed in blocks of this size


# --------------------------------------------------------------------------- validation


def _check_frame(data: object, what: str) -> pd.DataFrame:
    if not isinstance(data, pd.DataFrame):
        raise DataError(f"{what} must be a pandas DataFrame (one column per asset), "
                        f"not {type(data).__name__}")
    if data.shape[1] == 0:
        raise DataError(f"{what} have no columns; need at least one asset")
    if not data.columns.is_unique:
        dupes = sorted({str(c) for c in data.columns[data.columns.duplicated()]})
        raise DataError(f"{what} have duplicate asset columns: {', '.join(dupes)}")
    for name in data.columns:
        if not pd.api.types.is_numeric_dtype(data[name]) or pd.api.types.is_bool_dtype(
            data[name]
        ):
            raise DataError(f"{what} column {name} has dtype {data[name].dtype}; "
                            "it must be numeric (float)")
    values = data.to_numpy(dtype=float)
    if np.isinf(values).any():
        col = int(np.argwhere(np.isinf(values))[0, 1])
        name = data.columns[col]
        when = data.index[np.isinf(values[:, col])][0]
        raise DataError(f"{what} for {name} are infinite on {when}; values must be finite or NaN")
    return data


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ParameterError(f"{name} is {value!r}; it must be an integer >= {minimum}")
    return int(value)


def _check_positive(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not value > 0 \
            or not math.isfinite(float(value)):
        raise ParameterError(f"{name} is {value!r}; it must be a finite number > 0")
    return float(value)


def _periods_per_year(returns: pd.DataFrame, periods_per_year: float | None) -> float:
    """Return the given annualization, or infer it from the returns' time index."""
    if periods_per_year is not None:
        return _check_positive(periods_per_year, "periods_per_year")
    if not isinstance(returns.index, pd.DatetimeIndex):
        raise DataError("periods_per_year is required when the returns have no DatetimeIndex "
                        "(365 for 24/7 crypto, 252 for weekday-only data)")
    from riskcore.periods import infer_periods_per_year

    return float(infer_periods_per_year(returns.index))


def _check_asset(returns: pd.DataFrame, name: object) -> None:
    if name not in returns.columns:
        allowed = ", ".join(map(str, returns.columns))
        raise DataError(f"asset {name!r} is not in the returns; available: {allowed}")


def _check_square(matrix: object, what: str) -> pd.DataFrame:
    if not isinstance(matrix, pd.DataFrame):
        raise DataError(f"{what} must be a square pandas DataFrame labelled by asset, "
                        f"not {type(matrix).__name__}")
    if matrix.shape[0] != matrix.shape[1] or list(matrix.index) != list(matrix.columns):
        raise DataError(f"{what} of shape {matrix.shape} must be square with the same assets "
                        "in its index and columns, in the same order")
    if matrix.shape[0] == 0:
        raise DataError(f"{what} is empty; need at least one asset")
    return matrix


# --------------------------------------------------------------------------- returns


def to_returns(prices: pd.DataFrame) -> pd.DataFrame:
    """Compute simple returns of a price panel.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit) with a sorted time index; NaN where an asset has no price.

    Returns
    -------
    pandas.DataFrame of shape (n_periods - 1, n_assets)
        Simple returns ``p_t / p_{t-1} - 1``, decimal per period, same columns, indexed by the
        end of each period (the first timestamp, which has no return, is dropped). NaN where
        either price is missing: nothing is forward-filled, so a hole in the prices stays a
        hole in the returns.

    Raises
    ------
    DataError
        If ``prices`` is not a numeric DataFrame, has fewer than 2 rows, contains infinite
        values, or a price that is zero or negative (the message names the asset and date).

    References
    ----------
    Campbell, J. Y., Lo, A. W. & MacKinlay, A. C. (1997). The Econometrics of Financial
    Markets, chapter 1. Princeton University Press.
    """
    prices = _check_frame(prices, "prices")
    if len(prices) < 2:
        raise DataError(f"prices have {len(prices)} row(s); need at least 2 to compute returns")
    values = prices.to_numpy(dtype=float)
    bad = values <= 0
    if bad.any():
        col = int(np.argwhere(bad)[0, 1])
        row = int(np.argmax(bad[:, col]))
        raise DataError(f"price of {prices.columns[col]} on {prices.index[row]} is "
                        f"{values[row, col]:g}; prices must be > 0")
    with np.errstate(invalid="ignore"):
        simple = values[1:] / values[:-1] - 1.0
    return pd.DataFrame(simple, index=prices.index[1:], columns=prices.columns)


# --------------------------------------------------------------------------- volatility


def rolling_volatility(
    returns: pd.DataFrame,
    window: int,
    *,
    periods_per_year: float | None = None,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """Compute the rolling realized volatility of each asset, annualized.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period (NaN where missing).
    window : int
        Number of periods in each window, >= 2.
    periods_per_year : float, optional
        Periods per year used to annualize; default inferred from the returns' time index
        (:func:`riskcore.periods.infer_periods_per_year`: 365 for 24/7 daily data, 252 for
        weekday-only). Required when the index is not a DatetimeIndex.
    min_periods : int, optional
        Fewest non-missing returns a window needs (2 .. ``window``); default ``window``.
        Windows with fewer give NaN.

    Returns
    -------
    pandas.DataFrame of shape (n_periods, n_assets)
        Sample standard deviation (ddof 1) of each window times ``sqrt(periods_per_year)``:
        annualized volatility, decimal.

    Raises
    ------
    DataError
        If ``window`` < 2, ``min_periods`` is outside 2 .. ``window``, ``periods_per_year``
        is not positive, or ``returns`` is not a numeric DataFrame.

    References
    ----------
    Hull, J. C. (2018). Options, Futures, and Other Derivatives, 10th ed., section 15.4
    (estimating volatility from historical data). Pearson.
    """
    returns = _check_frame(returns, "returns")
    window = _check_int(window, "window", 2)
    ppy = _periods_per_year(returns, periods_per_year)
    if min_periods is None:
        min_periods = window
    min_periods = _check_int(min_periods, "min_periods", 2)
    if min_periods > window:
        raise DataError(f"min_periods is {min_periods}; it must be <= window ({window})")
    return returns.rolling(window, min_periods=min_periods).std() * math.sqrt(ppy)


def ewma_volatility(
    returns: pd.DataFrame,
    half_life: float,
    *,
    periods_per_year: float | None = None,
    min_periods: int | None = None,
) -> pd.DataFrame:
    """Compute the exponentially weighted (RiskMetrics) volatility of each asset, annualized.

    The per-period variance follows the RiskMetrics recursion with zero mean,
    ``s2_t = lam * s2_{t-1} + (1 - lam) * r_t**2`` with ``lam = 0.5 ** (1 / half_life)``,
    started at the asset's first squared return (pandas ``ewm(adjust=False)``).

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period (NaN where missing; the recursion skips them).
    half_life : float
        Half-life of the weights in periods, > 0 (RiskMetrics' daily lambda 0.94 is a
        half-life of about 11.2 periods).
    periods_per_year : float, optional
        Periods per year used to annualize; default inferred from the returns' time index
        (:func:`riskcore.periods.infer_periods_per_year`: 365 for 24/7 daily data, 252 for
        weekday-only). Required when the index is not a DatetimeIndex.
    min_periods : int, optional
        Fewest returns before the estimate is reported (earlier values are NaN);
        default ``max(2, ceil(half_life))``.

    Returns
    -------
    pandas.DataFrame of shape (n_periods, n_assets)
        ``sqrt(s2_t * periods_per_year)``: annualized volatility, decimal.

    Raises
    ------
    DataError
        If ``half_life`` is not a positive number, ``min_periods`` < 1, ``periods_per_year``
        is not positive, or ``returns`` is not a numeric DataFrame.

    References
    ----------
    J.P. Morgan/Reuters (1996). RiskMetrics - Technical Document, 4th ed., section 5.2.1.
    """
    returns = _check_frame(returns, "returns")
    half_life = _check_positive(half_life, "half_life")
    ppy = _periods_per_year(returns, periods_per_year)
    if min_periods is None:
        min_periods = max(2, math.ceil(half_life))
    min_periods = _check_int(min_periods, "min_periods", 1)
    variance = (returns**2).ewm(halflife=half_life, adjust=False, min_periods=min_periods).mean()
    return np.sqrt(variance * ppy)


# --------------------------------------------------------------------------- correlation


def correlation_from_covariance(cov: pd.DataFrame) -> pd.DataFrame:
    """Convert a covariance matrix to a correlation matrix.

    Parameters
    ----------
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Covariance matrix labelled by asset (any consistent unit; annualized in riskcore).

    Returns
    -------
    pandas.DataFrame of shape (n_assets, n_assets)
        ``cov_ij / (sigma_i sigma_j)``, clipped to [-1, 1], with an exact unit diagonal.

    Raises
    ------
    DataError
        If ``cov`` is not square and labelled, contains NaN, or an asset's variance is zero
        or negative (its correlations are undefined; the message names it).
    """
    cov = _check_square(cov, "covariance matrix")
    values = cov.to_numpy(dtype=float)
    if np.isnan(values).any():
        raise DataError("covariance matrix contains NaN; every entry must be a number")
    variance = np.diag(values)
    bad = [str(a) for a, v in zip(cov.columns, variance, strict=True) if not v > 0]
    if bad:
        raise DataError(f"variance of {', '.join(bad)} is zero or negative; correlations need "
                        "a variance > 0 (use a volatility floor for stablecoins)")
    sigma = np.sqrt(variance)
    corr = np.clip(values / np.outer(sigma, sigma), -1.0, 1.0)
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=cov.index, columns=cov.columns)


def cluster_order(corr: pd.DataFrame, *, method: str = "average") -> list[str]:
    """Order assets so that correlated groups stand together (for a clustered heatmap).

    Hierarchical agglomerative clustering on the correlation distance
    ``d_ij = sqrt(0.5 * (1 - rho_ij))``, with the leaves put in optimal order (adjacent
    leaves as similar as possible; Bar-Joseph et al. 2001) by ``scipy.cluster.hierarchy``.

    Parameters
    ----------
    corr : pandas.DataFrame of shape (n_assets, n_assets)
        Correlation matrix labelled by asset. NaN off the diagonal (a pair with too few common
        observations) is treated as zero correlation for the ordering only.
    method : {"average", "single", "complete", "ward"}, default "average"
        Linkage method.

    Returns
    -------
    list of str
        The asset names (the labels of ``corr``) in clustered order.

    Raises
    ------
    DataError
        If ``corr`` is not square and labelled, has an entry outside [-1, 1], a diagonal
        that is not 1 (an asset without data), or ``method`` is not allowed.

    References
    ----------
    Mantegna, R. N. (1999). Hierarchical structure in financial markets. European Physical
    Journal B 11, 193-197. Lopez de Prado, M. (2016). Building diversified portfolios that
    outperform out of sample. Journal of Portfolio Management 42(4), 59-69.
    """
    corr = _check_square(corr, "correlation matrix")
    if method not in LINKAGE_METHODS:
        raise DataError(f"linkage method {method!r} is not allowed; use one of "
                        f"{', '.join(LINKAGE_METHODS)}")
    values = corr.to_numpy(dtype=float).copy()
    diagonal = np.diag(values)
    bad = [str(a) for a, v in zip(corr.columns, diagonal, strict=True)
           if not abs(v - 1.0) <= 1e-6]
    if bad:
        raise DataError(f"correlation of {', '.join(bad)} with itself is not 1 (no data?); "
                        "remove the asset or give it data")
    values = np.where(np.isnan(values), 0.0, values)
    if (np.abs(values) > 1.0 + 1e-9).any():
        i, j = np.argwhere(np.abs(values) > 1.0 + 1e-9)[0]
        raise DataError(f"correlation of {corr.index[i]} and {corr.columns[j]} is "
                        f"{values[i, j]:g}; correlations must lie in [-1, 1]")
    names = list(corr.columns)
    if len(names) <= 2:
        return names
    values = 0.5 * (values + values.T)
    distance = np.sqrt(np.clip(0.5 * (1.0 - values), 0.0, None))
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method=method, optimal_ordering=True)
    return [names[i] for i in leaves_list(tree)]


def _rolling_sum(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing sums over ``window`` rows (fewer at the start), along axis 0."""
    total = np.cumsum(values, axis=0)
    out = total.copy()
    out[window:] -= total[:-window]
    return out


def _rolling_pair_correlations(
    values: np.ndarray, left: np.ndarray, right: np.ndarray, window: int, min_periods: int
) -> np.ndarray:
    """Compute rolling pairwise-complete correlations of columns ``left[k]``, ``right[k]``.

    Returns an array of shape (n_periods, n_pairs), NaN where a pair has fewer than
    ``min_periods`` common observations in the window or a zero variance.
    """
    valid = ~np.isnan(values)
    filled = np.where(valid, values, 0.0)
    # centre each column on its mean so that cumulative sums lose no precision
    counts = valid.sum(axis=0)
    means = np.divide(filled.sum(axis=0), counts, out=np.zeros(values.shape[1]),
                      where=counts > 0)
    filled = np.where(valid, filled - means, 0.0)
    both = (valid[:, left] & valid[:, right]).astype(float)
    x = filled[:, left] * both
    y = filled[:, right] * both
    n = _rolling_sum(both, window)
    sx, sy = _rolling_sum(x, window), _rolling_sum(y, window)
    sxx, syy = _rolling_sum(x * x, window), _rolling_sum(y * y, window)
    sxy = _rolling_sum(x * y, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        var_x = sxx - sx * sx / n
        var_y = syy - sy * sy / n
        tiny = 1e-14 * np.maximum(sxx, syy)  # rounding noise of a constant series
        ok = (n >= min_periods) & (var_x > tiny) & (var_y > tiny)
        corr = np.where(ok, cov / np.sqrt(np.where(ok, var_x * var_y, 1.0)), np.nan)
    return np.clip(corr, -1.0, 1.0)


def rolling_correlation(
    returns: pd.DataFrame, a: str, b: str, window: int, *, min_periods: int | None = None
) -> pd.Series:
    """Compute the rolling correlation of two assets' returns.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period.
    a, b : str
        Asset names (columns of ``returns``).
    window : int
        Number of periods in each window, >= 2.
    min_periods : int, optional
        Fewest periods in the window where both returns exist (2 .. ``window``); default
        ``window``. Windows with fewer give NaN.

    Returns
    -------
    pandas.Series of shape (n_periods,)
        Pearson correlation over each trailing window, named ``"a / b"``; NaN where the
        window has too few common observations or a constant series.

    Raises
    ------
    DataError
        If an asset is not a column of ``returns``, ``window`` < 2, or ``min_periods`` is
        outside 2 .. ``window``.
    """
    returns = _check_frame(returns, "returns")
    _check_asset(returns, a)
    _check_asset(returns, b)
    window = _check_int(window, "window", 2)
    min_periods = _check_min_periods(min_periods, window)
    pos = {name: i for i, name in enumerate(returns.columns)}
    corr = _rolling_pair_correlations(returns.to_numpy(dtype=float), np.array([pos[a]]),
                                      np.array([pos[b]]), window, min_periods)
    return pd.Series(corr[:, 0], index=returns.index, name=f"{a} / {b}")


def _check_min_periods(min_periods: int | None, window: int) -> int:
    if min_periods is None:
        return window
    min_periods = _check_int(min_periods, "min_periods", 2)
    if min_periods > window:
        raise DataError(f"min_periods is {min_periods}; it must be <= window ({window})")
    return min_periods


def average_correlation(
    returns: pd.DataFrame, window: int, *, min_periods: int | None = None
) -> pd.Series:
    """Compute the average pairwise correlation of the assets over time.

    At each period, the mean of the rolling correlations of every pair of assets that has
    at least ``min_periods`` common returns in the trailing window (pairs with a constant
    series are left out). Computed for all pairs at once from cumulative sums: O(n_periods
    x n_pairs) time, in blocks of bounded memory.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period; at least 2 assets.
    window : int
        Number of periods in each window, >= 2.
    min_periods : int, optional
        Fewest common observations a pair needs in a window (2 .. ``window``); default
        ``window``.

    Returns
    -------
    pandas.Series of shape (n_periods,)
        Average pairwise correlation, named ``"average correlation"``; NaN where no pair has
        enough data.

    Raises
    ------
    DataError
        If ``returns`` has fewer than 2 assets, ``window`` < 2, or ``min_periods`` is outside
        2 .. ``window``.

    References
    ----------
    Pollet, J. M. & Wilson, M. (2010). Average correlation and stock market returns. Journal
    of Financial Economics 96(3), 364-380.
    """
    returns = _check_frame(returns, "returns")
    if returns.shape[1] < 2:
        raise DataError(f"average correlation needs at least 2 assets; got {returns.shape[1]}")
    window = _check_int(window, "window", 2)
    min_periods = _check_min_periods(min_periods, window)
    values = returns.to_numpy(dtype=float)
    left, right = np.triu_indices(values.shape[1], k=1)
    total = np.zeros(len(values))
    count = np.zeros(len(values))
    block = max(1, _PAIR_BLOCK_CELLS // max(1, len(values)))
    for start in range(0, len(left), block):
        corr = _rolling_pair_correlations(values, left[start:start + block],
                                          right[start:start + block], window, min_periods)
        ok = ~np.isnan(corr)
        total += np.where(ok, corr, 0.0).sum(axis=1)
        count += ok.sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return pd.Series(mean, index=returns.index, name="average correlation")


def nearest_correlation(
    corr: pd.DataFrame | np.ndarray, *, tol: float = 1e-10, max_iter: int = 10_000
) -> pd.DataFrame | np.ndarray:
    """Find the nearest correlation matrix in the Frobenius norm (Higham 2002).

    Alternating projections with Dykstra's correction between the positive semidefinite
    cone (eigenvalues clipped at 0) and the unit-diagonal matrices, stopped when the
    relative changes of both iterates and their relative distance are all <= ``tol``. The
    result is the last positive semidefinite iterate rescaled to an exact unit diagonal,
    so it is a valid correlation matrix up to rounding.

    Parameters
    ----------
    corr : pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        Symmetric matrix to repair, e.g. a pairwise-complete correlation matrix.
    tol : float, default 1e-10
        Relative convergence tolerance, > 0.
    max_iter : int, default 10000
        Most iterations before giving up, >= 1.

    Returns
    -------
    pandas.DataFrame or numpy.ndarray of shape (n_assets, n_assets)
        The nearest correlation matrix (symmetric, positive semidefinite, unit diagonal), of
        the same type and labels as ``corr``.

    Raises
    ------
    DataError
        If ``corr`` is not square, contains NaN or infinity, or is not symmetric.
    ConvergenceError
        If the tolerance is not reached in ``max_iter`` iterations (the message gives the
        change reached).

    References
    ----------
    Higham, N. J. (2002). Computing the nearest correlation matrix - a problem from finance.
    IMA Journal of Numerical Analysis 22(3), 329-343.
    """
    tol = _check_positive(tol, "tol")
    max_iter = _check_int(max_iter, "max_iter", 1)
    labelled = isinstance(corr, pd.DataFrame)
    if labelled:
        corr = _check_square(corr, "correlation matrix")
    a = np.array(corr, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1] or a.shape[0] == 0:
        raise DataError(f"correlation matrix of shape {a.shape} must be square and non-empty")
    if not np.isfinite(a).all():
        raise DataError("correlation matrix contains NaN or infinity; every entry must be a "
                        "finite number")
    if not np.allclose(a, a.T, rtol=0.0, atol=1e-12 * max(1.0, np.abs(a).max())):
        i, j = np.unravel_index(np.argmax(np.abs(a - a.T)), a.shape)
        raise DataError(f"correlation matrix is not symmetric: entry ({i}, {j}) is "
                        f"{a[i, j]:g} but ({j}, {i}) is {a[j, i]:g}")
    a = 0.5 * (a + a.T)

    def project_psd(m: np.ndarray) -> np.ndarray:
        values, vectors = np.linalg.eigh(m)
        out = (vectors * np.clip(values, 0.0, None)) @ vectors.T
        return 0.5 * (out + out.T)

    y = a.copy()
    x = a.copy()
    correction = np.zeros_like(a)
    change = np.inf
    for _ in range(max_iter):
        r = y - correction
        x_new = project_psd(r)
        correction = x_new - r
        y_new = x_new.copy()
        np.fill_diagonal(y_new, 1.0)
        norm_y = np.linalg.norm(y_new)
        change = max(np.linalg.norm(x_new - x) / np.linalg.norm(x_new),
                     np.linalg.norm(y_new - y) / norm_y,
                     np.linalg.norm(y_new - x_new) / norm_y)
        x, y = x_new, y_new
        if change <= tol:
            break
    else:
        raise ConvergenceError(f"nearest correlation matrix: alternating projections stopped "
                               f"after {max_iter} iterations with relative change {change:.1e} "
                               f"> tol {tol:.1e}")
    scale = np.sqrt(np.clip(np.diag(x), 1e-300, None))
    result = x / np.outer(scale, scale)
    result = 0.5 * (result + result.T)
    np.fill_diagonal(result, 1.0)
    if labelled:
        return pd.DataFrame(result, index=corr.index, columns=corr.columns)
    return result


# --------------------------------------------------------------------------- covariance


@dataclass(frozen=True, eq=False)
class CovarianceEstimate:
    """An annualized covariance matrix with the facts a user needs to trust it.

    Attributes
    ----------
    matrix : pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance (per-period covariance x ``periods_per_year``), labelled by
        asset.
    method : str
        One of :data:`COVARIANCE_METHODS`.
    n_observations : int or pandas.DataFrame of shape (n_assets, n_assets)
        Number of return periods used: the length of the common window, or with
        ``pairwise=True`` the number of common observations of each pair.
    start, end : pandas.Timestamp
        First and last period of the returns used.
    condition_number : float
        2-norm condition number of ``matrix`` (inf if singular).
    repaired : bool
        Whether the pairwise correlation matrix was not positive semidefinite and was
        replaced by its nearest correlation matrix (Higham 2002).
    repair_distance : float
        Frobenius distance between the pairwise and the repaired correlation matrix
        (0.0 when not repaired).
    floored : tuple of str
        Assets whose annualized volatility was raised to the volatility floor.
    warnings : tuple of str
        Human-readable notes on the estimate (few observations, near-singular matrix,
        repair, floor, periods dropped outside the common window).
    periods_per_year : float
        Periods per year used to annualize.
    """

    matrix: pd.DataFrame
    method: str
    n_observations: int | pd.DataFrame
    start: pd.Timestamp
    end: pd.Timestamp
    condition_number: float
    repaired: bool
    repair_distance: float
    floored: tuple[str, ...]
    warnings: tuple[str, ...]
    periods_per_year: float

    @property
    def volatility(self) -> pd.Series:
        """Annualized volatility per asset (decimal): square root of the diagonal."""
        return pd.Series(np.sqrt(np.diag(self.matrix.to_numpy())), index=self.matrix.index,
                         name="volatility")


def _last_gap(window: pd.DataFrame) -> str:
    """Name the asset whose latest missing return is the most recent, for messages."""
    missing = window.isna().to_numpy()
    last = np.where(missing.any(axis=0), len(window) - 1 - np.argmax(missing[::-1], axis=0), -1)
    col = int(np.argmax(last))
    return f"last gap: {window.columns[col]} on {window.index[last[col]]:%Y-%m-%d}"


def _shrinkage_note(method: str, x: np.ndarray, shrunk: np.ndarray,
                    assets: list) -> list[str]:
    """Report assets whose (annualized) volatility the shrinkage moved by more than half."""
    sample = x.std(axis=0)
    after = np.sqrt(np.diag(shrunk))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = after / sample
    moved = [i for i, r in enumerate(ratio) if not 2 / 3 <= r <= 1.5]
    if not moved:
        return []
    label = "Ledoit-Wolf" if method == "ledoit_wolf" else "OAS"
    shown = ", ".join(f"{assets[i]} from {sample[i]:.1%} to {after[i]:.1%}" for i in moved[:4])
    more = f" and {len(moved) - 4} more" if len(moved) > 4 else ""
    return [f"{label} shrinks every variance towards their average: annualized volatility of "
            f"{shown}{more}; for assets with very different volatilities (stablecoins) prefer "
            "the sample or EWMA estimator with a volatility floor"]


def _ewma_weights(n: int, half_life: float) -> np.ndarray:
    """Weights of the RiskMetrics recursion started at the first observation (sum to 1)."""
    lam = 0.5 ** (1.0 / half_life)
    weights = (1.0 - lam) * lam ** np.arange(n - 1, -1, -1, dtype=float)
    weights[0] = lam ** (n - 1)
    return weights


def _window_sums(x: np.ndarray, lookback: int) -> np.ndarray:
    """Sum the ``lookback`` rows ending at each row (partial sums for the first rows).

    Vectorized without a running total over the whole series: rows are split in blocks of
    ``lookback``; the window ending at block ``k``, position ``j`` is the prefix sum of block
    ``k`` up to ``j`` plus the suffix sum of block ``k - 1`` after ``j``. Each sum adds at most
    ``lookback`` terms, so rounding does not grow with the series length.
    """
    t_count = x.shape[0]
    blocks = -(-t_count // lookback)
    padded = np.zeros((blocks * lookback,) + x.shape[1:])
    padded[:t_count] = x
    shaped = padded.reshape((blocks, lookback) + x.shape[1:])
    prefix = np.cumsum(shaped, axis=1)
    suffix = np.zeros_like(shaped)
    # suffix[k, j] = sum of block k rows j+1 .. lookback-1
    suffix[:, :-1] = np.cumsum(shaped[:, ::-1], axis=1)[:, ::-1][:, 1:]
    out = prefix.copy()
    out[1:] += suffix[:-1]
    return out.reshape(padded.shape)[:t_count]


def _rolling_moments(returns: np.ndarray, lookback: int, decay: float):
    """Yield (t, s0, s1, s2) for each t: decayed sums over the ``lookback`` returns ending at t.

    Incremental update ``s <- decay * s + x_t - decay**lookback * x_{t-lookback}``, recomputed
    exactly from the window every ``lookback`` steps so that rounding does not accumulate.
    NaN returns count as 0 (windows containing them are not used).
    """
    t_count, n = returns.shape
    x = np.nan_to_num(returns, nan=0.0)
    weights = decay ** np.arange(lookback)[::-1]  # oldest first
    tail = decay**lookback
    s1 = np.zeros(n)
    s2 = np.zeros((n, n))
    for t in range(t_count):
        if t % lookback == 0:
            lo = max(0, t - lookback + 1)
            window = x[lo : t + 1]
            w = weights[lookback - window.shape[0] :]
            s1 = w @ window
            s2 = (window * w[:, None]).T @ window
        else:
            new = x[t]
            s1 *= decay
            s1 += new
            s2 *= decay
            s2 += np.outer(new, new)
            if t >= lookback:
                old = x[t - lookback]
                s1 -= tail * old
                s2 -= tail * np.outer(old, old)
        yield t, s1, s2


def full_windows(valid: np.ndarray, lookback: int) -> np.ndarray:
    """Whether each of the ``lookback`` periods ending at each row is valid, per asset.

    Parameters
    ----------
    valid : numpy.ndarray of bool, shape (n_periods, n_assets)
        True where an asset has a return.
    lookback : int
        Window length in periods.

    Returns
    -------
    numpy.ndarray of bool, shape (n_periods, n_assets)
        True where the window ending at that row is complete (False in the first
        ``lookback - 1`` rows).
    """
    t_count, n = valid.shape
    csum = np.concatenate([np.zeros((1, n)), np.cumsum(valid, axis=0)])
    out = np.zeros((t_count, n), dtype=bool)
    if t_count >= lookback:
        out[lookback - 1:] = (csum[lookback:] - csum[: t_count - lookback + 1]) == lookback
    return out


def rolling_covariances(
    returns: np.ndarray, lookback: int, *, half_life: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-period covariance of the ``lookback`` returns ending at every row (walk-forward).

    The rolling kernel of the simulator: at row ``t`` it equals :func:`estimate_covariance`
    (``"sample"``, or ``"ewma"`` with ``half_life``) on returns ``t - lookback + 1 .. t``,
    divided by ``periods_per_year``, wherever that window is complete (tested). Sample:
    windowed sums (no running total over the series, so rounding does not grow with its
    length). EWMA: the RiskMetrics recursion started at the window's first return, updated
    incrementally and recomputed from the window every ``lookback`` rows.

    Parameters
    ----------
    returns : numpy.ndarray of shape (n_periods, n_assets)
        Simple returns per period, NaN where missing.
    lookback : int
        Window length (>= 2).
    half_life : float, optional
        EWMA half-life in periods; None for the sample covariance (ddof 1).

    Returns
    -------
    covariance : numpy.ndarray of shape (n_periods, n_assets, n_assets)
        Per-period covariance (0 before the first complete window of any asset; meaningless
        for an asset whose own window is incomplete).
    full_window : numpy.ndarray of bool, shape (n_periods, n_assets)
        Whether each asset's window ending at that row is complete.

    References
    ----------
    J.P. Morgan/Reuters (1996). RiskMetrics - Technical Document, 4th ed.
    """
    t_count, n = returns.shape
    full_window = full_windows(~np.isnan(returns), lookback)
    first_full = np.argmax(full_window.any(axis=1)) if full_window.any() else t_count
    x = np.nan_to_num(returns, nan=0.0)
    if half_life is None:
        s1 = _window_sums(x, lookback)
        s2 = _window_sums(x[:, :, None] * x[:, None, :], lookback)
        covariance = (s2 - s1[:, :, None] * s1[:, None, :] / lookback) / (lookback - 1)
        covariance[:first_full] = 0.0
        return covariance, full_window
    decay = 0.5 ** (1.0 / half_life)
    tail = decay**lookback
    covariance = np.zeros((t_count, n, n))
    for t, _, m2 in _rolling_moments(returns, lookback, decay):
        if t >= first_full:
            old = x[t - lookback + 1]
            covariance[t] = (1.0 - decay) * m2 + tail * np.outer(old, old)
    return covariance, full_window


def floor_volatility(cov: np.ndarray, floor_variance: float) -> np.ndarray:
    """Raise variances below ``floor_variance`` to it, keeping the correlations.

    The row and column of a floored asset are scaled by ``floor / sigma``; an asset with
    zero variance gets zero covariances with the others. Shared by
    :func:`estimate_covariance` and the backtest's daily re-estimation.

    Parameters
    ----------
    cov : numpy.ndarray of shape (..., n_assets, n_assets)
        One covariance matrix or a stack of them (any consistent unit, e.g. per period).
    floor_variance : float
        Variance floor in the unit of ``cov`` (volatility floor squared).

    Returns
    -------
    numpy.ndarray of the shape of ``cov``
        A new array; ``cov`` is not modified.
    """
    diag = np.arange(cov.shape[-1])
    variances = np.clip(cov[..., diag, diag], 0.0, None)
    low = variances < floor_variance
    if not low.any():
        return cov.copy()
    sigma = np.sqrt(variances)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(low, np.where(sigma > 0, np.sqrt(floor_variance) / sigma, 0.0), 1.0)
    out = cov * scale[..., :, None] * scale[..., None, :]
    out[..., diag, diag] = np.where(low, floor_variance, out[..., diag, diag])
    return out


def estimate_covariance(
    returns: pd.DataFrame,
    *,
    method: str = "sample",
    lookback: int | None = None,
    half_life: float | None = None,
    periods_per_year: float | None = None,
    pairwise: bool = False,
    min_periods: int = 2,
    volatility_floor: float | None = None,
) -> CovarianceEstimate:
    """Estimate the annualized covariance matrix of asset returns.

    The estimate uses the last ``lookback`` periods of ``returns``. By default only the
    periods where every asset has a return (the common window) are used and any other
    period in the lookback is reported in ``warnings``. With ``pairwise=True`` (sample
    method only) each variance uses all of its asset's returns and each correlation the
    periods where both assets have one (pandas' pairwise-complete ``corr``); if that
    correlation matrix is not positive semidefinite it is replaced by the nearest
    correlation matrix (:func:`nearest_correlation`) and the repair is reported.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period; NaN where an asset has no return.
    method : {"sample", "ewma", "ledoit_wolf", "oas"}, default "sample"
        Estimator.
    lookback : int, optional
        Number of most recent periods to use (>= 2); default all.
    half_life : float, optional
        Half-life in periods (> 0); required by ``"ewma"``, ignored by the other methods.
    periods_per_year : float, optional
        Periods per year used to annualize; default inferred from the returns' time index
        (:func:`riskcore.periods.infer_periods_per_year`: 365 for 24/7 daily data, 252 for
        weekday-only). Required when the index is not a DatetimeIndex.
    pairwise : bool, default False
        Use pairwise-complete observations instead of the common window (``"sample"`` only).
    min_periods : int, default 2
        With ``pairwise=True``, the fewest common observations a pair needs (>= 2).
    volatility_floor : float, optional
        Annualized volatility floor (decimal, e.g. 0.05). An asset whose estimated volatility
        is below it gets this volatility with its correlations kept, so that a stablecoin
        with near-zero measured volatility cannot absorb an inverse-volatility or risk-parity
        portfolio. The assets raised are listed in ``floored``.

    Returns
    -------
    CovarianceEstimate
        ``matrix`` (annualized covariance, n_assets x n_assets) with the observations used,
        condition number, repair and floor reports and warnings.

    Raises
    ------
    DataError
        If ``method`` is not allowed (the message lists the allowed ones), ``lookback`` < 2,
        ``half_life`` is missing or not positive for ``"ewma"``, ``pairwise`` is asked with
        another method than ``"sample"``, an asset has no return in the lookback (the message
        names it), fewer than 2 common observations (or fewer than ``min_periods`` for a
        pair) remain, or a floor is negative.
    ConvergenceError
        If the nearest-correlation repair does not converge.

    Notes
    -----
    - ``"sample"``: unbiased sample covariance (ddof 1).
    - ``"ewma"``: RiskMetrics exponentially weighted covariance with zero mean and
      half-life ``half_life`` periods, started at the first period of the window (its
      diagonal equals :func:`ewma_volatility` squared on the same window).
    - ``"ledoit_wolf"``: Ledoit-Wolf (2004) shrinkage towards a scaled identity
      (``sklearn.covariance.LedoitWolf``, maximum-likelihood covariance inside).
    - ``"oas"``: scikit-learn's Oracle Approximating Shrinkage (``sklearn.covariance.OAS``
      with its defaults: maximum-likelihood covariance of the centred returns shrunk towards
      ``mu * I``, ``mu`` the average variance, with scikit-learn's shrinkage formula, which
      differs slightly from equation (23) of Chen et al. 2010).

    Both shrinkage targets pull every variance towards the average variance; with
    stablecoins in the universe this inflates their volatility, which is reported in
    ``warnings``. ``warnings`` also reports fewer observations than assets and a condition
    number above :data:`NEAR_SINGULAR_CONDITION`; neither raises.

    References
    ----------
    Ledoit, O. & Wolf, M. (2004). A well-conditioned estimator for large-dimensional
    covariance matrices. Journal of Multivariate Analysis 88(2), 365-411.
    Chen, Y., Wiesel, A., Eldar, Y. C. & Hero, A. O. (2010). Shrinkage algorithms for MMSE
    covariance estimation. IEEE Transactions on Signal Processing 58(10), 5016-5029.
    J.P. Morgan/Reuters (1996). RiskMetrics - Technical Document, 4th ed.
    Higham, N. J. (2002). Computing the nearest correlation matrix - a problem from finance.
    IMA Journal of Numerical Analysis 22(3), 329-343.
    """
    returns = _check_frame(returns, "returns")
    if method not in COVARIANCE_METHODS:
        raise ParameterError(f"covariance method {method!r} is not allowed; use one of "
                        f"{', '.join(COVARIANCE_METHODS)}")
    ppy = _periods_per_year(returns, periods_per_year)
    if lookback is not None:
        lookback = _check_int(lookback, "lookback", 2)
    if method == "ewma":
        if half_life is None:
            raise ParameterError("covariance method 'ewma' needs half_life (in periods, > 0)")
        half_life = _check_positive(half_life, "half_life")
    if pairwise and method != "sample":
        raise ParameterError(f"pairwise=True is available for method 'sample' only, not "
                             f"{method!r}: the other estimators need the common window")
    min_periods = _check_int(min_periods, "min_periods", 2)
    if volatility_floor is not None and (
        isinstance(volatility_floor, bool) or not isinstance(volatility_floor, Real)
        or not 0 <= volatility_floor < math.inf
    ):
        raise DataError(f"volatility_floor is {volatility_floor!r}; it must be a finite "
                        "annualized volatility >= 0 (decimal, e.g. 0.05)")

    window = returns if lookback is None else returns.iloc[-lookback:]
    if len(window) == 0:
        raise DataError("returns have no rows; need at least 2 periods")
    present = window.notna().sum()
    empty = [str(a) for a in window.columns if present[a] == 0]
    if empty:
        raise DataError(f"no returns for {', '.join(empty)} in the last {len(window)} periods "
                        f"({window.index[0]} .. {window.index[-1]}); remove the asset or use a "
                        "longer lookback")
    assets = list(window.columns)
    n_assets = len(assets)
    notes: list[str] = []
    repaired, distance = False, 0.0

    if pairwise:
        short = [str(a) for a in assets if present[a] < min_periods]
        if short:
            raise DataError(f"too few returns for {', '.join(short)} in the window; need at "
                            f"least {min_periods} per asset")
        mask = window.notna().to_numpy(dtype=float)
        counts = mask.T @ mask
        if (counts < min_periods).any():
            i, j = np.argwhere(counts < min_periods)[0]
            raise DataError(f"{assets[i]} and {assets[j]} have only {int(counts[i, j])} common "
                            f"return(s) in the window; need at least {min_periods} "
                            "(min_periods)")
        sigma = window.std().to_numpy() * math.sqrt(ppy)
        corr = window.corr(min_periods=min_periods).to_numpy()
        corr = np.where(np.isnan(corr), 0.0, corr)  # only a constant series gives NaN here
        np.fill_diagonal(corr, 1.0)
        if np.linalg.eigvalsh(corr)[0] < -1e-12:
            fixed = nearest_correlation(corr)
            distance = float(np.linalg.norm(fixed - corr))
            corr, repaired = fixed, True
            notes.append("pairwise correlation matrix was not positive semidefinite; repaired "
                         f"to the nearest correlation matrix (Higham 2002), Frobenius distance "
                         f"{distance:.2g}")
        matrix = corr * np.outer(sigma, sigma)
        n_obs: int | pd.DataFrame = pd.DataFrame(counts.astype(int), index=assets,
                                                 columns=assets)
        used = window.loc[window.notna().any(axis=1)]
        start, end = used.index[0], used.index[-1]
        n_min = int(counts.min())
    else:
        common = window.dropna()
        if len(common) < 2:
            raise DataError(f"only {len(common)} period(s) in the last {len(window)} have a "
                            f"return for every asset ({_last_gap(window)}); need at least 2: use "
                            "a longer lookback, fewer assets or pairwise=True")
        dropped = len(window) - len(common)
        if dropped:
            notes.append(f"{dropped} of the {len(window)} periods in the lookback were left out "
                         f"because some assets have no return there ({_last_gap(window)}); "
                         f"estimated on {len(common)} common periods "
                         f"{common.index[0]:%Y-%m-%d} .. {common.index[-1]:%Y-%m-%d}")
        x = common.to_numpy(dtype=float)
        n_obs = n_min = len(common)
        start, end = common.index[0], common.index[-1]
        if method == "sample":
            per_period = np.atleast_2d(np.cov(x, rowvar=False, ddof=1))
        elif method == "ewma":
            weights = _ewma_weights(len(x), half_life)
            per_period = (x * weights[:, None]).T @ x
        else:
            from sklearn.covariance import OAS, LedoitWolf  # slow import: only when needed

            model = LedoitWolf() if method == "ledoit_wolf" else OAS()
            per_period = model.fit(x).covariance_
            notes.extend(_shrinkage_note(method, x * math.sqrt(ppy), per_period * ppy, assets))
        matrix = per_period * ppy

    matrix = 0.5 * (matrix + matrix.T)
    if n_min <= n_assets and n_assets > 1:
        advice = ("use Ledoit-Wolf or OAS shrinkage" if method in ("sample", "ewma")
                  else "shrinkage keeps the matrix invertible but the estimate is noisy")
        notes.append(f"fewer observations ({n_min}) than assets ({n_assets}): {advice}")

    sigma = np.sqrt(np.clip(np.diag(matrix), 0.0, None))
    zero = [a for a, s in zip(assets, sigma, strict=True) if s == 0.0]
    floored: tuple[str, ...] = ()
    if volatility_floor is not None and volatility_floor > 0:
        low = sigma < volatility_floor
        if low.any():
            floored = tuple(str(a) for a, f in zip(assets, low, strict=True) if f)
            matrix = floor_volatility(matrix, volatility_floor**2)
            sigma = np.maximum(sigma, volatility_floor)
            notes.append(f"volatility raised to the floor {volatility_floor:.2%} for "
                         f"{', '.join(floored)}")
            zero = [a for a in zero if a not in floored]
    if zero:
        notes.append(f"zero variance for {', '.join(map(str, zero))} in the window (constant "
                     "price): the matrix is singular; set a volatility floor")

    condition = float(np.linalg.cond(matrix)) if np.isfinite(matrix).all() else math.inf
    if not math.isfinite(condition) or condition > NEAR_SINGULAR_CONDITION:
        advice = (": use Ledoit-Wolf or OAS shrinkage" if method in ("sample", "ewma") else "")
        notes.append(f"near-singular matrix, condition number {condition:.1e}{advice}")

    return CovarianceEstimate(
        matrix=pd.DataFrame(matrix, index=window.columns, columns=window.columns),
        method=method,
        n_observations=n_obs,
        start=start,
        end=end,
        condition_number=condition,
        repaired=repaired,
        repair_distance=distance,
        floored=floored,
        warnings=tuple(notes),
        periods_per_year=ppy,
    )


def covariance(
    returns: pd.DataFrame,
    *,
    method: str = "sample",
    lookback: int | None = None,
    half_life: float | None = None,
    periods_per_year: float | None = None,
    pairwise: bool = False,
    min_periods: int = 2,
    volatility_floor: float | None = None,
) -> pd.DataFrame:
    """Estimate the annualized covariance matrix; the matrix of :func:`estimate_covariance`.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns, decimal per period.
    method : {"sample", "ewma", "ledoit_wolf", "oas"}, default "sample"
        Estimator (see :func:`estimate_covariance`).
    lookback : int, optional
        Number of most recent periods to use; default all.
    half_life : float, optional
        Half-life in periods for ``"ewma"``.
    periods_per_year : float, optional
        Periods per year used to annualize; default inferred from the returns' time index
        (:func:`riskcore.periods.infer_periods_per_year`: 365 for 24/7 daily data, 252 for
        weekday-only). Required when the index is not a DatetimeIndex.
    pairwise : bool, default False
        Pairwise-complete estimation with nearest-correlation repair (``"sample"`` only).
    min_periods : int, default 2
        Fewest common observations per pair with ``pairwise=True``.
    volatility_floor : float, optional
        Annualized volatility floor (decimal).

    Returns
    -------
    pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance matrix.

    Raises
    ------
    DataError
        As :func:`estimate_covariance`.
    ConvergenceError
        As :func:`estimate_covariance`.
    """
    return estimate_covariance(
        returns, method=method, lookback=lookback, half_life=half_life,
        periods_per_year=periods_per_year, pairwise=pairwise, min_periods=min_periods,
        volatility_floor=volatility_floor,
    ).matrix
