"""Walk-forward rebalancing simulator: risk-aligned triggers, trading costs, threshold sweeps.

The simulation runs date by date over a price panel. At each date ``t``:

1. holdings drift with prices (valuation at ``t``'s close; a missing price after listing is
   carried forward for valuation and the asset cannot trade that day);
2. the covariance is estimated from the ``lookback`` returns ending at ``t`` (close to close),
   and the target weights come from the policy's method using only those prices;
3. the policy's triggers decide whether to trade; trades execute at ``t``'s close and pay
   costs out of the portfolio (see :class:`riskcore.rebalance.CostModel`).

Nothing at ``t`` depends on prices after ``t`` (tested by changing future prices).

Eligibility (assets that list later): an asset can be held from the first date where it has
a price and enough history: ``lookback`` consecutive valid returns ending at ``t`` (so
``lookback + 1`` prices) for estimated methods (``"erc"``, ``"risk_budget"``,
``"inverse_volatility"``), one price for ``"fixed"`` and ``"equal_weight"`` (override with
``min_history``). An asset whose returns over the window have zero variance is not eligible
that day (unless ``volatility_floor`` raises it). Fixed targets are renormalized over the
eligible assets. The portfolio stays in cash
until the first date with a target, where it invests (reason ``"initial"``); an asset that
becomes eligible later enters at the next trigger.

Risk contributions are measured with the same rolling covariance estimate at each date, over
the assets with a full estimation window; the reference they are compared with is the risk
budget (``"erc"``, ``"risk_budget"`` on volatility) or the target weights' own relative risk
contributions (other methods, and expected-shortfall budgeting, whose budget is a share of ES,
not of volatility).

Stablecoins (``RebalancePolicy.volatility_floor``, ``stablecoins``, ``cash``): a floor raises
every asset's estimated volatility to at least the floor before anything uses the estimate;
``stablecoins="sleeve"`` computes the target over the non-stablecoin assets only (their risk
budgets renormalized; stablecoins get budget and target 0); with ``target_volatility`` and
``cash=<stablecoin column>`` that stablecoin holds the remainder and trades with costs. Its
own (small) risk contribution is then measured against a budget of 0, so it shows in the
risk-balance error.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from numbers import Real

import numpy as np
import pandas as pd

from riskcore import _trade_kernel
from riskcore._rb_solver import solve_risk_budget
from riskcore.allocation import relative_risk_contribution_array, volatility_scale
from riskcore.assets import CASH, base_symbol, is_stablecoin
from riskcore.errors import ConvergenceError, DataError, ParameterError, RiskcoreError
from riskcore.estimators import floor_volatility, rolling_covariances
from riskcore.metrics import (
    PortfolioMetrics,
    annualized_return,
    annualized_volatility,
    portfolio_metrics,
    risk_balance_error,
)
from riskcore.periods import infer_periods_per_year
from riskcore.perp_sim import PerpetualPlan, PerpetualSettings, margin_check, perpetual_plan
from riskcore.portfolio import decide, spec_panel
from riskcore.rebalance import (
    CostModel,
    check_mode,
    check_target,
    desired_weights,
    plan_trade_values,
)
from riskcore.spec import PortfolioSpec
from riskcore.window import min_returns

#: Allocation methods a policy can use to set its target.
#: Targets of a :class:`RebalancePolicy`: a fixed target, or a method of
#: :data:`riskcore.spec.METHODS` with the simulator's own kernel (a
#: :class:`~riskcore.spec.PortfolioSpec` runs every method).
METHODS: tuple[str, ...] = ("fixed", "risk_budget", "inverse_volatility", "equal_weight")
#: Former names, still accepted: "erc" is risk budgeting with equal budgets.
_METHOD_ALIASES = {"erc": "risk_budget"}
#: Calendar trigger frequencies: daily, weekly (Monday-based weeks), monthly, quarterly.
FREQUENCIES: tuple[str, ...] = ("D", "W", "M", "Q")
#: Covariance estimators used in the walk-forward.
ESTIMATORS: tuple[str, ...] = ("sample", "ewma")
#: Trigger parameters a threshold sweep can vary.
SWEEP_TRIGGERS: tuple[str, ...] = ("band", "relative_band", "risk_band", "volatility_band")
#: Stablecoin policies: inside the target like any coin, or outside the risk budget.
STABLECOIN_POLICIES: tuple[str, ...] = ("include", "sleeve")
_ESTIMATED = ("inverse_volatility", "erc", "risk_budget")
_BAND_REASONS = {"band", "relative band", "risk band", "volatility band"}
_TOL = 1e-12


def _allowed(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


@dataclass(frozen=True, eq=False)
class RebalancePolicy:
    """How the portfolio is allocated and when it trades.

    Triggers combine with OR; a policy without any trigger buys at the start and holds.

    Parameters
    ----------
    target : pandas.Series, optional
        Fixed target weights (decimals summing to 1) indexed by asset. Giving a target and no
        ``method`` means ``method="fixed"``.
    method : {"fixed", "risk_budget", "inverse_volatility", "equal_weight"}, optional
        How the target is set at each date (``"erc"``, the former name of risk budgeting with
        equal budgets, is accepted). Default ``"fixed"`` with a target, else
        ``"risk_budget"`` with equal budgets
        (equal risk contribution). Estimated methods use every column of the price panel, or
        the assets of ``budget`` when given.
    budget : pandas.Series, optional
        Risk budgets (non-negative, summing to 1), only for ``"risk_budget"``; equal budgets
        if omitted (that is ``"erc"``). Its index sets the assets.
    frequency : {"D", "W", "M", "Q"}, optional
        Calendar trigger: rebalance on the first date of each new day, Monday-based week, month
        or quarter (as bt's ``RunDaily``/``RunWeekly``/``RunMonthly``/``RunQuarterly``).
    band : float, optional
        Absolute band: an asset breaches when ``|weight - target| > band`` (decimal; 0.05 is
        5 percentage points). ``numpy.inf`` never triggers.
    relative_band : float, optional
        Relative band: breach when ``|weight - target| > relative_band * target``.
    risk_band : float, optional
        Risk-contribution band: breach when an asset's relative risk contribution differs from
        its reference (budget or the target's own) by more than this (decimal).
    volatility_band : float, optional
        Volatility band: rebalance everything when the estimated volatility of the current
        portfolio differs from that of the target portfolio by more than this fraction
        (``|sigma(w) / sigma(target) - 1| > volatility_band``; with ``target_volatility`` the
        target's volatility is that target, unless even the fully invested target is calmer).
    target_volatility : float, optional
        Volatility targeting: annualized volatility (decimal) the portfolio aims at. At each
        date the target weights are scaled by ``min(1, target_volatility / sigma(target))``
        (no leverage) and the rest is held in ``cash`` (riskless cash earns nothing);
        ``sigma`` uses the same covariance estimate. Assets then need a full estimation
        window to be held.
    volatility_floor : float, optional
        Annualized volatility floor (decimal, 0.05 = 5% a year). At each date every asset
        whose estimated volatility is below it gets the floor instead, its correlations kept
        (the per-period covariance row and column are scaled so that the variance is
        ``volatility_floor**2 / periods_per_year``; an asset with zero variance gets zero
        correlations), as :func:`riskcore.estimators.estimate_covariance` does. The floored
        estimate is the one used everywhere: targets, volatility targeting, volatility band
        and measured risk contributions. It stops a stablecoin with near-zero measured
        volatility from absorbing an inverse-volatility or risk-parity target. 0 or None: no
        floor.
    stablecoins : {"include", "sleeve"}, default "include"
        Stablecoin policy (stablecoins are the columns named as such by
        :func:`riskcore.assets.is_stablecoin`). ``"include"``: they take part in the target
        like any coin. ``"sleeve"``: they are outside the risk budget of the estimated
        methods (``"equal_weight"``, ``"inverse_volatility"``, ``"erc"``, ``"risk_budget"``):
        the target is computed over the other assets and stablecoins get target weight 0,
        except the one named by ``cash``, which holds the volatility target's remainder.
        Not available with ``"fixed"`` (a fixed target sets stablecoin weights itself).
    cash : str, default "cash"
        Where the remainder of a volatility-scaled target goes: ``"cash"`` (riskless, zero
        return, no trading cost), or the name of a stablecoin column (e.g. ``"USDT-USD"``),
        which then holds the sleeve and is bought and sold like any asset, paying costs.
        The scale ``k`` then solves ``sigma(k * target + (1 - k) * stablecoin) =
        target_volatility`` with the stablecoin's own variance and covariances, clipped to
        ``[0, 1]`` (as :func:`riskcore.allocation.volatility_target` with
        ``max_leverage=1``). On a date where the stablecoin cannot be held (no price that
        day, or fewer prices than ``min_history``) the remainder stays in riskless cash.
        Requires ``target_volatility``.
    mode : {"to_target", "to_band", "breached_only"}, default "to_target"
        After a band breach: trade every asset back to target, move the breached assets to the
        band's edge, or move only the breached assets to target (the others absorb the cash
        pro rata to their targets). Calendar and volatility triggers always go to target.
    estimator : {"sample", "ewma"}, default "sample"
        Covariance estimator over the lookback window, as
        :func:`riskcore.estimators.covariance` on the same window: the sample covariance
        (ddof=1), or the RiskMetrics (1996) zero-mean exponentially weighted covariance with
        ``lam = 0.5 ** (1 / half_life)``, its recursion started at the window's first return.
    lookback : int, default 90
        Number of returns in the estimation window (periods).
    half_life : float, optional
        EWMA half-life in periods; default ``lookback / 4``.
    min_history : int, optional
        Prices an asset needs before it can be held (see the module notes for the default).

    Raises
    ------
    RiskcoreError
        For an unknown method, frequency, estimator, mode or stablecoin policy (the allowed
        values are listed), a negative band or volatility floor, a lookback below 2, a fixed
        method without target or with ``stablecoins="sleeve"``, a ``cash`` that is not
        ``"cash"`` or a stablecoin name or is given without ``target_volatility``, or an
        invalid target or budget.

    References
    ----------
    Maillard, Roncalli & Teiletche (2010), "The properties of equally weighted risk
    contribution portfolios", Journal of Portfolio Management 36(4) (equal risk
    contribution); Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman &
    Hall/CRC (risk budgets); Moreira & Muir (2017), "Volatility-managed portfolios", Journal
    of Finance 72(4) (volatility targeting with a cash sleeve).
    """

    target: pd.Series | None = None
    method: str | None = None
    budget: pd.Series | None = None
    frequency: str | None = None
    band: float | None = None
    relative_band: float | None = None
    risk_band: float | None = None
    volatility_band: float | None = None
    target_volatility: float | None = None
    mode: str = "to_target"
    estimator: str = "sample"
    lookback: int = 90
    half_life: float | None = None
    min_history: int | None = None
    volatility_floor: float | None = None
    stablecoins: str = "include"
    cash: str = CASH

    def __post_init__(self) -> None:
        method = self.method or ("fixed" if self.target is not None else "risk_budget")
        if method == "erc" and self.budget is not None:
            raise ParameterError("a risk budget is used only by method 'risk_budget', not "
                                 "'erc' ('erc' means equal budgets)")
        method = _METHOD_ALIASES.get(method, method)
        if method not in METHODS:
            raise ParameterError(f"method {method!r} is unknown; allowed: {_allowed(METHODS)}")
        object.__setattr__(self, "method", method)
        if method == "fixed":
            if self.target is None:
                raise ParameterError("method 'fixed' needs target weights (target=...)")
            object.__setattr__(self, "target", check_target(self.target))
        if self.budget is not None:
            if method != "risk_budget":
                raise ParameterError(
                    f"a risk budget is used only by method 'risk_budget', not {method!r} "
                    "('erc' means equal budgets)"
                )
            budget = check_target(self.budget).rename("budget")
            object.__setattr__(self, "budget", budget)
        if self.frequency is not None and self.frequency not in FREQUENCIES:
            raise ParameterError(
                f"frequency {self.frequency!r} is unknown; allowed: {_allowed(FREQUENCIES)}"
            )
        for name in SWEEP_TRIGGERS:
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ParameterError(f"{name} is {value}; it must be >= 0 (numpy.inf = never)")
        if self.target_volatility is not None and not (
            0 < self.target_volatility < np.inf
        ):
            raise ParameterError(
                f"target_volatility is {self.target_volatility}; it must be a finite "
                "annualized volatility > 0 (decimal, 0.2 = 20%)"
            )
        check_mode(self.mode)
        if self.estimator not in ESTIMATORS:
            raise ParameterError(
                f"estimator {self.estimator!r} is unknown; allowed: {_allowed(ESTIMATORS)}"
            )
        if int(self.lookback) != self.lookback or self.lookback < 2:
            raise ParameterError(f"lookback is {self.lookback}; it must be an integer >= 2")
        if self.half_life is not None and not self.half_life > 0:
            raise ParameterError(f"half_life is {self.half_life}; it must be > 0 periods")
        if self.min_history is not None and self.min_history < 1:
            raise ParameterError(f"min_history is {self.min_history}; it must be >= 1 price")
        self._check_stablecoin_fields(method)

    def _check_stablecoin_fields(self, method: str) -> None:
        floor = self.volatility_floor
        if floor is not None and (
            isinstance(floor, bool) or not isinstance(floor, Real) or not 0 <= floor < np.inf
        ):
            raise ParameterError(
                f"volatility_floor is {floor!r}; it must be a finite annualized volatility "
                ">= 0 (decimal, 0.05 = 5%)"
            )
        if self.stablecoins not in STABLECOIN_POLICIES:
            raise ParameterError(
                f"stablecoins is {self.stablecoins!r}; allowed: {_allowed(STABLECOIN_POLICIES)}"
            )
        if self.stablecoins == "sleeve" and method == "fixed":
            raise ParameterError(
                "stablecoins='sleeve' applies to estimated methods (equal_weight, "
                "inverse_volatility, erc, risk_budget); a fixed target sets the stablecoin "
                "weights itself"
            )
        if not isinstance(self.cash, str) or (
            self.cash != CASH and not is_stablecoin(self.cash)
        ):
            raise ParameterError(
                f"cash is {self.cash!r}; allowed: 'cash' (riskless) or the name of a "
                "stablecoin column such as 'USDT-USD'"
            )
        if self.cash != CASH and self.target_volatility is None:
            raise ParameterError(
                f"cash {self.cash!r} holds the remainder of a volatility target; set "
                "target_volatility or leave cash='cash'"
            )

    @property
    def has_trigger(self) -> bool:
        """Whether any trigger is set (otherwise the policy buys and holds)."""
        return self.frequency is not None or any(
            getattr(self, name) is not None for name in SWEEP_TRIGGERS
        )

    @property
    def needs_daily_target(self) -> bool:
        """Whether the target is needed every day (bands), not only on calendar dates."""
        return self.frequency == "D" or any(
            getattr(self, name) is not None for name in SWEEP_TRIGGERS
        )


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Outcome of :func:`run_backtest`.

    Attributes
    ----------
    equity : pandas.Series of shape (n_dates,)
        Portfolio value in USD at each close, after that day's trades and costs.
    weights : pandas.DataFrame of shape (n_dates, n_assets)
        Weights held after each close's trades (value / equity); they sum to 1 minus the
        cash weight (``cash / equity``).
    holdings : pandas.DataFrame of shape (n_dates, n_assets)
        Coin units held after each close's trades.
    cash : pandas.Series of shape (n_dates,)
        Riskless cash in USD: the initial value until the first investment, then 0 (the
        volatility target's remainder with ``target_volatility`` and ``cash="cash"``; a
        stablecoin sleeve is a column of ``weights`` instead).
    target_weights : pandas.DataFrame of shape (n_dates, n_assets)
        Target weights known at each close (NaN rows where none was computed).
    trades : pandas.DataFrame
        One row per trade: ``date``, ``asset``, ``units`` (signed coin units), ``value``
        (signed USD, positive = buy), ``cost`` (USD), ``reason`` (what triggered it).
    costs : pandas.Series of shape (n_dates,)
        Trading costs paid at each date, USD.
    turnover_by_date : pandas.Series of shape (n_dates,)
        One-way turnover of each date's trades (``sum |trade| / (2 * value before trading)``).
    turnover : float
        Total one-way turnover over the backtest (the initial investment excluded).
    rebalance_dates : pandas.DatetimeIndex
        Dates with trades, the initial investment included.
    rebalance_reasons : pandas.Series
        Reason of each rebalance, indexed by ``rebalance_dates`` (``"initial"``,
        ``"calendar"``, ``"band"``, ``"relative band"``, ``"risk band"``, ``"volatility band"``,
        joined by ``"+"``).
    relative_risk_contributions : pandas.DataFrame of shape (n_dates, n_assets)
        Relative risk contributions of the held weights under the covariance estimated at each
        date (NaN before the first full window or before investing).
    risk_reference : pandas.DataFrame of shape (n_dates, n_assets)
        What ``relative_risk_contributions`` are compared with: the risk budget, or the
        target's own relative risk contributions.
    metrics : PortfolioMetrics
        Metrics of the equity from the first investment on.
    policy : RebalancePolicy
    cost_model : CostModel
    notes : tuple of str
        What the run did that a reader should know, one line each naming the coin and the
        dates or day counts: a window start, coins that list after it, days without a real
        price (valued at the last price, never traded), coins whose data end before the run
        (sold at their last real close), days where market impact was skipped or used the
        last valid volume, trades charged at the participation cap; with perpetuals, the
        funding paid and the margin breaches.
    funding : pandas.Series of shape (n_dates,) or None
        With ``perpetuals``: USD funding paid at each date on the perpetual-held coins
        (negative = received), already in ``equity`` and ``cash``. None without.
    maintenance_margin : pandas.Series of shape (n_dates,) or None
        With ``perpetuals``: USD maintenance margin of the positions after each close's
        trades (:mod:`riskcore.perp_sim`). None without.
    margin_excess : pandas.Series of shape (n_dates,) or None
        With ``perpetuals``: equity minus maintenance margin (USD), the lower of before and
        after each close's trades. None without.
    margin_breaches : pandas.DatetimeIndex or None
        With ``perpetuals``: dates where ``margin_excess < 0`` (a venue would have
        liquidated). None without.
    """

    equity: pd.Series
    weights: pd.DataFrame
    holdings: pd.DataFrame
    cash: pd.Series
    target_weights: pd.DataFrame
    trades: pd.DataFrame
    costs: pd.Series
    turnover_by_date: pd.Series
    turnover: float
    rebalance_dates: pd.DatetimeIndex
    rebalance_reasons: pd.Series
    relative_risk_contributions: pd.DataFrame
    risk_reference: pd.DataFrame
    metrics: PortfolioMetrics
    policy: RebalancePolicy
    cost_model: CostModel
    notes: tuple[str, ...] = ()
    funding: pd.Series | None = None
    maintenance_margin: pd.Series | None = None
    margin_excess: pd.Series | None = None
    margin_breaches: pd.DatetimeIndex | None = None


# ---------------------------------------------------------------------------------------
# preparation: prices, eligibility, rolling covariance, targets (shared by a sweep's runs)


@dataclass(frozen=True, eq=False)
class _Prepared:
    index: pd.DatetimeIndex
    assets: pd.Index
    value_prices: np.ndarray  # (T, n) forward-filled after listing, NaN before
    tradable: np.ndarray  # (T, n) price observed at t
    covariance: np.ndarray  # (T, n, n) per-period covariance (garbage where not estimable)
    estimable: np.ndarray  # (T, n) full window of valid returns with positive variance
    eligible: np.ndarray  # (T, n)
    targets: np.ndarray  # (T, n) NaN rows where no target
    reference: np.ndarray  # (T, n) reference relative risk contributions (NaN if unknown)
    new_period: np.ndarray  # (T,) calendar trigger
    periods_per_year: float
    data_end: np.ndarray  # (T, n) last real price of an asset whose data end before the panel
    notes: tuple[str, ...]
    budget_reference: bool  # risk contributions are compared with the budget (else target)
    budget_all: np.ndarray  # (n,) budgets over the assets
    decide: Callable[[int], np.ndarray | None] | None = None  # lazy decision at run date t
    # arrays derived once for the compiled trading loop (see _kernel_inputs)
    cache: dict = field(default_factory=dict, repr=False)


def _start_position(index: pd.DatetimeIndex, start) -> int:
    """Position of the first date >= ``start`` (0 without a start)."""
    if start is None:
        return 0
    try:
        stamp = pd.Timestamp(start)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"start is {start!r}; it must be a date") from exc
    if index.tz is not None and stamp.tz is None:
        stamp = stamp.tz_localize(index.tz)
    elif index.tz is None and stamp.tz is not None:
        stamp = stamp.tz_convert(None)
    first = int(index.searchsorted(stamp))
    if first >= len(index) - 1:
        raise DataError(
            f"start {stamp:%Y-%m-%d} leaves fewer than 2 dates: the prices end on "
            f"{index[-1]:%Y-%m-%d}; choose a start before that"
        )
    return first


def _tradable_mask(tradable, index: pd.DatetimeIndex, assets: pd.Index) -> np.ndarray | None:
    if tradable is None:
        return None
    if not isinstance(tradable, pd.DataFrame):
        raise DataError("tradable must be a boolean DataFrame shaped like the prices")
    frame = tradable.reindex(index=index, columns=assets)
    missing = [a for a in assets if a not in tradable.columns]
    if missing:
        raise DataError(f"tradable has no column for {missing[0]}; give one per priced asset")
    return frame.fillna(False).to_numpy(dtype=bool)


def tradable_from_cleaning(prices: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """Mark the prices a cleaning step carried forward as not tradable.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        The cleaned price panel.
    actions : pandas.DataFrame
        :attr:`riskcore.quality.CleanResult.actions`: one row per run of changed cells with
        ``asset``, ``start``, ``end`` and ``action``.

    Returns
    -------
    pandas.DataFrame of bool, shape (n_dates, n_assets)
        True where the price is real (observed, not filled), for ``run_backtest(tradable=...)``.
    """
    mask = prices.notna()
    if actions is None or actions.empty:
        return mask
    filled = actions[actions["action"] == "ffill"]
    for row in filled.itertuples(index=False):
        if row.asset in mask.columns:
            mask.loc[row.start : row.end, row.asset] = False
    return mask


def _check_prices(prices: pd.DataFrame) -> pd.DataFrame:
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices must be a DataFrame with a DatetimeIndex (a price panel)")
    if len(prices.index) < 2:
        raise DataError(f"prices have {len(prices.index)} date(s); a backtest needs at least 2")
    if not prices.index.is_monotonic_increasing or not prices.index.is_unique:
        raise DataError("the price index must be sorted and unique (see the price panel contract)")
    if not prices.columns.is_unique:
        dup = prices.columns[prices.columns.duplicated()][0]
        raise DataError(f"asset {dup} appears in more than one price column")
    values = prices.to_numpy(dtype=float)
    bad = ~np.isnan(values) & ~(values > 0)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataError(
            f"price of {prices.columns[col]} is {values[row, col]} at {prices.index[row]}; "
            "prices must be > 0 USD (NaN where missing)"
        )
    return prices


def _universe(prices: pd.DataFrame, policy: RebalancePolicy) -> pd.Index:
    if policy.method == "fixed":
        names = policy.target.index
    elif policy.budget is not None:
        names = policy.budget.index
    else:
        names = prices.columns
    missing = [a for a in names if a not in prices.columns]
    if missing:
        raise DataError(f"no price column for {missing[0]}; the policy needs prices of each asset")
    names = pd.Index(names)
    if policy.cash != CASH and policy.cash not in names:
        if policy.cash not in prices.columns:
            raise DataError(
                f"no price column for {policy.cash}, the cash sleeve of the policy; use one of "
                f"the panel's stablecoins or cash='cash'"
            )
        names = names.append(pd.Index([policy.cash]))
    return names


def _new_period(index: pd.DatetimeIndex, frequency: str | None) -> np.ndarray:
    flags = np.zeros(len(index), dtype=bool)
    if frequency is None:
        return flags
    if frequency == "D":
        key = index.normalize()
    elif frequency == "W":
        day = index.normalize()
        key = day - pd.to_timedelta(day.day_of_week, unit="D")
    elif frequency == "M":
        key = pd.Index(index.year * 12 + index.month)
    else:
        key = pd.Index(index.year * 4 + index.quarter)
    values = key.asi8 if isinstance(key, pd.DatetimeIndex) else np.asarray(key)
    flags[1:] = values[1:] != values[:-1]
    flags[0] = True
    return flags


def _prepare(prices: pd.DataFrame, policy: RebalancePolicy, *, all_targets: bool,
             start=None, tradable_mask: pd.DataFrame | None = None,
             spec: PortfolioSpec | None = None, force_generic: bool = False) -> _Prepared:
    prices = _check_prices(prices)
    assets = _universe(prices, policy)
    panel = prices[assets]
    raw = panel.to_numpy(dtype=float)
    index = panel.index
    t_count, n = raw.shape
    ppy = float(infer_periods_per_year(index))
    first = _start_position(index, start)
    tradable = ~np.isnan(raw)
    mask = _tradable_mask(tradable_mask, index, assets)
    if mask is not None:
        tradable &= mask
    # an asset whose real prices end before the panel is sold at its last real close
    observed = tradable.any(axis=0)
    last_real = np.where(observed, t_count - 1 - np.argmax(tradable[::-1], axis=0), -1)
    data_end = np.zeros((t_count, n), dtype=bool)
    ends = observed & (last_real < t_count - 1)
    data_end[last_real[ends], np.flatnonzero(ends)] = True
    value_prices = panel.ffill().to_numpy(dtype=float)
    listed_count = np.cumsum(tradable, axis=0)

    lookback = int(policy.lookback)
    returns = np.full_like(raw, np.nan)
    returns[1:] = raw[1:] / raw[:-1] - 1.0
    half_life = None
    if policy.estimator == "ewma":
        half_life = policy.half_life if policy.half_life is not None else lookback / 4.0
    covariance, full_window = rolling_covariances(returns, lookback, half_life=half_life)
    first_full = np.argmax(full_window.any(axis=1)) if full_window.any() else t_count
    if policy.volatility_floor:
        start = min(first_full, t_count)
        covariance[start:] = floor_volatility(covariance[start:],
                                              policy.volatility_floor**2 / ppy)
    variances = np.diagonal(covariance, axis1=1, axis2=2)
    estimable = full_window & (variances > 0)

    estimated = (spec is not None or policy.method in _ESTIMATED
                 or policy.target_volatility is not None)
    if policy.min_history is not None:
        min_history = int(policy.min_history)
    else:
        min_history = lookback + 1 if estimated else 1
    holdable = tradable & (listed_count >= min_history) & ~data_end
    eligible = holdable & estimable if estimated else holdable
    partial = np.zeros(t_count, dtype=bool)
    if spec is not None:
        # the one universe rule of build_portfolio (riskcore.window.min_returns): enough
        # valid returns in the lookback, not necessarily all of them; a flat full window is
        # left out here as decide() leaves it out
        valid = ~np.isnan(returns)
        counts = np.zeros((t_count, n))
        csum = np.cumsum(valid, axis=0)
        if t_count >= lookback:
            counts[lookback - 1:] = csum[lookback - 1:] - np.vstack(
                [np.zeros((1, n)), csum[: t_count - lookback]])
        covered = counts >= min_returns(lookback, spec.alignment)
        holdable = tradable & ~data_end & covered
        eligible = holdable & ~(full_window & ~(variances > 0))
        # dates where a covered coin lacks a full window: the rolling kernel cannot decide
        partial = (eligible & ~full_window).any(axis=1)

    # assets inside the risk budget: all but the stablecoin sleeve and a cash column that
    # the policy's budget or fixed target does not name
    inside = np.ones(n, dtype=bool)
    if policy.stablecoins == "sleeve":
        inside &= ~np.array([is_stablecoin(str(a)) for a in assets], dtype=bool)
        if not inside.any():
            raise DataError(
                "every asset is a stablecoin: nothing is left to risk-budget with "
                "stablecoins='sleeve'"
            )
    cash_pos = None
    cash_ok = None
    if policy.cash != CASH:
        cash_pos = int(assets.get_loc(policy.cash))
        named = policy.target if policy.method == "fixed" else policy.budget
        if named is not None and policy.cash not in named.index:
            inside[cash_pos] = False
        # the sleeve needs a price and the history, not a positive variance
        cash_ok = holdable[:, cash_pos] & (full_window[:, cash_pos] if estimated else True)
    budget_eligible = eligible if inside.all() else eligible & inside

    new_period = _new_period(index, policy.frequency)
    targets = np.full((t_count, n), np.nan)
    fixed = None
    if policy.method == "fixed":
        fixed = policy.target.reindex(assets, fill_value=0.0).to_numpy(dtype=float)
    budget = policy.budget
    if spec is not None and spec.risk_budget is not None:
        budget = pd.Series(dict(spec.risk_budget), dtype=float)
    budget_all = (
        budget.reindex(assets, fill_value=0.0).to_numpy(dtype=float)
        if budget is not None
        else np.full(n, 1.0 / n)
    )
    if not inside.all():
        budget_all = np.where(inside, budget_all, 0.0)
    previous = None
    end_day = data_end.any(axis=1)
    generic = spec is not None and (force_generic or not _has_fast_path(spec))
    decidable = eligible if generic else budget_eligible
    candidates = np.flatnonzero(decidable.any(axis=1) | end_day)
    max_leverage = 1.0 if spec is None else spec.max_leverage
    # a spec without the fast path decides on calendar dates and, with band triggers,
    # lazily when a band breaches (see _simulate): one decision per rebalance, not per day
    lazy = generic and all_targets
    for t in candidates[candidates >= first]:
        if (all_targets and not lazy) or previous is None or new_period[t] or end_day[t]:
            # the rolling kernel needs full windows: a date where a coin the universe rule
            # admits misses a return in its window is decided by decide() itself
            by_decide = generic or bool(partial[t])
            if by_decide:
                tgt = _decide_at(returns, t, eligible[t], spec, index, assets, ppy) \
                    if eligible[t].any() else None
            else:
                tgt = _target(policy, covariance[t], budget_eligible[t], budget_all, previous,
                              fixed, index, t)
            if tgt is None and end_day[t]:
                targets[t] = 0.0  # nothing else can be held: the ending coin is sold to cash
            if tgt is not None:
                previous = tgt
                if policy.target_volatility is not None and not by_decide:
                    sleeve = cash_pos if cash_ok is not None and cash_ok[t] else None
                    k = volatility_scale(tgt, covariance[t] * ppy, policy.target_volatility,
                                         max_leverage=max_leverage, cash_position=sleeve)
                    tgt = tgt * k
                    if sleeve is not None:
                        tgt[sleeve] += 1.0 - k
                targets[t] = tgt
    # the budget is the reference of realized volatility contributions only when it budgets
    # volatility; an ES-budgeted target's reference is its own volatility contributions
    budget_reference = (spec.method == "risk_budget" and spec.risk_measure == "volatility"
                        if spec is not None else policy.method in ("erc", "risk_budget"))
    reference = _reference(budget_reference, covariance, estimable, eligible, targets,
                           budget_all)
    decide_run = None
    if lazy:
        memo: dict[int, np.ndarray | None] = {}

        def decide_run(t_run: int) -> np.ndarray | None:
            t = t_run + first
            if t not in memo:
                memo[t] = (_decide_at(returns, t, eligible[t], spec, index, assets, ppy)
                           if eligible[t].any() else None)
            return memo[t]
    run = slice(first, None)
    notes = _data_notes(index, assets, tradable, last_real, ends, value_prices, first)
    return _Prepared(
        index=index[run],
        assets=assets,
        value_prices=value_prices[run],
        tradable=tradable[run],
        covariance=covariance[run],
        estimable=estimable[run],
        eligible=eligible[run],
        targets=targets[run],
        reference=reference[run],
        new_period=new_period[run],
        periods_per_year=ppy,
        data_end=data_end[run],
        notes=notes,
        budget_reference=budget_reference,
        budget_all=budget_all,
        decide=decide_run,
    )


def _data_notes(index, assets, tradable, last_real, ends, value_prices, first) -> tuple:
    """Lines about the run's start, listings, price gaps and data ends, naming each coin."""
    notes = []
    if first > 0:
        notes.append(f"The run starts on {index[first]:%Y-%m-%d} (the window start); "
                     f"estimates also use the {first} earlier dates.")
    run = tradable[first:]
    first_real = np.where(run.any(axis=0), np.argmax(run, axis=0), -1)
    never, listed, gaps, ended = [], [], [], []
    for i, asset in enumerate(assets):
        if first_real[i] < 0:
            never.append(str(asset))
            continue
        lo, hi = first + first_real[i], last_real[i]
        if first_real[i] > 0:
            listed.append(f"{asset} ({index[lo]:%Y-%m-%d})")
        missing = int((~tradable[lo : hi + 1, i]).sum())
        if missing:
            gaps.append(f"{asset} ({missing} days)")
        if ends[i]:
            ended.append(f"{asset} ({index[hi]:%Y-%m-%d} at {value_prices[hi, i]:.6g} USD)")
    if never:
        notes.append("No real price inside the run, never traded: " + ", ".join(never) + ".")
    if listed:
        notes.append("First real price after the start, not held before: "
                     + ", ".join(listed) + ".")
    if gaps:
        notes.append("Days without a real price between a coin's first and last (valued at "
                     "the last price, never traded on): " + ", ".join(gaps) + ".")
    if ended:
        notes.append("Prices end before the run does; a holding is sold at that last real "
                     "close and nothing is held after: " + ", ".join(ended) + ".")
    return tuple(notes)


def _has_fast_path(spec: PortfolioSpec) -> bool:
    """Whether the rolling kernel computes this spec's targets (checked equal by a test).

    Sample or EWMA covariance on the common window, and volatility risk budgeting without
    bounds or group limits, inverse volatility or equal weight. Every other spec (among them
    expected-shortfall budgeting) re-runs :func:`riskcore.portfolio.decide` at each date.
    """
    return (spec.estimator in ("sample", "ewma") and spec.alignment == "common"
            and spec.risk_measure == "volatility"
            and spec.method in ("risk_budget", "inverse_volatility", "equal_weight")
            and not spec.bounds and not spec.group_limits)


def _decide_at(returns: np.ndarray, t: int, eligible: np.ndarray, spec: PortfolioSpec,
               index: pd.DatetimeIndex, assets: pd.Index, ppy: float) -> np.ndarray:
    """Target weights at ``t`` from :func:`riskcore.portfolio.decide` (cash implied)."""
    lo = t - spec.lookback + 1
    window = pd.DataFrame(returns[lo : t + 1], index=index[lo : t + 1], columns=assets)
    try:
        portfolio = decide(window, eligible, spec, ppy)
    except RiskcoreError as exc:
        raise type(exc)(f"on {index[t]:%Y-%m-%d}: {exc}") from exc
    weights = portfolio.weights.drop(CASH, errors="ignore")
    return weights.reindex(assets, fill_value=0.0).to_numpy(dtype=float)


def _policy_of(spec: PortfolioSpec) -> RebalancePolicy:
    """Translate the triggers and walk-forward settings of a spec into a policy."""
    fast = spec.method if spec.method in _ESTIMATED + ("equal_weight",) else "risk_budget"
    return RebalancePolicy(
        method=fast, frequency=spec.frequency, band=spec.band,
        relative_band=spec.relative_band, risk_band=spec.risk_band,
        volatility_band=spec.volatility_band, target_volatility=spec.target_volatility,
        mode=spec.mode,
        estimator=spec.estimator if spec.estimator in ESTIMATORS else "sample",
        lookback=spec.lookback, half_life=spec.half_life_periods,
        min_history=spec.lookback + 1, volatility_floor=spec.volatility_floor,
        stablecoins=spec.stablecoins, cash=spec.sleeve_asset,
    )


def _reference(
    budget_reference: bool,
    covariance: np.ndarray,
    estimable: np.ndarray,
    eligible: np.ndarray,
    targets: np.ndarray,
    budget_all: np.ndarray,
) -> np.ndarray:
    """Compute the reference relative risk contributions per date (NaN where unknown).

    The risk budget (over the estimable, eligible assets, renormalized) for risk-budget
    methods; otherwise the relative risk contributions of the latest target.
    """
    if budget_reference:
        b = np.where(estimable & eligible, budget_all, 0.0)
        total = b.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            ref = np.where(estimable & (total > 0), b / total, np.nan)
        return ref
    latest = pd.DataFrame(targets).ffill().to_numpy()
    ref = relative_risk_contribution_array(np.where(estimable, np.nan_to_num(latest), 0.0),
                                           covariance)
    ref[~estimable] = np.nan
    return ref


def _target(
    policy: RebalancePolicy,
    cov: np.ndarray,
    elig: np.ndarray,
    budget_all: np.ndarray,
    previous: np.ndarray | None,
    fixed: np.ndarray | None,
    index: pd.DatetimeIndex,
    t: int,
) -> np.ndarray | None:
    n = elig.size
    out = np.zeros(n)
    if not elig.any():
        return None
    if fixed is not None:
        w = np.where(elig, fixed, 0.0)
        if w.sum() <= 0:
            return None
        return w / w.sum()
    if policy.method == "equal_weight":
        out[elig] = 1.0 / elig.sum()
        return out
    sub = cov if elig.all() else cov[np.ix_(elig, elig)]
    if policy.method == "inverse_volatility":
        inv = 1.0 / np.sqrt(np.diagonal(sub))
        out[elig] = inv / inv.sum()
        return out
    b = budget_all[elig]
    if not b.sum() > 0:
        return None
    x0 = None
    if previous is not None:
        x0 = previous[elig]
    solution = solve_risk_budget(sub, b / b.sum(), x0=x0)
    if not solution.converged:
        raise ConvergenceError(
            f"risk-budget solver did not converge at {index[t]} (relative error "
            f"{solution.max_relative_error:.3g} after {solution.iterations} iterations)"
        )
    out[elig] = solution.weights
    return out


def _relative_rc(cov: np.ndarray, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = relative_risk_contribution_array(np.where(mask, weights, 0.0), cov)
    out[~mask] = np.nan
    return out


# ---------------------------------------------------------------------------------------
# simulation


@dataclass(frozen=True, eq=False)
class _Loop:
    """What a trading loop produced, per date and per rebalance (either path)."""

    equity: np.ndarray  # (T,) USD after each date's trades
    cash: np.ndarray  # (T,) USD
    units: np.ndarray  # (T, n) coin units held after each date's trades
    values: np.ndarray  # (T, n) USD held after each date's trades
    costs: np.ndarray  # (T,) USD paid at each date
    turnover: np.ndarray  # (T,) one-way turnover of each date's trades
    positions: np.ndarray  # (k,) date positions of the rebalances
    reasons: list  # (k,) reason strings
    trade_values: np.ndarray  # (k, n) signed USD
    trade_units: np.ndarray  # (k, n) signed coin units
    trade_costs: np.ndarray  # (k, n) USD
    capped: np.ndarray  # (n,) trades charged at the participation cap
    targets: np.ndarray  # (T, n) targets known at each date (lazy decisions included)
    funding: np.ndarray | None = None  # (T,) USD funding paid (perpetuals only)


def _simulate(
    prep: _Prepared,
    policy: RebalancePolicy,
    costs: CostModel,
    volume: np.ndarray | None,
    initial_value: float,
    notes: Sequence[str] = (),
    perpetuals: PerpetualPlan | None = None,
) -> BacktestResult:
    loop = _trading_loop(prep, policy, costs, volume, initial_value, perpetuals)
    names = [str(a) for a in prep.assets]
    notes = list(prep.notes) + list(notes)
    for i in np.flatnonzero(loop.capped):
        notes.append(f"{names[i]}: {loop.capped[i]} trade(s) larger than "
                     f"{costs.max_participation:g} x the day's volume; market impact charged "
                     "at that participation.")
    result = _result(prep, policy, costs, loop, tuple(notes))
    if perpetuals is None:
        return result
    return margin_check(perpetuals, result, np.nan_to_num(prep.value_prices), loop.funding)


def _trading_loop(prep: _Prepared, policy: RebalancePolicy, costs: CostModel,
                  volume: np.ndarray | None, initial_value: float,
                  perpetuals: PerpetualPlan | None = None) -> _Loop:
    """Run the trading loop: the one dispatch between the compiled loop and the Python one.

    The compiled loop (:mod:`riskcore._trade_kernel`) runs every preparation whose targets
    are all known before the run, without perpetuals; lazy decisions (a spec decided again
    when a band breaches) and perpetuals run the Python loop, as does a run whose cost
    fixed point fails (to raise its worded error) or a machine without numba.
    """
    if perpetuals is None and prep.decide is None:
        loop = _compiled_loop(prep, policy, costs, volume, initial_value)
        if loop is not None:
            return loop
    return _python_loop(prep, policy, costs, volume, initial_value, perpetuals)


def _kernel_inputs(prep: _Prepared) -> dict:
    """Arrays of a preparation in the compiled loop's layout, made once per preparation."""
    cached = prep.cache.get("kernel")
    if cached is None:
        targets = np.ascontiguousarray(prep.targets)
        cached = {
            "value_prices": np.ascontiguousarray(np.nan_to_num(prep.value_prices)),
            "tradable": np.ascontiguousarray(prep.tradable),
            "all_tradable": prep.tradable.all(axis=1),
            "targets": targets,
            "has_targets": ~np.isnan(targets[:, 0]),
            "new_period": np.ascontiguousarray(prep.new_period),
            "data_end": np.ascontiguousarray(prep.data_end),
            "any_end": prep.data_end.any(axis=1),
            "estimable": np.ascontiguousarray(prep.estimable),
            "covariance": np.ascontiguousarray(prep.covariance),
            "reference": np.ascontiguousarray(prep.reference),
        }
        prep.cache["kernel"] = cached  # a race only computes it twice
    return cached


_REASON_TEXT: dict[int, str] = {}


def _reason_text(bits: int) -> str:
    """Reason string of a rebalance from the compiled loop's bits ("band+risk band")."""
    text = _REASON_TEXT.get(bits)
    if text is None:
        text = _REASON_TEXT[bits] = "+".join(name for bit, name in _trade_kernel.REASONS
                                             if bits & bit)
    return text


def _threshold(value: float | None) -> float:
    return np.nan if value is None else float(value)


def _compiled_loop(prep: _Prepared, policy: RebalancePolicy, costs: CostModel,
                   volume: np.ndarray | None, initial_value: float) -> _Loop | None:
    """Run the compiled trading loop; None without numba or when the cost fixed point fails."""
    if not _trade_kernel._USE_KERNEL or _trade_kernel.load() is None:
        return None
    a = _kernel_inputs(prep)
    t_count, n = prep.value_prices.shape
    use_volume = volume is not None and costs.impact > 0
    vol = (np.ascontiguousarray(volume, dtype=float) if use_volume
           else np.empty((0, n)))
    equity = np.empty(t_count)
    cash = np.empty(t_count)
    units = np.empty((t_count, n))
    values = np.empty((t_count, n))
    cost_hist = np.zeros(t_count)
    turnover = np.zeros(t_count)
    positions = np.empty(t_count, dtype=np.int64)
    reasons = np.empty(t_count, dtype=np.int64)
    trade_values = np.empty((t_count, n))
    trade_units = np.empty((t_count, n))
    trade_costs = np.empty((t_count, n))
    capped = np.zeros(n, dtype=np.int64)
    status, k = _trade_kernel.simulate(
        a["value_prices"], a["tradable"], a["all_tradable"], a["targets"], a["has_targets"],
        a["new_period"], a["data_end"], a["any_end"], a["estimable"], a["covariance"],
        a["reference"], vol, use_volume, _threshold(policy.band),
        _threshold(policy.relative_band), _threshold(policy.risk_band),
        _threshold(policy.volatility_band), _trade_kernel.MODES[policy.mode],
        float(initial_value), costs.is_zero, costs.proportional, costs.impact,
        costs.max_participation, costs.min_trade, 1e-12, 100,
        equity, cash, units, values, cost_hist, turnover, positions, reasons,
        trade_values, trade_units, trade_costs, capped)
    if status >= 0:
        return None  # the Python loop raises the cost error with its wording
    return _Loop(
        equity=equity, cash=cash, units=units, values=values, costs=cost_hist,
        turnover=turnover, positions=positions[:k].copy(),
        reasons=[_reason_text(int(b)) for b in reasons[:k]],
        trade_values=trade_values[:k].copy(), trade_units=trade_units[:k].copy(),
        trade_costs=trade_costs[:k].copy(), capped=capped, targets=prep.targets)


def _python_loop(prep: _Prepared, policy: RebalancePolicy, costs: CostModel,
                 volume: np.ndarray | None, initial_value: float,
                 perpetuals: PerpetualPlan | None = None) -> _Loop:
    """Run the trading loop in Python: every case, lazy decisions and perpetuals included."""
    t_count, n = prep.value_prices.shape
    names = [str(a) for a in prep.assets]
    capped = np.zeros(n, dtype=int)
    data_end = prep.data_end
    any_end = data_end.any(axis=1)
    value_prices = np.nan_to_num(prep.value_prices)  # 0 before listing (nothing held then)
    all_tradable = prep.tradable.all(axis=1)
    targets = prep.targets
    has_targets = ~np.isnan(targets[:, 0])
    units = np.zeros(n)
    cash = float(initial_value)
    equity = np.empty(t_count)
    cash_hist = np.empty(t_count)
    units_hist = np.zeros((t_count, n))
    values_hist = np.zeros((t_count, n))
    cost_hist = np.zeros(t_count)
    turnover_hist = np.zeros(t_count)
    rebalance_pos: list[int] = []
    reasons: list[str] = []
    trade_values: list[np.ndarray] = []
    trade_units: list[np.ndarray] = []
    trade_costs: list[np.ndarray] = []
    band = policy.band
    rel = policy.relative_band
    risk_band = policy.risk_band
    vol_band = policy.volatility_band
    any_band = band is not None or rel is not None or risk_band is not None
    new_period = prep.new_period
    mode = policy.mode
    lazy = prep.decide is not None
    if lazy:
        targets = targets.copy()  # decisions made during this run stay in this run

    def evaluate(t, weights, tgt, invested, units):
        """Which triggers fire at ``t`` against the target ``tgt``."""
        why: list[str] = []
        breach = None
        full = False
        if not invested:
            return ["initial"], None, True
        if new_period[t]:
            why.append("calendar")
            full = True
        if any_end[t] and (data_end[t] & (units > 0)).any():
            why.append("data end")
            full = True
        if any_band:
            breach = np.zeros(n, dtype=bool)
            drift = np.abs(weights - tgt)
            if band is not None:
                hit = drift > band + _TOL
                if hit.any():
                    why.append("band")
                    breach |= hit
            if rel is not None:
                hit = drift > rel * tgt + _TOL
                if hit.any():
                    why.append("relative band")
                    breach |= hit
            if risk_band is not None:
                est = prep.estimable[t]
                if est.any():
                    rrc = _relative_rc(prep.covariance[t], weights, est)
                    ref = (prep.reference[t] if not lazy or prep.budget_reference
                           else _relative_rc(prep.covariance[t], tgt, est))
                    hit = (np.abs(rrc - ref) > risk_band + _TOL) & est
                    if hit.any():
                        why.append("risk band")
                        breach |= hit
        if vol_band is not None:
            est = prep.estimable[t]
            if est.any():
                cov = prep.covariance[t]
                w_e = np.where(est, weights, 0.0)
                t_e = np.where(est, tgt, 0.0)
                var_t = t_e @ cov @ t_e
                ratio = np.sqrt((w_e @ cov @ w_e) / var_t) if var_t > 0 else 1.0
                if abs(ratio - 1.0) > vol_band + _TOL:
                    why.append("volatility band")
                    full = True
        return why, breach, full

    invested = False
    tgt = None
    values = np.zeros(n)
    funding = None if perpetuals is None else perpetuals.funding
    funding_hist = np.zeros(t_count)
    for t in range(t_count):
        price = value_prices[t]
        if funding is not None and invested:  # on the notional held since t-1, from cash
            funding_hist[t] = float(funding[t] @ values)
            cash -= funding_hist[t]
        if invested:
            values = units * price
        total = values.sum() + cash
        if has_targets[t]:
            tgt = targets[t]
        if tgt is not None and total > 0:
            weights = values / total
            why, breach, full = evaluate(t, weights, tgt, invested, units)
            if lazy and invested and not has_targets[t] and set(why) & _BAND_REASONS:
                # a band breach re-makes the decision with the data known today
                fresh = prep.decide(t)
                if fresh is not None:
                    tgt = targets[t] = fresh
                    why, breach, full = evaluate(t, weights, tgt, invested, units)
            if why:
                if full:
                    wanted = tgt
                else:
                    thr = band if band is not None else (rel * tgt if rel is not None else 0.0)
                    wanted = desired_weights(weights, tgt, breach, mode, thr)
                if not all_tradable[t]:
                    # assets without a price today keep their holding; the rest is rescaled
                    tradable = prep.tradable[t]
                    keep = weights[~tradable].sum()
                    invest = max(wanted.sum() - keep, 0.0)
                    wanted = np.where(tradable, wanted, 0.0)
                    wanted *= invest / wanted.sum() if wanted.sum() > 0 else 0.0
                    wanted[~tradable] = weights[~tradable]
                vol_t = None if volume is None else volume[t]
                try:
                    trades, trade_cost, _ = plan_trade_values(values, cash, wanted, costs,
                                                              vol_t, names=names)
                except ConvergenceError as exc:
                    raise ConvergenceError(f"on {prep.index[t]:%Y-%m-%d}: {exc}") from exc
                placed = trades != 0
                if vol_t is not None and costs.impact > 0:
                    with np.errstate(invalid="ignore", divide="ignore"):
                        capped += placed & (np.abs(trades) > costs.max_participation * vol_t)
                if placed.any():
                    unit_trade = np.divide(trades, price, out=np.zeros(n), where=placed)
                    units = units + unit_trade
                    units[(placed & (wanted == 0)) | (units < 0)] = 0.0  # rounding dust
                    values = units * price
                    cash = cash - trades.sum() - trade_cost.sum()
                    if abs(cash) < 1e-9 * total:
                        cash = 0.0  # fully invested up to rounding
                    cost_hist[t] = trade_cost.sum()
                    turnover_hist[t] = np.abs(trades).sum() / (2.0 * total)
                    rebalance_pos.append(t)
                    reasons.append("+".join(why))
                    trade_values.append(trades)
                    trade_units.append(unit_trade)
                    trade_costs.append(trade_cost)
                    invested = True
        equity[t] = values.sum() + cash
        cash_hist[t] = cash
        units_hist[t] = units
        values_hist[t] = values
    n_trades = len(rebalance_pos)
    return _Loop(
        equity=equity, cash=cash_hist, units=units_hist, values=values_hist, costs=cost_hist,
        turnover=turnover_hist, positions=np.asarray(rebalance_pos, dtype=np.int64),
        reasons=reasons,
        trade_values=np.vstack(trade_values) if n_trades else np.zeros((0, n)),
        trade_units=np.vstack(trade_units) if n_trades else np.zeros((0, n)),
        trade_costs=np.vstack(trade_costs) if n_trades else np.zeros((0, n)),
        capped=capped, targets=targets,
        funding=None if perpetuals is None else funding_hist)


def _relative_rc_panel(prep: _Prepared, weights: np.ndarray, start: int) -> np.ndarray:
    """Relative risk contributions of each date's weights over its estimable assets."""
    out = np.full(weights.shape, np.nan)
    est = prep.estimable[start:]
    rrc = relative_risk_contribution_array(np.where(est, weights[start:], 0.0),
                                           prep.covariance[start:])
    rrc[~est] = np.nan
    out[start:] = rrc
    return out


def _check_invested(positions: np.ndarray, t_count: int, policy: RebalancePolicy) -> int:
    """Position of the first investment; DataError unless it leaves 2 dates invested."""
    if len(positions) == 0 or positions[0] >= t_count - 1:
        raise DataError(
            "the portfolio was never invested for 2 dates: no asset has enough history "
            f"(lookback {policy.lookback} returns) before the last date"
        )
    return int(positions[0])


def _result(prep, policy, costs, loop: _Loop, notes) -> BacktestResult:
    equity, cash_hist, units_hist, values_hist = loop.equity, loop.cash, loop.units, loop.values
    cost_hist, turnover_hist, targets = loop.costs, loop.turnover, loop.targets
    rebalance_pos, reasons = loop.positions, loop.reasons
    index, assets = prep.index, prep.assets
    start = _check_invested(rebalance_pos, len(index), policy)
    equity_s = pd.Series(equity, index=index, name="equity")
    with np.errstate(invalid="ignore", divide="ignore"):
        weights_hist = np.where(equity[:, None] > 0, values_hist / equity[:, None], 0.0)
    rrc_hist = _relative_rc_panel(prep, weights_hist, start)
    reference = (prep.reference.copy() if prep.decide is None else
                 _reference(prep.budget_reference, prep.covariance, prep.estimable,
                            prep.eligible, targets, prep.budget_all))
    reference[np.isnan(rrc_hist)] = np.nan
    dates = pd.DatetimeIndex(index[rebalance_pos], name="date")
    turnover_s = pd.Series(turnover_hist, index=index, name="turnover")
    total_turnover = float(turnover_hist.sum() - turnover_hist[start])
    costs_s = pd.Series(cost_hist, index=index, name="costs")
    values = loop.trade_values
    placed = values != 0
    rebalance_k, asset_k = np.nonzero(placed)
    reason_arr = np.asarray(reasons, dtype=object)
    trades = pd.DataFrame(
        {
            "date": index[np.asarray(rebalance_pos)[rebalance_k]],
            "asset": assets[asset_k],
            "units": loop.trade_units[placed],
            "value": values[placed],
            "cost": loop.trade_costs[placed],
            "reason": reason_arr[rebalance_k],
        }
    )
    balance_error = risk_balance_error(pd.DataFrame(rrc_hist), pd.DataFrame(reference))
    metrics = portfolio_metrics(
        equity_s.iloc[start:],
        periods_per_year=prep.periods_per_year,
        turnover=total_turnover,
        costs_paid=float(cost_hist.sum()),
        n_rebalances=len(rebalance_pos) - 1,
        risk_balance_error=balance_error,
    )
    return BacktestResult(
        equity=equity_s,
        weights=pd.DataFrame(weights_hist, index=index, columns=assets),
        holdings=pd.DataFrame(units_hist, index=index, columns=assets),
        cash=pd.Series(cash_hist, index=index, name="cash"),
        target_weights=pd.DataFrame(targets, index=index, columns=assets),
        trades=trades,
        costs=costs_s,
        turnover_by_date=turnover_s,
        turnover=total_turnover,
        rebalance_dates=dates,
        rebalance_reasons=pd.Series(reasons, index=dates, name="reason", dtype=object),
        relative_risk_contributions=pd.DataFrame(rrc_hist, index=index, columns=assets),
        risk_reference=pd.DataFrame(reference, index=index, columns=assets),
        metrics=metrics,
        policy=policy,
        cost_model=costs,
        notes=notes,
    )


def _volume_array(volume: pd.DataFrame | None, prep: _Prepared, costs: CostModel
                  ) -> tuple[np.ndarray | None, tuple[str, ...]]:
    """USD volume per run date and asset, NaN where impact is skipped; and the notes.

    Zero, negative, missing and non-finite volumes are unusable: with
    ``costs.missing_volume == "skip"`` the impact is skipped on those asset-days, with
    ``"last"`` the asset's last usable volume (of any earlier date of the panel) is used.
    """
    if volume is None:
        return None, ()
    if not isinstance(volume, pd.DataFrame):
        raise DataError("volume must be a DataFrame of USD volume shaped like the prices")
    frame = volume.reindex(columns=prep.assets).astype(float)
    frame = frame.where(np.isfinite(frame) & (frame > 0))
    if costs.missing_volume == "last":
        frame = frame.ffill()
    values = frame.reindex(index=prep.index).to_numpy(dtype=float)
    if costs.impact == 0:
        return values, ()
    notes = []
    raw = volume.reindex(index=prep.index)
    for i, asset in enumerate(prep.assets):
        days = prep.tradable[:, i]
        if asset not in volume.columns:
            notes.append(f"{asset}: no volume in the data; market impact not charged.")
            continue
        col = raw[asset].to_numpy(dtype=float)
        bad = days & ~(np.isfinite(col) & (col > 0))
        if not bad.any():
            continue
        what = (f"{asset}: volume zero or missing on {int(bad.sum())} of {int(days.sum())} "
                "trading days")
        if costs.missing_volume == "skip":
            notes.append(f"{what}; market impact skipped on those days.")
        else:
            none = int((bad & np.isnan(values[:, i])).sum())
            notes.append(f"{what}; market impact used the last valid volume"
                         + (f" (skipped on {none} days without an earlier one)." if none
                            else "."))
    return values, tuple(notes)


def _resolve(prices, policy, costs, start):
    """Split a spec into the simulator's policy, its panel, costs and start (explicit win)."""
    spec = None
    if isinstance(policy, PortfolioSpec):
        spec, policy = policy, _policy_of(policy)
        costs = spec.costs if costs is None else costs
        start = spec.start if start is None else start
        prices = spec_panel(prices, spec)
    return prices, policy, spec, CostModel() if costs is None else costs, start


def _check_initial(initial_value: float) -> float:
    if not np.isfinite(initial_value) or initial_value <= 0:
        raise ParameterError(f"initial_value is {initial_value}; it must be > 0 USD")
    return float(initial_value)


def run_backtest(
    prices: pd.DataFrame,
    policy: PortfolioSpec | RebalancePolicy,
    costs: CostModel | None = None,
    *,
    volume: pd.DataFrame | None = None,
    initial_value: float = 10_000.0,
    start: pd.Timestamp | str | None = None,
    tradable: pd.DataFrame | None = None,
    perpetuals: PerpetualSettings | None = None,
) -> BacktestResult:
    """Simulate a rebalancing policy day by day, without look-ahead, with trading costs.

    See the module docstring for the timing, eligibility and measurement rules.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        Price panel (USD per unit, NaN before listing), sorted unique DatetimeIndex.
    policy : PortfolioSpec or RebalancePolicy
        The decision to re-make at each rebalance date: a :class:`~riskcore.spec.PortfolioSpec`
        (every method and option of :func:`~riskcore.portfolio.build_portfolio`; its window,
        universe and cost model are used unless ``start`` or ``costs`` are given), or the
        simulator's own :class:`RebalancePolicy` (fixed targets, the benchmarks, bt
        comparisons). With a spec the target at each date is
        :func:`riskcore.portfolio.decide` on the ``lookback`` returns ending there (sample or
        EWMA volatility risk budgeting, inverse volatility and equal weight take a faster
        path through :func:`riskcore.estimators.rolling_covariances`, tested equal, and
        re-decide every day a band trigger is checked). The other specs (expected-shortfall
        budgeting among them) decide at the first date, on
        calendar dates and on data ends, and, with band triggers, check the bands against
        the last decision and re-make it when a band breaches (the breach is then judged
        against the new decision): one decision per rebalance instead of one per day, about
        30 ms each.
    costs : CostModel, optional
        Fees, half-spread, market impact and minimum trade size; free trading by default.
    volume : pandas.DataFrame of shape (n_dates, n_assets), optional
        Daily traded volume in USD (Yahoo's crypto ``Volume`` is in USD), for the square-root
        market-impact term; NaN where unknown. Zero, missing or non-finite volume never makes
        a cost infinite: see ``CostModel.missing_volume`` (the notes name the coin and count
        the days).
    initial_value : float, default 10,000
        Cash in USD at the start.
    start : timestamp or str, optional
        Window start: the first trade is on the first date >= ``start``; estimates at that
        date use the prices before it too. The result's series start there. Default: the
        first date of the panel.
    tradable : pandas.DataFrame of bool, shape (n_dates, n_assets), optional
        True where the price is real. A price that is NaN, or False here (a carried-forward
        or forward-filled price, see :func:`tradable_from_cleaning`), values the holding but
        is never traded on. A coin whose real prices end before the panel's last date is sold
        at its last real close (a rebalance with reason ``"data end"``; the proceeds go to
        the other coins' targets, or to cash when nothing else can be held).
    perpetuals : riskcore.perp_sim.PerpetualSettings, optional
        Coins held through linear perpetuals instead of spot: funding paid each period on
        their notional (debited from cash, in ``funding``), maintenance margin checked at
        each close (``margin_excess``, ``margin_breaches``). What is modelled is set out in
        :mod:`riskcore.perp_sim`. Default: every coin spot, no funding, no margin check.

    Returns
    -------
    BacktestResult

    Raises
    ------
    DataError
        If the prices are not a valid panel, lack a policy asset, or no asset ever has enough
        history.
    ConvergenceError
        If the risk-budget solver fails at a date (the message gives the date).
    RiskcoreError
        If ``initial_value`` is not positive.

    References
    ----------
    Perold & Sharpe (1988), "Dynamic strategies for asset allocation", Financial Analysts
    Journal (constant mix versus buy-and-hold); Maillard, Roncalli & Teiletche (2010) (equal
    risk contribution); Spinu (2013) (risk-budget solver).
    """
    _check_initial(initial_value)
    prepared = prepare_backtest(prices, policy, start=start, tradable=tradable)
    return simulate_backtest(prepared, None, costs, volume=volume, initial_value=initial_value,
                             perpetuals=perpetuals)


# Fields a prepared backtest does not depend on: the band triggers, the trade mode and the
# costs (the calendar ``frequency`` is part of the preparation).
_SIMULATION_FIELDS = (*SWEEP_TRIGGERS, "mode", "costs")


@dataclass(frozen=True, eq=False)
class PreparedBacktest:
    """The band-independent part of a backtest, computed once by :func:`prepare_backtest`.

    Holds the checked price panel, eligibility, the rolling covariance estimates, the
    targets (every day, or on calendar dates only) and the reference risk contributions;
    :func:`simulate_backtest` runs the trading loop on it for any band triggers, trade mode
    and costs. Treat it as read-only (it may be shared between runs and threads).

    Attributes
    ----------
    policy : PortfolioSpec or RebalancePolicy
        The decision it was prepared for (its band triggers, mode and costs are the defaults
        of :func:`simulate_backtest`).
    daily_targets : bool
        Whether a target was computed for every date (needed by band triggers and daily
        calendars), else on calendar dates only.
    start : pandas.Timestamp or None
        The window start it was prepared with.
    """

    policy: PortfolioSpec | RebalancePolicy
    daily_targets: bool
    start: pd.Timestamp | None
    _prep: _Prepared
    _policy: RebalancePolicy
    _spec: PortfolioSpec | None


def prepare_backtest(
    prices: pd.DataFrame,
    policy: PortfolioSpec | RebalancePolicy,
    *,
    start: pd.Timestamp | str | None = None,
    tradable: pd.DataFrame | None = None,
    daily_targets: bool | None = None,
) -> PreparedBacktest:
    """Compute the part of :func:`run_backtest` that no band, trade mode or cost changes.

    ``run_backtest(prices, policy, costs, ...)`` is exactly
    ``simulate_backtest(prepare_backtest(prices, policy, ...), None, costs, ...)``; a
    prepared backtest can be simulated again under other band triggers (``band``,
    ``relative_band``, ``risk_band``, ``volatility_band``), ``mode`` and costs without
    re-estimating anything, as :func:`threshold_sweep` does.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        Price panel, as in :func:`run_backtest`.
    policy : PortfolioSpec or RebalancePolicy
        The decision, as in :func:`run_backtest`.
    start, tradable
        As in :func:`run_backtest`.
    daily_targets : bool, optional
        Compute the target every day (needed by any band trigger). Default: whether
        ``policy`` itself needs them; pass True to simulate band triggers later on a policy
        prepared without any.

    Returns
    -------
    PreparedBacktest

    Raises
    ------
    DataError
        If the prices are not a valid panel, lack a policy asset, or no asset ever has enough
        history.
    ConvergenceError
        If the risk-budget solver fails at a date (the message gives the date).
    """
    original = policy
    prices, pol, spec, _costs, start = _resolve(prices, policy, None, start)
    daily = needs_daily_targets(pol) if daily_targets is None else bool(daily_targets)
    prep = _prepare(prices, pol, all_targets=daily, start=start, tradable_mask=tradable,
                    spec=spec)
    return PreparedBacktest(original, daily, None if start is None else pd.Timestamp(start),
                            prep, pol, spec)


def simulate_backtest(
    prepared: PreparedBacktest,
    policy: PortfolioSpec | RebalancePolicy | None = None,
    costs: CostModel | None = None,
    *,
    volume: pd.DataFrame | None = None,
    initial_value: float = 10_000.0,
    perpetuals: PerpetualSettings | None = None,
) -> BacktestResult:
    """Run the trading loop of a prepared backtest (see :func:`prepare_backtest`).

    This is what the dashboard runs on a band, mode or cost change. The loop is compiled
    (:mod:`riskcore._trade_kernel`, when numba is installed) for every preparation whose
    targets are known before the run, which is every spec with the rolling-kernel path and
    every :class:`RebalancePolicy`; lazy decisions (specs re-decided when a band breaches)
    and perpetuals run the Python loop. Both give the same result (tested to 1e-10).

    Parameters
    ----------
    prepared : PreparedBacktest
        From :func:`prepare_backtest`.
    policy : PortfolioSpec or RebalancePolicy, optional
        The prepared decision with other band triggers, ``mode`` or (for a spec) ``costs``;
        every other field must equal the prepared one. Default: the prepared policy.
    costs : CostModel, optional
        Trading costs; default the spec's cost model, else free trading.
    volume : pandas.DataFrame of shape (n_dates, n_assets), optional
        Daily USD volume for market impact, as in :func:`run_backtest`.
    initial_value : float, default 10,000
        Cash in USD at the start.
    perpetuals : riskcore.perp_sim.PerpetualSettings, optional
        Coins held through linear perpetuals, as in :func:`run_backtest`.

    Returns
    -------
    BacktestResult
        Identical to :func:`run_backtest` on the same inputs.

    Raises
    ------
    ParameterError
        If ``policy`` differs from the prepared one in a field other than the band triggers,
        ``mode`` and costs, or needs daily targets the preparation did not compute; or if
        ``initial_value`` is not positive.
    """
    initial_value = _check_initial(initial_value)
    if policy is None:
        pol, spec = prepared._policy, prepared._spec
    else:
        _check_same_preparation(prepared.policy, policy)
        spec = policy if isinstance(policy, PortfolioSpec) else None
        pol = _policy_of(policy) if spec is not None else policy
        if pol.needs_daily_target and not prepared.daily_targets:
            raise ParameterError(
                "this policy has band triggers (or a daily calendar) but the backtest was "
                "prepared without daily targets; call prepare_backtest(..., "
                "daily_targets=True)")
    if costs is None:
        costs = spec.costs if spec is not None else CostModel()
    vol, notes = _volume_array(volume, prepared._prep, costs)
    prep = prepared._prep
    plan = None if perpetuals is None else perpetual_plan(perpetuals, prep.index, prep.assets)
    return _simulate(prep, pol, costs, vol, initial_value, notes, perpetuals=plan)


def needs_daily_targets(policy: PortfolioSpec | RebalancePolicy) -> bool:
    """Whether a backtest of ``policy`` needs a target every day, not only on calendar dates.

    True with a band trigger or a daily calendar: the default ``daily_targets`` of
    :func:`prepare_backtest`.
    """
    if isinstance(policy, PortfolioSpec):
        policy = _policy_of(policy)
    return policy.needs_daily_target


def _check_same_preparation(prepared, policy) -> None:
    """Raise ParameterError unless ``policy`` differs from ``prepared`` only in loop fields.

    Those are the band triggers, the mode and the costs.
    """
    if type(policy) is not type(prepared):
        raise ParameterError(f"the backtest was prepared for a {type(prepared).__name__}, "
                             f"not a {type(policy).__name__}")
    differ = []
    for f in fields(prepared):
        if f.name in _SIMULATION_FIELDS:
            continue
        a, b = getattr(prepared, f.name), getattr(policy, f.name)
        if isinstance(a, pd.Series) or isinstance(b, pd.Series):
            same = a is b or (a is not None and b is not None and a.equals(b))
        else:
            same = a == b
        if not same:
            differ.append(f.name)
    if differ:
        raise ParameterError(
            f"the policy differs from the prepared one in {', '.join(differ)}; only band "
            "triggers, mode and costs can change between simulations: prepare it again")


def threshold_sweep(
    prices: pd.DataFrame,
    policy: PortfolioSpec | RebalancePolicy,
    thresholds: Sequence[float],
    costs: CostModel | None = None,
    *,
    trigger: str = "band",
    volume: pd.DataFrame | None = None,
    initial_value: float = 10_000.0,
    progress: Callable[[int, int], None] | None = None,
    start: pd.Timestamp | str | None = None,
    tradable: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Run the same policy over a grid of trigger thresholds: the cost / risk-balance trade-off.

    The covariance estimates and targets are computed once and shared by every run; each
    run is the compiled trading loop (:mod:`riskcore._trade_kernel`, when numba is
    installed), and its row is computed from the loop's arrays, as :func:`run_backtest`'s
    metrics are (equal to 1e-10, relative). Specs whose decision is re-made when a band
    breaches (no rolling-kernel path, e.g. expected-shortfall budgeting) run the Python loop
    and :func:`run_backtest`'s full result per threshold.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        Price panel.
    policy : PortfolioSpec or RebalancePolicy
        Base decision; its ``trigger`` field is replaced by each threshold (its other
        triggers are kept).
    thresholds : sequence of float
        Thresholds (decimals; ``numpy.inf`` means never trigger).
    costs : CostModel, optional
    trigger : {"band", "relative_band", "risk_band", "volatility_band"}, default "band"
        Which policy field the thresholds set.
    volume : pandas.DataFrame, optional
        Daily USD volume (market impact).
    initial_value : float, default 10,000
    progress : callable, optional
        Called as ``progress(done, total)`` after each run (e.g. to move a progress bar).
    start, tradable
        As in :func:`run_backtest`.

    Returns
    -------
    pandas.DataFrame
        One row per threshold (index ``threshold``), columns ``turnover`` (total one-way),
        ``annualized_turnover``, ``costs_paid`` (USD), ``cost_drag`` (decimal of the initial
        value), ``risk_balance_error``, ``annualized_return``, ``annualized_volatility``,
        ``max_drawdown``, ``n_rebalances``, ``final_equity`` (USD).

    Raises
    ------
    RiskcoreError
        For an unknown trigger or a negative threshold.
    """
    if trigger not in SWEEP_TRIGGERS:
        raise ParameterError(f"trigger {trigger!r} is unknown; allowed: {_allowed(SWEEP_TRIGGERS)}")
    prices, policy, spec, costs, start = _resolve(prices, policy, costs, start)
    initial_value = _check_initial(initial_value)
    grid = [float(x) for x in thresholds]
    policies = [replace(policy, **{trigger: x}) for x in grid]
    prep = _prepare(prices, policies[0] if policies else policy, all_targets=True,
                    start=start, tradable_mask=tradable, spec=spec)
    vol, notes = _volume_array(volume, prep, costs)
    rows = []
    for k, pol in enumerate(policies):
        if prep.decide is None:
            # the loop's own arrays give the table's figures: no result frames per threshold
            loop = _trading_loop(prep, pol, costs, vol, initial_value)
            rows.append(_sweep_row(prep, pol, loop))
        else:
            res = _simulate(prep, pol, costs, vol, initial_value, notes)
            m = res.metrics
            rows.append({name: getattr(m, name) for name in _SWEEP_METRICS}
                        | {"final_equity": float(res.equity.iloc[-1])})
        if progress is not None:
            progress(k + 1, len(policies))
    return pd.DataFrame(rows, index=pd.Index(grid, name="threshold"))


# Columns of a threshold sweep taken from the run's metrics (then final_equity).
_SWEEP_METRICS = ("turnover", "annualized_turnover", "costs_paid", "cost_drag",
                  "risk_balance_error", "annualized_return", "annualized_volatility",
                  "max_drawdown", "n_rebalances")


def _sweep_row(prep: _Prepared, policy: RebalancePolicy, loop: _Loop) -> dict:
    """Compute a threshold sweep's row from a trading loop, as :func:`portfolio_metrics` does.

    Only for preparations without lazy decisions (their reference risk contributions are
    ``prep.reference``). The same operations as :func:`_result` and
    :func:`riskcore.metrics.portfolio_metrics` on the same arrays, without building the
    result's frames; the risk-balance error comes from the compiled kernel when numba is
    installed (equal up to the summation order, about 1e-16 relative).
    """
    start = _check_invested(loop.positions, len(prep.index), policy)
    curve = loop.equity[start:]
    if not (curve > 0).all():  # portfolio_metrics raises its error on a non-positive equity
        portfolio_metrics(pd.Series(curve, index=prep.index[start:]),
                          periods_per_year=prep.periods_per_year)
    ppy = prep.periods_per_year
    balance = _trade_kernel.balance_error(loop.values, loop.equity, prep.covariance,
                                          prep.estimable, prep.reference, start)
    if balance is None:
        with np.errstate(invalid="ignore", divide="ignore"):
            weights = np.where(loop.equity[:, None] > 0, loop.values / loop.equity[:, None], 0.0)
        rrc = _relative_rc_panel(prep, weights, start)
        reference = prep.reference.copy()
        reference[np.isnan(rrc)] = np.nan
        balance = risk_balance_error(pd.DataFrame(rrc), pd.DataFrame(reference))
    returns = curve[1:] / curve[:-1] - 1.0
    drawdown = float(np.min(curve / np.maximum.accumulate(curve) - 1.0))
    turnover = float(loop.turnover.sum() - loop.turnover[start])
    years = (len(curve) - 1) / ppy
    costs_paid = float(loop.costs.sum())
    return {
        "turnover": turnover,
        "annualized_turnover": turnover / years if years > 0 else np.nan,
        "costs_paid": costs_paid,
        "cost_drag": costs_paid / float(curve[0]),
        "risk_balance_error": float(balance),
        "annualized_return": annualized_return(returns, periods_per_year=ppy),
        "annualized_volatility": annualized_volatility(returns, periods_per_year=ppy),
        "max_drawdown": drawdown if drawdown < 0 else 0.0,
        "n_rebalances": len(loop.positions) - 1,
        "final_equity": float(loop.equity[-1]),
    }


#: Name of each benchmark of :func:`benchmark_backtests`, in the order they are run.
BENCHMARKS: tuple[str, ...] = ("buy and hold", "equal weight, monthly", "BTC alone")
_BITCOIN = ("BTC", "XBT")


@dataclass(frozen=True, eq=False)
class BenchmarkRuns:
    """The simulator's benchmarks of one run, and why any of them is missing.

    Attributes
    ----------
    runs : dict of str to BacktestResult
        Benchmark name (``"buy and hold"``, ``"equal weight, monthly"``, ``"<BTC column>
        alone"``) to its run, in that order; a benchmark that cannot run is absent.
    notes : tuple of str
        One line per benchmark that could not run, saying why.
    """

    runs: dict[str, BacktestResult]
    notes: tuple[str, ...]


def benchmark_backtests(
    prices: pd.DataFrame,
    result: BacktestResult,
    costs: CostModel | None = None,
    *,
    volume: pd.DataFrame | None = None,
    initial_value: float = 10_000.0,
    tradable: pd.DataFrame | None = None,
) -> BenchmarkRuns:
    """Run the standard benchmarks of a backtest on the same prices, costs and start.

    Every benchmark starts on the run's first investment date, with the same initial value,
    costs, volume and tradable mask:

    - ``"buy and hold"``: the run's first weights (its cash sleeve excluded, renormalized),
      bought once and held;
    - ``"equal weight, monthly"``: ``1 / n`` over the coins with a price, rebalanced on the
      first date of each month;
    - ``"<BTC> alone"``: the Bitcoin column (base symbol BTC or XBT; the one with the longest
      history when there are several) bought and held.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        The price panel the run used.
    result : BacktestResult
        The run to compare against.
    costs : CostModel, optional
        Default: the run's cost model.
    volume, initial_value, tradable
        As in :func:`run_backtest`.

    Returns
    -------
    BenchmarkRuns
        The runs, and a note for each benchmark that cannot run (no Bitcoin column, no
        Bitcoin price on the start date, or the riskcore error it raised).
    """
    costs = result.cost_model if costs is None else costs
    start = result.rebalance_dates[0]
    # the run's universe and dates (a spec's as-of date ends the run before the panel ends)
    universe = [c for c in result.weights.columns if c in prices.columns]
    prices = prices.loc[: result.equity.index[-1], universe]
    runs: dict[str, BacktestResult] = {}
    notes: list[str] = []
    kwargs = {"volume": volume, "initial_value": initial_value, "start": start,
              "tradable": tradable}

    def attempt(name: str, policy_args: dict) -> None:
        try:
            runs[name] = run_backtest(prices, RebalancePolicy(**policy_args), costs, **kwargs)
        except RiskcoreError as exc:
            notes.append(f"{name}: not computed: {exc}")

    first = result.weights.loc[start]
    first = first[first > 0]
    attempt("buy and hold", {"target": first / first.sum()})
    attempt("equal weight, monthly", {"method": "equal_weight", "frequency": "M"})
    bitcoin = [c for c in prices.columns if base_symbol(str(c)) in _BITCOIN]
    if not bitcoin:
        notes.append("BTC alone: not computed: no Bitcoin column (base symbol BTC or XBT) "
                     "among the selected coins.")
        return BenchmarkRuns(runs, tuple(notes))
    btc = max(bitcoin, key=lambda c: prices[c].notna().sum())
    if pd.isna(prices[btc].get(start)):
        known = prices[btc].dropna().index
        span = (f"its prices run {known[0]:%Y-%m-%d} .. {known[-1]:%Y-%m-%d}" if len(known)
                else "it has no price at all")
        notes.append(f"BTC alone: not computed: {btc} has no price on {start:%Y-%m-%d}, the "
                     f"run's start ({span}).")
    else:
        attempt(f"{btc} alone", {"target": pd.Series({btc: 1.0})})
    return BenchmarkRuns(runs, tuple(notes))
