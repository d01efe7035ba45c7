"""Server memory over rounds of browser sessions, and how a hostile upload slows others.

Part 1, responsiveness: the median time of an Allocation-page interaction (a typed budget,
input to idle) in one session, alone and while another browser session keeps uploading a
10,000-column CSV (refused by the reader's limits); their ratio is the slowdown.
Part 2, memory:

Starts the dashboard, then runs ROUNDS rounds; in each, SESSIONS browser sessions (fresh
contexts) upload the 14 real Yahoo files and visit every page, then close. Prints the
server's resident memory (RSS, from /proc) at start, after each round, and after an idle
pause, so a leak shows as a staircase that does not come down.

    python benchmarks/bench_sessions.py            # 5 rounds x 6 sessions
    python benchmarks/bench_sessions.py 5 3        # 5 rounds x 3 sessions
"""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
YAHOO = REPO.parent / "shared" / "data" / "yahoo-daily"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
IDLE = ('[data-testid="stApp"][data-test-script-state="notRunning"]'
        '[data-test-connection-state="CONNECTED"]')
PAGES = ["", "volatility", "correlation", "allocation", "compare", "rebalance_check",
         "rebalance", "stress"]
ROUNDS, SESSIONS, IDLE_SECONDS = 5, 6, 60


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session(browser, url: str, files: list[Path]) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector(IDLE, timeout=60_000)
    page.get_by_test_id("stSidebar").get_by_text("Upload files").click()
    dropzone = '[data-testid="stFileUploaderDropzoneInput"]'
    page.wait_for_selector(dropzone, state="attached", timeout=30_000)
    page.locator(dropzone).set_input_files([str(f) for f in files])
    page.get_by_text("Uploaded files:").wait_for(timeout=60_000)
    for path in PAGES[1:]:
        link = page.get_by_test_id("stSidebarNavLink").nth(PAGES.index(path))
        link.click()
        page.wait_for_timeout(300)
        page.wait_for_selector(IDLE, timeout=120_000)
    context.close()


def hostile_loop(url: str, seconds: float) -> None:
    """Upload a 10,000-column CSV again and again for ``seconds`` (run in another process)."""
    import tempfile

    header = "date," + ",".join(f"C{i}" for i in range(10_000))
    rows = [f"2024-01-{d:02d}," + ",".join("1" for _ in range(10_000)) for d in range(1, 20)]
    path = Path(tempfile.mkdtemp()) / "wide_10000.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    deadline = time.monotonic() + seconds
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        while time.monotonic() < deadline:
            context = browser.new_context()
            page = context.new_page()
            page.goto(url)
            page.wait_for_selector(IDLE, timeout=60_000)
            page.get_by_test_id("stSidebar").get_by_text("Upload files").click()
            dropzone = '[data-testid="stFileUploaderDropzoneInput"]'
            page.wait_for_selector(dropzone, state="attached", timeout=30_000)
            page.locator(dropzone).set_input_files([str(path)])
            page.wait_for_timeout(300)
            page.wait_for_selector(IDLE, timeout=120_000)
            context.close()
        browser.close()


def interaction_times(browser, url: str, repeats: int = 7) -> list[float]:
    """Seconds from typing a budget to the Allocation page idle again, ``repeats`` times."""
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.goto(f"{url}/allocation")
    page.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=120_000)
    page.wait_for_selector(IDLE, timeout=120_000)
    box = page.get_by_label("Risk budget of", exact=False).first
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        box.fill(str(10 + i))
        box.press("Enter")
        page.wait_for_timeout(100)
        page.wait_for_selector(IDLE, timeout=120_000)
        times.append(time.perf_counter() - start)
    context.close()
    return times


def main() -> None:
    global ROUNDS, SESSIONS
    if len(sys.argv) > 1:
        ROUNDS = int(sys.argv[1])
    if len(sys.argv) > 2:
        SESSIONS = int(sys.argv[2])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py",
                             "--server.port", str(port)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "RISKCORE_CACHE_DIR": "/tmp/riskcore-bench"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    files = sorted(YAHOO.glob("*.csv"))
    print(f"server RSS at start: {rss_mb(proc.pid):.0f} MB")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            alone = sorted(interaction_times(browser, url))
            import multiprocessing

            other = multiprocessing.get_context("spawn").Process(
                target=hostile_loop, args=(url, 90.0))
            other.start()
            time.sleep(5)
            loaded = sorted(interaction_times(browser, url))
            other.terminate()
            other.join()
            med_a, med_l = alone[len(alone) // 2], loaded[len(loaded) // 2]
            print(f"Allocation interaction, median of {len(alone)}: alone {med_a:.2f} s, while "
                  f"another session uploads a 10,000-column file {med_l:.2f} s "
                  f"(slowdown {med_l / med_a:.1f}x)")
            for r in range(1, ROUNDS + 1):
                t0 = time.perf_counter()
                for _ in range(SESSIONS):
                    session(browser, url, files)
                print(f"round {r}: {SESSIONS} sessions in {time.perf_counter() - t0:.0f} s, "
                      f"server RSS {rss_mb(proc.pid):.0f} MB")
            browser.close()
        time.sleep(IDLE_SECONDS)
        print(f"after {IDLE_SECONDS} s idle: server RSS {rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    main()
