"""Issue 14: no widget is built with an impossible range, for 1, 2, 3 and 30 assets and every
allocation method, on every page (a page that needs more assets says so instead)."""

import numpy as np
import pandas as pd
import pytest

from tests.ui.test_app import PAGES
from tests.ui.test_robustness import uploaded
from ui.compute import METHODS


@pytest.fixture(scope="module")
def thirty_coins(tmp_path_factory):
    rng = np.random.default_rng(42)
    n_days, names = 500, [f"C{i:02d}" for i in range(28)] + ["USDT", "USDC"]
    vols = np.r_[rng.uniform(0.02, 0.08, 28), 0.0005, 0.0005]
    common = rng.normal(0, 0.02, n_days)
    shocks = rng.normal(0, 1, (n_days, 30)) * vols + np.r_[np.ones(28), 0, 0] * common[:, None]
    prices = pd.DataFrame(np.exp(np.cumsum(shocks, axis=0)), columns=names,
                          index=pd.date_range("2022-01-01", periods=n_days, freq="D"))
    prices.index.name = "date"
    path = tmp_path_factory.mktemp("wide") / "thirty_coins.csv"
    prices.to_csv(path)
    return path


@pytest.mark.parametrize("n_assets", [1, 2, 3, 30])
def test_every_page_and_method_with_n_assets(thirty_coins, n_assets):
    at = uploaded([thirty_coins])
    key = next(m.key for m in at.multiselect if m.key.startswith("assets_"))
    chosen = ["C00", "C01", "USDT"][:n_assets] if n_assets < 30 else list(
        at.multiselect(key=key).options)
    at.multiselect(key=key).set_value(chosen).run()
    assert not at.exception, at.exception
    for method in METHODS:
        at.session_state["method"] = method
        for page in PAGES:
            at.switch_page(page).run()
            assert not at.exception, (n_assets, method, page, at.exception)
            shown = at.get("plotly_chart") or [*at.error, *at.warning, *at.info]
            assert shown, (n_assets, method, page, "neither a chart nor a message")
