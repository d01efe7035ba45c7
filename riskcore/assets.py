"""Asset naming: one coin identity rule, and which assets are stablecoins.

A coin arrives under many names: a Yahoo ticker (``BTC-USD``), an exchange pair (``BTCUSDT``,
``BTC/USDT``), a Kaggle file (``coin_Bitcoin``), a CoinGecko id (``bitcoin``, ``avalanche-2``)
or a plain name (``Bitcoin``, ``USD Coin``). :func:`coin_identity` reduces each to its base
symbol (``BTC``) and keeps the quote currency as metadata; :func:`base_symbol` and
:func:`is_stablecoin` are thin views of it, so every module that asks "which coin is this?" or
"is this a stablecoin?" gets the same answer.

The rule, in order (the name is stripped first; case never matters):

1. A leading ``coin_`` (Kaggle's file names) and a trailing `` (2)``, `` (3)``... (the
   counter :func:`riskcore.ingest.load_files` gives a second asset holding the same coin) are
   dropped, so ``"USDC (2)"`` is still a stablecoin.
2. A known symbol (a value of :data:`COIN_NAMES` or a member of
   :data:`STABLECOIN_SYMBOLS`) is itself: ``usdc`` -> ``USDC``.
3. A known coin name or CoinGecko id (:data:`COIN_NAMES`, compared without case, spaces,
   ``-`` or ``_``) gives its symbol: ``avalanche-2`` -> ``AVAX``, ``USD Coin`` -> ``USDC``.
4. A pair with a separator (``-`` ``/`` ``_`` ``:`` or a space) whose right part is a quote
   currency (:data:`QUOTE_CURRENCIES`) gives its left part, resolved by rules 2-3, and the
   quote: ``BTC-USD`` -> ``BTC`` quoted in ``USD``; ``ETH/BTC`` -> ``ETH`` quoted in ``BTC``.
5. A pair written without separator whose end is a fiat or stablecoin quote
   (:data:`CONCATENATED_QUOTES`) and whose rest has at least two letters or digits:
   ``BTCUSDT`` -> ``BTC`` quoted in ``USDT``. When several splits fit, one whose rest is a
   known symbol wins (``USDTUSD`` is ``USDT`` in ``USD``), else the longest quote. ``TUSD``
   or ``FDUSD`` alone are caught by rule 2 first.
6. Anything else is its upper-cased stripped name (``PEPE`` -> ``PEPE``, ``=1+1`` -> ``=1+1``):
   an unknown coin keeps a name the user recognises.

Yahoo Finance's renamed tickers ``SOL1`` (Solana before 2022) and ``LUNA1`` (Terra before its
May 2022 collapse, today LUNC) are listed in :data:`COIN_NAMES` as aliases of ``SOL`` and
``LUNA``.

Stablecoins have almost no volatility until they de-peg, which breaks inverse-volatility and
risk-parity weights; several modules need to know which assets they are. :func:`is_stablecoin`
is THE membership rule: the base symbol is in :data:`STABLECOIN_SYMBOLS`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "CASH",
    "COIN_NAMES",
    "CONCATENATED_QUOTES",
    "KNOWN_SYMBOLS",
    "QUOTE_CURRENCIES",
    "STABLECOIN_SYMBOLS",
    "CoinIdentity",
    "base_symbol",
    "coin_identity",
    "is_stablecoin",
    "stablecoins",
]

#: Name of the riskless cash sleeve in weights (the remainder of a volatility target).
CASH = "cash"

#: Symbols of USD stablecoins recognized by name.
STABLECOIN_SYMBOLS: frozenset[str] = frozenset(
    {"USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "PAX", "GUSD", "FDUSD", "PYUSD", "USDD",
     "FRAX", "LUSD", "USDE", "SUSD", "USTC", "UST", "USDS", "EURC"}
)

#: Coin names, CoinGecko ids and renamed tickers of the top coins (by market capitalisation,
#: 2021-2025, stablecoins included) -> base symbol. Keys are compared after removing case,
#: spaces, ``-`` and ``_`` (so ``usd-coin``, ``USD Coin`` and ``USDCoin`` are one key).
COIN_NAMES: dict[str, str] = {
    "bitcoin": "BTC", "xbt": "BTC", "ethereum": "ETH", "ether": "ETH", "tether": "USDT",
    "usdcoin": "USDC", "binancecoin": "BNB", "bnb": "BNB", "ripple": "XRP", "xrp": "XRP",
    "solana": "SOL", "sol1": "SOL", "cardano": "ADA", "dogecoin": "DOGE",
    "tron": "TRX", "avalanche": "AVAX", "avalanche2": "AVAX", "shibainu": "SHIB",
    "polkadot": "DOT", "chainlink": "LINK", "bitcoincash": "BCH", "litecoin": "LTC",
    "polygon": "MATIC", "maticnetwork": "MATIC", "polygonecosystemtoken": "POL",
    "near": "NEAR", "nearprotocol": "NEAR", "uniswap": "UNI", "internetcomputer": "ICP",
    "stellar": "XLM", "cosmos": "ATOM", "monero": "XMR", "ethereumclassic": "ETC",
    "toncoin": "TON", "thenopencoin": "TON", "filecoin": "FIL", "hedera": "HBAR",
    "hederahashgraph": "HBAR", "aptos": "APT", "arbitrum": "ARB", "optimism": "OP",
    "vechain": "VET", "algorand": "ALGO", "tezos": "XTZ", "eos": "EOS", "aave": "AAVE",
    "sui": "SUI", "pepe": "PEPE", "wrappedbitcoin": "WBTC", "stakedether": "STETH",
    "lidostakedether": "STETH", "terra": "LUNA", "terraluna": "LUNA", "luna1": "LUNA",
    "terraclassic": "LUNC", "terralunaclassic": "LUNC", "terrausd": "UST",
    "dai": "DAI", "multicollateraldai": "DAI", "binanceusd": "BUSD", "trueusd": "TUSD",
    "paxdollar": "USDP", "paxosstandard": "USDP", "firstdigitalusd": "FDUSD",
    "paypalusd": "PYUSD", "ethenausde": "USDE", "geminidollar": "GUSD",
    "fraxfinance": "FRAX",
}

#: Quote currencies recognized after a separator (``BTC-USD``, ``ETH/BTC``, ``SOL_USDT``).
QUOTE_CURRENCIES: frozenset[str] = frozenset(
    {"USD", "USDT", "USDC", "BUSD", "FDUSD", "TUSD", "DAI", "USDP", "EUR", "GBP", "JPY",
     "KRW", "AUD", "CAD", "CHF", "TRY", "BRL", "BTC", "ETH", "BNB"}
)

#: Quote currencies recognized at the end of a pair written without separator (``BTCUSDT``),
#: longest first; only fiat money and stablecoins (``ETHBTC`` is too close to real tickers
#: such as ``WBTC`` to be split safely).
CONCATENATED_QUOTES: tuple[str, ...] = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USD", "EUR", "GBP", "TRY",
)

#: Every symbol the identity rule knows by name (values of :data:`COIN_NAMES` and stablecoins).
KNOWN_SYMBOLS: frozenset[str] = frozenset(COIN_NAMES.values()) | STABLECOIN_SYMBOLS

_COUNTER = re.compile(r"(?<=\S)\s+\(\d+\)$")
_SEPARATED = re.compile(r"^(.+?)\s*[-/_: ]\s*([A-Za-z]{3,5})$")
_KNOWN_SYMBOLS = KNOWN_SYMBOLS


@dataclass(frozen=True)
class CoinIdentity:
    """Who a named asset is: its base symbol and, when the name says it, its quote currency.

    Attributes
    ----------
    symbol : str
        Upper-case base symbol (``"BTC"``); for an unknown name, the upper-cased stripped name.
    quote : str or None
        Quote currency named in a pair (``"USD"`` for ``BTC-USD``, ``"USDT"`` for
        ``BTCUSDT``); None when the name does not say (``bitcoin``, ``BTC``).
    """

    symbol: str
    quote: str | None = None


def _key(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text.lower())


def _known(text: str) -> str | None:
    """Rules 2-3: a known symbol, or the symbol of a known name or id."""
    upper = text.strip().upper()
    if upper in _KNOWN_SYMBOLS:
        return upper
    return COIN_NAMES.get(_key(text))


def coin_identity(name: str) -> CoinIdentity:
    """Normalise an asset name to its base symbol, keeping the quote currency as metadata.

    Parameters
    ----------
    name : str
        Asset, ticker, pair, coin name or CoinGecko id, in any case (``"BTC-USD"``,
        ``"BTCUSDT"``, ``"btc/usdt"``, ``"coin_Bitcoin"``, ``"avalanche-2"``, ``"USD Coin"``).

    Returns
    -------
    CoinIdentity
        ``symbol`` (``"BTC"``) and ``quote`` (``"USD"``, ``"USDT"``... or None). The rules,
        in order, are in the module notes; an unknown name gives its upper-cased stripped text.

    Examples
    --------
    >>> coin_identity("BTC-USD")
    CoinIdentity(symbol='BTC', quote='USD')
    >>> coin_identity("avalanche-2")
    CoinIdentity(symbol='AVAX', quote=None)
    """
    text, previous = str(name).strip(), None
    while text != previous:  # "coin_X (2)", "X (2) (3)": strip until nothing changes
        previous = text
        text = _COUNTER.sub("", text).strip()
        if text.lower().startswith("coin_") and text[5:].strip():
            text = text[5:].strip()
    known = _known(text)
    if known is not None:
        return CoinIdentity(known)
    match = _SEPARATED.match(text)
    if match and match.group(2).upper() in QUOTE_CURRENCIES:
        return CoinIdentity(coin_identity(match.group(1)).symbol, match.group(2).upper())
    upper = text.upper()
    splits = [(upper[: -len(q)], q) for q in CONCATENATED_QUOTES
              if upper.endswith(q) and len(upper) - len(q) >= 2 and upper[: -len(q)].isalnum()]
    if splits:  # a known base wins (USDTUSD is USDT/USD, not USD/TUSD), else the longest quote
        rest, quote = next(((r, q) for r, q in splits if r in _KNOWN_SYMBOLS), splits[0])
        return CoinIdentity(coin_identity(rest).symbol, quote)
    return CoinIdentity(upper)


def base_symbol(name: str) -> str:
    """Return the base symbol of an asset name: ``"BTC-USD"`` -> ``"BTC"``.

    Parameters
    ----------
    name : str
        Asset or ticker name as it appears in a price panel.

    Returns
    -------
    str
        ``coin_identity(name).symbol``: the upper-case base symbol, or the whole upper-cased
        stripped name when the name is not recognized.
    """
    return coin_identity(name).symbol


def is_stablecoin(name: str) -> bool:
    """Tell whether an asset name denotes a known USD stablecoin (``USDT-USD``, ``usd-coin``).

    The one stablecoin membership rule of riskcore: the base symbol of :func:`coin_identity`
    is in :data:`STABLECOIN_SYMBOLS` (so ``tether``, ``USD Coin`` and ``USDCUSDT`` count).

    Parameters
    ----------
    name : str
        Asset or ticker name.

    Returns
    -------
    bool
    """
    return base_symbol(name) in STABLECOIN_SYMBOLS


def stablecoins(prices: pd.DataFrame, *, peg: float = 1.0, tolerance: float = 0.02) -> list[str]:
    """List the stablecoin columns of a price panel, by name or by behaviour.

    A column is a stablecoin if its name is a known stablecoin symbol, or if at least 95% of
    its observed prices lie within ``tolerance`` of ``peg``.

    Parameters
    ----------
    prices : pandas.DataFrame of shape (n_periods, n_assets)
        Price panel (USD per unit).
    peg : float, default 1.0
        The peg in the panel's quote currency.
    tolerance : float, default 0.02
        Relative distance from the peg counted as "on peg" (decimal; 0.02 = 2%).

    Returns
    -------
    list of str
        Column names in panel order.
    """
    found = []
    for name in prices.columns:
        observed = prices[name].dropna().to_numpy(dtype=float)
        on_peg = observed.size > 0 and np.mean(np.abs(observed / peg - 1.0) <= tolerance) >= 0.95
        if is_stablecoin(name) or on_peg:
            found.append(name)
    return found
