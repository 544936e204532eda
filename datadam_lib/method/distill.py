"""Distillation: learn ``ipc`` synthetic images per class by attention matching
(main paper Alg. 1; supplement Table 2). :func:`distill` is the loop: start the
images (``init.py``), then per iteration one :func:`step.step` (the iteration
itself, with its reference form: ``step.py``) and one SGD step (momentum 0.5)
on the images; snapshots, progress, and checkpoints with Ctrl-C between
iterations (``checkpoint.py``); the result is a :class:`SyntheticSet`
(``synthetic.py``).

All randomness comes from one ``torch.Generator`` seeded with ``cfg.seed``; a
checkpoint stores its state, so resuming reproduces the uninterrupted run.
"""
from __future__ import annotations

import math
import os
import time

import torch

from .checkpoint import Interrupted, resume, stop_between_iterations
from .checkpoint import save as save_checkpoint
from .config import Config
from .data import DataError, RealData, dataset_identity
from .init import INITS
from .io import device_description, manifest
from .losses import Objective
from .models import build_encoder
from .step import GraphedStep, Shard, auto_chunk, step
from .synthetic import SyntheticSet
from .training import deterministic

__all__ = ["Interrupted", "Shard", "SyntheticSet", "check_config", "distill"]


def check_config(cfg: Config, data: RealData) -> int:
    """Validate ``cfg`` against ``data``; return the real batch per class."""
    d = cfg.distill                  # each field's own range was checked by DistillConfig
    smallest = int(data.counts.min())
    if d.init != "noise" and d.ipc > smallest:
        k = int(data.counts.argmin())
        raise DataError(f"ipc {d.ipc} is larger than class {k} ({data.classes[k]!r}) of {data.name!r}, "
                        f"which has {smallest} training images; use ipc <= {smallest} or init='noise'")
    # A class smaller than batch_real contributes all its images (as released).
    return min(d.batch_real, smallest)


def distill(cfg: Config, data: RealData, checkpoint: str | None = None, checkpoint_every: int = 0,
            snapshot_at: tuple[int, ...] = (), progress: bool = True,
            stop_after: int | None = None, shard: Shard = Shard(), cuda_graph: bool | None = None) -> SyntheticSet:
    """Run DataDAM for ``cfg`` on ``data``; return the synthetic set.

    checkpoint: a file path; when it exists the run resumes from it (if it was
    written for this config and these data), and every ``checkpoint_every``
    iterations (and on Ctrl-C) it is rewritten atomically.
    snapshot_at: iterations at which to keep a copy of the images (0 = init).
    stop_after: stop (after checkpointing) once this many iterations are done
    in total, as an interruption would; used to test resuming.
    shard: compute only a slice of the classes (every random draw is still made
    for all classes, so any sharding gives the same result).
    cuda_graph: replay each step's work as one CUDA graph (:class:`GraphedStep`;
    the same set, bit for bit, checked by benchmarks/gpu_check.py); None
    (default): on CUDA devices."""
    from tqdm.auto import tqdm

    d, dev = cfg.distill, data.device
    batch_real = check_config(cfg, data)
    K, ipc = data.num_classes, d.ipc
    lo, hi = shard.lo, shard.hi or K
    objective = Objective(d.method, data.im_size)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    t0 = time.time()

    images = INITS[d.init](data, ipc, g, cfg)[lo * ipc:hi * ipc].detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([images], lr=d.image_lr(), momentum=d.momentum)
    encoder = build_encoder(d.encoder, data.channels, K, data.im_size, g, dev)
    encoder.requires_grad_(False).train(d.encoder_train_mode)
    encoder = encoder.to(memory_format=torch.channels_last)  # speed: ~25% faster convs on CPU
    losses: list[float] = []
    # clone: with one process gather is the identity and .cpu() would alias the live images
    snapshots = {0: shard.gather(images.detach()).cpu().clone()} if 0 in snapshot_at else {}
    start, earlier_s = 0, 0.0   # iterations and wall time of earlier sessions of this run
    meta = {"config": cfg.to_json(), "dataset": dataset_identity(data), "resumed_at": []} if checkpoint else {}
    if checkpoint and os.path.isfile(checkpoint):
        start, losses, snapshots, earlier_s, resumed_at = resume(checkpoint, cfg, meta["dataset"], images, opt, g,
                                                                   lo * ipc, hi * ipc)
        meta["resumed_at"] = resumed_at + [start]

    def wall_time() -> float:
        return round(earlier_s + time.time() - t0, 3)

    # BatchNorm in train mode normalises over the whole pass: the release puts
    # every class in one pass, so automatic chunking is for other norms only.
    batch_stats = d.encoder_train_mode and any(isinstance(m, torch.nn.BatchNorm2d) for m in encoder.modules())
    chunk = d.class_chunk or (hi - lo if batch_stats else
                              min(hi - lo, auto_chunk(encoder, data, batch_real + ipc, d.memory_budget_mb)))
    end = d.iterations if stop_after is None else min(d.iterations, stop_after)
    ranks = f" x{shard.size} ranks" if shard.size > 1 else ""
    pending: list[torch.Tensor] = []   # detached losses, read back to the host only every 10 iterations
    graphed = GraphedStep(encoder, objective, data, images, batch_real, d.dsa, chunk, (lo, hi),
                          d.autocast) if dev.type == "cuda" and cuda_graph is not False else None

    def flush() -> None:
        if pending:
            losses.extend(shard.reduce_sum(torch.stack(pending)).tolist())
            pending.clear()
            if not math.isfinite(losses[-1]):
                raise FloatingPointError(f"the loss became {losses[-1]} by iteration {len(losses)}; "
                                         "lower distill.lr_images or check the data for NaNs")

    def save(done: int) -> None:
        flush()
        save_checkpoint(checkpoint, done, shard, images, opt, g, losses, snapshots, {**meta, "wall_time_s": wall_time()})

    # one process only: ranks could see Ctrl-C at different iterations. The
    # handler is in place before the progress bar appears, so a Ctrl-C seen
    # after the bar always ends with a checkpoint.
    with stop_between_iterations(shard.size == 1) as stop, deterministic(data.device):
        bar = tqdm(range(start, end), initial=start, total=d.iterations, disable=not progress or not shard.writer,
                   desc=f"DataDAM {data.name} ipc={ipc}{ranks}", unit="it")
        for it in bar:
            opt.zero_grad(set_to_none=True)
            pending.append(graphed(g) if graphed else step(encoder, objective, data, images, batch_real, d.dsa, g,
                                                            chunk, classes=(lo, hi), precision=d.autocast))
            opt.step()
            done = it + 1
            if done in snapshot_at:
                snapshots[done] = shard.gather(images.detach()).cpu().clone()
            if done % 10 == 0 or done == end:
                flush()
                bar.set_postfix(loss=f"{losses[-1]:.4g}")
            saves = bool(checkpoint and checkpoint_every)
            if saves and (done % checkpoint_every == 0 or done == end or stop):
                save(done)
            if stop:
                bar.close()
                raise Interrupted(done, checkpoint if saves else None)
    bar.close()
    flush()
    labels = torch.arange(K, device=dev).repeat_interleave(ipc)
    info = manifest(seed=cfg.seed, device=device_description(dev), wall_time_s=wall_time(),
                    resumed_at=meta.get("resumed_at", []), iterations=end, dataset=data.name, preset=cfg.preset,
                    scale=cfg.scale, world_size=shard.size, cuda_graph=bool(graphed and graphed.graph is not None))
    return SyntheticSet(shard.gather(images.detach()), labels, data.classes, cfg, losses, snapshots, info)
