"""`study ui`: a real `mlflow server` on 127.0.0.1 for a study's SQLite store, stopped cleanly by Ctrl-C.

The server runs as `study ui` would for a user: the `study` console script in a subprocess, which
starts `mlflow server` in its own process group. Processes and listening sockets are read from
``/proc`` (Linux).
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from study.cli import main
from tests.study.helpers import free_port

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads processes and sockets from /proc")

STUDY = Path(sys.executable).with_name("study")


def make_study(root: Path, name: str, *, mlflow: bool = True) -> Path:
    """A study folder as `study launch` leaves it: study.json, and a SQLite store with one run."""
    folder = root / name
    folder.mkdir(parents=True)
    uri = None
    if mlflow:
        from mlflow.tracking import MlflowClient

        uri = f"sqlite:///{(folder / 'mlflow.db').resolve()}"
        client = MlflowClient(uri)
        experiment = client.create_experiment(name, artifact_location=(folder / "mlartifacts").resolve().as_uri())
        run = client.create_run(experiment, run_name="trial-0")
        client.log_metric(run.info.run_id, "accuracy", 0.5, step=0)
        client.set_terminated(run.info.run_id, "FINISHED")
    (folder / "study.json").write_text(json.dumps({"name": name, "tracking_uri": uri, "parent_run_id": None}))
    return folder


# --- /proc readers ---------------------------------------------------------------------------


def _stat(pid: int) -> tuple[str, int, int] | None:
    """(state, parent pid, process group) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid, pgrp = text[text.rindex(")") + 2 :].split()[:3]
    return state, int(ppid), int(pgrp)


def _pids() -> list[int]:
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def children(pid: int) -> list[int]:
    return [p for p in _pids() if (s := _stat(p)) and s[1] == pid]


def group_members(pgid: int) -> list[int]:
    """Processes of a group that still run (zombies have ended; their parent may be gone)."""
    return [p for p in _pids() if (s := _stat(p)) and s[2] == pgid and s[0] != "Z"]


def listeners(port: int) -> list[str]:
    """The addresses on which some process listens on TCP ``port``."""
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state != "0A" or int(hex_port, 16) != port:  # 0A: LISTEN
                continue
            raw = b"".join(bytes.fromhex(address[i : i + 8])[::-1] for i in range(0, len(address), 8))
            found.append(socket.inet_ntop(family, raw))
    return found


def other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if ip.startswith("127.") else ip


def wait_for(check, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


# --- tests -----------------------------------------------------------------------------------


def test_ui_serves_the_study_on_loopback_and_ctrl_c_stops_every_server_process(tmp_path: Path) -> None:
    root = tmp_path / "studies"
    make_study(root, "demo")
    port = free_port()
    log = tmp_path / "ui.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(STUDY), "ui", "demo", "--root", str(root), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    server_group = None
    try:
        wait_for(lambda: healthy(port) or proc.poll() is not None, 60, "the MLflow server to answer /health")
        assert proc.poll() is None, f"study ui exited early:\n{log.read_text()}"
        # the address is printed once the server answers (never before: a taken port is an error first)
        wait_for(lambda: f"MLflow UI for study 'demo': http://127.0.0.1:{port}" in log.read_text(), 30, "the address")

        # the server: a child of `study ui`, in a process group of its own
        (server,) = children(proc.pid)
        server_group = _stat(server)[2]  # type: ignore[index]
        assert server_group == server and server_group != os.getpgid(proc.pid)

        # it listens on loopback only
        assert listeners(port) and set(listeners(port)) == {"127.0.0.1"}, listeners(port)
        other = other_address()
        if other is not None:
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()

        # and serves this study's records
        url = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=demo"
        with urllib.request.urlopen(url, timeout=10) as r:
            assert json.load(r)["experiment"]["name"] == "demo"

        members = group_members(server_group)
        assert server in members
        proc.send_signal(signal.SIGINT)  # Ctrl-C in the terminal of `study ui`
        assert proc.wait(timeout=20) == 0
        wait_for(lambda: not group_members(server_group), 15, f"the server's processes {members} to end")
        assert not healthy(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if server_group is not None and group_members(server_group):
            os.killpg(server_group, signal.SIGKILL)


# what `mlflow server` says of itself while it starts, serves and stops: never on the terminal of `study ui`
CHATTER = ("Registry store URI not provided", "Security middleware enabled", "mlflow.server.jobs.executor_registry",
           "StarletteDeprecationWarning", "Started server process", "Uvicorn running on", '"GET /health HTTP/1.1" 200')


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_ui_shows_the_study_s_lines_and_puts_the_server_s_own_in_the_study_folder(verbose: bool, tmp_path: Path) -> None:
    root = tmp_path / "studies"
    folder = make_study(root, "demo")
    port = free_port()
    terminal = tmp_path / "terminal.txt"
    with open(terminal, "w") as out:  # stdout and stderr, as a terminal shows them
        proc = subprocess.Popen([str(STUDY), "ui", "demo", "--root", str(root), "--port", str(port), *(["--verbose"] * verbose)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True)
    server_group = None
    try:
        wait_for(lambda: "  runs:" in terminal.read_text() or proc.poll() is not None, 90, "the study's links")
        assert proc.poll() is None, terminal.read_text()
        (server,) = children(proc.pid)
        server_group = _stat(server)[2]  # type: ignore[index]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, terminal.read_text()
        wait_for(lambda: not group_members(server_group), 20, "the server's processes to end")
        shown = terminal.read_text()
        log = folder / "ui.log"
        if verbose:  # the server's own output, live, as `mlflow server` prints it; no log file
            assert all(line in shown for line in CHATTER), shown
            assert not log.exists()
            return
        # the terminal: the study's own lines, each of them, and nothing else
        ours = [rf"study ui: starting mlflow server for study 'demo' \(its log: {re.escape(str(log))}\)\.\.\.",
                rf"MLflow UI for study 'demo': http://127\.0\.0\.1:{port}   \(Ctrl-C stops it\)",
                rf"  runs:       http://127\.0\.0\.1:{port}/#/experiments/1/runs", "", r"stopping the server \(SIGINT\)"]
        assert len(shown.splitlines()) == len(ours), shown
        for line, pattern in zip(shown.splitlines(), ours, strict=True):
            assert re.fullmatch(pattern, line), (line, pattern)
        assert not [line for line in CHATTER if line in shown], shown
        # the study folder's ui.log: what the server said, from start-up to shutdown
        text = log.read_text()
        assert all(line in text for line in CHATTER), text
        assert f"Uvicorn running on http://127.0.0.1:{port}" in text and "Finished server process" in text, text
        assert text.startswith("--- ") and "mlflow server --backend-store-uri sqlite:" in text.splitlines()[0], text
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if server_group is not None and group_members(server_group):
            os.killpg(server_group, signal.SIGKILL)


def test_unknown_study_exits_2_and_names_the_known_ones(tmp_path: Path, capsys) -> None:
    root = tmp_path / "studies"
    make_study(root, "known", mlflow=False)
    assert main(["ui", "nope", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "no study 'nope' under" in err and "known studies: known" in err
    assert "Traceback" not in err


def test_a_study_launched_without_mlflow_says_there_is_nothing_to_show(tmp_path: Path, capsys) -> None:
    root = tmp_path / "studies"
    make_study(root, "quiet", mlflow=False)
    assert main(["ui", "quiet", "--root", str(root), "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "study 'quiet' was launched with --no-mlflow; there is nothing to show" in err


def test_an_empty_root_says_how_to_make_a_study(tmp_path: Path, capsys) -> None:
    assert main(["ui", "--root", str(tmp_path)]) == 2
    assert "run `study launch` first" in capsys.readouterr().err
