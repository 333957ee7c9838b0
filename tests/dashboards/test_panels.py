"""Each panel's numbers on small hand-built tables (compute only; drawing is tested in test_render)."""

from __future__ import annotations

import math

import pytest

from dashboards.panels import (
    ablation_info,
    answer_info,
    cost_info,
    curves_info,
    effects_info,
    history_info,
    importance_info,
    seed_noise,
    timeline_info,
    tta_info,
)
from dashboards.panels.cost import pareto
from tests.dashboards.builders import T0, tables, trial, with_optuna


def _confirm(label: str, values: list[float]) -> list:
    return [trial(f"train_trial_c{label}{i}", v, phase="confirm", label=label, start=100.0 + 10 * i) for i, v in enumerate(values)]


def _study(summary: dict | None = None, confirm: bool = True):
    search = [
        trial("train_trial_base", 0.60, params={"lr": 0.003, "mixup": False}, seed_recipe="baseline", start=0),
        trial("train_trial_best", 0.70, params={"lr": 0.006, "mixup": True}, start=0),
        trial("train_trial_mid", 0.65, params={"lr": 0.004, "mixup": True}, start=10),
        trial("train_trial_cut", 0.40, outcome="pruned", epochs=1, params={"lr": 0.009, "mixup": False}, start=10, duration=4),
    ]
    conf = _confirm("baseline", [0.58, 0.60, 0.62]) + _confirm("train_trial_best", [0.64, 0.66, 0.68]) if confirm else []
    return tables(search + conf, summary=summary)


# -- 1. the answer -------------------------------------------------------------------------------

def test_answer_from_trials_when_there_is_no_summary() -> None:
    info = answer_info(_study())
    assert info.best_name == "train_trial_best" and info.best_objective == pytest.approx(0.70)
    assert info.baseline_name == "train_trial_base" and info.baseline_objective == pytest.approx(0.60)
    best, base = info.confirmed[0], info.confirmed[-1]
    assert (best.label, base.label) == ("train_trial_best", "baseline")
    assert best.mean == pytest.approx(0.66) and best.std == pytest.approx(0.02) and best.n == 3
    assert info.difference == pytest.approx(0.06)
    assert info.noise == pytest.approx(math.sqrt(0.02**2 / 3 + 0.02**2 / 3))
    # The verdict is the confirmation phase's, decided once at the study's level: runs so far get none here.
    assert info.beats_baseline is None and info.verdict is None and info.p_value is None
    assert info.winners_curse == pytest.approx(0.70 - 0.66)  # the search score was the lucky draw
    assert info.note and "no summary yet" in info.note and "no verdict until the confirmation ends" in info.note


def test_answer_reads_the_confirmations_outcome_before_there_is_a_summary() -> None:
    from dataclasses import replace

    confirmation = {"runs": 6, "finished": 6, "level": 0.8, "verdict": "decided by the phase", "best": "train_trial_best",
                    "beats_baseline": True, "difference": 0.06, "noise": 0.01, "p_value": 0.1, "ci_low": 0.01, "ci_high": 0.11,
                    "configs": {"baseline": {"values": [0.58, 0.6, 0.62]}, "train_trial_best": {"values": [0.64, 0.66, 0.68]}}}
    info = answer_info(replace(_study(), confirmation=confirmation))
    assert (info.verdict, info.beats_baseline, info.level, info.p_value) == ("decided by the phase", True, 0.8, 0.1)
    assert info.noise == 0.01 and "the confirmation's verdict" in (info.note or "")


def test_answer_prefers_summary_and_shows_new_confirmation_fields() -> None:
    summary = {"best_trial": {"name": "train_trial_best", "objective": 0.70, "changes_from_base": {"mixup_alpha": 0.4}},
               "baseline_trial": {"name": "train_trial_base", "objective": 0.60},
               "confirmation": {"configs": {"baseline": {"mean": 0.6, "std": 0.02, "n": 3, "values": [0.58, 0.6, 0.62]},
                                            "train_trial_best": {"mean": 0.66, "std": 0.02, "n": 3, "values": [0.64, 0.66, 0.68]}},
                                "verdict": "it beats the baseline", "best": "train_trial_best", "beats_baseline": True,
                                "p_value": 0.012, "ci_low": 0.01, "ci_high": 0.11, "level": 0.95}}
    info = answer_info(_study(summary))
    assert info.changes == {"mixup_alpha": 0.4}
    assert info.verdict == "it beats the baseline"
    assert (info.p_value, info.ci, info.level) == (0.012, (0.01, 0.11), 0.95)
    assert info.note is None


def test_answer_without_confirmation_or_finished_trials() -> None:
    info = answer_info(_study({"confirmation": {"note": "skipped (--confirm-top 0)"}}, confirm=False))
    assert info.confirmed == () and info.difference is None and info.note == "skipped (--confirm-top 0)"
    failed = tables([trial("train_trial_x", None, outcome="failed")])
    assert "no search trial finished" in (answer_info(failed).reason or "")


# -- 2. technique effects --------------------------------------------------------------------------

def test_seed_noise_pools_the_confirmed_configurations() -> None:
    sd, df = seed_noise(_study())
    assert df == 4 and sd == pytest.approx(0.02)
    assert seed_noise(_study(confirm=False)) == (None, 0)


def test_effects_levels_pruned_apart_and_noise_band() -> None:
    info = effects_info(_study())
    mixup = next(e for e in info.effects if e.param == "mixup")
    assert mixup.title == "mixup" and not mixup.numeric
    assert {lv.x: (round(lv.mean, 3), lv.n) for lv in mixup.marginal} == {False: (0.6, 1), True: (0.675, 2)}
    assert [p.name for p in mixup.pruned] == ["train_trial_cut"] and mixup.pruned[0].epochs == 1
    assert "train_trial_cut" not in [p.name for p in mixup.finished]
    assert mixup.band == pytest.approx((0.675 - 0.04, 0.675))
    assert mixup.exceeds_noise is True  # the levels differ by 0.075 > 2σ = 0.04
    lr = next(e for e in info.effects if e.param == "lr")
    assert lr.numeric and [p.param for p in info.effects] == ["mixup", "lr"]  # the chapter's order


def test_effects_bins_a_number_with_many_values() -> None:
    search = [trial(f"train_trial_{i}", 0.5 + 0.01 * i, params={"label_smoothing": 0.01 * i}) for i in range(20)]
    e = effects_info(tables(search)).effects[0]
    assert len(e.marginal) == 5 and [lv.n for lv in e.marginal] == [4] * 5
    assert e.band is None and e.exceeds_noise is None  # no confirmation: no noise


def test_effects_without_search_values() -> None:
    assert effects_info(tables([trial("train_trial_a", 0.5)])).reason


# -- 3. importance ---------------------------------------------------------------------------------

def test_importance_uses_optuna_and_says_when_too_few() -> None:
    search = [trial(f"train_trial_{i}", 0.3 + 0.04 * (i % 5) + 0.001 * i, params={"lr": 0.001 * (1 + i % 5), "mixup": i % 2 == 0})
              for i in range(12)]
    info = importance_info(with_optuna(tables(search)))
    assert info.reason is None, info.reason
    ranked = dict(info.importances)
    assert set(ranked) == {"lr", "mixup"} and ranked["lr"] > ranked["mixup"]  # the objective follows lr
    assert info.n_trials == 12 and info.note and "only 12 finished trials" in info.note
    assert "PED-ANOVA" in info.evaluator


def test_importance_compares_the_spread_with_seed_noise() -> None:
    search = [trial(f"train_trial_{i}", 0.60 + 0.001 * i, params={"lr": 0.001 * (1 + i)}) for i in range(6)]
    conf = _confirm("baseline", [0.55, 0.60, 0.65])
    info = importance_info(with_optuna(tables(search + conf)))
    assert info.note and "may be seed noise" in info.note


def test_importance_without_optuna_or_trials() -> None:
    assert importance_info(tables([trial("train_trial_a", 0.5, params={"lr": 0.01})])).reason
    one = with_optuna(tables([trial("train_trial_a", 0.5, params={"lr": 0.01})]))
    assert "at least 2" in (importance_info(one).reason or "")


# -- 4. TTA -------------------------------------------------------------------------------------------

def test_tta_gain_and_cost() -> None:
    t = trial("train_trial_t", 0.60, params={"tta_n": 4}, tta=0.63)
    info = tta_info(tables([t, trial("train_trial_p", 0.5)]))
    (p,) = info.points
    assert (p.tta_n, p.plain, p.with_tta) == (4, 0.60, 0.63)
    assert p.gain == pytest.approx(0.03) and p.extra_ms == pytest.approx(2.0)
    assert info.mean_gain == pytest.approx(0.03)
    assert "none of the 1 finished" in (tta_info(tables([trial("train_trial_p", 0.5)])).reason or "")


# -- 5. cost -----------------------------------------------------------------------------------------

def test_pareto_front() -> None:
    assert pareto([("a", 0.9, 10.0), ("b", 0.8, 5.0), ("c", 0.7, 6.0), ("d", 0.9, 12.0)]) == {"a", "b"}


def test_cost_info() -> None:
    info = cost_info(_study({"pareto_front": [{"trial": "train_trial_best"}]}))
    assert {p.name for p in info.points} == {"train_trial_base", "train_trial_best", "train_trial_mid"}
    assert "train_trial_best" in info.front_train and info.study_front == {"train_trial_best"}
    assert cost_info(tables([])).reason


# -- 6. learning curves -----------------------------------------------------------------------------

def test_curves_sizes_outcomes_and_colour_choices() -> None:
    prog = trial("train_trial_prog", 0.7, params={"progressive": True}, sizes=(24, 24, 32))
    flat = trial("train_trial_flat", 0.6, params={"progressive": False})
    conf = trial("train_trial_c", 0.65, phase="confirm", label="train_trial_prog")
    info = curves_info(tables([prog, flat, conf]))
    by = {c.name: c for c in info.curves}
    assert by["train_trial_prog"].sizes == (24, 24, 32) and by["train_trial_prog"].accuracy[-1] == pytest.approx(0.7)
    assert by["train_trial_c"].values["progressive"] is True  # a confirmation run shows the values it repeats
    assert info.colour_by[0] == "outcome" and "progressive" in info.colour_by
    assert curves_info(tables([])).reason


# -- 7. timeline ------------------------------------------------------------------------------------

def test_timeline_packs_slots_and_draws_deadlines() -> None:
    info = timeline_info(_study({"skipped_for_budget": 2, "confirmation": {"note": "2 runs did not fit"}}))
    slots = {b.name: b.slot for b in info.bars}
    assert slots["train_trial_base"] != slots["train_trial_best"]  # both started at 0
    assert info.slots == 2
    assert dict(info.deadlines) == {"search deadline": pytest.approx(70.0), "budget end": pytest.approx(100.0)}
    assert info.not_started == 2 and info.confirm_note == "2 runs did not fit"
    assert 0 < (info.busy or 0) <= 1


def test_timeline_splits_each_bar_into_training_and_the_rest_and_gives_the_share() -> None:
    from dataclasses import replace

    from trainable.timing import TrialTimes

    a = replace(trial("train_trial_a", 0.6, start=0, duration=20), times=TrialTimes(start=2, data=1, train=12, eval=3))
    b = replace(trial("train_trial_b", 0.7, start=5, duration=20), times=TrialTimes(train=15, final=2))
    c = trial("train_trial_c", 0.5, start=30, duration=10)  # recorded no times: its bar is not split
    info = timeline_info(tables([a, b, c], budget_s=50.0))
    bars = {x.name: x for x in info.bars}
    assert (bars["train_trial_a"].train_s, bars["train_trial_a"].before_train_s) == (12, 3)
    assert bars["train_trial_b"].train_s == 15 and bars["train_trial_c"].train_s is None
    assert info.slots == 2 and info.wall_s == pytest.approx(50.0)
    assert info.training == pytest.approx(27 / (2 * 50.0))


def test_timeline_draws_each_phase_deadline_with_an_ablation_share() -> None:
    search = [trial("train_trial_a", 0.6, start=0), trial("train_trial_b", 0.7, start=5)]
    info = timeline_info(tables(search, summary={}, budget_s=600.0, confirm_share=0.3, ablation_share=0.3))
    assert dict(info.deadlines) == {"search deadline": pytest.approx(240.0), "confirmation deadline": pytest.approx(420.0),
                                    "budget end": pytest.approx(600.0)}


def test_timeline_marks_a_trial_that_failed_over_where_its_new_attempt_began() -> None:
    from dataclasses import replace

    from dashboards.render.timeline import timeline_figures, timeline_note

    lost = replace(trial("train_trial_lost", 0.6, start=0, duration=20), attempts=(
        {"node_id": "aaaa1111", "node_ip": "10.0.0.3", "from_epoch": 0, "time": (T0 + 0) * 1000},
        {"node_id": "bbbb2222", "node_ip": "10.0.0.2", "from_epoch": 2, "time": (T0 + 12) * 1000}))
    gone = trial("train_trial_gone", None, start=2, outcome="failed")
    gone = replace(gone, error="could not be placed: no live node has 1 GPU for a trial")
    info = timeline_info(tables([lost, trial("train_trial_calm", 0.5, start=0), gone], summary={}))
    (mark,) = info.restarts
    assert mark.restart.trial == "train_trial_lost" and mark.at_s == pytest.approx(12.0)
    assert mark.slot == next(b.slot for b in info.bars if b.name == "train_trial_lost")
    assert mark.restart.from_node == "10.0.0.3 (node aaaa1111)" and mark.restart.resumed_after_epoch == 2
    assert info.nodes.not_placed == ("train_trial_gone",)
    note = timeline_note(info)
    assert "1 trial(s) failed over to another node" in note and "1 trial(s) could not be placed" in note
    (fig,) = timeline_figures(info)
    (diamonds,) = [t for t in fig.data if t.name == "failed over"]
    assert list(diamonds.x) == [pytest.approx(12.0)] and "resumed after epoch 2" in diamonds.text[0]


# -- 8. history ------------------------------------------------------------------------------------

def test_history_best_so_far() -> None:
    info = history_info(_study())
    assert [p.best_so_far for p in info.points] == pytest.approx([0.60, 0.70, 0.70, 0.70])
    assert info.params == ("lr", "mixup") and len(info.rows) == 3
    assert history_info(tables([])).reason


# -- 9. ablation -----------------------------------------------------------------------------------

def test_ablation_present_and_absent() -> None:
    rows = [{"technique": "mixup", "contribution": 0.01, "stderr": 0.004, "ci_low": 0.002, "ci_high": 0.018, "p_value": 0.03,
             "verdict": "helps", "n_pairs": 3},
            {"technique": "tta", "contribution": 0.02, "stderr": 0.01, "ci_low": -0.001, "ci_high": 0.041, "p_value": None,
             "verdict": "not shown", "n_pairs": 3}]
    info = ablation_info(tables([], summary={"ablation": rows}))
    assert [r.technique for r in info.rows] == ["tta", "mixup"] and info.rows[0].p_value is None
    assert ablation_info(tables([], summary={})).reason == "this study ran no ablation phase"
    section = {"winner": "train_trial_best", "seeds": [1000, 1001], "level": 0.95, "techniques": rows[:1],
               "skipped": [{"technique": "presizing", "reason": "would not finish in the 3 s left"}]}
    info = ablation_info(tables([], summary={"ablation": section}))
    assert [r.technique for r in info.rows] == ["mixup"] and info.winner == "train_trial_best" and info.level == 0.95
    assert info.skipped == ("presizing: would not finish in the 3 s left",)
    note = ablation_info(tables([], summary={"ablation": {"note": "off (ablation_share = 0 in the study file)"}}))
    assert note.reason == "off (ablation_share = 0 in the study file)"
    assert ablation_info(tables([])).reason == "the study has no summary yet"



H = 0.05 / math.sqrt(2)  # two values ± H have a standard deviation of 0.05


def test_the_answer_compares_the_search_pick_when_the_baseline_had_the_best_confirmed_mean() -> None:
    """The confirmation's best mean was the baseline's (as in a real demo): the panel shows the
    search's pick against the baseline, not the summary's zero difference of the baseline with itself."""
    summary = {"best_trial": {"name": "train_trial_best", "objective": 0.70, "changes_from_base": {}},
               "baseline_trial": {"name": "train_trial_base", "objective": 0.60},
               "confirmation": {"best": "baseline", "difference": 0.0, "noise": None, "p_value": None,
                                "configs": {"baseline": {"mean": 0.78, "std": 0.05, "n": 2, "values": [0.78 - H, 0.78 + H]},
                                            "train_trial_best": {"mean": 0.77, "std": 0.05, "n": 2, "values": [0.77 - H, 0.77 + H]}},
                                "verdict": "no configuration beat the baseline on average", "beats_baseline": False}}
    info = answer_info(_study(summary))
    assert info.difference == pytest.approx(-0.01)
    assert info.noise == pytest.approx(math.sqrt(0.05**2 / 2 + 0.05**2 / 2))
    assert info.p_value is None and info.ci is None and info.beats_baseline is False


def test_an_evaluation_only_ablation_says_it_read_the_winners_own_models() -> None:
    from dashboards.render.ablation import ablation_figures, ablation_notes

    row = {"technique": "test-time augmentation", "contribution": 0.09, "stderr": 0.02, "ci_low": 0.01, "ci_high": 0.17,
           "p_value": 0.036, "verdict": "winner − without test-time augmentation = +0.0900 (...): higher", "n_pairs": 3,
           "evaluation_only": True, "shown": True}
    info = ablation_info(tables([], summary={"ablation": {"winner": "w", "level": 0.95, "techniques": [row]}}))
    assert info.rows[0].evaluation_only is True
    assert any("own models evaluated without it" in n for n in ablation_notes(info))
    bar = ablation_figures(info)[0].data[0]
    assert bar.text[0] == "+9.0 pp · 3 pairs · p = 0.036"  # the numbers on the bar, the sentence in the hover
    assert bar.customdata[0].startswith("winner − without test-time augmentation = +0.0900 (...):<br>")


# -- the techniques, and early stopping's foresight ------------------------------------------------

def test_techniques_are_read_as_the_confirmation_decided_them() -> None:
    from dashboards.panels import techniques_info

    row = {"technique": "mixup", "recipe": "mixup", "arm": "train_trial_m", "setting": {"mixup_alpha": 0.4},
           "decision": {"arm": "train_trial_m", "verdict": "hurt", "pairs": 5, "level": 0.9, "look": 2, "difference": -0.05,
                        "p_value": 0.001, "p_adjusted": 0.02},
           "baseline_by_seed": {"1000": 0.6, "1001": 0.62}, "arm_by_seed": {"1000": 0.55, "1001": 0.57}}
    confirmation = {"level": 0.9, "techniques": [row], "decisions": {"train_trial_m": row["decision"]},
                    "plan": {"pairs": [3, 5], "alphas": [0.05, 0.05], "level": 0.9}, "ended": "every comparison is settled"}
    info = techniques_info(tables([], summary={"confirmation": confirmation}))
    (r,) = info.rows
    assert r.verdict == "hurt" and r.decision.look == 2 and r.arm_by_seed == {1000: 0.55, 1001: 0.57}
    assert info.plan.pairs == (3, 5) and info.comparisons == 1 and info.level == 0.9 and info.ended
    from dataclasses import replace

    before = replace(tables([], phase="ablation"), confirmation=confirmation)  # the phase's outcome, no summary yet
    assert techniques_info(before).rows == info.rows
    assert "has not ended" in (techniques_info(tables([], phase="confirm")).reason or "")


def test_rungs_rank_the_finished_trials_against_their_end() -> None:
    from dataclasses import replace

    from dashboards.panels import rungs_info

    search = [trial(f"train_trial_{i}", 0.5 + 0.05 * i, epochs=4) for i in range(4)]
    tab = tables(search)
    info = rungs_info(replace(tab, meta=replace(tab.meta, asha=(1, 2.0))))
    assert [r.rung for r in info.rows] == [1, 2] and all(r.rho == pytest.approx(1.0) for r in info.rows) and info.trials == 4
    assert "no ASHA" in (rungs_info(tab).reason or "")
