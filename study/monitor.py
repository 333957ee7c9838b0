"""Live study progress in the terminal, and the truth about each trial's end in MLflow.

A Tune ``Callback`` on the driver: it prints a line when a trial starts or ends and a status line
every few seconds (running / finished / pruned, best so far, budget used), and closes each trial's
MLflow run with the status it deserves — FINISHED, KILLED (pruned by ASHA or stopped by the
budget) or FAILED with the error — which a trial stopped from outside cannot do itself.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ray.tune import Callback

from study.tune_trainable import FINISHED_KEY, OBJECTIVE_KEY, RUN_ID_KEY

__all__ = ["StudyMonitor", "TrialOutcome"]


@dataclass
class TrialOutcome:
    trial_id: str
    name: str
    outcome: str  # finished | pruned | budget | failed
    objective: float | None
    config: dict[str, Any]
    params: dict[str, Any]
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    label: str | None = None  # confirmation runs: which configuration this run repeats


def _clock(s: float) -> str:
    s = max(int(s), 0)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class StudyMonitor(Callback):
    def __init__(
        self,
        *,
        started: float,
        budget_s: float,
        deadline: float,
        tracking_uri: str | None,
        phase: str = "search",
        status_every_s: float = 10.0,
        budget_spent_before: float = 0.0,
        on_outcome: Callable[[TrialOutcome], None] | None = None,
    ) -> None:
        self.started = started
        self.budget_s = budget_s
        self.deadline = deadline
        self.tracking_uri = tracking_uri
        self.phase = phase
        self.status_every_s = status_every_s
        self.spent_before = budget_spent_before
        self.on_outcome = on_outcome
        self.outcomes: dict[str, TrialOutcome] = {}
        self.running: set[str] = set()
        self._trials: dict[str, Any] = {}
        self._last_status = 0.0

    # -- helpers --------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        used = self.spent_before + time.time() - self.started
        # sys.stdout looked up at each call: the callback is pickled by Tune and must hold no stream
        print(f"[{_clock(used)}/{_clock(self.budget_s)}] {text}", file=sys.stdout, flush=True)

    def best(self) -> TrialOutcome | None:
        done = [o for o in self.outcomes.values() if o.outcome == "finished" and o.objective is not None]
        return max(done, key=lambda o: o.objective) if done else None  # type: ignore[arg-type,return-value]

    def counts(self) -> dict[str, int]:
        c = {"running": len(self.running), "finished": 0, "pruned": 0, "budget": 0, "failed": 0}
        for o in self.outcomes.values():
            c[o.outcome] += 1
        return c

    def _status(self) -> str:
        c = self.counts()
        best = self.best()
        text = f"{self.phase}: running {c['running']}, finished {c['finished']}, pruned {c['pruned']}"
        if c["budget"]:
            text += f", stopped by budget {c['budget']}"
        if c["failed"]:
            text += f", failed {c['failed']}"
        if best is not None:
            text += f"; best {best.objective:.4f} ({best.name})"
        return text

    @staticmethod
    def _params(trial: Any) -> dict[str, Any]:
        return {k: v for k, v in trial.config.items() if k not in ("trial", "xs", "job", "seed_recipe")}

    # -- Tune hooks -------------------------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.running.add(trial.trial_id)
        self._trials[trial.trial_id] = trial
        params = self._params(trial)
        shown = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())
        if "job" in trial.config:
            shown = f"(confirming {trial.config['job'].get('label', '')}, seed {trial.config['job']['trial'].get('seed')})"
        elif trial.config.get("seed_recipe"):
            shown = f"(book recipe: {trial.config['seed_recipe']}) {shown}"
        self._say(f"{trial} started {shown}")

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        now = time.time()
        if now - self._last_status >= self.status_every_s and self.running:
            self._last_status = now
            self._say(self._status())

    def _finish(self, trial: Any, outcome: str, error: str | None = None) -> None:
        self.running.discard(trial.trial_id)
        result = dict(trial.last_result or {})
        objective = result.get(OBJECTIVE_KEY)
        job = trial.config.get("job") or {}
        rec = TrialOutcome(
            trial.trial_id, str(trial), outcome, objective, dict(trial.config.get("trial") or job.get("trial") or {}),
            self._params(trial), result, error, job.get("label"),
        )
        self.outcomes[trial.trial_id] = rec
        run_id = result.get(RUN_ID_KEY)
        if self.tracking_uri and run_id:
            from study.tracking import set_run_outcome

            status = {"finished": "FINISHED", "failed": "FAILED"}.get(outcome, "KILLED")
            try:
                set_run_outcome(self.tracking_uri, run_id, status, outcome, error)
            except Exception as e:  # tracking trouble must not stop the study
                self._say(f"warning: could not close MLflow run {run_id}: {e}")
        if self.on_outcome is not None:
            self.on_outcome(rec)
        value = f" objective {objective:.4f}" if isinstance(objective, float) else ""
        epochs = result.get("epoch")
        after = f" after epoch {epochs + 1}" if outcome != "finished" and isinstance(epochs, int) else ""
        self._say(f"{trial} {outcome}{after}{value} | {self._status()}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        result = trial.last_result or {}
        if result.get(FINISHED_KEY):
            outcome = "finished"
        elif time.time() >= self.deadline - 1:
            outcome = "budget"
        else:
            outcome = "pruned"
        self._finish(trial, outcome)

    def close_remaining(self, outcome: str = "budget") -> None:
        """After ``Tuner.fit`` returns: trials Tune stopped at the time budget get no hook; record them."""
        for trial_id in sorted(self.running):
            self._finish(self._trials[trial_id], outcome)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = None
        path = getattr(trial, "error_file", None) or getattr(getattr(trial, "run_metadata", None), "error_filename", None)
        try:
            if path:
                with open(path, encoding="utf-8", errors="replace") as f:
                    error = f.read()[-2000:]
        except OSError:
            pass
        self._finish(trial, "failed", error or "trial failed (see the Ray trial folder)")
