"""A cross-margined book of spot, perpetuals, futures, options and cash, in USD risk terms.

The book is a tuple of :class:`Position`. Each position is valued against a :class:`Market`
(spot per coin at the as-of date, a riskless rate) and reduced to its **cash delta** in USD:

============================  ========================  =========================================
instrument                    quantity                  cash delta (USD)
============================  ========================  =========================================
``spot``                      coins (signed)            ``q·S``
``linear_perpetual``          coins (signed)            ``q·F`` (``F`` = mark, default ``S``)
``linear_future``             coins (signed)            ``q·F`` (``F`` default ``S·e^{rT}``)
``inverse_perpetual``         USD face (signed)         ``face·S/F + collateral·S``
``inverse_future``            USD face (signed)         as inverse perpetual
``option``                    coins (signed)            ``q·Δ·S`` (Black-Scholes) or ``q·Δ_F·F``
``cash``                      USD or stablecoin units   none (a stablecoin keeps its own column)
============================  ========================  =========================================

A short inverse perpetual whose face equals the collateral's value (``face = -collateral·S``)
has a net USD delta of zero: the classic "cash and carry" hedge of coin collateral.

CSV layout (one row per position; header names exactly as below, order free; blank = unset)
-----------------------------------------------------------------------------------------------
``name``
    Label, unique in the book (blank: made from instrument and underlying).
``instrument``
    One of :data:`INSTRUMENTS`.
``underlying``
    Coin symbol or ticker (``BTC`` or ``BTC-USD``); ``USD`` or a stablecoin for cash.
``quantity``
    Coins for spot, linear and option rows; USD face for inverse rows; USD (or stablecoin
    units) for cash. Negative = short.
``price``
    Mark price of a perpetual or future, or the forward of an option's expiry (the option is
    then priced by Black-76 on it; blank: Black-Scholes on spot). Blank for spot and cash:
    their price is the data's price at the as-of date.
``strike``, ``expiry``, ``option_type``, ``implied_volatility``, ``settlement``
    Options only: strike in USD, expiry ``YYYY-MM-DD`` (00:00 UTC; also dated futures),
    ``call`` or ``put``, implied volatility as an annualized decimal (0.6 = 60%),
    settlement ``usd`` (default) or ``coin``. A coin-settled option pays ``payoff/S`` coins:
    the same USD value and delta, its premium quoted in coin.
``collateral``
    Inverse rows only: coins posted as collateral, counted as their own spot exposure.

Conventions: decimals everywhere (moves, rates, volatilities); time in years ACT/365 from the
as-of date; volatilities and covariance annualized; risk contributions as fractions of equity
(``RC_i = w_i (Σw)_i / σ`` with ``w = cash delta / equity``), summing to the book's
volatility; futures are marked to market (their unrealized P&L is part of the cash or
collateral you enter). Stress moves are relative: a spot move ``m`` takes every price of that
coin (spot, marks, forwards) to ``(1+m)`` times; a volatility move ``v`` takes each implied
volatility ``σ`` to ``σ(1+v)``.

References
----------
T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC
(Euler risk contributions). J. C. Hull, *Options, Futures, and Other Derivatives* (futures,
Black-76, delta-gamma approximation). Deribit and BitMEX contract specifications (inverse
contracts, funding, maintenance margin).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy.optimize import brentq

from riskcore.allocation import portfolio_volatility, risk_budget_weights, risk_contributions
from riskcore.assets import base_symbol, is_stablecoin
from riskcore.errors import DataError, InfeasibleError
from riskcore.pricing import black76, black_scholes

__all__ = [
    "BOOK_COLUMNS", "DEFAULT_MARGIN_RATES", "INSTRUMENTS", "SPOT_MOVES", "VOL_MOVES", "Book",
    "BookRisk", "BookTarget", "INSTRUMENT_CHOICES",
    "FundingRates", "Market", "Position", "StressGrid", "book_equity", "book_frame", "book_pnl",
    "book_risk", "margin_excess",
    "delta_approximation", "delta_matching_quantity", "funding_carry", "funding_per_hour",
    "funding_rate_per_interval", "instrument_choice", "liquidation_distance",
    "maintenance_margin", "market_from_prices", "read_book", "read_funding_history",
    "replay_crashes", "stress_book", "stress_grid", "target_trades",
]

INSTRUMENTS = ("spot", "linear_perpetual", "linear_future", "inverse_perpetual",
               "inverse_future", "option", "cash")
LINEAR = ("linear_perpetual", "linear_future")
INVERSE = ("inverse_perpetual", "inverse_future")
PERPETUALS = ("linear_perpetual", "inverse_perpetual")
SETTLEMENTS = ("usd", "coin")
#: How a coin is held when trades reach a target (Positions page) or in the simulator:
#: ``"spot"`` (paid in cash) or ``"perpetual"`` (a linear perpetual: exposure against margin).
INSTRUMENT_CHOICES = ("spot", "perpetual")
BOOK_COLUMNS = ("name", "instrument", "underlying", "quantity", "price", "strike", "expiry",
                "option_type", "implied_volatility", "settlement", "collateral")
_NUMBERS = ("quantity", "price", "strike", "implied_volatility", "collateral")

#: Maintenance margin as a fraction of notional, per instrument. Illustrative defaults near
#: tier-1 levels of large exchanges (Binance/Deribit futures 0.4-0.5%); set your venue's.
#: Notional: ``|q|·F`` linear, ``|face|`` inverse, ``|q|·S`` options (short options only,
#: on top of the option's value already counted in equity), ``|q|·S`` spot (0 by default:
#: fully paid spot needs no margin), cash 0.
DEFAULT_MARGIN_RATES: Mapping[str, float] = {
    "spot": 0.0, "linear_perpetual": 0.005, "linear_future": 0.005,
    "inverse_perpetual": 0.005, "inverse_future": 0.005, "option": 0.075, "cash": 0.0,
}
DAYS_PER_YEAR = 365.0
HOURS_PER_YEAR = 24 * 365.0
#: Default stress grid: spot -50% … +50% by 10%, implied volatility -50% … +100% relative.
SPOT_MOVES = (-0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
VOL_MOVES = (-0.5, -0.25, 0.0, 0.25, 0.5, 1.0)
#: Spot moves scanned for liquidation (then refined by Brent's method): -99% … 0 by 1.5%,
#: 0 … +100% by 2.5%, then to +1000% by about 30%.
_DOWN_GRID = np.linspace(0.0, -0.99, 67)
_UP_GRID = np.concatenate([np.linspace(0.0, 1.0, 41), np.linspace(1.3, 10.0, 30)])


# ----------------------------------------------------------------------------- data classes
def _missing(value: float) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Position:
    """One position of the book (see the module docstring for each field's unit).

    Raises
    ------
    DataError
        If a field is invalid for the instrument; the message names the field and what is
        allowed (:func:`read_book` adds the row).
    """

    name: str
    instrument: str
    underlying: str
    quantity: float
    price: float = math.nan
    strike: float = math.nan
    expiry: pd.Timestamp | None = None
    option_type: str = ""
    implied_volatility: float = math.nan
    settlement: str = "usd"
    collateral: float = 0.0

    def __post_init__(self) -> None:
        kind = self.instrument
        if kind not in INSTRUMENTS:
            raise DataError(f"instrument is {kind!r}; allowed: {', '.join(INSTRUMENTS)}")
        if not str(self.underlying).strip():
            raise DataError("underlying is empty; give a coin symbol such as BTC or BTC-USD")
        object.__setattr__(self, "underlying", base_symbol(self.underlying))
        if not math.isfinite(self.quantity):
            raise DataError(f"quantity is {self.quantity}; give a finite signed number")
        if kind == "cash" and self.underlying != "USD" and not is_stablecoin(self.underlying):
            raise DataError(f"cash underlying is {self.underlying}; allowed: USD or a "
                            "stablecoin (USDT, USDC, ...); hold coins as spot")
        if kind in ("spot", "cash") and not _missing(self.price):
            raise DataError(f"price is {self.price} for {kind}; leave it blank (the price "
                            "comes from the data at the as-of date)")
        if not _missing(self.price) and not self.price > 0:
            raise DataError(f"price is {self.price}; a mark or forward price must be > 0")
        if self.collateral and kind not in INVERSE:
            raise DataError("collateral is for inverse perpetuals and futures only; hold "
                            f"other coin as a spot row (instrument is {kind})")
        if not (math.isfinite(self.collateral) and self.collateral >= 0):
            raise DataError(f"collateral is {self.collateral}; give coins >= 0")
        needs_expiry = kind in ("linear_future", "inverse_future", "option")
        if needs_expiry and self.expiry is None:
            raise DataError(f"expiry is missing; a {kind} needs one (YYYY-MM-DD)")
        if kind == "option":
            if self.option_type not in ("call", "put"):
                raise DataError(f"option_type is {self.option_type!r}; allowed: call, put")
            if not self.strike > 0:
                raise DataError(f"strike is {self.strike}; an option needs a strike > 0 USD")
            iv = self.implied_volatility
            if not (iv > 0 and iv <= 5):
                raise DataError(f"implied_volatility is {iv}; give an annualized decimal "
                                "in (0, 5] (0.6 for 60%)")
            if self.settlement not in SETTLEMENTS:
                raise DataError(f"settlement is {self.settlement!r}; allowed: usd, coin")
        else:
            for name in ("strike", "implied_volatility"):
                if not _missing(getattr(self, name)):
                    raise DataError(f"{name} is for options only (instrument is {kind})")
            if self.option_type:
                raise DataError(f"option_type is for options only (instrument is {kind})")


@dataclass(frozen=True)
class Book:
    """A book of positions with unique names.

    Raises
    ------
    DataError
        If two positions share a name.
    """

    positions: tuple[Position, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "positions", tuple(self.positions))
        seen: set[str] = set()
        for p in self.positions:
            if p.name in seen:
                raise DataError(f"position name {p.name!r} appears twice; names must be unique")
            seen.add(p.name)

    @property
    def names(self) -> list[str]:
        """Position names in book order."""
        return [p.name for p in self.positions]


@dataclass(frozen=True, eq=False)
class Market:
    """Prices the book is valued at.

    Attributes
    ----------
    spot : pandas.Series
        USD price per coin at the as-of date, indexed by base symbol (``BTC``).
    as_of : pandas.Timestamp
        Valuation date (UTC); option and future expiries count from it.
    rate : float
        Riskless rate, continuously compounded annualized decimal (discounting and the
        default forward ``S·e^{rT}`` of dated futures and options).
    """

    spot: pd.Series
    as_of: pd.Timestamp
    rate: float = 0.0

    def price(self, underlying: str) -> float:
        """Spot price of a coin (1.0 for USD, and for a stablecoin without data)."""
        if underlying in self.spot.index:
            return float(self.spot[underlying])
        if underlying == "USD" or is_stablecoin(underlying):
            return 1.0
        raise DataError(f"no price for {underlying} at {self.as_of:%Y-%m-%d}; coins with "
                        f"prices: {', '.join(map(str, self.spot.index))}")


def market_from_prices(prices: pd.DataFrame, *, rate: float = 0.0) -> Market:
    """Build the market at the last date of a price panel.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per coin), columns like ``BTC-USD``; the last valid price of each
        column up to the last date is used.
    rate : float, default 0.0
        Riskless rate (annualized decimal, continuously compounded).

    Returns
    -------
    Market
        Spot indexed by base symbol, ``as_of`` = the panel's last date.

    Raises
    ------
    DataError
        If the panel is empty.
    """
    if prices.empty:
        raise DataError("the price panel is empty; load prices before valuing a book")
    last = prices.ffill().iloc[-1].dropna()
    spot = pd.Series(last.to_numpy(dtype=float), index=[base_symbol(c) for c in last.index],
                     name="spot")
    return Market(spot[~spot.index.duplicated()], pd.Timestamp(prices.index[-1]), float(rate))


# ----------------------------------------------------------------------------- reading
def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def read_book(data: bytes | str | pd.DataFrame) -> Book:
    """Read a book from CSV bytes/text or a table with the columns of :data:`BOOK_COLUMNS`.

    Parameters
    ----------
    data : bytes, str or pandas.DataFrame
        CSV (header row, one row per position; layout in the module docstring) or the table
        of the page's editor. Empty rows are skipped.

    Returns
    -------
    Book

    Raises
    ------
    DataError
        On an unknown or missing column, or a bad value; the message names the row (1 = the
        first position), the position and the field, and says what is allowed.
    """
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"the book is not a readable CSV: {exc}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    unknown = [c for c in frame.columns if c not in BOOK_COLUMNS]
    if unknown:
        raise DataError(f"unknown column(s) {', '.join(unknown)}; allowed: "
                        f"{', '.join(BOOK_COLUMNS)}")
    for required in ("instrument", "underlying", "quantity"):
        if required not in frame.columns:
            raise DataError(f"column {required} is missing; the book needs instrument, "
                            "underlying and quantity")
    positions = []
    for row, record in enumerate(frame.to_dict("records"), start=1):
        cells = {c: _cell(record.get(c)) for c in BOOK_COLUMNS}
        if not any(cells.values()):
            continue
        label = cells["name"] or f"{cells['instrument']} {cells['underlying']} {row}".strip()
        where = f"row {row} ({label})"
        fields: dict[str, object] = {"name": label}
        for name in _NUMBERS:
            if cells[name] == "":
                continue
            try:
                fields[name] = float(cells[name].replace("_", ""))
            except ValueError:
                raise DataError(f"{where}, field {name}: {cells[name]!r} is not a number") \
                    from None
        if "quantity" not in fields:
            raise DataError(f"{where}, field quantity: empty; give a signed number")
        if cells["expiry"]:
            try:
                expiry = pd.Timestamp(cells["expiry"])
            except (ValueError, TypeError):
                raise DataError(f"{where}, field expiry: {cells['expiry']!r} is not a date "
                                "(YYYY-MM-DD)") from None
            fields["expiry"] = expiry.tz_localize("UTC") if expiry.tzinfo is None \
                else expiry.tz_convert("UTC")
        fields["instrument"] = cells["instrument"].lower()
        fields["underlying"] = cells["underlying"]
        fields["option_type"] = cells["option_type"].lower()
        fields["settlement"] = cells["settlement"].lower() or "usd"
        try:
            positions.append(Position(**fields))
        except DataError as exc:
            raise DataError(f"{where}: {exc}") from None
    try:
        return Book(tuple(positions))
    except DataError as exc:
        raise DataError(f"the book: {exc}") from None


def book_frame(book: Book) -> pd.DataFrame:
    """Return the book as a table with the columns of :data:`BOOK_COLUMNS` (CSV round trip).

    Parameters
    ----------
    book : Book

    Returns
    -------
    pandas.DataFrame of shape (n_positions, 11)
        Expiries as ``YYYY-MM-DD`` text, unset numbers NaN, so ``read_book`` reads it back.
    """
    rows = []
    for p in book.positions:
        row = {c: getattr(p, c) for c in BOOK_COLUMNS}
        row["expiry"] = "" if p.expiry is None else f"{p.expiry:%Y-%m-%d}"
        row["collateral"] = p.collateral if p.collateral else math.nan
        row["settlement"] = p.settlement if p.instrument == "option" else ""
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(BOOK_COLUMNS))
    for name in _NUMBERS:
        frame[name] = frame[name].astype(float)
    return frame


# ----------------------------------------------------------------------------- valuation
def _years(market: Market, p: Position) -> float:
    if p.expiry is None:
        return 0.0
    t = (p.expiry - market.as_of).total_seconds() / 86400.0 / DAYS_PER_YEAR
    if t < 0:
        raise DataError(f"{p.name} expired on {p.expiry:%Y-%m-%d}, before the as-of date "
                        f"{market.as_of:%Y-%m-%d}: remove it or move the as-of date")
    return t


def _mark(market: Market, p: Position, spot: float) -> float:
    """Futures mark or option forward at unshocked prices (NaN: option priced on spot)."""
    if not _missing(p.price):
        return p.price
    if p.instrument in ("linear_perpetual", "inverse_perpetual"):
        return spot
    if p.instrument in ("linear_future", "inverse_future"):
        return spot * math.exp(market.rate * _years(market, p))
    return math.nan


@dataclass(frozen=True)
class _State:
    """One position revalued: USD value in equity, cash delta, vega, margin notional."""

    value: float
    delta: float
    vega: float
    notional: float
    price: float  # spot, mark or forward used


def _option(p: Position, market: Market, spot: float, t: float, vol_move: float):
    vol = p.implied_volatility * (1.0 + vol_move)
    forward = _mark(market, p, spot)
    if math.isnan(forward):
        quote = black_scholes(spot, p.strike, t, vol, rate=market.rate, kind=p.option_type)
        return quote, spot
    return black76(forward, p.strike, t, vol, rate=market.rate, kind=p.option_type), forward


def _revalue(p: Position, market: Market, move: float = 0.0, vol_move: float = 0.0) -> _State:
    """Value a position after a relative spot move and a relative implied-volatility move."""
    s0 = market.price(p.underlying)
    grow = 1.0 + move
    s = s0 * grow
    q = p.quantity
    kind = p.instrument
    if kind == "cash":
        stable = p.underlying != "USD"
        return _State(q * s, q * s if stable else 0.0, 0.0, 0.0, s)
    if kind == "spot":
        return _State(q * s, q * s, 0.0, abs(q) * s, s)
    if kind in LINEAR:
        f0 = _mark(market, p, s0)
        return _State(q * f0 * move, q * f0 * grow, 0.0, abs(q) * f0 * grow, f0 * grow)
    if kind in INVERSE:
        f0 = _mark(market, p, s0)
        # coin P&L face·(1/F0 - 1/F) valued at the new spot = face·(S0/F0)·move in USD
        pnl = q * (s0 / f0) * move
        return _State(pnl + p.collateral * s, q * s0 / f0 * grow + p.collateral * s, 0.0,
                      abs(q), f0 * grow)
    # option: priced on the shocked spot or forward (the forward moves with spot)
    t = _years(market, p)
    moved = replace(p, price=p.price * grow) if not _missing(p.price) else p
    quote, under = _option(moved, market, s, t, vol_move)
    return _State(q * quote.price, q * quote.delta * under, q * quote.vega,
                  abs(q) * s if q < 0 else 0.0, under)


def _moves(book: Book, spot_moves, default_stable: bool = False) -> dict[str, float]:
    """Per-underlying move from a number (every non-stable coin) or a mapping."""
    if isinstance(spot_moves, Mapping):
        moves = {base_symbol(k): float(v) for k, v in spot_moves.items()}
        for name, value in moves.items():
            if not (math.isfinite(value) and value > -1):
                raise DataError(f"move for {name} is {value}; moves are decimals > -1")
        return moves
    value = float(spot_moves)
    if not (math.isfinite(value) and value > -1):
        raise DataError(f"spot move is {value}; moves are decimals > -1 (-0.5 = halved)")
    return {p.underlying: value for p in book.positions
            if default_stable or not (p.underlying == "USD" or is_stablecoin(p.underlying))}


def _vol_moves(book: Book, vol_moves) -> dict[str, float]:
    if isinstance(vol_moves, Mapping):
        moves = {base_symbol(k): float(v) for k, v in vol_moves.items()}
    else:
        moves = {p.underlying: float(vol_moves) for p in book.positions}
    for name, value in moves.items():
        if not (math.isfinite(value) and value > -1):
            raise DataError(f"volatility move for {name} is {value}; relative moves are "
                            "decimals > -1 (-0.5 = implied volatility halved)")
    return moves


def _states(book: Book, market: Market, spot_moves=0.0, vol_moves=0.0) -> list[_State]:
    moves, vols = _moves(book, spot_moves), _vol_moves(book, vol_moves)
    return [_revalue(p, market, moves.get(p.underlying, 0.0), vols.get(p.underlying, 0.0))
            for p in book.positions]


def book_pnl(book: Book, market: Market, spot_moves: float | Mapping[str, float] = 0.0,
             vol_moves: float | Mapping[str, float] = 0.0) -> pd.Series:
    """Instant P&L of each position under relative spot and implied-volatility moves.

    Options are fully repriced (Black-Scholes or Black-76 at the same time to expiry);
    futures and perpetuals move one for one with their coin; no funding or time decay.

    Parameters
    ----------
    book : Book
    market : Market
    spot_moves : float or mapping of str to float, default 0.0
        Relative move (decimal > -1) of every non-stable coin, or per coin (``BTC`` or
        ``BTC-USD``; coins not named do not move).
    vol_moves : float or mapping of str to float, default 0.0
        Relative move of implied volatility (``σ → σ(1+v)``), for every coin or per coin.

    Returns
    -------
    pandas.Series of shape (n_positions,)
        P&L in USD indexed by position name; ``.sum()`` is the book's P&L.

    Raises
    ------
    DataError
        If a move is <= -1 or not finite, a coin has no price, or an option has expired.
    """
    base = _states(book, market)
    moved = _states(book, market, spot_moves, vol_moves)
    return pd.Series([m.value - b.value for m, b in zip(moved, base, strict=True)],
                     index=book.names, name="pnl", dtype=float)


def _rates(margin_rates: Mapping[str, float] | None) -> dict[str, float]:
    rates = dict(DEFAULT_MARGIN_RATES)
    for kind, rate in (margin_rates or {}).items():
        if kind not in INSTRUMENTS:
            raise DataError(f"margin rate given for {kind!r}; allowed: {', '.join(INSTRUMENTS)}")
        if not (math.isfinite(rate) and 0 <= rate <= 1):
            raise DataError(f"margin rate for {kind} is {rate}; allowed: a decimal in [0, 1]")
        rates[kind] = float(rate)
    return rates


def maintenance_margin(book: Book, market: Market,
                       margin_rates: Mapping[str, float] | None = None, *,
                       spot_moves: float | Mapping[str, float] = 0.0,
                       vol_moves: float | Mapping[str, float] = 0.0) -> pd.Series:
    """Maintenance margin of each position: rate of its instrument × notional.

    Parameters
    ----------
    book : Book
    market : Market
    margin_rates : mapping of str to float, optional
        Rate per instrument (decimal of notional) replacing :data:`DEFAULT_MARGIN_RATES`.
    spot_moves, vol_moves : float or mapping, default 0.0
        As :func:`book_pnl` (margin at shocked prices).

    Returns
    -------
    pandas.Series of shape (n_positions,)
        USD, indexed by position name.

    Raises
    ------
    DataError
        If a rate names an unknown instrument or lies outside [0, 1].
    """
    rates = _rates(margin_rates)
    states = _states(book, market, spot_moves, vol_moves)
    return pd.Series([rates[p.instrument] * s.notional
                      for p, s in zip(book.positions, states, strict=True)],
                     index=book.names, name="maintenance_margin", dtype=float)


def book_equity(book: Book, market: Market, spot_moves: float | Mapping[str, float] = 0.0,
                vol_moves: float | Mapping[str, float] = 0.0) -> float:
    """Equity of the book in USD: spot, cash, collateral and option values.

    Futures and perpetuals add their P&L since ``market`` (zero at ``market``: they are
    marked to market into the cash and collateral entered).

    Parameters
    ----------
    book : Book
    market : Market
    spot_moves, vol_moves : float or mapping, default 0.0
        As :func:`book_pnl`.

    Returns
    -------
    float
        USD.

    Raises
    ------
    DataError
        As :func:`book_pnl`.
    """
    return float(sum(s.value for s in _states(book, market, spot_moves, vol_moves)))


def margin_excess(book: Book, market: Market,
                  margin_rates: Mapping[str, float] | None = None, *,
                  spot_moves: float | Mapping[str, float] = 0.0,
                  vol_moves: float | Mapping[str, float] = 0.0) -> float:
    """Equity minus maintenance margin (USD); below zero the book would be liquidated.

    Parameters
    ----------
    book : Book
    market : Market
    margin_rates : mapping of str to float, optional
        As :func:`maintenance_margin`.
    spot_moves, vol_moves : float or mapping, default 0.0
        As :func:`book_pnl`.

    Returns
    -------
    float
        USD.

    Raises
    ------
    DataError
        As :func:`maintenance_margin` and :func:`book_pnl`.
    """
    rates = _rates(margin_rates)
    states = _states(book, market, spot_moves, vol_moves)
    return float(sum(s.value - rates[p.instrument] * s.notional
                     for p, s in zip(book.positions, states, strict=True)))


# ----------------------------------------------------------------------------- risk
def _column_of(underlying: str, by_symbol: Mapping[str, str]) -> str | None | bool:
    """Covariance column of an underlying, None for riskless cash, False when unknown."""
    if underlying in by_symbol:
        return by_symbol[underlying]
    if underlying == "USD" or is_stablecoin(underlying):
        return None
    return False


def _columns(book: Book, assets) -> dict[str, str | None]:
    """Map each underlying to its covariance column (None for riskless cash)."""
    by_symbol = {base_symbol(a): a for a in assets}
    mapping: dict[str, str | None] = {}
    for p in book.positions:
        column = _column_of(p.underlying, by_symbol)
        if column is False:
            raise DataError(f"{p.name}: no covariance for {p.underlying}; coins estimated: "
                            f"{', '.join(map(str, assets))} (select {p.underlying} in the "
                            "sidebar, or lengthen the analysis window)")
        mapping[p.underlying] = column
    return mapping


def estimable_positions(book: Book, assets) -> tuple[Book, str]:
    """Split a book into the positions an estimate covers and a note on the others.

    Parameters
    ----------
    book : Book
    assets : iterable of str
        Coins of the covariance estimate (matched to underlyings by base symbol).

    Returns
    -------
    book : Book
        The positions whose underlying has a covariance column, or is USD or a stablecoin
        held as riskless cash.
    note : str
        Empty, or one sentence naming the positions left out and their coins.
    """
    by_symbol = {base_symbol(a): a for a in assets}
    kept = [p for p in book.positions if _column_of(p.underlying, by_symbol) is not False]
    left = [p for p in book.positions if _column_of(p.underlying, by_symbol) is False]
    note = ""
    if left:
        note = ("Left out of the risk figures, no estimate for their coin in the analysis "
                "window: " + ", ".join(f"{p.name} ({p.underlying})" for p in left) + ".")
    return Book(tuple(kept)), note


@dataclass(frozen=True, eq=False)
class BookRisk:
    """Exposures, risk and margin of a book.

    Attributes
    ----------
    positions : pandas.DataFrame of shape (n_positions, 12)
        Per position: ``instrument``, ``underlying``, ``asset`` (covariance column),
        ``quantity``, ``price`` (spot, mark or forward used), ``value`` (USD in equity),
        ``cash_delta`` (USD; 0 for cash outside the covariance), ``vega`` (USD per 1.00
        volatility), ``maintenance_margin``
        (USD), ``risk_contribution`` (fraction of equity), ``relative_risk_contribution``,
        ``premium_coin`` (option price in coin of a coin-settled option, else NaN).
    assets : pandas.DataFrame of shape (n_assets, 6)
        Per covariance column: ``cash_delta`` (USD), ``weight`` (cash delta / equity),
        ``risk_contribution``, ``relative_risk_contribution``, ``risk_budget`` (NaN when
        none given), ``vega`` (USD per 1.00 volatility).
    equity : float
        USD: spot, cash, collateral and option values (futures are marked to market).
    volatility : float
        ``sqrt(wᵀΣw)``: annualized volatility of equity (decimal); ``volatility_usd`` in USD.
    volatility_usd : float
    gross_leverage : float
        Σ |cash delta| of every leg (inverse contract and its collateral separately),
        stablecoins excluded, / equity.
    net_leverage : float
        Σ cash delta of the non-stable coins / equity.
    maintenance_margin : float
        USD, the sum over positions.
    margin_excess : float
        ``equity - maintenance_margin`` (USD); below zero the book is liquidated.
    """

    positions: pd.DataFrame
    assets: pd.DataFrame
    equity: float
    volatility: float
    volatility_usd: float
    gross_leverage: float
    net_leverage: float
    maintenance_margin: float
    margin_excess: float


def _legs(p: Position, s: _State, market: Market) -> list[float]:
    """Cash delta of each leg of a position, for gross leverage (stablecoins excluded)."""
    if p.instrument == "cash" or is_stablecoin(p.underlying):
        return []
    if p.instrument in INVERSE:
        collateral = p.collateral * market.price(p.underlying)
        return [s.delta - collateral, collateral]
    return [s.delta]


def book_risk(book: Book, market: Market, cov: pd.DataFrame, *,
              budget: pd.Series | Mapping[str, float] | None = None,
              margin_rates: Mapping[str, float] | None = None) -> BookRisk:
    """Cash deltas, Euler risk contributions, leverage, vega and margin of a book.

    Parameters
    ----------
    book : Book
    market : Market
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance of simple returns (the dashboard's estimate), columns like
        ``BTC-USD``; every non-cash underlying must have a column (matched by base symbol).
    budget : pandas.Series or mapping, optional
        Risk budget per covariance column (decimals summing to 1) shown beside the
        relative risk contributions; columns without one get NaN.
    margin_rates : mapping of str to float, optional
        Maintenance margin rates per instrument (:data:`DEFAULT_MARGIN_RATES`).

    Returns
    -------
    BookRisk
        Per-position risk contributions sum to their asset's, and those to ``volatility``.

    Raises
    ------
    DataError
        If an underlying has no covariance column or price, an option has expired, or the
        equity is not positive.

    References
    ----------
    T. Roncalli (2013), *Introduction to Risk Parity and Budgeting*, section 2.1 (Euler
    allocation of volatility).
    """
    assets = list(cov.columns)
    columns = _columns(book, assets)
    states = _states(book, market)
    equity = float(sum(s.value for s in states))
    if not equity > 0:
        raise DataError(f"the book's equity is {equity:,.2f} USD; leverage and risk per unit "
                        "of equity need equity > 0 (add cash, spot or collateral)")
    asset_of = [columns[p.underlying] for p in book.positions]
    # stablecoin cash without a covariance column is riskless: no exposure to show
    deltas = np.array([0.0 if a is None else s.delta
                       for a, s in zip(asset_of, states, strict=True)])
    exposure = pd.Series(0.0, index=assets, name="cash_delta")
    vega = pd.Series(0.0, index=assets, name="vega")
    for a, d, s in zip(asset_of, deltas, states, strict=True):
        if a is not None:
            exposure[a] += d
            vega[a] += s.vega
    weights = exposure / equity
    rc = risk_contributions(weights, cov).fillna(0.0)
    vol = portfolio_volatility(weights, cov)
    sigma_w = cov.to_numpy(dtype=float) @ weights.to_numpy()
    marginal = pd.Series(sigma_w / vol if vol > 0 else np.zeros(len(assets)), index=assets)
    position_rc = [0.0 if a is None else d / equity * marginal[a]
                   for a, d in zip(asset_of, deltas, strict=True)]
    margin = maintenance_margin(book, market, margin_rates)
    rows = pd.DataFrame({
        "instrument": [p.instrument for p in book.positions],
        "underlying": [p.underlying for p in book.positions],
        "asset": asset_of,
        "quantity": [p.quantity for p in book.positions],
        "price": [s.price for s in states],
        "value": [s.value for s in states],
        "cash_delta": deltas,
        "vega": [s.vega for s in states],
        "maintenance_margin": margin.to_numpy(),
        "risk_contribution": position_rc,
        "relative_risk_contribution": np.array(position_rc) / vol if vol > 0 else np.nan,
        "premium_coin": [s.value / p.quantity / market.price(p.underlying)
                         if p.instrument == "option" and p.settlement == "coin" and p.quantity
                         else math.nan for p, s in zip(book.positions, states, strict=True)],
    }, index=pd.Index(book.names, name="position"))
    budgets = pd.Series(budget if budget is not None else {}, dtype=float)
    table = pd.DataFrame({
        "cash_delta": exposure, "weight": weights, "risk_contribution": rc,
        "relative_risk_contribution": rc / vol if vol > 0 else np.nan,
        "risk_budget": budgets.reindex(assets), "vega": vega,
    })
    table.index.name = "asset"
    gross = sum(abs(x) for p, s in zip(book.positions, states, strict=True)
                for x in _legs(p, s, market))
    net = sum(d for p, d in zip(book.positions, deltas, strict=True)
              if p.instrument != "cash" and not is_stablecoin(p.underlying))
    total_margin = float(margin.sum())
    return BookRisk(rows, table, equity, vol, vol * equity, gross / equity, net / equity,
                    total_margin, equity - total_margin)


# ----------------------------------------------------------------------------- stress
@dataclass(frozen=True, eq=False)
class StressGrid:
    """Book P&L and margin excess on a grid of market-wide spot × implied-volatility moves.

    Attributes
    ----------
    pnl : pandas.DataFrame of shape (n_vol_moves, n_spot_moves)
        USD P&L, options fully repriced; rows = relative IV moves, columns = spot moves.
    margin_excess : pandas.DataFrame of shape (n_vol_moves, n_spot_moves)
        Equity after the move minus maintenance margin after the move (USD).
    delta_pnl : pandas.Series of shape (n_spot_moves,)
        The delta approximation ``Σ cash delta × move`` (no IV move).
    """

    pnl: pd.DataFrame
    margin_excess: pd.DataFrame
    delta_pnl: pd.Series


def stress_grid(book: Book, market: Market, *,
                spot_moves=SPOT_MOVES, vol_moves=VOL_MOVES,
                margin_rates: Mapping[str, float] | None = None) -> StressGrid:
    """Revalue the book on every (spot move, IV move) pair, moving all non-stable coins.

    Parameters
    ----------
    book : Book
    market : Market
    spot_moves : sequence of float, default -50% … +50% by 10%
        Relative moves of every non-stable coin (decimals > -1).
    vol_moves : sequence of float, default -50%, -25%, 0, +25%, +50%, +100%
        Relative moves of every implied volatility.
    margin_rates : mapping, optional
        As :func:`maintenance_margin`.

    Returns
    -------
    StressGrid

    Raises
    ------
    DataError
        As :func:`book_pnl`.
    """
    rates = _rates(margin_rates)
    base = _states(book, market)
    base_value = sum(s.value for s in base)
    pnl = np.empty((len(vol_moves), len(spot_moves)))
    excess = np.empty_like(pnl)
    for i, v in enumerate(vol_moves):
        for j, m in enumerate(spot_moves):
            states = _states(book, market, m, v)
            value = sum(s.value for s in states)
            margin = sum(rates[p.instrument] * s.notional
                         for p, s in zip(book.positions, states, strict=True))
            pnl[i, j], excess[i, j] = value - base_value, value - margin
    delta = delta_approximation(book, market, spot_moves)["delta"]
    idx, cols = pd.Index(vol_moves, name="vol_move"), pd.Index(spot_moves, name="spot_move")
    return StressGrid(pd.DataFrame(pnl, idx, cols), pd.DataFrame(excess, idx, cols), delta)


def delta_approximation(book: Book, market: Market, spot_moves) -> pd.DataFrame:
    """Full repricing against the delta approximation for market-wide spot moves.

    Parameters
    ----------
    book : Book
    market : Market
    spot_moves : sequence of float
        Relative moves of every non-stable coin.

    Returns
    -------
    pandas.DataFrame of shape (n_moves, 3)
        ``full`` (USD P&L, options repriced), ``delta`` (``Σ cash delta × move``) and
        ``gap = full - delta`` (second order in the move: gamma and the coin collateral
        of inverse contracts cancel nothing at first order), indexed by move.
    """
    base = _states(book, market)
    risky = [p.instrument != "cash" and not is_stablecoin(p.underlying) for p in book.positions]
    first = sum(s.delta for s, r in zip(base, risky, strict=True) if r)
    full = [float(book_pnl(book, market, m).sum()) for m in spot_moves]
    delta = [first * m for m in spot_moves]
    return pd.DataFrame({"full": full, "delta": delta,
                         "gap": np.array(full) - np.array(delta)},
                        index=pd.Index(list(spot_moves), name="spot_move"))


def liquidation_distance(book: Book, market: Market,
                         margin_rates: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Smallest spot moves that bring equity down to maintenance margin.

    For each coin (only that coin moves) and for a market-wide move (every non-stable coin
    moves together), find the down move in [-99%, 0] and the up move in [0, +1000%] closest
    to zero at which ``equity(m) - maintenance_margin(m) = 0``; options fully repriced.

    Parameters
    ----------
    book : Book
    market : Market
    margin_rates : mapping, optional
        As :func:`maintenance_margin`.

    Returns
    -------
    pandas.DataFrame of shape (n_coins + 1, 3)
        Columns ``down`` (negative decimal or NaN: no liquidation down to -99%), ``up``
        (positive decimal or NaN) and ``nearest`` (the one closer to zero); 0.0 when the
        book is already below maintenance margin. Last row ``market-wide``.

    Raises
    ------
    DataError
        As :func:`book_pnl`.
    """
    rates = _rates(margin_rates)
    coins = list(dict.fromkeys(p.underlying for p in book.positions
                               if p.underlying != "USD" and not is_stablecoin(p.underlying)))

    rows = {}
    for label, names in [*((c, [c]) for c in coins), ("market-wide", coins)]:
        def f(m: float, names=names) -> float:
            return margin_excess(book, market, rates, spot_moves=dict.fromkeys(names, m))
        found = {}
        for side, grid in (("down", _DOWN_GRID), ("up", _UP_GRID)):
            values = np.array([f(m) for m in grid])
            if values[0] <= 0:
                found[side] = 0.0
                continue
            hit = np.flatnonzero(values <= 0)
            found[side] = (math.nan if not len(hit) else
                           brentq(f, grid[hit[0] - 1], grid[hit[0]], xtol=1e-12))
        down, up = found["down"], found["up"]
        near = [m for m in (down, up) if not math.isnan(m)]
        rows[label] = {"down": down, "up": up,
                       "nearest": min(near, key=abs) if near else math.nan}
    return pd.DataFrame.from_dict(rows, orient="index", columns=["down", "up", "nearest"])


# ----------------------------------------------------------------------------- past crashes
def _price_columns(book: Book, prices: pd.DataFrame) -> dict[str, str]:
    """Price column of each underlying of the book (by base symbol; USD has none)."""
    by_symbol: dict[str, str] = {}
    for column in prices.columns:
        by_symbol.setdefault(base_symbol(str(column)), str(column))
    return {p.underlying: by_symbol[p.underlying] for p in book.positions
            if p.underlying in by_symbol}


def replay_crashes(book: Book, market: Market, prices: pd.DataFrame,
                   windows: Mapping[str, tuple[str, str]] | None = None, *,
                   vol_move: float = 0.0,
                   margin_rates: Mapping[str, float] | None = None) -> pd.DataFrame:
    """Today's book through past crash windows: each coin's move, options fully repriced.

    For each window, every underlying moves by its coin's return over the window (the close
    of ``start`` to the close of ``end``, measured as :func:`riskcore.stress.historical_scenarios`
    measures it, stablecoins included: a USDC cash row de-pegs with USDC), applied instantly
    to the book valued at ``market``: options repriced by Black-Scholes/Black-76 at the same
    time to expiry with implied volatilities moved by ``vol_move``, futures and perpetuals
    moved one for one, no funding or time decay (:func:`book_pnl`). A coin without prices over
    the window does not move; the row names it and is not ``complete``.

    Parameters
    ----------
    book : Book
    market : Market
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per coin) with a sorted UTC ``DatetimeIndex``; columns matched to
        underlyings by base symbol.
    windows : mapping of str to (str, str), optional
        Name -> (start, end) dates; default :data:`riskcore.stress.CRASH_WINDOWS`. Windows
        the prices do not cover are left out.
    vol_move : float, default 0.0
        Relative move of every implied volatility in the crash (0.5 = up by half), an
        assumption: the price data carry no implied volatility.
    margin_rates : mapping, optional
        As :func:`maintenance_margin`.

    Returns
    -------
    pandas.DataFrame of shape (n_covered, 10 + n_coins)
        Index ``scenario``. Columns ``start``, ``end`` (price timestamps used), ``pnl``
        (USD), ``return`` (pnl / equity before), ``delta_pnl`` (``Σ cash delta × move``,
        USD), ``margin_excess`` (USD after the move), ``liquidated`` (margin excess < 0),
        ``worst_position`` (name of the largest loss), ``complete`` (every coin priced),
        ``missing_coins``, then one column per coin (base symbol) with its move (decimal,
        NaN when not priced).

    Raises
    ------
    DataError
        If the book holds no coin of the prices, a window is malformed, prices are invalid,
        or as :func:`book_pnl`.

    References
    ----------
    P. Jorion (2007), *Value at Risk*, 3rd ed., chapter 14 (historical scenarios, full
    revaluation).
    """
    from riskcore.stress import CRASH_WINDOWS, historical_scenarios

    columns = _price_columns(book, prices)
    risky = [c for c in columns.values() if not is_stablecoin(c)]
    if not risky:
        raise DataError("no coin of the book has prices to replay crashes on; coins in the "
                        f"prices: {', '.join(map(str, prices.columns))}")
    held = list(dict.fromkeys(columns.values()))
    weights = pd.Series(1.0 / len(held), index=held)  # the moves do not depend on weights
    table = historical_scenarios(prices[held], weights,
                                 windows=CRASH_WINDOWS if windows is None else windows)
    rates = _rates(margin_rates)
    base = _states(book, market)
    equity = float(sum(s.value for s in base))
    coins = list(dict.fromkeys(p.underlying for p in book.positions if p.underlying != "USD"))
    rows = []
    for _, row in table.iterrows():
        moves = {coin: float(row[columns[coin]]) for coin in coins if coin in columns
                 and math.isfinite(row[columns[coin]])}
        missing = [c for c in coins if c not in moves and not is_stablecoin(c)]
        moved = _states(book, market, moves, vol_move)
        pnl = np.array([m.value - b.value for m, b in zip(moved, base, strict=True)])
        margin = sum(rates[p.instrument] * s.notional
                     for p, s in zip(book.positions, moved, strict=True))
        total = float(pnl.sum())
        rows.append({
            "start": row["start"], "end": row["end"], "pnl": total,
            "return": total / equity if equity > 0 else math.nan,
            "delta_pnl": float(sum(b.delta * moves.get(p.underlying, 0.0)
                                   for p, b in zip(book.positions, base, strict=True))),
            "margin_excess": equity + total - margin,
            "liquidated": equity + total - margin < 0,
            "worst_position": book.names[int(np.argmin(pnl))],
            "complete": not missing, "missing_coins": ", ".join(missing),
            **{c: moves.get(c, math.nan) for c in coins},
        })
    out = ["start", "end", "pnl", "return", "delta_pnl", "margin_excess", "liquidated",
           "worst_position", "complete", "missing_coins", *coins]
    return pd.DataFrame(rows, index=pd.Index(list(table.index), name="scenario"), columns=out)


def stress_book(book: Book, market: Market, cov: pd.DataFrame,
                scenarios: Mapping[str, Mapping[str, object]] | None = None, *,
                periods_per_year: float, level: float = 0.99) -> pd.DataFrame:
    """Compute the book's volatility and normal VaR/ES under stressed covariance scenarios.

    Each scenario's covariance comes from :func:`riskcore.stress.stress_covariance` (the
    settings of :func:`riskcore.stress.stress_test`); the book's cash deltas ``x`` (USD,
    :func:`book_risk`) give ``σ = sqrt(xᵀ S x)``. One-period ``VaR = z σ / sqrt(ppy)`` and
    ``ES = φ(z)/(1-level) σ / sqrt(ppy)`` for zero-mean normal P&L, in USD: the delta view
    of the book (options at their deltas).

    Parameters
    ----------
    book : Book
    market : Market
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance; every non-cash underlying needs a column.
    scenarios : mapping of str to mapping, optional
        Name -> settings; default :data:`riskcore.stress.STRESS_SCENARIOS`.
    periods_per_year : float
        Periods a year of the one-period VaR (365 for daily 24/7 data).
    level : float, default 0.99
        Confidence level in (0, 1).

    Returns
    -------
    pandas.DataFrame of shape (n_scenarios, 7)
        Index ``scenario``. Columns ``volatility`` (annualized decimal of equity),
        ``volatility_usd``, ``value_at_risk`` and ``expected_shortfall`` (USD per period,
        positive losses), ``largest_risk_contributor`` (coin), its
        ``largest_relative_risk_contribution`` and ``gross_leverage``.

    Raises
    ------
    DataError
        On an unknown scenario setting, ``periods_per_year`` <= 0, ``level`` outside (0, 1),
        or as :func:`book_risk` and :func:`riskcore.stress.stress_covariance`.

    References
    ----------
    Kupiec, P. (1998), "Stress testing in a value at risk framework", Journal of Derivatives
    6(1) (covariance stress); Jorion, P. (2007), *Value at Risk*, chapter 5 (delta-normal).
    """
    from scipy.stats import norm

    from riskcore.stress import _SCENARIO_KEYS, STRESS_SCENARIOS, stress_covariance

    if not (math.isfinite(periods_per_year) and periods_per_year > 0):
        raise DataError(f"periods_per_year is {periods_per_year}; it must be > 0 (365 for "
                        "24/7 crypto)")
    if not 0 < level < 1:
        raise DataError(f"level is {level}; it must lie strictly between 0 and 1")
    cov = cov.drop(index="cash", columns="cash", errors="ignore")
    z = float(norm.ppf(level))
    es = float(norm.pdf(z)) / (1 - level)
    rows = {}
    for name, settings in (STRESS_SCENARIOS if scenarios is None else scenarios).items():
        unknown = [str(k) for k in settings if k not in _SCENARIO_KEYS]
        if unknown:
            raise DataError(f"scenario {name!r} has unknown setting(s) {', '.join(unknown)}; "
                            f"allowed: {', '.join(_SCENARIO_KEYS)}")
        risk = book_risk(book, market, stress_covariance(cov, **settings).matrix)
        period = risk.volatility_usd / math.sqrt(periods_per_year)
        shares = risk.assets["relative_risk_contribution"]
        top = shares.idxmax() if shares.notna().any() else None
        rows[str(name)] = {
            "volatility": risk.volatility, "volatility_usd": risk.volatility_usd,
            "value_at_risk": z * period, "expected_shortfall": es * period,
            "largest_risk_contributor": top,
            "largest_relative_risk_contribution": math.nan if top is None else shares[top],
            "gross_leverage": risk.gross_leverage,
        }
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "scenario"
    return frame


# ----------------------------------------------------------------------------- targets
@dataclass(frozen=True, eq=False)
class BookTarget:
    """Trades that move the book's risk contributions to a risk budget.

    Attributes
    ----------
    trades : pandas.DataFrame
        One row per traded coin (index = covariance column): ``instrument`` (spot or
        linear_perpetual), ``quantity`` (coins, signed), ``usd`` (cash delta traded),
        ``target_cash_delta`` (USD).
    book : Book
        The book after the trades (spot bought with USD cash, perpetuals added to an
        existing perpetual on the coin or opened as ``perp <coin>``).
    scale : float
        Target gross exposure of the budgeted coins per unit of equity.
    leverage_capped : bool
        Whether the leverage cap cut the target below the requested volatility.
    notes : tuple of str
        Warnings, e.g. spot sold below zero (borrowed coin).
    """

    trades: pd.DataFrame
    book: Book
    scale: float
    leverage_capped: bool
    notes: tuple[str, ...] = field(default_factory=tuple)


def instrument_choice(asset: str, instruments: Mapping[str, str]) -> str:
    """Return the instrument a coin is held through: ``"spot"`` or ``"linear_perpetual"``.

    Parameters
    ----------
    asset : str
        Column name (``BTC-USD``) or base symbol.
    instruments : mapping of str to str
        :data:`INSTRUMENT_CHOICES` (``"linear_perpetual"`` also accepted) per column or base
        symbol; a coin not named is held as spot.

    Returns
    -------
    str
        ``"spot"`` or ``"linear_perpetual"``.

    Raises
    ------
    DataError
        If the choice for the coin is not one of :data:`INSTRUMENT_CHOICES`.
    """
    choice = instruments.get(asset, instruments.get(base_symbol(asset), "spot"))
    if choice not in (*INSTRUMENT_CHOICES, "linear_perpetual"):
        raise DataError(f"instrument for {asset} is {choice!r}; allowed: "
                        f"{', '.join(INSTRUMENT_CHOICES)}")
    return "spot" if choice == "spot" else "linear_perpetual"


def _apply(book: Book, market: Market, deltas: pd.Series, instruments: Mapping[str, str]
           ) -> tuple[Book, pd.DataFrame]:
    positions = list(book.positions)
    rows = {}
    for asset, usd in deltas.items():
        coin = base_symbol(asset)
        kind = instrument_choice(asset, instruments)
        existing = [i for i, p in enumerate(positions)
                    if p.instrument == kind and p.underlying == coin]
        price = (market.price(coin) if kind == "spot" or not existing
                 else _mark(market, positions[existing[0]], market.price(coin)))
        qty = usd / price
        rows[asset] = {"instrument": kind, "quantity": qty, "usd": usd}
        if qty == 0:
            continue
        if existing:
            i = existing[0]
            positions[i] = replace(positions[i], quantity=positions[i].quantity + qty)
        else:
            label = f"{'spot' if kind == 'spot' else 'perp'} {coin}"
            while label in {p.name for p in positions}:
                label += "+"
            positions.append(Position(label, kind, coin, qty))
        if kind == "spot":  # paid from (or into) USD cash
            cash = [i for i, p in enumerate(positions)
                    if p.instrument == "cash" and p.underlying == "USD"]
            if cash:
                positions[cash[0]] = replace(positions[cash[0]],
                                             quantity=positions[cash[0]].quantity - usd)
            else:
                positions.append(Position("cash USD", "cash", "USD", -usd))
    return Book(tuple(positions)), pd.DataFrame.from_dict(
        rows, orient="index", columns=["instrument", "quantity", "usd"])


def _gross_after(book: Book, market: Market, now: BookRisk, inside: list[str],
                 instruments: Mapping[str, str]):
    """Gross leverage after trading ``gaps`` (USD cash delta per budgeted coin), fast.

    A trade of ``g`` USD adds ``g`` to the cash delta of the position that receives it (the
    first spot or linear perpetual on the coin, as :func:`_apply` does) and leaves equity
    unchanged, so gross leverage is ``(Σ|other legs| + Σ|d_a + g_a|) / equity``: convex and
    piecewise linear in the trades. Checked against :func:`book_risk` by the tests.
    """
    states = _states(book, market)
    receiving: dict[int, int] = {}
    for k, asset in enumerate(inside):
        coin = base_symbol(asset)
        kind = instrument_choice(asset, instruments)
        found = [i for i, p in enumerate(book.positions)
                 if p.instrument == kind and p.underlying == coin]
        if found:
            receiving[found[0]] = k
    fixed = sum(abs(x) for i, (p, s) in enumerate(zip(book.positions, states, strict=True))
                if i not in receiving for x in _legs(p, s, market))
    start = np.zeros(len(inside))
    for i, k in receiving.items():
        start[k] = states[i].delta
    equity = now.equity

    risky = np.array([not is_stablecoin(a) for a in inside], dtype=bool)

    def gross(gaps: np.ndarray) -> float:
        return (fixed + float(np.abs(start + gaps)[risky].sum())) / equity

    return gross


def target_trades(book: Book, market: Market, cov: pd.DataFrame,
                  budget: pd.Series | Mapping[str, float], *,
                  instruments: Mapping[str, str], leverage_cap: float,
                  target_volatility: float | None = None) -> BookTarget:
    """Trades in spot or perpetuals that give each budgeted coin its risk budget.

    The target cash deltas are ``x* = s · equity · w`` with ``w`` the long-only risk-budget
    weights (:func:`riskcore.allocation.risk_budget_weights`) on the budgeted coins; ``s``
    gives the target volatility (default: the book's current one), lowered by bisection
    until the book after the trades has gross leverage <= ``leverage_cap``. Coins outside
    the budget keep their exposure. Each trade closes the gap ``x* - x`` in the instrument
    chosen for the coin.

    Parameters
    ----------
    book : Book
    market : Market
    cov : pandas.DataFrame of shape (n_assets, n_assets)
        Annualized covariance (as :func:`book_risk`).
    budget : pandas.Series or mapping
        Risk budget per covariance column (>= 0, normalized to sum 1).
    instruments : mapping of str to str
        ``"spot"`` or ``"perpetual"`` per coin (column or base symbol); default spot.
    leverage_cap : float
        Largest gross leverage allowed after the trades (> 0).
    target_volatility : float, optional
        Annualized volatility of equity to aim for (decimal); default the current one.

    Returns
    -------
    BookTarget

    Raises
    ------
    DataError
        On a bad instrument choice, an unknown coin or non-positive equity.
    InfeasibleError
        If the budget is invalid, ``leverage_cap`` is not positive, or the positions the
        trades cannot reduce already exceed it.
    """
    if not (math.isfinite(leverage_cap) and leverage_cap > 0):
        raise InfeasibleError(f"leverage cap is {leverage_cap}; it must be > 0")
    budget = pd.Series(budget, dtype=float)
    budget = budget[budget > 0]
    inside = [a for a in cov.columns if a in budget.index]
    if not inside:
        raise InfeasibleError("no coin of the covariance has a positive risk budget")
    now = book_risk(book, market, cov)
    weights = risk_budget_weights(cov.loc[inside, inside], budget.reindex(inside)).weights
    aim = now.volatility if target_volatility is None else float(target_volatility)
    if not (math.isfinite(aim) and aim > 0):
        raise InfeasibleError(f"target volatility is {aim}; it must be > 0 (decimal a year)")
    s_vol = aim / portfolio_volatility(weights, cov.loc[inside, inside])
    current = now.assets["cash_delta"][inside]
    gross = _gross_after(book, market, now, inside, instruments)

    def trial(s: float):
        gaps = (s * now.equity * weights - current).round(10)
        after, trades = _apply(book, market, gaps, instruments)
        return after, trades, book_risk(after, market, cov).gross_leverage

    target = now.equity * weights.to_numpy()
    capped = gross(s_vol * target - current.to_numpy()) > leverage_cap + 1e-12
    scale = s_vol
    if capped:
        floor = gross(-current.to_numpy())
        if floor > leverage_cap + 1e-12:
            raise InfeasibleError(
                f"leverage cap {leverage_cap:.2f}× is below the {floor:.2f}× gross leverage the "
                "book keeps with every budgeted coin's exposure at zero (hedges, collateral, "
                "options, coins outside the budget): raise the cap or unwind those positions")
        # gross leverage is convex in the scale (a sum of |linear|): bisect its feasible interval
        low, high = 0.0, s_vol
        for _ in range(100):
            mid = 0.5 * (low + high)
            fits = gross(mid * target - current.to_numpy()) <= leverage_cap
            low, high = (mid, high) if fits else (low, mid)
        scale = low
    after, trades, _ = trial(scale)
    trades["target_cash_delta"] = scale * now.equity * weights
    notes = []
    if capped:
        notes.append(f"the leverage cap {leverage_cap:.2f}× binds: the target volatility is "
                     "lowered so gross leverage stays within it")
    for p in after.positions:
        if p.instrument == "spot" and p.quantity < -1e-12:
            notes.append(f"{p.name} would be {p.quantity:.6g} coins: selling more than held "
                         "borrows the coin; choose the perpetual for it")
    return BookTarget(trades, after, scale, capped, tuple(notes))


def delta_matching_quantity(option: Position, market: Market, spot_quantity: float) -> float:
    """Option quantity whose cash delta equals a spot holding's (same first-order risk).

    ``q = spot_quantity · S / (Δ · U)`` with ``U`` the option's underlying (spot or forward):
    the option position then contributes the same volatility as the spot holding.

    Parameters
    ----------
    option : Position
        An option row (its strike, expiry, type and implied volatility are used).
    market : Market
    spot_quantity : float
        Coins of the spot holding.

    Returns
    -------
    float
        Options (coins of underlying), signed like the exposure; inf if delta is zero.

    Raises
    ------
    DataError
        If ``option`` is not an option or has expired.
    """
    if option.instrument != "option":
        raise DataError(f"{option.name} is a {option.instrument}; pick an option")
    per_option = _revalue(replace(option, quantity=1.0), market).delta
    spot = spot_quantity * market.price(option.underlying)
    return math.inf if per_option == 0 else spot / per_option


# ----------------------------------------------------------------------------- funding
def funding_per_hour(rate: float, interval_hours: float) -> float:
    """Funding rate per hour from a rate per funding interval.

    The one funding convention of riskcore: a positive rate makes longs pay shorts
    ``rate × notional`` every ``interval_hours``; accrued continuously, that is
    ``rate / interval_hours`` of notional an hour (``× 8760`` a year of 365 days).

    Parameters
    ----------
    rate : float
        Rate per funding interval (decimal, 0.0001 = 1 bp); positive = longs pay.
    interval_hours : float
        Hours between fundings as the venue sets it (1, 4, 8, ...). Never assumed.

    Returns
    -------
    float
        Decimal of notional per hour.

    Raises
    ------
    DataError
        If ``interval_hours`` is not a positive number or ``rate`` is not finite.
    """
    if not (isinstance(interval_hours, int | float) and math.isfinite(interval_hours)
            and interval_hours > 0):
        raise DataError(f"funding interval is {interval_hours} hours; give the venue's "
                        "interval in hours (> 0)")
    if not math.isfinite(rate):
        raise DataError(f"funding rate is {rate}; give a finite decimal per interval")
    return float(rate) / float(interval_hours)


def funding_rate_per_interval(annual_rate: float, interval_hours: float) -> float:
    """Rate per funding interval equivalent to an annualized funding rate (365-day year).

    ``annual_rate × interval_hours / 8760``; the inverse of
    ``funding_per_hour(rate, interval_hours) × 8760``.

    Parameters
    ----------
    annual_rate : float
        Annualized funding rate (decimal, 0.1 = longs pay 10% of notional a year).
    interval_hours : float
        Hours between fundings.

    Returns
    -------
    float
        Decimal per interval.

    Raises
    ------
    DataError
        As :func:`funding_per_hour`.
    """
    funding_per_hour(annual_rate, interval_hours)  # validates both
    return float(annual_rate) * float(interval_hours) / HOURS_PER_YEAR


def funding_carry(book: Book, market: Market, funding_rate: float | Mapping[str, float], *,
                  interval_hours: float) -> pd.Series:
    """Annualized funding carry of each perpetual, in USD (positive = received).

    A positive funding rate makes longs pay shorts ``rate × notional`` every
    ``interval_hours`` (:func:`funding_per_hour`); carry a year =
    ``-notional · rate · 8760 / interval_hours``, notional ``q·F`` (linear, signed) or
    ``face·S/F`` (inverse, paid in coin, valued at spot).

    Parameters
    ----------
    book : Book
    market : Market
    funding_rate : float or mapping of str to float
        Rate per funding interval (decimal, 0.0001 = 1 bp), for every perpetual or per coin.
    interval_hours : float
        Hours between fundings as the venue sets it (1, 4, 8, ...). Never assumed.

    Returns
    -------
    pandas.Series
        USD a year per perpetual position (indexed by name); empty without perpetuals.

    Raises
    ------
    DataError
        If ``interval_hours`` is not positive, or a perpetual's coin has no rate.
    """
    funding_per_hour(0.0, interval_hours)
    rates = ({base_symbol(k): float(v) for k, v in funding_rate.items()}
             if isinstance(funding_rate, Mapping) else None)
    carry = {}
    for p, s in zip(book.positions, _states(book, market), strict=True):
        if p.instrument not in PERPETUALS:
            continue
        if rates is not None and p.underlying not in rates:
            raise DataError(f"{p.name}: no funding rate for {p.underlying}; rates given for "
                            f"{', '.join(rates) or 'no coin'}")
        rate = float(funding_rate) if rates is None else rates[p.underlying]
        contract = s.delta - (p.collateral * market.price(p.underlying)
                              if p.instrument in INVERSE else 0.0)
        carry[p.name] = -contract * funding_per_hour(rate, interval_hours) * HOURS_PER_YEAR
    return pd.Series(carry, dtype=float, name="funding_carry")


@dataclass(frozen=True, eq=False)
class FundingRates:
    """Average funding rates read from a history file.

    Attributes
    ----------
    rate : pandas.Series
        Mean rate per interval (decimal) per coin (``"*"`` when the file names no coin).
    interval_hours : float
        Median spacing of the file's timestamps, hours.
    start, end : pandas.Timestamp
    observations : int
    history : dict of str to pandas.Series
        Per coin (``"*"`` when the file names no coin): the rate (decimal per interval) of
        each funding event, indexed by its UTC timestamp, sorted.
    """

    rate: pd.Series
    interval_hours: float
    start: pd.Timestamp
    end: pd.Timestamp
    observations: int
    history: Mapping[str, pd.Series] = field(default_factory=dict)


def read_funding_history(data: bytes | str | pd.DataFrame) -> FundingRates:
    """Read a funding-rate history: columns ``date``, ``rate`` and optionally ``underlying``.

    Parameters
    ----------
    data : bytes, str or pandas.DataFrame
        CSV with one row per funding event; ``rate`` as a decimal per interval; ``date`` a
        timestamp (UTC unless it carries an offset).

    Returns
    -------
    FundingRates
        Use as ``funding_carry(book, market, f.rate.to_dict(), interval_hours=f.interval_hours)``
        (with a single rate ``f.rate["*"]`` when the file names no coin); ``f.history`` feeds
        the rebalancing simulator (:class:`riskcore.perp_sim.PerpetualSettings`).

    Raises
    ------
    DataError
        On a missing column, an unreadable date or rate (row named), or fewer than 2 rows
        per coin (the interval cannot be measured).
    """
    if isinstance(data, pd.DataFrame):
        frame = data.copy()
    else:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
        try:
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise DataError(f"the funding history is not a readable CSV: {exc}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    for required in ("date", "rate"):
        if required not in frame.columns:
            raise DataError(f"funding history has no column {required}; columns needed: date, "
                            "rate (decimal per interval), optionally underlying")
    dates = pd.to_datetime(frame["date"], utc=True, errors="coerce")
    rates = pd.to_numeric(frame["rate"], errors="coerce")
    for row in np.flatnonzero(dates.isna() | rates.isna() | ~np.isfinite(rates.fillna(0))):
        field_name = "date" if pd.isna(dates.iloc[row]) else "rate"
        raise DataError(f"funding history row {row + 1}, field {field_name}: "
                        f"{frame[field_name].iloc[row]!r} is not a "
                        f"{'date' if field_name == 'date' else 'number'}")
    coins = (frame["underlying"].map(base_symbol) if "underlying" in frame.columns
             else pd.Series("*", index=frame.index))
    table = pd.DataFrame({"date": dates, "rate": rates.astype(float), "coin": coins})
    spacing = []
    history = {}
    for coin, part in table.groupby("coin"):
        if len(part) < 2:
            raise DataError(f"funding history has {len(part)} row for {coin}; at least 2 are "
                            "needed to measure the interval")
        events = part.sort_values("date")
        spacing.append(events["date"].diff().dropna())
        history[str(coin)] = pd.Series(events["rate"].to_numpy(), name="rate",
                                       index=pd.DatetimeIndex(events["date"], name="date"))
    hours = float(pd.concat(spacing).median().total_seconds() / 3600)
    if not hours > 0:
        raise DataError("funding history timestamps repeat; one row per funding event")
    return FundingRates(table.groupby("coin")["rate"].mean().rename("rate"), hours,
                        dates.min(), dates.max(), len(table), history)
