"""A study folder into :class:`~dashboards.tables.StudyTables`.

The trial records (``records/*.jsonl``) are the source of truth — the dashboard works while
MLflow is down, and shows whatever exists of a study that is still running or was interrupted.
The outcome journals (``trials-<phase>.jsonl``) add the driver's verdict, ``summary.json`` the
study's answer (``confirm.json`` the confirmation's, before there is a summary), ``optuna.journal``
the sampler's view (for importance and the trials not started), ``study.json``, ``study.toml``
and ``budget.json`` what the study is and its clock. Any of them but ``study.json`` may be
missing; what cannot be read becomes a note, never an error.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from dashboards.tables import Epoch, OptunaTrial, StudyMeta, StudyTables, Trial
from study.common.errors import UsageError
from trainable.timing import TrialTimes

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["load_study"]

PHASES = {"trial": "search", "confirmation": "confirm"}  # a record's kind -> its phase


def load_study(study_dir: str | Path) -> StudyTables:
    """Everything the dashboard needs of the study in ``study_dir``.

    Raises ``UsageError`` when ``study_dir`` is not a study folder (no readable ``study.json``).
    """
    from study.tune.optuna_store import OPTUNA_FILE

    folder = Path(study_dir)
    record = _study_record(folder)
    notes: list[str] = []
    meta = _meta(folder, record, notes)
    journals = {phase: _journal(folder / f"trials-{phase}.jsonl") for phase in ("search", "confirm")}
    trials = _trials(folder, journals, meta.phase, notes)
    summary = _json(folder / "summary.json", notes)
    confirmation = _json(folder / "confirm.json", notes)  # the phase's outcome, before the study has a summary
    optuna_rows = _optuna(folder / OPTUNA_FILE, meta.name, notes)
    return StudyTables(meta=meta, trials=tuple(trials), optuna=tuple(optuna_rows), summary=summary,
                       confirmation=confirmation if isinstance(confirmation, dict) else None, notes=tuple(notes))


# ------------------------------------------------------------------------------------------------
# What the study is
# ------------------------------------------------------------------------------------------------


def _study_record(folder: Path) -> dict[str, Any]:
    from study.common.folder import RECORD, read_study

    if not folder.is_dir():
        raise UsageError(f"{folder} is not a folder; pass a study folder (one with a {RECORD})")
    if not (folder / RECORD).exists():
        raise UsageError(f"{folder} is not a study folder: it has no {RECORD} (`study launch` writes one)")
    return read_study(folder)  # the same message as every other command for a damaged one


def _meta(folder: Path, record: dict[str, Any], notes: list[str]) -> StudyMeta:
    from study.common.folder import tracking_uri_of
    from study.spec import Budget
    from study.spec import StudySpec as Spec

    spec = _toml(folder / "study.toml", notes)
    budget = _dict(spec.get("budget"))
    metrics = _dict(spec.get("objective")).get("metrics")
    search = _dict(spec.get("search"))
    clock = _json(folder / "budget.json", notes) or {}
    origin = None
    if _number(clock.get("session_started")) and _number(clock.get("spent_before")):
        origin = float(clock["session_started"]) - float(clock["spent_before"])
    return StudyMeta(
        name=str(record["name"]),
        folder=folder,
        phase=str(record.get("phase", "starting")),
        budget_s=float(record.get("budget_s") or 0.0),
        confirm_share=float(budget.get("confirm_share", Budget.confirm_share)),
        ablation_share=float(budget.get("ablation_share", Budget.ablation_share)),
        objectives=tuple(str(m) for m in metrics) if isinstance(metrics, list) and metrics else ("accuracy",),
        log_params=frozenset(k for k, v in search.items() if isinstance(v, dict) and v.get("log")),
        search_params=tuple(search),
        started=float(record["started"]) if _number(record.get("started")) else None,
        clock_origin=origin,
        spent_s=float(clock["spent_s"]) if _number(clock.get("spent_s")) else None,
        parent_run_id=record.get("parent_run_id"),
        tracking_uri=tracking_uri_of(folder, record),
        level=_level(_dict(spec.get("objective")).get("level"), Spec.level),
        asha=_asha(_dict(spec.get("early_stopping"))),
        test_hooks=str(record["test_hooks"]) if record.get("test_hooks") else None,
    )


def _asha(es: dict[str, Any]) -> tuple[int, float] | None:
    """ASHA's grace period (epochs) and reduction factor, when the study file stops trials early by epoch."""
    from study.spec import EarlyStopping

    d = EarlyStopping()
    if es.get("scheduler", d.scheduler) != "asha" or es.get("time_attr", d.time_attr) != "epoch":
        return None
    grace, rf = es.get("grace_period", d.grace_period), es.get("reduction_factor", d.reduction_factor)
    return (int(grace), float(rf)) if _number(grace) and _number(rf) else None


def _level(x: Any, default: float) -> float:
    """The study file's confidence level, when it is a number in [0.5, 1)."""
    return float(x) if _number(x) and 0.5 <= float(x) < 1 else default


# ------------------------------------------------------------------------------------------------
# The trials
# ------------------------------------------------------------------------------------------------


def _journal(path: Path) -> dict[str, dict[str, Any]]:
    """A phase's outcome journal: trial id -> the last outcome recorded (a line cut short is skipped)."""
    out: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return out
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and isinstance(row.get("trial_id"), str):
            out[row["trial_id"]] = row
    return out


def _trials(folder: Path, journals: dict[str, dict[str, dict[str, Any]]], phase: str, notes: list[str]) -> list[Trial]:
    from study.tracking.records import read_record

    trials: list[Trial] = []
    seen: set[tuple[str, str]] = set()
    records = sorted((folder / "records").glob("*.jsonl")) if (folder / "records").is_dir() else []
    bad = 0
    for path in records:
        state = read_record(path)
        bad += state.bad_lines
        trial_id = state.trial_key.rsplit("/", 1)[-1]
        kind = PHASES.get(state.kind, "search")
        journal = journals[kind].get(trial_id)
        start, end = _span(path)
        trials.append(_trial(trial_id, kind, journal, state, start, end, phase))
        seen.add((kind, trial_id))
    if bad:
        notes.append(f"{bad} record line(s) cut short (a crash while writing) were skipped")
    for kind, rows in journals.items():  # outcomes whose trial left no record (it never got to start one)
        for trial_id, journal in rows.items():
            if (kind, trial_id) not in seen:
                trials.append(_trial(trial_id, kind, journal, None, None, None, phase))
    return sorted(trials, key=lambda t: (t.phase != "search", t.start if t.start is not None else math.inf, t.name))


def _trial(trial_id: str, phase: str, journal: dict[str, Any] | None, state: Any, start: float | None, end: float | None,
           study_phase: str) -> Trial:
    journal = journal or {}
    result = _dict(journal.get("result"))
    raw_params = dict(state.params) if state is not None else {}
    searched = {k[len("search."):]: _param(v) for k, v in raw_params.items() if k.startswith("search.")}
    config = {k: _param(v) for k, v in raw_params.items() if not k.startswith("search.")}
    seed_recipe = searched.pop("seed_recipe", None) or _dict(result.get("config")).get("seed_recipe")
    params = _dict(journal["params"]) if isinstance(journal.get("params"), dict) else searched
    config = _dict(journal.get("config")) or config
    final = dict(state.final) if state is not None and state.final else {
        k: float(result[k]) for k in ("accuracy", "accuracy_tta", "top5", "train_seconds", "infer_ms_per_image",
                                      "infer_ms_per_image_tta", "cost", "objective")
        if result.get("xs_finished") and _number(result.get(k))}
    epochs = tuple(_epoch(step, m) for step, m in sorted(state.epochs.items())) if state is not None else ()
    objective = journal.get("objective")
    if not _number(objective):
        objective = final.get("objective", epochs[-1].accuracy if epochs else None)
    outcome = journal.get("outcome") or ((state.end or {}).get("outcome") if state is not None else None)
    if outcome not in ("finished", "pruned", "budget", "failed"):
        outcome = "unknown" if study_phase == "done" else "running"
    if start is None and _number(result.get("timestamp")) and _number(result.get("time_total_s")):
        end = float(result["timestamp"])
        start = end - float(result["time_total_s"])
    error = journal.get("error") or ((state.end or {}).get("error") if state is not None else None)
    return Trial(
        trial_id=trial_id,
        name=str(journal.get("name") or (state.run_name if state is not None else "") or trial_id),
        phase=phase,
        outcome=str(outcome),
        objective=float(objective) if objective is not None and _number(objective) else None,
        params=dict(params),
        config=dict(config),
        final=final,
        epochs=epochs,
        start=start,
        end=end,
        label=journal.get("label"),
        seed_recipe=str(seed_recipe) if seed_recipe else None,
        error=str(error) if error else None,
        times=TrialTimes.from_flat(result) or TrialTimes.from_flat(final),
        attempts=tuple(state.attempts) if state is not None else (),
    )


def _epoch(step: int, metrics: dict[str, float]) -> Epoch:
    acc = metrics.get("accuracy")
    size = metrics.get("size")
    return Epoch(int(step), float(acc) if acc is not None and _number(acc) else None,
                 int(size) if size is not None and _number(size) else None, dict(metrics))


def _span(path: Path) -> tuple[float | None, float | None]:
    """(first, last) time of a record's lines, s since the Unix epoch (lines carry ms)."""
    times = []
    with open(path, "rb") as f:
        for raw in f:
            try:
                t = json.loads(raw).get("time")
            except (ValueError, AttributeError):
                continue
            if _number(t):
                times.append(float(t) / 1000.0)
    return (min(times), max(times)) if times else (None, None)


def _param(text: str) -> Any:
    """A record's param back to its value: non-strings were logged as JSON, strings as they were."""
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return text
    return value if isinstance(value, (bool, int, float)) or value is None else text


# ------------------------------------------------------------------------------------------------
# Optuna's view
# ------------------------------------------------------------------------------------------------


def _optuna(path: Path, name: str, notes: list[str]) -> list[OptunaTrial]:
    if not path.exists():
        return []
    from study.tune.optuna_store import read_trials

    try:
        rows = read_trials(path, name)
    except Exception as e:  # noqa: BLE001 -- a half-written or foreign file: the dashboard still renders without it
        notes.append(f"{path} could not be read by Optuna ({type(e).__name__}: {e})")
        return []
    return [OptunaTrial(**row) for row in rows]


# ------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------


def _json(path: Path, notes: list[str]) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        notes.append(f"{path.name} could not be read ({e})")
        return None
    return data if isinstance(data, dict) else None


def _toml(path: Path, notes: list[str]) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        notes.append(f"{path.name} could not be read ({e}); its defaults are assumed")
        return {}


def _dict(x: Any) -> dict[str, Any]:
    """``x`` when it is a JSON object, else an empty one (a file written by another version)."""
    return x if isinstance(x, dict) else {}


def _number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
