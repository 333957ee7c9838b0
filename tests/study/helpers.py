"""Helpers for study tests: study files, a real `mlflow server` on loopback (``study.testing.servers``),
real Ray nodes started with `ray start`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from study.testing.servers import MlflowServer, free_port

__all__ = ["EVERY_EPOCH", "MlflowServer", "active_nodes", "free_port", "kill_node", "ray_is_up", "start_ray_head", "start_ray_worker",
           "stop_ray_head", "write_study"]


EVERY_EPOCH = "checkpoint_every_s = 0\n"  # [base]: a checkpoint after every epoch (fault tests strike after epoch 1)


def write_study(folder: Path, data: Path, *, name: str = "t", extra: str = "", budget: str = "150s",
                max_trials: int = 4, search: str | None = None, base: str = "") -> Path:
    """A study file of the tiny preset on ``data``: ``base`` adds lines to [base], ``extra`` whole tables."""
    folder.mkdir(parents=True, exist_ok=True)
    search = search if search is not None else (
        'lr = { float = [1e-3, 1e-2], log = true }\n'
        'mixup = { choice = [false, true] }\n'
        'label_smoothing = { float = [0.0, 0.2] }\n'
        'tta_n = { int = [0, 2] }\n'
    )
    text = f"""
name = "{name}"
seed = 0
[base]
preset = "tiny"
data = "{data}"
data_dir = "{folder / 'cache'}"
epochs = 3
batch_size = 16
{base}
[budget]
time = "{budget}"
max_trials = {max_trials}
confirm_share = 0.3
confirm_top = 1
confirm_seeds = 2
[early_stopping]
scheduler = "asha"
grace_period = 1
reduction_factor = 2
{extra}
[search]
{search}
"""
    path = folder / "study.toml"
    path.write_text(text)
    return path


def start_ray_head(folder: Path, *, cpus: int = 2, gpus: int = 0, timeout: float = 90.0, ip: str | None = None,
                   env: dict[str, str] | None = None) -> tuple[str, subprocess.Popen, str]:
    """A real `ray start --head --block` in its own process group; (address, process, temp dir).

    Ray >= 2.59 clusters require their auth token; `ray status` below sends it (token mode).
    ``ip``: the node's address, a loopback one other than 127.0.0.1 (Ray replaces 127.0.0.1 by the
    machine's own address, so a cluster of several nodes stays on loopback only with 127.0.0.2, ...);
    ``env``: more variables for the node and the workers it starts.
    """
    import shutil
    import tempfile

    port = free_port()
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", **(env or {})}
    exe = str(Path(sys.executable).with_name("ray"))
    temp = tempfile.mkdtemp(prefix="rh", dir="/tmp")  # Ray's socket paths must stay under 108 bytes
    log = folder / "ray-head.log"
    proc = subprocess.Popen(
        [exe, "start", "--head", f"--port={port}", f"--num-cpus={cpus}", f"--num-gpus={gpus}", "--include-dashboard=false",
         f"--temp-dir={temp}", "--block", *([f"--node-ip-address={ip}"] if ip else [])],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    address = f"{ip or '127.0.0.1'}:{port}"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            shutil.rmtree(temp, ignore_errors=True)
            raise RuntimeError("ray head exited:\n" + log.read_text())
        if ray_is_up(address):
            return address, proc, temp
        time.sleep(1)
    stop_ray_head((address, proc, temp))
    raise RuntimeError("ray head did not come up:\n" + log.read_text())


def ray_is_up(address: str) -> bool:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    exe = str(Path(sys.executable).with_name("ray"))
    return subprocess.run([exe, "status", f"--address={address}"], capture_output=True, env=env).returncode == 0


def stop_ray_head(head: tuple[str, subprocess.Popen, str]) -> None:
    import shutil

    _, proc, temp = head
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:  # `ray start --block` can take half a minute to stop its children
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    shutil.rmtree(temp, ignore_errors=True)


def start_ray_worker(address: str, folder: Path, *, ip: str, cpus: int, gpus: int = 0, env: dict[str, str] | None = None,
                     timeout: float = 90.0) -> subprocess.Popen:
    """A further node (its own raylet) joining the cluster at ``address``: `ray start --address --block`
    in its own process group, on the loopback address ``ip``; returns once the cluster counts one more live node."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", **(env or {})}
    exe = str(Path(sys.executable).with_name("ray"))
    log = folder / f"ray-worker-{ip}.log"
    before = active_nodes(address)
    proc = subprocess.Popen(
        [exe, "start", f"--address={address}", f"--node-ip-address={ip}", f"--num-cpus={cpus}", f"--num-gpus={gpus}", "--block"],
        stdout=log.open("w"), stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"ray worker node {ip} exited:\n" + log.read_text())
        if active_nodes(address) > before:
            return proc
        time.sleep(1)
    kill_node(proc)
    raise RuntimeError(f"ray worker node {ip} did not join:\n" + log.read_text())


def active_nodes(address: str) -> int:
    """How many live nodes `ray status` (token mode) counts in the cluster (0 when it does not answer)."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token"}
    exe = str(Path(sys.executable).with_name("ray"))
    out = subprocess.run([exe, "status", f"--address={address}"], capture_output=True, text=True, env=env).stdout
    active = out.split("Active:", 1)[-1].split("Pending:", 1)[0] if "Active:" in out else ""
    return sum(1 for line in active.splitlines() if "node_" in line)


def kill_node(proc: subprocess.Popen) -> list[int]:
    """SIGKILL a node started by `ray start --block`: the command, its raylet and every process under it
    (Ray workers run in sessions of their own, so its process group alone would leave them); their pids."""
    import psutil

    try:
        root = psutil.Process(proc.pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []
    for p in procs:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    psutil.wait_procs(procs, timeout=10)
    return [p.pid for p in procs]
