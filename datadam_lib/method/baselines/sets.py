"""Kinds of small training set: every way the kit makes ``ipc`` images per
class from a dataset, by name, so a sweep can compare them (``kit.sweep``)
and the cache can store them (``kit.cache.set_cached``).

Each kind maps ``(config, data, snapshot_at, progress)`` to a
:class:`~datadam_lib.method.synthetic.SyntheticSet`:

- ``datadam``: this paper's method, ``distill(cfg)``;
- ``random``: ``ipc`` random real images per class (drawn as ``random_subset``
  draws them, so with the same seed they are DataDAM's real initialisation);
- ``dm``: Distribution Matching (Zhao & Bilen, WACV 2023): the same loop with
  only the embedding term, at weight 1 and no x100 scale, which is exactly
  DM's loss ``sum_k ||mean real emb - mean syn emb||^2`` (``DM_OVERRIDES``),
  with DM's own iterations, image learning rate and real batch
  (``cfg.baselines.dm``, ``main_DM.py``);
- ``dc``, ``dsa``: gradient matching (``gradient_matching.py``);
- ``cafe``: feature alignment with its dynamic bi-level loop (``cafe.py``);
- ``herding``, ``kcenter``: coresets of real images (``coresets.py``);
- ``pixel-mmd``: the linear-kernel MMD of supplement Table 3 in pixel space:
  the distillation loop with the ``pixel`` component alone, no DSA
  (``PIXEL_MMD_OVERRIDES``).

Other modules add kinds with :func:`register`; ``depends_on_distill`` says
whether the set depends on the distillation config beyond ``ipc`` and the
seed (cache keys use it).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from ..config import SCALES, Config, cap, override
from ..data import RealData
from ..distill import distill
from ..evaluate import random_subset
from ..synthetic import SyntheticSet
from ..training import deterministic
from . import cafe, coresets, generative, gradient_matching

Maker = Callable[[Config, RealData, tuple[int, ...], bool], SyntheticSet]


@dataclass(frozen=True)
class TrainedModel:
    """A model trained once per (config, data, seed) and then sampled at any
    IPC (a generator; the coresets' feature network): ``kit.cache`` stores the
    trained state under the key of ``payload(cfg)``, so the sets of every IPC,
    and every kind whose payload is the same, share one training."""
    train: Callable[[Config, RealData, bool], dict]            # -> state (tensors, numbers, lists)
    sample: Callable[[Config, RealData, dict], SyntheticSet]   # state -> ipc images per class
    payload: Callable[[Config], dict]                          # what the trained state depends on (names the model)


def _sampled(model: TrainedModel, description: str) -> SetKind:
    """A kind of set sampled from a trained model (trained here when uncached)."""
    def make(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
        return model.sample(cfg, data, model.train(cfg, data, progress))
    return SetKind(make, description, model=model)


@dataclass(frozen=True)
class SetKind:
    make: Maker
    description: str
    depends_on_distill: bool = True
    model: TrainedModel | None = None     # set for kinds that sample a trained model
    scaled: bool = False                  # the scale caps its work beyond the config (config.SCALES: DM, DC, ...)


# DM's loss is DataDAM's L_MMD alone at weight 1: lambda * loss_scale = 1.
DM_OVERRIDES = {"distill.method.components": ("mmd",), "distill.method.task_balance": 1.0,
                "distill.method.loss_scale": 1.0}


def _datadam(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    return distill(cfg, data, snapshot_at=snapshot_at, progress=progress)


def dm_config(cfg: Config) -> Config:
    """``cfg`` as DM runs it: DM's loss (``DM_OVERRIDES``) and DM's own work
    (``cfg.baselines.dm``: 20,000 iterations, image lr 1, 256 real images per
    class), capped by the scale as DataDAM's are."""
    dm, s = cfg.baselines.dm, SCALES[cfg.scale]
    return override(cfg, {**DM_OVERRIDES, "distill.iterations": cap(dm.iterations, s.iterations),
                           "distill.lr_images": dm.lr_images, "distill.batch_real": cap(dm.batch_real, s.batch_real)})


def _dm(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    return distill(dm_config(cfg), data, snapshot_at=snapshot_at, progress=progress)


# Pixel-space MMD (supplement Table 3, "MMD"): sum_k ||mean real image_k - mean
# synthetic image_k||^2, no network, no augmentation ("vanilla" MMD), DataDAM's
# initialisation, iterations and image optimiser.
PIXEL_MMD_OVERRIDES = {"distill.method.components": ("pixel",), "distill.method.loss_scale": 1.0,
                       "distill.dsa": None}


def _pixel_mmd(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    return distill(override(cfg, PIXEL_MMD_OVERRIDES), data, snapshot_at=snapshot_at, progress=progress)


def _random(cfg: Config, data: RealData, snapshot_at: tuple[int, ...], progress: bool) -> SyntheticSet:
    x, y = random_subset(data, cfg.distill.ipc, cfg.seed)
    return SyntheticSet(x, y, list(data.classes), cfg, snapshots={0: x.cpu().clone()},
                        info={"kind": "random", "seed": cfg.seed})


SET_KINDS: dict[str, SetKind] = {
    "datadam": SetKind(_datadam, "DataDAM: attention matching (SAM) + embedding MMD"),
    "random": SetKind(_random, "random real images per class", depends_on_distill=False),
    "dm": SetKind(_dm, "DM: embedding MMD only (Zhao & Bilen)", scaled=True),
    "dc": SetKind(partial(gradient_matching.condense, siamese=False),
                  "DC: gradient matching from noise (Zhao, Mopuri & Bilen)", scaled=True),
    "dsa": SetKind(partial(gradient_matching.condense, siamese=True),
                   "DSA: gradient matching with siamese augmentation, from real images (Zhao & Bilen)", scaled=True),
    "cafe": SetKind(cafe.condense, "CAFE: layer-wise feature alignment with a dynamic bi-level loop (Wang et al.)",
                    scaled=True),
    "herding": _sampled(TrainedModel(coresets.train, partial(coresets.select, kind="herding"), coresets.payload),
                        "Herding: real images whose running mean follows the class mean (trained ConvNet features)"),
    "kcenter": _sampled(TrainedModel(coresets.train, partial(coresets.select, kind="kcenter"), coresets.payload),
                        "K-Center: farthest-first real images (trained ConvNet features)"),
    "pixel-mmd": SetKind(_pixel_mmd, "MMD in pixel space (linear kernel): supplement Table 3"),
}


SET_KINDS.update({name: _sampled(TrainedModel(partial(generative.train, name), partial(generative.sample, name),
                                               partial(generative.payload, name)),
                                  f"{generative.GENERATIVE[name].label}: a class-conditional generator trained on "
                                  "the real data, ipc samples per class")
                  for name in generative.GENERATIVE})


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
    """Make the set of kind ``name`` with ``cfg`` on ``data`` (deterministically
    on CUDA too: ``training.deterministic``)."""
    with deterministic(data.device):
        return get_kind(name).make(cfg, data, tuple(snapshot_at), progress)
