"""What every way of training an evaluation model shares (``evaluate.py`` one
model at a time, ``ensemble.py`` K models as one grouped network): the
training-time augmentations, the learning-rate schedule and each model's
generator."""
from __future__ import annotations

from typing import Callable

import torch

from . import augment
from .config import EvalConfig
from .data import RealData

# ---------------------------------------------------------------- augmentation at training time

Augment = Callable[[torch.Tensor, torch.Generator, RealData], torch.Tensor]


def _torchvision_policy(make: Callable[[], Callable]) -> Augment:
    """AutoAugment / RandAugment (torchvision) for Fig. 4. They work on uint8
    pixels and draw one op per call, so this runs per image (the one place with
    a loop over samples; it is a baseline, not the method). torchvision draws
    from the global RNG, so its state is forked and seeded from our generator
    and restored afterwards."""
    def run(x: torch.Tensor, g: torch.Generator, data: RealData) -> torch.Tensor:
        policy = make()
        pix = (data.to_pixels(x) * 255).round().to(torch.uint8)
        seed = int(torch.randint(2**62, (1,), generator=g, device=g.device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = torch.stack([policy(p) for p in pix])
        return data.from_pixels(out.float() / 255)
    return run


def _v2():
    from torchvision.transforms import v2
    return v2


EVAL_AUGMENTS: dict[str, Augment] = {
    "dsa": lambda x, g, data: augment.per_sample(augment.DSAConfig(), x, g),
    "autoaugment": _torchvision_policy(lambda: _v2().AutoAugment(_v2().AutoAugmentPolicy.CIFAR10)),
    "randaugment": _torchvision_policy(lambda: _v2().RandAugment()),
    "none": lambda x, g, data: x,
}

# ---------------------------------------------------------------- schedules


def lr_at(cfg: EvalConfig, epoch: int) -> float:
    """step: StepLR(step_size, gamma) (Table 2); half: x0.1 at epochs // 2 (DC/DSA/DM, released)."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    if cfg.schedule == "half":
        return cfg.lr * (0.1 if epoch >= cfg.epochs // 2 else 1.0)
    raise ValueError(f"unknown schedule {cfg.schedule!r}; use 'step' or 'half'")


def model_generator(seed: int, index: int, device) -> torch.Generator:
    """The generator of evaluation model ``index`` of a run with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + index)


