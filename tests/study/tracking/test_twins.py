"""A trial run whose creation timed out but was made (a slow tracking server) leaves no twin:
``drop_empty_twins`` deletes the trial's other runs that hold no metric, at the trial's end."""

from __future__ import annotations

from pathlib import Path

from study.tracking import TAG_TRIAL_KEY, client
from study.tracking.push import drop_empty_twins, find_trial_runs


def test_empty_twins_of_a_trial_run_are_deleted_and_nothing_else(tmp_path: Path) -> None:
    c = client(f"sqlite:///{tmp_path / 'mlflow.db'}")
    exp = c.create_experiment("twins", artifact_location=(tmp_path / "art").as_uri())
    orphan = c.create_run(exp, tags={TAG_TRIAL_KEY: "L/a"})  # made by a request whose answer was lost
    kept = c.create_run(exp, tags={TAG_TRIAL_KEY: "L/a"})
    c.log_metric(kept.info.run_id, "accuracy", 0.5, step=0)
    other = c.create_run(exp, tags={TAG_TRIAL_KEY: "L/b"})  # another trial's, empty: not a twin of L/a
    with_data = c.create_run(exp, tags={TAG_TRIAL_KEY: "L/a"})  # holds a metric: never deleted
    c.log_metric(with_data.info.run_id, "accuracy", 0.1, step=0)

    assert drop_empty_twins(c, exp, "L/a", keep=kept.info.run_id) == 1
    assert c.get_run(orphan.info.run_id).info.lifecycle_stage == "deleted"
    for run in (kept, other, with_data):
        assert c.get_run(run.info.run_id).info.lifecycle_stage == "active"
    assert set(find_trial_runs(c, exp)) == {"L/a", "L/b"}
    assert drop_empty_twins(c, exp, "L/a", keep=kept.info.run_id) == 0
