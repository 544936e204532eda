"""Differentiable siamese augmentation (DSA, Zhao & Bilen 2021; supplement
Sec. 1.2 and Table 2), vectorised, with its random parameters as an explicit
dict (the kornia.augmentation style): ``sample`` draws them once from a
``torch.Generator``; ``apply`` replays them on any batch. Siamese use = sample
one row per class and replay it on that class's real *and* synthetic images
(:func:`siamese`).

Mode 'S' (as released): each row picks ONE of the enabled ops. Every op is
written so that a row that did not pick it is left unchanged, which lets one
pass serve a batch where rows picked different ops, with no Python loop over
classes or samples:
- colour: brightness x + (r - 0.5) * 1.0; saturation (x - m_c) * 2r + m_c with
  m_c the mean over channels; contrast (x - m) * (r + 0.5) + m with m the image mean;
- crop (integer shift up to 1/8 of the side, zero fill), flip (horizontal, with
  probability 0.5), scale (per-axis factor in [1/1.2, 1.2]) and rotate (+-15 deg)
  are one affine map per row, applied by a single ``grid_sample``;
- cutout: one square of half the side set to 0.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .validation import at_least, between, check_fields, non_negative, subset_of

OPS = ("color", "crop", "cutout", "flip", "scale", "rotate")

Params = dict[str, torch.Tensor]


@dataclass(frozen=True)
class DSAConfig:
    """Table 2's DSA parameters."""
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5
    crop: float = 0.125
    cutout: float = 0.5
    flip: float = 0.5
    scale: float = 1.2
    rotate: float = 15.0
    ops: tuple[str, ...] = OPS

    def __post_init__(self):
        check_fields(self, brightness=non_negative(), saturation=non_negative(), contrast=non_negative(),
                     crop=between(0, 0.5), cutout=between(0, 1), flip=between(0, 1), scale=at_least(1),
                     rotate=between(0, 180), ops=subset_of(OPS))


def _uniform(n: int, g: torch.Generator, device) -> torch.Tensor:
    return torch.rand(n, generator=g, device=device)


def sample(cfg: DSAConfig, n: int, size: int, generator: torch.Generator,
           op: int | None = None) -> Params:
    """Draw parameters for ``n`` rows of images of side ``size``.

    Each row gets one op index into ``cfg.ops`` (or ``op`` for all rows when
    given) and every op's magnitudes; ``apply`` uses only the chosen op's."""
    dev = generator.device
    u = lambda: _uniform(n, generator, dev)  # noqa: E731
    if op is None:
        choice = torch.randint(len(cfg.ops), (n,), generator=generator, device=dev)
    else:
        choice = torch.full((n,), op, dtype=torch.long, device=dev)
    shift = int(size * cfg.crop + 0.5)
    cut = int(size * cfg.cutout + 0.5)
    return {
        "op": choice,
        "brightness": (u() - 0.5) * cfg.brightness,
        "saturation": u() * cfg.saturation,
        "contrast": u() + cfg.contrast,
        "crop": torch.randint(-shift, shift + 1, (2, n), generator=generator, device=dev).T,
        "cutout": torch.randint(0, size + (1 - cut % 2), (2, n), generator=generator, device=dev).T,
        "flip": u() < cfg.flip,
        "scale": torch.rand(n, 2, generator=generator, device=dev) * (cfg.scale - 1 / cfg.scale) + 1 / cfg.scale,
        "rotate": (u() - 0.5) * 2 * cfg.rotate / 180 * math.pi,
    }


def _is(params: Params, ops: tuple[str, ...], name: str) -> torch.Tensor:
    """Boolean (n,) mask of rows whose op is ``name``."""
    if name not in ops:
        return torch.zeros_like(params["op"], dtype=torch.bool)
    return params["op"] == ops.index(name)


def _affine(params: Params, ops: tuple[str, ...], size: int) -> torch.Tensor:
    """(n, 2, 3) affine maps in grid_sample's normalised coordinates (align_corners=True)."""
    n, dev = params["op"].shape[0], params["op"].device
    theta = torch.eye(2, 3, device=dev).repeat(n, 1, 1)
    sc = torch.where(_is(params, ops, "scale")[:, None], params["scale"], 1.0)
    theta[:, 0, 0], theta[:, 1, 1] = sc[:, 0], sc[:, 1]
    ang = torch.where(_is(params, ops, "rotate"), params["rotate"], 0.0)
    rot = torch.stack([torch.cos(ang), torch.sin(ang), -torch.sin(ang), torch.cos(ang)], 1).view(n, 2, 2)
    theta = torch.cat([rot @ theta[:, :, :2], theta[:, :, 2:]], dim=2)
    flip = _is(params, ops, "flip") & params["flip"]
    theta[:, 0, :2] *= torch.where(flip, -1.0, 1.0)[:, None]
    # crop: sampling the input at (x - t) moves content by +t pixels; one
    # pixel is 2/(size-1) in align_corners=True coordinates.
    shift = torch.where(_is(params, ops, "crop")[:, None], params["crop"], 0).to(theta.dtype)
    theta[:, :, 2] = -shift * 2.0 / (size - 1)
    return theta


def apply(x: torch.Tensor, params: Params, cfg: DSAConfig, rows: torch.Tensor | None = None) -> torch.Tensor:
    """Apply ``params`` to ``x`` (N, C, H, W). Image i uses parameter row
    ``rows[i]`` (default: row i). Differentiable with respect to ``x``."""
    if rows is not None:
        params = {k: v[rows] for k, v in params.items()}
    ops = cfg.ops
    dt = x.dtype
    col = lambda v: v.to(dt)[:, None, None, None]  # noqa: E731
    if "color" in ops:
        is_color = _is(params, ops, "color")
        b = torch.where(is_color, params["brightness"], 0.0)
        s = torch.where(is_color, params["saturation"], 1.0)
        c = torch.where(is_color, params["contrast"], 1.0)
        x = x + col(b)
        m = x.mean(dim=1, keepdim=True)
        x = (x - m) * col(s) + m
        m = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - m) * col(c) + m
    if any(op in ops for op in ("crop", "flip", "scale", "rotate")):
        theta = _affine(params, ops, x.shape[-1]).to(dt)
        grid = F.affine_grid(theta, list(x.shape), align_corners=True)
        x = warp(x, grid)
    if "cutout" in ops:
        size = int(x.shape[-1] * cfg.cutout + 0.5)
        x = x * _cutout_mask(params, ops, size, x.shape[-2], x.shape[-1]).to(dt)
    return x


def warp(x: torch.Tensor, grid: torch.Tensor, deterministic: bool | None = None) -> torch.Tensor:
    """``F.grid_sample(x, grid)`` (bilinear, zero padding, align_corners=True).

    On CUDA its backward with respect to ``x`` adds into the input gradient with
    atomics, so two runs with the same seed give different synthetic images
    (measured on an H200: after 200 iterations at IPC 1 the two sets differed by
    up to 4.3; docs/benchmarks.md). ``deterministic`` (default: on CUDA) keeps
    the forward and computes that gradient with a sorted, atomic-free
    accumulation instead (:class:`_DeterministicWarp`); on the CPU grid_sample
    is deterministic already. The grid never needs a gradient here (DSA's
    parameters are drawn, not learned)."""
    if deterministic is None:
        deterministic = x.device.type == "cuda"
    if deterministic and x.requires_grad:
        return _DeterministicWarp.apply(x, grid.detach())
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class _DeterministicWarp(torch.autograd.Function):
    """Bilinear sampling whose input gradient is scattered by
    ``index_put_(accumulate=True)``, which on CUDA sorts the indices and sums
    each run of equal ones in order (no atomics), so the sum is the same every
    run (checked on an H200: benchmarks/gpu_check.py). The gradient is the transpose of the forward: output pixel p reads the
    four input pixels around its grid point with weights w, so it sends
    ``w * grad_out[p]`` back to each of them (those outside the image get
    nothing: zero padding)."""

    @staticmethod
    def forward(ctx, x, grid):
        ctx.save_for_backward(grid)
        ctx.shape = x.shape
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)

    @staticmethod
    def backward(ctx, grad_out):
        (grid,) = ctx.saved_tensors
        n, c, h, w = ctx.shape
        dt = torch.promote_types(grad_out.dtype, torch.float32)   # bf16 gradients are summed in fp32
        # align_corners=True: -1 and 1 are the centres of the first and last pixels
        ix = (grid[..., 0].to(dt) + 1) * (w - 1) / 2          # (n, Ho, Wo)
        iy = (grid[..., 1].to(dt) + 1) * (h - 1) / 2
        x0, y0 = ix.floor(), iy.floor()
        g = grad_out.to(dt).flatten(2)                           # (n, c, Ho*Wo)
        base = (torch.arange(n * c, device=g.device) * (h * w)).view(n, c, 1)
        idx, val = [], []
        for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
            xs, ys = x0 + dx, y0 + dy
            wt = (1 - (ix - xs).abs()) * (1 - (iy - ys).abs())
            inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
            wt = torch.where(inside, wt, 0.0).flatten(1)         # (n, Ho*Wo)
            pos = (ys.clamp(0, h - 1) * w + xs.clamp(0, w - 1)).long().flatten(1)
            idx.append(base + pos[:, None, :])
            val.append(g * wt[:, None, :])
        grad_x = torch.zeros(n * c * h * w, device=g.device, dtype=dt)
        grad_x.index_put_((torch.cat(idx, 2).flatten(),), torch.cat(val, 2).flatten(), accumulate=True)
        return grad_x.view(n, c, h, w).to(grad_out.dtype), None


def _cutout_mask(params: Params, ops: tuple[str, ...], size: int, h: int, w: int) -> torch.Tensor:
    """(n, 1, H, W) mask: 0 inside each cutout row's square of side ``size``, 1 elsewhere."""
    centre = params["cutout"]
    lo = (centre - size // 2).clamp(min=0)
    hi = centre - size // 2 + size
    hi = torch.stack((hi[:, 0].clamp(max=h), hi[:, 1].clamp(max=w)), 1)   # no host-to-device copy (CUDA graphs)
    ys = torch.arange(h, device=centre.device)
    xs = torch.arange(w, device=centre.device)
    in_y = (ys[None] >= lo[:, :1]) & (ys[None] < hi[:, :1])
    in_x = (xs[None] >= lo[:, 1:]) & (xs[None] < hi[:, 1:])
    hole = in_y[:, :, None] & in_x[:, None, :] & _is(params, ops, "cutout")[:, None, None]
    return (~hole)[:, None]


def siamese(cfg: DSAConfig, batches: list[torch.Tensor], params: Params,
            classes: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """Augment class-major batches of classes ``lo..hi-1`` (``classes``; default
    every row of ``params``) with one parameter row per class, shared by every
    image of that class in every batch (real and synthetic alike): row k of
    ``params`` (drawn by :func:`sample` for all classes) augments class k.
    ``step.step`` augments through this function only."""
    lo, hi = classes if classes is not None else (0, len(params["op"]))
    out = []
    for x in batches:
        per_class = x.shape[0] // (hi - lo)
        rows = lo + torch.arange(x.shape[0], device=x.device) // per_class   # class-major rows; no host sync
        out.append(apply(x, params, cfg, rows))
    return out


def per_sample(cfg: DSAConfig, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Evaluation-time DSA: one op for the batch (as mode 'S' draws it per
    call), magnitudes drawn independently for every image."""
    op = int(torch.randint(len(cfg.ops), (1,), generator=generator, device=generator.device))
    return apply(x, sample(cfg, x.shape[0], x.shape[-1], generator, op=op), cfg)
