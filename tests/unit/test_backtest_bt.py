"""A monthly equal-risk-contribution policy agrees with bt (pmorissette/bt) on the same data.

bt's conventions, matched here:

- ``bt.Backtest`` prepends a row one day before the data; ``RunMonthly`` fires on the first
  date of each new month (never on the last date); trades execute at that date's close.
- ``WeighERC(lookback=DateOffset(days=L), covar_method="standard")`` estimates the sample
  covariance (``DataFrame.cov``, ddof=1) of the returns of the prices in
  ``[t - L days, t]``: on daily data without gaps, the ``L`` returns ending at ``t``, i.e.
  ``RebalancePolicy(lookback=L)``. Its cyclical coordinate descent stops when the squared
  weight change is below ``tolerance`` (default 1e-8, about 1e-4 in weights); a tolerance of
  1e-24 makes it converge to the same ERC weights as riskcore's Newton solver.
- ``integer_positions=False`` (bt rounds positions to whole units by default); the
  commission function ``abs(quantity) * price * fee`` is a proportional fee.
- bt's first rebalance is gated with ``RunAfterDate`` so that it happens on the first month
  start with a full window, where riskcore invests (reason ``"initial"``).

With costs bt buys slightly less (its commission comes out of each purchase, and sales leave a
small negative cash balance), so the two agree to 1e-3, not to rounding.
"""

from pathlib import Path

import bt
import numpy as np
import pandas as pd
import pytest

from riskcore.backtest import RebalancePolicy, run_backtest
from riskcore.ingest import load_files
from riskcore.rebalance import CostModel

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "yahoo-daily"


def synthetic_prices(n_days=500, seed=42, n=5):
    rng = np.random.default_rng(seed)
    index = pd.date_range("2020-12-31", periods=n_days, tz="UTC", name="date")
    vols = np.linspace(0.02, 0.08, n)
    corr = 0.4 * np.ones((n, n)) + 0.6 * np.eye(n)
    shocks = rng.standard_normal((n_days, n)) @ np.linalg.cholesky(corr * np.outer(vols, vols)).T
    return pd.DataFrame(100 * np.exp(np.cumsum(shocks, axis=0)), index=index,
                        columns=[f"C{i}" for i in range(n)])


def real_prices():
    files = [(f.name, f.read_bytes()) for f in sorted(DATA.glob("*.csv"))]
    assert len(files) == 14
    return load_files(files).prices.dropna()


def align(prices, lookback):
    """Start the data ``lookback`` days before the first month start with a full window."""
    later = prices.index[lookback:]
    first = later[later.day == 1][0]
    return prices.loc[first - pd.Timedelta(days=lookback):]


def run_bt(prices, lookback, fee):
    data = prices.tz_localize(None)
    algos = [
        bt.algos.RunAfterDate(data.index[lookback - 1]),
        bt.algos.RunMonthly(),
        bt.algos.SelectAll(),
        bt.algos.WeighERC(lookback=pd.DateOffset(days=lookback), covar_method="standard",
                          maximum_iterations=100_000, tolerance=1e-24),
        bt.algos.Rebalance(),
    ]
    test = bt.Backtest(bt.Strategy("erc", algos), data, initial_capital=1e6,
                       commissions=lambda q, p: abs(q) * p * fee, integer_positions=False,
                       progress_bar=False)
    bt.run(test)
    return test.strategy


@pytest.mark.parametrize(("source", "lookback"), [("synthetic", 60), ("yahoo-daily", 90)])
@pytest.mark.parametrize(("fee", "tolerance"), [(0.0, 1e-8), (0.001, 1e-3)])
def test_monthly_erc_agrees_with_bt(source, lookback, fee, tolerance):
    prices = align(synthetic_prices() if source == "synthetic" else real_prices(), lookback)
    strategy = run_bt(prices, lookback, fee)
    mine = run_backtest(prices, RebalancePolicy(method="erc", frequency="M", lookback=lookback),
                        CostModel(fee=fee), initial_value=1e6)
    traded = strategy.outlays.abs().sum(axis=1) > 0
    bt_dates = strategy.outlays.index[traded]
    assert list(mine.rebalance_dates.tz_localize(None)) == list(bt_dates)
    assert len(bt_dates) > 10
    final_bt = strategy.values.iloc[-1]
    assert mine.equity.iloc[-1] == pytest.approx(final_bt, rel=tolerance)
    if fee == 0:
        # same weights right after every rebalance
        held = strategy.positions.loc[bt_dates, prices.columns].to_numpy()
        close = prices.tz_localize(None).loc[bt_dates].to_numpy()
        bt_weights = held * close / strategy.values.loc[bt_dates].to_numpy()[:, None]
        mine_weights = mine.weights.loc[mine.rebalance_dates].to_numpy()
        np.testing.assert_allclose(mine_weights, bt_weights, atol=1e-8)
        np.testing.assert_allclose(mine.equity.tz_localize(None).to_numpy(),
                                   strategy.values.iloc[1:].to_numpy(), rtol=1e-8)
    else:
        assert mine.costs.sum() == pytest.approx(strategy.fees.sum(), rel=1e-2)
