"""``study ui``: the MLflow UI for a study's tracking store, on 127.0.0.1 by default."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from study.common.errors import UsageError
from study.common.folder import find_study, read_study, tracking_uri_of
from study.common.logs import UI_LOG

__all__ = ["serve", "server_command"]


def server_command(tracking_uri: str, artifacts: Path | None, host: str, port: int) -> list[str]:
    exe = shutil.which("mlflow") or str(Path(sys.executable).with_name("mlflow"))
    cmd = [exe, "server", "--backend-store-uri", tracking_uri, "--host", host, "--port", str(port), "--workers", "1"]
    if artifacts is not None:
        cmd += ["--artifacts-destination", artifacts.resolve().as_uri()]
    return cmd


def _experiment_id(base: str, experiment: str) -> str:
    query = urllib.parse.urlencode({"experiment_name": experiment})
    with urllib.request.urlopen(f"{base}/api/2.0/mlflow/experiments/get-by-name?{query}", timeout=10) as r:
        return str(json.load(r)["experiment"]["experiment_id"])


def _print_links(base: str, meta: dict) -> None:
    """The study's runs, parent run and dashboard on the server at ``base``, asked of the server itself
    (no mlflow import, no second client on its database)."""
    try:
        experiment_id = _experiment_id(base, meta["name"])
    except (OSError, ValueError, KeyError) as e:  # the server is up (or not); only the deep links are missing
        print(f"  (no direct links: {type(e).__name__}: {e})", flush=True)
        return
    from study.tracking.display import ui_links

    for what, url in ui_links(base, experiment_id, meta.get("parent_run_id")):
        print(f"  {what + ':':12s}{url}", flush=True)


def serve(name: str | None, *, root: str, host: str, port: int, verbose: bool = False) -> int:
    """``mlflow server`` on the study's own store until Ctrl+C, SIGTERM or SIGHUP (which stop its whole process group).

    The terminal shows the study's lines (the addresses); the server's own output (its start-up lines,
    warnings, requests) goes to ``ui.log`` in the study folder, or to the terminal with ``verbose``.
    """
    from study.commands.serving import check_port, run_server_process, warn_if_exposed

    check_port(host, port)  # a taken port: exit 2 here, before any address is printed
    d = find_study(name, root)
    meta = read_study(d)
    uri = tracking_uri_of(d, meta)
    if not uri:
        raise UsageError(f"study {d.name!r} was launched with --no-mlflow; there is nothing to show")
    if not uri.startswith("sqlite:"):
        print(f"study {d.name!r} logs to {uri}; open that server directly")
        if uri.startswith(("http://", "https://")):  # a team's server: the study's pages on it
            _print_links(uri.rstrip("/"), meta)
        return 0
    warn_if_exposed(host, "MLflow UI")
    if meta.get("tracking_store") == "folder":
        from study.tracking import relocate_folder_store

        relocate_folder_store(d, meta["name"])  # a moved folder: its artifacts are where it is now
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"

    def ready() -> None:
        print(f"MLflow UI for study {d.name!r}: {base}   (Ctrl-C stops it)", flush=True)
        _print_links(base, meta)

    log = None if verbose else d / UI_LOG
    print(f"study ui: starting mlflow server for study {d.name!r}" + (f" (its log: {log})" if log else "") + "...", flush=True)
    return run_server_process(server_command(uri, d / "mlartifacts", host, port), f"{base}/health", ready, log=log)
