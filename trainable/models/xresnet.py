"""fastai's XResNet: a ResNet with the "ResNet-D" tweaks, for training from scratch.

He et al. 2019, "Bag of Tricks for Image Classification with Convolutional Neural Networks"
(CVPR), section 4: a stem of three 3×3 convolutions instead of one 7×7 (ResNet-C), the stride of a
bottleneck on its 3×3 convolution instead of its first 1×1 (ResNet-B), and a shortcut that
average-pools before its 1×1 convolution so no activation is skipped (ResNet-D). The last
BatchNorm of every residual branch starts at weight 0 (Goyal et al. 2017, "Accurate, Large
Minibatch SGD"), so every block starts as the identity.

The layout, parameter count and initialization equal `fastai.vision.models.xresnet`
(checked against fastai 2.8.12; fastbook chapter 7 uses it), so our runs compare with the book's.
Even the `state_dict` keys match: fastai's weights load here with `strict=True`.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import Callable

from torch import Tensor, nn

from trainable.architectures import ARCHITECTURES

__all__ = [
    "MODELS",
    "ConvBN",
    "ResBlock",
    "XResNet",
    "build_model",
    "xresnet18",
    "xresnet34",
    "xresnet50",
    "xresnet101",
]

STEM_WIDTHS = (32, 32, 64)  # channels of the three stem convolutions (fastai's stem_szs)
STAGE_WIDTHS = (64, 128, 256, 512)  # bottleneck widths; a stage outputs width × expansion


class ConvBN(nn.Sequential):
    """Conv (no bias: BatchNorm's shift makes it redundant) → BatchNorm → optional ReLU.

    `zero_bn` starts the BatchNorm weight at 0; use it on the last layer of a residual branch.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        kernel_size: int = 3,
        stride: int = 1,
        relu: bool = True,
        zero_bn: bool = False,
    ) -> None:
        conv = nn.Conv2d(
            c_in, c_out, kernel_size, stride=stride, padding=kernel_size // 2, bias=False
        )
        bn = nn.BatchNorm2d(c_out)
        nn.init.constant_(bn.weight, 0.0 if zero_bn else 1.0)
        layers: list[nn.Module] = [conv, bn]
        if relu:
            layers.append(nn.ReLU(inplace=True))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Residual block: `relu(convpath(x) + idpath(x))`.

    `expansion == 1` gives the basic block (3×3 → 3×3), `4` the bottleneck (1×1 → 3×3 → 1×1),
    with the stride on the 3×3 conv (ResNet-B). As in fastai, `c_in` and `width` are counted
    before expansion: the block maps `c_in × expansion` channels to `width × expansion`.
    The shortcut average-pools when strided and projects with a 1×1 ConvBN when the channels
    change (ResNet-D); otherwise it is the identity (an empty `nn.Sequential`).
    """

    def __init__(self, expansion: int, c_in: int, width: int, stride: int = 1) -> None:
        super().__init__()
        c_out, c_in = width * expansion, c_in * expansion
        if expansion == 1:
            convpath: list[nn.Module] = [
                ConvBN(c_in, width, 3, stride=stride),
                ConvBN(width, c_out, 3, relu=False, zero_bn=True),
            ]
        else:
            convpath = [
                ConvBN(c_in, width, 1),
                ConvBN(width, width, 3, stride=stride),
                ConvBN(width, c_out, 1, relu=False, zero_bn=True),
            ]
        self.convpath = nn.Sequential(*convpath)
        idpath: list[nn.Module] = []
        if stride != 1:
            # ceil_mode keeps odd sizes aligned with the strided 3×3 conv (padding 1).
            idpath.append(nn.AvgPool2d(stride, ceil_mode=True))
        if c_in != c_out:
            idpath.append(ConvBN(c_in, c_out, 1, relu=False))
        self.idpath = nn.Sequential(*idpath)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.convpath(x) + self.idpath(x))


class XResNet(nn.Sequential):
    """Stem (3 ConvBN, stride 2) → MaxPool → 4 stages → pool → flatten → dropout → Linear.

    An `nn.Sequential`, as in fastai, so that `model[-1]` is the classifier and `model[:-4]`
    the convolutional body.
    """

    def __init__(
        self,
        expansion: int,
        blocks_per_stage: tuple[int, int, int, int],
        n_out: int,
        c_in: int = 3,
        p: float = 0.0,
    ) -> None:
        _check_args(n_out, c_in, p)
        if expansion not in (1, 4):
            raise ValueError(f"expansion must be 1 (basic) or 4 (bottleneck), got {expansion=}")
        widths = (c_in, *STEM_WIDTHS)
        stem = [ConvBN(widths[i], widths[i + 1], 3, stride=2 if i == 0 else 1) for i in range(3)]
        # Stage 1's input, 64 // expansion, comes out as 64 channels once ResBlock expands it.
        stage_in = (64 // expansion, *STAGE_WIDTHS)
        stages = [
            _stage(expansion, stage_in[i], stage_in[i + 1], n, stride=1 if i == 0 else 2)
            for i, n in enumerate(blocks_per_stage)
        ]
        super().__init__(
            *stem,
            nn.MaxPool2d(3, stride=2, padding=1),
            *stages,
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(p),
            nn.Linear(STAGE_WIDTHS[-1] * expansion, n_out),
        )
        _init_cnn(self)

    def __getitem__(self, idx: int | slice) -> nn.Module:  # type: ignore[override]
        # nn.Sequential rebuilds a slice through `self.__class__(OrderedDict)`, which our
        # __init__ does not take; a slice (e.g. the body `model[:-4]`) is a plain nn.Sequential.
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)


def _stage(expansion: int, c_in: int, width: int, n_blocks: int, stride: int) -> nn.Sequential:
    """`n_blocks` ResBlocks; only the first one strides and changes the channel count."""
    return nn.Sequential(
        *[
            ResBlock(expansion, c_in if i == 0 else width, width, stride=stride if i == 0 else 1)
            for i in range(n_blocks)
        ]
    )


def _init_cnn(model: nn.Module) -> None:
    """fastai's `init_cnn`: Kaiming-normal (fan_in, ReLU gain) conv/linear weights, all biases 0.

    BatchNorm weights keep what `ConvBN` gave them (0 on the last layer of a branch, else 1).
    """
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight)
        bias = getattr(m, "bias", None)
        if isinstance(bias, Tensor):
            nn.init.zeros_(bias)


def _check_args(n_out: int, c_in: int, p: float) -> None:
    """Reject bad sizes here, where the message can name them, not deep inside a conv."""
    if isinstance(n_out, bool) or not isinstance(n_out, int) or n_out < 1:
        raise ValueError(f"n_out must be an int >= 1, got {n_out=!r}")
    if isinstance(c_in, bool) or not isinstance(c_in, int) or c_in < 1:
        raise ValueError(f"c_in must be an int >= 1, got {c_in=!r}")
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout p must be a number in [0, 1), got {p=!r}")


def build_model(name: str, n_out: int, c_in: int = 3, p: float = 0.0) -> nn.Module:
    """Look a model up by the name a config stores (:data:`trainable.architectures.ARCHITECTURES`), so configs stay plain data."""
    if name not in ARCHITECTURES:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(ARCHITECTURES)}")
    expansion, layers = ARCHITECTURES[name]
    return XResNet(expansion, layers, n_out, c_in, p)


def xresnet18(n_out: int, c_in: int = 3, p: float = 0.0) -> nn.Module:
    """Basic blocks [2, 2, 2, 2]; 11.7 M parameters at n_out=1000."""
    return build_model("xresnet18", n_out, c_in, p)


def xresnet34(n_out: int, c_in: int = 3, p: float = 0.0) -> nn.Module:
    """Basic blocks [3, 4, 6, 3]; 21.8 M parameters at n_out=1000."""
    return build_model("xresnet34", n_out, c_in, p)


def xresnet50(n_out: int, c_in: int = 3, p: float = 0.0) -> nn.Module:
    """Bottleneck blocks [3, 4, 6, 3]; 25.6 M parameters at n_out=1000 (fastbook chapter 7)."""
    return build_model("xresnet50", n_out, c_in, p)


def xresnet101(n_out: int, c_in: int = 3, p: float = 0.0) -> nn.Module:
    """Bottleneck blocks [3, 4, 23, 3]; 44.6 M parameters at n_out=1000."""
    return build_model("xresnet101", n_out, c_in, p)


# Every architecture by name (the names are ARCHITECTURES', kept once).
MODELS: dict[str, Callable[..., nn.Module]] = {name: partial(build_model, name) for name in ARCHITECTURES}
