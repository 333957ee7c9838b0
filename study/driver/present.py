"""The end of every session (``study launch``, ``study resume``) and of ``study sync``: the study's
dashboard written in its folder, and its answer on the MLflow parent run (description, key
metrics, ``dashboard.html``), each trial's run naming its data set.

Nothing here may fail a study: every step that goes wrong is a warning, and the study's records
stay what they are (``study sync`` or ``study dashboard`` redo these steps later).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["data_sets", "present", "refresh", "write_dashboard_quietly"]


def write_dashboard_quietly(study_dir: Path, say: Callable[[str], None]) -> Path | None:
    """``<study_dir>/dashboard.html`` written from what the folder holds now; None (and a warning) if it cannot be."""
    try:  # the layer above, imported only here, at the end of a session
        from dashboards import write_dashboard

        return write_dashboard(study_dir)
    except Exception as e:  # noqa: BLE001 -- the dashboard must never be what makes a study fail
        say(f"warning: could not write the dashboard: {type(e).__name__}: {e}; try `study dashboard {study_dir.name}`")
        return None


def data_sets(study_dir: Path, cache_folder: Path | None) -> dict[str, tuple[str, str, str]]:
    """Run name -> (data set, digest, decoded cache folder) of each trial whose cache is on this machine.

    The digest is the decoded cache's own key (of the images' paths, sizes and times, and the
    presize: what the trial trained on); ``cache_folder`` is the base configuration's
    (``<data set>-p<presize>-<digest>``), and caches of other presizes are found beside it.
    """
    from study.tracking.records import read_records

    if cache_folder is None:
        return {}
    stem = cache_folder.name.rsplit("-p", 1)[0]
    found: dict[str, Path | None] = {}
    out = {}
    for state in read_records(study_dir):
        presize = state.params.get("presize")
        if not presize or not state.run_name:
            continue
        if presize not in found:
            matches = sorted(cache_folder.parent.glob(f"{stem}-p{presize}-*"), key=lambda p: p.stat().st_mtime)
            found[presize] = matches[-1] if matches else None
        folder = found[presize]
        if folder is not None:
            out[state.run_name] = (stem, folder.name.rsplit("-", 1)[-1], str(folder))
    return out


def present(study_dir: Path, tracking: Any, summary: dict[str, Any] | None, dashboard: Path | None,
            say: Callable[[str], None], *, cache_folder: Path | None = None, state: str = "done") -> None:
    """The study's answer on its parent run, and the trial runs' data sets (through study.tracking)."""
    from study.analysis.headline import parent_metrics, parent_note
    from study.tracking.display import log_dataset_inputs, present_parent_run

    try:
        note = parent_note(summary, dashboard, study=tracking.study, state=state)
        present_parent_run(tracking.uri, tracking.parent_run_id, note, parent_metrics(summary) if summary else {}, dashboard)
        log_dataset_inputs(tracking.uri, tracking.experiment_id, tracking.parent_run_id, data_sets(study_dir, cache_folder))
    except Exception as e:  # noqa: BLE001 -- never hide the study's own outcome behind a tracking one
        say(f"warning: could not put the study's answer on its MLflow parent run: {type(e).__name__}: {e}; "
            f"`study sync {study_dir.name}` tries again")


def refresh(study_dir: Path, uri: str | None, say: Callable[[str], None]) -> Path | None:
    """``study sync``'s last step: the dashboard written again, and (with ``uri``) put again on the parent run."""
    import json

    from study.common.folder import read_study
    from study.tracking import TrackingInfo

    dashboard = write_dashboard_quietly(study_dir, say)
    record = read_study(study_dir)
    if uri and record.get("parent_run_id"):
        try:
            summary = json.loads((study_dir / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            summary = None
        tracking = TrackingInfo(uri, "", str(record["parent_run_id"]), str(record["name"]))
        present(study_dir, tracking, summary if isinstance(summary, dict) else None, dashboard, say,
                state="done" if record.get("phase") == "done" else "interrupted")
    return dashboard
