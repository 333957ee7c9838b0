"""Panel 2 drawn: one small plot per technique, finished trials as dots, their marginal as a line,
pruned trials apart (hollow, at the rung where they stopped), the seed-noise band behind."""

from __future__ import annotations

import zlib
from typing import Any

from dashboards.format import pp, value
from dashboards.panels.effects import Effect, EffectsInfo
from dashboards.render.style import NOISE_FILL, OUTCOME_COLOURS, base_layout

__all__ = ["effects_figures", "effects_note"]

TITLE = "Technique effects"
HOW = ("Each dot is a finished search trial, the line the mean per level (or per fifth of a number's range); hollow "
       "markers are trials stopped early (pruned, or by the budget) at their last epoch. The grey band reaches 2σ of seed "
       "noise below the best level: a level whose mean lies inside it is not told apart from the best.")
COLS = 3


def effects_note(info: EffectsInfo) -> str:
    if info.noise_sd is None:
        return "No seed-noise band: no configuration was confirmed with two or more fresh seeds."
    wide = [e.title for e in info.effects if e.exceeds_noise]
    text = f"Seed noise σ = {pp(info.noise_sd, 2)} (pooled over {info.noise_df} degree(s) of freedom of the confirmation runs)."
    return text + (" Effects wider than 2σ: " + ", ".join(wide) + "." if wide else " No technique's marginal spans more than 2σ.")


def _jitter(name: str) -> float:
    return ((zlib.crc32(name.encode()) % 1000) / 1000 - 0.5) * 0.3


def _codes(e: Effect) -> dict[Any, int]:
    levels = sorted({p.x for p in e.finished + e.pruned}, key=lambda v: (str(type(v)), v))
    return {x: i for i, x in enumerate(levels)}


def effects_figures(info: EffectsInfo) -> list[Any]:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    effects = [e for e in info.effects if e.finished or e.pruned]
    if not effects:
        return []
    rows = (len(effects) + COLS - 1) // COLS
    fig = make_subplots(rows=rows, cols=COLS, subplot_titles=[e.title for e in effects], horizontal_spacing=0.08,
                        vertical_spacing=0.5 / rows if rows > 1 else 0.1)
    for i, e in enumerate(effects):
        r, c = i // COLS + 1, i % COLS + 1
        first = i == 0
        codes = None if e.numeric else _codes(e)

        def xs(points: tuple[Any, ...], codes: dict[Any, int] | None = codes) -> list[Any]:
            return [p.x if codes is None else codes[p.x] + _jitter(p.name) for p in points]

        if e.band is not None:
            fig.add_shape(type="rect", xref=f"x{i + 1 if i else ''} domain", yref=f"y{i + 1 if i else ''}", x0=0, x1=1,
                          y0=100 * e.band[0], y1=100 * e.band[1], fillcolor=NOISE_FILL, line={"width": 0}, layer="below")
        fig.add_trace(go.Scatter(
            x=xs(e.finished), y=[100 * p.objective for p in e.finished], mode="markers", name="finished trial",
            legendgroup="finished", showlegend=first, marker={"color": OUTCOME_COLOURS["finished"], "size": 8},
            text=[f"{p.name}<br>{e.param} = {value(p.x)}" for p in e.finished], hovertemplate="%{text}<br>%{y:.1f}%<extra></extra>"),
            row=r, col=c)
        if e.pruned:
            fig.add_trace(go.Scatter(
                x=xs(e.pruned), y=[100 * p.objective for p in e.pruned], mode="markers",
                name="stopped early (pruned or by the budget), at its last epoch",
                legendgroup="pruned", showlegend=first or not any(x.pruned for x in effects[:i]),
                marker={"color": OUTCOME_COLOURS["pruned"], "size": 8, "symbol": "circle-open", "line": {"width": 2}},
                text=[f"{p.name}<br>stopped after epoch {p.epochs}<br>{e.param} = {value(p.x)}" for p in e.pruned],
                hovertemplate="%{text}<br>%{y:.1f}%<extra></extra>"), row=r, col=c)
        if e.marginal:
            mx = [lv.x if codes is None else codes[lv.x] for lv in e.marginal]
            fig.add_trace(go.Scatter(
                x=mx, y=[100 * lv.mean for lv in e.marginal], mode="lines+markers", name="marginal mean",
                legendgroup="marginal", showlegend=first, line={"color": "#264653", "width": 2},
                marker={"symbol": "line-ew-open", "size": 14, "color": "#264653"},
                text=[f"{lv.label}: mean of {lv.n}" for lv in e.marginal], hovertemplate="%{text}<br>%{y:.1f}%<extra></extra>"),
                row=r, col=c)
        if codes is not None:
            fig.update_xaxes(tickvals=list(codes.values()), ticktext=[value(x) for x in codes], row=r, col=c)
        elif e.log:
            fig.update_xaxes(type="log", row=r, col=c)
        fig.update_yaxes(ticksuffix="%", row=r, col=c)
    fig.update_layout(**base_layout(height=110 + 260 * rows, legend={"orientation": "h", "y": 1.02 + 0.08 / rows,
                                                                     "yanchor": "bottom"}))
    if info.noise_sd is not None:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="2σ seed-noise band below the best level",
                                 marker={"symbol": "square", "size": 12, "color": NOISE_FILL}))
    return [fig]
