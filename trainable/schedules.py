"""Schedules as pure functions of the step: one-cycle, fine_tune, progressive resizing.

The one-cycle policy is Smith (2018), "A disciplined approach to neural network
hyper-parameters"; the shapes (two cosine phases, momentum mirrored) follow fastai's
``fit_one_cycle`` and ``combined_cos`` so that the book's numbers mean something here.

A training run is a list of *stages* (size, epochs, learning rate, how it starts). The
grammar of ``TrialConfig.schedule`` is::

    STAGE[,STAGE...]        STAGE = SIZE "x" EPOCHS ["@" LR] [":" MODE]
    MODE = cycle (default) | fine_tune (alias ft) | cont

* ``cycle``     a fresh one-cycle over the stage's epochs, peaking at LR (optimizer state kept).
* ``fine_tune`` the book's second phase (fastai ``Learner.fine_tune(EPOCHS, LR)``): one epoch of
                one-cycle peaking at LR with pct_start 0.99, then LR/2 for EPOCHS more epochs with
                div 5 and pct_start 0.3; the optimizer state is reset before each of the two
                cycles. A ``fine_tune`` stage therefore trains EPOCHS + 1 epochs.
* ``cont``      continue the previous stage's one-cycle at a new size (one schedule across sizes,
                "continuous" progressive resizing); LR is ignored.

Example, the book's progressive resizing: ``"128x4@3e-3,224x5@1e-3:fine_tune"`` (10 epochs).
:func:`resize_schedule` writes such a two-stage schedule from a size, a start scale and a split.

:func:`checkpoint_due` is the checkpoint schedule: which epochs end with a checkpoint.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

__all__ = [
    "MODES",
    "Cycle",
    "EpochPlan",
    "Stage",
    "checkpoint_due",
    "epoch_plan",
    "format_schedule",
    "one_cycle",
    "parse_schedule",
    "plan_cycles",
    "resize_schedule",
    "resize_start_size",
    "step_hparams",
]

MODES = ("cycle", "fine_tune", "cont")
_MODE_ALIASES = {"cycle": "cycle", "one_cycle": "cycle", "fine_tune": "fine_tune", "ft": "fine_tune", "cont": "cont"}
_STAGE_RE = re.compile(r"^\s*(\d+)\s*x\s*(\d+)\s*(?:@\s*([0-9.eE+-]+))?\s*(?::\s*([a-z_]+))?\s*$")


def _cos(start: float, end: float, pos: float) -> float:
    """Cosine annealing from ``start`` (pos 0) to ``end`` (pos 1), fastai's ``SchedCos``."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def one_cycle(
    pos: float,
    lr_max: float,
    *,
    div: float = 25.0,
    div_final: float = 1e5,
    pct_start: float = 0.25,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
) -> tuple[float, float]:
    """Learning rate and momentum at position ``pos`` in [0, 1) of a one-cycle schedule.

    Phase 1 (``pos < pct_start``): lr goes by cosine from ``lr_max / div`` up to ``lr_max``,
    momentum from ``moms[0]`` down to ``moms[1]``. Phase 2: lr by cosine down toward
    ``lr_max / div_final``, momentum back up to ``moms[2]``.
    """
    if not 0.0 <= pos <= 1.0:
        raise ValueError(f"one_cycle position must be in [0, 1], got {pos=}")
    if not 0.0 < pct_start < 1.0:
        raise ValueError(f"pct_start must be in (0, 1), got {pct_start=}")
    if lr_max <= 0 or div <= 0 or div_final <= 0:
        raise ValueError(f"lr_max, div and div_final must be > 0, got {lr_max=}, {div=}, {div_final=}")
    if pos < pct_start:
        p = pos / pct_start
        return _cos(lr_max / div, lr_max, p), _cos(moms[0], moms[1], p)
    p = (pos - pct_start) / (1 - pct_start)
    return _cos(lr_max, lr_max / div_final, p), _cos(moms[1], moms[2], p)


@dataclass(frozen=True)
class Stage:
    """One stage of a resize schedule: ``epochs`` at ``size`` px, started as ``mode`` says."""

    size: int  # px, side of the square training image
    epochs: int  # epochs (a fine_tune stage trains one more)
    lr: float  # peak learning rate (fine_tune: its base_lr)
    mode: str = "cycle"  # cycle | fine_tune | cont


def parse_schedule(text: str, default_lr: float) -> tuple[Stage, ...]:
    """Parse ``"128x4@3e-3,224x5@1e-3:fine_tune"`` into stages (grammar in the module doc)."""
    stages: list[Stage] = []
    if not text.strip():
        raise ValueError("schedule is empty; write stages like '128x4@3e-3,224x5@1e-3:fine_tune'")
    for i, part in enumerate(text.split(",")):
        m = _STAGE_RE.match(part)
        if m is None:
            raise ValueError(
                f"schedule stage {i + 1} {part.strip()!r} is not SIZExEPOCHS[@LR][:MODE], "
                f"e.g. '128x4@3e-3' or '224x5@1e-3:fine_tune'"
            )
        size, epochs, lr_text, mode_text = m.groups()
        try:
            lr = float(lr_text) if lr_text is not None else default_lr
        except ValueError:
            raise ValueError(f"schedule stage {i + 1} {part.strip()!r}: learning rate {lr_text!r} is not a number") from None
        mode = _MODE_ALIASES.get(mode_text or "cycle")
        if mode is None:
            raise ValueError(f"schedule stage {i + 1} {part.strip()!r}: mode {mode_text!r} is not one of {MODES}")
        stage = Stage(size=int(size), epochs=int(epochs), lr=lr, mode=mode)
        if not 8 <= stage.size <= 2048:
            raise ValueError(f"schedule stage {i + 1}: size must be in [8, 2048] px, got {stage.size}")
        if stage.epochs < (0 if mode == "fine_tune" else 1):
            raise ValueError(f"schedule stage {i + 1}: epochs must be >= 1, got {stage.epochs}")
        if not 0 < stage.lr < 10 or not math.isfinite(stage.lr):
            raise ValueError(f"schedule stage {i + 1}: learning rate must be in (0, 10), got {stage.lr}")
        if mode == "cont" and i == 0:
            raise ValueError("schedule stage 1 cannot be ':cont': there is no earlier cycle to continue")
        stages.append(stage)
    return tuple(stages)


def format_schedule(stages: tuple[Stage, ...]) -> str:
    """The inverse of :func:`parse_schedule` (canonical spelling)."""
    out = []
    for s in stages:
        text = f"{s.size}x{s.epochs}@{s.lr:g}"
        if s.mode != "cycle":
            text += f":{s.mode}"
        out.append(text)
    return ",".join(out)


def resize_schedule(size: int, epochs: int, lr: float, *, start_scale: float, frac: float, mode: str) -> str:
    """The two-stage schedule of progressive resizing (fastbook ch. 7), as :func:`parse_schedule` reads it.

    Start size ``s1 = max(16, round(size·start_scale/8)·8)`` (round half up; must stay < size) for
    ``n1 = clamp(round(frac·epochs), 1, epochs-1)`` epochs, then ``size`` for ``n2 = epochs - n1``:
    ``fine_tune`` = ``"{s1}x{n1}@{lr},{size}x{n2-1}@{lr/3}:fine_tune"`` (a fine_tune stage trains one
    epoch more, so the total stays ``epochs``); ``cont`` = ``"{s1}x{n1}@{lr},{size}x{n2}:cont"`` (one
    cycle across both sizes); ``cycle`` = ``"{s1}x{n1}@{lr},{size}x{n2}@{lr/3}"`` (two fresh cycles).
    Raises ``ValueError`` naming the value that cannot give such a schedule.
    """
    if epochs < 2:
        raise ValueError(f"progressive resizing needs epochs >= 2 (some at each size), got {epochs=}")
    if not (_is_number(start_scale) and 0 < start_scale < 1 and _is_number(frac) and 0 < frac < 1):
        raise ValueError(f"resize_start_scale and resize_frac must be in (0, 1), got {start_scale!r:.80} and {frac!r:.80}")
    if mode not in MODES:
        raise ValueError(f"resize_mode must be one of {MODES}, got {mode!r:.80}")
    s1 = resize_start_size(size, start_scale)
    if s1 >= size:
        raise ValueError(f"resize_start_scale {start_scale:g} of size {size} px gives a start size of {s1} px, "
                         f"not smaller than {size} px; use a smaller scale or a larger size")
    n1 = min(max(_round_half_up(frac * epochs), 1), epochs - 1)
    n2 = epochs - n1
    first = f"{s1}x{n1}@{_lr_text(lr)}"
    if mode == "fine_tune":
        return f"{first},{size}x{n2 - 1}@{_lr_text(lr / 3)}:fine_tune"
    if mode == "cont":
        return f"{first},{size}x{n2}:cont"
    return f"{first},{size}x{n2}@{_lr_text(lr / 3)}"


def resize_start_size(size: int, start_scale: float) -> int:
    """The first stage's size in :func:`resize_schedule`: ``size·start_scale`` rounded to 8 px, at least 16."""
    return max(16, _round_half_up(size * start_scale / 8) * 8)


def _round_half_up(x: float) -> int:
    return math.floor(x + 0.5)


def _lr_text(lr: float) -> str:
    """``lr`` in 6 significant digits, unless rounding would push it out of the grammar's (0, 10)."""
    text = f"{lr:.6g}"
    return text if 0 < float(text) < 10 else repr(lr)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass(frozen=True)
class Cycle:
    """One one-cycle schedule, possibly spanning several sizes (``cont`` stages)."""

    lr_max: float
    div: float
    div_final: float
    pct_start: float
    sizes: tuple[tuple[int, int], ...]  # (size px, epochs) segments in order
    reset_optimizer: bool  # clear the optimizer state before the cycle starts

    @property
    def epochs(self) -> int:
        return sum(e for _, e in self.sizes)


def plan_cycles(
    stages: tuple[Stage, ...], *, div: float = 25.0, div_final: float = 1e5, pct_start: float = 0.25
) -> tuple[Cycle, ...]:
    """Expand stages into cycles: ``fine_tune`` becomes two cycles, ``cont`` extends the last."""
    cycles: list[Cycle] = []
    for stage in stages:
        if stage.mode == "cycle":
            cycles.append(Cycle(stage.lr, div, div_final, pct_start, ((stage.size, stage.epochs),), False))
        elif stage.mode == "fine_tune":
            # fastai Learner.fine_tune: freeze_epochs=1 at pct_start 0.99, then base_lr/2, div 5, pct 0.3.
            cycles.append(Cycle(stage.lr, 25.0, div_final, 0.99, ((stage.size, 1),), True))
            if stage.epochs > 0:
                cycles.append(Cycle(stage.lr / 2, 5.0, div_final, 0.3, ((stage.size, stage.epochs),), True))
        else:  # cont
            last = cycles[-1]
            cycles[-1] = Cycle(
                last.lr_max, last.div, last.div_final, last.pct_start,
                last.sizes + ((stage.size, stage.epochs),), last.reset_optimizer,
            )
    return tuple(cycles)


@dataclass(frozen=True)
class EpochPlan:
    """Everything the training loop needs to know about one epoch."""

    epoch: int  # global epoch index, 0-based
    size: int  # px, training image side in this epoch
    cycle_index: int  # which cycle this epoch belongs to
    cycle_epoch: int  # epoch index inside that cycle
    cycle: Cycle

    @property
    def starts_cycle(self) -> bool:
        return self.cycle_epoch == 0


def epoch_plan(cycles: tuple[Cycle, ...]) -> tuple[EpochPlan, ...]:
    """One :class:`EpochPlan` per epoch, in training order."""
    plans: list[EpochPlan] = []
    for c_idx, cyc in enumerate(cycles):
        k = 0
        for size, n in cyc.sizes:
            for _ in range(n):
                plans.append(EpochPlan(len(plans), size, c_idx, k, cyc))
                k += 1
    return tuple(plans)


def step_hparams(plan: EpochPlan, step: int, steps_per_epoch: int) -> tuple[float, float]:
    """Learning rate and momentum at batch ``step`` of the epoch described by ``plan``."""
    if steps_per_epoch < 1 or not 0 <= step < steps_per_epoch:
        raise ValueError(f"step must be in [0, {steps_per_epoch}), got {step=}")
    cyc = plan.cycle
    pos = (plan.cycle_epoch * steps_per_epoch + step) / (cyc.epochs * steps_per_epoch)
    return one_cycle(pos, cyc.lr_max, div=cyc.div, div_final=cyc.div_final, pct_start=cyc.pct_start)


def checkpoint_due(seconds_since_last: float, every_s: float, last_epoch: bool) -> bool:
    """Whether the epoch just ended gets a checkpoint: the last one always, any other once
    ``every_s`` seconds have passed since the attempt's start or its last checkpoint (0: every epoch).

    A checkpoint is what a lost or interrupted trial restarts from, so ``every_s`` bounds the work
    it redoes; fewer checkpoints mean fewer model copies written (xresnet50 with AdamW's state is
    about 280 MB, and a fast GPU ends an Imagenette epoch in seconds) and, in a study, fewer
    snapshots of Ray Tune's whole experiment state, which it forces every ``num_to_keep`` checkpoints
    of any trial.
    """
    return last_epoch or seconds_since_last >= every_s
