"""``study dashboard``: write a study's dashboard (``dashboards.write_dashboard``) and print its path;
with ``--serve``, serve that one file on 127.0.0.1 until Ctrl+C, SIGTERM or SIGHUP.

The thin front door of the ``dashboards`` package, which sits above ``study`` and is imported only
when this command runs.
"""

from __future__ import annotations

import http.server
import socket
from pathlib import Path

from study.common.errors import UsageError
from study.common.folder import RECORD, find_study

__all__ = ["run", "serve_file", "study_folder"]


def study_folder(name: str | None, root: str) -> Path:
    """The study named ``name`` under ``root`` (the newest one when None), or the folder ``name`` itself."""
    if name and not (Path(root) / name / RECORD).exists():
        path = Path(name)
        if path.is_dir():
            if not (path / RECORD).exists():
                raise UsageError(f"{path} is not a study folder: it has no {RECORD} (`study launch` writes one)")
            return path
    return find_study(name, root)  # an unknown name: exit 2, naming the studies there are


def run(name: str | None, *, root: str, out: str | None, serve: bool, host: str, port: int) -> int:
    from dashboards import write_dashboard

    if serve:
        from study.commands.serving import check_port

        check_port(host, port)  # before any work, and before any address is printed
    d = study_folder(name, root)
    path = write_dashboard(d, out)
    print(f"dashboard of study {d.name!r}: {path}", flush=True)
    return serve_file(path, host=host, port=port) if serve else 0


def serve_file(path: Path, *, host: str, port: int) -> int:
    """Serve ``path`` alone at ``/`` (nothing else of its folder) until a stop signal."""
    from study.commands.serving import ServerStopped, stop_on_signals, warn_if_exposed

    page = path.resolve()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server's name
            if self.path.split("?")[0] not in ("/", f"/{page.name}"):
                self.send_error(404, f"only / is served here (the dashboard {page.name})")
                return
            body = page.read_bytes()  # read at each request: `study dashboard` again refreshes it
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # http.server's signature
            pass

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in host else socket.AF_INET

    try:
        server = Server((host, port), Handler)
    except OSError as e:
        raise UsageError(f"cannot listen on {host}:{port} ({e.strerror}); pass another --port") from None
    warn_if_exposed(host, "dashboard")
    base = f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
    print(f"serving it at {base}/   (Ctrl-C stops it)", flush=True)
    with stop_on_signals():
        try:
            server.serve_forever()
        except (KeyboardInterrupt, ServerStopped):
            pass
        finally:
            server.server_close()
    return 0
