"""The study file: its model (frozen dataclasses), parsing and value checks, the ``[search]``
parameters and their suggestion, translation into ``TrialConfig``, durations, and the book's seed
recipes. ``default_space.toml`` beside this file is the built-in demo study.

Modules, one concept each: ``model`` (:class:`StudySpec` and its parts, :data:`METRICS`),
``parse`` (:func:`load_study_file`, :func:`spec_from_dict`, :func:`apply_overrides`), ``params``
(the ``[search]`` grammar), ``checks`` (its values against the trial config), ``translate``
(:func:`to_trial_config`, :func:`describe`), ``suggest`` (Optuna's define-by-run sampling; optuna
is never imported here), ``durations`` and ``seeds``.
"""

from study.spec.durations import MAX_DURATION_S, format_duration, parse_duration
from study.spec.model import (
    METRICS,
    VIRTUAL,
    Budget,
    Condition,
    EarlyStopping,
    Objective,
    Param,
    StudyFileError,
    StudySpec,
)
from study.spec.parse import (
    apply_overrides,
    default_spec,
    load_study_file,
    spec_from_dict,
)
from study.spec.seeds import seed_points
from study.spec.suggest import suggest
from study.spec.translate import describe, to_trial_config

__all__ = [
    "MAX_DURATION_S",
    "METRICS",
    "VIRTUAL",
    "Budget",
    "Condition",
    "EarlyStopping",
    "Objective",
    "Param",
    "StudyFileError",
    "StudySpec",
    "apply_overrides",
    "default_spec",
    "describe",
    "format_duration",
    "load_study_file",
    "parse_duration",
    "seed_points",
    "spec_from_dict",
    "suggest",
    "to_trial_config",
]
