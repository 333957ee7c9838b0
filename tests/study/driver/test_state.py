"""``study.json``: what a study is, its phase, and the study file as launched."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from study.common.errors import UsageError
from study.common.folder import FORMAT, folder_tracking_uri, read_study, tracking_uri_of
from study.driver.state import save_new_study, saved_spec, update_record
from study.spec import apply_overrides, default_spec


def new_study(folder: Path, uri: str | None) -> None:
    spec = apply_overrides(default_spec(), name="s", seed=3, max_trials=5, time_budget=90.0, confirm_top=1, confirm_seeds=2)
    folder.mkdir(parents=True, exist_ok=True)
    save_new_study(folder, spec, "name = 's'\n", {"launch_id": "L", "parent_run_id": None, "options": {}}, tracking_uri=uri)


def test_the_folder_store_is_recorded_by_place_not_by_path(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "s"
    new_study(folder, folder_tracking_uri(folder))
    record = read_study(folder)
    assert record["format"] == FORMAT and record["phase"] == "starting"
    assert record["tracking_store"] == "folder" and record["tracking_uri"] is None
    moved = tmp_path / "b" / "s"
    folder.rename(tmp_path / "a" / "x")
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "x").rename(moved)
    assert tracking_uri_of(moved, read_study(moved)) == folder_tracking_uri(moved)


def test_an_external_tracking_uri_stays_as_given(tmp_path: Path) -> None:
    new_study(tmp_path, "http://mlflow.example:5000")
    record = read_study(tmp_path)
    assert record["tracking_store"] is None and tracking_uri_of(tmp_path, record) == "http://mlflow.example:5000"


def test_no_mlflow_has_no_tracking_uri(tmp_path: Path) -> None:
    new_study(tmp_path, None)
    assert tracking_uri_of(tmp_path, read_study(tmp_path)) is None


def test_update_keeps_what_it_does_not_change(tmp_path: Path) -> None:
    new_study(tmp_path, None)
    update_record(tmp_path, phase="search", parent_run_id="P")
    record = update_record(tmp_path, phase="confirm")
    assert record["phase"] == "confirm" and record["parent_run_id"] == "P" and record["launch_id"] == "L"
    assert json.loads((tmp_path / "study.json").read_text()) == record


def test_the_saved_study_file_comes_back_with_the_launch_flags(tmp_path: Path) -> None:
    new_study(tmp_path, None)
    (tmp_path / "study.toml").write_text((Path(__file__).parents[3] / "study" / "spec" / "default_space.toml").read_text())
    spec = saved_spec(tmp_path, read_study(tmp_path))
    assert (spec.name, spec.seed, spec.budget.time_s, spec.budget.max_trials) == ("s", 3, 90.0, 5)
    assert (spec.budget.confirm_top, spec.budget.confirm_seeds) == (1, 2)


@pytest.mark.parametrize("text", ["", "{", "[1, 2]", '{"phase": "search"}'])
def test_a_damaged_record_is_a_usage_error_naming_the_file(tmp_path: Path, text: str) -> None:
    (tmp_path / "study.json").write_text(text)
    with pytest.raises(UsageError, match=f"{tmp_path / 'study.json'}.*is {tmp_path} a study folder"):
        read_study(tmp_path)
