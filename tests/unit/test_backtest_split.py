"""prepare_backtest + simulate_backtest is run_backtest, bit for bit, for any band, mode and
costs simulated on one preparation (the Rebalancing simulator caches the preparation)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import riskcore
from riskcore.backtest import RebalancePolicy, prepare_backtest, run_backtest, simulate_backtest
from riskcore.errors import ParameterError
from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec
from tests.unit.test_backtest_spec import PRICES

COSTS = CostModel(fee=0.001, half_spread=0.0005, impact=0.001, min_trade=50.0)


def assert_identical(a, b) -> None:
    """Every series and frame of two results equal, NaNs in the same places, same notes."""
    for name in ("equity", "weights", "relative_risk_contributions", "trades"):
        pd.testing.assert_frame_equal(getattr(a, name).to_frame() if name == "equity"
                                      else getattr(a, name),
                                      getattr(b, name).to_frame() if name == "equity"
                                      else getattr(b, name), check_exact=True)
    assert list(a.rebalance_dates) == list(b.rebalance_dates)
    assert a.notes == b.notes
    assert a.metrics.to_series("x").equals(b.metrics.to_series("x"))


@pytest.mark.parametrize("method", ["risk_budget", "hrp"])  # fast path and generic path
def test_bands_modes_and_costs_on_one_preparation_equal_fresh_runs(method):
    base = PortfolioSpec(method=method, lookback=60, band=0.05, costs=COSTS,
                         start=PRICES.index[100])
    prepared = prepare_backtest(PRICES, base, daily_targets=True)
    variants = [base, replace(base, band=0.01), replace(base, band=None, risk_band=0.02),
                replace(base, mode="to_band"), replace(base, costs=CostModel()),
                replace(base, band=0.2, relative_band=0.5)]
    finals = set()
    for spec in variants:
        fresh = run_backtest(PRICES, spec, initial_value=5_000.0)
        assert_identical(simulate_backtest(prepared, spec, initial_value=5_000.0), fresh)
        finals.add(float(fresh.equity.iloc[-1]))
    # the runs differ: the test would see a preparation that ignored triggers or costs
    assert len(finals) > 1


def test_default_simulation_is_run_backtest_with_explicit_costs_and_volume():
    policy = RebalancePolicy(method="risk_budget", frequency="M", lookback=60)
    volume = PRICES * 0 + 1e7
    prepared = prepare_backtest(PRICES, policy)
    assert not prepared.daily_targets  # monthly: targets on calendar dates only
    fresh = run_backtest(PRICES, policy, COSTS, volume=volume, initial_value=1_000.0)
    assert_identical(simulate_backtest(prepared, None, COSTS, volume=volume,
                                       initial_value=1_000.0), fresh)


def test_other_fields_need_a_new_preparation():
    base = PortfolioSpec(method="risk_budget", lookback=60, band=0.05)
    prepared = prepare_backtest(PRICES, base)
    with pytest.raises(ParameterError, match="lookback"):
        simulate_backtest(prepared, replace(base, lookback=90))
    calendar = prepare_backtest(PRICES, replace(base, band=None, frequency="M"))
    with pytest.raises(ParameterError, match="daily targets"):
        simulate_backtest(calendar, replace(base, frequency="M"))
    with pytest.raises(ParameterError, match="initial_value"):
        simulate_backtest(prepared, initial_value=-1.0)


def test_exported_from_riskcore():
    assert riskcore.prepare_backtest is prepare_backtest
    assert riskcore.simulate_backtest is simulate_backtest
    assert isinstance(prepare_backtest(PRICES, RebalancePolicy(lookback=30)),
                      riskcore.PreparedBacktest)
    assert np.isfinite(simulate_backtest(
        prepare_backtest(PRICES, RebalancePolicy(lookback=30))).equity).all()
