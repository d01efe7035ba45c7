"""Plotly figure builders shared by the pages.

Figures are built from numpy arrays as plain trace and layout dicts (:func:`figure`), without
plotly's property-by-property validation on every interaction (the tests validate every builder
once); arrays are sent base64-encoded, dates as milliseconds since the epoch (a date axis reads
them; strings would be sent as JSON lists). Time series are reduced to what a screen shows: at
most ``MAX_POINTS`` points per trace, chosen by MinMaxLTTB (tsdownsample), which keeps every peak
and trough. Gaps stay gaps (a coin that lists late starts late; a hole in the middle breaks the
line). Percent formatting happens here, at the edge; inputs are decimals. Every per-coin trace
takes its colour from ``ui.colors`` so a coin looks the same on every page.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from tsdownsample import MinMaxLTTBDownsampler

from ui.caching import shared
from ui.colors import NEUTRAL, colors_for

HEIGHT = 420
#: Points per time-series trace sent to the browser (a chart is about 1,000 pixels wide) ...
MAX_POINTS = 1000
#: ... and per figure, so that 30 coins weigh what 10 do (about 23 bytes of JSON per point).
FIGURE_POINTS = 10_000
#: Fewest points per trace however many traces there are.
MIN_TRACE_POINTS = 250
#: Range-selector buttons of every time-series chart.
RANGE_BUTTONS = (
    {"count": 1, "label": "1M", "step": "month", "stepmode": "backward"},
    {"count": 6, "label": "6M", "step": "month", "stepmode": "backward"},
    {"count": 1, "label": "1Y", "step": "year", "stepmode": "backward"},
    {"count": 1, "label": "YTD", "step": "year", "stepmode": "todate"},
    {"label": "all", "step": "all"},
)
#: Bar patterns that tell the columns of a grouped bar chart apart when bars take coin colours.
PATTERNS = ("", "/", ".", "x", "\\", "-", "|", "+")
LEGEND = {"orientation": "h", "y": -0.15, "itemclick": "toggleothers",
          "itemdoubleclick": "toggle"}


def figure(traces: list[dict], layout: dict) -> go.Figure:
    """Build a figure from plain trace and layout dicts, not validated property by property.

    Parameters
    ----------
    traces : list of dict
        Trace dicts in plotly's canonical form, each with its ``"type"``.
    layout : dict
        Layout in canonical form (titles as ``{"text": ...}``).

    Returns
    -------
    plotly.graph_objects.Figure
        Built in a few milliseconds instead of tens: plotly's validators copy and check every
        element on each interaction. What the builders send is checked once, in the tests, by
        comparing it with plotly's validated form of the same figure.
    """
    return go.Figure({"data": traces, "layout": layout}, _validate=False)


def time_values(index: pd.DatetimeIndex) -> np.ndarray:
    """Dates as float64 milliseconds since 1970-01-01 (wall-clock time; what a date axis reads).

    A float array is sent base64-encoded; date strings would be sent, and converted, as JSON
    lists. Time zones are dropped (the dates are shown as stamped).
    """
    values = pd.DatetimeIndex(index)
    if values.tz is not None:
        values = values.tz_localize(None)
    return values.to_numpy(dtype="datetime64[ms]").astype(np.int64).astype(np.float64)


def _intraday(index: pd.DatetimeIndex) -> bool:
    stamps = pd.DatetimeIndex(index)
    return bool(len(stamps)) and bool((stamps != stamps.normalize()).any())


def _value_format(percent: bool) -> str:
    return ".1%" if percent else ",.2f"


def _hover(percent: bool) -> str:
    return f"%{{fullData.name}}: %{{y:{_value_format(percent)}}} (%{{x|%Y-%m-%d}})<extra></extra>"


def _runs(valid: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of each run of True in ``valid``."""
    edges = np.diff(np.concatenate(([0], valid.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def downsample_positions(values: np.ndarray, max_points: int = MAX_POINTS, *,
                         recent: int = 0) -> np.ndarray:
    """Row positions to draw for one series: every finite point, or MinMaxLTTB's choice.

    Parameters
    ----------
    values : ndarray of shape (n_periods,)
        The series (NaN where the coin has no value).
    max_points : int, default MAX_POINTS
        Points to keep (plus each run's maximum and minimum, when LTTB did not keep them).
    recent : int, default 0
        The last ``recent`` periods are kept at full resolution (at most ``max_points // 2``),
        so that zooming on the latest month shows every day; the earlier history shares the
        rest of the budget.

    Returns
    -------
    ndarray of int
        Sorted positions of finite values. Each run of finite values keeps its first and last
        point and a share of the budget proportional to its length; inside a run the points
        are chosen by MinMaxLTTB (Van Der Donckt et al. 2023, "MinMaxLTTB: Leveraging MinMax-
        Preselection to Scale LTTB"), which keeps the visual shape; each run's maximum and
        minimum are always kept.
    """
    finite = np.isfinite(values)
    if int(finite.sum()) <= max_points:
        return np.flatnonzero(finite)
    cut = len(values) - min(max(recent, 0), max_points // 2)
    tail = np.flatnonzero(finite[cut:]) + cut
    head = _reduce(values[:cut], max_points - tail.size)
    return np.union1d(head, tail)


def _reduce(values: np.ndarray, max_points: int) -> np.ndarray:
    """MinMaxLTTB positions of each finite run of ``values``, ``max_points`` shared out."""
    finite = np.isfinite(values)
    total = int(finite.sum())
    if total <= max_points:
        return np.flatnonzero(finite)
    picked = [np.zeros(0, dtype=np.int64)]
    for start, stop in _runs(finite):
        length = stop - start
        n_out = max(3, int(max_points * length / total))
        if length <= n_out:
            picked.append(np.arange(start, stop))
            continue
        x = np.arange(length, dtype=np.int64)
        run = np.ascontiguousarray(values[start:stop])  # a frame's column may be strided
        chosen = MinMaxLTTBDownsampler().downsample(x, run, n_out=n_out)
        # LTTB may skip a run's highest or lowest point by a bin: the spike is always drawn
        extremes = [int(np.argmax(run)), int(np.argmin(run))]
        picked.append(start + np.concatenate((np.asarray(chosen, dtype=np.int64), extremes)))
    return np.unique(np.concatenate(picked))


def _trace_xy(dates: np.ndarray, values: np.ndarray,
              max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """Downsampled x and y of one trace, with a NaN at the first missing date of each gap.

    The last quarter of the budget goes to the latest periods at full resolution (about six
    months of daily data): the 1M and 6M range buttons then show every day.
    """
    keep = downsample_positions(values, max_points, recent=max_points // 4)
    if keep.size == 0:
        return dates[:0], values[:0]
    gaps = keep[:-1][np.diff(keep) > 1]
    gaps = gaps[~np.isfinite(values[gaps + 1])] + 1  # a real hole, not a downsampling step
    rows = np.sort(np.concatenate((keep, gaps)))
    return dates[rows], values[rows]


def points_per_trace(n_traces: int, max_points: int | None = None) -> int:
    """Point budget of each trace: ``max_points`` if given, else ``MAX_POINTS`` shared out.

    Without ``max_points`` a figure holds at most ``FIGURE_POINTS`` points (``MAX_POINTS`` per
    trace up to 10 traces, fewer beyond, never below ``MIN_TRACE_POINTS``).
    """
    if max_points is not None:
        return max_points
    return max(MIN_TRACE_POINTS, min(MAX_POINTS, FIGURE_POINTS // max(1, n_traces)))


def _time_axis(index: pd.DatetimeIndex) -> dict:
    """Layout of a date x-axis: range buttons, day (or minute) hover, no range slider."""
    hover = "%Y-%m-%d %H:%M" if _intraday(index) else "%Y-%m-%d"
    return {"type": "date", "hoverformat": hover,
            "rangeselector": {"buttons": [dict(b) for b in RANGE_BUTTONS]},
            "rangeslider": {"visible": False}}


def _title(text: str | None) -> dict:
    return {"text": text}


def _clip(values: np.ndarray, quantile: float, log: bool) -> tuple[list, dict] | None:
    """Return the y-axis range capped at ``quantile`` of all values and the note saying so.

    The data are not altered; None when no value is above the cap.
    """
    finite = values[np.isfinite(values)]
    if log:
        finite = finite[finite > 0]
    if finite.size == 0:
        return None
    top = float(np.quantile(finite, quantile))
    above = int((finite > top).sum())
    if above == 0:
        return None
    bottom = float(finite.min())
    if log:
        span = [float(np.log10(bottom)), float(np.log10(top)) + 0.05]
    else:
        span = [min(0.0, bottom), top * 1.05 if top > 0 else top]
    return span, {
        "text": (f"y-axis capped at the {quantile:.0%} quantile: {above:,} of {finite.size:,} "
                 "points above (double-click the chart to see all)"),
        "xref": "paper", "yref": "paper", "x": 1.0, "y": 1.0, "xanchor": "right",
        "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": "#666"}}


@shared(show_spinner=False, max_entries=64)
def _reduced(frame: pd.DataFrame, budget: int, clip_quantile: float | None, log: bool):
    """Each column's downsampled (x, y), the y-axis cap and the x-axis layout of a frame.

    The expensive part of :func:`lines` (MinMaxLTTB, the quantile), cached on the frame's
    content: a rerun with the same data only dresses the figure.
    """
    dates = time_values(frame.index)
    values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    xy = [_trace_xy(dates, values[:, j], budget) for j in range(frame.shape[1])]
    clip = _clip(values, clip_quantile, log) if clip_quantile is not None and clip_quantile < 1 \
        else None
    return xy, clip, _time_axis(frame.index)


def _fresh(obj):
    """Copy nested dicts and lists (arrays shared): cached parts must not be edited."""
    if isinstance(obj, dict):
        return {k: _fresh(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_fresh(v) for v in obj]
    return obj


def lines(frame: pd.DataFrame, *, title: str, y_title: str, percent: bool = True,
          log: bool = False, clip_quantile: float | None = None, coins: bool = True,
          max_points: int | None = None) -> go.Figure:
    """One line per column of ``frame`` against its DatetimeIndex, downsampled for the screen.

    Parameters
    ----------
    frame : DataFrame of shape (n_periods, n_series)
        Values by date (decimals when ``percent``); NaN where a series has no value.
    title, y_title : str
        Chart title and y-axis title.
    percent : bool, default True
        Format axis and hover as percent (``12.3%``); otherwise ``1,234.56``.
    log : bool, default False
        Logarithmic y-axis (non-positive values are not drawn).
    clip_quantile : float in (0, 1], optional
        Cap the y-axis at this quantile of all values (e.g. 0.99) so that one coin's spike does
        not flatten the others; a note above the chart says how many points are above.
        The data are not changed: hover and double-click (autoscale) show every value.
    coins : bool, default True
        Columns are coins: each takes its session colour (``ui.colors``). False for other
        series (strategies, pairs), which take the plotly colour sequence.
    max_points : int, optional
        Points per trace sent to the browser; default ``points_per_trace(n_columns)``
        (1,000 up to 10 columns, 10,000 per figure beyond).

    Returns
    -------
    plotly.graph_objects.Figure
        Range selector (1M, 6M, 1Y, YTD, all); clicking a legend entry isolates that series,
        double-clicking toggles it.
    """
    if clip_quantile is not None and not 0 < clip_quantile <= 1:
        raise ValueError(f"clip_quantile is {clip_quantile!r}; allowed: a number in (0, 1]")
    colors = colors_for(frame.columns) if coins else [None] * frame.shape[1]
    budget = points_per_trace(frame.shape[1], max_points)
    xy, clip, xaxis = _reduced(frame, budget, clip_quantile, log)
    hover = _hover(percent)
    traces = []
    for j, name in enumerate(frame.columns):
        x, y = xy[j]
        line = {"width": 1.5} if colors[j] is None else {"color": colors[j], "width": 1.5}
        traces.append({"type": "scatter", "x": x, "y": y, "mode": "lines", "name": str(name),
                       "line": line, "hovertemplate": hover})
    percent_ticks = ".2~%" if log else ".0%"  # a log axis reaches 0.1% (stablecoins)
    yaxis = {"title": _title(y_title), "type": "log" if log else "linear"}
    if percent:
        yaxis["tickformat"] = percent_ticks
    if log and not percent:
        yaxis["dtick"] = 1
    layout = {"title": _title(title), "height": HEIGHT, "hovermode": "x unified",
              "legend": dict(LEGEND), "margin": {"t": 50, "b": 10}, "yaxis": yaxis,
              "xaxis": _fresh(xaxis)}
    if clip is not None:
        yaxis["range"] = list(clip[0])
        layout["annotations"] = [_fresh(clip[1])]
    return figure(traces, layout)


def heatmap(matrix: pd.DataFrame, *, title: str) -> go.Figure:
    """Correlation heatmap in the row/column order of ``matrix`` (-1 blue .. +1 red)."""
    labels = np.array([str(c) for c in matrix.columns])
    z = matrix.to_numpy(dtype=np.float64, na_value=np.nan)
    trace = {"type": "heatmap", "z": z, "x": labels, "y": labels, "zmin": -1, "zmax": 1,
             "colorscale": _colorscale("RdBu_r"), "texttemplate": "%{z:.2f}",
             "hovertemplate": "%{y} / %{x}: %{z:.2f}<extra></extra>"}
    layout = {"title": _title(title), "height": max(HEIGHT, 32 * len(labels) + 120),
              "yaxis": {"autorange": "reversed"}, "margin": {"t": 50}}
    return figure([trace], layout)


def _colorscale(name: str) -> list[list]:
    """Return a named plotly colour scale as the [[position, colour], ...] list plotly.js reads."""
    from _plotly_utils.basevalidators import ColorscaleValidator

    return [list(step) for step in ColorscaleValidator("colorscale", "").validate_coerce(name)]


def grouped_bars(frame: pd.DataFrame, *, title: str, percent: bool = True,
                 coins: bool = True) -> go.Figure:
    """Draw grouped bars: one group per row, one bar per column.

    With ``coins=True`` the rows are coins: every bar takes its coin's session colour and the
    columns are told apart by a pattern (solid, hatched, dotted, ...). With ``coins=False``
    (rows are scenarios or methods) each column has its own colour.
    """
    x = np.array([str(i) for i in frame.index])
    row_colors = colors_for(frame.index) if coins else None
    fmt = _value_format(percent)
    traces = []
    for j, name in enumerate(frame.columns):
        y = frame[name].fillna(0.0).to_numpy(dtype=np.float64)
        trace = {"type": "bar", "x": x, "y": y, "name": str(name),
                 "hovertemplate": f"%{{x}}, {name}: %{{y:{fmt}}}<extra></extra>"}
        if coins:
            trace["marker"] = {"color": list(row_colors), "pattern": {
                "shape": PATTERNS[j % len(PATTERNS)], "fillmode": "overlay",
                "fgcolor": "rgba(255,255,255,0.85)", "solidity": 0.35}}
        if percent:
            trace["texttemplate"] = f"%{{y:{fmt}}}"
        traces.append(trace)
    layout = {"title": _title(title), "barmode": "group", "height": HEIGHT,
              "legend": dict(LEGEND), "margin": {"t": 50}}
    if percent:
        layout["yaxis"] = {"tickformat": ".0%"}
    return figure(traces, layout)


def availability(prices: pd.DataFrame, *, title: str = "Price history per asset") -> go.Figure:
    """Horizontal bars from each asset's first to last price, so listing dates are visible."""
    colors = colors_for(prices.columns)
    traces = []
    for j, name in enumerate(prices.columns):
        observed = prices[name].dropna()
        if observed.empty:
            continue
        traces.append({
            "type": "scatter", "x": time_values(observed.index[[0, -1]]),
            "y": np.array([str(name), str(name)]), "mode": "lines+markers",
            "line": {"width": 10, "color": colors[j]}, "name": str(name), "showlegend": False,
            "hovertemplate": f"{name}: %{{x|%Y-%m-%d}}<extra></extra>",
        })
    layout = {"title": _title(title), "height": max(250, 28 * prices.shape[1] + 100),
              "margin": {"t": 50}, "yaxis": {"autorange": "reversed"},
              "xaxis": {"type": "date"}}
    return figure(traces, layout)


def table(frame: pd.DataFrame, *, percent: tuple[str, ...] = (), max_rows: int = 30,
          **column_config) -> None:
    """Show a table with dates as YYYY-MM-DD and ``percent`` columns (decimals) as percent.

    Every row is visible up to ``max_rows``; longer tables scroll.
    """
    import streamlit as st

    config: dict = {}
    for name in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[name]):
            config[name] = st.column_config.DatetimeColumn(name, format="YYYY-MM-DD")
    for name in percent:
        config[name] = st.column_config.NumberColumn(name, format="percent")
    config.update(column_config)
    height = 35 * (min(len(frame), max_rows) + 1) + 3
    if isinstance(frame.index, pd.DatetimeIndex):
        frame = frame.set_axis(frame.index.strftime("%Y-%m-%d"))
    st.dataframe(frame, column_config=config, height=height,
                 hide_index=isinstance(frame.index, pd.RangeIndex))


def equity(curves: pd.DataFrame, *, markers: pd.DatetimeIndex, title: str,
           max_points: int | None = None) -> go.Figure:
    """Equity curves (one per strategy) on a log scale, rebalance dates of the first marked."""
    fig = lines(curves, title=title, y_title="USD (log scale)", percent=False, log=True,
                coins=False, max_points=max_points)
    fig.update_yaxes(dtick=None)
    first = curves.iloc[:, 0]
    marked = first.reindex(markers).dropna()
    fig.add_trace(marker_trace(marked, name="rebalance", symbol="line-ns-open", color=NEUTRAL,
                               hover="rebalance %{x|%Y-%m-%d}: %{y:,.2f}<extra></extra>"))
    return fig


def marker_trace(marked: pd.Series, *, name: str, symbol: str, color: str,
                 hover: str) -> dict:
    """Return a trace dict of markers at the dates of ``marked``, for a time-series figure.

    At most ``MAX_POINTS`` markers, evenly thinned (a marker per pixel column at most).
    """
    if len(marked) > MAX_POINTS:
        marked = marked.iloc[np.linspace(0, len(marked) - 1, MAX_POINTS).astype(int)]
    return {"type": "scatter", "x": time_values(marked.index),
            "y": marked.to_numpy(dtype=np.float64), "mode": "markers", "name": name,
            "marker": {"symbol": symbol, "size": 9, "color": color}, "hovertemplate": hover}


def stacked_area(frame: pd.DataFrame, *, title: str,
                 max_points: int | None = None) -> go.Figure:
    """Stacked areas of decimal shares over time (weights), one colour per coin.

    The traces share their dates (stacking needs them aligned): the union of each column's
    MinMaxLTTB choice of ``max_points // n_columns`` points (at least 64); ``max_points``
    defaults to ``MAX_POINTS``.
    """
    max_points = MAX_POINTS if max_points is None else max_points
    values = frame.fillna(0.0).to_numpy(dtype=np.float64)
    dates = time_values(frame.index)
    if len(frame) > max_points and frame.shape[1]:
        per_column = max(64, max_points // frame.shape[1])
        rows = np.unique(np.concatenate(
            [downsample_positions(values[:, j], per_column) for j in range(frame.shape[1])]
            + [np.array([0, len(frame) - 1])]))
        values, dates = values[rows], dates[rows]
    colors = colors_for(frame.columns)
    traces = [{"type": "scatter", "x": dates, "y": np.ascontiguousarray(values[:, j]),
               "name": str(name), "stackgroup": "one", "mode": "lines",
               "line": {"width": 0.5, "color": colors[j]}, "hovertemplate": _hover(True)}
              for j, name in enumerate(frame.columns)]
    layout = {"title": _title(title), "height": HEIGHT, "hovermode": "x unified",
              "legend": dict(LEGEND), "margin": {"t": 50},
              "yaxis": {"tickformat": ".0%", "range": [0, 1]}, "xaxis": _time_axis(frame.index)}
    return figure(traces, layout)


def tradeoff(sweep: pd.DataFrame, *, x: str, x_title: str, title: str) -> go.Figure:
    """Threshold sweep: ``x`` (costs or turnover) against the risk-balance error."""
    thresholds = sweep.index.to_numpy(dtype=np.float64)
    custom = np.column_stack([thresholds, sweep["annualized_return"].to_numpy(dtype=float),
                              sweep["max_drawdown"].to_numpy(dtype=float),
                              sweep["n_rebalances"].to_numpy(dtype=float)])
    trace = {
        "type": "scatter", "x": sweep[x].to_numpy(dtype=np.float64),
        "y": sweep["risk_balance_error"].to_numpy(dtype=np.float64),
        "mode": "lines+markers", "customdata": custom, "name": "threshold",
        "marker": {"color": thresholds, "colorscale": _colorscale("Viridis"), "size": 9,
                   "colorbar": {"title": _title("threshold"), "tickformat": ".0%"}},
        "hovertemplate": "threshold %{customdata[0]:.1%}<br>" + x_title + " %{x:,.2f}<br>"
        "risk-balance error %{y:.3f}<br>annualized return %{customdata[1]:.1%}<br>"
        "max drawdown %{customdata[2]:.1%}<br>rebalances %{customdata[3]}<extra></extra>",
    }
    layout = {"title": _title(title), "height": HEIGHT, "margin": {"t": 50},
              "xaxis": {"title": _title(x_title)},
              "yaxis": {"title": _title("risk-balance error (avg. distance of risk shares "
                                        "from budget)")}}
    return figure([trace], layout)


def sweep_points(table: pd.DataFrame, *, x: str, y: str, color: str | None,
                 title: str) -> go.Figure:
    """One marker per grid point of a sweep table: ``y`` against ``x``, a line per ``color``.

    ``table`` is :func:`riskcore.sweep.read_results`; points whose run failed are left out
    (the page lists them).
    """
    groups = [(None, table)] if color is None else list(table.groupby(color, sort=True))
    traces = []
    for value, part in groups:
        part = part.sort_values(x)
        traces.append({
            "type": "scatter", "x": part[x].to_numpy(), "y": part[y].to_numpy(dtype=float),
            "mode": "lines+markers", "name": y if value is None else f"{color} = {value}",
            "hovertemplate": f"{x} %{{x}}<br>{y} %{{y:.4g}}<extra></extra>"})
    layout = {"title": _title(title), "height": HEIGHT, "margin": {"t": 50},
              "xaxis": {"title": _title(x)}, "yaxis": {"title": _title(y)}}
    return figure(traces, layout)
