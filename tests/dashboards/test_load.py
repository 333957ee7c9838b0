"""A study folder, written with the study's own writers, read back into tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards import load_study
from study.common.errors import UsageError
from tests.dashboards.builders import tables, trial, with_optuna, write_folder


def _tab():
    search = [trial("train_trial_aaa", 0.6, params={"lr": 0.003, "mixup": False}, seed_recipe="baseline"),
              trial("train_trial_bbb", 0.4, outcome="pruned", params={"lr": 0.009, "mixup": True}, start=5, duration=3)]
    conf = [trial("train_trial_c_00000", 0.58, phase="confirm", label="baseline", start=50)]
    return with_optuna(tables(search + conf, summary={"study": "hand", "skipped_for_budget": 1}, log_params=("lr",)))


def test_round_trip(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "hand", _tab())
    got = load_study(folder)
    assert got.meta.name == "hand" and got.meta.phase == "done" and got.meta.confirm_share == 0.3
    assert got.meta.log_params == {"lr"} and got.meta.search_params == ("lr", "mixup")
    by = {t.name: t for t in got.trials}
    a, b, c = by["train_trial_aaa"], by["train_trial_bbb"], by["train_trial_c_00000"]
    assert (a.phase, a.outcome, a.seed_recipe, a.params) == ("search", "finished", "baseline", {"lr": 0.003, "mixup": False})
    assert a.objective == pytest.approx(0.6) and a.final["accuracy"] == pytest.approx(0.6) and len(a.epochs) == 3
    assert a.config["size"] == 32 and a.epochs[0].size == 32
    assert (b.outcome, len(b.epochs)) == ("pruned", 1)
    assert (c.phase, c.label) == ("confirm", "baseline")
    assert a.start == pytest.approx(1_800_000_000.0) and b.end == pytest.approx(1_800_000_008.0)
    assert [t.state for t in got.optuna] == ["COMPLETE", "PRUNED"] and got.optuna[0].params == {"lr": 0.003, "mixup": False}
    assert got.summary == {"study": "hand", "skipped_for_budget": 1} and got.notes == ()


def test_a_running_study_without_journal_or_summary(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "hand", _tab())
    for name in ("trials-search.jsonl", "trials-confirm.jsonl", "summary.json", "optuna.journal", "study.toml", "budget.json"):
        (folder / name).unlink()
    (folder / "study.json").write_text(json.dumps({"name": "hand", "phase": "search"}))
    with open(next((folder / "records").glob("*bbb.jsonl")), "a") as f:
        f.write('{"time": 1, "event": "epo')  # a line cut short by a crash
    got = load_study(folder)
    by = {t.name: t for t in got.trials}
    assert by["train_trial_aaa"].outcome == "finished"  # from the record's own end
    assert by["train_trial_bbb"].outcome == "pruned"
    assert got.summary is None and got.optuna == () and any("cut short" in n for n in got.notes)


def test_not_a_study_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no study.json"):
        load_study(tmp_path)
    with pytest.raises(UsageError, match="is not a folder"):
        load_study(tmp_path / "nowhere")
    (tmp_path / "study.json").write_text("[1, 2]")
    with pytest.raises(UsageError, match="no 'name'.*a study folder"):
        load_study(tmp_path)
