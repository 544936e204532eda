"""The distillation baselines and coresets (gradient_matching.py, cafe.py,
coresets.py, the dm and pixel-mmd kinds of sets.py): each loss on a case
computed by hand, the loops' defaults, determinism, and the sets they make."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from datadam_lib import make_config, override, random_subset
from datadam_lib.method.baselines import cafe, coresets
from datadam_lib.method.baselines import gradient_matching as gm
from datadam_lib.method.baselines.common import freeze_batchnorm
from datadam_lib.method.baselines.sets import PIXEL_MMD_OVERRIDES, SET_KINDS, dm_config, make_set
from datadam_lib.method.baselines_config import CAFEConfig, MatchingConfig
from datadam_lib.method.init import kcenter_indices
from datadam_lib.method.losses import Objective, pixel_mmd_loss
from datadam_lib.method.models import EncoderSpec, build_encoder


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- DC / DSA


def test_gradient_distance_by_hand():
    """distance_wb: per output unit 1 - cos; unit 1 identical (0), unit 2 orthogonal (1)."""
    real = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])        # (k=1, out=2, in=2)
    syn = torch.tensor([[[2.0, 0.0], [3.0, 0.0]]])
    expected = (1 - 2 / (1 * 2 + 1e-6)) + 1.0
    assert gm.gradient_distance(real, syn).item() == pytest.approx(expected, abs=1e-7)
    # conv-shaped (k, out, in, h, w): each output unit's in*h*w weights are one vector
    r = torch.tensor([1.0, 2.0, 3.0, 4.0]).view(1, 1, 1, 2, 2)
    s = torch.tensor([4.0, 3.0, 2.0, 1.0]).view(1, 1, 1, 2, 2)
    cos = 20 / (30 + 1e-6)
    assert gm.gradient_distance(r, s).item() == pytest.approx(1 - cos, abs=1e-7)
    # biases and norm scales (1-D parameters) contribute 0, as in DC
    assert gm.gradient_distance(torch.ones(3, 5), -torch.ones(3, 5)).item() == 0.0
    # summed over classes and parameters
    two = {"w": torch.cat([real, real]), "b": torch.ones(2, 2)}
    got = gm.match_loss(two, {"w": torch.cat([syn, syn]), "b": torch.zeros(2, 2)})
    assert got.item() == pytest.approx(2 * expected)


def test_loops_are_dcs_table():
    m = MatchingConfig()
    assert [gm.loops(i, m) for i in (1, 10, 50)] == [(1, 1), (10, 50), (50, 10)]
    assert gm.loops(7, MatchingConfig(outer_loop=3, inner_loop=2)) == (3, 2)
    with pytest.raises(ValueError, match="outer_loop"):
        gm.loops(7, m)
    assert (m.iterations, m.lr_images, m.momentum, m.lr_net) == (1000, 0.1, 0.5, 0.01)
    assert (m.batch_real, m.batch_train, m.bn_images) == (256, 256, 16)


def test_class_gradients_equal_one_backward_per_class():
    """The vectorised per-class gradients are DC's loop over classes."""
    net = build_encoder(EncoderSpec(width=8, depth=2), 1, 3, 8, gen(1))
    x = torch.randn(3, 4, 1, 8, 8, generator=gen(2))
    params = {n: p.detach() for n, p in net.named_parameters()}
    got = gm.class_gradients(net, params, x, torch.arange(3))
    for c in range(3):
        loss = F.cross_entropy(net(x[c]), torch.full((4,), c))
        for (name, p), gr in zip(net.named_parameters(), torch.autograd.grad(loss, list(net.parameters()))):
            torch.testing.assert_close(got[name][c], gr, rtol=1e-5, atol=1e-6)


def test_freeze_batchnorm_takes_statistics_then_freezes():
    net = build_encoder(EncoderSpec(width=4, depth=1, norm="batch"), 1, 2, 8, gen(0))
    real = torch.randn(6, 1, 8, 8, generator=gen(1)) + 3
    conv_out = net.stages[0].body[0](real)
    assert freeze_batchnorm(net, real)
    bn = net.stages[0].body[1]
    assert not bn.training
    torch.testing.assert_close(bn.running_mean, 0.1 * conv_out.mean((0, 2, 3)).detach())   # momentum 0.1, from 0
    before = bn.running_mean.clone()
    net(real + 5)                                                                       # frozen: no update
    assert torch.equal(bn.running_mean, before)
    assert not freeze_batchnorm(build_encoder(EncoderSpec(width=4, depth=1), 1, 2, 8, gen(0)), real)


@pytest.mark.parametrize("kind", ["dc", "dsa"])
def test_dc_and_dsa_sets(kind, digits, small_config):
    cfg = small_config(ipc=1, seed=3)
    a, b = make_set(kind, cfg, digits, snapshot_at=(0,)), make_set(kind, cfg, digits)
    assert torch.equal(a.images, b.images) and a.images.shape == (10, 1, 32, 32)    # deterministic
    assert torch.equal(a.labels, torch.arange(10))
    assert a.info["outer_loop"] == 1 and a.info["iterations"] == 1 and len(a.losses) == 1
    start = a.snapshots[0]
    if kind == "dsa":   # DSA starts from the random real images of Random (same seed)
        assert torch.equal(start, random_subset(digits, 1, seed=3)[0])
    else:               # DC starts from N(0, 1) noise
        assert abs(float(start.mean())) < 0.2 and 0.8 < float(start.std()) < 1.2
    assert not torch.equal(a.images, start)


def test_dc_smoke_caps_the_loops(digits, small_config):
    syn = make_set("dc", small_config(ipc=10), digits)
    assert (syn.info["outer_loop"], syn.info["inner_loop"]) == (2, 1)       # (10, 50) capped at smoke scale
    paper = make_config("paper", "paper", ipc=10)
    assert gm.loops(10, paper.baselines.matching) == (10, 50)


# ---------------------------------------------------------------- CAFE


def test_cafe_loss_by_hand():
    """Two classes, one real and one synthetic image each, two taps and a 2-d embedding."""
    c = CAFEConfig()
    real_taps = [torch.tensor([1.0, 2.0]).view(2, 1, 1, 1), torch.tensor([1.0, 1.0]).view(2, 1, 1, 1)]
    syn_taps = [torch.tensor([0.0, 0.0]).view(2, 1, 1, 1), torch.tensor([2.0, 1.0]).view(2, 1, 1, 1)]
    real_emb, syn_emb = torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    layers = 0.1 * (1 + 4) + 1.0 * 1                   # earlier tap x0.1, last tap x1
    embedding = (1.0 + 1.0) * 1                        # pooled output (x1) and embedding (x1): the same number here
    # logits = real emb . synthetic class centres = [[1, 0], [0, 0]]
    discrimination = math.log(1 + math.exp(-1)) + math.log(2)
    got = cafe.cafe_loss(real_taps, real_emb, syn_taps, syn_emb, torch.tensor([0, 1]), 2, c)
    assert got.item() == pytest.approx(layers + embedding + 0.01 * discrimination, rel=1e-6)


def test_cafe_defaults_and_schedule():
    c = CAFEConfig()
    assert (c.iterations, c.lr_images, c.lambda_1, c.lambda_2) == (2000, 0.1, 0.04, 0.03)
    assert (c.inner_weight, c.window, c.check_images, c.last_weight, c.earlier_weight) == (0.01, 10, 128, 1.0, 0.1)
    assert [cafe.image_lr(c, 2000, it) for it in (0, 1199, 1200, 1600, 1800, 1999)] == \
        pytest.approx([0.1, 0.1, 0.05, 0.025, 0.0125, 0.0125])


def test_cafe_set(digits, small_config):
    cfg = small_config(ipc=1, seed=1)
    a, b = make_set("cafe", cfg, digits, snapshot_at=(0,)), make_set("cafe", cfg, digits)
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, a.snapshots[0])
    # smoke caps the dynamic loops: at most 2 image updates, each followed by at most 2 network epochs
    assert a.info["outer_steps"] == [2] and 1 <= a.info["inner_epochs"][0] <= 4


def test_real_accuracy(digits):
    """The mean over 5 real images per class of (prediction == label), in eval mode; the mode is restored."""
    net = build_encoder(EncoderSpec(width=8, norm="batch"), 1, 10, 32, gen(0)).train()
    idx = digits.sample_indices(5, gen(1)).flatten()
    with torch.no_grad():
        expected = (net.eval()(digits.x_train[idx]).argmax(1) == digits.y_train[idx]).sum().item() / 50
    net.train()
    assert cafe.real_accuracy(net, digits, 5, gen(1)) == pytest.approx(expected) and net.training


# ---------------------------------------------------------------- coresets


def test_herding_by_hand():
    """Class 0 at 0, 1, 3 (mean 4/3): 1 (closest), then 3 (mean 2 vs 0.5), then 0;
    class 1 at 10, 14 (mean 12): a tie broken by the lower index, then the other."""
    emb = torch.tensor([[0.0], [1.0], [3.0], [10.0], [14.0]])
    labels = torch.tensor([0, 0, 0, 1, 1])
    assert coresets.herding_indices(emb, labels, 2, 2).tolist() == [[1, 2], [3, 4]]
    assert coresets.herding_indices(emb, labels, 2, 1).tolist() == [[1], [3]]


def test_coresets_are_real_images_from_one_feature_network(digits, small_config, tmp_path):
    from datadam_lib.kit.cache import model_cached, set_cached
    root = str(tmp_path)
    for kind in ("herding", "kcenter"):
        syn, _, _ = set_cached(kind, small_config(ipc=2), digits, root=root)
        idx = torch.tensor(syn.info["indices"])
        assert torch.equal(syn.images, digits.x_train[idx]) and torch.equal(syn.labels, digits.y_train[idx])
        assert len(set(idx.tolist())) == 20 and syn.info["feature_epochs"] == 1
    # k-center reused the network herding trained (one payload), at every IPC
    state, hit = model_cached("kcenter", small_config(ipc=5), digits, root=root)
    assert hit
    # each set is its selector's choice (checked by hand in test_herding_by_hand and test_distill.py's
    # brute-force k-center) in the embedding of that trained network, rebuilt here from its weights
    net = build_encoder(small_config().distill.encoder, 1, 10, 32)
    net.load_state_dict(state["weights"])
    with torch.no_grad():
        emb = net.eval().embed(digits.x_train)
    for kind, select in (("herding", coresets.herding_indices), ("kcenter", kcenter_indices)):
        want = select(emb, digits.y_train, 10, 2).flatten().tolist()
        assert set_cached(kind, small_config(ipc=2), digits, root=root)[0].info["indices"] == want


# ---------------------------------------------------------------- DM and pixel MMD


def test_dm_uses_its_own_schedule():
    for scale, iterations in (("smoke", 3), ("quick", 200), ("paper", 20_000)):
        d = dm_config(make_config("paper", scale, ipc=10)).distill
        assert (d.iterations, d.lr_images, d.momentum, d.init) == (iterations, 1.0, 0.5, "real")
        assert d.batch_real == {"smoke": 8, "quick": 32, "paper": 256}[scale] and d.dsa is not None


def test_pixel_mmd_is_the_linear_kernel_in_pixel_space(digits, small_config):
    cfg = override(small_config(ipc=2), PIXEL_MMD_OVERRIDES)
    obj = Objective(cfg.distill.method, 32)
    real, syn = torch.randn(6, 1, 4, 4, generator=gen(0)), torch.randn(4, 1, 4, 4, generator=gen(1))
    stats = lambda x, k: obj.statistics(x, None, None, k)  # noqa: E731
    assert obj.loss(stats(real, 2), stats(syn, 2)).item() == pytest.approx(pixel_mmd_loss(real, syn, 2).item())
    assert cfg.distill.dsa is None and not obj.needs_encoder
    syn_set = make_set("pixel-mmd", small_config(ipc=2), digits, snapshot_at=(0,))
    # only the class means move: every image of a class moves by the same vector
    delta = (syn_set.images - syn_set.snapshots[0]).view(10, 2, -1)
    torch.testing.assert_close(delta[:, 0], delta[:, 1])


def test_every_kind_the_nas_family_names_is_registered():
    assert {"dc", "dsa", "dm", "cafe", "herding", "kcenter", "random", "datadam", "pixel-mmd"} <= set(SET_KINDS)
