"""Fixtures for study tests: a small generated data set and a real `mlflow server`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.study.helpers import MlflowServer


@pytest.fixture(scope="session")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The embedded set's generator at a tenth of the size: trials of a few seconds."""
    from trainable.data import ensure_embedded

    return ensure_embedded(tmp_path_factory.mktemp("small"), seed=0, train_per_class=16, valid_per_class=8)


@pytest.fixture
def mlflow_server(tmp_path: Path):
    server = MlflowServer(tmp_path / "mlflow-server")
    server.folder.mkdir()
    server.start()
    yield server
    server.stop()
