"""Risk budgets as analysts enter them: typed percentages, some held fixed.

An analyst thinks "BTC takes exactly 40% of the risk, the rest share what is left", not in
relative slider positions. :func:`risk_budget_from_entries` turns typed percentages and a set
of held coins into the risk budget (non-negative, summing to 1) the allocation uses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd

from riskcore.errors import DataError


def risk_budget_from_entries(entries: Mapping[str, float], held: Iterable[str] = ()
                             ) -> pd.Series:
    """Turn typed budget percentages and held coins into a risk budget summing to 1.

    Parameters
    ----------
    entries : mapping of str to float
        Coin -> typed budget in percent (>= 0), in display order.
    held : iterable of str, optional
        Coins whose typed percentage is used exactly. The other coins share what the held
        coins leave (``100 - sum(held)``) in proportion to their typed values (equally when
        they are all 0). With no coin held, all typed values are scaled to sum to 100%.

    Returns
    -------
    pandas.Series
        Risk budget per coin (decimal, sums to 1), indexed like ``entries``.

    Raises
    ------
    DataError
        If a value is negative or not finite, a held coin is not in ``entries``, the held
        coins add up to more than 100%, held coins add up to less than 100% with no other
        coin to take the rest, or every value is 0 (naming the values).

    Examples
    --------
    BTC held at 40%, three others typed equal: they get 20% each.

    >>> risk_budget_from_entries({"BTC": 40, "ETH": 25, "SOL": 25, "XRP": 25}, {"BTC"})
    ... # doctest: +NORMALIZE_WHITESPACE
    BTC    0.4
    ETH    0.2
    SOL    0.2
    XRP    0.2
    dtype: float64
    """
    values = pd.Series({str(k): v for k, v in entries.items()}, dtype="float64")
    if values.empty:
        raise DataError("no risk budget entered: select at least one coin")
    bad = [f"{k} = {v!r}" for k, v in values.items() if not (math.isfinite(v) and v >= 0)]
    if bad:
        raise DataError(f"risk budget must be a percentage >= 0: {', '.join(bad)}")
    fixed = [str(h) for h in held]
    unknown = [h for h in fixed if h not in values.index]
    if unknown:
        raise DataError(f"held coins not among the budgeted coins: {', '.join(unknown)}")
    held_sum = float(values[fixed].sum())
    free = values.drop(index=fixed)
    if not fixed:
        if values.sum() <= 0:
            raise DataError("every risk budget is 0%; give at least one coin a budget > 0")
        return values / values.sum()
    if held_sum > 100.0 + 1e-9:
        raise DataError(f"the held budgets add up to {held_sum:.2f}%, more than 100% ("
                        + ", ".join(f"{h} {values[h]:g}%" for h in fixed) + ")")
    rest = 100.0 - held_sum
    budget = values.copy()
    if free.empty:
        if rest > 1e-9:
            raise DataError(f"every coin is held and the budgets add up to {held_sum:.2f}%, "
                            "not 100%: release a coin to take the rest")
    elif free.sum() > 0:
        budget[free.index] = free / free.sum() * rest
    else:
        budget[free.index] = rest / len(free)
    if budget.sum() <= 0:
        raise DataError("every risk budget is 0%; give at least one coin a budget > 0")
    return budget / 100.0
