"""The command line: run a saved scenario without a browser (``python -m riskcore``).

``python -m riskcore run scenario.json --prices FILE... [--report out.html] [--json out.json]``
reads the files with :func:`riskcore.ingest.load_files` (as the Upload source does), checks
their SHA-256 content hashes against the scenario's data reference, runs the dashboard's data
pipeline (:func:`riskcore.dataset.prepare_dataset`) and :func:`riskcore.scenario.run_scenario`,
and writes the HTML report (:func:`riskcore.report.scenario_report`) and a JSON of the figures
(:meth:`riskcore.scenario.ScenarioResult.to_dict`): the same numbers as the pages.

- ``--demo`` runs on the simulated demo market; a Yahoo scenario fetches its tickers (the disk
  cache first, then the network); a bundle zip (``save_bundle``) carries its prices.
- Files that differ from the scenario's are refused, or run with a warning under
  ``--allow-different-data``.
- Bad input exits with code 2 and a one-line message on stderr, never a traceback.

``python -m riskcore sweep ...`` hands over to :func:`riskcore.sweep.main`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

from riskcore.errors import DataError, RiskcoreError

#: Exit status of bad input (as argparse uses for a bad command line).
EXIT_BAD_INPUT = 2
_ZIP_MAGIC = b"PK\x03\x04"


class _BadInput(Exception):
    """A one-line message for the user (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        command = " ".join(self.prog.split()[1:])
        raise _BadInput(f"{message} (see: python -m riskcore {command + ' ' if command else ''}"
                        "--help)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="riskcore", description="Run saved dashboard scenarios without a "
                     "browser.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser(
        "run", help="run a scenario file (or bundle) and write its report and figures",
        description="Run a scenario file (JSON) or bundle (zip) as the dashboard does and "
        "write the HTML report and the figures (JSON).")
    run.add_argument("scenario", help="scenario JSON file, or bundle zip with its prices")
    run.add_argument("--prices", nargs="+", metavar="FILE", default=[],
                     help="the scenario's uploaded price files (CSV or Excel)")
    run.add_argument("--demo", action="store_true",
                     help="run on the simulated demo market")
    run.add_argument("--allow-different-data", action="store_true",
                     help="run even if the files differ from the scenario's (with a warning)")
    run.add_argument("--report", metavar="HTML", help="write the HTML report here")
    run.add_argument("--json", metavar="JSON", help="write the figures (JSON) here")
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary")
    commands.add_parser("sweep", help="run a grid of specifications (riskcore.sweep)",
                        add_help=False)
    return parser


class _Progress:
    """Progress on stderr: a tqdm bar on a terminal (when installed), else a line per step."""

    def __init__(self, total: int, quiet: bool) -> None:
        self.done, self.total, self.quiet = 0, total, quiet
        self.bar = None
        if not quiet and sys.stderr.isatty():  # a bar on a terminal, lines in a log
            try:
                from tqdm import tqdm  # noqa: PLC0415 - optional
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self.bar = tqdm(total=total, file=sys.stderr, unit="step", leave=False,
                                bar_format="{desc:<24}{bar:20} {n_fmt}/{total_fmt} {elapsed}")

    def __call__(self, step: str) -> None:
        if self.quiet:
            return
        if self.bar is not None:
            if self.done:
                self.bar.update(1)
            self.bar.set_description_str(step)
        else:
            print(f"[{self.done + 1}/{self.total}] {step}", file=sys.stderr, flush=True)
        self.done += 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.update(self.total - self.bar.n)
            self.bar.close()


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise _BadInput(f"cannot read the {what} {path}: {exc.strerror or exc}") from exc


def _write(path: str, text: str, what: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _BadInput(f"cannot write the {what} {path}: {exc.strerror or exc}") from exc


def _warn(message: str) -> None:
    print(f"riskcore: warning: {message}", file=sys.stderr)


def _source(args: argparse.Namespace, raw: bytes, step: Callable[[str], Any]):
    """Return (scenario, SourcePanel) from the command line's scenario and data options."""
    from riskcore import scenario as sc  # noqa: PLC0415

    if raw.startswith(_ZIP_MAGIC):
        if args.prices or args.demo:
            raise _BadInput("a bundle carries its own prices: drop --prices and --demo")
        bundle = sc.load_bundle(raw)
        label = f"Bundle {Path(args.scenario).name} ({bundle.scenario.data.kind} data)"
        return bundle.scenario, sc.SourcePanel(bundle.prices, bundle.volume, label)
    scenario = sc.scenario_from_json(raw)
    ref = scenario.data
    if args.prices and args.demo:
        raise _BadInput("give either --prices or --demo, not both")
    if args.demo:
        if ref.kind != "demo":
            if not args.allow_different_data:
                raise _BadInput(f"the scenario's data are {ref.kind!r}, not the demo: run it "
                                "on its own data, or pass --allow-different-data")
            _warn(f"the scenario's data are {ref.kind!r}; running on the demo market instead "
                  "(selection and merges dropped)")
            scenario = replace(scenario, data=replace(ref, kind="demo", tickers=(), files=(),
                                                      names=(), assets=None))
        return scenario, sc.load_source(scenario.data)
    if args.prices:
        step("reading files")
        files = [(Path(p).name, _read(p, "price file")) for p in args.prices]
        if ref.kind != "upload":
            if not args.allow_different_data:
                raise _BadInput(f"the scenario's data are {ref.kind!r}, not uploaded files: "
                                "drop --prices, or pass --allow-different-data")
            _warn(f"the scenario's data are {ref.kind!r}; running on the files given instead "
                  "(selection and merges dropped)")
            refs = tuple(sc.FileReference.of(n, c) for n, c in files)
            scenario = replace(scenario, data=replace(ref, kind="upload", tickers=(),
                                                      files=refs, names=(), assets=None))
            return scenario, sc.load_source(scenario.data, files=files)
        ordered, differences = sc.match_files(ref, files,
                                              allow_different=args.allow_different_data)
        for difference in differences:
            _warn(difference)
        source = sc.load_source(ref, files=ordered)
        for name, message in source.errors:
            _warn(f"{name} not read: {message}")
        return scenario, source
    if ref.kind == "upload":
        listed = ", ".join(f"{f.name} (sha256 {f.sha256[:12]}…)" for f in ref.files)
        raise _BadInput(f"this scenario runs on uploaded files: pass them with --prices "
                        f"({listed})")
    step("fetching prices" if ref.kind == "yahoo" else "loading the demo")
    return scenario, sc.load_source(ref)


def _run(args: argparse.Namespace) -> int:
    from riskcore import scenario as sc  # noqa: PLC0415

    raw = _read(args.scenario, "scenario")
    steps = 2 + len(sc.RUN_STEPS) + bool(args.report) + bool(args.json)
    progress = _Progress(steps, args.quiet)
    try:
        scenario, source = _source(args, raw, progress)
        progress("data pipeline")
        dataset = sc.scenario_dataset(scenario, source)
        if dataset.prices.shape[1] < 2:
            raise DataError(f"the analysis window {dataset.window.start:%Y-%m-%d} → "
                            f"{dataset.window.as_of:%Y-%m-%d} holds {dataset.prices.shape[1]}"
                            " coin(s) with prices; a portfolio needs at least 2")
        result = sc.run_scenario(scenario, dataset, progress=progress)
        if args.report:
            from riskcore.report import scenario_report  # noqa: PLC0415

            progress("report")
            _write(args.report, scenario_report(result), "report")
        if args.json:
            progress("figures")
            text = json.dumps(result.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)
            _write(args.json, text + "\n", "figures file")
    finally:
        progress.close()
    if not args.quiet:
        _summary(result)
    return 0


def _summary(result) -> None:
    metrics = result.key_metrics()
    weights = result.portfolio.weights
    top = ", ".join(f"{a} {w:.1%}" for a, w in weights[weights.abs() > 0].nlargest(6).items())
    print(f"{result.scenario.name}: {top}{' …' if (weights.abs() > 0).sum() > 6 else ''}")
    print(f"volatility {metrics['portfolio_volatility']:.1%}, diversification ratio "
          f"{metrics['diversification_ratio']:.2f}, effective bets "
          f"{metrics['effective_number_of_bets']:.2f}; walk-forward return "
          f"{metrics['annualized_return']:.1%}/yr, volatility "
          f"{metrics['annualized_volatility']:.1%}, max drawdown {metrics['max_drawdown']:.1%},"
          f" turnover {metrics['turnover']:.0%}, costs {metrics['costs_paid']:,.2f} USD")


def _sweep(argv: Sequence[str]) -> int:
    try:  # another module, loaded only for sweeps
        sweep = importlib.import_module("riskcore.sweep")
    except ModuleNotFoundError as exc:
        if exc.name != "riskcore.sweep":
            raise
        raise _BadInput("the sweep command is not available in this version of riskcore "
                        "(riskcore/sweep.py is missing)") from exc
    return int(sweep.main(list(argv)) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (0, or 2 for bad input).

    Parameters
    ----------
    argv : sequence of str, optional
        Arguments after the program name; default ``sys.argv[1:]``.

    Returns
    -------
    int
        0 on success, :data:`EXIT_BAD_INPUT` (2) after printing a one-line message for bad
        input (unreadable or refused files, a refused scenario, a riskcore error).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "sweep":
            return _sweep(argv[1:])
        args = _parser().parse_args(argv)
        return _run(args)
    except (_BadInput, RiskcoreError) as exc:
        message = " ".join(str(exc).split())  # one line
        print(f"riskcore: error: {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
