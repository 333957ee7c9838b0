"""Panel 6 drawn: every trial's validation accuracy per epoch; a menu recolours the curves by a
parameter; line style tells how a trial ended, marker size the epoch's image size."""

from __future__ import annotations

from typing import Any

from dashboards.format import value
from dashboards.panels.curves import Curve, CurvesInfo
from dashboards.render.style import OUTCOME_COLOURS, base_layout

__all__ = ["colours_for", "curves_figures"]

TITLE = "Learning curves"
HOW = ("Validation accuracy after each epoch, one line per trial (dotted: confirmation runs). Pick what colours them in the "
       "menu; a bigger marker is a bigger training image (progressive resizing), and the line ends where a trial stopped: "
       "dashed when pruned, dash-dot when stopped by the budget.")
DASH = {"finished": "solid", "pruned": "dash", "budget": "dashdot", "failed": "longdashdot", "running": "solid", "unknown": "solid"}
PALETTE = (("#1f77b4", "blue"), ("#ff7f0e", "orange"), ("#2ca02c", "green"), ("#d62728", "red"), ("#9467bd", "purple"),
           ("#8c564b", "brown"), ("#e377c2", "pink"), ("#7f7f7f", "grey"), ("#bcbd22", "olive"), ("#17becf", "cyan"))
MISSING = "#c8c8c8"


def colours_for(curves: tuple[Curve, ...], key: str) -> tuple[list[str], str]:
    """A colour per curve for ``key`` and the menu label that explains the mapping."""
    from plotly.colors import sample_colorscale

    vals = [c.values.get(key) for c in curves]
    if key == "outcome":
        return [OUTCOME_COLOURS.get(str(v), MISSING) for v in vals], "colour: outcome"
    nums = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool)]
    distinct = dict(sorted({repr(v): v for v in vals if v is not None}.items()))
    if nums and len(nums) == sum(v is not None for v in vals) and len(set(nums)) > 2:
        lo, hi = min(nums), max(nums)
        span = (hi - lo) or 1.0
        scale = sample_colorscale("Viridis", [((v - lo) / span) if isinstance(v, (int, float)) else 0.0 for v in vals])
        colours = [s if v is not None else MISSING for s, v in zip(scale, vals)]
        return colours, f"colour: {key} (purple {value(lo)} → yellow {value(hi)})"
    order = {r: i for i, r in enumerate(distinct)}
    colours = [PALETTE[order[repr(v)] % len(PALETTE)][0] if v is not None else MISSING for v in vals]
    legend = ", ".join(f"{PALETTE[i % len(PALETTE)][1]} {value(distinct[r])}" for r, i in list(order.items())[:4])
    return colours, f"colour: {key}" + (f" ({legend})" if legend else "")


def curves_figures(info: CurvesInfo) -> list[Any]:
    import plotly.graph_objects as go

    curves = info.curves
    sizes = [s for c in curves for s in c.sizes if s is not None]
    lo, hi = (min(sizes), max(sizes)) if sizes else (0, 0)
    first_colours, _ = colours_for(curves, info.colour_by[0])
    traces = []
    for c, colour in zip(curves, first_colours):
        marker_sizes = [6 + (10 * (s - lo) / (hi - lo) if s is not None and hi > lo else 0) for s in c.sizes]
        shown = ", ".join(f"{k}={value(v)}" for k, v in c.values.items() if k not in ("outcome", "phase"))
        traces.append(go.Scatter(
            x=[e + 1 for e in c.epochs], y=[100 * a for a in c.accuracy], mode="lines+markers", showlegend=False,
            line={"color": colour, "dash": "dot" if c.phase == "confirm" else DASH.get(c.outcome, "solid"), "width": 1.6},
            marker={"color": colour, "size": marker_sizes},
            text=[f"{c.name} ({c.outcome})<br>epoch {e + 1} at {s or '?'} px<br>{shown}" for e, s in zip(c.epochs, c.sizes)],
            hovertemplate="%{text}<br>%{y:.1f}%<extra></extra>"))
    for outcome in sorted({c.outcome for c in curves}):  # a legend for the line styles only
        traces.append(go.Scatter(x=[None], y=[None], mode="lines", name=outcome,
                                 line={"color": "#555", "dash": DASH.get(outcome, "solid")}))
    buttons = []
    for key in info.colour_by:
        colours, label = colours_for(curves, key)
        buttons.append({"label": label, "method": "restyle",
                        "args": [{"line.color": colours, "marker.color": colours}, list(range(len(curves)))]})
    fig = go.Figure(data=traces, layout=base_layout(
        height=460, xaxis={"title": "epoch", "dtick": 1}, yaxis={"title": "validation accuracy (%)", "ticksuffix": "%"},
        updatemenus=[{"buttons": buttons, "direction": "down", "x": 0, "xanchor": "left", "y": 1.14, "yanchor": "top"}],
        margin={"l": 60, "r": 20, "t": 70, "b": 50}))
    return [fig]
