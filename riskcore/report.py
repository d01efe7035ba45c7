"""A self-contained HTML report of one scenario, or a comparison of two to four.

:func:`scenario_report` turns :class:`riskcore.scenario.ScenarioResult` objects into one HTML
file for a meeting: the settings (in a comparison, the rows that differ are highlighted), the
data's provenance and quality notes, weights and relative risk contributions against the
budgets, key metrics, the walk-forward equity and drawdown curves, the stress tables, the
software version and the date.

- **Offline.** plotly.js is embedded once, inline, in the first figure
  (``plotly.io.to_html(..., include_plotlyjs=True)``; the others reuse it); the file has no
  external script, stylesheet, image or font reference, and the charts keep their
  interactivity (hover, zoom) when opened from disk.
- **Printable.** Print CSS gives clean A4 or Letter pages: 12-14 mm margins (``@page``),
  figures 180 mm wide, no figure or table row split across pages, the plotly toolbar hidden.
  There is no sidebar: this is not a Streamlit page.
- **Safe.** Every user text (scenario and coin names, file names, notes) is escaped with
  :func:`html.escape`; inside the figures plotly's JSON escapes ``<``, ``>`` and ``/``.

A PDF is not produced: WeasyPrint needs system libraries (Pango) and, like every HTML-to-PDF
library that does not run JavaScript, would print the plotly charts blank. Print the HTML
from a browser ("Save as PDF") instead.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from riskcore.errors import ParameterError
from riskcore.scenario import ScenarioResult, scenario_to_dict

#: Most scenarios in one comparison (more do not fit a printed page side by side).
MAX_COMPARED = 4
#: Figure size in CSS pixels: 680 px is 180 mm at 96 px per inch, inside the printable
#: width of both A4 (186 mm with 12 mm margins) and Letter (192 mm).
FIGURE_WIDTH, FIGURE_HEIGHT = 680, 330

_CSS = """
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1b1f24; max-width: 186mm; margin: 0 auto; padding: 12px; font-size: 10.5pt;
       line-height: 1.35; }
h1 { font-size: 17pt; margin: 0 0 4px; }
h2 { font-size: 13pt; margin: 18px 0 6px; border-bottom: 2px solid #d0d7de; padding-bottom: 2px; }
h3 { font-size: 11pt; margin: 12px 0 4px; }
p.meta, p.note, .legend { color: #57606a; font-size: 9pt; margin: 2px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 8.5pt; margin: 4px 0 10px;
        font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d8dee4; padding: 2px 5px; text-align: right;
         vertical-align: top; overflow-wrap: anywhere; }
th { background: #f6f8fa; font-weight: 600; }
th:first-child, td:first-child { text-align: left; }
td.text { text-align: left; }
td:not(.text) { white-space: nowrap; }
table.kv td:first-child { white-space: nowrap; width: 1%; padding-right: 14px; }
table.kv th { text-align: left; }
tr.diff td { background: #fff3bf; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
tr.diff td:first-child { font-weight: 600; }
ul.notes { font-size: 9pt; margin: 2px 0 10px; padding-left: 18px; }
.figure { width: 180mm; max-width: 100%; margin: 4px 0 10px; }
.tag { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
       margin-right: 4px; vertical-align: middle; }
@page { margin: 14mm 12mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 9.5pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  h3 { break-after: avoid; page-break-after: avoid; }
  .figure, tr, .keep { break-inside: avoid; page-break-inside: avoid; }
  .modebar, .modebar-container { display: none !important; }
  section.page { break-before: page; page-break-before: always; }
}
"""

_SETTING_SKIP = {"schema_version", "format", "start", "as_of", "assets", "created",
                 "software_version", "name"}
_METRICS: tuple[tuple[str, str, str], ...] = (
    ("portfolio_volatility", "Volatility of the decision (annualized)", "pct"),
    ("diversification_ratio", "Diversification ratio", "2f"),
    ("effective_number_of_bets", "Effective number of bets", "2f"),
    ("annualized_return", "Walk-forward: annualized return", "pct"),
    ("annualized_volatility", "Walk-forward: annualized volatility", "pct"),
    ("max_drawdown", "Walk-forward: maximum drawdown", "pct"),
    ("sharpe_ratio", "Walk-forward: Sharpe ratio", "2f"),
    ("turnover", "Walk-forward: turnover (one-way, total)", "pct0"),
    ("annualized_turnover", "Walk-forward: turnover per year", "pct0"),
    ("costs_paid", "Walk-forward: costs paid (USD)", "usd"),
    ("cost_drag", "Walk-forward: costs / initial value", "pct2"),
    ("n_rebalances", "Walk-forward: rebalances", "0f"),
)
_RUN_METRICS = (("total_return", "pct"), ("annualized_return", "pct"),
                ("annualized_volatility", "pct"), ("sharpe_ratio", "2f"),
                ("max_drawdown", "pct"), ("turnover", "pct0"), ("costs_paid", "usd"),
                ("n_rebalances", "0f"))


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: Any, kind: str) -> str:
    if value is None or value is pd.NaT:
        return "–"
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if not isinstance(value, int | float | np.integer | np.floating):
        return str(value)
    value = float(value)
    if math.isnan(value):
        return "–"
    text = {"pct": f"{value:.1%}", "pct0": f"{value:.0%}", "pct2": f"{value:.2%}",
            "2f": f"{value:.2f}", "0f": f"{value:.0f}", "usd": f"{value:,.2f}",
            "4f": f"{value:.4f}"}.get(kind, f"{value:g}")
    if text.startswith("-") and not any(c in "123456789" for c in text):
        text = text[1:]  # a rounding of -1e-17 is no loss
    return text


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], *,
           diff: Sequence[bool] | None = None, text_columns: int = 1, kv: bool = False) -> str:
    """HTML table of already formatted cells (escaped here); ``kv``: a label column."""
    out = ['<table class="kv"><thead><tr>' if kv else "<table><thead><tr>",
           *(f"<th>{_e(h)}</th>" for h in header), "</tr></thead><tbody>"]
    for k, row in enumerate(rows):
        cls = ' class="diff"' if diff is not None and diff[k] else ""
        cells = "".join(f'<td class="text">{_e(c)}</td>' if j < text_columns else
                        f"<td>{_e(c)}</td>" for j, c in enumerate(row))
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _setting_text(value: Any) -> str:
    if value is None or value == [] or value == ():
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.10g}"
    if isinstance(value, list | tuple):
        parts = []
        for item in value:
            if isinstance(item, dict):
                parts.append(" ".join(f"{v}" for v in item.values()))
            elif isinstance(item, list | tuple):
                parts.append(" ".join(_setting_text(v) for v in item))
            else:
                parts.append(_setting_text(item))
        return "; ".join(parts)
    return str(value)


def _settings(result: ScenarioResult) -> dict[str, str]:
    """Flat label -> text of everything a scenario decides (spec, data, run, stress)."""
    full = scenario_to_dict(result.scenario)
    out: dict[str, str] = {}

    def put(prefix: str, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if key in _SETTING_SKIP and prefix != "data: ":
                continue
            if key == "files" and value:
                out[f"{prefix}files"] = "; ".join(f"{f['name']} (sha256 {f['sha256'][:12]}…)"
                                                  for f in value)
            elif isinstance(value, dict):
                put(f"{prefix}{key.replace('_', ' ')}: ", value)
            else:
                out[f"{prefix}{key.replace('_', ' ')}"] = _setting_text(value)

    put("", full["spec"])
    out["initial value (USD)"] = _setting_text(full["initial_value"])
    put("data: ", full["data"])
    put("stress: ", full["stress"])
    return out


def _palette(names: Sequence[str], colors: Mapping[str, str] | None) -> dict[str, str]:
    from plotly.colors import qualitative  # noqa: PLC0415

    base = list(qualitative.Plotly)
    chosen = dict(colors or {})
    out: dict[str, str] = {}
    k = 0
    for name in names:
        if name in chosen:
            out[name] = chosen[name]
        else:
            out[name] = base[k % len(base)]
            k += 1
    return out


class _Figures:
    """Render plotly figures to HTML divs, embedding plotly.js in the first one only."""

    def __init__(self) -> None:
        self.count = 0

    def html(self, fig) -> str:
        import plotly.io as pio  # noqa: PLC0415

        fig.update_layout(width=FIGURE_WIDTH, height=FIGURE_HEIGHT, template="plotly_white",
                          margin={"l": 55, "r": 10, "t": 40, "b": 40},
                          legend={"orientation": "h", "y": -0.18},
                          font={"family": "system-ui, Segoe UI, Roboto, Helvetica, Arial",
                                "size": 11})
        self.count += 1
        div = pio.to_html(fig, full_html=False, include_plotlyjs=self.count == 1,
                          div_id=f"figure-{self.count}",
                          config={"displaylogo": False, "responsive": False},
                          default_width=f"{FIGURE_WIDTH}px", default_height=f"{FIGURE_HEIGHT}px")
        return f'<div class="figure">{div}</div>'


def _bars(results: Sequence[ScenarioResult], names: Sequence[str], palette: Mapping[str, str],
          figures: _Figures) -> str:
    import plotly.graph_objects as go  # noqa: PLC0415

    assets: list[str] = []
    for result in results:
        assets += [str(a) for a in result.portfolio.weights.index if str(a) not in assets]
    weights = go.Figure()
    risk = go.Figure()
    for name, result in zip(names, results, strict=True):
        p = result.portfolio
        w = p.weights.reindex(assets).to_numpy(dtype=float)
        rrc = p.relative_risk_contributions.reindex(assets).to_numpy(dtype=float)
        weights.add_trace(go.Bar(x=assets, y=w, name=name, marker_color=palette[name],
                                 offsetgroup=name, hovertemplate="%{x}: %{y:.2%}"))
        risk.add_trace(go.Bar(x=assets, y=rrc, name=name, marker_color=palette[name],
                              offsetgroup=name, hovertemplate="%{x}: %{y:.2%} of risk"))
        if p.budget is not None:
            budget = p.budget.reindex(assets).to_numpy(dtype=float)
            risk.add_trace(go.Scatter(
                x=assets, y=budget, mode="markers", name=f"{name}: budget",
                offsetgroup=name, marker={"symbol": "line-ew-open", "size": 16,
                                          "color": "#1b1f24", "line": {"width": 2}},
                hovertemplate="%{x} budget: %{y:.2%}", showlegend=len(results) == 1))
    weights.update_layout(title="Weights at the as-of date", barmode="group",
                          yaxis_tickformat=".0%")
    risk.update_layout(title="Relative risk contributions (bars), budgets (marks)",
                       barmode="group", scattermode="group", yaxis_tickformat=".0%")
    return figures.html(weights) + figures.html(risk)


def _curves(results: Sequence[ScenarioResult], names: Sequence[str],
            palette: Mapping[str, str], figures: _Figures) -> str:
    import plotly.graph_objects as go  # noqa: PLC0415

    from riskcore.metrics import drawdown  # noqa: PLC0415

    curves: dict[str, pd.Series] = {}
    for name, result in zip(names, results, strict=True):
        start = result.backtest.rebalance_dates[0]
        curves[name] = result.backtest.equity.loc[start:] / result.scenario.initial_value
        if len(results) == 1:  # one scenario: its benchmarks beside it
            for bench, run in result.benchmarks.runs.items():
                curves[bench] = run.equity.loc[start:] / result.scenario.initial_value
    colors = _palette(list(curves), palette)
    equity, drawdowns = go.Figure(), go.Figure()
    for name, curve in curves.items():
        line = {"color": colors[name], "width": 2 if name in names else 1.2}
        x, y = curve.index, curve.to_numpy(dtype=float)
        equity.add_trace(go.Scatter(x=x, y=y, name=name, mode="lines", line=line,
                                    hovertemplate="%{x|%Y-%m-%d}: %{y:.3f}"))
        dd = drawdown(curve).to_numpy(dtype=float)
        drawdowns.add_trace(go.Scatter(x=x, y=dd, name=name, mode="lines", line=line,
                                       hovertemplate="%{x|%Y-%m-%d}: %{y:.1%}"))
    equity.update_layout(title="Walk-forward value of 1 USD invested (log scale)",
                         yaxis_type="log")
    drawdowns.update_layout(title="Drawdown (value / running peak − 1)",
                            yaxis_tickformat=".0%")
    return figures.html(equity) + figures.html(drawdowns)


def _provenance(result: ScenarioResult) -> str:
    data, ref = result.dataset, result.scenario.data
    prices = data.prices
    window = data.window
    rows = [("Source", data.source), ("Kind", ref.kind)]
    if ref.tickers:
        rows.append(("Tickers", " ".join(ref.tickers)))
    if window is not None:
        rows.append(("Analysis window", f"{window.start:%Y-%m-%d} → {window.as_of:%Y-%m-%d}"
                     + (" (default)" if ref.default_window else "")))
    start = result.backtest.rebalance_dates[0]
    rows += [("Walk-forward start", f"{start:%Y-%m-%d}"),
             ("Periods in the window", f"{len(prices):,}"),
             ("Periods per year", str(data.periods_per_year)),
             ("Coins", ", ".join(map(str, prices.columns)))]
    parts = [_table(["", ""], rows, text_columns=2, kv=True)]
    if ref.files:
        parts.append(_table(["File", "SHA-256", "Bytes"],
                            [(f.name, f.sha256, f"{f.size:,}") for f in ref.files],
                            text_columns=2))
    notes = [*data.notes]
    if data.empty_assets:
        notes.append(f"No prices after cleaning for {', '.join(data.empty_assets)}: left out.")
    notes += [*data.window_notes, *result.portfolio.notes, *result.notes,
              *result.backtest.notes, *result.benchmarks.notes]
    if notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in notes)
                     + "</ul>")
    actions = data.actions
    if actions is not None and not actions.empty:
        shown = actions.head(20)
        parts.append(f'<p class="note">Cleaning changed {len(actions):,} run(s) of prices'
                     + (" (the first 20):" if len(actions) > 20 else ":") + "</p>")
        parts.append(_table([str(c) for c in shown.columns],
                            [[_number(v, "") for v in row]
                             for row in shown.itertuples(index=False)], text_columns=99))
    else:
        parts.append('<p class="note">Cleaning changed no price.</p>')
    return "".join(parts)


def _weights_table(result: ScenarioResult) -> str:
    p = result.portfolio
    budget = p.budget if p.budget is not None else pd.Series(np.nan, index=p.weights.index)
    rows = []
    for asset in p.weights.index:
        b = budget.get(asset, np.nan)
        rrc = p.relative_risk_contributions.get(asset, np.nan)
        rows.append((str(asset), _number(p.weights[asset], "pct2"), _number(rrc, "pct2"),
                     _number(b, "pct2"), _number(rrc - b, "pct2")))
    return _table(["Coin", "Weight", "Relative risk contribution", "Risk budget",
                   "Contribution − budget"], rows)


def _stress_tables(results: Sequence[ScenarioResult], names: Sequence[str]) -> str:
    parts = []
    scenarios = list(dict.fromkeys(s for r in results for s in r.stress.index))

    def cell(r: ScenarioResult, s: str, column: str, kind: str) -> str:
        return _number(r.stress.at[s, column], kind) if s in r.stress.index else "–"

    if len(results) == 1:
        r = results[0]
        rows = [[s, cell(r, s, "volatility", "pct"), cell(r, s, "value_at_risk", "pct2"),
                 cell(r, s, "expected_shortfall", "pct2"),
                 str(r.stress.at[s, "largest_risk_contributor"]),
                 cell(r, s, "largest_relative_risk_contribution", "pct")] for s in scenarios]
        header = ["Scenario", "Volatility (annualized)", "VaR 99%", "Expected shortfall 99%",
                  "Largest risk contributor", "its share of risk"]
        parts.append('<div class="keep">' + _table(header, rows, text_columns=1) + "</div>")
    else:
        for column, label, kind in (("expected_shortfall", "Expected shortfall 99%, one "
                                     "period", "pct2"),
                                    ("volatility", "Volatility (annualized)", "pct")):
            rows = [[s, *(cell(r, s, column, kind) for r in results)] for s in scenarios]
            parts.append(f'<div class="keep"><h3>{_e(label)}</h3>'
                         + _table(["Scenario", *names], rows) + "</div>")
    parts.append('<p class="note">Crash scenarios stress the decision\'s covariance (volatility '
                 "multiplier, crash correlation, stablecoin de-peg volatility). VaR = z·σ and "
                 "ES = σ·φ(z)/(1−p) for zero-mean normal returns: illustrative assumptions, "
                 "not forecasts; crypto tails are fatter, so read them as lower bounds.</p>")
    crash_names = list(dict.fromkeys(
        s for r in results if r.crashes is not None for s in r.crashes.index))
    if crash_names:
        rows = []
        for s in crash_names:
            row = [s]
            for r in results:
                c = r.crashes
                row.append(_number(c.at[s, "portfolio_return"], "pct")
                           if c is not None and s in c.index else "–")
            rows.append(row)
        parts.append("<h3>Past crashes: today's weights bought and held</h3>")
        parts.append(_table(["Crash window", *names], rows))
    if len(results) == 1 and results[0].worst is not None and not results[0].worst.empty:
        worst = results[0].worst
        horizon = results[0].scenario.stress.horizon
        rows = [(f"{row.start:%Y-%m-%d}", f"{row.end:%Y-%m-%d}",
                 _number(row.portfolio_return, "pct")) for row in worst.itertuples()]
        parts.append(f"<h3>Worst {horizon}-period windows in the analysis window</h3>")
        parts.append(_table(["Start", "End", "Portfolio return"], rows, text_columns=2))
    return "".join(parts)


def _unique(names: Sequence[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        candidate, k = name, 2
        while candidate in out:
            candidate, k = f"{name} ({k})", k + 1
        out.append(candidate)
    return out


def scenario_report(results: ScenarioResult | Sequence[ScenarioResult], *,
                    title: str | None = None, generated: pd.Timestamp | None = None,
                    colors: Mapping[str, str] | None = None) -> str:
    """Write the HTML report of one scenario or of a comparison of two to four.

    Parameters
    ----------
    results : ScenarioResult or sequence of ScenarioResult
        From :func:`riskcore.scenario.run_scenario`; one gives a scenario report (its
        benchmarks beside it), two to four a comparison (same-named scenarios get
        ``" (2)"``...).
    title : str, optional
        Heading; default the scenario name, or "Comparison of N scenarios".
    generated : timestamp, optional
        Date printed on the report; default now (UTC). Tests pass a fixed one.
    colors : mapping of str to str, optional
        Colour of each scenario or benchmark name in the charts (CSS colours); names not
        given take plotly's qualitative palette in order.

    Returns
    -------
    str
        A complete HTML document (UTF-8), readable offline: plotly.js is embedded once.

    Raises
    ------
    ParameterError
        For no result, more than :data:`MAX_COMPARED`, or an item that is not a
        ``ScenarioResult``.
    """
    from riskcore import __version__  # noqa: PLC0415

    items = [results] if isinstance(results, ScenarioResult) else list(results)
    if not 1 <= len(items) <= MAX_COMPARED:
        raise ParameterError(f"a report takes 1 to {MAX_COMPARED} scenarios; got {len(items)}")
    if not all(isinstance(r, ScenarioResult) for r in items):
        raise ParameterError("a report takes ScenarioResult objects (riskcore.run_scenario)")
    names = _unique([r.scenario.name for r in items])
    generated = pd.Timestamp.now(tz="UTC") if generated is None else pd.Timestamp(generated)
    palette = _palette(names, colors)
    figures = _Figures()
    single = len(items) == 1
    heading = title or (names[0] if single else f"Comparison of {len(items)} scenarios")
    body = [f"<h1>{_e(heading)}</h1>",
            f'<p class="meta">riskcore {_e(__version__)} · generated '
            f"{generated:%Y-%m-%d %H:%M} UTC · "
            + " · ".join(f'<span class="tag" style="background:{_e(palette[n])}"></span>'
                         f"{_e(n)} (made {r.scenario.created:%Y-%m-%d} with riskcore "
                         f"{_e(r.scenario.software_version)})"
                         for n, r in zip(names, items, strict=True)) + "</p>"]

    # settings
    settings = [_settings(r) for r in items]
    labels = list(dict.fromkeys(k for s in settings for k in s))
    rows, diff = [], []
    for label in labels:
        values = [s.get(label, "–") for s in settings]
        if all(v == "–" for v in values):
            continue
        rows.append([label, *values])
        diff.append(not single and len(set(values)) > 1)
    body.append("<h2>Settings</h2>")
    if not single:
        body.append(f'<p class="legend">Highlighted: the {sum(diff)} setting(s) that differ. '
                    "Numbers are decimals (0.05 = 5%).</p>")
    else:
        body.append('<p class="legend">Numbers are decimals (0.05 = 5%).</p>')
    body.append(_table(["Setting", *names], rows, diff=diff, text_columns=len(names) + 1,
                       kv=True))

    # key metrics
    body.append('<section class="page"><h2>Key metrics</h2>')
    metrics = [r.key_metrics() for r in items]
    body.append(_table(["", *names], [[label, *(_number(m[key], kind) for m in metrics)]
                                      for key, label, kind in _METRICS]))
    body.append('<p class="note">Volatility, diversification ratio (Σwσ / σp, Choueifaty & '
                "Coignard 2008) and effective number of bets (exponential of the entropy of the "
                "relative risk contributions, Meucci 2009) of the decision at the as-of date; "
                "the walk-forward run re-makes the same decision at each rebalance with the "
                "data known then, with the scenario's costs.</p></section>")

    # weights and risk
    body.append("<h2>Weights and risk contributions</h2>")
    body.append(_bars(items, names, palette, figures))
    for name, result in zip(names, items, strict=True):
        if not single:
            body.append(f"<h3>{_e(name)}</h3>")
        body.append(_weights_table(result))

    # walk-forward
    body.append('<section class="page"><h2>Walk-forward simulation</h2>')
    body.append(_curves(items, names, palette, figures))
    if single:  # the run beside its benchmarks
        runs = {names[0]: items[0].backtest, **items[0].benchmarks.runs}
        rows = [[key.replace("_", " "), *(_number(getattr(run.metrics, key), kind)
                                          for run in runs.values())]
                for key, kind in _RUN_METRICS]
        body.append(_table(["", *runs], rows))
    body.append("</section>")

    # stress
    body.append('<section class="page"><h2>Stress</h2>')
    body.append(_stress_tables(items, names))
    body.append("</section>")

    # data
    body.append('<section class="page"><h2>Data: provenance and quality</h2>')
    for name, result in zip(names, items, strict=True):
        if not single:
            body.append(f"<h3>{_e(name)}</h3>")
        body.append(_provenance(result))
    body.append("</section>")
    body.append(f'<p class="meta">Generated by riskcore {_e(__version__)} on '
                f"{generated:%Y-%m-%d %H:%M} UTC. Simulated results; not investment advice.</p>")

    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(heading)}</title><style>{_CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")
