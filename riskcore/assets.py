"""Asset naming helpers: which columns are stablecoins.

Stablecoins have almost no volatility until they de-peg, which breaks inverse-volatility and
risk-parity weights; several modules need to know which assets they are.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

#: Name of the riskless cash sleeve in weights (the remainder of a volatility target).
CASH = "cash"

#: Symbols of USD stablecoins recognized by name.
STABLECOIN_SYMBOLS: frozenset[str] = frozenset(
    {"USDT", "USDC", "DAI", "BUSD", "TUSD", "USDP", "PAX", "GUSD", "FDUSD", "PYUSD", "USDD",
     "FRAX", "LUSD", "USDE", "SUSD", "USTC", "UST", "USDS", "EURC"}
)
_SYMBOL = re.compile(r"^([A-Za-z0-9]+?)(?:[-_/ ]?(?:USD|USDT|USDC|EUR|BUSD))?$")


def base_symbol(name: str) -> str:
    """Return the base symbol of an asset name: ``"BTC-USD"`` -> ``"BTC"``.

    Parameters
    ----------
    name : str
        Asset or ticker name as it appears in a price panel.

    Returns
    -------
    str
        The upper-case base symbol; the whole upper-cased name if no quote suffix is found.
    """
    text = str(name).strip().upper()
    if text in STABLECOIN_SYMBOLS:
        return text
    match = _SYMBOL.match(text)
    return match.group(1) if match else text


def is_stablecoin(name: str) -> bool:
    """Tell whether an asset name denotes a known USD stablecoin (``USDT-USD``, ``USDC``, ``DAI``).

    Parameters
    ----------
    name : str
        Asset or ticker name.

    Returns
    -------
    bool
    """
    text = str(name).strip().upper()
    return base_symbol(text) in STABLECOIN_SYMBOLS or text.replace(" ", "") in {"USDCOIN", "TETHER"}


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
