"""``study ui``: the MLflow UI for a study's tracking store, on 127.0.0.1 by default."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from study.common.errors import UsageError
from study.common.folder import find_study, read_study, tracking_uri_of

__all__ = ["serve", "server_command"]


def server_command(tracking_uri: str, artifacts: Path | None, host: str, port: int) -> list[str]:
    exe = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    cmd = [exe, "server", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port), "--workers", "1"]
    if artifacts is not None:
        cmd += ["--artifacts-destination", artifacts.resolve().as_uri()]
    return cmd


def serve(name: str | None, *, root: str, host: str, port: int) -> int:
    if not 1 <= port <= 65535:
        raise UsageError(f"--port must be in [1, 65535], got {port}")
    d = find_study(name, root)
    meta = read_study(d)
    uri = tracking_uri_of(d, meta)
    if not uri:
        raise UsageError(f"study {d.name!r} was launched with --no-mlflow; there is nothing to show")
    if not uri.startswith("sqlite:"):
        print(f"study {d.name!r} logs to {uri}; open that server directly")
        return 0
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host} exposes the MLflow UI beyond this machine", file=sys.stderr)
    if meta.get("tracking_store") == "folder":
        from study.tracking import relocate_folder_store

        relocate_folder_store(d, meta["name"])  # a moved folder: its artifacts are where it is now
    cmd = server_command(uri, d / "mlartifacts", host, port)
    print(f"MLflow UI for study {d.name!r}: http://{host}:{port}   (Ctrl-C stops it)", flush=True)
    proc = subprocess.Popen(cmd, start_new_session=True)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        return 0
