"""study.tune.placement.NodeWatch: whether a live node could host a trial, from ray.nodes()'s rows."""

from __future__ import annotations

import pickle

from study.tune.placement import NodeWatch


def _node(alive: bool, **resources: float) -> dict:
    return {"Alive": alive, "Resources": resources}


def test_a_trial_fits_only_on_one_live_node_with_all_of_its_resources() -> None:
    watch = NodeWatch({"CPU": 1.0, "GPU": 1.0, "unused": 0.0})
    assert watch.fits([_node(True, CPU=1.0, GPU=1.0)])
    assert not watch.fits([_node(False, CPU=8.0, GPU=8.0), _node(True, CPU=4.0)]), "the GPU node is dead"
    assert not watch.fits([_node(True, CPU=4.0), _node(True, GPU=4.0)]), "one node must have both"
    assert NodeWatch({"CPU": 2.0}).fits([_node(True, CPU=2.0, GPU=0.0)])


def test_a_pickled_watch_forgets_this_process_clock_but_keeps_why_it_gave_up() -> None:
    watch = NodeWatch({"CPU": 1.0}, wait_s=5)
    watch.gave_up, watch._since, watch._last, watch._stalled = "gone", 123.0, 456.0, True
    back = pickle.loads(pickle.dumps(watch))
    assert (back.gave_up, back._since, back._last, back._stalled, back.wait_s) == ("gone", None, 0.0, False, 5)
