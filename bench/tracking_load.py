"""A team's tracking server under a cluster study's load: N trials logging at once to one `mlflow server`
with its default SQLite backend and with a real PostgreSQL (a throw-away cluster: initdb, pg_ctl).

Each trial is a process logging through the trials' own path (``study.testing.tracking_load``: a
TrialRun with its sender thread, 20 s a request, and MLflow's system-metrics monitor, as on a GPU
box): its params, an epoch of 12 metrics every ``--every`` seconds, its final metrics, an artifact,
its end. Then an independent client reads the server back: runs per trial, every value once, runs
left RUNNING; when something is missing, the trials' records are sent again as a study's closing
sync does, and read back again. Failed calls are counted (a trial catches up after one).

    .venv/bin/python bench/tracking_load.py [--quick] [--trials 64] [--epochs 10] [--every 1] [--workers 4]
        [--backends sqlite,postgresql] [--out FILE]

The server gets SQLAlchemy pools of 10 (+30) connections per worker (README; MLflow's default 5
(+10) made requests wait 30 s for a connection and fail at 64 trials, PostgreSQL included) and
PostgreSQL 200 connections. The load generator, the server and the database share this machine's
CPUs: figures on a 2-core machine are a floor, not a team server's. Results:
``bench/results/tracking_load_cpu.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from study.testing.servers import POOL_ENV, MlflowServer, PostgresCluster
from study.testing.tracking_load import LoadReport, run_load


def one(backend: str, trials: int, epochs: int, every_s: float, workers: int) -> LoadReport:
    folder = Path(tempfile.mkdtemp(prefix="xs-load-", dir="/tmp"))
    pg = PostgresCluster() if backend == "postgresql" else None
    try:
        if pg is not None:
            pg.start()
        server = MlflowServer(folder / "server", backend=pg.uri if pg else None, workers=workers, env=POOL_ENV)
        try:
            server.start(timeout=180)
            return run_load(server.uri, folder / "load", backend=backend, trials=trials, epochs=epochs, every_s=every_s,
                            study=f"load-{backend}")
        finally:
            server.stop()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="16 trials x 3 epochs (a minute a backend)")
    ap.add_argument("--trials", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--every", type=float, default=1.0, help="s between two epochs of a trial")
    ap.add_argument("--workers", type=int, default=4, help="mlflow server --workers (its default: 4)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    trials, epochs = (16, 3) if args.quick else (args.trials, args.epochs)
    lines = [f"tracking server load: {trials} trials at once, {epochs} epochs each every {args.every:g} s, mlflow server "
             f"--workers {args.workers}, pools {POOL_ENV}; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"load average before {os.getloadavg()[0]:.1f}", ""]
    print(lines[0], flush=True)
    for backend in args.backends.split(","):
        t = time.perf_counter()
        report = one(backend, trials, epochs, args.every, args.workers)
        line = report.line() + f"  [{time.perf_counter() - t:.0f} s with the server's start and the read-back]"
        lines.append(line)
        for e in report.errors:
            lines.append(f"    failed call: {e[:240]}")
        print(line, flush=True)
    lines.append(f"\nload average after {os.getloadavg()[0]:.1f}")
    if args.out:
        args.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
