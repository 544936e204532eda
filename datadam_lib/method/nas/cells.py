"""The NAS-Bench-201 cell space and its network (supplement Table 5).

NAS-Bench-201 (Dong & Yang, ICLR 2020, Sec. 2.1): a *cell* is a DAG of 4
nodes; node 0 is the cell's input, node ``i`` sums one operation applied to
each earlier node, node 3 is the output. Each of the 6 edges ``i <- j`` holds
one of 5 operations, so the space has 5^6 = 15,625 cells (the supplement's
"15,635" is a typo):

- ``none``: zero (the edge is absent);
- ``skip_connect``: identity;
- ``nor_conv_1x1``, ``nor_conv_3x3``: ReLU -> conv (no bias) -> BatchNorm;
- ``avg_pool_3x3``: 3x3 average pooling, stride 1, padding 1 (padding not
  counted in the average).

The network (the same paper's "skeleton"): a 3x3 conv stem with ``C``
channels and BatchNorm; three stages of ``N`` cells at ``C``, ``2C``, ``4C``
channels, separated by a residual block with stride 2 (ReLU-conv-BN twice, the
shortcut an average pool then a 1x1 conv); BatchNorm and ReLU; global
average pooling; a linear classifier. The benchmark's networks have C = 16,
N = 5; DC-Bench (Cui et al., NeurIPS 2022 Datasets & Benchmarks,
``darts-pt/nasbench201/train_search.py``) trains the proxies with C = 16,
N = 1 and BatchNorm without affine parameters inside the cells, which is why
its "whole dataset" row does not correlate perfectly.

A cell is written as NAS-Bench-201 writes it (:func:`arch_string`), the key
by which its API looks a cell up:
``|nor_conv_3x3~0|+|skip_connect~0|none~1|+|avg_pool_3x3~0|nor_conv_1x1~1|skip_connect~2|``.

Weights are drawn from an explicit generator (``models.reset_parameters``),
never from the global RNG.
"""
from __future__ import annotations

import torch
from torch import nn

from ..models import reset_parameters

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))   # (to, from), NAS-Bench-201's edge order
NODES = 4
SPACE_SIZE = len(OPS) ** len(EDGES)                        # 15,625

Cell = tuple[str, ...]                                      # one op per edge, in EDGES order


def check_cell(cell: Cell) -> Cell:
    cell = tuple(cell)
    if len(cell) != len(EDGES) or any(op not in OPS for op in cell):
        raise ValueError(f"a cell is {len(EDGES)} ops from {OPS}, one per edge {EDGES}; got {cell}")
    return cell


def arch_string(cell: Cell) -> str:
    """NAS-Bench-201's string for ``cell``: one ``|op~from|`` group per node, nodes joined by ``+``."""
    cell = check_cell(cell)
    nodes = ["|" + "|".join(f"{op}~{j}" for (i, j), op in zip(EDGES, cell) if i == node) + "|"
             for node in range(1, NODES)]
    return "+".join(nodes)


def parse(text: str) -> Cell:
    """Inverse of :func:`arch_string`."""
    ops = {}
    for node, group in enumerate(text.split("+"), start=1):
        for item in filter(None, group.split("|")):
            op, _, j = item.partition("~")
            ops[(node, int(j))] = op
    if set(ops) != set(EDGES):
        raise ValueError(f"{text!r} is not a NAS-Bench-201 cell (edges {sorted(ops)})")
    return check_cell(tuple(ops[e] for e in EDGES))


def from_index(index: int) -> Cell:
    """Cell number ``index`` of the 15,625, counting in base 5 with the first
    edge as the most significant digit (our numbering, not the benchmark
    file's: the API looks cells up by :func:`arch_string`)."""
    if not 0 <= index < SPACE_SIZE:
        raise ValueError(f"cell index {index} outside 0..{SPACE_SIZE - 1}")
    digits = []
    for _ in EDGES:
        index, d = divmod(index, len(OPS))
        digits.append(OPS[d])
    return tuple(reversed(digits))


def random_cells(n: int, seed: int = 0) -> list[Cell]:
    """``n`` distinct cells drawn uniformly without replacement by a generator
    seeded with ``seed`` (DC-Bench draws each edge's op uniformly, with
    replacement across cells; without replacement no cell is trained twice)."""
    if not 1 <= n <= SPACE_SIZE:
        raise ValueError(f"asked for {n} cells; the space has {SPACE_SIZE}")
    picks = torch.randperm(SPACE_SIZE, generator=torch.Generator().manual_seed(seed))[:n]
    return [from_index(int(i)) for i in picks]


# ---------------------------------------------------------------- the network

class Zero(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def relu_conv_bn(cin: int, cout: int, kernel: int, stride: int = 1, affine: bool = True) -> nn.Sequential:
    return nn.Sequential(nn.ReLU(inplace=False), nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout, affine=affine))


OP_MODULES = {
    "none": lambda c, affine: Zero(),
    "skip_connect": lambda c, affine: nn.Identity(),
    "nor_conv_1x1": lambda c, affine: relu_conv_bn(c, c, 1, affine=affine),
    "nor_conv_3x3": lambda c, affine: relu_conv_bn(c, c, 3, affine=affine),
    "avg_pool_3x3": lambda c, affine: nn.AvgPool2d(3, 1, 1, count_include_pad=False),
}


class CellModule(nn.Module):
    """One cell: node i = sum over j < i of op_{i<-j}(node j); returns node 3."""

    def __init__(self, cell: Cell, channels: int, affine: bool = True):
        super().__init__()
        self.cell = check_cell(cell)
        self.ops = nn.ModuleList(OP_MODULES[op](channels, affine) for op in self.cell)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for node in range(1, NODES):
            nodes.append(sum(op(nodes[j]) for (i, j), op in zip(EDGES, self.ops) if i == node))
        return nodes[-1]


class ResidualReduction(nn.Module):
    """The block between stages: two ReLU-conv-BN (the first with stride 2)
    plus a shortcut of 2x2 average pooling and a 1x1 conv."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.a = relu_conv_bn(cin, cout, 3, stride=2)
        self.b = relu_conv_bn(cout, cout, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x) + self.b(self.a(x))


class CellNetwork(nn.Module):
    """NAS-Bench-201's skeleton around ``cell`` (module docstring)."""

    def __init__(self, cell: Cell, channels: int, num_classes: int, C: int = 16, N: int = 5,
                 cell_affine: bool = True):
        super().__init__()
        self.cell = check_cell(cell)
        layers: list[nn.Module] = [nn.Conv2d(channels, C, 3, padding=1, bias=False), nn.BatchNorm2d(C)]
        width = C
        for stage in range(3):
            if stage:
                layers.append(ResidualReduction(width, 2 * width))
                width *= 2
            layers += [CellModule(cell, width, cell_affine) for _ in range(N)]
        layers += [nn.BatchNorm2d(width), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def build_cell_network(cell: Cell, channels: int, num_classes: int, C: int = 16, N: int = 5,
                       cell_affine: bool = True, generator: torch.Generator | None = None,
                       device: torch.device | str = "cpu") -> CellNetwork:
    """The network of ``cell`` on ``device``, its weights drawn from
    ``generator`` (created on the meta device, then materialised, as
    ``models.build_encoder`` does)."""
    with torch.device("meta"):
        model = CellNetwork(cell, channels, num_classes, C, N, cell_affine)
    model = model.to_empty(device=device)
    if generator is None:
        generator = torch.Generator(device=device).manual_seed(0)
    return reset_parameters(model, generator)
