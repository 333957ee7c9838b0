"""A trial's scratch folder: what Tune's stopped trials leave behind is removed by the next trial on the machine."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from study.tune.reporting import SCRATCH_PREFIX, _scratch_folder


@pytest.fixture
def tmpdir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_the_next_trial_removes_what_ended_processes_and_this_one_left(tmpdir_env: Path) -> None:
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)  # a process that has exited
    alive_pid = os.getppid()  # a live process that is not this one (a trial running beside us)
    stale = {name: tmpdir_env / f"{SCRATCH_PREFIX}{pid}-trial_{name}-x" for name, pid in
             (("dead", dead_pid), ("mine", os.getpid()), ("alive", alive_pid))}
    for folder in stale.values():
        folder.mkdir()
        (folder / "epoch-00001.pt").write_bytes(b"0" * 1024)
    other = tmpdir_env / "someone-elses"
    other.mkdir()
    new = _scratch_folder("trial_new")
    assert new.is_dir() and new.parent == tmpdir_env and new.name.startswith(f"{SCRATCH_PREFIX}{os.getpid()}-trial_new-")
    assert not stale["dead"].exists() and not stale["mine"].exists()
    assert stale["alive"].exists() and other.exists()  # a running trial's folder, and what is not ours, stay
