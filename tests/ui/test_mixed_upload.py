"""Issue 8 acceptance: a mixed upload of real files works on every page with its defaults.

Every daily file of ../shared/data/uploads plus the 14 Yahoo files, in one go (different
layouts, names and first/last dates), then the same with only the files that end before 2022.
"""

import pytest

from tests.conftest import UPLOADS, YAHOO_DAILY
from tests.ui.test_app import PAGES
from tests.ui.test_robustness import uploaded

MIXED = [f for f in sorted(UPLOADS.glob("*.csv")) if "-1h-" not in f.name] + sorted(
    YAHOO_DAILY.glob("*.csv"))
# files whose last price is before 2022 (read from the files: Kaggle, CryptoDataDownload BNB,
# the classic Yahoo downloads)
EARLY = [UPLOADS / n for n in ("kaggle_coin_Bitcoin.csv", "kaggle_coin_USDCoin.csv",
                               "cryptodatadownload_Binance_BNBUSDT_d.csv",
                               "yahoo-classic_ETH-USD.csv", "yahoo-classic_LUNA1-USD.csv")]


def _metrics(at):
    return next(d.value for d in at.dataframe if "Costs paid (USD)" in d.value.index)


@pytest.mark.parametrize("files", [MIXED, EARLY], ids=["all-daily", "ending-before-2022"])
def test_every_page_works_with_default_settings(files):
    at = uploaded(files)
    assert not at.error, [e.value for e in at.error]
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not at.error, (page, [e.value for e in at.error])
        assert at.get("plotly_chart"), f"{page} shows no chart"
    at.switch_page("app_pages/rebalance.py").run()
    metrics = _metrics(at)
    initial = float(at.number_input(key="bt_initial").value)
    for run in metrics.columns:
        total = metrics.loc["Total return", run]
        assert total not in ("–", "nan") and "inf" not in total, (run, total)
        costs = float(metrics.loc["Costs paid (USD)", run].replace(",", ""))
        assert 0 <= costs < initial, (run, costs)


def test_the_window_is_shared_and_kept_across_pages():
    at = uploaded(MIXED)
    at.selectbox(key="win_preset").set_value("LUNA collapse (Apr-Jun 2022)").run()
    assert not at.exception, at.exception
    for page in ("app_pages/volatility.py", "app_pages/allocation.py",
                 "app_pages/correlation.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert str(at.session_state["win_as_of"]) == "2022-06-30"
        assert any("2022-04-01 → 2022-06-30" in c.value for c in at.caption), page
    at.switch_page("app_pages/allocation.py").run()
    # the estimate ends on the as-of date, never after it
    assert any("→ 2022-06-30, annualized" in c.value for c in at.caption)


def test_same_coin_from_two_files_is_kept_apart_until_merged():
    files = [UPLOADS / "kaggle_coin_Bitcoin.csv", UPLOADS / "coingecko_btc-usd-max.csv"]
    at = uploaded(files)
    assets = next(m for m in at.multiselect if m.key.startswith("assets_"))
    assert sorted(assets.options) == ["BTC", "BTC (2)"]
    at.toggle(key="merge_BTC").set_value(True).run()
    assert not at.exception, at.exception
    assets = next(m for m in at.multiselect if m.key.startswith("assets_"))
    assert list(assets.options) == ["BTC"]
    # the overlap report of the merge: the files disagree on some days, the first file wins
    assert any("overlapping timestamps disagree" in w.value for w in at.warning)


def test_a_coin_can_be_renamed_in_the_files_table():
    from ui.data import files_key

    files = [UPLOADS / "kaggle_coin_Bitcoin.csv", UPLOADS / "yahoo-classic_ETH-USD.csv"]
    at = uploaded(files)
    at.session_state["asset_renames"] = {files_key([f.name for f in files]): {"ETH": "Ether"}}
    at.run()
    assets = next(m for m in at.multiselect if m.key.startswith("assets_"))
    assert sorted(assets.options) == ["BTC", "Ether"]
