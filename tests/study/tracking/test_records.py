"""A trial's record in the study folder: whole lines only, the first value of an epoch, the last end."""

from __future__ import annotations

import json
from pathlib import Path

from study.tracking.records import TrialRecord, read_record, read_records, record_end, records_dir, safe_name, trial_key


def test_a_retried_trial_appends_to_its_record_and_a_cut_line_is_skipped(tmp_path: Path) -> None:
    folder = records_dir(tmp_path)
    key = trial_key("launch1", "abc_00001")
    first = TrialRecord(folder, key)
    first.write({"event": "open", "trial_key": key, "run_name": "t1", "kind": "trial"})
    first.write({"event": "epoch", "step": 0, "metrics": {"accuracy": 0.25}})
    first.add_artifact("config.json", '{"lr": 0.01}')
    path = folder / f"{safe_name(key)}.jsonl"
    with open(path, "ab") as f:
        f.write(b'{"time": 5, "event": "epoch", "step": 1, "metrics": {"accu')  # killed mid-write

    retry = TrialRecord(folder, key)  # the next attempt reads what the first one left
    assert sorted(retry.state.epochs) == [0] and retry.state.bad_lines == 1
    retry.write({"event": "epoch", "step": 0, "metrics": {"accuracy": 0.99}})  # already there: the first value stays
    retry.write({"event": "epoch", "step": 1, "metrics": {"accuracy": 0.5}})
    retry.write({"event": "end", "status": "FINISHED", "outcome": "finished"})
    record_end(tmp_path, key, "KILLED", "budget", "stopped")  # a later verdict wins

    state = read_record(path)
    assert state.trial_key == key and state.run_name == "t1"
    assert state.epochs == {0: {"accuracy": 0.25}, 1: {"accuracy": 0.5}}
    assert state.end == {"status": "KILLED", "outcome": "budget", "error": "stopped"}
    assert state.artifacts == {"config.json": folder / safe_name(key) / "config.json"}
    assert json.loads(state.artifacts["config.json"].read_text()) == {"lr": 0.01}
    assert [s.trial_key for s in read_records(tmp_path)] == [key]


def test_record_end_without_a_record_does_nothing(tmp_path: Path) -> None:
    record_end(tmp_path, "L/none", "KILLED", "pruned")
    record_end(None, "L/none", "KILLED", "pruned")
    assert not records_dir(tmp_path).exists()


def test_safe_names() -> None:
    assert safe_name("0b88ee2c5067/train_trial_1a2b") == "0b88ee2c5067--train_trial_1a2b"
    assert safe_name("a/../b c") == "a--..--b_c"  # never a path separator
