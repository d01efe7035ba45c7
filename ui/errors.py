"""Turn riskcore errors into a message on the page instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from riskcore.errors import RiskcoreError
from ui.text import plain


@contextmanager
def shown_errors(prefix: str = "") -> Iterator[None]:
    """Show a RiskcoreError as ``st.error`` and stop the page; let every other error surface."""
    try:
        yield
    except RiskcoreError as exc:
        st.error(plain(f"{prefix}{exc}"))
        st.stop()
