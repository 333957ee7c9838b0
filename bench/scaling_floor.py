"""The floor under the scaling goal: how long a slot waits between trials with Ray Tune alone, on this machine.

``bench/scaling.py`` measures the study at 64 trials at once (issue 20's goal: slots wait on the
driver at most 5 % of the slot-time). This runs the same shape of work on the same kind of cluster
(one ``ray start`` head declaring 64 GPUs and 64 CPUs, ``--gpus-per-trial 64/SLOTS``) with the
study's machinery taken away: a function trainable that sleeps ``--epochs`` x ``--epoch-s``
seconds with a ``tune.report`` after each epoch (the last one marked ``done``, as the study's
final report is), ``reuse_actors=True``, no checkpoints, no callbacks, no MLflow, no records, and
for its search either none (``--search none``: Tune's random variants) or Ray's ``OptunaSearch``
with an in-memory TPE over four parameters like the bench's study (``--search optuna``). Each trial
appends its worker's pid, start and end to a file, and the slot-time is split exactly as
``bench/scaling.py`` splits it (``_scaling_measure.slot_wait``): what a slot waits here is what
Ray Tune's loop and Ray's round trips cost on this machine, with nothing of the study's.

    .venv/bin/python bench/scaling_floor.py [--case 64x1000] [--search none|optuna] [--epochs 4] [--epoch-s 1]
        [--out FILE] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _scaling_measure import ClusterSampler, cpu_ticks, pressure, slot_wait
from scaling import GOAL, GPUS, start_cluster, stop_cluster

from study.testing.servers import ray_token_env


def floor_trial(config: dict[str, Any]) -> None:
    """Sleep ``epochs`` x ``epoch_s``, reporting after each epoch; note this worker's pid, start and end."""
    from ray import tune

    start = time.time()
    digest = hashlib.sha256(json.dumps({k: v for k, v in config.items() if k not in ("out", "epochs", "epoch_s")},
                                       sort_keys=True, default=str).encode()).digest()
    quality = 0.3 + 0.6 * int.from_bytes(digest[:4], "big") / 2**32  # something for TPE to rank
    last = config["epochs"] - 1
    for epoch in range(last):
        time.sleep(config["epoch_s"])
        tune.report({"epoch": epoch, "score": quality * (epoch + 1) / (last + 1)})
    time.sleep(config["epoch_s"])
    line = {"pid": os.getpid(), "start": start, "end": time.time(), "trial": tune.get_context().get_trial_id()}
    with open(config["out"], "a") as f:  # one write of one line: the workers append to one file
        f.write(json.dumps(line) + "\n")
    tune.report({"epoch": last, "score": quality, "done": True})


def run_case(address: str, head_pid: int, folder: Path, slots: int, trials: int, epochs: int, epoch_s: float, search: str) -> dict[str, Any]:
    import ray
    from ray import tune

    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
    out = folder / "slots.jsonl"
    space: dict[str, Any] = {"lr": tune.loguniform(1e-3, 1e-2), "mixup": tune.choice([False, True]),
                             "label_smoothing": tune.uniform(0.0, 0.2), "tta_n": tune.randint(0, 3),
                             "out": str(out), "epochs": epochs, "epoch_s": epoch_s}
    searcher = None
    if search == "optuna":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        searcher = OptunaSearch(metric="score", mode="max", sampler=optuna.samplers.TPESampler(seed=0))
    tuner = tune.Tuner(
        tune.with_resources(floor_trial, {"cpu": 1, "gpu": GPUS / slots}),
        param_space=space,
        tune_config=tune.TuneConfig(search_alg=searcher, num_samples=trials, max_concurrent_trials=slots, reuse_actors=True,
                                    metric=None if searcher else "score", mode=None if searcher else "max"),
        run_config=tune.RunConfig(name="floor", storage_path=str(folder / "tune"), verbose=0),
    )
    sampler = ClusterSampler(head_pid, folder / "sampler.json")
    load = os.getloadavg()[0]
    with sampler:
        procs, ticks, psi, cpu, t0 = sampler.sample(), cpu_ticks(), pressure(), time.process_time(), time.time()
        tuner.fit()
        t1, cpu_end, psi_end, ticks_end, procs_end = time.time(), time.process_time(), pressure(), cpu_ticks(), sampler.sample()
    runs: dict[Any, list[tuple[float, float, str]]] = {}
    for line in out.read_text().splitlines():
        row = json.loads(line)
        runs.setdefault(row["pid"], []).append((row["start"], row["end"], row["trial"]))
    for rows in runs.values():
        rows.sort()
    n = sum(len(rows) for rows in runs.values())
    return {
        "slots": slots, "trials": n, "workers": len(runs), "epochs": epochs, "epoch_s": epoch_s, "search": search,
        "search_s": t1 - t0, "ideal_s": n * epochs * epoch_s / slots, **slot_wait(runs, t0, t1, slots),
        "driver_cpu_per_trial_s": (cpu_end - cpu) / max(n, 1),
        "cpu_cores": {"driver": (cpu_end - cpu) / (t1 - t0), **ClusterSampler.cores(procs, procs_end, t1 - t0)},
        "machine_cpu_busy": (ticks_end[0] - ticks[0]) / max(ticks_end[1] - ticks[1], 1),
        "pressure_cpu": (psi_end[0] - psi[0]) / (t1 - t0),
        "load_before": load,
    }


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'slots':>5} {'trials':>6} {'workers':>7} {'search':>7} {'fit':>7} {'ideal':>6} {'busy':>5} {'ramp':>5} {'WAIT':>5} {'running':>7} "
             f"{'drv cpu/trial':>13} {'CPUs busy':>9} {'CPU pressure':>12} {'cores drv/trials/ray':>20} {'load':>5}"]
    for r in rows:
        c = r["cpu_cores"]
        cores = f"{c['driver']:.2f}/{c['workers']:.2f}/{c['ray']:.2f}"
        lines.append(f"{r['slots']:>5} {r['trials']:>6} {r.get('workers', 0):>7} {r['search']:>7} {r['search_s']:>6.0f}s {r['ideal_s']:>5.0f}s "
                     f"{r['busy_share']:>5.0%} {r['ramp_share']:>5.0%} {r['wait_share']:>5.1%} {r['wait_running_share']:>7.1%} "
                     f"{r['driver_cpu_per_trial_s']:>12.3f}s {r['machine_cpu_busy']:>9.0%} {r['pressure_cpu']:>12.0%} "
                     f"{cores:>20} {r['load_before']:>5.1f}" + ("" if r["wait_share"] <= GOAL else "  > goal"))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--case", default="64x1000", help="SLOTSxTRIALS (default 64x1000)")
    ap.add_argument("--search", choices=("none", "optuna"), default="none",
                    help="none: Tune's random variants; optuna: Ray's OptunaSearch, TPE in memory")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--epoch-s", type=float, default=1.0, help="s of sleep per epoch of a trial")
    ap.add_argument("--out", type=Path, help="append the table to FILE")
    ap.add_argument("--json", type=Path, help="write the row to FILE")
    ap.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # internal: the driver, in its own process
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--head-pid", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    try:
        slots, trials = (int(v) for v in args.case.split("x"))
    except ValueError:
        ap.error(f"--case {args.case!r}: give SLOTSxTRIALS, e.g. 64x1000")
    if slots < 1 or GPUS % slots:
        ap.error(f"--case {args.case!r}: SLOTS must divide {GPUS}, e.g. 8, 16, 32 or 64")
    if args.one:
        row = run_case(args.address, args.head_pid, args.folder, slots, trials, args.epochs, args.epoch_s, args.search)
        (args.folder / "row.json").write_text(json.dumps(row))
        return

    root = Path(tempfile.mkdtemp(prefix="xs-floor-", dir="/tmp"))
    os.environ.update(ray_token_env(root))  # the cluster's auth token, for the head and the driver
    address, head = start_cluster(root, args.epoch_s)
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}
    print(f"scaling floor: Ray Tune alone on a cluster declaring {GPUS} GPUs at {address}; {args.case}, trials of "
          f"{args.epochs} x {args.epoch_s:g} s, search {args.search}; {os.cpu_count()} CPUs", flush=True)
    try:
        cmd = [sys.executable, __file__, "--one", "--case", args.case, "--search", args.search, "--epochs", str(args.epochs),
               "--epoch-s", str(args.epoch_s), "--address", address, "--head-pid", str(head.pid), "--folder", str(root)]
        with open(root / "driver.log", "w") as log:
            done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    finally:
        stop_cluster(head)
    if done.returncode != 0:
        sys.exit(f"the driver failed (exit {done.returncode}); see {root / 'driver.log'}")
    row = json.loads((root / "row.json").read_text())
    text = "\n".join([
        f"scaling floor (issue 20): Ray Tune alone, bench/scaling_floor.py:floor_trial ({args.epochs} x {args.epoch_s:g} s, "
        f"a report each epoch), reuse_actors, no checkpoints, callbacks, MLflow or records; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}; columns as in bench/scaling.py (workers: Ray worker processes that ran trials; "
        "fit: Tuner.fit's wall time; CPU pressure: "
        "share of the fit in which some task waited for a CPU; cores: used on average by the driver, the trial workers, Ray's own)",
        table([row])])
    print(text)
    if args.out:
        with args.out.open("a") as f:
            f.write(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(row, indent=1))


if __name__ == "__main__":
    main()
