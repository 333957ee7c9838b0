"""bench/gpu.py's part 4: several trials on one GPU.

* :func:`two_vs_one`: the same trial run alone in a fresh process, then twice at once in two
  processes (what ``--gpus-per-trial 0.5`` does): the pair's total training images/s against
  the lone one's, from their epochs after the first (warm-up).
* :func:`study_busy`: a real ``study launch --gpus 1 --gpus-per-trial F`` on the same data, and
  the fraction of its wall time the GPU was busy, from the trials' MLflow system metrics
  (``system/gpu_0_utilization_percentage``, sampled every second), cross-checked by this
  process's own NVML sampling while the study runs.

    python3 bench/_gpu_sharing.py CONFIG.json OUT.json READY GO   # one worker (two_vs_one starts them)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

__all__ = ["study_busy", "two_vs_one"]


# ----------------------------------------------------------------------------------------------
# Two trials at once against one alone
# ----------------------------------------------------------------------------------------------


def _worker(config_path: str, out_path: str, ready: str, go: str) -> None:
    """Build the trial, say ready, wait for the go, then fit: the workers of a pair train at the same time."""
    sys.path.insert(0, str(ROOT))
    from trainable.config import TrialConfig
    from trainable.train import FitState, build_trial, fit

    cfg = TrialConfig.from_dict(json.loads(Path(config_path).read_text()))
    trial = build_trial(cfg)
    Path(ready).touch()
    while not Path(go).exists():
        time.sleep(0.01)
    epochs: list[dict[str, Any]] = []
    fit(trial, FitState(), on_epoch=lambda m, _c: epochs.append({**m, "ended_at": time.time()}))
    Path(out_path).write_text(json.dumps(epochs))


def _run_workers(config: dict[str, Any], n: int, work: Path, timeout_s: float = 300) -> list[list[dict[str, Any]]]:
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.json").write_text(json.dumps(config))
    go = work / "go"
    go.unlink(missing_ok=True)
    procs = []
    for i in range(n):
        (work / f"ready{i}").unlink(missing_ok=True)
        args = [str(work / "config.json"), str(work / f"out{i}.json"), str(work / f"ready{i}"), str(go)]
        with open(work / f"err{i}.txt", "w") as err:
            procs.append(subprocess.Popen([sys.executable, __file__, *args], cwd=ROOT, stdout=subprocess.DEVNULL,
                                          stderr=err))
    deadline = time.monotonic() + timeout_s
    while not all((work / f"ready{i}").exists() for i in range(n)):
        if any(p.poll() is not None for p in procs) or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    go.touch()
    for p in procs:
        p.wait(timeout=max(1.0, deadline - time.monotonic()))
    out = []
    for i, p in enumerate(procs):
        if p.returncode != 0:
            raise RuntimeError(f"worker {i} exited {p.returncode}: {(work / f'err{i}.txt').read_text()[-2000:]}")
        out.append(json.loads((work / f"out{i}.json").read_text()))
    return out


def _steady(epochs: list[dict[str, Any]]) -> float:
    later = epochs[1:] or epochs
    return statistics.median(float(m["images_per_s"]) for m in later)


def _overlap(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> float:
    """Share of ``a``'s timed epochs (after the first) spent while ``b`` trained its timed ones."""
    def span(epochs: list[dict[str, Any]]) -> tuple[float, float]:
        later = epochs[1:] or epochs
        return later[0]["ended_at"] - later[0]["epoch_seconds"], later[-1]["ended_at"]

    (a0, a1), (b0, b1) = span(a), span(b)
    return max(0.0, min(a1, b1) - max(a0, b0)) / max(a1 - a0, 1e-9)


def two_vs_one(config: dict[str, Any], work: Path) -> dict[str, Any]:
    """The pair's total images/s over the lone trial's, same config, each in a fresh process."""
    alone = _run_workers(config, 1, work / "alone")[0]
    pair = _run_workers(config, 2, work / "pair")
    one = _steady(alone)
    both = [_steady(e) for e in pair]
    return {
        "config": {k: config[k] for k in ("model", "size", "presize", "batch_size", "epochs", "device")},
        "alone_images_per_s": round(one, 1), "pair_images_per_s": [round(v, 1) for v in both],
        "pair_overlap": round(min(_overlap(pair[0], pair[1]), _overlap(pair[1], pair[0])), 3),
        "ratio": round(sum(both) / one, 3),
    }


# ----------------------------------------------------------------------------------------------
# A study on one GPU: how busy the chip was
# ----------------------------------------------------------------------------------------------

STUDY = """
name = "{name}"
seed = 0
[base]
preset = "cpu-baseline"
data = "{data}"
model = "{model}"
presize = {presize}
size = {size}
batch_size = {batch}
epochs = {epochs}
normalize = "imagenet"
[budget]
time = "{budget}s"
max_trials = 0
confirm_share = 0.0
confirm_top = 0
confirm_seeds = 1
[early_stopping]
scheduler = "none"
[search]
lr              = {{ float = [1e-3, 1e-2], log = true }}
mixup           = {{ choice = [false, true] }}
label_smoothing = {{ float = [0.0, 0.2] }}
tta_n           = {{ int = [0, 4] }}
"""


class _NvmlSampler:
    """This process's own view of GPU 0's utilization, sampled every ``every_s`` while it runs."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.every_s, self.samples = every_s, []  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            import pynvml

            pynvml.nvmlInit()
            self._handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            self._nvml: Any = pynvml
        except Exception:
            self._nvml = None

    def __enter__(self) -> _NvmlSampler:
        if self._nvml is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.samples.append(float(self._nvml.nvmlDeviceGetUtilizationRates(self._handle).gpu))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def busy(self) -> float | None:
        return round(statistics.fmean(self.samples) / 100, 3) if self.samples else None


def _busy_from_mlflow(folder: Path, metric: str, wall: tuple[float, float]) -> dict[str, Any]:
    """The study's busy fraction from its runs' system metrics: per 1-s bin the busiest run's sample, idle bins 0."""
    from mlflow.tracking import MlflowClient

    summary = json.loads((folder / "summary.json").read_text()) if (folder / "summary.json").exists() else {}
    client = MlflowClient(summary.get("tracking_uri") or f"sqlite:///{folder / 'mlflow.db'}")
    exp = client.get_experiment_by_name(summary.get("study", folder.name))
    runs = client.search_runs([exp.experiment_id], max_results=10_000) if exp else []
    trials = [r for r in runs if r.data.tags.get("xs.kind") in ("trial", "confirmation")]
    bins: dict[int, float] = {}
    per_run = []
    for r in trials:
        history = client.get_metric_history(r.info.run_id, metric)
        if history:
            per_run.append(statistics.fmean(m.value for m in history) / 100)
        for m in history:
            second = int(m.timestamp // 1000)
            bins[second] = max(bins.get(second, 0.0), m.value / 100)
    start, end = int(wall[0]), int(wall[1])
    seconds = max(end - start, 1)
    busy = sum(v for s, v in bins.items() if start <= s <= end) / seconds
    # the same over the span that had trials sampling (the study's start-up and closing left out)
    span = max(max(bins) - min(bins) + 1, 1) if bins else 1
    busy_span = sum(bins.values()) / span
    return {"trial_runs": len(trials), "runs_with_samples": len(per_run), "sampled_seconds": len(bins),
            "busy_fraction": round(busy, 3) if per_run else None,
            "busy_fraction_while_trials_ran": round(busy_span, 3) if per_run else None,
            "mean_per_run": round(statistics.fmean(per_run), 3) if per_run else None}


def study_busy(*, name: str, work: Path, data: Path, data_dir: Path, model: str, size: int, presize: int,
               batch: int, epochs: int, budget_s: int, gpus_per_trial: float | None, cpus_per_trial: float,
               metric: str) -> dict[str, Any]:
    """Run one study and read back how busy the device was."""
    work.mkdir(parents=True, exist_ok=True)
    spec = work / f"{name}.toml"
    spec.write_text(STUDY.format(name=name, data=data, model=model, presize=presize, size=size, batch=batch,
                                 epochs=epochs, budget=budget_s))
    cmd = [sys.executable, "-m", "study.cli", "launch", "--space", str(spec), "--root", str(work / "studies"),
           "--data-dir", str(data_dir), "--cpus-per-trial", str(cpus_per_trial)]
    if gpus_per_trial is not None:
        cmd += ["--gpus", "1", "--gpus-per-trial", str(gpus_per_trial)]
    env = {**os.environ, "MLFLOW_ENABLE_SYSTEM_METRICS_LOGGING": "true", "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(ROOT)]))}
    print("$", " ".join(cmd), flush=True)
    started = time.time()
    with _NvmlSampler() as nvml, open(work / f"{name}.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env).returncode
    ended = time.time()
    out: dict[str, Any] = {"exit": rc, "wall_s": round(ended - started, 1), "gpus_per_trial": gpus_per_trial,
                           "cpus_per_trial": cpus_per_trial, "metric": metric, "busy_nvml_bench": nvml.busy()}
    out["started"] = started  # when `study launch` was run (s since the Unix epoch)
    folders = sorted((work / "studies").glob(f"{name}*"))
    if folders:
        out["folder"] = str(folders[-1])
    if rc != 0 or not folders:
        out["log_tail"] = (work / f"{name}.log").read_text(errors="replace")[-1500:]
        return out
    out.update(_busy_from_mlflow(folders[-1], metric, (started, ended)))
    summary = folders[-1] / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        out["counts"] = s.get("counts")
        out["time_share"] = s.get("time_share")
    return out


if __name__ == "__main__":
    _worker(*sys.argv[1:5])
