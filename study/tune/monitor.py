"""Live study progress in the terminal, and the truth about each trial's end in MLflow.

A Tune ``Callback`` on the driver: it prints a line when a trial starts or ends and a status line
every few seconds (running / finished / pruned, best so far, budget used), and closes each trial's
MLflow run with the status it deserves — FINISHED, KILLED (pruned by ASHA or stopped by the
budget) or FAILED with the error — which a trial stopped from outside cannot do itself. With a
SQLite store it also sends the trials' runs from their records (:mod:`study.tracking.follow`):
the running trials' new epochs every couple of seconds, and each trial's end.

Each outcome is also appended to a journal in the study folder (``trials-<phase>.jsonl``), the
driver's record of the phase: after ``Tuner.fit`` — or after ``Tuner.restore`` in a resumed
study, where Tune brings back its own pickled copy of this callback — the driver reads the
outcomes from there. Trials still running when Tune ends the phase get no hook of their own;
``on_experiment_end`` records them as stopped by the budget, or leaves them to be resumed if
the user interrupted the study, or — when the phase ended because no live node could host them
(its :class:`~study.tune.placement.NodeWatch` gave up) — as failed, not placed. A trial whose
worker or node was lost and that Tune retries from its checkpoint gets a line of its own.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from study.analysis.failover import NOT_PLACED
from study.common import interrupt
from study.tracking.follow import FOLLOW_EVERY_S
from study.tune.clock import SAVE_EVERY_S, BudgetClock, Deadline
from study.tune.journal import TrialOutcome, best_of, count_outcomes, read_outcomes
from study.tune.reporting import FINISHED_KEY, OBJECTIVE_KEY, RUN_ID_KEY

if TYPE_CHECKING:
    from study.tracking.follow import RunFollower
    from study.tune.placement import NodeWatch

__all__ = ["StudyMonitor"]


def _drop_checkpoints(trial: Any) -> None:
    """Remove the Tune checkpoints of a trial that has ended (finished, pruned, stopped, failed for good).

    They serve nothing more: a later phase trains afresh, and a resumed study does not run an ended
    trial again (an interrupted one keeps its checkpoints: it is not ended). Each holds a model with
    its optimizer state (130 MB for xresnet18), so kept they filled 2.2 GB in a 10-minute demo study.
    Only on a local file system (a cluster's shared folder is one); anything else is left as it is.
    """
    try:
        if trial.storage.storage_filesystem.type_name != "local":
            return
        for folder in Path(trial.path).glob("checkpoint_*"):
            shutil.rmtree(folder, ignore_errors=True)
    except Exception:  # never let disk housekeeping stop a study
        return


def _clock(s: float) -> str:
    s = max(int(s), 0)
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class StudyMonitor(Callback):
    def __init__(
        self,
        *,
        clock: BudgetClock,
        deadline_at: Deadline,
        budget_s: float,
        tracking_uri: str | None,
        phase: str = "search",
        status_every_s: float = 10.0,
        journal: str | None = None,
        watch: NodeWatch | None = None,
    ) -> None:
        """``clock`` and ``deadline_at`` are on the study's clock (across sessions); ``journal`` is the
        phase's outcome file (one JSON line per trial outcome); ``watch`` the session's node watch,
        which the phase's stopper asks too (``study.driver.tuner.run_config``)."""
        self.clock = clock
        self.deadline_at = deadline_at
        self.budget_s = budget_s
        self.tracking_uri = tracking_uri
        self.phase = phase
        self.status_every_s = status_every_s
        self.journal = journal
        self.watch = watch
        self.outcomes: dict[str, TrialOutcome] = read_outcomes(Path(journal)) if journal else {}
        self.running: set[str] = set()
        self._trials: dict[str, Any] = {}
        self._last_status = 0.0
        self._last_save = 0.0
        self._last_follow = 0.0
        self._follower: RunFollower | None = None  # sends the trials' runs when the store is SQLite
        self._since = time.time()  # when this session began (trials opened later are new)

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles this callback into its experiment state: the follower's process stays here
        return {**self.__dict__, "_follower": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Brought back by Tuner.restore in a later session: the journal holds what happened since.
        self.__dict__.update(state)
        self.running, self._trials, self._follower, self._since = set(), {}, None, time.time()
        if self.journal:
            self.outcomes = read_outcomes(Path(self.journal))

    @property
    def started(self) -> float:
        return self.clock.started()

    @property
    def deadline(self) -> float:
        return self.deadline_at.time()

    # -- helpers --------------------------------------------------------------------------------
    def _say(self, text: str) -> None:
        used = self.clock.spent()
        # sys.stdout looked up at each call: the callback is pickled by Tune and must hold no stream
        print(f"[{_clock(used)}/{_clock(self.budget_s)}] {text}", file=sys.stdout, flush=True)

    def best(self) -> TrialOutcome | None:
        return best_of(self.outcomes.values())

    def counts(self) -> dict[str, int]:
        return count_outcomes(self.outcomes.values(), len(self.running))

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

    def _followed(self, trial: Any) -> tuple[RunFollower, str] | None:
        """The driver's follower and the trial's key, when the driver sends this trial's run (a SQLite store)."""
        xs = trial.config.get("xs") or {}
        if not (xs.get("mlflow_from") == "driver" and xs.get("tracking") and xs.get("study_dir") and xs.get("launch_id")):
            return None
        if self._follower is None:
            from study.tracking.follow import RunFollower
            from study.tracking.store import TrackingInfo

            self._follower = RunFollower(TrackingInfo(**xs["tracking"]), Path(xs["study_dir"]), since=self._since)
        from study.tracking.records import trial_key

        return self._follower, trial_key(xs["launch_id"], trial.trial_id)

    def flush_runs(self, timeout_s: float = 30.0) -> None:
        """Wait until the trials' runs hold what their records held so far (the driver sends them), and
        end the sending process (the phase is over; what is left goes with the study's closing sync)."""
        if self._follower is not None:
            self._follower.close(timeout_s)
            self._follower = None

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
        if now - self._last_save >= SAVE_EVERY_S:
            self._last_save = now
            self.clock.save()
        if now - self._last_status >= self.status_every_s and self.running:
            self._last_status = now
            self._say(self._status())
        if now - self._last_follow >= FOLLOW_EVERY_S and self.running:
            self._last_follow = now
            for trial_id in sorted(self.running):  # running trials' new epochs to MLflow
                followed = self._followed(self._trials[trial_id])
                if followed is not None and followed[0].changed(followed[1]):
                    followed[0].push(followed[1])

    def _finish(self, trial: Any, outcome: str, error: str | None = None) -> None:
        self.running.discard(trial.trial_id)
        result = dict(trial.last_result or {})
        objective = result.get(OBJECTIVE_KEY)
        job = trial.config.get("job") or {}
        rec = TrialOutcome(
            trial.trial_id, str(trial), outcome, objective, dict(trial.config.get("trial") or job.get("trial") or {}),
            self._params(trial), result, error, job.get("label"), trial.config.get("seed_recipe"),
        )
        followed = self._followed(trial)
        if followed is not None:  # the run id the trial could not report (the driver sends its run)
            rec.result[RUN_ID_KEY] = result.get(RUN_ID_KEY) or followed[0].run_id(followed[1])
        self.outcomes[trial.trial_id] = rec
        _drop_checkpoints(trial)
        if self.journal:
            with open(self.journal, "a", encoding="utf-8") as f:
                f.write(rec.to_line())
        status = {"finished": "FINISHED", "failed": "FAILED"}.get(outcome, "KILLED")
        xs = trial.config.get("xs") or {}
        if xs.get("study_dir") and xs.get("launch_id"):
            from study.tracking.records import record_end, trial_key

            # the verdict in the trial's own record too, so `study sync` can tell MLflow if it missed it
            record_end(xs["study_dir"], trial_key(xs["launch_id"], trial.trial_id), status, outcome, error)
        run_id = result.get(RUN_ID_KEY)
        if followed is not None:  # the driver sends this trial's run: its record now has the end too
            followed[0].push(followed[1])
        # A finished trial closes its own run (its record has the end, for the closing sync if it
        # could not); the others are closed here with the driver's verdict.
        elif self.tracking_uri and run_id and outcome != "finished":
            from study.tracking import set_run_outcome

            try:
                set_run_outcome(self.tracking_uri, run_id, status, outcome, error)
            except Exception as e:  # tracking trouble must not stop the study
                self._say(f"warning: could not close MLflow run {run_id}: {e}")
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

    def close_remaining(self, outcome: str = "budget", error: str | None = None) -> None:
        """Trials Tune stopped at the time budget (or for want of a node) get no hook of their own; record them."""
        for trial_id in sorted(self.running):
            self._finish(self._trials[trial_id], outcome, error)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A trial's worker or node was lost; Tune runs it again from its last checkpoint (where a node can host it)."""
        epoch = (trial.last_result or {}).get("epoch")
        done = f" after epoch {epoch + 1}" if isinstance(epoch, int) else ""
        self._say(f"{trial} lost its worker{done} (a stopped process or a lost node); retrying it from its last checkpoint")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        if interrupt.requested():
            n = len(self.running)
            if n:
                self._say(f"{self.phase}: interrupted with {n} trial(s) running; they resume from their last checkpoint")
            self.running.clear()
        elif self.watch is not None and time.time() < self.deadline - 1 and self.watch.stalled():
            self._not_placed(trials, self.watch.gave_up or "no live node can host a trial")
        else:
            self.close_remaining("budget")
        self.flush_runs()
        self.clock.save()

    def _not_placed(self, trials: list, reason: str) -> None:
        """The phase ended because no live node could host its trials: those still waiting did not end
        by themselves and will not be placed (started ones were lost with their node)."""
        waiting = [t for t in trials if t.trial_id not in self.outcomes and t.trial_id not in self.running]
        self._say(f"{self.phase}: ending the phase: {reason}")
        for t in waiting:  # never started: a suggestion or a job the cluster had no room for any more
            self._trials[t.trial_id] = t
            self.running.add(t.trial_id)
        self.close_remaining("failed", f"{NOT_PLACED}{reason}")

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
