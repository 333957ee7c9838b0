"""study.analysis.failover: restarts split into failovers and retries, trials not placed, the text."""

from __future__ import annotations

from study.analysis.failover import NOT_PLACED, NodeEvents, TrialAttempts, node_events, node_label

A = {"node_id": "aaaaaaaa11", "node_ip": "10.0.0.1", "pid": 1}
B = {"node_id": "bbbbbbbb22", "node_ip": "10.0.0.2", "pid": 2}


def _at(node: dict, epoch: int, ms: int, pid: int | None = None) -> dict:
    return {**node, "from_epoch": epoch, "time": ms, **({"pid": pid} if pid else {})}


def test_a_trial_on_another_node_is_a_failover_and_one_on_the_same_node_a_retry() -> None:
    events = node_events([
        TrialAttempts("moved", "search", (_at(A, 0, 10), _at(B, 3, 50)), "finished"),
        TrialAttempts("again", "confirm", (_at(A, 0, 20), _at(A, 2, 40, pid=9)), "finished"),
        TrialAttempts("calm", "search", (_at(B, 0, 5),), "finished"),
    ])
    assert [(r.trial, r.from_node, r.to_node, r.resumed_after_epoch, r.moved) for r in events.failovers] == [
        ("moved", "10.0.0.1 (node aaaaaaaa)", "10.0.0.2 (node bbbbbbbb)", 3, True)]
    assert [(r.trial, r.phase, r.resumed_after_epoch, r.moved) for r in events.retries] == [("again", "confirm", 2, False)]
    assert events.not_placed == ()
    lines = events.lines()
    assert lines[0] == "1 trial(s) failed over to another node when theirs was lost:"
    assert lines[1] == "    moved (search): from 10.0.0.1 (node aaaaaaaa) to 10.0.0.2 (node bbbbbbbb), resumed after epoch 3"
    assert "again (resumed after epoch 2)" in lines[2]


def test_two_failovers_of_one_trial_come_in_time_order_and_a_restart_without_checkpoint_says_so() -> None:
    events = node_events([TrialAttempts("t", "search", (_at(A, 0, 1), _at(B, 0, 9), _at(A, 4, 30)))])
    assert [(r.from_node[:8], r.to_node[:8], r.resumed_after_epoch, r.at_ms) for r in events.failovers] == [
        ("10.0.0.1", "10.0.0.2", 0, 9), ("10.0.0.2", "10.0.0.1", 4, 30)]
    assert "started over (no checkpoint yet)" in events.lines()[1]


def test_trials_not_placed_are_read_from_the_journal_error_and_round_trip() -> None:
    reason = "no live node has 1 CPU + 1 GPU for a trial; 1 node(s) left, waited 5 s (--node-wait)"
    events = node_events([
        TrialAttempts("lost", "search", (_at(A, 0, 1),), "failed", NOT_PLACED + reason),
        TrialAttempts("broken", "search", (_at(A, 0, 1),), "failed", "ValueError: bad"),
        TrialAttempts("never", "confirm", (), "failed", NOT_PLACED + reason),
    ])
    assert events.not_placed == ("lost", "never") and events.not_placed_reason == reason
    assert events.lines() == [f"2 trial(s) could not be placed ({reason}): lost, never"]
    assert NodeEvents.from_dict(events.to_dict()) == events
    assert NodeEvents().lines() == [] and NodeEvents.from_dict({}) == NodeEvents()


def test_a_node_is_named_by_its_address_and_its_short_id() -> None:
    assert node_label(A) == "10.0.0.1 (node aaaaaaaa)"
    assert node_label({"host": "gpu7"}) == "gpu7"
