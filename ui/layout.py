"""Layout helpers that keep pages readable from 800 px wide screens up."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

#: Width of one metric tile in pixels: tiles wrap onto a new line instead of being cut off.
METRIC_WIDTH = 190


def metric_row(items: Sequence[tuple[str, str] | tuple[str, str, str | None]]) -> None:
    """Show metrics side by side, wrapping to the next line on a narrow screen.

    Parameters
    ----------
    items : sequence of (label, value) or (label, value, help)
        Already formatted values (percent formatting happens at the UI edge).
    """
    row = st.container(horizontal=True, gap="small")
    for item in items:
        label, value, *rest = item
        row.metric(label, value, help=rest[0] if rest else None, width=METRIC_WIDTH,
                   border=True)
