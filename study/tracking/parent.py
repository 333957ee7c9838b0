"""The driver's MLflow calls: the study's parent run (one per launch, the same run again on resume),
and trial runs closed with the driver's verdict (pruned, stopped by the budget, failed)."""

from __future__ import annotations

from typing import Any, Callable

from study.tracking.secrets import scrub
from study.tracking.store import (
    PARENT,
    TAG_KIND,
    TAG_OUTCOME,
    TAG_STUDY,
    TRIAL_HTTP,
    TrackingInfo,
    _log_params,
    _param_value,
    client,
    close_run,
    log_artifacts,
    quick_http,
)

__all__ = ["close_leftover_runs", "finish_parent_run", "open_parent_run", "set_run_outcome", "start_parent_run", "trial_run_ids"]


def start_parent_run(
    info_uri: str, experiment_id: str, study: str, params: dict[str, Any], tags: dict[str, str],
    artifacts: dict[str, Any] | None = None,
) -> str:
    c = client(info_uri)
    tags = {k: scrub(str(v)) for k, v in tags.items()}
    run = c.create_run(experiment_id, run_name=f"{study}-launch", tags={TAG_STUDY: study, TAG_KIND: "parent", **tags})
    _log_params(c, run.info.run_id, {k: _param_value(v) for k, v in params.items()})
    if artifacts:
        log_artifacts(c, run.info.run_id, artifacts)
    return run.info.run_id


def open_parent_run(uri: str, experiment_id: str, study: str, parent_run_id: str | None, params: dict[str, Any],
                    tags: dict[str, str], artifacts: dict[str, Any] | None = None) -> TrackingInfo:
    """The study's parent run: created at launch, the same run again (RUNNING) on resume."""
    if parent_run_id is not None:
        client(uri).update_run(parent_run_id, status="RUNNING")
        return TrackingInfo(uri, experiment_id, parent_run_id, study)
    return TrackingInfo(uri, experiment_id, start_parent_run(uri, experiment_id, study, params, tags, artifacts), study)


def finish_parent_run(uri: str, parent_run_id: str, status: str) -> None:
    """The parent run ends FINISHED (KILLED when the study was interrupted)."""
    _driver_call(uri, lambda c: close_run(c, parent_run_id, status))


def _driver_call(uri: str, fn: Callable[[Any], Any]) -> Any:
    """``fn(client)`` with short HTTP limits: the driver's loop must not wait long on a dead server
    once per trial (what it could not send, ``study sync`` sends later)."""
    with quick_http(*TRIAL_HTTP):
        return fn(client(uri))


def set_run_outcome(uri: str, run_id: str, status: str, outcome: str, error: str | None = None) -> None:
    """Driver-side: close a trial's run with the truth (KILLED for pruned/budget, FAILED with the error)."""

    def close(client: Any) -> None:
        run = client.get_run(run_id)
        if run.info.status in ("FINISHED", "FAILED", "KILLED") and run.data.tags.get(TAG_OUTCOME):
            return
        close_run(client, run_id, status, outcome, error)

    _driver_call(uri, close)


def trial_run_ids(uri: str, experiment_id: str, keys: list[str]) -> dict[str, str]:
    """``trial key -> run id`` of those of ``keys`` that have a run (one search; {} if the store fails)."""
    from study.tracking.push import find_trial_runs

    if not keys:
        return {}
    try:
        found = _driver_call(uri, lambda c: find_trial_runs(c, experiment_id))
    except Exception:  # the closing sync makes the runs; a tag falls back to the trial's name
        return {}
    return {k: found[k].info.run_id for k in keys if k in found}


def close_leftover_runs(uri: str, experiment_id: str, parent_run_id: str) -> int:
    """Mark every child of ``parent_run_id`` still RUNNING as KILLED; returns how many."""

    def close(client: Any) -> int:
        runs = client.search_runs(
            [experiment_id], filter_string=f"tags.`{PARENT}` = '{parent_run_id}' and attributes.status = 'RUNNING'",
            max_results=10_000,
        )
        for r in runs:
            close_run(client, r.info.run_id, "KILLED", r.data.tags.get(TAG_OUTCOME, "interrupted"))
        return len(runs)

    return _driver_call(uri, close)
