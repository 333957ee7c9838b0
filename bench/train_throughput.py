"""CPU throughput of training steps: images/s for xresnet18 and xresnet50 at 64 px.

Measures what ``trainable.train.train_one_epoch`` does per step — batch augmentation on the
device, forward, loss, backward, AdamW step — on synthetic uint8 batches already in memory, with
one and two threads. Figures are printed, not asserted.

Reference (issue 2): fastai's ``Learner`` measured about 47 images/s for xresnet18 at 64 px,
batch 32, one thread on these machines; the goal is at least 1.3× that.

    .venv/bin/python bench/train_throughput.py [--models xresnet18,xresnet50] [--steps 12]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from trainable.augment import AugmentParams, augment_batch
from trainable.models import build_model
from trainable.optim import build_optimizer, set_hparams

FASTAI_XRESNET18_64PX_1T = 47.0  # images/s, measured with fastai's Learner (issue 2)


def measure(model_name: str, size: int, batch: int, threads: int, steps: int, warmup: int, channels_last: bool) -> float:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = build_model(model_name, n_out=10)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = build_optimizer(model, 0.01, fused=True)  # as run_trial does on CPU and CUDA
    set_hparams(opt, 1e-3, 0.9)
    gen = torch.Generator().manual_seed(0)
    x8 = torch.randint(0, 256, (batch, 3, int(size * 1.25), int(size * 1.25)), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    params = AugmentParams()
    model.train()
    start = 0.0
    for i in range(warmup + steps):
        if i == warmup:
            start = time.perf_counter()
        x = augment_batch(x8, size, params, gen)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return steps * batch / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="xresnet18,xresnet50")
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=3)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, {args.size} px, batch {args.batch}, {args.steps} timed steps after {args.warmup} warm-up")
    print(f"{'model':10} {'threads':>7} {'layout':>13} {'img/s':>8} {'vs fastai':>9}")
    for name in args.models.split(","):
        for threads in map(int, args.threads.split(",")):
            for cl in (False, True):
                ips = measure(name, args.size, args.batch, threads, args.steps, args.warmup, cl)
                rel = f"{ips / FASTAI_XRESNET18_64PX_1T:.2f}x" if name == "xresnet18" and threads == 1 else ""
                print(f"{name:10} {threads:>7} {'channels_last' if cl else 'contiguous':>13} {ips:>8.1f} {rel:>9}", flush=True)


if __name__ == "__main__":
    main()
