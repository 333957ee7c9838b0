"""A real tiny study (real Ray, real trials, SQLite MLflow and Optuna in its folder), shared by
the dashboard tests that need one: about two minutes on two cores, once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_study(ray_session, small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from study.driver.launch import LaunchOptions, launch
    from tests.study.helpers import write_study

    root = tmp_path_factory.mktemp("dashboard-study")
    spec = write_study(root / "spec", small_data, name="dash", budget="120s", max_trials=5)
    launch(LaunchOptions(space=str(spec), root=str(root / "studies"), status_every_s=1e9))
    return root / "studies" / "dash"
