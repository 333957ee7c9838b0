"""Comparisons against the baseline, decided seed by seed with error rates that hold.

Every comparison is an *arm* run on the same seeds as the baseline: the seed fixes initialization,
data order and augmentation, so arm and baseline pair up, and each pair gives one difference
(arm − baseline). The question per arm: did it help, hurt, or is no difference shown?

Looking at the results while adding seeds inflates false positives unless the procedure accounts
for it. This one is a group-sequential design with a known guarantee:

* **Looks planned before any result.** Tests are made only when an arm has exactly ``n_k`` pairs,
  for the pair counts ``n_1 < n_2 < … < n_K`` of a :class:`LookPlan` fixed from the budget before
  the phase starts; an arm is always tested on its *first* ``n_k`` pairs, in the pre-planned seed
  order, whatever else happened.
* **Alpha spent over looks (weighted Bonferroni).** Look ``k`` may spend ``α_k`` with
  ``Σ α_k = α = 1 − level``. By the union bound, the chance of any false verdict over all looks is
  at most ``Σ α_k = α`` — however the seeds were allocated between looks, since a verdict at look
  ``k`` needs that look's fixed-size test to reject.
* **Holm across the arms at each look.** At look ``k`` the arms are judged as one family by Holm's
  step-down at level ``α_k`` (Holm 1979): arms decided at an earlier look count as rejected, arms
  without ``n_k`` pairs as not rejected (p = 1). At the look of the first false verdict no true null
  was rejected before, so Holm's usual argument bounds that look's chance by ``α_k``.
* **Each test exact.** The paired t-test (``scipy.stats.ttest_rel``) of the arm's first ``n_k``
  pairs: valid whatever the other arms' variances are (nothing is pooled across arms).

Stopping an arm for futility (no further seeds) only removes chances to reject, so it costs no
error rate: seeds go where the answer is still open. The guarantee is checked by simulation with
this very code (:mod:`study.analysis.simulate`, ``bench/sequential_error_rates.py``).

Verdicts in words: **helped** or **hurt** (rejected at some look, by the sign of the difference);
**no difference shown** (not rejected, and from the first look on the difference's interval lies
within ± the plan's ``margin``, the smallest difference worth knowing: whatever the true
difference is, it is likely smaller than that); **undecided** (neither: said with its interval, and
with about how many more seeds would likely decide it, from the observed paired spread, where a
reachable number would). A wide interval is never read as "no difference": an arm stays undecided,
and takes what seeds are left as a long shot, until its interval is narrow enough to say so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from study.analysis.verdict import Comparison, paired

__all__ = ["MARGIN", "MAX_LOOKS", "POWER", "ArmDecision", "LookPlan", "decide", "plan_looks", "seeds_needed", "t_interval",
           "t_test_p", "targets"]

MAX_LOOKS = 4  # at most this many looks: each one splits alpha further
POWER = 0.8  # "would likely decide it": the chance a test at the next threshold rejects, at the observed effect
SEEDS_CAP = 60  # beyond this many pairs an arm is not worth chasing: its difference is too small for its spread
MARGIN = 0.01  # the smallest difference worth knowing, by default (one point of accuracy)


@dataclass(frozen=True)
class LookPlan:
    """When the arms are tested (pair counts) and what each look may spend, fixed before any result."""

    pairs: tuple[int, ...]  # pair counts of the looks, ascending, each >= 2
    alphas: tuple[float, ...]  # alpha spent at each look; they sum to 1 - level
    level: float
    margin: float = MARGIN  # "no difference shown" needs the interval within ± this

    def __post_init__(self) -> None:
        if not 0 < self.margin < 1:
            raise ValueError(f"the margin is an accuracy difference in (0, 1), got margin={self.margin!r}")
        if not self.pairs or len(self.pairs) != len(self.alphas):
            raise ValueError(f"a look plan needs one alpha per look, got pairs={self.pairs!r}, alphas={self.alphas!r}")
        if any(n < 2 for n in self.pairs) or list(self.pairs) != sorted(set(self.pairs)):
            raise ValueError(f"looks must be increasing pair counts >= 2, got {self.pairs!r}")
        if not math.isclose(sum(self.alphas), 1 - self.level, rel_tol=1e-9) or min(self.alphas) <= 0:
            raise ValueError(f"the looks' alphas must be > 0 and sum to 1 - level = {1 - self.level:g}, got {self.alphas!r}")

    @property
    def first(self) -> int:
        return self.pairs[0]

    @property
    def most(self) -> int:
        return self.pairs[-1]

    def next_look(self, n: int) -> int | None:
        """The pair count of the first look after ``n`` pairs (None: no look left)."""
        return next((k for k in self.pairs if k > n), None)

    def describe(self) -> str:
        looks = ", ".join(f"{n} pairs (α {a:.3g})" for n, a in zip(self.pairs, self.alphas))
        return f"looks at {looks}; no difference shown within ±{self.margin:g}"

    def to_dict(self) -> dict[str, Any]:
        return {"pairs": list(self.pairs), "alphas": list(self.alphas), "level": self.level, "margin": self.margin}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> LookPlan:
        """A saved plan; one saved before plans had a margin gets the default margin."""
        return cls(tuple(int(n) for n in d["pairs"]), tuple(float(a) for a in d["alphas"]), float(d["level"]),
                   float(d.get("margin", MARGIN)))


def plan_looks(first: int, most: int, level: float, margin: float = MARGIN) -> LookPlan:
    """Looks from ``first`` to ``most`` pairs (at most :data:`SEEDS_CAP`), spaced evenly on a log
    scale, about ×1.5 apart and at most :data:`MAX_LOOKS` of them, alpha split equally.

    ``most`` is what the budget could give one arm at best (known before any result); a plan whose
    ``most`` is below ``first`` has one look at ``first`` (arms that do not reach it stay undecided).
    """
    if first < 2:
        raise ValueError(f"the first look needs at least 2 pairs for a paired t-test, got {first=}")
    most = min(max(most, first), SEEDS_CAP)
    k = 1 if most == first else min(MAX_LOOKS, 1 + max(1, round(math.log(most / first) / math.log(1.5))))
    pairs = sorted({first} | {round(first * (most / first) ** (i / (k - 1))) for i in range(1, k)}) if k > 1 else [first]
    alpha = 1 - level
    return LookPlan(tuple(pairs), tuple(alpha / len(pairs) for _ in pairs), level, margin)


@dataclass(frozen=True)
class ArmDecision:
    """What the procedure says of one arm: its verdict in words, and the test it rests on."""

    arm: str
    verdict: str  # helped | hurt | undecided | no difference shown
    pairs: int  # pairs the arm has
    look: int | None  # the look (1-based) that decided it; None: not decided
    test: Comparison | None  # the paired t-test of the deciding look, else of all the arm's pairs (descriptive)
    p_adjusted: float | None  # the smallest alpha overall at which this arm would be decided (Holm and the looks)
    threshold: float | None  # the p-value its test had to beat at the deciding (or last reached) look
    more_seeds: int | None  # undecided: about how many more pairs would likely decide it

    @property
    def decided(self) -> bool:
        return self.verdict in ("helped", "hurt")

    @property
    def settled(self) -> bool:
        """No more seeds are needed: decided, or shown to differ by less than the margin."""
        return self.verdict in ("helped", "hurt", "no difference shown")


def _holm_thresholds(ps: Mapping[str, float], rejected: set[str], alpha: float, m: int) -> tuple[set[str], dict[str, float]]:
    """Holm's step-down at ``alpha`` over ``m`` arms: the newly rejected, and each tested arm's adjusted p.

    ``rejected`` arms (decided at an earlier look) take the first places; arms not in ``ps`` are not
    tested at this look (p = 1). Adjusted p-values are Holm's, with the earlier rejections counted.
    """
    order = sorted(ps.items(), key=lambda kv: kv[1])
    new: set[str] = set()
    adjusted: dict[str, float] = {}
    running = 0.0
    stopped = False
    for rank, (arm, p) in enumerate(order, start=len(rejected)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[arm] = running
        if not stopped and p <= alpha / (m - rank):
            new.add(arm)
        else:
            stopped = True
    return new, adjusted


def decide(diffs: Mapping[str, Sequence[float]], plan: LookPlan, describe: bool = True) -> dict[str, ArmDecision]:
    """Every arm's decision from its paired differences so far (arm − baseline, in the pre-planned seed order).

    Replays every look the data reaches, so the answer depends only on the data and the plan (a
    resumed study decides exactly as an uninterrupted one). ``describe=False`` leaves out the
    descriptive test of an arm not decided (``test`` None; the verdicts are the same): the
    simulation's thousands of studies need the verdicts only.
    """
    m = len(diffs)
    alpha = 1 - plan.level
    decided: dict[str, tuple[int, Comparison, float]] = {}  # arm -> (look, its test, threshold)
    best_adjusted: dict[str, float] = {}
    last_threshold: dict[str, float] = {}
    for k, (n, a) in enumerate(zip(plan.pairs, plan.alphas), start=1):
        tested = [arm for arm, d in diffs.items() if len(d) >= n and arm not in decided]
        ps = {arm: p for arm in tested if (p := t_test_p(diffs[arm][:n])) is not None}
        new, adjusted = _holm_thresholds(ps, set(decided), a, m)
        for arm, p_adj in adjusted.items():  # on the overall scale: rejected at some look iff < alpha
            best_adjusted[arm] = min(best_adjusted.get(arm, 1.0), min(1.0, p_adj * alpha / a))
        ranks = {arm: r for r, (arm, _) in enumerate(sorted(ps.items(), key=lambda kv: kv[1]), start=len(decided))}
        for arm in tested:
            last_threshold[arm] = a / (m - ranks[arm]) if arm in ranks else a / max(1, m - len(decided))
        for arm in new:
            decided[arm] = (k, _paired(diffs[arm][:n], plan.level), last_threshold[arm])
    out = {}
    open_arms = max(1, m - len(decided))
    for arm, d in diffs.items():
        if arm in decided:
            k, test, threshold = decided[arm]
            verdict = "helped" if test.difference > 0 else "hurt"
            out[arm] = ArmDecision(arm, verdict, len(d), k, test, best_adjusted.get(arm), threshold, None)
            continue
        if len(d) < 2:  # no test possible yet: the first look is what it needs
            out[arm] = ArmDecision(arm, "undecided", len(d), None, None, None, None, plan.first - len(d))
            continue
        nxt = plan.next_look(len(d))  # the look that would test it next
        a_next = plan.alphas[plan.pairs.index(nxt)] if nxt is not None else plan.alphas[-1]
        more = seeds_needed(list(d), a_next / open_arms)
        described = _paired(list(d), plan.level) if describe else None
        # Before its first look an arm is never settled: two or three pairs say too little of the spread.
        verdict = "no difference shown" if len(d) >= plan.first and _within(d, plan.level, plan.margin) else "undecided"
        out[arm] = ArmDecision(arm, verdict, len(d), None, described, best_adjusted.get(arm), last_threshold.get(arm),
                               None if more is None else max(1, more - len(d)))
    return out


def _within(d: Sequence[float], level: float, margin: float) -> bool:
    """Whether the paired t interval of the differences ``d`` at ``level`` lies within ± ``margin``
    (two one-sided tests of equivalence, each at (1 − level) / 2)."""
    interval = t_interval(d, level)
    return interval is not None and -margin < interval[0] and interval[1] < margin


def t_interval(d: Sequence[float], level: float) -> tuple[float, float] | None:
    """The paired t-test's confidence interval of the mean difference (``scipy.stats.ttest_rel``'s,
    computed directly as :func:`t_test_p` is); the point itself with no spread; None with fewer than 2."""
    from scipy import special

    n = len(d)
    if n < 2:
        return None
    mean = math.fsum(d) / n
    if max(d) - min(d) <= 1e-12 * max(1.0, max(abs(x) for x in d)):
        return mean, mean
    half = float(special.stdtrit(n - 1, (1 + level) / 2)) * math.sqrt(math.fsum((x - mean) ** 2 for x in d) / (n - 1) / n)
    return mean - half, mean + half


def t_test_p(d: Sequence[float]) -> float | None:
    """Two-sided p-value of the paired t-test of the differences ``d`` (the one-sample t-test of their
    mean against 0: ``scipy.stats.ttest_1samp``'s, computed directly so the looks stay cheap enough to
    simulate thousands of studies with this very code); None with fewer than 2 or no spread."""
    from scipy import special

    n = len(d)
    if n < 2:
        return None
    mean = math.fsum(d) / n
    var = math.fsum((x - mean) ** 2 for x in d) / (n - 1)
    if var <= (1e-12 * max(1.0, abs(mean))) ** 2:
        return None
    t = mean / math.sqrt(var / n)
    return float(2 * special.stdtr(n - 1, -abs(t)))  # Student's t CDF (scipy.stats.t's own kernel)


def seeds_needed(diffs: Sequence[float], threshold: float, power: float = POWER) -> int | None:
    """The pair count at which a paired t-test at ``threshold`` (two-sided) would reject with chance
    ``power``, if the true difference and spread were those observed; None beyond :data:`SEEDS_CAP`
    (the difference is too small against its spread) or with no spread to go by."""
    import numpy as np
    from scipy import special

    if len(diffs) < 2:
        return None
    d = math.fsum(diffs) / len(diffs)
    s = math.sqrt(math.fsum((x - d) ** 2 for x in diffs) / (len(diffs) - 1))
    if s <= 1e-12 * max(1.0, abs(d)):
        return len(diffs) if d != 0 else None
    start = max(2, len(diffs))
    for lo, hi in ((start, start + 8), (start + 8, SEEDS_CAP + 1)):  # most answers are near: look there first
        n = np.arange(lo, min(hi, SEEDS_CAP + 1))
        if n.size == 0:
            continue
        crit = special.stdtrit(n - 1, 1 - threshold / 2)  # Student's t quantile
        nc = abs(d) * np.sqrt(n) / s
        power_n = 1 - special.nctdtr(n - 1, nc, crit) + special.nctdtr(n - 1, nc, -crit)  # noncentral t (scipy.stats.nct's kernel)
        hits = np.nonzero(power_n >= power)[0]
        if hits.size:
            return int(n[hits[0]])
    return None


def _paired(d: Sequence[float], level: float) -> Comparison:
    """The paired t-test of the differences ``d``: the one-sample t-test of their mean against 0."""
    return paired({i: float(x) for i, x in enumerate(d)}, {i: 0.0 for i in range(len(d))}, level=level,
                  label_a="arm", label_b="baseline")


def targets(decisions: Mapping[str, ArmDecision], plan: LookPlan, have: Mapping[str, int],
            affordable: Callable[[str, int], bool]) -> dict[str, int]:
    """How many pairs each arm should have before its next decision — where the seeds go.

    Every arm gets two pairs (the fewest that show a spread). From then on, an arm that is settled
    (helped, hurt, or — from its first look on — no difference shown: its interval within the
    margin) gets no more seeds. The others go
    on to their next look (the first look, then the later ones) when ``affordable(arm, pairs)``
    says it fits in the time left (the caller knows the costs, and counts what it grants: asked
    again for more pairs of the same arm, only the runs beyond those already counted): first
    those that a reachable number of seeds would likely decide, the most decidable first; then,
    with the time left, the long shots, again the most decidable first. Each arm granted its next
    look keeps the time of its later looks before any less decidable arm is granted anything (a
    prediction from a few pairs can be optimistic: its later looks must not go to a longer shot).
    None of this spends error rate: only the planned looks test (:func:`decide`), whatever the
    seeds' order was.
    """
    out = {arm: have.get(arm, 0) for arm in decisions}
    open_ = sorted((d for d in decisions.values() if not d.settled),
                   key=lambda d: d.more_seeds if d.more_seeds is not None else 10**9)
    for d in open_:
        if have.get(d.arm, 0) < 2:
            out[d.arm] = 2

    def likely(d: ArmDecision) -> bool:
        return d.more_seeds is not None and have.get(d.arm, 0) + d.more_seeds <= plan.most

    for long_shots in (False, True):
        for d in open_:
            n = have.get(d.arm, 0)
            if n < 2 or out[d.arm] > n:
                continue
            nxt = plan.first if n < plan.first else plan.next_look(n)
            if nxt is not None and likely(d) != long_shots and affordable(d.arm, nxt):
                out[d.arm] = nxt
                if d.more_seeds is not None and plan.most > nxt:
                    affordable(d.arm, plan.most)  # its later looks kept before any less decidable arm's next one
    return out
