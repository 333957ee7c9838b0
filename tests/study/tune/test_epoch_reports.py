"""Per-epoch Tune reports made off the training thread: in order, each with its complete checkpoint,
and Tune's stop (SystemExit at a report) handed back to the training thread."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from study.tune.epoch_reports import EpochReports
from trainable.checkpoint import CheckpointWriter


def test_each_report_comes_in_order_with_its_own_complete_checkpoint(tmp_path: Path) -> None:
    sent: list[tuple[int, list[str], int | None]] = []
    release = threading.Event()

    def send(metrics, folder) -> None:
        release.wait(30)  # the driver is slow to take the first report
        names = sorted(p.name for p in folder.iterdir()) if folder else []
        epoch = None
        if folder:
            from trainable.checkpoint import load_checkpoint

            epoch = load_checkpoint(folder / names[0])["epoch"]
        sent.append((metrics["epoch"], names, epoch))

    reports = EpochReports(tmp_path, send)
    with CheckpointWriter(tmp_path / "ckpt", keep=1) as writer:  # keep=1: each write removes the one before
        for e in range(3):
            reports.put({"epoch": e}, writer.submit(e, {"epoch": e}))
    release.set()
    reports.drain()
    assert sent == [(e, [f"epoch-{e:05d}.pt"], e) for e in range(3)]
    assert not list(tmp_path.glob("report-*")), "each report's folder goes once Tune copied it"


def test_tunes_stop_at_a_report_is_handed_to_the_training_thread_and_the_rest_dropped(tmp_path: Path) -> None:
    sent: list[int] = []

    def send(metrics, folder) -> None:
        sent.append(metrics["epoch"])
        if metrics["epoch"] == 1:
            raise SystemExit(0)  # what Tune's session does at a report when the trial is to stop

    reports = EpochReports(tmp_path, send)
    for e in range(4):
        reports.put({"epoch": e}, None)
    reports.drain()
    assert sent == [0, 1] and reports.stopped.is_set() and reports.error is None


def test_a_failed_report_or_write_is_kept_for_the_training_thread(tmp_path: Path) -> None:
    def send(metrics, folder) -> None:
        raise OSError("storage full")

    reports = EpochReports(tmp_path, send)
    reports.put({"epoch": 0}, None)
    reports.drain()
    assert isinstance(reports.error, OSError) and not reports.stopped.is_set()

    blocked = tmp_path / "a_file"
    blocked.write_text("")
    writer = CheckpointWriter(blocked / "ckpt")
    quiet = EpochReports(tmp_path, lambda m, f: pytest.fail("a checkpoint that was not written is not reported"))
    quiet.put({"epoch": 0}, writer.submit(0, {"epoch": 0}))
    quiet.drain()
    assert isinstance(quiet.error, OSError)
