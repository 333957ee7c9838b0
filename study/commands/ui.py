"""``study ui``: the MLflow UI for a study's tracking store, on 127.0.0.1 by default."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from study.common.errors import UsageError

__all__ = ["find_study", "serve", "server_command"]


def find_study(name: str | None, root: str) -> Path:
    base = Path(root)
    if name:
        d = base / name
        if not (d / "study.json").exists():
            known = sorted(p.parent.name for p in base.glob("*/study.json"))
            raise UsageError(f"no study {name!r} under {base}/" + (f"; known studies: {', '.join(known)}" if known else "; run `study launch` first"))
        return d
    found = sorted(base.glob("*/study.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise UsageError(f"no study under {base}/; run `study launch` first or pass --root")
    return found[-1].parent


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
    meta = json.loads((d / "study.json").read_text())
    uri = meta.get("tracking_uri")
    if not uri:
        raise UsageError(f"study {d.name!r} was launched with --no-mlflow; there is nothing to show")
    if not uri.startswith("sqlite:"):
        print(f"study {d.name!r} logs to {uri}; open that server directly")
        return 0
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host} exposes the MLflow UI beyond this machine", file=sys.stderr)
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
