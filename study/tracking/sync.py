"""``study sync``: make MLflow hold everything the study folder's trial records hold.

After MLflow was unreachable for part of a study, each trial's record (``study.tracking.records``) still
has its params, every epoch's metrics, final metrics, artifacts and end. ``sync_study`` finds each
trial's run by its ``xs.trial_key`` tag (creating it under the study's parent run if the trial
never could) and sends only what the run lacks (``tracking.push_trial``): a metric step already in
MLflow is never logged again, so running it twice sends nothing the second time. It is also the
automatic retry at the end of a launch: with nothing missing it only reads.

Once the study is over (``study.json`` says phase "done"), a run whose record has no end is closed as
KILLED ("interrupted", as ``close_leftover_runs`` does), and the parent run as FINISHED.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from study.common.errors import UsageError
from study.common.folder import check_format, read_study, tracking_uri_of
from study.tracking.push import PushCounts, create_trial_run, find_trial_runs, push_trial
from study.tracking.records import read_records, records_dir
from study.tracking.store import TAG_KIND, TAG_STUDY, check_tracking, client, close_run, quick_http, relocate_folder_store

__all__ = ["SyncReport", "sync_study"]



@dataclass
class SyncReport:
    study: str
    uri: str
    trials: int = 0  # trial records read
    runs_created: int = 0
    sent: PushCounts = field(default_factory=PushCounts)
    synced: int = 0  # trial records whose run now holds all of it
    bad_lines: int = 0  # record lines cut short (a crash while writing), skipped
    seconds: float = 0.0
    error: str | None = None  # why some records could not be sent (None: all of them were)

    @property
    def complete(self) -> bool:
        return self.error is None

    def sentence(self) -> str:
        s = self.sent
        head = f"sync {self.study}" + (" (incomplete)" if self.error else "")
        text = (f"{head}: {self.trials} trial record(s) -> {self.uri}: {self.runs_created} run(s) created, "
                f"{s.params} param(s), {s.metrics} metric value(s), {s.artifacts} artifact(s), {s.statuses} status(es) sent; "
                f"{s.present} item(s) already there ({self.seconds:.1f} s)")
        if self.bad_lines:
            text += f"; {self.bad_lines} incomplete record line(s) skipped"
        return text


def sync_study(study_dir: Path, tracking_uri: str | None = None, say: Callable[[str], None] = print,
               timeout_s: float = 15.0) -> SyncReport:
    """Send to MLflow what the records of ``study_dir`` hold and MLflow lacks; never raises for an
    unreachable server (``report.error`` says what is still missing).

    Each MLflow request gets ``timeout_s`` and one retry (a refused connection fails at once); a
    ``UsageError`` only for a folder that is no study, or a study launched without MLflow.
    """
    started = time.perf_counter()
    study_dir = Path(study_dir)
    meta = read_study(study_dir)
    check_format(study_dir, meta, "study sync")
    name = meta["name"]
    own_uri = tracking_uri_of(study_dir, meta)
    uri = tracking_uri or own_uri
    if not uri:
        raise UsageError(f"study {name!r} was launched with --no-mlflow; pass --tracking-uri to send its records to an MLflow server")
    states = read_records(study_dir)
    report = SyncReport(name, uri, trials=len(states), bad_lines=sum(s.bad_lines for s in states))
    over = _study_over(study_dir, meta)
    same_store = uri == own_uri
    if same_store and meta.get("tracking_store") == "folder":
        relocate_folder_store(study_dir, name)  # a moved folder: its artifacts are where it is now
    done: set[str] = set()
    try:
        with quick_http(1, timeout_s):
            artifacts = (study_dir / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None
            experiment_id = check_tracking(uri, name, artifact_location=artifacts, timeout_s=timeout_s)
            c = client(uri)
            parent_id = meta.get("parent_run_id") if same_store else _parent_run(c, experiment_id, meta)
            runs = find_trial_runs(c, experiment_id) if states else {}
            for state in states:
                run = runs.get(state.trial_key)
                if run is None:
                    parent = (state.parent_run_id or parent_id) if same_store else parent_id
                    run = create_trial_run(c, experiment_id, parent, name, state)
                    report.runs_created += 1
                end = None if state.end or not over else {"status": "KILLED", "outcome": "interrupted"}
                report.sent.add(push_trial(c, run, state, end=end))
                done.add(state.trial_key)
            if over and parent_id:
                parent_run = c.get_run(parent_id)
                if parent_run.info.status == "RUNNING":
                    close_run(c, parent_id, "FINISHED")
                    report.sent.statuses += 1
    except ConnectionError as e:
        report.error = str(e)
    except Exception as e:  # mlflow raises many types for connection problems
        report.error = f"MLflow tracking store {uri!r} failed: {type(e).__name__}: {e}"
    report.synced = len(done)
    report.seconds = time.perf_counter() - started
    if report.error:
        left = [s for s in states if s.trial_key not in done]
        report.error += (
            f"; {len(left)} of {len(states)} trial record(s) not checked against MLflow "
            f"({sum(s.metric_count() for s in left)} metric value(s), {sum(len(s.artifacts) for s in left)} artifact(s)), "
            f"kept in {records_dir(study_dir)}/; run `study sync {name}` again when the server is up"
        )
    say(report.sentence())
    return report


def _study_over(study_dir: Path, meta: dict[str, Any]) -> bool:
    """Done: no trial of it will run again (an interrupted study may be resumed: not over)."""
    if "phase" in meta:
        return meta["phase"] == "done"
    return (study_dir / "summary.json").exists()


def _parent_run(client: Any, experiment_id: str, meta: dict[str, Any]) -> str:
    """The parent run of this launch in another store (``--tracking-uri``): found by launch id, or created."""
    launch_id = meta.get("launch_id", "")
    found = client.search_runs([experiment_id], filter_string=f"tags.`{TAG_KIND}` = 'parent' and tags.`xs.launch_id` = '{launch_id}'",
                               max_results=1)
    if found:
        return found[0].info.run_id
    run = client.create_run(experiment_id, run_name=f"{meta['name']}-launch",
                            tags={TAG_STUDY: meta["name"], TAG_KIND: "parent", "xs.launch_id": launch_id, "xs.synced_from": "records"})
    return run.info.run_id
