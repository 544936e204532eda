"""Coresets: real training images chosen per class (the Random, Herding and
K-Center rows of the field's tables; Zhao et al. ICLR 2021, Sec. 4).

- Random: ``evaluate.random_subset`` (kind ``random`` in ``sets.py``).
- Herding (Welling 2009; Rebuffi et al. 2017, iCaRL): greedily add the image
  that brings the mean of the chosen embeddings closest to the class mean:
  step t picks ``argmin_i || mu - (sum_{chosen} e + e_i) / t ||``.
- K-Center (Sener & Savarese 2018): greedy farthest-first traversal
  (``init.kcenter_indices``, the kit's K-Center initialisation).

Both embed the images with a ConvNet trained on the whole training set
(``feature_network``: the preset's distillation network, SGD lr 0.01,
momentum 0.9, weight decay 5e-4 as the evaluation protocol, no augmentation,
``baselines.coreset.feature_epochs`` epochs); the DC paper's coreset
baselines use features of a network trained on the real data (recalled, not
verified against its text).
"""
from __future__ import annotations

import dataclasses
import time

import torch
import torch.nn.functional as F

from ..config import Config
from ..data import DataError, RealData
from ..init import by_class, kcenter_indices
from ..models import Encoder, build_encoder
from ..synthetic import SyntheticSet
from .common import capped, class_labels, finish

def feature_epochs(cfg: Config) -> int:
    return capped(cfg.baselines.coreset.feature_epochs, cfg, "coreset", "feature_epochs")


def feature_network(cfg: Config, data: RealData, g: torch.Generator, batch: int = 256) -> Encoder:
    """The preset's ConvNet trained on the whole training set (see the module docstring)."""
    net = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size, g, data.device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
    net.train()
    for _ in range(feature_epochs(cfg)):
        for idx in torch.randperm(len(data.y_train), generator=g, device=data.device).split(batch):
            loss = F.cross_entropy(net(data.x_train[idx]), data.y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval()


def train(cfg: Config, data: RealData, progress: bool = False) -> dict:
    """The feature network's state (``sets.TrainedModel``: trained once, shared
    by herding and k-center at every IPC)."""
    t0 = time.time()
    net = feature_network(cfg, data, torch.Generator(device=data.device).manual_seed(cfg.seed))
    return {"weights": net.state_dict(), "epochs": feature_epochs(cfg), "train_s": round(time.time() - t0, 3)}


def payload(cfg: Config) -> dict:
    """What the feature network depends on besides the data and the seed."""
    return {"model": "coreset-features", "encoder": dataclasses.asdict(cfg.distill.encoder),
            "epochs": feature_epochs(cfg), "preprocess": cfg.preprocess}


@torch.no_grad()
def embed_all(net: Encoder, x: torch.Tensor, batch: int = 1024) -> torch.Tensor:
    net.eval()
    return torch.cat([net.embed(b) for b in x.split(batch)])


@torch.no_grad()
def herding_indices(emb: torch.Tensor, labels: torch.Tensor, num_classes: int, k: int) -> torch.Tensor:
    """Herding within each class, vectorised over classes: ``emb`` (N, D) with
    ``labels`` sorted by class; returns (num_classes, k) indices into emb. Each
    step adds the not-yet-chosen point whose addition brings the running mean
    closest to the class mean (ties: the lowest index)."""
    E, valid, counts, offsets = by_class(emb, labels, num_classes)
    mu = E.sum(1) / counts[:, None]                                      # (K, D)
    total = torch.zeros_like(mu)                                         # sum of chosen embeddings
    taken = ~valid
    rows = torch.arange(num_classes, device=emb.device)
    chosen = []
    for t in range(1, k + 1):
        dist = (mu[:, None] - (total[:, None] + E) / t).norm(dim=-1)    # (K, width)
        pick = dist.masked_fill(taken, float("inf")).argmin(1)
        chosen.append(pick)
        total += E[rows, pick]
        taken[rows, pick] = True
    return offsets[:, None] + torch.stack(chosen, 1)


SELECTORS = {"herding": herding_indices, "kcenter": kcenter_indices}


def select(cfg: Config, data: RealData, state: dict, *, kind: str) -> SyntheticSet:
    """The coreset of ``kind`` (herding | kcenter): ``ipc`` real images per
    class, chosen in the embedding of the trained feature network ``state``."""
    t0, ipc = time.time(), cfg.distill.ipc
    if ipc > int(data.counts.min()):
        raise DataError(f"ipc {ipc} is larger than the smallest class of {data.name!r} "
                        f"({int(data.counts.min())} images): a coreset cannot hold that many images per class")
    net = build_encoder(cfg.distill.encoder, data.channels, data.num_classes, data.im_size, None, data.device)
    net.load_state_dict(state["weights"])
    idx = SELECTORS[kind](embed_all(net, data.x_train), data.y_train, data.num_classes, ipc).flatten()
    x = data.x_train[idx].clone()
    assert torch.equal(data.y_train[idx], class_labels(data, ipc))
    return finish(x, cfg, data, [], {0: x.cpu().clone()}, t0, kind=kind, feature_epochs=state["epochs"],
                  feature_train_s=state.get("train_s"), indices=idx.tolist())
