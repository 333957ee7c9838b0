"""Cold and warm ``torch.compile`` of the training step, each in a fresh process (issue 17).

    python bench/compile_cache.py                      # CPU: xresnet18, 32 px, batch 16 (a few minutes on 2 cores)
    python bench/compile_cache.py --model xresnet50 --size 224 --batch 256 --device cuda

Four fresh processes, one after the other, each timing the first training step (forward, backward,
fused AdamW: the step ``run_trial`` compiles) and then the steady step:

1. **cold**: an empty Inductor cache folder (``TORCHINDUCTOR_CACHE_DIR``); at the end it writes
   the portable cache artifacts (``torch.compiler.save_cache_artifacts``) to a file;
2. **warm, same machine**: the same cache folder (Inductor's FX-graph and AOTAutograd caches);
3. **warm, portable**: another empty cache folder, after ``torch.compiler.load_cache_artifacts`` of
   process 1's file (what another node of a cluster, or a fresh machine, would do with the study
   folder's artifacts);
4. **eager**: no compilation (the steady rate to compare with).

Prints one JSON line per process and a summary; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """One process: (load artifacts), build, first step timed, steady steps timed, (save artifacts)."""
    t0 = time.perf_counter()
    import torch
    import torch.nn.functional as F

    sys.path.insert(0, str(REPO))
    from trainable.models import build_model
    from trainable.optim import build_optimizer, set_hparams
    from trainable.runtime import compile_model

    out: dict[str, Any] = {"mode": args.mode, "import_s": round(time.perf_counter() - t0, 2)}
    if args.load:
        t = time.perf_counter()
        info = torch.compiler.load_cache_artifacts(Path(args.load).read_bytes())
        out["load_artifacts_s"] = round(time.perf_counter() - t, 3)
        out["loaded"] = bool(info)
    device = torch.device(args.device)
    torch.set_num_threads(args.threads) if args.threads else None
    cuda = device.type == "cuda"
    torch.manual_seed(0)
    model = build_model(args.model, n_out=10).to(device)
    if cuda:
        model = model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    opt = build_optimizer(model, 0.01, fused=True)
    set_hparams(opt, 1e-3, 0.9)
    forward = compile_model(model) if args.mode != "eager" else model
    x = torch.randn(args.batch, 3, args.size, args.size, device=device)
    if cuda:
        x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (args.batch,), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = F.cross_entropy(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    t = time.perf_counter()
    step()
    sync()
    out["first_step_s"] = round(time.perf_counter() - t, 2)
    for _ in range(2):
        step()
    sync()
    t = time.perf_counter()
    for _ in range(args.steps):
        step()
    sync()
    out["images_per_s"] = round(args.steps * args.batch / (time.perf_counter() - t), 1)
    if args.save:
        t = time.perf_counter()
        saved = torch.compiler.save_cache_artifacts()
        if saved is not None:
            Path(args.save).write_bytes(saved[0])
            out["artifacts_bytes"] = len(saved[0])
        out["save_artifacts_s"] = round(time.perf_counter() - t, 3)
    return out


def _run(args: argparse.Namespace, mode: str, cache_dir: Path, **extra: str) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", mode, "--model", args.model, "--size", str(args.size), "--batch",
           str(args.batch), "--device", args.device, "--steps", str(args.steps), "--threads", str(args.threads)]
    for k, v in extra.items():
        cmd += [f"--{k}", v]
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(cache_dir)}
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    wall = round(time.perf_counter() - t, 1)
    if done.returncode != 0:
        return {"mode": mode, "error": done.stderr[-2000:], "process_s": wall}
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_s"] = wall
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="xresnet18")
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--load", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--save", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        print(json.dumps(_child(args)), flush=True)
        return 0
    work = Path(tempfile.mkdtemp(prefix="compile-cache-"))
    artifacts = work / "artifacts.bin"
    rows = []
    for mode, cache, extra in (("cold", work / "a", {"save": str(artifacts)}), ("warm-local", work / "a", {}),
                               ("warm-portable", work / "b", {"load": str(artifacts)}), ("eager", work / "c", {})):
        if mode == "warm-portable" and not artifacts.exists():
            rows.append({"mode": mode, "error": "no artifacts were saved by the cold process"})
            continue
        row = _run(args, mode, cache, **extra)
        rows.append(row)
        print(json.dumps(row), flush=True)
    by = {r["mode"]: r for r in rows}
    eager = by.get("eager", {}).get("images_per_s")
    summary = {"model": args.model, "size": args.size, "batch": args.batch, "device": args.device,
               "cold_compile_s": by.get("cold", {}).get("first_step_s"),
               "warm_local_compile_s": by.get("warm-local", {}).get("first_step_s"),
               "warm_portable_compile_s": by.get("warm-portable", {}).get("first_step_s"),
               "eager_first_step_s": by.get("eager", {}).get("first_step_s"),
               "eager_images_per_s": eager, "compiled_images_per_s": by.get("cold", {}).get("images_per_s"),
               "artifacts_bytes": by.get("cold", {}).get("artifacts_bytes")}
    print("summary", json.dumps(summary), flush=True)
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
