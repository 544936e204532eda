"""Training candidate architectures for architecture search with a proxy set
(supplement Sec. 2.3): the held-out validation split that ranks them, the
training protocols, and one candidate's training and scoring.

Two protocols, one per search space:

- the 720 ConvNets (Table 4, Figs 7-8) follow the DC paper's NAS protocol
  (Zhao et al., ICLR 2021, as later papers quote it; no public script):
  hold out part of the training set (10 %) to validate on, train every
  candidate for 200 epochs on the proxy and on the rest of the training set
  with the DC/DSA/DM evaluation optimiser (``EvalConfig``: SGD lr 0.01,
  momentum 0.9, weight decay 5e-4, batch 256, x0.1 at half), rank by
  validation accuracy. It runs through ``evaluate.train_model``.
- the NAS-Bench-201 cells (Table 5) follow DC-Bench
  (``darts-pt/nasbench201/train_search.py``): SGD lr 0.025 cosine-annealed to
  0.001 per epoch, momentum 0.9, weight decay 3e-4, gradient norm clipped at
  5, batch 64, 50 epochs on the proxy *in its stored order* (its DataLoader
  does not shuffle), 10 epochs on 80 % of the training set (shuffled) for
  "whole", validation on the other 20 %. :func:`fit` runs a
  :class:`TrainProtocol`; ``train_model`` has neither cosine annealing nor
  clipping.

    split = holdout(data, 0.1, seed=0)            # split.search: train part + validation as its test split
    model = fit(net, images, labels, DCBENCH_PROXY, generator)
    val, test = score(model, split)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import augment
from ..data import RealData
from ..evaluate import test_accuracy
from ..validation import at_least, between, check_fields, non_negative, one_of, positive

# ---------------------------------------------------------------- the validation split

@dataclass(frozen=True)
class Holdout:
    """``search``: the training images minus the validation images, with the
    validation images as its test split (proxies are made from it, candidates
    trained on it and ranked on its test split); ``full``: the dataset as
    loaded (its test split scores the chosen architecture)."""
    search: RealData
    full: RealData
    fraction: float
    seed: int


def holdout(data: RealData, fraction: float, seed: int = 0) -> Holdout:
    """Hold out ``round(fraction * n_k)`` random training images of every class
    k (at least 1, at most n_k - 1) as a validation split, drawn by a
    generator seeded with ``seed``: one vectorised draw, a random key per
    image and the smallest keys of each class."""
    if not 0 < fraction < 1:
        raise ValueError(f"validation fraction {fraction} must lie in (0, 1)")
    g = torch.Generator(device=data.device).manual_seed(seed)
    n_val = (data.counts.double() * fraction).round().long().clamp(min=1)
    n_val = torch.minimum(n_val, data.counts - 1)
    if (n_val < 1).any():
        raise ValueError(f"a class of {data.name!r} has a single training image: nothing to hold out")
    keys = torch.rand(len(data.y_train), generator=g, device=data.device)
    order = torch.argsort(data.y_train.double() * 2 + keys)              # by class, then by key
    rank = torch.arange(len(order), device=data.device) - data.offsets[data.y_train[order]]
    is_val = torch.zeros(len(order), dtype=torch.bool, device=data.device)
    is_val[order] = rank < n_val[data.y_train[order]]
    x, y = data.x_train, data.y_train
    search = RealData(f"{data.name}[search: {1 - fraction:.0%} train / {fraction:.0%} validation, seed {seed}]",
                      x[~is_val], y[~is_val], x[is_val], y[is_val], list(data.classes), data.mean, data.std,
                      data.zca)
    return Holdout(search, data, float(fraction), int(seed))


def score(model: nn.Module, split: Holdout) -> tuple[float, float]:
    """(validation accuracy, test accuracy) of a trained model, as fractions."""
    return test_accuracy(model, split.search), test_accuracy(model, split.full)


def iterations(n_images: int, batch_size: int, epochs: int) -> int:
    """SGD steps of ``epochs`` epochs over ``n_images`` in batches of ``batch_size`` (the last one partial)."""
    return math.ceil(n_images / batch_size) * epochs


def early_stopping_epochs(proxy_images: int, proxy_epochs: int, whole_images: int, batch_size: int) -> int:
    """"Early stopping": the whole training data trained for the proxy's number
    of iterations, rounded to whole epochs (at least 1). ``train_model``
    counts epochs, so the iteration count matches up to half an epoch of
    the whole data (CIFAR-10 at the paper's protocol: 400 proxy iterations,
    2 epochs = 352 iterations)."""
    steps = iterations(proxy_images, batch_size, proxy_epochs)
    return max(1, round(steps / math.ceil(whole_images / batch_size)))


# ---------------------------------------------------------------- the DC-Bench / NAS-Bench-201 protocol

_CROP = augment.DSAConfig(ops=("crop",))      # integer shifts of up to 1/8 of the side, zero fill = pad-4 crop at 32 px
_FLIP = augment.DSAConfig(ops=("flip",))      # horizontal flip with probability 0.5

AUGMENTS: dict[str, Callable[[torch.Tensor, torch.Generator], torch.Tensor]] = {
    "none": lambda x, g: x,
    "crop": lambda x, g: augment.per_sample(_CROP, x, g),
    "crop_flip": lambda x, g: augment.per_sample(_FLIP, augment.per_sample(_CROP, x, g), g),
}


@dataclass(frozen=True)
class TrainProtocol:
    """How :func:`fit` trains a network: SGD with cosine annealing from ``lr``
    to ``lr_min`` over ``epochs`` (stepped once per epoch, as
    ``CosineAnnealingLR(T_max=epochs)``), optional gradient-norm clipping,
    batches in stored order unless ``shuffle``, an augmentation of
    :data:`AUGMENTS`."""
    epochs: int
    batch_size: int = 64
    lr: float = 0.025
    lr_min: float = 0.001
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 3e-4
    grad_clip: float | None = 5.0
    shuffle: bool = True
    augment: str = "none"

    def __post_init__(self):
        check_fields(self, epochs=at_least(1), batch_size=at_least(1), lr=positive(), lr_min=non_negative(),
                     momentum=between(0, 1, hi_open=True), weight_decay=non_negative(), grad_clip=positive(),
                     augment=one_of(AUGMENTS))

    def lr_at(self, epoch: int) -> float:
        return self.lr_min + (self.lr - self.lr_min) * (1 + math.cos(math.pi * epoch / self.epochs)) / 2


# DC-Bench (darts-pt/nasbench201/train_search.py defaults): the proxy trainings
# (DataLoader without shuffle) and "whole" (10 epochs, SubsetRandomSampler).
DCBENCH_PROXY = TrainProtocol(epochs=50, shuffle=False)
DCBENCH_WHOLE = TrainProtocol(epochs=10, shuffle=True)
# NAS-Bench-201's own training (Dong & Yang 2020, Sec. 2.4, hp = 200; recalled):
# Nesterov SGD lr 0.1 cosine to 0, momentum 0.9, weight decay 5e-4, batch 256,
# 200 epochs, random crop (4-pixel padding) and horizontal flip.
NB201_TRUTH = TrainProtocol(epochs=200, batch_size=256, lr=0.1, lr_min=0.0, nesterov=True, weight_decay=5e-4,
                            grad_clip=None, shuffle=True, augment="crop_flip")


def fit(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, protocol: TrainProtocol,
        generator: torch.Generator) -> nn.Module:
    """Train ``model`` on ``images``/``labels`` with ``protocol``; batch order
    and augmentation drawn from ``generator``."""
    aug = AUGMENTS[protocol.augment]
    p = protocol
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=p.lr, momentum=p.momentum, weight_decay=p.weight_decay,
                          nesterov=p.nesterov)
    images, labels = images.detach(), labels.to(images.device)
    n = len(images)
    model.train()
    for epoch in range(p.epochs):
        for group in opt.param_groups:
            group["lr"] = p.lr_at(epoch)
        order = (torch.randperm(n, generator=generator, device=images.device) if p.shuffle
                 else torch.arange(n, device=images.device))
        for idx in order.split(p.batch_size):
            loss = F.cross_entropy(model(aug(images[idx], generator)), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if p.grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), p.grad_clip)
            opt.step()
    return model
