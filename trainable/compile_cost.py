"""When ``torch.compile`` pays for itself: ``compile = "auto"`` on CUDA (issue 17).

A compiled xresnet50 training step ran 1.67× the eager one on an H200 (224 px, batch 256), but
its first step took 83 s to compile: a trial compiles when the training images it will see save
more seconds than compiling costs it —

    Σ over its sizes of  images(size) × (1 / eager(size) − 1 / compiled(size))  >  Σ over its sizes of compile(size)

where ``compile(size)`` is the cold cost, or the warm one when Inductor's caches already hold the
graphs (this machine compiled them before, or a study's portable artifacts were loaded:
:mod:`trainable.compile_cache`). The rates and costs are measured figures, kept once here
(:data:`MEASURED`, by card, model and size, from ``bench/gpu.py`` and ``bench/compile_cache.py``);
a size without a figure counts as not paying, so ``auto`` stays eager where nothing was measured
(``compile = "on"`` forces it). A progressive schedule compiles once per size.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from trainable.config import TrialConfig

__all__ = ["MEASURED", "CompileFigures", "card_key", "compile_pays", "training_images"]


@dataclass(frozen=True)
class CompileFigures:
    """One (card, model, size)'s training step, eager and compiled, and what compiling it costs."""

    eager_images_per_s: float  # img/s, the eager step (bf16, channels_last, fused AdamW)
    compiled_images_per_s: float  # img/s, the same step compiled
    cold_compile_s: float  # s, the first compiled step with empty caches
    warm_compile_s: float | None = None  # s, the same with Inductor's caches warm; None: not measured (the cold cost is used)

    def __post_init__(self) -> None:
        if not (self.eager_images_per_s > 0 and self.compiled_images_per_s > 0 and self.cold_compile_s >= 0):
            raise ValueError(f"compile figures must be positive rates and a cost >= 0, got {self}")

    def compile_s(self, warm: bool) -> float:
        return self.warm_compile_s if warm and self.warm_compile_s is not None else self.cold_compile_s

    def saved_s(self, images: int) -> float:
        """Seconds ``images`` training images take less compiled than eager (negative: compiled is slower)."""
        return images * (1 / self.eager_images_per_s - 1 / self.compiled_images_per_s)


# (card, model, size) -> figures. The H200's: ../shared/gpu-2026-12-04 (bench/results/gpu_h200.json: the eager step at
# batch 256; compiled: bench/_gpu_step.py's step_rate(compile=True), 6,396.6 img/s after an 83.2-s first step).
MEASURED: dict[tuple[str, str, int], CompileFigures] = {
    ("h200", "xresnet50", 224): CompileFigures(eager_images_per_s=3837.9, compiled_images_per_s=6396.6, cold_compile_s=83.2),
}


def card_key(device_name: str) -> str:
    """``"NVIDIA H200"`` -> ``"h200"``: the card as :data:`MEASURED` names it."""
    return re.sub(r"[^a-z0-9]+", "-", device_name.lower()).strip("-").replace("nvidia-", "")


def training_images(cfg: TrialConfig, n_train: int) -> dict[int, int]:
    """Training images a trial will see at each size (every epoch: its full batches)."""
    batch = min(cfg.batch_size, n_train)
    per_epoch = (n_train // batch) * batch if batch > 0 else 0
    out: dict[int, int] = {}
    for cycle in cfg.cycles():
        for size, epochs in cycle.sizes:
            out[size] = out.get(size, 0) + epochs * per_epoch
    return out


def compile_pays(images: Mapping[int, int], figures: Mapping[int, CompileFigures], *, warm: Mapping[int, bool]) -> tuple[bool, str]:
    """Whether compiling saves more than it costs, over every size of the trial, and why (a sentence)."""
    saved = cost = 0.0
    for size, n in sorted(images.items()):
        fig = figures.get(size)
        if fig is None:
            return False, f"no measured compile figures at {size} px: eager"
        saved += fig.saved_s(n)
        cost += fig.compile_s(warm.get(size, False))
    verdict = saved > cost
    return verdict, f"compiling would save {saved:.0f} s of training steps for {cost:.0f} s of compilation: " + (
        "compiled" if verdict else "eager")
