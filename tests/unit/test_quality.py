"""quality_report, clean_prices and observation_counts on synthetic and real panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskcore.errors import DataError
from riskcore.ingest import load_files, read_prices
from riskcore.quality import (
    CleanResult,
    QualityPolicy,
    clean_prices,
    observation_counts,
    quality_report,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
UPLOADS = DATA / "uploads"
YAHOO = DATA / "yahoo-daily"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


@pytest.fixture
def panel() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    index = pd.date_range("2024-01-01", periods=40, freq="D", tz="UTC", name="date")
    btc = 40_000 * np.exp(np.cumsum(rng.normal(0, 0.02, 40)))
    btc[10:13] = np.nan  # a 3-day gap
    btc[20] = 0.0  # a zero price
    btc[30:36] = btc[29]  # stale: 7 equal prices in a row (29..35)
    eth = 2_000 * np.exp(np.cumsum(rng.normal(0, 0.02, 40)))
    eth[:5] = np.nan  # lists on day 5
    eth[25] = eth[24] * 1.8  # a +80% spike and its -44% reversal
    usdc = 1.0 + rng.normal(0, 0.001, 40)
    usdc[15:18] = [0.97, 0.95, 0.975]  # a 3-day de-peg
    return pd.DataFrame({"BTC-USD": btc, "ETH-USD": eth, "USDC-USD": usdc}, index=index)


def test_report_counts_each_planted_defect(panel):
    report = quality_report(panel)
    btc, eth, usdc = report.loc["BTC-USD"], report.loc["ETH-USD"], report.loc["USDC-USD"]
    assert (btc["missing_periods"], btc["gaps"], btc["largest_gap"]) == (3, 1, 3)
    assert btc["largest_gap_start"] == ts("2024-01-11")
    assert btc["zero_prices"] == 1 and btc["negative_prices"] == 0
    assert (btc["stale_runs"], btc["stale_periods"]) == (1, 6)
    assert btc["extreme_returns"] == 1  # the -100% move to zero; the move from zero is undefined
    assert eth["first"] == ts("2024-01-06") and eth["rows"] == 35
    assert eth["missing_periods"] == 0  # not listed yet is not missing
    assert eth["extreme_returns"] == 1 and eth["largest_abs_return"] == pytest.approx(0.8)
    assert usdc["stablecoin"] and not btc["stablecoin"]
    assert usdc["depeg_periods"] == 3 and usdc["largest_depeg"] == pytest.approx(0.05)
    assert btc["depeg_periods"] == 0


def test_report_thresholds_are_parameters(panel):
    report = quality_report(panel, stale_periods=8, extreme_return=0.3, depeg_tolerance=0.04)
    assert report.loc["BTC-USD", "stale_runs"] == 0
    assert report.loc["ETH-USD", "extreme_returns"] == 2  # +80% and the -44% reversal
    assert report.loc["USDC-USD", "depeg_periods"] == 1


def test_report_takes_load_time_duplicates_and_bad_cells():
    raw = (UPLOADS / "coingecko_btc-usd-max.csv").read_bytes()
    result = load_files([("coingecko_btc-usd-max.csv", raw),
                         ("yahoo-classic_ETH-USD.csv",
                          (UPLOADS / "yahoo-classic_ETH-USD.csv").read_bytes())])
    report = quality_report(result.prices, duplicates=result.duplicates,
                            bad_values=result.bad_values)
    assert report.loc["BTC", "duplicate_timestamps"] == 2
    assert report.loc["BTC", "missing_periods"] == 4
    assert report.loc["ETH", "null_prices"] == 4
    assert report.loc["ETH", "missing_periods"] == 4


def test_report_shows_documented_defects_of_real_files():
    shib = quality_report(read_prices(UPLOADS / "yfinance-lowercase_SHIB-USD_1d.csv"))
    assert shib.loc["SHIB", ["zero_prices", "gaps", "missing_periods", "largest_gap"]
                    ].tolist() == [217, 16, 41, 5]
    usdc = quality_report(read_prices(UPLOADS / "kaggle_coin_USDCoin.csv")).loc["USDC"]
    assert usdc["stablecoin"] and usdc["depeg_periods"] == 33
    assert usdc["largest_depeg"] == pytest.approx(0.044029, abs=1e-6)
    wide = quality_report(read_prices(UPLOADS / "wide-semicolon_crypto_prices.csv"))
    assert wide.loc["AVAX", "largest_gap"] == 69
    assert wide.loc["SOL", "first"] == ts("2021-09-20")
    assert wide.loc["LUNA", "last"] == ts("2022-10-09")
    assert wide.loc["USDT", "largest_depeg"] == pytest.approx(0.0536, abs=1e-4)
    assert wide.loc["LUNA", "extreme_returns"] >= 1


def test_default_policy_changes_nothing(panel):
    result = clean_prices(panel)
    assert isinstance(result, CleanResult)
    pd.testing.assert_frame_equal(result.prices, panel)
    assert result.actions.empty


def changed_cells(before: pd.DataFrame, after: pd.DataFrame) -> set[tuple[str, pd.Timestamp]]:
    differ = ~((before == after) | (before.isna() & after.isna()))
    return {(asset, date) for asset in before.columns for date in before.index[differ[asset]]}


def listed_cells(actions: pd.DataFrame, index: pd.DatetimeIndex) -> set[tuple[str, pd.Timestamp]]:
    cells = set()
    for row in actions.itertuples():
        cells |= {(row.asset, d) for d in index[(index >= row.start) & (index <= row.end)]}
    return cells


def test_every_change_is_listed(panel):
    policy = QualityPolicy(missing="ffill", nonpositive="drop", stale="drop", extreme="ffill",
                           depeg="drop", ffill_limit=2)
    result = clean_prices(panel, policy)
    assert changed_cells(panel, result.prices) == listed_cells(result.actions, panel.index)
    actions = result.actions.set_index(["asset", "issue"])
    # a 3-day gap with limit 2: two days filled, the third stays NaN
    gap = actions.loc[("BTC-USD", "missing")]
    assert (gap["start"], gap["end"], gap["periods"]) == (ts("2024-01-11"), ts("2024-01-12"), 2)
    assert np.isnan(result.prices.loc[ts("2024-01-13"), "BTC-USD"])
    assert result.prices.loc[ts("2024-01-11"), "BTC-USD"] == panel.loc[ts("2024-01-10"),
                                                                        "BTC-USD"]
    assert np.isnan(result.prices.loc[ts("2024-01-21"), "BTC-USD"])  # zero price dropped
    assert result.prices.loc[ts("2024-01-26"), "ETH-USD"] == panel.loc[ts("2024-01-25"),
                                                                       "ETH-USD"]
    assert result.prices["USDC-USD"].isna().sum() == 3
    assert result.prices["BTC-USD"].iloc[30:36].isna().all()  # stale repeats dropped
    assert result.prices["BTC-USD"].iloc[29] == panel["BTC-USD"].iloc[29]  # first kept
    # never filled before listing
    assert result.prices["ETH-USD"].iloc[:5].isna().all()


def test_ffill_beyond_limit_is_listed_as_drop():
    index = pd.date_range("2024-01-01", periods=8, freq="D", tz="UTC", name="date")
    prices = pd.DataFrame({"X": [1.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.0]}, index=index)
    result = clean_prices(prices, QualityPolicy(nonpositive="ffill", ffill_limit=2))
    assert result.prices["X"].iloc[2:4].tolist() == [2.0, 2.0]
    assert result.prices["X"].iloc[4:6].isna().all()
    assert result.actions["action"].tolist() == ["ffill", "drop"]
    assert "beyond the ffill limit of 2" in result.actions["detail"].iloc[1]
    assert changed_cells(prices, result.prices) == listed_cells(result.actions, index)


def test_observation_counts_common_and_pairwise():
    prices = pd.concat([read_prices(p) for p in sorted(YAHOO.glob("*.csv"))], axis=1, sort=True)
    common = observation_counts(prices)
    assert (common == 1604).all()
    assert common.attrs["start"] == ts("2020-09-22") and common.attrs["end"] == ts("2025-02-11")
    pair = observation_counts(prices, how="pairwise")
    assert pair.loc["BTC", "LTC"] == 3801
    assert pair.loc["BTC", "BTC"] == prices["BTC"].notna().sum()
    assert pair.loc["AVAX", "SOL"] == pair.loc["SOL", "AVAX"] == 1606
    np.testing.assert_array_equal(pair.to_numpy(), pair.to_numpy().T)


def test_observation_counts_empty_window():
    index = pd.date_range("2024-01-01", periods=4, freq="D", tz="UTC", name="date")
    prices = pd.DataFrame({"A": [1.0, 2.0, np.nan, np.nan], "B": [np.nan, np.nan, 1.0, 2.0]},
                          index=index)
    common = observation_counts(prices, how="common")
    assert (common == 0).all() and pd.isna(common.attrs["start"])
    assert observation_counts(prices, how="pairwise").loc["A", "B"] == 0


@pytest.mark.parametrize("kwargs, message", [
    ({"missing": "drop"}, "action for missing is 'drop'; allowed are keep, ffill"),
    ({"stale": "ffill"}, "action for stale is 'ffill'; allowed are keep, drop"),
    ({"extreme": "fix"}, "action for extreme is 'fix'; allowed are keep, drop, ffill"),
    ({"ffill_limit": 0}, r"ffill_limit is 0; it must be an integer >= 1"),
    ({"stale_periods": 1}, r"stale_periods is 1; it must be an integer >= 2"),
    ({"depeg_tolerance": -0.1}, r"depeg_tolerance is -0.1; it must be a number >= 0"),
])
def test_policy_validation(kwargs, message):
    with pytest.raises(DataError, match=message):
        QualityPolicy(**kwargs)


def test_bad_inputs(panel):
    with pytest.raises(DataError, match="prices must be a pandas DataFrame, got list"):
        quality_report([1, 2])  # type: ignore[arg-type]
    with pytest.raises(DataError, match="prices must have a DatetimeIndex"):
        quality_report(panel.reset_index(drop=True))
    with pytest.raises(DataError, match="sorted index without duplicate timestamps"):
        quality_report(panel.iloc[::-1])
    with pytest.raises(DataError, match="price column 'X' is not numeric"):
        quality_report(panel.assign(X="a"))
    with pytest.raises(DataError, match="extreme_return is nan; it must be a number >= 0"):
        quality_report(panel, extreme_return=float("nan"))
    with pytest.raises(DataError, match="how is 'all'; allowed values are 'common' and"):
        observation_counts(panel, how="all")


def test_report_counts_cells_that_cannot_be_prices_per_asset():
    # issue 14: inf and 1e308 used to vanish as NaN before the list of bad cells was built
    text = ("Date,BTC-USD,ETH-USD\n2024-01-01,inf,1\n2024-01-02,-inf,2\n2024-01-03,1e308,-3\n"
            "2024-01-04,5,1e400\n2024-01-05,6,null\n")
    result = load_files([("hostile.csv", text.encode())])
    report = quality_report(result.prices, bad_values=result.bad_values)
    assert report.loc["BTC", ["infinite_prices", "too_large_prices"]].tolist() == [2, 1]
    assert report.loc["ETH", ["infinite_prices", "negative_prices", "null_prices"]].tolist() \
        == [1, 1, 1]
    assert report.loc["BTC", "rows"] == 2  # the three unusable cells are NaN in the panel
    assert result.prices.loc[ts("2024-01-03"), "ETH"] == -3.0  # negative kept for the policy
    assert result.bad_values.set_index(["asset", "line"]).loc[("BTC", 4), "value"] == "1e308"
