"""Many trials logging at once to one tracking server, as a cluster study's trials do, then read back.

Each trial is a process of its own (forked after ``mlflow`` is imported once, so 64 of them start in
a second and share its memory) that logs through the trials' own path — a
:class:`~study.tracking.runs.TrialRun` writing its record first, then calling the server, with the
HTTP limits and the back-off a trial has — and MLflow's system-metrics monitor on its run, as on
a GPU box: its params, one batch of metrics per epoch every ``every_s`` seconds, its final metrics
and an artifact, its end. Then the server is read back by an independent client: one run per trial
(none duplicated), every epoch's every metric once, every final metric (none lost); and each call
that failed on the way (a trial catches up after it, so a failure costs latency, not data) is counted, and how long the
sender took to log each epoch (the trial itself does not wait for it).

``tests/study/tracking/test_server_load.py`` runs it against a SQLite- and a PostgreSQL-backed
``mlflow server``; ``bench/tracking_load.py`` prints its figures.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["EPOCH_METRICS", "LoadReport", "run_load"]

EPOCH_METRICS = ("train_loss", "valid_loss", "accuracy", "top5", "lr", "size", "epoch_seconds", "images_per_s",
                 "data_seconds", "step_seconds", "started_at", "ended_at")  # as many as a real epoch reports
FINAL_METRICS = ("accuracy", "accuracy_tta", "top5", "valid_loss", "train_seconds", "images_per_s", "infer_ms_per_image",
                 "objective")


@dataclass(frozen=True)
class LoadReport:
    backend: str  # what the server stores in (sqlite, postgresql)
    trials: int
    epochs: int
    every_s: float  # s between two epochs of a trial
    wall_s: float  # from the first trial's start to the last trial's end
    calls: int  # MLflow calls the trials made (each log_* and end; not the system metrics')
    failures: int  # of those that failed (timeout, 5xx, database locked), each caught up later
    errors: tuple[str, ...]  # a few of their messages
    epoch_p50_ms: float  # latency of logging one epoch
    epoch_p95_ms: float
    epoch_max_ms: float
    runs: int  # trial runs the server holds
    duplicated: tuple[str, ...]  # trial keys with more than one run
    values_expected: int  # metric values the trials logged (epochs and finals)
    values_found: int  # of those, read back (each step once)
    missing: tuple[str, ...] = field(default=())  # a few of what was not found
    not_finished: int = 0  # trial runs not FINISHED
    synced: bool = False  # the read-back was not whole: the records were sent again (the study's closing sync) and read back
    values_before_sync: int | None = None
    not_finished_before_sync: int | None = None

    @property
    def intact(self) -> bool:
        """Nothing lost, nothing duplicated, every run closed."""
        return (not self.duplicated and self.values_found == self.values_expected and self.runs == self.trials
                and not self.not_finished)

    def line(self) -> str:
        before = (f" (before the closing sync: {self.values_before_sync}/{self.values_expected} values, "
                  f"{self.not_finished_before_sync} not FINISHED)") if self.synced else ""
        return (f"{self.backend:<10} {self.trials:>3} trials x {self.epochs} epochs every {self.every_s:g} s: "
                f"{self.wall_s:6.1f} s, {self.calls} calls, {self.failures} failed; epoch logged in p50 {self.epoch_p50_ms:.0f} ms, "
                f"p95 {self.epoch_p95_ms:.0f} ms, max {self.epoch_max_ms:.0f} ms; read back: {self.runs} runs, "
                f"{len(self.duplicated)} duplicated, {self.values_found}/{self.values_expected} values, "
                f"{self.not_finished} not FINISHED" + before)


def _trial(uri: str, experiment_id: str, parent: str, study: str, key: str, epochs: int, every_s: float, folder: str) -> None:
    """One trial, in its own (forked) process; what it saw goes to ``<folder>/<n>.json``."""
    from study.tracking import TrackingInfo, TrialRun

    os.environ["MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING"] = "true"  # as on a GPU box: a monitor thread per run
    n = key.rsplit("/", 1)[-1]
    started = time.time()
    run = TrialRun(TrackingInfo(uri, experiment_id, parent, study), key, run_name=n, record_dir=Path(folder) / "records",
                   background=True)  # as in a Ray worker: calls go through this process's sender thread
    latencies: list[float] = []
    errors: list[str] = []

    def call(action: Any) -> None:
        """``action``, then wait until the sender has made its calls (the latency a trial does not wait for)."""
        before = run.failures
        action()
        run.flush(300)
        if run.failures > before:
            errors.append(str(run.last_error))

    call(lambda: None)  # the run's creation, submitted by TrialRun()
    call(lambda: run.log_params({f"p{i}": i * 0.5 for i in range(40)}))  # a TrialConfig has about as many
    for epoch in range(epochs):
        t = time.perf_counter()
        call(lambda: run.log_epochs([{"epoch": epoch, **{m: epoch + i / 10 for i, m in enumerate(EPOCH_METRICS)}}]))
        latencies.append(time.perf_counter() - t)
        time.sleep(max(0.0, every_s - (time.perf_counter() - t)))
    call(lambda: run.log_final({m: 0.5 + i / 100 for i, m in enumerate(FINAL_METRICS)}, {"config.json": {"trial": n}}))
    call(lambda: run.end("FINISHED", "finished"))
    Path(folder, f"{n}.json").write_text(json.dumps({
        "calls": 4 + epochs, "failures": run.failures, "errors": errors, "behind": run.behind, "latencies": latencies,
        "started": started, "ended": time.time()}))


def _read_back(uri: str, experiment_id: str, keys: list[str], epochs: int) -> dict[str, Any]:
    from mlflow.tracking import MlflowClient

    from study.tracking import TAG_TRIAL_KEY

    client = MlflowClient(uri)
    runs = [r for r in client.search_runs([experiment_id], max_results=5000) if TAG_TRIAL_KEY in r.data.tags]
    by_key: dict[str, list[Any]] = {}
    for r in runs:
        by_key.setdefault(r.data.tags[TAG_TRIAL_KEY], []).append(r)
    found, missing = 0, []
    for key in keys:
        for r in by_key.get(key, [])[:1]:
            for metric in EPOCH_METRICS:
                steps = [m.step for m in client.get_metric_history(r.info.run_id, metric)]
                found += len(set(steps)) if len(steps) == len(set(steps)) else 0  # a step logged twice counts as lost
                if sorted(steps) != list(range(epochs)):
                    missing.append(f"{key} {metric}: steps {sorted(steps)}")
            finals = [m for m in FINAL_METRICS if f"final_{m}" in r.data.metrics]
            found += len(finals)
            missing += [f"{key} final_{m}" for m in FINAL_METRICS if m not in finals]
        if key not in by_key:
            missing.append(f"{key}: no run")
    return {"runs": len(runs), "duplicated": tuple(k for k, v in by_key.items() if len(v) > 1), "found": found,
            "missing": tuple(missing[:10]), "not_finished": sum(1 for r in runs if r.info.status != "FINISHED")}


def _closing_sync(uri: str, experiment_id: str, folder: Path) -> None:
    """What a study's closing sync does (``study.tracking.sync``): each trial's record into its run."""
    from study.tracking.push import find_trial_runs, push_trial
    from study.tracking.records import read_records
    from study.tracking.store import client, quick_http

    with quick_http(1, 60):
        c = client(uri)
        runs = find_trial_runs(c, experiment_id)
        for state in read_records(folder):  # records/ under folder
            if state.trial_key in runs:
                push_trial(c, runs[state.trial_key], state)


def run_load(uri: str, folder: Path, *, backend: str, trials: int = 64, epochs: int = 10, every_s: float = 1.0,
             study: str = "load") -> LoadReport:
    """``trials`` processes logging ``epochs`` epochs each to the server at ``uri`` at once; then read back
    (and, when something is missing, read back again after a closing sync from the trials' records)."""
    import mlflow  # noqa: F401 -- imported once here, shared by the forked trials

    from study.tracking import check_tracking, start_parent_run

    folder.mkdir(parents=True, exist_ok=True)
    experiment_id = check_tracking(uri, study)
    parent = start_parent_run(uri, experiment_id, study, {"trials": trials}, {})
    keys = [f"load/{i:03d}" for i in range(trials)]
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_trial, args=(uri, experiment_id, parent, study, key, epochs, every_s, str(folder)))
             for key in keys]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=600)
        if p.is_alive():
            p.kill()
    seen = [json.loads(f.read_text()) for f in sorted(folder.glob("*.json"))]
    latencies = sorted(x for s in seen for x in s["latencies"]) or [float("nan")]
    back = _read_back(uri, experiment_id, keys, epochs)
    first = back
    whole = back["found"] == trials * (epochs * len(EPOCH_METRICS) + len(FINAL_METRICS)) and not back["not_finished"]
    if not whole:
        _closing_sync(uri, experiment_id, folder)
        back = _read_back(uri, experiment_id, keys, epochs)
    return LoadReport(
        backend=backend, trials=trials, epochs=epochs, every_s=every_s,
        wall_s=max((s["ended"] for s in seen), default=0.0) - min((s["started"] for s in seen), default=0.0),
        calls=sum(s["calls"] for s in seen) + (trials - len(seen)), failures=sum(s["failures"] for s in seen),
        errors=tuple(dict.fromkeys(e[:300] for s in seen for e in s["errors"]))[:5],
        epoch_p50_ms=1000 * statistics.median(latencies), epoch_p95_ms=1000 * latencies[int(0.95 * (len(latencies) - 1))],
        epoch_max_ms=1000 * latencies[-1], runs=back["runs"], duplicated=back["duplicated"],
        values_expected=trials * (epochs * len(EPOCH_METRICS) + len(FINAL_METRICS)), values_found=back["found"],
        missing=back["missing"], not_finished=back["not_finished"] + (trials - len(seen)),
        synced=not whole, values_before_sync=None if whole else first["found"],
        not_finished_before_sync=None if whole else first["not_finished"],
    )


def report_dict(report: LoadReport) -> dict[str, Any]:
    return {**asdict(report), "intact": report.intact}
