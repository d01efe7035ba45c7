"""European option prices and greeks: Black-Scholes on spot, Black-76 on the forward.

Units: prices and strikes in USD per coin; ``time_to_expiry`` in years; ``volatility`` and
``rate`` as annualized decimals (0.6 = 60% a year, continuously compounded rate). Greeks are
per one option on one coin:

- ``delta``: change of the option price per USD of the underlying (spot for Black-Scholes,
  forward for Black-76);
- ``gamma``: change of delta per USD of the underlying;
- ``vega``: change of the option price per 1.00 (100 volatility points) of volatility, so
  ``vega / 100`` is the change per volatility point.

Every function broadcasts over numpy arrays. An option at or after expiry
(``time_to_expiry <= 0``) or with zero volatility is worth its discounted intrinsic value,
with a delta of 0 or 1 (-1 for a put) and zero gamma and vega.

References
----------
F. Black, M. Scholes (1973), "The pricing of options and corporate liabilities", Journal of
Political Economy 81(3), 637-654.
F. Black (1976), "The pricing of commodity contracts", Journal of Financial Economics 3,
167-179.
J. C. Hull, *Options, Futures, and Other Derivatives*: the Black-Scholes-Merton chapter's
worked example (S=42, K=40) and the futures-options chapter's Black's-model example (F=20).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from riskcore.errors import DataError

__all__ = ["OPTION_KINDS", "OptionQuote", "black76", "black_scholes"]

#: Allowed option kinds.
OPTION_KINDS = ("call", "put")


@dataclass(frozen=True)
class OptionQuote:
    """Price and greeks of one European option (floats, or arrays when inputs broadcast).

    Attributes
    ----------
    price : float or numpy.ndarray
        Option price in USD per coin of underlying.
    delta : float or numpy.ndarray
        ∂price/∂underlying (spot for Black-Scholes, forward for Black-76), unit-free.
    gamma : float or numpy.ndarray
        ∂²price/∂underlying², per USD.
    vega : float or numpy.ndarray
        ∂price/∂volatility in USD per 1.00 of volatility (divide by 100 for one point).
    """

    price: float | np.ndarray
    delta: float | np.ndarray
    gamma: float | np.ndarray
    vega: float | np.ndarray


def _pdf(x: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * x * x) / np.sqrt(2.0 * np.pi)


def _check(kind: str, values: dict[str, object]) -> tuple[float, dict[str, np.ndarray]]:
    if kind not in OPTION_KINDS:
        raise DataError(f"option kind is {kind!r}; allowed: {', '.join(OPTION_KINDS)}")
    arrays = {name: np.asarray(value, dtype=float) for name, value in values.items()}
    for name in ("underlying", "strike"):
        if np.any(~(arrays[name] > 0)):
            raise DataError(f"{name} must be positive and finite; got {values[name]}")
    if np.any(~(arrays["volatility"] >= 0)):
        raise DataError(f"volatility must be >= 0 (decimal a year); got {values['volatility']}")
    if np.any(~np.isfinite(arrays["time_to_expiry"])) or np.any(~np.isfinite(arrays["rate"])):
        raise DataError("time to expiry and rate must be finite numbers")
    return (1.0 if kind == "call" else -1.0), arrays


def _black(kind: str, underlying, strike, time_to_expiry, volatility, rate,
           discount_underlying: bool) -> OptionQuote:
    """Black's formula on a forward ``F`` (Black-Scholes is the case ``F = S e^{rT}``)."""
    sign, a = _check(kind, {"underlying": underlying, "strike": strike,
                            "time_to_expiry": time_to_expiry, "volatility": volatility,
                            "rate": rate})
    s, k, t, vol, r = (a[n] for n in ("underlying", "strike", "time_to_expiry", "volatility",
                                      "rate"))
    live = (t > 0) & (vol > 0)
    t_pos = np.where(live, t, 1.0)
    sd = np.where(live, vol, 1.0) * np.sqrt(t_pos)
    discount = np.exp(-r * np.maximum(t, 0.0))
    forward = s / discount if discount_underlying else s
    d1 = (np.log(forward / k) + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    # delta of the forward-price formula, then w.r.t. the quoted underlying
    price_live = discount * sign * (forward * ndtr(sign * d1) - k * ndtr(sign * d2))
    delta_f = discount * sign * ndtr(sign * d1)
    gamma_f = discount * _pdf(d1) / (forward * sd)
    vega_live = discount * forward * _pdf(d1) * np.sqrt(t_pos)
    intrinsic = discount * np.maximum(sign * (forward - k), 0.0)
    in_money = (sign * (forward - k) > 0).astype(float)
    price = np.where(live, price_live, intrinsic)
    delta_f = np.where(live, delta_f, sign * discount * in_money)
    scale = 1.0 / discount if discount_underlying else 1.0  # dF/dS
    delta = delta_f * scale
    gamma = np.where(live, gamma_f * scale * scale, 0.0)
    vega = np.where(live, vega_live, 0.0)
    values = [price, delta, gamma, vega]
    if all(np.ndim(v) == 0 for v in values):
        values = [float(v) for v in values]
    return OptionQuote(*values)


def black_scholes(spot, strike, time_to_expiry, volatility, *, rate=0.0,
                  kind: str = "call") -> OptionQuote:
    """Black-Scholes price and greeks of a European option on spot (no dividend).

    Parameters
    ----------
    spot : float or array-like
        Underlying spot price, USD per coin (> 0).
    strike : float or array-like
        Strike, USD per coin (> 0).
    time_to_expiry : float or array-like
        Years to expiry; <= 0 gives the intrinsic value.
    volatility : float or array-like
        Implied volatility, annualized decimal (>= 0).
    rate : float or array-like, default 0.0
        Continuously compounded riskless rate, annualized decimal.
    kind : {"call", "put"}, default "call"

    Returns
    -------
    OptionQuote
        Price in USD per coin; delta, gamma with respect to spot; vega per 1.00 volatility.

    Raises
    ------
    DataError
        If ``kind`` is not call or put, a price or strike is not positive, or volatility is
        negative.

    References
    ----------
    Black & Scholes (1973); Hull, *Options, Futures, and Other Derivatives*, Black-Scholes-Merton
    worked example (S=42, K=40, r=10%, σ=20%, T=0.5: call 4.76, put 0.81).
    """
    return _black(kind, spot, strike, time_to_expiry, volatility, rate, True)


def black76(forward, strike, time_to_expiry, volatility, *, rate=0.0,
            kind: str = "call") -> OptionQuote:
    """Black-76 price and greeks of a European option on a forward or futures price.

    Parameters
    ----------
    forward : float or array-like
        Forward (or futures) price for the option's expiry, USD per coin (> 0).
    strike : float or array-like
        Strike, USD per coin (> 0).
    time_to_expiry : float or array-like
        Years to expiry; <= 0 gives the intrinsic value.
    volatility : float or array-like
        Implied volatility, annualized decimal (>= 0).
    rate : float or array-like, default 0.0
        Continuously compounded rate used to discount the payoff, annualized decimal.
    kind : {"call", "put"}, default "call"

    Returns
    -------
    OptionQuote
        Price in USD per coin; delta, gamma with respect to the forward; vega per 1.00
        volatility.

    Raises
    ------
    DataError
        As :func:`black_scholes`.

    References
    ----------
    Black (1976); Hull, *Options, Futures, and Other Derivatives*, Black's-model example
    (F=20, K=20, r=9%, σ=25%, T=4 months: put 1.12).
    """
    return _black(kind, forward, strike, time_to_expiry, volatility, rate, False)
