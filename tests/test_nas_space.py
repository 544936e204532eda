"""The 720-ConvNet search space (supplement Sec. 2.3): the grid, every
network building and running at 32 px, the stratified quick-scale subsets."""
from __future__ import annotations

from collections import Counter

import pytest
import torch

from datadam_lib.method.models import build_encoder, convnet
from datadam_lib.method.nas import space as nas_space


def test_the_grid_is_the_product_of_the_five_axes():
    specs = nas_space.grid()
    assert len(specs) == 4 * 4 * 3 * 5 * 3 == 720
    assert len({nas_space.name(s) for s in specs}) == 720 and len(set(specs)) == 720
    for axis, values in nas_space.AXES.items():
        assert Counter(getattr(s, axis) for s in specs) == {v: 720 // len(values) for v in values}
    assert len(nas_space.grid(nas_space.axes(width=(4, 8)))) == 360
    with pytest.raises(ValueError, match="unknown axes"):
        nas_space.axes(kernel=(3,))


def test_every_architecture_builds_and_runs_at_32_px():
    """All 720 build on the meta device (shapes only, no memory), and run a
    batch of 32x32 RGB images to 10 logits: every (depth, width, norm, pool),
    no-pooling depth-4 nets included, each with one activation in turn (an
    activation is elementwise: it cannot change a shape; running all 720 on
    the meta device takes three times as long)."""
    x = torch.empty(2, 3, 32, 32, device="meta")
    acts = nas_space.AXES["act"]
    for i, s in enumerate(nas_space.grid()):
        with torch.device("meta"):
            net = convnet(3, 10, 32, s)
        side = 32 if s.pool == "none" else 32 >> s.depth
        assert net.embed_dim == s.width * side * side
        if s.act == acts[(i // len(acts)) % len(acts)]:        # one activation per shape class, all of them used
            with torch.no_grad():
                assert net(x).shape == (2, 10), nas_space.name(s)


def test_the_largest_network_trains_a_step_on_real_memory():
    """The heaviest corner (depth 4, width 256, no pooling: 256 x 32 x 32
    features) on the CPU, one image, forward and backward."""
    g = torch.Generator().manual_seed(0)
    net = build_encoder(nas_space.spec(4, 256, "leakyrelu", "layer", "none"), 3, 10, 32, g)
    loss = net(torch.randn(1, 3, 32, 32, generator=g)).logsumexp(1).sum()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


def _spread(specs, axis):
    counts = Counter(getattr(s, axis) for s in specs)
    values = [counts.get(v, 0) for v in nas_space.AXES[axis]]
    return max(values) - min(values)


@pytest.mark.parametrize("n", [5, 12, 36, 144])
def test_a_stratified_subset_balances_every_axis(n):
    for seed in range(3):
        specs = nas_space.stratified(n, seed)
        assert len(specs) == len(set(specs)) == n and set(specs) <= set(nas_space.grid())
        assert all(_spread(specs, axis) <= 1 for axis in nas_space.AXES), (n, seed)


def test_a_stratified_subset_is_fixed_by_its_seed():
    a, b = nas_space.stratified(12, 0), nas_space.stratified(12, 0)
    assert a == b and a != nas_space.stratified(12, 1)
    grid = nas_space.grid()
    assert a == sorted(a, key=grid.index)                      # in grid order
    assert nas_space.stratified(720, 3) == grid == nas_space.stratified(1000, 0)
    small = nas_space.axes(width=(4, 8, 16, 32))
    assert {s.width for s in nas_space.stratified(12, 0, small)} == {4, 8, 16, 32}
    with pytest.raises(ValueError):
        nas_space.stratified(0)
