"""AppTest: every page runs on demo data, widgets drive riskcore, uploads of real files work."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, UPLOADS
from tests.ui.figures import y_values

PAGES = ["app_pages/data.py", "app_pages/volatility.py", "app_pages/correlation.py",
         "app_pages/allocation.py", "app_pages/compare.py", "app_pages/rebalance_check.py",
         "app_pages/rebalance.py", "app_pages/stress.py", "app_pages/positions.py"]


def app() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def weights_table(at: AppTest):
    frames = [df.value for df in at.dataframe if "weight" in df.value.columns]
    assert frames, "the Allocation page shows no weights table"
    return frames[0]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_demo_data(page):
    at = app()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.get("plotly_chart"), f"{page} shows no chart"


def test_demo_is_labelled_simulated():
    at = app()
    assert any("Simulated" in w.value for w in at.warning)


def test_raising_a_budget_raises_that_coins_weight_and_risk_share():
    at = app()
    at.switch_page("app_pages/allocation.py").run()
    before = weights_table(at)
    asset = before.index[0]
    at.number_input(key=f"budget_{asset}").set_value(60.0).run()
    assert not at.exception, at.exception
    after = weights_table(at)
    assert after.loc[asset, "weight"] > 1.4 * before.loc[asset, "weight"]
    others = after.index[(after.index != asset) & (before["weight"] > 0)]
    assert (after.loc[others, "weight"] < before.loc[others, "weight"]).all()
    assert after.loc[asset, "risk budget"] > before.loc[asset, "risk budget"]
    # the defining property of risk budgeting, on the page's own numbers
    rrc, budget = after["relative risk contribution"], after["risk budget"]
    assert (rrc - budget).abs().max() < 1e-8
    # the chart follows the table
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert y_values(fig, "weight")[0] == pytest.approx(after.loc[asset, "weight"])


def test_reset_restores_equal_budgets():
    at = app()
    at.switch_page("app_pages/allocation.py").run()
    asset = weights_table(at).index[0]
    at.number_input(key=f"budget_{asset}").set_value(80.0).run()
    at.checkbox(key=f"hold_{asset}").check().run()
    next(b for b in at.button if b.label.startswith("Reset")).click().run()
    budgets = weights_table(at)["risk budget"]
    inside = budgets[budgets > 0]  # the stablecoin sleeve is outside the budget by default
    assert len(inside) == len(budgets) - 1
    assert inside.max() - inside.min() < 1e-12


def test_one_coin_held_at_40_percent_while_the_others_share_the_rest():
    at = app()
    at.switch_page("app_pages/allocation.py").run()
    table = weights_table(at)
    inside = table.index[table["risk budget"] > 0]
    asset = inside[0]
    at.number_input(key=f"budget_{asset}").set_value(40.0).run()
    at.checkbox(key=f"hold_{asset}").check().run()
    assert not at.exception, at.exception
    budget = weights_table(at)["risk budget"]
    assert budget[asset] == pytest.approx(0.40, abs=1e-12)
    others = budget[inside.drop(asset)]
    assert others.tolist() == pytest.approx([0.60 / len(others)] * len(others), abs=1e-12)
    rrc = weights_table(at)["relative risk contribution"]
    assert (rrc - budget).abs().max() < 1e-8


def test_upload_of_a_real_file_is_analysed():
    at = app()
    at.radio(key="source").set_value("Upload files").run()
    raw = (UPLOADS / "yahoo-classic_ETH-USD.csv").read_bytes()
    other = (UPLOADS / "kaggle_coin_Bitcoin.csv").read_bytes()
    at.file_uploader(key="upload").set_value(
        [("yahoo-classic_ETH-USD.csv", raw, "text/csv"),
         ("kaggle_coin_Bitcoin.csv", other, "text/csv")]).run()
    assert not at.exception, at.exception
    at.switch_page("app_pages/allocation.py").run()
    assert not at.exception, at.exception
    table = weights_table(at)
    assert len(table) == 2
    assert table["weight"].sum() == pytest.approx(1.0)


def test_sidebar_survives_reruns():
    """Guard for the conftest work-around: every rerun goes through app.py's router."""
    at = app()
    at.radio(key="source").set_value("Yahoo Finance").run()
    assert at.radio(key="source").value == "Yahoo Finance"
    assert at.text_area(key="yahoo_tickers").value.startswith("BTC-USD")


def test_fourteen_real_files_uploaded_at_once_give_equal_risk_contributions(yahoo_daily_files):
    at = app()
    at.radio(key="source").set_value("Upload files").run()
    at.file_uploader(key="upload").set_value(
        [(f.name, f.read_bytes(), "text/csv") for f in yahoo_daily_files]).run()
    at.switch_page("app_pages/allocation.py").run()
    assert not at.exception, at.exception
    table = weights_table(at)
    assert len(table) == 14
    # default: USDT and USDC outside the budget, equal risk shares among the other 12
    assert (table["relative risk contribution"] - table["risk budget"]).abs().max() < 1e-8
    assert table.loc[["USDT", "USDC"], "weight"].sum() == 0
    # every coin inside the budget: equal risk contribution over all 14
    at.radio(key="stablecoins").set_value("include").run()
    table = weights_table(at)
    assert (table["relative risk contribution"] - 1 / 14).abs().max() < 1e-8


def test_rebalance_check_and_simulator_share_band_and_costs():
    at = app()
    at.switch_page("app_pages/rebalance_check.py").run()
    at.slider(key="band_pp").set_value(12.0).run()
    at.number_input(key="fee_bps").set_value(25.0).run()
    at.switch_page("app_pages/rebalance.py").run()
    assert not at.exception, at.exception
    assert at.slider(key="band_pp").value == 12.0
    assert at.number_input(key="fee_bps").value == 25.0
    costs = [t for t in at.dataframe if "Costs paid (USD)" in t.value.index]
    assert costs, "the simulator shows no metrics table"


def test_group_limit_from_the_constraints_editor_binds():
    at = app()
    at.switch_page("app_pages/allocation.py").run()
    at.session_state["groups_rows"] = [("majors", "BTC-USD, ETH-USD, SOL-USD", 0.0, 20.0)]
    at.run()
    assert not at.exception, at.exception
    table = weights_table(at)
    assert table.loc[["BTC-USD", "ETH-USD", "SOL-USD"], "weight"].sum() == pytest.approx(0.2)
    assert any("Binding constraints" in i.value for i in at.info)


def test_unknown_group_member_is_named_and_ignored():
    at = app()
    at.switch_page("app_pages/allocation.py").run()
    at.session_state["groups_rows"] = [("oops", "BTC-USD, NOPE-USD", 0.0, 20.0)]
    at.run()
    assert not at.exception, at.exception
    assert any("NOPE-USD not among the selected assets" in w.value.replace("\\", "")
               for w in at.warning)


def test_volatility_target_scales_into_the_stablecoin_sleeve():
    at = app()
    at.switch_page("app_pages/allocation.py").run()
    at.toggle(key="vol_target_on").set_value(True).run()
    at.slider(key="vol_target_pct").set_value(20.0).run()
    at.selectbox(key="cash").set_value("USDT-USD").run()
    assert not at.exception, at.exception
    vol = next(m for m in at.metric if m.label.startswith("Volatility"))
    assert vol.value == "20.0%"
    table = weights_table(at)
    assert table["weight"].idxmax() == "USDT-USD"
    assert table["weight"].sum() == pytest.approx(1.0)


def test_method_comparison_lists_every_method():
    at = app()
    at.switch_page("app_pages/compare.py").run()
    assert not at.exception, at.exception
    summary = at.dataframe[0].value
    assert list(summary.columns) == ["Risk budgeting", "Cluster risk budgeting",
                                     "Inverse volatility", "Hierarchical risk parity",
                                     "Minimum variance", "Equal weight",
                                     "Risk budgeting on historical ES 95.0%"]
    # one decision: the comparison's risk budgeting is the Allocation page's portfolio
    compared = at.dataframe[1].value["Risk budgeting"]
    at.switch_page("app_pages/allocation.py").run()
    table = next(d.value for d in at.dataframe if "weight" in d.value.columns)
    np.testing.assert_allclose(compared.reindex(table.index).to_numpy(),
                               table["weight"].to_numpy(), atol=1e-12)


def test_decision_record_holds_data_the_spec_and_weights():
    import riskcore
    from ui.data import Dataset
    from ui.export import decision_record

    prices = riskcore.demo_prices()
    data = Dataset(prices, 365, "Simulated demo market")
    spec = riskcore.PortfolioSpec(
        stablecoins="sleeve", group_limits=[("majors", ("BTC-USD", "ETH-USD"), 0.0, 0.15)],
        risk_budget={a: 1.0 for a in prices.columns}, lookback=365)
    portfolio = riskcore.build_portfolio(prices, spec)
    record = json.loads(decision_record(data, spec, portfolio))
    assert record["data"]["assets"] == list(prices.columns)
    # the whole spec, read back to the same decision (budgets and group limits included)
    assert riskcore.PortfolioSpec.from_json(json.dumps(record["spec"])) == spec
    weights = {a: v["weight"] for a, v in record["assets"].items()}
    assert sum(weights.values()) == pytest.approx(1.0)
    assert weights["BTC-USD"] + weights["ETH-USD"] == pytest.approx(0.15, abs=1e-8)


def test_decision_record_says_the_risk_measure_and_the_es_contributions():
    import riskcore
    from ui.data import Dataset
    from ui.export import decision_record

    prices = riskcore.demo_prices()
    spec = riskcore.PortfolioSpec(stablecoins="sleeve", risk_measure="historical_es",
                                  es_level=0.9, lookback=365)
    portfolio = riskcore.build_portfolio(prices, spec)
    record = json.loads(decision_record(Dataset(prices, 365, "demo"), spec, portfolio))
    assert (record["spec"]["risk_measure"], record["spec"]["es_level"]) == ("historical_es", 0.9)
    shares = [v["relative_es_contribution"] for v in record["assets"].values()]
    assert sum(shares) == pytest.approx(1.0)


def _figure(at: AppTest, title_start: str) -> dict:
    for chart in at.get("plotly_chart"):
        fig = json.loads(chart.proto.spec)
        if fig["layout"]["title"]["text"].startswith(title_start):
            return fig
    raise AssertionError(f"no chart titled {title_start!r}")


def test_simulator_keeps_the_stablecoin_sleeve_out_of_the_risk_budget():
    at = app()
    at.switch_page("app_pages/rebalance.py").run()
    assert not at.exception, at.exception
    usdt = y_values(_figure(at, "Weights over time"), "USDT-USD")
    assert max(usdt) == 0.0
    at.radio(key="stablecoins").set_value("include").run()
    usdt = y_values(_figure(at, "Weights over time"), "USDT-USD")
    assert max(usdt) > 0.2  # with a 5% floor it still takes a large share
