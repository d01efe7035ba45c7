import pandas as pd
import pytest

from riskcore.errors import DataError
from riskcore.periods import infer_periods_per_year


@pytest.mark.parametrize(
    ("freq", "expected"),
    [
        ("D", 365),
        ("B", 252),
        ("h", 8760),
        ("4h", 2190),
        ("W", 52),
        ("15min", 35040),
        # 365 / 2 = 182.5 is rounded half up; 365 / 3 = 121.7.
        ("2D", 183),
        ("3D", 122),
    ],
)
def test_periods_per_year_from_the_calendar(freq, expected):
    index = pd.date_range("2021-01-01", periods=400, freq=freq, tz="UTC")
    assert infer_periods_per_year(index) == expected


def test_daily_with_gaps_is_still_daily():
    index = pd.date_range("2021-01-01", periods=400, freq="D", tz="UTC").delete([5, 6, 7, 50])
    assert infer_periods_per_year(index) == 365


def test_too_short_or_duplicated_index_is_refused():
    with pytest.raises(DataError, match="from 1 timestamp"):
        infer_periods_per_year(pd.DatetimeIndex(["2021-01-01"], tz="UTC"))
    dup = pd.DatetimeIndex(["2021-01-01"] * 3, tz="UTC")
    with pytest.raises(DataError, match="duplicate timestamps"):
        infer_periods_per_year(dup)


def test_bars_every_two_or_three_days_are_not_called_daily():
    """A 2- or 3-day spacing annualizes by its own length, weekday-only or not."""
    for freq, expected in [("2D", 183), ("3D", 122)]:
        index = pd.date_range("2021-01-04", periods=300, freq=freq, tz="UTC")
        weekdays = index[index.day_of_week < 5]
        assert infer_periods_per_year(weekdays) == expected
