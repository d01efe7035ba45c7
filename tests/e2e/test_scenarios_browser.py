"""Browser test of scenarios: reload keeps the work, a link reproduces it, a report for the meeting.

Screenshots (the Scenarios page with three scenarios, and the HTML report opened from disk)
are written to artifacts/screenshots/.
"""

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.e2e.test_browser import (  # noqa: F401 - the fixtures are used by name
    ARGS,
    CHROMIUM,
    SHOTS,
    chart_trace,
    server,
    upload,
    wait_idle,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def _page(browser) -> Page:
    return browser.new_context(viewport={"width": 1400, "height": 3600}).new_page()


def _nav(page: Page, title: str, *, charts: bool = True) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    if charts:
        page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(page)


def _type_budget(page: Page, value: str) -> None:
    before = json.dumps(chart_trace(page, "weight"))
    box = page.get_by_label("Risk budget of", exact=False).first
    box.fill(value)
    box.press("Enter")
    page.wait_for_function(
        """(before) => [...document.querySelectorAll('.js-plotly-plot')].some(el => {
            const t = (el._fullData || []).find(t => t.name === 'weight');
            return t && JSON.stringify(Array.from(t.y)) !== before; })""",
        arg=before, timeout=60_000)
    wait_idle(page)


def _band_thumb(page: Page):
    return (page.get_by_test_id("stSlider").filter(has_text="Absolute band (pp)")
            .get_by_role("slider"))


def _band(page: Page) -> float:
    shown = (page.get_by_test_id("stSlider").filter(has_text="Absolute band (pp)")
             .get_by_test_id("stSliderThumbValue").inner_text())
    return float(shown)


def test_reload_and_link_keep_the_work_and_the_report_opens_offline(
        server, browser, yahoo_daily_files, tmp_path):  # noqa: F811 - the fixture
    page = _page(browser)
    upload(page, server, yahoo_daily_files[:5])
    page.get_by_text("Uploaded files:").wait_for(timeout=60_000)
    wait_idle(page)
    _nav(page, "Allocation")
    _type_budget(page, "40")
    weights = chart_trace(page, "weight")
    _nav(page, "Rebalancing simulator")
    slider = _band_thumb(page)
    slider.focus()
    for _ in range(5):
        slider.press("ArrowRight")
        page.wait_for_timeout(200)
    wait_idle(page)
    band = _band(page)
    assert band > 5.0  # moved off the default (0.5 pp a press)
    _nav(page, "Allocation")
    assert "scenario=" in page.url

    page.reload()  # a new session: the link restores everything, the files by their hash
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(page)
    assert chart_trace(page, "weight") == pytest.approx(weights, abs=1e-12)
    _nav(page, "Rebalancing simulator")
    assert _band(page) == pytest.approx(band)

    # the link in a fresh browser context (another colleague on this server)
    other = _page(browser)
    other.goto(page.url.replace("/rebalance", "/allocation"))
    other.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(other)
    assert chart_trace(other, "weight") == pytest.approx(weights, abs=1e-12)

    # three scenarios side by side, and the report of that comparison
    _nav(page, "Scenarios", charts=False)
    for name, budget in (("Budget 40", None), ("Budget 10", "10"), ("Budget 70", "70")):
        if budget is not None:
            _nav(page, "Allocation")
            _type_budget(page, budget)
            _nav(page, "Scenarios", charts=False)
        page.get_by_label("Save the current settings as").fill(name)
        page.get_by_label("Save the current settings as").press("Enter")
        wait_idle(page)
        page.get_by_role("button", name="Save", exact=True).click()
        wait_idle(page)
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "scenarios_three.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("button", name="HTML report of this comparison").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    html = report.read_text()
    for name in ("Budget 40", "Budget 10", "Budget 70"):
        assert name in html

    offline = _page(browser)
    outside: list[str] = []
    offline.on("request", lambda r: outside.append(r.url)
               if not r.url.startswith(("file:", "data:", "blob:")) else None)
    offline.goto(Path(report).as_uri())
    offline.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    assert offline.locator(".js-plotly-plot").count() >= 2
    offline.screenshot(path=str(SHOTS / "scenarios_report.png"), full_page=True)
    assert outside == []  # readable offline: plotly.js is inside the file
