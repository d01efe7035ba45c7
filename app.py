"""Router of the dashboard: page config, navigation and the shared sidebar."""

import streamlit as st

from ui.compute import init_state, warm_up_solver
from ui.data import asset_picker, sidebar, window_picker
from ui.scenario import restore_from_url, sync_url

st.set_page_config(page_title="Crypto risk budgeting", page_icon="⚖️",
                   layout="wide")

pages = [
    st.Page("app_pages/data.py", title="Data", icon=":material/database:", default=True),
    st.Page("app_pages/volatility.py", title="Volatility", icon=":material/show_chart:"),
    st.Page("app_pages/correlation.py", title="Correlation", icon=":material/grid_on:"),
    st.Page("app_pages/allocation.py", title="Allocation", icon=":material/balance:"),
    st.Page("app_pages/compare.py", title="Method comparison", icon=":material/compare_arrows:"),
    st.Page("app_pages/rebalance_check.py", title="Rebalance check",
            icon=":material/receipt_long:"),
    st.Page("app_pages/rebalance.py", title="Rebalancing simulator", icon=":material/replay:"),
    st.Page("app_pages/stress.py", title="Stress", icon=":material/bolt:"),
    st.Page("app_pages/positions.py", title="Positions", icon=":material/account_balance:"),
    st.Page("app_pages/scenarios.py", title="Scenarios", icon=":material/bookmarks:"),
]
navigation = st.navigation(pages)
init_state()
warm_up_solver()
restore_from_url()  # a link or reload shows the scenario it holds
sidebar()
asset_picker()
window_picker()
try:
    navigation.run()
finally:
    sync_url()  # the link always holds the scenario on screen, also when a page stops
