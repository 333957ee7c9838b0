"""One trial per GPU by default, fractional GPUs when asked — with Ray's own GPU accounting.

This machine has no GPU, so the cluster is a real `ray start --head` that declares four
(`--num-gpus 4`): Ray schedules trials on them and sets each trial's CUDA_VISIBLE_DEVICES exactly
as on a GPU box. The trials are the benchmark trainable (it sleeps instead of training, so it needs
no CUDA) and say in their final report which GPU Ray gave them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from study.testing.faults import TRAINABLE_ENV
from tests.study.helpers import start_ray_head, stop_ray_head, write_study

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def four_gpu_cluster(tmp_path_factory: pytest.TempPathFactory):
    head = start_ray_head(tmp_path_factory.mktemp("head"), cpus=8, gpus=4)
    yield head[0]
    stop_ray_head(head)


def _launch(address: str, spec: Path, root: Path, gpus_per_trial: float | None) -> str:
    code = (
        "from study.driver.launch import LaunchOptions, launch\n"
        f"launch(LaunchOptions(space={str(spec)!r}, root={str(root)!r}, address={address!r}, no_mlflow=True,\n"
        f"       gpus_per_trial={gpus_per_trial!r}, confirm_top=0))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RAY_AUTH_MODE"}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    env[TRAINABLE_ENV] = "study.testing.stand_in:sleep_trial"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _gpus_of_trials(study: Path) -> list[str]:
    rows = [json.loads(line) for line in (study / "trials-search.jsonl").read_text().splitlines()]
    return [r["result"]["gpus"] for r in rows if r["outcome"] == "finished"]


@pytest.mark.parametrize("gpus_per_trial, slots", [(None, 4), (0.5, 8)], ids=["one-per-gpu", "half-gpu"])
def test_trials_get_their_gpus_from_ray(four_gpu_cluster: str, small_data: Path, tmp_path: Path,
                                        gpus_per_trial: float | None, slots: int) -> None:
    spec = write_study(tmp_path / "spec", small_data, name="gpus", max_trials=12, budget="120s")
    spec.write_text(spec.read_text().replace('scheduler = "asha"', 'scheduler = "none"'))  # every trial runs to its end
    out = _launch(four_gpu_cluster, spec, tmp_path / "studies", gpus_per_trial)
    share = 1 if gpus_per_trial is None else gpus_per_trial
    assert f"ray: 8 CPUs, 4 GPUs; {slots} trial(s) at once, {8 // slots} CPU + {share:g} GPU each" in out
    gpus = _gpus_of_trials(tmp_path / "studies" / "gpus")
    assert len(gpus) >= slots
    assert all(g in {"0", "1", "2", "3"} for g in gpus), gpus  # each trial sees exactly one GPU
    # The first `slots` trials start together: they are spread over all four GPUs.
    assert set(gpus) == {"0", "1", "2", "3"}, gpus
