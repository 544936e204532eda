"""How the synthetic images start (Table 2: "Initialisation: Real"; supplement
Fig. 13: real, Gaussian noise, K-Center), ``ipc`` per class, class-major."""
from __future__ import annotations

from typing import Callable

import torch

from .config import Config
from .data import RealData
from .models import build_encoder


def _init_real(data: RealData, ipc: int, g: torch.Generator, cfg: Config) -> torch.Tensor:
    return data.sample(ipc, g).clone()


def _init_noise(data: RealData, ipc: int, g: torch.Generator, cfg: Config) -> torch.Tensor:
    shape = (data.num_classes * ipc, data.channels, data.im_size, data.im_size)
    return torch.randn(shape, generator=g, device=data.device)


@torch.inference_mode()
def by_class(emb: torch.Tensor, labels: torch.Tensor, num_classes: int):
    """``emb`` (N, D) with ``labels`` sorted by class as one padded tensor
    (num_classes, largest class, D), for selections vectorised over classes.
    Returns ``(E, valid, counts, offsets)``: ``valid`` marks the real rows,
    ``offsets[k]`` is class k's first index in ``emb``."""
    counts = torch.bincount(labels, minlength=num_classes)
    offsets = torch.cumsum(counts, 0) - counts
    width = int(counts.max())
    slot = torch.arange(len(labels), device=emb.device) - offsets[labels]
    E = emb.new_zeros(num_classes, width, emb.shape[1])
    E[labels, slot] = emb
    valid = torch.arange(width, device=emb.device) < counts[:, None]
    return E, valid, counts, offsets


def kcenter_indices(emb: torch.Tensor, labels: torch.Tensor, num_classes: int, k: int) -> torch.Tensor:
    """Greedy k-center (farthest-first, Sener & Savarese) within each class,
    vectorised over classes: start at the point nearest the class mean, then
    repeatedly add the point farthest from everything chosen. ``emb`` (N, D)
    with ``labels`` sorted by class; returns (num_classes, k) indices into emb."""
    E, valid, counts, offsets = by_class(emb, labels, num_classes)
    mean = E.sum(1) / counts[:, None]
    d0 = (E - mean[:, None]).norm(dim=-1).masked_fill(~valid, float("inf"))
    chosen = [d0.argmin(1)]
    rows = torch.arange(num_classes, device=emb.device)
    mind = (E - E[rows, chosen[0]][:, None]).norm(dim=-1)
    for _ in range(k - 1):
        nxt = mind.masked_fill(~valid, -1.0).argmax(1)
        chosen.append(nxt)
        mind = torch.minimum(mind, (E - E[rows, nxt][:, None]).norm(dim=-1))
    return offsets[:, None] + torch.stack(chosen, 1)


def _init_kcenter(data: RealData, ipc: int, g: torch.Generator, cfg: Config) -> torch.Tensor:
    enc = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size, g, data.device)
    enc.eval()
    with torch.inference_mode():
        emb = torch.cat([enc.embed(x) for x in data.x_train.split(1024)])
    idx = kcenter_indices(emb, data.y_train, data.num_classes, ipc)
    return data.x_train[idx.flatten()].clone()


INITS: dict[str, Callable[[RealData, int, torch.Generator, Config], torch.Tensor]] = {
    "real": _init_real,
    "noise": _init_noise,
    "kcenter": _init_kcenter,
}
