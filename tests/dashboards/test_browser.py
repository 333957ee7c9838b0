"""The dashboard of a real tiny study, opened in a real headless Chromium (no network)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboards import load_study, panel_views, write_dashboard
from dashboards.render.page import PanelView, page_html
from tests.dashboards.browser import dump_dom, read_panels, screenshot

pytestmark = pytest.mark.slow


def test_the_error_channel_reports_a_planted_error(tmp_path: Path) -> None:
    """The check below ("no JavaScript error") means something only if an error does show up."""
    page = tmp_path / "planted.html"
    page.write_text(page_html("planted", [], [PanelView("x", "x", "x", html="<script>throw new Error('planted boom')</script>")]))
    found = read_panels(dump_dom(page.as_uri(), budget_ms=5_000))
    assert found.js_errors and "planted boom" in found.js_errors


def test_a_real_study_dashboard_in_chromium(tiny_study: Path, tmp_path: Path) -> None:
    path = write_dashboard(tiny_study, tmp_path / "dashboard.html")
    expected = {v.key: v for v in panel_views(load_study(tiny_study))}
    dom = read_panels(dump_dom(path.as_uri()))

    assert not dom.js_errors, f"the page raised JavaScript errors:\n{dom.js_errors}"
    assert list(dom.panels) == list(expected)
    for key, panel in dom.panels.items():
        assert panel["state"] != "error", f"panel {key}: {panel['text']}"
        if panel["state"] == "drawn":  # every figure of the panel drew its SVG
            assert panel["svgs"] >= len(expected[key].figures) >= 1, (key, panel["svgs"])
        else:
            assert panel["svgs"] == 0 and "Nothing to show: " in panel["text"], key
    drawn = {k for k, p in dom.panels.items() if p["state"] == "drawn"}
    summary = json.loads((tiny_study / "summary.json").read_text())
    must = {"answer", "effects", "cost", "curves", "timeline", "history"}
    if summary["counts"]["finished"] >= 2:
        must.add("importance")
    assert must <= drawn, f"not drawn: {must - drawn}"
    assert dom.panels["ablation"]["state"] == "empty"  # the tiny study ran no ablation

    best = summary["best_trial"]["objective"]
    assert dom.best is not None, "the answer panel shows no best objective"
    assert float(dom.best[0]) == pytest.approx(best, abs=1e-12)
    assert dom.best[1] == f"{100 * best:.2f}%"

    shot = screenshot(path.as_uri(), tmp_path / "dashboard.png")
    assert shot.stat().st_size > 50_000
    print(f"\ndashboard screenshot: {shot}")
