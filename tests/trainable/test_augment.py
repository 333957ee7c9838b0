"""Tests of trainable/augment.py: shapes, ranges, determinism and the geometry of each draw."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F

from trainable.augment import (
    IMAGENET_STATS,
    AugmentParams,
    augment_batch,
    lighting,
    normalize,
    resize_batch,
    sample_lighting,
    sample_transform,
    warp_batch,
)

# Every random part off: a centre "crop" of the whole image, resampled once.
IDENTITY = AugmentParams(min_scale=1.0, flip=False, p_affine=0.0, p_lighting=0.0)
CORNERS = torch.tensor([[-1.0, -1.0, 1.0], [1.0, -1.0, 1.0], [1.0, 1.0, 1.0], [-1.0, 1.0, 1.0]])


def _gen(seed: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(seed)


def _images(b: int = 4, p: int = 40, seed: int = 0) -> torch.Tensor:
    g = _gen(seed)
    x = torch.randint(0, 256, (b, 3, p, p), generator=g, dtype=torch.uint8)
    return x.contiguous(memory_format=torch.channels_last)


def _smooth_images(b: int = 2, p: int = 80) -> torch.Tensor:
    """Low-frequency images, where resampling methods can only differ a little."""
    t = torch.linspace(0, 1, p)
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    planes = [0.5 + 0.4 * torch.sin(3 * xx + 2 * yy + k) for k in range(3)]
    img = torch.stack(planes)
    return (img * 255).round().to(torch.uint8).expand(b, 3, p, p).contiguous()


# ---------------------------------------------------------------------------------------------
# AugmentParams
# ---------------------------------------------------------------------------------------------


def test_params_defaults_are_fastai_aug_transforms() -> None:
    p = AugmentParams()
    assert (p.min_scale, p.flip, p.max_rotate, p.max_zoom) == (0.75, True, 10.0, 1.1)
    assert (p.max_warp, p.max_lighting, p.p_affine, p.p_lighting) == (0.2, 0.2, 0.75, 0.75)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.min_scale = 0.5  # type: ignore[misc]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_scale", 0.0),
        ("min_scale", 1.5),
        ("max_rotate", -1.0),
        ("max_zoom", 0.9),
        ("max_warp", -0.1),
        ("max_warp", 0.5),
        ("max_lighting", 1.0),
        ("max_lighting", -0.2),
        ("p_affine", 1.2),
        ("p_lighting", -0.1),
        ("max_rotate", float("nan")),
    ],
)
def test_params_reject_out_of_range_naming_field_and_value(field: str, value: float) -> None:
    kwargs: dict[str, Any] = {field: value}
    with pytest.raises(ValueError, match=field) as info:
        AugmentParams(**kwargs)
    assert repr(value) in str(info.value)


# ---------------------------------------------------------------------------------------------
# augment_batch: contract
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_float", [False, True])
def test_augment_batch_shape_dtype_layout_range(as_float: bool) -> None:
    x = _images(b=5, p=40)
    if as_float:
        x = x.float() / 255
    out = augment_batch(x, 24, AugmentParams(max_lighting=0.5, p_lighting=1.0), _gen(1))
    assert out.shape == (5, 3, 24, 24)
    assert out.dtype == torch.float32
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert torch.isfinite(out).all()


def test_augment_batch_is_deterministic_given_the_seed() -> None:
    x = _images(b=6)
    a = augment_batch(x, 32, AugmentParams(), _gen(7))
    b = augment_batch(x, 32, AugmentParams(), _gen(7))
    c = augment_batch(x, 32, AugmentParams(), _gen(8))
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-3)


def test_augment_batch_ignores_memory_format() -> None:
    x = _images(b=3)
    a = augment_batch(x, 32, AugmentParams(), _gen(3))
    b = augment_batch(x.contiguous(), 32, AugmentParams(), _gen(3))
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_augment_batch_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="square"):
        augment_batch(torch.zeros(2, 3, 8, 9), 4, IDENTITY, _gen(0))
    with pytest.raises(ValueError, match="int64"):
        augment_batch(torch.zeros(2, 3, 8, 8, dtype=torch.int64), 4, IDENTITY, _gen(0))
    with pytest.raises(ValueError, match="size=0"):
        augment_batch(torch.zeros(2, 3, 8, 8), 0, IDENTITY, _gen(0))


# ---------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------


def test_flip_only_gives_the_exact_mirror_image() -> None:
    x = _images(b=16, p=32)
    params = AugmentParams(min_scale=1.0, flip=True, p_affine=0.0, p_lighting=0.0)
    out = augment_batch(x, 32, params, _gen(5))
    flipped = sample_transform(16, params, _gen(5))[:, 0, 0] < 0  # same draws as above
    assert 0 < int(flipped.sum()) < 16  # both cases occur with this seed
    ref = x.float() / 255
    expected = torch.where(flipped.view(-1, 1, 1, 1), ref.flip(-1), ref)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize(("p", "size", "atol"), [(32, 32, 1e-5), (96, 32, 1e-5), (80, 64, 0.02)])
def test_identity_params_reproduce_resize_batch(p: int, size: int, atol: float) -> None:
    # Equal size: both are the identity. 3x: both use the same antialiased shrink. 1.25x: plain
    # bilinear vs antialiased resize, which differ only a little on a smooth image.
    x = _smooth_images(p=p)
    out = augment_batch(x, size, IDENTITY, _gen(0))
    torch.testing.assert_close(out, resize_batch(x, size), atol=atol, rtol=0)


def test_large_downsampling_is_antialiased() -> None:
    # White noise shrunk 8x: an antialiased resize averages ~64 pixels per output (std ~0.04);
    # bilinear sampling straight from the input would average 4 (std ~0.14).
    g = _gen(0)
    x = torch.randint(0, 256, (2, 3, 256, 256), generator=g, dtype=torch.uint8)
    out = augment_batch(x, 32, IDENTITY, _gen(1))
    assert out.std() < 0.08
    naive = F.interpolate(x.float() / 255, size=(32, 32), mode="bilinear", antialias=False)
    assert naive.std() > 0.1  # the check above can fail


def test_crop_samples_the_expected_window() -> None:
    # Half-side crop centred at (x, y) = (-0.5, 0.5) of a 2S image = the bottom-left S x S block.
    x = _images(b=2, p=32)
    m = torch.tensor([[0.5, 0.0, -0.5], [0.0, 0.5, 0.5], [0.0, 0.0, 1.0]]).expand(2, 3, 3)
    out = warp_batch(x, m, 16)
    torch.testing.assert_close(out, x[:, :, 16:, :16].float() / 255, atol=1e-5, rtol=0)


def test_crop_area_stays_within_min_scale_and_inside_the_image() -> None:
    params = AugmentParams(min_scale=0.3, flip=False, p_affine=0.0)
    m = sample_transform(4000, params, _gen(2))
    side = m[:, 0, 0]
    torch.testing.assert_close(m[:, 1, 1], side)  # square crop
    assert (m[:, 0, 1] == 0).all() and (m[:, 1, 0] == 0).all() and (m[:, 2, :2] == 0).all()
    area = side**2
    assert area.min() >= 0.3 - 1e-6 and area.max() <= 1.0 + 1e-6
    assert area.min() < 0.32 and area.max() > 0.98  # the whole range is used
    assert (m[:, 0, 2].abs() + side <= 1 + 1e-6).all()  # the crop lies inside the image
    assert (m[:, 1, 2].abs() + side <= 1 + 1e-6).all()


def test_rotation_and_zoom_stay_within_their_maxima() -> None:
    params = AugmentParams(min_scale=1.0, flip=False, max_warp=0.0, p_affine=1.0)
    m = sample_transform(3000, params, _gen(3))
    angle = torch.rad2deg(torch.atan2(m[:, 0, 1], m[:, 0, 0]))
    scale = torch.linalg.det(m[:, :2, :2]).sqrt()  # 1 / zoom
    assert angle.abs().max() <= 10.0 + 1e-4 and angle.abs().max() > 9.5
    assert scale.min() >= 1 / 1.1 - 1e-6 and scale.max() <= 1.0 + 1e-6
    assert scale.min() < 1 / 1.1 + 0.002


def test_p_affine_switches_each_transform_on_with_that_probability() -> None:
    params = AugmentParams(min_scale=1.0, flip=False, max_zoom=1.0, max_warp=0.0, p_affine=0.75)
    m = sample_transform(4000, params, _gen(4))
    rotated = (m[:, 0, 1] != 0).float().mean().item()
    assert abs(rotated - 0.75) < 0.03
    off = sample_transform(10, dataclasses.replace(params, p_affine=0.0), _gen(4))
    torch.testing.assert_close(off, torch.eye(3).expand(10, 3, 3))


def test_warp_moves_the_corners_in_fastai_keystone_pattern() -> None:
    params = AugmentParams(
        min_scale=1.0, flip=False, max_rotate=0.0, max_zoom=1.0, max_warp=0.3, p_affine=1.0
    )
    m = sample_transform(500, params, _gen(6))
    pts = CORNERS @ m.transpose(1, 2)  # (B, 4, 3)
    moved = pts[..., :2] / pts[..., 2:] - CORNERS[:, :2]  # corner displacement (B, 4, 2)
    assert moved.abs().max() <= 0.3 + 1e-5 and moved.abs().max() > 0.25
    # fastai _WarpCoord: corner (cx, cy) moves by -cx*cy*(mag_y, mag_x)
    sign = -(CORNERS[:, 0] * CORNERS[:, 1]).view(1, 4, 1)
    mags = moved[:, :1] / sign[:, :1]  # from the top-left corner
    torch.testing.assert_close(moved, sign * mags, atol=1e-5, rtol=0)


def test_warp_batch_validates_its_matrices() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3, 3\)"):
        warp_batch(_images(b=2), torch.eye(3).expand(3, 3, 3), 8)


# ---------------------------------------------------------------------------------------------
# Lighting
# ---------------------------------------------------------------------------------------------


def test_lighting_draws_follow_fastai_ranges() -> None:
    b, c = sample_lighting(4000, AugmentParams(max_lighting=0.2, p_lighting=1.0), _gen(0))
    assert b.min() >= 0.4 and b.max() <= 0.6 and b.min() < 0.41 and b.max() > 0.59
    assert c.min() >= 0.8 - 1e-6 and c.max() <= 1.25 + 1e-6
    assert c.min() < 0.81 and c.max() > 1.23
    b, c = sample_lighting(4000, AugmentParams(p_lighting=0.75), _gen(0))
    assert abs((b != 0.5).float().mean().item() - 0.75) < 0.03
    assert abs((c != 1.0).float().mean().item() - 0.75) < 0.03


def test_lighting_keeps_pixels_in_range_and_moves_them_the_right_way() -> None:
    x = torch.rand(3, 3, 8, 8, generator=_gen(0))
    x[:, :, 0, 0], x[:, :, 0, 1] = 0.0, 1.0
    neutral = lighting(x, torch.full((3,), 0.5), torch.ones(3))
    torch.testing.assert_close(neutral, x, atol=1e-6, rtol=0)
    out = lighting(x, torch.tensor([0.99, 0.01, 0.5]), torch.tensor([1.0, 1.0, 10.0]))
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert out[0].mean() > x[0].mean() + 0.2  # brighter
    assert out[1].mean() < x[1].mean() - 0.2  # darker
    assert out[2].std() > x[2].std() * 1.3  # more contrast


def test_strong_lighting_in_augment_batch_stays_in_range() -> None:
    params = AugmentParams(max_lighting=0.95, p_lighting=1.0)
    out = augment_batch(_images(b=8), 32, params, _gen(9))
    assert out.min() >= 0.0 and out.max() <= 1.0
    plain = augment_batch(_images(b=8), 32, dataclasses.replace(params, p_lighting=0.0), _gen(9))
    assert not torch.allclose(out, plain, atol=1e-2)


# ---------------------------------------------------------------------------------------------
# resize_batch, normalize
# ---------------------------------------------------------------------------------------------


def test_resize_batch_is_the_identity_at_equal_size() -> None:
    x = _images(b=2, p=24)
    out = resize_batch(x, 24)
    assert out.dtype == torch.float32 and out.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(out, x.float() / 255)
    xf = x.float() / 255
    assert resize_batch(xf, 24) is not xf  # a new tensor, never the input


def test_resize_batch_shrinks_with_antialiasing() -> None:
    x = _images(b=2, p=64)
    out = resize_batch(x, 16)
    assert out.shape == (2, 3, 16, 16)
    assert out.min() >= 0 and out.max() <= 1
    # On white noise a 4x antialiased shrink averages many pixels; plain bilinear averages 4.
    naive = F.interpolate(x.float() / 255, size=(16, 16), mode="bilinear", antialias=False)
    assert out.std() < 0.5 * naive.std()


def test_normalize_per_channel_and_keeps_layout() -> None:
    x = torch.rand(2, 3, 4, 4).contiguous(memory_format=torch.channels_last)
    mean, std = IMAGENET_STATS
    out = normalize(x, mean, std)
    for ch in range(3):
        torch.testing.assert_close(out[:, ch], (x[:, ch] - mean[ch]) / std[ch])
    assert out.is_contiguous(memory_format=torch.channels_last)
    with pytest.raises(ValueError, match="per channel"):
        normalize(x, (0.5, 0.5), (0.2, 0.2))
    with pytest.raises(ValueError, match="std"):
        normalize(x, mean, (0.2, 0.0, 0.2))


def test_imagenet_stats_values() -> None:
    assert IMAGENET_STATS == ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    assert all(math.isfinite(v) for row in IMAGENET_STATS for v in row)
