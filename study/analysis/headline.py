"""The study's answer in a few numbers and a paragraph, for the MLflow parent run: its metrics and
its description (MLflow's ``mlflow.note.content``, markdown), so that the run says what the study
found without opening anything else."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from study.analysis.outcomes import AblationOutcome, ConfirmOutcome
from study.analysis.verdict import DEFAULT_LEVEL

__all__ = ["parent_metrics", "parent_note"]


def _dict(x: Any) -> dict[str, Any]:
    return x if isinstance(x, dict) else {}


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _outcomes(summary: dict[str, Any]) -> tuple[ConfirmOutcome, AblationOutcome]:
    """The confirmation's and the ablation's outcomes as their phases decided them (no verdict is made here)."""
    level = _num(summary.get("level")) or DEFAULT_LEVEL
    return ConfirmOutcome.from_dict(summary.get("confirmation"), level), AblationOutcome.from_dict(summary.get("ablation"), level)


def parent_metrics(summary: dict[str, Any]) -> dict[str, float]:
    """Key numbers of ``summary.json`` as MLflow metrics (only those the study has)."""
    out: dict[str, float | None] = {}
    best = _dict(summary.get("best_trial"))
    base = _dict(summary.get("baseline_trial"))
    out["best_objective"] = _num(best.get("objective"))
    out["baseline_objective"] = _num(base.get("objective"))
    if out["best_objective"] is not None and out["baseline_objective"] is not None:
        out["search_margin"] = out["best_objective"] - out["baseline_objective"]
    confirm, _ = _outcomes(summary)
    v = confirm.verdict
    if v is not None:
        out["confirmed_best_mean"] = _num(confirm.best.mean) if confirm.best is not None else None
        out["confirmed_baseline_mean"] = _num(confirm.baseline.mean) if confirm.baseline is not None else None
        out["confirmed_difference"] = _num(v.difference)
        out["confirmed_noise"] = _num(v.noise)  # standard error of the difference
        out["confirmed_beats_baseline"] = None if v.beats_baseline is None else float(v.beats_baseline)
        out["confirmed_level"] = v.level
        for key in ("p_value", "ci_low", "ci_high"):
            out[f"confirmed_{key}"] = _num(getattr(v, key))
        mine = confirm.config(best.get("name"))
        if mine is not None and out["best_objective"] is not None:
            out["winners_curse"] = out["best_objective"] - mine.mean
    for r in confirm.techniques:
        d = r.decision
        if d is None:
            continue
        slug = r.technique.replace(" ", "_").replace("-", "_")
        out[f"tech_{slug}_difference"] = _num(d.difference)
        out[f"tech_{slug}_p_adjusted"] = _num(d.p_adjusted)
        out[f"tech_{slug}_pairs"] = float(d.pairs)
        out[f"tech_{slug}_helped"] = float(d.verdict == "helped")
        out[f"tech_{slug}_hurt"] = float(d.verdict == "hurt")
    counts = _dict(summary.get("counts"))
    for k in ("finished", "pruned", "budget", "failed"):
        out[f"trials_{k}"] = _num(counts.get(k))
    out["trials_not_started"] = _num(summary.get("skipped_for_budget"))
    out["wall_seconds"] = _num(summary.get("wall_seconds"))
    out.update(_time_metrics(summary.get("time_share")))
    return {k: v for k, v in out.items() if v is not None}


def _time_metrics(ts: Any) -> dict[str, float | None]:
    """The training share and the seconds of each part over all trials (``seconds_train_total``, …)."""
    from study.analysis.time_share import TimeShare
    from trainable.timing import TIME_KEYS

    share = TimeShare.from_dict(ts)
    if share is None or share.share is None:
        return {}
    return {"training_share": share.share, **{f"{TIME_KEYS[p]}_total": v for p, v in share.parts.items()}}


def parent_note(summary: dict[str, Any] | None, dashboard: Path | None, *, study: str, state: str = "done") -> str:
    """The parent run's description, markdown: the verdict, the best configuration, where the dashboard is."""
    lines = [f"## Study `{study}`" + ("" if state == "done" else f" ({state})"), ""]
    if not summary:
        lines.append("The study has not finished: no summary yet. `study resume` continues it; the dashboard shows what exists.")
    else:
        best = (_dict(summary.get("best_trial")) or None)
        base = (_dict(summary.get("baseline_trial")) or None)
        confirm, ablation = _outcomes(summary)
        lines += _technique_lines(confirm)
        if best is None:
            lines.append("No trial finished: give the study more time (`--time-budget`) or a smaller base config.")
        else:
            objective = _num(best.get("objective")) or 0.0
            lines.append(f"**Best configuration:** `{best.get('name')}`, objective **{100 * objective:.2f}%** in the search.")
            changes = best.get("changes_from_base") or {}
            if changes:
                lines += ["", "It changes from the base configuration:", ""]
                lines += [f"- `{k}` = `{v!r}`" for k, v in changes.items()]
            base_objective = _num(base.get("objective")) if base else None
            if base and base_objective is not None:
                margin = 100 * (objective - base_objective)
                lines += ["", f"**Book baseline** `{base.get('name')}`: {100 * base_objective:.2f}% in the search "
                              f"({margin:+.2f} pp for the best)."]
        if confirm.verdict is not None:
            lines += ["", f"**Confirmation with fresh seeds:** {confirm.verdict.sentence}"]
        elif confirm.note:
            lines += ["", f"**Confirmation:** {confirm.note}"]
        lines += _ablation_lines(ablation)
        c = summary.get("counts") or {}
        counts = (f"Trials: {c.get('finished', 0)} finished, {c.get('pruned', 0)} pruned, {c.get('budget', 0)} stopped by the budget, "
                  f"{c.get('failed', 0)} failed, {summary.get('skipped_for_budget', 0)} not started (would not have fit).")
        lines += ["", counts]
    if dashboard is not None:
        lines += ["", f"**Dashboard:** the `dashboard.html` artifact of this run (Artifacts tab), also at `{dashboard}`."]
    return "\n".join(lines) + "\n"


def _ablation_lines(ablation: AblationOutcome) -> list[str]:
    """The ablation's verdicts as the phase decided them, one line a technique."""
    if not ablation.techniques:
        return ["", f"**Ablation:** {ablation.note}"] if ablation.note else []
    lines = ["", f"**Ablation of `{ablation.winner}`** (paired over {len(ablation.seeds)} seeds, "
                 f"{100 * ablation.level:g} % level, Holm-corrected over {len(ablation.techniques)}):", ""]
    for c in ablation.techniques:
        mark = {True: "made a difference", False: "not shown", None: "no test"}[c.shown]
        lines.append(f"- {c.technique}: {c.contribution:+.4f}, {mark}")
    return lines


def _technique_lines(confirm: ConfirmOutcome) -> list[str]:
    """The first answer: a markdown table of chapter 7's techniques, each alone against the baseline."""
    if not confirm.techniques:
        return []
    lines = [f"**Chapter 7's techniques**, each alone against the baseline (paired over shared seeds, "
             f"{100 * confirm.level:g} % level, Holm over {len(confirm.decisions)} comparisons and the planned looks):", "",
             "| technique | verdict | difference | interval | pairs | p (adjusted) | the search's best setting |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in confirm.techniques:
        d = r.decision
        best = ", ".join(f"`{k}` = `{v!r}`" for k, v in r.best_setting.items())
        if d is None:
            lines.append(f"| {r.technique} | not compared: {r.why_not} | | | | | {best} |")
            continue
        verdict = d.label()
        diff = f"{100 * d.difference:+.2f} pp" if d.difference is not None else ""
        ci = f"{100 * d.ci_low:+.2f} to {100 * d.ci_high:+.2f} pp" if d.ci_low is not None and d.ci_high is not None else ""
        pv = f"{d.p_value:.2g} ({d.p_adjusted:.2g})" if d.p_value is not None and d.p_adjusted is not None else ""
        lines.append(f"| {r.technique} | **{verdict}** | {diff} | {ci} | {d.pairs} | {pv} | {best} |")
    if confirm.ended:
        lines += ["", f"The confirmation ended: {confirm.ended}."]
    return lines + [""]
