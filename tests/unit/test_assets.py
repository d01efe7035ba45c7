import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riskcore.assets import (
    STABLECOIN_SYMBOLS,
    CoinIdentity,
    base_symbol,
    coin_identity,
    is_stablecoin,
    stablecoins,
)


@pytest.mark.parametrize(
    ("name", "symbol", "stable"),
    [("BTC-USD", "BTC", False), ("USDT-USD", "USDT", True), ("usdc", "USDC", True),
     ("DAI", "DAI", True), ("ETHUSDT", "ETH", False), ("SOL1-USD", "SOL", False),
     ("USD Coin", "USDC", True), ("tether", "USDT", True), ("usd-coin", "USDC", True),
     ("USDCoin", "USDC", True), ("TUSD", "TUSD", True), ("FDUSD", "FDUSD", True),
     ("USDTUSD", "USDT", True), ("WBTC", "WBTC", False),
     # the counter load_files gives a second asset of the same coin keeps its identity
     ("USDC (2)", "USDC", True), ("BTC (3)", "BTC", False), ("(2)", "(2)", False)],
)
def test_names(name, symbol, stable):
    assert base_symbol(name) == symbol
    assert is_stablecoin(name) is stable


# the examples of issue 8 (item 3) and issue 14 (item 2), each pinned
@pytest.mark.parametrize(("name", "symbol", "quote"), [
    ("BTCUSDT", "BTC", "USDT"), ("BTC-USD", "BTC", "USD"), ("BTC/USDT", "BTC", "USDT"),
    ("btc-usd", "BTC", "USD"), ("coin_Bitcoin", "BTC", None), ("bitcoin", "BTC", None),
    ("Bitcoin", "BTC", None), ("avalanche-2", "AVAX", None), ("chainlink", "LINK", None),
    ("tether", "USDT", None), ("usd-coin", "USDC", None), ("USDCoin", "USDC", None),
    ("BTCUSDC", "BTC", "USDC"), ("ETH/BTC", "ETH", "BTC"), ("BNB/USDT", "BNB", "USDT"),
    ("binancecoin", "BNB", None), ("shiba-inu", "SHIB", None), ("matic-network", "MATIC", None),
    ("LUNA1-USD", "LUNA", "USD"), ("  eth usd ", "ETH", "USD"), ("coin_USDCoin", "USDC", None),
])
def test_coin_identity_examples(name, symbol, quote):
    assert coin_identity(name) == CoinIdentity(symbol, quote)


@pytest.mark.parametrize("name", ["PEPECOIN2", "=1+1", "![x](http://h/p.png)", "ETHBTC", "A"])
def test_unknown_names_fall_back_to_the_upper_cased_stripped_name(name):
    assert coin_identity(f"  {name} ") == CoinIdentity(name.upper())


def test_identity_is_frozen_and_base_symbol_agrees():
    ident = coin_identity("BTC-USD")
    with pytest.raises(AttributeError):
        ident.symbol = "ETH"  # type: ignore[misc]
    for name in ("BTCUSDT", "avalanche-2", "USD Coin", "xyz"):
        assert base_symbol(name) == coin_identity(name).symbol
        assert is_stablecoin(name) == (coin_identity(name).symbol in STABLECOIN_SYMBOLS)


def test_stablecoin_recognised_by_behaviour():
    rng = np.random.default_rng(42)
    index = pd.date_range("2022-01-01", periods=200, freq="D", tz="UTC")
    prices = pd.DataFrame({
        "PEGGED": 1 + rng.normal(0, 0.002, 200),
        "COIN": 100 * np.exp(np.cumsum(rng.normal(0, 0.05, 200))),
        "USDT-USD": np.nan,
    }, index=index)
    assert stablecoins(prices) == ["PEGGED", "USDT-USD"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.text(alphabet=st.sampled_from("btcusdBTCUSDTETH-/_ ()2coin_xß"), max_size=16)
       | st.text(max_size=12))
def test_identity_of_a_symbol_is_that_symbol(name):
    # default names are symbols: reading one back must give the same coin
    symbol = coin_identity(name).symbol
    assert coin_identity(symbol).symbol == symbol
    assert base_symbol(symbol) == symbol
