"""Scenarios survive a reload and travel in a link; the Scenarios page compares and reports."""

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from riskcore.scenario import QUERY_PARAM, decode_query

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def _app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    if query:
        at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


def _weights(at: AppTest):
    at.switch_page("app_pages/allocation.py").run()
    assert not at.exception, at.exception
    return next(d.value for d in at.dataframe if "weight" in d.value.columns)["weight"]


def _link(at: AppTest) -> str:
    value = at.query_params[QUERY_PARAM]
    return value[0] if isinstance(value, list) else value


def test_the_link_holds_the_settings_and_a_fresh_session_shows_the_same_weights():
    at = _app()
    at.switch_page("app_pages/allocation.py").run()
    at.selectbox(key="method").set_value("minimum_variance").run()
    at.slider(key="lookback").set_value(180).run()
    at.switch_page("app_pages/rebalance.py").run()
    at.slider(key="band_pp").set_value(12.5).run()
    assert not at.exception, at.exception
    weights = _weights(at)
    link = _link(at)
    scenario = decode_query({QUERY_PARAM: link})
    assert (scenario.spec.method, scenario.spec.lookback, scenario.spec.band) == (
        "minimum_variance", 180, 0.125)
    assert len(link) < 1000  # short enough to paste

    again = _app({QUERY_PARAM: link})  # a reload, or the link in another browser
    assert again.session_state["method"] == "minimum_variance"
    assert again.session_state["band_pp"] == pytest.approx(12.5)
    np.testing.assert_allclose(_weights(again).to_numpy(), weights.to_numpy(), atol=1e-12)


def test_a_broken_link_says_so_and_keeps_the_defaults():
    at = _app({QUERY_PARAM: "not-a-scenario"})
    assert any("cannot be read" in e.value.replace("\\", "") for e in at.sidebar.error)
    assert at.session_state["method"] == "risk_budget"


def test_an_upload_link_names_its_files_and_applies_once_they_are_uploaded(yahoo_daily_files):
    files = {p.name: p.read_bytes() for p in yahoo_daily_files[:4]}
    at = AppTest.from_file(APP, default_timeout=300)
    at.session_state["source"] = "Upload files"
    at.session_state["uploads"] = files
    at.run()
    at.switch_page("app_pages/allocation.py").run()
    at.selectbox(key="method").set_value("inverse_volatility").run()
    weights = _weights(at)
    link = _link(at)

    # a reload on the same server finds the files by their hash: everything is back
    reloaded = _app({QUERY_PARAM: link})
    assert reloaded.session_state["source"] == "Upload files"
    assert reloaded.session_state["method"] == "inverse_volatility"
    np.testing.assert_allclose(_weights(reloaded).to_numpy(), weights.to_numpy(), atol=1e-12)

    from ui.scenario import upload_store

    upload_store.clear()  # another server (or a restart): the link names the files
    fresh = _app({QUERY_PARAM: link})
    note = " ".join(i.value.replace("\\", "") for i in fresh.sidebar.info)
    first = yahoo_daily_files[0]
    assert first.name in note and "sha256" in note  # which files to upload
    fresh.session_state["uploads"] = files  # the user uploads them
    fresh.run()
    assert fresh.session_state["method"] == "inverse_volatility"
    np.testing.assert_allclose(_weights(fresh).to_numpy(), weights.to_numpy(), atol=1e-12)


def test_scenarios_page_compares_saved_scenarios_and_reports_them():
    at = _app()
    at.switch_page("app_pages/scenarios.py").run()
    assert any("No scenario saved" in i.value for i in at.info)
    at.text_input(key="sc_name").set_value("ERC").run()
    at.button[0].click().run()
    at.switch_page("app_pages/allocation.py").run()
    at.selectbox(key="method").set_value("hrp").run()
    at.switch_page("app_pages/scenarios.py").run()
    at.text_input(key="sc_name").set_value("HRP <b>bold</b>").run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert at.multiselect(key="sc_compare").value == ["ERC", "HRP <b>bold</b>"]
    figures = at.dataframe
    metrics = next(d.value for d in figures if "annualized_return" in d.value.index)
    assert list(metrics.columns) == ["ERC", "HRP <b>bold</b>"]
    assert len(at.get("plotly_chart")) == 4  # weights, risk vs budgets, equity, drawdown
    # showing a saved scenario puts its settings back on every page
    at.selectbox(key="sc_chosen").set_value("ERC").run()
    next(b for b in at.button if b.label == "Show on every page").click().run()
    assert at.session_state["method"] == "risk_budget"


def test_a_sweep_table_is_plotted_one_line_per_value(tmp_path):
    """The dashboard opens the table of `python -m riskcore sweep` (riskcore.sweep)."""
    import riskcore
    from riskcore.sweep import read_results, run_sweep, sweep_grid, write_results
    from ui.charts import sweep_points

    prices = riskcore.demo_prices().iloc[:500, :4]
    specs = sweep_grid(riskcore.PortfolioSpec(lookback=60),
                       {"band": [0.02, 0.1], "lookback": [60, 90]})
    path = write_results(run_sweep(prices, specs, backend="serial"), tmp_path / "s.parquet")
    table = read_results(path)
    fig = sweep_points(table, x="band", y="sharpe_ratio", color="lookback", title="t")
    assert [t.name for t in fig.data] == ["lookback = 60", "lookback = 90"]
    for trace, lookback in zip(fig.data, (60, 90), strict=True):
        expected = table[table["lookback"] == lookback].sort_values("band")["sharpe_ratio"]
        np.testing.assert_array_equal(trace.y, expected.to_numpy())
