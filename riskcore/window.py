"""The analysis window: which dates the dashboard analyses, and which coins it can use then.

Real uploads never form one clean panel: coins list and die at different dates and files end
on different days. Every page therefore works on one analysis window ``[start, as_of]``:

- the **as-of date** is the decision date. By default it is the last date on which every
  selected coin has a price (:func:`default_as_of`); every "last N periods" (covariance
  lookbacks, rolling windows, the correlation heatmap) counts back from it;
- the **start date** bounds what is analysed (charts, correlations, the simulator's first
  trade); by default it is the first date of the panel;
- the **universe follows the window**: a coin with too little data in the lookback that ends
  at the as-of date is left out of the estimate with a one-line note naming it and the
  number of periods it has (:func:`usable_assets`), never an error for the whole page.

Named windows (:data:`WINDOW_PRESETS`) set both dates in one click: the crypto crashes of
2020-2023 (each bracketing the episode with some weeks before and after, so a correlation
has enough observations) and calm periods for comparison. The exact crash days used by the
stress replays are :data:`riskcore.stress.CRASH_WINDOWS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskcore.errors import DataError

#: Named analysis windows ``name -> (start, as_of)`` as ISO dates (UTC, inclusive).
WINDOW_PRESETS: dict[str, tuple[str, str]] = {
    # COVID sell-off: BTC's lowest close 2020-03-12; weeks before and the rebound after
    "COVID crash (Feb-Apr 2020)": ("2020-02-01", "2020-04-30"),
    # Tesla/China sell-off 2021-05-12 .. 2021-05-23 and the June lows
    "May 2021 crash (Apr-Jun 2021)": ("2021-04-01", "2021-06-30"),
    # UST de-peg 2022-05-07, LUNA collapse, then Celsius/3AC in June
    "LUNA collapse (Apr-Jun 2022)": ("2022-04-01", "2022-06-30"),
    # FTX halts withdrawals 2022-11-08, files for bankruptcy 2022-11-11
    "FTX collapse (Oct-Dec 2022)": ("2022-10-01", "2022-12-31"),
    # Silicon Valley Bank fails 2023-03-10, USDC de-pegs 2023-03-11
    "USDC de-peg (Feb-Apr 2023)": ("2023-02-01", "2023-04-30"),
    # calm markets for comparison: BTC in a narrow range, low realized volatility
    "Calm: summer 2020 (Jun-Sep)": ("2020-06-01", "2020-09-30"),
    "Calm: summer 2023 (Jun-Sep)": ("2023-06-01", "2023-09-30"),
}

#: Share of the lookback a coin needs returns in to enter an estimate on the common window
#: (see usable_assets): a coin with less would shrink the window every other coin shares.
MIN_COVERAGE = 0.9
#: The same with pairwise alignment, where each pair is estimated on its own overlap.
PAIRWISE_COVERAGE = 0.25


@dataclass(frozen=True)
class AnalysisWindow:
    """The dates every page analyses.

    Attributes
    ----------
    start : pandas.Timestamp
        First date analysed (UTC, inclusive).
    as_of : pandas.Timestamp
        Decision date (UTC, inclusive): estimates use data up to and including it.
    notes : tuple of str
        How the dates were chosen (e.g. which coins have no price at the as-of date).
    """

    start: pd.Timestamp
    as_of: pd.Timestamp
    notes: tuple[str, ...] = ()

    def slice(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Return the rows of ``frame`` (indexed by date) inside ``[start, as_of]``."""
        return frame.loc[self.start:self.as_of]


def _timestamp(value: Any, what: str, tz: Any) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} {value!r} is not a date (use YYYY-MM-DD)") from exc
    if stamp is pd.NaT:
        raise DataError(f"{what} is missing; give a date (YYYY-MM-DD)")
    if tz is not None:
        stamp = stamp.tz_localize(tz) if stamp.tzinfo is None else stamp.tz_convert(tz)
    return stamp


def _check_panel(prices: Any) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices must be a DataFrame indexed by date (a price panel)")
    if prices.empty or prices.shape[1] == 0:
        raise DataError("the price panel is empty: load prices first")
    return prices


def default_as_of(prices: pd.DataFrame) -> tuple[pd.Timestamp, tuple[str, ...]]:
    """Return the default as-of date of a panel and a note on how it was chosen.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (sorted ``DatetimeIndex``; NaN where a coin has no price).

    Returns
    -------
    as_of : pandas.Timestamp
        The last date on which every coin has a price. If no such date exists (a file that
        covers only a few weeks far from the others), the last date on which the largest
        number of coins have a price.
    notes : tuple of str
        Empty when every coin is priced at ``as_of``; otherwise one sentence naming the coins
        without a price then and what to do.

    Raises
    ------
    DataError
        If ``prices`` is not a non-empty price panel or has no price at all.
    """
    prices = _check_panel(prices)
    counts = prices.notna().sum(axis=1).to_numpy()
    if counts.max(initial=0) == 0:
        raise DataError("the price panel has no price at all")
    n = prices.shape[1]
    full = np.flatnonzero(counts == n)
    if full.size:
        return prices.index[full[-1]], ()
    best = np.flatnonzero(counts == counts.max())[-1]
    as_of = prices.index[best]
    missing = [str(a) for a in prices.columns if pd.isna(prices.iloc[best][a])]
    note = (f"No date has a price for all {n} selected coins: as-of is {as_of:%Y-%m-%d}, the "
            f"last date with {counts[best]} of them. Without a price then: "
            f"{', '.join(missing)}. Deselect them in the sidebar or pick another as-of date.")
    return as_of, (note,)


def analysis_window(prices: pd.DataFrame, start: Any = None, as_of: Any = None
                    ) -> AnalysisWindow:
    """Resolve the analysis window of a panel from the user's dates (None = default).

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel of the selected coins.
    start : date-like, optional
        First date analysed; default the first date of the panel. Dates before the panel
        start are moved to it.
    as_of : date-like, optional
        Decision date; default :func:`default_as_of`. Dates after the panel end are moved to
        it.

    Returns
    -------
    AnalysisWindow
        ``start <= as_of``, both dates of the panel's index range, with notes.

    Raises
    ------
    DataError
        If a date cannot be read, the window is empty (start after as-of) or lies outside the
        panel, naming the dates.
    """
    prices = _check_panel(prices)
    index = prices.index
    tz = index.tz
    notes: list[str] = []
    if as_of is None:
        end, chosen = default_as_of(prices)
        notes.extend(chosen)
    else:
        end = _timestamp(as_of, "as-of date", tz)
        if end < index[0]:
            raise DataError(f"as-of date {end:%Y-%m-%d} is before the first price "
                            f"({index[0]:%Y-%m-%d})")
        end = min(end, index[-1])
    first = index[0] if start is None else max(_timestamp(start, "start date", tz), index[0])
    if first > end:
        raise DataError(f"the start date {first:%Y-%m-%d} is after the as-of date "
                        f"{end:%Y-%m-%d}: the analysis window is empty")
    return AnalysisWindow(start=first, as_of=end, notes=tuple(notes))


def preset_window(name: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """Return the ``(start, as_of)`` dates (UTC) of a named window of :data:`WINDOW_PRESETS`.

    Raises
    ------
    DataError
        If the name is unknown (the message lists the known ones).
    """
    if name not in WINDOW_PRESETS:
        raise DataError(f"unknown window {name!r}; known windows: {', '.join(WINDOW_PRESETS)}")
    start, end = WINDOW_PRESETS[name]
    return pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")


@dataclass(frozen=True)
class Universe:
    """The coins an estimate can use in a lookback, and the ones left out.

    Attributes
    ----------
    assets : tuple of str
        Coins with enough data, in panel order.
    excluded : dict of str to int
        Coins left out -> number of returns they have in the lookback.
    lookback : int
        Periods of the lookback (ending at the as-of date) that were counted.
    notes : tuple of str
        One line per exclusion reason, naming the coins and their period counts.
    """

    assets: tuple[str, ...]
    excluded: dict[str, int]
    lookback: int
    notes: tuple[str, ...] = ()


def min_returns(lookback: int, alignment: str = "common") -> int:
    """Fewest valid returns a coin needs in a lookback to enter an estimate: the one rule.

    The decision at one date (:func:`riskcore.portfolio.build_portfolio`), every rebalance
    of the simulator (:func:`riskcore.backtest.run_backtest`) and the pages' notes
    (:func:`usable_assets`) all ask this function, so a coin is in or out of the universe
    for the same reason everywhere.

    Parameters
    ----------
    lookback : int
        Returns in the estimation window (periods, >= 2).
    alignment : {"common", "pairwise"}, default "common"
        ``"common"``: :data:`MIN_COVERAGE` of the lookback (a coin with less would shrink the
        window every other coin shares); ``"pairwise"``: :data:`PAIRWISE_COVERAGE` (each pair
        is estimated on its own overlap).

    Returns
    -------
    int
        ``max(2, ceil(coverage * lookback))``.

    Raises
    ------
    DataError
        If ``lookback`` < 2 or ``alignment`` is unknown.
    """
    if isinstance(lookback, bool) or int(lookback) < 2:
        raise DataError(f"lookback is {lookback!r}; it must be an integer >= 2 periods")
    if alignment not in ("common", "pairwise"):
        raise DataError(f"alignment is {alignment!r}; it must be 'common' or 'pairwise'")
    share = PAIRWISE_COVERAGE if alignment == "pairwise" else MIN_COVERAGE
    return max(2, int(np.ceil(share * int(lookback) - 1e-9)))


def window_lookback(lookback: int, n_dates: int) -> int:
    """Return the lookback a decision at the end of a window of ``n_dates`` dates can use.

    ``min(lookback, n_dates)``, at least 2: the pages and :func:`riskcore.scenario.run_scenario`
    decide on the analysis window, whose first date has no return
    (:func:`riskcore.portfolio.build_portfolio` counts it as missing), so a lookback longer
    than the window uses the window.

    Parameters
    ----------
    lookback : int
        The specification's lookback (periods).
    n_dates : int
        Dates in the analysis window up to the as-of date.

    Returns
    -------
    int
    """
    return max(min(int(lookback), int(n_dates)), 2)


def usable_assets(returns: pd.DataFrame, lookback: int | None = None, *,
                  alignment: str = "common") -> Universe:
    """Split coins into those with enough returns in the lookback and those left out.

    The lookback is the last ``lookback`` rows of ``returns`` (which ends at the as-of date).
    A coin enters when it has at least :func:`min_returns` returns there; otherwise it is
    left out with a note.

    Parameters
    ----------
    returns : pandas.DataFrame of shape (n_periods, n_assets)
        Simple returns (decimal per period) up to the as-of date; NaN where a coin has none.
    lookback : int, optional
        Number of most recent periods counted; default all rows. A lookback longer than the
        data counts the rows there are.
    alignment : {"common", "pairwise"}, default "common"
        Which coverage rule applies (:func:`min_returns`).

    Returns
    -------
    Universe
        The usable coins, the ones left out with their counts, and the notes.

    Raises
    ------
    DataError
        If ``lookback`` < 2 or the alignment is unknown.
    """
    if lookback is not None and (isinstance(lookback, bool) or int(lookback) < 2):
        raise DataError(f"lookback is {lookback!r}; it must be an integer >= 2 periods")
    window = returns if lookback is None else returns.iloc[-int(lookback):]
    rows = len(window)
    counts = window.notna().sum()
    needed = min_returns(max(rows, 2), alignment)
    kept = tuple(str(a) for a in window.columns if counts[a] >= needed)
    excluded = {str(a): int(counts[a]) for a in window.columns if counts[a] < needed}
    notes: tuple[str, ...] = ()
    if excluded:
        end = f"{window.index[-1]:%Y-%m-%d}" if rows else "the as-of date"
        notes = (left_out_note(end, rows, needed, excluded),)
    return Universe(assets=kept, excluded=excluded, lookback=rows, notes=notes)


def left_out_note(end: str, lookback: int, needed: int, counts: dict[str, int]) -> str:
    """Name the coins left out of an estimate and their return counts, in one sentence."""
    listed = ", ".join(f"{a} ({n})" for a, n in counts.items())
    return (f"Left out of the estimate on {end}, no price that day or too little data in the "
            f"{lookback} periods up to it (a coin needs {needed} returns): {listed}. Shorten "
            "the lookback, move the window or use pairwise alignment to include them.")


def universe_start(prices: pd.DataFrame, lookback: int, *, min_share: float = 0.5
                   ) -> tuple[pd.Timestamp, str]:
    """First date on which at least ``min_share`` of the coins have a full lookback.

    A walk-forward run from the first date of a panel that starts in 2013 would allocate
    among the two coins that existed then and compound that for years; the simulator's
    default start (when the user has not chosen a window) is instead the first date on
    which most of the selected coins can be estimated.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel up to the as-of date.
    lookback : int
        Returns a coin needs before a date to be estimated then (>= 1).
    min_share : float, default 0.5
        Share of the coins (0 < x <= 1) that must have ``lookback`` returns.

    Returns
    -------
    start : pandas.Timestamp
        That date; the last date of the panel if no date qualifies.
    note : str
        One sentence saying why the run starts then.

    Raises
    ------
    DataError
        If ``lookback`` < 1 or ``min_share`` is outside (0, 1].
    """
    prices = _check_panel(prices)
    if isinstance(lookback, bool) or int(lookback) < 1:
        raise DataError(f"lookback is {lookback!r}; it must be an integer >= 1")
    if not 0 < min_share <= 1:
        raise DataError(f"min_share is {min_share!r}; it must be in (0, 1]")
    counts = prices.pct_change(fill_method=None).notna().rolling(int(lookback)).sum()
    ready = (counts >= min_returns(max(int(lookback), 2))).sum(axis=1)
    needed = max(1, int(np.ceil(min_share * prices.shape[1])))
    hits = np.flatnonzero(ready.to_numpy() >= needed)
    start = prices.index[hits[0]] if hits.size else prices.index[-1]
    note = (f"The run starts on {start:%Y-%m-%d}, the first date on which {needed} of the "
            f"{prices.shape[1]} coins have enough of the {int(lookback)} periods of returns "
            "to be estimated; set a start "
            "date under Analysis window in the sidebar to start elsewhere.")
    return start, note


def common_window_note(prices: pd.DataFrame) -> str:
    """Say which dates all coins share, and which coins start later or end earlier.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (sorted ``DatetimeIndex``; NaN where a coin has no price).

    Returns
    -------
    str
        One or a few sentences: the common window (first and last date on which every coin
        has a price, and its number of periods), the coins listing after the panel's first
        date, the coins whose prices end before its last date; or, when no date has a price
        for every coin, a sentence saying to pick fewer coins.
    """
    valid = prices.notna().to_numpy()
    everywhere = valid.all(axis=1)
    if not everywhere.any():
        return "The selected assets never all trade at the same time: pick fewer assets."
    common = prices.index[everywhere]
    # every column has a price somewhere here, so argmax finds its first and last one
    first = pd.Series(prices.index[valid.argmax(axis=0)], index=prices.columns)
    last = pd.Series(prices.index[len(valid) - 1 - valid[::-1].argmax(axis=0)],
                     index=prices.columns)
    text = (
        f"Common window of all {prices.shape[1]} assets: {common[0]:%Y-%m-%d} → "
        f"{common[-1]:%Y-%m-%d} ({len(common):,} periods)."
    )
    late = first[first > prices.index[0]].sort_values()
    if len(late):
        text += " Later listings: " + ", ".join(f"{a} from {d:%Y-%m-%d}" for a, d in late.items())
        text += "."
    early_end = last[last < prices.index[-1]]
    if len(early_end):
        text += " Ending early: " + ", ".join(f"{a} on {d:%Y-%m-%d}" for a, d in early_end.items())
        text += "."
    return text
