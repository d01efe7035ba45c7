"""Make sure every page runs under app.py's router, also on a server's first request.

Streamlit 1.67 decides at process start whether an app uses the legacy ``pages/`` directory
(v1 multipage): it does whenever a ``pages/`` folder sits beside the entry point, until the
entry point calls ``st.navigation``. If the first request after a server start is a page URL
(a bookmark such as ``/allocation``), Streamlit runs that page file alone, without app.py's
router and sidebar, and keeps doing so for every session until someone opens ``/``.

app.py marks each run it routes; a page that finds no mark clears the legacy flag and reruns,
and the rerun goes through app.py to the same page.
"""

from __future__ import annotations

import streamlit as st

_MARK = "_routed_by_app"


def mark_routed() -> None:
    """Record that this script run went through app.py's router (called by app.py)."""
    st.session_state[_MARK] = True


def require_router() -> None:
    """Rerun through app.py if this page was started without it (called by every page)."""
    if st.session_state.pop(_MARK, False):
        return
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()
