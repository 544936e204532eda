"""The 720-ConvNet search space of supplement Sec. 2.3 (Table 4, Figs 7-8).

A ConvNet (``models.convnet``) varies on five axes:

- depth {1, 2, 3, 4} (the supplement prints "{1, 2, 3, 3, 5}", a garbled
  four-value set: 4 x 4 x 3 x 5 x 3 = 720 needs four depths);
- width {32, 64, 128, 256};
- activation {sigmoid, relu, leakyrelu};
- normalisation {none, batch, layer, instance, group};
- pooling {none, max, avg};

the space the supplement takes "from [28, 26, 27]" (the DC, DSA and DM
papers). Their public code defines only one-axis variants of the ConvNet
(``networks.py``: ConvNetD1.., ConvNetW32.., ConvNetAS/AL, ConvNetNP/MP/AP,
ConvNetNN/BN/LN/IN/GN), never the product; the product is built here.

:func:`grid` lists the space; :func:`stratified` draws a subset in which
every value of every axis appears about equally often (for quick runs).

    specs = grid()                       # 720 EncoderSpecs
    specs = stratified(12, seed=0)       # 12 of them, each axis value 2-4 times
"""
from __future__ import annotations

import itertools

import torch

from ..models import EncoderSpec

AXES: dict[str, tuple] = {
    "depth": (1, 2, 3, 4),
    "width": (32, 64, 128, 256),
    "act": ("sigmoid", "relu", "leakyrelu"),
    "norm": ("none", "batch", "layer", "instance", "group"),
    "pool": ("none", "max", "avg"),
}


def axes(**values) -> dict[str, tuple]:
    """:data:`AXES` with some axes' values replaced (``axes(width=(4, 8))``);
    an unknown axis is an error."""
    unknown = set(values) - set(AXES)
    if unknown:
        raise ValueError(f"unknown axes {sorted(unknown)}; the space's axes are {list(AXES)}")
    out = {**AXES, **{k: tuple(v) for k, v in values.items() if v}}
    for k, v in out.items():
        if len(set(v)) != len(v):
            raise ValueError(f"axis {k} repeats a value: {v}")
    return out


def spec(depth: int, width: int, act: str, norm: str, pool: str) -> EncoderSpec:
    return EncoderSpec(arch="convnet", depth=int(depth), width=int(width), act=act, norm=norm, pool=pool)


def grid(space: dict[str, tuple] | None = None) -> list[EncoderSpec]:
    """Every combination of the axes' values (720 for :data:`AXES`), in the
    order of ``itertools.product`` over depth, width, act, norm, pool."""
    space = space or AXES
    return [spec(*combo) for combo in itertools.product(*(space[a] for a in AXES))]


def name(s: EncoderSpec) -> str:
    """A short, unique name: ``D3-W128-relu-instance-avg``."""
    return f"D{s.depth}-W{s.width}-{s.act}-{s.norm}-{s.pool}"


def stratified(n: int, seed: int = 0, space: dict[str, tuple] | None = None) -> list[EncoderSpec]:
    """``n`` distinct architectures of ``space`` in which each axis's values
    appear about equally often (for n <= 144 of the 720: counts differ by at
    most one on every axis; tests/test_nas_space.py checks it).

    How (a greedy balanced design): every architecture gets a priority from a
    random permutation drawn with ``seed``; ``n`` times, the unchosen
    architecture whose axis values have been chosen least so far (the sum,
    over the five axes, of how often its value was chosen) is taken, ties
    going to the higher priority. ``n`` at least the grid's size returns the
    whole grid. The result is in grid order."""
    space = space or AXES
    full = grid(space)
    if n >= len(full):
        return full
    if n < 1:
        raise ValueError(f"asked for {n} architectures; need at least 1")
    size = len(full)
    values = torch.tensor([[space[a].index(getattr(s, a)) for a in AXES] for s in full])   # (size, 5)
    priority = torch.empty(size, dtype=torch.long)
    priority[torch.randperm(size, generator=torch.Generator().manual_seed(seed))] = torch.arange(size)
    counts = [torch.zeros(len(space[a]), dtype=torch.long) for a in AXES]
    used = torch.zeros(size, dtype=torch.bool)
    for _ in range(n):   # one pick per step, each step vectorised over the grid
        seen = sum(c[values[:, j]] for j, c in enumerate(counts))
        key = (seen * size + priority).masked_fill(used, torch.iinfo(torch.long).max)
        i = int(key.argmin())
        used[i] = True
        for j, c in enumerate(counts):
            c[values[i, j]] += 1
    return [full[i] for i in used.nonzero().flatten().tolist()]
