"""A content-addressed cache of distilled sets and evaluation results.

Re-running a figure reuses every distilled set and every evaluation it has
already computed; ``force=True`` recomputes (and overwrites) them.

Key: the SHA-256 of (the full config as JSON, the dataset's identity, the
seed, the library version, what is cached). The dataset identity is its name
plus a fingerprint of its contents, so two different files under one name
(a CIFAR-10 slice and the full set, say) never share entries.

Layout under the cache root (``$DATADAM_CACHE``, else ``cache/`` in the kit)::

    sets/<key>/synthetic.pt, config.json, manifest.json, key.json   (any kind of set)
    models/<key>.pt, <key>.json     (a trained model a kind samples its sets from: the generators;
                                     and a classifier trained on the real data: table3's GAN-test network)
    eval/<key>.json

Writes are atomic: a new distilled set is written to a temporary directory
that becomes the entry in one rename (``SyntheticSet.save``; a recomputed
entry is replaced file by file, and a set whose files were not written
together is refused on load, so recomputed again), an evaluation to a
temporary file renamed into place (``io.write_json``). An interrupted run
leaves either the old entry or none, never half of one. Entries are named by
their key, so the cache writes only the kit's own files (``io``'s writer
rule): nothing else under the cache root is touched.

    syn, hit = distill_cached(cfg, data)
    result, hit = evaluate_cached(cfg, data, syn.images, syn.labels, kind="datadam")
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
import time

import torch

from .. import method
from ..method.baselines.sets import get_kind, make_set
from ..method.config import SCALES, Config, EvalConfig, canonical
from ..method.data import RealData, dataset_identity
from ..method.evaluate import EvalResult, evaluate, train_model
from ..method.io import CheckpointError, atomic_save, device_description, load_checked, manifest, write_json
from ..method.models import Encoder, build_encoder
from ..method.synthetic import SyntheticSet
from ..method.training import model_generator
from .paths import cache_root


def make_key(kind: str, payload: dict, identity: dict, seed: int) -> str:
    """SHA-256 of what determines a cached result (and the library version)."""
    blob = json.dumps({"kind": kind, "payload": payload, "dataset": identity, "seed": seed,
                       "version": method.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def set_payload(kind: str, cfg: Config) -> dict:
    """What determines a set of ``kind``: the dataset name and preprocessing;
    for a kind sampled from a trained model, the model's payload and the IPC;
    for a learned kind, the distillation config and the baselines' own
    settings (DM, DC/DSA, CAFE read theirs from ``cfg.baselines``, and the
    scale's caps on their work); else only the IPC (the seed is in every key).
    The evaluation protocol and the preset's and scale's names are left out:
    equal values make equal sets, so
    an evaluation ablation (Fig. 4) or a cross-architecture run reuses one set."""
    k = get_kind(kind)
    base = {"dataset": cfg.dataset, "preprocess": cfg.preprocess}
    if k.model is not None:
        return {**base, "ipc": cfg.distill.ipc, "model": k.model.payload(cfg)}
    if k.depends_on_distill:
        scaled = {"scale_work": SCALES[cfg.scale].work()} if k.scaled else {}   # caps not in the config's values
        return {**base, "distill": canonical(cfg.distill), "baselines": canonical(cfg.baselines), **scaled}
    return {**base, "ipc": cfg.distill.ipc}


def set_key(kind: str, cfg: Config, data: RealData) -> str:
    return make_key(f"set-{kind}", set_payload(kind, cfg), dataset_identity(data), cfg.seed)


def distill_key(cfg: Config, data: RealData) -> str:
    return set_key("datadam", cfg, data)


def eval_key(cfg: Config, data: RealData, kind: str) -> str:
    """The evaluation of the set of ``kind`` made with ``cfg``: its set's
    payload plus the evaluation protocol."""
    return make_key(f"eval-{kind}", {**set_payload(kind, cfg), "evaluate": canonical(cfg.evaluate)},
                    dataset_identity(data), cfg.seed)


def snapshot_schedule(iterations: int) -> tuple[int, ...]:
    """Iterations at which cached runs keep a copy of the images: the start,
    a quarter, half way and the end (the quickstart shows them)."""
    return tuple(sorted({0, iterations // 4, iterations // 2, iterations}))


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def set_cached(kind: str, cfg: Config, data: RealData, force: bool = False, root: str | None = None,
               progress: bool = False, snapshot_at: tuple[int, ...] | None = None) -> tuple[SyntheticSet, bool, str]:
    """The set of ``kind`` (``method.baselines.sets``) made with ``cfg`` on ``data``:
    from the cache when there, else made now and stored. ``snapshot_at``:
    iterations whose images the set must hold (default
    :func:`snapshot_schedule`); an entry lacking one is recomputed with
    both. Returns ``(set, hit, entry_dir)``."""
    key = set_key(kind, cfg, data)
    entry = os.path.join(cache_root(root), "sets", key)
    want = set(snapshot_schedule(cfg.distill.iterations) if snapshot_at is None else snapshot_at)
    if not force and os.path.isfile(os.path.join(entry, SyntheticSet.FILE)):
        try:
            syn = SyntheticSet.load(entry, data.device)
            # a snapshot asked for when the set was made and still missing lies beyond
            # the kind's own iterations (DC/DSA/CAFE run fewer than DataDAM's schedule):
            # asking again cannot produce it, so the entry serves
            asked = set(syn.info.get("snapshots_asked", ()))
            if not syn.losses or want <= set(syn.snapshots) | asked:   # sets that are not learned have no history
                return syn, True, entry
            want |= set(syn.snapshots) | asked
        except CheckpointError as e:
            _log(f"cache: recomputing unreadable entry {entry} ({e})")
    model = get_kind(kind).model
    if model is not None:   # sample the trained model (cached once for every IPC)
        syn = model.sample(cfg, data, model_cached(kind, cfg, data, force, root, progress)[0])
    else:
        syn = make_set(kind, cfg, data, tuple(sorted(want)), progress)
        syn.info["snapshots_asked"] = sorted(want)
    syn.save(entry, overwrite=True)   # the entry is the kit's by its name (its record may be what was unreadable)
    write_json({"key": key, "kind": kind, "dataset": dataset_identity(data), "seed": cfg.seed,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, os.path.join(entry, "key.json"))
    return syn, False, entry


def model_cached(kind: str, cfg: Config, data: RealData, force: bool = False, root: str | None = None,
                 progress: bool = False) -> tuple[dict, bool]:
    """The trained model behind a kind of set (``method.baselines.sets.TrainedModel``,
    e.g. a generator), keyed by its own payload (not the IPC, nor the kind:
    kinds with the same payload share it): from the cache when there, else
    trained now and stored. Returns ``(state, hit)``."""
    model = get_kind(kind).model
    key = make_key("model", model.payload(cfg), dataset_identity(data), cfg.seed)
    path = os.path.join(cache_root(root), "models", key + ".pt")
    if not force and os.path.isfile(path):
        try:
            return load_checked(path, "trained model", ("weights",), map_location=data.device), True
        except CheckpointError as e:
            _log(f"cache: recomputing unreadable entry {path} ({e})")
    state = model.train(cfg, data, progress)
    atomic_save(state, path)
    write_json({"key": key, "kind": kind, "payload": model.payload(cfg), "dataset": dataset_identity(data),
                "seed": cfg.seed, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, path[:-3] + ".json")
    return state, False


def classifier_cached(ec: EvalConfig, data: RealData, seed: int, force: bool = False,
                      root: str | None = None) -> tuple[Encoder, bool]:
    """A network of the evaluation protocol ``ec`` (its encoder, optimiser,
    epochs, augmentation) trained on the whole real training set of ``data``,
    drawn as model 0 of ``seed`` (``evaluate.train_model``): table3's GAN-test
    network. Keyed by ``ec``, the dataset and the seed; from the cache when
    there, else trained now and stored. Returns ``(network in eval mode, hit)``."""
    key = make_key("classifier", canonical(ec), dataset_identity(data), seed)
    path = os.path.join(cache_root(root), "models", key + ".pt")
    if not force and os.path.isfile(path):
        net = build_encoder(ec.encoder, data.channels, data.num_classes, data.im_size,
                            model_generator(seed, 0, data.device), data.device)
        try:
            net.load_state_dict(load_checked(path, "trained classifier", ("weights",), data.device)["weights"])
            return net.eval(), True
        except (CheckpointError, RuntimeError) as e:   # RuntimeError: weights of another shape
            _log(f"cache: recomputing unreadable entry {path} ({e})")
    net = train_model(data.x_train, data.y_train, data, ec, model_generator(seed, 0, data.device))
    atomic_save({"weights": net.state_dict()}, path)
    write_json({"key": key, "kind": "classifier", "evaluate": canonical(ec), "dataset": dataset_identity(data),
                "seed": seed, "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, path[:-3] + ".json")
    return net.eval(), False


def distill_cached(cfg: Config, data: RealData, force: bool = False, root: str | None = None,
                   progress: bool = False) -> tuple[SyntheticSet, bool, str]:
    """The DataDAM set distilled with ``cfg`` (``set_cached("datadam", ...)``)."""
    return set_cached("datadam", cfg, data, force, root, progress)


def evaluate_cached(cfg: Config, data: RealData, images: torch.Tensor, labels: torch.Tensor,
                    kind: str = "datadam", force: bool = False, root: str | None = None,
                    progress: bool = False) -> tuple[EvalResult, bool, str]:
    """``evaluate(images, labels, data, cfg.evaluate, cfg.seed)`` through the
    cache; ``kind`` says what the images are (a kind of ``method.baselines.sets``: the set
    of that kind made with ``cfg``).
    Returns ``(result, hit, path)``."""
    key = eval_key(cfg, data, kind)
    path = os.path.join(cache_root(root), "eval", key + ".json")
    if not force and os.path.isfile(path):
        try:
            with open(path) as f:
                d = json.load(f)
            return EvalResult(list(d["accuracies"]), float(d["wall_time_s"]), d.get("config", {})), True, path
        except (OSError, ValueError, KeyError, TypeError) as e:
            _log(f"cache: recomputing unreadable entry {path} ({e})")
    result = evaluate(images, labels, data, cfg.evaluate, seed=cfg.seed, progress=progress)
    write_json({**result.to_dict(), "key": key, "kind": kind, "dataset": dataset_identity(data),
                "manifest": manifest(seed=cfg.seed, device=device_description(data.device),
                                     preset=cfg.preset, scale=cfg.scale)}, path)
    return result, False, path
