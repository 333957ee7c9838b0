"""The study's MLflow store: how to reach it, the tags a study's runs carry, and the few calls
every other module of :mod:`study.tracking` makes through (a client with short HTTP limits,
params and artifacts in batches, a run closed with its outcome).

Written with ``MlflowClient`` (explicit run ids, no global "active run" state), because Ray's
``MLflowLoggerCallback`` and ``setup_mlflow`` leave flat runs, RUNNING leftovers and duplicates on
resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from study.common.folder import folder_tracking_uri
from study.tracking.secrets import scrub

__all__ = ["SENDER_HTTP", "PARENT", "TAG_CONFIRMS", "TAG_ERROR", "TAG_KIND", "TAG_OUTCOME", "TAG_STUDY", "TAG_TRIAL_KEY", "TrackingInfo",
           "EXPERIMENT_KIND", "EXPERIMENT_KIND_TAG", "check_tracking", "client", "close_run", "default_tracking_uri", "log_artifacts", "quick_http",
           "relocate_folder_store", "tag_experiment_kind"]

TAG_STUDY = "xs.study"

TAG_KIND = "xs.kind"  # parent | trial | confirmation

TAG_TRIAL_KEY = "xs.trial_key"

TAG_CONFIRMS = "xs.confirms"

TAG_OUTCOME = "xs.outcome"  # finished | pruned | budget | failed | interrupted

TAG_ERROR = "xs.error"

PARENT = "mlflow.parentRunId"

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"  # MLflow 3's UI: model training, not GenAI (its "Overview" page)
EXPERIMENT_KIND = "custom_model_development"

RETRY_AFTER_S = 15.0  # after a failed MLflow call, no call for this long (s); then catch up

TRIAL_HTTP = (0, 5)  # (retries, timeout in s) of each MLflow request the driver or a trial's own thread waits on
# ... and from a trial's sender thread, which nobody waits on: a tracking server slowed by many trials at once
# (64 on one server: seconds a request, 21 s at most in bench/tracking_load.py) is waited for; at 5 s each slow
# request failed, was sent again by a heavier catch-up, and a run whose creation timed out (but was made) got a
# twin. Not longer: a server that accepts and never answers holds a worker's sender this long a request.
SENDER_HTTP = (0, 20)


@dataclass(frozen=True)
class TrackingInfo:
    """What a trial needs to find its MLflow parent (plain data: shipped to Ray workers)."""

    uri: str
    experiment_id: str
    parent_run_id: str
    study: str


default_tracking_uri = folder_tracking_uri  # a SQLite store in the study folder (MLflow 3 deprecates the file store)


def client(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


_env_lock = threading.RLock()


@contextlib.contextmanager
def quick_http(retries: int, timeout_s: float) -> Iterator[None]:
    """MLflow HTTP requests made in this block give up after ``retries`` retries of ``timeout_s`` each.

    MLflow reads both variables at each request. A Ray worker does not necessarily have the
    driver's values (it inherits the environment only of a cluster the driver started, as it was
    then), so trials set their own.
    """
    names = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(retries), "MLFLOW_HTTP_REQUEST_TIMEOUT": str(int(max(timeout_s, 1)))}
    with _env_lock:
        saved = {k: os.environ.get(k) for k in names}
        os.environ.update(names)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def check_tracking(uri: str, experiment: str, artifact_location: str | None = None, timeout_s: float = 20.0) -> str:
    """Get or create the study's experiment; raise ``ConnectionError`` if the store is unreachable.

    Called before Ray starts, so an unreachable server stops the launch before any work.
    """
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(int(timeout_s)))
    try:
        with quick_http(1, timeout_s):  # a refused connection is an answer: no back-off before saying so
            c = client(uri)
            exp = c.get_experiment_by_name(experiment)
            if exp is not None:
                if exp.lifecycle_stage == "deleted":
                    c.restore_experiment(exp.experiment_id)
                experiment_id = exp.experiment_id
            else:
                experiment_id = c.create_experiment(experiment, artifact_location=artifact_location)
            tag_experiment_kind(c, experiment_id)  # MLflow's UI shows it as model training, not GenAI
            return str(experiment_id)
    except Exception as e:  # mlflow raises many types for connection problems
        raise ConnectionError(f"MLflow tracking store {uri!r} is not reachable: {type(e).__name__}: {e}") from None


def tag_experiment_kind(c: Any, experiment_id: str) -> None:
    """Mark the experiment as model training (once; an experiment the user tagged otherwise is left alone)."""
    exp = c.get_experiment(experiment_id)
    if EXPERIMENT_KIND_TAG not in (exp.tags or {}):
        c.set_experiment_tag(experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)


def close_run(c: Any, run_id: str, status: str, outcome: str | None = None, error: str | None = None) -> None:
    """End a run with its outcome: the ``xs.outcome`` tag (and ``xs.error``), then its terminal status."""
    if outcome is not None:
        c.set_tag(run_id, TAG_OUTCOME, outcome)
    if error:
        c.set_tag(run_id, TAG_ERROR, scrub(error[-4000:]))
    c.set_terminated(run_id, status=status)


def _log_params(client: Any, run_id: str, params: dict[str, str]) -> None:
    from mlflow.entities import Param

    items = [Param(k, v) for k, v in sorted(params.items())]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i : i + 100])

def _artifact_bytes(content: Any) -> bytes:
    """Bytes as they are; text and JSON-able values as UTF-8 text, secrets masked."""
    if isinstance(content, bytes):
        return content
    return scrub(content if isinstance(content, str) else json.dumps(content, indent=2)).encode()

def _log_artifact(client: Any, run_id: str, name: str, content: Path | bytes) -> None:
    if isinstance(content, Path):
        client.log_artifact(run_id, str(content))
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(content)
        client.log_artifact(run_id, str(path))

def log_artifacts(client: Any, run_id: str, artifacts: dict[str, Any]) -> None:
    """Log ``name -> content`` (bytes, text, or JSON-able) as files of the run."""
    for name, content in artifacts.items():
        _log_artifact(client, run_id, name, _artifact_bytes(content))

def _param_value(v: Any, secrets: list[str] | None = None) -> str:
    return scrub(v if isinstance(v, str) else json.dumps(v), secrets)[:6000]


def relocate_folder_store(study_dir: Path, experiment: str) -> str | None:
    """A study folder that was moved or copied: point its own store's artifact locations at the
    folder's ``mlartifacts/`` where it is now; returns the old location, or None if nothing moved.

    MLflow records absolute artifact locations (the experiment's and each run's) in ``mlflow.db``
    and has no API to change them; rewriting that prefix is what moving the folder needs.
    """
    db = Path(study_dir) / "mlflow.db"
    if not db.is_file():
        return None
    new = (Path(study_dir) / "mlartifacts").resolve().as_uri()
    con = sqlite3.connect(str(db))
    try:
        row = con.execute("SELECT artifact_location FROM experiments WHERE name = ?", (experiment,)).fetchone()
        old = row[0] if row else None
        if not old or old == new or not old.endswith("/mlartifacts"):
            return None
        with con:
            con.execute("UPDATE experiments SET artifact_location = ? || substr(artifact_location, ?) "
                        "WHERE artifact_location LIKE ? || '%'", (new, len(old) + 1, old))
            con.execute("UPDATE runs SET artifact_uri = ? || substr(artifact_uri, ?) WHERE artifact_uri LIKE ? || '%'",
                        (new, len(old) + 1, old))
        return str(old)
    finally:
        con.close()
