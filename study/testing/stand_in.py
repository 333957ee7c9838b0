"""A stand-in for ``study.tune.trainable.train_trial`` that sleeps instead of training.

``bench/study_overhead.py`` runs studies of it to measure what the study machinery costs per trial
(Ray Tune, the Optuna searcher, the scheduler, the driver's monitor, MLflow), with the work of a
trial fixed and known. So that the measurement is of the real machinery, it reports exactly as
``train_trial`` does: the same MLflow run (``TrialRun``: params, one metric batch per epoch, final
metrics, the same four artifacts, the closing status), one ``tune.report`` per epoch with a
checkpoint, the last epoch held back and reported with the final result, and the same keys
(``objective``, ``xs_finished``, ``xs_run_id``, ``epoch``, ``cost``, ``train_seconds`` …).
Keep the two in step when ``train_trial``'s reporting changes.

The work is :data:`WORK_S` seconds spread evenly over the configuration's epochs. The accuracies
are made up: a number in [0.3, 0.9] drawn from a hash of the configuration, reached linearly over
the epochs, so that schedulers and samplers have something to rank. The confusion matrix has 10
classes, as the embedded set and Imagenette do. It does not import torch, and it ignores the
fault-injection hook of ``train_trial`` (``xs["fault"]``, fault tests only).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from study.tune.trainable import (FINISHED_KEY, OBJECTIVE_KEY, RUN_ID_KEY, _report_dir, deadline_check, open_trial_run,
                                  report_final, run_id_of)

__all__ = ["LONG_WORK_S", "WORK_S", "long_trial", "sleep_trial"]

WORK_S = 0.5  # s of "training" per trial, spread evenly over its epochs
LONG_WORK_S = 600.0  # long_trial's: epochs far longer than a test's budget (deadline tests)


@dataclass
class _SleepResult:
    """The fields of ``trainable.train.TrialResult`` that the reporting reads (no torch here)."""

    config: dict[str, Any]
    accuracy: float
    top5: float
    valid_loss: float
    train_seconds: float
    images_per_s: float
    infer_ms_per_image: float
    history: list[dict[str, Any]] = field(default_factory=list)
    confusion: list[list[int]] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    accuracy_tta: float | None = None
    infer_ms_per_image_tta: float | None = None

    @property
    def objective(self) -> float:
        return self.accuracy_tta if self.accuracy_tta is not None else self.accuracy

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "objective": self.objective}


def _quality(trial: dict[str, Any]) -> float:
    """A made-up final accuracy in [0.3, 0.9], fixed by the configuration."""
    digest = hashlib.sha256(json.dumps(trial, sort_keys=True, default=str).encode()).digest()
    return 0.3 + 0.6 * int.from_bytes(digest[:4], "big") / 2**32


def _confusion(right: int, n: int) -> list[list[int]]:
    """``n`` classes of 10 validation images: ``right`` correct per class, the rest taken for the next class."""
    return [[right if j == i else 10 - right if j == (i + 1) % n else 0 for j in range(n)] for i in range(n)]


def _latest(work: Path) -> Path | None:
    found = sorted(work.glob("epoch-*.json"))
    return found[-1] if found else None


def _save(work: Path, epoch: int, history: list[dict[str, Any]]) -> Path:
    """A per-epoch checkpoint, written atomically; only the newest one is kept (as ``keep=1``)."""
    path = work / f"epoch-{epoch:05d}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"epoch": epoch, "history": history}))
    tmp.replace(path)
    for old in work.glob("epoch-*.json"):
        if old != path:
            old.unlink(missing_ok=True)
    return path


def sleep_trial(config: dict[str, Any]) -> None:
    """Tune function trainable with ``train_trial``'s inputs and reports; sleeps instead of training."""
    _sleep_trial(config, WORK_S)


def long_trial(config: dict[str, Any]) -> None:
    """``sleep_trial`` with epochs of minutes: only a deadline ends it (it stops mid-epoch, as train_trial)."""
    _sleep_trial(config, LONG_WORK_S)


def _pause(seconds: float, should_stop: Any) -> bool:
    """Sleep ``seconds`` in slices, asking ``should_stop`` between them (train_trial asks per batch); True if stopped."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if should_stop is not None and should_stop():
            return True
        time.sleep(min(left, 1.0))
    return should_stop is not None and should_stop()


def _sleep_trial(config: dict[str, Any], work_s: float) -> None:
    from ray import tune

    from trainable.config import TrialConfig

    xs = config["xs"]
    job = config.get("job") or {}
    cfg = TrialConfig.from_dict(job.get("trial") or config["trial"])
    searched = {k: v for k, v in config.items() if k not in ("trial", "xs", "job")}
    ctx = tune.get_context()
    trial_id = ctx.get_trial_id()

    work = Path(tempfile.mkdtemp(prefix=f"xs-{trial_id}-"))
    try:
        restored = tune.get_checkpoint()
        if restored is not None:
            restored.to_directory(str(work))
        history: list[dict[str, Any]] = []
        last = _latest(work)
        if last is not None:
            history = json.loads(last.read_text())["history"]
        run = open_trial_run(xs, job, cfg, searched, ctx)
        if run is not None:
            if history:
                run.log_epochs(history)

        epochs = cfg.total_epochs
        last_epoch = epochs - 1
        quality = _quality(job.get("trial") or config["trial"])
        held: dict[str, Any] = {}
        should_stop = deadline_check(xs)
        for epoch in range(len(history), epochs):
            if _pause(work_s / epochs, should_stop):  # the "training" of this epoch
                return  # as train_trial at its deadline
            accuracy = quality * (epoch + 1) / epochs
            metrics = {
                "epoch": epoch, "size": cfg.size, "train_loss": 2.0 - accuracy, "valid_loss": 2.1 - accuracy,
                "accuracy": accuracy, "top5": min(1.0, accuracy + 0.1), "lr": cfg.lr,
                "epoch_seconds": work_s / epochs, "images_per_s": 1000.0,
            }
            history.append(metrics)
            ckpt = _save(work, epoch, history)
            # -- from here on, as train_trial's on_epoch
            if run is not None:
                run.log_epochs([metrics])
            checkpoint = tune.Checkpoint.from_directory(str(_report_dir(work, ckpt)))
            if epoch == last_epoch:
                held.update(metrics=metrics, checkpoint=checkpoint)
                continue
            report = {**metrics, OBJECTIVE_KEY: metrics["accuracy"], FINISHED_KEY: False, RUN_ID_KEY: run_id_of(run)}
            tune.report(report, checkpoint=checkpoint)

        accuracy = history[-1]["accuracy"]
        classes = [f"class_{k}" for k in range(10)]  # as many as the embedded set and Imagenette
        right = round(accuracy * 10)  # of 10 validation images per class
        result = _SleepResult(
            config=cfg.to_dict(), accuracy=accuracy, top5=min(1.0, accuracy + 0.1), valid_loss=2.1 - accuracy,
            train_seconds=work_s, images_per_s=1000.0, infer_ms_per_image=0.5,
            accuracy_tta=min(1.0, accuracy + 0.01) if cfg.tta_n else None,
            infer_ms_per_image_tta=0.5 * (1 + cfg.tta_n) if cfg.tta_n else None,
            history=history, confusion=_confusion(right, len(classes)),
            classes=classes,
        )
        # -- from here on, exactly as train_trial after run_trial
        report_final(result, cfg, run, held, last_epoch)
    finally:
        shutil.rmtree(work, ignore_errors=True)
