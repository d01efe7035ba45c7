"""Awkward but real inputs never crash a page: they get a message and the session goes on."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import REPO, UPLOADS
from tests.ui.test_app import PAGES, weights_table


def uploaded(files) -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.radio(key="source").set_value("Upload files").run()
    at.file_uploader(key="upload").set_value(
        [(f.name, f.read_bytes(), "text/csv") for f in files]).run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def exports():
    return sorted(UPLOADS.glob("*.csv"))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_survives_all_real_exports_at_once(exports, page):
    at = uploaded(exports)
    at.switch_page(page).run()
    assert not at.exception, at.exception
    # 22 assets never trade all at once: pages that need a common window say so
    said = " ".join(e.value for e in [*at.error, *at.warning, *at.info])
    assert at.get("plotly_chart") or said, f"{page} shows neither a chart nor a message"


def test_a_stablecoin_alone_inside_the_sleeve_gets_a_message(yahoo_daily_files):
    at = uploaded(yahoo_daily_files)
    key = next(m.key for m in at.multiselect if m.key.startswith("assets_"))
    at.multiselect(key=key).set_value(["BTC", "USDT"]).run()
    at.switch_page("app_pages/allocation.py").run()
    assert not at.exception, at.exception
    weights = weights_table(at)["weight"]
    assert weights["BTC"] == pytest.approx(1.0)  # USDT in the sleeve, BTC alone inside
    at.multiselect(key=key).set_value(["USDT", "USDC"]).run()
    assert not at.exception, at.exception
    assert any("stablecoin" in e.value for e in at.error), [e.value for e in at.error]


def _policy_costs(at: AppTest) -> float:
    table = next(d.value for d in at.dataframe if "Costs paid (USD)" in d.value.index)
    return float(table.loc["Costs paid (USD)", "policy"].replace(",", ""))


def test_market_impact_uses_the_uploaded_volume(yahoo_daily_files):
    at = uploaded(yahoo_daily_files)
    at.switch_page("app_pages/rebalance.py").run()
    assert not at.exception, at.exception
    assert any("Market impact applies to" in c.value for c in at.caption)
    with_impact = _policy_costs(at)
    at.number_input(key="impact_bps").set_value(0.0).run()
    assert _policy_costs(at) < with_impact


def test_demo_has_no_volume_and_says_so():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/rebalance_check.py").run()
    assert any("no volume in this data" in c.value for c in at.caption)


def demo_app() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    return at


def test_weight_bound_from_the_editor_binds():
    at = demo_app()
    at.switch_page("app_pages/allocation.py").run()
    at.session_state["bounds_value"] = (("BTC-USD", 0.0, 0.05),)
    at.run()
    assert not at.exception, at.exception
    assert weights_table(at).loc["BTC-USD", "weight"] == pytest.approx(0.05, abs=1e-8)
    for page in ("app_pages/compare.py", "app_pages/rebalance_check.py", "app_pages/stress.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)


def _volatility_target(at: AppTest, leverage: float) -> None:
    at.switch_page("app_pages/allocation.py").run()
    at.toggle(key="vol_target_on").set_value(True).run()
    at.slider(key="vol_target_pct").set_value(100.0).run()
    at.number_input(key="max_leverage").set_value(leverage).run()


def test_stress_page_with_a_riskless_cash_sleeve():
    at = demo_app()
    _volatility_target(at, 1.0)
    at.switch_page("app_pages/stress.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]


def test_leveraged_target_is_explained_on_the_rebalance_check():
    at = demo_app()
    _volatility_target(at, 2.0)
    at.switch_page("app_pages/rebalance_check.py").run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("borrows" in i.value for i in at.info)


def test_all_zero_budgets_are_refused_with_a_message():
    at = demo_app()
    at.switch_page("app_pages/allocation.py").run()
    at.radio(key="stablecoins").set_value("include").run()
    for box in at.number_input:
        if box.key.startswith("budget_"):
            box.set_value(0.0)
    at.run()
    assert not at.exception, at.exception
    assert any("budget" in e.value.lower() for e in at.error), [e.value for e in at.error]


def test_short_and_single_files_keep_data_and_volatility_pages(tmp_path):
    cmc = UPLOADS / "coinmarketcap_Bitcoin_2025.csv"  # 60 daily rows
    at = uploaded([cmc])
    assert not at.exception, at.exception
    assert at.dataframe, "a single uploaded file gets its load and quality report"
    at.switch_page("app_pages/volatility.py").run()
    at.slider(key="vol_window").set_value(90).run()  # longer than the file
    assert not at.exception, at.exception


def test_empty_column_and_one_row_files_get_messages(tmp_path):
    wide = tmp_path / "wide.csv"
    wide.write_text("date,AAA,BBB,CCC\n2024-01-01,1,2,\n2024-01-02,1.1,2.1,\n2024-01-03,1.2,2.0,\n")
    at = uploaded([wide])
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
    assert any("CCC" in w.value for w in at.warning)
    one = tmp_path / "one.csv"
    one.write_text("date,AAA,BBB\n2024-01-01,1,2\n")
    at = uploaded([one])
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)


def test_yahoo_fetch_waits_for_a_complete_date_range():
    import datetime as dt

    at = demo_app()
    at.radio(key="source").set_value("Yahoo Finance").run()
    at.date_input(key="yahoo_range").set_value((dt.date(2024, 1, 1),)).run()
    assert not at.exception, at.exception
    assert at.button[0].disabled


def test_cluster_risk_budgeting_with_my_groups_and_group_budgets():
    at = demo_app()
    at.switch_page("app_pages/allocation.py").run()
    at.selectbox(key="method").set_value("cluster_risk_budget").run()
    at.session_state["groups_rows"] = [
        ("majors", "BTC-USD, ETH-USD", 0.0, 100.0),
        ("alts", "SOL-USD, ADA-USD, DOGE-USD", 0.0, 100.0)]
    at.radio(key="cluster_source").set_value("groups").run()
    at.slider(key="cbudget_majors").set_value(2.0).run()  # majors 2, alts 1, other 1
    assert not at.exception, at.exception
    groups = next(d.value for d in at.dataframe if "relative_risk_contribution" in d.value.columns)
    assert groups.loc["majors", "relative_risk_contribution"] == pytest.approx(0.5, rel=1e-8)
    assert groups.loc["alts", "relative_risk_contribution"] == pytest.approx(0.25, rel=1e-8)
    assert groups.loc["other", "relative_risk_contribution"] == pytest.approx(0.25, rel=1e-8)
