"""Evaluation: train fresh models on a (synthetic or real) set, report test
accuracy of the *final* model (no checkpoint is ever selected on the test set).

SGD lr 0.01, momentum 0.9, weight decay 5e-4 (Table 2); the schedule and epochs
come from the preset (``EvalConfig``). The same function evaluates a distilled
set, a random real subset ("Random" rows) and the whole training set.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F

from . import ensemble
from .config import EvalConfig
from .data import RealData
from .models import Encoder, build_encoder
from .training import EVAL_AUGMENTS, autocast, deterministic, keep_freed_memory, lr_at, memory_format, model_generator


@dataclass
class EvalResult:
    accuracies: list[float]
    wall_time_s: float
    config: dict = field(default_factory=dict)

    @property
    def mean(self) -> float:
        return sum(self.accuracies) / len(self.accuracies)

    @property
    def std(self) -> float:
        m = self.mean
        return math.sqrt(sum((a - m) ** 2 for a in self.accuracies) / len(self.accuracies))

    def __str__(self) -> str:
        n = len(self.accuracies)
        if n < 2:       # a spread needs two values
            return f"{100 * self.mean:.2f} % (n = 1)"
        return f"{100 * self.mean:.2f} +- {100 * self.std:.2f} % ({n} models)"

    def to_dict(self) -> dict:
        return {"mean": self.mean, "std": self.std, "accuracies": self.accuracies,
                "wall_time_s": self.wall_time_s, "config": self.config}


def train_model(images: torch.Tensor, labels: torch.Tensor, data: RealData, cfg: EvalConfig,
                generator: torch.Generator) -> Encoder:
    """Train one fresh model (drawn from ``generator``) on ``images``/``labels``."""
    if cfg.augment not in EVAL_AUGMENTS:
        raise ValueError(f"unknown augment {cfg.augment!r}; choose one of {sorted(EVAL_AUGMENTS)}")
    aug = EVAL_AUGMENTS[cfg.augment]
    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux)
    fmt = memory_format(data.device)  # speed: channels_last on a GPU, NCHW on a CPU
    model = build_encoder(cfg.encoder, data.channels, data.num_classes, data.im_size, generator, data.device)
    model = model.to(memory_format=fmt)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    images, labels = images.detach().to(data.device), labels.to(data.device)
    n = len(images)
    model.train()
    for epoch in range(cfg.epochs):
        for group in opt.param_groups:
            group["lr"] = lr_at(cfg, epoch)
        order = torch.randperm(n, generator=generator, device=data.device)
        for idx in order.split(cfg.batch_size):
            x = aug(images[idx], generator, data).contiguous(memory_format=fmt)
            with autocast(cfg.autocast, data.device):  # bf16 where asked for and native (training.autocast)
                loss = F.cross_entropy(model(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model


@torch.inference_mode()
def recognised(model: Encoder, images: torch.Tensor, labels: torch.Tensor, batch: int = 1024) -> float:
    """The share of ``images`` that ``model`` assigns to their ``labels``.
    With a model trained on the real training data and a generator's samples
    this is GAN-test (Shmelkov, Schmid & Alahari, "How good is my GAN?",
    ECCV 2018): near the model's accuracy on real test images for samples as
    recognisable as real ones, near chance (1 / classes) for samples that
    carry no class. ``images`` and ``labels`` on the model's device."""
    model.eval()
    correct = sum((model(x).argmax(1) == y).sum() for x, y in zip(images.split(batch), labels.split(batch)))
    return float(correct) / len(labels)


@torch.inference_mode()
def test_accuracy(model: Encoder, data: RealData, batch: int = 1024) -> float:
    return recognised(model, data.x_test, data.y_test, batch)


def evaluate(images: torch.Tensor, labels: torch.Tensor, data: RealData, cfg: EvalConfig, seed: int = 0,
             progress: bool = True, together: bool | None = None) -> EvalResult:
    """Train ``cfg.num_models`` fresh models on ``images``/``labels`` and test
    each on ``data``'s test split.

    together: train the models side by side as one grouped network
    (``ensemble.py``: the same models up to floating-point noise, K times fewer
    kernel launches, K times the activation memory) when the architecture
    allows it; False trains them one by one. None (default): together on a
    GPU only. On the 2-core CPU the grouped network was slower than one by one
    for the paper preset's instance norm (10 models, 2 epochs: 5.6 s together
    vs 3.9 s one by one; docs/benchmarks.md)."""
    from tqdm.auto import trange

    t0 = time.time()
    gens = [model_generator(seed, k, data.device) for k in range(cfg.num_models)]
    if together is None:
        together = data.device.type == "cuda"
    with deterministic(data.device):
        if together and cfg.num_models > 1 and ensemble.supports(cfg, data):
            models = ensemble.train_models(images, labels, data, cfg, gens, progress)
            accs = [test_accuracy(m, data, cfg.batch_test) for m in models]
        else:
            accs = []
            for k in trange(cfg.num_models, disable=not progress, desc=f"evaluate {len(images)} images", unit="model"):
                accs.append(test_accuracy(train_model(images, labels, data, cfg, gens[k]), data, cfg.batch_test))
    return EvalResult(accs, round(time.time() - t0, 3), asdict(cfg))


def random_subset(data: RealData, ipc: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``ipc`` random real training images per class (the "Random" baseline)."""
    g = torch.Generator(device=data.device).manual_seed(seed)
    idx = data.sample_indices(ipc, g).flatten()
    return data.x_train[idx], data.y_train[idx]
