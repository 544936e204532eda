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


def channel_power_sum(f: torch.Tensor, power: float, scratch: bool = False) -> torch.Tensor:
    """sum_c |f_c|^p, (N, C, H, W) -> (N, H, W).

    Speed: a generic float pow was the slowest op of a CPU step. For even
    integer p, sum_c (f^(p/2))^2 after p/2 - 1 multiplications. On
    channels_last memory that is a squared 2-norm over the contiguous channels
    (the fastest reduction there); on NCHW memory vector_norm's reduction over
    the strided channel axis is slow, and squaring then summing channel planes
    is faster, in place when nothing needs the gradient (320x128x16x16, 2
    threads: 19.3 -> 3.5 ms; 320x128x32x32: 84 -> 30 ms; channels_last 21.6 ms
    kept). Where f needs a gradient, that gradient, p f^(p-1) g, is written
    by hand (``_EvenPowerSum``). ``scratch`` (no gradient needed): f is a
    temporary of the caller's that may be overwritten, and the powers are
    taken in place on it (no new activation-sized tensor: on 4x128x32x32
    chunks in a loop, 2 threads, a product into a new tensor took ~3.5x an
    in-place pass, 72 vs 21 us). p = 1 (the released code's) is abs then a
    sum (vector_norm's generic p-norm path took 137 ms, abs + sum 78 ms on
    640x128x32x32, 1 thread); other p use one fused p-norm reduction raised
    back to p."""
    if _even(power):
        if torch.is_grad_enabled() and f.requires_grad:
            return _EvenPowerSum.apply(f, int(power))
        return _even_power_sum(f, int(power), scratch)
    if power == 1:
        return f.abs().sum(dim=1)
    return torch.linalg.vector_norm(f, ord=power, dim=1).pow(power)


def _even(power: float) -> bool:
    return float(power).is_integer() and power % 2 == 0 and 2 <= power <= 16


def _even_power_sum(f: torch.Tensor, p: int, scratch: bool = False) -> torch.Tensor:
    if scratch:
        half = f.pow_(p // 2) if p > 2 else f          # f^(p/2), in place on the caller's temporary
    else:
        half = f
        for _ in range(p // 2 - 1):
            half = half * f
    if f.dim() == 4 and not f.is_contiguous() and f.is_contiguous(memory_format=torch.channels_last):
        return torch.linalg.vector_norm(half, ord=2, dim=1).square()
    if half is f and not scratch:
        return (half * half).sum(1)
    return half.square_().sum(1)  # speed: in place on our own (or the caller's scratch) temporary


class _EvenPowerSum(torch.autograd.Function):
    """sum_c f^p for an even p, with the gradient p f^(p-1) g written by hand.

    Speed: autograd's own graph of the products above kept f^(p/2) and made
    about six passes over f's size in the backward (vector_norm's backward
    alone: a product, a division and a mask for zero norms); this makes three
    (f^(p-1), then two products in place) and keeps only f. Distillation's
    synthetic pass, 100x128x32x32 on channels_last, 2 threads: see
    docs/benchmarks.md."""

    @staticmethod
    def forward(f, p):
        return _even_power_sum(f, p)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])
        ctx.p = inputs[1]

    @staticmethod
    def backward(ctx, g):
        (f,) = ctx.saved_tensors
        scale = (g * ctx.p).unsqueeze(1)                                   # (N, 1, H, W)
        if torch.is_grad_enabled():  # a graph of the backward is wanted (double backward): out of place
            return f.pow(ctx.p - 1) * scale, None
        if ctx.p == 2:
            return f * scale, None
        out = f * f
        for _ in range(ctx.p - 3):  # f^(p-1), in place on our own temporary
            out.mul_(f)
        return out.mul_(scale), None


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
