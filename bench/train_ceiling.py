"""How close a training step is to the model's own compute: full step vs forward+backward alone.

Issue 2's goal is 1.3x the images/s of fastai's Learner (47 img/s for xresnet18, 64 px, batch 32,
one thread, on these machines). fastai runs the same PyTorch (oneDNN) convolution kernels on the
same model arithmetic (our xresnet is bit-identical to fastai's), so no pipeline can beat fastai
by more than the share of fastai's time spent outside the model's forward and backward pass.
This prints, interleaved in one process (so machine noise hits both alike), the images/s of

* the full training step of ``run_trial`` on CPU: batch augmentation, forward, loss, backward,
  fused AdamW step;
* the model's forward + backward alone, on a batch already augmented (no optimizer step).

A ratio near 1 means the step is already at the model's compute ceiling on this CPU.

    .venv/bin/python bench/train_ceiling.py [--rounds 3] [--steps 6]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from trainable.augment import AugmentParams, augment_batch
from trainable.models import build_model
from trainable.optim import build_optimizer, set_hparams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--model", default="xresnet18")
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = build_model(args.model, n_out=10).train()
    opt = build_optimizer(model, 0.01, fused=True)
    set_hparams(opt, 1e-3, 0.9)
    gen = torch.Generator().manual_seed(0)
    x8 = torch.randint(0, 256, (32, 3, 80, 80), dtype=torch.uint8, generator=gen)
    y = torch.randint(0, 10, (32,), generator=gen)
    ready = augment_batch(x8, 64, AugmentParams(), gen)

    def full(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            x = augment_batch(x8, 64, AugmentParams(), gen)
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return n * 32 / (time.perf_counter() - t)

    def core(n: int) -> float:
        t = time.perf_counter()
        for _ in range(n):
            loss = F.cross_entropy(model(ready), y)
            model.zero_grad(set_to_none=True)
            loss.backward()
        return n * 32 / (time.perf_counter() - t)

    full(2), core(2)  # warm-up
    print(f"{args.model}, 64 px, batch 32, one thread, torch {torch.__version__}")
    for r in range(args.rounds):
        a, b = full(args.steps), core(args.steps)
        print(f"round {r}: full training step {a:.1f} img/s, model forward+backward alone {b:.1f} img/s, ratio {a / b:.2f}",
              flush=True)


if __name__ == "__main__":
    main()
