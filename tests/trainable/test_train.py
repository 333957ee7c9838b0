"""run_trial end to end on CPU: learns, is deterministic, resumes to the same result."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainable.config import ConfigError, TrialConfig
from trainable.train import TrialStopped, run_trial


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from trainable.data import ensure_embedded

    data_dir = tmp_path_factory.mktemp("train-data")
    return ensure_embedded(data_dir, seed=0, train_per_class=20, valid_per_class=10), data_dir


def _cfg(data: tuple[Path, Path], **kw) -> TrialConfig:
    root, data_dir = data
    base = dict(data=str(root), data_dir=str(data_dir), presize=48, size=32, epochs=3, batch_size=16, threads=1,
                lr=3e-3, checkpoint_every_s=0.0)  # a checkpoint every epoch (these epochs take under a second)
    base.update(kw)
    return TrialConfig.from_dict(base)


class Interrupt(Exception):
    pass


def test_everything_on_resumes_to_the_same_result(data, tmp_path):
    """Mixup, smoothing, normalization, progressive resizing with fine_tune, TTA; killed after epoch 2."""
    cfg = _cfg(data, schedule="24x1@3e-3,32x1@1e-3:fine_tune", normalize="dataset", mixup_alpha=0.4,
               label_smoothing=0.1, tta_n=2)
    seen: list[dict] = []
    full = run_trial(cfg, on_epoch=lambda m, c: seen.append(m), checkpoint_dir=tmp_path / "a")
    assert [m["size"] for m in full.history] == [24, 32, 32]
    assert [m["epoch"] for m in seen] == [0, 1, 2]
    assert full.accuracy_tta is not None and full.infer_ms_per_image_tta > full.infer_ms_per_image
    assert full.norm_mean is not None and all(0.1 < v < 0.45 for v in full.norm_mean)  # the dark background

    def stop_after_second(m, ckpt):
        assert ckpt is not None and ckpt.wait().exists()  # written in the background, complete once waited for
        if m["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_trial(cfg, on_epoch=stop_after_second, checkpoint_dir=tmp_path / "b")
    resumed = run_trial(cfg, checkpoint_dir=tmp_path / "b")
    assert resumed.resumed_from_epoch == 1
    assert _same_metrics(resumed.history, full.history)
    assert (resumed.accuracy, resumed.accuracy_tta, resumed.valid_loss) == (full.accuracy, full.accuracy_tta, full.valid_loss)
    assert resumed.confusion == full.confusion


def test_should_stop_ends_the_trial_mid_epoch_and_keeps_the_done_epochs(data, tmp_path):
    """A deadline does not wait for the end of an epoch: asked before every batch, in training and
    in evaluation; the epochs checkpointed before it stand, and a resume continues from them."""
    cfg = _cfg(data, epochs=3)
    asked: list[int] = []
    seen: list[int] = []

    def after_epoch_one_and_two_batches() -> bool:
        asked.append(len(seen))
        return len(seen) == 1 and asked.count(1) > 2

    with pytest.raises(TrialStopped, match="epoch 2, before batch 3"):
        run_trial(cfg, on_epoch=lambda m, c: seen.append(m["epoch"]), checkpoint_dir=tmp_path,
                  should_stop=after_epoch_one_and_two_batches)
    assert seen == [0]
    assert asked.count(0) > num_batches_of(cfg)  # asked in epoch 1's training and its evaluation too
    resumed = run_trial(cfg, checkpoint_dir=tmp_path)
    assert resumed.resumed_from_epoch == 0 and [m["epoch"] for m in resumed.history] == [0, 1, 2]

    with pytest.raises(TrialStopped, match="final"):  # the final evaluation asks too
        run_trial(cfg, checkpoint_dir=tmp_path, should_stop=lambda: True)


def num_batches_of(cfg) -> int:
    from trainable.data import prepare
    from trainable.data.loader import num_batches

    cache = prepare(cfg.data, cfg.presize, data_dir=Path(cfg.data_dir) if cfg.data_dir else None)
    return num_batches(cache, "train", cfg.batch_size, drop_last=True)


def _same_metrics(a: list[dict], b: list[dict]) -> bool:
    keys = ("epoch", "size", "train_loss", "valid_loss", "accuracy", "top5", "lr")
    return [[m[k] for k in keys] for m in a] == [[m[k] for k in keys] for m in b]


def test_checkpoints_come_every_checkpoint_every_s_and_after_the_last_epoch(data, tmp_path):
    """Epochs shorter than ``checkpoint_every_s`` get no checkpoint but the last; a trial stopped
    before it has none to resume from and starts over."""
    cfg = _cfg(data, epochs=3, checkpoint_every_s=3600.0)
    got: list[tuple[int, bool]] = []
    run_trial(cfg, on_epoch=lambda m, c: got.append((m["epoch"], c is not None)), checkpoint_dir=tmp_path / "a")
    assert got == [(0, False), (1, False), (2, True)]
    assert [p.name for p in (tmp_path / "a").glob("epoch-*.pt")] == ["epoch-00002.pt"]

    def stop_after_second(m, ckpt):
        if m["epoch"] == 1:
            raise Interrupt

    with pytest.raises(Interrupt):
        run_trial(cfg, on_epoch=stop_after_second, checkpoint_dir=tmp_path / "b")
    assert not list((tmp_path / "b").glob("epoch-*.pt"))
    resumed = run_trial(cfg, checkpoint_dir=tmp_path / "b")
    assert resumed.resumed_from_epoch is None and [m["epoch"] for m in resumed.history] == [0, 1, 2]


def test_resume_refuses_another_config(data, tmp_path):
    cfg = _cfg(data, epochs=1)
    run_trial(cfg, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match="lr: 0.003 -> 0.001"):
        run_trial(cfg.replace(lr=1e-3), checkpoint_dir=tmp_path)


def test_same_seed_same_metrics_other_seed_differs(data):
    cfg = _cfg(data, epochs=1)
    a, b = run_trial(cfg), run_trial(cfg)
    c = run_trial(cfg.replace(seed=1))
    assert _same_metrics(a.history, b.history)
    assert a.history[0]["train_loss"] != c.history[0]["train_loss"]


@pytest.mark.slow
def test_short_training_ends_well_above_chance(tmp_path_factory):
    """The default CPU recipe's shape, shortened: 10 classes, so chance is 0.10."""
    from trainable.data import ensure_embedded

    data_dir = tmp_path_factory.mktemp("learn")
    root = ensure_embedded(data_dir, seed=0, train_per_class=60, valid_per_class=20)
    cfg = TrialConfig.from_dict(dict(data=str(root), data_dir=str(data_dir), presize=48, size=32, epochs=5,
                                     batch_size=32, lr=5e-3, normalize="dataset", threads=2))
    result = run_trial(cfg)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    # 200 validation images: at chance (0.10) the standard deviation is 0.021, so 0.2 is ~5 sigma above
    assert result.accuracy >= 0.2, result.history


def _image_folder(root: Path, layout: dict[str, int]) -> Path:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for folder, count in layout.items():
        (root / folder).mkdir(parents=True)
        for i in range(count):
            Image.fromarray(rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(root / folder / f"{i}.png")
    return root


def test_a_split_smaller_than_one_batch_trains_on_what_there_is_and_says_so_once(tmp_path):
    """Two classes, 47 training images, the default batch of 64: one step per epoch on all 47."""
    from trainable.train import SmallSplitWarning

    root = _image_folder(tmp_path / "few", {"train/a": 24, "train/b": 23, "val/a": 3, "val/b": 3})
    cfg = TrialConfig.from_dict(dict(data=str(root), data_dir=str(tmp_path / "cache"), presize=32, size=32, epochs=2,
                                     threads=1))
    assert cfg.batch_size == 64
    with pytest.warns(SmallSplitWarning, match="47 images, fewer than batch_size 64") as caught:
        result = run_trial(cfg)
    assert len([w for w in caught if issubclass(w.category, SmallSplitWarning)]) == 1  # once, not per epoch
    assert [m["epoch"] for m in result.history] == [0, 1]
    for m in result.history:
        assert round(m["images_per_s"] * m["epoch_seconds"]) == 47
        assert m["lr"] > 0


def test_a_split_with_nothing_to_train_on_is_an_error_before_any_work(tmp_path):
    root = _image_folder(tmp_path / "one", {"train/a": 1, "val/a": 2})
    cfg = TrialConfig.from_dict(dict(data=str(root), data_dir=str(tmp_path / "cache"), presize=32, size=32, epochs=1,
                                     threads=1))
    seen: list[int] = []
    with pytest.raises(ConfigError, match="train split of .*one has 1 image") as e:
        run_trial(cfg, on_epoch=lambda m, c: seen.append(m["epoch"]), checkpoint_dir=tmp_path / "ckpt")
    assert str(root) in str(e.value)
    assert seen == [] and not (tmp_path / "ckpt").exists()


def test_checkpoints_hold_what_resume_reads_and_no_rng_or_norm(data, tmp_path):
    """Every epoch's checkpoint but the last holds the optimizer's state; the last, nothing left to
    train, holds the weights alone. Each carries the trial's time so far."""
    from trainable.checkpoint import load_checkpoint

    run_trial(_cfg(data, epochs=2, normalize="dataset"), checkpoint_dir=tmp_path)
    first, last = (load_checkpoint(tmp_path / f"epoch-{e:05d}.pt") for e in (0, 1))
    assert set(first) == {"config", "epoch", "model", "optimizer", "history", "train_seconds", "times"}
    assert set(last) == set(first) - {"optimizer"}
    assert first["times"]["train"] > 0 and last["times"]["train"] > first["times"]["train"]


def test_images_held_on_the_device_train_exactly_like_the_host_loader(data):
    """data_on_device=on serves the host loader's batches (here on CPU, the path CUDA takes by default)."""
    cfg = _cfg(data, epochs=1, tta_n=1, normalize="imagenet")
    host, held = run_trial(cfg.replace(data_on_device="off")), run_trial(cfg.replace(data_on_device="on"))
    assert _same_metrics(host.history, held.history)
    assert (host.accuracy, host.accuracy_tta, host.confusion) == (held.accuracy, held.accuracy_tta, held.confusion)


def test_a_second_trial_in_the_same_process_uploads_nothing(data, monkeypatch):
    """A reused worker keeps the images it uploaded (per data set and presize): the next trial on them reuses them."""
    import trainable.data.resident as resident

    built: list[str] = []

    class Counting(resident.ResidentImages):
        def __init__(self, *args, **kw) -> None:  # made once per upload
            super().__init__(*args, **kw)
            built.append(self.folder)

    monkeypatch.setattr(resident, "ResidentImages", Counting)
    monkeypatch.setattr(resident, "_RESIDENT", type(resident._RESIDENT)())  # this test's own process-wide cache
    cfg = _cfg(data, epochs=1, data_on_device="on")
    first = run_trial(cfg)
    second = run_trial(cfg.replace(seed=1, lr=1e-3))  # another trial, the same data at the same presize
    assert len(built) == 1 and first.history[0]["train_loss"] != second.history[0]["train_loss"]
    run_trial(cfg.replace(presize=40))  # another presize: another set, uploaded once, the first one kept
    assert len(built) == 2 and len(resident.held_sets()) == 2
