"""The Optuna storage in WAL mode where the disk is local, and left alone elsewhere."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from study.common.files import filesystem_type, sqlite_wal


def _mode(db: Path) -> str:
    con = sqlite3.connect(str(db))
    try:
        return con.execute("PRAGMA journal_mode").fetchone()[0]
    finally:
        con.close()


def test_filesystem_type_reads_the_mount_table() -> None:
    assert filesystem_type(Path("/proc/self")) == "proc"
    assert filesystem_type(Path("/")) not in (None, "proc")


def test_wal_on_a_local_disk_and_optuna_works_on_it(tmp_path: Path) -> None:
    import optuna

    db = tmp_path / "optuna.db"
    local = filesystem_type(tmp_path) in {"ext4", "xfs", "btrfs", "tmpfs", "overlay", "zfs", "ext3", "f2fs"}
    assert sqlite_wal(db) is local
    assert _mode(db) == ("wal" if local else "delete")
    study = optuna.create_study(storage=f"sqlite:///{db}", study_name="s")
    study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=3)
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{db}").trials) == 3


def test_not_on_a_filesystem_it_does_not_know(tmp_path: Path, monkeypatch) -> None:
    import study.common.files as folders

    monkeypatch.setattr(folders, "filesystem_type", lambda path: "nfs4")  # a cluster's shared study folder
    db = tmp_path / "optuna.db"
    assert sqlite_wal(db) is False
    assert not db.exists() or _mode(db) == "delete"
