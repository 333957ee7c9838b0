"""`study launch --address` joins an existing Ray cluster (a real `ray start --head`, in its own
process group) instead of starting one, and leaves it running; here with several objectives, so
the study ends with a Pareto front of accuracy against training time and inference cost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.study.helpers import free_port, write_study

pytestmark = pytest.mark.slow


@pytest.fixture
def ray_head(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}  # `ray status` needs the token
    exe = str(Path(sys.executable).with_name("ray"))
    temp = tempfile.mkdtemp(prefix="rh", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    proc = subprocess.Popen(
        [exe, "start", "--head", f"--port={port}", "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false",
         f"--temp-dir={temp}", "--block"],
        stdout=(tmp_path / "ray-head.log").open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        assert proc.poll() is None, (tmp_path / "ray-head.log").read_text()
        up = subprocess.run([exe, "status", f"--address={address}"], capture_output=True, env=env)
        if up.returncode == 0:
            break
        time.sleep(1)
    else:
        raise AssertionError("ray head did not come up:\n" + (tmp_path / "ray-head.log").read_text())
    yield address, proc
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    shutil.rmtree(temp, ignore_errors=True)


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
    up = subprocess.run([str(Path(sys.executable).with_name("ray")), "status", f"--address={address}"], capture_output=True,
                        env={**env, "RAY_AUTH_MODE": "token"})
    assert up.returncode == 0

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
