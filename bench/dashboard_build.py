"""How long a 200-trial study's dashboard takes to build on this machine (issue 11: "a few seconds").

A synthetic study — 200 search trials over the built-in chapter-7 space (finished, pruned, stopped
by the budget, failed; 6 epochs when finished, fewer when stopped; progressive resizing on some), 3 configurations × 3
confirmation seeds, its Optuna view — is built as tables in memory, then each step is timed:
computing the nine panels' numbers (Optuna's PED-ANOVA included), drawing them with plotly, and
writing the one HTML file. Figures are printed, not asserted.

    .venv/bin/python bench/dashboard_build.py [--trials 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dashboards.tables import Epoch, OptunaTrial, StudyMeta, StudyTables, Trial

T0 = 1_800_000_000.0


def synthetic(n: int, seed: int = 0) -> StudyTables:
    """A plausible study: accuracy rises with normalization, mixup, TTA, and near lr = 3e-3, plus seed noise."""
    import math

    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
        distribution_to_json,
    )

    rng = random.Random(seed)
    dists = {"lr": FloatDistribution(1e-3, 1e-2, log=True), "normalize": CategoricalDistribution(["none", "imagenet", "dataset"]),
             "mixup": CategoricalDistribution([False, True]), "label_smoothing": FloatDistribution(0.0, 0.2),
             "progressive": CategoricalDistribution([False, True]), "size": CategoricalDistribution([32, 48]),
             "tta_n": IntDistribution(0, 8)}
    trials, rows, clock = [], [], [0.0, 0.0]
    for i in range(n):
        p: dict[str, Any] = {"lr": math.exp(rng.uniform(math.log(1e-3), math.log(1e-2))),
                             "normalize": rng.choice(["none", "imagenet", "dataset"]),
             "mixup": rng.random() < 0.5, "label_smoothing": rng.uniform(0, 0.2), "progressive": rng.random() < 0.5,
             "size": rng.choice([32, 48]), "tta_n": rng.randint(0, 8)}
        acc = (0.55 + 0.05 * (p["normalize"] != "none") + 0.02 * p["mixup"] - 0.08 * abs(math.log10(p["lr"] / 3e-3))
               + 0.01 * (p["size"] == 48) + rng.gauss(0, 0.015))
        outcome = rng.choices(["finished", "pruned", "budget", "failed"], [0.6, 0.3, 0.05, 0.05])[0]
        epochs = 6 if outcome == "finished" else rng.randint(1, 4) if outcome != "failed" else 0
        sizes = [24 if p["progressive"] and e < 3 else p["size"] for e in range(epochs)]
        hist = tuple(Epoch(e, acc - 0.03 * (epochs - 1 - e), sizes[e], {"accuracy": acc - 0.03 * (epochs - 1 - e), "size": sizes[e]})
                     for e in range(epochs))
        tta = acc + 0.004 * min(p["tta_n"], 4) if p["tta_n"] else acc
        final = ({"accuracy": acc, "accuracy_tta": tta, "train_seconds": 20 + 2 * epochs * (p["size"] / 32) ** 2,
                  "infer_ms_per_image": 1 + 0.8 * p["tta_n"], "infer_ms_per_image_plain": 1.0, "objective": tta}
                 if outcome == "finished" else {})
        slot = min(range(2), key=clock.__getitem__)
        start, dur = clock[slot], 5 + 5 * epochs
        clock[slot] += dur + 0.5
        obj = final.get("objective", hist[-1].accuracy if hist else None)
        trials.append(Trial(f"{i:08x}", f"train_trial_{i:08x}", "search", outcome, obj, p, {**p, "tta_n": p["tta_n"], "tta_beta": 0.25},
                            final, hist, T0 + start, T0 + start + dur))
        state = {"finished": "COMPLETE", "failed": "FAIL"}.get(outcome, "PRUNED")
        rows.append(OptunaTrial(i, state, (obj,) if state == "COMPLETE" and obj is not None else None, p,
                                {k: distribution_to_json(d) for k, d in dists.items()}))
    done = sorted((t for t in trials if t.finished), key=lambda t: -(t.objective or 0))[:2]
    labels = ["baseline", *(t.name for t in done)]
    for s in range(3):
        for label in labels:
            slot = min(range(2), key=clock.__getitem__)
            start = clock[slot]
            clock[slot] += 40
            acc = 0.6 + rng.gauss(0, 0.015)
            trials.append(Trial(f"c{s}{label[-4:]}", f"train_trial_c{s}_{label[-4:]}", "confirm", "finished", acc, {}, {},
                                {"accuracy": acc, "accuracy_tta": acc, "objective": acc},
                                tuple(Epoch(e, acc, 32, {"accuracy": acc}) for e in range(6)), T0 + start, T0 + start + 39, label))
    meta = StudyMeta("bench", Path("/nonexistent"), "done", max(clock) * 1.05, 0.2, ("accuracy",), frozenset({"lr"}),
                     tuple(dists), T0, T0, max(clock))
    return StudyTables(meta, tuple(trials), tuple(rows), None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from dashboards.dashboard import panel_views
    from dashboards.render.page import page_html

    tab = synthetic(args.trials)
    print(f"synthetic study: {sum(t.phase == 'search' for t in tab.trials)} search trials, "
          f"{sum(t.phase == 'confirm' for t in tab.trials)} confirmation runs")
    for r in range(args.repeat):  # the first run also pays plotly's and Optuna's first use in this process
        t0 = time.perf_counter()
        views = panel_views(tab)
        t1 = time.perf_counter()
        html = page_html("bench", [], views)
        t2 = time.perf_counter()
        with tempfile.NamedTemporaryFile("w", suffix=".html", delete=True) as f:
            f.write(html)
        t3 = time.perf_counter()
        failed = [v.key for v in views if v.error]
        print(f"run {r + 1}: panels (compute + figures) {t1 - t0:.2f} s, page HTML {t2 - t1:.2f} s, write {t3 - t2:.2f} s; "
              f"total {t3 - t0:.2f} s; {len(html) / 1e6:.1f} MB" + (f"; FAILED panels: {failed}" if failed else ""))


if __name__ == "__main__":
    main()
