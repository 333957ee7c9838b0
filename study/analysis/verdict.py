"""Verdicts that survive a statistician: t-tests, confidence intervals and Holm's correction.

A study compares few seeds: 2 to 5 runs of a configuration. At such sample sizes a "twice the
standard error" rule is far too lenient (the 97.5 % point of Student's t with 2 degrees of freedom
is 4.30, not 2), so every comparison here is a real test from ``scipy.stats``:

* :func:`welch` — Welch's unequal-variance t-test (Welch 1947; ``scipy.stats.ttest_ind`` with
  ``equal_var=False``), for independent runs: the search's winner against the baseline, each
  re-run with its own fresh seeds. Its degrees of freedom come from the Welch–Satterthwaite
  equation and are usually not an integer.
* :func:`paired` — the paired t-test (``scipy.stats.ttest_rel``) over the seeds two
  configurations share: an ablation variant re-run with the winner's seeds. The seed fixes data
  order, augmentation and initialization, so the paired differences cancel most seed noise.
* :func:`holm` — Holm's step-down correction (Holm 1979) of the p-values of several comparisons
  judged at once (several techniques of an ablation, several configurations against one
  baseline): it holds the family-wise error rate at ``1 - level`` and is uniformly more powerful
  than Bonferroni.

Tests are two-sided; the confidence interval is that of the difference of means (``a - b``) at
the stated level, per comparison (Holm adjusts p-values, not intervals). "Shown" means the
(adjusted) p-value is below ``1 - level``. Too few runs for a test (fewer than two per side, or
fewer than two shared seeds) give a comparison without a p-value that says so.

Compute, then render: the functions return small frozen dataclasses; ``Comparison.verdict`` is
the sentence a summary prints.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["DEFAULT_LEVEL", "Comparison", "holm", "holm_correct", "paired", "welch"]

DEFAULT_LEVEL = 0.95  # confidence level of intervals and tests (significance 1 - level)


@dataclass(frozen=True)
class Comparison:
    """``a`` against ``b``: the difference of their means, its interval, the test and the verdict."""

    label_a: str  # e.g. "best" or "winner"
    label_b: str  # e.g. "baseline" or "without mixup"
    test: str  # "welch" | "paired"
    mean_a: float
    mean_b: float
    difference: float  # mean(a) - mean(b) (paired: the mean of the per-seed differences, the same number)
    ci_low: float | None  # confidence interval of the difference at `level`; None: too few runs
    ci_high: float | None
    statistic: float | None  # Student's t; None: too few runs (or no spread: every run equal)
    dof: float | None  # degrees of freedom of t (Welch: non-integer)
    p_value: float | None  # two-sided, unadjusted
    level: float  # e.g. 0.95
    n_a: int  # runs of a (paired: shared seeds)
    n_b: int  # runs of b (paired: shared seeds)
    p_adjusted: float | None = None  # Holm-adjusted p-value, when judged with others
    family: int = 1  # how many comparisons were judged together (1 = alone)

    @property
    def p_judged(self) -> float | None:
        """The p-value the verdict rests on: Holm-adjusted when judged with others."""
        return self.p_adjusted if self.p_adjusted is not None else self.p_value

    @property
    def shown(self) -> bool | None:
        """True: a differs from b at ``level`` (sign: ``difference``); False: not shown; None: no test."""
        p = self.p_judged
        return None if p is None else p < 1 - self.level

    @property
    def verdict(self) -> str:
        """One sentence: the difference, its interval, the test, and what it shows."""
        pct = f"{100 * self.level:g} %"
        text = f"{self.label_a} − {self.label_b} = {self.difference:+.4f}"
        if self.ci_low is None or self.ci_high is None:
            counts = (f"{self.n_a} shared seed{'s' if self.n_a != 1 else ''}" if self.test == "paired"
                      else f"{self.n_a} and {self.n_b} runs")
            need = "2 shared seeds" if self.test == "paired" else "2 runs of each"
            return f"{text}: too few seeds for a test ({counts}; a t-test needs at least {need})"
        text += f" ({pct} CI {self.ci_low:+.4f} to {self.ci_high:+.4f}"
        if self.p_value is None or self.statistic is None or self.dof is None:
            return text + "; every run gave the same value, no spread to test against): no test"
        name = "Welch's t" if self.test == "welch" else "paired t"
        text += f"; {name} = {self.statistic:.2f}, {self.dof:.2f} dof, p = {_p(self.p_value)}"
        if self.p_adjusted is not None and self.family > 1:
            text += f", Holm-adjusted over {self.family}: {_p(self.p_adjusted)}"
        text += ")"
        if not self.shown:
            return text + f": not shown at the {pct} level"
        better = "higher" if self.difference > 0 else "lower"
        return text + f": {self.label_a} is {better} than {self.label_b} at the {pct} level"


def welch(
    a: Sequence[float], b: Sequence[float], *, level: float = DEFAULT_LEVEL, label_a: str = "best",
    label_b: str = "baseline",
) -> Comparison:
    """Welch's t-test of independent runs ``a`` against ``b`` (e.g. winner vs baseline, fresh seeds each)."""
    _check_level(level)
    xa, xb = _floats(a, "a"), _floats(b, "b")
    res = None
    if len(xa) >= 2 and len(xb) >= 2 and not (_no_spread(xa) and _no_spread(xb)):
        from scipy import stats

        res = stats.ttest_ind(xa, xb, equal_var=False)
    point = len(xa) >= 2 and len(xb) >= 2  # no spread at all: the interval is the point
    return _comparison("welch", label_a, label_b, xa, xb, _mean(xa) - _mean(xb), level, res, point)


def paired(
    a: Mapping[int, float], b: Mapping[int, float], *, level: float = DEFAULT_LEVEL, label_a: str = "winner",
    label_b: str = "variant",
) -> Comparison:
    """Paired t-test of ``a`` against ``b`` over the seeds both have (``{seed: value}``; others are ignored)."""
    _check_level(level)
    seeds = sorted(set(a) & set(b))
    xa = _floats([a[s] for s in seeds], "a")
    xb = _floats([b[s] for s in seeds], "b")
    diffs = [x - y for x, y in zip(xa, xb)]
    res = None
    if len(seeds) >= 2 and not _no_spread(diffs):  # equal differences: t is undefined
        from scipy import stats

        res = stats.ttest_rel(xa, xb)
    return _comparison("paired", label_a, label_b, xa, xb, _mean(diffs), level, res, len(seeds) >= 2)


def _comparison(test: str, label_a: str, label_b: str, xa: list[float], xb: list[float], difference: float,
                level: float, res: Any, point: bool) -> Comparison:
    """A :class:`Comparison` from scipy's ``TtestResult`` ``res`` (None: no test; ``point``: the CI is the difference)."""
    ci_low = ci_high = statistic = dof = p_value = None
    if res is not None:
        ci = res.confidence_interval(confidence_level=level)
        ci_low, ci_high = float(ci.low), float(ci.high)
        statistic, dof, p_value = float(res.statistic), float(res.df), float(res.pvalue)
    elif point:
        ci_low = ci_high = difference
    return Comparison(label_a=label_a, label_b=label_b, test=test, mean_a=_mean(xa), mean_b=_mean(xb),
                      difference=difference, ci_low=ci_low, ci_high=ci_high, statistic=statistic, dof=dof,
                      p_value=p_value, level=level, n_a=len(xa), n_b=len(xb))


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values, in the input's order (``None``s are left out of the family).

    Sorted ascending, the i-th smallest of m p-values becomes ``max_{j <= i} min(1, (m - j) p_(j))``
    (0-based j); rejecting the adjusted values below ``1 - level`` holds the family-wise error rate.
    """
    present = [(p, i) for i, p in enumerate(p_values) if p is not None]
    for p, _ in present:
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise ValueError(f"p-values must be numbers in [0, 1], got {p!r}")
    m = len(present)
    out: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(present)):
        running = max(running, min(1.0, (m - rank) * float(p)))
        out[i] = running
    return out


def holm_correct(comparisons: Sequence[Comparison]) -> list[Comparison]:
    """The comparisons judged as one family: each with its Holm-adjusted p-value and family size."""
    adjusted = holm([c.p_value for c in comparisons])
    m = sum(p is not None for p in adjusted)
    return [dataclasses.replace(c, p_adjusted=p, family=m) for c, p in zip(comparisons, adjusted)]


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


def _mean(xs: Sequence[float]) -> float:
    return statistics.fmean(xs) if xs else float("nan")


def _no_spread(xs: Sequence[float]) -> bool:
    """All values equal, to the precision a mean of them carries."""
    return max(xs) - min(xs) <= 1e-12 * max(1.0, max(abs(x) for x in xs))


def _floats(xs: Sequence[float], name: str) -> list[float]:
    out = []
    for x in xs:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
            raise ValueError(f"sample {name} must hold finite numbers, got {x!r}")
        out.append(float(x))
    return out


def _check_level(level: float) -> None:
    if not (isinstance(level, float) and 0.5 <= level < 1.0):
        raise ValueError(f"level must be a float in [0.5, 1), e.g. 0.95, got {level=!r}")
