"""The confirmation's outcome, decided once: every comparison's verdict, the technique table, the
verdict on the best configuration, and why the phase ended when it did."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING

from study.analysis.outcomes import ConfirmOutcome, VerdictRecord
from study.analysis.sequential import SEEDS_CAP

if TYPE_CHECKING:
    from study.analysis.sequential import ArmDecision, LookPlan
    from study.analysis.techniques import DecisionRecord
    from study.driver.design import Design
    from study.driver.search import SearchOutcome
    from study.driver.tuner import Runtime
    from study.spec import StudySpec
    from study.tune.clock import Deadline

__all__ = ["judge"]


def judge(spec: StudySpec, search: SearchOutcome, design: Design, plan: LookPlan, fresh: list[int], rt: Runtime,
          end: Deadline) -> ConfirmOutcome:
    """The phase's outcome from its journal, with :func:`study.analysis.sequential.decide`'s decisions."""
    from study.analysis.sequential import decide
    from study.analysis.techniques import DecisionRecord, technique_rows
    from study.driver.design import arm_values, confirmed_configs
    from study.tune.comparisons import pairs_of

    values, runs, started = arm_values(design, Path(rt.journal("confirm")))
    base = design.arms[0]

    def value(job: str, key: str, seed: int) -> float | None:
        v = runs.get((job, seed), {}).get(key)
        return float(v) if isinstance(v, (int, float)) else None

    pairs = {a.name: pairs_of(a, base, fresh, value, lambda job, seed: False) for a in design.arms[1:]}
    decisions = decide({name: [d for _, d in p] for name, p in pairs.items()}, plan)
    records = {name: DecisionRecord.of(d, spec.level, plan.margin) for name, d in decisions.items()}
    configs = confirmed_configs(design, values, runs, fresh)
    rows = technique_rows(design.techniques, design.recipes, records, values, search.outcomes.values(),
                          design.configs["baseline"], design.why_not)
    finished = sum(1 for r in runs if r[1] in fresh)
    winner = _winner(decisions, records, configs, len(plan.pairs), spec.level)
    return ConfirmOutcome(spec.level, runs=started, finished=finished, configs=configs, verdict=winner, techniques=rows,
                          decisions=records, plan=plan, ended=_ended(decisions, end))


def _winner(decisions: dict[str, ArmDecision], records: dict[str, DecisionRecord], configs: dict, looks: int,
            level: float) -> VerdictRecord | None:
    """The compared configuration with the largest mean difference over the baseline, and its verdict."""
    tested = {name: r for name, r in records.items() if r.difference is not None}
    if not tested:
        return None
    name, r = max(tested.items(), key=lambda kv: kv[1].difference or 0.0)
    base = configs.get("baseline")
    if (r.difference or 0.0) <= 0:
        text = "no compared configuration beat the baseline on average"
        return VerdictRecord(text, "baseline", False, level, difference=0.0, family=len(records))
    mine = configs.get(name)
    spread = (f"best {name}: {mine.mean:.4f} ± {_sd(mine.values)} over {mine.n} fresh seeds; "
              f"baseline {base.mean:.4f} ± {_sd(base.values)} over {base.n}; " if mine is not None and base is not None else f"best {name}: ")
    pct = f"{100 * level:g} %"
    shown = {"helped": f"{name} is higher than baseline at the {pct} level — it beats the baseline",
             "hurt": f"{name} is lower than baseline at the {pct} level — it is worse than the baseline"}
    family = f"adjusted over {len(records)} comparisons and {looks} look{'s' if looks != 1 else ''}"
    test = (f"paired t = {r.statistic:.2f}, {r.dof:g} dof, p = {_p(r.p_value)}, {family}: {_p(r.p_adjusted)}"
            if r.statistic is not None and r.dof is not None else "no spread to test against")
    sentence = (f"{spread}{name} − baseline = {r.difference:+.4f} ({pct} CI {_f(r.ci_low)} to {_f(r.ci_high)}; {test}): "
                + shown.get(r.verdict, f"not shown at the {pct} level — not shown to beat the baseline ({r.verdict})"))
    beats = r.verdict == "helped"
    return VerdictRecord(sentence, name, beats, level, difference=r.difference,
                         noise=r.stderr, test="paired", ci_low=r.ci_low, ci_high=r.ci_high, statistic=r.statistic, dof=r.dof,
                         p_value=r.p_value, p_adjusted=r.p_adjusted, family=len(records), n_pairs=r.pairs)


def _ended(decisions: dict[str, ArmDecision], end: Deadline) -> str:
    """Why the phase ended: every comparison settled, or the time left could not decide the open ones."""
    open_ = {n: d for n, d in decisions.items() if not d.settled}
    if not open_:
        return "every comparison is settled (helped, hurt, or no difference shown: its interval within the margin)"
    left = end.time() - time.time()
    need = ", ".join(f"{n}: about {d.more_seeds} more seed(s)" if d.more_seeds else f"{n}: a long shot, over {SEEDS_CAP} seeds"
                     for n, d in open_.items())
    return (f"{len(open_)} comparison(s) still open ({need}); their next look would not finish in the {max(left, 0):.0f} s left"
            if left > 1 else f"the budget ran out with {len(open_)} comparison(s) open ({need})")


def _sd(values: tuple[float, ...]) -> str:
    return f"{statistics.stdev(values):.4f}" if len(values) >= 2 else "n/a"


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+.4f}"


def _p(p: float | None) -> str:
    if p is None:
        return "n/a"
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"
