"""Panel 8 drawn: the optimization history and parallel coordinates of the searched values."""

from __future__ import annotations

from typing import Any

from dashboards.format import value
from dashboards.panels.history import HistoryInfo
from dashboards.render.style import OUTCOME_COLOURS, base_layout

__all__ = ["history_figures"]

TITLE = "The search: history and parallel coordinates"
HOW = ("Top: each search trial's objective in the order it started (pruned ones at the epoch they stopped), with the best "
       "so far. Bottom: one line per finished trial through its searched values, coloured by its objective; drag along an "
       "axis to keep only the lines through a range.")


def history_figures(info: HistoryInfo) -> list[Any]:
    import plotly.graph_objects as go

    traces = []
    for outcome in [o for o in OUTCOME_COLOURS if any(p.outcome == o for p in info.points)]:
        pts = [p for p in info.points if p.outcome == outcome and p.objective is not None]
        traces.append(go.Scatter(x=[p.order for p in pts], y=[100 * (p.objective or 0.0) for p in pts], mode="markers", name=outcome,
                                 marker={"color": OUTCOME_COLOURS[outcome], "size": 9}, text=[p.name for p in pts],
                                 hovertemplate="%{text}<br>%{y:.1f}%<extra></extra>"))
    best = [None if p.best_so_far is None else 100 * p.best_so_far for p in info.points]
    traces.append(go.Scatter(x=[p.order for p in info.points], y=best,
                             mode="lines", line={"shape": "hv", "color": "#264653"}, name="best so far"))
    figs = [go.Figure(data=traces, layout=base_layout(height=340, xaxis={"title": "trial (in order of start)"},
                                                      yaxis={"title": "objective (%)", "ticksuffix": "%"}))]
    if info.params and len(info.rows) >= 2:
        dims = []
        for p in info.params:
            vals = [row.get(p) for row, _ in info.rows]
            if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
                dims.append({"label": p, "values": vals})
            else:
                distinct = sorted({repr(v): v for v in vals}.items())
                code = {r: i for i, (r, _) in enumerate(distinct)}
                dims.append({"label": p, "values": [code[repr(v)] for v in vals], "tickvals": list(code.values()),
                             "ticktext": [value(v) for _, v in distinct]})
        dims.append({"label": "objective (%)", "values": [100 * obj for _, obj in info.rows]})
        figs.append(go.Figure(data=[go.Parcoords(dimensions=dims, line={"color": [100 * obj for _, obj in info.rows],
                                                                        "colorscale": "Viridis", "showscale": True})],
                              layout=base_layout(height=380, margin={"l": 60, "r": 60, "t": 60, "b": 40})))
    return figs
