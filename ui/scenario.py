"""Scenarios on the page: a spec written back into the widgets, kept in the session and URL.

:func:`ui.spec.allocation_spec` reads the widgets' session state into one
:class:`riskcore.PortfolioSpec`; :func:`apply_spec` is its inverse, so a scenario loaded from
a file, a link or the session's list of saved scenarios shows exactly the view it was saved
from. The widget keys are those of :data:`ui.compute.ALLOCATION_DEFAULTS` and
:data:`ui.compute.TRADING_DEFAULTS`.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import OrderedDict

import pandas as pd
import streamlit as st

import riskcore
import riskcore.scenario
from ui.caching import content_sha256
from ui.compute import ALLOCATION_DEFAULTS, budget_key, hold_key
from ui.text import plain

#: Simulator trigger widgets (app_pages/rebalance.py) and the percent scale of each.
TRIGGER_KEYS = {"relative_band": "bt_relative_band", "risk_band": "bt_risk_band",
                "volatility_band": "bt_volatility_band"}


def spec_state(spec: riskcore.PortfolioSpec) -> dict[str, object]:
    """Return the session-state values that make :func:`ui.spec.allocation_spec` give ``spec``.

    Typed budgets are the spec's normalized budgets in percent with no coin held (the same
    normalized budget); bounds and group limits go to the constraint editors' stored values.
    """
    state: dict[str, object] = {
        "method": spec.method,
        "estimator": spec.estimator,
        "lookback": int(spec.lookback),
        "half_life": int(round(spec.half_life_periods)) if spec.estimator == "ewma"
        else ALLOCATION_DEFAULTS["half_life"],
        "alignment": spec.alignment,
        "volatility_floor_pct": 100 * (spec.volatility_floor or 0.0),
        "stablecoins": spec.stablecoins,
        "risk_measure": spec.risk_measure,
        "es_level": float(spec.es_level),
        "vol_target_on": spec.target_volatility is not None,
        "vol_target_pct": 100 * (spec.target_volatility or
                                 ALLOCATION_DEFAULTS["vol_target_pct"] / 100),
        "max_leverage": float(spec.max_leverage),
        "cash": spec.sleeve_asset,
        "bounds_value": tuple((a, float(lo), float(hi)) for a, lo, hi in spec.bounds),
        "groups_value": tuple((str(n), tuple(m), float(lo), float(hi))
                              for n, m, lo, hi in spec.group_limits),
        "groups_rows": [(str(n), ", ".join(m), 100 * float(lo), 100 * float(hi))
                        for n, m, lo, hi in spec.group_limits],
        "rebalance_mode": spec.mode,
        "fee_bps": spec.costs.fee * 1e4,
        "spread_bps": spec.costs.half_spread * 1e4,
        "impact_bps": spec.costs.impact * 1e4,
        "min_trade_usd": float(spec.costs.min_trade),
    }
    if spec.n_clusters is not None:
        state |= {"n_clusters": int(spec.n_clusters), "cluster_source": "correlation"}
    if spec.clusters:
        state |= {"cluster_source": "groups",
                  "cluster_groups": {g: list(m) for g, m in spec.clusters}}
        state |= {f"cbudget_{g}": float(b) for g, b in spec.cluster_budget}
    if spec.risk_budget:
        total = sum(b for _, b in spec.risk_budget) or 1.0
        for asset, b in spec.risk_budget:
            state[budget_key(asset)] = 100 * b / total
            state[hold_key(asset)] = False
    triggers = [name for name in ("frequency", "band", *TRIGGER_KEYS)
                if getattr(spec, name) is not None]
    state["bt_triggers"] = triggers
    if spec.frequency is not None:
        state["bt_frequency"] = spec.frequency
    if spec.band is not None:
        state["band_pp"] = 100 * spec.band
    for name, key in TRIGGER_KEYS.items():
        if getattr(spec, name) is not None:
            state[key] = 100 * getattr(spec, name)
    return state


def apply_spec(spec: riskcore.PortfolioSpec) -> None:
    """Write ``spec`` into the widgets' session state (the editors restart from it)."""
    for key, value in spec_state(spec).items():
        st.session_state[key] = value
    for editor in ("bounds_editor", "groups_editor"):
        st.session_state.pop(editor, None)


# ----------------------------------------------------------------------------- the scenario
def triggers() -> tuple[tuple[str, object], ...]:
    """Return the simulator's rebalancing triggers from session state (the page's widgets).

    The Rebalancing simulator renders these widgets (keys ``bt_triggers``, ``bt_frequency``,
    ``band_pp`` and ``bt_<trigger>``); until it has, its defaults apply (an absolute band).
    """
    state = st.session_state
    out: list[tuple[str, object]] = []
    for trigger in state.get("bt_triggers", ["band"]):
        if trigger == "frequency":
            out.append(("frequency", state.get("bt_frequency", "M")))
        elif trigger == "band":
            out.append(("band", float(state["band_pp"]) / 100))
        else:
            out.append((trigger, float(state.get(TRIGGER_KEYS[trigger], 5.0)) / 100))
    return tuple(out)


def data_reference() -> riskcore.scenario.DataReference:
    """Return the reference of the data in use: source, files or tickers, selection, window.

    Raises :class:`riskcore.RiskcoreError` when nothing is loaded yet.
    """
    from riskcore.scenario import DataReference, FileReference
    from ui import data

    state = st.session_state
    source = state.get("source", data.DEMO)
    selected = data._selected()  # noqa: SLF001 - the sidebar's own selection rule
    if selected is None:
        raise riskcore.DataError("no prices are loaded yet: choose a source in the sidebar")
    loaded, chosen = selected
    options = list(loaded.prices.columns)
    fields: dict[str, object] = {
        "assets": None if list(chosen) == options else tuple(chosen),
        "cleaning": data.quality_policy(),
    }
    if not data.window_is_default():
        fields |= {"start": state.get("win_start"), "as_of": state.get("win_as_of")}
    if source == data.UPLOAD:
        held = state.get("uploads") or {}
        names = data.upload_names(held, loaded.load) if loaded.load is not None else {}
        return DataReference(kind="upload", frequency=state.get("frequency", "native"),
                             files=tuple(FileReference(n, content_sha256(b), len(b))
                                         for n, b in held.items()),
                             names=tuple(sorted(names.items())), **fields)
    if source == data.YAHOO:
        tickers, start, end = state["yahoo_request"]
        return DataReference(kind="yahoo", tickers=tuple(tickers.replace(",", " ").split()),
                             fetch_start=start, fetch_end=end, **fields)
    return DataReference(kind="demo", **fields)


def current_scenario(name: str = "Current") -> riskcore.scenario.Scenario:
    """Return the scenario on screen: the spec of every page, its data and the stress settings.

    Raises :class:`riskcore.RiskcoreError` for settings riskcore refuses or no data.
    """
    from riskcore.scenario import Scenario, StressSettings
    from ui.compute import cost_model
    from ui.spec import allocation_spec

    state = st.session_state
    reference = data_reference()
    from ui import data

    loaded, chosen = data._selected()  # noqa: SLF001
    spec = allocation_spec(list(chosen), triggers=triggers(),
                           mode=state["rebalance_mode"], costs=cost_model())
    stress = StressSettings(
        volatility_multiplier=float(state.get("st_mult", 2.0)),
        correlation=float(state.get("st_corr", 0.9)),
        stablecoin_volatility=float(state.get("st_depeg", 50.0)) / 100 or None,
        horizon=int(state.get("st_horizon", 7)))
    return Scenario(name=name, spec=spec, data=reference,
                    initial_value=float(state.get("bt_initial", 100_000.0)), stress=stress)


def apply_scenario(scenario: riskcore.scenario.Scenario) -> list[str]:
    """Show ``scenario`` on every page: its data source, selection, window, spec and stress.

    Returns what could not be applied (an upload scenario needs its files: their names and
    hashes are listed until the files in the session match them).
    """
    from ui import data

    state = st.session_state
    ref = scenario.data
    missing: list[str] = []
    if ref.kind == "demo":
        state["source"] = data.DEMO
    elif ref.kind == "yahoo":
        state["source"] = data.YAHOO
        tickers = " ".join(ref.tickers)
        end = (ref.fetch_end or pd.Timestamp.now(tz="UTC")).date()
        state["yahoo_tickers"] = tickers
        state["yahoo_range"] = (ref.fetch_start.date(), end)
        state["yahoo_request"] = (tickers, ref.fetch_start.date(), end)
    else:
        state["source"] = data.UPLOAD
        state["frequency"] = ref.frequency
        held = state.get("uploads") or {}
        try:
            ordered, _ = riskcore.scenario.match_files(ref, list(held.items()))
        except riskcore.RiskcoreError:
            held = stored_files(ref) or held  # uploaded earlier on this server
        try:
            ordered, _ = riskcore.scenario.match_files(ref, list(held.items()))
        except riskcore.RiskcoreError:
            return [f"{f.name} (sha256 {f.sha256[:12]}…, {f.size:,} bytes)" for f in ref.files]
        state["uploads"] = dict(ordered)
        state.setdefault("asset_renames", {})[data.files_key(dict(ordered))] = dict(ref.names)
    for field, value in dataclasses.asdict(ref.cleaning).items():
        key = f"q_{field}_pct" if f"q_{field}_pct" in data.QUALITY_DEFAULTS else f"q_{field}"
        state[key] = value * 100 if key.endswith("_pct") else value
    if ref.start is None and ref.as_of is None:
        state["win_preset"] = data.DEFAULT_WINDOW
    else:
        state["win_preset"] = data.CUSTOM_WINDOW
        state["win_start"], state["win_as_of"] = ref.start.date(), ref.as_of.date()
    state["_pending_selection"] = ref.assets
    apply_spec(scenario.spec)
    state["bt_initial"] = float(scenario.initial_value)
    state["st_mult"] = float(scenario.stress.volatility_multiplier)
    state["st_corr"] = float(scenario.stress.correlation)
    state["st_depeg"] = 100 * float(scenario.stress.stablecoin_volatility or 0.0)
    state["st_horizon"] = int(scenario.stress.horizon)
    return missing


def apply_pending_selection(options: list[str], key: str) -> None:
    """Select a loaded scenario's coins once its data are loaded (called by the asset picker)."""
    state = st.session_state
    if "_pending_selection" not in state:
        return
    wanted = state.pop("_pending_selection")
    state[key] = list(options) if wanted is None else [a for a in wanted if a in options]


# ----------------------------------------------------------------------------- the URL
#: Largest total size of uploaded files the server keeps for reloads and links (bytes).
UPLOAD_STORE_BYTES = 200 * 2**20


@st.cache_resource(show_spinner=False)
def upload_store() -> tuple[OrderedDict, threading.Lock]:
    """Return this server's uploaded files by SHA-256, ``{sha256: (name, bytes)}``, and a lock.

    A reload starts a new session without its uploads; a link to an upload-based scenario
    names its files by content hash, so on the same server they are found here and the
    view comes back whole. Oldest files go first beyond :data:`UPLOAD_STORE_BYTES`.
    """
    return OrderedDict(), threading.Lock()


def remember_uploads(files: dict[str, bytes]) -> None:
    """Keep the session's uploaded files in :func:`upload_store` (bounded, oldest out)."""
    store, lock = upload_store()
    with lock:
        for name, content in files.items():
            digest = content_sha256(content)
            store[digest] = (name, content)
            store.move_to_end(digest)
        while sum(len(c) for _, c in store.values()) > UPLOAD_STORE_BYTES and len(store) > 1:
            store.popitem(last=False)


def stored_files(reference) -> dict[str, bytes] | None:
    """Return the reference's files from :func:`upload_store`, or None if one is missing."""
    store, lock = upload_store()
    with lock:
        found = {f.name: store[f.sha256][1] for f in reference.files if f.sha256 in store}
    return found if len(found) == len(reference.files) else None


def restore_from_url() -> None:
    """Apply the scenario of the page's link once per session (before any widget renders).

    A link to an upload-based scenario waits, saying which files to upload (name and
    content hash), and applies itself once the uploaded files match them.
    """
    from riskcore.scenario import QUERY_PARAM, decode_query

    state = st.session_state
    param = st.query_params.get(QUERY_PARAM)
    if param is None or state.get("_url_applied") == param:
        return
    try:
        scenario = decode_query({QUERY_PARAM: param})
    except riskcore.RiskcoreError as exc:
        state["_url_applied"] = param
        st.sidebar.error(plain(f"This link's scenario cannot be read: {exc}"))
        return
    missing = apply_scenario(scenario)
    if missing:
        state["source"] = "Upload files"
        st.sidebar.info(plain("This link's scenario runs on uploaded files: upload "
                              + "; ".join(missing) + " to see it."))
        return
    state["_url_applied"] = param


def sync_url() -> None:
    """Write the scenario on screen into the link (one compact query parameter).

    Called at the end of every run; a link still waiting for its files is left as it is.
    """
    from riskcore.scenario import QUERY_PARAM, encode_query

    state = st.session_state
    waiting = st.query_params.get(QUERY_PARAM)
    if waiting is not None and state.get("_url_applied") != waiting:
        return
    try:
        scenario = current_scenario("Link")
    except riskcore.RiskcoreError:
        return
    if scenario.data.kind == "upload":
        remember_uploads(state.get("uploads") or {})
    what = (scenario.spec, scenario.data, scenario.stress, scenario.initial_value)
    if state.get("_url_scenario") == what and waiting is not None:
        return  # unchanged: keep the link (and its creation time) as it is
    encoded = encode_query(scenario)[QUERY_PARAM]
    st.query_params[QUERY_PARAM] = encoded
    state["_url_applied"], state["_url_scenario"] = encoded, what
