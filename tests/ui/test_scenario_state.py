"""A spec written into the widgets' session state reads back as the same spec (ui.scenario)."""

import json

import pytest
from streamlit.testing.v1 import AppTest

import riskcore
from riskcore.rebalance import CostModel

ASSETS = ["BTC-USD", "ETH-USD", "SOL-USD", "USDT-USD"]
SPECS = {
    "risk budgets, bounds, groups, band": riskcore.PortfolioSpec(
        assets=tuple(ASSETS), method="risk_budget", estimator="ewma", lookback=180,
        half_life=30, stablecoins="sleeve", volatility_floor=0.05,
        risk_budget={"BTC-USD": 0.5, "ETH-USD": 0.3, "SOL-USD": 0.2},
        bounds={"BTC-USD": (0.0, 0.4)},
        group_limits=[("majors", ("BTC-USD", "ETH-USD"), 0.0, 0.7)], band=0.05,
        mode="to_band", costs=CostModel.from_bps(fee_bps=10, half_spread_bps=5,
                                                  impact_bps=100, min_trade_usd=10)),
    "cluster ES, volatility target, calendar": riskcore.PortfolioSpec(
        assets=tuple(ASSETS), method="cluster_risk_budget", n_clusters=2,
        risk_measure="historical_es", es_level=0.975, stablecoins="include",
        target_volatility=0.3, max_leverage=1.5, sleeve_asset="cash", frequency="M",
        risk_band=0.1),
    "user groups": riskcore.PortfolioSpec(
        assets=tuple(ASSETS), method="cluster_risk_budget", stablecoins="sleeve",
        clusters={"majors": ("BTC-USD", "ETH-USD")},
        cluster_budget={"majors": 0.6, "other": 0.4}),
}


def _read_back(state_json: str, spec_json: str) -> None:
    import json

    import streamlit as st

    import riskcore
    from ui.compute import init_state
    from ui.scenario import apply_spec
    from ui.spec import allocation_spec

    init_state()
    spec = riskcore.PortfolioSpec.from_json(spec_json)
    apply_spec(spec)
    triggers = []
    if spec.frequency is not None:
        triggers.append(("frequency", st.session_state["bt_frequency"]))
    if spec.band is not None:
        triggers.append(("band", st.session_state["band_pp"] / 100))
    for name in ("relative_band", "risk_band", "volatility_band"):
        if name in st.session_state["bt_triggers"]:
            triggers.append((name, st.session_state[f"bt_{name}"] / 100))
    from ui.compute import cost_model

    again = allocation_spec(list(spec.assets), triggers=tuple(triggers),
                            mode=st.session_state["rebalance_mode"], costs=cost_model())
    st.session_state["read_back"] = again.to_json()
    del json, state_json


@pytest.mark.parametrize("case", list(SPECS))
def test_a_spec_applied_to_the_widgets_reads_back_the_same(case):
    spec = SPECS[case]
    at = AppTest.from_function(_read_back, args=("{}", spec.to_json()), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    again = riskcore.PortfolioSpec.from_json(at.session_state["read_back"])
    assert again == spec, json.dumps(
        {k: (v, json.loads(again.to_json())[k]) for k, v in json.loads(spec.to_json()).items()
         if json.loads(again.to_json())[k] != v})
