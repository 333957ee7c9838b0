"""Issue 17's goals on one GPU, side by side with the H200's figures of 2026-12-04: one command, ≤ 8 minutes.

    python3 bench/gpu_goals.py --out $OUT        # CUDA: gpu_goals_<card>.json and .md in $OUT
    python3 bench/gpu_goals.py --smoke           # the same parts at toy sizes on a CPU (a few minutes)

Parts, by importance, under one clock (``--budget``; a part that would not fit is skipped and
listed); the JSON and the table are rewritten after every part, so a run killed at its limit keeps
what it measured:

0. **data**: the Imagenette-shaped set of ``bench/_imagenette_like.py`` and its decoded caches at
   presize 160 and 256 (before the study: its trials find the cache existing).
1. **study**: ``study launch --gpus 1 --gpus-per-trial 0.5``, 5-epoch xresnet50 trials at 128 px,
   a 5-minute budget: the GPU's busy fraction from the trials' MLflow system metrics (and this
   process's NVML samples), the training share (``summary.json``), the time from ``study launch``
   to the first trial's first step and to its first steady step, trials finished per GPU-hour.
   Beside it, from a minute in (after the first trials' start-up) and niced, one process trains one
   compiled epoch at 224 px: the cold compile, which fills the compile caches (Inductor's on this
   machine, and the portable artifacts) for part 2; its few seconds of GPU work overlap the study's.
2. **compiled, warm**: a fresh process runs a 224-px trial (2 epochs, TTA 4, ``compile=on``) that
   compiles from those caches: end-to-end img/s, its warm compile (the warm-up and the first
   evaluation), TTA img/s per pass.
3. **128 px**: the same trial at 128 px, eager (as today); again with cuDNN's autotuning off (a fresh
   process's warm-up, with and without it: what a cold worker pays before its first steady step);
   then compiled (a cold compile) if time is left.

Nothing is asserted; "today" is the H200 run of 2026-12-04 (``bench/results/gpu_h200.json``, the
diagnostic study of ``../shared/gpu-2026-12-04``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

TABLES = [REPO / ".whl" / "noisy_imagenette.csv", REPO.parent / "shared" / "data" / "imagenette" / "noisy_imagenette.csv",
          REPO / "shared" / "data" / "imagenette" / "noisy_imagenette.csv"]
GPU: dict[str, Any] = dict(model="xresnet50", small=128, large=224, presize_small=160, presize_large=256, batch=256,
                           limit=None, study_budget=300, study_epochs=5, e2e_epochs=2, tta_n=4, budget=450,
                           cpus_per_trial=8.0, gpus_per_trial=0.5)
SMOKE: dict[str, Any] = dict(model="xresnet18", small=32, large=48, presize_small=40, presize_large=60, batch=16,
                             limit=100, study_budget=60, study_epochs=2, e2e_epochs=2, tta_n=2, budget=420,
                             cpus_per_trial=1.0, gpus_per_trial=None)
PRIME_AFTER_S = {True: 60.0, False: 25.0}  # s into the study (GPU, smoke) when the cold compile beside it starts
# Today, on the H200 (2026-12-04): bench/results/gpu_h200.json and ../shared/gpu-2026-12-04 (diag.sh, launch.log, dmon.txt)
TODAY = {"busy": "0.27 (SMs busy over a 150-s study's wall, nvidia-smi dmon; the bench's own 40-s study: 0.00)",
         "first_training": "34 s to the first trial's start, then a 19.6-s cold first epoch",
         "per_gpu_hour": "240 (diag.sh's study: 10 trials of 3 epochs in 150 s; not this study file)",
         "share": "0.39 (diag.sh's study; 0.51 from its first trial's start)",
         "compile_cold_s": 83.2, "compiled_224": 6396.6}


class Clock:
    def __init__(self, budget_s: float, skipped: list[str]) -> None:
        self.start, self.budget_s, self.skipped = time.perf_counter(), budget_s, skipped

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)

    def fits(self, need_s: float, what: str) -> bool:
        if self.left() >= need_s:
            return True
        self.skipped.append(f"{what}: needs about {need_s:.0f} s, {self.left():.0f} s left")
        print(f"-- skipped {what} (needs ~{need_s:.0f} s, {self.left():.0f} s left)", flush=True)
        return False


# ----------------------------------------------------------------------------------------------
# A trial in a fresh process (compile caches are per process: a fresh one shows cold or warm)
# ----------------------------------------------------------------------------------------------


def _child_trial(config_json: str) -> dict[str, Any]:
    """Run one trial here and describe it (the child side of :func:`trial_process`)."""
    if os.environ.get("XS_BENCH_COMPILE_BACKEND"):  # --smoke: exercise the compiled path without inductor's C++ build
        import trainable.runtime as runtime

        backend, real = os.environ["XS_BENCH_COMPILE_BACKEND"], runtime.compile_model
        runtime.compile_model = lambda model, backend_=backend: real(model, backend=backend_)  # type: ignore[assignment]
    from trainable.config import TrialConfig
    from trainable.train import run_trial

    cfg = TrialConfig.from_dict(json.loads(config_json))
    t0 = time.perf_counter()
    r = run_trial(cfg)
    steady = r.history[1:] or r.history
    out: dict[str, Any] = {
        "size": cfg.final_size, "presize": cfg.presize, "batch": cfg.batch_size, "compiled": r.compiled,
        "images_per_s": round(sum(m["images_per_s"] for m in steady) / len(steady), 1),
        "epoch_seconds_each": [round(m["epoch_seconds"], 3) for m in r.history], "wall_s": round(time.perf_counter() - t0, 1),
        "eval_seconds_each": [round(m["eval_seconds"], 3) for m in r.history],
        "times": {k: round(v, 2) for k, v in r.times.to_dict().items()},
        "infer_images_per_s": round(1000 / r.infer_ms_per_image, 1),
    }
    if cfg.tta_n and r.infer_ms_per_image_tta is not None:
        out["tta_images_per_s_per_pass"] = round(1000 / ((r.infer_ms_per_image_tta - r.infer_ms_per_image) / cfg.tta_n), 1)
    return out


def trial_process(cfg: dict[str, Any], env: dict[str, str], *, nice: int = 0, wait: bool = True) -> Any:
    """``cfg`` run by ``python3 bench/gpu_goals.py --child-trial``: its row (or, ``wait=False``, the Popen)."""
    cmd = [sys.executable, __file__, "--child-trial", json.dumps(cfg)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=(lambda: os.nice(nice)) if nice else None)
    return finish(proc) if wait else proc


def finish(proc: Any) -> dict[str, Any]:
    out, err = proc.communicate()
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}: {err[-1500:]}"}
    return json.loads(out.strip().splitlines()[-1])


# ----------------------------------------------------------------------------------------------
# The study's figures, from its folder
# ----------------------------------------------------------------------------------------------


def first_training(folder: Path, launched: float) -> dict[str, float | None]:
    """Seconds from ``study launch`` to the first trial's first step and to its first steady step (after warm-up).

    A trial's record opens before its code runs; its first step comes after its data and model
    (``seconds_data``, ``seconds_model`` of its reports), the steady steps after its warm-up.
    """
    results: dict[str, dict[str, Any]] = {}
    for line in (folder / "trials-search.jsonl").read_text().splitlines() if (folder / "trials-search.jsonl").exists() else []:
        row = json.loads(line)
        results[row["trial_id"]] = row.get("result") or {}
    first_step, steady = [], []
    for path in (folder / "records").glob("*.jsonl"):
        opened = json.loads(path.read_text().splitlines()[0])["time"] / 1000
        r = results.get(path.stem.rsplit("--", 1)[-1], {})
        if "seconds_data" in r:
            at = opened + r["seconds_data"] + r.get("seconds_model", 0.0)
            first_step.append(at - launched)
            steady.append(at + r.get("seconds_warmup", 0.0) - launched)
    return {"first_step_s": round(min(first_step), 1) if first_step else None,
            "first_steady_step_s": round(min(steady), 1) if steady else None}


def part_study(s: dict[str, Any], root: Path, work: Path, env: dict[str, str], detail: dict[str, Any], clock: Clock,
               cuda: bool) -> None:
    from _gpu_sharing import study_busy

    if not clock.fits(s["study_budget"] + 40, "the study"):
        return
    primed: list[Any] = []
    timer = None
    if clock.left() >= s["study_budget"] + 100:  # the cold compile beside the study, if part 2 can follow it
        cfg = _trial_cfg(s, root, work, s["large"], s["presize_large"], epochs=1, tta_n=0, compile="on")
        # started once the study's first trials train (their start-up is measured alone), niced below them
        timer = threading.Timer(PRIME_AFTER_S[s is GPU], lambda: primed.append(trial_process(cfg, env, nice=15, wait=False)))
        timer.start()
    r = study_busy(name="goals", work=work / "studies", data=root, data_dir=work / "cache", model=s["model"], size=s["small"],
                   presize=s["presize_small"], batch=s["batch"], epochs=s["study_epochs"], budget_s=s["study_budget"],
                   gpus_per_trial=s["gpus_per_trial"] if cuda else None, cpus_per_trial=s["cpus_per_trial"],
                   metric="system/gpu_0_utilization_percentage" if cuda else "system/cpu_utilization_percentage")
    if r.get("folder"):
        r.update(first_training(Path(r["folder"]), r["started"]))
        finished = (r.get("counts") or {}).get("finished", 0)
        r["trials_finished_per_gpu_hour"] = round(finished / (r["wall_s"] / 3600), 1) if r.get("wall_s") else None
    detail["study"] = {k: v for k, v in r.items() if k != "log_tail"}
    print("study", json.dumps(detail["study"]), flush=True)
    if "log_tail" in r:
        print(r["log_tail"], flush=True)
    if timer is not None:
        timer.cancel()
        timer.join()
    if primed:
        detail["compile_cold_224"] = finish(primed[0])
        print("cold compile beside the study", json.dumps(detail["compile_cold_224"]), flush=True)


def _trial_cfg(s: dict[str, Any], root: Path, work: Path, size: int, presize: int, **kw: Any) -> dict[str, Any]:
    cfg = dict(data=str(root), data_dir=str(work / "cache"), compile_cache=str(work / "compile"), model=s["model"],
               size=size, presize=presize, batch_size=s["batch"], epochs=s["e2e_epochs"], normalize="imagenet", seed=0)
    cfg.update(kw)
    return cfg


def part_e2e(s: dict[str, Any], root: Path, work: Path, env: dict[str, str], detail: dict[str, Any], clock: Clock,
             which: str) -> None:
    """One end-to-end trial in a fresh process: ``which`` is compiled_224, eager_128, eager_128_nobench or compiled_128."""
    size, presize = (s["large"], s["presize_large"]) if which.endswith("224") else (s["small"], s["presize_small"])
    compiled = which.startswith("compiled")
    need = 60 if which == "compiled_224" else (150 if compiled else 40)
    if not clock.fits(need if s is GPU else 30, f"end to end {which}"):
        return
    cfg = _trial_cfg(s, root, work, size, presize, tta_n=s["tta_n"] if which == "compiled_224" else 0,
                     compile="on" if compiled else "off", cudnn_benchmark="off" if which.endswith("nobench") else "auto")
    detail[which] = trial_process(cfg, env)
    print(which, json.dumps(detail[which]), flush=True)


# ----------------------------------------------------------------------------------------------
# The JSON and the table
# ----------------------------------------------------------------------------------------------


def summarize(card: str, torch_version: str, detail: dict[str, Any], smoke: bool, command: str) -> dict[str, Any]:
    st = detail.get("study", {})
    ts = st.get("time_share") or {}
    c224, e128, c128, cold, nob = (detail.get(k, {}) for k in ("compiled_224", "eager_128", "compiled_128", "compile_cold_224",
                                                               "eager_128_nobench"))
    return {
        "card": card, "torch": torch_version, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "gpu_busy_fraction_study": st.get("busy_fraction"), "gpu_busy_nvml_bench": st.get("busy_nvml_bench"),
        "training_share_study": ts.get("training_share"), "first_step_after_launch_s": st.get("first_step_s"),
        "first_steady_step_after_launch_s": st.get("first_steady_step_s"),
        "trials_finished_per_gpu_hour": st.get("trials_finished_per_gpu_hour"),
        # without the cold compile beside the study, the 224-px trial compiled cold itself
        "e2e_224_compiled_warm_img_s": c224.get("images_per_s"), "compile_warm_224_s": _compile_s(c224) if cold else None,
        "compile_cold_224_s": _compile_s(cold) if cold else _compile_s(c224), "tta_224_img_s": c224.get("tta_images_per_s_per_pass"),
        "e2e_128_img_s": e128.get("images_per_s"), "e2e_128_compiled_img_s": c128.get("images_per_s"),
        "compile_cold_128_s": _compile_s(c128),
        "warmup_fresh_process_128_s": (e128.get("times") or {}).get("warmup"),
        "warmup_fresh_process_128_no_autotune_s": (nob.get("times") or {}).get("warmup"),
        "e2e_128_no_autotune_img_s": nob.get("images_per_s"),
        "detail": {**detail, "smoke": smoke, "command": command, "today": TODAY},
    }


def _compile_s(row: dict[str, Any]) -> float | None:
    """A compiled trial's compile: its warm-up (the first training step's excess over a steady one) and its first
    evaluation's excess over its last (one epoch: the whole first evaluation)."""
    t, evals = row.get("times"), row.get("eval_seconds_each") or []
    if not t or not evals:
        return None
    return round(t["warmup"] + evals[0] - (evals[-1] if len(evals) > 1 else 0.0), 1)


def table(r: dict[str, Any]) -> str:
    def n(v: Any, d: int = 0) -> str:
        return "—" if v is None else (f"{v:,.{d}f}" if isinstance(v, (int, float)) else str(v))

    today = json.loads((REPO / "bench" / "results" / "gpu_h200.json").read_text())
    d = r["detail"]
    rows = [
        ("GPU busy over the study's wall (trials' system metrics; NVML beside)", f"{n(r['gpu_busy_fraction_study'], 2)} "
         f"(NVML {n(r['gpu_busy_nvml_bench'], 2)})", TODAY["busy"], "≥ 0.85"),
        ("training share of the study (Σ training steps / (slots × wall))", n(r["training_share_study"], 2), TODAY["share"],
         "per slot; see busy"),
        ("`study launch` → first trial's first step / first steady step (cache existing)",
         f"{n(r['first_step_after_launch_s'], 1)} s / {n(r['first_steady_step_after_launch_s'], 1)} s", TODAY["first_training"], "≤ 15 s"),
        ("trials finished per GPU-hour", n(r["trials_finished_per_gpu_hour"]), TODAY["per_gpu_hour"], "≥ 2.5× today's"),
        ("end to end 224 px, compiled from warm caches", f"{n(r['e2e_224_compiled_warm_img_s'])} img/s",
         f"eager {n(today['e2e_224_img_s'])}; compiled step alone {n(TODAY['compiled_224'])}", "≥ 5,000 img/s"),
        ("compile at 224 px, cold (beside the study, niced) / warm", f"{n(r['compile_cold_224_s'], 1)} s / {n(r['compile_warm_224_s'], 1)} s",
         f"cold, step alone: {TODAY['compile_cold_s']} s", "warm ≪ cold"),
        ("end to end 128 px, eager / compiled", f"{n(r['e2e_128_img_s'])} / {n(r['e2e_128_compiled_img_s'])} img/s",
         f"eager {n(today['e2e_128_img_s'])}", "≥ 12,000 img/s"),
        ("compile at 128 px, cold", f"{n(r['compile_cold_128_s'], 1)} s", "not measured", ""),
        ("a fresh process's warm-up at 128 px (first step beyond a steady one), cuDNN autotuning on / off",
         f"{n(r['warmup_fresh_process_128_s'], 1)} s / {n(r['warmup_fresh_process_128_no_autotune_s'], 1)} s "
         f"({n(r['e2e_128_img_s'])} / {n(r['e2e_128_no_autotune_img_s'])} img/s)", "first epoch 19.6 s, the next 1 s", ""),
        ("TTA at 224 px, per augmented pass (compiled)", f"{n(r['tta_224_img_s'])} img/s", f"eager {n(today['tta_224_img_s'])}",
         "≥ 15,000 img/s"),
    ]
    lines = [f"card `{r['card']}`, torch {r['torch']}, {r['date']}, `{d.get('command', '')}`"
             + ("  — **CPU smoke run (toy sizes): not GPU results**" if d.get("smoke") else ""), "",
             "| figure | now | today (H200, 2026-12-04) | goal |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {g} |" for a, b, c, g in rows]
    ts = (d.get("study") or {}).get("time_share") or {}
    if ts.get("seconds"):
        lines += ["", "The study's trials, seconds by part: " + ", ".join(f"{k} {v:.0f}" for k, v in ts["seconds"].items())
                  + f"; outside trials {ts.get('outside_trials_seconds', 0):.0f} (slots {ts.get('slots')}, wall {ts.get('wall_seconds')} s)"]
    if d.get("skipped"):
        lines += ["", "Skipped: " + "; ".join(d["skipped"])]
    if d.get("errors"):
        lines += ["", "Errors: " + "; ".join(f"{k}: {v}" for k, v in d["errors"].items())]
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="toy sizes on a CPU, to test the bench itself")
    ap.add_argument("--budget", type=float, default=None, help="s of wall clock for all parts (default 450; smoke 420)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--child-trial", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_trial:
        print(json.dumps(_child_trial(args.child_trial)), flush=True)
        return 0
    import torch
    from _gpu_step import card_name

    s = SMOKE if args.smoke else GPU
    cuda = torch.cuda.is_available() and not args.smoke
    if not args.smoke and not cuda:
        print("no CUDA device: run with --smoke on a CPU", file=sys.stderr)
        return 2
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-goals-"))
    card = card_name(torch.device("cuda" if cuda else "cpu"), args.smoke)
    skipped: list[str] = []
    detail: dict[str, Any] = {"skipped": skipped, "work": str(work)}
    clock = Clock(args.budget or s["budget"], skipped)
    command = " ".join(["python3", "bench/gpu_goals.py", *sys.argv[1:]])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [os.environ.get("PYTHONPATH"), str(REPO)]))}
    if args.smoke:
        env["XS_BENCH_COMPILE_BACKEND"] = "aot_eager"
    args.out.mkdir(parents=True, exist_ok=True)

    def write() -> dict[str, Any]:
        result = summarize(card, torch.__version__, detail, args.smoke, command)
        (args.out / f"gpu_goals_{card}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        (args.out / f"gpu_goals_{card}.md").write_text(table(result))
        return result

    root: dict[str, Path] = {}

    def data() -> None:
        from _imagenette_like import make_imagenette_like

        from trainable.data import prepare

        table_path = next((p for p in TABLES if p.exists()), None)
        if table_path is None:
            raise SystemExit(f"no noisy_imagenette.csv at any of {[str(p) for p in TABLES]}; run bench/device_bundle.sh")
        root["root"] = make_imagenette_like(work / "data", table_path, limit=s["limit"], progress=False)
        for presize in (s["presize_small"], s["presize_large"]):
            prepare(str(root["root"]), presize, data_dir=work / "cache", progress=False)

    parts = [("data", data),
             ("study", lambda: part_study(s, root["root"], work, env, detail, clock, cuda)),
             ("compiled_224", lambda: part_e2e(s, root["root"], work, env, detail, clock, "compiled_224")),
             ("eager_128", lambda: part_e2e(s, root["root"], work, env, detail, clock, "eager_128")),
             ("eager_128_nobench", lambda: part_e2e(s, root["root"], work, env, detail, clock, "eager_128_nobench")),
             ("compiled_128", lambda: part_e2e(s, root["root"], work, env, detail, clock, "compiled_128"))]
    for name, run in parts:
        print(f"\n== {name} ({clock.left():.0f} s left)", flush=True)
        t0 = time.perf_counter()
        try:
            run()
        except Exception as e:  # noqa: BLE001 - a broken part is recorded; the others still run
            detail.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"
            if name == "data":
                break
        detail.setdefault("part_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        write()
    result = write()
    print("\n" + table(result), flush=True)
    print(f"wrote {args.out / f'gpu_goals_{card}.json'} and .md in {time.perf_counter() - clock.start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
