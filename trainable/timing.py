"""Where a trial's seconds went: one typed record, filled top to bottom by whoever spends them.

:class:`TrialTimes` splits a trial's wall time into the parts a study can act on (issue 17):
starting the worker, the data, the model, the warm-up (compilation, cuDNN autotuning, lazy CUDA
set-up), the training steps, the per-epoch evaluation, checkpoints, the final evaluation with TTA
and the reporting. ``trainable.train.run_trial`` measures its parts; the orchestration that runs it
(``study.tune``) adds the start-up before it and the reporting around it, on the same
:class:`TimeLedger`. Each part counts time on the trial's own (training) thread only, so the parts
add up to the trial's wall time; what runs beside it (a checkpoint written by a background thread)
is not in them.

The flat names (``seconds_train``, ``seconds_eval``, ...) are made here and nowhere else
(:data:`TIME_KEYS`): the Tune reports, the MLflow metrics, the study's time share and the
dashboard all read them from here.

:class:`EpochTimer` measures an epoch and its first step without making the host wait for the
device inside the epoch: on CUDA with events (recorded, read after the epoch's one sync), on a CPU
with the clock (the CPU computes synchronously).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch only where an epoch is timed: the study's analysis and dashboards read TrialTimes without it
    import torch

__all__ = ["PARTS", "TIME_KEYS", "EpochTimer", "TimeLedger", "TrialTimes", "warmup_seconds"]


@dataclass(frozen=True)
class TrialTimes:
    """Seconds of one trial's wall time, by part (each on the trial's own thread; they add up)."""

    start: float = 0.0  # s, worker process start, imports and the trial's set-up before its code runs (orchestration)
    data: float = 0.0  # s, decoded cache opened (built if missing), images uploaded to the device
    model: float = 0.0  # s, model built and placed, optimizer made, a checkpoint restored
    warmup: float = 0.0  # s, first training step at each size beyond a steady step: compilation, autotuning
    train: float = 0.0  # s, training steps (the epochs' wall time less their warm-up)
    eval: float = 0.0  # s, per-epoch validation passes
    checkpoint: float = 0.0  # s, on the training thread: state copied to the host, waits for the writer
    final: float = 0.0  # s, final evaluation and test-time augmentation
    report: float = 0.0  # s, records, MLflow, Tune reports and artifacts, on the training thread (orchestration)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or v != v or v < 0:
                raise ValueError(f"TrialTimes.{f.name} must be a number of seconds >= 0, got {v!r}")

    @property
    def total(self) -> float:
        return sum(getattr(self, p) for p in PARTS)

    def to_flat(self) -> dict[str, float]:
        """``{"seconds_start": ..., "seconds_train": ...}``: the names every report and record uses."""
        return {TIME_KEYS[p]: round(float(getattr(self, p)), 4) for p in PARTS}

    @classmethod
    def from_flat(cls, values: Mapping[str, Any]) -> TrialTimes | None:
        """The times a report or record holds (``seconds_*``, or MLflow's ``final_seconds_*``); None if it has none."""
        found: dict[str, float] = {}
        for p in PARTS:
            for key in (TIME_KEYS[p], f"final_{TIME_KEYS[p]}"):
                v = values.get(key)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and v >= 0:
                    found[p] = float(v)
                    break
        return cls(**found) if found else None

    def plus(self, other: TrialTimes) -> TrialTimes:
        return TrialTimes(**{p: getattr(self, p) + getattr(other, p) for p in PARTS})

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


PARTS: tuple[str, ...] = tuple(f.name for f in fields(TrialTimes))
TIME_KEYS: dict[str, str] = {p: f"seconds_{p}" for p in PARTS}  # the flat names, kept once


class TimeLedger:
    """The running :class:`TrialTimes` of one trial, added to by the trial and by its orchestration.

    Thread-safe: the orchestration may read a snapshot from another thread (a report in flight).
    """

    def __init__(self, times: TrialTimes | None = None) -> None:
        self._seconds = (times or TrialTimes()).to_dict()
        self._lock = threading.Lock()

    def add(self, part: str, seconds: float) -> None:
        if part not in self._seconds:
            raise KeyError(f"unknown part of a trial's time {part!r}; one of {', '.join(PARTS)}")
        with self._lock:
            self._seconds[part] += max(0.0, float(seconds))

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        """Count the wall time of the ``with`` block (exceptions included) as part ``name``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(name, time.perf_counter() - start)

    def restore(self, times: TrialTimes) -> None:
        """Start from ``times`` (what a checkpoint recorded) plus what this attempt spent so far."""
        with self._lock:
            for p in PARTS:
                self._seconds[p] += getattr(times, p)

    def snapshot(self) -> TrialTimes:
        with self._lock:
            return TrialTimes(**self._seconds)


def warmup_seconds(epoch_s: float, first_step_s: float, steps: int) -> float:
    """What the first step took beyond a steady one: ``first − (rest / (steps − 1))``, never below 0.

    A first step pays for compiling the graph of a new shape and for cuDNN trying its algorithms;
    the steps after it run at the steady rate. With one step there is nothing to compare: 0.
    """
    if steps < 2 or epoch_s <= 0:
        return 0.0
    first = min(max(first_step_s, 0.0), epoch_s)
    steady = (epoch_s - first) / (steps - 1)
    return max(0.0, first - steady)


class EpochTimer:
    """An epoch's wall time and its first step's, with no wait for the device inside the epoch.

    Call :meth:`start` before the first batch, :meth:`first_step` after the first step is queued
    and :meth:`stop` after the epoch's one ``synchronize``. On CUDA the first step's end is an
    event, read after that sync; elsewhere the clock at the call (the computation already ran).
    """

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self._t0 = 0.0
        self._first_wall: float | None = None
        self._events: list[Any] = []

    def start(self) -> None:
        self._t0 = time.perf_counter()
        self._first_wall = None
        if self.cuda:
            import torch

            self._events = [torch.cuda.Event(enable_timing=True)]
            self._events[0].record()

    def first_step(self) -> None:
        if self.cuda:
            import torch

            self._events.append(torch.cuda.Event(enable_timing=True))
            self._events[1].record()
        else:
            self._first_wall = time.perf_counter() - self._t0

    def stop(self) -> tuple[float, float]:
        """(epoch seconds, first step seconds); the device must have finished the epoch's work."""
        wall = time.perf_counter() - self._t0
        if self.cuda and len(self._events) == 2:
            first = self._events[0].elapsed_time(self._events[1]) / 1000.0
        else:
            first = self._first_wall if self._first_wall is not None else wall
        return wall, min(first, wall)

