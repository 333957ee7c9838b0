"""Where a trial's seconds went: the record, the ledger, the warm-up rule, and run_trial filling them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from trainable.timing import PARTS, TIME_KEYS, TimeLedger, TrialTimes, warmup_seconds


def test_the_flat_names_are_made_once_and_read_back_from_reports_and_mlflow() -> None:
    times = TrialTimes(start=1.0, data=2.0, train=30.0, eval=4.5)
    flat = times.to_flat()
    assert set(flat) == {f"seconds_{p}" for p in PARTS} == set(TIME_KEYS.values())
    assert TrialTimes.from_flat({**flat, "accuracy": 0.5}) == times
    assert TrialTimes.from_flat({"final_seconds_train": 7.0, "final_seconds_eval": 1.0}) == TrialTimes(train=7.0, eval=1.0)
    assert TrialTimes.from_flat({"accuracy": 0.5, "seconds_train": "7"}) is None  # nothing usable: no times
    assert times.total == pytest.approx(37.5)


def test_a_negative_or_missing_number_of_seconds_is_refused_naming_the_part() -> None:
    with pytest.raises(ValueError, match="TrialTimes.eval must be a number of seconds >= 0, got -1.0"):
        TrialTimes(eval=-1.0)
    with pytest.raises(ValueError, match="train"):
        TrialTimes(train=float("nan"))


@pytest.mark.parametrize(("epoch_s", "first_s", "steps", "expected"), [
    (10.0, 5.5, 10, 5.0),  # steady 0.5 s a step: the first paid 5 s more
    (10.0, 1.0, 10, 0.0),  # a first step no slower than the rest
    (10.0, 0.5, 10, 0.0),  # faster (noise): never below 0
    (3.0, 3.0, 1, 0.0),  # one step: nothing to compare it with
    (2.0, 9.0, 3, 2.0),  # a first step longer than the epoch is cut to it
])
def test_warm_up_is_what_the_first_step_took_beyond_a_steady_one(epoch_s, first_s, steps, expected) -> None:
    assert warmup_seconds(epoch_s, first_s, steps) == pytest.approx(expected)


def test_the_ledger_adds_parts_counts_blocks_and_restores_an_earlier_attempt() -> None:
    ledger = TimeLedger()
    ledger.add("train", 2.0)
    ledger.add("train", -1.0)  # a clock that went backwards adds nothing
    with pytest.raises(RuntimeError), ledger.part("eval"):
        time.sleep(0.01)
        raise RuntimeError("an error inside the block is still counted")
    ledger.restore(TrialTimes(train=5.0, checkpoint=1.0))
    snap = ledger.snapshot()
    assert snap.train == pytest.approx(7.0) and snap.checkpoint == pytest.approx(1.0) and snap.eval >= 0.01
    with pytest.raises(KeyError, match="'lunch'"):
        ledger.add("lunch", 1.0)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from trainable.data import ensure_embedded

    data_dir = tmp_path_factory.mktemp("timing-data")
    return ensure_embedded(data_dir, seed=0, train_per_class=20, valid_per_class=10), data_dir


def _cfg(data: tuple[Path, Path], **kw):
    from trainable.config import TrialConfig

    root, data_dir = data
    return TrialConfig.from_dict(dict(data=str(root), data_dir=str(data_dir), presize=48, size=32, epochs=2, batch_size=16,
                                      threads=1, checkpoint_every_s=0.0, **kw))  # a checkpoint every epoch


def test_run_trial_counts_every_part_on_the_training_thread_and_they_add_up_to_its_wall(data, tmp_path) -> None:
    from trainable.train import run_trial

    ledger = TimeLedger(TrialTimes(start=0.5))  # what an orchestration counted before the trial's code ran
    t0 = time.perf_counter()
    result = run_trial(_cfg(data, tta_n=2), checkpoint_dir=tmp_path, times=ledger)
    wall = time.perf_counter() - t0
    t = result.times
    assert t == ledger.snapshot() and t.start == 0.5
    for part in ("data", "model", "train", "eval", "checkpoint", "final"):
        assert getattr(t, part) > 0, part
    assert t.train + t.warmup == pytest.approx(result.train_seconds, rel=1e-6)  # the epochs' wall time, split in two
    assert t.total - t.start <= wall  # each part on the one thread: they cannot add up to more than its wall
    assert result.to_dict()["times"] == t.to_dict()


def test_a_resumed_trial_keeps_the_times_its_checkpoint_recorded(data, tmp_path) -> None:
    from trainable.checkpoint import load_checkpoint
    from trainable.train import run_trial

    class Stop(Exception):
        pass

    def stop_after_first(metrics, ckpt) -> None:
        ckpt.wait()
        raise Stop

    cfg = _cfg(data)
    with pytest.raises(Stop):
        run_trial(cfg, on_epoch=stop_after_first, checkpoint_dir=tmp_path)
    recorded = TrialTimes(**load_checkpoint(tmp_path / "epoch-00000.pt")["times"])
    resumed = run_trial(cfg, checkpoint_dir=tmp_path)
    assert resumed.resumed_from_epoch == 0
    assert resumed.times.train > recorded.train > 0  # epoch 1's steps on top of epoch 0's
    assert resumed.times.data > recorded.data  # both attempts opened the data


def test_the_last_epochs_validation_pass_is_the_final_plain_pass(data, monkeypatch) -> None:
    """The final evaluation does not run the plain pass the last epoch just ran (same weights, same batches)."""
    import trainable.evaluation as evaluation
    from trainable.train import run_trial

    calls: list[bool] = []
    real = evaluation.predict

    def counting(*args, **kw):
        calls.append(kw.get("augment") is not None)
        return real(*args, **kw)

    monkeypatch.setattr(evaluation, "predict", counting)
    result = run_trial(_cfg(data, tta_n=1))
    assert calls == [False, False, True]  # epoch 0's pass, epoch 1's (also the final plain pass), one TTA pass
    assert result.accuracy == result.history[-1]["accuracy"] and result.valid_loss == result.history[-1]["valid_loss"]
    assert result.infer_ms_per_image > 0 and sum(map(sum, result.confusion)) == 100
