"""Training K evaluation models together (ensemble.py) gives the models that
training them one by one (evaluate.train_model) gives.

The exact comparison runs in float64. In float32 the two modes differ by
rounding only, but a dozen SGD steps through instance/batch norm amplify any
rounding difference: the *same* model trained one by one with 1 and then 2
threads already ends up to 3e-3 apart on digits. Float64 shrinks the rounding to
1e-16, so a tight tolerance there proves the computations are the same; the
float32 test checks the real path end to end with a tolerance for that noise.
"""
from __future__ import annotations

import pytest
import torch
from torch import nn

from datadam_lib import EncoderSpec, EvalConfig, evaluate, random_subset
from datadam_lib.method import ensemble
from datadam_lib.method.evaluate import (
    test_accuracy as accuracy_of,  # not collected as a test
)
from datadam_lib.method.evaluate import train_model
from datadam_lib.method.training import model_generator


def _as(data, dtype):
    from dataclasses import replace
    return replace(data, x_train=data.x_train.to(dtype), x_test=data.x_test.to(dtype))


def _both(x, y, data, cfg, k=3, seed=0):
    alone = [train_model(x, y, data, cfg, model_generator(seed, i, "cpu")) for i in range(k)]
    together = ensemble.train_models(x, y, data, cfg, [model_generator(seed, i, "cpu") for i in range(k)])
    return alone, together


def _assert_same(alone, together, atol):
    for a, b in zip(alone, together, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        for name in sa:
            torch.testing.assert_close(sb[name], sa[name], atol=atol, rtol=0, msg=name)


@pytest.mark.parametrize("norm", ["instance", "batch"])
@pytest.mark.parametrize("augment", ["dsa", "none"])
def test_together_equals_one_by_one(digits, float64, norm, augment):
    data = _as(digits, torch.float64)
    x, y = random_subset(data, 5, seed=1)                       # 50 images: batches of 32 and 18
    cfg = EvalConfig(encoder=EncoderSpec(width=16, depth=2, norm=norm), epochs=3, batch_size=32, augment=augment)
    alone, together = _both(x, y, data, cfg)
    _assert_same(alone, together, atol=1e-10)                   # weights, biases, BatchNorm running stats
    assert [accuracy_of(m, data) for m in alone] == [accuracy_of(m, data) for m in together]
    assert not torch.equal(alone[0].classifier.weight, alone[1].classifier.weight)  # K distinct models


@pytest.mark.parametrize("spec", [EncoderSpec(width=8, depth=3, norm="group", act="leakyrelu", pool="max"),
                                  EncoderSpec(arch="vgg11", norm="batch")])
def test_other_groupable_layers(tiny_data, float64, spec):
    data = _as(tiny_data(counts=(3, 3), channels=3, size=32), torch.float64)
    cfg = EvalConfig(encoder=spec, epochs=2, batch_size=4)
    _assert_same(*_both(data.x_train, data.y_train, data, cfg, k=2), atol=1e-10)


def test_evaluate_trains_together_with_the_same_results(digits, monkeypatch):
    x, y = random_subset(digits, 2)
    cfg = EvalConfig(encoder=EncoderSpec(width=16, depth=2), epochs=2, num_models=3)
    calls = []
    real = ensemble.train_models
    monkeypatch.setattr(ensemble, "train_models", lambda *a, **k: calls.append(1) or real(*a, **k))
    on = evaluate(x, y, digits, cfg, progress=False, together=True)
    off = evaluate(x, y, digits, cfg, progress=False, together=False)
    assert calls == [1]
    one_test_image = 1 / len(digits.y_test)                     # float32: a borderline prediction may flip
    assert on.accuracies == pytest.approx(off.accuracies, abs=one_test_image + 1e-9)


@pytest.mark.parametrize("spec", [EncoderSpec(width=8, depth=2, norm="layer"), EncoderSpec(arch="resnet18")])
def test_what_cannot_be_grouped_is_trained_one_by_one(digits, spec, monkeypatch):
    assert not ensemble.supports(EvalConfig(encoder=spec), digits)
    monkeypatch.setattr(ensemble, "train_models", lambda *a, **k: pytest.fail("must not group"))
    if spec.arch == "convnet":
        cfg = EvalConfig(encoder=spec, epochs=1, num_models=2)
        assert len(evaluate(*random_subset(digits, 1), digits, cfg, progress=False).accuracies) == 2


def test_stack_channels_layout():
    x = torch.arange(2 * 3 * 2 * 1 * 1.).view(6, 2, 1, 1)     # K=2 models, B=3 images, C=2
    s = ensemble.stack_channels(x, 2)
    assert s.shape == (3, 4, 1, 1) and s.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(s[1, :, 0, 0], torch.cat([x[1, :, 0, 0], x[4, :, 0, 0]]))  # image 1 of model 0, then of model 1


def test_stacked_encoder_is_k_models(tiny_data):
    from datadam_lib import build_encoder
    data = tiny_data(channels=3)
    spec = EncoderSpec(width=8, depth=2, norm="batch")
    models = [build_encoder(spec, 3, 3, 16, torch.Generator().manual_seed(i)).eval() for i in range(3)]
    net = ensemble.StackedEncoder(models).eval()
    xs = [data.x_train[i:i + 4] for i in range(3)]
    out = net(ensemble.stack_channels(torch.cat(xs), 3))
    for k, (m, xk) in enumerate(zip(models, xs)):
        torch.testing.assert_close(out[:, k], m(xk))
    assert isinstance(net.bodies[0][0], nn.Conv2d) and net.bodies[0][0].groups == 3


def test_training_together_leaves_the_global_rng_alone(digits):
    cfg = EvalConfig(encoder=EncoderSpec(width=8, depth=2), epochs=1, num_models=2)
    state = torch.random.get_rng_state()
    evaluate(*random_subset(digits, 2), digits, cfg, progress=False, together=True)
    assert torch.equal(torch.random.get_rng_state(), state), "grouped training drew from the global RNG"
