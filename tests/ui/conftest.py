"""AppTest set-up for an st.navigation app that keeps its pages in a ``pages/`` folder.

Streamlit 1.67's AppTest resets ``PagesManager.uses_pages_directory`` to None before every run,
and PagesManager then sets it to True because ``pages/`` exists beside app.py. Every rerun after
the first then takes the legacy (v1 multipage) path and executes the page file alone, without
app.py's router and sidebar, so a test of a widget change would silently test a page without
its data source. The real server sets the flag once and st.navigation clears it, so only tests
are affected. This fixture makes every AppTest run take the st.navigation path, as the server does.
"""

import pytest
from streamlit.runtime.pages_manager import PagesManager
from streamlit.testing.v1 import app_test


class _NavigationPagesManager(PagesManager):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        PagesManager.uses_pages_directory = False


@pytest.fixture(autouse=True)
def navigation_pages(monkeypatch):
    monkeypatch.setattr(app_test, "PagesManager", _NavigationPagesManager)
