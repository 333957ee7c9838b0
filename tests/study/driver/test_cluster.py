"""`study launch --address` joins an existing Ray cluster (a real `ray start --head`, in its own
process group) instead of starting one, and leaves it running; here with several objectives, so
the study ends with a Pareto front of accuracy against training time and inference cost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.study.helpers import ray_is_up, start_ray_head, stop_ray_head, write_study

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_head(tmp_path: Path):
    head = start_ray_head(tmp_path)
    yield head[0], head[1]
    stop_ray_head(head)


def test_launch_joins_an_existing_cluster_and_leaves_it_running(ray_head, small_data: Path, tmp_path: Path) -> None:
    address, head = ray_head
    spec = write_study(tmp_path / "spec", small_data, name="on-cluster", max_trials=3,
                       extra='[objective]\nmetrics = ["accuracy", "train_seconds", "infer_ms_per_image"]\n')
    text = spec.read_text().replace("confirm_top = 1", "confirm_top = 0")
    spec.write_text(text)
    root = tmp_path / "studies"
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}  # as a user has it: study finds the token
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    done = subprocess.run([str(Path(sys.executable).with_name("study")), "launch", "--space", str(spec), "--root", str(root),
                           "--address", address], capture_output=True, text=True, env=env, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ray: 2 CPUs, 0 GPUs; 2 trial(s) at once" in done.stdout
    assert head.poll() is None, "the study must not stop a cluster it did not start"
    assert ray_is_up(address)

    summary = json.loads((root / "on-cluster" / "summary.json").read_text())
    assert summary["counts"]["finished"] >= 1
    front = summary["pareto_front"]
    assert front, "several objectives give a Pareto front"
    for row in front:
        assert set(row) == {"trial", "accuracy", "train_seconds", "infer_ms_per_image"}
    # No row of the front is dominated by another finished trial on all three objectives.
    for a in front:
        for b in front:
            if a is not b:
                assert not (b["accuracy"] >= a["accuracy"] and b["train_seconds"] <= a["train_seconds"]
                            and b["infer_ms_per_image"] <= a["infer_ms_per_image"] and b != a)
