"""Batch augmentation on the model's device: fastai's presizing, second half.

The batch iterator hands over uint8 ``(B, 3, P, P)`` squares (the "presized" images); here every
spatial change of fastai's ``aug_transforms(size, min_scale=0.75)`` (random resized crop, flip,
rotate, zoom, perspective warp) becomes one 3x3 matrix per sample, and the output is sampled from
the P x P input with ONE ``grid_sample`` (fastbook ch. 7, "Presizing": compose the transforms and
interpolate once). Lighting (brightness, contrast) then acts in logit space as in fastai.

All randomness comes from an explicit ``torch.Generator`` on the input's device; no Python loop
runs over samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from trainable.augment_params import AugmentParams

__all__ = [
    "IMAGENET_STATS",
    "AugmentParams",
    "augment_batch",
    "lighting",
    "normalize",
    "resize_batch",
    "sample_lighting",
    "sample_transform",
    "warp_batch",
]

IMAGENET_STATS: tuple[tuple[float, float, float], tuple[float, float, float]] = (
    (0.485, 0.456, 0.406),  # mean per channel (RGB), images in [0, 1]
    (0.229, 0.224, 0.225),  # std per channel (RGB)
)

# fastai's `logit` clamps to [1e-7, 1 - 1e-7] so that pure black / white stay finite.
_LOGIT_EPS = 1e-7
# Bilinear sampling reads 2 x 2 neighbours, so it starts to alias once one output pixel steps over
# more than 2 input pixels; fastai's `_grid_sample` pre-shrinks past the same point.
_MAX_BILINEAR_STEP = 2.0


# --------------------------------------------------------------------------------------------
# Drawing the per-sample parameters
# --------------------------------------------------------------------------------------------


def sample_transform(
    batch_size: int,
    params: AugmentParams,
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> Tensor:
    """Draw one homography per sample: output coords -> input coords, both in [-1, 1].

    The matrix is ``crop @ warp @ flip @ rotate @ zoom`` acting on ``(x, y, 1)`` in
    ``grid_sample``'s normalised coordinates (``align_corners=False``), the same order fastai's
    ``AffineCoordTfm`` applies them (affine matrix first, then the warp of the coordinates), with
    the square ``RandomResizedCropGPU`` crop folded in last so that one resampling does it all.

    Returns:
        float32 tensor ``(batch_size, 3, 3)`` on ``device`` (default: the generator's device).
    """
    if batch_size < 0:
        raise ValueError(f"batch_size must be >= 0, got {batch_size=}")
    device = generator.device if device is None else torch.device(device)
    _check_generator(generator, device)
    u = torch.rand(batch_size, 13, generator=generator, device=device)
    zero, one = torch.zeros_like(u[:, 0]), torch.ones_like(u[:, 0])

    # 1. Random square crop (fastai RandomResizedCropGPU with ratio=(1, 1)): area fraction
    #    a ~ U(min_scale, 1), side s = sqrt(a), centre uniform over the positions that keep the
    #    crop inside the image.
    side = (params.min_scale + (1.0 - params.min_scale) * u[:, 0]).sqrt()
    cx = (1.0 - side) * (2.0 * u[:, 1] - 1.0)
    cy = (1.0 - side) * (2.0 * u[:, 2] - 1.0)
    crop = _affine(side, zero, cx, zero, side, cy)

    # 2. Horizontal flip with p = 0.5 (fastai flip_mat).
    flip_sign = 1.0 - 2.0 * (u[:, 3] < 0.5).float() if params.flip else one
    flip = _affine(flip_sign, zero, zero, zero, one, zero)

    # 3. Rotation by theta ~ U(-max_rotate, max_rotate) degrees with p_affine (fastai rotate_mat).
    rot_on = (u[:, 4] < params.p_affine).float()
    theta = rot_on * math.radians(params.max_rotate) * (2.0 * u[:, 5] - 1.0)
    cos, sin = theta.cos(), theta.sin()
    rotate = _affine(cos, sin, zero, -sin, cos, zero)

    # 4. Zoom z ~ U(1, max_zoom) with p_affine, about a random centre (fastai zoom_mat): the
    #    sampled window shrinks to 1/z of the crop and stays inside it.
    zoom_on = (u[:, 6] < params.p_affine).float()
    z = 1.0 + zoom_on * (params.max_zoom - 1.0) * u[:, 7]
    s = 1.0 / z
    zx = (1.0 - s) * (2.0 * u[:, 8] - 1.0)
    zy = (1.0 - s) * (2.0 * u[:, 9] - 1.0)
    zoom = _affine(s, zero, zx, zero, s, zy)

    # 5. Perspective warp with p_affine (fastai _WarpCoord): two keystone magnitudes
    #    ~ U(-max_warp, max_warp); the output's corners sample the input at displaced corners.
    warp_on = (u[:, 10] < params.p_affine).float()
    mag_x = warp_on * params.max_warp * (2.0 * u[:, 11] - 1.0)
    mag_y = warp_on * params.max_warp * (2.0 * u[:, 12] - 1.0)
    warp = _keystone(mag_x, mag_y)

    return crop @ warp @ flip @ rotate @ zoom


def sample_lighting(
    batch_size: int,
    params: AugmentParams,
    generator: torch.Generator,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor]:
    """Draw fastai's per-sample ``(brightness, contrast)``, each switched on with p_lighting.

    Brightness ~ U(0.5 (1 - m), 0.5 (1 + m)), neutral 0.5; contrast = exp(U(log(1 - m),
    -log(1 - m))), neutral 1 (fastai ``_BrightnessLogit`` / ``_ContrastLogit``, m = max_lighting).

    Returns:
        Two float32 tensors ``(batch_size,)`` on ``device`` (default: the generator's device).
    """
    if batch_size < 0:
        raise ValueError(f"batch_size must be >= 0, got {batch_size=}")
    device = generator.device if device is None else torch.device(device)
    _check_generator(generator, device)
    u = torch.rand(batch_size, 4, generator=generator, device=device)
    m = params.max_lighting
    bright_on = u[:, 0] < params.p_lighting
    brightness = torch.where(bright_on, 0.5 * (1.0 - m) + m * u[:, 1], 0.5)
    contrast_on = u[:, 2] < params.p_lighting
    log_c = math.log(1.0 - m) * (1.0 - 2.0 * u[:, 3])  # ~ U(log(1 - m), -log(1 - m))
    contrast = torch.where(contrast_on, log_c.exp(), 1.0)
    return brightness, contrast


# --------------------------------------------------------------------------------------------
# Applying them
# --------------------------------------------------------------------------------------------


def warp_batch(x: Tensor, matrices: Tensor, size: int, min_side: float = 1.0) -> Tensor:
    """Sample ``size x size`` outputs from ``x`` through per-sample homographies, in one pass.

    Args:
        x: uint8 ``(B, C, P, P)`` (any memory format) or float in [0, 1].
        matrices: ``(B, 3, 3)``, output coords -> input coords in [-1, 1] (``sample_transform``).
        size: output side in pixels.
        min_side: smallest side of the sampled window as a fraction of P (``sqrt(min_scale) /
            max_zoom`` for ``augment_batch``); bounds how far a large input may be pre-shrunk.

    Returns:
        float32 ``(B, C, size, size)`` in [0, 1], channels_last.
    """
    _check_images(x)
    _check_size(size)
    if matrices.shape != (x.shape[0], 3, 3):
        raise ValueError(
            f"matrices must have shape {(x.shape[0], 3, 3)}, got {tuple(matrices.shape)}"
        )
    if not 0.0 < min_side <= 1.0:
        raise ValueError(f"min_side must be in (0, 1], got {min_side=}")
    out = _resample(x, matrices, size, min_side)
    return out.contiguous(memory_format=torch.channels_last)


def lighting(x: Tensor, brightness: Tensor, contrast: Tensor) -> Tensor:
    """fastai's Brightness then Contrast, in logit space: ``sigmoid(c * (logit(x) + logit(b)))``.

    Working on logits keeps every pixel in (0, 1) without clipping (fastai ``LightingTfm``).
    ``brightness`` and ``contrast`` are per-sample ``(B,)``; 0.5 and 1 leave ``x`` unchanged.
    """
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"lighting expects float (B, C, H, W), got {x.dtype} {tuple(x.shape)}")
    b = x.shape[0]
    if brightness.shape != (b,) or contrast.shape != (b,):
        raise ValueError(
            f"brightness and contrast must have shape ({b},), got "
            f"{tuple(brightness.shape)} and {tuple(contrast.shape)}"
        )
    shift = torch.logit(brightness.to(x), eps=_LOGIT_EPS).view(b, 1, 1, 1)
    gain = contrast.to(x).view(b, 1, 1, 1)
    out = torch.logit(x, eps=_LOGIT_EPS)
    return out.add_(shift).mul_(gain).sigmoid_()


def augment_batch(
    x: Tensor, size: int, params: AugmentParams, generator: torch.Generator
) -> Tensor:
    """Training path: random crop + flip + rotate/zoom/warp in one resampling, then lighting.

    Args:
        x: uint8 ``(B, 3, P, P)`` (channels_last or not) or float in [0, 1], on the model's device.
        size: output side in pixels.
        params: what to draw (fastai ``aug_transforms`` defaults).
        generator: on ``x.device``; the same state gives the same output.

    Returns:
        float32 ``(B, 3, size, size)`` in [0, 1], channels_last.
    """
    _check_images(x)
    _check_size(size)
    _check_generator(generator, x.device)
    n = x.shape[0]
    matrices = sample_transform(n, params, generator, x.device)
    min_side = math.sqrt(params.min_scale) / (params.max_zoom if params.p_affine > 0 else 1.0)
    out = _resample(x, matrices, size, min_side)
    if params.p_lighting > 0 and params.max_lighting > 0:
        brightness, contrast = sample_lighting(n, params, generator, x.device)
        out = lighting(out, brightness, contrast)
    # Lighting runs on grid_sample's (contiguous) output, then one copy to channels_last.
    return out.contiguous(memory_format=torch.channels_last)


def resize_batch(x: Tensor, size: int) -> Tensor:
    """Validation path: antialiased resize of centre-cropped squares to ``size``, as float [0, 1].

    Returns:
        float32 ``(B, C, size, size)`` in [0, 1], channels_last; only a dtype change if P == size.
    """
    _check_images(x)
    _check_size(size)
    xf, scale = _as_float(x)
    if x.shape[-1] != size:
        xf = F.interpolate(
            xf, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    if scale != 1.0:
        xf = xf * scale
    elif xf is x:
        xf = xf.clone()
    return xf.clamp_(0.0, 1.0).contiguous(memory_format=torch.channels_last)


def normalize(x: Tensor, mean: Sequence[float], std: Sequence[float]) -> Tensor:
    """Per-channel ``(x - mean) / std``; keeps ``x``'s dtype, device and memory format."""
    if x.ndim != 4 or not x.is_floating_point():
        raise ValueError(f"normalize expects float (B, C, H, W), got {x.dtype} {tuple(x.shape)}")
    c = x.shape[1]
    if len(mean) != c or len(std) != c:
        raise ValueError(f"need one mean and std per channel ({c}), got {mean=} {std=}")
    if any(not s > 0 for s in std):
        raise ValueError(f"std must be > 0 per channel, got {std=}")
    m = torch.tensor(list(mean), dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    s = torch.tensor(list(std), dtype=x.dtype, device=x.device).view(1, c, 1, 1)
    return (x - m) / s


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _affine(a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor, f: Tensor) -> Tensor:
    """Stack per-sample rows ``[a b c; d e f; 0 0 1]`` into ``(B, 3, 3)``."""
    zero, one = torch.zeros_like(a), torch.ones_like(a)
    return torch.stack([a, b, c, d, e, f, zero, zero, one], dim=-1).view(-1, 3, 3)


def _keystone(mag_x: Tensor, mag_y: Tensor) -> Tensor:
    """Homography taking the corners of [-1, 1]^2 to fastai's warped corners.

    Corner ``(cx, cy)`` goes to ``(cx - cx*cy*mag_y, cy - cx*cy*mag_x)``: ``mag_y`` widens the top
    edge and narrows the bottom one, ``mag_x`` does the same to the left and right edges (fastai
    ``_WarpCoord``). Closed-form square-to-quad map of Heckbert, "Fundamentals of Texture Mapping
    and Image Warping" (1989), sec. 2.2.3, composed with [-1, 1] -> [0, 1].
    """
    # Quad corners in Heckbert's order (0,0), (1,0), (1,1), (0,1) of the unit square.
    x0, y0 = -1.0 - mag_y, -1.0 - mag_x  # top-left
    x1, y1 = 1.0 + mag_y, -1.0 + mag_x  # top-right
    x2, y2 = 1.0 - mag_y, 1.0 - mag_x  # bottom-right
    x3, y3 = -1.0 + mag_y, 1.0 + mag_x  # bottom-left
    dx1, dx2, dx3 = x1 - x2, x3 - x2, x0 - x1 + x2 - x3
    dy1, dy2, dy3 = y1 - y2, y3 - y2, y0 - y1 + y2 - y3
    det = dx1 * dy2 - dx2 * dy1
    g = (dx3 * dy2 - dx2 * dy3) / det
    h = (dx1 * dy3 - dx3 * dy1) / det
    zero, one = torch.zeros_like(g), torch.ones_like(g)
    unit_to_quad = torch.stack(
        [
            x1 - x0 + g * x1, x3 - x0 + h * x3, x0,
            y1 - y0 + g * y1, y3 - y0 + h * y3, y0,
            g, h, one,
        ],
        dim=-1,
    ).view(-1, 3, 3)
    half = 0.5 * one
    to_unit = _affine(half, zero, half, zero, half, half)  # [-1, 1] -> [0, 1]
    return unit_to_quad @ to_unit


def _resample(x: Tensor, matrices: Tensor, size: int, min_side: float) -> Tensor:
    """One ``grid_sample`` of ``x`` through ``matrices``; float32 [0, 1], grid_sample's layout."""
    xf, scale = _as_float(x)
    p = x.shape[-1]
    # Anti-aliasing: bilinear grid_sample only reads 2 x 2 neighbours, so past a 2x downsampling
    # it skips pixels and aliases. Then shrink the whole batch ONCE with an antialiased
    # (triangle-filter) resize to the smallest side at which even the smallest window still
    # covers >= `size` pixels (capped at 2x `size`), and sample from that. Normalised coords do
    # not depend on the resolution, so the matrices stay valid. Up to 2x we sample straight from
    # the P x P input, as fastai's `_grid_sample` does.
    if p > _MAX_BILINEAR_STEP * size:
        target = min(p, math.ceil(size * min(_MAX_BILINEAR_STEP, 1.0 / min_side)))
        xf = F.interpolate(
            xf, size=(target, target), mode="bilinear", antialias=True, align_corners=False
        )
    grid = _sampling_grid(matrices.to(device=x.device, dtype=torch.float32), size)
    out = F.grid_sample(xf, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    if scale != 1.0:
        out = out.mul_(scale)  # uint8 sampled as 0..255: rescale the small output, not the input
    return out.clamp_(0.0, 1.0)


def _sampling_grid(matrices: Tensor, size: int) -> Tensor:
    """``(B, size, size, 2)`` grid for ``grid_sample``: output pixel centres through ``matrices``.

    Built per row of the matrix as (B, 3, S, S) planes from two (B, 3, S) outer terms, which is
    ~10x faster on CPU than a (B, S*S, 3) @ (3, 3) product with its stride-3 inner dimension.
    """
    lin = (torch.arange(size, device=matrices.device, dtype=torch.float32) * 2 + 1) / size - 1
    by_col = matrices[:, :, 0:1] * lin  # (B, 3, S): x of the pixel centre
    by_row = matrices[:, :, 1:2] * lin + matrices[:, :, 2:3]  # (B, 3, S): y and the constant
    pts = by_row.unsqueeze(-1) + by_col.unsqueeze(-2)  # (B, 3, S_y, S_x), homogeneous
    # Perspective divide; the denominator stays > 0 while max_warp < 0.5 (see AugmentParams).
    xy = pts[:, :2] / pts[:, 2:]
    return xy.permute(0, 2, 3, 1)  # (B, S_y, S_x, 2), a view grid_sample accepts


def _as_float(x: Tensor) -> tuple[Tensor, float]:
    """float32 view of ``x`` and the factor that maps it to [0, 1] (1/255 for uint8)."""
    if x.dtype == torch.uint8:
        return x.float(), 1.0 / 255.0
    return x.float(), 1.0


def _check_images(x: Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"images must be (B, C, P, P), got shape {tuple(x.shape)}")
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"images must be square (B, C, P, P), got shape {tuple(x.shape)}")
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise ValueError(f"images must be uint8 or float in [0, 1], got dtype {x.dtype}")


def _check_size(size: int) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int (pixels), got {size=}")


def _check_generator(generator: torch.Generator, device: torch.device) -> None:
    if generator.device.type != device.type:
        raise ValueError(
            f"generator must live on the images' device {device}, got generator.device="
            f"{generator.device}"
        )
