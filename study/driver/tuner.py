"""How this session runs a phase of a study as one Ray Tune experiment under ``<study>/ray/<phase>``.

A resumed study (``study resume``) continues an interrupted phase with ``Tuner.restore``: finished
trials are kept, interrupted ones continue from their last epoch checkpoint under the same trial id
(so in the same MLflow run), and the searcher — with its Optuna study in the study's RDB storage —
picks up where it stopped. The searcher, stopper and monitor are pickled into the experiment by
Tune; they hold the study's clock (``study.tune.clock``), not absolute times, so a restored phase
ends at the study's deadline, not the first session's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from study.tune.clock import BudgetClock, Deadline
from study.tune.placement import NODE_WAIT_S, NodeWatch

if TYPE_CHECKING:
    from study.tune.monitor import StudyMonitor

__all__ = ["KEEP_CHECKPOINTS", "Runtime", "can_restore", "fit_phase", "grid_tuner", "load_trainable", "run_config", "trial_dirname"]


# Tune checkpoints kept per trial. With 1, Tune snapshots the whole experiment state (every trial's
# JSON, the searcher) after each trial's every checkpoint, so that its state never names a removed one:
# with 64 trials at once that was dozens of snapshots a second, each growing with the trials (the
# driver wrote 2.3 GB in a 128-trial search; bench/scaling.py). With 2 a snapshot is forced only once
# some trial checkpointed twice since the last one: about one per epoch, whatever the trials at once.
KEEP_CHECKPOINTS = 2


@dataclass(frozen=True)
class Runtime:
    """Where and how this session runs trials (the same for every phase)."""

    study_dir: Path
    clock: BudgetClock  # the study's wall clock, across sessions
    slots: int  # trials at once
    cpt: float  # CPUs per trial
    gpt: float  # GPUs per trial
    device: str  # cpu | cuda
    threads: int  # torch threads per CPU trial (0: torch's default)
    common: dict[str, Any]  # the "xs" part of every trial's config (tracking, launch id, study folder)
    tracking_uri: str | None
    say: Callable[[str], None]
    trainable: str  # "module:function" every trial runs
    status_every_s: float = 10.0
    node_wait_s: float = NODE_WAIT_S  # s a phase waits for a node that can host a trial (a node lost for good)
    watch: NodeWatch = field(init=False)  # one for the session's phases: a later phase does not wait again

    def __post_init__(self) -> None:
        object.__setattr__(self, "watch", NodeWatch({"CPU": self.cpt, "GPU": self.gpt}, self.node_wait_s))

    def experiment(self, phase: str) -> Path:
        return (self.study_dir / "ray" / phase).resolve()

    def journal(self, phase: str) -> str:
        return str((self.study_dir / f"trials-{phase}.jsonl").resolve())

    def resources(self) -> dict[str, float]:
        return {"cpu": self.cpt, "gpu": self.gpt}


def load_trainable(spec: str) -> Callable[[dict[str, Any]], None]:
    """``"package.module:function"`` → the function (it must be importable on every Ray worker)."""
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Tune's default spells out the whole config)."""
    return str(trial.trial_id)


def run_config(rt: Runtime, phase: str, monitor: StudyMonitor, deadline: Deadline, *, max_failures: int = 2) -> Any:
    from ray import tune

    from study.tune.stopper import BudgetStopper

    return tune.RunConfig(
        name=phase,
        storage_path=str(rt.experiment(phase).parent),
        failure_config=tune.FailureConfig(max_failures=max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=KEEP_CHECKPOINTS),
        stop=BudgetStopper(deadline, monitor.watch),
        verbose=0,
        callbacks=[monitor],
    )


def grid_tuner(rt: Runtime, phase: str, param_space: dict[str, Any], end: Deadline, budget_s: float) -> Any:
    """A phase that runs a fixed list of jobs (``param_space["job"]`` a grid): confirmation, ablation."""
    from ray import tune

    from study.tune.monitor import StudyMonitor

    monitor = StudyMonitor(clock=rt.clock, deadline_at=end, budget_s=budget_s, tracking_uri=rt.tracking_uri, phase=phase,
                           status_every_s=rt.status_every_s, journal=rt.journal(phase), watch=rt.watch)
    return tune.Tuner(
        tune.with_resources(load_trainable(rt.trainable), rt.resources()),
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=rt.slots, reuse_actors=True, trial_dirname_creator=trial_dirname),
        run_config=run_config(rt, phase, monitor, end),
    )


def can_restore(rt: Runtime, phase: str) -> bool:
    """Whether an earlier session left this phase's Tune experiment to continue."""
    from ray import tune

    path = rt.experiment(phase)
    return path.is_dir() and any(path.glob("experiment_state-*.json")) and bool(tune.Tuner.can_restore(str(path)))


def fit_phase(rt: Runtime, phase: str, build: Callable[[], Any], param_space: dict[str, Any]) -> None:
    """Run a phase: a new Tuner, or the interrupted one restored (interrupted and errored trials resumed)."""
    from ray import tune

    from study.common.interrupt import tune_running

    if can_restore(rt, phase):
        rt.say(f"{phase}: continuing the interrupted experiment in {rt.experiment(phase)}")
        tuner = tune.Tuner.restore(
            str(rt.experiment(phase)), tune.with_resources(load_trainable(rt.trainable), rt.resources()),
            resume_unfinished=True, resume_errored=True, param_space=param_space,
        )
    else:
        tuner = build()
    with tune_running():
        tuner.fit()
