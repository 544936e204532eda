"""Encoders (models.py): activation shapes, every norm/act/pool, weights drawn
only from the given generator."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from datadam_lib.method.models import EncoderSpec, build_encoder, default_depth, reset_parameters


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def run(spec: EncoderSpec, channels: int, size: int, n: int = 2, classes: int = 10):
    enc = build_encoder(spec, channels, classes, size, gen(0))
    x = torch.randn(n, channels, size, size, generator=gen(1))
    with torch.no_grad():
        taps, emb = enc.forward_features(x)
        logits = enc.classifier(emb)
    return enc, x, taps, emb, logits


def test_default_depth_follows_the_supplement():
    assert [default_depth(s) for s in (32, 64, 128)] == [3, 4, 5]


@pytest.mark.parametrize("size,depth", [(32, 3), (64, 4), (128, 5)])
def test_convnet_shapes_at_each_resolution(size, depth):
    enc, x, taps, emb, logits = run(EncoderSpec(), 3, size, n=1)
    assert len(taps) == depth
    assert [tuple(t.shape) for t in taps] == [(1, 128, size >> i, size >> i) for i in range(depth)]
    assert enc.embed_dim == 128 * 4 * 4 and emb.shape == (1, 2048)
    assert logits.shape == (1, 10)


def test_convnet_explicit_depth_and_width():
    _, _, taps, emb, _ = run(EncoderSpec(width=16, depth=2), 1, 32)
    assert [tuple(t.shape) for t in taps] == [(2, 16, 32, 32), (2, 16, 16, 16)]
    assert emb.shape == (2, 16 * 8 * 8)


@pytest.mark.parametrize("channels", [1, 3])
def test_alexnet_shapes_at_32(channels):
    enc, _, taps, emb, logits = run(EncoderSpec(arch="alexnet"), channels, 32)
    assert [t.shape[1] for t in taps] == [128, 192, 256, 192, 192]
    assert [t.shape[-1] for t in taps] == ([36, 18, 9, 9, 9] if channels == 1 else [32, 16, 8, 8, 8])
    assert emb.shape == (2, enc.embed_dim) == (2, 192 * 4 * 4)
    assert logits.shape == (2, 10)


def test_alexnet_at_64():
    enc, _, taps, emb, logits = run(EncoderSpec(arch="alexnet"), 3, 64, n=1)
    assert emb.shape == (1, 192 * 8 * 8) and logits.shape == (1, 10)


def test_vgg11_shapes_at_32_and_64():
    enc, _, taps, emb, logits = run(EncoderSpec(arch="vgg11", norm="batch"), 3, 32)
    assert [t.shape[1] for t in taps] == [64, 128, 256, 256, 512, 512, 512, 512]
    assert [t.shape[-1] for t in taps] == [32, 16, 8, 8, 4, 4, 2, 2]
    assert emb.shape == (2, 512) and logits.shape == (2, 10)
    enc, _, _, emb, logits = run(EncoderSpec(arch="vgg11", norm="instance"), 1, 64, n=1)
    assert emb.shape == (1, 512 * 2 * 2) == (1, enc.embed_dim)


def test_resnet18_shapes_at_32():
    _, _, taps, emb, logits = run(EncoderSpec(arch="resnet18", norm="batch"), 3, 32, n=2)
    assert [tuple(t.shape[1:]) for t in taps] == [(64, 32, 32), (64, 32, 32), (128, 16, 16), (256, 8, 8), (512, 4, 4)]
    assert emb.shape == (2, 512) and logits.shape == (2, 10)
    # the embedding is the global average of the last tap
    torch.testing.assert_close(emb, taps[-1].mean(dim=(2, 3)))


@pytest.mark.parametrize("norm", ["none", "batch", "layer", "instance", "group"])
@pytest.mark.parametrize("act", ["relu", "leakyrelu", "sigmoid"])
def test_every_norm_and_activation_builds_and_runs(norm, act):
    _, _, taps, emb, logits = run(EncoderSpec(width=8, norm=norm, act=act), 1, 16, n=3, classes=4)
    assert emb.shape == (3, 8 * 4 * 4) and logits.shape == (3, 4)     # depth 2 at 16 px
    assert all(torch.isfinite(t).all() for t in taps)
    # taps are taken after the non-linearity
    if act == "relu":
        assert all((t >= 0).all() for t in taps)
    if act == "sigmoid":
        assert all(((t > 0) & (t < 1)).all() for t in taps)
    if act == "leakyrelu":
        assert any((t < 0).any() for t in taps)


@pytest.mark.parametrize("pool,side", [("none", 16), ("max", 4), ("avg", 4)])
def test_every_pool(pool, side):
    enc, x, taps, emb, _ = run(EncoderSpec(width=8, depth=2, pool=pool), 1, 16)
    assert emb.shape == (2, 8 * side * side) == (2, enc.embed_dim)
    if pool == "avg":
        torch.testing.assert_close(emb, nn.functional.avg_pool2d(taps[-1], 2).flatten(1))
    if pool == "max":
        torch.testing.assert_close(emb, nn.functional.max_pool2d(taps[-1], 2).flatten(1))


@pytest.mark.parametrize("arch,norm,act", [("alexnet", "none", "leakyrelu"), ("vgg11", "group", "sigmoid"),
                                            ("resnet18", "none", "leakyrelu")])
def test_other_archs_with_other_norms_and_activations(arch, norm, act):
    _, _, taps, emb, logits = run(EncoderSpec(arch=arch, norm=norm, act=act), 1, 32, n=1)
    assert emb.shape == (1, 192 * 4 * 4 if arch == "alexnet" else 512)
    assert torch.isfinite(logits).all() and all(torch.isfinite(t).all() for t in taps)


def test_instance_norm_is_groupnorm_with_one_group_per_channel():
    enc = build_encoder(EncoderSpec(width=8, norm="instance"), 1, 2, 16, gen())
    gn = [m for m in enc.modules() if isinstance(m, nn.GroupNorm)]
    assert gn and all(m.num_groups == m.num_channels == 8 and m.affine for m in gn)


def test_forward_features_agrees_with_embed_and_forward():
    enc, x, taps, emb, logits = run(EncoderSpec(width=8), 1, 16)
    with torch.no_grad():
        torch.testing.assert_close(enc.embed(x), emb)
        torch.testing.assert_close(enc(x), logits)
        # by hand: stage i's tap is body(previous stage's pooled output)
        h = x
        for stage, tap in zip(enc.stages, taps, strict=True):
            torch.testing.assert_close(stage.body(h), tap)
            h = stage.post(tap)
        torch.testing.assert_close(h.flatten(1), emb)


# ---------------------------------------------------------------- weights and randomness

def _params(m):
    return [p.detach().clone() for p in m.parameters()]


def test_same_generator_seed_same_weights_and_global_rng_untouched():
    spec = EncoderSpec(width=16)
    state = torch.random.get_rng_state()
    a = build_encoder(spec, 3, 10, 32, gen(7))
    b = build_encoder(spec, 3, 10, 32, gen(7))
    c = build_encoder(spec, 3, 10, 32, gen(8))
    d = build_encoder(EncoderSpec(arch="resnet18", norm="batch"), 3, 10, 32)    # generator=None
    assert torch.equal(torch.random.get_rng_state(), state)
    assert all(torch.equal(p, q) for p, q in zip(_params(a), _params(b), strict=True))
    assert any(not torch.equal(p, q) for p, q in zip(_params(a), _params(c), strict=True))
    assert all(p.device.type == "cpu" for p in d.parameters())                  # materialised, not meta
    assert all(b.device.type == "cpu" for b in d.buffers())


def test_reset_parameters_bounds_and_norm_init():
    enc = build_encoder(EncoderSpec(width=16, norm="batch"), 3, 10, 32, gen(1))
    bn = next(m for m in enc.modules() if isinstance(m, nn.BatchNorm2d))
    with torch.no_grad():
        bn.running_mean.fill_(3.0)
        bn.weight.fill_(2.0)
    reset_parameters(enc, gen(2))
    assert torch.all(bn.running_mean == 0) and torch.all(bn.running_var == 1) and torch.all(bn.weight == 1)
    assert torch.all(bn.bias == 0)
    for m in enc.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            bound = 1 / math.sqrt(m.weight[0].numel())       # PyTorch's default U(-1/sqrt(fan_in), ..)
            assert m.weight.abs().max() <= bound and m.weight.abs().max() > 0.9 * bound
            assert m.bias.abs().max() <= bound
            assert abs(m.weight.std().item() - bound / math.sqrt(3)) < 0.15 * bound


def test_reset_parameters_is_a_fresh_draw_per_call():
    enc = build_encoder(EncoderSpec(width=8), 1, 2, 16, gen(0))
    g = gen(5)
    reset_parameters(enc, g)
    first = _params(enc)
    reset_parameters(enc, g)
    assert any(not torch.equal(p, q) for p, q in zip(first, _params(enc)))
    reset_parameters(enc, gen(5))
    assert all(torch.equal(p, q) for p, q in zip(first, _params(enc)))


@pytest.mark.parametrize("field,value,word", [("arch", "lenet", "architecture"), ("norm", "batchnorm", "norm"),
                                              ("act", "gelu", "act"), ("pool", "lp", "pool")])
def test_unknown_spec_values_raise(field, value, word):
    # refused where the spec is made (EncoderSpec.__post_init__), before any encoder is built
    with pytest.raises(ValueError, match=f"{field}='{value}' is invalid: expected one of"):
        EncoderSpec(**{field: value})


def test_released_convnet_stem_and_depths():
    """The released ConvNet pads a 1-channel input's first conv by 3 (turning
    28 px into 32) and is depth 6 at 128 px ("ConvNet128IN")."""
    spec = EncoderSpec(width=8, norm="batch", depths=(3, 3, 6), gray_stem_padding=3)
    enc, _, taps, emb, _ = run(spec, 1, 32, n=2)
    assert [t.shape[-1] for t in taps] == [36, 18, 9] and emb.shape == (2, 8 * 4 * 4)
    _, _, taps28, emb28, _ = run(spec, 1, 28, n=2)
    assert [t.shape[-1] for t in taps28] == [32, 16, 8] and emb28.shape == (2, 8 * 4 * 4)
    _, _, taps3, _, _ = run(spec, 3, 32, n=2)       # colour images: padding 1 as everywhere else
    assert taps3[0].shape[-1] == 32
    assert len(build_encoder(spec, 3, 10, 128).stages) == 6 and len(build_encoder(EncoderSpec(), 3, 10, 128).stages) == 5
    assert default_depth(64, (3, 3, 6)) == 3 and default_depth(256) == 6 and default_depth(16) == 2
