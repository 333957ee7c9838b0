"""``TrialConfig``: every knob of one trial, typed, frozen, validated, flat.

One field a line with its unit. The config is plain data (str, int, float, bool) so that Ray can
ship it to workers, MLflow can log it as params, and a checkpoint can store it. ``from_dict``
accepts strings too (``--set lr=1e-3`` on the command line), converting them by the field's type.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, fields
from typing import Any, Mapping

from trainable.architectures import MODEL_NAMES
from trainable.augment_params import AUGMENT_BOUNDS, augment_problem
from trainable.schedules import Cycle, Stage, format_schedule, parse_schedule, plan_cycles

__all__ = ["ConfigError", "TrialConfig", "MODEL_NAMES", "NORMALIZE_CHOICES", "LABEL_NOISE_CHOICES"]

NORMALIZE_CHOICES = ("none", "imagenet", "dataset")
LABEL_NOISE_CHOICES = (0, 1, 5, 25, 50)  # %, the noisy_labels_* columns of Imagenette's label table
DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
TRISTATE = ("auto", "on", "off")


class ConfigError(ValueError):
    """A config value is unknown, of the wrong type or out of range; the message says which."""


@dataclass(frozen=True)
class TrialConfig:
    """One trial of chapter 7's recipe. Defaults: a small run that takes about a minute on a CPU."""

    # --- data ---
    data: str = "embedded"  # data set: embedded | imagenette[-320|-160] | imagewoof[-320|-160] | a folder with train/ and val/
    data_dir: str = ""  # folder for downloads and decoded caches ("" = $XRESNET_STUDY_DATA or ~/.cache/xresnet-study)
    label_noise: int = 0  # % of noisy training labels, from the label table: 0, 1, 5, 25 or 50
    presize: int = 96  # px, shorter side of the decoded image; random (train) / centre (valid) crop to presize²
    # --- model ---
    model: str = "xresnet18"  # xresnet18 | xresnet34 | xresnet50 | xresnet101
    dropout: float = 0.0  # probability, dropout before the classifier
    # --- schedule (single stage unless `schedule` is set) ---
    epochs: int = 5  # epochs of one-cycle at `size`
    size: int = 48  # px, side of the square training and validation image
    schedule: str = ""  # progressive resizing, e.g. "128x4@3e-3,224x5@1e-3:fine_tune"; overrides epochs/size
    lr: float = 3e-3  # peak learning rate of the one-cycle (default for stages without @LR)
    batch_size: int = 64  # images per step
    pct_start: float = 0.25  # fraction of a cycle spent warming up
    div: float = 25.0  # initial lr = lr / div
    div_final: float = 1e5  # final lr = lr / div_final
    weight_decay: float = 0.01  # decoupled (AdamW), on weights only
    # --- augmentation (batch level, on the model's device) ---
    min_scale: float = 0.75  # minimum area fraction of the random resized crop
    flip: bool = True  # random horizontal flip
    max_rotate: float = 10.0  # degrees
    max_zoom: float = 1.1  # zoom factor upper bound (>= 1)
    max_warp: float = 0.2  # perspective warp magnitude
    max_lighting: float = 0.2  # brightness/contrast change magnitude
    p_affine: float = 0.75  # probability of rotate/zoom/warp per image
    p_lighting: float = 0.75  # probability of lighting change per image
    normalize: str = "none"  # none | imagenet | dataset (statistics of the training set)
    # --- regularization ---
    mixup_alpha: float = 0.0  # Beta(α, α) of mixup; 0 = off (fastai's default when on: 0.4)
    label_smoothing: float = 0.0  # ε of label-smoothing cross-entropy; 0 = off
    # --- test-time augmentation ---
    tta_n: int = 0  # augmented passes at validation; 0 = off
    tta_beta: float = 0.25  # weight of the plain pass in the TTA mix
    tta_max: bool = False  # combine augmented passes by max instead of mean
    # --- runtime ---
    seed: int = 0  # fixes data order, augmentation and initialization
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    bf16: str = "auto"  # bf16 autocast: auto (on for CUDA) | on | off
    channels_last: str = "auto"  # channels_last memory format: auto (on for CUDA) | on | off
    compile: str = "auto"  # torch.compile (one graph per size and mode): auto (on CUDA where it pays, trainable.compile_cost) | on | off
    compile_cache: str = ""  # folder of portable compile-cache artifacts ("" = <data_dir>/compile; a study uses its own folder)
    fused_adamw: str = "auto"  # fused AdamW kernel: auto (on for CPU and CUDA) | on | off
    cudnn_benchmark: str = "auto"  # cuDNN autotuning, once per input shape: auto (on for CUDA) | on | off
    data_on_device: str = "auto"  # decoded uint8 images held in GPU memory: auto (CUDA, when they fit) | on | off
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    checkpoint_keep: int = 2  # epoch checkpoints kept per trial
    checkpoint_every_s: float = 30.0  # s of a trial between epoch checkpoints (0 = every epoch); the last epoch always has one
    eval_every: int = 1  # epochs between validation passes (the last epoch always has one); 0 = only the last

    def __post_init__(self) -> None:
        _validate(self)

    # --- derived ---
    def stages(self) -> tuple[Stage, ...]:
        """The resize schedule as stages (a single ``cycle`` stage when ``schedule`` is empty)."""
        if self.schedule:
            return parse_schedule(self.schedule, self.lr)
        return (Stage(size=self.size, epochs=self.epochs, lr=self.lr, mode="cycle"),)

    def cycles(self) -> tuple[Cycle, ...]:
        return plan_cycles(self.stages(), div=self.div, div_final=self.div_final, pct_start=self.pct_start)

    @property
    def total_epochs(self) -> int:
        return sum(c.epochs for c in self.cycles())

    @property
    def final_size(self) -> int:
        return self.stages()[-1].size

    def cost(self) -> float:
        """A first model of compute: Σ epochs × size², in units of (epoch at 128 px)."""
        return sum(n * (size / 128) ** 2 for c in self.cycles() for size, n in c.sizes)

    # --- conversion ---
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], base: "TrialConfig | None" = None) -> "TrialConfig":
        """Build from plain values (strings are converted by field type); unknown keys are errors."""
        known = {f.name: f for f in fields(cls)}
        unknown = [k for k in values if k not in known]
        if unknown:
            import difflib

            hints = []
            for k in unknown:
                close = difflib.get_close_matches(str(k), known, n=1)
                hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            raise ConfigError(f"unknown config key(s): {', '.join(hints)}; known keys: {', '.join(known)}")
        start = (base or cls()).to_dict()
        for k, v in values.items():
            start[k] = _coerce(k, known[k].type, v)
        return cls(**start)

    def replace(self, **changes: Any) -> "TrialConfig":
        return self.from_dict(changes, base=self)


_TYPES = {"str": str, "int": int, "float": float, "bool": bool}
_TRISTATE_FIELDS = ("bf16", "channels_last", "fused_adamw", "cudnn_benchmark", "data_on_device", "compile")
_BIG = 2**63  # integers beyond this are never a sensible value of any field


def _short(value: Any) -> str:
    """``repr`` that stays readable (and computable) for huge or long values."""
    if isinstance(value, int) and abs(value) > _BIG:
        return "a huge integer"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(key: str, type_name: Any, value: Any) -> Any:
    """Convert ``value`` to the field's type, accepting strings; raise ConfigError naming the key."""
    want = _TYPES[type_name if isinstance(type_name, str) else type_name.__name__]
    if key in _TRISTATE_FIELDS and isinstance(value, bool):
        return "on" if value else "off"  # `compile = true` (a bool before it had `auto`) and the like
    if want is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{key} must be true or false, got {value!r}")
    if want is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        if isinstance(value, int) and abs(value) > _BIG:
            raise ConfigError(f"{key} is out of range: more than {_BIG}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            text = value.strip()
            if len(text) <= 40:
                try:
                    return int(text)
                except ValueError:
                    pass
        raise ConfigError(f"{key} must be an integer, got {_short(value)}")
    if want is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if isinstance(value, int) and abs(value) > _BIG:
            digits = len(str(abs(value))) if abs(value) < 10**4000 else "thousands of"
            raise ConfigError(f"{key} is out of range: an integer with {digits} digits")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip()[:400])
            except ValueError:
                pass
        raise ConfigError(f"{key} must be a number, got {_short(value)}")
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")
    return value


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


def _validate(c: TrialConfig) -> None:
    for f in fields(c):
        v = getattr(c, f.name)
        want = _TYPES[f.type if isinstance(f.type, str) else f.type.__name__]
        ok = isinstance(v, want) and not (want in (int, float) and isinstance(v, bool))
        if want is float and isinstance(v, int) and not isinstance(v, bool):
            ok = True
        _check(ok, f"{f.name} must be of type {want.__name__}, got {_short(v)}")
        if isinstance(v, int) and abs(v) > _BIG:
            raise ConfigError(f"{f.name} is out of range: more than {_BIG}")
        if isinstance(v, float):
            _check(math.isfinite(v), f"{f.name} must be finite, got {v!r}")
    _check(c.data.strip() != "", "data must name a data set or a folder, got ''")
    _check(c.label_noise in LABEL_NOISE_CHOICES, f"label_noise must be one of {LABEL_NOISE_CHOICES} (%), got {c.label_noise!r}")
    _check(16 <= c.presize <= 2048, f"presize must be in [16, 2048] px, got {c.presize!r}")
    _check(c.model in MODEL_NAMES, f"model must be one of {MODEL_NAMES}, got {c.model!r}")
    _check(0.0 <= c.dropout < 1.0, f"dropout must be in [0, 1), got {c.dropout!r}")
    _check(1 <= c.epochs <= 10_000, f"epochs must be in [1, 10000], got {c.epochs!r}")
    _check(8 <= c.size <= 2048, f"size must be in [8, 2048] px, got {c.size!r}")
    _check(0.0 < c.lr < 10.0, f"lr must be in (0, 10), got {c.lr!r}")
    _check(1 <= c.batch_size <= 65_536, f"batch_size must be in [1, 65536], got {c.batch_size!r}")
    _check(0.0 < c.pct_start < 1.0, f"pct_start must be in (0, 1), got {c.pct_start!r}")
    _check(1.0 <= c.div <= 1e6, f"div must be in [1, 1e6], got {c.div!r}")
    _check(1.0 <= c.div_final <= 1e12, f"div_final must be in [1, 1e12], got {c.div_final!r}")
    _check(0.0 <= c.weight_decay < 1.0, f"weight_decay must be in [0, 1), got {c.weight_decay!r}")
    for name in AUGMENT_BOUNDS:  # the bounds trainable.augment checks too, kept once
        problem = augment_problem(name, getattr(c, name))
        _check(problem is None, problem or "")
    _check(c.normalize in NORMALIZE_CHOICES, f"normalize must be one of {NORMALIZE_CHOICES}, got {c.normalize!r}")
    _check(c.mixup_alpha == 0.0 or 0.0 < c.mixup_alpha <= 100.0, f"mixup_alpha must be 0 (off) or in (0, 100], got {c.mixup_alpha!r}")
    _check(0.0 <= c.label_smoothing < 1.0, f"label_smoothing must be in [0, 1), got {c.label_smoothing!r}")
    _check(0 <= c.tta_n <= 64, f"tta_n must be in [0, 64], got {c.tta_n!r}")
    _check(0.0 <= c.tta_beta <= 1.0, f"tta_beta must be in [0, 1], got {c.tta_beta!r}")
    _check(0 <= c.seed < 2**31, f"seed must be in [0, 2**31), got {c.seed!r}")
    _check(
        c.device in DEVICE_CHOICES or (c.device.startswith("cuda:") and c.device[5:].isdigit()),
        f"device must be one of {DEVICE_CHOICES} or cuda:N, got {c.device!r}",
    )
    for name in _TRISTATE_FIELDS:
        _check(getattr(c, name) in TRISTATE, f"{name} must be one of {TRISTATE}, got {getattr(c, name)!r}")
    _check(0 <= c.threads <= 1024, f"threads must be in [0, 1024], got {c.threads!r}")
    _check(0 <= c.eval_every <= 1000, f"eval_every must be in [0, 1000] (epochs; 0 = only the last), got {c.eval_every!r}")
    _check(1 <= c.checkpoint_keep <= 1000, f"checkpoint_keep must be in [1, 1000], got {c.checkpoint_keep!r}")
    _check(0.0 <= c.checkpoint_every_s <= 86400.0,
           f"checkpoint_every_s must be in [0, 86400] (seconds; 0 = every epoch), got {c.checkpoint_every_s!r}")
    if c.schedule:
        try:
            stages = parse_schedule(c.schedule, c.lr)
        except ValueError as e:
            raise ConfigError(f"schedule {c.schedule!r}: {e}") from None
        _check(sum(s.epochs for s in stages) + sum(s.mode == "fine_tune" for s in stages) <= 10_000,
               f"schedule {c.schedule!r} has more than 10000 epochs")
    for s in c.stages():
        _check(s.size <= c.presize * 2, f"size {s.size} px is more than twice presize {c.presize} px; raise presize")


def canonical_schedule(c: TrialConfig) -> str:
    """The schedule in canonical spelling (for logging), also for single-stage configs."""
    return format_schedule(c.stages())
