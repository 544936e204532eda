"""One DataDAM iteration (main paper Alg. 1; supplement Table 2).

:func:`reference_step` is the iteration as the paper writes it, in one pass
and without speed paths: the tests' oracle. :func:`step` is the same
iteration as the kit runs it: the draws first (:func:`draw`), then the
deterministic rest (:func:`matched`) class chunk by class chunk, each tap
reduced to its maps as it is made, optionally under bf16 autocast, and on
CUDA replayed as one graph (:class:`GraphedStep`).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import torch

from . import augment
from .data import RealData
from .losses import Objective, Stats
from .models import Encoder, reset_parameters
from .training import autocast, keep_freed_memory


@dataclass(frozen=True)
class Shard:
    """The classes ``lo..hi-1`` this process distils, and how its results
    combine with the other processes' (``distributed.py`` builds one per rank
    under torchrun). The default is one process that owns every class."""
    lo: int = 0
    hi: int | None = None                                    # None: every class
    gather: Callable[[torch.Tensor], torch.Tensor] = lambda x: x   # own class rows -> all classes
    reduce_sum: Callable[[torch.Tensor], torch.Tensor] = lambda t: t
    barrier: Callable[[], None] = lambda: None
    writer: bool = True                                      # writes checkpoints and shows progress
    size: int = 1


def reference_step(encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor, batch_real: int,
                   dsa: augment.DSAConfig | None, g: torch.Generator) -> torch.Tensor:
    """One iteration, read top to bottom (fp32, every class in one pass);
    gradients accumulate in ``images.grad``; returns the detached loss.
    :func:`step` gives the same loss and gradient (tests/test_step.py)."""
    K = data.num_classes
    if objective.needs_encoder:
        reset_parameters(encoder, g)                        # 1. a freshly initialised encoder, frozen
    real_idx = data.sample_indices(batch_real, g)          # 2. batch_real real images per class, (K, B)
    params = augment.sample(dsa, K, data.im_size, g) if dsa is not None else None
    real = data.x_train[real_idx.flatten()]
    syn = images
    if params is not None:                                 #    siamese DSA: class k's real and synthetic
        real, syn = augment.siamese(dsa, [real, syn], params)   # images share parameter row k
    taps_r = emb_r = taps_s = emb_s = None
    if objective.needs_encoder:
        with torch.no_grad():                              # 3. the real images' pass needs no gradient
            taps_r, emb_r = encoder.forward_features(real)
        taps_s, emb_s = encoder.forward_features(syn)       #    the synthetic images' pass does
    real_stats = objective.statistics(real, taps_r, emb_r, K)   # class means of the attention maps and
    syn_stats = objective.statistics(syn, taps_s, emb_s, K)     # of the embedding
    loss = objective.loss(real_stats, syn_stats)           # 4. loss_scale * (L_SAM + lambda * L_MMD)
    loss.backward()                                        #    the images' gradient (the caller steps SGD)
    return loss.detach()


@torch.inference_mode()
def auto_chunk(encoder: Encoder, data: RealData, per_class: int, budget_mb: int) -> int:
    """Classes per pass so that one pass's activations (about three live
    tensors per tap for each of ``per_class`` images per class) stay under
    ``budget_mb``: peak memory then stays flat as the number of classes grows.
    All classes at once when they fit (always the case for CIFAR-10 at the
    released batch_real 64, so BatchNorm statistics match the release)."""
    taps, emb = encoder.forward_features(data.x_train[:1])
    per_image = 4 * 3 * (sum(t.numel() for t in taps) + emb.numel())
    return max(1, min(data.num_classes, budget_mb * 2**20 // (per_image * per_class)))


def step(encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor, batch_real: int,
         dsa: augment.DSAConfig | None, g: torch.Generator, chunk: int,
         classes: tuple[int, int] | None = None, precision: str = "none") -> torch.Tensor:
    """One DataDAM iteration's forward/backward (gradients accumulate in
    ``images.grad``); returns the detached loss. Every random draw happens
    before the class-chunk loop, so chunking changes memory, not results
    (exactly so for encoders without BatchNorm). ``classes=(lo, hi)``: compute
    only classes lo..hi-1, whose images ``images`` then holds; the draws still
    cover every class (class-sharded runs, distributed.py). ``precision``:
    ``DistillConfig.autocast`` ("none" | "bf16": the encoder's passes under bf16
    autocast, the statistics and the loss in fp32)."""
    real_idx, params = draw(encoder, objective, data, batch_real, dsa, g)
    return matched(encoder, objective, data, images, real_idx, params, dsa, chunk, classes, precision)


def draw(encoder: Encoder, objective: Objective, data: RealData, batch_real: int,
         dsa: augment.DSAConfig | None, g: torch.Generator) -> tuple[torch.Tensor, augment.Params | None]:
    """An iteration's random draws, in order: fresh encoder weights (in place),
    ``batch_real`` real indices per class (K, B), one DSA parameter row per class."""
    if objective.needs_encoder:
        reset_parameters(encoder, g)
    real_idx = data.sample_indices(batch_real, g)                      # (K, B)
    params = augment.sample(dsa, data.num_classes, data.im_size, g) if dsa is not None else None
    return real_idx, params


def matched(encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor, real_idx: torch.Tensor,
            params: augment.Params | None, dsa: augment.DSAConfig | None, chunk: int,
            classes: tuple[int, int] | None = None, precision: str = "none") -> torch.Tensor:
    """The draws' deterministic rest (``step`` without ``draw``): siamese DSA,
    both passes, the loss, backward into ``images.grad``; no host sync, so a
    CUDA graph can replay it (:class:`GraphedStep`)."""
    lo, hi = classes or (0, data.num_classes)
    keep_freed_memory()  # speed: no page faults for each step's large activations (Linux; training.py)
    syn = images.view(hi - lo, -1, *images.shape[1:])
    total = images.new_zeros(())
    for c0 in range(lo, hi, chunk):
        kc = min(chunk, hi - c0)
        real, fake = data.x_train[real_idx[c0:c0 + kc].flatten()], syn[c0 - lo:c0 - lo + kc].flatten(0, 1)
        if params is not None:   # siamese: class k's real and synthetic images share parameter row k
            real, fake = augment.siamese(dsa, [real, fake], params, classes=(c0, c0 + kc))
        loss = objective.loss(_stats(encoder, objective, real, kc, inference=True, precision=precision),
                              _stats(encoder, objective, fake, kc, precision=precision))
        loss.backward()
        total += loss.detach()
    return total


class GraphedStep:
    """``step`` with its deterministic part (:func:`matched`) captured once as
    a CUDA graph and replayed: the draws run eagerly from the generator as in
    ``step`` (the same numbers in the same order, so checkpoints and resuming
    are unchanged), are copied into the graph's fixed input tensors, and one
    replay launches the whole siamese DSA, both passes, the loss and backward.

    Speed: on a GPU the step is bound by kernel launches, not arithmetic
    (hundreds of small kernels; docs/benchmarks.md). The gradient lands in a
    tensor of the graph's memory, which ``images.grad`` points to after each
    call. If capturing fails, it warns and runs every step eagerly from then on."""

    def __init__(self, encoder: Encoder, objective: Objective, data: RealData, images: torch.Tensor,
                 batch_real: int, dsa: augment.DSAConfig | None, chunk: int,
                 classes: tuple[int, int] | None = None, precision: str = "none"):
        self.encoder, self.objective, self.data, self.images = encoder, objective, data, images
        self.batch_real, self.dsa, self.chunk, self.classes, self.precision = batch_real, dsa, chunk, classes, precision
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False
        self.real_idx: torch.Tensor | None = None        # the graph's inputs, filled from each call's draws
        self.params: augment.Params | None = None

    def _matched(self, real_idx: torch.Tensor, params: augment.Params | None) -> torch.Tensor:
        return matched(self.encoder, self.objective, self.data, self.images, real_idx, params, self.dsa,
                       self.chunk, self.classes, self.precision)

    def __call__(self, g: torch.Generator) -> torch.Tensor:
        real_idx, params = draw(self.encoder, self.objective, self.data, self.batch_real, self.dsa, g)
        if self.failed:
            return self._matched(real_idx, params)
        if self.graph is None:
            self.real_idx = real_idx.clone()
            self.params = {k: v.clone() for k, v in params.items()} if params is not None else None
            try:
                self._capture()
            except RuntimeError as e:  # an op that cannot be captured (a host sync): run eagerly from now on
                warnings.warn(f"CUDA graph capture of the distillation step failed ({e}); running it eagerly",
                              stacklevel=2)
                self.failed, self.images.grad = True, None
                torch.cuda.synchronize(self.images.device)
                return self._matched(real_idx, params)
        else:
            self.real_idx.copy_(real_idx)
            for k, v in (params or {}).items():
                self.params[k].copy_(v)
        self.graph.replay()
        self.images.grad = self.grad
        return self.loss.clone()

    def _capture(self) -> None:
        """Warm up on a side stream (cuDNN/cuBLAS handles, autograd's
        buffers; what CUDA graphs need before a capture), then capture; the
        warm-up's gradients are thrown away."""
        side = torch.cuda.Stream(self.images.device)
        side.wait_stream(torch.cuda.current_stream(self.images.device))
        with torch.cuda.stream(side):
            for _ in range(2):
                self._matched(self.real_idx, self.params)
                self.images.grad = None
        torch.cuda.current_stream(self.images.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            self.loss = self._matched(self.real_idx, self.params)
        self.graph, self.grad = graph, self.images.grad


def _stats(encoder, objective: Objective, x, kc: int, inference: bool = False, precision: str = "none") -> Stats:
    with torch.inference_mode(inference):
        taps, emb = None, None
        if objective.needs_encoder:
            # each tap reduced to its maps as it is made (the first stage's chunk by chunk: models.Stage.run);
            # under bf16 the maps are made after autocast, from fp32 copies of the taps
            reduce = objective.reduce_tap if precision == "none" else None
            with autocast(precision, x.device):  # bf16 where asked for and native (training.autocast)
                taps, emb = encoder.forward_features(x, reduce=reduce)
            if precision != "none":  # statistics and loss in fp32
                taps, emb = [objective.reduce_tap(i, len(taps), t.float()) for i, t in enumerate(taps)], emb.float()
        stats = objective.means(x, taps, emb, kc)
    if inference:  # small class means leave inference mode as normal tensors
        stats = {k: [t.clone() for t in v] for k, v in stats.items()}
    return stats
