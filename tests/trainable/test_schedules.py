import math
from itertools import pairwise

import pytest

from trainable.config import TrialConfig
from trainable.schedules import (
    Stage,
    checkpoint_due,
    epoch_plan,
    format_schedule,
    one_cycle,
    parse_schedule,
    plan_cycles,
    resize_schedule,
    step_hparams,
)


def test_one_cycle_endpoints_and_peak():
    lr, mom = one_cycle(0.0, 1e-2)
    assert lr == pytest.approx(1e-2 / 25)
    assert mom == pytest.approx(0.95)
    lr, mom = one_cycle(0.25, 1e-2)
    assert lr == pytest.approx(1e-2)
    assert mom == pytest.approx(0.85)
    lr, mom = one_cycle(1.0, 1e-2)
    assert lr == pytest.approx(1e-2 / 1e5)
    assert mom == pytest.approx(0.95)


def test_one_cycle_cosine_midpoints():
    # halfway through warm-up: cosine midpoint between start and peak
    lr, mom = one_cycle(0.125, 1.0, div=10, pct_start=0.25)
    assert lr == pytest.approx((0.1 + 1.0) / 2)
    assert mom == pytest.approx(0.90)
    # halfway through annealing
    lr, _ = one_cycle(0.625, 1.0, div_final=100, pct_start=0.25)
    assert lr == pytest.approx((1.0 + 0.01) / 2)
    # a quarter into annealing: cosine, not linear
    lr, _ = one_cycle(0.25 + 0.75 / 4, 1.0, div_final=1e9, pct_start=0.25)
    assert lr == pytest.approx((1 + math.cos(math.pi / 4)) / 2)


def test_one_cycle_monotone_phases():
    xs = [i / 1000 for i in range(1000)]
    lrs = [one_cycle(x, 3e-3)[0] for x in xs]
    peak = lrs.index(max(lrs))
    assert 240 <= peak <= 251
    assert all(a <= b for a, b in pairwise(lrs[:peak + 1]))
    assert all(a >= b for a, b in pairwise(lrs[peak:]))


@pytest.mark.parametrize("bad", [{"pos": -0.1}, {"pos": 1.5}, {"pct_start": 0.0}, {"pct_start": 1.0}])
def test_one_cycle_rejects_bad_input(bad):
    kwargs = {"pos": 0.5, "lr_max": 1e-3}
    kwargs.update(bad)
    with pytest.raises(ValueError, match=str(next(iter(bad.values())))):
        one_cycle(kwargs.pop("pos"), kwargs.pop("lr_max"), **kwargs)


def test_parse_book_progressive():
    stages = parse_schedule("128x4@3e-3,224x5@1e-3:fine_tune", default_lr=9.0)
    assert stages == (Stage(128, 4, 3e-3, "cycle"), Stage(224, 5, 1e-3, "fine_tune"))
    assert format_schedule(stages) == "128x4@0.003,224x5@0.001:fine_tune"
    assert parse_schedule(format_schedule(stages), 1.0) == stages


def test_parse_defaults_and_aliases():
    assert parse_schedule("64x2", 0.01) == (Stage(64, 2, 0.01, "cycle"),)
    assert parse_schedule("64x2:ft", 0.01)[0].mode == "fine_tune"


@pytest.mark.parametrize("text,needle", [
    ("", "empty"),
    ("128", "SIZExEPOCHS"),
    ("128x4@abc", "not"),
    ("128x4:warm", "'warm'"),
    ("4x4", "size"),
    ("128x0", "epochs"),
    ("128x2@50", "learning rate"),
    ("128x2:cont", "stage 1"),
])
def test_parse_errors_name_the_problem(text, needle):
    with pytest.raises(ValueError, match=needle):
        parse_schedule(text, 1e-3)


def test_fine_tune_expands_like_fastai():
    cycles = plan_cycles(parse_schedule("128x4@3e-3,224x5@1e-3:fine_tune", 1.0))
    assert len(cycles) == 3
    first, frozen, rest = cycles
    assert (first.lr_max, first.div, first.pct_start, first.epochs, first.reset_optimizer) == (3e-3, 25.0, 0.25, 4, False)
    assert (frozen.lr_max, frozen.pct_start, frozen.epochs, frozen.reset_optimizer) == (1e-3, 0.99, 1, True)
    assert (rest.lr_max, rest.div, rest.pct_start, rest.epochs, rest.reset_optimizer) == (5e-4, 5.0, 0.3, 5, True)
    plans = epoch_plan(cycles)
    assert [p.size for p in plans] == [128] * 4 + [224] * 6
    assert [p.cycle_index for p in plans] == [0] * 4 + [1] + [2] * 5
    assert [p.starts_cycle for p in plans] == [True, False, False, False, True, True, False, False, False, False]


def test_cont_stage_continues_one_cycle_across_sizes():
    cycles = plan_cycles(parse_schedule("64x2@1e-2,128x2:cont", 1.0))
    assert len(cycles) == 1
    assert cycles[0].sizes == ((64, 2), (128, 2))
    plans = epoch_plan(cycles)
    assert [p.size for p in plans] == [64, 64, 128, 128]
    # lr at the first step of epoch 3 is the one-cycle value at position 1/2
    lr, _ = step_hparams(plans[2], 0, 10)
    assert lr == pytest.approx(one_cycle(0.5, 1e-2)[0])


def test_step_hparams_positions():
    plans = epoch_plan(plan_cycles((Stage(32, 4, 1e-2),)))
    lr0, mom0 = step_hparams(plans[0], 0, 8)
    assert (lr0, mom0) == pytest.approx(one_cycle(0.0, 1e-2))
    lr, _ = step_hparams(plans[3], 7, 8)
    assert lr == pytest.approx(one_cycle(31 / 32, 1e-2)[0])
    with pytest.raises(ValueError, match="step"):
        step_hparams(plans[0], 8, 8)


# --- progressive resizing: the two-stage schedule of the study's resize parameters ---


@pytest.mark.parametrize("size,epochs,lr,scale,frac,mode,expected", [
    (64, 5, 3e-3, 0.5, 0.5, "fine_tune", "32x3@0.003,64x1@0.001:fine_tune"),  # n1 = round(2.5) = 3 (half up)
    (64, 5, 3e-3, 0.8, 0.8, "fine_tune", "48x4@0.003,64x0@0.001:fine_tune"),  # fine_tune with 0 extra epochs
    (48, 5, 3e-3, 0.5, 0.3, "cont", "24x2@0.003,48x3:cont"),
    (224, 10, 3e-3, 0.57, 0.4, "cycle", "128x4@0.003,224x6@0.001"),
    (64, 5, 3e-3, 0.5, 0.01, "cont", "32x1@0.003,64x4:cont"),  # n1 clamped up to 1
    (64, 5, 3e-3, 0.5, 0.99, "cont", "32x4@0.003,64x1:cont"),  # n1 clamped down to epochs - 1
    (24, 2, 1e-2, 0.3, 0.5, "fine_tune", "16x1@0.01,24x0@0.00333333:fine_tune"),  # start size at least 16
])
def test_resize_schedule_strings(size, epochs, lr, scale, frac, mode, expected):
    text = resize_schedule(size, epochs, lr, start_scale=scale, frac=frac, mode=mode)
    assert text == expected
    cfg = TrialConfig.from_dict({"schedule": text, "presize": 2 * size, "epochs": epochs, "size": size})
    assert cfg.total_epochs == epochs  # every mode keeps the base epoch count


@pytest.mark.parametrize("kwargs,needle", [
    ({"size": 64, "epochs": 1, "lr": 3e-3, "start_scale": 0.5, "frac": 0.5, "mode": "cont"}, "epochs >= 2"),
    ({"size": 24, "epochs": 5, "lr": 3e-3, "start_scale": 0.9, "frac": 0.5, "mode": "cont"}, "start size of 24 px"),
    ({"size": 64, "epochs": 5, "lr": 3e-3, "start_scale": 0.5, "frac": 0.5, "mode": "sideways"}, "resize_mode"),
    ({"size": 64, "epochs": 5, "lr": 3e-3, "start_scale": 1.5, "frac": 0.5, "mode": "cont"}, "(0, 1)"),
])
def test_resize_schedule_rejects(kwargs, needle):
    with pytest.raises(ValueError) as info:
        resize_schedule(**kwargs)
    assert needle in str(info.value)


def test_a_checkpoint_is_due_after_every_s_seconds_and_after_the_last_epoch():
    assert not checkpoint_due(29.9, 30.0, last_epoch=False)
    assert checkpoint_due(30.0, 30.0, last_epoch=False)
    assert checkpoint_due(0.1, 30.0, last_epoch=True)  # the last epoch always: the weights a trial ends with
    assert checkpoint_due(0.0, 0.0, last_epoch=False)  # 0: every epoch
