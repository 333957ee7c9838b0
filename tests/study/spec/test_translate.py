"""From a study's parameters to a TrialConfig (the virtual parameters translated), and describe."""

from __future__ import annotations

import pytest

from study.common.errors import UsageError
from study.spec import default_spec, describe, to_trial_config
from tests.study.spec.helpers import DEFAULT_PARAMS


def test_describe_one_line_per_param():
    spec = default_spec()
    text = describe(spec)
    lines = text.splitlines()
    for name in DEFAULT_PARAMS:
        assert sum(line.split()[0] == name for line in lines if line.startswith("    ")) == 1
    assert "10m" in text and "maximize accuracy" in text and "when mixup = true" in text



def test_to_trial_config_translates_virtual_params():
    spec = default_spec()
    off = to_trial_config(spec, {"mixup": False, "progressive": False, "size": 64})
    assert off.mixup_alpha == 0.0 and off.schedule == "" and off.size == 64
    on = to_trial_config(spec, {"mixup": True, "progressive": True, "resize_start_scale": 0.5, "resize_frac": 0.5,
                                "resize_mode": "cont", "size": 64, "lr": 0.004}, seed=7)
    assert on.mixup_alpha == 0.4  # no mixup_alpha sampled: fastai's default
    # 4 base epochs (the demo's, issue 12), frac 0.5 -> 2 at 32 px, 2 at 64 px
    assert on.schedule == "32x2@0.004,64x2:cont" and on.seed == 7 and on.lr == 0.004
    # progressive on with the resize parameters left out uses their defaults (scale 0.5, frac 0.5, fine_tune)
    # at the demo's 48 px and 4 epochs: 2 epochs at 24 px, then fine_tune's 1 + 1 at 48 px
    assert to_trial_config(spec, {"progressive": True}).schedule == "24x2@0.003,48x1@0.001:fine_tune"
    # resize parameters alone imply progressive resizing
    assert to_trial_config(spec, {"resize_mode": "cont"}).schedule == "24x2@0.003,48x2:cont"  # cont: 2 + 2 epochs


@pytest.mark.parametrize("params,needle", [
    ({"lr": 20.0}, "lr must be in (0, 10)"),
    ({"size": 16, "progressive": True, "resize_start_scale": 0.9}, "start size"),
    ({"mixup": "yes"}, "mixup must be true or false"),
    ({"learning_rate": 0.1}, "unknown parameter"),
    ({"lr": 10**400}, "plain value"),
    ({"epochs": 1, "progressive": True}, "epochs >= 2"),
])
def test_to_trial_config_errors_are_usage_errors(params, needle):
    with pytest.raises(UsageError) as info:
        to_trial_config(default_spec(), params)
    assert needle in str(info.value)



@pytest.mark.parametrize("params,needle", [
    ({"progressive": True, "epochs": 1}, "epochs >= 2"),
    ({"progressive": True, "size": 24, "presize": 48, "resize_start_scale": 0.9}, "start size of 24 px"),
    ({"resize_mode": "sideways"}, "resize_mode"),
    ({"resize_start_scale": 1.5}, "(0, 1)"),
])
def test_the_resize_schedules_refusals_are_usage_errors(params, needle):
    """trainable.schedules.resize_schedule raises ValueError; the study repeats it as a usage error."""
    with pytest.raises(UsageError) as info:
        to_trial_config(default_spec(), params)
    assert needle in str(info.value)
