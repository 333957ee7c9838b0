"""The look shared by every panel: outcome colours, the base layout, HTML escaping."""

from __future__ import annotations

import html
from typing import Any

__all__ = ["OUTCOME_COLOURS", "base_layout", "esc", "figure"]

OUTCOME_COLOURS = {
    "finished": "#2a9d8f",
    "pruned": "#e9a23b",
    "budget": "#8d6cab",
    "failed": "#d62839",
    "running": "#457b9d",
    "unknown": "#9a9a9a",
}
NOISE_FILL = "rgba(120, 120, 120, 0.18)"


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def base_layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "template": "plotly_white",
        "margin": {"l": 60, "r": 20, "t": 40, "b": 50},
        "height": 380,
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        "legend": {"orientation": "h", "y": -0.2},
    }
    layout.update(extra)
    return layout


def figure(data: list[Any] | None = None, **layout: Any) -> Any:
    import plotly.graph_objects as go

    return go.Figure(data=data or [], layout=base_layout(**layout))
