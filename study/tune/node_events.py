"""What a study's trials went through on the cluster, read back from its folder: the trial records'
attempts and the phase journals' verdicts, folded by :func:`study.analysis.failover.node_events`
(failovers to another node, restarts on the same one, trials not placed)."""

from __future__ import annotations

from pathlib import Path

from study.analysis.failover import NodeEvents, TrialAttempts, node_events

__all__ = ["PHASE_OF_KIND", "read_node_events"]

PHASE_OF_KIND = {"trial": "search", "confirmation": "confirm", "ablation": "ablation"}  # a trial record's kind -> its phase


def read_node_events(study_dir: Path) -> NodeEvents:
    """The study's failovers, retries and trials not placed, from its trial records and phase journals."""
    from study.tracking.records import read_records
    from study.tune.monitor import read_outcomes

    journals = {phase: read_outcomes(Path(study_dir) / f"trials-{phase}.jsonl") for phase in set(PHASE_OF_KIND.values())}
    trials = []
    seen = set()
    for state in read_records(Path(study_dir)):
        phase = PHASE_OF_KIND.get(state.kind, "search")
        trial_id = state.trial_key.rsplit("/", 1)[-1]
        o = journals[phase].get(trial_id)
        seen.add((phase, trial_id))
        trials.append(TrialAttempts(state.run_name or trial_id, phase, tuple(state.attempts), o.outcome if o else None,
                                    o.error if o else None))
    for phase, rows in journals.items():  # never started (no record): a job the cluster had no room for
        trials += [TrialAttempts(o.name, phase, (), o.outcome, o.error) for tid, o in rows.items() if (phase, tid) not in seen]
    return node_events(trials)
