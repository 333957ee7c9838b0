"""Tests of trainable/models/xresnet.py: fastai's XResNet layout, init and numerics."""

from __future__ import annotations

import functools
import hashlib
import math

import pytest
import torch
from torch import nn

from trainable.models import MODELS, build_model, xresnet18
from trainable.models.xresnet import ConvBN, ResBlock

# Measured from fastai 2.8.12 (`fastai.vision.models.xresnet.xresnet*(n_out=1000)`, torch 2.14.1),
# installed outside the project venv: total parameter count, number of state_dict entries, and
# sha256 of "key:shape" lines of its state_dict in order. They are reference values from fastai,
# not outputs of our own code; equal fingerprints mean fastai's weights load here with strict=True.
FASTAI_REFERENCE = {
    "xresnet18": (
        11_708_744,
        134,
        "2f292090041cd142fcde095205b1e2108fe6c6418ece770c5b059ec6c1bf1f5a",
    ),
    "xresnet34": (
        21_816_904,
        230,
        "8497409a7fe1bc2d65b7c77be08e829aa4884af0a1b02c42997198c7d59765b3",
    ),
    "xresnet50": (
        25_576_264,
        332,
        "b9ce8f886f07ca4248941d8a36c05fdaa5a5dd7d1978c89e77979431cd0b7f8a",
    ),
    "xresnet101": (
        44_568_392,
        638,
        "55bd6aed811af35a9a5b2750db65811046e0522d7f8221726d1dd786a58f73d4",
    ),
}
BLOCKS = {
    "xresnet18": [2, 2, 2, 2],
    "xresnet34": [3, 4, 6, 3],
    "xresnet50": [3, 4, 6, 3],
    "xresnet101": [3, 4, 23, 3],
}
EXPANSION = {"xresnet18": 1, "xresnet34": 1, "xresnet50": 4, "xresnet101": 4}


@functools.cache
def imagenet_model(name: str) -> nn.Module:
    """One n_out=1000 model per name, shared by the read-only tests (building 101 takes ~1 s)."""
    torch.manual_seed(0)
    return build_model(name, 1000)


@functools.cache
def small_model(name: str) -> nn.Module:
    """One n_out=10 model per name for the forward tests that leave its weights alone."""
    torch.manual_seed(0)
    return build_model(name, 10)


def blocks(model: nn.Module) -> list[ResBlock]:
    return [m for m in model.modules() if isinstance(m, ResBlock)]


def convs(seq: nn.Module) -> list[nn.Conv2d]:
    return [m for m in seq.modules() if isinstance(m, nn.Conv2d)]


def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """Give every BatchNorm non-trivial affine params and stats, so residual branches are live."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(torch.rand(n, generator=g) + 0.5)
                m.bias.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(n, generator=g) + 0.5)


# ---- agreement with fastai ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FASTAI_REFERENCE))
def test_parameter_count_matches_fastai(name: str) -> None:
    n_params = sum(p.numel() for p in imagenet_model(name).parameters())
    assert n_params == FASTAI_REFERENCE[name][0]


@pytest.mark.parametrize("name", sorted(FASTAI_REFERENCE))
def test_state_dict_layout_matches_fastai(name: str) -> None:
    state = imagenet_model(name).state_dict()
    lines = "\n".join(f"{k}:{tuple(v.shape)}" for k, v in state.items())
    _, n_entries, fingerprint = FASTAI_REFERENCE[name]
    assert len(state) == n_entries
    assert hashlib.sha256(lines.encode()).hexdigest() == fingerprint


def test_models_registry_lists_the_four_depths() -> None:
    assert sorted(MODELS) == sorted(FASTAI_REFERENCE)


# ---- structure ---------------------------------------------------------------------------


def test_stem_is_three_convs_then_maxpool() -> None:
    model = xresnet18(10, c_in=1)
    stem = [convs(model[i])[0] for i in range(3)]
    assert [(c.in_channels, c.out_channels) for c in stem] == [(1, 32), (32, 32), (32, 64)]
    assert [c.stride for c in stem] == [(2, 2), (1, 1), (1, 1)]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in stem)
    assert all(isinstance(model[i][-1], nn.ReLU) for i in range(3))
    pool = model[3]
    assert isinstance(pool, nn.MaxPool2d)
    assert (pool.kernel_size, pool.stride, pool.padding) == (3, 2, 1)


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_stages_have_the_right_blocks_and_widths(name: str) -> None:
    model = imagenet_model(name)
    stages = [model[i] for i in range(4, 8)]
    assert [len(s) for s in stages] == BLOCKS[name]
    exp = EXPANSION[name]
    c_out = [convs(s[-1].convpath)[-1].out_channels for s in stages]
    assert c_out == [w * exp for w in (64, 128, 256, 512)]
    assert convs(stages[0][0].convpath)[0].in_channels == 64  # 64 // exp * exp
    n_convs = {len(convs(b.convpath)) for s in stages for b in s}
    assert n_convs == ({2} if exp == 1 else {3})


@pytest.mark.parametrize(("name", "width"), [("xresnet18", 512), ("xresnet50", 2048)])
def test_feature_maps_shrink_64_to_2(name: str, width: int) -> None:
    model = small_model(name).eval()
    x = torch.randn(1, 3, 64, 64)
    sizes = []
    with torch.no_grad():
        for layer in model[:-4]:
            x = layer(x)
            sizes.append(x.shape[-1])
    assert sizes == [32, 32, 32, 16, 16, 8, 4, 2]
    assert x.shape == (1, width, 2, 2)
    assert model[-1].in_features == width


@pytest.mark.parametrize("name", ["xresnet18", "xresnet50"])
def test_stride_sits_on_the_3x3_conv_of_first_block_of_stages_2_to_4(name: str) -> None:
    model = imagenet_model(name)
    for stage_idx in range(4, 8):
        for block_idx, block in enumerate(model[stage_idx]):
            strides = [c.stride[0] for c in convs(block.convpath)]
            expected = 2 if stage_idx > 4 and block_idx == 0 else 1
            if EXPANSION[name] == 4:
                assert strides == [1, expected, 1]
            else:
                assert strides == [expected, 1]


@pytest.mark.parametrize("name", ["xresnet18", "xresnet50"])
def test_shortcut_pools_where_strided_and_projects_where_channels_change(name: str) -> None:
    seen = set()
    for block in blocks(imagenet_model(name)):
        path = convs(block.convpath)
        strided = any(c.stride == (2, 2) for c in path)
        resized = path[0].in_channels != path[-1].out_channels
        kinds = [type(m) for m in block.idpath]
        expected = ([nn.AvgPool2d] if strided else []) + ([ConvBN] if resized else [])
        assert kinds == expected
        if strided:
            assert block.idpath[0].ceil_mode and block.idpath[0].kernel_size == 2
        if resized:
            proj = block.idpath[-1]
            assert convs(proj)[0].kernel_size == (1, 1) and convs(proj)[0].bias is None
            assert not any(isinstance(m, nn.ReLU) for m in proj)
        seen.add((strided, resized))
    # xresnet50's first block only projects (64 -> 256); xresnet18's stage 1 is all identity.
    assert seen == ({(True, True), (False, True), (False, False)} if name == "xresnet50"
                    else {(True, True), (False, False)})


def test_head_is_pool_flatten_dropout_linear() -> None:
    model = xresnet18(7, p=0.25)
    assert [type(m) for m in model[-4:]] == [nn.AdaptiveAvgPool2d, nn.Flatten, nn.Dropout, nn.Linear]
    assert model[-2].p == 0.25
    assert (model[-1].in_features, model[-1].out_features) == (512, 7)
    assert model[-1].bias is not None


def test_convolutions_have_no_bias() -> None:
    assert all(c.bias is None for c in convs(imagenet_model("xresnet50")))


# ---- initialization ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["xresnet18", "xresnet50"])
def test_last_bn_of_each_branch_starts_at_zero_and_the_others_at_one(name: str) -> None:
    model = imagenet_model(name)
    last = {id(b.convpath[-1][1]) for b in blocks(model)}
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(last) == sum(BLOCKS[name])
    for bn in bns:
        assert torch.all(bn.weight == (0.0 if id(bn) in last else 1.0))


@pytest.mark.parametrize("name", ["xresnet18", "xresnet50"])
def test_every_bias_is_zero(name: str) -> None:
    biases = {k: v for k, v in imagenet_model(name).named_parameters() if k.endswith("bias")}
    assert len(biases) > 0
    assert all(torch.all(v == 0) for v in biases.values()), [k for k, v in biases.items() if v.any()]


def test_kaiming_normal_fan_in_std() -> None:
    model = imagenet_model("xresnet18")
    conv = convs(model[7][1].convpath)[0]  # 512 -> 512, 3x3: 2.4 M weights
    fan_in = conv.in_channels * 9
    assert conv.weight.mean().abs().item() < 1e-3
    assert conv.weight.std().item() == pytest.approx(math.sqrt(2 / fan_in), rel=0.02)
    lin = model[-1]
    assert lin.weight.std().item() == pytest.approx(math.sqrt(2 / lin.in_features), rel=0.02)


def test_a_fresh_block_is_relu_of_its_shortcut() -> None:
    """Zero-init of the last BN makes every residual branch output 0 at the start."""
    block = ResBlock(4, 64, 128, stride=2).eval()
    x = torch.randn(2, 256, 9, 9)
    with torch.no_grad():
        assert torch.allclose(block(x), torch.relu(block.idpath(x)))
        assert block(x).shape == (2, 512, 5, 5)  # ceil_mode pool agrees with the padded conv


def test_same_seed_gives_same_weights() -> None:
    torch.manual_seed(3)
    a = xresnet18(10).state_dict()
    torch.manual_seed(3)
    b = xresnet18(10).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ---- forward -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_shape(name: str) -> None:
    model = small_model(name).train()
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 10)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", ["xresnet18", "xresnet50"])
def test_channels_last_matches_contiguous(name: str) -> None:
    torch.manual_seed(0)
    model = build_model(name, 10)
    randomize_bn(model)
    model.eval()
    x = torch.randn(2, 3, 65, 65)  # odd size exercises the ceil_mode shortcut pools
    with torch.no_grad():
        ref = model(x)
        model.to(memory_format=torch.channels_last)
        out = model(x.contiguous(memory_format=torch.channels_last))
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-4), (out - ref).abs().max()


def test_bf16_autocast_forward_and_backward() -> None:
    torch.manual_seed(0)
    model = xresnet18(10).to(memory_format=torch.channels_last)
    x = torch.randn(4, 3, 64, 64).contiguous(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
        loss = nn.functional.cross_entropy(out, torch.arange(4))
    assert out.dtype == torch.bfloat16 and out.shape == (4, 10)
    loss.backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert model[-1].weight.grad.abs().sum() > 0


def test_dropout_is_active_in_train_mode_only() -> None:
    model = xresnet18(10, p=0.5)
    x = torch.randn(2, 3, 32, 32)
    model.eval()
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
        model.train()
        torch.manual_seed(0)
        a = model[-2](torch.ones(1000))
    assert set(a.unique().tolist()) == {0.0, 2.0}


# ---- arguments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "shown"),
    [
        ({"n_out": 0}, "n_out=0"),
        ({"n_out": -3}, "n_out=-3"),
        ({"n_out": 2.5}, "n_out=2.5"),
        ({"n_out": True}, "n_out=True"),
        ({"n_out": 10, "c_in": 0}, "c_in=0"),
        ({"n_out": 10, "c_in": "3"}, "c_in='3'"),
        ({"n_out": 10, "p": 1.0}, "p=1.0"),
        ({"n_out": 10, "p": -0.1}, "p=-0.1"),
        ({"n_out": 10, "p": float("nan")}, "p=nan"),
    ],
)
def test_bad_arguments_raise_naming_the_value(kwargs: dict, shown: str) -> None:
    with pytest.raises(ValueError, match=shown.replace(".", r"\.")):
        xresnet18(**kwargs)
    with pytest.raises(ValueError, match=shown.replace(".", r"\.")):
        build_model("xresnet50", **kwargs)


def test_build_model_by_name() -> None:
    model = build_model("xresnet34", 5, c_in=1, p=0.1)
    assert len(model[6]) == 6 and model[-1].out_features == 5 and model[-2].p == 0.1
    assert convs(model[0])[0].in_channels == 1


def test_unknown_model_name_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'resnet18'.*xresnet101.*xresnet50"):
        build_model("resnet18", 10)
