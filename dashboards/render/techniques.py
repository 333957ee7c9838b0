"""Panel 1 drawn: the technique table, and every pair's difference seed by seed (an outlier seed shows)."""

from __future__ import annotations

from typing import Any

from dashboards.format import pp
from dashboards.panels.techniques import TechniquesInfo
from dashboards.render.style import esc, figure

__all__ = ["techniques_figures", "techniques_html", "techniques_notes"]

TITLE = "Chapter 7's techniques"
HOW = ("Each technique alone against the book's baseline, run on the same seeds (the seed fixes initialization, data order "
       "and augmentation, so the runs pair up). A verdict is a paired t-test at one of the looks planned before any result, "
       "Holm-corrected over the comparisons and with the error rate split over the looks: helped or hurt means shown at the "
       "study's level; no difference shown means the interval lies within ± the study's margin (the smallest difference it "
       "asks about); undecided means neither, with about how many more seeds would likely decide it. Each dot is one seed's "
       "difference (technique − baseline); the bar is the mean and its interval.")
COLOURS = {"helped": "#2a9d8f", "hurt": "#d62839", "undecided": "#e9a23b", "no difference shown": "#9a9a9a",
           "not compared": "#c8c8c8"}


def techniques_html(info: TechniquesInfo) -> str:
    head = ("<tr><th>technique</th><th>verdict</th><th>difference</th><th>interval</th><th>pairs</th><th>p (adjusted)</th>"
            "<th>recipe</th><th>the search's best setting</th></tr>")
    body = []
    for r in info.rows:
        d = r.decision
        best = ", ".join(f"{esc(k)} = {esc(f'{v:.3g}' if isinstance(v, float) else v)}" for k, v in r.best_setting.items())
        best += f" ({100 * r.best_objective:.1f}%, {esc(r.best_trial)})" if best and r.best_objective is not None else ""
        recipe = ", ".join(f"{esc(k)} = {esc(v)}" for k, v in r.setting.items())
        colour = COLOURS.get(r.verdict, "#444")
        if d is None:
            body.append(f"<tr class='technique' data-verdict='not compared'><td>{esc(r.technique)}</td>"
                        f"<td style='color:{colour}'>not compared</td><td colspan='5'>{esc(r.why_not)}</td><td>{best}</td></tr>")
            continue
        verdict = esc(d.label())
        interval = f"[{pp(d.ci_low, 2)}, {pp(d.ci_high, 2)}]" if d.ci_low is not None and d.ci_high is not None else ""
        p = f"{d.p_value:.2g} ({d.p_adjusted:.2g})" if d.p_value is not None and d.p_adjusted is not None else ""
        body.append(f"<tr class='technique' data-verdict='{esc(d.verdict)}'><td>{esc(r.technique)}</td>"
                    f"<td style='color:{colour}'><b>{verdict}</b></td><td>{pp(d.difference, 2)}</td><td>{interval}</td>"
                    f"<td>{d.pairs}</td><td>{p}</td><td>{recipe}</td><td>{best}</td></tr>")
    return f"<table class='numbers techniques'>{head}{''.join(body)}</table>"


def techniques_notes(info: TechniquesInfo) -> list[str]:
    notes = []
    if info.plan is not None and info.level is not None:
        looks = ", ".join(f"{n} pairs" for n in info.plan.pairs)
        notes.append(f"Looks planned before any result: {looks}; {100 * (1 - info.level):g}% error rate split over them, "
                     f"Holm over {info.comparisons} comparisons at each.")
    if info.ended:
        notes.append(f"The confirmation ended: {info.ended}.")
    if any(0 in r.baseline_by_seed or (r.baseline_by_seed and min(r.baseline_by_seed) < 1000) for r in info.rows):
        notes.append("The lowest seed of a recipe's pairs is the search's own run of it (the study's seed).")
    return notes


def techniques_figures(info: TechniquesInfo) -> list[Any]:
    import plotly.graph_objects as go

    rows = [r for r in reversed(info.rows) if r.decision is not None and r.arm_by_seed]
    data: list[Any] = []
    for r in rows:
        seeds = sorted(set(r.arm_by_seed) & set(r.baseline_by_seed))
        diffs = [100 * (r.arm_by_seed[s] - r.baseline_by_seed[s]) for s in seeds]
        data.append(go.Scatter(
            x=diffs, y=[r.technique] * len(seeds), mode="markers", name=r.technique, showlegend=False,
            marker={"size": 9, "color": COLOURS.get(r.verdict, "#444"), "opacity": 0.75, "line": {"width": 1, "color": "#fff"}},
            customdata=[[s, 100 * r.baseline_by_seed[s], 100 * r.arm_by_seed[s]] for s in seeds],
            hovertemplate="seed %{customdata[0]}: baseline %{customdata[1]:.1f}%, with it %{customdata[2]:.1f}%"
                          "<br>difference %{x:+.2f} pp<extra></extra>"))
        d = r.decision
        if d is not None and d.difference is not None:
            lo = 100 * (d.difference - d.ci_low) if d.ci_low is not None else 0.0
            hi = 100 * (d.ci_high - d.difference) if d.ci_high is not None else 0.0
            data.append(go.Scatter(x=[100 * d.difference], y=[r.technique], mode="markers", showlegend=False,
                                   marker={"symbol": "line-ns", "size": 22, "line": {"width": 3, "color": "#222"}},
                                   error_x={"type": "data", "symmetric": False, "array": [hi], "arrayminus": [lo], "color": "#222"},
                                   hovertemplate=f"{r.technique}: mean %{{x:+.2f}} pp ({d.verdict})<extra></extra>"))
    if not data:
        return []
    return [figure(data, height=max(220, 70 + 55 * len(rows)),
                   xaxis={"title": "technique − baseline, per seed (pp)", "zeroline": True, "zerolinewidth": 2},
                   yaxis={"automargin": True})]
