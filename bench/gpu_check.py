"""GPU check: training-step and input-pipeline throughput, and one whole trial, on one CUDA device.

Prints figures (and writes them as JSON to ``--out``), asserts nothing. Sections:

1. training step (uint8 batch → batch augmentation → bf16 forward/backward → fused AdamW), images/s,
   for xresnet50 at 128 and 224 px, batch 64 (the book's), channels_last;
2. input pipeline alone (decoded cache → crop → device → augmentation), images/s at 128 and 224 px,
   against the training step it feeds;
3. ``run_trial`` end to end on the embedded set with every technique on (progressive resizing with
   fine_tune, mixup, label smoothing, normalization, TTA).

    python bench/gpu_check.py --out /tmp/gpu          # on a CUDA machine
    python bench/gpu_check.py --quick --device cpu    # a smoke run of the same code on a CPU
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainable.augment import AugmentParams, augment_batch  # noqa: E402
from trainable.models import build_model  # noqa: E402
from trainable.optim import build_optimizer, set_hparams  # noqa: E402


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train_step_rate(model_name: str, size: int, presize: int, batch: int, steps: int, device: torch.device, bf16: bool) -> float:
    torch.manual_seed(0)
    model = build_model(model_name, n_out=10).to(device).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, 0.01, fused=True)
    set_hparams(opt, 1e-3, 0.9)
    gen = torch.Generator(device=device).manual_seed(0)
    x8 = torch.randint(0, 256, (batch, 3, presize, presize), dtype=torch.uint8, device=device)
    y = torch.randint(0, 10, (batch,), device=device)
    params = AugmentParams()
    warmup = 3
    for i in range(warmup + steps):
        if i == warmup:
            sync(device)
            start = time.perf_counter()
        x = augment_batch(x8, size, params, gen).contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    sync(device)
    return steps * batch / (time.perf_counter() - start)


def pipeline_rate(cache, size: int, batch: int, max_batches: int, device: torch.device) -> float:  # type: ignore[no-untyped-def]
    from trainable.data import iter_batches

    gen = torch.Generator(device=device).manual_seed(0)
    params = AugmentParams()
    n = 0
    sync(device)
    start = time.perf_counter()
    for i, (x, _) in enumerate(iter_batches(cache, "train", batch, shuffle=True, random_crop=True, drop_last=True, seed=0, device=device)):
        augment_batch(x, size, params, gen)
        n += x.shape[0]
        if i + 1 >= max_batches:
            break
    sync(device)
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, for a CPU smoke run")
    ap.add_argument("--out", default=None, help="folder for gpu_check.json")
    args = ap.parse_args()
    device = torch.device(args.device)
    quick = args.quick
    report: dict = {"torch": torch.__version__, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"}
    print(json.dumps(report), flush=True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    # 1. training step
    steps = 2 if quick else 20
    shapes = [(32, 48, 8)] if quick else [(128, 160, 64), (224, 256, 64)]
    report["train_step"] = []
    for size, presize, batch in shapes:
        for name in (["xresnet18"] if quick else ["xresnet18", "xresnet50"]):
            rate = train_step_rate(name, size, presize, batch, steps, device, bf16=device.type == "cuda")
            row = {"model": name, "size": size, "batch": batch, "bf16": device.type == "cuda", "images_per_s": round(rate, 1)}
            report["train_step"].append(row)
            print("train step", json.dumps(row), flush=True)

    # 2. input pipeline alone, from a decoded cache of the embedded set
    from trainable.data import build_cache, ensure_embedded, scan_folder

    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    root = ensure_embedded(tmp, seed=0, train_per_class=20 if quick else 130, valid_per_class=10 if quick else 50)
    report["pipeline"] = []
    for size, presize, batch in shapes:
        t0 = time.perf_counter()
        cache = build_cache(scan_folder(root), presize, tmp / "cache", progress=False)
        build_s = time.perf_counter() - t0
        rate = pipeline_rate(cache, size, batch, 4 if quick else 60, device)
        model = "xresnet18" if quick else "xresnet50"
        model_rate = next(r["images_per_s"] for r in report["train_step"] if r["size"] == size and r["model"] == model)
        row = {"size": size, "presize": presize, "cache_build_s": round(build_s, 2), "images_per_s": round(rate, 1),
               "vs_train_step": round(rate / model_rate, 2)}
        report["pipeline"].append(row)
        print("pipeline", json.dumps(row), flush=True)

    # 3. a whole trial with every technique on
    from trainable.config import TrialConfig
    from trainable.train import run_trial

    cfg = TrialConfig.from_dict(dict(
        data=str(root), data_dir=str(tmp), model="xresnet18" if quick else "xresnet50", presize=64 if quick else 160,
        schedule="24x1,32x1:fine_tune" if quick else "64x3@3e-3,128x2@1e-3:fine_tune", batch_size=16 if quick else 64,
        normalize="dataset", mixup_alpha=0.4, label_smoothing=0.1, tta_n=2, device=args.device,
    ))
    t0 = time.perf_counter()
    def show(m: dict, c: object) -> None:
        print("epoch", json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()}), flush=True)

    result = run_trial(cfg, on_epoch=show)
    trial = {k: v for k, v in result.to_dict().items() if k not in ("history", "confusion", "config", "classes")}
    trial["wall_s"] = round(time.perf_counter() - t0, 1)
    trial["schedule"] = cfg.schedule
    report["trial"] = trial
    print("trial", json.dumps(trial, default=str), flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "gpu_check.json").write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
