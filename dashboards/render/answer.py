"""Panel 1 drawn: the verdict in words, the key numbers, and the search scores against the
confirmation's fresh seeds (the winner's curse made visible)."""

from __future__ import annotations

from typing import Any

from dashboards.format import pct, pp, value
from dashboards.panels.answer import AnswerInfo
from dashboards.render.style import esc, figure

__all__ = ["answer_figures", "answer_html"]

TITLE = "The answer"
HOW = ("The best configuration the search found against the book's baseline; the confirmation re-ran both on the same fresh "
       "seeds, and a difference counts only when the paired t-test over those seeds (Welch's without pairs) shows it at the "
       "study's level. The search score of the winner is its luckiest draw: the gap to its confirmed mean is the winner's curse.")


def answer_html(info: AnswerInfo) -> str:
    best = (f"{esc(info.best_name)}: <b class='best-objective' data-value='{info.best_objective!r}'>"
            f"{pct(info.best_objective, 2)}</b> in the search")
    rows: list[tuple[str, str]] = [("best trial", best)]
    if info.changes:
        rows.append(("what it changed", ", ".join(f"{esc(k)} = {esc(value(v))}" for k, v in info.changes.items())))
    else:
        rows.append(("what it changed", "nothing: the base configuration itself"))
    if info.baseline_name is not None:
        margin = (info.best_objective - info.baseline_objective
                  if info.best_objective is not None and info.baseline_objective is not None else None)
        text = f"{esc(info.baseline_name)}: {pct(info.baseline_objective, 2)} in the search ({pp(margin)} for the best)"
        rows.append(("book baseline", text))
    else:
        rows.append(("book baseline", "not among the finished search trials"))
    for c in info.confirmed:
        spread = f" ± {pct(c.std, 2)}" if c.std is not None else " (one seed: no spread)"
        rows.append((f"confirmed: {esc(c.label)}", f"{pct(c.mean, 2)}{spread} over {c.n} fresh seed(s)"))
    if info.difference is not None:
        noise = (f", seed noise (s.e.) {pp(info.noise, 2)}" if info.noise is not None
                 else ", no noise estimate (fewer than two seeds on a side)")
        rows.append(("confirmed difference", f"{pp(info.difference, 2)}{noise}"))
    if info.ci is not None:
        level = f"{100 * info.level:.0f}% " if info.level is not None else ""
        rows.append((f"{level}interval", f"[{pp(info.ci[0], 2)}, {pp(info.ci[1], 2)}]"))
    if info.p_value is not None:
        rows.append(("p-value", f"{info.p_value:.3g}"))
    if info.winners_curse is not None:
        rows.append(("winner's curse", f"search score − confirmed mean = {pp(info.winners_curse, 2)}"))
    head = _headline(info)
    table = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    note = f"<p class='note'>{esc(info.note)}</p>" if info.note else ""
    verdict = f"<p class='verdict'>{esc(info.verdict)}</p>" if info.verdict else ""
    return f"<p class='headline'>{head}</p>{verdict}<table class='numbers'>{table}</table>{note}"


def _headline(info: AnswerInfo) -> str:
    best = f"<b>{esc(info.best_name)}</b>"
    if info.beats_baseline is True:
        return f"{best} beats the book baseline by {pp(info.difference)}, more than the seed noise."
    if info.beats_baseline is False:
        return f"{best} is not shown to beat the book baseline: the confirmed difference ({pp(info.difference)}) is within the seed noise."
    if info.difference is not None:
        return f"{best} leads the baseline by {pp(info.difference)} in the confirmation, with too few seeds to judge the noise."
    return f"{best} scored best in the search ({pct(info.best_objective)}); there is no confirmation to judge it by."


def answer_figures(info: AnswerInfo) -> list[Any]:
    import plotly.graph_objects as go

    labels, data = [], []
    if info.best_name is not None and info.best_objective is not None:
        labels.append(info.best_name)
    if info.baseline_name is not None and info.baseline_objective is not None:
        labels.append("baseline")
    for c in info.confirmed:
        if c.label not in labels:
            labels.append(c.label)
    search_y = {info.best_name: info.best_objective, "baseline": info.baseline_objective}
    search_y.update({c.label: c.search_score for c in info.confirmed if c.search_score is not None})
    xs = [search_y.get(lb) for lb in labels]
    data.append(go.Scatter(x=[100 * x if x is not None else None for x in xs], y=labels, mode="markers", name="search score",
                           marker={"symbol": "diamond", "size": 13, "color": "#e76f51"}))
    if info.confirmed:
        data.append(go.Scatter(
            x=[100 * c.mean for c in info.confirmed], y=[c.label for c in info.confirmed], mode="markers",
            name="confirmed mean ± sd", marker={"size": 12, "color": "#264653"},
            error_x={"type": "data", "array": [100 * (c.std or 0.0) for c in info.confirmed], "visible": True}))
        data.append(go.Scatter(
            x=[100 * v for c in info.confirmed for v in c.values], y=[c.label for c in info.confirmed for _ in c.values],
            mode="markers", name="each fresh seed", marker={"size": 7, "color": "rgba(38,70,83,0.45)", "symbol": "circle-open"}))
    return [figure(data, xaxis={"title": "accuracy (%)", "ticksuffix": "%"}, yaxis={"automargin": True, "type": "category"},
                   height=max(220, 90 + 60 * len(labels)),
                   title={"text": "search score against fresh seeds" if info.confirmed else "search scores (no confirmation runs)",
                          "font": {"size": 13}})]
