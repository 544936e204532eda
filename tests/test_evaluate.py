"""Evaluation (evaluate.py): schedules, accuracy, reproducibility, the Random baseline."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from datadam_lib import EncoderSpec, EvalConfig, EvalResult, build_encoder, evaluate, override, random_subset
from datadam_lib.method.evaluate import recognised, train_model
from datadam_lib.method.evaluate import test_accuracy as accuracy_of
from datadam_lib.method.training import EVAL_AUGMENTS, lr_at, model_generator


def test_step_schedule_values():
    cfg = EvalConfig(lr=0.01, schedule="step", step_size=15, gamma=0.5)
    assert [lr_at(cfg, e) for e in (0, 14, 15, 29, 30, 44, 45)] == pytest.approx(
        [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025, 0.00125])


def test_half_schedule_values():
    cfg = EvalConfig(lr=0.01, schedule="half", epochs=1800)
    assert [lr_at(cfg, e) for e in (0, 899, 900, 1799)] == pytest.approx([0.01, 0.01, 0.001, 0.001])
    odd = EvalConfig(lr=0.1, schedule="half", epochs=7)                 # decays at epochs // 2 = 3
    assert [lr_at(odd, e) for e in range(7)] == pytest.approx([0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.01])


def test_unknown_schedule():
    with pytest.raises(ValueError, match="schedule='cosine' is invalid: expected one of 'half', 'step'"):
        EvalConfig(schedule="cosine")              # refused where the config is made, before any training


def test_eval_result_statistics():
    r = EvalResult([0.5, 0.7], 1.0)
    assert r.mean == pytest.approx(0.6) and r.std == pytest.approx(0.1)      # population std over models
    assert str(r) == "60.00 +- 10.00 % (2 models)"
    assert r.to_dict()["accuracies"] == [0.5, 0.7]


def test_model_generators_are_reproducible_and_distinct():
    a = torch.rand(4, generator=model_generator(3, 0, "cpu"))
    assert torch.equal(a, torch.rand(4, generator=model_generator(3, 0, "cpu")))
    assert not torch.equal(a, torch.rand(4, generator=model_generator(3, 1, "cpu")))
    assert not torch.equal(a, torch.rand(4, generator=model_generator(4, 0, "cpu")))


class Constant(nn.Module):
    """Always predicts ``k``."""

    def __init__(self, k: int, classes: int):
        super().__init__()
        self.k, self.classes = k, classes

    def forward(self, x):
        out = torch.zeros(len(x), self.classes)
        out[:, self.k] = 1.0
        return out


def test_test_accuracy_by_hand(digits):
    for k in (0, 3):
        want = (digits.y_test == k).float().mean().item()
        assert accuracy_of(Constant(k, 10), digits, batch=100) == pytest.approx(want)
    assert accuracy_of(Constant(3, 10), digits) == pytest.approx(int((digits.y_test == 3).sum()) / 360)


def test_random_subset(digits):
    x, y = random_subset(digits, 3, seed=5)
    assert x.shape == (30, 1, 32, 32)
    assert torch.bincount(y, minlength=10).tolist() == [3] * 10
    assert y.tolist() == sorted(y.tolist())                                   # class-major
    rows = [next(i for i in range(len(digits.x_train)) if torch.equal(digits.x_train[i], img)) for img in x[:6]]
    assert len(set(rows)) == 6 and all(digits.y_train[i] == y[j] for j, i in enumerate(rows))
    x2, y2 = random_subset(digits, 3, seed=5)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    assert not torch.equal(x, random_subset(digits, 3, seed=6)[0])


def test_evaluate_returns_num_models_accuracies_and_is_reproducible(digits, small_config):
    cfg = override(small_config(width=16).evaluate, {"num_models": 2, "epochs": 2})
    x, y = random_subset(digits, 2, seed=0)
    r = evaluate(x, y, digits, cfg, seed=0, progress=False)
    assert len(r.accuracies) == 2 and all(0 <= a <= 1 for a in r.accuracies)
    assert all(a * 360 == pytest.approx(round(a * 360)) for a in r.accuracies)   # k correct of 360
    assert r.config["num_models"] == 2 and r.wall_time_s >= 0
    assert evaluate(x, y, digits, cfg, seed=0, progress=False).accuracies == r.accuracies


def test_evaluate_learns_something_without_the_global_rng(digits, small_config):
    cfg = override(small_config(width=32).evaluate, {"num_models": 1, "augment": "none", "epochs": 4,
                                                     "schedule": "step"})
    x, y = random_subset(digits, 10, seed=0)
    state = torch.random.get_rng_state()
    acc = evaluate(x, y, digits, cfg, seed=0, progress=False).accuracies[0]
    assert torch.equal(torch.random.get_rng_state(), state), "evaluation used the global RNG"
    assert acc > 0.3, f"4 epochs on 100 real digits gave {acc:.2f} (chance 0.10)"


@pytest.mark.parametrize("augment", sorted(EVAL_AUGMENTS))
def test_train_model_with_each_augmentation(tiny_data, augment):
    data = tiny_data(counts=(3, 3), size=16)
    cfg = EvalConfig(epochs=2, augment=augment, batch_size=4, encoder=EncoderSpec(width=8))
    state = torch.random.get_rng_state()
    model = train_model(data.x_train, data.y_train, data, cfg, torch.Generator().manual_seed(0))
    assert torch.equal(torch.random.get_rng_state(), state), f"{augment} touched the global RNG"
    assert all(torch.isfinite(p).all() for p in model.parameters())
    again = train_model(data.x_train, data.y_train, data, cfg, torch.Generator().manual_seed(0))
    for p, q in zip(model.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(p, q, atol=0, rtol=0)


def test_unknown_augment(tiny_data):
    data = tiny_data()
    with pytest.raises(ValueError, match="augment='mixup' is invalid: expected one of"):
        train_model(data.x_train, data.y_train, data, EvalConfig(augment="mixup", epochs=1),
                    torch.Generator().manual_seed(0))


def test_training_changes_the_model_and_lowers_the_loss(tiny_data):
    data = tiny_data(counts=(4, 4), size=8)
    spec = EncoderSpec(width=8)
    cfg = EvalConfig(epochs=12, augment="none", encoder=spec, lr=0.1, schedule="step")
    # the model train_model starts from (epochs=0 is not a config: it would report an untrained model)
    m0 = build_encoder(spec, data.channels, data.num_classes, data.im_size, torch.Generator().manual_seed(0))
    m1 = train_model(data.x_train, data.y_train, data, cfg, torch.Generator().manual_seed(0))
    with torch.no_grad():
        l0 = nn.functional.cross_entropy(m0.eval()(data.x_train), data.y_train).item()
        l1 = nn.functional.cross_entropy(m1.eval()(data.x_train), data.y_train).item()
    assert math.isfinite(l1) and l1 < 0.5 * l0


def test_recognised_is_the_share_assigned_to_their_own_class():
    """GAN-test by hand: a 'model' whose logits are the images' first pixels
    picks class argmax(x[:, 0, 0, :3]); 3 of 4 images are labelled so."""
    class FirstPixels(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(()))

        def forward(self, x):
            return self.w * x[:, 0, 0, :3]
    x = torch.zeros(4, 1, 2, 3)
    x[0, 0, 0, 0] = x[1, 0, 0, 1] = x[2, 0, 0, 2] = x[3, 0, 0, 0] = 1.0
    y = torch.tensor([0, 1, 2, 1])                     # the last one is assigned to class 0
    assert recognised(FirstPixels(), x, y) == 0.75
    assert recognised(FirstPixels(), x, y, batch=3) == 0.75     # the same over several batches
