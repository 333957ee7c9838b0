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

With a SQLite store a Ray worker's ``TrialRun`` gets no ``info``: it writes only the record, and
the driver sends it (:mod:`study.tracking.follow`). With a tracking server, the trial sends its own run.

MLflow never makes a trial wait either: in a Ray worker (``TrialRun(background=True)``) the calls
go, in order, through one sender thread per process (:class:`study.tracking.sender.Sender`), which also pays the first
``import mlflow`` and store set-up (seconds) while the trial trains. A worker that exits flushes
its sender for a few seconds; what a killed worker had not sent yet is in the record, and the
driver's closing sync sends it.
"""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from study.common.messages import finite
from study.tracking.push import create_trial_run, drop_empty_twins, find_trial_runs, push_trial
from study.tracking.records import TrialRecord, TrialState
from study.tracking.secrets import scrub, secret_values
from study.tracking.sender import SENDER
from study.tracking.store import (
    RETRY_AFTER_S,
    SENDER_HTTP,
    TRIAL_HTTP,
    TrackingInfo,
    _artifact_bytes,
    _log_artifact,
    _log_params,
    _param_value,
    client,
    close_run,
    quick_http,
)
from study.tracking.system import start_system_metrics, stop_system_metrics

__all__ = ["TrialRun"]


def _first_client(uri: str) -> Any:
    """``_client`` from the sender thread. The first one of a process imports mlflow and its store
    (seconds of pure Python, holding the GIL in 5 ms turns); meanwhile the trial thread would wait up to
    a turn each time it needs the GIL (every record line, every report). Shorter turns while it lasts."""
    import sys

    if "mlflow.tracking" in sys.modules:
        return client(uri)
    turn = sys.getswitchinterval()
    sys.setswitchinterval(min(turn, 0.0005))
    try:
        return client(uri)
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
        self.failures = 0  # MLflow calls that failed (each one is retried by a later catch-up)
        self._retry_at = 0.0
        self._sent_params: set[str] = set()
        self.logged_steps: set[int] = set()
        self.record = TrialRecord(record_dir, trial_key)
        # Whether an MLflow run of this trial may exist already: an earlier attempt recorded something
        # (a record is written before any MLflow call), there is no record to tell, or a call of this
        # attempt failed (a run created by a request whose answer was lost). If not, no search first.
        self._run_may_exist = not self.record.new
        self._write({"event": "open", "trial_key": trial_key, "run_name": run_name, "kind": kind,
                     "tags": {k: scrub(str(v)) for k, v in (extra_tags or {}).items()},
                     "parent_run_id": info.parent_run_id if info else None})
        self.client: Any = None  # made by the first send (in the sender thread when in the background)
        self.system_metrics: Any = None  # MLflow's system-metrics monitor on the run (study.tracking.system)
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

    def log_attempt(self, where: dict[str, Any]) -> None:
        """Record where this attempt of the trial runs (its node) and the epoch it starts from; not sent to MLflow."""
        self._write({"event": "attempt", **where})

    def log_epochs(self, history: Iterable[dict[str, Any]]) -> None:
        """Record and log every epoch of ``history`` not logged yet (step = epoch)."""
        state = self.record.state
        for m in history:
            step = int(m["epoch"])
            if step not in state.epochs:
                values = {k: float(v) for k, v in m.items() if k != "epoch" and finite(v)}
                self._write({"event": "epoch", "step": step, "metrics": values})
        self._send(self._send_epochs)

    def log_final(self, final: dict[str, Any], artifacts: dict[str, Any]) -> None:
        self._write({"event": "final", "metrics": {k: float(v) for k, v in final.items() if finite(v)}})
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
                self.client = _first_client(self.info.uri) if self.background else client(self.info.uri)  # type: ignore[union-attr]
            except Exception as e:
                self.behind, self.last_error = True, f"{type(e).__name__}: {e}"
                return
        if not force and time.monotonic() < self._retry_at:
            self.behind = True
            return
        try:
            with quick_http(*(SENDER_HTTP if self.background else TRIAL_HTTP)):
                if self.behind or not self.run_id:
                    self._catch_up()
                elif action is not None:
                    action()
            self.behind = False
            self.last_error = None
        except Exception as e:  # connection refused, timeout, 5xx...: training goes on
            self.behind = True
            self.failures += 1
            self._run_may_exist = True
            self._retry_at = time.monotonic() + self.retry_after_s
            self.last_error = f"{type(e).__name__}: {e}"

    def _catch_up(self) -> None:
        assert self.info is not None and self.client is not None
        state = self._state()
        if self.run_id:
            run = self.client.get_run(self.run_id)
        else:
            run = find_trial_runs(self.client, self.info.experiment_id, self.key).get(self.key) if self._run_may_exist else None
            if run is None:
                run = create_trial_run(self.client, self.info.experiment_id, self.info.parent_run_id, self.info.study, state)
            else:
                if state.end is None:
                    self.client.update_run(run.info.run_id, status="RUNNING")  # a retried trial goes on
                # epochs logged by an earlier attempt that left no record here
                self.logged_steps |= {m.step for m in self.client.get_metric_history(run.info.run_id, "accuracy")}
            self.run_id = run.info.run_id
            self.system_metrics = start_system_metrics(self.info.uri, self.run_id)
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
        stop_system_metrics(self.system_metrics)  # its last samples go in before the run is closed
        self.system_metrics = None
        end = self._state().end or {}
        if self._run_may_exist:  # a creation that failed may have made a run after all: one run per trial
            drop_empty_twins(self.client, self.info.experiment_id, self.key, keep=self.run_id)  # type: ignore[union-attr]
        close_run(self.client, self.run_id, end["status"], end["outcome"])
