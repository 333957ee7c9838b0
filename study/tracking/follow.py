"""MLflow runs sent by the driver from the trials' records, for a study whose store is SQLite.

A SQLite store is one file on the driver's machine: every process that writes it takes its lock in
turn, and a Ray worker that talks to it first spends about 2 s of CPU importing mlflow and setting
up the SQLAlchemy store — once per worker process, while its first trials run, on the CPUs the
trials need. With such a store, trials only write their records (``study.tracking.records``, in
the study folder, on the same machine), and the driver sends what the records hold
(:class:`RunFollower`): one writer, one import. With a tracking server (``--tracking-uri http://...``)
the trials send their own runs as before (``TrialRun(background=True)``): they may run on other
machines, whose records the driver may not see.

The sends run in a process of the follower's own, at a lower CPU priority (:data:`NICE`), not in
a thread of the driver: at 64 trials at once they take more CPU than Tune's loop, and in the
driver's process they held its interpreter lock more than the loop did (docs/SCALING.md), so a slot
waited for them before its next trial. MLflow here mirrors the records, which are the truth, so
it may lag behind them; the loop may not. The driver keeps what it reads back (each trial's run
id, and the record's size when sent) from the sends' answers.

The driver sends a trial's record when the trial ends and, while it runs, at most every
:data:`FOLLOW_EVERY_S` seconds when the record grew, so MLflow shows each epoch within seconds.
What it sends is what the record holds and this follower has not sent yet (params, each epoch
once, final metrics, artifacts, the end), in the trial's own run (created with the record's run
name, kind, tags and parent, or found again by its ``xs.trial_key`` tag after a resume). MLflow
trouble stops nothing: the trial's run is retried after ``RETRY_AFTER_S``, and the study's closing
sync (``study.tracking.sync``) sends whatever is still missing.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from study.tracking.push import create_trial_run, find_trial_runs, push_trial
from study.tracking.records import TrialState, read_record, records_dir, safe_name
from study.tracking.store import RETRY_AFTER_S, TrackingInfo, _log_artifact, client, close_run
from study.tracking.system import start_system_metrics, stop_system_metrics

__all__ = ["FOLLOW_EVERY_S", "NICE", "RunFollower", "driver_sends"]

FOLLOW_EVERY_S = 2.0  # s between two sends of a running trial's record
NICE = 10  # the sending process's niceness (added to the driver's): on a busy machine, Tune's loop and the trials go first


def driver_sends(uri: str | None) -> bool:
    """Whether the driver, not the trials, sends the trials' runs: a SQLite store (see the module docstring)."""
    return bool(uri) and str(uri).startswith("sqlite:")


class Sent(NamedTuple):
    """A send's answer, for the driver: the trial's run id ("" while it has none), the record's size
    that was sent (-1: nothing yet), the error that stopped the send (None: none), the sending process."""

    run_id: str
    size: int
    error: str | None
    pid: int = 0


class RunFollower:
    """The driver's sender of trial runs from their records: a process of its own; the caller never waits."""

    def __init__(self, info: TrackingInfo, study_dir: Path, since: float = 0.0) -> None:
        """``since``: when this session began following (time.time()); a record opened later is of a trial
        of this session, whose run cannot exist yet, so it is made without looking for it first."""
        self.info = info
        self.folder = records_dir(Path(study_dir))
        self.since = since
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None  # started by the first push
        self._pending: set[concurrent.futures.Future[Sent]] = set()
        self._queued: dict[str, int] = {}  # trial key -> its pushes not answered yet
        self._sent: dict[str, Sent] = {}
        self._answers = threading.Condition()  # guards the three above; notified at each answer
        self.last_error: str | None = None
        self.closed = False
        self._pid: int | None = None

    def run_id(self, key: str) -> str:
        """The trial's run id ("" while its run does not exist yet, or its send has not answered)."""
        sent = self._sent.get(key)
        return sent.run_id if sent is not None else ""

    def push(self, key: str) -> None:
        """Send, in the background, what the trial's record holds that was not sent yet (in the order pushed)."""
        if self.closed:  # its process knew what it had sent; another one would send it again
            raise RuntimeError(f"RunFollower of {self.folder} is closed: push({key!r}) goes to a new follower")
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"),  # not a fork of Ray's threads
                initializer=_start, initargs=(self.info, self.folder, self.since))
        try:
            future = self._pool.submit(_push, key)
        except concurrent.futures.BrokenExecutor as e:  # its process died: the closing sync sends what is left
            self.last_error = f"{type(e).__name__}: {e}"
            return
        with self._answers:
            self._pending.add(future)
            self._queued[key] = self._queued.get(key, 0) + 1
        future.add_done_callback(lambda f: self._answered(key, f))

    def _answered(self, key: str, future: concurrent.futures.Future[Sent]) -> None:
        try:
            sent = future.result()
        except Exception as e:  # the sending process died (killed, out of memory): the closing sync sends what is left
            sent = Sent(self.run_id(key), -1, f"{type(e).__name__}: {e}")
        with self._answers:
            self._pending.discard(future)
            self._queued[key] -= 1
            if not self._queued[key]:
                del self._queued[key]
            self._sent[key] = sent
            self.last_error = sent.error
            self._pid = sent.pid or self._pid
            self._answers.notify_all()

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until what was pushed so far is sent (or given up); False if ``timeout_s`` ran out first."""
        with self._answers:
            pending = set(self._pending)
            return self._answers.wait_for(lambda: not pending & self._pending, timeout_s)

    def close(self, timeout_s: float = 30.0) -> bool:
        """Flush, then end the sending process (for good); False if sends were left undone."""
        self.closed = True
        done = self.flush(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=done, cancel_futures=True)
            self._pool = None
        return done

    def pid(self) -> int | None:
        """The sending process's pid, as its latest answer says (None before the first answer)."""
        return self._pid

    def changed(self, key: str) -> bool:
        """Whether the trial's record grew since it was last sent (a cheap ``stat``, for the driver's loop);
        False while a push of it is under way (it sends the record as it is then)."""
        if key in self._queued:
            return False
        try:
            size = (self.folder / f"{safe_name(key)}.jsonl").stat().st_size
        except OSError:
            return False
        sent = self._sent.get(key)
        return sent is None or size != sent.size


# -- in the sending process -----------------------------------------------------------------------
_SENDS: _Sends | None = None


def _start(info: TrackingInfo, folder: Path, since: float) -> None:
    global _SENDS
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C in the terminal is the driver's to handle (it flushes, then ends this)
    try:
        os.nice(NICE)
    except OSError:  # not allowed here: the sends go at the driver's priority
        pass
    _SENDS = _Sends(info, folder, int(since * 1000))


def _push(key: str) -> Sent:
    assert _SENDS is not None, "the sending process was not started by RunFollower"
    return _SENDS.push(key)


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


@dataclass
class _Sends:
    """The sending process's state: what it sent of each trial's record, and its MLflow client."""

    info: TrackingInfo
    folder: Path
    since_ms: int
    _trials: dict[str, _Followed] = field(default_factory=dict)
    _client: Any = None

    def push(self, key: str) -> Sent:
        followed = self._trials.setdefault(key, _Followed(self.folder / f"{safe_name(key)}.jsonl"))
        if followed.ended or time.monotonic() < followed.retry_at or not followed.path.exists():
            return Sent(followed.run_id, followed.size, None, os.getpid())
        try:
            if self._client is None:
                self._client = client(self.info.uri)
            self._send(followed, key)
            return Sent(followed.run_id, followed.size, None, os.getpid())
        except Exception as e:  # a locked or unreadable store: the closing sync sends what is left
            followed.retry_at = time.monotonic() + RETRY_AFTER_S
            return Sent(followed.run_id, followed.size, f"{type(e).__name__}: {e}", os.getpid())

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
