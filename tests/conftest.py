"""Shared fixtures.

``ray_session``: a real single-node Ray cluster started in-process, shared by the whole test
session. Ray removed ``local_mode`` in 2.54; a real ``ray.init(num_cpus=2)`` (about 3.5 s) is its
replacement here, so tests exercise the same scheduler, actors and object store as a launch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from study.testing.servers import ray_token_env
from tests.study.helpers import MlflowServer

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# The session's own Ray auth token, before anything imports ray: the `ray start` clusters the tests
# start need one, and a fresh machine has none until some `ray.init` writes ~/.ray/auth_token.
_TOKEN_DIR = tempfile.mkdtemp(prefix="xs-ray-token-")
os.environ.update(ray_token_env(Path(_TOKEN_DIR)))


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_TOKEN_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_session():
    import logging

    import ray

    from study.driver.cluster import quiet_ray

    quiet_ray()  # before init: the workers inherit these settings
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


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
