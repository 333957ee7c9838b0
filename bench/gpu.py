"""The trainable at one GPU's ceiling, beside the ceiling and the book's own pipeline (issue 13).

One prepared command, within 8 minutes on one GPU; figures printed, nothing asserted:

    python3 bench/gpu.py                  # CUDA: bench/results/gpu_<card>.json and gpu_<card>.md
    python3 bench/gpu.py --smoke          # the same code at toy sizes on a CPU (about a minute or two)

1. **ceiling**: xresnet50 forward + backward + fused AdamW step on random bf16 inputs already on the
   GPU, channels_last, at 128 and 224 px, batch 64/128/256: images/s, and TFLOP/s from the model's
   counted FLOPs against the chip's measured bf16 matrix rate. Then each GPU default switched off
   alone (bf16, channels_last, fused AdamW, cudnn.benchmark, no host sync per step) and
   torch.compile switched on (its compile time against the steps it saves).
2. **end to end**: ``run_trial`` on an Imagenette-shaped set of generated JPEGs (the real paths and
   split of ``noisy_imagenette.csv``, shorter side 320), at 128 and 224 px and batch 64/128/256:
   training images/s, seconds per epoch, TTA (n = 4) images/s per pass; the host loader instead of
   the images in GPU memory; a progressive 128 -> 224 schedule (the stall at the size change).
3. **the peer**: fastai's ``Learner`` + ``DataBlock`` presizing on the same JPEGs (timm's resnet50d
   step if fastai cannot run, said in ``peer``).
4. **several trials on one GPU**: one trial alone against two at once (fresh processes), and
   ``study launch --gpus 1`` at 0.5 and 0.25 GPU per trial: the GPU's busy fraction from the
   trials' MLflow system metrics.
5. **the table**: each figure, the ceiling, the peer, the ratios and the goals.

Parts run in the order 1, 2, 3, 4, then 1's switches and torch.compile, under a clock (``--budget``,
460 s): one that would not fit in what is left is skipped and listed under ``detail.skipped``. The
JSON and the table are rewritten after every part, so a run killed at its limit keeps its figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _gpu_step import card_name, flops_per_image, matmul_tflops, step_rate  # noqa: E402
from _gpu_table import table  # noqa: E402

TABLES = [REPO / ".whl" / "noisy_imagenette.csv", REPO.parent / "shared" / "data" / "imagenette" / "noisy_imagenette.csv",
          REPO / "shared" / "data" / "imagenette" / "noisy_imagenette.csv"]

GPU: dict[str, Any] = dict(model="xresnet50", sizes={128: 128, 224: 224}, presizes={128: 160, 224: 256}, batches=(64, 128, 256),
           warmup=6, steps=20, limit=None,
           epochs=2, tta_n=4, peer_model="xresnet50", peer_size=224, peer_item=460, peer_batch=64, peer_warmup=8,
           peer_batches=100, pair_epochs=4, study_epochs=3, study_budget=40, studies=(0.5, 0.25), budget=460,
           compile=True)
SMOKE: dict[str, Any] = dict(model="xresnet18", sizes={128: 32, 224: 48}, presizes={128: 40, 224: 60}, batches=(8, 16),
                             warmup=1, steps=3, limit=100,
             epochs=2, tta_n=4, peer_model="xresnet18", peer_size=48, peer_item=64, peer_batch=8, peer_warmup=1,
             peer_batches=4, pair_epochs=3, study_epochs=2, study_budget=45, studies=(0.5,), budget=240,
             compile=False)  # inductor's C++ build of one graph takes 60-100 s on 2 cores


class Clock:
    """The bench's wall-clock budget: parts that would not fit are skipped, and say so."""

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
# 1. ceiling
# ----------------------------------------------------------------------------------------------


def part_ceiling(s: dict[str, Any], device: torch.device, clock: Clock, detail: dict[str, Any]) -> None:
    chip = matmul_tflops(device, s is SMOKE)
    detail["chip_matmul_tflops"] = round(chip, 1)
    print(f"chip: {chip:.1f} TFLOP/s measured dense matrix rate", flush=True)
    rows = []
    for slot, size in ((128, s["sizes"][128]), (224, s["sizes"][224])):
        flops = flops_per_image(s["model"], size, device)
        for batch in s["batches"]:
            r = step_rate(s["model"], size, batch, device, warmup=s["warmup"], steps=s["steps"])
            tflops = flops * r["images_per_s"] / 1e12
            row = {"slot": slot, "size": size, "batch": batch, **r, "gflop_per_image": round(flops / 1e9, 2),
                   "tflops": round(tflops, 1), "of_chip": round(tflops / chip, 3)}
            rows.append(row)
            print("ceiling", json.dumps(row), flush=True)
    detail["ceiling"] = rows


def part_switches(s: dict[str, Any], device: torch.device, clock: Clock, detail: dict[str, Any]) -> None:
    """Each GPU default off alone (and compile on), at 224 px and the best ceiling batch."""
    best = _best(detail["ceiling"], 224)
    size, batch = best["size"], best["batch"]
    base = best["images_per_s"]
    out: dict[str, Any] = {"size": size, "batch": batch, "all_on_images_per_s": base}
    for name, kw in (("bf16 off", {"bf16": False}), ("channels_last off", {"channels_last": False}),
                     ("fused AdamW off", {"fused": False}), ("cudnn.benchmark off", {"cudnn_benchmark": False}),
                     ("loss.item() every step", {"sync_each_step": True})):
        if not clock.fits(15, f"switch '{name}'"):
            continue
        r = step_rate(s["model"], size, batch, device, warmup=s["warmup"], steps=s["steps"], **kw)  # type: ignore[arg-type]
        out[name] = {"images_per_s": r["images_per_s"], "vs_all_on": round(r["images_per_s"] / base, 3)}
        print("switch", name, json.dumps(out[name]), flush=True)
    detail["switches"] = out
    compiled: list[dict[str, Any]] = []
    detail["compile"] = compiled
    if not s["compile"]:
        clock.skipped.append("torch.compile: off at this size (--smoke: inductor's C++ build takes 60-100 s a graph)")
        return
    for slot in (224, 128):
        size = s["sizes"][slot]
        batch = _best(detail["ceiling"], slot)["batch"]
        if not clock.fits(100 if s is GPU else 60, f"torch.compile at {size} px"):
            continue
        eager = _best(detail["ceiling"], slot)["images_per_s"]
        r = step_rate(s["model"], size, batch, device, warmup=s["warmup"], steps=s["steps"], compile=True)
        gain_s_per_image = 1 / eager - 1 / r["images_per_s"]
        row = {"size": size, "batch": batch, "compile_s": r["first_step_s"], "eager_images_per_s": eager,
               "compiled_images_per_s": r["images_per_s"], "speedup": round(r["images_per_s"] / eager, 3),
               "break_even_images": round(r["first_step_s"] / gain_s_per_image) if gain_s_per_image > 0 else None}
        compiled.append(row)
        print("compile", json.dumps(row), flush=True)


def _best(rows: list[dict[str, Any]], slot: int) -> dict[str, Any]:
    return max((r for r in rows if r["slot"] == slot), key=lambda r: r["images_per_s"])


# ----------------------------------------------------------------------------------------------
# 2. end to end
# ----------------------------------------------------------------------------------------------


def make_data(s: dict[str, Any], work: Path) -> Path:
    from _imagenette_like import make_imagenette_like

    table_path = next((p for p in TABLES if p.exists()), None)
    if table_path is None:
        raise SystemExit(f"no noisy_imagenette.csv at any of {[str(p) for p in TABLES]}; run bench/device_bundle.sh")
    t0 = time.perf_counter()
    root = make_imagenette_like(work / "data", table_path, limit=s["limit"], progress=False)
    print(f"data: {root} in {time.perf_counter() - t0:.1f} s", flush=True)
    return root


def trial_config(s: dict[str, Any], root: Path, work: Path, device: torch.device, **kw: Any) -> dict[str, Any]:
    cfg = dict(data=str(root), data_dir=str(work / "cache"), model=s["model"], epochs=s["epochs"], normalize="imagenet",
               device=str(device), seed=0)
    cfg.update(kw)
    return cfg


def run_e2e(cfg_values: dict[str, Any]) -> dict[str, Any]:
    from trainable.config import TrialConfig
    from trainable.train import run_trial

    cfg = TrialConfig.from_dict(cfg_values)
    t0 = time.perf_counter()
    r = run_trial(cfg)
    last, first = r.history[-1], r.history[0]
    out: dict[str, Any] = {
        "size": cfg.final_size, "presize": cfg.presize, "batch": cfg.batch_size, "images_per_s": round(last["images_per_s"], 1),
        "epoch_seconds": round(last["epoch_seconds"], 3), "first_epoch_seconds": round(first["epoch_seconds"], 3),
        "epoch_seconds_each": [round(m["epoch_seconds"], 3) for m in r.history],
        "infer_images_per_s": round(1000 / r.infer_ms_per_image, 1), "wall_s": round(time.perf_counter() - t0, 1),
        "accuracy": round(r.accuracy, 4),
    }
    if cfg.tta_n and r.infer_ms_per_image_tta is not None:
        per_pass_ms = (r.infer_ms_per_image_tta - r.infer_ms_per_image) / cfg.tta_n
        out["tta_images_per_s_per_pass"] = round(1000 / per_pass_ms, 1)
    return out


def part_e2e(s: dict[str, Any], root: Path, work: Path, device: torch.device, clock: Clock,
             detail: dict[str, Any]) -> None:
    rows = []
    per_run = 40 if s is GPU else 15
    for slot in (128, 224):
        size, presize = s["sizes"][slot], s["presizes"][slot]
        for batch in s["batches"]:
            if not clock.fits(per_run, f"end to end at {size} px, batch {batch}"):
                continue
            cfg = trial_config(s, root, work, device, size=size, presize=presize, batch_size=batch,
                               tta_n=s["tta_n"] if slot == 224 else 0)
            row = {"slot": slot, **run_e2e(cfg)}
            rows.append(row)
            print("e2e", json.dumps(row), flush=True)
    detail["e2e"] = rows
    if not rows:
        return
    extras: dict[str, Any] = {}
    best = _best(rows, 224) if any(r["slot"] == 224 for r in rows) else rows[-1]
    if clock.fits(per_run, "end to end with the host loader"):
        cfg = trial_config(s, root, work, device, size=best["size"], presize=best["presize"], batch_size=best["batch"],
                           data_on_device="off")
        extras["host_loader"] = run_e2e(cfg)
        print("e2e host loader", json.dumps(extras["host_loader"]), flush=True)
    if clock.fits(per_run * 1.5, "progressive resizing 128 -> 224"):
        small, large = s["sizes"][128], s["sizes"][224]
        cfg = trial_config(s, root, work, device, schedule=f"{small}x2,{large}x2:cont", presize=best["presize"],
                           batch_size=best["batch"])
        extras["progressive"] = run_e2e(cfg)
        e = extras["progressive"]["epoch_seconds_each"]
        extras["progressive"]["size_change_stall_s"] = round(e[2] - e[3], 3)  # first epoch at the new size vs the next
        print("e2e progressive", json.dumps(extras["progressive"]), flush=True)
    detail["e2e_extras"] = extras


# ----------------------------------------------------------------------------------------------
# 3. the peer, 4. sharing the GPU
# ----------------------------------------------------------------------------------------------


def part_peer(s: dict[str, Any], root: Path, device: torch.device, clock: Clock, detail: dict[str, Any],
              force_timm: bool) -> None:
    from _gpu_peer import fastai_peer, timm_peer

    runs: list[dict[str, Any]] = []
    errors: list[str] = []
    workers = 0 if s is SMOKE else min(16, os.cpu_count() or 1)
    settings = [("fp32", False)] if device.type != "cuda" else [("bf16", True), ("fp32", False)]
    if not force_timm:
        for precision, channels_last in settings:
            if not clock.fits(60 if s is GPU else 20, f"peer fastai {precision}"):
                continue
            try:
                r = fastai_peer(root, size=s["peer_size"], item_size=s["peer_item"], batch=s["peer_batch"], workers=workers,
                                warmup=s["peer_warmup"], max_batches=s["peer_batches"], device=device,
                                model=s["peer_model"], precision=precision, channels_last=channels_last)
                runs.append(r)
                print("peer", json.dumps(r), flush=True)
            except Exception as e:  # noqa: BLE001 - any failure of the peer falls back to timm, and is said
                errors.append(f"fastai: {type(e).__name__}: {e}")
                print("peer fastai failed:", traceback.format_exc(limit=3), flush=True)
                break
    if not runs:
        try:
            r = timm_peer(size=s["peer_size"], batch=s["peer_batch"], steps=s["steps"], warmup=s["warmup"], device=device,
                          bf16=device.type == "cuda", why="--peer timm" if force_timm else "fastai could not run")
            runs.append(r)
            print("peer", json.dumps(r), flush=True)
        except Exception as e:  # noqa: BLE001
            errors.append(f"timm: {type(e).__name__}: {e}")
    detail["peer"] = {"runs": runs, "errors": errors}


def part_sharing(s: dict[str, Any], root: Path, work: Path, device: torch.device, clock: Clock,
                 detail: dict[str, Any]) -> None:
    from _gpu_sharing import study_busy, two_vs_one

    e2e = [r for r in detail.get("e2e", []) if r["slot"] == 128]
    batch = _best(e2e, 128)["batch"] if e2e else s["batches"][0]
    size, presize = s["sizes"][128], s["presizes"][128]
    if clock.fits(60 if s is GPU else 40, "two trials against one"):
        cfg = trial_config(s, root, work, device, size=size, presize=presize, batch_size=batch, epochs=s["pair_epochs"],
                           threads=1 if device.type != "cuda" else 0)
        try:
            detail["two_vs_one"] = two_vs_one(cfg, work / "pair")
            print("two trials vs one", json.dumps(detail["two_vs_one"]), flush=True)
        except Exception as e:  # noqa: BLE001
            detail["two_vs_one"] = {"error": f"{type(e).__name__}: {e}"}
    cuda = device.type == "cuda"
    studies = []
    for share in s["studies"]:
        if not clock.fits(s["study_budget"] + 30, f"study at {share} GPU per trial"):
            continue
        cpus = max(1.0, (os.cpu_count() or 2) * share) if cuda else 1.0
        r = study_busy(name=f"gpu-share-{int(share * 100)}", work=work / "studies", data=root, data_dir=work / "cache",
                       model=s["model"], size=size, presize=presize, batch=batch, epochs=s["study_epochs"],
                       budget_s=s["study_budget"], gpus_per_trial=share if cuda else None, cpus_per_trial=cpus,
                       metric="system/gpu_0_utilization_percentage" if cuda else "system/cpu_utilization_percentage")
        r["share"] = share
        studies.append(r)
        print("study", json.dumps({k: v for k, v in r.items() if k != "log_tail"}), flush=True)
        if "log_tail" in r:
            print(r["log_tail"], flush=True)
    detail["studies"] = studies


# ----------------------------------------------------------------------------------------------
# 5. the JSON and the table
# ----------------------------------------------------------------------------------------------


def summarize(card: str, detail: dict[str, Any], smoke: bool, command: str) -> dict[str, Any]:
    def best(rows: list[dict[str, Any]], slot: int) -> dict[str, Any] | None:
        rows = [r for r in rows if r["slot"] == slot]
        return max(rows, key=lambda r: r["images_per_s"]) if rows else None

    c128, c224 = best(detail.get("ceiling", []), 128), best(detail.get("ceiling", []), 224)
    e128, e224 = best(detail.get("e2e", []), 128), best(detail.get("e2e", []), 224)
    peers = detail.get("peer", {}).get("runs", [])
    peer = max(peers, key=lambda r: r["images_per_s"]) if peers else None
    studies = detail.get("studies", [])
    busy = next((st.get("busy_fraction") for st in studies if st.get("share") == 0.5), None)
    return {
        "card": card,
        "torch": torch.__version__,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "ceiling_128_img_s": c128["images_per_s"] if c128 else None,
        "ceiling_224_img_s": c224["images_per_s"] if c224 else None,
        "e2e_128_img_s": e128["images_per_s"] if e128 else None,
        "e2e_224_img_s": e224["images_per_s"] if e224 else None,
        "batch_128": e128["batch"] if e128 else None,
        "batch_224": e224["batch"] if e224 else None,
        "tta_224_img_s": e224.get("tta_images_per_s_per_pass") if e224 else None,
        "peer": f"{peer['peer']} ({peer.get('precision', '')})" if peer else None,
        "peer_224_img_s": peer["images_per_s"] if peer else None,
        "two_trials_vs_one_128": detail.get("two_vs_one", {}).get("ratio"),
        "gpu_busy_fraction_study": busy,
        "detail": {**detail, "smoke": smoke, "command": command, "python": platform.python_version(),
                   "note": "CPU smoke run: toy sizes, not GPU results" if smoke else ""},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="toy sizes on a CPU, to test the bench itself")
    ap.add_argument("--budget", type=float, default=None, help="s of wall clock for all parts (default 460; smoke 240)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "results", help="folder for gpu_<card>.json and .md")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--peer", choices=("fastai", "timm"), default="fastai", help="timm: skip fastai, use timm's step")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: ceiling,switches,e2e,peer,sharing")
    args = ap.parse_args()
    s = SMOKE if args.smoke else GPU
    device = torch.device("cuda" if torch.cuda.is_available() and not args.smoke else "cpu")
    if not args.smoke and device.type != "cuda":
        print("no CUDA device: run with --smoke on a CPU", file=sys.stderr)
        return 2
    if args.smoke:
        torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))
    work = args.work or Path(tempfile.mkdtemp(prefix="gpu-bench-"))
    skip = set(filter(None, args.skip.split(",")))
    skipped: list[str] = [f"{p}: --skip" for p in sorted(skip)]
    clock = Clock(args.budget or s["budget"], skipped)
    card = card_name(device, args.smoke)
    command = " ".join(["python3", "bench/gpu.py", *sys.argv[1:]])
    detail: dict[str, Any] = {"skipped": skipped, "work": str(work), "device": str(device)}
    print(json.dumps({"card": card, "torch": torch.__version__, "device": str(device), "budget_s": clock.budget_s}), flush=True)
    parts: list[tuple[str, Callable[[], None]]] = []
    root_box: dict[str, Path] = {}

    def need_root() -> Path:
        if "root" not in root_box:
            root_box["root"] = make_data(s, work)
        return root_box["root"]

    parts = [
        ("ceiling", lambda: part_ceiling(s, device, clock, detail)),
        ("e2e", lambda: part_e2e(s, need_root(), work, device, clock, detail)),
        ("peer", lambda: part_peer(s, need_root(), device, clock, detail, args.peer == "timm")),
        ("sharing", lambda: part_sharing(s, need_root(), work, device, clock, detail)),
        ("switches", lambda: part_switches(s, device, clock, detail) if detail.get("ceiling") else None),
    ]
    args.out.mkdir(parents=True, exist_ok=True)

    def write() -> dict[str, Any]:
        """The JSON and the table as they stand: written after every part, so a killed run leaves its figures."""
        result = summarize(card, detail, args.smoke, command)
        (args.out / f"gpu_{card}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
        (args.out / f"gpu_{card}.md").write_text(table(result))
        return result

    for name, run in parts:
        if name in skip:
            continue
        print(f"\n== {name} ({clock.left():.0f} s left)", flush=True)
        t0 = time.perf_counter()
        try:
            run()
        except Exception as e:  # noqa: BLE001 - a broken part is recorded; the others still run
            detail.setdefault("errors", {})[name] = f"{type(e).__name__}: {e}"
            print(f"part {name} failed:\n{traceback.format_exc()}", flush=True)
        detail.setdefault("part_seconds", {})[name] = round(time.perf_counter() - t0, 1)
        write()
    result = write()
    print("\n" + table(result), flush=True)
    print(f"wrote {args.out / f'gpu_{card}.json'} and .md in {time.perf_counter() - clock.start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
