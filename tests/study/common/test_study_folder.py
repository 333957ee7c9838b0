"""A real finished study folder, as a user meets it: a quiet terminal, then the folder moved
elsewhere (``study ui``, ``study sync`` and ``study resume`` use it where it is now), a damaged
``study.json`` (one message from all three), and a folder of an older format.

The study is a real ``study launch`` process with its own Ray, on the generator's small set.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from study.common.folder import FORMAT
from tests.study.helpers import free_port, write_study

pytestmark = pytest.mark.slow

STUDY = str(Path(sys.executable).with_name("study"))
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONUNBUFFERED": "1"}


def study(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([STUDY, *args], capture_output=True, text=True, env=ENV, timeout=timeout)


@pytest.fixture(scope="module")
def finished(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    tmp = tmp_path_factory.mktemp("folder")
    spec = write_study(tmp / "spec", small_data, name="movable", max_trials=1, budget="120s",
                       search='lr = { float = [1e-3, 1e-2], log = true }\n')
    spec.write_text(spec.read_text().replace("confirm_top = 1", "confirm_top = 0"))
    done = study("launch", "--space", str(spec), "--root", str(tmp / "a"), timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp / "a" / "movable", done


def test_the_terminal_shows_the_study_lines_and_the_libraries_log_goes_to_a_file(finished) -> None:
    folder, done = finished
    terminal = done.stdout + done.stderr
    for chatter in ("Creating initial MLflow database tables", "INFO mlflow", "alembic", "Context impl"):
        assert chatter not in terminal, f"library chatter on the terminal: {chatter!r}\n{terminal}"
    assert "study 'movable'" in terminal and "best trial" in terminal  # the study's own lines are there
    assert "Creating initial MLflow database tables" in (folder / "study.log").read_text()


def test_a_moved_study_folder_is_used_where_it_is_now(finished, tmp_path: Path) -> None:
    folder, _ = finished
    record = json.loads((folder / "study.json").read_text())
    assert record["format"] == FORMAT and record["tracking_store"] == "folder" and record["tracking_uri"] is None
    moved_root = tmp_path / "laptop"
    moved = moved_root / "movable"
    shutil.copytree(folder, moved)
    gone = tmp_path / "gone"
    folder.rename(gone)  # the original place no longer exists
    try:
        synced = study("sync", "movable", "--root", str(moved_root))
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert " 0 run(s) created" in synced.stdout and "0 metric value(s)" in synced.stdout, synced.stdout
        assert not folder.exists(), "sync re-created the old folder"

        resumed = study("resume", "movable", "--root", str(moved_root))
        assert resumed.returncode == 2 and "already done" in resumed.stderr and str(moved) in resumed.stderr

        port = free_port()
        ui = subprocess.Popen([STUDY, "ui", "movable", "--root", str(moved_root), "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=ENV, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            experiments = _get_json(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name=movable", 60)
            exp = experiments["experiment"]
            assert exp["artifact_location"] == (moved / "mlartifacts").resolve().as_uri()
            runs = _post_json(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]]})["runs"]
            trial = next(r for r in runs if any(t["key"] == "xs.kind" and t["value"] == "trial" for t in r["data"]["tags"]))
            with urllib.request.urlopen(f"{base}/get-artifact?path=epochs.csv&run_uuid={trial['info']['run_id']}",
                                        timeout=30) as r:
                assert r.read().decode().startswith("epoch"), "the moved folder's artifacts are served"
        finally:
            os.killpg(ui.pid, signal.SIGTERM)
            try:
                said, _ = ui.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(ui.pid, signal.SIGKILL)
                said, _ = ui.communicate()
                raise AssertionError(f"study ui did not stop within 30 s of SIGTERM; it said:\n{said.decode()}") from None
        assert ui.returncode == 0 and b"stopping the server (SIGTERM)" in said, said.decode()
        assert not folder.exists(), "study ui re-created the old folder"
    finally:
        gone.rename(folder)


def test_a_damaged_study_json_gets_one_message_from_every_command(finished, tmp_path: Path) -> None:
    folder, _ = finished
    root = tmp_path / "root"
    damaged = root / "movable"
    shutil.copytree(folder, damaged, ignore=shutil.ignore_patterns("ray", "mlartifacts"))
    (damaged / "study.json").write_text('{"name": "movable", "phase": ')  # cut short
    expected = f"{damaged / 'study.json'} cannot be read"
    for command in (["ui", "movable"], ["resume", "movable"], ["sync", "movable"]):
        done = study(*command, "--root", str(root), timeout=120)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert expected in done.stderr and f"is {damaged} a study folder?" in done.stderr, (command, done.stderr)
        assert "Traceback" not in done.stderr


def test_a_folder_of_an_older_format_names_both_versions(finished, tmp_path: Path) -> None:
    folder, _ = finished
    root = tmp_path / "root"
    old = root / "movable"
    shutil.copytree(folder, old, ignore=shutil.ignore_patterns("ray", "mlartifacts"))
    record = json.loads((old / "study.json").read_text())
    record.pop("format")
    record["phase"] = "search"  # an interrupted study of the old layout
    (old / "study.json").write_text(json.dumps(record))
    for command in ("resume", "sync"):
        done = study(command, "movable", "--root", str(root), timeout=120)
        assert done.returncode == 2, (command, done.stdout, done.stderr)
        assert f"is of format 1, and this version of study reads format {FORMAT}" in done.stderr, done.stderr


def _get_json(url: str, wait_s: float) -> dict:
    end = time.time() + wait_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                return json.loads(r.read())
        except OSError:
            if time.time() > end:
                raise
            time.sleep(0.5)


def _post_json(url: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())
