"""MLflow runs sent by the driver from the trials' records, for a study whose store is SQLite.

A SQLite store is one file on the driver's machine: every process that writes it takes its lock in
turn, and a Ray worker that talks to it first spends about 2 s of CPU importing mlflow and setting
up the SQLAlchemy store — once per worker process, while its first trials run, on the CPUs the
trials need. With such a store, trials only write their records (``study.tracking.records``, in
the study folder, on the same machine), and the driver sends what the records hold in one thread
of its own (:class:`RunFollower`): one writer, one import, the MLflow client the driver has anyway.
With a tracking server (``--tracking-uri http://...``) the trials send their own runs as before
(``TrialRun(background=True)``): they may run on other machines, whose records the driver may not see.

The driver sends a trial's record when the trial ends and, while it runs, at most every
:data:`FOLLOW_EVERY_S` seconds when the record grew, so MLflow shows each epoch within seconds.
What it sends is what the record holds and this follower has not sent yet (params, each epoch
once, final metrics, artifacts, the end), in the trial's own run (created with the record's run
name, kind, tags and parent, or found again by its ``xs.trial_key`` tag after a resume). MLflow
trouble stops nothing: the trial's run is retried after ``RETRY_AFTER_S``, and the study's closing
sync (``study.tracking.sync``) sends whatever is still missing.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from study.tracking.push import create_trial_run, find_trial_runs, push_trial
from study.tracking.records import TrialState, read_record, records_dir, safe_name
from study.tracking.sender import Sender
from study.tracking.store import RETRY_AFTER_S, TrackingInfo, _log_artifact, client, close_run
from study.tracking.system import start_system_metrics, stop_system_metrics

__all__ = ["FOLLOW_EVERY_S", "RunFollower", "driver_sends"]

FOLLOW_EVERY_S = 2.0  # s between two sends of a running trial's record
PUSH_DELAY_S = 0.3  # a push waits this long: a trial's end is when the driver's Tune loop is busiest (next trial)


def driver_sends(uri: str | None) -> bool:
    """Whether the driver, not the trials, sends the trials' runs: a SQLite store (see the module docstring)."""
    return bool(uri) and str(uri).startswith("sqlite:")


@dataclass
class _Followed:
    """What has been sent of one trial's record."""

    path: Path
    run_id: str = ""
    params: set[str] = field(default_factory=set)
    steps: set[int] = field(default_factory=set)
    final: set[str] = field(default_factory=set)
    artifacts: set[str] = field(default_factory=set)
    ended: bool = False
    size: int = -1  # the record's size when last sent
    retry_at: float = 0.0
    system_metrics: Any = None


class RunFollower:
    """The driver's sender of trial runs from their records (one thread; the caller never waits)."""

    def __init__(self, info: TrackingInfo, study_dir: Path, since: float = 0.0) -> None:
        """``since``: when this session began following (time.time()); a record opened later is of a trial
        of this session, whose run cannot exist yet, so it is made without looking for it first."""
        self.info = info
        self.folder = records_dir(Path(study_dir))
        self.since_ms = int(since * 1000)
        self._trials: dict[str, _Followed] = {}
        self._sender = Sender()
        self._hurry = threading.Event()
        self._client: Any = None
        self.last_error: str | None = None

    def run_id(self, key: str) -> str:
        """The trial's run id ("" while its run does not exist yet)."""
        followed = self._trials.get(key)
        return followed.run_id if followed is not None else ""

    def push(self, key: str) -> None:
        """Send, in the background, what the trial's record holds that was not sent yet."""
        at = time.monotonic() + PUSH_DELAY_S
        self._sender.submit(lambda: self._push_later(key, at))

    def _push_later(self, key: str, at: float) -> None:
        self._hurry.wait(max(0.0, at - time.monotonic()))  # no waiting once someone waits for the sends
        self._push_now(key)

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until what was pushed so far is sent (or given up)."""
        self._hurry.set()
        try:
            return self._sender.flush(timeout_s)
        finally:
            self._hurry.clear()

    def changed(self, key: str) -> bool:
        """Whether the trial's record grew since it was last sent (a cheap ``stat``, for the driver's loop)."""
        followed = self._trials.get(key)
        path = followed.path if followed is not None else self.folder / f"{safe_name(key)}.jsonl"
        try:
            size = path.stat().st_size
        except OSError:
            return False
        return followed is None or size != followed.size

    # -- in the sender thread ---------------------------------------------------------------------
    def _push_now(self, key: str) -> None:
        followed = self._trials.setdefault(key, _Followed(self.folder / f"{safe_name(key)}.jsonl"))
        if followed.ended or time.monotonic() < followed.retry_at or not followed.path.exists():
            return
        turn = sys.getswitchinterval()
        sys.setswitchinterval(min(turn, 0.0005))  # short GIL turns: the driver's Tune loop runs beside this thread
        try:
            if self._client is None:
                self._client = client(self.info.uri)
            self._send(followed, key)
            self.last_error = None
        except Exception as e:  # a locked or unreadable store: the closing sync sends what is left
            followed.retry_at = time.monotonic() + RETRY_AFTER_S
            self.last_error = f"{type(e).__name__}: {e}"
        finally:
            sys.setswitchinterval(turn)

    def _send(self, followed: _Followed, key: str) -> None:
        from mlflow.entities import Metric, Param

        size = followed.path.stat().st_size
        state = read_record(followed.path)
        c = self._client
        if not followed.run_id:
            opened_before = not self.since_ms or state.opened_at < self.since_ms
            # a trial of an earlier session (a resumed study) goes on in its run
            run = find_trial_runs(c, self.info.experiment_id, key).get(key) if opened_before else None
            if run is not None:
                self._continue(followed, run, state)
                followed.size = size
                return
            run = create_trial_run(c, self.info.experiment_id, state.parent_run_id or self.info.parent_run_id,
                                   self.info.study, state)
            followed.run_id = run.info.run_id
            followed.system_metrics = start_system_metrics(self.info.uri, followed.run_id)
        run_id = followed.run_id
        params = [Param(k, v) for k, v in sorted(state.params.items()) if k not in followed.params]
        steps = sorted(set(state.epochs) - followed.steps)
        metrics = [Metric(k, v, state.times[s], s) for s in steps for k, v in state.epochs[s].items()]
        metrics += [Metric(f"final_{k}", v, state.final_time, 0) for k, v in state.final.items() if k not in followed.final]
        # one transaction for what is new (MLflow takes at most 100 params and 1000 metrics a batch)
        batches = max(-(-len(params) // 100), -(-len(metrics) // 500))
        for i in range(batches):
            c.log_batch(run_id, params=params[i * 100 : (i + 1) * 100], metrics=metrics[i * 500 : (i + 1) * 500])
        followed.params |= set(state.params)
        followed.steps |= set(steps)
        followed.final |= set(state.final)
        for name, content in state.artifacts.items():
            if name not in followed.artifacts and (not isinstance(content, Path) or content.exists()):
                _log_artifact(c, run_id, name, content)
                followed.artifacts.add(name)
        if state.end is not None:
            stop_system_metrics(followed.system_metrics)  # its last samples go in before the run is closed
            followed.system_metrics = None
            close_run(c, run_id, state.end["status"], state.end["outcome"], state.end.get("error"))
            followed.ended = True
        followed.size = size

    def _continue(self, followed: _Followed, run: Any, state: TrialState) -> None:
        """A run an earlier session made: send what it lacks (asking MLflow what it has: ``push_trial``),
        then go on from the record as for a run of this session."""
        if state.end is None and run.info.status != "RUNNING":
            self._client.update_run(run.info.run_id, status="RUNNING")  # the trial goes on
        push_trial(self._client, run, state)
        followed.run_id = run.info.run_id
        followed.params |= set(state.params)
        followed.steps |= set(state.epochs)
        followed.final |= set(state.final)
        followed.artifacts |= set(state.artifacts)
        followed.ended = state.end is not None
        if not followed.ended:
            followed.system_metrics = start_system_metrics(self.info.uri, followed.run_id)
