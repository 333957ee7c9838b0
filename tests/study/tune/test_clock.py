"""The study's clock across sessions: a resumed study does not get its budget back."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

import study.tune.clock as clock_module
from study.tune.clock import BudgetClock, Deadline, begin_session, spent_seconds


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime(1_000_000.0)
    monkeypatch.setattr(clock_module.time, "time", fake)
    return fake


def test_a_new_study_starts_at_zero_and_counts_wall_time(tmp_path: Path, now: FakeTime) -> None:
    clock = begin_session(tmp_path, 600.0, new_study=True)
    assert clock.spent_before() == 0.0 and clock.started() == now.now
    now.now += 42.0
    assert clock.spent() == pytest.approx(42.0) and clock.left() == pytest.approx(558.0)
    clock.save()
    assert spent_seconds(tmp_path) == pytest.approx(42.0)


def test_a_second_session_continues_from_what_the_first_spent(tmp_path: Path, now: FakeTime) -> None:
    first = begin_session(tmp_path, 600.0, new_study=True)
    now.now += 100.0
    first.save()  # the driver saves every few seconds; then it is killed
    now.now += 3600.0  # an hour passes before `study resume`: not counted
    second = begin_session(tmp_path, 600.0)
    assert second.spent_before() == pytest.approx(100.0)
    assert second.spent() == pytest.approx(100.0)
    assert second.started() == pytest.approx(now.now - 100.0)
    now.now += 50.0
    assert second.spent() == pytest.approx(150.0) and second.left() == pytest.approx(450.0)


def test_a_deadline_pickled_in_session_one_holds_in_session_two(tmp_path: Path, now: FakeTime) -> None:
    clock = begin_session(tmp_path, 600.0, new_study=True)
    deadline = Deadline(clock, 480.0)  # the search's share of the budget
    assert deadline.time() == pytest.approx(now.now + 480.0)
    saved = pickle.dumps(deadline)  # as Tune saves the searcher and stopper with the experiment
    now.now += 200.0
    clock.save()
    now.now += 1000.0  # the study sat interrupted
    begin_session(tmp_path, 600.0)
    restored = pickle.loads(saved)
    assert restored.time() == pytest.approx(now.now + 280.0), "280 s of the search's share are left"
    again = Deadline.from_dict(restored.to_dict())  # as a trial gets it in its config
    assert again.time() == pytest.approx(restored.time())


def test_a_study_that_never_started_has_spent_nothing(tmp_path: Path) -> None:
    assert spent_seconds(tmp_path) == 0.0


def test_the_clock_is_plain_data_naming_the_file(tmp_path: Path, now: FakeTime) -> None:
    clock = begin_session(tmp_path, 60.0, new_study=True)
    assert clock == BudgetClock(str(tmp_path / "budget.json"), 60.0)
