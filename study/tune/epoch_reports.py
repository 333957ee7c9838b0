"""A trial's per-epoch Tune reports, made in order by one background thread of the trial's worker.

Ray Tune's function trainables report synchronously: ``tune.report`` copies the checkpoint it is
given into the experiment's storage (xresnet50's: ~280 MB) and then waits until the driver has
taken the result. Made on the training thread, both stalled every epoch, and the checkpoint had
to be written first. Here the training thread hands over the epoch's metrics and its
:class:`~trainable.checkpoint.PendingCheckpoint` and goes on training; this thread waits for the
checkpoint to be complete, puts it (hard-linked) in a folder of its own, and reports. The driver
sees each epoch once, in order, with a complete checkpoint, a little later than the epoch's end.

Tune stops a trial (a scheduler's decision, the end of the phase) at its next report: in this
thread that report raises ``SystemExit``. :attr:`EpochReports.stopped` then tells the training
thread, which asks before every batch (``TrialReporter.should_stop``) and ends the trial there,
so that its worker is free at once for the next trial.
"""

from __future__ import annotations

import queue
import shutil
import threading
from pathlib import Path
from typing import Any, Callable

__all__ = ["EpochReports", "report_dir"]


def report_dir(work: Path, ckpt: Path, epoch: int) -> Path:
    """A folder holding only ``ckpt`` (hard-linked when possible) for ``tune.Checkpoint``."""
    out = work / f"report-{epoch}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    try:
        (out / ckpt.name).hardlink_to(ckpt)
    except OSError:
        shutil.copy2(ckpt, out / ckpt.name)
    return out


class EpochReports:
    """Reports made by one background thread, in the order they were put (see the module docstring).

    ``send(metrics, checkpoint_folder_or_None)`` makes one report; ``after(metrics)`` runs after it
    (the fault tests' hook). Each checkpoint is hard-linked into a folder of its own as soon as its
    file is complete (by the writer, before a later write may remove it), so a report that comes
    late still has it.
    """

    def __init__(self, work: Path, send: Callable[[dict[str, Any], Path | None], None],
                 after: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.work = work
        self._send = send
        self._after = after
        self._queue: queue.Queue[tuple[dict[str, Any], Any] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self.stopped = threading.Event()  # Tune stopped the trial: the training thread ends it
        self.error: BaseException | None = None  # a report that failed for another reason

    def put(self, metrics: dict[str, Any], checkpoint: Any) -> None:
        """Report ``metrics`` with ``checkpoint`` (a PendingCheckpoint, a complete file's Path, or None) once it is complete."""
        linked: list[Path] = []
        epoch = int(metrics["epoch"])
        if isinstance(checkpoint, Path):
            linked.append(report_dir(self.work, checkpoint, epoch))
        elif checkpoint is not None:
            checkpoint.on_written(lambda path: linked.append(report_dir(self.work, path, epoch)))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tune-reports", daemon=True)
            self._thread.start()
        self._queue.put((metrics, (checkpoint, linked)))

    def drain(self) -> None:
        """Until every report put so far is made (or dropped, the trial stopped); the thread ends."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.stopped.is_set() or self.error is not None:
                continue  # the trial is ending: what is left is not reported
            metrics, (checkpoint, linked) = item
            try:
                if checkpoint is not None and not isinstance(checkpoint, Path):
                    checkpoint.wait()  # complete, or its write's error raised here
                folder = linked[0] if linked else None
                self._send(metrics, folder)
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)  # Tune copied it
                if self._after is not None:
                    self._after(metrics)
            except SystemExit:  # Tune's way of stopping a trial at its report
                self.stopped.set()
            except BaseException as e:  # noqa: BLE001 -- raised on the training thread by whoever drains
                self.error = e
