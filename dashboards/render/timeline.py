"""Panel 7 drawn: trials as bars on worker slots over the study's clock, deadlines as lines."""

from __future__ import annotations

from typing import Any

from dashboards.format import duration
from dashboards.panels.timeline import TimelineInfo
from dashboards.render.style import OUTCOME_COLOURS, base_layout

__all__ = ["timeline_figures", "timeline_note"]

TITLE = "Timeline"
HOW = ("Each bar is a trial on the worker slot it ran in, over the study's wall clock, coloured by how it ended (hatched: "
       "confirmation runs); its dark core is the seconds it spent in training steps (placed after its set-up; the rest of "
       "the bar is start-up, evaluation, checkpoints, TTA and reporting); the vertical lines are the search's deadline and "
       "the end of the budget. Gaps are slots left idle. "
       "On a cluster, a diamond marks where a trial whose node was lost went on, on another node, from its last checkpoint.")


def timeline_note(info: TimelineInfo) -> str:
    parts = []
    if info.wall_s is not None:
        parts.append(f"{len(info.bars)} trials on {info.slots} slot(s) over {duration(info.wall_s)}")
    if info.busy is not None:
        parts.append(f"slots busy {100 * info.busy:.0f}% of the time")
    if info.training is not None:
        parts.append(f"training steps {100 * info.training:.0f}% of the slots' time (the training share)")
    parts.append(f"{info.not_started} search trial(s) not started because they would not have finished in time")
    if info.confirm_note:
        parts.append(f"confirmation: {info.confirm_note}")
    parts += [line.strip().rstrip(":") for line in info.nodes.lines() if not line.startswith(" ")]
    return "; ".join(parts) + "."


def timeline_figures(info: TimelineInfo) -> list[Any]:
    import plotly.graph_objects as go

    traces = []
    for outcome in [o for o in OUTCOME_COLOURS if any(b.outcome == o for b in info.bars)]:
        bars = [b for b in info.bars if b.outcome == outcome]
        traces.append(go.Bar(
            base=[b.start_s for b in bars], x=[b.end_s - b.start_s for b in bars], y=[f"slot {b.slot}" for b in bars],
            orientation="h", name=outcome, marker={"color": OUTCOME_COLOURS[outcome],
                                                     "pattern": {"shape": ["/" if b.phase == "confirm" else "" for b in bars]},
                                                     "line": {"color": "white", "width": 1}},
            text=[b.name for b in bars], textposition="inside", insidetextanchor="middle",
            hovertemplate="%{text}<br>%{base:.0f} s → +%{x:.0f} s<extra>" + outcome + "</extra>"))
    trained = [b for b in info.bars if b.train_s]
    if trained:  # each trial's training steps, as the dark core of its bar
        traces.append(go.Bar(
            base=[b.start_s + b.before_train_s for b in trained], x=[b.train_s for b in trained],
            y=[f"slot {b.slot}" for b in trained], orientation="h", name="training steps", width=0.35,
            marker={"color": "rgba(20, 20, 40, 0.55)"}, text=[b.name for b in trained], textposition="none",
            hovertemplate="%{text}: %{x:.0f} s of training steps<extra></extra>"))
    if info.restarts:  # a trial that went on after its worker or node was lost, where its new attempt began
        traces.append(go.Scatter(
            x=[m.at_s for m in info.restarts], y=[f"slot {m.slot}" for m in info.restarts], mode="markers", name="failed over",
            marker={"symbol": "diamond", "size": 12, "color": "#111", "line": {"color": "white", "width": 1}},
            text=[f"{m.restart.trial}: {'failed over' if m.restart.moved else 'restarted'} from {m.restart.from_node} to "
                  f"{m.restart.to_node}, resumed after epoch {m.restart.resumed_after_epoch}" for m in info.restarts],
            hovertemplate="%{text}<extra></extra>"))
    fig = go.Figure(data=traces, layout=base_layout(
        barmode="overlay", height=max(240, 140 + 50 * info.slots), xaxis={"title": "seconds since the study started"},
        yaxis={"categoryorder": "category descending"}))
    for label, at in info.deadlines:
        fig.add_vline(x=at, line={"dash": "dash", "color": "#333"}, annotation_text=label, annotation_position="top")
    return [fig]
