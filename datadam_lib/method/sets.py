"""Kinds of small training set: every way the kit makes ``ipc`` images per
class from a dataset, by name, so a sweep can compare them (``kit.sweep``)
and the cache can store them (``kit.cache.set_cached``).

Each kind maps ``(config, data, snapshot_at, progress)`` to a
:class:`~datadam_lib.method.distill.SyntheticSet`:

- ``datadam``: this paper's method, ``distill(cfg)``;
- ``random``: ``ipc`` random real images per class (drawn as ``random_subset``
  draws them, so with the same seed they are DataDAM's real initialisation);
- ``dm``: Distribution Matching (Zhao & Bilen, WACV 2023): the same loop with
  only the embedding term, at weight 1 and no x100 scale, which is exactly
  DM's loss ``sum_k ||mean real emb - mean syn emb||^2`` (``DM_OVERRIDES``).

Other modules add kinds with :func:`register`; ``depends_on_distill`` says
whether the set depends on the distillation config beyond ``ipc`` and the
seed (cache keys use it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .config import Config, override
from .data import RealData
from .distill import SyntheticSet, distill
from .evaluate import random_subset

Maker = Callable[[Config, RealData, tuple[int, ...], bool], SyntheticSet]


@dataclass(frozen=True)
class SetKind:
    make: Maker
    description: str
    depends_on_distill: bool = True


# DM's loss is DataDAM's L_MMD alone at weight 1: lambda * loss_scale = 1.
DM_OVERRIDES = {"distill.method.components": ("mmd",), "distill.method.task_balance": 1.0,
                "distill.method.loss_scale": 1.0}


def _datadam(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    return distill(cfg, data, snapshot_at=snapshot_at, progress=progress)


def _dm(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    return distill(override(cfg, DM_OVERRIDES), data, snapshot_at=snapshot_at, progress=progress)


def _random(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    x, y = random_subset(data, cfg.distill.ipc, cfg.seed)
    return SyntheticSet(x, y, list(data.classes), cfg, snapshots={0: x.cpu().clone()},
                        info={"kind": "random", "seed": cfg.seed})


SET_KINDS: dict[str, SetKind] = {
    "datadam": SetKind(_datadam, "DataDAM: attention matching (SAM) + embedding MMD"),
    "random": SetKind(_random, "random real images per class", depends_on_distill=False),
    "dm": SetKind(_dm, "DM: embedding MMD only (Zhao & Bilen)"),
}


def register(name: str, kind: SetKind) -> None:
    """Add a kind of set (baselines, coresets, generative models)."""
    if name in SET_KINDS and SET_KINDS[name] != kind:
        raise ValueError(f"set kind {name!r} registered twice")
    SET_KINDS[name] = kind


def get_kind(name: str) -> SetKind:
    if name not in SET_KINDS:
        raise ValueError(f"unknown kind of set {name!r}; choose one of {sorted(SET_KINDS)}")
    return SET_KINDS[name]


def make_set(name: str, cfg: Config, data: RealData, snapshot_at: tuple[int, ...] = (),
             progress: bool = False) -> SyntheticSet:
    """Make the set of kind ``name`` with ``cfg`` on ``data``."""
    return get_kind(name).make(cfg, data, tuple(snapshot_at), progress)
