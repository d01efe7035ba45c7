"""From a loaded price panel to the data every page analyses: one pipeline, no Streamlit.

The dashboard and the command line (``python -m riskcore run``) both call
:func:`prepare_dataset`, so a page and a scenario run on the same files give the same numbers:

    panel (+ volume per bar) -> selection -> cleaning (:func:`riskcore.quality.clean_prices`)
    -> analysis window (:func:`riskcore.window.analysis_window`) -> :class:`Dataset`

Coins the cleaning leaves without any price, and coins without a price inside the window, are
left out with a note naming them (never an error for the whole run).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from riskcore.backtest import tradable_from_cleaning
from riskcore.errors import DataError
from riskcore.periods import infer_periods_per_year, periods_per_day
from riskcore.quality import QualityPolicy, clean_prices
from riskcore.window import AnalysisWindow, analysis_window

#: The dashboard's default cleaning choices: zero and negative prices are set to NaN (they
#: are never real crypto prices and make returns infinite), everything else is kept.
DEFAULT_CLEANING = QualityPolicy(nonpositive="drop")


@dataclass(frozen=True)
class Dataset:
    """What the pages analyse: the selected coins inside the analysis window, and their history.

    Attributes
    ----------
    prices : pandas.DataFrame of shape (n_window, n_assets)
        The analysis window ``[start, as_of]`` every page shows and estimates on (USD per
        unit, NaN where missing).
    periods_per_year : int
        :func:`riskcore.periods.infer_periods_per_year` of the cleaned panel.
    source : str
        Where the prices come from, for display ("Simulated demo market", "Uploaded files:
        ...", "Yahoo Finance ...").
    notes : tuple of str
        What the source said (the demo's description, Yahoo's fetch messages).
    actions : pandas.DataFrame or None
        Every change the cleaning choices made (:attr:`riskcore.quality.CleanResult.actions`).
    volume : pandas.DataFrame of shape (n_history, n_assets_with_volume) or None
        USD traded per day (the unit of the market-impact cost) where the source has it, on
        the dates of ``history``; None when no selected coin has a volume.
    history : pandas.DataFrame of shape (n_history, n_assets) or None
        From the first loaded date to the as-of date: rolling statistics and the simulator's
        estimates may look back before the window start.
    panel : pandas.DataFrame or None
        Everything loaded and cleaned for the selected coins (all dates; the Data page).
    window : AnalysisWindow or None
        The resolved window dates and how they were chosen.
    tradable : pandas.DataFrame of bool, shape (n_history, n_assets) or None
        False where a price was not in the source but made by cleaning (forward-filled or
        replaced): nothing is ever traded at such a price
        (:func:`riskcore.backtest.tradable_from_cleaning`).
    empty_assets : tuple of str
        Selected coins the cleaning left without any price (left out of everything).
    window_notes : tuple of str
        How the window was chosen and which coins have no price inside it (left out).
    """

    prices: pd.DataFrame
    periods_per_year: int
    source: str
    notes: tuple[str, ...] = field(default_factory=tuple)
    actions: pd.DataFrame | None = None
    volume: pd.DataFrame | None = None
    history: pd.DataFrame | None = None
    panel: pd.DataFrame | None = None
    window: AnalysisWindow | None = None
    tradable: pd.DataFrame | None = None
    empty_assets: tuple[str, ...] = ()
    window_notes: tuple[str, ...] = ()


def prepare_dataset(
    panel: pd.DataFrame,
    *,
    volume: pd.DataFrame | None = None,
    policy: QualityPolicy | None = DEFAULT_CLEANING,
    assets: Sequence[str] | None = None,
    start: Any = None,
    as_of: Any = None,
    source: str = "",
    notes: Sequence[str] = (),
) -> Dataset:
    """Select, clean and window a loaded price panel: the data pipeline of every page.

    Steps: keep the ``assets`` columns; apply the cleaning ``policy``
    (:func:`riskcore.quality.clean_prices`) and leave out coins it leaves without a price;
    resolve the analysis window (:func:`riskcore.window.analysis_window`; ``None`` dates give
    the default window) and leave out coins without a price inside it; mark prices made by
    cleaning as not tradable; convert volume per bar to USD per day
    (:func:`riskcore.periods.periods_per_day`).

    Parameters
    ----------
    panel : pandas.DataFrame of shape (n_periods, n_columns)
        Price panel before cleaning (USD per unit, sorted UTC ``DatetimeIndex``, NaN where
        missing), e.g. :attr:`riskcore.ingest.LoadResult.prices` or
        :func:`riskcore.demo_prices`.
    volume : pandas.DataFrame, optional
        Traded volume in USD per bar (:attr:`riskcore.ingest.LoadResult.volume`), on the
        panel's dates; its columns are a subset of the panel's. Empty or None: no volume.
    policy : QualityPolicy or None, default :data:`DEFAULT_CLEANING`
        Cleaning choices; None keeps every price as loaded.
    assets : sequence of str, optional
        Columns to analyse (the sidebar's selection), in that order; default every column.
    start, as_of : date-like, optional
        Analysis window; None = the default (first loaded date; last date on which every
        selected coin has a price).
    source : str, optional
        Label of the source, stored in :attr:`Dataset.source`.
    notes : sequence of str, optional
        What the source said, stored in :attr:`Dataset.notes`.

    Returns
    -------
    Dataset
        With ``prices``, ``history``, ``panel``, ``tradable``, ``volume`` (USD per day),
        ``periods_per_year``, the window and the notes filled in. It may hold fewer than two
        coins or dates: callers that need more check ``prices.shape``.

    Raises
    ------
    DataError
        If ``panel`` is not a price panel, ``assets`` names a column it lacks, the cleaning
        leaves no price at all, or the window dates cannot be read or lie outside the data
        (from :func:`riskcore.window.analysis_window`).
    """
    if not isinstance(panel, pd.DataFrame) or not isinstance(panel.index, pd.DatetimeIndex):
        raise DataError("prices must be a DataFrame indexed by date (a price panel)")
    chosen = list(panel.columns) if assets is None else [str(a) for a in assets]
    missing = [a for a in chosen if a not in panel.columns]
    if missing:
        shown = ", ".join(map(str, panel.columns[:20]))
        raise DataError(f"no prices for {', '.join(missing)} in the data (it holds: {shown}"
                        f"{', ...' if panel.shape[1] > 20 else ''}); select coins it has")
    cleaned = clean_prices(panel[chosen], policy)
    empty = [a for a in chosen if cleaned.prices[a].isna().all()]
    kept = cleaned.prices.drop(columns=empty).dropna(how="all")
    if kept.empty or kept.shape[1] == 0:
        raise DataError("none of the selected coins has a price after cleaning; select other "
                        "coins or keep the prices the cleaning choices remove")
    window = analysis_window(kept, start, as_of)
    periods_per_year = infer_periods_per_year(kept.index)
    prices = window.slice(kept)
    outside = [a for a in prices.columns if prices[a].isna().all()]
    window_notes = list(window.notes)
    if outside:
        window_notes.append(f"No price inside the window for {', '.join(outside)}: left out "
                            "(move the window in the sidebar to include them).")
        prices, kept = prices.drop(columns=outside), kept.drop(columns=outside)
    history = kept.loc[:window.as_of]
    tradable = tradable_from_cleaning(history, cleaned.actions)
    usd_per_day = None
    if volume is not None and not volume.empty:
        known = [a for a in history.columns if a in volume.columns]
        if known:  # per-bar volume -> USD per day, the unit of the impact cost
            usd_per_day = (volume.reindex(index=history.index, columns=known)
                           * periods_per_day(kept.index))
    return Dataset(prices, periods_per_year, source, tuple(notes), cleaned.actions,
                   usd_per_day, history=history, panel=kept, window=window, tradable=tradable,
                   empty_assets=tuple(empty), window_notes=tuple(window_notes))
