"""Parameter sweeps: one walk-forward backtest per point of a grid over specification fields.

A sweep answers "what if the band, the lookback, the estimator or the costs were different?"
for many combinations at once. It is three steps, each a function:

1. :func:`sweep_grid` expands a base :class:`~riskcore.spec.PortfolioSpec` and a grid
   (field -> values) into the cartesian product of specifications, in grid order;
2. :func:`run_sweep` runs :func:`riskcore.backtest.run_backtest` on each of them (the one
   engine: a row of the sweep is exactly what the simulator page shows for that spec),
   serially, on the local cores (joblib's loky process pool) or on an existing Dask cluster,
   and returns one row per specification: the fields that vary, the specification's JSON
   (the key) and the backtest metrics, or the error a specification raised;
3. :func:`write_results` / :func:`read_results` store that table as one Parquet file.

``python -m riskcore sweep`` (:func:`main`) runs the three from the command line.

Grid fields
-----------
Every field of :class:`~riskcore.spec.PortfolioSpec` except ``costs`` (``band``,
``lookback``, ``estimator``, ``method``, ``frequency``, ``half_life``, ``target_volatility``
...), and two ways to vary the trading costs:

- ``costs.<name>`` sets one field of the :class:`~riskcore.rebalance.CostModel`
  (``costs.fee``, ``costs.half_spread``, ``costs.impact``, ``costs.min_trade``,
  ``costs.max_participation``, ``costs.missing_volume``), in its own unit (decimals of the
  traded value, USD for ``min_trade``);
- ``cost_scale`` (a number >= 0) multiplies the fee, half-spread and impact of the point's
  cost model (the base spec's, after any ``costs.<name>`` of the same point): ``0`` is free
  trading, ``1`` the base costs, ``2`` twice them. It is not a spec field: the table shows the
  resulting ``costs.fee``, ``costs.half_spread`` and ``costs.impact``.

Every run is deterministic, so the serial, process and Dask backends give identical tables
(tested with exact equality).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from riskcore.errors import DataError, ParameterError, RiskcoreError
from riskcore.metrics import PortfolioMetrics
from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec

#: Where :func:`run_sweep` runs the backtests.
BACKENDS: tuple[str, ...] = ("serial", "processes", "dask")
#: Grid field that multiplies the fee, half-spread and impact of a point's cost model.
COST_SCALE = "cost_scale"
#: Fields of :class:`~riskcore.rebalance.CostModel` a grid can set as ``costs.<name>``.
COST_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(CostModel))
#: Spec fields a grid can set directly (every field but the cost model).
SPEC_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(PortfolioSpec) if f.name != "costs")
#: Every grid field name, in the order the table shows the varied ones.
GRID_FIELDS: tuple[str, ...] = (SPEC_FIELDS + tuple(f"costs.{c}" for c in COST_FIELDS)
                                + (COST_SCALE,))
#: Metric columns of a sweep table: :class:`~riskcore.metrics.PortfolioMetrics` fields, in
#: their order, and the final equity (USD), as :func:`riskcore.backtest.threshold_sweep`.
METRIC_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(PortfolioMetrics)) + (
    "final_equity",)
#: Key column of a sweep table: the specification's :meth:`~riskcore.spec.PortfolioSpec.to_json`.
KEY = "spec"
#: Error column: ``"<error class>: <message>"`` for a spec whose backtest raised, else missing.
ERROR = "error"
#: Largest number of grid points :func:`sweep_grid` expands by default.
MAX_POINTS = 100_000
_DATES = ("max_drawdown_peak", "max_drawdown_trough", "max_drawdown_recovery")
_SCALED = ("fee", "half_spread", "impact")
_PARQUET_TAG = b"riskcore.sweep"
_FORMAT = 1  # layout version of the Parquet table written by write_results


def _allowed(values: Sequence[str]) -> str:
    return ", ".join(repr(v) for v in values)


# ----------------------------------------------------------------------------- the grid
def sweep_grid(base: PortfolioSpec, grid: Mapping[str, Sequence[Any]], *,
               max_points: int = MAX_POINTS) -> list[PortfolioSpec]:
    """Expand a base specification and a grid of field values into their cartesian product.

    Parameters
    ----------
    base : PortfolioSpec
        What every grid point starts from (the fields the grid does not name).
    grid : mapping of str to sequence
        Field name -> the values it takes, in the order wanted. Names: a field of
        :class:`~riskcore.spec.PortfolioSpec` other than ``costs`` (``"band"``,
        ``"lookback"``, ``"estimator"`` ...), ``"costs.<name>"`` for a field of
        :class:`~riskcore.rebalance.CostModel` (decimals of the traded value, USD for
        ``min_trade``), or ``"cost_scale"``, a multiplier (>= 0) of the point's fee,
        half-spread and impact (see the module notes). An empty grid gives the base alone.
    max_points : int, default 100,000
        Largest number of points accepted (a guard against a typo that multiplies the grid).

    Returns
    -------
    list of PortfolioSpec
        ``prod(len(values))`` specifications in grid order: :func:`itertools.product` over
        the fields in the mapping's order, the last field varying fastest
        (``{"band": [a, b], "lookback": [1, 2]}`` gives ``(a, 1), (a, 2), (b, 1), (b, 2)``).

    Raises
    ------
    ParameterError
        If ``base`` is not a PortfolioSpec, a field is unknown (the allowed names are
        listed), its values are not a non-empty sequence or repeat a value, the grid has more
        than ``max_points`` points, a ``cost_scale`` is not a finite number >= 0, a point
        is not a valid specification (the message names the point's field values and what
        the specification refused), or two points give the same specification.
    """
    if not isinstance(base, PortfolioSpec):
        raise ParameterError(f"the base of a sweep is {type(base).__name__}; it must be a "
                             "PortfolioSpec")
    if not isinstance(grid, Mapping):
        raise ParameterError(f"the grid is {type(grid).__name__}; it must map field names to "
                             "sequences of values")
    names = list(grid)
    for name in names:
        if name not in GRID_FIELDS:
            raise ParameterError(f"grid field {name!r} is unknown; allowed: "
                                 f"{_allowed(GRID_FIELDS)}")
        values = grid[name]
        if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
            raise ParameterError(f"grid field {name!r} has {values!r}; give a list of values "
                                 "such as [0.02, 0.05]")
        if len(values) == 0:
            raise ParameterError(f"grid field {name!r} has no value; give at least one")
        for i, value in enumerate(values):
            if any(_same(value, earlier) for earlier in values[:i]):
                raise ParameterError(f"grid field {name!r} lists {value!r} twice")
            if name == COST_SCALE and (isinstance(value, bool) or not isinstance(value, int | float)
                                       or not math.isfinite(value) or value < 0):
                raise ParameterError(f"grid field 'cost_scale' has {value!r}; it must be a "
                                     "finite number >= 0 (1 = the base costs)")
    size = math.prod(len(grid[n]) for n in names)
    if size > max_points:
        raise ParameterError(f"the grid has {size:,} points ("
                             + " x ".join(f"{len(grid[n])} {n}" for n in names)
                             + f"); at most {max_points:,} are allowed")
    specs: list[PortfolioSpec] = []
    seen: dict[PortfolioSpec, int] = {}
    for k, values in enumerate(itertools.product(*(grid[n] for n in names))):
        point = dict(zip(names, values, strict=True))
        try:
            spec = _apply(base, point)
        except RiskcoreError as exc:
            raise ParameterError(f"grid point {k} ({_describe(point)}) is not a valid "
                                 f"specification: {exc}") from exc
        if spec in seen:
            j = seen[spec]
            hint = (" (cost_scale multiplies fee, half-spread and impact: a scale of 0, or "
                    "costs of 0, are the same whatever the other cost values)"
                    if COST_SCALE in point else "")
            raise ParameterError(f"grid points {j} and {k} ({_describe(point)}) give the same "
                                 f"specification{hint}; remove one of the values")
        seen[spec] = k
        specs.append(spec)
    return specs


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # e.g. arrays of different shapes
        return False


def _describe(point: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in point.items())


def _apply(base: PortfolioSpec, point: Mapping[str, Any]) -> PortfolioSpec:
    """One grid point: the base with the point's spec fields, cost fields and cost scale."""
    spec_values = {k: v for k, v in point.items() if k in SPEC_FIELDS}
    cost_values = {k.removeprefix("costs."): v for k, v in point.items()
                   if k.startswith("costs.")}
    costs = base.costs
    if cost_values:
        costs = replace(costs, **cost_values)
    if COST_SCALE in point:
        scale = float(point[COST_SCALE])
        costs = replace(costs, **{c: getattr(costs, c) * scale for c in _SCALED})
    if costs is not base.costs:
        spec_values["costs"] = costs
    return replace(base, **spec_values) if spec_values else base


def parse_grid_option(text: str) -> tuple[str, list[Any]]:
    """Read one ``FIELD=V1,V2,...`` grid option of the command line.

    Values are read as ``none``/``null`` -> None, ``inf`` -> infinity, an integer, a
    decimal number, or else the text itself (``sample``, ``M``, ``2021-01-01``).

    Parameters
    ----------
    text : str
        For example ``"band=0.02,0.05,0.1"``, ``"estimator=sample,ewma"``,
        ``"costs.fee=0,0.001"``.

    Returns
    -------
    tuple of (str, list)
        The field name and its values (checked by :func:`sweep_grid`).

    Raises
    ------
    ParameterError
        If there is no ``=``, no field name, or an empty value.
    """
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise ParameterError(f"grid option {text!r} must look like FIELD=V1,V2 "
                             "(e.g. band=0.02,0.05)")
    parts = [p.strip() for p in raw.split(",")]
    if not raw.strip() or any(not p for p in parts):
        raise ParameterError(f"grid option {text!r} has an empty value; separate values by "
                             "single commas (e.g. band=0.02,0.05)")
    return name, [_literal(p) for p in parts]


_INT = re.compile(r"[+-]?\d+")


def _literal(text: str) -> Any:
    low = text.lower()
    if low in ("none", "null"):
        return None
    if low in ("inf", "+inf", "infinity"):
        return math.inf
    if _INT.fullmatch(text):
        return int(text)
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


# ----------------------------------------------------------------------------- running
@dataclass(frozen=True, eq=False)
class _SweepData:
    """What every run of a sweep shares (shipped once to each worker)."""

    prices: pd.DataFrame
    volume: pd.DataFrame | None
    tradable: pd.DataFrame | None
    initial_value: float


def _run_one(data: _SweepData, spec: PortfolioSpec) -> dict[str, Any]:
    """Backtest one spec: its metrics, or the riskcore error it raised (bugs propagate)."""
    from riskcore.backtest import run_backtest

    try:
        result = run_backtest(data.prices, spec, volume=data.volume, tradable=data.tradable,
                              initial_value=data.initial_value)
    except RiskcoreError as exc:
        return {ERROR: f"{type(exc).__name__}: {exc}"}
    out = asdict(result.metrics)
    out["final_equity"] = float(result.equity.iloc[-1])
    return out


def _run_chunk(data: _SweepData, specs: Sequence[PortfolioSpec]) -> list[dict[str, Any]]:
    return [_run_one(data, spec) for spec in specs]


def run_sweep(
    prices: pd.DataFrame,
    specs: Sequence[PortfolioSpec],
    *,
    backend: str = "processes",
    n_jobs: int | None = None,
    scheduler: Any = None,
    volume: pd.DataFrame | None = None,
    tradable: pd.DataFrame | None = None,
    initial_value: float = 10_000.0,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Backtest every specification on the same data; one row per specification.

    Each row is :func:`riskcore.backtest.run_backtest` of its spec (the simulator page's
    engine), so a row equals the page's numbers for that spec.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_dates, n_assets)
        Price panel (USD per unit, NaN where missing), as for ``run_backtest``: each spec
        selects its assets and window from it.
    specs : sequence of PortfolioSpec
        The specifications, e.g. from :func:`sweep_grid`; distinct.
    backend : {"serial", "processes", "dask"}, default "processes"
        ``"serial"``: one after the other in this process. ``"processes"``: joblib's loky
        process pool on the local cores; the specs go in contiguous chunks (four per
        worker), so the prices are pickled once per chunk, not once per spec. ``"dask"``:
        an existing Dask cluster (``scheduler``); the prices are scattered to every worker
        once (``Client.scatter(..., broadcast=True)``) and each spec is one task. The
        workers must run the same riskcore and package versions as this process.
    n_jobs : int, optional
        Worker processes of ``"processes"`` (default: every local core, joblib's
        ``cpu_count()``; -1 means the same). Not used by the other backends (the cluster's
        workers set the parallelism of ``"dask"``).
    scheduler : str or dask.distributed.Client, optional
        ``"dask"`` only, required there: the scheduler address (``"tcp://host:8786"``) or a
        connected client. A client given here is left open; one made from an address is
        closed before returning. Connecting waits at most Dask's
        ``distributed.comm.timeouts.connect`` (30 s by default).
    volume : pandas.DataFrame of shape (n_dates, n_assets), optional
        Daily traded volume in USD (market impact), as for ``run_backtest``.
    tradable : pandas.DataFrame of bool, optional
        True where a price is real, as for ``run_backtest``.
    initial_value : float, default 10,000
        Cash in USD at the start of every run.
    progress : callable, optional
        Called as ``progress(done, total)`` as runs finish (in this process).

    Returns
    -------
    pandas.DataFrame
        One row per spec, in the order given (index ``point``, 0 .. n-1). Columns: the spec
        fields that differ between the specs (costs as ``costs.<name>``; tuples as JSON
        text), ``spec`` (the spec's :meth:`~riskcore.spec.PortfolioSpec.to_json`, the key),
        ``error`` (``"<error class>: <message>"`` when the spec's backtest raised a
        :class:`~riskcore.errors.RiskcoreError`, else missing; its metrics are then NaN),
        and :data:`METRIC_COLUMNS`: the :class:`~riskcore.metrics.PortfolioMetrics` fields
        (``annualized_return``, ``annualized_volatility``, ``sharpe_ratio``,
        ``max_drawdown``, ``turnover``, ``costs_paid``, ``n_rebalances``,
        ``risk_balance_error`` ...) and ``final_equity`` (USD).

    Raises
    ------
    ParameterError
        If ``specs`` is empty, holds something else than a PortfolioSpec or the same spec
        twice, ``backend`` is unknown (the allowed values are listed), ``n_jobs`` is not a
        positive integer or -1, ``"dask"`` is asked without ``scheduler`` or without
        dask.distributed installed, or the scheduler cannot be reached.
    DataError
        If ``prices`` is not a DataFrame indexed by date.

    Notes
    -----
    A spec whose backtest raises a ``RiskcoreError`` (bad data for its assets, an infeasible
    budget, a solver that does not converge) gives a row with ``error`` and never stops the
    sweep; any other exception is a bug and propagates.
    """
    if not isinstance(prices, pd.DataFrame) or not isinstance(prices.index, pd.DatetimeIndex):
        raise DataError("prices must be a DataFrame with a DatetimeIndex (a price panel)")
    specs = list(specs)
    if not specs:
        raise ParameterError("there is no specification to run; give at least one")
    seen: dict[PortfolioSpec, int] = {}
    for k, spec in enumerate(specs):
        if not isinstance(spec, PortfolioSpec):
            raise ParameterError(f"spec {k} is {type(spec).__name__}; every spec must be a "
                                 "PortfolioSpec")
        if spec in seen:
            raise ParameterError(f"specs {seen[spec]} and {k} are the same specification; "
                                 "a sweep table is keyed by the specification")
        seen[spec] = k
    if backend not in BACKENDS:
        raise ParameterError(f"backend {backend!r} is unknown; allowed: {_allowed(BACKENDS)}")
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, int)
                               or not (n_jobs >= 1 or n_jobs == -1)):
        raise ParameterError(f"n_jobs is {n_jobs!r}; it must be an integer >= 1 (or -1 for "
                             "every local core)")
    if backend != "dask" and scheduler is not None:
        raise ParameterError(f"a scheduler is used by backend 'dask' only, not {backend!r}")
    if not (isinstance(initial_value, int | float) and not isinstance(initial_value, bool)
            and math.isfinite(initial_value) and initial_value > 0):
        raise ParameterError(f"initial_value is {initial_value!r}; it must be > 0 USD")
    data = _SweepData(prices, volume, tradable, float(initial_value))
    report = progress or (lambda done, total: None)
    if backend == "serial":
        results = []
        for k, spec in enumerate(specs):
            results.append(_run_one(data, spec))
            report(k + 1, len(specs))
    elif backend == "processes":
        results = _run_processes(data, specs, n_jobs, report)
    else:
        results = _run_dask(data, specs, scheduler, report)
    return _table(specs, results)


def _run_processes(data: _SweepData, specs: list[PortfolioSpec], n_jobs: int | None,
                   report: Callable[[int, int], None]) -> list[dict[str, Any]]:
    from joblib import Parallel, cpu_count, delayed

    workers = cpu_count() if n_jobs in (None, -1) else n_jobs
    n_chunks = min(len(specs), 4 * workers)
    bounds = np.linspace(0, len(specs), n_chunks + 1).round().astype(int)
    chunks = [(int(lo), specs[lo:hi]) for lo, hi in itertools.pairwise(bounds)]
    results: list[dict[str, Any] | None] = [None] * len(specs)
    done = 0
    parallel = Parallel(n_jobs=workers, backend="loky", return_as="generator_unordered")
    tasks = (delayed(_run_start)(data, lo, chunk) for lo, chunk in chunks)
    for lo, rows in parallel(tasks):
        results[lo:lo + len(rows)] = rows
        done += len(rows)
        report(done, len(specs))
    return results  # type: ignore[return-value]


def _run_start(data: _SweepData, lo: int, specs: Sequence[PortfolioSpec]
               ) -> tuple[int, list[dict[str, Any]]]:
    return lo, _run_chunk(data, specs)


def _run_dask(data: _SweepData, specs: list[PortfolioSpec], scheduler: Any,
              report: Callable[[int, int], None]) -> list[dict[str, Any]]:
    if scheduler is None:
        raise ParameterError("backend 'dask' needs the scheduler address of a running Dask "
                             "cluster (scheduler='tcp://host:8786')")
    try:
        from dask.distributed import Client, as_completed
    except ImportError as exc:
        raise ParameterError("backend 'dask' needs dask.distributed: pip install "
                             "'dask[distributed]' (see requirements.txt)") from exc
    own = not isinstance(scheduler, Client)
    if own:
        try:
            client = Client(scheduler, set_as_default=False)  # dask config connect timeout
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ParameterError(f"cannot connect to the Dask scheduler at {scheduler!r}: "
                                 f"{exc}") from exc
    else:
        client = scheduler
    try:
        [shared] = client.scatter([data], broadcast=True, hash=False)
        futures = client.map(_run_one, [shared] * len(specs), specs, pure=False)
        position = {f.key: k for k, f in enumerate(futures)}
        results: list[dict[str, Any] | None] = [None] * len(specs)
        try:
            for done, future in enumerate(as_completed(futures, loop=client.loop), start=1):
                results[position[future.key]] = future.result()
                report(done, len(specs))
        finally:
            client.cancel(futures)
            client.cancel(shared)
        return results  # type: ignore[return-value]
    finally:
        if own:
            client.close()


def _table(specs: list[PortfolioSpec], results: list[dict[str, Any]]) -> pd.DataFrame:
    """Build the sweep table: varied fields, key, error and metrics with fixed dtypes."""
    flat = [_flat(spec) for spec in specs]
    varied = [name for name in GRID_FIELDS
              if name in flat[0] and any(f[name] != flat[0][name] for f in flat[1:])]
    columns: dict[str, Any] = {}
    for name in varied:
        column = pd.Series([f[name] for f in flat])
        if isinstance(column.dtype, pd.DatetimeTZDtype):
            column = column.astype("datetime64[ns, UTC]")
        columns[name] = column
    columns[KEY] = pd.Series([spec.to_json() for spec in specs], dtype="str")
    columns[ERROR] = pd.Series([r.get(ERROR) for r in results], dtype="str")
    for name in METRIC_COLUMNS:
        values = [r.get(name) for r in results]
        if name in _DATES:
            column = pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[ns, UTC]")
        elif name == "n_rebalances":
            column = pd.Series(values, dtype="Int64")
        else:
            column = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        columns[name] = column
    frame = pd.DataFrame(columns)
    frame.index = pd.RangeIndex(len(specs), name="point")
    return frame


def _flat(spec: PortfolioSpec) -> dict[str, Any]:
    """Grid-field view of a spec: scalar values, costs as ``costs.<name>``."""
    out: dict[str, Any] = {}
    for name in SPEC_FIELDS:
        value = getattr(spec, name)
        if isinstance(value, tuple):  # assets, budgets, bounds...: JSON text in the table
            value = json.dumps(value)
        out[name] = value
    for name in COST_FIELDS:
        out[f"costs.{name}"] = getattr(spec.costs, name)
    return out


# ----------------------------------------------------------------------------- Parquet
def write_results(results: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a sweep table to one Parquet file (pyarrow), keyed by the specification JSON.

    The file is written next to its destination and renamed into place, so a reader never
    sees half a table.

    Parameters
    ----------
    results : pandas.DataFrame
        A table of :func:`run_sweep` (a ``spec`` column with distinct values).
    path : str or path-like
        Destination file (``.parquet``); replaced if it exists.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    DataError
        If the table has no ``spec`` column or repeats a spec, or the file cannot be written
        (the message names the path and the reason).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not isinstance(results, pd.DataFrame) or KEY not in results.columns:
        raise DataError("a sweep table needs a 'spec' column (the table of run_sweep)")
    if results[KEY].duplicated().any():
        raise DataError("the sweep table repeats a specification; its 'spec' column is the key")
    target = Path(path)
    table = pa.Table.from_pandas(results, preserve_index=True)
    meta = dict(table.schema.metadata or {})
    meta[_PARQUET_TAG] = json.dumps({"format": _FORMAT, "key": KEY}).encode()
    table = table.replace_schema_metadata(meta)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        pq.write_table(table, partial)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise DataError(f"cannot write the sweep table to {target}: {exc.strerror or exc}") \
            from exc
    return target


def read_results(path: str | os.PathLike) -> pd.DataFrame:
    """Read a sweep table written by :func:`write_results` (for a page to plot).

    Parameters
    ----------
    path : str or path-like
        The Parquet file.

    Returns
    -------
    pandas.DataFrame
        The table as written: index ``point``, the varied fields, ``spec`` (read a row's
        specification back with :meth:`PortfolioSpec.from_json`), ``error`` and the metric
        columns.

    Raises
    ------
    DataError
        If the file cannot be read, is not Parquet, or is not a riskcore sweep table (newer
        layout versions included).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise DataError(f"cannot read a sweep table from {path}: {exc}") from exc
    raw = (table.schema.metadata or {}).get(_PARQUET_TAG)
    try:
        info = json.loads(raw) if raw else None
    except ValueError:
        info = None
    if not isinstance(info, dict) or KEY not in table.column_names:
        raise DataError(f"{path} is a Parquet file but not a riskcore sweep table (write it "
                        "with riskcore.sweep.write_results)")
    if not isinstance(info.get("format"), int) or info["format"] > _FORMAT:
        raise DataError(f"{path} has sweep table format {info.get('format')!r}, written by a "
                        f"newer riskcore; this one reads format {_FORMAT}")
    return table.to_pandas()


# ----------------------------------------------------------------------------- command line
def load_spec(path: str | os.PathLike) -> PortfolioSpec:
    """Read the base specification of a sweep from a JSON file.

    The file is a :meth:`PortfolioSpec.to_json` document, or a document (a scenario file)
    whose top-level ``"spec"`` holds one (as an object or as JSON text).

    Raises
    ------
    DataError
        If the file cannot be read, is not JSON, or is not a valid specification (the
        message names the file).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the specification file {path}: "
                        f"{getattr(exc, 'strerror', None) or exc}") from exc
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise DataError(f"{path} is not valid JSON: {exc}") from exc
    if isinstance(data, dict) and "spec" in data:
        data = data["spec"]
    try:
        return PortfolioSpec.from_json(data if isinstance(data, str) else json.dumps(data))
    except RiskcoreError as exc:
        raise type(exc)(f"{path}: {exc}") from exc


def load_prices(paths: Sequence[str | os.PathLike]
                ) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """Read price files as the Upload source does, with the Data page's default cleaning.

    :func:`riskcore.ingest.load_files` (native frequency) merges the files; zero and
    negative prices become missing (:class:`riskcore.quality.QualityPolicy` with
    ``nonpositive="drop"``, the Data page's default) and are marked not tradable; volume
    per bar becomes USD per day (:func:`riskcore.periods.periods_per_day`).

    Returns
    -------
    tuple of (prices, volume, tradable)
        The panel, the USD volume per day (None when no file has a volume) and the
        tradable mask, for :func:`run_sweep`.

    Raises
    ------
    DataError
        If a file cannot be read or is refused by the loader (the file and reason are
        named), or no price is left.
    """
    from riskcore.backtest import tradable_from_cleaning
    from riskcore.ingest import load_files
    from riskcore.periods import periods_per_day
    from riskcore.quality import QualityPolicy, clean_prices

    files = []
    for path in paths:
        try:
            files.append((Path(path).name, Path(path).read_bytes()))
        except OSError as exc:
            raise DataError(f"cannot read price file {path}: {exc.strerror or exc}") from exc
    loaded = load_files(files)
    if loaded.errors:
        name, message = loaded.errors[0]
        raise DataError(f"price file {name} was refused: {message}")
    cleaned = clean_prices(loaded.prices, QualityPolicy(nonpositive="drop"))
    prices = cleaned.prices.dropna(how="all").dropna(axis=1, how="all")
    if prices.empty:
        raise DataError("the price files hold no usable price")
    tradable = tradable_from_cleaning(prices, cleaned.actions)
    volume = None
    known = [a for a in prices.columns if a in loaded.volume.columns]
    if known:
        volume = (loaded.volume.reindex(index=prices.index, columns=known)
                  * periods_per_day(prices.index))
    return prices, volume, tradable


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line and exit code 2 (no usage block)."""

    def error(self, message: str) -> None:  # noqa: D102
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m riskcore sweep",
        description="Backtest every point of a grid over specification fields and write one "
                    "Parquet table of results keyed by the specification.")
    parser.add_argument("spec", help="base specification (PortfolioSpec JSON, or a scenario "
                                     "file with a top-level 'spec')")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--prices", nargs="+", metavar="FILE", help="price files (as uploaded)")
    data.add_argument("--demo", action="store_true", help="the simulated demo market")
    parser.add_argument("--grid", action="append", required=True, metavar="FIELD=V1,V2",
                        help="a spec field and its values, e.g. band=0.02,0.05 lookback=90,180 "
                             "estimator=sample,ewma costs.fee=0,0.001 cost_scale=0,1,2 "
                             "(repeat for each field)")
    parser.add_argument("--backend", choices=BACKENDS, default=None,
                        help="where to run (default: processes; dask with --scheduler)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask scheduler address, e.g. tcp://10.0.0.5:8786")
    parser.add_argument("--jobs", type=int, metavar="N", help="local worker processes "
                        "(default: every core)")
    parser.add_argument("--initial-value", type=float, default=10_000.0, metavar="USD")
    parser.add_argument("--out", required=True, metavar="FILE.parquet")
    return parser


def _progress_bar(total: int) -> tuple[Callable[[int, int], None], Callable[[], None]]:
    """Make a tqdm bar on stderr, or plain lines (about every 5%) when tqdm is missing."""
    try:
        from tqdm import tqdm
    except ImportError:
        step = max(1, total // 20)

        def line(done: int, total: int) -> None:
            if done % step == 0 or done == total:
                print(f"sweep: {done}/{total} backtests", file=sys.stderr, flush=True)
        return line, lambda: None
    bar = tqdm(total=total, file=sys.stderr, unit="backtest", desc="sweep")

    def move(done: int, total: int) -> None:
        bar.update(done - bar.n)
    return move, bar.close


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m riskcore sweep``; return the exit code.

    0: the table is written and at least one backtest ran; 1: written, but every
    backtest failed (the first error is printed); 2: bad input (one line on stderr).
    """
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    prog = "python -m riskcore sweep"
    try:
        backend = args.backend or ("dask" if args.scheduler else "processes")
        if args.scheduler and backend != "dask":
            raise ParameterError(f"--scheduler is used by --backend dask only, not {backend}")
        if args.jobs is not None and backend != "processes":
            raise ParameterError(f"--jobs is used by --backend processes only, not {backend}")
        grid: dict[str, list[Any]] = {}
        for option in args.grid:
            name, values = parse_grid_option(option)
            if name in grid:
                raise ParameterError(f"grid field {name!r} is given twice; list its values "
                                     "once, separated by commas")
            grid[name] = values
        specs = sweep_grid(load_spec(args.spec), grid)
        if args.demo:
            from riskcore.demo import demo_prices

            prices, volume, tradable = demo_prices(), None, None
        else:
            prices, volume, tradable = load_prices(args.prices)
        move, close = _progress_bar(len(specs))
        try:
            table = run_sweep(prices, specs, backend=backend, n_jobs=args.jobs,
                              scheduler=args.scheduler, volume=volume, tradable=tradable,
                              initial_value=args.initial_value, progress=move)
        finally:
            close()
        path = write_results(table, args.out)
    except RiskcoreError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    failed = int(table[ERROR].notna().sum())
    print(f"wrote {len(table)} backtests ({failed} failed) to {path}")
    if failed == len(table):
        print(f"{prog}: every backtest failed; the first: {table[ERROR].iloc[0]}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # run the imported module's main, so that workers unpickle riskcore.sweep, not __main__
    from riskcore.sweep import main as _main

    sys.exit(_main(sys.argv[1:]))
