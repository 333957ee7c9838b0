"""What ``bench/scaling.py`` measures in a case's driver process: the slot-time by what each slot
(worker) was doing, where a slot's wait between two trials went (stamps in Tune's controller and
the searcher), the driver's calls' time, the machine's and the cluster's CPU, the driver's writes,
the cluster's memory. The bench's own instrumentation: nothing of it is in the study's code.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any


class Timer:
    """Wall seconds of each call of a method (the bench's own instrumentation, in the driver process)."""

    def __init__(self, cls: Any, name: str) -> None:
        self.cls, self.name, self.real = cls, name, getattr(cls, name)
        self.seconds: list[float] = []
        self.started: list[float] = []  # time.time() of each call

        def timed(obj: Any, *args: Any, **kwargs: Any) -> Any:
            self.started.append(time.time())
            t = time.perf_counter()
            try:
                return self.real(obj, *args, **kwargs)
            finally:
                self.seconds.append(time.perf_counter() - t)

        setattr(cls, name, timed)


class SnapshotTrials:
    """Inside each of Tune's experiment snapshots: how many trials it serialized (those changed since the
    last one: ``TuneController._trials_to_cache``), the wall seconds that took (``_get_trial_checkpoints``)
    and the driver thread's CPU seconds in them (fewer than the wall's when the thread waited: for a CPU, or for the
    interpreter lock)."""

    def __init__(self, cls: Any) -> None:
        real = cls._get_trial_checkpoints
        self.calls: list[tuple[int, float, float]] = []  # (trials serialized, wall s, the thread's CPU s), one per snapshot

        def counted(obj: Any) -> Any:
            n, t, cpu = len(obj._trials_to_cache), time.perf_counter(), time.thread_time()
            try:
                return real(obj)
            finally:
                self.calls.append((n, time.perf_counter() - t, time.thread_time() - cpu))

        cls._get_trial_checkpoints = counted


def longest_serialized(row: dict[str, Any]) -> str:
    """What a case's longest snapshot spent serializing trials (``SnapshotTrials``): ``: 12 trials serialized in 6.4 s, 0.1 s of CPU``."""
    spans, calls = row.get("snapshot_spans") or [], row.get("snapshot_trials") or []
    if not spans or len(calls) != len(spans):
        return ""
    n, seconds, *cpu = calls[max(range(len(spans)), key=lambda i: spans[i][1])]
    return f": {n} trials serialized in {seconds:.1f} s" + (f", {cpu[0]:.1f} s of CPU" if cpu else "")


class Stamps:
    """When the driver did what for each trial (``time.time()`` by Tune trial id; the first time only):
    the bench's own instrumentation of Tune's controller and the searcher, in the driver process."""

    def __init__(self) -> None:
        self.at: dict[str, dict[str, float]] = {}

    def patch(self, cls: Any, name: str, label: str) -> None:
        real = getattr(cls, name)

        def stamped(obj: Any, trial: Any, *args: Any, **kwargs: Any) -> Any:
            out = real(obj, trial, *args, **kwargs)
            tid = trial if isinstance(trial, str) else trial.trial_id
            if out is not None or label != "made":  # a suggestion that made no trial is not one
                self.at.setdefault(tid, {}).setdefault(label, time.time())
            return out

        setattr(cls, name, stamped)

    def patch_final(self, cls: Any) -> None:
        """When the driver got each trial's final report (the one marked ``xs_finished``)."""
        from study.tune.reporting import FINISHED_KEY

        real = cls._on_training_result

        def stamped(obj: Any, trial: Any, result: Any) -> Any:
            if any(r.get(FINISHED_KEY) for r in (result if isinstance(result, list) else [result])):
                self.at.setdefault(trial.trial_id, {}).setdefault("final_seen", time.time())
            return real(obj, trial, result)

        cls._on_training_result = stamped


# A slot's wait between two trials on the same worker, in the order it happens: the last trial's
# final report reaches the driver, which ends the trial (before 2026-12-06 Tune asked the worker
# once more and waited for its "done"; the final report now carries it), makes the next trial
# (Optuna's suggestion), sends it to the worker, which resets, gets Tune's first "train" call, and
# runs the trial's code. Each leg counts from the latest of the marks before it (the next trial may
# have been made before the last one ended), so the legs add up to the gap.
LEGS = (("final_seen", "final report seen"), ("ended", "trial ended"), ("made", "next suggested"),
        ("reset_sent", "reset sent"), ("reset_done", "worker reset"), ("train_sent", "train sent"),
        ("attempt", "code runs"))


Runs = dict[Any, list[tuple[float, float, str]]]  # worker pid -> its trials' (start, end, Tune trial id), in order


def by_worker(states: list[Any]) -> Runs:
    """Each worker's trials, from their records: the first attempt's start (its pid: a slot, since Tune
    reuses the worker for the slot's next trial) to the last thing the trial recorded."""
    runs: Runs = {}
    for s in states:
        if s.attempts and s.end is not None:
            end = max([*s.times.values(), s.final_time]) / 1000.0
            runs.setdefault(s.attempts[0].get("pid"), []).append((s.attempts[0]["time"] / 1000.0, end, s.trial_key.split("/")[-1]))
    for trials in runs.values():
        trials.sort()
    return runs


def legs(runs: Runs, at: dict[str, dict[str, float]], slot_time: float) -> dict[str, Any]:
    """Each leg's share of the slot-time, summed over every pair of consecutive trials on one worker,
    and the median gap; a pair missing a stamp is left out."""
    sums = {k: 0.0 for k, _ in LEGS}
    gaps = []
    for trials in runs.values():
        for (_, end, prev), (start, _, nxt) in zip(trials, trials[1:]):
            marks = [end, *(at.get(prev, {}).get(k) for k, _ in LEGS[:2]), *(at.get(nxt, {}).get(k) for k, _ in LEGS[2:-1]), start]
            if any(m is None for m in marks):
                continue
            latest = [max(m for m in marks[: i + 1] if m is not None) for i in range(len(marks))]
            for (key, _), a, b in zip(LEGS, latest, latest[1:]):
                sums[key] += b - a
            gaps.append(start - end)
    return {"legs": {k: v / slot_time for k, v in sums.items()}, "gap_median_s": statistics.median(gaps) if gaps else float("nan"), "gaps": len(gaps)}


class ClusterSampler:
    """The cluster's processes (the head's, recursively) every ``every_s``: their resident memory at
    the peak (the trial workers with Ray's own, and this driver's) and each one's CPU seconds so far
    by kind (``workers``: the trials' ``ray::`` processes; ``ray``: raylet, GCS, agents; ``follower``:
    the driver's own children, its MLflow sender, with the bytes they wrote). Each
    process's latest figure is kept, so a worker gone before the search's end still counts (Ray
    reaps its workers without leaving their times to the raylet).

    The periodic samples are taken by a process of their own at nice +10 (this file run as a script),
    which leaves its figures in ``state``: scanning some 130 processes with psutil inside the driver's
    process held its interpreter lock (7 % of py-spy's samples of the driver at 64 x 1,000). The driver
    takes only the samples at the search's start and end itself, and reads the child's figures then."""

    def __init__(self, head_pid: int, state: Path, every_s: float = 2.0, driver_pid: int | None = None) -> None:
        import os

        self.head_pid, self.every_s = head_pid, every_s
        self.driver_pid = driver_pid or os.getpid()
        self.state = state  # where the sampling process leaves its figures (JSON)
        self.peak: dict[str, float] = {}
        self.cpu: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU seconds so far)
        self.wrote: dict[int, int] = {}  # the driver's children: pid -> bytes written so far
        self.pressure: list[tuple[float, float, float]] = []  # (time.time(), pressure()) every every_s
        self.not_ours: set[int] = {os.getpid()}  # the sampling process, a child of the driver (in the driver: itself, no child)
        self._child: Any = None

    def __enter__(self) -> ClusterSampler:
        import os
        import subprocess
        import sys

        self._child = subprocess.Popen([sys.executable, __file__, str(self.head_pid), str(self.driver_pid), str(self.state),
                                        str(self.every_s)], preexec_fn=lambda: os.nice(10))
        self.not_ours.add(self._child.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._child is not None:
            self._child.terminate()
            self._child.wait()
        self._absorb()

    def _absorb(self) -> None:
        """The sampling process's figures so far, merged into these (each process's latest, the peaks)."""
        import json

        try:
            got = json.loads(self.state.read_text())
        except (OSError, ValueError):
            return
        for pid, (kind, cpu) in got["cpu"].items():
            if cpu > self.cpu.get(int(pid), (kind, -1.0))[1]:
                self.cpu[int(pid)] = (kind, cpu)
        for pid, wrote in got["wrote"].items():
            self.wrote[int(pid)] = max(wrote, self.wrote.get(int(pid), 0))
        for kind, rss in got["peak"].items():
            self.peak[kind] = max(rss, self.peak.get(kind, 0.0))
        self.pressure = [tuple(row) for row in got["pressure"]]  # type: ignore[misc]

    def run_forever(self) -> None:
        """The sampling process's loop: a sample every ``every_s``, its figures written to ``state``."""
        import json

        while True:
            time.sleep(self.every_s)
            self._scan()
            self.pressure.append((time.time(), *pressure()))
            tmp = self.state.with_suffix(".tmp")
            tmp.write_text(json.dumps({"cpu": self.cpu, "wrote": self.wrote, "peak": self.peak, "pressure": self.pressure}))
            tmp.replace(self.state)

    def sample(self) -> dict[int, tuple[str, float]]:
        """Take a sample now, with the sampling process's figures so far; every process's CPU so far (a copy)."""
        self._absorb()
        return self._scan()

    def _scan(self) -> dict[int, tuple[str, float]]:
        import psutil

        try:
            procs = [psutil.Process(self.head_pid), *psutil.Process(self.head_pid).children(recursive=True)]
            driver = psutil.Process(self.driver_pid)
        except psutil.Error:
            return dict(self.cpu)
        rss = 0.0
        for p in procs:
            try:
                t = p.cpu_times()
                name = p.name()
                self.cpu[p.pid] = ("workers" if name.startswith("ray::") and "Agent" not in name else "ray", t.user + t.system)
                rss += p.memory_info().rss
            except psutil.Error:
                continue
        for p in driver.children(recursive=True):  # the driver's own: its MLflow follower
            if p.pid in self.not_ours:
                continue
            try:
                t = p.cpu_times()
                self.cpu[p.pid] = ("follower", t.user + t.system)
                self.wrote[p.pid] = p.io_counters().write_bytes
            except psutil.Error:
                continue
        self.peak["workers"] = max(self.peak.get("workers", 0.0), rss)
        try:
            self.peak["driver"] = max(self.peak.get("driver", 0.0), driver.memory_info().rss)
        except psutil.Error:
            pass
        return dict(self.cpu)

    @staticmethod
    def cores(before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float) -> dict[str, float]:
        """CPU cores used on average between two samples, by kind."""
        out = {"workers": 0.0, "ray": 0.0, "follower": 0.0}
        for pid, (kind, cpu) in after.items():
            out[kind] += cpu - before.get(pid, (kind, 0.0))[1]
        return {k: v / max(seconds, 1e-9) for k, v in out.items()}


def write_bytes() -> int:
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def pressure() -> tuple[float, float]:
    """Seconds so far in which some runnable task waited for a CPU, and some task waited for I/O
    (Linux's pressure stall information, /proc/pressure; 0 where the kernel has none)."""
    out = []
    for kind in ("cpu", "io"):
        try:
            first = Path(f"/proc/pressure/{kind}").read_text().split("\n", 1)[0]  # "some avg10=... total=<us>"
            out.append(int(first.rsplit("total=", 1)[1]) / 1e6)
        except (OSError, IndexError, ValueError):
            out.append(0.0)
    return out[0], out[1]


def cpu_ticks() -> tuple[int, int, int]:
    """(busy, total, stolen) jiffies of the whole machine so far (/proc/stat): the machine's CPU use
    over the search, and the time its virtual CPUs waited for the host (other machines' work)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields), fields[7] if len(fields) > 7 else 0


def slot_wait(runs: Runs, t0: float, t1: float, slots: int) -> dict[str, float]:
    """The search's slot-time by what each slot (worker) was doing: in trials (busy), before its first
    one (ramp), between two of its trials (WAIT: waiting on the driver and Ray), after its last (the
    tail); a slot no worker ever took counts as ramp until the last trial started."""
    starts = [start for trials in runs.values() for start, _, _ in trials]
    last_start = max(starts) if starts else t1
    busy = sum(end - start for trials in runs.values() for start, end, _ in trials)
    ramp = sum(trials[0][0] - t0 for trials in runs.values()) + max(0, slots - len(runs)) * (last_start - t0)
    wait = sum(b[0] - a[1] for trials in runs.values() for a, b in zip(trials, trials[1:]))
    slot_time = slots * (t1 - t0)
    return {"wait_share": wait / slot_time, "ramp_share": ramp / slot_time, "busy_share": busy / slot_time,
            "wait_running_share": wait / max(busy + wait, 1e-9)}  # of the slots' time from their first trial to their last


class GcPauses:
    """The driver's garbage collections (``gc.callbacks``): each one stops the driver's loop."""

    def __init__(self) -> None:
        import gc

        self.seconds: dict[int, list[float]] = {0: [], 1: [], 2: []}
        self.started: list[float] = []  # when each full (generation 2) collection began, time.time()
        self._t0 = 0.0
        gc.callbacks.append(self._on)

    def _on(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
            if info["generation"] == 2:
                self.started.append(time.time())
        else:
            self.seconds[info["generation"]].append(time.perf_counter() - self._t0)

    def summary(self, t0: float) -> dict[str, Any]:
        """The full collections since ``t0`` (the search's start): how many, their seconds, the longest, when."""
        spans = [(a - t0, d) for a, d in zip(self.started, self.seconds[2]) if a >= t0]
        return {"gc_full": len(spans), "gc_full_s": sum(d for _, d in spans), "gc_full_max_s": max((d for _, d in spans), default=0.0),
                "gc_full_spans": spans}


if __name__ == "__main__":  # the sampling process: HEAD_PID DRIVER_PID STATE EVERY_S
    import sys

    ClusterSampler(int(sys.argv[1]), Path(sys.argv[3]), float(sys.argv[4]), driver_pid=int(sys.argv[2])).run_forever()
