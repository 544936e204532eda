"""The NAS-Bench-201 cell space and network (supplement Table 5): the 15,625
cells and their strings, the DAG a cell computes, the network's size, and
weights drawn from an explicit generator."""
from __future__ import annotations

import pytest
import torch

from datadam_lib.method.nas import cells

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def test_the_space_has_5_to_the_6_cells_each_with_its_string():
    assert cells.SPACE_SIZE == 15_625
    every = {cells.from_index(i) for i in range(cells.SPACE_SIZE)}
    assert len(every) == 15_625
    assert cells.from_index(0) == ("none",) * 6 and cells.from_index(15_624) == ("avg_pool_3x3",) * 6
    assert cells.from_index(1) == ("none",) * 5 + ("skip_connect",)          # the last edge is the lowest digit
    cell = cells.parse(BEST)
    assert cell == ("nor_conv_3x3", "nor_conv_3x3", "nor_conv_3x3", "skip_connect", "nor_conv_3x3", "nor_conv_3x3")
    assert cells.arch_string(cell) == BEST
    for i in (7, 1234, 15_000):
        assert cells.parse(cells.arch_string(cells.from_index(i))) == cells.from_index(i)
    with pytest.raises(ValueError):
        cells.check_cell(("none",) * 5)
    with pytest.raises(ValueError):
        cells.parse("|none~0|+|none~0|")


def test_random_cells_are_distinct_and_fixed_by_the_seed():
    a = cells.random_cells(100, seed=0)
    assert len(set(a)) == 100 and a == cells.random_cells(100, seed=0) and a != cells.random_cells(100, seed=1)
    with pytest.raises(ValueError):
        cells.random_cells(0)


@pytest.mark.parametrize("ops, factor", [
    (("skip_connect",) * 6, 4.0),        # n1 = x, n2 = x + n1, n3 = x + n1 + n2
    (("none",) * 6, 0.0),
    (("skip_connect", "none", "skip_connect", "none", "none", "skip_connect"), 1.0),   # a chain 0 -> 1 -> 2 -> 3
    (("none", "skip_connect", "none", "skip_connect", "none", "skip_connect"), 2.0),   # n2 = x, n3 = x + n2
    (("avg_pool_3x3",) * 6, 4.0),        # on a constant image, pooling without padding keeps the constant
])
def test_a_cell_sums_one_op_of_every_earlier_node(ops, factor):
    cell = cells.CellModule(ops, channels=2)
    x = torch.full((1, 2, 5, 5), 3.0)
    assert torch.allclose(cell(x), factor * x)


def _params(cell, **kw):
    net = cells.build_cell_network(cell, 3, 10, generator=torch.Generator().manual_seed(0), **kw)
    return sum(p.numel() for p in net.parameters())


def test_the_network_has_the_skeletons_parameters():
    """Counted by hand for C = 16, N = 1: stem 3*16*9 + BN 2*16; residual
    blocks 16->32 and 32->64 (two 3x3 convs with BN, a 1x1 shortcut); final
    BN; linear 64*10 + 10. Every 3x3-conv edge adds 9c^2 (+ 2c for an affine
    BN) per cell at width c in {16, 32, 64}."""
    stem, last, linear = 3 * 16 * 9 + 32, 128, 64 * 10 + 10
    res = lambda a, b: a * b * 9 + 2 * b + b * b * 9 + 2 * b + a * b      # noqa: E731
    empty = stem + res(16, 32) + res(32, 64) + last + linear
    assert _params(("none",) * 6, C=16, N=1) == empty == 73_306
    conv = sum(9 * c * c + 2 * c for c in (16, 32, 64))
    assert _params(("nor_conv_3x3",) * 6, C=16, N=1) == empty + 6 * conv
    assert _params(("nor_conv_3x3",) * 6, C=16, N=1, cell_affine=False) == empty + 6 * (conv - 2 * 112)
    assert _params(("nor_conv_3x3",) * 6, C=16, N=5) == empty + 5 * 6 * conv


def test_weights_come_from_the_generator_not_the_global_rng():
    cell = cells.random_cells(1, seed=3)[0]
    state = torch.random.get_rng_state()
    a = cells.build_cell_network(cell, 1, 10, 16, 1, False, torch.Generator().manual_seed(5))
    b = cells.build_cell_network(cell, 1, 10, 16, 1, False, torch.Generator().manual_seed(5))
    c = cells.build_cell_network(cell, 1, 10, 16, 1, False, torch.Generator().manual_seed(6))
    assert torch.equal(torch.random.get_rng_state(), state)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert any(not torch.equal(sa[k], sc[k]) for k in sa if sa[k].is_floating_point() and sa[k].numel() > 100)
    out = a(torch.randn(4, 1, 32, 32, generator=torch.Generator().manual_seed(0)))
    assert out.shape == (4, 10) and torch.isfinite(out).all()
