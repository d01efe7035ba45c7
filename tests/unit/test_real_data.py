"""The 14 real Yahoo files, read, combined and allocated end to end."""

import numpy as np
import pytest

import riskcore
from riskcore.ingest import load_files


@pytest.fixture(scope="module")
def panel(yahoo_daily_files):
    result = load_files([(f.name, f.read_bytes()) for f in yahoo_daily_files])
    assert not result.errors
    return result.prices


def test_fourteen_coins_with_their_listing_dates(panel):
    assert panel.shape[1] == 14
    first = panel.apply(lambda s: s.first_valid_index())
    assert f"{first['BTC']:%Y-%m-%d}" == "2014-09-17"
    assert f"{first['AVAX']:%Y-%m-%d}" == "2020-07-13"
    common = panel.dropna()
    assert (f"{common.index[0]:%Y-%m-%d}", f"{common.index[-1]:%Y-%m-%d}", len(common)) == (
        "2020-09-22", "2025-02-11", 1604)
    assert riskcore.infer_periods_per_year(panel.index) == 365


def test_equal_risk_contribution_on_the_common_window(panel):
    returns = riskcore.to_returns(panel)
    estimate = riskcore.estimate_covariance(returns, method="sample", periods_per_year=365)
    result = riskcore.risk_budget_weights(estimate.matrix)
    assert result.converged
    assert result.weights.sum() == pytest.approx(1.0, abs=1e-12)
    assert (result.weights > 0).all()
    np.testing.assert_allclose(result.relative_risk_contributions, 1 / 14, rtol=1e-10)
    # stablecoins are the low-volatility assets, so they carry the largest weights
    assert set(result.weights.nlargest(2).index) == {"USDT", "USDC"}
