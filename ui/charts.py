"""Plotly figure builders shared by the pages.

Figures are built from plain lists (not numpy arrays) so that the values can be read back from
the figure JSON in tests. Percent formatting happens here, at the edge; inputs are decimals.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

HEIGHT = 420


def _dates(index: pd.Index) -> list[str]:
    return [f"{t:%Y-%m-%d %H:%M}" if (t.hour or t.minute) else f"{t:%Y-%m-%d}" for t in index]


def lines(frame: pd.DataFrame, *, title: str, y_title: str, percent: bool = True,
          log: bool = False) -> go.Figure:
    """One line per column of ``frame`` against its DatetimeIndex."""
    fig = go.Figure()
    x = _dates(frame.index)
    for name in frame.columns:
        values = [None if pd.isna(v) else float(v) for v in frame[name]]
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines", name=str(name)))
    fig.update_layout(title=title, height=HEIGHT, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.15}, margin={"t": 50, "b": 10})
    fig.update_yaxes(title=y_title, tickformat=".0%" if percent else None,
                     type="log" if log else "linear", dtick=1 if log else None)
    return fig


def heatmap(matrix: pd.DataFrame, *, title: str) -> go.Figure:
    """Correlation heatmap in the row/column order of ``matrix`` (-1 blue .. +1 red)."""
    labels = [str(c) for c in matrix.columns]
    z = [[float(v) for v in row] for row in matrix.to_numpy()]
    fig = go.Figure(go.Heatmap(
        z=z, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu_r",
        text=[[f"{v:.2f}" for v in row] for row in z], texttemplate="%{text}",
        hovertemplate="%{y} / %{x}: %{z:.2f}<extra></extra>",
    ))
    fig.update_layout(title=title, height=max(HEIGHT, 32 * len(labels) + 120),
                      yaxis={"autorange": "reversed"}, margin={"t": 50})
    return fig


def grouped_bars(frame: pd.DataFrame, *, title: str, percent: bool = True) -> go.Figure:
    """Draw grouped bars: one group per row (asset), one bar colour per column."""
    fig = go.Figure()
    x = [str(i) for i in frame.index]
    for name in frame.columns:
        values = [float(v) for v in frame[name].fillna(0.0)]
        fig.add_trace(go.Bar(x=x, y=values, name=str(name),
                             texttemplate="%{y:.1%}" if percent else None))
    fig.update_layout(title=title, barmode="group", height=HEIGHT,
                      legend={"orientation": "h", "y": -0.15}, margin={"t": 50})
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def availability(prices: pd.DataFrame, *, title: str = "Price history per asset") -> go.Figure:
    """Horizontal bars from each asset's first to last price, so listing dates are visible."""
    fig = go.Figure()
    for name in prices.columns:
        observed = prices[name].dropna()
        if observed.empty:
            continue
        fig.add_trace(go.Scatter(
            x=[f"{observed.index[0]:%Y-%m-%d}", f"{observed.index[-1]:%Y-%m-%d}"],
            y=[str(name), str(name)], mode="lines+markers", line={"width": 10},
            name=str(name), showlegend=False,
            hovertemplate=f"{name}: %{{x}}<extra></extra>",
        ))
    fig.update_layout(title=title, height=max(250, 28 * prices.shape[1] + 100),
                      margin={"t": 50}, yaxis={"autorange": "reversed"})
    return fig


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


def equity(curves: pd.DataFrame, *, markers: pd.DatetimeIndex, title: str) -> go.Figure:
    """Equity curves on a log scale, rebalance dates of the first curve marked."""
    fig = lines(curves, title=title, y_title="USD (log scale)", percent=False, log=True)
    fig.update_yaxes(dtick=None)
    first = curves.iloc[:, 0]
    marked = first.reindex(markers).dropna()
    fig.add_trace(go.Scatter(
        x=_dates(marked.index), y=[float(v) for v in marked], mode="markers",
        name="rebalance", marker={"symbol": "line-ns-open", "size": 9, "color": "#888"},
    ))
    return fig


def stacked_area(frame: pd.DataFrame, *, title: str) -> go.Figure:
    """Stacked areas of decimal shares over time (weights)."""
    fig = go.Figure()
    x = _dates(frame.index)
    for name in frame.columns:
        fig.add_trace(go.Scatter(x=x, y=[float(v) for v in frame[name].fillna(0.0)],
                                 name=str(name), stackgroup="one", mode="lines",
                                 line={"width": 0.5}))
    fig.update_layout(title=title, height=HEIGHT, hovermode="x unified",
                      legend={"orientation": "h", "y": -0.15}, margin={"t": 50})
    fig.update_yaxes(tickformat=".0%", range=[0, 1])
    return fig


def tradeoff(sweep: pd.DataFrame, *, x: str, x_title: str, title: str) -> go.Figure:
    """Threshold sweep: ``x`` (costs or turnover) against the risk-balance error."""
    thresholds = [float(t) for t in sweep.index]
    custom = [[t, float(r), float(d), int(n)] for t, r, d, n in zip(
        thresholds, sweep["annualized_return"], sweep["max_drawdown"], sweep["n_rebalances"],
        strict=True)]
    fig = go.Figure(go.Scatter(
        x=[float(v) for v in sweep[x]], y=[float(v) for v in sweep["risk_balance_error"]],
        mode="lines+markers", customdata=custom, name="threshold",
        marker={"color": thresholds, "colorscale": "Viridis", "size": 9,
                "colorbar": {"title": "threshold", "tickformat": ".0%"}},
        hovertemplate="threshold %{customdata[0]:.1%}<br>" + x_title + " %{x:,.2f}<br>"
        "risk-balance error %{y:.3f}<br>annualized return %{customdata[1]:.1%}<br>"
        "max drawdown %{customdata[2]:.1%}<br>rebalances %{customdata[3]}<extra></extra>",
    ))
    fig.update_layout(title=title, height=HEIGHT, margin={"t": 50})
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title="risk-balance error (avg. distance of risk shares from budget)")
    return fig
