"""The study's Optuna storage (``optuna.db`` in the study folder): every Optuna query of the
study — the searcher's, the driver's, the dashboard's — goes through this module. No Ray here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["count_skipped", "optuna_url", "param_importances", "read_trials", "settle_running", "storage"]

def optuna_url(study_dir: Path) -> str:
    """The study's Optuna RDB storage (``optuna.db`` in the study folder)."""
    return f"sqlite:///{(study_dir / 'optuna.db').resolve()}"


_STORAGES: dict[str, tuple[Any, tuple[int, int] | None]] = {}  # url -> (storage, the database file's identity)


def _file_id(url: str) -> tuple[int, int] | None:
    try:
        st = os.stat(url.removeprefix("sqlite:///"))
    except OSError:
        return None
    return st.st_dev, st.st_ino


def storage(url: str) -> Any:
    """One ``RDBStorage`` per study database in this process: each new one sets up its engine and
    checks the schema (about 0.1 s), and the driver asks for the study's several times a phase.
    A database file that was removed or replaced since gets a new one (open connections would
    still point at the old file)."""
    import optuna

    cached = _STORAGES.get(url)
    if cached is not None and cached[1] is not None and cached[1] == _file_id(url):
        return cached[0]
    storage = optuna.storages.RDBStorage(url)
    _STORAGES[url] = (storage, _file_id(url))
    return storage


def count_skipped(url: str, name: str) -> int:
    """Suggestions the searcher did not start because they would not have fit (all sessions)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage(url))
    except KeyError:
        return 0
    return sum(1 for t in study.get_trials(deepcopy=False) if "xs_skipped" in t.user_attrs)


def settle_running(url: str, name: str) -> None:
    """After the search: no Optuna trial stays RUNNING (trials cut off by the budget are PRUNED)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage(url))
    except KeyError:
        return
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        state = optuna.trial.TrialState.PRUNED if t.intermediate_values else optuna.trial.TrialState.FAIL
        study.tell(t.number, state=state)


def read_trials(db: Path, name: str) -> list[dict[str, Any]]:
    """The study's Optuna trials as plain values, read without writing to the file (the dashboard's view).

    Raises what Optuna raises for a half-written or foreign file; the caller decides what to show.
    """
    import optuna
    from optuna.distributions import distribution_to_json

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = optuna.storages.RDBStorage(f"sqlite:///{db.resolve()}", skip_table_creation=True)
    try:
        frozen = optuna.load_study(study_name=name, storage=store).get_trials(deepcopy=False)
    finally:
        store.remove_session()
    return [{"number": t.number, "state": t.state.name,
             "values": tuple(float(v) for v in t.values) if t.values is not None else None, "params": dict(t.params),
             "distributions": {k: distribution_to_json(d) for k, d in t.distributions.items()},
             "skipped": "xs_skipped" in t.user_attrs} for t in frozen]


def param_importances(trials: list[tuple[float, dict[str, Any], dict[str, str]]]) -> dict[str, float]:
    """Optuna's PED-ANOVA importance of each parameter, from ``(objective, params, distributions as JSON)``
    of finished trials (maximized). Raises what Optuna raises when it cannot rank them."""
    import optuna
    from optuna.distributions import json_to_distribution

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize")
    study.add_trials([
        optuna.trial.create_trial(state=optuna.trial.TrialState.COMPLETE, value=value, params=params,
                                  distributions={k: json_to_distribution(d) for k, d in distributions.items()})
        for value, params, distributions in trials
    ])
    return dict(optuna.importance.get_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator()))
