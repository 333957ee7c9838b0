"""Panel 3 drawn: Optuna's importance per parameter, as horizontal bars, with its caveats."""

from __future__ import annotations

from typing import Any

from dashboards.panels.importance import ImportanceInfo
from dashboards.render.style import figure

__all__ = ["importance_figures"]

TITLE = "Importance"
HOW = ("How much of the objective's variation each searched parameter explains, by Optuna's PED-ANOVA over the finished "
       "search trials (importances sum to 1); the note says when there are too few trials, or too little variation beyond "
       "seed noise, for the ranking to mean anything.")


def importance_figures(info: ImportanceInfo) -> list[Any]:
    import plotly.graph_objects as go

    ranked = list(reversed(info.importances))  # plotly draws the first bar at the bottom
    bars = go.Bar(x=[v for _, v in ranked], y=[k for k, _ in ranked], orientation="h", marker={"color": "#457b9d"},
                  text=[f"{v:.2f}" for _, v in ranked], textposition="auto", name="importance")
    return [figure([bars], height=max(220, 80 + 34 * len(ranked)), xaxis={"title": f"importance ({info.n_trials} trials)"},
                   yaxis={"automargin": True}, showlegend=False)]
