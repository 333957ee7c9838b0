"""Panel 4 drawn: with against without TTA, the gain against passes, and its inference cost."""

from __future__ import annotations

from typing import Any

from dashboards.panels.tta import TtaInfo
from dashboards.render.style import base_layout

__all__ = ["tta_figures"]

TITLE = "Test-time augmentation"
HOW = ("Left: each trial that used TTA, accuracy without (x) against with it (y); above the diagonal TTA helped. Middle: "
       "the gain against the number of augmented passes. Right: the gain against the extra inference time per image it cost.")


def tta_figures(info: TtaInfo) -> list[Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    pts = info.points
    fig = make_subplots(rows=1, cols=3, subplot_titles=["with vs without TTA", "gain vs passes (tta_n)", "gain vs extra ms/image"],
                        horizontal_spacing=0.09)
    text = [f"{p.name}<br>tta_n = {p.tta_n}, β = {p.tta_beta}" for p in pts]
    colour = ["#2a9d8f" if p.phase == "search" else "#264653" for p in pts]
    lo = min(min(p.plain, p.with_tta) for p in pts) * 100
    hi = max(max(p.plain, p.with_tta) for p in pts) * 100
    fig.add_trace(go.Scatter(x=[lo, hi], y=[lo, hi], mode="lines", line={"dash": "dash", "color": "#999"}, name="no gain",
                             hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(x=[100 * p.plain for p in pts], y=[100 * p.with_tta for p in pts], mode="markers", text=text,
                             marker={"color": colour, "size": 9}, name="trial",
                             hovertemplate="%{text}<br>%{x:.1f}% → %{y:.1f}%<extra></extra>"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(x=[p.tta_n for p in pts], y=[100 * p.gain for p in pts], mode="markers", text=text, showlegend=False,
                             marker={"color": colour, "size": 9}, hovertemplate="%{text}<br>%{y:+.1f} pp<extra></extra>"), row=1, col=2)
    with_cost = [p for p in pts if p.extra_ms is not None]
    fig.add_trace(go.Scatter(x=[p.extra_ms for p in with_cost], y=[100 * p.gain for p in with_cost], mode="markers", showlegend=False,
                             text=[f"{p.name}<br>{p.infer_ms_plain:.2f} → {p.infer_ms_tta:.2f} ms/image" for p in with_cost],
                             marker={"color": ["#2a9d8f" if p.phase == "search" else "#264653" for p in with_cost], "size": 9},
                             hovertemplate="%{text}<br>%{y:+.1f} pp<extra></extra>"), row=1, col=3)
    fig.update_xaxes(title_text="without TTA (%)", row=1, col=1)
    fig.update_yaxes(title_text="with TTA (%)", row=1, col=1)
    fig.update_xaxes(title_text="passes", dtick=1, row=1, col=2)
    fig.update_yaxes(title_text="gain (pp)", row=1, col=2)
    fig.update_xaxes(title_text="extra ms per image", row=1, col=3)
    fig.update_layout(**base_layout(height=380, showlegend=False))
    return [fig]
