from dataclasses import FrozenInstanceError

import pytest

from trainable.config import ConfigError, TrialConfig
from trainable.presets import PRESETS, preset


def test_defaults_valid_and_round_trip():
    c = TrialConfig()
    d = c.to_dict()
    assert all(isinstance(v, (str, int, float, bool)) for v in d.values())
    assert TrialConfig.from_dict(d) == c
    for key in ["model", "epochs", "lr", "batch_size", "size", "presize", "min_scale", "normalize",
                "mixup_alpha", "label_smoothing", "tta_n", "tta_beta", "seed", "schedule"]:
        assert key in d


def test_from_dict_converts_strings():
    c = TrialConfig.from_dict({"lr": "1e-3", "epochs": "7", "flip": "false", "tta_n": 2.0})
    assert (c.lr, c.epochs, c.flip, c.tta_n) == (1e-3, 7, False, 2)


def test_frozen():
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'lr'"):
        TrialConfig().lr = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("key,value,needle", [
    ("lr", -1.0, "lr must be in"),
    ("lr", "fast", "lr must be a number, got 'fast'"),
    ("epochs", 0, "epochs must be in"),
    ("epochs", 2.5, "epochs must be an integer, got 2.5"),
    ("model", "resnet9", "'resnet9'"),
    ("normalize", "batch", "'batch'"),
    ("mixup_alpha", -0.4, "-0.4"),
    ("label_smoothing", 1.0, "label_smoothing"),
    ("tta_beta", 1.5, "1.5"),
    ("label_noise", 3, "label_noise must be one of"),
    ("min_scale", 0.0, "min_scale"),
    ("checkpoint_every_s", -1.0, "checkpoint_every_s must be in .*0 = every epoch.*got -1.0"),
    ("flip", "maybe", "flip must be true or false, got 'maybe'"),
    ("device", "tpu", "'tpu'"),
    ("schedule", "128x4,224", "SIZExEPOCHS"),
    ("lr", float("nan"), "finite"),
    ("size", 400, "presize"),
])
def test_bad_values_name_field_and_value(key, value, needle):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")) as e:
        TrialConfig.from_dict({key: value})
    assert key in str(e.value)


def test_unknown_key_suggests():
    with pytest.raises(ConfigError, match="did you mean 'mixup_alpha'"):
        TrialConfig.from_dict({"mixup_alph": 0.4})


def test_presets_are_data_and_valid():
    assert {"book-baseline", "book-normalized", "book-progressive", "book-progressive-tta",
            "book-mixup", "book-label-smoothing"} <= set(PRESETS)
    base = preset("book-baseline")
    assert (base.model, base.presize, base.batch_size, base.epochs, base.size, base.lr, base.min_scale, base.normalize) == (
        "xresnet50", 460, 64, 5, 224, 3e-3, 0.75, "none")
    prog = preset("book-progressive")
    assert prog.total_epochs == 10 and prog.final_size == 224
    assert preset("book-mixup").mixup_alpha == 0.4
    assert preset("book-label-smoothing").label_smoothing == 0.1
    assert preset("book-progressive-tta").tta_n > 0
    for name in PRESETS:
        assert isinstance(preset(name), TrialConfig)


def test_unknown_preset():
    with pytest.raises(ConfigError, match="unknown preset 'book-basline'.*book-baseline"):
        preset("book-basline")


def test_cost_model():
    assert TrialConfig(epochs=2, size=64, presize=64).cost() == pytest.approx(0.5)
    assert preset("book-progressive").cost() == pytest.approx(4 + 6 * (224 / 128) ** 2)
