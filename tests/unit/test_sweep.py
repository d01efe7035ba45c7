"""Parameter sweeps: grid expansion, the three backends agree exactly, Parquet, command line."""

import json
import math
import os
import socket
import subprocess
import sys
import types
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import pytest
from dask.distributed import LocalCluster

from riskcore.backtest import run_backtest
from riskcore.errors import DataError, ParameterError
from riskcore.rebalance import CostModel
from riskcore.spec import PortfolioSpec
from riskcore.sweep import (
    METRIC_COLUMNS,
    load_prices,
    load_spec,
    main,
    parse_grid_option,
    read_results,
    run_sweep,
    sweep_grid,
    write_results,
)

REPO = Path(__file__).resolve().parents[2]
YAHOO = REPO.parent / "shared" / "data" / "yahoo-daily"
COINS = ("BTC-USD", "ETH-USD", "LTC-USD", "XRP-USD")
COSTS = CostModel.from_bps(fee_bps=10, half_spread_bps=5, impact_bps=50)
BASE = PortfolioSpec(start="2020-07-01", lookback=60, costs=COSTS)


@pytest.fixture(scope="module")
def real():
    """Four real coins, 18 months, with their USD volume and tradable mask."""
    prices, volume, tradable = load_prices([YAHOO / f"{c}.csv" for c in COINS])
    window = slice("2020-01-01", "2021-06-30")
    return prices.loc[window], volume.loc[window], tradable.loc[window]


@pytest.fixture(scope="module")
def specs():
    # 2 x 2 x 2 points; lookback 5,000 exceeds the data: those four rows are errors
    return sweep_grid(BASE, {"band": [0.02, 0.1], "estimator": ["sample", "ewma"],
                             "lookback": [60, 5000]})


@pytest.fixture(scope="module")
def serial(real, specs):
    prices, volume, tradable = real
    return run_sweep(prices, specs, backend="serial", volume=volume, tradable=tradable)


@pytest.fixture(scope="module")
def dask_cluster():
    # AppTest runs app.py as __main__ in this process; spawned Dask workers would re-run
    # it (multiprocessing re-imports the parent's main by path). Workers need none of it.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None)
        try:
            yield cluster
        finally:
            cluster.close()
    finally:
        sys.modules["__main__"] = main


# ----------------------------------------------------------------------------- grid
def test_grid_is_the_cartesian_product_in_grid_order():
    specs = sweep_grid(BASE, {"band": [0.02, 0.05, 0.1], "lookback": [90, 180],
                              "estimator": ["sample", "ewma"]})
    assert len(specs) == 12
    got = [(s.band, s.lookback, s.estimator) for s in specs]
    assert got == [(b, n, e) for b in (0.02, 0.05, 0.1) for n in (90, 180)
                   for e in ("sample", "ewma")]
    # the fields the grid does not name stay as in the base
    assert all(s.start == BASE.start and s.costs == COSTS for s in specs)
    assert sweep_grid(BASE, {}) == [BASE]


def test_cost_fields_and_cost_scale():
    specs = sweep_grid(BASE, {"costs.fee": [0.0, 0.002], "cost_scale": [1, 2]})
    assert [s.costs.fee for s in specs] == [0.0, 0.0, 0.002, 0.004]
    # the scale multiplies the point's fee, half-spread and impact, not the minimum trade
    assert [s.costs.half_spread for s in specs] == [0.0005, 0.001, 0.0005, 0.001]
    assert [s.costs.impact for s in specs] == [0.005, 0.01, 0.005, 0.01]
    base = PortfolioSpec(costs=CostModel(fee=0.001, min_trade=10.0))
    scaled = sweep_grid(base, {"cost_scale": [0, 3]})
    assert [s.costs.fee for s in scaled] == [0.0, 0.003]
    assert {s.costs.min_trade for s in scaled} == {10.0}


@pytest.mark.parametrize(("grid", "message"), [
    ({"bnd": [0.1]}, r"grid field 'bnd' is unknown; allowed: 'start', .*'band'.*"
                     r"'costs.fee'.*'cost_scale'"),
    ({"costs": [COSTS]}, r"grid field 'costs' is unknown"),
    ({"costs.fees": [0.1]}, r"grid field 'costs.fees' is unknown"),
    ({"band": "0.02,0.05"}, r"grid field 'band' has '0.02,0.05'; give a list of values"),
    ({"band": 0.05}, r"grid field 'band' has 0.05; give a list"),
    ({"band": []}, r"grid field 'band' has no value"),
    ({"band": [0.05, 0.1, 0.05]}, r"grid field 'band' lists 0.05 twice"),
    ({"lookback": [90, 90.0]}, r"grid field 'lookback' lists 90.0 twice"),
    ({"cost_scale": [1, -1]}, r"grid field 'cost_scale' has -1; it must be a finite number "
                              r">= 0"),
    ({"cost_scale": [1, "x"]}, r"grid field 'cost_scale' has 'x'"),
    ({"band": [0.05, -0.1], "lookback": [90]},
     r"grid point 1 \(band=-0.1, lookback=90\) is not a valid specification: band is -0.1; "
     r"it must be >= 0"),
    ({"estimator": ["sample", "vibes"]},
     r"grid point 1 \(estimator='vibes'\) is not a valid specification: estimator 'vibes' "
     r"is unknown; allowed: 'sample', 'ewma'"),
    ({"costs.fee": [0.001, 2.0]}, r"grid point 1 \(costs.fee=2.0\) is not a valid "
                                  r"specification: costs of fee 2"),
    ({"alignment": ["common", "pairwise"], "estimator": ["sample", "ewma"]},
     r"grid point 3 \(alignment='pairwise', estimator='ewma'\) .*pairwise' works with the "
     r"'sample' estimator only"),
])
def test_bad_grids_name_the_field_and_value(grid, message):
    with pytest.raises(ParameterError, match=message):
        sweep_grid(BASE, grid)


def test_grid_points_giving_one_spec_are_refused():
    with pytest.raises(ParameterError, match=r"grid points 0 and 1 \(cost_scale=2\) give the "
                                             r"same specification \(cost_scale multiplies"):
        sweep_grid(PortfolioSpec(), {"cost_scale": [1, 2]})  # free trading: 2 x 0 = 0
    with pytest.raises(ParameterError, match=r"the grid has 1,000 points \(10 band x 100 "
                                             r"lookback\); at most 999"):
        sweep_grid(BASE, {"band": list(np.arange(10) / 100),
                          "lookback": list(range(2, 102))}, max_points=999)
    with pytest.raises(ParameterError, match="must be a PortfolioSpec"):
        sweep_grid({"band": 0.1}, {})


@pytest.mark.parametrize(("text", "expected"), [
    ("band=0.02,0.05,inf,none", ("band", [0.02, 0.05, math.inf, None])),
    ("lookback=90, 180", ("lookback", [90, 180])),
    ("estimator=sample,ewma", ("estimator", ["sample", "ewma"])),
    ("costs.fee=0,1e-3", ("costs.fee", [0, 0.001])),
    ("start=2021-01-01", ("start", ["2021-01-01"])),
])
def test_parse_grid_option(text, expected):
    assert parse_grid_option(text) == expected


@pytest.mark.parametrize("text", ["band", "=0.1", "band=", "band=0.1,,0.2"])
def test_parse_grid_option_refuses_malformed_text(text):
    with pytest.raises(ParameterError, match="FIELD=V1,V2|empty value"):
        parse_grid_option(text)


# ----------------------------------------------------------------------------- running
def test_a_row_is_run_backtest_of_its_spec(real, specs, serial):
    prices, volume, tradable = real
    assert list(serial.index) == list(range(8)) and serial.index.name == "point"
    assert [PortfolioSpec.from_json(s) for s in serial["spec"]] == specs
    # the varied fields, in spec field order, then the key, the error and the metrics
    assert list(serial.columns) == ["estimator", "lookback", "band", "spec", "error",
                                    *METRIC_COLUMNS]
    assert list(serial["band"]) == [0.02] * 4 + [0.1] * 4
    for k in (0, 2, 6):
        result = run_backtest(prices, specs[k], volume=volume, tradable=tradable)
        row = serial.loc[k]
        assert row["final_equity"] == result.equity.iloc[-1]
        for name in ("annualized_return", "annualized_volatility", "sharpe_ratio",
                     "max_drawdown", "turnover", "costs_paid", "n_rebalances",
                     "risk_balance_error"):
            assert row[name] == getattr(result.metrics, name), name
    assert (serial["costs_paid"].iloc[[0, 2, 4, 6]] > 0).all()


def test_a_failing_spec_gives_an_error_row_and_the_sweep_goes_on(serial):
    failed = serial[serial["lookback"] == 5000]
    assert len(failed) == 4
    assert failed["error"].str.startswith("DataError: ").all()
    assert failed[list(METRIC_COLUMNS)].isna().all().all()
    ok = serial[serial["lookback"] == 60]
    assert ok["error"].isna().all() and ok["final_equity"].notna().all()


def test_processes_give_exactly_the_serial_table(real, specs, serial):
    prices, volume, tradable = real
    seen = []
    table = run_sweep(prices, specs, backend="processes", n_jobs=2, volume=volume,
                      tradable=tradable, progress=lambda done, total: seen.append((done, total)))
    pd.testing.assert_frame_equal(table, serial, check_exact=True)
    assert seen[-1] == (8, 8) and all(t == 8 for _, t in seen)


def test_a_local_dask_cluster_gives_exactly_the_serial_table(real, specs, serial,
                                                             dask_cluster):
    prices, volume, tradable = real
    address = dask_cluster.scheduler_address
    assert address.startswith("tcp://127.0.0.1:")
    assert all(w.startswith("tcp://127.0.0.1:")
               for w in dask_cluster.scheduler_info["workers"])
    seen = []
    table = run_sweep(prices, specs, backend="dask", scheduler=address, volume=volume,
                      tradable=tradable, progress=lambda done, total: seen.append(done))
    pd.testing.assert_frame_equal(table, serial, check_exact=True)
    assert seen == list(range(1, 9))


def test_bad_run_arguments_are_refused(real, specs):
    prices = real[0]
    with pytest.raises(ParameterError, match=r"backend 'threads' is unknown; allowed: "
                                             r"'serial', 'processes', 'dask'"):
        run_sweep(prices, specs, backend="threads")
    with pytest.raises(ParameterError, match="backend 'dask' needs the scheduler address"):
        run_sweep(prices, specs, backend="dask")
    with pytest.raises(ParameterError, match="a scheduler is used by backend 'dask' only"):
        run_sweep(prices, specs, backend="serial", scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="n_jobs is 0"):
        run_sweep(prices, specs, n_jobs=0)
    with pytest.raises(ParameterError, match="specs 0 and 1 are the same specification"):
        run_sweep(prices, [BASE, BASE], backend="serial")
    with pytest.raises(ParameterError, match="no specification to run"):
        run_sweep(prices, [], backend="serial")
    with pytest.raises(ParameterError, match="spec 0 is dict"):
        run_sweep(prices, [{}], backend="serial")
    with pytest.raises(ParameterError, match="initial_value is -1"):
        run_sweep(prices, specs, backend="serial", initial_value=-1)
    with pytest.raises(DataError, match="prices must be a DataFrame with a DatetimeIndex"):
        run_sweep(prices.reset_index(), specs, backend="serial")


def test_an_unreachable_scheduler_is_a_clear_error(real):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}), \
            pytest.raises(ParameterError, match=rf"cannot connect to the Dask scheduler at "
                                             rf"'tcp://127.0.0.1:{port}'"):
        run_sweep(real[0], [BASE], backend="dask", scheduler=f"tcp://127.0.0.1:{port}")


# ----------------------------------------------------------------------------- Parquet
def test_parquet_round_trip_is_exact(serial, tmp_path):
    path = write_results(serial, tmp_path / "sweep.parquet")
    back = read_results(path)
    pd.testing.assert_frame_equal(back, serial, check_exact=True)
    assert not list(tmp_path.glob(".*partial"))
    # one table keyed by the spec: every row's spec reads back
    assert back["spec"].is_unique
    assert PortfolioSpec.from_json(back.loc[5, "spec"]).estimator == "sample"


def test_parquet_errors_name_the_file(serial, tmp_path):
    with pytest.raises(DataError, match="needs a 'spec' column"):
        write_results(serial.drop(columns="spec"), tmp_path / "x.parquet")
    with pytest.raises(DataError, match="repeats a specification"):
        write_results(pd.concat([serial, serial]), tmp_path / "x.parquet")
    with pytest.raises(DataError, match="cannot write the sweep table to .*no-dir"):
        write_results(serial, tmp_path / "no-dir" / "x.parquet")
    with pytest.raises(DataError, match="cannot read a sweep table from .*missing.parquet"):
        read_results(tmp_path / "missing.parquet")
    other = tmp_path / "other.parquet"
    pd.DataFrame({"spec": ["{}"], "x": [1.0]}).to_parquet(other)
    with pytest.raises(DataError, match="is a Parquet file but not a riskcore sweep table"):
        read_results(other)
    text = tmp_path / "text.parquet"
    text.write_text("band,lookback\n")
    with pytest.raises(DataError, match="cannot read a sweep table from .*text.parquet"):
        read_results(text)


# ----------------------------------------------------------------------------- loaders
def test_load_spec_reads_a_spec_or_a_scenario_with_one(tmp_path):
    spec = PortfolioSpec(band=0.05, lookback=90)
    plain = tmp_path / "spec.json"
    plain.write_text(spec.to_json())
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"name": "x", "spec": json.loads(spec.to_json())}))
    assert load_spec(plain) == spec == load_spec(scenario)
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": 3, "band": -1}')
    with pytest.raises(ParameterError, match=r"bad.json: band is -1"):
        load_spec(bad)
    with pytest.raises(DataError, match="cannot read the specification file .*nope.json"):
        load_spec(tmp_path / "nope.json")


def test_load_prices_refuses_a_bad_file_by_name(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("hello\nworld\n")
    with pytest.raises(DataError, match="price file junk.csv was refused: "):
        load_prices([YAHOO / "BTC-USD.csv", junk])
    with pytest.raises(DataError, match="cannot read price file .*absent.csv"):
        load_prices([tmp_path / "absent.csv"])


# ----------------------------------------------------------------------------- command line
def cli(*args, cwd=REPO):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "riskcore.sweep", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


def test_cli_demo_sweep_writes_the_table(tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(PortfolioSpec(start="2024-01-01", as_of="2024-06-30", lookback=90,
                                  costs=COSTS).to_json())
    out = tmp_path / "results.parquet"
    run = cli(spec, "--demo", "--grid", "band=0.05,0.2", "--grid", "estimator=sample,ewma",
              "--backend", "serial", "--out", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"wrote 4 backtests (0 failed) to {out}"
    assert "Traceback" not in run.stderr
    table = read_results(out)
    assert list(table["band"]) == [0.05, 0.05, 0.2, 0.2]
    assert list(table["estimator"]) == ["sample", "ewma", "sample", "ewma"]
    assert table["error"].isna().all() and (table["final_equity"] > 0).all()
    # a narrower band trades at least as often
    narrow, wide = table["n_rebalances"].iloc[:2], table["n_rebalances"].iloc[2:]
    assert (narrow.to_numpy() >= wide.to_numpy()).all()


@pytest.mark.parametrize(("args", "message"), [
    (["--demo", "--grid", "bnd=0.1"], "grid field 'bnd' is unknown"),
    (["--demo", "--grid", "band"], "grid option 'band' must look like FIELD=V1,V2"),
    (["--demo", "--grid", "band=0.1", "--grid", "band=0.2"], "grid field 'band' is given "
                                                             "twice"),
    (["--demo", "--grid", "band=0.1", "--scheduler", "tcp://127.0.0.1:1", "--backend",
      "serial"], "--scheduler is used by --backend dask only"),
    (["--grid", "band=0.1"], "one of the arguments --prices --demo is required"),
    (["--demo", "--grid", "band=0.1", "--backend", "gpu"], "argument --backend: invalid "
                                                           "choice: 'gpu'"),
    (["--prices", "absent.csv", "--grid", "band=0.1"], "cannot read price file absent.csv"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, args, message, capsys,
                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / "spec.json"
    spec.write_text(PortfolioSpec().to_json())
    try:
        code = main([str(spec), *args, "--out", str(tmp_path / "x.parquet")])
    except SystemExit as exc:  # argparse's own checks
        code = exc.code
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert lines[0].startswith("python -m riskcore sweep: error: ")
    assert not (tmp_path / "x.parquet").exists()


def test_cli_missing_spec_file_is_one_line_without_traceback(tmp_path):
    run = cli(tmp_path / "nope.json", "--demo", "--grid", "band=0.1", "--out",
              tmp_path / "x.parquet")
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"python -m riskcore sweep: error: cannot read the specification file "
        f"{tmp_path / 'nope.json'}: No such file or directory"]
