"""Speed settings change nothing but speed (fast.modules.GroupNorm / AvgPool2d / ReLU,
training.memory_format, keep_freed_memory, the sync-free DSA), and the bf16
switch (``*.autocast``) does what it says, falling back where bf16 is not native.
No timing is asserted here: speed targets live in benchmarks/."""
from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from datadam_lib import EncoderSpec, EvalConfig, make_config, override, random_subset
from datadam_lib.kit.cache import distill_key, eval_key
from datadam_lib.method import augment, training
from datadam_lib.method.evaluate import test_accuracy as accuracy_of
from datadam_lib.method.evaluate import train_model
from datadam_lib.method.losses import Objective
from datadam_lib.method.models import AvgPool2d, GroupNorm, ReLU, build_encoder
from datadam_lib.method.step import step
from datadam_lib.method.training import EVAL_AUGMENTS, autocast, lr_at, model_generator

FORMATS = [torch.contiguous_format, torch.channels_last]


def _grads(y, inputs, seed=0):
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype)
    return torch.autograd.grad(y, inputs, g)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("groups", [8, 4])           # instance norm (C groups) and group norm (4)
def test_group_norm_equals_nn_group_norm_forward_and_backward_in_float64(fmt, groups):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 8, 6, 6, generator=gen, dtype=torch.float64).contiguous(memory_format=fmt)
    fast, ref = GroupNorm(groups, 8).double(), nn.GroupNorm(groups, 8).double()
    with torch.no_grad():
        fast.weight.copy_(torch.rand(8, generator=gen)), fast.bias.copy_(torch.rand(8, generator=gen))
        ref.load_state_dict(fast.state_dict())
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = fast(xa), ref(xb)
    torch.testing.assert_close(ya, yb, rtol=1e-12, atol=1e-12)
    for a, b in zip(_grads(ya, (xa, fast.weight, fast.bias)), _grads(yb, (xb, ref.weight, ref.bias))):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    with torch.inference_mode():                      # the forward-only path (left on channels_last)
        torch.testing.assert_close(fast(x), ref(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("fmt", FORMATS)
def test_avg_pool_equals_nn_avg_pool_forward_and_backward_in_float64(fmt):
    x = torch.randn(2, 3, 8, 6, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    x = x.contiguous(memory_format=fmt)
    with torch.inference_mode():                      # first use in inference mode: its cached matrix
        AvgPool2d()(x)                                # must still serve autograd afterwards
    xa, xb = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    ya, yb = AvgPool2d()(xa), nn.AvgPool2d(2, 2)(xb)
    torch.testing.assert_close(ya, yb, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(_grads(ya, xa)[0], _grads(yb, xb)[0], rtol=1e-12, atol=1e-12)


def test_avg_pool_falls_back_for_odd_sizes():
    x = torch.randn(1, 2, 5, 7, generator=torch.Generator().manual_seed(2))
    assert torch.equal(AvgPool2d()(x), F.avg_pool2d(x, 2, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_relu_values_and_in_place_only_for_fp32(dtype):
    x = torch.randn(2, 3, 4, 4, generator=torch.Generator().manual_seed(3)).to(dtype)
    ref = torch.relu(x)
    y = ReLU()(x)
    assert torch.equal(y, ref)
    assert (y.data_ptr() == x.data_ptr()) == (dtype == torch.float32)


def test_models_use_the_fast_layers_and_keep_their_state_dict():
    enc = build_encoder(EncoderSpec(width=8), 1, 10, 32, torch.Generator().manual_seed(0))
    kinds = {type(m) for m in enc.modules()}
    assert {GroupNorm, AvgPool2d, ReLU} <= kinds
    ref = {k: v.shape for k, v in enc.state_dict().items()}
    assert ref["stages.0.body.1.weight"] == (8,)      # nn.GroupNorm's parameter names, unchanged


def test_sync_free_dsa_is_bit_identical_to_per_sample(digits):
    x = digits.x_train[:16]
    a = EVAL_AUGMENTS["dsa"](x, torch.Generator().manual_seed(5), digits)
    b = augment.per_sample(augment.DSAConfig(), x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def _as_before(model: nn.Module) -> nn.Module:
    """``model`` with the layers it had before the speed work (nn.GroupNorm,
    nn.AvgPool2d, in-place nn.ReLU; same parameters), on channels_last."""
    for stage in model.stages:
        body = stage.body
        for i, m in enumerate(body):
            if isinstance(m, GroupNorm):
                ref = nn.GroupNorm(m.num_groups, m.num_channels, m.eps, m.affine).to(m.weight.dtype)
                ref.load_state_dict(m.state_dict())
                body[i] = ref
            elif isinstance(m, ReLU):
                body[i] = nn.ReLU(inplace=True)
        if isinstance(stage.post, AvgPool2d):
            stage.post = nn.AvgPool2d(2, 2)
    return model.to(memory_format=torch.channels_last)


def _reference_train(images, labels, data, cfg: EvalConfig, generator):
    """The training loop as it was before the speed work (augment.per_sample)."""
    model = _as_before(build_encoder(cfg.encoder, data.channels, data.num_classes, data.im_size, generator))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    model.train()
    for epoch in range(cfg.epochs):
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, epoch)
        order = torch.randperm(len(images), generator=generator)
        for idx in order.split(cfg.batch_size):
            x = augment.per_sample(augment.DSAConfig(), images[idx], generator)
            loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


@pytest.mark.parametrize("norm", ["instance", "batch", "group"])
def test_a_training_step_computes_the_same_gradients_in_float64(digits, norm):
    """The training step's function, exactly: new layers on NCHW vs the old ones on channels_last."""
    spec = EncoderSpec(width=16, norm=norm)
    fast = build_encoder(spec, 1, 10, 32, torch.Generator().manual_seed(0)).double()
    ref = _as_before(build_encoder(spec, 1, 10, 32, torch.Generator().manual_seed(0)).double())
    x = EVAL_AUGMENTS["dsa"](digits.x_train[:24], torch.Generator().manual_seed(1), digits).double()
    y = digits.y_train[:24]
    ga = torch.autograd.grad(F.cross_entropy(fast(x), y), list(fast.parameters()))
    gb = torch.autograd.grad(F.cross_entropy(ref(x.contiguous(memory_format=torch.channels_last)), y),
                             list(ref.parameters()))
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("norm", ["instance", "batch"])
def test_train_model_matches_the_loop_before_the_speed_work(digits, norm):
    """Same seeds, fp32, 8 SGD steps: parameters equal up to float noise (which
    training amplifies: ~1e-7 after one step, ~1e-5 after eight), same accuracy."""
    cfg = EvalConfig(encoder=EncoderSpec(width=16, norm=norm), epochs=4, batch_size=32, num_models=1)
    x, y = random_subset(digits, 5, seed=1)
    fast = train_model(x, y, digits, cfg, model_generator(0, 0, "cpu"))
    ref = _reference_train(x, y, digits, cfg, model_generator(0, 0, "cpu"))
    for (name, a), b in zip(fast.state_dict().items(), ref.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=2e-4, msg=name)
    assert accuracy_of(fast, digits) == pytest.approx(accuracy_of(ref, digits), abs=1.01 / len(digits.y_test))


def test_autocast_switch():
    cpu = torch.device("cpu")
    with autocast("none", cpu):
        assert not torch.is_autocast_enabled("cpu")
    with pytest.raises(ValueError, match="unknown autocast 'fp16'"):
        autocast("fp16", cpu)
    if training.bf16_supported(cpu):
        with autocast("bf16", cpu):
            assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16


def test_autocast_falls_back_to_fp32_with_a_warning(monkeypatch):
    monkeypatch.setattr(training, "bf16_supported", lambda device: False)
    monkeypatch.setattr(training, "_warned", set())
    with pytest.warns(UserWarning, match="no native bf16"):
        ctx = autocast("bf16", torch.device("cpu"))
    with ctx:
        assert not torch.is_autocast_enabled("cpu")
    with warnings.catch_warnings():                   # once per device type
        warnings.simplefilter("error")
        autocast("bf16", torch.device("cpu"))


def test_bf16_evaluation_trains_fp32_weights(digits):
    cfg = EvalConfig(encoder=EncoderSpec(width=16), epochs=2, batch_size=32, num_models=1, autocast="bf16")
    x, y = random_subset(digits, 2, seed=0)
    model = train_model(x, y, digits, cfg, model_generator(0, 0, "cpu"))
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())
    assert 0.0 <= accuracy_of(model, digits) <= 1.0


@pytest.mark.parametrize("preset", ["paper", "released"])
def test_bf16_distillation_step_gives_fp32_gradients_close_to_fp32(digits, preset):
    cfg = make_config(preset, "smoke", "digits", ipc=2, overrides={"distill.encoder.width": 16})
    d = cfg.distill
    obj = Objective(d.method, digits.im_size)
    grads = {}
    for precision in ("none", "bf16"):
        g = torch.Generator().manual_seed(0)
        images = digits.sample(d.ipc, g).clone().requires_grad_(True)
        enc = build_encoder(d.encoder, 1, 10, 32, g).requires_grad_(False).train(d.encoder_train_mode)
        loss = step(enc.to(memory_format=torch.channels_last), obj, digits, images, 4, d.dsa, g, 10,
                    precision=precision)
        assert loss.dtype == torch.float32 and torch.isfinite(loss)
        grads[precision] = images.grad
    assert grads["bf16"].dtype == torch.float32
    cos = F.cosine_similarity(grads["none"].flatten(), grads["bf16"].flatten(), dim=0)
    assert cos > 0.9                                  # bf16 noise, not a different gradient


def test_the_switch_is_part_of_the_cache_keys(digits):
    cfg = make_config("paper", "smoke", "digits", ipc=1)
    assert cfg.distill.autocast == cfg.evaluate.autocast == "none"
    d16, e16 = override(cfg, {"distill.autocast": "bf16"}), override(cfg, {"evaluate.autocast": "bf16"})
    assert distill_key(d16, digits) != distill_key(cfg, digits)
    for kind in ("datadam", "random"):
        assert eval_key(e16, digits, kind) != eval_key(cfg, digits, kind)


def test_keep_freed_memory_is_idempotent_and_can_be_refused(monkeypatch):
    monkeypatch.setattr(training, "_malloc_kept", False)
    monkeypatch.setenv("DATADAM_MALLOC", "system")
    calls = []

    class FakeLibc:
        def mallopt(self, param, value):
            calls.append((param, value))
            return 1
    monkeypatch.setattr(training.ctypes, "CDLL", lambda *a: FakeLibc())
    training.keep_freed_memory()
    assert calls == [] and not training._malloc_kept      # refused: nothing called
    monkeypatch.delenv("DATADAM_MALLOC")
    training.keep_freed_memory()
    n = len(calls)
    training.keep_freed_memory()
    assert training._malloc_kept and len(calls) == n      # once per process (3 mallopt calls on Linux/glibc)



@pytest.mark.parametrize("kind", ["dc", "cafe", "cgan"])
def test_the_baselines_keep_freed_memory_too(kind, digits, monkeypatch):
    """DC's double backward page-faulted its activations in on every step
    (benchmarks/baselines-malloc-cpu.txt: 13.3 M minor faults in 2 iterations
    without, 3.6 M with): each baseline's loop keeps freed memory as DataDAM's does."""
    from datadam_lib.method.baselines import cafe, generative, gradient_matching
    from datadam_lib.method.baselines.sets import make_set
    calls = []
    for module in (cafe, generative, gradient_matching):
        monkeypatch.setattr(module, "keep_freed_memory", lambda: calls.append(1))
    make_set(kind, make_config("paper", "smoke", "digits", ipc=1), digits)
    assert calls

def test_deterministic_context_sets_cudnn_for_cuda_only_and_restores_it():
    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    try:
        cudnn.deterministic, cudnn.benchmark = False, True
        with training.deterministic(torch.device("cpu")):
            assert (cudnn.deterministic, cudnn.benchmark) == (False, True)   # CPU kernels: nothing to change
        with pytest.raises(KeyError):
            with training.deterministic(torch.device("cuda")):
                assert (cudnn.deterministic, cudnn.benchmark) == (True, False)
                raise KeyError("an error inside")
        assert (cudnn.deterministic, cudnn.benchmark) == (False, True)       # the caller's settings are back
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


def test_memory_format_per_device():
    assert training.memory_format(torch.device("cpu")) == torch.contiguous_format
    assert training.memory_format(torch.device("cuda")) == torch.channels_last


def test_ensemble_keeps_the_fast_group_norm(digits):
    from datadam_lib.method.ensemble import StackedEncoder
    models = [build_encoder(EncoderSpec(width=8), 1, 10, 32, torch.Generator().manual_seed(k)) for k in range(2)]
    net = StackedEncoder(models)
    assert any(type(m) is GroupNorm and m.num_channels == 16 for m in net.modules())
