"""`study launch` on real GPUs: one trial per GPU, then fractional GPUs, read back from what the study left.

Run on a CUDA machine (the lent device; see ``bench/device_bundle.sh`` for the packages it lacks):

    python3 bench/gpu_study.py --out DIR            # two studies on GPU 0, ~5 minutes in all
    python3 bench/gpu_study.py --quick --out DIR    # the same checks on a CPU machine, small

Two studies of xresnet18 on the embedded set (the built-in space's techniques, larger images):

A. ``--gpus 1``: one trial at a time holding the whole GPU;
B. ``--gpus 1 --gpus-per-trial 0.25``: up to four trials sharing it.

For each, from the study folder, the trials' journals and MLflow (``MlflowClient``): every trial
trained on ``cuda`` with ``CUDA_VISIBLE_DEVICES`` set by Ray to the one GPU; one MLflow run per
trial, none left RUNNING, FINISHED exactly for finished trials; how many trials overlapped in time
(A: 1, B: more than 1), and the images/s of each. Prints the figures and a PASS/FAIL line per check,
writes them to ``DIR/gpu_study.json``, and exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

STUDY = """
name = "{name}"
seed = 0
[base]
preset = "cpu-baseline"
model = "xresnet18"
presize = {presize}
size = {size}
batch_size = 64
epochs = {epochs}
[budget]
time = "{budget}s"
max_trials = 0
confirm_share = 0.4
confirm_top = 1
confirm_seeds = 2
[early_stopping]
scheduler = "asha"
grace_period = 2
reduction_factor = 2
[search]
lr                 = {{ float = [1e-3, 1e-2], log = true }}
normalize          = {{ choice = ["none", "imagenet", "dataset"] }}
mixup              = {{ choice = [false, true] }}
mixup_alpha        = {{ float = [0.1, 1.0], log = true, when = {{ mixup = true }} }}
label_smoothing    = {{ float = [0.0, 0.2] }}
progressive        = {{ choice = [false, true] }}
resize_start_scale = {{ float = [0.5, 0.8], when = {{ progressive = true }} }}
resize_frac        = {{ float = [0.3, 0.8], when = {{ progressive = true }} }}
resize_mode        = {{ choice = ["fine_tune", "cont"], when = {{ progressive = true }} }}
size               = {{ choice = {sizes} }}
tta_n              = {{ int = [0, 8] }}
tta_beta           = {{ float = [0.0, 0.5], when = {{ tta_n = {{ min = 1 }} }} }}
"""


def versions() -> dict[str, Any]:
    import mlflow
    import optuna
    import ray
    import torch

    out = {"python": sys.version.split()[0], "torch": torch.__version__, "ray": ray.__version__,
           "optuna": optuna.__version__, "mlflow": mlflow.__version__, "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        out["device"] = torch.cuda.get_device_name(0)
    return out


def launch(out: Path, name: str, args: list[str], budget: int, quick: bool) -> tuple[int, float, Path]:
    spec = out / f"{name}.toml"
    spec.write_text(STUDY.format(name=name, budget=budget, presize=48 if quick else 128, size=32 if quick else 96,
                                 sizes="[32]" if quick else "[64, 96, 128]", epochs=2 if quick else 8))
    cmd = [sys.executable, "-m", "study.cli", "launch", "--space", str(spec), "--root", str(out / "studies"),
           "--data-dir", str(out / "data"), *args]
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    wall = time.perf_counter() - t0
    text = (out / f"{name}.log").read_text(errors="replace")
    print("\n".join(text.splitlines()[-25:]), flush=True)
    folders = sorted((out / "studies").glob(f"{name}*"))
    return rc, wall, folders[-1] if folders else out / "studies" / name


def max_overlap(spans: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = peak = 0
    for _, d in events:
        now += d
        peak = max(peak, now)
    return peak


def inspect(folder: Path, *, expect_device: str, expect_gpus: str | None, overlap: tuple[int, int]) -> dict[str, Any]:
    """What the study left, and the checks on it."""
    from mlflow.tracking import MlflowClient

    from study.tune.journal import read_outcomes

    checks: dict[str, bool] = {}
    summary_path = folder / "summary.json"
    checks["summary.json written"] = summary_path.exists()
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    outcomes = {**read_outcomes(folder / "trials-search.jsonl"), **read_outcomes(folder / "trials-confirm.jsonl")}
    trained = [o for o in outcomes.values() if o.outcome == "finished"]
    checks["at least 2 trials finished"] = len(trained) >= 2
    devices = sorted({str(o.result.get("device")).split(":")[0] for o in trained})
    gpus = sorted({str(o.result.get("gpus")) for o in trained})
    checks[f"finished trials trained on {expect_device}"] = devices == [expect_device]
    if expect_gpus is not None:
        checks[f"Ray gave every trial CUDA_VISIBLE_DEVICES={expect_gpus}"] = gpus == [expect_gpus]
    rates = [float(o.result.get("images_per_s", 0.0)) for o in trained]

    client = MlflowClient(summary.get("tracking_uri") or f"sqlite:///{folder / 'mlflow.db'}")
    exp = client.get_experiment_by_name(summary.get("study", folder.name))
    runs = client.search_runs([exp.experiment_id], max_results=10_000) if exp else []
    kids = [r for r in runs if r.data.tags.get("xs.kind") in ("trial", "confirmation")]
    statuses: dict[str, int] = {}
    for r in runs:
        statuses[r.info.status] = statuses.get(r.info.status, 0) + 1
    keys = [r.data.tags.get("xs.trial_key") for r in kids]
    checks["one MLflow run per trial"] = len(kids) == len(outcomes) and len(set(keys)) == len(keys)
    checks["no MLflow run left RUNNING"] = statuses.get("RUNNING", 0) == 0
    checks["FINISHED runs = finished trials"] = sum(r.info.status == "FINISHED" for r in kids) == len(trained)
    # A run's span: from its creation (in the trial) to its last epoch's metric. Its end_time is no
    # measure: runs of trials stopped by the budget may be closed later, by the study's closing sync.
    spans = []
    for r in kids:
        last = [m.timestamp for m in client.get_metric_history(r.info.run_id, "accuracy")]
        spans.append((r.info.start_time / 1000, max(last, default=r.info.start_time) / 1000))
    peak = max_overlap(spans)
    lo, hi = overlap
    checks[f"trials at once within [{lo}, {hi}]"] = lo <= peak <= hi
    return {
        "folder": str(folder), "counts": summary.get("counts"), "wall_seconds": summary.get("wall_seconds"),
        "budget_seconds": summary.get("budget_seconds"), "trials": len(outcomes), "finished": len(trained),
        "devices": devices, "gpus": gpus, "runs": len(kids), "statuses": statuses, "max_at_once": peak,
        "images_per_s": {"min": min(rates, default=0), "max": max(rates, default=0)},
        "best": (summary.get("best_trial") or {}).get("metrics"), "baseline": summary.get("baseline_trial"),
        "confirmation": summary.get("confirmation"), "checks": checks,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--quick", action="store_true", help="CPU smoke run of the same checks (no GPU)")
    ap.add_argument("--budget-a", type=int, default=150, help="s, study A (one trial per GPU)")
    ap.add_argument("--budget-b", type=int, default=100, help="s, study B (0.25 GPU per trial)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"versions": versions()}
    print(json.dumps(report["versions"]), flush=True)
    quick = args.quick
    device, gpus = ("cpu", None) if quick else ("cuda", "0")
    cases = [
        ("gpu-whole", ["--cpus-per-trial", "1"] if quick else ["--gpus", "1"], args.budget_a, (1, 2) if quick else (1, 1)),
        ("gpu-quarter", ["--cpus-per-trial", "0.5"] if quick else ["--gpus", "1", "--gpus-per-trial", "0.25"],
         args.budget_b, (2, 4)),
    ]
    failed = 0
    for name, extra, budget, overlap in cases:
        rc, wall, folder = launch(args.out, name, extra, budget, quick)
        row = {"exit": rc, "launch_wall_s": round(wall, 1)}
        if folder.exists():
            row.update(inspect(folder, expect_device=device, expect_gpus=gpus, overlap=overlap))
        row.setdefault("checks", {})["study launch exited 0"] = rc == 0
        row["checks"]["finished within budget + 60 s"] = wall <= budget + 60
        if "wall_seconds" in row:
            row["checks"]["the study's clock ended within 5 s of its budget"] = row["wall_seconds"] <= budget + 5
        report[name] = row
        print(f"\n== {name}: exit {rc}, {wall:.0f} s (budget {budget} s) ==")
        print(json.dumps({k: v for k, v in row.items() if k != "checks"}, default=str))
        for what, ok in row["checks"].items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}: {what}")
            failed += not ok
    (args.out / "gpu_study.json").write_text(json.dumps(report, indent=2, default=str))
    print(f"\n{failed} check(s) failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
