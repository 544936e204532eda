"""Supplement Fig. 9: where synthetic images fall among the real ones "in the
embedding space of ResNet-18".

1. :func:`embedding_network`: the kit's ResNet-18 (3x3 stem, BatchNorm, global
   average pool, 512-d embedding) trained on the whole training set with the
   preset's evaluation optimiser and schedule, without augmentation, for
   ``epochs`` epochs (the supplement does not say how the network was trained;
   a network trained on the real data is the reading under which classes form
   clusters);
2. its embeddings of a real subsample and of every synthetic set;
3. :func:`joint_tsne`: PCA to 50 dimensions fitted on all points together,
   then ONE t-SNE (scikit-learn, PCA initialisation, fixed seed) of all
   points together, so every panel is drawn in the same coordinates.

:func:`placement` puts numbers on what the figure shows, in the PCA space:
how many synthetic points sit among real points of their own class, and how
far the real points are from their class's nearest synthetic point.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..config import Config
from ..data import RealData
from ..evaluate import train_model
from ..models import Encoder, EncoderSpec, build_encoder

RESNET18 = EncoderSpec(arch="resnet18", norm="batch")


def embedding_network(cfg: Config, data: RealData, epochs: int, g: torch.Generator) -> Encoder:
    """ResNet-18 trained on ``data``'s whole training set (see the module
    docstring); ``epochs`` 0 (smoke scale): untrained, drawn from ``g``."""
    if epochs == 0:
        return build_encoder(RESNET18, data.channels, data.num_classes, data.im_size, g, data.device).eval()
    ec = replace(cfg.evaluate, encoder=RESNET18, epochs=epochs, augment="none", num_models=1)
    return train_model(data.x_train, data.y_train, data, ec, g).eval()


@torch.no_grad()
def embed(net: Encoder, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    net.eval()
    return torch.cat([net.embed(b) for b in x.split(batch)]).cpu().double().numpy()


def joint_tsne(features: list[np.ndarray], seed: int, pca_dims: int = 50,
               perplexity: float = 30.0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(tsne, pca)``: the 2-d t-SNE and the PCA coordinates of each block of
    ``features``, all computed jointly (one PCA, one t-SNE)."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    X = np.concatenate(features)
    Z = PCA(n_components=min(pca_dims, X.shape[1], X.shape[0]), random_state=seed).fit_transform(X)
    Y = TSNE(n_components=2, perplexity=min(perplexity, (len(X) - 1) / 3), init="pca",
             random_state=seed).fit_transform(Z)
    cuts = np.cumsum([len(f) for f in features])[:-1]
    return np.split(Y, cuts), np.split(Z, cuts)


def placement(real: np.ndarray, real_y: np.ndarray, syn: np.ndarray, syn_y: np.ndarray, k: int = 10) -> dict:
    """Two numbers for a synthetic set in a shared feature space:

    - ``agreement``: % of synthetic points whose ``k`` nearest real points are
      mostly of their own class (the paper's "false positives" are the rest);
    - ``coverage``: the mean over real points of the distance to the nearest
      synthetic point of their class, in units of the mean distance between
      a real point and its nearest real neighbour of the class (lower: the set
      spreads over its class)."""
    R, S = torch.as_tensor(real), torch.as_tensor(syn)
    ry, sy = torch.as_tensor(real_y), torch.as_tensor(syn_y)
    K = int(max(ry.max(), sy.max())) + 1
    near = torch.cdist(S, R).topk(min(k, len(R)), largest=False).indices               # (n_syn, k)
    votes = torch.nn.functional.one_hot(ry[near], K).sum(1)
    agreement = float((votes.argmax(1) == sy).double().mean()) * 100
    same = ry[:, None] == sy[None, :]
    to_syn = torch.cdist(R, S).masked_fill(~same, float("inf")).min(1).values
    rr = torch.cdist(R, R).masked_fill(~(ry[:, None] == ry[None, :]), float("inf"))
    rr.fill_diagonal_(float("inf"))
    to_real = rr.min(1).values
    ok = torch.isfinite(to_syn) & torch.isfinite(to_real)
    return {"agreement": agreement, "coverage": float(to_syn[ok].mean() / to_real[ok].mean())}
