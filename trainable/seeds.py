"""Independent random streams per (seed, epoch, purpose): the Determinism contract of ARCHITECTURE.md."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["derive_seed", "generator"]


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed derived from ``parts`` (independent streams for data, augmentation, mixup)."""
    words = [p if isinstance(p, int) else int.from_bytes(p.encode()[:8].ljust(8, b"\0"), "little") for p in parts]
    return int(np.random.SeedSequence(words).generate_state(1, dtype=np.uint64)[0]) >> 1


def generator(device: torch.device, seed: int) -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded with ``seed``."""
    g = torch.Generator(device=device)
    g.manual_seed(seed)
    return g
