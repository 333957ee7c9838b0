"""Which technique made the difference: the winner against itself with one technique switched off.

The search's trials cannot say which technique mattered (TPE samples correlated configurations,
so "mixup trials scored higher" confounds mixup with everything sampled alongside it). The
ablation takes the winner, switches each of its chapter-7 techniques back to the baseline's
setting one at a time, and re-runs each variant with the *same* seeds as the winner's
confirmation runs. The seed fixes data order, augmentation and initialization, so the paired
differences (winner − variant, per seed) cancel most seed noise: a paired t-test
(:func:`study.analysis.verdict.paired`), Holm-corrected over the techniques judged together.

Compute only: :func:`variants` plans, :func:`contributions` judges, the driver runs.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from study.analysis.verdict import DEFAULT_LEVEL, holm_correct, paired

__all__ = ["EVALUATION_ONLY", "TECHNIQUES", "Contribution", "Variant", "contributions", "needs_training", "order_by_promise",
           "variants"]

# Each chapter-7 technique as the TrialConfig keys that switch it (fastbook ch. 7's order).
TECHNIQUES: dict[str, tuple[str, ...]] = {
    "normalization": ("normalize",),
    "progressive resizing": ("schedule",),
    "image size": ("size",),
    "presizing": ("presize", "min_scale"),
    "mixup": ("mixup_alpha",),
    "label smoothing": ("label_smoothing",),
    "test-time augmentation": ("tta_n", "tta_beta", "tta_max"),
}
# Techniques that change only how a trained model is evaluated: the winner without one of them is the
# winner's own models evaluated without it (every run reports its accuracy without TTA), no training.
EVALUATION_ONLY = frozenset({"test-time augmentation"})


@dataclass(frozen=True)
class Variant:
    """The winner with one technique set back to the baseline's values."""

    technique: str
    changes: dict[str, Any]  # key -> the baseline's value (the winner's other keys unchanged)
    winner_values: dict[str, Any]  # key -> the winner's value (what is ablated)

    def config(self, winner: Mapping[str, Any]) -> dict[str, Any]:
        return {**winner, **self.changes}

    @property
    def evaluation_only(self) -> bool:
        """Only the evaluation differs from the winner's (:data:`EVALUATION_ONLY`): no run to train."""
        return self.technique in EVALUATION_ONLY


def variants(winner: Mapping[str, Any], baseline: Mapping[str, Any]) -> tuple[list[Variant], list[dict[str, str]]]:
    """The variants to run, and the techniques left out with the reason (as ``{"technique", "reason"}``).

    A technique is ablated when the winner's setting differs from the baseline's. The image size
    of a progressive schedule lives in the schedule itself, so with progressive resizing on it is
    ablated together with it.
    """
    out: list[Variant] = []
    skipped: list[dict[str, str]] = []
    for technique, keys in TECHNIQUES.items():
        differing = [k for k in keys if k in winner and k in baseline and winner[k] != baseline[k]]
        if not differing:
            continue
        if technique == "image size" and winner.get("schedule"):
            skipped.append({"technique": technique, "reason": "the progressive schedule sets the sizes; "
                                                              "ablated with progressive resizing"})
            continue
        out.append(Variant(technique, {k: baseline[k] for k in keys if k in baseline},
                           {k: winner[k] for k in keys if k in winner}))
    return out, skipped


def needs_training(winner: Mapping[str, Any], baseline: Mapping[str, Any]) -> list[Variant]:
    """The variants of ``winner`` an ablation would have to train (the evaluation-only ones need none)."""
    return [v for v in variants(winner, baseline)[0] if not v.evaluation_only]


def order_by_promise(found: Iterable[Variant], outcomes: Iterable[Any]) -> list[Variant]:
    """The most promising first: by how much the search's finished trials that share the winner's
    setting of the technique beat those that share the baseline's (a marginal, confounded, but the
    best guess before the ablation runs); techniques the search cannot tell apart come last."""
    done = [o for o in outcomes if getattr(o, "outcome", None) == "finished" and getattr(o, "objective", None) is not None]

    def promise(v: Variant) -> float:
        keys = list(v.changes)
        on = [o.objective for o in done if all(o.config.get(k) == v.winner_values.get(k) for k in keys)]
        off = [o.objective for o in done if all(o.config.get(k) == v.changes[k] for k in keys)]
        return statistics.fmean(on) - statistics.fmean(off) if on and off else float("-inf")

    return sorted(found, key=promise, reverse=True)


@dataclass(frozen=True)
class Contribution:
    """A technique's paired contribution to the winner: winner − variant over the shared seeds."""

    technique: str
    changes: dict[str, Any]
    contribution: float  # mean of winner − variant per seed
    stderr: float | None  # standard error of that mean (None: fewer than two pairs)
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # paired t-test, two-sided, unadjusted
    p_adjusted: float | None  # Holm over the techniques judged together
    level: float
    n_pairs: int
    shown: bool | None  # the contribution differs from 0 at `level` (None: no test)
    verdict: str
    evaluation_only: bool = False  # judged on the winner's own models evaluated without it (no runs of its own)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import asdict

        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Contribution | None:
        """A row of ``summary.json["ablation"]["techniques"]``; None when it has no contribution."""
        def num(x: Any) -> float | None:
            return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None

        contribution = num(d.get("contribution"))
        if contribution is None:
            return None
        return cls(technique=str(d.get("technique", "?")), changes=dict(d.get("changes") or {}), contribution=contribution,
                   stderr=num(d.get("stderr")), ci_low=num(d.get("ci_low")), ci_high=num(d.get("ci_high")),
                   p_value=num(d.get("p_value")), p_adjusted=num(d.get("p_adjusted")), level=num(d.get("level")) or 0.95,
                   n_pairs=int(d.get("n_pairs") or 0), shown=d.get("shown") if isinstance(d.get("shown"), bool) else None,
                   verdict=str(d.get("verdict") or ""), evaluation_only=d.get("evaluation_only") is True)


def contributions(winner: Mapping[int, float], runs: Mapping[str, tuple[Variant, Mapping[int, float]]],
                  level: float = DEFAULT_LEVEL) -> list[Contribution]:
    """Each technique's contribution from the winner's ``{seed: objective}`` and each variant's.

    ``runs``: technique -> (its variant, ``{seed: objective}`` of its runs). Seeds a variant lacks
    (not run in time) are left out of its pairs; the family of tests is Holm-corrected.
    """
    names = list(runs)
    tests = holm_correct([paired(winner, runs[t][1], level=level, label_a="winner", label_b=f"without {t}")
                          for t in names])
    out = []
    for t, c in zip(names, tests):
        seeds = sorted(set(winner) & set(runs[t][1]))
        diffs = [winner[s] - runs[t][1][s] for s in seeds]
        stderr = statistics.stdev(diffs) / len(diffs) ** 0.5 if len(diffs) >= 2 else None
        shown = c.shown
        out.append(Contribution(
            technique=t, changes=runs[t][0].changes, contribution=c.difference, stderr=stderr, ci_low=c.ci_low,
            ci_high=c.ci_high, p_value=c.p_value, p_adjusted=c.p_adjusted, level=level, n_pairs=len(seeds),
            shown=shown, verdict=c.verdict,
        ))
    return out
