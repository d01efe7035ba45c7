"""Stress tests: historical crash replays, stressed covariance matrices and instant shocks.

Three views of "what if it goes badly", all for a fixed weights vector (today's portfolio):

- **historical scenarios**: replay the weights, bought and held without rebalancing, through
  the worst rolling windows of the price panel (:func:`worst_periods`) and through named
  crypto crashes (:data:`CRASH_WINDOWS`, :func:`historical_scenarios`);
- **hypothetical covariance shocks**: volatilities multiplied, correlations pushed toward a
  crash level, stablecoins given a de-peg volatility (:func:`stress_covariance`), and the
  portfolio volatility, normal Value at Risk and expected shortfall of each scenario
  (:func:`stress_test`);
- **instantaneous price shocks**: the portfolio return of a given price move per asset
  (:func:`instant_shock`, :func:`crypto_crash_shock`).

Units and conventions: weights are decimals summing to 1 and may contain a ``"cash"`` entry
(riskless, zero return, never in a price panel or covariance matrix); returns are decimals
over the window or shock (not annualized); covariance matrices and volatilities are
annualized; Value at Risk and expected shortfall are positive loss decimals per period, as
in :mod:`riskcore.metrics`.

References
----------
Basel Committee on Banking Supervision (2009), *Principles for sound stress testing practices
and supervision*. Kupiec, P. (1998), "Stress testing in a value at risk framework", Journal
of Derivatives 6(1), 7-24 (covariance stress with correlation adjustment). Higham, N. J.
(2002), "Computing the nearest correlation matrix", IMA Journal of Numerical Analysis 22(3),
329-343 (repair of a stressed correlation matrix).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from riskcore.assets import CASH, base_symbol, is_stablecoin
from riskcore.errors import DataError
from riskcore.estimators import correlation_from_covariance, nearest_correlation

__all__ = [
    "CASH",
    "CRASH_WINDOWS",
    "STRESS_SCENARIOS",
    "StressedCovariance",
    "crypto_crash_shock",
    "historical_scenarios",
    "instant_shock",
    "stress_covariance",
    "stress_test",
    "worst_periods",
]

#: Named crypto crash windows ``name -> (start, end)`` as ISO dates (UTC). APPROXIMATE: the
#: dates bracket each episode as reported in the press; the return is measured from the
#: close of ``start`` (the last close before the episode) to the close of ``end``.
CRASH_WINDOWS: dict[str, tuple[str, str]] = {
    # oil/COVID sell-off from 2020-03-08, "Black Thursday" 2020-03-12 (BTC's lowest close),
    # retest 2020-03-16, rebound from 2020-03-19
    "COVID crash (Mar 2020)": ("2020-03-07", "2020-03-16"),
    # Tesla drops BTC payments (announced 2021-05-12 evening UTC), China warning 2021-05-18/19,
    # low 2021-05-23
    "May 2021 crash": ("2021-05-11", "2021-05-23"),
    # UST loses its peg 2022-05-07/09, LUNA collapses, Terra chain halted 2022-05-12/13
    "LUNA/UST collapse (May 2022)": ("2022-05-06", "2022-05-13"),
    # Celsius pauses withdrawals 2022-06-12/13, Three Arrows Capital default, low 2022-06-18
    "Celsius/3AC deleveraging (Jun 2022)": ("2022-06-10", "2022-06-18"),
    # Binance announces selling FTT 2022-11-06, FTX halts withdrawals 2022-11-08,
    # bankruptcy 2022-11-11
    "FTX collapse (Nov 2022)": ("2022-11-05", "2022-11-14"),
    # run on Silicon Valley Bank 2023-03-09, closed 2023-03-10; USDC (reserves at SVB)
    # de-pegs 2023-03-11 (Yahoo close 0.9715), back on peg 2023-03-13
    "USDC de-peg / SVB (Mar 2023)": ("2023-03-09", "2023-03-11"),
}

#: Illustrative hypothetical scenarios for :func:`stress_test` (assumptions, not estimates):
#: each maps to keyword arguments of :func:`stress_covariance`.
STRESS_SCENARIOS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "volatility x2": {"volatility_multiplier": 2.0},
    "crash correlation 0.9": {"correlation": 0.9},
    "crash: volatility x2, correlation 0.9": {"volatility_multiplier": 2.0, "correlation": 0.9},
    "crash + stablecoin de-peg (50% volatility)": {
        "volatility_multiplier": 2.0, "correlation": 0.9, "stablecoin_volatility": 0.5},
}

_WEIGHT_SUM_TOL = 1e-6
_PSD_TOL = 1e-10  # smallest eigenvalue of a correlation matrix accepted as PSD
_SYMMETRY_TOL = 1e-8
_SCENARIO_KEYS = ("volatility_multiplier", "correlation", "correlation_blend",
                  "stablecoin_volatility", "stablecoins", "push_stablecoins")


# --------------------------------------------------------------------------- validation


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise DataError(f"{name} is {value!r}; it must be a finite number")
    return float(value)


def _check_weights(weights: object) -> pd.Series:
    """Weights as a float Series: unique labels, finite, summing to 1."""
    if isinstance(weights, Mapping) and not isinstance(weights, pd.Series):
        weights = pd.Series(dict(weights), dtype=object)
    if not isinstance(weights, pd.Series):
        raise DataError("weights must be a pandas Series indexed by asset (or a mapping "
                        f"asset -> weight), not {type(weights).__name__}")
    if len(weights) == 0:
        raise DataError("weights are empty; give one weight per asset held")
    if not weights.index.is_unique:
        dupes = sorted({str(a) for a in weights.index[weights.index.duplicated()]})
        raise DataError(f"weights name {', '.join(dupes)} more than once; one weight per asset")
    values = {}
    for asset, value in weights.items():
        if isinstance(value, bool) or not isinstance(value, Real) \
                or not math.isfinite(float(value)):
            raise DataError(f"weight of {asset} is {value!r}; weights must be finite numbers")
        values[asset] = float(value)
    out = pd.Series(values, dtype=float, name="weight")
    total = float(out.sum())
    if abs(total - 1.0) > _WEIGHT_SUM_TOL:
        raise DataError(f"weights sum to {total:.6g}; they must sum to 1 (hold the rest as a "
                        f"{CASH!r} entry)")
    return out


def _check_known(weights: pd.Series, allowed: Iterable[Any], where: str) -> None:
    allowed = list(allowed)
    known = set(allowed)
    unknown = [str(a) for a in weights.index if a != CASH and a not in known]
    if unknown:
        raise DataError(f"weights name {', '.join(unknown)}, not in the {where}; allowed: "
                        f"{', '.join(map(str, allowed))} and {CASH!r}")


def _held(weights: pd.Series) -> pd.Series:
    """Non-cash assets with a non-zero weight."""
    risky = weights.drop(CASH, errors="ignore")
    return risky[risky != 0.0]


def _check_prices(prices: object, assets: Sequence[Any]) -> np.ndarray:
    """Prices of ``assets`` as a float array; must be > 0 where present."""
    if not isinstance(prices, pd.DataFrame):
        raise DataError("prices must be a pandas DataFrame (one column per asset), "
                        f"not {type(prices).__name__}")
    if not prices.columns.is_unique:
        dupes = sorted({str(c) for c in prices.columns[prices.columns.duplicated()]})
        raise DataError(f"prices have duplicate asset columns: {', '.join(dupes)}")
    try:
        values = prices[list(assets)].to_numpy(dtype=float)
    except (TypeError, ValueError):
        raise DataError("prices of the held assets must be numeric (float USD per unit)") \
            from None
    bad = ~np.isnan(values) & ~(np.isfinite(values) & (values > 0))
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(f"price of {assets[col]} on {prices.index[row]} is "
                        f"{values[row, col]:g}; prices must be finite and > 0")
    return values


def _check_sorted(prices: pd.DataFrame) -> None:
    if not (prices.index.is_monotonic_increasing and prices.index.is_unique):
        raise DataError("prices must have a sorted index without duplicate timestamps "
                        "(oldest first); sort the panel and drop duplicates first")


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise DataError(f"{name} is {value!r}; it must be an integer >= {minimum}")
    return int(value)


def _nothing_held() -> None:
    raise DataError("weights hold no asset other than cash; there is nothing to stress")


# --------------------------------------------------------------------------- historical


def worst_periods(
    prices: pd.DataFrame,
    weights: pd.Series | Mapping[str, float],
    *,
    horizon: int = 7,
    count: int = 5,
) -> pd.DataFrame:
    """Find the worst non-overlapping windows for today's weights, bought and held.

    Every window of ``horizon`` periods of the price panel is a candidate: it starts at the
    price of row ``t`` and ends at the price of row ``t + horizon``. The portfolio is bought
    at the start with ``weights`` and held without rebalancing, so its return is
    ``sum_i w_i (P_i,end / P_i,start - 1)`` (cash earns 0). A window is used only if every
    held asset (non-zero weight, other than cash) has a price at its start and its end;
    prices in between are not needed (a buy-and-hold return depends only on the two ends).
    The worst window is taken first, then the worst window sharing no period with it, and so
    on (greedy; windows may touch at an end point).

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit), sorted in time, NaN where an asset has no price.
    weights : pandas.Series or mapping of shape (n_held,)
        Weights indexed by asset (columns of ``prices``, plus an optional ``"cash"``),
        decimals summing to 1. Assets of ``prices`` without a weight are not held.
    horizon : int, default 7
        Window length in periods (>= 1): 7 on daily crypto data is one week.
    count : int, default 5
        Most windows to list (>= 1); fewer when fewer non-overlapping windows exist.

    Returns
    -------
    pandas.DataFrame of shape (n_windows, 7 + n_held)
        One row per window, worst first, index ``rank`` from 1. Columns: ``start``, ``end``
        (timestamps of the two prices), ``portfolio_return`` (decimal over the window),
        ``worst_asset``, ``worst_asset_return``, ``best_asset``, ``best_asset_return`` (among
        the held assets), then one column per held asset with its return over the window
        (decimal).

    Raises
    ------
    DataError
        If ``weights`` are not finite, do not sum to 1, name an asset that is not in
        ``prices``, or hold nothing but cash; if ``horizon`` or ``count`` < 1; if the index
        of ``prices`` is not sorted and unique or a held price is zero, negative or
        infinite; or if no window has prices for every held asset
        at both ends (the message gives the first and last row where all have prices).

    References
    ----------
    Jorion, P. (2007). *Value at Risk*, 3rd ed., chapter 14 (stress testing: historical
    scenarios). McGraw-Hill.
    """
    w = _check_weights(weights)
    horizon = _check_int(horizon, "horizon", 1)
    count = _check_int(count, "count", 1)
    if not isinstance(prices, pd.DataFrame):
        _check_prices(prices, [])
    _check_known(w, prices.columns, "price panel")
    held = _held(w)
    if held.empty:
        _nothing_held()
    assets = list(held.index)
    values = _check_prices(prices, assets)
    _check_sorted(prices)
    n = len(values)
    complete = ~np.isnan(values).any(axis=1)
    if n <= horizon or not (complete[:-horizon] & complete[horizon:]).any():
        rows = np.flatnonzero(complete)
        where = (f"all have prices on {rows.size} row(s)" if rows.size == 0 else
                 f"all have prices on {rows.size} row(s), from {prices.index[rows[0]]} to "
                 f"{prices.index[rows[-1]]}")
        raise DataError(f"no window of {horizon} periods has prices for every held asset "
                        f"({', '.join(map(str, assets))}) at both ends: {where}; shorten "
                        "the horizon or drop the youngest asset")
    with np.errstate(invalid="ignore"):
        asset_returns = values[horizon:] / values[:-horizon] - 1.0  # (n - horizon, n_held)
    valid = complete[:-horizon] & complete[horizon:]
    portfolio = asset_returns @ held.to_numpy()
    starts = np.flatnonzero(valid)
    order = starts[np.argsort(portfolio[starts], kind="stable")]
    chosen: list[int] = []
    for t in order:
        if all(abs(int(t) - s) >= horizon for s in chosen):
            chosen.append(int(t))
            if len(chosen) == count:
                break
    rows_out = []
    for t in chosen:
        r = asset_returns[t]
        lo, hi = int(np.argmin(r)), int(np.argmax(r))
        rows_out.append({
            "start": prices.index[t],
            "end": prices.index[t + horizon],
            "portfolio_return": float(portfolio[t]),
            "worst_asset": assets[lo],
            "worst_asset_return": float(r[lo]),
            "best_asset": assets[hi],
            "best_asset_return": float(r[hi]),
            **{a: float(x) for a, x in zip(assets, r, strict=True)},
        })
    out = pd.DataFrame(rows_out, index=pd.RangeIndex(1, len(chosen) + 1, name="rank"))
    return out


def _close_at(index: pd.DatetimeIndex, day: pd.Timestamp) -> int | None:
    """Row of the last timestamp before the end of calendar day ``day``, or None."""
    pos = int(index.searchsorted(day + pd.Timedelta(days=1), side="left")) - 1
    return pos if pos >= 0 else None


def _window_days(name: str, window: object, tz: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    try:
        start, end = window  # type: ignore[misc]
        start = pd.Timestamp(start)
        end = pd.Timestamp(end)
    except (TypeError, ValueError):
        raise DataError(f"crash window {name!r} is {window!r}; it must be a pair of dates "
                        "(start, end) such as ('2022-11-05', '2022-11-14')") from None
    if pd.isna(start) or pd.isna(end) or not start < end:
        raise DataError(f"crash window {name!r} runs from {start} to {end}; the start must "
                        "come before the end")
    days = []
    for ts in (start, end):
        ts = ts.normalize()
        if ts.tzinfo is None and tz is not None:
            ts = ts.tz_localize(tz)
        elif ts.tzinfo is not None and tz is None:
            ts = ts.tz_convert("UTC").tz_localize(None)
        elif ts.tzinfo is not None:
            ts = ts.tz_convert(tz)
        days.append(ts)
    return days[0], days[1]


def historical_scenarios(
    prices: pd.DataFrame,
    weights: pd.Series | Mapping[str, float],
    *,
    windows: Mapping[str, tuple[str, str]] | None = None,
) -> pd.DataFrame:
    """Replay today's weights, bought and held, through named crash windows.

    For each window ``(start, end)`` the price of an asset at a date is the panel's last row
    up to the end of that calendar day: the daily close on daily data, the Friday close for
    a Saturday on weekday-only data. A window is covered when the panel has a row up to the
    start day and reaches the end day; windows outside the data are left out of the table.

    Rule for held assets without prices (not listed yet, or dead): such an asset is listed
    in ``missing_assets`` with a NaN return, and the portfolio return EXCLUDES it and
    renormalizes over the rest: ``sum_{i priced} w_i r_i / sum_{i priced} w_i`` where cash
    counts as priced (return 0). ``covered_weight`` gives ``sum_{i priced} w_i`` and
    ``complete`` is False, so the table never hides the gap; ``portfolio_return`` is NaN
    when no held asset other than cash has prices.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit) with a sorted ``DatetimeIndex`` (UTC in riskcore).
    weights : pandas.Series or mapping of shape (n_held,)
        Weights indexed by asset (columns of ``prices``, plus an optional ``"cash"``),
        decimals summing to 1.
    windows : mapping of str to (str, str), optional
        Scenario name -> (start, end) dates; default :data:`CRASH_WINDOWS` (approximate
        dates). The return runs from the close of ``start`` to the close of ``end``.

    Returns
    -------
    pandas.DataFrame of shape (n_covered, 7 + n_held)
        Index ``scenario`` (window name), in the order of ``windows``. Columns: ``start``,
        ``end`` (timestamps of the prices used), ``portfolio_return`` (decimal over the
        window), ``complete`` (bool), ``covered_weight`` (decimal), ``missing_assets``
        (comma-separated names, empty when complete), ``worst_asset`` (held asset with the
        lowest return, None without any), then one column per held asset with its return
        over the window (decimal; NaN when missing).

    Raises
    ------
    DataError
        If ``weights`` are invalid or name an asset not in ``prices``, hold nothing but
        cash, ``prices`` has no sorted unique ``DatetimeIndex``, a held price is zero,
        negative or infinite, or a window is not a (start, end) pair with start before end.

    References
    ----------
    Jorion, P. (2007). *Value at Risk*, 3rd ed., chapter 14 (historical scenarios).
    McGraw-Hill.
    """
    w = _check_weights(weights)
    if not isinstance(prices, pd.DataFrame):
        _check_prices(prices, [])
    if not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices must have a DatetimeIndex (dates of the prices), not "
                        f"{type(prices.index).__name__}")
    _check_known(w, prices.columns, "price panel")
    held = _held(w)
    if held.empty:
        _nothing_held()
    assets = list(held.index)
    values = _check_prices(prices, assets)
    _check_sorted(prices)
    windows = CRASH_WINDOWS if windows is None else windows
    cash_weight = float(w.get(CASH, 0.0))
    rows, names = [], []
    for name, window in windows.items():
        start_day, end_day = _window_days(str(name), window, prices.index.tz)
        i = _close_at(prices.index, start_day)
        j = _close_at(prices.index, end_day)
        if i is None or j is None or j <= i or prices.index[-1] < end_day:
            continue  # the panel does not cover this window
        with np.errstate(invalid="ignore"):
            r = values[j] / values[i] - 1.0
        priced = ~np.isnan(r)
        covered = cash_weight + float(held.to_numpy()[priced].sum())
        if priced.any() and covered != 0.0:
            port = float(held.to_numpy()[priced] @ r[priced]) / covered
        else:
            port = float("nan")
        missing = [a for a, ok in zip(assets, priced, strict=True) if not ok]
        worst = assets[int(np.nanargmin(r))] if priced.any() else None
        rows.append({
            "start": prices.index[i],
            "end": prices.index[j],
            "portfolio_return": port,
            "complete": not missing,
            "covered_weight": covered,
            "missing_assets": ", ".join(map(str, missing)),
            "worst_asset": worst,
            **{a: float(x) for a, x in zip(assets, r, strict=True)},
        })
        names.append(str(name))
    columns = ["start", "end", "portfolio_return", "complete", "covered_weight",
               "missing_assets", "worst_asset", *assets]
    return pd.DataFrame(rows, index=pd.Index(names, name="scenario"), columns=columns)


# --------------------------------------------------------------------------- hypothetical


@dataclass(frozen=True, eq=False)
class StressedCovariance:
    """A stressed covariance matrix and how it was obtained.

    Attributes
    ----------
    matrix : pandas.DataFrame of shape (n_assets, n_assets)
        Stressed covariance, same labels and unit as the input (annualized), symmetric and
        positive semidefinite.
    correlation : pandas.DataFrame of shape (n_assets, n_assets)
        Stressed correlation matrix (after repair when ``repaired``).
    volatilities : pandas.Series of shape (n_assets,)
        Stressed volatilities (square roots of the diagonal of ``matrix``).
    repaired : bool
        True if the pushed correlation matrix was not positive semidefinite and was replaced
        by the nearest correlation matrix (Higham 2002).
    repair_distance : float
        Frobenius norm of the change made by the repair (0.0 when not repaired).
    notes : tuple of str
        What was done, in words (stablecoins kept out of the push, repair, ...).
    """

    matrix: pd.DataFrame
    correlation: pd.DataFrame
    volatilities: pd.Series
    repaired: bool
    repair_distance: float
    notes: tuple[str, ...] = ()


def stress_covariance(
    cov: pd.DataFrame,
    *,
    volatility_multiplier: float = 1.0,
    correlation: float | None = None,
    correlation_blend: float = 1.0,
    stablecoin_volatility: float | None = None,
    stablecoins: Sequence[str] | None = None,
    push_stablecoins: bool = False,
) -> StressedCovariance:
    """Stress a covariance matrix: higher volatilities, crash correlations, stablecoin de-peg.

    With ``sigma_i`` and ``rho_ij`` the volatilities and correlations of ``cov``:

    - volatilities become ``k * sigma_i`` (``k = volatility_multiplier``); a stablecoin's
      becomes ``stablecoin_volatility`` instead when that is given (a de-peg);
    - off-diagonal correlations move toward a crash level ``c = correlation`` by the blend
      ``a = correlation_blend``: ``rho*_ij = (1 - a) rho_ij + a c``. Pairs that involve a
      stablecoin keep their correlation unless ``push_stablecoins`` (a stablecoin does not
      fall with the market just because the market falls);
    - if the result is not positive semidefinite (smallest eigenvalue < -1e-10), it is
      replaced by the nearest correlation matrix and ``repaired`` is True;
    - the stressed covariance is ``diag(sigma*) R* diag(sigma*)``.

    Parameters
    ----------
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Covariance matrix labelled by asset (annualized, decimal per year squared).
    volatility_multiplier : float, default 1.0
        Factor on every volatility, > 0 (2.0 doubles them).
    correlation : float, optional
        Crash correlation level in [-1, 1]; None leaves correlations unchanged.
    correlation_blend : float, default 1.0
        Weight ``a`` in [0, 1] of the crash level (1 = every pushed pair at ``correlation``);
        ignored when ``correlation`` is None.
    stablecoin_volatility : float, optional
        Annualized volatility (decimal, >= 0) given to every stablecoin, e.g. 0.5 for a
        de-peg; None applies the multiplier to stablecoins like other assets. A volatility is
        symmetric: for the one-sided loss of a de-peg use :func:`instant_shock`.
    stablecoins : sequence of str, optional
        The stablecoins among the assets; default the assets whose name is a known stablecoin
        (:func:`riskcore.assets.is_stablecoin`). Pass ``riskcore.assets.stablecoins(prices)``
        to detect them by behaviour as well.
    push_stablecoins : bool, default False
        Push the correlations of stablecoins toward ``correlation`` as well.

    Returns
    -------
    StressedCovariance
        The stressed matrix, its correlation and volatilities, whether it was repaired, and
        notes.

    Raises
    ------
    DataError
        If ``cov`` is not a square labelled matrix, contains NaN, is not symmetric, or has a
        variance <= 0; if ``volatility_multiplier`` <= 0, ``correlation`` is outside
        [-1, 1], ``correlation_blend`` is outside [0, 1], ``stablecoin_volatility`` < 0, or
        ``stablecoins`` names an asset not in ``cov``.
    ConvergenceError
        If the nearest-correlation repair does not converge.

    References
    ----------
    Kupiec, P. (1998). Stress testing in a value at risk framework. Journal of Derivatives
    6(1), 7-24. Higham, N. J. (2002). Computing the nearest correlation matrix - a problem
    from finance. IMA Journal of Numerical Analysis 22(3), 329-343.
    """
    k = _number(volatility_multiplier, "volatility_multiplier")
    if not k > 0:
        raise DataError(f"volatility_multiplier is {volatility_multiplier!r}; it must be a "
                        "finite number > 0")
    if correlation is not None:
        c = _number(correlation, "correlation")
        if not -1.0 <= c <= 1.0:
            raise DataError(f"correlation is {correlation!r}; it must lie in [-1, 1]")
    a = _number(correlation_blend, "correlation_blend")
    if not 0.0 <= a <= 1.0:
        raise DataError(f"correlation_blend is {correlation_blend!r}; it must lie in [0, 1]")
    if stablecoin_volatility is not None:
        s_vol = _number(stablecoin_volatility, "stablecoin_volatility")
        if s_vol < 0:
            raise DataError(f"stablecoin_volatility is {stablecoin_volatility!r}; it must be "
                            "a finite number >= 0 (annualized decimal)")
    corr = correlation_from_covariance(cov)
    values = cov.to_numpy(dtype=float)
    scale = float(np.abs(np.diag(values)).max())
    asym = np.abs(values - values.T)
    if asym.max() > _SYMMETRY_TOL * scale:
        i, j = np.unravel_index(np.argmax(asym), asym.shape)
        raise DataError(f"covariance matrix is not symmetric: entry ({cov.index[i]}, "
                        f"{cov.columns[j]}) is {values[i, j]:.6g} but ({cov.index[j]}, "
                        f"{cov.columns[i]}) is {values[j, i]:.6g}")
    labels = list(cov.columns)
    if stablecoins is None:
        stable = [x for x in labels if is_stablecoin(str(x))]
    else:
        if isinstance(stablecoins, str):
            stablecoins = [stablecoins]
        unknown = [str(x) for x in stablecoins if x not in set(labels)]
        if unknown:
            raise DataError(f"stablecoins {', '.join(unknown)} are not in the covariance "
                            f"matrix; allowed: {', '.join(map(str, labels))}")
        stable = [x for x in labels if x in set(stablecoins)]
    is_stable = np.array([x in set(stable) for x in labels])
    notes: list[str] = []

    sigma = np.sqrt(np.diag(values)) * k
    if stablecoin_volatility is not None:
        if is_stable.any():
            sigma[is_stable] = s_vol
            notes.append(f"stablecoin volatility set to {s_vol:g} for "
                         f"{', '.join(map(str, stable))}")
        else:
            notes.append("stablecoin_volatility given but no stablecoin among the assets")

    rho = corr.to_numpy(dtype=float)
    if correlation is not None and a > 0:
        push = np.ones_like(rho, dtype=bool) if push_stablecoins else \
            np.outer(~is_stable, ~is_stable)
        np.fill_diagonal(push, False)
        rho = np.where(push, (1.0 - a) * rho + a * c, rho)
        if is_stable.any() and not push_stablecoins:
            notes.append("correlations of stablecoins kept out of the push: "
                         f"{', '.join(map(str, stable))}")
    repaired = False
    distance = 0.0
    smallest = float(np.linalg.eigvalsh(rho)[0])
    if smallest < -_PSD_TOL:
        fixed = nearest_correlation(rho)
        distance = float(np.linalg.norm(fixed - rho))
        rho = fixed
        repaired = True
        notes.append(f"stressed correlation matrix was not positive semidefinite (smallest "
                     f"eigenvalue {smallest:.3g}); replaced by the nearest correlation matrix "
                     f"(Higham 2002), Frobenius change {distance:.3g}")
    stressed = rho * np.outer(sigma, sigma)
    stressed = 0.5 * (stressed + stressed.T)
    return StressedCovariance(
        matrix=pd.DataFrame(stressed, index=cov.index, columns=cov.columns),
        correlation=pd.DataFrame(rho, index=cov.index, columns=cov.columns),
        volatilities=pd.Series(sigma, index=cov.columns, name="volatility"),
        repaired=repaired,
        repair_distance=distance,
        notes=tuple(notes),
    )


def stress_test(
    weights: pd.Series | Mapping[str, float],
    cov: pd.DataFrame,
    scenarios: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    periods_per_year: float,
    level: float = 0.99,
) -> pd.DataFrame:
    """Portfolio volatility, normal Value at Risk and expected shortfall under each scenario.

    Each scenario's settings are passed to :func:`stress_covariance` (an empty mapping is the
    unstressed baseline). With ``sigma_p = sqrt(w' S w)`` the annualized portfolio volatility
    under the stressed covariance ``S``, the one-period volatility is
    ``sigma_period = sigma_p / sqrt(periods_per_year)`` and, for zero-mean normal returns at
    confidence ``level`` with ``z = Phi^-1(level)``:

    - ``VaR = z * sigma_period``;
    - ``ES = sigma_period * phi(z) / (1 - level)`` (``phi`` the standard normal density).

    Both are positive loss decimals per period (as :func:`riskcore.metrics.value_at_risk`).

    Parameters
    ----------
    weights : pandas.Series or mapping of shape (n_held,)
        Weights indexed by asset (labels of ``cov``, plus an optional riskless ``"cash"``),
        decimals summing to 1. Assets of ``cov`` without a weight are not held.
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Covariance matrix (annualized); a riskless ``"cash"`` row and column (as in
        :attr:`riskcore.portfolio.Portfolio.covariance`) are ignored.
    scenarios : mapping of str to mapping, optional
        Scenario name -> keyword arguments of :func:`stress_covariance`
        (``volatility_multiplier``, ``correlation``, ``correlation_blend``,
        ``stablecoin_volatility``, ``stablecoins``, ``push_stablecoins``); default
        :data:`STRESS_SCENARIOS` (illustrative assumptions).
    periods_per_year : float
        Periods per year of the one-period VaR (365: one day of 24/7 crypto; 252 for
        weekday-only data). Required: a covariance matrix carries no calendar.
    level : float, default 0.99
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    pandas.DataFrame of shape (n_scenarios, 8)
        Index ``scenario``. Columns: ``volatility`` (annualized decimal),
        ``period_volatility`` (decimal per period), ``value_at_risk`` and
        ``expected_shortfall`` (positive loss decimals per period), ``largest_risk_contributor``
        (asset), ``largest_relative_risk_contribution`` (its share of the portfolio
        volatility, decimal), ``repaired`` (bool, correlation matrix repaired) and ``notes``.

    Raises
    ------
    DataError
        If ``weights`` are invalid or name an asset not in ``cov``, hold nothing but cash,
        ``periods_per_year`` <= 0, ``level`` is not strictly between 0 and 1, a scenario is
        not a mapping or has an unknown setting, or :func:`stress_covariance` rejects its
        settings.

    References
    ----------
    Jorion, P. (2007). *Value at Risk*, 3rd ed., chapter 5 (parametric VaR). McNeil, A. J.,
    Frey, R. & Embrechts, P. (2015). *Quantitative Risk Management*, revised ed., example
    2.14 (expected shortfall of the normal distribution). Princeton University Press.
    """
    w = _check_weights(weights)
    if not isinstance(cov, pd.DataFrame):
        raise DataError("covariance matrix must be a square pandas DataFrame labelled by "
                        f"asset, not {type(cov).__name__}")
    # a Portfolio's covariance carries riskless cash as a zero row: it has no risk to stress
    cov = cov.drop(index=CASH, columns=CASH, errors="ignore")
    _check_known(w, cov.columns, "covariance matrix")
    if _held(w).empty:
        _nothing_held()
    ppy = _number(periods_per_year, "periods_per_year")
    if not ppy > 0:
        raise DataError(f"periods_per_year is {periods_per_year!r}; it must be a finite number "
                        "> 0 (365 for 24/7 crypto, 252 for weekday-only data)")
    lvl = _number(level, "level")
    if not 0.0 < lvl < 1.0:
        raise DataError(f"level is {level!r}; it must lie strictly between 0 and 1")
    scenarios = STRESS_SCENARIOS if scenarios is None else scenarios
    z = float(norm.ppf(lvl))
    es_factor = float(norm.pdf(z)) / (1.0 - lvl)
    wv = w.reindex(cov.columns, fill_value=0.0).to_numpy()
    rows, names = [], []
    for name, settings in scenarios.items():
        if not isinstance(settings, Mapping):
            raise DataError(f"scenario {name!r} is {settings!r}; it must be a mapping of "
                            f"settings ({', '.join(_SCENARIO_KEYS)})")
        unknown = [str(key) for key in settings if key not in _SCENARIO_KEYS]
        if unknown:
            raise DataError(f"scenario {name!r} has unknown setting(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(_SCENARIO_KEYS)}")
        stressed = stress_covariance(cov, **settings)
        s = stressed.matrix.to_numpy()
        sw = s @ wv
        variance = max(float(wv @ sw), 0.0)
        vol = math.sqrt(variance)
        rc = wv * sw
        if variance > 0:
            top = int(np.argmax(rc))
            contributor, share = str(cov.columns[top]), float(rc[top] / variance)
        else:
            contributor, share = None, float("nan")
        period_vol = vol / math.sqrt(ppy)
        rows.append({
            "volatility": vol,
            "period_volatility": period_vol,
            "value_at_risk": z * period_vol,
            "expected_shortfall": es_factor * period_vol,
            "largest_risk_contributor": contributor,
            "largest_relative_risk_contribution": share,
            "repaired": stressed.repaired,
            "notes": "; ".join(stressed.notes),
        })
        names.append(str(name))
    columns = ["volatility", "period_volatility", "value_at_risk", "expected_shortfall",
               "largest_risk_contributor", "largest_relative_risk_contribution", "repaired",
               "notes"]
    return pd.DataFrame(rows, index=pd.Index(names, name="scenario"), columns=columns)


# --------------------------------------------------------------------------- instant shocks


def instant_shock(
    weights: pd.Series | Mapping[str, float], shocks: pd.Series | Mapping[str, float]
) -> float:
    """Portfolio return of an instantaneous price move of each asset.

    ``R = sum_i w_i s_i`` with ``s_i`` the price move of asset ``i`` (decimal, -0.3 = a 30%
    fall); cash does not move. The weights are those just before the move.

    Parameters
    ----------
    weights : pandas.Series or mapping of shape (n_held,)
        Weights indexed by asset (plus an optional ``"cash"``), decimals summing to 1.
    shocks : pandas.Series or mapping
        Price move per asset, decimal >= -1. Every held asset (non-zero weight, other than
        cash) needs one (give 0 for "unchanged"); moves of assets not held are ignored.

    Returns
    -------
    float
        Portfolio return, decimal.

    Raises
    ------
    DataError
        If ``weights`` are invalid, a held asset has no shock, a shock is not a finite number
        >= -1, or a non-zero shock is given for cash.

    References
    ----------
    Jorion, P. (2007). *Value at Risk*, 3rd ed., chapter 14 (hypothetical scenarios).
    McGraw-Hill.
    """
    w = _check_weights(weights)
    if isinstance(shocks, pd.Series):
        shocks = shocks.to_dict()
    if not isinstance(shocks, Mapping):
        raise DataError("shocks must be a pandas Series or mapping asset -> price move "
                        f"(decimal), not {type(shocks).__name__}")
    moves = {}
    for asset, move in shocks.items():
        if isinstance(move, bool) or not isinstance(move, Real) \
                or not math.isfinite(float(move)) or float(move) < -1.0:
            raise DataError(f"shock for {asset} is {move!r}; a price move must be a finite "
                            "decimal >= -1 (-1 = the price goes to zero)")
        moves[asset] = float(move)
    if moves.get(CASH, 0.0) != 0.0:
        raise DataError(f"shock for {CASH} is {moves[CASH]!r}; cash is riskless and cannot "
                        "be shocked (shock a stablecoin instead)")
    held = _held(w)
    missing = [str(a) for a in held.index if a not in moves]
    if missing:
        raise DataError(f"no shock given for held asset(s) {', '.join(missing)}; give one "
                        "price move per held asset (0 for unchanged)")
    return float(sum(weight * moves[asset] for asset, weight in held.items()))


def crypto_crash_shock(
    assets: Iterable[str],
    *,
    btc: float = -0.30,
    other: float = -0.40,
    stablecoin: float = -0.05,
) -> dict[str, float]:
    """Price moves of a standard, ILLUSTRATIVE crypto crash, for :func:`instant_shock`.

    The defaults are an assumption, not an estimate: Bitcoin -30%, every other coin -40%,
    stablecoins -5% (a de-peg). For scale, Bitcoin's close-to-close falls over the crash
    windows of :data:`CRASH_WINDOWS` on Yahoo data range from about -19% (LUNA/UST) to -44%
    (COVID), altcoins usually fell further, USDC closed 2.85% below its peg on 2023-03-11
    and UST went to almost zero in May 2022.

    Parameters
    ----------
    assets : iterable of str
        Asset names, e.g. ``weights.index``; ``"cash"`` is skipped (it does not move).
    btc : float, default -0.30
        Move of Bitcoin (base symbol ``BTC``), decimal >= -1.
    other : float, default -0.40
        Move of every other non-stablecoin asset, decimal >= -1.
    stablecoin : float, default -0.05
        Move of stablecoins (:func:`riskcore.assets.is_stablecoin`), decimal >= -1.

    Returns
    -------
    dict of str to float
        Asset -> price move (decimal).

    Raises
    ------
    DataError
        If a move is not a finite number >= -1.
    """
    for name, move in (("btc", btc), ("other", other), ("stablecoin", stablecoin)):
        if _number(move, name) < -1.0:
            raise DataError(f"{name} is {move!r}; a price move must be a finite decimal >= -1")
    out = {}
    for asset in assets:
        if asset == CASH:
            continue
        if is_stablecoin(str(asset)):
            out[asset] = float(stablecoin)
        elif base_symbol(str(asset)) == "BTC":
            out[asset] = float(btc)
        else:
            out[asset] = float(other)
    return out
