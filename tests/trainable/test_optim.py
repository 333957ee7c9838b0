import torch
from torch import nn

from trainable.optim import build_optimizer, param_groups, set_hparams


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.LazyLinear(2))


def test_weight_decay_only_on_weights():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, bias=False), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    decay, no_decay = param_groups(net, 0.01)
    ids = lambda ps: {id(p) for p in ps}  # noqa: E731
    assert ids(decay["params"]) == {id(net[0].weight), id(net[3].weight)}
    assert ids(no_decay["params"]) == {id(net[1].weight), id(net[1].bias), id(net[3].bias)}
    assert (decay["weight_decay"], no_decay["weight_decay"]) == (0.01, 0.0)


def test_adamw_hyperparameters_and_decoupled_decay():
    w = nn.Parameter(torch.ones(3))
    net = nn.Module()
    net.register_parameter("weight", w)
    opt = build_optimizer(net, weight_decay=0.1)
    g = opt.param_groups[0]
    assert g["betas"] == (0.95, 0.99) and g["eps"] == 1e-5
    set_hparams(opt, lr=0.5, mom=0.9)
    assert all(g["lr"] == 0.5 and g["betas"] == (0.9, 0.99) for g in opt.param_groups)
    # zero gradient: the only change is the decoupled decay p -= lr * wd * p
    w.grad = torch.zeros(3)
    opt.step()
    assert torch.allclose(w.detach(), torch.full((3,), 1 - 0.5 * 0.1))
