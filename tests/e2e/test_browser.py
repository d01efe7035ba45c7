"""Browser test: a real Streamlit server driven by Playwright in Debian's Chromium.

Screenshots of every page are written to artifacts/screenshots/ for people to look at.
"""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.conftest import REPO, UPLOADS

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')
SHOTS = REPO / "artifacts" / "screenshots"
PAGES = {"data": "", "volatility": "volatility", "correlation": "correlation",
         "allocation": "allocation", "compare": "compare", "rebalance_check": "rebalance_check",
         "rebalance": "rebalance", "stress": "stress"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    port = _free_port()
    env = {**os.environ, "RISKCORE_CACHE_DIR": str(REPO / "artifacts" / "cache")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("streamlit did not start: " + proc.stdout.read().decode(errors="replace"))
    yield url
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def page(server):
    assert Path(CHROMIUM).exists(), "Debian's chromium is missing: run scripts/setup.sh"
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 3600})
        yield page
        browser.close()


def wait_idle(page: Page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)


def test_direct_link_on_a_fresh_server_keeps_router_and_sidebar(server, page):
    """First request after start is a page URL (a bookmark): it must still get the sidebar."""
    page.goto(f"{server}/allocation")
    page.get_by_test_id("stSidebar").get_by_text("Data source").wait_for(timeout=60_000)
    wait_idle(page)
    nav = page.get_by_test_id("stSidebarNavLink").all_inner_texts()
    assert any("Rebalancing simulator" in t for t in nav), nav  # st.navigation titles
    assert page.locator('[data-testid="stException"]').count() == 0


def test_every_page_renders_with_charts(server, page):
    for name, path in PAGES.items():
        page.goto(f"{server}/{path}")
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
        wait_idle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_typed_budget_moves_weights(server, page):
    page.goto(f"{server}/allocation")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(page)
    before = chart_trace(page, "weight")
    # the first typed budget (percent of portfolio risk) of the first coin
    box = page.get_by_label("Risk budget of", exact=False).first
    box.fill("60")
    box.press("Enter")
    page.wait_for_function(
        """(before) => {
            for (const el of document.querySelectorAll('.js-plotly-plot')) {
                const t = (el._fullData || el.data || []).find(t => t.name === 'weight');
                if (t && JSON.stringify(Array.from(t.y)) !== before) return true;
            }
            return false;
        }""",
        arg=json.dumps(before), timeout=60_000,
    )
    wait_idle(page)
    after = chart_trace(page, "weight")
    assert after != before
    page.screenshot(path=str(SHOTS / "allocation_after_budget.png"), full_page=True)


def chart_trace(page: Page, name: str) -> list[float]:
    spec = page.evaluate(
        """(name) => {
            for (const el of document.querySelectorAll('.js-plotly-plot')) {
                // plotly keeps typed arrays ({dtype, bdata}) in data; _fullData is decoded
                const trace = (el._fullData || el.data || []).find(t => t.name === name);
                if (trace) return JSON.stringify(Array.from(trace.y));
            }
            return null;
        }""",
        name,
    )
    assert spec, f"no chart trace named {name!r}"
    return json.loads(spec)


def upload(page: Page, server: str, files: list[Path]) -> None:
    """Open the app, choose the Upload source and drop ``files`` on the uploader at once."""
    page.goto(server)
    wait_idle(page)
    page.get_by_test_id("stSidebar").get_by_text("Upload files").click()
    dropzone = '[data-testid="stFileUploaderDropzoneInput"]'
    page.wait_for_selector(dropzone, state="attached", timeout=30_000)
    wait_idle(page)
    page.locator(dropzone).set_input_files([str(f) for f in files])


def test_upload_of_fourteen_real_files_gives_equal_risk_contributions(
        server, page, yahoo_daily_files):
    upload(page, server, yahoo_daily_files)
    page.get_by_text("Uploaded files:").wait_for(timeout=60_000)
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "data_upload_14.png"), full_page=True)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Allocation").click()
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(page)
    rrc = chart_trace(page, "relative risk contribution")
    budget = chart_trace(page, "risk budget")
    assert len(rrc) == 14
    # equal budgets for the 12 coins inside the risk budget, stablecoins in the sleeve
    assert sorted(budget)[:2] == [0.0, 0.0]
    assert max(abs(r - b) for r, b in zip(rrc, budget, strict=True)) < 1e-8
    page.screenshot(path=str(SHOTS / "allocation_upload_14.png"), full_page=True)


def open_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(page)


def test_real_exports_uploaded_together_show_their_defects(server, page):
    upload(page, server, sorted(UPLOADS.glob("*.csv")))
    page.get_by_text("Quality report").wait_for(timeout=60_000)
    wait_idle(page)
    # intraday Binance klines cannot join daily files at their own frequency: said, not dropped
    errors = page.get_by_test_id("stAlertContentError").all_inner_texts()
    assert any("binance-kline_BTCUSDT-1h-2022-01.csv" in e for e in errors), errors
    page.screenshot(path=str(SHOTS / "data_upload_exports_native.png"), full_page=True)
    page.get_by_test_id("stSidebar").get_by_text("daily UTC closes").click()
    page.wait_for_timeout(500)
    wait_idle(page)
    assert page.get_by_test_id("stAlertContentError").count() == 0
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "data_upload_exports_daily.png"), full_page=True)


def test_simulator_threshold_sweep(server, page):
    page.goto(server)
    wait_idle(page)
    open_page(page, "Rebalancing simulator")
    page.get_by_role("button", name="Run threshold sweep").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')]
                 .some(el => (el._fullData || el.data || []).some(t => t.name === 'threshold'))""",
        timeout=60_000)
    wait_idle(page)
    points = chart_trace(page, "threshold")
    assert len(points) == 51
    page.screenshot(path=str(SHOTS / "rebalance_sweep.png"), full_page=True)


def test_real_data_volatility_target_comparison_simulator_and_sweep(
        server, page, yahoo_daily_files):
    """Issues 4 and 5 on real data: volatility target (constraints open), simulator, sweep.

    Constraint values themselves are entered in AppTest (tests/ui), where the editor's
    state can be set exactly.
    """
    upload(page, server, yahoo_daily_files)
    page.get_by_text("Uploaded files:").wait_for(timeout=60_000)
    wait_idle(page)
    open_page(page, "Allocation")
    page.get_by_text("Volatility target", exact=True).click()
    page.get_by_text("Scale the portfolio to a target volatility").click()
    page.get_by_text("Groups and constraints").click()
    page.wait_for_timeout(500)
    wait_idle(page)
    vol = page.get_by_test_id("stMetric").filter(has_text="Volatility (annualized)")
    assert "40.0%" in vol.inner_text()
    page.screenshot(path=str(SHOTS / "allocation_real_target_constraints.png"), full_page=True)
    open_page(page, "Method comparison")
    page.screenshot(path=str(SHOTS / "compare_real.png"), full_page=True)
    open_page(page, "Rebalancing simulator")
    page.get_by_role("button", name="Run threshold sweep").click()
    page.wait_for_function(
        """() => [...document.querySelectorAll('.js-plotly-plot')]
                 .some(el => (el._fullData || el.data || []).some(t => t.name === 'threshold'))""",
        timeout=60_000)
    wait_idle(page)
    assert len(chart_trace(page, "threshold")) == 51
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "rebalance_real_sweep.png"), full_page=True)


def daily_uploads() -> list[Path]:
    """Every daily real export plus the 14 Yahoo files: a mixed upload with different dates."""
    from tests.conftest import YAHOO_DAILY

    exports = [f for f in sorted(UPLOADS.glob("*.csv")) if "-1h-" not in f.name]
    return exports + sorted(YAHOO_DAILY.glob("*.csv"))


def choose_window(page: Page, name: str) -> None:
    """Pick a named analysis window in the sidebar (retrying if a rerun closes the list)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    sidebar = page.get_by_test_id("stSidebar")
    wait_idle(page)
    if not sidebar.get_by_text("Start", exact=True).is_visible():
        sidebar.get_by_text("Analysis window", exact=False).first.click()
        sidebar.get_by_text("Start", exact=True).wait_for(timeout=30_000)
    box = sidebar.get_by_test_id("stSelectbox").filter(has_text="Window")
    for _ in range(3):
        box.click()
        option = page.get_by_role("option", name=name)
        try:
            option.wait_for(timeout=10_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            wait_idle(page)
            continue
        option.click()
        break
    page.wait_for_timeout(500)
    wait_idle(page)


def test_mixed_real_upload_every_page_and_crash_window(server, page):
    """Issue 8: a mixed upload of real files works on every page with default settings."""
    upload(page, server, daily_uploads())
    page.get_by_text("Uploaded files:").wait_for(timeout=90_000)
    wait_idle(page)
    for title, name in [("Data", "data"), ("Volatility", "volatility"),
                        ("Correlation", "correlation"), ("Allocation", "allocation"),
                        ("Method comparison", "compare"), ("Rebalance check", "rebalance_check"),
                        ("Rebalancing simulator", "rebalance"), ("Stress", "stress")]:
        open_page(page, title)
        assert page.locator('[data-testid="stException"]').count() == 0, title
        assert page.get_by_test_id("stAlertContentError").count() == 0, (
            title, page.get_by_test_id("stAlertContentError").all_inner_texts())
        page.screenshot(path=str(SHOTS / f"mixed_{name}.png"), full_page=True)
    open_page(page, "Correlation")
    choose_window(page, "FTX collapse (Oct-Dec 2022)")
    page.get_by_text("2022-10-01 → 2022-12-31", exact=False).first.wait_for(timeout=60_000)
    page.screenshot(path=str(SHOTS / "mixed_correlation_ftx.png"), full_page=True)
    page.get_by_role("tab", name="Calm vs stress days").click()
    page.get_by_text("stress days (equal-weight return", exact=False).wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=str(SHOTS / "mixed_correlation_calm_stress.png"), full_page=True)
    # the window is shared: the Allocation page now estimates up to the FTX window's end
    open_page(page, "Allocation")
    assert page.get_by_text("2022-12-31", exact=False).count() > 0
    page.screenshot(path=str(SHOTS / "mixed_allocation_ftx.png"), full_page=True)


def test_pages_usable_at_800_px(server, page):
    """Issue 8: at 800 px wide metrics wrap instead of being cut, the sidebar collapses."""
    context = page.context.browser.new_context(viewport={"width": 800, "height": 2400})
    narrow = context.new_page()
    try:
        upload(narrow, server, daily_uploads())
        narrow.get_by_text("Uploaded files:").wait_for(timeout=90_000)
        wait_idle(narrow)
        for title, name in [("Volatility", "volatility"), ("Correlation", "correlation"),
                            ("Allocation", "allocation"), ("Rebalance check", "rebalance_check")]:
            open_page(narrow, title)
            narrow.screenshot(path=str(SHOTS / f"narrow_{name}.png"), full_page=True)
            for metric in narrow.get_by_test_id("stMetric").all():
                box = metric.bounding_box()
                assert box is None or box["x"] + box["width"] <= 800, title
        narrow.get_by_test_id("stSidebarCollapseButton").locator("button").click()
        narrow.wait_for_timeout(500)
        narrow.screenshot(path=str(SHOTS / "narrow_rebalance_check_collapsed.png"),
                          full_page=True)
    finally:
        context.close()


def test_no_outside_request_even_with_a_markdown_image_in_an_asset_name(server, page, tmp_path):
    """Issue 14: user text is shown as text; no page load asks any host but the server."""
    outside: list[str] = []

    def record(request) -> None:
        if not request.url.startswith((server, "data:", "blob:")):
            outside.append(request.url)

    page.on("request", record)
    try:
        bait = "![x](http://127.0.0.2:9/px.png)"
        hostile = tmp_path / "hostile [x](http:__127.0.0.2_9_link).csv"
        rows = ["date,BTC,=HYPERLINK(\"http://127.0.0.2:9\"),\"" + bait + "\""]
        rows += [f"2024-01-{d:02d},{100 + d},{50 + d % 3},{10 + d % 5}" for d in range(1, 29)]
        hostile.write_text("\n".join(rows) + "\n")
        upload(page, server, [hostile])
        page.get_by_text("Uploaded files:").wait_for(timeout=60_000)
        wait_idle(page)
        for title in ("Data", "Volatility", "Allocation", "Rebalance check", "Stress"):
            page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
            page.wait_for_timeout(500)
            wait_idle(page)
            assert page.locator('[data-testid="stException"]').count() == 0, title
        page.screenshot(path=str(SHOTS / "hostile_names.png"), full_page=True)
        # the name is shown as typed, not turned into an image or a link
        assert page.get_by_text("![X](", exact=False).count() > 0
        assert page.locator('img[src*="127.0.0.2"], a[href*="127.0.0.2"]').count() == 0
    finally:
        page.remove_listener("request", record)
    assert outside == [], outside
