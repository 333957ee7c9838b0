"""A study's training share: how much of the compute it bought went into training steps.

``training share = Σ over trials of their training-step seconds ÷ (slots × the study's wall time)``
(issue 17). Each trial's seconds come by part (:class:`trainable.timing.TrialTimes`: start-up,
data, model, warm-up, training steps, evaluation, checkpoints, final evaluation, reporting); their
totals over the study say where the rest went, and ``outside_trials`` is the slot time no trial
accounts for (the study's own start and end, slots left idle between trials and phases, the
scheduler's gaps). With several trials on one GPU the share is per slot and understates how busy
the chip was (the GPU benchmark measures that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from trainable.timing import PARTS, TrialTimes

__all__ = ["TimeShare", "time_share"]


@dataclass(frozen=True)
class TimeShare:
    """Where a study's slot time went: totals over its trials, by part, and the training share."""

    slots: int  # trials at once
    wall_s: float  # s, the study's wall time (all sessions)
    trials: int  # trials with recorded times
    parts: dict[str, float] = field(default_factory=dict)  # part -> s, summed over the trials (every part of PARTS)

    @property
    def capacity_s(self) -> float:
        return self.slots * self.wall_s

    @property
    def train_s(self) -> float:
        return self.parts.get("train", 0.0)

    @property
    def share(self) -> float | None:
        """Training-step seconds over slot seconds; None without trials' times or without wall time."""
        if self.trials == 0 or self.capacity_s <= 0:
            return None
        return self.train_s / self.capacity_s

    @property
    def outside_trials_s(self) -> float:
        """Slot seconds no trial's parts account for (idle slots, start and end of the study, gaps)."""
        return self.capacity_s - sum(self.parts.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "training_share": None if self.share is None else round(self.share, 4),
            "slots": self.slots,
            "wall_seconds": round(self.wall_s, 2),
            "trials": self.trials,
            "seconds": {p: round(self.parts.get(p, 0.0), 2) for p in PARTS},
            "outside_trials_seconds": round(self.outside_trials_s, 2),
        }

    @classmethod
    def from_dict(cls, d: Any) -> TimeShare | None:
        """What :meth:`to_dict` wrote (``summary.json``'s ``time_share``), or None."""
        if not isinstance(d, dict) or not isinstance(d.get("seconds"), dict):
            return None
        try:
            return cls(int(d["slots"]), float(d["wall_seconds"]), int(d["trials"]),
                       {p: float(d["seconds"].get(p, 0.0)) for p in PARTS})
        except (KeyError, TypeError, ValueError):
            return None


def time_share(times: Iterable[TrialTimes | None], slots: int, wall_s: float) -> TimeShare:
    """The study's :class:`TimeShare` from its trials' times (None: a trial that recorded none)."""
    if slots < 0 or wall_s < 0:
        raise ValueError(f"slots and wall_s must be >= 0, got {slots=}, {wall_s=}")
    total = TrialTimes()
    n = 0
    for t in times:
        if t is not None:
            total = total.plus(t)
            n += 1
    return TimeShare(slots, wall_s, n, total.to_dict())
