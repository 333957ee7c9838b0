"""The study folder's own record of a study: ``study.json``, and the study file as launched.

``study.json`` says what the study is (name, launch id, MLflow parent run, options) and which
phase it reached: ``starting``, then the name of each phase of :data:`study.driver.phases.PHASES`
while it runs, then ``done``; ``study.toml`` is the study
file as it was at launch, so ``study resume`` runs the same study even if the original file has
changed or gone. Relative paths in it keep meaning what they meant: they are resolved against the
original file's folder, recorded as ``source_dir``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.common.errors import UsageError
from study.common.files import write_json
from study.common.folder import FORMAT, RECORD, folder_tracking_uri, read_study

if TYPE_CHECKING:
    from study.spec import StudySpec

__all__ = ["saved_spec", "save_new_study", "update_record"]

STUDY_FILE = "study.toml"


def update_record(study_dir: Path, **changes: Any) -> dict[str, Any]:
    data = {**read_study(study_dir), **changes}
    write_json(study_dir / RECORD, data)
    return data


def save_new_study(study_dir: Path, spec: StudySpec, study_text: str, record: dict[str, Any], *,
                   tracking_uri: str | None) -> None:
    """The study file as launched and the first ``study.json`` (phase ``starting``).

    The study folder's own MLflow store is recorded as ``"tracking_store": "folder"`` (found inside
    the folder wherever it is moved); any other tracking URI as it is.
    """
    own = tracking_uri is not None and tracking_uri == folder_tracking_uri(study_dir)
    (study_dir / STUDY_FILE).write_text(study_text, encoding="utf-8")
    source = Path(spec.source)
    b = spec.budget
    write_json(study_dir / RECORD, {
        **record,
        "format": FORMAT,
        "name": spec.name,
        "tracking_store": "folder" if own else None,
        "tracking_uri": None if own else tracking_uri,
        "phase": "starting",
        "source": spec.source,
        "source_dir": str(source.resolve().parent) if source.is_file() else None,
        "seed": spec.seed,
        "budget_s": b.time_s,
        "resolved": {"name": spec.name, "seed": spec.seed, "time_s": b.time_s, "max_trials": b.max_trials,
                     "confirm_top": b.confirm_top, "confirm_seeds": b.confirm_seeds,
                     "data_dir": spec.base.get("data_dir")},
    })


def saved_spec(study_dir: Path, record: dict[str, Any]) -> StudySpec:
    """The study as launched: the saved study file with the launch's flags applied again."""
    from dataclasses import replace

    from study.spec import apply_overrides, spec_from_dict

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
