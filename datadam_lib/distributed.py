"""Class-sharded distillation across processes with ``torch.distributed``.

DataDAM's loss is a sum over classes (L_SAM and L_MMD of losses.py both sum
per-class terms; main paper Eq. 4-6) and every synthetic image belongs to one
class, so the work splits by class with no gradient communication:

- every rank keeps the run's generator (seeded by ``cfg.seed``) and makes every
  random draw that :func:`~datadam_lib.distill.distill` makes, for all classes
  (initial images, the encoder, and per iteration the encoder's redraw, the
  real batch indices and the DSA parameters): they are cheap, and drawing them
  all keeps every rank's generator in step with the single-process run;
- rank ``r`` owns the contiguous class slice :func:`class_slice` and its
  ``ipc`` images per class; it runs the forward/backward only for those classes
  (``distill.step(..., classes=(lo, hi))``) and steps an SGD optimizer over its
  own images (momentum is elementwise, so per-slice optimizers equal one global
  one);
- the loss is all-reduced (sum) for logging, and the images are all-gathered at
  the end (and for snapshots and checkpoints).

With an encoder without BatchNorm (the ``paper`` preset's instance norm) the
result equals the single-process run with the same seed up to float rounding.
BatchNorm in train mode (the ``released`` preset) normalises over the batch a
rank sees, i.e. over its class slice only, so it differs from the
single-process run exactly as ``distill.class_chunk`` does.

Checkpoints use ``distill``'s format (rank 0 writes the gathered images and
momentum), so a sharded run can resume a single-process checkpoint and vice
versa, with any number of ranks.

    torchrun --nproc_per_node=4 -m datadam_lib.distributed --dataset imagenet64 --ipc 10 --out runs/in1k-10
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings

import torch
import torch.distributed as dist
from torch import nn

from .config import Config
from .data import RealData
from .distill import INITS, Objective, SyntheticSet, auto_chunk, check_config, step
from .io import CheckpointError, atomic_save, device_description, load_checked, manifest
from .models import build_encoder


def class_slice(num_classes: int, rank: int, world_size: int) -> tuple[int, int]:
    """The classes ``lo..hi-1`` that ``rank`` owns: contiguous, sizes differ by at most one."""
    return num_classes * rank // world_size, num_classes * (rank + 1) // world_size


def _gather(x: torch.Tensor, num_classes: int, world: int, group) -> torch.Tensor:
    """All-gather each rank's class-major slice ``x`` ((hi - lo) * n, ...) into
    the full (num_classes * n, ...) tensor. Slices are padded to one size
    because ``all_gather`` needs equal shapes on every backend."""
    rank = dist.get_rank(group)
    lo, hi = class_slice(num_classes, rank, world)
    per_class = x.shape[0] // (hi - lo)
    width = -(-num_classes // world) * per_class
    padded = x.new_zeros((width, *x.shape[1:]))
    padded[:len(x)] = x.detach()
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded, group=group)
    sizes = [(b - a) * per_class for a, b in (class_slice(num_classes, r, world) for r in range(world))]
    return torch.cat([p[:s] for p, s in zip(parts, sizes)])


def _has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def distill_sharded(cfg: Config, data: RealData, checkpoint: str | None = None, checkpoint_every: int = 0,
                    snapshot_at: tuple[int, ...] = (), progress: bool = True, stop_after: int | None = None,
                    group: dist.ProcessGroup | None = None) -> SyntheticSet:
    """:func:`~datadam_lib.distill.distill` with the classes split over the
    ranks of ``group`` (default: the world). Call it on every rank, with the
    same ``cfg`` and the same dataset on each rank's device; each rank returns
    the full synthetic set. ``torch.distributed`` must be initialised (torchrun
    plus ``init_process_group``, or :func:`main`). Arguments as in ``distill``;
    only rank 0 writes ``checkpoint``, which every rank reads on resume (use a
    shared filesystem across nodes)."""
    from tqdm.auto import tqdm

    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("distill_sharded needs torch.distributed initialised: run under torchrun "
                           "(python -m datadam_lib.distributed) or call init_process_group first")
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    d, dev = cfg.distill, data.device
    batch_real = check_config(cfg, data)
    K, ipc = data.num_classes, d.ipc
    if world > K:
        raise ValueError(f"{world} ranks but {data.name!r} has only {K} classes; use at most {K} processes")
    lo, hi = class_slice(K, rank, world)
    objective = Objective(d.method, data.im_size)
    g = torch.Generator(device=dev).manual_seed(cfg.seed)
    t0 = time.time()

    # The same draws as distill(), in the same order, on every rank.
    images = INITS[d.init](data, ipc, g, cfg)[lo * ipc:hi * ipc].detach().clone().requires_grad_(True)
    opt = torch.optim.SGD([images], lr=d.image_lr(), momentum=d.momentum)
    encoder = build_encoder(d.encoder, data.channels, K, data.im_size, g, dev)
    encoder.requires_grad_(False).train(d.encoder_train_mode)
    encoder = encoder.to(memory_format=torch.channels_last)
    if world > 1 and d.encoder_train_mode and _has_batchnorm(encoder) and rank == 0:
        warnings.warn("BatchNorm in train mode normalises over each rank's classes only: the sharded result "
                      "differs from the single-process run (use an encoder without BatchNorm for equality)")
    gather = lambda x: _gather(x, K, world, group)  # noqa: E731
    losses: list[float] = []
    snapshots = {0: gather(images).cpu()} if 0 in snapshot_at else {}
    start = 0
    if checkpoint and os.path.isfile(checkpoint):
        start, losses, snapshots = _resume(checkpoint, cfg, images, opt, g, lo * ipc, hi * ipc)

    chunk = d.class_chunk or min(hi - lo, auto_chunk(encoder, data, batch_real + ipc, d.memory_budget_mb))
    end = d.iterations if stop_after is None else min(d.iterations, stop_after)
    bar = tqdm(range(start, end), initial=start, total=d.iterations, disable=not progress or rank != 0,
               desc=f"DataDAM {data.name} ipc={ipc} x{world} ranks", unit="it")
    pending: list[torch.Tensor] = []

    def flush() -> None:
        if pending:
            total = torch.stack(pending)
            dist.all_reduce(total, group=group)
            losses.extend(total.tolist())
            pending.clear()
            if not math.isfinite(losses[-1]):
                raise FloatingPointError(f"the loss became {losses[-1]} by iteration {len(losses)}; "
                                         "lower distill.lr_images or check the data for NaNs")

    for it in bar:
        opt.zero_grad(set_to_none=True)
        pending.append(step(encoder, objective, data, images, batch_real, d.dsa, g, chunk, classes=(lo, hi)))
        opt.step()
        done = it + 1
        if done in snapshot_at:
            snapshots[done] = gather(images).cpu()
        if done % 10 == 0 or done == end:
            flush()
            bar.set_postfix(loss=f"{losses[-1]:.4g}")
        if checkpoint and checkpoint_every and (done % checkpoint_every == 0 or done == end):
            flush()
            _save(checkpoint, done, gather, images, opt, g, cfg, losses, snapshots, rank, group)
    bar.close()
    flush()
    full = gather(images)
    labels = torch.arange(K, device=dev).repeat_interleave(ipc)
    info = manifest(seed=cfg.seed, device=device_description(dev), wall_time_s=round(time.time() - t0, 3),
                    iterations=end, dataset=data.name, preset=cfg.preset, scale=cfg.scale, world_size=world)
    return SyntheticSet(full, labels, data.classes, cfg, losses, snapshots, info)


def _save(path: str, done: int, gather, images: torch.Tensor, opt: torch.optim.Optimizer, g: torch.Generator,
          cfg: Config, losses: list[float], snapshots: dict, rank: int, group) -> None:
    """Write ``distill``'s checkpoint format from rank 0: the gathered images and
    momentum buffer (every rank takes part in the gathers), then a barrier so no
    rank runs ahead of a checkpoint that is not yet on disk."""
    state = opt.state_dict()
    full_images = gather(images).cpu()
    buf = state["state"].get(0, {}).get("momentum_buffer")
    if isinstance(buf, torch.Tensor):
        state["state"][0] = {**state["state"][0], "momentum_buffer": gather(buf).cpu()}
    if rank == 0:
        atomic_save({"iteration": done, "images": full_images, "optimizer": state,
                     "generator": g.get_state().cpu(), "config": cfg.to_json(), "losses": list(losses),
                     "snapshots": snapshots}, path)
    dist.barrier(group=group)


def _resume(path: str, cfg: Config, images: torch.Tensor, opt: torch.optim.Optimizer, g: torch.Generator,
            a: int, b: int):
    """Load a (sharded or single-process) checkpoint and keep rows ``a..b-1``."""
    ck = load_checked(path, "checkpoint", ("iteration", "images", "optimizer", "generator", "config"))
    if ck["config"] != cfg.to_json():
        raise CheckpointError(f"checkpoint {path} was written for a different config; "
                              "delete it or use another output directory")
    with torch.no_grad():
        images.copy_(ck["images"][a:b])
    state = ck["optimizer"]
    buf = state["state"].get(0, {}).get("momentum_buffer")
    if isinstance(buf, torch.Tensor):
        state["state"][0] = {**state["state"][0], "momentum_buffer": buf[a:b]}
    opt.load_state_dict(state)
    g.set_state(ck["generator"])
    return int(ck["iteration"]), list(ck.get("losses", [])), dict(ck.get("snapshots", {}))


# ---------------------------------------------------------------- torchrun entry point

def _device(requested: str) -> torch.device:
    """This rank's device: ``cuda`` means ``cuda:$LOCAL_RANK``."""
    dev = torch.device(requested)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return dev


def cmd_distill(a) -> None:
    """Distil under torchrun: every rank loads the dataset (rank 0 first, so a
    download or a ZCA fit happens once), runs :func:`distill_sharded`, and
    rank 0 writes ``--out``."""
    from .__main__ import _config
    from .data import load_dataset
    cfg = _config(a)
    rank = dist.get_rank()
    dev = _device(a.device)
    if rank == 0:
        try:
            data = load_dataset(cfg.dataset, a.root, a.download, dev)
        finally:  # release the others even on failure: they then report the same error themselves
            dist.barrier()
    else:
        dist.barrier()
        data = load_dataset(cfg.dataset, a.root, a.download, dev)
    ckpt = a.out.rstrip("/") + ".checkpoint.pt"
    syn = distill_sharded(cfg, data, checkpoint=ckpt, checkpoint_every=a.checkpoint_every,
                          progress=not a.no_progress)
    if rank == 0:
        syn.save(a.out)
        if os.path.exists(ckpt):
            os.remove(ckpt)
        print(f"wrote {a.out}: {len(syn.images)} images ({data.num_classes} classes x {cfg.distill.ipc}) "
              f"on {dist.get_world_size()} ranks, final loss "
              f"{syn.losses[-1] if syn.losses else float('nan'):.4g}, {syn.info['wall_time_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """``torchrun --nproc_per_node=N -m datadam_lib.distributed --dataset ... --ipc ... --out DIR``;
    the options are those of ``python -m datadam_lib distill``."""
    from .__main__ import USER_ERRORS, _common
    p = argparse.ArgumentParser(prog="torchrun --nproc_per_node=N -m datadam_lib.distributed",
                                description=main.__doc__)
    _common(p)
    p.add_argument("--out", required=True, help="output directory (rank 0 writes it atomically)")
    p.add_argument("--checkpoint-every", type=int, default=100, help="iterations between checkpoints (0: none)")
    a = p.parse_args(argv)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        print("error: run under torchrun, e.g. torchrun --nproc_per_node=2 -m datadam_lib.distributed "
              "--dataset digits --ipc 10 --out runs/digits-10", file=sys.stderr)
        return 2
    dev = _device(a.device)
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    try:
        cmd_distill(a)
    except Exception as err:  # user errors: one line per rank, no traceback
        if type(err).__name__ not in USER_ERRORS:
            raise
        msg = err.args[0] if isinstance(err, KeyError) and err.args else str(err)
        print(f"error (rank {dist.get_rank()}): {msg}", file=sys.stderr)
        return 2
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
