"""MLflow records of a study: one experiment per study, one parent run per launch, one nested run
per trial, created inside the trial (so it works on a multi-node cluster).

Written with ``MlflowClient`` (explicit run ids, no global "active run" state), because Ray's
``MLflowLoggerCallback`` and ``setup_mlflow`` leave flat runs, RUNNING leftovers and duplicates on
resume. A trial's run is found again by its ``xs.trial_key`` tag, so a retried or resumed trial
continues the same run, and epochs already logged are not logged twice.

MLflow trouble never stops training: every trial first writes what it logs to its record in the
study folder (``study.tracking.records``); a failed MLflow call only leaves the run behind, and the trial
catches up after ``RETRY_AFTER_S`` (``push_trial``: what the record has and the run has not).
Whatever is still missing when the trial ends, ``study sync`` sends later.

MLflow never makes a trial wait either: in a Ray worker (``TrialRun(background=True)``) the calls
go, in order, through one sender thread per process (:class:`study.tracking.sender.Sender`), which also pays the first
``import mlflow`` and store set-up (seconds) while the trial trains. A worker that exits flushes
its sender for a few seconds; what a killed worker had not sent yet is in the record, and the
driver's closing sync sends it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from study.tracking.records import TrialRecord, TrialState
from study.tracking.sender import SENDER
from study.tracking.secrets import SECRET_ENV, scrub, secret_values

__all__ = [
    "PushCounts",
    "SECRET_ENV",
    "TrackingInfo",
    "TrialRun",
    "check_tracking",
    "close_leftover_runs",
    "create_trial_run",
    "default_tracking_uri",
    "find_trial_runs",
    "push_trial",
    "quick_http",
    "set_run_outcome",
    "start_parent_run",
]

TAG_STUDY = "xs.study"
TAG_KIND = "xs.kind"  # parent | trial | confirmation
TAG_TRIAL_KEY = "xs.trial_key"
TAG_CONFIRMS = "xs.confirms"
TAG_OUTCOME = "xs.outcome"  # finished | pruned | budget | failed | interrupted
TAG_ERROR = "xs.error"
PARENT = "mlflow.parentRunId"

RETRY_AFTER_S = 15.0  # after a failed MLflow call, no call for this long (s); then catch up
TRIAL_HTTP = (0, 5)  # (retries, timeout in s) of each MLflow request from a trial or the driver's closing calls


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
    tags = {k: scrub(str(v)) for k, v in tags.items()}
    run = client.create_run(experiment_id, run_name=f"{study}-launch", tags={TAG_STUDY: study, TAG_KIND: "parent", **tags})
    _log_params(client, run.info.run_id, {k: _param_value(v) for k, v in params.items()})
    if artifacts:
        log_artifacts(client, run.info.run_id, artifacts)
    return run.info.run_id


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


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


# ------------------------------------------------------------------------------------------------
# A trial's run made to match its record
# ------------------------------------------------------------------------------------------------


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
            client.set_tag(run_id, TAG_OUTCOME, end["outcome"])
            if end.get("error"):
                client.set_tag(run_id, TAG_ERROR, end["error"])
            client.set_terminated(run_id, status=end["status"])
            counts.statuses += 1
        else:
            counts.present += 1
    return counts


def _first_client(uri: str) -> Any:
    """``_client`` from the sender thread. The first one of a process imports mlflow and its store
    (seconds of pure Python, holding the GIL in 5 ms turns); meanwhile the trial thread would wait up to
    a turn each time it needs the GIL (every record line, every report). Shorter turns while it lasts."""
    import sys

    if "mlflow.tracking" in sys.modules:
        return _client(uri)
    turn = sys.getswitchinterval()
    sys.setswitchinterval(min(turn, 0.0005))
    try:
        return _client(uri)
    finally:
        sys.setswitchinterval(turn)


class TrialRun:
    """The MLflow run of one trial, continued (not duplicated) when the trial is retried, and the
    trial's record in the study folder (``record_dir``; in memory only without one).

    Everything is recorded first, then sent. A failed MLflow call (server down, timeout, 5xx) is
    not raised: the run is ``behind``, nothing is sent for ``retry_after_s``, then one catch-up
    (``push_trial``) sends all that is missing. If the run cannot be created at the start, the
    catch-up creates it later (tagged with the same key, under the same parent). ``info=None``:
    only the record.

    ``background=True``: the record is written at once, the MLflow calls go through this process's
    :data:`SENDER` (the caller never waits; ``run_id`` is "" until the run exists; :meth:`flush`
    waits). Otherwise each call is made before the method returns.
    """

    def __init__(self, info: TrackingInfo | None, trial_key: str, run_name: str, kind: str = "trial",
                 extra_tags: dict[str, str] | None = None, record_dir: Path | None = None,
                 retry_after_s: float = RETRY_AFTER_S, background: bool = False) -> None:
        self.info = info
        self.background = background
        self._mutex = threading.Lock()  # the record's state: written by the trial, read by the sender
        self.key = trial_key
        self.retry_after_s = retry_after_s
        self.run_id = ""  # "" until the run exists in MLflow
        self.behind = False  # something recorded may be missing from MLflow
        self.last_error: str | None = None
        self._retry_at = 0.0
        self._sent_params: set[str] = set()
        self.logged_steps: set[int] = set()
        self.record = TrialRecord(record_dir, trial_key)
        self._write({"event": "open", "trial_key": trial_key, "run_name": run_name, "kind": kind,
                     "tags": {k: scrub(str(v)) for k, v in (extra_tags or {}).items()},
                     "parent_run_id": info.parent_run_id if info else None})
        self.client: Any = None  # made by the first send (in the sender thread when in the background)
        self._send(None, force=True)  # find or create the run; send what earlier attempts recorded

    def _write(self, event: dict[str, Any]) -> None:
        with self._mutex:
            self.record.write(event)

    def _state(self) -> TrialState:
        """The record's state as of now (a copy when the sender reads it while the trial writes)."""
        if not self.background:
            return self.record.state
        with self._mutex:
            return copy.deepcopy(self.record.state)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until the calls made so far reached MLflow (or were given up); no-op when not in the background."""
        return SENDER.flush(timeout_s) if self.background else True

    # -- what the trainable calls: record, then send ----------------------------------------------
    def log_params(self, params: dict[str, Any]) -> None:
        state = self.record.state
        secrets = secret_values()  # once for all the values
        new = {k: v for k, v in ((k, _param_value(v, secrets)) for k, v in params.items()) if k not in state.params}
        if new:
            self._write({"event": "params", "params": new})
        self._send(self._send_params)

    def log_epochs(self, history: Iterable[dict[str, Any]]) -> None:
        """Record and log every epoch of ``history`` not logged yet (step = epoch)."""
        state = self.record.state
        for m in history:
            step = int(m["epoch"])
            if step not in state.epochs:
                values = {k: float(v) for k, v in m.items() if k != "epoch" and _finite(v)}
                self._write({"event": "epoch", "step": step, "metrics": values})
        self._send(self._send_epochs)

    def log_final(self, final: dict[str, Any], artifacts: dict[str, Any]) -> None:
        self._write({"event": "final", "metrics": {k: float(v) for k, v in final.items() if _finite(v)}})
        for name, content in artifacts.items():
            with self._mutex:
                self.record.add_artifact(name, _artifact_bytes(content))
        self._send(self._send_final)

    def end(self, status: str, outcome: str) -> None:
        self._write({"event": "end", "status": status, "outcome": outcome})
        self._send(self._send_end, force=True)  # one last try, back-off or not

    # -- sending --------------------------------------------------------------------------------
    def _send(self, action: Callable[[], None] | None, force: bool = False) -> None:
        if self.info is None:
            return
        if self.background:
            SENDER.submit(lambda: self._send_now(action, force))
        else:
            self._send_now(action, force)

    def _send_now(self, action: Callable[[], None] | None, force: bool) -> None:
        if self.client is None:
            try:
                self.client = _first_client(self.info.uri) if self.background else _client(self.info.uri)  # type: ignore[union-attr]
            except Exception as e:
                self.behind, self.last_error = True, f"{type(e).__name__}: {e}"
                return
        if not force and time.monotonic() < self._retry_at:
            self.behind = True
            return
        try:
            with quick_http(*TRIAL_HTTP):
                if self.behind or not self.run_id:
                    self._catch_up()
                elif action is not None:
                    action()
            self.behind = False
            self.last_error = None
        except Exception as e:  # connection refused, timeout, 5xx...: training goes on
            self.behind = True
            self._retry_at = time.monotonic() + self.retry_after_s
            self.last_error = f"{type(e).__name__}: {e}"

    def _catch_up(self) -> None:
        assert self.info is not None and self.client is not None
        state = self._state()
        if self.run_id:
            run = self.client.get_run(self.run_id)
        else:
            run = find_trial_runs(self.client, self.info.experiment_id, self.key).get(self.key)
            if run is None:
                run = create_trial_run(self.client, self.info.experiment_id, self.info.parent_run_id, self.info.study, state)
            else:
                if state.end is None:
                    self.client.update_run(run.info.run_id, status="RUNNING")  # a retried trial goes on
                # epochs logged by an earlier attempt that left no record here
                self.logged_steps |= {m.step for m in self.client.get_metric_history(run.info.run_id, "accuracy")}
            self.run_id = run.info.run_id
        push_trial(self.client, run, state)
        self.logged_steps |= set(state.epochs)
        self._sent_params = set(state.params) | set(run.data.params)

    def _send_params(self) -> None:
        missing = {k: v for k, v in self._state().params.items() if k not in self._sent_params}
        _log_params(self.client, self.run_id, missing)
        self._sent_params |= set(missing)

    def _send_epochs(self) -> None:
        from mlflow.entities import Metric

        state = self._state()
        steps = sorted(set(state.epochs) - self.logged_steps)
        batch = [Metric(k, v, state.times[s], s) for s in steps for k, v in state.epochs[s].items()]
        for i in range(0, len(batch), 500):
            self.client.log_batch(self.run_id, metrics=batch[i : i + 500])
        self.logged_steps |= set(steps)

    def _send_final(self) -> None:
        from mlflow.entities import Metric

        state = self._state()
        self.client.log_batch(self.run_id, metrics=[Metric(f"final_{k}", v, state.final_time, 0) for k, v in state.final.items()])
        for name, content in state.artifacts.items():
            _log_artifact(self.client, self.run_id, name, content)

    def _send_end(self) -> None:
        end = self._state().end or {}
        self.client.set_tag(self.run_id, TAG_OUTCOME, end["outcome"])
        self.client.set_terminated(self.run_id, status=end["status"])


# ------------------------------------------------------------------------------------------------
# Driver side
# ------------------------------------------------------------------------------------------------

def _driver_call(uri: str, fn: Callable[[Any], Any]) -> Any:
    """``fn(client)`` with short HTTP limits: the driver's loop must not wait long on a dead server
    once per trial (what it could not send, ``study sync`` sends later)."""
    with quick_http(*TRIAL_HTTP):
        return fn(_client(uri))


def set_run_outcome(uri: str, run_id: str, status: str, outcome: str, error: str | None = None) -> None:
    """Driver-side: close a trial's run with the truth (KILLED for pruned/budget, FAILED with the error)."""

    def close(client: Any) -> None:
        run = client.get_run(run_id)
        if run.info.status in ("FINISHED", "FAILED", "KILLED") and run.data.tags.get(TAG_OUTCOME):
            return
        client.set_tag(run_id, TAG_OUTCOME, outcome)
        if error:
            client.set_tag(run_id, TAG_ERROR, scrub(error[-4000:]))
        client.set_terminated(run_id, status=status)

    _driver_call(uri, close)


def close_leftover_runs(uri: str, experiment_id: str, parent_run_id: str) -> int:
    """Mark every child of ``parent_run_id`` still RUNNING as KILLED; returns how many."""

    def close(client: Any) -> int:
        runs = client.search_runs(
            [experiment_id], filter_string=f"tags.`{PARENT}` = '{parent_run_id}' and attributes.status = 'RUNNING'",
            max_results=10_000,
        )
        for r in runs:
            client.set_tag(r.info.run_id, TAG_OUTCOME, r.data.tags.get(TAG_OUTCOME, "interrupted"))
            client.set_terminated(r.info.run_id, status="KILLED")
        return len(runs)

    return _driver_call(uri, close)
