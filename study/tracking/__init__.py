"""MLflow, and the study folder's trial records it is filled from.

Every MLflow call of the project goes through this package: :mod:`~study.tracking.runs` (the
study's parent run and one nested run per trial), :mod:`~study.tracking.sender` (the one thread
per Ray worker that sends a trial's calls), :mod:`~study.tracking.records` (each trial's own
fsync'ed record, the source of truth), :mod:`~study.tracking.sync` (``study sync``: what MLflow
missed), :mod:`~study.tracking.secrets` and :mod:`~study.tracking.artifacts`.
"""
