"""The study's answer at the end of a session: ``summary.json`` and what the terminal shows."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from study.driver.search import SearchOutcome
    from study.spec import StudySpec
    from study.tune.clock import BudgetClock

__all__ = ["print_summary", "summarize"]


def summarize(spec: StudySpec, search: SearchOutcome, confirm: dict[str, Any], ablation: dict[str, Any], study_dir: Path,
              uri: str | None, clock: BudgetClock) -> dict[str, Any]:
    """``summary.json``: the search's best and baseline, the confirmation's verdict, the ablation."""
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
            "metrics": {k: best.result.get(k) for k in ("accuracy", "accuracy_tta", "top5", "train_seconds", "infer_ms_per_image")},
        },
        "baseline_trial": None if search.baseline is None else {"name": search.baseline.name, "objective": search.baseline.objective},
        "pareto_front": search.pareto,
        "confirmation": confirm,
        "ablation": ablation,
        "level": spec.level,
        "tracking_uri": uri,
        "optuna_storage": search.optuna_url,
        "nodes": read_node_events(study_dir).to_dict(),  # trials that failed over, restarted, or could not be placed
    }
    return out


def print_summary(s: dict[str, Any], say: Callable[[str], None], *, dashboard: Path | None = None) -> None:
    say("")
    say(f"== study {s['study']} done in {s['wall_seconds']:.0f} s (budget {s['budget_seconds']:.0f} s) ==")
    c = s["counts"]
    say(f"trials: {c.get('finished', 0)} finished, {c.get('pruned', 0)} pruned, {c.get('budget', 0)} stopped by the budget, "
        f"{c.get('failed', 0)} failed, {s['skipped_for_budget']} not started (would not have fit)")
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


def _print_nodes(nodes: dict[str, Any], say: Callable[[str], None]) -> None:
    """On a cluster: the trials that failed over to another node (from which, resumed after which epoch), and those not placed."""
    from study.analysis.failover import NodeEvents

    for line in NodeEvents.from_dict(nodes).lines():
        say("cluster: " + line if not line.startswith(" ") else line)
