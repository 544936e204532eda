"""What the distillation baselines (DC, DSA, CAFE; ``gradient_matching.py``,
``cafe.py``) share: the work a scale allows, the synthetic images and their
optimiser, the network trained on the synthetic set between image updates, and
DC's BatchNorm statistics taken from real images, then frozen.

Every random draw comes from the run's one ``torch.Generator`` (seeded with
``cfg.seed``): network weights (``models.reset_parameters``), real batches
(``RealData.sample_indices``), DSA parameters and the order of the synthetic
images in the network's training epochs.
"""
from __future__ import annotations

import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .. import augment
from ..config import SCALES, Config, cap
from ..data import DataError, RealData
from ..init import INITS
from ..io import device_description, manifest
from ..synthetic import SyntheticSet


def capped(value: int, cfg: Config, method: str, name: str) -> int:
    """``value`` capped by the scale's cap for ``method``'s ``name``
    (``config.SCALES[cfg.scale].caps``; no cap where none is listed)."""
    return min(value, SCALES[cfg.scale].caps.get(method, {}).get(name, value))


def real_batch(cfg: Config, data: RealData, batch_real: int) -> int:
    """Real images per class per step: the method's ``batch_real`` capped by the
    scale (as ``make_config`` caps DataDAM's) and by the smallest class (a
    class smaller than the batch contributes all its images)."""
    return min(cap(batch_real, SCALES[cfg.scale].batch_real), int(data.counts.min()))


def init_images(init: str, cfg: Config, data: RealData, g: torch.Generator) -> torch.Tensor:
    """``ipc`` images per class, class-major, from ``init.INITS`` (``noise``:
    N(0, 1) in the normalised space, as DC/CAFE's ``torch.randn``; ``real``:
    random real images of the class), as a leaf tensor to optimise."""
    ipc = cfg.distill.ipc
    if init != "noise" and ipc > int(data.counts.min()):
        raise DataError(f"ipc {ipc} is larger than the smallest class of {data.name!r} "
                        f"({int(data.counts.min())} images); use a smaller ipc")
    return INITS[init](data, ipc, g, cfg).detach().clone().requires_grad_(True)


def class_labels(data: RealData, ipc: int) -> torch.Tensor:
    return torch.arange(data.num_classes, device=data.device).repeat_interleave(ipc)


def train_network(net: nn.Module, opt: torch.optim.Optimizer, images: torch.Tensor, labels: torch.Tensor,
                  epochs: int, batch: int, g: torch.Generator, dsa: augment.DSAConfig | None) -> None:
    """Train ``net`` for ``epochs`` epochs on the synthetic set (DC ``utils.epoch('train', ...)``:
    shuffled batches, cross-entropy, one SGD step per batch; DSA with
    per-image magnitudes when ``dsa`` is given, as DC's ``DiffAugment`` without
    a seed)."""
    net.train()
    images, n = images.detach(), len(images)
    for _ in range(epochs):
        for idx in torch.randperm(n, generator=g, device=images.device).split(batch):
            x = images[idx] if dsa is None else augment.per_sample(dsa, images[idx], g)
            loss = F.cross_entropy(net(x), labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()


@torch.no_grad()
def freeze_batchnorm(net: nn.Module, real: torch.Tensor) -> bool:
    """DC ``main.py`` ("freeze the running mu and sigma for BatchNorm layers"):
    one forward pass of ``real`` (16 images per class) in train mode updates the
    running statistics (PyTorch's momentum 0.1, as in DC), then every BatchNorm
    layer goes to eval mode and uses them. Returns whether ``net`` has BatchNorm."""
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if bns:
        net.train()
        net(real)
        for m in bns:
            m.eval()
    return bool(bns)


def finish(images: torch.Tensor, cfg: Config, data: RealData, losses: list[float], snapshots: dict,
           t0: float, **info) -> SyntheticSet:
    """The synthetic set of a baseline run, with its provenance."""
    dev = data.device
    return SyntheticSet(images.detach(), class_labels(data, cfg.distill.ipc), list(data.classes), cfg, losses,
                        snapshots, manifest(seed=cfg.seed, device=device_description(dev), dataset=data.name,
                                            wall_time_s=round(time.time() - t0, 3), preset=cfg.preset,
                                            scale=cfg.scale, **info))


def snapshot_keeper(snapshot_at: tuple[int, ...], images: torch.Tensor) -> tuple[dict, Callable[[int], None]]:
    """``(snapshots, keep)``: ``keep(it)`` copies the images when ``it`` is in ``snapshot_at``."""
    snaps: dict[int, torch.Tensor] = {}

    def keep(it: int) -> None:
        if it in snapshot_at:
            snaps[it] = images.detach().cpu().clone()
    keep(0)
    return snaps, keep
