"""The data side at Imagenette's real scale on CPU: cache build, trial cold start, input pipeline vs training step.

Builds an Imagenette-320-shaped data set (``_imagenette_like.py``: the real label table's paths,
class folders, split and noisy-label columns; generated JPEGs with shorter side 320 at ImageNet's
aspect ratios, quality 90) and reports, on this machine:

1. Decoded-cache build time and images/s at presize 160 and 256 (``build_cache``, one decoding
   process per core, into an empty cache folder).
2. Trial cold start with a warm cache: seconds from starting a fresh ``python`` process (which
   imports the trainable, calls ``prepare`` on the warm cache, takes the training set's channel
   statistics, builds xresnet50 and its fused AdamW, and runs one training step) to that first
   step done, with the time of each phase.
3. Input-pipeline images/s with no model (``iter_batches`` from the cache with its prefetch
   thread + ``augment_batch``: random resized crop, flip, rotate/zoom/warp in one grid_sample,
   lighting) at 128 px (presize 160) and 224 px (presize 256), with 1 and 2 torch threads, against
   the xresnet50 training step's own images/s (forward, loss, backward, fused AdamW step on an
   augmented batch already in memory; channels_last as ``trainable/train.py``), and their ratio.
   Goal (issue 3): the pipeline at least 5x the training step at every size.
4. Where the pipeline's time goes (ms per batch): crop+stack, uint8 -> float, grid_sample,
   lighting, channels_last copy.

Figures are printed, not asserted; ``--out FILE`` also writes them to FILE. The machine may be
shared: the load average is printed before and after.

    .venv/bin/python bench/data_pipeline.py                 # 3,000 of the 13,394 rows, ~7 min on 2 cores
    .venv/bin/python bench/data_pipeline.py --full --steps 2  # all 13,394 rows, ~13 min
    .venv/bin/python bench/data_pipeline.py --quick         # smoke test (xresnet18, small batches), < 60 s
    .venv/bin/python bench/data_pipeline.py --out bench/results/data_pipeline_cpu.txt
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TABLE = REPO.parent / "shared" / "data" / "imagenette" / "noisy_imagenette.csv"
GOAL = 5.0  # pipeline images/s over training-step images/s, at every size (issue 3)


class Report:
    """Lines printed as they come and kept for ``--out``."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, line: str = "") -> None:
        print(line, flush=True)
        self.lines.append(line)


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


# ----------------------------------------------------------------------------------------------
# 1. Cache build
# ----------------------------------------------------------------------------------------------


def measure_cache_build(root: Path, presize: int, cache_dir: Path) -> dict:
    """Build the cache of ``root`` at ``presize`` from scratch; seconds, images/s and size."""
    from trainable.data import build_cache, scan_folder

    for old in cache_dir.glob(f"{root.name}-p{presize}-*"):
        shutil.rmtree(old)
    start = time.perf_counter()
    index = scan_folder(root)
    scanned = time.perf_counter()
    cache = build_cache(index, presize, cache_dir, progress=False)
    done = time.perf_counter()
    n = cache.n("train") + cache.n("valid")
    return {
        "presize": presize, "images": n, "scan_s": scanned - start, "build_s": done - scanned,
        "images_per_s": n / (done - scanned), "decode_s": cache.meta["decode_seconds"],
        "mib": cache.meta["bytes"] / 2**20, "corrupt": len(cache.meta["corrupt"]),
    }


# ----------------------------------------------------------------------------------------------
# 2. Cold start
# ----------------------------------------------------------------------------------------------

_COLD_CHILD = r"""
import json, sys, time
marks = {"python_up": time.time()}
root, data_dir, presize, size, batch, threads, model_name = sys.argv[1:8]
import torch
import torch.nn.functional as F
from trainable.augment import AugmentParams, augment_batch, normalize
from trainable.data import iter_batches, prepare
from trainable.models import build_model
from trainable.optim import build_optimizer, set_hparams
marks["imports"] = time.time()
torch.set_num_threads(int(threads))
cache = prepare(root, int(presize), data_dir=data_dir, progress=False)
marks["prepare"] = time.time()
stats = cache.channel_stats("train")
marks["channel_stats"] = time.time()
torch.manual_seed(0)
model = build_model(model_name, n_out=len(cache.classes)).to(memory_format=torch.channels_last)
opt = build_optimizer(model, 0.01, fused=True)
set_hparams(opt, 1e-3, 0.95)
model.train()
marks["model"] = time.time()
batches = iter_batches(cache, "train", int(batch), shuffle=True, random_crop=True, drop_last=True, seed=0)
x, y = next(batches)
x = normalize(augment_batch(x, int(size), AugmentParams(), torch.Generator().manual_seed(0)), *stats)
x = x.contiguous(memory_format=torch.channels_last)
marks["first_batch"] = time.time()
loss = F.cross_entropy(model(x), y)
opt.zero_grad(set_to_none=True)
loss.backward()
opt.step()
marks["first_step"] = time.time()
batches.close()
print("MARKS " + json.dumps(marks))
"""


def measure_cold_start(root: Path, data_dir: Path, presize: int, size: int, batch: int, threads: int, model: str) -> dict:
    """Seconds from a fresh process start to each phase of a trial's start, the cache being warm."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    args = [str(root), str(data_dir), str(presize), str(size), str(batch), str(threads), model]
    start = time.time()
    proc = subprocess.run([sys.executable, "-c", _COLD_CHILD, *args], capture_output=True, text=True, env=env, cwd=REPO)
    exited = time.time()
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    marks = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("MARKS "))[6:])
    return {"at": {k: v - start for k, v in marks.items()}, "exit": exited - start}


# ----------------------------------------------------------------------------------------------
# 3. Input pipeline vs training step
# ----------------------------------------------------------------------------------------------


def measure_pipeline(cache, size: int, batch: int, threads: int, max_batches: int) -> float:  # noqa: ANN001
    """Images/s of iter_batches (prefetching) + augment_batch over the train split, after one warm-up batch."""
    import torch

    from trainable.augment import AugmentParams, augment_batch
    from trainable.data import iter_batches

    torch.set_num_threads(threads)
    params, gen = AugmentParams(), torch.Generator().manual_seed(0)
    n, start, seen = 0, 0.0, 0
    batches = iter_batches(cache, "train", batch, shuffle=True, random_crop=True, drop_last=True, seed=threads)
    for x, y in batches:
        out = augment_batch(x, size, params, gen)
        assert out.shape == (len(y), 3, size, size)
        seen += 1
        if seen == 1:
            start = time.perf_counter()  # the first batch pays the thread start and allocator warm-up
            continue
        n += len(y)
        if seen > max_batches:
            break
    batches.close()
    return n / (time.perf_counter() - start)


def measure_train_step(cache, model_name: str, size: int, batch: int, threads: int, steps: int, warmup: int) -> float:  # noqa: ANN001
    """Images/s of xresnet training steps on one augmented batch in memory (as trainable/train.py steps)."""
    import torch
    import torch.nn.functional as F

    from trainable.augment import AugmentParams, augment_batch, normalize
    from trainable.data import iter_batches
    from trainable.models import build_model
    from trainable.optim import build_optimizer, set_hparams

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    batches = iter_batches(cache, "train", batch, shuffle=True, random_crop=True, drop_last=True, seed=0, prefetch=0)
    x8, y = next(batches)
    batches.close()
    x = normalize(augment_batch(x8, size, AugmentParams(), torch.Generator().manual_seed(0)), *cache.channel_stats("train"))
    x = x.contiguous(memory_format=torch.channels_last)
    model = build_model(model_name, n_out=len(cache.classes)).to(memory_format=torch.channels_last)
    opt = build_optimizer(model, 0.01, fused=True)  # as run_trial does on CPU
    set_hparams(opt, 1e-3, 0.95)
    model.train()
    start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * len(y) / (time.perf_counter() - start)


def profile_pipeline(cache, size: int, batch: int, threads: int, repeats: int) -> dict[str, float]:  # noqa: ANN001
    """Milliseconds per batch of each stage of the pipeline (median of ``repeats``)."""
    import statistics

    import torch

    from trainable import augment as A
    from trainable.data import iter_batches

    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    params = A.AugmentParams()
    times: dict[str, list[float]] = {}

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        out = fn()
        times.setdefault(name, []).append(1000 * (time.perf_counter() - t))
        return out

    for r in range(repeats + 1):
        batches = iter_batches(cache, "train", batch, shuffle=True, random_crop=True, drop_last=True, seed=r, prefetch=0)
        x8, _ = timed("crop + stack (loader)", lambda: next(batches))
        batches.close()
        matrices = timed("sample transforms", lambda: A.sample_transform(len(x8), params, gen))
        xf, scale = timed("uint8 -> float", lambda: A._as_float(x8))
        p = x8.shape[-1]
        if p > A._MAX_BILINEAR_STEP * size:
            min_side = params.min_scale ** 0.5 / params.max_zoom
            target = min(p, int(-(-size * min(A._MAX_BILINEAR_STEP, 1 / min_side) // 1)))
            xf = timed("antialias pre-shrink", lambda: torch.nn.functional.interpolate(
                xf, size=(target, target), mode="bilinear", antialias=True, align_corners=False))
        grid = timed("sampling grid", lambda: A._sampling_grid(matrices, size))
        out = timed("grid_sample", lambda: torch.nn.functional.grid_sample(
            xf, grid, mode="bilinear", padding_mode="reflection", align_corners=False).mul_(scale).clamp_(0, 1))
        b, c = A.sample_lighting(len(x8), params, gen)
        out = timed("lighting", lambda: A.lighting(out, b, c))
        timed("channels_last copy", lambda: out.contiguous(memory_format=torch.channels_last))
        timed("augment_batch (all)", lambda: A.augment_batch(x8, size, params, gen))
        if r == 0:  # warm-up round
            times.clear()
    return {k: statistics.median(v) for k, v in times.items()}


# ----------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--table", type=Path, default=DEFAULT_TABLE, help="Imagenette's noisy_imagenette.csv (default: %(default)s)")
    ap.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "xresnet-bench-data",
                    help="where the generated set (kept and reused) and its caches go (default: %(default)s)")
    ap.add_argument("--limit", type=int, default=3000, help="rows of the table to generate, stratified by split and class (default: %(default)s)")
    ap.add_argument("--full", action="store_true", help="generate every row of the table (13,394 for Imagenette)")
    ap.add_argument("--quick", action="store_true", help="smoke test in < 60 s: 300 rows, xresnet18, batch 16, 2 threads, one timed step")
    ap.add_argument("--model", default="xresnet50")
    ap.add_argument("--batch", type=int, default=64, help="images per batch (default: %(default)s)")
    ap.add_argument("--threads", default="1,2", help="torch thread counts to measure (default: %(default)s)")
    ap.add_argument("--sizes", default="128:160,224:256", help="size:presize pairs, px (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=1, help="timed training steps per row; one xresnet50 step at 224 px "
                    "takes ~1 min on one core (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed training steps first (default: %(default)s)")
    ap.add_argument("--pipeline-batches", type=int, default=40, help="timed batches of the pipeline, at most (default: %(default)s)")
    ap.add_argument("--out", type=Path, help="also write the printed figures to this file")
    args = ap.parse_args(argv)
    if args.quick:
        args.limit, args.model, args.batch, args.threads, args.steps, args.warmup = 300, "xresnet18", 16, "2", 1, 1
        args.pipeline_batches = 8
    limit = None if args.full else args.limit
    threads = [int(t) for t in args.threads.split(",")]
    pairs = [tuple(int(v) for v in p.split(":")) for p in args.sizes.split(",")]

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _imagenette_like import make_imagenette_like

    from trainable.data import build_cache, scan_folder

    say = Report()
    began = time.perf_counter()
    say(f"# bench/data_pipeline.py {' '.join(argv if argv is not None else sys.argv[1:])}")
    say(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, torch {torch.__version__}, {_cores()} cores, "
        f"load average {_load()} (1/5/15 min) at start")

    # 0. The data set.
    t = time.perf_counter()
    root = make_imagenette_like(args.work_dir, args.table, limit=limit, progress=False)
    generated = time.perf_counter() - t
    index = scan_folder(root)
    n_train, n_valid = len(index.train_paths), len(index.valid_paths)
    jpeg_mib = sum(p.stat().st_size for p in (*index.train_paths, *index.valid_paths)) / 2**20
    say(f"# data: {root} ({n_train} train / {n_valid} val, {len(index.classes)} classes, "
        f"{jpeg_mib / (n_train + n_valid) * 1024:.1f} KB per JPEG; ready in {generated:.1f} s)")
    say()

    # 1. Cache build.
    cache_dir = args.work_dir / "cache"
    say(f"## 1. Decoded-cache build ({_cores()} decoding processes, empty cache folder)")
    say(f"{'presize':>7} {'images':>7} {'scan s':>7} {'build s':>8} {'img/s':>7} {'decode s':>9} {'MiB':>7}")
    for presize in sorted({p for _, p in pairs}):
        r = measure_cache_build(root, presize, cache_dir)
        say(f"{presize:>7} {r['images']:>7} {r['scan_s']:>7.2f} {r['build_s']:>8.2f} {r['images_per_s']:>7.0f} "
            f"{r['decode_s']:>9.2f} {r['mib']:>7.0f}")
    say()

    # 2. Cold start, with the cache of the first size warm.
    size0, presize0 = pairs[0]
    cold_threads = max(threads)
    say(f"## 2. Trial cold start, warm cache: fresh process -> first {args.model} step done "
        f"({size0} px from presize {presize0}, batch {args.batch}, {cold_threads} threads); seconds since process start")
    cold = measure_cold_start(root, args.work_dir, presize0, size0, args.batch, cold_threads, args.model)
    at = cold["at"]
    order = ["python_up", "imports", "prepare", "channel_stats", "model", "first_batch", "first_step"]
    say("  ".join(f"{k} {at[k]:.2f}" for k in order) + f"  exit {cold['exit']:.2f}")
    say(f"phases: interpreter {at['python_up']:.2f}, imports {at['imports'] - at['python_up']:.2f}, "
        f"prepare {at['prepare'] - at['imports']:.2f}, channel stats {at['channel_stats'] - at['prepare']:.2f}, "
        f"model+optimizer {at['model'] - at['channel_stats']:.2f}, first batch {at['first_batch'] - at['model']:.2f}, "
        f"first step {at['first_step'] - at['first_batch']:.2f}")
    say(f"to the first step started: {at['first_batch']:.2f} s; to the first step done: {at['first_step']:.2f} s")
    say()

    # 3. Pipeline vs training step.
    say(f"## 3. Input pipeline (iter_batches + augment_batch, no model) vs {args.model} training step, "
        f"batch {args.batch}, images/s; goal: pipeline >= {GOAL:.0f}x the step")
    say(f"{'size':>4} {'presize':>7} {'threads':>7} {'pipeline':>9} {'train step':>10} {'ratio':>7} {'goal':>5}")
    caches = {p: build_cache(index, p, cache_dir, progress=False) for _, p in pairs}
    for size, presize in pairs:
        for th in threads:
            pipe = measure_pipeline(caches[presize], size, args.batch, th, args.pipeline_batches)
            step = measure_train_step(caches[presize], args.model, size, args.batch, th, args.steps, args.warmup)
            ratio = pipe / step
            say(f"{size:>4} {presize:>7} {th:>7} {pipe:>9.1f} {step:>10.2f} {ratio:>6.0f}x {'met' if ratio >= GOAL else 'MISSED':>5}")
    say()

    # 4. Where the pipeline's time goes.
    say(f"## 4. Pipeline stages, ms per batch of {args.batch} (median of 5), {max(threads)} threads")
    profiles = {(s, p): profile_pipeline(caches[p], s, args.batch, max(threads), 5) for s, p in pairs}
    stages = list(dict.fromkeys(k for prof in profiles.values() for k in prof))
    say(f"{'stage':24} " + " ".join(f"{f'{s}px/p{p}':>10}" for s, p in pairs))
    for stage in stages:
        say(f"{stage:24} " + " ".join(f"{profiles[k][stage]:>10.2f}" if stage in profiles[k] else f"{'-':>10}" for k in profiles))
    say()
    say(f"# load average {_load()} (1/5/15 min) at the end; {time.perf_counter() - began:.0f} s in all")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(say.lines) + "\n")


if __name__ == "__main__":
    main()
