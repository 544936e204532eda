"""The encoders' CPU speed modules: each computes what the ``torch.nn`` module it
subclasses computes (tests compare them), faster on a CPU; the measurements
are in docs/benchmarks.md. ``fusable``/``stem_applies`` decide when a stage
runs as the fused first stage (``stem.py``)."""
from __future__ import annotations

import torch
from torch import nn


class ReLU(nn.ReLU):
    """``nn.ReLU(inplace=True)`` (the same values), out of place for bf16/fp16
    inputs. Speed: PyTorch's in-place CPU kernels for bf16 are about 2x slower than
    the out-of-place ones (docs/benchmarks.md, "Speed paths")."""

    def __init__(self):
        super().__init__(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype in (torch.bfloat16, torch.float16):
            return torch.relu(x)  # speed: the out-of-place kernel, 2x faster for bf16 on CPU
        return torch.relu_(x)


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` (same parameters, same result up to float rounding) that
    runs a channels_last input through the CPU kernel in NCHW memory, except
    for a forward-only pass over large images.

    Speed: PyTorch's CPU GroupNorm is slow on channels_last memory, above all
    its backward and its forward on small images; channels_last is kept for
    forward-only passes at 32x32 px and above (docs/benchmarks.md, "Speed
    paths"). Other devices use the native kernel."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.dim() == 4 and not x.is_contiguous():
            backward = torch.is_grad_enabled() and (x.requires_grad or (self.weight is not None
                                                                      and self.weight.requires_grad))
            if backward or x.shape[-2] * x.shape[-1] < 1024:
                x = x.contiguous()  # speed: the CPU kernel's fast path is NCHW
        return super().forward(x)


_POOL_MATRICES: dict[tuple, torch.Tensor] = {}


def _pool_matrix(w: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(2w, w/2) matrix P with x_rows @ P = the 2x2 means of pairs of image rows (cached)."""
    key = (w, dtype, device)
    if key not in _POOL_MATRICES:
        with torch.inference_mode(False):  # a normal tensor: autograd saves it, even if first built in inference mode
            j = torch.arange(w, device=device)
            p = torch.zeros(2 * w, w // 2, dtype=dtype, device=device)
            p[j, j // 2] = 0.25
            p[w + j, j // 2] = 0.25
            _POOL_MATRICES[key] = p
    return _POOL_MATRICES[key]


class AvgPool2d(nn.AvgPool2d):
    """``nn.AvgPool2d(2, 2)`` (the same result up to float rounding), computed on
    the CPU for NCHW inputs as one matrix product.

    Speed: PyTorch's CPU avg_pool2d kernel (and its backward, which zero-fills
    then scatters) is slow on NCHW memory; each pair of image rows (2W values)
    times a fixed (2W, W/2) matrix of 0.25s is the same 2x2 mean, and its
    backward is one product as well (docs/benchmarks.md, "Speed paths").
    channels_last inputs (fast native kernel), other devices and other shapes
    use nn.AvgPool2d."""

    def __init__(self):
        super().__init__(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape if x.dim() == 4 else (0, 0, 1, 1)
        if (x.device.type != "cpu" or x.dim() != 4 or h % 2 or w % 2 or not x.is_contiguous()
                or not x.is_floating_point()):
            return super().forward(x)
        dtype = torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu") else x.dtype
        p = _pool_matrix(w, dtype, x.device)
        return (x.reshape(n * c * h // 2, 2 * w) @ p).view(n, c, h // 2, w // 2)


def dead_after(tap: torch.Tensor, *others: torch.Tensor) -> bool:
    """Whether a tap may be overwritten once reduced: no gradient flows
    through it and it shares no memory with the stage's input or output."""
    if torch.is_grad_enabled() and tap.requires_grad:
        return False
    return all(tap.untyped_storage().data_ptr() != o.untyped_storage().data_ptr() for o in others)


def is_channels_last(t: torch.Tensor) -> bool:
    return not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def fusable(body: nn.Module, post: nn.Module) -> bool:
    """conv (few input channels, stride 1) -> instance norm -> ReLU, then 2x2 average pooling."""
    if not (isinstance(body, nn.Sequential) and len(body) == 3 and isinstance(post, AvgPool2d)):
        return False
    conv, norm, act = body
    return (type(conv) is nn.Conv2d and conv.in_channels <= 4 and conv.groups == 1 and conv.stride == (1, 1)
            and conv.dilation == (1, 1) and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and type(norm) is GroupNorm and norm.affine and norm.num_groups == norm.num_channels
            and type(act) is ReLU)


def stem_applies(x: torch.Tensor, conv: nn.Conv2d) -> bool:
    """fp32/fp64 on the CPU, no autocast, an even output size, outside
    torch.func transforms (gradient matching's vmap)."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dim() != 4:
        return False
    if torch.is_autocast_enabled("cpu") or torch._C._functorch.peek_interpreter_stack() is not None:
        return False
    k, p = conv.kernel_size, conv.padding
    return (x.shape[-2] + 2 * p[0] - k[0] + 1) % 2 == 0 and (x.shape[-1] + 2 * p[1] - k[1] + 1) % 2 == 0
