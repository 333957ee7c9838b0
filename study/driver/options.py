"""What ``study launch`` was asked (its flags), as one frozen value saved in ``study.json``."""

from __future__ import annotations

from dataclasses import dataclass

from study.driver.cluster import ClusterRequest

__all__ = ["LaunchOptions"]


@dataclass(frozen=True)
class LaunchOptions:
    space: str | None = None  # study file; None = the built-in chapter-7 space
    name: str | None = None
    seed: int | None = None
    time_budget: str | None = None
    max_trials: int | None = None
    gpus: int | None = None  # GPUs to use on this machine (None: all that are there)
    cpus: int | None = None  # CPUs to use on this machine (None: all)
    cpus_per_trial: float | None = None
    gpus_per_trial: float | None = None
    address: str | None = None  # join an existing Ray cluster
    root: str = "studies"  # parent folder of study folders
    tracking_uri: str | None = None
    no_mlflow: bool = False
    confirm_top: int | None = None
    confirm_seeds: int | None = None
    data_dir: str | None = None
    status_every_s: float = 10.0
    node_wait: str | None = None  # how long a phase waits for a node that can host a trial (None: 5 minutes)

    def node_wait_s(self) -> float:
        from study.spec import parse_duration
        from study.tune.placement import NODE_WAIT_S

        return parse_duration(self.node_wait) if self.node_wait is not None else NODE_WAIT_S

    def cluster(self) -> ClusterRequest:
        return ClusterRequest(address=self.address, cpus=self.cpus, gpus=self.gpus, cpus_per_trial=self.cpus_per_trial,
                              gpus_per_trial=self.gpus_per_trial)
