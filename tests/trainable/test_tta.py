"""Tests of trainable/tta.py: fastai's Learner.tta combination rule."""

from __future__ import annotations

import pytest
import torch

from trainable.tta import tta_combine


def _probs(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).softmax(-1)


def test_blend_is_one_minus_beta_mean_plus_beta_plain() -> None:
    plain, aug = _probs(6, 4), _probs(3, 6, 4, seed=1)
    out = tta_combine(plain, aug, beta=0.25)
    torch.testing.assert_close(out, 0.75 * aug.mean(0) + 0.25 * plain)
    torch.testing.assert_close(out.sum(-1), torch.ones(6))  # still probabilities


def test_beta_end_points() -> None:
    plain, aug = _probs(6, 4), _probs(3, 6, 4, seed=1)
    torch.testing.assert_close(tta_combine(plain, aug, beta=0.0), aug.mean(0))
    torch.testing.assert_close(tta_combine(plain, aug, beta=1.0), plain)


@pytest.mark.parametrize("beta", [-0.1, 1.5, float("nan")])
def test_beta_outside_unit_interval_is_rejected_with_its_value(beta: float) -> None:
    with pytest.raises(ValueError, match="beta") as info:
        tta_combine(_probs(2, 3), _probs(1, 2, 3), beta=beta)
    assert repr(beta) in str(info.value)


def test_use_max_takes_the_max_over_plain_and_augmented_passes() -> None:
    plain, aug = _probs(6, 4), _probs(3, 6, 4, seed=1)
    plain[0, 0] = 2.0  # the plain pass wins here, as in fastai's stack([preds, aug]).max(0)
    out = tta_combine(plain, aug, beta=0.25, use_max=True)
    torch.testing.assert_close(out, torch.cat([plain[None], aug]).amax(0))
    assert out[0, 0] == 2.0


def test_no_augmented_pass_returns_plain() -> None:
    plain = _probs(5, 3)
    for use_max in (False, True):
        out = tta_combine(plain, torch.empty(0, 5, 3), beta=0.25, use_max=use_max)
        assert torch.equal(out, plain) and out is not plain


def test_shape_mismatches_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"\(n, 5, 3\)"):
        tta_combine(_probs(5, 3), _probs(2, 4, 3))
    with pytest.raises(ValueError, match=r"\(n, 5, 3\)"):
        tta_combine(_probs(5, 3), _probs(5, 3))
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        tta_combine(_probs(2, 5, 3), _probs(1, 2, 5, 3))
