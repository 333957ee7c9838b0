"""MLflow, and the study folder's trial records it is filled from.

Every MLflow call of the project goes through this package: :mod:`~study.tracking.store` (the
store, the tags, a run closed with its outcome), :mod:`~study.tracking.parent` (the study's parent
run, the driver's verdicts), :mod:`~study.tracking.runs` (one nested run per trial, continued on a
retry), :mod:`~study.tracking.push` (a run made to match its record),
:mod:`~study.tracking.sender` (the one thread per Ray worker that sends a trial's calls),
:mod:`~study.tracking.follow` (the driver's sends from the records, for a SQLite store),
:mod:`~study.tracking.records` (each trial's own fsync'ed record, the source of truth),
:mod:`~study.tracking.sync` (``study sync``: what MLflow missed), :mod:`~study.tracking.secrets`
and :mod:`~study.tracking.artifacts`. mlflow itself is imported only when a call is made.
"""

from study.tracking.parent import close_leftover_runs, finish_parent_run, open_parent_run, set_run_outcome, start_parent_run, trial_run_ids
from study.tracking.push import PushCounts, create_trial_run, find_trial_runs, push_trial
from study.tracking.records import TrialRecord, TrialState, read_record, read_records, record_end, records_dir, trial_key
from study.tracking.runs import TrialRun
from study.tracking.store import (
                                   PARENT,
                                   TAG_CONFIRMS,
                                   TAG_ERROR,
                                   TAG_KIND,
                                   TAG_OUTCOME,
                                   TAG_STUDY,
                                   TAG_TRIAL_KEY,
                                   TrackingInfo,
                                   check_tracking,
                                   client,
                                   close_run,
                                   default_tracking_uri,
                                   quick_http,
                                   relocate_folder_store,
)
from study.tracking.sync import SyncReport, sync_study

__all__ = [
    "PARENT", "TAG_CONFIRMS", "TAG_ERROR", "TAG_KIND", "TAG_OUTCOME", "TAG_STUDY", "TAG_TRIAL_KEY", "PushCounts",
    "SyncReport", "TrackingInfo", "TrialRecord", "TrialRun", "TrialState", "check_tracking", "client",
    "close_leftover_runs", "close_run", "create_trial_run", "default_tracking_uri", "find_trial_runs",
    "finish_parent_run", "open_parent_run", "push_trial", "quick_http", "read_record", "read_records", "record_end",
    "records_dir", "relocate_folder_store", "set_run_outcome", "start_parent_run", "sync_study", "trial_key", "trial_run_ids",
]
