"""`study ui` and `study dashboard --serve` stop their servers, every process of them, on SIGINT,
SIGTERM and SIGHUP (a closed terminal), and refuse a taken port (exit 2) before printing any address.

Real `study` processes (the console script, in a session of their own as in a terminal), a real
`mlflow server`, real signals; processes are read from /proc.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.study.commands.test_ui import _stat, children, group_members, healthy, make_study, wait_for
from tests.study.helpers import free_port

pytestmark = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads processes from /proc")

STUDY = Path(sys.executable).with_name("study")


def _start(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen([str(STUDY), *args], stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _start_ui(tmp_path: Path) -> tuple[subprocess.Popen, Path, int]:
    """`study ui` on a new study, in a session of its own: (process, its log, its port)."""
    root = tmp_path / "studies"
    make_study(root, "demo")
    port = free_port()
    log = tmp_path / "ui.log"
    return _start(["ui", "demo", "--root", str(root), "--port", str(port)], log), log, port


def _server_group(proc: subprocess.Popen) -> int:
    (server,) = children(proc.pid)
    return _stat(server)[2]  # type: ignore[index]


def _kill_all(proc: subprocess.Popen, groups: list[int]) -> None:
    import os

    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for g in groups:
        if group_members(g):
            os.killpg(g, signal.SIGKILL)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_ui_stops_its_server_and_all_its_children_on(sig: signal.Signals, tmp_path: Path) -> None:
    proc, log, port = _start_ui(tmp_path)
    groups: list[int] = []
    try:
        wait_for(lambda: "MLflow UI for study 'demo'" in log.read_text() or proc.poll() is not None, 90, "the address")
        assert proc.poll() is None, log.read_text()
        groups.append(_server_group(proc))
        members = group_members(groups[0])
        assert len(members) >= 2, members  # mlflow server and its uvicorn (and job runners): children to stop too
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0, log.read_text()
        left = wait_for(lambda: not group_members(groups[0]), 20, f"{members} to end") and group_members(groups[0])
        assert not left
        assert not healthy(port)
        with socket.socket() as s:  # the port is free again: no orphan holds it
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
    finally:
        _kill_all(proc, groups)


def test_ui_stopped_while_its_server_starts_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGTERM as soon as `mlflow server` exists, before it answers (CI once sent it this early)."""
    proc, log, port = _start_ui(tmp_path)
    groups: list[int] = []
    try:
        wait_for(lambda: children(proc.pid) or proc.poll() is not None, 90, "mlflow server to be started")
        groups.append(_server_group(proc))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
        assert "stopping the server (SIGTERM)" in log.read_text()
        assert wait_for(lambda: not group_members(groups[0]), 20, "the server's processes to end")
        assert not healthy(port)
    finally:
        _kill_all(proc, groups)


SERVING = """
import sys, time
from study.commands.serving import run_server_process

def on_ready():  # a library that swallows every exception, the signal's among them, for a while
    print("ready", flush=True)
    end = time.monotonic() + 4
    while time.monotonic() < end:
        try:
            time.sleep(0.05)
        except BaseException:
            print("swallowed", flush=True)

port, mode = sys.argv[1], sys.argv[2]
serve = f"import runpy, signal, sys; sys.argv = ['http.server', '{port}', '--bind', '127.0.0.1']; "
if mode == "stubborn":  # a server that ignores SIGTERM
    serve += "signal.signal(signal.SIGTERM, signal.SIG_IGN); "
cmd = [sys.executable, "-c", serve + "runpy.run_module('http.server', run_name='__main__')"]
sys.exit(run_server_process(cmd, f"http://127.0.0.1:{port}/", on_ready if mode == "swallow" else lambda: print("ready", flush=True)))
"""


def _run_script(tmp_path: Path, mode: str) -> tuple[subprocess.Popen, Path, int]:
    script = tmp_path / "server.py"
    script.write_text(SERVING)
    port = free_port()
    log = tmp_path / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, str(script), str(port), mode], stdout=out, stderr=subprocess.STDOUT,
                                cwd=Path(__file__).parents[3], start_new_session=True)
    wait_for(lambda: "ready" in log.read_text() or proc.poll() is not None, 60, "the server to answer")
    return proc, log, port


def test_a_signal_whose_exception_a_library_swallows_still_stops_the_server(tmp_path: Path) -> None:
    proc, log, _ = _run_script(tmp_path, "swallow")
    groups: list[int] = []
    try:
        groups.append(_server_group(proc))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
        text = log.read_text()
        assert "swallowed" in text and "stopping the server (SIGTERM)" in text, text
        assert wait_for(lambda: not group_members(groups[0]), 20, "the server to end")
    finally:
        _kill_all(proc, groups)


def test_a_second_ctrl_c_kills_a_server_that_ignores_sigterm_at_once(tmp_path: Path) -> None:
    from study.commands.serving import GRACE_S

    proc, log, port = _run_script(tmp_path, "stubborn")
    groups: list[int] = []
    try:
        groups.append(_server_group(proc))
        proc.send_signal(signal.SIGINT)
        wait_for(lambda: "stopping the server" in log.read_text(), 10, "the first stop")
        time.sleep(1.0)
        assert proc.poll() is None and group_members(groups[0]), "the stubborn server is waited for, up to GRACE_S"
        second = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0, log.read_text()
        assert time.monotonic() - second < GRACE_S / 2, "the second Ctrl-C did not cut the grace period short"
        assert "Traceback" not in log.read_text(), log.read_text()
        assert wait_for(lambda: not group_members(groups[0]), 20, "the server to end")
    finally:
        _kill_all(proc, groups)


def test_a_taken_port_is_exit_2_before_any_address(tmp_path: Path) -> None:
    root = tmp_path / "studies"
    make_study(root, "demo")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for args in (["ui", "demo"], ["dashboard", "demo", "--serve"]):
            done = subprocess.run([str(STUDY), *args, "--root", str(root), "--port", str(port)], capture_output=True,
                                  text=True, timeout=120, check=False)
            assert done.returncode == 2, (args, done.stdout, done.stderr)
            assert f"port {port} on 127.0.0.1 is already in use" in done.stderr
            assert "http://" not in done.stdout + done.stderr, "an address was printed for a server that cannot start"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT], ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_dashboard_serve_stops_on(sig: signal.Signals, tmp_path: Path) -> None:
    from tests.dashboards.builders import tables, trial, write_folder

    write_folder(tmp_path / "studies" / "hand", tables([trial("train_trial_a", 0.5, params={"lr": 0.003})]))
    port = free_port()
    log = tmp_path / "serve.log"
    proc = _start(["dashboard", "hand", "--root", str(tmp_path / "studies"), "--serve", "--port", str(port)], log)
    try:
        wait_for(lambda: f"http://127.0.0.1:{port}/" in log.read_text() or proc.poll() is not None, 90, "the address")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200 and b"Study hand" in r.read()
        with pytest.raises(urllib.error.HTTPError):  # nothing else of the study folder is served
            urllib.request.urlopen(f"http://127.0.0.1:{port}/study.json", timeout=10)
        proc.send_signal(sig)
        assert proc.wait(timeout=20) == 0, log.read_text()
        with pytest.raises(OSError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3)
    finally:
        _kill_all(proc, [])
