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
import sys

import torch
from kornia.enhance import ZCAWhitening

from .io import CheckpointError, atomic_save, load_checked

KEYS = ("mean_vector", "transform_matrix", "transform_inv")

EPS = 0.1


def _fingerprint(x: torch.Tensor) -> str:
    h = hashlib.sha1(str(tuple(x.shape)).encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def fit_zca(x_train: torch.Tensor, eps: float = EPS, cache_dir: str | None = None, key: str = "data") -> ZCAWhitening:
    """A kornia ``ZCAWhitening`` fitted on ``x_train`` (N, C, H, W), with its
    inverse; loaded from ``cache_dir`` when this exact data was fitted before
    (a cache file that is unreadable or of the wrong shape is fitted again and
    rewritten)."""
    zca = ZCAWhitening(eps=eps, compute_inv=True)
    path = None
    if cache_dir is not None:
        path = os.path.join(cache_dir, ".zca", f"{key}-{_fingerprint(x_train)}-eps{eps}.pt")
        if os.path.isfile(path):
            try:
                state = _load(path, x_train)
                zca.mean_vector, zca.transform_matrix, zca.transform_inv = (state[k] for k in KEYS)
                zca.fitted = True
                return zca
            except CheckpointError:   # its advice ("delete it") does not apply: it is rewritten below
                print(f"ZCA cache: {path} is unreadable or not a whitening of these data; fitting again",
                      file=sys.stderr, flush=True)
    zca.fit(x_train.flatten(1))
    if path is not None:
        atomic_save({k: getattr(zca, k) for k in KEYS}, path)
    return zca


def _load(path: str, x_train: torch.Tensor) -> dict:
    """A cached whitening for ``x_train``: three finite tensors of the right shapes, or CheckpointError."""
    state = load_checked(path, "ZCA cache file", KEYS, map_location=x_train.device)
    d = x_train[0].numel()
    shapes = {"mean_vector": (1, d), "transform_matrix": (d, d), "transform_inv": (d, d)}
    for k, shape in shapes.items():
        t = state[k]
        if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape or not torch.isfinite(t).all():
            raise CheckpointError(f"ZCA cache file {path}: {k} is not a finite {shape} tensor")
    return state
