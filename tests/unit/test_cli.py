"""``python -m riskcore run``: the pages' numbers without a browser, and clear refusals."""

import json
import subprocess
import sys
import types
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import riskcore
from riskcore import cli
from riskcore.backtest import run_backtest
from riskcore.dataset import prepare_dataset
from riskcore.ingest import load_files
from riskcore.portfolio import build_portfolio
from riskcore.scenario import (
    DataReference,
    FileReference,
    Scenario,
    save_bundle,
    scenario_to_json,
)
from riskcore.window import universe_start

ROOT = Path(__file__).resolve().parents[2]
UPLOADS = ROOT.parent / "shared" / "data" / "uploads"
FILES = ["coingecko_btc-usd-max.csv", "yahoo-classic_ETH-USD.csv", "kaggle_coin_USDCoin.csv",
         "cryptodatadownload_Binance_BNBUSDT_d.csv"]
METRICS = ("total_return", "annualized_return", "annualized_volatility", "sharpe_ratio",
           "max_drawdown", "turnover", "costs_paid", "cost_drag", "n_rebalances")


def cli_run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "riskcore", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def upload_scenario() -> Scenario:
    refs = tuple(FileReference.of(n, (UPLOADS / n).read_bytes()) for n in FILES)
    spec = riskcore.PortfolioSpec(
        estimator="ewma", lookback=180, half_life=45.0, volatility_floor=0.05,
        risk_budget={"BTC": 0.5, "ETH": 0.3, "BNB": 0.2}, stablecoins="sleeve", band=0.05,
        costs=riskcore.CostModel(fee=0.001, half_spread=0.0005, impact=0.05, min_trade=10.0))
    return Scenario("Mixed uploads", spec, DataReference(kind="upload", files=refs),
                    initial_value=50_000.0)


def demo_scenario() -> Scenario:
    spec = riskcore.PortfolioSpec(lookback=120, stablecoins="sleeve", frequency="M",
                                  bounds={"BTC-USD": (0.05, 0.2)},
                                  costs=riskcore.CostModel(fee=0.001))
    data = DataReference(start="2023-01-01", as_of="2024-06-30",
                         assets=("BTC-USD", "ETH-USD", "SOL-USD", "DOGE-USD", "USDT-USD"))
    return Scenario("Demo, bounds, monthly", spec, data)


def page_numbers(scenario: Scenario, panel, volume=None):
    """The riskcore calls the pages make, written out: pipeline, decision, walk-forward."""
    ref, spec = scenario.data, scenario.spec
    data = prepare_dataset(panel, volume=volume, policy=ref.cleaning, assets=ref.assets,
                           start=ref.start, as_of=ref.as_of)
    lookback = min(spec.lookback, len(data.prices) - 1)  # clipped to the window
    portfolio = build_portfolio(data.prices, replace(spec, assets=tuple(data.prices.columns),
                                                     lookback=lookback))
    start = (universe_start(data.history, spec.lookback)[0] if ref.default_window
             else data.window.start)
    run = run_backtest(data.history, replace(spec, assets=tuple(data.history.columns),
                                             start=start),
                       initial_value=scenario.initial_value, volume=data.volume,
                       tradable=data.tradable)
    return portfolio, run


def assert_same(figures: dict, portfolio, run) -> None:
    decision = figures["decision"]
    for field, expected in (("weights", portfolio.weights),
                            ("relative_risk_contributions",
                             portfolio.relative_risk_contributions)):
        got = decision[field]
        assert list(got) == [str(a) for a in expected.index]
        np.testing.assert_allclose(list(got.values()), expected.to_numpy(), rtol=0, atol=1e-12)
    assert abs(decision["portfolio_volatility"] - portfolio.portfolio_volatility) <= 1e-12
    for name in METRICS:
        expected = float(getattr(run.metrics, name))
        assert abs(figures["backtest"]["policy"][name] - expected) <= 1e-12 * max(1, abs(expected))


@pytest.fixture(scope="module")
def upload_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("upload")
    scenario = upload_scenario()
    path = folder / "scenario.json"
    path.write_text(scenario_to_json(scenario))
    done = cli_run("run", path, "--prices", *(UPLOADS / n for n in FILES),
                   "--report", folder / "report.html", "--json", folder / "figures.json")
    return scenario, done, folder


def test_cli_reproduces_the_pages_numbers_on_real_uploads(upload_run):
    scenario, done, folder = upload_run
    assert done.returncode == 0, done.stderr
    figures = json.loads((folder / "figures.json").read_text())
    result = load_files([(n, (UPLOADS / n).read_bytes()) for n in FILES])
    portfolio, run = page_numbers(scenario, result.prices, result.volume)
    assert run.metrics.costs_paid > 0 and len(portfolio.weights) == 4
    assert_same(figures, portfolio, run)
    assert figures["data"]["assets"] == ["BTC", "ETH", "USDC", "BNB"]
    assert figures["scenario"]["name"] == "Mixed uploads"


def test_cli_writes_the_report_a_summary_and_a_progress_bar(upload_run):
    _, done, folder = upload_run
    report = (folder / "report.html").read_text()
    assert "<h1>Mixed uploads</h1>" in report and "Plotly.newPlot(" in report
    assert done.stdout.startswith("Mixed uploads: ")
    assert "[4/8] walk-forward\n[5/8] benchmarks\n" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_reproduces_the_pages_numbers_on_the_demo(tmp_path):
    scenario = demo_scenario()
    path = tmp_path / "demo.json"
    path.write_text(scenario_to_json(scenario))
    done = cli_run("run", path, "--demo", "--json", tmp_path / "figures.json", "--quiet")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and done.stderr == ""
    figures = json.loads((tmp_path / "figures.json").read_text())
    portfolio, run = page_numbers(scenario, riskcore.demo_prices())
    assert portfolio.weights["BTC-USD"] == pytest.approx(0.2)  # the bound binds
    assert_same(figures, portfolio, run)
    assert figures["data"]["run_start"] == "2023-01-01T00:00:00+00:00"


def test_a_bundle_runs_without_the_files_and_gives_the_same_numbers(upload_run, tmp_path):
    scenario, _, folder = upload_run
    result = load_files([(n, (UPLOADS / n).read_bytes()) for n in FILES])
    bundle = tmp_path / "bundle.zip"
    bundle.write_bytes(save_bundle(scenario, result.prices, result.volume))
    done = cli_run("run", bundle, "--json", tmp_path / "figures.json", "--quiet")
    assert done.returncode == 0, done.stderr
    from_files = json.loads((folder / "figures.json").read_text())
    from_bundle = json.loads((tmp_path / "figures.json").read_text())
    assert from_bundle["decision"] == from_files["decision"]
    assert from_bundle["backtest"] == from_files["backtest"]


def test_files_that_differ_are_refused_in_one_line_or_run_with_a_warning(upload_run, tmp_path):
    _, _, folder = upload_run
    given = [UPLOADS / n for n in FILES[:3]] + [UPLOADS / "coingecko_sol-usd-max.csv"]
    done = cli_run("run", folder / "scenario.json", "--prices", *given, "--quiet")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("riskcore: error: the files differ from the scenario's: "
                                  "cryptodatadownload_Binance_BNBUSDT_d.csv (sha256 ")
    assert "coingecko_sol-usd-max.csv (sha256" in done.stderr
    allowed = cli_run("run", folder / "scenario.json", "--prices", *given,
                      "--allow-different-data", "--json", tmp_path / "f.json")
    assert allowed.returncode == 0, allowed.stderr
    assert "riskcore: warning: cryptodatadownload_Binance_BNBUSDT_d.csv" in allowed.stderr
    assets = json.loads((tmp_path / "f.json").read_text())["data"]["assets"]
    assert assets == ["BTC", "ETH", "USDC", "SOL"]


@pytest.mark.parametrize(("setup", "message"), [
    (lambda d: (d / "s.json").write_text("{broken"), "the scenario file is not valid JSON"),
    (lambda d: None, "cannot read the scenario"),
    (lambda d: (d / "s.json").write_text(scenario_to_json(upload_scenario())),
     "this scenario runs on uploaded files: pass them with --prices "
     "(coingecko_btc-usd-max.csv (sha256"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, setup, message):
    setup(tmp_path)
    done = cli_run("run", tmp_path / "s.json", "--quiet")
    assert done.returncode == 2
    assert done.stderr.startswith(f"riskcore: error: {message}")
    assert done.stderr.count("\n") == 1 and done.stdout == ""


def test_command_line_errors_are_one_line_too(capsys):
    assert cli.main(["run"]) == 2
    assert capsys.readouterr().err == ("riskcore: error: the following arguments are required: "
                                      "scenario (see: python -m riskcore run --help)\n")
    assert cli.main(["run", "x.json", "--demo", "--prices", "a.csv"]) == 2
    assert "cannot read the scenario x.json" in capsys.readouterr().err


def test_sweep_is_handed_to_riskcore_sweep(monkeypatch):
    seen = []
    fake = types.ModuleType("riskcore.sweep")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, "riskcore.sweep", fake)
    assert cli.main(["sweep", "grid.json", "--workers", "2"]) == 0
    assert seen == [["grid.json", "--workers", "2"]]


def test_sweep_without_its_module_says_so(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "riskcore.sweep", None)
    assert cli.main(["sweep"]) == 2
    assert capsys.readouterr().err == ("riskcore: error: the sweep command is not available in "
                                      "this version of riskcore (riskcore/sweep.py is missing)\n")
