"""The rungs panel drawn: Spearman's rho at each rung, with the line below which early stops are a poor guide."""

from __future__ import annotations

from typing import Any

from dashboards.panels.rungs import RungsInfo
from dashboards.render.style import figure
from study.analysis.rungs import LOW_AGREEMENT

__all__ = ["rungs_figures", "rungs_notes"]

TITLE = "Early stopping's foresight"
HOW = ("ASHA stops a search trial at a rung when its score there ranks low. Over the trials that ran to their end, each bar "
       "is the rank correlation (Spearman's rho) of the score at that rung with the final score: near 1, the rung foretold the "
       f"end; below {LOW_AGREEMENT}, it stopped trials on little evidence — the techniques that pay late (mixup, label "
       "smoothing, progressive resizing) are the ones it undervalues. The technique table compares full-length runs only.")


def rungs_notes(info: RungsInfo) -> list[str]:
    if not info.rows:
        return []
    low = [r for r in info.rows if r.low]
    if low:
        return [f"Warning: at epoch {', '.join(str(r.rung) for r in low)} the ranking agreed poorly with the end "
                f"(rho {', '.join(f'{r.rho:.2f}' for r in low if r.rho is not None)} over {info.trials} trials): "
                "trials stopped there may have been good ones."]
    return [f"Over {info.trials} trials that ran to their end."]


def rungs_figures(info: RungsInfo) -> list[Any]:
    import plotly.graph_objects as go

    rows = [r for r in info.rows if r.rho is not None]
    if not rows:
        return []
    bars = go.Bar(x=[f"epoch {r.rung}" for r in rows], y=[r.rho for r in rows],
                  marker={"color": ["#d62839" if r.low else "#2a9d8f" for r in rows]},
                  text=[f"rho {r.rho:.2f} · {r.trials} trials" for r in rows], textposition="auto",
                  hovertemplate="%{x}: rho %{y:.2f}<extra></extra>")
    return [figure([bars], height=280, showlegend=False, yaxis={"title": "Spearman's rho with the final score", "range": [-1, 1]},
                   shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": LOW_AGREEMENT, "y1": LOW_AGREEMENT,
                            "line": {"dash": "dot", "color": "#d62839"}}])]
