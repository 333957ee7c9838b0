"""The Ray Tune trainable: one trial of ``trainable.run_trial``, reported to Tune and MLflow.

It lives in the package (not in a test or the driver) so Ray workers can import it. Each epoch is
reported with its checkpoint (:class:`study.tune.reporting.TrialReporter`); a retried trial
(``FailureConfig``) or a resumed study gets the last checkpoint back from Tune and continues from
it, in the same MLflow run.
"""

from __future__ import annotations

import time
from typing import Any

from study.tune.reporting import FINISHED_KEY, OBJECTIVE_KEY, RUN_ID_KEY, TrialReporter

__all__ = ["FINISHED_KEY", "OBJECTIVE_KEY", "RUN_ID_KEY", "TRAINABLE", "train_trial"]

TRAINABLE = "study.tune.trainable:train_trial"  # what every study's trials run ("module:function")


def train_trial(config: dict[str, Any]) -> None:
    """Tune function trainable. ``config["trial"]``: resolved TrialConfig dict; ``config["xs"]``: study info."""
    entered = time.time()  # the imports below are the trial's start-up (seconds, in a fresh worker)
    from trainable.checkpoint import latest_checkpoint, load_checkpoint
    from trainable.train import TrialStopped, run_trial

    with TrialReporter.open(config, entered=entered) as report:
        last = latest_checkpoint(report.work)  # epochs done before a retry: MLflow gets each exactly once
        report.replay(load_checkpoint(last)["history"] if last is not None else [])
        try:
            result = run_trial(report.cfg, on_epoch=report.epoch, checkpoint_dir=report.work,
                               should_stop=report.should_stop, times=report.times)
        except TrialStopped:
            report.end_if_stopped_by_tune()
            return  # the phase's deadline passed: the driver records the trial as stopped by the budget
        report.final(result)
