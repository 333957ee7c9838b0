"""Per-epoch checkpoints, written atomically off the training thread, the last few kept.

``trainable.train`` stores, after each epoch, what it needs to continue a trial so that it ends
exactly as an uninterrupted run would: the config (a resume with another one is refused), the
epoch just finished (the position in the schedule follows from it), the model's and the
optimizer's state, the metrics so far and the training time. No RNG state: every random choice
of an epoch comes from generators seeded with (seed, epoch). No normalization statistics: they
are recomputed from the decoded cache, the same in every process.

Checkpoints hold tensors and plain values only, and are loaded with ``weights_only=True``:
loading one never runs code from the file.

:class:`CheckpointWriter` keeps the writing off the training thread (xresnet50's weights and
AdamW state are about 280 MB; a synchronous write with its fsync stalled every epoch): the
training thread only copies the state to host memory (on CUDA an asynchronous device-to-host copy
into pinned memory, ordered before the next step's kernels; on a CPU a clone), and one background
thread writes it to a temporary file, fsyncs and renames it, as :func:`save_checkpoint` does. One
write is in flight at a time: the next epoch's copy waits for it (epochs outlast writes, so it
rarely does). :class:`PendingCheckpoint` says when a checkpoint is complete; only then may it be
handed on (Tune copies the files it is given when it is reported).
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

import torch

__all__ = ["CheckpointWriter", "PendingCheckpoint", "checkpoint_bytes", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]

_NAME = re.compile(r"^epoch-(\d{5})\.pt$")


def _checkpoints(folder: Path) -> list[tuple[int, Path]]:
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), p))
    return sorted(found)


def save_checkpoint(folder: Path, epoch: int, state: dict[str, Any], keep: int = 2) -> Path:
    """Write ``state`` as ``folder/epoch-NNNNN.pt`` atomically; delete all but the newest ``keep``.

    The file is written to a temporary name in the same folder, flushed and fsynced, then renamed:
    a process killed mid-write leaves at most a stray temporary file, never a truncated checkpoint.
    """
    final = _write(folder, epoch, state)
    _prune(folder, keep)
    return final


def _write(folder: Path, epoch: int, state: dict[str, Any]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"epoch-{epoch:05d}.pt"
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".pt", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, final)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return final


def _prune(folder: Path, keep: int) -> None:
    folder = Path(folder)
    for _, old in _checkpoints(folder)[:-keep]:
        old.unlink(missing_ok=True)
    for stray in folder.glob(".tmp-*.pt"):
        stray.unlink(missing_ok=True)


def latest_checkpoint(folder: Path | str | None) -> Path | None:
    """The newest complete checkpoint in ``folder``, or None."""
    if folder is None:
        return None
    found = _checkpoints(Path(folder))
    return found[-1][1] if found else None


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The state saved at ``path`` (tensors and plain values; anything else is refused, unpickled never)."""
    state: dict[str, Any] = torch.load(path, map_location=map_location, weights_only=True)
    return state


class PendingCheckpoint:
    """A checkpoint a :class:`CheckpointWriter` is writing: :meth:`wait` returns its path once it is complete."""

    def __init__(self, path: Path, epoch: int) -> None:
        self.path = path  # where it will be (complete, renamed) once written
        self.epoch = epoch
        self._done = threading.Event()
        self._error: BaseException | None = None
        self._lock = threading.Lock()
        self._then: list[Callable[[Path], None]] = []
        self._ended = False  # the write ended (its callbacks were taken); ``done`` follows once they ran

    def done(self) -> bool:
        return self._done.is_set()

    def on_written(self, fn: Callable[[Path], None]) -> None:
        """Call ``fn(path)`` once the file is complete, before any later write may remove it (at once if
        it is already written; not at all if the write failed). ``fn`` must be quick: a link, not a copy."""
        with self._lock:
            if not self._ended:
                self._then.append(fn)
                return
        if self._error is None:
            fn(self.path)

    def wait(self, timeout: float | None = None) -> Path:
        """The complete checkpoint's path; raises what made the write fail (or TimeoutError)."""
        if not self._done.wait(timeout):
            raise TimeoutError(f"checkpoint {self.path} not written within {timeout} s")
        if self._error is not None:
            raise self._error
        return self.path

    def _finish(self, error: BaseException | None) -> None:
        with self._lock:
            self._error = error
            self._ended = True
            then, self._then = self._then, []
        for fn in then if error is None else []:
            try:
                fn(self.path)
            except Exception:  # noqa: BLE001 -- the consumer's business (it finds no link and reports without it)
                pass
        self._done.set()  # after the callbacks: whoever waits sees what they did


def _to_host(obj: Any) -> Any:
    """``obj`` with every tensor copied to host memory: asynchronously from CUDA (pinned), a clone on a CPU."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach()
        return t.to("cpu", non_blocking=True) if t.device.type == "cuda" else t.clone()
    if isinstance(obj, dict):
        return {k: _to_host(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_host(v) for v in obj)
    return obj


class CheckpointWriter:
    """Writes a trial's checkpoints into ``folder`` from a background thread (see the module docstring).

    ``submit`` returns at once with a :class:`PendingCheckpoint`; ``close`` waits for the write in
    flight (a trial stopped mid-epoch keeps the checkpoint of its last finished epoch). A write
    that failed raises its error at the next ``submit`` or at ``close``, on the training thread.
    """

    def __init__(self, folder: Path, keep: int = 2) -> None:
        self.folder = Path(folder)
        self.keep = keep
        self._thread: threading.Thread | None = None
        self._pending: PendingCheckpoint | None = None

    def __enter__(self) -> CheckpointWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        elif self._thread is not None:  # leaving on another error: the write ends, its own error is not raised over it
            self._thread.join()
            self._thread = None

    def submit(self, epoch: int, state: dict[str, Any]) -> PendingCheckpoint:
        """Copy ``state`` to host memory (here) and write it as ``epoch-NNNNN.pt`` (in the background)."""
        self.wait()  # one write in flight: its buffers are freed before the next copy
        host = _to_host(state)
        ready = None
        if any(t.is_cuda for t in _tensors(state)):
            ready = torch.cuda.Event()
            ready.record()  # the copies are queued on the stream: the writer waits for them, not this thread
        pending = PendingCheckpoint(self.folder / f"epoch-{epoch:05d}.pt", epoch)

        def write() -> None:
            try:
                if ready is not None:
                    ready.synchronize()
                _write(self.folder, epoch, host)
                pending._finish(None)  # its consumers link it first: the pruning below cannot take it from them
                _prune(self.folder, self.keep)
            except BaseException as e:  # noqa: BLE001 -- handed to whoever waits for this checkpoint
                if not pending.done():
                    pending._finish(e)

        self._pending = pending
        self._thread = threading.Thread(target=write, name=f"checkpoint-{epoch}", daemon=True)
        self._thread.start()
        return pending

    def wait(self) -> None:
        """Until the write in flight (if any) has ended; a failed write raises its error here (as a synchronous write would)."""
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.wait()

    def close(self) -> None:
        self.wait()


def _tensors(obj: Any) -> list[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    return []


def checkpoint_bytes(model: str) -> int:
    """Bytes of one epoch checkpoint of ``model``: weights and AdamW's two moments, float32 (the
    model is built on the meta device: nothing is allocated)."""
    from trainable.models.xresnet import build_model

    with torch.device("meta"):
        n = sum(p.numel() for p in build_model(model, n_out=1000).parameters())
    return n * 4 * 3
