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


def _trials(study: Path) -> list[dict]:
    """Finished trials of the search: the GPU(s) Ray gave each, and when each ran (the stand-in's own clock)."""
    rows = [json.loads(line) for line in (study / "trials-search.jsonl").read_text().splitlines()]
    return [{"gpus": r["result"]["gpus"], "start": r["result"]["started_at"], "end": r["result"]["ended_at"]}
            for r in rows if r["outcome"] == "finished"]


def _most_at_once(trials: list[dict]) -> int:
    """The most trials whose runs overlapped at one moment."""
    return max(sum(1 for u in trials if u["start"] <= t["start"] < u["end"]) for t in trials)


@pytest.mark.parametrize("gpus_per_trial, slots", [(None, 4), (0.5, 8)], ids=["one-per-gpu", "half-gpu"])
def test_trials_get_their_gpus_from_ray(four_gpu_cluster: str, small_data: Path, tmp_path: Path,
                                        gpus_per_trial: float | None, slots: int) -> None:
    spec = write_study(tmp_path / "spec", small_data, name="gpus", max_trials=12, budget="120s")
    spec.write_text(spec.read_text().replace('scheduler = "asha"', 'scheduler = "none"'))  # every trial runs to its end
    out = _launch(four_gpu_cluster, spec, tmp_path / "studies", gpus_per_trial)
    share = 1 if gpus_per_trial is None else gpus_per_trial
    assert f"ray: 8 CPUs, 4 GPUs; {slots} trial(s) at once, {8 // slots} CPU + {share:g} GPU each" in out
    trials = _trials(tmp_path / "studies" / "gpus")
    assert len(trials) >= slots
    gpus = [t["gpus"] for t in trials]
    assert all(g in {"0", "1", "2", "3"} for g in gpus), gpus  # each trial sees exactly one GPU
    # How many trials overlap depends on how fast this machine starts Ray actors (a 0.5 s trial may end
    # before the next one starts), so the test asks what Ray must guarantee whatever the overlap: trials
    # that ran at the same moment never held more of one GPU than it has.
    assert _most_at_once(trials) >= 2, trials  # trials did run side by side, so the check below checks something
    per_gpu = 1 if gpus_per_trial is None else round(1 / gpus_per_trial)
    for t in trials:
        sharing = [u["gpus"] for u in trials if u["start"] <= t["start"] < u["end"]]
        assert sharing.count(t["gpus"]) <= per_gpu, (t, trials)
    assert len(set(gpus)) >= 2, gpus  # Ray spread side-by-side trials over GPUs
