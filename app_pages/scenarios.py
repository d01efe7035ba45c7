"""Scenarios: keep named decisions, compare two to four side by side, save, load, report."""

import io
import json

import pandas as pd
import streamlit as st

import riskcore
from riskcore import scenario as rs
from riskcore.export import to_csv_safe
from riskcore.metrics import drawdown
from riskcore.report import scenario_report
from riskcore.sweep import ERROR, KEY, METRIC_COLUMNS, read_results
from ui import charts
from ui.caching import data
from ui.data import fetch_yahoo
from ui.errors import shown_errors
from ui.scenario import apply_scenario, current_scenario
from ui.text import plain

st.title("Scenarios")
state = st.session_state
saved: dict[str, rs.Scenario] = state.setdefault("scenarios", {})
st.caption("A scenario is every setting of the dashboard (the decision of the Allocation page, "
           "the simulator's rule and costs, the Stress page's scenario) with a reference to its "
           "data. The address bar always holds the one on screen: copy it to share the view. "
           "Uploaded files cannot travel in a link; a link or file names them by content hash.")

# ---------------------------------------------------------------------- keep the current one
c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
name = c1.text_input("Save the current settings as", value=f"Scenario {len(saved) + 1}",
                     key="sc_name", max_chars=80)
if c2.button("Save", type="primary"):
    label = name.strip() or f"Scenario {len(saved) + 1}"
    with shown_errors("Cannot save: "):
        saved[label] = current_scenario(label)
    compared = [n for n in state.get("sc_compare", []) if n in saved and n != label]
    state["sc_compare"] = (compared + [label])[-4:]  # a new scenario joins the comparison

# ---------------------------------------------------------------------- load from a file
upload = st.file_uploader("Load a scenario file (JSON) or bundle (zip with its prices)",
                          type=["json", "zip"], key="sc_upload")
if upload is not None and state.get("sc_loaded") != upload.file_id:
    state["sc_loaded"] = upload.file_id
    raw = upload.getvalue()
    try:
        if upload.name.lower().endswith(".zip"):
            bundle = rs.load_bundle(raw)
            loaded = bundle.scenario
            state.setdefault("sc_bundles", {})[loaded.name] = bundle
        else:
            loaded = rs.scenario_from_json(raw)
    except riskcore.RiskcoreError as exc:  # nothing the user had is touched
        st.error(plain(f"{upload.name} was not loaded: {exc}"))
    else:
        saved[loaded.name] = loaded
        st.success(plain(f"Loaded {loaded.name!r} (saved by riskcore "
                         f"{loaded.software_version} on {loaded.created:%Y-%m-%d %H:%M} UTC). "
                         "Show it on every page with the button below."))

with st.expander("Open a sweep table (python -m riskcore sweep … --out results.parquet)"):
    table_file = st.file_uploader("Sweep results (Parquet)", type=["parquet"], key="sc_sweep")
    if table_file is not None:
        with shown_errors(f"{table_file.name}: "):
            sweep = read_results(io.BytesIO(table_file.getvalue()))
        failed = sweep[sweep[ERROR].notna() & (sweep[ERROR] != "None")]
        ran = sweep.drop(failed.index)
        varied = [c for c in sweep.columns if c not in (KEY, ERROR, *METRIC_COLUMNS)]
        metrics_there = [m for m in METRIC_COLUMNS if m in ran and ran[m].dtype.kind == "f"]
        st.caption(plain(f"{len(sweep)} grid points over {', '.join(varied) or 'no field'}; "
                         f"{len(failed)} failed."))  # field names come from the file
        if varied and metrics_there and not ran.empty:
            x1, x2, x3 = st.columns(3)
            x = x1.selectbox("Across", varied, key="sc_sweep_x")
            y = x2.selectbox("Figure", metrics_there, key="sc_sweep_y",
                             index=metrics_there.index("sharpe_ratio")
                             if "sharpe_ratio" in metrics_there else 0)
            rest = [c for c in varied if c != x]
            color = x3.selectbox("One line per", [None, *rest], key="sc_sweep_color",
                                 format_func=lambda c: "—" if c is None else c)
            st.plotly_chart(charts.sweep_points(ran, x=x, y=y, color=color,
                                                title=f"{y} across {x}"), key="chart_sweep")
        for _, row in failed.iterrows():
            st.caption(plain(f"Point {row.name}: {row[ERROR]}"))

if not saved:
    st.info("No scenario saved yet: set up the Allocation, Rebalancing simulator and Stress "
            "pages, then save the settings here under a name.")
    st.stop()

# ---------------------------------------------------------------------- manage one
st.subheader("Saved scenarios")
listing = pd.DataFrame([{
    "scenario": s.name, "method": s.spec.method, "risk measure": s.spec.risk_measure,
    "data": s.data.kind, "coins": "all" if s.data.assets is None else len(s.data.assets),
    "created (UTC)": f"{s.created:%Y-%m-%d %H:%M}"} for s in saved.values()])
charts.table(listing.set_index("scenario"))
m1, m2, m3 = st.columns(3, vertical_alignment="bottom")
chosen = m1.selectbox("Scenario", list(saved), key="sc_chosen")
scenario = saved[chosen]
new_name = m2.text_input("Rename to", value=chosen, key=f"sc_rename_{chosen}", max_chars=80)
if m3.button("Rename") and new_name.strip() and new_name.strip() != chosen:
    saved[new_name.strip()] = rs.Scenario(
        name=new_name.strip(), spec=scenario.spec, data=scenario.data,
        initial_value=scenario.initial_value, stress=scenario.stress,
        software_version=scenario.software_version, created=scenario.created)
    del saved[chosen]
    st.rerun()
b1, b2, b3, b4 = st.columns(4)


def _show(label: str) -> None:
    """Apply a saved scenario before the widgets of the next run are drawn."""
    state["sc_missing"] = apply_scenario(saved[label])


b1.button("Show on every page", type="primary", on_click=_show, args=(chosen,))
if state.get("sc_missing"):
    st.warning(plain("This scenario runs on uploaded files: upload "
                     + "; ".join(state.pop("sc_missing")) + " in the sidebar, then show it "
                     "again."))
if b2.button("Delete"):
    del saved[chosen]
    st.rerun()
b3.download_button("Download scenario (JSON)", rs.scenario_to_json(scenario),
                   file_name=f"{chosen}.scenario.json", mime="application/json")


def _source(s: rs.Scenario) -> rs.SourcePanel:
    """The prices of a scenario: its bundle, the demo, Yahoo (cached) or the matching uploads."""
    bundle = state.get("sc_bundles", {}).get(s.name)
    if bundle is not None and bundle.scenario.data == s.data:
        return rs.SourcePanel(bundle.prices, bundle.volume, "Bundle: " + s.name)
    files = list((state.get("uploads") or {}).items())
    if s.data.kind == "upload":
        files, _ = rs.match_files(s.data, files)
    return _load_source(s.data, tuple(files))


@data(show_spinner="Loading the scenario's data…", max_entries=8)
def _load_source(reference: rs.DataReference, files: tuple) -> rs.SourcePanel:
    return rs.load_source(reference, files=list(files), fetch=fetch_yahoo)


@data(show_spinner="Running the scenario…", max_entries=16)
def _run(scenario_json: str, _source: rs.SourcePanel, source_key: str) -> rs.ScenarioResult:
    s = rs.scenario_from_json(scenario_json)
    return rs.run_scenario(s, rs.scenario_dataset(s, _source))


def run(s: rs.Scenario) -> rs.ScenarioResult:
    """Run a scenario on its own data (cached on the scenario and the data)."""
    source = _source(s)
    key = str(pd.util.hash_pandas_object(source.prices, index=True).sum())
    return _run(rs.scenario_to_json(s), source, key)


with shown_errors(f"{chosen}: "):
    bundle_source = _source(scenario)
b4.download_button("Download bundle (zip: scenario and prices)",
                   rs.save_bundle(scenario, bundle_source.prices, bundle_source.volume),
                   file_name=f"{chosen}.bundle.zip", mime="application/zip",
                   help="For a colleague without your files: the prices travel inside.")

# ---------------------------------------------------------------------- compare
st.subheader("Compare")
state["sc_compare"] = [n for n in state.get("sc_compare", list(saved)[-3:]) if n in saved]
picked = st.multiselect("Scenarios side by side (two to four)", list(saved), max_selections=4,
                        key="sc_compare")
if not picked:
    st.stop()
results, names = [], []
for label in picked:
    try:
        results.append(run(saved[label]))
        names.append(label)
    except riskcore.RiskcoreError as exc:
        st.warning(plain(f"{label}: {exc}"))
if not results:
    st.stop()

settings = pd.DataFrame({n: {k: json.dumps(v) if isinstance(v, list | dict) else v
                             for k, v in json.loads(r.scenario.spec.to_json()).items()
                             if k != "schema_version"} for n, r in zip(names, results,
                                                                        strict=True)})
differs = settings.astype(str).nunique(axis=1) > 1
st.markdown("**Settings** (rows that differ are highlighted)")
st.dataframe(settings.astype(str).style.apply(
    lambda row: ["background-color: #fff3bf" if differs[row.name] else "" for _ in row],
    axis=1), width="stretch")

metrics = pd.DataFrame({n: r.key_metrics() for n, r in zip(names, results, strict=True)})
percent = ("portfolio_volatility", "annualized_return", "annualized_volatility",
           "max_drawdown", "turnover", "annualized_turnover", "cost_drag")
shown = metrics.copy().astype(object)
for row in metrics.index:
    fmt = "{:.1%}" if row in percent else ("{:,.0f}" if row == "costs_paid" else "{:.2f}")
    shown.loc[row] = [fmt.format(v) for v in metrics.loc[row]]
st.markdown("**Key figures** (decision at the as-of date; walk-forward from the window start)")
charts.table(shown)

weights = pd.DataFrame({n: r.portfolio.weights for n, r in zip(names, results, strict=True)})
risk = pd.DataFrame({n: r.portfolio.relative_risk_contributions
                     for n, r in zip(names, results, strict=True)})
budget = pd.DataFrame({f"{n} budget": r.portfolio.budget for n, r in zip(names, results,
                                                                        strict=True)
                       if r.portfolio.budget is not None})
left, right = st.columns(2)
left.plotly_chart(charts.grouped_bars(weights.fillna(0.0), title="Weights"),
                  key="chart_sc_weights")
right.plotly_chart(charts.grouped_bars(pd.concat([risk, budget], axis=1).fillna(0.0),
                                       title="Relative risk contributions and budgets"),
                   key="chart_sc_risk")
equity = pd.DataFrame({n: r.backtest.equity for n, r in zip(names, results, strict=True)})
equity = equity.dropna(how="all")
st.plotly_chart(charts.lines(equity, title="Equity of the walk-forward runs",
                             y_title="USD (log scale)", percent=False, log=True, coins=False),
                key="chart_sc_equity")
st.plotly_chart(charts.lines(equity.apply(drawdown), title="Drawdown", y_title="drawdown",
                             coins=False), key="chart_sc_drawdown")
stress = pd.concat({n: r.stress[["volatility", "value_at_risk", "expected_shortfall"]]
                    for n, r in zip(names, results, strict=True)}, axis=1)
stress.columns = [f"{n}: {column.replace('_', ' ')}" for n, column in stress.columns]
st.markdown("**Stress** (normal VaR and expected shortfall at 99%, one period)")
charts.table(stress, percent=tuple(stress.columns))
for n, r in zip(names, results, strict=True):
    for note in r.notes:
        st.caption(plain(f"{n}: {note}"))

r1, r2 = st.columns(2)
r1.download_button("HTML report of this comparison", scenario_report(results),
                   file_name="scenarios_report.html", mime="text/html", type="primary",
                   help="One self-contained file: interactive charts, settings, data, weights, "
                        "walk-forward metrics and stress; readable offline, prints to A4.")
r2.download_button("Key figures (CSV)", to_csv_safe(metrics, index_label="figure"),
                   file_name="scenarios.csv", mime="text/csv")
