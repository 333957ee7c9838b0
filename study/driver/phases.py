"""A study's phases as a table the driver walks: what happens after the search is read here.

Each phase has a name (``study.json``'s ``phase`` while it runs), the function that runs it, and
the typed outcome it writes in the study folder. The driver (:func:`study.driver.session.run_study`)
walks :data:`PHASES` in order: a phase whose outcome file exists is loaded, not run again, so
``study resume`` starts from the first phase without an outcome. A phase reads the outcomes of the
phases before it from :class:`Outcomes`, never from a file or a dict.

    search    the book's recipes, then TPE suggestions, ASHA   -> SearchOutcome  (search.json)
    confirm   the top configurations and the baseline again,
              on the same fresh seeds; the verdict              -> ConfirmOutcome (confirm.json)
    ablation  the winner without each of its techniques         -> AblationOutcome (ablation.json)

After the last phase the study's answer is written (``summary.json``, :mod:`study.driver.summary`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from study.driver.done import Outcomes

if TYPE_CHECKING:
    from study.analysis.outcomes import AblationOutcome, ConfirmOutcome
    from study.driver.search import SearchOutcome
    from study.driver.tuner import Runtime
    from study.spec import StudySpec

__all__ = ["PHASES", "Outcomes", "Phase"]


@dataclass(frozen=True)
class Phase:
    """One phase: run it, or load what an earlier session recorded of it."""

    name: str  # study.json's "phase" while it runs; the attribute of Outcomes it fills
    file: str  # its outcome, in the study folder
    run: Callable[[StudySpec, Runtime, Outcomes], Any]  # -> its outcome
    load: Callable[[Path, StudySpec], Any]  # the outcome file -> the outcome
    after: Callable[[Any, StudySpec], None] | None = None  # what follows the phase when run in this session

    def outcome_path(self, study_dir: Path) -> Path:
        return study_dir / self.file


def _run_search(spec: StudySpec, rt: Runtime, done: Outcomes) -> SearchOutcome:
    from study.driver.search import run_search

    return run_search(spec, rt)


def _load_search(path: Path, spec: StudySpec) -> SearchOutcome:
    from study.driver.search import SearchOutcome

    return SearchOutcome.load(path)


def _settle_search(outcome: SearchOutcome, spec: StudySpec) -> None:
    """Optuna's trials that Tune never reported (cut off by the search's end) are told they ended."""
    from study.tune.optuna_store import settle_running

    settle_running(outcome.optuna_storage, spec.name)


def _run_confirm(spec: StudySpec, rt: Runtime, done: Outcomes) -> ConfirmOutcome:
    from study.driver.confirm import run_confirmations

    return run_confirmations(spec, rt, done)


def _load_confirm(path: Path, spec: StudySpec) -> ConfirmOutcome:
    from study.analysis.outcomes import ConfirmOutcome

    return ConfirmOutcome.load(path, spec.level)


def _run_ablation(spec: StudySpec, rt: Runtime, done: Outcomes) -> AblationOutcome:
    from study.driver.ablation import run_ablation

    return run_ablation(spec, rt, done)


def _load_ablation(path: Path, spec: StudySpec) -> AblationOutcome:
    from study.analysis.outcomes import AblationOutcome

    return AblationOutcome.load(path, spec.level)


PHASES: tuple[Phase, ...] = (
    Phase("search", "search.json", _run_search, _load_search, after=_settle_search),
    Phase("confirm", "confirm.json", _run_confirm, _load_confirm),
    Phase("ablation", "ablation.json", _run_ablation, _load_ablation),
)

