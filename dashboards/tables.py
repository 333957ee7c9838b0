"""The plain tables a dashboard is computed from: one study, as its folder recorded it.

Nothing here reads a file or imports plotly, Optuna or MLflow: ``dashboards.load`` fills these
from a study folder, tests build them by hand, and every panel is a pure function of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainable.timing import TrialTimes

__all__ = ["OUTCOMES", "Epoch", "OptunaTrial", "StudyMeta", "StudyTables", "Trial"]

# How a trial can end (the driver's verdicts), plus what a trial without one is shown as.
OUTCOMES = ("finished", "pruned", "budget", "failed", "running", "unknown")


@dataclass(frozen=True)
class Epoch:
    """One validation at the end of an epoch."""

    epoch: int  # 0-based
    accuracy: float | None  # plain validation accuracy, in [0, 1]
    size: int | None  # px, the image size this epoch trained at (progressive resizing changes it)
    metrics: dict[str, float] = field(default_factory=dict)  # everything the epoch recorded


@dataclass(frozen=True)
class Trial:
    """One trial of either phase, folded from its record and its phase's outcome journal."""

    trial_id: str  # Ray Tune's id
    name: str  # Tune's trial name, as printed in the terminal and used as MLflow run name
    phase: str  # search | confirm
    outcome: str  # one of OUTCOMES
    objective: float | None  # accuracy (with TTA when on) of the final report, or of the last epoch when stopped early
    params: dict[str, Any] = field(default_factory=dict)  # the searched values (search phase)
    config: dict[str, Any] = field(default_factory=dict)  # the resolved TrialConfig
    final: dict[str, float] = field(default_factory=dict)  # final metrics (accuracy, accuracy_tta, train_seconds, ...)
    epochs: tuple[Epoch, ...] = ()
    start: float | None = None  # s since the Unix epoch: the trial's first record line
    end: float | None = None  # s since the Unix epoch: its last record line
    label: str | None = None  # confirmation runs: the configuration they repeat ("baseline" or a trial name)
    seed_recipe: str | None = None  # search trials that ran one of the book's recipes: its name
    error: str | None = None
    times: TrialTimes | None = None  # where the trial's wall time went (its last report's, else its record's final)
    attempts: tuple[dict[str, Any], ...] = ()  # its record's attempts: node, epoch it resumed from, time (ms)

    @property
    def finished(self) -> bool:
        return self.outcome == "finished" and self.objective is not None

    def value(self, key: str) -> Any:
        """A searched value, else the resolved config's (``None`` when neither has it)."""
        return self.params[key] if key in self.params else self.config.get(key)


@dataclass(frozen=True)
class OptunaTrial:
    """One trial of the study's Optuna storage (``optuna.journal``), as plain values."""

    number: int
    state: str  # COMPLETE | PRUNED | FAIL | RUNNING | WAITING
    values: tuple[float, ...] | None
    params: dict[str, Any] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)  # name -> optuna.distributions.distribution_to_json
    skipped: bool = False  # the searcher did not start it: it would not have finished in time


@dataclass(frozen=True)
class StudyMeta:
    """What the study is: its record, its study file, its clock."""

    name: str
    folder: Path
    phase: str  # starting, a phase of study.driver.phases.PHASES while it runs, or done
    budget_s: float  # s, the study's whole wall clock
    confirm_share: float  # share of budget_s kept for the confirmation phase
    ablation_share: float = 0.0  # share of budget_s kept for the ablation phase
    objectives: tuple[str, ...] = ("accuracy",)  # the study file's objective metrics, in order
    log_params: frozenset[str] = frozenset()  # searched on a log scale
    search_params: tuple[str, ...] = ()  # the study file's [search] names, in file order
    started: float | None = None  # s since the Unix epoch: the launch
    clock_origin: float | None = None  # s since the Unix epoch: where the last session's study clock reads 0
    spent_s: float | None = None  # s of budget spent so far (budget.json)
    parent_run_id: str | None = None  # the MLflow parent run
    tracking_uri: str | None = None
    level: float = 0.95  # the study file's [objective] level: the confidence level of its verdicts
    asha: tuple[int, float] | None = None  # (grace period in epochs, reduction factor) when the search stopped trials early
    test_hooks: str | None = None  # a test's stand-in or fault ran this study: its numbers are not measurements


@dataclass(frozen=True)
class StudyTables:
    """One study, loaded: what the dashboard's panels are computed from."""

    meta: StudyMeta
    trials: tuple[Trial, ...] = ()
    optuna: tuple[OptunaTrial, ...] = ()
    summary: dict[str, Any] | None = None  # summary.json (None while the study runs or after an interruption)
    confirmation: dict[str, Any] | None = None  # confirm.json: the confirmation's outcome, once that phase has ended
    notes: tuple[str, ...] = ()  # what could not be read, in words

    def phase(self, phase: str) -> list[Trial]:
        return [t for t in self.trials if t.phase == phase]

    def finished(self, phase: str = "search") -> list[Trial]:
        return [t for t in self.trials if t.phase == phase and t.finished]
