"""Optuna's side of a study: one trial's parameters, sampled define-by-run from the ``[search]`` section.

Optuna is imported only for its types (the searcher passes the trial in), so reading a study file
never imports it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from study.spec.model import StudySpec

if TYPE_CHECKING:
    import optuna

__all__ = ["suggest"]


def suggest(trial: optuna.Trial, spec: StudySpec) -> dict[str, Any]:
    """Sample one configuration, define-by-run (Ray's ``OptunaSearch(space=callable)``).

    Parameters are suggested in dependency order; one whose ``when`` fails is skipped (not sampled,
    not returned). Returns the sampled values by name.
    """
    sampled: dict[str, Any] = {}
    for p in spec.params:
        if not p.is_active(sampled):
            continue
        if p.kind == "float":
            sampled[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log, step=p.step)  # type: ignore[arg-type]
        elif p.kind == "int":
            sampled[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log, step=p.step or 1)  # type: ignore[arg-type]
        else:
            sampled[p.name] = trial.suggest_categorical(p.name, list(p.choices))
    return sampled
