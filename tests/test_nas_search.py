"""The search protocols: the validation split, early stopping's epochs, the
cosine schedule, and DC-Bench's training loop."""
from __future__ import annotations

import math

import pytest
import torch

from datadam_lib.method.nas import cells
from datadam_lib.method.nas.search import AUGMENTS, DCBENCH_PROXY, TrainProtocol, early_stopping_epochs, fit, holdout, \
    iterations


def test_holdout_keeps_a_fraction_of_every_class(digits):
    split = holdout(digits, 0.1, seed=0)
    s = split.search
    n_val = torch.bincount(s.y_test, minlength=10)
    assert torch.equal(n_val, (digits.counts.double() * 0.1).round().long())
    assert torch.equal(torch.bincount(s.y_train, minlength=10) + n_val, digits.counts)
    # disjoint and together the training set: every image once (rows compared by content)
    rows = lambda x: {tuple(r.tolist()) for r in x.flatten(1)[:, ::7]}      # noqa: E731
    assert rows(s.x_train).isdisjoint(rows(s.x_test))
    assert rows(s.x_train) | rows(s.x_test) == rows(digits.x_train)
    assert split.full is digits and torch.equal(s.mean, digits.mean)
    again, other = holdout(digits, 0.1, seed=0), holdout(digits, 0.1, seed=1)
    assert torch.equal(again.search.x_test, s.x_test) and not torch.equal(other.search.x_test, s.x_test)
    for bad in (0.0, 1.0):
        with pytest.raises(ValueError):
            holdout(digits, bad)


def test_iterations_and_early_stopping_by_hand():
    assert iterations(500, 256, 200) == 400                     # CIFAR-10, IPC 50: 2 batches an epoch
    # the whole 45,000 images: 176 batches an epoch; 400 / 176 = 2.27 -> 2 epochs
    assert early_stopping_epochs(500, 200, 45_000, 256) == 2
    assert early_stopping_epochs(100, 50, 1_295, 256) == 8      # 50 / 6 = 8.3
    assert early_stopping_epochs(10, 1, 1_295, 256) == 1        # at least one epoch


def test_cosine_annealing_as_dc_bench_steps_it():
    p = TrainProtocol(epochs=50, lr=0.025, lr_min=0.001)
    assert p.lr_at(0) == pytest.approx(0.025)
    assert p.lr_at(25) == pytest.approx(0.013)
    assert p.lr_at(50) == pytest.approx(0.001)
    assert all(p.lr_at(e) > p.lr_at(e + 1) for e in range(49))


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"lr": 0.0}, {"momentum": 1.0}, {"grad_clip": -1.0},
                                 {"augment": "mixup"}, {"batch_size": 2.5}])
def test_a_protocol_refuses_bad_values(bad):
    from datadam_lib.method.validation import ConfigError
    with pytest.raises(ConfigError):
        TrainProtocol(**{"epochs": 1, **bad})


def test_augmentations_keep_shapes_and_none_is_the_identity():
    x = torch.randn(6, 1, 32, 32)
    g = torch.Generator().manual_seed(0)
    assert AUGMENTS["none"](x, g) is x
    for name in ("crop", "crop_flip"):
        y = AUGMENTS[name](x, g)
        assert y.shape == x.shape and not torch.equal(y, x)


def _tiny(tiny_data):
    data = tiny_data(counts=(6, 6), channels=1, size=16)
    net = lambda seed: cells.build_cell_network(cells.random_cells(1, 0)[0], 1, 2, C=4, N=1,  # noqa: E731
                                                generator=torch.Generator().manual_seed(seed))
    return data, net


def test_fit_in_stored_order_draws_nothing_from_the_generator(tiny_data):
    """DC-Bench's proxy loader does not shuffle: with no augmentation the
    training is the same whatever the generator."""
    data, net = _tiny(tiny_data)
    p = TrainProtocol(epochs=2, batch_size=4, shuffle=False)
    a = fit(net(0), data.x_train, data.y_train, p, torch.Generator().manual_seed(1))
    b = fit(net(0), data.x_train, data.y_train, p, torch.Generator().manual_seed(2))
    assert all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))
    shuffled = TrainProtocol(epochs=2, batch_size=4, shuffle=True)
    c = fit(net(0), data.x_train, data.y_train, shuffled, torch.Generator().manual_seed(1))
    d = fit(net(0), data.x_train, data.y_train, shuffled, torch.Generator().manual_seed(1))
    e = fit(net(0), data.x_train, data.y_train, shuffled, torch.Generator().manual_seed(2))
    assert all(torch.equal(u, v) for u, v in zip(c.state_dict().values(), d.state_dict().values()))
    assert any(not torch.equal(u, v) for u, v in zip(c.state_dict().values(), e.state_dict().values()))


def test_fit_clips_the_gradient_norm(tiny_data, monkeypatch):
    data, net = _tiny(tiny_data)
    norms = []
    real = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.nn.utils, "clip_grad_norm_", lambda ps, m: norms.append(m) or real(ps, m))
    fit(net(0), data.x_train, data.y_train, TrainProtocol(epochs=1, batch_size=4), torch.Generator())
    assert norms == [5.0] * 3
    norms.clear()
    fit(net(0), data.x_train, data.y_train, TrainProtocol(epochs=1, batch_size=4, grad_clip=None), torch.Generator())
    assert norms == []
    assert DCBENCH_PROXY.grad_clip == 5.0 and not DCBENCH_PROXY.shuffle and DCBENCH_PROXY.batch_size == 64
    assert math.isclose(DCBENCH_PROXY.weight_decay, 3e-4)
