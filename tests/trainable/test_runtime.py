"""Runtime: what each auto | on | off switch becomes on this machine, and the compiled path's padding."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from trainable.config import ConfigError, TrialConfig
from trainable.runtime import Runtime, compile_model


def test_auto_on_cpu_is_fp32_nchw_fused_and_host_data() -> None:
    rt = Runtime.from_config(TrialConfig(device="cpu"))
    assert rt.device.type == "cpu"
    assert (rt.bf16, rt.channels_last, rt.fused_adamw, rt.cudnn_benchmark, rt.compile) == (False, False, True, False, False)
    assert rt.data_on_device == "auto"


def test_every_switch_can_be_forced() -> None:
    on = Runtime.from_config(TrialConfig(device="cpu", bf16="on", channels_last="on", fused_adamw="off",
                                         cudnn_benchmark="on", compile="on", data_on_device="on"))
    assert (on.bf16, on.channels_last, on.fused_adamw, on.cudnn_benchmark, on.compile) == (True, True, False, True, True)
    assert on.data_on_device == "on"
    with pytest.raises(ConfigError, match="fused_adamw must be one of"):
        TrialConfig(fused_adamw="yes")


def test_prepare_input_normalizes_and_lays_out() -> None:
    rt = Runtime.from_config(TrialConfig(device="cpu", channels_last="on")).with_norm(((0.5, 0.5, 0.5), (0.25, 0.25, 0.25)))
    out = rt.prepare_input(torch.full((2, 3, 4, 4), 0.75))
    assert out.is_contiguous(memory_format=torch.channels_last) and torch.allclose(out, torch.ones_like(out))


def test_compile_model_raises_the_recompile_limit_for_one_graph_per_size() -> None:
    import torch._dynamo.config as dynamo_config

    compiled = compile_model(torch.nn.Linear(2, 2))
    assert isinstance(compiled, torch.nn.Module)
    assert dynamo_config.recompile_limit >= 64


def test_padded_last_batch_of_a_compiled_run_predicts_the_same(tmp_path: Path) -> None:
    """With compile on, evaluation pads its last batch to the batch shape; the predictions are unchanged."""
    from trainable.data import ensure_embedded, prepare
    from trainable.data.batches import open_batches
    from trainable.evaluation import predict
    from trainable.models import build_model

    root = ensure_embedded(tmp_path, seed=0, train_per_class=2, valid_per_class=3)  # 30 valid images
    cfg = TrialConfig.from_dict({"data": str(root), "data_dir": str(tmp_path), "presize": 32, "size": 32, "batch_size": 8,
                                     "device": "cpu", "threads": 1})
    data = open_batches(prepare(cfg.data, cfg.presize, data_dir=tmp_path), torch.device("cpu"), "off")
    torch.manual_seed(0)
    model = build_model("xresnet18", n_out=10)
    rt = Runtime.from_config(cfg)
    plain, labels = predict(model, data, 32, cfg, rt)
    padded, labels_p = predict(model, data, 32, cfg, replace(rt, compile=True))  # 30 = 16 + 14: the tail is padded
    assert plain.shape == padded.shape == (30, 10) and torch.equal(labels, labels_p)
    assert torch.allclose(plain, padded, atol=1e-5)


def test_prepare_input_is_augment_normalize_exactly() -> None:
    from trainable.augment import IMAGENET_STATS, normalize

    rt = Runtime.from_config(TrialConfig(device="cpu")).with_norm(IMAGENET_STATS)
    x = torch.rand(4, 3, 8, 8)
    assert torch.equal(rt.prepare_input(x), normalize(x, *IMAGENET_STATS))
    with pytest.raises(ValueError, match="std > 0"):
        rt.with_norm(((0.5, 0.5, 0.5), (0.2, 0.0, 0.2)))


def test_a_compiled_progressive_trial_compiles_once_per_size_and_mode(tmp_path: Path, monkeypatch) -> None:
    """Progressive resizing never recompiles per epoch: one graph per (size, train/eval), padded last batches included."""
    import torch._dynamo
    from torch._dynamo.testing import CompileCounter

    from trainable import runtime
    from trainable.data import ensure_embedded
    from trainable.train import run_trial

    torch._dynamo.reset()
    counter = CompileCounter()  # dynamo's own count of compiled frames, with an eager backend (no C++ build)
    monkeypatch.setattr(runtime, "compile_model", lambda model: compile_model(model, backend=counter))
    root = ensure_embedded(tmp_path, seed=0, train_per_class=3, valid_per_class=3)  # 30 train, 30 valid
    cfg = TrialConfig.from_dict(dict(data=str(root), data_dir=str(tmp_path), presize=32, batch_size=8, threads=1,
                                     schedule="24x2,32x2:cont", compile=True, tta_n=1, device="cpu"))
    result = run_trial(cfg)
    assert [m["size"] for m in result.history] == [24, 24, 32, 32]
    # train and eval at 24 px, train and eval at 32 px (the final pass and TTA reuse the eval graph at 32)
    assert counter.frame_count == 4, counter.frame_count
    torch._dynamo.reset()
