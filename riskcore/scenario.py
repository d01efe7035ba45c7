"""Scenarios: a named portfolio specification plus a reference to its data, saved and re-run.

A :class:`Scenario` is what a user decided (:class:`riskcore.spec.PortfolioSpec`), where the
prices come from (:class:`DataReference`: the demo, Yahoo tickers and dates, or uploaded files
named by their SHA-256 content hash, with the asset selection, merges and renames, cleaning
choices and analysis window), the simulator's initial value and the stress settings, stamped
with the software version and its creation time. It travels three ways:

- a JSON file (:func:`scenario_to_json`, :func:`scenario_from_json`), with its own schema
  version; the specification inside is read by :meth:`PortfolioSpec.from_json`, so older
  specification schemas still load;
- a bundle (:func:`save_bundle`, :func:`load_bundle`): a zip of the JSON and the price panel
  (and volume) as Parquet, for a colleague without the files; refused beyond the reader's
  limits (:class:`riskcore.ingest.ReadLimits`) before anything is inflated;
- a link (:func:`encode_query`, :func:`decode_query`): only what differs from the defaults,
  JSON -> zlib -> base64url in one query parameter. The longest link measured for a realistic
  scenario (14 Yahoo coins with typed budgets normalized to 17-digit decimals, a weight bound
  on each, two group limits, a band, costs, a window and the stress settings) carries 888
  characters in the parameter (``tests/unit/test_scenario.py``, bound 1,000); the same
  scenario on 14 uploaded files carries 1,718 (each file's SHA-256 adds about 60
  characters: it does not compress).

:func:`run_scenario` runs a scenario on its :class:`riskcore.dataset.Dataset` exactly as the
pages do: the decision at the as-of date (the Allocation, Rebalance check and Stress pages),
the walk-forward simulation and its benchmarks (the Rebalancing simulator) and the stress
tables (the Stress page). The command line (``python -m riskcore run``) and the HTML report
(:mod:`riskcore.report`) read its :class:`ScenarioResult`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import math
import re
import zipfile
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd

from riskcore.dataset import DEFAULT_CLEANING, Dataset, prepare_dataset
from riskcore.errors import DataError, ParameterError, RiskcoreError
from riskcore.ingest import DEFAULT_LIMITS, ReadLimits
from riskcore.quality import QualityPolicy
from riskcore.spec import PortfolioSpec, _stamp

#: Version of the scenario layout written by :func:`scenario_to_json` (the specification
#: inside carries its own, :data:`riskcore.spec.SCHEMA_VERSION`).
SCENARIO_SCHEMA_VERSION = 1
#: The ``format`` marker of a scenario file.
SCENARIO_FORMAT = "riskcore-scenario"
#: Data sources a scenario can refer to.
DATA_KINDS: tuple[str, ...] = ("demo", "yahoo", "upload")
#: How intraday uploads are read (:func:`riskcore.ingest.load_files`).
UPLOAD_FREQUENCIES: tuple[str, ...] = ("native", "daily")
#: The simulator's default initial value (USD), as on the Rebalancing simulator page.
DEFAULT_INITIAL_VALUE = 100_000.0
#: Largest scenario JSON read (bytes): a scenario is a few kilobytes.
MAX_SCENARIO_BYTES = 1_000_000
#: Query parameter holding an encoded scenario.
QUERY_PARAM = "scenario"
#: Longest encoded scenario accepted or written (characters of the parameter value).
MAX_QUERY_CHARS = 8_000
#: Largest decoded (inflated) link payload, bytes; larger payloads are refused unread.
MAX_QUERY_JSON_BYTES = 100_000
#: Members of a bundle: the scenario, the price panel and (optional) volume per bar.
BUNDLE_SCENARIO, BUNDLE_PRICES, BUNDLE_VOLUME = "scenario.json", "prices.parquet", "volume.parquet"
_BUNDLE_MANIFEST = "bundle.json"
_BUNDLE_MEMBERS = (BUNDLE_SCENARIO, BUNDLE_PRICES, BUNDLE_VOLUME, _BUNDLE_MANIFEST)
#: Steps of :func:`run_scenario`, in order (its ``progress`` callback receives each name).
RUN_STEPS: tuple[str, ...] = ("decision", "walk-forward", "benchmarks", "stress")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_BASE64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


def _version() -> str:
    from riskcore import __version__  # noqa: PLC0415 - the package imports this module lazily

    return __version__


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("s")


def _iso(stamp: pd.Timestamp | None) -> str | None:
    """ISO text of a UTC timestamp: the date alone at midnight (shorter links)."""
    if stamp is None:
        return None
    return f"{stamp:%Y-%m-%d}" if stamp == stamp.normalize() else stamp.isoformat()


def _text(value: Any, where: str, *, empty: bool = False) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise ParameterError(f"{where} is {value!r}; it must be a non-empty text")
    return value


def _texts(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence | tuple | list):
        raise ParameterError(f"{where} is {value!r}; it must be a list of names")
    return tuple(_text(v, f"{where}[{k}]") for k, v in enumerate(value))


def _positive(value: Any, where: str, *, low: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) \
            or value < low or (strict and value == low):
        sign = ">" if strict else ">="
        raise ParameterError(f"{where} is {value!r}; it must be a finite number {sign} {low:g}")
    return float(value)


# ---------------------------------------------------------------------------- data reference


@dataclass(frozen=True)
class FileReference:
    """One uploaded file, named by its content: the file itself cannot travel in a link.

    Attributes
    ----------
    name : str
        File name as uploaded (it names single-coin files' assets, so it matters).
    sha256 : str
        SHA-256 of the file's bytes, 64 lower-case hexadecimal digits.
    size : int
        Size in bytes.

    Raises
    ------
    ParameterError
        For an empty name, a hash that is not 64 hexadecimal digits or a negative size.
    """

    name: str
    sha256: str
    size: int

    def __post_init__(self) -> None:
        _text(self.name, "file name")
        digest = self.sha256.lower() if isinstance(self.sha256, str) else self.sha256
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise ParameterError(f"sha256 of file {self.name!r} is {self.sha256!r}; it must be "
                                 "64 hexadecimal digits")
        object.__setattr__(self, "sha256", digest)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise ParameterError(f"size of file {self.name!r} is {self.size!r}; it must be a "
                                 "whole number of bytes >= 0")

    @classmethod
    def of(cls, name: str, content: bytes) -> FileReference:
        """Make the reference of a file from its name and bytes (SHA-256, length)."""
        return cls(name, hashlib.sha256(content).hexdigest(), len(content))


@dataclass(frozen=True)
class DataReference:
    """Where a scenario's prices come from and how the pipeline treats them.

    Parameters
    ----------
    kind : {"demo", "yahoo", "upload"}, default "demo"
        The simulated demo market, Yahoo Finance, or uploaded files.
    tickers : tuple of str
        Yahoo tickers (``kind="yahoo"`` only, at least one).
    fetch_start, fetch_end : date-like, optional
        Yahoo request range (inclusive UTC days); ``fetch_start`` is required with Yahoo,
        ``fetch_end`` None means today.
    files : tuple of FileReference
        Uploaded files in upload order (``kind="upload"`` only, at least one): the first file
        wins where two give a price for the same coin and date.
    frequency : {"native", "daily"}, default "native"
        Intraday uploads kept at their bar length or resampled to daily UTC closes.
    names : tuple of (str, str)
        Merges and renames of uploaded assets: default name -> final name
        (``(("BTC (2)", "BTC"),)`` merges a second Bitcoin file into the first).
    assets : tuple of str, optional
        The selected coins (columns after merges and renames); None = every coin.
    start, as_of : date-like, optional
        Analysis window; both None = the default window (first loaded date; last date on
        which every selected coin has a price), and the simulator then starts where most
        coins have a full lookback (:func:`riskcore.window.universe_start`), as on the page.
    cleaning : QualityPolicy, default :data:`riskcore.dataset.DEFAULT_CLEANING`
        The Data page's cleaning choices.

    Raises
    ------
    ParameterError
        For an unknown kind or frequency, tickers or files with the wrong kind (or none with
        theirs), a date that cannot be read, or ``start`` after ``as_of``.
    """

    kind: str = "demo"
    tickers: tuple[str, ...] = ()
    fetch_start: pd.Timestamp | None = None
    fetch_end: pd.Timestamp | None = None
    files: tuple[FileReference, ...] = ()
    frequency: str = "native"
    names: tuple[tuple[str, str], ...] = ()
    assets: tuple[str, ...] | None = None
    start: pd.Timestamp | None = None
    as_of: pd.Timestamp | None = None
    cleaning: QualityPolicy = DEFAULT_CLEANING

    def __post_init__(self) -> None:
        put = object.__setattr__
        if self.kind not in DATA_KINDS:
            raise ParameterError(f"data kind {self.kind!r} is unknown; allowed: "
                                 f"{', '.join(map(repr, DATA_KINDS))}")
        if self.frequency not in UPLOAD_FREQUENCIES:
            raise ParameterError(f"frequency {self.frequency!r} is unknown; allowed: "
                                 f"{', '.join(map(repr, UPLOAD_FREQUENCIES))}")
        tickers = self.tickers.split() if isinstance(self.tickers, str) else self.tickers
        put(self, "tickers", _texts(tickers, "tickers"))
        files = tuple(self.files)
        if not all(isinstance(f, FileReference) for f in files):
            raise ParameterError("files must be FileReference items (name, sha256, size)")
        put(self, "files", files)
        for name in ("fetch_start", "fetch_end", "start", "as_of"):
            put(self, name, _stamp(getattr(self, name), name))
        names = self.names.items() if isinstance(self.names, Mapping) else self.names
        pairs = []
        for pair in names:
            if isinstance(pair, str) or len(pair) != 2:
                raise ParameterError(f"names entry {pair!r} must be a (default name, final "
                                     "name) pair")
            pairs.append((_text(pair[0], "names: default name"),
                          _text(pair[1], "names: final name")))
        put(self, "names", tuple(pairs))
        if self.assets is not None:
            put(self, "assets", _texts(self.assets, "assets"))
            if not self.assets or len(set(self.assets)) != len(self.assets):
                raise ParameterError(f"assets {list(self.assets)} must name distinct coins")
        if not isinstance(self.cleaning, QualityPolicy):
            raise ParameterError(f"cleaning is {type(self.cleaning).__name__}; it must be a "
                                 "QualityPolicy")
        if self.start is not None and self.as_of is not None and self.start > self.as_of:
            raise ParameterError(f"window start {self.start:%Y-%m-%d} is after its as-of date "
                                 f"{self.as_of:%Y-%m-%d}")
        if (self.kind == "yahoo") != bool(self.tickers):
            raise ParameterError("Yahoo data need tickers, and only Yahoo data have tickers "
                                 f"(kind {self.kind!r}, tickers {list(self.tickers)})")
        if self.kind == "yahoo" and self.fetch_start is None:
            raise ParameterError("Yahoo data need fetch_start, the first day fetched")
        if (self.kind == "upload") != bool(self.files):
            raise ParameterError("uploaded data need files, and only uploaded data have files "
                                 f"(kind {self.kind!r}, {len(self.files)} file(s))")

    @property
    def default_window(self) -> bool:
        """Whether the analysis window is the default one (no start, no as-of date)."""
        return self.start is None and self.as_of is None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (dates as ISO text; see :func:`scenario_to_json`)."""
        return {
            "kind": self.kind, "tickers": list(self.tickers),
            "fetch_start": _iso(self.fetch_start), "fetch_end": _iso(self.fetch_end),
            "files": [{"name": f.name, "sha256": f.sha256, "size": f.size} for f in self.files],
            "frequency": self.frequency, "names": [list(p) for p in self.names],
            "assets": None if self.assets is None else list(self.assets),
            "start": _iso(self.start), "as_of": _iso(self.as_of),
            "cleaning": {f.name: getattr(self.cleaning, f.name) for f in fields(QualityPolicy)},
        }

    @classmethod
    def from_dict(cls, data: Any) -> DataReference:
        """Read :meth:`to_dict` output (missing fields take their defaults).

        Raises
        ------
        DataError
            If ``data`` is not an object, names an unknown field, or a value is invalid
            (the message names the field).
        """
        data = _object(data, "data")
        _known(data, {f.name for f in fields(cls)}, "data")
        data = dict(data)
        try:
            if "files" in data:
                files = data["files"]
                if not isinstance(files, list):
                    raise ParameterError(f"files is {files!r}; it must be a list")
                data["files"] = tuple(_file_from_dict(f, k) for k, f in enumerate(files))
            if "cleaning" in data:
                cleaning = _object(data["cleaning"], "data.cleaning")
                _known(cleaning, {f.name for f in fields(QualityPolicy)}, "data.cleaning")
                data["cleaning"] = replace(DEFAULT_CLEANING, **cleaning)
            for name in ("tickers", "names"):
                if name in data and not isinstance(data[name], list):
                    raise ParameterError(f"{name} is {data[name]!r}; it must be a list")
            return cls(**data)
        except RiskcoreError as exc:
            raise type(exc)(f"scenario data: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise DataError(f"scenario data is broken: {exc}") from exc


def _file_from_dict(item: Any, k: int) -> FileReference:
    item = _object(item, f"data.files[{k}]")
    _known(item, {"name", "sha256", "size"}, f"data.files[{k}]")
    missing = sorted({"name", "sha256", "size"} - set(item))
    if missing:
        raise ParameterError(f"data.files[{k}] has no {missing[0]!r}")
    return FileReference(item["name"], item["sha256"], item["size"])


# ---------------------------------------------------------------------------- scenario


@dataclass(frozen=True)
class StressSettings:
    """The Stress page's own settings: "your scenario" and the worst-periods horizon.

    Attributes
    ----------
    volatility_multiplier : float, default 2.0
        Volatility multiplier of "your scenario" (> 0).
    correlation : float, default 0.9
        Crash correlation of "your scenario" (0 to 1).
    stablecoin_volatility : float or None, default 0.5
        Annualized stablecoin volatility in a de-peg (decimal, >= 0); None or 0 for none.
    horizon : int, default 7
        Length of the worst periods, in periods (>= 1).

    Raises
    ------
    ParameterError
        For a value outside those ranges.
    """

    volatility_multiplier: float = 2.0
    correlation: float = 0.9
    stablecoin_volatility: float | None = 0.5
    horizon: int = 7

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "volatility_multiplier",
            _positive(self.volatility_multiplier, "volatility_multiplier"))
        correlation = _positive(self.correlation, "correlation", strict=False)
        if correlation > 1:
            raise ParameterError(f"correlation is {correlation!r}; it must lie in [0, 1]")
        put(self, "correlation", correlation)
        if self.stablecoin_volatility is not None:
            put(self, "stablecoin_volatility", _positive(
                self.stablecoin_volatility, "stablecoin_volatility", strict=False) or None)
        if isinstance(self.horizon, bool) or not isinstance(self.horizon, int) \
                or self.horizon < 1:
            raise ParameterError(f"horizon is {self.horizon!r}; it must be a whole number of "
                                 "periods >= 1")

    def scenarios(self) -> dict[str, dict[str, Any]]:
        """Return the Stress page's scenarios: :data:`riskcore.stress.STRESS_SCENARIOS` + yours."""
        from riskcore.stress import STRESS_SCENARIOS  # noqa: PLC0415 - scipy, only when used

        return {**STRESS_SCENARIOS, "your scenario": {
            "volatility_multiplier": self.volatility_multiplier,
            "correlation": self.correlation,
            "stablecoin_volatility": self.stablecoin_volatility}}


@dataclass(frozen=True)
class Scenario:
    """A named decision and the data it runs on.

    Parameters
    ----------
    name : str
        Shown in the scenario list, comparisons and reports (user text: escaped wherever
        it is shown).
    spec : PortfolioSpec
        The decision (window dates and assets come from ``data``; see :func:`run_scenario`).
    data : DataReference
        The prices and the pipeline choices.
    initial_value : float, default 100,000
        The simulator's initial value, USD (> 0).
    stress : StressSettings
        The Stress page's settings.
    software_version : str
        ``riskcore.__version__`` of the software that made it.
    created : timestamp
        When it was made (UTC, whole seconds); default now.

    Raises
    ------
    ParameterError
        For an empty name, a wrong type of ``spec``, ``data`` or ``stress``, or a
        non-positive initial value.
    """

    name: str
    spec: PortfolioSpec = field(default_factory=PortfolioSpec)
    data: DataReference = field(default_factory=DataReference)
    initial_value: float = DEFAULT_INITIAL_VALUE
    stress: StressSettings = field(default_factory=StressSettings)
    software_version: str = field(default_factory=_version)
    created: pd.Timestamp = field(default_factory=_now)

    def __post_init__(self) -> None:
        put = object.__setattr__
        put(self, "name", _text(self.name, "scenario name").strip())
        for name, kind in (("spec", PortfolioSpec), ("data", DataReference),
                           ("stress", StressSettings)):
            if not isinstance(getattr(self, name), kind):
                raise ParameterError(f"scenario {name} is {type(getattr(self, name)).__name__};"
                                     f" it must be a {kind.__name__}")
        put(self, "initial_value", _positive(self.initial_value, "initial_value"))
        _text(self.software_version, "software_version")
        created = _stamp(self.created, "created")
        put(self, "created", created.floor("s"))


def _object(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise DataError(f"{where} must be a JSON object, not {type(value).__name__}")
    return value


def _known(data: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise DataError(f"unknown field {unknown[0]!r} in {where}; allowed: "
                        f"{', '.join(sorted(allowed))}")


def _stress_dict(settings: StressSettings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in fields(StressSettings)}


def scenario_to_dict(scenario: Scenario) -> dict[str, Any]:
    """Plain JSON-ready dict of a scenario (the layout of :func:`scenario_to_json`)."""
    return {
        "format": SCENARIO_FORMAT,
        "schema_version": SCENARIO_SCHEMA_VERSION,
        "name": scenario.name,
        "software_version": scenario.software_version,
        "created": scenario.created.isoformat(),
        "initial_value": scenario.initial_value,
        "stress": _stress_dict(scenario.stress),
        "data": scenario.data.to_dict(),
        "spec": scenario.spec.to_dict(),
    }


def scenario_to_json(scenario: Scenario) -> str:
    """Serialize a scenario to JSON text (read back by :func:`scenario_from_json`).

    The layout: ``format`` ("riskcore-scenario"), ``schema_version``
    (:data:`SCENARIO_SCHEMA_VERSION`), ``name``, ``software_version``, ``created`` (ISO UTC),
    ``initial_value``, ``stress``, ``data`` (:meth:`DataReference.to_dict`) and ``spec``
    (:meth:`riskcore.spec.PortfolioSpec.to_dict`, with its own schema version).
    """
    return json.dumps(scenario_to_dict(scenario), indent=1, ensure_ascii=False,
                      allow_nan=False)


def scenario_from_dict(data: Any) -> Scenario:
    """Read :func:`scenario_to_dict` output; see :func:`scenario_from_json` for the errors."""
    data = _object(data, "a scenario file")
    if data.get("format") != SCENARIO_FORMAT:
        raise DataError(f"not a riskcore scenario: its 'format' is {data.get('format')!r}, "
                        f"expected {SCENARIO_FORMAT!r}")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DataError(f"scenario schema_version is {version!r}; it must be an integer from 1 "
                        f"to {SCENARIO_SCHEMA_VERSION}")
    if version > SCENARIO_SCHEMA_VERSION:
        made_by = data.get("software_version")
        raise DataError(f"this scenario has schema_version {version}, written by a newer "
                        f"riskcore ({made_by!s}); this one ({_version()}) reads versions 1 to "
                        f"{SCENARIO_SCHEMA_VERSION}: update riskcore to open it")
    allowed = {"format", "schema_version", "name", "software_version", "created",
               "initial_value", "stress", "data", "spec"}
    _known(data, allowed, "the scenario")
    for required in ("name", "spec"):
        if required not in data:
            raise DataError(f"the scenario has no {required!r}")
    spec_data = _object(data["spec"], "scenario 'spec'")
    try:
        spec = PortfolioSpec.from_json(json.dumps(spec_data))
    except RiskcoreError as exc:
        raise type(exc)(f"scenario spec: {exc}") from exc
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise DataError(f"scenario spec is broken: {exc!r}") from exc
    stress = _object(data.get("stress", {}), "scenario 'stress'")
    _known(stress, {f.name for f in fields(StressSettings)}, "scenario 'stress'")
    try:
        options = {k: data[k] for k in ("software_version", "created", "initial_value")
                   if k in data}
        return Scenario(name=data["name"], spec=spec,
                        data=DataReference.from_dict(data.get("data", {})),
                        stress=StressSettings(**stress), **options)
    except RiskcoreError as exc:
        raise type(exc)(f"scenario: {exc}") from exc


def scenario_from_json(text: str | bytes) -> Scenario:
    """Read a scenario file written by :func:`scenario_to_json`, this version or an older one.

    Parameters
    ----------
    text : str or bytes
        The file's content (UTF-8), at most :data:`MAX_SCENARIO_BYTES`.

    Returns
    -------
    Scenario

    Raises
    ------
    DataError
        If the text is too long, not JSON, not a scenario (``format``), has a
        ``schema_version`` newer than :data:`SCENARIO_SCHEMA_VERSION` (the message names the
        writing version) or missing, names an unknown field, or lacks ``name`` or ``spec``; if
        its specification is refused by :meth:`riskcore.spec.PortfolioSpec.from_json`
        (specifications of older schemas load). Messages name the field.
    ParameterError
        For a value outside its allowed range (the message names the field).
    """
    size = len(text.encode() if isinstance(text, str) else text)
    if size > MAX_SCENARIO_BYTES:
        raise DataError(f"the scenario file has {size:,} bytes; a scenario has a few "
                        f"thousand, at most {MAX_SCENARIO_BYTES:,} are read")
    try:
        data = json.loads(text)
    except (TypeError, ValueError, RecursionError) as exc:
        raise DataError(f"the scenario file is not valid JSON ({exc})") from exc
    return scenario_from_dict(data)


# ---------------------------------------------------------------------------- links


def _diff(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in values.items():
        default = defaults.get(key)
        if isinstance(value, dict) and isinstance(default, dict):
            inner = _diff(value, default)
            if inner:
                out[key] = inner
        elif value != default:
            out[key] = value
    return out


def encode_query(scenario: Scenario) -> dict[str, str]:
    """Encode a scenario for a link: ``{QUERY_PARAM: token}`` for Streamlit's query params.

    Only what differs from the defaults is written (the specification against
    ``PortfolioSpec()``, the data reference against ``DataReference()``, ...), as compact
    JSON, compressed with zlib (level 9, with its Adler-32 checksum) and written in base64url
    without padding. :func:`decode_query` reads it back to an equal scenario.

    Returns
    -------
    dict of str to str
        One entry, :data:`QUERY_PARAM` -> the token (at most :data:`MAX_QUERY_CHARS`).

    Raises
    ------
    ParameterError
        If the token would be longer than :data:`MAX_QUERY_CHARS` (save a file instead).
    """
    full = scenario_to_dict(scenario)
    spec = _diff(full["spec"], PortfolioSpec().to_dict())
    spec["schema_version"] = full["spec"]["schema_version"]
    compact = {
        "v": SCENARIO_SCHEMA_VERSION, "n": scenario.name, "sw": scenario.software_version,
        "c": int(scenario.created.timestamp()), "s": spec,
        "d": _diff(full["data"], DataReference().to_dict()),
        "x": _diff(full["stress"], _stress_dict(StressSettings())),
    }
    if scenario.initial_value != DEFAULT_INITIAL_VALUE:
        compact["i"] = scenario.initial_value
    compact = {k: v for k, v in compact.items() if v != {}}
    raw = json.dumps(compact, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    token = base64.urlsafe_b64encode(zlib.compress(raw.encode(), 9)).decode().rstrip("=")
    if len(token) > MAX_QUERY_CHARS:
        raise ParameterError(f"this scenario needs a link of {len(token):,} characters, more "
                             f"than {MAX_QUERY_CHARS:,}; save it as a file instead")
    return {QUERY_PARAM: token}


def decode_query(params: Mapping[str, Any]) -> Scenario:
    """Read a scenario from a link's query parameters (written by :func:`encode_query`).

    Parameters
    ----------
    params : mapping of str to str (or list of str)
        The query parameters (``st.query_params``); :data:`QUERY_PARAM` is read (its last
        value if repeated), the others are ignored.

    Returns
    -------
    Scenario

    Raises
    ------
    ParameterError
        If the parameter is missing, longer than :data:`MAX_QUERY_CHARS`, not base64url, not
        zlib data (a changed or cut link fails the checksum), inflates beyond
        :data:`MAX_QUERY_JSON_BYTES` (refused before inflating further), is not JSON of a
        scenario, comes from a newer version, or holds an invalid value (named).
    """
    token = params.get(QUERY_PARAM) if isinstance(params, Mapping) else None
    if isinstance(token, list | tuple):
        token = token[-1] if token else None
    if not isinstance(token, str) or not token:
        raise ParameterError(f"the link has no {QUERY_PARAM!r} parameter")
    if len(token) > MAX_QUERY_CHARS:
        raise ParameterError(f"the link's scenario has {len(token):,} characters; at most "
                             f"{MAX_QUERY_CHARS:,} are read")
    if not _BASE64URL.match(token):
        raise ParameterError("the link's scenario is damaged: it holds characters outside "
                             "base64url (A-Z, a-z, 0-9, '-', '_'); copy the whole link again")
    try:
        token = token.rstrip("=")
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ParameterError(f"the link's scenario is damaged ({exc}); copy the whole link "
                             "again") from exc
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(packed, MAX_QUERY_JSON_BYTES + 1)
    except zlib.error as exc:
        raise ParameterError(f"the link's scenario is damaged or was changed (zlib: {exc}); "
                             "copy the whole link again") from exc
    if len(raw) > MAX_QUERY_JSON_BYTES or inflate.unconsumed_tail:
        raise ParameterError(f"the link's scenario inflates beyond {MAX_QUERY_JSON_BYTES:,} "
                             "bytes; refused")
    if not inflate.eof or inflate.unused_data:
        raise ParameterError("the link's scenario is cut short or has extra data; copy the "
                             "whole link again")
    try:
        compact = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ParameterError(f"the link's scenario is not valid JSON ({exc})") from exc
    try:
        return _from_compact(compact)
    except RiskcoreError as exc:
        raise ParameterError(f"the link's scenario: {exc}") from exc


def _from_compact(compact: Any) -> Scenario:
    compact = _object(compact, "the link's scenario")
    _known(compact, {"v", "n", "sw", "c", "s", "d", "x", "i"}, "the link's scenario")
    for key in ("v", "n", "sw", "c", "s"):
        if key not in compact:
            raise DataError(f"the link's scenario has no {key!r}")
    created = compact["c"]
    if isinstance(created, bool) or not isinstance(created, int) or created < 0:
        raise DataError(f"the link's creation time is {created!r}; it must be whole seconds")
    data = DataReference().to_dict()
    link_data = _object(compact.get("d", {}), "the link's data")
    data.update({k: v for k, v in link_data.items() if k != "cleaning"})
    data["cleaning"].update(_object(link_data.get("cleaning", {}), "the link's cleaning"))
    stress = _stress_dict(StressSettings())
    stress.update(_object(compact.get("x", {}), "the link's stress settings"))
    return scenario_from_dict({
        "format": SCENARIO_FORMAT, "schema_version": compact["v"], "name": compact["n"],
        "software_version": compact["sw"],
        "created": pd.Timestamp(created, unit="s", tz="UTC").isoformat(),
        "initial_value": compact.get("i", DEFAULT_INITIAL_VALUE), "stress": stress,
        "data": data, "spec": compact["s"],
    })


# ---------------------------------------------------------------------------- bundles


@dataclass(frozen=True, eq=False)
class Bundle:
    """A scenario with its prices: what :func:`load_bundle` returns.

    Attributes
    ----------
    scenario : Scenario
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        The source panel before cleaning (after merges and renames): the input of
        :func:`riskcore.dataset.prepare_dataset`.
    volume : pandas.DataFrame or None
        Traded volume in USD per bar on the same dates (a subset of the columns), or None.
    """

    scenario: Scenario
    prices: pd.DataFrame
    volume: pd.DataFrame | None = None


def _check_frame(frame: Any, what: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame) or not isinstance(frame.index, pd.DatetimeIndex):
        raise DataError(f"the bundle's {what} must be a DataFrame indexed by date")
    if not frame.columns.is_unique:
        raise DataError(f"the bundle's {what} name a column twice")
    if frame.index.tz is None or not frame.index.is_monotonic_increasing \
            or not frame.index.is_unique:
        raise DataError(f"the bundle's {what} need sorted, unique UTC dates")
    bad = [str(c) for c in frame.columns
           if not isinstance(c, str) or frame[c].dtype != np.float64]
    if bad:
        raise DataError(f"the bundle's {what} hold a column that is not float64 or not "
                        f"named by text: {bad[0]}")
    return frame


def save_bundle(scenario: Scenario, prices: pd.DataFrame,
                volume: pd.DataFrame | None = None) -> bytes:
    """Pack a scenario and its source panel (and volume) into one zip (Parquet inside).

    Parameters
    ----------
    scenario : Scenario
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        The source panel before cleaning (:attr:`riskcore.ingest.LoadResult.prices`, the
        demo or Yahoo panel): sorted unique UTC ``DatetimeIndex``, float64 columns named by
        text.
    volume : pandas.DataFrame, optional
        Volume in USD per bar on the same dates (:attr:`riskcore.ingest.LoadResult.volume`).

    Returns
    -------
    bytes
        A zip of ``scenario.json``, ``prices.parquet``, ``volume.parquet`` (when given and not
        empty) and a small manifest; :func:`load_bundle` reads it back to equal frames.

    Raises
    ------
    DataError
        If a frame is not a panel as described.
    """
    prices = _check_frame(prices, "prices")
    manifest = {"format": "riskcore-bundle", "prices_freq": prices.index.freqstr}
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(BUNDLE_SCENARIO, scenario_to_json(scenario))
        archive.writestr(BUNDLE_PRICES, _parquet(prices))
        if volume is not None and not volume.empty:
            volume = _check_frame(volume, "volume")
            manifest["volume_freq"] = volume.index.freqstr
            archive.writestr(BUNDLE_VOLUME, _parquet(volume))
        archive.writestr(_BUNDLE_MANIFEST, json.dumps(manifest))
    return out.getvalue()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=True)
    return buffer.getvalue()


def load_bundle(source: bytes, *, limits: ReadLimits = DEFAULT_LIMITS) -> Bundle:
    """Read a bundle written by :func:`save_bundle`, refusing oversized content unread.

    Before anything is inflated, the zip directory is checked: only the known members, each
    at most once, and a total declared uncompressed size of at most
    ``limits.max_xlsx_bytes`` (:class:`riskcore.ingest.ReadLimits`, the limit of an
    ``.xlsx`` workbook; :mod:`zipfile` never inflates a member beyond its declared size and
    fails its CRC check instead). Each Parquet table's footer is read first: only float64
    columns and dates (no text, which a small file could inflate) and row, column and cell
    counts within ``limits``; only then are its data decoded.

    Parameters
    ----------
    source : bytes
        The zip's bytes.
    limits : ReadLimits, default DEFAULT_LIMITS

    Returns
    -------
    Bundle

    Raises
    ------
    DataError
        If the bytes are not a zip, hold an unknown member or a member twice, expand beyond
        the limit, lack the scenario or the prices, a table exceeds the limits or is not a
        price panel (sorted unique UTC dates, float64 columns), or the scenario is refused by
        :func:`scenario_from_json`.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(source))
        members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            TypeError) as exc:
        raise DataError(f"not a scenario bundle: not a readable zip file ({exc})") from exc
    with archive:
        names = [m.filename for m in members]
        unknown = [n for n in names if n not in _BUNDLE_MEMBERS]
        if unknown or len(set(names)) != len(names):
            what = f"an unknown member {unknown[0]!r}" if unknown else "a member twice"
            raise DataError(f"not a scenario bundle: it holds {what}; a bundle holds "
                            f"{', '.join(_BUNDLE_MEMBERS)}")
        declared = sum(m.file_size for m in members)
        if declared > limits.max_xlsx_bytes:
            raise DataError(f"the bundle expands to {declared / 1e6:,.1f} MB when unzipped; at "
                            f"most {limits.max_xlsx_bytes / 1e6:,.0f} MB are read")
        for required in (BUNDLE_SCENARIO, BUNDLE_PRICES):
            if required not in names:
                raise DataError(f"not a scenario bundle: it has no {required}")

        def read(name: str) -> bytes:
            try:
                return archive.read(name)
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, RuntimeError,
                    NotImplementedError) as exc:  # encrypted, unknown compression, bad CRC
                raise DataError(f"the bundle's {name} cannot be read ({exc})") from exc

        scenario = scenario_from_json(read(BUNDLE_SCENARIO))
        manifest = {}
        if _BUNDLE_MANIFEST in names:
            try:
                manifest = json.loads(read(_BUNDLE_MANIFEST))
            except ValueError as exc:
                raise DataError(f"the bundle's {_BUNDLE_MANIFEST} is not JSON") from exc
            manifest = _object(manifest, f"the bundle's {_BUNDLE_MANIFEST}")
        prices = _read_table(read(BUNDLE_PRICES), "prices", limits,
                             manifest.get("prices_freq"))
        volume = None
        if BUNDLE_VOLUME in names:
            volume = _read_table(read(BUNDLE_VOLUME), "volume", limits,
                                 manifest.get("volume_freq"))
            extra = [c for c in volume.columns if c not in prices.columns]
            if extra or not volume.index.equals(prices.index):
                raise DataError("the bundle's volume must be on the prices' dates and columns")
    return Bundle(scenario, prices, volume)


def _read_table(raw: bytes, what: str, limits: ReadLimits, freq: Any) -> pd.DataFrame:
    import pyarrow as pa  # noqa: PLC0415 - only for bundles
    import pyarrow.parquet as pq  # noqa: PLC0415

    try:
        meta = pq.ParquetFile(io.BytesIO(raw)).metadata
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise DataError(f"the bundle's {what} is not a Parquet table ({exc})") from exc
    rows, columns = meta.num_rows, meta.num_columns
    schema = meta.schema.to_arrow_schema()
    odd = [f.name for f in schema if not (pa.types.is_float64(f.type)
                                          or pa.types.is_timestamp(f.type))]
    if odd:  # only numbers and dates: no text that a small file could inflate
        raise DataError(f"the bundle's {what} hold a column that is not float64 or a date: "
                        f"{odd[0]}")
    if rows > limits.max_rows or columns > limits.max_assets + 1 \
            or rows * columns > limits.max_cells:
        raise DataError(f"the bundle's {what} have {rows:,} rows and {columns:,} columns; at "
                        f"most {limits.max_rows:,} rows, {limits.max_assets} assets and "
                        f"{limits.max_cells:,} cells are read")
    try:
        frame = pd.read_parquet(io.BytesIO(raw), engine="pyarrow")
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
        raise DataError(f"the bundle's {what} cannot be read ({exc})") from exc
    frame = _check_frame(frame, what)
    if isinstance(freq, str):
        try:
            frame.index.freq = freq
        except ValueError as exc:
            raise DataError(f"the bundle's {what} do not follow their frequency {freq}") from exc
    return frame


# ---------------------------------------------------------------------------- sources


@dataclass(frozen=True, eq=False)
class SourcePanel:
    """The loaded source of a data reference, before the pipeline.

    Attributes
    ----------
    prices : pandas.DataFrame
        The panel (after merges and renames), input of
        :func:`riskcore.dataset.prepare_dataset`.
    volume : pandas.DataFrame or None
        Volume in USD per bar, or None.
    label : str
        The source as the pages name it.
    notes : tuple of str
        What the source said (the demo's description, Yahoo's messages).
    errors : tuple of (str, str)
        Files the loader refused: (file name, message).
    """

    prices: pd.DataFrame
    volume: pd.DataFrame | None
    label: str
    notes: tuple[str, ...] = ()
    errors: tuple[tuple[str, str], ...] = ()


def match_files(reference: DataReference, files: Sequence[tuple[str, bytes]], *,
                allow_different: bool = False) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Put the given files in the reference's order and names, checking their content hashes.

    Files are matched by SHA-256, so a renamed copy is found; each is then given the
    referenced name (single-coin files are named after it) and the referenced order (the
    first file wins where files overlap), as when the scenario was made.

    Parameters
    ----------
    reference : DataReference
        An upload reference.
    files : sequence of (str, bytes)
        The files at hand: (name, content).
    allow_different : bool, default False
        Accept files that do not match: the matched files keep the reference's names and
        order, the others follow in the given order, and a warning says what differs.

    Returns
    -------
    files : list of (str, bytes)
        The files to load, in order.
    warnings : list of str
        What differs from the reference (empty when everything matches).

    Raises
    ------
    DataError
        If the reference is not an upload, or (without ``allow_different``) a referenced file
        is missing or an extra file is given (the message names the files and hashes).
    """
    if reference.kind != "upload":
        raise DataError(f"the scenario's data are {reference.kind!r}, not uploaded files")
    given = [(name, content, hashlib.sha256(content).hexdigest()) for name, content in files]
    ordered: list[tuple[str, bytes]] = []
    used: set[int] = set()
    missing = []
    for ref in reference.files:
        hit = next((k for k, (_, _, digest) in enumerate(given)
                    if digest == ref.sha256 and k not in used), None)
        if hit is None:
            missing.append(ref)
            continue
        used.add(hit)
        ordered.append((ref.name, given[hit][1]))
    extra = [(name, digest) for k, (name, _, digest) in enumerate(given) if k not in used]
    problems = [f"{ref.name} (sha256 {ref.sha256[:12]}…, {ref.size:,} bytes) is not among the "
                "files given" for ref in missing]
    problems += [f"{name} (sha256 {digest[:12]}…) is not a file of the scenario"
                 for name, digest in extra]
    if problems and not allow_different:
        raise DataError("the files differ from the scenario's: " + "; ".join(problems)
                        + " (pass the scenario's files, or allow different data)")
    ordered += [(name, content) for k, (name, content, _) in enumerate(given) if k not in used]
    return ordered, problems


def load_source(reference: DataReference, *, files: Sequence[tuple[str, bytes]] = (),
                fetch: Callable[..., Any] | None = None) -> SourcePanel:
    """Load the prices a data reference names, as the dashboard's sources do.

    Parameters
    ----------
    reference : DataReference
    files : sequence of (str, bytes)
        For uploads: the files, already put in order by :func:`match_files`; read by
        :func:`riskcore.ingest.load_files` with the reference's frequency, merges and renames.
    fetch : callable, optional
        For Yahoo: ``fetch(tickers, start, end)`` returning a
        :class:`riskcore.yahoo.FetchResult`; default :func:`riskcore.yahoo.fetch_prices`
        (its disk cache, then the network).

    Returns
    -------
    SourcePanel

    Raises
    ------
    DataError
        If no file could be read, or Yahoo returned no price.
    FetchError
        From the Yahoo fetch.
    """
    if reference.kind == "demo":
        from riskcore.demo import DEMO_DESCRIPTION, demo_prices  # noqa: PLC0415

        return SourcePanel(demo_prices(), None, "Simulated demo market", (DEMO_DESCRIPTION,))
    if reference.kind == "upload":
        from riskcore.ingest import load_files  # noqa: PLC0415

        result = load_files(list(files), frequency=reference.frequency,
                            names=dict(reference.names) or None)
        label = "Uploaded files: " + ", ".join(name for name, _ in files)
        if result.prices.empty:
            reasons = "; ".join(message for _, message in result.errors) or "no file given"
            raise DataError(f"no file could be read: {reasons}")
        volume = None if result.volume.empty else result.volume
        return SourcePanel(result.prices, volume, label, (), tuple(result.errors))
    if fetch is None:
        from riskcore.yahoo import fetch_prices as fetch  # noqa: PLC0415
    start, end = reference.fetch_start, reference.fetch_end
    result = fetch(" ".join(reference.tickers), start.date(),
                   None if end is None else end.date())
    if result.prices is None or result.prices.empty:
        raise DataError("Yahoo Finance returned no price: " + " ".join(result.messages))
    label = f"Yahoo Finance {start:%Y-%m-%d} → " + ("today" if end is None else f"{end:%Y-%m-%d}")
    return SourcePanel(result.prices, None, label, tuple(result.messages))


def scenario_dataset(scenario: Scenario, source: SourcePanel) -> Dataset:
    """Run the data pipeline of a scenario on its loaded source.

    :func:`riskcore.dataset.prepare_dataset` with the reference's selection, cleaning
    choices and window: the same call the dashboard makes.
    """
    ref = scenario.data
    return prepare_dataset(source.prices, volume=source.volume, policy=ref.cleaning,
                           assets=ref.assets, start=ref.start, as_of=ref.as_of,
                           source=source.label, notes=source.notes)


# ---------------------------------------------------------------------------- running


@dataclass(frozen=True, eq=False)
class ScenarioResult:
    """Everything the pages show for one scenario (see :func:`run_scenario`).

    Attributes
    ----------
    scenario : Scenario
    dataset : Dataset
        The data it ran on (provenance, window, notes, cleaning actions).
    decision_spec, backtest_spec : PortfolioSpec
        The specification as run: for the decision, the dataset's coins and the lookback
        clipped to the window; for the walk-forward run, the history's coins and the run start.
    portfolio : Portfolio
        :func:`riskcore.portfolio.build_portfolio` at the as-of date.
    backtest : BacktestResult
        :func:`riskcore.backtest.run_backtest` of the decision from the run start.
    benchmarks : BenchmarkRuns
        :func:`riskcore.backtest.benchmark_backtests` of that run.
    stress : pandas.DataFrame
        :func:`riskcore.stress.stress_test` of the decided weights (index ``scenario``).
    crashes : pandas.DataFrame or None
        :func:`riskcore.stress.historical_scenarios` on the history (None if not computed:
        see ``notes``).
    worst : pandas.DataFrame or None
        :func:`riskcore.stress.worst_periods` in the window (None if not computed).
    notes : tuple of str
        How the run start was chosen, and parts that could not be computed.
    """

    scenario: Scenario
    dataset: Dataset
    decision_spec: PortfolioSpec
    backtest_spec: PortfolioSpec
    portfolio: Any
    backtest: Any
    benchmarks: Any
    stress: pd.DataFrame
    crashes: pd.DataFrame | None
    worst: pd.DataFrame | None
    notes: tuple[str, ...] = ()

    def key_metrics(self) -> dict[str, float]:
        """Return the figures a comparison puts side by side (decimals; costs in USD).

        ``portfolio_volatility`` (annualized), ``diversification_ratio`` and
        ``effective_number_of_bets`` of the decision; ``annualized_return``,
        ``annualized_volatility``, ``max_drawdown`` (negative), ``sharpe_ratio``,
        ``turnover`` (one-way, total), ``annualized_turnover``, ``costs_paid`` (USD),
        ``cost_drag`` (costs / initial value) and ``n_rebalances`` of the walk-forward run.
        """
        m = self.backtest.metrics
        return {
            "portfolio_volatility": float(self.portfolio.portfolio_volatility),
            "diversification_ratio": float(self.portfolio.diversification_ratio),
            "effective_number_of_bets": float(self.portfolio.effective_number_of_bets),
            "annualized_return": float(m.annualized_return),
            "annualized_volatility": float(m.annualized_volatility),
            "max_drawdown": float(m.max_drawdown),
            "sharpe_ratio": float(m.sharpe_ratio),
            "turnover": float(m.turnover),
            "annualized_turnover": float(m.annualized_turnover),
            "costs_paid": float(m.costs_paid),
            "cost_drag": float(m.cost_drag),
            "n_rebalances": float(m.n_rebalances if m.n_rebalances is not None else np.nan),
        }


    def to_dict(self) -> dict[str, Any]:
        """Return the run's figures as plain JSON-ready data, floats at full precision.

        Keys: ``format`` ("riskcore-run"), ``software_version``, ``scenario``
        (:func:`scenario_to_dict`), ``data`` (source, window, run start, periods, coins),
        ``decision`` (weights, risk contributions, relative and marginal risk contributions,
        risk budget, volatility, diversification ratio, effective number of bets, leverage,
        cash weight, excluded coins, notes), ``metrics`` (:meth:`key_metrics`), ``backtest``
        (every :class:`riskcore.metrics.PortfolioMetrics` field of the run and of each
        benchmark), ``stress`` (scenario -> row of the stress table) and ``notes``. NaN and
        infinite values are None; dates are ISO text. ``json.dumps`` writes each float with
        the shortest text that reads back to the same number.
        """
        p, data = self.portfolio, self.dataset

        def series(values: pd.Series | None) -> dict[str, Any] | None:
            return None if values is None else {str(k): _plain(v) for k, v in values.items()}

        def metrics(run: Any) -> dict[str, Any]:
            return {k: _plain(v) for k, v in run.metrics.to_series().items()}

        window = data.window
        return {
            "format": "riskcore-run",
            "software_version": _version(),
            "scenario": scenario_to_dict(self.scenario),
            "data": {
                "source": data.source,
                "window_start": _plain(window.start if window is not None else None),
                "as_of": _plain(window.as_of if window is not None else None),
                "run_start": _plain(self.backtest.rebalance_dates[0]),
                "periods": len(data.prices),
                "periods_per_year": data.periods_per_year,
                "assets": [str(a) for a in data.prices.columns],
            },
            "decision": {
                "weights": series(p.weights),
                "risk_contributions": series(p.risk_contributions),
                "relative_risk_contributions": series(p.relative_risk_contributions),
                "marginal_risk_contributions": series(p.marginal_risk_contributions),
                "risk_budget": series(p.budget),
                "portfolio_volatility": _plain(p.portfolio_volatility),
                "diversification_ratio": _plain(p.diversification_ratio),
                "effective_number_of_bets": _plain(p.effective_number_of_bets),
                "leverage": _plain(p.leverage),
                "cash_weight": _plain(p.cash_weight),
                "excluded": list(p.excluded),
                "notes": list(p.notes),
            },
            "metrics": {k: _plain(v) for k, v in self.key_metrics().items()},
            "backtest": {"policy": metrics(self.backtest),
                         **{name: metrics(run) for name, run in self.benchmarks.runs.items()}},
            "stress": {str(s): {c: _plain(v) for c, v in row.items()}
                       for s, row in self.stress.iterrows()},
            "notes": [*self.notes, *self.backtest.notes, *self.benchmarks.notes],
        }


def _plain(value: Any) -> Any:
    """JSON-ready scalar: floats as floats (None for NaN and infinities), dates as ISO."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    return str(value)


def run_scenario(scenario: Scenario, dataset: Dataset, *,
                 progress: Callable[[str], Any] | None = None) -> ScenarioResult:
    """Run a scenario on its data as the dashboard's pages do.

    1. Decision (Allocation, Rebalance check and Stress pages):
       ``build_portfolio(dataset.prices, spec)`` with the spec's coins narrowed to the
       dataset's (the selection and window already applied), no start or as-of date (the
       window ends at the as-of date) and the lookback clipped to the window
       (:func:`riskcore.window.window_lookback`).
    2. Walk-forward (Rebalancing simulator): ``run_backtest(dataset.history, spec,
       initial_value=..., volume=dataset.volume, tradable=dataset.tradable)`` with the full
       lookback, from the window start, or, with the default window, from the first date on
       which half the coins have a full lookback (:func:`riskcore.window.universe_start`);
       then :func:`riskcore.backtest.benchmark_backtests` on the same inputs.
    3. Stress (Stress page): :func:`riskcore.stress.stress_test` of the decided weights on
       the decision's covariance under
       :meth:`StressSettings.scenarios`; the past crash windows
       (:func:`riskcore.stress.historical_scenarios` on the history) and the five worst
       periods of the window (:func:`riskcore.stress.worst_periods`).

    Parameters
    ----------
    scenario : Scenario
    dataset : Dataset
        From :func:`scenario_dataset` (or the page's :func:`riskcore.dataset.prepare_dataset`).
    progress : callable, optional
        Called with each step's name (:data:`RUN_STEPS`) before it starts.

    Returns
    -------
    ScenarioResult

    Raises
    ------
    DataError
        If the window has fewer than 3 dates, or no coin of the spec is in the data.
    RiskcoreError
        From the decision, the simulation or the stress table (the message says what and
        where). The past crashes and worst periods never stop the run: a failure there is a
        note.

    References
    ----------
    Roncalli (2013), *Introduction to Risk Parity and Budgeting*; the methods are those of
    :func:`riskcore.portfolio.build_portfolio` and :func:`riskcore.backtest.run_backtest`.
    """
    from riskcore import stress  # noqa: PLC0415 - scipy, only when run
    from riskcore.backtest import benchmark_backtests, run_backtest  # noqa: PLC0415
    from riskcore.portfolio import build_portfolio  # noqa: PLC0415
    from riskcore.window import universe_start, window_lookback  # noqa: PLC0415

    def step(name: str) -> None:
        if progress is not None:
            progress(name)

    spec = scenario.spec
    prices = dataset.prices
    history = dataset.history if dataset.history is not None else prices
    if len(prices) < 3:
        raise DataError(f"the analysis window has {len(prices)} date(s); a decision needs at "
                        "least 3 (2 returns): move the window")
    wanted = None if spec.assets is None else set(spec.assets)
    assets = tuple(a for a in prices.columns if wanted is None or a in wanted)
    if not assets:
        raise DataError(f"none of the specification's coins ({', '.join(spec.assets or ())}) "
                        "is in the data")
    notes: list[str] = []
    step("decision")
    decision_spec = replace(spec, start=None, as_of=None, assets=assets,
                            lookback=window_lookback(spec.lookback, len(prices)))
    portfolio = build_portfolio(prices, decision_spec)

    step("walk-forward")
    if scenario.data.default_window:
        start, start_note = universe_start(history, spec.lookback)
        notes.append(start_note)
    else:
        start = dataset.window.start if dataset.window is not None else prices.index[0]
    run_assets = tuple(a for a in history.columns if wanted is None or a in wanted)
    backtest_spec = replace(spec, start=start, as_of=None, assets=run_assets)
    inputs = {"initial_value": scenario.initial_value, "volume": dataset.volume,
              "tradable": dataset.tradable}
    backtest = run_backtest(history, backtest_spec, **inputs)
    step("benchmarks")
    benchmarks = benchmark_backtests(history, backtest, **inputs)

    step("stress")
    weights = portfolio.weights[portfolio.weights.abs() > 0]
    table = stress.stress_test(weights, portfolio.covariance, scenario.stress.scenarios(),
                               periods_per_year=dataset.periods_per_year)
    crashes = worst = None
    try:
        crashes = stress.historical_scenarios(history, weights)
    except RiskcoreError as exc:
        notes.append(f"Past crashes not computed: {exc}")
    try:
        worst = stress.worst_periods(prices, weights, horizon=scenario.stress.horizon, count=5)
    except RiskcoreError as exc:
        notes.append(f"Worst periods not computed: {exc}")
    return ScenarioResult(scenario, dataset, decision_spec, backtest_spec, portfolio, backtest,
                          benchmarks, table, crashes, worst, tuple(notes))
