"""A real tiny study served by a real `study ui`: MLflow shows it as a study.

Read through the server's REST and artifact endpoints (what the page itself loads) and in headless
Chromium over DevTools (real time, frames included): the experiment is tagged as model training, its
runs page ("Training runs") lists the parent run and, expanded, its children with their data set;
the parent run carries the study's answer (description, key metrics); `dashboard.html` is served
from its artifacts and every panel draws inside MLflow's Artifacts tab.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.dashboards.cdp import Browser
from tests.study.helpers import free_port

pytestmark = pytest.mark.slow

STUDY = Path(sys.executable).with_name("study")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=30) as r:
        return json.load(r)


def _post(url: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def test_study_ui_shows_the_study(tiny_study: Path, tmp_path: Path) -> None:
    record = json.loads((tiny_study / "study.json").read_text())
    summary = json.loads((tiny_study / "summary.json").read_text())
    parent_id = record["parent_run_id"]
    port = free_port()
    log = tmp_path / "ui.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([str(STUDY), "ui", tiny_study.name, "--root", str(tiny_study.parent), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 120
        while "dashboard:" not in log.read_text() and proc.poll() is None and time.time() < deadline:
            time.sleep(0.3)
        links = dict(re.findall(r"^\s+(runs|parent run|dashboard):\s+(\S+)$", log.read_text(), flags=re.M))
        assert set(links) == {"runs", "parent run", "dashboard"}, log.read_text()
        base = f"http://127.0.0.1:{port}"

        # the experiment: model training, not GenAI
        exp = _get(f"{base}/api/2.0/mlflow/experiments/get-by-name?experiment_name={tiny_study.name}")["experiment"]
        tags = {t["key"]: t["value"] for t in exp.get("tags", [])}
        assert tags.get("mlflow.experimentKind") == "custom_model_development"
        assert links["runs"] == f"{base}/#/experiments/{exp['experiment_id']}/runs"
        assert links["dashboard"] == f"{base}/#/experiments/{exp['experiment_id']}/runs/{parent_id}/artifactPath/dashboard.html"

        runs = _post(f"{base}/api/2.0/mlflow/runs/search", {"experiment_ids": [exp["experiment_id"]], "max_results": 1000})["runs"]
        by_id = {r["info"]["run_id"]: r for r in runs}
        parent = by_id[parent_id]
        children = [r for r in runs if {t["key"]: t["value"] for t in r["data"].get("tags", [])}.get("mlflow.parentRunId") == parent_id]
        records = list((tiny_study / "records").glob("*.jsonl"))
        assert len(children) == len(records) == len(runs) - 1 >= 2

        # the parent run says what the study found
        ptags = {t["key"]: t["value"] for t in parent["data"].get("tags", [])}
        note = ptags.get("mlflow.note.content", "")
        best = summary["best_trial"]
        assert f"`{best['name']}`" in note and f"{100 * best['objective']:.2f}%" in note and "dashboard.html" in note
        metrics = {m["key"]: m["value"] for m in parent["data"].get("metrics", [])}
        assert metrics["best_objective"] == pytest.approx(best["objective"])
        assert metrics["trials_finished"] == summary["counts"]["finished"]

        # dashboard.html, from the parent run's artifacts, is the page in the study folder
        q = urllib.parse.urlencode({"path": "dashboard.html", "run_uuid": parent_id})
        with urllib.request.urlopen(f"{base}/get-artifact?{q}", timeout=30) as r:
            served = r.read()
        assert served == (tiny_study / "dashboard.html").read_bytes()
        assert b"data-panel='answer'" in served

        # each trial that trained names its data set: the decoded cache's name and key, no data copied
        named = [c for c in children if (c.get("inputs") or {}).get("dataset_inputs")]
        assert named, "no trial run names its data set"
        for c in named:
            ds = c["inputs"]["dataset_inputs"][0]["dataset"]
            assert ds["name"].startswith("embedded") and re.fullmatch(r"[0-9a-f]{16}", ds["digest"]), ds

        # in a browser: "Training runs" lists the parent run; expanded, its children, with their data set
        with Browser(height=1000) as browser:
            browser.open(links["runs"])
            wanted = ("Training runs", f"{tiny_study.name}-launch", f"{len(runs)} matching runs")
            page = browser.poll("document.body.innerText", lambda v: isinstance(v[0], str) and all(w in v[0] for w in wanted), 90)[0]
            assert "Training runs" in page and f"{tiny_study.name}-launch" in page and f"{len(runs)} matching runs" in page
            clicked = browser.evaluate_everywhere(
                "(() => { const b = Array.from(document.querySelectorAll('[role=row] button.du-bois-light-btn-link'));"
                " b.forEach(x => x.click()); return b.length; })()")[0]
            assert clicked >= 1, "no expander on the parent run's row"
            names = [c["info"]["run_name"] for c in children] + ["embedded"]
            cells = browser.poll("Array.from(document.querySelectorAll('[role=gridcell]')).map(e => e.innerText)",
                                 lambda v: isinstance(v[0], list) and all(n in " ".join(v[0]) for n in names), 60)[0]
            shown = " ".join(cells)
            for c in children:
                assert c["info"]["run_name"] in shown, f"child run {c['info']['run_name']} not listed"
            assert "embedded" in shown, "the Dataset column names no data set"

            # the parent run's Artifacts tab runs dashboard.html (MLflow's sandboxed iframe): every panel drew
            browser.open(links["dashboard"])
            panels = ("Array.from(document.querySelectorAll('section.panel'))"
                      ".map(s => [s.dataset.panel, s.dataset.state, s.querySelectorAll('svg.main-svg').length])")

            def settled(values: list[Any]) -> bool:  # in a frame, loaded to the end; every panel drew, or it reported an error
                return any(isinstance(f, list) and f[1] and f[3] == "complete"
                           and (f[0] is not None or all(st != "drawn" or n > 0 for _, st, n in f[1])) for f in values)

            found = browser.poll(f"[document.documentElement.getAttribute('data-js-errors'), {panels}, "
                                 "(document.querySelector('.best-objective') || {}).textContent, document.readyState]", settled, 120)
            frame = next((f for f in found if isinstance(f, list) and f[1]), None)
            assert frame is not None, f"dashboard.html did not render in the Artifacts tab: {found}"
            errors, drawn, best_text, _ = frame
            assert errors is None, errors
            assert all(state != "error" and (state != "drawn" or svgs > 0) for _, state, svgs in drawn), drawn
            assert {"answer", "effects", "curves", "timeline"} <= {k for k, state, _ in drawn if state == "drawn"}
            assert best_text == f"{100 * best['objective']:.2f}%"
            shot = browser.screenshot(tmp_path / "mlflow-dashboard-artifact.png")
            print(f"\nthe dashboard inside MLflow's Artifacts tab: {shot}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
