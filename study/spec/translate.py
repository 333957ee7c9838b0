"""From a study's parameters to a trial's :class:`~trainable.config.TrialConfig`, and the study in words.

The virtual parameters (:data:`~study.spec.model.VIRTUAL`) become config values here: ``mixup``
off sets ``mixup_alpha = 0`` (on without a searched α: fastai's 0.4); ``progressive`` with
``resize_start_scale``, ``resize_frac`` and ``resize_mode`` becomes a resize ``schedule``
(:func:`trainable.schedules.resize_schedule`); any resize parameter alone implies progressive.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from study.common.errors import UsageError
from study.common.messages import MAX_PLAIN_INT, hint, short
from study.spec.durations import format_duration
from study.spec.model import (
    MIXUP_ALPHA_ON,
    RESIZE_DEFAULTS,
    RESIZE_PARAMS,
    VIRTUAL,
    StudySpec,
)
from trainable.config import ConfigError, TrialConfig
from trainable.schedules import resize_schedule

__all__ = ["build_config", "check_plain", "describe", "to_trial_config"]


def to_trial_config(spec: StudySpec, params: Mapping[str, Any], *, seed: int | None = None) -> TrialConfig:
    """The trial's config: ``spec.base``, then ``params`` (virtual ones translated), then the seed.

    ``seed`` defaults to the study seed. Raises :class:`UsageError` when the combination is invalid.
    """
    known = {f.name for f in fields(TrialConfig)}
    for k in params:
        if not isinstance(k, str) or (k not in known and k not in VIRTUAL):
            raise UsageError(f"unknown parameter {short(k)}{hint(k, [*known, *VIRTUAL])}; parameters are "
                             f"TrialConfig keys or one of {', '.join(VIRTUAL)}")
    values = {k: v for k, v in params.items() if k not in VIRTUAL}
    values["seed"] = spec.seed if seed is None else seed
    return build_config(spec.base, values, {k: v for k, v in params.items() if k in VIRTUAL})


def describe(spec: StudySpec) -> str:
    """A short summary for the launch log: the study, then one line per searched parameter."""
    b = spec.budget
    limit = f", at most {b.max_trials} trials" if b.max_trials else ""
    most = f"up to {b.max_seeds}" if b.max_seeds else "more where the answer is open"
    confirm = (f"compare each technique and the top {b.confirm_top} with the baseline on {b.confirm_seeds} seeds ({most}) "
               f"in {b.confirm_share:.0%} of it" if b.confirm_top else "no confirmation runs")
    confirm += f"; ablation in {b.ablation_share:.0%}" if b.ablation_share else "; no ablation"
    goals = ", ".join(f"{o.direction} {o.metric}" for o in spec.objectives)
    es = spec.early_stopping
    stop = (f"{es.scheduler} over {es.time_attr.rstrip('s')}s (grace {es.grace_period}, reduction {es.reduction_factor:g})"
            if es.scheduler != "none" else "none")
    base = ", ".join(f"{k}={v!r}" for k, v in spec.base.items())
    lines = [
        f"study {spec.name} (seed {spec.seed}) from {spec.source}",
        f"  budget {format_duration(b.time_s)}{limit}; {confirm}",
        f"  objective: {goals}; early stopping: {stop}",
        f"  base: {base if len(base) <= 200 else base[:197] + '...'}",
        f"  search ({len(spec.params)} parameters):",
    ]
    width = max((len(p.name) for p in spec.params), default=0)
    lines += [f"    {p.name:<{width}}  {p}" for p in spec.params]
    return "\n".join(lines)


def build_config(base: Mapping[str, Any], values: Mapping[str, Any], virtual: Mapping[str, Any]) -> TrialConfig:
    """base + values + the virtual parameters' translation, as a TrialConfig (UsageError if invalid)."""
    merged = {**base, **values}
    for k, v in merged.items():
        check_plain(k, v)
    try:
        if "mixup" in virtual:
            if not _as_bool("mixup", virtual["mixup"]):
                merged["mixup_alpha"] = 0.0
            elif "mixup_alpha" not in values:
                alpha = float(base.get("mixup_alpha", 0.0))
                merged["mixup_alpha"] = alpha if alpha > 0 else MIXUP_ALPHA_ON
        progressive = _as_bool("progressive", virtual["progressive"]) if "progressive" in virtual else None
        if progressive is None and any(k in virtual for k in RESIZE_PARAMS):
            progressive = True
        if progressive is not None:
            merged["schedule"] = ""
            if progressive:
                plain = TrialConfig.from_dict(merged)
                r = {**RESIZE_DEFAULTS, **{k: virtual[k] for k in RESIZE_PARAMS if k in virtual}}
                try:
                    merged["schedule"] = resize_schedule(plain.size, plain.epochs, plain.lr,
                                                         start_scale=r["resize_start_scale"], frac=r["resize_frac"],
                                                         mode=r["resize_mode"])
                except ValueError as e:  # the schedule's own check, repeated as the study's usage error
                    raise UsageError(str(e)) from None
        return TrialConfig.from_dict(merged)
    except ConfigError as e:
        shown = ", ".join(f"{k}={short(v)}" for k, v in {**values, **virtual}.items() if k != "seed")
        raise UsageError(f"{e} (with {shown or 'the base config'})") from None


def check_plain(key: str, value: Any) -> None:
    """``value`` is plain data a config can hold: text (at most 4096 characters), a number or true/false."""
    if isinstance(value, (bool, float)) or (isinstance(value, str) and len(value) <= 4096):
        return
    if isinstance(value, int) and abs(value) <= MAX_PLAIN_INT:
        return
    raise UsageError(f"{key} must be a plain value (text, number or true/false), got {short(value)}")


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise UsageError(f"{name} must be true or false, got {short(value)}")
