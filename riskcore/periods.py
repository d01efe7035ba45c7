"""Annualization: the one table of periods per year, and its inference from a time index.

Crypto trades 24/7, so daily data has 365 periods a year; exchange-traded assets with a
weekday-only calendar have 252. Everything in riskcore annualizes through this module.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from riskcore.errors import DataError

#: Periods per year by bar length, for markets that trade around the clock.
PERIODS_PER_YEAR: dict[str, int] = {
    "1min": 525_600,
    "5min": 105_120,
    "15min": 35_040,
    "30min": 17_520,
    "1h": 8_760,
    "4h": 2_190,
    "1D": 365,
    "1W": 52,
}
#: Periods per year of daily data on a weekday-only (exchange) calendar.
TRADING_DAYS_PER_YEAR = 252


_DAY = 86_400.0


def _median_spacing(index: pd.DatetimeIndex) -> float:
    """Median spacing of a time index in seconds (the bar length)."""
    if len(index) < 2:
        raise DataError(f"cannot infer the data frequency from {len(index)} timestamp(s)")
    median_seconds = pd.Series(index).diff().median().total_seconds()
    if median_seconds <= 0:
        raise DataError("the time index has duplicate timestamps; cannot infer its frequency")
    return median_seconds


def _is_daily(median_seconds: float) -> bool:
    """Daily bars: a median spacing between 0.75 and 1.5 days."""
    return 0.75 * _DAY <= median_seconds <= 1.5 * _DAY


def infer_periods_per_year(index: pd.DatetimeIndex) -> int:
    """Infer the number of periods per year from the spacing of a time index.

    Parameters
    ----------
    index : pandas.DatetimeIndex of shape (n_periods,)
        Sorted timestamps of a price panel.

    Returns
    -------
    int
        365 for daily data that includes weekends (24/7 crypto), 252 for daily data on a
        weekday-only calendar, otherwise the 24/7 count for the median bar length
        (8,760 for hourly bars, 183 for bars every 2 days, 122 for bars every 3 days,
        52 for weekly bars).

    Raises
    ------
    DataError
        If the index has fewer than 2 timestamps or a non-positive median spacing.

    Notes
    -----
    Data is daily when its median spacing lies between 0.75 and 1.5 days (weekday-only
    daily data has a median spacing of 1 day, the weekend gaps being the minority). Daily
    data is called weekday-only when fewer than 1% of its timestamps fall on a Saturday or
    Sunday. Any other spacing gives ``365 days / median spacing``, rounded half up (bars
    every 2 days: 182.5 -> 183). The convention follows empyrical's
    ``ANNUALIZATION_FACTORS``.
    """
    median_seconds = _median_spacing(index)
    day = _DAY
    if _is_daily(median_seconds):
        weekend_share = float(np.mean(index.day_of_week >= 5))
        return TRADING_DAYS_PER_YEAR if weekend_share < 0.01 else PERIODS_PER_YEAR["1D"]
    return max(1, int(np.floor(365 * day / median_seconds + 0.5)))


def periods_per_day(index: pd.DatetimeIndex) -> float:
    """Return how many bars of a time index make one calendar day.

    Used to turn volume per bar into volume per day (the unit of the market-impact cost):
    daily bars, on a 24/7 or a weekday-only calendar alike, are one bar per day; hourly bars
    are 24.

    Parameters
    ----------
    index : pandas.DatetimeIndex of shape (n_periods,)
        Sorted timestamps of a price panel.

    Returns
    -------
    float
        1.0 for daily data (median spacing between 0.75 and 1.5 days, as in
        :func:`infer_periods_per_year`), otherwise ``1 day / median spacing`` (24 for hourly
        bars, 1/7 for weekly bars).

    Raises
    ------
    DataError
        If the index has fewer than 2 timestamps or a non-positive median spacing.
    """
    median_seconds = _median_spacing(index)
    return 1.0 if _is_daily(median_seconds) else _DAY / median_seconds
