import numpy as np
import pandas as pd
import pytest

from riskcore.assets import base_symbol, is_stablecoin, stablecoins


@pytest.mark.parametrize(
    ("name", "symbol", "stable"),
    [("BTC-USD", "BTC", False), ("USDT-USD", "USDT", True), ("usdc", "USDC", True),
     ("DAI", "DAI", True), ("ETHUSDT", "ETH", False), ("SOL1-USD", "SOL1", False),
     ("USD Coin", "USD COIN", True)],
)
def test_names(name, symbol, stable):
    assert base_symbol(name) == symbol
    assert is_stablecoin(name) is stable


def test_stablecoin_recognised_by_behaviour():
    rng = np.random.default_rng(42)
    index = pd.date_range("2022-01-01", periods=200, freq="D", tz="UTC")
    prices = pd.DataFrame({
        "PEGGED": 1 + rng.normal(0, 0.002, 200),
        "COIN": 100 * np.exp(np.cumsum(rng.normal(0, 0.05, 200))),
        "USDT-USD": np.nan,
    }, index=index)
    assert stablecoins(prices) == ["PEGGED", "USDT-USD"]
