"""What a study's trials went through on a cluster: which restarted on another node after theirs
was lost (from which node, from which epoch), which restarted on the same node, and which could
not be placed again because no node left could host them.

One pure function, :func:`node_events`, of what the study folder recorded: each trial record's
``attempt`` events (the node an attempt ran on and the epochs its checkpoint held, written by
``study.tune.reporting``) and the driver's verdict in the phase journals (a trial that could not be
placed is ``failed`` with an error starting with :data:`NOT_PLACED`). ``summary.json``, the
end-of-study text and the dashboard's timeline all read it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

__all__ = ["NOT_PLACED", "NodeEvents", "Restart", "TrialAttempts", "node_events", "node_label"]

NOT_PLACED = "could not be placed: "  # the start of a journal's error for a trial no node left could host


@dataclass(frozen=True)
class TrialAttempts:
    """One trial as recorded: its name, phase, the attempts of its record, and the driver's verdict."""

    name: str
    phase: str  # search | confirm | ablation
    attempts: Sequence[Mapping[str, Any]] = ()  # each: node_id, node_ip, host, pid, from_epoch, time (ms)
    outcome: str | None = None  # the journal's: finished | pruned | budget | failed (None: not ended)
    error: str | None = None


@dataclass(frozen=True)
class Restart:
    """A trial's attempt that continued an earlier one (after its worker or its node was lost)."""

    trial: str
    phase: str
    from_node: str  # "IP (node 1a2b3c4d)": where the attempt before ran
    to_node: str  # where this attempt ran
    moved: bool  # on another node: a failover
    resumed_after_epoch: int  # epochs its checkpoint held: it went on with the next one (0: started over)
    at_ms: int  # when this attempt began (ms since the Unix epoch)


@dataclass(frozen=True)
class NodeEvents:
    failovers: tuple[Restart, ...] = ()  # restarted on another node
    retries: tuple[Restart, ...] = ()  # restarted on the same node (its worker died, not the node)
    not_placed: tuple[str, ...] = ()  # trials no node left could host (their node lost for good)
    not_placed_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"failovers": [asdict(r) for r in self.failovers], "retries": [asdict(r) for r in self.retries],
                "not_placed": list(self.not_placed), "not_placed_reason": self.not_placed_reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeEvents:
        return cls(tuple(Restart(**r) for r in data.get("failovers") or ()), tuple(Restart(**r) for r in data.get("retries") or ()),
                   tuple(data.get("not_placed") or ()), data.get("not_placed_reason"))

    def lines(self) -> list[str]:
        """The end-of-study text's lines (none when nothing happened)."""
        out = []
        if self.failovers:
            out.append(f"{len(self.failovers)} trial(s) failed over to another node when theirs was lost:")
            out += [f"    {r.trial} ({r.phase}): from {r.from_node} to {r.to_node}, " + _resumed(r) for r in self.failovers]
        if self.retries:
            out.append(f"{len(self.retries)} trial(s) restarted on the same node after their worker stopped: "
                       + ", ".join(f"{r.trial} ({_resumed(r)})" for r in self.retries))
        if self.not_placed:
            out.append(f"{len(self.not_placed)} trial(s) could not be placed ({self.not_placed_reason}): " + ", ".join(self.not_placed))
        return out


def _resumed(r: Restart) -> str:
    return f"resumed after epoch {r.resumed_after_epoch}" if r.resumed_after_epoch else "started over (no checkpoint yet)"


def node_label(attempt: Mapping[str, Any]) -> str:
    """``IP (node 1a2b3c4d)``: the address a user knows the machine by, and Ray's node id (two nodes may share a machine)."""
    where = str(attempt.get("node_ip") or attempt.get("host") or "?")
    node = str(attempt.get("node_id") or "")
    return f"{where} (node {node[:8]})" if node else where


def node_events(trials: Iterable[TrialAttempts]) -> NodeEvents:
    """Every restart of every trial, in time order, split into failovers (another node) and retries
    (the same node); and the trials that could not be placed. A trial's attempts are in its record in
    the order they began."""
    failovers: list[Restart] = []
    retries: list[Restart] = []
    not_placed: list[str] = []
    reason = None
    for t in trials:
        for before, after in zip(t.attempts, t.attempts[1:]):
            moved = (before.get("node_id"), before.get("node_ip")) != (after.get("node_id"), after.get("node_ip"))
            r = Restart(t.name, t.phase, node_label(before), node_label(after), moved, int(after.get("from_epoch") or 0),
                        int(after.get("time") or 0))
            (failovers if moved else retries).append(r)
        if t.outcome == "failed" and (t.error or "").startswith(NOT_PLACED):
            not_placed.append(t.name)
            reason = reason or (t.error or "")[len(NOT_PLACED):].strip() or None
    return NodeEvents(tuple(sorted(failovers, key=lambda r: r.at_ms)), tuple(sorted(retries, key=lambda r: r.at_ms)),
                      tuple(not_placed), reason)
