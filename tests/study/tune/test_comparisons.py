"""The confirmation's searcher: the baseline's run of a seed first, seed by seed; no more seeds for a
settled comparison; none started that would not finish; its pairs read as the driver reads them."""

from __future__ import annotations

from pathlib import Path

from ray.tune.search import Searcher

from study.analysis.sequential import plan_looks
from study.tune.clock import Deadline, begin_session
from study.tune.comparisons import Arm, ComparisonSearch, Job, pairs_of
from study.tune.reporting import FINISHED_KEY


def _searcher(tmp_path: Path, *, seconds: float = 1.0, budget_s: float = 1000.0, effect: dict | None = None) -> ComparisonSearch:
    clock = begin_session(tmp_path, budget_s, new_study=True)
    arms = [Arm("baseline", "baseline", "accuracy", {0: 0.5}), Arm("tta", "baseline", "accuracy_tta", {0: 0.55}),
            Arm("mixup", "mixup", "objective", {0: 0.6}), Arm("top", "top", "objective", {})]
    jobs = {name: Job(name, {"lr": 0.003}, name, seconds) for name in ("baseline", "mixup", "top")}
    return ComparisonSearch(arms, jobs, [1000 + k for k in range(12)], plan_looks(3, 5, 0.95), Deadline(clock, budget_s), slots=2)


def _run(s: ComparisonSearch, value: dict[str, float], steps: int = 100) -> list[tuple[str, int]]:
    """Drive the searcher as Tune does, each run finishing at once with ``value[job]`` (+ a little seed noise)."""
    order = []
    for i in range(steps):
        got = s.suggest(f"t{i}")
        if got == Searcher.FINISHED or got is None:
            break
        job = got["job"]
        seed = job["trial"]["seed"]
        order.append((job["label"], seed))
        noise = 0.002 * ((seed * 7919) % 5 - 2) + (0.003 * ((seed * 104729) % 3 - 1) if job["label"] == "mixup" else 0.0)
        v = value[job["label"]] + noise
        tta = v + 0.05 + 0.001 * ((seed * 31) % 3 - 1)
        s.on_trial_complete(f"t{i}", {FINISHED_KEY: True, "objective": tta if job["label"] == "baseline" else v,
                                       "accuracy": v, "accuracy_tta": tta})
    return order


def test_seed_by_seed_with_the_baseline_first_until_every_comparison_is_settled(tmp_path: Path) -> None:
    s = _searcher(tmp_path)
    order = _run(s, {"baseline": 0.5, "mixup": 0.6, "top": 0.5})
    seeds = [seed for _, seed in order]
    assert seeds == sorted(seeds)  # seed-major
    for seed in set(seeds):
        assert [j for j, sd in order if sd == seed][0] == "baseline"  # the baseline's run of a seed comes first
    diffs = s.diffs()
    assert len(diffs["tta"]) >= 3 and len(diffs["mixup"]) >= 3  # the first look's pairs, the search's run counted
    assert s.suggest("last") == Searcher.FINISHED  # every comparison settled: nothing more to run
    from study.analysis.sequential import decide

    verdicts = {arm: d.verdict for arm, d in decide(diffs, s.plan).items()}
    assert verdicts == {"tta": "helped", "mixup": "helped", "top": "no difference shown"}
    assert ("top", 1000) in order and len(diffs["top"]) == 3  # fresh seeds only; equal to the baseline on all: settled at its first look


def test_no_run_starts_that_would_not_finish(tmp_path: Path) -> None:
    s = _searcher(tmp_path, seconds=50.0, budget_s=30.0)
    assert s.suggest("t0") == Searcher.FINISHED
    assert set(s.state.values()) == {"skipped"}


def test_pairs_skip_a_failed_seed_and_stop_at_a_pending_one() -> None:
    base, arm = Arm("baseline", "baseline", "accuracy", {0: 0.5}), Arm("a", "a", "objective", {0: 0.6})
    values = {("baseline", 1): 0.5, ("a", 1): 0.7, ("baseline", 2): 0.5, ("baseline", 3): 0.5, ("a", 3): 0.8}
    state = {("a", 2): "failed", ("baseline", 4): "running"}

    def value(job: str, key: str, seed: int) -> float | None:
        return values.get((job, seed))

    def pending(job: str, seed: int) -> bool:
        return state.get((job, seed), "running" if (job, seed) not in values else "done") == "running"

    got = pairs_of(arm, base, [1, 2, 3, 4, 5], value, pending)
    assert [s for s, _ in got] == [0, 1, 3] and [round(d, 6) for _, d in got] == [0.1, 0.2, 0.3]
