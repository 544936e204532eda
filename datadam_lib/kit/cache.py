"""A content-addressed cache of distilled sets and evaluation results.

Re-running a figure reuses every distilled set and every evaluation it has
already computed; ``force=True`` recomputes (and overwrites) them.

Key: the SHA-256 of (the full config as JSON, the dataset's identity, the
seed, the library version, what is cached). The dataset identity is its name
plus a fingerprint of its contents, so two different files under one name
(a CIFAR-10 slice and the full set, say) never share entries.

Layout under the cache root (``$DATADAM_CACHE``, else ``cache/`` in the kit)::

    sets/<key>/synthetic.pt, config.json, manifest.json, key.json   (any kind of set)
    models/<key>.pt, <key>.json     (a trained model a kind samples its sets from: the generators)
    eval/<key>.json

Writes are atomic: a distilled set is written to a temporary directory that
replaces the entry in one rename (``SyntheticSet.save``), an evaluation to a
temporary file renamed into place (``io.write_json``). An interrupted run
leaves either the old entry or none, never half of one.

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
from ..method.config import Config
from ..method.data import RealData
from ..method.distill import SyntheticSet
from ..method.sets import get_kind, make_set
from ..method.evaluate import EvalResult, evaluate
from ..method.io import CheckpointError, atomic_save, device_description, load_checked, manifest, write_json
from .paths import cache_root


def dataset_identity(data: RealData) -> dict:
    """Name, shapes, classes and a fingerprint of the contents of ``data``:
    a hash of the labels and of every k-th training and test image (k chosen
    so that about 2,000 images are hashed, fast even for ImageNet)."""
    h = hashlib.sha256()
    for x, y in ((data.x_train, data.y_train), (data.x_test, data.y_test)):
        step = max(1, len(x) // 1000)
        h.update(y.detach().cpu().numpy().tobytes())
        h.update(x[::step].detach().cpu().float().contiguous().numpy().tobytes())
    return {"name": data.name, "train": list(data.x_train.shape), "test": list(data.x_test.shape),
            "classes": list(data.classes), "zca": data.zca is not None, "digest": h.hexdigest()[:32]}


def canonical(obj) -> dict:
    """A config dataclass as a dict with each float field holding a float:
    ``power=4`` (from an override) and ``power=4.0`` (the default) are the
    same config and must share a cache entry."""
    import dataclasses
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if dataclasses.is_dataclass(v):
            v = canonical(v)
        elif isinstance(v, int) and not isinstance(v, bool) and "float" in str(f.type):
            v = float(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def make_key(kind: str, payload: dict, identity: dict, seed: int) -> str:
    """SHA-256 of what determines a cached result (and the library version)."""
    blob = json.dumps({"kind": kind, "payload": payload, "dataset": identity, "seed": seed,
                       "version": method.__version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def set_payload(kind: str, cfg: Config) -> dict:
    """What determines a set of ``kind``: the whole config but its evaluation
    (a set does not depend on how it will be evaluated: cross-architecture
    runs and shorter evaluations share it) when the kind depends on the
    distillation config, else only the IPC (and the seed, which every key holds)."""
    if get_kind(kind).depends_on_distill:
        return {k: v for k, v in canonical(cfg).items() if k != "evaluate"}
    return {"ipc": cfg.distill.ipc, "preprocess": cfg.preprocess}


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
               progress: bool = False) -> tuple[SyntheticSet, bool, str]:
    """The set of ``kind`` (``method.sets``) made with ``cfg`` on ``data``:
    from the cache when there, else made now and stored. Returns
    ``(set, hit, entry_dir)``."""
    key = set_key(kind, cfg, data)
    entry = os.path.join(cache_root(root), "sets", key)
    if not force and os.path.isfile(os.path.join(entry, SyntheticSet.FILE)):
        try:
            return SyntheticSet.load(entry, data.device), True, entry
        except CheckpointError as e:
            _log(f"cache: recomputing unreadable entry {entry} ({e})")
    model = get_kind(kind).model
    if model is not None:   # sample the trained model (cached once for every IPC)
        syn = model.sample(cfg, data, model_cached(kind, cfg, data, force, root, progress)[0])
    else:
        syn = make_set(kind, cfg, data, snapshot_schedule(cfg.distill.iterations), progress)
    syn.save(entry)
    write_json({"key": key, "kind": kind, "dataset": dataset_identity(data), "seed": cfg.seed,
                "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, os.path.join(entry, "key.json"))
    return syn, False, entry


def model_cached(kind: str, cfg: Config, data: RealData, force: bool = False, root: str | None = None,
                 progress: bool = False) -> tuple[dict, bool]:
    """The trained model behind a kind of set (``method.sets.TrainedModel``,
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


def distill_cached(cfg: Config, data: RealData, force: bool = False, root: str | None = None,
                   progress: bool = False) -> tuple[SyntheticSet, bool, str]:
    """The DataDAM set distilled with ``cfg`` (``set_cached("datadam", ...)``)."""
    return set_cached("datadam", cfg, data, force, root, progress)


def evaluate_cached(cfg: Config, data: RealData, images: torch.Tensor, labels: torch.Tensor,
                    kind: str = "datadam", force: bool = False, root: str | None = None,
                    progress: bool = False) -> tuple[EvalResult, bool, str]:
    """``evaluate(images, labels, data, cfg.evaluate, cfg.seed)`` through the
    cache; ``kind`` says what the images are (a kind of ``method.sets``: the set
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
