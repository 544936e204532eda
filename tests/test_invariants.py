"""Invariants that fail on the bugs that matter (issue 8), each checked with
the bug planted once by hand:

- one distillation step with the synthetic set equal to the real batch has
  loss and gradient ~0 *with DSA on* (class k's real and synthetic images
  share one augmentation): fails if the synthetic batch draws its own DSA
  parameters, or if the real batch is not augmented (loss 0.5-0.9 then);
- each accuracy ``evaluate`` reports is the accuracy of that model trained
  alone (fails if it reports, say, the best model's accuracy for all);
- evaluation never reads the test set while training: the trained models do
  not depend on the test split at all."""
from __future__ import annotations

import importlib

import pytest
import torch

from datadam_lib import EncoderSpec, EvalConfig, evaluate, random_subset
from datadam_lib.method.augment import DSAConfig
from datadam_lib.method.config import MethodConfig
from datadam_lib.method.data import RealData
from datadam_lib.method.evaluate import test_accuracy as accuracy_of
from datadam_lib.method.evaluate import train_model
from datadam_lib.method.losses import Objective
from datadam_lib.method.models import build_encoder
from datadam_lib.method.step import step
from datadam_lib.method.training import model_generator

evaluate_mod = importlib.import_module("datadam_lib.method.evaluate")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- one step, synthetic = real

@pytest.mark.parametrize("chunk", [3, 1])
def test_a_step_on_the_real_batch_itself_has_zero_loss_and_gradient_with_dsa_on(tiny_data, chunk):
    """batch_real = the whole class = ipc, so the real batch is the class's
    images (in a random order: class means do not care) and the synthetic set
    is the same images. Equal under one shared augmentation per class, so
    every class statistic matches: loss and gradient vanish up to rounding."""
    data = tiny_data(counts=(4, 4, 4), channels=3, size=16)
    enc = build_encoder(EncoderSpec(width=8), data.channels, data.num_classes, data.im_size, gen(0))
    enc.requires_grad_(False).train(True)
    objective = Objective(MethodConfig(), data.im_size)
    for seed in range(6):                       # six draws of the per-class DSA ops and magnitudes
        images = data.x_train.clone().requires_grad_(True)          # class-sorted: images of class k at 4k..4k+3
        loss = step(enc, objective, data, images, 4, DSAConfig(), gen(seed), chunk)
        assert abs(loss.item()) < 1e-9, (seed, loss.item())
        assert images.grad.abs().max().item() < 1e-5, (seed, images.grad.abs().max().item())   # ~1e-7: rounding
        # not vacuous: any other synthetic set has a clearly positive loss and gradient
        other = (data.x_train + 0.5 * torch.randn(data.x_train.shape, generator=gen(99))).requires_grad_(True)
        loss = step(enc, objective, data, other, 4, DSAConfig(), gen(seed), chunk)
        assert loss.item() > 1e-3 and other.grad.abs().max().item() > 1e-4


# ---------------------------------------------------------------- evaluation

@pytest.fixture(scope="module")
def eval_setup(digits):
    cfg = EvalConfig(encoder=EncoderSpec(width=16), epochs=3, num_models=3, batch_size=8, lr=0.05)
    x, y = random_subset(digits, 2, seed=0)
    return cfg, x, y


@pytest.mark.parametrize("together", [False, True])
def test_each_reported_accuracy_is_that_model_trained_alone(digits, eval_setup, together):
    cfg, x, y = eval_setup
    alone = [accuracy_of(train_model(x, y, digits, cfg, model_generator(5, k, digits.device)), digits,
                         cfg.batch_test) for k in range(cfg.num_models)]
    assert len(set(alone)) == cfg.num_models, f"the models should differ for this check to mean anything: {alone}"
    reported = evaluate(x, y, digits, cfg, seed=5, progress=False, together=together).accuracies
    # one by one: the same computation; together: the same models up to float rounding (a test image or two)
    tol = 0 if not together else 2.5 / len(digits.y_test)
    assert reported == pytest.approx(alone, abs=tol)


def _with_test_split(data: RealData, x_test: torch.Tensor, y_test: torch.Tensor) -> RealData:
    return RealData(data.name, data.x_train, data.y_train, x_test, y_test, data.classes, data.mean, data.std)


@pytest.mark.parametrize("together", [False, True])
def test_training_never_reads_the_test_set(digits, eval_setup, monkeypatch, together):
    """The same evaluation with another test split trains the very same
    models: nothing the models learn (epochs, checkpoints, early stopping)
    depends on the test images or labels."""
    cfg, x, y = eval_setup
    trained = []
    real_accuracy = evaluate_mod.test_accuracy

    def record(model, data, batch=1024):
        trained.append([p.detach().clone() for p in model.parameters()])
        return real_accuracy(model, data, batch)
    monkeypatch.setattr(evaluate_mod, "test_accuracy", record)
    g = gen(7)
    noise = _with_test_split(digits, torch.randn(digits.x_test.shape, generator=g),
                             torch.randint(0, 10, digits.y_test.shape, generator=g))
    evaluate(x, y, digits, cfg, seed=3, progress=False, together=together)
    evaluate(x, y, noise, cfg, seed=3, progress=False, together=together)
    assert len(trained) == 2 * cfg.num_models
    for a, b in zip(trained[:cfg.num_models], trained[cfg.num_models:]):
        for p, q in zip(a, b, strict=True):
            torch.testing.assert_close(p, q, atol=0, rtol=0)
