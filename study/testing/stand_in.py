"""A stand-in for ``study.tune.trainable.train_trial`` that sleeps instead of training.

``bench/study_overhead.py`` runs studies of it to measure what the study machinery costs per trial
(Ray Tune, the Optuna searcher, the scheduler, the driver's monitor, MLflow), with the work of a
trial fixed and known. So that the measurement is of the real machinery, it reports through the same
:class:`study.tune.reporting.TrialReporter` as ``train_trial``: it only supplies fake epochs.

The work is :data:`WORK_S` seconds spread evenly over the configuration's epochs. The accuracies
are made up: a number in [0.3, 0.9] drawn from a hash of the configuration, reached linearly over
the epochs, so that schedulers and samplers have something to rank. The confusion matrix has 10
classes, as the embedded set and Imagenette do. It does not import torch.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from study.tune.reporting import TrialReporter
from trainable.schedules import checkpoint_due

__all__ = ["BORDERLINE_GAINS", "EPOCH_S_ENV", "LONG_WORK_S", "PLANTED", "WORK_S", "borderline_trial", "long_trial", "paced_trial",
           "planted_trial", "sleep_trial"]

WORK_S = 0.5  # s of "training" per trial, spread evenly over its epochs
LONG_WORK_S = 600.0  # long_trial's: epochs far longer than a test's budget (deadline tests)
EPOCH_S_ENV = "XRESNET_STUDY_TEST_EPOCH_S"  # paced_trial's seconds per epoch, read where the trial runs (a Ray node's environment)


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


PLANTED = {"normalization": 0.15, "mixup": 0.10, "test-time augmentation": 0.05}  # technique: its effect on planted_trial's accuracy


def _planted_quality(trial: dict[str, Any]) -> float:
    """Known truth for the ablation's tests: 0.5, +0.15 with ``normalize = "dataset"``, +0.10 with
    mixup on (``mixup_alpha > 0``) and, with TTA on (``tta_n > 0``), +0.05 on the same model's accuracy;
    seed noise within ±0.01 drawn from the seed alone (a variant and the winner run with the same
    seed share it, as paired runs do), and noise within ±0.002 of the
    configuration and seed together (what pairing does not cancel)."""
    q = 0.5 + PLANTED["normalization"] * (trial.get("normalize") == "dataset")
    q += PLANTED["mixup"] * (float(trial.get("mixup_alpha", 0.0)) > 0)
    return q + 0.02 * (_unit(str(trial.get("seed", 0))) - 0.5) + 0.004 * (_unit(json.dumps(trial, sort_keys=True)) - 0.5)


BORDERLINE_GAINS = (0.03, 0.05, 0.01)  # mixup's gain on seeds ≡ 0, 1, 2 (mod 3), for borderline_trial


def _borderline_quality(trial: dict[str, Any]) -> float:
    """Known truth for a verdict that depends on the level: 0.5, plus seed noise within ±0.01 that
    paired runs share, plus mixup's gain of :data:`BORDERLINE_GAINS` on the seed's residue mod 3.
    Over three consecutive seeds the paired differences are 0.03, 0.05, 0.01 (in some order): mean
    0.03, standard deviation 0.02, paired t = 2.60 with 2 degrees of freedom, two-sided p = 0.12 —
    shown at the 80 % level, not at 95 %."""
    seed = int(trial.get("seed", 0))
    gain = BORDERLINE_GAINS[seed % 3] if float(trial.get("mixup_alpha", 0.0)) > 0 else 0.0
    return 0.5 + 0.02 * (_unit(str(seed)) - 0.5) + gain


def _unit(text: str) -> float:
    """A number in [0, 1) fixed by ``text``."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big") / 2**32


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


def paced_trial(config: dict[str, Any]) -> None:
    """``sleep_trial`` with epochs of ``$XRESNET_STUDY_TEST_EPOCH_S`` seconds (default 1): long enough
    to kill a node mid-epoch (node-loss tests), or to make trials of a few seconds (the scaling bench)."""
    import os

    _sleep_trial(config, WORK_S, epoch_s=float(os.environ.get(EPOCH_S_ENV, "1")))


def planted_trial(config: dict[str, Any]) -> None:
    """``sleep_trial`` whose accuracy has planted effects (:data:`PLANTED`): a known answer for the ablation."""
    _sleep_trial(config, WORK_S, _planted_quality, tta_gain=PLANTED["test-time augmentation"])


def borderline_trial(config: dict[str, Any]) -> None:
    """``sleep_trial`` whose mixup gain is borderline (:data:`BORDERLINE_GAINS`): a verdict that depends on the level."""
    _sleep_trial(config, WORK_S, _borderline_quality)


def _sleep_trial(config: dict[str, Any], work_s: float, quality_of: Any = None, tta_gain: float = 0.01,
                 epoch_s: float | None = None) -> None:
    """``work_s`` over the epochs, or ``epoch_s`` each when given."""
    with TrialReporter.open(config) as report:
        cfg = report.cfg
        last = _latest(report.work)
        history: list[dict[str, Any]] = json.loads(last.read_text())["history"] if last is not None else []
        report.replay(history)
        epochs = cfg.total_epochs
        per_epoch = epoch_s if epoch_s is not None else work_s / epochs
        quality = (quality_of or _quality)(report.trial)
        started_at = time.time()  # this run's wall clock, reported (tests check which trials overlapped)
        checkpointed_at = time.monotonic()  # as train_trial: a checkpoint when checkpoint_due says so
        for epoch in range(len(history), epochs):
            if _pause(per_epoch, report.should_stop):  # the "training" of this epoch
                report.end_if_stopped_by_tune()
                return  # as train_trial at its deadline
            accuracy = quality * (epoch + 1) / epochs
            metrics = {
                "epoch": epoch, "size": cfg.size, "train_loss": 2.0 - accuracy, "valid_loss": 2.1 - accuracy,
                "accuracy": accuracy, "top5": min(1.0, accuracy + 0.1), "lr": cfg.lr,
                "epoch_seconds": per_epoch, "images_per_s": 1000.0,
                "started_at": started_at, "ended_at": time.time(),
            }
            history.append(metrics)
            due = checkpoint_due(time.monotonic() - checkpointed_at, cfg.checkpoint_every_s, epoch == epochs - 1)
            report.epoch(metrics, _save(report.work, epoch, history) if due else None)
            checkpointed_at = time.monotonic() if due else checkpointed_at

        accuracy = history[-1]["accuracy"]
        classes = [f"class_{k}" for k in range(10)]  # as many as the embedded set and Imagenette
        right = round(accuracy * 10)  # of 10 validation images per class
        report.final(_SleepResult(
            config=cfg.to_dict(), accuracy=accuracy, top5=min(1.0, accuracy + 0.1), valid_loss=2.1 - accuracy,
            train_seconds=per_epoch * epochs, images_per_s=1000.0, infer_ms_per_image=0.5,
            accuracy_tta=min(1.0, accuracy + tta_gain) if cfg.tta_n else None,
            infer_ms_per_image_tta=0.5 * (1 + cfg.tta_n) if cfg.tta_n else None,
            history=history, confusion=_confusion(right, len(classes)), classes=classes,
        ))
