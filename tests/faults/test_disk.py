"""Issue 5, fault 7: a full or read-only study folder is found before any training starts.

The full disk is a real small file system (a 16 MiB tmpfs) where mounting one is allowed, and the
free space the OS reports, made small, elsewhere; the read-only folder is a path through a file,
which fails for root too.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from study.cli import main
from tests.study.helpers import write_study


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A real 16 MiB file system, or None where this user may not mount one."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True)
    if done.returncode != 0:
        yield None
        return
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _no_trial_started(root: Path, name: str) -> None:
    study = root / name
    assert not (study / "study.json").exists(), "no study may be recorded"
    assert not (study / "ray").exists(), "no trial may start"


def test_a_full_study_folder_is_refused_before_ray_starts(tiny_disk, small_data: Path, tmp_path: Path, capsys,
                                                          monkeypatch) -> None:
    import ray

    spec = write_study(tmp_path / "spec", small_data, name="full")
    if tiny_disk is not None:
        root = tiny_disk / "studies"
    else:  # no mount allowed here: the OS reports the little space a full disk would have
        import shutil

        monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(16 << 20, 16 << 20, 0))
        root = tmp_path / "studies"
    was_running = ray.is_initialized()
    code = main(["launch", "--space", str(spec), "--root", str(root), "--no-mlflow"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "free" in err and "needs about" in err and str(root / "full") in err and "--root" in err
    assert ray.is_initialized() == was_running
    _no_trial_started(root, "full")


def test_a_read_only_study_folder_is_refused_before_ray_starts(small_data: Path, tmp_path: Path, capsys) -> None:
    import ray

    spec = write_study(tmp_path / "spec", small_data, name="ro")
    (tmp_path / "a_file").write_text("")
    root = tmp_path / "a_file" / "studies"  # cannot be created, as on a read-only disk (root included)
    was_running = ray.is_initialized()
    code = main(["launch", "--space", str(spec), "--root", str(root)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "not writable" in err and str(root / "ro") in err
    assert ray.is_initialized() == was_running
