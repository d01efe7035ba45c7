"""AppTest of the Rebalancing simulator: its default target is the Allocation page's decision
(one PortfolioSpec in session state), and it runs every Allocation method."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import riskcore
from tests.conftest import REPO

PAGE = "app_pages/rebalance.py"


def simulator() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    return at


def metric(at: AppTest, label: str, column: str = "policy") -> str:
    table = next(t.value for t in at.dataframe if label in t.value.index)
    return table.loc[label, column]


def test_default_target_is_the_allocation_decision():
    at = simulator()
    assert at.selectbox(key="bt_method").value == "allocation"
    caption = " ".join(c.value for c in at.caption)
    assert "sample covariance over 365 periods" in caption
    assert "stablecoins sleeve" in caption
    # the same run from riskcore with the Allocation defaults
    prices = riskcore.demo_prices()
    spec = riskcore.PortfolioSpec(
        method="risk_budget", lookback=365, stablecoins="sleeve", volatility_floor=0.05,
        risk_budget={a: 1 / prices.shape[1] for a in prices.columns}, band=0.05,
        assets=tuple(prices.columns),
        costs=riskcore.CostModel.from_bps(fee_bps=10, half_spread_bps=5, impact_bps=100,
                                          min_trade_usd=10))
    expected = riskcore.run_backtest(prices, spec, initial_value=100_000.0)
    assert metric(at, "Total return") == f"{expected.metrics.total_return:.1%}"
    assert metric(at, "Rebalances") == f"{expected.metrics.n_rebalances:.0f}"


def test_a_change_on_the_allocation_page_is_the_simulators_target():
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("app_pages/allocation.py").run()
    at.selectbox(key="method").set_value("inverse_volatility").run()
    at.slider(key="lookback").set_value(180).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    caption = " ".join(c.value for c in at.caption)
    assert "Inverse volatility; sample covariance over 180 periods" in caption


@pytest.mark.parametrize("method", riskcore.METHODS)
def test_every_allocation_method_runs_in_the_simulator(method):
    at = simulator()
    at.multiselect(key="bt_triggers").set_value(["frequency"]).run()  # monthly: quick
    at.selectbox(key="bt_method").set_value(method).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    total = metric(at, "Total return")
    assert total.endswith("%") and np.isfinite(float(total.rstrip("%").replace(",", "")))
