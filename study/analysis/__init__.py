"""The study's numbers, as pure functions of what the study recorded: the confirmation's maths
(:mod:`~study.analysis.confirm`), t-tests and Holm's correction (:mod:`~study.analysis.verdict`),
the ablation (:mod:`~study.analysis.ablation`), the phases' typed outcomes
(:mod:`~study.analysis.outcomes`), what fits in the time left (:mod:`~study.analysis.planning`),
the Pareto front (:mod:`~study.analysis.pareto`), where the slot time went (:mod:`~study.analysis.time_share`),
and the parent run's headline numbers(:mod:`~study.analysis.headline`). The dashboards read these."""

from study.analysis.ablation import Contribution, Variant, contributions, variants
from study.analysis.confirm import ConfigSummary, Verdict, group_runs, top_configs, verdict
from study.analysis.outcomes import AblationOutcome, ConfirmedConfig, ConfirmOutcome, VerdictRecord
from study.analysis.pareto import pareto_front
from study.analysis.planning import CostModel, RunPlan, plan_runs, runs_that_fit
from study.analysis.time_share import TimeShare, time_share
from study.analysis.verdict import DEFAULT_LEVEL, Comparison, holm, holm_correct, paired, welch

__all__ = [
    "DEFAULT_LEVEL", "AblationOutcome", "Comparison", "ConfigSummary", "ConfirmOutcome", "ConfirmedConfig", "Contribution",
    "CostModel", "RunPlan", "TimeShare", "Variant", "Verdict", "VerdictRecord", "contributions", "group_runs", "holm", "holm_correct",
    "paired", "pareto_front", "plan_runs", "runs_that_fit", "time_share", "top_configs", "variants", "verdict", "welch",
]
