"""Black-Scholes and Black-76: Hull's published examples, put-call parity, greeks."""

import numpy as np
import pytest

from riskcore.errors import DataError
from riskcore.pricing import black76, black_scholes


def test_black_scholes_hull_example():
    # Hull, Options, Futures, and Other Derivatives: S=42, K=40, r=10%, sigma=20%, T=0.5
    call = black_scholes(42, 40, 0.5, 0.2, rate=0.1, kind="call")
    put = black_scholes(42, 40, 0.5, 0.2, rate=0.1, kind="put")
    assert round(call.price, 2) == 4.76
    assert round(put.price, 2) == 0.81
    assert round(call.delta, 4) == 0.7791


def test_black76_hull_futures_option_example():
    # Hull: F=20, K=20, r=9%, sigma=25%, T=4 months, European put on futures
    put = black76(20, 20, 4 / 12, 0.25, rate=0.09, kind="put")
    assert round(put.price, 2) == 1.12


def test_put_call_parity_to_1e12():
    rng = np.random.default_rng(42)
    s, k = rng.uniform(0.5, 2.0, 50), rng.uniform(0.5, 2.0, 50)
    t, vol, r = rng.uniform(0.01, 3, 50), rng.uniform(0.05, 1.5, 50), rng.uniform(-0.02, 0.1, 50)
    c, p = black_scholes(s, k, t, vol, rate=r), black_scholes(s, k, t, vol, rate=r, kind="put")
    assert np.max(np.abs(c.price - p.price - (s - k * np.exp(-r * t)))) < 1e-12
    c, p = black76(s, k, t, vol, rate=r), black76(s, k, t, vol, rate=r, kind="put")
    assert np.max(np.abs(c.price - p.price - np.exp(-r * t) * (s - k))) < 1e-12


@pytest.mark.parametrize("model", [black_scholes, black76])
@pytest.mark.parametrize("kind", ["call", "put"])
def test_greeks_match_finite_differences(model, kind):
    s, k, t, vol, r, h = 100.0, 110.0, 0.7, 0.6, 0.03, 1e-3
    q = model(s, k, t, vol, rate=r, kind=kind)
    up, down = model(s + h, k, t, vol, rate=r, kind=kind), model(s - h, k, t, vol, rate=r,
                                                                   kind=kind)
    assert q.delta == pytest.approx((up.price - down.price) / (2 * h), rel=1e-6)
    assert q.gamma == pytest.approx((up.price - 2 * q.price + down.price) / h**2, rel=1e-4)
    v_up = model(s, k, t, vol + h, rate=r, kind=kind).price
    v_down = model(s, k, t, vol - h, rate=r, kind=kind).price
    assert q.vega == pytest.approx((v_up - v_down) / (2 * h), rel=1e-6)


def test_at_expiry_an_option_is_worth_its_intrinsic_value():
    call = black_scholes(120, 100, 0.0, 0.5, kind="call")
    put = black_scholes(120, 100, 0.0, 0.5, kind="put")
    assert (call.price, call.delta, call.gamma, call.vega) == (20.0, 1.0, 0.0, 0.0)
    assert (put.price, put.delta) == (0.0, 0.0)


def test_bad_inputs_are_named():
    with pytest.raises(DataError, match="option kind is 'straddle'; allowed: call, put"):
        black_scholes(100, 100, 1, 0.5, kind="straddle")
    with pytest.raises(DataError, match="strike must be positive"):
        black76(100, -5, 1, 0.5)
    with pytest.raises(DataError, match="volatility must be >= 0"):
        black_scholes(100, 100, 1, -0.1)
