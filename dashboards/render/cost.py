"""Panel 5 drawn: accuracy against training seconds and against inference time, fronts highlighted."""

from __future__ import annotations

from typing import Any

from dashboards.format import duration
from dashboards.panels.cost import CostInfo
from dashboards.render.style import base_layout

__all__ = ["cost_figures"]

TITLE = "Cost"
HOW = ("Every finished search trial: accuracy against what it cost to train (left) and to run per image (right). Ringed "
       "trials are on the Pareto front — no other trial is both more accurate and cheaper; anything off it paid for nothing.")


def cost_figures(info: CostInfo) -> list[Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=["accuracy vs training time", "accuracy vs inference time"],
                        horizontal_spacing=0.1)
    for col, key, front, label in ((1, "train_seconds", info.front_train, "s"), (2, "infer_ms", info.front_infer, "ms")):
        pts = [p for p in info.points if getattr(p, key) is not None]
        on = [p for p in pts if p.name in front]
        off = [p for p in pts if p.name not in front]
        for group, name, marker in ((off, "trial", {"color": "#8ab6c9", "size": 9}),
                                    (on, "Pareto front", {"color": "#e76f51", "size": 12, "line": {"width": 2, "color": "#264653"}})):
            fig.add_trace(go.Scatter(
                x=[getattr(p, key) for p in group], y=[100 * p.objective for p in group], mode="markers", name=name,
                legendgroup=name, showlegend=col == 1, marker=marker,
                text=[f"{p.name}<br>{duration(p.train_seconds)} training, {p.infer_ms or 0:.2f} ms/image"
                      + ("<br>on the study's Pareto front" if p.name in info.study_front else "") for p in group],
                hovertemplate="%{text}<br>%{y:.1f}%<extra></extra>"), row=1, col=col)
        line = sorted(on, key=lambda p: getattr(p, key))
        fig.add_trace(go.Scatter(x=[getattr(p, key) for p in line], y=[100 * p.objective for p in line], mode="lines",
                                 line={"color": "#e76f51", "dash": "dot"}, showlegend=False, hoverinfo="skip"), row=1, col=col)
        fig.update_xaxes(title_text="training seconds" if label == "s" else "ms per image (with TTA when on)", row=1, col=col)
        fig.update_yaxes(title_text="accuracy (%)", ticksuffix="%", row=1, col=col)
    fig.update_layout(**base_layout(height=400))
    return [fig]
