"""One description of a portfolio decision: :class:`PortfolioSpec`.

What a user decided (window, universe, estimator, method and its options, stablecoin policy,
volatility target, rebalancing rule, costs) is one frozen, hashable object. The decision at
one date (:func:`riskcore.portfolio.build_portfolio`) and its walk-forward simulation
(:func:`riskcore.backtest.run_backtest`) both read it, so the simulator runs exactly what the
Allocation page built. It round-trips through JSON with a schema version.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from numbers import Real
from typing import Any

import pandas as pd

from riskcore.assets import CASH, is_stablecoin
from riskcore.errors import DataError, ParameterError
from riskcore.rebalance import REBALANCE_MODES, CostModel

#: Allocation methods, one vocabulary for riskcore and the pages (labels derive from it).
METHODS: tuple[str, ...] = (
    "risk_budget",
    "cluster_risk_budget",
    "inverse_volatility",
    "hrp",
    "minimum_variance",
    "equal_weight",
)
#: Covariance estimators.
ESTIMATORS: tuple[str, ...] = ("sample", "ewma", "ledoit_wolf", "oas")
#: How returns of assets with different histories are aligned in the estimation window.
ALIGNMENTS: tuple[str, ...] = ("common", "pairwise")
#: Risk measures of risk budgeting: volatility (Euler contributions to sigma), historical or
#: Cornish-Fisher (modified) expected shortfall (:mod:`riskcore.tail_budget`).
RISK_MEASURES: tuple[str, ...] = ("volatility", "historical_es", "cornish_fisher_es")
#: The :data:`riskcore.tail_budget.TAIL_MEASURES` name of each expected-shortfall measure.
ES_MEASURES: dict[str, str] = {"historical_es": "historical",
                               "cornish_fisher_es": "cornish-fisher"}
#: Methods that take an expected-shortfall ``risk_measure`` (:mod:`riskcore.tail_budget`).
ES_METHODS: tuple[str, ...] = ("risk_budget", "cluster_risk_budget")
#: Stablecoin policies: inside the risk budget like any coin, or outside it (the sleeve).
STABLECOIN_POLICIES: tuple[str, ...] = ("include", "sleeve")
#: Calendar rebalancing frequencies: daily, weekly (Monday weeks), monthly, quarterly.
FREQUENCIES: tuple[str, ...] = ("D", "W", "M", "Q")
#: Band triggers (decimals): absolute band, relative band, risk-contribution band, volatility.
BAND_TRIGGERS: tuple[str, ...] = ("band", "relative_band", "risk_band", "volatility_band")
#: Options only some methods take (the shared ones: stablecoins, volatility target).
METHOD_OPTIONS: dict[str, tuple[str, ...]] = {
    "bounds": ("risk_budget", "minimum_variance"),
    "group_limits": ("risk_budget",),
    "n_clusters": ("cluster_risk_budget",),
    "clusters": ("cluster_risk_budget",),
    "cluster_budget": ("cluster_risk_budget",),
    "risk_budget": ("risk_budget",),
}
#: Version of the JSON layout written by :meth:`PortfolioSpec.to_json`.
SCHEMA_VERSION = 3
# schema 2 -> 3 added risk_measure and es_level (older specs load with the defaults)
# schema 1 (the simulator's RebalancePolicy vocabulary) -> schema 2 field names
_V1_RENAMES = {"budget": "risk_budget", "groups": "group_limits", "threshold": "band",
               "cash": "sleeve_asset"}


def _allowed(values) -> str:
    return ", ".join(repr(v) for v in values)


def _number(value: Any, name: str, *, low: float = 0.0, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise ParameterError(f"{name} is {value!r}; it must be a finite number")
    if value < low or (strict and value == low):
        sign = ">" if strict else ">="
        raise ParameterError(f"{name} is {value!r}; it must be {sign} {low:g}")
    return float(value)


def _pairs(value: Any, name: str) -> tuple[tuple[str, float], ...]:
    """Turn a mapping or pairs of name -> non-negative number into a tuple of pairs."""
    items = value.items() if isinstance(value, Mapping | pd.Series) else value
    out = []
    for key, number in items:
        out.append((str(key), _number(number, f"{name} of {key}")))
    names = [k for k, _ in out]
    if len(set(names)) != len(names):
        raise ParameterError(f"{name} names an asset or group twice: {names}")
    return tuple(out)


def _stamp(value: Any, name: str) -> pd.Timestamp | None:
    if value is None:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"{name} is {value!r}; it must be a date such as '2021-01-01'") \
            from exc
    return stamp.tz_localize("UTC") if stamp.tz is None else stamp.tz_convert("UTC")


@dataclass(frozen=True)
class PortfolioSpec:
    """Everything a portfolio decision depends on, validated on construction.

    Mappings given to the constructor (budgets, bounds, groups) are stored as tuples, so a
    spec is hashable, compares with ``==`` and can key a cache.

    Parameters
    ----------
    start : timestamp or str, optional
        Window start: the simulator's first trade is on the first date >= ``start``
        (estimates may use earlier prices). Default: the first date of the prices.
    as_of : timestamp or str, optional
        Decision date: :func:`~riskcore.portfolio.build_portfolio` uses prices up to it;
        the simulator ends there. Default: the last date of the prices.
    assets : tuple of str, optional
        Universe (price columns); default every column. At each date, only the assets with a
        real price that day and ``lookback`` valid returns ending there are allocated (the
        others get weight 0 and a note names them).
    estimator : {"sample", "ewma", "ledoit_wolf", "oas"}, default "sample"
        Covariance estimator (:func:`riskcore.estimators.estimate_covariance`).
    lookback : int, default 365
        Returns in the estimation window (periods, >= 2).
    half_life : float, optional
        EWMA half-life in periods (> 0); default ``lookback / 4``. Used by ``"ewma"`` only.
    alignment : {"common", "pairwise"}, default "common"
        Common window, or pairwise-complete estimation (``"sample"`` only).
    volatility_floor : float, optional
        Annualized volatility floor (decimal, 0.05 = 5%); None or 0 for none.
    method : str, default "risk_budget"
        One of :data:`METHODS`.
    risk_budget : mapping of asset -> float, optional
        Risk budgets (>= 0, normalized over the allocated assets; missing assets get 0);
        ``"risk_budget"`` only. None: equal budgets (equal risk contribution).
    bounds : mapping of asset -> (minimum, maximum), optional
        Weight bounds (decimals in [0, 1]); ``"risk_budget"`` and ``"minimum_variance"``.
    group_limits : sequence of (name, members, minimum, maximum), optional
        Limits on a group's total weight; ``"risk_budget"`` only.
    n_clusters : int, optional
        Correlation clusters of ``"cluster_risk_budget"`` (>= 1).
    clusters : mapping of group -> members, optional
        User groups of ``"cluster_risk_budget"`` instead of correlation clusters.
    cluster_budget : mapping of group -> float, optional
        Risk budget per group of ``"cluster_risk_budget"`` (>= 0; default equal).
    risk_measure : {"volatility", "historical_es", "cornish_fisher_es"}, default "volatility"
        What ``"risk_budget"`` and ``"cluster_risk_budget"`` budget (:data:`ES_METHODS`):
        volatility, or expected shortfall at ``es_level`` on the window's returns
        (historical, or Cornish-Fisher modified ES), solved by
        :func:`riskcore.tail_budget.tail_risk_budget_weights` (with the method's ``bounds``
        and ``group_limits``: constrained risk budgeting on ES) and
        :func:`riskcore.tail_budget.tail_cluster_risk_budget_weights`.
    es_level : float, default 0.95
        Confidence level of the expected shortfall (strictly between 0 and 1); used by the
        ES measures only (another value with ``"volatility"`` is refused).
    stablecoins : {"include", "sleeve"}, default "include"
        Stablecoins (:func:`riskcore.assets.is_stablecoin`) inside the risk budget, or
        outside it as the sleeve.
    target_volatility : float, optional
        Annualized volatility (decimal, > 0) to scale the portfolio to.
    max_leverage : float, default 1.0
        Largest scale of the risky weights under the volatility target (> 0).
    sleeve_asset : str, default "cash"
        Sleeve asset of the volatility target (where the remainder goes): riskless
        ``"cash"`` or a stablecoin column.
    frequency : {"D", "W", "M", "Q"}, optional
        Calendar rebalancing trigger.
    band, relative_band, risk_band, volatility_band : float, optional
        Band triggers (decimals, >= 0; see :class:`riskcore.backtest.RebalancePolicy`).
    mode : {"to_target", "to_band", "breached_only"}, default "to_target"
        What a band breach trades.
    costs : CostModel, default CostModel()
        Trading costs (decimals) and how missing volume is treated.

    Raises
    ------
    RiskcoreError
        For an unknown name (the allowed values are listed), a negative or non-finite
        number, an option the method does not take (``risk_budget``, ``bounds``,
        ``group_limits``, cluster options), ``pairwise`` with another estimator than
        ``"sample"``, a bound outside [0, 1] or a minimum above its maximum, a stablecoin
        ``sleeve_asset`` without a volatility target, an ES ``risk_measure`` with a method
        outside :data:`ES_METHODS`, or an ``es_level`` outside (0, 1).

    References
    ----------
    Roncalli (2013), *Introduction to Risk Parity and Budgeting*, Chapman & Hall/CRC;
    Moreira & Muir (2017), "Volatility-managed portfolios", Journal of Finance 72(4).
    """

    start: pd.Timestamp | None = None
    as_of: pd.Timestamp | None = None
    assets: tuple[str, ...] | None = None
    estimator: str = "sample"
    lookback: int = 365
    half_life: float | None = None
    alignment: str = "common"
    volatility_floor: float | None = None
    method: str = "risk_budget"
    risk_budget: tuple[tuple[str, float], ...] | None = None
    bounds: tuple[tuple[str, float, float], ...] = ()
    group_limits: tuple[tuple[str, tuple[str, ...], float, float], ...] = ()
    n_clusters: int | None = None
    clusters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    cluster_budget: tuple[tuple[str, float], ...] = ()
    risk_measure: str = "volatility"
    es_level: float = 0.95
    stablecoins: str = "include"
    target_volatility: float | None = None
    max_leverage: float = 1.0
    sleeve_asset: str = CASH
    frequency: str | None = None
    band: float | None = None
    relative_band: float | None = None
    risk_band: float | None = None
    volatility_band: float | None = None
    mode: str = "to_target"
    costs: CostModel = field(default_factory=CostModel)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "start", _stamp(self.start, "start"))
        put(self, "as_of", _stamp(self.as_of, "as_of"))
        if self.start is not None and self.as_of is not None and self.start >= self.as_of:
            raise ParameterError(f"start {self.start:%Y-%m-%d} is not before as_of "
                                f"{self.as_of:%Y-%m-%d}; the window needs at least 2 dates")
        if self.assets is not None:
            put(self, "assets", tuple(str(a) for a in self.assets))
            if len(set(self.assets)) != len(self.assets) or not self.assets:
                raise ParameterError(f"assets {list(self.assets)} must name distinct assets")
        self._check_choice("estimator", ESTIMATORS)
        self._check_choice("alignment", ALIGNMENTS)
        self._check_choice("method", METHODS)
        self._check_choice("stablecoins", STABLECOIN_POLICIES)
        if self.frequency is not None:
            self._check_choice("frequency", FREQUENCIES)
        self._check_choice("mode", REBALANCE_MODES)
        if isinstance(self.lookback, bool) or int(self.lookback) != self.lookback \
                or self.lookback < 2:
            raise ParameterError(f"lookback is {self.lookback!r}; it must be an integer >= 2")
        put(self, "lookback", int(self.lookback))
        if self.half_life is not None:
            put(self, "half_life", _number(self.half_life, "half_life", strict=True))
        if self.alignment == "pairwise" and self.estimator != "sample":
            raise ParameterError(f"alignment 'pairwise' works with the 'sample' estimator only, "
                                f"not {self.estimator!r}")
        if self.volatility_floor is not None:
            put(self, "volatility_floor", _number(self.volatility_floor, "volatility_floor")
                or None)
        self._check_method_options()
        self._check_risk_measure()
        if self.target_volatility is not None:
            put(self, "target_volatility",
                _number(self.target_volatility, "target_volatility", strict=True))
        put(self, "max_leverage", _number(self.max_leverage, "max_leverage", strict=True))
        if not isinstance(self.sleeve_asset, str) or (
                self.sleeve_asset != CASH and not is_stablecoin(self.sleeve_asset)):
            raise ParameterError(f"sleeve_asset is {self.sleeve_asset!r}; allowed: 'cash' "
                                 "(riskless) or a stablecoin column such as 'USDT-USD'")
        if self.sleeve_asset != CASH and self.target_volatility is None:
            raise ParameterError(f"sleeve_asset {self.sleeve_asset!r} holds the remainder of a "
                                 "volatility target; set target_volatility or leave "
                                 "sleeve_asset='cash'")
        for name in BAND_TRIGGERS:
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, Real) or not value >= 0:
                    raise ParameterError(f"{name} is {value!r}; it must be >= 0 "
                                        "(decimal; numpy.inf = never)")
                put(self, name, float(value))
        if not isinstance(self.costs, CostModel):
            raise ParameterError(f"costs is {type(self.costs).__name__}; it must be a CostModel")

    def _check_choice(self, name: str, allowed) -> None:
        value = getattr(self, name)
        if value not in allowed:
            raise ParameterError(f"{name} {value!r} is unknown; allowed: {_allowed(allowed)}")

    def _check_method_options(self) -> None:
        put = object.__setattr__
        if self.risk_budget is not None:
            budget = _pairs(self.risk_budget, "risk budget")
            if not sum(b for _, b in budget) > 0:
                raise ParameterError("risk budgets sum to 0; give at least one positive budget")
            put(self, "risk_budget", budget)
        bounds = self.bounds.items() if isinstance(self.bounds, Mapping) else self.bounds
        clean = []
        for item in bounds:
            asset, (low, high) = (item[0], item[1]) if len(item) == 2 else (item[0], item[1:])
            low = _number(low, f"minimum weight of {asset}")
            high = _number(high, f"maximum weight of {asset}")
            if high > 1 or low > high:
                raise ParameterError(f"bounds of {asset} are ({low:g}, {high:g}); they must "
                                    "satisfy 0 <= minimum <= maximum <= 1")
            clean.append((str(asset), low, high))
        put(self, "bounds", tuple(clean))
        groups = []
        for name, members, low, high in self.group_limits:
            low = _number(low, f"minimum weight of group {name}")
            high = _number(high, f"maximum weight of group {name}")
            if high > 1 or low > high:
                raise ParameterError(f"limits of group {name} are ({low:g}, {high:g}); they "
                                    "must satisfy 0 <= minimum <= maximum <= 1")
            groups.append((str(name), tuple(str(m) for m in members), low, high))
        put(self, "group_limits", tuple(groups))
        clusters = self.clusters.items() if isinstance(self.clusters, Mapping) else self.clusters
        put(self, "clusters", tuple((str(g), tuple(str(m) for m in ms)) for g, ms in clusters))
        put(self, "cluster_budget", _pairs(self.cluster_budget, "cluster budget"))
        if self.n_clusters is not None:
            if isinstance(self.n_clusters, bool) or int(self.n_clusters) != self.n_clusters \
                    or self.n_clusters < 1:
                raise ParameterError(f"n_clusters is {self.n_clusters!r}; it must be an "
                                    "integer >= 1")
            put(self, "n_clusters", int(self.n_clusters))
        for option, methods in METHOD_OPTIONS.items():
            value = getattr(self, option)
            if value not in (None, ()) and self.method not in methods:
                raise ParameterError(f"{option} is an option of {_allowed(methods)}, not of "
                                    f"method {self.method!r}")

    def _check_risk_measure(self) -> None:
        self._check_choice("risk_measure", RISK_MEASURES)
        level = self.es_level
        if isinstance(level, bool) or not isinstance(level, Real) or not 0 < level < 1:
            raise ParameterError(f"es_level is {level!r}; it must lie strictly between 0 and 1 "
                                 "(0.95 = the worst 5% of periods)")
        object.__setattr__(self, "es_level", float(level))
        if self.risk_measure == "volatility":
            if self.es_level != 0.95:
                raise ParameterError(f"es_level {self.es_level:g} is used by the expected-"
                                     "shortfall risk measures only; set risk_measure to "
                                     "'historical_es' or 'cornish_fisher_es'")
            return
        if self.method not in ES_METHODS:
            raise ParameterError(f"risk_measure {self.risk_measure!r} is an option of "
                                 f"{_allowed(ES_METHODS)}, not of method {self.method!r}")

    @property
    def es_measure(self) -> str | None:
        """The :mod:`riskcore.tail_budget` measure name, or None when budgeting volatility."""
        return ES_MEASURES.get(self.risk_measure)

    # -- views used by the engine ---------------------------------------------------------

    @property
    def half_life_periods(self) -> float:
        """EWMA half-life in periods: ``half_life`` or ``lookback / 4``."""
        return self.half_life if self.half_life is not None else self.lookback / 4.0

    @property
    def has_trigger(self) -> bool:
        """Whether any rebalancing trigger is set (otherwise buy at the start and hold)."""
        return self.frequency is not None or any(
            getattr(self, name) is not None for name in BAND_TRIGGERS)

    def allocation_options(self) -> dict[str, Any]:
        """Keyword options of :func:`riskcore.portfolio.allocate_portfolio` for this spec."""
        options: dict[str, Any] = {"method": self.method, "stablecoins": self.stablecoins,
                                   "target_volatility": self.target_volatility,
                                   "max_leverage": self.max_leverage, "cash": self.sleeve_asset}
        if self.risk_budget is not None:
            options["budget"] = dict(self.risk_budget)
        if self.bounds:
            options["bounds"] = {a: (lo, hi) for a, lo, hi in self.bounds}
        if self.group_limits:
            options["group_limits"] = [(list(m), lo, hi) for _, m, lo, hi in self.group_limits]
            options["group_names"] = [name for name, *_ in self.group_limits]
        if self.method == "cluster_risk_budget":
            options["n_clusters"] = self.n_clusters
            if self.clusters:
                options["clusters"] = {g: list(m) for g, m in self.clusters}
            if self.cluster_budget:
                options["cluster_budget"] = dict(self.cluster_budget)
        return options

    # -- JSON -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (dates as ISO strings, costs as a dict), with the schema."""
        out: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, pd.Timestamp):
                value = value.isoformat()
            elif isinstance(value, CostModel):
                value = {c.name: getattr(value, c.name) for c in fields(value)}
            elif isinstance(value, float) and math.isinf(value):
                value = "inf"
            out[f.name] = value
        return out

    def to_json(self) -> str:
        """Serialize to JSON (see :meth:`from_json`)."""
        return json.dumps(self.to_dict(), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PortfolioSpec:
        """Read a spec written by :meth:`to_json`, this version or an older one.

        Schema 1 (the simulator's old vocabulary) loads with its fields renamed:
        ``budget`` -> ``risk_budget``, ``groups`` -> ``group_limits``, ``threshold`` ->
        ``band``, ``cash`` -> ``sleeve_asset``. Schemas 1 and 2 have no ``risk_measure``
        nor ``es_level``: they load with the defaults (volatility budgeting).

        Raises
        ------
        DataError
            If the text is not JSON of an object, its ``schema_version`` is missing, newer
            than :data:`SCHEMA_VERSION` or unknown, or it names an unknown field.
        RiskcoreError
            If a value is invalid (as the constructor).
        """
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise DataError(f"portfolio specification is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise DataError("portfolio specification must be a JSON object")
        version = data.pop("schema_version", None)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise DataError(f"schema_version is {version!r}; a portfolio specification "
                            f"needs an integer version from 1 to {SCHEMA_VERSION}")
        if version > SCHEMA_VERSION:
            raise DataError(f"this specification has schema_version {version}, written by a "
                            f"newer riskcore; this one reads versions 1 to {SCHEMA_VERSION}")
        if version == 1:
            data = {_V1_RENAMES.get(k, k): v for k, v in data.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise DataError(f"unknown field {unknown[0]!r} in a schema {version} specification;"
                            f" allowed: {', '.join(sorted(known))}")
        if isinstance(data.get("costs"), dict):
            data["costs"] = CostModel(**data["costs"])
        for name in BAND_TRIGGERS:
            if data.get(name) == "inf":
                data[name] = math.inf
        if data.get("group_limits"):
            data["group_limits"] = tuple((n, tuple(m), lo, hi)
                                         for n, m, lo, hi in data["group_limits"])
        for name in ("risk_budget", "cluster_budget", "bounds", "clusters"):
            value = data.get(name)
            if isinstance(value, list):
                data[name] = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        if data.get("assets") is not None:
            data["assets"] = tuple(data["assets"])
        return cls(**data)
