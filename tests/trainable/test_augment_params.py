"""The augmentation's bounds are kept once: TrialConfig and AugmentParams accept exactly the same values."""

from __future__ import annotations

import pytest

from trainable.augment_params import AUGMENT_BOUNDS, AugmentParams, augment_params
from trainable.config import ConfigError, TrialConfig


def _edges(name: str) -> list[tuple[float, bool]]:
    b = AUGMENT_BOUNDS[name]
    eps = 1e-6
    return [(b.lo, not b.lo_open), (b.lo - eps, False), (b.lo + eps, True),
            (b.hi, not b.hi_open), (b.hi + eps, False), (b.hi - eps, True)]


@pytest.mark.parametrize("name", sorted(AUGMENT_BOUNDS))
def test_config_and_params_agree_at_every_edge(name: str) -> None:
    for value, ok in _edges(name):
        if ok:
            TrialConfig.from_dict({name: value})
            AugmentParams(**{name: value})  # type: ignore[arg-type]
        else:
            with pytest.raises(ConfigError, match=name):
                TrialConfig.from_dict({name: value})
            with pytest.raises(ValueError, match=name):
                AugmentParams(**{name: value})  # type: ignore[arg-type]


def test_params_of_a_config_are_its_fields() -> None:
    cfg = TrialConfig.from_dict({"min_scale": 0.35, "max_rotate": 20.0, "flip": False, "p_lighting": 0.1})
    p = augment_params(cfg)
    assert (p.min_scale, p.max_rotate, p.flip, p.p_lighting) == (0.35, 20.0, False, 0.1)
