"""The study's answer at the end of a session: ``summary.json`` and what the terminal shows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from study.driver.done import Outcomes
    from study.spec import StudySpec
    from study.testing.faults import TestHooks
    from study.tune.clock import BudgetClock

__all__ = ["print_summary", "summarize"]


def summarize(spec: StudySpec, done: Outcomes, study_dir: Path, uri: str | None, clock: BudgetClock, *,
              hooks: TestHooks | None = None, slots: int = 0) -> dict[str, Any]:
    """``summary.json``: the search's best and baseline, and the confirmation's and the ablation's
    outcomes as their phases decided them (:class:`study.analysis.outcomes.ConfirmOutcome`, ``AblationOutcome``)."""
    from study.analysis.outcomes import AblationOutcome, ConfirmOutcome

    search = done.require_search()
    confirm = done.confirm or ConfirmOutcome(spec.level, note="not run")
    ablation = done.ablation or AblationOutcome(spec.level, note="not run")
    from study.tune.node_events import read_node_events

    best = search.best
    base_cfg = search.base_config
    diff = {k: v for k, v in (best.config.items() if best else []) if base_cfg.get(k) != v}
    out: dict[str, Any] = {
        "study": spec.name,
        "folder": str(study_dir),
        "wall_seconds": clock.spent(),
        "budget_seconds": spec.budget.time_s,
        "counts": search.counts,
        "skipped_for_budget": search.skipped,
        "best_trial": None if best is None else {
            "name": best.name, "objective": best.objective, "changes_from_base": diff, "params": best.params,
            "metrics": {k: best.result.get(k) for k in ("accuracy", "accuracy_tta", "top5", "train_seconds", "infer_ms_per_image",
                                                                 "infer_ms_per_image_tta")},
        },
        "baseline_trial": None if search.baseline is None else {"name": search.baseline.name, "objective": search.baseline.objective},
        "pareto_front": search.pareto,
        "confirmation": confirm.to_dict(),
        "ablation": ablation.to_dict(),
        "level": spec.level,
        "tracking_uri": uri,
        "optuna_storage": search.optuna_storage,
        "time_share": time_share_of(study_dir, slots, clock.spent()),
        "nodes": read_node_events(study_dir).to_dict(),  # trials that failed over, restarted, or could not be placed
    }
    if hooks is not None:
        out["test_hooks"] = hooks.describe()  # made-up or fault-injected trials: never mistaken for a measured study
    return out


def time_share_of(study_dir: Path, slots: int, wall_s: float) -> dict[str, Any]:
    """``summary.json``'s ``time_share``: every phase's trials' times (their outcome journals) on ``slots`` slots."""
    from study.analysis.time_share import time_share
    from study.tune.monitor import read_outcomes
    from trainable.timing import TrialTimes

    outcomes = [o for phase in ("search", "confirm", "ablation") for o in read_outcomes(study_dir / f"trials-{phase}.jsonl").values()]
    return time_share((TrialTimes.from_flat(o.result) for o in outcomes), slots, wall_s).to_dict()


def _print_time_share(ts: dict[str, Any], say: Callable[[str], None]) -> None:
    """One line: the training share, and where the rest of the slot time went."""
    share, parts = ts.get("training_share"), ts.get("seconds") or {}
    if share is None:
        return
    rest = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if k != "train" and v >= 0.5)
    say(f"time: {share:.2f} of {ts['slots']} slot(s) × {ts['wall_seconds']:.0f} s went into training steps "
        f"({parts.get('train', 0):.0f} s); the rest: {rest}{', ' if rest else ''}outside trials {ts['outside_trials_seconds']:.0f} s")


def print_summary(s: dict[str, Any], say: Callable[[str], None], *, dashboard: Path | None = None) -> None:
    say("")
    if s.get("test_hooks"):
        say(f"TEST HOOKS ON ({s['test_hooks']}): these numbers come from a test's stand-in, not from training")
    say(f"== study {s['study']} done in {s['wall_seconds']:.0f} s (budget {s['budget_seconds']:.0f} s) ==")
    c = s["counts"]
    say(f"trials: {c.get('finished', 0)} finished, {c.get('pruned', 0)} pruned, {c.get('budget', 0)} stopped by the budget, "
        f"{c.get('failed', 0)} failed, {s['skipped_for_budget']} not started (would not have fit)")
    _print_early_end(s, say)
    _print_techniques(s, say)
    best = s["best_trial"]
    if best is None:
        say("no trial finished: give the study more time (--time-budget) or a smaller base config")
    else:
        say(f"best trial {best['name']}: objective {best['objective']:.4f}")
        for k, v in best["changes_from_base"].items():
            say(f"    {k} = {v!r}")
        base = s["baseline_trial"]
        if base and base["objective"] is not None:
            say(f"book baseline ({base['name']}): {base['objective']:.4f}  -> {best['objective'] - base['objective']:+.4f}")
    if s["pareto_front"]:
        say("Pareto front (accuracy vs cost):")
        for p in s["pareto_front"]:
            say("    " + ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in p.items()))
    conf = s["confirmation"]
    if conf and conf.get("verdict"):
        say("confirmation: " + conf["verdict"])
    elif conf and conf.get("note"):
        say("confirmation: " + conf["note"])
    _print_ablation(s.get("ablation") or {}, say)
    _print_time_share(s.get("time_share") or {}, say)
    _print_nodes(s.get("nodes") or {}, say)
    say("")
    if s["tracking_uri"]:
        root = Path(s["folder"]).parent
        where = "" if root == Path("studies") else f" --root {root}"
        say(f"open the records:  study ui {s['study']}{where}   (MLflow at {s['tracking_uri']})")
    if dashboard is not None:
        say(f"dashboard:         {dashboard}   (also `dashboard.html` on the MLflow parent run)" if s["tracking_uri"]
            else f"dashboard:         {dashboard}")
    say(f"optuna dashboard:  optuna-dashboard {s['optuna_storage']}")
    say(f"summary:           {s['folder']}/summary.json")


def _print_ablation(ab: dict[str, Any], say: Callable[[str], None]) -> None:
    """Which technique made the difference: each one's paired contribution to the winner, and its verdict."""
    if ab.get("note"):
        say("ablation: " + ab["note"])
    rows = ab.get("techniques") or []
    if rows:
        say(f"ablation of {ab['winner']} (paired over seeds {', '.join(str(x) for x in ab['seeds'])}; "
            f"{100 * ab['level']:g} % level, Holm-corrected over {len(rows)}):")
        for r in rows:
            mark = {True: "made a difference", False: "not shown", None: "no test"}[r["shown"]]
            say(f"    {r['technique']:<24} {r['contribution']:+.4f}  {mark}: {r['verdict']}")
    for skipped in ab.get("skipped") or []:
        say(f"    {skipped['technique']}: not ablated ({skipped['reason']})")


def _print_techniques(s: dict[str, Any], say: Callable[[str], None]) -> None:
    """The first answer: each chapter-7 technique alone against the baseline, as the confirmation decided it."""
    from study.analysis.outcomes import ConfirmOutcome

    conf = ConfirmOutcome.from_dict(s.get("confirmation"), float(s.get("level") or 0.95))
    if not conf.techniques:
        return
    looks = f"{len(conf.plan.pairs)} planned look(s) at {', '.join(map(str, conf.plan.pairs))} pairs" if conf.plan else "no looks"
    say(f"chapter 7's techniques, each alone against the baseline (paired over shared seeds, {100 * conf.level:g} % level; "
        f"Holm over {len(conf.decisions)} comparisons, {looks}):")
    say(f"    {'technique':<24}{'verdict':<22}{'difference':>11}  {'interval':<20}{'pairs':>5}  {'p (adjusted)':<20}search's best")
    for r in conf.techniques:
        d = r.decision
        best = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in r.best_setting.items())
        best += f" ({r.best_objective:.4f})" if best and r.best_objective is not None else ""
        if d is None:
            say(f"    {r.technique:<24}{'not compared':<22}{'':>11}  {r.why_not or ''}")
            continue
        verdict = d.label(compact=True)
        diff = f"{d.difference:+.4f}" if d.difference is not None else "n/a"
        ci = f"{d.ci_low:+.3f} to {d.ci_high:+.3f}" if d.ci_low is not None and d.ci_high is not None else ""
        pv = f"{d.p_value:.2g} ({d.p_adjusted:.2g})" if d.p_value is not None and d.p_adjusted is not None else ""
        say(f"    {r.technique:<24}{verdict:<22}{diff:>11}  {ci:<20}{d.pairs:>5}  {pv:<20}{best}")
    if conf.ended:
        say(f"the confirmation ended: {conf.ended}")


def _print_early_end(s: dict[str, Any], say: Callable[[str], None]) -> None:
    """A study that did not use its budget says why."""
    left = float(s["budget_seconds"]) - float(s["wall_seconds"])
    if left <= 0.05 * float(s["budget_seconds"]):
        return
    conf, ab = s.get("confirmation") or {}, s.get("ablation") or {}
    why = conf.get("ended") or conf.get("note") or ab.get("note") or "no phase had work that would finish in the time left"
    say(f"ended {left:.0f} s before its budget: {why}")


def _print_nodes(nodes: dict[str, Any], say: Callable[[str], None]) -> None:
    """On a cluster: the trials that failed over to another node (from which, resumed after which epoch), and those not placed."""
    from study.analysis.failover import NodeEvents

    for line in NodeEvents.from_dict(nodes).lines():
        say("cluster: " + line if not line.startswith(" ") else line)
