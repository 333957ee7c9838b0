"""A whole study: ``launch`` and ``resume``, the checks before anything expensive, the search,
confirmation and ablation phases as Tune runs, the Ray cluster, the study folder's ``study.json``,
and the end-of-study summary."""

from study.driver.cluster import ClusterRequest
from study.driver.launch import launch, resume
from study.driver.options import LaunchOptions

__all__ = ["ClusterRequest", "LaunchOptions", "launch", "resume"]
