"""The study's answer where its users look: one self-contained HTML page per study.

``load_study`` reads a study folder into plain tables (``dashboards.tables``); one pure function
per panel computes that panel's numbers (``dashboards.panels``); ``dashboards.render`` draws them
with plotly; ``write_dashboard`` writes the page. Nothing here runs at import time.
"""

from dashboards.dashboard import DASHBOARD, build_html, panel_views, write_dashboard
from dashboards.load import load_study
from dashboards.tables import Epoch, OptunaTrial, StudyMeta, StudyTables, Trial

__all__ = ["DASHBOARD", "Epoch", "OptunaTrial", "StudyMeta", "StudyTables", "Trial", "build_html", "load_study", "panel_views",
           "write_dashboard"]
