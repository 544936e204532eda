"""The fused first stage (method/fast/stem.py: conv -> instance norm -> ReLU -> 2x2
average pool as one batched product on the CPU) gives the modules' values, the
input's and every parameter's gradient, in float64, and distillation's maps
when the taps are reduced as they are made; it steps aside wherever it does
not apply (bf16 autocast, an odd size, many input channels, other norms)."""
from __future__ import annotations

import pytest
import torch

from datadam_lib.method.models import EncoderSpec, build_encoder


def _encoder(channels: int, pad: int = 1, norm: str = "instance", size: int = 32, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    model = build_encoder(EncoderSpec(gray_stem_padding=pad, norm=norm), channels, 10, size, gen).double()
    with torch.no_grad():  # scales and shifts away from 1 and 0, so that their gradients are tested
        for m in model.modules():
            if isinstance(m, torch.nn.GroupNorm):
                m.weight.uniform_(0.5, 1.5, generator=gen)
                m.bias.uniform_(-0.5, 0.5, generator=gen)
    x = torch.randn(4, channels, size, size, generator=gen, dtype=torch.float64) * 2 + 0.7  # off-centre input
    return model, x


def _modules(stage, x):
    tap = stage.body(x)
    return tap, stage.post(tap)


def _first_stage(channels: int, pad: int, channels_last: bool):
    model, x = _encoder(channels, pad)
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    return model.stages[0], x


CASES = [(1, 1, False), (3, 1, False), (1, 3, False), (3, 1, True)]  # (channels, stem padding, channels_last)


@pytest.mark.parametrize("channels,pad,channels_last", CASES)
def test_fused_stem_forward_equals_the_modules_in_float64(channels, pad, channels_last):
    stage, x = _first_stage(channels, pad, channels_last)
    assert stage.fusable
    with torch.no_grad():
        tap, out = stage.run(x, channels_last=channels_last)
        ref_tap, ref_out = _modules(stage, x)
        _, pooled_only = stage.run(x, tap=False)
    assert tap.shape == ref_tap.shape and out.shape == ref_out.shape
    assert tap.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    torch.testing.assert_close(tap, ref_tap, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(out, ref_out, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(pooled_only, ref_out, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("channels,pad,channels_last", CASES)
def test_fused_stem_gradients_equal_the_modules_in_float64(channels, pad, channels_last):
    stage, x = _first_stage(channels, pad, channels_last)
    params = list(stage.parameters())               # conv weight and bias, norm scale and shift
    weights = torch.randn(_modules(stage, x)[1].shape, generator=torch.Generator().manual_seed(1), dtype=x.dtype)
    out = stage.run(x, tap=False)[1]
    assert type(out.grad_fn).__name__ == "_StemBackward"   # the fused path ran
    fused = torch.autograd.grad((out * weights).sum(), params)
    ref = torch.autograd.grad((_modules(stage, x)[1] * weights).sum(), params)
    for a, b in zip(fused, ref):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert fused[1].abs().max() == 0                 # the bias before an instance norm has no gradient
    assert all(a.abs().max() > 0 for i, a in enumerate(fused) if i != 1)


def test_whole_encoder_training_step_equals_the_modules_in_float64():
    model, x = _encoder(1)
    labels = torch.arange(4)
    grads = {}
    for name in ("fused", "modules"):
        if name == "modules":   # the encoder as it was: every stage through its modules
            for stage in model.stages:
                stage.fusable = False
        loss = torch.nn.functional.cross_entropy(model(x), labels)
        grads[name] = (loss.detach(), torch.autograd.grad(loss, list(model.parameters())))
    torch.testing.assert_close(grads["fused"][0], grads["modules"][0], rtol=1e-12, atol=1e-12)
    for a, b in zip(grads["fused"][1], grads["modules"][1]):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_fused_stem_in_float32_stays_within_float_noise():
    model, x = _encoder(1)
    model, x = model.float(), x.float()
    with torch.no_grad():
        tap, out = model.stages[0].run(x)
        ref_tap, ref_out = _modules(model.stages[0], x)
    torch.testing.assert_close(tap, ref_tap, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out, ref_out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("channels,pad,channels_last", CASES)
def test_input_and_tap_gradients_equal_the_modules_in_float64(channels, pad, channels_last):
    """Distillation's synthetic pass: a loss on the tap (its attention map)
    and on the pooled output, gradients for the images and the parameters."""
    stage, x = _first_stage(channels, pad, channels_last)
    grads = []
    for fused in (True, False):
        xv = x.clone().requires_grad_(True)
        tap, out = stage.run(xv, channels_last=channels_last) if fused else _modules(stage, xv)
        if fused:
            assert tap.is_contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            assert type(tap.grad_fn).__name__ == "_StemTapBackward"
        w_tap = torch.randn(tap.shape, generator=torch.Generator().manual_seed(3), dtype=x.dtype)
        w_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(4), dtype=x.dtype)
        loss = (tap.square() * w_tap).sum() + (out * w_out).sum()
        grads.append(torch.autograd.grad(loss, [xv, *stage.parameters()]))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-11)
    for only in ("tap", "out"):   # one output unused: its gradient is None inside the backward
        xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        fa, fb = stage.run(xa, channels_last=channels_last), _modules(stage, xb)
        pick = 0 if only == "tap" else 1
        ga = torch.autograd.grad(fa[pick].square().sum(), xa)[0]
        gb = torch.autograd.grad(fb[pick].square().sum(), xb)[0]
        torch.testing.assert_close(ga, gb, rtol=1e-10, atol=1e-11)


def test_frozen_encoder_gives_the_images_their_gradient_only():
    model, x = _encoder(1)
    model.requires_grad_(False)
    xv = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xv).square().sum(), xv)
    xr = x.clone().requires_grad_(True)
    for stage in model.stages:
        stage.fusable = False
    (ref,) = torch.autograd.grad(model(xr).square().sum(), xr)
    torch.testing.assert_close(g, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("channels_last", [False, True])
def test_taps_reduced_as_they_are_made_give_the_objectives_statistics(channels_last):
    """Distillation's passes: ``forward_features(reduce=Objective.reduce_tap)``
    (the first stage chunk by chunk, 2 images per chunk here) gives the class
    means that the statistics of the modules' whole taps give."""
    from datadam_lib import make_config
    from datadam_lib.method.losses import Objective
    model, _ = _encoder(1)
    x = torch.randn(10, 1, 32, 32, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    objective = Objective(make_config("paper", "smoke", "digits").distill.method, 32)
    with torch.no_grad():
        taps, emb = model.forward_features(x, reduce=objective.reduce_tap)
        got = objective.means(x, taps, emb, 5)
        for stage in model.stages:
            stage.fusable = False
        want = objective.statistics(x, *model.forward_features(x), 5)
    assert taps[-1] is None and set(got) == set(want) == {"sam", "mmd"}   # the last tap is not matched
    for key in want:
        for a, b in zip(got[key], want[key], strict=True):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_reduce_may_overwrite_a_tap_only_where_nothing_else_reads_it():
    """``Stage.run`` passes ``scratch=True`` only without gradients and where
    the tap shares no memory with the stage's output (the pooled copy), in the
    fused first stage (its chunk buffer) and in the modules' stages alike."""
    model, x = _encoder(1)
    seen = []

    def record(tap, scratch):
        seen.append(scratch)
        return tap.sum((1, 2, 3))

    with torch.no_grad():
        out = model.stages[0].run(x, reduce=record)[1]
        model.stages[1].run(out, reduce=record)
    xg = x.clone().requires_grad_(True)
    model.stages[1].run(model.stages[0].run(xg, reduce=record)[1], reduce=record)
    unpooled = type(model.stages[1])(model.stages[1].body)            # post = Identity: out is the tap
    with torch.no_grad():
        unpooled.run(out, reduce=record)
    # the first stage's 2 chunks of 2 images and stage 2; both with gradients; the unpooled stage
    assert seen == [True, True, True] + [False, False] + [False]


def test_fused_stem_leaves_its_input_and_tap_intact():
    model, x = _encoder(1)
    before = x.clone()
    with torch.no_grad():
        tap, out = model.stages[0].run(x)
    kept = tap.clone()
    model.stages[1].run(out)
    assert torch.equal(x, before) and torch.equal(tap, kept)


def test_where_the_fold_does_not_apply_the_modules_run():
    odd, x = _encoder(1, size=31)                   # 31 px: an odd output, no 2x2 blocks
    with torch.no_grad():
        torch.testing.assert_close(odd.stages[0].run(x)[1], _modules(odd.stages[0], x)[1])
    for norm in ("batch", "group", "none"):         # only the instance norm is folded
        model, _ = _encoder(1, norm=norm)
        assert not model.stages[0].fusable
    wide, _ = _encoder(5)                            # many input channels: the convolution is cheaper
    assert not wide.stages[0].fusable
    assert _encoder(3)[0].stages[0].fusable and not _encoder(3)[0].stages[1].fusable
    model, x = _encoder(1)
    model = model.float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        tap, _ = model.stages[0].run(x.float())
    assert tap.dtype == torch.bfloat16              # the modules under autocast, not the fp32 fold
