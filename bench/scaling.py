"""Scaling, simulated: a Ray cluster that declares 64 GPUs (`ray start --head --num-gpus 64`; nothing
uses them), studies of the sleeping stand-in (``study.testing.stand_in:paced_trial``: the real
reporting path, epochs of ``--epoch-s`` seconds) through the real driver (``study.driver.launch``),
its Optuna storage and MLflow (the study folder's SQLite store, sent by the driver from the records).

For each (concurrent trials, trials) case, in a fresh driver process:

* **slot wait**: the share of the search's slot-time in which a slot (a worker: Tune reuses it for
  the slot's next trial) was between two of its trials, waiting on the driver (its loop, Optuna,
  MLflow) and Ray (the round trips to the worker); the ramp-up (from the search's start to each
  slot's first trial) apart. Goal (issue 20): at most 5 % up to 64 concurrent trials and 1,000
  trials. Where that wait went, leg by leg (``LEGS``): the bench stamps Tune's controller and the
  searcher in the driver process;
* **driver CPU per trial**: the driver process's CPU seconds during the search / trials, with its
  MLflow follower's (``study.tracking.follow``, a process of its own: sampled every 2 s);
* **suggest**: Optuna's suggestion (``StudySearch.suggest``, TPE multivariate with the constant
  liar) median and last-tenth median, and the searcher's other storage calls per trial;
* **writes**: bytes the driver and its follower wrote during the search (``/proc/.../io``), the study folder's size
  and files at the end;
* **memory**: the Ray workers' and the driver's resident memory at the peak.

    .venv/bin/python bench/scaling.py [--quick] [--cases 8x100,64x1000] [--epochs 4] [--epoch-s 1] [--out FILE]
        [--json FILE] [--plot FILE.png] [--profile FILE]

A case is ``SLOTSxTRIALS``; slots are set by ``--gpus-per-trial 64/SLOTS``. Everything shares this
machine's CPUs with 64 sleeping trial processes: the driver's figures are a ceiling for a real head
node. Results: ``bench/results/scaling_cpu.txt`` (and ``.json``, ``.png``); the 64 x 1,000 case run after run,
before and after 2026-12-06's changes, leg by leg: ``bench/results/scaling_round_cpu.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _scaling_measure import (
    LEGS,
    ClusterSampler,
    GcPauses,
    SnapshotTrials,
    Stamps,
    Timer,
    by_worker,
    cpu_ticks,
    legs,
    longest_serialized,
    pressure,
    slot_wait,
    write_bytes,
)

from study.testing.servers import ray_token_env
from trainable.config import TrialConfig

GOAL = 0.05  # slots waiting on the driver, share of the search's slot-time
GPUS = 64


def study_file(folder: Path, data: Path, trials: int, epochs: int, checkpoint_every_s: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    every = "" if checkpoint_every_s is None else f"checkpoint_every_s = {checkpoint_every_s}"
    path = folder / "study.toml"
    path.write_text(f"""
name = "scale"
seed = 0
[base]
preset = "tiny"
data = "{data}"
data_dir = "{folder / 'cache'}"
epochs = {epochs}
{every}
[budget]
time = "4h"
max_trials = {trials}
confirm_top = 0
[early_stopping]
scheduler = "none"
[search]
lr = {{ float = [1e-3, 1e-2], log = true }}
mixup = {{ choice = [false, true] }}
label_smoothing = {{ float = [0.0, 0.2] }}
tta_n = {{ int = [0, 2] }}
""")
    return path


# ------------------------------------------------------------------------------------------------
# One case, in its own driver process
# ------------------------------------------------------------------------------------------------


def run_case(address: str, head_pid: int, data: Path, folder: Path, slots: int, trials: int, epochs: int,
             epoch_s: float, checkpoint_every_s: float | None) -> dict[str, Any]:
    os.environ["XRESNET_STUDY_TEST_TRAINABLE"] = "study.testing.stand_in:paced_trial"
    from ray.tune.execution.tune_controller import TuneController

    import study.driver.search as runner
    from study.driver.launch import LaunchOptions, launch
    from study.tune.searcher import StudySearch

    spec = study_file(folder / "spec", data, trials, epochs, checkpoint_every_s)
    opts = LaunchOptions(space=str(spec), root=str(folder / "studies"), address=address, gpus_per_trial=GPUS / slots,
                         status_every_s=30.0)
    timers = {n: Timer(StudySearch, n) for n in ("suggest", "on_trial_result", "on_trial_complete")}
    pauses = GcPauses()
    snapshots = Timer(TuneController, "save_to_dir")  # Tune's experiment snapshot: the driver's loop waits for it
    serialized = SnapshotTrials(TuneController)  # within each snapshot: the trials it serialized, and their seconds
    stamps = Stamps()
    stamps.patch_final(TuneController)
    stamps.patch(StudySearch, "on_trial_complete", "ended")
    stamps.patch(StudySearch, "suggest", "made")
    stamps.patch(TuneController, "_schedule_trial_reset", "reset_sent")
    stamps.patch(TuneController, "_on_trial_reset", "reset_done")
    stamps.patch(TuneController, "_schedule_trial_train", "train_sent")
    seen: dict[str, Any] = {}
    sampler = ClusterSampler(head_pid, folder / "sampler.json")  # its periodic samples in a process of its own
    real_search = runner.run_search

    def timed_search(*args: Any, **kwargs: Any) -> Any:
        seen.update(start=time.time(), cpu=time.process_time(), wrote=write_bytes(), ticks=cpu_ticks(), procs=sampler.sample(), psi=pressure(),
                    follower_wrote=sum(sampler.wrote.values()))
        try:
            return real_search(*args, **kwargs)
        finally:
            seen.update(end=time.time(), cpu_end=time.process_time(), wrote_end=write_bytes(), ticks_end=cpu_ticks(),
                        procs_end=sampler.sample(), psi_end=pressure(), follower_wrote_end=sum(sampler.wrote.values()))

    runner.run_search = timed_search
    profiler = None
    if os.environ.get("XS_SCALING_PROFILE"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        with sampler:
            summary = launch(opts)
    finally:
        runner.run_search = real_search
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(os.environ["XS_SCALING_PROFILE"])
    study = Path(summary["folder"])
    from study.tracking.records import read_records

    states = list(read_records(study))
    runs = by_worker(states)
    t0, t1 = seen["start"], seen["end"]
    shares = slot_wait(runs, t0, t1, slots)
    suggest = timers["suggest"].seconds
    tenth = suggest[-max(1, len(suggest) // 10):]
    files = [p for p in study.rglob("*") if p.is_file()]
    n = sum(len(trials) for trials in runs.values())
    cores = ClusterSampler.cores(seen["procs"], seen["procs_end"], t1 - t0)
    return {
        "slots": slots, "trials": n, "asked": trials, "epochs": epochs, "epoch_s": epoch_s,
        "checkpoint_every_s": checkpoint_every_s if checkpoint_every_s is not None else TrialConfig().checkpoint_every_s, "counts": summary["counts"],
        "search_s": t1 - t0, "ideal_s": n * epochs * epoch_s / slots, **shares,
        # the driver's CPU with its MLflow follower's (a process of its own: study.tracking.follow)
        "driver_cpu_per_trial_s": (seen["cpu_end"] - seen["cpu"] + cores["follower"] * (t1 - t0)) / max(n, 1),
        "cpu_stolen": (seen["ticks_end"][2] - seen["ticks"][2]) / max(seen["ticks_end"][1] - seen["ticks"][1], 1),
        "cpu_cores": {"driver": (seen["cpu_end"] - seen["cpu"]) / (t1 - t0), **cores},
        "machine_cpu_busy": (seen["ticks_end"][0] - seen["ticks"][0]) / max(seen["ticks_end"][1] - seen["ticks"][1], 1),
        "suggest_median_ms": 1000 * statistics.median(suggest) if suggest else float("nan"),
        "suggest_last_tenth_ms": 1000 * statistics.median(tenth) if tenth else float("nan"),
        "suggest_calls": len(suggest),
        "snapshots": len(snapshots.seconds), "snapshot_s": sum(snapshots.seconds),
        "snapshot_max_s": max(snapshots.seconds, default=0.0),
        "snapshot_spans": [(a - t0, d) for a, d in zip(snapshots.started, snapshots.seconds)],  # from the search's start
        "snapshot_trials": serialized.calls,  # (trials serialized, wall s, the thread's CPU s) of each snapshot, in order
        **pauses.summary(t0),
        # share of the search's wall time in which some task waited for a CPU / for I/O, and every 2 s
        "pressure_cpu": (seen["psi_end"][0] - seen["psi"][0]) / (t1 - t0), "pressure_io": (seen["psi_end"][1] - seen["psi"][1]) / (t1 - t0),
        "pressure_spans": [(t - t0, c, i) for t, c, i in sampler.pressure if t0 <= t <= t1],
        "searcher_other_ms_per_trial": 1000 * (sum(timers["on_trial_result"].seconds) + sum(timers["on_trial_complete"].seconds)) / max(n, 1),
        "driver_wrote_mb": (seen["wrote_end"] - seen["wrote"] + seen["follower_wrote_end"] - seen["follower_wrote"]) / 2**20,
        "folder_mb": sum(p.stat().st_size for p in files) / 2**20, "folder_files": len(files),
        "workers_rss_gb": sampler.peak.get("workers", 0.0) / 2**30, "driver_rss_gb": sampler.peak.get("driver", 0.0) / 2**30,
        "load_before": os.getloadavg()[0],
        **legs(runs, stamps.at, slots * (t1 - t0)),
    }


# ------------------------------------------------------------------------------------------------
# The cluster, the cases, the table
# ------------------------------------------------------------------------------------------------


def start_cluster(folder: Path, epoch_s: float) -> tuple[str, subprocess.Popen]:
    from study.testing.servers import free_port

    port = free_port()
    repo = str(Path(__file__).resolve().parents[1])  # the trial workers import this checkout's code, as the driver does
    python_path = os.pathsep.join([repo, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "XRESNET_STUDY_TEST_EPOCH_S": str(epoch_s),
           "PYTHONPATH": python_path}
    ray = str(Path(sys.executable).with_name("ray"))
    temp = tempfile.mkdtemp(prefix="rs", dir="/tmp")
    proc = subprocess.Popen([ray, "start", "--head", f"--port={port}", f"--num-gpus={GPUS}", f"--num-cpus={GPUS}",
                             "--node-ip-address=127.0.0.2", "--include-dashboard=false", f"--temp-dir={temp}", "--block"],
                            stdout=(folder / "ray-head.log").open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True)
    address = f"127.0.0.2:{port}"
    for _ in range(120):
        if proc.poll() is not None:
            raise RuntimeError("the ray head exited: " + (folder / "ray-head.log").read_text()[-2000:])
        if subprocess.run([ray, "status", f"--address={address}"], capture_output=True, env=env).returncode == 0:
            return address, proc
        time.sleep(1)
    stop_cluster(proc)
    raise RuntimeError("the ray head did not come up: " + (folder / "ray-head.log").read_text()[-2000:])


def stop_cluster(proc: subprocess.Popen) -> None:
    import psutil

    try:
        procs = [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'slots':>5} {'trials':>6} {'ckpt':>5} {'search':>8} {'ideal':>7} {'busy':>5} {'ramp':>5} {'WAIT':>5} {'running':>7} "
            f"{'drv cpu/trial':>13} "
            f"{'suggest p50':>11} {'last 10%':>8} {'searcher/trial':>14} {'drv wrote':>9} {'folder':>12} {'cluster RSS':>11} {'load':>5} "
            f"{'CPUs busy':>9} {'stolen':>6} {'cores drv/fol/trials/ray':>24}")
    lines = [head]
    for r in rows:
        verdict = "" if r["wait_share"] <= GOAL else "  > goal"
        lines.append(
            f"{r['slots']:>5} {r['trials']:>6} {r.get('checkpoint_every_s', 0.0):>4g}s "
            f"{r['search_s']:>7.0f}s {r['ideal_s']:>6.0f}s {r['busy_share']:>5.0%} {r['ramp_share']:>5.0%} "
            f"{r['wait_share']:>5.1%} {r.get('wait_running_share', float('nan')):>7.1%} "
            f"{r['driver_cpu_per_trial_s']:>12.3f}s {r['suggest_median_ms']:>9.0f}ms "
            f"{r['suggest_last_tenth_ms']:>6.0f}ms {r['searcher_other_ms_per_trial']:>12.0f}ms {r['driver_wrote_mb']:>7.1f}MB "
            f"{r['folder_mb']:>5.0f}MB/{r['folder_files']:<5} {r['workers_rss_gb']:>9.1f}GB {r['load_before']:>5.1f} "
            f"{r.get('machine_cpu_busy', float('nan')):>9.0%} {r.get('cpu_stolen', float('nan')):>6.0%} {_cores(r):>24}{verdict}")
    return "\n".join(lines)


def _cores(row: dict[str, Any]) -> str:
    cores = row.get("cpu_cores") or {}
    return "/".join(f"{cores[k]:.2f}" if k in cores else "-" for k in ("driver", "follower", "workers", "ray"))


def legs_table(rows: list[dict[str, Any]]) -> str:
    """Where the slots' wait between trials went (share of the slot-time, summed over consecutive
    trials on one worker): the legs of ``LEGS``, in order, and the median gap."""
    lines = ["slots trials   WAIT  " + "  ".join(f"{name}" for _, name in LEGS) + "  median gap  Tune snapshots"]
    for r in rows:
        legs = r.get("legs") or {}
        cells = [f"{legs.get(k, float('nan')):>{len(name)}.1%}" for k, name in LEGS]
        lines.append(f"{r['slots']:>5} {r['trials']:>6}  {r['wait_share']:>5.1%}  " + "  ".join(cells)
                     + f"  {r.get('gap_median_s', float('nan')):>9.2f}s  {r.get('snapshots', 0):>3} = {r.get('snapshot_s', 0.0):.0f} s "
                     f"(longest {r.get('snapshot_max_s', 0.0):.1f} s{longest_serialized(r)})")
    return "\n".join(lines)


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for slots in sorted({r["slots"] for r in rows}):
        rs = sorted((r for r in rows if r["slots"] == slots), key=lambda r: r["trials"])
        x = [r["trials"] for r in rs]
        axes[0].plot(x, [100 * r["wait_share"] for r in rs], "o-", label=f"{slots} at once")
        axes[1].plot(x, [1000 * r["driver_cpu_per_trial_s"] for r in rs], "o-", label=f"{slots} at once")
        axes[2].plot(x, [r["suggest_last_tenth_ms"] for r in rs], "o-", label=f"{slots} at once")
    axes[0].axhline(100 * GOAL, ls="--", c="k", lw=1)
    axes[0].set(title="slots waiting on the driver (% of slot-time)", xlabel="trials in the study", ylabel="%")
    axes[1].set(title="driver CPU per trial", xlabel="trials in the study", ylabel="ms")
    axes[2].set(title="Optuna suggestion (last tenth of the study)", xlabel="trials in the study", ylabel="ms")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="cases 8x40,64x128 (a few minutes)")
    ap.add_argument("--cases", default="8x100,64x100,8x300,64x300,64x1000", help="SLOTSxTRIALS, comma-separated")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--epoch-s", type=float, default=1.0, help="s of sleep per epoch of a trial")
    ap.add_argument("--checkpoint-every-s", type=float,
                    help="[base] checkpoint_every_s of the trials (default: the trainable's, 30 s; 0: every epoch)")
    ap.add_argument("--out", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--plot", type=Path)
    ap.add_argument("--profile", type=Path, help="cProfile the (last) case's driver into FILE")
    ap.add_argument("--one", help=argparse.SUPPRESS)  # internal: SLOTSxTRIALS in this process
    ap.add_argument("--address", help=argparse.SUPPRESS)
    ap.add_argument("--head-pid", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        slots, trials = (int(v) for v in args.one.split("x"))
        row = run_case(args.address, args.head_pid, args.data, args.folder, slots, trials, args.epochs, args.epoch_s,
                       args.checkpoint_every_s)
        (args.folder / "row.json").write_text(json.dumps(row))
        return

    cases = "8x40,64x128" if args.quick else args.cases
    from trainable.data import ensure_embedded

    root = Path(tempfile.mkdtemp(prefix="xs-scale-", dir="/tmp"))
    os.environ.update(ray_token_env(root))  # the cluster's auth token, for the head and the drivers
    data = ensure_embedded(root / "data", train_per_class=4, valid_per_class=2)
    address, head = start_cluster(root, args.epoch_s)
    path = [str(Path(__file__).resolve().parents[1])] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": os.pathsep.join(path)}
    if args.profile:
        env["XS_SCALING_PROFILE"] = str(args.profile.resolve())
    env["RAY_AUTH_MODE"] = "token"  # the bench imports study.driver.search (and so ray) before launch can choose it
    rows = []
    every = args.checkpoint_every_s if args.checkpoint_every_s is not None else TrialConfig().checkpoint_every_s
    print(f"scaling: a cluster declaring {GPUS} GPUs at {address}; trials of {args.epochs} x {args.epoch_s:g} s, "
          f"a checkpoint every {every:g} s; "
          f"{os.cpu_count()} CPUs", flush=True)
    try:
        for case in cases.split(","):
            folder = root / case
            folder.mkdir()
            cmd = [sys.executable, __file__, "--one", case, "--address", address, "--head-pid", str(head.pid), "--data", str(data),
                   "--folder", str(folder),
                   "--epochs", str(args.epochs), "--epoch-s", str(args.epoch_s)]
            if args.checkpoint_every_s is not None:
                cmd += ["--checkpoint-every-s", str(args.checkpoint_every_s)]
            with open(folder / "driver.log", "w") as log:
                done = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
            if done.returncode != 0:
                print(f"case {case} failed (exit {done.returncode}); see {folder / 'driver.log'}", flush=True)
                continue
            row = json.loads((folder / "row.json").read_text())
            rows.append(row)
            print(table([row]).splitlines()[-1], flush=True)
            print("  " + legs_table([row]).replace("\n", "\n  "), flush=True)
    finally:
        stop_cluster(head)
    text = "\n".join([
        f"scaling (issue 20): a Ray cluster declaring {GPUS} GPUs (one head, `ray start --num-gpus {GPUS}`), "
        f"study.testing.stand_in:paced_trial ({args.epochs} epochs x {args.epoch_s:g} s, checkpoint_every_s = {every:g}), "
        "the real driver, Optuna (its JournalStorage file), "
        f"MLflow (the folder's SQLite, sent by the driver); {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "busy: slot-time in trials; ramp: slot-time before each slot's first trial; WAIT: slot-time between two trials of "
        f"a slot (its worker), waiting on the driver and Ray (goal <= {GOAL:.0%}); running: the same wait as a share of the slots' time from "
        "their first trial's start to their last one's end (the ramp and the tail left out); "
        "drv cpu/trial: the driver's CPU s during the search per trial, its MLflow follower's included; suggest: "
        "StudySearch.suggest (median, and of the last tenth); searcher/trial: its on_trial_result + on_trial_complete; "
        "drv wrote: bytes the driver and its follower wrote in the search; folder: the study folder at the end; load: 1-min load average before; "
        "CPUs busy: the whole machine's CPU use during the search (/proc/stat), stolen: of it, time the virtual CPUs "
        "waited for the host; cores: CPU cores used on average "
        "during the search by the driver, its MLflow follower (a process of its own), the trials' worker processes and "
        "Ray's own (raylet, GCS, agents)",
        "", table(rows), "",
        "where the WAIT went, leg by leg (share of the slot-time; each leg from the latest mark before it): the final report "
        "seen by the driver, the trial ended, the next one suggested, its reset sent, the worker reset, the first train "
        "call sent, the trial's code running:", legs_table(rows)])
    print("\n" + text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if args.plot and rows:
        plot(rows, args.plot)


if __name__ == "__main__":
    main()
