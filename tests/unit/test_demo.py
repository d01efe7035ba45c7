import time

import numpy as np
import pandas as pd
import pytest

from riskcore.demo import (
    CRASH_PERIODS,
    DEMO_ASSETS,
    DEMO_DESCRIPTION,
    DEMO_STABLECOIN,
    DEPEG_START,
    demo_prices,
    load_calibration,
)
from riskcore.errors import DataError


@pytest.fixture(scope="module")
def prices() -> pd.DataFrame:
    start = time.perf_counter()
    panel = demo_prices()
    print(f"demo_prices() generated in {1000 * (time.perf_counter() - start):.1f} ms")
    return panel


@pytest.fixture(scope="module")
def log_returns(prices: pd.DataFrame) -> pd.DataFrame:
    return np.log(prices).diff()


def crash_mask(index: pd.DatetimeIndex) -> np.ndarray:
    mask = np.zeros(len(index), dtype=bool)
    for start, end in CRASH_PERIODS:
        mask |= (index >= pd.Timestamp(start, tz="UTC")) & (index <= pd.Timestamp(end, tz="UTC"))
    return mask


def mean_pairwise(corr: pd.DataFrame) -> float:
    values = corr.to_numpy()
    return float(np.nanmean(values[np.triu_indices_from(values, 1)]))


def test_panel_contract(prices):
    index = prices.index
    assert isinstance(index, pd.DatetimeIndex)
    assert str(index.tz) == "UTC"
    assert index.name == "date"
    assert index.is_monotonic_increasing and index.is_unique
    assert (np.diff(index.asi8) == np.diff(index.asi8)[0]).all()  # daily, 7 days a week
    assert (index.day_of_week >= 5).any()
    assert (index.normalize() == index).all()
    assert (prices.dtypes == "float64").all()
    assert list(prices.columns) == list(DEMO_ASSETS)
    assert len(prices.columns) >= 10
    assert index[-1] - index[0] >= pd.Timedelta(days=4 * 365)
    assert (prices.stack().dropna() > 0).all()


def test_deterministic_and_seeded(prices):
    pd.testing.assert_frame_equal(demo_prices(), prices)
    pd.testing.assert_frame_equal(demo_prices(seed=7), prices)
    other = demo_prices(seed=8)
    assert not np.allclose(other["BTC-USD"], prices["BTC-USD"])
    # the result is a fresh frame: mutating it does not change the next call
    mutated = demo_prices()
    mutated.iloc[:, 0] = 0.0
    pd.testing.assert_frame_equal(demo_prices(), prices)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", True])
def test_bad_seed(seed):
    with pytest.raises(DataError, match="demo seed .* is not allowed; use a non-negative integer"):
        demo_prices(seed=seed)


def test_staggered_listings(prices):
    first = prices.apply(lambda s: s.first_valid_index())
    late = first[first > prices.index[0]]
    assert {"SOL-USD", "AVAX-USD", "DOT-USD"} <= set(late.index)
    assert first["DOT-USD"] == pd.Timestamp("2020-08-20", tz="UTC")
    for name in prices.columns:
        listed = prices.loc[first[name] :, name]
        assert listed.notna().all(), f"{name} has a hole after listing"
        assert prices.loc[: first[name], name].iloc[:-1].isna().all()


def test_stablecoin_depegs_briefly(prices):
    usdt = prices[DEMO_STABLECOIN]
    off_peg = usdt[(usdt - 1.0).abs() > 0.01]
    assert 2 <= len(off_peg) <= 7
    assert off_peg.index[0] >= DEPEG_START
    assert off_peg.index[-1] <= DEPEG_START + pd.Timedelta(days=7)
    assert usdt.min() < 0.98  # several percent below the peg
    assert abs(usdt.loc[DEPEG_START + pd.Timedelta(days=10) :].iloc[0] - 1.0) < 0.01  # back


def test_fat_tails(log_returns):
    excess = log_returns.drop(columns=DEMO_STABLECOIN).kurt()
    assert (excess > 3.0).all(), excess[excess <= 3.0]


def test_volatility_clustering(log_returns):
    # absolute returns are autocorrelated over lags 1..10 (GARCH), raw returns much less so;
    # on the real BTC, ETH and SOL closes the same average is 0.12 to 0.15
    coins = log_returns.drop(columns=DEMO_STABLECOIN)
    lags = range(1, 11)
    absolute = np.mean([coins[c].abs().autocorr(k) for c in coins for k in lags])
    raw = np.mean([coins[c].autocorr(k) for c in coins for k in lags])
    assert absolute > 0.08
    assert absolute > 3 * abs(raw)


def test_crash_regime_raises_correlation_and_volatility(log_returns):
    coins = log_returns.drop(columns=DEMO_STABLECOIN)
    crash = crash_mask(coins.index)
    inside = mean_pairwise(coins[crash].corr())
    outside = mean_pairwise(coins[~crash].corr())
    assert inside > outside + 0.2
    assert (coins[crash].std() > coins[~crash].std()).all()


def test_volatilities_match_calibration(log_returns):
    stats = load_calibration()["assets"]
    measured = log_returns.std() * np.sqrt(365)
    for name in DEMO_ASSETS:
        target = stats[name]["volatility"]
        ratio = measured[name] / target
        assert 0.5 < ratio < 2.0, f"{name}: demo {measured[name]:.3f} vs real {target:.3f}"


def test_calibration_holds_statistics_only():
    cal = load_calibration()
    assert set(DEMO_ASSETS) <= set(cal["assets"])
    assert cal["periods_per_year"] == 365
    for block in ("correlation", "correlation_calm", "correlation_crash"):
        matrix = np.asarray(cal[block]["matrix"])
        assert matrix.shape == (len(cal[block]["assets"]),) * 2
        np.testing.assert_allclose(np.diag(matrix), 1.0)
    assert cal["regime"]["mean_correlation_crash"] > cal["regime"]["mean_correlation_calm"]
    # no price series: at most a handful of numbers per asset
    for entry in cal["assets"].values():
        assert all(not isinstance(v, list) for v in entry.values())


def test_description_says_simulated_and_calibrated():
    assert "Simulated" in DEMO_DESCRIPTION and "not real prices" in DEMO_DESCRIPTION
    assert "calibrated" in DEMO_DESCRIPTION
    assert load_calibration()["common_window"][0] in DEMO_DESCRIPTION
