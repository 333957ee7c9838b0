"""The validated study: frozen dataclasses, the objectives' directions, the virtual parameters.

Nothing here checks input; :mod:`study.spec.parse` builds these from a study file and raises
:class:`StudyFileError` for the first problem. Everything is plain data, so Ray and Tune can
pickle a :class:`StudySpec` with the experiment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from study.analysis.sequential import MARGIN
from study.common.errors import UsageError
from study.common.messages import is_number

__all__ = [
    "METRICS",
    "MIXUP_ALPHA_ON",
    "RESIZE_DEFAULTS",
    "RESIZE_PARAMS",
    "VIRTUAL",
    "Budget",
    "Condition",
    "EarlyStopping",
    "FileContext",
    "Objective",
    "Param",
    "StudyFileError",
    "StudySpec",
    "same_value",
    "toml_value",
]

# The study's objectives and the way each is better: the one table the driver's phases read too.
# A study's objectives: accuracy (with TTA when tta_n > 0), training seconds, inference milliseconds per
# validation image of the plain pass, and of every pass the trial is evaluated with (plain + TTA passes).
METRICS = {"accuracy": "maximize", "train_seconds": "minimize", "infer_ms_per_image": "minimize",
           "infer_ms_per_image_tta": "minimize"}
# Searched names the chapter talks about but TrialConfig spells differently (see study.spec.translate).
VIRTUAL = ("mixup", "progressive", "resize_start_scale", "resize_frac", "resize_mode")
RESIZE_PARAMS = ("resize_start_scale", "resize_frac", "resize_mode")  # build the resize schedule
RESIZE_DEFAULTS: dict[str, Any] = {"resize_start_scale": 0.5, "resize_frac": 0.5, "resize_mode": "fine_tune"}
MIXUP_ALPHA_ON = 0.4  # fastai's default α when mixup is switched on without a searched α


class StudyFileError(UsageError):
    """A study file (or study dict) is wrong: ``"{file}: [{section}] {key}: {problem}; {fix}"``."""

    def __init__(self, file: str, section: str, key: str, problem: str, fix: str) -> None:
        self.file, self.section, self.key, self.problem, self.fix = file, section, key, problem, fix
        where = (f"[{section}] " if section else "") + (f"{key}: " if key else "")
        super().__init__(f"{file}: {where}{problem}; {fix}")

    def __reduce__(self) -> Any:  # picklable for Ray, which ships exceptions between processes
        return (type(self), (self.file, self.section, self.key, self.problem, self.fix))


@dataclass(frozen=True)
class FileContext:
    """Where a study comes from, for errors (``file``) and relative paths (``base_dir``)."""

    file: str
    base_dir: Path

    def fail(self, section: str, key: str, problem: str, fix: str) -> NoReturn:
        raise StudyFileError(self.file, section, key, problem, fix)


@dataclass(frozen=True)
class Condition:
    """``when = { name = ... }``: equal to one of ``values``, or (no values) within [low, high]."""

    name: str  # the searched parameter it looks at
    values: tuple[Any, ...] = ()  # accepted values (equality / membership)
    low: float = -math.inf  # inclusive bounds when ``values`` is empty
    high: float = math.inf

    def holds(self, sampled: Mapping[str, Any]) -> bool:
        """True when ``sampled`` has the parameter (it is active) and its value satisfies this."""
        if self.name not in sampled:
            return False
        v = sampled[self.name]
        if self.values:
            return any(same_value(v, x) for x in self.values)
        return is_number(v) and self.low <= v <= self.high

    def __str__(self) -> str:
        if self.values:
            shown = toml_value(self.values[0]) if len(self.values) == 1 else "[" + ", ".join(map(toml_value, self.values)) + "]"
            return f"{self.name} = {shown}"
        bounds = [f"min = {self.low:g}"] * (self.low > -math.inf) + [f"max = {self.high:g}"] * (self.high < math.inf)
        return f"{self.name} = {{ {', '.join(bounds)} }}"


@dataclass(frozen=True)
class Param:
    """One searched parameter: a range (``float`` / ``int``) or a ``choice``, active when ``when`` holds."""

    name: str  # TrialConfig key or one of VIRTUAL
    kind: str  # float | int | choice
    low: float | int | None = None  # inclusive range (float / int)
    high: float | int | None = None
    log: bool = False  # sample on a log scale
    step: float | int | None = None  # discretization of the range
    choices: tuple[Any, ...] = ()  # choice values (one type: str, bool, int or float)
    when: tuple[Condition, ...] = ()  # all must hold for the parameter to be sampled

    def is_active(self, sampled: Mapping[str, Any]) -> bool:
        return all(c.holds(sampled) for c in self.when)

    def __str__(self) -> str:
        if self.kind == "choice":
            text = "choice [" + ", ".join(map(toml_value, self.choices)) + "]"
        else:
            text = f"{self.kind} [{self.low:g}, {self.high:g}]" + " log" * self.log
            text += f" step {self.step:g}" if self.step is not None else ""
        if self.when:
            text += "  when " + " and ".join(map(str, self.when))
        return text


@dataclass(frozen=True)
class Budget:
    """The study's wall clock and its split between search and confirmation."""

    time_s: float = 600.0  # s, wall clock of the whole study
    max_trials: int = 0  # search trials at most; 0 = only the time limits them
    confirm_share: float = 0.2  # fraction of time_s reserved for confirmation runs
    confirm_top: int = 3  # best search configs compared with the baseline beside the recipes (0 = no confirmation phase)
    confirm_seeds: int = 3  # seeds a comparison shares with the baseline at its first test (the first look; >= 2)
    max_seeds: int = 0  # the most seeds any comparison gets (the last look); 0 = as many as the budget allows
    ablation_share: float = 0.0  # fraction of time_s kept for the ablation of the winner (0 = no ablation)

    def phase_end_s(self, phase: str) -> float:
        """Seconds into the study by which ``phase`` must end: the search leaves the confirmation's and
        the ablation's shares, the confirmation the ablation's, and the ablation ends with the budget."""
        later = {"search": self.confirm_share + self.ablation_share, "confirm": self.ablation_share, "ablation": 0.0}
        if phase not in later:
            raise ValueError(f"phase must be one of {', '.join(later)}, got {phase!r}")
        return self.time_s * (1 - later[phase])


@dataclass(frozen=True)
class Objective:
    metric: str  # accuracy | train_seconds | infer_ms_per_image | infer_ms_per_image_tta (a key of METRICS)
    direction: str  # maximize | minimize


@dataclass(frozen=True)
class EarlyStopping:
    scheduler: str = "asha"  # asha | none
    time_attr: str = "epoch"  # epoch | seconds: what grace_period counts
    grace_period: int = 1  # epochs (or seconds) a trial runs before it may be stopped
    reduction_factor: float = 3.0  # ASHA keeps 1/reduction_factor of the trials at each rung


@dataclass(frozen=True)
class StudySpec:
    """A validated study. ``params`` are in dependency order (a parameter after those its ``when`` reads)."""

    name: str  # MLflow experiment and Optuna study name
    seed: int  # seeds the sampler and every search trial
    base: dict[str, Any]  # TrialConfig values of every trial, preset expanded, paths absolute (do not mutate)
    params: tuple[Param, ...]
    objectives: tuple[Objective, ...]
    budget: Budget
    early_stopping: EarlyStopping
    source: str  # where it came from (a file path), for messages and records
    level: float = 0.95  # confidence level of every verdict (intervals, tests), from [objective] level
    margin: float = MARGIN  # smallest accuracy difference worth knowing, from [objective] margin

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def same_value(a: Any, b: Any) -> bool:
    """Equality that keeps true apart from 1 and "1" apart from 1 (numbers compare across int/float)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if is_number(a) and is_number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def toml_value(v: Any) -> str:
    """A value as a study file writes it: ``true``, ``"text"``, ``0.001``."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return f"{v:g}" if isinstance(v, float) else str(v)
