"""How MLflow's UI shows a study: as model training (not GenAI), a parent run that says what the
study found (description, key metrics, the dashboard as an artifact), trial runs that name their
data set, and links that land on the runs rather than on the server's root.

MLflow 3's UI reads the experiment tag ``mlflow.experimentKind``; with ``custom_model_development``
``#/experiments/<id>/runs`` opens on "Training runs" (its root still opens the GenAI overview, so
``study ui`` prints deep links). A run's description is its ``mlflow.note.content`` tag (markdown).
MLflow 3.17's artifact view shows an ``.html`` file inline, in a sandboxed iframe with scripts.
"""

from __future__ import annotations

import time
from pathlib import Path

from study.tracking.store import EXPERIMENT_KIND, EXPERIMENT_KIND_TAG, PARENT, TRIAL_HTTP, client, quick_http, tag_experiment_kind

__all__ = ["DASHBOARD_ARTIFACT", "EXPERIMENT_KIND", "EXPERIMENT_KIND_TAG", "NOTE_TAG", "log_dataset_inputs",
           "present_parent_run", "tag_experiment_kind", "ui_links"]

NOTE_TAG = "mlflow.note.content"
DASHBOARD_ARTIFACT = "dashboard.html"


def present_parent_run(uri: str, run_id: str, note: str, metrics: dict[str, float], dashboard: Path | None) -> None:
    """The study's answer on its parent run: description, key metrics (step 0, replaced on resume), dashboard."""
    from mlflow.entities import Metric

    with quick_http(*TRIAL_HTTP):
        c = client(uri)
        c.set_tag(run_id, NOTE_TAG, note)
        now = int(time.time() * 1000)
        if metrics:
            c.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in sorted(metrics.items())])
        if dashboard is not None and dashboard.is_file():
            if dashboard.name != DASHBOARD_ARTIFACT:
                raise ValueError(f"the dashboard artifact must be named {DASHBOARD_ARTIFACT}, got {dashboard.name!r}")
            c.log_artifact(run_id, str(dashboard))  # logged again, it replaces the file of the same name


def log_dataset_inputs(uri: str, experiment_id: str, parent_run_id: str, datasets: dict[str, tuple[str, str, str]]) -> int:
    """Name each child run's data set as an MLflow dataset input, without copying any data.

    ``datasets``: run name -> (data set name, digest of what was trained on, source path). A run
    that already names one is left as it is. Returns how many runs got one.
    """
    import warnings

    from mlflow.data.dataset_source_registry import resolve_dataset_source
    from mlflow.data.meta_dataset import MetaDataset
    from mlflow.entities import DatasetInput, InputTag
    from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

    if not datasets:
        return 0
    with quick_http(*TRIAL_HTTP):
        c = client(uri)
        runs = c.search_runs([experiment_id], filter_string=f"tags.`{PARENT}` = '{parent_run_id}'", max_results=10_000)
        n = 0
        for r in runs:
            ds = datasets.get(r.info.run_name or "")
            if ds is None or (r.inputs is not None and r.inputs.dataset_inputs):
                continue
            name, digest, source = ds
            with warnings.catch_warnings():  # "can be interpreted in multiple ways": a local folder either way
                warnings.simplefilter("ignore")
                where = resolve_dataset_source(source)
            entity = MetaDataset(where, name=name, digest=digest)._to_mlflow_entity()  # type: ignore[abstract]
            c.log_inputs(r.info.run_id, datasets=[DatasetInput(entity, tags=[InputTag(MLFLOW_DATASET_CONTEXT, "training")])])
            n += 1
    return n


def ui_links(base_url: str, experiment_id: str, parent_run_id: str | None) -> list[tuple[str, str]]:
    """(what, URL) of the study's pages in an MLflow UI at ``base_url``: its runs, its parent run, the dashboard."""
    runs = f"{base_url}/#/experiments/{experiment_id}/runs"
    links = [("runs", runs)]
    if parent_run_id:
        links += [("parent run", f"{runs}/{parent_run_id}"),
                  ("dashboard", f"{runs}/{parent_run_id}/artifactPath/{DASHBOARD_ARTIFACT}")]
    return links
