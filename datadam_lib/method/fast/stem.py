"""A ConvNet's first stage, conv3x3 -> instance norm -> ReLU -> 2x2 average
pool, computed on the CPU as one batched matrix product per pass (the same
values up to float rounding; tests/test_stem.py checks values and every
parameter gradient against the modules in float64).

Why: the first stage sees few input channels (1 or 3) but writes 128 full-size
activation planes, so on a CPU it is bound by memory traffic, not arithmetic:
the convolution, the norm, ReLU and pooling each read and write those planes,
and so do their four backward kernels. Here the norm is folded into the
convolution, and the backward takes two passes over the planes.

The fold (supplement Sec. 2.3 / Table 2: "instance" norm = GroupNorm with one
group per channel). For image n, let P be its im2col patches (K = C_in*k*k rows,
L = H*W columns) and Pc = P - mean_L(P) (centred per image). The convolution's
output for channel c is z = w_c.P + b_c, so over the L positions
    mean(z) = w_c.mean(P) + b_c,    var(z) = w_c^T Cov w_c,   Cov = Pc Pc^T / L,
and the normalised, scaled output is
    a = gamma_c * rstd * (w_c.Pc) + beta_c,   rstd = (var(z) + eps)^-1/2:
one batched product of per-image weights (C x K) with Pc (K x L). The bias b_c
cancels (its gradient is exactly 0).

The backward, from D = dLoss/da (the pooled gradient spread over each 2x2
block, /4, masked by ReLU in one pass: for training, the planes are laid out
by offset within the pooling block, so that the spread is a broadcast over an
outer axis and the pool a sum of 4 planes) and S = D Pc^T (one batched product
reading D once; a row of ones in Pc gives sum_L D with it): with
x_hat = rstd * w_c.Pc,
    dbeta_c  = sum_n sum_L D
    dgamma_c = sum_n rstd * (S . w_c)
    dw_c     = gamma_c sum_n rstd * (S - rstd^2 (S . w_c) Cov w_c)
(the instance norm's usual backward, rstd (g - mean g - x_hat mean(g x_hat)),
contracted with the patches; sum_L of it is 0, so Pc may stand for P).
Each pass over the planes goes chunk by chunk of a few images, whose planes fit
in a core's L2 cache, so the passes that follow the product read the cache,
not memory; a reduction of the tap (distillation's attention maps) is made
chunk by chunk too, so without gradients the whole tap is never made.
Three uses: ``pooled`` (evaluation: the pooled output, gradients for the
parameters, ``_Stem``), ``tap`` (no gradients: the tap, or what ``reduce``
keeps of it, and the pooled output) and ``tap_with_grad`` (distillation's
synthetic pass: gradients for the images and through the tap too,
``_StemTap``). ``models.Stage.run`` picks one, or the modules where the fold
does not apply.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F


def _patches(x: torch.Tensor, conv: torch.nn.Conv2d, blocks: bool) -> tuple[torch.Tensor, torch.Tensor, tuple]:
    """(Pc with a row of ones appended (N, K+1, L), Cov (N, K, K), output (H, W)).
    ``blocks``: the L columns ordered by offset within a 2x2 pooling block
    first, then by block (oh, ow, h/2, w/2), so that a product with them is
    laid out (N, C, 4, H/2 * W/2)."""
    (k1, k2), (p1, p2) = conv.kernel_size, conv.padding
    n, h, w = x.shape[0], x.shape[2] + 2 * p1 - k1 + 1, x.shape[3] + 2 * p2 - k2 + 1   # stride 1
    p = F.unfold(x.contiguous(), conv.kernel_size, padding=conv.padding)        # (N, K, L)
    if blocks:
        p = p.view(n, -1, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(n, -1, h * w)
    pc = p - p.mean(2, keepdim=True)
    cov = pc @ pc.transpose(1, 2) / p.shape[2]
    return torch.cat([pc, pc.new_ones(n, 1, h * w)], 1), cov, (h, w)


# speed: the planes of 4 images (2 MB at 128x32x32) per chunk, the size of a core's L2 cache; one
# evaluation step (IPC 10, 2 threads): 116-120 ms unchunked, 110-113 ms chunked (1, 4 MB: 117-119)
CHUNK_BYTES = 2 * 2**20


def _scaled(x, weight, gamma, beta, eps, conv, blocks):
    """The per-image weights of the fold (N, C, K+1) (last column: beta), and
    the patches, covariances and rstd."""
    pc1, cov, hw = _patches(x, conv, blocks)
    n, wf = x.shape[0], weight.flatten(1)                                      # (C, K)
    # w_c^T Cov w_c; as one product and a sum (einsum's plan, and so its rounding, varied with N)
    rstd = (cov @ wf.t()).mul_(wf.t()).sum(1).add_(eps).rsqrt_()            # (N, C)
    scaled = torch.cat([(gamma[:, None] * wf) * rstd[:, :, None], beta.expand(n, -1)[:, :, None]], 2)
    return scaled, pc1, cov, rstd, hw


def _chunks(n: int, per_image: int):
    """Slices of images whose planes fit in the cores' L2 caches (2 MB): the
    passes over one chunk's planes then hit the cache, not memory."""
    step = max(1, CHUNK_BYTES // per_image)
    return [slice(i, min(i + step, n)) for i in range(0, n, step)]


def _relu_pool_blocks(scaled, pc1, hw):
    """The 2x2 average pool (N, C, H/2, W/2) of the fold's ReLU, and the
    weights it was made from (a quarter of the fold's). Chunk by chunk, in
    one reused buffer laid out (n, C, 4, H/2 * W/2): the pool is the sum of
    the 4 planes of a quarter of the ReLU.

    speed: the pool's 1/4 is taken on the small per-image weights, not on the
    pooled planes (a pass fewer; x 0.25 is exact in binary floating point, so
    the values are the same bit for bit, and ReLU commutes with it). The
    planes are not kept for the backward, which makes them again (one small
    product per chunk, in cache) rather than read 128 full-size planes per
    image back from memory."""
    (n, c, _), (h, w) = scaled.shape, hw
    quarter = scaled * 0.25
    chunks = _chunks(n, c * h * w * scaled.element_size())
    out, buf = scaled.new_empty(n, c, h * w // 4), scaled.new_empty(chunks[0].stop * c * h * w)
    for sl in chunks:
        planes = _product(quarter[sl], pc1[sl], hw, False, buf).relu_().view(-1, c, 4, h * w // 4)
        # speed: three adds of planes; sum(dim=2) over this layout took 3.7 of a chunk loop's 8.4 ms, adds 2.2
        torch.add(planes[:, :, 0], planes[:, :, 1], out=out[sl]).add_(planes[:, :, 2]).add_(planes[:, :, 3])
    return out.view(n, c, h // 2, w // 2), quarter


class _Stem(torch.autograd.Function):
    """The pooled output of the stage, with gradients for the parameters
    (evaluation: the tap is not kept and the input needs no gradient)."""

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, eps, conv):
        scaled, pc1, cov, rstd, hw = _scaled(x, weight, gamma, beta, eps, conv, blocks=True)
        out, quarter = _relu_pool_blocks(scaled, pc1, hw)
        ctx.save_for_backward(quarter, pc1, cov, rstd, weight, gamma)
        ctx.has_bias, ctx.hw = bias is not None, hw
        return out

    @staticmethod
    def backward(ctx, grad_out):
        quarter, pc1, cov, rstd, weight, gamma = ctx.saved_tensors
        (n, c, _), L = quarter.shape, pc1.shape[2]
        # D = dLoss/da: the pooled gradient / 4 on each of the block's 4 planes, masked by ReLU (by the
        # sign of the planes, made again: quarter of the fold's, the same signs); S = D Pc^T. Chunk by
        # chunk, so that the planes and D stay in cache. The 1/4 is applied to S (small) after the loop:
        # exact, so the same values bit for bit.
        g = grad_out.view(n, c, 1, L // 4).expand(n, c, 4, L // 4)
        chunks = _chunks(n, c * L * quarter.element_size())
        s, buf = quarter.new_empty(n, c, pc1.shape[1]), quarter.new_empty(chunks[0].stop * c * L)
        for sl in chunks:
            z = _product(quarter[sl], pc1[sl], ctx.hw, False, buf).view(-1, c, 4, L // 4)
            d = torch.ops.aten.threshold_backward.grad_input(g[sl], z, 0.0, grad_input=z)   # in place
            torch.bmm(d.view(-1, c, L), pc1[sl].transpose(1, 2), out=s[sl])   # 4 (S and sum_L D), (N, C, K+1)
        s.mul_(0.25)
        return (None,) + _param_grads(s, cov, rstd, weight, gamma, ctx.has_bias) + (None, None)


def _param_grads(s, cov, rstd, weight, gamma, has_bias):
    """(dw, dbias, dgamma, dbeta) from S|sum_L D (N, C, K+1) (module docstring)."""
    s, dbeta = s[:, :, :-1], s[:, :, -1].sum(0)
    wf = weight.flatten(1)
    sw = (s * wf).sum(2)                                                          # S . w_c, (N, C)
    dgamma = (rstd * sw).sum(0)
    cw = (cov @ wf.t()).transpose(1, 2)                                           # Cov w_c, (N, C, K)
    dw = gamma[:, None] * (rstd[:, :, None] * (s - (rstd.square() * sw)[:, :, None] * cw)).sum(0)
    return dw.view_as(weight), weight.new_zeros(len(weight)) if has_bias else None, dgamma, dbeta


class _StemTap(torch.autograd.Function):
    """``(tap, pooled)`` with gradients for the input and the parameters, the
    tap NCHW or channels_last (distillation's synthetic pass: its loss reads
    the tap's attention maps, and its gradient goes to the images). The
    patches' gradient dP = sum_c w_c dz_c, with dz the instance norm's
    backward, is A^T D - B Pc - m, with A_c = gamma_c rstd w_c,
    B = sum_c q_c w_c w_c^T, q = gamma rstd^3 (S . w_c) / L and
    m = sum_c A_c sum_L D_c / L; the input's gradient is col2im of dP."""

    @staticmethod
    def forward(ctx, x, weight, bias, gamma, beta, eps, conv, pool, channels_last):
        scaled, pc1, cov, rstd, hw = _scaled(x, weight, gamma, beta, eps, conv, blocks=False)
        r = _product(scaled, pc1, hw, channels_last).relu_()
        ctx.save_for_backward(r, pc1, cov, rstd, weight, gamma)
        ctx.has_bias, ctx.conv, ctx.in_size, ctx.channels_last = bias is not None, conv, x.shape[-2:], channels_last
        ctx.set_materialize_grads(False)  # an unused output's gradient stays None, not a tensor of zeros
        return r, pool(r)

    @staticmethod
    def backward(ctx, grad_r, grad_out):
        r, pc1, cov, rstd, weight, gamma = ctx.saved_tensors
        n, c, h, w = r.shape
        if ctx.channels_last:   # D as (N, L, C): the pooled gradient / 4 spread over its 2x2 block
            g = torch.zeros_like(r) if grad_out is None else (grad_out * 0.25).permute(0, 2, 3, 1)[
                :, :, None, :, None].expand(n, h // 2, 2, w // 2, 2, c).reshape(n, h, w, c).permute(0, 3, 1, 2)
        else:
            g = torch.zeros_like(r) if grad_out is None else (grad_out * 0.25).repeat_interleave(2, -1) \
                .repeat_interleave(2, -2)
        if grad_r is not None:
            g.add_(grad_r)
        d = torch.ops.aten.threshold_backward.grad_input(g, r, 0.0, grad_input=g)   # masked by ReLU, in place
        dlc = d.permute(0, 2, 3, 1).reshape(n, h * w, c) if ctx.channels_last else None
        s = (pc1 @ dlc).transpose(1, 2) if ctx.channels_last else d.view(n, c, h * w) @ pc1.transpose(1, 2)
        dx = None
        if ctx.needs_input_grad[0]:
            wf, pc, L = weight.flatten(1), pc1[:, :-1], h * w
            sw = (s[:, :, :-1] * wf).sum(2)                                       # S . w_c, (N, C)
            a = wf * (rstd * gamma)[:, :, None]                                   # (N, C, K)
            q = rstd.pow(3) * gamma * sw / L
            atd = (dlc @ a).transpose(1, 2) if ctx.channels_last else a.transpose(1, 2) @ d.view(n, c, L)
            bm = (wf.t() * q[:, None, :]) @ wf                                    # (N, K, K)
            const = (a * s[:, :, -1:]).sum(1) / L                                  # (N, K)
            dp = atd - bm @ pc - const[:, :, None]
            dx = F.fold(dp, ctx.in_size, ctx.conv.kernel_size, padding=ctx.conv.padding)
        grads = _param_grads(s, cov, rstd, weight, gamma, ctx.has_bias) if any(ctx.needs_input_grad[1:5]) \
            else (None,) * 4
        return (dx,) + grads + (None, None, None, None)


def _product(scaled, pc1, hw, channels_last, buf=None):
    """The fold's product: NCHW, or channels_last ((N, L, C) memory: NHWC, the
    layout of the convolutions that follow); written into ``buf`` (flat, a
    chunk's size or more) if given. With the "blocks" patches (``_patches``),
    the NCHW planes are laid out by offset within the pooling block."""
    (n, c, _), (h, w) = scaled.shape, hw
    a, b = (pc1.transpose(1, 2), scaled.transpose(1, 2)) if channels_last else (scaled, pc1)
    z = torch.bmm(a, b) if buf is None else torch.bmm(a, b, out=buf[:n * c * h * w].view(n, a.shape[1], b.shape[2]))
    return z.view(n, h, w, c).permute(0, 3, 1, 2) if channels_last else z.view(n, c, h, w)


def pooled(x: torch.Tensor, conv: torch.nn.Conv2d, norm: torch.nn.GroupNorm) -> torch.Tensor:
    """``avg_pool2d(relu(norm(conv(x))), 2)`` (NCHW) for an input that needs no
    gradient; the parameters may need one."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in (conv.weight, norm.weight, norm.bias)):
        return _Stem.apply(x, conv.weight, conv.bias, norm.weight, norm.bias, norm.eps, conv)
    scaled, pc1, _, _, hw = _scaled(x, conv.weight, norm.weight, norm.bias, norm.eps, conv, blocks=True)
    return _relu_pool_blocks(scaled, pc1, hw)[0]


def tap_with_grad(x: torch.Tensor, conv: torch.nn.Conv2d, norm: torch.nn.GroupNorm, pool: torch.nn.Module,
                  channels_last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """``(tap, pool(tap))`` with gradients for the input and the parameters."""
    return _StemTap.apply(x, conv.weight, conv.bias, norm.weight, norm.bias, norm.eps, conv, pool, channels_last)


@torch.no_grad()
def tap(x: torch.Tensor, conv: torch.nn.Conv2d, norm: torch.nn.GroupNorm, pool: torch.nn.Module,
        channels_last: bool, reduce: Callable[..., object] | None = None) -> tuple[object, torch.Tensor]:
    """``(tap, pool(tap))``, tap = ``relu(norm(conv(x)))``, without gradients,
    NCHW or ``channels_last``. ``reduce``: ``(reduce(tap), pool(tap))``,
    computed chunk by chunk in cache: the whole tap is never made. Each
    chunk's tap is made in one reused buffer and pooled first, so ``reduce``
    is called with ``scratch=True``: it may overwrite it."""
    scaled, pc1, _, _, (h, w) = _scaled(x, conv.weight, norm.weight, norm.bias, norm.eps, conv, blocks=False)
    if reduce is None:
        t = _product(scaled, pc1, (h, w), channels_last).relu_()
        return t, pool(t)
    (n, c, _), kept = scaled.shape, []
    chunks = _chunks(n, c * h * w * scaled.element_size())
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    out = torch.empty(n, c, h // 2, w // 2, dtype=scaled.dtype, device=x.device, memory_format=fmt)
    # speed: one buffer for every chunk's planes, so that they stay in cache, and the maps made in place on
    # it (a new tensor per chunk and per map cost ~3x an in-place pass; distillation's real pass of 320
    # images: 172-183 -> 158-162 ms with the in-place maps of stage 2, docs/benchmarks.md)
    buf = scaled.new_empty(chunks[0].stop * c * h * w)
    for sl in chunks:
        t = _product(scaled[sl], pc1[sl], (h, w), channels_last, buf).relu_()
        if channels_last:   # speed: pooled straight into the output (fast.modules.AvgPool2d's own path on this layout)
            torch.ops.aten.avg_pool2d.out(t, [2, 2], [2, 2], out=out[sl])
        else:
            out[sl] = pool(t)
        kept.append(reduce(t, scratch=True))
    return _concat(kept), out


def _concat(parts: list):
    """Chunks' values (tensors, dicts of tensors or None) joined along images."""
    if parts[0] is None:
        return None
    if isinstance(parts[0], dict):
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    return torch.cat(parts)
