"""A trial's MLflow run made to match its record: find it by key, create it, send what it lacks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study.tracking.records import TrialState
from study.tracking.store import PARENT, TAG_KIND, TAG_OUTCOME, TAG_STUDY, TAG_TRIAL_KEY, _log_artifact, _log_params, close_run

__all__ = ["PushCounts", "create_trial_run", "drop_empty_twins", "find_trial_runs", "push_trial"]


@dataclass
class PushCounts:
    """What ``push_trial`` sent, and how many items of the record MLflow already had."""

    params: int = 0
    metrics: int = 0  # metric values (one per key and step)
    artifacts: int = 0
    statuses: int = 0
    present: int = 0

    @property
    def sent(self) -> int:
        return self.params + self.metrics + self.artifacts + self.statuses

    def add(self, other: "PushCounts") -> None:
        for k in ("params", "metrics", "artifacts", "statuses", "present"):
            setattr(self, k, getattr(self, k) + getattr(other, k))


def find_trial_runs(client: Any, experiment_id: str, key: str | None = None) -> dict[str, Any]:
    """``trial key -> run`` of the experiment's trial runs (only ``key``'s when given)."""
    where = f"tags.`{TAG_TRIAL_KEY}` = '{key}'" if key else f"tags.`{TAG_TRIAL_KEY}` != ''"
    found: dict[str, Any] = {}
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string=where, max_results=1000, page_token=token)
        for r in page:
            found.setdefault(r.data.tags[TAG_TRIAL_KEY], r)
        token = page.token
        if not token:
            return found


def drop_empty_twins(client: Any, experiment_id: str, key: str, keep: str) -> int:
    """Delete the runs of trial ``key`` other than ``keep`` that hold no metric: made by a creation
    request whose answer was lost (a timeout), while the trial went on in the run it made next. How many."""
    where = f"tags.`{TAG_TRIAL_KEY}` = '{key}'"
    twins = [r for r in client.search_runs([experiment_id], filter_string=where, max_results=100)
             if r.info.run_id != keep and not r.data.metrics]
    for r in twins:
        client.delete_run(r.info.run_id)
    return len(twins)


def create_trial_run(client: Any, experiment_id: str, parent_run_id: str | None, study: str, state: TrialState) -> Any:
    tags = {TAG_STUDY: study, TAG_KIND: state.kind, TAG_TRIAL_KEY: state.trial_key, **state.tags}
    if parent_run_id:
        tags[PARENT] = parent_run_id
    return client.create_run(experiment_id, run_name=state.run_name or None, tags=tags)


def push_trial(client: Any, run: Any, state: TrialState, end: dict[str, Any] | None = None) -> PushCounts:
    """Send what ``state`` has and ``run`` has not: params, each (metric, step) once, final metrics,
    artifacts, and the end (``state.end``, else ``end``) unless the run already carries a verdict."""
    from mlflow.entities import Metric

    counts = PushCounts()
    run_id = run.info.run_id
    missing = {k: v for k, v in state.params.items() if k not in run.data.params}
    counts.present += len(state.params) - len(missing)
    _log_params(client, run_id, missing)
    counts.params += len(missing)

    now = int(time.time() * 1000)
    metrics = []
    for key in sorted({k for m in state.epochs.values() for k in m}):
        logged = {m.step for m in client.get_metric_history(run_id, key)} if key in run.data.metrics else set()
        for step, values in sorted(state.epochs.items()):
            if key not in values:
                continue
            if step in logged:
                counts.present += 1
            else:
                metrics.append(Metric(key, values[key], state.times.get(step) or now, step))
    for k, v in sorted(state.final.items()):
        if f"final_{k}" in run.data.metrics:
            counts.present += 1
        else:
            metrics.append(Metric(f"final_{k}", v, state.final_time or now, 0))
    for i in range(0, len(metrics), 500):
        client.log_batch(run_id, metrics=metrics[i : i + 500])
        counts.metrics += len(metrics[i : i + 500])

    if state.artifacts:
        listed = {a.path for a in client.list_artifacts(run_id)}
        for name, content in sorted(state.artifacts.items()):
            if name in listed:
                counts.present += 1
            elif not isinstance(content, Path) or content.exists():
                _log_artifact(client, run_id, name, content)
                counts.artifacts += 1

    end = state.end or end
    if end is not None:
        outcome = run.data.tags.get(TAG_OUTCOME)
        # "interrupted" is no verdict (close_leftover_runs' placeholder): the record's end replaces it
        if run.info.status == "RUNNING" or outcome is None or (outcome == "interrupted" and end["outcome"] != outcome):
            close_run(client, run_id, end["status"], end["outcome"], end.get("error"))
            counts.statuses += 1
        else:
            counts.present += 1
    return counts
