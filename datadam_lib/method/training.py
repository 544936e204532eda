"""What every way of training an evaluation model shares (``evaluate.py`` one
model at a time, ``ensemble.py`` K models as one grouped network): the
training-time augmentations, the learning-rate schedule, each model's
generator, and the speed settings (memory format, bf16 autocast, keeping freed
memory) that the training loops and the distillation step use."""
from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sys
import warnings
from typing import Callable

import torch

from . import augment, config
from .config import EvalConfig
from .data import RealData

# ---------------------------------------------------------------- augmentation at training time

Augment = Callable[[torch.Tensor, torch.Generator, RealData], torch.Tensor]


def _torchvision_policy(make: Callable[[], Callable]) -> Augment:
    """AutoAugment / RandAugment (torchvision) for Fig. 4. They work on uint8
    pixels and draw one op per call, so this runs per image (the one place with
    a loop over samples; it is a baseline, not the method). torchvision draws
    from the global RNG, so its state is forked and seeded from our generator
    and restored afterwards."""
    def run(x: torch.Tensor, g: torch.Generator, data: RealData) -> torch.Tensor:
        policy = make()
        pix = (data.to_pixels(x) * 255).round().to(torch.uint8)
        seed = int(torch.randint(2**62, (1,), generator=g, device=g.device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            out = torch.stack([policy(p) for p in pix])
        return data.from_pixels(out.float() / 255)
    return run


def _v2():
    from torchvision.transforms import v2
    return v2


def _dsa(x: torch.Tensor, g: torch.Generator, data: RealData) -> torch.Tensor:
    """``augment.per_sample`` with the same draws in the same order (so the same
    result, bit for bit), keeping the batch's op as a tensor: no host sync per
    step on a GPU (per_sample reads the op back with ``int()``)."""
    dsa = augment.DSAConfig()
    op = torch.randint(len(dsa.ops), (1,), generator=g, device=g.device)
    params = augment.sample(dsa, x.shape[0], x.shape[-1], g, op=0)  # op=0: no draw, replaced below
    params["op"] = op.expand(x.shape[0])
    return augment.apply(x, params, dsa)


EVAL_AUGMENTS: dict[str, Augment] = {
    "dsa": _dsa,
    "autoaugment": _torchvision_policy(lambda: _v2().AutoAugment(_v2().AutoAugmentPolicy.CIFAR10)),
    "randaugment": _torchvision_policy(lambda: _v2().RandAugment()),
    "none": lambda x, g, data: x,
}

# ---------------------------------------------------------------- schedules


def lr_at(cfg: EvalConfig, epoch: int) -> float:
    """step: StepLR(step_size, gamma) (Table 2); half: x0.1 at epochs // 2 (DC/DSA/DM, released)."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    if cfg.schedule == "half":
        return cfg.lr * (0.1 if epoch >= cfg.epochs // 2 else 1.0)
    raise ValueError(f"unknown schedule {cfg.schedule!r}; use 'step' or 'half'")


def model_generator(seed: int, index: int, device) -> torch.Generator:
    """The generator of evaluation model ``index`` of a run with ``seed``."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + index)




# ---------------------------------------------------------------- speed settings

AUTOCAST = config.AUTOCAST  # the names config validates
_warned: set[str] = set()


def bf16_supported(device: torch.device) -> bool:
    """Whether ``device`` computes bf16 natively: a CUDA GPU that reports it, or
    a CPU with AVX512-BF16 or AMX (oneDNN's bf16 kernels); elsewhere bf16 is
    emulated and slower than fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        checks = [getattr(torch.cpu, f, None) for f in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
        return any(bool(f()) for f in checks if f is not None)
    return False


def autocast(mode: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The context for a ``*.autocast`` config value: "none" (fp32) or "bf16"
    (``torch.autocast`` to bfloat16: convolutions and matrix products in bf16,
    weights, optimizer and losses in fp32). Where ``device`` has no native bf16
    it falls back to fp32, with a warning (the results are then fp32 ones)."""
    if mode not in AUTOCAST:
        raise ValueError(f"unknown autocast {mode!r}; choose one of {AUTOCAST}")
    if mode == "none":
        return contextlib.nullcontext()
    if not bf16_supported(device):
        if device.type not in _warned:
            _warned.add(device.type)
            warnings.warn(f"autocast='bf16' asked for, but {device.type} has no native bf16: running in fp32",
                          stacklevel=3)
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def deterministic(device: torch.device):
    """Same seed + same device -> the same result (DEVELOPERS.md). CPU kernels
    are deterministic already. On CUDA, cuDNN may pick convolution algorithms
    that accumulate with atomics (or, with ``benchmark``, different algorithms
    from run to run): inside this context it picks deterministic ones, and the
    caller's settings come back afterwards (no global state is left changed).
    DSA's grid_sample backward is the other atomic op on the path
    (``augment.warp``)."""
    if device.type != "cuda":
        yield
        return
    cudnn = torch.backends.cudnn
    saved = cudnn.deterministic, cudnn.benchmark
    cudnn.deterministic, cudnn.benchmark = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark = saved


def memory_format(device: torch.device) -> torch.memory_format:
    """The activations' layout for training on ``device``. GPU: channels_last
    (faster convolutions). CPU: NCHW: one evaluation step (ConvNet-3, instance
    norm, 100 images, 1 thread) took 323 ms on NCHW and 342 ms on
    channels_last in fp32 with fast.modules.GroupNorm's NCHW path, and the
    channels_last CPU kernels of GroupNorm and bf16 are far slower
    (docs/benchmarks.md)."""
    return torch.channels_last if device.type == "cuda" else torch.contiguous_format


_malloc_kept = False


def keep_freed_memory() -> None:
    """Linux/glibc: keep freed memory in the process instead of returning it to
    the system (idempotent, for the rest of the process; opt out with
    ``DATADAM_MALLOC=system``).

    Speed: glibc serves every allocation above 32 MB with a fresh ``mmap`` and
    unmaps it when freed, so each training step page-faults its large
    activations in again: writing a new 52 MB tensor took 21 ms, 8 ms once
    the memory is kept (1 thread), and a whole evaluation step 394 -> 342 ms.
    The cost: the process holds on to its peak memory until it exits."""
    global _malloc_kept
    if _malloc_kept or os.environ.get("DATADAM_MALLOC") == "system":
        return
    _malloc_kept = True
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return
    M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_MAX = -1, -2, -4
    libc.mallopt(M_MMAP_MAX, 0)             # no mmap: large blocks come from the heap and go back to it
    libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1)  # keep up to 2 GB of free heap top (mallopt takes an int)
    libc.mallopt(M_TOP_PAD, 64 * 2**20)     # grow the heap 64 MB at a time
