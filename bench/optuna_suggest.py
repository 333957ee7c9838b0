"""Optuna's suggestion time as a study grows, with many trials running at once: the study's own
sampler (``TPESampler(seed=...)``: in Optuna 5, multivariate TPE with the constant liar) and its
search space (``study.spec.suggest`` over the bench's four parameters), on the study's storage
(``RDBStorage`` on SQLite, as ``optuna.db``) against a ``JournalStorage`` file and memory.

For each storage, the study is filled to N finished trials (values from a fixed function) with R
trials left RUNNING (each with intermediate values, as the constant liar sees them), then the time
of one ``ask`` with the study's define-by-run space is taken (median of ``--repeat``).

    .venv/bin/python bench/optuna_suggest.py [--quick] [--sizes 100,300,1000] [--running 64] [--out FILE]

Results: ``bench/results/optuna_suggest_cpu.txt``.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

SPACE = """
name = "suggest"
[base]
preset = "tiny"
[search]
lr = { float = [1e-3, 1e-2], log = true }
mixup = { choice = [false, true] }
label_smoothing = { float = [0.0, 0.2] }
tta_n = { int = [0, 2] }
"""


def _storage(kind: str, folder: Path) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if kind == "sqlite":
        return optuna.storages.RDBStorage(f"sqlite:///{folder / 'optuna.db'}")
    if kind == "journal":
        return optuna.storages.JournalStorage(JournalFileBackend(str(folder / "optuna.journal")))
    return optuna.storages.InMemoryStorage()


def _value(params: dict[str, Any]) -> float:
    return math.sin(30 * params["lr"]) + 0.1 * params["tta_n"] - params["label_smoothing"] + 0.05 * params["mixup"]


def measure(kind: str, sizes: list[int], running: int, repeat: int) -> list[tuple[int, float]]:
    import optuna

    from study.spec import load_study_file, suggest

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder = Path(tempfile.mkdtemp(prefix="xs-optuna-"))
    (folder / "s.toml").write_text(SPACE)
    spec = load_study_file(folder / "s.toml")
    study = optuna.create_study(study_name="s", storage=_storage(kind, folder), direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=0))
    out = []
    done = 0
    live: list[Any] = []
    for n in sizes:
        while done < n:  # finish trials up to n, keeping `running` trials RUNNING with 2 intermediate values
            t = study.ask()
            params = suggest(t, spec)
            t.report(0.5 * _value(params), 0)
            t.report(0.8 * _value(params), 1)
            live.append((t, params))
            if len(live) > running:
                old, p = live.pop(0)
                study.tell(old, _value(p))
                done += 1
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            t = study.ask()
            suggest(t, spec)
            times.append(time.perf_counter() - t0)
            study.tell(t, state=optuna.trial.TrialState.FAIL)  # not counted: the study stays at n
        out.append((n, statistics.median(times)))
        print(f"{kind:<8} {n:>5} finished, {running} running: ask + suggest {1000 * out[-1][1]:7.1f} ms", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sizes 50,200, 16 running")
    ap.add_argument("--sizes", default="100,300,1000")
    ap.add_argument("--running", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--storages", default="sqlite,journal,memory")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    sizes = [50, 200] if args.quick else [int(s) for s in args.sizes.split(",")]
    running = 16 if args.quick else args.running
    lines = [f"Optuna suggestion time (TPESampler(seed=0): Optuna 5's multivariate TPE with the constant liar), the bench's "
             f"4-parameter space, {running} trials RUNNING; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
             f"load average before {os.getloadavg()[0]:.1f}", ""]
    results = {kind: measure(kind, sizes, running, args.repeat) for kind in args.storages.split(",")}
    lines.append(f"{'finished':>8} " + " ".join(f"{k:>10}" for k in results))
    for i, n in enumerate(sizes):
        lines.append(f"{n:>8} " + " ".join(f"{1000 * results[k][i][1]:>8.0f}ms" for k in results))
    lines.append(f"\nload average after {os.getloadavg()[0]:.1f}")
    text = "\n".join(lines)
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
