"""The ablation phase in a real tiny study: the winner re-run without each of its techniques, on its
own confirmation seeds, judged by paired tests; summary.json's numbers are MLflow's.

The trials are the stand-in with planted effects (``study.testing.stand_in.planted_trial``:
normalization +0.15, mixup +0.10, seed noise within ±0.01 that pairs share and ±0.002 that they do not),
so the answer is known.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from study.driver.launch import LaunchOptions, launch
from study.testing.faults import TRAINABLE_ENV
from study.testing.stand_in import PLANTED
from tests.study.helpers import write_study

pytestmark = pytest.mark.slow


def as_param(value: object) -> str:
    """A config value as MLflow holds it (strings as they are, the rest as JSON)."""
    return value if isinstance(value, str) else json.dumps(value)


def planted_study(small_data: Path, tmp_path: Path, name: str, search: str, *, one_at_a_time: bool = False) -> dict:
    """A study of the planted stand-in over ``search``: 8 trials, an ablation phase, no ASHA (one trial at a
    time: TPE's suggestions then follow from the seed alone)."""
    spec = write_study(tmp_path / "spec", small_data, name=name, max_trials=8, budget="240s", search=search)
    text = spec.read_text().replace("confirm_seeds = 2", "confirm_seeds = 3").replace("confirm_share = 0.3",
                                                                                      "confirm_share = 0.3\nablation_share = 0.3")
    spec.write_text(text.replace('scheduler = "asha"', 'scheduler = "none"'))
    return launch(LaunchOptions(space=str(spec), root=str(tmp_path / "studies"), status_every_s=1e9,
                                cpus_per_trial=2 if one_at_a_time else None))


def test_the_ablation_recovers_the_planted_techniques(ray_session, small_data: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The technique table finds both planted effects; the winner combines them, and its ablation trains the
    variant no comparison ran (mixup at the winner's alpha, without normalization) and reads the other
    (the normalized recipe, compared already) from the confirmation's runs."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv(TRAINABLE_ENV, "study.testing.stand_in:planted_trial")
    summary = planted_study(small_data, tmp_path, "ablated", 'normalize = { choice = ["none", "dataset"] }\n'
                            'mixup = { choice = [false, true] }\nmixup_alpha = { float = [0.2, 0.6], when = { mixup = true } }\n',
                            one_at_a_time=True)

    conf, ab = summary["confirmation"], summary["ablation"]
    table = {r["technique"]: r for r in conf["techniques"]}
    for technique, effect in (("normalization", PLANTED["normalization"]), ("mixup", PLANTED["mixup"])):
        assert table[technique]["verdict"] == "helped", table[technique]
        assert table[technique]["decision"]["difference"] == pytest.approx(effect, abs=0.004)
    for technique in ("progressive resizing", "test-time augmentation", "label smoothing"):  # not in this space: a row that says so
        assert table[technique]["verdict"] == "not compared" and "cannot switch it on" in table[technique]["why_not"], table[technique]
    winner = conf["configs"][ab["winner"]]["config"]
    assert winner["normalize"] == "dataset" and winner["mixup_alpha"] not in (0.0, 0.4), "the search found the planted winner"
    assert conf["beats_baseline"] is True and conf["p_adjusted"] < 0.05 and conf["level"] == 0.95
    seeds = sorted(int(s) for s in conf["configs"][ab["winner"]]["by_seed"])
    assert ab["seeds"] == seeds and len(seeds) >= 3

    rows = {r["technique"]: r for r in ab["techniques"]}
    assert set(rows) == {"normalization", "mixup"}, ab
    for technique, effect in (("normalization", PLANTED["normalization"]), ("mixup", PLANTED["mixup"])):
        r = rows[technique]
        assert r["n_pairs"] >= 2 and r["shown"] is True, r
        assert r["contribution"] == pytest.approx(effect, abs=0.004), "paired runs cancel their seed's noise"
        assert r["ci_low"] <= r["contribution"] <= r["ci_high"] and r["p_adjusted"] >= r["p_value"]
    assert rows["normalization"]["n_pairs"] == len(seeds) and ab["runs"] == len(seeds)  # only this variant trained

    client = MlflowClient(summary["tracking_uri"])
    exp = client.get_experiment_by_name("ablated")
    runs = client.search_runs([exp.experiment_id], filter_string="tags.`xs.kind` = 'ablation'")
    assert len(runs) == len(seeds)
    from_mlflow: dict[int, float] = {}
    for run in runs:
        assert run.data.tags["xs.ablates"] == "normalization" and run.info.status == "FINISHED"
        params = run.data.params
        differing = {k for k in winner if k != "seed" and as_param(winner[k]) != params[k]}
        assert differing == {"normalize"}  # exactly this technique changed
        from_mlflow[int(params["seed"])] = run.data.metrics["final_objective"]
    assert sorted(from_mlflow) == seeds
    winner_by_seed = {int(k): v for k, v in conf["configs"][ab["winner"]]["by_seed"].items()}
    diffs = [winner_by_seed[s] - from_mlflow[s] for s in seeds]
    assert rows["normalization"]["contribution"] == pytest.approx(sum(diffs) / len(diffs), abs=1e-12)


def test_ablating_tta_needs_no_training_the_winners_models_are_evaluated_without_it(
        ray_session, small_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """TTA changes only the evaluation: the winner without TTA is its own confirmation models, read plainly
    (every run reports its accuracy without TTA), and the winner without normalization is the TTA recipe,
    compared already. No ablation run is started; the TTA pairs are exact."""
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv(TRAINABLE_ENV, "study.testing.stand_in:planted_trial")
    summary = planted_study(small_data, tmp_path, "tta-ablated", 'normalize = { choice = ["none", "dataset"] }\ntta_n = { choice = [0, 4] }\n')

    conf, ab = summary["confirmation"], summary["ablation"]
    table = {r["technique"]: r["verdict"] for r in conf["techniques"]}
    assert table["test-time augmentation"] == table["normalization"] == "helped"
    winner = conf["configs"][ab["winner"]]
    assert winner["config"]["normalize"] == "dataset" and winner["config"]["tta_n"] == 4, "the planted winner was found"
    assert conf["test"] == "paired" and conf["n_pairs"] >= 3 and conf["beats_baseline"] is True
    rows = {r["technique"]: r for r in ab["techniques"]}
    assert set(rows) == {"normalization", "test-time augmentation"}, ab
    tta, norm = rows["test-time augmentation"], rows["normalization"]
    assert tta["evaluation_only"] is True and norm["evaluation_only"] is False and ab["evaluation_only"] == [tta["technique"]]
    assert tta["contribution"] == pytest.approx(PLANTED["test-time augmentation"], abs=1e-9), "the same models: exact pairs"
    assert norm["contribution"] == pytest.approx(PLANTED["normalization"], abs=0.004) and norm["shown"] is True
    assert ab["runs"] == 0 and ab["finished"] == 0  # nothing trained: both variants were there already

    client = MlflowClient(summary["tracking_uri"])
    exp = client.get_experiment_by_name("tta-ablated")
    assert client.search_runs([exp.experiment_id], filter_string="tags.`xs.kind` = 'ablation'") == []
    # The variant's numbers are MLflow's: the winner's confirmation runs' accuracy without TTA.
    confirm_runs = client.search_runs([exp.experiment_id], filter_string="tags.`xs.kind` = 'confirmation'")
    plain = {int(r.data.params["seed"]): r.data.metrics["final_accuracy"] for r in confirm_runs
             if r.data.params["tta_n"] == "4" and r.data.params["normalize"] == "dataset"}
    assert sorted(plain) == ab["seeds"]
    by_seed = {int(k): v for k, v in winner["by_seed"].items()}
    n = len(ab["seeds"])
    assert tta["contribution"] == pytest.approx(sum(by_seed[s] - plain[s] for s in ab["seeds"]) / n, abs=1e-12)
