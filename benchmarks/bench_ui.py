"""Interaction latency of the dashboard in a real browser, input event to every chart drawn.

Starts the dashboard on a free port (offline-safe settings), opens it in Debian's Chromium
through Playwright, uploads the 14 Yahoo daily files of ``../shared/data/yahoo-daily`` and,
page by page, times REPEATS changes of one input and REPEATS reruns with no change (the "r"
shortcut), then stops the server. One interaction is timed in the page's own clock: from
``performance.now()`` just before the key press to the moment when, after the server's
``script_finished`` message, the app is ``notRunning`` and ``CONNECTED``, every plotly chart
holds its SVG and two animation frames have passed (TESTING.md, "timing an interaction in the
browser"). The payload is the sum of the websocket frames the server sent during the
interaction; "of which server" is the time from its first message to ``script_finished``.
Prints the median, the spread and the payload per interaction.

    python benchmarks/bench_ui.py            # 5 repeats
    python benchmarks/bench_ui.py 7          # 7 repeats
    python benchmarks/bench_ui.py 5 FILE.csv ...   # other files (e.g. the hourly case)
    BENCH_STREAMLIT_ARGS="--runner.postScriptGC true" python benchmarks/bench_ui.py  # A/B
"""

from __future__ import annotations

import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

REPO = Path(__file__).resolve().parents[1]
YAHOO = REPO.parent / "shared" / "data" / "yahoo-daily"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')
TIMEOUT = 120_000  # ms: the hourly case takes up to a minute per step before it is fixed
CHART_SVG = '[data-testid="stPlotlyChart"] .main-svg'

# true once the app is idle and connected and every chart is drawn
DRAWN = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (app.getAttribute('data-test-script-state') !== 'notRunning' ||
      app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
  const charts = [...document.querySelectorAll('[data-testid="stPlotlyChart"]')];
  return charts.every(c => c.querySelector('.main-svg'));
}"""
TWO_FRAMES = """() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(
  () => r(performance.now()))))"""

# (page title in the sidebar, what is changed, how to find the input)
CASES = [
    ("Rebalancing simulator", "band slider", "slider", "Absolute band"),
    ("Volatility", "window slider", "slider", "Rolling window"),
    ("Correlation", "window slider", "slider", "Rolling window"),
    ("Allocation", "budget input", "number", "Risk budget of"),
    ("Stress", "scenario slider", "slider", "Volatility multiplier"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident memory of ``pid`` and its children, in MB (from /proc)."""
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


class Frames:
    """Websocket frames the server sent, decoded as they arrive: (seconds, type, bytes).

    A script run ends with a ``script_finished`` message; waiting for it (rather than for the
    page's "running" state, which React may never draw when a run takes a few milliseconds)
    tells when the server is done.
    """

    def __init__(self, page: Page):
        self.log: list[tuple[float, str, int]] = []
        page.on("websocket", self._attach)

    def _attach(self, ws) -> None:
        ws.on("framereceived", self._record)

    def _record(self, payload) -> None:
        kind = ""
        if isinstance(payload, bytes):
            try:
                kind = ForwardMsg.FromString(payload).WhichOneof("type") or ""
            except Exception:  # noqa: BLE001 - a frame that is not a ForwardMsg
                kind = ""
        self.log.append((time.perf_counter(), kind, len(payload)))


def wait_idle(page: Page) -> None:
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=TIMEOUT)


def timed(page: Page, frames: Frames, action) -> tuple[float, int, int, float]:
    """Seconds, websocket bytes and script runs from ``action()`` to the page idle with every
    chart drawn, and the seconds from the server's first message to its ``script_finished``
    (the server's share)."""
    page.wait_for_selector(IDLE, timeout=TIMEOUT)
    page.wait_for_timeout(200)  # let late frames of the previous step arrive
    first = len(frames.log)
    mark = page.evaluate("() => performance.now()")
    action()
    deadline = time.perf_counter() + TIMEOUT / 1000
    while not any(kind == "script_finished" for _, kind, _ in frames.log[first:]):
        if time.perf_counter() > deadline:
            raise TimeoutError("the server never finished the run")
        page.wait_for_timeout(2)
    page.wait_for_function(DRAWN, polling="raf", timeout=TIMEOUT)
    end = page.evaluate(TWO_FRAMES)
    page.wait_for_timeout(100)
    sent = frames.log[first:]
    runs = sum(kind == "new_session" for _, kind, _ in sent)
    finished = max(t for t, kind, _ in sent if kind == "script_finished")
    return (end - mark) / 1000, sum(n for _, _, n in sent), runs, finished - sent[0][0]


def open_page(page: Page, title: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=title).first.click()
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=TIMEOUT)
    page.wait_for_selector(CHART_SVG, timeout=TIMEOUT)


def change(page: Page, kind: str, label: str, step: int):
    """The action of the ``step``-th change of the input labelled ``label``: a value not seen
    before in this session (one slider step to the right; budgets 11, 12, ...), so no cache
    holds its result."""
    if kind == "slider":
        thumb = (page.get_by_test_id("stSlider").filter(has_text=label).first
                 .get_by_role("slider"))

        def act():
            thumb.focus()
            thumb.press("ArrowRight")
        return act
    box = page.get_by_label(label, exact=False).first

    def act():
        box.fill(str(11 + step))
        box.press("Enter")
    return act


def rerun(page: Page):
    def act():
        # Streamlit's rerun shortcut, which it ignores while an input has the focus
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
        page.keyboard.press("r")
    return act


def median_row(samples: list[tuple[float, int, int, float]]) -> tuple:
    """Median, min and max seconds, median KB, most script runs, median server seconds."""
    secs = sorted(s[0] for s in samples)
    kb = statistics.median(s[1] for s in samples) / 1024
    return (statistics.median(secs), secs[0], secs[-1], kb, max(s[2] for s in samples),
            statistics.median(s[3] for s in samples))


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    files = [Path(f) for f in sys.argv[2:]] or sorted(YAHOO.glob("*.csv"))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.address", "127.0.0.1", "--server.port", str(port),
         "--server.fileWatcherType", "none", "--server.runOnSave", "false",
         "--browser.gatherUsageStats", "false",
         *os.environ.get("BENCH_STREAMLIT_ARGS", "").split()],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "RISKCORE_CACHE_DIR": "/tmp/riskcore-bench"})
    url = f"http://127.0.0.1:{port}"
    rows = []
    peak = 0.0
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(viewport={"width": 1400, "height": 1800})
            page = context.new_page()
            frames = Frames(page)
            page.goto(url)
            page.get_by_test_id("stSidebar").get_by_text("Upload files").click(timeout=TIMEOUT)
            dropzone = '[data-testid="stFileUploaderDropzoneInput"]'
            page.wait_for_selector(dropzone, state="attached", timeout=TIMEOUT)
            wait_idle(page)
            page.locator(dropzone).set_input_files([str(f) for f in files])
            page.get_by_text("Uploaded files:").wait_for(timeout=TIMEOUT)
            wait_idle(page)
            for title, what, kind, label in CASES:
                open_page(page, title)
                # two untimed changes first: compiled code and the page's own caches warm
                timed(page, frames, change(page, kind, label, 0))
                timed(page, frames, change(page, kind, label, 1))
                changes = [timed(page, frames, change(page, kind, label, i))
                           for i in range(2, 2 + repeats)]
                reruns = [timed(page, frames, rerun(page)) for _ in range(repeats)]
                peak = max(peak, rss_mb(proc.pid))
                rows.append((title, what, median_row(changes), median_row(reruns)))
                print(f"  measured {title}: {median_row(changes)[0]:.3f} s", flush=True)
            assert page.locator('[data-testid="stException"]').count() == 0
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)

    print(f"\n{len(files)} files, median of {repeats} in Chromium, {os.cpu_count()}-core "
          f"{platform.machine()} machine, server RSS at most {peak:.0f} MB")
    print("| interaction | change: median (min-max) | of which server | payload per change "
          "| rerun with no change: median (min-max) | of which server | payload per rerun |")
    print("|---|---|---|---|---|---|---|")
    for title, what, (m, lo, hi, kb, runs, srv), (rm, rlo, rhi, rkb, _, rsrv) in rows:
        extra = f" ({runs} script runs)" if runs > 1 else ""
        print(f"| {title}, {what}{extra} | {m * 1000:.0f} ms ({lo * 1000:.0f}-{hi * 1000:.0f}) "
              f"| {srv * 1000:.0f} ms | {kb:,.0f} KB "
              f"| {rm * 1000:.0f} ms ({rlo * 1000:.0f}-{rhi * 1000:.0f}) "
              f"| {rsrv * 1000:.0f} ms | {rkb:,.0f} KB |")


if __name__ == "__main__":
    main()
