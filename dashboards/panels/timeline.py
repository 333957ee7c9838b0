"""Panel 7, the timeline: every trial as a bar on a worker slot over the study's wall clock,
coloured by how it ended, the phases' deadlines, and the trials not started because they would
not have fit — where the budget went, and how busy the slots were. Each bar is split into its
training steps and the rest (start-up, data, warm-up, evaluation, checkpoints, TTA, reporting),
and the study's training share (:mod:`study.analysis.time_share`) is computed over the same slots.

Slots are the lanes the trials' own start and end times pack into (a trial takes the first lane
free when it starts), so there are as many as trials ever ran at once. On a cluster, a trial that
failed over to another node (or restarted on its own) is marked where its new attempt began
(``study.analysis.failover``).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.tables import StudyTables
from study.analysis.failover import NodeEvents, Restart, TrialAttempts, node_events
from study.analysis.time_share import time_share

__all__ = ["Bar", "RestartMark", "TimelineInfo", "timeline_info"]


@dataclass(frozen=True)
class Bar:
    name: str
    phase: str
    outcome: str
    slot: int  # 1-based
    start_s: float  # s since the study started
    end_s: float
    train_s: float | None = None  # s of training steps in the bar (None: the trial recorded no times)
    before_train_s: float = 0.0  # s of its set-up before training began (start-up, data, model): where the training part is drawn


@dataclass(frozen=True)
class RestartMark:
    """Where on the timeline a trial's attempt continued an earlier one."""

    restart: Restart
    slot: int  # the trial's bar's slot
    at_s: float  # s since the study started


@dataclass(frozen=True)
class TimelineInfo:
    bars: tuple[Bar, ...]
    slots: int
    deadlines: tuple[tuple[str, float], ...]  # (what, s since the study started)
    wall_s: float | None  # the study's span so far
    busy: float | None  # share of slot-time spent in trials
    not_started: int  # search suggestions the searcher did not start (would not have fit)
    confirm_note: str | None  # what the confirmation phase said about runs it did not start
    reason: str | None = None
    training: float | None = None  # training share: Σ training-step seconds / (slots × wall)
    restarts: tuple[RestartMark, ...] = ()  # failovers to another node and restarts on the same one
    nodes: NodeEvents = NodeEvents()


def timeline_info(tables: StudyTables) -> TimelineInfo:
    meta = tables.meta
    timed = sorted((t for t in tables.trials if t.start is not None and t.end is not None), key=lambda t: t.start or 0.0)
    known = [x for x in (meta.started, meta.clock_origin) if x is not None]
    origin = min(known) if known else (timed[0].start if timed else None)
    summary = tables.summary or {}
    skipped = summary.get("skipped_for_budget")
    not_started = int(skipped) if isinstance(skipped, int) else sum(1 for t in tables.optuna if t.skipped)
    conf = summary.get("confirmation")
    conf = conf if isinstance(conf, dict) else {}
    note = str(conf["note"]) if conf.get("note") else None
    deadlines: list[tuple[str, float]] = []
    if meta.budget_s > 0 and origin is not None:
        clock0 = (meta.clock_origin if meta.clock_origin is not None else origin) - origin
        from study.spec import Budget  # the phases' deadlines by the study's own rule

        b = Budget(time_s=meta.budget_s, confirm_share=meta.confirm_share, ablation_share=meta.ablation_share)
        deadlines = [("search deadline", clock0 + b.phase_end_s("search"))]
        if meta.ablation_share > 0:
            deadlines.append(("confirmation deadline", clock0 + b.phase_end_s("confirm")))
        deadlines.append(("budget end", clock0 + meta.budget_s))
    if not timed or origin is None:
        return TimelineInfo((), 0, tuple(deadlines), None, None, not_started, note, reason="no trial has a recorded start and end")
    lanes: list[float] = []  # each lane's end
    bars = []
    for t in timed:
        start, end = (t.start or 0.0) - origin, max(t.end or 0.0, t.start or 0.0) - origin
        free = next((i for i, e in enumerate(lanes) if e <= start), None)
        if free is None:
            lanes.append(end)
            free = len(lanes) - 1
        else:
            lanes[free] = end
        train = min(t.times.train, end - start) if t.times is not None else None
        before = min(t.times.start + t.times.data + t.times.model, end - start - (train or 0.0)) if t.times is not None else 0.0
        bars.append(Bar(t.name, t.phase, t.outcome, free + 1, start, end, train, max(before, 0.0)))
    wall = max(b.end_s for b in bars)
    if meta.spent_s is not None and meta.phase == "done":
        wall = max(wall, meta.spent_s)
    busy = sum(b.end_s - b.start_s for b in bars) / (len(lanes) * wall) if wall > 0 else None
    training = time_share((t.times for t in timed), len(lanes), wall).share if wall > 0 else None
    nodes = node_events(TrialAttempts(t.name, t.phase, t.attempts, t.outcome, t.error) for t in tables.trials)
    slot_of = {b.name: b.slot for b in bars}
    marks = tuple(RestartMark(r, slot_of[r.trial], r.at_ms / 1000.0 - origin)
                  for r in nodes.failovers + nodes.retries if r.trial in slot_of)
    return TimelineInfo(tuple(bars), len(lanes), tuple(deadlines), wall, busy, not_started, note, training=training,
                        restarts=marks, nodes=nodes)
