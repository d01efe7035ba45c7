"""Time ``python -m riskcore run`` on the 14 Yahoo daily files and report the report's size.

Run from the repository root::

    python benchmarks/bench_cli.py [--repeat 3]

The scenario: the 14 real Yahoo files (``../shared/data/yahoo-daily``) uploaded, the
dashboard's default window, risk budgeting with typed budgets and weight bounds, stablecoins
in the sleeve, a 5 pp band and costs with market impact. Each repeat is one fresh process
(``python -m riskcore run scenario.json --prices ... --report ... --json ...``), so the time
includes Python's start-up, the imports, reading the files, the pipeline, the decision, the
walk-forward run and its benchmarks, the stress tables and writing the report. Printed: the
wall-clock time of each run (median and fastest), the time of each step inside one run (its
progress lines), the report's size and the part of it that is plotly.js.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import riskcore  # noqa: E402
from riskcore.scenario import DataReference, FileReference, Scenario, scenario_to_json  # noqa: E402

YAHOO = ROOT.parent / "shared" / "data" / "yahoo-daily"


def scenario(files: list[Path]) -> Scenario:
    refs = tuple(FileReference.of(f.name, f.read_bytes()) for f in files)
    coins = [f.stem.removesuffix("-USD") for f in files]
    typed = {c: 2.0 if c in ("BTC", "ETH") else 1.0 for c in coins if c not in ("USDT", "USDC")}
    total = sum(typed.values())
    spec = riskcore.PortfolioSpec(
        lookback=365, volatility_floor=0.05, stablecoins="sleeve",
        risk_budget={c: b / total for c, b in typed.items()},
        bounds={c: (0.0, 0.3) for c in typed}, band=0.05,
        costs=riskcore.CostModel(fee=0.001, half_spread=0.0005, impact=0.01, min_trade=10.0))
    return Scenario("14 Yahoo coins, typed budgets, bounds, 5 pp band", spec,
                    DataReference(kind="upload", files=refs))


def steps(files: list[Path]) -> dict[str, float]:
    """Time each step of one run inside this process (imports already paid)."""
    from riskcore.report import scenario_report
    from riskcore.scenario import load_source, match_files, run_scenario, scenario_dataset

    marks = [("read and load files", time.perf_counter())]
    made = scenario(files)
    ordered, _ = match_files(made.data, [(f.name, f.read_bytes()) for f in files])
    source = load_source(made.data, files=ordered)
    marks.append(("pipeline", time.perf_counter()))
    dataset = scenario_dataset(made, source)
    result = run_scenario(made, dataset,
                          progress=lambda step: marks.append((step, time.perf_counter())))
    marks.append(("report", time.perf_counter()))
    scenario_report(result)
    marks.append(("end", time.perf_counter()))
    return {name: marks[k + 1][1] - at for k, (name, at) in enumerate(marks[:-1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    files = sorted(YAHOO.glob("*.csv"))
    if len(files) != 14:
        raise SystemExit(f"expected the 14 files of {YAHOO}, found {len(files)}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, riskcore {riskcore.__version__}")
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        path = folder / "scenario.json"
        path.write_text(scenario_to_json(scenario(files)))
        command = [sys.executable, "-m", "riskcore", "run", str(path), "--prices",
                   *map(str, files), "--report", str(folder / "report.html"),
                   "--json", str(folder / "figures.json")]
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if done.returncode:
                raise SystemExit(done.stderr)
        report = (folder / "report.html").stat().st_size
        figures = (folder / "figures.json").stat().st_size
        print(done.stdout.strip())
        from plotly.offline import get_plotlyjs

        plotly_js = len(get_plotlyjs().encode())
    print(f"CLI run, 14 files (one process each, {args.repeat} runs): median "
          f"{statistics.median(times):.2f} s, fastest {min(times):.2f} s")
    print("steps, in process: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps(files).items()))
    print(f"report: {report / 1e6:.2f} MB ({plotly_js / 1e6:.2f} MB of it plotly.js, embedded "
          f"once); figures JSON: {figures / 1e3:.1f} kB")


if __name__ == "__main__":
    main()
