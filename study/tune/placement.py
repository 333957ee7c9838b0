"""Whether the cluster can still host a trial, and when to stop waiting for one that can.

When a node is lost, Ray Tune retries its trials from their last checkpoint on the nodes left. If
no node left has a trial's resources (the lost node was the only one with GPUs, say), Tune would
wait for one for ever: the phase would hold its trials PENDING until the study's deadline. A
:class:`NodeWatch` asks Ray every few seconds whether a live node could host one trial; after
``wait_s`` seconds without one, the phase's stopper ends the phase (``study.tune.stopper``) and the
monitor records the trials still waiting as not placed (``study.tune.monitor``). One watch serves
every phase of a session: once it has waited ``wait_s``, a later phase does not wait again unless
a node that fits is back.
"""

from __future__ import annotations

import time
from typing import Any

__all__ = ["NODE_WAIT_S", "NodeWatch"]

NODE_WAIT_S = 300.0  # s a phase waits for a node that can host a trial (`study launch --node-wait`)
CHECK_EVERY_S = 2.0  # s between two questions to Ray (a GCS call)


def _describe(bundle: dict[str, float]) -> str:
    return " + ".join(f"{v:g} {k}" for k, v in bundle.items() if v > 0)


class NodeWatch:
    """Asked by the phase's stopper at every step of Tune's loop; answers from Ray every few seconds."""

    def __init__(self, bundle: dict[str, float], wait_s: float = NODE_WAIT_S) -> None:
        """``bundle``: one trial's resources, Ray's names (``{"CPU": 1, "GPU": 1}``)."""
        self.bundle = {k: float(v) for k, v in bundle.items() if v > 0}
        self.wait_s = wait_s
        self.gave_up: str | None = None  # why the watch stopped waiting (None: it has not)
        self._since: float | None = None  # monotonic time since when no live node fits
        self._last = 0.0
        self._stalled = False

    def __getstate__(self) -> dict[str, Any]:
        # pickled with the phase's experiment: times on this process's monotonic clock mean nothing to another
        return {**self.__dict__, "_since": None, "_last": 0.0, "_stalled": False}

    def fits(self, nodes: list[dict[str, Any]]) -> bool:
        """Whether one live node has, in all, the resources of one trial (``ray.nodes()``'s rows)."""
        return any(n.get("Alive") and all(float((n.get("Resources") or {}).get(k, 0.0)) >= v for k, v in self.bundle.items())
                   for n in nodes)

    def stalled(self) -> bool:
        """True once no live node could host a trial for ``wait_s`` (at once if an earlier phase gave up already)."""
        now = time.monotonic()
        if now - self._last >= CHECK_EVERY_S:
            self._last = now
            self._stalled = self._check(now)
        return self._stalled

    def _check(self, now: float) -> bool:
        import ray

        try:
            nodes = ray.nodes()
        except Exception:  # the GCS not answering is not a reason to end a phase
            return False
        if self.fits(nodes):
            self._since, self.gave_up = None, None
            return False
        self._since = self._since if self._since is not None else now
        if self.gave_up is None and now - self._since < self.wait_s:
            return False
        if self.gave_up is None:
            alive = sum(1 for n in nodes if n.get("Alive"))
            self.gave_up = (f"no live node has {_describe(self.bundle)} for a trial; {alive} node(s) left, "
                            f"waited {self.wait_s:.0f} s (--node-wait)")
        return True

