"""Perpetuals in the rebalancing simulator: funding charged, maintenance margin checked.

:func:`riskcore.backtest.run_backtest` takes ``perpetuals=PerpetualSettings(...)``. What is
modelled, precisely:

- **Holding.** A coin chosen as ``"perpetual"`` is held through a linear perpetual of the same
  USD notional as the spot holding the target asks for. The simulator's accounting is
  unchanged: equity = Σ notional + ``cash``, so for a perpetual ``cash`` is the USD collateral
  minus the contract's notional (``cash + perpetual notional`` is the collateral a venue
  holds). A perpetual marked to market with zero funding has exactly the P&L of spot bought
  with borrowed cash at a zero rate (the simulator charges no interest on negative cash);
  a volatility target with ``max_leverage > 1`` levers the book, perpetual or spot alike.
  Trades pay the same :class:`~riskcore.rebalance.CostModel` as spot.
- **Funding.** Over each period ``(t-1, t]`` a perpetual pays ``f_t × V_{t-1}``, with
  ``V_{t-1}`` its USD notional after the trades at ``t-1`` and ``f_t`` the funding of the
  period: with a constant rate, ``rate / interval_hours`` (:func:`riskcore.book.funding_per_hour`)
  times the hours between the two dates; with a history, the sum of the rates of the funding
  events that fall in the period (a bar is labelled by its open, as :mod:`riskcore.ingest`
  does, so the bar labelled ``t`` closes one bar later; periods outside the history use the
  constant rate). A positive rate makes longs pay (cash falls); a negative one pays them.
  Funding is debited from cash at ``t`` before that date's valuation and trades, so it
  compounds through equity and shows in ``BacktestResult.funding``.
- **Margin.** Maintenance margin = ``Σ_i rate_i × |V_i|`` with ``rate_i`` the rate of the
  coin's instrument (``linear_perpetual`` or ``spot``, defaults
  :data:`riskcore.book.DEFAULT_MARGIN_RATES`: spot 0, fully paid). It is checked at each
  close twice: on the positions carried into the close (before its trades and with that
  period's funding paid) and after its trades; ``margin_excess`` is the lower of
  ``equity - maintenance margin`` of the two. A date with ``margin_excess < 0`` is a
  **breach**: a venue would have liquidated the perpetuals then. The simulation does not
  liquidate; it carries on as if the book had been topped up, and the notes say so. Intraday
  lows are not seen: daily closes understate the breaches.

References
----------
BitMEX and Binance USDⓈ-M perpetual contract specifications (funding every ``interval`` on
the position's notional, positive rate = longs pay; maintenance margin as a fraction of
notional). Hull, *Options, Futures, and Other Derivatives*, chapter 2 (marking to market).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from riskcore.assets import base_symbol, is_stablecoin
from riskcore.book import _rates, funding_per_hour, instrument_choice
from riskcore.errors import DataError

__all__ = ["PerpetualPlan", "PerpetualSettings", "funding_per_period", "margin_check",
           "perpetual_plan"]


def _by_coin(mapping: Mapping[str, object] | None, name: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in (mapping or {}).items():
        if not isinstance(key, str) or not key.strip():
            raise DataError(f"{name} is keyed by {key!r}; key it by coin (BTC or BTC-USD)")
        out[key] = value
    return out


@dataclass(frozen=True, eq=False)
class PerpetualSettings:
    """How the rebalancing simulator holds each coin, what funding it pays, its margin.

    Parameters
    ----------
    instruments : mapping of str to str
        ``"spot"`` or ``"perpetual"`` (:data:`riskcore.book.INSTRUMENT_CHOICES`) per coin,
        keyed by column (``BTC-USD``) or base symbol (``BTC``); coins not named are spot.
    funding_rate : float or mapping of str to float, default 0.0
        Funding rate per interval (decimal, 0.0001 = 1 bp; positive = longs pay), for every
        perpetual or per coin (coins not named: 0). For an annualized rate use
        :func:`riskcore.book.funding_rate_per_interval`.
    interval_hours : float or mapping of str to float, optional
        Hours between fundings as the venue sets it (1, 4, 8, ...), for every coin or per
        coin. Required when a constant rate is not zero. Never assumed.
    funding_history : mapping of str to pandas.Series, optional
        Per coin: the rate (decimal per interval) of each funding event, indexed by a
        UTC ``DatetimeIndex`` (``FundingRates.history`` of
        :func:`riskcore.book.read_funding_history`; key ``"*"`` = every perpetual). Used
        over its span; ``funding_rate`` elsewhere.
    margin_rates : mapping of str to float, optional
        Maintenance margin rate per instrument (``"linear_perpetual"``, ``"spot"``),
        replacing :data:`riskcore.book.DEFAULT_MARGIN_RATES`.

    Raises
    ------
    DataError
        On an unknown instrument choice, a rate that is not finite, an interval that is not
        positive (or missing for a non-zero rate), a history that is not a Series of finite
        rates on a DatetimeIndex, or a margin rate outside [0, 1]; the message names the coin.
    """

    instruments: Mapping[str, str] = field(default_factory=dict)
    funding_rate: float | Mapping[str, float] = 0.0
    interval_hours: float | Mapping[str, float] | None = None
    funding_history: Mapping[str, pd.Series] = field(default_factory=dict)
    margin_rates: Mapping[str, float] | None = None

    def __post_init__(self) -> None:
        instruments = _by_coin(self.instruments, "instruments")
        for coin in instruments:
            instrument_choice(coin, instruments)
        object.__setattr__(self, "instruments", instruments)
        rates = (_by_coin(self.funding_rate, "funding_rate")
                 if isinstance(self.funding_rate, Mapping) else None)
        for coin, rate in (rates or {"every perpetual": self.funding_rate}).items():
            if isinstance(rate, bool) or not isinstance(rate, int | float) \
                    or not math.isfinite(rate):
                raise DataError(f"funding rate for {coin} is {rate!r}; give a finite decimal "
                                "per interval (0.0001 = 1 bp, positive = longs pay)")
        if rates is not None:
            object.__setattr__(self, "funding_rate", rates)
        hours = self.interval_hours
        if isinstance(hours, Mapping):
            hours = _by_coin(hours, "interval_hours")
            for coin, h in hours.items():
                try:
                    funding_per_hour(0.0, h)
                except DataError as exc:
                    raise DataError(f"{coin}: {exc}") from None
            object.__setattr__(self, "interval_hours", hours)
        elif hours is not None:
            funding_per_hour(0.0, hours)
        history = _by_coin(self.funding_history, "funding_history")
        for coin, series in history.items():
            if not (isinstance(series, pd.Series)
                    and isinstance(series.index, pd.DatetimeIndex)):
                raise DataError(f"funding history of {coin} must be a Series of rates indexed "
                                "by date (read_funding_history(...).history)")
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)
            if not np.isfinite(values).all():
                raise DataError(f"funding history of {coin} has rates that are not finite "
                                "numbers; give decimals per interval")
        object.__setattr__(self, "funding_history", history)
        _rates(self.margin_rates)

    def _lookup(self, mapping: Mapping[str, object], asset: str):
        return mapping.get(asset, mapping.get(base_symbol(asset), mapping.get("*")))

    def rate_of(self, asset: str) -> float:
        """Constant funding rate per interval of a coin (0 when none is given)."""
        if isinstance(self.funding_rate, Mapping):
            value = self._lookup(self.funding_rate, asset)
            return 0.0 if value is None else float(value)
        return float(self.funding_rate)

    def hours_of(self, asset: str) -> float | None:
        """Funding interval of a coin in hours (None when not given)."""
        if isinstance(self.interval_hours, Mapping):
            value = self._lookup(self.interval_hours, asset)
            return None if value is None else float(value)
        return None if self.interval_hours is None else float(self.interval_hours)

    def history_of(self, asset: str) -> pd.Series | None:
        """Funding events of a coin (None without a history)."""
        return self._lookup(self.funding_history, asset)


@dataclass(frozen=True, eq=False)
class PerpetualPlan:
    """The settings laid onto a simulation's dates and assets (built by :func:`perpetual_plan`).

    Attributes
    ----------
    perpetual : numpy.ndarray of shape (n_assets,)
        True where the coin is held through a perpetual.
    funding : numpy.ndarray of shape (n_dates, n_assets)
        Funding rate charged at each date on the USD notional held since the previous date
        (decimal; 0 for spot-held coins and on the first date).
    margin_rate : numpy.ndarray of shape (n_assets,)
        Maintenance margin rate of each coin's instrument (decimal of notional).
    notes : tuple of str
    """

    perpetual: np.ndarray
    funding: np.ndarray
    margin_rate: np.ndarray
    notes: tuple[str, ...] = ()


def funding_per_period(settings: PerpetualSettings, asset: str, index: pd.DatetimeIndex
                       ) -> tuple[np.ndarray, str]:
    """Funding rate of each period ``(t-1, t]`` for one perpetual-held coin.

    Parameters
    ----------
    settings : PerpetualSettings
    asset : str
        Column name of the coin.
    index : pandas.DatetimeIndex of shape (n_dates,)
        The simulation's dates (bar labels: the bar labelled ``t`` closes one bar later, the
        median spacing of the index).

    Returns
    -------
    rates : numpy.ndarray of shape (n_dates,)
        Decimal of notional paid by a long over each period (0 on the first date).
    note : str
        Empty, or how many periods a history did not cover.

    Raises
    ------
    DataError
        If a non-zero constant rate is needed and the coin has no funding interval.
    """
    n = len(index)
    out = np.zeros(n)
    if n < 2:
        return out, ""
    stamps = (index.tz_localize("UTC") if index.tz is None
              else index.tz_convert("UTC")).as_unit("ns")
    hours = np.diff(stamps.asi8) / 3.6e12  # nanoseconds -> hours
    rate = settings.rate_of(asset)
    interval = settings.hours_of(asset)
    constant = np.zeros(n)
    if rate != 0.0:
        if interval is None:
            raise DataError(f"{asset}: a funding rate of {rate:g} per interval needs the "
                            "funding interval in hours (1, 4, 8, ... as the venue sets it)")
        constant[1:] = funding_per_hour(rate, interval) * hours
    history = settings.history_of(asset)
    if history is None or history.empty:
        return constant, ""
    events = history.sort_index()
    when = (events.index.tz_localize("UTC") if events.index.tz is None
            else events.index.tz_convert("UTC")).as_unit("ns")
    bar = pd.Timedelta(int(np.median(np.diff(stamps.asi8))), unit="ns")
    closes = (stamps + bar).asi8
    cumulative = np.concatenate([[0.0], np.cumsum(events.to_numpy(dtype=float))])
    # events in (close[t-1], close[t]]: count of events <= close
    upto = np.searchsorted(when.asi8, closes, side="right")
    out[1:] = cumulative[upto[1:]] - cumulative[upto[:-1]]
    covered = np.zeros(n, dtype=bool)
    covered[1:] = (closes[1:] >= when.asi8[0]) & (closes[:-1] < when.asi8[-1])
    out[~covered] = constant[~covered]
    outside = int((~covered[1:]).sum())
    note = ""
    if outside:
        note = (f"{asset}: the funding history ({when[0]:%Y-%m-%d} → {when[-1]:%Y-%m-%d}) "
                f"does not cover {outside} of {n - 1} periods; "
                + (f"they are charged the constant rate {rate:g} per {interval:g} h."
                   if rate else "they are charged no funding."))
    return out, note


def perpetual_plan(settings: PerpetualSettings, index: pd.DatetimeIndex,
                   assets: pd.Index) -> PerpetualPlan:
    """Lay the settings onto a simulation's dates and assets.

    Parameters
    ----------
    settings : PerpetualSettings
    index : pandas.DatetimeIndex of shape (n_dates,)
        The simulation's dates.
    assets : pandas.Index of shape (n_assets,)
        The simulation's columns.

    Returns
    -------
    PerpetualPlan

    Raises
    ------
    DataError
        If a coin named in ``instruments`` is not among ``assets``, a stablecoin is chosen
        as a perpetual, or :func:`funding_per_period` refuses a coin.
    """
    names = [str(a) for a in assets]
    known = set(names) | {base_symbol(a) for a in names}
    unknown = [c for c in settings.instruments if c not in known]
    if unknown:
        raise DataError(f"perpetual settings name {', '.join(unknown)}, not in the simulation; "
                        f"coins simulated: {', '.join(names)}")
    kinds = [instrument_choice(a, settings.instruments) for a in names]
    perpetual = np.array([k == "linear_perpetual" for k in kinds], dtype=bool)
    stable = [a for a, p in zip(names, perpetual, strict=True) if p and is_stablecoin(a)]
    if stable:
        raise DataError(f"{', '.join(stable)}: a stablecoin is cash, not a perpetual; hold it "
                        "as spot")
    rates = _rates(settings.margin_rates)
    funding = np.zeros((len(index), len(names)))
    notes = []
    for i in np.flatnonzero(perpetual):
        funding[:, i], note = funding_per_period(settings, names[i], index)
        if note:
            notes.append(note)
    return PerpetualPlan(perpetual, funding, np.array([rates[k] for k in kinds]), tuple(notes))


def margin_check(plan: PerpetualPlan, result, prices: np.ndarray, funding: np.ndarray):
    """Add funding, maintenance margin, margin excess and breaches to a simulation's result.

    Parameters
    ----------
    plan : PerpetualPlan
    result : riskcore.backtest.BacktestResult
        The run's result (its ``equity``, ``holdings`` and ``cash``).
    prices : numpy.ndarray of shape (n_dates, n_assets)
        The prices the run valued holdings at (0 before listing).
    funding : numpy.ndarray of shape (n_dates,)
        USD funding paid at each date (negative = received).

    Returns
    -------
    riskcore.backtest.BacktestResult
        ``result`` with ``funding``, ``maintenance_margin`` (after each close's trades),
        ``margin_excess`` (the lower of before and after the trades) and
        ``margin_breaches`` set, and a note per breach episode count.
    """
    index = result.equity.index
    units = result.holdings.to_numpy(dtype=float)
    equity = result.equity.to_numpy(dtype=float)
    cash = result.cash.to_numpy(dtype=float)
    after = np.abs(units * prices) @ plan.margin_rate
    excess = equity - after
    before_units = np.vstack([np.zeros((1, units.shape[1])), units[:-1]])
    before_values = before_units * prices
    before_cash = np.concatenate([[cash[0]], cash[:-1]]) - funding
    before_equity = before_values.sum(axis=1) + before_cash
    before = before_equity - np.abs(before_values) @ plan.margin_rate
    excess[1:] = np.minimum(excess[1:], before[1:])
    breaches = pd.DatetimeIndex(index[excess < 0], name="date")
    notes = list(result.notes) + list(plan.notes)
    if plan.perpetual.any():
        paid = float(funding.sum())
        notes.append(f"Funding on perpetuals: {'paid' if paid >= 0 else 'received'} "
                     f"{abs(paid):,.2f} USD over the run.")
    if len(breaches):
        notes.append(f"Margin: equity fell below maintenance margin on {len(breaches)} "
                     f"date(s), first {breaches[0]:%Y-%m-%d}, last {breaches[-1]:%Y-%m-%d} "
                     f"(lowest excess {excess.min():,.2f} USD); a venue would have liquidated "
                     "the perpetuals then. The simulation does not liquidate.")
    return replace(result,
                   funding=pd.Series(funding, index=index, name="funding"),
                   maintenance_margin=pd.Series(after, index=index, name="maintenance_margin"),
                   margin_excess=pd.Series(excess, index=index, name="margin_excess"),
                   margin_breaches=breaches, notes=tuple(notes))
