"""The shared sidebar and the data pipeline every page reads from.

Session state holds only the user's inputs (source choice, uploaded file bytes, the Yahoo
request, selected assets, cleaning choices); everything derived is recomputed through
``ui.caching`` wrappers around riskcore.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from dataclasses import fields as _fields

import pandas as pd
import streamlit as st

import riskcore
from riskcore.dataset import DEFAULT_CLEANING, Dataset, prepare_dataset
from riskcore.errors import RiskcoreError
from riskcore.window import (
    WINDOW_PRESETS,
    AnalysisWindow,
    analysis_window,
    common_window_note,
    preset_window,
)
from ui.caching import content_sha256, shared
from ui.errors import shown_errors
from ui.text import plain

DEMO, UPLOAD, YAHOO = "Demo (simulated)", "Upload files", "Yahoo Finance"
SOURCES = (DEMO, UPLOAD, YAHOO)
DEFAULT_TICKERS = (
    "BTC-USD ETH-USD BNB-USD SOL-USD XRP-USD ADA-USD DOGE-USD AVAX-USD LINK-USD USDT-USD"
)
UPLOAD_TYPES = ["csv", "txt", "tsv", "xlsx"]


# ----------------------------------------------------------------------------- cached sources
@shared(show_spinner=False, max_entries=32)
def history_note(prices: pd.DataFrame) -> str:
    """Cache :func:`riskcore.window.common_window_note` (the pages' caption on every run)."""
    return common_window_note(prices)



@shared(show_spinner=False, max_entries=1)
def demo_panel() -> pd.DataFrame:
    """Cache the simulated demo market."""
    return riskcore.demo_prices()


@shared(show_spinner="Reading files…", max_entries=8)
def load_uploads(digests: tuple[tuple[str, str], ...], frequency: str,
                 names: tuple[tuple[str, str], ...] = (), *,
                 _files: tuple[tuple[str, bytes], ...]):
    """Cache reading uploaded files (name, bytes) into one panel with its load report.

    Keyed on ``digests``, each file's (name, SHA-256) from :func:`ui.caching.content_sha256`
    (computed once per upload, not hashed again on every run), not on the bytes ``_files``.
    ``names`` renames assets (default name -> wanted name); equal names merge.
    """
    from riskcore.ingest import load_files

    return load_files(list(_files), frequency=frequency, names=dict(names) or None)


def _load_held(held: dict[str, bytes], frequency: str, names: tuple = ()):
    files = tuple(held.items())
    digests = tuple((name, content_sha256(content)) for name, content in files)
    return load_uploads(digests, frequency, names, _files=files)


def files_key(files) -> str:
    """Short digest of the uploaded file names: renames belong to one set of files."""
    return hashlib.sha1("\x1f".join(sorted(files)).encode()).hexdigest()[:10]


def upload_names(files, load) -> dict[str, str]:
    """Return the user's renames and same-coin merges for these files: default -> final.

    A same-coin group is merged only when the user chose it (``merge_<symbol>``); renames
    come from the Data page's Files table. Names that no longer exist are ignored.
    """
    state = st.session_state
    names: dict[str, str] = {}
    for symbol, members in load.same_coin.items():
        if state.get(f"merge_{symbol}", False):
            names.update({m: symbol for m in members})
    defaults = set(load.assets["default_name"]) if not load.assets.empty else set()
    renames = state.get("asset_renames", {}).get(files_key(files), {})
    names.update({d: n for d, n in renames.items() if d in defaults and n.strip()})
    return {d: n.strip() for d, n in names.items() if d != n.strip()}


@shared(show_spinner=False, max_entries=8, ttl=3600)
def fetch_yahoo(tickers: str, start: dt.date, end: dt.date):
    """Fetch from Yahoo Finance (through riskcore's disk cache) with a progress bar.

    Cached for an hour per request, so reruns do not ask Yahoo again for the latest day.
    """
    bar = st.progress(0.0, text="Fetching from Yahoo Finance…")

    def progress(done: int, total: int, ticker: str) -> None:
        bar.progress(done / max(total, 1), text=f"Fetched {ticker} ({done}/{total})")

    try:
        return riskcore.fetch_prices(tickers, start, end, progress=progress)
    finally:
        bar.empty()


# ----------------------------------------------------------------------------- sidebar
def _remember_uploads() -> None:
    files = st.session_state.get("upload") or []
    st.session_state["uploads"] = {f.name: f.getvalue() for f in files}


def _request_fetch() -> None:
    # riskcore parses the text (commas or spaces, case, duplicates) and says what it did
    start, end = st.session_state["yahoo_range"]
    st.session_state["yahoo_request"] = (st.session_state["yahoo_tickers"].strip(), start, end)


def sidebar() -> None:
    """Render the data-source widgets shared by every page (called from app.py)."""
    st.session_state.setdefault("uploads", {})
    with st.sidebar:
        st.radio("Data source", SOURCES, key="source")
        source = st.session_state["source"]
        if source == UPLOAD:
            limit = st.get_option("server.maxUploadSize")
            st.file_uploader(
                "Price files (CSV or Excel)",
                type=UPLOAD_TYPES,
                accept_multiple_files=True,
                key="upload",
                on_change=_remember_uploads,
                help=f"Up to {limit} MB per file (server.maxUploadSize in .streamlit/config.toml). "
                "Yahoo, CoinGecko, CoinMarketCap, CryptoDataDownload, Kaggle, Binance klines, "
                "wide or long panels: the layout is recognised from the content.",
            )
            st.caption(f"Up to {limit} MB per file; several files at once.")
            held = st.session_state["uploads"]
            if held:
                st.caption("In use: " + plain(", ".join(sorted(held))))
            st.radio(
                "Intraday files",
                ["native", "daily"],
                format_func={"native": "keep their frequency", "daily": "daily UTC closes"}.get,
                key="frequency",
                horizontal=True,
            )
        elif source == YAHOO:
            today = dt.date.today()
            st.text_area("Tickers (spaces or commas)", DEFAULT_TICKERS, key="yahoo_tickers")
            st.date_input(
                "Date range", (today - dt.timedelta(days=4 * 365), today), key="yahoo_range"
            )
            complete = len(st.session_state.get("yahoo_range") or ()) == 2
            if not complete:
                st.caption("Pick an end date too.")
            st.button("Fetch prices", on_click=_request_fetch, type="primary",
                      disabled=not complete)


# ----------------------------------------------------------------------------- pipeline
@dataclass(frozen=True)
class SourceData:
    """The chosen source's panel before cleaning, with what the loader reported."""

    prices: pd.DataFrame | None
    label: str
    notes: tuple[str, ...] = ()
    load: object | None = None  # riskcore.ingest.LoadResult for uploads
    fetch: object | None = None  # riskcore.yahoo.FetchResult for Yahoo


_PERCENT = ("extreme_return", "depeg_tolerance")  # decimals in riskcore, percent here
#: Session-state keys of the Data page's cleaning choices and their defaults
#: (:data:`riskcore.dataset.DEFAULT_CLEANING`, in percent at the UI edge).
QUALITY_DEFAULTS = {
    f"q_{f.name}_pct" if f.name in _PERCENT else f"q_{f.name}":
        getattr(DEFAULT_CLEANING, f.name) * 100 if f.name in _PERCENT
        else getattr(DEFAULT_CLEANING, f.name)
    for f in _fields(DEFAULT_CLEANING)
}


def quality_policy():
    """Return the cleaning choices of the Data page (defaults until the user changes them)."""
    from riskcore.quality import QualityPolicy

    state = {k: st.session_state.get(k, v) for k, v in QUALITY_DEFAULTS.items()}
    fields = {k.removeprefix("q_"): v for k, v in state.items() if not k.endswith("_pct")}
    fields["extreme_return"] = state["q_extreme_return_pct"] / 100  # percent at the UI edge
    fields["depeg_tolerance"] = state["q_depeg_tolerance_pct"] / 100
    return QualityPolicy(**fields)


@shared(show_spinner=False, max_entries=8)
def clean(prices: pd.DataFrame, assets: tuple[str, ...], policy):
    """Cache :func:`riskcore.quality.clean_prices` of the ``assets`` columns of ``prices``."""
    from riskcore.quality import clean_prices

    return clean_prices(prices[list(assets)], policy)


def source_data() -> SourceData:
    """Return the chosen source's panel before cleaning, its label and what the loader said."""
    source = st.session_state.get("source", DEMO)
    if source == DEMO:
        return SourceData(demo_panel(), "Simulated demo market", (riskcore.demo.DEMO_DESCRIPTION,))
    if source == UPLOAD:
        held = st.session_state.get("uploads") or {}
        if not held:
            return SourceData(None, "Upload", ("Upload one or more price files in the sidebar.",))
        frequency = st.session_state.get("frequency", "native")
        result = _load_held(held, frequency)
        names = upload_names(held, result)
        if names:
            result = _load_held(held, frequency, tuple(sorted(names.items())))
        label = "Uploaded files: " + ", ".join(held)
        if result.prices.empty:
            return SourceData(None, label, ("No file could be read.",), load=result)
        return SourceData(result.prices, label, load=result)
    request = st.session_state.get("yahoo_request")
    if request is None:
        return SourceData(None, "Yahoo Finance",
                          ("Enter tickers and press Fetch prices in the sidebar.",))
    tickers, start, end = request
    result = fetch_yahoo(tickers, start, end)
    return SourceData(result.prices, f"Yahoo Finance {start} → {end}", tuple(result.messages),
                      fetch=result)


def _selection_key(columns: list[str]) -> str:
    digest = hashlib.sha1("\x1f".join(columns).encode()).hexdigest()[:10]
    return f"assets_{digest}"


def asset_picker() -> None:
    """Render the asset selection for the loaded panel (sidebar, every run, from app.py)."""
    try:
        prices = source_data().prices
    except RiskcoreError:
        return  # the page shows the error in full
    if prices is None:
        return
    options = list(prices.columns)
    key = _selection_key(options)
    from ui.scenario import apply_pending_selection  # ui.scenario reads this module

    apply_pending_selection(options, key)
    chosen = len(st.session_state.get(key, options))
    with st.sidebar.expander(f"Assets: {chosen} of {len(options)} selected"):
        st.multiselect("Assets", options, default=options, key=key,
                       label_visibility="collapsed")


def _selected() -> tuple[SourceData, list[str]] | None:
    """Return the source and the selected columns, or None when nothing is loaded."""
    source = source_data()
    if source.prices is None:
        return None
    options = list(source.prices.columns)
    return source, st.session_state.get(_selection_key(options), options)


# ----------------------------------------------------------------------------- window
DEFAULT_WINDOW = "Whole history (as-of: last date all coins are priced)"
CUSTOM_WINDOW = "Custom dates"
WINDOW_CHOICES = (DEFAULT_WINDOW, *WINDOW_PRESETS, CUSTOM_WINDOW)


def _apply_preset() -> None:
    preset = st.session_state.get("win_preset", DEFAULT_WINDOW)
    if preset in WINDOW_PRESETS:
        start, as_of = preset_window(preset)
        st.session_state["win_start"], st.session_state["win_as_of"] = start.date(), as_of.date()


def _custom_dates() -> None:
    st.session_state["win_preset"] = CUSTOM_WINDOW


def _window_dates() -> tuple[dt.date | None, dt.date | None]:
    """Return the user's window dates (None = the default of the selected coins)."""
    state = st.session_state
    if state.get("win_preset", DEFAULT_WINDOW) == DEFAULT_WINDOW:
        return None, None
    return state.get("win_start"), state.get("win_as_of")


def window_is_default() -> bool:
    """Tell whether the user kept the default analysis window (no preset, no typed dates)."""
    return st.session_state.get("win_preset", DEFAULT_WINDOW) == DEFAULT_WINDOW


def window_picker() -> None:
    """Render the analysis window shared by every page (sidebar, every run, from app.py).

    The default window runs from the first loaded date to the last date on which every
    selected coin has a price; a named window or typed dates replace it on every page.
    """
    try:
        selected = _selected()
        panel = None if selected is None else _cleaned_panel(*selected)
    except RiskcoreError:
        return  # the page shows the error in full
    if panel is None or panel.empty:
        return
    try:
        window: AnalysisWindow | None = analysis_window(panel, *_window_dates())
    except RiskcoreError:
        window = None  # the page shows the error; the dates stay editable
    state = st.session_state
    first, last = panel.index[0].date(), panel.index[-1].date()
    if window is not None:
        state["win_start"], state["win_as_of"] = window.start.date(), window.as_of.date()
    for key in ("win_start", "win_as_of"):  # a new panel may not cover stored dates
        if key in state and state[key] is not None:
            state[key] = min(max(state[key], first), last)
    label = (f"Analysis window: {state['win_start']:%Y-%m-%d} → {state['win_as_of']:%Y-%m-%d}"
             if state.get("win_start") and state.get("win_as_of") else "Analysis window")
    with st.sidebar.expander(label, expanded=False):
        st.selectbox("Window", WINDOW_CHOICES, key="win_preset", on_change=_apply_preset,
                     help="Named crash and calm periods set both dates in one click.")
        st.date_input("Start", min_value=first, max_value=last, key="win_start",
                      on_change=_custom_dates, format="YYYY-MM-DD")
        st.date_input("As of (decision date)", min_value=first, max_value=last,
                      key="win_as_of", on_change=_custom_dates, format="YYYY-MM-DD",
                      help="Lookbacks and rolling windows count back from this date.")


def _cleaned_panel(source: SourceData, chosen: list[str]) -> pd.DataFrame:
    """Return the cleaned panel of the selected coins (all loaded dates)."""
    cleaned = clean(source.prices, tuple(chosen), quality_policy())
    return cleaned.prices.dropna(how="all")


@shared(show_spinner=False, max_entries=4)  # each holds ~5 panels: keep few
def prepared(panel: pd.DataFrame, volume: pd.DataFrame | None, policy, assets: tuple[str, ...],
             start, as_of, label: str, notes: tuple[str, ...]) -> Dataset:
    """Cache :func:`riskcore.dataset.prepare_dataset` (selection, cleaning, window)."""
    return prepare_dataset(panel, volume=volume, policy=policy, assets=assets, start=start,
                           as_of=as_of, source=label, notes=notes)


def current_dataset(*, min_assets: int = 2) -> Dataset:
    """Return the selected coins inside the analysis window, or stop the page with guidance.

    The pipeline is :func:`riskcore.dataset.prepare_dataset` (the command line runs the same):
    coins without any price after cleaning or inside the window are left out with a note
    naming them; volume is converted to USD per day (the market-impact unit).
    """
    with shown_errors():
        source = source_data()
    if source.load is not None:
        for _, message in source.load.errors:
            st.error(plain(message))
    if source.prices is None:
        for note in source.notes:
            st.info(plain(note))
        st.stop()
    options = list(source.prices.columns)
    chosen = st.session_state.get(_selection_key(options), options)
    with shown_errors("Cleaning: "):
        policy = quality_policy()
    volume = source.load.volume if source.load is not None else None
    with shown_errors():
        data = prepared(source.prices, volume, policy, tuple(chosen), *_window_dates(),
                        source.label, tuple(source.notes))
    if data.empty_assets:
        st.warning(plain(f"No prices for {', '.join(data.empty_assets)}: left out of the "
                         "analysis."))
    prices, window = data.prices, data.window
    st.caption(f"Analysis window {window.start:%Y-%m-%d} → {window.as_of:%Y-%m-%d} "
               f"({len(prices):,} periods, as-of = decision date; change it in the sidebar).")
    if data.window_notes:
        st.info(plain(" ".join(data.window_notes)))
    if prices.shape[1] < min_assets or len(prices) < 2:
        st.warning(f"This page needs at least {min_assets} assets with prices inside the "
                   f"analysis window {window.start:%Y-%m-%d} → {window.as_of:%Y-%m-%d}: move "
                   "the window or select more coins in the sidebar.")
        st.stop()
    return data
