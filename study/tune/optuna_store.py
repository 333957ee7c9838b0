"""The study's Optuna storage (``optuna.journal`` in the study folder): every Optuna query of the
study — the searcher's, the driver's, the dashboard's — goes through this module. No Ray here.

The storage is Optuna's ``JournalStorage`` on a file: an append-only log of operations that each
process replays once and then reads only from where it left off. With many trials running, TPE's
constant liar reads every running trial at each suggestion; an RDB storage re-reads them through
SQLAlchemy each time (172–196 ms a suggestion with 64 running, against 18–46 ms for the journal:
``bench/optuna_suggest.py``, docs/SCALING.md). Only the driver writes it; the journal's lock is a
symlink, which also holds on a shared file system where SQLite's locks do not.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

__all__ = ["OPTUNA_FILE", "count_skipped", "optuna_file", "param_importances", "read_trials", "settle_running", "storage", "sync"]

OPTUNA_FILE = "optuna.journal"  # in the study folder; `optuna-dashboard <that file>` opens it


def optuna_file(study_dir: Path) -> str:
    """The study's Optuna journal, as the absolute path that the driver and ``optuna-dashboard`` take."""
    return str((study_dir / OPTUNA_FILE).resolve())


_STORAGES: dict[str, tuple[Any, tuple[int, int] | None]] = {}  # path -> (storage, the file's identity)


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _open(path: str) -> Any:
    import optuna

    from study.tune.journal_file import JournalFile

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.storages.JournalStorage(JournalFile(path))


def sync(path: str) -> None:
    """Put the journal's lines on disk (the end of a phase: see :class:`study.tune.journal_file.JournalFile`)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def storage(path: str) -> Any:
    """One ``JournalStorage`` per study journal in this process: a new one replays the whole log, and
    the driver asks for the study's several times a phase. A file removed or replaced since (a study
    folder made again at the same place) gets a new one: the old one's replay is of the old file."""
    cached = _STORAGES.get(path)
    if cached is not None and cached[1] is not None and cached[1] == _file_id(path):
        return cached[0]
    opened = _open(path)  # creates the file when it is missing
    _STORAGES[path] = (opened, _file_id(path))
    return opened


def count_skipped(path: str, name: str) -> int:
    """Suggestions the searcher did not start because they would not have fit (all sessions)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage(path))
    except KeyError:
        return 0
    return sum(1 for t in study.get_trials(deepcopy=False) if "xs_skipped" in t.user_attrs)


def settle_running(path: str, name: str) -> None:
    """After the search: no Optuna trial stays RUNNING (trials cut off by the budget are PRUNED)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=storage(path))
    except KeyError:
        return
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        state = optuna.trial.TrialState.PRUNED if t.intermediate_values else optuna.trial.TrialState.FAIL
        study.tell(t.number, state=state)
    sync(path)


def read_trials(journal: Path, name: str) -> list[dict[str, Any]]:
    """The study's Optuna trials as plain values, read without writing to the file (the dashboard's view).

    Raises ``FileNotFoundError`` when there is no journal (opening one would create it), and what
    Optuna raises for a damaged or foreign file; the caller decides what to show.
    """
    import optuna
    from optuna.distributions import distribution_to_json

    if not journal.is_file():
        raise FileNotFoundError(f"{journal}: no Optuna journal")
    frozen = optuna.load_study(study_name=name, storage=_open(str(journal))).get_trials(deepcopy=False)
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
