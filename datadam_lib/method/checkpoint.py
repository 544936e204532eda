"""Checkpoints of a distillation run and Ctrl-C between iterations.

A checkpoint holds the images, the optimizer's momentum, the generator's
state, the losses and snapshots so far, the config and a fingerprint of the
data (a resume on anything else is refused, naming what differs) and the wall
time so far; resuming reproduces the uninterrupted run. Ctrl-C ends the
current iteration, the loop writes a checkpoint and raises :class:`Interrupted`.
"""
from __future__ import annotations

import contextlib
import json
import signal
import threading

import torch

from .config import Config, canonical, differences, from_dict
from .io import CheckpointError, atomic_save, load_checked
from .step import Shard


class Interrupted(KeyboardInterrupt):
    """Ctrl-C stopped ``distill`` after iteration ``iteration``; ``checkpoint``
    is the file it wrote there (None when the run writes no checkpoints)."""

    def __init__(self, iteration: int, checkpoint: str | None):
        super().__init__(iteration, checkpoint)
        self.iteration, self.checkpoint = iteration, checkpoint


@contextlib.contextmanager
def stop_between_iterations(enabled: bool):
    """While active, a first Ctrl-C (SIGINT) only sets the returned flag, which
    the loop reads after each iteration: the checkpoint it then writes holds a
    whole iteration, so resuming stays exact. A second Ctrl-C interrupts at
    once. Only in the main thread, and only over Python's default handler."""
    flag: list[bool] = []
    previous = signal.getsignal(signal.SIGINT)
    if not enabled or threading.current_thread() is not threading.main_thread() \
            or previous is not signal.default_int_handler:
        yield flag
        return

    def first(signum, frame):
        flag.append(True)
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, first)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)


def save(path: str, done: int, shard: Shard, images: torch.Tensor, opt: torch.optim.Optimizer,
          g: torch.Generator, losses: list[float], snapshots: dict, meta: dict) -> None:
    """Write a checkpoint of every class (images and momentum gathered from the
    shards; only the writer writes), with ``meta`` (the config, the data's
    fingerprint, the wall time so far, where it resumed), then wait until it
    is on disk."""
    state = opt.state_dict()
    full_images = shard.gather(images.detach()).cpu()
    buf = state["state"].get(0, {}).get("momentum_buffer")
    if isinstance(buf, torch.Tensor):
        state["state"][0] = {**state["state"][0], "momentum_buffer": shard.gather(buf).cpu()}
    if shard.writer:
        atomic_save({"iteration": done, "images": full_images, "optimizer": state,
                     "generator": g.get_state().cpu(), "losses": list(losses), "snapshots": snapshots, **meta}, path)
    shard.barrier()


def resume(path: str, cfg: Config, identity: dict, images: torch.Tensor, opt: torch.optim.Optimizer,
            g: torch.Generator, a: int, b: int):
    """Load a checkpoint (written by any number of shards) and keep image rows
    ``a..b-1``; refuse one written for another config or other data, naming
    what differs. Returns (iteration, losses, snapshots, wall time so far,
    iterations where earlier sessions resumed)."""
    ck = load_checked(path, "checkpoint", ("iteration", "images", "optimizer", "generator", "config"),
                      advice="move it away or choose another --out (--checkpoint-every 0 runs without a checkpoint)")
    try:
        theirs = canonical(from_dict(json.loads(ck["config"])))
    except (ValueError, TypeError, KeyError) as e:      # a ConfigError is a ValueError
        raise CheckpointError(f"checkpoint {path} holds a config this kit cannot read ({e}); "
                              "delete it to start again") from None
    diff = differences(theirs, canonical(cfg))
    if diff:
        raise CheckpointError(f"checkpoint {path} was written for a different config ({'; '.join(diff[:3])}: "
                              "checkpoint vs now); delete it or use another output directory")
    if not isinstance(ck.get("dataset"), dict):
        raise CheckpointError(f"checkpoint {path} does not record which data it was written for (an older kit); "
                              "delete it to start again")
    diff = differences(ck["dataset"], identity)
    if diff:
        raise CheckpointError(f"checkpoint {path} was written for other data than {identity['name']!r} holds now "
                              f"({'; '.join(diff[:3])}: checkpoint vs now); delete it to start again on these data")
    with torch.no_grad():
        images.copy_(ck["images"][a:b])
    state = ck["optimizer"]
    buf = state["state"].get(0, {}).get("momentum_buffer")
    if isinstance(buf, torch.Tensor):
        state["state"][0] = {**state["state"][0], "momentum_buffer": buf[a:b]}
    opt.load_state_dict(state)
    g.set_state(ck["generator"])
    return (int(ck["iteration"]), list(ck.get("losses", [])), dict(ck.get("snapshots", {})),
            float(ck.get("wall_time_s", 0.0)), list(ck.get("resumed_at", [])))
