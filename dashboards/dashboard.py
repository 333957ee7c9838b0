"""A study's dashboard: compute each panel's numbers, draw them, write one HTML file.

A panel that raises is shown as an error on the page instead of taking the page down: the
dashboard is written at the end of every study and must never be what makes one fail.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboards import panels as P
from dashboards.format import duration
from dashboards.load import load_study
from dashboards.render import (
    ablation,
    answer,
    cost,
    curves,
    effects,
    history,
    importance,
    rungs,
    techniques,
    timeline,
    tta,
)
from dashboards.render.page import PanelView, page_html
from dashboards.tables import OUTCOMES, StudyTables

__all__ = ["DASHBOARD", "build_html", "panel_views", "write_dashboard"]

DASHBOARD = "dashboard.html"


def _panel(key: str, module: Any, compute: Callable[[StudyTables], Any], draw: Callable[[Any], list[Any]],
           tables: StudyTables, text: Callable[[Any], str] | None = None, notes: Callable[[Any], list[str]] | None = None) -> PanelView:
    try:
        info = compute(tables)
        extra = tuple(notes(info)) if notes else ()
        if info.reason is not None:
            return PanelView(key, module.TITLE, module.HOW, empty=info.reason, notes=extra)
        return PanelView(key, module.TITLE, module.HOW, html=text(info) if text else "", figures=tuple(draw(info)), notes=extra)
    except Exception as e:  # noqa: BLE001 -- shown on the page; the tests require no panel in this state
        return PanelView(key, module.TITLE, module.HOW, error=f"{type(e).__name__}: {e}")


def panel_views(tables: StudyTables) -> list[PanelView]:
    """The panels, in order: the techniques first (the study's first answer), then the winner."""
    return [
        _panel("techniques", techniques, P.techniques_info, techniques.techniques_figures, tables, text=techniques.techniques_html,
               notes=techniques.techniques_notes),
        _panel("answer", answer, P.answer_info, answer.answer_figures, tables, text=answer.answer_html),
        _panel("effects", effects, P.effects_info, effects.effects_figures, tables, notes=lambda i: [effects.effects_note(i)]),
        _panel("importance", importance, P.importance_info, importance.importance_figures, tables,
               notes=lambda i: [i.note] if i.note else []),
        _panel("rungs", rungs, P.rungs_info, rungs.rungs_figures, tables, notes=rungs.rungs_notes),
        _panel("tta", tta, P.tta_info, tta.tta_figures, tables,
               notes=lambda i: [f"Mean gain from TTA: {100 * i.mean_gain:+.2f} pp over {len(i.points)} trial(s)."] if i.points else []),
        _panel("cost", cost, P.cost_info, cost.cost_figures, tables),
        _panel("curves", curves, P.curves_info, curves.curves_figures, tables),
        _panel("timeline", timeline, P.timeline_info, timeline.timeline_figures, tables, notes=lambda i: [timeline.timeline_note(i)]),
        _panel("history", history, P.history_info, history.history_figures, tables),
        _panel("ablation", ablation, P.ablation_info, ablation.ablation_figures, tables, notes=ablation.ablation_notes),
    ]


def _meta_lines(tables: StudyTables) -> list[str]:
    m = tables.meta
    counts = {o: 0 for o in OUTCOMES}
    for t in tables.phase("search"):
        counts[t.outcome] += 1
    shown = ", ".join(f"{n} {o}" for o, n in counts.items() if n)
    lines = [f"folder {m.folder} · phase {m.phase} · budget {duration(m.budget_s)}"
             + (f", {duration(m.spent_s)} spent" if m.spent_s is not None else "")
             + f" · objectives: {', '.join(m.objectives)}",
             f"search trials: {shown or 'none'} · confirmation runs: {len(tables.phase('confirm'))}"
             + f" · written {time.strftime('%Y-%m-%d %H:%M:%S')}"]
    if m.test_hooks:
        lines.insert(0, f"TEST HOOKS ON ({m.test_hooks}): this study ran a test's stand-in or fault; its numbers are not measurements")
    return lines + [f"note: {n}" for n in tables.notes]


def build_html(tables: StudyTables) -> str:
    return page_html(f"Study {tables.meta.name}", _meta_lines(tables), panel_views(tables))


def write_dashboard(study_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the dashboard of the study in ``study_dir`` (default ``<study_dir>/dashboard.html``); its path.

    Raises ``UsageError`` when ``study_dir`` is not a study folder.
    """
    tables = load_study(study_dir)
    path = Path(out) if out is not None else Path(study_dir) / DASHBOARD
    text = build_html(tables)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a page
    return path
