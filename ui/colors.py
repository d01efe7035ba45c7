"""One colour per coin for the whole session, the same on every page.

Colours are handed out in order of first appearance and remembered in ``st.session_state``, so
BTC keeps its colour when the user switches pages or deselects other coins. The palette is
plotly's Dark24 followed by the members of Light24 and Alphabet that stay far from it (CIE76
ΔE ≥ 20 between any two of the first 38 colours, and from the neutral grey); beyond 38 coins the
colours repeat. Riskless cash gets a neutral grey.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskcore.assets import CASH

#: Colour of riskless cash (and of any name passed as ``neutral``).
NEUTRAL = "#9E9E9E"

#: Plotly's Dark24, then the Light24 and Alphabet colours farthest from it (greedy max-min ΔE).
PALETTE = (
    "#2E91E5", "#E15F99", "#1CA71C", "#FB0D0D", "#DA16FF", "#222A2A", "#B68100", "#750D86",
    "#EB663B", "#511CFB", "#00A08B", "#FB00D1", "#FC0080", "#B2828D", "#6C7C32", "#778AAE",
    "#862A16", "#A777F1", "#620042", "#1616A7", "#DA60CA", "#6C4516", "#0D2A63", "#AF0038",
    "#2ED9FF", "#90AD1C", "#E48F72", "#EEA6FB", "#FF9616", "#479B55", "#3283FE", "#86CE00",
    "#B00068", "#C075A6", "#7E7DCD", "#325A9B", "#00B5F7", "#85660D",
)

_STATE_KEY = "coin_colors"
_fallback: dict[str, int] = {}  # outside a Streamlit session (scripts, unit tests)


def _assigned() -> dict[str, int]:
    """Return the session's map from coin name to palette position (module dict outside)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if get_script_run_ctx(suppress_warning=True) is None:
        return _fallback
    import streamlit as st

    if _STATE_KEY not in st.session_state:
        st.session_state[_STATE_KEY] = {}
    return st.session_state[_STATE_KEY]


def coin_color(name: object) -> str:
    """Colour of one coin for this session: assigned on first appearance, then kept.

    Parameters
    ----------
    name : object
        Coin name as shown in the legend (converted with ``str``). ``"cash"`` is grey.

    Returns
    -------
    str
        ``#RRGGBB`` colour.
    """
    key = str(name)
    if key == CASH:
        return NEUTRAL
    assigned = _assigned()
    if key not in assigned:
        assigned[key] = len(assigned)
    return PALETTE[assigned[key] % len(PALETTE)]


def colors_for(names: Iterable[object], *, neutral: Iterable[object] = ()) -> list[str]:
    """Colours of several coins in order; names in ``neutral`` (e.g. a sleeve) are grey."""
    grey = {str(n) for n in neutral}
    return [NEUTRAL if str(n) in grey else coin_color(n) for n in names]
