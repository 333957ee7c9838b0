"""Tests of trainable/mixup.py: the mixing formula, the Beta draws and the mixed loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from trainable.mixup import MixedBatch, mixup, mixup_loss, sample_beta


def _gen(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(seed)


def _batch(b: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.rand(b, 3, 5, 5, generator=_gen(100))
    y = torch.arange(b)  # unique labels: y_b reveals the permutation
    return x, y


def test_lambda_shape_range_and_dtype() -> None:
    x, y = _batch(64)
    out = mixup(x, y, 0.4, _gen(0))
    assert isinstance(out, MixedBatch)
    assert out.lam.shape == (64,) and out.lam.dtype == torch.float32
    assert (out.lam >= 0.5).all() and (out.lam <= 1.0).all()
    assert out.lam.std() > 0.05  # per-sample, not one value for the batch


def test_mixed_inputs_follow_the_formula_with_a_valid_permutation() -> None:
    x, y = _batch(16)
    out = mixup(x, y, 1.0, _gen(1))
    perm = out.y_b
    assert sorted(perm.tolist()) == list(range(16))
    assert not torch.equal(perm, y)  # this seed does move samples
    assert torch.equal(out.y_a, y)
    lam = out.lam.view(-1, 1, 1, 1)
    torch.testing.assert_close(out.x, lam * x + (1 - lam) * x[perm])


def test_alpha_zero_is_off() -> None:
    x, y = _batch(8)
    out = mixup(x, y, 0.0, _gen(2))
    assert torch.equal(out.x, x) and torch.equal(out.y_a, y) and torch.equal(out.y_b, y)
    assert torch.equal(out.lam, torch.ones(8))


@pytest.mark.parametrize("alpha", [-0.1, float("nan"), float("inf")])
def test_bad_alpha_is_rejected_with_its_value(alpha: float) -> None:
    x, y = _batch(4)
    with pytest.raises(ValueError, match="alpha") as info:
        mixup(x, y, alpha, _gen(0))
    assert repr(alpha) in str(info.value)


def test_rejects_integer_inputs_and_mismatched_batches() -> None:
    x, y = _batch(4)
    with pytest.raises(ValueError, match="float"):
        mixup(torch.zeros(4, 3, dtype=torch.uint8), y, 0.4)
    with pytest.raises(ValueError, match="batch size"):
        mixup(x, y[:3], 0.4)


def test_deterministic_given_the_seed_and_only_uses_that_generator() -> None:
    x, y = _batch(16)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    a = mixup(x, y, 0.4, _gen(3))
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is untouched
    b = mixup(x, y, 0.4, _gen(3))
    c = mixup(x, y, 0.4, _gen(4))
    assert torch.equal(a.x, b.x) and torch.equal(a.lam, b.lam) and torch.equal(a.y_b, b.y_b)
    assert not torch.equal(a.lam, c.lam)


@pytest.mark.parametrize("alpha", [0.2, 0.4, 2.0])
def test_beta_draws_have_the_beta_moments(alpha: float) -> None:
    s = sample_beta(40000, alpha, _gen(5)).double()
    assert torch.isfinite(s).all() and s.min() >= 0 and s.max() <= 1
    var = 1 / (4 * (2 * alpha + 1))  # Var of Beta(a, a)
    assert abs(s.mean().item() - 0.5) < 0.01
    assert abs(s.var().item() - var) < 0.05 * var
    # P(X < 0.1) of Beta(a, a): integrate the density after w = t^a, which removes the t^(a-1)
    # singularity: the integrand becomes (1 - w^(1/a))^(a-1) / a.
    w = torch.linspace(0, 0.1**alpha, 20001, dtype=torch.float64)
    log_b = 2 * math.lgamma(alpha) - math.lgamma(2 * alpha)
    tail = torch.trapezoid((1 - w ** (1 / alpha)) ** (alpha - 1) / alpha, w).item()
    tail /= math.exp(log_b)
    assert abs((s < 0.1).double().mean().item() - tail) < 0.012


def test_tiny_alpha_does_not_underflow() -> None:
    s = sample_beta(5000, 0.01, _gen(6))
    assert torch.isfinite(s).all()
    assert (torch.minimum(s, 1 - s) < 1e-3).float().mean() > 0.8  # mass at the ends


def _hand_ce(logits: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Label-smoothed cross-entropy per sample, written out."""
    logp = logits.log_softmax(-1)
    nll = -logp[torch.arange(len(y)), y]
    return (1 - eps) * nll + eps * (-logp.mean(-1))


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_loss_equals_the_formula(eps: float) -> None:
    g = _gen(7)
    logits = torch.randn(8, 5, generator=g)
    y_a, y_b = torch.randint(0, 5, (8,), generator=g), torch.randint(0, 5, (8,), generator=g)
    lam = 0.5 + 0.5 * torch.rand(8, generator=g)
    expected = (lam * _hand_ce(logits, y_a, eps) + (1 - lam) * _hand_ce(logits, y_b, eps)).mean()
    torch.testing.assert_close(mixup_loss(logits, y_a, y_b, lam, label_smoothing=eps), expected)


def test_loss_with_lambda_one_is_cross_entropy_and_smoothing_is_passed_through() -> None:
    g = _gen(8)
    logits = torch.randn(8, 5, generator=g)
    y_a = torch.randint(0, 5, (8,), generator=g)
    y_b = (y_a + 1) % 5
    ones = torch.ones(8)
    torch.testing.assert_close(mixup_loss(logits, y_a, y_b, ones), F.cross_entropy(logits, y_a))
    smoothed = mixup_loss(logits, y_a, y_b, ones, label_smoothing=0.1)
    torch.testing.assert_close(smoothed, F.cross_entropy(logits, y_a, label_smoothing=0.1))
    assert not torch.allclose(smoothed, mixup_loss(logits, y_a, y_b, ones))


def test_loss_rejects_bad_arguments() -> None:
    logits, y = torch.randn(4, 3), torch.zeros(4, dtype=torch.int64)
    with pytest.raises(ValueError, match="label_smoothing=1.5"):
        mixup_loss(logits, y, y, torch.ones(4), label_smoothing=1.5)
    with pytest.raises(ValueError, match="4 samples"):
        mixup_loss(logits, y, y, torch.ones(3))


def test_gradient_flows_to_logits() -> None:
    x, y = _batch(8)
    out = mixup(x, y % 3, 0.4, _gen(9))
    logits = torch.randn(8, 3, requires_grad=True)
    mixup_loss(logits, out.y_a, out.y_b, out.lam).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0
