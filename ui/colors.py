"""One colour per coin for the whole session, the same on every page.

Colours are handed out in order of first appearance and remembered in ``st.session_state``, so
BTC keeps its colour when the user switches pages or deselects other coins. The palette is
plotly's Dark24 with the members of Light24 and Alphabet that stay far from it (CIE76 ΔE ≥ 20
between any two of the 38 colours and from the neutral grey), ordered so that the first coins
are the most different; beyond 38 coins the colours repeat. Riskless cash is grey.
"""

from __future__ import annotations

from collections.abc import Iterable

from riskcore.assets import CASH

#: Colour of riskless cash (and of any name passed as ``neutral``).
NEUTRAL = "#9E9E9E"

#: Plotly's Dark24 plus the Light24 and Alphabet colours farthest from it (38 colours, CIE76
#: ΔE >= 20 between any two), in greedy max-min order: each colour is the one farthest from all
#: before it, so the first 12 coins are >= 42 ΔE apart, the first 24 >= 28.
PALETTE = (
    "#2E91E5", "#FB0D0D", "#86CE00", "#DA16FF", "#6C4516", "#B00068", "#00A08B", "#1616A7",
    "#FF9616", "#EEA6FB", "#0D2A63", "#B2828D", "#2ED9FF", "#222A2A", "#511CFB", "#6C7C32",
    "#750D86", "#EB663B", "#FB00D1", "#A777F1", "#778AAE", "#E48F72", "#AF0038", "#620042",
    "#1CA71C", "#DA60CA", "#B68100", "#FC0080", "#479B55", "#862A16", "#3283FE", "#90AD1C",
    "#E15F99", "#C075A6", "#7E7DCD", "#325A9B", "#00B5F7", "#85660D",
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
