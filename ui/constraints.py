"""Editors for weight bounds and group constraints (the Allocation page's "Constraints").

The edited values are stored as small tuples in session state (``bounds_value``,
``groups_value``) so every page builds the same portfolio; the editors start from them.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from riskcore.assets import base_symbol, is_stablecoin
from riskcore.errors import RiskcoreError
from ui.compute import budget_key, budgets, default_budget_entry, hold_key
from ui.text import plain

LAYER_1 = {"BTC", "ETH", "SOL", "ADA", "AVAX", "DOT", "BNB", "TRX", "NEAR", "ATOM", "ALGO"}


def bounds_editor(assets: list[str]) -> None:
    """Per-asset minimum and maximum weight (percent in the editor, decimals stored)."""
    stored = dict((a, (lo, hi)) for a, lo, hi in st.session_state["bounds_value"])
    frame = pd.DataFrame({
        "asset": assets,
        "min %": [100 * stored.get(a, (0.0, 1.0))[0] for a in assets],
        "max %": [100 * stored.get(a, (0.0, 1.0))[1] for a in assets],
    })
    edited = st.data_editor(
        frame, hide_index=True, disabled=["asset"], key="bounds_editor",
        column_config={c: st.column_config.NumberColumn(c, min_value=0.0, max_value=100.0,
                                                        step=0.5) for c in ("min %", "max %")},
    )
    rows = edited.fillna({"min %": 0.0, "max %": 100.0})
    st.session_state["bounds_value"] = tuple(
        (asset, low / 100, high / 100)
        for asset, low, high in zip(rows["asset"], rows["min %"], rows["max %"], strict=True)
        if low > 0 or high < 100
    )


def default_groups(assets: list[str]) -> list[tuple[str, str, float, float]]:
    """Stablecoins and layer-1 coins among ``assets`` as starting groups (no limits)."""
    stables = [a for a in assets if is_stablecoin(a)]
    layer1 = [a for a in assets if base_symbol(a) in LAYER_1]
    groups = []
    if stables:
        groups.append(("stablecoins", ", ".join(stables), 0.0, 100.0))
    if layer1:
        groups.append(("layer-1", ", ".join(layer1), 0.0, 100.0))
    return groups


def groups_editor(assets: list[str]) -> list[str]:
    """Group constraints on members' total weight; returns messages about bad members.

    All rows are kept in ``groups_rows`` (so rows without limits stay in the editor); the
    groups with a limit and known members form ``groups_value``.
    """
    rows = st.session_state.get("groups_rows") or default_groups(assets)
    frame = pd.DataFrame(rows, columns=["group", "members", "min %", "max %"])
    edited = st.data_editor(
        frame, hide_index=True, num_rows="dynamic", key="groups_editor",
        column_config={
            "members": st.column_config.TextColumn("members (comma separated)", width="large"),
            **{c: st.column_config.NumberColumn(c, min_value=0.0, max_value=100.0, step=0.5)
               for c in ("min %", "max %")},
        },
    )
    edited = edited.fillna({"min %": 0.0, "max %": 100.0})
    st.session_state["groups_rows"] = list(edited.itertuples(index=False, name=None))
    problems, groups = [], []
    for name, members_text, low, high in st.session_state["groups_rows"]:
        if not isinstance(members_text, str) or not members_text.strip():
            continue
        members = [m.strip() for m in members_text.split(",") if m.strip()]
        unknown = [m for m in members if m not in assets]
        if unknown:
            problems.append(f"Group {name or '(unnamed)'}: {', '.join(unknown)} not among the "
                            f"selected assets; the group is ignored until fixed.")
            continue
        if low > 0 or high < 100:
            groups.append((str(name or f"group {len(groups) + 1}"), tuple(members),
                           low / 100, high / 100))
    st.session_state["groups_value"] = tuple(groups)
    return problems


def group_members(assets: list[str]) -> dict[str, list[str]]:
    """Return the editor's groups (with or without limits) whose members are all known."""
    groups: dict[str, list[str]] = {}
    for name, members_text, _, _ in st.session_state.get("groups_rows") or default_groups(assets):
        if not isinstance(members_text, str):
            continue
        members = [m.strip() for m in members_text.split(",") if m.strip()]
        if members and all(m in assets for m in members):
            groups[str(name or f"group {len(groups) + 1}")] = members
    return groups


def budget_editor(assets: list[str]) -> None:
    """Typed risk budget per coin (percent), a "hold" box per coin, and the budget used.

    A held coin keeps exactly its typed percentage; the other coins share the rest in
    proportion to their typed values (:func:`riskcore.budgets.risk_budget_from_entries`), so
    "BTC at 40%, the rest equal" is one typed value and one tick. The normalised budget that
    the allocation uses is shown next to each coin.
    """
    state = st.session_state
    equal = round(100 / max(len(assets), 1), 2)
    start = default_budget_entry(assets)
    for asset in assets:
        state.setdefault(budget_key(asset), start)

    def reset() -> None:
        for asset in assets:
            state[budget_key(asset)] = equal
            state[hold_key(asset)] = False

    st.markdown("**Risk budget per coin** (% of portfolio risk)")
    st.caption("Type a percentage; tick *hold* to keep a coin's value exactly while the others "
               "share the rest in proportion. The last column is the budget used.")
    try:
        used = budgets(assets)
    except RiskcoreError as exc:
        used = None
        st.error(plain(exc))
    for asset in assets:
        name, value, hold, share = st.columns([3, 3, 2, 2], vertical_alignment="center")
        name.text(asset)
        value.number_input(plain(f"Risk budget of {asset} (%)"), 0.0, 100.0, step=0.5,
                           key=budget_key(asset), label_visibility="collapsed",
                           persist_state="session")
        hold.checkbox("hold", key=hold_key(asset), persist_state="session")
        share.text("–" if used is None else f"{used[asset]:.1%}")
    st.button("Reset to equal budgets (equal risk contribution)", on_click=reset)
