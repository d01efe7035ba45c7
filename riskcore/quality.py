"""Data quality of a price panel: report the defects, fix them by an explicit policy, count overlap.

Three steps the Data page shows in order:

1. :func:`quality_report` -- one row per asset: history, gaps, duplicate timestamps,
   zero/negative/null/non-numeric/infinite/too large prices, stale runs, extreme returns,
   stablecoin de-pegs.
2. :func:`clean_prices` with a :class:`QualityPolicy` -- the user's choice per issue (keep,
   drop, forward-fill up to N periods). Every changed cell appears in ``CleanResult.actions``;
   with the default policy (keep everything) nothing changes.
3. :func:`observation_counts` -- how many observations each alignment leaves: the common
   window (timestamps where every asset has a price) or per-pair overlap.

The checks follow the usual data-screening practice for financial time series (stale quotes,
outliers, gaps); see Brownlees & Gallo (2006), "Financial econometric analysis at
ultra-high frequency: data handling concerns", Computational Statistics & Data Analysis 51.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from riskcore.assets import stablecoins
from riskcore.errors import DataError

__all__ = [
    "CleanResult",
    "QualityPolicy",
    "clean_prices",
    "observation_counts",
    "quality_report",
]

_ACTIONS: dict[str, tuple[str, ...]] = {
    "missing": ("keep", "ffill"),
    "nonpositive": ("keep", "drop", "ffill"),
    "stale": ("keep", "drop"),
    "extreme": ("keep", "drop", "ffill"),
    "depeg": ("keep", "drop", "ffill"),
}
_ACTION_COLUMNS = ["asset", "start", "end", "periods", "issue", "action", "detail"]


def _check_panel(prices: Any) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame):
        raise DataError(f"prices must be a pandas DataFrame, got {type(prices).__name__}")
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices must have a DatetimeIndex (the price panel of riskcore.ingest)")
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise DataError("prices must have a sorted index without duplicate timestamps")
    bad = [c for c in prices.columns if not pd.api.types.is_numeric_dtype(prices[c])]
    if bad:
        raise DataError(f"price column {bad[0]!r} is not numeric; prices must be float")
    return prices.astype("float64")


def _check_number(value: Any, name: str, *, minimum: float, integer: bool = False) -> None:
    ok = isinstance(value, (int, np.integer)) if integer else isinstance(
        value, (int, float, np.integer, np.floating)
    )
    if isinstance(value, bool) or not ok or not np.isfinite(value) or value < minimum:
        kind = "an integer" if integer else "a number"
        raise DataError(f"{name} is {value!r}; it must be {kind} >= {minimum}")


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Return the (start, stop) positions of the True runs of a boolean array."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _inside(series: pd.Series) -> np.ndarray:
    """Mark the positions between an asset's first and last observed price (inclusive)."""
    observed = series.notna().to_numpy()
    inside = np.zeros(len(series), dtype=bool)
    if observed.any():
        first, last = np.flatnonzero(observed)[[0, -1]]
        inside[first : last + 1] = True
    return inside


def _stale_mask(series: pd.Series, stale_periods: int) -> tuple[np.ndarray, int]:
    """Flag repeated prices (all but the first of a run of >= stale_periods equal prices).

    Equality is between consecutive observed prices (NaN periods are skipped). Returns the
    mask and the number of stale runs.
    """
    values = series.to_numpy()
    mask = np.zeros(len(values), dtype=bool)
    observed = np.flatnonzero(~np.isnan(values))
    if observed.size < 2:
        return mask, 0
    obs = values[observed]
    same = np.concatenate([[False], obs[1:] == obs[:-1]])
    n_runs = 0
    for start, stop in _runs(same):
        run_length = stop - start + 1  # the first price of the run plus its repeats
        if run_length >= stale_periods:
            mask[observed[start:stop]] = True
            n_runs += 1
    return mask, n_runs


def _extreme_mask(series: pd.Series, threshold: float) -> np.ndarray:
    """Flag prices whose simple return from the previous observed price exceeds the threshold."""
    values = series.to_numpy()
    mask = np.zeros(len(values), dtype=bool)
    observed = np.flatnonzero(~np.isnan(values))
    if observed.size < 2:
        return mask
    obs = values[observed]
    prev, cur = obs[:-1], obs[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        ret = np.where(prev > 0, cur / prev - 1.0, np.nan)
    mask[observed[1:][np.abs(ret) > threshold]] = True
    return mask


def _depeg_mask(series: pd.Series, tolerance: float) -> np.ndarray:
    values = series.to_numpy()
    with np.errstate(invalid="ignore"):
        return np.abs(values - 1.0) > tolerance


def quality_report(
    prices: pd.DataFrame,
    *,
    stale_periods: int = 5,
    extreme_return: float = 0.5,
    depeg_tolerance: float = 0.02,
    duplicates: pd.DataFrame | None = None,
    bad_values: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Tabulate the data defects of each asset of a price panel.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit) with a regular index, as returned by
        :func:`riskcore.ingest.read_prices` (missing periods are NaN rows).
    stale_periods : int, default 5
        A run of at least this many consecutive equal observed prices is a stale run.
    extreme_return : float, default 0.5
        Absolute simple return (decimal per period; 0.5 = 50%) between consecutive observed
        prices above which a move is reported as extreme.
    depeg_tolerance : float, default 0.02
        Relative distance from 1 USD beyond which a stablecoin price is a de-peg (decimal).
        Stablecoins are found by :func:`riskcore.assets.stablecoins` (name or behaviour).
    duplicates : pandas.DataFrame, optional
        ``LoadResult.duplicates`` (columns ``asset``, ``count``): duplicate timestamps met while
        reading, which the panel itself can no longer show (one row per duplicated timestamp).
    bad_values : pandas.DataFrame, optional
        ``LoadResult.bad_values`` (columns ``asset``, ``issue``): cells that could not be read
        as a price (issues ``"null"``, ``"non-numeric"``, ``"infinite"``, ``"too large"``,
        which the panel holds as NaN, and ``"negative"``, which it keeps). Their lines are in
        that table; here they are counted per asset.

    Returns
    -------
    pandas.DataFrame
        Indexed by asset, columns: ``first``, ``last`` (first and last observed date),
        ``rows`` (observed prices), ``missing_periods`` (NaN periods between first and last),
        ``gaps`` (runs of missing periods), ``largest_gap`` (periods), ``largest_gap_start``,
        ``duplicate_timestamps``, ``zero_prices``, ``negative_prices`` (negative prices in
        the panel, or the ``"negative"`` cells of ``bad_values`` if more), ``null_prices``,
        ``non_numeric_prices``, ``infinite_prices`` (``inf``, ``-inf``, ``1e400``),
        ``too_large_prices`` (above :data:`riskcore.ingest.MAX_PRICE`), ``stale_runs``,
        ``stale_periods`` (repeated prices inside stale runs), ``extreme_returns``,
        ``largest_abs_return`` (decimal), ``stablecoin`` (bool),
        ``depeg_periods`` and ``largest_depeg`` (decimal distance from 1; 0 for other assets).

    Raises
    ------
    DataError
        If ``prices`` is not a price panel or a threshold is out of range.
    """
    prices = _check_panel(prices)
    _check_number(stale_periods, "stale_periods", minimum=2, integer=True)
    _check_number(extreme_return, "extreme_return", minimum=0.0)
    _check_number(depeg_tolerance, "depeg_tolerance", minimum=0.0)
    stable = set(stablecoins(prices, tolerance=depeg_tolerance))
    dup_counts = _count_by_asset(duplicates, None)
    null_counts = _count_by_asset(bad_values, "null")
    text_counts = _count_by_asset(bad_values, "non-numeric")
    inf_counts = _count_by_asset(bad_values, "infinite")
    large_counts = _count_by_asset(bad_values, "too large")
    negative_counts = _count_by_asset(bad_values, "negative")
    rows = []
    for asset in prices.columns:
        series = prices[asset]
        observed = series.dropna()
        inside = _inside(series)
        missing = inside & series.isna().to_numpy()
        gap_runs = _runs(missing)
        largest = max(gap_runs, key=lambda run: run[1] - run[0], default=None)
        stale, stale_runs = _stale_mask(series, stale_periods)
        obs = observed.to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            rets = np.where(obs[:-1] > 0, obs[1:] / obs[:-1] - 1.0, np.nan)
        is_stable = asset in stable
        depeg = _depeg_mask(series, depeg_tolerance) if is_stable else np.zeros(len(series), bool)
        rows.append({
            "asset": asset,
            "first": observed.index[0] if len(observed) else pd.NaT,
            "last": observed.index[-1] if len(observed) else pd.NaT,
            "rows": int(observed.size),
            "missing_periods": int(missing.sum()),
            "gaps": len(gap_runs),
            "largest_gap": int(largest[1] - largest[0]) if largest else 0,
            "largest_gap_start": series.index[largest[0]] if largest else pd.NaT,
            "duplicate_timestamps": int(dup_counts.get(asset, 0)),
            "zero_prices": int((obs == 0).sum()),
            "negative_prices": max(int((obs < 0).sum()), int(negative_counts.get(asset, 0))),
            "null_prices": int(null_counts.get(asset, 0)),
            "non_numeric_prices": int(text_counts.get(asset, 0)),
            "infinite_prices": int(inf_counts.get(asset, 0)),
            "too_large_prices": int(large_counts.get(asset, 0)),
            "stale_runs": stale_runs,
            "stale_periods": int(stale.sum()),
            "extreme_returns": int(_extreme_mask(series, extreme_return).sum()),
            "largest_abs_return": float(np.nanmax(np.abs(rets))) if np.isfinite(rets).any()
            else np.nan,
            "stablecoin": is_stable,
            "depeg_periods": int(depeg.sum()),
            "largest_depeg": float(np.nanmax(np.abs(obs - 1.0))) if is_stable and obs.size
            else 0.0,
        })
    return pd.DataFrame(rows).set_index("asset") if rows else pd.DataFrame()


def _count_by_asset(table: pd.DataFrame | None, issue: str | None) -> dict[str, int]:
    if table is None or len(table) == 0:
        return {}
    if "asset" not in table.columns:
        raise DataError("the duplicates / bad_values tables need an 'asset' column")
    if issue is not None:
        table = table[table["issue"] == issue]
    return table.groupby("asset").size().to_dict()


@dataclass(frozen=True)
class QualityPolicy:
    """What :func:`clean_prices` does with each kind of issue (default: keep everything).

    Attributes
    ----------
    missing : {"keep", "ffill"}
        Missing periods between an asset's first and last price: leave NaN, or carry the last
        price forward for at most ``ffill_limit`` periods (longer gaps stay partly NaN). Never
        fills before an asset lists or after its last price.
    nonpositive : {"keep", "drop", "ffill"}
        Zero and negative prices: keep, set to NaN ("drop"), or replace by the last good price.
    stale : {"keep", "drop"}
        Repeats inside stale runs (the first price of a run is kept): keep or set to NaN.
    extreme : {"keep", "drop", "ffill"}
        The price at the end of a move larger than ``extreme_return``: keep, set to NaN, or
        replace by the previous price. Real crashes are extreme too: the default keeps them.
    depeg : {"keep", "drop", "ffill"}
        Stablecoin prices more than ``depeg_tolerance`` from 1: keep, set to NaN, or replace.
    ffill_limit : int, default 5
        Longest run of periods any "ffill" action fills.
    stale_periods, extreme_return, depeg_tolerance
        Detection thresholds, as in :func:`quality_report`.
    """

    missing: str = "keep"
    nonpositive: str = "keep"
    stale: str = "keep"
    extreme: str = "keep"
    depeg: str = "keep"
    ffill_limit: int = 5
    stale_periods: int = 5
    extreme_return: float = 0.5
    depeg_tolerance: float = 0.02

    def __post_init__(self) -> None:
        for issue, allowed in _ACTIONS.items():
            action = getattr(self, issue)
            if action not in allowed:
                raise DataError(
                    f"action for {issue} is {action!r}; allowed are {', '.join(allowed)}"
                )
        _check_number(self.ffill_limit, "ffill_limit", minimum=1, integer=True)
        _check_number(self.stale_periods, "stale_periods", minimum=2, integer=True)
        _check_number(self.extreme_return, "extreme_return", minimum=0.0)
        _check_number(self.depeg_tolerance, "depeg_tolerance", minimum=0.0)


@dataclass(frozen=True)
class CleanResult:
    """A cleaned price panel and the list of every change made to it.

    Attributes
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        The panel after the policy (same index and columns as the input).
    actions : pandas.DataFrame
        One row per run of changed cells: ``asset``, ``start``, ``end`` (dates), ``periods``,
        ``issue``, ``action`` and ``detail``. Empty when nothing changed.
    """

    prices: pd.DataFrame
    actions: pd.DataFrame


def clean_prices(prices: pd.DataFrame, policy: QualityPolicy | None = None) -> CleanResult:
    """Apply a :class:`QualityPolicy` to a price panel and list every change it makes.

    Issues are detected on the input panel (not on partly cleaned data), then applied per asset
    in the order nonpositive, stale, extreme, depeg, missing; a cell flagged by several issues
    is handled by the first. "ffill" replaces a flagged price by the last price that is neither
    flagged nor missing, if it lies at most ``ffill_limit`` periods back; otherwise the cell is
    set to NaN and the action says so.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit).
    policy : QualityPolicy, optional
        What to do with each issue; the default keeps everything (no change).

    Returns
    -------
    CleanResult
        Cleaned panel and the actions table (every changed cell lies in one listed run).

    Raises
    ------
    DataError
        If ``prices`` is not a price panel.
    """
    prices = _check_panel(prices)
    policy = policy or QualityPolicy()
    stable = set(stablecoins(prices, tolerance=policy.depeg_tolerance))
    out = prices.copy()
    actions: list[dict[str, Any]] = []
    for asset in prices.columns:
        series = prices[asset]
        values = series.to_numpy(copy=True)
        nan = np.isnan(values)
        flags: list[tuple[str, str, np.ndarray]] = [
            ("nonpositive", policy.nonpositive, ~nan & (np.nan_to_num(values, nan=1.0) <= 0)),
            ("stale", policy.stale, _stale_mask(series, policy.stale_periods)[0]),
            ("extreme", policy.extreme, _extreme_mask(series, policy.extreme_return)),
            ("depeg", policy.depeg, _depeg_mask(series, policy.depeg_tolerance)
             if asset in stable else np.zeros(len(values), bool)),
            ("missing", policy.missing, _inside(series) & nan),
        ]
        handled = np.zeros(len(values), dtype=bool)
        bad = np.zeros(len(values), dtype=bool)  # flagged cells that are not "keep"
        for _, action, mask in flags:
            if action != "keep":
                bad |= mask
        # last good position for each cell (neither NaN nor flagged for change)
        good = ~nan & ~bad
        positions = np.where(good, np.arange(len(values)), -1)
        last_good = np.maximum.accumulate(positions)
        for issue, action, mask in flags:
            mask = mask & ~handled
            handled |= mask
            if action == "keep" or not mask.any():
                continue
            for start, stop in _runs(mask):
                idx = np.arange(start, stop)
                if action == "drop":
                    values[idx] = np.nan
                    actions.append(_action(series, start, stop, issue, "drop", "set to NaN"))
                    continue
                source = last_good[start - 1] if start > 0 else -1
                # ffill: positions within the limit of the source get its value
                if source >= 0:
                    reach = idx[idx - source <= policy.ffill_limit]
                else:
                    reach = idx[:0]
                if reach.size:
                    values[reach] = prices[asset].iloc[source]
                    actions.append(_action(
                        series, int(reach[0]), int(reach[-1]) + 1, issue, "ffill",
                        f"filled with {values[reach[0]]:.10g} from "
                        f"{series.index[source].date()}",
                    ))
                rest = idx[~np.isin(idx, reach)]
                if rest.size and issue != "missing":
                    values[rest] = np.nan
                    actions.append(_action(
                        series, int(rest[0]), int(rest[-1]) + 1, issue, "drop",
                        f"set to NaN: beyond the ffill limit of {policy.ffill_limit}",
                    ))
        out[asset] = values
    return CleanResult(prices=out, actions=pd.DataFrame(actions, columns=_ACTION_COLUMNS))


def _action(series: pd.Series, start: int, stop: int, issue: str, action: str, detail: str
            ) -> dict[str, Any]:
    return {
        "asset": series.name, "start": series.index[start], "end": series.index[stop - 1],
        "periods": stop - start, "issue": issue, "action": action, "detail": detail,
    }


def observation_counts(prices: pd.DataFrame, *, how: str = "common") -> pd.Series | pd.DataFrame:
    """Count the observations each way of aligning assets with different histories leaves.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit), NaN where an asset has no price.
    how : {"common", "pairwise"}, default "common"
        ``"common"``: the timestamps where every asset has a price (what an estimator that
        drops incomplete rows uses). ``"pairwise"``: for each pair, the timestamps where both
        have a price (what pairwise covariance estimators use).

    Returns
    -------
    pandas.Series or pandas.DataFrame
        ``"common"``: Series indexed by asset, each entry the number of timestamps where every
        asset has a price (the same for all assets); ``attrs["start"]`` and ``attrs["end"]``
        give the first and last such timestamp (NaT when there is none). ``"pairwise"``: symmetric
        DataFrame (n_assets x n_assets) of overlapping price counts; the diagonal is each
        asset's own count. Counts are of prices; returns are one fewer per contiguous run.

    Raises
    ------
    DataError
        If ``how`` is not one of the allowed values or ``prices`` is not a price panel.
    """
    prices = _check_panel(prices)
    observed = prices.notna()
    if how == "common":
        complete = observed.all(axis=1) if prices.shape[1] else observed.any(axis=1)
        count = int(complete.sum())
        counts = pd.Series(count, index=prices.columns, name="observations", dtype="int64")
        dates = prices.index[complete.to_numpy()]
        counts.attrs["start"] = dates[0] if count else pd.NaT
        counts.attrs["end"] = dates[-1] if count else pd.NaT
        return counts
    if how == "pairwise":
        matrix = observed.to_numpy(dtype=np.int64)
        return pd.DataFrame(matrix.T @ matrix, index=prices.columns, columns=prices.columns)
    raise DataError(f"how is {how!r}; allowed values are 'common' and 'pairwise'")
