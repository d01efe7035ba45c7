"""Correlation by period: one window's correlation matrix, and calm days against stress days.

Correlations between coins rise when the market falls, so diversification is weakest when it
is needed most. :func:`window_correlation` gives the matrix of any analysis window (the
Correlation page's heatmap); :func:`calm_stress_correlation` splits the window's days into
stress days (the worst ``quantile`` of the equal-weight return of the coins priced that day)
and calm days (the rest) and compares the two matrices.

References
----------
Longin, F. & Solnik, B. (2001). Extreme correlation of international equity markets. Journal
of Finance 56(2), 649-676 (correlation conditional on market declines).
Forbes, K. & Rigobon, R. (2002). No contagion, only interdependence. Journal of Finance
57(5), 2223-2261 (conditional correlations are biased upward by higher volatility; read the
difference as "moved together more", not as a change of the unconditional correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskcore.errors import DataError

#: Fewest pairwise-complete returns a correlation needs to be shown.
MIN_CORRELATION_PERIODS = 10
#: Fewest stress days the calm-vs-stress view needs (the worst decile of a three-month crash
#: window is 9 days; fewer than 8 points give a correlation that is mostly noise).
MIN_STRESS_DAYS = 8


@dataclass(frozen=True)
class WindowCorrelation:
    """The correlation matrix of one window and the coins it could not include.

    Attributes
    ----------
    matrix : pandas.DataFrame of shape (n_assets, n_assets)
        Pearson correlation of simple returns, pairwise-complete observations.
    n_periods : int
        Rows (periods) in the window.
    notes : tuple of str
        One line per reason a coin was left out (too few returns, constant price), naming
        the coins.
    """

    matrix: pd.DataFrame
    n_periods: int
    notes: tuple[str, ...] = ()


def window_correlation(returns: pd.DataFrame, *,
                       min_periods: int = MIN_CORRELATION_PERIODS) -> WindowCorrelation:
    """Correlation matrix of a window of returns, leaving out coins it cannot measure.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns (decimal per period) of the window; NaN where a coin has none.
    min_periods : int, default :data:`MIN_CORRELATION_PERIODS`
        Fewest returns a coin needs in the window (and a pair in common).

    Returns
    -------
    WindowCorrelation
        The matrix over the coins kept, with a note per reason a coin was left out: fewer
        than ``min_periods`` returns, or zero variance (a constant price: correlation is not
        defined for it).

    Raises
    ------
    DataError
        If ``min_periods`` < 2.
    """
    if int(min_periods) < 2:
        raise DataError(f"min_periods is {min_periods!r}; it must be >= 2")
    counts = returns.notna().sum()
    short = {str(a): int(n) for a, n in counts.items() if n < min_periods}
    usable = returns[[a for a in returns.columns if str(a) not in short]]
    constant = [str(a) for a in usable.columns if not (usable[a].std() > 0)]
    usable = usable.drop(columns=constant)
    matrix = usable.corr(min_periods=int(min_periods))
    notes = []
    if short:
        notes.append(f"Fewer than {min_periods} returns in this window (left out): "
                     + ", ".join(f"{a} ({n})" for a, n in short.items()) + ".")
    if constant:
        notes.append("Constant price in this window, so no correlation is defined (left out): "
                     + ", ".join(constant) + ".")
    unmeasured = matrix.isna().to_numpy(dtype=bool) & ~np.eye(len(matrix), dtype=bool)
    if unmeasured.any():
        i, j = np.argwhere(unmeasured)[0]
        notes.append(f"Some pairs share fewer than {min_periods} returns (e.g. "
                     f"{matrix.index[i]} / {matrix.columns[j]}): shown blank.")
    return WindowCorrelation(matrix=matrix, n_periods=len(returns), notes=tuple(notes))


@dataclass(frozen=True)
class CalmStressCorrelation:
    """Correlations on stress days against calm days of one window.

    Attributes
    ----------
    calm, stress : pandas.DataFrame of shape (n_assets, n_assets)
        Correlation matrices on calm and on stress days (pairwise-complete).
    difference : pandas.DataFrame of shape (n_assets, n_assets)
        ``stress - calm``: positive where two coins moved together more on stress days.
    stress_days : pandas.DatetimeIndex
        The stress days: the worst ``quantile`` of the market return.
    threshold : float
        Market return (decimal per period) at or below which a day is a stress day.
    market : pandas.Series
        The market return used: equal-weight mean of the coins with a return that day.
    notes : tuple of str
        Coins left out and why.
    """

    calm: pd.DataFrame
    stress: pd.DataFrame
    difference: pd.DataFrame
    stress_days: pd.DatetimeIndex
    threshold: float
    market: pd.Series
    notes: tuple[str, ...] = ()


def calm_stress_correlation(returns: pd.DataFrame, *, quantile: float = 0.1,
                            min_periods: int = MIN_STRESS_DAYS) -> CalmStressCorrelation:
    """Compare correlations on the days the market fell most with the other days.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns (decimal per period) of the analysis window.
    quantile : float, default 0.1
        Share of days counted as stress days (0 < q < 0.5): the worst decile by default.
    min_periods : int, default :data:`MIN_STRESS_DAYS`
        Fewest stress days, and fewest returns a coin needs on stress days (and on calm days).

    Returns
    -------
    CalmStressCorrelation
        Both matrices over the coins measurable in both sets, their difference, the stress
        days and the threshold.

    Raises
    ------
    DataError
        If ``quantile`` is outside (0, 0.5), or the window has too few days to give
        ``min_periods`` stress days.
    """
    if not 0 < quantile < 0.5:
        raise DataError(f"quantile is {quantile!r}; it must be between 0 and 0.5 (0.1 = the "
                        "worst decile of days)")
    market = returns.mean(axis=1, skipna=True).dropna()
    n_stress = int(np.floor(quantile * len(market)))
    if n_stress < min_periods:
        raise DataError(f"the window has {len(market)} days with returns, so the worst "
                        f"{quantile:.0%} are {n_stress} day(s); need at least {min_periods}: "
                        "raise the share of stress days or widen the analysis window")
    threshold = float(np.sort(market.to_numpy())[n_stress - 1])
    stress_days = market.index[market.to_numpy() <= threshold]
    calm_days = market.index.difference(stress_days)
    stress = window_correlation(returns.loc[stress_days], min_periods=min_periods)
    calm = window_correlation(returns.loc[calm_days], min_periods=min_periods)
    both = [a for a in stress.matrix.columns if a in calm.matrix.columns]
    notes = tuple(f"Stress days: {n}" for n in stress.notes) + tuple(
        f"Calm days: {n}" for n in calm.notes)
    s = stress.matrix.loc[both, both]
    c = calm.matrix.loc[both, both]
    return CalmStressCorrelation(calm=c, stress=s, difference=s - c, stress_days=stress_days,
                                 threshold=threshold, market=market, notes=notes)
