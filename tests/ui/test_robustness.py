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
    at.multiselect(key=key).set_value(["BTC-USD", "USDT-USD"]).run()
    at.switch_page("pages/allocation.py").run()
    assert not at.exception, at.exception
    weights = weights_table(at)["weight"]
    assert weights["BTC-USD"] == pytest.approx(1.0)  # USDT in the sleeve, BTC alone inside
    at.multiselect(key=key).set_value(["USDT-USD", "USDC-USD"]).run()
    assert not at.exception, at.exception
    assert any("stablecoin" in e.value for e in at.error), [e.value for e in at.error]


def _policy_costs(at: AppTest) -> float:
    table = next(d.value for d in at.dataframe if "Costs paid (USD)" in d.value.index)
    return float(table.loc["Costs paid (USD)", "policy"].replace(",", ""))


def test_market_impact_uses_the_uploaded_volume(yahoo_daily_files):
    at = uploaded(yahoo_daily_files)
    at.switch_page("pages/rebalance.py").run()
    assert not at.exception, at.exception
    assert any("Market impact applies to" in c.value for c in at.caption)
    with_impact = _policy_costs(at)
    at.number_input(key="impact_bps").set_value(0.0).run()
    assert _policy_costs(at) < with_impact


def test_demo_has_no_volume_and_says_so():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/rebalance_check.py").run()
    assert any("no volume in this data" in c.value for c in at.caption)
