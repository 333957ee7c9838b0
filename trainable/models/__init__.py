"""Model architectures, built by name from a config (`build_model`)."""

from trainable.models.xresnet import (
    MODELS,
    XResNet,
    build_model,
    xresnet18,
    xresnet34,
    xresnet50,
    xresnet101,
)

__all__ = [
    "MODELS",
    "XResNet",
    "build_model",
    "xresnet18",
    "xresnet34",
    "xresnet50",
    "xresnet101",
]
