"""Coin identity on the Data page: merge files that hold the same coin, or rename a coin.

The reader names every asset by its base symbol and never merges two files on its own
(:attr:`riskcore.ingest.LoadResult.same_coin`). Here the user chooses, per coin found in
several files, to merge them (the first file wins and overlaps are reported) or keep them
apart, and can type a new name for any asset. Choices are kept in session state for the
current set of files and applied by :func:`ui.data.upload_names`.
"""

from __future__ import annotations

import streamlit as st

from ui.data import files_key
from ui.text import plain

_EDITOR = "asset_names_editor"


def _store_renames(defaults: list[str], key: str) -> None:
    """Turn the editor's edited rows into ``default name -> new name`` for these files."""
    edited = st.session_state.get(_EDITOR, {}).get("edited_rows", {})
    renames = {defaults[int(row)]: str(change.get("new name") or "").strip()
               for row, change in edited.items() if int(row) < len(defaults)}
    store = st.session_state.setdefault("asset_renames", {})
    store[key] = {d: n for d, n in renames.items() if n}


def coin_names_editor(load) -> None:
    """Render the same-coin merge choices and the rename table for an upload."""
    held = st.session_state.get("uploads") or {}
    key = files_key(held)
    if load.same_coin:
        st.markdown("**The same coin in several files**: merge each into one column (the "
                    "first file wins; overlaps and disagreements are listed above) or keep "
                    "them apart under distinct names.")
        for symbol, members in load.same_coin.items():
            st.toggle(plain(f"Merge {symbol}: {', '.join(members)}"), key=f"merge_{symbol}",
                      persist_state="session")
    if load.assets.empty:
        return
    base = load.assets[["file", "source_name", "symbol", "quote", "default_name"]]
    defaults = base["default_name"].tolist()
    stored = st.session_state.get("asset_renames", {}).get(key, {})
    frame = base.assign(**{"new name": [stored.get(d, "") for d in defaults]})
    with st.expander("Rename coins"):
        st.caption("Type a new name for any coin; two coins given the same name are merged.")
        st.data_editor(
            frame.rename(columns={"source_name": "name in the file"}), hide_index=True,
            key=_EDITOR, disabled=["file", "name in the file", "symbol", "quote",
                                   "default_name"],
            on_change=_store_renames, args=(defaults, key),
            column_config={"new name": st.column_config.TextColumn(max_chars=40)},
        )

