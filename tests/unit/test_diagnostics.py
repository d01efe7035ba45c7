"""Diagnostics: diversification ratio, effective number of bets, group risk contributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from riskcore.allocation import equal_weights, risk_budget_weights
from riskcore.diagnostics import (
    diversification_ratio,
    effective_number_of_bets,
    group_risk_contributions,
)
from riskcore.errors import DataError

NAMES = ["BTC-USD", "ETH-USD", "SOL-USD", "USDT-USD"]


def cov_frame(rng: np.random.Generator) -> pd.DataFrame:
    vol = np.array([0.6, 0.75, 1.0, 0.05])
    corr = np.array([[1, 0.8, 0.7, 0.0], [0.8, 1, 0.75, 0.0], [0.7, 0.75, 1, 0.0], [0, 0, 0, 1]])
    return pd.DataFrame(np.outer(vol, vol) * corr, index=NAMES, columns=NAMES)


def test_diversification_ratio_closed_forms():
    vol = np.array([0.2, 0.4, 0.6])
    w = np.array([0.5, 0.3, 0.2])
    # perfectly correlated: no diversification
    assert diversification_ratio(w, np.outer(vol, vol)) == pytest.approx(1.0)
    # uncorrelated, equal volatilities, equal weights: sqrt(n)
    assert diversification_ratio(np.full(4, 0.25), np.eye(4) * 0.09) == pytest.approx(2.0)


def test_effective_number_of_bets():
    rng = np.random.default_rng(42)
    cov = cov_frame(rng)
    erc = risk_budget_weights(cov)
    assert effective_number_of_bets(erc.weights, cov) == pytest.approx(4.0, rel=1e-10)
    concentrated = pd.Series([1.0, 0, 0, 0], index=NAMES)
    assert effective_number_of_bets(concentrated, cov) == pytest.approx(1.0)
    ew = equal_weights(cov)
    assert 1.0 < effective_number_of_bets(ew.weights, cov) < 4.0


def test_group_risk_contributions():
    rng = np.random.default_rng(42)
    cov = cov_frame(rng)
    res = risk_budget_weights(
        cov, {"BTC-USD": 0.4, "ETH-USD": 0.3, "SOL-USD": 0.2, "USDT-USD": 0.1}
    )
    assert diversification_ratio(res.weights, cov) > 1.0
    table = group_risk_contributions(
        res.weights,
        cov,
        {"large caps": ["BTC-USD", "ETH-USD"], "stablecoins": ["USDT-USD"]},
        group_budget={"large caps": 0.7, "stablecoins": 0.1},
    )
    assert list(table.index) == ["large caps", "other", "stablecoins"]
    assert table.loc["large caps", "relative_risk_contribution"] == pytest.approx(0.7)
    assert table.loc["other", "relative_risk_contribution"] == pytest.approx(0.2)
    assert np.isnan(table.loc["other", "risk_budget"])
    with pytest.raises(DataError, match=r"groups name assets that are not in the portfolio"):
        group_risk_contributions(res.weights, cov, {"x": ["DOGE-USD"]})
