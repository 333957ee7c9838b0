"""Shared fixtures.

``ray_session``: a real single-node Ray cluster started in-process, shared by the whole test
session. Ray removed ``local_mode`` in 2.54; a real ``ray.init(num_cpus=2)`` (about 3.5 s) is its
replacement here, so tests exercise the same scheduler, actors and object store as a launch.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Ray writes an auth token and session files under the home folder (Ray 2.59+) and Tune its
# results under ~/ray_results unless told otherwise: keep both inside a temp folder per session.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "false")


@pytest.fixture(scope="session")
def ray_session(tmp_path_factory: pytest.TempPathFactory):
    import logging

    import ray

    tmp = tmp_path_factory.mktemp("ray")
    os.environ["RAY_TMPDIR"] = str(Path("/tmp"))
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {"TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1"}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder (embedded set + decoded caches) for the whole session."""
    return tmp_path_factory.mktemp("data")
