"""Panel 3, importance: Optuna's own PED-ANOVA evaluator over the finished search trials, set
against what it cannot see — how many trials it rests on, and whether the objective varies across
trials by more than the seed noise at all (a ranking of parameters inside seed noise ranks noise).

PED-ANOVA: Watanabe et al., "PED-ANOVA: Efficiently Quantifying Hyperparameter Importance in
Arbitrary Subspaces" (IJCAI 2023); ``optuna.importance.PedAnovaImportanceEvaluator``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboards.panels.effects import seed_noise
from dashboards.tables import StudyTables

__all__ = ["FEW_TRIALS", "ImportanceInfo", "importance_info"]

FEW_TRIALS = 30  # below this many finished trials, the note says a ranking is not to be trusted


@dataclass(frozen=True)
class ImportanceInfo:
    importances: tuple[tuple[str, float], ...]  # (parameter, importance), most important first
    evaluator: str
    n_trials: int  # finished trials the evaluator saw
    left_out: tuple[str, ...]  # searched parameters not set in every trial (conditional): the evaluator skips them
    spread: float | None  # max − min objective over those trials
    noise_sd: float | None  # seed noise σ (confirmation runs)
    note: str | None = None
    reason: str | None = None


def importance_info(tables: StudyTables) -> ImportanceInfo:
    from study.tune.optuna_store import param_importances

    sd, _ = seed_noise(tables)
    acc = tables.meta.objectives.index("accuracy") if "accuracy" in tables.meta.objectives else 0
    rows = [t for t in tables.optuna if t.state == "COMPLETE" and t.values is not None and len(t.values) > acc and t.params]
    name = "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)"
    if len(rows) < 2:
        why = "no Optuna storage in the study folder" if not tables.optuna else f"{len(rows)} finished trial(s) in optuna.journal"
        return ImportanceInfo((), name, len(rows), (), None, sd, reason=f"{why}: importance needs at least 2 finished trials")
    common = set.intersection(*(set(t.params) for t in rows))
    every = sorted({p for t in rows for p in t.params})
    left_out = tuple(p for p in every if p not in common)
    values = [t.values[acc] for t in rows if t.values is not None]
    spread = max(values) - min(values)

    try:
        ranked = param_importances([(t.values[acc], {k: t.params[k] for k in common}, {k: t.distributions[k] for k in common})
                                    for t in rows if t.values is not None])
    except Exception as e:  # noqa: BLE001 -- e.g. too few trials in the top quantile, or nothing varies
        why = f"Optuna's evaluator could not rank these trials ({type(e).__name__}: {e})"
        return ImportanceInfo((), name, len(rows), left_out, spread, sd, reason=why)
    notes = []
    if len(rows) < FEW_TRIALS:
        notes.append(f"only {len(rows)} finished trials: with fewer than {FEW_TRIALS}, a ranking moves with every new trial; "
                     "read it as a hint, not a result")
    if sd is not None and spread <= 4 * sd:
        notes.append(f"the objective spans {100 * spread:.1f} pp across these trials, within ±2σ of seed noise "
                     f"(σ = {100 * sd:.1f} pp): differences between trials, and so this ranking, may be seed noise")
    elif sd is None:
        notes.append("no seed-noise estimate (no configuration confirmed with 2+ seeds): cannot say whether the ranking exceeds noise")
    if left_out:
        notes.append("not ranked (not set in every trial): " + ", ".join(left_out))
    return ImportanceInfo(tuple(ranked.items()), name, len(rows), left_out, spread, sd, note="; ".join(notes) or None)
