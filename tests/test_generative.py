"""Generative baselines (generative.py): their losses on hand-computed cases,
spectral norm, shapes and ranges, determinism, and one trained generator
serving every IPC through the cache."""
from __future__ import annotations

import math

import pytest
import torch

from datadam_lib.kit.cache import model_cached, set_cached
from datadam_lib.method.baselines import generative as gen_mod
from datadam_lib.method.baselines.sets import SET_KINDS, make_set


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_rbf_mmd_by_hand():
    """x = {0}, y = {1} in 1-D, one bandwidth s: k(0,0) = k(1,1) = 1, k(0,1) = exp(-1/(2 s^2))."""
    x, y = torch.zeros(1, 1), torch.ones(1, 1)
    for s in (1.0, 2.0):
        assert gen_mod.rbf_mmd2(x, y, (s,)).item() == pytest.approx(2 - 2 * math.exp(-1 / (2 * s * s)))
    # a sum of kernels; batched over a leading class axis; zero for identical sets
    two = gen_mod.rbf_mmd2(torch.stack([x, x]), torch.stack([y, x]), (1.0, 2.0))
    assert two.tolist() == pytest.approx([4 - 2 * math.exp(-0.5) - 2 * math.exp(-0.125), 0.0], abs=1e-6)


def test_instance_contrastive_by_hand():
    """Two reconstructions whose features point at their own inputs: logits diag 1/t, off-diagonal 0."""
    h = torch.eye(2, dtype=torch.float64)
    expected = math.log(1 + math.exp(-1 / 0.1))
    assert gen_mod.instance_contrastive(h, h, 0.1).item() == pytest.approx(expected, rel=1e-5)
    # swapped partners: each must pick the other one, a large loss
    assert gen_mod.instance_contrastive(h.flip(0), h, 0.1).item() == pytest.approx(10 + expected, rel=1e-5)


def test_spectral_norm_converges_to_the_largest_singular_value():
    layer = gen_mod.initialise(gen_mod.SpectralNorm(torch.nn.Linear(5, 3)), gen(0))
    layer.layer.weight.data = torch.diag(torch.tensor([3.0, 1.0, 0.5])) @ torch.eye(3, 5)
    layer.train()
    for _ in range(30):
        w = layer.weight()
    assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=1e-4)
    u = layer.u.clone()
    layer.eval()
    layer(torch.ones(2, 5))
    assert torch.equal(layer.u, u)          # eval mode: no power iteration


@pytest.mark.parametrize("name", sorted(gen_mod.GENERATIVE))
def test_each_generator_trains_and_samples(name, digits, small_config):
    cfg = small_config(ipc=2, seed=1)
    state = gen_mod.train(name, cfg, digits)
    assert state["iterations"] == 2 and state["width"] == 8 and all(len(v) == 2 for v in state["losses"].values())
    assert all(math.isfinite(x) for v in state["losses"].values() for x in v)
    syn = gen_mod.sample(name, cfg, digits, state)
    assert syn.images.shape == (20, 1, 32, 32) and torch.equal(syn.labels, torch.arange(10).repeat_interleave(2))
    # sample() maps the generator's [-1, 1] to the [0, 1] pixels' normalised range (no clamp in between here)
    assert digits.zca is None
    lo, hi = (0 - digits.mean) / digits.std, (1 - digits.mean) / digits.std
    assert lo - 1e-5 <= float(syn.images.min()) and float(syn.images.max()) <= hi + 1e-5
    assert float(syn.images.std()) > 0
    # determinism: the same seed, the same weights and the same samples
    again = gen_mod.train(name, cfg, digits)
    for k, v in state["weights"].items():
        assert torch.equal(v, again["weights"][k]), k
    assert torch.equal(syn.images, gen_mod.sample(name, cfg, digits, again).images)


def test_labels_and_work_per_scale():
    assert gen_mod.GENERATIVE["dc-vae"].label == "DC-VAE (reduced)"
    assert gen_mod.GENERATIVE["biggan"].label == "BigGAN-style (reduced)"
    from datadam_lib import make_config
    assert gen_mod.work("cgan", make_config("paper", "paper")) == (20_000, 64)
    assert gen_mod.work("cgan", make_config("paper", "quick")) == (300, 32)
    assert gen_mod.work("biggan", make_config("paper", "quick")) == (60, 16)
    with pytest.raises(ValueError, match="power-of-two"):
        gen_mod._levels(28)


def test_one_trained_generator_serves_every_ipc(digits, small_config, tmp_path):
    root = str(tmp_path)
    a, hit_a, _ = set_cached("gmmn", small_config(ipc=1), digits, root=root)
    _, hit = model_cached("gmmn", small_config(ipc=2), digits, root=root)
    assert not hit_a and hit                                   # IPC 2 reuses the generator IPC 1 trained
    b, hit_b, _ = set_cached("gmmn", small_config(ipc=2), digits, root=root)
    assert not hit_b and b.images.shape[0] == 20 and a.images.shape[0] == 10
    assert torch.equal(make_set("gmmn", small_config(ipc=2), digits).images, b.images)
    assert SET_KINDS["gmmn"].model is not None and SET_KINDS["dc"].model is None
