"""bench/gpu.py's measuring tools: the chip's matrix rate, a model's FLOPs, the model-only training step."""

from __future__ import annotations

import re
import time

import torch
import torch.nn.functional as F

from trainable.models import build_model
from trainable.optim import build_optimizer, set_hparams
from trainable.runtime import compile_model

__all__ = ["card_name", "flops_per_image", "matmul_tflops", "step_rate", "sync"]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def card_name(device: torch.device, smoke: bool) -> str:
    if device.type != "cuda":
        return "cpu-smoke" if smoke else "cpu"
    return re.sub(r"[^a-z0-9]+", "-", torch.cuda.get_device_name(device).lower()).strip("-").replace("nvidia-", "")


def matmul_tflops(device: torch.device, smoke: bool) -> float:
    """The chip's measured dense matrix rate: bf16 8192^3 on CUDA (fp32 512^3 on a CPU smoke run)."""
    n, dtype = (512, torch.float32) if device.type != "cuda" else (8192, torch.bfloat16)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    sync(device)
    reps = 3 if smoke else 50
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def flops_per_image(model_name: str, size: int, device: torch.device) -> float:
    """Forward + backward FLOPs of one image (torch's FlopCounterMode: convolutions and matmuls)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = build_model(model_name, n_out=10).to(device)
    x = torch.randn(2, 3, size, size, device=device)
    with FlopCounterMode(display=False) as counter:
        model(x).sum().backward()
    return counter.get_total_flops() / 2


def step_rate(model_name: str, size: int, batch: int, device: torch.device, *, warmup: int, steps: int,
              bf16: bool = True, channels_last: bool = True, fused: bool = True, cudnn_benchmark: bool = True,
              sync_each_step: bool = False, compile: bool = False) -> dict[str, float]:
    """Training steps/s of the model alone on random inputs already on the device."""
    cuda = device.type == "cuda"
    bf16 = bf16 and cuda
    if cuda:
        torch.backends.cudnn.benchmark = cudnn_benchmark
    torch.manual_seed(0)
    model = build_model(model_name, n_out=10).to(device)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt)
    opt = build_optimizer(model, 0.01, fused=fused or None)
    set_hparams(opt, 1e-3, 0.9)
    x = torch.randn(batch, 3, size, size, device=device, dtype=torch.bfloat16 if bf16 else torch.float32)
    x = x.contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=device)
    forward = compile_model(model) if compile else model

    def one() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sync_each_step:
            loss.item()  # what a per-batch metric read costs: the host waits for the device

    sync(device)
    t0 = time.perf_counter()
    one()
    sync(device)
    first = time.perf_counter() - t0
    for _ in range(warmup):
        one()
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        one()
    sync(device)
    seconds = time.perf_counter() - t0
    if cuda:
        torch.backends.cudnn.benchmark = True
    return {"images_per_s": round(steps * batch / seconds, 1), "first_step_s": round(first, 3)}
