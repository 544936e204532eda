"""DataDAM's losses as pure functions of tensors.

Notation (main paper Sec. 3, supplement Sec. 2.2): for class k, T_k are the real
images, S_k the synthetic ones; f^l is the activation of layer l of a randomly
initialised encoder, psi its final embedding. All inputs are *class-major*:
a batch of K classes with n images each is laid out as K consecutive blocks, so
``x.view(K, n, ...)`` groups it by class. Only class means are compared; real
and synthetic samples are never paired.

    a_p(f)      = sum_c |f_c|^p, flattened to H*W, normalised per sample    (SAM)
    L_SAM       = sum_k sum_l d( mean_{T_k} a_p(f^l), mean_{S_k} a_p(f^l) )
    L_MMD       = sum_k || mean_{T_k} psi - mean_{S_k} psi ||^2   (linear-kernel MMD)
    L           = L_SAM + lambda * L_MMD                          (Table 2: lambda)
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .config import MethodConfig
from .fast.power_sum import channel_power_sum  # sum_c |f_c|^p, with the CPU speed paths

Stats = dict[str, list[torch.Tensor]]

EPS = 1e-12

# Per-sample normalisation of a flattened attention map (supplement Fig. 6).
NORMALISATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "l2": lambda a: F.normalize(a, p=2.0, dim=-1, eps=EPS),
    "l1": lambda a: F.normalize(a, p=1.0, dim=-1, eps=EPS),
    "none": lambda a: a,
}


def attention_map(f: torch.Tensor, power: float = 4.0, norm: str = "l2", scratch: bool = False) -> torch.Tensor:
    """Spatial attention map of activations ``f`` (N, C, H, W) -> (N, H*W):
    ``sum_c |f_c|^p`` then the per-sample normalisation ``norm`` (l2 | l1 | none).
    Table 2: p = 4, L2. ``scratch``: ``f`` may be overwritten (``channel_power_sum``)."""
    a = channel_power_sum(f, power, scratch).flatten(1)
    return NORMALISATIONS[norm](a)


def _mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).sum(-1)


def _mae(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).abs().sum(-1)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # 1 - <a, b> / (|a| |b|): a dot product over the last axis (the released
    # "angular" variant multiplies element-wise instead, which is not a cosine).
    return 1.0 - F.cosine_similarity(a, b, dim=-1, eps=EPS)


# Distance between class means (K, D) x (K, D) -> (K,) (supplement Fig. 5).
# "mse" is the squared Euclidean distance summed over positions, as the paper's
# ||.||^2 and the released code; "mae" the summed absolute difference.
DISTANCES: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "mse": _mse,
    "mae": _mae,
    "cosine": _cosine,
}


def class_means(x: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class means of class-major ``x`` (K*n, ...) -> (K, ...)."""
    return x.reshape(num_classes, -1, *x.shape[1:]).mean(dim=1)


def sam_loss(real_maps: list[torch.Tensor], syn_maps: list[torch.Tensor],
             distance: str = "mse") -> torch.Tensor:
    """L_SAM = sum over layers and classes of d(real class-mean map, synthetic
    class-mean map). Inputs are per-layer class means of attention maps, each
    (K, H_l*W_l)."""
    d = DISTANCES[distance]
    return sum(d(r, s).sum() for r, s in zip(real_maps, syn_maps, strict=True))


def mmd_loss(real_emb: torch.Tensor, syn_emb: torch.Tensor) -> torch.Tensor:
    """Linear-kernel MMD between class-mean embeddings (K, D):
    sum_k ||mu_real_k - mu_syn_k||^2 (the same as DM's loss)."""
    return (real_emb - syn_emb).pow(2).sum()


def feature_map(f: torch.Tensor) -> torch.Tensor:
    """A layer's whole feature map per image, flattened to C*H*W values and
    L2-normalised: what the feature-map transfer loss (supplement Fig. 11c)
    matches instead of the attention map. The supplement does not define that
    loss further; normalising like SAM's maps keeps the two on one scale (the
    raw feature maps' squared error is ~10^4-10^5 times SAM's and diverges at
    the same image learning rate)."""
    return F.normalize(f.flatten(1), p=2.0, dim=-1, eps=EPS)


def feature_map_loss(real_feats: list[torch.Tensor], syn_feats: list[torch.Tensor]) -> torch.Tensor:
    """Layer-wise feature-map transfer (supplement Fig. 11c): the class means
    of each layer's feature maps (``feature_map``), matched with squared error."""
    return sum((r - s).pow(2).sum() for r, s in zip(real_feats, syn_feats, strict=True))


def pixel_mmd_loss(real_images: torch.Tensor, syn_images: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Linear-kernel MMD in pixel space (supplement Table 3, "MMD"):
    sum_k ||mean real image_k - mean synthetic image_k||^2 on class-major batches."""
    return mmd_loss(class_means(real_images.flatten(1), num_classes),
                    class_means(syn_images.flatten(1), num_classes))


# ---------------------------------------------------------------- the whole objective

class Objective:
    """DataDAM's loss as a comparison of class-mean statistics.

    ``statistics`` maps a class-major batch (and its encoder taps/embedding) to
    per-class means; ``loss`` compares real and synthetic statistics:
    loss_scale * (L_SAM + lambda * L_MMD + L_feature + L_pixel), each term
    present only when its component is enabled."""

    def __init__(self, method: MethodConfig, im_size: int):
        self.m = method
        self.lam = method.lambda_for(im_size)
        self.needs_encoder = bool(set(method.components) - {"pixel"})

    def layers(self, n_taps: int) -> list[int]:
        sel = self.m.sam_layers
        if sel == "all_but_last":   # a depth-1 net has no layer but the last: no SAM term, as released
            return list(range(n_taps - 1))
        if sel == "all":
            return list(range(n_taps))
        if any(not 1 <= i <= n_taps for i in sel):
            raise ValueError(f"sam_layers {sel} out of range: this encoder has taps 1..{n_taps}")
        return [i - 1 for i in sel]

    def reduce_tap(self, i: int, n_taps: int, tap: torch.Tensor, scratch: bool = False
                   ) -> dict[str, torch.Tensor] | None:
        """What the loss keeps of tap ``i`` of ``n_taps``, per image: its
        attention map and/or feature map, or None for a tap it does not use
        (``Encoder.forward_features``'s ``reduce``). ``scratch``: the tap may
        be overwritten (``losses.attention_map``)."""
        c = self.m.components
        if ("sam" not in c and "feature" not in c) or i not in self.layers(n_taps):
            return None
        out = {}
        if "feature" in c:   # before the attention map, which may overwrite a scratch tap
            out["feature"] = feature_map(tap)
        if "sam" in c:
            out["sam"] = attention_map(tap, self.m.power, self.m.attention_norm, scratch)
        return out

    def statistics(self, images: torch.Tensor, taps: list[torch.Tensor] | None,
                   emb: torch.Tensor | None, num_classes: int) -> Stats:
        reduced = [self.reduce_tap(i, len(taps), t) for i, t in enumerate(taps)] if taps is not None else None
        return self.means(images, reduced, emb, num_classes)

    def means(self, images: torch.Tensor, reduced: list[dict | None] | None, emb: torch.Tensor | None,
              num_classes: int) -> Stats:
        """``statistics`` from taps already reduced by ``reduce_tap``."""
        c, K = self.m.components, num_classes
        out: Stats = {}
        chosen = [r for r in reduced or [] if r is not None]
        for name in ("sam", "feature"):
            if name in c:
                out[name] = [class_means(r[name], K) for r in chosen]
        if "mmd" in c:
            out["mmd"] = [class_means(emb, K)]
        if "pixel" in c:
            out["pixel"] = [class_means(images.flatten(1), K)]
        return out

    def loss(self, real: Stats, syn: Stats) -> torch.Tensor:
        """L = loss_scale * (L_SAM + lambda * L_MMD) for DataDAM (main paper
        Sec. 3; lambda and the x100 scale: Table 2 and docs/presets.md); the
        ablations' feature-map and pixel terms join the sum when enabled."""
        absent = 0.0
        l_sam = sam_loss(real["sam"], syn["sam"], self.m.distance) if "sam" in real else absent
        l_mmd = mmd_loss(real["mmd"][0], syn["mmd"][0]) if "mmd" in real else absent
        l_feature = feature_map_loss(real["feature"], syn["feature"]) if "feature" in real else absent
        l_pixel = mmd_loss(real["pixel"][0], syn["pixel"][0]) if "pixel" in real else absent
        return self.m.loss_scale * (l_sam + self.lam * l_mmd + l_feature + l_pixel)
