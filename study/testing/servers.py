"""Real servers for tests and benchmarks, on loopback, each in its own process group: an ``mlflow
server`` (a SQLite or PostgreSQL backend) and a throw-away PostgreSQL cluster (``initdb`` in a
temporary folder, ``pg_ctl`` start and stop; as the ``postgres`` user when this is root, since
PostgreSQL refuses to run as root), and the auth token of a throw-away Ray cluster. Nothing here is
used by a study.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

__all__ = ["POOL_ENV", "MlflowServer", "PostgresCluster", "free_port", "postgres_bin", "ray_token_env"]

# An MLflow server's database connections, per worker process (SQLAlchemy's default: 5, and 10 more
# when busy): with 64 trials at once a request waited 30 s for one and failed; these are README's
POOL_ENV = {"MLFLOW_SQLALCHEMYSTORE_POOL_SIZE": "10", "MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW": "30"}


def ray_token_env(folder: Path) -> dict[str, str]:
    """The variables that give this process and its children (``ray start``, drivers, trial workers)
    a Ray auth token of their own: Ray >= 2.59 clusters started with ``ray start`` require one, and
    ``ray start`` does not create it (a local ``ray.init`` writes ``~/.ray/auth_token`` first, so on a
    fresh machine a test or bench that started a cluster before any ``ray.init`` failed). The
    token lives in ``folder`` and the user's ``~/.ray`` is left alone; a token the environment
    already names (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``) is kept."""
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return {}
    path = Path(folder) / "ray_auth_token"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))  # Ray's own format (ray get-auth-token --generate)
        path.chmod(0o600)
    return {"RAY_AUTH_TOKEN_PATH": str(path)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MlflowServer:
    """A real `mlflow server` on a free loopback port, in its own process group.

    ``backend``: the backend store URI (default: SQLite in ``folder``); ``workers``: its worker processes;
    ``env``: more environment for it (MLflow's ``MLFLOW_SQLALCHEMYSTORE_POOL_SIZE``, say).
    """

    def __init__(self, folder: Path, backend: str | None = None, workers: int = 1, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.env = {**os.environ, **(env or {})}
        self.backend = backend or f"sqlite:///{folder / 'mlflow.db'}"
        self.workers = workers
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> None:
        exe = str(Path(sys.executable).with_name("mlflow"))
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [exe, "server", "--backend-store-uri", self.backend,
             "--artifacts-destination", (self.folder / "artifacts").as_uri(),
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "mlflow-server.log").open("ab"), start_new_session=True, env=self.env,
        )
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not answer on {self.uri} within {timeout} s")

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after ``grace_s`` (a server busy with clients can take that long to go).

        ``start()`` again brings it back on the same port, with the same store and artifacts.
        """
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def postgres_bin(tool: str) -> str | None:
    """The path of a PostgreSQL server tool (``initdb``, ``pg_ctl``): on PATH, else Debian's
    ``/usr/lib/postgresql/<version>/bin`` (the newest); None when PostgreSQL is not installed."""
    found = shutil.which(tool)
    if found:
        return found
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    for folder in reversed(versions):
        if (folder / tool).is_file():
            return str(folder / tool)
    return None


class PostgresCluster:
    """A PostgreSQL cluster of its own: ``initdb`` in a temporary folder, a server on a free loopback
    port (trust authentication, reachable from this machine only), one database; ``stop`` removes it all.

    As root, PostgreSQL's tools run as the ``postgres`` user (Debian's package makes it).
    """

    def __init__(self, database: str = "mlflow", max_connections: int = 200) -> None:
        self.database = database
        self.max_connections = max_connections  # PostgreSQL's default, 100, is less than 4 MLflow workers' pools can open
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="xs-pg-", dir="/tmp"))  # a path the postgres user can reach
        self.data = self.folder / "data"
        self.started = False

    @property
    def uri(self) -> str:
        """SQLAlchemy's URI of the database (MLflow's ``--backend-store-uri``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    def _as_owner(self, args: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args

    def start(self, timeout: float = 60.0) -> None:
        initdb, pg_ctl = postgres_bin("initdb"), postgres_bin("pg_ctl")
        if not initdb or not pg_ctl:
            raise RuntimeError("PostgreSQL is not installed: run tests/setup_postgres.sh (apt-get install postgresql)")
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        log = self.folder / "server.log"
        subprocess.run(self._as_owner([initdb, "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                                       "--no-sync"]), check=True, capture_output=True, timeout=timeout)
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections={self.max_connections}"
        subprocess.run(self._as_owner([pg_ctl, "-D", str(self.data), "-o", options, "-l", str(log), "-w", "-t", str(int(timeout)),
                                       "start"]), check=True, capture_output=True, timeout=timeout + 10,
                       start_new_session=True)
        self.started = True
        psql = postgres_bin("psql") or "psql"
        subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres", "-q", "-c",
                        f"CREATE DATABASE {self.database}"], check=True, capture_output=True, timeout=timeout)

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its folder."""
        pg_ctl = postgres_bin("pg_ctl")
        if self.started and pg_ctl:
            subprocess.run(self._as_owner([pg_ctl, "-D", str(self.data), "-m", "fast", "-w", "stop"]), capture_output=True, timeout=60)
            self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)
