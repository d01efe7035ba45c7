"""Rebalancing trades: from current holdings to target weights, with a drift band and costs.

The trade list is self-financing: sales plus cash pay for purchases and for every cost, so the
portfolio after the trades holds no cash (unless every trade was too small to place). The same
trade engine (:func:`plan_trade_values`, NumPy only) drives the walk-forward simulation in
:mod:`riskcore.backtest`, so the Allocation page's trade list and the simulator agree.

Terms used here, one meaning each:

- *weight*: USD value of an asset / total portfolio value (holdings plus cash), decimal.
- *drift*: weight - target weight, decimal (0.05 = 5 percentage points).
- *band*: the absolute band, decimal: an asset *breaches* when ``|drift| > band`` (the
  simulator's ``band`` trigger and :func:`rebalance_trades`' ``band`` are the same number).
- *turnover*: one-way turnover, ``sum(|trade USD|) / (2 * portfolio value)``: the fraction of the
  portfolio that changes hands (selling 10% of BTC to buy 10% of ETH is a turnover of 0.10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from riskcore.errors import ConvergenceError, DataError, ParameterError

#: Rebalancing modes: trade everything back to target once any asset breaches its band; move only
#: the breached assets to the nearest edge of their band; move only the breached assets to target.
REBALANCE_MODES: tuple[str, ...] = ("to_target", "to_band", "breached_only")
#: What the simulator does with a day of zero or missing volume: no impact, or the last volume.
MISSING_VOLUME: tuple[str, ...] = ("skip", "last")
_TARGET_SUM_TOLERANCE = 1e-6
_BREACH_TOLERANCE = 1e-12


@dataclass(frozen=True)
class CostModel:
    """Trading costs, in decimals of the traded USD value, and a minimum trade size.

    The cost of a trade of USD value ``|t|`` in an asset whose daily traded volume is ``v`` USD is

    ``cost = |t| * (fee + half_spread + impact * sqrt(|t| / v))``

    The last term is the square-root market-impact law (Almgren, Thum, Hauptmann & Li 2005;
    Toth et al. 2011); it applies only where the volume is known (finite and positive), and is
    zero otherwise: zero, missing or non-finite volume never makes a cost infinite. The
    participation ``|t| / v`` is capped at ``max_participation`` (the law is not calibrated
    beyond a day's volume; a stale or collapsed volume such as 1 USD a day would otherwise
    charge more than the trade itself). Trades whose USD value is below ``min_trade`` are
    not placed.

    With the cap, the cost per USD traded is at most ``fee + half_spread + impact *
    sqrt(max_participation)`` and its derivative at most ``fee + half_spread + 1.5 * impact *
    sqrt(max_participation)``; construction refuses a model where that derivative reaches 1,
    so the self-financing trade plan (:func:`plan_trade_values`) is a contraction and always
    converges.

    Parameters
    ----------
    fee : float, default 0.0
        Proportional exchange fee, decimal of the traded value (0.001 = 10 bps).
    half_spread : float, default 0.0
        Half the bid-ask spread paid on each trade, decimal of the traded value.
    impact : float, default 0.0
        Market-impact coefficient: the cost, as a decimal of the traded value, of a trade equal
        to the whole daily volume (0.1 means a trade of 1% of daily volume costs
        ``0.1 * sqrt(0.01)`` = 1% of its value).
    min_trade : float, default 0.0
        Minimum trade size in USD; smaller trades are skipped.
    missing_volume : {"skip", "last"}, default "skip"
        What the walk-forward simulator (:func:`riskcore.backtest.run_backtest`) does on a day
        whose volume is zero, missing or not finite: skip the impact term for that asset-day,
        or use the asset's last valid volume (none before its first valid volume). The
        simulator reports the coin and the number of days either way.
    max_participation : float, default 1.0
        Largest participation ``|t| / v`` (decimal of the day's volume) the impact term
        charges; larger trades pay the impact of this participation.

    Raises
    ------
    RiskcoreError
        If a field is negative or not finite, ``missing_volume`` is unknown,
        ``max_participation`` is not > 0, or the marginal cost of a USD traded can reach 1.

    See Also
    --------
    CostModel.from_bps : the same costs given in basis points.
    """

    fee: float = 0.0
    half_spread: float = 0.0
    impact: float = 0.0
    min_trade: float = 0.0
    missing_volume: str = "skip"
    max_participation: float = 1.0

    def __post_init__(self) -> None:
        for name in ("fee", "half_spread", "impact", "min_trade", "max_participation"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0:
                raise ParameterError(f"cost {name} is {value}; it must be finite and >= 0")
            object.__setattr__(self, name, float(value))
        if self.missing_volume not in MISSING_VOLUME:
            allowed = ", ".join(repr(m) for m in MISSING_VOLUME)
            raise ParameterError(
                f"missing_volume is {self.missing_volume!r}; allowed: {allowed}"
            )
        if not self.max_participation > 0:
            raise ParameterError(
                f"max_participation is {self.max_participation}; it must be > 0 (decimal of "
                "the day's volume, 1.0 = the whole volume)"
            )
        slope = self.proportional + 1.5 * self.impact * np.sqrt(self.max_participation)
        if slope >= 1.0:
            raise ParameterError(
                f"costs of fee {self.fee:g} + half-spread {self.half_spread:g} + 1.5 x impact "
                f"{self.impact:g} x sqrt(max_participation {self.max_participation:g}) = "
                f"{slope:.3g} per USD traded; they must stay below 1 (decimals, not basis points)"
            )

    @classmethod
    def from_bps(
        cls,
        *,
        fee_bps: float = 0.0,
        half_spread_bps: float = 0.0,
        impact_bps: float = 0.0,
        min_trade_usd: float = 0.0,
    ) -> CostModel:
        """Build a cost model from basis points (the UI's unit); 1 bp = 0.0001.

        Parameters
        ----------
        fee_bps, half_spread_bps, impact_bps : float, default 0.0
            Proportional fee, half-spread and impact coefficient in basis points.
        min_trade_usd : float, default 0.0
            Minimum trade size in USD.

        Returns
        -------
        CostModel
        """
        return cls(
            fee=fee_bps * 1e-4,
            half_spread=half_spread_bps * 1e-4,
            impact=impact_bps * 1e-4,
            min_trade=min_trade_usd,
        )

    @property
    def proportional(self) -> float:
        """Cost per USD traded that does not depend on the trade size: fee + half-spread."""
        return self.fee + self.half_spread

    @property
    def is_zero(self) -> bool:
        """Whether trading is free and any trade size is allowed."""
        return self.fee == 0 and self.half_spread == 0 and self.impact == 0 and self.min_trade == 0

    def trade_costs(self, trade_values: np.ndarray, volume: np.ndarray | None = None) -> np.ndarray:
        """Cost in USD of each trade.

        Parameters
        ----------
        trade_values : numpy.ndarray of shape (n_assets,)
            Signed trade values in USD (positive buys, negative sells).
        volume : numpy.ndarray of shape (n_assets,), optional
            Daily traded volume in USD; NaN or non-positive where unknown (no impact charged).
            Participation is capped at ``max_participation``.

        Returns
        -------
        numpy.ndarray of shape (n_assets,)
            Non-negative costs in USD.
        """
        size = np.abs(np.asarray(trade_values, dtype=float))
        rate = np.full(size.shape, self.proportional)
        if self.impact > 0 and volume is not None:
            vol = np.asarray(volume, dtype=float)
            known = np.isfinite(vol) & (vol > 0)
            participation = np.minimum(size[known] / vol[known], self.max_participation)
            rate[known] += self.impact * np.sqrt(participation)
        return size * rate


@dataclass(frozen=True, eq=False)
class RebalancePlan:
    """The trades that bring current holdings back to target, and what they cost.

    Attributes
    ----------
    trades : pandas.DataFrame
        One row per asset (the target's assets in order, then held assets without a target),
        columns:

        - ``units``: current holding, coin units; ``price``: USD per unit;
        - ``value``: current USD value; ``weight``: current weight (decimal of portfolio value);
        - ``target``: target weight (0 for a holding without a target);
          ``has_target``: whether the asset was in the target;
        - ``drift``: weight - target (decimal; 0.05 = 5 percentage points);
          ``breach``: ``|drift| > band``;
        - ``side``: ``"buy"``, ``"sell"`` or ``"hold"``;
        - ``trade_units`` (signed coin units), ``trade_value`` (signed USD, positive = buy),
          ``cost`` (USD);
        - ``skipped``: a trade was wanted but is smaller than the minimum trade size;
        - ``post_units``, ``post_weight``: holding and weight after the trades and costs.
    portfolio_value : float
        Value of holdings plus cash before trading, USD.
    cash : float
        Cash before trading, USD (all of it is invested if any trade is placed).
    cash_after : float
        Cash left after the trades, USD (0 up to rounding when any trade is placed).
    turnover : float
        One-way turnover, ``sum(|trade_value|) / (2 * portfolio_value)``.
    total_cost : float
        Sum of trade costs, USD.
    rebalance : bool
        Whether any trade is placed.
    skipped : tuple of str
        Assets whose wanted trade was below the minimum trade size.
    band : float
        Absolute band used (decimal).
    mode : str
        Rebalancing mode used (one of ``REBALANCE_MODES``).
    """

    trades: pd.DataFrame
    portfolio_value: float
    cash: float
    cash_after: float
    turnover: float
    total_cost: float
    rebalance: bool
    skipped: tuple[str, ...]
    band: float
    mode: str

    @property
    def threshold(self) -> float:
        """Former name of :attr:`band`."""
        return self.band


def check_mode(mode: str) -> str:
    """Validate a rebalancing mode name and return it.

    Raises
    ------
    RiskcoreError
        If ``mode`` is not one of ``REBALANCE_MODES``.
    """
    if mode not in REBALANCE_MODES:
        allowed = ", ".join(repr(m) for m in REBALANCE_MODES)
        raise ParameterError(f"rebalancing mode {mode!r} is unknown; allowed: {allowed}")
    return mode


def desired_weights(
    weights: np.ndarray,
    target: np.ndarray,
    breach: np.ndarray,
    mode: str,
    band: float,
) -> np.ndarray:
    """Post-trade weights wanted by a rebalancing mode (before costs and minimum trade size).

    Parameters
    ----------
    weights, target : numpy.ndarray of shape (n_assets,)
        Current weights (may sum to less than 1 when cash is held) and target weights (sum 1,
        or less when the target keeps a cash sleeve).
    breach : numpy.ndarray of bool, shape (n_assets,)
        Which assets are outside their band.
    mode : {"to_target", "to_band", "breached_only"}
        ``"to_target"``: every asset goes to its target. ``"to_band"``: breached assets go to
        the nearest edge of their band (``target +/- band``, floored at 0).
        ``"breached_only"``: breached assets go to their target. In the last two modes the
        assets that did not breach absorb the difference, pro rata to their target weights
        (pro rata to their current weights if their targets are all 0), so the weights sum to
        the target's sum.
        When every asset breached, or the others cannot absorb the difference without going
        negative, every asset goes to its target.
    band : float
        Absolute band, decimal.

    Returns
    -------
    numpy.ndarray of shape (n_assets,)
        Wanted weights, summing to ``target.sum()``.
    """
    if mode == "to_target" or breach.all():
        return target.copy()
    wanted = weights.copy()
    if mode == "to_band":
        edge = target + np.sign(weights - target) * band
        wanted[breach] = np.maximum(edge[breach], 0.0)
    else:
        wanted[breach] = target[breach]
    free = ~breach
    residual = target.sum() - wanted.sum()
    share = target * free
    if share.sum() <= 0:
        share = weights * free
    if share.sum() <= 0:
        return target.copy()
    wanted[free] += residual * share[free] / share.sum()
    if (wanted < 0).any():
        # the free assets cannot absorb the sale: fall back to trading everything to target
        return target.copy()
    return wanted


def plan_trade_values(
    values: np.ndarray,
    cash: float,
    wanted: np.ndarray,
    costs: CostModel,
    volume: np.ndarray | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = 100,
    names: Sequence[str] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Self-financing trades (USD) toward wanted weights, net of costs and minimum trade size.

    The assets whose wanted weight differs from their current weight are traded; the others
    keep their holding. With ``V`` the portfolio value, ``C`` the total cost, ``H`` the value
    kept in untraded assets and ``K = (1 - sum(wanted)) * (V - C)`` the cash to keep (0 unless
    the wanted weights keep a cash sleeve), traded asset ``i`` ends with
    ``wanted_i / W * (V - C - H - K)`` USD, where ``W`` is the sum of the traded assets' wanted
    weights. ``C`` depends on the trades, so it is
    found by fixed-point iteration (a contraction: each USD of cost changes the trades by less
    than one USD). Trades below ``costs.min_trade`` are dropped and the plan recomputed.

    Parameters
    ----------
    values : numpy.ndarray of shape (n_assets,)
        Current USD value of each holding (>= 0).
    cash : float
        Cash available, USD (>= 0).
    wanted : numpy.ndarray of shape (n_assets,)
        Wanted post-trade weights, summing to 1 (or less: the rest is kept in cash).
    costs : CostModel
    volume : numpy.ndarray of shape (n_assets,), optional
        Daily traded volume, USD (for the market-impact term).
    tol : float, default 1e-12
        Convergence tolerance on the total cost, relative to the portfolio value.
    max_iter : int, default 100
        Maximum fixed-point iterations (the iteration is a contraction for every valid
        :class:`CostModel`, so this is a safeguard).
    names : sequence of str, optional
        Asset names, used only in the error message.

    Returns
    -------
    trade_values : numpy.ndarray of shape (n_assets,)
        Signed trade values in USD (positive buys).
    trade_costs : numpy.ndarray of shape (n_assets,)
        Cost of each trade, USD.
    skipped : numpy.ndarray of bool, shape (n_assets,)
        Assets whose wanted trade was below the minimum trade size.

    Raises
    ------
    ConvergenceError
        If the cost fixed point does not converge; the message names the trade with the
        highest cost per USD traded, its value, its cost and the volume it was charged against.
    """
    n = values.size
    total = float(values.sum() + cash)
    zero = np.zeros(n)
    skipped = np.zeros(n, dtype=bool)
    if total <= 0:
        return zero, zero.copy(), skipped
    if costs.is_zero:
        # free trading: every asset goes straight to its wanted value
        trades = wanted * total - values
        trades[np.abs(trades) <= _BREACH_TOLERANCE * total] = 0.0
        return trades, zero, skipped
    current = values / total
    traded = np.abs(wanted - current) > _BREACH_TOLERANCE
    while traded.any():
        weight_traded = wanted[traded].sum()
        if weight_traded <= 0:
            return zero, zero.copy(), skipped
        share = np.where(traded, wanted / weight_traded, 0.0)
        kept = values[~traded].sum()
        cash_share = 1.0 - wanted.sum()
        total_cost = 0.0
        for _ in range(max_iter):
            investable = (total - total_cost) * (1.0 - cash_share) - kept
            trades = np.where(traded, share * investable - values, 0.0)
            trade_cost = costs.trade_costs(trades, volume)
            new_cost = float(trade_cost.sum())
            change = abs(new_cost - total_cost)
            if change <= tol * total:
                total_cost = new_cost
                break
            total_cost = new_cost
        else:
            raise ConvergenceError(_no_convergence(trades, trade_cost, volume, names, max_iter,
                                                   change))
        investable = (total - total_cost) * (1.0 - cash_share) - kept
        trades = np.where(traded, share * investable - values, 0.0)
        if costs.min_trade > 0:
            small = traded & (np.abs(trades) < costs.min_trade)
            if small.any():
                skipped |= small
                traded &= ~small
                continue
        return trades, costs.trade_costs(trades, volume), skipped
    return zero, zero.copy(), skipped


def _no_convergence(trades, trade_cost, volume, names, max_iter, change) -> str:
    """Name the trade whose cost per USD is highest: the likely reason of a failure."""
    size = np.abs(trades)
    rate = np.divide(trade_cost, size, out=np.zeros_like(size), where=size > 0)
    k = int(np.argmax(rate))
    name = names[k] if names is not None else f"asset #{k}"
    vol = "unknown" if volume is None else f"{volume[k]:,.0f} USD"
    return (
        f"trade costs did not converge in {max_iter} iterations (last change {change:.3g} "
        f"USD): the {'buy' if trades[k] > 0 else 'sell'} of {size[k]:,.2f} USD of {name} "
        f"costs {trade_cost[k]:,.2f} USD ({rate[k]:.1%} of its value) against a daily volume "
        f"of {vol}; lower the impact or max_participation of the cost model"
    )


def units_from_values(values: pd.Series, prices: pd.Series) -> pd.Series:
    """Convert USD values of holdings to coin units.

    Parameters
    ----------
    values : pandas.Series
        USD value per asset.
    prices : pandas.Series
        USD per unit, indexed by asset (must cover every asset of ``values``).

    Returns
    -------
    pandas.Series
        Coin units per asset, same index as ``values``.

    Raises
    ------
    DataError
        If a value is negative or not finite, or an asset has no positive price.
    """
    values = pd.Series(values, dtype=float)
    for asset, value in values.items():
        if not np.isfinite(value) or value < 0:
            raise DataError(f"USD value of {asset} is {value}; values must be finite and >= 0")
    price = _prices_for(values.index, prices)
    return (values / price).rename("units")


def _prices_for(assets: pd.Index, prices: pd.Series) -> pd.Series:
    prices = pd.Series(prices, dtype=float)
    if not prices.index.is_unique:
        dup = prices.index[prices.index.duplicated()][0]
        raise DataError(f"price for {dup} is given more than once; one price per asset")
    missing = [a for a in assets if a not in prices.index]
    if missing:
        raise DataError(f"no price for {missing[0]}; every held or targeted asset needs a price")
    price = prices.reindex(assets)
    for asset, value in price.items():
        if not np.isfinite(value) or value <= 0:
            raise DataError(f"price of {asset} is {value}; prices must be finite and > 0 USD")
    return price


def _check_series(series: pd.Series, what: str) -> pd.Series:
    series = pd.Series(series, dtype=float)
    if not series.index.is_unique:
        dup = series.index[series.index.duplicated()][0]
        raise DataError(f"{what} lists {dup} more than once; one entry per asset")
    for asset, value in series.items():
        if not np.isfinite(value) or value < 0:
            raise DataError(f"{what} for {asset} is {value}; it must be finite and >= 0")
    return series


def check_target(target: pd.Series) -> pd.Series:
    """Validate target weights: unique assets, finite, >= 0, summing to 1.

    Returns
    -------
    pandas.Series
        The target as float.

    Raises
    ------
    RiskcoreError
        If an asset is repeated, a weight is negative or not finite, or the sum is not 1
        (within 1e-6).
    """
    target = pd.Series(target, dtype=float)
    if target.empty:
        raise ParameterError("the target has no assets; give at least one target weight")
    if not target.index.is_unique:
        dup = target.index[target.index.duplicated()][0]
        raise ParameterError(f"target lists {dup} more than once; one weight per asset")
    for asset, value in target.items():
        if not np.isfinite(value) or value < 0:
            raise ParameterError(f"target weight of {asset} is {value}; weights must be >= 0")
    total = float(target.sum())
    if abs(total - 1.0) > _TARGET_SUM_TOLERANCE:
        raise ParameterError(f"target weights sum to {total:.6g}; they must sum to 1")
    return target


def rebalance_trades(
    holdings: pd.Series,
    prices: pd.Series,
    target: pd.Series,
    *,
    band: float = 0.0,
    mode: str = "to_target",
    costs: CostModel | None = None,
    cash: float = 0.0,
    volume: pd.Series | None = None,
    threshold: float | None = None,
) -> RebalancePlan:
    """Trade list that brings current holdings back to target weights.

    Current weights are USD values over the portfolio value (holdings plus cash). An asset
    breaches its band when ``|weight - target| > band``. Nothing is traded unless an asset
    breaches; then ``mode`` decides which assets move and where (see :func:`desired_weights`).
    The trades are self-financing: sales and cash pay for purchases and costs, so costs reduce
    what can be bought. A held asset without a target has target 0 (it is sold when a
    rebalance happens in ``"to_target"`` mode, or when it breaches in the other modes); a
    targeted asset without a holding has weight 0 (it is bought). Trades smaller than
    ``costs.min_trade`` USD are skipped and listed in ``skipped``; the other traded assets
    absorb the difference.

    Parameters
    ----------
    holdings : pandas.Series
        Current holdings in coin units, indexed by asset (use :func:`units_from_values` to
        convert USD values).
    prices : pandas.Series
        USD per unit, indexed by asset; must cover every held or targeted asset.
    target : pandas.Series
        Target weights (decimals summing to 1), indexed by asset.
    band : float, default 0.0
        Absolute band, decimal (0.05 = 5 percentage points). 0 rebalances any drift.
        ``threshold`` is its former name, still accepted.
    mode : {"to_target", "to_band", "breached_only"}, default "to_target"
        Where trades go once an asset breaches (see :func:`desired_weights`).
    costs : CostModel, optional
        Fees, spread, market impact and minimum trade size; free trading by default.
    cash : float, default 0.0
        Cash in USD available to invest.
    volume : pandas.Series, optional
        Daily traded volume per asset, USD (for the market-impact term).

    Returns
    -------
    RebalancePlan

    Raises
    ------
    DataError
        If a holding is negative or not finite, or a held or targeted asset has no price.
    RiskcoreError
        If the target is invalid (negative weights, not summing to 1), the band is
        negative, the mode is unknown, or cash is negative.

    References
    ----------
    Masters (2003), "Rebalancing", Journal of Investing 12(1): tolerance-band rebalancing.
    """
    costs = CostModel() if costs is None else costs
    check_mode(mode)
    if threshold is not None:  # former name of band
        band = threshold
    if not np.isfinite(band) or band < 0:
        raise ParameterError(f"band is {band}; it must be finite and >= 0")
    if not np.isfinite(cash) or cash < 0:
        raise ParameterError(f"cash is {cash}; it must be finite and >= 0 USD")
    target = check_target(target)
    holdings = _check_series(holdings, "holding")
    extra = [a for a in holdings.index if a not in target.index and holdings[a] > 0]
    assets = pd.Index(list(target.index) + extra, name="asset")
    units = holdings.reindex(assets).fillna(0.0)
    needs_price = [a for a in assets if units[a] > 0 or (a in target.index and target[a] > 0)]
    price = pd.Series(np.nan, index=assets)
    if needs_price:
        price[needs_price] = _prices_for(pd.Index(needs_price), prices)
    price = price.to_numpy(dtype=float)
    values = np.where(units.to_numpy() > 0, units.to_numpy() * price, 0.0)
    total = float(values.sum() + cash)
    if total <= 0:
        raise DataError("the portfolio is empty (no holdings and no cash); nothing to rebalance")
    tgt = target.reindex(assets).fillna(0.0).to_numpy()
    weights = values / total
    drift = weights - tgt
    breach = np.abs(drift) > band + _BREACH_TOLERANCE
    vol = None if volume is None else pd.Series(volume, dtype=float).reindex(assets).to_numpy()
    if breach.any():
        wanted = desired_weights(weights, tgt, breach, mode, band)
        trade_values, trade_cost, skipped = plan_trade_values(values, cash, wanted, costs, vol,
                                                              names=[str(a) for a in assets])
    else:
        trade_values = np.zeros(len(assets))
        trade_cost = np.zeros(len(assets))
        skipped = np.zeros(len(assets), dtype=bool)
    side = np.where(trade_values > 0, "buy", np.where(trade_values < 0, "sell", "hold"))
    post_values = values + trade_values
    traded = bool((trade_values != 0).any())
    total_cost = float(trade_cost.sum())
    cash_after = cash - float(trade_values.sum()) - total_cost
    if traded and abs(cash_after) < 1e-9 * total:
        cash_after = 0.0
    post_total = post_values.sum() + cash_after
    frame = pd.DataFrame(
        {
            "units": units.to_numpy(),
            "price": price,
            "value": values,
            "weight": weights,
            "target": tgt,
            "has_target": [a in target.index for a in assets],
            "drift": drift,
            "breach": breach,
            "side": side,
            "trade_units": np.divide(trade_values, price, out=np.zeros_like(price),
                                     where=trade_values != 0),
            "trade_value": trade_values,
            "cost": trade_cost,
            "skipped": skipped,
            "post_units": np.divide(post_values, price, out=np.zeros_like(price),
                                    where=post_values != 0),
            "post_weight": post_values / post_total if post_total > 0 else post_values * 0,
        },
        index=assets,
    )
    return RebalancePlan(
        trades=frame,
        portfolio_value=total,
        cash=float(cash),
        cash_after=cash_after,
        turnover=float(np.abs(trade_values).sum() / (2 * total)),
        total_cost=total_cost,
        rebalance=traded,
        skipped=tuple(assets[skipped]),
        band=float(band),
        mode=mode,
    )
