"""ZCA whitening for CIFAR (supplement Sec. 1.2: "Kornia ZCA whitening, using
the same setting as [MTT]": eps = 0.1 on the [0, 1] pixels, which MTT's
get_dataset does not mean/std-normalise when ZCA is on; data.load_dataset).

Fitted once on the training split and cached on disk; never refitted on
synthetic images (the released code refits it, which whitens real-initialised
images twice). The inverse transform is used only to display images.
"""
from __future__ import annotations

import hashlib
import os

import torch
from kornia.enhance import ZCAWhitening

from .io import atomic_save

EPS = 0.1


def _fingerprint(x: torch.Tensor) -> str:
    h = hashlib.sha1(str(tuple(x.shape)).encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def fit_zca(x_train: torch.Tensor, eps: float = EPS, cache_dir: str | None = None, key: str = "data") -> ZCAWhitening:
    """A kornia ``ZCAWhitening`` fitted on ``x_train`` (N, C, H, W), with its
    inverse; loaded from ``cache_dir`` when this exact data was fitted before."""
    zca = ZCAWhitening(eps=eps, compute_inv=True)
    path = None
    if cache_dir is not None:
        path = os.path.join(cache_dir, ".zca", f"{key}-{_fingerprint(x_train)}-eps{eps}.pt")
        if os.path.isfile(path):
            state = torch.load(path, map_location=x_train.device)
            zca.mean_vector, zca.transform_matrix, zca.transform_inv = (
                state["mean_vector"], state["transform_matrix"], state["transform_inv"])
            zca.fitted = True
            return zca
    zca.fit(x_train.flatten(1))
    if path is not None:
        atomic_save({"mean_vector": zca.mean_vector, "transform_matrix": zca.transform_matrix,
                     "transform_inv": zca.transform_inv}, path)
    return zca
