"""How long the confusion-matrix plot logged with every trial takes to draw (``study.tracking.artifacts``).

Each trial draws one, in its Ray worker: the first in a fresh process pays the imports and the font
loading, later ones reuse the glyphs cached per process. The same 10-class heat map with
matplotlib (``imshow`` and a count per cell, saved as PNG), which the plot replaced, is timed beside
it when matplotlib is installed. Figures are printed, not asserted (the goal: tens of milliseconds
a plot, no matplotlib import in a worker).

    .venv/bin/python bench/confusion_png.py [--calls 50] [--processes 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
N_CLASSES = 10

# One fresh process: the import, the first plot, then `calls` more; seconds each, as JSON.
PILLOW = """
import json, sys, time
t0 = time.perf_counter()
from study.tracking.artifacts import confusion_png
t1 = time.perf_counter()
confusion = [[50 if i == j else (i * 7 + j) % 5 for j in range({n})] for i in range({n})]
classes = [f"class_{{k}}" for k in range({n})]
confusion_png(confusion, classes)
t2 = time.perf_counter()
warm = []
for _ in range({calls}):
    s = time.perf_counter(); confusion_png(confusion, classes); warm.append(time.perf_counter() - s)
print(json.dumps({{"import": t1 - t0, "first": t2 - t1, "warm": warm, "matplotlib": "matplotlib" in sys.modules}}))
"""

MATPLOTLIB = """
import io, json, time
t0 = time.perf_counter()
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
t1 = time.perf_counter()
confusion = [[50 if i == j else (i * 7 + j) % 5 for j in range({n})] for i in range({n})]
classes = [f"class_{{k}}" for k in range({n})]

def draw():
    fig, ax = plt.subplots(figsize=(5, 5), dpi=100)
    ax.imshow(confusion, cmap="Blues")
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7)
    ax.set_xticks(range({n}), classes, rotation=90, fontsize=7)
    ax.set_yticks(range({n}), classes, fontsize=7)
    ax.set_xlabel("predicted"); ax.set_ylabel("true")
    buf = io.BytesIO(); fig.savefig(buf, format="png", bbox_inches="tight"); plt.close(fig)
    return buf.getvalue()

draw()
t2 = time.perf_counter()
warm = []
for _ in range({calls}):
    s = time.perf_counter(); draw(); warm.append(time.perf_counter() - s)
print(json.dumps({{"import": t1 - t0, "first": t2 - t1, "warm": warm, "matplotlib": True}}))
"""


def run(code: str, calls: int) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code.format(n=N_CLASSES, calls=calls)], capture_output=True, text=True,
                         check=True, env=env, cwd=ROOT).stdout
    return json.loads(out.splitlines()[-1])


def _ms(xs: list[float]) -> str:
    return f"{1000 * statistics.median(xs):8.1f}"


def report(name: str, rounds: list[dict]) -> None:
    ms = _ms
    warm = [w for r in rounds for w in r["warm"]]
    print(f"{name:10s} {ms([r['import'] for r in rounds])} {ms([r['first'] for r in rounds])} {ms(warm)} "
          f"{1000 * min(warm):8.1f} {1000 * max(warm):8.1f}   {any(r['matplotlib'] for r in rounds)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=50, help="warm plots per process (default 50)")
    ap.add_argument("--processes", type=int, default=3, help="fresh processes per drawer (default 3)")
    args = ap.parse_args()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"# bench/confusion_png.py --calls {args.calls} --processes {args.processes}")
    print(f"# {time.strftime('%Y-%m-%d %H:%M:%S')}, {os.cpu_count()} cores, load average {load} (1/5/15 min) at start")
    print(f"# a {N_CLASSES}-class confusion matrix as PNG; ms, medians over {args.processes} fresh processes "
          f"(warm: over all {args.processes * args.calls} later calls)")
    print(f"{'drawer':10s} {'import':>8s} {'first':>8s} {'warm':>8s} {'min':>8s} {'max':>8s}   matplotlib imported")
    report("pillow", [run(PILLOW, args.calls) for _ in range(args.processes)])
    if importlib.util.find_spec("matplotlib") is None:
        print("matplotlib   (not installed: nothing to compare with)")
    else:
        report("matplotlib", [run(MATPLOTLIB, args.calls) for _ in range(args.processes)])


if __name__ == "__main__":
    main()
