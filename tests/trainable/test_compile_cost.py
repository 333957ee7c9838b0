"""compile = "auto": compile when the trial's training images save more than compiling costs (measured figures)."""

from __future__ import annotations

import pytest

from trainable.compile_cost import MEASURED, CompileFigures, card_key, compile_pays, training_images
from trainable.config import ConfigError, TrialConfig

FIG = CompileFigures(eager_images_per_s=1000.0, compiled_images_per_s=2000.0, cold_compile_s=60.0, warm_compile_s=5.0)


def test_it_pays_when_the_images_save_more_than_the_compile_costs() -> None:
    # each image saves 0.5 ms: 120,000 images save 60 s, the cold cost; 10,000 save 5 s, the warm one
    assert compile_pays({224: 130_000}, {224: FIG}, warm={})[0]
    assert not compile_pays({224: 110_000}, {224: FIG}, warm={224: False})[0]
    assert compile_pays({224: 11_000}, {224: FIG}, warm={224: True})[0]
    pays, why = compile_pays({224: 9_000}, {224: FIG}, warm={224: True})
    assert not pays and why == "compiling would save 4 s of training steps for 5 s of compilation: eager"


def test_every_size_pays_its_own_compile_and_an_unmeasured_size_stays_eager() -> None:
    figures = {128: FIG, 224: FIG}
    assert not compile_pays({128: 70_000, 224: 70_000}, figures, warm={})[0]  # 70 s saved for 120 s of compiles
    assert compile_pays({128: 130_000, 224: 130_000}, figures, warm={})[0]
    pays, why = compile_pays({160: 10**9}, figures, warm={})
    assert not pays and "no measured compile figures at 160 px" in why


def test_a_compiled_step_slower_than_eager_never_pays_and_figures_are_checked() -> None:
    slower = CompileFigures(eager_images_per_s=1000.0, compiled_images_per_s=900.0, cold_compile_s=0.0)
    assert not compile_pays({32: 10**9}, {32: slower}, warm={})[0]
    with pytest.raises(ValueError, match="positive rates"):
        CompileFigures(eager_images_per_s=0.0, compiled_images_per_s=1.0, cold_compile_s=1.0)
    assert card_key("NVIDIA H200") == "h200" and ("h200", "xresnet50", 224) in MEASURED


def test_the_images_a_trial_trains_on_per_size() -> None:
    cfg = TrialConfig(schedule="128x4,224x5:fine_tune", batch_size=256, presize=256)
    assert training_images(cfg, 9469) == {128: 4 * 36 * 256, 224: 6 * 36 * 256}  # fine_tune: 5 + 1 epochs
    assert training_images(TrialConfig(epochs=2, batch_size=64), 50) == {48: 2 * 50}  # one step on all 50


def test_compile_is_auto_on_off_and_reads_an_old_boolean() -> None:
    assert TrialConfig().compile == "auto"
    assert TrialConfig.from_dict({"compile": True}).compile == "on"
    assert TrialConfig.from_dict({"compile": False}).compile == "off"
    with pytest.raises(ConfigError, match="compile must be one of .*got 'sometimes'"):
        TrialConfig.from_dict({"compile": "sometimes"})


def test_auto_is_eager_on_a_cpu_and_says_why(tmp_path) -> None:
    from trainable.build import decide_compile
    from trainable.runtime import Runtime

    cfg = TrialConfig(device="cpu")
    assert decide_compile(cfg, Runtime.from_config(cfg), 1000) == (False, "compile=auto: eager on cpu")
    on = cfg.replace(compile="on")
    assert decide_compile(on, Runtime.from_config(on), 1000) == (True, "compile=on")
