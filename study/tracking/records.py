"""Each trial's own record in the study folder: what it would log to MLflow, kept whether or not
MLflow is reachable, so that ``study sync`` can put into MLflow whatever did not get there.

``<study_dir>/records/<trial key>.jsonl`` holds one JSON object a line, ``event`` being one of
``open`` (run name, kind, tags, parent), ``params``, ``epoch`` (``step`` = epoch, ``metrics``),
``final`` (metrics), ``artifact`` (``name``; the file lies in ``<study_dir>/records/<trial key>/``),
``end`` (``status``, ``outcome``, ``error``) and ``attempt`` (where an attempt of the trial runs: Ray
``node_id``, ``node_ip``, ``host``, ``pid``, and ``from_epoch``, the epochs its checkpoint held; record
only, MLflow does not get it). Each line is appended with one ``write``, then
flushed to disk (fsync); a line cut short by a crash does not parse and is skipped on reading, so
nothing half-written is ever trusted. A retried trial appends to the same file: the first value of
an epoch is kept (a retry from a checkpoint recomputes the same one), the last ``end`` wins.

Plain files and no MLflow import here: the worker writes them, ``study.tracking.sync`` reads them.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["TrialRecord", "TrialState", "read_record", "read_records", "records_dir", "safe_name", "trial_key", "record_end"]

RECORDS = "records"


def trial_key(launch_id: str, trial_id: str) -> str:
    """The key that names a trial's record and tags its MLflow run (``xs.trial_key``)."""
    return f"{launch_id}/{trial_id}"


def safe_name(key: str) -> str:
    """A file name for ``key`` (``launch/trial`` -> ``launch--trial``; anything odd -> ``_``)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", key.replace("/", "--"))


def records_dir(study_dir: Path) -> Path:
    return Path(study_dir) / RECORDS


@dataclass
class TrialState:
    """What a record says, folded from its events (see the module docstring)."""

    trial_key: str
    run_name: str = ""
    kind: str = "trial"
    tags: dict[str, str] = field(default_factory=dict)
    parent_run_id: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    epochs: dict[int, dict[str, float]] = field(default_factory=dict)  # step -> metrics
    times: dict[int, int] = field(default_factory=dict)  # step -> ms since the epoch, when it was recorded
    final: dict[str, float] = field(default_factory=dict)
    final_time: int = 0
    artifacts: dict[str, Path | bytes] = field(default_factory=dict)  # name -> file (or content, no folder)
    end: dict[str, Any] | None = None  # {"status", "outcome", "error"}
    opened_at: int = 0  # ms since the epoch: when the first attempt opened the record
    attempts: list[dict[str, Any]] = field(default_factory=list)  # each attempt's node and start epoch, in order (with "time")
    bad_lines: int = 0

    def apply(self, event: dict[str, Any], folder: Path | None = None) -> None:
        kind = event.get("event")
        t = int(event.get("time", 0))
        if kind == "open":
            self.opened_at = self.opened_at or t
            self.run_name = event.get("run_name") or self.run_name
            self.kind = event.get("kind") or self.kind
            self.tags.update(event.get("tags") or {})
            self.parent_run_id = event.get("parent_run_id") or self.parent_run_id
        elif kind == "params":
            for k, v in event["params"].items():
                self.params.setdefault(k, v)
        elif kind == "epoch":
            step = int(event["step"])
            if step not in self.epochs:
                self.epochs[step] = dict(event["metrics"])
                self.times[step] = t
        elif kind == "final":
            self.final.update(event["metrics"])
            self.final_time = t
        elif kind == "artifact":
            name = event["name"]
            if folder is not None:
                self.artifacts[name] = folder / name
        elif kind == "end":
            self.end = {"status": event["status"], "outcome": event["outcome"], "error": event.get("error")}
        elif kind == "attempt":
            self.attempts.append({k: v for k, v in event.items() if k != "event"})

    def metric_count(self) -> int:
        return sum(len(m) for m in self.epochs.values()) + len(self.final)


class TrialRecord:
    """Appends a trial's events to its record (or, with ``folder=None``, only keeps them in memory).

    Opening an existing record (a retried trial) reads it first, so ``state`` holds what the earlier
    attempts recorded too.
    """

    def __init__(self, folder: Path | None, key: str) -> None:
        self.key = key
        self.path = None if folder is None else Path(folder) / f"{safe_name(key)}.jsonl"
        self.files = None if folder is None else Path(folder) / safe_name(key)
        self.new = False  # True: no attempt of this trial recorded anything before (so none made an MLflow run)
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                self.state = read_record(self.path)
                return
            self.new = True
        self.state = TrialState(key)

    def write(self, event: dict[str, Any]) -> None:
        event = {"time": int(time.time() * 1000), **event}
        self.state.apply(event, self.files)
        if self.path is not None:
            _append_line(self.path, json.dumps(event, allow_nan=False))

    def add_artifact(self, name: str, content: bytes | str) -> None:
        data = content.encode() if isinstance(content, str) else content
        if self.files is None:
            self.write({"event": "artifact", "name": name})
            self.state.artifacts[name] = data
            return
        self.files.mkdir(parents=True, exist_ok=True)
        tmp = self.files / f".{name}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self.files / name)  # the file is whole before the line that names it is written
        self.write({"event": "artifact", "name": name})


def _append_line(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())  # one write: concurrent appenders never interleave a line
        os.fsync(fd)
    finally:
        os.close(fd)


def read_record(path: Path) -> TrialState:
    """Fold a record file; lines that do not parse (a write cut short) are counted and skipped."""
    folder = path.with_suffix("")
    state: TrialState | None = None
    bad = 0
    with open(path, "rb") as f:
        for raw in f:
            try:
                event = json.loads(raw)
                if not isinstance(event, dict) or not raw.endswith(b"\n"):
                    raise ValueError("not a whole line")
                if state is None:
                    state = TrialState(event.get("trial_key") or path.stem)
                state.apply(event, folder)
            except (ValueError, KeyError, TypeError):
                bad += 1
    state = state or TrialState(path.stem)
    state.bad_lines = bad
    return state


def read_records(study_dir: Path) -> list[TrialState]:
    folder = records_dir(study_dir)
    return [read_record(p) for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []


def record_end(study_dir: str | Path | None, key: str, status: str, outcome: str, error: str | None = None) -> None:
    """Driver side: add the outcome the driver decided (pruned, budget, failed) to a trial's record.

    A trial stopped from outside cannot write its own end; without this, ``study sync`` knows only
    that it did not finish. No-op without a study folder or a record for ``key``.
    """
    if not study_dir:
        return
    path = records_dir(Path(study_dir)) / f"{safe_name(key)}.jsonl"
    if not path.exists():
        return
    from study.tracking.secrets import scrub

    event = {"time": int(time.time() * 1000), "event": "end", "status": status, "outcome": outcome,
             "error": scrub(error[-4000:]) if error else None}
    _append_line(path, json.dumps(event))
