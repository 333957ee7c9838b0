"""The study folder's own record of a study: ``study.json``, and the study file as launched.

``study.json`` says what the study is (name, launch id, MLflow parent run, options) and which
phase it reached (``starting`` → ``search`` → ``confirm`` → ``done``); ``study.toml`` is the study
file as it was at launch, so ``study resume`` runs the same study even if the original file has
changed or gone. Relative paths in it keep meaning what they meant: they are resolved against the
original file's folder, recorded as ``source_dir``.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from study.common.errors import UsageError
from study.common.files import write_json

__all__ = ["PHASES", "read_record", "saved_spec", "save_new_study", "update_record"]

PHASES = ("starting", "search", "confirm", "done")
RECORD = "study.json"
STUDY_FILE = "study.toml"


def read_record(study_dir: Path) -> dict[str, Any]:
    path = study_dir / RECORD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} cannot be read ({e}); it is not a study folder this tool wrote") from None
    if not isinstance(data, dict) or "name" not in data:
        raise UsageError(f"{path} is not a study record (no 'name'); it is not a study folder this tool wrote")
    return data


def update_record(study_dir: Path, **changes: Any) -> dict[str, Any]:
    data = {**read_record(study_dir), **changes}
    write_json(study_dir / RECORD, data)
    return data


def save_new_study(study_dir: Path, spec: Any, study_text: str, record: dict[str, Any]) -> None:
    """The study file as launched and the first ``study.json`` (phase ``starting``)."""
    (study_dir / STUDY_FILE).write_text(study_text, encoding="utf-8")
    source = Path(spec.source)
    b = spec.budget
    write_json(study_dir / RECORD, {
        **record,
        "name": spec.name,
        "phase": "starting",
        "source": spec.source,
        "source_dir": str(source.resolve().parent) if source.is_file() else None,
        "seed": spec.seed,
        "budget_s": b.time_s,
        "resolved": {"name": spec.name, "seed": spec.seed, "time_s": b.time_s, "max_trials": b.max_trials,
                     "confirm_top": b.confirm_top, "confirm_seeds": b.confirm_seeds,
                     "data_dir": spec.base.get("data_dir")},
    })


def saved_spec(study_dir: Path, record: dict[str, Any]) -> Any:
    """The study as launched: the saved study file with the launch's flags applied again."""
    from dataclasses import replace

    from study.spec.space import apply_overrides, spec_from_dict

    path = study_dir / STUDY_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UsageError(f"{path} cannot be read ({e}); the study cannot be resumed without it") from None
    spec = spec_from_dict(data, record.get("source") or str(path), base_dir=record.get("source_dir"))
    r = record["resolved"]
    spec = apply_overrides(spec, time_budget=r["time_s"], max_trials=r["max_trials"], seed=r["seed"], name=r["name"],
                           confirm_top=r["confirm_top"], confirm_seeds=r["confirm_seeds"])
    if r.get("data_dir"):
        spec = replace(spec, base={**spec.base, "data_dir": r["data_dir"]})
    return spec
