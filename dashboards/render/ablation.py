"""Panel 9 drawn: each technique's paired contribution to the winner, with error bars."""

from __future__ import annotations

from typing import Any

from dashboards.panels.ablation import AblationInfo
from dashboards.render.style import figure

__all__ = ["ablation_figures", "ablation_notes"]

TITLE = "Ablation"
HOW = ("Each bar is what one technique adds to the winner: the winner's accuracy minus the winner without it, paired over "
       "the same seeds; the whiskers are its confidence interval (or ±2 standard errors). Green: shown to matter at the "
       "study's level (Holm-corrected); grey: not shown; red: shown to hurt.")


def ablation_notes(info: AblationInfo) -> list[str]:
    notes = []
    if info.winner:
        level = f" at the {100 * info.level:g}% level" if info.level is not None else ""
        shown = [r.technique for r in info.rows if r.shown]
        notes.append(f"Ablation of {info.winner}{level}: " + (f"shown to matter: {', '.join(shown)}." if shown
                                                               else "no technique shown to matter (green bars would be)."))
    notes += [f"{r.technique}: the winner's own models evaluated without it (it changes only the evaluation), so no "
              "run of its own and its pairs are the same networks." for r in info.rows if r.evaluation_only]
    notes += [f"Not ablated — {s}" for s in info.skipped]
    return notes


def ablation_figures(info: AblationInfo) -> list[Any]:
    import plotly.graph_objects as go

    rows = list(reversed(info.rows))
    plus, minus = [], []
    for r in rows:
        if r.ci_low is not None and r.ci_high is not None:
            plus.append(100 * (r.ci_high - r.contribution))
            minus.append(100 * (r.contribution - r.ci_low))
        else:
            plus.append(200 * (r.stderr or 0.0))
            minus.append(200 * (r.stderr or 0.0))
    # On the bar, the numbers; the whole verdict sentence is in the hover (too long for a bar).
    text = [f"{100 * r.contribution:+.1f} pp · {r.n_pairs} pairs" + (f" · p = {r.p_value:.2g}" if r.p_value is not None else "")
            + (f" (Holm {r.p_adjusted:.2g})" if r.p_adjusted is not None and r.p_adjusted != r.p_value else "") for r in rows]
    hover = [r.verdict.replace(": ", ":<br>", 1) for r in rows]
    bars = go.Bar(x=[100 * r.contribution for r in rows], y=[r.technique for r in rows], orientation="h",
                  marker={"color": ["#2a9d8f" if r.shown else "#9a9a9a" if r.shown is None or r.contribution > 0 else "#d62839"
                                    for r in rows]}, text=text, customdata=hover, textposition="auto",
                  hovertemplate="%{y}: %{x:+.2f} pp<br>%{customdata}<extra></extra>",
                  error_x={"type": "data", "symmetric": False, "array": plus, "arrayminus": minus, "visible": True})
    return [figure([bars], height=max(240, 90 + 40 * len(rows)), showlegend=False,
                   xaxis={"title": "contribution to the winner (pp)", "zeroline": True, "zerolinewidth": 2},
                   yaxis={"automargin": True})]
