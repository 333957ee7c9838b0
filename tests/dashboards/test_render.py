"""The page renders for every kind of study, including the degenerate ones, and is self-contained."""

from __future__ import annotations

import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from dashboards import build_html, write_dashboard
from dashboards.tables import OptunaTrial
from tests.dashboards.builders import tables, trial, with_optuna, write_folder

PANELS = ["techniques", "answer", "effects", "importance", "rungs", "tta", "cost", "curves", "timeline", "history", "ablation"]


class _Sections(HTMLParser):
    """panel -> (state, number of plotly figures, its text)."""

    def __init__(self) -> None:
        super().__init__()
        self.panels: dict[str, list] = {}
        self._current: str | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag == "section" and "data-panel" in a:
            self._current = a["data-panel"]
            self.panels[self._current] = [a["data-state"], 0, ""]
        elif self._current and tag == "div" and "plotly-graph-div" in (a.get("class") or ""):
            self.panels[self._current][1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current:
            self.panels[self._current][2] += data


def sections(html: str) -> dict[str, list]:
    p = _Sections()
    p.feed(html)
    assert list(p.panels) == PANELS
    for key, (state, figures, text) in p.panels.items():
        assert state != "error", f"panel {key} failed: {text}"
        assert (state == "drawn") == (figures > 0), (key, state, figures)
        if state == "empty":
            assert "Nothing to show: " in text, key
    return p.panels


def _full():
    search = [trial("train_trial_b", 0.60, params={"lr": 0.003, "tta_n": 0}, seed_recipe="baseline"),
              trial("train_trial_t", 0.62, params={"lr": 0.005, "tta_n": 2}, tta=0.65, start=5),
              trial("train_trial_p", 0.30, outcome="pruned", params={"lr": 0.009, "tta_n": 1}, start=20, duration=3)]
    conf = [trial(f"train_trial_c{i}", v, phase="confirm", label=lb, start=40 + i)
            for i, (lb, v) in enumerate([("baseline", 0.59), ("baseline", 0.61), ("train_trial_t", 0.63), ("train_trial_t", 0.64)])]
    techniques = [{"technique": "test-time augmentation", "recipe": "tta", "arm": "train_trial_t", "setting": {"tta_n": 2},
                   "decision": {"arm": "train_trial_t", "verdict": "undecided", "pairs": 3, "level": 0.95, "difference": 0.03,
                                "ci_low": -0.01, "ci_high": 0.07, "p_value": 0.08, "p_adjusted": 0.3, "more_seeds": 4},
                   "baseline_by_seed": {"0": 0.6, "1000": 0.58, "1001": 0.61}, "arm_by_seed": {"0": 0.65, "1000": 0.6, "1001": 0.63}},
                  {"technique": "mixup", "recipe": None, "arm": None, "decision": None,
                   "why_not": "the study's space cannot switch it on"}]
    summary = {"best_trial": {"name": "train_trial_t", "objective": 0.65}, "confirmation": {"techniques": techniques, "level": 0.95}}
    return with_optuna(tables(search + conf, summary=summary))


def test_a_full_study_draws_every_panel_but_ablation() -> None:
    panels = sections(build_html(_full()))
    assert {k for k, v in panels.items() if v[0] == "empty"} == {"ablation", "rungs"}
    assert "this study ran no ablation phase" in panels["ablation"][2]
    assert "65.00%" in panels["answer"][2]
    assert "undecided (about 4 more seeds)" in panels["techniques"][2] and "cannot switch it on" in panels["techniques"][2]
    assert "no ASHA" in panels["rungs"][2]


def test_the_rungs_are_drawn_when_asha_judged_trials_that_then_ran_to_their_end() -> None:
    search = [trial(f"train_trial_{i}", 0.5 + 0.05 * i, params={"lr": 0.001 * (i + 1)}, epochs=4, start=10 * i) for i in range(5)]
    tab = tables(search)
    panels = sections(build_html(replace(tab, meta=replace(tab.meta, asha=(1, 2.0)))))
    assert panels["rungs"][0] == "drawn" and "Over 5 trials that ran to their end" in panels["rungs"][2]


def test_an_ablation_is_drawn() -> None:
    rows = [{"technique": "tta", "contribution": 0.02, "stderr": 0.01, "ci_low": -0.001, "ci_high": 0.04, "p_value": 0.06,
             "verdict": "not shown", "n_pairs": 2}]
    tab = _full()
    panels = sections(build_html(replace(tab, summary={**(tab.summary or {}), "ablation": rows})))
    assert panels["ablation"][0] == "drawn"
    section = {"winner": "train_trial_t", "level": 0.95, "techniques": [{**rows[0], "shown": False, "p_adjusted": 0.06}],
               "skipped": [{"technique": "mixup", "reason": "no run of it finished within the budget"}]}
    panels = sections(build_html(replace(tab, summary={**(tab.summary or {}), "ablation": section})))
    assert panels["ablation"][0] == "drawn" and "no run of it finished" in panels["ablation"][2]


def test_one_trial_without_tta_or_confirmation() -> None:
    panels = sections(build_html(with_optuna(tables([trial("train_trial_only", 0.5, params={"lr": 0.003})]))))
    empty = {k for k, v in panels.items() if v[0] == "empty"}
    assert empty == {"techniques", "importance", "rungs", "tta", "ablation"}
    assert "at least 2 finished trials" in panels["importance"][2]
    assert "used TTA" in panels["tta"][2]
    assert "No seed-noise band" in panels["effects"][2]


def test_only_failed_trials() -> None:
    failed = [trial(f"train_trial_f{i}", None, outcome="failed", params={"lr": 0.001 * (i + 1)}, epochs=0) for i in range(3)]
    panels = sections(build_html(with_optuna(tables(failed))))
    assert {k for k, v in panels.items() if v[0] == "drawn"} == {"timeline"}  # when they ran, and that they failed
    assert "none of the 3 search trials finished" in panels["history"][2]
    assert "no search trial finished (3 ran, 3 failed)" in panels["answer"][2]


def test_no_trial_at_all() -> None:
    panels = sections(build_html(tables([], phase="starting")))
    assert all(v[0] == "empty" for v in panels.values())


def test_several_objectives() -> None:
    tab = _full()
    rows = tuple(OptunaTrial(r.number, r.state, (r.values[0], 10.0 - r.number) if r.values else None, r.params, r.distributions)
                 for r in tab.optuna)
    tab = replace(tab, optuna=rows, meta=replace(tab.meta, objectives=("accuracy", "train_seconds")),
                  summary={"pareto_front": [{"trial": "train_trial_t", "accuracy": 0.65, "train_seconds": 8.0}]})
    panels = sections(build_html(tab))
    assert panels["cost"][0] == "drawn" and panels["importance"][0] == "drawn"


def test_the_file_is_self_contained(tmp_path: Path) -> None:
    folder = write_folder(tmp_path / "hand", _full())
    path = write_dashboard(folder)
    assert path == folder / "dashboard.html"
    html = path.read_text()
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in html  # plotly.js itself is inlined
    rest = html.replace(get_plotlyjs(), "")  # (its own defaults name URLs, e.g. geo maps' topojson: not drawn here)
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", rest), "something loaded from elsewhere"
    assert "http://" not in rest and "https://" not in rest
    assert "Plotly.newPlot" in rest
    sections(html)
    other = write_dashboard(folder, tmp_path / "elsewhere" / "d.html")
    assert other.exists() and not list(tmp_path.glob("elsewhere/.*tmp"))


def test_not_a_study_folder(tmp_path: Path) -> None:
    from study.common.errors import UsageError

    with pytest.raises(UsageError, match="not a study folder"):
        write_dashboard(tmp_path)
