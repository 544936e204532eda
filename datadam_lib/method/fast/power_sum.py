"""sum_c |f_c|^p of activations (the attention map's numerator, main paper
Sec. 3), with the CPU speed paths: even integer p as repeated products, in
place where nothing needs the gradient, and the even-p gradient p f^(p-1) g
written by hand. The same values as ``f.abs().pow(p).sum(1)`` (tests/test_losses.py);
the measurements behind each path are in docs/benchmarks.md."""
from __future__ import annotations

import torch


def channel_power_sum(f: torch.Tensor, power: float, scratch: bool = False) -> torch.Tensor:
    """sum_c |f_c|^p, (N, C, H, W) -> (N, H, W).

    Speed: a generic float pow was the slowest op of a CPU step. For even
    integer p, sum_c (f^(p/2))^2 after p/2 - 1 multiplications: a squared
    2-norm over the channels on channels_last memory, squared channel planes
    summed on NCHW memory (in place when nothing needs the gradient). Where f
    needs a gradient, p f^(p-1) g is written by hand (``_EvenPowerSum``).
    ``scratch`` (no gradient needed): f is a temporary of the caller's, and the
    powers are taken in place on it. p = 1 (the released code's) is abs then a
    sum; other p one fused p-norm reduction raised back to p. The measurements:
    docs/benchmarks.md, "Speed paths"."""
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
