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
  (``step.step(..., classes=(lo, hi))``) and steps an SGD optimizer over its
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

import os
import sys
import warnings

import torch
import torch.distributed as dist

# Before any init_process_group: torch.distributed.nn.functional's collectives
# take ``group=group.WORLD`` as a default argument, evaluated when the module
# is first imported. The first optimizer a run builds imports it (through
# torch._dynamo); imported after init, those defaults hold the default group,
# destroy_process_group() then cannot free it, its gloo threads outlive it and
# the C++ group is torn down during interpreter exit, which sometimes aborts
# ("terminate called without an active exception", SIGABRT, a failed torchrun).
import torch.distributed.nn  # noqa: F401,E402

from .method.config import Config
from .method.data import RealData
from .method.distill import distill
from .method.step import Shard
from .method.synthetic import SyntheticSet


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


def distill_sharded(cfg: Config, data: RealData, checkpoint: str | None = None, checkpoint_every: int = 0,
                    snapshot_at: tuple[int, ...] = (), progress: bool = True, stop_after: int | None = None,
                    group: dist.ProcessGroup | None = None) -> SyntheticSet:
    """:func:`~datadam_lib.distill.distill` with the classes split over the
    ranks of ``group`` (default: the world). Call it on every rank, with the
    same ``cfg`` and the same dataset on each rank's device; each rank returns
    the full synthetic set. ``torch.distributed`` must be initialised (torchrun
    plus ``init_process_group``, or :func:`main`). Arguments as in ``distill``;
    only rank 0 writes ``checkpoint``, which every rank reads on resume (use a
    shared filesystem across nodes). Import this module before
    ``init_process_group`` (see the import of ``torch.distributed.nn`` above)."""
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("distill_sharded needs torch.distributed initialised: run under torchrun "
                           "(python -m datadam_lib.distributed) or call init_process_group first")
    rank, world, K = dist.get_rank(group), dist.get_world_size(group), data.num_classes
    if world > K:
        raise ValueError(f"{world} ranks but {data.name!r} has only {K} classes; use at most {K} processes")
    d = cfg.distill
    if world > 1 and d.encoder_train_mode and d.encoder.norm == "batch" and rank == 0:
        warnings.warn("BatchNorm in train mode normalises over each rank's classes only: the sharded result "
                      "differs from the single-process run (use an encoder without BatchNorm for equality)")

    def reduce_sum(t: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(t, group=group)
        return t

    lo, hi = class_slice(K, rank, world)
    shard = Shard(lo, hi, gather=lambda x: _gather(x, K, world, group), reduce_sum=reduce_sum,
                  barrier=lambda: dist.barrier(group=group), writer=rank == 0, size=world)
    return distill(cfg, data, checkpoint, checkpoint_every, snapshot_at, progress, stop_after, shard)


# ---------------------------------------------------------------- torchrun entry point

def _device(requested: str) -> torch.device:
    """This rank's device: ``cuda`` means ``cuda:$LOCAL_RANK``."""
    dev = torch.device(requested)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return dev


def cmd_distill(a) -> None:
    """Distil under torchrun: every rank checks the arguments and --out (the
    same checks as ``python -m datadam_lib distill``, so every rank fails the
    same way before any work), loads the dataset (rank 0 first, so a download
    or a ZCA fit happens once), runs :func:`distill_sharded`, and rank 0
    writes ``--out``."""
    from .cli import prepare_distill
    from .method.data import load_dataset
    cfg, requested, ckpt = prepare_distill(a)
    rank = dist.get_rank()
    dev = _device(requested)
    if rank == 0:
        try:
            data = load_dataset(cfg.dataset, a.root, a.download, dev, cfg.preprocess)
        finally:  # release the others even on failure: they then report the same error themselves
            dist.barrier()
    else:
        dist.barrier()
        data = load_dataset(cfg.dataset, a.root, a.download, dev, cfg.preprocess)
    syn = distill_sharded(cfg, data, checkpoint=ckpt, checkpoint_every=a.checkpoint_every,
                          progress=not a.no_progress)
    if rank == 0:
        syn.save(a.out, a.overwrite)
        if ckpt and os.path.exists(ckpt):      # None with --checkpoint-every 0
            os.remove(ckpt)
        print(f"wrote {a.out}: {len(syn.images)} images ({data.num_classes} classes x {cfg.distill.ipc}) "
              f"on {dist.get_world_size()} ranks, final loss "
              f"{syn.losses[-1] if syn.losses else float('nan'):.4g}, {syn.info['wall_time_s']:.1f} s")


def main(argv: list[str] | None = None) -> int:
    """``torchrun --nproc_per_node=N -m datadam_lib.distributed --dataset ... --ipc ... --out DIR``;
    the options are those of ``python -m datadam_lib distill``."""
    from .cli import Parser, _common, _out, interrupted_message, user_error
    from .method.io import check_device
    p = Parser(prog="torchrun --nproc_per_node=N -m datadam_lib.distributed", description=main.__doc__)
    _common(p)
    _out(p, "output directory (rank 0 writes it): new, empty or an earlier distill output", required=True)
    p.add_argument("--checkpoint-every", type=int, default=100, help="iterations between checkpoints (0: none)")
    a = p.parse_args(argv)
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        print("error: run under torchrun, e.g. torchrun --nproc_per_node=2 -m datadam_lib.distributed "
              "--dataset digits --ipc 10 --out runs/digits-10", file=sys.stderr)
        return 2
    try:
        dev = _device(str(check_device(a.device)))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    try:
        cmd_distill(a)
        dist.barrier()          # every rank is done (rank 0 has written --out) before any tears the group down
    except KeyboardInterrupt as err:
        print(f"rank {dist.get_rank()}: {interrupted_message(err, getattr(a, 'checkpoint', None))}", file=sys.stderr)
        return 130
    except Exception as err:  # user errors: one line per rank, no traceback
        msg = user_error(err)
        if msg is None:
            raise
        print(f"error (rank {dist.get_rank()}): {msg}", file=sys.stderr)
        return 2
    finally:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
