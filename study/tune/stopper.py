"""Stop a Ray Tune phase at its deadline on the study's clock (not the session's).

Tune's own ``TuneConfig(time_budget_s=...)`` counts from when ``fit`` starts, and after
``Tuner.restore`` it counts the whole amount again. This stopper holds a :class:`Deadline` on the
study's :class:`~study.tune.clock.BudgetClock`, so a resumed study stops when the study's budget
(time spent before the interruption included) runs out. With a :class:`~study.tune.placement.NodeWatch`
it also ends the phase early when no live node has been able to host a trial for a while (a node
lost for good), rather than leave the trials waiting until the deadline.
"""

from __future__ import annotations

import time

from ray.tune.stopper import Stopper

from study.tune.clock import Deadline
from study.tune.placement import NodeWatch

__all__ = ["BudgetStopper"]


class BudgetStopper(Stopper):
    def __init__(self, deadline: Deadline, watch: NodeWatch | None = None) -> None:
        self.deadline = deadline
        self.watch = watch

    def __call__(self, trial_id: str, result: dict) -> bool:
        return False  # trials end on their own; the deadline ends them all (stop_all)

    def stop_all(self) -> bool:
        return time.time() >= self.deadline.time() or (self.watch is not None and self.watch.stalled())
