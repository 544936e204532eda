"""Encoders: ConvNet (the paper's default and its 720-net NAS space), AlexNet,
VGG-11 and ResNet-18, sized for 32x32 inputs and larger.

Every network is a list of *stages*. A stage's ``body`` ends with the block's
non-linearity: its output is the intermediate activation that DataDAM taps
(supplement Sec. 2.2/3.2; released code: "the output of every ReLU"). Its
``post`` (pooling, or nothing) feeds the next stage. One call of
``forward_features`` returns every tap and the final embedding, so no forward
hooks and no activation copies are needed.

Weights are drawn by :func:`reset_parameters` from an explicit generator, with
PyTorch's default bounds U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (Table 2: "Conv
Layer Weights: Uniform Distribution").
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from .fast import stem
from .fast.modules import AvgPool2d, GroupNorm, ReLU, dead_after, fusable, is_channels_last, stem_applies
from .validation import Rule, at_least, check_fields, one_of

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": ReLU,
    "leakyrelu": lambda: nn.LeakyReLU(0.01, inplace=True),
    "sigmoid": nn.Sigmoid,
}

# `shape` is (C, H, W) of the normalised tensor; DC/DSA/DM conventions.
NORMS: dict[str, Callable[[tuple[int, int, int]], nn.Module]] = {
    "none": lambda s: nn.Identity(),
    "batch": lambda s: nn.BatchNorm2d(s[0]),
    "layer": lambda s: nn.LayerNorm(list(s)),
    "instance": lambda s: GroupNorm(s[0], s[0], affine=True),
    "group": lambda s: GroupNorm(4, s[0], affine=True),
}

POOLS: dict[str, Callable[[], nn.Module]] = {
    "none": nn.Identity,
    "max": lambda: nn.MaxPool2d(2, 2),
    "avg": AvgPool2d,
}


class Stage(nn.Module):
    """``tap = body(x)``; ``out = post(tap)``."""

    def __init__(self, body: nn.Module, post: nn.Module | None = None):
        super().__init__()
        self.body = body
        self.post = post if post is not None else nn.Identity()
        self.fusable = fusable(self.body, self.post)

    def run(self, x: torch.Tensor, tap: bool = True, channels_last: bool = False,
            reduce: Callable[..., object] | None = None) -> tuple[object, torch.Tensor]:
        """``(tap, out)``. ``tap=False``: ``(None, out)``, maybe faster.
        ``reduce``: ``(reduce(tap, scratch=...), out)``; ``scratch`` is True
        where nothing else reads the tap and no gradient flows through it, so
        ``reduce`` may overwrite it (speed: no new tap-sized temporaries).
        ``channels_last``: the layout the encoder's convolutions use."""
        if self.fusable and stem_applies(x, self.body[0]):
            # speed: conv -> instance norm -> ReLU -> pool of few input channels as one batched
            # product on the CPU, chunk by chunk in cache (stem.py; numbers in docs/benchmarks.md)
            conv, norm, layout = self.body[0], self.body[1], channels_last or is_channels_last(x)
            grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in self.body.parameters()))
            if not tap and not x.requires_grad:
                return None, stem.pooled(x, conv, norm)
            if not grad:
                return stem.tap(x, conv, norm, self.post, layout, reduce)
            t, out = stem.tap_with_grad(x, conv, norm, self.post, layout)
            return (t if reduce is None else reduce(t, scratch=False)) if tap else None, out
        t = self.body(x)
        out = self.post(t)
        if reduce is None:
            return t, out
        return reduce(t, scratch=dead_after(t, x, out)), out


class Encoder(nn.Module):
    """Stages, then flatten, then a linear classifier."""

    def __init__(self, stages: list[Stage], embed_dim: int, num_classes: int,
                 head: nn.Module | None = None):
        super().__init__()
        self.stages = nn.ModuleList(stages)
        self.head = head if head is not None else nn.Identity()
        self.embed_dim = embed_dim
        self.classifier = nn.Linear(embed_dim, num_classes)

    def forward_features(self, x: torch.Tensor, reduce: Callable[..., object] | None = None
                         ) -> tuple[list, torch.Tensor]:
        """Return ``(taps, embedding)``: one tap per stage (after its
        non-linearity, shape (N, C_l, H_l, W_l)) and the flattened embedding
        (N, embed_dim). ``reduce(i, number of taps, tap, scratch)``: keep what it
        returns (per image: images on the first axis) instead of tap i, as each
        tap is made; where a stage is computed in chunks of images, chunk by
        chunk, so the whole tap need never be in memory."""
        taps = []
        cl = any(is_channels_last(m.weight) for m in self.modules() if isinstance(m, nn.Conv2d))
        for i, stage in enumerate(self.stages):
            f = None if reduce is None else functools.partial(reduce, i, len(self.stages))
            tap, x = stage.run(x, channels_last=cl, reduce=f)
            taps.append(tap)
        return taps, self.head(x).flatten(1)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        for stage in self.stages:
            x = stage.run(x, tap=False)[1]
        return self.head(x).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(x))


@dataclass(frozen=True)
class EncoderSpec:
    """Architecture of an encoder. ``depth=None`` picks ``depths[i]`` for
    32 / 64 / 128 px (the paper: 3, 4, 5; supplement Sec. 1.4).
    ``gray_stem_padding``: the first conv's padding for 1-channel inputs
    (1; the released code pads by 3)."""
    arch: str = "convnet"
    width: int = 128
    depth: int | None = None
    act: str = "relu"
    norm: str = "instance"
    pool: str = "avg"
    depths: tuple[int, int, int] = (3, 4, 5)
    gray_stem_padding: int = 1

    def __post_init__(self):
        check_fields(self, arch=one_of(ARCHITECTURES), width=at_least(1), depth=at_least(1),
                     act=one_of(ACTIVATIONS), norm=one_of(NORMS), pool=one_of(POOLS),
                     depths=Rule(lambda v: min(v) >= 1, ">= 1"), gray_stem_padding=at_least(0))


def default_depth(im_size: int, depths: tuple[int, int, int] = (3, 4, 5)) -> int:
    """``depths`` at 32 / 64 / 128 px; one more per doubling above 128 and one
    fewer per halving below 32 (at least 1)."""
    i = round(math.log2(im_size / 32))
    return max(1, depths[0] + i) if i < 0 else depths[i] if i < 3 else depths[2] + i - 2


def convnet(channels: int, num_classes: int, im_size: int, spec: EncoderSpec) -> Encoder:
    """ConvNet-D: D x [conv3x3(width) -> norm -> act -> pool] -> linear."""
    depth = spec.depth or default_depth(im_size, spec.depths)
    stages, c, h = [], channels, im_size
    for d in range(depth):
        pad = spec.gray_stem_padding if d == 0 and channels == 1 else 1
        h += 2 * (pad - 1)
        layers = [nn.Conv2d(c, spec.width, 3, padding=pad)]
        layers += [NORMS[spec.norm]((spec.width, h, h)), ACTIVATIONS[spec.act]()]
        stages.append(Stage(nn.Sequential(*layers), POOLS[spec.pool]()))
        c = spec.width
        if spec.pool != "none":
            h //= 2
    return Encoder(stages, c * h * h, num_classes)


def alexnet(channels: int, num_classes: int, im_size: int, spec: EncoderSpec) -> Encoder:
    """AlexNet of DC/DSA/DM for 32x32 inputs (no normalisation layers)."""
    relu = ACTIVATIONS[spec.act]
    pad1 = 4 if channels == 1 else 2
    stages = [
        Stage(nn.Sequential(nn.Conv2d(channels, 128, 5, padding=pad1), relu()), nn.MaxPool2d(2)),
        Stage(nn.Sequential(nn.Conv2d(128, 192, 5, padding=2), relu()), nn.MaxPool2d(2)),
        Stage(nn.Sequential(nn.Conv2d(192, 256, 3, padding=1), relu())),
        Stage(nn.Sequential(nn.Conv2d(256, 192, 3, padding=1), relu())),
        Stage(nn.Sequential(nn.Conv2d(192, 192, 3, padding=1), relu()), nn.MaxPool2d(2)),
    ]
    side = (im_size + 2 * pad1 - 4) // 8
    return Encoder(stages, 192 * side * side, num_classes)


def vgg11(channels: int, num_classes: int, im_size: int, spec: EncoderSpec) -> Encoder:
    """VGG-11 (cfg A) with the chosen norm; for 32 px the embedding is 512."""
    cfg = [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"]
    stages, c, h = [], channels, im_size
    for i, v in enumerate(cfg):
        if v == "M":
            continue
        body = nn.Sequential(nn.Conv2d(c, v, 3, padding=1), NORMS[spec.norm]((v, h, h)),
                             ACTIVATIONS[spec.act]())
        pool = i + 1 < len(cfg) and cfg[i + 1] == "M"
        stages.append(Stage(body, nn.MaxPool2d(2) if pool else None))
        c = v
        h = h // 2 if pool else h
    return Encoder(stages, c * h * h, num_classes)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, size: int, norm: str, act: str):
        super().__init__()
        out = (cout, size // stride, size // stride)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.n1 = NORMS[norm](out)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.n2 = NORMS[norm](out)
        self.act = ACTIVATIONS[act]()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), NORMS[norm](out))

    def forward(self, x):
        y = self.act(self.n1(self.conv1(x)))
        return self.act(self.n2(self.conv2(y)) + self.shortcut(x))


def resnet18(channels: int, num_classes: int, im_size: int, spec: EncoderSpec) -> Encoder:
    """ResNet-18 for small images (3x3 stem, no stem pooling); taps after the
    stem and after each of the four stages; global average pool embedding (512)."""
    norm, act = spec.norm, spec.act
    stem = nn.Sequential(nn.Conv2d(channels, 64, 3, 1, 1, bias=False),
                         NORMS[norm]((64, im_size, im_size)), ACTIVATIONS[act]())
    stages, c, h = [Stage(stem)], 64, im_size
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        blocks = nn.Sequential(BasicBlock(c, cout, stride, h, norm, act),
                               BasicBlock(cout, cout, 1, h // stride, norm, act))
        stages.append(Stage(blocks))
        c, h = cout, h // stride
    return Encoder(stages, 512, num_classes, head=nn.AdaptiveAvgPool2d(1))


ARCHITECTURES: dict[str, Callable[[int, int, int, EncoderSpec], Encoder]] = {
    "convnet": convnet,
    "alexnet": alexnet,
    "vgg11": vgg11,
    "resnet18": resnet18,
}


def build_encoder(spec: EncoderSpec, channels: int, num_classes: int, im_size: int,
                  generator: torch.Generator | None = None,
                  device: torch.device | str = "cpu") -> Encoder:
    """Build an encoder on ``device``. Parameters are drawn from ``generator``
    (never from the global RNG): the module is created on the meta device and
    then materialised."""
    if spec.arch not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {spec.arch!r}; choose one of {sorted(ARCHITECTURES)}")
    for field, table in (("act", ACTIVATIONS), ("norm", NORMS), ("pool", POOLS)):
        if getattr(spec, field) not in table:
            raise ValueError(f"unknown {field} {getattr(spec, field)!r}; choose one of {sorted(table)}")
    with torch.device("meta"):
        model = ARCHITECTURES[spec.arch](channels, num_classes, im_size, spec)
    model = model.to_empty(device=device)
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(0)
    return reset_parameters(model, generator)


@torch.no_grad()
def reset_parameters(model: nn.Module, generator: torch.Generator) -> nn.Module:
    """Redraw every parameter in place: conv/linear weights and biases from
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (PyTorch's default, Table 2's "uniform"),
    norm scales 1 and shifts 0, running statistics reset. A "fresh random
    encoder" per distillation iteration is this call on one reused module."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bound = 1.0 / math.sqrt(m.weight[0].numel())
            m.weight.uniform_(-bound, bound, generator=generator)
            if m.bias is not None:
                m.bias.uniform_(-bound, bound, generator=generator)
        elif isinstance(m, (nn.GroupNorm, nn.LayerNorm, nn.BatchNorm2d)):
            if m.weight is not None:
                m.weight.fill_(1.0)
                m.bias.zero_()
            if isinstance(m, nn.BatchNorm2d):
                m.reset_running_stats()
    return model
