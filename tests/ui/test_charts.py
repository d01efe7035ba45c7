"""Charts for 10 to 30 coins and downloads that cannot inject formulas.

Colours: one per coin for the session, the same on every page. Size: numpy arrays, at most
``MAX_POINTS`` points per trace, no figure above ~300 KB on the 14 real Yahoo files.
Downloads: every CSV/JSON the pages offer, read back from what the download button was given.
"""

import csv
import io
import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

import riskcore
from riskcore.export import FORMULA_PREFIXES
from riskcore.ingest import load_files
from tests.conftest import REPO
from tests.ui.figures import decode, figures, trace, y_values
from ui import charts
from ui.colors import NEUTRAL, PALETTE, coin_color, colors_for

FIGURE_LIMIT = 300_000  # bytes of figure JSON per chart (issue 12)


def _lab(color: str) -> np.ndarray:
    """CIE L*a*b* (D65) of a #RRGGBB colour."""
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)]) / 255
    rgb = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                    [0.0193, 0.1192, 0.9505]]) @ rgb / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def test_at_least_24_coins_get_clearly_distinct_colours():
    names = [f"COIN{i}" for i in range(30)]
    colors = colors_for(names)
    assert len(set(colors)) == 30
    lab = np.array([_lab(c) for c in PALETTE + (NEUTRAL,)])
    distance = np.sqrt(((lab[:, None] - lab[None]) ** 2).sum(-1))
    np.fill_diagonal(distance, np.inf)
    assert len(PALETTE) >= 24
    assert distance.min() >= 20  # CIE76 ΔE: clearly different side by side
    first_12 = distance[:12, :12]
    assert first_12.min() >= 40  # the usual dozen coins are as different as possible


def test_a_coin_keeps_its_colour_and_cash_is_grey():
    first = coin_color("KEEP-A")
    colors_for(["OTHER1", "OTHER2", "KEEP-A"])
    assert coin_color("KEEP-A") == first
    assert coin_color("cash") == NEUTRAL
    assert colors_for(["KEEP-A", "USDT"], neutral=["USDT"])[1] == NEUTRAL


@pytest.fixture(scope="module")
def yahoo_panel(yahoo_daily_files) -> pd.DataFrame:
    return load_files([(f.name, f.read_bytes()) for f in yahoo_daily_files]).prices


@pytest.fixture(scope="module")
def yahoo_volatility(yahoo_panel) -> pd.DataFrame:
    return riskcore.rolling_volatility(riskcore.to_returns(yahoo_panel), 30, periods_per_year=365)


def test_volatility_of_the_14_real_files_fits_the_screen(yahoo_volatility):
    fig = charts.lines(yahoo_volatility, title="Rolling 30-period volatility", y_title="v")
    size = len(fig.to_json())
    assert size < FIGURE_LIMIT, f"{size:,} bytes"
    for name, tr in zip(yahoo_volatility.columns, fig.data, strict=True):
        assert isinstance(tr.y, np.ndarray) and len(tr.y) <= charts.MAX_POINTS + 5
        series = yahoo_volatility[name].dropna()
        # MinMaxLTTB keeps the extremes: the spike the user is looking for is drawn
        assert np.nanmax(tr.y) == pytest.approx(series.max())
        assert np.nanmin(tr.y) == pytest.approx(series.min())
        # a coin that lists late starts at its first value, not at the panel's start
        assert _days(tr.x[:1]) == [f"{series.index[0]:%Y-%m-%d}"]
        # the latest periods are drawn day by day (the 1M and 6M buttons show every day)
        recent = series.index[-charts.points_per_trace(14) // 4:]
        assert _days(tr.x[-len(recent):]) == list(recent.strftime("%Y-%m-%d"))


def _days(x) -> list[str]:
    """Dates of a time axis sent as milliseconds since the epoch, as YYYY-MM-DD."""
    return list(np.datetime_as_string(np.asarray(x, dtype=np.int64).astype("datetime64[ms]"),
                                      unit="D"))


def _every_builder() -> dict:
    idx = pd.date_range("2023-01-01", periods=1400, freq="D")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"BTC": rng.random(1400), "ETH": 0.6, "USDT": np.nan}, index=idx)
    frame.iloc[:300, 1] = np.nan
    sweep = pd.DataFrame({"turnover": [1.0, 2.0], "risk_balance_error": [0.1, 0.2],
                          "annualized_return": [0.1, 0.2], "max_drawdown": [-0.1, -0.2],
                          "n_rebalances": [3, 4]}, index=pd.Index([0.01, 0.02], name="threshold"))
    return {
        "lines": charts.lines(frame, title="t", y_title="v", clip_quantile=0.9),
        "lines, log, not coins": charts.lines(frame + 1, title="t", y_title="v", log=True,
                                              percent=False, coins=False),
        "heatmap": charts.heatmap(frame.corr().fillna(0), title="h"),
        "bars": charts.grouped_bars(frame.iloc[:3].T.fillna(0), title="b"),
        "bars, not coins": charts.grouped_bars(frame.iloc[:3].T.fillna(0), title="b",
                                               coins=False, percent=False),
        "availability": charts.availability(frame),
        "equity": charts.equity(frame[["BTC"]] + 1, markers=idx[::7], title="e"),
        "stacked area": charts.stacked_area(frame.fillna(0) / 3, title="a"),
        "tradeoff": charts.tradeoff(sweep, x="turnover", x_title="turnover", title="t"),
        "sweep points": charts.sweep_points(sweep.reset_index(), x="threshold", y="turnover",
                                            color=None, title="s"),
    }


@pytest.mark.parametrize("name", list(_every_builder()))
def test_every_builder_sends_what_plotly_would_validate(name):
    """The builders skip plotly's validation for speed: what they send must be exactly the
    validated form (canonical titles, colour scales, no misspelt property)."""
    fig = _every_builder()[name]
    sent = json.loads(fig.to_json())
    validated = json.loads(go.Figure(fig.to_dict()).to_json())
    assert sent == validated


def test_time_axes_carry_milliseconds_since_the_epoch():
    idx = pd.date_range("2024-02-28", periods=3, freq="D", tz="UTC")
    assert list(charts.time_values(idx)) == [1709078400000.0, 1709164800000.0, 1709251200000.0]
    hourly = pd.date_range("2024-01-01", periods=3, freq="h")
    fig = charts.lines(pd.DataFrame({"BTC": [1.0, 2.0, 3.0]}, index=hourly), title="t",
                       y_title="v")
    assert fig.layout.xaxis.type == "date"
    assert fig.layout.xaxis.hoverformat == "%Y-%m-%d %H:%M"
    assert np.diff(fig.data[0].x).tolist() == [3_600_000.0, 3_600_000.0]


def test_every_time_series_builder_stays_under_the_size_limit(yahoo_panel):
    growth = yahoo_panel / yahoo_panel.bfill().iloc[0]
    held = yahoo_panel.notna().div(yahoo_panel.notna().sum(axis=1), axis=0)
    built = {
        "growth": charts.lines(growth, title="g", y_title="x", percent=False, log=True),
        "weights": charts.stacked_area(held, title="w"),
        "equity": charts.equity(growth[["BTC", "ETH"]].dropna(),
                                markers=growth.index[::7], title="e"),
    }
    for name, fig in built.items():
        assert len(fig.to_json()) < FIGURE_LIMIT, name


def test_gaps_inside_a_series_stay_gaps():
    idx = pd.date_range("2020-01-01", periods=4000, freq="D", tz="UTC")
    values = np.random.default_rng(42).standard_normal(4000).cumsum()
    values[1500:1600] = np.nan
    fig = charts.lines(pd.DataFrame({"GAP": values}, index=idx), title="t", y_title="y")
    tr = fig.data[0]
    assert len(tr.y) <= charts.MAX_POINTS + 5
    holes = tr.x[np.isnan(tr.y)]
    assert _days(holes) == ["2024-02-09"]  # the first missing date breaks the line


def test_time_series_have_range_selector_legend_isolation_and_day_hover():
    idx = pd.date_range("2023-01-01", periods=400, freq="D")
    frame = pd.DataFrame({"BTC": np.linspace(0.5, 0.8, 400), "ETH": 0.6}, index=idx)
    for fig in (charts.lines(frame, title="t", y_title="v"),
                charts.stacked_area(frame / 2, title="w")):
        buttons = [b["label"] for b in fig.layout.xaxis.rangeselector.buttons]
        assert buttons == ["1M", "6M", "1Y", "YTD", "all"]
        assert fig.layout.legend.itemclick == "toggleothers"
        assert fig.layout.legend.itemdoubleclick == "toggle"
        assert "%{x|%Y-%m-%d}" in fig.data[0].hovertemplate
        assert "%{y:.1%}" in fig.data[0].hovertemplate
    prices = charts.lines(frame * 1e4, title="p", y_title="USD", percent=False)
    assert "%{y:,.2f}" in prices.data[0].hovertemplate


def test_clip_caps_the_axis_not_the_data_and_says_so():
    idx = pd.date_range("2021-01-01", periods=500, freq="D")
    calm = np.full(500, 0.8)
    spike = calm.copy()
    spike[200:210] = 120.0  # 12,000% annualized
    frame = pd.DataFrame({"BTC": calm, "SHIB": spike}, index=idx)
    fig = charts.lines(frame, title="t", y_title="v", clip_quantile=0.95)
    assert fig.layout.yaxis.range[1] < 1.0
    assert "95%" in fig.layout.annotations[0].text
    assert np.nanmax(fig.data[1].y) == 120.0  # hover still shows the true value
    log = charts.lines(frame, title="t", y_title="v", log=True)
    assert log.layout.yaxis.type == "log"
    with pytest.raises(ValueError, match="clip_quantile is 1.5"):
        charts.lines(frame, title="t", y_title="v", clip_quantile=1.5)


def test_bars_take_the_coin_colours_and_tell_columns_apart_by_pattern():
    frame = pd.DataFrame({"weight": [0.6, 0.4], "risk": [0.5, 0.5]}, index=["BAR-A", "BAR-B"])
    fig = charts.grouped_bars(frame, title="w")
    assert list(fig.data[0].marker.color) == colors_for(["BAR-A", "BAR-B"])
    assert fig.data[0].marker.pattern.shape != fig.data[1].marker.pattern.shape
    scenarios = charts.grouped_bars(frame, title="s", coins=False)
    assert scenarios.data[0].marker.color is None


def _app() -> AppTest:
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_coin_has_the_same_colour_on_every_page():
    at = _app()
    at.switch_page("app_pages/volatility.py").run()
    assert not at.exception, at.exception
    lines = figures(at)[0]
    line_colors = {t["name"]: t["line"]["color"] for t in lines["data"]}
    at.switch_page("app_pages/allocation.py").run()
    assert not at.exception, at.exception
    bars = figures(at)[0]
    weight = trace(bars, "weight")
    bar_colors = dict(zip(weight["x"], weight["marker"]["color"], strict=True))
    shared = set(line_colors) & set(bar_colors)
    assert len(shared) >= 3
    assert all(line_colors[c] == bar_colors[c] for c in shared), (line_colors, bar_colors)
    assert len(set(line_colors.values())) == len(line_colors)


def test_volatility_page_on_the_14_real_files_sends_small_figures(yahoo_daily_files):
    at = _app()
    at.radio(key="source").set_value("Upload files").run()
    at.file_uploader(key="upload").set_value(
        [(f.name, f.read_bytes(), "text/csv") for f in yahoo_daily_files]).run()
    at.switch_page("app_pages/volatility.py").run()
    assert not at.exception, at.exception
    for chart in at.get("plotly_chart"):
        assert len(chart.proto.spec) < FIGURE_LIMIT
        fig = json.loads(chart.proto.spec)
        assert len(fig["data"]) == 14
        btc = y_values(fig, "BTC")
        assert btc.dtype == np.float64 and 100 < len(btc) <= charts.MAX_POINTS + 5
        assert decode(trace(fig, "BTC")["x"]).size == btc.size


# ---- downloads: formula injection (issue 14 item 3) -----------------------------------------

HOSTILE = ['=HYPERLINK("http://x","y")', "=1+1", "+1+1", "-1+1", "@SUM(A1)"]


@pytest.fixture
def downloads(monkeypatch) -> dict[str, bytes]:
    """File name -> bytes of every download button rendered (recorded at the media storage)."""
    seen: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def record(self, path_or_data, mimetype, kind, filename=None):
        data = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        seen[filename] = data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", record)
    return seen


def _hostile_upload() -> AppTest:
    rng = np.random.default_rng(42)
    names = [*HOSTILE, "BTC"]
    idx = pd.date_range("2022-01-01", periods=500, freq="D")
    prices = pd.DataFrame(100 * np.exp(np.cumsum(rng.normal(0, 0.03, (500, len(names))), 0)),
                          index=idx, columns=names)
    at = _app()
    at.radio(key="source").set_value("Upload files").run()
    at.file_uploader(key="upload").set_value(
        [("prices.csv", prices.to_csv(index_label="date").encode(), "text/csv")]).run()
    assert not at.exception, at.exception
    return at


def _unsafe_cells(text: str) -> list[str]:
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    return [c for c in cells if c.startswith(FORMULA_PREFIXES) and not _is_number(c)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text


EXPECTED = {
    "app_pages/allocation.py": ["allocation.csv", "allocation_decision.json"],
    "app_pages/compare.py": ["method_comparison.csv"],
    "app_pages/rebalance_check.py": ["trade_list.csv"],
    "app_pages/rebalance.py": ["backtest_trades.csv"],
    "app_pages/stress.py": ["stress_report.csv"],
}


def test_every_download_neutralizes_formulas_in_asset_names(downloads):
    at = _hostile_upload()
    for page, names in EXPECTED.items():
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        for name in names:
            assert name in downloads, f"{page} offered no {name}: {sorted(downloads)}"
            text = downloads[name].decode()
            if name.endswith(".json"):
                record = json.loads(text)
                assert "'=1+1" in record["assets"]
                assert "'@SUM(A1)" in record["data"]["assets"]
                assert not [k for k in record["assets"] if k.startswith(FORMULA_PREFIXES)]
                continue
            assert not _unsafe_cells(text), (name, _unsafe_cells(text)[:5])
            assert "'=1+1" in text or "'@SUM(A1)" in text or "'-1+1" in text, name


def test_a_strided_column_of_a_long_hourly_frame_is_downsampled():
    """Hourly data (10 years) reaches the downsampler as a strided column of a 2-D block;
    tsdownsample needs contiguous memory, which the builder now gives it."""
    from ui import charts as ui_charts

    index = pd.date_range("2015-01-01", periods=87_600, freq="h", tz="UTC")
    block = np.cumsum(np.random.default_rng(0).standard_normal((87_600, 3)), axis=0)
    frame = pd.DataFrame(block, index=index, columns=["BTC", "ETH", "SOL"])
    fig = ui_charts.lines(frame, title="hourly", y_title="x", percent=False)
    assert all(len(trace.y) <= ui_charts.MAX_POINTS + 10 for trace in fig.data)
    # a strided column straight into the downsampler (what stacked weights give it)
    strided = np.ascontiguousarray(block)[:, 1]
    assert not strided.flags.c_contiguous
    kept = ui_charts.downsample_positions(strided, 500)
    assert 100 < len(kept) <= 600 and kept[-1] == len(strided) - 1
    weights = frame.abs().div(frame.abs().sum(axis=1), axis=0)
    area = ui_charts.stacked_area(weights, title="weights")
    assert len(area.data) == 3
