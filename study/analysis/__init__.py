"""The study's numbers, as pure functions of what the study recorded: confirmation maths and plan
(:mod:`~study.analysis.confirm`), t-tests and Holm's correction (:mod:`~study.analysis.verdict`),
the ablation (:mod:`~study.analysis.ablation`), the Pareto front (:mod:`~study.analysis.pareto`),
where the slot time went (:mod:`~study.analysis.time_share`) and the parent run's headline numbers
(:mod:`~study.analysis.headline`). The dashboards read these."""

from study.analysis.ablation import Contribution, Variant, contributions, variants
from study.analysis.confirm import ConfigSummary, CostModel, Verdict, group_runs, runs_that_fit, top_configs, verdict
from study.analysis.pareto import pareto_front
from study.analysis.time_share import TimeShare, time_share
from study.analysis.verdict import DEFAULT_LEVEL, Comparison, holm, holm_correct, paired, welch

__all__ = [
    "DEFAULT_LEVEL", "Comparison", "ConfigSummary", "Contribution", "CostModel", "TimeShare", "Variant", "Verdict",
    "contributions", "group_runs", "holm", "holm_correct", "paired", "pareto_front", "runs_that_fit", "time_share",
    "top_configs", "variants", "verdict", "welch",
]
