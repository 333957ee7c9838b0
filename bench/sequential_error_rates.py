"""The confirmation's decision procedure, simulated with the code that decides (issue 19's proof).

    python3 bench/sequential_error_rates.py                 # the README's table (a few minutes a budget on 2 cores)
    python3 bench/sequential_error_rates.py --studies 200   # quicker, noisier

Each simulated study is the confirmation phase of a chapter-7 study: five comparisons with the
baseline (test-time augmentation reads the baseline's own runs, so its pairs cost nothing;
progressive resizing trains at 0.72 of the baseline's cost; the others 1), each with its search
run as its first pair, run seed by seed within a budget of runs by
:func:`study.analysis.sequential.decide` and :func:`~study.analysis.sequential.targets`, the looks
planned from the budget as the driver plans them. Seed noise as measured on the demo
(``bench/results/technique_effects_cpu.txt``: paired spreads 0.021–0.049).

Printed, per budget: the family-wise rate of false verdicts with no true effect (normal noise, and
heavier-tailed Student-t noise), the power for one planted effect of 0.02, 0.05 and 0.10 (the
others null), how often "no difference shown" (interval within the margin, 0.01) is said of a null
arm and — falsely — of the planted 0.02 effect, and what the demo's own truth (TTA +0.10, progressive −0.22, normalization +0.05,
mixup and label smoothing 0) gets. Figures only: nothing is asserted here.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from study.analysis.sequential import plan_looks  # noqa: E402
from study.analysis.simulate import Scenario, simulate  # noqa: E402

ARMS = ("test-time augmentation", "normalization", "progressive resizing", "mixup", "label smoothing")
COSTS = (0.0, 1.0, 0.72, 1.0, 1.0)  # in baseline runs
SPREADS = (0.034, 0.021, 0.049, 0.029, 0.021)  # paired sd per arm, bench/results/technique_effects_cpu.txt (3 seeds each)
DEMO_TRUTH = (0.10, 0.046, -0.223, -0.003, 0.005)


def most_pairs(budget: float, first: int, free: int = 1) -> int:
    """As the driver plans it: every arm to the first look, the rest to one arm and the baseline."""
    first_look = sum((first - free) * c for c in COSTS) + (first - free)
    rest = budget - first_look
    per_pair = 1 + statistics.median(c for c in COSTS if c > 0)
    return first + max(0, int(rest // per_pair)) if rest > 0 else first


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--studies", type=int, default=2000, help="simulated studies per row (default 2000)")
    ap.add_argument("--budgets", default="9,20,40,80", help="runs the confirmation can afford, comma-separated")
    ap.add_argument("--level", type=float, default=0.95)
    ap.add_argument("--out", type=Path, default=None, help="also write the table here")
    args = ap.parse_args()
    lines = [f"# sequential_error_rates: {args.studies} simulated studies per row, level {args.level}, "
             f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"# arms {', '.join(ARMS)}; costs {COSTS}; paired sd {SPREADS}; the search's run as each arm's first pair", "",
             "| runs | looks (pairs) | false verdicts, no effect (normal) | same, t(5) noise | power 0.02 | power 0.05 | power 0.10 "
             "| no difference shown: null arms / the 0.02 effect "
             "| demo truth: TTA / norm / prog / mixup / LS (helped or hurt, right sign) | runs used |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    print("\n".join(lines), flush=True)
    for budget in (float(b) for b in args.budgets.split(",")):
        plan = plan_looks(3, most_pairs(budget, 3), args.level)
        null = simulate(Scenario((0.0,) * 5, SPREADS, budget, costs=COSTS), plan, args.studies, seed=1)
        heavy = simulate(Scenario((0.0,) * 5, SPREADS, budget, costs=COSTS, noise="t5"), plan, args.studies, seed=2)
        power, false_same = [], 0.0
        for i, effect in enumerate((0.02, 0.05, 0.10)):  # planted in normalization's arm (cost 1, sd 0.03)
            effects = (0.0, effect, 0.0, 0.0, 0.0)
            sds = (SPREADS[0], 0.03, *SPREADS[2:])
            r = simulate(Scenario(effects, sds, budget, costs=COSTS), plan, args.studies, seed=10 + i)
            power.append(f"{r.power[1]:.2f} (any false {r.any_false:.3f})")
            false_same = r.no_difference[1] if effect == 0.02 else false_same
        demo = simulate(Scenario(DEMO_TRUTH, SPREADS, budget, costs=COSTS), plan, args.studies, seed=20)
        truth = " / ".join(f"{p:.2f}" if abs(e) >= 0.01 else f"{p + w:.3f} declared"  # ~0: any verdict is one too many
                           for p, w, e in zip(demo.power, demo.wrong_sign, DEMO_TRUTH))
        se = math.sqrt(0.05 * 0.95 / args.studies)
        row = (f"| {budget:g} | {', '.join(map(str, plan.pairs))} | {null.any_false:.3f} (±{se:.3f}) | {heavy.any_false:.3f} "
               f"| {' | '.join(power)} | {statistics.fmean(null.no_difference):.3f} / {false_same:.3f} | {truth} | {demo.mean_runs:.1f} |")
        lines.append(row)
        print(row, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
