"""Streamlit-side helpers shared by app.py and the pages (sidebar, data pipeline, charts).

Everything domain-specific lives in riskcore; this package only reads widgets, caches riskcore
calls and builds plotly figures.
"""
