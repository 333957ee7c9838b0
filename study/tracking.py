"""MLflow records of a study: one experiment per study, one parent run per launch, one nested run
per trial, created inside the trial (so it works on a multi-node cluster).

Written with ``MlflowClient`` (explicit run ids, no global "active run" state), because Ray's
``MLflowLoggerCallback`` and ``setup_mlflow`` leave flat runs, RUNNING leftovers and duplicates on
resume. A trial's run is found again by its ``xs.trial_key`` tag, so a retried or resumed trial
continues the same run, and epochs already logged are not logged twice.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

__all__ = [
    "TrackingInfo",
    "TrialRun",
    "check_tracking",
    "close_leftover_runs",
    "default_tracking_uri",
    "start_parent_run",
]

TAG_STUDY = "xs.study"
TAG_KIND = "xs.kind"  # parent | trial | confirmation
TAG_TRIAL_KEY = "xs.trial_key"
TAG_CONFIRMS = "xs.confirms"
TAG_OUTCOME = "xs.outcome"  # finished | pruned | budget | failed
PARENT = "mlflow.parentRunId"

# Environment variables whose values must never be logged as params, tags or artifacts.
SECRET_ENV = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_USERNAME", "AWS_SECRET_ACCESS_KEY")


@dataclass(frozen=True)
class TrackingInfo:
    """What a trial needs to find its MLflow parent (plain data: shipped to Ray workers)."""

    uri: str
    experiment_id: str
    parent_run_id: str
    study: str


def default_tracking_uri(study_dir: Path) -> str:
    """A SQLite store in the study folder (MLflow 3 deprecates the file store)."""
    return f"sqlite:///{(study_dir / 'mlflow.db').resolve()}"


def _client(uri: str):  # type: ignore[no-untyped-def]
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def check_tracking(uri: str, experiment: str, artifact_location: str | None = None, timeout_s: float = 20.0) -> str:
    """Get or create the study's experiment; raise ``ConnectionError`` if the store is unreachable.

    Called before Ray starts, so an unreachable server stops the launch before any work.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout_s)))
    try:
        client = _client(uri)
        exp = client.get_experiment_by_name(experiment)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                client.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        return client.create_experiment(experiment, artifact_location=artifact_location)
    except Exception as e:  # mlflow raises many types for connection problems
        raise ConnectionError(f"MLflow tracking store {uri!r} is not reachable: {type(e).__name__}: {e}") from None


def start_parent_run(
    info_uri: str, experiment_id: str, study: str, params: dict[str, Any], tags: dict[str, str],
    artifacts: dict[str, Any] | None = None,
) -> str:
    client = _client(info_uri)
    run = client.create_run(experiment_id, run_name=f"{study}-launch", tags={TAG_STUDY: study, TAG_KIND: "parent", **tags})
    _log_params(client, run.info.run_id, params)
    if artifacts:
        log_artifacts(client, run.info.run_id, artifacts)
    return run.info.run_id


def _log_params(client: Any, run_id: str, params: dict[str, Any]) -> None:
    from mlflow.entities import Param

    items = [Param(k, _param_value(v)) for k, v in sorted(params.items())]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])


def log_artifacts(client: Any, run_id: str, artifacts: dict[str, Any]) -> None:
    """Log ``name -> content`` (bytes, text, or JSON-able) as files of the run."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, content in artifacts.items():
            path = Path(tmp) / name
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2))
            client.log_artifact(run_id, str(path))


def _param_value(v: Any) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    for name in SECRET_ENV:
        secret = os.environ.get(name)
        if secret and secret in text:
            text = text.replace(secret, "***")
    return text[:6000]


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


class TrialRun:
    """The MLflow run of one trial, continued (not duplicated) when the trial is retried."""

    def __init__(self, info: TrackingInfo, trial_key: str, run_name: str, kind: str = "trial", extra_tags: dict[str, str] | None = None):
        self.info = info
        self.client = _client(info.uri)
        found = self.client.search_runs(
            [info.experiment_id], filter_string=f"tags.`{TAG_TRIAL_KEY}` = '{trial_key}'", max_results=1
        )
        if found:
            self.run_id = found[0].info.run_id
            self.client.update_run(self.run_id, status="RUNNING")
            self.logged_steps = {m.step for m in self.client.get_metric_history(self.run_id, "accuracy")}
            self.params_logged = bool(found[0].data.params)
        else:
            tags = {PARENT: info.parent_run_id, TAG_STUDY: info.study, TAG_KIND: kind, TAG_TRIAL_KEY: trial_key, **(extra_tags or {})}
            run = self.client.create_run(info.experiment_id, run_name=run_name, tags=tags)
            self.run_id = run.info.run_id
            self.logged_steps = set()
            self.params_logged = False

    def log_params(self, params: dict[str, Any]) -> None:
        if not self.params_logged:
            _log_params(self.client, self.run_id, params)
            self.params_logged = True

    def log_epochs(self, history: Iterable[dict[str, Any]]) -> None:
        """Log every epoch of ``history`` not logged yet (step = epoch)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = []
        for m in history:
            step = int(m["epoch"])
            if step in self.logged_steps:
                continue
            batch += [Metric(k, float(v), now, step) for k, v in m.items() if k != "epoch" and _finite(v)]
            self.logged_steps.add(step)
        for i in range(0, len(batch), 500):
            self.client.log_batch(self.run_id, metrics=batch[i : i + 500])

    def log_final(self, final: dict[str, Any], artifacts: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(f"final_{k}", float(v), now, 0) for k, v in final.items() if _finite(v)]
        self.client.log_batch(self.run_id, metrics=metrics)
        log_artifacts(self.client, self.run_id, artifacts)

    def end(self, status: str, outcome: str) -> None:
        self.client.set_tag(self.run_id, TAG_OUTCOME, outcome)
        self.client.set_terminated(self.run_id, status=status)


def set_run_outcome(uri: str, run_id: str, status: str, outcome: str, error: str | None = None) -> None:
    """Driver-side: close a trial's run with the truth (KILLED for pruned/budget, FAILED with the error)."""
    client = _client(uri)
    run = client.get_run(run_id)
    if run.info.status in ("FINISHED", "FAILED", "KILLED") and run.data.tags.get(TAG_OUTCOME):
        return
    client.set_tag(run_id, TAG_OUTCOME, outcome)
    if error:
        client.set_tag(run_id, "xs.error", error[-4000:])
    client.set_terminated(run_id, status=status)


def close_leftover_runs(uri: str, experiment_id: str, parent_run_id: str) -> int:
    """Mark every child of ``parent_run_id`` still RUNNING as KILLED; returns how many."""
    client = _client(uri)
    runs = client.search_runs(
        [experiment_id], filter_string=f"tags.`{PARENT}` = '{parent_run_id}' and attributes.status = 'RUNNING'", max_results=10_000
    )
    for r in runs:
        client.set_tag(r.info.run_id, TAG_OUTCOME, r.data.tags.get(TAG_OUTCOME, "interrupted"))
        client.set_terminated(r.info.run_id, status="KILLED")
    return len(runs)
