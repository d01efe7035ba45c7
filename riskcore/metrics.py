"""Performance and risk metrics of a portfolio's equity curve and of its rebalancing.

Conventions (one meaning each):

- *returns*: simple returns, decimal per period; NaN entries are dropped before any metric.
- Annualization uses ``periods_per_year`` (365 for 24/7 crypto, 252 for a weekday calendar),
  inferred with :func:`riskcore.periods.infer_periods_per_year` when not given.
- *drawdown*: ``equity / running peak - 1``, a NEGATIVE decimal or 0 (-0.25 = 25% below the
  peak); the maximum drawdown is the most negative drawdown (as in empyrical).
- *Value at Risk* and *expected shortfall* are POSITIVE loss numbers, decimal per period
  (a 95% VaR of 0.05 means a loss of 5% or more in 5% of periods).
- *turnover*: one-way, ``sum(|trade USD|) / (2 * portfolio value)`` summed over rebalances.
- *risk-balance error*: the time average of ``0.5 * sum_i |rrc_i - b_i|`` (the share of risk
  sitting in the wrong asset, 0 = perfect risk balance, 1 = all risk misallocated), where
  ``rrc`` are relative risk contributions and ``b`` the risk budgets.

The definitions follow empyrical (Quantopian, ``empyrical/stats.py``); its published test
fixtures are pinned in ``tests/unit/test_metrics.py``. Too little data gives NaN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from riskcore.errors import DataError, RiskcoreError
from riskcore.periods import infer_periods_per_year

#: Confidence levels reported by :func:`portfolio_metrics`.
VAR_LEVELS: tuple[float, ...] = (0.95, 0.99)


def _clean(returns: pd.Series | np.ndarray) -> np.ndarray:
    values = np.asarray(returns, dtype=float).ravel()
    return values[~np.isnan(values)]


def _periods(returns: pd.Series | np.ndarray, periods_per_year: float | None) -> float:
    if periods_per_year is not None:
        if not np.isfinite(periods_per_year) or periods_per_year <= 0:
            raise RiskcoreError(f"periods_per_year is {periods_per_year}; it must be > 0")
        return float(periods_per_year)
    index = getattr(returns, "index", None)
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(
            "cannot infer periods_per_year: returns have no DatetimeIndex; "
            "pass periods_per_year (365 for 24/7 crypto, 252 for a weekday calendar)"
        )
    return float(infer_periods_per_year(index))


def _per_period_rate(annual_rate: float, periods_per_year: float) -> float:
    return (1.0 + annual_rate) ** (1.0 / periods_per_year) - 1.0


def annualized_return(
    returns: pd.Series | np.ndarray, *, periods_per_year: float | None = None
) -> float:
    """Geometric annualized return (compound annual growth rate).

    ``prod(1 + r) ** (periods_per_year / n) - 1`` over the ``n`` non-NaN returns.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    periods_per_year : float, optional
        Inferred from a DatetimeIndex when omitted.

    Returns
    -------
    float
        Decimal per year; NaN without returns.

    Raises
    ------
    DataError
        If ``periods_per_year`` is omitted and cannot be inferred.

    References
    ----------
    empyrical ``annual_return`` (which counts NaN entries as zero-return periods; here they
    are dropped).
    """
    ppy = _periods(returns, periods_per_year)
    r = _clean(returns)
    if r.size == 0:
        return np.nan
    growth = float(np.prod(1.0 + r))
    if growth <= 0:
        return -1.0
    return growth ** (ppy / r.size) - 1.0


def annualized_volatility(
    returns: pd.Series | np.ndarray, *, periods_per_year: float | None = None
) -> float:
    """Annualized volatility: sample standard deviation (ddof=1) times ``sqrt(periods_per_year)``.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    periods_per_year : float, optional
        Inferred from a DatetimeIndex when omitted.

    Returns
    -------
    float
        Decimal, annualized; NaN with fewer than 2 returns.

    Raises
    ------
    RiskcoreError
        If ``periods_per_year`` is given but not a positive finite number.
    DataError
        If ``periods_per_year`` is omitted and cannot be inferred (no DatetimeIndex, fewer
        than 2 timestamps, duplicate timestamps).

    References
    ----------
    empyrical ``annual_volatility``.
    """
    ppy = _periods(returns, periods_per_year)
    r = _clean(returns)
    if r.size < 2:
        return np.nan
    return float(np.std(r, ddof=1) * np.sqrt(ppy))


def sharpe_ratio(
    returns: pd.Series | np.ndarray,
    *,
    risk_free: float = 0.0,
    periods_per_year: float | None = None,
) -> float:
    """Annualized Sharpe ratio: ``mean(r - rf) / std(r - rf, ddof=1) * sqrt(periods_per_year)``.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    risk_free : float, default 0.0
        Annual risk-free rate, decimal; converted to a per-period rate
        ``(1 + risk_free) ** (1 / periods_per_year) - 1``.
    periods_per_year : float, optional
        Inferred from a DatetimeIndex when omitted.

    Returns
    -------
    float
        NaN with fewer than 2 returns or zero dispersion.

    Raises
    ------
    RiskcoreError
        If ``periods_per_year`` is given but not a positive finite number.
    DataError
        If ``periods_per_year`` is omitted and cannot be inferred (no DatetimeIndex, fewer
        than 2 timestamps, duplicate timestamps).

    References
    ----------
    Sharpe (1994), "The Sharpe ratio", Journal of Portfolio Management; empyrical
    ``sharpe_ratio``.
    """
    ppy = _periods(returns, periods_per_year)
    r = _clean(returns) - _per_period_rate(risk_free, ppy)
    if r.size < 2:
        return np.nan
    sd = np.std(r, ddof=1)
    if sd == 0:
        return np.nan
    return float(np.mean(r) / sd * np.sqrt(ppy))


def downside_risk(
    returns: pd.Series | np.ndarray,
    *,
    required_return: float = 0.0,
    periods_per_year: float | None = None,
) -> float:
    """Annualized downside deviation below a required return.

    ``sqrt(mean(min(r - mar, 0) ** 2)) * sqrt(periods_per_year)``, the mean taken over ALL
    ``n`` returns (Sortino & Price 1994 target semideviation), with ``mar`` the per-period
    required return.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    required_return : float, default 0.0
        Annual minimum acceptable return, decimal (converted to per period geometrically).
    periods_per_year : float, optional
        Inferred from a DatetimeIndex when omitted.

    Returns
    -------
    float
        Decimal, annualized; NaN without returns.

    References
    ----------
    Sortino & Price (1994), "Performance measurement in a downside risk framework",
    Journal of Investing; empyrical ``downside_risk``.
    """
    ppy = _periods(returns, periods_per_year)
    r = _clean(returns) - _per_period_rate(required_return, ppy)
    if r.size == 0:
        return np.nan
    return float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * np.sqrt(ppy))


def sortino_ratio(
    returns: pd.Series | np.ndarray,
    *,
    required_return: float = 0.0,
    periods_per_year: float | None = None,
) -> float:
    """Annualized Sortino ratio: ``mean(r - mar) * periods_per_year / downside_risk``.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    required_return : float, default 0.0
        Annual minimum acceptable return (e.g. the risk-free rate), decimal.
    periods_per_year : float, optional
        Inferred from a DatetimeIndex when omitted.

    Returns
    -------
    float
        ``inf`` when no return falls below ``mar`` and the mean excess is positive; NaN with
        fewer than 2 returns.

    Raises
    ------
    RiskcoreError
        If ``periods_per_year`` is given but not a positive finite number.
    DataError
        If ``periods_per_year`` is omitted and cannot be inferred (no DatetimeIndex, fewer
        than 2 timestamps, duplicate timestamps).

    References
    ----------
    Sortino & Price (1994); empyrical ``sortino_ratio``.
    """
    ppy = _periods(returns, periods_per_year)
    r = _clean(returns)
    if r.size < 2:
        return np.nan
    excess = r - _per_period_rate(required_return, ppy)
    dr = downside_risk(r, required_return=required_return, periods_per_year=ppy)
    mean_annual = float(np.mean(excess) * ppy)
    if dr == 0:
        return np.inf if mean_annual > 0 else np.nan
    return mean_annual / dr


def equity_from_returns(returns: pd.Series | np.ndarray, *, start: float = 1.0) -> np.ndarray:
    """Equity curve of compounded returns, starting at ``start`` before the first return.

    Returns
    -------
    numpy.ndarray of shape (n_returns + 1,)
        NaN returns count as 0.
    """
    r = np.nan_to_num(np.asarray(returns, dtype=float).ravel(), nan=0.0)
    return start * np.concatenate([[1.0], np.cumprod(1.0 + r)])


def drawdown(equity: pd.Series) -> pd.Series:
    """Drawdown series: ``equity / running maximum - 1`` (negative decimal or 0).

    Parameters
    ----------
    equity : pandas.Series of shape (n_periods,)
        Portfolio value (USD or index), positive.

    Returns
    -------
    pandas.Series
        Same index; NaN equity values are carried forward.

    Raises
    ------
    ValueError
        If ``equity`` holds values that cannot be read as floats.

    References
    ----------
    Magdon-Ismail & Atiya (2004), "Maximum drawdown", Risk.
    """
    values = pd.Series(equity, dtype=float).ffill()
    return (values / values.cummax() - 1.0).rename("drawdown")


def max_drawdown(returns: pd.Series | np.ndarray) -> float:
    """Maximum drawdown of compounded returns (negative decimal or 0).

    The equity starts at 1 before the first return, so a first negative return is a drawdown.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.

    Returns
    -------
    float
        NaN without returns.

    Raises
    ------
    ValueError
        If ``returns`` holds values that cannot be read as floats.

    References
    ----------
    empyrical ``max_drawdown``.
    """
    r = _clean(returns)
    if r.size == 0:
        return np.nan
    curve = equity_from_returns(r)
    return float(np.min(curve / np.maximum.accumulate(curve) - 1.0))


@dataclass(frozen=True)
class DrawdownInfo:
    """The maximum drawdown of an equity curve and its dates.

    Attributes
    ----------
    max_drawdown : float
        Negative decimal or 0.
    peak : pandas.Timestamp or None
        Date of the running maximum before the trough.
    trough : pandas.Timestamp or None
        Date of the lowest point.
    recovery : pandas.Timestamp or None
        First date after the trough when equity is back at or above the peak value; None if
        it never recovered (or there was no drawdown).
    duration : pandas.Timedelta or None
        ``recovery - peak``; None if not recovered.
    """

    max_drawdown: float
    peak: pd.Timestamp | None
    trough: pd.Timestamp | None
    recovery: pd.Timestamp | None
    duration: pd.Timedelta | None


def max_drawdown_info(equity: pd.Series) -> DrawdownInfo:
    """Maximum drawdown of an equity curve with its peak, trough and recovery dates.

    Parameters
    ----------
    equity : pandas.Series of shape (n_periods,)
        Portfolio value indexed by date, positive.

    Returns
    -------
    DrawdownInfo
        ``max_drawdown`` is NaN and the dates None for fewer than 2 values.
    """
    values = pd.Series(equity, dtype=float).dropna()
    if len(values) < 2:
        return DrawdownInfo(np.nan, None, None, None, None)
    dd = drawdown(values).to_numpy()
    trough_pos = int(np.argmin(dd))
    if dd[trough_pos] >= 0:
        return DrawdownInfo(0.0, None, None, None, None)
    arr = values.to_numpy()
    peak_pos = int(np.argmax(arr[: trough_pos + 1]))
    after = np.nonzero(arr[trough_pos:] >= arr[peak_pos])[0]
    recovery = values.index[trough_pos + int(after[0])] if after.size else None
    peak = values.index[peak_pos]
    return DrawdownInfo(
        max_drawdown=float(dd[trough_pos]),
        peak=peak,
        trough=values.index[trough_pos],
        recovery=recovery,
        duration=None if recovery is None else recovery - peak,
    )


def calmar_ratio(
    returns: pd.Series | np.ndarray, *, periods_per_year: float | None = None
) -> float:
    """Calmar ratio: annualized return / |maximum drawdown|.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    periods_per_year : float, optional
        Inferred from a DatetimeIndex when omitted.

    Returns
    -------
    float
        Unit-free; NaN when there is no drawdown or no returns.

    Raises
    ------
    RiskcoreError
        If ``periods_per_year`` is given but not a positive finite number (checked only
        when there is a drawdown).
    DataError
        If ``periods_per_year`` is omitted and cannot be inferred (no DatetimeIndex, fewer
        than 2 timestamps, duplicate timestamps), when there is a drawdown.

    References
    ----------
    Young (1991), "Calmar ratio: a smoother tool", Futures; empyrical ``calmar_ratio``.
    """
    mdd = max_drawdown(returns)
    if not np.isfinite(mdd) or mdd >= 0:
        return np.nan
    return annualized_return(returns, periods_per_year=periods_per_year) / abs(mdd)


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise RiskcoreError(f"confidence level is {level}; it must lie strictly between 0 and 1")


def value_at_risk(returns: pd.Series | np.ndarray, *, level: float = 0.95) -> float:
    """Historical Value at Risk, as a positive loss per period.

    ``VaR = -quantile(r, 1 - level)`` with linear interpolation between order statistics
    (NumPy's default percentile).

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    level : float, default 0.95
        Confidence level (0.95 or 0.99 typically).

    Returns
    -------
    float
        Positive loss decimal (negative if even the tail returns are gains); NaN without
        returns.

    Raises
    ------
    RiskcoreError
        If ``level`` is not strictly between 0 and 1.

    References
    ----------
    Jorion (2007), *Value at Risk*, 3rd ed.; empyrical ``value_at_risk`` (which returns the
    quantile itself, a negative return).
    """
    _check_level(level)
    r = _clean(returns)
    if r.size == 0:
        return np.nan
    return float(-np.percentile(r, 100.0 * (1.0 - level)))


def expected_shortfall(returns: pd.Series | np.ndarray, *, level: float = 0.95) -> float:
    """Historical expected shortfall (conditional VaR), as a positive loss per period.

    The mean loss over the ``k = floor((n - 1) * (1 - level)) + 1`` worst of the ``n``
    returns.

    Parameters
    ----------
    returns : pandas.Series or numpy.ndarray of shape (n_periods,)
        Simple returns, decimal per period.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    float
        Positive loss decimal; NaN without returns.

    Raises
    ------
    RiskcoreError
        If ``level`` is not strictly between 0 and 1.

    References
    ----------
    Acerbi & Tasche (2002), "On the coherence of expected shortfall", Journal of Banking &
    Finance; empyrical ``conditional_value_at_risk`` (same tail size, opposite sign).
    """
    _check_level(level)
    r = _clean(returns)
    if r.size == 0:
        return np.nan
    k = int((r.size - 1) * (1.0 - level)) + 1
    return float(-np.mean(np.partition(r, k - 1)[:k]))


def risk_balance_error(
    relative_risk_contributions: pd.DataFrame, budget: pd.Series | pd.DataFrame
) -> float:
    """Average distance between realized relative risk contributions and the risk budgets.

    At each date the distance is ``0.5 * sum_i |rrc_i - b_i|`` (total variation distance: the
    share of portfolio risk that sits in the wrong asset; 0 = on budget, 1 = all risk
    misallocated); the result is its mean over the dates where it is defined.

    Parameters
    ----------
    relative_risk_contributions : pandas.DataFrame of shape (n_dates, n_assets)
        Relative risk contributions (rows summing to 1; NaN rows are ignored).
    budget : pandas.Series of shape (n_assets,) or pandas.DataFrame like the first argument
        Risk budgets (non-negative, summing to 1), constant or per date. Missing assets
        count as budget 0.

    Returns
    -------
    float
        Decimal in [0, 1]; NaN if no date is defined.

    Raises
    ------
    ValueError
        If an input holds values that cannot be read as floats, or ``budget`` names an
        asset twice.

    References
    ----------
    Roncalli (2013), *Introduction to Risk Parity and Budgeting*, ch. 2 (risk budgets).
    """
    rrc = pd.DataFrame(relative_risk_contributions, dtype=float)
    if isinstance(budget, pd.DataFrame):
        b = budget.reindex(index=rrc.index, columns=rrc.columns).fillna(0.0)
    else:
        b = pd.DataFrame(
            np.broadcast_to(pd.Series(budget, dtype=float).reindex(rrc.columns).fillna(0.0)
                            .to_numpy(), rrc.shape),
            index=rrc.index,
            columns=rrc.columns,
        )
    rows = rrc.notna().any(axis=1).to_numpy()
    if not rows.any():
        return np.nan
    diff = np.abs(rrc.to_numpy()[rows] - b.to_numpy()[rows])
    return float(np.mean(0.5 * np.nansum(diff, axis=1)))


@dataclass(frozen=True)
class PortfolioMetrics:
    """Performance, risk and rebalancing metrics of one portfolio (see the module docstring).

    Attributes
    ----------
    total_return : float
        ``final equity / initial equity - 1``, decimal.
    annualized_return, annualized_volatility : float
        Decimal per year.
    sharpe_ratio, sortino_ratio, calmar_ratio : float
    max_drawdown : float
        Negative decimal.
    max_drawdown_peak, max_drawdown_trough, max_drawdown_recovery : pandas.Timestamp or None
    var_95, var_99, es_95, es_99 : float
        Historical Value at Risk and expected shortfall, positive loss decimals per period.
    turnover : float
        Total one-way turnover over the period (NaN if not given); 1.0 = the whole portfolio
        replaced once.
    annualized_turnover : float
        ``turnover`` per year.
    costs_paid : float
        Total trading costs, USD (NaN if not given).
    cost_drag : float
        Costs paid as a decimal of the initial equity.
    n_rebalances : int or None
        Number of dates with trades.
    risk_balance_error : float
        Mean total-variation distance between relative risk contributions and budgets.
    periods_per_year : float
    """

    total_return: float
    annualized_return: float
    annualized_volatility: float
    sharpe_ratio: float
    sortino_ratio: float
    calmar_ratio: float
    max_drawdown: float
    max_drawdown_peak: pd.Timestamp | None
    max_drawdown_trough: pd.Timestamp | None
    max_drawdown_recovery: pd.Timestamp | None
    var_95: float
    var_99: float
    es_95: float
    es_99: float
    turnover: float
    annualized_turnover: float
    costs_paid: float
    cost_drag: float
    n_rebalances: int | None
    risk_balance_error: float
    periods_per_year: float

    def to_series(self, name: str | None = None) -> pd.Series:
        """All metrics as one Series (a column of a side-by-side table)."""
        return pd.Series(asdict(self), name=name, dtype=object)


def portfolio_metrics(
    equity: pd.Series,
    *,
    periods_per_year: float | None = None,
    risk_free: float = 0.0,
    turnover: float = np.nan,
    costs_paid: float = np.nan,
    n_rebalances: int | None = None,
    risk_balance_error: float = np.nan,
) -> PortfolioMetrics:
    """Compute every metric of an equity curve (and record the rebalancing figures given).

    Parameters
    ----------
    equity : pandas.Series of shape (n_periods,)
        Portfolio value indexed by date (USD or index level), positive. Leading NaN values
        (before the portfolio is invested) are dropped.
    periods_per_year : float, optional
        Inferred from the index when omitted.
    risk_free : float, default 0.0
        Annual risk-free rate (Sharpe) and required return (Sortino), decimal.
    turnover, costs_paid, n_rebalances, risk_balance_error : optional
        Rebalancing figures from a backtest, stored as given.

    Returns
    -------
    PortfolioMetrics

    Raises
    ------
    DataError
        If the equity has fewer than 2 values or non-positive values.
    """
    values = pd.Series(equity, dtype=float).dropna()
    if len(values) < 2:
        raise DataError(f"equity has {len(values)} value(s); metrics need at least 2")
    if (values <= 0).any():
        bad = values.index[values.to_numpy() <= 0][0]
        raise DataError(f"equity is {values[bad]} at {bad}; it must stay > 0")
    ppy = _periods(values, periods_per_year)
    returns = values.pct_change().iloc[1:]
    info = max_drawdown_info(values)
    years = (len(values) - 1) / ppy
    mdd = info.max_drawdown
    ann = annualized_return(returns, periods_per_year=ppy)
    return PortfolioMetrics(
        total_return=float(values.iloc[-1] / values.iloc[0] - 1.0),
        annualized_return=ann,
        annualized_volatility=annualized_volatility(returns, periods_per_year=ppy),
        sharpe_ratio=sharpe_ratio(returns, risk_free=risk_free, periods_per_year=ppy),
        sortino_ratio=sortino_ratio(returns, required_return=risk_free, periods_per_year=ppy),
        calmar_ratio=calmar_ratio(returns, periods_per_year=ppy),
        max_drawdown=mdd,
        max_drawdown_peak=info.peak,
        max_drawdown_trough=info.trough,
        max_drawdown_recovery=info.recovery,
        var_95=value_at_risk(returns, level=0.95),
        var_99=value_at_risk(returns, level=0.99),
        es_95=expected_shortfall(returns, level=0.95),
        es_99=expected_shortfall(returns, level=0.99),
        turnover=float(turnover),
        annualized_turnover=float(turnover) / years if years > 0 else np.nan,
        costs_paid=float(costs_paid),
        cost_drag=float(costs_paid) / float(values.iloc[0]),
        n_rebalances=n_rebalances,
        risk_balance_error=float(risk_balance_error),
        periods_per_year=ppy,
    )
