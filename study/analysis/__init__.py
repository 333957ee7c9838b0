"""The study's numbers, as pure functions of what the study recorded: confirmation maths and plan,
the Pareto front, the end-of-study summary. The dashboards read these."""

from study.analysis.confirm import ConfigSummary, CostModel, runs_that_fit, top_configs
from study.analysis.summary import print_summary, summarize

__all__ = ["ConfigSummary", "CostModel", "print_summary", "runs_that_fit", "summarize", "top_configs"]
