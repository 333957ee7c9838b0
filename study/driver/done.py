"""What a study's phases have found so far: the outcome of each phase done, in this session or
loaded from an earlier one (:data:`study.driver.phases.PHASES` fills it, in order)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from study.analysis.outcomes import AblationOutcome, ConfirmOutcome
    from study.driver.search import SearchOutcome

__all__ = ["Outcomes"]


@dataclass
class Outcomes:
    """The outcomes of the phases done so far, in this session or loaded from an earlier one."""

    search: SearchOutcome | None = None
    confirm: ConfirmOutcome | None = None
    ablation: AblationOutcome | None = None

    def require_search(self) -> SearchOutcome:
        if self.search is None:
            raise RuntimeError("the search's outcome is needed before this phase (PHASES is out of order)")
        return self.search

    def require_confirm(self) -> ConfirmOutcome:
        if self.confirm is None:
            raise RuntimeError("the confirmation's outcome is needed before this phase (PHASES is out of order)")
        return self.confirm
