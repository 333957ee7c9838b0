"""One pure function per panel: tables in, the panel's numbers out (no plotly here)."""

from dashboards.panels.ablation import AblationInfo, ablation_info
from dashboards.panels.answer import AnswerInfo, answer_info
from dashboards.panels.cost import CostInfo, cost_info
from dashboards.panels.curves import CurvesInfo, curves_info
from dashboards.panels.effects import EffectsInfo, effects_info, seed_noise
from dashboards.panels.history import HistoryInfo, history_info
from dashboards.panels.importance import ImportanceInfo, importance_info
from dashboards.panels.rungs import RungsInfo, rungs_info
from dashboards.panels.techniques import TechniquesInfo, techniques_info
from dashboards.panels.timeline import TimelineInfo, timeline_info
from dashboards.panels.tta import TtaInfo, tta_info

__all__ = [
    "AblationInfo", "AnswerInfo", "CostInfo", "CurvesInfo", "EffectsInfo", "HistoryInfo", "ImportanceInfo", "TimelineInfo",
    "RungsInfo", "TechniquesInfo", "TtaInfo", "ablation_info", "answer_info", "cost_info", "curves_info", "effects_info",
    "history_info", "importance_info", "rungs_info", "seed_noise", "techniques_info", "timeline_info", "tta_info",
]
